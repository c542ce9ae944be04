/*
 * gen.c: generating a workload's flow, and verifying it while doing so.
 *
 * The flow is pre-generated, but a pre-generated stream of cancels and
 * amends must name orders that are open when it is applied, and which
 * orders are open depends on matching. Rather than a second, simplified
 * matcher (whose differences from the engine would show up as phantom
 * cancels), the generator drives a real engine, the verification engine,
 * with every command as it generates it, and keeps its shadow of the open
 * orders from that engine's events:
 *
 *   ORDER_ACCEPTED  the order being placed gets its engine id
 *   TRADE           maker and taker remaining quantities; 0 closes them
 *   ORDER_CANCELED  closes the order (user, IOC remainder, expiry, ...)
 *   ORDER_AMENDED   new price and quantities
 *   REJECTED        counted by reason; a reject the generator did not ask
 *                   for is an "unexpected" reject and fails the workload
 *
 * After a place returns, an order that is still live with quantity left
 * rests: it joins the open set (an array with swap-removal: O(1) to pick a
 * random open order or drop one). Cancels and amends are then chosen only
 * among open orders, so they never miss by accident; the stale and
 * duplicate cancels the workload wants are generated on purpose (a closed
 * order's client id from a ring of recently closed ones, or a cancel sent
 * twice) and marked so. The generator also reads the book's best prices
 * from the verification engine, to price takers at the touch and keep
 * post-only orders from crossing.
 *
 * Message kinds (gen_one draws one per message; the mix is the workload's):
 *   add     a limit order (1 + d) * spacing ticks behind the market's mid,
 *           d from the workload's distance law; passive unless makers_cross
 *           or the cross_ppm draw; some post-only, some GTD
 *   taker   IOC (or market) at the touch, leaning toward the side that moves
 *           the book to the mid; if the touch is already past the mid it
 *           sweeps up to the mid (sweep_mult); miss_ppm of them are priced
 *           short of the touch and only cancel
 *   cancel  an open order, uniformly or the stalest of cancel_choices
 *   amend   a size cut that keeps priority or a price move of 1-3 ticks; in
 *           the trending workloads a quote the mid has passed is requoted
 *           behind it
 *   stale   a cancel of a closed order, or a cancel sent twice
 *   crash   (crash episodes only) a market sell sweeping far down
 * Adds and cancels split what is left, pulled toward the setup's open count.
 * Every rule that can reject is steered clear of (post-only never crosses,
 * amends never to nothing, funds are ample), except the stale cancels and a
 * cancel racing a GTD expiry, which are marked as expected.
 *
 * The same pass is the untimed verification the timed runs rely on: every
 * lx_engine_apply return code is checked here, rejects are counted by
 * reason, the lean sink's counters and the final digest are recorded for
 * the timed runs to reproduce, and lx_engine_stats is sampled for the
 * high-water marks of resting orders and order memory (peak_orders,
 * bytes_per_order): after every message in workloads of at most 64
 * markets (LXB_PEAK_EVERY_MSG_MARKETS; RESULT peak_sampling=every_msg);
 * with more, where a sample walks every market, only when the open orders
 * have risen more than 0.5% (plus 16) over the last sample and every 4,096
 * messages (peak_sampling=sparse), so a peak that comes and goes between
 * samples, in orders or in memory, can be missed or understated.
 *
 * Engine ids: the shadow finds an order from an event's id through an array
 * indexed by the id's low 32 bits (the slot, documented in matching.md), and
 * checks the whole id there, so a change of id layout fails loudly instead of
 * corrupting the shadow.
 *
 * Determinism: the flow is a function of the seed, the sizes and the
 * engine's documented behaviour; flow_hash (over every command's bytes)
 * says whether two runs generated the same stream, and events_hash (over
 * every flow event's encoded bytes) whether the engine answered it the same.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lx/codec.h"
#include "lx/error.h"
#include "clock.h"
#include "run.h"
#include "workload.h"

#define NIL UINT32_MAX
#define RING 4096
#define UNEXPECTED_LOG 5

typedef struct {
    uint64_t cid;
    lx_order_id_t id;
    int64_t price, qty, remaining;
    int64_t expiry; /* GTD: the engine expires it before the first command with ts >= this */
    uint32_t account, market;
    uint32_t pos; /* index in open[], NIL unless resting */
    uint8_t side, amended, dead, live;
} sh_order_t;

typedef struct {
    uint32_t account, market;
    uint64_t cid;
} sh_closed_t;

typedef struct {
    lxb_workload_t *w;
    const lxb_params_t *p;
    lxb_verify_t *v;
    lx_engine_t *e;
    lx_sink_t sink;
    lxb_rng_t rng;

    sh_order_t *ord; /* pool of shadow orders */
    uint32_t *freel;
    uint32_t nord, nfree, cap;
    uint32_t *open; /* resting orders */
    uint32_t nopen, open_cap;
    uint32_t *by_slot; /* engine slot -> shadow order */
    uint32_t nslots;
    uint32_t *side_open; /* [market * 2 + side] resting count */
    int64_t *walk;       /* per market: the random-walk part of the mid */
    sh_closed_t ring[RING];
    uint32_t nring, ring_pos;

    uint32_t cur; /* the order being placed, NIL otherwise */
    int expect_reject, in_flow, failed;
    uint64_t seq, next_cid;
    uint64_t i, n;    /* flow position and target */
    uint64_t episode; /* crash: messages per episode */
    uint64_t peak_sampled;
    lxb_counter_t lean;
} gen_t;

/* ---- shadow bookkeeping ------------------------------------------------ */

static void fail(gen_t *g, const char *msg) {
    if (!g->failed) fprintf(stderr, "lxdex-bench: %s: generator: %s\n", g->p->name, msg);
    g->failed = 1;
}

static uint32_t sh_alloc(gen_t *g) {
    if (g->nfree) return g->freel[--g->nfree];
    if (g->nord == g->cap) {
        uint32_t ncap = g->cap ? g->cap * 2 : 4096;
        sh_order_t *o = realloc(g->ord, (size_t)ncap * sizeof *o);
        if (!o) return NIL;
        g->ord = o;
        uint32_t *f = realloc(g->freel, (size_t)ncap * sizeof *f);
        if (!f) return NIL;
        g->freel = f;
        g->cap = ncap;
    }
    return g->nord++;
}

static void open_add(gen_t *g, uint32_t i) {
    if (g->nopen == g->open_cap) {
        uint32_t ncap = g->open_cap ? g->open_cap * 2 : 4096;
        uint32_t *o = realloc(g->open, (size_t)ncap * sizeof *o);
        if (!o) {
            fail(g, "out of memory");
            return;
        }
        g->open = o;
        g->open_cap = ncap;
    }
    sh_order_t *o = &g->ord[i];
    o->pos = g->nopen;
    g->open[g->nopen++] = i;
    g->side_open[o->market * 2 + o->side]++;
    g->v->rested++;
    if (g->nopen > g->v->resting_max) g->v->resting_max = g->nopen;
}

static void open_remove(gen_t *g, uint32_t i) {
    sh_order_t *o = &g->ord[i];
    uint32_t last = g->open[--g->nopen];
    g->open[o->pos] = last;
    g->ord[last].pos = o->pos;
    o->pos = NIL;
    g->side_open[o->market * 2 + o->side]--;
}

static uint32_t sh_find(gen_t *g, lx_order_id_t id) {
    uint32_t slot = (uint32_t)id;
    uint32_t i = slot < g->nslots ? g->by_slot[slot] : NIL;
    if (i == NIL || g->ord[i].id != id) {
        fail(g, "event names an order the shadow does not know (engine id layout changed?)");
        return NIL;
    }
    return i;
}

static void sh_close(gen_t *g, uint32_t i, int filled, int reason) {
    sh_order_t *o = &g->ord[i];
    if (o->pos != NIL) {
        open_remove(g, i);
        if (filled)
            g->v->fate_filled++;
        else if (reason == LX_CANCEL_EXPIRED)
            g->v->fate_expired++;
        else
            g->v->fate_canceled++;
    }
    g->by_slot[(uint32_t)o->id] = NIL;
    g->ring[g->ring_pos] = (sh_closed_t){o->account, o->market, o->cid};
    g->ring_pos = (g->ring_pos + 1) % RING;
    if (g->nring < RING) g->nring++;
    o->dead = 1;
    o->live = 0;
    if (i != g->cur) g->freel[g->nfree++] = i;
}

/* ---- the verification sink ---------------------------------------------- */

static void gen_emit(void *ctx, const lx_event_t *ev) {
    gen_t *g = ctx;
    lxb_verify_t *v = g->v;
    if (g->in_flow) {
        lxb_counter_fold(&g->lean, ev);
        v->events++;
        uint8_t buf[LX_EVENT_ENCODED_MAX];
        int len = lx_event_encode(ev, buf, sizeof buf);
        uint64_t h = v->events_hash;
        for (int i = 0; i < len; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
        v->events_hash = h;
    }
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *a = &ev->u.accepted;
        uint32_t slot = (uint32_t)a->order_id;
        if (g->cur == NIL || g->ord[g->cur].cid != a->client_id ||
            g->ord[g->cur].account != a->account || slot >= g->nslots) {
            fail(g, "ORDER_ACCEPTED for an order not being placed");
            return;
        }
        sh_order_t *o = &g->ord[g->cur];
        o->id = a->order_id;
        o->live = 1;
        o->remaining = a->qty;
        g->by_slot[slot] = g->cur;
        if (g->in_flow) v->places++;
        break;
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *t = &ev->u.trade;
        if (g->in_flow) {
            v->trades++;
            v->trade_qty += (uint64_t)t->qty;
        }
        uint32_t mk = sh_find(g, t->maker_order), tk = sh_find(g, t->taker_order);
        if (mk == NIL || tk == NIL) return;
        g->ord[mk].remaining = t->maker_remaining;
        g->ord[tk].remaining = t->taker_remaining;
        if (t->maker_remaining == 0) sh_close(g, mk, 1, 0);
        if (t->taker_remaining == 0) sh_close(g, tk, 1, 0);
        break;
    }
    case LX_EV_ORDER_CANCELED: {
        if (g->in_flow)
            v->canceled_by[ev->u.canceled.reason < LX_CANCEL__COUNT ? ev->u.canceled.reason : 0]++;
        uint32_t i = sh_find(g, ev->u.canceled.order_id);
        if (i != NIL) sh_close(g, i, 0, ev->u.canceled.reason);
        break;
    }
    case LX_EV_ORDER_AMENDED: {
        uint32_t i = sh_find(g, ev->u.amended.order_id);
        if (i == NIL) return;
        g->ord[i].price = ev->u.amended.price;
        g->ord[i].qty = ev->u.amended.qty;
        g->ord[i].remaining = ev->u.amended.remaining;
        break;
    }
    case LX_EV_REJECTED: {
        const lx_ev_rejected_t *r = &ev->u.rejected;
        if (!g->in_flow) {
            char msg[160];
            snprintf(msg, sizeof msg, "setup command %s rejected: %s",
                     lx_cmd_type_name(r->cmd_type), lx_reject_name(r->reason));
            fail(g, msg);
            return;
        }
        v->rejects++;
        v->rejects_by[r->reason < LX_REJECT__COUNT ? r->reason : 0]++;
        if (g->expect_reject) {
            v->deliberate++;
        } else if (++v->unexpected <= UNEXPECTED_LOG) {
            fprintf(stderr, "lxdex-bench: %s: unexpected reject of %s (seq %llu): %s\n", g->p->name,
                    lx_cmd_type_name(r->cmd_type), (unsigned long long)ev->seq,
                    lx_reject_name(r->reason));
        }
        break;
    }
    default:
        break;
    }
}

/* ---- applying and recording commands ----------------------------------- */

static void sample_peak(gen_t *g) {
    lx_engine_stats_t st;
    lx_engine_stats(g->e, &st);
    /* each a maximum of its own: the book can hold more levels (and so
     * more memory) later with fewer orders, as after a swing */
    if (st.orders > g->v->peak_orders) g->v->peak_orders = st.orders;
    if (st.bytes_orders > g->v->peak_bytes_orders) g->v->peak_bytes_orders = st.bytes_orders;
    if (st.bytes > g->v->peak_bytes) g->v->peak_bytes = st.bytes;
    g->peak_sampled = g->nopen;
}

static uint64_t hash_cmd(uint64_t h, const lx_cmd_t *c) {
    uint64_t words[(sizeof *c + 7) / 8] = {0};
    memcpy(words, c, sizeof *c);
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        h = (h ^ words[k]) * 0x100000001b3ull;
    return h;
}

/* c was zeroed and filled by the caller; seq and ts are set here. */
static int gen_apply(gen_t *g, lx_cmd_t *c, int expect_reject) {
    if (g->in_flow) {
        c->seq = ++g->seq;
        c->ts = LXB_TS0 + (int64_t)c->seq * LXB_TS_STEP;
    } else {
        g->seq = c->seq;
    }
    g->expect_reject = expect_reject;
    int rc = lx_engine_apply(g->e, c, &g->sink);
    g->expect_reject = 0;
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof msg, "lx_engine_apply(%s, seq %llu) returned %s",
                 lx_cmd_type_name(c->type), (unsigned long long)c->seq, lx_err_name(rc));
        fail(g, msg);
        return -1;
    }
    if (g->in_flow) {
        lxb_workload_t *w = g->w;
        w->cmds[w->n++] = *c;
        w->flow_hash = hash_cmd(w->flow_hash, c);
        /* the high-water marks of orders and memory: after every message
         * (lx_engine_stats walks the markets: where there are many, when
         * the open orders rose 0.5% + 16 over the last sample, and every
         * 4,096 messages) */
        if (g->p->markets <= LXB_PEAK_EVERY_MSG_MARKETS ||
            g->nopen > g->peak_sampled + g->peak_sampled / 200 + 16 || (w->n & 4095) == 0)
            sample_peak(g);
    }
    return g->failed ? -1 : 0;
}

static int64_t next_ts(const gen_t *g) {
    return LXB_TS0 + (int64_t)(g->seq + 1) * LXB_TS_STEP;
}

static int place(gen_t *g, uint32_t m, int side, int type, int tif, int64_t px, int64_t qty,
                 int64_t expiry, uint32_t account, uint64_t cid, lx_cmd_t *prebuilt) {
    uint32_t i = sh_alloc(g);
    if (i == NIL) {
        fail(g, "out of memory");
        return -1;
    }
    sh_order_t *o = &g->ord[i];
    memset(o, 0, sizeof *o);
    o->cid = cid;
    o->account = account;
    o->market = m;
    o->side = (uint8_t)side;
    o->price = px;
    o->qty = qty;
    o->expiry = tif == LX_TIF_GTD ? expiry : 0;
    o->pos = NIL;
    lx_cmd_t c;
    if (prebuilt) {
        c = *prebuilt;
    } else {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place.account = account;
        c.u.place.market = m;
        c.u.place.side = (uint8_t)side;
        c.u.place.type = (uint8_t)type;
        c.u.place.tif = (uint8_t)tif;
        c.u.place.stp = LX_STP_NONE;
        c.u.place.price = px;
        c.u.place.qty = qty;
        c.u.place.client_id = cid;
        c.u.place.expiry = expiry;
    }
    g->cur = i;
    int rc = gen_apply(g, &c, 0);
    g->cur = NIL;
    o = &g->ord[i];
    if (o->dead || !o->live) {
        g->freel[g->nfree++] = i; /* filled, canceled or rejected: never rests */
    } else if (o->remaining > 0 && o->pos == NIL) {
        open_add(g, i);
    }
    return rc;
}

/* ---- the mid ----------------------------------------------------------- */

/* The market-independent part of the mid: swing trend or crash episode. */
static int64_t mid_offset(const gen_t *g, int *crashing) {
    const lxb_params_t *p = g->p;
    *crashing = 0;
    if (p->mid == LXB_MID_SWING) {
        int64_t amp = p->mid0 * (int64_t)p->swing_pct / 100;
        uint64_t half = g->n / 2 ? g->n / 2 : 1;
        if (g->i < half) return amp * (int64_t)g->i / (int64_t)half;
        return amp * (int64_t)(g->n - g->i) / (int64_t)(g->n - half);
    }
    if (p->mid == LXB_MID_CRASH) {
        uint64_t E = g->episode, pos = g->i % E;
        int64_t D = p->mid0 * (int64_t)p->crash_pct / 100;
        uint64_t a = E * 60 / 100, b = E * 61 / 100, c = E * 66 / 100, d = E * 96 / 100;
        if (pos < a || pos >= d) return 0;
        if (pos < b) {
            *crashing = 1;
            return -D * (int64_t)(pos - a) / (int64_t)(b - a);
        }
        if (pos < c) return -D;
        return -D * (int64_t)(d - pos) / (int64_t)(d - c);
    }
    return 0;
}

static int64_t mid_of(const gen_t *g, uint32_t m) {
    int crashing;
    int64_t mid = g->walk[m] + mid_offset(g, &crashing);
    int64_t floor = (int64_t)g->p->depth * g->p->spacing + 1000;
    return mid < floor ? floor : mid;
}

static uint32_t pick_market(gen_t *g) {
    return g->p->markets == 1 ? 0 : lxb_below(&g->rng, g->p->markets);
}

static int64_t clamp_px(int64_t px) {
    return px < 1 ? 1 : px > LXB_MAX_PRICE ? LXB_MAX_PRICE : px;
}

/* ---- message kinds ---------------------------------------------------- */

static int gen_add(gen_t *g) {
    const lxb_params_t *p = g->p;
    lxb_rng_t *r = &g->rng;
    uint32_t m = pick_market(g);
    int64_t mid = mid_of(g, m);
    int64_t nb = g->side_open[m * 2], ns = g->side_open[m * 2 + 1];
    int64_t pb = 500000 + (ns - nb) * 500000 / (ns + nb + 16);
    pb = pb < 100000 ? 100000 : pb > 900000 ? 900000 : pb;
    int side = lxb_ppm(r, (uint32_t)pb) ? LX_SIDE_BUY : LX_SIDE_SELL;
    int64_t off = (int64_t)p->spacing * (1 + lxb_pick_distance(g->w, r));
    int64_t px = side == LX_SIDE_BUY ? mid - off : mid + off;
    int64_t bb = 0, ba = 0;
    bool hb = lx_engine_best(g->e, m, LX_SIDE_BUY, &bb, NULL);
    bool ha = lx_engine_best(g->e, m, LX_SIDE_SELL, &ba, NULL);
    int tif = LX_TIF_GTC;
    int64_t expiry = 0;
    if (lxb_ppm(r, p->cross_ppm) && (side == LX_SIDE_BUY ? ha : hb)) {
        int64_t k = (int64_t)p->spacing * lxb_below(r, 2);
        px = side == LX_SIDE_BUY ? ba + k : bb - k;
    } else {
        /* A quote placed from the mid may cross stale orders the mid has left
         * behind. With makers_cross it does (and trades, then rests: how a
         * trending book follows its mid); otherwise it joins one tick inside
         * the opposite touch, and only takers and the deliberate marketable
         * limits above move the book. Post-only only where it cannot cross. */
        bool crosses = side == LX_SIDE_BUY ? (ha && px >= ba) : (hb && px <= bb);
        if (crosses && !p->makers_cross) {
            px = side == LX_SIDE_BUY ? ba - (int64_t)p->spacing : bb + (int64_t)p->spacing;
            crosses = false;
        }
        if (!crosses && lxb_ppm(r, p->post_only_ppm) && px >= 1) tif = LX_TIF_POST_ONLY;
    }
    if (tif == LX_TIF_GTC && lxb_ppm(r, p->gtd_ppm)) {
        tif = LX_TIF_GTD;
        expiry = next_ts(g) + 10000 + (int64_t)lxb_below(r, 10000000);
    }
    int64_t qty = lxb_logu2(r, p->maker_qty_min, p->maker_qty_max);
    uint32_t acct = lxb_pick_account(g->w, r, m);
    return place(g, m, side, LX_ORDER_LIMIT, tif, clamp_px(px), qty, expiry, acct, g->next_cid++,
                 NULL);
}

/* An arbitrageur's size: qty times sweep_mult, or with sweep_mult 0 all
 * the quantity of side (the stale side) priced better than the mid, within
 * its best 64 levels. */
static int64_t sweep_qty(gen_t *g, uint32_t m, int side, int64_t mid, int64_t qty) {
    if (g->p->sweep_mult) return qty * g->p->sweep_mult;
    lx_level_t lv[64];
    size_t n = lx_engine_levels(g->e, m, (lx_side_t)side, lv, 64);
    int64_t sum = 0;
    for (size_t k = 0; k < n; k++) {
        if (side == LX_SIDE_SELL ? lv[k].price >= mid : lv[k].price <= mid) break;
        sum += lv[k].qty;
    }
    if (sum > LXB_MAX_QTY) sum = LXB_MAX_QTY;
    return sum > qty ? sum : qty;
}

static int gen_taker(gen_t *g) {
    const lxb_params_t *p = g->p;
    lxb_rng_t *r = &g->rng;
    uint32_t m = pick_market(g);
    int64_t mid = mid_of(g, m), sp = p->spacing;
    int64_t bb = 0, ba = 0;
    bool hb = lx_engine_best(g->e, m, LX_SIDE_BUY, &bb, NULL);
    bool ha = lx_engine_best(g->e, m, LX_SIDE_SELL, &ba, NULL);
    int64_t bmid = hb && ha ? (bb + ba) / 2 : ha ? ba - sp : hb ? bb + sp : mid;
    /* lean toward the side that moves the book to the mid */
    int64_t scale = 8 * sp, diff = mid - bmid;
    diff = diff < -scale ? -scale : diff > scale ? scale : diff;
    int side = lxb_ppm(r, (uint32_t)(500000 + diff * 400000 / scale)) ? LX_SIDE_BUY : LX_SIDE_SELL;
    int64_t qty = lxb_logu(r, p->taker_qty_max);
    int64_t px;
    if (side == LX_SIDE_BUY) {
        if (!ha) {
            px = mid + sp;
        } else if (lxb_ppm(r, p->miss_ppm)) {
            px = ba - sp;
        } else {
            px = ba + sp * lxb_below(r, 3);
            if (px < mid) { /* stale asks under the mid: sweep them */
                px = mid;
                qty = sweep_qty(g, m, LX_SIDE_SELL, mid, qty);
            }
        }
    } else {
        if (!hb) {
            px = mid - sp;
        } else if (lxb_ppm(r, p->miss_ppm)) {
            px = bb + sp;
        } else {
            px = bb - sp * lxb_below(r, 3);
            if (px > mid) {
                px = mid;
                qty = sweep_qty(g, m, LX_SIDE_BUY, mid, qty);
            }
        }
    }
    int type = LX_ORDER_LIMIT;
    if (lxb_ppm(r, p->market_ppm)) {
        type = LX_ORDER_MARKET;
        px += side == LX_SIDE_BUY ? 20 * sp : -20 * sp; /* protection price */
    }
    g->v->takers++;
    uint32_t acct = lxb_pick_account(g->w, r, m);
    return place(g, m, side, type, LX_TIF_IOC, clamp_px(px), qty, 0, acct, g->next_cid++, NULL);
}

static int gen_crash_sell(gen_t *g) {
    lxb_rng_t *r = &g->rng;
    uint32_t m = pick_market(g);
    int64_t D = g->p->mid0 * (int64_t)g->p->crash_pct / 100;
    int64_t px = clamp_px(mid_of(g, m) - D); /* protection: far below */
    g->v->takers++;
    uint32_t acct = lxb_pick_account(g->w, r, m);
    return place(g, m, LX_SIDE_SELL, LX_ORDER_MARKET, LX_TIF_IOC, px, lxb_logu(r, g->p->crash_qty),
                 0, acct, g->next_cid++, NULL);
}

/* How much a maker would want this order gone: a quote the mid has moved
 * past (a bid above the mid, an ask below it) first, the most stale first;
 * then the order farthest from the mid. */
static int64_t staleness(const gen_t *g, const sh_order_t *o) {
    int64_t d = o->price - mid_of(g, o->market);
    int64_t wrong = o->side == LX_SIDE_BUY ? d : -d;
    if (wrong >= 0) return ((int64_t)1 << 40) + wrong;
    return -wrong;
}

/* A GTD order due at the next command's timestamp is expired by the engine
 * before that command applies: a cancel or amend of it is a (real-world)
 * race that the engine answers UNKNOWN_ORDER. */
static int expires_now(const gen_t *g, const sh_order_t *o) {
    return o->expiry != 0 && o->expiry <= next_ts(g);
}

static void cancel_cmd(lx_cmd_t *c, uint32_t account, uint32_t market, uint64_t cid) {
    memset(c, 0, sizeof *c);
    c->type = LX_CMD_CANCEL;
    c->u.cancel.account = account;
    c->u.cancel.market = market;
    c->u.cancel.by_client_id = 1;
    c->u.cancel.client_id = cid;
}

static uint32_t pick_stalest(gen_t *g);

static int gen_cancel(gen_t *g) {
    uint32_t i = pick_stalest(g);
    lx_cmd_t c;
    cancel_cmd(&c, g->ord[i].account, g->ord[i].market, g->ord[i].cid);
    g->v->cancels++;
    return gen_apply(g, &c, expires_now(g, &g->ord[i]));
}

static uint32_t pick_stalest(gen_t *g) {
    uint32_t i = g->open[lxb_below(&g->rng, g->nopen)];
    for (uint32_t k = 1; k < g->p->cancel_choices; k++) {
        uint32_t j = g->open[lxb_below(&g->rng, g->nopen)];
        if (staleness(g, &g->ord[j]) > staleness(g, &g->ord[i])) i = j;
    }
    return i;
}

static int gen_amend(gen_t *g) {
    lxb_rng_t *r = &g->rng;
    uint32_t i = pick_stalest(g);
    sh_order_t *o = &g->ord[i];
    int64_t np = o->price, nq = o->qty, sp = g->p->spacing;
    int64_t mid = mid_of(g, o->market);
    if (g->p->cancel_choices > 1 && (o->side == LX_SIDE_BUY ? o->price >= mid : o->price <= mid)) {
        /* requote: a quote the mid has passed moves back behind it */
        int64_t off = sp * (1 + lxb_pick_distance(g->w, r));
        np = clamp_px(o->side == LX_SIDE_BUY ? mid - off : mid + off);
        int64_t bb = 0, ba = 0;
        if (o->side == LX_SIDE_BUY && lx_engine_best(g->e, o->market, LX_SIDE_SELL, &ba, NULL) &&
            np >= ba)
            np = ba - sp;
        if (o->side == LX_SIDE_SELL && lx_engine_best(g->e, o->market, LX_SIDE_BUY, &bb, NULL) &&
            np <= bb)
            np = bb + sp;
        if (np == o->price) np = o->side == LX_SIDE_BUY ? np - sp : np + sp;
        np = clamp_px(np);
    } else if (o->remaining >= 2 && lxb_below(r, 2) == 0) {
        nq = o->qty - 1 - (int64_t)lxb_below64(r, (uint64_t)o->remaining - 1);
    } else {
        int64_t delta = sp * (1 + lxb_below(r, 3));
        int toward = (int)lxb_below(r, 2);
        int64_t bb = 0, ba = 0;
        bool hb = lx_engine_best(g->e, o->market, LX_SIDE_BUY, &bb, NULL);
        bool ha = lx_engine_best(g->e, o->market, LX_SIDE_SELL, &ba, NULL);
        if (o->side == LX_SIDE_BUY) {
            np = toward ? o->price + delta : o->price - delta;
            if (toward && ha && np >= ba) np = o->price - delta;
        } else {
            np = toward ? o->price - delta : o->price + delta;
            if (toward && hb && np <= bb) np = o->price + delta;
        }
        if (np < 1) np = o->price + delta;
        np = clamp_px(np);
    }
    if (!o->amended) {
        o->amended = 1;
        g->v->amended++;
    }
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_AMEND;
    c.u.amend.account = o->account;
    c.u.amend.market = o->market;
    c.u.amend.by_client_id = 1;
    c.u.amend.client_id = o->cid;
    c.u.amend.price = np;
    c.u.amend.qty = nq;
    g->v->amends++;
    return gen_apply(g, &c, expires_now(g, o));
}

static int gen_stale(gen_t *g) {
    lx_cmd_t c;
    if (g->nring && lxb_below(&g->rng, 2)) {
        const sh_closed_t *s = &g->ring[lxb_below(&g->rng, g->nring)];
        cancel_cmd(&c, s->account, s->market, s->cid);
        g->v->stale++;
        return gen_apply(g, &c, 1);
    }
    if (!g->nopen || g->w->n + 2 > g->n) return 0;
    const sh_order_t *o = &g->ord[g->open[lxb_below(&g->rng, g->nopen)]];
    cancel_cmd(&c, o->account, o->market, o->cid);
    g->v->cancels++;
    g->v->stale++;
    if (gen_apply(g, &c, expires_now(g, o))) return -1;
    lx_cmd_t again = c;
    return gen_apply(g, &again, 1);
}

static int gen_one(gen_t *g) {
    const lxb_params_t *p = g->p;
    lxb_rng_t *r = &g->rng;
    g->i = g->w->n;
    if (p->walk_ppm && lxb_ppm(r, p->walk_ppm)) {
        uint32_t m = pick_market(g);
        g->walk[m] += lxb_below(r, 2) ? 1 : -1;
    }
    int crashing;
    (void)mid_offset(g, &crashing);
    if (crashing && lxb_below(r, 1000000) < 400000) return gen_crash_sell(g);
    uint32_t x = lxb_below(r, 1000000);
    if (x < p->taker_ppm) return gen_taker(g);
    x -= p->taker_ppm;
    if (x < p->amend_ppm) return g->nopen ? gen_amend(g) : gen_add(g);
    x -= p->amend_ppm;
    if (x < p->stale_ppm) return gen_stale(g);
    /* adds against cancels: a proportional pull toward the setup's size */
    int64_t target = (int64_t)g->w->setup_orders, open = g->nopen;
    int64_t padd = 500000 + (target - open) * 500000 / (target / 16 + 1);
    padd = padd < 50000 ? 50000 : padd > 950000 ? 950000 : padd;
    if (g->nopen == 0 || lxb_ppm(r, (uint32_t)padd)) return gen_add(g);
    return gen_cancel(g);
}

/* ---- driver ------------------------------------------------------------- */

int lxb_generate(lxb_workload_t *w) {
    gen_t *g = calloc(1, sizeof *g);
    if (!g) return -1;
    int rc = -1;
    g->w = w;
    g->p = &w->p;
    g->v = &w->v;
    memset(&w->v, 0, sizeof w->v);
    w->v.events_hash = 0xcbf29ce484222325ull;
    g->sink.emit = gen_emit;
    g->sink.ctx = g;
    g->cur = NIL;
    g->n = w->cap - 4;
    w->n = 0;
    w->flow_hash = 0xcbf29ce484222325ull;
    lxb_rng_seed(&g->rng, w->seed, 0xf10fu);
    g->nslots = w->cfg.max_orders;
    g->by_slot = malloc((size_t)g->nslots * sizeof *g->by_slot);
    g->side_open = calloc((size_t)w->p.markets * 2, sizeof *g->side_open);
    g->walk = malloc((size_t)w->p.markets * sizeof *g->walk);
    if (!g->by_slot || !g->side_open || !g->walk) goto out;
    memset(g->by_slot, 0xff, (size_t)g->nslots * sizeof *g->by_slot);
    for (uint32_t m = 0; m < w->p.markets; m++) g->walk[m] = lxb_mid0(w, m);
    uint64_t episodes = g->n / 40000;
    if (episodes > w->p.crash_episodes) episodes = w->p.crash_episodes;
    if (episodes == 0) episodes = 1;
    g->episode = g->n / episodes ? g->n / episodes : 1;

    if (lx_engine_create(&g->e, &w->cfg) != 0) {
        fprintf(stderr, "lxdex-bench: %s: lx_engine_create failed\n", w->p.name);
        goto out;
    }

    /* setup: the same stream every timed engine applies */
    lxb_setup_t s;
    lxb_setup_begin(&s, w);
    lx_cmd_t c;
    while (lxb_setup_next(&s, &c)) {
        int r = c.type == LX_CMD_PLACE
                    ? place(g, c.u.place.market, c.u.place.side, 0, 0, c.u.place.price,
                            c.u.place.qty, 0, c.u.place.account, c.u.place.client_id, &c)
                    : gen_apply(g, &c, 0);
        if (r) goto out;
    }
    if (g->seq != lxb_setup_last_seq(w)) {
        fail(g, "setup stream length mismatch");
        goto out;
    }
    w->v.resting_setup = g->nopen;
    sample_peak(g);

    /* the flow */
    g->in_flow = 1;
    g->next_cid = lxb_setup_next_cid(w);
    w->v.mid_lo = w->v.mid_hi = mid_of(g, 0);
    while (w->n < g->n) {
        if (gen_one(g)) goto out;
        int64_t mid = mid_of(g, 0);
        if (mid < w->v.mid_lo) w->v.mid_lo = mid;
        if (mid > w->v.mid_hi) w->v.mid_hi = mid;
        int64_t bb, ba;
        if ((w->n & 63) == 0 && lx_engine_best(g->e, 0, LX_SIDE_BUY, &bb, NULL) &&
            lx_engine_best(g->e, 0, LX_SIDE_SELL, &ba, NULL)) {
            int64_t d = (bb + ba) / 2 - mid;
            uint64_t ad = (uint64_t)(d < 0 ? -d : d);
            w->v.track_sum += ad;
            w->v.track_n++;
            if (ad > w->v.track_max) w->v.track_max = ad;
        }
    }
    sample_peak(g);
    w->v.resting_end = g->nopen;
    uint64_t d0 = lxb_now_ns();
    w->v.digest = lx_engine_digest(g->e);
    w->v.digest_ns = lxb_now_ns() - d0;
    w->v.sink_events = g->lean.events;
    w->v.sink_trades = g->lean.trades;
    w->v.sink_rejects = g->lean.rejects;
    w->v.sink_check = g->lean.check;
    lx_engine_stats_t st;
    lx_engine_stats(g->e, &st);
    if (st.orders != g->nopen) {
        char msg[160];
        snprintf(msg, sizeof msg, "engine holds %u resting orders, shadow %u", st.orders, g->nopen);
        fail(g, msg);
        goto out;
    }
    rc = g->failed ? -1 : 0;
out:
    if (g->e) lx_engine_destroy(g->e);
    free(g->ord);
    free(g->freel);
    free(g->open);
    free(g->by_slot);
    free(g->side_open);
    free(g->walk);
    free(g);
    return rc;
}
