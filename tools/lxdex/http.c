/*
 * http.c: what the read commands (read.c) and `watch` (watch.c) share: one
 * HTTP GET of the node's JSON API through libcurl, the errors a person can
 * act on, and aligned text tables.
 *
 * GET. lxdex_http_get fetches base + path into a caller-owned buffer
 * (lxdex_body_t, freed by lxdex_body_free) and sorts the outcomes into
 * three: the node could not be reached (the message names the URL and says
 * how to start a node or point --url elsewhere), the node answered with an
 * HTTP error (its {"error":{"code","message"}} body is shown, or the raw
 * body when it is not one), or a 2xx answer. lxdex_http_json does the same
 * and parses the body with jansson. The body is kept as received, so
 * `--json` prints exactly what the API sent. libcurl is initialised once
 * per process (lxdex_http_get is not meant for threads: the CLI has none).
 *
 * Decimals. The API writes prices, sizes and balances as decimal strings
 * (docs/api.md §3); they are printed as they came, never converted through
 * double. The only arithmetic on them is lxdex_dec_sub (the spread), done
 * exactly in int64 at the finer of the two scales.
 *
 * Tables. lxdex_table_t collects rows of strings (copied) and prints them
 * with a header, each column as wide as its widest cell: text columns to
 * the left, number columns to the right, decimal columns aligned on the
 * decimal point ("30000", "29999.99" and "0.5" line up by their units).
 * A table owns its strings; it is freed by lxdex_table_free.
 *
 * The book. lxdex_book_print draws bids and asks side by side, best first,
 * and the spread: the same block for `book` (from GET /v1/book) and for
 * `watch` (from the WebSocket l2 stream), so the two can be compared line
 * by line (tests/integration/lxdex_read.sh does).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "lx/decimal.h"
#include "lxdex_web.h"

/* ---- GET ------------------------------------------------------------------------------------ */

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
    lxdex_body_t *b = ctx;
    size_t len = size * n;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1) cap *= 2;
        char *q = realloc(b->data, cap);
        if (!q) return 0; /* libcurl stops with CURLE_WRITE_ERROR */
        b->data = q;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = 0;
    return len;
}

void lxdex_body_free(lxdex_body_t *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

char *lxdex_url_escape(const char *s) {
    static bool inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = true;
    }
    char *e = curl_easy_escape(NULL, s, 0);
    char *r = e ? strdup(e) : NULL;
    curl_free(e);
    return r;
}

/* Prints the API's error body ({"error":{"code","message"}}) or the raw body. */
static void print_http_error(const char *path, long status, const lxdex_body_t *b) {
    json_error_t jerr;
    json_t *j = b->data ? json_loadb(b->data, b->len, 0, &jerr) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (code && msg)
        fprintf(stderr, "lxdex: GET %s: HTTP %ld %s: %s\n", path, status, code, msg);
    else
        fprintf(stderr, "lxdex: GET %s: HTTP %ld: %.500s\n", path, status,
                b->len ? b->data : "(empty body)");
    json_decref(j);
}

int lxdex_http_get(const char *base, const char *path, const char *authz, lxdex_body_t *out,
                   long *status) {
    char *esc = lxdex_url_escape(""); /* initialises libcurl once */
    free(esc);
    memset(out, 0, sizeof *out);
    *status = 0;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    char *url = NULL;
    if (asprintf(&url, "%.*s%s", (int)bl, base, path) < 0) return 1;
    CURL *h = curl_easy_init();
    if (!h) {
        free(url);
        fprintf(stderr, "lxdex: libcurl failed to initialise\n");
        return 1;
    }
    char err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    char *line = NULL;
    if (authz && (asprintf(&line, "Authorization: %s", authz) < 0 ||
                  !(hdrs = curl_slist_append(NULL, line)))) {
        free(line);
        free(url);
        curl_easy_cleanup(h);
        fprintf(stderr, "lxdex: out of memory\n");
        return 1;
    }
    free(line);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "lxdex-cli");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        fprintf(stderr,
                "lxdex: cannot reach the node at %.*s (GET %s): %s\n"
                "       is lxdexd running there? (`make run` starts one; --url sets the address)\n",
                (int)bl, base, path, err[0] ? err : curl_easy_strerror(rc));
        ret = 1;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    free(url);
    if (ret) lxdex_body_free(out);
    return ret;
}

json_t *lxdex_http_json(const char *base, const char *path, const char *authz, lxdex_body_t *body,
                        long *status) {
    lxdex_body_t tmp;
    long st = 0;
    if (!body) body = &tmp;
    if (lxdex_http_get(base, path, authz, body, &st)) return NULL;
    if (status) *status = st;
    json_t *j = NULL;
    if (st < 200 || st >= 300) {
        print_http_error(path, st, body);
    } else {
        json_error_t jerr;
        j = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
        if (!j) fprintf(stderr, "lxdex: GET %s: the answer is not JSON: %s\n", path, jerr.text);
    }
    if (body == &tmp) lxdex_body_free(&tmp);
    return j;
}

/* ---- decimals ------------------------------------------------------------------------------- */

static int frac_digits(const char *s) {
    const char *dot = strchr(s, '.');
    return dot ? (int)strlen(dot + 1) : 0;
}

int lxdex_dec_sub(const char *a, const char *b, char *out, size_t cap) {
    int scale = frac_digits(a) > frac_digits(b) ? frac_digits(a) : frac_digits(b);
    int64_t x, y;
    if (scale > LX_DECIMAL_MAX_SCALE || lx_decimal_parse(a, scale, &x) ||
        lx_decimal_parse(b, scale, &y) || (y > 0 && x < INT64_MIN + y) ||
        (y < 0 && x > INT64_MAX + y))
        return -1;
    lx_decimal_format_short(x - y, scale, out, cap); /* as the API writes decimals */
    return 0;
}

/* ---- tables --------------------------------------------------------------------------------- */

void lxdex_table_init(lxdex_table_t *t, int ncols, const char *const *head, const char *align) {
    memset(t, 0, sizeof *t);
    t->ncols = ncols > LXDEX_TABLE_MAXCOLS ? LXDEX_TABLE_MAXCOLS : ncols;
    t->head = head;
    t->align = align;
}

void lxdex_table_add(lxdex_table_t *t, const char *const *cells) {
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **q = realloc(t->cells, cap * (size_t)t->ncols * sizeof *q);
        if (!q) return; /* out of memory: the row is left out */
        t->cells = q;
        t->cap = cap;
    }
    for (int c = 0; c < t->ncols; c++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = strdup(cells[c] ? cells[c] : "");
    t->nrows++;
}

/* Width of the integer part (up to the point) and of the rest. */
static void dec_parts(const char *s, size_t *ip, size_t *fp) {
    const char *dot = strchr(s, '.');
    *ip = dot ? (size_t)(dot - s) : strlen(s);
    *fp = strlen(s) - *ip;
}

static void table_write(FILE *out, const lxdex_table_t *t);

/* Writes the table through a memory stream so that trailing blanks can be
 * cut from every line. */
void lxdex_table_print(FILE *out, const lxdex_table_t *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return table_write(out, t);
    table_write(m, t);
    fclose(m);
    for (char *line = buf, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) nl = line + strlen(line);
        char *e = nl;
        while (e > line && e[-1] == ' ') e--;
        fprintf(out, "%.*s\n", (int)(e - line), line);
        if (!*nl) break;
    }
    free(buf);
}

static void table_write(FILE *out, const lxdex_table_t *t) {
    size_t w[LXDEX_TABLE_MAXCOLS], iw[LXDEX_TABLE_MAXCOLS], fw[LXDEX_TABLE_MAXCOLS];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = strlen(t->head[c]);
        iw[c] = fw[c] = 0;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t ip, fp;
            dec_parts(s, &ip, &fp);
            if (ip > iw[c]) iw[c] = ip;
            if (fp > fw[c]) fw[c] = fp;
            if (strlen(s) > w[c]) w[c] = strlen(s);
        }
        if (t->align[c] == '.' && iw[c] + fw[c] > w[c]) w[c] = iw[c] + fw[c];
    }
    for (int c = 0; c < t->ncols; c++) {
        const char *sep = c ? "  " : "";
        if (t->align[c] == 'l')
            fprintf(out, "%s%-*s", sep, c + 1 < t->ncols ? (int)w[c] : 0, t->head[c]);
        else
            fprintf(out, "%s%*s", sep, (int)w[c], t->head[c]);
    }
    fputc('\n', out);
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            const char *sep = c ? "  " : "";
            if (t->align[c] == 'l') {
                fprintf(out, "%s%-*s", sep, c + 1 < t->ncols ? (int)w[c] : 0, s);
            } else if (t->align[c] == '.' && *s) {
                size_t ip, fp;
                dec_parts(s, &ip, &fp);
                /* the column is right-aligned as a block of iw + fw characters */
                size_t lead = w[c] - (iw[c] + fw[c]) + (iw[c] - ip);
                fprintf(out, "%s%*s%s%*s", sep, (int)lead, "", s, (int)(fw[c] - fp), "");
            } else {
                fprintf(out, "%s%*s", sep, (int)w[c], s);
            }
        }
        fputc('\n', out);
    }
}

void lxdex_table_free(lxdex_table_t *t) {
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* ---- the book ------------------------------------------------------------------------------- */

void lxdex_book_print(FILE *out, const lxdex_level_t *bids, size_t nb, const lxdex_level_t *asks,
                      size_t na, size_t depth) {
    static const char *const head[] = {"ORDERS", "SIZE", "BID", "ASK", "SIZE", "ORDERS"};
    lxdex_table_t t;
    lxdex_table_init(&t, 6, head, "r....r");
    size_t rows = nb > na ? nb : na;
    if (rows > depth) rows = depth;
    for (size_t i = 0; i < rows; i++) {
        char bc[24] = "", ac[24] = "";
        const char *cells[6] = {"", "", "", "", "", ""};
        if (i < nb) {
            snprintf(bc, sizeof bc, "%lld", (long long)bids[i].count);
            cells[0] = bc;
            cells[1] = bids[i].size;
            cells[2] = bids[i].price;
        }
        if (i < na) {
            snprintf(ac, sizeof ac, "%lld", (long long)asks[i].count);
            cells[3] = asks[i].price;
            cells[4] = asks[i].size;
            cells[5] = ac;
        }
        lxdex_table_add(&t, cells);
    }
    lxdex_table_print(out, &t);
    lxdex_table_free(&t);
    char spread[LX_DECIMAL_FORMAT_MAX];
    if (nb && na && lxdex_dec_sub(asks[0].price, bids[0].price, spread, sizeof spread) == 0)
        fprintf(out, "spread %s (bid %s, ask %s)\n", spread, bids[0].price, asks[0].price);
    else if (!nb && !na)
        fprintf(out, "the book is empty\n");
    else
        fprintf(out, "spread - (%s side empty)\n", nb ? "ask" : "bid");
}

int lxdex_levels_from_json(const json_t *arr, lxdex_level_t **out, size_t *n) {
    size_t k = json_array_size(arr);
    *out = calloc(k ? k : 1, sizeof **out);
    *n = 0;
    if (!*out) return -1;
    for (size_t i = 0; i < k; i++) {
        const json_t *l = json_array_get(arr, i);
        const char *p = json_string_value(json_array_get(l, 0));
        const char *s = json_string_value(json_array_get(l, 1));
        const json_t *c = json_array_get(l, 2);
        if (!p || !s || !json_is_integer(c) || strlen(p) >= sizeof(*out)->price ||
            strlen(s) >= sizeof(*out)->size)
            return -1;
        lxdex_level_t *v = &(*out)[(*n)++];
        strcpy(v->price, p);
        strcpy(v->size, s);
        v->count = json_integer_value(c);
    }
    return 0;
}
