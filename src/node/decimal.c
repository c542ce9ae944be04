/*
 * decimal.c: exact decimal text <-> int64 units.
 *
 * A decimal "I.F" at scale s is the integer I * 10^s + F', where F' is F
 * padded with zeros (or stripped of trailing zeros) to exactly s digits.
 * Parsing walks the text once, accumulating the magnitude in a uint64_t
 * with an overflow check on every digit; the limit is 2^63 for a negative
 * value (so INT64_MIN parses) and 2^63 - 1 otherwise. Fractional digits
 * past the scale must be zeros: they change nothing, and anything else
 * would need rounding, which is exactly what this file exists to refuse.
 *
 * Costs: O(length), no allocation, no locale, no floating point. Formatting
 * writes the digits of the magnitude right to left into a small buffer and
 * inserts the point; it is the inverse of parsing for every int64.
 *
 * Deliberately not here: thousands separators, exponents, rounding modes,
 * and knowledge of what a unit is (a market's tick or an asset's scale):
 * callers pick the scale and check grid multiples themselves.
 */
#include <stdbool.h>
#include <string.h>
#include "lx/decimal.h"
#include "lx/error.h"

static const int64_t pow10_table[LX_DECIMAL_MAX_SCALE + 1] = {
    1LL,
    10LL,
    100LL,
    1000LL,
    10000LL,
    100000LL,
    1000000LL,
    10000000LL,
    100000000LL,
    1000000000LL,
    10000000000LL,
    100000000000LL,
    1000000000000LL,
    10000000000000LL,
    100000000000000LL,
    1000000000000000LL,
    10000000000000000LL,
    100000000000000000LL,
    1000000000000000000LL,
};

int64_t lx_decimal_pow10(int scale) {
    if (scale < 0 || scale > LX_DECIMAL_MAX_SCALE) return 0;
    return pow10_table[scale];
}

static int fail(const char **why, const char *text, int err) {
    if (why) *why = text;
    return err;
}

/* mag = mag * 10 + d, refusing to pass limit. */
static int push_digit(uint64_t *mag, unsigned d, uint64_t limit) {
    if (*mag > (limit - d) / 10) return -1;
    *mag = *mag * 10 + d;
    return 0;
}

int lx_decimal_parse_n(const char *s, size_t len, int scale, int64_t *out, const char **why) {
    static const char *const not_decimal = "not a decimal number";
    static const char *const too_precise = "too many decimal places";
    static const char *const too_large = "out of range";
    if (why) *why = NULL;
    if (!s || !out || scale < 0 || scale > LX_DECIMAL_MAX_SCALE)
        return fail(why, "invalid argument", LX_EINVAL);

    size_t i = 0;
    bool neg = false;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    const uint64_t limit = neg ? (uint64_t)1 << 63 : (uint64_t)INT64_MAX;
    uint64_t mag = 0;
    bool overflow = false;

    size_t int_start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (!overflow && push_digit(&mag, (unsigned)(s[i] - '0'), limit)) overflow = true;
        i++;
    }
    if (i == int_start) return fail(why, not_decimal, LX_EINVAL);

    int frac = 0;         /* fractional digits taken into mag */
    bool inexact = false; /* a nonzero digit past the scale */
    if (i < len && s[i] == '.') {
        i++;
        size_t frac_start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            unsigned d = (unsigned)(s[i] - '0');
            if (frac < scale) {
                if (!overflow && push_digit(&mag, d, limit)) overflow = true;
                frac++;
            } else if (d != 0) {
                inexact = true;
            }
            i++;
        }
        if (i == frac_start) return fail(why, not_decimal, LX_EINVAL);
    }
    if (i != len) return fail(why, not_decimal, LX_EINVAL);
    if (inexact) return fail(why, too_precise, LX_ERANGE);

    /* Pad to the scale: mag * 10^(scale - frac). */
    for (; frac < scale && !overflow; frac++)
        if (push_digit(&mag, 0, limit)) overflow = true;
    if (overflow) return fail(why, too_large, LX_ERANGE);

    if (neg)
        *out = mag == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)mag;
    else
        *out = (int64_t)mag;
    return 0;
}

int lx_decimal_parse(const char *s, int scale, int64_t *out) {
    if (!s) return LX_EINVAL;
    return lx_decimal_parse_n(s, strlen(s), scale, out, NULL);
}

int lx_decimal_format(int64_t v, int scale, char *buf, size_t cap) {
    if (scale < 0 || scale > LX_DECIMAL_MAX_SCALE) return LX_EINVAL;
    char tmp[LX_DECIMAL_FORMAT_MAX + LX_DECIMAL_MAX_SCALE];
    size_t n = sizeof tmp, len;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int digits = 0;
    /* Right to left: at least scale + 1 digits, with the point after
     * `scale` of them. */
    do {
        if (digits == scale && scale > 0) tmp[--n] = '.';
        tmp[--n] = (char)('0' + mag % 10);
        mag /= 10;
        digits++;
    } while (mag != 0 || digits <= scale);
    if (v < 0) tmp[--n] = '-';
    len = sizeof tmp - n;
    if (cap > 0) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(buf, tmp + n, k);
        buf[k] = 0;
    }
    return (int)len;
}

int lx_decimal_format_short(int64_t v, int scale, char *buf, size_t cap) {
    char tmp[LX_DECIMAL_FORMAT_MAX + LX_DECIMAL_MAX_SCALE];
    int len = lx_decimal_format(v, scale, tmp, sizeof tmp);
    if (len < 0) return len;
    if (scale > 0) {
        while (tmp[len - 1] == '0') len--;
        if (tmp[len - 1] == '.') len--;
        tmp[len] = 0;
    }
    if (cap > 0) {
        size_t k = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
        memcpy(buf, tmp, k);
        buf[k] = 0;
    }
    return len;
}
