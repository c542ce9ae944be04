/*
 * web_ws.c: the WebSocket JSON API (docs/api.md §6): requests, actions,
 * subscriptions and the feeds.
 *
 * Every message is one JSON object with a "type" and an optional "id"
 * (any string, number or null), echoed in its answer. Requests:
 *   ping                                        -> pong
 *   logon {account}                             dev mode: the account actions act for
 *   logon {account, key}                        -> challenge; then
 *   logon {account, key, signature}             a signed logon (below)
 *   subscribe / unsubscribe {channel, market | account}
 *   place | cancel | amend | cancel_all {...}   -> result (when the node applied it)
 *   batch {actions: [ up to 50 actions, each with its own id ]}
 *   signed {envelope}                           a signed action (docs/signing.md) -> result
 * Unknown types and unknown fields are errors; so is anything that does
 * not parse. An error is {"type":"error","id":...,"code":...,"message":...}.
 *
 * A batch is validated whole before any of it is sent (every action, then
 * the account's rate limit for their summed weight): one bad action and
 * the batch is refused with the index and the reason, nothing sent. Once
 * sent, each action is applied on its own (the engine may reject one) and
 * answered by its own id.
 *
 * Identity. Outside dev mode a connection acts for an account only after a
 * signed logon, the binary protocol's scheme (lx/gw_auth.h): the server
 * draws a 32-byte challenge per request, the client signs the logon payload
 * over it with the account's owner key or an approved agent's, and the
 * gateway checks the signature and then its copy of the key records (web.c
 * keeps it from the node's state and the key events). The session's
 * commands then carry auth SESSION with the key, so the engine checks every
 * one of them too. A `signed` message is verified here, on this thread, and
 * journaled with its signature (auth ED25519).
 *
 * Order entry has a fast path (fast_action): a flat place, cancel, amend
 * or cancel_all that is valid is read in place (lx__web_flat) and answered
 * by hand (web_out.c); everything else, errors included, goes through
 * jansson as before. At 100,000 orders/s over one connection the jansson
 * parse, its allocations and the rendering of each answer were what held
 * the gateway thread at about 95,000 (BENCHMARKS.md).
 *
 * Feeds. Per connection, a byte per market (LX__SUB_*) and one followed
 * account with its feeds (LX__FEED_*). Each engine event, after it was
 * applied to the view, is rendered once for each feed that someone follows
 * and queued on every such connection:
 *   l2      snapshot (l2_snapshot: seq, checksum, all levels), then one
 *           delta per BOOK_LEVEL: seq, side, price, size ("0": gone),
 *           count, and the CRC32 of the top 10 levels after it
 *   bbo     the best bid and ask whenever either changes
 *   trades  every trade (side is the taker's)
 *   l3      every order event of the market (no accounts)
 *   orders, fills, balances   the followed account's (dev mode; else the
 *                             signed logon's own account only)
 * Subscribing again to l2 or l3 sends a fresh snapshot. Messages of a
 * connection leave in event order and none is ever dropped: a connection
 * that cannot keep up is closed (web.c), so a client that applies the
 * deltas to its snapshot always has the book, which the checksum confirms.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw/web.h"
#include "lx/error.h"

#define BATCH_MAX 50

void lx__web_ws_error(lx__web_t *g, lx__web_conn_t *c, const json_t *id, const char *code,
                      const char *fmt, ...) {
    char msg[LX__WEB_ERR + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lx__web_utf8_trim(msg);
    g->m.ws_errors++;
    lx__web_send_json(g, c,
                      json_pack("{s:s,s:O,s:s,s:s}", "type", "error", "id", id ? id : json_null(),
                                "code", code, "message", msg));
}

static void reply(lx__web_t *g, lx__web_conn_t *c, const json_t *id, json_t *msg) {
    if (id) json_object_set(msg, "id", (json_t *)id);
    lx__web_send_json(g, c, msg);
}

const char *lx__web_ws_action_name(int t) {
    switch (t) {
    case LX_CMD_PLACE:
        return "place";
    case LX_CMD_CANCEL:
        return "cancel";
    case LX_CMD_AMEND:
        return "amend";
    case LX_CMD_CANCEL_ALL:
        return "cancel_all";
    case LX_CMD_DEPOSIT: /* the rest come only in signed envelopes */
        return "deposit";
    case LX_CMD_WITHDRAW:
        return "withdraw";
    case LX_CMD_TRANSFER:
        return "transfer";
    case LX_CMD_SCHEDULE_CANCEL:
        return "schedule_cancel";
    case LX_CMD_BIND_KEY:
        return "bind_key";
    case LX_CMD_APPROVE_AGENT:
        return "approve_agent";
    case LX_CMD_REVOKE_AGENT:
        return "revoke_agent";
    default:
        return "?";
    }
}

static int action_type(const char *s) {
    return !strcmp(s, "place")        ? LX_CMD_PLACE
           : !strcmp(s, "cancel")     ? LX_CMD_CANCEL
           : !strcmp(s, "amend")      ? LX_CMD_AMEND
           : !strcmp(s, "cancel_all") ? LX_CMD_CANCEL_ALL
                                      : 0;
}

void lx__web_ws_done(lx__web_t *g, lx__web_conn_t *c, const lx__web_pending_t *p) {
    const lx__web_outcome_t *o = &p->out;
    const json_t *id = p->id;
    json_t *parsed = NULL;
    if (p->idlen) {
        /* the hot path: written by hand (web_out.c), no jansson */
        size_t n = lx__web_ws_result(g->txt, sizeof g->txt, &g->ms,
                                     lx__web_ws_action_name(o->cmd_type), p->idtext, p->idlen, o);
        if (n) {
            lx__web_send(g, c, g->txt, n);
            return;
        }
        if (lx__web_parse(p->idtext, p->idlen, &parsed, NULL, 0) == 0) id = parsed;
    }
    json_t *r = json_pack("{s:s,s:O,s:s,s:o}", "type", "result", "id", id ? id : json_null(),
                          "action", lx__web_ws_action_name(o->cmd_type), "result",
                          lx__web_outcome_json(&g->ms, o, false));
    lx__web_send_json(g, c, r);
    json_decref(parsed);
}

/* ---- snapshots --------------------------------------------------------------------------------
 */

static void send_l2_snapshot(lx__web_t *g, lx__web_conn_t *c, const lx__web_market_t *m) {
    size_t d0 = lx_view_depth(g->view, m->m->id, 0), d1 = lx_view_depth(g->view, m->m->id, 1);
    json_t *b = lx__web_book_json(g, m, d0 > d1 ? d0 : d1);
    json_object_set_new(b, "type", json_string("l2_snapshot"));
    lx__web_send_snapshot(g, c, b);
}

static json_t *bbo_side(const lx__web_market_t *m, const lx_view_level_t *l) {
    if (l->qty <= 0) return json_null();
    return json_pack("[o,o]", lx__web_price(m, l->price, false), lx__web_qty(m, l->qty, false));
}

static json_t *bbo_json(lx__web_t *g, const lx__web_market_t *m) {
    lx_view_level_t b = {0, 0, 0}, a = {0, 0, 0};
    lx_view_best(g->view, m->m->id, 0, &b);
    lx_view_best(g->view, m->m->id, 1, &a);
    return json_pack("{s:s,s:s,s:I,s:o,s:o}", "type", "bbo", "market", m->m->symbol, "seq",
                     (json_int_t)lx_view_market_seq(g->view, m->m->id), "bid", bbo_side(m, &b),
                     "ask", bbo_side(m, &a));
}

static void send_l3_snapshot(lx__web_t *g, lx__web_conn_t *c, const lx__web_market_t *m) {
    size_t total = lx_view_market_orders(g->view, m->m->id, NULL, 0);
    lx_view_order_t *os = malloc((total ? total : 1) * sizeof *os);
    size_t k = os ? lx_view_market_orders(g->view, m->m->id, os, total) : 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < k && i < total; i++)
        json_array_append_new(arr, json_pack("{s:o,s:s,s:o,s:o}", "orderId",
                                             lx__web_id(os[i].order_id, false), "side",
                                             lx__web_side_name(os[i].side), "price",
                                             lx__web_price(m, os[i].price, false), "size",
                                             lx__web_qty(m, os[i].remaining, false)));
    free(os);
    lx__web_send_snapshot(
        g, c,
        json_pack("{s:s,s:s,s:I,s:o}", "type", "l3_snapshot", "market", m->m->symbol, "seq",
                  (json_int_t)lx_view_market_seq(g->view, m->m->id), "orders", arr));
}

static void send_orders_snapshot(lx__web_t *g, lx__web_conn_t *c, lx_account_id_t a) {
    size_t total = lx_view_account_orders(g->view, a, NULL, 0);
    lx_view_order_t *os = malloc((total ? total : 1) * sizeof *os);
    size_t k = os ? lx_view_account_orders(g->view, a, os, total) : 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < k && i < total; i++) {
        json_t *o = lx__web_order_json(g, &os[i], false);
        if (o) json_array_append_new(arr, o);
    }
    free(os);
    lx__web_send_snapshot(g, c,
                          json_pack("{s:s,s:I,s:o}", "type", "orders_snapshot", "account",
                                    (json_int_t)a, "orders", arr));
}

/* ---- subscriptions ----------------------------------------------------------------------------
 */

static void subscribe(lx__web_t *g, lx__web_conn_t *c, const json_t *msg, const json_t *id,
                      bool on) {
    static const char *const keys[] = {"type", "id", "channel", "market", "account", NULL};
    char err[LX__WEB_ERR];
    if (lx__web_keys(msg, keys, NULL, err, sizeof err))
        return lx__web_ws_error(g, c, id, "bad_request", "%s", err);
    const json_t *ch = json_object_get(msg, "channel");
    const char *chan =
        json_is_string(ch) && !lx__web_num_text(ch, NULL) ? json_string_value(ch) : NULL;
    if (!chan)
        return lx__web_ws_error(
            g, c, id, "bad_request",
            "channel: one of l2, bbo, trades, l3, orders, fills, balances is required");
    uint8_t bit = !strcmp(chan, "l2")       ? LX__SUB_L2
                  : !strcmp(chan, "trades") ? LX__SUB_TRADES
                  : !strcmp(chan, "bbo")    ? LX__SUB_BBO
                  : !strcmp(chan, "l3")     ? LX__SUB_L3
                                            : 0;
    uint8_t feed = !strcmp(chan, "orders")     ? LX__FEED_ORDERS
                   : !strcmp(chan, "fills")    ? LX__FEED_FILLS
                   : !strcmp(chan, "balances") ? LX__FEED_BALANCES
                                               : 0;
    if (!bit && !feed)
        return lx__web_ws_error(g, c, id, "bad_request",
                                "channel: unknown channel \"%.*s\" (l2, bbo, trades, l3, "
                                "orders, fills, balances)",
                                lx__web_cut(chan, strlen(chan), LX__WEB_QUOTE), chan);
    if (bit) {
        if (json_object_get(msg, "account"))
            return lx__web_ws_error(g, c, id, "bad_request",
                                    "account: not a field of a market channel");
        size_t n;
        const char *s = lx__web_text(json_object_get(msg, "market"), &n);
        const lx__web_market_t *m = s ? lx__web_market_find(&g->ms, s, n) : NULL;
        if (!m)
            return lx__web_ws_error(g, c, id, s ? "not_found" : "bad_request",
                                    s ? "market: unknown market \"%.*s\"" : "market: required%.*s",
                                    s ? lx__web_cut(s, n, LX__WEB_QUOTE) : 0, s ? s : "");
        if (!g->state_done)
            return lx__web_ws_error(g, c, id, "unavailable", "the node is starting");
        if (!c->sub && !(c->sub = calloc(g->ms.nmk, 1)))
            return lx__web_ws_error(g, c, id, "internal", "out of memory");
        if (on)
            c->sub[m->m->id] |= bit;
        else
            c->sub[m->m->id] &= (uint8_t)~bit;
        reply(g, c, id,
              json_pack("{s:s,s:s,s:s}", "type", on ? "subscribed" : "unsubscribed", "channel",
                        chan, "market", m->m->symbol));
        if (!on) return;
        if (bit == LX__SUB_L2) send_l2_snapshot(g, c, m);
        if (bit == LX__SUB_L3) send_l3_snapshot(g, c, m);
        if (bit == LX__SUB_BBO) lx__web_send_json(g, c, bbo_json(g, m));
        return;
    }
    /* account feeds */
    if (json_object_get(msg, "market"))
        return lx__web_ws_error(g, c, id, "bad_request",
                                "market: not a field of an account channel");
    if (!g->cfg->node.dev_mode && !c->keyed)
        return lx__web_ws_error(g, c, id, "unauthorized",
                                "account channels need a signed logon outside dev mode");
    const char *kwhy = NULL;
    if (on && c->keyed &&
        lx_gw_keys_check(g->keys, c->account, c->key, lx__web_wall_ns(), &kwhy) < 0)
        return lx__web_ws_error(g, c, id, "unauthorized", "account %u: %s", (unsigned)c->account,
                                kwhy);
    lx_account_id_t a = c->logged_on ? c->account : LX_ACCOUNT_NONE;
    const json_t *av = json_object_get(msg, "account");
    if (av) {
        uint64_t x;
        if (lx__web_u64(av, &x) || x >= g->cfg->engine.max_accounts)
            return lx__web_ws_error(g, c, id, "bad_request",
                                    "account: an integer below %u is required",
                                    g->cfg->engine.max_accounts);
        a = (lx_account_id_t)x;
        if (!g->cfg->node.dev_mode && a != c->account)
            return lx__web_ws_error(g, c, id, "unauthorized",
                                    "account: outside dev mode a session follows only the account "
                                    "it logged on as (%u)",
                                    c->account);
    }
    if (a == LX_ACCOUNT_NONE)
        return lx__web_ws_error(g, c, id, "bad_request", "account: required (or log on first)");
    if (on && c->feeds && c->feed_account != a)
        return lx__web_ws_error(g, c, id, "bad_request",
                                "this connection follows account %u: unsubscribe first",
                                c->feed_account);
    if (!on) {
        if (c->feed_account == a) c->feeds &= (uint8_t)~feed;
    } else {
        if (!g->state_done)
            return lx__web_ws_error(g, c, id, "unavailable", "the node is starting");
        c->feed_account = a;
        c->feeds |= feed;
    }
    reply(g, c, id,
          json_pack("{s:s,s:s,s:I}", "type", on ? "subscribed" : "unsubscribed", "channel", chan,
                    "account", (json_int_t)a));
    if (!on) return;
    if (feed == LX__FEED_BALANCES) {
        json_t *b = lx__web_balances_json(g, a);
        json_object_set_new(b, "type", json_string("balances_snapshot"));
        lx__web_send_json(g, c, b);
    }
    if (feed == LX__FEED_ORDERS) send_orders_snapshot(g, c, a);
}

/* ---- actions ----------------------------------------------------------------------------------
 */

static const char *const action_extra[] = {"type", "id", NULL};

/* One action object into a, or an error message. */
static int parse_action(lx__web_t *g, lx__web_conn_t *c, const json_t *obj, int type,
                        lx__web_action_t *a, char *err, size_t errlen) {
    lx__web_fields_t f;
    if (lx__web_own_fields(obj, type, action_extra, &f, err, errlen)) return -1;
    return lx__web_action(&g->ms, g->view, type, &f, c->account, a, err, errlen);
}

static bool may_act(lx__web_t *g, lx__web_conn_t *c, const json_t *id) {
    if (!c->logged_on) {
        if (g->cfg->node.dev_mode)
            lx__web_ws_error(g, c, id, "not_logged_on",
                             "log on first: {\"type\":\"logon\",\"account\":N} (dev mode)");
        else
            lx__web_ws_error(g, c, id, "not_logged_on",
                             "log on first by signing a challenge: "
                             "{\"type\":\"logon\",\"account\":N,\"key\":\"<hex>\"} "
                             "(docs/api.md)");
        return false;
    }
    if (!lx__web_available(g)) {
        lx__web_ws_error(g, c, id, "unavailable", "the node is not taking commands");
        return false;
    }
    return true;
}

static void rate_error(lx__web_t *g, lx__web_conn_t *c, const json_t *id, uint32_t us,
                       const char *what) {
    json_t *e =
        json_pack("{s:s,s:O,s:s,s:s,s:i}", "type", "error", "id", id ? id : json_null(), "code",
                  "rate_limited", "message", what, "retryAfterMs", (int)((us + 999) / 1000));
    g->m.ws_errors++;
    lx__web_send_json(g, c, e);
}

static void single_action(lx__web_t *g, lx__web_conn_t *c, const json_t *msg, const json_t *id,
                          int type) {
    char err[LX__WEB_ERR];
    if (!may_act(g, c, id)) return;
    lx__web_action_t a;
    if (parse_action(g, c, msg, type, &a, err, sizeof err))
        return lx__web_ws_error(g, c, id, "bad_request", "%s", err);
    uint32_t w = lx__web_rate_action(g, &a);
    if (w) return rate_error(g, c, id, w, "rate_limits.per_account");
    if (lx__web_submit(g, c, LX__WEB_API_WS, &a, id))
        lx__web_ws_error(g, c, id, "unavailable", "the node is not taking commands");
}

static void batch(lx__web_t *g, lx__web_conn_t *c, const json_t *msg, const json_t *id) {
    static const char *const keys[] = {"type", "id", "actions", NULL};
    char err[LX__WEB_ERR];
    if (lx__web_keys(msg, keys, NULL, err, sizeof err))
        return lx__web_ws_error(g, c, id, "bad_request", "%s", err);
    if (!may_act(g, c, id)) return;
    const json_t *arr = json_object_get(msg, "actions");
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > BATCH_MAX)
        return lx__web_ws_error(g, c, id, "bad_request",
                                "actions: an array of 1 to %d actions is required", BATCH_MAX);
    lx__web_action_t a[BATCH_MAX];
    const json_t *ids[BATCH_MAX];
    uint32_t weight = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        const json_t *t = json_object_get(x, "type");
        int type = json_is_string(t) ? action_type(json_string_value(t)) : 0;
        ids[i] = json_object_get(x, "id");
        if (!json_is_object(x) || !type)
            return lx__web_ws_error(g, c, id, "bad_request",
                                    "actions[%zu]: type: place, cancel, amend or cancel_all "
                                    "(nothing sent)",
                                    i);
        if (ids[i] && (json_is_object(ids[i]) || json_is_array(ids[i]) || json_is_boolean(ids[i])))
            return lx__web_ws_error(g, c, id, "bad_request",
                                    "actions[%zu]: id: a string, number or null (nothing sent)", i);
        if (parse_action(g, c, x, type, &a[i], err, sizeof err))
            return lx__web_ws_error(g, c, id, "bad_request", "actions[%zu]: %s (nothing sent)", i,
                                    err);
        weight += a[i].weight;
    }
    uint32_t w = lx__web_rate_account(g, c->account, weight);
    if (w) return rate_error(g, c, id, w, "rate_limits.per_account (nothing sent)");
    for (size_t i = 0; i < n; i++)
        if (lx__web_submit(g, c, LX__WEB_API_WS, &a[i], ids[i] ? ids[i] : json_null()))
            lx__web_ws_error(g, c, ids[i], "unavailable", "the node is not taking commands");
}

/* ---- identity ------------------------------------------------------------------------------ */

/* A field of exactly n bytes written as 2n hexadecimal digits: 0, or -1. */
static int hex_field(const json_t *msg, const char *name, uint8_t *out, size_t n) {
    const json_t *v = json_object_get(msg, name);
    if (!json_is_string(v) || lx__web_num_text(v, NULL) || json_string_length(v) != 2 * n)
        return -1;
    size_t got = 0;
    if (sodium_hex2bin(out, n, json_string_value(v), 2 * n, NULL, &got, NULL) || got != n)
        return -1;
    return 0;
}

/*
 * logon {account}                        dev mode: actions act for the account, unsigned
 * logon {account, key}                   -> challenge {account, key, challenge}
 * logon {account, key, signature}        the signature of the 88-byte logon payload over
 *                                        that challenge -> logon {account, key, role}
 * The same scheme as the binary protocol's signed LOGON (docs/protocol.md):
 * one challenge per request, good for one attempt (a failed attempt spends
 * it too); the key must be the account's owner key or a live agent's (the
 * gateway's copy of the key records; in dev mode, which has no bridge, the
 * key of an account that has none is bound as its owner, as tcp.c does).
 * Every refusal leaves the connection as it was: not logged on.
 */
static void logon(lx__web_t *g, lx__web_conn_t *c, const json_t *msg, const json_t *id) {
    static const char *const keys[] = {"type", "id", "account", "key", "signature", NULL};
    char err[LX__WEB_ERR];
    uint64_t a;
    uint8_t key[32], sig[64];
    bool has_key = json_object_get(msg, "key") != NULL;
    bool has_sig = json_object_get(msg, "signature") != NULL;
    if (lx__web_keys(msg, keys, NULL, err, sizeof err))
        return lx__web_ws_error(g, c, id, "bad_request", "%s", err);
    if (lx__web_u64(json_object_get(msg, "account"), &a) || a >= g->cfg->engine.max_accounts)
        return lx__web_ws_error(g, c, id, "bad_request", "account: an integer below %u is required",
                                g->cfg->engine.max_accounts);
    if (has_key && hex_field(msg, "key", key, sizeof key))
        return lx__web_ws_error(g, c, id, "bad_request",
                                "key: 64 hexadecimal digits (an ed25519 public key) are required");
    if (has_sig && !has_key)
        return lx__web_ws_error(g, c, id, "bad_request", "signature: goes with a key");
    if (has_sig && hex_field(msg, "signature", sig, sizeof sig))
        return lx__web_ws_error(g, c, id, "bad_request",
                                "signature: 128 hexadecimal digits (an ed25519 signature) are "
                                "required");
    if (!has_key) {
        if (!g->cfg->node.dev_mode)
            return lx__web_ws_error(g, c, id, "unauthorized",
                                    "logon by account number needs dev mode: sign a challenge "
                                    "({\"type\":\"logon\",\"account\":N,\"key\":\"<hex>\"}, "
                                    "docs/api.md)");
        if (c->logged_on && (c->keyed || c->account != a))
            return lx__web_ws_error(g, c, id, "bad_request", "already logged on as account %u",
                                    c->account);
        c->logged_on = true;
        c->account = (lx_account_id_t)a;
        reply(g, c, id, json_pack("{s:s,s:I}", "type", "logon", "account", (json_int_t)a));
        return;
    }
    if (c->logged_on)
        return lx__web_ws_error(g, c, id, "bad_request", "already logged on as account %u",
                                c->account);
    char khex[65], hex[65];
    sodium_bin2hex(khex, sizeof khex, key, sizeof key);
    if (!has_sig) {
        randombytes_buf(c->challenge, sizeof c->challenge);
        c->challenged = true;
        sodium_bin2hex(hex, sizeof hex, c->challenge, sizeof c->challenge);
        reply(g, c, id,
              json_pack("{s:s,s:I,s:s,s:s}", "type", "challenge", "account", (json_int_t)a, "key",
                        khex, "challenge", hex));
        return;
    }
    if (!c->challenged)
        return lx__web_ws_error(g, c, id, "unauthorized",
                                "signed logon without a challenge: send the logon with the key "
                                "and no signature, then sign the challenge it answers (each "
                                "challenge is good for one attempt)");
    c->challenged = false; /* one use, whatever the outcome */
    if (lx_gw_auth_logon(g->cfg->node.chain_id, (lx_account_id_t)a, c->challenge, key, sig))
        return lx__web_ws_error(g, c, id, "unauthorized",
                                "logon signature does not verify (it must sign the logon payload "
                                "of docs/signing.md over this connection's latest challenge, "
                                "chain id %u)",
                                g->cfg->node.chain_id);
    if (!g->state_done) return lx__web_ws_error(g, c, id, "unavailable", "the node is starting");
    const char *why = NULL;
    int role = lx_gw_keys_check(g->keys, (lx_account_id_t)a, key, lx__web_wall_ns(), &why);
    bool bind = false;
    if (role < 0 && g->cfg->node.dev_mode && !lx_gw_keys_known(g->keys, key) &&
        !lx_gw_keys_has_owner(g->keys, (lx_account_id_t)a)) {
        role = LX_KEY_OWNER; /* dev mode: the first key that logs on becomes the owner */
        bind = true;
    }
    if (role < 0)
        return lx__web_ws_error(g, c, id, "unauthorized", "account %u: %s", (unsigned)a, why);
    if (bind) {
        if (!lx__web_available(g))
            return lx__web_ws_error(g, c, id, "unavailable", "the node is not taking commands");
        lx__web_bind_key(g, c, (lx_account_id_t)a, key);
    }
    c->logged_on = true;
    c->keyed = true;
    c->account = (lx_account_id_t)a;
    memcpy(c->key, key, sizeof key);
    reply(g, c, id,
          json_pack("{s:s,s:I,s:s,s:s}", "type", "logon", "account", (json_int_t)a, "key", khex,
                    "role", role == LX_KEY_OWNER ? "owner" : "agent"));
}

int lx__web_signed(lx__web_t *g, const json_t *msg, lx__web_action_t *a, const char **code,
                   char *err, size_t errlen) {
    *code = "bad_request";
    const json_t *v = json_object_get(msg, "envelope");
    size_t hn = json_is_string(v) && !lx__web_num_text(v, NULL) ? json_string_length(v) : 0;
    uint8_t env[LX_SIGN_MAX_ENVELOPE];
    size_t n = 0;
    if (hn < 2 * (LX_SIGN_HDR_LEN + LX_SIGN_SIG_LEN) || hn > 2 * sizeof env || hn % 2 ||
        sodium_hex2bin(env, sizeof env, json_string_value(v), hn, NULL, &n, NULL) || n * 2 != hn) {
        snprintf(err, errlen,
                 "envelope: the signed payload and its signature in hexadecimal (%d to %d "
                 "digits) is required",
                 2 * (LX_SIGN_HDR_LEN + LX_SIGN_SIG_LEN), (int)(2 * sizeof env));
        return -1;
    }
    memset(a, 0, sizeof *a);
    lx_action_t act;
    const char *why = NULL;
    int rc = lx_gw_auth_action(g->cfg, env, n, &act, &a->account, &why);
    if (rc) {
        if (rc != LX_EINVAL) *code = "bad_signature";
        snprintf(err, errlen, "envelope: %s", why);
        return -1;
    }
    a->cmd = act.cmd;
    a->client_id = lx_gw_auth_client_id(&act.cmd);
    /* funds are held per shard: a deposit, withdrawal or transfer names its
     * shard in what is signed (the same envelope cannot be applied again in
     * another shard); "shard", when given, must say the same */
    if (act.shard >= lx_node_shards(g->node)) {
        snprintf(err, errlen, "envelope: it names shard %u; this node has %u", act.shard,
                 lx_node_shards(g->node));
        return -1;
    }
    const json_t *sv = json_object_get(msg, "shard");
    uint64_t k = 0;
    if (sv && (lx__web_u64(sv, &k) || k != act.shard)) {
        snprintf(err, errlen, "shard: must be the shard the envelope names (%u)", act.shard);
        return -1;
    }
    a->shard = (uint8_t)act.shard;
    a->weight = lx_config_weight(g->cfg, act.cmd.type);
    /* the account's budget pays only for a signer that may act for it: any
     * key can sign an envelope naming any account (the engine refuses it,
     * BAD_SIGNER), and must not spend that account's budget doing so */
    const char *kwhy = NULL;
    a->unpaid = !g->state_done ||
                lx_gw_keys_check(g->keys, a->account, act.signer, lx__web_wall_ns(), &kwhy) < 0;
    a->auth.scheme = LX_AUTH_ED25519;
    memcpy(a->auth.key, act.signer, sizeof a->auth.key);
    a->auth.nonce = act.nonce;
    memcpy(a->auth.sig, env + n - LX_SIGN_SIG_LEN, LX_SIGN_SIG_LEN);
    return 0;
}

/* signed {envelope, shard?}: one action with its own signature (lx__web_signed). */
static void signed_action(lx__web_t *g, lx__web_conn_t *c, const json_t *msg, const json_t *id) {
    static const char *const keys[] = {"type", "id", "envelope", "shard", NULL};
    char err[LX__WEB_ERR];
    if (lx__web_keys(msg, keys, NULL, err, sizeof err))
        return lx__web_ws_error(g, c, id, "bad_request", "%s", err);
    lx__web_action_t a;
    const char *code;
    if (lx__web_signed(g, msg, &a, &code, err, sizeof err))
        return lx__web_ws_error(g, c, id, code, "%s", err);
    if (!lx__web_available(g))
        return lx__web_ws_error(g, c, id, "unavailable", "the node is not taking commands");
    uint32_t w = lx__web_rate_action(g, &a);
    if (w) return rate_error(g, c, id, w, "rate_limits.per_account");
    if (lx__web_submit(g, c, LX__WEB_API_WS, &a, id))
        lx__web_ws_error(g, c, id, "unavailable", "the node is not taking commands");
}

static int action_type_n(const char *s, size_t n) {
    return n == 5 && !memcmp(s, "place", 5)          ? LX_CMD_PLACE
           : n == 6 && !memcmp(s, "cancel", 6)       ? LX_CMD_CANCEL
           : n == 5 && !memcmp(s, "amend", 5)        ? LX_CMD_AMEND
           : n == 10 && !memcmp(s, "cancel_all", 10) ? LX_CMD_CANCEL_ALL
                                                     : 0;
}

/*
 * The fast path of order entry (gw/web.h, lx__web_flat). A place, cancel,
 * amend or cancel_all that is one flat object, valid, from a logged-on
 * session, and whose id fits inline is read in place and sent: no jansson,
 * no allocation. Anything else returns false having done nothing (no
 * error sent, no rate bucket touched), and the message takes the slow path,
 * which decides it and words any error exactly as before. The two paths
 * apply the same checks in the same order (may_act, the fields, the action,
 * the account's rate) through the same functions, so a message both accept
 * becomes the same command; fuzz/fuzz_json.c checks that.
 */
static bool fast_action(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len) {
    lx__web_member_t m[LX__WEB_FLAT_MAX];
    int n = lx__web_flat(text, len, m, LX__WEB_FLAT_MAX);
    if (n < 0) return false;
    lx__web_val_t tv = lx__web_flat_get(m, n, "type"), idv = lx__web_flat_get(m, n, "id");
    int type = tv.kind == LX__WEB_V_STRING ? action_type_n(tv.s, tv.n) : 0;
    if (!type || !c->logged_on || !lx__web_available(g)) return false;
    /* the id's JSON text as jansson would write it back: a string of printable
     * ASCII without escapes is its own text, quotes included */
    const char *id = idv.s;
    size_t idlen = idv.n;
    if (idv.kind == LX__WEB_V_NONE || idv.kind == LX__WEB_V_NULL)
        id = "null", idlen = 4;
    else if (idv.kind == LX__WEB_V_STRING)
        id--, idlen += 2;
    else if (idv.kind != LX__WEB_V_NUMBER)
        return false; /* true or false: the slow path refuses it */
    if (idlen >= LX__WEB_ID_TEXT) return false;
    lx__web_fields_t f;
    lx__web_action_t a;
    char err[LX__WEB_ERR];
    if (lx__web_own_fields_flat(m, n, type, action_extra, &f) ||
        lx__web_action(&g->ms, g->view, type, &f, c->account, &a, err, sizeof err))
        return false;
    uint32_t w = lx__web_rate_action(g, &a);
    if (w || lx__web_submit_text(g, c, &a, id, idlen)) {
        json_t *idj = NULL;
        if (lx__web_parse(id, idlen, &idj, err, sizeof err)) idj = NULL;
        if (w)
            rate_error(g, c, idj, w, "rate_limits.per_account");
        else
            lx__web_ws_error(g, c, idj, "unavailable", "the node is not taking commands");
        json_decref(idj);
    }
    return true;
}

bool lx__web_ws_admit(lx__web_t *g, lx__web_conn_t *c) {
    g->m.ws_messages++;
    uint32_t w = lx__web_rate_conn(g, c);
    if (!w) return true;
    rate_error(g, c, NULL, w, "rate_limits.per_connection: message dropped");
    /* a client that ignores retryAfterMs and keeps pushing is cut off */
    if (g->now_ms - c->over_since >= 1000) c->over_since = g->now_ms, c->over = 0;
    uint32_t cap = g->cfg->rate_limits.per_connection.burst;
    if (++c->over > (cap > 100 ? cap : 100))
        lx__web_close(g, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "kept sending over its rate limit");
    return false;
}

void lx__web_ws_message(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len) {
    char err[LX__WEB_ERR];
    if (!lx__web_ws_admit(g, c)) return;
    if (fast_action(g, c, text, len)) return;
    json_t *msg = NULL;
    if (lx__web_parse(text, len, &msg, err, sizeof err))
        return lx__web_ws_error(g, c, NULL, "invalid_json", "%s", err);
    const json_t *id = json_object_get(msg, "id");
    const json_t *tv = json_object_get(msg, "type");
    const char *type =
        json_is_string(tv) && !lx__web_num_text(tv, NULL) ? json_string_value(tv) : NULL;
    int at;
    if (!json_is_object(msg)) {
        lx__web_ws_error(g, c, NULL, "bad_request", "a message is a JSON object");
    } else if (id && (json_is_object(id) || json_is_array(id) || json_is_boolean(id))) {
        lx__web_ws_error(g, c, NULL, "bad_request", "id: a string, a number or null");
    } else if (!type) {
        lx__web_ws_error(g, c, id, "bad_request", "type: required (a string)");
    } else if (!strcmp(type, "ping")) {
        static const char *const keys[] = {"type", "id", NULL};
        if (lx__web_keys(msg, keys, NULL, err, sizeof err))
            lx__web_ws_error(g, c, id, "bad_request", "%s", err);
        else
            reply(g, c, id, json_pack("{s:s}", "type", "pong"));
    } else if (!strcmp(type, "logon")) {
        logon(g, c, msg, id);
    } else if (!strcmp(type, "subscribe") || !strcmp(type, "unsubscribe")) {
        subscribe(g, c, msg, id, type[0] == 's');
    } else if ((at = action_type(type)) != 0) {
        single_action(g, c, msg, id, at);
    } else if (!strcmp(type, "batch")) {
        batch(g, c, msg, id);
    } else if (!strcmp(type, "signed")) {
        signed_action(g, c, msg, id);
    } else {
        lx__web_ws_error(g, c, id, "unknown_type",
                         "unknown type \"%.*s\" (ping, logon, subscribe, unsubscribe, place, "
                         "cancel, amend, cancel_all, batch, signed)",
                         lx__web_cut(type, strlen(type), LX__WEB_QUOTE), type);
    }
    json_decref(msg);
}

/* ---- the feeds --------------------------------------------------------------------------------
 */

static bool any_market(lx__web_t *g, lx_market_id_t m, uint8_t bit) {
    for (uint32_t i = 0; i < g->nwsc; i++)
        if (g->wsc[i]->sub && (g->wsc[i]->sub[m] & bit)) return true;
    return false;
}

static bool any_account(lx__web_t *g, lx_account_id_t a, uint8_t feed) {
    for (uint32_t i = 0; i < g->nwsc; i++)
        if ((g->wsc[i]->feeds & feed) && g->wsc[i]->feed_account == a) return true;
    return false;
}

/* Sends msg (freed) to every connection following market m's `bit` or
 * (bit 0) account a's `feed`. */
static void fan(lx__web_t *g, lx_market_id_t m, uint8_t bit, lx_account_id_t a, uint8_t feed,
                json_t *msg) {
    size_t n;
    char *s = lx__web_dump(msg, &n);
    json_decref(msg);
    if (!s) return;
    for (uint32_t i = 0; i < g->nwsc; i++) {
        lx__web_conn_t *c = g->wsc[i];
        bool want = bit ? c->sub && (c->sub[m] & bit) : (c->feeds & feed) && c->feed_account == a;
        if (want) lx__web_send(g, c, s, n);
    }
    free(s);
}

static void bbo_check(lx__web_t *g, const lx__web_market_t *m) {
    lx_market_id_t id = m->m->id;
    lx_view_level_t now[2] = {{0, 0, 0}, {0, 0, 0}};
    lx_view_best(g->view, id, 0, &now[0]);
    lx_view_best(g->view, id, 1, &now[1]);
    bool changed = false;
    for (int s = 0; s < 2; s++)
        if (now[s].price != g->bbo[id][s].price || now[s].qty != g->bbo[id][s].qty) changed = true;
    if (!changed) return;
    g->bbo[id][0] = now[0];
    g->bbo[id][1] = now[1];
    if (any_market(g, id, LX__SUB_BBO)) fan(g, id, LX__SUB_BBO, 0, 0, bbo_json(g, m));
}

static json_t *l3_base(const lx__web_market_t *m, const lx_event_t *ev, const char *what) {
    return json_pack("{s:s,s:s,s:I,s:s}", "type", "l3", "market", m->m->symbol, "seq",
                     (json_int_t)ev->market_seq, "event", what);
}

static json_t *order_base(const lx__web_market_t *m, const lx_event_t *ev, lx_account_id_t a,
                          const char *what, lx_order_id_t oid) {
    return json_pack("{s:s,s:I,s:s,s:I,s:s,s:o}", "type", "order", "account", (json_int_t)a,
                     "market", m->m->symbol, "seq", (json_int_t)ev->market_seq, "event", what,
                     "orderId", lx__web_id(oid, false));
}

void lx__web_ws_event(lx__web_t *g, const lx_event_t *ev) {
    if (!g->nwsc) {
        if (ev->type == LX_EV_BOOK_LEVEL) {
            const lx__web_market_t *m = lx__web_market_get(&g->ms, ev->market);
            if (m) bbo_check(g, m);
        }
        return;
    }
    if (ev->type == LX_EV_BALANCE) {
        lx_account_id_t a = ev->u.balance.account;
        const lx_config_asset_t *as = lx_config_asset(g->cfg, ev->u.balance.asset);
        if (!as || !any_account(g, a, LX__FEED_BALANCES)) return;
        /* the account's holding over every shard (the view has applied ev) */
        int64_t fr, lk;
        lx_view_balance(g->view, a, ev->u.balance.asset, &fr, &lk);
        fan(g, 0, 0, a, LX__FEED_BALANCES,
            json_pack("{s:s,s:I,s:s,s:o,s:o,s:I}", "type", "balance", "account", (json_int_t)a,
                      "asset", as->symbol, "free", lx__web_amount(fr, as->scale, false), "locked",
                      lx__web_amount(lk, as->scale, false), "seq", (json_int_t)ev->seq));
        return;
    }
    const lx__web_market_t *m = lx__web_market_get(&g->ms, ev->market);
    if (!m) return;
    lx_market_id_t mid = m->m->id;
    switch (ev->type) {
    case LX_EV_BOOK_LEVEL: {
        const lx_ev_level_t *l = &ev->u.level;
        if (any_market(g, mid, LX__SUB_L2))
            fan(g, mid, LX__SUB_L2, 0, 0,
                json_pack("{s:s,s:s,s:I,s:s,s:o,s:o,s:i,s:I}", "type", "l2", "market", m->m->symbol,
                          "seq", (json_int_t)ev->market_seq, "side", lx__web_side_name(l->side),
                          "price", lx__web_price(m, l->price, false), "size",
                          lx__web_qty(m, l->qty > 0 ? l->qty : 0, false), "count", (int)l->count,
                          "checksum", (json_int_t)lx_view_checksum(g->view, mid)));
        bbo_check(g, m);
        break;
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *t = &ev->u.trade;
        if (any_market(g, mid, LX__SUB_TRADES)) {
            lx_view_trade_t vt = lx_view_trade_of(ev);
            json_t *j = lx__web_trade_json(g, m, &vt);
            json_object_set_new(j, "type", json_string("trade"));
            fan(g, mid, LX__SUB_TRADES, 0, 0, j);
        }
        if (any_market(g, mid, LX__SUB_L3)) {
            json_t *j = l3_base(m, ev, "trade");
            json_object_set_new(j, "makerOrderId", lx__web_id(t->maker_order, false));
            json_object_set_new(j, "takerOrderId", lx__web_id(t->taker_order, false));
            json_object_set_new(j, "price", lx__web_price(m, t->price, false));
            json_object_set_new(j, "size", lx__web_qty(m, t->qty, false));
            json_object_set_new(j, "makerRemaining", lx__web_qty(m, t->maker_remaining, false));
            fan(g, mid, LX__SUB_L3, 0, 0, j);
        }
        for (int side = 0; side < 2; side++) { /* 0 maker, 1 taker */
            lx_account_id_t a = side ? t->taker_account : t->maker_account;
            lx_order_id_t oid = side ? t->taker_order : t->maker_order;
            int own_side = side ? t->taker_side : !t->taker_side;
            if (any_account(g, a, LX__FEED_FILLS))
                fan(g, 0, 0, a, LX__FEED_FILLS,
                    json_pack(
                        "{s:s,s:I,s:s,s:I,s:o,s:s,s:o,s:o,s:o,s:s,s:I}", "type", "fill", "account",
                        (json_int_t)a, "market", m->m->symbol, "seq", (json_int_t)ev->market_seq,
                        "orderId", lx__web_id(oid, false), "side", lx__web_side_name(own_side),
                        "price", lx__web_price(m, t->price, false), "size",
                        lx__web_qty(m, t->qty, false), "fee",
                        lx__web_amount(side ? t->taker_fee : t->maker_fee, m->quote_scale, false),
                        "liquidity", side ? "taker" : "maker", "ts", (json_int_t)ev->ts));
            if (any_account(g, a, LX__FEED_ORDERS)) {
                json_t *j = order_base(m, ev, a, "fill", oid);
                json_object_set_new(j, "price", lx__web_price(m, t->price, false));
                json_object_set_new(j, "size", lx__web_qty(m, t->qty, false));
                json_object_set_new(
                    j, "remaining",
                    lx__web_qty(m, side ? t->taker_remaining : t->maker_remaining, false));
                fan(g, 0, 0, a, LX__FEED_ORDERS, j);
            }
            /* a self-trade (maker and taker of one account) sends both: they
             * are two orders, each with its own fill */
        }
        break;
    }
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *a = &ev->u.accepted;
        if (any_market(g, mid, LX__SUB_L3)) {
            json_t *j = l3_base(m, ev, "accepted");
            json_object_set_new(j, "orderId", lx__web_id(a->order_id, false));
            json_object_set_new(j, "side", json_string(lx__web_side_name(a->side)));
            json_object_set_new(j, "price", lx__web_price(m, a->price, false));
            json_object_set_new(j, "size", lx__web_qty(m, a->qty, false));
            fan(g, mid, LX__SUB_L3, 0, 0, j);
        }
        if (any_account(g, a->account, LX__FEED_ORDERS)) {
            json_t *j = order_base(m, ev, a->account, "accepted", a->order_id);
            if (a->client_id) json_object_set_new(j, "clientId", lx__web_id(a->client_id, false));
            json_object_set_new(j, "side", json_string(lx__web_side_name(a->side)));
            json_object_set_new(j, "price", lx__web_price(m, a->price, false));
            json_object_set_new(j, "size", lx__web_qty(m, a->qty, false));
            fan(g, 0, 0, a->account, LX__FEED_ORDERS, j);
        }
        break;
    }
    case LX_EV_ORDER_CANCELED: {
        const lx_ev_canceled_t *x = &ev->u.canceled;
        if (any_market(g, mid, LX__SUB_L3)) {
            json_t *j = l3_base(m, ev, "canceled");
            json_object_set_new(j, "orderId", lx__web_id(x->order_id, false));
            json_object_set_new(j, "size", lx__web_qty(m, x->qty, false));
            fan(g, mid, LX__SUB_L3, 0, 0, j);
        }
        if (any_account(g, x->account, LX__FEED_ORDERS)) {
            json_t *j = order_base(m, ev, x->account, "canceled", x->order_id);
            if (x->client_id) json_object_set_new(j, "clientId", lx__web_id(x->client_id, false));
            json_object_set_new(j, "size", lx__web_qty(m, x->qty, false));
            json_object_set_new(j, "reason", json_string(lx_cancel_reason_name(x->reason)));
            fan(g, 0, 0, x->account, LX__FEED_ORDERS, j);
        }
        break;
    }
    case LX_EV_ORDER_AMENDED: {
        const lx_ev_amended_t *x = &ev->u.amended;
        json_t *j = NULL;
        if (any_market(g, mid, LX__SUB_L3)) {
            j = l3_base(m, ev, "amended");
            json_object_set_new(j, "orderId", lx__web_id(x->order_id, false));
            json_object_set_new(j, "price", lx__web_price(m, x->price, false));
            json_object_set_new(j, "size", lx__web_qty(m, x->qty, false));
            json_object_set_new(j, "remaining", lx__web_qty(m, x->remaining, false));
            fan(g, mid, LX__SUB_L3, 0, 0, j);
        }
        if (any_account(g, x->account, LX__FEED_ORDERS)) {
            j = order_base(m, ev, x->account, "amended", x->order_id);
            json_object_set_new(j, "price", lx__web_price(m, x->price, false));
            json_object_set_new(j, "size", lx__web_qty(m, x->qty, false));
            json_object_set_new(j, "remaining", lx__web_qty(m, x->remaining, false));
            fan(g, 0, 0, x->account, LX__FEED_ORDERS, j);
        }
        break;
    }
    default:
        break;
    }
}
