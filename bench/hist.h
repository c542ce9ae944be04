/*
 * hist.h: a small log-linear latency histogram in the manner of
 * HdrHistogram.
 *
 * Values (clock ticks or nanoseconds, any unsigned 64-bit) below 256 have a
 * bucket each; above, every power-of-two octave is split into 128 equal
 * buckets, so a bucket is at most 1/128 (0.8%) of its values wide at every
 * magnitude. 7,424 counters (58 KiB) cover the whole 64-bit range: recording
 * is a count-leading-zeros, a shift and an increment, with no branch on the
 * magnitude beyond one compare and no allocation. Quantiles report the
 * highest value of the bucket that holds them (never understating a tail),
 * clamped to the exact maximum, which is kept separately.
 */
#ifndef LXB_HIST_H
#define LXB_HIST_H

#include <stdint.h>

#define LXB_HIST_SUB_BITS 7
#define LXB_HIST_SUB (1u << LXB_HIST_SUB_BITS)
#define LXB_HIST_BUCKETS ((64 - LXB_HIST_SUB_BITS) * LXB_HIST_SUB + LXB_HIST_SUB)

typedef struct {
    uint64_t count;
    uint64_t min, max;
    uint64_t c[LXB_HIST_BUCKETS];
} lxb_hist_t;

void lxb_hist_init(lxb_hist_t *h);

/* Adds from's counts (and min, max) to to's. */
void lxb_hist_add(lxb_hist_t *to, const lxb_hist_t *from);

static inline uint32_t lxb_hist_index(uint64_t v) {
    if (v < 2 * LXB_HIST_SUB) return (uint32_t)v;
    int shift = 63 - __builtin_clzll(v) - LXB_HIST_SUB_BITS;
    return (uint32_t)shift * LXB_HIST_SUB + (uint32_t)(v >> shift);
}

static inline void lxb_hist_record(lxb_hist_t *h, uint64_t v) {
    h->c[lxb_hist_index(v)]++;
    h->count++;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

/* The value at quantile ppm (500000 = median, 999000 = p99.9): the highest
 * value of the bucket where the running count first reaches
 * ceil(count * ppm / 1e6), at most max. 0 for an empty histogram. */
uint64_t lxb_hist_quantile(const lxb_hist_t *h, uint32_t ppm);

/* Checks bucket layout and quantiles; 0, or -1 with a message on stderr. */
int lxb_hist_selftest(void);

/* The range of values bucket i holds (for tests of the histogram itself). */
uint64_t lxb_hist_bucket_low(uint32_t i);
uint64_t lxb_hist_bucket_high(uint32_t i);

#endif
