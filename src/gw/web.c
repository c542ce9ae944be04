/*
 * web.c: the web gateway's thread (lx/gw_web.h): libwebsockets, the
 * connections, and the node's rings.
 *
 * One thread runs one lws context with up to two vhosts: "http" on
 * listen.http (HTTP JSON and JSON-RPC, web_http.c and web_rpc.c) and "ws"
 * on listen.ws (WebSocket JSON, web_ws.c). The gateway is node gateway
 * number `gw` (lx_node_add_gateway, with market data and DONE messages):
 * this thread is the only producer of its in ring and the only consumer of
 * its out ring. Each round of the loop is one lws_service() (the callbacks
 * of whatever sockets are ready), then one commit of the commands those
 * callbacks staged, then a drain of the out ring. The engine thread's
 * notify() wakes lws with lws_cancel_service(), at most once per drain (the
 * `wake` flag), and a 50 ms timer bounds every wait.
 *
 * Commands and answers. Every command gets a tag (a counter) and a pending
 * entry; the node echoes the tag in the events the command causes, then
 * sends DONE (one per shard it went to). With one shard commands are
 * applied in the order they were sent, so the pending entries are a FIFO
 * and a DONE answers the oldest; with several, an entry is answered when
 * its last DONE comes (web.h). The events before it were collected into its
 * outcome (web_json.c), and the answer
 * (HTTP response, JSON-RPC result, WebSocket result) is rendered then. A
 * connection that goes away leaves its entries with conn NULL; their DONE
 * is then only counted.
 *
 * The read model. Before any command the node sends its start-up state
 * (STATE ... STATE_END), loaded into the lx_view_t; then every engine
 * event is applied to it, and handed to the WebSocket feeds after it was
 * applied (so an L2 delta's checksum is the book after that delta). Until
 * STATE_END, queries are answered 503.
 *
 * Output. lws lets a connection write only from its WRITEABLE callback, so
 * each connection has a queue of messages; the queue is bounded by
 * limits.slow_subscriber_buffer_bytes, and a connection that would pass it
 * loses its queue and is closed with code 1008 and the reason (a client
 * that reads nothing at all is cut after 5 more seconds); a subscription's
 * snapshot is not held to that bound while it is written (web_out.c). An
 * HTTP response is one buffer, written with its headers in one WRITEABLE,
 * and then the connection is closed: one request per connection
 * (http_write says why). The WebSocket API is on the "ws" vhost only.
 *
 * Bounds: limits.max_connections (HTTP and WebSocket together),
 * limits.max_connections_per_ip, limits.max_message_bytes (HTTP bodies and
 * WebSocket messages), the rate limits (a WebSocket connection's messages,
 * an HTTP client address's requests, an account's order entry: GCRA,
 * lx/rate.h). Stop: the thread refuses new requests with 503, closes its
 * in ring, drains the out ring until the node closes it, answers what is
 * left as 503 and gives the clients a second to read.
 *
 * Identity. Outside dev mode the WebSocket takes order entry from a
 * session that logged on by signing a challenge (web_ws.c, lx/gw_auth.h):
 * its commands carry auth SESSION with its key, which the engine checks for
 * every command, as the binary gateway's do; a signed envelope carries its
 * own signature (auth ED25519). The gateway keeps a copy of the key records
 * (STATE, then the key events) to refuse a logon with a key the account
 * does not know. HTTP and JSON-RPC order entry stays dev mode only.
 */
#define _GNU_SOURCE
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "gw/web.h"
#include "lx/error.h"
#include "lx/rate.h"

typedef struct {
    lx__web_conn_t *c;
} pss_t;

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int64_t lx__web_wall_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void lx__web_log(lx__web_t *g, const char *fmt, ...) {
    if (!g->opts.log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->opts.log, fmt, ap);
    va_end(ap);
    fflush(g->opts.log);
}

bool lx__web_available(lx__web_t *g) {
    return !g->stopping && !lx_node_failed(g->node);
}

/* ---- rate limits ------------------------------------------------------------------------------
 */

uint32_t lx__web_rate_conn(lx__web_t *g, lx__web_conn_t *c) {
    uint64_t *tat = &c->tat;
    if (!c->ws && c->ip >= 0) tat = &g->ips[c->ip].tat; /* HTTP: per client address */
    uint32_t w = lx_rate_check(tat, &g->cfg->rate_limits.per_connection, g->now_ns, 1);
    if (w) g->m.rate_limited++;
    return w;
}

uint32_t lx__web_rate_account(lx__web_t *g, lx_account_id_t a, uint32_t weight) {
    if (!g->account_tat || a >= g->naccounts) return 0;
    uint32_t w = lx_rate_check_shared(&g->account_tat[a], &g->cfg->rate_limits.per_account,
                                      g->now_ns, weight);
    if (w) g->m.rate_limited++;
    return w;
}

uint32_t lx__web_rate_action(lx__web_t *g, const lx__web_action_t *a) {
    return a->unpaid ? 0 : lx__web_rate_account(g, a->account, a->weight);
}

/* ---- connections ------------------------------------------------------------------------------
 */

static int ip_acquire(lx__web_t *g, const char *peer) {
    int free_slot = -1;
    for (uint32_t i = 0; i < g->nips; i++) {
        if (!strcmp(g->ips[i].ip, peer)) return (int)i;
        if (free_slot < 0 && g->ips[i].conns == 0 && g->ips[i].tat <= g->now_ns) free_slot = (int)i;
    }
    if (free_slot < 0 && g->nips == g->ips_cap) {
        uint32_t cap = g->ips_cap ? g->ips_cap * 2 : 64;
        lx__web_ip_t *n = realloc(g->ips, cap * sizeof *n);
        if (!n) return -1;
        g->ips = n;
        g->ips_cap = cap;
    }
    if (free_slot < 0) free_slot = (int)g->nips++;
    lx__web_ip_t *e = &g->ips[free_slot];
    memset(e, 0, sizeof *e);
    snprintf(e->ip, sizeof e->ip, "%s", peer);
    return free_slot;
}

/* A new connection's state; *why set when it is over a connection cap
 * (it is still created, to be answered and closed). */
static lx__web_conn_t *conn_new(lx__web_t *g, struct lws *wsi, bool ws, const char **why) {
    lx__web_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->wsi = wsi;
    c->ws = ws;
    c->session = LX_NODE_SESSION(g->gw, ++g->next_local);
    c->feed_account = LX_ACCOUNT_NONE;
    c->account = LX_ACCOUNT_NONE;
    if (!lws_get_peer_simple(wsi, c->peer, sizeof c->peer)) snprintf(c->peer, sizeof c->peer, "?");
    c->ip = ip_acquire(g, c->peer);
    *why = NULL;
    uint32_t total = g->nhttp + g->nwsc;
    if (total >= g->max_conns)
        *why = "too many connections (limits.max_connections)";
    else if (c->ip >= 0 && g->ips[c->ip].conns >= g->max_per_ip)
        *why = "too many connections from this address (limits.max_connections_per_ip)";
    if (*why) {
        g->m.refused_conns++;
        lx__web_log(g, "lxdexd: web: connection from %s refused: %s\n", c->peer, *why);
        return c;
    }
    c->counted = true;
    if (c->ip >= 0) g->ips[c->ip].conns++;
    if (ws) {
        if (g->nwsc == g->wsc_cap) {
            uint32_t cap = g->wsc_cap ? g->wsc_cap * 2 : 64;
            lx__web_conn_t **n = realloc(g->wsc, cap * sizeof *n);
            if (!n) {
                free(c);
                return NULL;
            }
            g->wsc = n;
            g->wsc_cap = cap;
        }
        c->index = g->nwsc;
        g->wsc[g->nwsc++] = c;
        g->m.ws_conns_total++;
    } else {
        g->nhttp++;
        g->m.http_conns_total++;
    }
    return c;
}

static void conn_free(lx__web_t *g, lx__web_conn_t *c) {
    if (!c) return;
    if (c->counted) {
        if (c->ip >= 0 && g->ips[c->ip].conns) g->ips[c->ip].conns--;
        if (c->ws) {
            lx__web_conn_t *last = g->wsc[--g->nwsc];
            g->wsc[c->index] = last;
            last->index = c->index;
        } else {
            g->nhttp--;
        }
    }
    if (c->npending)
        for (uint32_t i = 0; i < g->pn; i++) {
            lx__web_pending_t *p = &g->pend[(g->phead + i) & (g->pcap - 1)];
            if (p->conn == c) p->conn = NULL;
        }
    lx__web_out_drop(c);
    json_decref(c->rpc_out);
    free(c->rx);
    free(c->resp);
    free(c->sub);
    free(c);
}

static void send_json(lx__web_t *g, lx__web_conn_t *c, json_t *v, bool snapshot) {
    if (!v) return;
    size_t n;
    char *s = lx__web_dump(v, &n);
    json_decref(v);
    if (!s) return;
    if (snapshot)
        lx__web_send_big(g, c, s, n);
    else
        lx__web_send(g, c, s, n);
    free(s);
}

void lx__web_send_json(lx__web_t *g, lx__web_conn_t *c, json_t *v) {
    send_json(g, c, v, false);
}

void lx__web_send_snapshot(lx__web_t *g, lx__web_conn_t *c, json_t *v) {
    send_json(g, c, v, true);
}

void lx__web_close(lx__web_t *g, lx__web_conn_t *c, int code, const char *reason) {
    (void)g;
    if (c->closing) return;
    c->closing = true;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

/* Sessions logged on with a key that may no longer act for their account
 * end (1008, with the reason): at once when an agent is revoked (before the
 * events behind the revocation reach them), and once a second for
 * approvals that expired. The engine already refuses the key's commands;
 * without this its sessions went on receiving the account's feeds. */
static void close_unauthorized(lx__web_t *g) {
    int64_t now = lx__web_wall_ns();
    for (uint32_t i = 0; i < g->nwsc; i++) {
        lx__web_conn_t *c = g->wsc[i];
        const char *why = NULL;
        if (c->logged_on && c->keyed &&
            lx_gw_keys_check(g->keys, c->account, c->key, now, &why) < 0)
            lx__web_close(g, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
    }
}

/* ---- the node's rings -------------------------------------------------------------------------
 */

static void drain_out(lx__web_t *g);

static void drain_cb(void *ctx) {
    drain_out(ctx);
}

static void stage_flush(lx__web_t *g) {
    lx_node_submit(g->node, g->gw, g->stage, g->nstage, drain_cb, g);
    g->nstage = 0;
}

/* Stages a's command and returns its pending entry, its id not yet set;
 * NULL when the node takes no commands or memory ran out. */
static lx__web_pending_t *submit(lx__web_t *g, lx__web_conn_t *c, int api,
                                 const lx__web_action_t *a) {
    if (!lx__web_available(g)) return NULL;
    if (g->pn == g->pcap) {
        uint32_t cap = g->pcap ? g->pcap * 2 : 256;
        lx__web_pending_t *n = malloc(cap * sizeof *n);
        if (!n) return NULL;
        for (uint32_t i = 0; i < g->pn; i++) n[i] = g->pend[(g->phead + i) & (g->pcap - 1)];
        free(g->pend);
        g->pend = n;
        g->pcap = cap;
        g->phead = 0;
    }
    lx__web_pending_t *p = &g->pend[(g->phead + g->pn++) & (g->pcap - 1)];
    p->tag = ++g->next_tag;
    p->parts_done = 0;
    p->answered = false;
    p->conn = c;
    p->api = api;
    p->id = NULL;
    p->idlen = 0;
    p->t_rx = g->now_ns;
    lx__web_outcome_init(&p->out, a);
    c->npending++;
    if (g->nstage == LX__WEB_STAGE) stage_flush(g);
    lx_node_msg_t *m = &g->stage[g->nstage++];
    memset(m, 0, sizeof *m);
    m->kind = LX_NODE_MSG_CMD;
    m->session = c->session;
    m->tag = p->tag;
    m->t_rx = g->now_ns;
    m->client_id = a->client_id;
    m->account = a->account;
    m->cmd = a->cmd;
    m->shard = a->shard;
    if (a->auth.scheme != LX_AUTH_NONE) {
        m->auth = a->auth;
    } else if (c->keyed) {
        /* the session's key, as the binary gateway journals a signed logon's
         * commands: the engine checks it is the account's owner or a live
         * agent allowed the command (docs/identity.md) */
        m->auth.scheme = LX_AUTH_SESSION;
        memcpy(m->auth.key, c->key, sizeof m->auth.key);
        m->auth.nonce = c->session;
    }
    if (a->cmd.type <= LX_CMD__MAX) g->m.commands[a->cmd.type]++;
    return p;
}

int lx__web_submit(lx__web_t *g, lx__web_conn_t *c, int api, const lx__web_action_t *a,
                   const json_t *id) {
    lx__web_pending_t *p = submit(g, c, api, a);
    if (!p) return -1;
    int idn = api == LX__WEB_API_WS ? lx__web_id_text(id, p->idtext, sizeof p->idtext) : -1;
    if (idn > 0)
        p->idlen = (uint8_t)idn;
    else if (id)
        p->id = json_deep_copy(id);
    return 0;
}

int lx__web_submit_text(lx__web_t *g, lx__web_conn_t *c, const lx__web_action_t *a, const char *id,
                        size_t idlen) {
    if (idlen == 0 || idlen >= LX__WEB_ID_TEXT) return -1;
    lx__web_pending_t *p = submit(g, c, LX__WEB_API_WS, a);
    if (!p) return -1;
    memcpy(p->idtext, id, idlen);
    p->idlen = (uint8_t)idlen;
    return 0;
}

void lx__web_bind_key(lx__web_t *g, lx__web_conn_t *c, lx_account_id_t a, const uint8_t key[32]) {
    if (!lx__web_available(g)) return;
    if (g->nstage == LX__WEB_STAGE) stage_flush(g);
    lx_node_msg_t *m = &g->stage[g->nstage++];
    memset(m, 0, sizeof *m);
    m->kind = LX_NODE_MSG_CMD;
    m->session = c->session; /* tag 0: its DONE answers nothing */
    m->account = a;
    m->cmd.type = LX_CMD_BIND_KEY;
    m->cmd.u.bind_key.account = a;
    memcpy(m->cmd.u.bind_key.key, key, sizeof m->cmd.u.bind_key.key);
    g->m.commands[LX_CMD_BIND_KEY]++;
}

static void answer(lx__web_t *g, lx__web_pending_t *p) {
    lx__web_conn_t *c = p->conn;
    if (c) {
        c->npending--;
        uint64_t now = mono_ns();
        lx_lathist_add(&g->resp_lat, now - p->t_rx);
        lx_node_record_acked(g->node, g->gw, p->t_rx, now);
        if (p->api == LX__WEB_API_HTTP)
            lx__web_http_done(g, c, &p->out);
        else if (p->api == LX__WEB_API_RPC)
            lx__web_rpc_done(g, c, p->id, &p->out);
        else
            lx__web_ws_done(g, c, p);
    }
    json_decref(p->id);
    p->id = NULL;
    p->answered = true;
}

/* Pending commands the node will never answer (it failed or stopped). */
static void answer_unavailable(lx__web_t *g, const char *why) {
    while (g->pn) {
        lx__web_pending_t *p = &g->pend[g->phead];
        lx__web_conn_t *c = p->answered ? NULL : p->conn;
        if (c) {
            c->npending--;
            if (p->api == LX__WEB_API_HTTP) {
                lx__web_http_error(g, c, 503, "unavailable", "%s", why);
            } else if (p->api == LX__WEB_API_RPC) {
                lx__web_outcome_t o = p->out;
                o.rejected = true;
                o.reason = 0; /* NONE: rendered as "unavailable" by web_rpc.c */
                lx__web_rpc_done(g, c, p->id, &o);
            } else {
                json_t *id = p->id;
                if (p->idlen && lx__web_parse(p->idtext, p->idlen, &id, NULL, 0)) id = NULL;
                lx__web_ws_error(g, c, id, "unavailable", "%s", why);
                if (id != p->id) json_decref(id);
            }
        }
        json_decref(p->id);
        g->phead = (g->phead + 1) & (g->pcap - 1);
        g->pn--;
    }
}

static lx__web_pending_t *pending_of(lx__web_t *g, uint64_t tag) {
    for (uint32_t i = 0; i < g->pn; i++) {
        lx__web_pending_t *p = &g->pend[(g->phead + i) & (g->pcap - 1)];
        if (p->tag == tag) return p->answered ? NULL : p;
    }
    return NULL;
}

static void on_state(lx__web_t *g, const lx_node_out_t *o) {
    const lx_event_t *ev = &o->ev;
    switch (ev->type) {
    case LX_EV_MARKET_STATE:
        lx_view_reset_market(g->view, ev->market, ev->market_seq, ev->ts);
        if (ev->market < g->ms.nmk) g->halted[ev->market] = ev->u.market_state.halted;
        break;
    case LX_EV_BOOK_LEVEL:
        lx_view_load_level(g->view, ev->market, ev->u.level.side, ev->u.level.price,
                           ev->u.level.qty, ev->u.level.count);
        break;
    case LX_EV_BALANCE:
        lx_view_apply_shard(g->view, o->shard, ev);
        break;
    case LX_EV_KEY_BOUND:
    case LX_EV_AGENT_APPROVED:
    case LX_EV_AGENT_REVOKED:
        if (lx_gw_keys_apply(g->keys, ev)) lx__web_log(g, "lxdexd: web: no memory for a key\n");
        break;
    case LX_EV_ORDER_ACCEPTED: {
        const lx_order_info_t *oi = &o->order;
        lx_view_order_t vo = {.order_id = oi->order_id,
                              .account = oi->account,
                              .market = oi->market,
                              .side = oi->side,
                              .type = oi->type,
                              .tif = oi->tif,
                              .price = oi->price,
                              .qty = oi->qty,
                              .remaining = oi->remaining,
                              .client_id = oi->client_id};
        lx_view_load_order(g->view, &vo);
        break;
    }
    case LX_EV_ORDER_AMENDED: /* the orders again, in acceptance order */
        lx_view_load_age(g->view, ev->u.amended.order_id);
        break;
    default:
        break;
    }
}

/* An event of a pending action's command into its outcome. An amend to at
 * or below the filled size cancels the order, and the CANCELED event does
 * not say how much had filled: the read model, which has not applied the
 * event yet, still holds the order. */
static void outcome_event(lx__web_t *g, lx__web_outcome_t *out, const lx_event_t *ev) {
    lx_view_order_t vo;
    if (ev->type == LX_EV_ORDER_CANCELED && out->cmd_type == LX_CMD_AMEND &&
        ev->u.canceled.reason == LX_CANCEL_AMEND &&
        lx_view_order(g->view, ev->u.canceled.order_id, &vo)) {
        out->qty = vo.qty;
        out->filled = vo.qty - vo.remaining;
    }
    lx__web_outcome_event(out, ev);
}

static void on_out(lx__web_t *g, const lx_node_out_t *o) {
    switch (o->kind) {
    case LX_NODE_OUT_STATE:
        on_state(g, o);
        break;
    case LX_NODE_OUT_STATE_END:
        if (++g->state_ends < (o->parts ? o->parts : 1u)) break;
        g->state_done = true;
        /* the best bid and ask the start-up state holds: a bbo is sent when
         * one of them changes (else the first book event after a restart
         * resent them) */
        for (uint32_t m = 0; m < g->ms.nmk; m++)
            for (uint8_t side = 0; side < 2; side++)
                if (!lx_view_best(g->view, m, side, &g->bbo[m][side]))
                    g->bbo[m][side] = (lx_view_level_t){0, 0, 0};
        break;
    case LX_NODE_OUT_EVENT: {
        const lx_event_t *ev = &o->ev;
        g->m.events++;
        if (ev->type == LX_EV_MARKET_STATE && ev->market < g->ms.nmk)
            g->halted[ev->market] = ev->u.market_state.halted;
        /* what every shard applies, every shard reports: keys and the
         * answers to a command sent to every shard are taken from shard 0 */
        bool echo =
            o->shard != 0 && (ev->type == LX_EV_REJECTED || ev->type == LX_EV_DEADMAN ||
                              (ev->type >= LX_EV_KEY_BOUND && ev->type <= LX_EV_AGENT_REVOKED));
        /* a rejection of a command every shard applies counts once */
        if (ev->type == LX_EV_REJECTED && ev->u.rejected.reason < LX_REJECT__COUNT &&
            !(echo && o->parts > 1))
            g->m.rejects[ev->u.rejected.reason]++;
        if (ev->type >= LX_EV_KEY_BOUND && ev->type <= LX_EV_AGENT_REVOKED && !echo &&
            lx_gw_keys_apply(g->keys, ev))
            lx__web_log(g, "lxdexd: web: no memory for a key\n");
        if (ev->type == LX_EV_AGENT_REVOKED && !echo) close_unauthorized(g);
        if (o->tag && !(echo && o->parts > 1)) {
            lx__web_pending_t *p = pending_of(g, o->tag);
            if (p) outcome_event(g, &p->out, ev);
        }
        int rc = lx_view_apply_shard(g->view, o->shard, ev);
        if (rc == LX_VIEW_GAP) {
            /* cannot happen with a market-data gateway (it gets every event);
             * resynchronise to the event rather than stop updating */
            g->m.gaps++;
            lx__web_log(g, "lxdexd: web: gap in market %u at seq %llu\n", ev->market,
                        (unsigned long long)ev->market_seq);
            lx_view_reset_market(g->view, ev->market, ev->market_seq - 1, ev->ts);
            lx_view_apply(g->view, ev);
        }
        lx__web_ws_event(g, ev);
        break;
    }
    case LX_NODE_OUT_DONE: {
        lx__web_pending_t *p = pending_of(g, o->tag);
        if (!p) break; /* already answered as unavailable */
        if (++p->parts_done < (o->parts ? o->parts : 1u)) break; /* other shards to come */
        p->out.seq = o->ev.seq;
        /* one shard: entries before it were dropped by the node (cannot
         * happen while it runs); several: they are still being applied */
        if (lx_node_shards(g->node) == 1)
            while (&g->pend[g->phead] != p) {
                answer(g, &g->pend[g->phead]);
                g->phead = (g->phead + 1) & (g->pcap - 1);
                g->pn--;
            }
        answer(g, p);
        while (g->pn && g->pend[g->phead].answered) {
            g->phead = (g->phead + 1) & (g->pcap - 1);
            g->pn--;
        }
        break;
    }
    default:
        break;
    }
}

static void on_out_cb(void *ctx, const lx_node_out_t *o) {
    on_out(ctx, o);
}

static void drain_out(lx__web_t *g) {
    for (;;) {
        bool finished = lx_node_outs_finished(&g->outs); /* before the drain */
        if (lx_node_outs_drain(&g->outs, 1024, on_out_cb, g)) continue;
        if (finished) g->out_closed = true;
        return;
    }
}

static void notify(void *ctx) {
    lx__web_t *g = ctx;
    if (!atomic_exchange(&g->wake, 1)) lws_cancel_service(g->ctx);
}

/* ---- HTTP ---------------------------------------------------------------------------------------
 */

/* Appends a piece of a request body or WebSocket message to c->rx (kept
 * NUL-terminable); past limits.max_message_bytes it keeps nothing more and
 * marks the message as over. 0, or -1 out of memory. */
static int rx_append(lx__web_t *g, lx__web_conn_t *c, const void *in, size_t len) {
    if (c->rx_over) return 0;
    if (c->rxlen + len > g->cfg->limits.max_message_bytes) {
        c->rx_over = true;
        return 0;
    }
    if (c->rxlen + len + 1 > c->rxcap) {
        size_t cap = c->rxcap ? c->rxcap : 4096;
        while (cap < c->rxlen + len + 1) cap *= 2;
        char *n = realloc(c->rx, cap);
        if (!n) return -1;
        c->rx = n;
        c->rxcap = cap;
    }
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    return 0;
}

static int method_of(struct lws *wsi) {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) return LX__WEB_METHOD_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI)) return LX__WEB_METHOD_HEAD;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) return LX__WEB_METHOD_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI)) return LX__WEB_METHOD_DELETE;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI)) return LX__WEB_METHOD_PUT;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI)) return LX__WEB_METHOD_PATCH;
    return LX__WEB_METHOD_OTHER;
}

static void http_handle(lx__web_t *g, lx__web_conn_t *c, const char *body, size_t len) {
    char depth[32] = "", limit[32] = "";
    const char *d = lws_get_urlarg_by_name(c->wsi, "depth=", depth, sizeof depth);
    const char *l = lws_get_urlarg_by_name(c->wsi, "limit=", limit, sizeof limit);
    lx__web_http(g, c, d, l, body, len);
}

/* Writes the response, then closes the connection: every response says
 * "connection: close", so an HTTP connection carries one request. Keep-alive
 * with our deferred answers is not safe with lws 4.1: a request pipelined
 * behind a completed one (GET then POST with a body in one write) is parsed
 * from lws's input buffer after lws_http_transaction_completed(), and lws
 * then spins in lws_service() (lws_service_do_ripe_rxflow) for ever; this
 * thread never drains the node's out ring again and the engine blocks on it.
 * Closing never lets lws parse a second request, and HTTP/1.1 lets a server
 * that says "close" leave pipelined requests unanswered (RFC 9112 §9.6): the
 * client sends them again on a new connection. docs/api.md §4. */
static int http_write(lx__web_t *g, lx__web_conn_t *c) {
    if (c->responded) /* written: close once lws holds none of it (see below) */
        return lws_partial_buffered(c->wsi) ? (lws_callback_on_writable(c->wsi), 0) : -1;
    if (!c->resp_ready) return 0;
    c->resp_ready = false;
    unsigned char hb[LWS_PRE + 1024], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof hb;
    bool metrics = c->status == 200 && c->resplen && c->resp[LWS_PRE] == '#';
    const char *ctype = metrics ? "text/plain; version=0.0.4" : "application/json";
    if (c->status < 600) g->m.http_status[c->status]++;
    if (lws_add_http_common_headers(c->wsi, (unsigned)c->status, ctype, c->resplen, &p, end))
        return -1;
    if (c->retry_after) {
        char ra[16];
        int n = snprintf(ra, sizeof ra, "%u", c->retry_after);
        if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)"retry-after:",
                                        (const unsigned char *)ra, n, &p, end))
            return -1;
    }
    /* one request per connection: see http_write's comment */
    if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)"connection:",
                                    (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (lws_finalize_write_http_header(c->wsi, start, &p, end)) return -1;
    if (c->resplen && !c->head &&
        lws_write(c->wsi, (unsigned char *)c->resp + LWS_PRE, c->resplen, LWS_WRITE_HTTP) < 0)
        return -1;
    free(c->resp);
    c->resp = NULL;
    c->resplen = 0;
    c->retry_after = 0;
    c->responded = true;
    /* Close once the whole response has gone: at a later WRITEABLE, which
     * lws gives only when it holds none of the response any more (a body
     * the kernel did not take at once waits in lws). Closing here instead
     * gave lws 5 s to flush it, which cut a large response to a slow
     * client short. The body is written as plain HTTP data, not
     * LWS_WRITE_HTTP_FINAL: that makes lws complete the transaction itself
     * once the body has gone, and read the next request (the spin above).
     * A client that does not read the response at all is cut after 60 s. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT, 60);
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* ---- the lws callback ----------------------------------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    struct lws_context *ctx = lws_get_context(wsi);
    lx__web_t *g = ctx ? lws_context_user(ctx) : NULL;
    pss_t *pss = user;
    lx__web_conn_t *c = pss ? pss->c : NULL;
    if (!g) return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!pss) return -1;
        const char *why = NULL;
        if (!c) {
            c = pss->c = conn_new(g, wsi, false, &why);
            if (!c) return -1;
        }
        g->now_ns = mono_ns();
        c->t_rx = g->now_ns;
        c->method = method_of(wsi);
        /* HEAD (a load balancer's health check, say): what GET would answer,
         * headers only (RFC 9110 9.3.2) */
        c->head = c->method == LX__WEB_METHOD_HEAD;
        if (c->head) c->method = LX__WEB_METHOD_GET;
        snprintf(c->uri, sizeof c->uri, "%s", in ? (const char *)in : "/");
        c->rxlen = 0;
        c->rx_over = false;
        c->responded = false;
        c->body_expected = false;
        if (!c->counted) {
            lx__web_http_error(g, c, 503, "unavailable", "%s", why ? why : "too many connections");
            return 0;
        }
        if (lws_get_vhost(wsi) == g->vh_ws) {
            lx__web_http_error(g, c, 426, "upgrade_required",
                               "this port serves WebSocket only (docs/api.md)");
            return 0;
        }
        char cl[32] = "";
        uint64_t clen = 0;
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
            clen = strtoull(cl, NULL, 10);
        if (clen > g->cfg->limits.max_message_bytes) {
            c->closing = true;
            lx__web_http_error(g, c, 413, "too_large",
                               "request body of %llu bytes is over limits.max_message_bytes (%u)",
                               (unsigned long long)clen, g->cfg->limits.max_message_bytes);
            return 0;
        }
        /* lws 4.1 does not decode a chunked request body: without this
         * the body was dropped and the request answered as if it had none
         * (-32700, "account: required"). RFC 9112 §6.3: 411. */
        if (cl[0] == '\0' && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
            c->closing = true;
            lx__web_http_error(g, c, 411, "length_required",
                               "a request body needs a Content-Length (chunked bodies are "
                               "not read)");
            return 0;
        }
        if (clen > 0 && c->method != LX__WEB_METHOD_GET) {
            c->body_expected = true;
            return 0; /* the body follows */
        }
        http_handle(g, c, "", 0);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!c || !c->body_expected) return 0;
        return rx_append(g, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!c || !c->body_expected) return 0;
        c->body_expected = false;
        g->now_ns = mono_ns();
        if (c->rx_over) {
            c->closing = true;
            lx__web_http_error(g, c, 413, "too_large",
                               "request body over limits.max_message_bytes (%u)",
                               g->cfg->limits.max_message_bytes);
            return 0;
        }
        http_handle(g, c, c->rx ? c->rx : "", c->rxlen);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!c) return 0;
        return http_write(g, c);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (c && !c->ws) {
            conn_free(g, c);
            pss->c = NULL;
        }
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* the WebSocket API is listen.ws's alone: an upgrade on listen.http
         * is refused (lws closes the connection), so listen.ws: off turns
         * it off (docs/api.md) */
        return lws_get_vhost(wsi) == g->vh_ws && g->vh_ws ? 0 : -1;

    case LWS_CALLBACK_ESTABLISHED: {
        if (!pss) return -1;
        if (c && !c->ws) conn_free(g, c);
        const char *why = NULL;
        c = pss->c = conn_new(g, wsi, true, &why);
        if (!c) return -1;
        if (why) {
            /* answered, then closed: 1013 "try again later" */
            c->ws = true;
            json_t *e =
                json_pack("{s:s,s:s,s:s}", "type", "error", "code", "unavailable", "message", why);
            lx__web_send_json(g, c, e);
            lx__web_close(g, c, 1013, why);
        }
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        if (!c || c->closing) return 0;
        g->now_ns = mono_ns();
        g->now_ms = (int64_t)(g->now_ns / 1000000);
        if (lws_frame_is_binary(wsi)) {
            /* refused, but a message all the same: it is charged to the
             * connection's bucket as a text message is (lx__web_ws_message),
             * once, on its last fragment */
            c->rxlen = 0;
            if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
            if (!lx__web_ws_admit(g, c)) return 0;
            lx__web_ws_error(g, c, NULL, "bad_request",
                             "binary frames are not accepted: send JSON text");
            return 0;
        }
        if (rx_append(g, c, in, len)) return -1;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
        if (c->rx_over) {
            char why[120];
            snprintf(why, sizeof why, "message over limits.max_message_bytes (%u)",
                     g->cfg->limits.max_message_bytes);
            lx__web_ws_error(g, c, NULL, "too_large", "%s", why);
            lx__web_close(g, c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, why);
        } else {
            lx__web_ws_message(g, c, c->rx ? c->rx : "", c->rxlen);
        }
        c->rxlen = 0;
        c->rx_over = false;
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (!c) return 0;
        return lx__web_out_write(g, c); /* web_out.c: many frames per write */
    }
    case LWS_CALLBACK_CLOSED:
        if (c) {
            conn_free(g, c);
            pss->c = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols http_protocols[] = {
    {"http", callback, sizeof(pss_t), 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
static const struct lws_protocols ws_protocols[] = {
    {"lxdex", callback, sizeof(pss_t), 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- the thread ------------------------------------------------------------------------------ */

static void tick(lws_sorted_usec_list_t *sul);

static void tick(lws_sorted_usec_list_t *sul) {
    lx__web_t *g = (lx__web_t *)(void *)((char *)sul - offsetof(lx__web_t, sul));
    lws_sul_schedule(g->ctx, 0, &g->sul, tick, 50 * LWS_US_PER_MS);
}

static void round_end(lx__web_t *g) {
    g->now_ns = mono_ns();
    g->now_ms = (int64_t)(g->now_ns / 1000000);
    stage_flush(g);
    atomic_exchange(&g->wake, 0);
    drain_out(g);
    if (g->pn && lx_node_failed(g->node))
        answer_unavailable(g, "the node's journal failed: it takes no more commands");
    if (g->state_done && g->now_ms >= g->expiry_scan_ms + 1000) {
        g->expiry_scan_ms = g->now_ms;
        close_unauthorized(g);
    }
}

static bool output_pending(lx__web_t *g) {
    for (uint32_t i = 0; i < g->nwsc; i++)
        if (g->wsc[i]->qbytes) return true;
    return false;
}

static void *web_main(void *arg) {
    lx__web_t *g = arg;
    lws_sul_schedule(g->ctx, 0, &g->sul, tick, 50 * LWS_US_PER_MS);
    while (!atomic_load(&g->stop)) {
        lws_service(g->ctx, 0);
        round_end(g);
    }
    /* Graceful stop: take nothing new, answer what the node still applies. */
    g->stopping = true;
    stage_flush(g);
    lx_node_gateway_close(g->node, g->gw);
    while (!g->out_closed) {
        drain_out(g);
        if (g->out_closed) break;
        lws_service(g->ctx, 0);
        atomic_exchange(&g->wake, 0);
    }
    answer_unavailable(g, "the node stopped before the command was applied");
    uint64_t until = mono_ns() + 1000000000u;
    while (mono_ns() < until && output_pending(g)) lws_service(g->ctx, 0);
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------------------
 */

static struct lws_vhost *vhost(lx__web_t *g, const lx_config_addr_t *a, const char *name,
                               const struct lws_protocols *protos, char *err, size_t errlen) {
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.port = a->port;
    vi.iface = a->host;
    vi.protocols = protos;
    vi.vhost_name = name;
    vi.user = g;
    vi.options = a->ipv6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
    vi.keepalive_timeout = 30;
    struct lws_vhost *vh = lws_create_vhost(g->ctx, &vi);
    if (!vh)
        snprintf(err, errlen, "listen.%s %s%s%s:%u: cannot listen (address in use?)", name,
                 a->ipv6 ? "[" : "", a->host, a->ipv6 ? "]" : "", a->port);
    return vh;
}

int lx_gw_web_open(lx_gw_web_t **out, lx_node_t *node, const lx_config_t *cfg,
                   const lx_gw_web_opts_t *opts, char *err, size_t errlen) {
    *out = NULL;
    if (!cfg->listen.http.enabled && !cfg->listen.ws.enabled) {
        snprintf(err, errlen, "listen.http and listen.ws are both off");
        return LX_EINVAL;
    }
    lx__web_t *g = calloc(1, sizeof *g);
    if (!g) return LX_ENOMEM;
    g->node = node;
    g->cfg = cfg;
    if (opts) g->opts = *opts;
    g->out_max = g->opts.out_buffer_max ? g->opts.out_buffer_max
                 : cfg->limits.slow_subscriber_buffer_bytes
                     ? cfg->limits.slow_subscriber_buffer_bytes
                     : (4u << 20);
    g->max_conns = cfg->limits.max_connections ? cfg->limits.max_connections : 1024;
    g->max_per_ip =
        cfg->limits.max_connections_per_ip ? cfg->limits.max_connections_per_ip : g->max_conns;
    int rc = LX_ENOMEM;
    if (lx__web_markets_init(&g->ms, cfg)) goto fail;
    g->view = lx_view_create(g->ms.nmk);
    g->keys = lx_gw_keys_create();
    g->halted = calloc(g->ms.nmk, 1);
    g->bbo = calloc(g->ms.nmk, sizeof *g->bbo);
    if (!g->view || !g->keys || !g->halted || !g->bbo) goto fail;
    g->account_tat = lx_node_account_buckets(node, &g->naccounts); /* shared with tcp.c's */
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof ci);
    ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    ci.user = g;
    ci.count_threads = 1;
    rc = LX_EIO;
    g->ctx = lws_create_context(&ci);
    if (!g->ctx) {
        snprintf(err, errlen, "libwebsockets: cannot create a context");
        goto fail;
    }
    if (cfg->listen.http.enabled) {
        g->vh_http = vhost(g, &cfg->listen.http, "http", http_protocols, err, errlen);
        if (!g->vh_http) goto fail;
        g->http_port = (uint16_t)lws_get_vhost_listen_port(g->vh_http);
    }
    if (cfg->listen.ws.enabled) {
        g->vh_ws = vhost(g, &cfg->listen.ws, "ws", ws_protocols, err, errlen);
        if (!g->vh_ws) goto fail;
        g->ws_port = (uint16_t)lws_get_vhost_listen_port(g->vh_ws);
    }
    lx_node_gw_opts_t go = {LX_NODE_GW_MARKET_DATA | LX_NODE_GW_DONE, notify, g};
    int gw = lx_node_add_gateway(node, &go, &g->in, &g->out);
    if (gw < 0) {
        rc = gw;
        snprintf(err, errlen, "cannot add the web gateway to the node: %s", lx_strerror(gw));
        goto fail;
    }
    g->gw = (unsigned)gw;
    lx_node_outs_init(&g->outs, node, g->gw);
    *out = g;
    return 0;
fail:
    lx_gw_web_close(g);
    return rc;
}

uint16_t lx_gw_web_http_port(const lx_gw_web_t *g) {
    return g ? g->http_port : 0;
}

uint16_t lx_gw_web_ws_port(const lx_gw_web_t *g) {
    return g ? g->ws_port : 0;
}

int lx_gw_web_start(lx_gw_web_t *g) {
    if (g->started) return LX_ESTATE;
    if (pthread_create(&g->thread, NULL, web_main, g)) return LX_ENOMEM;
    pthread_setname_np(g->thread, "lx-gw-web");
    g->started = true;
    return 0;
}

void lx_gw_web_stop_async(lx_gw_web_t *g) {
    if (!g || !g->started) return;
    atomic_store(&g->stop, true);
    lws_cancel_service(g->ctx);
}

void lx_gw_web_stop(lx_gw_web_t *g) {
    if (!g || !g->started) return;
    lx_gw_web_stop_async(g);
    pthread_join(g->thread, NULL);
    g->started = false;
}

void lx_gw_web_close(lx_gw_web_t *g) {
    if (!g) return;
    lx_gw_web_stop(g);
    if (g->ctx) {
        lws_sul_cancel(&g->sul);
        lws_context_destroy(g->ctx); /* closes the connections: conn_free for each */
    }
    for (uint32_t i = 0; i < g->pn; i++) json_decref(g->pend[(g->phead + i) & (g->pcap - 1)].id);
    free(g->pend);
    free(g->wsc);
    free(g->ips);
    free(g->halted);
    free(g->bbo);
    lx_view_destroy(g->view);
    lx_gw_keys_destroy(g->keys);
    lx__web_markets_free(&g->ms);
    free(g);
}
