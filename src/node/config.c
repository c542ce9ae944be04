/*
 * config.c: the node configuration, from YAML text to lx_config_t.
 *
 * How it parses. libyaml's document API (yaml_parser_load) builds the node
 * graph of the whole file; this file then walks it against a schema. The
 * schema is a tree of tables (fieldset_t): each names the keys a mapping may
 * hold, the type of each value and where it goes. One generic walker
 * (walk()) does what every mapping needs: it refuses non-mappings, unknown
 * keys (listing the known ones), duplicate keys, and values of the wrong
 * type or range, and it remembers which YAML node set which field so that
 * later checks can point at the right line. Values that depend on other
 * parts of the file (assets, markets referring to assets by symbol, the
 * faucet, the bridge key) are first captured as nodes (F_NODE) and
 * interpreted in a second phase, in a fixed order, whatever order the file
 * uses. Cross-field rules (dev mode wants loopback addresses, production
 * wants a bridge key, batch size <= segment size, ...) come last. Where
 * such a rule bounds a key by another, the bounded key's default follows
 * a smaller written bound instead of contradicting it: an error names only
 * keys the file wrote.
 *
 * Market symbols are what the HTTP, WebSocket and RPC APIs call markets
 * (src/gw/web_json.c): they are matched in any case, a name of digits only
 * is read as a market id, and the HTTP API takes them in a path segment.
 * So a market symbol is letters, digits, '-', '_' and '.' (not "." or
 * ".."), not all digits, and unique ignoring case; the default BASE-QUOTE
 * must obey the same rule.
 *
 * Because the walk follows the schema, not the graph, its depth is bounded
 * by the schema: YAML aliases (even cyclic ones, which libyaml allows)
 * cannot make it recurse without end.
 *
 * Numbers. Integer keys accept digits with optional '_' separators
 * (1_000_000); byte sizes also accept a KiB/MiB/GiB/TiB suffix. Market
 * numbers are decimals converted exactly by lx/decimal.h at the scale of the
 * asset they are denominated in; a value with more decimals than the asset
 * has, or off the tick/lot grid, is an error, never rounded. Nothing here
 * uses floating point.
 *
 * All or nothing. Everything is built in a private lx_config_t; only a
 * fully valid one is copied to the caller's *out. On error the partial
 * arrays are freed and *out is zeroed. Messages name the key path and the
 * line: "line 12: markets[1].tick_size: expected a decimal number, got
 * \"abc\"". Only the first error is reported.
 *
 * lx_config_write() is the inverse: it prints every key, so that
 * parse(write(c)) == c (the fuzz driver checks this on every input that
 * parses).
 *
 * Deliberately not here: reading the environment or command-line overrides
 * (the node's main does that), creating directories, binding sockets, or
 * any check that needs the engine's state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "lx/config.h"
#include "lx/decimal.h"
#include "lx/error.h"

/* ---- the embedded development configuration ----------------------------- */

static const char dev_yaml[] =
    "# lxdexd development configuration (embedded in the binary; `make run` uses it).\n"
    "# Loopback only, no bridge key, a faucet that credits new accounts.\n"
    "node:\n"
    "  name: lxdex-dev\n"
    "  dev_mode: true\n"
    "  data_dir: build/dev-data\n"
    "  prefault_memory: false\n"
    "listen:\n"
    "  http: 127.0.0.1:8080\n"
    "  ws: 127.0.0.1:8081\n"
    "  binary: 127.0.0.1:9100\n"
    "engine:\n"
    "  max_markets: 64\n"
    "  max_assets: 64\n"
    "  max_accounts: 65536\n"
    "  max_orders: 1_048_576\n"
    "  max_open_orders_per_account: 1000\n"
    "shards: 1\n"
    "journal:\n"
    "  segment_bytes: 64MiB\n"
    "  batch_max_bytes: 1MiB\n"
    "  batch_max_delay_us: 200\n"
    "  fsync: true\n"
    "  snapshot_every_commands: 1_000_000\n"
    "  retention_segments: 0\n"
    "assets:\n"
    "  - {id: 0, symbol: USD, scale: 1000000}           # micro-dollars\n"
    "  - {id: 1, symbol: BTC, scale: 100000000}         # satoshi\n"
    "  - {id: 2, symbol: ETH, scale: 1000000000}        # gwei\n"
    "markets:\n"
    "  - id: 0\n"
    "    symbol: BTC-USD\n"
    "    base: BTC\n"
    "    quote: USD\n"
    "    tick_size: \"0.01\"\n"
    "    lot_size: \"0.0001\"\n"
    "    min_price: \"0.01\"\n"
    "    max_price: \"1000000\"\n"
    "    max_qty: \"1000\"\n"
    "    maker_fee: \"0.0001\"\n"
    "    taker_fee: \"0.0005\"\n"
    "  - id: 1\n"
    "    symbol: ETH-USD\n"
    "    base: ETH\n"
    "    quote: USD\n"
    "    tick_size: \"0.01\"\n"
    "    lot_size: \"0.001\"\n"
    "    min_price: \"0.01\"\n"
    "    max_price: \"100000\"\n"
    "    max_qty: \"10000\"\n"
    "    maker_fee: \"0.0001\"\n"
    "    taker_fee: \"0.0005\"\n"
    "dev:\n"
    "  faucet:\n"
    "    USD: \"100000\"\n"
    "    BTC: \"10\"\n"
    "    ETH: \"100\"\n";

const char *lx_config_default_yaml(void) {
    return dev_yaml;
}

/* ---- parse context and errors ------------------------------------------ */

#define PATH_LEN 200
#define NOTE_MAX 64

typedef struct {
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    int rc; /* 0 until the first error */
    /* Which node set which field (offset into the walk's base), for checks
     * that run after the walk. */
    struct {
        size_t off;
        const yaml_node_t *node;
    } notes[NOTE_MAX];
    int nnotes;
} ctx_t;

static int line_of(const yaml_node_t *n) {
    return n ? (int)n->start_mark.line + 1 : 1;
}

/* Copies at most max bytes of s into buf as a quoted, escaped string. */
static void quote_text(char *buf, size_t cap, const char *s, size_t len, size_t max) {
    size_t o = 0;
    if (cap < 8) {
        if (cap) buf[0] = 0;
        return;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < len && i < max && o + 6 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    if (len > max && o + 5 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = 0;
}

static bool is_scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE;
}
static const char *sval(const yaml_node_t *n) {
    return (const char *)n->data.scalar.value;
}
static size_t slen(const yaml_node_t *n) {
    return n->data.scalar.length;
}

static bool text_is(const yaml_node_t *n, const char *s) {
    return is_scalar(n) && slen(n) == strlen(s) && memcmp(sval(n), s, slen(n)) == 0;
}

static bool is_plain(const yaml_node_t *n) {
    return is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n) {
    if (!n) return true;
    if (!is_plain(n)) return false;
    return slen(n) == 0 || text_is(n, "~") || text_is(n, "null") || text_is(n, "Null") ||
           text_is(n, "NULL");
}

/* "\"abc\"", "null", "a mapping", "a list". */
static void describe(const yaml_node_t *n, char *buf, size_t cap) {
    if (is_null(n))
        snprintf(buf, cap, "null");
    else if (n->type == YAML_MAPPING_NODE)
        snprintf(buf, cap, "a mapping");
    else if (n->type == YAML_SEQUENCE_NODE)
        snprintf(buf, cap, "a list");
    else
        quote_text(buf, cap, sval(n), slen(n), 48);
}

static int fail(ctx_t *x, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(ctx_t *x, const yaml_node_t *n, const char *path, const char *fmt, ...) {
    if (x->rc) return x->rc;
    x->rc = LX_EINVAL;
    if (!x->err || x->errlen == 0) return x->rc;
    int k = path && *path ? snprintf(x->err, x->errlen, "line %d: %s: ", line_of(n), path)
                          : snprintf(x->err, x->errlen, "line %d: ", line_of(n));
    if (k >= 0 && (size_t)k < x->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err + k, x->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return x->rc;
}

/* fail() with ", got <value>" appended. */
static int fail_got(ctx_t *x, const yaml_node_t *n, const char *path, const char *what) {
    char got[80];
    describe(n, got, sizeof got);
    return fail(x, n, path, "%s, got %s", what, got);
}

static int oom(ctx_t *x) {
    if (!x->rc) {
        x->rc = LX_ENOMEM;
        if (x->err && x->errlen) snprintf(x->err, x->errlen, "out of memory");
    }
    return x->rc;
}

/* out = path "." key (or key alone at the top), truncated to PATH_LEN; a
 * key longer than 64 bytes is cut there. */
static void sub_path(char *out, const char *path, const char *key, size_t keylen) {
    size_t o = 0;
    for (; *path && o < PATH_LEN - 1; path++) out[o++] = *path;
    if (o && o < PATH_LEN - 1) out[o++] = '.';
    for (size_t i = 0; i < keylen && i < 64 && o < PATH_LEN - 1; i++) out[o++] = key[i];
    out[o] = 0;
}

static void key_path(char *out, const char *path, const char *key) {
    sub_path(out, path, key, strlen(key));
}

static void index_path(char *out, const char *path, size_t i) {
    snprintf(out, PATH_LEN, "%s[%zu]", path, i);
}

static yaml_node_t *node_of(ctx_t *x, int index) {
    return yaml_document_get_node(x->doc, index);
}

/* ---- scalar values ------------------------------------------------------ */

static bool parse_uint_text(const char *s, size_t len, bool bytes, uint64_t *out) {
    size_t i = 0;
    uint64_t v = 0;
    bool any = false, underscore = false;
    for (; i < len; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            unsigned d = (unsigned)(ch - '0');
            if (v > (UINT64_MAX - d) / 10) return false;
            v = v * 10 + d;
            any = true;
            underscore = false;
        } else if (ch == '_' && any && !underscore) {
            underscore = true;
        } else {
            break;
        }
    }
    if (!any || underscore) return false;
    if (i < len) {
        static const struct {
            const char *s;
            int shift;
        } sfx[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
        if (!bytes) return false;
        if (s[i] == ' ') i++;
        bool found = false;
        for (size_t k = 0; k < sizeof sfx / sizeof sfx[0]; k++) {
            if (len - i == 3 && memcmp(s + i, sfx[k].s, 3) == 0) {
                if (v > (UINT64_MAX >> sfx[k].shift)) return false;
                v <<= sfx[k].shift;
                found = true;
                break;
            }
        }
        if (!found) return false;
    }
    *out = v;
    return true;
}

static int get_uint(ctx_t *x, const yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
                    bool bytes, uint64_t *out) {
    uint64_t v;
    char what[160];
    if (bytes)
        snprintf(what, sizeof what,
                 "expected a size in bytes from %llu to %llu (an integer, optionally with KiB, "
                 "MiB, GiB or TiB)",
                 (unsigned long long)min, (unsigned long long)max);
    else
        snprintf(what, sizeof what, "expected an integer from %llu to %llu",
                 (unsigned long long)min, (unsigned long long)max);
    if (!is_scalar(n) || is_null(n) || !parse_uint_text(sval(n), slen(n), bytes, &v) || v < min ||
        v > max)
        return fail_got(x, n, path, what);
    *out = v;
    return 0;
}

static int get_bool(ctx_t *x, const yaml_node_t *n, const char *path, bool *out) {
    if (is_plain(n) && (text_is(n, "true") || text_is(n, "True") || text_is(n, "TRUE"))) {
        *out = true;
        return 0;
    }
    if (is_plain(n) && (text_is(n, "false") || text_is(n, "False") || text_is(n, "FALSE"))) {
        *out = false;
        return 0;
    }
    return fail_got(x, n, path, "expected true or false");
}

/* A string of 1..max bytes; `symbol`: printable ASCII without spaces (the
 * engine's rule), else any bytes but control characters (max counts bytes,
 * not characters: UTF-8 letters may take 2 to 4). */
static int get_string(ctx_t *x, const yaml_node_t *n, const char *path, char *out, size_t max,
                      bool symbol) {
    char what[128];
    if (symbol)
        snprintf(what, sizeof what,
                 "expected a symbol (printable ASCII, no spaces) of 1 to %zu characters", max);
    else
        snprintf(what, sizeof what, "expected a string of 1 to %zu bytes", max);
    if (!is_scalar(n) || is_null(n) || slen(n) == 0 || slen(n) > max)
        return fail_got(x, n, path, what);
    const unsigned char *s = n->data.scalar.value;
    for (size_t i = 0; i < slen(n); i++) {
        bool ok = symbol ? s[i] >= 0x21 && s[i] <= 0x7e : s[i] >= 0x20 && s[i] != 0x7f;
        if (!ok) return fail_got(x, n, path, what);
    }
    memcpy(out, s, slen(n));
    out[slen(n)] = 0;
    return 0;
}

static int get_addr(ctx_t *x, const yaml_node_t *n, const char *path, lx_config_addr_t *a) {
    static const char what[] = "expected \"host:port\" (an IPv4 address, [IPv6 address] or "
                               "localhost, and a port from 0 to 65535) or off";
    memset(a, 0, sizeof *a);
    if (is_plain(n) && text_is(n, "off")) return 0;
    if (!is_scalar(n) || is_null(n) || slen(n) > 80) return fail_got(x, n, path, what);
    const char *s = sval(n);
    size_t len = slen(n);
    if (memchr(s, 0, len)) return fail_got(x, n, path, what);

    char host[81];
    const char *port;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || close[1] != ':') return fail_got(x, n, path, what);
        size_t hl = (size_t)(close - s - 1);
        memcpy(host, s + 1, hl);
        host[hl] = 0;
        port = close + 2;
        a->ipv6 = true;
    } else {
        const char *colon = memchr(s, ':', len);
        if (!colon || memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)))
            return fail_got(x, n, path, what);
        size_t hl = (size_t)(colon - s);
        memcpy(host, s, hl);
        host[hl] = 0;
        port = colon + 1;
    }
    size_t pl = len - (size_t)(port - s);
    uint64_t pv = 0;
    if (pl == 0 || pl > 5) return fail_got(x, n, path, what);
    for (size_t i = 0; i < pl; i++) {
        if (port[i] < '0' || port[i] > '9') return fail_got(x, n, path, what);
        pv = pv * 10 + (uint64_t)(port[i] - '0');
    }
    if (pv > 65535) return fail_got(x, n, path, what);

    unsigned char bin[16];
    if (!a->ipv6 && strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (inet_pton(a->ipv6 ? AF_INET6 : AF_INET, host, bin) != 1) return fail_got(x, n, path, what);
    static const unsigned char v6_loopback[16] = {[15] = 1};
    a->loopback = a->ipv6 ? memcmp(bin, v6_loopback, 16) == 0 : bin[0] == 127;
    /* canonical text, so that writing and re-reading is stable */
    if (!inet_ntop(a->ipv6 ? AF_INET6 : AF_INET, bin, a->host, sizeof a->host))
        return fail_got(x, n, path, what);
    a->port = (uint16_t)pv;
    a->enabled = true;
    return 0;
}

/* A decimal in units of an asset with `decimals` decimals. */
static int get_decimal(ctx_t *x, const yaml_node_t *n, const char *path, int decimals,
                       const char *unit, int64_t *out) {
    const char *why = NULL;
    char what[160];
    if (!is_scalar(n) || is_null(n)) return fail_got(x, n, path, "expected a decimal number");
    int rc = lx_decimal_parse_n(sval(n), slen(n), decimals, out, &why);
    if (rc == 0) return 0;
    if (rc == LX_ERANGE && why && strcmp(why, "too many decimal places") == 0) {
        snprintf(what, sizeof what, "too many decimal places for %s (at most %d)", unit, decimals);
        return fail_got(x, n, path, what);
    }
    if (rc == LX_ERANGE) return fail_got(x, n, path, "number out of range");
    return fail_got(x, n, path, "expected a decimal number");
}

/* ---- the schema walker -------------------------------------------------- */

typedef enum {
    F_U32,     /* uint32_t in [min, max] */
    F_U64,     /* uint64_t */
    F_B32,     /* uint32_t size in bytes, suffixes allowed */
    F_B64,     /* uint64_t size in bytes */
    F_BOOL,    /* bool */
    F_NAME,    /* char[max + 1], no control characters */
    F_ADDR,    /* lx_config_addr_t */
    F_SECTION, /* a nested mapping described by `sub` */
    F_NODE,    /* const yaml_node_t *: interpreted later */
} ftype_t;

typedef struct fieldset fieldset_t;

typedef struct {
    const char *key;
    ftype_t type;
    size_t off;
    uint64_t min, max;
    const fieldset_t *sub;
} field_t;

struct fieldset {
    const field_t *f;
    size_t n;
};

#define FIELDS(arr)                                                                                \
    { (arr), sizeof(arr) / sizeof((arr)[0]) }

static void note(ctx_t *x, size_t off, const yaml_node_t *n) {
    if (x->nnotes < NOTE_MAX) {
        x->notes[x->nnotes].off = off;
        x->notes[x->nnotes].node = n;
        x->nnotes++;
    }
}

/* The node that set the field at off, or NULL if it kept its default. */
static const yaml_node_t *noted(const ctx_t *x, size_t off) {
    for (int i = 0; i < x->nnotes; i++)
        if (x->notes[i].off == off) return x->notes[i].node;
    return NULL;
}

static int walk(ctx_t *x, const yaml_node_t *map, const char *path, const fieldset_t *fs,
                void *base, bool take_notes) {
    if (is_null(map)) return 0; /* an empty section keeps the defaults */
    if (map->type != YAML_MAPPING_NODE) return fail_got(x, map, path, "expected a mapping");
    int seen[32] = {0}; /* line of each field's key, 0 = not seen */
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = node_of(x, p->key), *v = node_of(x, p->value);
        if (!is_scalar(k) || is_null(k)) return fail_got(x, k, path, "expected a key");
        char kpath[PATH_LEN];
        sub_path(kpath, path, sval(k), slen(k));
        size_t fi = 0;
        while (fi < fs->n && !text_is(k, fs->f[fi].key)) fi++;
        if (fi == fs->n) {
            char known[256];
            size_t o = 0;
            known[0] = 0;
            for (size_t i = 0; i < fs->n && o < sizeof known; i++)
                o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "",
                                      fs->f[i].key);
            return fail(x, k, kpath, "unknown key (expected one of: %s)", known);
        }
        if (seen[fi]) return fail(x, k, kpath, "duplicate key (first at line %d)", seen[fi]);
        seen[fi] = line_of(k);

        const field_t *f = &fs->f[fi];
        char *dst = (char *)base + f->off;
        uint64_t u;
        int rc = 0;
        switch (f->type) {
        case F_U32:
        case F_B32:
            rc = get_uint(x, v, kpath, f->min, f->max, f->type == F_B32, &u);
            if (!rc) {
                uint32_t u32 = (uint32_t)u;
                memcpy(dst, &u32, sizeof u32);
            }
            break;
        case F_U64:
        case F_B64:
            rc = get_uint(x, v, kpath, f->min, f->max, f->type == F_B64, &u);
            if (!rc) memcpy(dst, &u, sizeof u);
            break;
        case F_BOOL: {
            bool b = false;
            rc = get_bool(x, v, kpath, &b);
            if (!rc) memcpy(dst, &b, sizeof b);
            break;
        }
        case F_NAME:
            rc = get_string(x, v, kpath, dst, (size_t)f->max, false);
            break;
        case F_ADDR:
            rc = get_addr(x, v, kpath, (lx_config_addr_t *)(void *)dst);
            break;
        case F_SECTION:
            rc = walk(x, v, kpath, f->sub, base, take_notes);
            break;
        case F_NODE:
            memcpy(dst, &v, sizeof v);
            break;
        }
        if (rc) return rc;
        if (take_notes && f->type != F_SECTION) note(x, f->off, v);
    }
    return 0;
}

/* ---- the top-level schema ------------------------------------------------ */

/* What the first phase fills: the configuration and the nodes it defers. */
typedef struct {
    lx_config_t c;
    const yaml_node_t *assets, *markets, *faucet, *bridge_key;
    uint32_t deadman_min_lead_ms; /* engine.deadman_min_lead_ms, into c.engine in ns */
} top_t;

#define TOP(member) offsetof(top_t, member)

static const field_t node_fields[] = {
    {"name", F_NAME, TOP(c.node.name), 1, LX_CONFIG_NAME_MAX, NULL},
    {"dev_mode", F_BOOL, TOP(c.node.dev_mode), 0, 0, NULL},
    {"chain_id", F_U32, TOP(c.node.chain_id), 1, UINT32_MAX, NULL},
    {"data_dir", F_NAME, TOP(c.node.data_dir), 1, LX_CONFIG_PATH_MAX, NULL},
    {"prefault_memory", F_BOOL, TOP(c.node.prefault_memory), 0, 0, NULL},
};
static const fieldset_t node_set = FIELDS(node_fields);

static const field_t listen_fields[] = {
    {"http", F_ADDR, TOP(c.listen.http), 0, 0, NULL},
    {"ws", F_ADDR, TOP(c.listen.ws), 0, 0, NULL},
    {"binary", F_ADDR, TOP(c.listen.binary), 0, 0, NULL},
};
static const fieldset_t listen_set = FIELDS(listen_fields);

#define ID_MAX (UINT32_MAX - 1) /* the engine wants ids < UINT32_MAX */
/* The sizes: up to the engine's limits (lx_engine_create refuses more), so
 * that a file the node would fail to open with is refused here, by line. */
static const field_t engine_fields[] = {
    {"max_markets", F_U32, TOP(c.engine.max_markets), 1, LX_LIMIT_MARKETS, NULL},
    {"max_assets", F_U32, TOP(c.engine.max_assets), 1, LX_LIMIT_ASSETS, NULL},
    {"max_accounts", F_U32, TOP(c.engine.max_accounts), 1, LX_LIMIT_ACCOUNTS, NULL},
    {"max_orders", F_U32, TOP(c.engine.max_orders), 1, LX_LIMIT_ORDERS, NULL},
    {"max_open_orders_per_account", F_U32, TOP(c.engine.max_open_orders_per_account), 0, ID_MAX,
     NULL},
    {"deadman_min_lead_ms", F_U32, TOP(deadman_min_lead_ms), 1, 86400000, NULL},
    {"fee_account", F_U32, TOP(c.engine.fee_account), 0, ID_MAX, NULL},
};
static const fieldset_t engine_set = FIELDS(engine_fields);

static const field_t journal_fields[] = {
    {"segment_bytes", F_B64, TOP(c.journal.segment_bytes), 64u << 10, (uint64_t)1 << 40, NULL},
    {"batch_max_bytes", F_B64, TOP(c.journal.batch_max_bytes), 4u << 10, 1u << 30, NULL},
    {"batch_max_delay_us", F_U32, TOP(c.journal.batch_max_delay_us), 0, 1000000, NULL},
    {"fsync", F_BOOL, TOP(c.journal.fsync), 0, 0, NULL},
    {"snapshot_every_commands", F_U64, TOP(c.journal.snapshot_every_commands), 0, INT64_MAX, NULL},
    {"retention_segments", F_U32, TOP(c.journal.retention_segments), 0, 1000000, NULL},
};
static const fieldset_t journal_set = FIELDS(journal_fields);

static const field_t limits_fields[] = {
    {"max_connections", F_U32, TOP(c.limits.max_connections), 1, 1000000, NULL},
    {"max_connections_per_ip", F_U32, TOP(c.limits.max_connections_per_ip), 1, 1000000, NULL},
    {"max_message_bytes", F_B32, TOP(c.limits.max_message_bytes), 256, 16u << 20, NULL},
    {"slow_subscriber_buffer_bytes", F_B64, TOP(c.limits.slow_subscriber_buffer_bytes), 4u << 10,
     1u << 30, NULL},
};
static const fieldset_t limits_set = FIELDS(limits_fields);

static const field_t gateway_fields[] = {
    {"binary_threads", F_U32, TOP(c.gateway.binary_threads), 0, LX_CONFIG_BINARY_THREADS_MAX, NULL},
};
static const fieldset_t gateway_set = FIELDS(gateway_fields);

#define RATE_MAX 10000000
static const field_t per_account_fields[] = {
    {"rate", F_U32, TOP(c.rate_limits.per_account.rate), 0, RATE_MAX, NULL},
    {"burst", F_U32, TOP(c.rate_limits.per_account.burst), 0, RATE_MAX, NULL},
};
static const fieldset_t per_account_set = FIELDS(per_account_fields);
static const field_t per_connection_fields[] = {
    {"rate", F_U32, TOP(c.rate_limits.per_connection.rate), 0, RATE_MAX, NULL},
    {"burst", F_U32, TOP(c.rate_limits.per_connection.burst), 0, RATE_MAX, NULL},
};
static const fieldset_t per_connection_set = FIELDS(per_connection_fields);
static const field_t weight_fields[] = {
    {"place", F_U32, TOP(c.rate_limits.weight.place), 1, 1000, NULL},
    {"cancel", F_U32, TOP(c.rate_limits.weight.cancel), 1, 1000, NULL},
    {"amend", F_U32, TOP(c.rate_limits.weight.amend), 1, 1000, NULL},
    {"cancel_all", F_U32, TOP(c.rate_limits.weight.cancel_all), 1, 1000, NULL},
};
static const fieldset_t weight_set = FIELDS(weight_fields);
static const field_t rate_fields[] = {
    {"per_account", F_SECTION, 0, 0, 0, &per_account_set},
    {"per_connection", F_SECTION, 0, 0, 0, &per_connection_set},
    {"weight", F_SECTION, 0, 0, 0, &weight_set},
};
static const fieldset_t rate_set = FIELDS(rate_fields);

static const field_t dev_fields[] = {
    {"faucet", F_NODE, TOP(faucet), 0, 0, NULL},
};
static const fieldset_t dev_set = FIELDS(dev_fields);

static const field_t top_fields[] = {
    {"node", F_SECTION, 0, 0, 0, &node_set},
    {"listen", F_SECTION, 0, 0, 0, &listen_set},
    {"engine", F_SECTION, 0, 0, 0, &engine_set},
    {"shards", F_U32, TOP(c.shards), 1, LX_CONFIG_SHARDS_MAX, NULL},
    {"journal", F_SECTION, 0, 0, 0, &journal_set},
    {"limits", F_SECTION, 0, 0, 0, &limits_set},
    {"gateway", F_SECTION, 0, 0, 0, &gateway_set},
    {"rate_limits", F_SECTION, 0, 0, 0, &rate_set},
    {"assets", F_NODE, TOP(assets), 0, 0, NULL},
    {"markets", F_NODE, TOP(markets), 0, 0, NULL},
    {"bridge_key", F_NODE, TOP(bridge_key), 0, 0, NULL},
    {"dev", F_SECTION, 0, 0, 0, &dev_set},
};
static const fieldset_t top_set = FIELDS(top_fields);

/* The value of every key that is not in the file (docs/config.md). */
static void set_defaults(lx_config_t *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->node.name, "lxdex");
    c->node.dev_mode = false;
    c->node.prefault_memory = true;
    c->node.chain_id = 1;
    strcpy(c->node.data_dir, "data");
    c->listen.http = (lx_config_addr_t){true, false, true, 8080, "127.0.0.1"};
    c->listen.ws = (lx_config_addr_t){true, false, true, 8081, "127.0.0.1"};
    c->listen.binary = (lx_config_addr_t){true, false, true, 9100, "127.0.0.1"};
    lx_engine_config_default(&c->engine);
    c->engine.clearing = true;
    c->shards = 1;
    c->journal.segment_bytes = 64u << 20;
    c->journal.batch_max_bytes = 1u << 20;
    c->journal.batch_max_delay_us = 200;
    c->journal.fsync = true;
    c->journal.snapshot_every_commands = 1000000;
    c->journal.retention_segments = 0;
    c->limits.max_connections = 1024;
    c->limits.max_connections_per_ip = 64;
    c->limits.max_message_bytes = 64u << 10;
    c->limits.slow_subscriber_buffer_bytes = 4u << 20;
    c->rate_limits.per_account = (lx_config_rate_t){1000, 2000};
    c->rate_limits.per_connection = (lx_config_rate_t){5000, 10000};
    c->rate_limits.weight.place = 1;
    c->rate_limits.weight.cancel = 1;
    c->rate_limits.weight.amend = 1;
    c->rate_limits.weight.cancel_all = 5;
}

/* ---- second phase: assets, markets, faucet, bridge key ------------------- */

typedef struct {
    const yaml_node_t *id, *symbol, *scale;
} asset_nodes_t;

static const field_t asset_fields[] = {
    {"id", F_NODE, offsetof(asset_nodes_t, id), 0, 0, NULL},
    {"symbol", F_NODE, offsetof(asset_nodes_t, symbol), 0, 0, NULL},
    {"scale", F_NODE, offsetof(asset_nodes_t, scale), 0, 0, NULL},
};
static const fieldset_t asset_set = FIELDS(asset_fields);

typedef struct {
    const yaml_node_t *id, *symbol, *base, *quote, *mode, *shard, *tick_size, *lot_size, *min_price,
        *max_price, *max_qty, *maker_fee, *taker_fee;
} market_nodes_t;

#define MN(member) offsetof(market_nodes_t, member)
static const field_t market_fields[] = {
    {"id", F_NODE, MN(id), 0, 0, NULL},
    {"symbol", F_NODE, MN(symbol), 0, 0, NULL},
    {"base", F_NODE, MN(base), 0, 0, NULL},
    {"quote", F_NODE, MN(quote), 0, 0, NULL},
    {"mode", F_NODE, MN(mode), 0, 0, NULL},
    {"shard", F_NODE, MN(shard), 0, 0, NULL},
    {"tick_size", F_NODE, MN(tick_size), 0, 0, NULL},
    {"lot_size", F_NODE, MN(lot_size), 0, 0, NULL},
    {"min_price", F_NODE, MN(min_price), 0, 0, NULL},
    {"max_price", F_NODE, MN(max_price), 0, 0, NULL},
    {"max_qty", F_NODE, MN(max_qty), 0, 0, NULL},
    {"maker_fee", F_NODE, MN(maker_fee), 0, 0, NULL},
    {"taker_fee", F_NODE, MN(taker_fee), 0, 0, NULL},
};
static const fieldset_t market_set = FIELDS(market_fields);

static int require(ctx_t *x, const yaml_node_t *v, const yaml_node_t *item, const char *path,
                   const char *key) {
    if (v) return 0;
    return fail(x, item, path, "missing key \"%s\"", key);
}

/* A list node: its items, or an error. A null value is an empty list. */
static int get_list(ctx_t *x, const yaml_node_t *n, const char *path, yaml_node_item_t **items,
                    size_t *count) {
    *items = NULL;
    *count = 0;
    if (is_null(n)) return 0;
    if (n->type != YAML_SEQUENCE_NODE) return fail_got(x, n, path, "expected a list");
    *items = n->data.sequence.items.start;
    *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (*count > LX_CONFIG_LIST_MAX)
        return fail(x, n, path, "too many entries (at most %d)", LX_CONFIG_LIST_MAX);
    return 0;
}

static int do_assets(ctx_t *x, lx_config_t *c, const yaml_node_t *list) {
    yaml_node_item_t *items;
    size_t n;
    if (get_list(x, list, "assets", &items, &n)) return x->rc;
    if (n == 0) return 0;
    c->assets = calloc(n, sizeof *c->assets);
    if (!c->assets) return oom(x);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = node_of(x, items[i]);
        char path[PATH_LEN], p[PATH_LEN];
        asset_nodes_t an = {0};
        lx_config_asset_t *a = &c->assets[i];
        index_path(path, "assets", i);
        if (!is_null(item) && item->type != YAML_MAPPING_NODE)
            return fail_got(x, item, path, "expected a mapping");
        if (walk(x, item, path, &asset_set, &an, false)) return x->rc;
        if (require(x, an.id, item, path, "id") || require(x, an.symbol, item, path, "symbol") ||
            require(x, an.scale, item, path, "scale"))
            return x->rc;

        uint64_t u;
        key_path(p, path, "id");
        if (get_uint(x, an.id, p, 0, c->engine.max_assets - 1, false, &u)) return x->rc;
        a->id = (lx_asset_id_t)u;
        key_path(p, path, "symbol");
        if (get_string(x, an.symbol, p, a->symbol, LX_CONFIG_ASSET_SYMBOL_MAX, true)) return x->rc;
        key_path(p, path, "scale");
        if (get_uint(x, an.scale, p, 1, (uint64_t)lx_decimal_pow10(18), false, &u)) return x->rc;
        a->decimals = -1;
        for (int d = 0; d <= LX_DECIMAL_MAX_SCALE; d++)
            if ((uint64_t)lx_decimal_pow10(d) == u) a->decimals = d;
        if (a->decimals < 0)
            return fail_got(x, an.scale, p, "expected a power of ten (1, 10, 100, ...)");
        a->scale = (int64_t)u;

        for (size_t j = 0; j < i; j++) {
            if (c->assets[j].id == a->id) {
                key_path(p, path, "id");
                return fail(x, an.id, p, "duplicate asset id %u (also assets[%zu])", a->id, j);
            }
            if (strcmp(c->assets[j].symbol, a->symbol) == 0) {
                key_path(p, path, "symbol");
                return fail(x, an.symbol, p, "duplicate asset symbol \"%s\" (also assets[%zu])",
                            a->symbol, j);
            }
        }
        c->nassets = i + 1;
    }
    return 0;
}

/* Resolves an asset symbol node to a configured asset. */
static const lx_config_asset_t *asset_ref(ctx_t *x, const lx_config_t *c, const yaml_node_t *n,
                                          const char *path) {
    char sym[LX_CONFIG_ASSET_SYMBOL_MAX + 1];
    if (get_string(x, n, path, sym, LX_CONFIG_ASSET_SYMBOL_MAX, true)) return NULL;
    const lx_config_asset_t *a = lx_config_asset_by_symbol(c, sym);
    if (!a) fail(x, n, path, "unknown asset \"%s\" (not in assets)", sym);
    return a;
}

/* A decimal price or quantity that must be a positive multiple of `step`
 * units; returns the number of steps. */
static int get_steps(ctx_t *x, const yaml_node_t *n, const char *path,
                     const lx_config_asset_t *unit, int64_t step, const char *step_name,
                     int64_t *steps) {
    int64_t v;
    if (get_decimal(x, n, path, unit->decimals, unit->symbol, &v)) return x->rc;
    if (v <= 0) return fail_got(x, n, path, "expected a positive number");
    if (v % step != 0) {
        char s[LX_DECIMAL_FORMAT_MAX], what[96];
        lx_decimal_format(step, unit->decimals, s, sizeof s);
        snprintf(what, sizeof what, "not a multiple of %s (%s %s)", step_name, s, unit->symbol);
        return fail_got(x, n, path, what);
    }
    *steps = v / step;
    return 0;
}

/* What is wrong with s as a market symbol (see the top of this file), or
 * NULL. Length and printable ASCII were checked by get_string(). */
static const char *market_symbol_flaw(const char *s) {
    bool digits = true;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        bool digit = ch >= '0' && ch <= '9';
        if (!digit && !(ch >= 'A' && ch <= 'Z') && !(ch >= 'a' && ch <= 'z') && ch != '-' &&
            ch != '_' && ch != '.')
            return "expected a market symbol of letters, digits, '-', '_' and '.' only (the "
                   "HTTP API names it in a URL path)";
        digits &= digit;
    }
    if (digits) return "must not be all digits (the APIs read a number as a market id)";
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "must not be \".\" or \"..\" (not a URL path segment)";
    return NULL;
}

/* The line of markets[j]'s symbol, or of the entry when it has none. */
static int market_symbol_line(ctx_t *x, const yaml_node_t *item) {
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
         p++)
        if (text_is(node_of(x, p->key), "symbol")) return line_of(node_of(x, p->value));
    return line_of(item);
}

static int get_fee(ctx_t *x, const yaml_node_t *n, const char *path, int32_t *out) {
    int64_t v;
    if (get_decimal(x, n, path, LX_CONFIG_FEE_DECIMALS, "a fee rate", &v)) return x->rc;
    if (v < -LX_FEE_RATE_MAX || v > LX_FEE_RATE_MAX)
        return fail_got(x, n, path, "expected a fee rate from -0.1 to 0.1");
    *out = (int32_t)v;
    return 0;
}

static int do_market(ctx_t *x, lx_config_t *c, yaml_node_item_t *items, size_t i) {
    const yaml_node_t *item = node_of(x, items[i]);
    char path[PATH_LEN], p[PATH_LEN];
    market_nodes_t mn = {0};
    lx_config_market_t *m = &c->markets[i];
    index_path(path, "markets", i);
#define P(key) (key_path(p, path, key), p)
    if (!is_null(item) && item->type != YAML_MAPPING_NODE)
        return fail_got(x, item, path, "expected a mapping");
    if (walk(x, item, path, &market_set, &mn, false)) return x->rc;
    if (require(x, mn.id, item, path, "id") || require(x, mn.base, item, path, "base") ||
        require(x, mn.quote, item, path, "quote") ||
        require(x, mn.tick_size, item, path, "tick_size") ||
        require(x, mn.lot_size, item, path, "lot_size") ||
        require(x, mn.max_price, item, path, "max_price") ||
        require(x, mn.max_qty, item, path, "max_qty"))
        return x->rc;

    uint64_t u;
    if (get_uint(x, mn.id, P("id"), 0, c->engine.max_markets - 1, false, &u)) return x->rc;
    m->id = (lx_market_id_t)u;
    const lx_config_asset_t *base = asset_ref(x, c, mn.base, P("base"));
    if (!base) return x->rc;
    const lx_config_asset_t *quote = asset_ref(x, c, mn.quote, P("quote"));
    if (!quote) return x->rc;
    if (base == quote) return fail_got(x, mn.quote, P("quote"), "must differ from base");
    m->base = base->id;
    m->quote = quote->id;
    m->base_decimals = base->decimals;
    m->quote_decimals = quote->decimals;

    if (mn.symbol) {
        if (get_string(x, mn.symbol, P("symbol"), m->symbol, LX_CONFIG_MARKET_SYMBOL_MAX, true))
            return x->rc;
        const char *flaw = market_symbol_flaw(m->symbol);
        if (flaw) return fail_got(x, mn.symbol, P("symbol"), flaw);
    } else {
        snprintf(m->symbol, sizeof m->symbol, "%s-%s", base->symbol, quote->symbol);
        if (market_symbol_flaw(m->symbol))
            return fail(x, item, P("symbol"),
                        "the default symbol \"%s\" (base-quote) is not a valid market symbol "
                        "(letters, digits, '-', '_' and '.'): write a symbol",
                        m->symbol);
    }

    m->mode = LX_MODE_CONTINUOUS;
    if (mn.mode) {
        if (is_plain(mn.mode) && text_is(mn.mode, "continuous"))
            m->mode = LX_MODE_CONTINUOUS;
        else if (is_plain(mn.mode) && text_is(mn.mode, "batch"))
            m->mode = LX_MODE_BATCH;
        else
            return fail_got(x, mn.mode, P("mode"), "expected continuous or batch");
    }
    m->shard = m->id % c->shards;
    if (mn.shard) {
        if (get_uint(x, mn.shard, P("shard"), 0, c->shards - 1, false, &u)) return x->rc;
        m->shard = (uint32_t)u;
    }

    /* The grid: tick in quote units, lot in base units. */
    if (get_steps(x, mn.tick_size, P("tick_size"), quote, 1, "the smallest unit", &m->tick_size) ||
        get_steps(x, mn.lot_size, P("lot_size"), base, 1, "the smallest unit", &m->lot_size))
        return x->rc;
    __int128 prod = (__int128)m->tick_size * m->lot_size;
    if (prod % base->scale != 0 || prod / base->scale < 1 || prod / base->scale > INT64_MAX) {
        char t[LX_DECIMAL_FORMAT_MAX], l[LX_DECIMAL_FORMAT_MAX];
        lx_decimal_format(m->tick_size, quote->decimals, t, sizeof t);
        lx_decimal_format(m->lot_size, base->decimals, l, sizeof l);
        return fail(x, mn.lot_size, P("lot_size"),
                    "one lot (%s %s) at one tick (%s %s) must be worth a whole number of %s's "
                    "smallest unit (at least 1)",
                    l, base->symbol, t, quote->symbol, quote->symbol);
    }
    m->tick_value = (int64_t)(prod / base->scale);

    m->min_price = 1;
    if (mn.min_price &&
        get_steps(x, mn.min_price, P("min_price"), quote, m->tick_size, "tick_size", &m->min_price))
        return x->rc;
    if (get_steps(x, mn.max_price, P("max_price"), quote, m->tick_size, "tick_size", &m->max_price))
        return x->rc;
    if (m->max_price < m->min_price)
        return fail_got(x, mn.max_price, P("max_price"), "must not be below min_price");
    if (get_steps(x, mn.max_qty, P("max_qty"), base, m->lot_size, "lot_size", &m->max_qty))
        return x->rc;
    if (m->max_qty > LX_QTY_MAX)
        return fail_got(x, mn.max_qty, P("max_qty"),
                        "more than 4294967295 lots (an order's quantity fits 32 bits)");

    m->maker_fee = m->taker_fee = 0;
    if (mn.taker_fee && get_fee(x, mn.taker_fee, P("taker_fee"), &m->taker_fee)) return x->rc;
    if (mn.maker_fee && get_fee(x, mn.maker_fee, P("maker_fee"), &m->maker_fee)) return x->rc;
    if (m->taker_fee < 0) return fail_got(x, mn.taker_fee, P("taker_fee"), "must not be negative");
    if (m->maker_fee > m->taker_fee || m->maker_fee < -m->taker_fee)
        return fail_got(x, mn.maker_fee ? mn.maker_fee : item, P("maker_fee"),
                        "must lie between -taker_fee and taker_fee (a rebate never exceeds the "
                        "taker fee)");

    for (size_t j = 0; j < i; j++) {
        if (c->markets[j].id == m->id)
            return fail(x, mn.id, P("id"), "duplicate market id %u (also markets[%zu])", m->id, j);
        /* the APIs match symbols in any case */
        if (strcasecmp(c->markets[j].symbol, m->symbol) == 0) {
            int line = market_symbol_line(x, node_of(x, items[j]));
            if (strcmp(c->markets[j].symbol, m->symbol) == 0)
                return fail(x, mn.symbol ? mn.symbol : item, P("symbol"),
                            "duplicate market symbol \"%s\" (also markets[%zu], line %d)",
                            m->symbol, j, line);
            return fail(x, mn.symbol ? mn.symbol : item, P("symbol"),
                        "market symbol \"%s\" differs from \"%s\" (markets[%zu], line %d) only "
                        "in case (the APIs match symbols in any case)",
                        m->symbol, c->markets[j].symbol, j, line);
        }
    }
#undef P
    return 0;
}

static int do_markets(ctx_t *x, lx_config_t *c, const yaml_node_t *list) {
    yaml_node_item_t *items;
    size_t n;
    if (get_list(x, list, "markets", &items, &n)) return x->rc;
    if (n == 0) return 0;
    c->markets = calloc(n, sizeof *c->markets);
    if (!c->markets) return oom(x);
    for (size_t i = 0; i < n; i++) {
        if (do_market(x, c, items, i)) return x->rc;
        c->nmarkets = i + 1;
    }
    return 0;
}

static int do_faucet(ctx_t *x, lx_config_t *c, const yaml_node_t *map) {
    const char *path = "dev.faucet";
    if (is_null(map)) return 0;
    if (map->type != YAML_MAPPING_NODE) return fail_got(x, map, path, "expected a mapping");
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n == 0) return 0;
    if (!c->node.dev_mode) return fail(x, map, path, "only allowed when node.dev_mode is true");
    if (n > LX_CONFIG_LIST_MAX)
        return fail(x, map, path, "too many entries (at most %d)", LX_CONFIG_LIST_MAX);
    c->faucet = calloc(n, sizeof *c->faucet);
    if (!c->faucet) return oom(x);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_pair_t *pr = &map->data.mapping.pairs.start[i];
        const yaml_node_t *k = node_of(x, pr->key), *v = node_of(x, pr->value);
        char p[PATH_LEN];
        if (!is_scalar(k) || is_null(k)) return fail_got(x, k, path, "expected an asset symbol");
        sub_path(p, path, sval(k), slen(k));
        const lx_config_asset_t *a = asset_ref(x, c, k, p);
        if (!a) return x->rc;
        for (size_t j = 0; j < i; j++)
            if (c->faucet[j].asset == a->id) return fail(x, k, p, "duplicate key");
        int64_t amount;
        if (get_decimal(x, v, p, a->decimals, a->symbol, &amount)) return x->rc;
        if (amount <= 0) return fail_got(x, v, p, "expected a positive amount");
        c->faucet[i].asset = a->id;
        c->faucet[i].amount = amount;
        c->nfaucet = i + 1;
    }
    return 0;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int do_bridge_key(ctx_t *x, lx_config_t *c, const yaml_node_t *n) {
    if (is_null(n)) return 0;
    if (!is_scalar(n) || slen(n) != 64)
        return fail_got(x, n, "bridge_key",
                        "expected an ed25519 public key as 64 hexadecimal digits");
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(sval(n)[2 * i]), lo = hexval(sval(n)[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return fail_got(x, n, "bridge_key",
                            "expected an ed25519 public key as 64 hexadecimal digits");
        c->bridge_key[i] = (uint8_t)(hi << 4 | lo);
    }
    c->has_bridge_key = true;
    return 0;
}

/* Rules between keys, checked once everything is read. */
static int cross_checks(ctx_t *x, lx_config_t *c, const yaml_node_t *root) {
    /* A bound written smaller than the default of the key it bounds lowers
     * that default (docs/config.md); only a written value is an error. */
    if (!noted(x, TOP(c.journal.batch_max_bytes)) &&
        c->journal.batch_max_bytes > c->journal.segment_bytes)
        c->journal.batch_max_bytes = c->journal.segment_bytes;
    if (!noted(x, TOP(c.limits.max_connections_per_ip)) &&
        c->limits.max_connections_per_ip > c->limits.max_connections)
        c->limits.max_connections_per_ip = c->limits.max_connections;
    if (c->node.dev_mode) {
        const struct {
            const char *path;
            size_t off;
        } addrs[] = {{"listen.http", TOP(c.listen.http)},
                     {"listen.ws", TOP(c.listen.ws)},
                     {"listen.binary", TOP(c.listen.binary)}};
        for (size_t i = 0; i < 3; i++) {
            const lx_config_addr_t *a =
                (const lx_config_addr_t *)(const void *)((const char *)c + addrs[i].off);
            if (a->enabled && !a->loopback)
                return fail_got(x, noted(x, addrs[i].off), addrs[i].path,
                                "node.dev_mode requires a loopback address (127.0.0.1 or [::1])");
        }
    } else if (!c->has_bridge_key) {
        return fail(x, root, "bridge_key",
                    "required unless node.dev_mode is true (the hex ed25519 public key that "
                    "signs deposits)");
    }
    if (c->journal.batch_max_bytes > c->journal.segment_bytes)
        return fail(x, noted(x, TOP(c.journal.batch_max_bytes)), "journal.batch_max_bytes",
                    "must not exceed journal.segment_bytes (%llu)",
                    (unsigned long long)c->journal.segment_bytes);
    if (c->limits.max_connections_per_ip > c->limits.max_connections)
        return fail(x, noted(x, TOP(c.limits.max_connections_per_ip)),
                    "limits.max_connections_per_ip", "must not exceed limits.max_connections (%u)",
                    c->limits.max_connections);
    if (c->rate_limits.per_account.rate > 0 && c->rate_limits.per_account.burst == 0)
        return fail(x, noted(x, TOP(c.rate_limits.per_account.burst)),
                    "rate_limits.per_account.burst", "must be at least 1 when rate is not 0");
    if (c->rate_limits.per_connection.rate > 0 && c->rate_limits.per_connection.burst == 0)
        return fail(x, noted(x, TOP(c.rate_limits.per_connection.burst)),
                    "rate_limits.per_connection.burst", "must be at least 1 when rate is not 0");
    if (c->engine.fee_account >= c->engine.max_accounts)
        return fail(x, noted(x, TOP(c.engine.fee_account)), "engine.fee_account",
                    "must be below engine.max_accounts (%u)", c->engine.max_accounts);
    /* order ids name their shard in bits 26..31 (lx/node.h) */
    if (c->shards > 1 && c->engine.max_orders > (1u << 26))
        return fail(x, noted(x, TOP(c.engine.max_orders)), "engine.max_orders",
                    "must be at most 67108864 (2^26) per shard when shards is more than 1");
    return 0;
}

/* ---- entry points -------------------------------------------------------- */

void lx_config_free(lx_config_t *c) {
    if (!c) return;
    free(c->assets);
    free(c->markets);
    free(c->faucet);
    memset(c, 0, sizeof *c);
}

static int yaml_failure(ctx_t *x, const yaml_parser_t *p) {
    if (p->error == YAML_MEMORY_ERROR) return oom(x);
    x->rc = LX_EINVAL;
    if (x->err && x->errlen) {
        const yaml_mark_t *mk = p->problem ? &p->problem_mark : &p->context_mark;
        snprintf(x->err, x->errlen, "line %d: invalid YAML: %s%s%s", (int)mk->line + 1,
                 p->problem ? p->problem : "syntax error", p->context ? " " : "",
                 p->context ? p->context : "");
    }
    return x->rc;
}

int lx_config_parse(const char *text, size_t len, lx_config_t *out, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!text && len)) {
        if (err && errlen) snprintf(err, errlen, "invalid argument");
        return LX_EINVAL;
    }
    ctx_t x = {.err = err, .errlen = errlen};
    top_t top = {0};
    set_defaults(&top.c);

    yaml_parser_t parser;
    yaml_document_t doc, extra;
    if (!yaml_parser_initialize(&parser)) return oom(&x);
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_failure(&x, &parser);
        yaml_parser_delete(&parser);
        return x.rc;
    }
    x.doc = &doc;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        /* Exactly one document: a second one is an error, not ignored. */
        if (!yaml_parser_load(&parser, &extra)) {
            yaml_failure(&x, &parser);
        } else {
            const yaml_node_t *r2 = yaml_document_get_root_node(&extra);
            if (r2) fail(&x, r2, "", "expected one YAML document, found a second one");
            yaml_document_delete(&extra);
        }
    }
    if (!x.rc && root && !is_null(root) && root->type != YAML_MAPPING_NODE)
        fail_got(&x, root, "", "expected a mapping at the top level");
    top.deadman_min_lead_ms = (uint32_t)(LX_DEADMAN_MIN_LEAD_DEFAULT / 1000000);
    if (!x.rc) walk(&x, root, "", &top_set, &top, true);
    top.c.engine.deadman_min_lead_ns = (int64_t)top.deadman_min_lead_ms * 1000000;
    if (!x.rc) do_assets(&x, &top.c, top.assets);
    if (!x.rc) do_markets(&x, &top.c, top.markets);
    if (!x.rc) do_faucet(&x, &top.c, top.faucet);
    if (!x.rc) do_bridge_key(&x, &top.c, top.bridge_key);
    if (!x.rc) cross_checks(&x, &top.c, root);

    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (x.rc) {
        lx_config_free(&top.c);
        return x.rc;
    }
    *out = top.c;
    return 0;
}

int lx_config_load_file(const char *path, lx_config_t *out, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) {
        if (err && errlen) snprintf(err, errlen, "invalid argument");
        return LX_EINVAL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return LX_EIO;
    }
    size_t cap = 1 << 14, len = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (len == cap) {
            if (cap >= LX_CONFIG_FILE_MAX) {
                rc = LX_EINVAL;
                if (err && errlen)
                    snprintf(err, errlen, "%s: larger than %u bytes", path, LX_CONFIG_FILE_MAX);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0) {
            if (ferror(f)) {
                rc = LX_EIO;
                if (err && errlen) snprintf(err, errlen, "%s: read error", path);
            }
            break;
        }
    }
    fclose(f);
    if (!buf) {
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
        return LX_ENOMEM;
    }
    if (rc == 0) {
        char msg[LX_CONFIG_ERR_LEN];
        rc = lx_config_parse(buf, len, out, msg, sizeof msg);
        if (rc && err && errlen) snprintf(err, errlen, "%s: %s", path, msg);
    }
    free(buf);
    return rc;
}

int lx_config_default(lx_config_t *out, char *err, size_t errlen) {
    return lx_config_parse(dev_yaml, sizeof dev_yaml - 1, out, err, errlen);
}

/* ---- lookups and boot commands ------------------------------------------ */

const lx_config_asset_t *lx_config_asset(const lx_config_t *c, lx_asset_id_t id) {
    for (size_t i = 0; i < c->nassets; i++)
        if (c->assets[i].id == id) return &c->assets[i];
    return NULL;
}

const lx_config_asset_t *lx_config_asset_by_symbol(const lx_config_t *c, const char *symbol) {
    for (size_t i = 0; i < c->nassets; i++)
        if (strcmp(c->assets[i].symbol, symbol) == 0) return &c->assets[i];
    return NULL;
}

const lx_config_market_t *lx_config_market(const lx_config_t *c, lx_market_id_t id) {
    for (size_t i = 0; i < c->nmarkets; i++)
        if (c->markets[i].id == id) return &c->markets[i];
    return NULL;
}

const lx_config_market_t *lx_config_market_by_symbol(const lx_config_t *c, const char *symbol) {
    for (size_t i = 0; i < c->nmarkets; i++)
        if (strcasecmp(c->markets[i].symbol, symbol) == 0) return &c->markets[i];
    return NULL;
}

size_t lx_config_boot_cmds(const lx_config_t *c, uint32_t shard, lx_cmd_t *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < c->nassets; i++, n++) {
        if (n >= cap) continue;
        lx_cmd_t *cmd = &out[n];
        memset(cmd, 0, sizeof *cmd);
        cmd->type = LX_CMD_CREATE_ASSET;
        cmd->u.create_asset.asset = c->assets[i].id;
        memcpy(cmd->u.create_asset.symbol, c->assets[i].symbol, strlen(c->assets[i].symbol));
        cmd->u.create_asset.scale = c->assets[i].scale;
    }
    for (size_t i = 0; i < c->nmarkets; i++) {
        const lx_config_market_t *m = &c->markets[i];
        if (shard != UINT32_MAX && m->shard != shard) continue;
        if (n < cap) {
            lx_cmd_t *cmd = &out[n];
            memset(cmd, 0, sizeof *cmd);
            cmd->type = LX_CMD_CREATE_MARKET;
            lx_cmd_create_market_t *p = &cmd->u.create_market;
            p->market = m->id;
            p->base = m->base;
            p->quote = m->quote;
            p->mode = m->mode;
            p->tick_size = m->tick_size;
            p->lot_size = m->lot_size;
            p->min_price = m->min_price;
            p->max_price = m->max_price;
            p->max_qty = m->max_qty;
            p->maker_fee = m->maker_fee;
            p->taker_fee = m->taker_fee;
        }
        n++;
    }
    return n;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t cap, len;
} sb_t;

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sb_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *dst = b->len < b->cap ? b->buf + b->len : NULL;
    int k = vsnprintf(dst, dst ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (k > 0) b->len += (size_t)k;
}

/* A YAML double-quoted string. */
static void sb_quoted(sb_t *b, const char *s) {
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sb_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            sb_printf(b, "\\x%02x", ch);
        else
            sb_printf(b, "%c", ch);
    }
    sb_printf(b, "\"");
}

/* Quoted, without trailing fractional zeros: "0.01", "1000". */
static void sb_decimal(sb_t *b, int64_t v, int decimals) {
    char s[LX_DECIMAL_FORMAT_MAX];
    lx_decimal_format_short(v, decimals, s, sizeof s);
    sb_printf(b, "\"%s\"", s);
}

static void sb_addr(sb_t *b, const char *key, const lx_config_addr_t *a) {
    if (!a->enabled)
        sb_printf(b, "  %s: off\n", key);
    else if (a->ipv6)
        sb_printf(b, "  %s: \"[%s]:%u\"\n", key, a->host, a->port);
    else
        sb_printf(b, "  %s: \"%s:%u\"\n", key, a->host, a->port);
}

int lx_config_write(const lx_config_t *c, char *buf, size_t cap) {
    sb_t b = {buf, cap, 0};
    if (cap) buf[0] = 0;
    sb_printf(&b, "node:\n  name: ");
    sb_quoted(&b, c->node.name);
    sb_printf(&b,
              "\n  dev_mode: %s\n  chain_id: %u\n  data_dir: ", c->node.dev_mode ? "true" : "false",
              c->node.chain_id);
    sb_quoted(&b, c->node.data_dir);
    sb_printf(&b, "\n  prefault_memory: %s", c->node.prefault_memory ? "true" : "false");
    sb_printf(&b, "\nlisten:\n");
    sb_addr(&b, "http", &c->listen.http);
    sb_addr(&b, "ws", &c->listen.ws);
    sb_addr(&b, "binary", &c->listen.binary);
    sb_printf(&b,
              "engine:\n  max_markets: %u\n  max_assets: %u\n  max_accounts: %u\n"
              "  max_orders: %u\n  max_open_orders_per_account: %u\n  deadman_min_lead_ms: %lld\n"
              "  fee_account: %u\n",
              c->engine.max_markets, c->engine.max_assets, c->engine.max_accounts,
              c->engine.max_orders, c->engine.max_open_orders_per_account,
              (long long)(lx_engine_config_effective(&c->engine).deadman_min_lead_ns / 1000000),
              c->engine.fee_account);
    sb_printf(&b, "shards: %u\n", c->shards);
    sb_printf(&b,
              "journal:\n  segment_bytes: %llu\n  batch_max_bytes: %llu\n"
              "  batch_max_delay_us: %u\n  fsync: %s\n  snapshot_every_commands: %llu\n"
              "  retention_segments: %u\n",
              (unsigned long long)c->journal.segment_bytes,
              (unsigned long long)c->journal.batch_max_bytes, c->journal.batch_max_delay_us,
              c->journal.fsync ? "true" : "false",
              (unsigned long long)c->journal.snapshot_every_commands,
              c->journal.retention_segments);
    sb_printf(&b,
              "limits:\n  max_connections: %u\n  max_connections_per_ip: %u\n"
              "  max_message_bytes: %u\n  slow_subscriber_buffer_bytes: %llu\n",
              c->limits.max_connections, c->limits.max_connections_per_ip,
              c->limits.max_message_bytes,
              (unsigned long long)c->limits.slow_subscriber_buffer_bytes);
    sb_printf(&b, "gateway:\n  binary_threads: %u\n", c->gateway.binary_threads);
    sb_printf(&b,
              "rate_limits:\n  per_account:\n    rate: %u\n    burst: %u\n"
              "  per_connection:\n    rate: %u\n    burst: %u\n"
              "  weight:\n    place: %u\n    cancel: %u\n    amend: %u\n    cancel_all: %u\n",
              c->rate_limits.per_account.rate, c->rate_limits.per_account.burst,
              c->rate_limits.per_connection.rate, c->rate_limits.per_connection.burst,
              c->rate_limits.weight.place, c->rate_limits.weight.cancel,
              c->rate_limits.weight.amend, c->rate_limits.weight.cancel_all);

    sb_printf(&b, "assets:%s\n", c->nassets ? "" : " []");
    for (size_t i = 0; i < c->nassets; i++) {
        const lx_config_asset_t *a = &c->assets[i];
        sb_printf(&b, "  - id: %u\n    symbol: ", a->id);
        sb_quoted(&b, a->symbol);
        sb_printf(&b, "\n    scale: %lld\n", (long long)a->scale);
    }
    sb_printf(&b, "markets:%s\n", c->nmarkets ? "" : " []");
    for (size_t i = 0; i < c->nmarkets; i++) {
        const lx_config_market_t *m = &c->markets[i];
        const lx_config_asset_t *base = lx_config_asset(c, m->base);
        const lx_config_asset_t *quote = lx_config_asset(c, m->quote);
        if (!base || !quote) return LX_EINVAL;
        sb_printf(&b, "  - id: %u\n    symbol: ", m->id);
        sb_quoted(&b, m->symbol);
        sb_printf(&b, "\n    base: ");
        sb_quoted(&b, base->symbol);
        sb_printf(&b, "\n    quote: ");
        sb_quoted(&b, quote->symbol);
        sb_printf(&b, "\n    mode: %s\n    shard: %u\n    tick_size: ",
                  m->mode == LX_MODE_BATCH ? "batch" : "continuous", m->shard);
        sb_decimal(&b, m->tick_size, quote->decimals);
        sb_printf(&b, "\n    lot_size: ");
        sb_decimal(&b, m->lot_size, base->decimals);
        /* Prices and quantities are products of values that were parsed as
         * int64 units, so they fit. */
        sb_printf(&b, "\n    min_price: ");
        sb_decimal(&b, m->min_price * m->tick_size, quote->decimals);
        sb_printf(&b, "\n    max_price: ");
        sb_decimal(&b, m->max_price * m->tick_size, quote->decimals);
        sb_printf(&b, "\n    max_qty: ");
        sb_decimal(&b, m->max_qty * m->lot_size, base->decimals);
        sb_printf(&b, "\n    maker_fee: ");
        sb_decimal(&b, m->maker_fee, LX_CONFIG_FEE_DECIMALS);
        sb_printf(&b, "\n    taker_fee: ");
        sb_decimal(&b, m->taker_fee, LX_CONFIG_FEE_DECIMALS);
        sb_printf(&b, "\n");
    }
    if (c->has_bridge_key) {
        sb_printf(&b, "bridge_key: \"");
        for (int i = 0; i < 32; i++) sb_printf(&b, "%02x", c->bridge_key[i]);
        sb_printf(&b, "\"\n");
    } else {
        sb_printf(&b, "bridge_key: null\n");
    }
    sb_printf(&b, "dev:\n  faucet:%s\n", c->nfaucet ? "" : " {}");
    for (size_t i = 0; i < c->nfaucet; i++) {
        const lx_config_asset_t *a = lx_config_asset(c, c->faucet[i].asset);
        if (!a) return LX_EINVAL;
        sb_printf(&b, "    ");
        sb_quoted(&b, a->symbol);
        sb_printf(&b, ": ");
        sb_decimal(&b, c->faucet[i].amount, a->decimals);
        sb_printf(&b, "\n");
    }
    if (b.len > INT32_MAX) return LX_ERANGE;
    return (int)b.len;
}
