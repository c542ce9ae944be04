/*
 * lxdex_web.h: the web-API client parts of lxdex shared by read.c and
 * watch.c (http.c): HTTP GET with libcurl, JSON with jansson, exact decimal
 * differences, aligned tables and the book block.
 */
#ifndef LXDEX_WEB_H
#define LXDEX_WEB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lxdex.h"

#define LXDEX_DEFAULT_URL "http://127.0.0.1:8080"
#define LXDEX_DEFAULT_WS "ws://127.0.0.1:8081"

/* A response body, NUL-terminated; owned by the caller. */
typedef struct {
    char *data;
    size_t len, cap;
} lxdex_body_t;
void lxdex_body_free(lxdex_body_t *b);

/* GET base+path into *out (any HTTP status; *status set), with the
 * Authorization header authz unless it is NULL. 0, or 1 when the node
 * could not be reached (message on stderr naming the URL). */
int lxdex_http_get(const char *base, const char *path, const char *authz, lxdex_body_t *out,
                   long *status);
/* GET and parse: the JSON of a 2xx answer (caller decrefs), or NULL with a
 * message on stderr (unreachable, HTTP error and its body, not JSON). The
 * raw body stays in *body when body is not NULL (free it either way);
 * *status (if not NULL) is the HTTP status, 0 when unreachable. */
json_t *lxdex_http_json(const char *base, const char *path, const char *authz, lxdex_body_t *body,
                        long *status);
/* A path segment escaped for a URL (malloc'd; NULL when out of memory). */
char *lxdex_url_escape(const char *s);

/* a - b of two decimal strings, exactly, written as the API writes decimals
 * (no trailing fractional zeros). 0, or -1 (not decimals, overflow). */
int lxdex_dec_sub(const char *a, const char *b, char *out, size_t cap);

/* Aligned text tables: align per column 'l' left, 'r' right, '.' on the
 * decimal point. */
#define LXDEX_TABLE_MAXCOLS 16
typedef struct {
    int ncols;
    const char *const *head;
    const char *align;
    char **cells; /* nrows * ncols, owned */
    size_t nrows, cap;
} lxdex_table_t;
void lxdex_table_init(lxdex_table_t *t, int ncols, const char *const *head, const char *align);
void lxdex_table_add(lxdex_table_t *t, const char *const *cells); /* copies */
void lxdex_table_print(FILE *out, const lxdex_table_t *t);
void lxdex_table_free(lxdex_table_t *t);

/* One price level as the API writes it; ticks and lots for the checksum. */
typedef struct {
    char price[32], size[32];
    int64_t count;
    int64_t ticks, lots;
} lxdex_level_t;
/* Bids and asks side by side, best first, at most depth rows, then the spread. */
void lxdex_book_print(FILE *out, const lxdex_level_t *bids, size_t nb, const lxdex_level_t *asks,
                      size_t na, size_t depth);
/* [[price, size, count], ...] -> a malloc'd array (free it even on error); 0 or -1. */
int lxdex_levels_from_json(const json_t *arr, lxdex_level_t **out, size_t *n);

#endif
