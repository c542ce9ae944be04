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

/* book.c: the room check's slow path (a full side, no spare block, or a
 * full level pool). */
int lx__book_reserve_slow(lx_engine_t *e, lx__market_t *m, int side);
/* book.c: a level's last order left: it is removed from its side (the
 * best) or left there as a tombstone, and freed when removed. */
void lx__book_level_emptied(lx_engine_t *e, uint32_t l);

/* Makes sure one more level can be created on this side without
 * allocating, so a command can fail before it changes anything. */
static inline int lx__book_reserve(lx_engine_t *e, lx__market_t *m, int side) {
    const lx__side_t *s = &m->side[side];
    if (LX_LIKELY(s->n < s->lim && (e->level_free != LX__NIL || e->levels_used < e->nlevels_cap)))
        return 0;
    return lx__book_reserve_slow(e, m, side);
}

static inline void lx__book_append(lx_engine_t *e, uint32_t level, uint32_t slot) {
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

/* Unlinks an order from its level; if the level empties it is removed from
 * its side and freed, or left as a tombstone. Returns true if the level
 * emptied. */
static inline bool lx__book_unlink(lx_engine_t *e, uint32_t slot) {
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
    lx__book_level_emptied(e, l);
    return true;
}

#endif
