/*
 * web_out.c: the WebSocket output path of the web gateway (gw/web.h): each
 * connection's queue of frames, and the order-entry answers written by hand.
 *
 * Why this file exists. At about 95,000 orders/s over one connection the
 * gateway thread was the limit, and a profile of it (perf, `lxdex-bench
 * --ws 90000`) put a third of its time in jansson and a quarter in malloc,
 * free, memmove and the string functions, most of it to answer: per order, a
 * jansson tree for the result (a dozen allocations), its dump, a number
 * rewrite pass, a copy into a malloc'd queue entry and one lws_write, i.e.
 * one send(2), per message. The answers now take none of that:
 *
 * The queue. A connection's output is one growing byte buffer holding whole
 * WebSocket frames, already framed (RFC 6455 §5.2: FIN and opcode 1 for
 * text, then the payload length in 7, 7+16 or 7+64 bits, unmasked as a
 * server's frames are): `ob[oh .. ot)` is what is still to be written, and
 * the first LWS_PRE bytes of the buffer are never data (lws_write may use
 * the bytes before the pointer it is given). A message costs a memcpy into
 * the buffer; the WRITEABLE callback hands lws as many whole frames as are
 * queued, up to LX__WEB_WRITE_MAX bytes, in one lws_write(LWS_WRITE_RAW):
 * one system call for many answers. lws keeps what the socket did not take
 * and calls WRITEABLE again only once that is gone, so frames are never
 * interleaved with its own control frames. permessage-deflate is not
 * offered (no extensions are configured), which is what makes pre-framed
 * bytes valid on the wire. The buffer is bounded by the connection's output
 * limit (limits.slow_subscriber_buffer_bytes), frame headers included: past
 * it the queue is dropped and the connection closed (1008), as before; a
 * subscription's snapshot is exempt while it is written (see queue()).
 *
 * The answers. lx__web_ws_result() writes a `result` message straight into
 * a caller's buffer: the same members in the same order with the same text
 * as the jansson rendering (lx__web_outcome_json wrapped by web_ws.c), which
 * test_web_json.c checks byte for byte over every kind of outcome. Strings
 * are escaped as jansson's dump escapes them (quote, backslash, control
 * characters; UTF-8 passes through). The request id is kept as its JSON
 * text from the request (lx__web_id_text), so echoing it needs no json_t.
 * Anything that does not fit the buffer returns 0 and the caller uses the
 * jansson path; feeds, snapshots and errors still use it (they are not per
 * order).
 */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "gw/web.h"
#include "lx/jsonapi.h"

/* ---- text builder ------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    bool over;
} tb_t;

static void put(tb_t *b, const char *s, size_t n) {
    if (b->over || b->cap - b->n < n) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

#define PUT_LIT(b, s) put((b), (s), sizeof(s) - 1)

static void put_u64(tb_t *b, uint64_t v) {
    char t[24];
    size_t i = sizeof t;
    do t[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put(b, t + i, sizeof t - i);
}

/* A JSON string, escaped as jansson's json_dumps escapes it without
 * JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH. */
static void put_str(tb_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        put(b, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (ch) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[ch >> 4];
            e[5] = hex[ch & 15];
            en = 6;
            break;
        }
        put(b, e, en);
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

static void put_cstr(tb_t *b, const char *s) {
    put_str(b, s, strlen(s));
}

/* A decimal of n steps as a JSON string, or null (lx__web_price's rule). */
static void put_steps(tb_t *b, int64_t n, int64_t scale, int64_t step) {
    char t[64];
    int k = lx_api_from_steps(n, scale, step, t, sizeof t);
    if (k < 0)
        PUT_LIT(b, "null");
    else
        put_str(b, t, strlen(t));
}

/* ---- answers ------------------------------------------------------------------------------ */

int lx__web_id_text(const json_t *id, char *out, size_t cap) {
    tb_t b = {out, 0, cap, false};
    size_t n;
    const char *num;
    if (!id || json_is_null(id)) {
        PUT_LIT(&b, "null");
    } else if ((num = lx__web_num_text(id, &n)) != NULL) {
        put(&b, num, n);
    } else if (json_is_string(id)) {
        put_str(&b, json_string_value(id), json_string_length(id));
    } else if (json_is_true(id)) {
        PUT_LIT(&b, "true");
    } else if (json_is_false(id)) {
        PUT_LIT(&b, "false");
    } else {
        return -1;
    }
    return b.over ? -1 : (int)b.n;
}

size_t lx__web_ws_result(char *buf, size_t cap, const lx__web_markets_t *ms, const char *action,
                         const char *id, size_t idlen, const lx__web_outcome_t *o) {
    tb_t b = {buf, 0, cap, false};
    PUT_LIT(&b, "{\"type\":\"result\",\"id\":");
    put(&b, id, idlen);
    PUT_LIT(&b, ",\"action\":");
    put_cstr(&b, action);
    PUT_LIT(&b, ",\"result\":{");
    if (o->order_id) {
        PUT_LIT(&b, "\"orderId\":\"");
        put_u64(&b, o->order_id);
        PUT_LIT(&b, "\",");
    }
    PUT_LIT(&b, "\"status\":");
    put_cstr(&b, lx__web_outcome_status(o));
    if (o->rejected) {
        PUT_LIT(&b, ",\"reason\":");
        put_cstr(&b, lx_reject_name(o->reason));
        PUT_LIT(&b, ",\"message\":");
        put_cstr(&b, lx_reject_str(o->reason));
    }
    if (o->client_id) {
        PUT_LIT(&b, ",\"clientId\":\"");
        put_u64(&b, o->client_id);
        PUT_LIT(&b, "\"");
    }
    const lx__web_market_t *m = lx__web_market_get(ms, o->market);
    if (o->cmd_type == LX_CMD_CANCEL_ALL) {
        PUT_LIT(&b, ",\"canceled\":");
        put_u64(&b, o->ncanceled);
    } else if (m && !o->rejected) {
        PUT_LIT(&b, ",\"market\":");
        put_cstr(&b, m->m->symbol);
        if (o->cmd_type != LX_CMD_CANCEL || o->qty) {
            PUT_LIT(&b, ",\"price\":");
            put_steps(&b, o->price, m->quote_scale, m->m->tick_size);
            PUT_LIT(&b, ",\"size\":");
            put_steps(&b, o->qty, m->base_scale, m->m->lot_size);
            PUT_LIT(&b, ",\"filled\":");
            put_steps(&b, o->filled, m->base_scale, m->m->lot_size);
            PUT_LIT(&b, ",\"remaining\":");
            put_steps(&b, o->remaining, m->base_scale, m->m->lot_size);
        }
        if (o->canceled) {
            PUT_LIT(&b, ",\"cancelReason\":");
            put_cstr(&b, lx_cancel_reason_name(o->cancel_reason));
        }
        if (o->nfills) {
            PUT_LIT(&b, ",\"fills\":[");
            for (uint32_t i = 0; i < o->nfills; i++) {
                const lx__web_fill_t *f = &o->fills[i];
                if (i) PUT_LIT(&b, ",");
                PUT_LIT(&b, "{\"price\":");
                put_steps(&b, f->price, m->quote_scale, m->m->tick_size);
                PUT_LIT(&b, ",\"size\":");
                put_steps(&b, f->qty, m->base_scale, m->m->lot_size);
                PUT_LIT(&b, ",\"fee\":");
                put_steps(&b, f->fee, m->quote_scale, 1);
                PUT_LIT(&b, ",\"liquidity\":");
                put_cstr(&b, f->maker ? "maker" : "taker");
                PUT_LIT(&b, "}");
            }
            PUT_LIT(&b, "]");
            if (o->fills_dropped) {
                PUT_LIT(&b, ",\"fillsNotListed\":");
                put_u64(&b, o->fills_dropped);
            }
        }
    }
    if (o->seq) {
        PUT_LIT(&b, ",\"seq\":");
        put_u64(&b, o->seq);
    }
    PUT_LIT(&b, "}}");
    return b.over ? 0 : b.n;
}

/* ---- the queue ---------------------------------------------------------------------------- */

void lx__web_out_drop(lx__web_conn_t *c) {
    free(c->ob);
    c->ob = NULL;
    c->oh = c->ot = c->ocap = 0;
    c->qbytes = 0;
    c->snap_left = 0;
}

/* The bound. A message is refused (and the connection closed) when the
 * queue would pass g->out_max with it, not counting the snapshot bytes still
 * in it (snap_left). A snapshot (l2, l3, orders: the answer to a subscribe)
 * is refused only when the queue, all of it, is already past the bound
 * before it: it is the client's own request, it can be larger than the
 * bound by itself (a deep book), and refusing it would make the channel
 * unusable; the check before it still stops a client that subscribes again
 * and again without reading, so the queue never holds more than the bound
 * plus one snapshot. Written bytes are taken off snap_left first, so a
 * snapshot behind other messages counts as written a little early: the
 * bound can only be stricter for that. */
static void queue(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len, bool snapshot) {
    if (!c || c->closing || !c->ws) return;
    size_t need = len + 10; /* the longest frame header */
    if (snapshot ? c->qbytes > g->out_max : c->qbytes - c->snap_left + need > g->out_max) {
        lx__web_out_drop(c);
        g->m.slow_closed++;
        char why[120];
        snprintf(why, sizeof why, "slow subscriber: more than %llu bytes of output queued",
                 (unsigned long long)g->out_max);
        lx__web_log(g, "lxdexd: web: %s closed: %s\n", c->peer, why);
        lx__web_close(g, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
        return;
    }
    bool was_empty = c->ot == c->oh;
    if (c->ocap - c->ot < need) {
        /* move what is left to the front, then grow if that is not enough */
        size_t left = c->ot - c->oh;
        if (c->ob && c->oh > LWS_PRE) {
            memmove(c->ob + LWS_PRE, c->ob + c->oh, left);
            c->oh = LWS_PRE;
            c->ot = LWS_PRE + left;
        }
        if (c->ocap - c->ot < need) {
            size_t cap = c->ocap ? c->ocap : 16384;
            while (cap - c->ot < need || cap < LWS_PRE + need) cap *= 2;
            unsigned char *nb = realloc(c->ob, cap);
            if (!nb) {
                lx__web_close(g, c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
                return;
            }
            if (!c->ob) c->oh = c->ot = LWS_PRE;
            c->ob = nb;
            c->ocap = cap;
        }
    }
    unsigned char *f = c->ob + c->ot;
    size_t h = 0;
    f[h++] = 0x81; /* FIN, text */
    if (len < 126) {
        f[h++] = (unsigned char)len;
    } else if (len < 65536) {
        f[h++] = 126;
        f[h++] = (unsigned char)(len >> 8);
        f[h++] = (unsigned char)len;
    } else {
        f[h++] = 127;
        for (int i = 7; i >= 0; i--) f[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memcpy(f + h, text, len);
    c->ot += h + len;
    c->qbytes = c->ot - c->oh;
    if (snapshot) c->snap_left += h + len;
    if (was_empty) lws_callback_on_writable(c->wsi);
}

void lx__web_send(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len) {
    queue(g, c, text, len, false);
}

void lx__web_send_big(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len) {
    queue(g, c, text, len, true);
}

/* The length of the whole frame at p (one of ours: well formed). */
static size_t frame_len(const unsigned char *p) {
    uint64_t n = p[1] & 0x7f;
    if (n == 126) return 4 + ((size_t)p[2] << 8 | p[3]);
    if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | p[2 + i];
        return 10 + (size_t)n;
    }
    return 2 + (size_t)n;
}

int lx__web_out_write(lx__web_t *g, lx__web_conn_t *c) {
    (void)g;
    if (c->ot > c->oh) {
        size_t n = 0, left = c->ot - c->oh;
        while (n < left) {
            size_t f = frame_len(c->ob + c->oh + n);
            if (n && n + f > LX__WEB_WRITE_MAX) break;
            n += f;
        }
        if (lws_write(c->wsi, c->ob + c->oh, n, LWS_WRITE_RAW) < 0) return -1;
        c->oh += n;
        if (c->oh == c->ot) c->oh = c->ot = LWS_PRE;
        c->qbytes = c->ot - c->oh;
        c->snap_left = c->snap_left > n ? c->snap_left - n : 0;
        if (c->ot > c->oh || c->closing) lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->closing) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    return 0;
}
