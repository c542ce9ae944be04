/*
 * idx.h: the open-addressing hash index used for client ids, balances and
 * deposit ids (inline, so the equality test inlines into each caller).
 *
 * Linear probing over 64-bit slots: the high half holds the low 32 bits of
 * the key's hash (the tag), the low half value + 1 (0 marks an empty slot).
 * The key itself is not stored: a tag match is confirmed by the caller's
 * eq() against the record the value points to, so an entry costs 8 bytes.
 * The home of an entry is tag & mask, which is also how the table rehashes
 * on growth and how deletion finds what to shift back (backward-shift
 * deletion: no tombstones, so probe lengths never degrade).
 *
 * The table doubles when 3/4 full. Growth is O(n) and happens on the
 * command that crosses the bound (a cost paid once per doubling).
 */
#ifndef LX_IDX_H
#define LX_IDX_H

#include <stdlib.h>
#include "core.h"

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

static inline uint32_t lx__idx_find(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq,
                                    const void *ctx, const void *key) {
    uint32_t tag = (uint32_t)hash;
    for (uint32_t i = tag & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (s == 0) return LX__NIL;
        if ((uint32_t)(s >> 32) == tag && eq(ctx, (uint32_t)s - 1, key)) return (uint32_t)s - 1;
    }
}

/* Like lx__idx_find; when the key is absent, *hole is the empty slot an
 * insert of this hash would take (valid until the table next changes). */
static inline uint32_t lx__idx_find_hole(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq,
                                         const void *ctx, const void *key, uint32_t *hole) {
    uint32_t tag = (uint32_t)hash;
    for (uint32_t i = tag & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (s == 0) {
            *hole = i;
            return LX__NIL;
        }
        if ((uint32_t)(s >> 32) == tag && eq(ctx, (uint32_t)s - 1, key)) return (uint32_t)s - 1;
    }
}

/* Inserts at a hole from lx__idx_find_hole (room reserved beforehand). */
static inline void lx__idx_put(lx__idx_t *t, uint32_t hole, uint64_t hash, uint32_t value) {
    t->slots[hole] = ((uint64_t)(uint32_t)hash << 32) | ((uint64_t)value + 1);
    t->count++;
}

static inline int lx__idx_grow(lx__idx_t *t) {
    uint32_t ncap = (t->mask + 1) * 2;
    if (ncap == 0) return LX_ENOMEM;
    uint64_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return LX_ENOMEM;
    for (uint32_t i = 0; i <= t->mask; i++) {
        uint64_t s = t->slots[i];
        if (!s) continue;
        uint32_t j = (uint32_t)(s >> 32) & (ncap - 1);
        while (ns[j]) j = (j + 1) & (ncap - 1);
        ns[j] = s;
    }
    free(t->slots);
    t->slots = ns;
    t->mask = ncap - 1;
    return 0;
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
    if ((uint64_t)(t->count + 1) * 4 > (uint64_t)(t->mask + 1) * 3) {
        int rc = lx__idx_grow(t);
        if (rc) return rc;
    }
    uint32_t tag = (uint32_t)hash;
    uint32_t i = tag & t->mask;
    while (t->slots[i]) i = (i + 1) & t->mask;
    t->slots[i] = ((uint64_t)tag << 32) | ((uint64_t)value + 1);
    t->count++;
    return 0;
}

/* Removes the entry holding exactly (hash, value); it must be present. */
static inline void lx__idx_remove(lx__idx_t *t, uint64_t hash, uint32_t value) {
    uint64_t want = ((uint64_t)(uint32_t)hash << 32) | ((uint64_t)value + 1);
    uint32_t i = (uint32_t)hash & t->mask;
    while (t->slots[i] != want) {
        LX_ASSERT(t->slots[i] != 0);
        i = (i + 1) & t->mask;
    }
    /* backward shift: move later entries of the cluster into the hole when
     * their home is not in (hole, their position] cyclically. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & t->mask;; j = (j + 1) & t->mask) {
        uint64_t s = t->slots[j];
        if (!s) break;
        uint32_t home = (uint32_t)(s >> 32) & t->mask;
        if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
            t->slots[hole] = s;
            hole = j;
        }
    }
    t->slots[hole] = 0;
    t->count--;
}

#endif
