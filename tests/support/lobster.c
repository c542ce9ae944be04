/*
 * lobster.c: exact parsing of LOBSTER message and order book files.
 *
 * The formats are specified in lobster.h. Design: a file is read whole into
 * memory and cut into lines; each line is cut at commas into fields, and
 * each field is parsed as a strict decimal integer (optional '-', digits,
 * checked for int64 overflow) or, for the time, as seconds with up to nine
 * fractional digits, scaled to nanoseconds in integer arithmetic. Nothing
 * goes through strtod or double: a price of 5853300 must come out as
 * exactly 5853300, and a time of 34200.004241176 as exactly
 * 34200004241176 ns.
 *
 * Validity rules enforced here, beyond syntax: message type 1..7, direction
 * +-1, size >= 0; book rows all have the depth of the first row, a level is
 * either empty (the sentinel price) or has a size > 0, and a side has no
 * non-empty level after an empty one. Checks that need the meaning of the
 * data (does a delete name a live order?) belong to the replay, not here.
 *
 * Costs: one pass over the text; memory is the parsed arrays plus the file
 * buffer while loading. The arrays are malloc'ed and owned by the caller.
 */
#include "lobster.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/error.h"

#define MAX_FIELDS (4 * LX_LOBSTER_MAX_DEPTH)

typedef struct {
    const char *p;
    size_t len;
} span_t;

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LX_ECORRUPT;
}

/* Strict decimal int64: [-]digits, no spaces, no '+', no leading junk. */
static bool parse_i64(span_t f, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (f.len > 0 && f.p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == f.len) return false;
    uint64_t v = 0;
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < f.len; i++) {
        char c = f.p[i];
        if (c < '0' || c > '9') return false;
        unsigned d = (unsigned)(c - '0');
        if (v > (lim - d) / 10) return false;
        v = v * 10 + d;
    }
    /* -(2^63) is representable; the cast of lim then negation would overflow,
     * so build the negative value from v - 1. */
    *out = neg ? (v == 0 ? 0 : -(int64_t)(v - 1) - 1) : (int64_t)v;
    return true;
}

int lx_lobster_parse_time(const char *s, size_t len, int64_t *ns) {
    size_t dot = len;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            dot = i;
            break;
        }
    }
    if (dot == 0) return LX_ECORRUPT;
    int64_t secs;
    span_t whole = {s, dot};
    if (whole.p[0] == '-' || !parse_i64(whole, &secs)) return LX_ECORRUPT;
    int64_t frac = 0;
    size_t nfrac = 0;
    if (dot < len) {
        nfrac = len - dot - 1;
        if (nfrac == 0 || nfrac > 9) return LX_ECORRUPT;
        for (size_t i = dot + 1; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') return LX_ECORRUPT;
            frac = frac * 10 + (s[i] - '0');
        }
    }
    for (size_t i = nfrac; i < 9; i++) frac *= 10;
    if (secs > (INT64_MAX - frac) / 1000000000) return LX_ECORRUPT;
    *ns = secs * 1000000000 + frac;
    return 0;
}

/* Cuts buf into lines. Calls fn(ctx, line, lineno) for each data line;
 * skips one leading header line (first byte a letter) and trailing empty
 * lines; an empty line elsewhere is an error. */
typedef int (*line_fn)(void *ctx, span_t line, uint32_t lineno, char *err, size_t errlen);

static int for_each_line(const char *buf, size_t len, line_fn fn, void *ctx, char *err,
                         size_t errlen) {
    size_t pos = 0;
    uint32_t lineno = 0;
    size_t pending_empty = 0; /* line number of the first empty line seen, 0 = none */
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        span_t line = {buf + pos, end - pos};
        if (line.len > 0 && line.p[line.len - 1] == '\r') line.len--;
        lineno++;
        pos = nl ? end + 1 : len;
        if (line.len == 0) {
            if (!pending_empty) pending_empty = lineno;
            continue;
        }
        if (pending_empty)
            return fail(err, errlen, "line %zu: empty line inside the file", pending_empty);
        char c0 = line.p[0];
        if (lineno == 1 && ((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z'))) continue;
        int rc = fn(ctx, line, lineno, err, errlen);
        if (rc) return rc;
    }
    return 0;
}

/* Splits at commas; returns the number of fields or -1 if more than max. */
static int split(span_t line, span_t *f, int max) {
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= line.len; i++) {
        if (i == line.len || line.p[i] == ',') {
            if (n == max) return -1;
            f[n].p = line.p + start;
            f[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* ---- messages ------------------------------------------------------------ */

typedef struct {
    lx_lobster_msg_t *v;
    size_t n, cap;
} msgs_t;

static int msg_line(void *ctx, span_t line, uint32_t lineno, char *err, size_t errlen) {
    msgs_t *m = ctx;
    span_t f[7];
    int nf = split(line, f, 7);
    if (nf != 6)
        return fail(err, errlen, "line %u: expected 6 fields, got %s%d", lineno,
                    nf < 0 ? "more than " : "", nf < 0 ? 6 : nf);
    lx_lobster_msg_t msg;
    memset(&msg, 0, sizeof msg);
    int64_t type, id, dir;
    if (lx_lobster_parse_time(f[0].p, f[0].len, &msg.time_ns))
        return fail(err, errlen, "line %u: bad time '%.*s'", lineno, (int)f[0].len, f[0].p);
    if (!parse_i64(f[1], &type) || type < 1 || type > 7)
        return fail(err, errlen, "line %u: bad type '%.*s'", lineno, (int)f[1].len, f[1].p);
    if (!parse_i64(f[2], &id) || id < 0)
        return fail(err, errlen, "line %u: bad order id '%.*s'", lineno, (int)f[2].len, f[2].p);
    if (!parse_i64(f[3], &msg.size) || msg.size < 0)
        return fail(err, errlen, "line %u: bad size '%.*s'", lineno, (int)f[3].len, f[3].p);
    if (!parse_i64(f[4], &msg.price))
        return fail(err, errlen, "line %u: bad price '%.*s'", lineno, (int)f[4].len, f[4].p);
    if (!parse_i64(f[5], &dir) || (dir != 1 && dir != -1))
        return fail(err, errlen, "line %u: bad direction '%.*s'", lineno, (int)f[5].len, f[5].p);
    msg.type = (int8_t)type;
    msg.id = (uint64_t)id;
    msg.dir = (int8_t)dir;
    msg.line = lineno;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        lx_lobster_msg_t *v = realloc(m->v, cap * sizeof *v);
        if (!v) return LX_ENOMEM;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = msg;
    return 0;
}

int lx_lobster_parse_messages(const char *buf, size_t len, lx_lobster_msg_t **out, size_t *n,
                              char *err, size_t errlen) {
    msgs_t m = {NULL, 0, 0};
    int rc = for_each_line(buf, len, msg_line, &m, err, errlen);
    if (rc) {
        free(m.v);
        return rc;
    }
    *out = m.v;
    *n = m.n;
    return 0;
}

/* ---- order book ---------------------------------------------------------- */

typedef struct {
    lx_lobster_book_t *b;
    size_t cap; /* rows allocated */
} book_ctx_t;

static int book_line(void *ctx, span_t line, uint32_t lineno, char *err, size_t errlen) {
    book_ctx_t *c = ctx;
    lx_lobster_book_t *b = c->b;
    span_t f[MAX_FIELDS + 1];
    int nf = split(line, f, MAX_FIELDS + 1);
    if (nf < 0 || nf % 4 != 0 || nf == 0)
        return fail(err, errlen, "line %u: expected 4N fields (N <= %d)", lineno,
                    LX_LOBSTER_MAX_DEPTH);
    if (b->depth == 0) b->depth = (uint32_t)(nf / 4);
    if ((uint32_t)nf != 4 * b->depth)
        return fail(err, errlen, "line %u: %d fields, the first row had %u", lineno, nf,
                    4 * b->depth);
    if (b->rows == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        lx_lobster_level_t *lv = realloc(b->lv, cap * 2 * b->depth * sizeof *lv);
        if (!lv) return LX_ENOMEM;
        b->lv = lv;
        uint8_t *nn = realloc(b->n, cap * 2);
        if (!nn) return LX_ENOMEM;
        b->n = nn;
        c->cap = cap;
    }
    size_t r = b->rows;
    for (int s = 0; s < 2; s++) { /* 0 bid, 1 ask */
        lx_lobster_level_t *lv = &b->lv[(r * 2 + (size_t)s) * b->depth];
        memset(lv, 0, b->depth * sizeof *lv);
        uint32_t count = 0;
        bool ended = false;
        for (uint32_t k = 0; k < b->depth; k++) {
            /* ask price, ask size, bid price, bid size */
            span_t fp = f[4 * k + (s == 1 ? 0 : 2)], fq = f[4 * k + (s == 1 ? 1 : 3)];
            int64_t px, qty;
            if (!parse_i64(fp, &px) || !parse_i64(fq, &qty))
                return fail(err, errlen, "line %u: level %u: bad number", lineno, k + 1);
            bool empty = s == 1 ? px == LX_LOBSTER_EMPTY_ASK : px == LX_LOBSTER_EMPTY_BID;
            if (empty) {
                ended = true;
                continue;
            }
            if (ended)
                return fail(err, errlen, "line %u: %s level %u after an empty level", lineno,
                            s ? "ask" : "bid", k + 1);
            if (qty <= 0 || px <= 0)
                return fail(err, errlen, "line %u: %s level %u: price %lld size %lld", lineno,
                            s ? "ask" : "bid", k + 1, (long long)px, (long long)qty);
            if (k > 0 && (s == 1 ? px <= lv[k - 1].price : px >= lv[k - 1].price))
                return fail(err, errlen, "line %u: %s levels out of order at level %u", lineno,
                            s ? "ask" : "bid", k + 1);
            lv[k].price = px;
            lv[k].qty = qty;
            count++;
        }
        b->n[r * 2 + (size_t)s] = (uint8_t)count;
    }
    b->rows++;
    return 0;
}

int lx_lobster_parse_book(const char *buf, size_t len, lx_lobster_book_t *book, char *err,
                          size_t errlen) {
    memset(book, 0, sizeof *book);
    book_ctx_t c = {book, 0};
    int rc = for_each_line(buf, len, book_line, &c, err, errlen);
    if (rc) lx_lobster_book_free(book);
    return rc;
}

void lx_lobster_book_free(lx_lobster_book_t *book) {
    free(book->lv);
    free(book->n);
    memset(book, 0, sizeof *book);
}

/* ---- files --------------------------------------------------------------- */

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (err && errlen) snprintf(err, errlen, "cannot open %s", path);
        return LX_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    int rc = 0;
    if (!b) rc = LX_ENOMEM;
    while (!rc) {
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                rc = LX_ENOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) {
                if (err && errlen) snprintf(err, errlen, "cannot read %s", path);
                rc = LX_EIO;
            }
            break;
        }
    }
    fclose(fp);
    if (rc) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return 0;
}

int lx_lobster_load_messages(const char *path, lx_lobster_msg_t **out, size_t *n, char *err,
                             size_t errlen) {
    char *buf;
    size_t len;
    int rc = read_file(path, &buf, &len, err, errlen);
    if (rc) return rc;
    rc = lx_lobster_parse_messages(buf, len, out, n, err, errlen);
    free(buf);
    return rc;
}

int lx_lobster_load_book(const char *path, lx_lobster_book_t *book, char *err, size_t errlen) {
    char *buf;
    size_t len;
    memset(book, 0, sizeof *book);
    int rc = read_file(path, &buf, &len, err, errlen);
    if (rc) return rc;
    rc = lx_lobster_parse_book(buf, len, book, err, errlen);
    free(buf);
    return rc;
}

const char *lx_lobster_data_dir(void) {
    const char *d = getenv("LX_SHARED_DATA");
    return d && *d ? d : "../shared/data";
}

int lx_lobster_path(char *buf, size_t cap, const char *name) {
    int w = snprintf(buf, cap, "%s/lobster/%s", lx_lobster_data_dir(), name);
    return w < 0 || (size_t)w >= cap ? LX_ERANGE : 0;
}
