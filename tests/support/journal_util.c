/*
 * journal_util.c: command histories, fault injection and file helpers for
 * the journal tests (see journal_util.h).
 *
 * The history is built so that it needs no engine state: setup commands
 * first (assets, two markets, deposits for eight accounts), then a mix drawn
 * from a hash of (seed, k): limit and market orders of every time in force
 * around a common price (so that they cross, rest, expire and self-trade),
 * cancels and amends that name an earlier place by its client id (the
 * earlier command is regenerated to find its account and market), cancel-
 * alls, ticks, deposits (some with a repeated deposit id), withdrawals,
 * transfers and fee changes. Many commands are rejected by the engine; that
 * is fine and deterministic, and it is what a journal holds too.
 */
#include "journal_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NACC 8
#define FIRST_FREE 30 /* first command after the setup */

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void jt_engine_config(lx_engine_config_t *cfg) {
    lx_engine_config_default(cfg);
    cfg->max_markets = 4;
    cfg->max_assets = 4;
    cfg->max_accounts = 16;
    cfg->max_orders = 4096;
    cfg->clearing = true;
}

void jt_journal_config(lx_journal_config_t *cfg) {
    lx_journal_config_default(cfg);
    jt_engine_config(&cfg->engine);
    cfg->segment_bytes = 64 << 10;
    cfg->batch_max_bytes = 4 << 10;
    cfg->fsync = false;
}

static int64_t ts_of(uint64_t k) {
    return 1700000000000000000ll + (int64_t)k * 1000;
}

static void gen(uint64_t seed, uint64_t k, lx_cmd_t *c, int depth) {
    memset(c, 0, sizeof *c);
    c->seq = k;
    c->ts = ts_of(k);
    uint64_t r = mix(seed ^ mix(k + 0x1234));
    uint64_t r2 = mix(r), r3 = mix(r2), r4 = mix(r3);
    if (k <= 3) {
        static const char *sym[3] = {"BTC", "USD", "ETH"};
        c->type = LX_CMD_CREATE_ASSET;
        c->u.create_asset.asset = (uint32_t)(k - 1);
        snprintf(c->u.create_asset.symbol, sizeof c->u.create_asset.symbol, "%s", sym[k - 1]);
        c->u.create_asset.scale = 100;
        return;
    }
    if (k <= 5) {
        lx_cmd_create_market_t *m = &c->u.create_market;
        c->type = LX_CMD_CREATE_MARKET;
        m->market = (uint32_t)(k - 4);
        m->base = k == 4 ? 0 : 2;
        m->quote = 1;
        m->mode = LX_MODE_CONTINUOUS;
        m->tick_size = 100;
        m->lot_size = 1;
        m->min_price = 1;
        m->max_price = 1000;
        m->max_qty = 1000000;
        m->maker_fee = 10;
        m->taker_fee = 50;
        return;
    }
    if (k < FIRST_FREE) {
        c->type = LX_CMD_DEPOSIT;
        c->u.deposit.account = (uint32_t)((k - 6) / 3);
        c->u.deposit.asset = (uint32_t)((k - 6) % 3);
        c->u.deposit.amount = 1000000000;
        c->u.deposit.deposit_id = k;
        return;
    }
    uint32_t acct = (uint32_t)(r2 % NACC);
    uint32_t x = (uint32_t)(r % 100);
    if (x < 50) {
        lx_cmd_place_t *p = &c->u.place;
        c->type = LX_CMD_PLACE;
        p->account = acct;
        p->market = (uint32_t)(r3 % 2);
        p->side = (uint8_t)((r3 >> 8) & 1);
        p->type = (r3 >> 9) % 10 == 0 ? LX_ORDER_MARKET : LX_ORDER_LIMIT;
        uint32_t t = (uint32_t)((r3 >> 16) % 100);
        p->tif = t < 70   ? LX_TIF_GTC
                 : t < 80 ? LX_TIF_IOC
                 : t < 90 ? LX_TIF_GTD
                 : t < 95 ? LX_TIF_POST_ONLY
                          : LX_TIF_FOK;
        p->stp = (r3 >> 24) % 8 < 4 ? LX_STP_NONE : (uint8_t)((r3 >> 28) % 5);
        p->price = 90 + (int64_t)((r4 >> 3) % 21);
        p->qty = 1 + (int64_t)((r4 >> 13) % 20);
        p->client_id = k;
        if (p->tif == LX_TIF_GTD) p->expiry = c->ts + 1000 * (int64_t)(1 + (r4 >> 23) % 60);
        return;
    }
    if (x < 75 && depth == 0 && k > FIRST_FREE) {
        /* name an earlier place by its client id */
        uint64_t j = FIRST_FREE + r3 % (k - FIRST_FREE);
        lx_cmd_t prev;
        gen(seed, j, &prev, 1);
        uint32_t a = prev.type == LX_CMD_PLACE ? prev.u.place.account : acct;
        uint32_t m = prev.type == LX_CMD_PLACE ? prev.u.place.market : 0;
        if (x < 65) {
            c->type = LX_CMD_CANCEL;
            c->u.cancel =
                (lx_cmd_cancel_t){.account = a, .market = m, .by_client_id = 1, .client_id = j};
        } else {
            c->type = LX_CMD_AMEND;
            c->u.amend = (lx_cmd_amend_t){.account = a,
                                          .market = m,
                                          .by_client_id = 1,
                                          .client_id = j,
                                          .price = 90 + (int64_t)((r4 >> 3) % 21),
                                          .qty = 1 + (int64_t)((r4 >> 13) % 25)};
        }
        return;
    }
    if (x < 78) {
        c->type = LX_CMD_CANCEL_ALL;
        c->u.cancel_all.account = acct;
        c->u.cancel_all.market = r3 % 3 == 2 ? LX_MARKET_ALL : (uint32_t)(r3 % 2);
        return;
    }
    if (x < 83) {
        c->type = LX_CMD_TICK;
        return;
    }
    if (x < 88) {
        c->type = LX_CMD_DEPOSIT;
        c->u.deposit = (lx_cmd_deposit_t){.account = acct,
                                          .asset = (uint32_t)(r3 % 3),
                                          .amount = 1 + (int64_t)(r4 % 1000000),
                                          .deposit_id = r4 % 4 == 0 ? k - 1 : k};
        return;
    }
    if (x < 92) {
        c->type = LX_CMD_WITHDRAW;
        c->u.withdraw = (lx_cmd_withdraw_t){
            .account = acct, .asset = (uint32_t)(r3 % 3), .amount = 1 + (int64_t)(r4 % 100000)};
        return;
    }
    if (x < 96) {
        c->type = LX_CMD_TRANSFER;
        c->u.transfer = (lx_cmd_transfer_t){.from = acct,
                                            .to = (uint32_t)(r3 % NACC),
                                            .asset = (uint32_t)((r3 >> 8) % 3),
                                            .amount = 1 + (int64_t)(r4 % 100000)};
        return;
    }
    if (x < 98) {
        c->type = LX_CMD_SET_FEES;
        int32_t taker = 50 + (int32_t)(r3 % 51);
        c->u.set_fees = (lx_cmd_set_fees_t){
            .market = (uint32_t)(r4 % 2), .maker_fee = (int32_t)(r4 % 60) - 10, .taker_fee = taker};
        return;
    }
    c->type = LX_CMD_CANCEL;
    c->u.cancel = (lx_cmd_cancel_t){.account = acct,
                                    .market = (uint32_t)(r3 % 2),
                                    .order_id = ((1 + (r4 % 3)) << 32) | (r4 >> 8) % 64};
}

void jt_cmd(uint64_t seed, uint64_t k, lx_cmd_t *out) {
    gen(seed, k, out, 0);
}

bool jt_auth(uint64_t seed, uint64_t k, lx_journal_auth_t *a) {
    uint64_t r = mix(seed * 31 + k);
    if (r % 3 != 0) return false;
    memset(a, 0, sizeof *a);
    a->scheme = (r >> 8) % 2 ? LX_AUTH_ED25519 : LX_AUTH_SESSION;
    for (int i = 0; i < 32; i++) a->key[i] = (uint8_t)(mix(r + (uint64_t)i) >> 7);
    a->nonce = k;
    if (a->scheme == LX_AUTH_ED25519)
        for (int i = 0; i < 64; i++) a->sig[i] = (uint8_t)(mix(r ^ (uint64_t)(i + 100)) >> 9);
    return true;
}

int jt_apply(lx_engine_t *e, uint64_t seed, uint64_t k, const lx_cmd_t *c) {
    lx_journal_auth_t a;
    if (!jt_auth(seed, k, &a)) return lx_engine_apply(e, c, NULL);
    lx_cmd_auth_t ca = {.scheme = a.scheme, .nonce = a.nonce};
    memcpy(ca.key, a.key, sizeof ca.key);
    return lx_engine_apply_auth(e, c, &ca, NULL);
}

void jt_engine_advance(lx_engine_t *e, uint64_t seed, uint64_t from, uint64_t to) {
    for (uint64_t k = from + 1; k <= to; k++) {
        lx_cmd_t c;
        jt_cmd(seed, k, &c);
        if (jt_apply(e, seed, k, &c) != 0) abort();
    }
}

lx_engine_t *jt_engine_at(uint64_t seed, uint64_t n) {
    lx_engine_config_t cfg;
    jt_engine_config(&cfg);
    lx_engine_t *e = NULL;
    if (lx_engine_create(&e, &cfg)) abort();
    jt_engine_advance(e, seed, 0, n);
    return e;
}

/* ---- fault injection ------------------------------------------------------ */

static const char *op_names[JT_OP__N] = {"open",  "close",     "write",  "pwrite", "fdatasync",
                                         "fsync", "ftruncate", "rename", "unlink", "fsync_dir"};

const char *jt_op_name(int op) {
    return op >= 0 && op < JT_OP__N ? op_names[op] : "none";
}

/* Counts the call; true if this one must fail. */
static bool hit(jt_faultio_t *f, int op) {
    uint64_t n = ++f->calls[op];
    if (f->fail_op != op) return false;
    if (n == f->fail_at || (f->fail_after && n > f->fail_at)) {
        f->failures++;
        return true;
    }
    return false;
}

static int ferr(jt_faultio_t *f) {
    return -(f->fail_errno ? f->fail_errno : EIO);
}
#define REAL (lx_io_posix())

/* jt_faultio_track_durable's record: each file's durable size, and the
 * file each descriptor names. */
#define DURABLE_FILES 64
#define DURABLE_FDS 256
struct jt_durable {
    struct {
        char path[512];
        off_t size;
    } file[DURABLE_FILES];
    size_t nfiles;
    int of_fd[DURABLE_FDS]; /* index + 1 in file[]; 0: untracked */
};

/* The record of path, made on first sight with the size it has now. */
static int durable_file(struct jt_durable *d, const char *path) {
    for (size_t i = 0; i < d->nfiles; i++)
        if (!strcmp(d->file[i].path, path)) return (int)i;
    if (d->nfiles == DURABLE_FILES) abort();
    snprintf(d->file[d->nfiles].path, sizeof d->file[0].path, "%s", path);
    struct stat st;
    d->file[d->nfiles].size = stat(path, &st) == 0 ? st.st_size : 0;
    return (int)d->nfiles++;
}

static int f_open(void *ctx, const char *path, int flags, mode_t mode) {
    jt_faultio_t *f = ctx;
    if (hit(f, JT_OP_OPEN)) return ferr(f);
    int k = f->durable ? durable_file(f->durable, path) : -1; /* before a create */
    int fd = REAL->open(NULL, path, flags, mode);
    if (k >= 0 && fd >= 0 && fd < DURABLE_FDS) f->durable->of_fd[fd] = k + 1;
    return fd;
}

/* After a successful sync of fd: its file's size is durable. */
static int synced(jt_faultio_t *f, int fd, int rc) {
    struct stat st;
    if (!rc && f->durable && fd >= 0 && fd < DURABLE_FDS && f->durable->of_fd[fd] &&
        fstat(fd, &st) == 0)
        f->durable->file[f->durable->of_fd[fd] - 1].size = st.st_size;
    return rc;
}
static int f_close(void *ctx, int fd) {
    jt_faultio_t *f = ctx;
    if (hit(f, JT_OP_CLOSE)) {
        REAL->close(NULL, fd); /* the descriptor is gone either way */
        return ferr(f);
    }
    return REAL->close(NULL, fd);
}
static int f_write(void *ctx, int fd, const void *buf, size_t len) {
    jt_faultio_t *f = ctx;
    if (hit(f, JT_OP_WRITE)) {
        if (f->short_write) REAL->write(NULL, fd, buf, f->short_write < len ? f->short_write : len);
        return ferr(f);
    }
    return REAL->write(NULL, fd, buf, len);
}
static int f_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off) {
    jt_faultio_t *f = ctx;
    return hit(f, JT_OP_PWRITE) ? ferr(f) : REAL->pwrite(NULL, fd, buf, len, off);
}
static int f_fdatasync(void *ctx, int fd) {
    jt_faultio_t *f = ctx;
    return hit(f, JT_OP_FDATASYNC) ? ferr(f) : synced(f, fd, REAL->fdatasync(NULL, fd));
}
static int f_fsync(void *ctx, int fd) {
    jt_faultio_t *f = ctx;
    return hit(f, JT_OP_FSYNC) ? ferr(f) : synced(f, fd, REAL->fsync(NULL, fd));
}
static int f_ftruncate(void *ctx, int fd, off_t len) {
    jt_faultio_t *f = ctx;
    return hit(f, JT_OP_FTRUNCATE) ? ferr(f) : REAL->ftruncate(NULL, fd, len);
}
static int f_rename(void *ctx, const char *a, const char *b) {
    jt_faultio_t *f = ctx;
    return hit(f, JT_OP_RENAME) ? ferr(f) : REAL->rename(NULL, a, b);
}
static int f_unlink(void *ctx, const char *path) {
    jt_faultio_t *f = ctx;
    return hit(f, JT_OP_UNLINK) ? ferr(f) : REAL->unlink(NULL, path);
}
static int f_fsync_dir(void *ctx, const char *dir) {
    jt_faultio_t *f = ctx;
    return hit(f, JT_OP_FSYNC_DIR) ? ferr(f) : REAL->fsync_dir(NULL, dir);
}

void jt_faultio_init(jt_faultio_t *f) {
    memset(f, 0, sizeof *f);
    f->fail_op = JT_OP_NONE;
    f->io = (lx_io_t){.ctx = f,
                      .open = f_open,
                      .close = f_close,
                      .write = f_write,
                      .pwrite = f_pwrite,
                      .fdatasync = f_fdatasync,
                      .fsync = f_fsync,
                      .ftruncate = f_ftruncate,
                      .rename = f_rename,
                      .unlink = f_unlink,
                      .fsync_dir = f_fsync_dir};
}

void jt_faultio_track_durable(jt_faultio_t *f) {
    if (!f->durable && !(f->durable = calloc(1, sizeof *f->durable))) abort();
}

void jt_faultio_power_loss(jt_faultio_t *f) {
    for (size_t i = 0; f->durable && i < f->durable->nfiles; i++) {
        struct stat st;
        if (stat(f->durable->file[i].path, &st) == 0 && st.st_size > f->durable->file[i].size &&
            truncate(f->durable->file[i].path, f->durable->file[i].size) != 0)
            abort();
    }
}

void jt_faultio_free(jt_faultio_t *f) {
    free(f->durable);
    f->durable = NULL;
}

/* ---- files ---------------------------------------------------------------- */

void jt_tmpdir(char out[256], const char *tag) {
    const char *t = getenv("TMPDIR");
    snprintf(out, 256, "%s/lxdex-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        abort();
    }
}

void jt_rmdir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

uint8_t *jt_read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return NULL;
    }
    uint8_t *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n <= 0) {
            free(b);
            b = NULL;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (b) *len = got;
    return b;
}

int jt_write_file(const char *path, const void *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

void jt_copy_dir(const char *src, const char *dst) {
    DIR *d = opendir(src);
    if (!d) return;
    struct dirent *de;
    char a[512], b[512];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        snprintf(a, sizeof a, "%s/%s", src, de->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, de->d_name);
        size_t n;
        uint8_t *buf = jt_read_file(a, &n);
        if (buf) jt_write_file(b, buf, n);
        free(buf);
    }
    closedir(d);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(a, b);
}

size_t jt_list(const char *dir, const char *prefix, char names[][64], size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < cap) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
        size_t l = strlen(de->d_name);
        if (l >= 64) continue;
        memcpy(names[n++], de->d_name, l + 1);
    }
    closedir(d);
    qsort(names, n, 64, cmp_name);
    return n;
}

/* ---- journal layouts ------------------------------------------------------- */

void jt_build_journal(const char *dir, uint64_t seed, uint64_t n, uint64_t seg_bytes) {
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.segment_bytes = seg_bytes;
    lx_journal_t *j;
    if (lx_journal_open(&j, dir, &cfg, NULL)) abort();
    for (uint64_t k = 1; k <= n; k++) {
        lx_cmd_t c;
        lx_journal_auth_t a;
        jt_cmd(seed, k, &c);
        bool has = jt_auth(seed, k, &a);
        if (lx_journal_append(j, &c, has ? &a : NULL)) abort();
        if (mix(seed + k) % 5 == 0 && lx_journal_commit(j)) abort();
    }
    if (lx_journal_commit(j)) abort();
    lx_journal_close(j);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

int jt_layout_read(const char *dir, jt_layout_t *l) {
    memset(l, 0, sizeof *l);
    char names[256][64], path[512];
    size_t n = jt_list(dir, "seg-", names, 256);
    l->segs = calloc(n ? n : 1, sizeof *l->segs);
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        jt_seg_t *s = &l->segs[i];
        memcpy(s->name, names[i], 64);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        s->data = jt_read_file(path, &s->len);
        if (!s->data || s->len < 128) return -1;
        l->total += s->len;
        s->prev_seq = le64(s->data + 32);
        s->rec_off = malloc(s->len / 33 * sizeof *s->rec_off + 4);
        s->group_end = malloc(s->len / 33 * sizeof *s->group_end + 4);
        s->group_seq = malloc(s->len / 33 * sizeof *s->group_seq + 8);
        for (size_t off = 128; off < s->len;) {
            uint32_t len = le32(s->data + off);
            if (len < 33 || off + len > s->len) return -1;
            s->rec_off[s->nrecs++] = (uint32_t)off;
            if (s->data[off + 4] == 2) {
                s->group_end[s->ngroups] = (uint32_t)(off + len);
                s->group_seq[s->ngroups++] = le64(s->data + off + 8);
            }
            off += len;
        }
    }
    return 0;
}

void jt_layout_free(jt_layout_t *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->segs[i].data);
        free(l->segs[i].rec_off);
        free(l->segs[i].group_end);
        free(l->segs[i].group_seq);
    }
    free(l->segs);
    memset(l, 0, sizeof *l);
}

void jt_layout_write(const jt_layout_t *l, const char *dir, size_t seg, size_t len) {
    char path[512];
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    for (size_t i = 0; i < l->n && i <= seg; i++) {
        const jt_seg_t *s = &l->segs[i];
        size_t n = i == seg && len < s->len ? len : s->len;
        snprintf(path, sizeof path, "%s/%s", dir, s->name);
        if (jt_write_file(path, s->data, n)) abort();
    }
}

uint64_t jt_layout_seq_at(const jt_layout_t *l, size_t seg, size_t len) {
    const jt_seg_t *s = &l->segs[seg];
    uint64_t seq = s->prev_seq;
    for (size_t g = 0; g < s->ngroups && s->group_end[g] <= len; g++) seq = s->group_seq[g];
    return seq;
}

long jt_layout_record_at(const jt_layout_t *l, size_t seg, size_t off) {
    const jt_seg_t *s = &l->segs[seg];
    long at = -1;
    for (size_t r = 0; r < s->nrecs && s->rec_off[r] <= off; r++) at = (long)s->rec_off[r];
    return at;
}

double jt_scale(void) {
    const char *s = getenv("TEST_SCALE");
    double v = s && *s ? strtod(s, NULL) : 1.0;
    return v > 0 ? v : 1.0;
}
