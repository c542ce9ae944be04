/*
 * read.c: the engine's read API: book tops and depth, orders, balances,
 * market and asset facts, memory statistics.
 *
 * Everything here is a pure read between applies (same thread as the
 * writer). Level walks go best first, i.e. backwards through a side's key
 * array; order walks follow the level FIFOs and the account lists, so the
 * orders come out in priority order and acceptance order respectively.
 */
#include "accounts.h"
#include "core.h"
#include "clearing.h"
#include "idx.h"

static const lx__market_t *market_get(const lx_engine_t *e, lx_market_id_t id) {
    return id < e->cfg.max_markets && e->markets[id].exists ? &e->markets[id] : NULL;
}

int lx_engine_market_info(const lx_engine_t *e, lx_market_id_t id, lx_market_info_t *out) {
    const lx__market_t *m = market_get(e, id);
    if (!m) return LX_ENOENT;
    out->market = id;
    out->base = m->base;
    out->quote = m->quote;
    out->mode = m->mode;
    out->halted = m->halted;
    out->tick_size = e->tick_size[id];
    out->lot_size = m->lot_size;
    out->tick_value = m->tick_value;
    out->min_price = m->min_price;
    out->max_price = m->max_price;
    out->max_qty = m->max_qty;
    out->maker_fee = m->maker_fee;
    out->taker_fee = m->taker_fee;
    out->market_seq = m->seq;
    out->last_ts = m->last_ts;
    out->last_price = m->last_price;
    out->bid_levels = m->side[LX_SIDE_BUY].live;
    out->ask_levels = m->side[LX_SIDE_SELL].live;
    out->orders = m->norders;
    return 0;
}

int lx_engine_asset_info(const lx_engine_t *e, lx_asset_id_t a, lx_asset_info_t *out) {
    if (a >= e->cfg.max_assets || !e->assets[a].exists) return LX_ENOENT;
    const lx__asset_t *as = &e->assets[a];
    out->asset = a;
    memcpy(out->symbol, as->symbol, 16);
    out->scale = as->scale;
    out->supply = as->supply;
    out->fees = as->fees;
    return 0;
}

void lx_engine_stats(const lx_engine_t *e, lx_engine_stats_t *out) {
    memset(out, 0, sizeof *out);
    out->markets = e->nmarkets;
    out->assets = e->nassets;
    out->orders = e->norders;
    out->balances = e->nbalances;
    size_t sides = 0;
    for (uint32_t i = 0; i < e->cfg.max_markets; i++) {
        const lx__market_t *m = &e->markets[i];
        if (!m->exists) continue;
        out->levels += m->side[0].live + m->side[1].live; /* not the tombstones */
        for (int s = 0; s < 2; s++) {
            const lx__side_t *sd = &m->side[s];
            sides += (size_t)sd->cap * (sizeof(int64_t) + sizeof(uint32_t));
            if (!sd->deep) continue;
            const lx__deep_t *d = &e->deeps[sd->deep];
            sides += (size_t)(d->nblk + (d->spare != NULL)) * sizeof(lx__blk_t) +
                     (size_t)d->cap * (sizeof(lx__blk_t *) + sizeof(int64_t) + sizeof(uint32_t));
        }
    }
    /* order memory: the arena up to its high-water mark (lowest-free keeps
     * it dense), the client-id index, the GTD heap and expiry table, the
     * level pool, the side arrays and ladders (free ones too), the
     * free-slot bitmap up to the high-water mark (its zero pages above it
     * are never mapped) */
    out->bytes_orders = (size_t)e->slot_hwm * sizeof(lx__order_t) + lx__idx_bytes(&e->cid_idx) +
                        lx__gtd_bytes(e) + (size_t)e->nlevels_cap * sizeof(lx__level_t) + sides +
                        ((size_t)e->slot_hwm / 64 + 1) * 8 + (size_t)(e->nl1 + e->nl2) * 8 +
                        (size_t)(e->nlads - 1) * sizeof(lx__lad_t) +
                        (size_t)e->lads_cap * sizeof *e->lads;
    out->bytes = out->bytes_orders +
                 (size_t)e->cfg.max_markets * (sizeof(lx__market_t) + sizeof *e->tick_size) +
                 (size_t)e->cfg.max_assets * sizeof(lx__asset_t) +
                 (size_t)e->cfg.max_accounts * sizeof(lx__account_t) +
                 (size_t)e->balances_cap * sizeof(lx__balance_t) + lx__idx_bytes(&e->bal_idx) +
                 (size_t)e->deposits_cap * 8 + lx__idx_bytes(&e->dep_idx);
}

static void report(lx_memory_fn fn, void *ctx, const void *p, size_t n, size_t size) {
    if (p && n) fn(ctx, (void *)(uintptr_t)p, n * size);
}

static void report_idx(lx_memory_fn fn, void *ctx, const lx__idx_t *t) {
    if (t->arena) report(fn, ctx, t->reg[0], (size_t)t->reg_nb[0] + t->reg_nb[1], sizeof *t->bkt);
    if (t->mem) report(fn, ctx, t->bkt, t->nb, sizeof *t->bkt);
    if (t->old && t->old_mem) report(fn, ctx, t->old, t->ocap, sizeof *t->old);
}

void lx_engine_memory(const lx_engine_t *e, lx_memory_fn fn, void *ctx) {
    const lx_engine_config_t *c = &e->cfg;
    report(fn, ctx, e->orders, c->max_orders, sizeof *e->orders);
    report(fn, ctx, e->accounts, c->max_accounts, sizeof *e->accounts);
    report(fn, ctx, e->ident, c->max_accounts, sizeof *e->ident);
    report(fn, ctx, e->markets, c->max_markets, sizeof *e->markets);
    report(fn, ctx, e->tick_size, c->max_markets, sizeof *e->tick_size);
    report(fn, ctx, e->assets, c->max_assets, sizeof *e->assets);
    report(fn, ctx, e->free_l0, e->nl0, sizeof *e->free_l0);
    report(fn, ctx, e->free_l1, e->nl1, sizeof *e->free_l1);
    report(fn, ctx, e->free_l2, e->nl2, sizeof *e->free_l2);
    report(fn, ctx, e->levels, e->nlevels_cap, sizeof *e->levels);
    report(fn, ctx, e->balances, e->balances_cap, sizeof *e->balances);
    report(fn, ctx, e->deposit_ids, e->deposits_cap, sizeof *e->deposit_ids);
    report(fn, ctx, e->gtd, e->gtd_cap, sizeof *e->gtd);
    report(fn, ctx, e->gtx, e->gtx_cap, sizeof *e->gtx);
    report(fn, ctx, e->dms, e->dms_cap, sizeof *e->dms);
    report(fn, ctx, e->keys, e->keys_cap, sizeof *e->keys);
    report(fn, ctx, e->floors, e->floors_cap, sizeof *e->floors);
    report_idx(fn, ctx, &e->cid_idx);
    report_idx(fn, ctx, &e->bal_idx);
    report_idx(fn, ctx, &e->dep_idx);
    report_idx(fn, ctx, &e->gtx_idx);
    report_idx(fn, ctx, &e->key_idx);
}

bool lx_engine_best(const lx_engine_t *e, lx_market_id_t id, lx_side_t side, int64_t *price,
                    int64_t *qty) {
    const lx__market_t *m = market_get(e, id);
    int64_t key;
    uint32_t li = m && side <= LX_SIDE_SELL ? lx__side_best(e, m, (int)side, &key) : LX__NIL;
    if (li == LX__NIL) return false;
    const lx__level_t *l = &e->levels[li];
    if (price) *price = l->price;
    if (qty) *qty = l->qty;
    return true;
}

size_t lx_engine_levels(const lx_engine_t *e, lx_market_id_t id, lx_side_t side, lx_level_t *out,
                        size_t n) {
    const lx__market_t *m = market_get(e, id);
    if (!m || side > LX_SIDE_SELL) return 0;
    size_t k = 0;
    lx__walk_t w;
    for (uint32_t li = lx__walk_first(e, m, (int)side, &w); li != LX__NIL && k < n;
         li = lx__walk_next(e, &w)) {
        const lx__level_t *l = &e->levels[li];
        out[k].price = l->price;
        out[k].qty = l->qty;
        out[k].count = l->count;
        k++;
    }
    return k;
}

int64_t lx_engine_depth_at(const lx_engine_t *e, lx_market_id_t id, lx_side_t side, int64_t price,
                           uint32_t *count) {
    const lx__market_t *m = market_get(e, id);
    if (count) *count = 0;
    if (!m || side > LX_SIDE_SELL || price < 1) return 0; /* (no level has such a price) */
    uint32_t li = lx__side_level(e, m, (int)side, lx__key(side, price));
    if (li == LX__NIL) return 0;
    const lx__level_t *l = &e->levels[li];
    if (count) *count = l->count;
    return l->qty;
}

static void fill_info(const lx_engine_t *e, uint32_t slot, lx_order_info_t *out) {
    const lx__order_t *o = &e->orders[slot];
    const lx__level_t *l = &e->levels[o->level];
    const lx__market_t *m = &e->markets[l->market];
    out->order_id = lx__order_id(slot, o->gen);
    out->account = o->account;
    out->market = l->market;
    out->side = o->side;
    out->type = o->type;
    out->tif = o->tif;
    out->stp = o->stp;
    out->price = l->price;
    out->qty = lx__order_qty(o);
    out->remaining = o->remaining;
    out->filled = o->filled;
    out->client_id = o->client_id;
    out->expiry = lx__gtd_expiry(e, slot);
    out->locked =
        e->cfg.clearing ? lx__lock_amount(m, o->side, l->price, o->remaining, o->fee_res) : 0;
}

int lx_engine_order(const lx_engine_t *e, lx_order_id_t id, lx_order_info_t *out) {
    uint32_t slot = (uint32_t)id;
    if (slot >= e->cfg.max_orders) return LX_ENOENT;
    const lx__order_t *o = &e->orders[slot];
    if ((id >> 32) == 0 || o->gen != (uint32_t)(id >> 32) || o->level == LX__NIL) return LX_ENOENT;
    fill_info(e, slot, out);
    return 0;
}

int lx_engine_order_by_client_id(const lx_engine_t *e, lx_account_id_t a, uint64_t cid,
                                 lx_order_info_t *out) {
    if (a >= e->cfg.max_accounts || cid == 0) return LX_ENOENT;
    uint32_t slot = lx__cid_find(e, a, cid);
    if (slot == LX__NIL) return LX_ENOENT;
    fill_info(e, slot, out);
    return 0;
}

size_t lx_engine_book_orders(const lx_engine_t *e, lx_market_id_t id, lx_side_t side,
                             lx_order_info_t *out, size_t cap) {
    const lx__market_t *m = market_get(e, id);
    if (!m || side > LX_SIDE_SELL) return 0;
    size_t k = 0;
    lx__walk_t w;
    for (uint32_t li = lx__walk_first(e, m, (int)side, &w); li != LX__NIL;
         li = lx__walk_next(e, &w)) {
        for (uint32_t cur = e->levels[li].head; cur != LX__NIL; cur = e->orders[cur].next) {
            if (k < cap) fill_info(e, cur, &out[k]);
            k++;
        }
    }
    return k;
}

size_t lx_engine_account_orders(const lx_engine_t *e, lx_account_id_t a, lx_order_info_t *out,
                                size_t cap) {
    if (a >= e->cfg.max_accounts || e->accounts[a].norders == 0) return 0;
    size_t k = 0;
    for (uint32_t cur = e->accounts[a].head; cur != LX__NIL; cur = e->orders[cur].acct_next) {
        if (k < cap) fill_info(e, cur, &out[k]);
        k++;
    }
    return k;
}

int lx_engine_balance(const lx_engine_t *e, lx_account_id_t a, lx_asset_id_t asset, int64_t *free_,
                      int64_t *locked) {
    if (a >= e->cfg.max_accounts || asset >= e->cfg.max_assets) return LX_EINVAL;
    const lx__balance_t *b = lx__bal_find(e, a, asset);
    if (free_) *free_ = b ? b->free : 0;
    if (locked) *locked = b ? b->locked : 0;
    return 0;
}

void lx_engine_foreach_balance(const lx_engine_t *e,
                               void (*fn)(void *ctx, lx_account_id_t a, lx_asset_id_t asset,
                                          int64_t free_, int64_t locked),
                               void *ctx) {
    for (uint32_t i = 0; i < e->nbalances; i++) {
        const lx__balance_t *b = &e->balances[i];
        fn(ctx, b->account, b->asset, b->free, b->locked);
    }
}
