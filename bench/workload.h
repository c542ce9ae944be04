/*
 * workload.h: the bench's seeded workloads.
 *
 * A workload is a parameter set (lxb_params_t, one row of the table in
 * workload.c) turned into commands in two parts:
 *
 *   setup  assets, markets, deposits (clearing on) and the resting book the
 *          flow starts from. Never timed. It is a stream (lxb_setup_next),
 *          a pure function of (parameters, seed), regenerated identically
 *          for every engine a workload runs on, so 4,000,000 setup orders
 *          need no 350 MB array.
 *   flow   the timed messages: an array of lx_cmd_t generated up front by
 *          gen.c, which drives a verification engine while it generates so
 *          that its view of the open orders is the engine's own (see gen.c).
 *
 * Everything here is integer arithmetic on the bench's own PRNG: a
 * workload's commands depend on the seed, the sizes and the engine's
 * documented semantics, and on nothing else (flow_hash lets two machines
 * check that they ran the same stream).
 */
#ifndef LXB_WORKLOAD_H
#define LXB_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include "lx/engine.h"
#include "prng.h"

/* Up to this many markets the verification pass samples lx_engine_stats
 * (peak_orders, bytes_per_order) after every message; above, where a
 * sample walks every market, only on a rise of the open orders and every
 * 4,096 messages (gen.c; RESULT key peak_sampling). */
#define LXB_PEAK_EVERY_MSG_MARKETS 64

typedef enum {
    LXB_MID_WALK,   /* random walk: one tick up or down, walk_ppm per message */
    LXB_MID_STATIC, /* fixed */
    LXB_MID_SWING,  /* walk plus a trend: +swing_pct by mid-run, then back */
    LXB_MID_CRASH   /* walk plus crash episodes: -crash_pct fast, then recovery */
} lxb_mid_kind_t;

typedef struct {
    const char *name;
    const char *about;
    /* shape */
    uint32_t markets;
    uint32_t bases;          /* base assets: market m trades 1 + m % bases against asset 0 */
    uint32_t accounts;       /* a multiple of bases; an account trades one base asset */
    uint32_t setup_per_side; /* resting orders per market and side before the flow */
    uint32_t max_orders;     /* engine capacity */
    /* where resting orders go: (1 + d) * spacing ticks from the mid, d in [0, depth) */
    uint32_t depth;
    uint32_t spacing;
    uint8_t uniform_depth; /* 1: d uniform; 0: P(d) ~ (1 + d)^-1.5 */
    int64_t mid0;          /* ticks; with many markets each gets mid0 * [0.5, 1.5) */
    /* the flow, in parts per million of messages */
    uint32_t taker_ppm; /* IOC limit and market orders */
    uint32_t amend_ppm;
    uint32_t stale_ppm; /* stale cancels (closed orders) and duplicate cancels */
    /* the rest are adds and cancels, balanced to hold the setup's open count */
    uint32_t post_only_ppm; /* of resting adds (only where it cannot cross) */
    uint32_t gtd_ppm;       /* of resting adds: GTD, expiring 10 us to 10 ms later */
    uint32_t cross_ppm;     /* of resting adds: marketable limit, rests its remainder */
    uint32_t market_ppm;    /* of takers: market orders (protection price) */
    uint32_t miss_ppm;      /* of takers: IOC priced short of the touch (no fill) */
    int64_t maker_qty_min, maker_qty_max; /* lots, log-uniform */
    int64_t taker_qty_max;                /* lots, log-uniform from 1 */
    uint32_t sweep_mult;                  /* takers that sweep stale orders up to the mid: qty times
                                             this; 0: all the stale quantity (64 levels at most) */
    uint32_t cancel_choices;              /* a cancel takes the stalest of k open orders (gen.c) */
    uint8_t makers_cross;                 /* 1: quotes placed from the mid may cross stale orders */
    lxb_mid_kind_t mid;
    uint32_t walk_ppm;
    uint32_t swing_pct;
    uint32_t crash_pct;
    uint32_t crash_episodes; /* at most this many, each >= 40,000 messages */
    int64_t crash_qty;       /* lots, log-uniform: the sweeping market sells */
} lxb_params_t;

/* Workload names in table order; NULL-terminated. */
extern const lxb_params_t lxb_workloads[];
const lxb_params_t *lxb_workload_find(const char *name);

/* What the untimed verification pass saw (flow only unless stated). */
typedef struct {
    uint64_t events, trades, trade_qty;
    uint64_t rejects, rejects_by[LX_REJECT__COUNT];
    uint64_t deliberate; /* rejects the generator asked for (stale/duplicate cancels) */
    uint64_t unexpected; /* every other reject: a defect of the generator or engine */
    uint64_t canceled_by[LX_CANCEL__COUNT];
    uint64_t places, takers, cancels, amends, stale;
    uint64_t rested; /* orders that rested at some point (setup included) */
    uint64_t fate_canceled, fate_filled, fate_expired; /* of rested orders */
    uint64_t amended;                                  /* rested orders amended at least once */
    uint64_t resting_setup, resting_end, resting_max;
    /* lx_engine_stats: the most resting orders, and the most memory,
     * sampled after every message up to LXB_PEAK_EVERY_MSG_MARKETS markets,
     * more sparsely above (gen.c) */
    uint64_t peak_orders;
    uint64_t peak_bytes_orders, peak_bytes; /* the most memory (each its own max) */
    uint64_t digest;                        /* lx_engine_digest after the flow */
    uint64_t digest_ns;                     /* how long that digest took (it walks the state) */
    /* the lean sink's view, which every timed run must reproduce */
    uint64_t sink_events, sink_trades, sink_rejects, sink_check;
    /* FNV-1a over the canonical bytes (lx_event_encode) of every flow event:
     * the whole event stream, for comparing engine builds (untimed) */
    uint64_t events_hash;
    int64_t mid_lo, mid_hi; /* range of market 0's mid over the flow */
    /* how closely market 0's book follows its mid: |(best bid + best ask) / 2
     * - mid| sampled every 64 messages, in ticks */
    uint64_t track_sum, track_n, track_max;
} lxb_verify_t;

typedef struct {
    lxb_params_t p; /* the row, scaled by --quick */
    uint64_t seed;
    int clearing;
    lx_engine_config_t cfg;
    /* power-law distance table: cdf[d] = sum of weights 0..d */
    uint64_t *cdf;
    uint32_t ncdf;
    /* setup */
    uint64_t setup_cmds;
    uint64_t setup_orders;
    /* flow */
    lx_cmd_t *cmds;
    size_t n, cap;
    uint64_t flow_hash;
    lxb_verify_t v;
} lxb_workload_t;

/* Fills w for parameters p (copied; quick scales them down). Allocates the
 * flow array for msgs messages. 0 or -1 (out of memory). */
int lxb_workload_init(lxb_workload_t *w, const lxb_params_t *p, uint64_t seed, uint64_t msgs,
                      int clearing, int quick);
void lxb_workload_free(lxb_workload_t *w);

/* The mid every market starts at, and each account group's deposits. */
int64_t lxb_mid0(const lxb_workload_t *w, uint32_t market);
uint32_t lxb_pick_account(const lxb_workload_t *w, lxb_rng_t *r, uint32_t market);
uint32_t lxb_pick_distance(const lxb_workload_t *w, lxb_rng_t *r);

/* Market numbers shared by setup and flow. */
#define LXB_TICK_SIZE 10000      /* quote units (1e-6 USD) per whole base unit: $0.01 */
#define LXB_LOT_SIZE 10000       /* base units (1e-8) per lot: 0.0001 */
#define LXB_BASE_SCALE 100000000 /* tick value 10000 * 10000 / 1e8 = 1 quote unit */
#define LXB_QUOTE_SCALE 1000000
#define LXB_MAX_PRICE 1000000000
#define LXB_MAX_QTY 10000000
#define LXB_MAKER_FEE 100 /* 1 bp */
#define LXB_TAKER_FEE 400 /* 4 bp */
#define LXB_TS0 1700000000000000000ll
#define LXB_TS_STEP 1000 /* ns of sequencer time per command */

/* The setup stream. */
typedef struct {
    const lxb_workload_t *w;
    lxb_rng_t rng;
    uint64_t seq;
    int phase;
    uint32_t i, j;
    uint64_t cid;
} lxb_setup_t;

void lxb_setup_begin(lxb_setup_t *s, const lxb_workload_t *w);
/* Writes the next setup command into c: 1, or 0 when the setup is done. */
int lxb_setup_next(lxb_setup_t *s, lx_cmd_t *c);
/* The seq and ts the flow starts after, and the first client id it uses. */
uint64_t lxb_setup_last_seq(const lxb_workload_t *w);
uint64_t lxb_setup_next_cid(const lxb_workload_t *w);

/* gen.c: generates the flow and fills w->v; 0, or -1 with a message on
 * stderr (engine error, out of memory). */
int lxb_generate(lxb_workload_t *w);

#endif
