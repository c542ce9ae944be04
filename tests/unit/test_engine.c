/*
 * test_engine.c: unit tests of the engine's contract that the scenario and
 * differential tests do not reach: misuse answered with LX_EINVAL and no
 * effect, the read API against a hand-built book, snapshot save/load (a
 * loaded engine continues with identical events and digest; every
 * truncation and every single-byte corruption of an image is refused), and
 * determinism across processes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lx/engine.h"
#include "lx/error.h"
#include "lx/snapshot.h"
#include "membuf.h"
#include "splitmix.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    lx_event_t *ev;
    size_t n, cap;
    uint64_t hash;
} events_t;

static void collect(void *ctx, const lx_event_t *ev) {
    events_t *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        assert_non_null(s->ev);
    }
    s->ev[s->n++] = *ev;
    const uint8_t *p = (const uint8_t *)ev;
    for (size_t i = 0; i < sizeof *ev; i++) s->hash = (s->hash ^ p[i]) * 0x100000001b3ULL;
}

static uint64_t rng_state;
static int64_t rnd_in(int64_t lo, int64_t hi) {
    return splitmix_in(&rng_state, lo, hi);
}

static lx_engine_t *new_engine(bool clearing, uint32_t max_orders) {
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = 8;
    cfg.max_assets = 8;
    cfg.max_accounts = 64;
    cfg.max_orders = max_orders;
    cfg.clearing = clearing;
    cfg.deadman_min_lead_ns = 1000;
    cfg.max_agents_per_account = 2;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    return e;
}

static uint64_t g_seq;
static int64_t g_ts;

/* Owner key of account a, and agent key j of it. */
static void owner_key(uint8_t k[32], uint32_t a) {
    memset(k, (int)(a + 1), 32);
}
static void agent_key(uint8_t k[32], uint32_t a, uint32_t j) {
    memset(k, (int)(0x80 + a * 4 + j), 32);
}

/* Every seventh PLACE is signed by its account's owner (nonce = seq, so
 * always fresh), so that key records carry nonces; with g_agents_sign,
 * every fifth else by one of its agent keys (refused if that one is not an
 * agent now), so that revoked agents leave nonce floors. */
static bool g_agents_sign;

static void apply_ok(lx_engine_t *e, lx_cmd_t *c, events_t *ev) {
    c->seq = ++g_seq;
    c->ts = g_ts;
    lx_sink_t sink = {collect, ev};
    lx_cmd_auth_t au;
    memset(&au, 0, sizeof au);
    if (c->type == LX_CMD_PLACE && (c->seq % 7 == 0 || (g_agents_sign && c->seq % 5 == 0))) {
        au.scheme = LX_CMD_AUTH_SIGNED;
        if (c->seq % 7 == 0)
            owner_key(au.key, c->u.place.account);
        else
            agent_key(au.key, c->u.place.account, (uint32_t)(c->seq % 3));
        au.nonce = c->seq;
    }
    assert_int_equal(lx_engine_apply_auth(e, c, &au, ev ? &sink : NULL), 0);
}

/* The world's commands: asset a (0 BTC, 1 USD), market m (BTC-USD), a
 * deposit of asset `as` to account a. */
static lx_cmd_t asset_cmd(uint32_t a) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_ASSET;
    c.u.create_asset.asset = a;
    snprintf(c.u.create_asset.symbol, sizeof c.u.create_asset.symbol, a ? "USD" : "BTC");
    c.u.create_asset.scale = a ? 1000000 : 100000000;
    return c;
}

static lx_cmd_t market_cmd(uint32_t m, int32_t maker_fee) {
    lx_cmd_t c;
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
                                                 .maker_fee = maker_fee,
                                                 .taker_fee = 400};
    return c;
}

static lx_cmd_t deposit_cmd(uint32_t a, uint32_t as) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    c.u.deposit = (lx_cmd_deposit_t){
        .account = a, .asset = as, .amount = 1000000000000LL, .deposit_id = a * 2 + as};
    return c;
}

/* Two assets, markets 0 and 1, accounts 0..15 funded. */
static void setup_world(lx_engine_t *e) {
    lx_cmd_t c;
    for (uint32_t a = 0; a < 2; a++) {
        c = asset_cmd(a);
        apply_ok(e, &c, NULL);
    }
    for (uint32_t m = 0; m < 2; m++) {
        c = market_cmd(m, m ? -50 : 100);
        apply_ok(e, &c, NULL);
    }
    for (uint32_t a = 0; a < 16; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_BIND_KEY;
        c.u.bind_key.account = a;
        owner_key(c.u.bind_key.key, a);
        apply_ok(e, &c, NULL);
    }
    for (uint32_t a = 0; a < 16; a++)
        for (uint32_t as = 0; as < 2; as++) {
            c = deposit_cmd(a, as);
            apply_ok(e, &c, NULL);
        }
}

/* A random but valid-ish command: orders of every kind near one price. */
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
        c.u.place.stp = (uint8_t)rnd_in(0, 4);
        c.u.place.price = rnd_in(990, 1010);
        c.u.place.qty = rnd_in(1, 50);
        c.u.place.client_id = rnd_in(0, 1) ? (uint64_t)rnd_in(1, 40) : 0;
        c.u.place.expiry = g_ts + rnd_in(1, 50) * 1000;
    } else if (k < 80) {
        c.type = LX_CMD_CANCEL;
        c.u.cancel.account = acct;
        c.u.cancel.market = market;
        if (rnd_in(0, 1)) {
            c.u.cancel.by_client_id = 1;
            c.u.cancel.client_id = (uint64_t)rnd_in(1, 40);
        } else {
            /* by id: live, stale (an older generation) or never used */
            c.u.cancel.order_id = ((uint64_t)rnd_in(1, 3) << 32) | (uint64_t)rnd_in(0, 80);
        }
    } else if (k < 95) {
        c.type = LX_CMD_AMEND;
        c.u.amend.account = acct;
        c.u.amend.market = market;
        c.u.amend.by_client_id = 1;
        c.u.amend.client_id = (uint64_t)rnd_in(1, 40);
        c.u.amend.price = rnd_in(990, 1010);
        c.u.amend.qty = rnd_in(1, 60);
    } else if (k < 96) {
        c.type = LX_CMD_CANCEL_ALL;
        c.u.cancel_all.account = acct;
        c.u.cancel_all.market = rnd_in(0, 1) ? market : LX_MARKET_ALL;
        c.u.cancel_all.reason = (uint8_t)rnd_in(0, 1);
    } else if (k < 97) { /* dead man's switches: lead 1000 ns, armed, moved, cleared */
        c.type = LX_CMD_SCHEDULE_CANCEL;
        c.u.schedule_cancel.account = acct;
        c.u.schedule_cancel.deadline = rnd_in(0, 4) ? g_ts + rnd_in(1000, 30000) : 0;
    } else if (k < 98) { /* agents: approved (limit 2 of 3 candidates), revoked */
        uint32_t j = (uint32_t)rnd_in(0, 2);
        if (rnd_in(0, 2)) {
            c.type = LX_CMD_APPROVE_AGENT;
            c.u.approve_agent.account = acct;
            agent_key(c.u.approve_agent.key, acct, j);
            c.u.approve_agent.expiry = g_ts + rnd_in(1, 50000);
            memcpy(c.u.approve_agent.name, "bot", 3);
        } else {
            c.type = LX_CMD_REVOKE_AGENT;
            c.u.revoke_agent.account = acct;
            agent_key(c.u.revoke_agent.key, acct, j);
        }
    } else {
        c.type = LX_CMD_TICK;
    }
    return c;
}

/* ---- misuse ------------------------------------------------------------- */

static int count_calls;
static void count_sink(void *ctx, const lx_event_t *ev) {
    (void)ctx;
    (void)ev;
    count_calls++;
}

static void test_misuse(void **state) {
    (void)state;
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    lx_engine_t *e = NULL;
    cfg.max_orders = 0;
    assert_int_equal(lx_engine_create(&e, &cfg), LX_EINVAL);
    assert_null(e);
    assert_int_equal(lx_engine_create(NULL, &cfg), LX_EINVAL);
    /* the newer configuration: negative lead, absurd agent limit; 0 means
     * the default and the engine reports the effective value */
    lx_engine_config_default(&cfg);
    cfg.deadman_min_lead_ns = -1;
    assert_int_equal(lx_engine_create(&e, &cfg), LX_EINVAL);
    cfg.deadman_min_lead_ns = 0;
    cfg.max_agents_per_account = LX_LIMIT_AGENTS + 1;
    assert_int_equal(lx_engine_create(&e, &cfg), LX_EINVAL);
    cfg.max_agents_per_account = 0;
    cfg.max_accounts = 64;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    assert_true(lx_engine_config(e)->deadman_min_lead_ns == LX_DEADMAN_MIN_LEAD_DEFAULT);
    assert_int_equal(lx_engine_config(e)->max_agents_per_account, LX_AGENTS_DEFAULT);
    lx_engine_destroy(e);

    e = new_engine(true, 64);
    lx_sink_t sink = {count_sink, NULL};
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_TICK;
    c.seq = 5;
    c.ts = 100;
    assert_int_equal(lx_engine_apply(e, NULL, &sink), LX_EINVAL);
    assert_int_equal(lx_engine_apply(e, &c, &sink), 0);
    uint64_t d = lx_engine_digest(e);
    count_calls = 0;
    c.seq = 5; /* not increasing */
    assert_int_equal(lx_engine_apply(e, &c, &sink), LX_EINVAL);
    c.seq = 6;
    c.ts = 99; /* time going backwards */
    assert_int_equal(lx_engine_apply(e, &c, &sink), LX_EINVAL);
    c.ts = 100;
    c.type = (lx_cmd_type_t)0;
    assert_int_equal(lx_engine_apply(e, &c, &sink), LX_EINVAL);
    c.type = (lx_cmd_type_t)(LX_CMD__MAX + 1);
    assert_int_equal(lx_engine_apply(e, &c, &sink), LX_EINVAL);
    assert_int_equal(count_calls, 0);
    assert_true(lx_engine_digest(e) == d);
    assert_int_equal(lx_engine_last_seq(e), 5);
    /* a NULL sink is allowed: events are dropped */
    c.type = LX_CMD_TICK;
    assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
    lx_engine_destroy(e);
    lx_engine_destroy(NULL);
}

/* SET_MARKET_STATE takes halted 0 or 1; any other value is BAD_COMMAND
 * (docs/matching.md), 2 included: one REJECTED event, the market as it
 * was. The codec and the text form refuse such a command, so no scenario
 * file can carry it; here it goes to the engine directly. */
static void test_market_state_halted_values(void **state) {
    (void)state;
    lx_engine_t *e = new_engine(false, 16);
    g_seq = 0;
    g_ts = 1;
    lx_cmd_t c;
    for (uint32_t a = 0; a < 2; a++) {
        c = asset_cmd(a);
        apply_ok(e, &c, NULL);
    }
    c = market_cmd(0, 0);
    apply_ok(e, &c, NULL);
    const uint8_t bad[] = {2, 255};
    for (size_t i = 0; i < sizeof bad; i++) {
        events_t ev = {0};
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_SET_MARKET_STATE;
        c.u.set_market_state.market = 0;
        c.u.set_market_state.halted = bad[i];
        apply_ok(e, &c, &ev);
        assert_int_equal(ev.n, 1);
        assert_int_equal(ev.ev[0].type, LX_EV_REJECTED);
        assert_int_equal(ev.ev[0].u.rejected.reason, LX_REJECT_BAD_COMMAND);
        assert_int_equal(ev.ev[0].market_seq, 0);
        free(ev.ev);
        lx_market_info_t mi;
        assert_int_equal(lx_engine_market_info(e, 0, &mi), 0);
        assert_false(mi.halted);
    }
    lx_engine_destroy(e);
}

/* ---- read API ----------------------------------------------------------- */

static lx_order_id_t place(lx_engine_t *e, uint32_t acct, int side, int64_t price, int64_t qty,
                           uint64_t cid) {
    events_t ev = {0};
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.u.place = (lx_cmd_place_t){.account = acct,
                                 .market = 0,
                                 .side = (uint8_t)side,
                                 .price = price,
                                 .qty = qty,
                                 .client_id = cid};
    apply_ok(e, &c, &ev);
    assert_true(ev.n >= 1);
    assert_int_equal(ev.ev[0].type, LX_EV_ORDER_ACCEPTED);
    lx_order_id_t id = ev.ev[0].u.accepted.order_id;
    free(ev.ev);
    return id;
}

/* GTD orders that are placed and canceled all day leave nothing behind:
 * the engine's order memory after 19,997 of them is what it was after 100
 * (the expiry heap once kept every canceled order's entry until its
 * expiry), and the tick at the expiry expires exactly the orders that still
 * rest, in (expiry, accept seq) order. */
static void test_gtd_churn(void **state) {
    (void)state;
    lx_engine_t *e = new_engine(false, 64);
    g_seq = 0;
    g_ts = 1000;
    setup_world(e);
    const int64_t expiry = 1000000000000LL;
    lx_cmd_t c;
    lx_order_id_t keep[3];
    size_t bytes_early = 0;
    rng_state = 7;
    for (int i = 0; i < 20000; i++) {
        events_t ev = {0};
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = (uint32_t)(i % 16),
                                     .market = 0,
                                     .side = LX_SIDE_BUY,
                                     .price = rnd_in(100, 200),
                                     .qty = 1,
                                     .tif = LX_TIF_GTD,
                                     .expiry = expiry - i % 5};
        apply_ok(e, &c, &ev);
        assert_int_equal(ev.ev[0].type, LX_EV_ORDER_ACCEPTED);
        lx_order_id_t id = ev.ev[0].u.accepted.order_id;
        free(ev.ev);
        if (i >= 19997) { /* the last three rest */
            keep[i - 19997] = id;
            continue;
        }
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CANCEL;
        c.u.cancel = (lx_cmd_cancel_t){.account = (uint32_t)(i % 16), .market = 0, .order_id = id};
        apply_ok(e, &c, NULL);
        if (i == 99 || i == 19996) {
            lx_engine_stats_t st;
            lx_engine_stats(e, &st);
            if (i == 99)
                bytes_early = st.bytes_orders;
            else
                assert_int_equal(st.bytes_orders, bytes_early);
        }
    }
    lx_engine_stats_t st;
    lx_engine_stats(e, &st);
    assert_int_equal(st.orders, 3);
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);

    /* the expiries: 19997 % 5 = 2, so keep[0] expires at expiry - 2,
     * keep[1] at expiry - 3, keep[2] at expiry - 4 */
    events_t ev = {0};
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_TICK;
    g_ts = expiry;
    apply_ok(e, &c, &ev);
    lx_order_id_t want[3] = {keep[2], keep[1], keep[0]};
    size_t k = 0;
    for (size_t i = 0; i < ev.n; i++) {
        if (ev.ev[i].type != LX_EV_ORDER_CANCELED) continue;
        assert_true(k < 3);
        assert_int_equal(ev.ev[i].u.canceled.reason, LX_CANCEL_EXPIRED);
        assert_int_equal(ev.ev[i].u.canceled.order_id, want[k]);
        k++;
    }
    assert_int_equal(k, 3);
    free(ev.ev);
    lx_engine_stats(e, &st);
    assert_int_equal(st.orders, 0);
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    lx_engine_destroy(e);
}

/* An engine reserved for fewer than 16 orders (lxdexd reserves
 * engine.max_orders) must still grow its level pool: an emptied level
 * that is not the best stays as a tombstone with its record, so the book
 * can need more level records than orders. The pool grew by a sixteenth
 * of itself, 0 here: every later new level was LX_ENOMEM for ever. */
static void test_small_reserve(void **state) {
    (void)state;
    lx_engine_t *e = new_engine(false, 8);
    assert_int_equal(lx_engine_reserve(e, 8), 0);
    g_seq = 0;
    g_ts = 1000;
    setup_world(e);
    lx_order_id_t ids[8];
    for (int i = 0; i < 8; i++) ids[i] = place(e, 1, LX_SIDE_BUY, 100 + i, 1, 0);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL;
    c.u.cancel = (lx_cmd_cancel_t){.account = 1, .market = 0, .order_id = ids[3]};
    apply_ok(e, &c, NULL);
    for (int i = 0; i < 3; i++) { /* new levels, each after a cancel */
        (void)place(e, 1, LX_SIDE_BUY, 90 - i, 1, 0);
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CANCEL;
        c.u.cancel = (lx_cmd_cancel_t){.account = 1, .market = 0, .order_id = ids[4 + i]};
        apply_ok(e, &c, NULL);
    }
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    lx_engine_destroy(e);
}

static void test_read_api(void **state) {
    (void)state;
    lx_engine_t *e = new_engine(true, 64);
    g_seq = 0;
    g_ts = 1000;
    setup_world(e);
    lx_order_id_t b1 = place(e, 1, LX_SIDE_BUY, 100, 5, 11);
    lx_order_id_t b2 = place(e, 2, LX_SIDE_BUY, 100, 7, 0);
    lx_order_id_t b3 = place(e, 1, LX_SIDE_BUY, 98, 3, 12);
    lx_order_id_t a1 = place(e, 3, LX_SIDE_SELL, 103, 4, 0);
    lx_order_id_t a2 = place(e, 1, LX_SIDE_SELL, 105, 9, 13);

    int64_t px = 0, q = 0;
    assert_true(lx_engine_best(e, 0, LX_SIDE_BUY, &px, &q));
    assert_int_equal(px, 100);
    assert_int_equal(q, 12);
    assert_true(lx_engine_best(e, 0, LX_SIDE_SELL, &px, &q));
    assert_int_equal(px, 103);
    assert_int_equal(q, 4);
    assert_false(lx_engine_best(e, 1, LX_SIDE_SELL, &px, &q)); /* empty market */
    assert_false(lx_engine_best(e, 7, LX_SIDE_SELL, &px, &q)); /* unknown market */

    lx_level_t lv[4];
    assert_int_equal(lx_engine_levels(e, 0, LX_SIDE_BUY, lv, 4), 2);
    assert_int_equal(lv[0].price, 100);
    assert_int_equal(lv[0].qty, 12);
    assert_int_equal(lv[0].count, 2);
    assert_int_equal(lv[1].price, 98);
    assert_int_equal(lx_engine_levels(e, 0, LX_SIDE_SELL, lv, 1), 1);
    assert_int_equal(lv[0].price, 103);
    uint32_t cnt = 0;
    assert_int_equal(lx_engine_depth_at(e, 0, LX_SIDE_SELL, 105, &cnt), 9);
    assert_int_equal(cnt, 1);
    assert_int_equal(lx_engine_depth_at(e, 0, LX_SIDE_SELL, 104, &cnt), 0);
    assert_int_equal(cnt, 0);
    /* prices no level can have (the sell side's key of INT64_MIN would
     * overflow: UBSan) */
    assert_int_equal(lx_engine_depth_at(e, 0, LX_SIDE_SELL, INT64_MIN, &cnt), 0);
    assert_int_equal(lx_engine_depth_at(e, 0, LX_SIDE_BUY, 0, &cnt), 0);
    assert_int_equal(lx_engine_depth_at(e, 0, LX_SIDE_SELL, -5, NULL), 0);

    lx_order_info_t info[8];
    assert_int_equal(lx_engine_order(e, b2, &info[0]), 0);
    assert_int_equal(info[0].account, 2);
    assert_int_equal(info[0].price, 100);
    assert_int_equal(info[0].remaining, 7);
    /* buy 7 @ 100, tick value 1, reserve 400/1e6: 700 + ceil(0.28) = 701 */
    assert_int_equal(info[0].locked, 701);
    assert_int_equal(lx_engine_order(e, b2 + ((uint64_t)1 << 32), &info[0]), LX_ENOENT);
    assert_int_equal(lx_engine_order(e, 0, &info[0]), LX_ENOENT);
    /* by client id: account 1's 13 is a2; 11 of account 2, 0, and an
     * account out of range name nothing */
    assert_int_equal(lx_engine_order_by_client_id(e, 1, 13, &info[0]), 0);
    assert_true(info[0].order_id == a2 && info[0].client_id == 13 && info[0].price == 105);
    assert_int_equal(lx_engine_order_by_client_id(e, 2, 11, &info[0]), LX_ENOENT);
    assert_int_equal(lx_engine_order_by_client_id(e, 2, 0, &info[0]), LX_ENOENT);
    assert_int_equal(lx_engine_order_by_client_id(e, 1u << 30, 11, &info[0]), LX_ENOENT);

    /* priority order: 100 (b1 then b2), then 98 */
    assert_int_equal(lx_engine_book_orders(e, 0, LX_SIDE_BUY, info, 8), 3);
    assert_true(info[0].order_id == b1 && info[1].order_id == b2 && info[2].order_id == b3);
    /* account 1: oldest first */
    assert_int_equal(lx_engine_account_orders(e, 1, info, 8), 3);
    assert_true(info[0].order_id == b1 && info[1].order_id == b3 && info[2].order_id == a2);
    assert_int_equal(lx_engine_account_orders(e, 1, info, 1), 3); /* total even if cap is small */

    int64_t fr = 0, lk = 0;
    assert_int_equal(lx_engine_balance(e, 1, 1, &fr, &lk), 0);
    assert_int_equal(lk, 501 + 295); /* 5@100: 500 + ceil(0.2); 3@98: 294 + ceil(0.1176) */
    (void)a1;
    lx_market_info_t mi;
    assert_int_equal(lx_engine_market_info(e, 0, &mi), 0);
    assert_int_equal(mi.orders, 5);
    assert_int_equal(mi.bid_levels, 2);
    assert_int_equal(mi.tick_value, 1);
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    lx_engine_destroy(e);
}

/* ---- snapshots ---------------------------------------------------------- */

static void assert_same_events(const events_t *a, const events_t *b) {
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) assert_memory_equal(&a->ev[i], &b->ev[i], sizeof a->ev[i]);
}

static void test_snapshot_roundtrip(void **state) {
    (void)state;
    uint64_t armed = 0, signed_keys = 0, agents = 0, revoked = 0;
    g_agents_sign = true;
    for (int clearing = 0; clearing < 2; clearing++) {
        rng_state = 42 + (uint64_t)clearing;
        g_seq = 0;
        g_ts = 1000;
        lx_engine_t *e = new_engine(clearing, 512);
        setup_world(e);
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < 500; i++) {
                g_ts += rnd_in(0, 400);
                lx_cmd_t c = random_cmd();
                apply_ok(e, &c, NULL);
            }
            membuf_t img = {0};
            assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
            lx_engine_t *f = NULL;
            assert_int_equal(lx_engine_load(&f, membuf_read, &img), 0);
            assert_true(lx_engine_digest(f) == lx_engine_digest(e));
            /* dead man's switches and keys came back, field by field */
            for (uint32_t a = 0; a < 64; a++) {
                assert_true(lx_engine_deadman(f, a) == lx_engine_deadman(e, a));
                armed += lx_engine_deadman(e, a) != 0;
            }
            assert_int_equal(lx_engine_key_count(f), lx_engine_key_count(e));
            for (uint32_t k = 0; k < lx_engine_key_count(e); k++) {
                lx_key_info_t x, y;
                lx_engine_key_nth(e, k, &x);
                lx_engine_key_nth(f, k, &y);
                assert_memory_equal(&x, &y, sizeof x);
                signed_keys += x.nonce != 0;
                agents += x.role == LX_KEY_AGENT;
            }
            for (uint32_t a = 0; a < 64; a++) /* rules 3: revoked keys became floors */
                for (uint32_t s = 0; s < LX_NONCE_FLOOR_SLOTS; s++) {
                    uint64_t fx, fy, gx, gy;
                    lx_engine_nonce_floor(e, a, s, &fx, &gx);
                    lx_engine_nonce_floor(f, a, s, &fy, &gy);
                    assert_true(fx == fy && gx == gy);
                    revoked += fx != 0 || gx != 0;
                }
            /* a second save of the loaded engine is byte-identical */
            membuf_t img2 = {0};
            assert_int_equal(lx_engine_save(f, membuf_write, &img2), 0);
            assert_int_equal(img.n, img2.n);
            assert_memory_equal(img.buf, img2.buf, img.n);
            /* both continue identically for a while */
            uint64_t seq0 = g_seq;
            int64_t ts0 = g_ts;
            uint64_t rs = rng_state;
            events_t ea = {0}, eb = {0};
            for (int i = 0; i < 300; i++) {
                g_ts += rnd_in(0, 400);
                lx_cmd_t c = random_cmd();
                apply_ok(e, &c, &ea);
            }
            g_seq = seq0;
            g_ts = ts0;
            rng_state = rs;
            for (int i = 0; i < 300; i++) {
                g_ts += rnd_in(0, 400);
                lx_cmd_t c = random_cmd();
                apply_ok(f, &c, &eb);
            }
            assert_same_events(&ea, &eb);
            assert_true(lx_engine_digest(f) == lx_engine_digest(e));
            free(ea.ev);
            free(eb.ev);
            membuf_free(&img2);
            lx_engine_destroy(f);
            membuf_free(&img);
        }
        lx_engine_destroy(e);
    }
    g_agents_sign = false;
    /* the images held every kind of the newer state */
    assert_true(armed > 0 && signed_keys > 0 && agents > 0 && revoked > 0);
}

static void test_snapshot_corruption(void **state) {
    (void)state;
    rng_state = 7;
    g_seq = 0;
    g_ts = 1000;
    lx_engine_t *e = new_engine(true, 64);
    setup_world(e);
    for (int i = 0; i < 300; i++) {
        g_ts += rnd_in(0, 300);
        lx_cmd_t c = random_cmd();
        apply_ok(e, &c, NULL);
    }
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
    size_t loaded = 0;
    for (size_t len = 0; len < img.n; len++) { /* every truncation */
        membuf_t t = {img.buf, len, len, 0};
        lx_engine_t *f = NULL;
        int rc = lx_engine_load(&f, membuf_read, &t);
        assert_true(rc < 0);
        assert_null(f);
    }
    for (size_t i = 0; i < img.n; i++) { /* every byte, one bit flipped */
        for (int bit = 0; bit < 8; bit += 3) {
            img.buf[i] ^= (uint8_t)(1u << bit);
            img.pos = 0;
            lx_engine_t *f = NULL;
            int rc = lx_engine_load(&f, membuf_read, &img);
            if (rc == 0) {
                loaded++;
                lx_engine_destroy(f);
            }
            assert_true(rc < 0);
            img.buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(loaded, 0);
    img.pos = 0;
    lx_engine_t *f = NULL;
    assert_int_equal(lx_engine_load(&f, membuf_read, &img), 0);
    lx_engine_destroy(f);
    membuf_free(&img);
    lx_engine_destroy(e);
}

/* ---- determinism across processes --------------------------------------- */

static uint64_t run_stream(uint64_t seed, uint64_t *digest) {
    rng_state = seed;
    g_seq = 0;
    g_ts = 1000;
    lx_engine_t *e = new_engine(true, 1024);
    events_t ev = {0};
    ev.hash = 0xcbf29ce484222325ULL;
    setup_world(e);
    for (int i = 0; i < 20000; i++) {
        g_ts += rnd_in(0, 200);
        lx_cmd_t c = random_cmd();
        apply_ok(e, &c, &ev);
        ev.n = 0; /* keep only the running hash */
    }
    *digest = lx_engine_digest(e);
    lx_engine_destroy(e);
    free(ev.ev);
    return ev.hash;
}

static void test_determinism_across_processes(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t d, h = run_stream(99, &d);
        uint64_t out[2] = {h, d};
        ssize_t w = write(fds[1], out, sizeof out);
        _exit(w == (ssize_t)sizeof out ? 0 : 1);
    }
    close(fds[1]);
    uint64_t theirs[2] = {0, 0};
    assert_int_equal(read(fds[0], theirs, sizeof theirs), (ssize_t)sizeof theirs);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    uint64_t d, h = run_stream(99, &d);
    assert_true(h == theirs[0]);
    assert_true(d == theirs[1]);
    uint64_t d2, h2 = run_stream(100, &d2);
    assert_true(h2 != h && d2 != d);
}

/* ---- lx_engine_apply_batch ------------------------------------------- */

/* An engine of 32,800 markets is past the count at which apply_batch
 * fetches ahead (batch.c), so that its prefetching path is what runs; one
 * of 8 markets takes the plain loop (lx__apply_run). */
#define BATCH_MARKETS_PREFETCH 32800
#define BATCH_MARKETS_PLAIN 8

static lx_engine_t *batch_engine(uint32_t markets, lx_cmd_t *setup, size_t nsetup) {
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = markets;
    cfg.max_assets = 8;
    cfg.max_accounts = 64;
    cfg.max_orders = 4096;
    cfg.deadman_min_lead_ns = 1000;
    cfg.max_agents_per_account = 2;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    for (size_t i = 0; i < nsetup; i++) assert_int_equal(lx_engine_apply(e, &setup[i], NULL), 0);
    return e;
}

/* A random auth section for a command of account a (when auth applies):
 * none, the owner's or an agent's key on a session or signed (nonce: the
 * seq, or now and then an old one), or another account's owner key. */
static lx_cmd_auth_t random_auth(const lx_cmd_t *c) {
    lx_cmd_auth_t au;
    memset(&au, 0, sizeof au);
    uint32_t a = lx_cmd_account(c);
    int k = (int)rnd_in(0, 99);
    if (a >= 16 || k < 25) return au;
    au.scheme = k < 55 ? LX_CMD_AUTH_SESSION : LX_CMD_AUTH_SIGNED;
    if (k % 10 == 0)
        agent_key(au.key, a, (uint32_t)rnd_in(0, 2));
    else
        owner_key(au.key, k % 17 == 0 ? (a + 1) % 16 : a);
    au.nonce = k % 13 == 0 ? c->seq / 2 : c->seq;
    return au;
}

/* The same commands applied one by one and in batches of random sizes
 * give the same events, byte for byte, and the same digest; a batch stops
 * at the first command the engine refuses and says how many it applied.
 * With auth: the accounts have owner keys, each command an auth section
 * (random_auth), applied with lx_engine_apply_auth and in batches with
 * lx_engine_apply_batch_auth. */
static void apply_batch_case(uint32_t markets, bool with_auth) {
    rng_state = 77;
    g_seq = 0;
    g_ts = 1000000;
    size_t cap = 2 + markets + 48 + 27000, n = 0; /* setup, then the flow */
    lx_cmd_t *cmds = calloc(cap, sizeof *cmds);
    lx_cmd_auth_t *auths = calloc(cap, sizeof *auths);
    assert_non_null(cmds);
    assert_non_null(auths);
    lx_cmd_t c;
    for (uint32_t a = 0; a < 2; a++) cmds[n++] = asset_cmd(a);
    for (uint32_t m = 0; m < markets; m++) cmds[n++] = market_cmd(m, -50);
    for (uint32_t a = 0; a < 16; a++)
        for (uint32_t as = 0; as < 2; as++) cmds[n++] = deposit_cmd(a, as);
    for (uint32_t a = 0; with_auth && a < 16; a++) {
        memset(&cmds[n], 0, sizeof cmds[n]);
        cmds[n].type = LX_CMD_BIND_KEY;
        cmds[n].u.bind_key.account = a;
        owner_key(cmds[n++].u.bind_key.key, a);
    }
    for (size_t i = 0; i < n; i++) {
        cmds[i].seq = ++g_seq;
        cmds[i].ts = g_ts;
    }
    size_t nsetup = n;
    /* the flow: random_cmd's mix over three busy markets and a few others,
     * with ids that name nothing (past the order table, unknown markets
     * and accounts) for the prefetcher to meet */
    while (n < cap) {
        g_ts += rnd_in(0, 400);
        c = random_cmd();
        uint32_t m = rnd_in(0, 3) ? (uint32_t)rnd_in(0, 2) : (uint32_t)rnd_in(0, markets + 5);
        int k = (int)rnd_in(0, 199);
        if (c.type == LX_CMD_PLACE) {
            c.u.place.market = m;
            if (k == 0) c.u.place.account = 1000;
        } else if (c.type == LX_CMD_CANCEL) {
            c.u.cancel.market = m;
            if (k == 0) c.u.cancel.order_id = (1ULL << 32) | 99999;
        } else if (c.type == LX_CMD_AMEND) {
            c.u.amend.market = m;
            if (k == 0) {
                c.u.amend.by_client_id = 0;
                c.u.amend.order_id = (1ULL << 32) | 4095;
            }
        }
        c.seq = ++g_seq;
        c.ts = g_ts;
        if (with_auth) auths[n] = random_auth(&c);
        cmds[n++] = c;
    }

    lx_engine_t *one = batch_engine(markets, cmds, nsetup),
                *bat = batch_engine(markets, cmds, nsetup);
    events_t e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    lx_sink_t s1 = {collect, &e1}, s2 = {collect, &e2};
    for (size_t i = nsetup; i < n; i++)
        assert_int_equal(with_auth ? lx_engine_apply_auth(one, &cmds[i], &auths[i], &s1)
                                   : lx_engine_apply(one, &cmds[i], &s1),
                         0);
    for (size_t i = nsetup; i < n;) {
        size_t k = (size_t)rnd_in(1, 300), done = 12345;
        if (k > n - i) k = n - i;
        assert_int_equal(with_auth
                             ? lx_engine_apply_batch_auth(bat, &cmds[i], &auths[i], k, &s2, &done)
                             : lx_engine_apply_batch(bat, &cmds[i], k, &s2, &done),
                         0);
        assert_int_equal(done, k);
        i += k;
    }
    if (with_auth) { /* every kind of auth outcome happened */
        uint32_t rejected[256] = {0};
        for (size_t i = 0; i < e1.n; i++)
            if (e1.ev[i].type == LX_EV_REJECTED) rejected[e1.ev[i].u.rejected.reason]++;
        assert_true(rejected[LX_REJECT_BAD_SIGNER] > 10);
        assert_true(rejected[LX_REJECT_NONCE_REPLAYED] > 10);
        assert_true(rejected[LX_REJECT_NOT_AUTHORIZED] + rejected[LX_REJECT_AGENT_EXPIRED] +
                        rejected[LX_REJECT_AGENT_REVOKED] >
                    0);
    }
    assert_true(e1.n > (n - nsetup) * 2);
    assert_int_equal(e1.n, e2.n);
    assert_true(e1.hash == e2.hash);
    assert_memory_equal(e1.ev, e2.ev, e1.n * sizeof *e1.ev);
    assert_true(lx_engine_digest(one) == lx_engine_digest(bat));
    char msg[256];
    assert_int_equal(lx_engine_validate(bat, msg, sizeof msg), 0);
    lx_engine_stats_t st;
    lx_engine_stats(bat, &st);
    assert_true(st.orders > 30); /* the flow leaves books behind (110 and 49 resting) */

    /* a batch stops at the first refusal: the third command repeats a seq */
    lx_cmd_t b[4];
    for (int i = 0; i < 4; i++) {
        memset(&b[i], 0, sizeof b[i]);
        b[i].type = LX_CMD_TICK;
        b[i].seq = ++g_seq;
        b[i].ts = g_ts;
    }
    b[2].seq = b[1].seq;
    size_t done = 99;
    assert_int_equal(lx_engine_apply_batch(bat, b, 4, &s2, &done), LX_EINVAL);
    assert_int_equal(done, 2);
    assert_true(lx_engine_last_seq(bat) == b[1].seq);
    assert_int_equal(lx_engine_apply(one, &b[0], &s1), 0);
    assert_int_equal(lx_engine_apply(one, &b[1], &s1), 0);
    assert_true(lx_engine_digest(bat) == lx_engine_digest(one));
    assert_int_equal(e1.n, e2.n);
    assert_int_equal(lx_engine_apply_batch(bat, NULL, 0, &s2, &done), 0);
    assert_int_equal(done, 0);
    assert_int_equal(lx_engine_apply_batch(NULL, b, 1, &s2, &done), LX_EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(lx_engine_apply_batch(bat, NULL, 1, &s2, NULL), LX_EINVAL);

    lx_engine_destroy(one);
    lx_engine_destroy(bat);
    free(e1.ev);
    free(e2.ev);
    free(cmds);
    free(auths);
}

static void test_apply_batch_prefetch(void **state) {
    (void)state;
    apply_batch_case(BATCH_MARKETS_PREFETCH, false);
    apply_batch_case(BATCH_MARKETS_PREFETCH, true);
}

static void test_apply_batch_plain(void **state) {
    (void)state;
    apply_batch_case(BATCH_MARKETS_PLAIN, false);
    apply_batch_case(BATCH_MARKETS_PLAIN, true);
}

/* A secret seed for the engine's index hashes, as lxdexd draws it. */
static void seed_secret(lx_engine_t *e) {
    uint64_t seed[2];
    assert_int_equal(getrandom(seed, sizeof seed, 0), (ssize_t)sizeof seed);
    assert_int_equal(lx_engine_seed_hashes(e, seed), 0);
}

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
static double ms_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Keys a client chose to collide cost about what random ones cost: within
 * five times and 20 ms (with the unkeyed hashes: 130 to 160 times). */
static void assert_as_random(const char *what, uint32_t n, double rnd, double chosen) {
    fprintf(stderr, "%s, %u: random %.1f ms, chosen %.1f ms\n", what, n, rnd, chosen);
    assert_true(chosen < 5 * rnd + 20);
}

/* Agent keys are whatever 32 bytes an owner approves (they need not be
 * valid points), and under rules 1 and 2 a revoked agent's record is kept
 * for good, so one owner can put any number of keys of its choosing into
 * the engine's key index by approving and revoking in turn (from rules 3
 * it keeps at most its agents there, but the accounts together hold
 * millions of keys of their choosing). The index must still find a key
 * in about constant time: keys whose words fold to one hash (w0 ^ w2 and
 * w1 ^ w3 the same) must cost about what random keys cost, else every
 * lookup in that cluster (each later approve, revoke, and signed command of
 * such a key) walks all of them on the engine thread. */
static void add_bytes(void *ctx, void *start, size_t n) {
    (void)start;
    *(size_t *)ctx += n;
}

static double key_churn_ms(bool collide, uint32_t n, uint32_t rules, size_t *bytes) {
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_accounts = 16;
    cfg.rules = rules;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    seed_secret(e);
    uint8_t owner[32];
    memset(owner, 0x11, 32);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    uint64_t seq = 0, nonce = 0;
    c.type = LX_CMD_BIND_KEY;
    c.seq = ++seq;
    c.ts = 1;
    c.u.bind_key.account = 1;
    memcpy(c.u.bind_key.key, owner, 32);
    assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
    lx_cmd_auth_t au;
    memset(&au, 0, sizeof au);
    au.scheme = LX_CMD_AUTH_SIGNED;
    memcpy(au.key, owner, 32);
    uint64_t rng = 12345;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t w[4];
        if (collide) {
            w[0] = w[2] = i + 1; /* w0 ^ w2 = 0, w1 ^ w3 = 0: one hash for all */
            w[1] = w[3] = 7;
        } else {
            for (int j = 0; j < 4; j++) w[j] = splitmix_next(&rng);
        }
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_APPROVE_AGENT;
        c.seq = ++seq;
        c.ts = 1;
        c.u.approve_agent.account = 1;
        memcpy(c.u.approve_agent.key, w, 32);
        c.u.approve_agent.expiry = INT64_MAX;
        au.nonce = ++nonce;
        assert_int_equal(lx_engine_apply_auth(e, &c, &au, NULL), 0);
        memset(&c.u, 0, sizeof c.u);
        c.type = LX_CMD_REVOKE_AGENT;
        c.seq = ++seq;
        c.u.revoke_agent.account = 1;
        memcpy(c.u.revoke_agent.key, w, 32);
        au.nonce = ++nonce;
        assert_int_equal(lx_engine_apply_auth(e, &c, &au, NULL), 0);
    }
    double ms = ms_since(&t0);
    assert_int_equal(lx_engine_key_count(e), rules < LX_RULES_3 ? n + 1 : 1);
    if (bytes) {
        *bytes = 0;
        lx_engine_memory(e, add_bytes, bytes);
    }
    lx_engine_destroy(e);
    return ms;
}

static void test_key_index_collisions(void **state) {
    (void)state;
    const uint32_t n = 6000;
    assert_as_random("agent keys approved and revoked", n, key_churn_ms(false, n, LX_RULES_2, NULL),
                     key_churn_ms(true, n, LX_RULES_2, NULL));
}

/* Rules 3: a revoked key is forgotten, so an owner who approves and
 * revokes keys without end holds the engine's memory where it was: the
 * same bytes after 6,000 pairs as after 100 (rules 2: it grows). */
static void test_revoked_keys_forgotten(void **state) {
    (void)state;
    size_t few, many, few2, many2;
    (void)key_churn_ms(false, 100, LX_RULES_3, &few);
    (void)key_churn_ms(false, 6000, LX_RULES_3, &many);
    (void)key_churn_ms(false, 100, LX_RULES_2, &few2);
    (void)key_churn_ms(false, 6000, LX_RULES_2, &many2);
    print_message("engine memory after 100 and 6,000 approve/revoke pairs: rules 3 %zu, %zu "
                  "bytes; rules 2 %zu, %zu\n",
                  few, many, few2, many2);
    assert_true(many == few);
    assert_true(many2 > few2 + 6000 * 80);
}

/* Rules 3: a revoked agent leaves its last nonces as the account's floors
 * of its key slot, where every later key of that slot starts. An agent is
 * a delegated key (it may trade, never withdraw), and revoking one is what
 * an owner does when it leaks; but the agent chooses its own nonces, and
 * one that spends the largest nonce of each kind before it is revoked (a
 * CANCEL of no order is spent all the same) must not leave the account
 * unable ever to sign again with a new agent: under rules 2 its high
 * nonces stayed on its own revoked record. A new agent of another slot
 * signing with the clock (the CLI's nonces) must be taken; one of the
 * spoiled slot cannot sign (its owner takes another key), and neither can
 * the revoked key approved again (its old actions stay spent). (A review
 * found the one-floor-an-account design of 0f27a7a failing this.) */
static lx_reject_t signed_reason(lx_engine_t *e, lx_cmd_t *c, const uint8_t key[32],
                                 uint64_t nonce) {
    events_t ev = {0};
    lx_sink_t sink = {collect, &ev};
    lx_cmd_auth_t au = {.scheme = LX_CMD_AUTH_SIGNED, .nonce = nonce};
    memcpy(au.key, key, 32);
    c->seq = ++g_seq;
    c->ts = g_ts += 1000;
    assert_int_equal(lx_engine_apply_auth(e, c, &au, &sink), 0);
    lx_reject_t r = ev.n && ev.ev[0].type == LX_EV_REJECTED ? ev.ev[0].u.rejected.reason : 0;
    free(ev.ev);
    return r;
}

/* A command of account 1 for the test below: APPROVE_AGENT (no expiry)
 * or REVOKE_AGENT of key, SCHEDULE_CANCEL (disarm), CANCEL (of no order). */
static lx_cmd_t acct1_cmd(lx_cmd_type_t type, const uint8_t key[32]) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = type;
    switch (type) {
    case LX_CMD_APPROVE_AGENT:
        c.u.approve_agent.account = 1;
        memcpy(c.u.approve_agent.key, key, 32);
        c.u.approve_agent.expiry = INT64_MAX;
        break;
    case LX_CMD_REVOKE_AGENT:
        c.u.revoke_agent.account = 1;
        memcpy(c.u.revoke_agent.key, key, 32);
        break;
    case LX_CMD_SCHEDULE_CANCEL:
        c.u.schedule_cancel.account = 1;
        break;
    case LX_CMD_CANCEL:
        c.u.cancel.account = 1;
        c.u.cancel.order_id = 12345;
        break;
    default:
        fail();
    }
    return c;
}

static void test_revoked_agent_cannot_poison_floors(void **state) {
    (void)state;
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_accounts = 4;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    g_seq = 0;
    g_ts = 1000000000;
    uint8_t owner[32], bad[32], next[32];
    owner_key(owner, 1);
    agent_key(bad, 1, 0);
    agent_key(next, 1, 1);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_BIND_KEY;
    c.u.bind_key.account = 1;
    memcpy(c.u.bind_key.key, owner, 32);
    c.seq = ++g_seq;
    c.ts = g_ts;
    assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
    c = acct1_cmd(LX_CMD_APPROVE_AGENT, bad);
    assert_int_equal(signed_reason(e, &c, owner, 1), 0);
    /* the leaked agent spends the largest nonce of each kind */
    c = acct1_cmd(LX_CMD_SCHEDULE_CANCEL, NULL);
    assert_int_equal(signed_reason(e, &c, bad, UINT64_MAX), 0);
    c = acct1_cmd(LX_CMD_CANCEL, NULL);
    assert_int_equal(signed_reason(e, &c, bad, UINT64_MAX), LX_REJECT_UNKNOWN_MARKET);
    /* the owner revokes it and approves a new agent, of another slot */
    c = acct1_cmd(LX_CMD_REVOKE_AGENT, bad);
    assert_int_equal(signed_reason(e, &c, owner, 2), 0);
    c = acct1_cmd(LX_CMD_APPROVE_AGENT, next);
    assert_int_equal(signed_reason(e, &c, owner, 3), 0);
    assert_true(lx_nonce_floor_slot(next) != lx_nonce_floor_slot(bad));
    /* the new agent signs with the clock, each kind */
    const uint64_t clock_nonce = 1800000000000000000ull;
    c = acct1_cmd(LX_CMD_SCHEDULE_CANCEL, NULL);
    assert_int_equal(signed_reason(e, &c, next, clock_nonce), 0);
    c = acct1_cmd(LX_CMD_CANCEL, NULL);
    assert_int_equal(signed_reason(e, &c, next, clock_nonce), LX_REJECT_UNKNOWN_MARKET);
    /* a key of the spoiled slot, and the revoked key itself, approved */
    uint8_t same[32];
    int b = 0;
    do memset(same, ++b, 32);
    while (lx_nonce_floor_slot(same) != lx_nonce_floor_slot(bad) || !memcmp(same, bad, 32));
    uint64_t on = 4;
    for (int which = 0; which < 2; which++) {
        const uint8_t *k = which ? bad : same;
        c = acct1_cmd(LX_CMD_APPROVE_AGENT, k);
        assert_int_equal(signed_reason(e, &c, owner, on++), 0);
        c = acct1_cmd(LX_CMD_SCHEDULE_CANCEL, NULL);
        assert_int_equal(signed_reason(e, &c, k, clock_nonce), LX_REJECT_NONCE_REPLAYED);
        c = acct1_cmd(LX_CMD_REVOKE_AGENT, k);
        assert_int_equal(signed_reason(e, &c, owner, on++), 0);
    }
    lx_engine_destroy(e);
}

/* Client ids are the client's choice, and the client-id index's hash was
 * a multiply and a fold, both invertible: a trader could compute ids whose
 * hashes share their low 32 bits (one home bucket) and top byte (one tag),
 * so that each new order's probe walked all the earlier ones, and every
 * other lookup homed near there too. With the engine's secret seed in the
 * hash those ids cost what random ones do. */
static uint64_t inverse_odd(uint64_t k) { /* k * inverse_odd(k) == 1 mod 2^64 */
    uint64_t x = k;
    for (int i = 0; i < 6; i++) x *= 2 - k * x;
    return x;
}

static double cid_flood_ms(bool crafted, uint32_t n) {
    lx_engine_t *e = new_engine(false, n + 16);
    seed_secret(e);
    g_seq = 0;
    g_ts = 1;
    lx_cmd_t c = asset_cmd(0);
    apply_ok(e, &c, NULL);
    c = asset_cmd(1);
    apply_ok(e, &c, NULL);
    c = market_cmd(0, 0);
    apply_ok(e, &c, NULL);
    const uint32_t account = 3;
    const uint64_t k1 = 0x9e3779b97f4a7c15ULL, k2inv = inverse_odd(0xd6e8feb86659fd93ULL);
    uint64_t rng = 99;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t cid;
        if (crafted) {
            /* the unkeyed hash h ^ h >> 32 == (i + 1) << 32 | 0x1234 (tag 0,
             * one home): h is its own fold's inverse, then the multiply's */
            uint64_t f = (uint64_t)(i + 1) << 32 | 0x1234, h = f ^ f >> 32;
            cid = (h * k2inv) ^ (uint64_t)account * k1;
        } else {
            cid = splitmix_next(&rng);
        }
        if (!cid) cid = 1;
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = account,
                                     .market = 0,
                                     .side = LX_SIDE_BUY,
                                     .type = LX_ORDER_LIMIT,
                                     .tif = LX_TIF_GTC,
                                     .price = 1 + (int64_t)(i % 1000),
                                     .qty = 1,
                                     .client_id = cid};
        c.seq = ++g_seq;
        c.ts = g_ts;
        assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
    }
    double ms = ms_since(&t0);
    lx_engine_stats_t st;
    lx_engine_stats(e, &st);
    assert_int_equal(st.orders, n); /* every one accepted */
    lx_engine_destroy(e);
    return ms;
}

static void test_cid_index_collisions(void **state) {
    (void)state;
    const uint32_t n = 20000;
    assert_as_random("orders placed with client ids", n, cid_flood_ms(false, n),
                     cid_flood_ms(true, n));
}

/* lx_engine_seed_hashes on an engine that holds orders with client ids and
 * keys: every one is still found (cancel by client id, signed places by
 * the owner keys), nothing of the state changes (digest, validate), and
 * after lx_engine_reserve it is refused and changes nothing. */
static void test_seed_hashes(void **state) {
    (void)state;
    lx_engine_t *e = new_engine(true, 4096);
    g_seq = 0;
    g_ts = 1;
    setup_world(e);
    lx_cmd_t c;
    for (uint32_t i = 0; i < 600; i++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = i % 16,
                                     .market = i % 2,
                                     .side = LX_SIDE_BUY,
                                     .type = LX_ORDER_LIMIT,
                                     .tif = LX_TIF_GTC,
                                     .price = 1 + i % 90,
                                     .qty = 1,
                                     .client_id = 1000 + i};
        apply_ok(e, &c, NULL); /* every seventh signed by its owner key */
    }
    uint64_t d = lx_engine_digest(e);
    seed_secret(e);
    assert_true(lx_engine_digest(e) == d);
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    for (uint32_t i = 0; i < 600; i += 3) { /* found by client id */
        events_t ev = {0};
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CANCEL;
        c.u.cancel = (lx_cmd_cancel_t){
            .account = i % 16, .market = i % 2, .by_client_id = 1, .client_id = 1000 + i};
        apply_ok(e, &c, &ev);
        assert_true(ev.n >= 1);
        assert_int_equal(ev.ev[0].type, LX_EV_ORDER_CANCELED);
        free(ev.ev);
    }
    for (uint32_t i = 0; i < 14; i++) { /* owner keys still found: signed places */
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = i % 16,
                                     .market = 0,
                                     .side = LX_SIDE_SELL,
                                     .type = LX_ORDER_LIMIT,
                                     .tif = LX_TIF_GTC,
                                     .price = 900,
                                     .qty = 1,
                                     .client_id = 5000 + i};
        events_t ev = {0};
        apply_ok(e, &c, &ev);
        assert_int_equal(ev.ev[0].type, LX_EV_ORDER_ACCEPTED);
        free(ev.ev);
    }
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    d = lx_engine_digest(e);
    assert_int_equal(lx_engine_reserve(e, 4096), 0);
    uint64_t seed[2] = {1, 2};
    assert_int_equal(lx_engine_seed_hashes(e, seed), LX_ESTATE);
    assert_true(lx_engine_digest(e) == d);
    lx_engine_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_hashes),
        cmocka_unit_test(test_cid_index_collisions),
        cmocka_unit_test(test_apply_batch_prefetch),
        cmocka_unit_test(test_apply_batch_plain),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_market_state_halted_values),
        cmocka_unit_test(test_read_api),
        cmocka_unit_test(test_gtd_churn),
        cmocka_unit_test(test_small_reserve),
        cmocka_unit_test(test_key_index_collisions),
        cmocka_unit_test(test_revoked_keys_forgotten),
        cmocka_unit_test(test_revoked_agent_cannot_poison_floors),
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_snapshot_corruption),
        cmocka_unit_test(test_determinism_across_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
