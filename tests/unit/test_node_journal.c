/*
 * test_node_journal.c: the node's journals at their edges, through lx/node.h
 * without sockets (the commands go straight into the node's in ring):
 *
 *   - a round the node drops is not written: two commands in one round, the
 *     second of which the journal refuses (LX_EINVAL: a symbol that does not
 *     encode) after the first was appended; the node fails, and after a
 *     restart no shard holds the first one (it was never forwarded nor
 *     acknowledged), with one shard and with two;
 *   - the data directory and the shard directories the node creates are
 *     made durable: each one's parent is fsync'ed (through the node's I/O
 *     vtable) once it exists, and a failure of that fsync stops the node
 *     from opening, naming the directory.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lx/config.h"
#include "lx/engine.h"
#include "lx/error.h"
#include "lx/journal.h"
#include "lx/node.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void make_dir(char *buf, size_t cap) {
    snprintf(buf, cap, "/tmp/lx-test-nodej-XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void remove_dir(const char *dir) {
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- an I/O vtable that records (and may fail) directory fsyncs ------------ */

#define SYNCS_MAX 64
static char synced[SYNCS_MAX][512];
static int nsynced;
static char fail_sync[512]; /* fsync_dir of this path fails with EIO; "" none */

static int r_open(void *c, const char *p, int fl, mode_t m) {
    (void)c;
    return lx_io_posix()->open(lx_io_posix()->ctx, p, fl, m);
}
static int r_close(void *c, int fd) {
    (void)c;
    return lx_io_posix()->close(lx_io_posix()->ctx, fd);
}
static int r_write(void *c, int fd, const void *b, size_t n) {
    (void)c;
    return lx_io_posix()->write(lx_io_posix()->ctx, fd, b, n);
}
static int r_pwrite(void *c, int fd, const void *b, size_t n, off_t o) {
    (void)c;
    return lx_io_posix()->pwrite(lx_io_posix()->ctx, fd, b, n, o);
}
static int r_fdatasync(void *c, int fd) {
    (void)c;
    return lx_io_posix()->fdatasync(lx_io_posix()->ctx, fd);
}
static int r_fsync(void *c, int fd) {
    (void)c;
    return lx_io_posix()->fsync(lx_io_posix()->ctx, fd);
}
static int r_ftruncate(void *c, int fd, off_t l) {
    (void)c;
    return lx_io_posix()->ftruncate(lx_io_posix()->ctx, fd, l);
}
static int r_rename(void *c, const char *a, const char *b) {
    (void)c;
    return lx_io_posix()->rename(lx_io_posix()->ctx, a, b);
}
static int r_unlink(void *c, const char *p) {
    (void)c;
    return lx_io_posix()->unlink(lx_io_posix()->ctx, p);
}
static int r_fsync_dir(void *c, const char *d) {
    (void)c;
    if (nsynced < SYNCS_MAX) snprintf(synced[nsynced++], sizeof synced[0], "%s", d);
    if (fail_sync[0] && strcmp(d, fail_sync) == 0) return -EIO;
    return lx_io_posix()->fsync_dir(lx_io_posix()->ctx, d);
}
static const lx_io_t recording = {NULL,    r_open,      r_close,  r_write,  r_pwrite,   r_fdatasync,
                                  r_fsync, r_ftruncate, r_rename, r_unlink, r_fsync_dir};

/* The index of the first fsync_dir of path, or -1. */
static int synced_at(const char *path) {
    for (int i = 0; i < nsynced; i++)
        if (strcmp(synced[i], path) == 0) return i;
    return -1;
}

static int synced_count(const char *path) {
    int c = 0;
    for (int i = 0; i < nsynced; i++) c += strcmp(synced[i], path) == 0;
    return c;
}

/* ---- an I/O vtable that fails shard 1's writes -------------------------------- */

static atomic_int split_armed;   /* fail shard 1's writes ... */
static atomic_int split_allowed; /* ... after this many more succeeded */
static atomic_bool shard1_fd[1024];

static int s_open(void *c, const char *p, int fl, mode_t m) {
    int fd = r_open(c, p, fl, m);
    if (fd >= 0 && fd < 1024) atomic_store(&shard1_fd[fd], strstr(p, "/shard-1/") != NULL);
    return fd;
}
static int s_write(void *c, int fd, const void *b, size_t n) {
    if (atomic_load(&split_armed) && fd >= 0 && fd < 1024 && atomic_load(&shard1_fd[fd]) &&
        atomic_fetch_sub(&split_allowed, 1) <= 0)
        return -EIO;
    return r_write(c, fd, b, n);
}
static const lx_io_t splitting = {NULL,    s_open,      r_close,  s_write,  r_pwrite,   r_fdatasync,
                                  r_fsync, r_ftruncate, r_rename, r_unlink, r_fsync_dir};

/* ---- a node without sockets -------------------------------------------------- */

static uint64_t batch_bytes; /* journal.batch_max_bytes; 0: the default */
static uint32_t fee_account; /* engine.fee_account */
static FILE *node_log;       /* the node's log; NULL: none */
static uint32_t more_assets; /* assets added to the configuration's (ids 10, 11, ...) */

static int node_open(lx_node_t **n, lx_config_t *cfg, const char *dir, uint32_t shards,
                     const lx_io_t *io, char *err, size_t errlen) {
    assert_int_equal(lx_config_default(cfg, err, errlen), 0);
    cfg->shards = shards;
    for (size_t i = 0; i < cfg->nmarkets; i++) cfg->markets[i].shard = cfg->markets[i].id % shards;
    snprintf(cfg->node.data_dir, sizeof cfg->node.data_dir, "%s", dir);
    cfg->engine.max_orders = 65536;
    if (batch_bytes) cfg->journal.batch_max_bytes = batch_bytes;
    cfg->engine.fee_account = fee_account;
    if (more_assets) {
        lx_config_asset_t *a = realloc(cfg->assets, (cfg->nassets + more_assets) * sizeof *a);
        assert_non_null(a);
        cfg->assets = a;
        cfg->engine.max_assets = 1024;
        for (uint32_t i = 0; i < more_assets; i++) {
            lx_config_asset_t *x = &a[cfg->nassets++];
            memset(x, 0, sizeof *x);
            x->id = 10 + i;
            snprintf(x->symbol, sizeof x->symbol, "X%u", (unsigned)i);
            x->scale = 100;
            x->decimals = 2;
        }
    }
    lx_node_opts_t no = {.io = io,
                         .log = node_log,
                         .faucet_accounts = 2,
                         .ring_capacity = 1024,
                         .tick_ms = UINT32_MAX};
    return lx_node_open(n, cfg, &no, err, errlen);
}

static lx_node_t *node_start_io(lx_config_t *cfg, const char *dir, uint32_t shards,
                                const lx_io_t *io) {
    char err[512] = "";
    lx_node_t *n = NULL;
    int rc = node_open(&n, cfg, dir, shards, io, err, sizeof err);
    if (rc) print_message("lx_node_open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(lx_node_start(n), 0);
    return n;
}

static lx_node_t *node_start(lx_config_t *cfg, const char *dir, uint32_t shards) {
    return node_start_io(cfg, dir, shards, NULL);
}

/* A node that boots a new data directory (or recovers one) and stops. */
static void node_boot(const char *dir, uint32_t shards) {
    lx_config_t cfg;
    lx_node_t *n = node_start(&cfg, dir, shards);
    lx_node_join(n);
    lx_node_close(n);
    lx_config_free(&cfg);
}

/* ---- a dropped round --------------------------------------------------------- */

static void dropped_round(uint32_t shards) {
    char dir[64];
    make_dir(dir, sizeof dir);
    lx_config_t cfg;
    lx_node_t *n = node_start(&cfg, dir, shards);
    lx_asset_id_t id = cfg.engine.max_assets - 1;
    /* one round: an asset every shard creates, then one whose symbol does not
     * encode (the journal refuses it after the first was appended) */
    lx_node_msg_t m[2];
    memset(m, 0, sizeof m);
    m[0].kind = LX_NODE_MSG_CMD;
    m[0].cmd.type = LX_CMD_CREATE_ASSET;
    m[0].cmd.u.create_asset.asset = id;
    snprintf(m[0].cmd.u.create_asset.symbol, sizeof m[0].cmd.u.create_asset.symbol, "ZZZ");
    m[0].cmd.u.create_asset.scale = 100;
    m[1] = m[0];
    m[1].cmd.u.create_asset.asset = id - 1;
    m[1].cmd.u.create_asset.symbol[0] = 1; /* not printable */
    lx_node_submit(n, 0, m, 2, NULL, NULL);
    for (int i = 0; i < 5000 && !lx_node_failed(n); i++) usleep(1000);
    assert_true(lx_node_failed(n));
    lx_node_join(n);
    lx_node_stats_t st;
    lx_node_stats(n, &st);
    assert_int_equal(st.journal_error, LX_EINVAL);
    /* nothing of the round was forwarded: the engines stopped at the boot
     * commands */
    lx_asset_info_t ai;
    uint64_t seq[2];
    for (unsigned k = 0; k < shards; k++) {
        const lx_engine_t *e = lx_node_shard_engine(n, k);
        seq[k] = lx_engine_last_seq(e);
        assert_int_not_equal(lx_engine_asset_info(e, id, &ai), 0);
    }
    lx_node_close(n);
    lx_config_free(&cfg);

    /* after a restart: none of the round is there */
    n = node_start(&cfg, dir, shards);
    for (unsigned k = 0; k < shards; k++) {
        const lx_engine_t *e = lx_node_shard_engine(n, k);
        if (lx_engine_last_seq(e) != seq[k])
            print_message("%u shard(s): shard %u recovered seq %llu, stopped at %llu\n", shards, k,
                          (unsigned long long)lx_engine_last_seq(e), (unsigned long long)seq[k]);
        assert_int_equal(lx_engine_last_seq(e), seq[k]);
        assert_int_not_equal(lx_engine_asset_info(e, id, &ai), 0);
    }
    lx_node_join(n);
    lx_node_close(n);
    lx_config_free(&cfg);
    remove_dir(dir);
}

static void test_dropped_round_not_written(void **state) {
    (void)state;
    dropped_round(1);
    dropped_round(2);
}

/* ---- directories made durable ----------------------------------------------- */

static void test_created_dirs_synced(void **state) {
    (void)state;
    char base[64], a[128], data[160], err[512] = "";
    make_dir(base, sizeof base);
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(data, sizeof data, "%s/data", a);
    lx_config_t cfg;
    lx_node_t *n = NULL;
    nsynced = 0;
    fail_sync[0] = 0;
    assert_int_equal(node_open(&n, &cfg, data, 2, &recording, err, sizeof err), 0);
    /* each directory's parent, in order: base for a, a for data, data for
     * shard-0 and shard-1 (each path's directories are made durable from
     * the root down, whether created now or found) */
    for (int i = 0; i < nsynced; i++) print_message("fsync_dir %d: %s\n", i, synced[i]);
    assert_true(synced_count(base) >= 1);
    assert_true(synced_count(a) >= 1);
    assert_true(synced_count(data) >= 2);
    assert_true(synced_at(base) < synced_at(a) && synced_at(a) < synced_at(data));
    assert_int_equal(lx_node_start(n), 0);
    lx_node_join(n);
    lx_node_close(n);
    lx_config_free(&cfg);
    /* the directories exist now: opening again fsyncs the same parents (a
     * start whose fsync failed leaves a directory created but not durable) */
    nsynced = 0;
    assert_int_equal(node_open(&n, &cfg, data, 2, &recording, err, sizeof err), 0);
    assert_true(synced_count(base) >= 1);
    assert_true(synced_count(a) >= 1);
    assert_true(synced_count(data) >= 2);
    lx_node_close(n);
    lx_config_free(&cfg);
    remove_dir(a);

    /* a failed fsync of a new directory's parent: the node does not open */
    const char *fails[] = {base, a, data};
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        nsynced = 0;
        snprintf(fail_sync, sizeof fail_sync, "%s", fails[i]);
        err[0] = 0;
        n = NULL;
        int rc = node_open(&n, &cfg, data, 2, &recording, err, sizeof err);
        print_message("fsync of %s fails: %s\n", fails[i], err);
        assert_int_equal(rc, LX_EIO);
        assert_null(n);
        assert_non_null(strstr(err, "cannot create"));
        lx_config_free(&cfg);
        remove_dir(a);
    }
    fail_sync[0] = 0;
    remove_dir(base);
}

/* ---- a round split between the shards --------------------------------------- */

/* A CREATE_ASSET (a command every shard applies) of asset id, symbol "Z"
 * + letter, with a session auth section whose nonce is id. */
static lx_node_msg_t asset_msg(lx_asset_id_t id) {
    lx_node_msg_t m;
    memset(&m, 0, sizeof m);
    m.kind = LX_NODE_MSG_CMD;
    m.cmd.type = LX_CMD_CREATE_ASSET;
    m.cmd.u.create_asset.asset = id;
    snprintf(m.cmd.u.create_asset.symbol, sizeof m.cmd.u.create_asset.symbol, "Z%c",
             'A' + (int)(id % 26));
    m.cmd.u.create_asset.scale = 100;
    m.auth.scheme = LX_AUTH_SESSION;
    memset(m.auth.key, 0xab, sizeof m.auth.key);
    m.auth.nonce = id;
    return m;
}

static bool has_asset(const lx_node_t *n, unsigned k, lx_asset_id_t id) {
    lx_asset_info_t ai;
    return lx_engine_asset_info(lx_node_shard_engine(n, k), id, &ai) == 0;
}

/* Every command of a journal directory, read back (read-only, no engine). */
typedef struct {
    lx_cmd_t cmd[4096];
    lx_journal_auth_t auth[4096];
    bool has_auth[4096];
    size_t n;
} journal_read_t;

static void read_cmd(void *ctx, const lx_cmd_t *c, const lx_journal_auth_t *a, const char *f,
                     uint64_t off) {
    (void)f, (void)off;
    journal_read_t *r = ctx;
    if (r->n == 4096) return;
    r->cmd[r->n] = *c;
    r->has_auth[r->n] = a != NULL;
    if (a) r->auth[r->n] = *a;
    r->n++;
}

static journal_read_t *read_journal(const char *dir, unsigned k) {
    char path[256];
    snprintf(path, sizeof path, "%s/shard-%u", dir, k);
    journal_read_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    lx_recover_opts_t ro = {.read_only = true, .no_engine = true, .on_cmd = read_cmd, .ctx = r};
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_recover(path, &ro, &e, &rec), 0);
    return r;
}

/* The CREATE_ASSET of asset id in r, or NULL. */
static size_t find_asset(const journal_read_t *r, lx_asset_id_t id) {
    for (size_t i = 0; i < r->n; i++)
        if (r->cmd[i].type == LX_CMD_CREATE_ASSET && r->cmd[i].u.create_asset.asset == id) return i;
    return SIZE_MAX;
}

/* The node's log so far, as a string (node_log is a memstream). */
static char *log_buf;
static size_t log_len;

static void log_begin(void) {
    node_log = open_memstream(&log_buf, &log_len);
    assert_non_null(node_log);
}
static void log_end(void) {
    fclose(node_log);
    node_log = NULL;
    free(log_buf);
    log_buf = NULL;
}

/* A restart finds the shards as they are (no reconciliation), twice. */
static void clean_restarts(const char *dir) {
    for (int r = 0; r < 2; r++) {
        lx_config_t cfg;
        log_begin();
        lx_node_t *n = node_start(&cfg, dir, 2);
        uint64_t seq[2] = {lx_engine_last_seq(lx_node_shard_engine(n, 0)),
                           lx_engine_last_seq(lx_node_shard_engine(n, 1))};
        uint64_t dig[2] = {lx_engine_digest(lx_node_shard_engine(n, 0)),
                           lx_engine_digest(lx_node_shard_engine(n, 1))};
        lx_node_join(n);
        lx_node_close(n);
        lx_config_free(&cfg);
        fflush(node_log);
        if (strstr(log_buf, "appended from")) print_message("%s", log_buf);
        assert_null(strstr(log_buf, "appended from"));
        assert_null(strstr(log_buf, "not reconciled"));
        log_end();
        n = node_start(&cfg, dir, 2);
        for (unsigned k = 0; k < 2; k++) {
            assert_int_equal(lx_engine_last_seq(lx_node_shard_engine(n, k)), seq[k]);
            assert_int_equal(lx_engine_digest(lx_node_shard_engine(n, k)), dig[k]);
        }
        lx_node_join(n);
        lx_node_close(n);
        lx_config_free(&cfg);
    }
}

/*
 * A 2-shard node; one round of `count` CREATE_ASSETs, during which shard 1's
 * writes fail after `allowed` more succeeded (each a group when batch_bytes
 * is tiny): the node fails. After a restart both shards hold the assets
 * shard 0 made durable, shard 1's appended from shard 0 with their ts and
 * auth; a second restart changes nothing.
 */
static void split_round(uint32_t count, int allowed, uint32_t durable, uint32_t appended) {
    char dir[64];
    make_dir(dir, sizeof dir);
    lx_config_t cfg;
    lx_node_t *n = node_start_io(&cfg, dir, 2, &splitting);
    lx_asset_id_t id0 = cfg.engine.max_assets - 1 - count;
    lx_node_msg_t m[8];
    for (uint32_t i = 0; i < count; i++) m[i] = asset_msg(id0 + i);
    atomic_store(&split_allowed, allowed);
    atomic_store(&split_armed, 1);
    lx_node_submit(n, 0, m, count, NULL, NULL);
    for (int i = 0; i < 5000 && !lx_node_failed(n); i++) usleep(1000);
    assert_true(lx_node_failed(n));
    lx_node_join(n);
    atomic_store(&split_armed, 0);
    uint64_t seq[2];
    for (unsigned k = 0; k < 2; k++) seq[k] = lx_engine_last_seq(lx_node_shard_engine(n, k));
    lx_node_close(n);
    lx_config_free(&cfg);

    /* the split: shard 0 holds `durable` of them, shard 1 `durable - appended` */
    journal_read_t *r0 = read_journal(dir, 0), *r1 = read_journal(dir, 1);
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(find_asset(r0, id0 + i) != SIZE_MAX, i < durable);
        assert_int_equal(find_asset(r1, id0 + i) != SIZE_MAX, i < durable - appended);
    }
    free(r1);

    log_begin();
    n = node_start(&cfg, dir, 2);
    fflush(node_log);
    print_message("%s", log_buf);
    char want[128];
    snprintf(want, sizeof want,
             "shard 1: %u every-shard command%s of the last round appended from shard 0", appended,
             appended == 1 ? "" : "s");
    assert_non_null(strstr(log_buf, want));
    for (uint32_t i = 0; i < count; i++)
        for (unsigned k = 0; k < 2; k++) assert_int_equal(has_asset(n, k, id0 + i), i < durable);
    assert_int_equal(lx_engine_last_seq(lx_node_shard_engine(n, 0)), seq[0] + durable);
    assert_int_equal(lx_engine_last_seq(lx_node_shard_engine(n, 1)), seq[1] + durable);
    lx_node_join(n);
    lx_node_close(n);
    lx_config_free(&cfg);
    log_end(); /* the node logs until it is closed */

    /* shard 1's journal holds them now, each with shard 0's ts and auth */
    r1 = read_journal(dir, 1);
    for (uint32_t i = 0; i < durable; i++) {
        size_t a = find_asset(r0, id0 + i), b = find_asset(r1, id0 + i);
        assert_true(b != SIZE_MAX);
        assert_int_equal(r1->cmd[b].ts, r0->cmd[a].ts);
        assert_true(r1->has_auth[b]);
        assert_int_equal(r1->auth[b].scheme, LX_AUTH_SESSION);
        assert_int_equal(r1->auth[b].nonce, id0 + i);
        assert_memory_equal(r1->auth[b].key, r0->auth[a].key, sizeof r0->auth[a].key);
    }
    free(r0);
    free(r1);
    clean_restarts(dir);
    remove_dir(dir);
}

/* shard_split variant 0: shard 1's commit of a round's one CREATE_ASSET fails */
static void test_split_round_reconciled(void **state) {
    (void)state;
    split_round(1, 0, 1, 1);
}

/* journal.batch_max_bytes of 1: every command is a group of its own, so the
 * round spans several; shard 1's third write fails after two groups, so it
 * holds a prefix (2 of 3 durable in shard 0; the fourth never appended) */
static void test_split_round_prefix(void **state) {
    (void)state;
    batch_bytes = 1;
    split_round(4, 2, 3, 1);
    batch_bytes = 0;
}

/* Shards that agree stay as they are: after the boot alone (each shard's
 * assets are its own boot commands, journaled one shard after the other),
 * and after rounds of every-shard commands. */
static void test_agreeing_shards_unchanged(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    node_boot(dir, 2);
    lx_config_t cfg;
    lx_node_t *n = NULL;
    clean_restarts(dir);
    n = node_start(&cfg, dir, 2);
    lx_asset_id_t id0 = cfg.engine.max_assets - 8;
    for (uint32_t i = 0; i < 4; i++) {
        lx_node_msg_t m = asset_msg(id0 + i);
        lx_node_submit(n, 0, &m, 1, NULL, NULL);
        usleep(2000);
    }
    lx_node_join(n);
    assert_false(lx_node_failed(n));
    lx_node_close(n);
    lx_config_free(&cfg);
    clean_restarts(dir);
    remove_dir(dir);
}

/* The ts rule: every command gets its own ts, increasing, even when the
 * clock is behind the journal (here a command stamped an hour ahead, as a
 * clock stepped back leaves it); a command every shard applies has the same
 * ts in each. */
static void test_ts_unique(void **state) {
    (void)state;
    char dir[64], path[128];
    make_dir(dir, sizeof dir);
    node_boot(dir, 2);
    lx_config_t cfg;
    lx_node_t *n = NULL;
    /* a deposit into shard 0, an hour ahead of the clock */
    snprintf(path, sizeof path, "%s/shard-0", dir);
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_recover(path, NULL, &e, &rec), 0);
    lx_journal_config_t jc;
    lx_journal_config_default(&jc);
    jc.engine = *lx_engine_config(e);
    lx_journal_t *j = NULL;
    assert_int_equal(lx_journal_open(&j, path, &jc, &rec), 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ahead = ((int64_t)now.tv_sec + 3600) * 1000000000;
    lx_cmd_t d;
    memset(&d, 0, sizeof d);
    d.type = LX_CMD_DEPOSIT;
    d.seq = rec.last_seq + 1;
    d.ts = ahead;
    d.u.deposit.account = 1;
    d.u.deposit.asset = 0;
    d.u.deposit.amount = 1;
    d.u.deposit.deposit_id = 77;
    assert_int_equal(lx_journal_append(j, &d, NULL), 0);
    assert_int_equal(lx_journal_commit(j), 0);
    lx_journal_close(j);
    lx_engine_destroy(e);

    /* one round of 6 */
    n = node_start(&cfg, dir, 2);
    lx_asset_id_t id0 = cfg.engine.max_assets - 8;
    lx_node_msg_t m[6];
    for (uint32_t i = 0; i < 6; i++) m[i] = asset_msg(id0 + i);
    lx_node_submit(n, 0, m, 6, NULL, NULL);
    lx_node_join(n);
    assert_false(lx_node_failed(n));
    lx_node_close(n);
    lx_config_free(&cfg);
    journal_read_t *r0 = read_journal(dir, 0), *r1 = read_journal(dir, 1);
    int64_t last = ahead;
    for (uint32_t i = 0; i < 6; i++) {
        size_t a = find_asset(r0, id0 + i), b = find_asset(r1, id0 + i);
        assert_true(a != SIZE_MAX && b != SIZE_MAX);
        if (r0->cmd[a].ts <= last)
            print_message("asset %u: ts %lld, not after %lld\n", i, (long long)r0->cmd[a].ts,
                          (long long)last);
        assert_true(r0->cmd[a].ts > last);
        assert_int_equal(r1->cmd[b].ts, r0->cmd[a].ts);
        last = r0->cmd[a].ts;
    }
    assert_true(last - ahead <= 6); /* one ns each while the clock is behind */
    free(r0);
    free(r1);
    remove_dir(dir);
}

/* The engine section counts when the data directory is created; on a
 * recovered one the journal's values stay, and a differing value in the
 * file is named at start (it was ignored without a word: a new
 * engine.fee_account would have looked applied while fees kept going to
 * the old account). */
static void test_engine_config_kept(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    node_boot(dir, 1);
    lx_config_t cfg;
    lx_node_t *n = NULL;
    char *text = NULL;
    size_t len = 0;
    node_log = open_memstream(&text, &len);
    assert_non_null(node_log);
    fee_account = 7;
    n = node_start(&cfg, dir, 1);
    fee_account = 0;
    assert_int_equal(lx_engine_config(lx_node_engine(n))->fee_account, 0);
    lx_node_join(n);
    lx_node_close(n);
    lx_config_free(&cfg);
    fclose(node_log);
    node_log = NULL;
    if (!strstr(text, "engine.fee_account is 7 in the configuration but 0"))
        print_message("log: %s\n", text);
    assert_non_null(strstr(text, "engine.fee_account is 7 in the configuration but 0"));
    assert_null(strstr(text, "engine.max_orders is")); /* the same in both */
    free(text);
    remove_dir(dir);
}

/* ---- a boot cut short -------------------------------------------------------- */

static atomic_int boot_allowed = -1; /* journal writes that succeed; then EIO (-1: all) */
static atomic_bool seg_fd[1024];

static int b_open(void *c, const char *p, int fl, mode_t m) {
    int fd = r_open(c, p, fl, m);
    if (fd >= 0 && fd < 1024) atomic_store(&seg_fd[fd], strstr(p, "/seg-") != NULL);
    return fd;
}
static int b_write(void *c, int fd, const void *b, size_t n) {
    if (fd >= 0 && fd < 1024 && atomic_load(&seg_fd[fd]) && atomic_load(&boot_allowed) >= 0 &&
        atomic_fetch_sub(&boot_allowed, 1) <= 0)
        return -EIO;
    return r_write(c, fd, b, n);
}
static const lx_io_t boot_cut = {NULL,    b_open,      r_close,  b_write,  r_pwrite,   r_fdatasync,
                                 r_fsync, r_ftruncate, r_rename, r_unlink, r_fsync_dir};

/* The first start's boot commands span several groups (here 200 assets
 * with journal.batch_max_bytes at its least, 4 KiB: the group closes inside
 * lx_journal_append, with its write and fdatasync; a boot of more commands
 * than a round, BATCH per gateway, is flushed in pieces too) and the
 * journal fails after the first group became durable (a full disk, an I/O
 * error, or a crash): the start fails. The next start must complete the boot: every
 * configured market is created. It found a journal that "holds commands",
 * so it journaled no boot command and refused to start ("markets: BTC-USD
 * (id 0) belongs to shard 0, whose journal ... does not have it"), at
 * every later start too. */
static void test_boot_cut_short(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    batch_bytes = 4096;
    more_assets = 200;
    lx_config_t cfg;
    lx_node_t *n = NULL;
    char err[512] = "";
    atomic_store(&boot_allowed, 2); /* the segment header, the first group */
    assert_int_equal(node_open(&n, &cfg, dir, 1, &boot_cut, err, sizeof err), 0);
    assert_int_not_equal(lx_node_start(n), 0);
    lx_node_close(n);
    lx_config_free(&cfg);
    atomic_store(&boot_allowed, -1);
    n = NULL;
    err[0] = 0;
    int rc = node_open(&n, &cfg, dir, 1, NULL, err, sizeof err);
    if (rc) print_message("lx_node_open after a boot cut short: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(lx_node_start(n), 0);
    lx_node_join(n); /* the engine thread has applied everything, boot included */
    for (size_t i = 0; i < cfg.nmarkets; i++) {
        lx_market_info_t mi;
        assert_int_equal(lx_engine_market_info(lx_node_engine(n), cfg.markets[i].id, &mi), 0);
    }
    lx_node_close(n);
    lx_config_free(&cfg);
    batch_bytes = 0;
    more_assets = 0;
    remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropped_round_not_written),
        cmocka_unit_test(test_engine_config_kept),
        cmocka_unit_test(test_created_dirs_synced),
        cmocka_unit_test(test_split_round_reconciled),
        cmocka_unit_test(test_split_round_prefix),
        cmocka_unit_test(test_agreeing_shards_unchanged),
        cmocka_unit_test(test_ts_unique),
        cmocka_unit_test(test_boot_cut_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
