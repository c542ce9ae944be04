/*
 * accounts.h: the per-order half of accounts.c, inline: an account's
 * open-order list, the client-id index and the balance room check. Every
 * order that rests is linked into the list and the index and unlinked
 * from both when it leaves (an order that never rests enters neither:
 * orders.c, finish_taker); as calls into accounts.c (five in an order's
 * life, the index's key test through a function pointer) they cost about
 * 50 instructions a message. accounts.c explains the structures; idx.h
 * the index.
 */
#ifndef LX_ACCOUNTS_H
#define LX_ACCOUNTS_H

#include "idx.h"

/* ---- open-order lists --------------------------------------------------- */

/* Appends an order (its account set) to its account's list. The links
 * are written through LX__LINK (core.h): whether the account had other
 * open orders, and whether an order was its first or last, is data. */
static inline void lx__acct_link(lx_engine_t *e, uint32_t slot) {
    lx__order_t *o = &e->orders[slot];
    lx__account_t *a = &e->accounts[o->account];
    uint32_t tail = lx__sel32(a->norders, a->tail, LX__NIL); /* stale while empty */
    o->acct_prev = tail;
    o->acct_next = LX__NIL;
    *LX__LINK(e, tail, acct_next, &a->head) = slot;
    a->tail = slot;
    a->norders++;
}

static inline void lx__acct_unlink(lx_engine_t *e, uint32_t slot) {
    lx__order_t *o = &e->orders[slot];
    lx__account_t *a = &e->accounts[o->account];
    uint32_t prev = o->acct_prev, next = o->acct_next;
    *LX__LINK(e, prev, acct_next, &a->head) = next;
    *LX__LINK(e, next, acct_prev, &a->tail) = prev;
    a->norders--;
}

/* ---- client ids --------------------------------------------------------- */

/* The client-id index's hash: one multiply of the two words mixed, then
 * the high half folded into the low (the index takes its home bucket from
 * the low 32 bits and its tag from the top byte), instead of lx__hash2's
 * two murmur finalizers: it runs on every place, cancel by client id and
 * removal, and this saves about 9 instructions each. Sequential and
 * strided client ids of one account, and one client id across accounts,
 * still spread over all buckets and tags. The engine's secret seed goes in
 * with the words: a client chooses its client ids, and without it could
 * compute ids that all land in one bucket (the multiply and the fold are
 * invertible), making every lookup near there walk them all. */
static inline uint64_t lx__cid_hash2(const lx_engine_t *e, uint32_t account, uint64_t cid) {
    uint64_t mix = e->hash_seed[0] ^ (uint64_t)account * 0x9e3779b97f4a7c15ULL;
    uint64_t h = (cid ^ mix) * 0xd6e8feb86659fd93ULL;
    return h ^ h >> 32;
}

typedef struct {
    uint32_t account;
    uint64_t cid;
} lx__cid_key_t;

static inline bool lx__cid_eq(const void *ctx, uint32_t slot, const void *key) {
    const lx__order_t *o = &((const lx_engine_t *)ctx)->orders[slot];
    const lx__cid_key_t *k = key;
    return o->account == k->account && o->client_id == k->cid;
}

/* The open order of the account with this client id, or LX__NIL. */
static inline uint32_t lx__cid_find(const lx_engine_t *e, uint32_t account, uint64_t cid) {
    lx__cid_key_t k = {account, cid};
    return lx__idx_find(&e->cid_idx, lx__cid_hash2(e, account, cid), lx__cid_eq, e, &k);
}

/* Room for one more entry (may grow the index; changes no state). */
static inline int lx__cid_reserve(lx_engine_t *e) {
    return lx__idx_reserve(&e->cid_idx, 1);
}

/* Inserts the order's (account, client id), known absent (a new order
 * that rests, after lx__cid_reserve; snapshot load). */
static inline int lx__cid_insert(lx_engine_t *e, uint32_t slot) {
    const lx__order_t *o = &e->orders[slot];
    return lx__idx_insert(&e->cid_idx, lx__cid_hash2(e, o->account, o->client_id), slot);
}

static inline void lx__cid_remove(lx_engine_t *e, uint32_t slot) {
    const lx__order_t *o = &e->orders[slot];
    lx__idx_remove(&e->cid_idx, lx__cid_hash2(e, o->account, o->client_id), slot);
}

/* ---- balances ----------------------------------------------------------- */

/* Room for `extra` more balance records and their index entries, so the
 * lx__bal_get(create) calls that follow cannot fail (every place with
 * clearing on asks for two). */
static inline int lx__bal_reserve(lx_engine_t *e, uint32_t extra) {
    if (LX_LIKELY((uint64_t)e->nbalances + extra <= e->balances_cap))
        return lx__idx_reserve(&e->bal_idx, extra);
    return lx__bal_reserve_slow(e, extra);
}

#endif
