/*
 * test_refmodel.c: the reference model checked by hand.
 *
 * The differential test trusts tests/support/refmodel.c as its oracle; this
 * file is why. Each case is a short command sequence whose events were
 * worked out on paper from docs/matching.md and docs/clearing.md, and the
 * expected numbers are written here with the arithmetic beside them. The
 * engine is not involved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lx/error.h"
#include "refmodel.h"
#include "invariants.h"

/* ---- a tiny driver --------------------------------------------------------- */

typedef struct {
    ref_t *r;
    uint64_t seq;
    int64_t ts;
    inv_events_t ev;
} fx_t;

enum { BTC = 0, USD = 1, ETH = 2 };
#define ID(gen, slot) (((uint64_t)(gen) << 32) | (uint64_t)(slot))

static void apply(fx_t *f, lx_cmd_t *c) {
    c->seq = ++f->seq;
    c->ts = f->ts;
    inv_events_clear(&f->ev);
    lx_sink_t s = inv_events_sink(&f->ev);
    assert_int_equal(ref_apply(f->r, c, &s), 0);
}

static void dump(fx_t *f) {
    char buf[512];
    for (size_t i = 0; i < f->ev.n; i++) {
        inv_event_format(&f->ev.v[i], buf, sizeof buf);
        print_message("   #%zu %s\n", i, buf);
    }
}

static const lx_event_t *ev(fx_t *f, size_t i, lx_event_type_t type) {
    if (i >= f->ev.n || f->ev.v[i].type != type) {
        print_message("wanted %s at #%zu; got:\n", lx_event_type_name(type), i);
        dump(f);
        fail();
    }
    return &f->ev.v[i];
}

static void n_events(fx_t *f, size_t n) {
    if (f->ev.n != n) {
        print_message("wanted %zu events; got:\n", n);
        dump(f);
        fail();
    }
}

static void asset(fx_t *f, lx_asset_id_t a, const char *sym, int64_t scale) {
    lx_cmd_t c = {.type = LX_CMD_CREATE_ASSET};
    c.u.create_asset.asset = a;
    strncpy(c.u.create_asset.symbol, sym, 15);
    c.u.create_asset.scale = scale;
    apply(f, &c);
    ev(f, 0, LX_EV_ASSET_CREATED);
}

/* BTC/USD: tick 0.01 USD (10^4 micro-USD), lot 10^4 satoshi: tick_value 1. */
static void market(fx_t *f, lx_market_id_t m, int32_t maker, int32_t taker) {
    lx_cmd_t c = {.type = LX_CMD_CREATE_MARKET};
    c.u.create_market = (lx_cmd_create_market_t){.market = m,
                                                 .base = BTC,
                                                 .quote = USD,
                                                 .tick_size = 10000,
                                                 .lot_size = 10000,
                                                 .min_price = 1,
                                                 .max_price = 1000000,
                                                 .max_qty = 1000000,
                                                 .maker_fee = maker,
                                                 .taker_fee = taker};
    apply(f, &c);
    ev(f, 0, LX_EV_MARKET_CREATED);
}

static void deposit(fx_t *f, lx_account_id_t a, lx_asset_id_t asset_, int64_t amount) {
    lx_cmd_t c = {.type = LX_CMD_DEPOSIT};
    c.u.deposit.account = a;
    c.u.deposit.asset = asset_;
    c.u.deposit.amount = amount;
    c.u.deposit.deposit_id = f->seq + 1000000;
    apply(f, &c);
    ev(f, 0, LX_EV_DEPOSIT);
}

static void place(fx_t *f, lx_account_id_t a, int side, int tif, int stp, int64_t price,
                  int64_t qty) {
    lx_cmd_t c = {.type = LX_CMD_PLACE};
    c.u.place = (lx_cmd_place_t){.account = a,
                                 .market = 0,
                                 .side = (uint8_t)side,
                                 .type = LX_ORDER_LIMIT,
                                 .tif = (uint8_t)tif,
                                 .stp = (uint8_t)stp,
                                 .price = price,
                                 .qty = qty};
    if (tif == LX_TIF_GTD) c.u.place.expiry = f->ts + 100;
    apply(f, &c);
}

static void cancel(fx_t *f, lx_account_id_t a, lx_order_id_t id) {
    lx_cmd_t c = {.type = LX_CMD_CANCEL};
    c.u.cancel.account = a;
    c.u.cancel.order_id = id;
    apply(f, &c);
}

static void amend(fx_t *f, lx_account_id_t a, lx_order_id_t id, int64_t price, int64_t qty) {
    lx_cmd_t c = {.type = LX_CMD_AMEND};
    c.u.amend = (lx_cmd_amend_t){.account = a, .order_id = id, .price = price, .qty = qty};
    apply(f, &c);
}

static void expect_balance(fx_t *f, size_t i, lx_account_id_t a, lx_asset_id_t as, int64_t fr,
                           int64_t lk) {
    const lx_event_t *e = ev(f, i, LX_EV_BALANCE);
    if (e->u.balance.account != a || e->u.balance.asset != as || e->u.balance.free != fr ||
        e->u.balance.locked != lk) {
        print_message("balance #%zu: wanted %u/%u %lld %lld\n", i, a, as, (long long)fr,
                      (long long)lk);
        dump(f);
        fail();
    }
}

static void expect_level(fx_t *f, size_t i, int side, int64_t price, int64_t qty, uint32_t cnt) {
    const lx_event_t *e = ev(f, i, LX_EV_BOOK_LEVEL);
    if (e->u.level.side != side || e->u.level.price != price || e->u.level.qty != qty ||
        e->u.level.count != cnt) {
        print_message("level #%zu: wanted %d %lld %lld %u\n", i, side, (long long)price,
                      (long long)qty, cnt);
        dump(f);
        fail();
    }
}

static void expect_cancel(fx_t *f, size_t i, lx_order_id_t id, int reason, int64_t qty) {
    const lx_event_t *e = ev(f, i, LX_EV_ORDER_CANCELED);
    assert_int_equal(e->u.canceled.order_id, id);
    assert_int_equal(e->u.canceled.reason, reason);
    assert_int_equal(e->u.canceled.qty, qty);
}

static void expect_reject(fx_t *f, int reason) {
    n_events(f, 1);
    assert_int_equal(ev(f, 0, LX_EV_REJECTED)->u.rejected.reason, reason);
}

static int setup(fx_t *f, bool clearing, uint32_t max_orders, uint32_t per_account, int32_t maker,
                 int32_t taker) {
    memset(f, 0, sizeof *f);
    lx_engine_config_t cfg = {.max_markets = 4,
                              .max_assets = 4,
                              .max_accounts = 16,
                              .max_orders = max_orders,
                              .max_open_orders_per_account = per_account,
                              .clearing = clearing};
    f->r = ref_create(&cfg);
    assert_non_null(f->r);
    f->ts = 1000;
    asset(f, BTC, "BTC", 100000000);
    asset(f, USD, "USD", 1000000);
    market(f, 0, maker, taker);
    return 0;
}

static void teardown(fx_t *f) {
    ref_destroy(f->r);
    inv_events_free(&f->ev);
}

/* ---- cases ------------------------------------------------------------------ */

/* Lowest free slot, generation per slot; market_seq counts market events. */
static void test_ids_and_seq(void **state) {
    (void)state;
    fx_t f;
    setup(&f, false, 8, 0, 0, 0);
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 100, 1);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_ACCEPTED)->u.accepted.order_id, ID(1, 0));
    assert_int_equal(f.ev.v[0].market_seq, 2); /* 1 was MARKET_CREATED */
    expect_level(&f, 1, LX_SIDE_BUY, 100, 1, 1);
    assert_int_equal(f.ev.v[1].market_seq, 3);
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 100, 2);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_ACCEPTED)->u.accepted.order_id, ID(1, 1));
    expect_level(&f, 1, LX_SIDE_BUY, 100, 3, 2);
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 99, 1);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_ACCEPTED)->u.accepted.order_id, ID(1, 2));
    cancel(&f, 1, ID(1, 1));
    n_events(&f, 2);
    expect_cancel(&f, 0, ID(1, 1), LX_CANCEL_USER, 2);
    expect_level(&f, 1, LX_SIDE_BUY, 100, 1, 1);
    /* stale id, then the slot is reused with generation 2 */
    cancel(&f, 1, ID(1, 1));
    expect_reject(&f, LX_REJECT_UNKNOWN_ORDER);
    assert_int_equal(f.ev.v[0].market, 0);
    assert_int_equal(f.ev.v[0].market_seq, 0);
    place(&f, 1, LX_SIDE_SELL, LX_TIF_IOC, 0, 101, 1);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_ACCEPTED)->u.accepted.order_id, ID(2, 1));
    expect_cancel(&f, 1, ID(2, 1), LX_CANCEL_IOC_REMAINDER, 1);
    n_events(&f, 2);
    /* the IOC freed its slot: the next one is generation 3 of slot 1 */
    place(&f, 2, LX_SIDE_SELL, LX_TIF_GTC, 0, 101, 1);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_ACCEPTED)->u.accepted.order_id, ID(3, 1));
    cancel(&f, 1, ID(3, 1));
    expect_reject(&f, LX_REJECT_NOT_OWNER);
    teardown(&f);
}

/* A taker sweeping two levels: one TRADE per order, one BOOK_LEVEL per
 * level as the taker leaves it, then the rest rests. */
static void test_sweep_levels(void **state) {
    (void)state;
    fx_t f;
    setup(&f, false, 16, 0, 0, 0);
    place(&f, 1, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 2); /* A 1:0 */
    place(&f, 2, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 3); /* B 1:1 */
    place(&f, 3, LX_SIDE_SELL, LX_TIF_GTC, 0, 101, 4); /* C 1:2 */
    place(&f, 4, LX_SIDE_BUY, LX_TIF_GTC, 0, 101, 7);  /* D 1:3 */
    n_events(&f, 6);
    ev(&f, 0, LX_EV_ORDER_ACCEPTED);
    const lx_event_t *t = ev(&f, 1, LX_EV_TRADE);
    assert_int_equal(t->u.trade.maker_order, ID(1, 0));
    assert_int_equal(t->u.trade.price, 100);
    assert_int_equal(t->u.trade.qty, 2);
    assert_int_equal(t->u.trade.taker_remaining, 5);
    t = ev(&f, 2, LX_EV_TRADE);
    assert_int_equal(t->u.trade.maker_order, ID(1, 1));
    assert_int_equal(t->u.trade.qty, 3);
    expect_level(&f, 3, LX_SIDE_SELL, 100, 0, 0);
    t = ev(&f, 4, LX_EV_TRADE);
    assert_int_equal(t->u.trade.price, 101);
    assert_int_equal(t->u.trade.qty, 2);
    assert_int_equal(t->u.trade.maker_remaining, 2);
    assert_int_equal(t->u.trade.taker_remaining, 0);
    assert_int_equal(t->u.trade.maker_fee, 0);
    expect_level(&f, 5, LX_SIDE_SELL, 101, 2, 1);
    /* D is filled: nothing rests */
    teardown(&f);
}

/* Settlement and fees, worked by hand (tick_value 1, maker 0.1%, taker 0.2%). */
static void test_settlement(void **state) {
    (void)state;
    fx_t f;
    setup(&f, true, 16, 0, 1000, 2000);
    deposit(&f, 1, USD, 1000000);
    deposit(&f, 2, BTC, 1000000);
    /* sell 10 lots at 100: locks 10 * 10^4 = 100000 BTC units */
    place(&f, 2, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 10);
    n_events(&f, 3);
    expect_balance(&f, 1, 2, BTC, 900000, 100000);
    /* buy 4 at 105: res 2000, N = 420, L = 420 + ceil(0.84) = 421 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 105, 4);
    n_events(&f, 9);
    expect_balance(&f, 1, 1, USD, 999579, 421);
    const lx_event_t *t = ev(&f, 2, LX_EV_TRADE);
    /* n = 400; seller (maker) fee ceil(0.4) = 1; buyer (taker) ceil(0.8) = 1 */
    assert_int_equal(t->u.trade.price, 100);
    assert_int_equal(t->u.trade.maker_fee, 1);
    assert_int_equal(t->u.trade.taker_fee, 1);
    expect_balance(&f, 3, 2, BTC, 900000, 60000);
    expect_balance(&f, 4, 2, USD, 399, 0);
    expect_balance(&f, 5, 1, BTC, 40000, 0);
    expect_balance(&f, 6, 1, USD, 999579 + 421 - 400 - 1, 0);
    expect_balance(&f, 7, 0, USD, 2, 0); /* the fee account's */
    expect_level(&f, 8, LX_SIDE_SELL, 100, 6, 1);
    lx_asset_info_t ai;
    assert_int_equal(ref_asset_info(f.r, USD, &ai), 0);
    assert_int_equal(ai.fees, 2);
    assert_int_equal(ai.supply, 1000000);
    teardown(&f);
}

/* A maker rebate: floor, reported negative. A buy lock with no fee room
 * caps the fee. */
static void test_rebate_and_cap(void **state) {
    (void)state;
    fx_t f;
    setup(&f, true, 16, 0, -100, 200);
    deposit(&f, 1, USD, 100000000);
    deposit(&f, 2, BTC, 100000000);
    /* maker buy 100 at 1000: res 200; N = 100000, L = 100000 + 20 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 1000, 100);
    expect_balance(&f, 1, 1, USD, 100000000 - 100020, 100020);
    place(&f, 2, LX_SIDE_SELL, LX_TIF_IOC, 0, 1000, 100);
    const lx_event_t *t = ev(&f, 2, LX_EV_TRADE);
    /* maker (buyer) rebate floor(100000 * 100 / 10^6) = 10; taker ceil(20) */
    assert_int_equal(t->u.trade.maker_fee, -10);
    assert_int_equal(t->u.trade.taker_fee, 20);
    /* buyer: lock 100020 released, 100000 paid, +10 rebate -> free back 30 */
    expect_balance(&f, 3, 1, BTC, 1000000, 0);
    expect_balance(&f, 4, 1, USD, 100000000 - 100000 + 10, 0);
    expect_balance(&f, 5, 2, BTC, 100000000 - 1000000, 0);
    expect_balance(&f, 6, 2, USD, 100000 - 20, 0);
    lx_asset_info_t ai;
    ref_asset_info(f.r, USD, &ai);
    assert_int_equal(ai.fees, 10);

    /* fees 0 at acceptance (res 0), then raised: the resting buyer's lock
     * has no room, so its fee ceil(1000 * 1000 / 10^6) = 1 comes from its
     * free quote (capped only where that is short: c10, c19); the seller
     * pays the same */
    lx_cmd_t c = {.type = LX_CMD_SET_FEES};
    c.u.set_fees = (lx_cmd_set_fees_t){.market = 0, .maker_fee = 0, .taker_fee = 0};
    apply(&f, &c);
    ev(&f, 0, LX_EV_FEES_SET);
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 100, 10); /* L = 1000 */
    expect_balance(&f, 1, 1, USD, 100000000 - 100000 + 10 - 1000, 1000);
    c.u.set_fees = (lx_cmd_set_fees_t){.market = 0, .maker_fee = 1000, .taker_fee = 1000};
    apply(&f, &c);
    place(&f, 2, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 10);
    t = ev(&f, 2, LX_EV_TRADE);
    assert_int_equal(t->u.trade.maker_fee, 1);
    assert_int_equal(t->u.trade.taker_fee, 1);
    expect_balance(&f, 4, 1, USD, 100000000 - 100000 + 10 - 1000 - 1, 0);
    assert_int_equal(ref_stats(f.r)->fee_capped, 0);
    teardown(&f);
}

/* The four STP modes, event by event (clearing on, fees 0). */
static void test_stp(void **state) {
    (void)state;
    fx_t f;
    setup(&f, true, 16, 0, 0, 0);
    deposit(&f, 1, USD, 1000000);
    deposit(&f, 1, BTC, 1000000);
    deposit(&f, 2, BTC, 1000000);

    /* EXPIRE_TAKER: nothing at the level changed: no BOOK_LEVEL */
    place(&f, 1, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 5); /* A 1:0 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, LX_STP_EXPIRE_TAKER, 100, 3);
    n_events(&f, 4);
    expect_balance(&f, 1, 1, USD, 1000000 - 300, 300);
    expect_cancel(&f, 2, ID(1, 1), LX_CANCEL_STP, 3);
    expect_balance(&f, 3, 1, USD, 1000000, 0);

    /* DECREMENT: maker 5 -> 2 (amended, keeps its place), taker 3 -> 0 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, LX_STP_DECREMENT, 100, 3);
    n_events(&f, 7);
    const lx_event_t *a = ev(&f, 2, LX_EV_ORDER_AMENDED);
    assert_int_equal(a->u.amended.order_id, ID(1, 0));
    assert_int_equal(a->u.amended.qty, 2);
    assert_int_equal(a->u.amended.remaining, 2);
    assert_int_equal(a->u.amended.priority_lost, 0);
    expect_balance(&f, 3, 1, BTC, 1000000 - 20000, 20000);
    expect_cancel(&f, 4, ID(2, 1), LX_CANCEL_STP, 3);
    expect_balance(&f, 5, 1, USD, 1000000, 0);
    expect_level(&f, 6, LX_SIDE_SELL, 100, 2, 1);

    /* EXPIRE_MAKER: A canceled, B (account 2) trades, IOC remainder */
    place(&f, 2, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 2); /* B 3:1 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_IOC, LX_STP_EXPIRE_MAKER, 100, 4);
    n_events(&f, 12);
    expect_cancel(&f, 2, ID(1, 0), LX_CANCEL_STP, 2);
    expect_balance(&f, 3, 1, BTC, 1000000, 0);
    ev(&f, 4, LX_EV_TRADE);
    expect_level(&f, 9, LX_SIDE_SELL, 100, 0, 0);
    /* the IOC took slot 2 (A holds 0, B holds 1) */
    expect_cancel(&f, 10, ID(1, 2), LX_CANCEL_IOC_REMAINDER, 2);
    expect_balance(&f, 11, 1, USD, 1000000 - 200, 0);
    teardown(&f);
}

/* EXPIRE_BOTH and the FOK dry run around self orders. */
static void test_stp_both_and_fok(void **state) {
    (void)state;
    fx_t f;
    setup(&f, false, 16, 0, 0, 0);
    place(&f, 2, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 1); /* 1:0 */
    place(&f, 1, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 5); /* 1:1 */
    place(&f, 3, LX_SIDE_SELL, LX_TIF_GTC, 0, 101, 5); /* 1:2 */
    /* FOK 3 with DECREMENT: the walk stops at the own order: only 1 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_FOK, LX_STP_DECREMENT, 101, 3);
    expect_reject(&f, LX_REJECT_FOK_CANNOT_FILL);
    /* with EXPIRE_MAKER the own order is skipped: 1 + 5 = 6 >= 6 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_FOK, LX_STP_EXPIRE_MAKER, 101, 6);
    ev(&f, 0, LX_EV_ORDER_ACCEPTED);
    ev(&f, 1, LX_EV_TRADE);
    expect_cancel(&f, 2, ID(1, 1), LX_CANCEL_STP, 5);
    expect_level(&f, 3, LX_SIDE_SELL, 100, 0, 0);
    ev(&f, 4, LX_EV_TRADE);
    expect_level(&f, 5, LX_SIDE_SELL, 101, 0, 0);
    n_events(&f, 6);
    /* EXPIRE_BOTH: maker canceled, level reported, then the taker */
    place(&f, 1, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 5); /* 2:0 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, LX_STP_EXPIRE_BOTH, 100, 5);
    n_events(&f, 4);
    expect_cancel(&f, 1, ID(2, 0), LX_CANCEL_STP, 5);
    expect_level(&f, 2, LX_SIDE_SELL, 100, 0, 0);
    expect_cancel(&f, 3, ev(&f, 0, LX_EV_ORDER_ACCEPTED)->u.accepted.order_id, LX_CANCEL_STP, 5);
    /* post-only: own orders count */
    place(&f, 1, LX_SIDE_SELL, LX_TIF_GTC, 0, 100, 5);
    place(&f, 1, LX_SIDE_BUY, LX_TIF_POST_ONLY, 0, 100, 1);
    expect_reject(&f, LX_REJECT_POST_ONLY_WOULD_CROSS);
    place(&f, 1, LX_SIDE_BUY, LX_TIF_POST_ONLY, 0, 99, 1);
    ev(&f, 0, LX_EV_ORDER_ACCEPTED);
    expect_level(&f, 1, LX_SIDE_BUY, 99, 1, 1);
    teardown(&f);
}

/* Amend: keep priority, lose it, cancel at or below filled, cross. */
static void test_amend(void **state) {
    (void)state;
    fx_t f;
    setup(&f, false, 16, 0, 0, 0);
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 100, 5); /* A 1:0 */
    place(&f, 2, LX_SIDE_BUY, LX_TIF_GTC, 0, 100, 5); /* B 1:1 */
    amend(&f, 1, ID(1, 0), 100, 5);
    expect_reject(&f, LX_REJECT_NOTHING_TO_AMEND);
    amend(&f, 1, ID(1, 0), 100, 4); /* keeps its place */
    n_events(&f, 2);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_AMENDED)->u.amended.priority_lost, 0);
    expect_level(&f, 1, LX_SIDE_BUY, 100, 9, 2);
    lx_order_info_t o[4];
    assert_int_equal(ref_book_orders(f.r, 0, LX_SIDE_BUY, o, 4), 2);
    assert_int_equal(o[0].order_id, ID(1, 0));
    amend(&f, 1, ID(1, 0), 100, 6); /* larger: to the tail */
    n_events(&f, 3);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_AMENDED)->u.amended.priority_lost, 1);
    expect_level(&f, 1, LX_SIDE_BUY, 100, 5, 1);
    expect_level(&f, 2, LX_SIDE_BUY, 100, 11, 2);
    ref_book_orders(f.r, 0, LX_SIDE_BUY, o, 4);
    assert_int_equal(o[0].order_id, ID(1, 1));
    /* partial fill of B, then amend B to its filled quantity */
    place(&f, 3, LX_SIDE_SELL, LX_TIF_IOC, 0, 100, 2);
    amend(&f, 2, ID(1, 1), 100, 2);
    n_events(&f, 2);
    expect_cancel(&f, 0, ID(1, 1), LX_CANCEL_AMEND, 3);
    expect_level(&f, 1, LX_SIDE_BUY, 100, 6, 1);
    /* amend across the book: A re-enters at 102 and takes the ask at 101 */
    place(&f, 3, LX_SIDE_SELL, LX_TIF_GTC, 0, 101, 2); /* 2:1 */
    amend(&f, 1, ID(1, 0), 102, 6);
    n_events(&f, 5);
    const lx_event_t *a = ev(&f, 0, LX_EV_ORDER_AMENDED);
    assert_int_equal(a->u.amended.price, 102);
    assert_int_equal(a->u.amended.remaining, 6);
    expect_level(&f, 1, LX_SIDE_BUY, 100, 0, 0);
    const lx_event_t *t = ev(&f, 2, LX_EV_TRADE);
    assert_int_equal(t->u.trade.taker_order, ID(1, 0));
    assert_int_equal(t->u.trade.price, 101);
    assert_int_equal(t->u.trade.taker_remaining, 4);
    expect_level(&f, 3, LX_SIDE_SELL, 101, 0, 0);
    expect_level(&f, 4, LX_SIDE_BUY, 102, 4, 1);
    teardown(&f);
}

/* GTD expiry in (expiry, acceptance) order before the command; cancel-all
 * oldest first; capacity rejections. */
static void test_expiry_cancel_all_capacity(void **state) {
    (void)state;
    fx_t f;
    setup(&f, false, 4, 3, 0, 0);
    lx_cmd_t c = {.type = LX_CMD_PLACE};
    c.u.place = (lx_cmd_place_t){.account = 1,
                                 .side = LX_SIDE_BUY,
                                 .tif = LX_TIF_GTD,
                                 .price = 90,
                                 .qty = 1,
                                 .expiry = 2000};
    apply(&f, &c); /* 1:0 expires at 2000 */
    c.u.place.expiry = 1500;
    c.u.place.price = 91;
    apply(&f, &c); /* 1:1 expires at 1500 */
    c.u.place.expiry = 2000;
    c.u.place.price = 92;
    apply(&f, &c); /* 1:2 expires at 2000, accepted after 1:0 */
    place(&f, 1, LX_SIDE_BUY, LX_TIF_GTC, 0, 80, 1);
    expect_reject(&f, LX_REJECT_TOO_MANY_ORDERS);
    place(&f, 2, LX_SIDE_BUY, LX_TIF_GTC, 0, 80, 1); /* 1:3 */
    place(&f, 3, LX_SIDE_BUY, LX_TIF_GTC, 0, 80, 1);
    expect_reject(&f, LX_REJECT_ENGINE_FULL);
    c.u.place.expiry = f.ts;
    apply(&f, &c);
    /* the rejection happens before capacity: EXPIRED is check 7 */
    expect_reject(&f, LX_REJECT_EXPIRED);
    f.ts = 2000;
    lx_cmd_t tick = {.type = LX_CMD_TICK};
    apply(&f, &tick);
    n_events(&f, 6);
    expect_cancel(&f, 0, ID(1, 1), LX_CANCEL_EXPIRED, 1);
    expect_level(&f, 1, LX_SIDE_BUY, 91, 0, 0);
    expect_cancel(&f, 2, ID(1, 0), LX_CANCEL_EXPIRED, 1);
    expect_cancel(&f, 4, ID(1, 2), LX_CANCEL_EXPIRED, 1);
    place(&f, 2, LX_SIDE_BUY, LX_TIF_GTC, 0, 85, 1);  /* 2:0 */
    place(&f, 2, LX_SIDE_SELL, LX_TIF_GTC, 0, 95, 1); /* 2:1 */
    lx_cmd_t ca = {.type = LX_CMD_CANCEL_ALL};
    ca.u.cancel_all = (lx_cmd_cancel_all_t){.account = 2, .market = LX_MARKET_ALL};
    apply(&f, &ca);
    n_events(&f, 6);
    expect_cancel(&f, 0, ID(1, 3), LX_CANCEL_CANCEL_ALL, 1);
    expect_cancel(&f, 2, ID(2, 0), LX_CANCEL_CANCEL_ALL, 1);
    expect_cancel(&f, 4, ID(2, 1), LX_CANCEL_CANCEL_ALL, 1);
    apply(&f, &ca);
    n_events(&f, 0);
    teardown(&f);
}

/* Check order of Place, and the LX_EINVAL cases. */
static void test_rejects(void **state) {
    (void)state;
    fx_t f;
    setup(&f, true, 4, 0, 0, 0);
    lx_cmd_t c = {.type = LX_CMD_PLACE};
    c.u.place = (lx_cmd_place_t){.account = 99, .market = 7, .side = 9, .price = 0, .qty = 0};
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_UNKNOWN_ACCOUNT);
    assert_int_equal(f.ev.v[0].market, 7);
    c.u.place.account = 1;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_UNKNOWN_MARKET);
    c.u.place.market = 0;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_BAD_SIDE);
    c.u.place.side = 0;
    c.u.place.type = 2;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_BAD_ORDER_TYPE);
    c.u.place.type = LX_ORDER_MARKET;
    c.u.place.tif = 77; /* ignored for a market order */
    c.u.place.stp = 5;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_BAD_STP);
    c.u.place.stp = 0;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_QTY_ZERO);
    c.u.place.qty = 1000001;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_QTY_TOO_LARGE);
    c.u.place.qty = 1;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_PRICE_OUT_OF_BAND);
    c.u.place.price = 1000000;
    apply(&f, &c);
    expect_reject(&f, LX_REJECT_INSUFFICIENT_FUNDS);
    deposit(&f, 1, USD, 1000000);
    apply(&f, &c); /* market buy, nothing to take: MARKET_UNFILLED */
    n_events(&f, 4);
    assert_int_equal(ev(&f, 0, LX_EV_ORDER_ACCEPTED)->u.accepted.tif, LX_TIF_IOC);
    expect_cancel(&f, 2, ID(1, 0), LX_CANCEL_MARKET_UNFILLED, 1);

    /* seq and ts misuse */
    lx_cmd_t t = {.type = LX_CMD_TICK, .seq = f.seq, .ts = f.ts};
    assert_int_equal(ref_apply(f.r, &t, NULL), LX_EINVAL);
    t.seq = f.seq + 1;
    t.ts = f.ts - 1;
    assert_int_equal(ref_apply(f.r, &t, NULL), LX_EINVAL);
    t.ts = f.ts;
    t.type = (lx_cmd_type_t)(LX_CMD__MAX + 1);
    assert_int_equal(ref_apply(f.r, &t, NULL), LX_EINVAL);
    assert_int_equal(ref_last_seq(f.r), f.seq);

    /* funds */
    lx_cmd_t d = {.type = LX_CMD_DEPOSIT};
    d.u.deposit =
        (lx_cmd_deposit_t){.account = 1, .asset = USD, .amount = INT64_MAX, .deposit_id = 5};
    apply(&f, &d);
    expect_reject(&f, LX_REJECT_OVERFLOW);
    d.u.deposit.amount = 1;
    apply(&f, &d);
    ev(&f, 0, LX_EV_DEPOSIT);
    apply(&f, &d);
    expect_reject(&f, LX_REJECT_DUPLICATE_DEPOSIT);
    lx_cmd_t tr = {.type = LX_CMD_TRANSFER};
    tr.u.transfer = (lx_cmd_transfer_t){.from = 1, .to = 1, .asset = USD, .amount = 1};
    apply(&f, &tr);
    expect_reject(&f, LX_REJECT_BAD_COMMAND);
    tr.u.transfer.to = 2;
    tr.u.transfer.amount = 1000002;
    apply(&f, &tr);
    expect_reject(&f, LX_REJECT_INSUFFICIENT_FUNDS);
    tr.u.transfer.amount = 1000001;
    apply(&f, &tr);
    n_events(&f, 3);
    expect_balance(&f, 1, 1, USD, 0, 0);
    expect_balance(&f, 2, 2, USD, 1000001, 0);
    teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_seq), cmocka_unit_test(test_sweep_levels),
        cmocka_unit_test(test_settlement),  cmocka_unit_test(test_rebate_and_cap),
        cmocka_unit_test(test_stp),         cmocka_unit_test(test_stp_both_and_fok),
        cmocka_unit_test(test_amend),       cmocka_unit_test(test_expiry_cancel_all_capacity),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
