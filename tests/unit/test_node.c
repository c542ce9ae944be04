/*
 * test_node.c: the node (src/node/node.c) with the binary TCP gateway
 * (src/gw/tcp.c), in process, on loopback with a port the system picks and
 * a temporary data directory, driven by a small blocking client built on
 * the protocol codec.
 *
 *   - logon, resting orders, a crossing order gives FILLs on both sessions
 *     (client ids filled in), cancel by order id and by client id, a
 *     rejection comes back as REJECTED with its reason, ORDER_STATUS;
 *     report numbers are 1, 2, 3, ... per session;
 *   - session errors: requests before LOGON, a signed logon, a bad version,
 *     an unknown type (REJECT, the stream goes on), an oversized frame
 *     (REJECT TOO_LARGE, then the connection closes);
 *   - resume + RESEND_REQUEST: reports produced while the client was away
 *     are numbered and replayed with the RESENT flag, then RESEND_END; a
 *     small history gives "trimmed"; a resend larger than the output bound
 *     arrives whole; a session away for longer than the linger time loses
 *     its history; after a resend the output bound holds again (live
 *     reports get the normal bound on top of the replay still queued);
 *     session ids differ between two starts in one second, so an id of
 *     another run resumes nothing;
 *   - restart: the book comes back from the journal (ORDER_STATUS says
 *     open, the digest is the one the node stopped with); with snapshots
 *     every 100 commands, a restart starts from the newest snapshot;
 *   - durability: with an fdatasync that blocks, no ACCEPTED leaves before
 *     the fdatasync returned; with one that fails, the node does not start
 *     (at boot) or takes no more requests (REJECT UNAVAILABLE);
 *   - the engine out of memory: a command is tried again until memory comes
 *     back; if it does not, the node stops and the next start applies it;
 *   - many orders from two clients: every report arrives, numbers gap-free;
 *   - limits: a reader too slow for its output bound is disconnected (the
 *     node goes on), max_connections and max_connections_per_ip, heartbeats
 *     and the silence timeout, rate limits per account (over its sessions)
 *     and per connection (frames the decoder refuses count too); a LOGON
 *     refused because all 32 sessions of the account are connected leaves
 *     the connection open for a later LOGON; a SIGNED action is charged to
 *     the account it acts for when its key may act for it, else to the
 *     sending session's;
 *   - a signed logon whose key is not the account's owner key nor a live
 *     agent's is LOGON_FAILED (keys from the start-up state, without dev
 *     mode, and from live events); the cancel-on-disconnect of a signed
 *     session carries its key, so a revoked agent's does nothing;
 *
 * Every test runs twice: with one gateway thread and with two (connections
 * then alternate between the threads). Then, with two threads: sessions on
 * both trade with each other; a session resumed from the other thread
 * moves there and gets its missed reports (a RESEND_REQUEST pipelined
 * behind the LOGON, a signed logon); cancel-on-disconnect on thread 1; one
 * account's rate limit over connections on both threads; the per-address
 * connection cap counted over both.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lx/config.h"
#include "lx/engine.h"
#include "lx/error.h"
#include "lx/gw_tcp.h"
#include "lx/journal.h"
#include "lx/node.h"
#include "lx/proto.h"
#include "lx/sign.h"
#include "failalloc.h"
#include <sodium.h>

#define BTC 0 /* market ids of the default config */
#define ETH 1
#define PX 2500000 /* 25,000.00 USD in ticks */

/* ---- a node in process ------------------------------------------------------ */

typedef struct {
    lx_config_t cfg;
    lx_node_t *node;
    lx_gw_tcp_t *gw;
    uint16_t port;
} tnode_t;

/* Knobs for the next tnode_start (reset by it). */
static uint32_t t_max_conns, t_per_ip;
static uint64_t t_snap_every;
static uint32_t t_linger_ms;
/* gateway session_linger_ms; 0: its default */ /* journal.snapshot_every_commands;
                                                   0: the config's */
static uint64_t t_out_max;
static lx_config_rate_t t_per_account, t_per_conn; /* rate limits; {0, 0}: none */
static const uint8_t *t_bridge;                    /* bridge public key; NULL: none */
static int64_t t_deadman_lead_ns;                  /* engine.deadman_min_lead; 0: default */
static bool t_prod; /* node.dev_mode false (needs t_bridge): signed logons only */
/* binary gateway threads: every test runs with 1 and with 2 (main) */
static uint32_t t_threads = 1;
/* connections made since tnode_start: the gateway deals them out round
 * robin, so the next one lands on thread t_conns % t_threads (tests that
 * make a connection the node refuses do not rely on it afterwards) */
static unsigned t_conns;
static uint32_t t_shards;  /* shards (markets: id % shards); 0: 1 */
static uint32_t t_tick_ms; /* lx_node_opts_t.tick_ms; 0: the default */

static void tnode_start(tnode_t *t, const char *dir, const lx_io_t *io, uint32_t history) {
    char err[512] = "";
    memset(t, 0, sizeof *t);
    assert_int_equal(lx_config_default(&t->cfg, err, sizeof err), 0);
    t->cfg.listen.binary.port = 0;
    if (t_max_conns) t->cfg.limits.max_connections = t_max_conns;
    if (t_per_ip) t->cfg.limits.max_connections_per_ip = t_per_ip;
    if (t_snap_every) t->cfg.journal.snapshot_every_commands = t_snap_every;
    t->cfg.rate_limits.per_account = t_per_account;
    t->cfg.rate_limits.per_connection = t_per_conn;
    if (t_deadman_lead_ns) t->cfg.engine.deadman_min_lead_ns = t_deadman_lead_ns;
    t_deadman_lead_ns = 0;
    if (t_shards) {
        t->cfg.shards = t_shards;
        for (size_t i = 0; i < t->cfg.nmarkets; i++)
            t->cfg.markets[i].shard = t->cfg.markets[i].id % t_shards;
        t_shards = 0;
    }
    if (t_bridge) {
        memcpy(t->cfg.bridge_key, t_bridge, 32);
        t->cfg.has_bridge_key = true;
        t_bridge = NULL;
    }
    if (t_prod) t->cfg.node.dev_mode = false;
    t_prod = false;
    snprintf(t->cfg.node.data_dir, sizeof t->cfg.node.data_dir, "%s", dir);
    t->cfg.engine.max_orders = 65536; /* smaller route table */
    lx_node_opts_t no = {
        .io = io, .faucet_accounts = 10, .ring_capacity = 1024, .tick_ms = t_tick_ms};
    t_tick_ms = 0;
    int rc = lx_node_open(&t->node, &t->cfg, &no, err, sizeof err);
    if (rc) fprintf(stderr, "lx_node_open: %s\n", err);
    assert_int_equal(rc, 0);
    lx_gw_tcp_opts_t go = {.history = history,
                           .out_buffer_max = t_out_max,
                           .session_linger_ms = t_linger_ms,
                           .threads = t_threads};
    t_max_conns = t_per_ip = 0;
    t_snap_every = 0;
    t_linger_ms = 0;
    t_out_max = 0;
    memset(&t_per_account, 0, sizeof t_per_account);
    memset(&t_per_conn, 0, sizeof t_per_conn);
    rc = lx_gw_tcp_open(&t->gw, t->node, &t->cfg, &go, err, sizeof err);
    if (rc) fprintf(stderr, "lx_gw_tcp_open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(lx_gw_tcp_threads(t->gw), t_threads);
    t_conns = 0;
    t->port = lx_gw_tcp_port(t->gw);
    assert_true(t->port != 0);
    assert_int_equal(lx_node_start(t->node), 0);
    assert_int_equal(lx_gw_tcp_start(t->gw), 0);
}

static lx_node_stats_t t_last_stats; /* of the last node stopped */

/* Stops and closes the node; returns the digest of its engines and sets
 * t_last_stats (journal_error says whether it had stopped taking commands). */
static uint64_t tnode_close(tnode_t *t) {
    lx_gw_tcp_stop(t->gw);
    lx_node_join(t->node);
    uint64_t digest = lx_engine_digest(lx_node_engine(t->node));
    for (unsigned k = 1; k < lx_node_shards(t->node); k++)
        digest = digest * 1000003u ^ lx_engine_digest(lx_node_shard_engine(t->node, k));
    lx_node_stats(t->node, &t_last_stats);
    lx_gw_tcp_close(t->gw);
    lx_node_close(t->node);
    lx_config_free(&t->cfg);
    return digest;
}

/* tnode_close of a node that never failed */
static uint64_t tnode_stop(tnode_t *t) {
    uint64_t digest = tnode_close(t);
    assert_int_equal(t_last_stats.journal_error, 0);
    return digest;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void make_dir(char *buf, size_t cap) {
    snprintf(buf, cap, "/tmp/lx-test-node-XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void remove_dir(const char *dir) {
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- a blocking client ---------------------------------------------------------- */

typedef struct {
    int fd;
    lx_proto_decoder_t dec;
    uint8_t buf[65536];
    size_t off, len;
    uint64_t session, next_seq; /* the seq the next report must carry */
    bool keep_heartbeats;       /* cli_recv returns SERVER_HEARTBEATs too */
} tcli_t;

static void cli_connect(tcli_t *c, uint16_t port) {
    t_conns++;
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    lx_proto_decoder_init(&c->dec, LX_PROTO_FROM_SERVER);
    c->next_seq = 1;
}

static void cli_close(tcli_t *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static void cli_raw(tcli_t *c, const void *b, size_t n) {
    assert_int_equal(send(c->fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void cli_send(tcli_t *c, const lx_proto_msg_t *m) {
    uint8_t b[LX_PROTO_FRAME_MAX];
    int n = lx_proto_encode(m, b, sizeof b);
    assert_true(n > 0);
    cli_raw(c, b, (size_t)n);
}

/* 1: a message; 0: nothing within timeout_ms; -1: the server closed. Skips
 * server heartbeats. */
static int cli_recv(tcli_t *c, lx_proto_msg_t *m, int timeout_ms) {
    for (;;) {
        while (c->off < c->len) {
            const uint8_t *p = c->buf + c->off;
            size_t len = c->len - c->off;
            int rc = lx_proto_decode(&c->dec, &p, &len, m);
            c->off = (size_t)(p - c->buf);
            assert_true(rc >= 0);
            if (rc == 1) {
                if (m->type == LX_PROTO_SERVER_HEARTBEAT && !c->keep_heartbeats) continue;
                return 1;
            }
        }
        c->off = c->len = 0;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pf, 1, timeout_ms);
        if (pr == 0) return 0;
        if (pr < 0 && errno == EINTR) continue;
        ssize_t r = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (r <= 0) return -1;
        c->len = (size_t)r;
    }
}

/* The next message, which must be of `type`; execution reports must carry
 * the next seq of the session. */
static lx_proto_msg_t cli_expect(tcli_t *c, int type) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    int rc = cli_recv(c, &m, 5000);
    if (rc != 1 || m.type != type)
        fprintf(stderr, "expected %s, got %s (rc %d, reason %s)\n", lx_proto_type_name(type),
                rc == 1 ? lx_proto_type_name(m.type) : "nothing", rc,
                m.type == LX_PROTO_REJECT ? lx_proto_reason_name(m.u.reject.reason) : "-");
    assert_int_equal(rc, 1);
    assert_int_equal(m.type, type);
    if (lx_proto_is_exec(type) && !(m.flags & LX_PROTO_F_RESENT)) {
        assert_int_equal(lx_proto_exec(&m)->seq, c->next_seq);
        c->next_seq++;
    }
    return m;
}

static void cli_expect_nothing(tcli_t *c, int ms) {
    lx_proto_msg_t m;
    int rc = cli_recv(c, &m, ms);
    if (rc == 1) fprintf(stderr, "unexpected %s\n", lx_proto_type_name(m.type));
    assert_int_equal(rc, 0);
}

/* Reads until the server closes the connection: everything before is a
 * REJECT (a client cut off for pushing over its rate limit). */
static void cli_rejects_until_closed(tcli_t *c) {
    lx_proto_msg_t m;
    int r;
    while ((r = cli_recv(c, &m, 5000)) == 1) assert_int_equal(m.type, LX_PROTO_REJECT);
    assert_int_equal(r, -1);
}

static void cli_expect_closed(tcli_t *c) {
    lx_proto_msg_t m;
    int rc;
    while ((rc = cli_recv(c, &m, 5000)) == 1) {
    }
    assert_int_equal(rc, -1);
}

static lx_proto_msg_t logon_msg(lx_account_id_t account, uint64_t session, uint8_t flags) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.flags = flags;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = account;
    m.u.logon.session_id = session;
    return m;
}

static lx_proto_msg_t cli_logon_flags(tcli_t *c, lx_account_id_t account, uint64_t session,
                                      uint8_t flags) {
    lx_proto_msg_t m = logon_msg(account, session, flags);
    cli_send(c, &m);
    lx_proto_msg_t ack = cli_expect(c, LX_PROTO_LOGON_ACK);
    assert_int_equal(ack.u.logon_ack.account, account);
    c->session = ack.u.logon_ack.session_id;
    c->next_seq = ack.u.logon_ack.next_seq;
    return ack;
}

static lx_proto_msg_t cli_logon(tcli_t *c, lx_account_id_t account, uint64_t session) {
    return cli_logon_flags(c, account, session, 0);
}

static void cli_place(tcli_t *c, lx_market_id_t market, uint64_t cid, int side, int tif,
                      int64_t price, int64_t qty) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_PLACE;
    m.u.place.market = market;
    m.u.place.client_id = cid;
    m.u.place.side = (uint8_t)side;
    m.u.place.tif = (uint8_t)tif;
    m.u.place.price = price;
    m.u.place.qty = qty;
    cli_send(c, &m);
}

static void cli_cancel(tcli_t *c, lx_market_id_t market, lx_order_id_t id, uint64_t cid) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_CANCEL;
    m.u.cancel.market = market;
    m.u.cancel.order_id = id;
    m.u.cancel.client_id = cid;
    m.u.cancel.by_client_id = id == 0;
    cli_send(c, &m);
}

/* ORDER_STATUS by order id naming a market (LX_MARKET_ALL: any). */
static lx_proto_msg_t cli_status_in(tcli_t *c, lx_market_id_t market, lx_order_id_t id) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_ORDER_STATUS;
    m.u.order_status.market = market;
    m.u.order_status.order_id = id;
    cli_send(c, &m);
    return cli_expect(c, LX_PROTO_ORDER_STATUS_REPLY);
}

static lx_proto_msg_t cli_status(tcli_t *c, lx_order_id_t id) {
    return cli_status_in(c, LX_MARKET_ALL, id);
}

/* ORDER_STATUS by client id in `market` (LX_MARKET_ALL: any). */
static lx_proto_msg_t cli_status_cid(tcli_t *c, lx_market_id_t market, uint64_t cid) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_ORDER_STATUS;
    m.u.order_status.market = market;
    m.u.order_status.client_id = cid;
    m.u.order_status.by_client_id = 1;
    cli_send(c, &m);
    return cli_expect(c, LX_PROTO_ORDER_STATUS_REPLY);
}

/* The thread a client's session lives on: its node gateway, 0 or 1 here. */
static unsigned cli_thread(const tcli_t *c) {
    return LX_NODE_SESSION_GW(c->session);
}

/* Makes the next connection land on gateway thread `thread` (a connection
 * opened and closed shifts the round robin). */
static void cli_align(uint16_t port, unsigned thread) {
    if (t_conns % t_threads == thread) return;
    tcli_t x;
    cli_connect(&x, port);
    cli_close(&x);
    assert_int_equal(t_conns % t_threads, thread);
}

/* A status round trip through gateway thread `thread`: every report the
 * engine sent that thread before (say for a session away from it) is
 * numbered and kept when this returns. A round trip through another thread
 * does not say so: each thread drains its own out ring. */
static void cli_sync_thread(uint16_t port, unsigned thread) {
    cli_align(port, thread);
    tcli_t p;
    cli_connect(&p, port);
    cli_logon(&p, 9, 0);
    assert_int_equal(cli_thread(&p), thread);
    cli_status(&p, 1);
    cli_close(&p);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_trade_cancel_reject(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 1, 0);
    cli_logon(&b, 2, 0);
    assert_int_not_equal(a.session, b.session);

    /* A rests a sell of 10 lots; B buys 4 of them. */
    cli_place(&a, BTC, 11, LX_SIDE_SELL, LX_TIF_GTC, PX, 10);
    lx_proto_msg_t acc = cli_expect(&a, LX_PROTO_ACCEPTED);
    assert_int_equal(acc.u.accepted.h.client_id, 11);
    assert_int_equal(acc.u.accepted.price, PX);
    assert_int_equal(acc.u.accepted.qty, 10);
    assert_true(acc.u.accepted.h.ts > 0);
    lx_order_id_t a_order = acc.u.accepted.h.order_id;

    cli_place(&b, BTC, 21, LX_SIDE_BUY, LX_TIF_GTC, PX + 100, 4);
    lx_proto_msg_t bacc = cli_expect(&b, LX_PROTO_ACCEPTED);
    lx_proto_msg_t bf = cli_expect(&b, LX_PROTO_FILL);
    assert_int_equal(bf.u.fill.h.order_id, bacc.u.accepted.h.order_id);
    assert_int_equal(bf.u.fill.h.client_id, 21);
    assert_int_equal(bf.u.fill.liquidity, LX_PROTO_TAKER);
    assert_int_equal(bf.u.fill.price, PX);
    assert_int_equal(bf.u.fill.qty, 4);
    assert_int_equal(bf.u.fill.remaining, 0);
    lx_proto_msg_t af = cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(af.u.fill.h.order_id, a_order);
    assert_int_equal(af.u.fill.h.client_id, 11);
    assert_int_equal(af.u.fill.liquidity, LX_PROTO_MAKER);
    assert_int_equal(af.u.fill.side, LX_SIDE_SELL);
    assert_int_equal(af.u.fill.remaining, 6);

    /* ORDER_STATUS: open, 4 filled. */
    lx_proto_msg_t st = cli_status(&a, a_order);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(st.u.status_reply.remaining, 6);
    assert_int_equal(st.u.status_reply.filled, 4);
    assert_int_equal(st.u.status_reply.as_of_seq, a.next_seq - 1);
    /* By client id too. */
    st = cli_status_cid(&a, BTC, 11);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(st.u.status_reply.order_id, a_order);
    st = cli_status_cid(&a, BTC, 999);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_UNKNOWN);
    assert_int_equal(st.u.status_reply.client_id, 999);
    /* B cannot see A's order. */
    st = cli_status(&b, a_order);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_UNKNOWN);

    /* Cancel by client id. */
    cli_cancel(&a, BTC, 0, 11);
    lx_proto_msg_t cx = cli_expect(&a, LX_PROTO_CANCELED);
    assert_int_equal(cx.u.canceled.h.order_id, a_order);
    assert_int_equal(cx.u.canceled.qty, 6);
    assert_int_equal(cx.u.canceled.reason, LX_CANCEL_USER);

    /* Cancel by order id. */
    cli_place(&a, ETH, 12, LX_SIDE_BUY, LX_TIF_GTC, 200000, 5);
    acc = cli_expect(&a, LX_PROTO_ACCEPTED);
    cli_cancel(&a, ETH, acc.u.accepted.h.order_id, 0);
    cx = cli_expect(&a, LX_PROTO_CANCELED);
    assert_int_equal(cx.u.canceled.h.order_id, acc.u.accepted.h.order_id);
    assert_int_equal(cx.u.canceled.h.client_id, 12);

    /* Rejections: an unknown market, a cancel of an order that is gone, a
     * price off the band. */
    cli_place(&a, 7, 13, LX_SIDE_BUY, LX_TIF_GTC, PX, 1);
    lx_proto_msg_t rj = cli_expect(&a, LX_PROTO_REJECTED);
    assert_int_equal(rj.u.rejected.reason, LX_REJECT_UNKNOWN_MARKET);
    assert_int_equal(rj.u.rejected.cmd_type, LX_CMD_PLACE);
    assert_int_equal(rj.u.rejected.h.client_id, 13);
    cli_cancel(&a, BTC, a_order, 0);
    rj = cli_expect(&a, LX_PROTO_REJECTED);
    assert_int_equal(rj.u.rejected.cmd_type, LX_CMD_CANCEL);
    cli_place(&a, BTC, 14, LX_SIDE_BUY, LX_TIF_GTC, 1000000000, 1);
    rj = cli_expect(&a, LX_PROTO_REJECTED);
    assert_int_equal(rj.u.rejected.reason, LX_REJECT_PRICE_OUT_OF_BAND);

    /* Amend (a price change loses priority), then CANCEL_ALL. */
    cli_place(&a, ETH, 15, LX_SIDE_SELL, LX_TIF_GTC, 300000, 5);
    acc = cli_expect(&a, LX_PROTO_ACCEPTED);
    lx_proto_msg_t am;
    memset(&am, 0, sizeof am);
    am.type = LX_PROTO_AMEND;
    am.u.amend.market = ETH;
    am.u.amend.client_id = 15;
    am.u.amend.by_client_id = 1;
    am.u.amend.price = 300100;
    am.u.amend.qty = 7;
    cli_send(&a, &am);
    am = cli_expect(&a, LX_PROTO_AMENDED);
    assert_int_equal(am.u.amended.h.order_id, acc.u.accepted.h.order_id);
    assert_int_equal(am.u.amended.h.client_id, 15);
    assert_int_equal(am.u.amended.price, 300100);
    assert_int_equal(am.u.amended.remaining, 7);
    assert_int_equal(am.u.amended.priority_lost, 1);
    memset(&am, 0, sizeof am);
    am.type = LX_PROTO_CANCEL_ALL;
    am.u.cancel_all.market = LX_MARKET_ALL;
    cli_send(&a, &am);
    cx = cli_expect(&a, LX_PROTO_CANCELED);
    assert_int_equal(cx.u.canceled.h.client_id, 15);
    assert_int_equal(cx.u.canceled.reason, LX_CANCEL_CANCEL_ALL);
    assert_int_equal(cx.u.canceled.qty, 7);

    /* Nothing else arrived for B, and A's numbering is 1..11. */
    cli_expect_nothing(&b, 100);
    assert_int_equal(a.next_seq, 12);

    /* Another session of A's account amends A's order: it gets the
     * AMENDED it asked for, and the order's later reports still go to A,
     * which placed it (they followed the amending session: A lost them). */
    cli_place(&a, ETH, 16, LX_SIDE_SELL, LX_TIF_GTC, 301000, 5);
    acc = cli_expect(&a, LX_PROTO_ACCEPTED);
    tcli_t a2;
    cli_connect(&a2, t.port);
    cli_logon(&a2, 1, 0);
    memset(&am, 0, sizeof am);
    am.type = LX_PROTO_AMEND;
    am.u.amend.market = ETH;
    am.u.amend.order_id = acc.u.accepted.h.order_id;
    am.u.amend.price = 301000;
    am.u.amend.qty = 4;
    cli_send(&a2, &am);
    assert_int_equal(cli_expect(&a2, LX_PROTO_AMENDED).u.amended.remaining, 4);
    assert_int_equal(cli_expect(&a, LX_PROTO_AMENDED).u.amended.remaining, 4);
    cli_place(&b, ETH, 22, LX_SIDE_BUY, LX_TIF_IOC, 301000, 3);
    cli_expect(&b, LX_PROTO_ACCEPTED);
    cli_expect(&b, LX_PROTO_FILL);
    lx_proto_msg_t f = cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(f.u.fill.h.order_id, acc.u.accepted.h.order_id);
    assert_int_equal(f.u.fill.h.client_id, 16);
    assert_int_equal(f.u.fill.remaining, 1);
    cli_cancel(&a, ETH, acc.u.accepted.h.order_id, 0);
    cli_expect(&a, LX_PROTO_CANCELED);
    cli_expect_nothing(&a2, 100);
    cli_close(&a2);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Cancel-on-disconnect: when A's connection (flag set) drops, every open
 * order of the account is cancelled through the log, also the one another
 * session of the account placed; that session gets its CANCELED. A session
 * without the flag leaves its orders when it drops. */
static void test_cancel_on_disconnect(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b, c;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_connect(&c, t.port);
    cli_logon_flags(&a, 3, 0, LX_PROTO_LOGON_CANCEL_ON_DISCONNECT);
    cli_logon(&b, 3, 0);
    cli_logon(&c, 4, 0);
    cli_place(&a, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 2);
    lx_order_id_t a1 = cli_expect(&a, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_place(&a, ETH, 2, LX_SIDE_SELL, LX_TIF_GTC, 300000, 1);
    cli_expect(&a, LX_PROTO_ACCEPTED);
    cli_place(&b, BTC, 3, LX_SIDE_BUY, LX_TIF_GTC, PX - 200, 1);
    lx_order_id_t b1 = cli_expect(&b, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_place(&c, BTC, 4, LX_SIDE_BUY, LX_TIF_GTC, PX - 300, 1);
    lx_order_id_t c1 = cli_expect(&c, LX_PROTO_ACCEPTED).u.accepted.h.order_id;

    cli_close(&a);
    lx_proto_msg_t x = cli_expect(&b, LX_PROTO_CANCELED);
    assert_int_equal(x.u.canceled.h.order_id, b1);
    assert_int_equal(x.u.canceled.reason, LX_CANCEL_DISCONNECT);
    assert_int_equal(cli_status(&b, a1).u.status_reply.status, LX_PROTO_STATUS_UNKNOWN);
    /* account 4 is untouched; when its session (no flag) drops, its order stays */
    cli_close(&c);
    cli_connect(&c, t.port);
    cli_logon(&c, 4, 0);
    cli_expect_nothing(&c, 300);
    assert_int_equal(cli_status(&c, c1).u.status_reply.status, LX_PROTO_STATUS_OPEN);

    /* a resume that takes a session over from a connection still open
     * closes that one without the cancel (the session goes on): neither the
     * order placed before nor the one sent right behind the LOGON, in the
     * same write, is cancelled */
    tcli_t d, e;
    cli_connect(&d, t.port);
    cli_logon_flags(&d, 5, 0, LX_PROTO_LOGON_CANCEL_ON_DISCONNECT);
    cli_place(&d, BTC, 5, LX_SIDE_BUY, LX_TIF_GTC, PX - 400, 1);
    lx_order_id_t d1 = cli_expect(&d, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_connect(&e, t.port);
    lx_proto_msg_t two[2];
    two[0] = logon_msg(5, d.session, 0);
    memset(&two[1], 0, sizeof two[1]);
    two[1].type = LX_PROTO_PLACE;
    two[1].u.place = (lx_proto_place_t){.market = BTC,
                                        .client_id = 6,
                                        .side = LX_SIDE_BUY,
                                        .tif = LX_TIF_GTC,
                                        .price = PX - 500,
                                        .qty = 1};
    uint8_t wire[2 * LX_PROTO_FRAME_MAX];
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        int w = lx_proto_encode(&two[k], wire + n, sizeof wire - n);
        assert_true(w > 0);
        n += (size_t)w;
    }
    cli_raw(&e, wire, n);
    lx_proto_msg_t ack = cli_expect(&e, LX_PROTO_LOGON_ACK);
    e.session = ack.u.logon_ack.session_id;
    e.next_seq = ack.u.logon_ack.next_seq;
    assert_true(e.session == d.session);
    lx_order_id_t e1 = cli_expect(&e, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_expect_closed(&d);
    cli_expect_nothing(&e, 300);
    assert_int_equal(cli_status(&e, d1).u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(cli_status(&e, e1).u.status_reply.status, LX_PROTO_STATUS_OPEN);
    cli_close(&d);
    cli_close(&e);
    cli_close(&b);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

typedef struct {
    uint32_t chain_id;
    unsigned shard; /* the journal's */
    uint8_t session_key[32];
    int session, signed_ok, bad;
} auth_count_t;

static void count_auth(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                       const char *file, uint64_t off) {
    (void)file, (void)off;
    auth_count_t *a = ctx;
    if (!auth) return;
    if (auth->scheme == LX_AUTH_SESSION) {
        a->session += memcmp(auth->key, a->session_key, 32) == 0;
        return;
    }
    lx_action_t act = {.chain_id = a->chain_id, .nonce = auth->nonce, .cmd = *cmd};
    memcpy(act.signer, auth->key, 32);
    int ok = lx_verify_detached(&act, auth->sig) == 0;
    /* as lxdex journal verify checks it: a cancel by order id in a shard's
     * journal may have been signed with the shard bits (lx/node.h) */
    if (!ok && lx_node_cmd_as_sent(&act.cmd, a->shard))
        ok = lx_verify_detached(&act, auth->sig) == 0;
    if (ok)
        a->signed_ok++;
    else
        a->bad++;
}

/* Signed logon (challenge, signature) and SIGNED actions, end to end with
 * the engine's identity state:
 *   - a signed logon in dev mode binds the key to the account (no bridge in
 *     dev mode) and the session's orders need no signature;
 *   - the bridge binds a second key to account 20 with a SIGNED BIND_KEY; a
 *     SIGNED place by that key is applied (the engine checks signer and
 *     nonce): first rejected for funds (the nonce is spent), then, after a
 *     deposit the bridge signs, accepted; the same envelope again is
 *     NONCE_REPLAYED; the key signing for another account is BAD_SIGNER;
 *   - forged, tampered and wrong-chain envelopes, and a deposit not signed
 *     by the bridge, are refused by the gateway with BAD_SIGNATURE;
 *   - a wrong logon signature is LOGON_FAILED;
 *   - the journal holds the session's key and every signature, and they
 *     verify (lx_verify_detached). */
/* A signed logon of account `account` with key pk/sk and LOGON flags
 * `flags` (SIGNED added), resuming `session` (0: new); the challenge comes
 * from whichever thread holds the connection. Returns the answer to the
 * signed LOGON: LOGON_ACK or a REJECT. While the node is starting (the
 * gateway's copy of the keys is not complete) the answer is REJECT
 * UNAVAILABLE: it asks for a new challenge and tries again. */
static lx_proto_msg_t cli_logon_signed_try(tcli_t *c, uint32_t chain, lx_account_id_t account,
                                           const uint8_t *pk, const uint8_t *sk, uint64_t session,
                                           uint8_t flags) {
    for (int tries = 0;; tries++) {
        lx_proto_msg_t m = logon_msg(account, session, LX_PROTO_LOGON_SIGNED | flags);
        memcpy(m.u.logon.public_key, pk, 32);
        cli_send(c, &m);
        lx_proto_msg_t ch = cli_expect(c, LX_PROTO_CHALLENGE);
        uint8_t p[LX_SIGN_LOGON_LEN];
        lx_sign_logon_payload(chain, account, ch.u.challenge.challenge, pk, p);
        crypto_sign_detached(m.u.logon.signature, NULL, p, sizeof p, sk);
        cli_send(c, &m);
        lx_proto_msg_t a;
        memset(&a, 0, sizeof a);
        assert_int_equal(cli_recv(c, &a, 5000), 1);
        if (a.type == LX_PROTO_REJECT && a.u.reject.reason == LX_PROTO_R_UNAVAILABLE &&
            tries < 500) {
            usleep(10000);
            continue;
        }
        if (a.type == LX_PROTO_LOGON_ACK) {
            c->session = a.u.logon_ack.session_id;
            c->next_seq = a.u.logon_ack.next_seq;
        }
        return a;
    }
}

static lx_proto_msg_t cli_logon_signed(tcli_t *c, uint32_t chain, lx_account_id_t account,
                                       const uint8_t *pk, const uint8_t *sk, uint64_t session) {
    lx_proto_msg_t a = cli_logon_signed_try(c, chain, account, pk, sk, session, 0);
    if (a.type != LX_PROTO_LOGON_ACK)
        fprintf(stderr, "expected LOGON_ACK, got %s (%s)\n", lx_proto_type_name(a.type),
                a.type == LX_PROTO_REJECT ? lx_proto_reason_name(a.u.reject.reason) : "-");
    assert_int_equal(a.type, LX_PROTO_LOGON_ACK);
    return a;
}

/* A SIGNED frame; its routing byte names `shard` (funds commands: it must
 * be the shard a->shard signs). */
static void send_signed_shard(tcli_t *c, lx_action_t *a, const uint8_t *sk, uint8_t shard) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_SIGNED;
    int n = lx_sign(a, sk, m.u.signed_action.envelope, sizeof m.u.signed_action.envelope);
    assert_true(n > 0);
    m.u.signed_action.len = (uint16_t)n;
    m.u.signed_action.shard = shard;
    cli_send(c, &m);
}

static void send_signed(tcli_t *c, lx_action_t *a, const uint8_t *sk) {
    send_signed_shard(c, a, sk, 0);
}

static void test_signed_logon_and_actions(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    assert_true(sodium_init() >= 0);
    uint8_t pk[32], sk[64], pk2[32], sk2[64], bridge_pk[32], bridge_sk[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    crypto_sign_keypair(bridge_pk, bridge_sk);
    t_bridge = bridge_pk;
    tnode_start(&t, dir, NULL, 0);
    uint32_t chain = t.cfg.node.chain_id;

    /* ask for a challenge, sign it, log on (and, in dev mode, own account 5) */
    tcli_t c;
    cli_connect(&c, t.port);
    lx_proto_msg_t m, ack = cli_logon_signed(&c, chain, 5, pk, sk, 0);
    assert_int_equal(ack.u.logon_ack.account, 5);
    cli_place(&c, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 500, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);

    /* the bridge binds pk2 to account 20 (no funds yet) */
    lx_action_t bind;
    memset(&bind, 0, sizeof bind);
    bind.chain_id = chain;
    bind.nonce = 1;
    bind.cmd.type = LX_CMD_BIND_KEY;
    bind.cmd.u.bind_key.account = 20;
    memcpy(bind.cmd.u.bind_key.key, pk2, 32);
    memcpy(bind.signer, pk2, 32); /* not the bridge: refused */
    send_signed(&c, &bind, sk2);
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECT).u.reject.reason, LX_PROTO_R_BAD_SIGNATURE);
    memcpy(bind.signer, bridge_pk, 32);
    send_signed(&c, &bind, bridge_sk);
    lx_proto_msg_t kb = cli_expect(&c, LX_PROTO_ACCOUNT_KEY);
    assert_int_equal(kb.u.account_key.what, LX_PROTO_KEY_BOUND);
    assert_memory_equal(kb.u.account_key.key, pk2, 32);

    lx_action_t act;
    memset(&act, 0, sizeof act);
    act.chain_id = chain;
    memcpy(act.signer, pk2, 32);
    act.nonce = 1;
    act.cmd.type = LX_CMD_PLACE;
    act.cmd.u.place = (lx_cmd_place_t){.account = 20,
                                       .market = BTC,
                                       .side = LX_SIDE_BUY,
                                       .price = PX - 600,
                                       .qty = 1,
                                       .client_id = 20};
    send_signed(&c, &act, sk2);
    lx_proto_msg_t r = cli_expect(&c, LX_PROTO_REJECTED);
    assert_int_equal(r.u.rejected.reason, LX_REJECT_INSUFFICIENT_FUNDS);

    /* a deposit signed by another key than the bridge's, then the bridge's */
    lx_action_t dep;
    memset(&dep, 0, sizeof dep);
    dep.chain_id = chain;
    dep.nonce = 2;
    dep.cmd.type = LX_CMD_DEPOSIT;
    dep.cmd.u.deposit =
        (lx_cmd_deposit_t){.account = 20, .asset = 0, .amount = 1000000000000, .deposit_id = 4242};
    memcpy(dep.signer, pk2, 32);
    send_signed(&c, &dep, sk2);
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECT).u.reject.reason, LX_PROTO_R_BAD_SIGNATURE);
    memcpy(dep.signer, bridge_pk, 32);
    send_signed(&c, &dep, bridge_sk);
    lx_proto_msg_t fu = cli_expect(&c, LX_PROTO_FUNDS); /* the bridge's session hears it */
    assert_int_equal(fu.u.funds.what, LX_PROTO_FUNDS_DEPOSIT);
    assert_int_equal(fu.u.funds.account, 20);
    assert_int_equal(fu.u.funds.amount, 1000000000000);
    assert_int_equal(fu.u.funds.deposit_id, 4242);

    /* nonce 1 is spent; nonce 2 goes in; the same envelope again does not */
    send_signed(&c, &act, sk2);
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.reason, LX_REJECT_NONCE_REPLAYED);
    act.nonce = 2;
    send_signed(&c, &act, sk2);
    assert_int_equal(cli_expect(&c, LX_PROTO_ACCEPTED).u.accepted.h.client_id, 20);
    send_signed(&c, &act, sk2);
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.reason, LX_REJECT_NONCE_REPLAYED);
    /* an agent approved by account 20's owner key places; may not withdraw;
     * after its revocation it may not place either */
    uint8_t pk3[32], sk3[64];
    crypto_sign_keypair(pk3, sk3);
    lx_action_t ap;
    memset(&ap, 0, sizeof ap);
    ap.chain_id = chain;
    memcpy(ap.signer, pk2, 32);
    ap.nonce = 10;
    ap.cmd.type = LX_CMD_APPROVE_AGENT;
    ap.cmd.u.approve_agent.account = 20;
    memcpy(ap.cmd.u.approve_agent.key, pk3, 32);
    memcpy(ap.cmd.u.approve_agent.name, "desk-1", 6);
    ap.cmd.u.approve_agent.expiry = INT64_MAX;
    send_signed(&c, &ap, sk2);
    lx_proto_msg_t ka = cli_expect(&c, LX_PROTO_ACCOUNT_KEY);
    assert_int_equal(ka.u.account_key.what, LX_PROTO_KEY_AGENT_APPROVED);
    assert_string_equal(ka.u.account_key.name, "desk-1");
    /* ACCOUNT_KEY is the largest execution report (104 bytes): the session's
     * history keeps it, and a resend replays it whole */
    uint64_t kseq = lx_proto_exec(&ka)->seq;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = kseq;
    m.u.resend_request.to_seq = kseq;
    cli_send(&c, &m);
    m = cli_expect(&c, LX_PROTO_ACCOUNT_KEY);
    assert_true(m.flags & LX_PROTO_F_RESENT);
    assert_int_equal(lx_proto_exec(&m)->seq, kseq);
    assert_int_equal(m.u.account_key.what, LX_PROTO_KEY_AGENT_APPROVED);
    assert_memory_equal(m.u.account_key.key, pk3, 32);
    assert_string_equal(m.u.account_key.name, "desk-1");
    m = cli_expect(&c, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_COMPLETE);
    assert_int_equal(m.u.resend_end.first_seq, kseq);
    assert_int_equal(m.u.resend_end.last_seq, kseq);
    lx_action_t ag = act;
    memcpy(ag.signer, pk3, 32);
    ag.nonce = 1;
    ag.cmd.u.place.client_id = 21;
    send_signed(&c, &ag, sk3);
    assert_int_equal(cli_expect(&c, LX_PROTO_ACCEPTED).u.accepted.h.client_id, 21);
    lx_action_t wd;
    memset(&wd, 0, sizeof wd);
    wd.chain_id = chain;
    memcpy(wd.signer, pk3, 32);
    wd.nonce = 2;
    wd.cmd.type = LX_CMD_WITHDRAW;
    wd.cmd.u.withdraw = (lx_cmd_withdraw_t){.account = 20, .asset = 0, .amount = 1};
    send_signed(&c, &wd, sk3);
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.reason, LX_REJECT_NOT_AUTHORIZED);
    ap.nonce = 11;
    ap.cmd.type = LX_CMD_REVOKE_AGENT;
    memset(&ap.cmd.u, 0, sizeof ap.cmd.u);
    ap.cmd.u.revoke_agent.account = 20;
    memcpy(ap.cmd.u.revoke_agent.key, pk3, 32);
    send_signed(&c, &ap, sk2);
    assert_int_equal(cli_expect(&c, LX_PROTO_ACCOUNT_KEY).u.account_key.what,
                     LX_PROTO_KEY_AGENT_REVOKED);
    ag.nonce = 3;
    ag.cmd.u.place.client_id = 22;
    send_signed(&c, &ag, sk3); /* rules 3: the revoked key is forgotten */
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.reason, LX_REJECT_BAD_SIGNER);

    /* pk2 signing for account 5 (pk's) */
    act.nonce = 3;
    act.cmd.u.place.account = 5;
    send_signed(&c, &act, sk2);
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.reason, LX_REJECT_BAD_SIGNER);

    /* tampered (one byte of the command), forged (signed by another key than
     * it names), another chain: BAD_SIGNATURE, nothing reaches the engine */
    act.cmd.u.place.account = 20;
    act.nonce = 4;
    for (int k = 0; k < 3; k++) {
        memset(&m, 0, sizeof m);
        m.type = LX_PROTO_SIGNED;
        lx_action_t a2 = act;
        if (k == 1) memcpy(a2.signer, pk, 32);
        if (k == 2) a2.chain_id = chain + 1;
        uint8_t pl[LX_SIGN_MAX_PAYLOAD];
        int pn = lx_sign_payload(&a2, pl, sizeof pl);
        assert_true(pn > 0);
        memcpy(m.u.signed_action.envelope, pl, (size_t)pn);
        crypto_sign_detached(m.u.signed_action.envelope + pn, NULL, pl, (unsigned long long)pn,
                             sk2);
        m.u.signed_action.len = (uint16_t)(pn + 64);
        if (k == 0) m.u.signed_action.envelope[LX_SIGN_HDR_LEN + 30] ^= 1;
        cli_send(&c, &m);
        r = cli_expect(&c, LX_PROTO_REJECT);
        assert_int_equal(r.u.reject.reason, LX_PROTO_R_BAD_SIGNATURE);
        assert_int_equal(r.u.reject.ref_type, LX_PROTO_SIGNED);
    }

    /* a wrong logon signature on a new connection: refused and closed */
    tcli_t d;
    cli_connect(&d, t.port);
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.flags = LX_PROTO_LOGON_SIGNED;
    m.u.logon.account = 5;
    memcpy(m.u.logon.public_key, pk, 32);
    cli_send(&d, &m);
    lx_proto_msg_t ch = cli_expect(&d, LX_PROTO_CHALLENGE);
    uint8_t p[LX_SIGN_LOGON_LEN];
    lx_sign_logon_payload(chain, 5, ch.u.challenge.challenge, pk, p);
    crypto_sign_detached(m.u.logon.signature, NULL, p, sizeof p, sk2); /* not pk's key */
    cli_send(&d, &m);
    assert_int_equal(cli_expect(&d, LX_PROTO_REJECT).u.reject.reason, LX_PROTO_R_LOGON_FAILED);
    cli_expect_closed(&d);
    cli_close(&d);
    cli_close(&c);
    tnode_stop(&t);

    /* the journal: the session's key on its place (and its dev-mode bind has
     * none), every signature verifies: bind, deposit, 5 places */
    auth_count_t ac = {.chain_id = chain};
    memcpy(ac.session_key, pk, 32);
    lx_recover_opts_t ro = {.read_only = true, .no_engine = true, .on_cmd = count_auth, .ctx = &ac};
    lx_recovery_t rec;
    assert_int_equal(lx_recover(dir, &ro, NULL, &rec), 0);
    assert_int_equal(ac.session, 1);
    assert_int_equal(ac.signed_ok, 12); /* + approve, revoke, 3 by the agent */
    assert_int_equal(ac.bad, 0);
    /* and a restart replays them to the same state (nonces included) */
    tnode_start(&t, dir, NULL, 0);
    tnode_stop(&t);
    remove_dir(dir);
}

static int64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void send_schedule(tcli_t *c, int64_t deadline) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_SCHEDULE_CANCEL;
    m.u.schedule_cancel.deadline = deadline;
    cli_send(c, &m);
}

/* A signed action of `account`'s owner or agent key: fills the common part. */
static lx_action_t action_of(uint32_t chain, const uint8_t *signer, uint64_t nonce, int type) {
    lx_action_t a;
    memset(&a, 0, sizeof a);
    a.chain_id = chain;
    memcpy(a.signer, signer, 32);
    a.nonce = nonce;
    a.cmd.type = (uint8_t)type;
    return a;
}

/* The owner key (pk/sk) of `account` approves (expiry > 0) or revokes
 * (expiry 0) agent key `agent`, over session c; the ACCOUNT_KEY comes back. */
static void cli_agent(tcli_t *c, uint32_t chain, lx_account_id_t account, const uint8_t *pk,
                      const uint8_t *sk, uint64_t nonce, const uint8_t *agent, int64_t expiry) {
    lx_action_t a =
        action_of(chain, pk, nonce, expiry ? LX_CMD_APPROVE_AGENT : LX_CMD_REVOKE_AGENT);
    if (expiry) {
        a.cmd.u.approve_agent.account = account;
        memcpy(a.cmd.u.approve_agent.key, agent, 32);
        memcpy(a.cmd.u.approve_agent.name, "desk", 4);
        a.cmd.u.approve_agent.expiry = expiry;
    } else {
        a.cmd.u.revoke_agent.account = account;
        memcpy(a.cmd.u.revoke_agent.key, agent, 32);
    }
    send_signed(c, &a, sk);
    lx_proto_msg_t m = cli_expect(c, LX_PROTO_ACCOUNT_KEY);
    assert_int_equal(m.u.account_key.what,
                     expiry ? LX_PROTO_KEY_AGENT_APPROVED : LX_PROTO_KEY_AGENT_REVOKED);
    assert_memory_equal(m.u.account_key.key, agent, 32);
}

/* Two shards: a key's nonces of the commands every shard applies are kept
 * apart from those of one shard's commands, so every shard decides them
 * alike. An owner approves an agent (nonce 1), places in shard 1 (nonce
 * 100), then revokes the agent with nonce 50: before, shard 1 refused the
 * revocation (50 <= 100) while shard 0 applied it, and the agent kept
 * trading in shard 1. Now both shards forget the agent (BAD_SIGNER). */
static void test_shard_nonces(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    assert_true(sodium_init() >= 0);
    uint8_t pk[32], sk[64], apk[32], ask[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(apk, ask);
    t_shards = 2;
    tnode_start(&t, dir, NULL, 0);
    uint32_t chain = t.cfg.node.chain_id;
    tcli_t c;
    cli_connect(&c, t.port);
    cli_logon_signed(&c, chain, 5, pk, sk, 0); /* dev mode: pk becomes the owner */
    cli_agent(&c, chain, 5, pk, sk, 1, apk, INT64_MAX / 2);
    lx_action_t p = action_of(chain, pk, 100, LX_CMD_PLACE);
    p.cmd.u.place = (lx_cmd_place_t){.account = 5,
                                     .market = ETH,
                                     .side = LX_SIDE_BUY,
                                     .price = 190000,
                                     .qty = 1,
                                     .client_id = 900};
    send_signed(&c, &p, sk);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    cli_agent(&c, chain, 5, pk, sk, 50, apk, 0); /* revoked, in both shards */
    lx_action_t q = action_of(chain, apk, 1, LX_CMD_PLACE);
    q.cmd.u.place = (lx_cmd_place_t){.account = 5,
                                     .market = ETH,
                                     .side = LX_SIDE_BUY,
                                     .price = 190000,
                                     .qty = 1,
                                     .client_id = 901};
    send_signed(&c, &q, ask); /* rules 3: the revoked key is forgotten */
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.reason, LX_REJECT_BAD_SIGNER);
    q.nonce = 2;
    q.cmd.u.place.market = BTC;
    q.cmd.u.place.price = PX - 500;
    q.cmd.u.place.client_id = 902;
    send_signed(&c, &q, ask); /* rules 3: the revoked key is forgotten */
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.reason, LX_REJECT_BAD_SIGNER);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Two shards: a SIGNED cancel by order id of an order of shard 1 names the
 * order by the id its reports gave (shard bits included). The sequencer
 * journals it with the shard's own id (the bits dropped), so the journaled
 * command is not byte for byte the one signed: its signature must still
 * verify the way lxdex journal verify checks it (lx_node_cmd_as_sent),
 * else a valid, applied action reads as forged. */
static void test_shard_signed_cancel_verifies(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    assert_true(sodium_init() >= 0);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    t_shards = 2;
    tnode_start(&t, dir, NULL, 0);
    uint32_t chain = t.cfg.node.chain_id;
    tcli_t c;
    cli_connect(&c, t.port);
    cli_logon_signed(&c, chain, 5, pk, sk, 0); /* dev mode: pk becomes the owner */
    cli_place(&c, ETH, 77, LX_SIDE_BUY, LX_TIF_GTC, 190000, 1);
    lx_order_id_t id = cli_expect(&c, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    assert_int_equal(LX_NODE_ORDER_SHARD(id), 1);
    lx_action_t x = action_of(chain, pk, 1, LX_CMD_CANCEL);
    x.cmd.u.cancel.account = 5;
    x.cmd.u.cancel.market = ETH;
    x.cmd.u.cancel.order_id = id;
    send_signed(&c, &x, sk);
    assert_int_equal(cli_expect(&c, LX_PROTO_CANCELED).u.canceled.h.order_id, id);
    cli_close(&c);
    tnode_stop(&t);
    char path[128];
    snprintf(path, sizeof path, "%s/shard-1", dir);
    auth_count_t ac = {.chain_id = chain, .shard = 1};
    memcpy(ac.session_key, pk, 32);
    lx_recover_opts_t ro = {.read_only = true, .no_engine = true, .on_cmd = count_auth, .ctx = &ac};
    lx_recovery_t rec;
    assert_int_equal(lx_recover(path, &ro, NULL, &rec), 0);
    assert_int_equal(ac.signed_ok + ac.bad, 1); /* the cancel */
    assert_int_equal(ac.bad, 0);                /* and it verifies */
    remove_dir(dir);
}

/* An agent's session ends when its approval expires, as when it is revoked
 * (it went on receiving the account's reports). */
static void test_agent_expiry_ends_session(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    assert_true(sodium_init() >= 0);
    uint8_t pk[32], sk[64], apk[32], ask[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(apk, ask);
    tnode_start(&t, dir, NULL, 0);
    uint32_t chain = t.cfg.node.chain_id;
    /* the owner on the thread that keeps the key copy: once the status
     * round trip there is answered, the copy has the agent */
    tcli_t c, a;
    cli_align(t.port, t_threads - 1);
    cli_connect(&c, t.port);
    cli_logon_signed(&c, chain, 6, pk, sk, 0); /* dev mode: pk becomes the owner */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t expiry = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + 3000000000; /* 3 s */
    cli_agent(&c, chain, 6, pk, sk, 1, apk, expiry);
    cli_status(&c, 1);
    cli_connect(&a, t.port);
    cli_logon_signed(&a, chain, 6, apk, ask, 0);
    cli_expect_closed(&a); /* within 5 s: the expiry, then a scan a second */
    cli_close(&a);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

/* A signed logon the gateway must refuse: REJECT LOGON_FAILED naming the
 * LOGON, then the connection closes. */
static void expect_logon_refused(uint16_t port, uint32_t chain, lx_account_id_t account,
                                 const uint8_t *pk, const uint8_t *sk, uint8_t flags) {
    tcli_t x;
    cli_connect(&x, port);
    lx_proto_msg_t m = cli_logon_signed_try(&x, chain, account, pk, sk, 0, flags);
    if (m.type != LX_PROTO_REJECT)
        fprintf(stderr, "account %u: expected REJECT LOGON_FAILED, got %s\n", (unsigned)account,
                lx_proto_type_name(m.type));
    assert_int_equal(m.type, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_LOGON_FAILED);
    assert_int_equal(m.u.reject.ref_type, LX_PROTO_LOGON);
    cli_expect_closed(&x);
    cli_close(&x);
}

/*
 * A signed logon proves the key, and the key must be the account's: its
 * owner key or a live agent's (docs/protocol.md section 2), as on the
 * WebSocket. Keys made in dev mode (owner keys bound by the first signed
 * logon, agents approved, expiring, revoked), then a restart without dev
 * mode, where the gateway knows them from the node's start-up state:
 *   - a key no account knows, another account's owner key, a revoked agent
 *     and an expired agent are refused (LOGON_FAILED, closed), also with
 *     CANCEL_ON_DISCONNECT, so no ORDER_STATUS, BIND or cancel-on-disconnect
 *     of the account ever happens for them; so is a key for an account
 *     without any key;
 *   - the owner and a live agent log on; an agent approved and one revoked
 *     while the node runs are taken and refused from then on;
 *   - cancel-on-disconnect of an agent session revoked meanwhile is
 *     journaled with the session's key and refused by the engine: the
 *     account's orders stay open;
 *   - after a restart in dev mode: a stranger's key for an account that
 *     has an owner is refused; for one without, it becomes its owner.
 * The sessions that change keys live on the last gateway thread, which
 * keeps the gateway's copy of the keys, so that the copy has every change
 * before the change's report leaves.
 */
typedef struct {
    uint8_t key[32];
    int n;
} cod_count_t;

/* Counts the journal's cancel-on-disconnect CANCEL_ALLs carrying key. */
static void count_cod(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                      const char *file, uint64_t off) {
    (void)file, (void)off;
    cod_count_t *k = ctx;
    k->n += cmd->type == LX_CMD_CANCEL_ALL &&
            cmd->u.cancel_all.reason == LX_CANCEL_ALL_DISCONNECT && auth &&
            auth->scheme == LX_AUTH_SESSION && memcmp(auth->key, k->key, 32) == 0;
}

static void test_logon_key_check(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    assert_true(sodium_init() >= 0);
    uint8_t pk5[32], sk5[64], pk6[32], sk6[64], pka[32], ska[64], pke[32], ske[64];
    uint8_t pkr[32], skr[64], pkb[32], skb[64], pkx[32], skx[64], bridge_pk[32], bridge_sk[64];
    crypto_sign_keypair(pk5, sk5);
    crypto_sign_keypair(pk6, sk6);
    crypto_sign_keypair(pka, ska);
    crypto_sign_keypair(pke, ske);
    crypto_sign_keypair(pkr, skr);
    crypto_sign_keypair(pkb, skb);
    crypto_sign_keypair(pkx, skx);
    crypto_sign_keypair(bridge_pk, bridge_sk);
    uint64_t nonce5 = 1;
    tnode_t t;
    tcli_t c, d;

    /* dev mode: pk5 owns 5, pk6 owns 6; agents a (live), e (expires), r (revoked) */
    t_bridge = bridge_pk;
    tnode_start(&t, dir, NULL, 0);
    uint32_t chain = t.cfg.node.chain_id;
    cli_align(t.port, t_threads - 1);
    cli_connect(&c, t.port);
    cli_logon_signed(&c, chain, 5, pk5, sk5, 0);
    cli_align(t.port, t_threads - 1);
    cli_connect(&d, t.port);
    cli_logon_signed(&d, chain, 6, pk6, sk6, 0);
    cli_place(&c, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    lx_order_id_t o1 = cli_expect(&c, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    int64_t e_expiry = wall_ns() + 300000000; /* 300 ms */
    cli_agent(&c, chain, 5, pk5, sk5, nonce5++, pka, INT64_MAX);
    cli_agent(&c, chain, 5, pk5, sk5, nonce5++, pke, e_expiry);
    cli_agent(&c, chain, 5, pk5, sk5, nonce5++, pkr, INT64_MAX);
    cli_agent(&c, chain, 5, pk5, sk5, nonce5++, pkr, 0);
    cli_close(&c);
    cli_close(&d);
    tnode_stop(&t);
    while (wall_ns() <= e_expiry) usleep(10000);

    /* without dev mode: the keys come from the node's start-up state */
    t_bridge = bridge_pk;
    t_prod = true;
    tnode_start(&t, dir, NULL, 0);
    assert_false(t.cfg.node.dev_mode);
    expect_logon_refused(t.port, chain, 5, pkx, skx, LX_PROTO_LOGON_CANCEL_ON_DISCONNECT);
    expect_logon_refused(t.port, chain, 5, pk6, sk6, 0); /* another account's owner key */
    expect_logon_refused(t.port, chain, 5, pkr, skr, 0); /* a revoked agent */
    expect_logon_refused(t.port, chain, 5, pke, ske, 0); /* an expired agent */
    expect_logon_refused(t.port, chain, 9, pkx, skx, 0); /* an account without keys */
    expect_logon_refused(t.port, chain, 6, pk5, sk5, 0); /* the other way round */
    /* the owner: its order is there; a live agent */
    cli_align(t.port, t_threads - 1);
    cli_connect(&c, t.port);
    assert_int_equal(cli_logon_signed(&c, chain, 5, pk5, sk5, 0).u.logon_ack.account, 5);
    assert_int_equal(cli_status(&c, o1).u.status_reply.status, LX_PROTO_STATUS_OPEN);
    cli_connect(&d, t.port);
    assert_int_equal(cli_logon_signed(&d, chain, 5, pka, ska, 0).u.logon_ack.account, 5);
    cli_close(&d);
    /* while the node runs: a is revoked, b approved */
    cli_agent(&c, chain, 5, pk5, sk5, nonce5++, pka, 0);
    expect_logon_refused(t.port, chain, 5, pka, ska, 0);
    cli_agent(&c, chain, 5, pk5, sk5, nonce5++, pkb, INT64_MAX);
    /* b's session with cancel-on-disconnect places; b is revoked: the node
     * closes its connection (it gets no more of the account's reports), the
     * CANCEL_ALL carries b's key, the engine refuses it, and the account's
     * orders stay */
    tcli_t b;
    cli_connect(&b, t.port);
    assert_int_equal(
        cli_logon_signed_try(&b, chain, 5, pkb, skb, 0, LX_PROTO_LOGON_CANCEL_ON_DISCONNECT).type,
        LX_PROTO_LOGON_ACK);
    cli_place(&b, BTC, 2, LX_SIDE_BUY, LX_TIF_GTC, PX - 200, 1);
    lx_order_id_t o2 = cli_expect(&b, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_agent(&c, chain, 5, pk5, sk5, nonce5++, pkb, 0);
    cli_expect_closed(&b);
    cli_close(&b);
    cli_expect_nothing(&c, 500); /* time for the CANCEL_ALL to be journaled and applied */
    assert_int_equal(cli_status(&c, o1).u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(cli_status(&c, o2).u.status_reply.status, LX_PROTO_STATUS_OPEN);
    cli_close(&c);
    tnode_stop(&t);
    /* and that CANCEL_ALL is in the journal, with b's key as its auth (the
     * orders stayed because the engine refused it, not because none came) */
    cod_count_t cc = {.n = 0};
    memcpy(cc.key, pkb, 32);
    lx_recover_opts_t ro = {.read_only = true, .no_engine = true, .on_cmd = count_cod, .ctx = &cc};
    lx_recovery_t rec;
    assert_int_equal(lx_recover(dir, &ro, NULL, &rec), 0);
    assert_int_equal(cc.n, 1);

    /* dev mode again: a stranger's key is refused for 5, and owns 7 */
    tnode_start(&t, dir, NULL, 0);
    expect_logon_refused(t.port, chain, 5, pkx, skx, 0);
    cli_connect(&c, t.port);
    assert_int_equal(cli_logon_signed(&c, chain, 7, pkx, skx, 0).u.logon_ack.account, 7);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

/*
 * The per-account rate limit and SIGNED actions (docs/protocol.md section
 * 2): a signed action is charged to the account it acts for, whichever
 * session sends it, when its signer is that account's key; an envelope
 * whose signer is not (the engine refuses it, BAD_SIGNER) is charged to the
 * sending session's account. Burst 5 at 1 per second: account 9's session
 * sends 2 cancels for account 8 signed by a stranger's key (9 pays 2), then
 * 6 signed by 8's owner key (8 pays 5, the sixth is RATE_LIMITED), then a
 * place of its own (9 pays its third: accepted); account 8's own place is
 * then RATE_LIMITED.
 */
static void test_signed_rate_account(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    assert_true(sodium_init() >= 0);
    uint8_t pk8[32], sk8[64], pkz[32], skz[64];
    crypto_sign_keypair(pk8, sk8);
    crypto_sign_keypair(pkz, skz);
    t_per_account = (lx_config_rate_t){1, 5};
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    uint32_t chain = t.cfg.node.chain_id;
    /* 8's owner key, bound by its dev-mode logon on the thread that keeps the
     * key copy; the status round trip there says the copy has it */
    tcli_t c8, c9;
    cli_align(t.port, t_threads - 1);
    cli_connect(&c8, t.port);
    cli_logon_signed(&c8, chain, 8, pk8, sk8, 0);
    cli_status(&c8, 1);
    cli_connect(&c9, t.port);
    cli_logon(&c9, 9, 0);
    for (int i = 0; i < 8; i++) {
        bool z = i < 2;
        lx_action_t a = action_of(chain, z ? pkz : pk8, 1 + (uint64_t)i, LX_CMD_CANCEL);
        a.cmd.u.cancel.account = 8;
        a.cmd.u.cancel.market = BTC;
        a.cmd.u.cancel.by_client_id = 1;
        a.cmd.u.cancel.client_id = 100 + (uint64_t)i;
        send_signed(&c9, &a, z ? skz : sk8);
    }
    cli_place(&c9, BTC, 9, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    int bad_signer = 0, unknown = 0, accepted = 0, limited = 0, place_limited = 0;
    uint64_t limited_cid = 0;
    for (int i = 0; i < 9; i++) {
        lx_proto_msg_t m;
        memset(&m, 0, sizeof m);
        assert_int_equal(cli_recv(&c9, &m, 5000), 1);
        if (m.type == LX_PROTO_REJECTED && m.u.rejected.reason == LX_REJECT_BAD_SIGNER) {
            assert_true(m.u.rejected.h.client_id == 100 || m.u.rejected.h.client_id == 101);
            bad_signer++;
        } else if (m.type == LX_PROTO_REJECTED && m.u.rejected.reason == LX_REJECT_UNKNOWN_ORDER) {
            assert_int_equal(m.u.rejected.cmd_type, LX_CMD_CANCEL);
            unknown++;
        } else if (m.type == LX_PROTO_REJECT && m.u.reject.reason == LX_PROTO_R_RATE_LIMITED &&
                   m.u.reject.ref_type == LX_PROTO_PLACE) {
            place_limited++; /* 9's own place: 9 paid for 8's actions */
        } else if (m.type == LX_PROTO_REJECT && m.u.reject.reason == LX_PROTO_R_RATE_LIMITED) {
            assert_int_equal(m.u.reject.ref_type, LX_PROTO_SIGNED);
            assert_true(m.u.reject.retry_after_us > 500000);
            limited_cid = m.u.reject.ref_client_id;
            limited++;
        } else if (m.type == LX_PROTO_ACCEPTED) {
            assert_int_equal(m.u.accepted.h.client_id, 9);
            accepted++;
        } else {
            fprintf(stderr, "unexpected %s (reason %d)\n", lx_proto_type_name(m.type),
                    m.type == LX_PROTO_REJECT     ? m.u.reject.reason
                    : m.type == LX_PROTO_REJECTED ? m.u.rejected.reason
                                                  : -1);
            fail();
        }
    }
    assert_int_equal(place_limited, 0);
    assert_int_equal(bad_signer, 2);
    assert_int_equal(unknown, 5);
    assert_int_equal(limited, 1);
    assert_int_equal(limited_cid, 107); /* the action's client id: the eighth */
    assert_int_equal(accepted, 1);
    cli_place(&c8, BTC, 8, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    lx_proto_msg_t m = cli_expect(&c8, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_RATE_LIMITED);
    assert_int_equal(m.u.reject.ref_type, LX_PROTO_PLACE);
    assert_int_equal(m.u.reject.ref_client_id, 8);
    cli_close(&c8);
    cli_close(&c9);
    tnode_stop(&t);
    remove_dir(dir);
}

/* The dead man's switch over the binary protocol: armed, re-armed in time
 * (nothing fires at the first deadline), fired once at the second through
 * the sequencer's TICK (DEADMAN fired, then a CANCELED per open order);
 * a deadline closer than the minimum lead is REJECTED; clearing. */
static void test_dead_mans_switch(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    t_deadman_lead_ns = 100000000; /* 100 ms */
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t c;
    cli_connect(&c, t.port);
    cli_logon(&c, 4, 0);
    cli_place(&c, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    cli_place(&c, ETH, 2, LX_SIDE_SELL, LX_TIF_GTC, 300000, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    int64_t t0 = wall_ns();
    send_schedule(&c, t0 + 400000000);
    lx_proto_msg_t m = cli_expect(&c, LX_PROTO_DEADMAN);
    assert_int_equal(m.u.deadman.state, LX_DEADMAN_ARMED);
    assert_int_equal(m.u.deadman.deadline, t0 + 400000000);
    /* re-armed before it fires: moved to t0 + 900 ms */
    usleep(200000);
    send_schedule(&c, t0 + 900000000);
    m = cli_expect(&c, LX_PROTO_DEADMAN);
    assert_int_equal(m.u.deadman.state, LX_DEADMAN_ARMED);
    cli_expect_nothing(&c, 400); /* t0 + 600 ms: past the first deadline, nothing */
    m = cli_expect(&c, LX_PROTO_DEADMAN);
    assert_int_equal(m.u.deadman.state, LX_DEADMAN_FIRED);
    assert_true(wall_ns() >= t0 + 900000000);
    for (int i = 0; i < 2; i++) {
        m = cli_expect(&c, LX_PROTO_CANCELED);
        assert_int_equal(m.u.canceled.reason, LX_CANCEL_DEADMAN);
    }
    cli_expect_nothing(&c, 300); /* once */
    /* too soon, then armed and cleared */
    send_schedule(&c, wall_ns() + 10000000);
    m = cli_expect(&c, LX_PROTO_REJECTED);
    assert_int_equal(m.u.rejected.reason, LX_REJECT_DEADLINE_TOO_SOON);
    assert_int_equal(m.u.rejected.cmd_type, LX_CMD_SCHEDULE_CANCEL);
    send_schedule(&c, wall_ns() + 5000000000);
    assert_int_equal(cli_expect(&c, LX_PROTO_DEADMAN).u.deadman.state, LX_DEADMAN_ARMED);
    send_schedule(&c, 0);
    m = cli_expect(&c, LX_PROTO_DEADMAN);
    assert_int_equal(m.u.deadman.state, LX_DEADMAN_CLEARED);
    assert_int_equal(m.u.deadman.deadline, 0);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Weighted requests: a cancel-all (weight 5) takes a whole burst of 5 from
 * the account's bucket, so the place right after it is refused. */
static void test_rate_weights(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    t_per_account = (lx_config_rate_t){1, 5};
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    assert_int_equal(t.cfg.rate_limits.weight.cancel_all, 5);
    tcli_t c;
    cli_connect(&c, t.port);
    cli_logon(&c, 3, 0);
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_CANCEL_ALL;
    m.u.cancel_all.market = LX_MARKET_ALL;
    cli_send(&c, &m);
    cli_place(&c, BTC, 9, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_RATE_LIMITED);
    assert_int_equal(m.u.reject.ref_client_id, 9);
    assert_true(m.u.reject.retry_after_us > 500000); /* about a second: one token at 1/s */
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

static void test_session_errors(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t c;
    lx_proto_msg_t m;

    /* A request before LOGON. */
    cli_connect(&c, t.port);
    cli_place(&c, BTC, 5, LX_SIDE_BUY, LX_TIF_GTC, PX, 1);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_NOT_LOGGED_ON);
    assert_int_equal(m.u.reject.ref_type, LX_PROTO_PLACE);
    assert_int_equal(m.u.reject.ref_client_id, 5);
    /* An unknown type: REJECT, and the stream goes on. */
    uint8_t unknown[8] = {8, 0, 0x70, 0, 0, 0, 0, 0};
    cli_raw(&c, unknown, sizeof unknown);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNKNOWN_TYPE);
    cli_logon(&c, 3, 0);
    /* A second LOGON. */
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = 3;
    cli_send(&c, &m);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_ALREADY_LOGGED_ON);
    /* A frame with a bad field (side 9): REJECT BAD_FIELD, stream goes on. */
    uint8_t place[48];
    lx_proto_msg_t p;
    memset(&p, 0, sizeof p);
    p.type = LX_PROTO_PLACE;
    p.u.place.market = BTC;
    p.u.place.client_id = 77;
    p.u.place.price = PX;
    p.u.place.qty = 1;
    assert_int_equal(lx_proto_encode(&p, place, sizeof place), 48);
    place[16] = 9;
    cli_raw(&c, place, sizeof place);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_BAD_FIELD);
    assert_int_equal(m.u.reject.ref_client_id, 77);
    cli_place(&c, BTC, 78, LX_SIDE_BUY, LX_TIF_GTC, PX - 1000, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    /* An oversized frame: REJECT TOO_LARGE, then the connection closes. */
    uint8_t big[4] = {0x2c, 0x01, LX_PROTO_PLACE, 0}; /* size 300 */
    cli_raw(&c, big, sizeof big);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_TOO_LARGE);
    cli_expect_closed(&c);
    cli_close(&c);

    /* The same with the oversized frame's bytes following: the REJECT still
     * arrives before the close. */
    cli_connect(&c, t.port);
    cli_logon(&c, 3, 0);
    uint8_t big2[300];
    memset(big2, 0xab, sizeof big2);
    big2[0] = 0x2c, big2[1] = 0x01, big2[2] = LX_PROTO_PLACE, big2[3] = 0;
    cli_raw(&c, big2, sizeof big2);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_TOO_LARGE);
    cli_expect_closed(&c);
    cli_close(&c);

    /* A frame smaller than its header: MALFORMED, closed. */
    cli_connect(&c, t.port);
    uint8_t tiny[4] = {2, 0, 0, 0};
    cli_raw(&c, tiny, sizeof tiny);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_MALFORMED);
    cli_expect_closed(&c);
    cli_close(&c);

    /* A signed logon that signs no challenge is refused. */
    cli_connect(&c, t.port);
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.flags = LX_PROTO_LOGON_SIGNED;
    m.u.logon.account = 3;
    m.u.logon.public_key[0] = 1;
    m.u.logon.signature[0] = 1;
    cli_send(&c, &m);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_LOGON_FAILED);
    cli_expect_closed(&c);
    cli_close(&c);

    /* A wrong version. */
    cli_connect(&c, t.port);
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = 2;
    m.u.logon.account = 3;
    cli_send(&c, &m);
    m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_BAD_VERSION);
    cli_expect_closed(&c);
    cli_close(&c);

    tnode_stop(&t);
    remove_dir(dir);
}

static void test_resume_resend(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 4); /* a history of 4 reports per session */
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 4, 0);
    cli_logon(&b, 5, 0);
    uint64_t sid = a.session;
    for (int i = 0; i < 3; i++) {
        cli_place(&a, BTC, 100 + (uint64_t)i, LX_SIDE_SELL, LX_TIF_GTC, PX + i, 2);
        cli_expect(&a, LX_PROTO_ACCEPTED); /* seq 1..3 */
    }
    cli_close(&a);
    /* While A is away, B takes 3 lots: A's first order fills (seq 4), its
     * second partly (seq 5). */
    cli_place(&b, BTC, 200, LX_SIDE_BUY, LX_TIF_IOC, PX + 1, 3);
    cli_expect(&b, LX_PROTO_ACCEPTED);
    cli_expect(&b, LX_PROTO_FILL);
    cli_expect(&b, LX_PROTO_FILL);
    /* The IOC was filled completely: no cancel. Let the gateway (A's thread)
     * number A's reports. */
    cli_sync_thread(t.port, LX_NODE_SESSION_GW(sid));

    /* A resumes: the next seq is 6. */
    cli_connect(&a, t.port);
    lx_proto_msg_t ack = cli_logon(&a, 4, sid);
    assert_int_equal(ack.u.logon_ack.session_id, sid);
    assert_int_equal(ack.u.logon_ack.next_seq, 6);
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 4;
    cli_send(&a, &m);
    m = cli_expect(&a, LX_PROTO_FILL);
    assert_true(m.flags & LX_PROTO_F_RESENT);
    assert_int_equal(m.u.fill.h.seq, 4);
    assert_int_equal(m.u.fill.h.client_id, 100);
    assert_int_equal(m.u.fill.remaining, 0);
    m = cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(m.u.fill.h.seq, 5);
    assert_int_equal(m.u.fill.h.client_id, 101);
    assert_int_equal(m.u.fill.remaining, 1);
    m = cli_expect(&a, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_COMPLETE);
    assert_int_equal(m.u.resend_end.first_seq, 4);
    assert_int_equal(m.u.resend_end.last_seq, 5);
    assert_int_equal(m.u.resend_end.next_seq, 6);

    /* From 1: only 2..5 are kept (history 4): trimmed. */
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 1;
    m.u.resend_request.to_seq = 0;
    cli_send(&a, &m);
    for (uint64_t q = 2; q <= 5; q++) {
        m = cli_expect(&a, q <= 3 ? LX_PROTO_ACCEPTED : LX_PROTO_FILL);
        assert_int_equal(lx_proto_exec(&m)->seq, q);
    }
    m = cli_expect(&a, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_TRIMMED);
    assert_int_equal(m.u.resend_end.first_seq, 2);
    assert_int_equal(m.u.resend_end.last_seq, 5);

    /* Live numbering goes on at 6. */
    cli_place(&a, BTC, 103, LX_SIDE_SELL, LX_TIF_GTC, PX + 10, 1);
    m = cli_expect(&a, LX_PROTO_ACCEPTED);
    assert_int_equal(m.u.accepted.h.seq, 6);

    /* A session of another account is not resumed: a new one starts. */
    tcli_t c;
    cli_connect(&c, t.port);
    ack = cli_logon(&c, 6, sid);
    assert_int_not_equal(ack.u.logon_ack.session_id, sid);
    assert_int_equal(ack.u.logon_ack.next_seq, 1);
    cli_close(&c);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Session ids are new at every start: two starts within one second (a
 * restart, here two nodes side by side) do not hand out the same ids, so an
 * id kept from another run cannot resume (take over) another client's
 * session of the same account. */
static void test_session_ids_restart(void **state) {
    (void)state;
    char dir1[64], dir2[64];
    make_dir(dir1, sizeof dir1);
    make_dir(dir2, sizeof dir2);
    /* both starts in one second (the ids once took the boot second) */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    usleep((useconds_t)((1000000000 - now.tv_nsec) / 1000 + 20000)); /* time() is coarse */
    time_t t0 = time(NULL);
    tnode_t n1, n2;
    tnode_start(&n1, dir1, NULL, 0);
    tnode_start(&n2, dir2, NULL, 0);
    if (time(NULL) != t0) print_message("session ids: the starts took past a second\n");
    tcli_t a, b, c;
    cli_connect(&a, n1.port);
    uint64_t old = cli_logon(&a, 4, 0).u.logon_ack.session_id;
    cli_connect(&b, n2.port);
    uint64_t fresh = cli_logon(&b, 4, 0).u.logon_ack.session_id;
    assert_true(fresh != old);
    /* the other run's id resumes nothing: a new session, b's stays b's */
    cli_connect(&c, n2.port);
    uint64_t other = cli_logon(&c, 4, old).u.logon_ack.session_id;
    assert_true(other != old && other != fresh);
    cli_status(&b, 1);
    cli_close(&c);
    cli_close(&b);
    cli_close(&a);
    tnode_stop(&n2);
    tnode_stop(&n1);
    remove_dir(dir1);
    remove_dir(dir2);
}

/* A resend bigger than the output bound is delivered whole. */
static void test_big_resend(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_out_max = 16384;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 2, 0);
    enum { N = 600 }; /* 600 x 72 bytes: 43 KB */
    for (int i = 0; i < N; i++) {
        cli_place(&a, BTC, 1 + (uint64_t)i, LX_SIDE_BUY, LX_TIF_GTC, PX - 1000 - i, 1);
        cli_expect(&a, LX_PROTO_ACCEPTED);
    }
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 1;
    cli_send(&a, &m);
    for (uint64_t q = 1; q <= N; q++) {
        m = cli_expect(&a, LX_PROTO_ACCEPTED);
        assert_int_equal(m.u.accepted.h.seq, q);
        assert_int_equal(m.u.accepted.h.client_id, q);
    }
    m = cli_expect(&a, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.last_seq, N);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_COMPLETE);
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* A replay is charged to the connection's rate limit by its length (one
 * message per 64 reports): a client asking for its whole history again and
 * again is refused, RATE_LIMITED, instead of keeping the gateway thread
 * (and the engine's reports behind it) busy. */
static void test_resend_rate(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_per_conn = (lx_config_rate_t){1000, 40}; /* 1,000/s, bursts of 40 */
    tnode_start(&t, dir, NULL, 0);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 2, 0);
    enum { N = 1280 };                /* a replay of N reports: 20 messages besides its request */
    for (int i = 0; i < N / 2; i++) { /* a place and its cancel: two reports */
        cli_place(&a, BTC, 1 + (uint64_t)i, LX_SIDE_BUY, LX_TIF_GTC, PX - 1000, 1);
        cli_expect(&a, LX_PROTO_ACCEPTED);
        cli_cancel(&a, BTC, 0, 1 + (uint64_t)i);
        cli_expect(&a, LX_PROTO_CANCELED);
        struct timespec ts = {0, 2200000}; /* under the rate */
        nanosleep(&ts, NULL);
    }
    struct timespec full = {0, 60000000}; /* the bucket refills */
    nanosleep(&full, NULL);
    int replayed = 0, refused = 0;
    for (int r = 0; r < 3; r++) {
        lx_proto_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = LX_PROTO_RESEND_REQUEST;
        m.u.resend_request.from_seq = 1;
        cli_send(&a, &m);
        assert_int_equal(cli_recv(&a, &m, 5000), 1);
        if (m.type == LX_PROTO_REJECT) {
            assert_int_equal(m.u.reject.reason, LX_PROTO_R_RATE_LIMITED);
            assert_int_equal(m.u.reject.ref_type, LX_PROTO_RESEND_REQUEST);
            assert_true(m.u.reject.retry_after_us > 0);
            refused++;
            continue;
        }
        for (uint64_t q = 2; q <= N; q++) assert_int_equal(cli_recv(&a, &m, 5000), 1);
        assert_int_equal(cli_recv(&a, &m, 5000), 1);
        assert_int_equal(m.type, LX_PROTO_RESEND_END);
        replayed++;
    }
    /* 21 each against a burst of 40 (plus what refills while one is read):
     * the first goes, the third at the latest is refused (one each: all) */
    assert_true(replayed >= 1);
    assert_true(refused >= 1);
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Snapshots every 100 commands while trading; a restart starts from the
 * newest one and replays the tail. */
static void test_snapshot_restart(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_snap_every = 100;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 5, 0);
    cli_logon(&b, 6, 0);
    enum { N = 450 };
    lx_order_id_t ids[N];
    for (int i = 0; i < N; i++) {
        cli_place(&a, BTC, 1 + (uint64_t)i, LX_SIDE_SELL, LX_TIF_GTC, PX + i % 20, 1);
        ids[i] = cli_expect(&a, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
        if (i % 3 == 0) { /* B takes one now and then */
            cli_place(&b, BTC, 1 + (uint64_t)i, LX_SIDE_BUY, LX_TIF_IOC, PX + 20, 1);
            cli_expect(&b, LX_PROTO_ACCEPTED);
            cli_expect(&b, LX_PROTO_FILL);
            cli_expect(&a, LX_PROTO_FILL);
        }
    }
    cli_close(&a);
    cli_close(&b);
    uint64_t digest = tnode_stop(&t);
    assert_true(t_last_stats.snapshots >= 3);
    print_message("snapshots: %llu, longest engine stall %llu us\n",
                  (unsigned long long)t_last_stats.snapshots,
                  (unsigned long long)t_last_stats.snapshot_stall_ns / 1000);

    tnode_start(&t, dir, NULL, 0);
    lx_node_stats_t st;
    lx_node_stats(t.node, &st);
    assert_true(st.recovered_snapshot_seq > 305);
    cli_connect(&a, t.port);
    cli_logon(&a, 5, 0);
    /* The last order is open; so are those B did not take. */
    lx_proto_msg_t m = cli_status(&a, ids[N - 1]);
    assert_int_equal(m.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    cli_close(&a);
    assert_int_equal(tnode_stop(&t), digest);
    remove_dir(dir);
}

/* A session away for longer than the linger time loses its history: the
 * resend says "trimmed", numbering goes on, new reports are kept again. */
static void test_session_linger(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_linger_ms = 100;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 4, 0);
    uint64_t sid = a.session;
    cli_place(&a, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    cli_expect(&a, LX_PROTO_ACCEPTED);
    cli_place(&a, BTC, 2, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    cli_expect(&a, LX_PROTO_ACCEPTED);
    cli_close(&a);
    usleep(1300 * 1000); /* the reclaim runs once a second */
    cli_connect(&a, t.port);
    lx_proto_msg_t m = cli_logon(&a, 4, sid);
    assert_int_equal(m.u.logon_ack.session_id, sid);
    assert_int_equal(m.u.logon_ack.next_seq, 3);
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 1;
    cli_send(&a, &m);
    m = cli_expect(&a, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_TRIMMED);
    assert_int_equal(m.u.resend_end.first_seq, 0);
    assert_int_equal(m.u.resend_end.last_seq, 0);
    assert_int_equal(m.u.resend_end.next_seq, 3);
    cli_place(&a, BTC, 3, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    cli_expect(&a, LX_PROTO_ACCEPTED); /* seq 3 */
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 2;
    cli_send(&a, &m);
    m = cli_expect(&a, LX_PROTO_ACCEPTED);
    assert_int_equal(m.u.accepted.h.seq, 3);
    assert_int_equal(m.u.accepted.h.client_id, 3);
    m = cli_expect(&a, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_TRIMMED);
    assert_int_equal(m.u.resend_end.first_seq, 3);
    assert_int_equal(m.u.resend_end.last_seq, 3);
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* An account has at most 32 session records on a gateway thread: a new
 * session beyond them takes over the one disconnected the longest (the same
 * id, its numbering going on, its history dropped: a resend says trimmed),
 * so a client that logs on and off in a loop cannot grow the gateway; with
 * all of them connected one more new session is refused (UNAVAILABLE).
 * Connections are dealt to the threads in turn, so with T threads the
 * first 32 T sessions are new and the next T take over the first T. */
static void test_session_cap(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_max_conns = 400;
    t_per_ip = 300;
    tnode_start(&t, dir, NULL, 0);
    enum { CAP = 32 };
    const int T = (int)t_threads, N = CAP * T;
    static uint64_t ids[2 * CAP];
    assert_true(N <= 2 * CAP);
    tcli_t a;
    for (int k = 0; k < N; k++) {
        cli_connect(&a, t.port);
        ids[k] = cli_logon(&a, 9, 0).u.logon_ack.session_id;
        for (int j = 0; j < k; j++) assert_true(ids[j] != ids[k]);
        if (k == 0) {
            cli_place(&a, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
            cli_expect(&a, LX_PROTO_ACCEPTED); /* seq 1 of session ids[0] */
        }
        cli_close(&a);
        usleep(20 * 1000); /* the gateway sees each close in turn */
    }
    /* the next T take over the first T, the longest away on their threads */
    tcli_t b[2];
    for (int k = 0; k < T; k++) {
        cli_connect(&b[k], t.port);
        lx_proto_msg_t m = cli_logon(&b[k], 9, 0);
        assert_true(m.u.logon_ack.session_id == ids[k]);
        assert_int_equal(m.u.logon_ack.next_seq, k == 0 ? 2 : 1);
    }
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 1;
    cli_send(&b[0], &m);
    assert_int_equal(cli_expect(&b[0], LX_PROTO_RESEND_END).u.resend_end.status,
                     LX_PROTO_RESEND_TRIMMED);
    for (int k = 0; k < T; k++) cli_close(&b[k]);

    /* account 10 with all its sessions connected: no new one */
    static tcli_t held[2 * CAP];
    for (int k = 0; k < N; k++) {
        cli_connect(&held[k], t.port);
        cli_logon(&held[k], 10, 0);
    }
    lx_proto_msg_t lm = logon_msg(10, 0, 0);
    for (int k = 0; k < T; k++) {
        cli_connect(&b[k], t.port);
        cli_send(&b[k], &lm);
        m = cli_expect(&b[k], LX_PROTO_REJECT);
        assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNAVAILABLE);
        assert_int_equal(m.u.reject.ref_type, LX_PROTO_LOGON);
    }
    /* the connection stays, not logged on; the LOGON again, once the
     * account's sessions are away, takes over one of them */
    for (int k = 0; k < T; k++) {
        cli_expect_nothing(&b[k], 100);
        cli_place(&b[k], BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
        assert_int_equal(cli_expect(&b[k], LX_PROTO_REJECT).u.reject.reason,
                         LX_PROTO_R_NOT_LOGGED_ON);
    }
    for (int k = 0; k < N; k++) cli_close(&held[k]);
    usleep(100 * 1000); /* the gateway sees the closes */
    for (int k = 0; k < T; k++) {
        cli_send(&b[k], &lm);
        cli_expect(&b[k], LX_PROTO_LOGON_ACK);
        cli_close(&b[k]);
    }
    tnode_stop(&t);
    remove_dir(dir);
}

static void test_restart_recovers(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 7, 0);
    cli_place(&a, ETH, 70, LX_SIDE_BUY, LX_TIF_GTC, 199000, 30);
    lx_proto_msg_t acc = cli_expect(&a, LX_PROTO_ACCEPTED);
    lx_order_id_t id = acc.u.accepted.h.order_id;
    cli_close(&a);
    uint64_t digest = tnode_stop(&t);

    tnode_start(&t, dir, NULL, 0);
    cli_connect(&a, t.port);
    cli_logon(&a, 7, 0);
    lx_proto_msg_t st = cli_status(&a, id);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(st.u.status_reply.client_id, 70);
    assert_int_equal(st.u.status_reply.price, 199000);
    assert_int_equal(st.u.status_reply.remaining, 30);
    /* by id naming its market, or another (unknown there, as a cancel
     * naming another market is refused) */
    assert_int_equal(cli_status_in(&a, ETH, id).u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(cli_status_in(&a, BTC, id).u.status_reply.status, LX_PROTO_STATUS_UNKNOWN);
    /* Reports of an order from before the restart reach the account's
     * session, its FILL with the order's client id (the TRADE event has
     * none: the node keeps it per order, refilled at start). */
    tcli_t b;
    cli_connect(&b, t.port);
    cli_logon(&b, 8, 0);
    cli_place(&b, ETH, 80, LX_SIDE_SELL, LX_TIF_IOC, 199000, 10);
    cli_expect(&b, LX_PROTO_ACCEPTED);
    lx_proto_msg_t f = cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(f.u.fill.h.order_id, id);
    assert_int_equal(f.u.fill.h.client_id, 70);
    assert_int_equal(f.u.fill.remaining, 20);
    cli_close(&b);
    cli_cancel(&a, ETH, 0, 70);
    lx_proto_msg_t cx = cli_expect(&a, LX_PROTO_CANCELED);
    assert_int_equal(cx.u.canceled.h.order_id, id);
    /* The faucet is not paid twice: the boot commands ran once. */
    cli_close(&a);
    uint64_t d2 = tnode_stop(&t);
    assert_int_not_equal(d2, digest);

    /* A third start sees the cancel. */
    tnode_start(&t, dir, NULL, 0);
    cli_connect(&a, t.port);
    cli_logon(&a, 7, 0);
    st = cli_status(&a, id);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_UNKNOWN);
    cli_close(&a);
    assert_int_equal(tnode_stop(&t), d2);
    remove_dir(dir);
}

/* One node per data directory: a second one refuses to start, before it
 * touches the journal (it opened a new segment under the running node and
 * broke its hash chain, whether or not it then got its ports); once the
 * first is closed, the directory opens again. */
static void test_data_dir_lock(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    lx_config_t cfg = t.cfg;
    char err[512] = "";
    lx_node_t *second = NULL;
    lx_node_opts_t no = {.faucet_accounts = 10, .ring_capacity = 1024};
    assert_int_equal(lx_node_open(&second, &cfg, &no, err, sizeof err), LX_ESTATE);
    assert_null(second);
    assert_non_null(strstr(err, "in use by another lxdexd"));
    uint64_t digest = tnode_stop(&t);
    tnode_start(&t, dir, NULL, 0); /* the same state: nothing was added */
    assert_int_equal(tnode_stop(&t), digest);
    remove_dir(dir);
}

/* ---- durability: an fdatasync that waits for the test ----------------------- */

static _Atomic int gate_closed;
static _Atomic int syncs_started, syncs_done;

static int g_open(void *ctx, const char *p, int f, mode_t m) {
    (void)ctx;
    return lx_io_posix()->open(lx_io_posix()->ctx, p, f, m);
}
static int g_close(void *ctx, int fd) {
    (void)ctx;
    return lx_io_posix()->close(lx_io_posix()->ctx, fd);
}
static int g_write(void *ctx, int fd, const void *b, size_t n) {
    (void)ctx;
    return lx_io_posix()->write(lx_io_posix()->ctx, fd, b, n);
}
static int g_pwrite(void *ctx, int fd, const void *b, size_t n, off_t o) {
    (void)ctx;
    return lx_io_posix()->pwrite(lx_io_posix()->ctx, fd, b, n, o);
}
static _Atomic int sync_fails; /* fdatasync returns -EIO while set */

static int g_fdatasync(void *ctx, int fd) {
    (void)ctx;
    if (atomic_load(&sync_fails)) return -EIO;
    atomic_fetch_add(&syncs_started, 1);
    while (atomic_load(&gate_closed)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int rc = lx_io_posix()->fdatasync(lx_io_posix()->ctx, fd);
    atomic_fetch_add(&syncs_done, 1);
    return rc;
}
static int g_fsync(void *ctx, int fd) {
    (void)ctx;
    return lx_io_posix()->fsync(lx_io_posix()->ctx, fd);
}
static int g_ftruncate(void *ctx, int fd, off_t l) {
    (void)ctx;
    return lx_io_posix()->ftruncate(lx_io_posix()->ctx, fd, l);
}
static int g_rename(void *ctx, const char *a, const char *b) {
    (void)ctx;
    return lx_io_posix()->rename(lx_io_posix()->ctx, a, b);
}
static int g_unlink(void *ctx, const char *p) {
    (void)ctx;
    return lx_io_posix()->unlink(lx_io_posix()->ctx, p);
}
static int g_fsync_dir(void *ctx, const char *d) {
    (void)ctx;
    return lx_io_posix()->fsync_dir(lx_io_posix()->ctx, d);
}

static void test_ack_after_fsync(void **state) {
    (void)state;
    static const lx_io_t gated = {NULL,    g_open,      g_close,  g_write,  g_pwrite,   g_fdatasync,
                                  g_fsync, g_ftruncate, g_rename, g_unlink, g_fsync_dir};
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, &gated, 0);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 8, 0);
    /* The boot batch is through once a first order is acknowledged. */
    cli_place(&a, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 5000, 1);
    cli_expect(&a, LX_PROTO_ACCEPTED);

    atomic_store(&gate_closed, 1);
    int started = atomic_load(&syncs_started);
    cli_place(&a, BTC, 2, LX_SIDE_BUY, LX_TIF_GTC, PX - 5000, 1);
    /* The sequencer reaches the fdatasync and waits there... */
    for (int i = 0; i < 5000 && atomic_load(&syncs_started) == started; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&syncs_started), started + 1);
    int done = atomic_load(&syncs_done);
    /* ... and no acknowledgement leaves meanwhile. */
    cli_expect_nothing(&a, 300);
    assert_int_equal(atomic_load(&syncs_done), done);
    atomic_store(&gate_closed, 0);
    lx_proto_msg_t m = cli_expect(&a, LX_PROTO_ACCEPTED);
    assert_int_equal(m.u.accepted.h.client_id, 2);
    assert_true(atomic_load(&syncs_done) > done);
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* A journal that fails: at boot the node does not start; later it takes
 * no more requests (REJECT UNAVAILABLE) and sends nothing it has not made
 * durable. */
static void test_journal_failure(void **state) {
    (void)state;
    static const lx_io_t gated = {NULL,    g_open,      g_close,  g_write,  g_pwrite,   g_fdatasync,
                                  g_fsync, g_ftruncate, g_rename, g_unlink, g_fsync_dir};
    char dir[64], err[256] = "";
    make_dir(dir, sizeof dir);
    lx_config_t cfg;
    assert_int_equal(lx_config_default(&cfg, err, sizeof err), 0);
    cfg.listen.binary.port = 0;
    snprintf(cfg.node.data_dir, sizeof cfg.node.data_dir, "%s/boot", dir);
    lx_node_opts_t no = {.io = &gated, .faucet_accounts = 2, .ring_capacity = 1024};
    lx_node_t *node = NULL;
    assert_int_equal(lx_node_open(&node, &cfg, &no, err, sizeof err), 0);
    atomic_store(&sync_fails, 1);
    assert_true(lx_node_start(node) < 0);
    atomic_store(&sync_fails, 0);
    lx_node_close(node);
    lx_config_free(&cfg);

    char run[80];
    snprintf(run, sizeof run, "%s/run", dir);
    tnode_t t;
    tnode_start(&t, run, &gated, 0);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 3, 0);
    cli_place(&a, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    cli_expect(&a, LX_PROTO_ACCEPTED);
    atomic_store(&sync_fails, 1);
    cli_place(&a, BTC, 2, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    /* Not durable: no report. */
    cli_expect_nothing(&a, 200);
    atomic_store(&sync_fails, 0);
    cli_place(&a, BTC, 3, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    lx_proto_msg_t m = cli_expect(&a, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNAVAILABLE);
    assert_int_equal(m.u.reject.ref_client_id, 3);
    cli_close(&a);
    tnode_close(&t);
    assert_int_not_equal(t_last_stats.journal_error, 0);
    remove_dir(dir);
}

/* ---- the engine out of memory (tests/support/failalloc.h) ------------------- */

/* A command the engine has no memory for is tried again: once memory comes
 * back it is applied as if nothing happened. When it never comes back the
 * node stops (the shard applies nothing after the command, which is in the
 * journal) and the next start applies it. */
static void test_engine_out_of_memory(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 3, 0);
    /* the first order of a book side allocates its arrays: that allocation
     * fails once, the retry succeeds */
    failalloc_arm(1);
    cli_place(&a, BTC, 1, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    cli_expect(&a, LX_PROTO_ACCEPTED);
    assert_true(failalloc_fired());
    failalloc_arm(0);

    /* now every engine allocation fails: no report, and after the retries
     * (about a second) the node stops */
    failalloc_fail_all(true);
    cli_place(&a, ETH, 2, LX_SIDE_BUY, LX_TIF_GTC, 199000, 1);
    for (int i = 0; i < 5000 && !lx_node_failed(t.node); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_true(lx_node_failed(t.node));
    assert_true(failalloc_fired());
    failalloc_fail_all(false);
    cli_expect_nothing(&a, 200);
    cli_place(&a, BTC, 3, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    lx_proto_msg_t m = cli_expect(&a, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNAVAILABLE);
    cli_close(&a);
    tnode_close(&t);
    assert_int_equal(t_last_stats.journal_error, LX_ENOMEM);

    /* the order was durable: the next start applies it */
    tnode_start(&t, dir, NULL, 0);
    cli_connect(&a, t.port);
    cli_logon(&a, 3, 0);
    cli_cancel(&a, ETH, 0, 2);
    m = cli_expect(&a, LX_PROTO_CANCELED);
    assert_int_equal(m.u.canceled.h.client_id, 2);
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* ---- many orders: every report arrives, numbered without gaps -------------- */

static void test_many_orders(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 9, 0);
    cli_logon(&b, 10, 0);
    enum { N = 900 }; /* under max_open_orders_per_account (1000) */
    /* A rests N sells of 1 lot; B sends N buys of 1 lot that each take one. */
    for (int i = 0; i < N; i++)
        cli_place(&a, ETH, 1 + (uint64_t)i, LX_SIDE_SELL, LX_TIF_GTC, 250000 + i % 50, 1);
    for (int i = 0; i < N; i++) cli_expect(&a, LX_PROTO_ACCEPTED);
    for (int i = 0; i < N; i++)
        cli_place(&b, ETH, 1 + (uint64_t)i, LX_SIDE_BUY, LX_TIF_IOC, 260000, 1);
    for (int i = 0; i < N; i++) {
        cli_expect(&b, LX_PROTO_ACCEPTED);
        lx_proto_msg_t f = cli_expect(&b, LX_PROTO_FILL);
        assert_int_equal(f.u.fill.h.client_id, (uint64_t)i + 1);
    }
    for (int i = 0; i < N; i++) cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(a.next_seq, 2 * N + 1);
    assert_int_equal(b.next_seq, 2 * N + 1);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

/* ---- limits: slow readers, connection cap, heartbeats ------------------------- */

static void test_slow_reader(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_out_max = 16384;
    tnode_start(&t, dir, NULL, 0);
    tcli_t c;
    cli_connect(&c, t.port);
    int small = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    cli_logon(&c, 3, 0);
    /* ORDER_STATUS queries, never reading the 80-byte replies: far more
     * than the kernel's buffers and the 16 KiB bound hold. */
    lx_proto_msg_t q;
    memset(&q, 0, sizeof q);
    q.type = LX_PROTO_ORDER_STATUS;
    q.u.order_status.market = LX_MARKET_ALL;
    q.u.order_status.order_id = 1;
    uint8_t frame[32];
    assert_int_equal(lx_proto_encode(&q, frame, sizeof frame), 32);
    static uint8_t burst[32 * 1024];
    for (size_t i = 0; i < sizeof burst; i += 32) memcpy(burst + i, frame, 32);
    bool refused = false;
    for (int i = 0; i < 4096 && !refused; i++) { /* up to 128 MiB of replies */
        size_t off = 0;
        while (off < sizeof burst) {
            ssize_t w = send(c.fd, burst + off, sizeof burst - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                off += (size_t)w;
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                struct pollfd pf = {.fd = c.fd, .events = POLLOUT};
                int pr = poll(&pf, 1, 10000);
                if (pr == 0 || (pr == 1 && !(pf.revents & (POLLERR | POLLHUP)))) continue;
            }
            refused = true; /* the server closed: the slow reader was dropped */
            break;
        }
    }
    assert_true(refused);
    /* What did arrive is whole replies, then the end of the stream. */
    lx_proto_msg_t m;
    int rc, n = 0;
    while ((rc = cli_recv(&c, &m, 5000)) == 1) {
        assert_int_equal(m.type, LX_PROTO_ORDER_STATUS_REPLY);
        n++;
    }
    assert_int_equal(rc, -1);
    print_message("slow reader: dropped after %d replies\n", n);
    cli_close(&c);
    /* The node is fine. */
    cli_connect(&c, t.port);
    cli_logon(&c, 3, 0);
    cli_status(&c, 1);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

/* The output bound holds again after a resend: while a resend's output is
 * queued, live reports get the normal bound on top of it (the client is not
 * cut for the replay it has not read yet); once it is out, a slow reader is
 * cut at the normal bound, not at the size the buffer grew to for the
 * resend. */
static void test_resend_bound(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_out_max = 16384;
    tnode_start(&t, dir, NULL, 2048);
    tcli_t c;
    cli_connect(&c, t.port);
    int small = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    cli_logon(&c, 3, 0);
    enum { N = 1500 }; /* REJECTEDs (qty 0) of 48 bytes: 72 KB, 4.4 bounds */
    for (int k = 0; k < N; k += 100) {
        for (int i = 0; i < 100; i++)
            cli_place(&c, ETH, 1 + (uint64_t)(k + i), LX_SIDE_BUY, LX_TIF_GTC, 250000, 0);
        for (int i = 0; i < 100; i++) cli_expect(&c, LX_PROTO_REJECTED);
    }
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 1;
    /* a resend read as it comes */
    cli_send(&c, &m);
    for (int i = 0; i < N; i++) cli_expect(&c, LX_PROTO_REJECTED);
    assert_int_equal(cli_expect(&c, LX_PROTO_RESEND_END).u.resend_end.last_seq, N);
    /* a resend not read yet, then a live report: not a slow reader */
    cli_send(&c, &m);
    usleep(100 * 1000);
    cli_place(&c, ETH, N + 1, LX_SIDE_BUY, LX_TIF_GTC, 250000, 0);
    for (int i = 0; i < N; i++) cli_expect(&c, LX_PROTO_REJECTED);
    cli_expect(&c, LX_PROTO_RESEND_END);
    assert_int_equal(cli_expect(&c, LX_PROTO_REJECTED).u.rejected.h.client_id, N + 1);
    /* the resend is out: the bound is 16 KiB again, not the 128 KiB the
     * buffer grew to for it: 1000 queries in one go, 80 KB of replies
     * queued in one round, make a slow reader */
    lx_proto_msg_t q;
    memset(&q, 0, sizeof q);
    q.type = LX_PROTO_ORDER_STATUS;
    q.u.order_status.market = LX_MARKET_ALL;
    q.u.order_status.order_id = 1;
    static uint8_t burst[1000 * 32];
    for (size_t i = 0; i < sizeof burst; i += 32)
        assert_int_equal(lx_proto_encode(&q, burst + i, 32), 32);
    cli_raw(&c, burst, sizeof burst);
    int rc, n = 0;
    while ((rc = cli_recv(&c, &m, 2000)) == 1) {
        assert_int_equal(m.type, LX_PROTO_ORDER_STATUS_REPLY);
        n++;
    }
    print_message("slow reader after a resend: closed after %d replies\n", n);
    assert_int_equal(rc, -1);
    assert_true(n < 1000);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

static void test_connection_cap(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_max_conns = 2;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b, c;
    cli_connect(&a, t.port);
    cli_logon(&a, 1, 0);
    cli_connect(&b, t.port);
    cli_logon(&b, 2, 0);
    cli_connect(&c, t.port);
    lx_proto_msg_t m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNAVAILABLE);
    cli_expect_closed(&c);
    cli_close(&c);
    /* A place frees up when one leaves (once the gateway has seen it go). */
    cli_close(&a);
    bool in = false;
    for (int i = 0; i < 500 && !in; i++) {
        cli_connect(&c, t.port);
        memset(&m, 0, sizeof m);
        m.type = LX_PROTO_LOGON;
        m.u.logon.version = LX_PROTO_VERSION;
        m.u.logon.account = 3;
        cli_send(&c, &m);
        int rc = cli_recv(&c, &m, 5000);
        if (rc == 1 && m.type == LX_PROTO_LOGON_ACK)
            in = true;
        else if (rc == 1)
            assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNAVAILABLE);
        cli_close(&c);
        if (!in) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(in);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

static void test_connection_cap_per_ip(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_max_conns = 16;
    t_per_ip = 2;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b, c;
    cli_connect(&a, t.port);
    cli_logon(&a, 1, 0);
    cli_connect(&b, t.port);
    cli_logon(&b, 2, 0);
    cli_connect(&c, t.port); /* a third from 127.0.0.1 */
    lx_proto_msg_t m = cli_expect(&c, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNAVAILABLE);
    cli_expect_closed(&c);
    cli_close(&c);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

static void test_heartbeats(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t c;
    cli_connect(&c, t.port);
    c.keep_heartbeats = true;
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = 3;
    m.u.logon.heartbeat_ms = 200;
    cli_send(&c, &m);
    m = cli_expect(&c, LX_PROTO_LOGON_ACK);
    assert_int_equal(m.u.logon_ack.heartbeat_ms, 200);
    /* Silent client: heartbeats carrying next_seq, then a close after
     * three intervals. */
    m = cli_expect(&c, LX_PROTO_SERVER_HEARTBEAT);
    assert_int_equal(m.u.heartbeat.next_seq, 1);
    cli_expect_closed(&c);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

static void test_rate_limits(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_per_account = (lx_config_rate_t){1, 5}; /* 1/s, bursts of 5 */
    t_per_conn = (lx_config_rate_t){1000, 40};
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 4, 0);
    cli_logon(&b, 4, 0); /* the same account: one bucket for both */
    /* 3 + 3 places: 5 pass, the 6th is refused. */
    for (int i = 0; i < 3; i++)
        cli_place(&a, BTC, 1 + (uint64_t)i, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    for (int i = 0; i < 3; i++) cli_expect(&a, LX_PROTO_ACCEPTED);
    for (int i = 0; i < 3; i++)
        cli_place(&b, BTC, 11 + (uint64_t)i, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    /* The REJECT leaves the gateway at once, the ACCEPTEDs after the
     * journal: in either order. */
    lx_proto_msg_t m, rej;
    memset(&rej, 0, sizeof rej);
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cli_recv(&b, &m, 5000), 1);
        if (m.type == LX_PROTO_ACCEPTED) {
            assert_int_equal(m.u.accepted.h.seq, b.next_seq);
            b.next_seq++;
            accepted++;
        } else {
            assert_int_equal(m.type, LX_PROTO_REJECT);
            rej = m;
            rejected++;
        }
    }
    assert_int_equal(accepted, 2);
    assert_int_equal(rejected, 1);
    m = rej;
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_RATE_LIMITED);
    assert_int_equal(m.u.reject.ref_type, LX_PROTO_PLACE);
    assert_int_equal(m.u.reject.ref_client_id, 13);
    assert_true(m.u.reject.retry_after_us > 0 && m.u.reject.retry_after_us <= 1000000);
    /* After the retry time, one more goes through. */
    usleep(m.u.reject.retry_after_us + 1000);
    cli_place(&b, BTC, 14, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    m = cli_expect(&b, LX_PROTO_ACCEPTED);
    assert_int_equal(m.u.accepted.h.client_id, 14);
    /* The connection's own limit counts every message: heartbeats too. */
    lx_proto_msg_t hb;
    memset(&hb, 0, sizeof hb);
    hb.type = LX_PROTO_HEARTBEAT;
    for (int i = 0; i < 60; i++) cli_send(&a, &hb);
    m = cli_expect(&a, LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_RATE_LIMITED);
    assert_int_equal(m.u.reject.ref_type, LX_PROTO_HEARTBEAT);
    /* One that keeps pushing (over 100 refusals in a second) is closed; b goes on. */
    for (int i = 0; i < 400; i++) {
        uint8_t f[LX_PROTO_FRAME_MAX];
        int n = lx_proto_encode(&hb, f, sizeof f);
        if (send(a.fd, f, (size_t)n, MSG_NOSIGNAL) != n) break;
    }
    cli_rejects_until_closed(&a);
    cli_status(&b, 1);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Frames the decoder refuses count against the connection's rate limit
 * like any message: over it they get RATE_LIMITED, and a connection that
 * keeps sending them is closed. */
static void test_rate_bad_frames(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_per_conn = (lx_config_rate_t){1000, 40};
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 4, 0);
    cli_logon(&b, 5, 0);
    /* 60 frames of an unknown type at once: about 40 UNKNOWN_TYPE, then
     * RATE_LIMITED naming the type */
    static uint8_t bad[400 * 8];
    for (size_t i = 0; i < sizeof bad; i += 8) {
        memset(bad + i, 0, 8);
        bad[i] = 8, bad[i + 2] = 0x70;
    }
    cli_raw(&a, bad, 60 * 8);
    int unknown = 0, limited = 0;
    for (int i = 0; i < 60; i++) {
        lx_proto_msg_t m = cli_expect(&a, LX_PROTO_REJECT);
        assert_int_equal(m.u.reject.ref_type, 0x70);
        if (m.u.reject.reason == LX_PROTO_R_RATE_LIMITED) {
            assert_true(m.u.reject.retry_after_us > 0);
            limited++;
        } else {
            assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNKNOWN_TYPE);
            unknown++;
        }
    }
    assert_true(unknown >= 30 && unknown < 55);
    assert_true(limited >= 5);
    /* one that keeps pushing them is closed; b goes on */
    for (int i = 0; i < 8; i++) {
        if (send(a.fd, bad, sizeof bad, MSG_NOSIGNAL) != (ssize_t)sizeof bad) break;
    }
    cli_rejects_until_closed(&a);
    cli_status(&b, 1);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

/* ---- shards ------------------------------------------------------------------------ */

/*
 * Two shards (BTC-USD in shard 0, ETH-USD in shard 1, each with its own
 * engine thread and journal): orders and trades in both, ids naming their
 * shard, cancel and status by order id and by client id, an id sent to the
 * wrong market's shard, cancel-all over both shards, a restart that
 * recovers both journals, and a restart with another number of shards
 * refused.
 */
static void test_shards(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    uint8_t bridge_pk[32], bridge_sk[64];
    crypto_sign_keypair(bridge_pk, bridge_sk);
    t_bridge = bridge_pk;
    t_shards = 2;
    tnode_start(&t, dir, NULL, 0);
    assert_int_equal(lx_node_shards(t.node), 2);
    assert_int_equal(lx_node_market_shard(t.node, BTC), 0);
    assert_int_equal(lx_node_market_shard(t.node, ETH), 1);
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 1, 0);
    cli_logon(&b, 2, 0);

    /* A rests a sell in each market; B takes 4 of each. The faucet paid
     * both accounts in both shards. */
    cli_place(&a, BTC, 11, LX_SIDE_SELL, LX_TIF_GTC, PX, 10);
    lx_order_id_t a_btc = cli_expect(&a, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_place(&a, ETH, 12, LX_SIDE_SELL, LX_TIF_GTC, 200000, 10);
    lx_order_id_t a_eth = cli_expect(&a, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    assert_int_equal(LX_NODE_ORDER_SHARD(a_btc), 0);
    assert_int_equal(LX_NODE_ORDER_SHARD(a_eth), 1);
    cli_place(&b, ETH, 21, LX_SIDE_BUY, LX_TIF_IOC, 200000, 4);
    lx_proto_msg_t bacc = cli_expect(&b, LX_PROTO_ACCEPTED);
    assert_int_equal(LX_NODE_ORDER_SHARD(bacc.u.accepted.h.order_id), 1);
    lx_proto_msg_t bf = cli_expect(&b, LX_PROTO_FILL);
    assert_int_equal(bf.u.fill.h.order_id, bacc.u.accepted.h.order_id);
    assert_int_equal(bf.u.fill.qty, 4);
    lx_proto_msg_t af = cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(af.u.fill.h.order_id, a_eth);
    assert_int_equal(af.u.fill.h.client_id, 12);
    assert_int_equal(af.u.fill.remaining, 6);
    cli_place(&b, BTC, 22, LX_SIDE_BUY, LX_TIF_IOC, PX, 4);
    cli_expect(&b, LX_PROTO_ACCEPTED);
    cli_expect(&b, LX_PROTO_FILL);
    af = cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(af.u.fill.h.order_id, a_btc);

    /* Status by order id in any market goes to the id's shard; by client id
     * in any market, every shard looks and exactly one answers. */
    lx_proto_msg_t st = cli_status(&a, a_eth);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(st.u.status_reply.order_id, a_eth);
    assert_int_equal(st.u.status_reply.remaining, 6);
    st = cli_status_cid(&a, LX_MARKET_ALL, 12);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(st.u.status_reply.order_id, a_eth);
    st = cli_status_cid(&a, LX_MARKET_ALL, 999);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_UNKNOWN);
    cli_expect_nothing(&a, 100);

    /* A shard-1 id cancelled in BTC (shard 0), and a shard-0 id in ETH:
     * unknown orders, echoed as sent; nothing cancelled. */
    cli_cancel(&a, BTC, a_eth, 0);
    lx_proto_msg_t rj = cli_expect(&a, LX_PROTO_REJECTED);
    assert_int_equal(rj.u.rejected.reason, LX_REJECT_UNKNOWN_ORDER);
    assert_int_equal(rj.u.rejected.h.order_id, a_eth);
    cli_cancel(&a, ETH, a_btc, 0);
    rj = cli_expect(&a, LX_PROTO_REJECTED);
    assert_int_equal(rj.u.rejected.reason, LX_REJECT_UNKNOWN_ORDER);
    assert_int_equal(rj.u.rejected.h.order_id, a_btc);

    /* Amend in shard 1 by order id, then cancel-all over both shards. */
    lx_proto_msg_t am;
    memset(&am, 0, sizeof am);
    am.type = LX_PROTO_AMEND;
    am.u.amend.market = ETH;
    am.u.amend.order_id = a_eth;
    am.u.amend.price = 200000;
    am.u.amend.qty = 8;
    cli_send(&a, &am);
    am = cli_expect(&a, LX_PROTO_AMENDED);
    assert_int_equal(am.u.amended.h.order_id, a_eth);
    assert_int_equal(am.u.amended.remaining, 4);
    cli_place(&a, ETH, 13, LX_SIDE_BUY, LX_TIF_GTC, 190000, 3);
    lx_order_id_t a_eth2 = cli_expect(&a, LX_PROTO_ACCEPTED).u.accepted.h.order_id;

    /* Funds are held per shard: the bridge's deposit names its shard.
     * Account 40 (no faucet) gets USD in shard 0 only: an ETH-USD buy
     * (shard 1) has no funds; after a deposit into shard 1 it has. */
    tcli_t d;
    cli_connect(&d, t.port);
    cli_logon(&d, 40, 0);
    lx_action_t dep;
    memset(&dep, 0, sizeof dep);
    dep.chain_id = t.cfg.node.chain_id;
    dep.nonce = 1;
    dep.cmd.type = LX_CMD_DEPOSIT;
    dep.cmd.u.deposit =
        (lx_cmd_deposit_t){.account = 40, .asset = 0, .amount = 1000000000, .deposit_id = 1};
    memcpy(dep.signer, bridge_pk, 32);
    send_signed_shard(&d, &dep, bridge_sk, 0);
    assert_int_equal(cli_expect(&d, LX_PROTO_FUNDS).u.funds.what, LX_PROTO_FUNDS_DEPOSIT);
    cli_place(&d, ETH, 41, LX_SIDE_BUY, LX_TIF_GTC, 190000, 1);
    rj = cli_expect(&d, LX_PROTO_REJECTED);
    assert_int_equal(rj.u.rejected.reason, LX_REJECT_INSUFFICIENT_FUNDS);
    /* the same envelope again, routed to shard 1: refused, the shard is
     * signed (shard 1 has its own deposit ids: it would pay twice) */
    send_signed_shard(&d, &dep, bridge_sk, 1);
    assert_int_equal(cli_expect(&d, LX_PROTO_REJECT).u.reject.reason, LX_PROTO_R_BAD_FIELD);
    dep.nonce = 2;
    dep.cmd.u.deposit.deposit_id = 2;
    dep.shard = 2;
    send_signed_shard(&d, &dep, bridge_sk, 2); /* no shard 2 */
    assert_int_equal(cli_expect(&d, LX_PROTO_REJECT).u.reject.reason, LX_PROTO_R_BAD_FIELD);
    dep.shard = 1;
    send_signed_shard(&d, &dep, bridge_sk, 0); /* signed for 1, routed to 0 */
    assert_int_equal(cli_expect(&d, LX_PROTO_REJECT).u.reject.reason, LX_PROTO_R_BAD_FIELD);
    send_signed_shard(&d, &dep, bridge_sk, 1);
    assert_int_equal(cli_expect(&d, LX_PROTO_FUNDS).u.funds.deposit_id, 2);
    cli_place(&d, ETH, 42, LX_SIDE_BUY, LX_TIF_GTC, 190000, 1);
    lx_proto_msg_t dacc = cli_expect(&d, LX_PROTO_ACCEPTED);
    assert_int_equal(dacc.u.accepted.h.client_id, 42);
    cli_cancel(&d, ETH, dacc.u.accepted.h.order_id, 0);
    cli_expect(&d, LX_PROTO_CANCELED);
    cli_close(&d);
    cli_close(&a);
    cli_close(&b);
    uint64_t digest = tnode_stop(&t);

    /* Restart: both shards recover. */
    t_shards = 2;
    tnode_start(&t, dir, NULL, 0);
    cli_connect(&a, t.port);
    cli_logon(&a, 1, 0);
    st = cli_status(&a, a_eth2);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(st.u.status_reply.client_id, 13);
    st = cli_status(&a, a_btc);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    memset(&am, 0, sizeof am);
    am.type = LX_PROTO_CANCEL_ALL;
    am.u.cancel_all.market = LX_MARKET_ALL;
    cli_send(&a, &am);
    lx_order_id_t seen[3];
    for (int i = 0; i < 3; i++) {
        lx_proto_msg_t cx = cli_expect(&a, LX_PROTO_CANCELED);
        assert_int_equal(cx.u.canceled.reason, LX_CANCEL_CANCEL_ALL);
        seen[i] = cx.u.canceled.h.order_id;
    }
    cli_expect_nothing(&a, 150);
    int found = 0;
    for (int i = 0; i < 3; i++) found += seen[i] == a_btc || seen[i] == a_eth || seen[i] == a_eth2;
    assert_int_equal(found, 3);
    cli_close(&a);
    uint64_t d2 = tnode_stop(&t);
    assert_int_not_equal(d2, digest);

    /* Snapshots per shard (TICKs count: one every 100 ms in each shard),
     * and a restart from them. */
    t_shards = 2;
    t_snap_every = 3;
    tnode_start(&t, dir, NULL, 0);
    struct timespec nap = {0, 900000000};
    nanosleep(&nap, NULL);
    tnode_stop(&t);
    assert_true(t_last_stats.snapshots >= 2);
    uint64_t seq3 = t_last_stats.last_seq; /* both shards' */
    t_shards = 2;
    tnode_start(&t, dir, NULL, 0);
    lx_node_stats_t st3;
    lx_node_stats(t.node, &st3);
    assert_true(st3.recovered_snapshot_seq > 0);
    assert_true(st3.last_seq >= seq3);
    tnode_stop(&t);

    /* The journals are per shard, and the node will not start with another
     * number of shards. */
    char path[128];
    struct stat sb;
    snprintf(path, sizeof path, "%s/shard-1", dir);
    assert_int_equal(stat(path, &sb), 0);
    lx_config_t cfg;
    char err[512] = "";
    assert_int_equal(lx_config_default(&cfg, err, sizeof err), 0);
    snprintf(cfg.node.data_dir, sizeof cfg.node.data_dir, "%s", dir);
    cfg.engine.max_orders = 65536;
    lx_node_t *n = NULL;
    assert_int_not_equal(lx_node_open(&n, &cfg, NULL, err, sizeof err), 0);
    assert_null(n);
    assert_non_null(strstr(err, "shards: 1"));
    lx_config_free(&cfg);
    remove_dir(dir);
}

/* ---- two gateway threads ------------------------------------------------------- */

/*
 * Two threads: connections are dealt out round robin (1st, 3rd, ... on
 * thread 0; 2nd, 4th, ... on thread 1), sessions on both trade with each
 * other; a session resumed from the other thread moves there and gets the
 * reports it missed (also with the RESEND_REQUEST in the same write as the
 * LOGON, and after a signed logon); cancel-on-disconnect of a session on
 * thread 1 cancels through the log and thread 0's session of the account
 * sees it.
 */
static void test_threads_trade_resume(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_threads = 2;
    tnode_start(&t, dir, NULL, 0);
    assert_true(sodium_init() >= 0);
    tcli_t a, b, c;
    cli_connect(&a, t.port);
    cli_logon(&a, 1, 0);
    cli_connect(&b, t.port);
    cli_logon(&b, 2, 0);
    assert_int_equal(cli_thread(&a), 0);
    assert_int_equal(cli_thread(&b), 1);

    /* a (thread 0) rests a sell, b (thread 1) takes it */
    cli_place(&a, BTC, 1, LX_SIDE_SELL, LX_TIF_GTC, PX, 3);
    lx_order_id_t a1 = cli_expect(&a, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_place(&b, BTC, 2, LX_SIDE_BUY, LX_TIF_IOC, PX, 1);
    cli_expect(&b, LX_PROTO_ACCEPTED);
    lx_proto_msg_t m = cli_expect(&b, LX_PROTO_FILL);
    assert_int_equal(m.u.fill.h.client_id, 2);
    m = cli_expect(&a, LX_PROTO_FILL);
    assert_int_equal(m.u.fill.h.order_id, a1);
    assert_int_equal(m.u.fill.h.client_id, 1);
    assert_int_equal(m.u.fill.remaining, 2);

    /* b (thread 1) goes away with a resting buy; a fills it (b's seq 4) */
    cli_place(&b, BTC, 3, LX_SIDE_BUY, LX_TIF_GTC, PX - 10, 2);
    cli_expect(&b, LX_PROTO_ACCEPTED); /* seq 3 */
    uint64_t sid_b = b.session;
    cli_close(&b);
    cli_place(&a, BTC, 4, LX_SIDE_SELL, LX_TIF_IOC, PX - 10, 2);
    cli_expect(&a, LX_PROTO_ACCEPTED);
    cli_expect(&a, LX_PROTO_FILL);
    cli_sync_thread(t.port, 1); /* b's FILL is numbered by now */

    /* a connection on thread 0 resuming b's session moves to thread 1, the
     * RESEND_REQUEST sent in the same write with it */
    cli_align(t.port, 0);
    cli_connect(&b, t.port);
    lx_proto_msg_t two[2];
    memset(two, 0, sizeof two);
    two[0] = logon_msg(2, sid_b, 0);
    two[1].type = LX_PROTO_RESEND_REQUEST;
    two[1].u.resend_request.from_seq = 1;
    uint8_t f[2 * LX_PROTO_FRAME_MAX];
    int n0 = lx_proto_encode(&two[0], f, LX_PROTO_FRAME_MAX);
    int n1 = lx_proto_encode(&two[1], f + n0, LX_PROTO_FRAME_MAX);
    assert_true(n0 > 0 && n1 > 0);
    cli_raw(&b, f, (size_t)(n0 + n1));
    m = cli_expect(&b, LX_PROTO_LOGON_ACK);
    assert_int_equal(m.u.logon_ack.session_id, sid_b);
    assert_int_equal(m.u.logon_ack.next_seq, 5);
    b.session = sid_b;
    b.next_seq = 5;
    assert_int_equal(cli_thread(&b), 1);
    static const int want[] = {LX_PROTO_ACCEPTED, LX_PROTO_FILL, LX_PROTO_ACCEPTED, LX_PROTO_FILL};
    for (uint64_t q = 1; q <= 4; q++) {
        m = cli_expect(&b, want[q - 1]);
        assert_true(m.flags & LX_PROTO_F_RESENT);
        assert_int_equal(lx_proto_exec(&m)->seq, q);
    }
    assert_int_equal(m.u.fill.h.client_id, 3);
    assert_int_equal(m.u.fill.remaining, 0);
    m = cli_expect(&b, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_COMPLETE);
    assert_int_equal(m.u.resend_end.next_seq, 5);
    /* and live reports go on from 5, on thread 1 */
    cli_place(&b, BTC, 5, LX_SIDE_BUY, LX_TIF_GTC, PX - 20, 1);
    assert_int_equal(cli_expect(&b, LX_PROTO_ACCEPTED).u.accepted.h.seq, 5);

    /* a signed session on thread 1, resumed from thread 0: the challenge is
     * signed on thread 0, the session goes on on 1 */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    uint32_t chain = t.cfg.node.chain_id;
    cli_align(t.port, 1);
    cli_connect(&c, t.port);
    cli_logon_signed(&c, chain, 7, pk, sk, 0);
    assert_int_equal(cli_thread(&c), 1);
    cli_place(&c, BTC, 6, LX_SIDE_BUY, LX_TIF_GTC, PX - 30, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    uint64_t sid_c = c.session;
    cli_close(&c);
    assert_int_equal(t_conns % 2, 0);
    cli_connect(&c, t.port);
    lx_proto_msg_t ack = cli_logon_signed(&c, chain, 7, pk, sk, sid_c);
    assert_int_equal(ack.u.logon_ack.session_id, sid_c);
    assert_int_equal(cli_thread(&c), 1);
    cli_place(&c, BTC, 7, LX_SIDE_BUY, LX_TIF_GTC, PX - 31, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    cli_close(&c);

    /* cancel-on-disconnect on thread 1: every order of account 3 is
     * cancelled, also the one its session on thread 0 placed, which that
     * session is told */
    tcli_t d, e;
    cli_align(t.port, 1);
    cli_connect(&d, t.port);
    cli_logon_flags(&d, 3, 0, LX_PROTO_LOGON_CANCEL_ON_DISCONNECT);
    cli_connect(&e, t.port);
    cli_logon(&e, 3, 0);
    assert_int_equal(cli_thread(&e), 0);
    assert_int_equal(cli_thread(&d), 1);
    cli_place(&d, BTC, 8, LX_SIDE_BUY, LX_TIF_GTC, PX - 40, 1);
    lx_order_id_t d1 = cli_expect(&d, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_place(&e, BTC, 9, LX_SIDE_BUY, LX_TIF_GTC, PX - 41, 1);
    lx_order_id_t e1 = cli_expect(&e, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    cli_close(&d);
    m = cli_expect(&e, LX_PROTO_CANCELED);
    assert_int_equal(m.u.canceled.h.order_id, e1);
    assert_int_equal(m.u.canceled.reason, LX_CANCEL_DISCONNECT);
    assert_int_equal(cli_status(&e, d1).u.status_reply.status, LX_PROTO_STATUS_UNKNOWN);

    cli_close(&e);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

/* One account on both threads: one bucket (burst 4 at 1/s: 4 of 6 pass). */
static void test_threads_rate_limit(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_threads = 2;
    t_per_account = (lx_config_rate_t){1, 4};
    tnode_start(&t, dir, NULL, 0);
    tcli_t c[2];
    for (int k = 0; k < 2; k++) {
        cli_connect(&c[k], t.port);
        cli_logon(&c[k], 4, 0);
        assert_int_equal(cli_thread(&c[k]), (unsigned)k);
    }
    /* both at once, so that the threads race for the bucket */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            cli_place(&c[k], BTC, 1 + (uint64_t)(10 * k + i), LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    int accepted = 0, rejected = 0;
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 3; i++) {
            lx_proto_msg_t m;
            assert_int_equal(cli_recv(&c[k], &m, 5000), 1);
            if (m.type == LX_PROTO_ACCEPTED) {
                accepted++;
            } else {
                assert_int_equal(m.type, LX_PROTO_REJECT);
                assert_int_equal(m.u.reject.reason, LX_PROTO_R_RATE_LIMITED);
                rejected++;
            }
        }
        cli_expect_nothing(&c[k], 100);
    }
    assert_int_equal(accepted, 4);
    assert_int_equal(rejected, 2);
    cli_close(&c[0]);
    cli_close(&c[1]);
    tnode_stop(&t);
    remove_dir(dir);
}

/* max_connections_per_ip 3 counts the connections of both threads; one
 * closed on thread 1 makes room again. */
static void test_threads_connection_cap(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_threads = 2;
    t_max_conns = 16;
    t_per_ip = 3;
    tnode_start(&t, dir, NULL, 0);
    tcli_t c[4];
    for (int k = 0; k < 3; k++) {
        cli_connect(&c[k], t.port);
        cli_logon(&c[k], 1 + (lx_account_id_t)k, 0);
        assert_int_equal(cli_thread(&c[k]), (unsigned)(k % 2));
    }
    cli_connect(&c[3], t.port);
    lx_proto_msg_t m = cli_expect(&c[3], LX_PROTO_REJECT);
    assert_int_equal(m.u.reject.reason, LX_PROTO_R_UNAVAILABLE);
    cli_expect_closed(&c[3]);
    cli_close(&c[3]);
    cli_close(&c[1]); /* thread 1's */
    /* the close is counted when thread 1 sees it: retry for a while */
    bool in = false;
    for (int tries = 0; tries < 100 && !in; tries++) {
        cli_connect(&c[3], t.port);
        lx_proto_msg_t l;
        memset(&l, 0, sizeof l);
        l.type = LX_PROTO_LOGON;
        l.u.logon.version = LX_PROTO_VERSION;
        l.u.logon.account = 5;
        cli_send(&c[3], &l);
        assert_int_equal(cli_recv(&c[3], &m, 5000), 1);
        in = m.type == LX_PROTO_LOGON_ACK;
        if (!in) {
            cli_close(&c[3]);
            usleep(10000);
        }
    }
    assert_true(in);
    cli_close(&c[3]);
    cli_close(&c[0]);
    cli_close(&c[2]);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Connects c, resumes `session` of `account` (0: a new one) with a
 * RESEND_REQUEST from c->next_seq in the same write, and checks that the
 * reports it missed come back: `missed` of them (RESENT, numbered on from
 * c->next_seq), then RESEND_END. */
static void cli_resume(tcli_t *c, uint16_t port, lx_account_id_t account, int missed) {
    uint64_t session = c->session, from = c->next_seq ? c->next_seq : 1;
    cli_connect(c, port);
    lx_proto_msg_t two[2];
    memset(two, 0, sizeof two);
    two[0] = logon_msg(account, session, 0);
    two[1].type = LX_PROTO_RESEND_REQUEST;
    two[1].u.resend_request.from_seq = from;
    uint8_t f[2 * LX_PROTO_FRAME_MAX];
    int n0 = lx_proto_encode(&two[0], f, LX_PROTO_FRAME_MAX);
    int n1 = lx_proto_encode(&two[1], f + n0, LX_PROTO_FRAME_MAX);
    cli_raw(c, f, (size_t)(n0 + n1));
    lx_proto_msg_t m = cli_expect(c, LX_PROTO_LOGON_ACK);
    if (session) assert_int_equal(m.u.logon_ack.session_id, session);
    c->session = m.u.logon_ack.session_id;
    assert_int_equal(m.u.logon_ack.next_seq, from + (uint64_t)missed);
    for (int i = 0; i < missed; i++) {
        assert_int_equal(cli_recv(c, &m, 5000), 1);
        assert_true(lx_proto_is_exec(m.type) && (m.flags & LX_PROTO_F_RESENT));
        assert_int_equal(lx_proto_exec(&m)->seq, from + (uint64_t)i);
    }
    m = cli_expect(c, LX_PROTO_RESEND_END);
    assert_int_equal(m.u.resend_end.status, LX_PROTO_RESEND_COMPLETE);
    c->next_seq = from + (uint64_t)missed;
}

/* Over and over: A rests a sell and goes; B, while A is away, takes it and
 * goes; A comes back, on thread 0 or 1 by turns, and gets its FILL by
 * resend. Every report once, numbers gap-free. */
static void test_threads_resume_storm(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_threads = 2;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int a_missed = 0;
    unsigned home = 0; /* a's first connection is the first: thread 0 */
    for (int i = 0; i < 40; i++) {
        if (i > 0) cli_sync_thread(t.port, home); /* a's FILL is numbered */
        cli_align(t.port, (unsigned)i % 2);       /* a lands on its thread or the other */
        cli_resume(&a, t.port, 1, a_missed);
        assert_int_equal(cli_thread(&a), home);
        cli_place(&a, BTC, 1000 + (uint64_t)i, LX_SIDE_SELL, LX_TIF_GTC, PX, 1);
        cli_expect(&a, LX_PROTO_ACCEPTED);
        cli_close(&a);
        cli_resume(&b, t.port, 2, 0);
        cli_place(&b, BTC, 2000 + (uint64_t)i, LX_SIDE_BUY, LX_TIF_IOC, PX, 1);
        cli_expect(&b, LX_PROTO_ACCEPTED);
        lx_proto_msg_t m = cli_expect(&b, LX_PROTO_FILL);
        assert_int_equal(m.u.fill.h.client_id, 2000 + (uint64_t)i);
        cli_close(&b);
        a_missed = 1;
    }
    cli_sync_thread(t.port, home);
    cli_resume(&a, t.port, 1, 1);
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* FUNDS (docs/protocol.md section 4): "It goes to the session that sent the
 * command ... and to the account's last logged-on session when that is
 * another". A withdrawal signed by account 3's key but sent over another
 * account's session reaches account 3's own session; a transfer from
 * account 3 sent the same way must too (TRANSFER_OUT), else the payer's
 * trading session never hears that its balance went down. */
static void test_transfer_out_to_payer_session(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    assert_true(sodium_init() >= 0);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    tnode_start(&t, dir, NULL, 0);
    uint32_t chain = t.cfg.node.chain_id;
    /* A: account 3's trading session, logged on with its (dev-bound) owner key */
    tcli_t a, x;
    cli_connect(&a, t.port);
    cli_logon_signed(&a, chain, 3, pk, sk, 0);
    cli_status(&a, 1); /* the dev-mode BIND_KEY is applied */
    /* X: a session of account 4 that relays account 3's signed actions */
    cli_connect(&x, t.port);
    cli_logon(&x, 4, 0);
    lx_action_t wd = action_of(chain, pk, 1, LX_CMD_WITHDRAW);
    wd.cmd.u.withdraw = (lx_cmd_withdraw_t){.account = 3, .asset = 0, .amount = 1};
    send_signed(&x, &wd, sk);
    assert_int_equal(cli_expect(&x, LX_PROTO_FUNDS).u.funds.what, LX_PROTO_FUNDS_WITHDRAWAL);
    /* the payer's own session hears of the withdrawal */
    assert_int_equal(cli_expect(&a, LX_PROTO_FUNDS).u.funds.what, LX_PROTO_FUNDS_WITHDRAWAL);
    lx_action_t tr = action_of(chain, pk, 2, LX_CMD_TRANSFER);
    tr.cmd.u.transfer = (lx_cmd_transfer_t){.from = 3, .to = 6, .asset = 0, .amount = 1};
    send_signed(&x, &tr, sk);
    assert_int_equal(cli_expect(&x, LX_PROTO_FUNDS).u.funds.what, LX_PROTO_FUNDS_TRANSFER_OUT);
    /* ... and of the transfer */
    assert_int_equal(cli_expect(&a, LX_PROTO_FUNDS).u.funds.what, LX_PROTO_FUNDS_TRANSFER_OUT);
    cli_close(&x);
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Two RESEND_REQUESTs of the whole history sent back to back (a client
 * that sees two gaps): the gateway handles both in one round, before any
 * of the first replay is written, and the second one's bound is raised by
 * one history only, not on top of what is left of the first: the client
 * is closed as a slow reader instead of getting what is kept (tcp.c
 * essay: "so that a client can always get back everything that is kept"). */
static void test_resend_twice(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    tnode_t t;
    t_out_max = 16384;
    tnode_start(&t, dir, NULL, 512);
    tcli_t a;
    cli_connect(&a, t.port);
    cli_logon(&a, 2, 0);
    enum {
        N = 512
    }; /* ACCEPTEDs of 72 bytes: a full history, 36 KiB; two: 72 KiB,
         over 16 KiB + 512 x 104 */
    for (int k = 0; k < N; k += 128) {
        for (int i = 0; i < 128; i++)
            cli_place(&a, BTC, 1 + (uint64_t)(k + i), LX_SIDE_BUY, LX_TIF_GTC, PX - 1000 - k - i,
                      1);
        for (int i = 0; i < 128; i++) cli_expect(&a, LX_PROTO_ACCEPTED);
    }
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_RESEND_REQUEST;
    m.u.resend_request.from_seq = 1;
    uint8_t two[48];
    assert_int_equal(lx_proto_encode(&m, two, 24), 24);
    memcpy(two + 24, two, 24);
    cli_raw(&a, two, sizeof two);
    for (int r = 0; r < 2; r++) {
        for (uint64_t q = 1; q <= N; q++) {
            m = cli_expect(&a, LX_PROTO_ACCEPTED);
            assert_int_equal(m.u.accepted.h.seq, q);
        }
        assert_int_equal(cli_expect(&a, LX_PROTO_RESEND_END).u.resend_end.last_seq, N);
    }
    cli_close(&a);
    tnode_stop(&t);
    remove_dir(dir);
}

/* A GTD order that expires while a command of its account from another
 * session is applied (between two TICKs: here no TICK at all) is reported
 * to the session that placed it only: the other session asked for nothing
 * about it. It got a CANCELED (reason expired) of an order it never saw,
 * numbered in its session, as if it had cancelled it (shard.c requester()). */
static void test_expiry_not_to_requester(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    t_tick_ms = UINT32_MAX;
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t a, b;
    cli_connect(&a, t.port);
    cli_connect(&b, t.port);
    cli_logon(&a, 4, 0);
    cli_logon(&b, 4, 0);
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_PLACE;
    m.u.place = (lx_proto_place_t){.market = BTC,
                                   .client_id = 1,
                                   .side = LX_SIDE_BUY,
                                   .tif = LX_TIF_GTD,
                                   .price = PX - 100,
                                   .qty = 1,
                                   .expiry = wall_ns() + 50000000};
    cli_send(&a, &m);
    lx_order_id_t id = cli_expect(&a, LX_PROTO_ACCEPTED).u.accepted.h.order_id;
    usleep(150000);
    /* B's place (ts past the expiry) expires A's order first */
    cli_place(&b, BTC, 2, LX_SIDE_BUY, LX_TIF_GTC, PX - 200, 1);
    lx_proto_msg_t x = cli_expect(&a, LX_PROTO_CANCELED);
    assert_int_equal(x.u.canceled.h.order_id, id);
    assert_int_equal(x.u.canceled.reason, LX_CANCEL_EXPIRED);
    x = cli_expect(&b, LX_PROTO_ACCEPTED);
    assert_int_equal(x.u.accepted.h.client_id, 2);
    cli_expect_nothing(&b, 100);
    cli_close(&a);
    cli_close(&b);
    tnode_stop(&t);
    remove_dir(dir);
}

/* Two shards: the same client id in a market of each (client ids are
 * unique per account within a shard, docs/node.md), and an ORDER_STATUS by
 * that client id in any market: one request, one ORDER_STATUS_REPLY (each
 * shard that found the order answered: two replies, so a client pairing
 * replies with its requests was one off from then on). */
static void test_shards_status_one_reply(void **state) {
    (void)state;
    char dir[64];
    make_dir(dir, sizeof dir);
    t_shards = 2;
    tnode_t t;
    tnode_start(&t, dir, NULL, 0);
    tcli_t c;
    cli_connect(&c, t.port);
    cli_logon(&c, 4, 0);
    cli_place(&c, BTC, 7, LX_SIDE_BUY, LX_TIF_GTC, PX - 100, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    cli_place(&c, ETH, 7, LX_SIDE_SELL, LX_TIF_GTC, 300000, 1);
    cli_expect(&c, LX_PROTO_ACCEPTED);
    lx_proto_msg_t st = cli_status_cid(&c, LX_MARKET_ALL, 7);
    assert_int_equal(st.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(st.u.status_reply.client_id, 7);
    cli_expect_nothing(&c, 200);
    cli_close(&c);
    tnode_stop(&t);
    remove_dir(dir);
}

static int threads_1(void **state) {
    (void)state;
    t_threads = 1;
    return 0;
}

static int threads_2(void **state) {
    (void)state;
    t_threads = 2;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trade_cancel_reject),
        cmocka_unit_test(test_session_errors),
        cmocka_unit_test(test_resume_resend),
        cmocka_unit_test(test_big_resend),
        cmocka_unit_test(test_resend_rate),
        cmocka_unit_test(test_resend_bound),
        cmocka_unit_test(test_resend_twice),
        cmocka_unit_test(test_transfer_out_to_payer_session),
        cmocka_unit_test(test_session_ids_restart),
        cmocka_unit_test(test_restart_recovers),
        cmocka_unit_test(test_data_dir_lock),
        cmocka_unit_test(test_shard_nonces),
        cmocka_unit_test(test_shard_signed_cancel_verifies),
        cmocka_unit_test(test_agent_expiry_ends_session),
        cmocka_unit_test(test_ack_after_fsync),
        cmocka_unit_test(test_many_orders),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_heartbeats),
        cmocka_unit_test(test_snapshot_restart),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_rate_bad_frames),
        cmocka_unit_test(test_journal_failure),
        cmocka_unit_test(test_engine_out_of_memory),
        cmocka_unit_test(test_session_linger),
        cmocka_unit_test(test_session_cap),
        cmocka_unit_test(test_connection_cap_per_ip),
        cmocka_unit_test(test_cancel_on_disconnect),
        cmocka_unit_test(test_signed_logon_and_actions),
        cmocka_unit_test(test_logon_key_check),
        cmocka_unit_test(test_signed_rate_account),
        cmocka_unit_test(test_rate_weights),
        cmocka_unit_test(test_dead_mans_switch),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_expiry_not_to_requester),
        cmocka_unit_test(test_shards_status_one_reply),
    };
    /* every test with one gateway thread, then with two (round robin: a
     * test's connections alternate between the threads) */
    struct CMUnitTest tests1[sizeof tests / sizeof tests[0]],
        tests2[sizeof tests / sizeof tests[0]];
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        tests1[i] = tests2[i] = tests[i];
        tests1[i].setup_func = threads_1;
        tests2[i].setup_func = threads_2;
    }
    const struct CMUnitTest threads[] = {
        cmocka_unit_test(test_threads_trade_resume),
        cmocka_unit_test(test_threads_rate_limit),
        cmocka_unit_test(test_threads_connection_cap),
        cmocka_unit_test(test_threads_resume_storm),
    };
    int failed = cmocka_run_group_tests_name("one gateway thread", tests1, NULL, NULL);
    failed += cmocka_run_group_tests_name("two gateway threads", tests2, NULL, NULL);
    failed += cmocka_run_group_tests_name("across gateway threads", threads, NULL, NULL);
    return failed;
}
