/*
 * orders.c: everything that happens to an order: place, match, rest,
 * cancel, amend, cancel-all and GTD expiry. docs/matching.md is the
 * specification, including the exact order of events; this file follows it
 * step by step, and tests/support/refmodel.c implements it independently.
 *
 * The matching loop (match()) walks the opposite side from its best level,
 * which is always at the end of the side's key array, and each level's FIFO
 * from the head. Per fill it does: one settlement (clearing on), one TRADE
 * event, and, when a resting order is used up, an O(1) unlink. A level's
 * BOOK_LEVEL event is emitted once, when the taker leaves it. Nothing on
 * this path allocates: place reserves the one level and the index entries
 * an order can need before it changes anything.
 *
 * An order's life: a slot is taken at acceptance (lowest free, slots.c); it
 * is linked into its account's list and the client-id index at once, so
 * cancel-all order is acceptance order; it rests on a level if anything is
 * left; it is retired (unlinked from all three, slot freed) when it fills,
 * is canceled or expires. GTD orders also get an expiry entry and a heap
 * entry at rest (gtd.c), removed when they are retired.
 *
 * What this file does not do: funds arithmetic (clearing.c), level and side
 * storage (book.c), id and index storage (slots.c, accounts.c). What of
 * those runs on every order is inline, from clearing.h, book.h, slots.h
 * and accounts.h.
 */
#include <stdlib.h>
#include "accounts.h"
#include "book.h"
#include "clearing.h"
#include "slots.h"

static lx__market_t *market_get(lx_engine_t *e, uint32_t id) {
    return id < e->cfg.max_markets && e->markets[id].exists ? &e->markets[id] : NULL;
}

/* The fee reserve rate of a buy accepted now, max(taker, maker, 0) of its
 * market; 0 for a sell (docs/clearing.md, "Locks"). */
static uint32_t fee_reserve(const lx__market_t *m, int side) {
    if (side != LX_SIDE_BUY) return 0;
    int32_t res = m->taker_fee > m->maker_fee ? m->taker_fee : m->maker_fee;
    return res > 0 ? (uint32_t)res : 0;
}

static lx_order_id_t order_id(const lx_engine_t *e, uint32_t slot) {
    return lx__order_id(slot, e->orders[slot].gen);
}

/* The resting order an id names in a market, or LX__NIL. */
static uint32_t resting_by_id(const lx_engine_t *e, lx_order_id_t id, uint32_t market) {
    uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
    if (slot >= e->cfg.max_orders) return LX__NIL;
    const lx__order_t *o = &e->orders[slot];
    if (gen == 0 || o->gen != gen || o->level == LX__NIL) return LX__NIL;
    if (e->levels[o->level].market != market) return LX__NIL;
    return slot;
}

/* ---- events ------------------------------------------------------------- */

/* BOOK_LEVEL and CANCELED are inlined into each caller (about 11
 * instructions a message: a level event nearly every message). */
static LX_ALWAYS_INLINE void emit_level(lx_engine_t *e, lx__market_t *m, uint32_t market, int side,
                                        int64_t price, int64_t qty, uint32_t count) {
    lx_event_t ev;
    lx__ev_start_m(e, &ev, LX_EV_BOOK_LEVEL, market, m);
    ev.u.level.side = (uint8_t)side;
    ev.u.level.price = price;
    ev.u.level.qty = qty;
    ev.u.level.count = count;
    lx__emit(e, &ev);
}

static LX_ALWAYS_INLINE void emit_canceled(lx_engine_t *e, lx__market_t *m, uint32_t market,
                                           uint32_t slot, lx_cancel_reason_t why, int64_t qty) {
    const lx__order_t *o = &e->orders[slot];
    lx_event_t ev;
    lx__ev_start_m(e, &ev, LX_EV_ORDER_CANCELED, market, m);
    ev.u.canceled.order_id = order_id(e, slot);
    ev.u.canceled.account = o->account;
    ev.u.canceled.client_id = o->client_id;
    ev.u.canceled.reason = (uint8_t)why;
    ev.u.canceled.qty = qty;
    lx__emit(e, &ev);
}

static void emit_amended(lx_engine_t *e, lx__market_t *m, uint32_t market, uint32_t slot,
                         int64_t price, bool priority_lost) {
    const lx__order_t *o = &e->orders[slot];
    lx_event_t ev;
    lx__ev_start_m(e, &ev, LX_EV_ORDER_AMENDED, market, m);
    ev.u.amended.order_id = order_id(e, slot);
    ev.u.amended.account = o->account;
    ev.u.amended.client_id = o->client_id;
    ev.u.amended.price = price;
    ev.u.amended.qty = lx__order_qty(o);
    ev.u.amended.remaining = o->remaining;
    ev.u.amended.priority_lost = priority_lost;
    lx__emit(e, &ev);
}

/* ---- retiring orders ---------------------------------------------------- */

/* Frees an order that is no longer on a level. */
static void retire(lx_engine_t *e, uint32_t slot) {
    lx__order_t *o = &e->orders[slot];
    lx__acct_unlink(e, slot);
    if (o->client_id) lx__cid_remove(e, slot);
    if (o->tif == LX_TIF_GTD) lx__gtd_clear(e, slot);
    o->level = LX__NIL;
    lx__slot_release(e, slot);
}

/* Cancels a resting order: CANCELED, BALANCE, then BOOK_LEVEL if asked
 * (inside a match the level is reported when the taker leaves it). */
static void cancel_resting(lx_engine_t *e, lx__market_t *m, uint32_t slot, lx_cancel_reason_t why,
                           bool level_event) {
    lx__order_t *o = &e->orders[slot];
    uint32_t l = o->level;
    uint32_t market = e->levels[l].market;
    int64_t price = e->levels[l].price;
    int side = o->side;
    m->last_ts = e->cur_ts;
    emit_canceled(e, m, market, slot, why, o->remaining);
    if (e->cfg.clearing)
        lx__relock(e, m, o, lx__lock_amount(m, side, price, o->remaining, o->fee_res), 0);
    bool gone = lx__book_unlink(e, slot);
    retire(e, slot);
    if (level_event)
        emit_level(e, m, market, side, price, gone ? 0 : e->levels[l].qty,
                   gone ? 0 : e->levels[l].count);
}

/* ---- matching ----------------------------------------------------------- */

typedef enum { MATCH_DONE, MATCH_STP_STOP, MATCH_STP_TAKER_GONE } match_end_t;

/* Whether an order on `side` at `price` would trade with the opposite
 * side's best level (never a tombstone). */
static inline bool would_cross(const lx_engine_t *e, const lx__market_t *m, int side,
                               int64_t price) {
    int64_t best;
    return lx__side_best(e, m, !side, &best) != LX__NIL && best >= lx__key(!side, price);
}

/*
 * Matches the taker in `slot` (not on a level) at limit `price` against the
 * opposite side. Returns how matching ended: MATCH_STP_STOP if STP expired
 * the taker (its remainder is to be canceled with reason STP),
 * MATCH_STP_TAKER_GONE if a decrement used it up (already reported).
 */
static LX_NOINLINE match_end_t match_cross(lx_engine_t *e, lx__market_t *m, uint32_t market,
                                           uint32_t slot, int64_t price) {
    lx__order_t *t = &e->orders[slot];
    int side = t->side, mside = !side;
    int64_t cross = lx__key(mside, price); /* a maker key >= cross crosses */
    lx_order_id_t tid = order_id(e, slot);
    bool clearing = e->cfg.clearing;
    match_end_t end = MATCH_DONE;

    int64_t best;
    uint32_t l;
    /* (matching empties levels, never makes or gives back a ladder) */
    const lx__lad_t *lad = lx__lad(e, m, mside);
    const lx__side_t *opp = &m->side[mside];
    while (t->remaining > 0 && (l = lx__side_best_of(lad, opp, &best)) != LX__NIL &&
           best >= cross) {
        int64_t lprice = e->levels[l].price;
        bool touched = false, gone = false, stop = false;
        uint32_t cur = e->levels[l].head;
        while (cur != LX__NIL && t->remaining > 0) {
            lx__order_t *mk = &e->orders[cur];
            uint32_t next = mk->next;
            if (LX_UNLIKELY(mk->account == t->account && t->stp != LX_STP_NONE)) {
                if (t->stp == LX_STP_EXPIRE_TAKER) {
                    end = MATCH_STP_STOP;
                    stop = true;
                    break;
                }
                touched = true;
                if (t->stp == LX_STP_EXPIRE_MAKER || t->stp == LX_STP_EXPIRE_BOTH) {
                    gone = mk->next == LX__NIL && mk->prev == LX__NIL;
                    cancel_resting(e, m, cur, LX_CANCEL_STP, false);
                    if (t->stp == LX_STP_EXPIRE_BOTH) {
                        end = MATCH_STP_STOP;
                        stop = true;
                        break;
                    }
                    cur = next;
                    continue;
                }
                /* decrement and cancel */
                int64_t d = t->remaining < mk->remaining ? t->remaining : mk->remaining;
                if (mk->remaining == d) {
                    gone = mk->next == LX__NIL && mk->prev == LX__NIL;
                    cancel_resting(e, m, cur, LX_CANCEL_STP, false);
                } else {
                    int64_t before =
                        clearing ? lx__lock_amount(m, mside, lprice, mk->remaining, mk->fee_res)
                                 : 0;
                    mk->remaining -= d;
                    e->levels[l].qty -= d;
                    emit_amended(e, m, market, cur, lprice, false);
                    if (clearing)
                        lx__relock(e, m, mk, before,
                                   lx__lock_amount(m, mside, lprice, mk->remaining, mk->fee_res));
                }
                int64_t before =
                    clearing ? lx__lock_amount(m, side, price, t->remaining, t->fee_res) : 0;
                t->remaining -= d;
                if (t->remaining == 0)
                    emit_canceled(e, m, market, slot, LX_CANCEL_STP, d);
                else
                    emit_amended(e, m, market, slot, price, false);
                if (clearing)
                    lx__relock(e, m, t, before,
                               lx__lock_amount(m, side, price, t->remaining, t->fee_res));
                if (t->remaining == 0) {
                    end = MATCH_STP_TAKER_GONE;
                    stop = true;
                    break;
                }
                cur = next;
                continue;
            }

            /* a trade at the resting order's price */
            int64_t q = t->remaining < mk->remaining ? t->remaining : mk->remaining;
            int64_t mfee = 0, tfee = 0;
            lx__balance_t *bal[5];
            if (clearing) lx__settle(e, m, mk, t, price, q, lprice, &mfee, &tfee, bal);
            mk->remaining -= q;
            mk->filled += q;
            t->remaining -= q;
            t->filled += q;
            e->levels[l].qty -= q;
            touched = true;
            lx_event_t ev;
            lx__ev_start_m(e, &ev, LX_EV_TRADE, market, m);
            ev.u.trade.maker_order = order_id(e, cur);
            ev.u.trade.taker_order = tid;
            ev.u.trade.maker_account = mk->account;
            ev.u.trade.taker_account = t->account;
            ev.u.trade.taker_side = (uint8_t)side;
            ev.u.trade.price = lprice;
            ev.u.trade.qty = q;
            ev.u.trade.maker_remaining = mk->remaining;
            ev.u.trade.taker_remaining = t->remaining;
            ev.u.trade.maker_fee = mfee;
            ev.u.trade.taker_fee = tfee;
            lx__emit(e, &ev);
            if (clearing) {
                for (int k = 0; k < 4; k++) lx__emit_balance(e, bal[k]);
                if (bal[4]) lx__emit_balance(e, bal[4]);
            }
            m->last_price = lprice;
            if (mk->remaining == 0) {
                gone = lx__book_unlink(e, cur);
                retire(e, cur);
            }
            cur = next;
        }
        if (touched)
            emit_level(e, m, market, mside, lprice, gone ? 0 : e->levels[l].qty,
                       gone ? 0 : e->levels[l].count);
        if (stop) break;
    }
    return end;
}

/* Most orders cross nothing (swing: three in four): that is answered
 * here, without match_cross's frame (about 60 instructions, 25 a
 * message). */
static inline match_end_t match(lx_engine_t *e, lx__market_t *m, uint32_t market, uint32_t slot,
                                int64_t price) {
    if (!would_cross(e, m, e->orders[slot].side, price)) return MATCH_DONE;
    return match_cross(e, m, market, slot, price);
}

/* The FOK dry run of docs/matching.md. */
static bool fok_fillable(const lx_engine_t *e, const lx__market_t *m, const lx__order_t *t,
                         int64_t price, int64_t qty) {
    int mside = !t->side;
    int64_t cross = lx__key(mside, price);
    int64_t sum = 0;
    lx__walk_t w;
    for (uint32_t l = lx__walk_first(e, m, mside, &w); l != LX__NIL; l = lx__walk_next(e, &w)) {
        if (lx__key(mside, e->levels[l].price) < cross) return false;
        for (uint32_t cur = e->levels[l].head; cur != LX__NIL; cur = e->orders[cur].next) {
            const lx__order_t *mk = &e->orders[cur];
            if (mk->account == t->account && t->stp != LX_STP_NONE) {
                if (t->stp == LX_STP_EXPIRE_MAKER) continue;
                return sum >= qty;
            }
            sum += mk->remaining;
            if (sum >= qty) return true;
        }
    }
    return false;
}

/* notional <= 2^62 and qty * lot_size fits. price * qty fits 128 bits
 * (both are positive int64); the third factor is checked by division so
 * no product can overflow. */
bool lx__amounts_fit_slow(const lx__market_t *m, int64_t price, int64_t qty) {
    if (price <= 0 || qty <= 0) return false;
    lx__i128 pq = (lx__i128)price * qty;
    return pq <= LX_NOTIONAL_MAX / m->tick_value && (lx__i128)qty * m->lot_size <= INT64_MAX;
}

static int64_t free_of(const lx_engine_t *e, uint32_t account, uint32_t asset) {
    const lx__balance_t *b = lx__bal_find(e, account, asset);
    return b ? b->free : 0;
}

/* Frees a taker that leaves: retire, or for a new order (fresh: it never
 * rested, so it was never put in its account's list, the client-id index
 * or the GTD table) only its slot. */
static LX_ALWAYS_INLINE void retire_taker(lx_engine_t *e, uint32_t slot, bool fresh) {
    if (fresh) {
        e->orders[slot].level = LX__NIL;
        lx__slot_release(e, slot);
    } else {
        retire(e, slot);
    }
}

/* What is left of a taker after matching: rest it, or cancel/retire it. A
 * new order (fresh: placed by this command, not an amended one) enters
 * its account's list and the client-id index only here, when it rests:
 * half the orders placed on the crash workload never rest (IOC remainders,
 * orders filled on arrival), and for them the link and unlink, the
 * index's insert and delete were about 100 instructions each. Nothing
 * reads either structure in between (the duplicate check came before;
 * STP compares accounts). A new GTD order that rests passes its expiry
 * (else 0; an expiry is later than the command's ts >= 0, so never 0) to
 * be recorded. Inlined into place and amend, each with its own `fresh`: as
 * one function called from both, it ran 2% slower on every workload. */
static LX_ALWAYS_INLINE void finish_taker(lx_engine_t *e, lx__market_t *m, uint32_t market,
                                          uint32_t slot, int64_t price, match_end_t end,
                                          int64_t expiry, bool fresh) {
    lx__order_t *t = &e->orders[slot];
    if (end == MATCH_STP_TAKER_GONE || t->remaining == 0) {
        retire_taker(e, slot, fresh);
        return;
    }
    lx_cancel_reason_t why;
    if (end == MATCH_STP_STOP)
        why = LX_CANCEL_STP;
    else if (t->type == LX_ORDER_MARKET)
        why = LX_CANCEL_MARKET_UNFILLED;
    else if (t->tif == LX_TIF_IOC)
        why = LX_CANCEL_IOC_REMAINDER;
    else if (t->tif == LX_TIF_FOK)
        why = LX_CANCEL_FOK; /* unreachable: pre-checked */
    else {
        uint32_t l = lx__book_level_get(e, m, market, t->side, price); /* reserved */
        lx__book_append(e, l, slot);
        if (fresh) {
            lx__acct_link(e, slot);
            if (t->client_id) (void)lx__cid_insert(e, slot); /* room reserved by lx__place */
        }
        emit_level(e, m, market, t->side, price, e->levels[l].qty, e->levels[l].count);
        if (expiry) { /* room reserved by lx__place */
            lx__gtd_push(e, lx__gtd_set(e, slot, expiry), e->cur_seq);
        }
        return;
    }
    emit_canceled(e, m, market, slot, why, t->remaining);
    if (e->cfg.clearing)
        lx__relock(e, m, t, lx__lock_amount(m, t->side, price, t->remaining, t->fee_res), 0);
    retire_taker(e, slot, fresh);
}

/* ---- place -------------------------------------------------------------- */

int lx__place(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_place_t *p = &c->u.place;
    lx__market_t *m = NULL;
    lx_reject_t r = LX_REJECT_NONE;
    /* a market order is IOC at its protection price, or FOK if asked; a
     * post-only market order is a contradiction (BAD_TIF, check 4). Rules
     * 1: always IOC. */
    uint8_t tif = p->type != LX_ORDER_MARKET   ? p->tif
                  : e->cfg.rules < LX_RULES_2  ? LX_TIF_IOC
                  : p->tif == LX_TIF_FOK       ? LX_TIF_FOK
                  : p->tif == LX_TIF_POST_ONLY ? UINT8_MAX
                                               : LX_TIF_IOC;
    bool clearing = e->cfg.clearing;
    uint32_t fee_res = 0;
    int64_t lock = 0;
    /* room for the client id first: it is inserted if the order rests,
     * after the first change (growing the index changes no state) */
    if (p->client_id && lx__cid_reserve(e)) return LX_ENOMEM;

    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!(m = market_get(e, p->market)))
        r = LX_REJECT_UNKNOWN_MARKET;
    else if (m->halted)
        r = LX_REJECT_MARKET_HALTED;
    else if (p->side > LX_SIDE_SELL)
        r = LX_REJECT_BAD_SIDE;
    else if (p->type > LX_ORDER_MARKET)
        r = LX_REJECT_BAD_ORDER_TYPE;
    else if (tif > LX_TIF_POST_ONLY)
        r = LX_REJECT_BAD_TIF;
    else if (p->stp > LX_STP_DECREMENT)
        r = LX_REJECT_BAD_STP;
    else if (p->qty <= 0)
        r = LX_REJECT_QTY_ZERO;
    else if (p->qty > m->max_qty)
        r = LX_REJECT_QTY_TOO_LARGE;
    else if (p->price < m->min_price || p->price > m->max_price)
        r = LX_REJECT_PRICE_OUT_OF_BAND;
    else if (tif == LX_TIF_GTD && p->expiry <= c->ts)
        r = LX_REJECT_EXPIRED;
    else if (p->client_id && lx__cid_find(e, p->account, p->client_id) != LX__NIL)
        r = LX_REJECT_DUPLICATE_CLIENT_ID;
    else if (!lx__amounts_fit(m, p->price, p->qty))
        r = LX_REJECT_OVERFLOW;
    else if (e->cfg.max_open_orders_per_account &&
             e->accounts[p->account].norders >= e->cfg.max_open_orders_per_account)
        r = LX_REJECT_TOO_MANY_ORDERS;
    else if (tif == LX_TIF_POST_ONLY && would_cross(e, m, p->side, p->price))
        r = LX_REJECT_POST_ONLY_WOULD_CROSS;
    else if (tif == LX_TIF_FOK) {
        lx__order_t probe = {.account = p->account, .side = p->side, .stp = p->stp};
        if (!fok_fillable(e, m, &probe, p->price, p->qty)) r = LX_REJECT_FOK_CANNOT_FILL;
    }
    if (!r && clearing) {
        fee_res = fee_reserve(m, p->side);
        lock = lx__lock_amount(m, p->side, p->price, p->qty, fee_res);
        const lx__balance_t *lb = lx__bal_find(e, p->account, lx__lock_asset(m, p->side));
        if (!lb || lb->free < lock) r = LX_REJECT_INSUFFICIENT_FUNDS;
    }
    if (!r && e->norders >= e->cfg.max_orders) r = LX_REJECT_ENGINE_FULL;
    if (r) {
        lx__reject(e, c, r, p->market, p->account, 0, p->client_id);
        return 0;
    }

    /* everything that could fail to allocate, before the first change (an
     * IOC, FOK or market order never rests: no level to make room for) */
    int rc = tif == LX_TIF_IOC || tif == LX_TIF_FOK ? 0 : lx__book_reserve(e, m, p->side, p->price);
    if (!rc && tif == LX_TIF_GTD) rc = lx__gtd_reserve(e);
    if (!rc && clearing) rc = lx__bal_reserve(e, 2);
    if (rc) return rc;

    uint32_t slot = lx__slot_alloc(e);
    lx__order_t *o = &e->orders[slot];
    o->remaining = p->qty;
    o->filled = 0;
    o->client_id = p->client_id;
    o->account = p->account;
    o->level = LX__NIL;
    if (++o->gen == 0) o->gen = 1; /* 0 would make id 0-generation: never valid */
    o->side = p->side;
    o->type = p->type;
    o->tif = tif;
    o->stp = p->stp;
    o->fee_res = fee_res;

    m->last_ts = c->ts;
    lx_event_t ev;
    lx__ev_start_m(e, &ev, LX_EV_ORDER_ACCEPTED, p->market, m);
    ev.u.accepted.order_id = order_id(e, slot);
    ev.u.accepted.account = p->account;
    ev.u.accepted.side = p->side;
    ev.u.accepted.type = p->type;
    ev.u.accepted.tif = tif;
    ev.u.accepted.stp = p->stp;
    ev.u.accepted.price = p->price;
    ev.u.accepted.qty = p->qty;
    ev.u.accepted.client_id = p->client_id;
    ev.u.accepted.expiry = tif == LX_TIF_GTD ? p->expiry : 0;
    lx__emit(e, &ev);

    if (clearing) {
        /* the lock asset's record exists (it had the funds); the other one
         * is created now so settlement never allocates */
        lx__balance_t *other = lx__bal_get(e, p->account, lx__lock_asset(m, !p->side), true);
        lx__balance_t *lb = lx__bal_get(e, p->account, lx__lock_asset(m, p->side), false);
        (void)other;
        lb->free -= lock;
        lb->locked += lock;
        lx__emit_balance(e, lb);
    }
    match_end_t end = match(e, m, p->market, slot, p->price);
    finish_taker(e, m, p->market, slot, p->price, end, tif == LX_TIF_GTD ? p->expiry : 0, true);
    return 0;
}

/* ---- cancel, amend, cancel-all ------------------------------------------ */

/* Finds the order a cancel or amend names. Returns the slot, or LX__NIL with
 * *r set. */
static uint32_t find_target(const lx_engine_t *e, uint32_t account, uint32_t market, bool by_cid,
                            lx_order_id_t id, uint64_t cid, lx_reject_t *r) {
    uint32_t slot;
    if (by_cid) {
        slot = cid ? lx__cid_find(e, account, cid) : LX__NIL;
        if (slot != LX__NIL &&
            (e->orders[slot].level == LX__NIL || e->levels[e->orders[slot].level].market != market))
            slot = LX__NIL;
    } else {
        slot = resting_by_id(e, id, market);
    }
    if (slot == LX__NIL)
        *r = LX_REJECT_UNKNOWN_ORDER;
    else if (e->orders[slot].account != account) {
        *r = LX_REJECT_NOT_OWNER;
        slot = LX__NIL;
    }
    return slot;
}

int lx__cancel(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_cancel_t *p = &c->u.cancel;
    lx__market_t *m = NULL;
    lx_reject_t r = LX_REJECT_NONE;
    uint32_t slot = LX__NIL;
    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!(m = market_get(e, p->market)))
        r = LX_REJECT_UNKNOWN_MARKET;
    else
        slot =
            find_target(e, p->account, p->market, p->by_client_id, p->order_id, p->client_id, &r);
    if (r) {
        lx__reject(e, c, r, p->market, p->account, p->by_client_id ? 0 : p->order_id,
                   p->by_client_id ? p->client_id : 0);
        return 0;
    }
    cancel_resting(e, m, slot, LX_CANCEL_USER, true);
    return 0;
}

int lx__amend(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_amend_t *p = &c->u.amend;
    lx__market_t *m = NULL;
    lx_reject_t r = LX_REJECT_NONE;
    uint32_t slot = LX__NIL;
    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (!(m = market_get(e, p->market)))
        r = LX_REJECT_UNKNOWN_MARKET;
    else if (m->halted)
        r = LX_REJECT_MARKET_HALTED;
    else
        slot =
            find_target(e, p->account, p->market, p->by_client_id, p->order_id, p->client_id, &r);

    lx__order_t *o = slot != LX__NIL ? &e->orders[slot] : NULL;
    int64_t cur_price = o ? e->levels[o->level].price : 0;
    uint32_t res = o ? o->fee_res : 0; /* the reserve rate after the amend */
    bool keep = false;
    if (!r) {
        if (p->qty <= 0)
            r = LX_REJECT_QTY_ZERO;
        else if (p->qty > m->max_qty)
            r = LX_REJECT_QTY_TOO_LARGE;
        else if (p->price < m->min_price || p->price > m->max_price)
            r = LX_REJECT_PRICE_OUT_OF_BAND;
        else if (p->price == cur_price && p->qty == lx__order_qty(o))
            r = LX_REJECT_NOTHING_TO_AMEND;
    }
    if (!r && p->qty > o->filled) {
        keep = p->price == cur_price && p->qty - o->filled < o->remaining;
        if (!keep) {
            if (!lx__amounts_fit(m, p->price, p->qty))
                r = LX_REJECT_OVERFLOW;
            else if (e->cfg.clearing) {
                /* a new arrival: it locks at today's reserve rate */
                res = fee_reserve(m, o->side);
                int64_t before = lx__lock_amount(m, o->side, cur_price, o->remaining, o->fee_res);
                int64_t after = lx__lock_amount(m, o->side, p->price, p->qty - o->filled, res);
                uint32_t asset = lx__lock_asset(m, o->side);
                if (after - before > free_of(e, o->account, asset))
                    r = LX_REJECT_INSUFFICIENT_FUNDS;
            }
            if (!r && o->tif == LX_TIF_POST_ONLY && would_cross(e, m, o->side, p->price))
                r = LX_REJECT_POST_ONLY_WOULD_CROSS;
        }
    }
    if (r) {
        lx__reject(e, c, r, p->market, p->account, p->by_client_id ? 0 : p->order_id,
                   p->by_client_id ? p->client_id : 0);
        return 0;
    }
    if (p->qty <= o->filled) {
        cancel_resting(e, m, slot, LX_CANCEL_AMEND, true);
        return 0;
    }
    int side = o->side;
    int64_t nr = p->qty - o->filled;
    int64_t before =
        e->cfg.clearing ? lx__lock_amount(m, side, cur_price, o->remaining, o->fee_res) : 0;
    uint32_t l = o->level;
    if (keep) {
        m->last_ts = e->cur_ts;
        e->levels[l].qty -= o->remaining - nr;
        o->remaining = nr;
        emit_amended(e, m, p->market, slot, cur_price, false);
        if (e->cfg.clearing)
            lx__relock(e, m, o, before, lx__lock_amount(m, side, cur_price, nr, o->fee_res));
        emit_level(e, m, p->market, side, cur_price, e->levels[l].qty, e->levels[l].count);
        return 0;
    }
    int rc = lx__book_reserve(e, m, side, p->price);
    if (rc) return rc;
    m->last_ts = e->cur_ts;
    bool gone = lx__book_unlink(e, slot);
    o->remaining = nr;
    o->fee_res = res;
    emit_amended(e, m, p->market, slot, p->price, true);
    if (e->cfg.clearing)
        lx__relock(e, m, o, before, lx__lock_amount(m, side, p->price, nr, o->fee_res));
    emit_level(e, m, p->market, side, cur_price, gone ? 0 : e->levels[l].qty,
               gone ? 0 : e->levels[l].count);
    match_end_t end = match(e, m, p->market, slot, p->price);
    finish_taker(e, m, p->market, slot, p->price, end, 0, false);
    return 0;
}

void lx__cancel_account(lx_engine_t *e, uint32_t account, uint32_t market, lx_cancel_reason_t why) {
    lx__account_t *a = &e->accounts[account];
    uint32_t cur = a->norders ? a->head : LX__NIL;
    while (cur != LX__NIL) {
        uint32_t next = e->orders[cur].acct_next;
        uint32_t m = e->levels[e->orders[cur].level].market;
        if (market == LX_MARKET_ALL || m == market)
            cancel_resting(e, &e->markets[m], cur, why, true);
        cur = next;
    }
}

int lx__cancel_all(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_cancel_all_t *p = &c->u.cancel_all;
    lx_reject_t r = LX_REJECT_NONE;
    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (p->market != LX_MARKET_ALL && !market_get(e, p->market))
        r = LX_REJECT_UNKNOWN_MARKET;
    else if (p->reason > LX_CANCEL_ALL_DISCONNECT)
        r = LX_REJECT_BAD_COMMAND;
    if (r) {
        lx__reject(e, c, r, p->market, p->account, 0, 0);
        return 0;
    }
    lx__cancel_account(e, p->account, p->market,
                       p->reason == LX_CANCEL_ALL_DISCONNECT ? LX_CANCEL_DISCONNECT
                                                             : LX_CANCEL_CANCEL_ALL);
    return 0;
}

/* ---- GTD expiry --------------------------------------------------------- */

int lx__expire_due(lx_engine_t *e) {
    /* the heap holds only resting orders; canceling one takes it out */
    while (e->ngtd > 0 && e->gtd[0].expiry <= e->cur_ts) {
        uint32_t slot = e->gtd[0].slot;
        uint32_t market = e->levels[e->orders[slot].level].market;
        cancel_resting(e, &e->markets[market], slot, LX_CANCEL_EXPIRED, true);
    }
    return 0;
}
