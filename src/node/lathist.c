/*
 * lathist.c: the read side of lx/lathist.h (the write side is inline).
 *
 * Bucket i < 16 holds exactly the value i. From there, bucket
 * shift * 8 + m (8 <= m < 16) holds [m << shift, (m + 1) << shift), so the
 * index is computed from the value's top four bits and its magnitude, and
 * the upper bound of a bucket from its index alone. Quantiles walk the
 * counters once; readers never block the writer.
 */
#include "lx/lathist.h"

uint64_t lx_lathist_upper(uint32_t i) {
    if (i < 2 * LX_LATHIST_SUB) return i;
    uint32_t shift = i / LX_LATHIST_SUB - 1;
    uint64_t m = i % LX_LATHIST_SUB + LX_LATHIST_SUB;
    if (m + 1 == 2 * LX_LATHIST_SUB && shift + LX_LATHIST_SUB_BITS + 1 >= 64)
        return UINT64_MAX; /* the last bucket: (16 << 60) - 1 would overflow */
    return ((m + 1) << shift) - 1;
}

void lx_lathist_merge(lx_lathist_t *dst, const lx_lathist_t *src) {
    for (uint32_t i = 0; i < LX_LATHIST_BUCKETS; i++)
        atomic_fetch_add_explicit(&dst->c[i],
                                  atomic_load_explicit(&src->c[i], memory_order_relaxed),
                                  memory_order_relaxed);
    atomic_fetch_add(&dst->count, atomic_load_explicit(&src->count, memory_order_relaxed));
    atomic_fetch_add(&dst->sum, atomic_load_explicit(&src->sum, memory_order_relaxed));
    uint64_t m = atomic_load_explicit(&src->max, memory_order_relaxed);
    if (m > atomic_load(&dst->max)) atomic_store(&dst->max, m);
}

uint64_t lx_lathist_quantile(const lx_lathist_t *h, uint32_t ppm) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < LX_LATHIST_BUCKETS; i++)
        total += atomic_load_explicit(&h->c[i], memory_order_relaxed);
    if (total == 0) return 0;
    uint64_t want = (total * ppm + 999999) / 1000000;
    if (want == 0) want = 1;
    uint64_t run = 0, max = atomic_load_explicit(&h->max, memory_order_relaxed);
    for (uint32_t i = 0; i < LX_LATHIST_BUCKETS; i++) {
        run += atomic_load_explicit(&h->c[i], memory_order_relaxed);
        if (run >= want) {
            uint64_t u = lx_lathist_upper(i);
            return u < max ? u : max;
        }
    }
    return max;
}
