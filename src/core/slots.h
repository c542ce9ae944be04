/*
 * slots.h: taking and freeing an order slot (slots.c explains the bitmap).
 * Inline: a place takes a slot and every order that leaves frees one, and
 * as calls they cost about 15 instructions a message.
 */
#ifndef LX_SLOTS_H
#define LX_SLOTS_H

#include "core.h"

static inline void lx__slot_mark_used(lx_engine_t *e, uint32_t slot) {
    uint32_t i0 = slot / 64, i1 = i0 / 64, i2 = i1 / 64;
    e->free_l0[i0] |= 1ULL << (slot % 64);
    if (e->free_l0[i0] == ~0ULL) {
        e->free_l1[i1] |= 1ULL << (i0 % 64);
        if (e->free_l1[i1] == ~0ULL) e->free_l2[i2] |= 1ULL << (i1 % 64);
    }
    e->norders++;
    if (slot + 1 > e->slot_hwm) e->slot_hwm = slot + 1;
}

/* The lowest free slot, marked used. Each level's word is read once: the
 * bit taken is the lowest clear bit of its word, and w | (w + 1) sets
 * exactly that bit (likewise the l1 bit of a word that fills, which is
 * the lowest clear bit of its l1 word, and so on up). */
static inline uint32_t lx__slot_alloc(lx_engine_t *e) {
    uint32_t i2 = 0;
    while (i2 < e->nl2 && e->free_l2[i2] == ~0ULL) i2++;
    if (i2 == e->nl2) return LX__NIL;
    uint64_t w2 = e->free_l2[i2];
    uint32_t i1 = i2 * 64 + (uint32_t)__builtin_ctzll(~w2);
    uint64_t w1 = e->free_l1[i1];
    uint32_t i0 = i1 * 64 + (uint32_t)__builtin_ctzll(~w1);
    uint64_t w0 = e->free_l0[i0];
    uint32_t slot = i0 * 64 + (uint32_t)__builtin_ctzll(~w0);
    /* without branches: whether a word fills is data (in a churning
     * book, often: a branch here mispredicted 0.3 times a take on crash) */
    w0 |= w0 + 1;
    uint64_t full0 = 0 - (uint64_t)(w0 == ~0ULL);
    w1 |= (w1 + 1) & full0;
    uint64_t full1 = 0 - (uint64_t)(w1 == ~0ULL);
    e->free_l0[i0] = w0;
    e->free_l1[i1] = w1;
    e->free_l2[i2] = w2 | ((w2 + 1) & full1);
    e->norders++;
    if (slot >= e->slot_hwm) e->slot_hwm = slot + 1;
    return slot;
}

static inline void lx__slot_release(lx_engine_t *e, uint32_t slot) {
    uint32_t i0 = slot / 64, i1 = i0 / 64, i2 = i1 / 64;
    LX_ASSERT(e->free_l0[i0] & (1ULL << (slot % 64)));
    e->free_l0[i0] &= ~(1ULL << (slot % 64));
    e->free_l1[i1] &= ~(1ULL << (i0 % 64));
    e->free_l2[i2] &= ~(1ULL << (i1 % 64));
    e->norders--;
}

#endif
