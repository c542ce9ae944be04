/*
 * test_jsonapi.c: exact decimal <-> tick/lot conversion edge cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lx/error.h"
#include "lx/jsonapi.h"

static int conv(const char *s, int64_t scale, int64_t step, int64_t *out, const char **why) {
    return lx_api_to_steps(s, strlen(s), scale, step, out, why);
}

static void test_to_steps(void **state) {
    (void)state;
    int64_t v = -1;
    const char *why = "x";
    /* USD scale 10^6, tick 10000 units = 0.01 */
    assert_int_equal(conv("50000.01", 1000000, 10000, &v, &why), 0);
    assert_int_equal(v, 5000001);
    assert_null(why);
    assert_int_equal(conv("50000.010000", 1000000, 10000, &v, &why), 0);
    assert_int_equal(v, 5000001);
    assert_int_equal(conv("7", 1000000, 10000, &v, NULL), 0);
    assert_int_equal(v, 700);
    v = 99;
    assert_int_equal(conv("50000.015", 1000000, 10000, &v, &why), LX_EINVAL);
    assert_string_equal(why, "not on the grid");
    assert_int_equal(v, 99);
    assert_int_equal(conv("0.0000001", 1000000, 10000, &v, &why), LX_EINVAL);
    assert_string_equal(why, "too many decimal places");
    assert_int_equal(conv("0", 1000000, 10000, &v, &why), LX_EINVAL);
    assert_string_equal(why, "must be positive");
    assert_int_equal(conv("-1", 1000000, 10000, &v, &why), LX_EINVAL);
    assert_string_equal(why, "must be positive");
    const char *bad[] = {"", "1e3", "+1", ".5", "5.", " 1", "1 ", "0x10", "1.2.3", "NaN", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why = NULL;
        assert_int_equal(conv(bad[i], 1000000, 10000, &v, &why), LX_EINVAL);
        assert_string_equal(why, "not a decimal number");
    }
    assert_int_equal(conv("99999999999999999999", 1000000, 1, &v, &why), LX_EINVAL);
    assert_string_equal(why, "out of range");
    assert_int_equal(conv("1", 1000, 0, &v, &why), LX_EINVAL);
    assert_string_equal(why, "bad scale or step");
    assert_int_equal(conv("1", 1200, 1, &v, &why), LX_EINVAL);
    assert_string_equal(why, "bad scale or step");
    /* scale 1 (whole units), BTC 10^8 with lot 10000 sat = 0.0001 */
    assert_int_equal(conv("12", 1, 3, &v, NULL), 0);
    assert_int_equal(v, 4);
    assert_int_equal(conv("0.0001", 100000000, 10000, &v, NULL), 0);
    assert_int_equal(v, 1);
    assert_int_equal(conv("0.00015", 100000000, 10000, &v, &why), LX_EINVAL);
    /* embedded NUL is not a number */
    assert_int_equal(lx_api_to_steps("1\0002", 3, 10, 1, &v, &why), LX_EINVAL);
    assert_int_equal(lx_api_to_steps(NULL, 0, 10, 1, &v, &why), LX_EINVAL);
}

static void test_from_steps(void **state) {
    (void)state;
    char b[32];
    assert_int_equal(lx_api_from_steps(5000001, 1000000, 10000, b, sizeof b), 8);
    assert_string_equal(b, "50000.01");
    assert_int_equal(lx_api_from_steps(700, 1000000, 10000, b, sizeof b), 1);
    assert_string_equal(b, "7");
    assert_int_equal(lx_api_from_steps(1, 100000000, 10000, b, sizeof b), 6);
    assert_string_equal(b, "0.0001");
    assert_int_equal(lx_api_from_steps(4, 1, 3, b, sizeof b), 2);
    assert_string_equal(b, "12");
    assert_int_equal(lx_api_from_steps(INT64_MAX, 10, 2, b, sizeof b), LX_ERANGE);
    assert_string_equal(b, "");
    assert_int_equal(lx_api_from_steps(1, 7, 2, b, sizeof b), LX_EINVAL);
    assert_int_equal(lx_api_from_steps(5000001, 1000000, 10000, b, 4), 8);
    assert_string_equal(b, "500");
    /* round trip */
    for (int64_t n = 1; n < 100000; n += 37) {
        int64_t back;
        int len = lx_api_from_steps(n, 100000000, 10000, b, sizeof b);
        assert_true(len > 0);
        assert_int_equal(lx_api_to_steps(b, (size_t)len, 100000000, 10000, &back, NULL), 0);
        assert_int_equal(back, n);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_steps),
        cmocka_unit_test(test_from_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
