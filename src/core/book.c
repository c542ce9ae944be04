/*
 * book.c: price levels and the two sides of a market's book.
 *
 * A side is a sorted array of level keys (price for bids, -price for asks)
 * with the best level at the end, plus a parallel array of level indices.
 * Why an array and not a tree: order flow concentrates at the touch (most
 * adds, cancels and all fills happen within a few levels of it), and at the
 * end of an array those are O(1) pushes and pops on memory that stays in
 * cache. Finding a level looks at the last 8 keys (near the best, where
 * most lookups land), else binary-searches the rest without branches (see
 * side_lower_bound), so a deep book costs O(log n) to find a level.
 *
 * The array keeps free room at both ends (`front` entries before keys[0],
 * the rest after keys[n-1]), and an insert moves the entries between the
 * new key and the nearer end (8 + 4 bytes each). In a book that is deep
 * and moving (swing: ~2,000 levels a side while the price trends 35% up
 * and back), most new levels open in the half of the array away from the
 * touch; with room only at the top each of them moved about 1,900
 * entries, and memmove was 40% of the workload's instructions (now 2%).
 * When the end an insert needs is full, the entries are re-centred in
 * their allocation (free room split evenly), or, if the allocation is
 * nearly full, moved the other way. A price that moves far only changes
 * where the ends are; a flash crash that sweeps many levels pops them one
 * by one. Nothing here depends on a fixed price centre or a preallocated
 * price range, so 100,000 markets cost nothing until they hold orders.
 *
 * A level that empties and is not the best stays where it is as a
 * tombstone: its entry and its level record (count 0, no orders) remain,
 * so removing it neither moves the entries behind it nor searches for its
 * position (in a swing, most levels that empty are hundreds of entries
 * from the touch: the search was 4% of that workload's instructions). A
 * later level whose key fits at or next to a tombstone takes its entry and
 * its record; the same price coming back revives it. The array is
 * compacted in one pass, freeing the tombstones' records, when they number
 * more than a quarter of the live levels (so they add little memory). The
 * best entry (the last) is never a tombstone: removing it also pops (and
 * frees) the tombstones before it.
 *
 * A level holds its orders as an intrusive doubly linked FIFO through the
 * order records (next/prev), with its total open quantity and count kept
 * exact at every change. A live level is never empty; an empty one is a
 * tombstone or gone (lx_engine_validate checks this).
 *
 * Appending an order, unlinking it and the room check before a place are
 * inline, in book.h; what they call when a level empties or something
 * must grow is here.
 *
 * Allocation: the side arrays grow by half when full (after compacting
 * tombstones, if there are many) and give a third back below a third
 * full, the level pool grows by a sixteenth (amortized, never per order:
 * it grows only when the book holds more levels than ever before). The
 * slack is part of the memory per resting order: from a quarter and a
 * half to these, realistic went from 66 to 64 bytes an order (seed 1;
 * 64.35), swing from 87 to 86 and crash from 101 to 96, at no cost
 * callgrind can see.
 */
#include <stdlib.h>
#include "book.h"

int lx__side_init(lx__side_t *s, uint32_t cap) {
    s->n = 0;
    s->live = 0;
    s->cap = 0;
    s->front = 0;
    s->keys = NULL;
    s->lv = NULL;
    if (cap == 0) return 0;
    int64_t *k = malloc((size_t)cap * sizeof *k);
    uint32_t *l = malloc((size_t)cap * sizeof *l);
    if (!k || !l) {
        free(k);
        free(l);
        return LX_ENOMEM;
    }
    s->front = cap / 2;
    s->keys = k + s->front;
    s->lv = l + s->front;
    s->cap = cap;
    return 0;
}

void lx__side_free(lx__side_t *s) {
    if (s->keys) free(s->keys - s->front);
    if (s->lv) free(s->lv - s->front);
    s->keys = NULL;
    s->lv = NULL;
    s->n = s->cap = s->live = s->front = 0;
}

/* Index of the first key >= key (n if none). Nearly every lookup lands
 * near the best, so the last 8 keys are looked at first, counted without a
 * branch per key, then the first 8 (the far end); otherwise a binary
 * search over the rest whose steps are conditional moves, not branches.
 * (Before, a scan with a branch per key and a branching binary search
 * mispredicted about 4 times per message on the swing workload, by
 * callgrind's branch model: the book's largest cost after the memmoves;
 * now about 1.3.) Inlined, with its 8-key scans unrolled: 10 to 20
 * instructions a message less on swing. */
static LX_ALWAYS_INLINE uint32_t side_lower_bound(const lx__side_t *s, int64_t key) {
    const int64_t *k = s->keys;
    uint32_t n = s->n;
    if (n <= 8) {
        uint32_t i = n;
        for (uint32_t j = 0; j < n; j++) i -= k[j] >= key;
        return i;
    }
    if (k[n - 8] < key) {
        uint32_t i = n;
#pragma GCC unroll 8
        for (uint32_t j = n - 8; j < n; j++) i -= k[j] >= key;
        return i;
    }
    if (n >= 24 && k[7] >= key) {
        /* the far end: in a deep book most new levels open behind all the
         * others (swing: 70% of them in the first 16 entries), where the
         * binary search would take its full ~11 steps */
        uint32_t i = 0;
#pragma GCC unroll 8
        for (uint32_t j = 0; j < 8; j++) i += k[j] < key;
        return i;
    }
    /* the answer is in [0, n - 8] */
    const int64_t *b = k;
    uint32_t len = n - 7;
    while (len > 1) {
        uint32_t half = len / 2;
        b += (size_t)(b[half - 1] < key) * half; /* no branch */
        len -= half;
    }
    return (uint32_t)(b - k);
}

uint32_t lx__side_find(const lx_engine_t *e, const lx__side_t *s, int64_t key) {
    uint32_t i = side_lower_bound(s, key);
    return (i < s->n && s->keys[i] == key && !lx__side_tomb(e, s, i)) ? i : LX__NIL;
}

static void level_release(lx_engine_t *e, uint32_t l);

/* Drops every tombstone in one pass, freeing its level. */
static void side_compact(lx_engine_t *e, lx__side_t *s) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (lx__side_tomb(e, s, i)) {
            level_release(e, s->lv[i]);
            continue;
        }
        s->keys[k] = s->keys[i];
        s->lv[k] = s->lv[i];
        k++;
    }
    s->n = k;
}

/* Moves the entries to a new allocation of ncap (>= n) entries, re-centred
 * (free room split evenly between the ends). */
static int side_realloc(lx__side_t *s, uint32_t ncap) {
    int64_t *k = malloc((size_t)ncap * sizeof *k);
    uint32_t *l = malloc((size_t)ncap * sizeof *l);
    if (!k || !l) {
        free(k);
        free(l);
        return LX_ENOMEM;
    }
    uint32_t front = (ncap - s->n) / 2;
    if (s->n) {
        memcpy(k + front, s->keys, (size_t)s->n * sizeof *k);
        memcpy(l + front, s->lv, (size_t)s->n * sizeof *l);
    }
    if (s->keys) free(s->keys - s->front);
    if (s->lv) free(s->lv - s->front);
    s->keys = k + front;
    s->lv = l + front;
    s->front = front;
    s->cap = ncap;
    return 0;
}

/* Room for one more entry at one end or the other (side_reserve): a full
 * array that holds many tombstones (a quarter of its entries) is compacted
 * in place, else it grows by half. Compacting first keeps a side's allocation
 * near twice its live levels when levels come and go far from the touch
 * (swing), instead of growing with the tombstones. Positions found before
 * the call are stale after it. */
static LX_NOINLINE int side_grow(lx_engine_t *e, lx__side_t *s) {
    if (s->n - s->live >= s->n / 4 && s->n - s->live >= 8) {
        side_compact(e, s);
        return 0;
    }
    uint32_t ncap = s->cap ? s->cap + s->cap / 2 : 8;
    if (ncap <= s->cap) return LX_ENOMEM;
    return side_realloc(s, ncap);
}

/* Gives back a third of the allocation of a side whose entries fill less than a
 * third of it (a side the price moved away from, or one emptied by a
 * sweep), so its memory follows the levels it holds; the entries then
 * fill half of it, so growth at full and shrinking cannot alternate on
 * every call. A failed allocation keeps the old array. */
static LX_NOINLINE void side_shrink(lx__side_t *s) {
    (void)side_realloc(s, s->cap - s->cap / 3);
}

static inline int side_reserve(lx_engine_t *e, lx__side_t *s) {
    return s->n < s->cap ? 0 : side_grow(e, s);
}

/* Moves the entries within their allocation so that the free room is split
 * evenly between the two ends. */
static void side_recenter(lx__side_t *s) {
    uint32_t front = (s->cap - s->n) / 2;
    int64_t *k = s->keys - s->front + front;
    uint32_t *l = s->lv - s->front + front;
    memmove(k, s->keys, (size_t)s->n * sizeof *k);
    memmove(l, s->lv, (size_t)s->n * sizeof *l);
    s->keys = k;
    s->lv = l;
    s->front = front;
}

/* Inserts (key, l) before position i (after side_reserve), moving the
 * entries between i and the nearer end of the array. */
static void side_insert(lx__side_t *s, uint32_t i, int64_t key, uint32_t l) {
    uint32_t n = s->n;
    uint32_t back = s->cap - s->front - n;
    bool down = i < n - i; /* fewer entries below i than from i up */
    if (down ? s->front == 0 : back == 0) {
        if (s->cap - n >= 16)
            side_recenter(s); /* at least 8 free at each end now */
        else
            down = !down; /* nearly full: the other end has the room */
    }
    if (down) {
        if (i) {
            memmove(s->keys - 1, s->keys, (size_t)i * sizeof *s->keys);
            memmove(s->lv - 1, s->lv, (size_t)i * sizeof *s->lv);
        }
        s->keys--;
        s->lv--;
        s->front--;
    } else if (i < n) {
        memmove(&s->keys[i + 1], &s->keys[i], (size_t)(n - i) * sizeof *s->keys);
        memmove(&s->lv[i + 1], &s->lv[i], (size_t)(n - i) * sizeof *s->lv);
    }
    s->keys[i] = key;
    s->lv[i] = l;
    s->n = n + 1;
}

/* The level pool grows by a sixteenth (from 64): its size follows the most
 * levels the book has held, which a swing makes several times the levels
 * near the touch, and it is part of the memory per resting order. */
static LX_NOINLINE int levels_grow(lx_engine_t *e) {
    uint32_t ncap = e->nlevels_cap ? e->nlevels_cap + e->nlevels_cap / 16 : 64;
    if (ncap <= e->nlevels_cap) return LX_ENOMEM;
    lx__level_t *nl = realloc(e->levels, (size_t)ncap * sizeof *nl);
    if (!nl) return LX_ENOMEM;
    e->levels = nl;
    e->nlevels_cap = ncap;
    return 0;
}

static uint32_t level_alloc(lx_engine_t *e) {
    if (e->level_free != LX__NIL) {
        uint32_t l = e->level_free;
        e->level_free = e->levels[l].head;
        e->levels_used++;
        return l;
    }
    if (e->levels_used == e->nlevels_cap && levels_grow(e)) return LX__NIL;
    /* free list empty: every allocated index 0..levels_used-1 is in use,
     * so levels_used is the next never-used index */
    return e->levels_used++;
}

static void level_release(lx_engine_t *e, uint32_t l) {
    e->levels[l].head = e->level_free;
    e->levels[l].count = 0;
    e->levels[l].qty = 0;
    e->level_free = l;
    e->levels_used--;
}

int lx__levels_reserve(lx_engine_t *e, uint32_t n) {
    if (n <= e->nlevels_cap) return 0;
    lx__level_t *nl = realloc(e->levels, (size_t)n * sizeof *nl);
    if (!nl) return LX_ENOMEM;
    e->levels = nl;
    e->nlevels_cap = n;
    return 0;
}

int lx__book_reserve_slow(lx_engine_t *e, lx__market_t *m, int side) {
    if (side_reserve(e, &m->side[side])) return LX_ENOMEM;
    if (e->level_free == LX__NIL && e->levels_used == e->nlevels_cap) return levels_grow(e);
    return 0;
}

uint32_t lx__book_level_get(lx_engine_t *e, lx__market_t *m, uint32_t market, int side,
                            int64_t price) {
    lx__side_t *s = &m->side[side];
    int64_t key = lx__key(side, price);
    uint32_t i = side_lower_bound(s, key);
    if (i < s->n && s->keys[i] == key) {
        if (lx__side_tomb(e, s, i)) s->live++; /* the price is back: revive it */
        return s->lv[i];
    }
    /* a tombstone at or just below the key's place: take its entry and its
     * level (keys stay sorted: keys[i-1] < key < keys[i]) */
    uint32_t t = i < s->n && lx__side_tomb(e, s, i)    ? i
                 : i > 0 && lx__side_tomb(e, s, i - 1) ? i - 1
                                                       : LX__NIL;
    if (t != LX__NIL) {
        s->keys[t] = key;
        e->levels[s->lv[t]].price = price;
        s->live++;
        return s->lv[t];
    }
    if (LX_UNLIKELY(s->n == s->cap)) {
        if (side_grow(e, s)) return LX__NIL;
        i = side_lower_bound(s, key); /* compaction moved the entries */
    }
    uint32_t l = level_alloc(e);
    if (l == LX__NIL) return LX__NIL;
    lx__level_t *lv = &e->levels[l];
    lv->price = price;
    lv->qty = 0;
    lv->count = 0;
    lv->head = lv->tail = LX__NIL;
    lv->market = market;
    lv->side = (uint32_t)side & 1;
    s->live++;
    side_insert(s, i, key, l);
    return l;
}

void lx__book_level_emptied(lx_engine_t *e, uint32_t l) {
    lx__level_t *lv = &e->levels[l];
    lx__side_t *s = &e->markets[lv->market].side[lv->side];
    s->live--;
    if (s->lv[s->n - 1] == l) {
        /* the best level: the common case; uncover the next live one */
        s->n--;
        level_release(e, l);
        while (s->n > 0 && lx__side_tomb(e, s, s->n - 1)) level_release(e, s->lv[--s->n]);
    } else if (s->n - s->live > s->live / 4 + 16) {
        side_compact(e, s); /* frees l with the other tombstones */
    }
    /* otherwise l stays where it is, a tombstone */
    if (LX_UNLIKELY(s->n < s->cap / 3 && s->cap > 64)) side_shrink(s);
}
