/*
 * test_scenarios.c: runs every scenario file (tests/scenarios/NAME.scn) against the
 * engine and diffs the events it emits with the ones the file expects.
 *
 * A scenario is a short story about one rule of docs/matching.md or
 * docs/clearing.md: commands, each followed by the exact events the rule
 * says it must emit, worked out by hand from the documents (that is the
 * point: an independent check of the engine, not a recording of it). The
 * file format is specified in docs/scenarios.md; in short:
 *
 *   # comment
 *   config clearing=1 max_orders=4        optional, before the first command
 *   > PLACE account=1 market=0 side=BUY price=100 qty=10
 *   = ORDER_ACCEPTED market=0 mseq=4 ...  the command's events, in order,
 *   = BOOK_LEVEL market=0 mseq=5 ...      exactly as lx_event_format prints
 *   ? best market=0 side=BUY price=100 qty=10     read-API assertions
 *
 * Each command gets seq = 1, 2, 3, ... and the ts of its `ts=` key, or else
 * the ts of the command before it (0 at first). A command followed by no
 * `=` line must emit no event.
 *
 * After every command the runner also checks: apply returned 0; every
 * event carries the command's seq and ts; lx_engine_validate() and the test
 * support's inv_check_engine() (book sums, locks, conservation of every
 * asset) pass; every event and command survives the binary codec and the
 * command survives the text form. At the end of the file it replays all
 * commands into a fresh engine and compares the event stream and the
 * digest (determinism).
 *
 * One cmocka test per file, named after the file, so a failure names its
 * scenario; a failure prints file:line, the command, and the expected and
 * actual events side by side, and stops that scenario (set LX_SCN_KEEP_GOING=1
 * to go on to the end and see every difference in the file). Arguments,
 * when given, are .scn files or directories to run instead of
 * tests/scenarios (the test runs with the repository root as its working
 * directory).
 */
#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "invariants.h"
#include "lx/codec.h"
#include "lx/engine.h"
#include "lx/error.h"
#include "lx/snapshot.h"
#include "lx/text.h"
#include "membuf.h"

#define SCN_DIR "tests/scenarios"
#define LINE_MAX_ 1024

/* ---- a scenario in memory ------------------------------------------------- */

typedef struct {
    char *text; /* trimmed, NUL-terminated, points into the file buffer */
    int lineno;
} line_t;

typedef struct {
    const char *path;
    line_t *lines;
    size_t nlines;
    char *buf;
} scn_file_t;

static bool keep_going(void) {
    const char *s = getenv("LX_SCN_KEEP_GOING");
    return s && *s && strcmp(s, "0") != 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static bool load_file(scn_file_t *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = path;
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->buf = malloc((size_t)size + 1);
    assert_non_null(f->buf);
    size_t got = fread(f->buf, 1, (size_t)size, fp);
    fclose(fp);
    f->buf[got] = '\0';
    size_t cap = 64;
    f->lines = malloc(cap * sizeof *f->lines);
    assert_non_null(f->lines);
    int lineno = 0;
    for (char *p = f->buf; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        lineno++;
        char *t = trim(p);
        if (*t && *t != '#') {
            if (f->nlines == cap) {
                cap *= 2;
                f->lines = realloc(f->lines, cap * sizeof *f->lines);
                assert_non_null(f->lines);
            }
            f->lines[f->nlines++] = (line_t){t, lineno};
        }
        if (!nl) break;
        p = nl + 1;
    }
    return true;
}

static void free_file(scn_file_t *f) {
    free(f->lines);
    free(f->buf);
}

/* ---- recording events ------------------------------------------------------ */

typedef struct {
    lx_event_t *v;
    size_t n, cap;
} evlist_t;

static void ev_emit(void *ctx, const lx_event_t *ev) {
    evlist_t *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n++] = *ev;
}

/* ---- running ---------------------------------------------------------------- */

typedef struct {
    const scn_file_t *f;
    lx_engine_config_t cfg;
    lx_engine_t *e;
    uint64_t seq;
    int64_t ts;
    lx_cmd_t *cmds;       /* everything applied, for the determinism replay */
    lx_cmd_auth_t *auths; /* ... and who authorised each */
    size_t ncmds, capcmds;
    evlist_t all;             /* every event, in order */
    evlist_t got;             /* the current command's events (kept here so that a
                                 failure, which longjmps, leaves nothing to leak) */
    char (*lines)[LINE_MAX_]; /* ... and their text */
    size_t lines_cap;
    int failures;
} run_t;

/* Reports a failure at a line of the file; stops the scenario unless
 * LX_SCN_KEEP_GOING is set. */
static void scn_fail(run_t *r, int lineno, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: ", r->f->path, lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    r->failures++;
    if (!keep_going()) fail_msg("%s:%d: scenario failed (details above)", r->f->path, lineno);
}

static void ensure_engine(run_t *r) {
    if (r->e) return;
    assert_int_equal(lx_engine_create(&r->e, &r->cfg), 0);
}

/* key=value tokens of an assertion or config line. */
typedef struct {
    char key[32];
    char val[LINE_MAX_];
    bool used;
} kv_t;

typedef struct {
    kv_t kv[24];
    int n;
    char word[32]; /* the first token (assertion name) */
    bool none;     /* a bare `none` token */
} kvs_t;

static bool parse_kvs(const char *s, kvs_t *out, bool first_is_word) {
    memset(out, 0, sizeof *out);
    char tmp[LINE_MAX_];
    snprintf(tmp, sizeof tmp, "%s", s);
    char *save = NULL;
    bool first = true;
    for (char *tok = strtok_r(tmp, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (first && first_is_word) {
            snprintf(out->word, sizeof out->word, "%s", tok);
            first = false;
            continue;
        }
        first = false;
        if (strcmp(tok, "none") == 0) {
            out->none = true;
            continue;
        }
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || (size_t)(eq - tok) >= sizeof out->kv[0].key) return false;
        if (out->n == (int)(sizeof out->kv / sizeof out->kv[0])) return false;
        kv_t *kv = &out->kv[out->n++];
        memcpy(kv->key, tok, (size_t)(eq - tok));
        kv->key[eq - tok] = '\0';
        snprintf(kv->val, sizeof kv->val, "%s", eq + 1);
    }
    return true;
}

static kv_t *kv_find(kvs_t *k, const char *key) {
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->kv[i].key, key) == 0) {
            k->kv[i].used = true;
            return &k->kv[i];
        }
    return NULL;
}

static bool to_i64(const char *s, int64_t *out) {
    if (!*s) return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end) return false;
    *out = v;
    return true;
}

static bool to_u64(const char *s, uint64_t *out) {
    if (!*s || *s == '-') return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return false;
    *out = v;
    return true;
}

/* A required integer key; reports and returns false if missing or bad. */
static bool need_i64(run_t *r, int lineno, kvs_t *k, const char *key, int64_t *out) {
    kv_t *kv = kv_find(k, key);
    if (!kv) {
        scn_fail(r, lineno, "`%s` needs %s=", k->word, key);
        return false;
    }
    if (strcmp(kv->val, "NONE") == 0 || strcmp(kv->val, "ALL") == 0) {
        *out = UINT32_MAX;
        return true;
    }
    if (!to_i64(kv->val, out)) {
        scn_fail(r, lineno, "bad value for %s: '%s'", key, kv->val);
        return false;
    }
    return true;
}

static bool need_side(run_t *r, int lineno, kvs_t *k, lx_side_t *out) {
    kv_t *kv = kv_find(k, "side");
    if (kv && strcmp(kv->val, "BUY") == 0)
        *out = LX_SIDE_BUY;
    else if (kv && strcmp(kv->val, "SELL") == 0)
        *out = LX_SIDE_SELL;
    else {
        scn_fail(r, lineno, "`%s` needs side=BUY or side=SELL", k->word);
        return false;
    }
    return true;
}

/* Optional integer key compared with an actual value. */
static void check_opt(run_t *r, int lineno, kvs_t *k, const char *what, const char *key,
                      int64_t got) {
    kv_t *kv = kv_find(k, key);
    if (!kv) return;
    int64_t want;
    if (!to_i64(kv->val, &want)) {
        uint64_t u;
        if (!to_u64(kv->val, &u)) {
            scn_fail(r, lineno, "bad value for %s: '%s'", key, kv->val);
            return;
        }
        want = (int64_t)u;
    }
    if (want != got)
        scn_fail(r, lineno, "%s: %s expected %" PRId64 ", got %" PRId64, what, key, want, got);
}

static bool unused_keys(run_t *r, int lineno, kvs_t *k) {
    for (int i = 0; i < k->n; i++)
        if (!k->kv[i].used) {
            scn_fail(r, lineno, "unknown key '%s' for `? %s`", k->kv[i].key, k->word);
            return true;
        }
    return false;
}

/* "ID,ID,..." (possibly empty) compared with a list of order infos. */
static void check_id_list(run_t *r, int lineno, const char *what, const char *want,
                          const lx_order_info_t *got, size_t n) {
    char gotbuf[LINE_MAX_] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof gotbuf - 24; i++)
        len += (size_t)snprintf(gotbuf + len, sizeof gotbuf - len, "%s%" PRIu64, i ? "," : "",
                                got[i].order_id);
    if (strcmp(want, gotbuf) != 0)
        scn_fail(r, lineno, "%s: orders expected [%s], got [%s]", what, want, gotbuf);
}

static void run_assertion(run_t *r, const line_t *ln) {
    ensure_engine(r);
    kvs_t k;
    int L = ln->lineno;
    if (!parse_kvs(ln->text + 1, &k, true)) {
        scn_fail(r, L, "malformed assertion: %s", ln->text);
        return;
    }
    int64_t m, v;
    lx_side_t side;
    if (strcmp(k.word, "best") == 0) {
        if (!need_i64(r, L, &k, "market", &m) || !need_side(r, L, &k, &side)) return;
        int64_t price = 0, qty = 0;
        bool has = lx_engine_best(r->e, (lx_market_id_t)m, side, &price, &qty);
        if (k.none) {
            if (has)
                scn_fail(r, L, "best: expected none, got price=%" PRId64 " qty=%" PRId64, price,
                         qty);
        } else if (!has) {
            scn_fail(r, L, "best: expected a price, the side is empty");
        } else {
            check_opt(r, L, &k, "best", "price", price);
            check_opt(r, L, &k, "best", "qty", qty);
        }
    } else if (strcmp(k.word, "depth") == 0) {
        if (!need_i64(r, L, &k, "market", &m) || !need_side(r, L, &k, &side) ||
            !need_i64(r, L, &k, "price", &v))
            return;
        uint32_t count = 0;
        int64_t qty = lx_engine_depth_at(r->e, (lx_market_id_t)m, side, v, &count);
        check_opt(r, L, &k, "depth", "qty", qty);
        check_opt(r, L, &k, "depth", "count", count);
    } else if (strcmp(k.word, "book") == 0) {
        if (!need_i64(r, L, &k, "market", &m) || !need_side(r, L, &k, &side)) return;
        kv_t *kv = kv_find(&k, "orders");
        if (!kv) {
            scn_fail(r, L, "`? book` needs orders=ID,ID,...");
            return;
        }
        lx_order_info_t buf[64];
        size_t n = lx_engine_book_orders(r->e, (lx_market_id_t)m, side, buf, 64);
        check_id_list(r, L, "book", kv->val, buf, n < 64 ? n : 64);
    } else if (strcmp(k.word, "account_orders") == 0) {
        if (!need_i64(r, L, &k, "account", &v)) return;
        kv_t *kv = kv_find(&k, "orders");
        if (!kv) {
            scn_fail(r, L, "`? account_orders` needs orders=ID,ID,...");
            return;
        }
        lx_order_info_t buf[64];
        size_t n = lx_engine_account_orders(r->e, (lx_account_id_t)v, buf, 64);
        check_id_list(r, L, "account_orders", kv->val, buf, n < 64 ? n : 64);
    } else if (strcmp(k.word, "order") == 0) {
        kv_t *kv = kv_find(&k, "id");
        uint64_t id;
        if (!kv || !to_u64(kv->val, &id)) {
            scn_fail(r, L, "`? order` needs id=ORDER_ID");
            return;
        }
        lx_order_info_t o;
        int rc = lx_engine_order(r->e, id, &o);
        if (k.none) {
            if (rc != LX_ENOENT) scn_fail(r, L, "order %" PRIu64 ": expected none, it is open", id);
        } else if (rc != 0) {
            scn_fail(r, L, "order %" PRIu64 ": expected open, got %s", id, lx_err_name(rc));
        } else {
            check_opt(r, L, &k, "order", "account", o.account);
            check_opt(r, L, &k, "order", "market", o.market);
            check_opt(r, L, &k, "order", "price", o.price);
            check_opt(r, L, &k, "order", "qty", o.qty);
            check_opt(r, L, &k, "order", "remaining", o.remaining);
            check_opt(r, L, &k, "order", "filled", o.filled);
            check_opt(r, L, &k, "order", "client_id", (int64_t)o.client_id);
            check_opt(r, L, &k, "order", "expiry", o.expiry);
            check_opt(r, L, &k, "order", "locked", o.locked);
        }
    } else if (strcmp(k.word, "balance") == 0) {
        int64_t a, asset;
        if (!need_i64(r, L, &k, "account", &a) || !need_i64(r, L, &k, "asset", &asset)) return;
        int64_t fr = 0, lk = 0;
        int rc = lx_engine_balance(r->e, (lx_account_id_t)a, (lx_asset_id_t)asset, &fr, &lk);
        if (rc != 0) {
            scn_fail(r, L, "balance: %s", lx_err_name(rc));
            return;
        }
        check_opt(r, L, &k, "balance", "free", fr);
        check_opt(r, L, &k, "balance", "locked", lk);
    } else if (strcmp(k.word, "asset") == 0) {
        int64_t a;
        if (!need_i64(r, L, &k, "asset", &a)) return;
        lx_asset_info_t ai;
        int rc = lx_engine_asset_info(r->e, (lx_asset_id_t)a, &ai);
        if (rc != 0) {
            scn_fail(r, L, "asset: %s", lx_err_name(rc));
            return;
        }
        check_opt(r, L, &k, "asset", "supply", ai.supply);
        check_opt(r, L, &k, "asset", "fees", ai.fees);
        check_opt(r, L, &k, "asset", "scale", ai.scale);
    } else if (strcmp(k.word, "key") == 0) {
        kv_t *kv = kv_find(&k, "key");
        uint8_t key[32];
        bool ok = kv && strlen(kv->val) == 64;
        for (int i = 0; ok && i < 32; i++) {
            unsigned hv;
            ok = sscanf(kv->val + 2 * i, "%2x", &hv) == 1;
            key[i] = (uint8_t)hv;
        }
        if (!ok) {
            scn_fail(r, L, "`? key` needs key=<64 hex digits>");
            return;
        }
        lx_key_info_t ki;
        int rc = lx_engine_key(r->e, key, &ki);
        if (k.none) {
            if (rc != LX_ENOENT) scn_fail(r, L, "key: expected none, the engine knows it");
        } else if (rc != 0) {
            scn_fail(r, L, "key: %s", lx_err_name(rc));
            return;
        } else {
            static const char *roles[] = {"?", "OWNER", "AGENT", "REVOKED"};
            kv_t *role = kv_find(&k, "role");
            if (role && strcmp(role->val, roles[ki.role <= 3 ? ki.role : 0]) != 0)
                scn_fail(r, L, "key: role %s, expected %s", roles[ki.role <= 3 ? ki.role : 0],
                         role->val);
            check_opt(r, L, &k, "key", "account", ki.account);
            check_opt(r, L, &k, "key", "nonce", (int64_t)ki.nonce);
            check_opt(r, L, &k, "key", "nonce_all", (int64_t)ki.nonce_all);
            check_opt(r, L, &k, "key", "expiry", ki.expiry);
        }
    } else if (strcmp(k.word, "floor") == 0) {
        int64_t a, slot;
        uint64_t f, fa;
        if (!need_i64(r, L, &k, "account", &a) || !need_i64(r, L, &k, "slot", &slot)) return;
        lx_engine_nonce_floor(r->e, (lx_account_id_t)a, (uint32_t)slot, &f, &fa);
        check_opt(r, L, &k, "floor", "nonce", (int64_t)f);
        check_opt(r, L, &k, "floor", "nonce_all", (int64_t)fa);
    } else if (strcmp(k.word, "deadman") == 0) {
        int64_t a, d;
        if (!need_i64(r, L, &k, "account", &a) || !need_i64(r, L, &k, "deadline", &d)) return;
        int64_t got = lx_engine_deadman(r->e, (lx_account_id_t)a);
        if (got != d)
            scn_fail(r, L, "deadman account=%lld: deadline %lld, expected %lld", (long long)a,
                     (long long)got, (long long)d);
    } else if (strcmp(k.word, "market") == 0) {
        if (!need_i64(r, L, &k, "market", &m)) return;
        lx_market_info_t mi;
        int rc = lx_engine_market_info(r->e, (lx_market_id_t)m, &mi);
        if (rc != 0) {
            scn_fail(r, L, "market: %s", lx_err_name(rc));
            return;
        }
        check_opt(r, L, &k, "market", "halted", mi.halted);
        check_opt(r, L, &k, "market", "mseq", (int64_t)mi.market_seq);
        check_opt(r, L, &k, "market", "last_price", mi.last_price);
        check_opt(r, L, &k, "market", "orders", mi.orders);
        check_opt(r, L, &k, "market", "bid_levels", mi.bid_levels);
        check_opt(r, L, &k, "market", "ask_levels", mi.ask_levels);
        check_opt(r, L, &k, "market", "tick_value", mi.tick_value);
        check_opt(r, L, &k, "market", "maker_fee", mi.maker_fee);
        check_opt(r, L, &k, "market", "taker_fee", mi.taker_fee);
    } else {
        scn_fail(r, L, "unknown assertion `? %s`", k.word);
        return;
    }
    unused_keys(r, L, &k);
}

static void run_config(run_t *r, const line_t *ln) {
    if (r->e) {
        scn_fail(r, ln->lineno, "config must come before the first command or assertion");
        return;
    }
    kvs_t k;
    if (!parse_kvs(ln->text, &k, true)) {
        scn_fail(r, ln->lineno, "malformed config line");
        return;
    }
    for (int i = 0; i < k.n; i++) {
        uint64_t v;
        const char *key = k.kv[i].key;
        bool wide = strcmp(key, "deadman_min_lead_ns") == 0;
        if (strcmp(key, "max_agents_per_account") == 0) {
            r->cfg.max_agents_per_account = (uint32_t)strtoul(k.kv[i].val, NULL, 10);
            continue;
        }
        if (!to_u64(k.kv[i].val, &v) || v > (wide ? (uint64_t)INT64_MAX : UINT32_MAX)) {
            scn_fail(r, ln->lineno, "bad value for %s", key);
            return;
        }
        if (wide)
            r->cfg.deadman_min_lead_ns = (int64_t)v;
        else if (strcmp(key, "clearing") == 0)
            r->cfg.clearing = v != 0;
        else if (strcmp(key, "max_markets") == 0)
            r->cfg.max_markets = (uint32_t)v;
        else if (strcmp(key, "max_assets") == 0)
            r->cfg.max_assets = (uint32_t)v;
        else if (strcmp(key, "max_accounts") == 0)
            r->cfg.max_accounts = (uint32_t)v;
        else if (strcmp(key, "max_orders") == 0)
            r->cfg.max_orders = (uint32_t)v;
        else if (strcmp(key, "max_open_orders_per_account") == 0)
            r->cfg.max_open_orders_per_account = (uint32_t)v;
        else if (strcmp(key, "rules") == 0)
            r->cfg.rules = (uint32_t)v;
        else {
            scn_fail(r, ln->lineno, "unknown config key '%s'", key);
            return;
        }
    }
}

/* Whether the command line (after '>') has a token starting with key=. */
static bool has_key(const char *s, const char *key) {
    size_t n = strlen(key);
    for (const char *p = s; (p = strstr(p, key)) != NULL; p += n)
        if ((p == s || p[-1] == ' ' || p[-1] == '\t') && p[n] == '=') return true;
    return false;
}

static void print_block(const char *title, const line_t *want, size_t nwant, char (*got)[LINE_MAX_],
                        size_t ngot, size_t diff) {
    fprintf(stderr, "  %s\n  expected:\n", title);
    if (!nwant) fprintf(stderr, "      (no events)\n");
    for (size_t i = 0; i < nwant; i++) {
        const char *w = want[i].text + 1; /* after the '=' */
        while (*w == ' ' || *w == '\t') w++;
        fprintf(stderr, "  %s %4d  %s\n", i == diff ? "!" : " ", want[i].lineno, w);
    }
    fprintf(stderr, "  got:\n");
    if (!ngot) fprintf(stderr, "      (no events)\n");
    for (size_t i = 0; i < ngot; i++)
        fprintf(stderr, "  %s       %s\n", i == diff ? "!" : " ", got[i]);
}

/* Applies the command on line idx and checks the `=` lines after it;
 * returns the index of the next line to run. */
static size_t run_command(run_t *r, size_t idx) {
    const scn_file_t *f = r->f;
    const line_t *ln = &f->lines[idx];
    int L = ln->lineno;
    size_t end = idx + 1;
    while (end < f->nlines && f->lines[end].text[0] == '=') end++;
    const line_t *want = &f->lines[idx + 1];
    size_t nwant = end - idx - 1;

    const char *text = ln->text + 1;
    while (*text == ' ' || *text == '\t') text++;
    if (has_key(text, "seq")) {
        scn_fail(r, L, "seq= is assigned by the runner; leave it out");
        return end;
    }
    lx_cmd_t c;
    lx_cmd_auth_t au;
    char err[256];
    if (lx_cmd_parse_auth(&c, &au, text, err, sizeof err) != 0) {
        scn_fail(r, L, "cannot parse command: %s", err);
        return end;
    }
    if (has_key(text, "ts")) r->ts = c.ts;
    c.ts = r->ts;
    c.seq = ++r->seq;
    ensure_engine(r);

    evlist_t *got = &r->got;
    got->n = 0;
    lx_sink_t sink = {ev_emit, got};
    int rc = lx_engine_apply_auth(r->e, &c, &au, &sink);
    if (rc != 0) {
        scn_fail(r, L, "lx_engine_apply returned %s for: %s", lx_err_name(rc), text);
        return end;
    }
    if (r->ncmds == r->capcmds) {
        r->capcmds = r->capcmds ? 2 * r->capcmds : 64;
        r->cmds = realloc(r->cmds, r->capcmds * sizeof *r->cmds);
        r->auths = realloc(r->auths, r->capcmds * sizeof *r->auths);
        assert_non_null(r->cmds);
        assert_non_null(r->auths);
    }
    r->auths[r->ncmds] = au;
    r->cmds[r->ncmds++] = c;

    /* Compare with the expectation. */
    if (got->n > r->lines_cap) {
        r->lines_cap = got->n;
        r->lines = realloc(r->lines, r->lines_cap * sizeof *r->lines);
        assert_non_null(r->lines);
    }
    char(*lines)[LINE_MAX_] = r->lines;
    for (size_t i = 0; i < got->n; i++) lx_event_format(&got->v[i], lines[i], LINE_MAX_);
    size_t diff = SIZE_MAX;
    for (size_t i = 0; i < got->n || i < nwant; i++) {
        const char *w = i < nwant ? want[i].text + 1 : NULL;
        while (w && (*w == ' ' || *w == '\t')) w++;
        if (i >= got->n || i >= nwant || strcmp(w, lines[i]) != 0) {
            diff = i;
            break;
        }
    }
    if (diff != SIZE_MAX) {
        fprintf(stderr, "%s:%d: > %s\n", f->path, L, text);
        char title[64];
        snprintf(title, sizeof title, "events differ at #%zu (expected %zu, got %zu):", diff + 1,
                 nwant, got->n);
        print_block(title, want, nwant, lines, got->n, diff);
        scn_fail(r, L, "events of the command above differ from the expectation");
    }

    /* Every event: the command's seq and ts; survives the binary codec. */
    for (size_t i = 0; i < got->n; i++) {
        const lx_event_t *ev = &got->v[i];
        if (ev->seq != c.seq || ev->ts != c.ts)
            scn_fail(r, L,
                     "event #%zu (%s) carries seq=%" PRIu64 " ts=%" PRId64
                     ", the command has seq=%" PRIu64 " ts=%" PRId64,
                     i + 1, lines[i], ev->seq, ev->ts, c.seq, c.ts);
        uint8_t buf[LX_EVENT_ENCODED_MAX];
        lx_event_t back;
        int n = lx_event_encode(ev, buf, sizeof buf);
        if (n <= 0 || lx_event_decode(&back, buf, (size_t)n) != n || !inv_event_equal(ev, &back))
            scn_fail(r, L, "event #%zu (%s) does not survive the binary codec (%s)", i + 1,
                     lines[i], n <= 0 ? lx_err_name(n) : "differs");
        ev_emit(&r->all, ev);
    }
    /* The command survives the codec (when its enums are valid) and the text form. */
    uint8_t cb[LX_CMD_ENCODED_MAX];
    int n = lx_cmd_encode(&c, cb, sizeof cb);
    lx_cmd_t back;
    /* c came from lx_cmd_parse, which zeroes it first: memcmp is fair. */
    if (n > 0 && (lx_cmd_decode(&back, cb, (size_t)n) != n || memcmp(&back, &c, sizeof c) != 0))
        scn_fail(r, L, "command does not survive the binary codec");
    char ctext[LINE_MAX_];
    int cn = lx_cmd_format(&c, ctext, sizeof ctext);
    if (cn > 0 && (size_t)cn < sizeof ctext)
        lx_cmd_auth_format(&au, ctext + cn, sizeof ctext - (size_t)cn);
    lx_cmd_auth_t aback;
    if (lx_cmd_parse_auth(&back, &aback, ctext, err, sizeof err) != 0 ||
        memcmp(&back, &c, sizeof c) != 0 || memcmp(&aback, &au, sizeof au) != 0)
        scn_fail(r, L, "command does not survive the text form: %s", ctext);

    /* The engine's own deep check, then the test support's invariants. */
    char msg[1024];
    if (lx_engine_validate(r->e, msg, sizeof msg) != 0)
        scn_fail(r, L, "lx_engine_validate after this command: %s", msg);
    if (inv_check_engine(r->e, msg, sizeof msg) != 0)
        scn_fail(r, L, "invariants after this command: %s", msg);

    return end;
}

/* Saves the final state and loads it back: same digest, same dead man's
 * switches (the snapshot must round-trip every piece of state). */
static void check_snapshot(run_t *r) {
    membuf_t m = {0};
    lx_engine_t *e2 = NULL;
    int rc = lx_engine_save(r->e, membuf_write, &m);
    if (rc == 0) rc = lx_engine_load(&e2, membuf_read, &m);
    bool same = rc == 0 && lx_engine_digest(e2) == lx_engine_digest(r->e);
    for (uint32_t a = 0; same && a < r->cfg.max_accounts; a++)
        same = lx_engine_deadman(e2, a) == lx_engine_deadman(r->e, a);
    lx_engine_destroy(e2);
    membuf_free(&m);
    if (rc != 0)
        scn_fail(r, 0, "snapshot round trip: %s", lx_err_name(rc));
    else if (!same)
        scn_fail(r, 0, "snapshot round trip: the loaded engine differs");
}

/* Replays every command into a fresh engine: same events, same digest. */
static void check_replay(run_t *r) {
    if (!r->e) return;
    check_snapshot(r);
    lx_engine_t *e2 = NULL;
    assert_int_equal(lx_engine_create(&e2, &r->cfg), 0);
    evlist_t *got = &r->got;
    got->n = 0;
    lx_sink_t sink = {ev_emit, got};
    int rc = 0;
    for (size_t i = 0; i < r->ncmds && rc == 0; i++)
        rc = lx_engine_apply_auth(e2, &r->cmds[i], &r->auths[i], &sink);
    bool same_digest = lx_engine_digest(e2) == lx_engine_digest(r->e);
    lx_engine_destroy(e2); /* before any report: a failure does not return */
    if (rc != 0) {
        scn_fail(r, 0, "replay: lx_engine_apply returned %s", lx_err_name(rc));
        return;
    }
    if (got->n != r->all.n) {
        scn_fail(r, 0, "replay emitted %zu events, the run %zu", got->n, r->all.n);
    } else {
        for (size_t i = 0; i < got->n; i++)
            if (!inv_event_equal(&got->v[i], &r->all.v[i])) {
                scn_fail(r, 0, "replay differs at event #%zu", i + 1);
                break;
            }
    }
    if (!same_digest) scn_fail(r, 0, "replay digest differs");
}

/* The state of one scenario lives in setup/teardown, so that a failure
 * (which leaves the test by longjmp) still frees everything. */
typedef struct {
    scn_file_t f;
    run_t r;
} scn_state_t;

static int scn_setup(void **state) {
    const char *path = *state;
    scn_state_t *s = calloc(1, sizeof *s);
    if (!s) return -1;
    if (!load_file(&s->f, path)) {
        fprintf(stderr, "cannot read %s\n", path);
        free_file(&s->f);
        free(s);
        return -1;
    }
    run_t *r = &s->r;
    r->f = &s->f;
    lx_engine_config_default(&r->cfg);
    r->cfg.max_markets = 4;
    r->cfg.max_assets = 4;
    r->cfg.max_accounts = 16;
    r->cfg.max_orders = 64;
    r->cfg.max_open_orders_per_account = 0;
    r->cfg.clearing = false;
    *state = s;
    return 0;
}

static int scn_teardown(void **state) {
    scn_state_t *s = *state;
    if (!s) return 0;
    if (s->r.e) lx_engine_destroy(s->r.e);
    free(s->r.cmds);
    free(s->r.auths);
    free(s->r.all.v);
    free(s->r.got.v);
    free(s->r.lines);
    free_file(&s->f);
    free(s);
    return 0;
}

static void run_scenario(void **state) {
    scn_state_t *s = *state;
    const scn_file_t *f = &s->f;
    run_t *r = &s->r;
    size_t i = 0;
    while (i < f->nlines) {
        const line_t *ln = &f->lines[i];
        switch (ln->text[0]) {
        case '>':
            i = run_command(r, i);
            continue;
        case '?':
            run_assertion(r, ln);
            break;
        case '=':
            scn_fail(r, ln->lineno, "an expected event with no command before it");
            break;
        default:
            if (strncmp(ln->text, "config", 6) == 0 && (ln->text[6] == ' ' || !ln->text[6]))
                run_config(r, ln);
            else
                scn_fail(r, ln->lineno, "unrecognised line: %s", ln->text);
        }
        i++;
    }
    if (r->ncmds == 0) scn_fail(r, 0, "the scenario has no command");
    check_replay(r);
    if (r->failures) fail_msg("%s: %d failure(s)", f->path, r->failures);
}

/* ---- discovery ---------------------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
} paths_t;

static void add_path(paths_t *p, const char *s) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->v = realloc(p->v, p->cap * sizeof *p->v);
        if (!p->v) abort();
    }
    p->v[p->n++] = strdup(s);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_dir(paths_t *p, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    size_t first = p->n;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".scn") == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            add_path(p, path);
        }
    }
    closedir(d);
    qsort(p->v + first, p->n - first, sizeof *p->v, cmp_str);
}

int main(int argc, char **argv) {
    paths_t paths = {0};
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            struct stat st;
            if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
                add_dir(&paths, argv[i]);
            else
                add_path(&paths, argv[i]);
        }
    } else {
        add_dir(&paths, SCN_DIR);
        if (paths.n == 0) {
            fprintf(stderr, "test_scenarios: no %s/*.scn (run from the repository root)\n",
                    SCN_DIR);
            return 1;
        }
    }
    struct CMUnitTest *tests = calloc(paths.n, sizeof *tests);
    assert_non_null(tests);
    for (size_t i = 0; i < paths.n; i++) {
        const char *base = strrchr(paths.v[i], '/');
        tests[i].name = base ? base + 1 : paths.v[i];
        tests[i].test_func = run_scenario;
        tests[i].setup_func = scn_setup;
        tests[i].teardown_func = scn_teardown;
        tests[i].initial_state = paths.v[i];
    }
    int rc = _cmocka_run_group_tests("scenarios", tests, paths.n, NULL, NULL);
    free(tests);
    for (size_t i = 0; i < paths.n; i++) free(paths.v[i]);
    free(paths.v);
    return rc;
}
