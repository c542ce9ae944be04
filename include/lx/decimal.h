/*
 * lx/decimal.h: exact conversion between decimal strings and integer units.
 *
 * Prices, quantities, amounts and fee rates arrive as decimal text (the node
 * configuration, the JSON API) and live as int64 counts of a smallest unit.
 * This module converts between the two exactly: no double, no rounding. A
 * value with more significant fractional digits than the unit allows is an
 * error, never rounded; so is a value that does not fit in int64.
 *
 * Grammar (nothing else is accepted: no spaces, no '+', no exponent, no
 * ".5" or "5."):
 *
 *     decimal = [ "-" ] digit { digit } [ "." digit { digit } ]
 *
 * `scale` is the number of fractional digits of the unit, 0 to
 * LX_DECIMAL_MAX_SCALE: with scale 2, "1.5" is 150 and "1.505" is an error.
 * Trailing zeros beyond the scale are accepted because they do not change
 * the value ("1.500" at scale 2 is 150). "-0" is 0.
 */
#ifndef LX_DECIMAL_H
#define LX_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#define LX_DECIMAL_MAX_SCALE 18
/* Longest text lx_decimal_format() writes: sign, 19 digits, point, NUL. */
#define LX_DECIMAL_FORMAT_MAX 24

/*
 * Parses the NUL-terminated string s. Returns 0 and sets *out, or
 *   LX_EINVAL  not a decimal number (or scale out of range),
 *   LX_ERANGE  too many significant fractional digits for the scale, or the
 *              value does not fit in int64 once scaled.
 * *out is left unchanged on error.
 */
int lx_decimal_parse(const char *s, int scale, int64_t *out);

/*
 * The same for the len bytes at s (no NUL needed; an embedded NUL is an
 * error). When why is not NULL it is set to a static description of the
 * failure ("not a decimal number", "too many decimal places",
 * "out of range"), or NULL on success.
 */
int lx_decimal_parse_n(const char *s, size_t len, int scale, int64_t *out, const char **why);

/*
 * Writes v as a decimal with exactly `scale` fractional digits (none and no
 * point when scale is 0): 150 at scale 2 is "1.50", -5 at scale 3 is
 * "-0.005". The text parses back to v. Returns the length of the text (like
 * snprintf: the text is truncated but NUL-terminated when cap is too small),
 * or LX_EINVAL if scale is out of range.
 */
int lx_decimal_format(int64_t v, int scale, char *buf, size_t cap);

/* The same without trailing fractional zeros, nor a bare point: 150 at
 * scale 2 is "1.5", 100 is "1", as the configuration and the JSON API
 * write decimals. Returns the length, as lx_decimal_format. */
int lx_decimal_format_short(int64_t v, int scale, char *buf, size_t cap);

/* 10^scale for 0 <= scale <= 18, else 0. */
int64_t lx_decimal_pow10(int scale);

#endif
