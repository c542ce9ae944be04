/*
 * hist.c: quantiles of the log-linear histogram (see hist.h).
 *
 * Bucket layout, for SUB = 128 (SUB_BITS = 7):
 *   i <  256: the single value i.
 *   i >= 256: shift = i / 128 - 1, m = i - shift * 128 (128 <= m < 256);
 *             values [m << shift, (m + 1) << shift).
 * lxb_hist_index() is the inverse: shift = msb(v) - 7, i = shift * 128 +
 * (v >> shift). A quantile walks the counters once (7,424 adds): it is
 * computed after a run, never inside one.
 */
#include <stdio.h>
#include <string.h>
#include "hist.h"

void lxb_hist_init(lxb_hist_t *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

uint64_t lxb_hist_bucket_low(uint32_t i) {
    if (i < 2 * LXB_HIST_SUB) return i;
    uint32_t shift = i / LXB_HIST_SUB - 1;
    uint64_t m = i - shift * LXB_HIST_SUB;
    return m << shift;
}

uint64_t lxb_hist_bucket_high(uint32_t i) {
    if (i < 2 * LXB_HIST_SUB) return i;
    uint32_t shift = i / LXB_HIST_SUB - 1;
    uint64_t m = i - shift * LXB_HIST_SUB;
    return ((m + 1) << shift) - 1;
}

void lxb_hist_add(lxb_hist_t *to, const lxb_hist_t *from) {
    to->count += from->count;
    if (from->max > to->max) to->max = from->max;
    if (from->min < to->min) to->min = from->min;
    for (uint32_t i = 0; i < LXB_HIST_BUCKETS; i++) to->c[i] += from->c[i];
}

uint64_t lxb_hist_quantile(const lxb_hist_t *h, uint32_t ppm) {
    if (h->count == 0) return 0;
    if (ppm > 1000000) ppm = 1000000;
    uint64_t want = (uint64_t)(((unsigned __int128)h->count * ppm + 999999) / 1000000);
    if (want == 0) want = 1;
    uint64_t run = 0;
    for (uint32_t i = 0; i < LXB_HIST_BUCKETS; i++) {
        run += h->c[i];
        if (run >= want) {
            uint64_t v = lxb_hist_bucket_high(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

/* Checks the layout and the quantiles on known data. */
int lxb_hist_selftest(void) {
    for (uint32_t i = 0; i + 1 < LXB_HIST_BUCKETS; i++) {
        uint64_t lo = lxb_hist_bucket_low(i), hi = lxb_hist_bucket_high(i);
        if (lxb_hist_index(lo) != i || lxb_hist_index(hi) != i ||
            lxb_hist_bucket_low(i + 1) != hi + 1 || (hi - lo) * 128 > lo) {
            fprintf(stderr, "hist selftest: bucket %u [%llu, %llu] is wrong\n", i,
                    (unsigned long long)lo, (unsigned long long)hi);
            return -1;
        }
    }
    static lxb_hist_t h;
    lxb_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++) lxb_hist_record(&h, v * 10); /* 10 .. 1,000,000 */
    struct {
        uint32_t ppm;
        uint64_t want;
    } q[] = {{500000, 500000}, {990000, 990000}, {999000, 999000}, {1000000, 1000000}};
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        uint64_t got = lxb_hist_quantile(&h, q[k].ppm);
        if (got < q[k].want || got > q[k].want + q[k].want / 128) {
            fprintf(stderr, "hist selftest: quantile %u: %llu, want %llu (+0.8%%)\n", q[k].ppm,
                    (unsigned long long)got, (unsigned long long)q[k].want);
            return -1;
        }
    }
    if (h.max != 1000000 || h.min != 10 || h.count != 100000) {
        fprintf(stderr, "hist selftest: count/min/max wrong\n");
        return -1;
    }
    return 0;
}
