/*
 * test_web_json.c: the web gateway's pure JSON layer (src/gw/web_json.c,
 * gw/web.h) without sockets or a node:
 *
 *   - exact numbers: every number token keeps its literal text through the
 *     parse; numbers inside strings, escapes and keys are left alone; a
 *     string holding \u0000 is refused; invalid JSON stays invalid; output
 *     writes marked numbers back as bare tokens;
 *   - integers (number or digit string), unknown keys;
 *   - markets by symbol (any case) and id, decimal rendering;
 *   - actions: place/cancel/amend/cancel_all from own-API fields, every
 *     error naming its field, values off the grid, market orders protected
 *     at the band, the order's market and account taken from the view;
 *   - outcomes: statuses from the events of a command;
 *   - the WebSocket `result` written by hand (web_out.c) is byte for byte
 *     what the jansson rendering writes, for every kind of outcome and id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw/web.h"
#include "lx/config.h"
#include "lx/error.h"

static lx_config_t cfg;
static lx__web_markets_t ms;

static int setup(void **state) {
    (void)state;
    char err[256];
    if (lx_config_default(&cfg, err, sizeof err)) return -1;
    return lx__web_markets_init(&ms, &cfg);
}

static int teardown(void **state) {
    (void)state;
    lx__web_markets_free(&ms);
    lx_config_free(&cfg);
    return 0;
}

static json_t *parse(const char *text) {
    json_t *v = NULL;
    char err[LX__WEB_ERR];
    int rc = lx__web_parse(text, strlen(text), &v, err, sizeof err);
    if (rc) fprintf(stderr, "parse: %s\n", err);
    assert_int_equal(rc, 0);
    return v;
}

static void parse_fails(const char *text, const char *want) {
    json_t *v = NULL;
    char err[LX__WEB_ERR] = "";
    assert_int_equal(lx__web_parse(text, strlen(text), &v, err, sizeof err), -1);
    assert_null(v);
    if (!strstr(err, want)) fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
    assert_non_null(strstr(err, want));
}

static void dump_is(const json_t *v, const char *want) {
    size_t n;
    char *s = lx__web_dump(v, &n);
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_int_equal(n, strlen(want));
    free(s);
}

static void test_numbers_exact(void **state) {
    (void)state;
    json_t *v = parse("{\"p\":0.1,\"q\":-12.500,\"big\":123456789012345678901234567890,"
                      "\"e\":1E-2,\"s\":\"0.1\",\"arr\":[1,2.0,-0]}");
    size_t n;
    const char *t = lx__web_num_text(json_object_get(v, "p"), &n);
    assert_non_null(t);
    assert_int_equal(n, 3);
    assert_memory_equal(t, "0.1", 3);
    t = lx__web_num_text(json_object_get(v, "q"), &n);
    assert_int_equal(n, 7);
    assert_memory_equal(t, "-12.500", 7);
    t = lx__web_num_text(json_object_get(v, "big"), &n);
    assert_int_equal(n, 30);
    t = lx__web_num_text(json_object_get(v, "e"), &n);
    assert_memory_equal(t, "1E-2", 4);
    /* a string is not a number, but lx__web_text gives either */
    assert_null(lx__web_num_text(json_object_get(v, "s"), NULL));
    t = lx__web_text(json_object_get(v, "s"), &n);
    assert_int_equal(n, 3);
    /* output: numbers come back as the same tokens */
    dump_is(v, "{\"p\":0.1,\"q\":-12.500,\"big\":123456789012345678901234567890,\"e\":1E-2,"
               "\"s\":\"0.1\",\"arr\":[1,2.0,-0]}");
    json_decref(v);
}

static void test_numbers_in_strings(void **state) {
    (void)state;
    /* digits inside strings, escaped quotes and keys are not numbers */
    json_t *v = parse("{\"a\\\"1\":\"x \\\" 12 \\\\\",\"k2\":[\"3\",4]}");
    const json_t *a = json_object_get(v, "a\"1");
    assert_non_null(a);
    assert_string_equal(json_string_value(a), "x \" 12 \\");
    assert_null(lx__web_num_text(a, NULL));
    const json_t *arr = json_object_get(v, "k2");
    assert_null(lx__web_num_text(json_array_get(arr, 0), NULL));
    assert_non_null(lx__web_num_text(json_array_get(arr, 1), NULL));
    dump_is(v, "{\"a\\\"1\":\"x \\\" 12 \\\\\",\"k2\":[\"3\",4]}");
    json_decref(v);
    /* a top-level scalar */
    v = parse("42");
    assert_non_null(lx__web_num_text(v, NULL));
    dump_is(v, "42");
    json_decref(v);
}

static void test_parse_errors(void **state) {
    (void)state;
    parse_fails("{\"a\":\"\\u0000x\"}", "\\u0000");
    parse_fails("{\"a\":01}", "invalid JSON");
    parse_fails("[-]", "invalid JSON");
    parse_fails("[1.]", "invalid JSON");
    parse_fails("[.5]", "invalid JSON");
    parse_fails("[1 2]", "invalid JSON");
    parse_fails("{\"a\":1,\"a\":2}", "invalid JSON"); /* duplicate keys */
    parse_fails("", "invalid JSON");
    parse_fails("{\"a\":\"unterminated", "invalid JSON");
    parse_fails("[1e]", "invalid JSON");
    parse_fails("[+1]", "invalid JSON");
}

static void test_u64_and_keys(void **state) {
    (void)state;
    json_t *v = parse("{\"a\":18446744073709551615,\"b\":\"42\",\"c\":18446744073709551616,"
                      "\"d\":-1,\"e\":1.0,\"f\":\"x1\",\"g\":true}");
    uint64_t x;
    assert_int_equal(lx__web_u64(json_object_get(v, "a"), &x), 0);
    assert_true(x == UINT64_MAX);
    assert_int_equal(lx__web_u64(json_object_get(v, "b"), &x), 0);
    assert_int_equal(x, 42);
    assert_int_equal(lx__web_u64(json_object_get(v, "c"), &x), -1);
    assert_int_equal(lx__web_u64(json_object_get(v, "d"), &x), -1);
    assert_int_equal(lx__web_u64(json_object_get(v, "e"), &x), -1);
    assert_int_equal(lx__web_u64(json_object_get(v, "f"), &x), -1);
    assert_int_equal(lx__web_u64(json_object_get(v, "g"), &x), -1);
    assert_int_equal(lx__web_u64(NULL, &x), -1);
    static const char *const l1[] = {"a", "b", "c", NULL};
    static const char *const l2[] = {"d", "e", "f", "g", NULL};
    char err[LX__WEB_ERR];
    assert_int_equal(lx__web_keys(v, l1, l2, err, sizeof err), 0);
    assert_int_equal(lx__web_keys(v, l1, NULL, err, sizeof err), -1);
    assert_string_equal(err, "unknown field \"d\"");
    json_decref(v);
}

static void test_markets_render(void **state) {
    (void)state;
    const lx__web_market_t *m = lx__web_market_find(&ms, "btc-usd", 7);
    assert_non_null(m);
    assert_string_equal(m->m->symbol, "BTC-USD");
    assert_ptr_equal(lx__web_market_find(&ms, "0", 1), m);
    assert_null(lx__web_market_find(&ms, "63", 2));
    assert_null(lx__web_market_find(&ms, "BTC", 3));
    assert_null(lx__web_market_find(&ms, "", 0));
    json_t *p = lx__web_price(m, 2500001, false);
    assert_string_equal(json_string_value(p), "25000.01");
    json_decref(p);
    p = lx__web_price(m, 2500001, true);
    dump_is(p, "25000.01");
    json_decref(p);
    p = lx__web_qty(m, 5, false); /* lot 0.0001 */
    assert_string_equal(json_string_value(p), "0.0005");
    json_decref(p);
    p = lx__web_amount(-1500000, 1000000, false);
    assert_string_equal(json_string_value(p), "-1.5");
    json_decref(p);
    p = lx__web_id(UINT64_MAX, false);
    assert_string_equal(json_string_value(p), "18446744073709551615");
    json_decref(p);
}

/* Builds an action from own-API JSON text. */
static int action(const char *text, int type, lx_view_t *view, lx_account_id_t account,
                  lx__web_action_t *a, char *err) {
    json_t *v = parse(text);
    lx__web_fields_t f;
    static const char *const extra[] = {"type", "id", NULL};
    int rc = lx__web_own_fields(v, type, extra, &f, err, LX__WEB_ERR);
    if (!rc) rc = lx__web_action(&ms, view, type, &f, account, a, err, LX__WEB_ERR);
    json_decref(v);
    return rc;
}

static void action_fails(const char *text, int type, lx_account_id_t account, const char *want) {
    lx__web_action_t a;
    char err[LX__WEB_ERR] = "";
    lx_view_t *view = lx_view_create(64);
    assert_int_equal(action(text, type, view, account, &a, err), -1);
    lx_view_destroy(view);
    if (!strstr(err, want)) fprintf(stderr, "%s: error \"%s\" lacks \"%s\"\n", text, err, want);
    assert_non_null(strstr(err, want));
}

static void test_place(void **state) {
    (void)state;
    lx__web_action_t a;
    char err[LX__WEB_ERR];
    lx_view_t *view = lx_view_create(64);
    assert_int_equal(action("{\"type\":\"place\",\"id\":1,\"market\":\"BTC-USD\",\"side\":\"sell\","
                            "\"price\":\"25000.01\",\"size\":0.0003,\"tif\":\"ioc\","
                            "\"clientId\":\"99\",\"stp\":\"expire_both\"}",
                            LX_CMD_PLACE, view, 5, &a, err),
                     0);
    assert_int_equal(a.cmd.type, LX_CMD_PLACE);
    assert_int_equal(a.account, 5);
    assert_int_equal(a.cmd.u.place.account, 5);
    assert_int_equal(a.cmd.u.place.side, LX_SIDE_SELL);
    assert_int_equal(a.cmd.u.place.price, 2500001);
    assert_int_equal(a.cmd.u.place.qty, 3);
    assert_int_equal(a.cmd.u.place.tif, LX_TIF_IOC);
    assert_int_equal(a.cmd.u.place.stp, LX_STP_EXPIRE_BOTH);
    assert_int_equal(a.cmd.u.place.client_id, 99);
    assert_int_equal(a.client_id, 99);
    assert_int_equal(a.weight, cfg.rate_limits.weight.place);
    /* a market order without price: protected at the band's edge */
    assert_int_equal(action("{\"market\":\"ETH-USD\",\"side\":0,\"orderType\":\"market\","
                            "\"size\":\"1\",\"account\":3}",
                            LX_CMD_PLACE, view, LX_ACCOUNT_NONE, &a, err),
                     0);
    assert_int_equal(a.account, 3);
    assert_int_equal(a.cmd.u.place.type, LX_ORDER_MARKET);
    assert_int_equal(a.cmd.u.place.price, cfg.markets[1].max_price);
    /* ... or with price 0, as a number or a string (they are the same everywhere) */
    static const char *const zeros[] = {"0", "\"0\"", "0.0", "\"0.00\""};
    for (int i = 0; i < 4; i++) {
        char t[200];
        snprintf(t, sizeof t,
                 "{\"market\":\"ETH-USD\",\"side\":1,\"orderType\":\"market\",\"price\":%s,"
                 "\"size\":\"1\",\"account\":3}",
                 zeros[i]);
        a.cmd.u.place.price = -1;
        assert_int_equal(action(t, LX_CMD_PLACE, view, LX_ACCOUNT_NONE, &a, err), 0);
        assert_int_equal(a.cmd.u.place.price, cfg.markets[1].min_price);
    }
    /* a limit order's price 0 is refused, whatever its form */
    assert_int_not_equal(action("{\"market\":1,\"side\":0,\"price\":\"0\",\"size\":\"1\","
                                "\"account\":3}",
                                LX_CMD_PLACE, view, LX_ACCOUNT_NONE, &a, err),
                         0);
    /* postOnly */
    assert_int_equal(action("{\"market\":1,\"side\":\"buy\",\"price\":\"1\",\"size\":\"1\","
                            "\"postOnly\":true}",
                            LX_CMD_PLACE, view, 3, &a, err),
                     0);
    assert_int_equal(a.cmd.u.place.tif, LX_TIF_POST_ONLY);
    /* GTD */
    assert_int_equal(action("{\"market\":1,\"side\":\"buy\",\"price\":\"1\",\"size\":\"1\","
                            "\"tif\":\"GTD\",\"expiry\":1800000000000000000}",
                            LX_CMD_PLACE, view, 3, &a, err),
                     0);
    assert_int_equal(a.cmd.u.place.expiry, 1800000000000000000);
    lx_view_destroy(view);
}

static void test_place_errors(void **state) {
    (void)state;
    const char *base = "\"market\":\"BTC-USD\",\"side\":\"buy\"";
    char t[256];
    snprintf(t, sizeof t, "{%s,\"price\":\"100.001\",\"size\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "price: \"100.001\" is not on the grid (tick size 0.01)");
    snprintf(t, sizeof t, "{%s,\"price\":100.001,\"size\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "not on the grid");
    snprintf(t, sizeof t, "{%s,\"price\":\"100\",\"size\":\"0.00005\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "size");
    snprintf(t, sizeof t, "{%s,\"price\":1e2,\"size\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "not a decimal number");
    snprintf(t, sizeof t, "{%s,\"price\":\"-1\",\"size\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "must be positive");
    snprintf(t, sizeof t, "{%s,\"price\":true,\"size\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "price: a decimal");
    snprintf(t, sizeof t, "{%s,\"size\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "price: required");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "size: required");
    action_fails("{\"market\":\"XRP-USD\",\"side\":\"buy\",\"price\":\"1\",\"size\":\"1\"}",
                 LX_CMD_PLACE, 1, "market: unknown market \"XRP-USD\"");
    action_fails("{\"side\":\"buy\",\"price\":\"1\",\"size\":\"1\"}", LX_CMD_PLACE, 1,
                 "market: required");
    action_fails("{\"market\":0,\"side\":\"up\",\"price\":\"1\",\"size\":\"1\"}", LX_CMD_PLACE, 1,
                 "side");
    action_fails("{\"market\":0,\"side\":2,\"price\":\"1\",\"size\":\"1\"}", LX_CMD_PLACE, 1,
                 "side");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"tif\":\"GTX\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "tif");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"tif\":\"IOC\",\"postOnly\":true}",
             base);
    action_fails(t, LX_CMD_PLACE, 1, "postOnly: conflicts");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"tif\":\"GTD\"}", base);
    action_fails(t, LX_CMD_PLACE, 1, "expiry");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"expiry\":5}", base);
    action_fails(t, LX_CMD_PLACE, 1, "expiry: only with tif GTD");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"leverage\":5}", base);
    action_fails(t, LX_CMD_PLACE, 1, "unknown field \"leverage\"");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\"}", base);
    action_fails(t, LX_CMD_PLACE, LX_ACCOUNT_NONE, "account: required");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"account\":2}", base);
    action_fails(t, LX_CMD_PLACE, 1, "this session acts for account 1");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"account\":4294967295}", base);
    action_fails(t, LX_CMD_PLACE, LX_ACCOUNT_NONE, "account: an integer below");
    snprintf(t, sizeof t, "{%s,\"price\":\"1\",\"size\":\"1\",\"clientId\":-1}", base);
    action_fails(t, LX_CMD_PLACE, 1, "clientId");
    action_fails("[1]", LX_CMD_PLACE, 1, "JSON object");
}

static void test_cancel_amend(void **state) {
    (void)state;
    lx_view_t *view = lx_view_create(64);
    lx_view_order_t o = {.order_id = 77,
                         .account = 9,
                         .market = 1,
                         .side = 0,
                         .price = 100,
                         .qty = 5,
                         .remaining = 5,
                         .client_id = 555};
    assert_int_equal(lx_view_load_order(view, &o), 0);
    lx__web_action_t a;
    char err[LX__WEB_ERR];
    /* by order id: market and account from the view */
    assert_int_equal(action("{\"orderId\":\"77\"}", LX_CMD_CANCEL, view, LX_ACCOUNT_NONE, &a, err),
                     0);
    assert_int_equal(a.cmd.u.cancel.market, 1);
    assert_int_equal(a.cmd.u.cancel.account, 9);
    assert_int_equal(a.cmd.u.cancel.order_id, 77);
    assert_int_equal(a.cmd.u.cancel.by_client_id, 0);
    /* by client id: the market from the account's orders */
    assert_int_equal(action("{\"clientId\":555}", LX_CMD_CANCEL, view, 9, &a, err), 0);
    assert_int_equal(a.cmd.u.cancel.by_client_id, 1);
    assert_int_equal(a.cmd.u.cancel.client_id, 555);
    assert_int_equal(a.cmd.u.cancel.market, 1);
    assert_int_equal(action("{\"orderId\":77,\"price\":\"2.5\",\"size\":\"0.002\"}", LX_CMD_AMEND,
                            view, 9, &a, err),
                     0);
    assert_int_equal(a.cmd.u.amend.price, 250);
    assert_int_equal(a.cmd.u.amend.qty, 2);
    assert_int_equal(a.cmd.u.amend.market, 1);
    assert_int_equal(action("{}", LX_CMD_CANCEL_ALL, view, 9, &a, err), 0);
    assert_int_equal(a.cmd.u.cancel_all.market, LX_MARKET_ALL);
    assert_int_equal(a.cmd.u.cancel_all.account, 9);
    assert_int_equal(a.weight, cfg.rate_limits.weight.cancel_all);
    assert_int_equal(action("{\"market\":\"ETH-USD\"}", LX_CMD_CANCEL_ALL, view, 9, &a, err), 0);
    assert_int_equal(a.cmd.u.cancel_all.market, 1);
    lx_view_destroy(view);
    action_fails("{\"orderId\":78}", LX_CMD_CANCEL, 9, "no open order 78");
    action_fails("{\"orderId\":0}", LX_CMD_CANCEL, 9, "orderId");
    action_fails("{}", LX_CMD_CANCEL, 9, "orderId (or clientId");
    action_fails("{\"orderId\":1,\"clientId\":2}", LX_CMD_CANCEL, 9, "not both");
    action_fails("{\"clientId\":2}", LX_CMD_CANCEL, 9, "market: required with clientId");
    action_fails("{\"orderId\":1,\"market\":0,\"size\":\"1\"}", LX_CMD_AMEND, 9, "price: required");
    action_fails("{\"orderId\":1,\"market\":0,\"side\":\"buy\"}", LX_CMD_CANCEL, 9,
                 "unknown field \"side\"");
}

static lx_event_t ev_of(lx_event_type_t t) {
    lx_event_t e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.market = 0;
    e.seq = 10;
    return e;
}

static void test_outcome(void **state) {
    (void)state;
    lx__web_action_t a;
    memset(&a, 0, sizeof a);
    a.cmd.type = LX_CMD_PLACE;
    a.cmd.u.place.market = 0;
    a.cmd.u.place.qty = 10;
    a.account = 4;
    lx__web_outcome_t o;
    lx__web_outcome_init(&o, &a);
    lx_event_t e = ev_of(LX_EV_ORDER_ACCEPTED);
    e.u.accepted = (lx_ev_accepted_t){.order_id = 5, .account = 4, .price = 100, .qty = 10};
    lx__web_outcome_event(&o, &e);
    assert_string_equal(lx__web_outcome_status(&o), "open");
    e = ev_of(LX_EV_TRADE);
    e.u.trade = (lx_ev_trade_t){.maker_order = 3,
                                .taker_order = 5,
                                .price = 99,
                                .qty = 4,
                                .maker_remaining = 0,
                                .taker_remaining = 6,
                                .taker_fee = 12};
    lx__web_outcome_event(&o, &e);
    assert_string_equal(lx__web_outcome_status(&o), "partially_filled");
    assert_int_equal(o.filled, 4);
    assert_int_equal(o.remaining, 6);
    assert_int_equal(o.nfills, 1);
    assert_int_equal(o.fills[0].fee, 12);
    assert_false(o.fills[0].maker);
    json_t *j = lx__web_outcome_json(&ms, &o, false);
    dump_is(j, "{\"orderId\":\"5\",\"status\":\"partially_filled\",\"market\":\"BTC-USD\","
               "\"price\":\"1\",\"size\":\"0.001\",\"filled\":\"0.0004\",\"remaining\":\"0.0006\","
               "\"fills\":[{\"price\":\"0.99\",\"size\":\"0.0004\",\"fee\":\"0.000012\","
               "\"liquidity\":\"taker\"}],\"seq\":10}");
    json_decref(j);
    j = lx__web_outcome_json(&ms, &o, true);
    dump_is(j, "{\"orderId\":5,\"status\":\"partially_filled\",\"price\":1,\"size\":0.001,"
               "\"filled\":0.0004,\"remaining\":0.0006}");
    json_decref(j);
    e = ev_of(LX_EV_ORDER_CANCELED);
    e.u.canceled = (lx_ev_canceled_t){.order_id = 5, .reason = LX_CANCEL_IOC_REMAINDER, .qty = 6};
    lx__web_outcome_event(&o, &e);
    assert_string_equal(lx__web_outcome_status(&o), "canceled");
    e = ev_of(LX_EV_TRADE);
    e.u.trade = (lx_ev_trade_t){.maker_order = 3, .taker_order = 5, .qty = 6};
    lx__web_outcome_event(&o, &e);
    assert_string_equal(lx__web_outcome_status(&o), "filled");
    /* a self-trade decrement: the resting order's AMENDED is not the taker's */
    lx__web_outcome_init(&o, &a);
    e = ev_of(LX_EV_ORDER_ACCEPTED);
    e.u.accepted = (lx_ev_accepted_t){.order_id = 5, .account = 4, .price = 100, .qty = 10};
    lx__web_outcome_event(&o, &e);
    e = ev_of(LX_EV_ORDER_AMENDED);
    e.u.amended = (lx_ev_amended_t){.order_id = 3, .account = 4, .price = 99, .qty = 2};
    lx__web_outcome_event(&o, &e);
    assert_int_equal(o.order_id, 5);
    assert_int_equal(o.qty, 10);
    assert_false(o.amended);
    e = ev_of(LX_EV_ORDER_AMENDED);
    e.u.amended =
        (lx_ev_amended_t){.order_id = 5, .account = 4, .price = 100, .qty = 8, .remaining = 8};
    lx__web_outcome_event(&o, &e);
    assert_int_equal(o.qty, 8);
    assert_int_equal(o.filled, 0);
    assert_string_equal(lx__web_outcome_status(&o), "open");
    /* an amend of an order partly filled before it: filled is qty - remaining */
    lx__web_action_t am;
    memset(&am, 0, sizeof am);
    am.cmd.type = LX_CMD_AMEND;
    am.cmd.u.amend.order_id = 5;
    am.cmd.u.amend.qty = 7;
    am.account = 4;
    lx__web_outcome_init(&o, &am);
    e = ev_of(LX_EV_ORDER_AMENDED);
    e.u.amended = (lx_ev_amended_t){
        .order_id = 5, .account = 4, .price = 100, .qty = 7, .remaining = 3, .priority_lost = true};
    lx__web_outcome_event(&o, &e);
    assert_int_equal(o.filled, 4);
    e = ev_of(LX_EV_TRADE);
    e.u.trade = (lx_ev_trade_t){.maker_order = 9, .taker_order = 5, .qty = 1, .taker_remaining = 2};
    lx__web_outcome_event(&o, &e);
    assert_int_equal(o.filled, 5);
    assert_int_equal(o.remaining, 2);
    assert_string_equal(lx__web_outcome_status(&o), "amended");
    j = lx__web_outcome_json(&ms, &o, false);
    assert_string_equal(json_string_value(json_object_get(j, "filled")), "0.0005");
    assert_string_equal(json_string_value(json_object_get(j, "size")), "0.0007");
    json_decref(j);
    /* a rejection */
    lx__web_outcome_init(&o, &a);
    e = ev_of(LX_EV_REJECTED);
    e.u.rejected.reason = LX_REJECT_INSUFFICIENT_FUNDS;
    lx__web_outcome_event(&o, &e);
    assert_string_equal(lx__web_outcome_status(&o), "rejected");
    j = lx__web_outcome_json(&ms, &o, false);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "INSUFFICIENT_FUNDS");
    json_decref(j);
    /* cancel-all counts */
    memset(&a, 0, sizeof a);
    a.cmd.type = LX_CMD_CANCEL_ALL;
    a.cmd.u.cancel_all.market = LX_MARKET_ALL;
    lx__web_outcome_init(&o, &a);
    e = ev_of(LX_EV_ORDER_CANCELED);
    lx__web_outcome_event(&o, &e);
    lx__web_outcome_event(&o, &e);
    assert_int_equal(o.ncanceled, 2);
    assert_string_equal(lx__web_outcome_status(&o), "canceled");
}

/* lx__web_flat: what it takes (and then agrees with jansson), what it leaves
 * to the slow path. */
static void flat_ok(const char *t, int want) {
    lx__web_member_t m[LX__WEB_FLAT_MAX];
    int k = lx__web_flat(t, strlen(t), m, LX__WEB_FLAT_MAX);
    if (k != want) fprintf(stderr, "lx__web_flat(%s) = %d, not %d\n", t, k, want);
    assert_int_equal(k, want);
    json_t *v = parse(t);
    assert_int_equal(json_object_size(v), (size_t)k);
    for (int i = 0; i < k; i++) {
        lx__web_val_t x = lx__web_val(json_object_getn(v, m[i].key, m[i].klen));
        assert_int_equal(x.kind, m[i].v.kind);
        if (x.kind == LX__WEB_V_STRING || x.kind == LX__WEB_V_NUMBER) {
            assert_int_equal(x.n, m[i].v.n);
            assert_memory_equal(x.s, m[i].v.s, x.n);
        }
    }
    json_decref(v);
}

static void test_flat(void **state) {
    (void)state;
    flat_ok("{\"type\":\"place\",\"id\":1,\"market\":\"BTC-USD\",\"side\":\"buy\","
            "\"price\":\"100.5\",\"size\":\"0.01\",\"postOnly\":true}",
            7);
    flat_ok(" \t\r\n{ \"a\" : -1.5e3 , \"b\":null,\"c\":false,\"d\":\"/x y~\" }\n", 4);
    flat_ok("{}", 0);
    flat_ok(" { } ", 0);
    static const char *const no[] = {
        "",
        "[]",
        "{\"a\":{}}",
        "{\"a\":[1]}",
        "{\"a\":\"x\\\"y\"}",
        "{\"a\":\"\\u0041\"}",
        "{\"a\":\"\xc3\xa9\"}",
        "{\"a\":\"\x7f\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":1.}",
        "{\"a\":tru}",
        "{\"a\":true1}",
        "{\"a\":nul}",
        "{\"a\":1}x",
        "{\"a\":1",
        "{\"a\":\"1}",
        "{a:1}",
        "{\"a\":1 \"b\":2}",
        "{\"0\":0,\"1\":0,\"2\":0,\"3\":0,\"4\":0,\"5\":0,\"6\":0,\"7\":0,\"8\":0,\"9\":0,"
        "\"10\":0,\"11\":0,\"12\":0,\"13\":0,\"14\":0,\"15\":0,\"16\":0}",
    };
    lx__web_member_t m[LX__WEB_FLAT_MAX];
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        int k = lx__web_flat(no[i], strlen(no[i]), m, LX__WEB_FLAT_MAX);
        if (k != -1) fprintf(stderr, "lx__web_flat(%s) = %d\n", no[i], k);
        assert_int_equal(k, -1);
    }
}

/* web_ws.c's jansson rendering of a result: the reference. */
static char *result_ref(const json_t *id, const lx__web_outcome_t *o) {
    json_t *r = json_pack("{s:s,s:O,s:s,s:o}", "type", "result", "id", id ? id : json_null(),
                          "action", lx__web_ws_action_name(o->cmd_type), "result",
                          lx__web_outcome_json(&ms, o, false));
    char *s = lx__web_dump(r, NULL);
    json_decref(r);
    return s;
}

static void result_same(const char *idjson, const lx__web_outcome_t *o) {
    json_t *id = idjson ? parse(idjson) : NULL;
    char idt[LX__WEB_ID_TEXT], buf[LX__WEB_TXT];
    int n = lx__web_id_text(id, idt, sizeof idt);
    assert_true(n > 0);
    size_t k = lx__web_ws_result(buf, sizeof buf, &ms, lx__web_ws_action_name(o->cmd_type), idt,
                                 (size_t)n, o);
    assert_true(k > 0);
    char *ref = result_ref(id, o);
    buf[k] = 0;
    if (strcmp(buf, ref)) fprintf(stderr, "hand:    %s\njansson: %s\n", buf, ref);
    assert_string_equal(buf, ref);
    free(ref);
    /* too small a buffer: 0, never a cut message */
    assert_int_equal(
        lx__web_ws_result(buf, k - 1, &ms, lx__web_ws_action_name(o->cmd_type), idt, (size_t)n, o),
        0);
    json_decref(id);
}

static void test_ws_result(void **state) {
    (void)state;
    static const char *const ids[] = {
        NULL,
        "null",
        "7",
        "12345678901234567890",
        "-1.5e3",
        "\"abc\"",
        "true",
        "false",
        "\"q\\\"b\\\\s\\/\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f\\u00e9\\u20ac\""};
    lx__web_outcome_t o;
    lx__web_action_t a;
    for (int kind = 0; kind < 9; kind++) {
        memset(&a, 0, sizeof a);
        a.cmd.type = kind < 4    ? LX_CMD_PLACE
                     : kind == 4 ? LX_CMD_CANCEL
                     : kind == 5 ? LX_CMD_AMEND
                     : kind == 6 ? LX_CMD_CANCEL_ALL
                     : kind == 7 ? LX_CMD_DEPOSIT
                                 : LX_CMD_CANCEL;
        a.cmd.u.place.market = 0;
        a.cmd.u.place.qty = 10;
        a.client_id = kind == 1 ? 18446744073709551615u : 0;
        lx__web_outcome_init(&o, &a);
        lx_event_t e = ev_of(LX_EV_ORDER_ACCEPTED);
        e.u.accepted = (lx_ev_accepted_t){.order_id = 5, .account = 4, .price = 100, .qty = 10};
        if (kind <= 3) lx__web_outcome_event(&o, &e);
        if (kind == 1 || kind == 2)
            for (int f = 0; f < (kind == 2 ? LX__WEB_FILLS_MAX + 3 : 2); f++) {
                e = ev_of(LX_EV_TRADE);
                e.u.trade = (lx_ev_trade_t){.maker_order = 3,
                                            .taker_order = 5,
                                            .price = 99 - f,
                                            .qty = 1,
                                            .taker_remaining = 9 - f,
                                            .taker_fee = 12 + f};
                lx__web_outcome_event(&o, &e);
            }
        if (kind == 3 || kind == 4 || kind == 8) {
            e = ev_of(kind == 3 ? LX_EV_REJECTED : LX_EV_ORDER_CANCELED);
            e.u.canceled = (lx_ev_canceled_t){.order_id = 5, .reason = 1, .qty = 6};
            if (kind == 3) e.u.rejected.reason = LX_REJECT_INSUFFICIENT_FUNDS;
            if (kind == 8) e.type = LX_EV_REJECTED, e.u.rejected.reason = 1;
            lx__web_outcome_event(&o, &e);
        }
        if (kind == 5) {
            e = ev_of(LX_EV_ORDER_AMENDED);
            e.u.amended = (lx_ev_amended_t){.order_id = 5, .price = 101, .qty = 8, .remaining = 8};
            lx__web_outcome_event(&o, &e);
        }
        if (kind == 6) {
            e = ev_of(LX_EV_ORDER_CANCELED);
            lx__web_outcome_event(&o, &e);
            lx__web_outcome_event(&o, &e);
        }
        if (kind == 0) o.price = INT64_MAX; /* not renderable: null */
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) result_same(ids[i], &o);
        o.seq = 0;
        result_same("1", &o);
    }
    /* an id too long to keep inline stays a json_t (web.c) */
    char idt[LX__WEB_ID_TEXT];
    json_t *id = parse("\"0123456789012345678901234567890123456789012345678\"");
    assert_int_equal(lx__web_id_text(id, idt, sizeof idt), -1);
    json_decref(id);
}

/* lx__web_utf8_trim: what quotes a client's bytes into an error message
 * leaves valid UTF-8 (jansson refuses anything else, and the answer was a
 * 500): a character cut short at the end is dropped, every other byte that
 * is not part of a valid character becomes '?'. */
static void test_utf8_trim(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"ab\xc3", "ab"}, /* cut short at the end */
        {"ab\xe2\x82", "ab"},
        {"ab\xff"
         "cd",
         "ab?cd"},                        /* never a lead byte */
        {"x\xc0\xafy", "x??y"},           /* overlong */
        {"x\xed\xa0\x80y", "x???y"},      /* a surrogate */
        {"x\xf4\x90\x80\x80y", "x????y"}, /* above U+10FFFF */
        {"x\x80y", "x?y"},                /* a lone continuation byte */
        {"\xc3(", "?("},                  /* a lead byte without its continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        lx__web_utf8_trim(buf);
        assert_string_equal(buf, cases[i].out);
        json_t *j = json_string(buf);
        assert_non_null(j); /* jansson takes it */
        json_decref(j);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_exact),  cmocka_unit_test(test_numbers_in_strings),
        cmocka_unit_test(test_parse_errors),   cmocka_unit_test(test_u64_and_keys),
        cmocka_unit_test(test_markets_render), cmocka_unit_test(test_place),
        cmocka_unit_test(test_place_errors),   cmocka_unit_test(test_cancel_amend),
        cmocka_unit_test(test_outcome),        cmocka_unit_test(test_ws_result),
        cmocka_unit_test(test_flat),           cmocka_unit_test(test_utf8_trim),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
