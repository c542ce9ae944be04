/*
 * accounts.c: per-account state: open-order lists, the client-id index,
 * balances and applied deposit ids.
 *
 * - accounts[] is a dense array indexed by account id (calloc'ed at startup,
 *   so untouched accounts cost no resident memory). Each holds its open
 *   orders as an intrusive doubly linked list through the order records
 *   (acct_next/acct_prev), oldest first: cancel-all walks it, and the
 *   account's open-order query reads it.
 * - The client-id index maps (account, client id) -> order slot for open
 *   orders with a nonzero client id: the duplicate check on every place and
 *   cancel/amend by client id. The key lives in the order record.
 * - Balances are records (account, asset, free, locked) in creation order,
 *   found through a hash index. Creation order is what the digest and
 *   snapshots walk, so it must be deterministic: a record is created the
 *   first time a command changes that balance.
 * - Deposit ids are kept forever (a bridge may retry any old deposit), in
 *   application order, with a hash index for the duplicate check.
 *
 * The operations on the order lists and the client-id index that every
 * order goes through are inline, in accounts.h; this file holds the rest.
 */
#include <stdlib.h>
#include "accounts.h"

/* The deposit index's hash of a deposit id. */
static inline uint64_t dep_key_hash(uint64_t id) {
    return lx__hash2(id, 0x6465706f736974ULL);
}

static uint64_t cid_hash(const void *ctx, uint32_t slot);
static uint64_t bal_hash(const void *ctx, uint32_t i);
static uint64_t dep_hash(const void *ctx, uint32_t i);

int lx__accounts_init(lx_engine_t *e) {
    e->accounts = calloc(e->cfg.max_accounts, sizeof *e->accounts);
    if (!e->accounts) return LX_ENOMEM;
    /* An empty list is norders == 0 (head and tail are then not read), so
     * the zeroed array needs no initialization pass that would touch every
     * page. */
    int rc;
    /* the client-id index grows with the book (a bucket at a time, idx.c);
     * an engine of fewer than 4,096 orders starts it at a quarter of them,
     * so that growing runs in the fuzzer (at most 64 orders) and the small
     * scenario engines like everything else */
    uint32_t cids = e->cfg.max_orders < 4096 ? e->cfg.max_orders / 4 : 1024;
    if ((rc = lx__idx_init(&e->cid_idx, cids, cid_hash, e))) return rc;
    if ((rc = lx__idx_init(&e->bal_idx, 1024, bal_hash, e))) return rc;
    if ((rc = lx__idx_init(&e->dep_idx, 1024, dep_hash, e))) return rc;
    return 0;
}

void lx__accounts_free(lx_engine_t *e) {
    free(e->accounts);
    free(e->balances);
    free(e->deposit_ids);
    lx__idx_free(&e->cid_idx);
    lx__idx_free(&e->bal_idx);
    lx__idx_free(&e->dep_idx);
}

/* ---- client ids ---------------------------------------------------------- */

/* The owner's hash for the index's growth (idx.h). */
static uint64_t cid_hash(const void *ctx, uint32_t slot) {
    const lx_engine_t *e = ctx;
    const lx__order_t *o = &e->orders[slot];
    return lx__cid_hash2(e, o->account, o->client_id);
}

/* ---- balances ----------------------------------------------------------- */

typedef struct {
    uint32_t account, asset;
} bal_key_t;

static bool bal_eq(const void *ctx, uint32_t i, const void *key) {
    const lx__balance_t *b = &((const lx_engine_t *)ctx)->balances[i];
    const bal_key_t *k = key;
    return b->account == k->account && b->asset == k->asset;
}

static uint64_t bal_hash(const void *ctx, uint32_t i) {
    const lx__balance_t *b = &((const lx_engine_t *)ctx)->balances[i];
    return lx__hash2(b->account, b->asset);
}

static void bal_remember(lx__account_t *a, uint32_t asset, uint32_t i) {
    a->bal_asset[1] = a->bal_asset[0];
    a->bal_idx[1] = a->bal_idx[0];
    a->bal_asset[0] = asset;
    a->bal_idx[0] = i + 1;
}

/* A miss in the account's cache of two (the inline part is in core.h). */
const lx__balance_t *lx__bal_find_slow(const lx_engine_t *e, uint32_t account, uint32_t asset) {
    bal_key_t k = {account, asset};
    uint32_t i = lx__idx_find(&e->bal_idx, lx__hash2(account, asset), bal_eq, e, &k);
    return i == LX__NIL ? NULL : &e->balances[i];
}

int lx__bal_reserve_slow(lx_engine_t *e, uint32_t extra) {
    while (e->nbalances + extra > e->balances_cap) {
        uint32_t ncap = e->balances_cap ? e->balances_cap * 2 : 1024;
        lx__balance_t *nb = realloc(e->balances, (size_t)ncap * sizeof *nb);
        if (!nb) return LX_ENOMEM;
        e->balances = nb;
        e->balances_cap = ncap;
    }
    return lx__idx_reserve(&e->bal_idx, extra);
}

lx__balance_t *lx__bal_get_slow(lx_engine_t *e, uint32_t account, uint32_t asset, bool create) {
    lx__account_t *a = &e->accounts[account];
    uint32_t i;
    uint64_t h = lx__hash2(account, asset);
    bal_key_t k = {account, asset};
    i = lx__idx_find(&e->bal_idx, h, bal_eq, e, &k);
    if (i != LX__NIL) {
        bal_remember(a, asset, i);
        return &e->balances[i];
    }
    if (!create) return NULL;
    if (e->nbalances == e->balances_cap) {
        uint32_t ncap = e->balances_cap ? e->balances_cap * 2 : 1024;
        lx__balance_t *nb = realloc(e->balances, (size_t)ncap * sizeof *nb);
        if (!nb) return NULL;
        e->balances = nb;
        e->balances_cap = ncap;
    }
    if (lx__idx_insert(&e->bal_idx, h, e->nbalances)) return NULL;
    bal_remember(a, asset, e->nbalances);
    lx__balance_t *b = &e->balances[e->nbalances++];
    b->account = account;
    b->asset = asset;
    b->free = 0;
    b->locked = 0;
    return b;
}

void lx__fee_bal_link(lx_engine_t *e, uint32_t asset) {
    lx__balance_t *b = lx__bal_get(e, e->cfg.fee_account, asset, true);
    LX_ASSERT(b != NULL);
    e->assets[asset].fee_bal = (uint32_t)(b - e->balances) + 1;
}

/* ---- deposit ids -------------------------------------------------------- */

static bool dep_eq(const void *ctx, uint32_t i, const void *key) {
    return ((const lx_engine_t *)ctx)->deposit_ids[i] == *(const uint64_t *)key;
}

static uint64_t dep_hash(const void *ctx, uint32_t i) {
    return dep_key_hash(((const lx_engine_t *)ctx)->deposit_ids[i]);
}

uint32_t lx__deposit_find(const lx_engine_t *e, uint64_t id) {
    return lx__idx_find(&e->dep_idx, dep_key_hash(id), dep_eq, e, &id);
}

bool lx__deposit_seen(const lx_engine_t *e, uint64_t id) {
    return lx__deposit_find(e, id) != LX__NIL;
}

int lx__deposit_reserve(lx_engine_t *e) {
    uint64_t *nd = lx__array_room(e->deposit_ids, e->ndeposits, &e->deposits_cap, sizeof *nd, 1024);
    if (!nd) return LX_ENOMEM;
    e->deposit_ids = nd;
    return lx__idx_reserve(&e->dep_idx, 1);
}

int lx__deposit_add(lx_engine_t *e, uint64_t id) {
    uint64_t *nd = lx__array_room(e->deposit_ids, e->ndeposits, &e->deposits_cap, sizeof *nd, 1024);
    if (!nd) return LX_ENOMEM;
    e->deposit_ids = nd;
    int rc = lx__idx_insert(&e->dep_idx, dep_key_hash(id), e->ndeposits);
    if (rc) return rc;
    e->deposit_ids[e->ndeposits++] = id;
    return 0;
}
