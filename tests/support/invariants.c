/*
 * invariants.c: what must hold of an engine after every command, and how
 * to tell whether it agrees with the reference model.
 *
 * Two kinds of check, at two prices. The cheap ones (inv_check_uncrossed,
 * inv_compare_cheap) touch each market's best prices and the balances one
 * command names: a few dozen read calls, fine after every command of a run
 * of millions. The full ones (inv_check_engine, inv_compare_state) walk
 * everything the read API exposes: every book side order by order, every
 * level, every account's open orders, every balance record and asset. They
 * cost a walk over the whole state and run every K commands (the caller
 * picks K) and at the end of a run.
 *
 * Everything here goes through the public read API (include/lx/engine.h);
 * nothing looks inside the engine. The engine does not expose arrival
 * times, so FIFO within a level is checked by comparing each book side,
 * order by order, with the reference model's, which keeps arrival counters.
 * Order of balance records is not compared: "creation order" is
 * well defined, but when one fill creates two records the documents do
 * not say which is first, so balances are compared as sets, both ways.
 *
 * The event helpers (a recording sink, field-by-field equality, one-line
 * printers for commands and events) live here too, because the
 * differential test and the fuzz driver both need them and the printers
 * must not depend on the text module being there.
 */
#include "invariants.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lx/error.h"

typedef __int128 i128;

/* ---- messages ----------------------------------------------------------- */

static int fail(char *msg, size_t len, const char *fmt, ...) {
    if (msg && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- event recorder ------------------------------------------------------- */

static void rec_emit(void *ctx, const lx_event_t *ev) {
    inv_events_t *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        lx_event_t *v = realloc(r->v, cap * sizeof *v);
        if (!v) abort();
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = *ev;
}

lx_sink_t inv_events_sink(inv_events_t *ev) {
    lx_sink_t s = {rec_emit, ev};
    return s;
}

void inv_events_clear(inv_events_t *ev) {
    ev->n = 0;
}

void inv_events_free(inv_events_t *ev) {
    free(ev->v);
    ev->v = NULL;
    ev->n = ev->cap = 0;
}

/* ---- equality ------------------------------------------------------------- */

bool inv_event_equal(const lx_event_t *a, const lx_event_t *b) {
    if (a->type != b->type || a->market != b->market || a->market_seq != b->market_seq ||
        a->seq != b->seq || a->ts != b->ts)
        return false;
#define F(f) (x->f == y->f)
    switch (a->type) {
    case LX_EV_ASSET_CREATED: {
        const lx_ev_asset_t *x = &a->u.asset, *y = &b->u.asset;
        return F(asset) && F(scale) && memcmp(x->symbol, y->symbol, sizeof x->symbol) == 0;
    }
    case LX_EV_MARKET_CREATED: {
        const lx_ev_market_t *x = &a->u.market, *y = &b->u.market;
        return F(base) && F(quote) && F(mode) && F(tick_size) && F(lot_size) && F(min_price) &&
               F(max_price) && F(max_qty) && F(maker_fee) && F(taker_fee);
    }
    case LX_EV_MARKET_STATE:
        return a->u.market_state.halted == b->u.market_state.halted;
    case LX_EV_FEES_SET:
        return a->u.fees.maker_fee == b->u.fees.maker_fee &&
               a->u.fees.taker_fee == b->u.fees.taker_fee;
    case LX_EV_DEPOSIT:
    case LX_EV_WITHDRAWAL:
    case LX_EV_TRANSFER: {
        const lx_ev_funds_t *x = &a->u.funds, *y = &b->u.funds;
        return F(account) && F(to) && F(asset) && F(amount) && F(deposit_id);
    }
    case LX_EV_REJECTED: {
        const lx_ev_rejected_t *x = &a->u.rejected, *y = &b->u.rejected;
        return F(cmd_type) && F(reason) && F(account) && F(order_id) && F(client_id);
    }
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *x = &a->u.accepted, *y = &b->u.accepted;
        return F(order_id) && F(account) && F(side) && F(type) && F(tif) && F(stp) && F(price) &&
               F(qty) && F(client_id) && F(expiry);
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *x = &a->u.trade, *y = &b->u.trade;
        return F(maker_order) && F(taker_order) && F(maker_account) && F(taker_account) &&
               F(taker_side) && F(price) && F(qty) && F(maker_remaining) && F(taker_remaining) &&
               F(maker_fee) && F(taker_fee);
    }
    case LX_EV_ORDER_CANCELED: {
        const lx_ev_canceled_t *x = &a->u.canceled, *y = &b->u.canceled;
        return F(order_id) && F(account) && F(client_id) && F(reason) && F(qty);
    }
    case LX_EV_ORDER_AMENDED: {
        const lx_ev_amended_t *x = &a->u.amended, *y = &b->u.amended;
        return F(order_id) && F(account) && F(client_id) && F(price) && F(qty) && F(remaining) &&
               F(priority_lost);
    }
    case LX_EV_BOOK_LEVEL: {
        const lx_ev_level_t *x = &a->u.level, *y = &b->u.level;
        return F(side) && F(price) && F(qty) && F(count);
    }
    case LX_EV_BALANCE: {
        const lx_ev_balance_t *x = &a->u.balance, *y = &b->u.balance;
        return F(account) && F(asset) && F(free) && F(locked);
    }
    case LX_EV_DEADMAN: {
        const lx_ev_deadman_t *x = &a->u.deadman, *y = &b->u.deadman;
        return F(account) && F(deadline) && F(state);
    }
    case LX_EV_KEY_BOUND:
    case LX_EV_AGENT_APPROVED:
    case LX_EV_AGENT_REVOKED: {
        const lx_ev_key_t *x = &a->u.key, *y = &b->u.key;
        return F(account) && F(expiry) && memcmp(x->key, y->key, sizeof x->key) == 0 &&
               memcmp(x->name, y->name, sizeof x->name) == 0;
    }
    }
#undef F
    return true; /* unknown type: the header fields were all there was */
}

long inv_events_first_diff(const inv_events_t *got, const inv_events_t *want) {
    size_t n = got->n < want->n ? got->n : want->n;
    for (size_t i = 0; i < n; i++)
        if (!inv_event_equal(&got->v[i], &want->v[i])) return (long)i;
    return got->n == want->n ? -1 : (long)n;
}

/* ---- printing ------------------------------------------------------------- */

static const char *side_name(int s) {
    return s == 0 ? "BUY" : s == 1 ? "SELL" : "?";
}
static const char *type_name(int t) {
    return t == 0 ? "LIMIT" : t == 1 ? "MARKET" : "?";
}
static const char *tif_name(int t) {
    static const char *n[] = {"GTC", "GTD", "IOC", "FOK", "POST_ONLY"};
    return t >= 0 && t < 5 ? n[t] : "?";
}
static const char *stp_name(int t) {
    static const char *n[] = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"};
    return t >= 0 && t < 5 ? n[t] : "?";
}

/* Prints a (possibly unterminated) 16-byte symbol with escapes. */
static void sym(char out[70], const char s[16]) {
    size_t k = 0;
    for (int i = 0; i < 16 && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x21 && c <= 0x7e && c != '\\')
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, 5, "\\x%02x", c);
    }
    out[k] = 0;
}

#define ID(x) ((unsigned long long)(x) >> 32), ((unsigned long long)(x)&0xffffffffu)

int inv_event_format(const lx_event_t *ev, char *buf, size_t cap) {
    char s[70];
    int k = snprintf(
        buf, cap, "%s(%d) market=%ld mseq=%llu seq=%llu ts=%lld", lx_event_type_name(ev->type),
        (int)ev->type, ev->market == LX_MARKET_NONE ? -1L : (long)ev->market,
        (unsigned long long)ev->market_seq, (unsigned long long)ev->seq, (long long)ev->ts);
    if (k < 0 || (size_t)k >= cap) return k;
    char *p = buf + k;
    size_t left = cap - (size_t)k;
    int m = 0;
    switch (ev->type) {
    case LX_EV_ASSET_CREATED:
        sym(s, ev->u.asset.symbol);
        m = snprintf(p, left, " asset=%u scale=%lld symbol=%s", ev->u.asset.asset,
                     (long long)ev->u.asset.scale, s);
        break;
    case LX_EV_MARKET_CREATED: {
        const lx_ev_market_t *x = &ev->u.market;
        m = snprintf(p, left,
                     " base=%u quote=%u mode=%u tick=%lld lot=%lld band=[%lld,%lld] max_qty=%lld "
                     "maker_fee=%d taker_fee=%d",
                     x->base, x->quote, x->mode, (long long)x->tick_size, (long long)x->lot_size,
                     (long long)x->min_price, (long long)x->max_price, (long long)x->max_qty,
                     x->maker_fee, x->taker_fee);
        break;
    }
    case LX_EV_MARKET_STATE:
        m = snprintf(p, left, " halted=%u", ev->u.market_state.halted);
        break;
    case LX_EV_FEES_SET:
        m = snprintf(p, left, " maker_fee=%d taker_fee=%d", ev->u.fees.maker_fee,
                     ev->u.fees.taker_fee);
        break;
    case LX_EV_DEPOSIT:
    case LX_EV_WITHDRAWAL:
    case LX_EV_TRANSFER: {
        const lx_ev_funds_t *x = &ev->u.funds;
        m = snprintf(p, left, " account=%u to=%ld asset=%u amount=%lld deposit_id=%llu", x->account,
                     x->to == LX_ACCOUNT_NONE ? -1L : (long)x->to, x->asset, (long long)x->amount,
                     (unsigned long long)x->deposit_id);
        break;
    }
    case LX_EV_REJECTED: {
        const lx_ev_rejected_t *x = &ev->u.rejected;
        m = snprintf(p, left, " cmd=%s reason=%s(%u) account=%ld order=%llu:%llu client_id=%llu",
                     lx_cmd_type_name(x->cmd_type), lx_reject_name(x->reason), x->reason,
                     x->account == LX_ACCOUNT_NONE ? -1L : (long)x->account, ID(x->order_id),
                     (unsigned long long)x->client_id);
        break;
    }
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *x = &ev->u.accepted;
        m = snprintf(p, left,
                     " order=%llu:%llu account=%u side=%s type=%s tif=%s stp=%s price=%lld "
                     "qty=%lld client_id=%llu expiry=%lld",
                     ID(x->order_id), x->account, side_name(x->side), type_name(x->type),
                     tif_name(x->tif), stp_name(x->stp), (long long)x->price, (long long)x->qty,
                     (unsigned long long)x->client_id, (long long)x->expiry);
        break;
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *x = &ev->u.trade;
        m = snprintf(p, left,
                     " maker=%llu:%llu/%u taker=%llu:%llu/%u taker_side=%s price=%lld qty=%lld "
                     "maker_rem=%lld taker_rem=%lld maker_fee=%lld taker_fee=%lld",
                     ID(x->maker_order), x->maker_account, ID(x->taker_order), x->taker_account,
                     side_name(x->taker_side), (long long)x->price, (long long)x->qty,
                     (long long)x->maker_remaining, (long long)x->taker_remaining,
                     (long long)x->maker_fee, (long long)x->taker_fee);
        break;
    }
    case LX_EV_ORDER_CANCELED: {
        const lx_ev_canceled_t *x = &ev->u.canceled;
        m = snprintf(p, left, " order=%llu:%llu account=%u client_id=%llu reason=%s qty=%lld",
                     ID(x->order_id), x->account, (unsigned long long)x->client_id,
                     lx_cancel_reason_name(x->reason), (long long)x->qty);
        break;
    }
    case LX_EV_ORDER_AMENDED: {
        const lx_ev_amended_t *x = &ev->u.amended;
        m = snprintf(p, left,
                     " order=%llu:%llu account=%u client_id=%llu price=%lld qty=%lld "
                     "remaining=%lld priority_lost=%u",
                     ID(x->order_id), x->account, (unsigned long long)x->client_id,
                     (long long)x->price, (long long)x->qty, (long long)x->remaining,
                     x->priority_lost);
        break;
    }
    case LX_EV_BOOK_LEVEL:
        m = snprintf(p, left, " side=%s price=%lld qty=%lld count=%u", side_name(ev->u.level.side),
                     (long long)ev->u.level.price, (long long)ev->u.level.qty, ev->u.level.count);
        break;
    case LX_EV_BALANCE:
        m = snprintf(p, left, " account=%u asset=%u free=%lld locked=%lld", ev->u.balance.account,
                     ev->u.balance.asset, (long long)ev->u.balance.free,
                     (long long)ev->u.balance.locked);
        break;
    case LX_EV_DEADMAN:
        m = snprintf(p, left, " account=%u deadline=%lld state=%u", ev->u.deadman.account,
                     (long long)ev->u.deadman.deadline, ev->u.deadman.state);
        break;
    case LX_EV_KEY_BOUND:
    case LX_EV_AGENT_APPROVED:
    case LX_EV_AGENT_REVOKED: {
        char kh[12];
        sym(s, ev->u.key.name);
        snprintf(kh, sizeof kh, "%02x%02x%02x%02x..", ev->u.key.key[0], ev->u.key.key[1],
                 ev->u.key.key[2], ev->u.key.key[3]);
        m = snprintf(p, left, " account=%u key=%s name=%s expiry=%lld", ev->u.key.account, kh, s,
                     (long long)ev->u.key.expiry);
        break;
    }
    }
    return m < 0 ? m : k + m;
}

int inv_cmd_format(const lx_cmd_t *c, char *buf, size_t cap) {
    char s[70];
    int k = snprintf(buf, cap, "%s(%d) seq=%llu ts=%lld", lx_cmd_type_name(c->type), (int)c->type,
                     (unsigned long long)c->seq, (long long)c->ts);
    if (k < 0 || (size_t)k >= cap) return k;
    char *p = buf + k;
    size_t left = cap - (size_t)k;
    int m = 0;
    switch (c->type) {
    case LX_CMD_CREATE_ASSET:
        sym(s, c->u.create_asset.symbol);
        m = snprintf(p, left, " asset=%u scale=%lld symbol=%s", c->u.create_asset.asset,
                     (long long)c->u.create_asset.scale, s);
        break;
    case LX_CMD_CREATE_MARKET: {
        const lx_cmd_create_market_t *x = &c->u.create_market;
        m = snprintf(p, left,
                     " market=%u base=%u quote=%u mode=%u tick=%lld lot=%lld band=[%lld,%lld] "
                     "max_qty=%lld maker_fee=%d taker_fee=%d",
                     x->market, x->base, x->quote, x->mode, (long long)x->tick_size,
                     (long long)x->lot_size, (long long)x->min_price, (long long)x->max_price,
                     (long long)x->max_qty, x->maker_fee, x->taker_fee);
        break;
    }
    case LX_CMD_SET_MARKET_STATE:
        m = snprintf(p, left, " market=%u halted=%u", c->u.set_market_state.market,
                     c->u.set_market_state.halted);
        break;
    case LX_CMD_SET_FEES:
        m = snprintf(p, left, " market=%u maker_fee=%d taker_fee=%d", c->u.set_fees.market,
                     c->u.set_fees.maker_fee, c->u.set_fees.taker_fee);
        break;
    case LX_CMD_DEPOSIT:
        m = snprintf(p, left, " account=%u asset=%u amount=%lld deposit_id=%llu",
                     c->u.deposit.account, c->u.deposit.asset, (long long)c->u.deposit.amount,
                     (unsigned long long)c->u.deposit.deposit_id);
        break;
    case LX_CMD_WITHDRAW:
        m = snprintf(p, left, " account=%u asset=%u amount=%lld", c->u.withdraw.account,
                     c->u.withdraw.asset, (long long)c->u.withdraw.amount);
        break;
    case LX_CMD_TRANSFER:
        m = snprintf(p, left, " from=%u to=%u asset=%u amount=%lld", c->u.transfer.from,
                     c->u.transfer.to, c->u.transfer.asset, (long long)c->u.transfer.amount);
        break;
    case LX_CMD_PLACE: {
        const lx_cmd_place_t *x = &c->u.place;
        m = snprintf(p, left,
                     " account=%u market=%u side=%s(%u) type=%s(%u) tif=%s(%u) stp=%s(%u) "
                     "price=%lld qty=%lld client_id=%llu expiry=%lld",
                     x->account, x->market, side_name(x->side), x->side, type_name(x->type),
                     x->type, tif_name(x->tif), x->tif, stp_name(x->stp), x->stp,
                     (long long)x->price, (long long)x->qty, (unsigned long long)x->client_id,
                     (long long)x->expiry);
        break;
    }
    case LX_CMD_CANCEL: {
        const lx_cmd_cancel_t *x = &c->u.cancel;
        m = snprintf(p, left,
                     " account=%u market=%u by_client_id=%u order=%llu:%llu client_id=%llu",
                     x->account, x->market, x->by_client_id, ID(x->order_id),
                     (unsigned long long)x->client_id);
        break;
    }
    case LX_CMD_AMEND: {
        const lx_cmd_amend_t *x = &c->u.amend;
        m = snprintf(p, left,
                     " account=%u market=%u by_client_id=%u order=%llu:%llu client_id=%llu "
                     "price=%lld qty=%lld",
                     x->account, x->market, x->by_client_id, ID(x->order_id),
                     (unsigned long long)x->client_id, (long long)x->price, (long long)x->qty);
        break;
    }
    case LX_CMD_CANCEL_ALL:
        m = snprintf(p, left, " account=%u market=%ld reason=%u", c->u.cancel_all.account,
                     c->u.cancel_all.market == LX_MARKET_ALL ? -1L : (long)c->u.cancel_all.market,
                     c->u.cancel_all.reason);
        break;
    case LX_CMD_TICK:
        break;
    case LX_CMD_SCHEDULE_CANCEL:
        m = snprintf(p, left, " account=%u deadline=%lld", c->u.schedule_cancel.account,
                     (long long)c->u.schedule_cancel.deadline);
        break;
    case LX_CMD_BIND_KEY:
    case LX_CMD_REVOKE_AGENT:
        m = snprintf(p, left, " account=%u key=%02x%02x%02x%02x..", c->u.bind_key.account,
                     c->u.bind_key.key[0], c->u.bind_key.key[1], c->u.bind_key.key[2],
                     c->u.bind_key.key[3]);
        break;
    case LX_CMD_APPROVE_AGENT:
        sym(s, c->u.approve_agent.name);
        m = snprintf(p, left, " account=%u key=%02x%02x%02x%02x.. name=%s expiry=%lld",
                     c->u.approve_agent.account, c->u.approve_agent.key[0],
                     c->u.approve_agent.key[1], c->u.approve_agent.key[2],
                     c->u.approve_agent.key[3], s, (long long)c->u.approve_agent.expiry);
        break;
    }
    return m < 0 ? m : k + m;
}

void inv_events_print_diff(FILE *f, const inv_events_t *got, const char *got_name,
                           const inv_events_t *want, const char *want_name) {
    char buf[512];
    long d = inv_events_first_diff(got, want);
    size_t n = got->n > want->n ? got->n : want->n;
    fprintf(f, "  %zu events from %s, %zu from %s; first difference at #%ld\n", got->n, got_name,
            want->n, want_name, d);
    for (size_t i = 0; i < n; i++) {
        bool same = i < got->n && i < want->n && inv_event_equal(&got->v[i], &want->v[i]);
        if (same) {
            inv_event_format(&got->v[i], buf, sizeof buf);
            fprintf(f, "   #%-3zu   both  %s\n", i, buf);
            continue;
        }
        const char *mark = (long)i == d ? ">>" : "  ";
        if (i < want->n) {
            inv_event_format(&want->v[i], buf, sizeof buf);
            fprintf(f, "%s #%-3zu %5s  %s\n", mark, i, want_name, buf);
        } else {
            fprintf(f, "%s #%-3zu %5s  (none)\n", mark, i, want_name);
        }
        if (i < got->n) {
            inv_event_format(&got->v[i], buf, sizeof buf);
            fprintf(f, "%s #%-3zu %5s  %s\n", mark, i, got_name, buf);
        } else {
            fprintf(f, "%s #%-3zu %5s  (none)\n", mark, i, got_name);
        }
    }
}

/* ---- invariants of the engine alone ----------------------------------------- */

int inv_check_uncrossed(const lx_engine_t *e, char *msg, size_t len) {
    const lx_engine_config_t *cfg = lx_engine_config(e);
    for (lx_market_id_t m = 0; m < cfg->max_markets; m++) {
        int64_t bid, ask;
        if (lx_engine_best(e, m, LX_SIDE_BUY, &bid, NULL) &&
            lx_engine_best(e, m, LX_SIDE_SELL, &ask, NULL) && bid >= ask)
            return fail(msg, len, "market %u crossed at rest: best bid %lld >= best ask %lld", m,
                        (long long)bid, (long long)ask);
    }
    return 0;
}

static int order_info_cmp_msg(const lx_order_info_t *a, const lx_order_info_t *b, char *msg,
                              size_t len, const char *what) {
#define CK(f)                                                                                      \
    if (a->f != b->f)                                                                              \
        return fail(msg, len, "%s: order %llu:%llu field " #f ": engine %lld, reference %lld",     \
                    what, ID(a->order_id), (long long)a->f, (long long)b->f);
    CK(order_id)
    CK(account)
    CK(market)
    CK(side)
    CK(type)
    CK(tif)
    CK(stp)
    CK(price) CK(qty) CK(remaining) CK(filled) CK(client_id) CK(expiry) CK(locked)
#undef CK
        return 0;
}

/* Growable scratch buffer of order infos. */
typedef struct {
    lx_order_info_t *v;
    size_t cap;
} obuf_t;

static size_t book(const lx_engine_t *e, lx_market_id_t m, int side, obuf_t *b) {
    for (;;) {
        size_t n = lx_engine_book_orders(e, m, (lx_side_t)side, b->v, b->cap);
        if (n <= b->cap) return n;
        free(b->v);
        b->cap = n + 64;
        b->v = malloc(b->cap * sizeof *b->v);
        if (!b->v) abort();
    }
}

static size_t acct_orders(const lx_engine_t *e, lx_account_id_t a, obuf_t *b) {
    for (;;) {
        size_t n = lx_engine_account_orders(e, a, b->v, b->cap);
        if (n <= b->cap) return n;
        free(b->v);
        b->cap = n + 64;
        b->v = malloc(b->cap * sizeof *b->v);
        if (!b->v) abort();
    }
}

/* One book side of one market: order, levels, counts. */
static int check_side(const lx_engine_t *e, const lx_market_info_t *mi, int side, obuf_t *b,
                      lx_level_t *lv, size_t lvcap, size_t *norders, char *msg, size_t len) {
    lx_market_id_t m = mi->market;
    size_t n = book(e, m, side, b);
    *norders = n;
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        const lx_order_info_t *o = &b->v[i];
        if (o->market != m || o->side != side)
            return fail(msg, len, "market %u side %d: order %llu:%llu says market %u side %u", m,
                        side, ID(o->order_id), o->market, o->side);
        if (o->remaining <= 0 || o->filled < 0 || o->qty != o->filled + o->remaining)
            return fail(msg, len,
                        "market %u: order %llu:%llu rests with qty %lld filled %lld remaining "
                        "%lld",
                        m, ID(o->order_id), (long long)o->qty, (long long)o->filled,
                        (long long)o->remaining);
        if (o->type != LX_ORDER_LIMIT ||
            (o->tif != LX_TIF_GTC && o->tif != LX_TIF_GTD && o->tif != LX_TIF_POST_ONLY))
            return fail(msg, len, "market %u: order %llu:%llu rests with type %u tif %u", m,
                        ID(o->order_id), o->type, o->tif);
        if (o->price < mi->min_price || o->price > mi->max_price)
            return fail(msg, len, "market %u: order %llu:%llu rests at %lld outside the band", m,
                        ID(o->order_id), (long long)o->price);
        if (i > 0) {
            int64_t prev = b->v[i - 1].price;
            if (side == LX_SIDE_BUY ? o->price > prev : o->price < prev)
                return fail(msg, len,
                            "market %u side %d: prices out of order at #%zu (%lld after "
                            "%lld)",
                            m, side, i, (long long)o->price, (long long)prev);
        }
        lx_order_info_t one;
        if (lx_engine_order(e, o->order_id, &one) != 0)
            return fail(msg, len, "market %u: lx_engine_order does not find resting %llu:%llu", m,
                        ID(o->order_id));
        if (order_info_cmp_msg(&one, o, msg, len, "lx_engine_order vs book") != 0) return -1;
        if (i == 0 || o->price != b->v[i - 1].price) {
            if (nl == lvcap) return fail(msg, len, "market %u: more than %zu levels", m, lvcap);
            lv[nl].price = o->price;
            lv[nl].qty = 0;
            lv[nl].count = 0;
            nl++;
        }
        lv[nl - 1].qty += o->remaining;
        lv[nl - 1].count++;
    }
    /* the engine's levels against the sums of its orders */
    lx_level_t *el = malloc((nl + 2) * sizeof *el);
    if (!el) abort();
    size_t enl = lx_engine_levels(e, m, (lx_side_t)side, el, nl + 2);
    int rc = 0;
    uint32_t want_levels = side == LX_SIDE_BUY ? mi->bid_levels : mi->ask_levels;
    if (enl != nl)
        rc = fail(msg, len, "market %u side %d: %zu levels, but orders make %zu", m, side, enl, nl);
    else if (want_levels != nl)
        rc = fail(msg, len, "market %u side %d: market info says %u levels, orders make %zu", m,
                  side, want_levels, nl);
    for (size_t i = 0; rc == 0 && i < nl; i++) {
        if (el[i].price != lv[i].price || el[i].qty != lv[i].qty || el[i].count != lv[i].count)
            rc = fail(msg, len,
                      "market %u side %d level #%zu: engine %lld x %lld (%u orders), its orders "
                      "sum to %lld x %lld (%u orders)",
                      m, side, i, (long long)el[i].price, (long long)el[i].qty, el[i].count,
                      (long long)lv[i].price, (long long)lv[i].qty, lv[i].count);
        uint32_t cnt = 0;
        int64_t q = lx_engine_depth_at(e, m, (lx_side_t)side, lv[i].price, &cnt);
        if (rc == 0 && (q != lv[i].qty || cnt != lv[i].count))
            rc = fail(msg, len, "market %u side %d: depth_at(%lld) = %lld x %u, orders %lld x %u",
                      m, side, (long long)lv[i].price, (long long)q, cnt, (long long)lv[i].qty,
                      lv[i].count);
    }
    free(el);
    if (rc) return rc;
    int64_t bp = 0, bq = 0;
    bool has = lx_engine_best(e, m, (lx_side_t)side, &bp, &bq);
    if (has != (nl > 0) || (has && (bp != lv[0].price || bq != lv[0].qty)))
        return fail(msg, len, "market %u side %d: best %s %lld x %lld, first level %lld x %lld", m,
                    side, has ? "is" : "absent", (long long)bp, (long long)bq,
                    nl ? (long long)lv[0].price : 0LL, nl ? (long long)lv[0].qty : 0LL);
    return 0;
}

typedef struct {
    const lx_engine_config_t *cfg;
    i128 *sum;      /* per asset: free + locked */
    int64_t *locks; /* per (account, asset): sum of order locks */
    uint8_t *seen;  /* per (account, asset): has a balance record */
    char *msg;
    size_t len;
    int rc;
} bal_ctx_t;

static void bal_visit(void *ctx, lx_account_id_t a, lx_asset_id_t asset, int64_t free_,
                      int64_t locked) {
    bal_ctx_t *c = ctx;
    if (c->rc) return;
    if (a >= c->cfg->max_accounts || asset >= c->cfg->max_assets) {
        c->rc =
            fail(c->msg, c->len, "balance record for account %u asset %u out of range", a, asset);
        return;
    }
    size_t k = (size_t)a * c->cfg->max_assets + asset;
    if (c->seen[k]) {
        c->rc = fail(c->msg, c->len, "two balance records for account %u asset %u", a, asset);
        return;
    }
    c->seen[k] = 1;
    if (free_ < 0 || locked < 0) {
        c->rc = fail(c->msg, c->len, "negative balance: account %u asset %u free %lld locked %lld",
                     a, asset, (long long)free_, (long long)locked);
        return;
    }
    if (locked != c->locks[k]) {
        c->rc =
            fail(c->msg, c->len, "account %u asset %u: locked %lld, but its open orders lock %lld",
                 a, asset, (long long)locked, (long long)c->locks[k]);
        return;
    }
    c->sum[asset] += (i128)free_ + locked;
}

int inv_check_engine(const lx_engine_t *e, char *msg, size_t len) {
    char vmsg[256] = "";
    if (lx_engine_validate(e, vmsg, sizeof vmsg) != 0)
        return fail(msg, len, "lx_engine_validate: %s", vmsg);
    const lx_engine_config_t *cfg = lx_engine_config(e);
    obuf_t b = {NULL, 0};
    size_t lvcap = cfg->max_orders + 1;
    lx_level_t *lv = malloc(lvcap * sizeof *lv);
    if (!lv) abort();
    int rc = 0;
    size_t total = 0;
    for (lx_market_id_t m = 0; rc == 0 && m < cfg->max_markets; m++) {
        lx_market_info_t mi;
        if (lx_engine_market_info(e, m, &mi) != 0) {
            if (lx_engine_book_orders(e, m, LX_SIDE_BUY, NULL, 0) != 0 ||
                lx_engine_book_orders(e, m, LX_SIDE_SELL, NULL, 0) != 0)
                rc = fail(msg, len, "market %u does not exist but has orders", m);
            continue;
        }
        size_t nb = 0, ns = 0;
        rc = check_side(e, &mi, LX_SIDE_BUY, &b, lv, lvcap, &nb, msg, len);
        if (rc == 0) rc = check_side(e, &mi, LX_SIDE_SELL, &b, lv, lvcap, &ns, msg, len);
        if (rc == 0 && mi.orders != nb + ns)
            rc = fail(msg, len, "market %u: info says %u orders, books hold %zu", m, mi.orders,
                      nb + ns);
        int64_t bid, ask;
        if (rc == 0 && lx_engine_best(e, m, LX_SIDE_BUY, &bid, NULL) &&
            lx_engine_best(e, m, LX_SIDE_SELL, &ask, NULL) && bid >= ask)
            rc = fail(msg, len, "market %u crossed at rest: best bid %lld >= best ask %lld", m,
                      (long long)bid, (long long)ask);
        total += nb + ns;
    }
    free(lv);
    if (rc == 0) {
        lx_engine_stats_t st;
        lx_engine_stats(e, &st);
        if (st.orders != total)
            rc = fail(msg, len, "stats say %u resting orders, books hold %zu", st.orders, total);
        else if (total > cfg->max_orders)
            rc = fail(msg, len, "%zu resting orders, max_orders %u", total, cfg->max_orders);
    }

    /* accounts: open orders and their locks */
    size_t ncell = (size_t)cfg->max_accounts * cfg->max_assets;
    int64_t *locks = rc == 0 ? calloc(ncell ? ncell : 1, sizeof *locks) : NULL;
    uint8_t *seen = rc == 0 ? calloc(ncell ? ncell : 1, 1) : NULL;
    i128 *sum = rc == 0 ? calloc(cfg->max_assets ? cfg->max_assets : 1, sizeof *sum) : NULL;
    if (rc == 0 && (!locks || !seen || !sum)) abort();
    size_t total_acct = 0;
    for (lx_account_id_t a = 0; rc == 0 && a < cfg->max_accounts; a++) {
        size_t n = acct_orders(e, a, &b);
        total_acct += n;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const lx_order_info_t *o = &b.v[i];
            lx_market_info_t mi;
            if (o->account != a)
                rc = fail(msg, len, "account %u lists order %llu:%llu of account %u", a,
                          ID(o->order_id), o->account);
            else if (lx_engine_market_info(e, o->market, &mi) != 0)
                rc = fail(msg, len, "order %llu:%llu in unknown market %u", ID(o->order_id),
                          o->market);
            else if (cfg->clearing ? o->locked <= 0 : o->locked != 0)
                rc = fail(msg, len, "order %llu:%llu locks %lld (clearing %s)", ID(o->order_id),
                          (long long)o->locked, cfg->clearing ? "on" : "off");
            else {
                lx_order_info_t one;
                if (lx_engine_order(e, o->order_id, &one) != 0)
                    rc = fail(msg, len, "account %u lists %llu:%llu, lx_engine_order does not", a,
                              ID(o->order_id));
                else
                    rc = order_info_cmp_msg(&one, o, msg, len, "lx_engine_order vs account");
                lx_asset_id_t asset = o->side == LX_SIDE_BUY ? mi.quote : mi.base;
                if (rc == 0 && asset < cfg->max_assets)
                    locks[(size_t)a * cfg->max_assets + asset] += o->locked;
            }
        }
    }
    if (rc == 0 && total_acct != total)
        rc = fail(msg, len, "accounts list %zu open orders, books hold %zu", total_acct, total);
    free(b.v);

    if (rc == 0) {
        bal_ctx_t c = {cfg, sum, locks, seen, msg, len, 0};
        lx_engine_foreach_balance(e, bal_visit, &c);
        rc = c.rc;
        for (size_t k = 0; rc == 0 && k < ncell; k++)
            if (!seen[k] && locks[k] != 0)
                rc = fail(msg, len, "account %zu asset %zu: orders lock %lld but no balance record",
                          k / cfg->max_assets, k % cfg->max_assets, (long long)locks[k]);
        for (lx_asset_id_t a = 0; rc == 0 && a < cfg->max_assets; a++) {
            lx_asset_info_t ai;
            if (lx_engine_asset_info(e, a, &ai) != 0) {
                if (sum[a] != 0) rc = fail(msg, len, "unknown asset %u holds balances", a);
                continue;
            }
            /* the fees are the fee account's balances (clearing.md) */
            if (sum[a] != ai.supply)
                rc = fail(msg, len, "asset %u: balances %lld != supply %lld (off by %lld)", a,
                          (long long)sum[a], (long long)ai.supply, (long long)(sum[a] - ai.supply));
            else if (ai.fees < 0) /* a rebate never exceeds the taker fee of its fill */
                rc = fail(msg, len, "asset %u: fees collected %lld < 0", a, (long long)ai.fees);
        }
    }
    free(locks);
    free(seen);
    free(sum);
    return rc;
}

/* ---- the engine against the reference ------------------------------------------ */

static int cmp_balance(const lx_engine_t *e, const ref_t *ref, lx_account_id_t a,
                       lx_asset_id_t asset, char *msg, size_t len) {
    int64_t ef = 0, el = 0, rf = 0, rl = 0;
    int erc = lx_engine_balance(e, a, asset, &ef, &el);
    int rrc = ref_balance(ref, a, asset, &rf, &rl);
    if (erc != rrc || ef != rf || el != rl)
        return fail(msg, len,
                    "balance account %u asset %u: engine free %lld locked %lld (rc %d), "
                    "reference free %lld locked %lld (rc %d)",
                    a, asset, (long long)ef, (long long)el, erc, (long long)rf, (long long)rl, rrc);
    if (ef < 0 || el < 0)
        return fail(msg, len, "negative balance: account %u asset %u free %lld locked %lld", a,
                    asset, (long long)ef, (long long)el);
    return 0;
}

static int cmp_market_cheap(const lx_engine_t *e, const ref_t *ref, lx_market_id_t m, char *msg,
                            size_t len) {
    lx_market_info_t ei;
    uint64_t rseq = 0;
    bool rhalted = false;
    int erc = lx_engine_market_info(e, m, &ei);
    int rrc = ref_market_brief(ref, m, &rseq, &rhalted);
    if ((erc == 0) != (rrc == 0))
        return fail(msg, len, "market %u: engine says %s, reference says %s", m,
                    erc == 0 ? "exists" : "absent", rrc == 0 ? "exists" : "absent");
    if (erc != 0) return 0;
    if (ei.market_seq != rseq || ei.halted != rhalted)
        return fail(msg, len, "market %u: engine market_seq %llu halted %u, reference %llu %u", m,
                    (unsigned long long)ei.market_seq, ei.halted, (unsigned long long)rseq,
                    rhalted);
    for (int s = 0; s < 2; s++) {
        int64_t ep = 0, eq = 0, rp = 0, rq = 0;
        bool eh = lx_engine_best(e, m, (lx_side_t)s, &ep, &eq);
        bool rh = ref_best(ref, m, (lx_side_t)s, &rp, &rq);
        if (eh != rh || ep != rp || eq != rq)
            return fail(msg, len,
                        "market %u best %s: engine %s %lld x %lld, reference %s %lld x %lld", m,
                        side_name(s), eh ? "" : "(none)", (long long)ep, (long long)eq,
                        rh ? "" : "(none)", (long long)rp, (long long)rq);
    }
    return 0;
}

int inv_compare_cheap(const lx_engine_t *e, const ref_t *ref, const lx_cmd_t *cmd, char *msg,
                      size_t len) {
    const lx_engine_config_t *cfg = ref_config(ref);
    if (lx_engine_last_seq(e) != ref_last_seq(ref) || lx_engine_last_ts(e) != ref_last_ts(ref))
        return fail(msg, len, "last seq/ts: engine %llu/%lld, reference %llu/%lld",
                    (unsigned long long)lx_engine_last_seq(e), (long long)lx_engine_last_ts(e),
                    (unsigned long long)ref_last_seq(ref), (long long)ref_last_ts(ref));
    for (lx_market_id_t m = 0; m < cfg->max_markets; m++)
        if (cmp_market_cheap(e, ref, m, msg, len) != 0) return -1;
    if (lx_engine_key_count(e) != ref_key_count(ref))
        return fail(msg, len, "keys known: engine %u, reference %zu", lx_engine_key_count(e),
                    ref_key_count(ref));
    if (cmd && cmd->type == LX_CMD_SCHEDULE_CANCEL &&
        lx_engine_deadman(e, cmd->u.schedule_cancel.account) !=
            ref_deadman(ref, cmd->u.schedule_cancel.account))
        return fail(msg, len, "dead man's switch of account %u: engine %lld, reference %lld",
                    cmd->u.schedule_cancel.account,
                    (long long)lx_engine_deadman(e, cmd->u.schedule_cancel.account),
                    (long long)ref_deadman(ref, cmd->u.schedule_cancel.account));
    if (!cfg->clearing || !cmd) return 0;
    lx_account_id_t acc[2] = {LX_ACCOUNT_NONE, LX_ACCOUNT_NONE};
    lx_asset_id_t assets[2] = {LX_ASSET_NONE, LX_ASSET_NONE};
    lx_market_id_t m = LX_MARKET_NONE;
    switch (cmd->type) {
    case LX_CMD_DEPOSIT:
        acc[0] = cmd->u.deposit.account;
        assets[0] = cmd->u.deposit.asset;
        break;
    case LX_CMD_WITHDRAW:
        acc[0] = cmd->u.withdraw.account;
        assets[0] = cmd->u.withdraw.asset;
        break;
    case LX_CMD_TRANSFER:
        acc[0] = cmd->u.transfer.from;
        acc[1] = cmd->u.transfer.to;
        assets[0] = cmd->u.transfer.asset;
        break;
    case LX_CMD_PLACE:
        acc[0] = cmd->u.place.account;
        m = cmd->u.place.market;
        break;
    case LX_CMD_CANCEL:
        acc[0] = cmd->u.cancel.account;
        m = cmd->u.cancel.market;
        break;
    case LX_CMD_AMEND:
        acc[0] = cmd->u.amend.account;
        m = cmd->u.amend.market;
        break;
    case LX_CMD_CANCEL_ALL:
        acc[0] = cmd->u.cancel_all.account;
        m = cmd->u.cancel_all.market;
        break;
    default:
        return 0;
    }
    lx_market_info_t mi; /* the engine's: its base and quote are compared in full elsewhere */
    if (m != LX_MARKET_NONE && lx_engine_market_info(e, m, &mi) == 0) {
        assets[0] = mi.base;
        assets[1] = mi.quote;
    }
    for (int i = 0; i < 2; i++) {
        if (acc[i] >= cfg->max_accounts) continue;
        for (int j = 0; j < 2; j++)
            if (assets[j] < cfg->max_assets &&
                cmp_balance(e, ref, acc[i], assets[j], msg, len) != 0)
                return -1;
    }
    return 0;
}

typedef struct {
    const lx_engine_t *e;
    const ref_t *ref;
    char *msg;
    size_t len;
    int rc;
    size_t n;
} cmpb_ctx_t;

static void cmpb_visit(void *ctx, lx_account_id_t a, lx_asset_id_t asset, int64_t f, int64_t l) {
    cmpb_ctx_t *c = ctx;
    (void)f;
    (void)l;
    c->n++;
    if (c->rc == 0) c->rc = cmp_balance(c->e, c->ref, a, asset, c->msg, c->len);
}

int inv_compare_keys(const lx_engine_t *e, const ref_t *ref, char *msg, size_t len) {
    uint32_t n = lx_engine_key_count(e);
    if (n != ref_key_count(ref))
        return fail(msg, len, "keys known: engine %u, reference %zu", n, ref_key_count(ref));
    for (uint32_t i = 0; i < n; i++) {
        lx_key_info_t x, y, z;
        lx_engine_key_nth(e, i, &x);
        ref_key_nth(ref, i, &y);
        if (memcmp(x.key, y.key, 32) != 0 || x.account != y.account || x.role != y.role ||
            x.nonce != y.nonce || x.nonce_all != y.nonce_all || x.expiry != y.expiry ||
            memcmp(x.name, y.name, 16) != 0)
            return fail(msg, len,
                        "key #%u (%02x%02x..): engine account %u role %u nonce %llu expiry %lld, "
                        "reference %02x%02x.. account %u role %u nonce %llu expiry %lld",
                        i, x.key[0], x.key[1], x.account, x.role, (unsigned long long)x.nonce,
                        (long long)x.expiry, y.key[0], y.key[1], y.account, y.role,
                        (unsigned long long)y.nonce, (long long)y.expiry);
        if (lx_engine_key(e, x.key, &z) != 0 || memcmp(&z, &x, sizeof z) != 0)
            return fail(msg, len, "key #%u: lx_engine_key disagrees with lx_engine_key_nth", i);
        uint8_t owner[32];
        if (x.role == LX_KEY_OWNER &&
            (lx_engine_owner_key(e, x.account, owner) != 0 || memcmp(owner, x.key, 32) != 0))
            return fail(msg, len, "account %u: lx_engine_owner_key is not key #%u", x.account, i);
    }
    const lx_engine_config_t *cfg = ref_config(ref);
    for (lx_account_id_t a = 0; a < cfg->max_accounts; a++)
        for (uint32_t s = 0; s < LX_NONCE_FLOOR_SLOTS; s++) {
            uint64_t f[2], g[2];
            lx_engine_nonce_floor(e, a, s, &f[0], &f[1]);
            ref_nonce_floor(ref, a, s, &g[0], &g[1]);
            if (f[0] != g[0] || f[1] != g[1])
                return fail(msg, len,
                            "account %u slot %u: nonce floors engine %llu/%llu, reference "
                            "%llu/%llu",
                            a, s, (unsigned long long)f[0], (unsigned long long)f[1],
                            (unsigned long long)g[0], (unsigned long long)g[1]);
        }
    return 0;
}

int inv_compare_state(const lx_engine_t *e, const ref_t *ref, char *msg, size_t len) {
    const lx_engine_config_t *cfg = ref_config(ref);
    if (lx_engine_last_seq(e) != ref_last_seq(ref) || lx_engine_last_ts(e) != ref_last_ts(ref))
        return fail(msg, len, "last seq/ts: engine %llu/%lld, reference %llu/%lld",
                    (unsigned long long)lx_engine_last_seq(e), (long long)lx_engine_last_ts(e),
                    (unsigned long long)ref_last_seq(ref), (long long)ref_last_ts(ref));
    obuf_t eb = {NULL, 0}, rb = {NULL, 0};
    rb.cap = cfg->max_orders + 1;
    rb.v = malloc(rb.cap * sizeof *rb.v);
    if (!rb.v) abort();
    int rc = 0;
    size_t total = 0;
    for (lx_market_id_t m = 0; rc == 0 && m < cfg->max_markets; m++) {
        lx_market_info_t ei, ri;
        int erc = lx_engine_market_info(e, m, &ei);
        int rrc = ref_market_info(ref, m, &ri);
        if ((erc == 0) != (rrc == 0)) {
            rc = fail(msg, len, "market %u: engine says %s, reference says %s", m,
                      erc == 0 ? "exists" : "absent", rrc == 0 ? "exists" : "absent");
            break;
        }
        if (erc != 0) continue;
#define CK(f)                                                                                      \
    if (rc == 0 && ei.f != ri.f)                                                                   \
        rc = fail(msg, len, "market %u info " #f ": engine %lld, reference %lld", m,               \
                  (long long)ei.f, (long long)ri.f);
        CK(market)
        CK(base)
        CK(quote)
        CK(mode)
        CK(halted)
        CK(tick_size)
        CK(lot_size)
        CK(tick_value) CK(min_price) CK(max_price) CK(max_qty) CK(maker_fee) CK(taker_fee)
            CK(market_seq) CK(last_ts) CK(last_price) CK(bid_levels) CK(ask_levels) CK(orders)
#undef CK
                for (int s = 0; rc == 0 && s < 2; s++) {
            size_t en = book(e, m, s, &eb);
            size_t rn = ref_book_orders(ref, m, (lx_side_t)s, rb.v, rb.cap);
            total += rn;
            if (en != rn) {
                rc = fail(msg, len, "market %u %s side: engine holds %zu orders, reference %zu", m,
                          side_name(s), en, rn);
                break;
            }
            for (size_t i = 0; rc == 0 && i < en; i++) {
                char what[96];
                snprintf(what, sizeof what, "market %u %s side #%zu (priority order)", m,
                         side_name(s), i);
                if (eb.v[i].order_id != rb.v[i].order_id)
                    rc = fail(msg, len,
                              "%s: engine has %llu:%llu (price %lld), reference %llu:%llu (price "
                              "%lld): FIFO or price order differs",
                              what, ID(eb.v[i].order_id), (long long)eb.v[i].price,
                              ID(rb.v[i].order_id), (long long)rb.v[i].price);
                else
                    rc = order_info_cmp_msg(&eb.v[i], &rb.v[i], msg, len, what);
            }
        }
    }
    /* every account's open orders, oldest first, and its dead man's switch */
    for (lx_account_id_t a = 0; rc == 0 && a < cfg->max_accounts; a++) {
        if (lx_engine_deadman(e, a) != ref_deadman(ref, a)) {
            rc = fail(msg, len, "account %u dead man's switch: engine %lld, reference %lld", a,
                      (long long)lx_engine_deadman(e, a), (long long)ref_deadman(ref, a));
            break;
        }
        size_t en = acct_orders(e, a, &eb);
        size_t rn = ref_account_orders(ref, a, rb.v, rb.cap);
        if (en != rn) {
            rc = fail(msg, len, "account %u: engine lists %zu open orders, reference %zu", a, en,
                      rn);
            break;
        }
        for (size_t i = 0; rc == 0 && i < en; i++) {
            if (eb.v[i].order_id != rb.v[i].order_id)
                rc = fail(msg, len,
                          "account %u open order #%zu (oldest first): engine %llu:%llu, "
                          "reference %llu:%llu",
                          a, i, ID(eb.v[i].order_id), ID(rb.v[i].order_id));
            else
                rc = order_info_cmp_msg(&eb.v[i], &rb.v[i], msg, len, "account orders");
        }
    }
    free(eb.v);
    free(rb.v);
    for (lx_asset_id_t a = 0; rc == 0 && a < cfg->max_assets; a++) {
        lx_asset_info_t ea, ra;
        int erc = lx_engine_asset_info(e, a, &ea);
        int rrc = ref_asset_info(ref, a, &ra);
        if ((erc == 0) != (rrc == 0))
            rc = fail(msg, len, "asset %u: engine says %s, reference says %s", a,
                      erc == 0 ? "exists" : "absent", rrc == 0 ? "exists" : "absent");
        else if (erc == 0 &&
                 (ea.scale != ra.scale || ea.supply != ra.supply || ea.fees != ra.fees ||
                  memcmp(ea.symbol, ra.symbol, sizeof ea.symbol) != 0))
            rc = fail(msg, len,
                      "asset %u: engine scale %lld supply %lld fees %lld, reference scale %lld "
                      "supply %lld fees %lld",
                      a, (long long)ea.scale, (long long)ea.supply, (long long)ea.fees,
                      (long long)ra.scale, (long long)ra.supply, (long long)ra.fees);
    }
    if (rc == 0) {
        cmpb_ctx_t c = {e, ref, msg, len, 0, 0};
        lx_engine_foreach_balance(e, cmpb_visit, &c);
        if (c.rc == 0) ref_foreach_balance(ref, cmpb_visit, &c);
        rc = c.rc;
    }
    if (rc == 0) rc = inv_compare_keys(e, ref, msg, len);
    if (rc == 0) {
        lx_engine_stats_t st;
        lx_engine_stats(e, &st);
        if (st.orders != total)
            rc = fail(msg, len, "engine stats: %u resting orders, reference %zu", st.orders, total);
    }
    return rc;
}
