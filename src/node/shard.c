/*
 * shard.c: a shard's engine thread (ARCHITECTURE.md §4, §5).
 *
 * It applies each command of its ring to its engine, and for every event
 * decides who gets a report. Order reports go to the session that placed the
 * order: a table indexed by the order id's slot (the low bits, < max_orders)
 * holds (order id, session, client id), set on ORDER_ACCEPTED and cleared
 * when the order ends. An order placed before a restart is in the table
 * with no session (route_order fills it at start, for the client id a FILL
 * carries): it goes, like an order the table does not know, to the last
 * session that logged on as its account (BIND), if any, else nowhere.
 * Rejections go to the session of the command. A
 * session id names its gateway in its top byte, so dispatch() sends each
 * event to the gateways of its sessions, and every event to the market-data
 * gateways; each gateway's messages leave in one commit of this shard's out
 * ring per engine batch. A market-data gateway first gets the state the
 * engine starts from (dump_state).
 *
 * Several shards: order ids leave with the shard in bits 26..31
 * (LX_NODE_ORDER_SHARD). A command every shard applies (cancel-all of every
 * market, dead man's switch, keys and agents) is reported once: its
 * rejection, DEADMAN and key reports go to sessions from shard 0 only (the
 * identity state and the dead man's switch are the same in every shard,
 * since every shard applies every command that changes them), while each
 * shard reports the orders it cancels. Market-data gateways get everything.
 *
 * Latency: the time from a command's receipt (t_rx) to the end of the engine
 * batch that applied it is recorded per batch, one clock read each.
 *
 * Out of memory: a command reaches this thread only once it is durable in
 * the journal, so the engine must apply it before the next one. When the
 * engine has no memory for it (LX_ENOMEM: it changed nothing), it is tried
 * again for about a second, then the node stops and the thread applies
 * nothing more (eng_cmd); a restart's recovery applies it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lx/engine.h"
#include "lx/error.h"
#include "node_int.h"

static void gw_flush(shard_t *s, unsigned gw) {
    lx_node_t *n = s->node;
    gateway_t *g = &n->gw[gw];
    lx_ring_t *out = g->out[s->index];
    uint32_t done = 0, k = s->nstaged[gw];
    while (done < k) {
        int got = lx_ring_reserve_wait(out, k - done, LX_RING_FOREVER);
        if (got <= 0) break; /* closed */
        for (int i = 0; i < got; i++)
            memcpy(lx_ring_wslot(out, (uint32_t)i), &s->staged[gw][done + (uint32_t)i],
                   sizeof(lx_node_out_t));
        lx_ring_commit(out, (uint32_t)got);
        done += (uint32_t)got;
        if (g->notify) g->notify(g->notify_ctx);
    }
    atomic_fetch_add(&n->reports, k);
    s->nstaged[gw] = 0;
}

static void stage_flush(shard_t *s) {
    for (uint32_t i = 0; i < s->node->ngw; i++)
        if (s->nstaged[i]) gw_flush(s, i);
}

/* A zeroed slot in gateway gw's batch. */
static lx_node_out_t *stage(shard_t *s, unsigned gw) {
    if (s->nstaged[gw] == s->staged_cap) gw_flush(s, gw);
    lx_node_out_t *o = &s->staged[gw][s->nstaged[gw]++];
    memset(o, 0, sizeof *o);
    o->shard = (uint8_t)s->index;
    return o;
}

/*
 * Sends out message o (sessions filled, kind and ev set) to the gateways
 * that should see it: every market-data gateway, and every gateway one of
 * the sessions belongs to; each copy keeps only that gateway's sessions,
 * and the tag when the command's session is that gateway's.
 */
/* A key event a LX_NODE_GW_KEYS gateway gets (shard 0's: every shard
 * applies key commands). */
static bool key_event(const shard_t *s, const lx_node_out_t *o) {
    return s->index == 0 && o->kind == LX_NODE_OUT_EVENT && o->ev.type >= LX_EV_KEY_BOUND &&
           o->ev.type <= LX_EV_AGENT_REVOKED;
}

static void dispatch(shard_t *s, const lx_node_out_t *o) {
    lx_node_t *n = s->node;
    if (n->ngw == 1 && !(n->gw[0].flags & ~LX_NODE_GW_KEYS)) { /* one binary gateway */
        if (!o->session[0] && !o->session[1] && !(n->gw[0].flags && key_event(s, o))) return;
        lx_node_out_t *c = stage(s, 0);
        *c = *o;
        if (s->cur_session && LX_NODE_SESSION_GW(s->cur_session) == 0)
            c->tag = s->cur_tag, c->t_rx = s->cur_t_rx;
        return;
    }
    for (uint32_t i = 0; i < n->ngw; i++) {
        bool mine0 = o->session[0] && LX_NODE_SESSION_GW(o->session[0]) == i;
        bool mine1 = o->session[1] && LX_NODE_SESSION_GW(o->session[1]) == i;
        if (!mine0 && !mine1 && !(n->gw[i].flags & LX_NODE_GW_MARKET_DATA) &&
            !((n->gw[i].flags & LX_NODE_GW_KEYS) && key_event(s, o)))
            continue;
        lx_node_out_t *c = stage(s, i);
        *c = *o;
        if (!mine0) c->session[0] = 0;
        if (!mine1) c->session[1] = 0;
        if (s->cur_session && LX_NODE_SESSION_GW(s->cur_session) == i)
            c->tag = s->cur_tag, c->t_rx = s->cur_t_rx;
    }
}

/* The id the world knows an order of this shard by. An id echoed from a
 * command that named another shard's order comes back as the client sent
 * it (see localize() in sequencer.c: shard 0's ids are marked with shard
 * bits 63 there). */
static lx_order_id_t globalize(const shard_t *s, lx_order_id_t id) {
    if (s->node->nshards == 1) return id; /* ids are the engine's own (up to 2^28 slots) */
    unsigned k = LX_NODE_ORDER_SHARD(id);
    if (k == LX_NODE_ORDER_FOREIGN) return LX_NODE_ORDER_LOCAL(id);
    if (k || !id) return id;
    return id | ((uint64_t)s->index << LX_NODE_ORDER_SHARD_SHIFT);
}

static void globalize_event(const shard_t *s, lx_event_t *ev) {
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED:
        ev->u.accepted.order_id = globalize(s, ev->u.accepted.order_id);
        break;
    case LX_EV_TRADE:
        ev->u.trade.maker_order = globalize(s, ev->u.trade.maker_order);
        ev->u.trade.taker_order = globalize(s, ev->u.trade.taker_order);
        break;
    case LX_EV_ORDER_CANCELED:
        ev->u.canceled.order_id = globalize(s, ev->u.canceled.order_id);
        break;
    case LX_EV_ORDER_AMENDED:
        ev->u.amended.order_id = globalize(s, ev->u.amended.order_id);
        break;
    case LX_EV_REJECTED:
        ev->u.rejected.order_id = globalize(s, ev->u.rejected.order_id);
        break;
    default:
        break;
    }
}

static route_t *route_slot(shard_t *s, lx_order_id_t id) {
    return &s->routes[(uint32_t)id & (s->nroutes - 1)];
}

/* The session an order's reports go to (the one that placed it, else the
 * account's last), and its client id. */
static uint64_t route_of(shard_t *s, lx_order_id_t id, lx_account_id_t account,
                         uint64_t *client_id) {
    route_t *r = route_slot(s, id);
    *client_id = 0;
    if (r->order_id == id) {
        *client_id = r->client_id;
        if (r->session) return r->session;
    }
    return account < s->naccounts ? s->account_session[account] : 0;
}

static void route_end(shard_t *s, lx_order_id_t id) {
    route_t *r = route_slot(s, id);
    if (r->order_id == id) memset(r, 0, sizeof *r);
}

/* The session that sent the command being applied, when it acts on an
 * order of its own account and is not the order's session already: it
 * gets the cancel or amend it asked for as well as the owner does (a new
 * session, such as a command-line client, sees the answer to its request).
 * Expiries and another account's commands give 0. */
static uint64_t requester(const shard_t *s, lx_account_id_t account, uint64_t owner) {
    if (!s->cur_session || s->cur_account != account || s->cur_session == owner) return 0;
    return s->cur_session;
}

static void on_event(void *ctx, const lx_event_t *ev) {
    shard_t *s = ctx;
    lx_node_out_t o;
    o.session[0] = o.session[1] = 0;
    o.client_id[0] = o.client_id[1] = 0;
    /* what every shard applies is reported to sessions by shard 0 */
    bool echo = s->index != 0;
    uint64_t payer = 0; /* a transfer's payer's last session, besides the sender's */
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *a = &ev->u.accepted;
        route_t *r = route_slot(s, a->order_id);
        r->order_id = a->order_id;
        r->session = s->cur_session
                         ? s->cur_session
                         : (a->account < s->naccounts ? s->account_session[a->account] : 0);
        r->client_id = a->client_id;
        o.session[0] = r->session;
        o.client_id[0] = a->client_id;
        break;
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *t = &ev->u.trade;
        o.session[0] = route_of(s, t->maker_order, t->maker_account, &o.client_id[0]);
        o.session[1] = route_of(s, t->taker_order, t->taker_account, &o.client_id[1]);
        if (t->maker_remaining == 0) route_end(s, t->maker_order);
        if (t->taker_remaining == 0) route_end(s, t->taker_order);
        break;
    }
    case LX_EV_ORDER_CANCELED: {
        const lx_ev_canceled_t *c = &ev->u.canceled;
        uint64_t cid, to = route_of(s, c->order_id, c->account, &cid);
        route_end(s, c->order_id);
        /* an expiry is nobody's request, whichever command's ts reached it */
        uint64_t req = c->reason == LX_CANCEL_EXPIRED ? 0 : requester(s, c->account, to);
        o.session[0] = to ? to : req;
        o.session[1] = to ? req : 0;
        o.client_id[0] = o.client_id[1] = c->client_id;
        break;
    }
    case LX_EV_ORDER_AMENDED: {
        const lx_ev_amended_t *a = &ev->u.amended;
        uint64_t cid, to = route_of(s, a->order_id, a->account, &cid);
        /* the amending session gets this report; the order's later ones
         * still go to the session that placed it */
        uint64_t req = requester(s, a->account, to);
        o.session[0] = to ? to : req;
        o.session[1] = to ? req : 0;
        o.client_id[0] = o.client_id[1] = a->client_id;
        break;
    }
    case LX_EV_KEY_BOUND:
    case LX_EV_AGENT_APPROVED:
    case LX_EV_AGENT_REVOKED: {
        /* the session that sent the command (the owner's, or the bridge's
         * for a bind), else the account's last bound session */
        lx_account_id_t a = ev->u.key.account;
        if (echo) break;
        o.session[0] = s->cur_session     ? s->cur_session
                       : a < s->naccounts ? s->account_session[a]
                                          : 0;
        break;
    }
    case LX_EV_DEADMAN: {
        /* armed or cleared: the session that asked; fired (by a TICK): the
         * account's last bound session */
        lx_account_id_t a = ev->u.deadman.account;
        if (echo) break;
        o.session[0] = s->cur_session && s->cur_account == a ? s->cur_session
                       : a < s->naccounts                    ? s->account_session[a]
                                                             : 0;
        break;
    }
    case LX_EV_DEPOSIT:
    case LX_EV_WITHDRAWAL:
    case LX_EV_TRANSFER: {
        /* the session that sent it (a withdrawal's or transfer's owner, a
         * deposit's bridge), else the account's last session; a transfer's
         * payee hears of it on its own last session, and its payer's last
         * session, when that is a third one, gets a copy of its own (an out
         * message names two sessions) */
        const lx_ev_funds_t *f = &ev->u.funds;
        uint64_t own = f->account < s->naccounts ? s->account_session[f->account] : 0;
        o.session[0] = s->cur_session ? s->cur_session : own;
        if (ev->type == LX_EV_TRANSFER) {
            o.session[1] = f->to < s->naccounts ? s->account_session[f->to] : 0;
            if (own && own != o.session[0] && own != o.session[1]) payer = own;
        } else if (own != o.session[0]) {
            o.session[1] = own; /* a deposit: the account's session too */
        }
        break;
    }
    case LX_EV_REJECTED:
        /* any command a session sent (the node's own have session 0) */
        if (s->cur_session && !(echo && s->cur_parts > 1)) {
            o.session[0] = s->cur_session;
            o.client_id[0] = ev->u.rejected.client_id;
        }
        break;
    default:
        break;
    }
    o.kind = LX_NODE_OUT_EVENT;
    o.found = false;
    o.shard = (uint8_t)s->index;
    o.parts = s->cur_parts;
    o.tag = 0;
    o.t_rx = 0;
    o.ev = *ev;
    if (s->node->nshards > 1) globalize_event(s, &o.ev);
    dispatch(s, &o);
    unsigned pgw = LX_NODE_SESSION_GW(payer);
    if (payer && pgw < s->node->ngw && !(s->node->gw[pgw].flags & LX_NODE_GW_MARKET_DATA)) {
        /* only that session's gateway: its first report (TRANSFER_OUT) */
        lx_node_out_t *c = stage(s, pgw);
        *c = o;
        c->session[0] = payer;
        c->session[1] = 0;
    }
}

/* The open order of m->account that m->status names, if any. */
static bool status_find(shard_t *s, const lx_node_msg_t *m, lx_order_info_t *oi) {
    if (!m->status.by_client_id) /* a market named must be the order's, as for a cancel */
        return lx_engine_order(s->engine, m->status.order_id, oi) == 0 &&
               oi->account == m->account &&
               (m->status.market == LX_MARKET_ALL || oi->market == m->status.market);
    /* through the engine's client-id index: O(1), whatever the account holds */
    return lx_engine_order_by_client_id(s->engine, m->account, m->status.client_id, oi) == 0 &&
           (m->status.market == LX_MARKET_ALL || oi->market == m->status.market);
}

/* Answers a STATUS. One asked of every shard (m->fan) is answered by the
 * shard that finds the order, or by the last to look when none does. */
static void eng_status(shard_t *s, const lx_node_msg_t *m) {
    unsigned gw = LX_NODE_SESSION_GW(m->session);
    lx_order_info_t oi;
    bool found = status_find(s, m, &oi);
    uint64_t asked = globalize(s, m->status.order_id);
    if (m->fan) {
        /* one answer: the first shard that finds the order (a client id is
         * unique per shard only), else the last to look */
        bool first = found && atomic_exchange(&m->fan->found, 1) == 0;
        bool last = atomic_fetch_sub(&m->fan->left, 1) == 1;
        bool answer = first || (last && !found && !atomic_load(&m->fan->found));
        if (last) free(m->fan);
        if (!answer) return;
    }
    if (!m->session || gw >= s->node->ngw) return;
    lx_node_out_t *o = stage(s, gw);
    o->kind = LX_NODE_OUT_STATUS;
    o->tag = m->tag;
    o->session[0] = m->session;
    o->found = found;
    if (found) {
        o->order = oi;
        o->order.order_id = globalize(s, oi.order_id);
    } else {
        o->order.market = m->status.market;
        o->order.order_id = asked;
        o->order.client_id = m->status.client_id;
    }
}

/* ---- the start-up state for market-data gateways (lx_node_out_t, STATE) ---- */

typedef struct {
    shard_t *s;
    unsigned gw;
} dump_ctx_t;

static void dump_balance(void *ctx, lx_account_id_t a, lx_asset_id_t asset, int64_t free_,
                         int64_t locked) {
    dump_ctx_t *d = ctx;
    lx_node_out_t *o = stage(d->s, d->gw);
    o->kind = LX_NODE_OUT_STATE;
    o->ev.type = LX_EV_BALANCE;
    o->ev.market = LX_MARKET_NONE;
    o->ev.u.balance = (lx_ev_balance_t){a, asset, free_, locked};
}

/* Markets with their levels, balances, keys, then open orders per market
 * and side in priority order. Runs on the engine thread before the first
 * command. */
/* Every key the engine knows, as the event that made it what it is now
 * (identity state is the same in every shard: shard 0 tells it). */
static void dump_keys(shard_t *s, unsigned gw) {
    const lx_engine_t *e = s->engine;
    for (uint32_t i = 0, nk = s->index ? 0 : lx_engine_key_count(e); i < nk; i++) {
        lx_key_info_t k;
        lx_engine_key_nth(e, i, &k);
        lx_node_out_t *o = stage(s, gw);
        o->kind = LX_NODE_OUT_STATE;
        o->ev.type = k.role == LX_KEY_OWNER   ? LX_EV_KEY_BOUND
                     : k.role == LX_KEY_AGENT ? LX_EV_AGENT_APPROVED
                                              : LX_EV_AGENT_REVOKED;
        o->ev.market = LX_MARKET_NONE;
        o->ev.u.key.account = k.account;
        memcpy(o->ev.u.key.key, k.key, sizeof o->ev.u.key.key);
        memcpy(o->ev.u.key.name, k.name, sizeof o->ev.u.key.name);
        o->ev.u.key.expiry = k.expiry;
    }
}

/* The end of a gateway's start-up state: one from each shard. */
static void dump_end(shard_t *s, unsigned gw) {
    lx_node_out_t *end = stage(s, gw);
    end->kind = LX_NODE_OUT_STATE_END;
    end->parts = (uint8_t)s->node->nshards;
    stage_flush(s);
}

/* fn for every resting order (local ids), market by market, each side in
 * priority order. */
static void foreach_resting(shard_t *s, void (*fn)(void *ctx, const lx_order_info_t *oi),
                            void *ctx) {
    const lx_engine_t *e = s->engine;
    const lx_engine_config_t *ec = lx_engine_config(e);
    lx_order_info_t *ords = NULL;
    for (lx_market_id_t m = 0; m < ec->max_markets; m++) {
        lx_market_info_t mi;
        if (lx_engine_market_info(e, m, &mi) || mi.orders == 0) continue;
        lx_order_info_t *no = realloc(ords, mi.orders * sizeof *no);
        if (!no) continue;
        ords = no;
        for (uint8_t side = 0; side < 2; side++) {
            size_t got = lx_engine_book_orders(e, m, (lx_side_t)side, ords, mi.orders);
            for (size_t i = 0; i < got && i < mi.orders; i++) fn(ctx, &ords[i]);
        }
    }
    free(ords);
}

static void dump_order(void *ctx, const lx_order_info_t *oi) {
    dump_ctx_t *d = ctx;
    lx_node_out_t *o = stage(d->s, d->gw);
    o->kind = LX_NODE_OUT_STATE;
    o->ev.type = LX_EV_ORDER_ACCEPTED;
    o->ev.market = oi->market;
    o->order = *oi;
    o->order.order_id = globalize(d->s, oi->order_id);
}

/* The open orders again, account by account, each account's oldest first:
 * the order a gateway lists an account's orders in (the book order above
 * is time priority, which an amend changes). */
static void dump_ages(shard_t *s, unsigned gw) {
    const lx_engine_t *e = s->engine;
    lx_order_info_t *buf = NULL;
    size_t cap = 0;
    for (lx_account_id_t a = 0; a < lx_engine_config(e)->max_accounts; a++) {
        size_t n = lx_engine_account_orders(e, a, buf, cap);
        if (n > cap) {
            lx_order_info_t *nb = realloc(buf, n * sizeof *nb);
            if (!nb) continue; /* the gateway then lists them in book order */
            buf = nb, cap = n;
            n = lx_engine_account_orders(e, a, buf, cap);
        }
        for (size_t i = 0; i < n; i++) {
            lx_node_out_t *o = stage(s, gw);
            o->kind = LX_NODE_OUT_STATE;
            o->ev.type = LX_EV_ORDER_AMENDED;
            o->ev.market = buf[i].market;
            o->ev.u.amended.order_id = globalize(s, buf[i].order_id);
            o->ev.u.amended.account = a;
        }
    }
    free(buf);
}

static void dump_state(shard_t *s, unsigned gw) {
    const lx_engine_t *e = s->engine;
    const lx_engine_config_t *ec = lx_engine_config(e);
    size_t cap = 0;
    lx_level_t *lv = NULL;
    for (lx_market_id_t m = 0; m < ec->max_markets; m++) {
        lx_market_info_t mi;
        if (lx_engine_market_info(e, m, &mi)) continue;
        lx_node_out_t *o = stage(s, gw);
        o->kind = LX_NODE_OUT_STATE;
        o->ev.type = LX_EV_MARKET_STATE;
        o->ev.market = m;
        o->ev.market_seq = mi.market_seq;
        o->ev.ts = mi.last_ts; /* the ts of the market's last event */
        o->ev.u.market_state.halted = mi.halted;
        for (uint8_t side = 0; side < 2; side++) {
            size_t want = side == LX_SIDE_BUY ? mi.bid_levels : mi.ask_levels;
            if (want > cap) {
                lx_level_t *nl = realloc(lv, want * sizeof *nl);
                if (!nl) continue;
                lv = nl, cap = want;
            }
            size_t got = lx_engine_levels(e, m, (lx_side_t)side, lv, want);
            for (size_t i = 0; i < got; i++) {
                o = stage(s, gw);
                o->kind = LX_NODE_OUT_STATE;
                o->ev.type = LX_EV_BOOK_LEVEL;
                o->ev.market = m;
                o->ev.market_seq = mi.market_seq;
                o->ev.u.level = (lx_ev_level_t){side, lv[i].price, lv[i].qty, lv[i].count};
            }
        }
    }
    dump_ctx_t d = {s, gw};
    lx_engine_foreach_balance(e, dump_balance, &d);
    dump_keys(s, gw);
    foreach_resting(s, dump_order, &d);
    dump_ages(s, gw);
    free(lv);
    dump_end(s, gw);
}

/* After recovery, the client id of every resting order for its reports
 * (the protocol's FILL carries it, and the TRADE event does not): placed
 * before the restart, its session is gone, so its reports go to the
 * account's last session. */
static void route_order(void *ctx, const lx_order_info_t *oi) {
    shard_t *s = ctx;
    route_t *r = route_slot(s, oi->order_id);
    *r = (route_t){.order_id = oi->order_id, .session = 0, .client_id = oi->client_id};
}

static int eng_apply(shard_t *s, const lx_node_msg_t *m, const lx_sink_t *sink) {
    return lx_journal_apply(s->engine, &m->cmd, &m->auth, sink);
}

/* How often, and how far apart, a command the engine had no memory for is
 * tried again before the node stops (eng_cmd). */
#define ENOMEM_TRIES 100
#define ENOMEM_WAIT_NS 10000000L

static void eng_cmd(shard_t *s, const lx_node_msg_t *m, const lx_sink_t *sink) {
    lx_node_t *n = s->node;
    s->cur_session = m->session;
    s->cur_tag = m->tag;
    s->cur_t_rx = m->t_rx;
    s->cur_parts = m->parts;
    s->cur_account = lx_cmd_account(&m->cmd);
    int rc = eng_apply(s, m, sink);
    /* LX_ENOMEM: the engine changed nothing and did not take the command
     * (engine.h). It is in the journal already, so nothing after it may be
     * applied before it: it is tried again for about a second (memory may
     * come back), then the node stops and this thread applies nothing more;
     * a restart recovers the journal, this command included. */
    for (int k = 0; rc == LX_ENOMEM && k < ENOMEM_TRIES; k++) {
        struct timespec t = {0, ENOMEM_WAIT_NS};
        nanosleep(&t, NULL);
        rc = eng_apply(s, m, sink);
    }
    if (rc == LX_ENOMEM) {
        char what[96];
        snprintf(what, sizeof what, "shard %u: no memory to apply seq %llu", s->index,
                 (unsigned long long)m->cmd.seq);
        s->halted = true;
        lx__node_fail(n, rc, what);
    } else if (rc) {
        lx__node_log(n, "lxdexd: shard %u: engine refused seq %llu (%s)\n", s->index,
                     (unsigned long long)m->cmd.seq, lx_strerror(rc));
    }
    unsigned gw = LX_NODE_SESSION_GW(m->session);
    if (!s->halted && m->session && gw < n->ngw && (n->gw[gw].flags & LX_NODE_GW_DONE)) {
        lx_node_out_t *o = stage(s, gw);
        o->kind = LX_NODE_OUT_DONE;
        o->parts = m->parts ? m->parts : 1;
        o->session[0] = m->session;
        o->tag = m->tag;
        o->ev.seq = m->cmd.seq;
        o->ev.ts = m->cmd.ts;
    }
    s->cur_session = 0;
    s->cur_tag = 0;
    s->cur_t_rx = 0;
    s->cur_parts = 0;
}

/* Parked for a snapshot (see sequencer.c): reports out, then wait. */
static void eng_park(shard_t *s) {
    stage_flush(s);
    pthread_mutex_lock(&s->park_mu);
    s->park_state = 1;
    pthread_cond_broadcast(&s->park_cv);
    while (s->park_state == 1) pthread_cond_wait(&s->park_cv, &s->park_mu);
    s->park_state = 0;
    pthread_mutex_unlock(&s->park_mu);
}

void *lx__shard_main(void *arg) {
    shard_t *s = arg;
    lx_node_t *n = s->node;
    lx_sink_t sink = {.emit = on_event, .ctx = s};
    foreach_resting(s, route_order, s);
    for (unsigned i = 0; i < n->ngw; i++) {
        if (n->gw[i].flags & LX_NODE_GW_MARKET_DATA) {
            dump_state(s, i);
        } else if (n->gw[i].flags & LX_NODE_GW_KEYS) {
            dump_keys(s, i);
            dump_end(s, i);
        }
    }
    for (;;) {
        int g = lx_ring_peek_wait(s->ring, BATCH, LX_RING_FOREVER);
        if (g == LX_ECLOSED) break;
        if (g <= 0) continue;
        for (int i = 0; i < g; i++) {
            const lx_node_msg_t *m = lx_ring_rslot(s->ring, (uint32_t)i);
            switch (m->kind) {
            case LX_NODE_MSG_CMD:
                if (!s->halted) eng_cmd(s, m, &sink);
                break;
            case LX_NODE_MSG_STATUS:
                eng_status(s, m);
                break;
            case LX_NODE_MSG_BIND:
                if (m->account < s->naccounts) s->account_session[m->account] = m->session;
                break;
            case LX_NODE_MSG_PARK:
                eng_park(s);
                break;
            default:
                break;
            }
        }
        uint64_t now = lx__node_mono_ns();
        for (int i = 0; i < g; i++) {
            const lx_node_msg_t *m = lx_ring_rslot(s->ring, (uint32_t)i);
            if (m->t_rx && m->kind == LX_NODE_MSG_CMD)
                lx_lathist_add(&s->applied, now > m->t_rx ? now - m->t_rx : 0);
        }
        lx_ring_release(s->ring, (uint32_t)g);
        stage_flush(s);
    }
    stage_flush(s);
    for (unsigned i = 0; i < n->ngw; i++) {
        gateway_t *g = &n->gw[i];
        lx_ring_close(g->out[s->index]);
        if (g->notify) g->notify(g->notify_ctx);
    }
    return NULL;
}
