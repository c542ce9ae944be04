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
    /* with clearing */
    NO_BASE_RECORD,
    NEGATIVE_FEES,
    RESERVE_ON_SELL,
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
 * one today's engine reaches from the same commands: the same digest. */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bent_images_refused),
        cmocka_unit_test(test_version_1_refused),
        cmocka_unit_test(test_version_2_loads),
        cmocka_unit_test(test_version_3_migrates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
