/*
 * idx.h: the hash index used for client ids, balances, deposit ids, GTD
 * expiries and key bytes (inline, so the equality test inlines into each
 * caller).
 *
 * The index maps a key to a 32-bit value (an order slot, an index into
 * balances[], deposit_ids[], gtx[] or keys[]) without storing the key: the
 * caller's eq() confirms a candidate against the record the value names.
 * What it does store is chosen for bytes per entry, because the client-id
 * index holds one entry per resting order and is part of the bytes per
 * resting order the engine is measured by. An entry is 5 bytes, an 8-bit
 * tag and the value, and 12 of them share a 64-byte, 64-aligned bucket,
 * one cache line:
 *
 *     bytes  0..11  tag[12]  8 bits of the key's hash, never 0; 0 = empty
 *     bytes 12..15  meta     bits 0-7: over, the entries stored past this
 *                            bucket (255: sticky); bits 8+2j, 9+2j: the
 *                            distance of entry j from its home bucket, 3
 *                            meaning "3 or more"; 0 for an empty entry
 *     bytes 16..63  val[12]  the values, val[j] belonging to tag[j]
 *
 * A table costs 64/12 = 5.33 bytes an entry; it grows by half when a
 * reserve would fill it past 11/16, so it holds between 11/24 and 11/16
 * of its entries, 7.8 to 11.6 bytes per stored key. (Before, entries were
 * 64-bit, a 32-bit tag beside the value, 8 to a bucket plus a byte of
 * overflow count, at most 3/4 full and doubling: 8.125 bytes an entry,
 * 10.8 to 21.7 per key; the client-id index cost 13.2 bytes per resting
 * order on the realistic workload, now 8.1.)
 *
 * The bucket count nb need not be a power of two. A key's home bucket is
 * the low 32 bits of its hash scaled onto [0, nb) by a multiply and a
 * shift ("fastrange"); its tag is the top 8 bits, with 0 read as 1, so the
 * tag says nothing about the home and a tag match in a bucket is a 1 in
 * 255 accident for another key. A key lives in its home bucket or, when
 * that was full, in the first bucket after it (wrapping at the end) with
 * room. A lookup compares its tag with the 12 tags of a bucket at once
 * (one 16-byte SSE2 compare where the compiler has it, else a scalar
 * loop), calls eq() only for the matches, and stops at the first bucket
 * whose over count is 0: normally one cache line, no data-dependent
 * branch but the eq() of a match, and for an absent key an eq() about
 * once in 27 lookups at the fullest.
 *
 * Deletion clears the entry, decrements the over counts on its path, and
 * then shifts back: an entry stored past the freed bucket that may sit in
 * it moves in, and the same is done for the place it left, until no entry
 * passes. Without the shift, churn (orders come and go all day) spreads
 * the clusters for good: a deleted entry's gap stays behind the entries
 * displaced past it, their over counts stay up, and an absent key's
 * lookup walked 2.1 buckets on average at 11/16 full (3.8 at 3/4); with
 * it, 1.13 (1.28), as if the table had only been inserted into. Which
 * entries may move back is what the distance hints say without reading
 * anything else; an entry hinted "3 or more" has its distance computed
 * from its hash (below), which at 11/16 full happens once in about 60
 * deletions. A count that reaches 255 stays there (the lookups through it
 * go one bucket further) until the table is next rebuilt.
 *
 * The price of storing 8 bits of hash is that the table cannot place an
 * entry from what it holds. Growing, and the rare distance above, ask the
 * owner for a value's hash through the function given to lx__idx_init,
 * which reads it off the record the value names: every value in the table
 * must name a record that holds its key whenever a reserve, an insert or
 * a remove runs. Growth reads one record per entry, spread over the
 * reserves that follow the command that crosses the bound: a bucket of the
 * old table per reserve, the two tables side by side meanwhile (idx.c).
 *
 * Why 11/16: the fuller the table, the more lookups walk a second bucket
 * and the more deletions move entries. Against the old index on the
 * realistic, swing, deep and crash workloads, a bound of 11/16 ran 1% to
 * 6% faster, 3/4 4% slower (for 1 byte an order less) and 7/8 13% slower;
 * 5/8 ran like 11/16 with 1 byte an order more. At the bound an absent
 * key's lookup reads 1.13 buckets and a deletion moves an entry about
 * once in 6. Nothing about the layout is state: digests and snapshots
 * never see it.
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

#define LX__IDX_B 12u /* entries per bucket */
/* A hole is bucket * 16 + entry; the bound keeps it below LX__NIL. */
#define LX__IDX_MAX_NB ((1u << 28) - 1)

struct lx__idx_bucket {
    _Alignas(64) uint8_t tag[LX__IDX_B]; /* 0 = empty */
    uint32_t meta; /* bits 0-7: over, the entries stored past this bucket (255:
                    * sticky); bits 8+2j and 9+2j: how far entry j is from home */
    uint32_t val[LX__IDX_B];
};
typedef struct lx__idx_bucket lx__idx_bucket_t;
_Static_assert(sizeof(lx__idx_bucket_t) == 64, "a bucket is one cache line");

/* The memory the table holds: its tables and its reserve. */
static inline size_t lx__idx_bytes(const lx__idx_t *t) {
    size_t nb = (t->mem ? t->nb : 0) + (t->old && t->old_mem ? t->ocap : 0);
    if (t->arena) nb += (size_t)t->reg_nb[0] + t->reg_nb[1];
    return nb * sizeof(lx__idx_bucket_t);
}

static inline uint32_t lx__idx_tag(uint64_t hash) {
    uint32_t g = (uint32_t)(hash >> 56);
    return g ? g : 1;
}

/* The home bucket: the low half of the hash (the tag is the top byte)
 * scaled onto [0, nb). */
static inline uint32_t lx__idx_home(uint64_t hash, uint32_t nb) {
    return (uint32_t)(((uint64_t)(uint32_t)hash * nb) >> 32);
}

/* The over count: entries stored past the bucket whose home is at or
 * before it. */
static inline uint32_t lx__idx_over(const lx__idx_bucket_t *s) {
    return s->meta & 0xffu;
}

/* A count that reached 255 stays (until the table is rebuilt). */
static inline void lx__idx_over_inc(lx__idx_bucket_t *s) {
    if ((s->meta & 0xffu) != 0xffu) s->meta++;
}

static inline void lx__idx_over_dec(lx__idx_bucket_t *s) {
    if ((s->meta & 0xffu) != 0xffu) s->meta--;
}

/* The distance hints of a bucket: bits 2j and 2j+1 for entry j, 0 for an
 * empty entry. */
static inline uint32_t lx__idx_hints(const lx__idx_bucket_t *s) {
    return s->meta >> 8;
}

static inline void lx__idx_set_hint(lx__idx_bucket_t *s, uint32_t j, uint32_t d) {
    uint32_t sh = 8 + 2 * j;
    s->meta = (s->meta & ~(3u << sh)) | d << sh;
}

/* Bit j set: entry j of the bucket has this tag. *empty: bit j set if
 * entry j is empty. */
static inline uint32_t lx__idx_scan(const lx__idx_bucket_t *s, uint32_t tag, uint32_t *empty) {
#if defined(__SSE2__)
    /* the 16 bytes are the 12 tags and meta; the mask drops meta */
    __m128i v = _mm_load_si128((const __m128i *)(const void *)s->tag);
    uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)tag)));
    *empty = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) & 0xfffu;
    return m & 0xfffu;
#else
    uint32_t m = 0, z = 0;
    for (uint32_t j = 0; j < LX__IDX_B; j++) {
        m |= (uint32_t)(s->tag[j] == tag) << j;
        z |= (uint32_t)(s->tag[j] == 0) << j;
    }
    *empty = z;
    return m;
#endif
}

/* idx.c: the lookup in the table being moved (out of line: only while the
 * index grows, and there only for keys the new table lacks). */
LX_COLD uint32_t lx__idx_find_old(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq,
                                  const void *ctx, const void *key);

/* The value stored for key (LX__NIL if absent). While the index grows a
 * key is in exactly one of its two tables, and inserts go to the new one:
 * a key the new table lacks is looked for in the old one (idx.c). */
static inline uint32_t lx__idx_find(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq,
                                    const void *ctx, const void *key) {
    uint32_t tag = lx__idx_tag(hash), nb = t->nb;
    uint32_t b = lx__idx_home(hash, nb);
    uint32_t empty;
    for (uint32_t k = 0; k < nb; k++) { /* at most every bucket once */
        const lx__idx_bucket_t *s = &t->bkt[b];
        for (uint32_t m = lx__idx_scan(s, tag, &empty); m; m &= m - 1) {
            uint32_t v = s->val[__builtin_ctz(m)];
            if (eq(ctx, v, key)) return v;
        }
        if (!lx__idx_over(s)) break;
        if (++b == nb) b = 0;
    }
    if (LX_UNLIKELY(t->old != NULL)) return lx__idx_find_old(t, hash, eq, ctx, key);
    return LX__NIL;
}

/* Stores an entry at `hole` (bucket * 16 + entry) for a key whose home
 * bucket is `home`, counting it as stored past the buckets between. */
static inline void lx__idx_place(lx__idx_bucket_t *bkt, uint32_t nb, uint32_t home, uint32_t hole,
                                 uint32_t tag, uint32_t value) {
    uint32_t last = hole / 16, d = 0;
    for (uint32_t b = home; b != last; b = b + 1 == nb ? 0 : b + 1, d++) lx__idx_over_inc(&bkt[b]);
    bkt[last].tag[hole % 16] = (uint8_t)tag;
    bkt[last].val[hole % 16] = value;
    lx__idx_set_hint(&bkt[last], hole % 16, d < 3 ? d : 3);
}

/* The first empty entry from bucket b on (there is one). */
static inline uint32_t lx__idx_free_entry(const lx__idx_bucket_t *bkt, uint32_t nb, uint32_t b) {
    uint32_t empty;
    for (;; b = b + 1 == nb ? 0 : b + 1) {
        lx__idx_scan(&bkt[b], 0, &empty);
        if (empty) return b * 16 + (uint32_t)__builtin_ctz(empty);
    }
}

/* The load bound, 11/16 full (see the top of the file). */
#define LX__IDX_LOAD_NUM 11
#define LX__IDX_LOAD_DEN 16

/* Whether nb buckets hold n entries within the load bound. */
static inline bool lx__idx_fits(uint64_t n, uint64_t nb) {
    return n * LX__IDX_LOAD_DEN <= nb * LX__IDX_B * LX__IDX_LOAD_NUM;
}

/* idx.c: while the index grows, moves the last bucket not yet moved of the
 * old table into the new one (giving back the old table's memory behind it
 * in steps, and freeing it after its first bucket); then, if `extra` more
 * entries would cross the load bound, starts growing: a new table with at
 * least half as many buckets again, into which the old one moves from then
 * on. LX_ENOMEM changes nothing. */
LX_COLD int lx__idx_reserve_slow(lx__idx_t *t, uint32_t extra);

/* idx.c: memory for the table to grow to n entries without allocating:
 * the two regions its tables take in turn (for a host that commits its
 * memory at start: lx_engine_reserve). The table itself keeps the size its
 * entries need. Once per index: a second call changes nothing. */
int lx__idx_presize(lx__idx_t *t, uint32_t n);

/* idx.c: a new index (*out) holding t's entries, each placed by the hash
 * the owner gives for it now (after the owner's hash changed: the engine's
 * seed); t is untouched. 0, or LX_ENOMEM with nothing in *out. */
int lx__idx_rehashed(const lx__idx_t *t, lx__idx_t *out);

/* The deep check (idx.c): 0, LX_ECORRUPT, or LX_ENOMEM. */
int lx__idx_validate(const lx__idx_t *t);

/* Grows now if `extra` more entries would cross the load bound, so the
 * inserts that follow cannot fail. */
static inline int lx__idx_reserve(lx__idx_t *t, uint32_t extra) {
    if (LX_LIKELY(t->old == NULL && lx__idx_fits((uint64_t)t->count + extra, t->nb))) return 0;
    return lx__idx_reserve_slow(t, extra);
}

/* The caller guarantees the key is absent. */
static inline int lx__idx_insert(lx__idx_t *t, uint64_t hash, uint32_t value) {
    int rc = lx__idx_reserve(t, 1);
    if (rc) return rc;
    uint32_t home = lx__idx_home(hash, t->nb);
    lx__idx_place(t->bkt, t->nb, home, lx__idx_free_entry(t->bkt, t->nb, home), lx__idx_tag(hash),
                  value);
    t->count++;
    return 0;
}

/* How far bucket c is from the home of the entry holding `value` (asks
 * the owner for its hash: for entries whose hint says only "3 or more"). */
static inline uint32_t lx__idx_dist(const lx__idx_t *t, uint32_t c, uint32_t value) {
    uint32_t home = lx__idx_home(t->hash(t->ctx, value), t->nb);
    return c >= home ? c - home : c + t->nb - home;
}

/* An entry of bucket c that is at least k buckets from its home: sets *j
 * to it and returns its distance; 0 if there is none. Exact hints first,
 * so that the owner's hash is asked only when no such entry has one. */
static inline uint32_t lx__idx_pick(const lx__idx_t *t, uint32_t c, uint32_t k, uint32_t *j) {
    const lx__idx_bucket_t *s = &t->bkt[c];
    uint32_t w = lx__idx_hints(s), far = w & w >> 1 & 0x555555u; /* hint 3 */
    uint32_t m = (k == 1 ? w | w >> 1 : k == 2 ? w >> 1 : 0) & 0x555555u & ~far;
    if (m) {
        *j = (uint32_t)__builtin_ctz(m) / 2;
        return w >> (2 * *j) & 3;
    }
    for (; far; far &= far - 1) {
        *j = (uint32_t)__builtin_ctz(far) / 2;
        uint32_t d = lx__idx_dist(t, c, s->val[*j]);
        if (d >= k) return d;
    }
    return 0;
}

/* Refills the free entry (h, e) left by a deletion, and then the one left
 * by the entry moved into it, and so on, while an entry stored past h
 * could sit in h: the backward shift that keeps every entry as near its
 * home as the others allow. (Without it churn spreads the clusters: a
 * deleted entry's gap stays behind the entries displaced past it, their
 * over counts stay up, and at 11/16 full an absent key's lookup walks 2
 * buckets, at 7/8 full dozens.) The candidates are the entries in the
 * buckets after h, as far as over counts say entries pass, that are at
 * least as far from home as from h. Their hints say how far up to 2, and
 * "3 or more"; only for the last kind, which are few, is the distance
 * computed from the hash. */
static inline void lx__idx_shift(lx__idx_t *t, uint32_t h, uint32_t e) {
    lx__idx_bucket_t *bkt = t->bkt;
    uint32_t nb = t->nb;
    while (lx__idx_over(&bkt[h])) {
        uint32_t c = h, k = 0, j = 0, d = 0;
        while (!d) {
            if (++k >= nb || (k > 1 && !lx__idx_over(&bkt[c]))) return; /* nothing passes c */
            c = c + 1 == nb ? 0 : c + 1;
            d = lx__idx_pick(t, c, k, &j);
        }
        bkt[h].tag[e] = bkt[c].tag[j];
        bkt[h].val[e] = bkt[c].val[j];
        lx__idx_set_hint(&bkt[h], e, d - k < 3 ? d - k : 3);
        bkt[c].tag[j] = 0;
        lx__idx_set_hint(&bkt[c], j, 0);
        for (uint32_t p = h; p != c; p = p + 1 == nb ? 0 : p + 1) lx__idx_over_dec(&bkt[p]);
        h = c;
        e = j;
    }
}

/* idx.c: removes (hash, value) from the table being moved if it is there
 * (without the shift: that table only empties). */
LX_COLD bool lx__idx_remove_old(lx__idx_t *t, uint64_t hash, uint32_t value);

/* Removes the entry holding exactly (hash, value); it must be present. */
static inline void lx__idx_remove(lx__idx_t *t, uint64_t hash, uint32_t value) {
    if (LX_UNLIKELY(t->old != NULL) && lx__idx_remove_old(t, hash, value)) return;
    uint32_t tag = lx__idx_tag(hash), nb = t->nb;
    uint32_t home = lx__idx_home(hash, nb), b = home, empty;
    for (;;) {
        lx__idx_bucket_t *s = &t->bkt[b];
        for (uint32_t m = lx__idx_scan(s, tag, &empty); m; m &= m - 1) {
            uint32_t j = (uint32_t)__builtin_ctz(m);
            if (s->val[j] == value) {
                s->tag[j] = 0;
                lx__idx_set_hint(s, j, 0);
                for (uint32_t p = home; p != b; p = p + 1 == nb ? 0 : p + 1)
                    lx__idx_over_dec(&t->bkt[p]);
                t->count--;
                lx__idx_shift(t, b, j);
                return;
            }
        }
        LX_ASSERT(lx__idx_over(s) != 0);
        b = b + 1 == nb ? 0 : b + 1;
    }
}

#endif
