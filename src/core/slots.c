/*
 * slots.c: order slot allocation, lowest free slot first.
 *
 * An order id is (generation << 32) | slot, so finding an order by id is an
 * array index plus a generation check: O(1) with no hash table. Which slot
 * an order gets must depend only on the command history (replicas and a
 * restored snapshot must hand out the same ids), so allocation is canonical:
 * always the lowest free slot. A three-level bitmap finds it with three
 * count-trailing-zeros: l0 has a bit per slot (set = free), l1 a bit per l0
 * word (set = the word has a free slot), l2 a bit per l1 word. With
 * max_orders = 2^26 that is 2^20 + 2^14 + 2^8 words; the top level is scanned
 * linearly but its first word with room is almost always the first.
 *
 * The bits are kept inverted (set = used, l1 set = that l0 word is full,
 * l2 set = that l1 word is full) so the zeroed memory from calloc means
 * "all free" and the kernel maps a bitmap page only when slots in it are
 * first used: the bitmap costs memory for the slots in use, not for
 * max_orders (with the non-inverted form it was 1 MB resident for 8M
 * slots whatever the load).
 *
 * Lowest-first also keeps live orders packed at the start of the arena,
 * which keeps the touched memory (and the cache footprint) small.
 */
#include <stdlib.h>
#include "slots.h"

static uint32_t words(uint32_t bits) {
    return (bits + 63) / 64;
}

/* Marks the bits past the end of a level as used, so they are never
 * chosen. Touches only the last word. */
static void seal(uint64_t *w, uint32_t nwords, uint32_t nbits) {
    if (nbits % 64) w[nwords - 1] = ~((1ULL << (nbits % 64)) - 1);
}

int lx__slots_init(lx_engine_t *e) {
    uint32_t n = e->cfg.max_orders;
    e->nl0 = words(n);
    e->nl1 = words(e->nl0);
    e->nl2 = words(e->nl1);
    e->free_l0 = calloc(e->nl0, 8);
    e->free_l1 = calloc(e->nl1, 8);
    e->free_l2 = calloc(e->nl2, 8);
    if (!e->free_l0 || !e->free_l1 || !e->free_l2) return LX_ENOMEM;
    seal(e->free_l0, e->nl0, n);
    seal(e->free_l1, e->nl1, e->nl0);
    seal(e->free_l2, e->nl2, e->nl1);
    /* a sealed l0 word that is now full must show as full above it */
    if (e->free_l0[e->nl0 - 1] == ~0ULL)
        e->free_l1[(e->nl0 - 1) / 64] |= 1ULL << ((e->nl0 - 1) % 64);
    if (e->free_l1[e->nl1 - 1] == ~0ULL)
        e->free_l2[(e->nl1 - 1) / 64] |= 1ULL << ((e->nl1 - 1) % 64);
    return 0;
}

void lx__slots_free(lx_engine_t *e) {
    free(e->free_l0);
    free(e->free_l1);
    free(e->free_l2);
}

bool lx__slot_used(const lx_engine_t *e, uint32_t slot) {
    return slot < e->cfg.max_orders && (e->free_l0[slot / 64] & (1ULL << (slot % 64)));
}

int lx__slot_claim(lx_engine_t *e, uint32_t slot) {
    if (slot >= e->cfg.max_orders || lx__slot_used(e, slot)) return LX_ECORRUPT;
    lx__slot_mark_used(e, slot);
    return 0;
}
