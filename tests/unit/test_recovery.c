/*
 * test_recovery.c: recovery of whole histories, and the structural errors
 * it must refuse.
 *
 *   - random histories: a writer applies and journals a history, commits
 *     groups of random size, takes snapshots at random points (synchronous
 *     and forked), keeps 1 to 3 of them, closes and recovers at random
 *     points (a restart), with random segment sizes. After every restart and
 *     at the end the recovered digest equals that of an engine that applied
 *     the same commands without ever snapshotting or restarting, and
 *     `verify` (from genesis, checking every snapshot) agrees when the
 *     genesis segment is still there;
 *   - refused, naming file and offset: a missing segment in the middle, a
 *     segment of another journal spliced in (chain break), a torn tail in a
 *     segment that is not the last, a journal that ends before its newest
 *     snapshot, a segment with a different engine configuration;
 *   - accepted: a torn header of the last segment (a crash while creating
 *     it) is removed;
 *   - a power loss during the write of the last group (never acknowledged)
 *     that kept some of its sectors and lost others (its first record, a
 *     middle one, everything but its commit record, its commit record): a
 *     torn tail, cut, with every acknowledged group recovered; but damage to
 *     an acknowledged group followed by a record of a later write (a later
 *     group's commit record, or any record after the damaged group's own
 *     commit record) is still refused;
 *   - the engine out of memory during the replay (tests/support/failalloc.h)
 *     is LX_ENOMEM, not corruption, and leaves the journal as it was: the
 *     next recovery succeeds;
 *   - a data directory written before the fee account (version-3 snapshot)
 *     recovers from its snapshot and from genesis to the same state;
 *   - a writer killed inside its fdatasync, then a power loss after the
 *     restart: what recovery replayed was made durable, and every command
 *     acknowledged after the restart recovers;
 *   - damage in the last group of the last segment before a snapshot's seq
 *     is corruption, and the file is left as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "failalloc.h"
#include "journal_util.h"
#include "splitmix.h"
#include "journal/jnl.h"
#include "lx/codec.h"
#include "lx/error.h"
#include "lx/journal.h"

/* Recovers dir and checks the engine against history seed at its last seq. */
static lx_engine_t *recover_checked(const char *dir, uint64_t seed, lx_recovery_t *rec) {
    lx_engine_t *e = NULL;
    int rc = lx_recover(dir, NULL, &e, rec);
    if (rc) print_message("recover: %s\n", rec->msg);
    assert_int_equal(rc, 0);
    assert_non_null(e);
    lx_engine_t *want = jt_engine_at(seed, rec->last_seq);
    assert_int_equal(lx_engine_digest(e), lx_engine_digest(want));
    lx_engine_destroy(want);
    return e;
}

static void run_history(uint64_t seed, uint64_t n, uint64_t *stats) {
    char dir[256];
    jt_tmpdir(dir, "rec");
    uint64_t r = seed * 1000003;
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.segment_bytes = 2000 + splitmix_next(&r) % 30000;
    cfg.batch_max_bytes = 200 + (uint32_t)(splitmix_next(&r) % 8000);
    cfg.keep_snapshots = 1 + (uint32_t)(splitmix_next(&r) % 3);
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    lx_engine_t *e = jt_engine_at(seed, 0);
    for (uint64_t k = 1; k <= n; k++) {
        lx_cmd_t c;
        lx_journal_auth_t a;
        jt_cmd(seed, k, &c);
        bool has = jt_auth(seed, k, &a);
        assert_int_equal(lx_journal_append(j, &c, has ? &a : NULL), 0);
        assert_int_equal(jt_apply(e, seed, k, &c), 0);
        uint64_t x = splitmix_next(&r) % 1000;
        if (x < 150) {
            assert_int_equal(lx_journal_commit(j), 0);
        } else if (x < 158) {
            assert_int_equal(lx_journal_snapshot(j, e), 0);
            stats[0]++;
        } else if (x < 162) {
            uint64_t stall;
            int rc = lx_journal_snapshot_start(j, e, &stall);
            if (rc == LX_ESTATE) {
                assert_int_equal(lx_journal_snapshot_poll(j, true), 0);
                rc = lx_journal_snapshot_start(j, e, &stall);
            }
            assert_int_equal(rc, 0);
            stats[1]++;
        } else if (x < 167) {
            /* restart: close (commits), recover, compare, reopen */
            lx_journal_close(j);
            lx_recovery_t rec;
            lx_engine_t *g = recover_checked(dir, seed, &rec);
            assert_int_equal(rec.last_seq, k);
            assert_int_equal(lx_engine_digest(g), lx_engine_digest(e));
            lx_engine_destroy(e);
            e = g; /* go on with the recovered engine */
            assert_int_equal(lx_journal_open(&j, dir, &cfg, &rec), 0);
            stats[2]++;
        }
    }
    assert_int_equal(lx_journal_snapshot_poll(j, true), 0);
    lx_journal_close(j);
    lx_engine_t *want = jt_engine_at(seed, n);
    assert_int_equal(lx_engine_digest(e), lx_engine_digest(want));
    lx_recovery_t rec;
    lx_engine_t *g = recover_checked(dir, seed, &rec);
    assert_int_equal(rec.last_seq, n);
    assert_int_equal(rec.digest, lx_engine_digest(want));
    /* the read-only replay from scratch, checking every snapshot on the way */
    lx_recover_opts_t vo = {.read_only = true, .from_genesis = true, .check_snapshots = true};
    lx_recovery_t vr;
    lx_engine_t *v = NULL;
    int rc = lx_recover(dir, &vo, &v, &vr);
    if (rc) print_message("verify: %s\n", vr.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(vr.digest, lx_engine_digest(want));
    assert_memory_equal(vr.chain, rec.chain, 32);
    stats[3] += vr.snapshots_checked;
    lx_engine_destroy(v);
    lx_engine_destroy(g);
    lx_engine_destroy(want);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

static void test_random_histories(void **state) {
    (void)state;
    uint64_t stats[4] = {0};
    int seeds = (int)(12 * jt_scale());
    for (int s = 1; s <= seeds; s++)
        run_history((uint64_t)s, 1500 + (uint64_t)s * 97 % 1500, stats);
    print_message("%d histories: %llu sync snapshots, %llu forked, %llu restarts, %llu snapshot "
                  "digests checked by verify\n",
                  seeds, (unsigned long long)stats[0], (unsigned long long)stats[1],
                  (unsigned long long)stats[2], (unsigned long long)stats[3]);
    assert_true(stats[0] > 10 && stats[1] > 5 && stats[2] > 10);
}

/* ---- structural errors ------------------------------------------------------ */

#define SEED 3

static void build(char dir[256], uint64_t n) {
    jt_tmpdir(dir, "recs");
    jt_build_journal(dir, SEED, n, 3000);
}

static void expect_corrupt(const char *dir, const char *file, const char *what) {
    lx_recovery_t rec;
    lx_engine_t *e = (lx_engine_t *)1;
    int rc = lx_recover(dir, NULL, &e, &rec);
    print_message("%s: %s\n", what, rec.msg);
    assert_int_equal(rc, LX_ECORRUPT);
    assert_null(e);
    if (file) assert_non_null(strstr(rec.msg, file));
    assert_non_null(strstr(rec.msg, "offset"));
}

static void test_missing_segment(void **state) {
    (void)state;
    char dir[256], path[512], names[64][64];
    build(dir, 400);
    size_t n = jt_list(dir, "seg-", names, 64);
    assert_true(n >= 4);
    snprintf(path, sizeof path, "%s/%s", dir, names[2]);
    unlink(path);
    expect_corrupt(dir, names[3], "missing segment");
    lx_recovery_t rec;
    lx_engine_t *e;
    lx_recover(dir, NULL, &e, &rec);
    assert_non_null(strstr(rec.msg, names[2])); /* names the missing one */
    /* the first one missing: no genesis, no snapshot */
    jt_rmdir(dir);
    build(dir, 400);
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    unlink(path);
    expect_corrupt(dir, names[1], "missing genesis");
    jt_rmdir(dir);
}

static void test_spliced_segment(void **state) {
    (void)state;
    char a[256], b[256], pa[512], pb[512], names[64][64];
    jt_tmpdir(a, "recs");
    jt_tmpdir(b, "recs");
    jt_build_journal(a, SEED, 400, 3000);
    jt_build_journal(b, SEED + 1, 400, 3000);
    size_t n = jt_list(a, "seg-", names, 64);
    assert_true(n >= 4);
    snprintf(pa, sizeof pa, "%s/%s", a, names[2]);
    snprintf(pb, sizeof pb, "%s/%s", b, names[2]);
    size_t len;
    uint8_t *x = jt_read_file(pb, &len);
    assert_int_equal(jt_write_file(pa, x, len), 0);
    free(x);
    expect_corrupt(a, names[2], "spliced segment");
    jt_rmdir(a);
    jt_rmdir(b);
}

static void test_torn_middle_segment(void **state) {
    (void)state;
    char dir[256], path[512], names[64][64];
    build(dir, 400);
    size_t n = jt_list(dir, "seg-", names, 64);
    snprintf(path, sizeof path, "%s/%s", dir, names[1]);
    size_t len;
    uint8_t *x = jt_read_file(path, &len);
    assert_int_equal(jt_write_file(path, x, len - 10), 0);
    free(x);
    (void)n;
    expect_corrupt(dir, names[1], "torn middle segment");
    jt_rmdir(dir);
}

static void test_journal_ends_before_snapshot(void **state) {
    (void)state;
    char dir[256], path[512], names[64][64];
    jt_tmpdir(dir, "recs");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.segment_bytes = 3000;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    lx_engine_t *e = jt_engine_at(SEED, 0);
    for (uint64_t k = 1; k <= 300; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
        assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
    }
    assert_int_equal(lx_journal_snapshot(j, e), 0);
    lx_journal_close(j);
    lx_engine_destroy(e);
    /* lose the segments holding 200..300: cut the journal before the snapshot */
    size_t n = jt_list(dir, "seg-", names, 64);
    for (size_t i = 2; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    expect_corrupt(dir, NULL, "journal ends before snapshot");
    jt_rmdir(dir);
}

static void test_config_mismatch(void **state) {
    (void)state;
    char a[256], b[256], pa[512], pb[512], names[8][64];
    jt_tmpdir(a, "recs");
    jt_tmpdir(b, "recs");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    /* b: same commands, a bigger engine */
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, a, &cfg, NULL), 0);
    lx_journal_close(j);
    cfg.engine.max_orders *= 2;
    assert_int_equal(lx_journal_open(&j, b, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= 50; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
    }
    lx_journal_close(j);
    /* a snapshot of the small engine at 0 next to b's segment */
    lx_engine_t *e = jt_engine_at(SEED, 0);
    assert_int_equal(lx_snapshot_write(b, e, 1, 1, NULL), 0);
    lx_engine_destroy(e);
    assert_int_equal(jt_list(b, "seg-", names, 8), 1);
    expect_corrupt(b, names[0], "config mismatch");
    (void)pa;
    (void)pb;
    jt_rmdir(a);
    jt_rmdir(b);
}

static void test_torn_header_removed(void **state) {
    (void)state;
    char dir[256], path[512], names[64][64];
    build(dir, 300);
    size_t n = jt_list(dir, "seg-", names, 64);
    /* a crash while creating the next segment: 50 bytes of its header */
    snprintf(path, sizeof path, "%s/seg-%020zu.lxj", dir, n);
    char half[128];
    snprintf(path, sizeof path, "%s/%s", dir, names[n - 1]);
    size_t len;
    uint8_t *x = jt_read_file(path, &len);
    memcpy(half, x, 50);
    free(x);
    snprintf(path, sizeof path, "%s/seg-%020zu.lxj", dir, n);
    assert_int_equal(jt_write_file(path, half, 50), 0);
    lx_recovery_t rec;
    lx_engine_t *e = recover_checked(dir, SEED, &rec);
    assert_int_equal(rec.last_seq, 300);
    assert_true(rec.torn && rec.torn_removed_file);
    assert_int_equal(access(path, F_OK), -1);
    lx_engine_destroy(e);
    /* all zeros (a file extended but never written) is torn too */
    uint8_t z[4096] = {0};
    assert_int_equal(jt_write_file(path, z, sizeof z), 0);
    e = recover_checked(dir, SEED, &rec);
    assert_true(rec.torn_removed_file);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

/* ---- power loss inside the last group's write ------------------------------- */

/* History SEED 1..n in groups of 4, segments of about 3000 bytes. */
static void build_groups(const char *dir, uint64_t n) {
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.segment_bytes = 3000;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= n; k++) {
        lx_cmd_t c;
        lx_journal_auth_t a;
        jt_cmd(SEED, k, &c);
        bool has = jt_auth(SEED, k, &a);
        assert_int_equal(lx_journal_append(j, &c, has ? &a : NULL), 0);
        if (k % 4 == 0) assert_int_equal(lx_journal_commit(j), 0);
    }
    lx_journal_close(j);
}

/* The record of segment sg starting at off: its index. */
static size_t rec_index(const jt_seg_t *sg, size_t off) {
    for (size_t r = 0; r < sg->nrecs; r++)
        if (sg->rec_off[r] == off) return r;
    fail();
    return 0;
}

/*
 * The last group of the journal is the one being written at a power
 * loss: its fdatasync never returned, nothing in it was acknowledged. The
 * disk may keep any of its sectors: each case zeroes [zero_from, zero_to)
 * of the segment and cuts it at `cut`. Either the rest is a torn tail
 * (recovery gives every acknowledged group, cuts the file, and the next
 * recovery is clean), or the damage hit an acknowledged group and recovery
 * refuses it with the offset of the first invalid record.
 */
static void test_power_loss_in_last_group(void **state) {
    (void)state;
    char src[256], dir[256], path[512];
    jt_tmpdir(src, "plsrc");
    jt_tmpdir(dir, "pl");
    build_groups(src, 160);
    jt_layout_t l;
    assert_int_equal(jt_layout_read(src, &l), 0);
    /* the journal ends with the third group of its second segment (the
     * segments after it not yet written) */
    assert_true(l.n >= 3);
    size_t seg = 1;
    jt_seg_t *sg = &l.segs[seg];
    assert_true(sg->ngroups >= 3);
    size_t g = 2; /* the group in flight */
    size_t start = sg->group_end[g - 1], end = sg->group_end[g], commit = end - 76;
    size_t r0 = rec_index(sg, start); /* its records: r0 .. r0 + 3, its commit r0 + 4 */
    assert_int_equal(sg->rec_off[r0 + 4], commit);
    size_t rec1 = sg->rec_off[r0 + 1], rec2 = sg->rec_off[r0 + 2];
    size_t pstart = sg->group_end[g - 2]; /* the acknowledged group before it */
    size_t prec1 = sg->rec_off[rec_index(sg, pstart) + 1];
    uint64_t acked = sg->group_seq[g - 1];
    assert_int_equal(sg->group_seq[g], acked + 4);
    uint8_t *orig = malloc(sg->len);
    memcpy(orig, sg->data, sg->len);
    snprintf(path, sizeof path, "%s/%s", dir, sg->name);
    struct {
        const char *what;
        size_t zero_from, zero_to, cut;
        bool torn;
    } cases[] = {
        {"first record lost", start, rec1, end, true},
        {"first record and commit record lost", start, rec1, commit, true},
        {"only the commit record landed", start, commit, end, true},
        {"a middle record lost", rec1, rec2, end, true},
        {"a middle record and the commit record lost", rec1, rec2, commit, true},
        /* an acknowledged group damaged: a later group's commit record follows */
        {"acknowledged group's first record lost", pstart, prec1, end, false},
        /* the same without the later commit: a record of the next write follows
         * the damaged group's own commit record */
        {"acknowledged group's first record lost, next group torn", pstart, prec1, rec1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(sg->data, orig, sg->len);
        memset(sg->data + cases[i].zero_from, 0, cases[i].zero_to - cases[i].zero_from);
        jt_layout_write(&l, dir, seg, cases[i].cut);
        lx_recovery_t rec;
        lx_engine_t *e = NULL;
        int rc = lx_recover(dir, NULL, &e, &rec);
        print_message("%s: %s\n", cases[i].what, rec.msg);
        if (!cases[i].torn) {
            assert_int_equal(rc, LX_ECORRUPT);
            assert_null(e);
            assert_string_equal(rec.error_file, sg->name);
            assert_int_equal(rec.error_offset, cases[i].zero_from);
            continue;
        }
        assert_int_equal(rc, 0);
        lx_engine_t *want = jt_engine_at(SEED, acked);
        assert_int_equal(lx_engine_digest(e), lx_engine_digest(want));
        lx_engine_destroy(want);
        lx_engine_destroy(e);
        assert_int_equal(rec.last_seq, acked);
        assert_true(rec.torn);
        assert_string_equal(rec.torn_file, sg->name);
        assert_int_equal(rec.torn_offset, start);
        assert_int_equal(rec.bad_offset, cases[i].zero_from);
        size_t len;
        uint8_t *x = jt_read_file(path, &len);
        free(x);
        assert_int_equal(len, start); /* cut */
        e = recover_checked(dir, SEED, &rec);
        assert_int_equal(rec.last_seq, acked);
        assert_false(rec.torn);
        lx_engine_destroy(e);
    }
    free(orig);
    jt_layout_free(&l);
    jt_rmdir(src);
    jt_rmdir(dir);
}

static void test_out_of_memory(void **state) {
    (void)state;
    char dir[256];
    build(dir, 400);
    lx_recovery_t rec;
    lx_engine_t *e = (lx_engine_t *)1;
    failalloc_fail_all(true);
    int rc = lx_recover(dir, NULL, &e, &rec);
    bool fired = failalloc_fired();
    failalloc_fail_all(false);
    print_message("out of memory: %s\n", rec.msg);
    assert_true(fired);
    assert_int_equal(rc, LX_ENOMEM);
    assert_null(e);
    assert_non_null(strstr(rec.msg, "no memory"));
    assert_non_null(strstr(rec.msg, "offset"));
    e = recover_checked(dir, SEED, &rec);
    assert_int_equal(rec.last_seq, 400);
    assert_false(rec.torn);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

/* A data directory written before the fee account (tests/data/journal_v3,
 * by 278a840: a version-3 snapshot at seq 7 after a fill whose taker fee
 * was capped at its room, then one more command). Recovered from its
 * snapshot (migrated: the fee pool becomes account 0's) and replayed from
 * genesis, it reaches the same state, and verify's snapshot check (which
 * compared the replay with the old header's digest, and so called every
 * pre-upgrade snapshot corrupt) passes. */
static void test_version_3_data_dir(void **state) {
    (void)state;
    const char *dir = "tests/data/journal_v3";
    lx_recover_opts_t o = {.read_only = true};
    lx_recovery_t r1, r2, r3;
    lx_engine_t *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(lx_recover(dir, &o, &a, &r1), 0);
    assert_true(r1.snapshot[0] != 0); /* from the snapshot */
    o.from_genesis = true;
    assert_int_equal(lx_recover(dir, &o, &b, &r2), 0);
    o.check_snapshots = true;
    int rc = lx_recover(dir, &o, &c, &r3);
    if (rc) print_message("verify: %s\n", r3.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(r3.snapshots_checked, 1);
    assert_true(lx_engine_digest(a) == lx_engine_digest(b));
    assert_true(lx_engine_digest(a) == lx_engine_digest(c));
    int64_t fr, lk;
    assert_int_equal(lx_engine_balance(a, 0, 1, &fr, &lk), 0);
    assert_int_equal(fr, 1); /* the capped fee: ceil(1.5) = 2 > room 1 */
    assert_int_equal(lx_engine_balance(a, 2, 1, &fr, &lk), 0);
    assert_int_equal(fr, 1);
    assert_int_equal(lk, 501);
    lx_engine_destroy(a);
    lx_engine_destroy(b);
    lx_engine_destroy(c);
}

/* ---- a power loss after a process crash --------------------------------------- */

/*
 * A writer killed after a group's write() and before its fdatasync returned
 * (41..44, never acknowledged): the restarted node's recovery reads the group
 * from the page cache and builds on it: the new segment's header chains to
 * it, and 45..48 are acknowledged. Nothing has made 41..44 durable; a power
 * loss a moment later loses them, and with them the acknowledged 45..48:
 * recovery must make what it recovered durable before a writer builds on it.
 */
static void test_power_loss_after_a_crash(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "plcrash");
    jt_faultio_t p; /* the power loss's I/O: what each file has durable */
    jt_faultio_init(&p);
    jt_faultio_track_durable(&p);
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.fsync = true;
    cfg.io = &p.io;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= 44; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
        if (k == 41) { /* the next fdatasync: the writer is killed in it */
            p.fail_op = JT_OP_FDATASYNC;
            p.fail_at = p.calls[JT_OP_FDATASYNC] + 1;
        }
        if (k % 4 == 0) assert_int_equal(lx_journal_commit(j), k == 44 ? LX_EIO : 0);
    }
    assert_int_equal(lx_journal_durable_seq(j), 40);
    lx_journal_discard(j);
    lx_journal_close(j);
    /* the restart */
    lx_recover_opts_t o = {.io = &p.io};
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_recover(dir, &o, &e, &rec), 0);
    assert_int_equal(rec.last_seq, 44); /* read from the page cache */
    assert_int_equal(lx_journal_open(&j, dir, &cfg, &rec), 0);
    for (uint64_t k = 45; k <= 48; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
        assert_int_equal(jt_apply(e, SEED, k, &c), 0);
    }
    assert_int_equal(lx_journal_commit(j), 0);
    assert_int_equal(lx_journal_durable_seq(j), 48); /* acknowledged */
    uint64_t acked = lx_engine_digest(e);
    lx_journal_close(j);
    lx_engine_destroy(e);
    jt_faultio_power_loss(&p);
    jt_faultio_free(&p);
    int rc = lx_recover(dir, NULL, &e, &rec);
    print_message("after the power loss: %s\n", rec.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(rec.last_seq, 48);
    assert_int_equal(rec.digest, acked);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

/*
 * A snapshot (written as a node's engine thread writes one, lx_snapshot_write
 * + lx_journal_retain, no new segment) at seq 40 proves that the group
 * holding 37..40 was durable. A damaged byte in that group, the last of the
 * last segment, is then corruption, not a torn tail: recovery refuses it
 * (it does), and must leave the file as it found it (it cuts 37..40 off
 * first, for good).
 */
static void test_snapshot_proves_last_group(void **state) {
    (void)state;
    char dir[256], path[512];
    jt_tmpdir(dir, "snaplast");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    lx_engine_t *e = jt_engine_at(SEED, 0);
    for (uint64_t k = 1; k <= 40; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
        if (k % 4 == 0) assert_int_equal(lx_journal_commit(j), 0);
    }
    jt_engine_advance(e, SEED, 0, 40);
    assert_int_equal(lx_snapshot_write(dir, e, lx_journal_epoch(j), 1, NULL), 0);
    assert_int_equal(lx_journal_retain(j), 0);
    lx_journal_close(j);
    lx_engine_destroy(e);
    jt_layout_t l;
    assert_int_equal(jt_layout_read(dir, &l), 0);
    assert_int_equal(l.n, 1);
    jt_seg_t *sg = &l.segs[0];
    assert_int_equal(sg->group_seq[sg->ngroups - 1], 40);
    size_t start = sg->group_end[sg->ngroups - 2];
    snprintf(path, sizeof path, "%s/%s", dir, sg->name);
    size_t len, len2;
    uint8_t *x = jt_read_file(path, &len);
    x[start + 40] ^= 0x04; /* in the payload of seq 37 */
    assert_int_equal(jt_write_file(path, x, len), 0);
    free(x);
    expect_corrupt(dir, sg->name, "damaged group before a snapshot's seq");
    x = jt_read_file(path, &len2);
    free(x);
    assert_int_equal(len2, len); /* not cut */
    jt_layout_free(&l);
    jt_rmdir(dir);
}

/* ---- the batched replay's callbacks --------------------------------------------- */

/* What a recovery's on_cmd and sink saw, in order. */
typedef struct {
    uint64_t last_cmd;  /* seq of the last on_cmd */
    uint64_t ncmd, nev; /* calls */
    uint64_t misplaced; /* events whose command's on_cmd was not the last call */
} seen_t;

static void seen_cmd(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                     const char *file, uint64_t off) {
    (void)auth, (void)file, (void)off;
    seen_t *s = ctx;
    s->last_cmd = cmd->seq;
    s->ncmd++;
}

static void seen_event(void *ctx, const lx_event_t *ev) {
    seen_t *s = ctx;
    s->nev++;
    if (ev->seq != s->last_cmd) s->misplaced++;
}

/* on_cmd is called for each command before it is applied, and so before its
 * events reach the sink, after the events of the command before it: what
 * one lx_journal_apply() a command gave before the replay went in runs. */
static void test_replay_on_cmd_before_its_events(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "recs");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.batch_max_bytes = 64 << 10; /* groups of many commands */
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= 300; k++) {
        lx_cmd_t c;
        lx_journal_auth_t a;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, jt_auth(SEED, k, &a) ? &a : NULL), 0);
        if (k % 100 == 0) assert_int_equal(lx_journal_commit(j), 0);
    }
    lx_journal_close(j);
    seen_t s = {0};
    lx_sink_t sink = {seen_event, &s};
    lx_recover_opts_t o = {.read_only = true, .on_cmd = seen_cmd, .ctx = &s, .sink = &sink};
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_recover(dir, &o, &e, &rec), 0);
    assert_int_equal(rec.last_seq, 300);
    assert_int_equal(s.ncmd, 300);
    assert_true(s.nev > 300);
    print_message("events after a later command's on_cmd: %llu of %llu\n",
                  (unsigned long long)s.misplaced, (unsigned long long)s.nev);
    assert_int_equal(s.misplaced, 0);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

/* A command the engine refuses (a snapshot whose time is past the journal's
 * next command) stops the replay there: on_cmd has seen it and no command
 * after it, and the recovery counts what it replayed, as one
 * lx_journal_apply() a command did. */
static void test_replay_refusal_stops_callbacks(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "recs");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.batch_max_bytes = 64 << 10;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= 100; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
        if (k == 20 || k == 100) assert_int_equal(lx_journal_commit(j), 0);
    }
    lx_journal_close(j);
    /* the snapshot at seq 20 holds a ts past command 21's */
    lx_engine_t *e = jt_engine_at(SEED, 19);
    lx_cmd_t c;
    jt_cmd(SEED, 20, &c);
    c.ts += 1000000000;
    assert_int_equal(jt_apply(e, SEED, 20, &c), 0);
    assert_int_equal(lx_snapshot_write(dir, e, 1, 1, NULL), 0);
    lx_engine_destroy(e);
    seen_t s = {0};
    lx_recover_opts_t o = {.read_only = true, .on_cmd = seen_cmd, .ctx = &s};
    lx_recovery_t rec;
    e = (lx_engine_t *)1;
    assert_int_equal(lx_recover(dir, &o, &e, &rec), LX_ECORRUPT);
    assert_null(e);
    print_message("%s; on_cmd: %llu, last seq %llu\n", rec.msg, (unsigned long long)s.ncmd,
                  (unsigned long long)s.last_cmd);
    assert_non_null(strstr(rec.msg, "refuses command seq 21"));
    assert_int_equal(s.ncmd, 1);
    assert_int_equal(s.last_cmd, 21);
    assert_int_equal(rec.commands, 1);
    jt_rmdir(dir);
}

/* ---- rules versions -------------------------------------------------------------- */

/* A data directory whose segments name rules this build does not know (a
 * newer lxdexd's) is refused as LX_EVERSION, as docs/journal.md says, not
 * called corrupt: it is not. */
static void test_unknown_rules_is_eversion(void **state) {
    (void)state;
    char dir[256], path[512], names[64][64];
    build(dir, 300);
    size_t n = jt_list(dir, "seg-", names, 64);
    assert_true(n > 1);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len;
        uint8_t *b = jt_read_file(path, &len);
        assert_non_null(b);
        assert_int_equal(lx_get_u32(b + 120), LX_RULES_LATEST);
        lx_put_u32(b + 120, LX_RULES_LATEST + 1);
        lx_put_u32(b + 124, lx__crc32c(0, b, 124));
        assert_int_equal(jt_write_file(path, b, len), 0);
        free(b);
    }
    lx_recover_opts_t ro = {.read_only = true};
    lx_recovery_t rec;
    lx_engine_t *e = (lx_engine_t *)1;
    int rc = lx_recover(dir, &ro, &e, &rec);
    print_message("%s (%s)\n", rec.msg, lx_err_name(rc));
    assert_int_equal(rc, LX_EVERSION);
    assert_null(e);
    jt_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_histories),
        cmocka_unit_test(test_missing_segment),
        cmocka_unit_test(test_spliced_segment),
        cmocka_unit_test(test_torn_middle_segment),
        cmocka_unit_test(test_journal_ends_before_snapshot),
        cmocka_unit_test(test_config_mismatch),
        cmocka_unit_test(test_torn_header_removed),
        cmocka_unit_test(test_power_loss_in_last_group),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_version_3_data_dir),
        cmocka_unit_test(test_power_loss_after_a_crash),
        cmocka_unit_test(test_snapshot_proves_last_group),
        cmocka_unit_test(test_replay_on_cmd_before_its_events),
        cmocka_unit_test(test_replay_refusal_stops_callbacks),
        cmocka_unit_test(test_unknown_rules_is_eversion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
