/*
 * idx.h: the hash index used for client ids, balances and deposit ids
 * (inline, so the equality test inlines into each caller).
 *
 * Entries are 64-bit: the high half holds a 32-bit tag taken from the key's
 * hash (its top bit forced to 1, so no tag is 0), the low half value + 1;
 * 0 marks an empty entry. The key itself is not stored: a tag match is
 * confirmed by the caller's eq() against the record the value points to, so
 * an entry costs 8 bytes.
 *
 * The entries are grouped in buckets of 8, one 64-byte cache line each. A
 * key's home bucket is tag & (buckets - 1); it lives there or, when that
 * bucket was full at its insertion, in the first bucket after it with room
 * (probing bucket by bucket). A lookup compares its tag with all 8 entries
 * of a bucket at once (SSE2 where the compiler has it, else 8 scalar
 * compares that need no branch), so a lookup is normally one cache line
 * and no data-dependent branch but the eq() of a matching tag. Each bucket
 * counts the entries that were stored past it (over[]); a lookup stops at
 * the first bucket whose count is 0. Deletion clears the entry and
 * decrements the counts on its path: no tombstones and no shifting. A count
 * that reaches 255 stays there (the lookups through it go one bucket
 * further) until the table is next rebuilt.
 *
 * (Before, this was linear probing with backward-shift deletion over single
 * entries: the probe and the shift loops stopped at data-dependent places,
 * about 2.5 branch mispredictions per message on the realistic workload in
 * the client-id index (callgrind's model), the engine's largest source of
 * them.)
 *
 * The table doubles when 3/4 full. Growth is O(n) and happens on the
 * command that crosses the bound (a cost paid once per doubling). Nothing
 * about the layout is state: digests and snapshots never see it.
 */
#ifndef LX_IDX_H
#define LX_IDX_H

#include <stdlib.h>
#include "core.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The hash: murmur3's 64-bit finalizer over the two key words. Keys here
 * are small integers (account, asset, client id, deposit id) that clients
 * choose, so the mix must spread sequential and patterned keys; a client
 * who picks keys to collide lengthens only its own entries' probes. */
static inline uint64_t lx__fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t lx__hash2(uint64_t a, uint64_t b) {
    return lx__fmix64(a * 0x9e3779b97f4a7c15ULL ^ lx__fmix64(b + 0x632be59bd9b4e019ULL));
}

typedef bool (*lx__idx_eq_fn)(const void *ctx, uint32_t value, const void *key);

#define LX__IDX_B 8u /* entries per bucket */

static inline uint32_t lx__idx_tag(uint64_t hash) {
    return (uint32_t)hash | 0x80000000u;
}

/* Bit j set: entry j of the bucket has this tag. *empty: bit j set if
 * entry j is empty. */
static inline uint32_t lx__idx_scan(const uint64_t *s, uint32_t tag, uint32_t *empty) {
#if defined(__SSE2__)
    __m128 a = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(const void *)s));
    __m128 b = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(const void *)(s + 2)));
    __m128 c = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(const void *)(s + 4)));
    __m128 d = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(const void *)(s + 6)));
    __m128i hi0 = _mm_castps_si128(_mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    __m128i hi1 = _mm_castps_si128(_mm_shuffle_ps(c, d, _MM_SHUFFLE(3, 1, 3, 1)));
    __m128i t = _mm_set1_epi32((int)tag), z = _mm_setzero_si128();
    uint32_t m = (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi0, t))) |
                 (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi1, t))) << 4;
    /* a used entry's tag is never 0, so "empty" is "high half 0" */
    *empty = (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi0, z))) |
             (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi1, z))) << 4;
    return m;
#else
    uint32_t m = 0, z = 0;
    for (uint32_t j = 0; j < LX__IDX_B; j++) {
        uint32_t h = (uint32_t)(s[j] >> 32);
        m |= (uint32_t)(h == tag) << j;
        z |= (uint32_t)(h == 0) << j;
    }
    *empty = z;
    return m;
#endif
}

/* The value stored for key (LX__NIL if absent); with hole != NULL, when the
 * key is absent, *hole is the entry an insert of this hash would take
 * (valid until the table next changes). */
static inline uint32_t lx__idx_lookup(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq,
                                      const void *ctx, const void *key, uint32_t *hole) {
    uint32_t tag = lx__idx_tag(hash), bm = t->mask / LX__IDX_B;
    uint32_t b = tag & bm;
    uint32_t empty, h = LX__NIL;
    for (uint32_t k = 0; k <= bm; k++) { /* at most every bucket once */
        const uint64_t *s = t->slots + (size_t)b * LX__IDX_B;
        for (uint32_t m = lx__idx_scan(s, tag, &empty); m; m &= m - 1) {
            uint32_t v = (uint32_t)s[__builtin_ctz(m)] - 1;
            if (eq(ctx, v, key)) return v;
        }
        /* the first bucket with room on the way is what an insert takes */
        if (hole && h == LX__NIL && empty) h = b * LX__IDX_B + (uint32_t)__builtin_ctz(empty);
        if (!t->over[b]) break;
        b = (b + 1) & bm;
    }
    if (hole) {
        /* every bucket looked at was full: go on to the first with room
         * (the table is never full) */
        while (h == LX__NIL) {
            b = (b + 1) & bm;
            lx__idx_scan(t->slots + (size_t)b * LX__IDX_B, tag, &empty);
            if (empty) h = b * LX__IDX_B + (uint32_t)__builtin_ctz(empty);
        }
        *hole = h;
    }
    return LX__NIL;
}

static inline uint32_t lx__idx_find(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq,
                                    const void *ctx, const void *key) {
    return lx__idx_lookup(t, hash, eq, ctx, key, NULL);
}

/* Like lx__idx_find; when the key is absent, *hole is the entry an insert
 * of this hash would take (valid until the table next changes). */
static inline uint32_t lx__idx_find_hole(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq,
                                         const void *ctx, const void *key, uint32_t *hole) {
    return lx__idx_lookup(t, hash, eq, ctx, key, hole);
}

/* Stores an entry at `hole` for a key whose home bucket is `home`, counting
 * it as stored past the buckets between. */
static inline void lx__idx_place(uint64_t *slots, uint8_t *over, uint32_t bm, uint32_t hole,
                                 uint32_t tag, uint32_t value) {
    uint32_t last = hole / LX__IDX_B;
    for (uint32_t b = tag & bm; b != last; b = (b + 1) & bm)
        if (over[b] != 255) over[b]++;
    slots[hole] = ((uint64_t)tag << 32) | ((uint64_t)value + 1);
}

/* Inserts at a hole from lx__idx_find_hole (room reserved beforehand). */
static inline void lx__idx_put(lx__idx_t *t, uint32_t hole, uint64_t hash, uint32_t value) {
    lx__idx_place(t->slots, t->over, t->mask / LX__IDX_B, hole, lx__idx_tag(hash), value);
    t->count++;
}

/* The first empty entry from tag's home bucket on (there is one). */
static inline uint32_t lx__idx_free_entry(const uint64_t *slots, uint32_t bm, uint32_t tag) {
    uint32_t empty;
    for (uint32_t b = tag & bm;; b = (b + 1) & bm) {
        lx__idx_scan(slots + (size_t)b * LX__IDX_B, tag, &empty);
        if (empty) return b * LX__IDX_B + (uint32_t)__builtin_ctz(empty);
    }
}

/* Zeroed tables of n entries (n a power of two >= 16); LX_ENOMEM. */
static inline int lx__idx_alloc(uint64_t **slots, uint8_t **over, uint32_t n) {
    *slots = aligned_alloc(64, (size_t)n * sizeof **slots);
    *over = calloc(n / LX__IDX_B, 1);
    if (!*slots || !*over) {
        free(*slots);
        free(*over);
        return LX_ENOMEM;
    }
    memset(*slots, 0, (size_t)n * sizeof **slots);
    return 0;
}

/* Doubles the table (off the hot path: not inlined into the reserve
 * checks that precede every insert). */
static __attribute__((noinline, unused)) int lx__idx_grow(lx__idx_t *t) {
    uint32_t ncap = (t->mask + 1) * 2;
    if (ncap == 0) return LX_ENOMEM;
    uint64_t *ns;
    uint8_t *no;
    if (lx__idx_alloc(&ns, &no, ncap)) return LX_ENOMEM;
    uint32_t bm = ncap / LX__IDX_B - 1;
    for (uint32_t i = 0; i <= t->mask; i++) {
        uint64_t s = t->slots[i];
        if (!s) continue;
        uint32_t tag = (uint32_t)(s >> 32);
        lx__idx_place(ns, no, bm, lx__idx_free_entry(ns, bm, tag), tag, (uint32_t)s - 1);
    }
    free(t->slots);
    free(t->over);
    t->slots = ns;
    t->over = no;
    t->mask = ncap - 1;
    return 0;
}

/* The memory the table holds. */
static inline size_t lx__idx_bytes(const lx__idx_t *t) {
    return (size_t)(t->mask + 1) * 65 / 8;
}

/* Grows now if `extra` more entries would cross the load bound, so the
 * inserts that follow cannot fail. */
static inline int lx__idx_reserve(lx__idx_t *t, uint32_t extra) {
    while ((uint64_t)(t->count + extra) * 4 > (uint64_t)(t->mask + 1) * 3) {
        int rc = lx__idx_grow(t);
        if (rc) return rc;
    }
    return 0;
}

/* The caller guarantees the key is absent. */
static inline int lx__idx_insert(lx__idx_t *t, uint64_t hash, uint32_t value) {
    int rc = lx__idx_reserve(t, 1);
    if (rc) return rc;
    uint32_t tag = lx__idx_tag(hash), bm = t->mask / LX__IDX_B;
    lx__idx_place(t->slots, t->over, bm, lx__idx_free_entry(t->slots, bm, tag), tag, value);
    t->count++;
    return 0;
}

/* Removes the entry holding exactly (hash, value); it must be present. */
static inline void lx__idx_remove(lx__idx_t *t, uint64_t hash, uint32_t value) {
    uint32_t tag = lx__idx_tag(hash), bm = t->mask / LX__IDX_B;
    uint64_t want = ((uint64_t)tag << 32) | ((uint64_t)value + 1);
    uint32_t home = tag & bm, b = home, empty;
    for (;;) {
        uint64_t *s = t->slots + (size_t)b * LX__IDX_B;
        uint32_t m = lx__idx_scan(s, tag, &empty);
        for (; m; m &= m - 1) {
            uint32_t j = (uint32_t)__builtin_ctz(m);
            if (s[j] == want) {
                s[j] = 0;
                for (uint32_t p = home; p != b; p = (p + 1) & bm)
                    if (t->over[p] != 255) t->over[p]--;
                t->count--;
                return;
            }
        }
        LX_ASSERT(t->over[b] != 0);
        b = (b + 1) & bm;
    }
}

#endif
