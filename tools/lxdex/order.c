/*
 * order.c: the trading commands of lxdex over the binary protocol
 * (docs/protocol.md): order place, cancel, amend, cancel-all, status.
 *
 * Each command opens one TCP session to the node's binary port, logs on as
 * an account (dev mode: by account id; the signed logon comes with the
 * identity issue), sends one request and prints the execution reports that
 * answer it: for a place, ACCEPTED or REJECTED and the fills and cancel that
 * follow within a short quiet period; for a cancel, CANCELED or REJECTED;
 * for a status, the reply.
 *
 * Prices and sizes are decimals in the market's units (BTC-USD: price in
 * USD per BTC, size in BTC). They are converted to ticks and lots exactly
 * with the node's configuration (the embedded dev configuration unless
 * --config names the node's file): a value off the tick or lot grid is an
 * error, never rounded. Nothing goes through double.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lx/config.h"
#include "lx/decimal.h"
#include "lx/error.h"
#include <sodium.h>
#include "lx/proto.h"
#include "lx/sign.h"
#include "lx/types.h"
#include "lxdex.h"

typedef struct {
    const char *node;   /* host:port */
    const char *config; /* NULL: embedded default */
    const char *key;    /* secret key file: signed logon; NULL: by account id (dev mode) */
    long account;
    uint64_t client_id;
    bool has_client_id;
    int tif, stp, order_type;
    int64_t expiry_ms;
    int pos; /* positional arguments */
    const char *args[6];
} opts_t;

typedef struct {
    int fd;
    lx_proto_decoder_t dec;
    lx_config_t cfg;
    bool has_cfg;
} conn_t;

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int name_index(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcasecmp(s, names[i])) return i;
    return -1;
}

static const char *const tif_names[] = {"GTC", "GTD", "IOC", "FOK", "POST_ONLY"};
static const char *const stp_names[] = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH",
                                        "DECREMENT"};

static int parse_opts(int argc, char **argv, opts_t *o) {
    memset(o, 0, sizeof *o);
    o->node = "127.0.0.1:9100";
    o->account = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(a, "--node") || !strcmp(a, "--config") || !strcmp(a, "--account") ||
                     !strcmp(a, "--key") || !strcmp(a, "--client-id") || !strcmp(a, "--tif") ||
                     !strcmp(a, "--stp") || !strcmp(a, "--expiry-ms");
        if (takes && !v) {
            fprintf(stderr, "lxdex: %s needs a value\n", a);
            return 2;
        }
        char *end = NULL;
        if (!strcmp(a, "--node"))
            o->node = v;
        else if (!strcmp(a, "--config"))
            o->config = v;
        else if (!strcmp(a, "--key"))
            o->key = v;
        else if (!strcmp(a, "--account")) {
            o->account = strtol(v, &end, 10);
            if (*end || o->account < 0 || o->account > (long)UINT32_MAX - 1) {
                fprintf(stderr, "lxdex: --account: not an account id: %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--client-id")) {
            o->client_id = strtoull(v, &end, 10);
            if (*end || o->client_id == 0) {
                fprintf(stderr, "lxdex: --client-id: a positive integer, got %s\n", v);
                return 2;
            }
            o->has_client_id = true;
        } else if (!strcmp(a, "--tif")) {
            if ((o->tif = name_index(v, tif_names, 5)) < 0) {
                fprintf(stderr, "lxdex: --tif: one of GTC GTD IOC FOK POST_ONLY, got %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--stp")) {
            if ((o->stp = name_index(v, stp_names, 5)) < 0) {
                fprintf(stderr,
                        "lxdex: --stp: one of NONE EXPIRE_TAKER EXPIRE_MAKER "
                        "EXPIRE_BOTH DECREMENT, got %s\n",
                        v);
                return 2;
            }
        } else if (!strcmp(a, "--expiry-ms")) {
            o->expiry_ms = strtoll(v, &end, 10);
            if (*end || o->expiry_ms <= 0) {
                fprintf(stderr, "lxdex: --expiry-ms: milliseconds from now, got %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--market")) {
            o->order_type = LX_ORDER_MARKET;
            continue;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "lxdex: unknown option %s\n", a);
            return 2;
        } else {
            if (o->pos == 6) {
                fprintf(stderr, "lxdex: too many arguments\n");
                return 2;
            }
            o->args[o->pos++] = a;
            continue;
        }
        i++; /* the value */
    }
    if (o->account < 0) {
        fprintf(stderr, "lxdex: --account is required (the account to trade as)\n");
        return 2;
    }
    return 0;
}

/* ---- connection ---------------------------------------------------------- */

static int send_msg(conn_t *c, const lx_proto_msg_t *m) {
    uint8_t buf[LX_PROTO_FRAME_MAX];
    int n = lx_proto_encode(m, buf, sizeof buf);
    if (n < 0) return n;
    for (int off = 0; off < n;) {
        ssize_t w = send(c->fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return LX_EIO;
        off += (int)w;
    }
    return 0;
}

/* The next server message, waiting until deadline (ms, monotonic).
 * 1 = got one, 0 = timeout, < 0 = error or closed. */
static int recv_msg(conn_t *c, lx_proto_msg_t *m, int64_t deadline) {
    static uint8_t buf[4096];
    static size_t have, off;
    for (;;) {
        if (have > off) {
            const uint8_t *p = buf + off;
            size_t len = have - off;
            int rc = lx_proto_decode(&c->dec, &p, &len, m);
            off = have - len;
            if (rc == 1 || rc > 0) return 1;
            if (rc < 0) return rc;
        }
        off = have = 0;
        int64_t left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd pf = {c->fd, POLLIN, 0};
        int pr = poll(&pf, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return 0;
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return LX_ECLOSED;
        have = (size_t)r;
    }
}

static int dial(conn_t *c, const opts_t *o) {
    char host[64];
    const char *colon = strrchr(o->node, ':');
    if (!colon || (size_t)(colon - o->node) >= sizeof host) {
        fprintf(stderr, "lxdex: --node: host:port, got %s\n", o->node);
        return 2;
    }
    memcpy(host, o->node, (size_t)(colon - o->node));
    host[colon - o->node] = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "lxdex: --node: an IPv4 address is expected, got %s\n", host);
        return 2;
    }
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "lxdex: cannot connect to %s: %s (is lxdexd running? `make run`)\n",
                o->node, strerror(errno));
        return 1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    lx_proto_decoder_init(&c->dec, LX_PROTO_FROM_SERVER);
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = (lx_account_id_t)o->account;
    uint8_t sk[64];
    if (o->key) { /* signed logon: ask for a challenge, sign it (docs/protocol.md) */
        if (lxdex_key_load(o->key, sk, m.u.logon.public_key)) return 1;
        m.u.logon.flags = LX_PROTO_LOGON_SIGNED;
        lx_proto_msg_t ch;
        if (send_msg(c, &m) || recv_msg(c, &ch, now_ms() + 3000) != 1 ||
            ch.type != LX_PROTO_CHALLENGE) {
            sodium_memzero(sk, sizeof sk);
            fprintf(stderr, "lxdex: the node sent no logon challenge\n");
            return 1;
        }
        uint8_t p[LX_SIGN_LOGON_LEN];
        lx_sign_logon_payload(c->cfg.node.chain_id, m.u.logon.account, ch.u.challenge.challenge,
                              m.u.logon.public_key, p);
        crypto_sign_detached(m.u.logon.signature, NULL, p, sizeof p, sk);
        sodium_memzero(sk, sizeof sk);
    }
    if (send_msg(c, &m)) return 1;
    int rc = recv_msg(c, &m, now_ms() + 3000);
    if (rc == 1 && m.type == LX_PROTO_LOGON_ACK) return 0;
    if (rc == 1 && m.type == LX_PROTO_REJECT)
        fprintf(stderr, "lxdex: logon refused: %s\n", lx_proto_reason_str(m.u.reject.reason));
    else
        fprintf(stderr, "lxdex: no logon answer from %s\n", o->node);
    return 1;
}

/* ---- units --------------------------------------------------------------- */

static int load_cfg(conn_t *c, const opts_t *o) {
    char err[LX_CONFIG_ERR_LEN];
    int rc = o->config ? lx_config_load_file(o->config, &c->cfg, err, sizeof err)
                       : lx_config_default(&c->cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "lxdex: configuration: %s\n", err);
        return 1;
    }
    c->has_cfg = true;
    return 0;
}

static const lx_config_market_t *market_of(conn_t *c, const char *symbol) {
    const lx_config_market_t *m = lx_config_market_by_symbol(&c->cfg, symbol);
    if (!m) {
        fprintf(stderr, "lxdex: unknown market '%s'; markets:", symbol);
        for (size_t i = 0; i < c->cfg.nmarkets; i++)
            fprintf(stderr, " %s", c->cfg.markets[i].symbol);
        fprintf(stderr, "\n");
    }
    return m;
}

/* A decimal in a market's units -> a whole number of steps (ticks of
 * step quote units, lots of step base units), exactly or not at all. */
static int to_steps(const lx_config_market_t *m, const char *what, const char *s, int decimals,
                    int64_t step, int64_t *out) {
    int64_t units;
    const char *why = NULL;
    if (lx_decimal_parse_n(s, strlen(s), decimals, &units, &why) || units <= 0 || units % step) {
        char grid[LX_DECIMAL_FORMAT_MAX];
        lx_decimal_format(step, decimals, grid, sizeof grid);
        fprintf(stderr, "lxdex: %s %s: %s (the %s of %s is %s)\n", what, s,
                why ? why : "not a positive multiple of the grid", what[0] == 'p' ? "tick" : "lot",
                m->symbol, grid);
        return 2;
    }
    *out = units / step;
    return 0;
}

static int to_ticks(const lx_config_market_t *m, const char *s, int64_t *out) {
    return to_steps(m, "price", s, m->quote_decimals, m->tick_size, out);
}

static int to_lots(const lx_config_market_t *m, const char *s, int64_t *out) {
    return to_steps(m, "size", s, m->base_decimals, m->lot_size, out);
}

static const char *px(const conn_t *c, lx_market_id_t market, int64_t ticks, char *buf) {
    const lx_config_market_t *m = lx_config_market(&c->cfg, market);
    if (!m) {
        snprintf(buf, LX_DECIMAL_FORMAT_MAX, "%lld ticks", (long long)ticks);
        return buf;
    }
    lx_decimal_format(ticks * m->tick_size, m->quote_decimals, buf, LX_DECIMAL_FORMAT_MAX);
    return buf;
}

static const char *sz(const conn_t *c, lx_market_id_t market, int64_t lots, char *buf) {
    const lx_config_market_t *m = lx_config_market(&c->cfg, market);
    if (!m) {
        snprintf(buf, LX_DECIMAL_FORMAT_MAX, "%lld lots", (long long)lots);
        return buf;
    }
    lx_decimal_format(lots * m->lot_size, m->base_decimals, buf, LX_DECIMAL_FORMAT_MAX);
    return buf;
}

/* ---- reports ------------------------------------------------------------- */

/* Prints one report; returns true when it ends the exchange (rejections,
 * cancels, status replies, session rejects). */
static bool print_report(const conn_t *c, const lx_proto_msg_t *m) {
    char a[LX_DECIMAL_FORMAT_MAX], b[LX_DECIMAL_FORMAT_MAX], d[LX_DECIMAL_FORMAT_MAX],
        e[LX_DECIMAL_FORMAT_MAX];
    switch (m->type) {
    case LX_PROTO_ACCEPTED: {
        const lx_proto_accepted_t *r = &m->u.accepted;
        printf("accepted  order %llu  %s %s @ %s  %s\n", (unsigned long long)r->h.order_id,
               r->side ? "sell" : "buy", sz(c, r->h.market, r->qty, a),
               px(c, r->h.market, r->price, b), r->order_type ? "market" : tif_names[r->tif]);
        return false;
    }
    case LX_PROTO_REJECTED:
        printf("rejected  %s (%s)\n", lx_reject_name(m->u.rejected.reason),
               lx_reject_str(m->u.rejected.reason));
        return true;
    case LX_PROTO_FILL: {
        const lx_proto_fill_t *r = &m->u.fill;
        printf("fill      order %llu  %s %s @ %s  %s, fee %lld, open %s\n",
               (unsigned long long)r->h.order_id, r->side ? "sold" : "bought",
               sz(c, r->h.market, r->qty, a), px(c, r->h.market, r->price, b),
               r->liquidity ? "taker" : "maker", (long long)r->fee,
               sz(c, r->h.market, r->remaining, d));
        return false;
    }
    case LX_PROTO_CANCELED:
        printf("canceled  order %llu  %s open, %s\n", (unsigned long long)m->u.canceled.h.order_id,
               sz(c, m->u.canceled.h.market, m->u.canceled.qty, a),
               lx_cancel_reason_str(m->u.canceled.reason));
        return true;
    case LX_PROTO_AMENDED: {
        const lx_proto_amended_t *r = &m->u.amended;
        printf("amended   order %llu  %s @ %s, open %s%s\n", (unsigned long long)r->h.order_id,
               sz(c, r->h.market, r->qty, a), px(c, r->h.market, r->price, b),
               sz(c, r->h.market, r->remaining, d),
               r->priority_lost ? ", time priority lost" : ", time priority kept");
        return false;
    }
    case LX_PROTO_DEADMAN: {
        const lx_proto_deadman_t *r = &m->u.deadman;
        if (r->state == LX_DEADMAN_CLEARED) {
            printf("dead man's switch cleared\n");
        } else {
            time_t secs = (time_t)(r->deadline / 1000000000);
            struct tm tm;
            char when[32];
            gmtime_r(&secs, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
            printf("dead man's switch %s: all orders canceled at %s.%03lld UTC\n",
                   r->state == LX_DEADMAN_FIRED ? "fired" : "armed", when,
                   (long long)(r->deadline / 1000000 % 1000));
        }
        return true;
    }
    case LX_PROTO_ORDER_STATUS_REPLY: {
        const lx_proto_status_reply_t *r = &m->u.status_reply;
        if (r->status != LX_PROTO_STATUS_OPEN)
            printf("order %llu is not open\n", (unsigned long long)r->order_id);
        else
            printf("order %llu  open  %s %s @ %s, filled %s, open %s\n",
                   (unsigned long long)r->order_id, r->side ? "sell" : "buy",
                   sz(c, r->market, r->qty, a), px(c, r->market, r->price, b),
                   sz(c, r->market, r->filled, d), sz(c, r->market, r->remaining, e));
        return true;
    }
    case LX_PROTO_REJECT:
        printf("refused   %s%s\n", lx_proto_reason_str(m->u.reject.reason),
               m->u.reject.retry_after_us ? " (retry later)" : "");
        return true;
    default:
        return false;
    }
}

/* Prints reports until one ends the exchange, or until `quiet_ms` pass
 * without a report after the first, or 5 s in all. Returns the exit status. */
static int await_reports(conn_t *c, int quiet_ms) {
    int64_t end = now_ms() + 5000;
    bool any = false, failed = false;
    for (;;) {
        int64_t deadline = any ? now_ms() + quiet_ms : end;
        if (deadline > end) deadline = end;
        lx_proto_msg_t m;
        int rc = recv_msg(c, &m, deadline);
        if (rc < 0) {
            fprintf(stderr, "lxdex: connection: %s\n", lx_strerror(rc));
            return 1;
        }
        if (rc == 0) break;
        if (m.type == LX_PROTO_SERVER_HEARTBEAT) continue;
        any = true;
        failed |= m.type == LX_PROTO_REJECTED || m.type == LX_PROTO_REJECT;
        if (print_report(c, &m) && m.type != LX_PROTO_CANCELED) break;
    }
    if (!any) {
        fprintf(stderr, "lxdex: no answer within 5 s\n");
        return 1;
    }
    return failed ? 1 : 0;
}

/* ---- commands ------------------------------------------------------------ */

static int exchange(conn_t *c, const opts_t *o, const lx_proto_msg_t *msg);
static int finish(conn_t *c, int rc);

static int setup(int argc, char **argv, opts_t *o, conn_t *c, int npos, const char *usage) {
    int rc = parse_opts(argc, argv, o);
    if (rc) return rc;
    if (o->pos != npos) {
        fprintf(stderr, "usage: lxdex order %s\n", usage);
        return 2;
    }
    if ((rc = load_cfg(c, o))) return rc;
    return 0;
}

int lxdex_order_place(int argc, char **argv) {
    opts_t o;
    conn_t c = {.fd = -1};
    int rc = setup(argc, argv, &o, &c, 4, lxdex_order_place_args);
    if (rc) goto out;
    const lx_config_market_t *m = market_of(&c, o.args[0]);
    int side = !strcasecmp(o.args[1], "buy") ? 0 : !strcasecmp(o.args[1], "sell") ? 1 : -1;
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_PLACE;
    rc = 2;
    if (!m) goto out;
    if (side < 0) {
        fprintf(stderr, "lxdex: side: buy or sell, got %s\n", o.args[1]);
        goto out;
    }
    if ((rc = to_ticks(m, o.args[2], &msg.u.place.price)) ||
        (rc = to_lots(m, o.args[3], &msg.u.place.qty)))
        goto out;
    msg.u.place.market = m->id;
    msg.u.place.side = (uint8_t)side;
    msg.u.place.order_type = (uint8_t)o.order_type;
    msg.u.place.tif = (uint8_t)(o.order_type ? LX_TIF_IOC : o.tif);
    msg.u.place.stp = (uint8_t)o.stp;
    msg.u.place.client_id = o.has_client_id ? o.client_id : 0;
    if (o.tif == LX_TIF_GTD) {
        if (!o.expiry_ms) {
            fprintf(stderr, "lxdex: --tif GTD needs --expiry-ms\n");
            goto out;
        }
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        msg.u.place.expiry = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + o.expiry_ms * 1000000;
    }
    rc = exchange(&c, &o, &msg);
out:
    return finish(&c, rc);
}

/* cancel, amend and status name an order by --client-id or by an id at
 * positional argument idx (the caller has checked the argument count). */
static int order_ref(const opts_t *o, int idx, lx_order_id_t *id, uint8_t *by_cid) {
    *by_cid = o->has_client_id;
    if (o->has_client_id) return 0;
    char *end;
    *id = strtoull(o->args[idx], &end, 10);
    if (*end || *id == 0) {
        fprintf(stderr, "lxdex: not an order id: %s\n", o->args[idx]);
        return 2;
    }
    return 0;
}

/* Logs on, sends the request, prints the answer; returns the exit status. */
static int exchange(conn_t *c, const opts_t *o, const lx_proto_msg_t *msg) {
    int rc = dial(c, o);
    if (rc) return rc;
    return send_msg(c, msg) ? 1 : await_reports(c, 300);
}

static int finish(conn_t *c, int rc) {
    if (c->fd >= 0) close(c->fd);
    if (c->has_cfg) lx_config_free(&c->cfg);
    return rc;
}

int lxdex_order_cancel(int argc, char **argv) {
    opts_t o;
    conn_t c = {.fd = -1};
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc;
    if (o.pos != (o.has_client_id ? 1 : 2)) {
        fprintf(stderr, "usage: lxdex order cancel %s\n", lxdex_order_cancel_args);
        return 2;
    }
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_CANCEL;
    msg.u.cancel.client_id = o.has_client_id ? o.client_id : 0;
    if ((rc = order_ref(&o, 1, &msg.u.cancel.order_id, &msg.u.cancel.by_client_id)) ||
        (rc = load_cfg(&c, &o)))
        return finish(&c, rc);
    const lx_config_market_t *m = market_of(&c, o.args[0]);
    if (!m) return finish(&c, 2);
    msg.u.cancel.market = m->id;
    return finish(&c, exchange(&c, &o, &msg));
}

int lxdex_order_amend(int argc, char **argv) {
    opts_t o;
    conn_t c = {.fd = -1};
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc;
    int at = o.has_client_id ? 1 : 2; /* PRICE follows SYMBOL [ORDER_ID] */
    if (o.pos != at + 2) {
        fprintf(stderr, "usage: lxdex order amend %s\n", lxdex_order_amend_args);
        return 2;
    }
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_AMEND;
    msg.u.amend.client_id = o.has_client_id ? o.client_id : 0;
    if ((rc = order_ref(&o, 1, &msg.u.amend.order_id, &msg.u.amend.by_client_id)) ||
        (rc = load_cfg(&c, &o)))
        return finish(&c, rc);
    const lx_config_market_t *m = market_of(&c, o.args[0]);
    if (!m) return finish(&c, 2);
    if ((rc = to_ticks(m, o.args[at], &msg.u.amend.price)) ||
        (rc = to_lots(m, o.args[at + 1], &msg.u.amend.qty)))
        return finish(&c, rc);
    msg.u.amend.market = m->id;
    return finish(&c, exchange(&c, &o, &msg));
}

int lxdex_order_cancel_all(int argc, char **argv) {
    opts_t o;
    conn_t c = {.fd = -1};
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc;
    if (o.pos > 1) {
        fprintf(stderr, "usage: lxdex order cancel-all %s\n", lxdex_order_cancel_all_args);
        return 2;
    }
    if ((rc = load_cfg(&c, &o))) return rc;
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_CANCEL_ALL;
    msg.u.cancel_all.market = LX_MARKET_ALL;
    const lx_config_market_t *m = o.pos ? market_of(&c, o.args[0]) : NULL;
    rc = 2;
    if (!o.pos || m) {
        if (m) msg.u.cancel_all.market = m->id;
        if (!(rc = dial(&c, &o))) {
            rc = send_msg(&c, &msg) ? 1 : 0;
            /* one CANCELED per open order, or nothing: print what comes */
            int64_t end = now_ms() + 500;
            int n = 0;
            lx_proto_msg_t r;
            while (!rc && recv_msg(&c, &r, end) == 1) {
                if (r.type == LX_PROTO_SERVER_HEARTBEAT) continue;
                print_report(&c, &r);
                n++;
                end = now_ms() + 300;
            }
            if (!rc) printf("%d order%s canceled\n", n, n == 1 ? "" : "s");
        }
    }
    return finish(&c, rc);
}

int lxdex_order_status(int argc, char **argv) {
    opts_t o;
    conn_t c = {.fd = -1};
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc;
    if (o.pos != (o.has_client_id ? 0 : 1)) {
        fprintf(stderr, "usage: lxdex order status %s\n", lxdex_order_status_args);
        return 2;
    }
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_ORDER_STATUS;
    msg.u.order_status.market = LX_MARKET_ALL;
    msg.u.order_status.client_id = o.has_client_id ? o.client_id : 0;
    if ((rc = order_ref(&o, 0, &msg.u.order_status.order_id, &msg.u.order_status.by_client_id)) ||
        (rc = load_cfg(&c, &o)))
        return finish(&c, rc);
    return finish(&c, exchange(&c, &o, &msg));
}

/* deadman SECONDS | clear: the account's dead man's switch */
int lxdex_order_deadman(int argc, char **argv) {
    opts_t o;
    conn_t c = {.fd = -1};
    int rc = setup(argc, argv, &o, &c, 1, lxdex_order_deadman_args);
    if (rc) return finish(&c, rc);
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_SCHEDULE_CANCEL;
    if (strcmp(o.args[0], "clear") != 0) {
        char *end;
        double secs = strtod(o.args[0], &end);
        if (*end || !(secs > 0) || secs > 86400 * 365) {
            fprintf(stderr, "lxdex: deadman: seconds from now (> 0) or 'clear', got %s\n",
                    o.args[0]);
            return finish(&c, 2);
        }
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        msg.u.schedule_cancel.deadline =
            (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + (int64_t)(secs * 1e3) * 1000000;
    }
    return finish(&c, exchange(&c, &o, &msg));
}

const char lxdex_order_deadman_args[] = "--account N [options] (SECONDS | clear)";
const char lxdex_order_place_args[] = "--account N [options] SYMBOL buy|sell PRICE SIZE";
const char lxdex_order_cancel_args[] = "--account N [options] SYMBOL (ORDER_ID | --client-id N)";
const char lxdex_order_amend_args[] =
    "--account N [options] SYMBOL (ORDER_ID | --client-id N) PRICE SIZE";
const char lxdex_order_cancel_all_args[] = "--account N [options] [SYMBOL]";
const char lxdex_order_status_args[] = "--account N [options] (ORDER_ID | --client-id N)";

const char lxdex_order_help[] =
    "Options:\n"
    "  --account N       the account to trade as\n"
    "  --key FILE        log on by signing the node's challenge with this secret key\n"
    "                    (lxdex keygen); without it, by account id (dev mode only)\n"
    "  --node HOST:PORT  the node's binary port (default 127.0.0.1:9100)\n"
    "  --config FILE     the node's configuration, for tick and lot sizes (default: the\n"
    "                    embedded dev configuration that `make run` uses)\n"
    "  --client-id N     your id for the order (place), or name the order by it\n"
    "  --tif T           GTC (default), GTD, IOC, FOK, POST_ONLY\n"
    "  --expiry-ms MS    GTD: expires MS milliseconds from now\n"
    "  --market          a market order; PRICE is the worst price it accepts\n"
    "  --stp MODE        self-trade prevention: NONE (default), EXPIRE_TAKER, EXPIRE_MAKER,\n"
    "                    EXPIRE_BOTH, DECREMENT\n"
    "\n"
    "PRICE and SIZE are decimals in the market's units (BTC-USD: USD per BTC, BTC) and must\n"
    "lie on its tick and lot grid; nothing is rounded.\n"
    "Prints the execution reports that answer the request. Exit status: 0 done, 1 rejected or\n"
    "failed, 2 usage error.\n";
