/*
 * test_journal_bitflip.c: a flipped bit anywhere in a journal is detected,
 * and the file and offset are named.
 *
 * The same kind of journal as test_journal_truncate.c (about 200 commands,
 * three or four segments). For every byte of every segment one bit is
 * flipped (bit = offset mod 8; every bit of the headers and of the first and
 * last records of each segment); recovery (read-only) must then either
 *
 *   - fail with LX_ECORRUPT, naming the segment and an offset: the start of
 *     the record that holds the flipped bit, or a header field; or
 *   - succeed with a torn tail reported in that segment, whose first invalid
 *     record is the one holding the bit, which is possible only in the last
 *     group of the last segment (damage in the group a power loss may have
 *     left incomplete cannot be told from a torn write); the recovered
 *     engine is then exactly the prefix before that group.
 *
 * Never: a recovery that succeeds without a report, or a digest that is not
 * the digest of a prefix.
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

#define SEED 11
#define NCMDS 200

static void test_bitflip_everywhere(void **state) {
    (void)state;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char src[256], dir[256];
    jt_tmpdir(src, "flip-src");
    jt_tmpdir(dir, "flip");
    jt_build_journal(src, SEED, NCMDS, 8 << 10);
    jt_layout_t l;
    assert_int_equal(jt_layout_read(src, &l), 0);
    assert_true(l.n >= 3);
    uint64_t *digest = calloc(NCMDS + 1, sizeof *digest);
    lx_engine_t *ref = jt_engine_at(SEED, 0);
    for (uint64_t k = 1; k <= NCMDS; k++) {
        jt_engine_advance(ref, SEED, k - 1, k);
        digest[k] = lx_engine_digest(ref);
    }
    lx_engine_destroy(ref);
    uint64_t flips = 0, errors = 0, torn = 0;
    char off_str[64], path[512];
    jt_layout_write(&l, dir, l.n, SIZE_MAX);
    for (size_t s = 0; s < l.n; s++) {
        jt_seg_t *sg = &l.segs[s];
        snprintf(path, sizeof path, "%s/%s", dir, sg->name);
        size_t last_rec = sg->rec_off[sg->nrecs - 1];
        for (size_t x = 0; x < sg->len; x++) {
            bool all_bits = x < 160 || x >= last_rec - 120;
            for (int bit = 0; bit < 8; bit++) {
                if (!all_bits && bit != (int)(x % 8)) continue;
                sg->data[x] ^= (uint8_t)(1u << bit);
                assert_int_equal(jt_write_file(path, sg->data, sg->len), 0);
                sg->data[x] ^= (uint8_t)(1u << bit);
                lx_recover_opts_t o = {.read_only = true};
                lx_recovery_t rec;
                lx_engine_t *e = NULL;
                int rc = lx_recover(dir, &o, &e, &rec);
                long r = jt_layout_record_at(&l, s, x);
                flips++;
                if (rc != 0) {
                    /* an error naming this file and an offset in it */
                    errors++;
                    if (rc != LX_ECORRUPT || strcmp(rec.error_file, sg->name) != 0)
                        print_message("flip %zu:%zu.%d: rc %d: %s\n", s, x, bit, rc, rec.msg);
                    assert_int_equal(rc, LX_ECORRUPT);
                    assert_null(e);
                    assert_string_equal(rec.error_file, sg->name);
                    assert_non_null(strstr(rec.msg, sg->name));
                    snprintf(off_str, sizeof off_str,
                             "offset %llu:", (unsigned long long)rec.error_offset);
                    assert_non_null(strstr(rec.msg, off_str));
                    if (r < 0) {
                        assert_true(rec.error_offset < 128); /* a header field */
                    } else if (rec.error_offset != (uint64_t)r) {
                        print_message("flip %zu:%zu.%d: record at %ld, reported %llu: %s\n", s, x,
                                      bit, r, (unsigned long long)rec.error_offset, rec.msg);
                        fail();
                    }
                    continue;
                }
                /* otherwise only as a torn tail of the last group of the last segment */
                if (!rec.torn)
                    print_message("flip %zu:%zu.%d not detected: %s\n", s, x, bit, rec.msg);
                assert_true(rec.torn);
                torn++;
                assert_int_equal(s, l.n - 1);
                assert_string_equal(rec.torn_file, sg->name);
                assert_int_equal(rec.bad_offset, (uint64_t)r);
                assert_true(sg->ngroups >= 1);
                uint64_t want = sg->ngroups >= 2 ? sg->group_seq[sg->ngroups - 2] : sg->prev_seq;
                assert_int_equal(rec.torn_offset,
                                 sg->ngroups >= 2 ? sg->group_end[sg->ngroups - 2] : 128);
                assert_true(x >= rec.torn_offset);
                assert_int_equal(rec.last_seq, want);
                assert_int_equal(rec.digest, digest[want]);
                assert_non_null(strstr(rec.msg, sg->name));
                lx_engine_destroy(e);
            }
        }
        assert_int_equal(jt_write_file(path, sg->data, sg->len), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("%llu flips: %llu errors, %llu torn tails (last group), %.1f s\n",
                  (unsigned long long)flips, (unsigned long long)errors, (unsigned long long)torn,
                  (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(digest);
    jt_layout_free(&l);
    jt_rmdir(src);
    jt_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitflip_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
