/*
 * fuzz_json.c: the JSON API's decoding layer: the exact decimal -> tick/lot
 * conversion (lx/jsonapi.h), the read model (lx/view.h) that answers the
 * API's queries, and the web gateway's message parser (gw/web.h: exact
 * numbers, actions from the own API's and JSON-RPC's fields).
 *
 * First byte 2 (mod 4): message mode. The rest is JSON text: it must parse
 * or fail with a message; once parsed, its dump must parse again to the
 * same dump (numbers keep their text); every action type is built from it
 * (the object, and its "params" under JSON-RPC's names) against the dev
 * configuration and a view holding one order, and a success must be a
 * command with positive price and size and an account in range.
 * First byte 0 (mod 4): decimal mode. Byte 1 picks the scale (10^(b % 19), or a
 * non-power-of-ten when b >= 240), bytes 2..3 the step (0 allowed), the rest
 * is the text. A success must round-trip: to_steps(from_steps(n)) == n.
 * First byte odd: view mode. The rest is 8-byte records, each one event
 * (book level, trade, accept, cancel, amend, balance) on markets 0..2 with
 * sequence numbers mostly right and sometimes wrong; after each, both sides
 * must be strictly sorted best first with positive qty, and the order and
 * trade queries must not crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/web.h"
#include "lx/config.h"
#include "lx/error.h"
#include "lx/jsonapi.h"
#include "lx/view.h"

static void check(int ok) {
    if (!ok) abort();
}

static void fuzz_decimal(const uint8_t *d, size_t n) {
    if (n < 3) return;
    int64_t scale = d[0] >= 240 ? 1200 : 1;
    for (int i = 0; d[0] < 240 && i < d[0] % 19; i++) scale *= 10;
    int64_t step = (int64_t)d[1] << 8 | d[2];
    int64_t out = 0;
    const char *why = NULL;
    int rc = lx_api_to_steps((const char *)d + 3, n - 3, scale, step, &out, &why);
    if (rc != 0) {
        check(rc == LX_EINVAL && why != NULL);
        return;
    }
    check(out > 0 && why == NULL);
    char buf[64];
    int len = lx_api_from_steps(out, scale, step, buf, sizeof buf);
    check(len > 0 && (size_t)len < sizeof buf);
    int64_t back = 0;
    check(lx_api_to_steps(buf, (size_t)len, scale, step, &back, NULL) == 0 && back == out);
}

static void fuzz_view(const uint8_t *d, size_t n) {
    lx_view_t *v = lx_view_create(2);
    if (!v) return;
    uint64_t seq[3] = {0, 0, 0};
    for (size_t i = 0; i + 8 <= n; i += 8) {
        const uint8_t *r = d + i;
        lx_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.market = r[0] % 3; /* market 2 is out of range */
        ev.market_seq = (r[0] & 0x80) ? seq[ev.market] + (r[1] & 3) : seq[ev.market] + 1;
        int64_t px = 100 + (r[2] & 31), qty = r[3] & 15;
        lx_order_id_t id = r[4] & 31;
        switch (r[1] >> 4) {
        case 0:
        case 1:
        case 2:
            ev.type = LX_EV_BOOK_LEVEL;
            ev.u.level = (lx_ev_level_t){.side = r[5] & 1, .price = px, .qty = qty, .count = r[6]};
            break;
        case 3:
            ev.type = LX_EV_TRADE;
            ev.u.trade.maker_order = id;
            ev.u.trade.taker_order = r[5] & 31;
            ev.u.trade.price = px;
            ev.u.trade.qty = qty;
            ev.u.trade.maker_remaining = r[6] & 3;
            ev.u.trade.taker_remaining = r[7] & 3;
            break;
        case 4:
        case 5:
            ev.type = LX_EV_ORDER_ACCEPTED;
            ev.u.accepted = (lx_ev_accepted_t){
                .order_id = id, .account = r[5] & 3, .side = r[6] & 1, .price = px, .qty = qty};
            break;
        case 6:
            ev.type = LX_EV_ORDER_CANCELED;
            ev.u.canceled.order_id = id;
            break;
        case 7:
            ev.type = LX_EV_ORDER_AMENDED;
            ev.u.amended = (lx_ev_amended_t){.order_id = id,
                                             .price = px,
                                             .qty = qty,
                                             .remaining = r[5] & 7,
                                             .priority_lost = r[6] & 1};
            break;
        default:
            ev.type = LX_EV_BALANCE;
            ev.market = LX_MARKET_NONE;
            ev.market_seq = 0;
            ev.u.balance = (lx_ev_balance_t){.account = r[5], .asset = r[6], .free = px};
            break;
        }
        int rc = lx_view_apply(v, &ev);
        check(rc == 0 || rc == LX_VIEW_GAP || rc == LX_EINVAL);
        if (rc == 0 && ev.market < 2) seq[ev.market] = ev.market_seq;
        for (lx_market_id_t m = 0; m < 2; m++) {
            check(lx_view_market_seq(v, m) == seq[m]);
            for (uint8_t s = 0; s < 2; s++) {
                lx_view_level_t lv[40];
                size_t k = lx_view_levels(v, m, s, lv, 40);
                for (size_t j = 0; j < k; j++) {
                    check(lv[j].qty > 0);
                    if (j)
                        check(s == 0 ? lv[j - 1].price > lv[j].price
                                     : lv[j - 1].price < lv[j].price);
                }
            }
            (void)lx_view_checksum(v, m);
            lx_view_trade_t tr[4];
            (void)lx_view_trades(v, m, tr, 4);
        }
        lx_view_order_t os[40];
        (void)lx_view_account_orders(v, r[5] & 3, os, 40);
    }
    lx_view_destroy(v);
}

static void check_action(const lx__web_markets_t *ms, const lx_view_t *view, int type,
                         const lx__web_fields_t *f, lx_account_id_t account) {
    lx__web_action_t a;
    char err[LX__WEB_ERR];
    err[0] = '\0';
    if (lx__web_action(ms, view, type, f, account, &a, err, sizeof err) != 0) {
        check(err[0] != '\0');
        return;
    }
    check((int)a.cmd.type == type && a.weight >= 1);
    check(a.account < ms->cfg->engine.max_accounts);
    if (type == LX_CMD_PLACE) {
        check(a.cmd.u.place.price > 0 && a.cmd.u.place.qty > 0);
        check(lx__web_market_get(ms, a.cmd.u.place.market) != NULL);
    }
    if (type == LX_CMD_AMEND) check(a.cmd.u.amend.price > 0 && a.cmd.u.amend.qty > 0);
}

/* The WebSocket fast path (lx__web_flat) against the slow one: a message the
 * flat reader accepts parses with jansson to an object of the same members,
 * the same kinds and texts, and gives the same action or the same refusal. */
static void check_flat(const lx__web_markets_t *ms, const lx_view_t *view, const char *t,
                       size_t n) {
    lx__web_member_t m[LX__WEB_FLAT_MAX];
    int k = lx__web_flat(t, n, m, LX__WEB_FLAT_MAX);
    if (k < 0) return;
    json_t *v = NULL;
    char err[LX__WEB_ERR];
    check(lx__web_parse(t, n, &v, err, sizeof err) == 0 && json_is_object(v));
    check(json_object_size(v) == (size_t)k);
    for (int i = 0; i < k; i++) {
        lx__web_val_t x = lx__web_val(json_object_getn(v, m[i].key, m[i].klen));
        check(x.kind == m[i].v.kind);
        if (x.kind == LX__WEB_V_STRING || x.kind == LX__WEB_V_NUMBER)
            check(x.n == m[i].v.n && !memcmp(x.s, m[i].v.s, x.n));
    }
    static const int types[] = {LX_CMD_PLACE, LX_CMD_CANCEL, LX_CMD_AMEND, LX_CMD_CANCEL_ALL};
    static const char *const extra[] = {"type", "id", NULL};
    for (int i = 0; i < 4; i++) {
        lx__web_fields_t f1, f2;
        int r1 = lx__web_own_fields_flat(m, k, types[i], extra, &f1);
        int r2 = lx__web_own_fields(v, types[i], extra, &f2, err, sizeof err);
        check(r1 == r2);
        if (r1) continue;
        lx__web_action_t a1, a2;
        char e1[LX__WEB_ERR] = "", e2[LX__WEB_ERR] = "";
        r1 = lx__web_action(ms, view, types[i], &f1, 9, &a1, e1, sizeof e1);
        r2 = lx__web_action(ms, view, types[i], &f2, 9, &a2, e2, sizeof e2);
        check(r1 == r2 && !strcmp(e1, e2));
        if (!r1) check(!memcmp(&a1, &a2, sizeof a1));
    }
    json_decref(v);
}

static void fuzz_message(const uint8_t *d, size_t n) {
    static lx_config_t cfg;
    static lx__web_markets_t ms;
    static lx_view_t *view;
    if (!view) {
        char err[256];
        if (lx_config_default(&cfg, err, sizeof err) || lx__web_markets_init(&ms, &cfg)) abort();
        view = lx_view_create(ms.nmk);
        lx_view_order_t o = {.order_id = 77,
                             .account = 9,
                             .market = 1,
                             .qty = 5,
                             .remaining = 5,
                             .price = 100,
                             .client_id = 555};
        if (!view || lx_view_load_order(view, &o)) abort();
    }
    check_flat(&ms, view, (const char *)d, n);
    json_t *v = NULL;
    char err[LX__WEB_ERR];
    err[0] = '\0';
    if (lx__web_parse((const char *)d, n, &v, err, sizeof err) != 0) {
        check(v == NULL && err[0] != '\0');
        return;
    }
    size_t len1, len2;
    char *s1 = lx__web_dump(v, &len1);
    if (s1) {
        json_t *w = NULL;
        check(lx__web_parse(s1, len1, &w, err, sizeof err) == 0);
        char *s2 = lx__web_dump(w, &len2);
        check(s2 && len1 == len2 && !memcmp(s1, s2, len1));
        free(s2);
        json_decref(w);
        free(s1);
    }
    if (json_is_object(v)) {
        static const int types[] = {LX_CMD_PLACE, LX_CMD_CANCEL, LX_CMD_AMEND, LX_CMD_CANCEL_ALL};
        static const char *const extra[] = {"type", "id", NULL};
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            uint64_t u;
            size_t tl;
            (void)lx__web_u64(x, &u);
            (void)lx__web_text(x, &tl);
        }
        for (int i = 0; i < 4; i++) {
            lx__web_fields_t f;
            if (lx__web_own_fields(v, types[i], extra, &f, err, sizeof err) == 0) {
                check_action(&ms, view, types[i], &f, 9);
                check_action(&ms, view, types[i], &f, LX_ACCOUNT_NONE);
            }
        }
        const json_t *p = json_object_get(v, "params");
        if (json_is_object(p)) { /* JSON-RPC's names */
            lx__web_fields_t f = {0};
            f.market = lx__web_val(json_object_get(p, "symbol"));
            f.type = lx__web_val(json_object_get(p, "type"));
            f.side = lx__web_val(json_object_get(p, "side"));
            f.price = lx__web_val(json_object_get(p, "price"));
            f.size = lx__web_val(json_object_get(p, "size"));
            f.account = lx__web_val(json_object_get(p, "userID"));
            f.client_id = lx__web_val(json_object_get(p, "clientID"));
            f.tif = lx__web_val(json_object_get(p, "timeInForce"));
            f.post_only = lx__web_val(json_object_get(p, "postOnly"));
            f.order_id = lx__web_val(json_object_get(p, "orderId"));
            for (int i = 0; i < 4; i++) check_action(&ms, view, types[i], &f, LX_ACCOUNT_NONE);
        }
    }
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1)
        fuzz_view(data + 1, size - 1);
    else if ((data[0] & 3) == 2)
        fuzz_message(data + 1, size - 1);
    else
        fuzz_decimal(data + 1, size - 1);
    return 0;
}
