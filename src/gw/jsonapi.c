/*
 * jsonapi.c: exact decimal <-> tick/lot grid conversion for the JSON API
 * (see lx/jsonapi.h). No floating point.
 */
#include "lx/jsonapi.h"

#include <string.h>

#include "lx/decimal.h"
#include "lx/error.h"

/* k with 10^k == scale, or -1. */
static int scale_digits(int64_t scale) {
    for (int k = 0; k <= LX_DECIMAL_MAX_SCALE; k++)
        if (lx_decimal_pow10(k) == scale) return k;
    return -1;
}

int lx_api_to_steps(const char *s, size_t len, int64_t scale, int64_t step, int64_t *out,
                    const char **why) {
    const char *w = NULL;
    int k = scale_digits(scale);
    if (k < 0 || step <= 0) {
        if (why) *why = "bad scale or step";
        return LX_EINVAL;
    }
    int64_t units;
    if (!s || lx_decimal_parse_n(s, len, k, &units, &w) != 0) {
        if (why) *why = w ? w : "not a decimal number";
        return LX_EINVAL;
    }
    if (units <= 0) {
        if (why) *why = "must be positive";
        return LX_EINVAL;
    }
    if (units % step != 0) {
        if (why) *why = "not on the grid";
        return LX_EINVAL;
    }
    *out = units / step;
    if (why) *why = NULL;
    return 0;
}

int lx_api_from_steps(int64_t n, int64_t scale, int64_t step, char *buf, size_t cap) {
    int k = scale_digits(scale);
    if (cap) buf[0] = '\0';
    if (k < 0 || step <= 0) return LX_EINVAL;
    int64_t units;
    if (__builtin_mul_overflow(n, step, &units)) return LX_ERANGE;
    return lx_decimal_format_short(units, k, buf, cap);
}
