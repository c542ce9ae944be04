/*
 * clearing.h: the per-order half of clearing.c, inline: what an order
 * locks (lx__lock_amount, computed on every place, fill, cancel and amend
 * with clearing on, up to three times a fill) and moving a lock
 * (lx__relock). As calls into clearing.c they cost about 40 instructions a
 * message with clearing. clearing.c explains the rules.
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

/* Moves an order's lock from `from` to `to` (either may be larger) and
 * emits the BALANCE event. The caller has checked that free covers a rise. */
static inline void lx__relock(lx_engine_t *e, const lx__market_t *m, const lx__order_t *o,
                              int64_t from, int64_t to) {
    lx__balance_t *b =
        lx__bal_get(e, o->account, o->side == LX_SIDE_BUY ? m->quote : m->base, false);
    LX_ASSERT(b && b->locked >= from && b->free >= to - from);
    b->locked += to - from;
    b->free -= to - from;
    lx__emit_balance(e, b);
}

#endif
