/*
 * fuzz_config.c: the node configuration parser and the decimal parser.
 *
 * Every input is parsed as a YAML configuration. A failure must leave an
 * error message and an empty configuration; a success must write back to
 * YAML that parses to a configuration writing the same text (write is the
 * inverse of parse). Short inputs are also parsed as decimals at several
 * scales and checked against a slow reference (128-bit arithmetic on the
 * digits) and against formatting: parse(format(v)) == v.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lx/config.h"
#include "lx/decimal.h"
#include "lx/error.h"

static void check(int ok) {
    if (!ok) abort();
}

static void fuzz_config(const uint8_t *data, size_t size) {
    lx_config_t c, d;
    char err[LX_CONFIG_ERR_LEN];
    int rc = lx_config_parse((const char *)data, size, &c, err, sizeof err);
    if (rc != 0) {
        static const lx_config_t zero;
        check(rc == LX_EINVAL || rc == LX_ENOMEM);
        check(err[0] != 0);
        check(memcmp(&c, &zero, sizeof c) == 0);
        return;
    }
    for (size_t i = 0; i < c.nmarkets; i++) {
        check(lx_config_asset(&c, c.markets[i].base) != NULL);
        check(lx_config_asset(&c, c.markets[i].quote) != NULL);
        check(c.markets[i].shard < c.shards);
        check(c.markets[i].min_price <= c.markets[i].max_price);
    }
    int n = lx_config_write(&c, NULL, 0);
    check(n > 0);
    char *a = malloc((size_t)n + 1), *b = malloc((size_t)n + 1);
    check(a && b);
    check(lx_config_write(&c, a, (size_t)n + 1) == n);
    rc = lx_config_parse(a, (size_t)n, &d, err, sizeof err);
    check(rc == 0);
    check(lx_config_write(&d, b, (size_t)n + 1) == n);
    check(memcmp(a, b, (size_t)n) == 0);
    free(a);
    free(b);
    lx_config_free(&c);
    lx_config_free(&d);
}

/* The reference: the grammar by hand, the value in 128 bits. */
static int ref_decimal(const char *s, size_t len, int scale, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (i < len && s[i] == '-') neg = 1, i++;
    size_t is = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    size_t ie = i, fs = i, fe = i;
    if (ie == is) return LX_EINVAL;
    if (i < len && s[i] == '.') {
        fs = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        fe = i;
        if (fe == fs) return LX_EINVAL;
    }
    if (i != len) return LX_EINVAL;
    for (size_t k = fs + (size_t)scale; k < fe; k++)
        if (s[k] != '0') return LX_ERANGE;
    while (is < ie - 1 && s[is] == '0') is++;
    if (ie - is > 20) return LX_ERANGE;
    __int128 v = 0;
    for (size_t k = is; k < ie; k++) v = v * 10 + (s[k] - '0');
    for (int k = 0; k < scale; k++)
        v = v * 10 + (fs + (size_t)k < fe ? s[fs + (size_t)k] - '0' : 0);
    if (neg) v = -v;
    if (v < INT64_MIN || v > INT64_MAX) return LX_ERANGE;
    *out = (int64_t)v;
    return 0;
}

static void fuzz_decimal(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    int scales[] = {0, 1, 2, 6, 8, 18, size ? data[0] % 19 : 3};
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        int64_t v = 0, r = 0;
        int rc = lx_decimal_parse_n(s, size, scales[k], &v, NULL);
        int rr = ref_decimal(s, size, scales[k], &r);
        check(rc == rr);
        if (rc != 0) continue;
        check(v == r);
        char buf[LX_DECIMAL_FORMAT_MAX];
        int n = lx_decimal_format(v, scales[k], buf, sizeof buf);
        check(n > 0 && (size_t)n < sizeof buf);
        int64_t back;
        check(lx_decimal_parse(buf, scales[k], &back) == 0 && back == v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_config(data, size);
    if (size <= 64) fuzz_decimal(data, size);
    return 0;
}
