/*
 * test_lathist.c: the stage latency histogram (lx/lathist.h): every value
 * lands in a bucket whose bounds hold it, buckets are contiguous and at most
 * 12.5% wide, quantiles never understate, merge adds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lx/lathist.h"

static void test_buckets(void **state) {
    (void)state;
    for (uint32_t i = 1; i < LX_LATHIST_BUCKETS; i++)
        assert_true(lx_lathist_upper(i) > lx_lathist_upper(i - 1));
    uint64_t vals[] = {0, 1, 15, 16, 17, 31, 32, 1000, 123456789, UINT64_MAX / 3, UINT64_MAX};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        uint64_t v = vals[k];
        uint32_t i = lx_lathist_index(v);
        assert_true(i < LX_LATHIST_BUCKETS);
        assert_true(v <= lx_lathist_upper(i));
        if (i) assert_true(v > lx_lathist_upper(i - 1));
        if (v >= 16 && v < (UINT64_MAX >> 4)) {
            uint64_t lo = lx_lathist_upper(i - 1) + 1, hi = lx_lathist_upper(i);
            assert_true((hi - lo + 1) * 8 <= lo); /* width <= 12.5% of the bucket's values */
        }
    }
    for (uint64_t v = 0; v < 5000; v++) {
        uint32_t i = lx_lathist_index(v);
        assert_true(v <= lx_lathist_upper(i));
        if (i) assert_true(v > lx_lathist_upper(i - 1));
    }
}

static void test_quantiles_merge(void **state) {
    (void)state;
    lx_lathist_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(lx_lathist_quantile(a, 500000), 0);
    for (uint64_t v = 1; v <= 1000; v++) lx_lathist_add(a, v * 1000);
    uint64_t p50 = lx_lathist_quantile(a, 500000);
    assert_true(p50 >= 500000 && p50 <= 500000 * 9 / 8 + 1);
    assert_int_equal(lx_lathist_quantile(a, 1000000), 1000000); /* clamped to the max */
    lx_lathist_add(b, 7);
    lx_lathist_merge(b, a);
    assert_int_equal(atomic_load(&b->count), 1001);
    assert_int_equal(atomic_load(&b->max), 1000000);
    assert_int_equal(lx_lathist_quantile(b, 1), 7);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_quantiles_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
