/*
 * test_book.c: books far wider than a side's touch array, against the
 * reference model.
 *
 * A side keeps at most LX__TOUCH_MAX entries in its touch array; the
 * entries below go to blocks (src/core/book.c). The differential test's
 * books hold a few dozen levels, so in the release build they never reach
 * the blocks (the sanitizer and fuzz builds shrink the limits to 16 and 8
 * so that they do all the time); this test builds one market with tens
 * of thousands of levels a side over a band of millions of ticks, so that
 * with the real limits entries spill into blocks, blocks split, fill with
 * tombstones, are compacted and merged, and move back into the touch array
 * when sweeps empty it, and it checks every step against the reference
 * model:
 *   - every command: the return code and every event, field by field;
 *   - every CHECK_EVERY commands: lx_engine_validate (keys ascending
 *     across blocks, each block's first key indexed, counts) and the full
 *     state against the model, every order of every level in priority
 *     order (inv_compare_state); the top levels through lx_engine_levels
 *     and the depth at a random price on either side, both far enough to
 *     cross from the touch array into the blocks;
 *   - at the end a snapshot round trip: same digest, and the loaded engine
 *     saves the same bytes.
 * The command mix: wide passive places (most open new levels in the
 * blocks), places near the touch, cancels (tombstones in the blocks),
 * amends (a new wide price, or a decrease), IOC and market orders that
 * sweep thousands of levels (pulling blocks back), FOK orders sized
 * around the liquidity within a wide price (the FOK dry run walks the
 * blocks) and now and then a cancel-all. Once HIGH orders rest, deep
 * sweeps (and now and then one through a whole side) take the book down
 * to LOW, so that the sides' blocks go and come back a few times. The test also requires that the
 * engine did hold blocks, emptied them again, and split them.
 *
 * test_ladder does the same for the ladders above the touch arrays: a
 * dense book whose mid trends 40,000 ticks up and back, with some of its
 * orders far behind it (a tenth, then two in five, in blocks) and deep
 * sweeps, each command applied with
 * each of its allocations failing in turn first (failalloc.h: an
 * LX_ENOMEM must leave the engine as it was); it requires that ladders
 * were made, given back, moved both ways, emptied above levels that
 * waited below them, and held beside blocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/core.h"
#include "failalloc.h"
#include "invariants.h"
#include "lx/snapshot.h"
#include "membuf.h"
#include "refmodel.h"
#include "splitmix.h"

#define CENTER 2000000
#define WIDTH 1500000 /* passive prices: 1 to WIDTH ticks from CENTER */
#define MAX_ORDERS 40000u
#define CHECK_EVERY 2000
#define HIGH 16000 /* open orders: a side holds some 8,000, its touch array 4,096 */
#define LOW 1000

static uint64_t rng_state;
static int64_t rnd_in(int64_t lo, int64_t hi) {
    return splitmix_in(&rng_state, lo, hi);
}

typedef struct {
    lx_engine_t *e;
    ref_t *ref;
    uint64_t seq;
    inv_events_t got, want;
    /* what the engine's blocks and ladders went through (white box,
     * core.h) */
    uint64_t with_blocks, attached, detached, fewer, splits;
    uint64_t lad_made, lad_gone, lad_up, lad_down, lad_empty_far, lad_with_blocks;
    uint32_t max_blocks;
    bool draining;  /* from HIGH open orders down to LOW */
    bool failalloc; /* each command applied with each of its allocations failing in turn */
    uint64_t nomem;
} world_t;

static void fail_cmd(world_t *w, const lx_cmd_t *c, const char *what) {
    char buf[512];
    inv_cmd_format(c, buf, sizeof buf);
    fprintf(stderr, "command %llu (%s): %s\n", (unsigned long long)c->seq, buf, what);
    inv_events_print_diff(stderr, &w->got, "engine", &w->want, "reference");
    fail();
}

static void apply(world_t *w, lx_cmd_t *c) {
    c->seq = ++w->seq;
    c->ts = 1000 + (int64_t)w->seq;
    inv_events_clear(&w->got);
    inv_events_clear(&w->want);
    lx_sink_t sg = inv_events_sink(&w->got), sw = inv_events_sink(&w->want);
    uint32_t before[2], nblk[2];
    bool had_lad[2];
    int64_t lo[2];
    for (int s = 0; s < 2; s++) {
        const lx__side_t *sd = &w->e->markets[0].side[s];
        before[s] = sd->deep;
        nblk[s] = before[s] ? w->e->deeps[before[s]].nblk : 0;
        const lx__lad_t *lad = lx__lad(w->e, &w->e->markets[0], s);
        had_lad[s] = lad != NULL;
        lo[s] = lad ? lad->lo : 0;
    }
    char msg[512];
    int rg = w->failalloc ? failalloc_apply(w->e, c, NULL, &sg, &w->nomem, msg, sizeof msg)
                          : lx_engine_apply(w->e, c, &sg);
    if (rg == FAILALLOC_BROKEN) fail_cmd(w, c, msg);
    int rw = ref_apply(w->ref, c, &sw);
    if (rg != rw) fail_cmd(w, c, "return codes differ");
    if (inv_events_first_diff(&w->got, &w->want) >= 0) fail_cmd(w, c, "events differ");
    if (!w->e->markets[0].exists) return;
    for (int s = 0; s < 2; s++) {
        const lx__side_t *sd = &w->e->markets[0].side[s];
        const lx__lad_t *lad = lx__lad(w->e, &w->e->markets[0], s);
        w->lad_made += !had_lad[s] && lad;
        w->lad_gone += had_lad[s] && !lad;
        if (had_lad[s] && lad) {
            w->lad_up += lad->lo > lo[s];
            w->lad_down += lad->lo < lo[s];
            w->lad_empty_far += lad->n == 0 && sd->n > 0;
        }
        w->lad_with_blocks += lad && sd->deep;
        uint32_t d = sd->deep;
        w->attached += !before[s] && d;
        w->detached += before[s] && !d;
        if (d) {
            w->fewer += d == before[s] && w->e->deeps[d].nblk < nblk[s];
            w->splits += d == before[s] && w->e->deeps[d].nblk == nblk[s] + 1; /* a spill adds 2+ */
            w->with_blocks++;
            if (w->e->deeps[d].nblk > w->max_blocks) w->max_blocks = w->e->deeps[d].nblk;
        }
    }
}

static void setup(world_t *w) {
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = 2;
    cfg.max_assets = 2;
    cfg.max_accounts = 16;
    cfg.max_orders = MAX_ORDERS;
    cfg.clearing = false;
    assert_int_equal(lx_engine_create(&w->e, &cfg), 0);
    w->ref = ref_create(&cfg);
    assert_non_null(w->ref);
    for (uint32_t a = 0; a < 2; a++) {
        lx_cmd_t c = {.type = LX_CMD_CREATE_ASSET};
        c.u.create_asset.asset = a;
        snprintf(c.u.create_asset.symbol, sizeof c.u.create_asset.symbol, a ? "USD" : "BTC");
        c.u.create_asset.scale = 1; /* tick_value 1 */
        apply(w, &c);
    }
    lx_cmd_t c = {.type = LX_CMD_CREATE_MARKET};
    c.u.create_market = (lx_cmd_create_market_t){.market = 0,
                                                 .base = 0,
                                                 .quote = 1,
                                                 .tick_size = 1,
                                                 .lot_size = 1,
                                                 .min_price = 1,
                                                 .max_price = 2 * CENTER,
                                                 .max_qty = 1000000,
                                                 .maker_fee = 0,
                                                 .taker_fee = 0};
    apply(w, &c);
}

static lx_cmd_t place(int side, int64_t price, int64_t qty, uint8_t tif) {
    lx_cmd_t c = {.type = LX_CMD_PLACE};
    c.u.place = (lx_cmd_place_t){.account = (lx_account_id_t)rnd_in(0, 15),
                                 .market = 0,
                                 .side = (uint8_t)side,
                                 .type = LX_ORDER_LIMIT,
                                 .tif = tif,
                                 .stp = (uint8_t)rnd_in(0, 4),
                                 .price = price,
                                 .qty = qty};
    return c;
}

static int64_t wide_price(int side) {
    int64_t d = rnd_in(1, WIDTH);
    return side == LX_SIDE_BUY ? CENTER - d : CENTER + d;
}

/* A price `depth` ticks into the opposite side from its best (or from the
 * centre when it is empty), for a taker on `side`. */
static int64_t into_book(const world_t *w, int side, int64_t depth) {
    int64_t best;
    if (!lx_engine_best(w->e, 0, !side, &best, NULL)) best = CENTER;
    int64_t p = side == LX_SIDE_BUY ? best + depth : best - depth;
    return p < 1 ? 1 : p > 2 * CENTER ? 2 * CENTER : p;
}

static void random_cmd(world_t *w) {
    size_t open = ref_open_count(w->ref);
    if (open > HIGH) w->draining = true;
    if (open < LOW) w->draining = false;
    int side = (int)rnd_in(0, 1);
    int r = (int)rnd_in(0, 999);
    lx_cmd_t c;
    if (w->draining && r < 50) { /* deep sweeps: touch arrays empty, blocks move back */
        c = place(side, into_book(w, side, rnd_in(0, 600000)), rnd_in(1, 100000), LX_TIF_IOC);
        if (r == 0) { /* a side swept nearly empty: its blocks go */
            c.u.place.price = side == LX_SIDE_BUY ? 2 * CENTER : 1;
            c.u.place.qty = 1000000;
        }
        apply(w, &c);
        return;
    }
    if (r < 400) {
        c = place(side, wide_price(side), rnd_in(1, 100), LX_TIF_GTC);
    } else if (r < 480) { /* near the own best: new levels and joins at the touch */
        int64_t best;
        if (!lx_engine_best(w->e, 0, side, &best, NULL)) best = CENTER;
        int64_t p = side == LX_SIDE_BUY ? best + rnd_in(-30, 3) : best - rnd_in(-30, 3);
        c = place(side, p < 1 ? 1 : p, rnd_in(1, 100), LX_TIF_GTC);
    } else if (r < 600 && open) {
        lx_order_info_t o;
        ref_open_nth(w->ref, (size_t)rnd_in(0, (int64_t)open - 1), &o);
        c = (lx_cmd_t){.type = LX_CMD_CANCEL};
        c.u.cancel = (lx_cmd_cancel_t){.account = o.account, .market = 0, .order_id = o.order_id};
    } else if (r < 680 && open) {
        lx_order_info_t o;
        ref_open_nth(w->ref, (size_t)rnd_in(0, (int64_t)open - 1), &o);
        c = (lx_cmd_t){.type = LX_CMD_AMEND};
        bool move = rnd_in(0, 1);
        c.u.amend = (lx_cmd_amend_t){.account = o.account,
                                     .market = 0,
                                     .order_id = o.order_id,
                                     .price = move ? wide_price(o.side) : o.price,
                                     .qty = move ? o.qty : o.filled + rnd_in(1, o.remaining)};
    } else if (r < 790) { /* a sweep through a few levels */
        c = place(side, into_book(w, side, rnd_in(0, 20000)), rnd_in(1, 500), LX_TIF_IOC);
    } else if (r < 800) {
        c = place(side, into_book(w, side, rnd_in(0, 40000)), rnd_in(1, 500), LX_TIF_IOC);
        c.u.place.type = LX_ORDER_MARKET;
    } else if (r < 830) { /* FOK: mostly too large for what a price deep in the book reaches */
        c = place(side, into_book(w, side, rnd_in(0, 300000)),
                  rnd_in(0, 9) ? rnd_in(1, 300) : rnd_in(1, 400000), LX_TIF_FOK);
    } else if (r == 830 && rnd_in(0, 9) == 0) {
        c = (lx_cmd_t){.type = LX_CMD_CANCEL_ALL};
        c.u.cancel_all.account = (lx_account_id_t)rnd_in(0, 15);
        c.u.cancel_all.market = 0;
    } else {
        c = place(side, wide_price(side), rnd_in(1, 100), LX_TIF_POST_ONLY);
    }
    apply(w, &c);
}

/* The top n levels and the depth at a price far down, engine and model. */
static void check_reads(world_t *w) {
    static lx_level_t a[12000], b[12000];
    for (int s = 0; s < 2; s++) {
        size_t n = (size_t)rnd_in(1, 12000);
        size_t na = lx_engine_levels(w->e, 0, (lx_side_t)s, a, n);
        size_t nb = ref_levels(w->ref, 0, (lx_side_t)s, b, n);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_int_equal(a[i].price, b[i].price);
            assert_int_equal(a[i].qty, b[i].qty);
            assert_int_equal(a[i].count, b[i].count);
        }
        if (na == 0) continue;
        size_t k = (size_t)rnd_in(0, (int64_t)na - 1);
        uint32_t cnt = 0;
        assert_int_equal(lx_engine_depth_at(w->e, 0, (lx_side_t)s, a[k].price, &cnt), a[k].qty);
        assert_int_equal(cnt, a[k].count);
        int64_t gap = a[k].price + (s == LX_SIDE_BUY ? 1 : -1); /* between levels, or one */
        bool level = k > 0 && a[k - 1].price == gap;
        assert_int_equal(lx_engine_depth_at(w->e, 0, (lx_side_t)s, gap, NULL),
                         level ? a[k - 1].qty : 0);
    }
}

static void check_full(world_t *w) {
    char msg[512];
    if (lx_engine_validate(w->e, msg, sizeof msg) != 0) fail_msg("validate: %s", msg);
    if (inv_compare_state(w->e, w->ref, msg, sizeof msg) != 0) fail_msg("state: %s", msg);
    check_reads(w);
}

/* At the end: a snapshot round trip (same digest, the loaded engine
 * validates and saves the same bytes), then the world freed. */
static void roundtrip_and_free(world_t *w) {
    membuf_t img = {0}, img2 = {0};
    assert_int_equal(lx_engine_save(w->e, membuf_write, &img), 0);
    lx_engine_t *f = NULL;
    assert_int_equal(lx_engine_load(&f, membuf_read, &img), 0);
    assert_true(lx_engine_digest(f) == lx_engine_digest(w->e));
    char msg[512];
    if (lx_engine_validate(f, msg, sizeof msg) != 0) fail_msg("loaded: %s", msg);
    assert_int_equal(lx_engine_save(f, membuf_write, &img2), 0);
    assert_int_equal(img.n, img2.n);
    assert_memory_equal(img.buf, img2.buf, img.n);
    membuf_free(&img);
    membuf_free(&img2);
    lx_engine_destroy(f);
    inv_events_free(&w->got);
    inv_events_free(&w->want);
    ref_destroy(w->ref);
    lx_engine_destroy(w->e);
}

static void test_wide_book(void **state) {
    (void)state;
    world_t w;
    memset(&w, 0, sizeof w);
    rng_state = 7;
    setup(&w);
    /* build: 12,000 orders, nearly every one a level of its own */
    for (int i = 0; i < 12000; i++) {
        int side = i & 1;
        lx_cmd_t c = place(side, wide_price(side), rnd_in(1, 100), LX_TIF_GTC);
        apply(&w, &c);
    }
    check_full(&w);
    long n = 150000; /* not scaled: the cycles below need them all (1 s; 9 s with ASan) */
    for (long i = 1; i <= n; i++) {
        random_cmd(&w);
        if (i % CHECK_EVERY == 0) check_full(&w);
    }
    check_full(&w);
    printf("wide book: %ld commands, blocks held after %llu of them (up to %u a side), "
           "%llu spills from no blocks, %llu times back to none, %llu with fewer blocks, "
           "%llu splits\n",
           n + 12000, (unsigned long long)w.with_blocks, w.max_blocks,
           (unsigned long long)w.attached, (unsigned long long)w.detached,
           (unsigned long long)w.fewer, (unsigned long long)w.splits);
    assert_true(w.attached >= 3 && w.detached >= 2 && w.fewer >= 10);
    assert_true(w.splits >= 10);

    roundtrip_and_free(&w);
}

/* The book's shape: open orders at which it drains, and how many in ten
 * orders land far behind the mid, up to how far. */
typedef struct {
    size_t high;
    int far_in_10;
    int64_t far;
} ladder_shape_t;

static void ladder_cmd(world_t *w, const ladder_shape_t *sh, int64_t mid) {
    size_t open = ref_open_count(w->ref);
    if (open > sh->high) w->draining = true;
    if (open < 40) w->draining = false;
    int side = (int)rnd_in(0, 1);
    int r = (int)rnd_in(0, 999);
    lx_cmd_t c;
    int64_t d = rnd_in(0, 9) >= sh->far_in_10 ? rnd_in(1, 1500) : rnd_in(1, sh->far);
    int64_t p = side == LX_SIDE_BUY ? mid - d : mid + d;
    if (w->draining ? r < 450 : r < 100) {
        lx_order_info_t o;
        if (!open) return;
        ref_open_nth(w->ref, (size_t)rnd_in(0, (int64_t)open - 1), &o);
        c = (lx_cmd_t){.type = LX_CMD_CANCEL};
        c.u.cancel = (lx_cmd_cancel_t){.account = o.account, .market = 0, .order_id = o.order_id};
    } else if (r < 750) {
        c = place(side, p, rnd_in(1, 100), rnd_in(0, 3) ? LX_TIF_GTC : LX_TIF_POST_ONLY);
    } else if (r < 850 && open) {
        lx_order_info_t o;
        ref_open_nth(w->ref, (size_t)rnd_in(0, (int64_t)open - 1), &o);
        c = (lx_cmd_t){.type = LX_CMD_AMEND};
        c.u.amend = (lx_cmd_amend_t){.account = o.account,
                                     .market = 0,
                                     .order_id = o.order_id,
                                     .price = !rnd_in(0, 1)           ? o.price
                                              : o.side == LX_SIDE_BUY ? mid - d
                                                                      : mid + d,
                                     .qty = o.filled + rnd_in(1, 200)};
    } else if (r < 980) { /* takers at the mid: they eat what the trend left behind */
        c = place(side, mid + (side == LX_SIDE_BUY ? rnd_in(0, 50) : -rnd_in(0, 50)),
                  rnd_in(1, 100), LX_TIF_IOC);
    } else if (r < 983) { /* a deep sweep: a ladder emptied with levels below it */
        c = place(side, into_book(w, side, rnd_in(500, 8000)), rnd_in(1000, 50000), LX_TIF_IOC);
    } else {
        c = place(side, into_book(w, side, rnd_in(0, 3000)), rnd_in(1, 3000), LX_TIF_FOK);
    }
    apply(w, &c);
}

static void run_ladder(const ladder_shape_t *sh, long n, uint64_t seed, world_t *w) {
    memset(w, 0, sizeof *w);
    rng_state = seed;
    setup(w);
    w->failalloc = true;
    for (long i = 1; i <= n; i++) {
        /* up 40,000 ticks over the first half, back down over the second,
         * with a walk on top */
        long half = n / 2;
        int64_t trend = i < half ? 40000 * i / half : 40000 * (n - i) / half;
        int64_t mid = CENTER + trend + (int64_t)(rnd_in(-20, 20));
        ladder_cmd(w, sh, mid);
        if (i % CHECK_EVERY == 0) check_full(w);
    }
    check_full(w);
    printf("ladder (drains at %zu, %d in 10 up to %lld ticks behind): %ld commands (%llu out of "
           "memory on the way), ladders made %llu, given back %llu, moved up %llu, down %llu, "
           "empty above levels %llu, beside blocks %llu\n",
           sh->high, sh->far_in_10, (long long)sh->far, n, (unsigned long long)w->nomem,
           (unsigned long long)w->lad_made, (unsigned long long)w->lad_gone,
           (unsigned long long)w->lad_up, (unsigned long long)w->lad_down,
           (unsigned long long)w->lad_empty_far, (unsigned long long)w->lad_with_blocks);

    roundtrip_and_free(w);
}

/* A dense book whose mid trends far up and back down (the swing
 * workload's shape, in small): the sides' ladders are made, moved up and
 * down, emptied by sweeps while levels wait below them, and given back
 * when a side drains, and some orders land far behind the ladders (in the
 * touch arrays and blocks). Checked against the reference model as above,
 * every command with each of its allocations failing in turn first. */
static void test_ladder(void **state) {
    (void)state;
    world_t w;
    /* compact: ladders come and go */
    run_ladder(&(ladder_shape_t){3000, 1, 6000}, 300000, 11, &w);
    assert_true(w.lad_made >= 4 && w.lad_gone >= 2 && w.lad_up >= 10 && w.lad_down >= 10);
    assert_true(w.lad_empty_far >= 1 && w.nomem >= 100);
    /* wide: thousands of levels behind the ladders, in blocks */
    run_ladder(&(ladder_shape_t){16000, 4, 60000}, 150000, 12, &w);
    assert_true(w.lad_made >= 1 && w.lad_up >= 10 && w.lad_down >= 10);
    assert_true(w.lad_with_blocks >= 1 && w.nomem >= 100);
}

/* lx_engine_validate checks the ladder's summary word only for the words
 * the bitmap has: a stray bit above them would pass, and lx__lad_from
 * (snapshots, the walk's callers) would then read bits[] past its end. */
static void test_ladder_validate_summary(void **state) {
    (void)state;
    world_t w;
    memset(&w, 0, sizeof w);
    rng_state = 5;
    setup(&w);
    for (int i = 0; i < (int)(2 * LX__LAD_DENSE + LX__LAD_ON); i++) {
        lx_cmd_t c = place(LX_SIDE_BUY, CENTER - i, 1, LX_TIF_GTC);
        apply(&w, &c);
    }
    lx__lad_t *d = lx__lad(w.e, &w.e->markets[0], LX_SIDE_BUY);
    assert_non_null(d);
    char msg[512];
    assert_int_equal(lx_engine_validate(w.e, msg, sizeof msg), 0);
    if (LX__LAD_W / 64 < 64) {
        uint64_t saved = d->sum;
        d->sum |= 1ull << (LX__LAD_W / 64); /* no such word */
        int rc = lx_engine_validate(w.e, msg, sizeof msg);
        d->sum = saved;
        assert_int_not_equal(rc, 0);
    }
    inv_events_free(&w.got);
    inv_events_free(&w.want);
    ref_destroy(w.ref);
    lx_engine_destroy(w.e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_book),
        cmocka_unit_test(test_ladder),
        cmocka_unit_test(test_ladder_validate_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
