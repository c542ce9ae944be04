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

/* ---- a node without sockets -------------------------------------------------- */

static int node_open(lx_node_t **n, lx_config_t *cfg, const char *dir, uint32_t shards,
                     const lx_io_t *io, char *err, size_t errlen) {
    assert_int_equal(lx_config_default(cfg, err, errlen), 0);
    cfg->shards = shards;
    for (size_t i = 0; i < cfg->nmarkets; i++) cfg->markets[i].shard = cfg->markets[i].id % shards;
    snprintf(cfg->node.data_dir, sizeof cfg->node.data_dir, "%s", dir);
    cfg->engine.max_orders = 65536;
    lx_node_opts_t no = {
        .io = io, .faucet_accounts = 2, .ring_capacity = 1024, .tick_ms = UINT32_MAX};
    return lx_node_open(n, cfg, &no, err, errlen);
}

static lx_node_t *node_start(lx_config_t *cfg, const char *dir, uint32_t shards) {
    char err[512] = "";
    lx_node_t *n = NULL;
    int rc = node_open(&n, cfg, dir, shards, NULL, err, sizeof err);
    if (rc) print_message("lx_node_open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(lx_node_start(n), 0);
    return n;
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
    /* each new directory's parent, once: base for a, a for data, data for
     * shard-0 and shard-1 */
    for (int i = 0; i < nsynced; i++) print_message("fsync_dir %d: %s\n", i, synced[i]);
    assert_int_equal(synced_count(base), 1);
    assert_int_equal(synced_count(a), 1);
    assert_int_equal(synced_count(data), 2);
    assert_true(synced_at(base) < synced_at(a) && synced_at(a) < synced_at(data));
    assert_int_equal(lx_node_start(n), 0);
    lx_node_join(n);
    lx_node_close(n);
    lx_config_free(&cfg);
    /* the directories exist now: opening again creates and fsyncs none */
    nsynced = 0;
    assert_int_equal(node_open(&n, &cfg, data, 2, &recording, err, sizeof err), 0);
    assert_int_equal(synced_count(base), 0);
    assert_int_equal(synced_count(a), 0);
    assert_int_equal(synced_count(data), 0);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropped_round_not_written),
        cmocka_unit_test(test_created_dirs_synced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
