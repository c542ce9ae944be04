/*
 * test_node_gw.c: the node's gateway interface (lx/node.h) without sockets:
 * a test thread plays a second gateway with market data and DONE messages,
 * producing into its in ring and consuming its out ring directly.
 *
 *   - the start-up state: on a fresh data directory only STATE_END (the
 *     boot commands then arrive as events); after a restart, the markets
 *     with their sequence numbers and levels, the balances and the open
 *     orders, equal to what the engine holds;
 *   - a command's events carry its tag and come before its DONE; market
 *     data (BOOK_LEVEL, BALANCE) reaches the market-data gateway; a trade
 *     between sessions of two gateways reaches each gateway with only its
 *     own session;
 *   - the sequencer's TICK: a GTD order expires without any other command;
 *   - shutdown with lx_node_stop_inputs: every out ring closes;
 *   - the binary gateway's threads are node gateways: with 2 threads it takes
 *     gateways 0 and 1 and the next gateway added is 2; with 7 (the most)
 *     there is room for one more (the web gateway's); when the node has no
 *     room for its threads lx_gw_tcp_open fails naming
 *     gateway.binary_threads; 2 threads and a ring gateway start and stop;
 *   - the web gateway's HTTP edges over a socket: a path that is not UTF-8
 *     is 404, a chunked request body is refused (411), never taken for an
 *     empty one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lx/config.h"
#include "lx/engine.h"
#include "lx/error.h"
#include "lx/gw_tcp.h"
#include "lx/gw_web.h"
#include "lx/node.h"

#define BTC 0
#define PX 2500000 /* 25,000.00 USD in ticks */

typedef struct {
    lx_config_t cfg;
    lx_node_t *node;
    int gw;
    lx_ring_t *in, *out;
} tn_t;

/* tick_ms: the sequencer's TICK interval (UINT32_MAX: none, so that the test
 * thread may read the engine while the node runs: nothing changes it). */
static void tn_open(tn_t *t, const char *dir, uint32_t tick_ms) {
    char err[512] = "";
    memset(t, 0, sizeof *t);
    assert_int_equal(lx_config_default(&t->cfg, err, sizeof err), 0);
    snprintf(t->cfg.node.data_dir, sizeof t->cfg.node.data_dir, "%s", dir);
    t->cfg.engine.max_orders = 4096;
    lx_node_opts_t no = {.faucet_accounts = 4, .ring_capacity = 256, .tick_ms = tick_ms};
    int rc = lx_node_open(&t->node, &t->cfg, &no, err, sizeof err);
    if (rc) fprintf(stderr, "lx_node_open: %s\n", err);
    assert_int_equal(rc, 0);
    lx_node_gw_opts_t go = {.flags = LX_NODE_GW_MARKET_DATA | LX_NODE_GW_DONE};
    t->gw = lx_node_add_gateway(t->node, &go, &t->in, &t->out);
    assert_int_equal(t->gw, 1);
    assert_int_equal(lx_node_start(t->node), 0);
}

/* Takes the next out message (waits up to 5 s). */
static lx_node_out_t tn_next(tn_t *t) {
    int g = lx_ring_peek_wait(t->out, 1, 5000000000ll);
    assert_true(g == 1);
    lx_node_out_t o;
    memcpy(&o, lx_ring_rslot(t->out, 0), sizeof o);
    lx_ring_release(t->out, 1);
    return o;
}

static void tn_send(tn_t *t, uint64_t local, uint64_t tag, const lx_cmd_t *cmd) {
    assert_int_equal(lx_ring_reserve_wait(t->in, 1, LX_RING_FOREVER), 1);
    lx_node_msg_t *m = lx_ring_wslot(t->in, 0);
    memset(m, 0, sizeof *m);
    m->kind = LX_NODE_MSG_CMD;
    m->session = LX_NODE_SESSION((unsigned)t->gw, local);
    m->tag = tag;
    m->cmd = *cmd;
    lx_ring_commit(t->in, 1);
    lx_node_kick(t->node);
}

static lx_cmd_t place(lx_account_id_t a, uint8_t side, int64_t px, int64_t qty, uint8_t tif,
                      int64_t expiry) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.u.place = (lx_cmd_place_t){.account = a,
                                 .market = BTC,
                                 .side = side,
                                 .tif = tif,
                                 .price = px,
                                 .qty = qty,
                                 .client_id = 0,
                                 .expiry = expiry};
    return c;
}

/* Reads until the DONE of `tag`, counting event types with that tag. */
static void until_done(tn_t *t, uint64_t tag, int counts[LX_EV__MAX + 1], uint64_t *order_id) {
    for (;;) {
        lx_node_out_t o = tn_next(t);
        if (o.kind == LX_NODE_OUT_DONE) {
            assert_int_equal(o.tag, tag);
            assert_int_equal(LX_NODE_SESSION_GW(o.session[0]), (unsigned)t->gw);
            return;
        }
        assert_int_equal(o.kind, LX_NODE_OUT_EVENT);
        if (o.tag != tag) continue;
        counts[o.ev.type]++;
        if (o.ev.type == LX_EV_ORDER_ACCEPTED && order_id) *order_id = o.ev.u.accepted.order_id;
        if (o.session[0]) assert_int_equal(LX_NODE_SESSION_GW(o.session[0]), (unsigned)t->gw);
    }
}

static void tn_stop(tn_t *t) {
    lx_node_stop_inputs(t->node);
    for (;;) { /* drain until the engine closes the out ring */
        int g = lx_ring_peek_wait(t->out, 64, 1000000000ll);
        if (g == LX_ECLOSED) break;
        if (g > 0) lx_ring_release(t->out, (uint32_t)g);
    }
    lx_node_join(t->node);
    lx_node_close(t->node);
    lx_config_free(&t->cfg);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static int64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_gateway_events_done_state_tick(void **state) {
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/lx-test-nodegw-XXXXXX");
    assert_non_null(mkdtemp(dir));
    tn_t t;
    tn_open(&t, dir, 20);

    /* fresh: nothing to describe yet */
    lx_node_out_t o = tn_next(&t);
    assert_int_equal(o.kind, LX_NODE_OUT_STATE_END);

    /* a resting bid: ACCEPTED (tagged, our session), BOOK_LEVEL and BALANCE, then DONE */
    int c1[LX_EV__MAX + 1] = {0};
    uint64_t bid = 0;
    lx_cmd_t cmd = place(1, LX_SIDE_BUY, PX, 10, LX_TIF_GTC, 0);
    tn_send(&t, 7, 1001, &cmd);
    until_done(&t, 1001, c1, &bid);
    assert_int_equal(c1[LX_EV_ORDER_ACCEPTED], 1);
    assert_int_equal(c1[LX_EV_BOOK_LEVEL], 1);
    assert_true(c1[LX_EV_BALANCE] >= 1);
    assert_true(bid != 0);

    /* a crossing sell from another session of ours: one TRADE, tagged */
    int c2[LX_EV__MAX + 1] = {0};
    cmd = place(2, LX_SIDE_SELL, PX, 4, LX_TIF_IOC, 0);
    tn_send(&t, 8, 1002, &cmd);
    until_done(&t, 1002, c2, NULL);
    assert_int_equal(c2[LX_EV_TRADE], 1);

    /* a GTD order 50 ms ahead expires through the sequencer's TICK */
    int c3[LX_EV__MAX + 1] = {0};
    uint64_t gtd = 0;
    cmd = place(3, LX_SIDE_BUY, PX - 100, 5, LX_TIF_GTD, wall_ns() + 50000000);
    tn_send(&t, 9, 1003, &cmd);
    until_done(&t, 1003, c3, &gtd);
    assert_int_equal(c3[LX_EV_ORDER_ACCEPTED], 1);
    bool expired = false;
    while (!expired) {
        o = tn_next(&t);
        if (o.kind == LX_NODE_OUT_EVENT && o.ev.type == LX_EV_ORDER_CANCELED) {
            assert_int_equal(o.ev.u.canceled.order_id, gtd);
            assert_int_equal(o.ev.u.canceled.reason, LX_CANCEL_EXPIRED);
            assert_int_equal(o.tag, 0); /* no command of ours caused it */
            /* the order's session still gets the report */
            assert_int_equal(o.session[0], LX_NODE_SESSION(1, 9));
            expired = true;
        }
    }
    tn_stop(&t);

    /* restart: the start-up state equals the engine's */
    tn_open(&t, dir, UINT32_MAX);
    const lx_engine_t *e = lx_node_engine(t.node);
    int markets = 0, levels = 0, balances = 0, orders = 0, ages = 0;
    for (;;) {
        o = tn_next(&t);
        if (o.kind == LX_NODE_OUT_STATE_END) break;
        assert_int_equal(o.kind, LX_NODE_OUT_STATE);
        switch (o.ev.type) {
        case LX_EV_MARKET_STATE:
            markets++;
            break;
        case LX_EV_BOOK_LEVEL: {
            levels++;
            uint32_t count = 0;
            assert_int_equal(lx_engine_depth_at(e, o.ev.market, (lx_side_t)o.ev.u.level.side,
                                                o.ev.u.level.price, &count),
                             o.ev.u.level.qty);
            assert_int_equal(count, o.ev.u.level.count);
            break;
        }
        case LX_EV_BALANCE: {
            balances++;
            int64_t f, l;
            assert_int_equal(
                lx_engine_balance(e, o.ev.u.balance.account, o.ev.u.balance.asset, &f, &l), 0);
            assert_int_equal(f, o.ev.u.balance.free);
            assert_int_equal(l, o.ev.u.balance.locked);
            break;
        }
        case LX_EV_ORDER_ACCEPTED:
            orders++;
            assert_int_equal(o.order.order_id, bid);
            assert_int_equal(o.order.remaining, 6);
            break;
        case LX_EV_ORDER_AMENDED: /* the open orders again, in acceptance order */
            ages++;
            assert_int_equal(orders, 1);
            assert_int_equal(o.ev.u.amended.order_id, bid);
            break;
        default:
            fail_msg("unexpected state event %d", o.ev.type);
        }
    }
    assert_int_equal(markets, 2);
    assert_int_equal(levels, 1);
    assert_int_equal(orders, 1);
    assert_int_equal(ages, 1);
    assert_true(balances >= 8); /* 4 faucet accounts x at least 2 assets */
    tn_stop(&t);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_add_gateway_limits(void **state) {
    (void)state;
    char dir[64], err[256] = "";
    snprintf(dir, sizeof dir, "/tmp/lx-test-nodegw-XXXXXX");
    assert_non_null(mkdtemp(dir));
    lx_config_t cfg;
    assert_int_equal(lx_config_default(&cfg, err, sizeof err), 0);
    snprintf(cfg.node.data_dir, sizeof cfg.node.data_dir, "%s", dir);
    cfg.engine.max_orders = 1024;
    lx_node_t *n;
    lx_node_opts_t no = {.ring_capacity = 16, .tick_ms = UINT32_MAX};
    assert_int_equal(lx_node_open(&n, &cfg, &no, err, sizeof err), 0);
    lx_node_gw_opts_t go = {0};
    lx_ring_t *in, *out;
    for (int i = 1; i < LX_NODE_GATEWAYS_MAX; i++)
        assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), i);
    assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), LX_EFULL);
    assert_int_equal(lx_node_start(n), 0);
    assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), LX_ESTATE);
    lx_node_stop_inputs(n);
    lx_node_join(n); /* no gateway subscribed to anything: nothing to drain */
    lx_node_close(n);
    lx_config_free(&cfg);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_binary_threads_are_gateways(void **state) {
    (void)state;
    char dir[64], err[256] = "";
    snprintf(dir, sizeof dir, "/tmp/lx-test-nodegw-XXXXXX");
    assert_non_null(mkdtemp(dir));
    lx_config_t cfg;
    assert_int_equal(lx_config_default(&cfg, err, sizeof err), 0);
    snprintf(cfg.node.data_dir, sizeof cfg.node.data_dir, "%s", dir);
    cfg.engine.max_orders = 1024;
    cfg.listen.binary.port = 0;
    lx_node_opts_t no = {.ring_capacity = 64, .tick_ms = UINT32_MAX, .faucet_accounts = 1};
    lx_node_gw_opts_t go = {0};
    lx_ring_t *in, *out;

    /* 2 threads: gateways 0 and 1; a ring gateway next is 2; start and stop */
    lx_node_t *n;
    lx_gw_tcp_t *gw;
    assert_int_equal(lx_node_open(&n, &cfg, &no, err, sizeof err), 0);
    lx_gw_tcp_opts_t to = {.threads = 2};
    assert_int_equal(lx_gw_tcp_open(&gw, n, &cfg, &to, err, sizeof err), 0);
    assert_int_equal(lx_gw_tcp_threads(gw), 2);
    assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), 2);
    assert_int_equal(lx_node_start(n), 0);
    assert_int_equal(lx_gw_tcp_start(gw), 0);
    lx_node_gateway_close(n, 2); /* the ring gateway's part of the stop */
    lx_gw_tcp_stop(gw);
    lx_node_join(n);
    assert_true(lx_ring_closed(out));
    lx_gw_tcp_close(gw);
    lx_node_close(n);

    /* the most threads leave one gateway for the web gateway */
    assert_int_equal(lx_node_open(&n, &cfg, &no, err, sizeof err), 0);
    to.threads = LX_CONFIG_BINARY_THREADS_MAX;
    assert_int_equal(lx_gw_tcp_open(&gw, n, &cfg, &to, err, sizeof err), 0);
    assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), LX_CONFIG_BINARY_THREADS_MAX);
    assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), LX_EFULL);
    lx_gw_tcp_close(gw);
    lx_node_close(n);

    /* no room: the error names the key */
    assert_int_equal(lx_node_open(&n, &cfg, &no, err, sizeof err), 0);
    assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), 1);
    assert_int_equal(lx_node_add_gateway(n, &go, &in, &out), 2);
    err[0] = 0;
    assert_int_equal(lx_gw_tcp_open(&gw, n, &cfg, &to, err, sizeof err), LX_EFULL);
    assert_non_null(strstr(err, "gateway.binary_threads"));
    lx_node_close(n);
    lx_config_free(&cfg);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* One HTTP exchange with the web gateway on 127.0.0.1:port: sends req
 * (len bytes), reads the response until the gateway closes the connection
 * (one request per connection, docs/api.md §4). Returns the status code;
 * resp gets the response, NUL-terminated. */
static int http_raw(uint16_t port, const char *req, size_t len, char *resp, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
    size_t n = 0;
    for (;;) {
        ssize_t k = recv(fd, resp + n, cap - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        if (n == cap - 1) break;
    }
    resp[n] = 0;
    close(fd);
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    return status;
}

static int http_get(uint16_t port, const char *path, char *resp, size_t cap) {
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    return http_raw(port, req, (size_t)n, resp, cap);
}

/* A node with the web gateway on 127.0.0.1:<any port> (HTTP only), its
 * start-up state loaded (/health 200). */
typedef struct {
    char dir[64];
    lx_config_t cfg;
    lx_node_t *n;
    lx_gw_web_t *web;
    uint16_t port;
} tw_t;

static void tw_open(tw_t *t) {
    char err[256] = "";
    static char resp[4096];
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/lx-test-nodegw-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    assert_int_equal(lx_config_default(&t->cfg, err, sizeof err), 0);
    snprintf(t->cfg.node.data_dir, sizeof t->cfg.node.data_dir, "%s", t->dir);
    t->cfg.engine.max_orders = 1024;
    t->cfg.listen.http.port = 0;
    t->cfg.listen.ws.enabled = false;
    lx_node_opts_t no = {.ring_capacity = 256, .tick_ms = UINT32_MAX, .faucet_accounts = 4};
    assert_int_equal(lx_node_open(&t->n, &t->cfg, &no, err, sizeof err), 0);
    int rc = lx_gw_web_open(&t->web, t->n, &t->cfg, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "lx_gw_web_open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(lx_node_start(t->n), 0);
    assert_int_equal(lx_gw_web_start(t->web), 0);
    t->port = lx_gw_web_http_port(t->web);
    assert_true(t->port != 0);
    int st = 0;
    for (int i = 0; i < 500 && (st = http_get(t->port, "/health", resp, sizeof resp)) != 200; i++)
        usleep(10000);
    assert_int_equal(st, 200);
}

static void tw_close(tw_t *t) {
    lx_gw_web_stop_async(t->web);
    lx_node_gateway_close(t->n, 0); /* no binary gateway: nobody else closes gateway 0 */
    lx_gw_web_stop(t->web);
    lx_node_join(t->n);
    lx_gw_web_close(t->web);
    lx_node_close(t->n);
    lx_config_free(&t->cfg);
    nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A path with bytes that are not UTF-8 (raw or percent-encoded) is an
 * unknown route, market, order or account: 404 not_found, as any other
 * (docs/api.md §7), not 500 "out of memory" because the error message that
 * quotes the path is not valid JSON text. */
static void test_web_http_path_not_utf8(void **state) {
    (void)state;
    tw_t t;
    tw_open(&t);
    static char resp[65536];
    static const char *const bad[] = {"/v1/book/%FFab",
                                      "/v1/book/\xff\xfe",
                                      "/v1/orders/\xff",
                                      "/v1/accounts/\xfe"
                                      "1/orders",
                                      "/\xc3",
                                      "/v1/book/BTC\xc3("};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = http_get(t.port, bad[i], resp, sizeof resp);
        if (st != 404) fprintf(stderr, "GET %s: %s\n", bad[i], resp);
        assert_int_equal(st, 404);
        assert_non_null(strstr(resp, "\"not_found\""));
    }
    tw_close(&t);
}

/* HEAD (what load balancers send to /health): the status and headers GET
 * would give, Content-Length included, and no body (RFC 9110 9.3.2); a
 * route that takes no GET answers 405 the same way. It was 405 with a body,
 * which a client that keeps the connection reads as the next response. */
static void test_web_http_head(void **state) {
    (void)state;
    tw_t t;
    tw_open(&t);
    static char resp[65536];
    static const struct {
        const char *path;
        int status;
    } cases[] = {{"/health", 200}, {"/v1/markets", 200}, {"/rpc", 405}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256];
        int n = snprintf(req, sizeof req, "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n", cases[i].path);
        int st = http_raw(t.port, req, (size_t)n, resp, sizeof resp);
        if (st != cases[i].status) fprintf(stderr, "HEAD %s: %s\n", cases[i].path, resp);
        assert_int_equal(st, cases[i].status);
        assert_non_null(strcasestr(resp, "content-length:"));
        const char *body = strstr(resp, "\r\n\r\n");
        assert_non_null(body);
        assert_string_equal(body + 4, ""); /* headers only */
    }
    tw_close(&t);
}

/* A request body sent with Transfer-Encoding: chunked (no Content-Length:
 * what an HTTP/1.1 client that streams a body sends) is refused with 411
 * Length Required (RFC 9112 §6.3): libwebsockets does not decode it, and it
 * was answered as if the client had sent no body (-32700 "near end of
 * file", "account: required"). */
static void test_web_http_chunked_body(void **state) {
    (void)state;
    tw_t t;
    tw_open(&t);
    static char resp[65536];
    static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"lx_ping\"}";
    char req[1024];
    int len = snprintf(req, sizeof req,
                       "POST /rpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "%zx\r\n%s\r\n0\r\n\r\n",
                       sizeof ping - 1, ping);
    assert_int_equal(http_raw(t.port, req, (size_t)len, resp, sizeof resp), 411);
    assert_non_null(strstr(resp, "\"length_required\""));
    static const char order[] = "{\"account\":1,\"market\":\"BTC-USD\",\"side\":\"buy\","
                                "\"price\":\"100\",\"size\":\"0.01\"}";
    len = snprintf(req, sizeof req,
                   "POST /v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "%zx\r\n%s\r\n0\r\n\r\n",
                   sizeof order - 1, order);
    assert_int_equal(http_raw(t.port, req, (size_t)len, resp, sizeof resp), 411);
    assert_non_null(strstr(resp, "\"length_required\""));
    tw_close(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_events_done_state_tick),
        cmocka_unit_test(test_add_gateway_limits),
        cmocka_unit_test(test_binary_threads_are_gateways),
        cmocka_unit_test(test_web_http_path_not_utf8),
        cmocka_unit_test(test_web_http_chunked_body),
        cmocka_unit_test(test_web_http_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
