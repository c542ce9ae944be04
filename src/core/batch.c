/*
 * batch.c: applying a run of commands, with the memory each one will touch
 * fetched ahead of it when the state is larger than the caches.
 *
 * lx_engine_apply_batch() is lx_engine_apply() in a loop: the same events
 * in the same order, the same state, the same errors (it stops at the
 * first); lx_engine_apply_batch_auth() the same of lx_engine_apply_auth(),
 * each command with its auth section (a journal's replay). What it adds is
 * foresight. An engine that holds many markets (the many workload: 100,000
 * markets, 4,000,000 orders, ~350 MB) finds nearly every command's market,
 * account, order and client-id bucket out of cache, and each of those
 * misses waits on the one before it: the market record names the side
 * arrays, which name the best level, which names the head order. Applied
 * one at a time, a message cost ~650 ns, most of it waiting on DRAM. A log
 * replays commands that are all known in advance, so while command i is
 * applied, the records of the commands a few places ahead of it are
 * requested, hop by hop, each hop a few commands later than the one it
 * depends on so that its address is in cache by then:
 *
 *     i + 16  the market record, the account, the client-id bucket, the
 *             order an id names
 *     i + 8   the top of both book sides; the account's two cached
 *             balances; the order the client-id bucket names (by its tag
 *             alone: a wrong guess costs one wasted fetch); the account's
 *             newest order (a place links after it)
 *     i + 4   the best level of each side; for a place, the level it would
 *             join and the one below it (found among the side's top 16
 *             keys, fetched at i + 8); for a cancel or amend, the order's
 *             level and its neighbours in the level and in the account's
 *             list
 *     i + 2   the last order of the level a place would join, and the
 *             first order of the opposite best level if the place crosses
 *
 * Prefetches never change the state, so the result cannot depend on them
 * (test_engine compares batches with single applies event for event).
 * They cost instructions, though, and when the state fits in the caches
 * they buy nothing: on the single-market workloads (a few thousand orders,
 * all in L2) a first version made the loop 20-25% slower, and with 80,000
 * orders over 2,000 markets (many --quick, ~8 MB, in this machine's L3)
 * this one 7% slower (5.38 against 5.71-5.88 M msgs/s). So they run only
 * while the engine holds at least LX__PREFETCH_ORDERS orders or
 * LX__PREFETCH_MARKETS markets (their records and side arrays alone past
 * 10 MB), a state of tens of MB; below that the loop is the plain one,
 * lx__apply_run (engine.c): the sink set once for the run and the
 * dispatch inline, about 34 instructions a command fewer than a call of
 * lx_engine_apply each (callgrind, all four single-market workloads). On
 * the many workload (100,000 markets, 4,000,000 orders) throughput went
 * from 1.44 M to 2.74 M msgs/s, medians (BENCHMARKS.md).
 *
 * The hops are always-inline on purpose: as functions, gcc 12 proves them
 * pure (a prefetch has no effect it must keep) and deletes the calls.
 */
#include "accounts.h"

#define LX__PREFETCH_ORDERS (1u << 17)
#define LX__PREFETCH_MARKETS (1u << 15)

/* How far ahead each hop runs (commands). */
#define PF_D0 16
#define PF_D1 8
#define PF_D2 4
#define PF_D3 2

typedef struct {
    uint32_t market, account;
    uint64_t cid;  /* by client id (or a place's client id), else 0 */
    uint32_t slot; /* by order id, else LX__NIL */
} pf_target_t;

/* A cancel's or amend's target: by client id or by order id. */
static inline void pf_named(pf_target_t *t, uint32_t account, uint32_t market, bool by_cid,
                            lx_order_id_t id, uint64_t cid) {
    t->account = account;
    t->market = market;
    if (by_cid)
        t->cid = cid;
    else
        t->slot = (uint32_t)id;
}

/* What a command names, when it is one that touches a book; false for the
 * others and for ids out of range (those commands will be rejected). */
static inline bool pf_target(const lx_engine_t *e, const lx_cmd_t *c, pf_target_t *t) {
    t->cid = 0;
    t->slot = LX__NIL;
    if (c->type == LX_CMD_PLACE) {
        t->market = c->u.place.market;
        t->account = c->u.place.account;
        t->cid = c->u.place.client_id;
    } else if (c->type == LX_CMD_CANCEL) {
        const lx_cmd_cancel_t *p = &c->u.cancel;
        pf_named(t, p->account, p->market, p->by_client_id, p->order_id, p->client_id);
    } else if (c->type == LX_CMD_AMEND) {
        const lx_cmd_amend_t *p = &c->u.amend;
        pf_named(t, p->account, p->market, p->by_client_id, p->order_id, p->client_id);
    } else {
        return false;
    }
    if (t->slot != LX__NIL && t->slot >= e->cfg.max_orders) t->slot = LX__NIL;
    return t->market < e->cfg.max_markets && t->account < e->cfg.max_accounts;
}

static inline void pf(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

static inline void pf_order(const lx_engine_t *e, uint32_t slot) {
    if (slot < e->cfg.max_orders) pf(&e->orders[slot]);
}

/* The slot the client-id index most likely holds for (account, cid): the
 * first entry of the home bucket with the key's tag, LX__NIL if none. */
static inline uint32_t pf_cid_guess(const lx_engine_t *e, uint32_t account, uint64_t cid) {
    const lx__idx_t *t = &e->cid_idx;
    if (t->nb == 0) return LX__NIL;
    uint64_t h = lx__cid_hash2(e, account, cid);
    const lx__idx_bucket_t *b = &t->bkt[lx__idx_home(h, t->nb)];
    uint32_t empty, m = lx__idx_scan(b, lx__idx_tag(h), &empty);
    return m ? b->val[__builtin_ctz(m)] : LX__NIL;
}

static LX_ALWAYS_INLINE void pf_hop0(const lx_engine_t *e, const lx_cmd_t *c) {
    pf_target_t t;
    if (!pf_target(e, c, &t)) return;
    const char *m = (const char *)&e->markets[t.market];
    pf(m);
    pf(m + 64);
    pf(m + sizeof(lx__market_t) - 1);
    pf(&e->accounts[t.account]);
    if (t.cid && e->cid_idx.nb)
        pf(&e->cid_idx.bkt[lx__idx_home(lx__cid_hash2(e, t.account, t.cid), e->cid_idx.nb)]);
    if (t.slot != LX__NIL) pf(&e->orders[t.slot]);
}

/* Where a place on side s at `price` lands among the side's top
 * PF_SCAN entries: the index of the first key at or above its key (the
 * level it joins, or the place a new level goes), LX__NIL if it lands
 * deeper (then nothing is fetched for it). */
#define PF_SCAN 16
static inline uint32_t pf_landing(const lx__side_t *sd, int side, int64_t price) {
    int64_t key = lx__key(side, price);
    uint32_t i = sd->n, stop = sd->n > PF_SCAN ? sd->n - PF_SCAN : 0;
    while (i > stop && sd->keys[i - 1] >= key) i--;
    return i > stop || stop == 0 ? i : LX__NIL;
}

static LX_ALWAYS_INLINE void pf_hop1(const lx_engine_t *e, const lx_cmd_t *c) {
    pf_target_t t;
    if (!pf_target(e, c, &t)) return;
    const lx__market_t *m = &e->markets[t.market];
    for (int s = 0; s < 2; s++) {
        const lx__side_t *sd = &m->side[s];
        const lx__lad_t *lad = lx__lad(e, m, s);
        if (lad) pf(lad); /* lo, top */
        if (sd->n == 0) continue;
        pf(&sd->keys[sd->n - 1]);
        pf(&sd->lv[sd->n - 1]);
        if (sd->n > 8) {
            pf(&sd->keys[sd->n - 9]);
            pf(&sd->keys[sd->n > PF_SCAN ? sd->n - PF_SCAN : 0]);
        }
    }
    if (e->level_free != LX__NIL) pf(&e->levels[e->level_free]);
    const lx__account_t *a = &e->accounts[t.account];
    for (int k = 0; k < 2; k++)
        if (a->bal_idx[k]) pf(&e->balances[a->bal_idx[k] - 1]);
    if (c->type == LX_CMD_PLACE) {
        if (a->norders) pf_order(e, a->tail);
    } else if (t.cid) {
        pf_order(e, pf_cid_guess(e, t.account, t.cid));
    }
}

static LX_ALWAYS_INLINE void pf_hop2(const lx_engine_t *e, const lx_cmd_t *c) {
    pf_target_t t;
    if (!pf_target(e, c, &t)) return;
    const lx__market_t *m = &e->markets[t.market];
    for (int s = 0; s < 2; s++) {
        int64_t key;
        uint32_t best = lx__side_best(e, m, s, &key);
        if (best != LX__NIL) pf(&e->levels[best]);
    }
    if (c->type == LX_CMD_PLACE) {
        if (c->u.place.price < 1) return; /* rejected; its key could overflow */
        /* the level the order would join and the one below (a tombstone
         * there is taken, book.c), or its ladder slot */
        const lx__side_t *sd = &m->side[c->u.place.side & 1];
        const lx__lad_t *lad = lx__lad(e, m, c->u.place.side & 1);
        if (lad) {
            uint64_t k =
                (uint64_t)lx__key(c->u.place.side & 1, c->u.place.price) - (uint64_t)lad->lo;
            if (k < LX__LAD_W) {
                pf(&lad->lv[k]);
                return;
            }
        }
        uint32_t i = pf_landing(sd, c->u.place.side & 1, c->u.place.price);
        if (i == LX__NIL) return;
        if (i < sd->n) pf(&e->levels[sd->lv[i]]);
        if (i > 0) pf(&e->levels[sd->lv[i - 1]]);
        return;
    }
    uint32_t slot = t.cid ? pf_cid_guess(e, t.account, t.cid) : t.slot;
    if (slot >= e->cfg.max_orders) return;
    const lx__order_t *o = &e->orders[slot];
    if (o->level < e->nlevels_cap) pf(&e->levels[o->level]);
    pf_order(e, o->next);
    pf_order(e, o->prev);
    pf_order(e, o->acct_next);
    pf_order(e, o->acct_prev);
}

static LX_ALWAYS_INLINE void pf_hop3(const lx_engine_t *e, const lx_cmd_t *c) {
    if (c->type != LX_CMD_PLACE || c->u.place.market >= e->cfg.max_markets || c->u.place.price < 1)
        return; /* (a price below 1 is rejected; its key could overflow) */
    const lx__market_t *m = &e->markets[c->u.place.market];
    int side = c->u.place.side & 1;
    /* the level's last order, which a resting order is linked after */
    const lx__side_t *sd = &m->side[side];
    const lx__lad_t *lad = lx__lad(e, m, side);
    uint32_t l = LX__NIL;
    uint64_t k = lad ? (uint64_t)lx__key(side, c->u.place.price) - (uint64_t)lad->lo : LX__LAD_W;
    if (k < LX__LAD_W) {
        l = lad->lv[k];
    } else {
        uint32_t i = pf_landing(sd, side, c->u.place.price);
        if (i != LX__NIL && i < sd->n && sd->keys[i] == lx__key(side, c->u.place.price))
            l = sd->lv[i];
    }
    if (l != LX__NIL) pf_order(e, e->levels[l].tail);
    /* the first order a taker meets */
    int64_t best;
    uint32_t b = lx__side_best(e, m, !side, &best);
    if (b != LX__NIL && best >= lx__key(!side, c->u.place.price)) pf_order(e, e->levels[b].head);
}

static bool pf_worth_it(const lx_engine_t *e) {
    return e->norders >= LX__PREFETCH_ORDERS || e->nmarkets >= LX__PREFETCH_MARKETS;
}

static int apply_batch(lx_engine_t *e, const lx_cmd_t *cmds, const lx_cmd_auth_t *auths, size_t n,
                       const lx_sink_t *sink, size_t *applied) {
    size_t i = 0;
    int rc = 0;
    if (!e || (n && !cmds)) {
        rc = LX_EINVAL;
        goto out;
    }
    if (pf_worth_it(e)) {
        for (size_t k = 0; k < n && k < PF_D0; k++) pf_hop0(e, &cmds[k]);
        for (size_t k = 0; k < n && k < PF_D1; k++) pf_hop1(e, &cmds[k]);
        for (size_t k = 0; k < n && k < PF_D2; k++) pf_hop2(e, &cmds[k]);
        for (; i < n; i++) {
            if (i + PF_D0 < n) pf_hop0(e, &cmds[i + PF_D0]);
            if (i + PF_D1 < n) pf_hop1(e, &cmds[i + PF_D1]);
            if (i + PF_D2 < n) pf_hop2(e, &cmds[i + PF_D2]);
            if (i + PF_D3 < n) pf_hop3(e, &cmds[i + PF_D3]);
            if ((rc = lx_engine_apply_auth(e, &cmds[i], auths ? &auths[i] : NULL, sink))) goto out;
        }
    } else {
        rc = lx__apply_run(e, cmds, auths, n, sink, &i);
    }
out:
    if (applied) *applied = i;
    return rc;
}

int lx_engine_apply_batch(lx_engine_t *e, const lx_cmd_t *cmds, size_t n, const lx_sink_t *sink,
                          size_t *applied) {
    return apply_batch(e, cmds, NULL, n, sink, applied);
}

int lx_engine_apply_batch_auth(lx_engine_t *e, const lx_cmd_t *cmds, const lx_cmd_auth_t *auths,
                               size_t n, const lx_sink_t *sink, size_t *applied) {
    return apply_batch(e, cmds, auths, n, sink, applied);
}
