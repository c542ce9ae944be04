/*
 * test_journal_truncate.c: a journal cut at every byte offset recovers to
 * exactly a prefix of its commands.
 *
 * A journal of about 200 commands in three or four segments (groups of 1 to
 * 9 commands, a third of them with auth sections) is read into memory. For
 * every byte offset X of the concatenated segments, the directory is
 * rewritten as the segments before X's, X's segment cut at X, and nothing
 * after, which is what a crash leaves behind when the writer was at X. Then:
 *
 *   - recovery succeeds (the cut is always a torn tail of the last segment,
 *     or a torn header, which is removed);
 *   - its last seq is exactly the last group that ends at or before X (or
 *     the segment's start): never more, and never less, since every group
 *     before the cut is intact and was acknowledged;
 *   - its digest equals that of a fresh engine that applied that prefix;
 *   - it reports a torn tail exactly when X is not at a group boundary.
 *
 * Every 61st offset is also recovered read-write: the tail is cut on disk,
 * a second recovery finds a clean journal, and a writer continues after it
 * with one more command that a third recovery finds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "journal_util.h"
#include "lx/journal.h"

#define SEED 7
#define NCMDS 200

static void test_truncate_every_offset(void **state) {
    (void)state;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char src[256], dir[256];
    jt_tmpdir(src, "trunc-src");
    jt_tmpdir(dir, "trunc");
    jt_build_journal(src, SEED, NCMDS, 8 << 10);
    jt_layout_t l;
    assert_int_equal(jt_layout_read(src, &l), 0);
    assert_true(l.n >= 3);
    /* the digest after every prefix */
    uint64_t *digest = calloc(NCMDS + 1, sizeof *digest);
    lx_engine_t *ref = jt_engine_at(SEED, 0);
    digest[0] = lx_engine_digest(ref);
    for (uint64_t k = 1; k <= NCMDS; k++) {
        jt_engine_advance(ref, SEED, k - 1, k);
        digest[k] = lx_engine_digest(ref);
    }
    lx_engine_destroy(ref);
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    uint64_t cuts = 0, torn = 0;
    for (size_t s = 0; s < l.n; s++) {
        const jt_seg_t *sg = &l.segs[s];
        for (size_t x = 0; x <= sg->len; x++) {
            jt_layout_write(&l, dir, s, x);
            /* what the writer had made durable when it was at x */
            uint64_t want = x < 128 ? (s ? jt_layout_seq_at(&l, s - 1, SIZE_MAX) : 0)
                                    : jt_layout_seq_at(&l, s, x);
            bool at_boundary = x == sg->len || x == 128;
            for (size_t g = 0; g < sg->ngroups; g++) at_boundary |= sg->group_end[g] == x;
            bool rw = cuts % 61 == 0;
            lx_recover_opts_t o = {.read_only = !rw};
            lx_recovery_t rec;
            lx_engine_t *e = NULL;
            int rc = lx_recover(dir, &o, &e, &rec);
            if (rc || rec.last_seq != want)
                print_message("segment %zu cut at %zu: rc %d last %llu want %llu: %s\n", s, x, rc,
                              (unsigned long long)rec.last_seq, (unsigned long long)want, rec.msg);
            assert_int_equal(rc, 0);
            assert_int_equal(rec.last_seq, want);
            if (want == 0 && s == 0 && x < 128) {
                assert_true(rec.empty);
                assert_null(e);
            } else {
                assert_non_null(e);
                assert_int_equal(rec.digest, digest[want]);
                assert_int_equal(lx_engine_digest(e), digest[want]);
            }
            assert_int_equal(rec.torn, !at_boundary);
            torn += rec.torn;
            if (rec.torn) assert_non_null(strstr(rec.msg, sg->name));
            lx_engine_destroy(e);
            if (rw && !rec.empty) {
                /* the tail is gone for good; a writer continues after it */
                lx_recovery_t r2;
                assert_int_equal(lx_recover(dir, NULL, &e, &r2), 0);
                assert_false(r2.torn);
                assert_int_equal(r2.last_seq, want);
                lx_journal_t *j;
                assert_int_equal(lx_journal_open(&j, dir, &cfg, &r2), 0);
                lx_cmd_t c;
                lx_journal_auth_t a;
                jt_cmd(SEED, want + 1, &c);
                bool has = jt_auth(SEED, want + 1, &a);
                assert_int_equal(lx_journal_append(j, &c, has ? &a : NULL), 0);
                assert_int_equal(lx_journal_commit(j), 0);
                lx_journal_close(j);
                lx_engine_destroy(e);
                assert_int_equal(lx_recover(dir, NULL, &e, &r2), 0);
                assert_false(r2.torn);
                assert_int_equal(r2.last_seq, want + 1);
                assert_int_equal(r2.digest, digest[want + 1]);
                lx_engine_destroy(e);
            }
            cuts++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("%llu cuts of %zu segments (%zu bytes), %llu torn, %.1f s\n",
                  (unsigned long long)cuts, l.n, l.total, (unsigned long long)torn,
                  (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(digest);
    jt_layout_free(&l);
    jt_rmdir(src);
    jt_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncate_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
