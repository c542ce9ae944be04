/*
 * session.c: one session of lxdex on the node's binary order-entry protocol
 * (docs/protocol.md), shared by every command that acts on an account:
 * `order ...` (order.c) and `agent ...`, `withdraw`, `transfer` (owner.c).
 *
 * A command makes an lxdex_conn_t, loads the node's configuration
 * (lxdex_conn_config: the tick and lot sizes that turn decimals into ticks
 * and lots and back, and the chain id that signatures cover), dials and logs
 * on (lxdex_conn_dial: by account id in dev mode, or by signing the node's
 * challenge with a key file), sends one request and prints the execution
 * reports that answer it (lxdex_conn_await), then closes (lxdex_conn_close).
 *
 * The connection is blocking with poll() deadlines: a command-line tool has
 * one request in flight and nothing else to do while it waits. Received
 * bytes are buffered in the connection and cut into frames by the
 * protocol's own decoder (src/gw/proto.c), so a report split across reads,
 * or several in one read, come out whole and in order.
 *
 * It also holds lxdex_parse_u64, the one check of a whole-number argument
 * (an account, a client or order id, a port) that order.c, owner.c and
 * the --node port here share: digits only, in
 * range, or a usage error; strtoull alone takes "-1" as 2^64-1 and clamps
 * what overflows.
 *
 * What this file does not do: resends after a reconnect, heartbeats (a
 * command lasts well under the heartbeat interval), or any retry. A command
 * that gets no answer within 5 s says so and fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lx/decimal.h"
#include "lx/error.h"
#include "lx/sign.h"
#include "lx/types.h"
#include "lxdex.h"

const char *const lxdex_tif_names[5] = {"GTC", "GTD", "IOC", "FOK", "POST_ONLY"};

void lxdex_format_utc(int64_t ns, char *buf, size_t cap) {
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    char day[24];
    gmtime_r(&secs, &tm);
    strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03lld", day, (long long)(ns / 1000000 % 1000));
}

bool lxdex_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    if (s[0] < '0' || s[0] > '9') return false; /* "", "-1", "+1", " 1" */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v < min || v > max) return false;
    *out = v;
    return true;
}

int64_t lxdex_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int lxdex_conn_send(lxdex_conn_t *c, const lx_proto_msg_t *m) {
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
int lxdex_conn_recv(lxdex_conn_t *c, lx_proto_msg_t *m, int64_t deadline) {
    for (;;) {
        if (c->have > c->off) {
            const uint8_t *p = c->buf + c->off;
            size_t len = c->have - c->off;
            int rc = lx_proto_decode(&c->dec, &p, &len, m);
            c->off = c->have - len;
            if (rc > 0) return 1;
            if (rc < 0) return rc;
        }
        c->off = c->have = 0;
        int64_t left = deadline - lxdex_now_ms();
        if (left <= 0) return 0;
        struct pollfd pf = {c->fd, POLLIN, 0};
        int pr = poll(&pf, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return 0;
        ssize_t r = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return LX_ECLOSED;
        c->have = (size_t)r;
    }
}

/* connect() that gives up after ms (a host that drops SYNs would otherwise
 * hold the command for the kernel's SYN retries, about two minutes): 0 or an
 * errno value; the socket is left blocking. */
static int connect_within(int fd, const struct sockaddr_in *a, int ms) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return errno;
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) != 0) {
        if (errno != EINPROGRESS) return errno;
        int64_t end = lxdex_now_ms() + ms;
        struct pollfd pf = {fd, POLLOUT, 0};
        int pr;
        do {
            int64_t left = end - lxdex_now_ms();
            pr = poll(&pf, 1, left > 0 ? (int)left : 0);
        } while (pr < 0 && errno == EINTR);
        if (pr < 0) return errno;
        if (pr == 0) return ETIMEDOUT;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
        if (err) return err;
    }
    return fcntl(fd, F_SETFL, fl) < 0 ? errno : 0;
}

int lxdex_conn_dial(lxdex_conn_t *c, const char *node, lx_account_id_t account,
                    const char *keyfile) {
    char host[64];
    const char *colon = strrchr(node, ':');
    if (!colon || (size_t)(colon - node) >= sizeof host) {
        fprintf(stderr, "lxdex: --node: host:port, got %s\n", node);
        return 2;
    }
    memcpy(host, node, (size_t)(colon - node));
    host[colon - node] = 0;
    uint64_t port;
    if (!lxdex_parse_u64(colon + 1, 1, 65535, &port)) {
        fprintf(stderr, "lxdex: --node: the port is a number from 1 to 65535, got '%s'\n",
                colon + 1);
        return 2;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "lxdex: --node: an IPv4 address is expected, got %s\n", host);
        return 2;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int cerr = c->fd < 0 ? errno : connect_within(c->fd, &a, 3000);
    if (cerr) {
        fprintf(stderr, "lxdex: cannot connect to %s: %s (is lxdexd running? `make run`)\n", node,
                strerror(cerr));
        return 1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    lx_proto_decoder_init(&c->dec, LX_PROTO_FROM_SERVER);
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = account;
    uint8_t sk[64];
    if (keyfile) { /* signed logon: ask for a challenge, sign it (docs/protocol.md) */
        if (lxdex_key_load(keyfile, sk, m.u.logon.public_key)) return 1;
        m.u.logon.flags = LX_PROTO_LOGON_SIGNED;
        lx_proto_msg_t ch;
        if (lxdex_conn_send(c, &m) || lxdex_conn_recv(c, &ch, lxdex_now_ms() + 3000) != 1 ||
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
    if (lxdex_conn_send(c, &m)) return 1;
    int rc = lxdex_conn_recv(c, &m, lxdex_now_ms() + 3000);
    if (rc == 1 && m.type == LX_PROTO_LOGON_ACK) return 0;
    if (rc == 1 && m.type == LX_PROTO_REJECT && m.u.reject.reason == LX_PROTO_R_LOGON_FAILED &&
        keyfile)
        fprintf(stderr,
                "lxdex: logon refused (LOGON_FAILED): the key must be account %u's owner key or "
                "a live agent's (approved, not revoked, not expired), and the logon is signed for "
                "chain id %u: %s\n",
                (unsigned)account, (unsigned)c->cfg.node.chain_id,
                c->cfg_path ? "is it the node's? (--config names the node's configuration)"
                            : "the embedded configuration's; --config FILE gives the node's");
    else if (rc == 1 && m.type == LX_PROTO_REJECT && m.u.reject.reason == LX_PROTO_R_LOGON_FAILED)
        fprintf(stderr,
                "lxdex: logon refused (LOGON_FAILED): a logon by account id needs a node in dev "
                "mode (otherwise log on with --key FILE: account %u's owner key or an agent's) "
                "and an account below its engine.max_accounts\n",
                (unsigned)account);
    else if (rc == 1 && m.type == LX_PROTO_REJECT)
        fprintf(stderr, "lxdex: logon refused (%s): %s\n", lx_proto_reason_name(m.u.reject.reason),
                lx_proto_reason_str(m.u.reject.reason));
    else
        fprintf(stderr, "lxdex: no logon answer from %s\n", node);
    return 1;
}

int lxdex_conn_config(lxdex_conn_t *c, const char *path) {
    char err[LX_CONFIG_ERR_LEN];
    int rc = path ? lx_config_load_file(path, &c->cfg, err, sizeof err)
                  : lx_config_default(&c->cfg, err, sizeof err);
    c->cfg_path = path;
    if (rc) {
        fprintf(stderr, "lxdex: configuration: %s\n", err);
        return 1;
    }
    c->has_cfg = true;
    return 0;
}

/* ---- reports ------------------------------------------------------------- */

/* n ticks (price) or lots (!price) of a market as a decimal of its units */
static const char *steps_text(const lxdex_conn_t *c, lx_market_id_t market, int64_t n, bool price,
                              char *buf) {
    const lx_config_market_t *m = lx_config_market(&c->cfg, market);
    if (!m)
        snprintf(buf, LX_DECIMAL_FORMAT_MAX, "%lld %s", (long long)n, price ? "ticks" : "lots");
    else
        lx_decimal_format(n * (price ? m->tick_size : m->lot_size),
                          price ? m->quote_decimals : m->base_decimals, buf, LX_DECIMAL_FORMAT_MAX);
    return buf;
}

/* a fill's fee: units of the market's quote asset, as a decimal of it */
static const char *fee_text(const lxdex_conn_t *c, lx_market_id_t market, int64_t fee, char *buf) {
    const lx_config_market_t *m = lx_config_market(&c->cfg, market);
    if (!m)
        snprintf(buf, LX_DECIMAL_FORMAT_MAX, "%lld units", (long long)fee);
    else
        lx_decimal_format(fee, m->quote_decimals, buf, LX_DECIMAL_FORMAT_MAX);
    return buf;
}

static const char *px(const lxdex_conn_t *c, lx_market_id_t market, int64_t ticks, char *buf) {
    return steps_text(c, market, ticks, true, buf);
}

static const char *sz(const lxdex_conn_t *c, lx_market_id_t market, int64_t lots, char *buf) {
    return steps_text(c, market, lots, false, buf);
}

/* Prints one report; returns true when it ends the exchange (rejections,
 * cancels, status replies, session rejects). */
bool lxdex_conn_print(const lxdex_conn_t *c, const lx_proto_msg_t *m) {
    char a[LX_DECIMAL_FORMAT_MAX], b[LX_DECIMAL_FORMAT_MAX], d[LX_DECIMAL_FORMAT_MAX],
        e[LX_DECIMAL_FORMAT_MAX];
    switch (m->type) {
    case LX_PROTO_ACCEPTED: {
        const lx_proto_accepted_t *r = &m->u.accepted;
        printf("accepted  order %llu  %s %s @ %s  %s\n", (unsigned long long)r->h.order_id,
               r->side ? "sell" : "buy", sz(c, r->h.market, r->qty, a),
               px(c, r->h.market, r->price, b), r->order_type ? "market" : lxdex_tif_names[r->tif]);
        return false;
    }
    case LX_PROTO_REJECTED:
        printf("rejected  %s (%s)\n", lx_reject_name(m->u.rejected.reason),
               lx_reject_str(m->u.rejected.reason));
        if (m->u.rejected.reason == LX_REJECT_DEADLINE_TOO_SOON && c->has_cfg) {
            char lead[LX_DECIMAL_FORMAT_MAX];
            lx_decimal_format_short(c->cfg.engine.deadman_min_lead_ns / 1000000, 3, lead,
                                    sizeof lead);
            printf("          the deadline must be at least %s s (engine.deadman_min_lead_ms of "
                   "%s) after the node sequences the request: ask for more than %s\n",
                   lead, c->cfg_path ? c->cfg_path : "the embedded configuration", lead);
        }
        if (m->u.rejected.reason == LX_REJECT_NONCE_REPLAYED)
            printf("          a signed action's nonce must exceed the last one its key signed for "
                   "a command of the same kind (this tool signs with the clock in ns unless "
                   "--nonce says otherwise: docs/identity.md)\n");
        return true;
    case LX_PROTO_FILL: {
        const lx_proto_fill_t *r = &m->u.fill;
        printf("fill      order %llu  %s %s @ %s  %s, fee %s, open %s\n",
               (unsigned long long)r->h.order_id, r->side ? "sold" : "bought",
               sz(c, r->h.market, r->qty, a), px(c, r->h.market, r->price, b),
               r->liquidity ? "taker" : "maker", fee_text(c, r->h.market, r->fee, e),
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
            char when[32];
            lxdex_format_utc(r->deadline, when, sizeof when);
            printf("dead man's switch %s: all orders canceled at %s UTC\n",
                   r->state == LX_DEADMAN_FIRED ? "fired" : "armed", when);
        }
        return true;
    }
    case LX_PROTO_FUNDS: {
        const lx_proto_funds_t *r = &m->u.funds;
        static const char *const what[] = {"deposit", "withdrawal", "transfer out", "transfer in"};
        const lx_config_asset_t *as = lx_config_asset(&c->cfg, r->asset);
        char amt[LX_DECIMAL_FORMAT_MAX + 8];
        if (!as || lx_decimal_format(r->amount, as->decimals, amt, sizeof amt) < 0)
            snprintf(amt, sizeof amt, "%lld units", (long long)r->amount);
        printf("%s  %s %s  account %u", what[r->what & 3], amt, as ? as->symbol : "?", r->account);
        if (r->other != LX_ACCOUNT_NONE)
            printf(r->what == LX_PROTO_FUNDS_TRANSFER_OUT ? " to %u" : " from %u", r->other);
        if (r->deposit_id) printf("  deposit id %llu", (unsigned long long)r->deposit_id);
        putchar('\n');
        return true;
    }
    case LX_PROTO_ACCOUNT_KEY: {
        const lx_proto_account_key_t *r = &m->u.account_key;
        char key[2 * 32 + 1], name[17];
        sodium_bin2hex(key, sizeof key, r->key, sizeof r->key);
        memcpy(name, r->name, 16);
        name[16] = 0;
        if (r->what == LX_PROTO_KEY_BOUND) {
            printf("owner key %s bound\n", key);
        } else {
            char when[32];
            lxdex_format_utc(r->expiry, when, sizeof when);
            printf("agent %s %s  name \"%s\", expires %s UTC\n", key,
                   r->what == LX_PROTO_KEY_AGENT_APPROVED ? "approved" : "revoked", name, when);
        }
        return true;
    }
    case LX_PROTO_ORDER_STATUS_REPLY: {
        const lx_proto_status_reply_t *r = &m->u.status_reply;
        if (r->status != LX_PROTO_STATUS_OPEN && r->order_id == 0 && r->client_id != 0)
            printf("client id %llu: no open order of the account has it\n",
                   (unsigned long long)r->client_id);
        else if (r->status != LX_PROTO_STATUS_OPEN)
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
int lxdex_conn_await(lxdex_conn_t *c, int quiet_ms) {
    int64_t end = lxdex_now_ms() + 5000;
    bool any = false, failed = false;
    for (;;) {
        int64_t deadline = any ? lxdex_now_ms() + quiet_ms : end;
        if (deadline > end) deadline = end;
        lx_proto_msg_t m;
        int rc = lxdex_conn_recv(c, &m, deadline);
        if (rc < 0) {
            fprintf(stderr, "lxdex: connection: %s\n", lx_strerror(rc));
            return 1;
        }
        if (rc == 0) break;
        if (m.type == LX_PROTO_SERVER_HEARTBEAT) continue;
        any = true;
        failed |= m.type == LX_PROTO_REJECTED || m.type == LX_PROTO_REJECT;
        if (lxdex_conn_print(c, &m) && m.type != LX_PROTO_CANCELED) break;
    }
    if (!any) {
        fprintf(stderr, "lxdex: no answer within 5 s\n");
        return 1;
    }
    return failed ? 1 : 0;
}

int lxdex_conn_close(lxdex_conn_t *c, int rc) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (c->has_cfg) lx_config_free(&c->cfg);
    c->has_cfg = false;
    return rc;
}
