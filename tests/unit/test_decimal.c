/*
 * test_decimal.c: exact decimal parsing and formatting (src/node/decimal.c).
 *
 * A table of texts at given scales with the exact value or the error each
 * must give (grammar, precision, the int64 edges at every scale), the
 * length-bounded variant and its reasons, formatting of chosen values, and
 * a seeded sweep checking that parse(format(v)) == v for random values at
 * every scale.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lx/decimal.h"
#include "lx/error.h"

typedef struct {
    const char *text;
    int scale;
    int rc;
    int64_t value;
} case_t;

static const case_t cases[] = {
    {"0", 0, 0, 0},
    {"1", 0, 0, 1},
    {"1", 2, 0, 100},
    {"1.5", 2, 0, 150},
    {"1.50", 2, 0, 150},
    {"1.500", 2, 0, 150}, /* zeros past the scale change nothing */
    {"1.505", 2, LX_ERANGE, 0},
    {"0.01", 2, 0, 1},
    {"0.001", 2, LX_ERANGE, 0},
    {"0.0010", 3, 0, 1},
    {"-0", 0, 0, 0},
    {"-0.00", 2, 0, 0},
    {"-1.25", 2, 0, -125},
    {"007", 0, 0, 7},
    {"00.10", 1, 0, 1},
    {"123456789", 8, 0, 12345678900000000},
    {"9223372036854775807", 0, 0, INT64_MAX},
    {"9223372036854775808", 0, LX_ERANGE, 0},
    {"-9223372036854775808", 0, 0, INT64_MIN},
    {"-9223372036854775809", 0, LX_ERANGE, 0},
    {"99999999999999999999999999", 0, LX_ERANGE, 0},
    {"9.223372036854775807", 18, 0, INT64_MAX},
    {"9.223372036854775808", 18, LX_ERANGE, 0},
    {"-9.223372036854775808", 18, 0, INT64_MIN},
    {"10", 18, LX_ERANGE, 0},
    {"922337203685477580.7", 1, 0, INT64_MAX},
    {"922337203685477580.8", 1, LX_ERANGE, 0},
    {"92233720368547758.08", 1, LX_ERANGE, 0}, /* too precise before too large */
    {"0.000000000000000001", 18, 0, 1},
    {"0.0000000000000000010000", 18, 0, 1},
    /* grammar */
    {"", 2, LX_EINVAL, 0},
    {"-", 2, LX_EINVAL, 0},
    {".5", 2, LX_EINVAL, 0},
    {"5.", 2, LX_EINVAL, 0},
    {"+1", 2, LX_EINVAL, 0},
    {"1e5", 2, LX_EINVAL, 0},
    {" 1", 2, LX_EINVAL, 0},
    {"1 ", 2, LX_EINVAL, 0},
    {"1.2.3", 2, LX_EINVAL, 0},
    {"1,5", 2, LX_EINVAL, 0},
    {"--1", 2, LX_EINVAL, 0},
    {"0x10", 2, LX_EINVAL, 0},
    {"abc", 2, LX_EINVAL, 0},
    {"1_000", 0, LX_EINVAL, 0},
    {"NaN", 2, LX_EINVAL, 0},
    {"1", -1, LX_EINVAL, 0},
    {"1", 19, LX_EINVAL, 0},
};

static void test_parse_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const case_t *c = &cases[i];
        int64_t v = 12345;
        int rc = lx_decimal_parse(c->text, c->scale, &v);
        if (rc != c->rc || (rc == 0 && v != c->value))
            fail_msg("\"%s\" at scale %d: rc %d value %lld, expected rc %d value %lld", c->text,
                     c->scale, rc, (long long)v, c->rc, (long long)c->value);
        if (rc != 0) assert_int_equal(v, 12345); /* untouched on error */
    }
    int64_t v;
    assert_int_equal(lx_decimal_parse(NULL, 2, &v), LX_EINVAL);
    assert_int_equal(lx_decimal_parse("1", 2, NULL), LX_EINVAL);
}

static void test_parse_n_bounds_and_reasons(void **state) {
    (void)state;
    int64_t v = 0;
    const char *why = "unset";
    assert_int_equal(lx_decimal_parse_n("12345", 3, 0, &v, &why), 0);
    assert_int_equal(v, 123);
    assert_null(why);
    assert_int_equal(lx_decimal_parse_n("1.5xyz", 3, 1, &v, &why), 0);
    assert_int_equal(v, 15);
    /* an embedded NUL is not the end of the text */
    assert_int_equal(lx_decimal_parse_n("1\0002", 3, 0, &v, &why), LX_EINVAL);
    assert_string_equal(why, "not a decimal number");
    assert_int_equal(lx_decimal_parse_n("1.234", 5, 2, &v, &why), LX_ERANGE);
    assert_string_equal(why, "too many decimal places");
    assert_int_equal(lx_decimal_parse_n("99999999999999999999", 20, 0, &v, &why), LX_ERANGE);
    assert_string_equal(why, "out of range");
    assert_int_equal(lx_decimal_parse_n("", 0, 0, &v, &why), LX_EINVAL);
    assert_int_equal(lx_decimal_parse_n("1", 1, 0, &v, NULL), 0);
}

static void test_format(void **state) {
    (void)state;
    static const struct {
        int64_t v;
        int scale;
        const char *text;
    } f[] = {
        {0, 0, "0"},
        {0, 2, "0.00"},
        {150, 2, "1.50"},
        {-5, 3, "-0.005"},
        {1, 18, "0.000000000000000001"},
        {INT64_MAX, 0, "9223372036854775807"},
        {INT64_MIN, 0, "-9223372036854775808"},
        {INT64_MIN, 18, "-9.223372036854775808"},
        {INT64_MAX, 18, "9.223372036854775807"},
        {123456789, 4, "12345.6789"},
    };
    char buf[LX_DECIMAL_FORMAT_MAX];
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        int n = lx_decimal_format(f[i].v, f[i].scale, buf, sizeof buf);
        assert_int_equal(n, (int)strlen(f[i].text));
        assert_string_equal(buf, f[i].text);
    }
    /* like snprintf: the full length, a truncated but terminated text */
    char small[4];
    assert_int_equal(lx_decimal_format(123456, 2, small, sizeof small), 7);
    assert_string_equal(small, "123");
    assert_int_equal(lx_decimal_format(123456, 2, NULL, 0), 7);
    assert_int_equal(lx_decimal_format(1, 19, buf, sizeof buf), LX_EINVAL);
    assert_int_equal(lx_decimal_format(1, -1, buf, sizeof buf), LX_EINVAL);
    assert_int_equal(lx_decimal_pow10(0), 1);
    assert_int_equal(lx_decimal_pow10(18), 1000000000000000000LL);
    assert_int_equal(lx_decimal_pow10(19), 0);
    assert_int_equal(lx_decimal_pow10(-1), 0);
}

/* lx_decimal_format_short: no trailing fractional zeros, no bare point;
 * a whole value and scale 0 as they are; a short buffer still terminated. */
static void test_format_short(void **state) {
    (void)state;
    static const struct {
        int64_t v;
        int scale;
        const char *out;
    } shorts[] = {{150, 2, "1.5"},    {100, 2, "1"},
                 {1, 2, "0.01"},     {-5, 3, "-0.005"},
                 {-100, 2, "-1"},    {0, 6, "0"},
                 {1000, 0, "1000"},  {10, 1, "1"},
                 {12300, 4, "1.23"}, {INT64_MIN, 18, "-9.223372036854775808"}};
    for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++) {
        char buf[LX_DECIMAL_FORMAT_MAX];
        int n = lx_decimal_format_short(shorts[i].v, shorts[i].scale, buf, sizeof buf);
        assert_string_equal(buf, shorts[i].out);
        assert_int_equal(n, (int)strlen(shorts[i].out));
        int64_t back;
        assert_int_equal(lx_decimal_parse(buf, shorts[i].scale, &back), 0);
        assert_true(back == shorts[i].v);
    }
    char small[3];
    assert_int_equal(lx_decimal_format_short(12345, 2, small, sizeof small), 6); /* "123.45" */
    assert_string_equal(small, "12");
    assert_int_equal(lx_decimal_format_short(1, -1, small, sizeof small), LX_EINVAL);
}

static void test_format_parse_round_trip(void **state) {
    (void)state;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    char buf[LX_DECIMAL_FORMAT_MAX];
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        /* vary the magnitude: shift off a random number of bits */
        int64_t v = (int64_t)(s >> (s % 64));
        if (s & 1) v = -v;
        if (i == 0) v = INT64_MIN;
        int scale = (int)(s % (LX_DECIMAL_MAX_SCALE + 1));
        int n = lx_decimal_format(v, scale, buf, sizeof buf);
        assert_true(n > 0 && n < (int)sizeof buf);
        int64_t back;
        assert_int_equal(lx_decimal_parse(buf, scale, &back), 0);
        assert_int_equal(back, v);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_n_bounds_and_reasons),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_short),
        cmocka_unit_test(test_format_parse_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
