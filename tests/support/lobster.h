/*
 * lobster.h: readers for LOBSTER sample files (NASDAQ order flow).
 *
 * LOBSTER (lobsterdata.com) publishes, per symbol and day, a message file
 * (one line per order book event) and an order book file (the top N levels
 * after each message). The samples we use are described in
 * shared/data/lobster/README.md. This module only parses: it turns the text
 * into integers, exactly, and says where the text was wrong. What the events
 * mean to an engine is the business of the test or benchmark that replays
 * them (tests/unit/test_lobster.c).
 *
 * Message file, one line per event, six comma-separated fields:
 *
 *   time       seconds after midnight, a decimal with 0 to 9 fractional
 *              digits ("34200.004241176", "34200.01746"); parsed into
 *              integer nanoseconds without floating point
 *   type       1 new limit order, 2 partial cancel, 3 full delete,
 *              4 execution of a visible order, 5 execution of a hidden
 *              order, 6 cross trade, 7 trading halt
 *   order id   the exchange's reference number (0 for hidden executions)
 *   size       shares
 *   price      dollars x 10,000 (type 7: -1 halt, 0 quote, 1 resume)
 *   direction  1 buy, -1 sell (of the resting order, for executions)
 *
 * Order book file, one line per message (the book after it), 4N fields:
 * ask price, ask size, bid price, bid size for level 1, then level 2, ...
 * An empty level has the price 9999999999 (ask) or -9999999999 (bid); once a
 * side has an empty level, every deeper level of that side must be empty.
 *
 * Either file may start with one header line (a line whose first character
 * is a letter); it is skipped. Lines end with LF or CRLF; a final line
 * without LF is accepted; empty lines are errors except trailing ones.
 *
 * Errors: LX_EIO (open/read failed), LX_ENOMEM, LX_ECORRUPT (bad text; err
 * names the line and the field). Nothing here calls exit or prints.
 */
#ifndef LX_TEST_LOBSTER_H
#define LX_TEST_LOBSTER_H

#include <stddef.h>
#include <stdint.h>

#define LX_LOBSTER_MAX_DEPTH 50 /* LOBSTER sells up to 200; our samples have 1 and 10 */
#define LX_LOBSTER_EMPTY_ASK INT64_C(9999999999)
#define LX_LOBSTER_EMPTY_BID INT64_C(-9999999999)

typedef enum {
    LX_LOBSTER_NEW = 1,
    LX_LOBSTER_PARTIAL_CANCEL = 2,
    LX_LOBSTER_DELETE = 3,
    LX_LOBSTER_EXEC = 4,
    LX_LOBSTER_EXEC_HIDDEN = 5,
    LX_LOBSTER_CROSS = 6,
    LX_LOBSTER_HALT = 7
} lx_lobster_type_t;

typedef struct {
    int64_t time_ns; /* nanoseconds after midnight (exchange local time) */
    int64_t size;    /* shares, >= 0 */
    int64_t price;   /* dollars x 10,000 */
    uint64_t id;     /* order reference number */
    uint32_t line;   /* 1-based line number in the file, for messages */
    int8_t type;     /* lx_lobster_type_t */
    int8_t dir;      /* 1 buy, -1 sell */
} lx_lobster_msg_t;

typedef struct {
    int64_t price; /* dollars x 10,000 */
    int64_t qty;   /* shares, > 0 */
} lx_lobster_level_t;

/* All rows of an order book file. Row r, side s (0 bid, 1 ask, as
 * lx_side_t), level k (0 = best) is lv[(r * 2 + s) * depth + k]; only the
 * first n[r * 2 + s] levels of a row's side are non-empty. */
typedef struct {
    uint32_t depth; /* N, levels per side in the file */
    size_t rows;
    lx_lobster_level_t *lv;
    uint8_t *n;
} lx_lobster_book_t;

/* "34200.004241176" (len bytes, no NUL needed) -> ns. LX_ECORRUPT if it is
 * not digits[.digits] with at most 9 fractional digits, or overflows. */
int lx_lobster_parse_time(const char *s, size_t len, int64_t *ns);

/* Parses a whole message file already in memory. On success *out is a
 * malloc'ed array (the caller frees it) of *n messages. */
int lx_lobster_parse_messages(const char *buf, size_t len, lx_lobster_msg_t **out, size_t *n,
                              char *err, size_t errlen);
/* Parses a whole order book file in memory; depth is taken from the first
 * data line (4N fields) and every line must have the same. On success the
 * caller owns *book (lx_lobster_book_free). */
int lx_lobster_parse_book(const char *buf, size_t len, lx_lobster_book_t *book, char *err,
                          size_t errlen);
void lx_lobster_book_free(lx_lobster_book_t *book);

static inline const lx_lobster_level_t *lx_lobster_side(const lx_lobster_book_t *b, size_t row,
                                                        int side, uint32_t *nlevels) {
    *nlevels = b->n[row * 2 + (size_t)side];
    return &b->lv[(row * 2 + (size_t)side) * b->depth];
}

/* File helpers: read the whole file, then parse as above. */
int lx_lobster_load_messages(const char *path, lx_lobster_msg_t **out, size_t *n, char *err,
                             size_t errlen);
int lx_lobster_load_book(const char *path, lx_lobster_book_t *book, char *err, size_t errlen);

/* The shared data directory: $LX_SHARED_DATA if set and non-empty, else
 * "../shared/data" (relative to the working directory, the repository root
 * when run by CTest). Never NULL. */
const char *lx_lobster_data_dir(void);

/* "<data dir>/lobster/<name>" into buf; LX_ERANGE if it does not fit. */
int lx_lobster_path(char *buf, size_t cap, const char *name);

#endif
