/*
 * validate.c: lx_engine_validate(), the deep consistency check.
 *
 * The third tier of checks (CONVENTIONS §7): it walks every structure and
 * cross-checks what the fast paths keep incrementally. Tests and fuzzers
 * call it after commands; it is never on the matching path. It checks:
 *
 *  - each side's keys strictly ascending, each key naming a live level of
 *    that market, side and price; no empty level; the book not crossed;
 *  - each level's FIFO: links both ways, orders pointing back at the level,
 *    same side, remaining > 0, qty and count equal to the sums;
 *  - resting orders = slots in use = sum of market and account counts;
 *    the free-slot bitmap taken at exactly the resting orders' slots, below
 *    the high-water mark, its summary levels and the bits past max_orders
 *    as slots.c keeps them (it decides future order ids, and an image does
 *    not carry it: the loader rebuilds it from the resting orders);
 *  - each account list: links both ways, owned orders only;
 *  - the client-id index holds exactly the resting orders with a client id;
 *  - every applied deposit id found through the index, and nothing else
 *    there (it decides which deposits are duplicates; rebuilt on load);
 *  - balances never negative, each found through the index; with clearing,
 *    locked equal to the sum of the locks of the owner's open orders, and
 *    the fee account's record of every asset; per asset sum(free +
 *    locked) = supply (the fees are in the fee account's balances);
 *  - the GTD heap ordered, and it and the expiry table holding exactly the
 *    resting GTD orders, each entry naming the other;
 *  - the dead man's switch heap ordered, each entry's account pointing
 *    back at its position, and no other account claiming one;
 *  - every key found through the index, owned by a valid account, not all
 *    zero, with a printable name, an owner key named by its account and no
 *    other, each account's agent count equal to its AGENT keys and within
 *    the limit;
 *  - markets in continuous mode with fees a command could set, assets with
 *    a printable symbol and a scale (what the snapshot loader relies on).
 */
#include <stdio.h>
#include <stdlib.h>
#include "accounts.h"
#include "clearing.h"
#include "idx.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (msg && msglen) snprintf(msg, msglen, __VA_ARGS__);                                     \
        rc = LX_ECORRUPT;                                                                          \
        goto out;                                                                                  \
    } while (0)

static bool gtd_less(const lx__gtd_t *a, const lx__gtd_t *b) {
    /* (expiry, accept seq); the slot breaks a tie no command history makes
     * (a command accepts one order at most), so that even a crafted image's
     * expiry order depends on the state alone */
    if (a->expiry != b->expiry) return a->expiry < b->expiry;
    if (a->seq != b->seq) return a->seq < b->seq;
    return a->slot < b->slot;
}

/* A side's blocks (book.c): at least one, none empty or over LX__BLK,
 * each first key in bmin, the entry and tombstone counts right (each
 * block's and in all), a spare or room only as
 * lim claims, and the touch array non-empty and able to take a block
 * back. Key order and levels are checked with the touch array's. */
static int validate_deep(const lx_engine_t *e, const lx__side_t *s, char *msg, size_t msglen) {
    int rc = 0;
    if (s->deep >= e->ndeeps) FAIL("deep record %u out of range", s->deep);
    const lx__deep_t *d = &e->deeps[s->deep];
    if (d->nblk == 0 || d->nblk > d->cap)
        FAIL("deep %u: %u blocks, cap %u", s->deep, d->nblk, d->cap);
    if (s->n == 0 || s->cap < LX__BLK)
        FAIL("deep %u: touch array of %u entries, cap %u", s->deep, s->n, s->cap);
    if (s->lim && (!d->spare || d->nblk == d->cap))
        FAIL("deep %u: lim %u without a spare block or room", s->deep, s->lim);
    uint32_t n = 0, dead = 0;
    for (uint32_t j = 0; j < d->nblk; j++) {
        const lx__blk_t *b = d->blk[j];
        if (b->n == 0 || b->n > LX__BLK) FAIL("deep %u block %u: %u entries", s->deep, j, b->n);
        if (d->bmin[j] != b->keys[0])
            FAIL("deep %u block %u: bmin is not its first key", s->deep, j);
        uint32_t bd = 0;
        for (uint32_t i = 0; i < b->n; i++)
            bd += b->lv[i] < e->nlevels_cap && e->levels[b->lv[i]].count == 0;
        if (bd != d->bdead[j])
            FAIL("deep %u block %u: %u tombstones, counter says %u", s->deep, j, bd, d->bdead[j]);
        n += b->n;
        dead += bd;
    }
    if (n != d->n || dead != d->dead)
        FAIL("deep %u: %u entries and %u tombstones in blocks, counters say %u and %u", s->deep, n,
             dead, d->n, d->dead);
out:
    return rc;
}

/* What the walk over the books counts, for the engine-wide checks after
 * it. */
typedef struct {
    uint64_t orders, with_cid, gtd_orders, levels;
} tally_t;

/* One live level l of market mi, side `side`: its FIFO linked both ways,
 * every order resting here, on this side, with something remaining, and
 * the level's qty and count equal to the sums; each order's client id
 * indexed, and (locks: with clearing) its lock added to its balance's. */
static int validate_fifo(const lx_engine_t *e, uint32_t mi, int side, uint32_t l, int64_t *locks,
                         tally_t *t, char *msg, size_t msglen) {
    int rc = 0;
    const lx__market_t *m = &e->markets[mi];
    const lx__level_t *lv = &e->levels[l];
    if (lv->price < m->min_price || lv->price > m->max_price)
        FAIL("market %u: level price %lld outside band", mi, (long long)lv->price);
    if (lv->head == LX__NIL)
        FAIL("market %u side %d: empty level at price %lld", mi, side, (long long)lv->price);
    int64_t qty = 0;
    uint32_t count = 0, prev = LX__NIL;
    for (uint32_t cur = lv->head; cur != LX__NIL; cur = e->orders[cur].next) {
        const lx__order_t *o = &e->orders[cur];
        if (!lx__slot_used(e, cur)) FAIL("order slot %u resting but free", cur);
        if (o->prev != prev) FAIL("order %u: prev link broken", cur);
        if (o->level != l) FAIL("order %u: level %u, expected %u", cur, o->level, l);
        if ((int)o->side != side) FAIL("order %u: on the wrong side", cur);
        if (o->remaining == 0) FAIL("order %u: resting with nothing remaining", cur);
        if (o->account >= e->cfg.max_accounts) FAIL("order %u: bad account", cur);
        if (o->tif == LX_TIF_IOC || o->tif == LX_TIF_FOK || o->type == LX_ORDER_MARKET)
            FAIL("order %u: an IOC/FOK/market order rests", cur);
        qty += o->remaining;
        count++;
        prev = cur;
        if (count > e->cfg.max_orders) FAIL("level %u: FIFO cycle", l);
        if (o->client_id) {
            t->with_cid++;
            if (lx__cid_find(e, o->account, o->client_id) != cur)
                FAIL("order %u: client id %llu not indexed", cur, (unsigned long long)o->client_id);
        }
        if (o->tif == LX_TIF_GTD) t->gtd_orders++;
        /* only a buy with clearing on locks a fee reserve */
        if (o->fee_res && (side != LX_SIDE_BUY || !locks))
            FAIL("order %u: a fee reserve on a sell or without clearing", cur);
        if (locks) {
            const lx__balance_t *b = lx__bal_find(e, o->account, lx__lock_asset(m, side));
            if (!b) FAIL("order %u: no balance record for its lock", cur);
            /* a place creates both (a fill then never allocates) */
            if (!lx__bal_find(e, o->account, lx__lock_asset(m, !side)))
                FAIL("order %u: no balance record for what it buys", cur);
            locks[b - e->balances] += lx__lock_amount(m, side, lv->price, o->remaining, o->fee_res);
        }
    }
    if (prev != lv->tail) FAIL("level %u: tail link broken", l);
    if (qty != lv->qty || count != lv->count)
        FAIL("market %u price %lld: level says qty %lld count %u, orders sum to %lld count %u", mi,
             (long long)lv->price, (long long)lv->qty, lv->count, (long long)qty, count);
    t->orders += count;
out:
    return rc;
}

/* The ladder of market mi's side: every key of the segments (the highest
 * is far_top) below lo; each slot either empty and clear in the bitmap or
 * set and naming a live level of this market, side and price, with its
 * FIFO (validate_fifo); the summary word, count and top right. */
static int validate_ladder(const lx_engine_t *e, uint32_t mi, int side, int64_t far_top,
                           int64_t *locks, tally_t *t, uint32_t *live, char *msg, size_t msglen) {
    int rc = 0;
    const lx__lad_t *d = lx__lad(e, &e->markets[mi], side);
    if (far_top != INT64_MIN && far_top >= d->lo)
        FAIL("market %u side %d: key %lld below the ladder is not below its lo %lld", mi, side,
             (long long)far_top, (long long)d->lo);
    uint32_t n = 0, top = 0;
    for (uint32_t w = 0; w < LX__LAD_W / 64; w++)
        if (((d->sum >> w) & 1) != (d->bits[w] != 0))
            FAIL("market %u side %d: ladder summary bit %u wrong", mi, side, w);
    if (LX__LAD_W / 64 < 64 && (d->sum >> (LX__LAD_W / 64 % 64)) != 0)
        FAIL("market %u side %d: ladder summary names words past the bitmap", mi, side);
    for (uint32_t i = 0; i < LX__LAD_W; i++) {
        bool set = (d->bits[i / 64] >> (i % 64)) & 1;
        uint32_t l = d->lv[i];
        if (!set) {
            if (l != LX__NIL)
                FAIL("market %u side %d: ladder slot %u clear but names %u", mi, side, i, l);
            continue;
        }
        if (l >= e->nlevels_cap) FAIL("market %u: ladder level index %u out of range", mi, l);
        const lx__level_t *lv = &e->levels[l];
        t->levels++;
        if (lv->market != mi || (int)lv->side != side ||
            (uint64_t)lx__key(side, lv->price) != (uint64_t)d->lo + i)
            FAIL("market %u side %d: ladder slot %u has level %u of market %u side %u price %lld",
                 mi, side, i, l, lv->market, lv->side, (long long)lv->price);
        if (lv->count == 0)
            FAIL("market %u side %d: ladder slot %u holds an empty level", mi, side, i);
        n++;
        top = i + 1;
        if ((rc = validate_fifo(e, mi, side, l, locks, t, msg, msglen))) goto out;
    }
    if (n != d->n || top != d->top)
        FAIL("market %u side %d: ladder of %u levels, top %u; counters say %u, %u", mi, side, n,
             top, d->n, d->top);
    *live = n;
out:
    return rc;
}

/* One side of market mi: its array bounds and blocks, keys strictly
 * ascending over the blocks and the touch array, each naming a level of
 * this market, side and price; tombstones empty and never the best; each
 * live level's FIFO (validate_fifo); the live count. */
static int validate_side(const lx_engine_t *e, uint32_t mi, int side, int64_t *locks, tally_t *t,
                         char *msg, size_t msglen) {
    int rc = 0;
    const lx__side_t *s = &e->markets[mi].side[side];
    if ((uint64_t)s->front + s->n > s->cap || s->n > LX__TOUCH_MAX + LX__LAD_W)
        FAIL("market %u side %d: front %u + n %u > cap %u", mi, side, s->front, s->n, s->cap);
    if (s->lim > s->cap || s->lim > LX__TOUCH_MAX)
        FAIL("market %u side %d: lim %u above cap %u", mi, side, s->lim, s->cap);
    if (s->deep && (rc = validate_deep(e, s, msg, msglen))) goto out;
    uint32_t live = 0;
    int64_t prev_key = INT64_MIN;
    uint32_t nseg = lx__side_nseg(e, s);
    for (uint32_t j = 0; j < nseg; j++) {
        const int64_t *keys;
        const uint32_t *lvs;
        uint32_t nk = lx__side_seg(e, s, j, &keys, &lvs);
        for (uint32_t k = 0; k < nk; k++) {
            if (keys[k] <= prev_key && (j || k))
                FAIL("market %u side %d: keys not ascending at %u of segment %u", mi, side, k, j);
            prev_key = keys[k];
            uint32_t l = lvs[k];
            if (l >= e->nlevels_cap) FAIL("market %u: level index %u out of range", mi, l);
            const lx__level_t *lv = &e->levels[l];
            t->levels++; /* live or tombstone, every one is in use */
            if (lv->market != mi || (int)lv->side != side || lx__key(side, lv->price) != keys[k])
                FAIL("market %u side %d: level %u has market %u side %u price %lld", mi, side, l,
                     lv->market, lv->side, (long long)lv->price);
            if (lv->count == 0) { /* a tombstone: empty, and never the best */
                if (j == nseg - 1 && k == nk - 1)
                    FAIL("market %u side %d: the best entry is a tombstone", mi, side);
                if (lv->qty != 0 || lv->head != LX__NIL || lv->tail != LX__NIL)
                    FAIL("market %u side %d: tombstone level %u holds orders", mi, side, l);
                continue;
            }
            live++;
            if ((rc = validate_fifo(e, mi, side, l, locks, t, msg, msglen))) goto out;
        }
    }
    if (e->markets[mi].lad[side]) {
        if (e->markets[mi].lad[side] >= e->nlads)
            FAIL("market %u side %d: ladder %u of %u", mi, side, e->markets[mi].lad[side],
                 e->nlads);
        uint32_t lad_live = 0;
        if ((rc = validate_ladder(e, mi, side, prev_key, locks, t, &lad_live, msg, msglen)))
            goto out;
        live += lad_live;
    }
    if (live != s->live)
        FAIL("market %u side %d: %u live levels, counter says %u", mi, side, live, s->live);
out:
    return rc;
}

/* Every market's book: both sides, the market's order count, not crossed;
 * then resting orders, levels in use and client ids against the engine's
 * counters. */
static int validate_books(const lx_engine_t *e, int64_t *locks, tally_t *t, char *msg,
                          size_t msglen) {
    int rc = 0;
    for (uint32_t mi = 0; mi < e->cfg.max_markets; mi++) {
        const lx__market_t *m = &e->markets[mi];
        if (!m->exists) continue;
        if (m->mode != LX_MODE_CONTINUOUS || !lx__fees_valid(m->maker_fee, m->taker_fee))
            FAIL("market %u: mode %u, fees %d/%d: not what a command could set", mi, m->mode,
                 m->maker_fee, m->taker_fee);
        /* (it may pass the engine's last_ts: GTD expiries due at a command's
         * ts stay done when the command itself runs out of memory) */
        if (m->last_ts < 0) FAIL("market %u: last event at ts %lld", mi, (long long)m->last_ts);
        uint64_t before = t->orders;
        for (int side = 0; side < 2; side++)
            if ((rc = validate_side(e, mi, side, locks, t, msg, msglen))) goto out;
        if (t->orders - before != m->norders)
            FAIL("market %u: %u orders counted, %llu resting", mi, m->norders,
                 (unsigned long long)(t->orders - before));
        /* the ladders' tops and the touch arrays' last entries are live
         * (checked above), so they are the best */
        int64_t kb, ka;
        uint32_t bb = lx__side_best(e, m, LX_SIDE_BUY, &kb);
        uint32_t ba = lx__side_best(e, m, LX_SIDE_SELL, &ka);
        if (bb != LX__NIL && ba != LX__NIL && e->levels[bb].price >= e->levels[ba].price)
            FAIL("market %u: crossed book, bid %lld >= ask %lld", mi,
                 (long long)e->levels[bb].price, (long long)e->levels[ba].price);
    }
    if (t->orders != e->norders)
        FAIL("%llu resting orders but %u slots in use", (unsigned long long)t->orders, e->norders);
    if (t->levels != e->levels_used)
        FAIL("%llu levels on sides but %u in use", (unsigned long long)t->levels, e->levels_used);
    if (t->with_cid != e->cid_idx.count)
        FAIL("client-id index holds %u entries, %llu orders have one", e->cid_idx.count,
             (unsigned long long)t->with_cid);
out:
    return rc;
}

/* One level of the free-slot bitmap (slots.c: a set bit is a taken slot,
 * or above the first level a full word below): nw words of which nbits
 * bits mean something, the rest set (sealed); up, the level above (NULL
 * at the top), has word i's bit set exactly when word i is full. Adds the
 * meaningful set bits to *set and sets *top to 1 + the highest of them. */
static bool slot_level_ok(const uint64_t *w, uint32_t nw, uint32_t nbits, const uint64_t *up,
                          uint64_t *set, uint32_t *top) {
    for (uint32_t i = 0; i < nw; i++) {
        uint64_t seal = i == nw - 1 && nbits % 64 ? ~((1ULL << (nbits % 64)) - 1) : 0;
        if ((w[i] & seal) != seal) return false;
        uint64_t bits = w[i] & ~seal;
        if (bits) {
            *set += (uint64_t)__builtin_popcountll(bits);
            *top = i * 64 + 64 - (uint32_t)__builtin_clzll(bits);
        }
        if (up && (w[i] == ~0ULL) != ((up[i / 64] >> (i % 64)) & 1)) return false;
    }
    return true;
}

/* The free-slot bitmap: its three levels coherent, exactly `resting` slots
 * taken (validate_fifo checked that each resting order's slot is), all
 * below the high-water mark. */
static int validate_slots(const lx_engine_t *e, uint64_t resting, char *msg, size_t msglen) {
    int rc = 0;
    uint64_t taken = 0, ignored = 0;
    uint32_t top = 0, itop = 0;
    if (!slot_level_ok(e->free_l0, e->nl0, e->cfg.max_orders, e->free_l1, &taken, &top) ||
        !slot_level_ok(e->free_l1, e->nl1, e->nl0, e->free_l2, &ignored, &itop) ||
        !slot_level_ok(e->free_l2, e->nl2, e->nl1, NULL, &ignored, &itop))
        FAIL("free-slot bitmap: a summary bit or a sealed bit wrong");
    if (taken != resting)
        FAIL("free-slot bitmap: %llu slots taken, %llu orders rest", (unsigned long long)taken,
             (unsigned long long)resting);
    if (top > e->slot_hwm) FAIL("slot %u taken, high-water mark %u", top - 1, e->slot_hwm);
out:
    return rc;
}

/* Each account's list of open orders: linked both ways, its own resting
 * orders only, count and tail right, within the per-account limit; all
 * the lists together hold every resting order. */
static int validate_accounts(const lx_engine_t *e, uint64_t resting, char *msg, size_t msglen) {
    int rc = 0;
    uint64_t in_lists = 0;
    for (uint32_t a = 0; a < e->cfg.max_accounts; a++) {
        const lx__account_t *ac = &e->accounts[a];
        if (ac->norders == 0) continue;
        uint32_t n = 0, prev = LX__NIL;
        for (uint32_t cur = ac->head; cur != LX__NIL; cur = e->orders[cur].acct_next) {
            const lx__order_t *o = &e->orders[cur];
            if (o->account != a)
                FAIL("account %u lists order %u of account %u", a, cur, o->account);
            if (o->acct_prev != prev) FAIL("account %u: prev link broken at %u", a, cur);
            if (o->level == LX__NIL) FAIL("account %u lists order %u that does not rest", a, cur);
            prev = cur;
            if (++n > ac->norders) FAIL("account %u: list longer than its count", a);
        }
        if (n != ac->norders || prev != ac->tail) FAIL("account %u: count or tail broken", a);
        in_lists += n;
        if (e->cfg.max_open_orders_per_account && n > e->cfg.max_open_orders_per_account)
            FAIL("account %u: %u open orders over the limit", a, n);
    }
    if (in_lists != resting)
        FAIL("account lists hold %llu orders, %llu rest", (unsigned long long)in_lists,
             (unsigned long long)resting);
out:
    return rc;
}

/* The indexes sound; every balance indexed, of a known asset, never
 * negative, its locked equal to what its owner's orders lock (locks, with
 * clearing; else 0); per asset, the balances equal to the supply and (with
 * clearing) the fee account's record named by the asset. */
static int validate_balances(const lx_engine_t *e, const int64_t *locks, char *msg, size_t msglen) {
    int rc = 0;
    lx__i128 *sums = NULL;
    if (e->bal_idx.count != e->nbalances) FAIL("balance index count mismatch");
    const struct {
        const lx__idx_t *t;
        const char *name;
    } idx[] = {{&e->cid_idx, "client-id"},
               {&e->bal_idx, "balance"},
               {&e->dep_idx, "deposit"},
               {&e->gtx_idx, "GTD"},
               {&e->key_idx, "key"}};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        int irc = lx__idx_validate(idx[i].t);
        if (irc == LX_ENOMEM) { /* its check's scratch memory: not a corrupt index */
            rc = irc;
            goto out;
        }
        if (irc) FAIL("%s index corrupt", idx[i].name);
    }
    if (e->dep_idx.count != e->ndeposits)
        FAIL("deposit index holds %u ids, %u applied", e->dep_idx.count, e->ndeposits);
    for (uint32_t i = 0; i < e->ndeposits; i++)
        if (lx__deposit_find(e, e->deposit_ids[i]) != i)
            FAIL("deposit id %llu not indexed", (unsigned long long)e->deposit_ids[i]);
    sums = calloc(e->cfg.max_assets, sizeof *sums);
    if (!sums) {
        rc = LX_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < e->nbalances; i++) {
        const lx__balance_t *b = &e->balances[i];
        if (b->free < 0 || b->locked < 0)
            FAIL("balance of account %u asset %u negative: free %lld locked %lld", b->account,
                 b->asset, (long long)b->free, (long long)b->locked);
        if (lx__bal_find(e, b->account, b->asset) != b) FAIL("balance %u not indexed", i);
        if (b->asset >= e->cfg.max_assets || !e->assets[b->asset].exists)
            FAIL("balance %u of unknown asset", i);
        if (locks && locks[i] != b->locked)
            FAIL("account %u asset %u: locked %lld but its orders lock %lld", b->account, b->asset,
                 (long long)b->locked, (long long)locks[i]);
        if (!locks && b->locked != 0) FAIL("balance %u locked without clearing", i);
        sums[b->asset] += (lx__i128)b->free + b->locked;
    }
    for (uint32_t a = 0; a < e->cfg.max_assets; a++) {
        const lx__asset_t *as = &e->assets[a];
        if (!as->exists) continue;
        if (as->symbol[0] == 0 || !lx__text16_valid(as->symbol) || as->scale < 1)
            FAIL("asset %u: symbol or scale not what a command could set", a);
        if (as->fees < 0) /* a rebate never exceeds the taker's fee */
            FAIL("asset %u: fees %lld negative", a, (long long)as->fees);
        if (sums[a] != as->supply) /* the fees are the fee account's */
            FAIL("asset %u: balances %lld != supply %lld", a, (long long)sums[a],
                 (long long)as->supply);
        if (locks && (as->fee_bal == 0 || as->fee_bal > e->nbalances ||
                      e->balances[as->fee_bal - 1].account != e->cfg.fee_account ||
                      e->balances[as->fee_bal - 1].asset != a))
            FAIL("asset %u: no fee account record", a);
    }
out:
    free(sums);
    return rc;
}

/* The expiry table holding exactly the resting GTD orders, each found by
 * its slot; the heap ordered, with one entry per table entry, each naming
 * the other, with the same slot and expiry, none past due. */
static int validate_gtd(const lx_engine_t *e, uint64_t gtd_orders, char *msg, size_t msglen) {
    int rc = 0;
    if (e->ngtx != gtd_orders)
        FAIL("%llu GTD orders rest but the expiry table holds %u", (unsigned long long)gtd_orders,
             e->ngtx);
    if (e->ngtd != e->ngtx)
        FAIL("the GTD heap holds %u entries, the expiry table %u", e->ngtd, e->ngtx);
    for (uint32_t i = 0; i < e->ngtx; i++) {
        const lx__gtx_t *x = &e->gtx[i];
        const lx__order_t *o = &e->orders[x->slot];
        if (!lx__slot_used(e, x->slot) || o->level == LX__NIL || o->tif != LX_TIF_GTD)
            FAIL("expiry table entry %u: slot %u holds no resting GTD order", i, x->slot);
        if (lx__gtd_find(e, x->slot) != i) FAIL("expiry table entry %u: not found by its slot", i);
        if (x->hpos >= e->ngtd || e->gtd[x->hpos].xi != i)
            FAIL("expiry table entry %u: heap place %u does not point back", i, x->hpos);
    }
    for (uint32_t i = 0; i < e->ngtd; i++) {
        const lx__gtd_t *g = &e->gtd[i];
        if (i > 0 && gtd_less(g, &e->gtd[(i - 1) / 2])) FAIL("GTD heap out of order at %u", i);
        if (g->xi >= e->ngtx || e->gtx[g->xi].hpos != i || e->gtx[g->xi].slot != g->slot ||
            e->gtx[g->xi].expiry != g->expiry)
            FAIL("GTD heap entry %u: not its table entry's", i);
        if (g->expiry <= e->last_ts) FAIL("GTD order past its expiry still rests");
    }
out:
    return rc;
}

/* The dead man's switch heap ordered, each entry's account pointing back
 * at it, no other account claiming one. */
static int validate_dms(const lx_engine_t *e, char *msg, size_t msglen) {
    int rc = 0;
    for (uint32_t i = 0; i < e->ndms; i++) {
        const lx__dms_t *d = &e->dms[i];
        if (i > 0 && lx__dms_less(d, &e->dms[(i - 1) / 2]))
            FAIL("dead man's switch heap out of order at %u", i);
        if (d->account >= e->cfg.max_accounts || e->ident[d->account].dms != i + 1)
            FAIL("dead man's switch %u: account %u does not point back", i, d->account);
        if (d->deadline <= 0)
            FAIL("dead man's switch %u armed with deadline %lld", i, (long long)d->deadline);
    }
    uint64_t armed = 0;
    for (uint32_t a = 0; a < e->cfg.max_accounts; a++) armed += e->ident[a].dms != 0;
    if (armed != e->ndms)
        FAIL("%llu accounts claim a switch but the heap holds %u", (unsigned long long)armed,
             e->ndms);
out:
    return rc;
}

/* Every key indexed and owned by a valid account; each owner key named by
 * its account and no other; each account's agent count equal to its AGENT
 * keys; no revoked record and each floor record named by its account, and
 * floors only, from rules 3. */
static int validate_keys(const lx_engine_t *e, char *msg, size_t msglen) {
    int rc = 0;
    uint64_t owners = 0, agents = 0;
    for (uint32_t i = 0; i < e->nkeys; i++) {
        const lx__key_t *k = &e->keys[i];
        if (lx__key_find(e, k->key) != i) FAIL("key %u not indexed", i);
        if (k->account >= e->cfg.max_accounts) FAIL("key %u of account %u", i, k->account);
        if (k->role < LX_KEY_OWNER ||
            k->role > (e->cfg.rules < LX_RULES_3 ? LX_KEY_REVOKED : LX_KEY_AGENT))
            FAIL("key %u has role %u", i, k->role);
        if (lx__key_zero(k->key) || !lx__text16_valid(k->name))
            FAIL("key %u: all zero, or its name is not printable text", i);
        if (k->role == LX_KEY_OWNER) {
            owners++;
            if (e->ident[k->account].owner != i + 1)
                FAIL("owner key %u is not its account %u's", i, k->account);
        }
        agents += k->role == LX_KEY_AGENT;
    }
    if (agents) { /* per account: its AGENT keys, counted again */
        uint32_t *n = calloc(e->cfg.max_accounts, sizeof *n);
        if (!n) {
            rc = LX_ENOMEM;
            goto out;
        }
        for (uint32_t i = 0; i < e->nkeys; i++)
            if (e->keys[i].role == LX_KEY_AGENT) n[e->keys[i].account]++;
        uint32_t bad = LX__NIL;
        for (uint32_t a = 0; a < e->cfg.max_accounts && bad == LX__NIL; a++)
            if (n[a] != e->ident[a].nagents || n[a] > e->cfg.max_agents_per_account) bad = a;
        free(n);
        if (bad != LX__NIL)
            FAIL("account %u: agent count differs from its agent keys, or is over the limit", bad);
    }
    if (e->nfloors && e->cfg.rules < LX_RULES_3) FAIL("nonce floors under rules %u", e->cfg.rules);
    for (uint32_t i = 0; i < e->nfloors; i++) {
        uint32_t a = e->floors[i].account;
        if (a >= e->cfg.max_accounts || e->ident[a].floor != i + 1)
            FAIL("floor record %u of account %u is not its account's", i, a);
    }
    uint64_t owned = 0, counted = 0, floored = 0;
    for (uint32_t a = 0; a < e->cfg.max_accounts; a++) {
        owned += e->ident[a].owner != 0;
        counted += e->ident[a].nagents;
        floored += e->ident[a].floor != 0;
        if (e->ident[a].owner > e->nkeys) FAIL("account %u names key %u", a, e->ident[a].owner);
    }
    if (floored != e->nfloors)
        FAIL("%llu accounts name a floor record, %u records", (unsigned long long)floored,
             e->nfloors);
    if (owned != owners)
        FAIL("%llu accounts name an owner key, %llu owner keys", (unsigned long long)owned,
             (unsigned long long)owners);
    if (counted != agents)
        FAIL("accounts count %llu agents, %llu agent keys", (unsigned long long)counted,
             (unsigned long long)agents);
out:
    return rc;
}

int lx_engine_validate(const lx_engine_t *e, char *msg, size_t msglen) {
    int rc = 0;
    int64_t *locks = NULL;
    tally_t t = {0};
    if (msg && msglen) msg[0] = 0;
    if (e->cfg.clearing) {
        locks = calloc(e->nbalances ? e->nbalances : 1, sizeof *locks);
        if (!locks) return LX_ENOMEM;
    }
    if (!(rc = validate_books(e, locks, &t, msg, msglen)) &&
        !(rc = validate_slots(e, t.orders, msg, msglen)) &&
        !(rc = validate_accounts(e, t.orders, msg, msglen)) &&
        !(rc = validate_balances(e, locks, msg, msglen)) &&
        !(rc = validate_gtd(e, t.gtd_orders, msg, msglen)) && !(rc = validate_dms(e, msg, msglen)))
        rc = validate_keys(e, msg, msglen);
    free(locks);
    return rc;
}
