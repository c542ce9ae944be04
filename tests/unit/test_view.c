/*
 * test_view.c: the gateway read model (lx/view.h) verified against a real
 * engine: after every one of a few thousand random commands the view's L2
 * book equals lx_engine_levels; snapshot + deltas reproduce a later snapshot
 * (checksum included); gaps are detected; CRC-32 known answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lx/engine.h"
#include "lx/error.h"
#include "lx/view.h"
#include "splitmix.h"

static uint64_t rng_state;
static int64_t rnd_in(int64_t lo, int64_t hi) {
    return splitmix_in(&rng_state, lo, hi);
}

#define MAXD 4096
typedef struct {
    lx_view_t *v;
    lx_view_delta_t d[MAXD];
    size_t nd;
    size_t trades;
} ctx_t;

static void feed(void *p, const lx_event_t *ev) {
    ctx_t *c = p;
    int rc = lx_view_apply(c->v, ev);
    if (rc)
        fprintf(stderr, "type %d market %u mseq %llu last %llu\n", ev->type, ev->market,
                (unsigned long long)ev->market_seq,
                (unsigned long long)lx_view_market_seq(c->v, ev->market));
    assert_int_equal(rc, 0);
    lx_view_delta_t d;
    if (lx_view_delta(ev, &d) && ev->market == 0 && c->nd < MAXD) c->d[c->nd++] = d;
    if (ev->type == LX_EV_TRADE && ev->market == 0) c->trades++;
}

static uint64_t g_seq;
static void apply(lx_engine_t *e, lx_cmd_t *c, ctx_t *x) {
    c->seq = ++g_seq;
    c->ts = (int64_t)g_seq * 1000;
    lx_sink_t sink = {feed, x};
    assert_int_equal(lx_engine_apply(e, c, &sink), 0);
}

static void setup_world(lx_engine_t *e, ctx_t *x) {
    lx_cmd_t c;
    for (uint32_t a = 0; a < 2; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_ASSET;
        c.u.create_asset.asset = a;
        snprintf(c.u.create_asset.symbol, sizeof c.u.create_asset.symbol, a ? "USD" : "BTC");
        c.u.create_asset.scale = a ? 1000000 : 100000000;
        apply(e, &c, x);
    }
    for (uint32_t m = 0; m < 2; m++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_MARKET;
        c.u.create_market = (lx_cmd_create_market_t){.market = m,
                                                     .base = 0,
                                                     .quote = 1,
                                                     .tick_size = 10000,
                                                     .lot_size = 10000,
                                                     .min_price = 1,
                                                     .max_price = 1000000,
                                                     .max_qty = 100000,
                                                     .maker_fee = 0,
                                                     .taker_fee = 0};
        apply(e, &c, x);
    }
    for (uint32_t a = 0; a < 16; a++)
        for (uint32_t as = 0; as < 2; as++) {
            memset(&c, 0, sizeof c);
            c.type = LX_CMD_DEPOSIT;
            c.u.deposit = (lx_cmd_deposit_t){
                .account = a, .asset = as, .amount = 1000000000000LL, .deposit_id = a * 2 + as};
            apply(e, &c, x);
        }
}

static lx_cmd_t random_cmd(void) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    uint32_t acct = (uint32_t)rnd_in(0, 15), market = (uint32_t)rnd_in(0, 1);
    int k = (int)rnd_in(0, 99);
    if (k < 60) {
        c.type = LX_CMD_PLACE;
        c.u.place.account = acct;
        c.u.place.market = market;
        c.u.place.side = (uint8_t)rnd_in(0, 1);
        c.u.place.type = rnd_in(0, 19) == 0 ? LX_ORDER_MARKET : LX_ORDER_LIMIT;
        c.u.place.tif = (uint8_t)rnd_in(0, 4);
        /* every self-trade-prevention mode: decrement and the expiries
         * change resting orders without a trade */
        c.u.place.stp = (uint8_t)rnd_in(0, LX_STP_DECREMENT);
        c.u.place.price = rnd_in(980, 1020);
        c.u.place.qty = rnd_in(1, 50);
        c.u.place.client_id = rnd_in(0, 1) ? (uint64_t)rnd_in(1, 40) : 0;
        c.u.place.expiry = (int64_t)(g_seq + 50) * 1000;
    } else if (k < 80) {
        c.type = LX_CMD_CANCEL;
        c.u.cancel.account = acct;
        c.u.cancel.market = market;
        c.u.cancel.by_client_id = 1;
        c.u.cancel.client_id = (uint64_t)rnd_in(1, 40);
    } else if (k < 95) {
        c.type = LX_CMD_AMEND;
        c.u.amend.account = acct;
        c.u.amend.market = market;
        c.u.amend.by_client_id = 1;
        c.u.amend.client_id = (uint64_t)rnd_in(1, 40);
        c.u.amend.price = rnd_in(980, 1020);
        c.u.amend.qty = rnd_in(1, 60);
    } else if (k < 97) {
        c.type = LX_CMD_CANCEL_ALL;
        c.u.cancel_all.account = acct;
        c.u.cancel_all.market = LX_MARKET_ALL;
    } else {
        c.type = LX_CMD_TICK;
    }
    return c;
}

static void compare(const lx_engine_t *e, const lx_view_t *v) {
    static lx_level_t el[512];
    static lx_view_level_t vl[512];
    for (uint32_t m = 0; m < 2; m++)
        for (uint8_t s = 0; s < 2; s++) {
            size_t ne = lx_engine_levels(e, m, (lx_side_t)s, el, 512);
            size_t nv = lx_view_levels(v, m, s, vl, 512);
            assert_int_equal(ne, nv);
            for (size_t i = 0; i < ne; i++) {
                assert_int_equal(el[i].price, vl[i].price);
                assert_int_equal(el[i].qty, vl[i].qty);
                assert_int_equal(el[i].count, vl[i].count);
            }
        }
}

static int by_id(const void *a, const void *b) {
    const lx_view_order_t *x = a, *y = b;
    return x->order_id < y->order_id ? -1 : x->order_id > y->order_id;
}
static int by_id_e(const void *a, const void *b) {
    const lx_order_info_t *x = a, *y = b;
    return x->order_id < y->order_id ? -1 : x->order_id > y->order_id;
}

static size_t g_max_open;
static void compare_accounts(const lx_engine_t *e, const lx_view_t *v) {
    static lx_order_info_t eo[1024];
    static lx_view_order_t vo[1024];
    for (uint32_t a = 0; a < 16; a++) {
        size_t ne = lx_engine_account_orders(e, a, eo, 1024);
        size_t nv = lx_view_account_orders(v, a, vo, 1024);
        assert_int_equal(ne, nv);
        if (ne > g_max_open) g_max_open = ne;
        /* oldest first: the engine's acceptance order, amends or not */
        for (size_t i = 0; i < ne; i++) assert_int_equal(eo[i].order_id, vo[i].order_id);
        qsort(eo, ne, sizeof *eo, by_id_e);
        if (nv > 1) qsort(vo, nv, sizeof *vo, by_id);
        for (size_t i = 0; i < ne; i++) {
            assert_int_equal(eo[i].order_id, vo[i].order_id);
            assert_int_equal(eo[i].market, vo[i].market);
            assert_int_equal(eo[i].side, vo[i].side);
            assert_int_equal(eo[i].price, vo[i].price);
            assert_int_equal(eo[i].qty, vo[i].qty);
            assert_int_equal(eo[i].remaining, vo[i].remaining);
            assert_int_equal(eo[i].client_id, vo[i].client_id);
            lx_view_order_t one;
            assert_int_equal(lx_view_order(v, eo[i].order_id, &one), 1);
        }
        for (uint32_t as = 0; as < 2; as++) {
            int64_t ef, el, vf, vl;
            assert_int_equal(lx_engine_balance(e, a, as, &ef, &el), 0);
            lx_view_balance(v, a, as, &vf, &vl);
            assert_int_equal(ef, vf);
            assert_int_equal(el, vl);
        }
    }
}

/* A market's orders as the view lists them (time priority) on one side,
 * best price first (a stable sort keeps the time order within a price):
 * the engine's book order. */
static size_t view_book(const lx_view_t *v, lx_market_id_t m, uint8_t side, lx_view_order_t *out,
                        size_t cap) {
    static lx_view_order_t all[1024];
    size_t n = lx_view_market_orders(v, m, all, 1024), k = 0;
    assert_true(n <= 1024);
    for (size_t i = 0; i < n; i++)
        if (all[i].side == side && k < cap) out[k++] = all[i];
    for (size_t i = 1; i < k; i++) /* insertion sort: stable */
        for (size_t j = i; j > 0; j--) {
            int64_t a = out[j - 1].price, b = out[j].price;
            if (side == 0 ? a >= b : a <= b) break;
            lx_view_order_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return k;
}

/* The book's order within each level, and the view a gateway loads at start
 * from the engine's state (node.h STATE: the orders in book order, then
 * named again account by account, oldest first): its account and market
 * lists are the live view's, in the same order. */
static void compare_books_and_load(const lx_engine_t *e, const lx_view_t *v) {
    static lx_order_info_t eo[1024];
    static lx_view_order_t vo[1024], lo[1024];
    lx_view_t *l = lx_view_create(4);
    assert_non_null(l);
    for (lx_market_id_t m = 0; m < 4; m++)
        for (uint8_t s = 0; s < 2; s++) {
            size_t ne = lx_engine_book_orders(e, m, (lx_side_t)s, eo, 1024);
            size_t nv = view_book(v, m, s, vo, 1024);
            assert_int_equal(ne, nv);
            for (size_t i = 0; i < ne; i++) {
                assert_int_equal(eo[i].order_id, vo[i].order_id);
                lx_view_order_t o = {.order_id = eo[i].order_id,
                                     .account = eo[i].account,
                                     .market = eo[i].market,
                                     .side = eo[i].side,
                                     .price = eo[i].price,
                                     .qty = eo[i].qty,
                                     .remaining = eo[i].remaining};
                assert_int_equal(lx_view_load_order(l, &o), 0);
            }
        }
    for (uint32_t a = 0; a < 32; a++) {
        size_t ne = lx_engine_account_orders(e, a, eo, 1024);
        for (size_t i = 0; i < ne; i++) assert_int_equal(lx_view_load_age(l, eo[i].order_id), 0);
    }
    for (uint32_t a = 0; a < 32; a++) {
        size_t nv = lx_view_account_orders(v, a, vo, 1024);
        assert_int_equal(lx_view_account_orders(l, a, lo, 1024), nv);
        for (size_t i = 0; i < nv; i++) assert_int_equal(lo[i].order_id, vo[i].order_id);
    }
    for (lx_market_id_t m = 0; m < 4; m++)
        for (uint8_t s = 0; s < 2; s++) {
            size_t nv = view_book(v, m, s, vo, 1024);
            assert_int_equal(view_book(l, m, s, lo, 1024), nv);
            for (size_t i = 0; i < nv; i++) assert_int_equal(lo[i].order_id, vo[i].order_id);
        }
    assert_int_equal(lx_view_load_age(l, 12345), LX_ENOENT);
    lx_view_destroy(l);
}

/* a plain snapshot copy, with deltas applied naively (linear) */
typedef struct {
    lx_view_level_t s[2][512];
    size_t n[2];
    uint64_t seq;
} snap_t;

static void take(const lx_view_t *v, snap_t *s) {
    for (uint8_t i = 0; i < 2; i++) s->n[i] = lx_view_levels(v, 0, i, s->s[i], 512);
    s->seq = lx_view_market_seq(v, 0);
}

static void naive_apply(snap_t *s, const lx_view_delta_t *d) {
    lx_view_level_t *a = s->s[d->side];
    size_t *n = &s->n[d->side], i = 0;
    while (i < *n && a[i].price != d->price) i++;
    if (i < *n) {
        if (d->qty == 0) {
            memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof *a);
            (*n)--;
        } else {
            a[i].qty = d->qty;
            a[i].count = d->count;
        }
    } else if (d->qty > 0) {
        a[(*n)++] = (lx_view_level_t){d->price, d->qty, d->count};
        for (size_t j = *n - 1; j > 0; j--) { /* insertion sort, best first */
            int worse = d->side == 0 ? a[j - 1].price < a[j].price : a[j - 1].price > a[j].price;
            if (!worse) break;
            lx_view_level_t t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
    }
    s->seq = d->market_seq;
}

static void test_view_vs_engine(void **state) {
    (void)state;
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = 4;
    cfg.max_assets = 4;
    cfg.max_accounts = 32;
    cfg.max_orders = 4096;
    cfg.clearing = true;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    ctx_t *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->v = lx_view_create(4);
    assert_non_null(x->v);
    rng_state = 42;
    g_seq = 0;
    setup_world(e, x);
    snap_t *old = calloc(1, sizeof *old), *now = calloc(1, sizeof *now);
    assert_non_null(old);
    assert_non_null(now);
    take(x->v, old);
    size_t checks = 0;
    for (int i = 0; i < 4000; i++) {
        lx_cmd_t c = random_cmd();
        apply(e, &c, x);
        compare(e, x->v);
        compare_accounts(e, x->v);
        if (i % 100 == 99) compare_books_and_load(e, x->v);
        if (x->nd > 1000 || i == 3999) {
            /* deltas applied to the old snapshot give the current one */
            for (size_t k = 0; k < x->nd; k++) naive_apply(old, &x->d[k]);
            take(x->v, now);
            for (uint8_t s = 0; s < 2; s++) {
                assert_int_equal(old->n[s], now->n[s]);
                for (size_t k = 0; k < now->n[s]; k++) { /* fields: structs have padding */
                    assert_int_equal(old->s[s][k].price, now->s[s][k].price);
                    assert_int_equal(old->s[s][k].qty, now->s[s][k].qty);
                    assert_int_equal(old->s[s][k].count, now->s[s][k].count);
                }
            }
            /* seq: last delta's seq may precede later non-level events */
            assert_true(old->seq <= now->seq);
            assert_int_equal(lx_view_checksum_levels(old->s[0], old->n[0], old->s[1], old->n[1]),
                             lx_view_checksum(x->v, 0));
            *old = *now;
            x->nd = 0;
            checks++;
        }
    }
    assert_true(checks >= 1);
    assert_true(x->trades > 0);
    assert_true(g_max_open > 3);
    /* trades ring: newest first, up to the number seen */
    lx_view_trade_t tr[LX_VIEW_TRADES];
    size_t nt = lx_view_trades(x->v, 0, tr, LX_VIEW_TRADES);
    assert_int_equal(nt, x->trades < LX_VIEW_TRADES ? x->trades : LX_VIEW_TRADES);
    for (size_t i = 1; i < nt; i++) assert_true(tr[i - 1].seq > tr[i].seq);
    free(old);
    free(now);
    lx_view_destroy(x->v);
    free(x);
    lx_engine_destroy(e);
}

/* Balances of a node with shards: one holding per shard, summed. */
static void test_balances_per_shard(void **state) {
    (void)state;
    lx_view_t *v = lx_view_create(2);
    assert_non_null(v);
    lx_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LX_EV_BALANCE;
    ev.market = LX_MARKET_NONE;
    ev.u.balance = (lx_ev_balance_t){7, 1, 100, 5};
    assert_int_equal(lx_view_apply_shard(v, 0, &ev), 0);
    ev.u.balance = (lx_ev_balance_t){7, 1, 40, 2};
    assert_int_equal(lx_view_apply_shard(v, 3, &ev), 0);
    int64_t fr, lk;
    assert_int_equal(lx_view_balance(v, 7, 1, &fr, &lk), 1);
    assert_int_equal(fr, 140);
    assert_int_equal(lk, 7);
    ev.u.balance = (lx_ev_balance_t){7, 1, 10, 0}; /* shard 3's holding replaced */
    assert_int_equal(lx_view_apply_shard(v, 3, &ev), 0);
    assert_int_equal(lx_view_balance(v, 7, 1, &fr, &lk), 1);
    assert_int_equal(fr, 110);
    assert_int_equal(lk, 5);
    assert_int_equal(lx_view_balance(v, 8, 1, &fr, &lk), 0);
    assert_int_equal(fr, 0);
    assert_int_equal(lx_view_apply_shard(v, 5000, &ev), LX_EINVAL);
    lx_view_destroy(v);
}

static void test_gap_and_reset(void **state) {
    (void)state;
    lx_view_t *v = lx_view_create(2);
    assert_non_null(v);
    lx_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LX_EV_BOOK_LEVEL;
    ev.market = 1;
    ev.market_seq = 1;
    ev.u.level = (lx_ev_level_t){.side = 0, .price = 100, .qty = 5, .count = 1};
    assert_int_equal(lx_view_apply(v, &ev), 0);
    ev.market_seq = 3; /* gap */
    assert_int_equal(lx_view_apply(v, &ev), LX_VIEW_GAP);
    ev.market_seq = 1; /* duplicate */
    assert_int_equal(lx_view_apply(v, &ev), LX_VIEW_GAP);
    assert_int_equal(lx_view_market_seq(v, 1), 1);
    ev.market = 2; /* unknown market */
    assert_int_equal(lx_view_apply(v, &ev), LX_EINVAL);
    ev.market = 1;
    ev.market_seq = 2;
    ev.u.level.side = 7;
    assert_int_equal(lx_view_apply(v, &ev), LX_EINVAL);
    lx_view_reset_market(v, 1, 10, 777);
    assert_int_equal(lx_view_market_ts(v, 1), 777);
    lx_view_level_t l;
    assert_int_equal(lx_view_best(v, 1, 0, &l), 0);
    ev.market_seq = 11;
    ev.u.level = (lx_ev_level_t){.side = 1, .price = 101, .qty = 2, .count = 1};
    assert_int_equal(lx_view_apply(v, &ev), 0);
    assert_int_equal(lx_view_best(v, 1, 1, &l), 1);
    assert_int_equal(l.price, 101);
    assert_int_equal(lx_view_apply(NULL, &ev), LX_EINVAL);
    lx_view_destroy(v);
}

static void test_crc(void **state) {
    (void)state;
    assert_int_equal(lx_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(lx_view_checksum_levels(NULL, 0, NULL, 0), 0);
    /* one bid (price 1, qty 2): 16 bytes LE */
    lx_view_level_t b = {1, 2, 1};
    uint8_t raw[16] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(lx_view_checksum_levels(&b, 1, NULL, 0), lx_crc32(0, raw, 16));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_vs_engine),
        cmocka_unit_test(test_gap_and_reset),
        cmocka_unit_test(test_balances_per_shard),
        cmocka_unit_test(test_crc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
