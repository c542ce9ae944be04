/*
 * test_snapshot_file.c: snapshot files (src/journal/snapfile.c) and the
 * journal's snapshot calls.
 *
 *   - round trip: the loaded engine has the same digest, and goes on to emit
 *     the same states as the original for the same commands;
 *   - any damaged byte, any truncation: refused with a reason, never a
 *     wrong engine;
 *   - injected failures of every call the writer makes: reported, the
 *     temporary removed, no half snapshot under the final name;
 *   - the fork() path writes the same file as the synchronous one;
 *   - the journal's snapshot: needs durable state, starts a new epoch,
 *     retention keeps the newest N snapshots and the segments they need;
 *     recovery falls back to an older snapshot when the newest is damaged,
 *     removes leftover temporaries.
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

#include "journal_util.h"
#include "lx/codec.h"
#include "lx/journal.h"

#define SEED 5

static void snap_path(char *out, size_t cap, const char *dir, uint64_t seq) {
    snprintf(out, cap, "%s/snap-%020llu.lxs", dir, (unsigned long long)seq);
}

static void test_roundtrip(void **state) {
    (void)state;
    char dir[256], path[512];
    jt_tmpdir(dir, "snap");
    lx_engine_t *e = jt_engine_at(SEED, 700);
    assert_int_equal(lx_snapshot_write(dir, e, 9, 3, NULL), 0);
    snap_path(path, sizeof path, dir, 700);
    lx_engine_t *g = NULL;
    lx_snapshot_info_t info;
    char msg[160];
    assert_int_equal(lx_snapshot_read(path, &g, &info, msg, sizeof msg), 0);
    assert_non_null(g);
    assert_int_equal(info.seq, 700);
    assert_int_equal(info.epoch, 9);
    assert_int_equal(info.digest, lx_engine_digest(e));
    assert_int_equal(info.ts, lx_engine_last_ts(e));
    assert_int_equal(info.engine.max_orders, lx_engine_config(e)->max_orders);
    assert_int_equal(lx_engine_digest(g), lx_engine_digest(e));
    /* both go on identically */
    jt_engine_advance(e, SEED, 700, 1200);
    jt_engine_advance(g, SEED, 700, 1200);
    assert_int_equal(lx_engine_digest(g), lx_engine_digest(e));
    /* header only */
    assert_int_equal(lx_snapshot_read(path, NULL, &info, msg, sizeof msg), 0);
    lx_engine_destroy(e);
    lx_engine_destroy(g);
    /* an empty engine too */
    e = jt_engine_at(SEED, 0);
    assert_int_equal(lx_snapshot_write(dir, e, 1, 1, NULL), 0);
    snap_path(path, sizeof path, dir, 0);
    assert_int_equal(lx_snapshot_read(path, &g, &info, msg, sizeof msg), 0);
    assert_int_equal(lx_engine_digest(g), lx_engine_digest(e));
    lx_engine_destroy(e);
    lx_engine_destroy(g);
    jt_rmdir(dir);
}

/* Events as bytes, for byte-for-byte comparison of two engines' outputs. */
typedef struct {
    uint8_t *b;
    size_t n, cap;
} evbuf_t;

static void ev_emit(void *ctx, const lx_event_t *ev) {
    evbuf_t *v = ctx;
    if (v->n + LX_EVENT_ENCODED_MAX > v->cap) {
        v->cap = (v->n + LX_EVENT_ENCODED_MAX) * 2;
        v->b = realloc(v->b, v->cap);
    }
    int n = lx_event_encode(ev, v->b + v->n, v->cap - v->n);
    assert_true(n > 0);
    v->n += (size_t)n;
}

/* A snapshot taken at any point of a history, loaded, then fed the rest of
 * the history, emits exactly the events and reaches exactly the digests of
 * the engine that was never snapshot: whatever a future command can depend
 * on is in the image (ids of freed order slots included). */
static void test_image_continues_identically(void **state) {
    (void)state;
    char dir[256], path[512];
    jt_tmpdir(dir, "snapc");
    int points = 0;
    for (uint64_t at = 20; at <= 6000; at += 53) {
        lx_engine_t *e = jt_engine_at(SEED + 1, at);
        assert_int_equal(lx_snapshot_write(dir, e, 1, 1, NULL), 0);
        snap_path(path, sizeof path, dir, at);
        lx_engine_t *g = NULL;
        char msg[160];
        assert_int_equal(lx_snapshot_read(path, &g, NULL, msg, sizeof msg), 0);
        unlink(path);
        evbuf_t ve = {0}, vg = {0};
        lx_sink_t se = {ev_emit, &ve}, sg = {ev_emit, &vg};
        for (uint64_t k = at + 1; k <= at + 400; k++) {
            lx_cmd_t c;
            jt_cmd(SEED + 1, k, &c);
            ve.n = vg.n = 0;
            assert_int_equal(lx_engine_apply(e, &c, &se), 0);
            assert_int_equal(lx_engine_apply(g, &c, &sg), 0);
            if (ve.n != vg.n || (ve.n && memcmp(ve.b, vg.b, ve.n) != 0))
                fail_msg("snapshot at %llu: events of command %llu differ", (unsigned long long)at,
                         (unsigned long long)k);
            assert_int_equal(lx_engine_digest(e), lx_engine_digest(g));
        }
        free(ve.b);
        free(vg.b);
        lx_engine_destroy(e);
        lx_engine_destroy(g);
        points++;
    }
    print_message("%d snapshot points, 400 commands after each\n", points);
    jt_rmdir(dir);
}

static void test_damage_refused(void **state) {
    (void)state;
    char dir[256], path[512];
    jt_tmpdir(dir, "snap");
    lx_engine_t *e = jt_engine_at(SEED, 500);
    assert_int_equal(lx_snapshot_write(dir, e, 2, 1, NULL), 0);
    snap_path(path, sizeof path, dir, 500);
    size_t len;
    uint8_t *b = jt_read_file(path, &len);
    assert_non_null(b);
    char msg[160];
    int refused = 0;
    for (size_t x = 0; x < len; x++) {
        for (int bit = 0; bit < 8; bit += x < 128 ? 1 : 3) {
            b[x] ^= (uint8_t)(1u << bit);
            lx_engine_t *g = (lx_engine_t *)1;
            msg[0] = 0;
            int rc = lx_snapshot_read_buf(b, len, &g, NULL, msg, sizeof msg);
            b[x] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(rc, 0);
            assert_null(g);
            assert_true(msg[0] != 0);
            refused++;
        }
    }
    for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
        lx_engine_t *g = NULL;
        assert_int_not_equal(lx_snapshot_read_buf(b, cut, &g, NULL, msg, sizeof msg), 0);
        assert_null(g);
    }
    /* trailing garbage */
    uint8_t *c = malloc(len + 3);
    memcpy(c, b, len);
    memset(c + len, 0, 3);
    lx_engine_t *g = NULL;
    assert_int_not_equal(lx_snapshot_read_buf(c, len + 3, &g, NULL, msg, sizeof msg), 0);
    print_message("%d damaged images refused\n", refused);
    free(c);
    free(b);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

static void test_write_failures(void **state) {
    (void)state;
    static const int ops[] = {JT_OP_OPEN,  JT_OP_WRITE,  JT_OP_PWRITE,   JT_OP_FSYNC,
                              JT_OP_CLOSE, JT_OP_RENAME, JT_OP_FSYNC_DIR};
    lx_engine_t *e = jt_engine_at(SEED, 900);
    char names[8][64], path[512];
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        for (uint64_t nth = 1;; nth++) {
            char dir[256];
            jt_tmpdir(dir, "snapf");
            jt_faultio_t f;
            jt_faultio_init(&f);
            f.fail_op = ops[i];
            f.fail_at = nth;
            int rc = lx_snapshot_write(dir, e, 1, 1, &f.io);
            bool hit = f.failures > 0;
            size_t tmps = jt_list(dir, "snap-", names, 8);
            if (!hit) {
                assert_int_equal(rc, 0);
                jt_rmdir(dir);
                break;
            }
            assert_int_equal(rc, LX_EIO);
            if (ops[i] == JT_OP_FSYNC_DIR) {
                /* renamed, but the name may not be durable: reported all the same */
                assert_int_equal(tmps, 1);
                snap_path(path, sizeof path, dir, 900);
                assert_int_equal(lx_snapshot_read(path, NULL, NULL, NULL, 0), 0);
            } else {
                assert_int_equal(tmps, 0); /* neither the temporary nor a final file */
            }
            jt_rmdir(dir);
        }
    }
    lx_engine_destroy(e);
}

static void test_fork_path(void **state) {
    (void)state;
    char a[256], b[256], pa[512], pb[512];
    jt_tmpdir(a, "snap");
    jt_tmpdir(b, "snap");
    lx_engine_t *e = jt_engine_at(SEED, 1500);
    pid_t child;
    uint64_t stall = 0;
    assert_int_equal(lx_snapshot_fork(a, e, 4, 1, NULL, &child, &stall), 0);
    /* the parent goes on changing the engine while the child writes */
    jt_engine_advance(e, SEED, 1500, 1600);
    int rc;
    while ((rc = lx_snapshot_wait(child, false)) == LX_EAGAIN) usleep(1000);
    assert_int_equal(rc, 0);
    assert_true(stall > 0);
    print_message("fork stall: %llu ns\n", (unsigned long long)stall);
    lx_engine_t *f = jt_engine_at(SEED, 1500);
    assert_int_equal(lx_snapshot_write(b, f, 4, 1, NULL), 0);
    snap_path(pa, sizeof pa, a, 1500);
    snap_path(pb, sizeof pb, b, 1500);
    size_t la, lb;
    uint8_t *x = jt_read_file(pa, &la), *y = jt_read_file(pb, &lb);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(la, lb);
    assert_memory_equal(x, y, la); /* byte for byte the image of seq 1500 */
    free(x);
    free(y);
    /* a child that fails reports its error */
    assert_int_equal(lx_snapshot_fork("/nonexistent/dir", f, 1, 1, NULL, &child, NULL), 0);
    assert_int_equal(lx_snapshot_wait(child, true), LX_ENOENT);
    lx_engine_destroy(e);
    lx_engine_destroy(f);
    jt_rmdir(a);
    jt_rmdir(b);
}

/* The journal's snapshots, retention and fallbacks. */
static void test_journal_snapshots(void **state) {
    (void)state;
    char dir[256], path[512], names[64][64];
    jt_tmpdir(dir, "jsnap");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.segment_bytes = 6000;
    cfg.keep_snapshots = 2;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    lx_engine_t *e = jt_engine_at(SEED, 0);
    uint64_t epoch = lx_journal_epoch(j);
    for (uint64_t k = 1; k <= 2000; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
        assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
        if (k == 100) {
            /* an engine ahead of the journal cannot be snapshot */
            lx_cmd_t n;
            jt_cmd(SEED, 101, &n);
            lx_engine_t *ahead = jt_engine_at(SEED, 101);
            assert_int_equal(lx_journal_snapshot(j, ahead), LX_ESTATE);
            lx_engine_destroy(ahead);
            assert_int_equal(lx_journal_error(j), 0);
        }
        if (k % 400 == 0) {
            if (k == 800) {
                uint64_t stall;
                assert_int_equal(lx_journal_snapshot_start(j, e, &stall), 0);
                assert_int_equal(lx_journal_snapshot_start(j, e, &stall), LX_ESTATE);
                assert_int_equal(lx_journal_snapshot_poll(j, true), 0);
            } else {
                assert_int_equal(lx_journal_snapshot(j, e), 0);
            }
            assert_int_equal(lx_journal_durable_seq(j), k);
            assert_true(lx_journal_epoch(j) > epoch);
            epoch = lx_journal_epoch(j);
            assert_true(jt_list(dir, "snap-", names, 64) <= 2);
        }
    }
    lx_journal_stats_t st;
    lx_journal_stats(j, &st);
    assert_int_equal(st.snapshots, 5);
    assert_int_equal(st.snapshots_removed, 3);
    assert_true(st.segments_removed > 0);
    lx_journal_close(j);
    /* kept: 1600 and 2000; segments from the one where seq 1601 starts */
    assert_int_equal(jt_list(dir, "snap-", names, 64), 2);
    assert_string_equal(names[0], "snap-00000000000000001600.lxs");
    assert_string_equal(names[1], "snap-00000000000000002000.lxs");
    size_t nseg = jt_list(dir, "seg-", names, 64);
    assert_true(nseg >= 2);
    assert_string_not_equal(names[0], "seg-00000000000000000000.lxj");
    uint64_t want = lx_engine_digest(e);

    lx_recovery_t rec;
    lx_engine_t *g;
    assert_int_equal(lx_recover(dir, NULL, &g, &rec), 0);
    assert_int_equal(rec.snapshot_seq, 2000);
    assert_int_equal(rec.commands, 0);
    assert_int_equal(rec.digest, want);
    lx_engine_destroy(g);

    /* a leftover temporary is removed */
    snprintf(path, sizeof path, "%s/snap-00000000000000002222.lxs.tmp", dir);
    assert_int_equal(jt_write_file(path, "junk", 4), 0);
    /* the newest damaged: the older one, then replay */
    snap_path(path, sizeof path, dir, 2000);
    size_t len;
    uint8_t *b = jt_read_file(path, &len);
    b[len / 2] ^= 0x10;
    assert_int_equal(jt_write_file(path, b, len), 0);
    assert_int_equal(lx_recover(dir, NULL, &g, &rec), 0);
    assert_int_equal(rec.snapshot_seq, 1600);
    assert_int_equal(rec.snapshots_skipped, 1);
    assert_int_equal(rec.commands, 400);
    assert_int_equal(rec.digest, want);
    assert_non_null(strstr(rec.msg, "snap-00000000000000002000.lxs"));
    print_message("note: %s\n", rec.msg);
    lx_engine_destroy(g);
    assert_int_equal(jt_list(dir, "snap-", names, 64), 2); /* the .tmp is gone */
    /* both damaged and no genesis: an error that says so */
    snap_path(path, sizeof path, dir, 1600);
    free(b);
    b = jt_read_file(path, &len);
    b[len - 1] ^= 0x01;
    assert_int_equal(jt_write_file(path, b, len), 0);
    assert_int_equal(lx_recover(dir, NULL, &g, &rec), LX_ECORRUPT);
    assert_null(g);
    assert_non_null(strstr(rec.msg, "genesis"));
    print_message("error: %s\n", rec.msg);
    free(b);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

/* keep_snapshots 2 and a single snapshot: the genesis segments are kept, and
 * a damaged snapshot falls back to a replay from genesis. */
static void test_fallback_to_genesis(void **state) {
    (void)state;
    char dir[256], path[512];
    jt_tmpdir(dir, "jsnap");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.keep_snapshots = 2;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    lx_engine_t *e = jt_engine_at(SEED, 0);
    for (uint64_t k = 1; k <= 300; k++) {
        lx_cmd_t c;
        jt_cmd(SEED, k, &c);
        assert_int_equal(lx_journal_append(j, &c, NULL), 0);
        assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
        if (k == 200) assert_int_equal(lx_journal_snapshot(j, e), 0);
    }
    lx_journal_close(j);
    snap_path(path, sizeof path, dir, 200);
    assert_int_equal(jt_write_file(path, "LXDEXSNP", 8), 0);
    lx_recovery_t rec;
    lx_engine_t *g;
    assert_int_equal(lx_recover(dir, NULL, &g, &rec), 0);
    assert_int_equal(rec.snapshot_seq, 0);
    assert_int_equal(rec.snapshots_skipped, 1);
    assert_int_equal(rec.commands, 300);
    assert_int_equal(rec.digest, lx_engine_digest(e));
    lx_engine_destroy(g);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

/* A node's way: the engine thread forks a snapshot of an engine that lags the
 * journal (mid-group, mid-segment), the journal thread applies retention. */
static void test_lagging_engine_snapshot(void **state) {
    (void)state;
    char dir[256], names[64][64];
    jt_tmpdir(dir, "jsnap");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.segment_bytes = 3000;
    cfg.keep_snapshots = 1;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    lx_engine_t *e = jt_engine_at(SEED, 0);
    uint64_t applied = 0;
    for (uint64_t k = 1; k <= 1200; k++) {
        lx_cmd_t c;
        lx_journal_auth_t a;
        jt_cmd(SEED, k, &c);
        bool has = jt_auth(SEED, k, &a); /* jt_engine_advance applies with it */
        assert_int_equal(lx_journal_append(j, &c, has ? &a : NULL), 0);
        if (k % 13 == 0) assert_int_equal(lx_journal_commit(j), 0);
        /* the engine applies only durable commands, and lags */
        uint64_t upto = lx_journal_durable_seq(j) > 37 ? lx_journal_durable_seq(j) - 37 : 0;
        jt_engine_advance(e, SEED, applied, upto);
        applied = upto > applied ? upto : applied;
        if (k % 300 == 0) {
            pid_t pid;
            assert_int_equal(lx_snapshot_fork(dir, e, lx_journal_epoch(j), 1, NULL, &pid, NULL), 0);
            assert_int_equal(lx_snapshot_wait(pid, true), 0);
            assert_int_equal(lx_journal_retain(j), 0);
            assert_true(jt_list(dir, "snap-", names, 64) == 1);
        }
    }
    assert_int_equal(lx_journal_commit(j), 0);
    lx_journal_close(j);
    lx_engine_destroy(e);
    lx_recovery_t rec;
    lx_engine_t *g;
    assert_int_equal(lx_recover(dir, NULL, &g, &rec), 0);
    assert_true(rec.snapshot_seq > 0 && rec.commands > 37); /* replayed past a lagging snapshot */
    assert_int_equal(rec.last_seq, 1200);
    lx_engine_t *want = jt_engine_at(SEED, 1200);
    assert_int_equal(rec.digest, lx_engine_digest(want));
    lx_engine_destroy(want);
    lx_engine_destroy(g);
    assert_true(jt_list(dir, "seg-", names, 64) < 10); /* retention removed the old ones */
    jt_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_image_continues_identically),
        cmocka_unit_test(test_damage_refused),
        cmocka_unit_test(test_write_failures),
        cmocka_unit_test(test_fork_path),
        cmocka_unit_test(test_journal_snapshots),
        cmocka_unit_test(test_fallback_to_genesis),
        cmocka_unit_test(test_lagging_engine_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
