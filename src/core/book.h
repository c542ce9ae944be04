/*
 * book.h: the per-order half of book.c, inline: putting an order at the
 * back of its level's FIFO, taking it out, and the reserve check before a
 * place or amend. Every resting order goes through the first two, every
 * place through the third; as calls into book.c they cost about 20
 * instructions a message. What they call when a level empties or a side
 * or the level pool must grow stays in book.c, which explains the
 * structures.
 */
#ifndef LX_BOOK_H
#define LX_BOOK_H

#include "core.h"

/* book.c: the room check's slow path (a key outside the ladder, a ladder
 * to make or give back, a full side, no spare block, or a full level
 * pool). */
int lx__book_reserve_slow(lx_engine_t *e, lx__market_t *m, int side, int64_t price);
/* book.c: a level's last order left: it is removed from its side (the
 * best) or left there as a tombstone, and freed when removed. */
void lx__book_level_emptied(lx_engine_t *e, uint32_t l);

/* The lo of a ladder that has key LX__LAD_HEAD slots below its top. */
static inline int64_t lx__lad_lo_for(int64_t key) {
    const int64_t below = LX__LAD_W - LX__LAD_HEAD - 1;
    return key < INT64_MIN + below ? INT64_MIN : key - below;
}

/* Whether a ladder made now (at the touch array's best) would start with
 * LX__LAD_DENSE of its entries: a side without one looks, once it has
 * LX__LAD_ON live levels, on every place. */
static inline bool lx__lad_worth_it(const lx__side_t *s) {
    return s->n >= LX__LAD_DENSE &&
           s->keys[s->n - LX__LAD_DENSE] >= lx__lad_lo_for(s->keys[s->n - 1]);
}

/* Makes sure a level at this price can be created on this side without
 * allocating, so a command can fail before it changes anything: with a
 * ladder, the price is within it; without, the touch array has room and
 * the side is not due a ladder. */
static inline int lx__book_reserve(lx_engine_t *e, lx__market_t *m, int side, int64_t price) {
    const lx__side_t *s = &m->side[side];
    if (LX_LIKELY(e->level_free != LX__NIL || e->levels_used < e->nlevels_cap)) {
        const lx__lad_t *d = lx__lad(e, m, side);
        if (d ? (uint64_t)lx__key(side, price) - (uint64_t)d->lo < LX__LAD_W &&
                    s->live >= LX__LAD_OFF
              : s->n < s->lim && (s->live < LX__LAD_ON || !lx__lad_worth_it(s)))
            return 0;
    }
    return lx__book_reserve_slow(e, m, side, price);
}

/* The FIFO links are written through LX__LINK (core.h): whether a level
 * was empty, or an order is its first or last, is data. */
static inline void lx__book_append(lx_engine_t *e, uint32_t level, uint32_t slot) {
    lx__level_t *lv = &e->levels[level];
    lx__order_t *o = &e->orders[slot];
    uint32_t tail = lv->tail;
    o->level = level;
    o->next = LX__NIL;
    o->prev = tail;
    *LX__LINK(e, tail, next, &lv->head) = slot;
    lv->tail = slot;
    lv->qty += o->remaining;
    lv->count++;
    e->markets[lv->market].norders++;
}

/* Unlinks an order from its level; if the level empties it is removed from
 * its side and freed, or left as a tombstone. Returns true if the level
 * emptied. */
static inline bool lx__book_unlink(lx_engine_t *e, uint32_t slot) {
    lx__order_t *o = &e->orders[slot];
    uint32_t l = o->level;
    lx__level_t *lv = &e->levels[l];
    uint32_t prev = o->prev, next = o->next;
    *LX__LINK(e, prev, next, &lv->head) = next;
    *LX__LINK(e, next, prev, &lv->tail) = prev;
    lv->qty -= o->remaining;
    lv->count--;
    e->markets[lv->market].norders--;
    o->level = LX__NIL;
    if (lv->count > 0) return false;
    lx__book_level_emptied(e, l);
    return true;
}

#endif
