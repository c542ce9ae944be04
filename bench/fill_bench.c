/*
 * fill_bench.c: the `fill` workloads of lxdex-bench (fill_bench.h).
 *
 * The engine workloads (workload.c) start from a book built untimed and
 * then churn around a steady number of orders, so what the engine does
 * only when it holds more than ever before is never in their timed part:
 * growing the client-id index, the level pool and the side arrays, and
 * touching the order arena's pages for the first time. An exchange meets
 * all of it every day as its book fills, and a place that stops for a
 * rebuild stalls every order behind it: before the index grew a bucket at
 * a time (idx.c), the place that crossed its bound at 3.5 million resting
 * orders took 175 to 182 ms (BENCHMARKS.md, 2e1d587..5dea5c1).
 *
 * So: one engine, empty but for 1,000 markets (and, with clearing, two
 * assets and 1,000 funded accounts), then n places (4,000,000 by default)
 * that never trade: each market's bids rest 1 to 500 ticks under its mid
 * and its asks as far over it, uniformly (about 1,000 levels a market,
 * 1,000,000 in all), from accounts taken in turn, each with a client id,
 * good till cancelled. The fill runs twice, each time on a fresh engine
 * from the same seed (both must end with the same digest and events), and
 * in both the commands of the timed part are generated (PRNG draws, the
 * churn's pick of a resting order, seq and ts) a chunk of 8,192 at a time
 * before the clock starts on the chunk. The first pass gives msgs_per_s:
 * n over the time of the chunks' loops of lx_engine_apply calls alone (a
 * clock read per chunk, none per call; the event sink's counting is in, as
 * in the engine workloads). The second times every lx_engine_apply alone
 * with the bench's clock (the TSC where there is one): p50/p99/p999/max
 * are service times, and max_at names the place that took the longest, so
 * a stall can be matched to what grew there. Nothing is rejected
 * (checked); bytes_per_order is the engine's own account of its order
 * memory at the end (lx_engine_stats, as for the other workloads).
 *
 * fill_wide is the same in one market whose orders land 1 to 500,000 ticks
 * from the mid: about 90,000 levels a side, nearly every new level far
 * from the touch, in the middle of its side (book.c: what a trader
 * scattering orders over a wide price band costs; it moved a quarter of a
 * side's entries before the blocks).
 *
 * fill_churn fills that book untimed, then times n / 2 rounds of a cancel
 * (by client id) of a resting order picked at random and a new place over
 * the same band: levels empty and open all over a deep side, so
 * tombstones, their compaction and the blocks' splits and merges are in
 * the timed part.
 *
 * --thp advises the arenas to huge pages right after creation; --prefault
 * also sizes the engine for max_orders and maps its arrays then, as lxdexd
 * does (on our VMs the first touch of a huge page took 6 to 10 ms: 51 to
 * 91 places over 1 ms with --thp, none with --prefault).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "fill_bench.h"
#include "hist.h"
#include "lx/error.h"
#include "prng.h"
#include "run.h"

#define FILL_ACCOUNTS 1000u

/* The two books a fill builds. */
typedef struct {
    const char *name;
    uint32_t markets;
    uint32_t depth; /* ticks from the mid, each side */
    int64_t mid;
    uint64_t n; /* places, by default */
    bool churn; /* fill untimed, then time n commands of cancel and place */
} fill_shape_t;

static const fill_shape_t shapes[] = {
    {"fill", 1000, 500, 100000, 4000000, false},
    {"fill_wide", 1, 500000, 1000000, 200000, false},
    {"fill_churn", 1, 500000, 1000000, 200000, true},
};

typedef struct {
    lx_engine_t *e;
    lx_sink_t sink;
    lxb_counter_t k;
    uint64_t seq;
    int64_t ts;
} fill_t;

static int apply(fill_t *f, lx_cmd_t *c) {
    c->seq = ++f->seq;
    f->ts += 1000;
    c->ts = f->ts;
    return lx_engine_apply(f->e, c, &f->sink);
}

/* Assets, markets and (with clearing) deposits, untimed. */
static int setup(fill_t *f, const fill_shape_t *sh, bool clearing) {
    lx_cmd_t c;
    int rc = 0;
    for (uint32_t a = 0; a < 2 && !rc; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_ASSET;
        c.u.create_asset.asset = a;
        memcpy(c.u.create_asset.symbol, a ? "QUOTE" : "BASE", a ? 5 : 4);
        c.u.create_asset.scale = 1;
        rc = apply(f, &c);
    }
    for (uint32_t m = 0; m < sh->markets && !rc; m++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_MARKET;
        c.u.create_market = (lx_cmd_create_market_t){.market = m,
                                                     .base = 0,
                                                     .quote = 1,
                                                     .tick_size = 1,
                                                     .lot_size = 1,
                                                     .min_price = 1,
                                                     .max_price = 2 * sh->mid,
                                                     .max_qty = 1000000,
                                                     .maker_fee = 0,
                                                     .taker_fee = 10};
        rc = apply(f, &c);
    }
    for (uint32_t k = 0; clearing && k < 2 * FILL_ACCOUNTS && !rc; k++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_DEPOSIT;
        c.u.deposit.account = k / 2;
        c.u.deposit.asset = k % 2;
        c.u.deposit.amount = 1000000000000000ll;
        c.u.deposit.deposit_id = k + 1;
        rc = apply(f, &c);
    }
    return rc;
}

/* A client id's account: ids are given in turn to the accounts. */
static uint32_t cid_account(uint64_t cid) {
    return (uint32_t)((cid - 1) % FILL_ACCOUNTS);
}

/* A place that never trades: bids 1 to depth ticks under the mid, asks
 * as far over it, in a market picked at random. */
static void place_cmd(lx_cmd_t *c, const fill_shape_t *sh, lxb_rng_t *r, uint64_t cid) {
    memset(c, 0, sizeof *c);
    int side = (int)(lxb_next(r) & 1);
    int64_t d = 1 + (int64_t)lxb_below(r, sh->depth);
    c->type = LX_CMD_PLACE;
    c->u.place = (lx_cmd_place_t){.account = cid_account(cid),
                                  .market = lxb_below(r, sh->markets),
                                  .side = (uint8_t)side,
                                  .type = LX_ORDER_LIMIT,
                                  .tif = LX_TIF_GTC,
                                  .price = side == LX_SIDE_BUY ? sh->mid - d : sh->mid + d,
                                  .qty = 1 + (int64_t)lxb_below(r, 10),
                                  .client_id = cid};
}

/* The commands of the timed part, generated a chunk at a time before the
 * clock starts on it (PRNG draws, the churn's pick of a resting order, seq
 * and ts), so that the timed loop is the engine's calls alone. */
enum { FILL_CHUNK = 8192 };

typedef struct {
    const fill_shape_t *sh;
    lxb_rng_t r;
    uint64_t next_cid, n, i; /* i: commands generated */
    uint64_t *live;          /* churn: the client id of each resting order */
} fill_gen_t;

static uint32_t gen_chunk(fill_gen_t *g, fill_t *f, lx_cmd_t *out) {
    uint32_t k = 0;
    for (; k < FILL_CHUNK && g->i < g->n; k++, g->i++) {
        lx_cmd_t *c = &out[k];
        if (!g->sh->churn || g->i % 2) {
            place_cmd(c, g->sh, &g->r, g->next_cid++);
        } else { /* cancel a resting order picked at random */
            uint64_t *slot = &g->live[lxb_below(&g->r, g->n)];
            memset(c, 0, sizeof *c);
            c->type = LX_CMD_CANCEL;
            c->u.cancel = (lx_cmd_cancel_t){
                .account = cid_account(*slot), .market = 0, .by_client_id = 1, .client_id = *slot};
            *slot = g->next_cid; /* the place that follows takes its place */
        }
        c->seq = ++f->seq;
        f->ts += 1000;
        c->ts = f->ts;
    }
    return k;
}

typedef struct {
    uint64_t elapsed_ns; /* the engine's calls (pass 1) */
    uint64_t over_100us, over_1ms, max_at, digest;
    lx_engine_stats_t st;
    lxb_counter_t k;
} fill_out_t;

/* One fill on a fresh engine. h NULL: the throughput pass, each chunk's loop
 * of engine calls timed as a whole (no clock read per call); else the
 * service-time pass, each call timed alone into h. 0, or 1 with a message. */
static int fill_run(const fill_shape_t *sh, uint64_t n, uint64_t seed, bool clearing, int thp,
                    lxb_hist_t *h, fill_out_t *o) {
    memset(o, 0, sizeof *o);
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = sh->markets;
    cfg.max_assets = 4;
    cfg.max_accounts = FILL_ACCOUNTS;
    cfg.max_orders = (uint32_t)(n + n / 4 + 1024);
    cfg.clearing = clearing;
    fill_t f = {.ts = 1700000000000000000ll};
    f.sink = (lx_sink_t){lxb_counter_emit, &f.k};
    fill_gen_t g = {.sh = sh, .next_cid = 1, .n = n};
    lx_cmd_t *cmds = malloc(FILL_CHUNK * sizeof *cmds);
    int rc = cmds ? lx_engine_create(&f.e, &cfg) : LX_ENOMEM;
    if (!rc) rc = lxb_seed_hashes(f.e);
    if (!rc && thp == LXB_THP_PREFAULT) rc = lx_engine_reserve(f.e, cfg.max_orders);
    if (!rc) lxb_thp_apply(thp, f.e);
    if (!rc) rc = setup(&f, sh, clearing);
    if (rc || f.k.rejects) {
        fprintf(stderr, "lxdex-bench: fill: setup failed: %s\n", rc ? lx_strerror(rc) : "rejects");
        lx_engine_destroy(f.e);
        free(cmds);
        return 1;
    }
    lxb_rng_seed(&g.r, seed, 0x66696c6c); /* "fill" */
    uint64_t t100us = lxb_clock.ticks_per_s / 10000, t1ms = lxb_clock.ticks_per_s / 1000;
    uint64_t max_t = 0;
    lx_cmd_t c;
    if (sh->churn) {
        g.live = malloc(n * sizeof *g.live);
        if (!g.live) rc = LX_ENOMEM;
        for (uint64_t i = 0; i < n && !rc; i++) {
            place_cmd(&c, sh, &g.r, g.next_cid);
            g.live[i] = g.next_cid++;
            rc = apply(&f, &c);
        }
    }
    for (uint64_t base = 0; base < n && !rc;) {
        uint32_t k = gen_chunk(&g, &f, cmds);
        if (!h) {
            uint64_t t0 = lxb_now_ns();
            for (uint32_t j = 0; j < k; j++) rc |= lx_engine_apply(f.e, &cmds[j], &f.sink);
            o->elapsed_ns += lxb_now_ns() - t0;
        } else {
            for (uint32_t j = 0; j < k && !rc; j++) {
                uint64_t a = lxb_ticks();
                rc = lx_engine_apply(f.e, &cmds[j], &f.sink);
                uint64_t t = lxb_ticks() - a;
                lxb_hist_record(h, t);
                o->over_100us += t > t100us;
                o->over_1ms += t > t1ms;
                if (t > max_t) {
                    max_t = t;
                    o->max_at = base + j;
                }
            }
        }
        base += k;
    }
    free(g.live);
    free(cmds);
    lx_engine_stats(f.e, &o->st);
    o->k = f.k;
    o->digest = lx_engine_digest(f.e);
    lx_engine_destroy(f.e);
    if (rc || f.k.rejects || o->st.orders != n || f.k.trades) {
        fprintf(stderr,
                "lxdex-bench: fill: %s, %" PRIu64 " rejects, %" PRIu64
                " trades, %u resting of %" PRIu64 "\n",
                rc ? lx_strerror(rc) : "ok", f.k.rejects, f.k.trades, o->st.orders, n);
        return 1;
    }
    return 0;
}

int lx_bench_fill(const char *name, uint64_t n, uint64_t seed, bool clearing, int thp) {
    const fill_shape_t *sh = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (strcmp(name, shapes[i].name) == 0) sh = &shapes[i];
    if (!sh) {
        fprintf(stderr, "lxdex-bench: unknown workload '%s'\n", name);
        return 2;
    }
    if (n == 0) n = sh->n;
    if (sh->churn) n += n & 1; /* whole rounds: as many resting at the end */
    if (n > LX_LIMIT_ORDERS / 2) {
        fprintf(stderr, "lxdex-bench: fill: at most %u orders\n", LX_LIMIT_ORDERS / 2);
        return 1;
    }
    lxb_hist_t *h = malloc(sizeof *h);
    if (!h) return 1;
    lxb_hist_init(h);
    fill_out_t tp, sv;
    if (fill_run(sh, n, seed, clearing, thp, NULL, &tp) ||
        fill_run(sh, n, seed, clearing, thp, h, &sv)) {
        free(h);
        return 1;
    }
    if (tp.digest != sv.digest || tp.k.events != sv.k.events) {
        fprintf(stderr,
                "lxdex-bench: fill: the two passes differ (digest %016" PRIx64 " / %016" PRIx64
                ")\n",
                tp.digest, sv.digest);
        free(h);
        return 1;
    }
    printf("RESULT workload=%s msgs=%" PRIu64 " msgs_per_s=%" PRIu64 " p50_ns=%" PRIu64
           " p99_ns=%" PRIu64 " p999_ns=%" PRIu64 " max_ns=%" PRIu64 " bytes_per_order=%" PRIu64
           " timing=service max_at=%" PRIu64 " over_100us=%" PRIu64 " over_1ms=%" PRIu64
           " markets=%u accounts=%u resting_end=%u levels=%u clearing=%d thp=%d clock=%s"
           " seed=%" PRIu64 " digest=%016" PRIx64 "\n",
           sh->name, n, tp.elapsed_ns ? (uint64_t)(n * 1000000000ull / tp.elapsed_ns) : 0,
           lxb_ticks_to_ns(lxb_hist_quantile(h, 500000)),
           lxb_ticks_to_ns(lxb_hist_quantile(h, 990000)),
           lxb_ticks_to_ns(lxb_hist_quantile(h, 999000)), lxb_ticks_to_ns(h->max),
           (uint64_t)(sv.st.bytes_orders / sv.st.orders), sv.max_at, sv.over_100us, sv.over_1ms,
           sh->markets, FILL_ACCOUNTS, sv.st.orders, sv.st.levels, clearing, thp, lxb_clock.name,
           seed, sv.digest);
    fflush(stdout);
    free(h);
    return 0;
}
