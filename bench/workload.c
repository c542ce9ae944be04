/*
 * workload.c: the five workloads' parameters and the setup stream.
 *
 * The table below is the definition of each workload (--help prints a
 * summary; gen.c says how a row becomes messages). Common to all: prices in
 * ticks of $0.01 on a base asset of scale 1e8 with lots of 0.0001, so one lot
 * at one tick is one quote unit (tick value 1); fees 1 bp maker, 4 bp taker;
 * STP NONE; every order carries a client id (a counter, so unique for ever),
 * and cancels and amends name orders by client id. Adds and cancels are
 * balanced by a proportional pull toward the setup's open-order count.
 * The percentages below are of flow messages; the outcomes quoted (fates,
 * tracking) are what the SANITY line showed at 2-5M messages, seed 1.
 *
 *   realistic  one market, 1,000 accounts, 5,000 resting orders. The mid is a
 *              random walk (a tick up or down on 10% of messages). Resting
 *              orders land (1 + d) ticks behind the mid with P(d) ~
 *              (1 + d)^-1.5, d < 2,000 (the placement law measured on equity
 *              books, Bouchaud et al. 2002), never through the opposite
 *              touch; 10% post-only, 2% GTD (10 us - 10 ms), 3% marketable.
 *              15% takers (IOC; a tenth market orders, a fifth priced short of
 *              the touch; 1-5 lots against makers of 5-200, so a taker
 *              mostly eats part of the head order); 9.5% amends (half size
 *              cuts that keep priority, half price moves of 1-3 ticks): about
 *              20% of resting orders get one; 1% stale cancels (a closed
 *              order's client id) and duplicate cancels, the only rejects.
 *              Outcome: ~94% of resting orders end canceled or expired, ~6%
 *              filled; ~15 trades per 100 messages.
 *   deep       one market, a static mid, 20,000 resting orders spread evenly
 *              over 60 levels (30 a side, ~333 orders a level); then adds and
 *              cancels anywhere in those levels (cancels hit the middle of
 *              long queues), 12% small takers (at most 8 lots), 6% amends,
 *              0.5% stale cancels. ~96% of resting orders end canceled.
 *   swing      realistic's book and flow, but the mid trends up 35% by
 *              mid-run and back to its start (a 26% fall), on top of the
 *              walk. Makers requote: cancels and amends take the stalest of 4
 *              open orders (a quote the mid has passed, else the farthest
 *              from it) and such amends move the quote back behind the mid;
 *              takers that find stale quotes sweep up to the mid with 8x
 *              their size. The book's mid stays within ~0.1% of the mid (the
 *              SANITY line's track_mean) while it moves 350,000 ticks.
 *   crash      a thin book (600 resting orders, (1 + d) * 10 ticks from the
 *              mid, up to 10,000 ticks away) and a flash crash per 200,000
 *              messages (at most 25): the mid falls 30% over 1% of the
 *              episode while 40% of messages are market sells of up to 5,000
 *              lots that sweep the bids far down; it stays low for 5% of the
 *              episode, then recovers linearly over 30%. Makers quote from the
 *              mid even through stale orders (they trade, then rest), so the
 *              book rebuilds at the new price. ~40% of resting orders fill.
 *   many       100,000 markets, 4,000,000 resting orders (20 a side, power law
 *              within 200 ticks), 100,000 accounts (1,000 per base asset, 100
 *              base assets: with --clearing each account holds two assets),
 *              then realistic's flow spread uniformly over the markets:
 *              nearly every message touches a market that is not in cache.
 *
 * --quick shrinks many to 2,000 markets and 2,000 accounts; the message count
 * is separate (--msgs). The setup stream below: assets, markets, deposits
 * (clearing on; amounts sized so that each asset's supply stays under 2^62
 * and no order is ever short of funds), then the resting orders, which are
 * priced from each market's starting mid and so can never cross.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "workload.h"

const lxb_params_t lxb_workloads[] = {
    {
        .name = "realistic",
        .about = "random-walk mid, power-law depth, 15% IOC, 20% amended, most canceled",
        .markets = 1,
        .bases = 1,
        .accounts = 1000,
        .setup_per_side = 2500,
        .max_orders = 1u << 20,
        .depth = 2000,
        .spacing = 1,
        .uniform_depth = 0,
        .mid0 = 1000000,
        .taker_ppm = 150000,
        .amend_ppm = 95000,
        .stale_ppm = 10000,
        .post_only_ppm = 100000,
        .gtd_ppm = 20000,
        .cross_ppm = 30000,
        .market_ppm = 100000,
        .miss_ppm = 200000,
        .maker_qty_min = 5,
        .maker_qty_max = 200,
        .taker_qty_max = 5,
        .sweep_mult = 2,
        .cancel_choices = 1,
        .mid = LXB_MID_WALK,
        .walk_ppm = 100000,
    },
    {
        .name = "deep",
        .about = "static mid, 20,000 orders over 60 levels, adds/cancels/small takers",
        .markets = 1,
        .bases = 1,
        .accounts = 1000,
        .setup_per_side = 10000,
        .max_orders = 1u << 20,
        .depth = 30,
        .spacing = 1,
        .uniform_depth = 1,
        .mid0 = 1000000,
        .taker_ppm = 120000,
        .amend_ppm = 60000,
        .stale_ppm = 5000,
        .post_only_ppm = 200000,
        .gtd_ppm = 0,
        .cross_ppm = 0,
        .market_ppm = 50000,
        .miss_ppm = 100000,
        .maker_qty_min = 5,
        .maker_qty_max = 60,
        .taker_qty_max = 8,
        .sweep_mult = 1,
        .cancel_choices = 1,
        .mid = LXB_MID_STATIC,
        .walk_ppm = 0,
    },
    {
        .name = "swing",
        .about = "mid trends +35% then back (-26%), book follows",
        .markets = 1,
        .bases = 1,
        .accounts = 1000,
        .setup_per_side = 2500,
        .max_orders = 1u << 20,
        .depth = 2000,
        .spacing = 1,
        .uniform_depth = 0,
        .mid0 = 1000000,
        .taker_ppm = 150000,
        .amend_ppm = 80000,
        .stale_ppm = 10000,
        .post_only_ppm = 100000,
        .gtd_ppm = 20000,
        .cross_ppm = 30000,
        .market_ppm = 100000,
        .miss_ppm = 200000,
        .maker_qty_min = 5,
        .maker_qty_max = 200,
        .taker_qty_max = 20,
        .sweep_mult = 8,
        .cancel_choices = 4,
        .makers_cross = 0,
        .mid = LXB_MID_SWING,
        .walk_ppm = 100000,
        .swing_pct = 35,
    },
    {
        .name = "crash",
        .about = "thin book, flash crashes (-30%) swept by large market sells, recovery",
        .markets = 1,
        .bases = 1,
        .accounts = 1000,
        .setup_per_side = 300,
        .max_orders = 1u << 20,
        .depth = 1000,
        .spacing = 10,
        .uniform_depth = 0,
        .mid0 = 1000000,
        .taker_ppm = 150000,
        .amend_ppm = 60000,
        .stale_ppm = 10000,
        .post_only_ppm = 100000,
        .gtd_ppm = 0,
        .cross_ppm = 30000,
        .market_ppm = 100000,
        .miss_ppm = 150000,
        .maker_qty_min = 5,
        .maker_qty_max = 100,
        .taker_qty_max = 20,
        .sweep_mult = 8,
        .cancel_choices = 2,
        .makers_cross = 1,
        .mid = LXB_MID_CRASH,
        .walk_ppm = 100000,
        .crash_pct = 30,
        .crash_episodes = 25,
        .crash_qty = 5000,
    },
    {
        .name = "many",
        .about = "100,000 markets, 4,000,000 resting orders, uniform random flow",
        .markets = 100000,
        .bases = 100,
        .accounts = 100000,
        .setup_per_side = 20,
        .max_orders = 1u << 23,
        .depth = 200,
        .spacing = 1,
        .uniform_depth = 0,
        .mid0 = 1000000,
        .taker_ppm = 150000,
        .amend_ppm = 95000,
        .stale_ppm = 10000,
        .post_only_ppm = 100000,
        .gtd_ppm = 20000,
        .cross_ppm = 30000,
        .market_ppm = 100000,
        .miss_ppm = 200000,
        .maker_qty_min = 5,
        .maker_qty_max = 200,
        .taker_qty_max = 5,
        .sweep_mult = 2,
        .cancel_choices = 1,
        .mid = LXB_MID_WALK,
        .walk_ppm = 100000,
    },
    {.name = NULL},
};

const lxb_params_t *lxb_workload_find(const char *name) {
    for (const lxb_params_t *p = lxb_workloads; p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

static uint64_t isqrt64(uint64_t x) {
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > x) bit >>= 2;
    while (bit) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

int lxb_workload_init(lxb_workload_t *w, const lxb_params_t *p, uint64_t seed, uint64_t msgs,
                      int clearing, int quick) {
    memset(w, 0, sizeof *w);
    w->p = *p;
    if (quick && w->p.markets > 2000) {
        w->p.markets = 2000;
        w->p.accounts = 2000;
        w->p.max_orders = 1u << 20;
    }
    if (w->p.accounts < w->p.bases) w->p.accounts = w->p.bases;
    w->p.accounts -= w->p.accounts % w->p.bases;
    w->seed = seed;
    w->clearing = clearing;

    lx_engine_config_default(&w->cfg);
    w->cfg.max_markets = w->p.markets < 1024 ? 1024 : w->p.markets;
    w->cfg.max_assets = w->p.bases + 1 < 64 ? 64 : w->p.bases + 1;
    w->cfg.max_accounts = w->p.accounts;
    w->cfg.max_orders = w->p.max_orders;
    w->cfg.max_open_orders_per_account = 0;
    w->cfg.clearing = clearing != 0;

    if (!w->p.uniform_depth) {
        w->ncdf = w->p.depth;
        w->cdf = malloc((size_t)w->ncdf * sizeof *w->cdf);
        if (!w->cdf) return -1;
        uint64_t run = 0;
        for (uint32_t d = 0; d < w->ncdf; d++) {
            uint64_t k = (uint64_t)d + 1;
            /* 2^50 / (1 + d)^1.5, with the root taken on a 2^20-scaled cube */
            run += ((uint64_t)1 << 50) / isqrt64((k * k * k) << 20);
            w->cdf[d] = run;
        }
    }
    w->setup_orders = (uint64_t)w->p.markets * 2 * w->p.setup_per_side;
    w->setup_cmds = (uint64_t)(w->p.bases + 1) + w->p.markets +
                    (clearing ? 2ull * w->p.accounts : 0) + w->setup_orders;
    w->cap = (size_t)msgs + 4;
    w->cmds = malloc(w->cap * sizeof *w->cmds);
    if (!w->cmds) return -1;
    return 0;
}

void lxb_workload_free(lxb_workload_t *w) {
    free(w->cdf);
    free(w->cmds);
    w->cdf = NULL;
    w->cmds = NULL;
}

int64_t lxb_mid0(const lxb_workload_t *w, uint32_t market) {
    if (w->p.markets == 1) return w->p.mid0;
    return w->p.mid0 / 2 + (int64_t)(lxb_mix(w->seed, market) % (uint64_t)w->p.mid0);
}

uint32_t lxb_pick_account(const lxb_workload_t *w, lxb_rng_t *r, uint32_t market) {
    uint32_t group = market % w->p.bases;
    return group + lxb_below(r, w->p.accounts / w->p.bases) * w->p.bases;
}

uint32_t lxb_pick_distance(const lxb_workload_t *w, lxb_rng_t *r) {
    if (w->p.uniform_depth) return lxb_below(r, w->p.depth);
    uint64_t u = lxb_below64(r, w->cdf[w->ncdf - 1]);
    uint32_t lo = 0, hi = w->ncdf - 1; /* first d with cdf[d] > u */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- setup stream -------------------------------------------------------- */

enum { PH_ASSETS, PH_MARKETS, PH_DEPOSITS, PH_ORDERS, PH_DONE };

void lxb_setup_begin(lxb_setup_t *s, const lxb_workload_t *w) {
    memset(s, 0, sizeof *s);
    s->w = w;
    lxb_rng_seed(&s->rng, w->seed, 0x5e7u);
    s->phase = PH_ASSETS;
    s->cid = 1;
}

uint64_t lxb_setup_last_seq(const lxb_workload_t *w) {
    return w->setup_cmds;
}
uint64_t lxb_setup_next_cid(const lxb_workload_t *w) {
    return w->setup_orders + 1;
}

static int64_t deposit_amount(uint64_t holders) {
    /* every balance is part of its asset's supply, which must stay < 2^63 */
    int64_t a = (int64_t)(4000000000000000000ull / (holders ? holders : 1));
    return a > 1000000000000000ll ? 1000000000000000ll : a;
}

int lxb_setup_next(lxb_setup_t *s, lx_cmd_t *c) {
    const lxb_workload_t *w = s->w;
    const lxb_params_t *p = &w->p;
    memset(c, 0, sizeof *c);
    for (;;) {
        switch (s->phase) {
        case PH_ASSETS:
            if (s->i > p->bases) {
                s->phase = PH_MARKETS;
                s->i = 0;
                continue;
            }
            c->type = LX_CMD_CREATE_ASSET;
            c->u.create_asset.asset = s->i;
            if (s->i == 0) {
                memcpy(c->u.create_asset.symbol, "USD", 3);
                c->u.create_asset.scale = LXB_QUOTE_SCALE;
            } else {
                snprintf(c->u.create_asset.symbol, sizeof c->u.create_asset.symbol, "B%u", s->i);
                c->u.create_asset.scale = LXB_BASE_SCALE;
            }
            s->i++;
            break;
        case PH_MARKETS:
            if (s->i >= p->markets) {
                s->phase = w->clearing ? PH_DEPOSITS : PH_ORDERS;
                s->i = s->j = 0;
                continue;
            }
            c->type = LX_CMD_CREATE_MARKET;
            c->u.create_market.market = s->i;
            c->u.create_market.base = 1 + s->i % p->bases;
            c->u.create_market.quote = 0;
            c->u.create_market.mode = LX_MODE_CONTINUOUS;
            c->u.create_market.tick_size = LXB_TICK_SIZE;
            c->u.create_market.lot_size = LXB_LOT_SIZE;
            c->u.create_market.min_price = 1;
            c->u.create_market.max_price = LXB_MAX_PRICE;
            c->u.create_market.max_qty = LXB_MAX_QTY;
            c->u.create_market.maker_fee = LXB_MAKER_FEE;
            c->u.create_market.taker_fee = LXB_TAKER_FEE;
            s->i++;
            break;
        case PH_DEPOSITS:
            if (s->i >= p->accounts) {
                s->phase = PH_ORDERS;
                s->i = s->j = 0;
                continue;
            }
            c->type = LX_CMD_DEPOSIT;
            c->u.deposit.account = s->i;
            if (s->j == 0) {
                c->u.deposit.asset = 0;
                c->u.deposit.amount = deposit_amount(p->accounts);
            } else {
                c->u.deposit.asset = 1 + s->i % p->bases;
                c->u.deposit.amount = deposit_amount(p->accounts / p->bases);
            }
            c->u.deposit.deposit_id = s->seq + 1;
            if (++s->j == 2) {
                s->j = 0;
                s->i++;
            }
            break;
        case PH_ORDERS: {
            if (s->i >= p->markets) {
                s->phase = PH_DONE;
                continue;
            }
            uint32_t m = s->i;
            int side = (int)(s->j & 1);
            int64_t mid = lxb_mid0(w, m);
            int64_t off = (int64_t)p->spacing * (1 + lxb_pick_distance(w, &s->rng));
            int64_t px = side == LX_SIDE_BUY ? mid - off : mid + off;
            if (px < 1) px = 1;
            c->type = LX_CMD_PLACE;
            c->u.place.account = lxb_pick_account(w, &s->rng, m);
            c->u.place.market = m;
            c->u.place.side = (uint8_t)side;
            c->u.place.type = LX_ORDER_LIMIT;
            c->u.place.tif = LX_TIF_GTC;
            c->u.place.stp = LX_STP_NONE;
            c->u.place.price = px;
            c->u.place.qty = lxb_logu2(&s->rng, p->maker_qty_min, p->maker_qty_max);
            c->u.place.client_id = s->cid++;
            if (++s->j == 2 * p->setup_per_side) {
                s->j = 0;
                s->i++;
            }
            break;
        }
        default:
            return 0;
        }
        s->seq++;
        c->seq = s->seq;
        c->ts = LXB_TS0 + (int64_t)s->seq * LXB_TS_STEP;
        return 1;
    }
}
