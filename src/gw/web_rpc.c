/*
 * web_rpc.c: JSON-RPC 2.0 at POST /rpc, the methods of the public LX DEX
 * SDKs (docs/api.md §5).
 *
 *   lx_ping                                   "pong"
 *   lx_getInfo                                {name, version, chainId, devMode, markets, seq,
 *                                             shards}
 *   lx_placeOrder {symbol, type, side, price, size, userID, clientID?, timeInForce?, postOnly?,
 *                  expiry? (GTD: ns since the epoch)}
 *                                             {orderId, status, filled, remaining, ...}
 *   lx_cancelOrder {orderId, userID?}         {orderId, status}
 *   lx_getOrder {orderId}                     the open order (dev mode)
 *   lx_getOrderBook {symbol, depth?}          {Symbol, Timestamp, Bids, Asks, Sequence},
 *                                             levels {Price, Size}
 *   lx_getBestBid / lx_getBestAsk {symbol}    {price, size} (0 when the side is empty)
 *   lx_getTrades {symbol, limit?}             [{Price, Size, Side, Timestamp, Sequence, ...}]
 *
 * Prices and sizes are JSON numbers both ways, read and written exactly
 * (web_json.c: the number's literal text, never a double); strings holding
 * a decimal are accepted too. A value off the tick or lot grid is -32602
 * with a message naming the field and the step. Params must be an object
 * (by name); unknown params are -32602. Batches are answered as one array
 * once every command in them is applied; notifications (no id) get no
 * answer (a batch of only notifications: HTTP 204).
 *
 * Errors: -32700 parse error, -32600 invalid request, -32601 method not
 * found, -32602 invalid params, -32603 internal; and the server's own:
 * -32000 order rejected by the engine (data.reason), -32001 not found,
 * -32002 unavailable (stopping, journal failed), -32003 not authorised
 * (order entry or lx_getOrder outside dev mode), -32005 rate limited (data.retryAfterMs).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gw/web.h"
#include "lx/error.h"

enum {
    E_PARSE = -32700,
    E_REQUEST = -32600,
    E_METHOD = -32601,
    E_PARAMS = -32602,
    E_INTERNAL = -32603,
    E_REJECTED = -32000,
    E_NOT_FOUND = -32001,
    E_UNAVAILABLE = -32002,
    E_UNAUTHORIZED = -32003,
    E_RATE = -32005
};

static void respond(lx__web_t *g, lx__web_conn_t *c, const json_t *id, json_t *result) {
    if (!id) { /* a notification */
        json_decref(result);
        return;
    }
    json_array_append_new(c->rpc_out, json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id,
                                                "result", result ? result : json_null()));
    (void)g;
}

static void rpc_error(lx__web_t *g, lx__web_conn_t *c, const json_t *id, int code, json_t *data,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void rpc_error(lx__web_t *g, lx__web_conn_t *c, const json_t *id, int code, json_t *data,
                      const char *fmt, ...) {
    g->m.rpc_errors++;
    char msg[LX__WEB_ERR + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lx__web_utf8_trim(msg);
    /* errors in parsing or in the request object are answered even without an id */
    if (!id && code != E_PARSE && code != E_REQUEST) {
        json_decref(data);
        return;
    }
    json_t *e = json_pack("{s:i,s:s}", "code", code, "message", msg);
    if (data) json_object_set_new(e, "data", data);
    json_array_append_new(c->rpc_out, json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id",
                                                id ? id : json_null(), "error", e));
}

static void finish(lx__web_t *g, lx__web_conn_t *c) {
    if (c->rpc_wait) return;
    json_t *out = c->rpc_out;
    c->rpc_out = NULL;
    if (json_array_size(out) == 0) {
        json_decref(out);
        lx__web_http_reply(g, c, 204, NULL);
        return;
    }
    if (!c->rpc_batch) {
        json_t *one = json_incref(json_array_get(out, 0));
        json_decref(out);
        out = one;
    }
    lx__web_http_reply(g, c, 200, out);
}

static const lx__web_market_t *symbol_of(lx__web_t *g, lx__web_conn_t *c, const json_t *id,
                                         const json_t *params) {
    size_t n;
    const char *s = lx__web_text(json_object_get(params, "symbol"), &n);
    const lx__web_market_t *m = s ? lx__web_market_find(&g->ms, s, n) : NULL;
    if (!s)
        rpc_error(g, c, id, E_PARAMS, NULL, "symbol: required");
    else if (!m)
        rpc_error(g, c, id, E_PARAMS, NULL, "symbol: unknown market \"%.*s\"",
                  lx__web_cut(s, n, LX__WEB_QUOTE), s);
    return m;
}

static bool keys(lx__web_t *g, lx__web_conn_t *c, const json_t *id, const json_t *params,
                 const char *const *allowed) {
    char err[LX__WEB_ERR];
    if (lx__web_keys(params, allowed, NULL, err, sizeof err) == 0) return true;
    rpc_error(g, c, id, E_PARAMS, NULL, "%s", err);
    return false;
}

static bool count(lx__web_t *g, lx__web_conn_t *c, const json_t *id, const json_t *v,
                  const char *name, size_t def, size_t max, size_t *out) {
    uint64_t x;
    if (!v || json_is_null(v)) {
        *out = def;
        return true;
    }
    if (lx__web_u64(v, &x) || x > max) {
        rpc_error(g, c, id, E_PARAMS, NULL, "%s: an integer 0..%zu", name, max);
        return false;
    }
    *out = x ? (size_t)x : def;
    return true;
}

/* Whether the read model can answer: it has the node's start-up state
 * (else -32002, as lx_getOrder and HTTP answer 503: an empty book is not
 * the book). */
static bool view_ready(lx__web_t *g, lx__web_conn_t *c, const json_t *id) {
    if (g->state_done) return true;
    rpc_error(g, c, id, E_UNAVAILABLE, NULL, "the node is starting");
    return false;
}

static void submit(lx__web_t *g, lx__web_conn_t *c, const json_t *id, int cmd_type,
                   const lx__web_fields_t *f) {
    char err[LX__WEB_ERR];
    if (!g->cfg->node.dev_mode) {
        rpc_error(g, c, id, E_UNAUTHORIZED, NULL,
                  "order entry needs dev mode: signed requests are not yet available on "
                  "JSON-RPC (use the binary protocol, docs/protocol.md)");
        return;
    }
    lx__web_action_t a;
    if (lx__web_action(&g->ms, g->view, cmd_type, f, LX_ACCOUNT_NONE, &a, err, sizeof err)) {
        rpc_error(g, c, id, E_PARAMS, NULL, "%s", err);
        return;
    }
    uint32_t w = lx__web_rate_action(g, &a);
    if (w) {
        rpc_error(g, c, id, E_RATE, json_pack("{s:i}", "retryAfterMs", (w + 999) / 1000),
                  "rate limited (rate_limits.per_account): retry in %u ms", (w + 999) / 1000);
        return;
    }
    if (lx__web_submit(g, c, LX__WEB_API_RPC, &a, id)) {
        rpc_error(g, c, id, E_UNAVAILABLE, NULL, "the node is not taking commands");
        return;
    }
    c->rpc_wait++;
}

static json_t *levels(lx__web_t *g, const lx__web_market_t *m, uint8_t side, size_t depth) {
    json_t *a = json_array();
    lx_view_level_t *lv = malloc((depth ? depth : 1) * sizeof *lv);
    size_t k = lv ? lx_view_levels(g->view, m->m->id, side, lv, depth) : 0;
    for (size_t i = 0; i < k; i++)
        json_array_append_new(a,
                              json_pack("{s:o,s:o}", "Price", lx__web_price(m, lv[i].price, true),
                                        "Size", lx__web_qty(m, lv[i].qty, true)));
    free(lv);
    return a;
}

static void call(lx__web_t *g, lx__web_conn_t *c, const json_t *req) {
    static const char *const req_keys[] = {"jsonrpc", "method", "params", "id", NULL};
    char err[LX__WEB_ERR];
    const json_t *id = NULL;
    if (!json_is_object(req)) {
        rpc_error(g, c, NULL, E_REQUEST, NULL, "a request is a JSON object");
        return;
    }
    json_t *idv = json_object_get(req, "id");
    if (idv) {
        size_t n;
        const char *num = lx__web_num_text(idv, &n);
        if (!json_is_null(idv) && !json_is_string(idv)) {
            rpc_error(g, c, NULL, E_REQUEST, NULL, "id: a string, a number or null");
            return;
        }
        if (num && (memchr(num, '.', n) || memchr(num, 'e', n) || memchr(num, 'E', n))) {
            rpc_error(g, c, NULL, E_REQUEST, NULL, "id: a number id must be an integer");
            return;
        }
        id = idv;
    }
    if (lx__web_keys(req, req_keys, NULL, err, sizeof err)) {
        rpc_error(g, c, id, E_REQUEST, NULL, "%s", err);
        return;
    }
    const json_t *ver = json_object_get(req, "jsonrpc");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0")) {
        rpc_error(g, c, id, E_REQUEST, NULL, "jsonrpc: must be \"2.0\"");
        return;
    }
    const json_t *mv = json_object_get(req, "method");
    if (!json_is_string(mv) || lx__web_num_text(mv, NULL)) {
        rpc_error(g, c, id, E_REQUEST, NULL, "method: a string is required");
        return;
    }
    const char *method = json_string_value(mv);
    json_t *params = json_object_get(req, "params");
    json_t *empty = NULL;
    if (!params || json_is_null(params)) {
        params = empty = json_object();
    } else if (json_is_array(params)) {
        if (json_array_size(params) == 0) {
            params = empty = json_object();
        } else {
            rpc_error(g, c, id, E_PARAMS, NULL, "params: give them by name (an object)");
            return;
        }
    } else if (!json_is_object(params)) {
        rpc_error(g, c, id, E_REQUEST, NULL, "params: an object or an array");
        return;
    }
    bool queries_ok = g->state_done;

    static const char *const none[] = {NULL};
    if (!strcmp(method, "lx_ping")) {
        if (keys(g, c, id, params, none)) respond(g, c, id, json_string("pong"));
    } else if (!strcmp(method, "lx_getInfo")) {
        if (!keys(g, c, id, params, none)) goto done;
        json_t *ms = json_array();
        for (uint32_t i = 0; i < g->ms.nmk; i++)
            if (g->ms.mk[i].m) json_array_append_new(ms, json_string(g->ms.mk[i].m->symbol));
        lx_node_stats_t st;
        lx_node_stats(g->node, &st);
        respond(g, c, id,
                json_pack("{s:s,s:s,s:I,s:b,s:o,s:I,s:I}", "name", g->cfg->node.name, "version",
                          "lxdex 0.1", "chainId", (json_int_t)g->cfg->node.chain_id, "devMode",
                          g->cfg->node.dev_mode, "markets", ms, "seq", (json_int_t)st.last_seq,
                          "shards", (json_int_t)lx_node_shards(g->node)));
    } else if (!strcmp(method, "lx_placeOrder")) {
        static const char *const k[] = {"symbol",   "type",   "side",     "price",
                                        "size",     "userID", "clientID", "timeInForce",
                                        "postOnly", "expiry", NULL};
        if (keys(g, c, id, params, k)) {
            lx__web_fields_t f = {0};
            f.market = lx__web_val(json_object_get(params, "symbol"));
            f.type = lx__web_val(json_object_get(params, "type"));
            f.side = lx__web_val(json_object_get(params, "side"));
            f.price = lx__web_val(json_object_get(params, "price"));
            f.size = lx__web_val(json_object_get(params, "size"));
            f.account = lx__web_val(json_object_get(params, "userID"));
            f.client_id = lx__web_val(json_object_get(params, "clientID"));
            f.tif = lx__web_val(json_object_get(params, "timeInForce"));
            f.post_only = lx__web_val(json_object_get(params, "postOnly"));
            f.expiry = lx__web_val(json_object_get(params, "expiry"));
            if (!f.market.kind)
                rpc_error(g, c, id, E_PARAMS, NULL, "symbol: required");
            else if (!f.account.kind)
                rpc_error(g, c, id, E_PARAMS, NULL, "userID: required (the account number)");
            else
                submit(g, c, id, LX_CMD_PLACE, &f);
        }
    } else if (!strcmp(method, "lx_cancelOrder")) {
        static const char *const k[] = {"orderId", "userID", "symbol", NULL};
        if (keys(g, c, id, params, k)) {
            lx__web_fields_t f = {0};
            f.order_id = lx__web_val(json_object_get(params, "orderId"));
            f.account = lx__web_val(json_object_get(params, "userID"));
            f.market = lx__web_val(json_object_get(params, "symbol"));
            if (!f.order_id.kind)
                rpc_error(g, c, id, E_PARAMS, NULL, "orderId: required");
            else
                submit(g, c, id, LX_CMD_CANCEL, &f);
        }
    } else if (!strcmp(method, "lx_getOrder")) {
        static const char *const k[] = {"orderId", NULL};
        uint64_t oid;
        lx_view_order_t o;
        if (!keys(g, c, id, params, k)) {
        } else if (lx__web_u64(json_object_get(params, "orderId"), &oid)) {
            rpc_error(g, c, id, E_PARAMS, NULL, "orderId: an integer is required");
        } else if (!g->cfg->node.dev_mode) {
            rpc_error(g, c, id, E_UNAUTHORIZED, NULL,
                      "reading an order needs dev mode: outside it an order is read with a "
                      "signed GET /v1/orders/{id} (docs/api.md §4)");
        } else if (!queries_ok) {
            rpc_error(g, c, id, E_UNAVAILABLE, NULL, "the node is starting");
        } else if (!lx_view_order(g->view, oid, &o)) {
            rpc_error(g, c, id, E_NOT_FOUND, NULL,
                      "no open order %llu (filled, canceled or unknown)", (unsigned long long)oid);
        } else {
            respond(g, c, id, lx__web_order_json(g, &o, true));
        }
    } else if (!strcmp(method, "lx_getOrderBook")) {
        static const char *const k[] = {"symbol", "depth", NULL};
        const lx__web_market_t *m;
        size_t depth;
        if (keys(g, c, id, params, k) && (m = symbol_of(g, c, id, params)) &&
            count(g, c, id, json_object_get(params, "depth"), "depth", 10, 5000, &depth) &&
            view_ready(g, c, id)) {
            lx_market_id_t mid = m->m->id;
            respond(g, c, id,
                    json_pack("{s:s,s:I,s:o,s:o,s:I}", "Symbol", m->m->symbol, "Timestamp",
                              (json_int_t)lx_view_market_ts(g->view, mid), "Bids",
                              levels(g, m, 0, depth), "Asks", levels(g, m, 1, depth), "Sequence",
                              (json_int_t)lx_view_market_seq(g->view, mid)));
        }
    } else if (!strcmp(method, "lx_getBestBid") || !strcmp(method, "lx_getBestAsk")) {
        static const char *const k[] = {"symbol", NULL};
        const lx__web_market_t *m;
        if (keys(g, c, id, params, k) && (m = symbol_of(g, c, id, params)) &&
            view_ready(g, c, id)) {
            lx_view_level_t lv;
            uint8_t side = !strcmp(method, "lx_getBestAsk");
            bool have = lx_view_best(g->view, m->m->id, side, &lv);
            respond(g, c, id,
                    json_pack("{s:o,s:o}", "price",
                              have ? lx__web_price(m, lv.price, true) : lx__web_num("0"), "size",
                              have ? lx__web_qty(m, lv.qty, true) : lx__web_num("0")));
        }
    } else if (!strcmp(method, "lx_getTrades")) {
        static const char *const k[] = {"symbol", "limit", NULL};
        const lx__web_market_t *m;
        size_t limit;
        if (keys(g, c, id, params, k) && (m = symbol_of(g, c, id, params)) &&
            count(g, c, id, json_object_get(params, "limit"), "limit", 100, LX_VIEW_TRADES,
                  &limit) &&
            view_ready(g, c, id)) {
            lx_view_trade_t *t = malloc(limit * sizeof *t);
            size_t got = t ? lx_view_trades(g->view, m->m->id, t, limit) : 0;
            json_t *arr = json_array();
            for (size_t i = 0; i < got; i++)
                json_array_append_new(
                    arr, json_pack("{s:o,s:o,s:s,s:I,s:I,s:o,s:o}", "Price",
                                   lx__web_price(m, t[i].price, true), "Size",
                                   lx__web_qty(m, t[i].qty, true), "Side",
                                   lx__web_side_name(t[i].taker_side), "Timestamp",
                                   (json_int_t)t[i].ts, "Sequence", (json_int_t)t[i].seq,
                                   "MakerOrderID", lx__web_id(t[i].maker_order, true),
                                   "TakerOrderID", lx__web_id(t[i].taker_order, true)));
            free(t);
            respond(g, c, id, arr);
        }
    } else {
        rpc_error(g, c, id, E_METHOD, NULL, "method not found: \"%.*s\"",
                  lx__web_cut(method, strlen(method), 60), method);
    }
done:
    json_decref(empty);
}

void lx__web_rpc(lx__web_t *g, lx__web_conn_t *c, const char *body, size_t len) {
    char err[LX__WEB_ERR];
    g->m.rpc_calls++;
    json_decref(c->rpc_out);
    c->rpc_out = json_array();
    c->rpc_wait = 0;
    c->rpc_batch = false;
    if (!c->rpc_out) return lx__web_http_error(g, c, 500, "internal", "out of memory");
    json_t *root = NULL;
    if (lx__web_parse(body, len, &root, err, sizeof err)) {
        rpc_error(g, c, NULL, E_PARSE, NULL, "parse error: %s", err);
    } else if (json_is_array(root)) {
        if (json_array_size(root) == 0) {
            rpc_error(g, c, NULL, E_REQUEST, NULL, "an empty batch");
        } else if (json_array_size(root) > 100) {
            rpc_error(g, c, NULL, E_REQUEST, NULL, "a batch holds at most 100 requests");
        } else {
            c->rpc_batch = true;
            size_t i;
            json_t *r;
            json_array_foreach(root, i, r) call(g, c, r);
        }
    } else {
        call(g, c, root);
    }
    json_decref(root);
    finish(g, c);
}

void lx__web_rpc_done(lx__web_t *g, lx__web_conn_t *c, const json_t *id,
                      const lx__web_outcome_t *o) {
    if (c->rpc_wait) c->rpc_wait--;
    if (!c->rpc_out) return;
    if (o->rejected && o->reason == LX_REJECT_NONE) {
        rpc_error(g, c, id, E_UNAVAILABLE, NULL, "the node stopped before applying the command");
    } else if (o->rejected || (o->cmd_type == LX_CMD_PLACE && !o->accepted)) {
        rpc_error(g, c, id, E_REJECTED, json_pack("{s:s}", "reason", lx_reject_name(o->reason)),
                  "order rejected: %s", lx_reject_str(o->reason));
    } else {
        respond(g, c, id, lx__web_outcome_json(&g->ms, o, true));
    }
    finish(g, c);
}
