/*
 * test_snapshot_image.c: the engine image's loader (src/core/snapshot.c)
 * refuses what no command could have made, white box (core.h).
 *
 * The loader checks every count and index it reads, then the whole engine
 * with lx_engine_validate and the trailer with lx_engine_digest. An image
 * whose digest matches its content but whose content no command sequence
 * produces (a crafted file: the digest is no MAC) must still not load:
 * fees over the limit paid out more than the fill was worth, a 24-bit fee
 * reserve cut short, a text field that no longer encodes broke the event
 * codec. So each case here builds a real engine through commands, bends
 * one field the way no command would, checks that lx_engine_validate sees
 * it, saves (the trailer is then the bent state's own digest) and requires
 * lx_engine_load to answer LX_ECORRUPT; an unbent engine's image loads.
 * A version-1 image is answered LX_EVERSION (no longer read). A version-2
 * image (tests/data/engine_v2.img, written by 7b80112: the world below,
 * clearing off, an owner's SIGNED place with nonce 7) loads, checked by the
 * digest of its day: markets without a last event time, the key's one
 * nonce now both of its nonces. A version-3 image with fees
 * (tests/data/engine_v3.img) loads with its fee pool paid to the fee
 * account, to the state today's engine reaches from the same commands.
 *
 * Round trips and coverage: an engine with blocks on a side (more than
 * LX__TOUCH_MAX levels), tombstones, freed and reused slots, GTD ties,
 * switches, revoked and re-approved agents and nonces is saved, loaded
 * under another hash seed and both are fed one long random continuation:
 * the events of every command equal byte for byte, the digests and a final
 * image equal. The digest moves when any piece of state does (each field
 * of core.h bent in turn), and lx_engine_validate fails with the message
 * of the check its comment claims for each structure bent. It also checks
 * what the loader rebuilds and no image carries (the free-slot bitmap, the
 * deposit index), and a load that runs out of memory is LX_ENOMEM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/accounts.h"
#include "core/core.h"
#include "failalloc.h"
#include "lx/codec.h"
#include "lx/snapshot.h"
#include "membuf.h"

static uint64_t g_seq;

static void apply_ok(lx_engine_t *e, lx_cmd_t *c) {
    c->seq = ++g_seq;
    c->ts = 1000 + (int64_t)g_seq;
    assert_int_equal(lx_engine_apply(e, c, NULL), 0);
}

/* Three assets (the third unused), one market, an owner key and two agents
 * for account 3 (the limit), a resting buy; with clearing, account 3 has
 * deposited first and also rests a sell. */
static lx_engine_t *world_with(bool clearing) {
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.clearing = clearing;
    cfg.max_markets = 2;
    cfg.max_assets = 3;
    cfg.max_accounts = 8;
    cfg.max_orders = 64;
    cfg.max_agents_per_account = 2;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    g_seq = 0;
    lx_cmd_t c;
    for (uint32_t a = 0; a < 3; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_ASSET;
        c.u.create_asset.asset = a;
        snprintf(c.u.create_asset.symbol, sizeof c.u.create_asset.symbol, "%s",
                 a == 0   ? "BTC"
                 : a == 1 ? "USD"
                          : "ETH");
        c.u.create_asset.scale = 100;
        apply_ok(e, &c);
    }
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_MARKET;
    c.u.create_market = (lx_cmd_create_market_t){.market = 0,
                                                 .base = 0,
                                                 .quote = 1,
                                                 .tick_size = 100,
                                                 .lot_size = 100,
                                                 .min_price = 1,
                                                 .max_price = 1000000,
                                                 .max_qty = 1000,
                                                 .maker_fee = 10,
                                                 .taker_fee = 20};
    apply_ok(e, &c);
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_BIND_KEY;
    c.u.bind_key.account = 3;
    memset(c.u.bind_key.key, 0x33, 32);
    apply_ok(e, &c);
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_APPROVE_AGENT;
    c.u.approve_agent.account = 3;
    memset(c.u.approve_agent.key, 0x44, 32);
    snprintf(c.u.approve_agent.name, sizeof c.u.approve_agent.name, "bot");
    c.u.approve_agent.expiry = 1000000000;
    apply_ok(e, &c);
    memset(c.u.approve_agent.key, 0x55, 32); /* a second agent: the limit is 2 */
    apply_ok(e, &c);
    if (clearing) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_DEPOSIT;
        c.u.deposit =
            (lx_cmd_deposit_t){.account = 3, .asset = 1, .amount = 1000000, .deposit_id = 1};
        apply_ok(e, &c);
        c.u.deposit = (lx_cmd_deposit_t){.account = 3, .asset = 0, .amount = 1000, .deposit_id = 2};
        apply_ok(e, &c);
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){
            .account = 3, .market = 0, .side = LX_SIDE_SELL, .price = 60, .qty = 1, .client_id = 8};
        apply_ok(e, &c);
    }
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.u.place = (lx_cmd_place_t){
        .account = 3, .market = 0, .side = LX_SIDE_BUY, .price = 50, .qty = 2, .client_id = 7};
    apply_ok(e, &c);
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    return e;
}

static lx_engine_t *world(void) {
    return world_with(false);
}

/* The image of e, loaded: the load's return code. */
static int reload(const lx_engine_t *e) {
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
    lx_engine_t *f = NULL;
    int rc = lx_engine_load(&f, membuf_read, &img);
    if (rc == 0) {
        assert_true(lx_engine_digest(f) == lx_engine_digest(e));
        lx_engine_destroy(f);
    }
    membuf_free(&img);
    return rc;
}

static uint32_t key_of(const lx_engine_t *e, uint8_t byte) {
    for (uint32_t k = 0; k < e->nkeys; k++)
        if (e->keys[k].key[0] == byte) return k;
    fail();
    return 0;
}

enum {
    FEES_OVER,
    MAKER_OVER,
    BATCH_MODE,
    SYMBOL,
    NAME,
    ZERO_KEY,
    AGENTS,
    RESERVE_NO_CLEARING,
    GTD_PAST,
    /* with clearing */
    NO_BASE_RECORD,
    NEGATIVE_FEES,
    RESERVE_ON_SELL,
    CROSSED,
    NCASES
};

static lx__order_t *the_order(lx_engine_t *e, uint64_t cid) {
    uint32_t slot = lx__cid_find(e, 3, cid);
    assert_true(slot != LX__NIL);
    return &e->orders[slot];
}

static void bend(lx_engine_t *e, int which) {
    switch (which) {
    case FEES_OVER: /* 50 times the largest rate */
        e->markets[0].taker_fee = 50 * LX_FEE_RATE_MAX;
        break;
    case MAKER_OVER: /* a rebate larger than the taker fee */
        e->markets[0].maker_fee = -30;
        break;
    case BATCH_MODE: /* create_market refuses it: the engine has no auctions */
        e->markets[0].mode = LX_MODE_BATCH;
        break;
    case SYMBOL:
        e->assets[1].symbol[1] = '\t';
        break;
    case NAME:
        e->keys[key_of(e, 0x44)].name[0] = (char)0xc3;
        break;
    case ZERO_KEY: /* the owner key's bytes all zero (still indexed as they were) */
        memset(e->keys[key_of(e, 0x33)].key, 0, 32);
        break;
    case AGENTS: /* two agents where the limit is one */
        e->cfg.max_agents_per_account = 1;
        break;
    case RESERVE_NO_CLEARING: /* a fee reserve only a buy with clearing locks */
        the_order(e, 7)->fee_res = 5;
        break;
    case NO_BASE_RECORD: /* the market's base an asset account 3 has no record of:
                            its next fill had nowhere to put what it bought */
        e->markets[0].base = 2;
        break;
    case NEGATIVE_FEES: /* fees below 0 and supply with them: the sums still agree, but
                           a balance can then exceed the supply and overflow */
        e->assets[1].fees -= 1000;
        e->assets[1].supply -= 1000;
        break;
    case RESERVE_ON_SELL: /* the sell's lock is base: a reserve rate means nothing there */
        the_order(e, 8)->fee_res = 5;
        break;
    case GTD_PAST: { /* a GTD order still resting at its expiry: the last command's
                        expiries would have canceled it */
        uint32_t slot = lx__cid_find(e, 3, 7);
        e->orders[slot].tif = LX_TIF_GTD;
        assert_int_equal(lx__gtd_reserve(e), 0);
        lx__gtd_push(e, lx__gtd_set(e, slot, e->last_ts), e->last_seq);
        break;
    }
    case CROSSED: { /* the sell at 60 moved to 50, the buy's price: a crossed book */
        lx__side_t *s = &e->markets[0].side[LX_SIDE_SELL];
        assert_int_equal(s->n, 1);
        s->keys[0] = lx__key(LX_SIDE_SELL, 50);
        e->levels[s->lv[0]].price = 50;
        break;
    }
    }
}

static void test_bent_images_refused(void **state) {
    (void)state;
    lx_engine_t *e = world();
    assert_int_equal(reload(e), 0);
    lx_engine_destroy(e);
    e = world_with(true);
    assert_int_equal(reload(e), 0);
    lx_engine_destroy(e);
    for (int which = 0; which < NCASES; which++) {
        e = world_with(which > RESERVE_NO_CLEARING);
        bend(e, which);
        char msg[256];
        int v = lx_engine_validate(e, msg, sizeof msg);
        if (v != LX_ECORRUPT) fprintf(stderr, "case %d: validate passed\n", which);
        assert_int_equal(v, LX_ECORRUPT);
        int rc = reload(e);
        if (rc != LX_ECORRUPT) fprintf(stderr, "case %d: load returned %d\n", which, rc);
        assert_int_equal(rc, LX_ECORRUPT);
        lx_engine_destroy(e);
    }
}

static void test_version_1_refused(void **state) {
    (void)state;
    lx_engine_t *e = world();
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
    lx_put_u32(img.buf + 4, 1);
    lx_engine_t *f = NULL;
    assert_int_equal(lx_engine_load(&f, membuf_read, &img), LX_EVERSION);
    assert_null(f);
    membuf_free(&img);
    lx_engine_destroy(e);
}

/* An image file written by an older commit, of that version, loaded. */
static lx_engine_t *load_fixture(const char *path, uint32_t version) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    membuf_t img = {0};
    uint8_t b[4096];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    assert_true(n > 72 && n < sizeof b);
    assert_int_equal(membuf_write(&img, b, n), 0);
    assert_int_equal(lx_get_u32(img.buf + 4), version);
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_load(&e, membuf_read, &img), 0);
    membuf_free(&img);
    return e;
}

static void test_version_2_loads(void **state) {
    (void)state;
    lx_engine_t *e = load_fixture("tests/data/engine_v2.img", 2);
    assert_true(lx__digest(e, 2) == 0x27d27530f522f05aULL); /* as 7b80112 printed it */
    lx_market_info_t mi;
    assert_int_equal(lx_engine_market_info(e, 0, &mi), 0);
    assert_int_equal(mi.last_ts, 0);
    assert_int_equal(mi.orders, 1);
    uint8_t owner[32];
    memset(owner, 0x33, 32);
    lx_key_info_t k;
    assert_int_equal(lx_engine_key(e, owner, &k), 0);
    assert_int_equal(k.nonce, 7);
    assert_int_equal(k.nonce_all, 7);
    /* both kinds of command refuse nonce 7 and take 8 */
    lx_cmd_auth_t au;
    memset(&au, 0, sizeof au);
    au.scheme = LX_CMD_AUTH_SIGNED;
    memcpy(au.key, owner, 32);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL_ALL;
    c.u.cancel_all = (lx_cmd_cancel_all_t){.account = 3, .market = LX_MARKET_ALL};
    g_seq = 6;
    au.nonce = 7;
    c.seq = ++g_seq;
    c.ts = 2000;
    assert_int_equal(lx_engine_apply_auth(e, &c, &au, NULL), 0);
    assert_int_equal(lx_engine_market_info(e, 0, &mi), 0);
    assert_int_equal(mi.orders, 1); /* refused: NONCE_REPLAYED */
    au.nonce = 8;
    c.seq = ++g_seq;
    assert_int_equal(lx_engine_apply_auth(e, &c, &au, NULL), 0);
    assert_int_equal(lx_engine_market_info(e, 0, &mi), 0);
    assert_int_equal(mi.orders, 0);
    assert_int_equal(mi.last_ts, 2000);
    assert_int_equal(lx_engine_key(e, owner, &k), 0);
    assert_int_equal(k.nonce, 7); /* the one-shard kind is apart */
    assert_int_equal(k.nonce_all, 8);
    /* saved again, it is a version-3 image that loads to the same state */
    assert_int_equal(reload(e), 0);
    lx_engine_destroy(e);
}

static void apply_v3(lx_engine_t *e, lx_cmd_t *c) {
    c->seq = ++g_seq;
    c->ts = 1000 * (int64_t)g_seq;
    assert_int_equal(lx_engine_apply(e, c, NULL), 0);
}

/* The commands tests/data/engine_v3.img was written after (by 278a840,
 * image version 3: fees in a pool of each asset, in no account): clearing,
 * maker -1000 taker 2000, account 0 (the fee account today) selling. */
static void v3_history(lx_engine_t *e) {
    g_seq = 0;
    lx_cmd_t c;
    for (uint32_t a = 0; a < 2; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_ASSET;
        c.u.create_asset.asset = a;
        c.u.create_asset.scale = 1;
        memcpy(c.u.create_asset.symbol, a ? "QUOTE" : "BASE", a ? 5 : 4);
        apply_v3(e, &c);
    }
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_MARKET;
    c.u.create_market = (lx_cmd_create_market_t){.market = 0,
                                                 .base = 0,
                                                 .quote = 1,
                                                 .tick_size = 1,
                                                 .lot_size = 1,
                                                 .min_price = 1,
                                                 .max_price = 1000,
                                                 .max_qty = 1000,
                                                 .maker_fee = -1000,
                                                 .taker_fee = 2000};
    apply_v3(e, &c);
    const struct {
        uint32_t account, asset;
        int64_t amount;
    } dep[] = {{1, 1, 100000}, {2, 0, 100}, {0, 0, 10}};
    for (int i = 0; i < 3; i++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_DEPOSIT;
        c.u.deposit = (lx_cmd_deposit_t){.account = dep[i].account,
                                         .asset = dep[i].asset,
                                         .amount = dep[i].amount,
                                         .deposit_id = (uint64_t)i + 1};
        apply_v3(e, &c);
    }
    const struct {
        uint32_t account;
        uint8_t side;
        int64_t price, qty;
    } pl[] = {{2, LX_SIDE_SELL, 500, 20},
              {0, LX_SIDE_SELL, 400, 10},
              {1, LX_SIDE_BUY, 500, 25},
              {1, LX_SIDE_BUY, 300, 5}};
    for (int i = 0; i < 4; i++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = pl[i].account,
                                     .market = 0,
                                     .side = pl[i].side,
                                     .price = pl[i].price,
                                     .qty = pl[i].qty,
                                     .tif = LX_TIF_GTC};
        apply_v3(e, &c);
    }
}

/* A version-3 image with clearing (tests/data/engine_v3.img) loads, checked
 * by the digest of its day (0xe0185a6b34b05dd3 as 278a840 printed it); its
 * fee pool (12: taker 8 and 15, rebates 4 and 7) becomes account 0's, on
 * top of the 4004 account 0 took as a maker, and the loaded state is the
 * one today's engine reaches from the same commands by the rules the
 * image ran (rules 1, which the loaded engine keeps): the same digest. */
static void test_version_3_migrates(void **state) {
    (void)state;
    lx_engine_t *e = load_fixture("tests/data/engine_v3.img", 3);
    assert_int_equal(lx_engine_config(e)->fee_account, 0);
    lx_asset_info_t ai;
    assert_int_equal(lx_engine_asset_info(e, 1, &ai), 0);
    assert_int_equal(ai.fees, 12);
    int64_t fr = 0, lk = 0;
    assert_int_equal(lx_engine_balance(e, 0, 1, &fr, &lk), 0);
    assert_int_equal(fr, 4004 + 12);
    assert_int_equal(lk, 0);

    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = 4;
    cfg.max_assets = 4;
    cfg.max_accounts = 16;
    cfg.max_orders = 64;
    assert_int_equal(lx_engine_config(e)->rules, LX_RULES_1);
    cfg.rules = LX_RULES_1;
    lx_engine_t *r = NULL;
    assert_int_equal(lx_engine_create(&r, &cfg), 0);
    v3_history(r);
    assert_true(lx_engine_digest(r) == lx_engine_digest(e));
    /* and the two go on alike: the fee account withdraws its fees */
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_WITHDRAW;
    c.u.withdraw = (lx_cmd_withdraw_t){.account = 0, .asset = 1, .amount = 4016};
    lx_cmd_t c2 = c;
    apply_v3(e, &c);
    c2.seq = c.seq;
    c2.ts = c.ts;
    assert_int_equal(lx_engine_apply(r, &c2, NULL), 0);
    assert_int_equal(lx_engine_balance(e, 0, 1, &fr, &lk), 0);
    assert_int_equal(fr, 0);
    assert_true(lx_engine_digest(r) == lx_engine_digest(e));
    /* saved again, it is a version-4 image that loads to the same state */
    assert_int_equal(reload(e), 0);
    lx_engine_destroy(r);
    lx_engine_destroy(e);
}

/* ---- round trip under a long continuation -------------------------------- */

/* Events of one engine, kept for comparison byte for byte. */
typedef struct {
    lx_event_t *ev;
    size_t n, cap;
} rt_events_t;

static void rt_collect(void *ctx, const lx_event_t *ev) {
    rt_events_t *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        assert_non_null(s->ev);
    }
    s->ev[s->n++] = *ev;
}

typedef struct {
    uint64_t rng;
    uint64_t seq;
    int64_t ts;
    lx_order_id_t ids[256]; /* recently accepted ids: cancels and amends aim at them */
    uint32_t nids;
    uint64_t cid[16]; /* last client id per account */
    bool deep_cancel; /* cancel-alls may take the deep books' owners (10, 11) */
} rt_gen_t;

#define RT_ACCOUNTS 12

static uint64_t rt_u64(rt_gen_t *g) {
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int64_t rt_in(rt_gen_t *g, int64_t lo, int64_t hi) {
    return lo + (int64_t)(rt_u64(g) % (uint64_t)(hi - lo + 1));
}

static void rt_owner(uint8_t k[32], uint32_t a) {
    memset(k, (int)(a + 1), 32);
}
static void rt_agent(uint8_t k[32], uint32_t a, uint32_t j) {
    memset(k, (int)(0x80 + a * 4 + j), 32);
}

/* Applies c (stamped next) to every engine in es[0..n) with the same auth;
 * the events of each go to ev[i] (if ev). Asserts every return is 0. */
static void rt_apply(rt_gen_t *g, lx_engine_t **es, int n, lx_cmd_t *c, const lx_cmd_auth_t *au,
                     rt_events_t *ev) {
    c->seq = ++g->seq;
    c->ts = g->ts;
    for (int i = 0; i < n; i++) {
        lx_sink_t sink = {rt_collect, ev ? &ev[i] : NULL};
        assert_int_equal(lx_engine_apply_auth(es[i], c, au, ev ? &sink : NULL), 0);
    }
}

/* The world: assets 0 (BASE), 1 (QUOTE), 2 (ALT); markets 0 (0/1, a
 * maker rebate) and 1 (2/1); accounts 0..RT_ACCOUNTS-1 funded, owner keys
 * for 1.., two agents of 1 and 2. */
static lx_engine_t *rt_engine(bool clearing, uint32_t max_orders) {
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.clearing = clearing;
    cfg.max_markets = 2;
    cfg.max_assets = 3;
    cfg.max_accounts = 16;
    cfg.max_orders = max_orders;
    cfg.max_agents_per_account = 2;
    cfg.deadman_min_lead_ns = 1000;
    cfg.fee_account = 0;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    return e;
}

static void rt_setup(rt_gen_t *g, lx_engine_t **es, int n) {
    lx_cmd_t c;
    const char *sym[3] = {"BASE", "QUOTE", "ALT"};
    for (uint32_t a = 0; a < 3; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_ASSET;
        c.u.create_asset.asset = a;
        snprintf(c.u.create_asset.symbol, sizeof c.u.create_asset.symbol, "%s", sym[a]);
        c.u.create_asset.scale = 1;
        rt_apply(g, es, n, &c, NULL, NULL);
    }
    for (uint32_t m = 0; m < 2; m++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_MARKET;
        c.u.create_market = (lx_cmd_create_market_t){.market = m,
                                                     .base = m ? 2 : 0,
                                                     .quote = 1,
                                                     .tick_size = 1,
                                                     .lot_size = 1,
                                                     .min_price = 1,
                                                     .max_price = 1000000,
                                                     .max_qty = 1000,
                                                     .maker_fee = m ? 5 : -100,
                                                     .taker_fee = 300};
        rt_apply(g, es, n, &c, NULL, NULL);
    }
    for (uint32_t a = 0; a < RT_ACCOUNTS; a++)
        for (uint32_t as = 0; as < 3; as++) {
            memset(&c, 0, sizeof c);
            c.type = LX_CMD_DEPOSIT;
            c.u.deposit = (lx_cmd_deposit_t){.account = a,
                                             .asset = as,
                                             .amount = (int64_t)1 << 50,
                                             .deposit_id = 1000 + a * 3 + as};
            rt_apply(g, es, n, &c, NULL, NULL);
        }
    for (uint32_t a = 1; a < RT_ACCOUNTS; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_BIND_KEY;
        c.u.bind_key.account = a;
        rt_owner(c.u.bind_key.key, a);
        rt_apply(g, es, n, &c, NULL, NULL);
    }
}

/* A place for account a: price near mid on its side (or anywhere), GTD
 * expiries on a coarse grid so that several orders share one. */
static void rt_place(rt_gen_t *g, lx_cmd_t *c, uint32_t a, uint32_t m, int side, int64_t price) {
    memset(c, 0, sizeof *c);
    c->type = LX_CMD_PLACE;
    lx_cmd_place_t *p = &c->u.place;
    p->account = a;
    p->market = m;
    p->side = (uint8_t)side;
    p->price = price;
    p->qty = rt_in(g, 1, 20);
    p->client_id = ++g->cid[a];
    int k = (int)rt_in(g, 0, 99);
    if (k < 35)
        p->tif = LX_TIF_GTC;
    else if (k < 65) {
        p->tif = LX_TIF_GTD;
        p->expiry = (g->ts / 10000 + rt_in(g, 1, 4)) * 10000; /* ties */
    } else if (k < 80)
        p->tif = LX_TIF_IOC;
    else if (k < 88)
        p->tif = LX_TIF_POST_ONLY;
    else if (k < 93)
        p->tif = LX_TIF_FOK;
    else {
        p->type = LX_ORDER_MARKET;
        p->tif = LX_TIF_IOC;
    }
    p->stp = (uint8_t)rt_in(g, 0, LX_STP_DECREMENT);
    if (rt_in(g, 0, 9) == 0) p->client_id = 0;
}

/* One random command (and its auth). */
static void rt_next(rt_gen_t *g, lx_cmd_t *c, lx_cmd_auth_t *au) {
    memset(c, 0, sizeof *c);
    memset(au, 0, sizeof *au);
    uint32_t a = (uint32_t)rt_in(g, 1, 9);
    uint32_t m = (uint32_t)rt_in(g, 0, 1);
    int k = (int)rt_in(g, 0, 999);
    g->ts += rt_in(g, 0, 30);
    if (k < 450) {
        int side = (int)rt_in(g, 0, 1);
        int64_t price = side == LX_SIDE_BUY ? rt_in(g, 49900, 50010) : rt_in(g, 49990, 50100);
        rt_place(g, c, a, m, side, price);
    } else if (k < 600) {
        c->type = LX_CMD_CANCEL;
        c->u.cancel.account = a;
        c->u.cancel.market = m;
        if (rt_in(g, 0, 1) && g->nids) {
            lx_order_id_t id = g->ids[rt_u64(g) % (g->nids < 256 ? g->nids : 256)];
            c->u.cancel.order_id = id;
        } else {
            c->u.cancel.by_client_id = 1;
            c->u.cancel.client_id = g->cid[a] - (uint64_t)rt_in(g, 0, 40);
        }
    } else if (k < 720) {
        c->type = LX_CMD_AMEND;
        c->u.amend.account = a;
        c->u.amend.market = m;
        c->u.amend.by_client_id = 1;
        c->u.amend.client_id = g->cid[a] - (uint64_t)rt_in(g, 0, 40);
        c->u.amend.price = rt_in(g, 49950, 50050);
        c->u.amend.qty = rt_in(g, 1, 25);
    } else if (k < 740) {
        c->type = LX_CMD_CANCEL_ALL;
        c->u.cancel_all.account =
            g->deep_cancel && rt_in(g, 0, 99) == 0 ? 10 + (uint32_t)rt_in(g, 0, 1) : a;
        c->u.cancel_all.market = rt_in(g, 0, 2) ? LX_MARKET_ALL : m;
        c->u.cancel_all.reason = (uint8_t)rt_in(g, 0, 1);
    } else if (k < 820) {
        c->type = LX_CMD_TICK;
        g->ts += rt_in(g, 0, 6000);
    } else if (k < 860) {
        c->type = LX_CMD_SCHEDULE_CANCEL;
        c->u.schedule_cancel.account = a;
        c->u.schedule_cancel.deadline = rt_in(g, 0, 4) ? g->ts + rt_in(g, 1000, 30000) : 0;
    } else if (k < 890) {
        c->type = LX_CMD_APPROVE_AGENT;
        c->u.approve_agent.account = a % 3 + 1;
        rt_agent(c->u.approve_agent.key, a % 3 + 1, (uint32_t)rt_in(g, 0, 2));
        snprintf(c->u.approve_agent.name, sizeof c->u.approve_agent.name, "bot%d",
                 (int)rt_in(g, 0, 9));
        c->u.approve_agent.expiry = g->ts + rt_in(g, 1, 50000);
    } else if (k < 910) {
        c->type = LX_CMD_REVOKE_AGENT;
        c->u.revoke_agent.account = a % 3 + 1;
        rt_agent(c->u.revoke_agent.key, a % 3 + 1, (uint32_t)rt_in(g, 0, 2));
    } else if (k < 940) {
        c->type = LX_CMD_TRANSFER;
        c->u.transfer = (lx_cmd_transfer_t){
            .from = a, .to = (uint32_t)rt_in(g, 0, RT_ACCOUNTS - 1), .asset = m, .amount = 77};
    } else if (k < 960) {
        c->type = LX_CMD_WITHDRAW;
        c->u.withdraw = (lx_cmd_withdraw_t){.account = a, .asset = 1, .amount = 5};
    } else if (k < 975) {
        c->type = LX_CMD_DEPOSIT;
        c->u.deposit = (lx_cmd_deposit_t){
            .account = a, .asset = 1, .amount = 9, .deposit_id = (uint64_t)rt_in(g, 1, 5000)};
    } else if (k < 985) {
        c->type = LX_CMD_SET_FEES;
        c->u.set_fees = (lx_cmd_set_fees_t){
            .market = m, .maker_fee = (int32_t)rt_in(g, -50, 50), .taker_fee = 400};
    } else {
        c->type = LX_CMD_SET_MARKET_STATE;
        c->u.set_market_state.market = m;
        c->u.set_market_state.halted = rt_in(g, 0, 3) == 0;
    }
    /* auth: the owner or an agent, signed with a fresh or a replayed nonce,
     * or a session */
    int w = (int)rt_in(g, 0, 9);
    if (w < 3) {
        au->scheme = LX_CMD_AUTH_SIGNED;
        rt_owner(au->key, lx_cmd_account(c) < RT_ACCOUNTS ? lx_cmd_account(c) : a);
        au->nonce = rt_in(g, 0, 3) ? g->seq + 1 : (uint64_t)rt_in(g, 0, g->seq + 1);
    } else if (w < 5) {
        au->scheme = rt_in(g, 0, 1) ? LX_CMD_AUTH_SIGNED : LX_CMD_AUTH_SESSION;
        uint32_t o = a % 3 + 1;
        rt_agent(au->key, o, (uint32_t)rt_in(g, 0, 2));
        au->nonce = g->seq + 1;
    }
}

/* Notes the ids the events accepted (stale ones later name reused slots). */
static void rt_observe(rt_gen_t *g, const rt_events_t *ev, size_t from) {
    for (size_t i = from; i < ev->n; i++)
        if (ev->ev[i].type == LX_EV_ORDER_ACCEPTED)
            g->ids[g->nids++ % 256] = ev->ev[i].u.accepted.order_id;
}

/* A history that leaves: more than LX__TOUCH_MAX levels a side in market 0
 * (blocks), tombstones in the blocks and the touch array, freed and reused
 * slots, GTD orders with tied expiries, switches armed, agents revoked and
 * re-approved, nonces recorded. */
static void rt_history(rt_gen_t *g, lx_engine_t *e, uint32_t nrandom) {
    lx_cmd_t c;
    lx_cmd_auth_t au;
    rt_events_t ev = {0};
    uint32_t nl = LX__TOUCH_MAX + LX__TOUCH_MAX / 4;
    for (uint32_t i = 0; i < nl; i++) { /* deep sides, a GTD order in four */
        rt_place(g, &c, 11, 0, LX_SIDE_BUY, 10000 + i);
        c.u.place.tif = i % 4 ? LX_TIF_GTC : LX_TIF_GTD;
        c.u.place.type = LX_ORDER_LIMIT;
        c.u.place.expiry = 3000000 + (int64_t)(i % 3) * 1000;
        rt_apply(g, &e, 1, &c, NULL, NULL);
        rt_place(g, &c, 10, 0, LX_SIDE_SELL, 90000 + i);
        c.u.place.tif = LX_TIF_GTC;
        c.u.place.type = LX_ORDER_LIMIT;
        rt_apply(g, &e, 1, &c, NULL, NULL);
    }
    for (uint32_t i = 0; i < nl; i += 3) { /* tombstones, low slots freed */
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CANCEL;
        c.u.cancel =
            (lx_cmd_cancel_t){.account = 11, .market = 0, .by_client_id = 1, .client_id = 1 + i};
        rt_apply(g, &e, 1, &c, NULL, NULL);
    }
    for (uint32_t i = 0; i < nrandom; i++) {
        rt_next(g, &c, &au);
        size_t from = ev.n;
        rt_apply(g, &e, 1, &c, &au, &ev);
        rt_observe(g, &ev, from);
        if (ev.n > 100000) ev.n = 0;
    }
    free(ev.ev);
    char msg[256];
    int v = lx_engine_validate(e, msg, sizeof msg);
    if (v) fprintf(stderr, "history: %s\n", msg);
    assert_int_equal(v, 0);
}

/* e saved and loaded into f (seeded with another hash seed than e's), then
 * both fed the same long random continuation: every command's events
 * equal byte for byte, the digests equal along the way, both valid, and a
 * save of each at the end byte-identical. */
static void rt_check(rt_gen_t *g, lx_engine_t *e, uint32_t ncont) {
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
    lx_engine_t *f = NULL;
    assert_int_equal(lx_engine_load(&f, membuf_read, &img), 0);
    membuf_free(&img);
    const uint64_t seed[2] = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    assert_int_equal(lx_engine_seed_hashes(f, seed), 0);
    assert_true(lx_engine_digest(f) == lx_engine_digest(e));
    lx_engine_t *es[2] = {e, f};
    rt_events_t ev[2] = {{0}, {0}};
    g->deep_cancel = true;
    for (uint32_t i = 0; i < ncont; i++) {
        lx_cmd_t c;
        lx_cmd_auth_t au;
        rt_next(g, &c, &au);
        ev[0].n = ev[1].n = 0;
        rt_apply(g, es, 2, &c, &au, ev);
        rt_observe(g, &ev[0], 0);
        if (ev[0].n != ev[1].n ||
            (ev[0].n && memcmp(ev[0].ev, ev[1].ev, ev[0].n * sizeof *ev[0].ev) != 0)) {
            fprintf(stderr,
                    "continuation command %u (seq %llu, type %d): events differ (%zu vs %zu)\n", i,
                    (unsigned long long)c.seq, c.type, ev[0].n, ev[1].n);
            for (size_t j = 0; j < ev[0].n || j < ev[1].n; j++) {
                if (j < ev[0].n)
                    fprintf(stderr, "  saved  %zu: type %d market %u\n", j, ev[0].ev[j].type,
                            ev[0].ev[j].market);
                if (j < ev[1].n)
                    fprintf(stderr, "  loaded %zu: type %d market %u\n", j, ev[1].ev[j].type,
                            ev[1].ev[j].market);
            }
            fail();
        }
        if (i % 256 == 0 || i + 1 == ncont) assert_true(lx_engine_digest(f) == lx_engine_digest(e));
    }
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    assert_int_equal(lx_engine_validate(f, msg, sizeof msg), 0);
    membuf_t a = {0}, b = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &a), 0);
    assert_int_equal(lx_engine_save(f, membuf_write, &b), 0);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.buf, b.buf, a.n);
    membuf_free(&a);
    membuf_free(&b);
    free(ev[0].ev);
    free(ev[1].ev);
    lx_engine_destroy(f);
}

static void test_roundtrip_continuation(void **state) {
    (void)state;
    for (int clearing = 0; clearing < 2; clearing++) {
        for (uint64_t s = 1; s <= 3; s++) {
            rt_gen_t g;
            memset(&g, 0, sizeof g);
            g.rng = s * 1000 + (uint64_t)clearing;
            g.ts = 1000000;
            lx_engine_t *e = rt_engine(clearing, 4 * LX__TOUCH_MAX + 4096);
            const uint64_t seed[2] = {s, ~s};
            assert_int_equal(lx_engine_seed_hashes(e, seed), 0);
            rt_setup(&g, &e, 1);
            rt_history(&g, e, 6000);
            rt_check(&g, e, 20000);
            lx_engine_destroy(e);
        }
    }
}

/* ---- the digest sees every piece of state ------------------------------- */

static uint64_t dg_base;
static int dg_missed;

static void dg_check(const lx_engine_t *e, const char *what) {
    uint64_t d = lx_engine_digest(e);
    if (d == dg_base) {
        fprintf(stderr, "digest blind to: %s\n", what);
        dg_missed++;
    }
}

/* Sets lv to v, checks the digest moved, puts lv back. */
#define DG_FLIP(e, lv, v)                                                                          \
    do {                                                                                           \
        __typeof__((lv) + 0) dg_old_ = (lv);                                                       \
        (lv) = (v);                                                                                \
        dg_check((e), #lv);                                                                        \
        (lv) = dg_old_;                                                                            \
        assert_true(lx_engine_digest(e) == dg_base);                                               \
    } while (0)

/* Swaps the first two orders of a doubly linked list given by head/tail
 * and next/prev member names. */
static void dg_swap_fifo(lx_engine_t *e, lx__level_t *l) {
    uint32_t a = l->head, b = e->orders[a].next;
    assert_true(b != LX__NIL && e->orders[b].next == LX__NIL);
    l->head = b;
    l->tail = a;
    e->orders[b].prev = LX__NIL;
    e->orders[b].next = a;
    e->orders[a].prev = b;
    e->orders[a].next = LX__NIL;
}

static void dg_swap_acct(lx_engine_t *e, lx__account_t *ac) {
    uint32_t a = ac->head, b = e->orders[a].acct_next;
    assert_true(b != LX__NIL && e->orders[b].acct_next == LX__NIL);
    ac->head = b;
    ac->tail = a;
    e->orders[b].acct_prev = LX__NIL;
    e->orders[b].acct_next = a;
    e->orders[a].acct_prev = b;
    e->orders[a].acct_next = LX__NIL;
}

/* A small world with clearing: slot 0 account 1 GTD buy 5 @ 100, 2 of it
 * filled; slot 1 account 2 buy 3 @ 100 behind it; slot 2 account 1 buy 4 @
 * 99; slot 3 account 3 GTD sell 4 @ 200 (same expiry); slot 4 freed; the
 * switches of accounts 1 and 2; an agent of account 1; account 6 signed. */
static lx_engine_t *small_world(void) {
    rt_gen_t g;
    memset(&g, 0, sizeof g);
    g.rng = 5;
    g.ts = 1000000;
    lx_engine_t *e = rt_engine(true, 256);
    rt_setup(&g, &e, 1);
    lx_cmd_t c;
    lx_cmd_auth_t au;
    memset(&au, 0, sizeof au);
    /* slot 0: account 1 GTD buy 5 @ 100 (partly filled below); slot 1:
     * account 2 buy 3 @ 100 (same level, behind); slot 2: account 1 buy
     * @ 99; slot 3: account 3 GTD sell @ 200 (same expiry); slot 4 taken
     * and freed */
    struct {
        uint32_t a;
        int side;
        int64_t price, qty;
        uint8_t tif;
    } pl[] = {{1, LX_SIDE_BUY, 100, 5, LX_TIF_GTD},
              {2, LX_SIDE_BUY, 100, 3, LX_TIF_GTC},
              {1, LX_SIDE_BUY, 99, 4, LX_TIF_GTC},
              {3, LX_SIDE_SELL, 200, 4, LX_TIF_GTD},
              {4, LX_SIDE_BUY, 98, 1, LX_TIF_GTC}};
    for (int i = 0; i < 5; i++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = pl[i].a,
                                     .market = 0,
                                     .side = (uint8_t)pl[i].side,
                                     .price = pl[i].price,
                                     .qty = pl[i].qty,
                                     .tif = pl[i].tif,
                                     .client_id = 10 + (uint64_t)i,
                                     .expiry = 5000000};
        rt_apply(&g, &e, 1, &c, NULL, NULL);
    }
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL;
    c.u.cancel = (lx_cmd_cancel_t){.account = 4, .market = 0, .by_client_id = 1, .client_id = 14};
    rt_apply(&g, &e, 1, &c, NULL, NULL);
    memset(&c, 0, sizeof c); /* a taker fills 2 of slot 0 */
    c.type = LX_CMD_PLACE;
    c.u.place = (lx_cmd_place_t){
        .account = 5, .market = 0, .side = LX_SIDE_SELL, .price = 100, .qty = 2, .tif = LX_TIF_IOC};
    rt_apply(&g, &e, 1, &c, NULL, NULL);
    for (uint32_t a = 1; a <= 2; a++) { /* two switches */
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_SCHEDULE_CANCEL;
        c.u.schedule_cancel = (lx_cmd_schedule_cancel_t){.account = a, .deadline = 9000000 + a};
        rt_apply(&g, &e, 1, &c, NULL, NULL);
    }
    memset(&c, 0, sizeof c); /* an agent of account 1 */
    c.type = LX_CMD_APPROVE_AGENT;
    c.u.approve_agent.account = 1;
    rt_agent(c.u.approve_agent.key, 1, 0);
    snprintf(c.u.approve_agent.name, sizeof c.u.approve_agent.name, "bot");
    c.u.approve_agent.expiry = 8000000;
    rt_apply(&g, &e, 1, &c, NULL, NULL);
    memset(&c, 0, sizeof c); /* a signed command: nonces */
    c.type = LX_CMD_CANCEL_ALL;
    c.u.cancel_all = (lx_cmd_cancel_all_t){.account = 6, .market = LX_MARKET_ALL};
    au.scheme = LX_CMD_AUTH_SIGNED;
    rt_owner(au.key, 6);
    au.nonce = 77;
    rt_apply(&g, &e, 1, &c, &au, NULL);
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    assert_int_equal(e->ngtd, 2);
    assert_int_equal(e->ndms, 2);
    assert_int_equal(e->orders[0].filled, 2);
    assert_int_equal(e->slot_hwm, 5);

    return e;
}

static void test_digest_covers_state(void **state) {
    (void)state;
    lx_engine_t *e = small_world();
    lx_cmd_auth_t au;
    rt_owner(au.key, 6);
    dg_base = lx_engine_digest(e);
    dg_missed = 0;
    lx__market_t *m = &e->markets[0];
    lx__order_t *o = &e->orders[0];
    DG_FLIP(e, e->last_seq, e->last_seq + 1);
    DG_FLIP(e, e->last_ts, e->last_ts + 1);
    DG_FLIP(e, m->seq, m->seq + 1);
    DG_FLIP(e, m->last_ts, m->last_ts + 1);
    DG_FLIP(e, m->last_price, m->last_price + 1);
    DG_FLIP(e, m->halted, 1);
    DG_FLIP(e, m->maker_fee, m->maker_fee + 1);
    DG_FLIP(e, m->taker_fee, m->taker_fee + 1);
    DG_FLIP(e, m->max_qty, m->max_qty - 1);
    DG_FLIP(e, m->min_price, m->min_price + 1);
    DG_FLIP(e, m->max_price, m->max_price - 1);
    DG_FLIP(e, e->tick_size[0], e->tick_size[0] + 1);
    DG_FLIP(e, m->lot_size, m->lot_size + 1);
    DG_FLIP(e, o->gen, o->gen + 1);
    DG_FLIP(e, o->filled, o->filled + 1);
    DG_FLIP(e, o->remaining, o->remaining + 1);
    DG_FLIP(e, o->fee_res, o->fee_res + 1);
    DG_FLIP(e, o->stp, LX_STP_DECREMENT);
    DG_FLIP(e, o->tif, LX_TIF_POST_ONLY);
    DG_FLIP(e, o->type, LX_ORDER_MARKET);
    DG_FLIP(e, o->client_id, o->client_id + 100);
    DG_FLIP(e, o->account, 7);
    DG_FLIP(e, e->orders[4].gen, e->orders[4].gen + 1); /* a free slot: a future id */
    DG_FLIP(e, e->slot_hwm, e->slot_hwm + 1);
    DG_FLIP(e, e->gtx[lx__gtd_find(e, 0)].expiry, 5000001);
    DG_FLIP(e, e->gtd[0].seq, e->gtd[0].seq + 1);
    DG_FLIP(e, e->gtd[0].expiry, e->gtd[0].expiry + 1);
    DG_FLIP(e, e->dms[0].deadline, e->dms[0].deadline + 1);
    DG_FLIP(e, e->dms[1].account, 9);
    DG_FLIP(e, e->balances[3].free, e->balances[3].free + 1);
    DG_FLIP(e, e->balances[3].locked, e->balances[3].locked + 1);
    DG_FLIP(e, e->deposit_ids[2], 999999);
    DG_FLIP(e, e->assets[1].supply, e->assets[1].supply + 1);
    DG_FLIP(e, e->assets[1].fees, e->assets[1].fees + 1);
    DG_FLIP(e, e->assets[1].scale, e->assets[1].scale + 1);
    DG_FLIP(e, e->assets[1].symbol[0], 'X');
    uint32_t k6 = lx__key_find(e, au.key);
    DG_FLIP(e, e->keys[k6].nonce, e->keys[k6].nonce + 1);
    DG_FLIP(e, e->keys[k6].nonce_all, e->keys[k6].nonce_all + 1);
    DG_FLIP(e, e->keys[k6].account, 5);
    uint8_t ak[32];
    rt_agent(ak, 1, 0);
    uint32_t ka = lx__key_find(e, ak);
    DG_FLIP(e, e->keys[ka].role, LX_KEY_REVOKED);
    DG_FLIP(e, e->keys[ka].expiry, e->keys[ka].expiry + 1);
    DG_FLIP(e, e->keys[ka].name[0], 'c');
    DG_FLIP(e, e->keys[ka].key[31], 0x01);
    DG_FLIP(e, e->cfg.max_open_orders_per_account, 3);
    DG_FLIP(e, e->cfg.deadman_min_lead_ns, 2000);
    DG_FLIP(e, e->cfg.max_agents_per_account, 3);
    DG_FLIP(e, e->cfg.fee_account, 1);
    /* the FIFO of level 100 and account 1's list, each in the other order */
    lx__level_t *l = &e->levels[e->orders[0].level];
    dg_swap_fifo(e, l);
    dg_check(e, "level FIFO order");
    dg_swap_fifo(e, l);
    assert_true(lx_engine_digest(e) == dg_base);
    dg_swap_acct(e, &e->accounts[1]);
    dg_check(e, "account open-order list order");
    dg_swap_acct(e, &e->accounts[1]);
    assert_true(lx_engine_digest(e) == dg_base);
    assert_int_equal(dg_missed, 0);
    lx_engine_destroy(e);
}

/* ---- lx_engine_validate catches what it claims to ----------------------- */

/* The touch array entry of the level at price on side s of market 0. */
static uint32_t vc_entry(lx_engine_t *e, int side, int64_t price) {
    lx__side_t *s = &e->markets[0].side[side];
    for (uint32_t i = 0; i < s->n; i++)
        if (e->levels[s->lv[i]].price == price) return i;
    fail();
    return 0;
}

static uint32_t vc_key(const lx_engine_t *e, uint8_t byte) {
    for (uint32_t k = 0; k < e->nkeys; k++)
        if (e->keys[k].key[0] == byte) return k;
    fail();
    return 0;
}

/* Each bend breaks one thing lx_engine_validate's comment says it checks,
 * the way a bug (or a crafted image) would; validate must fail with the
 * message of that check. */
typedef struct {
    const char *what, *expect;
} vc_case_t;

static const vc_case_t VC[] = {
    {"keys out of order", "not ascending"},
    {"a key naming a level of another price", "has market"},
    {"the book crossed", "crossed"},
    {"FIFO prev link", "prev link broken"},
    {"order on another level", "level"},
    {"order on the wrong side", "wrong side"},
    {"resting with nothing remaining", "nothing remaining"},
    {"level qty", "orders sum to"},
    {"level count", "orders sum to"},
    {"FIFO tail", "tail link broken"},
    {"market order count", "orders counted"},
    {"slots in use", "slots in use"},
    {"levels in use", "levels on sides"},
    {"account list prev link", "prev link broken"},
    {"account count", "count or tail"},
    {"per-account limit", "over the limit"},
    {"client id not indexed", "not indexed"},
    {"negative balance", "negative"},
    {"locked vs locks", "its orders lock"},
    {"supply", "supply"},
    {"fee account record", "fee account record"},
    {"GTD heap order", "out of order"},
    {"GTD order not GTD", "GTD orders rest"},
    {"GTD past due", "past its expiry"},
    {"GTD heap expiry vs table", "not its table entry"},
    {"switch heap order", "out of order"},
    {"switch not pointing back", "does not point back"},
    {"another account claims a switch", "claim a switch"},
    {"switch deadline", "deadline"},
    {"key not indexed", "key index"},
    {"key account", "of account"},
    {"key role", "role"},
    {"owner key not its account's", "is not its account"},
    {"an account names an agent key", "name an owner key"},
    {"agent count", "agent count"},
    {"market last_ts", "last event"},
    {"asset scale", "symbol or scale"},
};

static void vc_bend(lx_engine_t *e, int which) {
    lx__market_t *m = &e->markets[0];
    lx__side_t *bs = &m->side[LX_SIDE_BUY], *as = &m->side[LX_SIDE_SELL];
    lx__order_t *o0 = &e->orders[0], *o1 = &e->orders[1];
    uint32_t i100 = vc_entry(e, LX_SIDE_BUY, 100), i99 = vc_entry(e, LX_SIDE_BUY, 99);
    lx__level_t *l100 = &e->levels[bs->lv[i100]];
    switch (which) {
    case 0: { /* swap the two bid entries, keys and levels together */
        int64_t k = bs->keys[i100];
        uint32_t l = bs->lv[i100];
        bs->keys[i100] = bs->keys[i99];
        bs->lv[i100] = bs->lv[i99];
        bs->keys[i99] = k;
        bs->lv[i99] = l;
        break;
    }
    case 1:
        e->levels[bs->lv[i99]].price = 98;
        break;
    case 2: { /* the ask (a sell locks base: its lock does not move) at 100 */
        uint32_t ia = vc_entry(e, LX_SIDE_SELL, 200);
        e->levels[as->lv[ia]].price = 100;
        as->keys[ia] = lx__key(LX_SIDE_SELL, 100);
        break;
    }
    case 3:
        o1->prev = LX__NIL;
        break;
    case 4:
        o1->level = bs->lv[i99];
        break;
    case 5:
        o1->side = LX_SIDE_SELL;
        break;
    case 6:
        l100->qty -= o1->remaining;
        o1->remaining = 0;
        break;
    case 7:
        l100->qty++;
        break;
    case 8:
        l100->count++;
        break;
    case 9:
        l100->tail = 0;
        break;
    case 10:
        m->norders++;
        break;
    case 11:
        e->norders++;
        break;
    case 12:
        e->levels_used++;
        break;
    case 13: /* account 1 lists slots 0 and 2 */
        e->orders[2].acct_prev = LX__NIL;
        break;
    case 14:
        e->accounts[1].norders++;
        break;
    case 15:
        e->cfg.max_open_orders_per_account = 1;
        break;
    case 16:
        lx__cid_remove(e, 1);
        break;
    case 17:
        e->balances[0].free = -1;
        break;
    case 18: { /* account 1's quote: locked one more, free one less */
        lx__balance_t *b = (lx__balance_t *)lx__bal_find(e, 1, 1);
        b->locked++;
        b->free--;
        break;
    }
    case 19:
        ((lx__balance_t *)lx__bal_find(e, 1, 1))->free++;
        break;
    case 20:
        e->assets[1].fee_bal = 0;
        break;
    case 21: { /* heap entries 0 and 1 swapped (the expiries tie: by seq) */
        lx__gtd_t x = e->gtd[0];
        e->gtd[0] = e->gtd[1];
        e->gtd[1] = x;
        e->gtx[e->gtd[0].xi].hpos = 0;
        e->gtx[e->gtd[1].xi].hpos = 1;
        break;
    }
    case 22:
        o0->tif = LX_TIF_GTC;
        break;
    case 23:
        e->last_ts = 5000000;
        break;
    case 24:
        e->gtd[1].expiry++;
        break;
    case 25: { /* switch heap entries 0 and 1 swapped */
        lx__dms_t x = e->dms[0];
        e->dms[0] = e->dms[1];
        e->dms[1] = x;
        e->ident[e->dms[0].account].dms = 1;
        e->ident[e->dms[1].account].dms = 2;
        break;
    }
    case 26:
        e->ident[e->dms[1].account].dms = 0;
        break;
    case 27:
        e->ident[7].dms = 2;
        break;
    case 28:
        e->dms[0].deadline = 0;
        break;
    case 29: /* key bytes changed (still at the old bytes' place in the index) */
        e->keys[vc_key(e, 6)].key[5] ^= 1;
        break;
    case 30:
        e->keys[vc_key(e, 6)].account = 99;
        break;
    case 31:
        e->keys[vc_key(e, 6)].role = 4;
        break;
    case 32:
        e->ident[6].owner = 0;
        break;
    case 33: /* account 7 (owner key bound) ... an account without one names the agent */
        e->ident[12].owner = vc_key(e, 0x80 + 1 * 4) + 1;
        break;
    case 34:
        e->ident[1].nagents++;
        break;
    case 35:
        m->last_ts = -1;
        break;
    case 36:
        e->assets[2].scale = 0;
        break;
    }
}

static void test_validate_claims(void **state) {
    (void)state;
    int missed = 0;
    for (int which = 0; which < (int)(sizeof VC / sizeof VC[0]); which++) {
        lx_engine_t *e = small_world();
        vc_bend(e, which);
        char msg[256];
        int v = lx_engine_validate(e, msg, sizeof msg);
        if (v != LX_ECORRUPT || !strstr(msg, VC[which].expect)) {
            fprintf(stderr, "validate, %s: rc %d, \"%s\"\n", VC[which].what, v, v ? msg : "");
            missed++;
        }
        lx_engine_destroy(e);
    }
    assert_int_equal(missed, 0);
}

/* The image of e loaded into a new engine (which must load). */
static lx_engine_t *image_of(const lx_engine_t *e) {
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
    lx_engine_t *f = NULL;
    assert_int_equal(lx_engine_load(&f, membuf_read, &img), 0);
    membuf_free(&img);
    return f;
}

/* The id the next order accepted by e gets (account 7 buys 1 @ 50). */
static lx_order_id_t next_id(lx_engine_t *e, uint64_t seq) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.seq = seq;
    c.ts = 2000000;
    c.u.place =
        (lx_cmd_place_t){.account = 7, .market = 0, .side = LX_SIDE_BUY, .price = 50, .qty = 1};
    rt_events_t ev = {0};
    lx_sink_t sink = {rt_collect, &ev};
    assert_int_equal(lx_engine_apply(e, &c, &sink), 0);
    lx_order_id_t id = 0;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.ev[i].type == LX_EV_ORDER_ACCEPTED) id = ev.ev[i].u.accepted.order_id;
    free(ev.ev);
    assert_true(id != 0);
    return id;
}

/* The free-slot bitmap decides the ids of future orders, and an image does
 * not carry it (the loader rebuilds it from the resting orders), so
 * lx_engine_validate must check it against them: "resting orders = slots
 * in use". It compares the resting orders with the counter e->norders
 * only. A slot marked taken with no order in it (its bit, or its word's
 * summary bit, set; the counter as it was) passes validate and leaves the
 * digest as it was, yet the engine and its own image then give the next
 * order different ids. */
static void test_validate_sees_slot_bitmap(void **state) {
    (void)state;
    for (int how = 0; how < 2; how++) {
        lx_engine_t *e = small_world(); /* slots 0-3 rest, 4 is free */
        uint64_t seq = e->last_seq;
        assert_false(lx__slot_used(e, 4));
        if (how == 0)
            e->free_l0[0] |= 1ULL << 4; /* slot 4 leaked */
        else
            e->free_l1[0] |= 1ULL; /* l0 word 0 said full: slots 4-63 skipped */
        lx_engine_t *f = image_of(e);
        assert_true(lx_engine_digest(f) == lx_engine_digest(e));
        lx_order_id_t a = next_id(e, seq + 1), b = next_id(f, seq + 1);
        fprintf(stderr, "bitmap bend %d: the engine's next id %#llx, its image's %#llx\n", how,
                (unsigned long long)a, (unsigned long long)b);
        assert_true(a != b);
        lx_engine_destroy(f);
        lx_engine_destroy(e);
        e = small_world();
        if (how == 0)
            e->free_l0[0] |= 1ULL << 4;
        else
            e->free_l1[0] |= 1ULL;
        char msg[256];
        int v = lx_engine_validate(e, msg, sizeof msg);
        if (v == 0) fprintf(stderr, "bitmap bend %d: validate passed\n", how);
        assert_int_equal(v, LX_ECORRUPT);
        lx_engine_destroy(e);
    }
}

/* The deposit index decides whether a deposit id is a duplicate, and an
 * image does not carry it (the loader rebuilds it from the ids): an id
 * applied but missing from the index passes lx_engine_validate (which
 * checks the index's own structure, not that it holds the ids), and the
 * engine then credits a replayed deposit that its own image refuses. */
static void test_validate_sees_deposit_index(void **state) {
    (void)state;
    lx_engine_t *e = small_world();
    assert_true(e->ndeposits > 0);
    uint64_t id = e->deposit_ids[0];
    lx__idx_remove(&e->dep_idx, lx__hash2(id, 0x6465706f736974ULL), 0); /* accounts.c's hash */
    lx_engine_t *f = image_of(e);
    assert_true(lx_engine_digest(f) == lx_engine_digest(e));
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    c.seq = e->last_seq + 1;
    c.ts = 2000000;
    c.u.deposit = (lx_cmd_deposit_t){.account = 1, .asset = 1, .amount = 5, .deposit_id = id};
    assert_int_equal(lx_engine_apply(e, &c, NULL), 0);
    assert_int_equal(lx_engine_apply(f, &c, NULL), 0);
    assert_true(lx_engine_digest(f) != lx_engine_digest(e)); /* one credited it */
    lx_engine_destroy(f);
    lx_engine_destroy(e);
    e = small_world();
    lx__idx_remove(&e->dep_idx, lx__hash2(id, 0x6465706f736974ULL), 0);
    char msg[256];
    int v = lx_engine_validate(e, msg, sizeof msg);
    if (v == 0) fprintf(stderr, "deposit index: validate passed\n");
    assert_int_equal(v, LX_ECORRUPT);
    lx_engine_destroy(e);
}

/* lx_engine_load out of memory: a valid image whose load cannot allocate
 * is LX_ENOMEM, never LX_ECORRUPT (lx/snapshot.h: an inconsistency is
 * LX_ECORRUPT). Recovery tells the two apart: it stops on LX_ENOMEM (run it
 * again), and skips an image that is LX_ECORRUPT as invalid, falling back
 * to an older snapshot or to genesis, or giving up on a journal that
 * retention has cut ("no valid snapshot"). Each allocation of the load
 * fails in turn (tests/support/failalloc.h). */
static void test_load_out_of_memory(void **state) {
    (void)state;
    rt_gen_t g;
    memset(&g, 0, sizeof g);
    g.rng = 77;
    g.ts = 1000000;
    lx_engine_t *e = rt_engine(true, 4 * LX__TOUCH_MAX + 4096);
    rt_setup(&g, &e, 1);
    rt_history(&g, e, 2000); /* every section of the image holds something */
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
    uint64_t corrupt = 0, nomem = 0, k;
    for (k = 1; k < 1000000; k++) {
        img.pos = 0;
        lx_engine_t *f = NULL;
        failalloc_enter();
        failalloc_arm(k);
        int rc = lx_engine_load(&f, membuf_read, &img);
        bool fired = failalloc_fired();
        failalloc_arm(0);
        failalloc_leave();
        if (rc == 0) {
            assert_true(lx_engine_digest(f) == lx_engine_digest(e));
            lx_engine_destroy(f);
            if (!fired) break; /* the load made fewer than k allocations */
            continue;
        }
        assert_null(f);
        assert_true(fired);
        if (rc == LX_ENOMEM) {
            nomem++;
        } else {
            if (corrupt++ < 5)
                fprintf(stderr, "allocation %llu of the load failing: rc %d (%s)\n",
                        (unsigned long long)k, rc, lx_strerror(rc));
        }
    }
    fprintf(stderr, "%llu allocations: %llu LX_ENOMEM, %llu other\n", (unsigned long long)k - 1,
            (unsigned long long)nomem, (unsigned long long)corrupt);
    assert_int_equal(corrupt, 0);
    membuf_free(&img);
    lx_engine_destroy(e);
}

/* A slot's generation wraps from 2^32 - 1 to 1, never to 0 (docs/matching.md
 * "Order ids"): an id of generation 0 names no order. An image whose free
 * slot 1 was taken 2^32 - 1 times (bent: no test places that often) loads,
 * and the order that takes the slot next is generation 1, found and
 * canceled by that id. */
static void test_generation_wraps(void **state) {
    (void)state;
    lx_engine_t *e = world(); /* its one order is in slot 0 */
    assert_int_equal(e->slot_hwm, 1);
    e->orders[1].gen = UINT32_MAX;
    e->slot_hwm = 2;
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(e, membuf_write, &img), 0);
    lx_engine_t *f = NULL;
    assert_int_equal(lx_engine_load(&f, membuf_read, &img), 0);
    membuf_free(&img);
    lx_engine_destroy(e);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.u.place =
        (lx_cmd_place_t){.account = 4, .market = 0, .side = LX_SIDE_BUY, .price = 40, .qty = 1};
    apply_ok(f, &c);
    lx_order_id_t id = ((uint64_t)1 << 32) | 1;
    lx_order_info_t oi;
    assert_int_equal(lx_engine_order(f, id, &oi), 0);
    assert_int_equal(oi.account, 4);
    assert_int_not_equal(lx_engine_order(f, 1, &oi), 0); /* generation 0: no order */
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL;
    c.u.cancel = (lx_cmd_cancel_t){.account = 4, .market = 0, .order_id = id};
    apply_ok(f, &c);
    assert_int_not_equal(lx_engine_order(f, id, &oi), 0);
    char msg[256];
    assert_int_equal(lx_engine_validate(f, msg, sizeof msg), 0);
    lx_engine_destroy(f);
}

/* The fees collected in an asset are a statistic that saturates at
 * INT64_MAX (docs/clearing.md "Fees"). An image whose quote asset has
 * collected INT64_MAX - 1 (bent: no test trades that long; the fees are
 * not part of the balance sums, so the image is valid) loads; a fill that
 * pays 2 more leaves it at INT64_MAX, not wrapped below 0. */
static void test_fees_statistic_saturates(void **state) {
    (void)state;
    lx_engine_t *e = world_with(true); /* account 3 sells 1 at 60 */
    e->assets[1].fees = INT64_MAX - 1;
    assert_int_equal(reload(e), 0);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    c.u.deposit = (lx_cmd_deposit_t){.account = 4, .asset = 1, .amount = 10000, .deposit_id = 3};
    apply_ok(e, &c);
    /* notional 60 * 1 * 100 = 6000: taker fee ceil(0.12) = 1, maker fee ceil(0.06) = 1 */
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.u.place =
        (lx_cmd_place_t){.account = 4, .market = 0, .side = LX_SIDE_BUY, .price = 60, .qty = 1};
    apply_ok(e, &c);
    lx_asset_info_t ai;
    assert_int_equal(lx_engine_asset_info(e, 1, &ai), 0);
    assert_true(ai.fees == INT64_MAX);
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    lx_engine_destroy(e);
}

/* snapshot.c's check over an image's 72-byte header (version 5). */
static uint64_t snap_header_check(const uint8_t *h) {
    return lx__image_header_check(h, 72);
}

/* The rules version is configuration an image keeps (docs/matching.md
 * "Rules versions"): an engine of rules 1 loads as one, its digest is not
 * that of the same state under the latest rules, a rules version this
 * build does not know or a nonzero word after it is refused. */
static void test_rules_kept(void **state) {
    (void)state;
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    lx_engine_t *a = NULL, *b = NULL, *f = NULL;
    cfg.rules = LX_RULES_1;
    assert_int_equal(lx_engine_create(&a, &cfg), 0);
    cfg.rules = 0;
    assert_int_equal(lx_engine_create(&b, &cfg), 0);
    assert_int_equal(lx_engine_config(b)->rules, LX_RULES_LATEST);
    assert_true(lx_engine_digest(a) != lx_engine_digest(b));
    cfg.rules = LX_RULES_LATEST + 1;
    assert_int_equal(lx_engine_create(&f, &cfg), LX_EINVAL);
    membuf_t img = {0};
    assert_int_equal(lx_engine_save(a, membuf_write, &img), 0);
    assert_int_equal(lx_get_u32(img.buf + 4), LX_SNAPSHOT_VERSION);
    assert_int_equal(lx_get_u32(img.buf + 64), LX_RULES_1);
    assert_int_equal(lx_engine_load(&f, membuf_read, &img), 0);
    assert_int_equal(lx_engine_config(f)->rules, LX_RULES_1);
    assert_true(lx_engine_digest(f) == lx_engine_digest(a));
    lx_engine_destroy(f);
    /* bent: the header's check recomputed over each change */
    for (int bend = 0; bend < 2; bend++) {
        membuf_t x = {0};
        assert_int_equal(membuf_write(&x, img.buf, img.n), 0);
        lx_put_u32(x.buf + (bend ? 68 : 64), bend ? 1 : LX_RULES_LATEST + 1);
        lx_put_u64(x.buf + 72, snap_header_check(x.buf));
        f = NULL;
        assert_int_equal(lx_engine_load(&f, membuf_read, &x), LX_ECORRUPT);
        assert_null(f);
        membuf_free(&x);
    }
    membuf_free(&img);
    lx_engine_destroy(a);
    lx_engine_destroy(b);
}

/* Rules 3's nonce floors (docs/identity.md) in the image: kept by a save
 * and load, covered by the digest and by validate; an image of version 5
 * (no floors section) still loads, unless it claims rules 3, which needs
 * the section. */
static void fl_apply(lx_engine_t *e, lx_cmd_t *c, const lx_cmd_auth_t *au) {
    c->seq = lx_engine_last_seq(e) + 1;
    c->ts = 1000;
    assert_int_equal(lx_engine_apply_auth(e, c, au, NULL), 0);
}

static void test_nonce_floors_image(void **state) {
    (void)state;
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_accounts = 16;
    cfg.max_orders = 64;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_engine_create(&e, &cfg), 0);
    lx_cmd_t c;
    lx_cmd_auth_t none = {0}, owner = {.scheme = LX_CMD_AUTH_SIGNED}, agent = owner;
    rt_owner(owner.key, 3);
    rt_agent(agent.key, 3, 0);
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_BIND_KEY;
    c.u.bind_key.account = 3;
    memcpy(c.u.bind_key.key, owner.key, 32);
    fl_apply(e, &c, &none);
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_APPROVE_AGENT;
    c.u.approve_agent.account = 3;
    memcpy(c.u.approve_agent.key, agent.key, 32);
    c.u.approve_agent.expiry = INT64_MAX;
    owner.nonce = 1;
    fl_apply(e, &c, &owner);
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_SCHEDULE_CANCEL; /* the agent's every-shard nonce: 9 */
    c.u.schedule_cancel.account = 3;
    agent.nonce = 9;
    fl_apply(e, &c, &agent);
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_REVOKE_AGENT;
    c.u.revoke_agent.account = 3;
    memcpy(c.u.revoke_agent.key, agent.key, 32);
    owner.nonce = 2;
    fl_apply(e, &c, &owner);
    uint64_t f, fa;
    uint32_t s = lx_nonce_floor_slot(agent.key), s2 = (s + 1) % LX_NONCE_FLOOR_SLOTS;
    lx_engine_nonce_floor(e, 3, s, &f, &fa);
    assert_true(f == 0 && fa == 9 && e->nfloors == 1 && e->nkeys == 1);
    lx_engine_nonce_floor(e, 3, s2, &f, &fa);
    assert_true(f == 0 && fa == 0);
    assert_int_equal(reload(e), 0); /* and the digest with it */
    lx_engine_t *g = image_of(e);
    lx_engine_nonce_floor(g, 3, s, &f, &fa);
    assert_true(f == 0 && fa == 9);
    lx_engine_destroy(g);
    /* the digest covers each field, of every slot */
    uint64_t d = lx_engine_digest(e);
    for (uint32_t j = 0; j < LX_NONCE_FLOOR_SLOTS; j++) {
        e->floors[0].nonce_all[j]++;
        assert_true(lx_engine_digest(e) != d);
        e->floors[0].nonce_all[j]--;
        e->floors[0].nonce[j]++;
        assert_true(lx_engine_digest(e) != d);
        e->floors[0].nonce[j]--;
    }
    e->floors[0].account = 4;
    assert_true(lx_engine_digest(e) != d);
    /* validate: a record its account does not name, floors under rules 2 */
    char msg[256];
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), LX_ECORRUPT);
    e->floors[0].account = 3;
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), 0);
    e->cfg.rules = LX_RULES_2;
    assert_int_equal(lx_engine_validate(e, msg, sizeof msg), LX_ECORRUPT);
    assert_int_equal(reload(e), LX_ECORRUPT);
    e->cfg.rules = LX_RULES_3;
    assert_true(lx_engine_digest(e) == d);
    /* version 5: the same bytes without the floors' count; of rules 2 it
     * loads, with the same digest; claiming rules 3 it is refused */
    for (uint32_t rules = LX_RULES_2; rules <= LX_RULES_3; rules++) {
        lx_engine_config_t c2 = cfg;
        c2.rules = rules;
        lx_engine_t *h = NULL;
        assert_int_equal(lx_engine_create(&h, &c2), 0);
        membuf_t img = {0};
        assert_int_equal(lx_engine_save(h, membuf_write, &img), 0);
        assert_int_equal(lx_get_u32(img.buf + img.n - 12), 0); /* no floors */
        memmove(img.buf + img.n - 12, img.buf + img.n - 8, 8);
        img.n -= 4;
        lx_put_u32(img.buf + 4, 5);
        lx_put_u64(img.buf + 72, snap_header_check(img.buf));
        lx_engine_t *k = NULL;
        int rc = lx_engine_load(&k, membuf_read, &img);
        assert_int_equal(rc, rules == LX_RULES_2 ? 0 : LX_ECORRUPT);
        if (k) assert_true(lx_engine_digest(k) == lx_engine_digest(h));
        lx_engine_destroy(k);
        lx_engine_destroy(h);
        membuf_free(&img);
    }
    lx_engine_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bent_images_refused),
        cmocka_unit_test(test_version_1_refused),
        cmocka_unit_test(test_version_2_loads),
        cmocka_unit_test(test_version_3_migrates),
        cmocka_unit_test(test_roundtrip_continuation),
        cmocka_unit_test(test_digest_covers_state),
        cmocka_unit_test(test_validate_claims),
        cmocka_unit_test(test_validate_sees_slot_bitmap),
        cmocka_unit_test(test_validate_sees_deposit_index),
        cmocka_unit_test(test_load_out_of_memory),
        cmocka_unit_test(test_generation_wraps),
        cmocka_unit_test(test_fees_statistic_saturates),
        cmocka_unit_test(test_rules_kept),
        cmocka_unit_test(test_nonce_floors_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
