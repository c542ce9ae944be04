/*
 * clearing.c: spot clearing inside the engine: what an order locks, how a
 * fill settles, and the funds commands (deposit, withdraw, transfer). The
 * rules, with the reasoning behind the rounding, are in docs/clearing.md.
 *
 * The whole design rests on one function, lx__lock_amount(): an open order
 * locks exactly L(remaining), a pure function of the order's side, limit
 * price, remaining quantity and fee reserve rate. Every change to an order
 * (fill, cancel, decrement, amend) moves the account's locked balance from
 * L(before) to L(after), so "locked = sum of the locks of the open orders"
 * holds by construction and the tests can check it exactly.
 *
 * A buy's lock includes a fee reserve, ceil(N * res / 10^6). A fill of q
 * lots frees L(R) - L(R-q) of which the notional pays the seller; what is
 * left (price improvement, and the reserve for those q lots) pays the fee and
 * the rest goes back to free. Because ceil(a+b) - ceil(a) can be one unit
 * less than ceil(b), and a rate may have risen since the buy locked its
 * reserve, the room can fall short of the fee: the rest is taken from the
 * buyer's free quote, and only what that cannot cover is waived, so the
 * lock is never overdrawn and no balance goes negative.
 *
 * Amounts: the notional of an order is at most 2^62 (checked at placement),
 * and an asset's supply at most INT64_MAX (checked at deposit); products are
 * formed in 64 bits when they fit (the multiply's overflow flag says) and
 * in 128 bits otherwise, with the same results.
 *
 * What runs on every order and fill (lx__lock_amount, lx__relock,
 * lx__settle) is inline, in clearing.h; this file holds the 128-bit paths
 * and the funds commands.
 */
#include "accounts.h"
#include "clearing.h"

/* x >= 0. The 64-bit path lets the compiler divide by multiplication;
 * a 128-bit division is a libgcc call (__divti3, ~6% of a clearing-on
 * profile before this path existed). */
static int64_t ceil_div_1e6(lx__i128 x) {
    if (x <= (lx__i128)(UINT64_MAX - LX_FEE_RATE_ONE))
        return (int64_t)(((uint64_t)x + LX_FEE_RATE_ONE - 1) / LX_FEE_RATE_ONE);
    return (int64_t)((x + LX_FEE_RATE_ONE - 1) / LX_FEE_RATE_ONE);
}

static int64_t floor_div_1e6(lx__i128 x) {
    if (x <= (lx__i128)UINT64_MAX) return (int64_t)((uint64_t)x / LX_FEE_RATE_ONE);
    return (int64_t)(x / LX_FEE_RATE_ONE);
}

/* lx__lock_amount (clearing.h) when a product passes 64 bits. */
int64_t lx__lock_amount_wide(const lx__market_t *m, int64_t price, int64_t qty, uint32_t fee_res) {
    lx__i128 w = (lx__i128)price * qty * m->tick_value;
    return (int64_t)(w + ceil_div_1e6(w * fee_res));
}

/* lx__fee_for (clearing.h) when the product passes 64 bits. */
int64_t lx__fee_wide(int64_t notional, int32_t rate) {
    if (rate >= 0) return ceil_div_1e6((lx__i128)notional * rate);
    return -floor_div_1e6((lx__i128)notional * -rate);
}

/* ---- funds commands ----------------------------------------------------- */

static lx_reject_t check_funds_cmd(const lx_engine_t *e, uint32_t account, uint32_t asset,
                                   int64_t amount) {
    if (account >= e->cfg.max_accounts) return LX_REJECT_UNKNOWN_ACCOUNT;
    if (asset >= e->cfg.max_assets || !e->assets[asset].exists) return LX_REJECT_UNKNOWN_ASSET;
    if (amount <= 0) return LX_REJECT_BAD_AMOUNT;
    return LX_REJECT_NONE;
}

static void emit_funds(lx_engine_t *e, lx_event_type_t type, uint32_t account, uint32_t to,
                       uint32_t asset, int64_t amount, uint64_t deposit_id) {
    lx_event_t ev;
    lx__ev_start(e, &ev, type, LX_MARKET_NONE, false);
    ev.u.funds.account = account;
    ev.u.funds.to = to;
    ev.u.funds.asset = asset;
    ev.u.funds.amount = amount;
    ev.u.funds.deposit_id = deposit_id;
    lx__emit(e, &ev);
}

int lx__deposit(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_deposit_t *p = &c->u.deposit;
    lx_reject_t r = check_funds_cmd(e, p->account, p->asset, p->amount);
    if (!r && lx__deposit_seen(e, p->deposit_id)) r = LX_REJECT_DUPLICATE_DEPOSIT;
    if (!r && e->assets[p->asset].supply > INT64_MAX - p->amount) r = LX_REJECT_OVERFLOW;
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, p->account, 0, 0);
        return 0;
    }
    int rc = lx__deposit_reserve(e);
    if (!rc) rc = lx__bal_reserve(e, 1);
    if (rc) return rc;
    lx__deposit_add(e, p->deposit_id);
    lx__balance_t *b = lx__bal_get(e, p->account, p->asset, true);
    b->free += p->amount;
    e->assets[p->asset].supply += p->amount;
    emit_funds(e, LX_EV_DEPOSIT, p->account, LX_ACCOUNT_NONE, p->asset, p->amount, p->deposit_id);
    lx__emit_balance(e, b);
    return 0;
}

int lx__withdraw(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_withdraw_t *p = &c->u.withdraw;
    lx_reject_t r = check_funds_cmd(e, p->account, p->asset, p->amount);
    lx__balance_t *b = NULL;
    if (!r) {
        b = lx__bal_get(e, p->account, p->asset, false);
        if (!b || b->free < p->amount) r = LX_REJECT_INSUFFICIENT_FUNDS;
    }
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, p->account, 0, 0);
        return 0;
    }
    b->free -= p->amount;
    e->assets[p->asset].supply -= p->amount;
    emit_funds(e, LX_EV_WITHDRAWAL, p->account, LX_ACCOUNT_NONE, p->asset, p->amount, 0);
    lx__emit_balance(e, b);
    return 0;
}

int lx__transfer(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_transfer_t *p = &c->u.transfer;
    lx_reject_t r = LX_REJECT_NONE;
    if (p->from >= e->cfg.max_accounts || p->to >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (p->from == p->to)
        r = LX_REJECT_BAD_COMMAND;
    else
        r = check_funds_cmd(e, p->from, p->asset, p->amount);
    if (!r) {
        const lx__balance_t *fb = lx__bal_find(e, p->from, p->asset);
        if (!fb || fb->free < p->amount) r = LX_REJECT_INSUFFICIENT_FUNDS;
    }
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, p->from, 0, 0);
        return 0;
    }
    int rc = lx__bal_reserve(e, 1);
    if (rc) return rc;
    lx__balance_t *tb = lx__bal_get(e, p->to, p->asset, true); /* may grow: take first */
    lx__balance_t *fb = lx__bal_get(e, p->from, p->asset, false);
    fb->free -= p->amount;
    tb->free += p->amount;
    emit_funds(e, LX_EV_TRANSFER, p->from, p->to, p->asset, p->amount, 0);
    lx__emit_balance(e, fb);
    lx__emit_balance(e, tb);
    return 0;
}
