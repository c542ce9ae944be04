/*
 * web_http.c: the HTTP JSON API (docs/api.md §4) and GET /metrics.
 *
 * Routes (a market is named by symbol, any case, or by id):
 *   GET    /health                         200 {"status":"ok",...} or 503
 *   GET    /metrics                        Prometheus text format
 *   GET    /v1/markets
 *   GET    /v1/book/{market}?depth=N       L2, N levels a side (default 50, at most 5000)
 *   GET    /v1/trades/{market}?limit=N     newest first (default 100, at most 1000)
 *   GET    /v1/accounts/{id}/balances      signed outside dev mode (read_signer)
 *   GET    /v1/accounts/{id}/orders        signed outside dev mode
 *   GET    /v1/orders/{id}                 an open order (404 once it is not open), signed
 *                                          outside dev mode
 *   POST   /v1/orders                      place
 *   DELETE /v1/orders/{id}                 cancel (also POST /v1/orders/{id}/cancel)
 *   POST   /v1/orders/{id}/amend           amend {"price","size"}
 *   POST   /v1/orders/cancel-all           {"account", "market"?}
 *   POST   /v1/signed                      {"envelope", "shard"?}: a signed action, any mode
 *   POST   /rpc                            JSON-RPC 2.0 (web_rpc.c)
 *
 * Queries are answered from the gateway's read model at once. An action is
 * validated whole (web_json.c), rate limited (the client address's bucket
 * for every request, the account's for order entry), then submitted; its
 * response is rendered when the node's DONE arrives (lx__web_http_done).
 * Every error is {"error":{"code":"...","message":"..."}} with a status:
 * 400 bad input, 401 unsigned order entry or account read outside dev
 * mode, 403 a signed read of an account the key may not act for, 404 unknown route,
 * market, account or order, 405 wrong method, 413 body too large, 426 HTTP
 * on the WebSocket port, 429 rate limited (Retry-After), 503 unavailable.
 * An order the engine rejects is 400 (404 for UNKNOWN_ORDER, 403 for
 * NOT_OWNER) with code "rejected" and the engine's reason.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gw/web.h"
#include "lx/error.h"
#include "lx/jsonapi.h"
#include "lx/ring.h"

/* ---- responses --------------------------------------------------------------------------------
 */

static void set_body(lx__web_t *g, lx__web_conn_t *c, int status, char *text, size_t n) {
    free(c->resp);
    c->resp = malloc(LWS_PRE + n + 1);
    c->resplen = c->resp ? n : 0;
    if (c->resp) {
        memcpy(c->resp + LWS_PRE, text, n);
        c->resp[LWS_PRE + n] = '\0';
    }
    c->status = c->resp ? status : 500;
    c->resp_ready = true;
    (void)g;
    lws_callback_on_writable(c->wsi);
}

void lx__web_http_reply(lx__web_t *g, lx__web_conn_t *c, int status, json_t *body) {
    size_t n = 0;
    if (!body && status == 204) {
        set_body(g, c, 204, (char *)"", 0);
        return;
    }
    char *s = body ? lx__web_dump(body, &n) : NULL;
    json_decref(body);
    if (!s) {
        static char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        set_body(g, c, 500, oom, sizeof oom - 1);
        return;
    }
    if (n + 1 < 1 << 20) s[n++] = '\n';
    set_body(g, c, status, s, n);
    free(s);
}

void lx__web_http_error(lx__web_t *g, lx__web_conn_t *c, int status, const char *code,
                        const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lx__web_utf8_trim(msg);
    lx__web_http_reply(g, c, status,
                       json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

static void rate_limited(lx__web_t *g, lx__web_conn_t *c, uint32_t us, const char *what) {
    c->retry_after = (us + 999999) / 1000000;
    lx__web_http_error(g, c, 429, "rate_limited", "%s: retry in %u ms", what, (us + 999) / 1000);
}

/* ---- shared query renderers ----------------------------------------------------------------- */

json_t *lx__web_book_json(lx__web_t *g, const lx__web_market_t *m, size_t depth) {
    lx_market_id_t id = m->m->id;
    json_t *r = json_object();
    json_object_set_new(r, "market", json_string(m->m->symbol));
    json_object_set_new(r, "seq", json_integer((json_int_t)lx_view_market_seq(g->view, id)));
    json_object_set_new(r, "ts", json_integer(lx_view_market_ts(g->view, id)));
    json_object_set_new(r, "checksum", json_integer(lx_view_checksum(g->view, id)));
    lx_view_level_t *lv = malloc((depth ? depth : 1) * sizeof *lv);
    for (uint8_t side = 0; side < 2; side++) {
        json_t *a = json_array();
        size_t k = lv ? lx_view_levels(g->view, id, side, lv, depth) : 0;
        for (size_t i = 0; i < k; i++)
            json_array_append_new(a, json_pack("[o,o,i]", lx__web_price(m, lv[i].price, false),
                                               lx__web_qty(m, lv[i].qty, false), lv[i].count));
        json_object_set_new(r, side ? "asks" : "bids", a);
    }
    free(lv);
    return r;
}

json_t *lx__web_trade_json(lx__web_t *g, const lx__web_market_t *m, const lx_view_trade_t *t) {
    (void)g;
    return json_pack("{s:s,s:I,s:o,s:o,s:s,s:I,s:o,s:o}", "market", m->m->symbol, "seq",
                     (json_int_t)t->seq, "price", lx__web_price(m, t->price, false), "size",
                     lx__web_qty(m, t->qty, false), "side", lx__web_side_name(t->taker_side), "ts",
                     (json_int_t)t->ts, "makerOrderId", lx__web_id(t->maker_order, false),
                     "takerOrderId", lx__web_id(t->taker_order, false));
}

static const char *tif_name(int t) {
    static const char *const n[] = {"GTC", "GTD", "IOC", "FOK", "POST_ONLY"};
    return t >= 0 && t < 5 ? n[t] : "?";
}

json_t *lx__web_order_json(lx__web_t *g, const lx_view_order_t *o, bool rpc) {
    const lx__web_market_t *m = lx__web_market_get(&g->ms, o->market);
    if (!m) return NULL;
    json_t *r = json_object();
    json_object_set_new(r, "orderId", lx__web_id(o->order_id, rpc));
    json_object_set_new(r, rpc ? "symbol" : "market", json_string(m->m->symbol));
    json_object_set_new(r, rpc ? "userID" : "account", json_integer(o->account));
    if (rpc) {
        json_object_set_new(r, "side", json_integer(o->side));
        json_object_set_new(r, "type", json_integer(o->type));
    } else {
        json_object_set_new(r, "side", json_string(lx__web_side_name(o->side)));
        json_object_set_new(r, "type", json_string(o->type ? "market" : "limit"));
    }
    json_object_set_new(r, rpc ? "timeInForce" : "tif", json_string(tif_name(o->tif)));
    json_object_set_new(r, "price", lx__web_price(m, o->price, rpc));
    json_object_set_new(r, "size", lx__web_qty(m, o->qty, rpc));
    json_object_set_new(r, "filled", lx__web_qty(m, o->qty - o->remaining, rpc));
    json_object_set_new(r, "remaining", lx__web_qty(m, o->remaining, rpc));
    if (o->client_id)
        json_object_set_new(r, rpc ? "clientID" : "clientId", lx__web_id(o->client_id, rpc));
    json_object_set_new(r, "status",
                        json_string(o->remaining < o->qty ? "partially_filled" : "open"));
    return r;
}

json_t *lx__web_balances_json(lx__web_t *g, lx_account_id_t a) {
    json_t *arr = json_array();
    for (size_t i = 0; i < g->cfg->nassets; i++) {
        const lx_config_asset_t *as = &g->cfg->assets[i];
        int64_t fr, lk;
        lx_view_balance(g->view, a, as->id, &fr, &lk);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o}", "asset", as->symbol, "free",
                                             lx__web_amount(fr, as->scale, false), "locked",
                                             lx__web_amount(lk, as->scale, false)));
    }
    return json_pack("{s:i,s:o}", "account", (json_int_t)a, "balances", arr);
}

json_t *lx__web_markets_json(lx__web_t *g) {
    json_t *arr = json_array();
    for (uint32_t i = 0; i < g->ms.nmk; i++) {
        const lx__web_market_t *m = &g->ms.mk[i];
        if (!m->m) continue;
        const lx_config_market_t *c = m->m;
        json_array_append_new(
            arr,
            json_pack("{s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:I}", "id",
                      (json_int_t)c->id, "symbol", c->symbol, "base", m->base, "quote", m->quote,
                      "tickSize", lx__web_amount(c->tick_size, m->quote_scale, false), "lotSize",
                      lx__web_amount(c->lot_size, m->base_scale, false), "minPrice",
                      lx__web_price(m, c->min_price, false), "maxPrice",
                      lx__web_price(m, c->max_price, false), "maxSize",
                      lx__web_qty(m, c->max_qty, false), "makerFee",
                      lx__web_amount(c->maker_fee, LX_FEE_RATE_ONE, false), "takerFee",
                      lx__web_amount(c->taker_fee, LX_FEE_RATE_ONE, false), "halted",
                      g->halted[i] != 0, "seq", (json_int_t)lx_view_market_seq(g->view, i)));
    }
    return json_pack("{s:o}", "markets", arr);
}

/* ---- routes -----------------------------------------------------------------------------------
 */

/* The next path segment after *p (which points at a '/'); NULL at the end. */
static const char *seg(const char **p, size_t *n) {
    const char *s = *p;
    if (*s != '/') return NULL;
    s++;
    const char *e = strchr(s, '/');
    *n = e ? (size_t)(e - s) : strlen(s);
    *p = s + *n;
    return *n ? s : NULL;
}

static bool is(const char *s, size_t n, const char *lit) {
    return s && strlen(lit) == n && !memcmp(s, lit, n);
}

static bool parse_u64(const char *s, size_t n, uint64_t *out) {
    if (!s || n == 0 || n > 20) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

/* ?depth= / ?limit=: absent gives def; else 1..max. */
static bool query_n(const char *q, size_t def, size_t max, size_t *out) {
    uint64_t v;
    if (!q) {
        *out = def;
        return true;
    }
    if (!parse_u64(q, strlen(q), &v) || v == 0 || v > max) return false;
    *out = (size_t)v;
    return true;
}

static void method_not_allowed(lx__web_t *g, lx__web_conn_t *c, const char *allowed) {
    lx__web_http_error(g, c, 405, "method_not_allowed", "%s allows %s", c->uri, allowed);
}

/* An HTTP action, after the account's rate limit, to the node. */
static void http_submit(lx__web_t *g, lx__web_conn_t *c, const lx__web_action_t *a) {
    uint32_t w = lx__web_rate_action(g, a);
    if (w) {
        rate_limited(g, c, w, "rate_limits.per_account");
        return;
    }
    if (lx__web_submit(g, c, LX__WEB_API_HTTP, a, NULL))
        lx__web_http_error(g, c, 503, "unavailable", "the node is not taking commands");
}

/* Outside dev mode an account's balances and orders, and an open order,
 * are shown only to a request signed by a key that may act for the account
 * (docs/api.md §4, "Reading an account"): the Authorization header of
 * lx_sign_read_header over this path. Answers 401 itself when the
 * signature is missing or refused and returns false; else *key is the
 * signer, whose right to the account the caller checks. */
static bool read_signer(lx__web_t *g, lx__web_conn_t *c, uint8_t key[LX_SIGN_PK_LEN]) {
    char h[LX_SIGN_READ_HEADER_MAX + 64] = "";
    const char *why = NULL;
    if (lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION) < (int)sizeof h)
        lws_hdr_copy(c->wsi, h, sizeof h, WSI_TOKEN_HTTP_AUTHORIZATION);
    else
        strcpy(h, "(too long)");
    if (!lx_gw_auth_read(g->cfg->node.chain_id, h, c->uri, lx__web_wall_ns(), key, &why))
        return true;
    lx__web_http_error(g, c, 401, "unauthorized",
                       "outside dev mode an account is read with a signed request, "
                       "Authorization: " LX_SIGN_READ_SCHEME
                       " key=..., ts=..., sig=... (docs/api.md §4): %s",
                       why);
    return false;
}

/* Order entry over HTTP: body fields (own names) plus extra fields from
 * the path (orderId); validated whole, rate limited, submitted. */
static void http_action(lx__web_t *g, lx__web_conn_t *c, int cmd_type, const char *body, size_t len,
                        uint64_t path_order) {
    char err[LX__WEB_ERR];
    if (!g->cfg->node.dev_mode) {
        lx__web_http_error(g, c, 401, "unauthorized",
                           "unsigned order entry over HTTP needs dev mode: send a signed action "
                           "to POST /v1/signed (docs/api.md, docs/signing.md)");
        return;
    }
    json_t *obj = NULL;
    if (len == 0) {
        obj = json_object();
    } else if (lx__web_parse(body, len, &obj, err, sizeof err)) {
        lx__web_http_error(g, c, 400, "invalid_json", "%s", err);
        return;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        lx__web_http_error(g, c, 400, "bad_request", "the body must be a JSON object");
        return;
    }
    if (path_order) {
        if (json_object_get(obj, "orderId") || json_object_get(obj, "clientId")) {
            json_decref(obj);
            lx__web_http_error(g, c, 400, "bad_request", "the order is named by the path");
            return;
        }
        json_object_set_new(obj, "orderId", lx__web_id(path_order, false));
    }
    lx__web_fields_t f;
    lx__web_action_t a;
    if (lx__web_own_fields(obj, cmd_type, NULL, &f, err, sizeof err) ||
        lx__web_action(&g->ms, g->view, cmd_type, &f, LX_ACCOUNT_NONE, &a, err, sizeof err)) {
        json_decref(obj);
        bool nf = path_order && !strncmp(err, "orderId: no open order", 22);
        lx__web_http_error(g, c, nf ? 404 : 400, nf ? "not_found" : "bad_request", "%s", err);
        return;
    }
    json_decref(obj);
    http_submit(g, c, &a);
}

/* POST /v1/signed {"envelope", "shard"?}: a signed action (lx__web_signed),
 * the way to change state over HTTP outside dev mode. */
static void http_signed(lx__web_t *g, lx__web_conn_t *c, const char *body, size_t len) {
    static const char *const keys[] = {"envelope", "shard", NULL};
    char err[LX__WEB_ERR];
    json_t *obj = NULL;
    if (lx__web_parse(body, len, &obj, err, sizeof err)) {
        lx__web_http_error(g, c, 400, "invalid_json", "%s", err);
        return;
    }
    lx__web_action_t a;
    const char *code = "bad_request";
    int rc = -1;
    if (!json_is_object(obj))
        snprintf(err, sizeof err, "the body must be a JSON object");
    else if (!lx__web_keys(obj, keys, NULL, err, sizeof err))
        rc = lx__web_signed(g, obj, &a, &code, err, sizeof err);
    json_decref(obj);
    if (rc) { /* a signature that does not verify is 401 */
        lx__web_http_error(g, c, strcmp(code, "bad_request") ? 401 : 400, code, "%s", err);
        return;
    }
    http_submit(g, c, &a);
}

void lx__web_http_done(lx__web_t *g, lx__web_conn_t *c, const lx__web_outcome_t *o) {
    if (o->rejected || (o->cmd_type == LX_CMD_PLACE && !o->accepted)) {
        int st = o->reason == LX_REJECT_UNKNOWN_ORDER ? 404
                 : o->reason == LX_REJECT_NOT_OWNER   ? 403
                                                      : 400;
        lx__web_http_reply(g, c, st,
                           json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "rejected", "reason",
                                     lx_reject_name(o->reason), "message",
                                     lx_reject_str(o->reason)));
        return;
    }
    lx__web_http_reply(g, c, 200, lx__web_outcome_json(&g->ms, o, false));
}

void lx__web_http(lx__web_t *g, lx__web_conn_t *c, const char *query_depth, const char *query_limit,
                  const char *body, size_t len) {
    const char *p = c->uri;
    size_t n0, n1, n2, n3;
    const char *s0 = seg(&p, &n0), *s1 = seg(&p, &n1), *s2 = seg(&p, &n2), *s3 = seg(&p, &n3);
    const char *rest = p;
    int meth = c->method;
    uint32_t w = lx__web_rate_conn(g, c);
    if (w) {
        rate_limited(g, c, w, "rate_limits.per_connection (per client address)");
        return;
    }
    if (*rest) {
        lx__web_http_error(g, c, 404, "not_found", "no route %s", c->uri);
        return;
    }
    if (is(s0, n0, "health") && !s1) {
        if (meth != LX__WEB_METHOD_GET) return method_not_allowed(g, c, "GET");
        lx_node_stats_t st;
        lx_node_stats(g->node, &st);
        bool ok = lx__web_available(g) && g->state_done;
        lx__web_http_reply(g, c, ok ? 200 : 503,
                           json_pack("{s:s,s:I,s:b}", "status",
                                     ok               ? "ok"
                                     : g->stopping    ? "stopping"
                                     : !g->state_done ? "starting"
                                                      : "failed",
                                     "seq", (json_int_t)st.last_seq, "devMode",
                                     g->cfg->node.dev_mode));
        return;
    }
    if (is(s0, n0, "metrics") && !s1) {
        if (meth != LX__WEB_METHOD_GET) return method_not_allowed(g, c, "GET");
        size_t n;
        char *t = lx__web_metrics(g, &n);
        if (!t) return lx__web_http_error(g, c, 500, "internal", "out of memory");
        set_body(g, c, 200, t, n);
        free(t);
        return;
    }
    if (is(s0, n0, "rpc") && !s1) {
        if (meth != LX__WEB_METHOD_POST) return method_not_allowed(g, c, "POST");
        lx__web_rpc(g, c, body, len);
        return;
    }
    if (!is(s0, n0, "v1") || !s1) {
        lx__web_http_error(g, c, 404, "not_found", "no route %s (see docs/api.md)", c->uri);
        return;
    }
    bool queries = meth == LX__WEB_METHOD_GET;
    if (queries && !g->state_done) {
        lx__web_http_error(g, c, 503, "unavailable", "the node is starting");
        return;
    }
    /* /v1/markets */
    if (is(s1, n1, "markets") && !s2) {
        if (meth != LX__WEB_METHOD_GET) return method_not_allowed(g, c, "GET");
        lx__web_http_reply(g, c, 200, lx__web_markets_json(g));
        return;
    }
    /* /v1/book/{m}, /v1/trades/{m} */
    if ((is(s1, n1, "book") || is(s1, n1, "trades")) && s2 && !s3) {
        if (meth != LX__WEB_METHOD_GET) return method_not_allowed(g, c, "GET");
        const lx__web_market_t *m = lx__web_market_find(&g->ms, s2, n2);
        if (!m)
            return lx__web_http_error(g, c, 404, "not_found", "unknown market \"%.*s\"", (int)n2,
                                      s2);
        size_t k;
        if (is(s1, n1, "book")) {
            if (!query_n(query_depth, 50, 5000, &k))
                return lx__web_http_error(g, c, 400, "bad_request", "depth: 1..5000");
            lx__web_http_reply(g, c, 200, lx__web_book_json(g, m, k));
            return;
        }
        if (!query_n(query_limit, 100, LX_VIEW_TRADES, &k))
            return lx__web_http_error(g, c, 400, "bad_request", "limit: 1..%d", LX_VIEW_TRADES);
        lx_view_trade_t *t = malloc(k * sizeof *t);
        if (!t) return lx__web_http_error(g, c, 500, "internal", "out of memory");
        size_t got = lx_view_trades(g->view, m->m->id, t, k);
        json_t *arr = json_array();
        for (size_t i = 0; i < got; i++)
            json_array_append_new(arr, lx__web_trade_json(g, m, &t[i]));
        free(t);
        lx__web_http_reply(g, c, 200,
                           json_pack("{s:s,s:o}", "market", m->m->symbol, "trades", arr));
        return;
    }
    /* /v1/accounts/{id}/balances|orders */
    if (is(s1, n1, "accounts") && s2 && s3) {
        if (meth != LX__WEB_METHOD_GET) return method_not_allowed(g, c, "GET");
        uint64_t a;
        if (!parse_u64(s2, n2, &a) || a >= g->cfg->engine.max_accounts)
            return lx__web_http_error(g, c, 404, "not_found", "unknown account \"%.*s\"", (int)n2,
                                      s2);
        uint8_t key[LX_SIGN_PK_LEN];
        const char *why = NULL;
        if (!g->cfg->node.dev_mode) {
            if (!read_signer(g, c, key)) return;
            if (lx_gw_keys_check(g->keys, (lx_account_id_t)a, key, lx__web_wall_ns(), &why) < 0)
                return lx__web_http_error(g, c, 403, "forbidden", "account %u: %s", (unsigned)a,
                                          why);
        }
        if (is(s3, n3, "balances")) {
            lx__web_http_reply(g, c, 200, lx__web_balances_json(g, (lx_account_id_t)a));
            return;
        }
        if (is(s3, n3, "orders")) {
            size_t total = lx_view_account_orders(g->view, (lx_account_id_t)a, NULL, 0);
            lx_view_order_t *os = malloc((total ? total : 1) * sizeof *os);
            if (!os) return lx__web_http_error(g, c, 500, "internal", "out of memory");
            size_t k = lx_view_account_orders(g->view, (lx_account_id_t)a, os, total);
            json_t *arr = json_array();
            for (size_t i = 0; i < k && i < total; i++)
                json_array_append_new(arr, lx__web_order_json(g, &os[i], false));
            free(os);
            lx__web_http_reply(g, c, 200,
                               json_pack("{s:I,s:o}", "account", (json_int_t)a, "orders", arr));
            return;
        }
        lx__web_http_error(g, c, 404, "not_found", "no route %s", c->uri);
        return;
    }
    if (is(s1, n1, "signed") && !s2) {
        if (meth != LX__WEB_METHOD_POST) return method_not_allowed(g, c, "POST");
        http_signed(g, c, body, len);
        return;
    }
    /* /v1/orders ... */
    if (is(s1, n1, "orders")) {
        if (!s2) {
            if (meth != LX__WEB_METHOD_POST) return method_not_allowed(g, c, "POST");
            http_action(g, c, LX_CMD_PLACE, body, len, 0);
            return;
        }
        if (is(s2, n2, "cancel-all") && !s3) {
            if (meth != LX__WEB_METHOD_POST) return method_not_allowed(g, c, "POST");
            http_action(g, c, LX_CMD_CANCEL_ALL, body, len, 0);
            return;
        }
        uint64_t id;
        if (!parse_u64(s2, n2, &id) || id == 0)
            return lx__web_http_error(g, c, 404, "not_found", "no order \"%.*s\"", (int)n2, s2);
        if (!s3) {
            if (meth == LX__WEB_METHOD_DELETE) {
                http_action(g, c, LX_CMD_CANCEL, body, len, id);
                return;
            }
            if (meth != LX__WEB_METHOD_GET) return method_not_allowed(g, c, "GET, DELETE");
            if (!g->state_done)
                return lx__web_http_error(g, c, 503, "unavailable", "the node is starting");
            uint8_t key[LX_SIGN_PK_LEN];
            const char *why = NULL;
            bool dev = g->cfg->node.dev_mode;
            if (!dev && !read_signer(g, c, key)) return;
            lx_view_order_t o;
            /* another account's order is "not found": its existence is not ours to tell */
            if (!lx_view_order(g->view, id, &o) ||
                (!dev && lx_gw_keys_check(g->keys, o.account, key, lx__web_wall_ns(), &why) < 0))
                return lx__web_http_error(g, c, 404, "not_found",
                                          "no open order %llu (filled, canceled or unknown)",
                                          (unsigned long long)id);
            lx__web_http_reply(g, c, 200, lx__web_order_json(g, &o, false));
            return;
        }
        if (is(s3, n3, "cancel") || is(s3, n3, "amend")) {
            if (meth != LX__WEB_METHOD_POST) return method_not_allowed(g, c, "POST");
            http_action(g, c, is(s3, n3, "cancel") ? LX_CMD_CANCEL : LX_CMD_AMEND, body, len, id);
            return;
        }
    }
    lx__web_http_error(g, c, 404, "not_found", "no route %s (see docs/api.md)", c->uri);
}

/* ---- /metrics ---------------------------------------------------------------------------------
 */

typedef struct {
    char *b;
    size_t n, cap;
    bool oom;
} sbuf_t;

static void sb(sbuf_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb(sbuf_t *s, const char *fmt, ...) {
    if (s->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(s->b + s->n, s->cap - s->n, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if ((size_t)k < s->cap - s->n) {
            s->n += (size_t)k;
            return;
        }
        size_t cap = s->cap * 2 + (size_t)k + 1;
        char *nb = realloc(s->b, cap);
        if (!nb) {
            s->oom = true;
            return;
        }
        s->b = nb;
        s->cap = cap;
    }
}

/* A latency histogram with fixed `le` bounds (seconds), summed from the
 * lathist buckets whose upper bound is within each. */
static void histogram(sbuf_t *s, const char *name, const char *labels, const lx_lathist_t *h) {
    static const uint64_t le_ns[] = {1000,      2000,      5000,      10000,     20000,
                                     50000,     100000,    200000,    500000,    1000000,
                                     2000000,   5000000,   10000000,  20000000,  50000000,
                                     100000000, 200000000, 500000000, 1000000000};
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    uint32_t b = 0;
    for (size_t i = 0; i < sizeof le_ns / sizeof le_ns[0]; i++) {
        while (b < LX_LATHIST_BUCKETS && lx_lathist_upper(b) <= le_ns[i])
            cum += atomic_load_explicit(&h->c[b++], memory_order_relaxed);
        sb(s, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, (double)le_ns[i] / 1e9,
           (unsigned long long)cum);
    }
    uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
    sb(s, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)count);
    uint64_t sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
    sb(s, "%s_sum{%s} %llu.%09llu\n", name, labels, (unsigned long long)(sum / 1000000000u),
       (unsigned long long)(sum % 1000000000u));
    sb(s, "%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
}

char *lx__web_metrics(lx__web_t *g, size_t *len) {
    sbuf_t s = {malloc(16384), 0, 16384, false};
    if (!s.b) return NULL;
    lx_node_stats_t st;
    lx_node_stats(g->node, &st);
    sb(&s, "# lxdexd metrics (docs/api.md)\n");
    sb(&s, "# HELP lx_node_commands_total Commands journaled and applied since start.\n");
    sb(&s, "# TYPE lx_node_commands_total counter\nlx_node_commands_total %llu\n",
       (unsigned long long)st.commands);
    sb(&s, "# TYPE lx_node_journal_commits_total counter\nlx_node_journal_commits_total %llu\n",
       (unsigned long long)st.batches);
    sb(&s, "# TYPE lx_node_reports_total counter\nlx_node_reports_total %llu\n",
       (unsigned long long)st.reports);
    sb(&s, "# TYPE lx_node_last_seq gauge\nlx_node_last_seq %llu\n",
       (unsigned long long)st.last_seq);
    sb(&s, "# TYPE lx_node_journal_failed gauge\nlx_node_journal_failed %d\n",
       st.journal_error ? 1 : 0);
    sb(&s, "# TYPE lx_node_snapshots_total counter\nlx_node_snapshots_total %llu\n",
       (unsigned long long)st.snapshots);
    sb(&s, "# HELP lx_node_stage_latency_seconds From the gateway's receipt of a command to "
           "each stage (all gateways).\n# TYPE lx_node_stage_latency_seconds histogram\n");
    lx_lathist_t *h = calloc(1, sizeof *h);
    if (h) {
        for (int i = 0; i < LX_NODE_LAT__COUNT; i++) {
            memset(h, 0, sizeof *h);
            lx_node_latency(g->node, i, h);
            char lab[64];
            snprintf(lab, sizeof lab, "stage=\"%s\"", lx_node_lat_stage_name(i));
            histogram(&s, "lx_node_stage_latency_seconds", lab, h);
        }
        sb(&s, "# HELP lx_journal_fsync_seconds Journal commit (write + fdatasync) time.\n"
               "# TYPE lx_journal_fsync_seconds histogram\n");
        memset(h, 0, sizeof *h);
        lx_node_fsync_latency(g->node, h);
        histogram(&s, "lx_journal_fsync_seconds", "", h);
        free(h);
    }
    sb(&s, "# HELP lx_web_response_latency_seconds Web gateway: command receipt to response "
           "queued.\n# TYPE lx_web_response_latency_seconds histogram\n");
    histogram(&s, "lx_web_response_latency_seconds", "", &g->resp_lat);
    const lx_ring_t *rings[2] = {g->in, g->out};
    const char *rn[2] = {"web_in", "web_out"};
    /* each family whole, after its TYPE line (the text format wants them so) */
    lx_ring_stats_t rs[2];
    for (int i = 0; i < 2; i++) lx_ring_stats(rings[i], &rs[i]);
    sb(&s, "# HELP lx_ring_occupancy Slots in use in the web gateway's rings.\n"
           "# TYPE lx_ring_occupancy gauge\n");
    for (int i = 0; i < 2; i++)
        sb(&s, "lx_ring_occupancy{ring=\"%s\"} %llu\n", rn[i],
           (unsigned long long)(rs[i].produced - rs[i].consumed));
    sb(&s, "# HELP lx_ring_capacity Slots of the web gateway's rings.\n"
           "# TYPE lx_ring_capacity gauge\n");
    for (int i = 0; i < 2; i++) sb(&s, "lx_ring_capacity{ring=\"%s\"} %u\n", rn[i], rs[i].capacity);
    sb(&s, "# HELP lx_ring_produced_total Messages put in the web gateway's rings.\n"
           "# TYPE lx_ring_produced_total counter\n");
    for (int i = 0; i < 2; i++)
        sb(&s, "lx_ring_produced_total{ring=\"%s\"} %llu\n", rn[i],
           (unsigned long long)rs[i].produced);
    sb(&s, "# HELP lx_web_commands_total Commands sent by the web gateway, by type.\n"
           "# TYPE lx_web_commands_total counter\n");
    for (int t = 1; t <= LX_CMD__MAX; t++)
        if (g->m.commands[t])
            sb(&s, "lx_web_commands_total{type=\"%s\"} %llu\n", lx_cmd_type_name(t),
               (unsigned long long)g->m.commands[t]);
    sb(&s, "# HELP lx_rejects_total Commands the engine rejected (every gateway), by reason.\n"
           "# TYPE lx_rejects_total counter\n");
    for (int r = 0; r < LX_REJECT__COUNT; r++)
        if (g->m.rejects[r])
            sb(&s, "lx_rejects_total{reason=\"%s\"} %llu\n", lx_reject_name(r),
               (unsigned long long)g->m.rejects[r]);
    sb(&s, "# TYPE lx_web_http_responses_total counter\n");
    for (int code = 100; code < 600; code++)
        if (g->m.http_status[code])
            sb(&s, "lx_web_http_responses_total{code=\"%d\"} %llu\n", code,
               (unsigned long long)g->m.http_status[code]);
    sb(&s,
       "# TYPE lx_web_connections gauge\nlx_web_connections{kind=\"http\"} %u\n"
       "lx_web_connections{kind=\"ws\"} %u\n",
       g->nhttp, g->nwsc);
    sb(&s,
       "# TYPE lx_web_connections_total counter\nlx_web_connections_total{kind=\"http\"} "
       "%llu\nlx_web_connections_total{kind=\"ws\"} %llu\n",
       (unsigned long long)g->m.http_conns_total, (unsigned long long)g->m.ws_conns_total);
    sb(&s,
       "# TYPE lx_web_connections_refused_total counter\n"
       "lx_web_connections_refused_total %llu\n",
       (unsigned long long)g->m.refused_conns);
    sb(&s,
       "# TYPE lx_web_slow_subscribers_closed_total counter\n"
       "lx_web_slow_subscribers_closed_total %llu\n",
       (unsigned long long)g->m.slow_closed);
    sb(&s, "# TYPE lx_web_rate_limited_total counter\nlx_web_rate_limited_total %llu\n",
       (unsigned long long)g->m.rate_limited);
    sb(&s, "# TYPE lx_web_rpc_calls_total counter\nlx_web_rpc_calls_total %llu\n",
       (unsigned long long)g->m.rpc_calls);
    sb(&s, "# TYPE lx_web_rpc_errors_total counter\nlx_web_rpc_errors_total %llu\n",
       (unsigned long long)g->m.rpc_errors);
    sb(&s, "# TYPE lx_web_ws_messages_total counter\nlx_web_ws_messages_total %llu\n",
       (unsigned long long)g->m.ws_messages);
    sb(&s, "# TYPE lx_web_ws_errors_total counter\nlx_web_ws_errors_total %llu\n",
       (unsigned long long)g->m.ws_errors);
    sb(&s, "# TYPE lx_web_events_total counter\nlx_web_events_total %llu\n",
       (unsigned long long)g->m.events);
    sb(&s, "# TYPE lx_web_pending_commands gauge\nlx_web_pending_commands %u\n", g->pn);
    if (s.oom) {
        free(s.b);
        return NULL;
    }
    *len = s.n;
    return s.b;
}
