/*
 * lx/lathist.h: a latency histogram one thread writes and any thread reads.
 *
 * The node's stages record how long each command took to reach them
 * (docs/node.md, "Latency by stage"); /metrics and lxdex-bench read the
 * histograms while the node runs. Values are nanoseconds. Below 16 every
 * value has its bucket; above, each power-of-two octave is split into 8
 * buckets, so a bucket is at most 12.5% of its values wide: coarse, but 488
 * counters cover up to 2^63 ns and recording is a count-leading-zeros, a
 * shift and one relaxed store (the writer is alone, so no read-modify-write
 * is needed; a reader sees each counter whole, and the set of counters as of
 * roughly one instant).
 */
#ifndef LX_LATHIST_H
#define LX_LATHIST_H

#include <stdatomic.h>
#include <stdint.h>

#define LX_LATHIST_SUB_BITS 3
#define LX_LATHIST_SUB (1u << LX_LATHIST_SUB_BITS)
#define LX_LATHIST_BUCKETS ((64 - LX_LATHIST_SUB_BITS) * LX_LATHIST_SUB + LX_LATHIST_SUB)

typedef struct {
    _Atomic uint64_t count, sum, max;
    _Atomic uint64_t c[LX_LATHIST_BUCKETS];
} lx_lathist_t;

static inline uint32_t lx_lathist_index(uint64_t v) {
    if (v < 2 * LX_LATHIST_SUB) return (uint32_t)v;
    int shift = 63 - __builtin_clzll(v) - LX_LATHIST_SUB_BITS;
    return (uint32_t)shift * LX_LATHIST_SUB + (uint32_t)(v >> shift);
}

/* Records one value. One writer per histogram. */
static inline void lx_lathist_add(lx_lathist_t *h, uint64_t v) {
    _Atomic uint64_t *b = &h->c[lx_lathist_index(v)];
    atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&h->count, atomic_load_explicit(&h->count, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&h->sum, atomic_load_explicit(&h->sum, memory_order_relaxed) + v,
                          memory_order_relaxed);
    if (v > atomic_load_explicit(&h->max, memory_order_relaxed))
        atomic_store_explicit(&h->max, v, memory_order_relaxed);
}

/* The highest value bucket i holds (for Prometheus `le` bounds). */
uint64_t lx_lathist_upper(uint32_t i);
/* dst += src, counter by counter (dst has no concurrent writer). */
void lx_lathist_merge(lx_lathist_t *dst, const lx_lathist_t *src);
/* The value at quantile ppm (500000 = median): the upper bound of the bucket
 * where the running count reaches ceil(count * ppm / 1e6), at most max; 0
 * when empty. */
uint64_t lx_lathist_quantile(const lx_lathist_t *h, uint32_t ppm);

#endif
