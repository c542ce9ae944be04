/*
 * web_json.c: the pure JSON layer of the web gateway (gw/web.h): exact
 * numbers, field access, markets, decimal rendering, actions and outcomes.
 * No sockets, no threads, no node: everything here is a function of its
 * arguments, which is what the unit tests and the fuzz driver exercise.
 *
 * Exact numbers. JSON-RPC clients send prices and sizes as JSON numbers,
 * and a double cannot hold 0.1. Jansson keeps no literal text of a number,
 * and its real type is a double, so the text is rewritten before jansson
 * sees it: a small scanner walks the bytes, skipping strings (and refusing
 * any string that contains \u0000), and replaces every number token that
 * matches the JSON grammar with a string token "\u0000<the token>". After
 * json_loadb such a value is a string whose first byte is NUL, which no
 * client string can be: it is a number, and its text is the token, which
 * is then read exactly (lx_api_to_steps for decimals, digit by digit for
 * integers). Exponent forms ("1e-2") are valid JSON but not decimals here:
 * they are refused with "not a decimal number". The cost is one pass over
 * the text and a buffer of at most five times its size (a number "1," grows
 * to ten bytes), freed at once.
 *
 * Output uses the same trick backwards: lx__web_num() makes a marked string
 * and lx__web_dump() rewrites "\u0000<text>" string tokens as bare number
 * tokens after json_dumps, so JSON-RPC answers carry exact decimal numbers
 * ("Price":101.25) without a double anywhere.
 *
 * Actions. lx__web_fields_t holds the values of an order-entry action's
 * fields whatever the API called them (the own API's "market" is JSON-RPC's
 * "symbol"), each as its kind and its text (lx__web_val_t), so that a value
 * read by jansson and one read in place by the WebSocket's fast path
 * (lx__web_flat: one flat object of plain scalars, no allocation; anything
 * else goes to jansson) are validated by the same code; lx__web_action()
 * validates them into an lx_cmd_t, each error naming its field. Nothing reaches the node unless the
 * whole action is valid. Outcomes collect what the engine said about one command (the events that
 * carry its tag) into the answer the client gets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw/web.h"
#include "lx/error.h"
#include "lx/jsonapi.h"

/* ---- exact numbers ----------------------------------------------------------------------------
 */

/* A JSON number token: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_number(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return false;
    }
    return i == n;
}

static bool numchar(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

int lx__web_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (len > ((size_t)1 << 28)) {
        snprintf(err, errlen, "message too large");
        return -1;
    }
    char *buf = malloc(len * 5 + 16);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t o = 0, i = 0;
    while (i < len) {
        char ch = text[i];
        if (ch == '"') {
            size_t j = i + 1;
            while (j < len && text[j] != '"') {
                if (text[j] == '\\') {
                    if (j + 5 < len && text[j + 1] == 'u' && !memcmp(text + j + 2, "0000", 4)) {
                        free(buf);
                        snprintf(err, errlen, "invalid JSON: strings may not contain \\u0000");
                        return -1;
                    }
                    j += 2;
                    continue;
                }
                j++;
            }
            size_t end = j < len ? j + 1 : len;
            memcpy(buf + o, text + i, end - i);
            o += end - i;
            i = end;
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t j = i;
            while (j < len && numchar(text[j])) j++;
            if (is_number(text + i, j - i)) {
                memcpy(buf + o, "\"\\u0000", 7);
                o += 7;
                memcpy(buf + o, text + i, j - i);
                o += j - i;
                buf[o++] = '"';
            } else {
                memcpy(buf + o, text + i, j - i); /* invalid: jansson says so */
                o += j - i;
            }
            i = j;
        } else {
            buf[o++] = ch;
            i++;
        }
    }
    json_error_t e;
    json_t *v = json_loadb(buf, o, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
    free(buf);
    if (!v) {
        snprintf(err, errlen, "invalid JSON: %s", e.text);
        return -1;
    }
    *out = v;
    return 0;
}

char *lx__web_dump(const json_t *v, size_t *len) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) return NULL;
    /* Rewrite "\u0000<text>" string tokens as bare number tokens, in place
     * (the text only shrinks). */
    size_t r = 0, w = 0, n = strlen(s);
    while (r < n) {
        if (s[r] != '"') {
            s[w++] = s[r++];
            continue;
        }
        if (r + 7 <= n && !memcmp(s + r + 1, "\\u0000", 6)) {
            r += 7;
            while (r < n && s[r] != '"') s[w++] = s[r++];
            r++; /* the closing quote */
            continue;
        }
        s[w++] = s[r++];
        while (r < n && s[r] != '"') {
            if (s[r] == '\\' && r + 1 < n) s[w++] = s[r++];
            s[w++] = s[r++];
        }
        if (r < n) s[w++] = s[r++];
    }
    s[w] = '\0';
    if (len) *len = w;
    return s;
}

json_t *lx__web_num(const char *text) {
    char b[64];
    size_t n = strlen(text);
    if (n + 1 > sizeof b) return NULL;
    b[0] = '\0';
    memcpy(b + 1, text, n);
    return json_stringn(b, n + 1);
}

json_t *lx__web_num_u64(uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return lx__web_num(b);
}

const char *lx__web_num_text(const json_t *v, size_t *len) {
    if (!json_is_string(v)) return NULL;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < 2 || s[0] != '\0') return NULL;
    if (len) *len = n - 1;
    return s + 1;
}

const char *lx__web_text(const json_t *v, size_t *len) {
    const char *t = lx__web_num_text(v, len);
    if (t) return t;
    if (!json_is_string(v)) return NULL;
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

lx__web_val_t lx__web_val(const json_t *v) {
    lx__web_val_t r = {NULL, 0, LX__WEB_V_NONE};
    if (!v) return r;
    if ((r.s = lx__web_num_text(v, &r.n)) != NULL) {
        r.kind = LX__WEB_V_NUMBER;
    } else if (json_is_string(v)) {
        r.kind = LX__WEB_V_STRING;
        r.s = json_string_value(v);
        r.n = json_string_length(v);
    } else {
        r.kind = json_is_true(v)    ? LX__WEB_V_TRUE
                 : json_is_false(v) ? LX__WEB_V_FALSE
                 : json_is_null(v)  ? LX__WEB_V_NULL
                                    : LX__WEB_V_OTHER;
    }
    return r;
}

const char *lx__web_vtext(lx__web_val_t v, size_t *len) {
    if (v.kind != LX__WEB_V_STRING && v.kind != LX__WEB_V_NUMBER) return NULL;
    if (len) *len = v.n;
    return v.s;
}

int lx__web_u64(const json_t *v, uint64_t *out) {
    return lx__web_vu64(lx__web_val(v), out);
}

int lx__web_vu64(lx__web_val_t v, uint64_t *out) {
    size_t n;
    const char *s = lx__web_vtext(v, &n);
    if (!s || n == 0 || n > 20) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

static bool in_list(const char *k, const char *const *l) {
    for (; l && *l; l++)
        if (!strcmp(k, *l)) return true;
    return false;
}

int lx__web_keys(const json_t *obj, const char *const *allowed, const char *const *allowed2,
                 char *err, size_t errlen) {
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)obj, k, val) {
        (void)val;
        if (!in_list(k, allowed) && !in_list(k, allowed2)) {
            snprintf(err, errlen, "unknown field \"%.*s\"", lx__web_cut(k, strlen(k), 60), k);
            return -1;
        }
    }
    return 0;
}

/* ---- markets and rendering ------------------------------------------------------------------ */

int lx__web_markets_init(lx__web_markets_t *ms, const lx_config_t *cfg) {
    memset(ms, 0, sizeof *ms);
    ms->cfg = cfg;
    ms->nmk = cfg->engine.max_markets ? cfg->engine.max_markets : 1;
    ms->mk = calloc(ms->nmk, sizeof *ms->mk);
    if (!ms->mk) return LX_ENOMEM;
    for (size_t i = 0; i < cfg->nmarkets; i++) {
        const lx_config_market_t *m = &cfg->markets[i];
        const lx_config_asset_t *b = lx_config_asset(cfg, m->base);
        const lx_config_asset_t *q = lx_config_asset(cfg, m->quote);
        if (m->id >= ms->nmk || !b || !q) continue;
        ms->mk[m->id] = (lx__web_market_t){m, b->scale, q->scale, b->symbol, q->symbol};
    }
    return 0;
}

void lx__web_markets_free(lx__web_markets_t *ms) {
    free(ms->mk);
    ms->mk = NULL;
    ms->nmk = 0;
}

const lx__web_market_t *lx__web_market_get(const lx__web_markets_t *ms, lx_market_id_t id) {
    return id < ms->nmk && ms->mk[id].m ? &ms->mk[id] : NULL;
}

const lx__web_market_t *lx__web_market_find(const lx__web_markets_t *ms, const char *name,
                                            size_t len) {
    if (!name || len == 0 || len > LX_CONFIG_MARKET_SYMBOL_MAX) return NULL;
    bool digits = true;
    for (size_t i = 0; i < len; i++) digits &= name[i] >= '0' && name[i] <= '9';
    if (digits && len <= 9) {
        uint32_t id = 0;
        for (size_t i = 0; i < len; i++) id = id * 10 + (uint32_t)(name[i] - '0');
        return lx__web_market_get(ms, id);
    }
    for (uint32_t i = 0; i < ms->nmk; i++) {
        const lx_config_market_t *m = ms->mk[i].m;
        if (m && strlen(m->symbol) == len && !strncasecmp(m->symbol, name, len)) return &ms->mk[i];
    }
    return NULL;
}

static json_t *steps(int64_t n, int64_t scale, int64_t step, bool num) {
    char b[64];
    if (lx_api_from_steps(n, scale, step, b, sizeof b) < 0) return json_null();
    return num ? lx__web_num(b) : json_string(b);
}

json_t *lx__web_price(const lx__web_market_t *m, int64_t ticks, bool num) {
    return steps(ticks, m->quote_scale, m->m->tick_size, num);
}

json_t *lx__web_qty(const lx__web_market_t *m, int64_t lots, bool num) {
    return steps(lots, m->base_scale, m->m->lot_size, num);
}

json_t *lx__web_amount(int64_t units, int64_t scale, bool num) {
    return steps(units, scale, 1, num);
}

json_t *lx__web_id(uint64_t id, bool num) {
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)id);
    return num ? lx__web_num(b) : json_string(b);
}

const char *lx__web_side_name(int side) {
    return side == LX_SIDE_SELL ? "sell" : "buy";
}

/* ---- actions ----------------------------------------------------------------------------------
 */

/* The own API's names of an action's fields, by command type. */
static const char *const *own_names(int cmd_type) {
    static const char *const place[] = {"market", "side",   "orderType", "price",
                                        "size",   "tif",    "postOnly",  "clientId",
                                        "stp",    "expiry", "account",   NULL};
    static const char *const cancel[] = {"market", "orderId", "clientId", "account", NULL};
    static const char *const amend[] = {"market", "orderId", "clientId", "price",
                                        "size",   "account", NULL};
    static const char *const cancel_all[] = {"market", "account", NULL};
    return cmd_type == LX_CMD_PLACE    ? place
           : cmd_type == LX_CMD_CANCEL ? cancel
           : cmd_type == LX_CMD_AMEND  ? amend
                                       : cancel_all;
}

/* The field an own-API name fills (NULL: not a field's name). */
static lx__web_val_t *own_field(lx__web_fields_t *f, const char *k, size_t n) {
#define OWN(name, member)                                                                          \
    if (n == sizeof(name) - 1 && !memcmp(k, name, n)) return &f->member
    OWN("market", market);
    OWN("side", side);
    OWN("orderType", type); /* "type" names the message */
    OWN("price", price);
    OWN("size", size);
    OWN("tif", tif);
    OWN("postOnly", post_only);
    OWN("clientId", client_id);
    OWN("stp", stp);
    OWN("expiry", expiry);
    OWN("orderId", order_id);
    OWN("account", account);
#undef OWN
    return NULL;
}

int lx__web_own_fields(const json_t *obj, int cmd_type, const char *const *extra,
                       lx__web_fields_t *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "an action is a JSON object");
        return -1;
    }
    if (lx__web_keys(obj, own_names(cmd_type), extra, err, errlen)) return -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        lx__web_val_t *x = own_field(f, k, strlen(k));
        if (x) *x = lx__web_val(v);
    }
    return 0;
}

static bool in_listn(const char *k, size_t n, const char *const *l) {
    for (; l && *l; l++)
        if (!strncmp(k, *l, n) && (*l)[n] == '\0') return true;
    return false;
}

int lx__web_own_fields_flat(const lx__web_member_t *m, int n, int cmd_type,
                            const char *const *extra, lx__web_fields_t *f) {
    const char *const *names = own_names(cmd_type);
    memset(f, 0, sizeof *f);
    for (int i = 0; i < n; i++) {
        if (in_listn(m[i].key, m[i].klen, extra)) continue;
        if (!in_listn(m[i].key, m[i].klen, names)) return -1;
        lx__web_val_t *x = own_field(f, m[i].key, m[i].klen);
        if (x) *x = m[i].v;
    }
    return 0;
}

/* ---- the flat fast path ------------------------------------------------------------------- */

static size_t skip_ws(const char *t, size_t i, size_t len) {
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) i++;
    return i;
}

/* A string without escapes, in printable ASCII, at t[i] == '"': its end
 * (after the closing quote), or 0. */
static size_t flat_string(const char *t, size_t i, size_t len) {
    for (i++; i < len; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch == '"') return i + 1;
        if (ch < 0x20 || ch > 0x7e || ch == '\\') return 0;
    }
    return 0;
}

int lx__web_flat(const char *t, size_t len, lx__web_member_t *m, int max) {
    size_t i = skip_ws(t, 0, len);
    int n = 0;
    if (i >= len || t[i] != '{') return -1;
    i = skip_ws(t, i + 1, len);
    if (i < len && t[i] == '}') return skip_ws(t, i + 1, len) == len ? 0 : -1;
    for (;;) {
        if (n == max || i >= len || t[i] != '"') return -1;
        size_t e = flat_string(t, i, len);
        if (!e) return -1;
        lx__web_member_t *x = &m[n];
        x->key = t + i + 1;
        x->klen = e - i - 2;
        for (int k = 0; k < n; k++)
            if (m[k].klen == x->klen && !memcmp(m[k].key, x->key, x->klen)) return -1;
        i = skip_ws(t, e, len);
        if (i >= len || t[i] != ':') return -1;
        i = skip_ws(t, i + 1, len);
        if (i >= len) return -1;
        if (t[i] == '"') {
            if (!(e = flat_string(t, i, len))) return -1;
            x->v = (lx__web_val_t){t + i + 1, e - i - 2, LX__WEB_V_STRING};
        } else if (t[i] == '-' || (t[i] >= '0' && t[i] <= '9')) {
            for (e = i; e < len && numchar(t[e]);) e++;
            if (!is_number(t + i, e - i)) return -1;
            x->v = (lx__web_val_t){t + i, e - i, LX__WEB_V_NUMBER};
        } else if (len - i >= 4 && !memcmp(t + i, "true", 4)) {
            e = i + 4;
            x->v = (lx__web_val_t){t + i, 4, LX__WEB_V_TRUE};
        } else if (len - i >= 5 && !memcmp(t + i, "false", 5)) {
            e = i + 5;
            x->v = (lx__web_val_t){t + i, 5, LX__WEB_V_FALSE};
        } else if (len - i >= 4 && !memcmp(t + i, "null", 4)) {
            e = i + 4;
            x->v = (lx__web_val_t){t + i, 4, LX__WEB_V_NULL};
        } else {
            return -1;
        }
        n++;
        i = skip_ws(t, e, len);
        if (i < len && t[i] == ',') {
            i = skip_ws(t, i + 1, len);
            continue;
        }
        if (i < len && t[i] == '}') return skip_ws(t, i + 1, len) == len ? n : -1;
        return -1;
    }
}

lx__web_val_t lx__web_flat_get(const lx__web_member_t *m, int n, const char *key) {
    size_t kl = strlen(key);
    for (int i = 0; i < n; i++)
        if (m[i].klen == kl && !memcmp(m[i].key, key, kl)) return m[i].v;
    return (lx__web_val_t){NULL, 0, LX__WEB_V_NONE};
}

/* A decimal zero ("0", 0, "0.00", 0.0), as a number or a string. */
static bool is_zero(lx__web_val_t v) {
    if ((v.kind != LX__WEB_V_NUMBER && v.kind != LX__WEB_V_STRING) || v.n == 0 || v.s[0] != '0')
        return false;
    bool point = false;
    for (size_t i = 0; i < v.n; i++) {
        if (v.s[i] == '.' && !point && i > 0 && i + 1 < v.n)
            point = true;
        else if (v.s[i] != '0')
            return false;
    }
    return true;
}

/* A name from `names` (any case) or its index given as an integer. */
static int enum_value(lx__web_val_t v, const char *const *names, int n) {
    uint64_t x;
    if (v.kind == LX__WEB_V_NUMBER)
        return lx__web_vu64(v, &x) == 0 && x < (uint64_t)n ? (int)x : -1;
    if (v.kind != LX__WEB_V_STRING) return -1;
    for (int i = 0; i < n; i++)
        if (names[i] && !strncasecmp(v.s, names[i], v.n) && names[i][v.n] == '\0') return i;
    return -1;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int lx__web_cut(const char *s, size_t n, size_t max) {
    const char *z = memchr(s, 0, n);
    if (z) n = (size_t)(z - s);
    if (n <= max) return (int)n;
    /* s[max] is the first byte left out: if it continues a character, that
     * character started inside the quote: leave it out whole */
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
    return (int)max;
}

/* The length of the valid UTF-8 character at s (as jansson checks it: no
 * overlong form, no surrogate, nothing above U+10FFFF), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n) {
    unsigned char b = s[0];
    size_t len;
    uint32_t cp;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2, cp = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3, cp = b & 0x0F;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4, cp = b & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

void lx__web_utf8_trim(char *s) {
    size_t n = strlen(s), i = n, k = 0;
    /* back to the last lead byte (at most 3 continuation bytes) */
    while (i > 0 && k < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--, k++;
    if (i > 0) {
        unsigned char b = (unsigned char)s[i - 1];
        size_t want = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        if (k + 1 < want) s[i - 1] = '\0', n = i - 1;
    }
    /* what is not UTF-8 inside (a client's bytes quoted from a URL) becomes
     * '?': jansson refuses such a string, and the answer was lost */
    for (i = 0; i < n;) {
        size_t c = utf8_char((const unsigned char *)s + i, n - i);
        if (c) {
            i += c;
        } else {
            s[i++] = '?';
        }
    }
}

static int cut40(const char *s, size_t n) {
    return lx__web_cut(s, n, LX__WEB_QUOTE);
}

static int decimal(const lx__web_market_t *m, lx__web_val_t v, bool price, const char *name,
                   int64_t *out, char *err, size_t errlen) {
    size_t n;
    const char *s = lx__web_vtext(v, &n);
    if (!s) return fail(err, errlen, "%s: a decimal string or number is required", name);
    const char *why = NULL;
    int64_t scale = price ? m->quote_scale : m->base_scale;
    int64_t step = price ? m->m->tick_size : m->m->lot_size;
    if (lx_api_to_steps(s, n, scale, step, out, &why) == 0) return 0;
    char g[64] = "";
    lx_api_from_steps(1, scale, step, g, sizeof g);
    if (why && !strcmp(why, "not on the grid"))
        return fail(err, errlen, "%s: \"%.*s\" is not on the grid (%s %s)", name, cut40(s, n), s,
                    price ? "tick size" : "lot size", g);
    return fail(err, errlen, "%s: \"%.*s\": %s", name, cut40(s, n), s, why ? why : "invalid");
}

int lx__web_action(const lx__web_markets_t *ms, const lx_view_t *view, int cmd_type,
                   const lx__web_fields_t *f, lx_account_id_t account, lx__web_action_t *out,
                   char *err, size_t errlen) {
    const lx_config_t *cfg = ms->cfg;
    memset(out, 0, sizeof *out);
    lx_cmd_t *c = &out->cmd;
    c->type = (lx_cmd_type_t)cmd_type;
    /* the account */
    lx_account_id_t acct = account;
    if (f->account.kind) {
        uint64_t a;
        if (lx__web_vu64(f->account, &a) || a >= cfg->engine.max_accounts)
            return fail(err, errlen, "account: an integer below %u is required",
                        cfg->engine.max_accounts);
        if (account != LX_ACCOUNT_NONE && a != account)
            return fail(err, errlen, "account: this session acts for account %u", account);
        acct = (lx_account_id_t)a;
    }
    /* the order a cancel or amend names, and its market */
    uint64_t oid = 0, cid = 0;
    bool by_cid = false;
    const lx__web_market_t *m = NULL;
    if (f->client_id.kind && lx__web_vu64(f->client_id, &cid))
        return fail(err, errlen, "clientId: an integer 0..2^64-1 is required");
    if (cmd_type == LX_CMD_CANCEL || cmd_type == LX_CMD_AMEND) {
        if (f->order_id.kind && f->client_id.kind)
            return fail(err, errlen, "give orderId or clientId, not both");
        if (f->order_id.kind) {
            if (lx__web_vu64(f->order_id, &oid) || oid == 0)
                return fail(err, errlen, "orderId: a positive integer is required");
        } else if (f->client_id.kind) {
            by_cid = true;
            if (cid == 0) return fail(err, errlen, "clientId: must not be 0");
        } else {
            return fail(err, errlen, "orderId (or clientId with market) is required");
        }
    }
    if (f->market.kind) {
        size_t n = 1;
        const char *s = lx__web_vtext(f->market, &n);
        if (!s || !(m = lx__web_market_find(ms, s, n)))
            return fail(err, errlen, "market: unknown market \"%.*s\"", s ? cut40(s, n) : 1,
                        s ? s : "?");
    }
    if (oid && (!m || acct == LX_ACCOUNT_NONE)) {
        lx_view_order_t vo;
        if (lx_view_order(view, oid, &vo)) {
            if (!m) m = lx__web_market_get(ms, vo.market);
            if (acct == LX_ACCOUNT_NONE) acct = vo.account;
        } else if (!m) {
            /* unknown here: the engine says UNKNOWN_ORDER */
            return fail(err, errlen, "orderId: no open order %llu", (unsigned long long)oid);
        }
    }
    if (by_cid && acct != LX_ACCOUNT_NONE && !m) {
        /* the market of the account's open order with that client id, all
         * its orders looked at (a client id is unique among them) */
        lx_view_order_t buf[64], *all = buf;
        size_t total = lx_view_account_orders(view, acct, buf, 64);
        if (total > 64 && (all = malloc(total * sizeof *all)) != NULL)
            total = lx_view_account_orders(view, acct, all, total);
        else if (total > 64)
            all = buf, total = 64;
        for (size_t i = 0; i < total; i++)
            if (all[i].client_id == cid) {
                m = lx__web_market_get(ms, all[i].market);
                break;
            }
        if (all != buf) free(all);
        if (!m) return fail(err, errlen, "market: required with clientId");
    }
    if (acct == LX_ACCOUNT_NONE) return fail(err, errlen, "account: required");
    if (!m && cmd_type != LX_CMD_CANCEL_ALL) return fail(err, errlen, "market: required");
    out->account = acct;
    const lx_config_t *k = cfg;
    switch (cmd_type) {
    case LX_CMD_PLACE: {
        static const char *const sides[] = {"buy", "sell"};
        static const char *const types[] = {"limit", "market"};
        static const char *const tifs[] = {"GTC", "GTD", "IOC", "FOK", "POST_ONLY"};
        static const char *const stps[] = {"none", "expire_taker", "expire_maker", "expire_both",
                                           "decrement"};
        lx_cmd_place_t *p = &c->u.place;
        p->account = acct;
        p->market = m->m->id;
        int side = f->side.kind ? enum_value(f->side, sides, 2) : -1;
        if (side < 0) return fail(err, errlen, "side: \"buy\" or \"sell\" (0 or 1) is required");
        p->side = (uint8_t)side;
        int type = f->type.kind ? enum_value(f->type, types, 2) : LX_ORDER_LIMIT;
        if (type < 0) return fail(err, errlen, "orderType: \"limit\" or \"market\" (0 or 1)");
        p->type = (uint8_t)type;
        int tif = f->tif.kind ? enum_value(f->tif, tifs, 5) : LX_TIF_GTC;
        if (tif < 0) return fail(err, errlen, "tif: one of GTC, GTD, IOC, FOK, POST_ONLY (0..4)");
        if (f->post_only.kind) {
            if (f->post_only.kind != LX__WEB_V_TRUE && f->post_only.kind != LX__WEB_V_FALSE)
                return fail(err, errlen, "postOnly: true or false");
            if (f->post_only.kind == LX__WEB_V_TRUE) {
                if (tif != LX_TIF_GTC && tif != LX_TIF_POST_ONLY)
                    return fail(err, errlen, "postOnly: conflicts with tif %s", tifs[tif]);
                tif = LX_TIF_POST_ONLY;
            }
        }
        p->tif = (uint8_t)tif;
        int stp = f->stp.kind ? enum_value(f->stp, stps, 5) : LX_STP_NONE;
        if (stp < 0)
            return fail(err, errlen,
                        "stp: one of none, expire_taker, expire_maker, expire_both, decrement");
        p->stp = (uint8_t)stp;
        /* a market order's price 0 (number or string, as everywhere) is none */
        if (f->price.kind && !(type == LX_ORDER_MARKET && is_zero(f->price))) {
            if (decimal(m, f->price, true, "price", &p->price, err, errlen)) return -1;
        } else if (type == LX_ORDER_LIMIT) {
            return fail(err, errlen, "price: required for a limit order");
        } else {
            /* a market order without a price is protected at the band's edge */
            p->price = side == LX_SIDE_BUY ? m->m->max_price : m->m->min_price;
        }
        if (!f->size.kind) return fail(err, errlen, "size: required");
        if (decimal(m, f->size, false, "size", &p->qty, err, errlen)) return -1;
        p->client_id = cid;
        if (tif == LX_TIF_GTD) {
            uint64_t e;
            if (!f->expiry.kind || lx__web_vu64(f->expiry, &e) || e == 0 || e > INT64_MAX)
                return fail(err, errlen, "expiry: GTD needs expiry, ns since the epoch");
            p->expiry = (int64_t)e;
        } else if (f->expiry.kind) {
            return fail(err, errlen, "expiry: only with tif GTD");
        }
        out->client_id = cid;
        out->weight = k->rate_limits.weight.place;
        break;
    }
    case LX_CMD_CANCEL: {
        lx_cmd_cancel_t *p = &c->u.cancel;
        p->account = acct;
        p->market = m->m->id;
        p->by_client_id = by_cid;
        p->order_id = oid;
        p->client_id = cid;
        out->client_id = cid;
        out->weight = k->rate_limits.weight.cancel;
        break;
    }
    case LX_CMD_AMEND: {
        lx_cmd_amend_t *p = &c->u.amend;
        p->account = acct;
        p->market = m->m->id;
        p->by_client_id = by_cid;
        p->order_id = oid;
        p->client_id = cid;
        if (!f->price.kind) return fail(err, errlen, "price: required");
        if (!f->size.kind) return fail(err, errlen, "size: required");
        if (decimal(m, f->price, true, "price", &p->price, err, errlen)) return -1;
        if (decimal(m, f->size, false, "size", &p->qty, err, errlen)) return -1;
        out->client_id = cid;
        out->weight = k->rate_limits.weight.amend;
        break;
    }
    case LX_CMD_CANCEL_ALL:
        c->u.cancel_all.account = acct;
        c->u.cancel_all.market = m ? m->m->id : LX_MARKET_ALL;
        c->u.cancel_all.reason = LX_CANCEL_ALL_USER;
        out->weight = k->rate_limits.weight.cancel_all;
        break;
    default:
        return fail(err, errlen, "not an order-entry action");
    }
    if (out->weight == 0) out->weight = 1;
    return 0;
}

/* ---- outcomes ---------------------------------------------------------------------------------
 */

void lx__web_outcome_init(lx__web_outcome_t *o, const lx__web_action_t *a) {
    memset(o, 0, offsetof(lx__web_outcome_t, fills)); /* fills[] is read up to nfills */
    o->cmd_type = (uint8_t)a->cmd.type;
    o->account = a->account;
    o->client_id = a->client_id;
    switch (a->cmd.type) {
    case LX_CMD_PLACE:
        o->market = a->cmd.u.place.market;
        o->price = a->cmd.u.place.price;
        o->qty = a->cmd.u.place.qty;
        break;
    case LX_CMD_CANCEL:
        o->market = a->cmd.u.cancel.market;
        o->order_id = a->cmd.u.cancel.order_id;
        break;
    case LX_CMD_AMEND:
        o->market = a->cmd.u.amend.market;
        o->order_id = a->cmd.u.amend.order_id;
        o->price = a->cmd.u.amend.price;
        o->qty = a->cmd.u.amend.qty;
        break;
    case LX_CMD_CANCEL_ALL:
        o->market = a->cmd.u.cancel_all.market;
        break;
    default: /* a signed envelope's other commands: no market, no order */
        o->market = LX_MARKET_NONE;
        break;
    }
}

static void add_fill(lx__web_outcome_t *o, const lx_ev_trade_t *t, bool maker) {
    o->filled += t->qty;
    o->remaining = maker ? t->maker_remaining : t->taker_remaining;
    if (o->nfills == LX__WEB_FILLS_MAX) {
        o->fills_dropped++;
        return;
    }
    o->fills[o->nfills++] =
        (lx__web_fill_t){t->price, t->qty, maker ? t->maker_fee : t->taker_fee, maker};
}

void lx__web_outcome_event(lx__web_outcome_t *o, const lx_event_t *ev) {
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED:
        o->accepted = true;
        o->order_id = ev->u.accepted.order_id;
        o->market = ev->market;
        o->price = ev->u.accepted.price;
        o->qty = ev->u.accepted.qty;
        o->remaining = ev->u.accepted.qty;
        if (!o->client_id) o->client_id = ev->u.accepted.client_id;
        break;
    case LX_EV_TRADE:
        if (o->order_id && ev->u.trade.taker_order == o->order_id)
            add_fill(o, &ev->u.trade, false);
        else if (o->order_id && ev->u.trade.maker_order == o->order_id)
            add_fill(o, &ev->u.trade, true);
        break;
    case LX_EV_ORDER_CANCELED:
        if (o->cmd_type == LX_CMD_CANCEL_ALL) {
            o->ncanceled++;
        } else if (!o->order_id || ev->u.canceled.order_id == o->order_id ||
                   (o->cmd_type != LX_CMD_PLACE && o->client_id &&
                    ev->u.canceled.client_id == o->client_id)) {
            o->canceled = true;
            o->order_id = ev->u.canceled.order_id;
            o->cancel_reason = ev->u.canceled.reason;
            o->remaining = 0;
        }
        break;
    case LX_EV_ORDER_AMENDED:
        /* another order's: a resting order of the same account that a
         * self-trade decrement reduced */
        if (o->order_id && ev->u.amended.order_id != o->order_id) break;
        o->amended = true;
        o->order_id = ev->u.amended.order_id;
        o->price = ev->u.amended.price;
        o->qty = ev->u.amended.qty;
        o->remaining = ev->u.amended.remaining;
        o->filled = ev->u.amended.qty - ev->u.amended.remaining; /* trades after add to it */
        break;
    case LX_EV_REJECTED:
        o->rejected = true;
        o->reason = ev->u.rejected.reason;
        break;
    default:
        break;
    }
    if (ev->seq) o->seq = ev->seq;
}

const char *lx__web_outcome_status(const lx__web_outcome_t *o) {
    if (o->rejected) return "rejected";
    switch (o->cmd_type) {
    case LX_CMD_PLACE:
        if (!o->accepted) return "rejected";
        if (o->qty > 0 && o->filled >= o->qty) return "filled";
        if (o->canceled) return "canceled";
        return o->filled > 0 ? "partially_filled" : "open";
    case LX_CMD_AMEND:
        if (o->canceled) return "canceled";
        if (o->amended && o->remaining == 0) return "filled";
        return "amended";
    case LX_CMD_CANCEL:
    case LX_CMD_CANCEL_ALL:
        return "canceled";
    default:
        return "applied";
    }
}

json_t *lx__web_outcome_json(const lx__web_markets_t *ms, const lx__web_outcome_t *o, bool rpc) {
    json_t *r = json_object();
    if (!r) return NULL;
    const lx__web_market_t *m = lx__web_market_get(ms, o->market);
    if (o->order_id) json_object_set_new(r, "orderId", lx__web_id(o->order_id, rpc));
    json_object_set_new(r, "status", json_string(lx__web_outcome_status(o)));
    if (o->rejected) {
        json_object_set_new(r, "reason", json_string(lx_reject_name(o->reason)));
        json_object_set_new(r, "message", json_string(lx_reject_str(o->reason)));
    }
    if (o->client_id)
        json_object_set_new(r, rpc ? "clientID" : "clientId", lx__web_id(o->client_id, rpc));
    if (o->cmd_type == LX_CMD_CANCEL_ALL) {
        json_object_set_new(r, "canceled", json_integer(o->ncanceled));
    } else if (m && !o->rejected) {
        if (!rpc) json_object_set_new(r, "market", json_string(m->m->symbol));
        if (o->cmd_type != LX_CMD_CANCEL || o->qty) {
            json_object_set_new(r, "price", lx__web_price(m, o->price, rpc));
            json_object_set_new(r, "size", lx__web_qty(m, o->qty, rpc));
            json_object_set_new(r, "filled", lx__web_qty(m, o->filled, rpc));
            json_object_set_new(r, "remaining", lx__web_qty(m, o->remaining, rpc));
        }
        if (o->canceled)
            json_object_set_new(r, rpc ? "cancelReason" : "cancelReason",
                                json_string(lx_cancel_reason_name(o->cancel_reason)));
        if (!rpc && o->nfills) {
            json_t *fs = json_array();
            for (uint32_t i = 0; i < o->nfills; i++) {
                const lx__web_fill_t *f = &o->fills[i];
                json_t *x = json_object();
                json_object_set_new(x, "price", lx__web_price(m, f->price, false));
                json_object_set_new(x, "size", lx__web_qty(m, f->qty, false));
                json_object_set_new(x, "fee", lx__web_amount(f->fee, m->quote_scale, false));
                json_object_set_new(x, "liquidity", json_string(f->maker ? "maker" : "taker"));
                json_array_append_new(fs, x);
            }
            json_object_set_new(r, "fills", fs);
            if (o->fills_dropped)
                json_object_set_new(r, "fillsNotListed", json_integer(o->fills_dropped));
        }
    }
    if (!rpc && o->seq) json_object_set_new(r, "seq", json_integer((json_int_t)o->seq));
    return r;
}
