/*
 * invariants.h: checks on a real engine, alone and against the reference
 * model, plus the event recorder and printers the differential tests share.
 *
 * Every check returns 0, or -1 with a one-paragraph description in msg.
 * See invariants.c for what each one walks and what it costs.
 */
#ifndef LX_TESTS_INVARIANTS_H
#define LX_TESTS_INVARIANTS_H

#include <stddef.h>
#include <stdio.h>
#include <stdbool.h>

#include "lx/engine.h"
#include "refmodel.h"

/* ---- recording and comparing events ----------------------------------- */

typedef struct {
    lx_event_t *v;
    size_t n, cap;
} inv_events_t;

/* A sink that appends to ev (which starts zeroed; inv_events_free frees). */
lx_sink_t inv_events_sink(inv_events_t *ev);
void inv_events_clear(inv_events_t *ev);
void inv_events_free(inv_events_t *ev);

/* Field-by-field equality of two events (the union member of their type;
 * never padding). */
bool inv_event_equal(const lx_event_t *a, const lx_event_t *b);
/* One line, `TYPE key=value ...`; returns the length like snprintf. */
int inv_event_format(const lx_event_t *ev, char *buf, size_t cap);
int inv_cmd_format(const lx_cmd_t *cmd, char *buf, size_t cap);
/* Index of the first difference of two event lists, or -1 if they are equal. */
long inv_events_first_diff(const inv_events_t *got, const inv_events_t *want);
/* Prints both lists side by side, marking the first difference. */
void inv_events_print_diff(FILE *f, const inv_events_t *got, const char *got_name,
                           const inv_events_t *want, const char *want_name);

/* ---- invariants of the engine alone ----------------------------------- */

/* Cheap, after every command: for every market, the best bid is below the
 * best ask. O(markets). */
int inv_check_uncrossed(const lx_engine_t *e, char *msg, size_t len);

/* Everything, costs a walk over the whole state: lx_engine_validate(); each
 * book side in price order with no filled order resting (remaining > 0,
 * qty = filled + remaining); levels equal the sums of their orders (levels,
 * best, depth_at, market info counts); lx_engine_order agrees with the
 * books; and with clearing on: no negative balance, locked = the sum of the
 * locks of the account's open orders, and per asset
 * sum(free + locked) + fees = supply. */
int inv_check_engine(const lx_engine_t *e, char *msg, size_t len);

/* ---- the engine against the reference model ---------------------------- */

/* Cheap, after every command: for every market, existence, halted,
 * market_seq and best bid/ask (price and quantity) agree; the balances the
 * command names (its accounts in its market's or asset's assets) agree. */
int inv_compare_cheap(const lx_engine_t *e, const ref_t *ref, const lx_cmd_t *cmd, char *msg,
                      size_t len);

/* Everything: last seq/ts, every market's info, every book side order by
 * order in priority order (id, account, price, quantities, client id,
 * expiry, lock: this is also the FIFO check, the engine exposing no arrival
 * time), every account's open orders, every asset, every balance (both
 * ways). Costs a walk over both states. */
int inv_compare_state(const lx_engine_t *e, const ref_t *ref, char *msg, size_t len);
/* Every key the engine knows against the reference, in order, all fields. */
int inv_compare_keys(const lx_engine_t *e, const ref_t *ref, char *msg, size_t len);

#endif
