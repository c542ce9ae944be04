/*
 * journal_bench.c: the journal's workloads of lxdex-bench (journal_bench.h).
 *
 * What is measured, and how:
 *
 *   journal_append_bN: the sequencer's path: lx_journal_append() of a
 *   stream of PLACE commands (96-byte records; 208 with an
 *   auth section in journal_append_auth_b256), fsync on, the batch closing
 *   at its size bound every N commands (batch_max_bytes = N records), so
 *   each group is one write() and one fdatasync(). msgs_per_s is commands
 *   made durable per second; fsyncs_per_s is what the disk sustained. The
 *   loop is closed (each append is issued when the previous one returns,
 *   after its group's fdatasync), so there is no latency under load here:
 *   p50_ns ... max_ns print na (timing=closed_loop) and what is printed
 *   are service times: ack_svc_p50/p99/max_ns, the time from a command's
 *   append to the return of the fdatasync that made it durable (when its
 *   acknowledgement could go out: about half a batch of appends plus one
 *   commit); commit_p50/p99/max_ns, each group's write() and fdatasync()
 *   alone, timed inside the journal's I/O vtable (lx_io_t, wrapped here:
 *   from the write's call to the fdatasync's return); group_append_p50/p99_ns,
 *   the append that closed a group (its record's encoding, the group's
 *   commit record and BLAKE2b chain hash, then the write and fdatasync).
 *
 *   journal_replay: N commands (10 M, quick 1 M) of a trading stream (64
 *   markets, 1,000 accounts, clearing on; gen_flow: GTC makers 1 to 20
 *   ticks behind the mid, 9% IOC takers through it, cancels by client id of
 *   orders that are open, about 60,000 of them resting, and 1% stale
 *   cancels of orders just closed: the only rejects, and the run refuses a
 *   stream with more than 5% rejected, or 1% unasked, as bench/main.c does
 *   the engine workloads) are journaled without fsync in 64 KiB groups
 *   (generated a chunk at a time, untimed, by driving a shadow engine
 *   whose events say which orders are open; write_msgs_per_s times the
 *   appends alone), then read back from the warm page cache: journal_replay
 *   times the reader alone (every CRC32C, every group's BLAKE2b chain hash,
 *   every decode: what `lxdex journal verify` does before its engine), best of
 *   three, with the chain hashes on a helper thread (the default; scan.c)
 *   and, as msgs_per_s_one_thread, without; journal_replay_apply times a
 *   full recovery from genesis, through the engine, whose digest must equal
 *   the shadow's. Neither has a per-message latency: those keys print na.
 *   Both print the stream's rejects and stale_cancels (equal when every
 *   reject was asked for); journal_replay_apply also its trades.
 *
 *   journal_snapshot: an engine with R resting orders (10,000,000; quick
 *   1,000,000: 100 markets, 500 levels a side, bids placed upward and asks
 *   downward so that each is the new best and the setup is linear) is built
 *   through the journal (untimed, apart from the append rate it reports),
 *   then: one synchronous lx_journal_snapshot() (snapshot_ms: commit, new
 *   segment, digest, zstd level 1, fsync, rename); five lx_snapshot_fork()
 *   whose stall (the time the engine thread spends in fork()) gives
 *   p50/p99/max_ns and stall_ns, with the child's time to a durable file
 *   (fork_child_ms); and the cost of copy-on-write: the time per command of
 *   100,000 placements applied while a child is writing, against the same
 *   without one (apply_ns_during_fork, apply_ns_base).
 *
 *   journal_snapshot_thp, journal_recovery_thp: the same with the engine's
 *   arenas advised to transparent huge pages (lx_engine_hugepages:
 *   MADV_HUGEPAGE on its arrays of 2 MiB or more right after
 *   lx_engine_create, before they are touched): fork() then copies one
 *   page-table entry per 2 MiB instead of 512, which is what keeps the
 *   stall well under 10 ms at 10 M orders.
 *
 *   journal_recovery: after that, a journal tail of 1,000,000 commands
 *   (quick 100,000) of the same kind of stream (100 markets, around a mid
 *   between the books' bids and asks; tail_trades, tail_rejects and
 *   tail_stale_cancels, checked as above) is appended and applied; the
 *   engine is dropped and lx_recover() rebuilds it (recovery_ms: newest
 *   snapshot loaded and checked, the tail
 *   replayed); snapshot_load_ms times lx_snapshot_read() alone, and
 *   msgs_per_s is the tail over the whole recovery's time, the snapshot
 *   load included: measured, and so a lower bound of the replay's rate
 *   (it used to be the tail over recovery minus a separate load, a
 *   difference of two runs rather than a measurement). The
 *   recovered digest is checked against the original engine's.
 *
 * Everything runs in a fresh directory under $TMPDIR (or /tmp), removed at
 * the end; numbers depend on that file system (fsync cost above all).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clock.h"
#include "hist.h"
#include "journal_bench.h"
#include "lx/engine.h"
#include "lx/journal.h"
#include "prng.h"

/* ---- helpers ------------------------------------------------------------- */

static int mk_dir(char out[256], const char *tag) {
    const char *t = getenv("TMPDIR");
    snprintf(out, 256, "%s/lxdex-bench-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(out)) {
        perror("lxdex-bench: mkdtemp");
        return -1;
    }
    return 0;
}

static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_dir(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static uint64_t dir_bytes(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    char p[512];
    uint64_t sum = 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0) sum += (uint64_t)st.st_size;
    }
    closedir(d);
    return sum;
}

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (!f) return 0;
    int n = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    return n == 2 ? (size_t)res * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t per_s(uint64_t n, uint64_t ns) {
    return ns ? (uint64_t)((unsigned __int128)n * 1000000000u / ns) : 0;
}

static int fail(const char *what, int rc, const char *msg) {
    fprintf(stderr, "lxdex-bench: journal: %s: %s%s%s\n", what, lx_strerror(rc),
            msg && *msg ? ": " : "", msg ? msg : "");
    return 1;
}

/* ---- a seeded command stream --------------------------------------------- */

/* An open order of the flow (one the generator placed, with a client id). */
typedef struct {
    uint64_t id, cid;
    uint32_t account, market;
} jopen_t;

#define NIL UINT32_MAX
#define CLOSED_RING 256

typedef struct {
    lxb_rng_t r;
    uint64_t seq;
    int64_t ts;
    uint32_t markets, accounts;
    int64_t mid, spread; /* flow prices: mid +- spread */
    /* The flow's open orders, kept from the events of the engine that
     * applies the flow (gen_sink): an array with swap-removal, and each
     * one's index there by its id's slot (the id's low 32 bits,
     * docs/matching.md; NIL: none of the flow's), as gen.c's shadow does. */
    jopen_t *open;
    uint32_t nopen, cap;
    uint32_t *pos;
    uint32_t npos;
    jopen_t closed[CLOSED_RING]; /* recently closed, for the stale cancels */
    uint32_t nclosed;
    uint32_t target;               /* open orders the flow keeps (about) */
    uint64_t flow, rejects, stale; /* flow commands; rejected; stale on purpose */
    uint64_t trades;
    bool oom;
} gen_t;

/* pos[] long enough to hold slot. */
static bool pos_room(gen_t *g, uint32_t slot) {
    if (slot < g->npos) return true;
    if (slot >= 1u << 30) return false;
    uint32_t n = g->npos ? g->npos : 1u << 16;
    while (n <= slot) n *= 2;
    uint32_t *p = realloc(g->pos, (size_t)n * sizeof *p);
    if (!p) return false;
    memset(p + g->npos, 0xff, (size_t)(n - g->npos) * sizeof *p);
    g->pos = p;
    g->npos = n;
    return true;
}

static void open_add(gen_t *g, const jopen_t *o) {
    if (g->oom) return;
    if (g->nopen == g->cap) {
        uint32_t cap = g->cap ? 2 * g->cap : 1u << 16;
        jopen_t *no = realloc(g->open, (size_t)cap * sizeof *no);
        if (!no) {
            g->oom = true;
            return;
        }
        g->open = no;
        g->cap = cap;
    }
    uint32_t slot = (uint32_t)o->id;
    if (!pos_room(g, slot)) {
        g->oom = true;
        return;
    }
    g->open[g->nopen] = *o;
    g->pos[slot] = g->nopen++;
}

static void open_del(gen_t *g, uint64_t id) {
    uint32_t slot = (uint32_t)id, k = slot < g->npos ? g->pos[slot] : NIL;
    if (k == NIL || g->open[k].id != id) return; /* not one of the flow's (setup orders) */
    g->closed[g->nclosed++ % CLOSED_RING] = g->open[k];
    g->pos[slot] = NIL;
    if (k != --g->nopen) {
        g->open[k] = g->open[g->nopen];
        g->pos[(uint32_t)g->open[k].id] = k;
    }
}

/* The events of the engine that applies the flow: the open set follows
 * ORDER_ACCEPTED (joins), TRADE (a side with nothing left leaves) and
 * ORDER_CANCELED (leaves); REJECTED is counted. */
static void gen_event(void *ctx, const lx_event_t *ev) {
    gen_t *g = ctx;
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED:
        if (ev->u.accepted.client_id) {
            jopen_t o = {ev->u.accepted.order_id, ev->u.accepted.client_id, ev->u.accepted.account,
                         ev->market};
            open_add(g, &o);
        }
        break;
    case LX_EV_TRADE:
        g->trades++;
        if (ev->u.trade.maker_remaining == 0) open_del(g, ev->u.trade.maker_order);
        if (ev->u.trade.taker_remaining == 0) open_del(g, ev->u.trade.taker_order);
        break;
    case LX_EV_ORDER_CANCELED:
        open_del(g, ev->u.canceled.order_id);
        break;
    case LX_EV_REJECTED:
        g->rejects++;
        break;
    default:
        break;
    }
}

static lx_sink_t gen_sink(gen_t *g) {
    return (lx_sink_t){gen_event, g};
}

static void gen_free(gen_t *g) {
    free(g->open);
    free(g->pos);
    g->open = NULL;
    g->pos = NULL;
}

/* The flow's own sanity, as bench/main.c's sanity_ok for the engine
 * workloads: more than 5% of the flow rejected, or more than 1% rejected
 * without having been asked to (the stale cancels), is a broken stream:
 * 0, or -1 with a message. */
static int gen_sane(const gen_t *g, const char *what) {
    const char *why = NULL;
    if (g->oom)
        why = "out of memory for its open orders";
    else if (g->rejects * 20 > g->flow)
        why = "more than 5% of its commands were rejected";
    else if ((g->rejects > g->stale ? g->rejects - g->stale : 0) * 100 > g->flow)
        why = "more than 1% of its commands were rejected unasked";
    if (!why) return 0;
    fprintf(stderr,
            "lxdex-bench: journal: %s: broken stream: %s (%" PRIu64 " of %" PRIu64
            " rejected, %" PRIu64 " stale cancels)\n",
            what, why, g->rejects, g->flow, g->stale);
    return -1;
}

static void gen_init(gen_t *g, uint64_t seed, uint32_t markets, uint32_t accounts, int64_t mid,
                     int64_t spread) {
    memset(g, 0, sizeof *g);
    lxb_rng_seed(&g->r, seed, 0x6a6e6c);
    g->ts = 1700000000000000000ll;
    g->markets = markets;
    g->accounts = accounts;
    g->mid = mid;
    g->spread = spread;
    g->target = markets * 1000; /* 500 orders a side in each market */
}

static void stamp(gen_t *g, lx_cmd_t *c) {
    c->seq = ++g->seq;
    g->ts += 1000;
    c->ts = g->ts;
}

static void engine_cfg(lx_engine_config_t *cfg, uint32_t markets, uint32_t max_orders) {
    lx_engine_config_default(cfg);
    cfg->max_markets = markets + 1;
    cfg->max_assets = 4;
    cfg->max_accounts = 1024;
    cfg->max_orders = max_orders;
    cfg->clearing = true;
}

/* Setup command i (assets, markets, deposits); false when done. */
static bool gen_setup(gen_t *g, uint32_t i, lx_cmd_t *c) {
    memset(c, 0, sizeof *c);
    if (i < 2) {
        c->type = LX_CMD_CREATE_ASSET;
        c->u.create_asset.asset = i;
        memcpy(c->u.create_asset.symbol, i ? "QUOTE" : "BASE", i ? 5 : 4);
        c->u.create_asset.scale = 1;
    } else if (i < 2 + g->markets) {
        lx_cmd_create_market_t *m = &c->u.create_market;
        c->type = LX_CMD_CREATE_MARKET;
        m->market = i - 2;
        m->base = 0;
        m->quote = 1;
        m->tick_size = 1;
        m->lot_size = 1;
        m->min_price = 1;
        m->max_price = 1000000;
        m->max_qty = 1000000;
        m->maker_fee = 0;
        m->taker_fee = 10;
    } else if (i < 2 + g->markets + 2 * g->accounts) {
        uint32_t k = i - 2 - g->markets;
        c->type = LX_CMD_DEPOSIT;
        c->u.deposit.account = k / 2;
        c->u.deposit.asset = k % 2;
        c->u.deposit.amount = 1000000000000000ll;
        c->u.deposit.deposit_id = k + 1;
    } else {
        return false;
    }
    stamp(g, c);
    return true;
}

/* A flow command, applied (with gen_sink) before the next is generated:
 *   1%  a cancel of an order that has just closed (filled or canceled: the
 *       stale cancel a trading client sends; rejected UNKNOWN_ORDER);
 *   9%  an IOC taker from a random account crossing the mid by up to
 *       `spread` ticks (it trades with the best levels, the rest canceled);
 *   90% a GTC maker 1 to `spread` ticks behind the mid on a random side,
 *       or a cancel by client id of an open order picked at random: cancels
 *       take half of these at `target` open orders, more above, fewer
 *       below, so the book holds about that many;
 * each from a random account in a random market (a cancel: its order's). */
static void gen_flow(gen_t *g, lx_cmd_t *c) {
    memset(c, 0, sizeof *c);
    stamp(g, c);
    g->flow++;
    uint64_t x = lxb_next(&g->r);
    uint32_t roll = (uint32_t)(x % 1000);
    const jopen_t *o = NULL;
    if (roll < 10 && g->nclosed) {
        uint32_t have = g->nclosed < CLOSED_RING ? g->nclosed : CLOSED_RING;
        o = &g->closed[lxb_below(&g->r, have)];
        g->stale++;
    } else if (roll >= 100 && g->nopen) {
        /* P(cancel) = nopen / (2 target), within 10% .. 90% */
        uint64_t ppm = (uint64_t)g->nopen * 500000 / g->target;
        ppm = ppm < 100000 ? 100000 : ppm > 900000 ? 900000 : ppm;
        if (lxb_below(&g->r, 1000000) < ppm) o = &g->open[lxb_below(&g->r, g->nopen)];
    }
    if (o) {
        c->type = LX_CMD_CANCEL;
        c->u.cancel.account = o->account;
        c->u.cancel.market = o->market;
        c->u.cancel.by_client_id = 1;
        c->u.cancel.client_id = o->cid;
        return;
    }
    bool taker = roll < 100;
    int side = (int)((x >> 32) & 1);
    int64_t d = 1 + (int64_t)lxb_below(&g->r, (uint32_t)g->spread);
    lx_cmd_place_t *p = &c->u.place;
    c->type = LX_CMD_PLACE;
    p->account = lxb_below(&g->r, g->accounts);
    p->market = lxb_below(&g->r, g->markets);
    p->side = (uint8_t)side;
    p->type = LX_ORDER_LIMIT;
    p->tif = taker ? LX_TIF_IOC : LX_TIF_GTC;
    /* makers behind the mid, takers through it */
    p->price = (side == LX_SIDE_BUY) == taker ? g->mid + d : g->mid - d;
    p->qty = 1 + (int64_t)lxb_below(&g->r, 10);
    p->client_id = c->seq;
}

/* ---- append with group commit -------------------------------------------- */

/* The journal's I/O vtable (lx_io_t) wrapped to time each group's write()
 * and fdatasync() together: from the write's call to the fdatasync's
 * return, nothing else (the records' encoding and the chain hash come
 * before the write). A new segment's header (the write after an open) is
 * not a group and is left out. */
typedef struct {
    lx_io_t io;
    const lx_io_t *base;
    lxb_hist_t *h; /* NULL: not recording */
    uint64_t w0;   /* the pending write's start; 0: none */
    bool header;   /* the next write is a new segment's header */
} tio_t;

static int tio_open(void *ctx, const char *path, int flags, mode_t mode) {
    tio_t *t = ctx;
    t->header = true;
    return t->base->open(t->base->ctx, path, flags, mode);
}
static int tio_close(void *ctx, int fd) {
    tio_t *t = ctx;
    return t->base->close(t->base->ctx, fd);
}
static int tio_write(void *ctx, int fd, const void *buf, size_t len) {
    tio_t *t = ctx;
    uint64_t w0 = lxb_now_ns();
    int rc = t->base->write(t->base->ctx, fd, buf, len);
    t->w0 = t->header ? 0 : w0;
    t->header = false;
    return rc;
}
static int tio_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off) {
    tio_t *t = ctx;
    return t->base->pwrite(t->base->ctx, fd, buf, len, off);
}
static int tio_fdatasync(void *ctx, int fd) {
    tio_t *t = ctx;
    int rc = t->base->fdatasync(t->base->ctx, fd);
    if (t->w0 && t->h) lxb_hist_record(t->h, lxb_now_ns() - t->w0);
    t->w0 = 0;
    return rc;
}
static int tio_fsync(void *ctx, int fd) {
    tio_t *t = ctx;
    return t->base->fsync(t->base->ctx, fd);
}
static int tio_ftruncate(void *ctx, int fd, off_t len) {
    tio_t *t = ctx;
    return t->base->ftruncate(t->base->ctx, fd, len);
}
static int tio_rename(void *ctx, const char *from, const char *to) {
    tio_t *t = ctx;
    return t->base->rename(t->base->ctx, from, to);
}
static int tio_unlink(void *ctx, const char *path) {
    tio_t *t = ctx;
    return t->base->unlink(t->base->ctx, path);
}
static int tio_fsync_dir(void *ctx, const char *dir) {
    tio_t *t = ctx;
    return t->base->fsync_dir(t->base->ctx, dir);
}

static void tio_init(tio_t *t) {
    memset(t, 0, sizeof *t);
    t->base = lx_io_posix();
    t->io = (lx_io_t){.ctx = t,
                      .open = tio_open,
                      .close = tio_close,
                      .write = tio_write,
                      .pwrite = tio_pwrite,
                      .fdatasync = tio_fdatasync,
                      .fsync = tio_fsync,
                      .ftruncate = tio_ftruncate,
                      .rename = tio_rename,
                      .unlink = tio_unlink,
                      .fsync_dir = tio_fsync_dir};
}

static int bench_append(uint64_t seed, bool quick, uint32_t batch, bool auth) {
    char dir[256];
    if (mk_dir(dir, "append")) return 1;
    gen_t g;
    gen_init(&g, seed, 64, 1000, 100000, 50);
    tio_t tio;
    tio_init(&tio);
    lx_journal_config_t cfg;
    lx_journal_config_default(&cfg);
    engine_cfg(&cfg.engine, 64, 1u << 22);
    uint32_t rec = auth ? 208 : 96; /* bytes of a PLACE record */
    cfg.batch_max_bytes = batch * rec;
    cfg.batch_max_delay_ns = UINT64_MAX / 2;
    cfg.fsync = true;
    cfg.io = &tio.io;
    uint64_t n = (uint64_t)batch * (quick ? 200 : 2000);
    uint64_t lo = quick ? 2000 : 20000, hi = quick ? 400000 : 4000000;
    n = n < lo ? lo : n > hi ? hi : n;
    n -= n % batch;
    lx_journal_t *j;
    int rc = lx_journal_open(&j, dir, &cfg, NULL);
    if (rc) {
        rm_dir(dir);
        return fail("open", rc, dir);
    }
    lx_cmd_t *cmds = malloc(n * sizeof *cmds);
    uint64_t *t_in = malloc(((size_t)batch + 1) * sizeof *t_in);
    lxb_hist_t *lat = malloc(sizeof *lat), *grp = malloc(sizeof *grp), *io = malloc(sizeof *io);
    if (!cmds || !t_in || !lat || !grp || !io) {
        lx_journal_close(j);
        free(cmds);
        free(t_in);
        free(lat);
        free(grp);
        free(io);
        rm_dir(dir);
        return fail("memory", LX_ENOMEM, NULL);
    }
    for (uint64_t i = 0; i < n; i++) {
        memset(&cmds[i], 0, sizeof cmds[i]);
        stamp(&g, &cmds[i]);
        cmds[i].type = LX_CMD_PLACE; /* fixed-size records: the bound is exactly N */
        cmds[i].u.place = (lx_cmd_place_t){.account = (uint32_t)(i % 1000),
                                           .market = 1,
                                           .side = (uint8_t)(i & 1),
                                           .tif = LX_TIF_GTC,
                                           .price = 100000 + (int64_t)(i % 97),
                                           .qty = 1 + (int64_t)(i % 10),
                                           .client_id = i + 1};
    }
    lx_journal_auth_t a = {.scheme = LX_AUTH_ED25519, .nonce = 1};
    memset(a.key, 0xab, sizeof a.key);
    memset(a.sig, 0xcd, sizeof a.sig);
    lxb_hist_init(lat);
    lxb_hist_init(grp);
    lxb_hist_init(io);
    tio.h = io;
    uint32_t inb = 0;
    uint64_t t0 = lxb_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t durable = lx_journal_durable_seq(j);
        uint64_t t = lxb_now_ns();
        t_in[inb++] = t;
        a.nonce = i + 1;
        rc = lx_journal_append(j, &cmds[i], auth ? &a : NULL);
        if (rc) break;
        if (lx_journal_durable_seq(j) != durable) {
            uint64_t t2 = lxb_now_ns();
            lxb_hist_record(grp, t2 - t);
            for (uint32_t k = 0; k < inb; k++) lxb_hist_record(lat, t2 - t_in[k]);
            inb = 0;
        }
    }
    if (!rc) rc = lx_journal_commit(j);
    uint64_t el = lxb_now_ns() - t0;
    tio.h = NULL;
    lx_journal_stats_t st;
    lx_journal_stats(j, &st);
    lx_journal_close(j);
    if (!rc) {
        /* closed loop (each append waits for the previous fdatasync): no
         * latency under load, so p50_ns ... max_ns are na; ack_svc_* and
         * the rest are service times */
        printf("RESULT workload=journal_append%s_b%u msgs=%" PRIu64 " msgs_per_s=%" PRIu64
               " p50_ns=na p99_ns=na p999_ns=na max_ns=na bytes_per_order=na timing=closed_loop"
               " ack_svc_p50_ns=%" PRIu64 " ack_svc_p99_ns=%" PRIu64 " ack_svc_max_ns=%" PRIu64
               " fsyncs_per_s=%" PRIu64 " batch_cmds=%u record_bytes=%u mb_per_s=%" PRIu64
               " commit_p50_ns=%" PRIu64 " commit_p99_ns=%" PRIu64 " commit_max_ns=%" PRIu64
               " group_append_p50_ns=%" PRIu64 " group_append_p99_ns=%" PRIu64 " fsyncs=%" PRIu64
               " seed=%" PRIu64 "\n",
               auth ? "_auth" : "", batch, n, per_s(n, el), lxb_hist_quantile(lat, 500000),
               lxb_hist_quantile(lat, 990000), lat->max, per_s(st.fsyncs, el), batch, rec,
               per_s(st.bytes, el) >> 20, lxb_hist_quantile(io, 500000),
               lxb_hist_quantile(io, 990000), io->max, lxb_hist_quantile(grp, 500000),
               lxb_hist_quantile(grp, 990000), st.fsyncs, seed);
        fflush(stdout);
    }
    free(cmds);
    free(t_in);
    free(lat);
    free(grp);
    free(io);
    rm_dir(dir);
    return rc ? fail("append", rc, NULL) : 0;
}

/* ---- replay -------------------------------------------------------------- */

static int bench_replay(uint64_t seed, bool quick) {
    char dir[256];
    if (mk_dir(dir, "replay")) return 1;
    uint64_t n = quick ? 1000000 : 10000000;
    enum { CHUNK = 4096 };
    gen_t g;
    gen_init(&g, seed, 64, 1000, 100000, 20);
    lx_journal_config_t cfg;
    lx_journal_config_default(&cfg);
    engine_cfg(&cfg.engine, 64, 1u << 22);
    cfg.fsync = false;
    cfg.batch_max_bytes = 64 << 10;
    /* the shadow: an engine the generator drives to know which orders are
     * open; at the end it must equal the replayed one */
    lx_engine_t *shadow = NULL;
    lx_journal_t *j = NULL;
    lx_cmd_t *buf = malloc(CHUNK * sizeof *buf);
    int rc = buf ? lx_engine_create(&shadow, &cfg.engine) : LX_ENOMEM;
    if (!rc) rc = lx_journal_open(&j, dir, &cfg, NULL);
    if (rc) {
        lx_engine_destroy(shadow);
        free(buf);
        rm_dir(dir);
        return fail("open", rc, dir);
    }
    lx_sink_t gs = gen_sink(&g);
    lx_cmd_t c;
    uint64_t total = 0;
    for (uint32_t i = 0; !rc && gen_setup(&g, i, &c); i++) {
        if ((rc = lx_journal_append(j, &c, NULL))) break;
        rc = lx_engine_apply(shadow, &c, &gs);
        total++;
    }
    if (g.rejects) rc = rc ? rc : LX_ESTATE;
    /* generated (and applied to the shadow) a chunk at a time, untimed;
     * write_msgs_per_s times the appends alone */
    uint64_t write_ns = 0;
    for (uint64_t done = 0; done < n && !rc;) {
        uint32_t k = n - done < CHUNK ? (uint32_t)(n - done) : CHUNK;
        for (uint32_t i = 0; i < k && !rc; i++) {
            gen_flow(&g, &buf[i]);
            rc = lx_engine_apply(shadow, &buf[i], &gs);
        }
        uint64_t t = lxb_now_ns();
        for (uint32_t i = 0; i < k && !rc; i++) rc = lx_journal_append(j, &buf[i], NULL);
        write_ns += lxb_now_ns() - t;
        done += k;
        total += k;
    }
    uint64_t t0 = lxb_now_ns();
    if (!rc) rc = lx_journal_commit(j);
    write_ns += lxb_now_ns() - t0;
    lx_journal_close(j);
    free(buf);
    uint64_t shadow_digest = lx_engine_digest(shadow);
    lx_engine_stats_t ss;
    lx_engine_stats(shadow, &ss);
    lx_engine_destroy(shadow);
    if (!rc && ss.orders != g.nopen) {
        fprintf(stderr,
                "lxdex-bench: journal: the generator counts %u open orders, the engine %u\n",
                g.nopen, ss.orders);
        rc = LX_ESTATE;
    }
    gen_free(&g);
    if (rc || gen_sane(&g, "journal_replay")) {
        rm_dir(dir);
        return rc ? fail("writing the journal", rc, NULL) : 1;
    }
    uint64_t bytes = dir_bytes(dir, "seg-");
    /* the reader alone, warm: three runs with the hash helper thread (the
     * default), then three on one thread */
    uint64_t best = UINT64_MAX, best1 = UINT64_MAX;
    lx_recovery_t rec;
    for (int rep = 0; rep < 6; rep++) {
        lx_recover_opts_t o = {.read_only = true, .no_engine = true, .single_thread = rep >= 3};
        uint64_t t = lxb_now_ns();
        rc = lx_recover(dir, &o, NULL, &rec);
        t = lxb_now_ns() - t;
        if (rc || rec.commands != total) {
            rm_dir(dir);
            return fail("replay", rc ? rc : LX_ECORRUPT, rec.msg);
        }
        if (rep < 3 && t < best) best = t;
        if (rep >= 3 && t < best1) best1 = t;
    }
    printf("RESULT workload=journal_replay msgs=%" PRIu64 " msgs_per_s=%" PRIu64
           " p50_ns=na p99_ns=na p999_ns=na max_ns=na bytes_per_order=na bytes=%" PRIu64
           " mb_per_s=%" PRIu64 " ns_per_msg=%" PRIu64 " groups=%" PRIu64
           " write_msgs_per_s=%" PRIu64 " msgs_per_s_one_thread=%" PRIu64 " rejects=%" PRIu64
           " stale_cancels=%" PRIu64 " repeat=3 seed=%" PRIu64 "\n",
           total, per_s(total, best), bytes, per_s(bytes, best) >> 20, best / total, rec.groups,
           per_s(total, write_ns), per_s(total, best1), g.rejects, g.stale, seed);
    fflush(stdout);
    /* through the engine: a recovery from genesis */
    lx_engine_t *e = NULL;
    uint64_t t = lxb_now_ns();
    rc = lx_recover(dir, NULL, &e, &rec);
    t = lxb_now_ns() - t;
    if (rc) {
        rm_dir(dir);
        return fail("replay through the engine", rc, rec.msg);
    }
    if (lx_engine_digest(e) != shadow_digest) {
        lx_engine_destroy(e);
        rm_dir(dir);
        return fail("replay through the engine", LX_ECORRUPT,
                    "digest differs from the generator's");
    }
    lx_engine_stats_t es;
    lx_engine_stats(e, &es);
    printf("RESULT workload=journal_replay_apply msgs=%" PRIu64 " msgs_per_s=%" PRIu64
           " p50_ns=na p99_ns=na p999_ns=na max_ns=na bytes_per_order=na ns_per_msg=%" PRIu64
           " resting_end=%u trades=%" PRIu64 " rejects=%" PRIu64 " stale_cancels=%" PRIu64
           " seed=%" PRIu64 "\n",
           rec.commands, per_s(rec.commands, t), t / rec.commands, es.orders, g.trades, g.rejects,
           g.stale, seed);
    fflush(stdout);
    lx_engine_destroy(e);
    rm_dir(dir);
    return 0;
}

/* ---- snapshot and recovery with many resting orders ------------------------- */

static int apply_journaled(lx_journal_t *j, lx_engine_t *e, const lx_cmd_t *c) {
    int rc = lx_journal_append(j, c, NULL);
    return rc ? rc : lx_engine_apply(e, c, NULL);
}

static void count_accepted(void *ctx, const lx_event_t *ev) {
    if (ev->type == LX_EV_ORDER_ACCEPTED) ++*(uint64_t *)ctx;
}

/* n placements at prices that rest (bids between the books' bids and asks),
 * applied and timed (each must be accepted: else *rc is set), then
 * journaled (so that the journal still holds every command the engine
 * has); returns ns per command applied. */
static uint64_t timed_places(lx_journal_t *j, lx_engine_t *e, gen_t *g, uint32_t n, int64_t base,
                             int *rc) {
    lx_cmd_t *cmds = malloc((size_t)n * sizeof *cmds);
    if (!cmds) {
        *rc = LX_ENOMEM;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        memset(&cmds[i], 0, sizeof cmds[i]);
        stamp(g, &cmds[i]);
        cmds[i].type = LX_CMD_PLACE;
        cmds[i].u.place = (lx_cmd_place_t){.account = i % 1000,
                                           .market = i % g->markets,
                                           .side = LX_SIDE_BUY,
                                           .tif = LX_TIF_GTC,
                                           .price = base + (i / g->markets) % 200,
                                           .qty = 1};
    }
    uint64_t accepted = 0;
    lx_sink_t sink = {count_accepted, &accepted};
    int arc = 0;
    uint64_t t = lxb_now_ns();
    for (uint32_t i = 0; i < n; i++) arc |= lx_engine_apply(e, &cmds[i], &sink);
    t = lxb_now_ns() - t;
    if (arc || accepted != n) { /* what was timed must be n resting places */
        fprintf(stderr, "journal_bench: %u places timed, %llu accepted, apply %s\n", n,
                (unsigned long long)accepted, arc ? "failed" : "ok");
        *rc = arc ? arc : LX_ECORRUPT;
    }
    for (uint32_t i = 0; i < n && !*rc; i++) *rc = lx_journal_append(j, &cmds[i], NULL);
    free(cmds);
    return t / n;
}

static int bench_snapshot(uint64_t seed, bool quick, bool huge) {
    char dir[256], forks[300];
    if (mk_dir(dir, "snap")) return 1;
    snprintf(forks, sizeof forks, "%s/forks", dir);
    mkdir(forks, 0755);
    const uint32_t markets = 100, levels = 500;
    uint64_t resting = quick ? 1000000 : 10000000;
    uint32_t per_level = (uint32_t)(resting / ((uint64_t)markets * 2 * levels));
    resting = (uint64_t)per_level * markets * 2 * levels;
    gen_t g;
    gen_init(&g, seed, markets, 1000, 20000, 100);
    lx_journal_config_t cfg;
    lx_journal_config_default(&cfg);
    engine_cfg(&cfg.engine, markets, (uint32_t)(resting + resting / 4 + 1000000));
    cfg.fsync = false; /* the setup is not what is measured */
    cfg.batch_max_bytes = 1 << 20;
    cfg.segment_bytes = 256ull << 20;
    cfg.keep_snapshots = 2;
    lx_engine_t *e = NULL;
    lx_journal_t *j = NULL;
    int rc = lx_engine_create(&e, &cfg.engine);
    uint64_t advised = !rc && huge ? lx_engine_hugepages(e) : 0;
    if (!rc) rc = lx_journal_open(&j, dir, &cfg, NULL);
    if (rc) {
        lx_engine_destroy(e);
        rm_dir(dir);
        return fail("setup", rc, NULL);
    }
    lx_cmd_t c;
    for (uint32_t i = 0; !rc && gen_setup(&g, i, &c); i++) rc = apply_journaled(j, e, &c);
    /* bids upward from 10000, asks downward from 30000: each a new best */
    uint64_t t0 = lxb_now_ns(), placed = 0;
    for (uint32_t m = 0; m < markets && !rc; m++) {
        for (uint32_t l = 0; l < levels && !rc; l++) {
            for (uint32_t k = 0; k < 2 * per_level && !rc; k++) {
                memset(&c, 0, sizeof c);
                stamp(&g, &c);
                int side = k & 1;
                c.type = LX_CMD_PLACE;
                c.u.place =
                    (lx_cmd_place_t){.account = (uint32_t)(placed % 1000),
                                     .market = m,
                                     .side = (uint8_t)side,
                                     .tif = LX_TIF_GTC,
                                     .price = side ? 30000 - (int64_t)l : 10000 + (int64_t)l,
                                     .qty = 1 + (int64_t)(placed % 5)};
                rc = apply_journaled(j, e, &c);
                placed++;
            }
        }
    }
    if (!rc) rc = lx_journal_commit(j);
    uint64_t setup_ns = lxb_now_ns() - t0;
    lx_engine_stats_t es;
    lx_engine_stats(e, &es);
    if (rc || es.orders != resting) {
        lx_journal_close(j);
        lx_engine_destroy(e);
        rm_dir(dir);
        fprintf(stderr, "lxdex-bench: journal: %u resting orders, %" PRIu64 " wanted\n", es.orders,
                resting);
        return fail("building the book", rc ? rc : LX_ESTATE, NULL);
    }
    size_t rss = rss_bytes();
    uint64_t t = lxb_now_ns();
    uint64_t digest = lx_engine_digest(e);
    uint64_t digest_ns = lxb_now_ns() - t;
    /* synchronous, through the journal */
    t = lxb_now_ns();
    rc = lx_journal_snapshot(j, e);
    uint64_t sync_ns = lxb_now_ns() - t;
    if (rc) {
        lx_journal_close(j);
        lx_engine_destroy(e);
        rm_dir(dir);
        return fail("snapshot", rc, NULL);
    }
    uint64_t file_bytes = dir_bytes(dir, "snap-");
    char spath[512];
    snprintf(spath, sizeof spath, "%s/snap-%020" PRIu64 ".lxs", dir, lx_engine_last_seq(e));
    lx_snapshot_info_t info;
    lx_snapshot_read(spath, NULL, &info, NULL, 0);
    /* forked: the stall, the child's time, and copy-on-write */
    lxb_hist_t *stall = malloc(sizeof *stall);
    lxb_hist_init(stall);
    uint64_t child_ns[5] = {0}, apply_base = 0, apply_fork = 0;
    for (int f = 0; f < 5 && !rc; f++) {
        pid_t pid;
        uint64_t st = 0;
        if (f == 4) apply_base = timed_places(j, e, &g, 100000, 15000, &rc);
        t = lxb_now_ns();
        if (rc || (rc = lx_snapshot_fork(forks, e, 1, 1, NULL, &pid, &st))) break;
        if (f == 4) apply_fork = timed_places(j, e, &g, 100000, 15200, &rc);
        int wrc = lx_snapshot_wait(pid, true);
        if (!rc) rc = wrc;
        child_ns[f] = lxb_now_ns() - t;
        lxb_hist_record(stall, st);
    }
    if (rc) {
        free(stall);
        lx_journal_close(j);
        lx_engine_destroy(e);
        rm_dir(dir);
        return fail("forked snapshot", rc, NULL);
    }
    for (int a = 0; a < 5; a++) /* median of the child times */
        for (int b = a + 1; b < 5; b++)
            if (child_ns[b] < child_ns[a]) {
                uint64_t x = child_ns[a];
                child_ns[a] = child_ns[b];
                child_ns[b] = x;
            }
    printf("RESULT workload=journal_snapshot%s msgs=%" PRIu64 " msgs_per_s=%" PRIu64
           " p50_ns=%" PRIu64 " p99_ns=%" PRIu64 " p999_ns=%" PRIu64 " max_ns=%" PRIu64
           " bytes_per_order=%" PRIu64 " stall_ns=%" PRIu64 " snapshot_ms=%" PRIu64
           " fork_child_ms=%" PRIu64 " digest_ms=%" PRIu64 " file_bytes=%" PRIu64
           " image_bytes=%" PRIu64 " rss_bytes=%zu resting_orders=%u forks=5"
           " apply_ns_base=%" PRIu64 " apply_ns_during_fork=%" PRIu64 " setup_msgs_per_s=%" PRIu64
           " huge_advised_bytes=%" PRIu64 " seed=%" PRIu64 "\n",
           huge ? "_thp" : "", resting, per_s(resting, sync_ns), lxb_hist_quantile(stall, 500000),
           lxb_hist_quantile(stall, 990000), lxb_hist_quantile(stall, 999000), stall->max,
           file_bytes / resting, lxb_hist_quantile(stall, 500000), sync_ns / 1000000,
           child_ns[2] / 1000000, digest_ns / 1000000, file_bytes, info.image_len, rss, es.orders,
           apply_base, apply_fork, per_s(placed, setup_ns), advised, seed);
    fflush(stdout);
    free(stall);

    /* recovery: a tail after the snapshot, then from the files alone */
    uint64_t tail = quick ? 100000 : 1000000;
    rc = lx_journal_snapshot(j, e); /* the tail starts right after this one */
    g.mid = 20000;
    g.spread = 50;
    g.flow = g.rejects = g.stale = g.trades = 0;
    lx_sink_t gs = gen_sink(&g);
    for (uint64_t i = 0; i < tail && !rc; i++) {
        gen_flow(&g, &c);
        rc = lx_journal_append(j, &c, NULL);
        if (!rc) rc = lx_engine_apply(e, &c, &gs);
    }
    if (!rc) rc = lx_journal_commit(j);
    gen_free(&g);
    if (!rc && gen_sane(&g, "journal_recovery tail")) rc = LX_ESTATE;
    digest = lx_engine_digest(e);
    lx_journal_close(j);
    lx_engine_destroy(e);
    e = NULL;
    if (rc) {
        rm_dir(dir);
        return fail("journal tail", rc, NULL);
    }
    snprintf(spath, sizeof spath, "%s/snap-%020" PRIu64 ".lxs", dir, g.seq - tail);
    t = lxb_now_ns();
    rc = lx_snapshot_read(spath, &e, NULL, NULL, 0);
    uint64_t load_ns = lxb_now_ns() - t;
    lx_engine_destroy(e);
    e = NULL;
    lx_recovery_t rec;
    t = lxb_now_ns();
    if (!rc) rc = lx_recover(dir, NULL, &e, &rec);
    uint64_t rec_ns = lxb_now_ns() - t;
    if (rc || rec.digest != digest || rec.commands != tail) {
        lx_engine_destroy(e);
        rm_dir(dir);
        return fail("recovery", rc ? rc : LX_ECORRUPT, rc ? rec.msg : "digest or count differs");
    }
    printf("RESULT workload=journal_recovery%s msgs=%" PRIu64 " msgs_per_s=%" PRIu64
           " p50_ns=na p99_ns=na p999_ns=na max_ns=na bytes_per_order=na recovery_ms=%" PRIu64
           " snapshot_load_ms=%" PRIu64 " resting_orders=%" PRIu64 " snapshot_seq=%" PRIu64
           " tail_trades=%" PRIu64 " tail_rejects=%" PRIu64 " tail_stale_cancels=%" PRIu64
           " seed=%" PRIu64 "\n",
           huge ? "_thp" : "", tail, per_s(tail, rec_ns), rec_ns / 1000000, load_ns / 1000000,
           resting, rec.snapshot_seq, g.trades, g.rejects, g.stale, seed);
    fflush(stdout);
    lx_engine_destroy(e);
    rm_dir(dir);
    return 0;
}

/* ---- entry --------------------------------------------------------------- */

int lx_bench_journal(const char *w, uint64_t seed, bool quick) {
    static const uint32_t bounds[] = {1, 16, 256, 4096};
    bool all = !strcmp(w, "journal");
    int rc = 0;
    bool known = false;
    if (all || !strcmp(w, "journal_append")) {
        known = true;
        for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
            rc |= bench_append(seed, quick, bounds[i], false);
        rc |= bench_append(seed, quick, 256, true);
    } else if (!strncmp(w, "journal_append_b", 16) || !strncmp(w, "journal_append_auth_b", 21)) {
        bool auth = !strncmp(w, "journal_append_auth_b", 21);
        char *end;
        unsigned long b = strtoul(w + (auth ? 21 : 16), &end, 10);
        if (*end || b == 0 || b > 1000000) return 2;
        known = true;
        rc |= bench_append(seed, quick, (uint32_t)b, auth);
    }
    if (all || !strcmp(w, "journal_replay")) {
        known = true;
        rc |= bench_replay(seed, quick);
    }
    if (all || !strcmp(w, "journal_snapshot") || !strcmp(w, "journal_recovery")) {
        known = true;
        rc |= bench_snapshot(seed, quick, false);
    }
    if (all || !strcmp(w, "journal_snapshot_thp") || !strcmp(w, "journal_recovery_thp")) {
        known = true;
        rc |= bench_snapshot(seed, quick, true);
    }
    return known ? rc : 2;
}
