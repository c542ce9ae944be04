/*
 * refmodel.c: the reference model, the oracle of the differential tests.
 *
 * What it is. A second implementation of the engine's rules, written from
 * docs/matching.md and docs/clearing.md and from nothing else: not from
 * src/core. It takes the same commands, emits the same events in the same
 * order with the same fields (order ids, market sequence numbers, fees,
 * balances), and answers the same read questions. When the two disagree,
 * one of them misread the documents, and the test prints both sides.
 *
 * Why it is simple. An oracle is only worth what one can believe about it
 * by reading it, so every choice here goes to the plainest structure that
 * states the rule, and speed is bought only where it is free:
 *
 *   - Orders live in one array of slots indexed by slot number, exactly as
 *     the order-id rule speaks of them ("lowest free slot", a generation per
 *     slot). Taking a slot scans from 0 for the first free one.
 *   - A book side is a plain array of slot numbers kept sorted by priority
 *     (best price first, then arrival counter). Inserting scans from the
 *     tail for the position; removing scans for the slot and shifts. A level
 *     is not a structure at all: it is the run of equal prices in that array,
 *     and its total and count are summed when an event needs them.
 *   - An account's open orders are a small array in acceptance order (what
 *     cancel-all and the client-id rule need). A balance is one cell of a
 *     max_accounts x max_assets table; a separate list remembers the order
 *     in which cells came into use.
 *   - Amounts use __int128 so that no product of a price, a quantity, a tick
 *     value and a fee rate can overflow before it is compared with a limit.
 *   - Events are built where the rule that causes them is written, in the
 *     order the documents list them, and handed to the sink at once.
 *
 * The only concessions to speed are a dense list of live slots (so that
 * generators can pick a random open order in O(1)) and a lower bound on the
 * earliest GTD expiry (so that most commands skip the expiry scan). Neither
 * can change what is emitted. With a few thousand resting orders the model
 * applies around a million commands in a few seconds.
 *
 * What it deliberately does not do: batch auctions (CREATE_MARKET with
 * mode BATCH is rejected UNSUPPORTED, as the documents say for now), any
 * digest, and any defence against misuse beyond the LX_EINVAL cases of
 * lx_engine_apply(). It allocates with malloc freely; it is test code.
 *
 * Where the documents leave a detail open, the choice made is marked
 * "ASSUMPTION" below, so that a mismatch there is easy to recognise.
 */
#include "refmodel.h"

#include <stdlib.h>
#include <string.h>

#include "lx/error.h"

typedef __int128 i128;

#define FEE_ONE ((i128)LX_FEE_RATE_ONE)
#define NOTIONAL_MAX ((i128)LX_NOTIONAL_MAX)

/* ---- state ------------------------------------------------------------- */

typedef struct {
    bool used;
    uint32_t gen; /* times this slot has been taken */
    lx_order_id_t id;
    lx_account_id_t account;
    lx_market_id_t market;
    uint8_t side, type, tif, stp;
    int64_t price; /* limit price; a market order's protection price */
    int64_t qty;   /* filled + remaining */
    int64_t remaining;
    int64_t filled;
    uint64_t client_id;
    int64_t expiry;      /* 0 unless GTD */
    uint64_t accept_seq; /* seq of the accepting command: age and expiry ties */
    uint64_t arrival;    /* time priority; renewed when an amend loses priority */
    int32_t res;         /* buy lock fee reserve rate, fixed at acceptance */
    bool resting;
} order_t;

typedef struct {
    uint32_t *v;
    size_t n, cap;
} vec_t;

typedef struct {
    bool exists;
    bool halted;
    lx_cmd_create_market_t p;
    int64_t tick_value;
    int32_t maker_fee, taker_fee;
    uint64_t seq;    /* market_seq of its last event */
    int64_t last_ts; /* ts of that event's command */
    int64_t last_price;
    vec_t side[2]; /* slot numbers in priority order */
} market_t;

typedef struct {
    bool exists;
    char symbol[16];
    int64_t scale;
    int64_t supply;
    int64_t fees;
} asset_t;

typedef struct {
    bool exists;
    int64_t free, locked;
} cell_t;

struct ref {
    lx_engine_config_t cfg;
    uint64_t last_seq;
    int64_t last_ts;
    uint64_t arrival; /* priority counter */

    order_t *orders;    /* [max_orders] */
    vec_t live;         /* slots in use, any order */
    uint32_t free_hint; /* no slot below this is free */
    uint32_t *live_pos; /* slot -> index in live */
    int64_t gtd_min;    /* no open GTD order expires before this */

    market_t *markets;    /* [max_markets] */
    asset_t *assets;      /* [max_assets] */
    cell_t *cells;        /* [max_accounts * max_assets] */
    uint32_t *cell_order; /* cell indexes in creation order */
    size_t ncells;
    vec_t *acct; /* [max_accounts] open slots in acceptance order */

    int64_t *deadman;    /* [max_accounts] dead man's switch deadline, 0 = not armed */
    lx_key_info_t *keys; /* every key known, in the order it became known,
                            a revoked one's place taken by the last */
    size_t nkeys, keys_cap;
    uint64_t (*floor)[16][2]; /* [max_accounts][key slot] nonce floors: one-shard, every-shard */
    uint32_t max_agents;      /* the effective agent limit */
    int64_t min_lead;         /* the effective minimum lead of a deadline */

    uint64_t *dep; /* open-addressing set of applied deposit ids */
    uint8_t *dep_used;
    size_t dep_cap, dep_n;

    /* the command being applied */
    const lx_cmd_t *cmd;
    const lx_sink_t *sink;
    ref_stats_t stats;
};

/* ---- small helpers ----------------------------------------------------- */

static void vec_push(vec_t *v, uint32_t x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        uint32_t *nv = realloc(v->v, cap * sizeof *nv);
        if (!nv) abort(); /* test code: an allocation failure is fatal */
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

static void vec_insert(vec_t *v, size_t at, uint32_t x) {
    vec_push(v, x);
    memmove(&v->v[at + 1], &v->v[at], (v->n - 1 - at) * sizeof *v->v);
    v->v[at] = x;
}

static void vec_remove_value(vec_t *v, uint32_t x) {
    for (size_t i = 0; i < v->n; i++) {
        if (v->v[i] == x) {
            memmove(&v->v[i], &v->v[i + 1], (v->n - 1 - i) * sizeof *v->v);
            v->n--;
            return;
        }
    }
    abort(); /* the model lost track of an order: a bug in the model */
}

static i128 ceil_div(i128 a, i128 b) {
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static bool market_ok(const ref_t *r, lx_market_id_t m) {
    return m < r->cfg.max_markets && r->markets[m].exists;
}

static bool asset_ok(const ref_t *r, lx_asset_id_t a) {
    return a < r->cfg.max_assets && r->assets[a].exists;
}

static bool account_ok(const ref_t *r, lx_account_id_t a) {
    return a < r->cfg.max_accounts;
}

static cell_t *cell(ref_t *r, lx_account_id_t a, lx_asset_id_t asset) {
    return &r->cells[(size_t)a * r->cfg.max_assets + asset];
}

/* A balance record appears the first time it changes. */
static cell_t *cell_w(ref_t *r, lx_account_id_t a, lx_asset_id_t asset) {
    size_t i = (size_t)a * r->cfg.max_assets + asset;
    if (!r->cells[i].exists) {
        r->cells[i].exists = true;
        r->cell_order[r->ncells++] = (uint32_t)i;
    }
    return &r->cells[i];
}

/* ---- events ------------------------------------------------------------ */

static lx_event_t ev_new(ref_t *r, lx_event_type_t type, lx_market_id_t m) {
    lx_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.seq = r->cmd->seq;
    ev.ts = r->cmd->ts;
    ev.market = LX_MARKET_NONE;
    ev.market_seq = 0;
    if (m != LX_MARKET_NONE) {
        ev.market = m;
        ev.market_seq = ++r->markets[m].seq;
        r->markets[m].last_ts = r->cmd->ts;
    }
    return ev;
}

static void emit(ref_t *r, const lx_event_t *ev) {
    if (r->sink && r->sink->emit) r->sink->emit(r->sink->ctx, ev);
}

/* BALANCE from order activity: only with clearing on (clearing.md). */
static void ev_balance_any(ref_t *r, lx_account_id_t a, lx_asset_id_t asset);

static void ev_balance(ref_t *r, lx_account_id_t a, lx_asset_id_t asset) {
    if (!r->cfg.clearing) return;
    ev_balance_any(r, a, asset);
}

/* BALANCE from funds commands: in both modes (clearing.md: deposits,
 * withdrawals and transfers work the same in both). */
static void ev_balance_any(ref_t *r, lx_account_id_t a, lx_asset_id_t asset) {
    lx_event_t ev = ev_new(r, LX_EV_BALANCE, LX_MARKET_NONE);
    const cell_t *c = cell(r, a, asset);
    ev.u.balance.account = a;
    ev.u.balance.asset = asset;
    ev.u.balance.free = c->free;
    ev.u.balance.locked = c->locked;
    emit(r, &ev);
}

/* REJECTED: the market the command named (if any), market_seq 0. */
static void reject(ref_t *r, lx_market_id_t m, lx_account_id_t a, lx_order_id_t id,
                   uint64_t client_id, lx_reject_t reason) {
    lx_event_t ev = ev_new(r, LX_EV_REJECTED, LX_MARKET_NONE);
    ev.market = m;
    ev.u.rejected.cmd_type = (uint8_t)r->cmd->type;
    ev.u.rejected.reason = (uint8_t)reason;
    ev.u.rejected.account = a;
    ev.u.rejected.order_id = id;
    ev.u.rejected.client_id = client_id;
    emit(r, &ev);
}

/* Total and count of one price on one side: the run of equal prices. */
static void level_sum(const ref_t *r, const market_t *mk, int side, int64_t price, int64_t *qty,
                      uint32_t *count) {
    *qty = 0;
    *count = 0;
    const vec_t *v = &mk->side[side];
    for (size_t i = 0; i < v->n; i++) {
        const order_t *o = &r->orders[v->v[i]];
        if (o->price == price) {
            *qty += o->remaining;
            (*count)++;
        }
    }
}

static void ev_level(ref_t *r, lx_market_id_t m, int side, int64_t price) {
    lx_event_t ev = ev_new(r, LX_EV_BOOK_LEVEL, m);
    ev.u.level.side = (uint8_t)side;
    ev.u.level.price = price;
    level_sum(r, &r->markets[m], side, price, &ev.u.level.qty, &ev.u.level.count);
    emit(r, &ev);
}

static void ev_canceled(ref_t *r, const order_t *o, lx_cancel_reason_t reason, int64_t qty) {
    lx_event_t ev = ev_new(r, LX_EV_ORDER_CANCELED, o->market);
    ev.u.canceled.order_id = o->id;
    ev.u.canceled.account = o->account;
    ev.u.canceled.client_id = o->client_id;
    ev.u.canceled.reason = (uint8_t)reason;
    ev.u.canceled.qty = qty;
    emit(r, &ev);
}

static void ev_amended(ref_t *r, const order_t *o, bool priority_lost) {
    lx_event_t ev = ev_new(r, LX_EV_ORDER_AMENDED, o->market);
    ev.u.amended.order_id = o->id;
    ev.u.amended.account = o->account;
    ev.u.amended.client_id = o->client_id;
    ev.u.amended.price = o->price;
    ev.u.amended.qty = o->qty;
    ev.u.amended.remaining = o->remaining;
    ev.u.amended.priority_lost = priority_lost;
    emit(r, &ev);
}

/* ---- locks (clearing.md "Locks") --------------------------------------- */

static lx_asset_id_t lock_asset(const ref_t *r, const order_t *o) {
    const market_t *mk = &r->markets[o->market];
    return o->side == LX_SIDE_BUY ? mk->p.quote : mk->p.base;
}

/* L(R) at price p: sell R * lot_size; buy N + ceil(N * res / 10^6),
 * N = p * R * tick_value. 0 with clearing off. */
static int64_t lock_for(const ref_t *r, const order_t *o, int64_t price, int64_t R) {
    if (!r->cfg.clearing) return 0;
    const market_t *mk = &r->markets[o->market];
    if (o->side == LX_SIDE_SELL) return (int64_t)((i128)R * mk->p.lot_size);
    i128 n = (i128)price * R * mk->tick_value;
    return (int64_t)(n + ceil_div(n * o->res, FEE_ONE));
}

static int64_t lock_of(const ref_t *r, const order_t *o) {
    return lock_for(r, o, o->price, o->remaining);
}

/* Moves `delta` of the order's lock asset from free to locked (negative:
 * back). The caller emits the BALANCE. */
static void lock_move(ref_t *r, const order_t *o, int64_t delta) {
    if (!r->cfg.clearing) return;
    cell_t *c = cell_w(r, o->account, lock_asset(r, o));
    c->free -= delta;
    c->locked += delta;
}

/* ---- slots, books, accounts -------------------------------------------- */

static void live_add(ref_t *r, uint32_t slot) {
    r->live_pos[slot] = (uint32_t)r->live.n;
    vec_push(&r->live, slot);
}

static void live_remove(ref_t *r, uint32_t slot) {
    uint32_t pos = r->live_pos[slot];
    uint32_t last = r->live.v[--r->live.n];
    r->live.v[pos] = last;
    r->live_pos[last] = pos;
}

/* Lowest free slot; UINT32_MAX if none. */
static uint32_t slot_find(const ref_t *r) {
    for (uint32_t s = r->free_hint; s < r->cfg.max_orders; s++)
        if (!r->orders[s].used) return s;
    return UINT32_MAX;
}

/* Takes the slot: the order is open from here on (its id is assigned). */
static order_t *slot_take(ref_t *r, uint32_t s) {
    order_t *o = &r->orders[s];
    uint32_t gen = o->gen + 1;
    memset(o, 0, sizeof *o);
    o->used = true;
    o->gen = gen;
    o->id = ((uint64_t)gen << 32) | s;
    r->free_hint = s + 1; /* s was the lowest free slot */
    live_add(r, s);
    if (r->live.n > r->stats.max_live) r->stats.max_live = r->live.n;
    return o;
}

/* The order is finished: out of its account's list, slot free. It must not
 * be in a book. */
static void order_finish(ref_t *r, order_t *o) {
    uint32_t s = (uint32_t)(o->id & 0xffffffffu);
    vec_remove_value(&r->acct[o->account], s);
    live_remove(r, s);
    o->used = false;
    if (s < r->free_hint) r->free_hint = s;
}

static bool better_or_equal(int side, int64_t a, int64_t b) {
    return side == LX_SIDE_BUY ? a >= b : a <= b;
}

/* At the tail of its price level. */
static void book_insert(ref_t *r, order_t *o) {
    market_t *mk = &r->markets[o->market];
    vec_t *v = &mk->side[o->side];
    size_t at = v->n;
    while (at > 0 && !better_or_equal(o->side, r->orders[v->v[at - 1]].price, o->price)) at--;
    vec_insert(v, at, (uint32_t)(o->id & 0xffffffffu));
    o->resting = true;
}

static void book_remove(ref_t *r, order_t *o) {
    vec_remove_value(&r->markets[o->market].side[o->side], (uint32_t)(o->id & 0xffffffffu));
    o->resting = false;
}

static bool crosses(int taker_side, int64_t taker_price, int64_t resting_price) {
    return taker_side == LX_SIDE_BUY ? resting_price <= taker_price : resting_price >= taker_price;
}

/* Open order named by id (any market); NULL if none. */
static order_t *order_by_id(ref_t *r, lx_order_id_t id) {
    uint32_t s = (uint32_t)(id & 0xffffffffu);
    if (s >= r->cfg.max_orders) return NULL;
    order_t *o = &r->orders[s];
    if (!o->used || o->id != id) return NULL;
    return o;
}

/* Open order of the account with this client id; NULL if none. Client id 0
 * means "none" and names nothing (ASSUMPTION: a by-client-id lookup of 0 is
 * UNKNOWN_ORDER). */
static order_t *order_by_client(ref_t *r, lx_account_id_t a, uint64_t client_id) {
    if (client_id == 0) return NULL;
    const vec_t *v = &r->acct[a];
    for (size_t i = 0; i < v->n; i++)
        if (r->orders[v->v[i]].client_id == client_id) return &r->orders[v->v[i]];
    return NULL;
}

/* Cancels a resting order: ORDER_CANCELED, BALANCE, then BOOK_LEVEL when
 * with_level (a level the taker is matching through is reported when the
 * taker leaves it, not here). */
static void cancel_resting(ref_t *r, order_t *o, lx_cancel_reason_t reason, bool with_level) {
    ev_canceled(r, o, reason, o->remaining);
    lock_move(r, o, -lock_of(r, o));
    ev_balance(r, o->account, lock_asset(r, o));
    book_remove(r, o);
    lx_market_id_t m = o->market;
    int side = o->side;
    int64_t price = o->price;
    order_finish(r, o);
    if (with_level) ev_level(r, m, side, price);
}

/* ---- fees and settlement (clearing.md "Fees", "Settlement of a fill") ---- */

/* r >= 0: ceil(n r / 10^6); r < 0: -floor(n |r| / 10^6). */
static i128 fee_of(i128 n, int32_t rate) {
    if (rate >= 0) return ceil_div(n * rate, FEE_ONE);
    return -((n * -(i128)rate) / FEE_ONE);
}

/* One fill of q lots at the maker's price. Updates both orders' quantities
 * and all balances; emits TRADE and the four BALANCE events. The caller
 * removes a filled maker from the book. */
static void trade(ref_t *r, order_t *maker, order_t *taker, int64_t q) {
    market_t *mk = &r->markets[taker->market];
    int64_t P = maker->price;
    i128 n = (i128)P * q * mk->tick_value;
    order_t *seller = taker->side == LX_SIDE_SELL ? taker : maker;
    order_t *buyer = taker->side == LX_SIDE_SELL ? maker : taker;
    int32_t seller_rate = seller == maker ? mk->maker_fee : mk->taker_fee;
    int32_t buyer_rate = buyer == maker ? mk->maker_fee : mk->taker_fee;
    int64_t fee_s = 0, fee_b = 0;

    if (r->cfg.clearing) {
        int64_t base_units = (int64_t)((i128)q * mk->p.lot_size);
        int64_t buyer_old = lock_of(r, buyer);
        int64_t buyer_new = lock_for(r, buyer, buyer->price, buyer->remaining - q);
        i128 room = (i128)buyer_old - buyer_new - n;
        i128 fb = fee_of(n, buyer_rate);
        /* beyond the room, from the buyer's free quote as the fill finds
         * it, and capped where that is short (clearing.md "Fees") */
        i128 bfree = cell_w(r, buyer->account, mk->p.quote)->free;
        if (buyer_rate >= 0 && fb > room + bfree) {
            fb = room + bfree;
            r->stats.fee_capped++;
        }
        i128 fs = fee_of(n, seller_rate);
        /* a maker rebate never exceeds the taker fee charged on the same
         * fill (clearing.md "Fees") */
        if (buyer == maker && fb < 0 && -fb > fs) {
            fb = -fs;
            r->stats.rebate_capped++;
        }
        if (seller == maker && fs < 0 && -fs > fb) {
            fs = -fb;
            r->stats.rebate_capped++;
        }
        fee_s = (int64_t)fs;
        fee_b = (int64_t)fb;
        if (fee_s < 0 || fee_b < 0) r->stats.rebates++;

        cell_t *c = cell_w(r, seller->account, mk->p.base);
        c->locked -= base_units;
        c = cell_w(r, seller->account, mk->p.quote);
        c->free += (int64_t)(n - fs);
        c = cell_w(r, buyer->account, mk->p.base);
        c->free += base_units;
        c = cell_w(r, buyer->account, mk->p.quote);
        c->locked -= buyer_old - buyer_new;
        c->free += (int64_t)((i128)buyer_old - buyer_new - n - fb);
        asset_t *qa = &r->assets[mk->p.quote];
        qa->fees = qa->fees > INT64_MAX - (fee_s + fee_b) ? INT64_MAX : qa->fees + fee_s + fee_b;
        /* the fee account's (clearing.md "Fees") */
        if (fee_s + fee_b != 0) cell_w(r, r->cfg.fee_account, mk->p.quote)->free += fee_s + fee_b;
    }

    maker->remaining -= q;
    maker->filled += q;
    taker->remaining -= q;
    taker->filled += q;
    mk->last_price = P;
    if (maker->account == taker->account) r->stats.self_trades++;

    lx_event_t ev = ev_new(r, LX_EV_TRADE, taker->market);
    ev.u.trade.maker_order = maker->id;
    ev.u.trade.taker_order = taker->id;
    ev.u.trade.maker_account = maker->account;
    ev.u.trade.taker_account = taker->account;
    ev.u.trade.taker_side = taker->side;
    ev.u.trade.price = P;
    ev.u.trade.qty = q;
    ev.u.trade.maker_remaining = maker->remaining;
    ev.u.trade.taker_remaining = taker->remaining;
    ev.u.trade.maker_fee = maker == seller ? fee_s : fee_b;
    ev.u.trade.taker_fee = taker == seller ? fee_s : fee_b;
    emit(r, &ev);
    ev_balance(r, maker->account, mk->p.base);
    ev_balance(r, maker->account, mk->p.quote);
    ev_balance(r, taker->account, mk->p.base);
    ev_balance(r, taker->account, mk->p.quote);
    if (fee_s + fee_b != 0) ev_balance(r, r->cfg.fee_account, mk->p.quote);
}

/* ---- matching (matching.md "Place", step 2) ---------------------------- */

enum { MATCH_DONE = 0, MATCH_STP_STOP = 1, MATCH_STP_CONSUMED = 2 };

/* Reduces an order by d without a trade (STP DECREMENT); its lock shrinks. */
static void decrement(ref_t *r, order_t *o, int64_t d) {
    int64_t old_lock = lock_of(r, o);
    o->remaining -= d;
    o->qty -= d;
    lock_move(r, o, lock_of(r, o) - old_lock);
}

/* The taker (not in the book) matches against the opposite side. */
static int match(ref_t *r, order_t *t) {
    market_t *mk = &r->markets[t->market];
    int opp = 1 - t->side;
    vec_t *v = &mk->side[opp];

    while (t->remaining > 0 && v->n > 0 && crosses(t->side, t->price, r->orders[v->v[0]].price)) {
        int64_t level = r->orders[v->v[0]].price;
        bool changed = false;
        int stop = MATCH_DONE;
        size_t i = 0;
        while (t->remaining > 0 && i < v->n && r->orders[v->v[i]].price == level) {
            order_t *m = &r->orders[v->v[i]];
            if (m->account == t->account && t->stp != LX_STP_NONE) {
                r->stats.stp_hits[t->stp]++;
                if (t->stp == LX_STP_EXPIRE_TAKER) {
                    stop = MATCH_STP_STOP;
                    break;
                }
                if (t->stp == LX_STP_EXPIRE_MAKER || t->stp == LX_STP_EXPIRE_BOTH) {
                    cancel_resting(r, m, LX_CANCEL_STP, false); /* shifts v: same i */
                    changed = true;
                    if (t->stp == LX_STP_EXPIRE_BOTH) {
                        stop = MATCH_STP_STOP;
                        break;
                    }
                    continue;
                }
                /* DECREMENT */
                int64_t d = t->remaining < m->remaining ? t->remaining : m->remaining;
                changed = true;
                decrement(r, m, d);
                if (m->remaining == 0) {
                    ev_canceled(r, m, LX_CANCEL_STP, d);
                    ev_balance(r, m->account, lock_asset(r, m));
                    book_remove(r, m);
                    order_finish(r, m);
                } else {
                    ev_amended(r, m, false);
                    ev_balance(r, m->account, lock_asset(r, m));
                    i++;
                }
                decrement(r, t, d);
                if (t->remaining == 0) {
                    ev_canceled(r, t, LX_CANCEL_STP, d);
                    ev_balance(r, t->account, lock_asset(r, t));
                    stop = MATCH_STP_CONSUMED;
                    break;
                }
                ev_amended(r, t, false);
                ev_balance(r, t->account, lock_asset(r, t));
                continue;
            }
            int64_t q = t->remaining < m->remaining ? t->remaining : m->remaining;
            trade(r, m, t, q);
            changed = true;
            if (m->remaining == 0) {
                book_remove(r, m);
                order_finish(r, m);
            } else {
                i++;
            }
        }
        if (changed) ev_level(r, t->market, opp, level);
        if (stop != MATCH_DONE) return stop;
    }
    return MATCH_DONE;
}

/* Step 3: what is left of the taker rests or is canceled. */
static void finish_taker(ref_t *r, order_t *t, int stop) {
    if (stop == MATCH_STP_CONSUMED) {
        order_finish(r, t);
        return;
    }
    if (t->remaining == 0) {
        order_finish(r, t);
        return;
    }
    lx_cancel_reason_t reason;
    if (stop == MATCH_STP_STOP)
        reason = LX_CANCEL_STP;
    else if (t->type == LX_ORDER_MARKET)
        reason = LX_CANCEL_MARKET_UNFILLED;
    else if (t->tif == LX_TIF_IOC)
        reason = LX_CANCEL_IOC_REMAINDER;
    else if (t->tif == LX_TIF_FOK)
        reason = LX_CANCEL_FOK; /* cannot happen: the dry run guarantees a fill */
    else {
        book_insert(r, t);
        if (t->tif == LX_TIF_GTD && t->expiry < r->gtd_min) r->gtd_min = t->expiry;
        ev_level(r, t->market, t->side, t->price);
        return;
    }
    ev_canceled(r, t, reason, t->remaining);
    lock_move(r, t, -lock_of(r, t));
    ev_balance(r, t->account, lock_asset(r, t));
    order_finish(r, t);
}

/* ---- GTD expiry (matching.md "Commands, time and sequence") ------------ */

static void expire(ref_t *r) {
    int64_t ts = r->cmd->ts;
    if (ts < r->gtd_min) return;
    for (;;) {
        /* the next to expire: smallest (expiry, accept_seq) with expiry <= ts */
        order_t *best = NULL;
        int64_t next_min = INT64_MAX;
        for (size_t i = 0; i < r->live.n; i++) {
            order_t *o = &r->orders[r->live.v[i]];
            if (o->tif != LX_TIF_GTD || !o->resting) continue;
            if (o->expiry > ts) {
                if (o->expiry < next_min) next_min = o->expiry;
                continue;
            }
            if (!best || o->expiry < best->expiry ||
                (o->expiry == best->expiry && o->accept_seq < best->accept_seq))
                best = o;
        }
        if (!best) {
            r->gtd_min = next_min;
            return;
        }
        r->stats.expired++;
        cancel_resting(r, best, LX_CANCEL_EXPIRED, true);
    }
}

/* ---- place --------------------------------------------------------------- */

/* The FOK dry run: can the whole quantity fill? */
static bool fok_can_fill(const ref_t *r, const market_t *mk, lx_account_id_t a, int side,
                         int64_t price, int64_t qty, int stp) {
    const vec_t *v = &mk->side[1 - side];
    int64_t sum = 0;
    for (size_t i = 0; i < v->n && sum < qty; i++) {
        const order_t *o = &r->orders[v->v[i]];
        if (!crosses(side, price, o->price)) break;
        if (o->account == a && stp != LX_STP_NONE) {
            if (stp == LX_STP_EXPIRE_MAKER) continue;
            break;
        }
        sum += o->remaining;
    }
    return sum >= qty;
}

/* Would an order at this price take liquidity? Own orders count. */
static bool would_cross(const ref_t *r, const market_t *mk, int side, int64_t price) {
    const vec_t *v = &mk->side[1 - side];
    return v->n > 0 && crosses(side, price, r->orders[v->v[0]].price);
}

/* price * qty * tick_value <= 2^62 and qty * lot_size fits int64. */
static bool amounts_fit(const market_t *mk, int64_t price, int64_t qty) {
    i128 pq = (i128)price * qty;
    if (pq > NOTIONAL_MAX || pq * mk->tick_value > NOTIONAL_MAX) return false;
    return (i128)qty * mk->p.lot_size <= INT64_MAX;
}

static int32_t fee_reserve(const market_t *mk) {
    int32_t res = mk->taker_fee > mk->maker_fee ? mk->taker_fee : mk->maker_fee;
    return res > 0 ? res : 0;
}

static void do_place(ref_t *r, const lx_cmd_place_t *c) {
    lx_market_id_t m = c->market;
#define REJ(reason)                                                                                \
    do {                                                                                           \
        reject(r, m, c->account, 0, c->client_id, (reason));                                       \
        return;                                                                                    \
    } while (0)
    if (!account_ok(r, c->account)) REJ(LX_REJECT_UNKNOWN_ACCOUNT);
    if (!market_ok(r, m)) REJ(LX_REJECT_UNKNOWN_MARKET);
    market_t *mk = &r->markets[m];
    if (mk->halted) REJ(LX_REJECT_MARKET_HALTED);
    if (c->side > LX_SIDE_SELL) REJ(LX_REJECT_BAD_SIDE);
    if (c->type > LX_ORDER_MARKET) REJ(LX_REJECT_BAD_ORDER_TYPE);
    bool is_market = c->type == LX_ORDER_MARKET;
    if (!is_market && c->tif > LX_TIF_POST_ONLY) REJ(LX_REJECT_BAD_TIF);
    /* a market order never rests: post-only contradicts it */
    if (is_market && c->tif == LX_TIF_POST_ONLY) REJ(LX_REJECT_BAD_TIF);
    if (c->stp > LX_STP_DECREMENT) REJ(LX_REJECT_BAD_STP);
    if (c->qty <= 0) REJ(LX_REJECT_QTY_ZERO);
    if (c->qty > mk->p.max_qty) REJ(LX_REJECT_QTY_TOO_LARGE);
    if (c->price < mk->p.min_price || c->price > mk->p.max_price) REJ(LX_REJECT_PRICE_OUT_OF_BAND);
    /* a market order: FOK if asked, else IOC, at its protection price */
    uint8_t tif = is_market ? (c->tif == LX_TIF_FOK ? LX_TIF_FOK : LX_TIF_IOC) : c->tif;
    if (tif == LX_TIF_GTD && c->expiry <= r->cmd->ts) REJ(LX_REJECT_EXPIRED);
    if (c->client_id != 0 && order_by_client(r, c->account, c->client_id))
        REJ(LX_REJECT_DUPLICATE_CLIENT_ID);
    if (!amounts_fit(mk, c->price, c->qty)) REJ(LX_REJECT_OVERFLOW);
    if (r->cfg.max_open_orders_per_account != 0 &&
        r->acct[c->account].n >= r->cfg.max_open_orders_per_account)
        REJ(LX_REJECT_TOO_MANY_ORDERS);
    if (tif == LX_TIF_POST_ONLY && would_cross(r, mk, c->side, c->price))
        REJ(LX_REJECT_POST_ONLY_WOULD_CROSS);
    if (tif == LX_TIF_FOK) {
        if (!fok_can_fill(r, mk, c->account, c->side, c->price, c->qty, c->stp)) {
            r->stats.fok_rejected++;
            REJ(LX_REJECT_FOK_CANNOT_FILL);
        }
    }

    /* the order as it will be, to compute its lock */
    order_t tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.account = c->account;
    tmp.market = m;
    tmp.side = c->side;
    tmp.price = c->price;
    tmp.remaining = c->qty;
    tmp.res = fee_reserve(mk);
    int64_t lock = lock_of(r, &tmp);
    if (r->cfg.clearing && cell(r, c->account, lock_asset(r, &tmp))->free < lock)
        REJ(LX_REJECT_INSUFFICIENT_FUNDS);
    uint32_t s = slot_find(r);
    if (s == UINT32_MAX) REJ(LX_REJECT_ENGINE_FULL);
#undef REJ
    if (tif == LX_TIF_FOK) r->stats.fok_accepted++;

    order_t *o = slot_take(r, s);
    o->account = c->account;
    o->market = m;
    o->side = c->side;
    o->type = c->type;
    o->tif = tif;
    o->stp = c->stp;
    o->price = c->price;
    o->qty = c->qty;
    o->remaining = c->qty;
    o->filled = 0;
    o->client_id = c->client_id;
    o->expiry = tif == LX_TIF_GTD ? c->expiry : 0;
    o->accept_seq = r->cmd->seq;
    o->arrival = ++r->arrival;
    o->res = tmp.res;
    vec_push(&r->acct[o->account], s);

    lx_event_t ev = ev_new(r, LX_EV_ORDER_ACCEPTED, m);
    ev.u.accepted.order_id = o->id;
    ev.u.accepted.account = o->account;
    ev.u.accepted.side = o->side;
    ev.u.accepted.type = o->type;
    ev.u.accepted.tif = o->tif;
    ev.u.accepted.stp = o->stp;
    ev.u.accepted.price = o->price;
    ev.u.accepted.qty = o->qty;
    ev.u.accepted.client_id = o->client_id;
    ev.u.accepted.expiry = o->expiry;
    emit(r, &ev);
    lock_move(r, o, lock);
    ev_balance(r, o->account, lock_asset(r, o));

    finish_taker(r, o, match(r, o));
}

/* ---- cancel, amend, cancel-all ----------------------------------------- */

/* The order a cancel or amend names, or a reject reason. */
static order_t *lookup(ref_t *r, lx_account_id_t a, lx_market_id_t m, bool by_client,
                       lx_order_id_t id, uint64_t client_id, lx_reject_t *why) {
    order_t *o = by_client ? order_by_client(r, a, client_id) : order_by_id(r, id);
    if (!o || o->market != m) {
        *why = LX_REJECT_UNKNOWN_ORDER;
        return NULL;
    }
    if (o->account != a) {
        *why = LX_REJECT_NOT_OWNER;
        return NULL;
    }
    return o;
}

/* ASSUMPTION: a REJECTED for a cancel or amend echoes what the command
 * named the order by: its order_id (client_id 0), or, by client id, its
 * client_id (order_id 0). The other field of the command is not echoed. */
static void reject_named(ref_t *r, lx_market_id_t m, lx_account_id_t a, bool by_client,
                         lx_order_id_t id, uint64_t client_id, lx_reject_t why) {
    reject(r, m, a, by_client ? 0 : id, by_client ? client_id : 0, why);
}

static void do_cancel(ref_t *r, const lx_cmd_cancel_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    if (!account_ok(r, c->account))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!market_ok(r, c->market))
        why = LX_REJECT_UNKNOWN_MARKET;
    order_t *o = NULL;
    if (why == LX_REJECT_NONE)
        o = lookup(r, c->account, c->market, c->by_client_id, c->order_id, c->client_id, &why);
    if (!o) {
        reject_named(r, c->market, c->account, c->by_client_id, c->order_id, c->client_id, why);
        return;
    }
    cancel_resting(r, o, LX_CANCEL_USER, true);
}

static void do_amend(ref_t *r, const lx_cmd_amend_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    order_t *o = NULL;
    market_t *mk = NULL;
    if (!account_ok(r, c->account))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!market_ok(r, c->market))
        why = LX_REJECT_UNKNOWN_MARKET;
    else if (r->markets[c->market].halted)
        why = LX_REJECT_MARKET_HALTED;
    if (why == LX_REJECT_NONE) {
        mk = &r->markets[c->market];
        o = lookup(r, c->account, c->market, c->by_client_id, c->order_id, c->client_id, &why);
    }
    if (o) {
        if (c->qty <= 0)
            why = LX_REJECT_QTY_ZERO;
        else if (c->qty > mk->p.max_qty)
            why = LX_REJECT_QTY_TOO_LARGE;
        else if (c->price < mk->p.min_price || c->price > mk->p.max_price)
            why = LX_REJECT_PRICE_OUT_OF_BAND;
        else if (c->price == o->price && c->qty == o->qty)
            why = LX_REJECT_NOTHING_TO_AMEND;
    }
    if (why != LX_REJECT_NONE) {
        reject_named(r, c->market, c->account, c->by_client_id, c->order_id, c->client_id, why);
        return;
    }

    if (c->qty <= o->filled) {
        r->stats.amend_cancel++;
        cancel_resting(r, o, LX_CANCEL_AMEND, true);
        return;
    }
    if (c->price == o->price && c->qty < o->qty) {
        r->stats.amend_keep++;
        int64_t old_lock = lock_of(r, o);
        o->qty = c->qty;
        o->remaining = c->qty - o->filled;
        lock_move(r, o, lock_of(r, o) - old_lock);
        ev_amended(r, o, false);
        ev_balance(r, o->account, lock_asset(r, o));
        ev_level(r, o->market, o->side, o->price);
        return;
    }

    /* priority lost: more checks. ASSUMPTION: the overflow check is the
     * place check applied to the new price and the new total quantity. */
    if (!amounts_fit(mk, c->price, c->qty)) {
        reject_named(r, c->market, c->account, c->by_client_id, c->order_id, c->client_id,
                     LX_REJECT_OVERFLOW);
        return;
    }
    /* a new arrival: it locks at today's fee reserve rate */
    order_t arrival = *o;
    arrival.res = fee_reserve(mk);
    int64_t old_lock = lock_of(r, o);
    int64_t new_lock = lock_for(r, &arrival, c->price, c->qty - o->filled);
    if (r->cfg.clearing && new_lock > old_lock &&
        cell(r, o->account, lock_asset(r, o))->free < new_lock - old_lock) {
        reject_named(r, c->market, c->account, c->by_client_id, c->order_id, c->client_id,
                     LX_REJECT_INSUFFICIENT_FUNDS);
        return;
    }
    if (o->tif == LX_TIF_POST_ONLY && would_cross(r, mk, o->side, c->price)) {
        reject_named(r, c->market, c->account, c->by_client_id, c->order_id, c->client_id,
                     LX_REJECT_POST_ONLY_WOULD_CROSS);
        return;
    }
    r->stats.amend_lose++;
    int64_t old_price = o->price;
    book_remove(r, o);
    o->price = c->price;
    o->qty = c->qty;
    o->remaining = c->qty - o->filled;
    o->res = arrival.res;
    lock_move(r, o, new_lock - old_lock);
    /* ASSUMPTION: the BALANCE is emitted even when the lock is unchanged
     * (a sell whose price alone changed). */
    ev_amended(r, o, true);
    ev_balance(r, o->account, lock_asset(r, o));
    ev_level(r, o->market, o->side, old_price);
    o->arrival = ++r->arrival;
    int64_t before = o->remaining;
    int stop = match(r, o);
    if (o->remaining < before && stop != MATCH_STP_CONSUMED) r->stats.amend_cross++;
    finish_taker(r, o, stop);
}

/* Cancels the account's open orders (one market, or every market) in
 * acceptance order, each with its BOOK_LEVEL. */
static void cancel_account(ref_t *r, lx_account_id_t a, lx_market_id_t m,
                           lx_cancel_reason_t reason) {
    /* The account's list is in acceptance order (appended on acceptance,
     * never reordered), which is the order cancel-all goes by. Copied first:
     * canceling shrinks the list. */
    const vec_t *v = &r->acct[a];
    size_t n = 0;
    uint32_t *slots = malloc((v->n + 1) * sizeof *slots);
    if (!slots) abort();
    for (size_t i = 0; i < v->n; i++)
        if (m == LX_MARKET_ALL || r->orders[v->v[i]].market == m) slots[n++] = v->v[i];
    for (size_t i = 0; i < n; i++) cancel_resting(r, &r->orders[slots[i]], reason, true);
    free(slots);
}

static void do_cancel_all(ref_t *r, const lx_cmd_cancel_all_t *c) {
    if (!account_ok(r, c->account)) {
        reject(r, c->market, c->account, 0, 0, LX_REJECT_UNKNOWN_ACCOUNT);
        return;
    }
    if (c->market != LX_MARKET_ALL && !market_ok(r, c->market)) {
        reject(r, c->market, c->account, 0, 0, LX_REJECT_UNKNOWN_MARKET);
        return;
    }
    if (c->reason > LX_CANCEL_ALL_DISCONNECT) {
        reject(r, c->market, c->account, 0, 0, LX_REJECT_BAD_COMMAND);
        return;
    }
    cancel_account(r, c->account, c->market,
                   c->reason == LX_CANCEL_ALL_DISCONNECT ? LX_CANCEL_DISCONNECT
                                                         : LX_CANCEL_CANCEL_ALL);
}

/* ---- dead man's switch (matching.md "Dead man's switch") ----------------- */

static void ev_deadman(ref_t *r, lx_account_id_t a, int64_t deadline, int state) {
    lx_event_t ev = ev_new(r, LX_EV_DEADMAN, LX_MARKET_NONE);
    ev.u.deadman.account = a;
    ev.u.deadman.deadline = deadline;
    ev.u.deadman.state = (uint8_t)state;
    emit(r, &ev);
}

static void do_schedule_cancel(ref_t *r, const lx_cmd_schedule_cancel_t *c) {
    if (!account_ok(r, c->account)) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, LX_REJECT_UNKNOWN_ACCOUNT);
        return;
    }
    if (c->deadline != 0 && (i128)c->deadline < (i128)r->cmd->ts + r->min_lead) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, LX_REJECT_DEADLINE_TOO_SOON);
        return;
    }
    r->deadman[c->account] = c->deadline;
    ev_deadman(r, c->account, c->deadline, c->deadline ? LX_DEADMAN_ARMED : LX_DEADMAN_CLEARED);
}

/* Before every command (after expiry): every switch with deadline <= ts fires, smallest (deadline,
 * account) first: FIRED, then the account's cancel-all. */
static void fire_switches(ref_t *r) {
    for (;;) {
        lx_account_id_t best = LX_ACCOUNT_NONE;
        for (lx_account_id_t a = 0; a < r->cfg.max_accounts; a++) {
            int64_t d = r->deadman[a];
            if (d == 0 || d > r->cmd->ts) continue;
            if (best == LX_ACCOUNT_NONE || d < r->deadman[best]) best = a;
        }
        if (best == LX_ACCOUNT_NONE) return;
        int64_t d = r->deadman[best];
        r->deadman[best] = 0;
        r->stats.deadman_fired++;
        ev_deadman(r, best, d, LX_DEADMAN_FIRED);
        cancel_account(r, best, LX_MARKET_ALL, LX_CANCEL_DEADMAN);
    }
}

/* ---- assets, markets ----------------------------------------------------- */

/* ASSUMPTION: "printable" means graphic, 0x21..0x7e: no space. */
static bool symbol_ok(const char s[16]) {
    if (s[0] == 0) return false;
    size_t i = 0;
    for (; i < 16 && s[i]; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return false;
    for (; i < 16; i++) /* NUL-padded */
        if (s[i]) return false;
    return true;
}

static void do_create_asset(ref_t *r, const lx_cmd_create_asset_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    /* ASSUMPTION: an id >= max_assets is BAD_ASSET_PARAMS. */
    if (c->asset >= r->cfg.max_assets)
        why = LX_REJECT_BAD_ASSET_PARAMS;
    else if (r->assets[c->asset].exists)
        why = LX_REJECT_ASSET_EXISTS;
    else if (c->scale < 1 || !symbol_ok(c->symbol))
        why = LX_REJECT_BAD_ASSET_PARAMS;
    if (why != LX_REJECT_NONE) {
        reject(r, LX_MARKET_NONE, LX_ACCOUNT_NONE, 0, 0, why);
        return;
    }
    asset_t *a = &r->assets[c->asset];
    a->exists = true;
    a->scale = c->scale;
    memcpy(a->symbol, c->symbol, 16);
    /* with clearing, the fee account's record of the asset exists from
     * now on (clearing.md "Fees") */
    if (r->cfg.clearing) cell_w(r, r->cfg.fee_account, c->asset);
    lx_event_t ev = ev_new(r, LX_EV_ASSET_CREATED, LX_MARKET_NONE);
    ev.u.asset.asset = c->asset;
    ev.u.asset.scale = c->scale;
    memcpy(ev.u.asset.symbol, c->symbol, 16);
    emit(r, &ev);
}

static bool fees_ok(int32_t maker, int32_t taker) {
    return taker >= 0 && taker <= LX_FEE_RATE_MAX && maker >= -taker && maker <= taker;
}

static void do_create_market(ref_t *r, const lx_cmd_create_market_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    i128 tv = 0;
    if (c->market >= r->cfg.max_markets)
        why = LX_REJECT_BAD_MARKET_PARAMS;
    else if (r->markets[c->market].exists)
        why = LX_REJECT_MARKET_EXISTS;
    else if (!asset_ok(r, c->base) || !asset_ok(r, c->quote))
        why = LX_REJECT_UNKNOWN_ASSET;
    else if (c->base == c->quote)
        why = LX_REJECT_BAD_MARKET_PARAMS;
    else if (c->mode != LX_MODE_CONTINUOUS)
        why = LX_REJECT_UNSUPPORTED;
    else if (c->tick_size < 1 || c->lot_size < 1 || c->min_price < 1 ||
             c->min_price > c->max_price || c->max_qty < 1 || c->max_qty > LX_QTY_MAX)
        why = LX_REJECT_BAD_MARKET_PARAMS;
    else {
        i128 num = (i128)c->tick_size * c->lot_size;
        int64_t scale = r->assets[c->base].scale;
        tv = num / scale;
        if (num % scale != 0 || tv < 1 || tv > INT64_MAX)
            why = LX_REJECT_BAD_MARKET_PARAMS;
        else if (!fees_ok(c->maker_fee, c->taker_fee))
            why = LX_REJECT_BAD_FEES;
    }
    if (why != LX_REJECT_NONE) {
        reject(r, c->market, LX_ACCOUNT_NONE, 0, 0, why);
        return;
    }
    market_t *mk = &r->markets[c->market];
    mk->exists = true;
    mk->halted = false;
    mk->p = *c;
    mk->tick_value = (int64_t)tv;
    mk->maker_fee = c->maker_fee;
    mk->taker_fee = c->taker_fee;
    mk->seq = 0;
    mk->last_ts = 0;
    mk->last_price = 0;
    lx_event_t ev = ev_new(r, LX_EV_MARKET_CREATED, c->market);
    ev.u.market.base = c->base;
    ev.u.market.quote = c->quote;
    ev.u.market.mode = c->mode;
    ev.u.market.tick_size = c->tick_size;
    ev.u.market.lot_size = c->lot_size;
    ev.u.market.min_price = c->min_price;
    ev.u.market.max_price = c->max_price;
    ev.u.market.max_qty = c->max_qty;
    ev.u.market.maker_fee = c->maker_fee;
    ev.u.market.taker_fee = c->taker_fee;
    emit(r, &ev);
}

static void do_set_market_state(ref_t *r, const lx_cmd_set_market_state_t *c) {
    if (!market_ok(r, c->market)) {
        reject(r, c->market, LX_ACCOUNT_NONE, 0, 0, LX_REJECT_UNKNOWN_MARKET);
        return;
    }
    /* ASSUMPTION: only 0 and 1 are valid (BAD_COMMAND otherwise, after the
     * market check); a repeat of the current state still emits the event. */
    if (c->halted > 1) {
        reject(r, c->market, LX_ACCOUNT_NONE, 0, 0, LX_REJECT_BAD_COMMAND);
        return;
    }
    r->markets[c->market].halted = c->halted;
    lx_event_t ev = ev_new(r, LX_EV_MARKET_STATE, c->market);
    ev.u.market_state.halted = c->halted;
    emit(r, &ev);
}

static void do_set_fees(ref_t *r, const lx_cmd_set_fees_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    if (!market_ok(r, c->market))
        why = LX_REJECT_UNKNOWN_MARKET;
    else if (!fees_ok(c->maker_fee, c->taker_fee))
        why = LX_REJECT_BAD_FEES;
    if (why != LX_REJECT_NONE) {
        reject(r, c->market, LX_ACCOUNT_NONE, 0, 0, why);
        return;
    }
    market_t *mk = &r->markets[c->market];
    mk->maker_fee = c->maker_fee;
    mk->taker_fee = c->taker_fee;
    lx_event_t ev = ev_new(r, LX_EV_FEES_SET, c->market);
    ev.u.fees.maker_fee = c->maker_fee;
    ev.u.fees.taker_fee = c->taker_fee;
    emit(r, &ev);
}

/* ---- funds --------------------------------------------------------------- */

static uint64_t dep_hash(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static bool dep_has(const ref_t *r, uint64_t id) {
    if (r->dep_cap == 0) return false;
    for (size_t i = dep_hash(id) & (r->dep_cap - 1);; i = (i + 1) & (r->dep_cap - 1)) {
        if (!r->dep_used[i]) return false;
        if (r->dep[i] == id) return true;
    }
}

static void dep_add(ref_t *r, uint64_t id) {
    if ((r->dep_n + 1) * 2 > r->dep_cap) {
        size_t cap = r->dep_cap ? r->dep_cap * 2 : 1024;
        uint64_t *old = r->dep;
        uint8_t *old_used = r->dep_used;
        size_t old_cap = r->dep_cap;
        r->dep = calloc(cap, sizeof *r->dep);
        r->dep_used = calloc(cap, 1);
        if (!r->dep || !r->dep_used) abort();
        r->dep_cap = cap;
        r->dep_n = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old_used[i]) dep_add(r, old[i]);
        free(old);
        free(old_used);
    }
    size_t i = dep_hash(id) & (r->dep_cap - 1);
    while (r->dep_used[i]) i = (i + 1) & (r->dep_cap - 1);
    r->dep_used[i] = 1;
    r->dep[i] = id;
    r->dep_n++;
}

static void ev_funds(ref_t *r, lx_event_type_t type, lx_account_id_t a, lx_account_id_t to,
                     lx_asset_id_t asset, int64_t amount, uint64_t deposit_id) {
    lx_event_t ev = ev_new(r, type, LX_MARKET_NONE);
    ev.u.funds.account = a;
    ev.u.funds.to = to;
    ev.u.funds.asset = asset;
    ev.u.funds.amount = amount;
    ev.u.funds.deposit_id = deposit_id;
    emit(r, &ev);
}

static void do_deposit(ref_t *r, const lx_cmd_deposit_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    if (!account_ok(r, c->account))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!asset_ok(r, c->asset))
        why = LX_REJECT_UNKNOWN_ASSET;
    else if (c->amount <= 0)
        why = LX_REJECT_BAD_AMOUNT;
    else if (dep_has(r, c->deposit_id))
        why = LX_REJECT_DUPLICATE_DEPOSIT;
    else if (c->amount > INT64_MAX - r->assets[c->asset].supply)
        why = LX_REJECT_OVERFLOW;
    if (why != LX_REJECT_NONE) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, why);
        return;
    }
    dep_add(r, c->deposit_id);
    r->assets[c->asset].supply += c->amount;
    cell_w(r, c->account, c->asset)->free += c->amount;
    ev_funds(r, LX_EV_DEPOSIT, c->account, LX_ACCOUNT_NONE, c->asset, c->amount, c->deposit_id);
    ev_balance_any(r, c->account, c->asset);
}

static void do_withdraw(ref_t *r, const lx_cmd_withdraw_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    if (!account_ok(r, c->account))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!asset_ok(r, c->asset))
        why = LX_REJECT_UNKNOWN_ASSET;
    else if (c->amount <= 0)
        why = LX_REJECT_BAD_AMOUNT;
    else if (c->amount > cell(r, c->account, c->asset)->free)
        why = LX_REJECT_INSUFFICIENT_FUNDS;
    if (why != LX_REJECT_NONE) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, why);
        return;
    }
    r->assets[c->asset].supply -= c->amount;
    cell_w(r, c->account, c->asset)->free -= c->amount;
    ev_funds(r, LX_EV_WITHDRAWAL, c->account, LX_ACCOUNT_NONE, c->asset, c->amount, 0);
    ev_balance_any(r, c->account, c->asset);
}

static void do_transfer(ref_t *r, const lx_cmd_transfer_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    if (!account_ok(r, c->from) || !account_ok(r, c->to))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (c->from == c->to)
        why = LX_REJECT_BAD_COMMAND;
    else if (!asset_ok(r, c->asset))
        why = LX_REJECT_UNKNOWN_ASSET;
    else if (c->amount <= 0)
        why = LX_REJECT_BAD_AMOUNT;
    else if (c->amount > cell(r, c->from, c->asset)->free)
        why = LX_REJECT_INSUFFICIENT_FUNDS;
    if (why != LX_REJECT_NONE) {
        reject(r, LX_MARKET_NONE, c->from, 0, 0, why);
        return;
    }
    cell_w(r, c->from, c->asset)->free -= c->amount;
    cell_w(r, c->to, c->asset)->free += c->amount;
    ev_funds(r, LX_EV_TRANSFER, c->from, c->to, c->asset, c->amount, 0);
    ev_balance_any(r, c->from, c->asset);
    ev_balance_any(r, c->to, c->asset);
}

/* ---- apply ----------------------------------------------------------------- */

/* ---- identity (identity.md) ---------------------------------------------- */

/* docs/identity.md: the commands a node with several shards applies in
 * every shard keep their own nonce per key. Those are: assets, TICK, the
 * dead man's switch, keys and agents, a cancel-all of every market. */
static bool every_shard(const lx_cmd_t *c) {
    if (c->type == LX_CMD_CANCEL_ALL) return c->u.cancel_all.market == LX_MARKET_ALL;
    return c->type == LX_CMD_CREATE_ASSET || c->type == LX_CMD_TICK ||
           c->type == LX_CMD_SCHEDULE_CANCEL || c->type == LX_CMD_BIND_KEY ||
           c->type == LX_CMD_APPROVE_AGENT || c->type == LX_CMD_REVOKE_AGENT;
}

static lx_key_info_t *key_find(ref_t *r, const uint8_t key[32]) {
    for (size_t i = 0; i < r->nkeys; i++)
        if (memcmp(r->keys[i].key, key, 32) == 0) return &r->keys[i];
    return NULL;
}

static bool has_owner(const ref_t *r, lx_account_id_t a) {
    for (size_t i = 0; i < r->nkeys; i++)
        if (r->keys[i].account == a && r->keys[i].role == LX_KEY_OWNER) return true;
    return false;
}

static uint32_t agents_of(const ref_t *r, lx_account_id_t a) {
    uint32_t n = 0;
    for (size_t i = 0; i < r->nkeys; i++)
        n += r->keys[i].account == a && r->keys[i].role == LX_KEY_AGENT;
    return n;
}

/* identity.md: a key's floor slot, the top 4 bits of murmur3's 64-bit
 * finalizer over its first 8 bytes, little-endian */
static uint32_t floor_slot(const uint8_t key[32]) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = x << 8 | key[i];
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t)(x >> 60);
}

static lx_key_info_t *key_new(ref_t *r, const uint8_t key[32], lx_account_id_t a, int role) {
    if (r->nkeys == r->keys_cap) {
        r->keys_cap = r->keys_cap ? 2 * r->keys_cap : 16;
        r->keys = realloc(r->keys, r->keys_cap * sizeof *r->keys);
        if (!r->keys) abort();
    }
    lx_key_info_t *k = &r->keys[r->nkeys++];
    memset(k, 0, sizeof *k);
    memcpy(k->key, key, 32);
    k->account = a;
    k->role = (uint8_t)role;
    /* identity.md (rules 3): a new key starts at its account's floors of
     * its slot */
    k->nonce = r->floor[a][floor_slot(key)][0];
    k->nonce_all = r->floor[a][floor_slot(key)][1];
    return k;
}

static bool all_zero(const uint8_t *p, size_t n);

/* An agent name: like a symbol, but it may be empty. */
static bool name_ok(const char s[16]) {
    return s[0] == 0 ? all_zero((const uint8_t *)s, 16) : symbol_ok(s);
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void ev_key(ref_t *r, lx_event_type_t type, const lx_key_info_t *k) {
    lx_event_t ev = ev_new(r, type, LX_MARKET_NONE);
    ev.u.key.account = k->account;
    memcpy(ev.u.key.key, k->key, 32);
    if (type != LX_EV_KEY_BOUND) { /* KEY_BOUND: name and expiry stay zero */
        memcpy(ev.u.key.name, k->name, 16);
        ev.u.key.expiry = k->expiry;
    }
    emit(r, &ev);
}

static void do_bind_key(ref_t *r, const lx_cmd_bind_key_t *c) {
    lx_reject_t why = LX_REJECT_NONE;
    if (!account_ok(r, c->account))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (all_zero(c->key, 32))
        why = LX_REJECT_BAD_KEY;
    else if (has_owner(r, c->account))
        why = LX_REJECT_ACCOUNT_HAS_KEY;
    else if (key_find(r, c->key))
        why = LX_REJECT_KEY_IN_USE;
    if (why) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, why);
        return;
    }
    ev_key(r, LX_EV_KEY_BOUND, key_new(r, c->key, c->account, LX_KEY_OWNER));
}

static void do_approve_agent(ref_t *r, const lx_cmd_approve_agent_t *c) {
    lx_key_info_t *k = NULL;
    lx_reject_t why = LX_REJECT_NONE;
    if (!account_ok(r, c->account))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (all_zero(c->key, 32))
        why = LX_REJECT_BAD_KEY;
    else if (!name_ok(c->name))
        why = LX_REJECT_BAD_COMMAND;
    else if (c->expiry <= r->cmd->ts)
        why = LX_REJECT_EXPIRED;
    else if ((k = key_find(r, c->key)) && (k->account != c->account || k->role == LX_KEY_OWNER))
        why = LX_REJECT_KEY_IN_USE;
    else if (!k && agents_of(r, c->account) >= r->max_agents)
        why = LX_REJECT_TOO_MANY_AGENTS;
    if (why) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, why);
        return;
    }
    if (!k) k = key_new(r, c->key, c->account, LX_KEY_AGENT); /* else renewed */
    memcpy(k->name, c->name, 16);
    k->expiry = c->expiry;
    ev_key(r, LX_EV_AGENT_APPROVED, k);
}

static void do_revoke_agent(ref_t *r, const lx_cmd_revoke_agent_t *c) {
    lx_key_info_t *k = NULL;
    if (!account_ok(r, c->account)) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, LX_REJECT_UNKNOWN_ACCOUNT);
        return;
    }
    k = key_find(r, c->key);
    if (!k || k->account != c->account || k->role != LX_KEY_AGENT) {
        reject(r, LX_MARKET_NONE, c->account, 0, 0, LX_REJECT_UNKNOWN_AGENT);
        return;
    }
    ev_key(r, LX_EV_AGENT_REVOKED, k);
    /* identity.md (rules 3): forgotten, its nonces kept as the floors; the
     * last record takes its place */
    uint64_t *f = r->floor[c->account][floor_slot(k->key)];
    if (k->nonce > f[0]) f[0] = k->nonce;
    if (k->nonce_all > f[1]) f[1] = k->nonce_all;
    *k = r->keys[--r->nkeys];
}

/* identity.md "Who may send what": the account the command acts for, and
 * whether an agent may send it; false when auth does not apply. */
static bool auth_applies(const lx_cmd_t *c, lx_account_id_t *a, bool *agent_may) {
    *agent_may = false;
    switch (c->type) {
    case LX_CMD_PLACE:
        *a = c->u.place.account;
        *agent_may = true;
        return true;
    case LX_CMD_CANCEL:
        *a = c->u.cancel.account;
        *agent_may = true;
        return true;
    case LX_CMD_AMEND:
        *a = c->u.amend.account;
        *agent_may = true;
        return true;
    case LX_CMD_CANCEL_ALL:
        *a = c->u.cancel_all.account;
        *agent_may = true;
        return true;
    case LX_CMD_SCHEDULE_CANCEL:
        *a = c->u.schedule_cancel.account;
        *agent_may = true;
        return true;
    case LX_CMD_WITHDRAW:
        *a = c->u.withdraw.account;
        return true;
    case LX_CMD_TRANSFER:
        *a = c->u.transfer.from;
        return true;
    case LX_CMD_APPROVE_AGENT:
        *a = c->u.approve_agent.account;
        return true;
    case LX_CMD_REVOKE_AGENT:
        *a = c->u.revoke_agent.account;
        return true;
    default:
        return false;
    }
}

/* The identity checks, in identity.md's order; the REJECTED echoes the
 * command's market, order id and client id as its own rejections do. */
static lx_reject_t auth_check(ref_t *r, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                              size_t *signer) {
    *signer = SIZE_MAX;
    lx_account_id_t a;
    bool agent_may;
    if (!auth || auth->scheme == LX_CMD_AUTH_NONE || !auth_applies(c, &a, &agent_may))
        return LX_REJECT_NONE;
    lx_key_info_t *k = NULL;
    lx_reject_t why = LX_REJECT_NONE;
    if (auth->scheme > LX_CMD_AUTH_SESSION)
        why = LX_REJECT_BAD_COMMAND;
    else if (!account_ok(r, a))
        why = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!(k = key_find(r, auth->key)) || k->account != a || !has_owner(r, a))
        why = LX_REJECT_BAD_SIGNER;
    else if (k->role == LX_KEY_AGENT && !agent_may)
        why = LX_REJECT_NOT_AUTHORIZED;
    else if (k->role == LX_KEY_AGENT && k->expiry <= c->ts)
        why = LX_REJECT_AGENT_EXPIRED;
    else if (auth->scheme == LX_CMD_AUTH_SIGNED &&
             auth->nonce <= (every_shard(c) ? k->nonce_all : k->nonce))
        why = LX_REJECT_NONCE_REPLAYED;
    if (why) {
        lx_market_id_t m = LX_MARKET_NONE;
        lx_order_id_t id = 0;
        uint64_t cid = 0;
        if (c->type == LX_CMD_PLACE) {
            m = c->u.place.market;
            cid = c->u.place.client_id;
        } else if (c->type == LX_CMD_CANCEL) {
            m = c->u.cancel.market;
            if (c->u.cancel.by_client_id)
                cid = c->u.cancel.client_id;
            else
                id = c->u.cancel.order_id;
        } else if (c->type == LX_CMD_AMEND) {
            m = c->u.amend.market;
            if (c->u.amend.by_client_id)
                cid = c->u.amend.client_id;
            else
                id = c->u.amend.order_id;
        } else if (c->type == LX_CMD_CANCEL_ALL) {
            m = c->u.cancel_all.market;
        }
        reject(r, m, a, id, cid, why);
        r->stats.auth_rejected++;
        return why;
    }
    /* an index, not a pointer: the command may add keys (realloc); a
     * revocation moves one (ref_apply_auth finds the signer again) */
    if (auth->scheme == LX_CMD_AUTH_SIGNED) *signer = (size_t)(k - r->keys);
    return LX_REJECT_NONE;
}

int ref_apply(ref_t *r, const lx_cmd_t *c, const lx_sink_t *sink) {
    return ref_apply_auth(r, c, NULL, sink);
}

int ref_apply_auth(ref_t *r, const lx_cmd_t *c, const lx_cmd_auth_t *auth, const lx_sink_t *sink) {
    if (!c || c->type < LX_CMD_CREATE_ASSET || c->type > LX_CMD__MAX || c->seq <= r->last_seq ||
        c->ts < r->last_ts) {
        r->stats.einval++;
        return LX_EINVAL;
    }
    r->last_seq = c->seq;
    r->last_ts = c->ts;
    r->cmd = c;
    r->sink = sink;
    expire(r);
    fire_switches(r); /* the switches due, after expiry, before any command */
    size_t signer = SIZE_MAX;
    if (auth_check(r, c, auth, &signer) != LX_REJECT_NONE) {
        r->cmd = NULL;
        r->sink = NULL;
        return 0;
    }
    switch (c->type) {
    case LX_CMD_CREATE_ASSET:
        do_create_asset(r, &c->u.create_asset);
        break;
    case LX_CMD_CREATE_MARKET:
        do_create_market(r, &c->u.create_market);
        break;
    case LX_CMD_SET_MARKET_STATE:
        do_set_market_state(r, &c->u.set_market_state);
        break;
    case LX_CMD_SET_FEES:
        do_set_fees(r, &c->u.set_fees);
        break;
    case LX_CMD_DEPOSIT:
        do_deposit(r, &c->u.deposit);
        break;
    case LX_CMD_WITHDRAW:
        do_withdraw(r, &c->u.withdraw);
        break;
    case LX_CMD_TRANSFER:
        do_transfer(r, &c->u.transfer);
        break;
    case LX_CMD_PLACE:
        do_place(r, &c->u.place);
        break;
    case LX_CMD_CANCEL:
        do_cancel(r, &c->u.cancel);
        break;
    case LX_CMD_AMEND:
        do_amend(r, &c->u.amend);
        break;
    case LX_CMD_CANCEL_ALL:
        do_cancel_all(r, &c->u.cancel_all);
        break;
    case LX_CMD_TICK:
        fire_switches(r); /* after expiry */
        break;
    case LX_CMD_SCHEDULE_CANCEL:
        do_schedule_cancel(r, &c->u.schedule_cancel);
        break;
    case LX_CMD_BIND_KEY:
        do_bind_key(r, &c->u.bind_key);
        break;
    case LX_CMD_APPROVE_AGENT:
        do_approve_agent(r, &c->u.approve_agent);
        break;
    case LX_CMD_REVOKE_AGENT:
        do_revoke_agent(r, &c->u.revoke_agent);
        break;
    }
    if (signer != SIZE_MAX) { /* spent, whatever the outcome */
        signer = (size_t)(key_find(r, auth->key) - r->keys);
        if (every_shard(c))
            r->keys[signer].nonce_all = auth->nonce;
        else
            r->keys[signer].nonce = auth->nonce;
    }
    r->cmd = NULL;
    r->sink = NULL;
    return 0;
}

/* ---- create / destroy ------------------------------------------------------- */

ref_t *ref_create(const lx_engine_config_t *cfg) {
    if (!cfg || cfg->max_assets == 0 || cfg->fee_account >= cfg->max_accounts ||
        (uint64_t)cfg->max_accounts * cfg->max_assets > ((uint64_t)1 << 26))
        return NULL;
    ref_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->cfg = *cfg;
    r->gtd_min = INT64_MAX;
    size_t ncell = (size_t)cfg->max_accounts * cfg->max_assets;
    r->orders = calloc(cfg->max_orders ? cfg->max_orders : 1, sizeof *r->orders);
    r->live_pos = calloc(cfg->max_orders ? cfg->max_orders : 1, sizeof *r->live_pos);
    r->markets = calloc(cfg->max_markets ? cfg->max_markets : 1, sizeof *r->markets);
    r->assets = calloc(cfg->max_assets, sizeof *r->assets);
    r->cells = calloc(ncell ? ncell : 1, sizeof *r->cells);
    r->cell_order = calloc(ncell ? ncell : 1, sizeof *r->cell_order);
    r->acct = calloc(cfg->max_accounts ? cfg->max_accounts : 1, sizeof *r->acct);
    r->deadman = calloc(cfg->max_accounts ? cfg->max_accounts : 1, sizeof *r->deadman);
    r->floor = calloc(cfg->max_accounts ? cfg->max_accounts : 1, sizeof *r->floor);
    /* matching.md: a configured lead of 0 means the default, 5 s */
    r->min_lead = cfg->deadman_min_lead_ns ? cfg->deadman_min_lead_ns : 5000000000LL;
    r->cfg.deadman_min_lead_ns = r->min_lead;
    /* identity.md: an agent limit of 0 means the default, 8 */
    r->max_agents = cfg->max_agents_per_account ? cfg->max_agents_per_account : 8;
    r->cfg.max_agents_per_account = r->max_agents;
    if (!r->orders || !r->live_pos || !r->markets || !r->assets || !r->cells || !r->cell_order ||
        !r->acct || !r->deadman || !r->floor) {
        ref_destroy(r);
        return NULL;
    }
    return r;
}

void ref_destroy(ref_t *r) {
    if (!r) return;
    if (r->markets)
        for (uint32_t m = 0; m < r->cfg.max_markets; m++) {
            free(r->markets[m].side[0].v);
            free(r->markets[m].side[1].v);
        }
    if (r->acct)
        for (uint32_t a = 0; a < r->cfg.max_accounts; a++) free(r->acct[a].v);
    free(r->live.v);
    free(r->orders);
    free(r->live_pos);
    free(r->markets);
    free(r->assets);
    free(r->cells);
    free(r->cell_order);
    free(r->acct);
    free(r->deadman);
    free(r->floor);
    free(r->keys);
    free(r->dep);
    free(r->dep_used);
    free(r);
}

/* ---- read functions ------------------------------------------------------------ */

uint64_t ref_last_seq(const ref_t *r) {
    return r->last_seq;
}
int64_t ref_last_ts(const ref_t *r) {
    return r->last_ts;
}
const lx_engine_config_t *ref_config(const ref_t *r) {
    return &r->cfg;
}
const ref_stats_t *ref_stats(const ref_t *r) {
    return &r->stats;
}

static void order_info(const ref_t *r, const order_t *o, lx_order_info_t *out) {
    memset(out, 0, sizeof *out);
    out->order_id = o->id;
    out->account = o->account;
    out->market = o->market;
    out->side = o->side;
    out->type = o->type;
    out->tif = o->tif;
    out->stp = o->stp;
    out->price = o->price;
    out->qty = o->qty;
    out->remaining = o->remaining;
    out->filled = o->filled;
    out->client_id = o->client_id;
    out->expiry = o->expiry;
    out->locked = lock_of(r, o);
}

static uint32_t count_levels(const ref_t *r, const vec_t *v) {
    uint32_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        if (i == 0 || r->orders[v->v[i]].price != r->orders[v->v[i - 1]].price) n++;
    return n;
}

int ref_market_info(const ref_t *r, lx_market_id_t m, lx_market_info_t *out) {
    if (!market_ok(r, m)) return LX_ENOENT;
    const market_t *mk = &r->markets[m];
    memset(out, 0, sizeof *out);
    out->market = m;
    out->base = mk->p.base;
    out->quote = mk->p.quote;
    out->mode = mk->p.mode;
    out->halted = mk->halted;
    out->tick_size = mk->p.tick_size;
    out->lot_size = mk->p.lot_size;
    out->tick_value = mk->tick_value;
    out->min_price = mk->p.min_price;
    out->max_price = mk->p.max_price;
    out->max_qty = mk->p.max_qty;
    out->maker_fee = mk->maker_fee;
    out->taker_fee = mk->taker_fee;
    out->market_seq = mk->seq;
    out->last_ts = mk->last_ts;
    out->last_price = mk->last_price;
    out->bid_levels = count_levels(r, &mk->side[LX_SIDE_BUY]);
    out->ask_levels = count_levels(r, &mk->side[LX_SIDE_SELL]);
    out->orders = (uint32_t)(mk->side[0].n + mk->side[1].n);
    return 0;
}

int ref_market_brief(const ref_t *r, lx_market_id_t m, uint64_t *market_seq, bool *halted) {
    if (!market_ok(r, m)) return LX_ENOENT;
    if (market_seq) *market_seq = r->markets[m].seq;
    if (halted) *halted = r->markets[m].halted;
    return 0;
}

int ref_asset_info(const ref_t *r, lx_asset_id_t a, lx_asset_info_t *out) {
    if (!asset_ok(r, a)) return LX_ENOENT;
    const asset_t *as = &r->assets[a];
    memset(out, 0, sizeof *out);
    out->asset = a;
    memcpy(out->symbol, as->symbol, 16);
    out->scale = as->scale;
    out->supply = as->supply;
    out->fees = as->fees;
    return 0;
}

bool ref_best(const ref_t *r, lx_market_id_t m, lx_side_t side, int64_t *price, int64_t *qty) {
    lx_level_t l;
    if (ref_levels(r, m, side, &l, 1) == 0) return false;
    if (price) *price = l.price;
    if (qty) *qty = l.qty;
    return true;
}

size_t ref_levels(const ref_t *r, lx_market_id_t m, lx_side_t side, lx_level_t *out, size_t n) {
    if (!market_ok(r, m) || side > LX_SIDE_SELL) return 0;
    const vec_t *v = &r->markets[m].side[side];
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        const order_t *o = &r->orders[v->v[i]];
        if (k > 0 && out[k - 1].price == o->price) {
            out[k - 1].qty += o->remaining;
            out[k - 1].count++;
            continue;
        }
        if (k == n) break;
        out[k].price = o->price;
        out[k].qty = o->remaining;
        out[k].count = 1;
        k++;
    }
    return k;
}

int ref_order(const ref_t *r, lx_order_id_t id, lx_order_info_t *out) {
    const order_t *o = order_by_id((ref_t *)r, id);
    if (!o) return LX_ENOENT;
    order_info(r, o, out);
    return 0;
}

size_t ref_book_orders(const ref_t *r, lx_market_id_t m, lx_side_t side, lx_order_info_t *out,
                       size_t cap) {
    if (!market_ok(r, m) || side > LX_SIDE_SELL) return 0;
    const vec_t *v = &r->markets[m].side[side];
    for (size_t i = 0; i < v->n && i < cap; i++) order_info(r, &r->orders[v->v[i]], &out[i]);
    return v->n;
}

size_t ref_account_orders(const ref_t *r, lx_account_id_t a, lx_order_info_t *out, size_t cap) {
    if (!account_ok(r, a)) return 0;
    const vec_t *v = &r->acct[a];
    for (size_t i = 0; i < v->n && i < cap; i++) order_info(r, &r->orders[v->v[i]], &out[i]);
    return v->n;
}

int ref_balance(const ref_t *r, lx_account_id_t a, lx_asset_id_t asset, int64_t *free_,
                int64_t *locked) {
    if (!account_ok(r, a) || asset >= r->cfg.max_assets) return LX_EINVAL;
    const cell_t *c = &r->cells[(size_t)a * r->cfg.max_assets + asset];
    if (free_) *free_ = c->free;
    if (locked) *locked = c->locked;
    return 0;
}

void ref_foreach_balance(const ref_t *r,
                         void (*fn)(void *ctx, lx_account_id_t a, lx_asset_id_t asset,
                                    int64_t free_, int64_t locked),
                         void *ctx) {
    for (size_t i = 0; i < r->ncells; i++) {
        uint32_t k = r->cell_order[i];
        fn(ctx, k / r->cfg.max_assets, k % r->cfg.max_assets, r->cells[k].free, r->cells[k].locked);
    }
}

size_t ref_open_count(const ref_t *r) {
    return r->live.n;
}

void ref_open_nth(const ref_t *r, size_t i, lx_order_info_t *out) {
    order_info(r, &r->orders[r->live.v[i]], out);
}

int ref_key(const ref_t *r, const uint8_t key[32], lx_key_info_t *out) {
    for (size_t i = 0; i < r->nkeys; i++)
        if (memcmp(r->keys[i].key, key, 32) == 0) {
            *out = r->keys[i];
            return 0;
        }
    return LX_ENOENT;
}

size_t ref_key_count(const ref_t *r) {
    return r->nkeys;
}

void ref_key_nth(const ref_t *r, size_t i, lx_key_info_t *out) {
    *out = r->keys[i];
}

void ref_nonce_floor(const ref_t *r, lx_account_id_t a, uint32_t slot, uint64_t *nonce,
                     uint64_t *nonce_all) {
    bool ok = a < r->cfg.max_accounts && slot < 16;
    *nonce = ok ? r->floor[a][slot][0] : 0;
    *nonce_all = ok ? r->floor[a][slot][1] : 0;
}

int64_t ref_deadman(const ref_t *r, lx_account_id_t a) {
    return a < r->cfg.max_accounts ? r->deadman[a] : 0;
}

size_t ref_account_open_count(const ref_t *r, lx_account_id_t a) {
    return account_ok(r, a) ? r->acct[a].n : 0;
}
