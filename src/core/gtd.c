/*
 * gtd.c: good-till-date orders: when each expires, and which expires next.
 *
 * Two structures, both sized by the resting GTD orders alone (most orders
 * are GTC or IOC, and the order record has no room for an expiry it rarely
 * needs):
 *
 *   the table  the expiry of each resting GTD order by slot: a dense array
 *              of (slot, heap position, expiry) with a hash index from slot
 *              to position (lx__idx); an entry leaves by swapping the last
 *              one into its place. Reads (lx_engine_order), the digest,
 *              snapshots and the accepted event's echo go through it.
 *   the heap   a min-heap of (expiry, accept seq, slot, table position),
 *              the order in which expiry removes them (lx__expire_due in
 *              orders.c, before any command whose ts has reached the
 *              head, TICK included). Each heap entry names its table entry and each
 *              table entry its place in the heap, so an order that fills or
 *              is canceled leaves the heap at once, in O(log n).
 *
 * Why exact removal: the heap used to drop an entry lazily, when it reached
 * the top. A market maker who re-quotes GTD orders with day-long expiries
 * all day then grew the heap without bound (1,000,000 places and cancels:
 * 25 MB more, with nothing resting), and the first command after the
 * expiry popped every stale entry at once (2,000,000: 253 ms in one
 * command). Now both structures hold exactly the resting GTD orders
 * (lx_engine_validate checks it). Neither layout is state: digests and
 * snapshots see the set, never the order of the arrays.
 */
#include <stdlib.h>
#include "idx.h"

static inline bool gtd_less(const lx__gtd_t *a, const lx__gtd_t *b) {
    /* (expiry, accept seq); the slot breaks a tie no command history makes
     * (a command accepts one order at most), so that even a crafted image's
     * expiry order depends on the state alone */
    if (a->expiry != b->expiry) return a->expiry < b->expiry;
    if (a->seq != b->seq) return a->seq < b->seq;
    return a->slot < b->slot;
}

static uint64_t gtx_hash(uint32_t slot) {
    return lx__hash2(slot, 0x677464ULL); /* "gtd" */
}

/* The index's hash of the entry at position i (the index keeps 8 bits of
 * it; growing asks for the rest). */
static uint64_t gtx_hash_at(const void *ctx, uint32_t i) {
    return gtx_hash(((const lx_engine_t *)ctx)->gtx[i].slot);
}

int lx__gtd_init(lx_engine_t *e) {
    return lx__idx_init(&e->gtx_idx, 16, gtx_hash_at, e);
}

void lx__gtd_free(lx_engine_t *e) {
    free(e->gtd);
    free(e->gtx);
    lx__idx_free(&e->gtx_idx);
    e->gtd = NULL;
    e->gtx = NULL;
}

int lx__gtd_reserve(lx_engine_t *e) {
    lx__gtd_t *g = lx__array_room(e->gtd, e->ngtd, &e->gtd_cap, sizeof *g, 16);
    if (!g) return LX_ENOMEM;
    e->gtd = g;
    lx__gtx_t *x = lx__array_room(e->gtx, e->ngtx, &e->gtx_cap, sizeof *x, 16);
    if (!x) return LX_ENOMEM;
    e->gtx = x;
    return lx__idx_reserve(&e->gtx_idx, 1);
}

/* Heap entry x goes to place i, and its table entry learns it. */
static inline void heap_put(lx_engine_t *e, uint32_t i, lx__gtd_t x) {
    e->gtd[i] = x;
    e->gtx[x.xi].hpos = i;
}

static void sift_up(lx_engine_t *e, uint32_t i, lx__gtd_t x) {
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!gtd_less(&x, &e->gtd[p])) break;
        heap_put(e, i, e->gtd[p]);
        i = p;
    }
    heap_put(e, i, x);
}

static void sift_down(lx_engine_t *e, uint32_t i, lx__gtd_t x) {
    uint32_t n = e->ngtd;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && gtd_less(&e->gtd[c + 1], &e->gtd[c])) c++;
        if (!gtd_less(&e->gtd[c], &x)) break;
        heap_put(e, i, e->gtd[c]);
        i = c;
    }
    heap_put(e, i, x);
}

void lx__gtd_push(lx_engine_t *e, uint32_t xi, uint64_t seq) {
    /* capacity reserved by the caller; the entry is not in the heap yet */
    LX_ASSERT(xi < e->ngtx && e->gtx[xi].hpos == LX__NIL);
    lx__gtd_t x = {e->gtx[xi].expiry, seq, e->gtx[xi].slot, xi};
    sift_up(e, e->ngtd++, x);
    if (x.expiry < e->next_due) e->next_due = x.expiry;
}

/* Takes the heap entry at place i out. */
static void heap_remove(lx_engine_t *e, uint32_t i) {
    lx__gtd_t last = e->gtd[--e->ngtd];
    if (i == e->ngtd) return;
    if (i > 0 && gtd_less(&last, &e->gtd[(i - 1) / 2]))
        sift_up(e, i, last);
    else
        sift_down(e, i, last);
}

static bool gtx_eq(const void *ctx, uint32_t value, const void *key) {
    const lx_engine_t *e = ctx;
    return e->gtx[value].slot == *(const uint32_t *)key;
}

uint32_t lx__gtd_set(lx_engine_t *e, uint32_t slot, int64_t expiry) {
    /* room reserved by lx__gtd_reserve; the slot has no entry yet */
    uint32_t i = e->ngtx++;
    e->gtx[i] = (lx__gtx_t){slot, LX__NIL, expiry};
    (void)lx__idx_insert(&e->gtx_idx, gtx_hash(slot), i);
    return i;
}

uint32_t lx__gtd_find(const lx_engine_t *e, uint32_t slot) {
    return lx__idx_find(&e->gtx_idx, gtx_hash(slot), gtx_eq, e, &slot);
}

void lx__gtd_clear(lx_engine_t *e, uint32_t slot) {
    uint64_t h = gtx_hash(slot);
    uint32_t i = lx__idx_find(&e->gtx_idx, h, gtx_eq, e, &slot);
    if (i == LX__NIL) return;
    if (e->gtx[i].hpos != LX__NIL) heap_remove(e, e->gtx[i].hpos);
    lx__idx_remove(&e->gtx_idx, h, i);
    uint32_t last = --e->ngtx;
    if (i != last) {
        /* the last entry takes the freed place, and its heap entry learns it */
        uint64_t hl = gtx_hash(e->gtx[last].slot);
        lx__idx_remove(&e->gtx_idx, hl, last);
        e->gtx[i] = e->gtx[last];
        if (e->gtx[i].hpos != LX__NIL) e->gtd[e->gtx[i].hpos].xi = i;
        (void)lx__idx_insert(&e->gtx_idx, hl, i); /* room: one was just freed */
    }
}

int64_t lx__gtd_expiry(const lx_engine_t *e, uint32_t slot) {
    uint32_t i = lx__gtd_find(e, slot);
    return i == LX__NIL ? 0 : e->gtx[i].expiry;
}

size_t lx__gtd_bytes(const lx_engine_t *e) {
    return (size_t)e->gtd_cap * sizeof(lx__gtd_t) + (size_t)e->gtx_cap * sizeof(lx__gtx_t) +
           lx__idx_bytes(&e->gtx_idx);
}
