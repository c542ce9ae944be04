/*
 * read.c: lxdex markets | book | trades | balances | orders, the read
 * commands, each one GET of the node's HTTP JSON API (docs/api.md §4):
 *
 *   markets              GET /v1/markets
 *   book MARKET          GET /v1/book/{market}?depth=N
 *   trades MARKET        GET /v1/trades/{market}?limit=N
 *   balances ACCOUNT     GET /v1/accounts/{id}/balances
 *   orders ACCOUNT       GET /v1/accounts/{id}/orders
 *
 * By default the answer is printed as an aligned table (http.c), decimals
 * exactly as the API wrote them; `--json` prints the body as received,
 * byte for byte, for scripts (pipe it to jq). `--url` names the node
 * (default http://127.0.0.1:8080, the dev node of `make run`). A node
 * outside dev mode shows an account only to a signed request: with --key,
 * balances and orders sign theirs (lx_sign_read_header: the path, the
 * clock, the chain id of --config or the embedded configuration).
 *
 * A market is named as the API accepts it (symbol in any case, or id) and
 * escaped into the path. When the node answers "unknown market", the
 * command also lists the markets it has (one more GET), so a typo is fixed
 * in one step. Exit status: 0 shown, 1 the node could not be reached or
 * answered an error (its message on stderr), 2 a usage error.
 *
 * Nothing is cached and nothing is converted: this file only formats what
 * one answer holds. The book block is shared with `watch` (http.c).
 */
#define _GNU_SOURCE
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/sign.h"
#include "lxdex_web.h"

typedef struct {
    const char *url;
    const char *key, *config; /* balances, orders: sign the GET (outside dev mode) */
    bool json;
    long depth, limit;
    int npos;
    const char *pos[2];
} ropts_t;

/* Parses [--url URL] [--json] [--depth N] [--limit N] [--key FILE]
 * [--config FILE] and npos positional arguments; `allow` names the options
 * the command takes beyond --url and --json. 0 or 2. */
static int parse(int argc, char **argv, const char *allow, int npos, ropts_t *o) {
    memset(o, 0, sizeof *o);
    o->url = LXDEX_DEFAULT_URL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool num = !strcmp(a, "--depth") || !strcmp(a, "--limit");
        bool file = !strcmp(a, "--key") || !strcmp(a, "--config");
        if ((!strcmp(a, "--url") || num || file) && i + 1 >= argc) {
            fprintf(stderr, "lxdex %s: %s needs a value\n", argv[0], a);
            return 2;
        }
        if (!strcmp(a, "--url")) {
            o->url = argv[++i];
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (num && strstr(allow, a)) {
            uint64_t v;
            long max = a[2] == 'd' ? 5000 : 1000; /* the API's bounds (docs/api.md §4) */
            if (!lxdex_parse_u64(argv[++i], 1, (uint64_t)max, &v)) {
                fprintf(stderr, "lxdex %s: %s: a number from 1 to %ld, got '%s'\n", argv[0], a, max,
                        argv[i]);
                return 2;
            }
            *(a[2] == 'd' ? &o->depth : &o->limit) = (long)v;
        } else if (file && strstr(allow, a)) {
            *(a[2] == 'k' ? &o->key : &o->config) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lxdex %s: unknown option %s (--help lists them)\n", argv[0], a);
            return 2;
        } else if (o->npos < npos) {
            o->pos[o->npos++] = a;
        } else {
            fprintf(stderr, "lxdex %s: unexpected argument '%s'\n", argv[0], a);
            return 2;
        }
    }
    if (o->npos != npos) {
        lxdex_usage(stderr, argv[0], NULL);
        return 2;
    }
    return 0;
}

/* Prints the body as received (with a final newline). */
static void print_raw(const lxdex_body_t *b) {
    fwrite(b->data, 1, b->len, stdout);
    if (!b->len || b->data[b->len - 1] != '\n') putchar('\n');
}

static const char *str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* An integer field as text ("" when absent). */
static const char *num(const json_t *o, const char *key, char *buf, size_t cap) {
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
    else
        buf[0] = 0;
    return buf;
}

/* After "unknown market": the markets the node has. */
static void hint_markets(const char *url) {
    lxdex_body_t b;
    long st;
    if (lxdex_http_get(url, "/v1/markets", NULL, &b, &st) || st != 200) return lxdex_body_free(&b);
    json_error_t e;
    json_t *j = json_loadb(b.data, b.len, 0, &e);
    const json_t *ms = json_object_get(j, "markets");
    if (json_array_size(ms)) {
        fprintf(stderr, "lxdex: the node's markets:");
        for (size_t i = 0; i < json_array_size(ms); i++)
            fprintf(stderr, " %s", str(json_array_get(ms, i), "symbol"));
        fprintf(stderr, "\n");
    }
    json_decref(j);
    lxdex_body_free(&b);
}

/* The Authorization header of a signed read of path (docs/api.md §4) with
 * --key, for the chain id of --config (or the embedded configuration's).
 * 0, or 1 with a message. */
static int sign_read(const ropts_t *o, const char *path, char *out, size_t cap) {
    lxdex_conn_t c;
    memset(&c, 0, sizeof c);
    uint8_t sk[64], pk[32];
    if (lxdex_conn_config(&c, o->config)) return 1;
    uint32_t chain = c.cfg.node.chain_id;
    lx_config_free(&c.cfg);
    if (lxdex_key_load(o->key, sk, pk)) return 1;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    int n =
        lx_sign_read_header(chain, sk, (int64_t)t.tv_sec * 1000000000 + t.tv_nsec, path, out, cap);
    sodium_memzero(sk, sizeof sk);
    if (n < 0) fprintf(stderr, "lxdex: cannot sign the request for %s\n", path);
    return n < 0;
}

/* GETs path (signed with --key); prints the raw body for --json. Returns
 * the parsed answer for a table, or NULL with *rc set (0 when --json
 * printed it). */
static json_t *fetch(const ropts_t *o, const char *path, bool market_path, int *rc) {
    lxdex_body_t b;
    long st = 0;
    char authz[LX_SIGN_READ_HEADER_MAX];
    *rc = 1;
    if (o->key && sign_read(o, path, authz, sizeof authz)) return NULL;
    json_t *j = lxdex_http_json(o->url, path, o->key ? authz : NULL, &b, &st);
    *rc = 1;
    if (!j && market_path && st == 404) hint_markets(o->url);
    if (j && o->json) {
        print_raw(&b);
        json_decref(j);
        j = NULL;
        *rc = 0;
    }
    lxdex_body_free(&b);
    return j;
}

/* "/v1/<a>/<escaped b><c>" */
static char *path_of(const char *a, const char *b, const char *c) {
    char *e = lxdex_url_escape(b), *p = NULL;
    if (e && asprintf(&p, "/v1/%s/%s%s", a, e, c) < 0) p = NULL;
    free(e);
    return p;
}

int lxdex_read_markets(int argc, char **argv) {
    ropts_t o;
    int rc = parse(argc, argv, "", 0, &o);
    if (rc) return rc;
    json_t *j = fetch(&o, "/v1/markets", false, &rc);
    if (!j) return rc;
    static const char *const head[] = {"ID",    "SYMBOL",    "BASE",      "QUOTE",    "TICK",
                                       "LOT",   "MIN PRICE", "MAX PRICE", "MAX SIZE", "MAKER",
                                       "TAKER", "HALTED",    "SEQ"};
    lxdex_table_t t;
    lxdex_table_init(&t, 13, head, "rlll.......lr");
    const json_t *ms = json_object_get(j, "markets");
    for (size_t i = 0; i < json_array_size(ms); i++) {
        const json_t *m = json_array_get(ms, i);
        char id[24], halted[8], seq[24];
        const char *cells[13] = {num(m, "id", id, sizeof id),
                                 str(m, "symbol"),
                                 str(m, "base"),
                                 str(m, "quote"),
                                 str(m, "tickSize"),
                                 str(m, "lotSize"),
                                 str(m, "minPrice"),
                                 str(m, "maxPrice"),
                                 str(m, "maxSize"),
                                 str(m, "makerFee"),
                                 str(m, "takerFee"),
                                 num(m, "halted", halted, sizeof halted),
                                 num(m, "seq", seq, sizeof seq)};
        lxdex_table_add(&t, cells);
    }
    lxdex_table_print(stdout, &t);
    lxdex_table_free(&t);
    json_decref(j);
    return 0;
}

/* book and trades: parses the arguments (MARKET and the option opt, whose
 * value or dflt goes into the query) and GETs /v1/<what>/<market>?<key>=N. */
static json_t *market_get(int argc, char **argv, const char *what, const char *opt, long dflt,
                          int *rc) {
    ropts_t o;
    if ((*rc = parse(argc, argv, opt, 1, &o))) return NULL;
    long v = opt[2] == 'd' ? o.depth : o.limit;
    char q[48];
    snprintf(q, sizeof q, "?%s=%ld", opt + 2, v ? v : dflt);
    char *path = path_of(what, o.pos[0], q);
    *rc = 1;
    if (!path) return NULL;
    json_t *j = fetch(&o, path, true, rc);
    free(path);
    return j;
}

int lxdex_read_book(int argc, char **argv) {
    int rc;
    json_t *j = market_get(argc, argv, "book", "--depth", 10, &rc);
    if (!j) return rc;
    lxdex_level_t *bids = NULL, *asks = NULL;
    size_t nb = 0, na = 0;
    rc = 1;
    if (lxdex_levels_from_json(json_object_get(j, "bids"), &bids, &nb) ||
        lxdex_levels_from_json(json_object_get(j, "asks"), &asks, &na)) {
        fprintf(stderr, "lxdex book: the answer's levels are not [price, size, count]\n");
    } else {
        char seq[24], ck[24];
        printf("%s  seq %s  checksum %s\n", str(j, "market"), num(j, "seq", seq, sizeof seq),
               num(j, "checksum", ck, sizeof ck));
        lxdex_book_print(stdout, bids, nb, asks, na, (size_t)-1);
        rc = 0;
    }
    free(bids);
    free(asks);
    json_decref(j);
    return rc;
}

/* ns since the epoch -> "09:30:00.123" (UTC; the date is dropped) */
static const char *clock_of(const json_t *o, char *buf, size_t cap) {
    const json_t *v = json_object_get(o, "ts");
    if (!json_is_integer(v)) return "";
    char full[40];
    lxdex_format_utc(json_integer_value(v), full, sizeof full);
    snprintf(buf, cap, "%s", strlen(full) > 11 ? full + 11 : full);
    return buf;
}

int lxdex_read_trades(int argc, char **argv) {
    int rc;
    json_t *j = market_get(argc, argv, "trades", "--limit", 20, &rc);
    if (!j) return rc;
    static const char *const head[] = {"TIME (UTC)", "SIDE",        "PRICE",      "SIZE",
                                       "SEQ",        "MAKER ORDER", "TAKER ORDER"};
    lxdex_table_t t;
    lxdex_table_init(&t, 7, head, "ll..rrr");
    const json_t *ts = json_object_get(j, "trades");
    for (size_t i = 0; i < json_array_size(ts); i++) {
        const json_t *x = json_array_get(ts, i);
        char when[40], seq[24];
        const char *cells[7] = {clock_of(x, when, sizeof when),
                                str(x, "side"),
                                str(x, "price"),
                                str(x, "size"),
                                num(x, "seq", seq, sizeof seq),
                                str(x, "makerOrderId"),
                                str(x, "takerOrderId")};
        lxdex_table_add(&t, cells);
    }
    printf("%s  last %zu trade%s, newest first (side is the taker's)\n", str(j, "market"),
           json_array_size(ts), json_array_size(ts) == 1 ? "" : "s");
    lxdex_table_print(stdout, &t);
    lxdex_table_free(&t);
    json_decref(j);
    return 0;
}

/* balances and orders: parses ACCOUNT (a number) and GETs
 * /v1/accounts/<id>/<what>. */
static json_t *account_get(int argc, char **argv, const char *what, int *rc) {
    ropts_t o;
    if ((*rc = parse(argc, argv, "--key --config", 1, &o))) return NULL;
    const char *s = o.pos[0];
    char *end, *path = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0 || v > 0xfffffffeLL) {
        fprintf(stderr, "lxdex: ACCOUNT: an account number, got '%s'\n", s);
        *rc = 2;
        return NULL;
    }
    *rc = 1;
    if (asprintf(&path, "/v1/accounts/%lld/%s", v, what) < 0) return NULL;
    json_t *j = fetch(&o, path, false, rc);
    free(path);
    return j;
}

int lxdex_read_balances(int argc, char **argv) {
    int rc;
    json_t *j = account_get(argc, argv, "balances", &rc);
    if (!j) return rc;
    static const char *const head[] = {"ASSET", "FREE", "LOCKED"};
    lxdex_table_t t;
    lxdex_table_init(&t, 3, head, "l..");
    const json_t *bs = json_object_get(j, "balances");
    for (size_t i = 0; i < json_array_size(bs); i++) {
        const json_t *b = json_array_get(bs, i);
        const char *cells[3] = {str(b, "asset"), str(b, "free"), str(b, "locked")};
        lxdex_table_add(&t, cells);
    }
    char acc[24];
    printf("account %s\n", num(j, "account", acc, sizeof acc));
    lxdex_table_print(stdout, &t);
    lxdex_table_free(&t);
    json_decref(j);
    return 0;
}

int lxdex_read_orders(int argc, char **argv) {
    int rc;
    json_t *j = account_get(argc, argv, "orders", &rc);
    if (!j) return rc;
    static const char *const head[] = {"ORDER",     "MARKET", "SIDE",     "TYPE",
                                       "TIF",       "PRICE",  "SIZE",     "FILLED",
                                       "REMAINING", "STATUS", "CLIENT ID"};
    lxdex_table_t t;
    lxdex_table_init(&t, 11, head, "rllll....lr");
    const json_t *os = json_object_get(j, "orders");
    for (size_t i = 0; i < json_array_size(os); i++) {
        const json_t *x = json_array_get(os, i);
        char cid[24];
        const char *cells[11] = {str(x, "orderId"),
                                 str(x, "market"),
                                 str(x, "side"),
                                 str(x, "type"),
                                 str(x, "tif"),
                                 str(x, "price"),
                                 str(x, "size"),
                                 str(x, "filled"),
                                 str(x, "remaining"),
                                 str(x, "status"),
                                 num(x, "clientId", cid, sizeof cid)};
        lxdex_table_add(&t, cells);
    }
    char acc[24];
    printf("account %s  %zu open order%s, oldest first\n", num(j, "account", acc, sizeof acc),
           json_array_size(os), json_array_size(os) == 1 ? "" : "s");
    if (json_array_size(os)) lxdex_table_print(stdout, &t);
    lxdex_table_free(&t);
    json_decref(j);
    return 0;
}

const char lxdex_read_help[] =
    "Options:\n"
    "  --url URL     the node's HTTP API (default " LXDEX_DEFAULT_URL ")\n"
    "  --json        print the API's JSON answer as it came (docs/api.md), not a table\n"
    "  --depth N     book: levels per side (default 10, at most 5000)\n"
    "  --limit N     trades: how many, newest first (default 20, at most 1000)\n"
    "  --key FILE    balances, orders: sign the request with this secret key (the\n"
    "                account's owner key or an agent's); a node outside dev mode\n"
    "                shows an account only to such a request\n"
    "  --config FILE with --key: the node's configuration, for its chain id (default:\n"
    "                the embedded one)\n"
    "\n"
    "MARKET is a symbol (any case) or a market id; ACCOUNT an account number.\n"
    "Prices, sizes and balances are printed exactly as the API writes them.\n"
    "Exit status: 0 shown, 1 node unreachable or an error answer (shown), 2 usage error.\n";
