/*
 * run.h: the timed parts of a workload.
 *
 * A timed run builds a fresh engine, applies the workload's setup stream
 * (untimed), then applies the flow array: back to back for throughput, or
 * one message per slot of an intended-start schedule for latency. Both use
 * the lean sink below, which consumes every event the way the thinnest real
 * consumer would (count, and fold the fields a publisher reads into a
 * checksum), so the compiler cannot drop the work, and so that every timed
 * run can be checked against the verification pass: same event count, same
 * trades, same checksum, same engine digest.
 */
#ifndef LXB_RUN_H
#define LXB_RUN_H

#include <stddef.h>
#include <stdint.h>
#include "hist.h"
#include "lx/engine.h"
#include "workload.h"

typedef struct {
    uint64_t events, trades, rejects, qty, check;
} lxb_counter_t;

static inline void lxb_counter_fold(lxb_counter_t *k, const lx_event_t *ev) {
    uint64_t x = (uint64_t)ev->type ^ (ev->market_seq << 8);
    k->events++;
    switch (ev->type) {
    case LX_EV_TRADE:
        k->trades++;
        k->qty += (uint64_t)ev->u.trade.qty;
        x ^= (uint64_t)ev->u.trade.price * 31 + ev->u.trade.maker_order;
        break;
    case LX_EV_REJECTED:
        k->rejects++;
        x ^= ev->u.rejected.reason;
        break;
    case LX_EV_ORDER_ACCEPTED:
        x ^= ev->u.accepted.order_id;
        break;
    case LX_EV_BOOK_LEVEL:
        x ^= (uint64_t)ev->u.level.qty ^ ((uint64_t)ev->u.level.price << 20);
        break;
    default:
        break;
    }
    k->check = (k->check ^ x) * 0x100000001b3ull;
}

/* The timed runs' sink (not inline: the engine calls it through a pointer). */
void lxb_counter_emit(void *ctx, const lx_event_t *ev);

/* The throughput runs apply the flow in runs of n commands through
 * lx_engine_apply_batch (as a log replay would), or with n = 1 one
 * lx_engine_apply call per message. The latency runs apply each message at
 * its own instant, and with n > 1 what is due at once together (run.c). */
#define LXB_BATCH_DEFAULT 1024
void lxb_run_set_batch(size_t n);

/* With LXB_THP_ADVISE, each timed run's engine asks for transparent huge
 * pages on its arrays of 2 MiB or more, right after lx_engine_create and
 * again after the setup (lx_engine_hugepages); with
 * LXB_THP_PREFAULT the engine is first sized for max_orders
 * (lx_engine_reserve) and its arrays then mapped in full
 * (lx_engine_prefault): what lxdexd does at start unless
 * node.prefault_memory is false. */
enum { LXB_THP_OFF = 0, LXB_THP_ADVISE = 1, LXB_THP_PREFAULT = 2 };
void lxb_run_set_thp(int mode);
/* What the mode asks for, on engine e as it is now. */
void lxb_thp_apply(int mode, lx_engine_t *e);

/* The most messages a latency run hands to one lx_engine_apply_batch call
 * (those due at once, behind a stall; run.c). */
#define LXB_LAT_BATCH 16

/* Keys a new engine's client-id and key indexes with a secret from the OS,
 * as lxdexd does (lx_engine_seed_hashes); 0 or an lx error. */
int lxb_seed_hashes(lx_engine_t *e);

/* Resident set size of this process, bytes (from /proc/self/statm); 0 if
 * unknown. */
size_t lxb_rss_bytes(void);

/* Involuntary context switches of this process so far (getrusage). */
uint64_t lxb_preemptions(void);

typedef struct {
    uint64_t elapsed_ns;
    lxb_counter_t k;
    uint64_t digest;
    size_t rss_before, rss_after_setup; /* around engine creation + setup */
    uint64_t resting_after_setup;
    uint64_t preempted; /* involuntary context switches during the loop */
    int apply_errors;   /* OR of the return codes: 0 */
} lxb_tput_t;

/* One throughput run on a fresh engine. 0, or -1 (engine creation failed). */
int lxb_run_throughput(const lxb_workload_t *w, lxb_tput_t *out);

typedef struct {
    lxb_hist_t lat; /* completion - intended start, ticks */
    lxb_hist_t svc; /* completion - actual start, ticks */
    uint64_t elapsed_ns;
    uint64_t behind;    /* messages that started later than their slot */
    uint64_t preempted; /* involuntary context switches during the loop: the
                           scheduler, not the engine, made those stalls */
    lxb_counter_t k;
    uint64_t digest;
    int apply_errors;
} lxb_lat_t;

/* One latency run at `rate` messages per second on a fresh engine. out is
 * large (two histograms): allocate it. 0 or -1. */
int lxb_run_latency(const lxb_workload_t *w, uint64_t rate, lxb_lat_t *out);

#endif
