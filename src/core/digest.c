/*
 * digest.c: lx_engine_digest(), a 64-bit hash of the whole engine state.
 *
 * Replicas compare digests to prove they hold the same state; tests compare
 * them across runs, processes, snapshots and replays. So the digest covers
 * everything that can influence a future event, walked in an order that
 * depends only on the state, never on addresses or allocation history:
 * configuration, the last seq and ts; assets; markets by id with their
 * parameters, counters and both book sides best level first, each level's
 * orders in FIFO order with every field; each account's open orders in
 * acceptance order (cancel-all order); balances, as a set; applied
 * deposit ids in order; the generation of every slot ever used (future
 * order ids); the live GTD entries and the armed dead man's switches, each
 * combined by addition because a heap's array order is an artifact of its
 * history; and every known key (owner, agent, revoked) with its account,
 * role, last nonces, expiry and name, in the order keys[] holds them; and
 * the accounts' nonce floors (rules 3), as a set.
 * lx__digest also computes it as images of an older version have it in
 * their trailer (without the fields that version did not have), so that
 * such an image can still be checked and loaded.
 *
 * Level indices, index-table layouts and capacities are deliberately left
 * out: they are storage, not state. The walk costs O(state); the digest is
 * computed on demand, not maintained per command.
 */
#include "core.h"
#include "lx/snapshot.h"

typedef struct {
    uint64_t h;
} hasher_t;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void put(hasher_t *s, uint64_t v) {
    s->h = mix(s->h ^ (v + 0x9e3779b97f4a7c15ULL)) + v;
}

static void put_order(hasher_t *s, const lx_engine_t *e, uint32_t slot) {
    const lx__order_t *o = &e->orders[slot];
    put(s, lx__order_id(slot, o->gen));
    put(s, o->account);
    put(s, (uint64_t)o->remaining);
    put(s, (uint64_t)o->filled);
    put(s, o->client_id);
    put(s, (uint64_t)lx__gtd_expiry(e, slot));
    put(s, (uint64_t)o->side | (uint64_t)o->type << 1 | (uint64_t)o->tif << 2 |
               (uint64_t)o->stp << 5 | (uint64_t)o->fee_res << 8);
}

uint64_t lx_engine_digest(const lx_engine_t *e) {
    return lx__digest(e, LX_SNAPSHOT_VERSION);
}

/* The digest as images of `version` have it in their trailer: version 2
 * had no market last-event times and one nonce per key; versions 2 and 3
 * no fee account, and their balances in creation order; versions before 5
 * no rules version (they ran rules 1); versions before 6 no nonce floors. */
uint64_t lx__digest(const lx_engine_t *e, uint32_t version) {
    hasher_t s = {0x6c78646578ULL};
    const lx_engine_config_t *c = &e->cfg;
    put(&s, c->max_markets);
    put(&s, c->max_assets);
    put(&s, c->max_accounts);
    put(&s, c->max_orders);
    put(&s, c->max_open_orders_per_account);
    put(&s, c->clearing);
    put(&s, (uint64_t)c->deadman_min_lead_ns);
    put(&s, c->max_agents_per_account);
    if (version >= 4) put(&s, c->fee_account);
    if (version >= 5) put(&s, c->rules);
    put(&s, e->last_seq);
    put(&s, (uint64_t)e->last_ts);

    for (uint32_t a = 0; a < c->max_assets; a++) {
        const lx__asset_t *as = &e->assets[a];
        if (!as->exists) continue;
        uint64_t w[2];
        memcpy(w, as->symbol, 16);
        put(&s, a);
        put(&s, w[0]);
        put(&s, w[1]);
        put(&s, (uint64_t)as->scale);
        put(&s, (uint64_t)as->supply);
        put(&s, (uint64_t)as->fees);
    }

    for (uint32_t i = 0; i < c->max_markets; i++) {
        const lx__market_t *m = &e->markets[i];
        if (!m->exists) continue;
        put(&s, i);
        put(&s, (uint64_t)m->halted << 8 | m->mode);
        put(&s, m->base);
        put(&s, m->quote);
        put(&s, (uint64_t)e->tick_size[i]);
        put(&s, (uint64_t)m->lot_size);
        put(&s, (uint64_t)m->min_price);
        put(&s, (uint64_t)m->max_price);
        put(&s, (uint64_t)m->max_qty);
        put(&s, (uint64_t)(uint32_t)m->maker_fee << 32 | (uint32_t)m->taker_fee);
        put(&s, m->seq);
        if (version >= 3) put(&s, (uint64_t)m->last_ts);
        put(&s, (uint64_t)m->last_price);
        for (int side = 0; side < 2; side++) {
            const lx__side_t *sd = &m->side[side];
            put(&s, sd->live);
            lx__walk_t w;
            for (uint32_t li = lx__walk_first(e, m, side, &w); li != LX__NIL;
                 li = lx__walk_next(e, &w)) {
                const lx__level_t *l = &e->levels[li];
                put(&s, (uint64_t)l->price);
                put(&s, (uint64_t)l->qty);
                put(&s, l->count);
                for (uint32_t cur = l->head; cur != LX__NIL; cur = e->orders[cur].next)
                    put_order(&s, e, cur);
            }
        }
    }

    for (uint32_t a = 0; a < c->max_accounts; a++) {
        const lx__account_t *ac = &e->accounts[a];
        if (ac->norders == 0) continue;
        put(&s, a);
        put(&s, ac->norders);
        for (uint32_t cur = ac->head; cur != LX__NIL; cur = e->orders[cur].acct_next)
            put(&s, lx__order_id(cur, e->orders[cur].gen));
    }

    put(&s, e->nbalances);
    if (version >= 4) {
        /* a set, combined by addition: the order records were created in
         * is history (a version-3 image's fee account records are created
         * at its load, a replay's with their assets) */
        uint64_t bals = 0;
        for (uint32_t i = 0; i < e->nbalances; i++) {
            const lx__balance_t *b = &e->balances[i];
            bals += mix(mix(mix((uint64_t)b->account << 32 | b->asset) ^ (uint64_t)b->free) ^
                        (uint64_t)b->locked);
        }
        put(&s, bals);
    } else {
        for (uint32_t i = 0; i < e->nbalances; i++) {
            const lx__balance_t *b = &e->balances[i];
            put(&s, (uint64_t)b->account << 32 | b->asset);
            put(&s, (uint64_t)b->free);
            put(&s, (uint64_t)b->locked);
        }
    }
    put(&s, e->ndeposits);
    for (uint32_t i = 0; i < e->ndeposits; i++) put(&s, e->deposit_ids[i]);

    put(&s, e->slot_hwm);
    for (uint32_t i = 0; i < e->slot_hwm; i++) put(&s, e->orders[i].gen);

    uint64_t gtd = 0;
    for (uint32_t i = 0; i < e->ngtd; i++) {
        const lx__gtd_t *g = &e->gtd[i];
        lx_order_id_t id = lx__order_id(g->slot, e->orders[g->slot].gen);
        gtd += mix(mix(mix((uint64_t)g->expiry) ^ g->seq) ^ id);
    }
    put(&s, gtd);

    /* armed dead man's switches: a set, combined by addition like the GTD
     * entries (the heap's array order is history, not state) */
    uint64_t dms = 0;
    for (uint32_t i = 0; i < e->ndms; i++)
        dms += mix(mix((uint64_t)e->dms[i].deadline) ^ e->dms[i].account);
    put(&s, e->ndms);
    put(&s, dms);

    /* keys in the order the engine learnt them, every field */
    put(&s, e->nkeys);
    for (uint32_t i = 0; i < e->nkeys; i++) {
        const lx__key_t *k = &e->keys[i];
        uint64_t w[6];
        memcpy(w, k->key, 32);
        memcpy(w + 4, k->name, 16);
        for (int j = 0; j < 6; j++) put(&s, w[j]);
        put(&s, (uint64_t)k->account << 32 | k->role);
        put(&s, k->nonce);
        if (version >= 3) put(&s, k->nonce_all);
        put(&s, (uint64_t)k->expiry);
    }

    /* the accounts' nonce floors (rules 3), a set like the switches; an
     * engine without any (every engine before rules 3) hashes nothing
     * here, so its digest is the one of version 5 */
    if (version >= 6 && e->nfloors) {
        uint64_t fl = 0;
        for (uint32_t i = 0; i < e->nfloors; i++) {
            const lx__floor_t *f = &e->floors[i];
            uint64_t x = mix(f->account);
            for (uint32_t j = 0; j < LX_NONCE_FLOOR_SLOTS; j++)
                x = mix(mix(x ^ f->nonce[j]) ^ f->nonce_all[j]);
            fl += x;
        }
        put(&s, e->nfloors);
        put(&s, fl);
    }
    return mix(s.h);
}
