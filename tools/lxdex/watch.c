/*
 * watch.c: lxdex watch MARKET, a live view of one market in the terminal:
 * the top levels of its book on each side, the spread, and its latest
 * trades, kept current by the node's WebSocket API (docs/api.md §6).
 *
 * Where the data comes from. One GET /v1/markets (http.c) finds the market
 * (an unknown one is refused with the list of markets) and its tick and lot
 * sizes; one GET /v1/trades fills the trade list. Then one WebSocket
 * connection (libwebsockets' client, the library the node's gateway uses)
 * subscribes to the market's `trades` and `l2` channels. `l2` answers with a
 * snapshot of the whole book (l2_snapshot), then one delta per level change
 * (l2: side, price, size, count; size "0" removes the level), each with the
 * market sequence number and the CRC32 of the top 10 levels after it.
 *
 * The book. Two arrays of levels, best first (bids by price descending,
 * asks ascending), each level kept both as the API's decimal strings (what
 * is shown, never through double) and as integer ticks and lots (what is
 * sorted and checksummed). A delta whose seq is not above the book's is
 * stale and skipped. After each delta the CRC32 of the top 10 levels is
 * computed exactly as the server does (lx_view_checksum_levels: ticks and
 * lots as little-endian i64, bid/ask interleaved) and compared with the
 * delta's; on a mismatch the book is marked stale, deltas are ignored, and
 * the client subscribes to l2 again, which makes the server send a fresh
 * snapshot in stream order. The server never drops a message of a
 * connection (it disconnects a slow one instead), so a mismatch means a bug
 * on one side; `resyncs` in the header counts them.
 *
 * Drawing. Every applied message (snapshot, delta, trade) is an update. On
 * a terminal the screen is redrawn with plain ANSI escapes (home, clear,
 * hidden cursor), at most every 100 ms: a burst of deltas is drawn once.
 * With --plain there are no escapes and every update prints one block, for
 * scripts and tests; --updates N exits after N updates. Ctrl-C (SIGINT) or
 * SIGTERM ends the loop at the next 50 ms tick, restores the cursor and
 * exits 0.
 *
 * Exit status: 0 (interrupted, or N updates seen), 1 (node unreachable,
 * unknown market, the node closed the connection or sent an error), 2
 * usage. What this file does not do: reconnect after the node goes away,
 * or TLS (ws:// only; the node serves no wss://).
 */
#define _GNU_SOURCE
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lx/decimal.h"
#include "lx/view.h"
#include "lxdex_web.h"

#define MAX_TRADES 100
#define REDRAW_MS 100

typedef struct {
    char when[40], side[8], price[32], size[32];
    int64_t seq;
} trade_t;

typedef struct {
    lxdex_level_t *lv;
    size_t n, cap;
} side_t;

typedef struct {
    /* options */
    const char *ws_url, *http_url, *market;
    size_t depth, ntrades;
    bool plain;
    long max_updates;
    /* the market */
    char symbol[32], tick[32], lot[32];
    /* the book */
    side_t side[2]; /* 0 bids, 1 asks */
    int64_t seq;
    bool have_book, stale;
    uint32_t crc;
    bool crc_ok;
    long resyncs;
    /* trades, newest first */
    trade_t trades[MAX_TRADES];
    size_t ntr;
    int64_t last_trade_seq;
    /* the connection */
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t sul;
    bool established, closed;
    char *rx;
    size_t rxlen, rxcap;
    char *outq[4]; /* messages waiting for a writeable callback */
    int nout;
    /* drawing */
    long updates;
    bool dirty, drawn_once;
    int64_t last_draw;
    int rc;
    bool done;
} watch_t;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* ---- exact conversions ---------------------------------------------------------------------- */

static int frac(const char *s) {
    const char *d = strchr(s, '.');
    return d ? (int)strlen(d + 1) : 0;
}

/* v / step for two decimal strings, exactly; -1 when not a whole number. */
static int steps(const char *v, const char *step, int64_t *out) {
    int scale = frac(v) > frac(step) ? frac(v) : frac(step);
    int64_t a, b;
    if (scale > LX_DECIMAL_MAX_SCALE || lx_decimal_parse(v, scale, &a) ||
        lx_decimal_parse(step, scale, &b) || b <= 0 || a % b)
        return -1;
    *out = a / b;
    return 0;
}

static uint32_t book_crc(const watch_t *w) {
    lx_view_level_t l[2][10];
    size_t n[2];
    for (int s = 0; s < 2; s++) {
        n[s] = w->side[s].n < 10 ? w->side[s].n : 10;
        for (size_t i = 0; i < n[s]; i++) {
            l[s][i].price = w->side[s].lv[i].ticks;
            l[s][i].qty = w->side[s].lv[i].lots;
            l[s][i].count = (uint32_t)w->side[s].lv[i].count;
        }
    }
    return lx_view_checksum_levels(l[0], n[0], l[1], n[1]);
}

/* ---- the book ------------------------------------------------------------------------------- */

/* Fills a level from the API's strings; -1 when they are not on the grid. */
static int level_of(const watch_t *w, const char *price, const char *size, int64_t count,
                    lxdex_level_t *l) {
    if (strlen(price) >= sizeof l->price || strlen(size) >= sizeof l->size ||
        steps(price, w->tick, &l->ticks) || steps(size, w->lot, &l->lots))
        return -1;
    strcpy(l->price, price);
    strcpy(l->size, size);
    l->count = count;
    return 0;
}

static int load_side(watch_t *w, int s, const json_t *arr) {
    side_t *sd = &w->side[s];
    free(sd->lv);
    memset(sd, 0, sizeof *sd);
    if (lxdex_levels_from_json(arr, &sd->lv, &sd->n)) return -1;
    sd->cap = json_array_size(arr) ? json_array_size(arr) : 1;
    for (size_t i = 0; i < sd->n; i++) {
        lxdex_level_t *l = &sd->lv[i];
        if (steps(l->price, w->tick, &l->ticks) || steps(l->size, w->lot, &l->lots)) return -1;
    }
    return 0;
}

/* Sets, adds or (lots 0) removes the level at l->ticks. */
static int apply_level(side_t *sd, int s, const lxdex_level_t *l) {
    size_t i = 0;
    /* bids best (highest) first, asks best (lowest) first */
    while (i < sd->n && (s == 0 ? sd->lv[i].ticks > l->ticks : sd->lv[i].ticks < l->ticks)) i++;
    bool found = i < sd->n && sd->lv[i].ticks == l->ticks;
    if (l->lots == 0) {
        if (found) memmove(&sd->lv[i], &sd->lv[i + 1], (sd->n - i - 1) * sizeof *sd->lv);
        sd->n -= found;
        return 0;
    }
    if (found) {
        sd->lv[i] = *l;
        return 0;
    }
    if (sd->n == sd->cap) {
        size_t cap = sd->cap ? 2 * sd->cap : 64;
        lxdex_level_t *q = realloc(sd->lv, cap * sizeof *q);
        if (!q) return -1;
        sd->lv = q;
        sd->cap = cap;
    }
    memmove(&sd->lv[i + 1], &sd->lv[i], (sd->n - i) * sizeof *sd->lv);
    sd->lv[i] = *l;
    sd->n++;
    return 0;
}

/* ---- drawing -------------------------------------------------------------------------------- */

static void draw(watch_t *w) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return;
    if (w->plain)
        fprintf(m, "--- update %ld\n", w->updates);
    else
        fputs("\x1b[H\x1b[2J", m);
    fprintf(m, "%s  seq %lld  checksum %s  resyncs %ld\n", w->symbol, (long long)w->seq,
            w->stale    ? "stale (resubscribed)"
            : w->crc_ok ? "ok"
                        : "MISMATCH",
            w->resyncs);
    if (w->have_book)
        lxdex_book_print(m, w->side[0].lv, w->side[0].n, w->side[1].lv, w->side[1].n, w->depth);
    else
        fprintf(m, "(waiting for the book)\n");
    fprintf(m, "\nlatest trades (side is the taker's)\n");
    static const char *const head[] = {"TIME (UTC)", "SIDE", "PRICE", "SIZE"};
    lxdex_table_t t;
    lxdex_table_init(&t, 4, head, "ll..");
    for (size_t i = 0; i < w->ntr && i < w->ntrades; i++) {
        const trade_t *x = &w->trades[i];
        const char *cells[4] = {x->when, x->side, x->price, x->size};
        lxdex_table_add(&t, cells);
    }
    if (t.nrows)
        lxdex_table_print(m, &t);
    else
        fprintf(m, "(none yet)\n");
    lxdex_table_free(&t);
    if (!w->plain)
        fprintf(m, "\n%ld update%s; Ctrl-C to quit\n", w->updates, w->updates == 1 ? "" : "s");
    fclose(m);
    fwrite(buf, 1, len, stdout);
    if (w->plain) putchar('\n');
    fflush(stdout);
    free(buf);
    w->dirty = false;
    w->drawn_once = true;
    w->last_draw = lxdex_now_ms();
}

static void updated(watch_t *w) {
    w->updates++;
    w->dirty = true;
    if (w->plain) draw(w);
    if (w->max_updates && w->updates >= w->max_updates) w->done = true;
}

/* ---- messages ------------------------------------------------------------------------------- */

static void send_text(watch_t *w, const char *fmt, const char *a, const char *b) {
    if (w->nout == (int)(sizeof w->outq / sizeof w->outq[0])) return;
    char *s = NULL;
    if (asprintf(&s, fmt, a, b) < 0) return;
    w->outq[w->nout++] = s;
    if (w->wsi) lws_callback_on_writable(w->wsi);
}

static void subscribe(watch_t *w, const char *channel) {
    send_text(w, "{\"type\":\"subscribe\",\"channel\":\"%s\",\"market\":\"%s\"}", channel,
              w->symbol);
}

static void fail(watch_t *w, const char *fmt, const char *a, const char *b) {
    if (w->done) return; /* the first reason is the one that counts */
    fprintf(stderr, fmt, a, b);
    w->rc = 1;
    w->done = true;
}

static const char *jstr(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Puts a trade first in the list; false when it is already there. */
static bool add_trade(watch_t *w, const json_t *x) {
    int64_t seq = json_integer_value(json_object_get(x, "seq"));
    if (seq <= w->last_trade_seq) return false; /* already listed (from the GET) */
    w->last_trade_seq = seq;
    memmove(&w->trades[1], &w->trades[0], (MAX_TRADES - 1) * sizeof w->trades[0]);
    if (w->ntr < MAX_TRADES) w->ntr++;
    trade_t *t = &w->trades[0];
    memset(t, 0, sizeof *t);
    char full[40];
    lxdex_format_utc(json_integer_value(json_object_get(x, "ts")), full, sizeof full);
    snprintf(t->when, sizeof t->when, "%s", strlen(full) > 11 ? full + 11 : full);
    snprintf(t->side, sizeof t->side, "%s", jstr(x, "side"));
    snprintf(t->price, sizeof t->price, "%s", jstr(x, "price"));
    snprintf(t->size, sizeof t->size, "%s", jstr(x, "size"));
    t->seq = seq;
    return true;
}

static void on_message(watch_t *w, const char *text, size_t len) {
    if (w->done) return; /* --updates reached: the rest of this read is not shown */
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    const char *type = jstr(j, "type");
    if (!strcmp(type, "error")) {
        fail(w, "lxdex watch: the node answered: %s: %s\n", jstr(j, "code"), jstr(j, "message"));
    } else if (!strcmp(type, "l2_snapshot")) {
        if (load_side(w, 0, json_object_get(j, "bids")) ||
            load_side(w, 1, json_object_get(j, "asks"))) {
            fail(w, "lxdex watch: %s: a level of the snapshot is not on the grid (tick %s)\n",
                 w->symbol, w->tick);
        } else {
            w->seq = json_integer_value(json_object_get(j, "seq"));
            w->have_book = true;
            w->stale = false;
            w->crc = book_crc(w);
            w->crc_ok = w->crc == (uint32_t)json_integer_value(json_object_get(j, "checksum"));
            updated(w);
        }
    } else if (!strcmp(type, "l2") && w->have_book && !w->stale) {
        int64_t seq = json_integer_value(json_object_get(j, "seq"));
        const char *sd = jstr(j, "side");
        int s = !strcmp(sd, "buy") || !strcmp(sd, "bid") ? 0 : 1;
        lxdex_level_t l;
        if (seq > w->seq) {
            if (level_of(w, jstr(j, "price"), jstr(j, "size"),
                         json_integer_value(json_object_get(j, "count")), &l) ||
                apply_level(&w->side[s], s, &l)) {
                fail(w, "lxdex watch: %s: a delta is not on the grid (tick %s)\n", w->symbol,
                     w->tick);
            } else {
                w->seq = seq;
                w->crc = book_crc(w);
                w->crc_ok = w->crc == (uint32_t)json_integer_value(json_object_get(j, "checksum"));
                if (!w->crc_ok) { /* our book is wrong: get a fresh snapshot */
                    w->stale = true;
                    w->resyncs++;
                    subscribe(w, "l2");
                }
                updated(w);
            }
        }
    } else if (!strcmp(type, "trade") && add_trade(w, j)) {
        updated(w);
    }
    json_decref(j);
}

/* ---- libwebsockets -------------------------------------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    (void)user;
    watch_t *w = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        w->wsi = NULL;
        fail(w, "lxdex watch: cannot reach the node's WebSocket at %s: %s\n", w->ws_url,
             in ? (const char *)in : "connection failed");
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        w->established = true;
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (w->nout) {
            size_t n = strlen(w->outq[0]);
            unsigned char *buf = malloc(LWS_PRE + n);
            if (!buf) return -1;
            memcpy(buf + LWS_PRE, w->outq[0], n);
            int wr = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
            free(buf);
            free(w->outq[0]);
            memmove(&w->outq[0], &w->outq[1], (size_t)--w->nout * sizeof w->outq[0]);
            if (wr < (int)n) return -1;
            if (w->nout) lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (w->rxlen + len + 1 > w->rxcap) {
            size_t cap = w->rxcap ? w->rxcap : 65536;
            while (cap < w->rxlen + len + 1) cap *= 2;
            char *q = realloc(w->rx, cap);
            if (!q) return -1;
            w->rx = q;
            w->rxcap = cap;
        }
        memcpy(w->rx + w->rxlen, in, len);
        w->rxlen += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            on_message(w, w->rx, w->rxlen);
            w->rxlen = 0;
        }
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len > 2 && !w->done) {
            char why[128];
            snprintf(why, sizeof why, "%.*s", (int)(len - 2), (const char *)in + 2);
            fail(w, "lxdex watch: the node closed the connection: %s%s\n", why, "");
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        w->wsi = NULL;
        w->closed = true;
        if (!w->done) fail(w, "lxdex watch: the node closed the connection%s%s\n", "", "");
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {{"lxdex-watch", callback, 0, 65536, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

/* Makes lws_service return at least every 50 ms (signals, redraws). */
static void tick(lws_sorted_usec_list_t *sul) {
    watch_t *w = lws_container_of(sul, watch_t, sul);
    lws_sul_schedule(w->ctx, 0, &w->sul, tick, 50 * LWS_US_PER_MS);
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int find_market(watch_t *w) {
    json_t *j = lxdex_http_json(w->http_url, "/v1/markets", NULL, NULL, NULL);
    if (!j) return 1;
    const json_t *ms = json_object_get(j, "markets"), *found = NULL;
    for (size_t i = 0; i < json_array_size(ms) && !found; i++) {
        const json_t *m = json_array_get(ms, i);
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(m, "id")));
        if (!strcasecmp(jstr(m, "symbol"), w->market) || !strcmp(id, w->market)) found = m;
    }
    if (!found) {
        fprintf(stderr, "lxdex watch: unknown market \"%s\"; the node's markets:", w->market);
        for (size_t i = 0; i < json_array_size(ms); i++)
            fprintf(stderr, " %s", jstr(json_array_get(ms, i), "symbol"));
        fprintf(stderr, "\n");
        json_decref(j);
        return 1;
    }
    snprintf(w->symbol, sizeof w->symbol, "%s", jstr(found, "symbol"));
    snprintf(w->tick, sizeof w->tick, "%s", jstr(found, "tickSize"));
    snprintf(w->lot, sizeof w->lot, "%s", jstr(found, "lotSize"));
    json_decref(j);
    /* the latest trades, oldest first into the list */
    char *esc = lxdex_url_escape(w->symbol), *path = NULL;
    if (!esc || asprintf(&path, "/v1/trades/%s?limit=%zu", esc, w->ntrades) < 0) path = NULL;
    free(esc);
    j = path ? lxdex_http_json(w->http_url, path, NULL, NULL, NULL) : NULL;
    free(path);
    if (!j) return 1;
    const json_t *ts = json_object_get(j, "trades");
    for (size_t i = json_array_size(ts); i-- > 0;) add_trade(w, json_array_get(ts, i));
    json_decref(j);
    return 0;
}

static int connect_ws(watch_t *w, char *host, size_t hostcap, int *port, const char **path) {
    const char *u = w->ws_url;
    if (strncmp(u, "ws://", 5) != 0) {
        fprintf(stderr, "lxdex watch: --ws: a ws://HOST:PORT[/PATH] URL, got %s%s\n", u,
                !strncmp(u, "wss://", 6) ? " (TLS is not supported)" : "");
        return 2;
    }
    u += 5;
    size_t hl = strcspn(u, ":/");
    if (!hl || hl >= hostcap) {
        fprintf(stderr, "lxdex watch: --ws: no host in %s\n", w->ws_url);
        return 2;
    }
    memcpy(host, u, hl);
    host[hl] = 0;
    u += hl;
    *port = 80;
    if (*u == ':') {
        char *end;
        long p = strtol(u + 1, &end, 10);
        if (p < 1 || p > 65535 || (*end && *end != '/')) {
            fprintf(stderr, "lxdex watch: --ws: bad port in %s\n", w->ws_url);
            return 2;
        }
        *port = (int)p;
        u = end;
    }
    *path = *u ? u : "/";
    return 0;
}

int lxdex_watch(int argc, char **argv) {
    watch_t w;
    memset(&w, 0, sizeof w);
    w.ws_url = LXDEX_DEFAULT_WS;
    w.http_url = LXDEX_DEFAULT_URL;
    w.depth = 10;
    w.ntrades = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool val = !strcmp(a, "--ws") || !strcmp(a, "--url") || !strcmp(a, "--depth") ||
                   !strcmp(a, "--trades") || !strcmp(a, "--updates");
        if (val && i + 1 >= argc) {
            fprintf(stderr, "lxdex watch: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--ws")) {
            w.ws_url = argv[++i];
        } else if (!strcmp(a, "--url")) {
            w.http_url = argv[++i];
        } else if (!strcmp(a, "--plain")) {
            w.plain = true;
        } else if (val) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            long max = a[2] == 'd' ? 5000 : a[2] == 't' ? MAX_TRADES : 1000000000;
            if (*end || v < 1 || v > max) {
                fprintf(stderr, "lxdex watch: %s: a number from 1 to %ld, got %s\n", a, max,
                        argv[i]);
                return 2;
            }
            if (a[2] == 'd') w.depth = (size_t)v;
            if (a[2] == 't') w.ntrades = (size_t)v;
            if (a[2] == 'u') w.max_updates = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lxdex watch: unknown option %s (--help lists them)\n", a);
            return 2;
        } else if (!w.market) {
            w.market = a;
        } else {
            fprintf(stderr, "lxdex watch: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!w.market) {
        lxdex_usage(stderr, "watch", NULL);
        return 2;
    }
    char host[256];
    int port;
    const char *path;
    int rc = connect_ws(&w, host, sizeof host, &port, &path);
    if (rc || (rc = find_market(&w))) return rc;

    lws_set_log_level(0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = &w;
    w.ctx = lws_create_context(&info);
    if (!w.ctx) {
        fprintf(stderr, "lxdex watch: libwebsockets failed to start\n");
        return 1;
    }
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = w.ctx;
    ci.address = host;
    ci.port = port;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.local_protocol_name = protocols[0].name;
    ci.pwsi = &w.wsi;
    subscribe(&w, "trades"); /* sent once the connection is up */
    subscribe(&w, "l2");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!lws_client_connect_via_info(&ci)) {
        if (!w.done)
            fprintf(stderr, "lxdex watch: cannot reach the node's WebSocket at %s\n", w.ws_url);
        lws_context_destroy(w.ctx);
        return 1;
    }
    if (!w.plain) fputs("\x1b[?25l", stdout); /* hide the cursor */
    lws_sul_schedule(w.ctx, 0, &w.sul, tick, 50 * LWS_US_PER_MS);
    int64_t start = lxdex_now_ms();
    while (!w.done && !interrupted) {
        if (lws_service(w.ctx, 0) < 0) break;
        if (!w.established && lxdex_now_ms() - start > 5000) {
            fail(&w, "lxdex watch: no WebSocket handshake from %s within 5 s%s\n", w.ws_url, "");
            break;
        }
        if (!w.plain && w.dirty && lxdex_now_ms() - w.last_draw >= REDRAW_MS) draw(&w);
    }
    w.done = true; /* closing the connection below is not a failure */
    if (!w.plain && w.dirty && !w.rc) draw(&w);
    if (!w.plain) fputs("\x1b[?25h", stdout); /* the cursor back */
    fflush(stdout);
    lws_sul_cancel(&w.sul);
    lws_context_destroy(w.ctx);
    for (int i = 0; i < w.nout; i++) free(w.outq[i]);
    free(w.rx);
    free(w.side[0].lv);
    free(w.side[1].lv);
    return w.rc;
}

const char lxdex_watch_help[] =
    "Options:\n"
    "  --ws URL       the node's WebSocket API (default " LXDEX_DEFAULT_WS ")\n"
    "  --url URL      the node's HTTP API, for the market's tick and lot sizes and the\n"
    "                 trades before the start (default " LXDEX_DEFAULT_URL ")\n"
    "  --depth N      book levels shown per side (default 10)\n"
    "  --trades N     trades shown (default 10, at most 100)\n"
    "  --plain        no escape codes: print one block per update (for scripts)\n"
    "  --updates N    exit after N updates (a snapshot, a level change or a trade)\n"
    "\n"
    "Shows the book (top levels each side, spread) and the latest trades of MARKET, redrawn\n"
    "at most 10 times a second. The book is the l2 snapshot with every delta applied; each\n"
    "delta's CRC32 is checked, and on a mismatch the book is fetched again (the header's\n"
    "checksum and resyncs say so). Ctrl-C quits.\n"
    "Exit status: 0 quit or N updates seen, 1 node unreachable, unknown market or the\n"
    "connection ended, 2 usage error.\n";
