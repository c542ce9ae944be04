/*
 * book.c: price levels and the two sides of a market's book.
 *
 * A side is a sorted array of level keys (price for bids, -price for asks)
 * with the best level at the end, plus a parallel array of level indices.
 * Why an array and not a tree: order flow concentrates at the touch (most
 * adds, cancels and all fills happen within a few levels of it), and at the
 * end of an array those are O(1) pushes and pops on memory that stays in
 * cache. Finding a level scans backwards from the best for a few entries,
 * then binary-searches the rest, so a deep book costs O(log n) to find a
 * level; inserting or removing far from the touch costs a memmove of the
 * entries between it and the touch (8 + 4 bytes each). A price that moves
 * far (a 40% swing) only changes where the end is; a flash crash that sweeps
 * many levels pops them one by one. Nothing here depends on a fixed price
 * centre or a preallocated price range, so 100,000 markets cost nothing
 * until they hold orders.
 *
 * Removing a level that is not the best leaves a tombstone (its key stays,
 * its level index becomes LX__NIL) instead of moving the entries behind it;
 * a later level whose key fits at or next to a tombstone takes its place,
 * and the array is compacted in one pass when tombstones outnumber live
 * levels. The best entry (the last) is never a tombstone: removing it also
 * pops the tombstones before it. So a book whose touch drifts (a swing)
 * pays O(1) per level removed far away instead of a memmove (measured
 * before this: memmove plus search were 11% of the swing workload).
 *
 * A level holds its orders as an intrusive doubly linked FIFO through the
 * order records (next/prev), with its total open quantity and count kept
 * exact at every change. Empty levels are removed at once; a side never
 * holds an empty level (lx_engine_validate checks this).
 *
 * Allocation: the side arrays and the level pool grow by doubling when full
 * (amortized, never per order).
 */
#include <stdlib.h>
#include "core.h"

int lx__side_init(lx__side_t *s, uint32_t cap) {
    s->n = 0;
    s->live = 0;
    s->cap = 0;
    s->keys = NULL;
    s->lv = NULL;
    if (cap == 0) return 0;
    s->keys = malloc((size_t)cap * sizeof *s->keys);
    s->lv = malloc((size_t)cap * sizeof *s->lv);
    if (!s->keys || !s->lv) return LX_ENOMEM;
    s->cap = cap;
    return 0;
}

void lx__side_free(lx__side_t *s) {
    free(s->keys);
    free(s->lv);
    s->keys = NULL;
    s->lv = NULL;
    s->n = s->cap = s->live = 0;
}

/* Index of the first key >= key (n if none). Scans the last few entries
 * first: nearly every lookup lands near the best. */
static uint32_t side_lower_bound(const lx__side_t *s, int64_t key) {
    uint32_t n = s->n;
    uint32_t i = n;
    for (int k = 0; k < 8 && i > 0; k++) {
        if (s->keys[i - 1] < key) return i;
        i--;
    }
    uint32_t lo = 0, hi = i; /* answer in [lo, hi] */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t lx__side_find(const lx__side_t *s, int64_t key) {
    uint32_t i = side_lower_bound(s, key);
    return (i < s->n && s->keys[i] == key && s->lv[i] != LX__NIL) ? i : LX__NIL;
}

/* Drops every tombstone in one pass. */
static void side_compact(lx__side_t *s) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->lv[i] == LX__NIL) continue;
        s->keys[k] = s->keys[i];
        s->lv[k] = s->lv[i];
        k++;
    }
    s->n = k;
}

static int side_reserve(lx__side_t *s) {
    if (s->n < s->cap) return 0;
    uint32_t ncap = s->cap ? s->cap * 2 : 8;
    int64_t *k = realloc(s->keys, (size_t)ncap * sizeof *k);
    if (!k) return LX_ENOMEM;
    s->keys = k;
    uint32_t *l = realloc(s->lv, (size_t)ncap * sizeof *l);
    if (!l) return LX_ENOMEM;
    s->lv = l;
    s->cap = ncap;
    return 0;
}

static uint32_t level_alloc(lx_engine_t *e) {
    if (e->level_free != LX__NIL) {
        uint32_t l = e->level_free;
        e->level_free = e->levels[l].head;
        e->levels_used++;
        return l;
    }
    if (e->levels_used == e->nlevels_cap) {
        uint32_t ncap = e->nlevels_cap ? e->nlevels_cap * 2 : 1024;
        lx__level_t *nl = realloc(e->levels, (size_t)ncap * sizeof *nl);
        if (!nl) return LX__NIL;
        e->levels = nl;
        e->nlevels_cap = ncap;
    }
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

int lx__book_reserve(lx_engine_t *e, lx__market_t *m, int side) {
    if (side_reserve(&m->side[side])) return LX_ENOMEM;
    if (e->level_free == LX__NIL && e->levels_used == e->nlevels_cap) {
        uint32_t ncap = e->nlevels_cap ? e->nlevels_cap * 2 : 1024;
        lx__level_t *nl = realloc(e->levels, (size_t)ncap * sizeof *nl);
        if (!nl) return LX_ENOMEM;
        e->levels = nl;
        e->nlevels_cap = ncap;
    }
    return 0;
}

uint32_t lx__book_level_get(lx_engine_t *e, lx__market_t *m, uint32_t market, int side,
                            int64_t price) {
    lx__side_t *s = &m->side[side];
    int64_t key = lx__key(side, price);
    uint32_t i = side_lower_bound(s, key);
    if (i < s->n && s->keys[i] == key && s->lv[i] != LX__NIL) return s->lv[i];
    if (side_reserve(s)) return LX__NIL;
    uint32_t l = level_alloc(e);
    if (l == LX__NIL) return LX__NIL;
    lx__level_t *lv = &e->levels[l];
    lv->price = price;
    lv->qty = 0;
    lv->count = 0;
    lv->head = lv->tail = LX__NIL;
    lv->market = market;
    lv->side = (uint32_t)side;
    s->live++;
    if (i < s->n && s->lv[i] == LX__NIL) {
        /* a tombstone at or just above the key: take it (keys stay sorted:
         * keys[i-1] < key <= keys[i] < keys[i+1]) */
        s->keys[i] = key;
        s->lv[i] = l;
    } else if (i > 0 && s->lv[i - 1] == LX__NIL) {
        s->keys[i - 1] = key; /* keys[i-2] < keys[i-1] < key < keys[i] */
        s->lv[i - 1] = l;
    } else {
        if (i < s->n) {
            memmove(&s->keys[i + 1], &s->keys[i], (size_t)(s->n - i) * sizeof *s->keys);
            memmove(&s->lv[i + 1], &s->lv[i], (size_t)(s->n - i) * sizeof *s->lv);
        }
        s->keys[i] = key;
        s->lv[i] = l;
        s->n++;
    }
    return l;
}

void lx__book_append(lx_engine_t *e, uint32_t level, uint32_t slot) {
    lx__level_t *lv = &e->levels[level];
    lx__order_t *o = &e->orders[slot];
    o->level = level;
    o->next = LX__NIL;
    o->prev = lv->tail;
    if (lv->tail != LX__NIL)
        e->orders[lv->tail].next = slot;
    else
        lv->head = slot;
    lv->tail = slot;
    lv->qty += o->remaining;
    lv->count++;
    e->markets[lv->market].norders++;
}

bool lx__book_unlink(lx_engine_t *e, uint32_t slot) {
    lx__order_t *o = &e->orders[slot];
    uint32_t l = o->level;
    lx__level_t *lv = &e->levels[l];
    if (o->prev != LX__NIL)
        e->orders[o->prev].next = o->next;
    else
        lv->head = o->next;
    if (o->next != LX__NIL)
        e->orders[o->next].prev = o->prev;
    else
        lv->tail = o->prev;
    lv->qty -= o->remaining;
    lv->count--;
    e->markets[lv->market].norders--;
    o->level = LX__NIL;
    if (lv->count > 0) return false;

    lx__side_t *s = &e->markets[lv->market].side[lv->side];
    int64_t key = lx__key((int)lv->side, lv->price);
    s->live--;
    if (s->keys[s->n - 1] == key) {
        /* the best level: the common case; uncover the next live one */
        s->n--;
        while (s->n > 0 && s->lv[s->n - 1] == LX__NIL) s->n--;
    } else {
        uint32_t i = lx__side_find(s, key);
        LX_ASSERT(i != LX__NIL);
        s->lv[i] = LX__NIL;
        if (s->n - s->live > s->live + 16) side_compact(s);
    }
    level_release(e, l);
    return true;
}
