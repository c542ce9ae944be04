/*
 * test_lobster.c: replays real NASDAQ order flow (LOBSTER samples of AAPL and
 * AMZN, 21 June 2012) through the engine and checks it against NASDAQ's own
 * decisions.
 *
 * What LOBSTER gives us (shared/data/lobster/README.md): a message file, one
 * event per line (new order, partial cancel, delete, execution of a visible
 * order naming the resting order that was hit, hidden execution, halt), and
 * an order book file with the top N price levels per side after each
 * message. The data has two blind spots, and this test is built around them:
 *
 *   1. The book is not empty at 09:30. Orders entered earlier are never
 *      announced; they show up only as quantity in the book file and as ids
 *      we have never seen when they are executed or cancelled.
 *   2. A level-N file carries only the events within the top N levels. An
 *      order entered deeper, or cancelled while its level was deeper, leaves
 *      no trace; such a level's content is unknown until it is shown again.
 *
 * The model. The engine holds two kinds of resting orders: "known" orders,
 * one engine order per LOBSTER order we saw entered, and at most one
 * "synthetic" order per price level, owned by a dedicated account, which
 * stands for all the quantity at that level whose orders we cannot name.
 * A synthetic order is only ever created on an empty level, so it is always
 * at the head of its queue; that is right, because everything it stands for
 * was in the book before any order we place later at that price.
 *
 *   - Start: the first book row, with the first message undone, is placed
 *     as one synthetic order per level.
 *   - The window. After row r the file determines every price at or better
 *     than its N-th level on each side (the whole side if it shows fewer
 *     than N levels). Message r+1 reports every change inside that window,
 *     so after applying it the engine must agree with row r+1 on every
 *     price that was inside the window of row r: same quantity at each
 *     level shown, nothing at the prices not shown. That is the strict level
 *     check, and the top-of-book check is the same check at the best price
 *     (plus lx_engine_best agreeing with the file).
 *   - A level shown in row r+1 but outside the window of row r is revealed:
 *     the file tells us its quantity, not its orders. If the engine does not
 *     already hold exactly one synthetic order of that size there, the level
 *     is rebuilt: every engine order there is cancelled (known ones are
 *     "absorbed": their ids are forgotten and later messages naming them
 *     are treated as naming synthetic quantity) and one synthetic order of
 *     the shown size is placed. Engine levels inside the new window that
 *     the file does not show, and that were outside the old window, are
 *     stale (their orders were cancelled out of sight) and are removed.
 *     Revealed and stale levels are synchronised, counted, and not checked.
 *
 * Messages:
 *   1 new order: PLACE GTC. It must not cross our book (NASDAQ would have
 *     executed it): strict.
 *   2 partial cancel: known order: AMEND down by the size (keeps priority);
 *     the size must not exceed our remaining quantity. Unknown id: reduce
 *     the level's synthetic order, which must hold enough.
 *   3 delete: known order: the size must equal our remaining quantity, then
 *     CANCEL. Unknown id: as for 2.
 *   4 execution: a maximal run of consecutive executions at one price and
 *     direction is replayed as ONE immediate-or-cancel order of the other
 *     side at that price for the total size. Its trades must name exactly
 *     the resting orders LOBSTER names, in LOBSTER's order, with LOBSTER's
 *     sizes (consecutive executions of one order merge into one trade; ids
 *     we cannot name must be matched by the synthetic order at the head of
 *     the queue). The book rows inside the run are compared too, with the
 *     quantity the run had not yet taken added back at that price.
 *     Before sending the IOC we predict its fills from the engine's own
 *     book (lx_engine_book_orders). If the prediction differs from NASDAQ's
 *     list, NASDAQ did not follow price-time priority as far as the data
 *     shows (see KNOWN_DEVIATIONS); then the named orders are reduced by
 *     amend/cancel instead, so that the replay stays in step. If the
 *     prediction agrees but the engine's trades do not, the engine is wrong.
 *   5 hidden execution: no visible order to remove; counted and skipped.
 *   6 cross trade: not in our samples; counted and skipped.
 *   7 halt: SET_MARKET_STATE (price -1 halt, 1 resume; 0 "quoting" is
 *     ignored).
 *
 * Any mismatch fails the test, and so does a deviation from price-time
 * priority that is not in KNOWN_DEVIATIONS, or one listed there that does
 * not happen. At the end the engine must pass lx_engine_validate. The test
 * prints what it checked and what it only synchronised.
 *
 * Numbers: one tick = $0.0001 = one LOBSTER price unit, one lot = one share
 * (base scale 1, quote scale 10,000, tick_size 1, lot_size 1: tick_value 1).
 * Clearing is off: no funds. Every known order has one of ACC_COUNT trader
 * accounts; self-trade prevention is NONE everywhere, so it never acts.
 * Command timestamps are the LOBSTER times (nanoseconds after midnight,
 * New York) plus the epoch time of 2012-06-21 00:00 EDT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/engine.h"
#include "lx/error.h"
#include "lobster.h"

#define MARKET 0u
#define ASSET_BASE 0u
#define ASSET_QUOTE 1u
#define ACC_TAKER 0u /* sends the IOC orders that replay executions */
#define ACC_SYN 1u   /* owns the synthetic orders */
#define ACC_FIRST 2u /* known orders: ACC_FIRST + id % ACC_COUNT */
#define ACC_COUNT 1000u
#define MAX_ORDERS (1u << 16)
#define EPOCH_NS (INT64_C(1340251200) * 1000000000) /* 2012-06-21 00:00 EDT */
#define MAX_PRINTED 30 /* mismatches printed in full; all are counted */

/* ---- where NASDAQ's executions disagree with price-time priority -------- */

/*
 * Executions whose order the data shows to differ from price-time priority,
 * found by this test and checked by hand against the files. Each one must
 * happen exactly as listed (message file line of the run's first
 * execution), and no other may happen.
 */
typedef enum {
    DEV_ORDER = 1, /* the same orders and sizes as FIFO, listed in another order */
    DEV_OTHER = 2  /* other orders than FIFO would hit */
} dev_kind_t;

typedef struct {
    const char *file;
    uint32_t line;
    dev_kind_t kind;
    const char *why;
} known_dev_t;

static const known_dev_t KNOWN_DEVIATIONS[] = {
    /* Four runs of two sell orders taken together in one timestamp (the
     * whole level) where NASDAQ lists the younger order first: 31486478
     * (entered line 1947) before 31486027 (line 1940), and so on. A fifth
     * such run (line 56555) is not seen here: its level was out of the
     * level-1 file's view in between, so its orders are unnamed by then. */
    {"AMZN", 1948, DEV_ORDER, "31486478 listed before the older 31486027"},
    {"AMZN", 3174, DEV_ORDER, "38960266 listed before the older 38960264"},
    {"AMZN", 25612, DEV_ORDER, "149832597 listed before the older 149832596"},
    {"AMZN", 38827, DEV_ORDER, "202650720 listed before the older 202650719"},
    /* Sell order 284135299 (400 @ 220.81, line 56084) is executed at once
     * (lines 56085-56088) although the rows before its entry show 124 shares
     * resting at 220.81 and nothing there changes in between; 8 of those
     * shares, order 283668256 (entered line 55990), are executed only at
     * line 56160. */
    {"AMZN", 56085, DEV_OTHER, "284135299 hit ahead of 124 older shares at 220.81"},
};

/* ---- the LOBSTER id -> engine order map ---------------------------------- */

enum { ID_NONE = 0, ID_LIVE = 1, ID_GONE = 2, ID_ABSORBED = 3 };

typedef struct {
    uint64_t key; /* LOBSTER id; 0 = empty slot */
    lx_order_id_t oid;
    uint8_t state;
} idslot_t;

typedef struct {
    idslot_t *v;
    size_t mask;
} idmap_t;

static idslot_t *idmap_slot(idmap_t *m, uint64_t key) {
    size_t i = (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & m->mask;
    while (m->v[i].key != 0 && m->v[i].key != key) i = (i + 1) & m->mask;
    return &m->v[i];
}

/* ---- the replay ---------------------------------------------------------- */

typedef struct {
    size_t msgs, by_type[8];
    size_t seeded_levels;
    size_t new_placed, new_crossing;
    size_t cancel_known, cancel_synthetic;
    size_t runs, runs_ioc, runs_ioc_synthetic, runs_ioc_multi, runs_deviating, exec_msgs_ioc,
        exec_msgs_dev;
    size_t hidden, cross, halts;
    size_t rows, levels_checked, levels_revealed, reveal_rebuilt, absorbed, stale_levels;
    size_t best_checked[2], rows_both_best;
    size_t mismatches;
} counts_t;

typedef struct {
    uint32_t line;
    dev_kind_t kind;
} found_dev_t;

/* One expected or observed fill: key is the engine order id, or 0 for
 * synthetic quantity (ids we cannot name). */
typedef struct {
    lx_order_id_t key;
    uint64_t lob_id; /* LOBSTER id of a known order, for messages */
    int64_t qty;
} fill_t;

typedef struct {
    const char *name;
    lx_engine_t *e;
    lx_lobster_msg_t *msg;
    size_t nmsg;
    lx_lobster_book_t book;
    uint64_t seq;
    int64_t ts;
    size_t cur; /* message being replayed, for diagnostics */

    lx_event_t *ev;
    size_t nev, evcap;

    idmap_t ids;
    lx_order_info_t *ob; /* lx_engine_book_orders buffer, MAX_ORDERS */
    lx_level_t *lv;      /* lx_engine_levels buffer, MAX_ORDERS */

    bool wall[2];      /* window of the previous row: the whole side */
    int64_t wbound[2]; /* else: prices at or better than this */

    counts_t c;
    found_dev_t dev[64];
    size_t ndev;
} replay_t;

static void collect(void *ctx, const lx_event_t *ev) {
    replay_t *r = ctx;
    if (r->nev == r->evcap) {
        r->evcap = r->evcap ? r->evcap * 2 : 256;
        r->ev = realloc(r->ev, r->evcap * sizeof *r->ev);
        assert_non_null(r->ev);
    }
    r->ev[r->nev++] = *ev;
}

static void apply(replay_t *r, lx_cmd_t *cmd) {
    cmd->seq = ++r->seq;
    cmd->ts = r->ts;
    r->nev = 0;
    lx_sink_t sink = {collect, r};
    int rc = lx_engine_apply(r->e, cmd, &sink);
    if (rc != 0)
        fail_msg("%s: lx_engine_apply(%s) = %s", r->name, lx_cmd_type_name(cmd->type),
                 lx_err_name(rc));
}

static const lx_event_t *find_event(const replay_t *r, lx_event_type_t type) {
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].type == type) return &r->ev[i];
    return NULL;
}

static void mismatch(replay_t *r, const char *fmt, ...) {
    r->c.mismatches++;
    if (r->c.mismatches > MAX_PRINTED) return;
    const lx_lobster_msg_t *m = &r->msg[r->cur];
    printf("  MISMATCH %s line %u (type %d id %" PRIu64 " size %" PRId64 " price %" PRId64
           " dir %d): ",
           r->name, m->line, m->type, m->id, m->size, m->price, m->dir);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static lx_side_t side_of(int dir) {
    return dir == 1 ? LX_SIDE_BUY : LX_SIDE_SELL;
}
static const char *side_name(int s) {
    return s == LX_SIDE_BUY ? "bid" : "ask";
}

/* p is at or better than q for a resting order of side s */
static bool at_or_better(int s, int64_t p, int64_t q) {
    return s == LX_SIDE_BUY ? p >= q : p <= q;
}

static bool in_window(bool all, int64_t bound, int s, int64_t p) {
    return all || at_or_better(s, p, bound);
}

/* ---- engine commands ----------------------------------------------------- */

static lx_order_id_t place(replay_t *r, lx_side_t side, uint8_t tif, int64_t price, int64_t qty,
                           lx_account_id_t acc, uint64_t client_id) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.u.place.account = acc;
    c.u.place.market = MARKET;
    c.u.place.side = (uint8_t)side;
    c.u.place.type = LX_ORDER_LIMIT;
    c.u.place.tif = tif;
    c.u.place.stp = LX_STP_NONE;
    c.u.place.price = price;
    c.u.place.qty = qty;
    c.u.place.client_id = client_id;
    apply(r, &c);
    const lx_event_t *ev = find_event(r, LX_EV_ORDER_ACCEPTED);
    if (!ev) {
        const lx_event_t *rej = find_event(r, LX_EV_REJECTED);
        mismatch(r, "PLACE %s %" PRId64 " @ %" PRId64 " rejected: %s", side_name(side), qty, price,
                 rej ? lx_reject_name(rej->u.rejected.reason) : "no event");
        return 0;
    }
    return ev->u.accepted.order_id;
}

/* Cancels a resting order; checks the event. */
static void cancel_order(replay_t *r, const lx_order_info_t *o) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL;
    c.u.cancel.account = o->account;
    c.u.cancel.market = MARKET;
    c.u.cancel.order_id = o->order_id;
    apply(r, &c);
    const lx_event_t *ev = find_event(r, LX_EV_ORDER_CANCELED);
    if (!ev || ev->u.canceled.order_id != o->order_id || ev->u.canceled.qty != o->remaining)
        mismatch(r, "CANCEL of order %" PRIx64 " (%" PRId64 " open): %s", o->order_id, o->remaining,
                 ev ? "wrong ORDER_CANCELED" : "no ORDER_CANCELED");
}

/* Takes `by` off a resting order: AMEND down (keeps priority), or CANCEL
 * when that is all it has. */
static void reduce_order(replay_t *r, const lx_order_info_t *o, int64_t by) {
    if (by == o->remaining) {
        cancel_order(r, o);
        return;
    }
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_AMEND;
    c.u.amend.account = o->account;
    c.u.amend.market = MARKET;
    c.u.amend.order_id = o->order_id;
    c.u.amend.price = o->price;
    c.u.amend.qty = o->qty - by;
    apply(r, &c);
    const lx_event_t *ev = find_event(r, LX_EV_ORDER_AMENDED);
    if (!ev || ev->u.amended.order_id != o->order_id ||
        ev->u.amended.remaining != o->remaining - by || ev->u.amended.priority_lost != 0)
        mismatch(r, "AMEND of order %" PRIx64 " down by %" PRId64 ": %s", o->order_id, by,
                 ev ? "wrong ORDER_AMENDED" : "no ORDER_AMENDED");
}

/* The engine's orders at one price of one side, in priority order: sets
 * *first to their index in r->ob and returns how many. */
static size_t level_orders(replay_t *r, int s, int64_t price, size_t *first) {
    size_t n = lx_engine_book_orders(r->e, MARKET, (lx_side_t)s, r->ob, MAX_ORDERS);
    assert_true(n <= MAX_ORDERS);
    size_t i = 0;
    while (i < n && r->ob[i].price != price) i++;
    *first = i;
    size_t k = i;
    while (k < n && r->ob[k].price == price) k++;
    return k - i;
}

/* The synthetic order at a level (always its head), or NULL. */
static const lx_order_info_t *synthetic_at(replay_t *r, int s, int64_t price) {
    size_t first, n = level_orders(r, s, price, &first);
    return n > 0 && r->ob[first].account == ACC_SYN ? &r->ob[first] : NULL;
}

static void forget(replay_t *r, uint64_t lob_id, uint8_t state) {
    idslot_t *sl = idmap_slot(&r->ids, lob_id);
    assert_true(sl->key == lob_id && sl->state == ID_LIVE);
    sl->state = state;
    sl->oid = 0;
}

/* Empties a level; known orders there are absorbed. */
static void clear_level(replay_t *r, int s, int64_t price) {
    size_t first, n = level_orders(r, s, price, &first);
    /* copy: cancelling overwrites nothing in r->ob, but keep it simple */
    lx_order_info_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    assert_non_null(tmp);
    memcpy(tmp, &r->ob[first], n * sizeof *tmp);
    for (size_t i = 0; i < n; i++) {
        cancel_order(r, &tmp[i]);
        if (tmp[i].account != ACC_SYN) {
            forget(r, tmp[i].client_id, ID_ABSORBED);
            r->c.absorbed++;
        }
    }
    free(tmp);
}

static void place_synthetic(replay_t *r, int s, int64_t price, int64_t qty) {
    int64_t op, oq;
    if (lx_engine_best(r->e, MARKET, (lx_side_t)(1 - s), &op, &oq) && at_or_better(s, price, op)) {
        mismatch(r, "synthetic %s %" PRId64 " @ %" PRId64 " would cross %" PRId64, side_name(s),
                 qty, price, op);
        return;
    }
    if (place(r, (lx_side_t)s, LX_TIF_GTC, price, qty, ACC_SYN, 0) && find_event(r, LX_EV_TRADE))
        mismatch(r, "synthetic order traded");
}

static void rebuild_level(replay_t *r, int s, int64_t price, int64_t qty) {
    clear_level(r, s, price);
    if (qty > 0) place_synthetic(r, s, price, qty);
}

/* ---- comparing with the order book file ---------------------------------- */

/*
 * Compares the engine with book row `row`. With sync, revealed and stale
 * levels are brought in line with the file and the window moves on; without
 * (rows inside an execution run, whose IOC has already been sent), adj_qty
 * is added to the engine's quantity at (adj_side, adj_price) and everything
 * must be determined.
 */
static void check_row(replay_t *r, size_t row, bool sync, int adj_side, int64_t adj_price,
                      int64_t adj_qty) {
    const uint32_t depth = r->book.depth;
    bool new_all[2];
    int64_t new_bound[2];
    bool best_determined[2] = {false, false};
    r->c.rows++;

    /* Pass 1: engine levels inside the new window that the file lacks. */
    for (int s = 0; s < 2; s++) {
        uint32_t nf;
        const lx_lobster_level_t *f = lx_lobster_side(&r->book, row, s, &nf);
        new_all[s] = nf < depth;
        new_bound[s] = nf ? f[nf - 1].price : 0;
        size_t nl = lx_engine_levels(r->e, MARKET, (lx_side_t)s, r->lv, MAX_ORDERS);
        for (size_t k = 0; k < nl; k++) {
            int64_t p = r->lv[k].price;
            if (!in_window(new_all[s], new_bound[s], s, p)) break;
            bool shown = false;
            for (uint32_t j = 0; j < nf; j++) shown |= f[j].price == p;
            if (shown) continue;
            if (in_window(r->wall[s], r->wbound[s], s, p))
                mismatch(r,
                         "row %zu: engine has %s %" PRId64 " x %" PRId64
                         ", the file has no such level",
                         row + 1, side_name(s), r->lv[k].qty, p);
            else if (!sync)
                mismatch(r, "row %zu: stale %s level %" PRId64 " inside a run", row + 1,
                         side_name(s), p);
            else
                r->c.stale_levels++;
            if (sync) clear_level(r, s, p);
        }
    }
    /* Pass 2: every level the file shows. */
    for (int s = 0; s < 2; s++) {
        uint32_t nf;
        const lx_lobster_level_t *f = lx_lobster_side(&r->book, row, s, &nf);
        for (uint32_t j = 0; j < nf; j++) {
            int64_t p = f[j].price, q = f[j].qty;
            uint32_t cnt;
            int64_t eq = lx_engine_depth_at(r->e, MARKET, (lx_side_t)s, p, &cnt);
            if (!sync && s == adj_side && p == adj_price) eq += adj_qty;
            if (in_window(r->wall[s], r->wbound[s], s, p)) {
                r->c.levels_checked++;
                if (j == 0) best_determined[s] = true;
                if (eq != q) {
                    mismatch(r, "row %zu: %s %" PRId64 ": engine %" PRId64 ", file %" PRId64,
                             row + 1, side_name(s), p, eq, q);
                    if (sync) rebuild_level(r, s, p, q);
                }
            } else if (!sync) {
                mismatch(r, "row %zu: %s %" PRId64 " revealed inside a run", row + 1, side_name(s),
                         p);
            } else {
                r->c.levels_revealed++;
                size_t first, n = level_orders(r, s, p, &first);
                if (!(n == 1 && r->ob[first].account == ACC_SYN && r->ob[first].remaining == q)) {
                    r->c.reveal_rebuilt++;
                    rebuild_level(r, s, p, q);
                }
            }
        }
    }
    /* Top of book: lx_engine_best must now equal the file's best. */
    for (int s = 0; s < 2; s++) {
        uint32_t nf;
        const lx_lobster_level_t *f = lx_lobster_side(&r->book, row, s, &nf);
        int64_t bp = 0, bq = 0;
        bool have = lx_engine_best(r->e, MARKET, (lx_side_t)s, &bp, &bq);
        if (!sync && s == adj_side) {
            if (!have || at_or_better(s, adj_price, bp)) {
                if (have && bp == adj_price)
                    bq += adj_qty;
                else
                    bq = adj_qty;
                bp = adj_price;
                have = true;
            }
        }
        if (nf == 0 && r->wall[s]) best_determined[s] = true;
        if (best_determined[s]) r->c.best_checked[s]++;
        bool ok = nf == 0 ? !have : have && bp == f[0].price && bq == f[0].qty;
        if (!ok)
            mismatch(r,
                     "row %zu: best %s: engine %s%" PRId64 " x %" PRId64 ", file %" PRId64
                     " x %" PRId64,
                     row + 1, side_name(s), have ? "" : "(none) ", bq, bp, nf ? f[0].qty : 0,
                     nf ? f[0].price : 0);
    }
    if (best_determined[0] && best_determined[1]) r->c.rows_both_best++;
    for (int s = 0; s < 2; s++) {
        r->wall[s] = new_all[s];
        r->wbound[s] = new_bound[s];
    }
}

/* ---- messages ------------------------------------------------------------ */

static void do_new(replay_t *r, const lx_lobster_msg_t *m) {
    lx_side_t s = side_of(m->dir);
    idslot_t *sl = idmap_slot(&r->ids, m->id);
    if (m->id == 0 || sl->key != 0) {
        mismatch(r, "new order id %" PRIu64 " is 0 or already used", m->id);
        return;
    }
    int64_t op, oq;
    if (lx_engine_best(r->e, MARKET, (lx_side_t)(1 - s), &op, &oq) &&
        at_or_better(s, m->price, op)) {
        mismatch(r, "new %s order at %" PRId64 " would cross our best %s %" PRId64, side_name(s),
                 m->price, side_name(1 - s), op);
        r->c.new_crossing++;
        return;
    }
    lx_order_id_t oid = place(r, s, LX_TIF_GTC, m->price, m->size,
                              ACC_FIRST + (lx_account_id_t)(m->id % ACC_COUNT), m->id);
    if (!oid) return;
    if (find_event(r, LX_EV_TRADE)) mismatch(r, "new order traded");
    sl->key = m->id;
    sl->oid = oid;
    sl->state = ID_LIVE;
    r->c.new_placed++;
}

/* Known, live order named by a message: its engine state, or NULL (with a
 * mismatch if the id is known but gone, or the order is elsewhere). Sets
 * *unknown when the id names no order we can identify. */
static bool lookup(replay_t *r, const lx_lobster_msg_t *m, lx_order_info_t *o, bool *unknown) {
    *unknown = false;
    idslot_t *sl = m->id ? idmap_slot(&r->ids, m->id) : NULL;
    if (!sl || sl->key == 0 || sl->state == ID_ABSORBED) {
        *unknown = true;
        return false;
    }
    if (sl->state == ID_GONE) {
        mismatch(r, "order %" PRIu64 " has already left our book", m->id);
        return false;
    }
    if (lx_engine_order(r->e, sl->oid, o) != 0) {
        mismatch(r, "order %" PRIu64 " (engine %" PRIx64 ") not found by lx_engine_order", m->id,
                 sl->oid);
        return false;
    }
    if (o->side != side_of(m->dir) || o->price != m->price) {
        mismatch(r, "order %" PRIu64 " rests as %s @ %" PRId64, m->id, side_name(o->side),
                 o->price);
        return false;
    }
    return true;
}

/* Takes qty of unnamed liquidity off the synthetic order at a level. */
static bool reduce_synthetic(replay_t *r, int s, int64_t price, int64_t qty) {
    const lx_order_info_t *syn = synthetic_at(r, s, price);
    if (!syn || syn->remaining < qty) {
        mismatch(r,
                 "unknown order: no synthetic quantity %" PRId64 " at %s %" PRId64 " (have %" PRId64
                 ")",
                 qty, side_name(s), price, syn ? syn->remaining : 0);
        return false;
    }
    lx_order_info_t o = *syn;
    reduce_order(r, &o, qty);
    return true;
}

static void do_cancel(replay_t *r, const lx_lobster_msg_t *m) {
    lx_order_info_t o;
    bool unknown;
    if (m->size <= 0) {
        mismatch(r, "cancel of size 0");
        return;
    }
    if (lookup(r, m, &o, &unknown)) {
        if (m->type == LX_LOBSTER_DELETE && m->size != o.remaining) {
            mismatch(r, "delete of %" PRId64 " but the order has %" PRId64 " open", m->size,
                     o.remaining);
            return;
        }
        if (m->size > o.remaining) {
            mismatch(r, "partial cancel of %" PRId64 " but the order has %" PRId64 " open", m->size,
                     o.remaining);
            return;
        }
        reduce_order(r, &o, m->size);
        if (m->size == o.remaining) forget(r, m->id, ID_GONE);
        r->c.cancel_known++;
    } else if (unknown) {
        if (reduce_synthetic(r, side_of(m->dir), m->price, m->size)) r->c.cancel_synthetic++;
    }
}

static bool fills_equal(const fill_t *a, size_t na, const fill_t *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].key != b[i].key || a[i].qty != b[i].qty) return false;
    return true;
}

/* Same fills in any order (each key at most once per list). */
static bool fills_same_set(const fill_t *a, size_t na, const fill_t *b, size_t nb) {
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = a[i].key == b[j].key && a[i].qty == b[j].qty;
        if (!found) return false;
    }
    return true;
}

static size_t add_fill(fill_t *v, size_t n, lx_order_id_t key, uint64_t lob_id, int64_t qty) {
    if (n > 0 && v[n - 1].key == key) {
        v[n - 1].qty += qty;
        return n;
    }
    v[n].key = key;
    v[n].lob_id = lob_id;
    v[n].qty = qty;
    return n + 1;
}

static void print_fills(const char *label, const fill_t *v, size_t n) {
    printf("    %s:", label);
    for (size_t i = 0; i < n; i++) {
        if (v[i].key)
            printf(" %" PRIu64 "x%" PRId64, v[i].lob_id, v[i].qty);
        else
            printf(" unnamed x%" PRId64, v[i].qty);
    }
    printf("\n");
}

static void do_run(replay_t *r, size_t i, size_t j) {
    const lx_lobster_msg_t *m0 = &r->msg[i];
    const int s = side_of(m0->dir);
    const int64_t px = m0->price;
    const size_t n = j - i + 1;
    fill_t *want = calloc(n, sizeof *want), *pred = calloc(n + 1, sizeof *pred),
           *got = calloc(n + 1, sizeof *got);
    assert_true(want && pred && got);
    size_t nw = 0, np = 0, ng = 0;
    int64_t total = 0;
    bool bad = false, synthetic = false;
    r->c.runs++;

    /* What NASDAQ says was hit. */
    for (size_t k = i; k <= j; k++) {
        r->cur = k;
        const lx_lobster_msg_t *m = &r->msg[k];
        lx_order_info_t o;
        bool unknown;
        if (m->size <= 0) {
            mismatch(r, "execution of size 0");
            bad = true;
            continue;
        }
        total += m->size;
        if (lookup(r, m, &o, &unknown)) {
            nw = add_fill(want, nw, o.order_id, m->id, m->size);
        } else if (unknown) {
            nw = add_fill(want, nw, 0, 0, m->size);
            synthetic = true;
        } else {
            bad = true;
        }
    }
    r->cur = i;

    /* What price-time priority in our book would hit. */
    int64_t bp, bq;
    if (!bad && lx_engine_best(r->e, MARKET, (lx_side_t)s, &bp, &bq) && bp == px && bq >= total) {
        uint32_t cnt;
        lx_engine_depth_at(r->e, MARKET, (lx_side_t)s, px, &cnt);
        size_t nb = lx_engine_book_orders(r->e, MARKET, (lx_side_t)s, r->ob, cnt);
        assert_true(nb >= cnt);
        int64_t left = total;
        for (size_t k = 0; k < cnt && left > 0; k++) {
            int64_t f = r->ob[k].remaining < left ? r->ob[k].remaining : left;
            bool syn = r->ob[k].account == ACC_SYN;
            np = add_fill(pred, np, syn ? 0 : r->ob[k].order_id, syn ? 0 : r->ob[k].client_id, f);
            left -= f;
        }
    }

    if (!bad && fills_equal(want, nw, pred, np)) {
        /* Replay as one IOC and check the engine does what its book says. */
        lx_order_id_t taker = place(r, (lx_side_t)(1 - s), LX_TIF_IOC, px, total, ACC_TAKER, 0);
        int64_t taker_left = total;
        bool wrong_price = false;
        for (size_t e = 0; e < r->nev; e++) {
            const lx_event_t *ev = &r->ev[e];
            if (ev->type != LX_EV_TRADE) continue;
            const lx_ev_trade_t *t = &ev->u.trade;
            if (ng == n + 1) break; /* more fills than NASDAQ lists: already a mismatch */
            bool syn = t->maker_account == ACC_SYN;
            wrong_price |= t->price != px;
            taker_left = t->taker_remaining;
            uint64_t lob_id = 0;
            for (size_t k = 0; k < nw; k++)
                if (want[k].key == t->maker_order) lob_id = want[k].lob_id;
            ng = add_fill(got, ng, syn ? 0 : t->maker_order, lob_id, t->qty);
            if (!syn && t->maker_remaining == 0 && lob_id) forget(r, lob_id, ID_GONE);
        }
        if (!taker || wrong_price || taker_left != 0 || !fills_equal(want, nw, got, ng)) {
            mismatch(r,
                     "IOC %s %" PRId64 " @ %" PRId64 " traded differently from the book "
                     "it matched against%s%s",
                     side_name(1 - s), total, px, wrong_price ? " (wrong price)" : "",
                     taker_left ? " (not filled)" : "");
            if (r->c.mismatches <= MAX_PRINTED) {
                print_fills("NASDAQ and our book", want, nw);
                print_fills("engine trades", got, ng);
            }
        }
        r->c.runs_ioc++;
        r->c.exec_msgs_ioc += n;
        if (synthetic) r->c.runs_ioc_synthetic++;
        if (nw >= 2) r->c.runs_ioc_multi++;
    } else {
        /* NASDAQ's list differs from price-time priority in our book. */
        if (!bad) {
            dev_kind_t kind = fills_same_set(want, nw, pred, np) ? DEV_ORDER : DEV_OTHER;
            if (r->ndev < sizeof r->dev / sizeof r->dev[0]) {
                r->dev[r->ndev].line = m0->line;
                r->dev[r->ndev].kind = kind;
            }
            r->ndev++;
            printf("  NASDAQ differs from the engine's price-time order, %s line %u (%zu "
                   "executions, %s %" PRId64 "): %s\n",
                   r->name, m0->line, n, side_name(s), px,
                   kind == DEV_ORDER ? "same fills, other order" : "other orders");
            print_fills("NASDAQ", want, nw);
            print_fills("price-time", pred, np);
        }
        /* Apply NASDAQ's version order by order, to stay in step. */
        for (size_t k = 0; k < nw; k++) {
            if (want[k].key == 0) {
                reduce_synthetic(r, s, px, want[k].qty);
                continue;
            }
            lx_order_info_t o;
            if (lx_engine_order(r->e, want[k].key, &o) != 0 || o.remaining < want[k].qty) {
                mismatch(r, "order %" PRIu64 " cannot give %" PRId64, want[k].lob_id, want[k].qty);
                continue;
            }
            reduce_order(r, &o, want[k].qty);
            if (o.remaining == want[k].qty) forget(r, want[k].lob_id, ID_GONE);
        }
        r->c.runs_deviating++;
        r->c.exec_msgs_dev += n;
    }

    /* Rows inside the run: what the run had not yet taken is still there. */
    int64_t after = total;
    for (size_t k = i; k < j; k++) {
        r->cur = k;
        after -= r->msg[k].size;
        check_row(r, k, false, s, px, after);
    }
    r->cur = j;
    free(want);
    free(pred);
    free(got);
}

static void do_halt(replay_t *r, const lx_lobster_msg_t *m) {
    r->c.halts++;
    if (m->price != -1 && m->price != 1) return; /* 0: quoting period, no state change */
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_SET_MARKET_STATE;
    c.u.set_market_state.market = MARKET;
    c.u.set_market_state.halted = m->price == -1;
    apply(r, &c);
    if (!find_event(r, LX_EV_MARKET_STATE)) mismatch(r, "SET_MARKET_STATE not applied");
}

/* ---- setup --------------------------------------------------------------- */

static void create_market(replay_t *r, const char *sym) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_ASSET;
    c.u.create_asset.asset = ASSET_BASE;
    snprintf(c.u.create_asset.symbol, sizeof c.u.create_asset.symbol, "%s", sym);
    c.u.create_asset.scale = 1; /* shares */
    apply(r, &c);
    assert_non_null(find_event(r, LX_EV_ASSET_CREATED));
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_ASSET;
    c.u.create_asset.asset = ASSET_QUOTE;
    snprintf(c.u.create_asset.symbol, sizeof c.u.create_asset.symbol, "USD");
    c.u.create_asset.scale = 10000; /* 1/100 of a cent */
    apply(r, &c);
    assert_non_null(find_event(r, LX_EV_ASSET_CREATED));
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_MARKET;
    c.u.create_market.market = MARKET;
    c.u.create_market.base = ASSET_BASE;
    c.u.create_market.quote = ASSET_QUOTE;
    c.u.create_market.mode = LX_MODE_CONTINUOUS;
    c.u.create_market.tick_size = 1;
    c.u.create_market.lot_size = 1;
    c.u.create_market.min_price = 1;
    c.u.create_market.max_price = 1000000000;
    c.u.create_market.max_qty = 1000000000;
    apply(r, &c);
    assert_non_null(find_event(r, LX_EV_MARKET_CREATED));
    lx_market_info_t mi;
    assert_int_equal(lx_engine_market_info(r->e, MARKET, &mi), 0);
    assert_int_equal(mi.tick_value, 1);
}

/* The book before the first message: the first row with that message
 * undone, one synthetic order per level. The window of that book is the
 * window of the first row (see the essay). */
static void seed(replay_t *r) {
    const lx_lobster_msg_t *m = &r->msg[0];
    for (int s = 0; s < 2; s++) {
        uint32_t nf;
        const lx_lobster_level_t *f = lx_lobster_side(&r->book, 0, s, &nf);
        lx_lobster_level_t lv[LX_LOBSTER_MAX_DEPTH + 1];
        uint32_t n = 0;
        for (uint32_t k = 0; k < nf; k++) lv[n++] = f[k];
        if ((int)side_of(m->dir) == s && m->type >= 1 && m->type <= 4) {
            int64_t d = m->type == LX_LOBSTER_NEW ? -m->size : m->size;
            uint32_t k = 0;
            while (k < n && at_or_better(s, lv[k].price, m->price) && lv[k].price != m->price) k++;
            if (k < n && lv[k].price == m->price) {
                lv[k].qty += d;
            } else {
                memmove(&lv[k + 1], &lv[k], (n - k) * sizeof lv[0]);
                lv[k].price = m->price;
                lv[k].qty = d;
                n++;
            }
            assert_true(lv[k].qty >= 0);
            if (lv[k].qty == 0) {
                memmove(&lv[k], &lv[k + 1], (n - k - 1) * sizeof lv[0]);
                n--;
            }
        }
        for (uint32_t k = 0; k < n; k++) place_synthetic(r, s, lv[k].price, lv[k].qty);
        r->c.seeded_levels += n;
        r->wall[s] = nf < r->book.depth;
        r->wbound[s] = nf ? f[nf - 1].price : 0;
    }
}

/* ---- the replay driver --------------------------------------------------- */

static void replay(const char *name, const char *msg_file, const char *book_file) {
    char path[4096], err[256];
    replay_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->name = name;

    /* Missing data fails loudly: this test must not pass by skipping. */
    assert_int_equal(lx_lobster_path(path, sizeof path, msg_file), 0);
    int rc = lx_lobster_load_messages(path, &r->msg, &r->nmsg, err, sizeof err);
    if (rc)
        fail_msg("%s: %s (%s; set LX_SHARED_DATA to the shared data directory)", name, err,
                 lx_err_name(rc));
    assert_int_equal(lx_lobster_path(path, sizeof path, book_file), 0);
    rc = lx_lobster_load_book(path, &r->book, err, sizeof err);
    if (rc)
        fail_msg("%s: %s (%s; set LX_SHARED_DATA to the shared data directory)", name, err,
                 lx_err_name(rc));
    if (r->nmsg == 0 || r->nmsg != r->book.rows)
        fail_msg("%s: %zu messages but %zu book rows", name, r->nmsg, r->book.rows);
    for (size_t i = 1; i < r->nmsg; i++)
        if (r->msg[i].time_ns < r->msg[i - 1].time_ns)
            fail_msg("%s: line %u: time goes backwards", name, r->msg[i].line);

    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = 1;
    cfg.max_assets = 2;
    cfg.max_accounts = ACC_FIRST + ACC_COUNT;
    cfg.max_orders = MAX_ORDERS;
    cfg.max_open_orders_per_account = 0;
    cfg.clearing = false;
    assert_int_equal(lx_engine_create(&r->e, &cfg), 0);

    size_t cap = 1;
    while (cap < 2 * r->nmsg + 64) cap <<= 1;
    r->ids.v = calloc(cap, sizeof *r->ids.v);
    r->ids.mask = cap - 1;
    r->ob = malloc(MAX_ORDERS * sizeof *r->ob);
    r->lv = malloc(MAX_ORDERS * sizeof *r->lv);
    assert_true(r->ids.v && r->ob && r->lv);

    r->ts = EPOCH_NS + r->msg[0].time_ns;
    create_market(r, name);
    seed(r);

    for (size_t i = 0; i < r->nmsg; i++) {
        const lx_lobster_msg_t *m = &r->msg[i];
        r->cur = i;
        r->ts = EPOCH_NS + m->time_ns;
        size_t last = i;
        switch (m->type) {
        case LX_LOBSTER_NEW:
            do_new(r, m);
            break;
        case LX_LOBSTER_PARTIAL_CANCEL:
        case LX_LOBSTER_DELETE:
            do_cancel(r, m);
            break;
        case LX_LOBSTER_EXEC:
            while (last + 1 < r->nmsg && r->msg[last + 1].type == LX_LOBSTER_EXEC &&
                   r->msg[last + 1].price == m->price && r->msg[last + 1].dir == m->dir)
                last++;
            do_run(r, i, last);
            break;
        case LX_LOBSTER_EXEC_HIDDEN:
            r->c.hidden++;
            break;
        case LX_LOBSTER_CROSS:
            r->c.cross++;
            break;
        case LX_LOBSTER_HALT:
            do_halt(r, m);
            break;
        default:
            mismatch(r, "unknown message type");
            break;
        }
        for (size_t k = i; k <= last; k++) {
            r->c.msgs++;
            r->c.by_type[r->msg[k].type]++;
        }
        i = last;
        r->cur = i;
        check_row(r, i, true, 0, 0, 0);
    }

    char vmsg[256] = "";
    rc = lx_engine_validate(r->e, vmsg, sizeof vmsg);
    if (rc) mismatch(r, "lx_engine_validate: %s", vmsg);

    /* Deviations: exactly the listed ones. */
    for (size_t k = 0; k < sizeof KNOWN_DEVIATIONS / sizeof KNOWN_DEVIATIONS[0]; k++) {
        const known_dev_t *kd = &KNOWN_DEVIATIONS[k];
        if (strcmp(kd->file, name) != 0) continue;
        bool seen = false;
        for (size_t d = 0; d < r->ndev && d < 64; d++)
            seen |= r->dev[d].line == kd->line && r->dev[d].kind == kd->kind;
        if (!seen) {
            r->cur = 0;
            mismatch(r, "listed deviation at line %u (%s) did not happen", kd->line, kd->why);
        }
    }
    for (size_t d = 0; d < r->ndev && d < 64; d++) {
        bool listed = false;
        for (size_t k = 0; k < sizeof KNOWN_DEVIATIONS / sizeof KNOWN_DEVIATIONS[0]; k++)
            listed |= strcmp(KNOWN_DEVIATIONS[k].file, name) == 0 &&
                      KNOWN_DEVIATIONS[k].line == r->dev[d].line &&
                      KNOWN_DEVIATIONS[k].kind == r->dev[d].kind;
        if (!listed) {
            r->cur = 0;
            mismatch(r, "deviation from price-time priority at line %u is not a known one",
                     r->dev[d].line);
        }
    }
    if (r->ndev > 64) mismatch(r, "%zu deviations", r->ndev);

    const counts_t *c = &r->c;
    printf("lobster %s, level %u: %zu messages replayed (new %zu, partial cancel %zu, delete %zu, "
           "execution %zu, hidden execution %zu, cross %zu, halt %zu)\n",
           name, r->book.depth, c->msgs, c->by_type[1], c->by_type[2], c->by_type[3], c->by_type[4],
           c->by_type[5], c->by_type[6], c->by_type[7]);
    printf("  start: %zu levels of earlier orders seeded as synthetic orders\n", c->seeded_levels);
    printf("  new orders: %zu placed, none trading; %zu would have crossed\n", c->new_placed,
           c->new_crossing);
    printf("  cancels: %zu of orders we placed (deletes: size == our open quantity), %zu of "
           "unnamed earlier quantity (taken off the level's synthetic order)\n",
           c->cancel_known, c->cancel_synthetic);
    printf("  executions: %zu runs; %zu runs (%zu messages) replayed as one IOC each and "
           "matched NASDAQ order by order (%zu of them hit two or more resting orders, %zu "
           "started with unnamed earlier quantity); %zu runs (%zu messages) differ from "
           "the engine's price-time order (all listed in KNOWN_DEVIATIONS)\n",
           c->runs, c->runs_ioc, c->exec_msgs_ioc, c->runs_ioc_multi, c->runs_ioc_synthetic,
           c->runs_deviating, c->exec_msgs_dev);
    printf("  skipped: %zu hidden executions (no visible order), %zu cross trades, %zu halt "
           "messages applied\n",
           c->hidden, c->cross, c->halts);
    printf("  book rows: %zu compared; %zu levels determined by the previous row and equal; "
           "best bid determined in %zu rows, best ask in %zu, both in %zu\n",
           c->rows, c->levels_checked, c->best_checked[0], c->best_checked[1], c->rows_both_best);
    printf("  not determined, synchronised from the file: %zu levels revealed (%zu rebuilt, "
           "%zu known orders absorbed), %zu stale levels removed\n",
           c->levels_revealed, c->reveal_rebuilt, c->absorbed, c->stale_levels);
    printf("  engine: lx_engine_validate %s; mismatches: %zu\n", rc ? "FAILED" : "ok",
           c->mismatches);
    fflush(stdout);
    size_t mismatches = c->mismatches;

    lx_engine_destroy(r->e);
    free(r->msg);
    lx_lobster_book_free(&r->book);
    free(r->ids.v);
    free(r->ob);
    free(r->lv);
    free(r->ev);
    free(r);
    assert_int_equal(mismatches, 0);
}

/* ---- parser unit tests --------------------------------------------------- */

static void test_parse_time(void **state) {
    (void)state;
    int64_t ns;
    assert_int_equal(lx_lobster_parse_time("34200.004241176", 15, &ns), 0);
    assert_true(ns == INT64_C(34200004241176));
    assert_int_equal(lx_lobster_parse_time("34200.01746", 11, &ns), 0);
    assert_true(ns == INT64_C(34200017460000));
    assert_int_equal(lx_lobster_parse_time("57600", 5, &ns), 0);
    assert_true(ns == INT64_C(57600000000000));
    assert_int_equal(lx_lobster_parse_time("0.000000001", 11, &ns), 0);
    assert_true(ns == 1);
    const char *bad[] = {"",     ".5",   "1.",  "1.0000000001", "-1.5",
                         "+1.5", "1.5x", "1,5", "1.-5",         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lx_lobster_parse_time(bad[i], strlen(bad[i]), &ns), LX_ECORRUPT);
}

static void test_parse_messages(void **state) {
    (void)state;
    const char *txt = "Time,Type,OrderId,Size,Price,Direction\r\n"
                      "34200.01746,5,0,1,2238200,-1\r\n"
                      "34200.18961,1,11885113,21,2238100,1\n"
                      "34713.685155243,7,0,0,-1,-1\n\n";
    lx_lobster_msg_t *m;
    size_t n;
    char err[128];
    assert_int_equal(lx_lobster_parse_messages(txt, strlen(txt), &m, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(m[0].type, 5);
    assert_int_equal(m[0].line, 2);
    assert_true(m[1].time_ns == INT64_C(34200189610000));
    assert_int_equal(m[1].id, 11885113);
    assert_int_equal(m[1].size, 21);
    assert_int_equal(m[1].price, 2238100);
    assert_int_equal(m[1].dir, 1);
    assert_int_equal(m[2].type, 7);
    assert_int_equal(m[2].price, -1);
    assert_int_equal(m[2].dir, -1);
    free(m);

    const char *bad[] = {
        "34200.1,8,1,1,1,1\n",                      /* type */
        "34200.1,1,1,1,1,0\n",                      /* direction */
        "34200.1,1,1,-1,1,1\n",                     /* size */
        "34200.1,1,1,1,1\n",                        /* fields */
        "34200.1,1,1,1,1,1,1\n",                    /* fields */
        "34200.1,1,1,1, 1,1\n",                     /* space */
        "34200.1,1,1,1,1,1\n\n34200.2,1,2,1,1,1\n", /* empty line inside */
        "34200.1,1,1,1,99999999999999999999,1\n",   /* overflow */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(lx_lobster_parse_messages(bad[i], strlen(bad[i]), &m, &n, err, sizeof err),
                         LX_ECORRUPT);
        assert_true(strncmp(err, "line ", 5) == 0);
    }
}

static void test_parse_book(void **state) {
    (void)state;
    const char *txt = "5859400,200,5853300,18,5859800,200,5853000,150\n"
                      "9999999999,0,5853300,18,9999999999,0,-9999999999,0\n";
    lx_lobster_book_t b;
    char err[128];
    assert_int_equal(lx_lobster_parse_book(txt, strlen(txt), &b, err, sizeof err), 0);
    assert_int_equal(b.depth, 2);
    assert_int_equal(b.rows, 2);
    uint32_t n;
    const lx_lobster_level_t *l = lx_lobster_side(&b, 0, LX_SIDE_SELL, &n);
    assert_int_equal(n, 2);
    assert_int_equal(l[0].price, 5859400);
    assert_int_equal(l[1].qty, 200);
    l = lx_lobster_side(&b, 0, LX_SIDE_BUY, &n);
    assert_int_equal(n, 2);
    assert_int_equal(l[1].price, 5853000);
    assert_int_equal(l[1].qty, 150);
    l = lx_lobster_side(&b, 1, LX_SIDE_SELL, &n);
    assert_int_equal(n, 0);
    l = lx_lobster_side(&b, 1, LX_SIDE_BUY, &n);
    assert_int_equal(n, 1);
    assert_int_equal(l[0].qty, 18);
    lx_lobster_book_free(&b);

    const char *bad[] = {
        "1,1,1\n",                    /* not 4N */
        "5,1,4,1\n5,1,4,1,6,1,3,1\n", /* depth changes */
        "9999999999,0,4,1,6,1,3,1\n", /* level after an empty one */
        "5,1,4,1,4,1,3,1\n",          /* asks out of order */
        "5,0,4,1\n",                  /* empty size */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lx_lobster_parse_book(bad[i], strlen(bad[i]), &b, err, sizeof err),
                         LX_ECORRUPT);
}

/* ---- the replays --------------------------------------------------------- */

static void test_replay_aapl(void **state) {
    (void)state;
    replay("AAPL", "AAPL_2012-06-21_34200000_57600000_message_10.csv",
           "AAPL_2012-06-21_34200000_57600000_orderbook_10.csv");
}

static void test_replay_amzn(void **state) {
    (void)state;
    replay("AMZN", "AMZN_2012-06-21_34200000_57600000_message_1.csv",
           "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),  cmocka_unit_test(test_parse_messages),
        cmocka_unit_test(test_parse_book),  cmocka_unit_test(test_replay_aapl),
        cmocka_unit_test(test_replay_amzn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
