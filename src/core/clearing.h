/*
 * clearing.h: the per-order half of clearing.c, inline: what an order
 * locks (lx__lock_amount, computed on every place, fill, cancel and amend
 * with clearing on, up to three times a fill), moving a lock (lx__relock)
 * and settling a fill (lx__settle). As calls into clearing.c they cost
 * about 60 instructions a message with clearing. clearing.c explains the
 * rules; the 128-bit paths for products past 64 bits stay there.
 */
#ifndef LX_CLEARING_H
#define LX_CLEARING_H

#include "core.h"

/* What an open order locks for `qty` remaining lots: a sell its base, a
 * buy the notional plus ceil(notional * fee_res / 10^6) of quote. In 64
 * bits when the products fit (checked by the multiply's overflow flag,
 * nearly always), else in 128; the results are the same. */
static inline int64_t lx__lock_amount(const lx__market_t *m, int side, int64_t price, int64_t qty,
                                      uint32_t fee_res) {
    if (side == LX_SIDE_SELL) return qty * m->lot_size;
    int64_t pq, n, nf;
    if (!__builtin_mul_overflow(price, qty, &pq) &&
        !__builtin_mul_overflow(pq, m->tick_value, &n) &&
        !__builtin_mul_overflow(n, (int64_t)fee_res, &nf) && nf <= INT64_MAX - LX_FEE_RATE_ONE)
        return n + (int64_t)(((uint64_t)nf + LX_FEE_RATE_ONE - 1) / LX_FEE_RATE_ONE);
    return lx__lock_amount_wide(m, price, qty, fee_res);
}

/* The asset an order on `side` locks (a buy its quote, a sell its base). */
static inline uint32_t lx__lock_asset(const lx__market_t *m, int side) {
    return side == LX_SIDE_BUY ? m->quote : m->base;
}

/* Moves an order's lock from `from` to `to` (either may be larger) and
 * emits the BALANCE event. The caller has checked that free covers a rise. */
static inline void lx__relock(lx_engine_t *e, const lx__market_t *m, const lx__order_t *o,
                              int64_t from, int64_t to) {
    lx__balance_t *b = lx__bal_get(e, o->account, lx__lock_asset(m, o->side), false);
    LX_ASSERT(b && b->locked >= from && b->free >= to - from);
    b->locked += to - from;
    b->free -= to - from;
    lx__emit_balance(e, b);
}

/* A fee of `rate` (hundredths of a basis point) on a notional: a charge
 * rounds up, a rebate (rate < 0) rounds down in size (docs/clearing.md). */
static inline int64_t lx__fee_for(int64_t notional, int32_t rate) {
    int64_t x;
    if (!__builtin_mul_overflow(notional, rate < 0 ? -(int64_t)rate : rate, &x) &&
        x <= INT64_MAX - LX_FEE_RATE_ONE) {
        if (rate >= 0) return (int64_t)(((uint64_t)x + LX_FEE_RATE_ONE - 1) / LX_FEE_RATE_ONE);
        return -(int64_t)((uint64_t)x / LX_FEE_RATE_ONE);
    }
    return lx__fee_wide(notional, rate);
}

/* Settles a fill of q lots at price px between a resting maker and the
 * taker (taker_price: the taker's limit) before their remaining quantities
 * are reduced; returns the fees through mfee/tfee and the balances it
 * changed in event order (maker base, maker quote, taker base, taker
 * quote, then the fee account's quote record, or NULL when the fill paid
 * no fee). Inline: it runs on every fill with clearing on, from one place. */
static inline void lx__settle(lx_engine_t *e, const lx__market_t *m, const lx__order_t *maker,
                              const lx__order_t *taker, int64_t taker_price, int64_t q, int64_t px,
                              int64_t *mfee, int64_t *tfee, lx__balance_t *touched[5]) {
    int64_t n = px * q * m->tick_value; /* <= 2^62: the maker passed lx__amounts_fit */
    int64_t base_amt = q * m->lot_size;
    const lx__order_t *buy = taker->side == LX_SIDE_BUY ? taker : maker;
    const lx__order_t *sell = taker->side == LX_SIDE_BUY ? maker : taker;
    int32_t buy_rate = buy == taker ? m->taker_fee : m->maker_fee;
    int32_t sell_rate = sell == taker ? m->taker_fee : m->maker_fee;
    int64_t buy_price = buy == taker ? taker_price : px;

    /* buyer: its lock shrinks from L(R) to L(R - q) */
    int64_t lb = lx__lock_amount(m, LX_SIDE_BUY, buy_price, buy->remaining, buy->fee_res);
    int64_t la = lx__lock_amount(m, LX_SIDE_BUY, buy_price, buy->remaining - q, buy->fee_res);
    int64_t room = lb - la - n;
    LX_ASSERT(room >= 0);
    int64_t fee_b = lx__fee_for(n, buy_rate);
    lx__balance_t *bq = lx__bal_get(e, buy->account, m->quote, false);
    /* What the room does not cover (a rounding unit, or a rate raised
     * since the buy arrived) is paid from the buyer's free quote, and
     * waived only where that runs short (docs/clearing.md "Fees"; rules 1:
     * nothing from free) */
    if (fee_b > room) {
        int64_t extra = e->cfg.rules >= LX_RULES_2 ? bq->free : 0;
        if (fee_b - room > extra) fee_b = room + extra;
    }
    int64_t fee_s = lx__fee_for(n, sell_rate);
    /* A maker rebate never exceeds the taker fee charged on the same fill,
     * so the fee account is never paid less than nothing. With a valid
     * schedule this cannot bind (a taker buy's reserve is today's rate, and
     * the room covers floor(n * rate)): kept as a guard. */
    if (buy == maker && fee_b < 0 && -fee_b > fee_s) fee_b = -fee_s;
    if (sell == maker && fee_s < 0 && -fee_s > fee_b) fee_s = -fee_b;

    bq->locked -= lb - la;
    bq->free += room - fee_b;
    lx__balance_t *bb = lx__bal_get(e, buy->account, m->base, false);
    bb->free += base_amt;
    lx__balance_t *sb = lx__bal_get(e, sell->account, m->base, false);
    sb->locked -= base_amt;
    lx__balance_t *sq = lx__bal_get(e, sell->account, m->quote, false);
    sq->free += n - fee_s;
    lx__asset_t *qa = &e->assets[m->quote];
    if (__builtin_add_overflow(qa->fees, fee_b + fee_s, &qa->fees)) qa->fees = INT64_MAX;
    lx__balance_t *fb = NULL;
    if (fee_b + fee_s != 0) { /* never negative: the caps above */
        fb = &e->balances[qa->fee_bal - 1];
        fb->free += fee_b + fee_s;
    }

    *mfee = buy == maker ? fee_b : fee_s;
    *tfee = buy == taker ? fee_b : fee_s;
    /* maker base, maker quote, taker base, taker quote: the event order */
    bool taker_buys = taker->side == LX_SIDE_BUY;
    touched[0] = taker_buys ? sb : bb;
    touched[1] = taker_buys ? sq : bq;
    touched[2] = taker_buys ? bb : sb;
    touched[3] = taker_buys ? bq : sq;
    touched[4] = fb;
}

#endif
