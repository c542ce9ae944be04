/*
 * order.c: the trading commands of lxdex over the binary protocol
 * (docs/protocol.md): order place, cancel, amend, cancel-all, status.
 *
 * Each command opens one TCP session to the node's binary port (session.c),
 * logs on as an account (dev mode: by account id; with --key, by signing
 * the node's challenge), sends one request and prints the execution reports that
 * answer it: for a place, ACCEPTED or REJECTED and the fills and cancel that
 * follow within a short quiet period; for a cancel, CANCELED or REJECTED;
 * for a status, the reply.
 *
 * Prices and sizes are decimals in the market's units (BTC-USD: price in
 * USD per BTC, size in BTC). They are converted to ticks and lots exactly
 * with the node's configuration (the embedded dev configuration unless
 * --config names the node's file): a value off the tick or lot grid is an
 * error, never rounded. Nothing goes through double: the dead man's SECONDS
 * are parsed the same way, as an exact decimal of milliseconds.
 *
 * Whole numbers (--account, --client-id, ORDER_ID, --expiry-ms) are digits
 * only and in range (lxdex_parse_u64, session.c): "-1", "+5", " 5", "" or
 * a value that does not fit is a usage error naming the argument, never
 * wrapped or clamped; an expiry must also land before int64 nanoseconds
 * since the epoch run out.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lx/config.h"
#include "lx/decimal.h"
#include "lx/error.h"
#include "lx/proto.h"
#include "lx/types.h"
#include "lxdex.h"

typedef struct {
    const char *node;   /* host:port */
    const char *config; /* NULL: embedded default */
    const char *key;    /* secret key file: signed logon; NULL: by account id (dev mode) */
    int64_t account;    /* -1: not given */
    uint64_t client_id;
    bool has_client_id;
    int tif, stp, order_type;
    int64_t expiry_ms;
    int pos; /* positional arguments */
    const char *args[6];
} opts_t;

static int name_index(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcasecmp(s, names[i])) return i;
    return -1;
}

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
        uint64_t n = 0;
        if (!strcmp(a, "--node"))
            o->node = v;
        else if (!strcmp(a, "--config"))
            o->config = v;
        else if (!strcmp(a, "--key"))
            o->key = v;
        else if (!strcmp(a, "--account")) {
            if (!lxdex_parse_u64(v, 0, UINT32_MAX - 1, &n)) {
                fprintf(stderr, "lxdex: --account: not an account id: '%s'\n", v);
                return 2;
            }
            o->account = (int64_t)n;
        } else if (!strcmp(a, "--client-id")) {
            if (!lxdex_parse_u64(v, 1, UINT64_MAX, &o->client_id)) {
                fprintf(stderr, "lxdex: --client-id: a positive integer below 2^64, got '%s'\n", v);
                return 2;
            }
            o->has_client_id = true;
        } else if (!strcmp(a, "--tif")) {
            if ((o->tif = name_index(v, lxdex_tif_names, 5)) < 0) {
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
            /* the expiry is ns since the epoch in an int64 */
            if (!lxdex_parse_u64(v, 1, INT64_MAX / 1000000, &n)) {
                fprintf(stderr, "lxdex: --expiry-ms: milliseconds from now, 1 to %lld, got '%s'\n",
                        (long long)(INT64_MAX / 1000000), v);
                return 2;
            }
            o->expiry_ms = (int64_t)n;
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

/* ---- units --------------------------------------------------------------- */

/* A market by its symbol in any case or its id, as the read commands take it (docs/cli.md). */
static const lx_config_market_t *market_of(lxdex_conn_t *c, const char *symbol) {
    const lx_config_market_t *m = lx_config_market_by_symbol(&c->cfg, symbol);
    uint64_t id;
    if (!m && lxdex_parse_u64(symbol, 0, UINT32_MAX, &id))
        m = lx_config_market(&c->cfg, (lx_market_id_t)id);
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
        /* 0.01, as the configuration writes it, not 0.010000 */
        lx_decimal_format_short(step, decimals, grid, sizeof grid);
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

/* ---- commands ------------------------------------------------------------ */

static int exchange(lxdex_conn_t *c, const opts_t *o, const lx_proto_msg_t *msg);

static int setup(int argc, char **argv, opts_t *o, lxdex_conn_t *c, int npos, const char *usage) {
    int rc = parse_opts(argc, argv, o);
    if (rc) return rc;
    if (o->pos != npos) {
        fprintf(stderr, "usage: lxdex order %s\n", usage);
        return 2;
    }
    if ((rc = lxdex_conn_config(c, o->config))) return rc;
    return 0;
}

int lxdex_order_place(int argc, char **argv) {
    opts_t o;
    lxdex_conn_t c = LXDEX_CONN_INIT;
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
    /* a market order: IOC, or all or nothing with --tif FOK (the engine
     * refuses POST_ONLY: docs/matching.md) */
    msg.u.place.tif = (uint8_t)(o.order_type && o.tif == LX_TIF_GTC ? LX_TIF_IOC : o.tif);
    msg.u.place.stp = (uint8_t)o.stp;
    msg.u.place.client_id = o.has_client_id ? o.client_id : 0;
    if (o.tif == LX_TIF_GTD) {
        rc = 2; /* to_lots left it 0 */
        if (!o.expiry_ms) {
            fprintf(stderr, "lxdex: --tif GTD needs --expiry-ms\n");
            goto out;
        }
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        int64_t now = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
        if (o.expiry_ms > (INT64_MAX - now) / 1000000) {
            fprintf(stderr, "lxdex: --expiry-ms %lld: later than an expiry can be (year 2262)\n",
                    (long long)o.expiry_ms);
            goto out;
        }
        msg.u.place.expiry = now + o.expiry_ms * 1000000;
    }
    rc = exchange(&c, &o, &msg);
out:
    return lxdex_conn_close(&c, rc);
}

/* cancel, amend and status name an order by --client-id or by an id at
 * positional argument idx (the caller has checked the argument count). */
static int order_ref(const opts_t *o, int idx, lx_order_id_t *id, uint8_t *by_cid) {
    *by_cid = o->has_client_id;
    if (o->has_client_id) return 0;
    uint64_t n;
    if (!lxdex_parse_u64(o->args[idx], 1, UINT64_MAX, &n)) {
        fprintf(stderr, "lxdex: ORDER_ID: not an order id (a positive integer), got '%s'\n",
                o->args[idx]);
        return 2;
    }
    *id = n;
    return 0;
}

/* Logs on, sends the request, prints the answer; returns the exit status. */
static int exchange(lxdex_conn_t *c, const opts_t *o, const lx_proto_msg_t *msg) {
    int rc = lxdex_conn_dial(c, o->node, (lx_account_id_t)o->account, o->key);
    if (rc) return rc;
    return lxdex_conn_send(c, msg) ? 1 : lxdex_conn_await(c, 300);
}

int lxdex_order_cancel(int argc, char **argv) {
    opts_t o;
    lxdex_conn_t c = LXDEX_CONN_INIT;
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
        (rc = lxdex_conn_config(&c, o.config)))
        return lxdex_conn_close(&c, rc);
    const lx_config_market_t *m = market_of(&c, o.args[0]);
    if (!m) return lxdex_conn_close(&c, 2);
    msg.u.cancel.market = m->id;
    return lxdex_conn_close(&c, exchange(&c, &o, &msg));
}

int lxdex_order_amend(int argc, char **argv) {
    opts_t o;
    lxdex_conn_t c = LXDEX_CONN_INIT;
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
        (rc = lxdex_conn_config(&c, o.config)))
        return lxdex_conn_close(&c, rc);
    const lx_config_market_t *m = market_of(&c, o.args[0]);
    if (!m) return lxdex_conn_close(&c, 2);
    if ((rc = to_ticks(m, o.args[at], &msg.u.amend.price)) ||
        (rc = to_lots(m, o.args[at + 1], &msg.u.amend.qty)))
        return lxdex_conn_close(&c, rc);
    msg.u.amend.market = m->id;
    return lxdex_conn_close(&c, exchange(&c, &o, &msg));
}

int lxdex_order_cancel_all(int argc, char **argv) {
    opts_t o;
    lxdex_conn_t c = LXDEX_CONN_INIT;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc;
    if (o.pos > 1) {
        fprintf(stderr, "usage: lxdex order cancel-all %s\n", lxdex_order_cancel_all_args);
        return 2;
    }
    if ((rc = lxdex_conn_config(&c, o.config))) return rc;
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_CANCEL_ALL;
    msg.u.cancel_all.market = LX_MARKET_ALL;
    const lx_config_market_t *m = o.pos ? market_of(&c, o.args[0]) : NULL;
    rc = 2;
    if (!o.pos || m) {
        if (m) msg.u.cancel_all.market = m->id;
        if (!(rc = lxdex_conn_dial(&c, o.node, (lx_account_id_t)o.account, o.key))) {
            rc = lxdex_conn_send(&c, &msg) ? 1 : 0;
            /* one CANCELED per open order, or nothing: print what comes; a
             * refusal (REJECTED, REJECT) or a lost connection is a failure */
            int64_t end = lxdex_now_ms() + 500;
            int n = 0, got = 0;
            lx_proto_msg_t r;
            while (!rc && (got = lxdex_conn_recv(&c, &r, end)) == 1) {
                if (r.type == LX_PROTO_SERVER_HEARTBEAT) continue;
                lxdex_conn_print(&c, &r);
                if (r.type == LX_PROTO_REJECTED || r.type == LX_PROTO_REJECT) rc = 1;
                if (r.type == LX_PROTO_CANCELED) n++;
                end = lxdex_now_ms() + 300;
            }
            if (!rc && got < 0) {
                fprintf(stderr, "lxdex: connection: %s\n", lx_strerror(got));
                rc = 1;
            }
            if (!rc) printf("%d order%s canceled\n", n, n == 1 ? "" : "s");
        }
    }
    return lxdex_conn_close(&c, rc);
}

int lxdex_order_status(int argc, char **argv) {
    opts_t o;
    lxdex_conn_t c = LXDEX_CONN_INIT;
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
        (rc = lxdex_conn_config(&c, o.config)))
        return lxdex_conn_close(&c, rc);
    return lxdex_conn_close(&c, exchange(&c, &o, &msg));
}

/* deadman SECONDS | clear: the account's dead man's switch */
int lxdex_order_deadman(int argc, char **argv) {
    opts_t o;
    lxdex_conn_t c = LXDEX_CONN_INIT;
    int rc = setup(argc, argv, &o, &c, 1, lxdex_order_deadman_args);
    if (rc) return lxdex_conn_close(&c, rc);
    lx_proto_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = LX_PROTO_SCHEDULE_CANCEL;
    if (strcmp(o.args[0], "clear") != 0) {
        int64_t ms; /* SECONDS to the millisecond, exactly (lx/decimal.h: no space, +, exponent) */
        if (lx_decimal_parse(o.args[0], 3, &ms) || ms <= 0 || ms > 86400LL * 365 * 1000) {
            fprintf(stderr,
                    "lxdex: deadman: seconds from now (0.001 to 31536000, to the millisecond) "
                    "or 'clear', got '%s'\n",
                    o.args[0]);
            return lxdex_conn_close(&c, 2);
        }
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        msg.u.schedule_cancel.deadline = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + ms * 1000000;
    }
    return lxdex_conn_close(&c, exchange(&c, &o, &msg));
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
    "  --config FILE     the node's configuration, for tick and lot sizes and, with --key,\n"
    "                    the chain id signed for (default: the embedded dev configuration\n"
    "                    that `make run` uses)\n"
    "  --client-id N     your id for the order (place), or name the order by it\n"
    "  --tif T           GTC (default), GTD, IOC, FOK, POST_ONLY\n"
    "  --expiry-ms MS    GTD: expires MS milliseconds from now\n"
    "  --market          a market order; PRICE is the worst price it accepts; IOC, or all\n"
    "                    or nothing with --tif FOK\n"
    "  --stp MODE        self-trade prevention: NONE (default), EXPIRE_TAKER, EXPIRE_MAKER,\n"
    "                    EXPIRE_BOTH, DECREMENT\n"
    "\n"
    "SYMBOL is a market's symbol, in any case, or its id. PRICE and SIZE are decimals in the\n"
    "market's units (BTC-USD: USD per BTC, BTC) and must lie on its tick and lot grid; nothing\n"
    "is rounded. deadman SECONDS must exceed the node's engine.deadman_min_lead_ms (5 s in\n"
    "the embedded configuration), counted from when the node sequences the request.\n"
    "Prints the execution reports that answer the request. Exit status: 0 done, 1 rejected or\n"
    "failed, 2 usage error.\n";
