/*
 * test_codec.c: the canonical byte form (src/core/codec.c) and the one-line
 * text form (src/core/text.c) of commands and events.
 *
 * Binary: every command and event type round-trips with fields at their
 * extremes; the bytes of a few records are written out by hand from the
 * layout in docs/codec.md and compared byte for byte; every clean prefix of
 * every record is LX_ETRUNC; every single-byte change of every record
 * either fails to decode or decodes to something that re-encodes to exactly
 * the changed bytes (decoding is injective); every invalid enum, flag and
 * symbol is refused by both the decoder and the encoder.
 *
 * Text: every command type formats and parses back to the same struct and
 * the same text; defaults and inferences of the parser; each kind of parse
 * error names the key; event lines for a few events, written by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lx/codec.h"
#include "lx/error.h"
#include "lx/text.h"

/* ---- sample records ----------------------------------------------------- */

/* clang-format off */
/* Documented body lengths (docs/codec.md). */
static const int cmd_body_len[LX_CMD__MAX + 1] = {
    [LX_CMD_CREATE_ASSET] = 28, [LX_CMD_CREATE_MARKET] = 61, [LX_CMD_SET_MARKET_STATE] = 5,
    [LX_CMD_SET_FEES] = 12,     [LX_CMD_DEPOSIT] = 24,       [LX_CMD_WITHDRAW] = 16,
    [LX_CMD_TRANSFER] = 20,     [LX_CMD_PLACE] = 44,         [LX_CMD_CANCEL] = 25,
    [LX_CMD_AMEND] = 41,        [LX_CMD_CANCEL_ALL] = 9,     [LX_CMD_TICK] = 0,
    [LX_CMD_SCHEDULE_CANCEL] = 12, [LX_CMD_BIND_KEY] = 36,   [LX_CMD_APPROVE_AGENT] = 60,
    [LX_CMD_REVOKE_AGENT] = 36,
};
static const int ev_body_len[LX_EV__MAX + 1] = {
    [LX_EV_ASSET_CREATED] = 28,  [LX_EV_MARKET_CREATED] = 57, [LX_EV_MARKET_STATE] = 1,
    [LX_EV_FEES_SET] = 8,        [LX_EV_DEPOSIT] = 28,        [LX_EV_WITHDRAWAL] = 28,
    [LX_EV_TRANSFER] = 28,       [LX_EV_REJECTED] = 22,       [LX_EV_ORDER_ACCEPTED] = 48,
    [LX_EV_TRADE] = 73,          [LX_EV_ORDER_CANCELED] = 29, [LX_EV_ORDER_AMENDED] = 45,
    [LX_EV_BOOK_LEVEL] = 21,     [LX_EV_BALANCE] = 24,        [LX_EV_DEADMAN] = 13,
    [LX_EV_KEY_BOUND] = 60,      [LX_EV_AGENT_APPROVED] = 60, [LX_EV_AGENT_REVOKED] = 60,
};
/* clang-format on */

/* A command of type t with fields at extremes; variant picks min or max. */
static void sample_cmd(lx_cmd_t *c, int t, int variant) {
    memset(c, 0, sizeof *c);
    c->type = (lx_cmd_type_t)t;
    bool hi = variant & 1;
    c->seq = hi ? UINT64_MAX : 1;
    c->ts = hi ? INT64_MAX : INT64_MIN;
    int64_t i64 = hi ? INT64_MAX : INT64_MIN;
    uint32_t u32 = hi ? UINT32_MAX : 0;
    int32_t i32 = hi ? INT32_MAX : INT32_MIN;
    uint64_t u64 = hi ? UINT64_MAX : 0;
    switch (t) {
    case LX_CMD_CREATE_ASSET:
        c->u.create_asset.asset = u32;
        c->u.create_asset.scale = i64;
        memcpy(c->u.create_asset.symbol, hi ? "~~~~~~~~~~~~~~~~" : "!", hi ? 16 : 1);
        break;
    case LX_CMD_CREATE_MARKET: {
        lx_cmd_create_market_t *m = &c->u.create_market;
        m->market = u32;
        m->base = u32 ^ 1;
        m->quote = u32 ^ 2;
        m->mode = hi ? LX_MODE_BATCH : LX_MODE_CONTINUOUS;
        m->tick_size = i64;
        m->lot_size = i64 ^ 1;
        m->min_price = i64 ^ 2;
        m->max_price = i64 ^ 3;
        m->max_qty = i64 ^ 4;
        m->maker_fee = i32;
        m->taker_fee = i32 ^ 1;
        break;
    }
    case LX_CMD_SET_MARKET_STATE:
        c->u.set_market_state.market = u32;
        c->u.set_market_state.halted = hi;
        break;
    case LX_CMD_SET_FEES:
        c->u.set_fees.market = u32;
        c->u.set_fees.maker_fee = i32;
        c->u.set_fees.taker_fee = i32 ^ 7;
        break;
    case LX_CMD_DEPOSIT:
        c->u.deposit.account = u32;
        c->u.deposit.asset = u32 ^ 5;
        c->u.deposit.amount = i64;
        c->u.deposit.deposit_id = u64;
        break;
    case LX_CMD_WITHDRAW:
        c->u.withdraw.account = u32;
        c->u.withdraw.asset = u32 ^ 5;
        c->u.withdraw.amount = i64;
        break;
    case LX_CMD_TRANSFER:
        c->u.transfer.from = u32;
        c->u.transfer.to = u32 ^ 3;
        c->u.transfer.asset = u32 ^ 5;
        c->u.transfer.amount = i64;
        break;
    case LX_CMD_PLACE: {
        lx_cmd_place_t *p = &c->u.place;
        p->account = u32;
        p->market = u32 ^ 9;
        p->side = hi ? LX_SIDE_SELL : LX_SIDE_BUY;
        p->type = hi ? LX_ORDER_MARKET : LX_ORDER_LIMIT;
        p->tif = hi ? LX_TIF_POST_ONLY : LX_TIF_GTC;
        p->stp = hi ? LX_STP_DECREMENT : LX_STP_NONE;
        p->price = i64;
        p->qty = i64 ^ 1;
        p->client_id = u64;
        p->expiry = i64 ^ 2;
        break;
    }
    case LX_CMD_CANCEL:
        c->u.cancel.account = u32;
        c->u.cancel.market = u32 ^ 1;
        c->u.cancel.by_client_id = hi;
        c->u.cancel.order_id = u64;
        c->u.cancel.client_id = u64 ^ 1;
        break;
    case LX_CMD_AMEND:
        c->u.amend.account = u32;
        c->u.amend.market = u32 ^ 1;
        c->u.amend.by_client_id = hi;
        c->u.amend.order_id = u64;
        c->u.amend.client_id = u64 ^ 1;
        c->u.amend.price = i64;
        c->u.amend.qty = i64 ^ 1;
        break;
    case LX_CMD_CANCEL_ALL:
        c->u.cancel_all.account = u32;
        c->u.cancel_all.market = u32 ^ 1;
        c->u.cancel_all.reason = hi ? LX_CANCEL_ALL_DISCONNECT : LX_CANCEL_ALL_USER;
        break;
    case LX_CMD_TICK:
        break;
    case LX_CMD_SCHEDULE_CANCEL:
        c->u.schedule_cancel.account = u32;
        c->u.schedule_cancel.deadline = i64;
        break;
    case LX_CMD_BIND_KEY:
    case LX_CMD_REVOKE_AGENT: /* same layout */
        c->u.bind_key.account = u32;
        for (int i = 0; i < 32; i++) c->u.bind_key.key[i] = (uint8_t)(hi ? 0xff - i : i);
        break;
    case LX_CMD_APPROVE_AGENT:
        c->u.approve_agent.account = u32;
        for (int i = 0; i < 32; i++) c->u.approve_agent.key[i] = (uint8_t)(hi ? 0xff - i : i);
        memcpy(c->u.approve_agent.name, hi ? "~~~~~~~~~~~~~~~~" : "", hi ? 16 : 0);
        c->u.approve_agent.expiry = i64;
        break;
    }
}

static void sample_event(lx_event_t *e, int t, int variant) {
    memset(e, 0, sizeof *e);
    e->type = (lx_event_type_t)t;
    bool hi = variant & 1;
    e->seq = hi ? UINT64_MAX : 0;
    e->ts = hi ? INT64_MAX : INT64_MIN;
    e->market = hi ? UINT32_MAX : 0;
    e->market_seq = hi ? UINT64_MAX : 0;
    int64_t i64 = hi ? INT64_MAX : INT64_MIN;
    uint32_t u32 = hi ? UINT32_MAX : 0;
    int32_t i32 = hi ? INT32_MAX : INT32_MIN;
    uint64_t u64 = hi ? UINT64_MAX : 0;
    switch (t) {
    case LX_EV_ASSET_CREATED:
        e->u.asset.asset = u32;
        e->u.asset.scale = i64;
        memcpy(e->u.asset.symbol, hi ? "ABCDEFGHIJKLMNOP" : "", hi ? 16 : 0);
        break;
    case LX_EV_MARKET_CREATED: {
        lx_ev_market_t *m = &e->u.market;
        m->base = u32;
        m->quote = u32 ^ 1;
        m->mode = hi;
        m->tick_size = i64;
        m->lot_size = i64 ^ 1;
        m->min_price = i64 ^ 2;
        m->max_price = i64 ^ 3;
        m->max_qty = i64 ^ 4;
        m->maker_fee = i32;
        m->taker_fee = i32 ^ 1;
        break;
    }
    case LX_EV_MARKET_STATE:
        e->u.market_state.halted = hi;
        break;
    case LX_EV_FEES_SET:
        e->u.fees.maker_fee = i32;
        e->u.fees.taker_fee = i32 ^ 3;
        break;
    case LX_EV_DEPOSIT:
    case LX_EV_WITHDRAWAL:
    case LX_EV_TRANSFER:
        e->u.funds.account = u32;
        e->u.funds.to = u32 ^ 1;
        e->u.funds.asset = u32 ^ 2;
        e->u.funds.amount = i64;
        e->u.funds.deposit_id = u64;
        break;
    case LX_EV_REJECTED:
        e->u.rejected.cmd_type = hi ? LX_CMD__MAX : 1;
        e->u.rejected.reason = hi ? LX_REJECT__COUNT - 1 : 0;
        e->u.rejected.account = u32;
        e->u.rejected.order_id = u64;
        e->u.rejected.client_id = u64 ^ 1;
        break;
    case LX_EV_ORDER_ACCEPTED: {
        lx_ev_accepted_t *a = &e->u.accepted;
        a->order_id = u64;
        a->account = u32;
        a->side = hi;
        a->type = hi;
        a->tif = hi ? LX_TIF_POST_ONLY : 0;
        a->stp = hi ? LX_STP_DECREMENT : 0;
        a->price = i64;
        a->qty = i64 ^ 1;
        a->client_id = u64 ^ 2;
        a->expiry = i64 ^ 3;
        break;
    }
    case LX_EV_TRADE: {
        lx_ev_trade_t *tr = &e->u.trade;
        tr->maker_order = u64;
        tr->taker_order = u64 ^ 1;
        tr->maker_account = u32;
        tr->taker_account = u32 ^ 1;
        tr->taker_side = hi;
        tr->price = i64;
        tr->qty = i64 ^ 1;
        tr->maker_remaining = i64 ^ 2;
        tr->taker_remaining = i64 ^ 3;
        tr->maker_fee = i64 ^ 4;
        tr->taker_fee = i64 ^ 5;
        break;
    }
    case LX_EV_ORDER_CANCELED:
        e->u.canceled.order_id = u64;
        e->u.canceled.account = u32;
        e->u.canceled.client_id = u64 ^ 1;
        e->u.canceled.reason = hi ? LX_CANCEL__COUNT - 1 : 0;
        e->u.canceled.qty = i64;
        break;
    case LX_EV_ORDER_AMENDED:
        e->u.amended.order_id = u64;
        e->u.amended.account = u32;
        e->u.amended.client_id = u64 ^ 1;
        e->u.amended.price = i64;
        e->u.amended.qty = i64 ^ 1;
        e->u.amended.remaining = i64 ^ 2;
        e->u.amended.priority_lost = hi;
        break;
    case LX_EV_BOOK_LEVEL:
        e->u.level.side = hi;
        e->u.level.price = i64;
        e->u.level.qty = i64 ^ 1;
        e->u.level.count = u32;
        break;
    case LX_EV_BALANCE:
        e->u.balance.account = u32;
        e->u.balance.asset = u32 ^ 1;
        e->u.balance.free = i64;
        e->u.balance.locked = i64 ^ 1;
        break;
    case LX_EV_DEADMAN:
        e->u.deadman.account = u32;
        e->u.deadman.deadline = i64;
        e->u.deadman.state = hi ? LX_DEADMAN_FIRED : LX_DEADMAN_CLEARED;
        break;
    case LX_EV_KEY_BOUND:
    case LX_EV_AGENT_APPROVED:
    case LX_EV_AGENT_REVOKED:
        e->u.key.account = u32;
        for (int i = 0; i < 32; i++) e->u.key.key[i] = (uint8_t)(hi ? 0xff - i : i);
        memcpy(e->u.key.name, hi ? "ABCDEFGHIJKLMNOP" : "", hi ? 16 : 0);
        e->u.key.expiry = i64;
        break;
    }
}

/* ---- binary round trips -------------------------------------------------- */

static void test_cmd_round_trip(void **state) {
    (void)state;
    for (int t = 1; t <= LX_CMD__MAX; t++) {
        for (int v = 0; v < 2; v++) {
            lx_cmd_t c, d;
            uint8_t buf[LX_CMD_ENCODED_MAX], buf2[LX_CMD_ENCODED_MAX];
            sample_cmd(&c, t, v);
            int n = lx_cmd_encode(&c, buf, sizeof buf);
            assert_int_equal(n, 20 + cmd_body_len[t]);
            assert_int_equal(buf[0], LX_CODEC_VERSION);
            assert_int_equal(buf[1], t);
            assert_int_equal(lx_get_u16(buf + 2), cmd_body_len[t]);
            memset(&d, 0xa5, sizeof d);
            assert_int_equal(lx_cmd_decode(&d, buf, (size_t)n), n);
            assert_memory_equal(&c, &d, sizeof c);
            assert_int_equal(lx_cmd_encode(&d, buf2, sizeof buf2), n);
            assert_memory_equal(buf, buf2, (size_t)n);
            /* Exactly enough room, and one byte less. */
            assert_int_equal(lx_cmd_encode(&c, buf2, (size_t)n), n);
            assert_int_equal(lx_cmd_encode(&c, buf2, (size_t)n - 1), LX_ERANGE);
            /* Trailing bytes are not part of the record. */
            uint8_t big[LX_CMD_ENCODED_MAX + 8];
            memcpy(big, buf, (size_t)n);
            memset(big + n, 0xee, 8);
            assert_int_equal(lx_cmd_decode(&d, big, (size_t)n + 8), n);
            assert_memory_equal(&c, &d, sizeof c);
        }
    }
}

static void test_event_round_trip(void **state) {
    (void)state;
    for (int t = 1; t <= LX_EV__MAX; t++) {
        for (int v = 0; v < 2; v++) {
            lx_event_t e, d;
            uint8_t buf[LX_EVENT_ENCODED_MAX], buf2[LX_EVENT_ENCODED_MAX];
            sample_event(&e, t, v);
            int n = lx_event_encode(&e, buf, sizeof buf);
            assert_int_equal(n, 32 + ev_body_len[t]);
            assert_int_equal(lx_get_u16(buf + 2), ev_body_len[t]);
            memset(&d, 0x5a, sizeof d);
            assert_int_equal(lx_event_decode(&d, buf, (size_t)n), n);
            assert_memory_equal(&e, &d, sizeof e);
            assert_int_equal(lx_event_encode(&d, buf2, sizeof buf2), n);
            assert_memory_equal(buf, buf2, (size_t)n);
            assert_int_equal(lx_event_encode(&e, buf2, (size_t)n - 1), LX_ERANGE);
        }
    }
}

/* ---- golden bytes, written by hand from docs/codec.md -------------------- */

static void test_golden_place(void **state) {
    (void)state;
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.seq = 5;
    c.ts = 1000;
    c.u.place = (lx_cmd_place_t){.account = 1,
                                 .market = 0x01020304,
                                 .side = LX_SIDE_SELL,
                                 .type = LX_ORDER_LIMIT,
                                 .tif = LX_TIF_IOC,
                                 .stp = LX_STP_DECREMENT,
                                 .price = -2,
                                 .qty = 10,
                                 .client_id = 0x1122334455667788ULL,
                                 .expiry = 0};
    /* clang-format off */
    static const uint8_t want[64] = {
        0x02, 0x08, 0x2c, 0x00,                         /* version, PLACE, body 44 */
        0x05, 0, 0, 0, 0, 0, 0, 0,                      /* 4 seq */
        0xe8, 0x03, 0, 0, 0, 0, 0, 0,                   /* 12 ts 1000 */
        0x01, 0, 0, 0,                                  /* 20 account */
        0x04, 0x03, 0x02, 0x01,                         /* 24 market */
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 28 price -2 */
        0x0a, 0, 0, 0, 0, 0, 0, 0,                      /* 36 qty */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* 44 client_id */
        0, 0, 0, 0, 0, 0, 0, 0,                         /* 52 expiry */
        0x01, 0x00, 0x02, 0x04,                         /* 60 side, type, tif, stp */
    };
    /* clang-format on */
    uint8_t buf[LX_CMD_ENCODED_MAX];
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), 64);
    assert_memory_equal(buf, want, 64);
    lx_cmd_t d;
    assert_int_equal(lx_cmd_decode(&d, want, sizeof want), 64);
    assert_memory_equal(&c, &d, sizeof c);
}

static void test_golden_create_asset(void **state) {
    (void)state;
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_ASSET;
    c.seq = 0x0102;
    c.ts = -1;
    c.u.create_asset.asset = 7;
    c.u.create_asset.scale = 100000000; /* 0x05f5e100 */
    memcpy(c.u.create_asset.symbol, "BTC", 3);
    /* clang-format off */
    static const uint8_t want[48] = {
        0x02, 0x01, 0x1c, 0x00,                         /* version, CREATE_ASSET, body 28 */
        0x02, 0x01, 0, 0, 0, 0, 0, 0,                   /* 4 seq */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 12 ts -1 */
        0x07, 0, 0, 0,                                  /* 20 asset */
        0x00, 0xe1, 0xf5, 0x05, 0, 0, 0, 0,             /* 24 scale */
        'B', 'T', 'C', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 32 symbol */
    };
    /* clang-format on */
    uint8_t buf[LX_CMD_ENCODED_MAX];
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), 48);
    assert_memory_equal(buf, want, 48);
}

static void test_golden_balance_event(void **state) {
    (void)state;
    lx_event_t e;
    memset(&e, 0, sizeof e);
    e.type = LX_EV_BALANCE;
    e.seq = 9;
    e.ts = -1;
    e.market = LX_MARKET_NONE;
    e.market_seq = 0;
    e.u.balance = (lx_ev_balance_t){.account = 3, .asset = 1, .free = INT64_MAX, .locked = 1};
    /* clang-format off */
    static const uint8_t want[56] = {
        0x02, 0x0e, 0x18, 0x00,                         /* version, BALANCE, body 24 */
        0x09, 0, 0, 0, 0, 0, 0, 0,                      /* 4 seq */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 12 ts */
        0xff, 0xff, 0xff, 0xff,                         /* 20 market NONE */
        0, 0, 0, 0, 0, 0, 0, 0,                         /* 24 market_seq */
        0x03, 0, 0, 0,                                  /* 32 account */
        0x01, 0, 0, 0,                                  /* 36 asset */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, /* 40 free */
        0x01, 0, 0, 0, 0, 0, 0, 0,                      /* 48 locked */
    };
    /* clang-format on */
    uint8_t buf[LX_EVENT_ENCODED_MAX];
    assert_int_equal(lx_event_encode(&e, buf, sizeof buf), 56);
    assert_memory_equal(buf, want, 56);
    lx_event_t d;
    assert_int_equal(lx_event_decode(&d, want, sizeof want), 56);
    assert_memory_equal(&e, &d, sizeof e);
}

static void test_golden_trade_event(void **state) {
    (void)state;
    lx_event_t e;
    memset(&e, 0, sizeof e);
    e.type = LX_EV_TRADE;
    e.seq = 1;
    e.ts = 2;
    e.market = 3;
    e.market_seq = 4;
    e.u.trade = (lx_ev_trade_t){.maker_order = (1ULL << 32) | 5,
                                .taker_order = (2ULL << 32) | 6,
                                .maker_account = 7,
                                .taker_account = 8,
                                .taker_side = LX_SIDE_SELL,
                                .price = 9,
                                .qty = 10,
                                .maker_remaining = 11,
                                .taker_remaining = 12,
                                .maker_fee = -13,
                                .taker_fee = 14};
    /* clang-format off */
    static const uint8_t want[105] = {
        0x02, 0x0a, 0x49, 0x00,                         /* version, TRADE, body 73 */
        1, 0, 0, 0, 0, 0, 0, 0,                         /* 4 seq */
        2, 0, 0, 0, 0, 0, 0, 0,                         /* 12 ts */
        3, 0, 0, 0,                                     /* 20 market */
        4, 0, 0, 0, 0, 0, 0, 0,                         /* 24 market_seq */
        5, 0, 0, 0, 1, 0, 0, 0,                         /* 32 maker_order */
        6, 0, 0, 0, 2, 0, 0, 0,                         /* 40 taker_order */
        7, 0, 0, 0,                                     /* 48 maker_account */
        8, 0, 0, 0,                                     /* 52 taker_account */
        9, 0, 0, 0, 0, 0, 0, 0,                         /* 56 price */
        10, 0, 0, 0, 0, 0, 0, 0,                        /* 64 qty */
        11, 0, 0, 0, 0, 0, 0, 0,                        /* 72 maker_remaining */
        12, 0, 0, 0, 0, 0, 0, 0,                        /* 80 taker_remaining */
        0xf3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 88 maker_fee -13 */
        14, 0, 0, 0, 0, 0, 0, 0,                        /* 96 taker_fee */
        1,                                              /* 104 taker_side */
    };
    /* clang-format on */
    uint8_t buf[LX_EVENT_ENCODED_MAX];
    assert_int_equal(lx_event_encode(&e, buf, sizeof buf), 105);
    assert_memory_equal(buf, want, 105);
}

/* CANCEL_ALL with its reason byte, SCHEDULE_CANCEL, DEADMAN; and a version-1
 * CANCEL_ALL (8-byte body, no reason) that still decodes, as reason USER. */
static void test_golden_deadman_records(void **state) {
    (void)state;
    lx_cmd_t c, d;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL_ALL;
    c.seq = 7;
    c.ts = 9;
    c.u.cancel_all = (lx_cmd_cancel_all_t){
        .account = 3, .market = LX_MARKET_ALL, .reason = LX_CANCEL_ALL_DISCONNECT};
    /* clang-format off */
    static const uint8_t cxl[29] = {
        0x02, 0x0b, 0x09, 0x00,        /* version 2, CANCEL_ALL, body 9 */
        7, 0, 0, 0, 0, 0, 0, 0,        /* 4 seq */
        9, 0, 0, 0, 0, 0, 0, 0,        /* 12 ts */
        3, 0, 0, 0,                    /* 20 account */
        0xff, 0xff, 0xff, 0xff,        /* 24 market: all */
        1,                             /* 28 reason: disconnect */
    };
    static const uint8_t cxl_v1[28] = {
        0x01, 0x0b, 0x08, 0x00,        /* version 1, CANCEL_ALL, body 8 */
        7, 0, 0, 0, 0, 0, 0, 0,
        9, 0, 0, 0, 0, 0, 0, 0,
        3, 0, 0, 0,
        0xff, 0xff, 0xff, 0xff,
    };
    static const uint8_t sched[32] = {
        0x02, 0x0d, 0x0c, 0x00,        /* version 2, SCHEDULE_CANCEL, body 12 */
        7, 0, 0, 0, 0, 0, 0, 0,
        9, 0, 0, 0, 0, 0, 0, 0,
        3, 0, 0, 0,                    /* 20 account */
        0x00, 0xf2, 0x05, 0x2a, 0x01, 0, 0, 0, /* 24 deadline 5e9 */
    };
    static const uint8_t dm[45] = {
        0x02, 0x0f, 0x0d, 0x00,        /* version 2, DEADMAN, body 13 */
        7, 0, 0, 0, 0, 0, 0, 0,        /* 4 seq */
        9, 0, 0, 0, 0, 0, 0, 0,        /* 12 ts */
        0xff, 0xff, 0xff, 0xff,        /* 20 market: none */
        0, 0, 0, 0, 0, 0, 0, 0,        /* 24 market_seq */
        3, 0, 0, 0,                    /* 32 account */
        0x00, 0xf2, 0x05, 0x2a, 0x01, 0, 0, 0, /* 36 deadline */
        2,                             /* 44 state: fired */
    };
    /* clang-format on */
    uint8_t buf[LX_CMD_ENCODED_MAX];
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), 29);
    assert_memory_equal(buf, cxl, 29);
    assert_int_equal(lx_cmd_decode(&d, cxl_v1, sizeof cxl_v1), 28);
    c.u.cancel_all.reason = LX_CANCEL_ALL_USER;
    assert_memory_equal(&c, &d, sizeof c);
    /* version 1 knows no SCHEDULE_CANCEL and no 9-byte CANCEL_ALL */
    memcpy(buf, cxl, sizeof cxl);
    buf[0] = 1;
    assert_int_equal(lx_cmd_decode(&d, buf, sizeof cxl), LX_ECORRUPT);
    memcpy(buf, sched, sizeof sched);
    buf[0] = 1;
    assert_int_equal(lx_cmd_decode(&d, buf, sizeof sched), LX_ECORRUPT);

    memset(&c, 0, sizeof c);
    c.type = LX_CMD_SCHEDULE_CANCEL;
    c.seq = 7;
    c.ts = 9;
    c.u.schedule_cancel = (lx_cmd_schedule_cancel_t){.account = 3, .deadline = 5000000000};
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), 32);
    assert_memory_equal(buf, sched, 32);

    lx_event_t e;
    memset(&e, 0, sizeof e);
    e.type = LX_EV_DEADMAN;
    e.seq = 7;
    e.ts = 9;
    e.market = LX_MARKET_NONE;
    e.u.deadman = (lx_ev_deadman_t){.account = 3, .deadline = 5000000000, .state = 2};
    uint8_t eb[LX_EVENT_ENCODED_MAX];
    assert_int_equal(lx_event_encode(&e, eb, sizeof eb), 45);
    assert_memory_equal(eb, dm, 45);
    memcpy(eb, dm, sizeof dm);
    eb[44] = 3; /* no such state */
    assert_int_equal(lx_event_decode(&e, eb, sizeof dm), LX_ECORRUPT);
}

/* ---- truncation and corruption -------------------------------------------- */

static void test_truncation(void **state) {
    (void)state;
    for (int t = 1; t <= LX_CMD__MAX; t++) {
        lx_cmd_t c, d;
        uint8_t buf[LX_CMD_ENCODED_MAX];
        sample_cmd(&c, t, 1);
        int n = lx_cmd_encode(&c, buf, sizeof buf);
        assert_true(n > 0);
        for (int len = 0; len < n; len++)
            assert_int_equal(lx_cmd_decode(&d, buf, (size_t)len), LX_ETRUNC);
        assert_int_equal(lx_cmd_decode(&d, NULL, 0), LX_ETRUNC);
    }
    for (int t = 1; t <= LX_EV__MAX; t++) {
        lx_event_t e, d;
        uint8_t buf[LX_EVENT_ENCODED_MAX];
        sample_event(&e, t, 1);
        int n = lx_event_encode(&e, buf, sizeof buf);
        assert_true(n > 0);
        for (int len = 0; len < n; len++)
            assert_int_equal(lx_event_decode(&d, buf, (size_t)len), LX_ETRUNC);
    }
}

static void test_header_corruption(void **state) {
    (void)state;
    lx_cmd_t c, d;
    uint8_t buf[LX_CMD_ENCODED_MAX];
    sample_cmd(&c, LX_CMD_TICK, 0);
    int n = lx_cmd_encode(&c, buf, sizeof buf);
    assert_int_equal(n, 20);
    buf[0] = 0;
    assert_int_equal(lx_cmd_decode(&d, buf, (size_t)n), LX_EVERSION);
    buf[0] = 3;
    assert_int_equal(lx_cmd_decode(&d, buf, 1), LX_EVERSION);
    buf[0] = LX_CODEC_VERSION;
    buf[1] = 0;
    assert_int_equal(lx_cmd_decode(&d, buf, (size_t)n), LX_ECORRUPT);
    buf[1] = LX_CMD__MAX + 1;
    assert_int_equal(lx_cmd_decode(&d, buf, (size_t)n), LX_ECORRUPT);
    buf[1] = LX_CMD_TICK;
    buf[2] = 1; /* body length 1 for a TICK */
    assert_int_equal(lx_cmd_decode(&d, buf, (size_t)n), LX_ECORRUPT);
    assert_int_equal(lx_cmd_decode(&d, buf, 3), LX_ETRUNC);
    buf[2] = 0;
    buf[3] = 1; /* body length 256 */
    assert_int_equal(lx_cmd_decode(&d, buf, (size_t)n), LX_ECORRUPT);

    lx_event_t e, f;
    uint8_t eb[LX_EVENT_ENCODED_MAX];
    sample_event(&e, LX_EV_BALANCE, 0);
    n = lx_event_encode(&e, eb, sizeof eb);
    eb[1] = LX_EV__MAX + 1;
    assert_int_equal(lx_event_decode(&f, eb, (size_t)n), LX_ECORRUPT);
    eb[1] = 0;
    assert_int_equal(lx_event_decode(&f, eb, (size_t)n), LX_ECORRUPT);
    eb[1] = LX_EV_BALANCE;
    eb[0] = 0x7f;
    assert_int_equal(lx_event_decode(&f, eb, (size_t)n), LX_EVERSION);
}

/* Sets byte `off` of a freshly encoded command of type t to v and decodes. */
static int cmd_with_byte(int t, int off, uint8_t v) {
    lx_cmd_t c, d;
    uint8_t buf[LX_CMD_ENCODED_MAX];
    sample_cmd(&c, t, 0);
    int n = lx_cmd_encode(&c, buf, sizeof buf);
    assert_true(off < n);
    buf[off] = v;
    return lx_cmd_decode(&d, buf, (size_t)n);
}

static int ev_with_byte(int t, int off, uint8_t v) {
    lx_event_t e, d;
    uint8_t buf[LX_EVENT_ENCODED_MAX];
    sample_event(&e, t, 0);
    int n = lx_event_encode(&e, buf, sizeof buf);
    assert_true(off < n);
    buf[off] = v;
    return lx_event_decode(&d, buf, (size_t)n);
}

static void test_enum_corruption(void **state) {
    (void)state;
    /* PLACE: 60 side, 61 type, 62 tif, 63 stp. */
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 60, 1), 64);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 60, 2), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 61, 1), 64);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 61, 2), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 62, 4), 64);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 62, 5), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 63, 4), 64);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 63, 5), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_PLACE, 63, 0xff), LX_ECORRUPT);
    /* Flags and modes. */
    assert_int_equal(cmd_with_byte(LX_CMD_CANCEL, 44, 2), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_AMEND, 60, 2), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_SET_MARKET_STATE, 24, 2), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_CREATE_MARKET, 80, 2), LX_ECORRUPT);
    /* Symbol (CREATE_ASSET bytes 32..47, sample "!" then NULs). */
    assert_int_equal(cmd_with_byte(LX_CMD_CREATE_ASSET, 32, ' '), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_CREATE_ASSET, 32, 0x7f), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_CREATE_ASSET, 32, 0), 48); /* empty symbol */
    assert_int_equal(cmd_with_byte(LX_CMD_CREATE_ASSET, 33, 'A'), 48);
    assert_int_equal(cmd_with_byte(LX_CMD_CREATE_ASSET, 34, 'A'), LX_ECORRUPT); /* after NUL */
    assert_int_equal(cmd_with_byte(LX_CMD_CREATE_ASSET, 47, 'A'), LX_ECORRUPT);
    /* An agent name (APPROVE_AGENT bytes 56..71, sample empty); keys take any byte
     * (24..55); CANCEL_ALL reason (28) 0..1; DEADMAN state (44) 0..2. */
    assert_int_equal(cmd_with_byte(LX_CMD_APPROVE_AGENT, 56, 'A'), 80);
    assert_int_equal(cmd_with_byte(LX_CMD_APPROVE_AGENT, 56, ' '), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_APPROVE_AGENT, 57, 'A'), LX_ECORRUPT);
    assert_int_equal(cmd_with_byte(LX_CMD_APPROVE_AGENT, 24, 0xff), 80);
    assert_int_equal(cmd_with_byte(LX_CMD_BIND_KEY, 55, 0), 56);
    assert_int_equal(cmd_with_byte(LX_CMD_CANCEL_ALL, 28, 1), 29);
    assert_int_equal(cmd_with_byte(LX_CMD_CANCEL_ALL, 28, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_DEADMAN, 44, 2), 45);
    assert_int_equal(ev_with_byte(LX_EV_DEADMAN, 44, 3), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_AGENT_APPROVED, 68, ' '), LX_ECORRUPT);
    /* Events: REJECTED 52 cmd_type, 53 reason; CANCELED 60 reason; etc. */
    assert_int_equal(ev_with_byte(LX_EV_REJECTED, 52, 0), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_REJECTED, 52, LX_CMD__MAX), 54);
    assert_int_equal(ev_with_byte(LX_EV_REJECTED, 52, LX_CMD__MAX + 1), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_REJECTED, 53, LX_REJECT__COUNT - 1), 54);
    assert_int_equal(ev_with_byte(LX_EV_REJECTED, 53, LX_REJECT__COUNT), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_ORDER_CANCELED, 60, LX_CANCEL__COUNT - 1), 61);
    assert_int_equal(ev_with_byte(LX_EV_ORDER_CANCELED, 60, LX_CANCEL__COUNT), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_ORDER_ACCEPTED, 76, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_ORDER_ACCEPTED, 77, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_ORDER_ACCEPTED, 78, 5), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_ORDER_ACCEPTED, 79, 5), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_TRADE, 104, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_ORDER_AMENDED, 76, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_BOOK_LEVEL, 52, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_MARKET_STATE, 32, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_MARKET_CREATED, 88, 2), LX_ECORRUPT);
    assert_int_equal(ev_with_byte(LX_EV_ASSET_CREATED, 44, 0x80), LX_ECORRUPT);
}

/* The encoder refuses exactly what the decoder would refuse. */
static void test_encode_refuses_invalid(void **state) {
    (void)state;
    uint8_t buf[LX_CMD_ENCODED_MAX];
    lx_cmd_t c;
    sample_cmd(&c, LX_CMD_PLACE, 0);
    c.u.place.side = 2;
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), LX_EINVAL);
    sample_cmd(&c, LX_CMD_PLACE, 0);
    c.u.place.tif = 5;
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), LX_EINVAL);
    sample_cmd(&c, LX_CMD_CANCEL, 0);
    c.u.cancel.by_client_id = 7;
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), LX_EINVAL);
    sample_cmd(&c, LX_CMD_CREATE_ASSET, 0);
    memcpy(c.u.create_asset.symbol, "A B", 3);
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), LX_EINVAL);
    sample_cmd(&c, LX_CMD_TICK, 0);
    c.type = (lx_cmd_type_t)0;
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), LX_EINVAL);
    c.type = (lx_cmd_type_t)(LX_CMD__MAX + 1);
    assert_int_equal(lx_cmd_encode(&c, buf, sizeof buf), LX_EINVAL);
    assert_int_equal(lx_cmd_encode(NULL, buf, sizeof buf), LX_EINVAL);

    uint8_t eb[LX_EVENT_ENCODED_MAX];
    lx_event_t e;
    sample_event(&e, LX_EV_REJECTED, 0);
    e.u.rejected.reason = LX_REJECT__COUNT;
    assert_int_equal(lx_event_encode(&e, eb, sizeof eb), LX_EINVAL);
    sample_event(&e, LX_EV_BALANCE, 0);
    e.type = (lx_event_type_t)(LX_EV__MAX + 1);
    assert_int_equal(lx_event_encode(&e, eb, sizeof eb), LX_EINVAL);
}

/*
 * Every single-byte change of every sample record either is refused or
 * decodes to a record that re-encodes to exactly the changed bytes: no two
 * byte strings decode to the same command, so the byte form is canonical.
 */
static void test_decode_injective(void **state) {
    (void)state;
    for (int t = 1; t <= LX_CMD__MAX; t++) {
        lx_cmd_t c, d;
        uint8_t buf[LX_CMD_ENCODED_MAX], out[LX_CMD_ENCODED_MAX];
        sample_cmd(&c, t, 0);
        int n = lx_cmd_encode(&c, buf, sizeof buf);
        for (int off = 0; off < n; off++) {
            uint8_t keep = buf[off];
            for (int v = 0; v < 256; v++) {
                buf[off] = (uint8_t)v;
                int rc = lx_cmd_decode(&d, buf, (size_t)n);
                if (rc < 0) continue;
                if (off == 0 && v == 1) { /* the same body read as version 1 */
                    assert_memory_equal(&d, &c, sizeof c);
                    continue;
                }
                assert_int_equal(rc, n);
                assert_int_equal(lx_cmd_encode(&d, out, sizeof out), n);
                assert_memory_equal(out, buf, (size_t)n);
            }
            buf[off] = keep;
        }
    }
    for (int t = 1; t <= LX_EV__MAX; t++) {
        lx_event_t e, d;
        uint8_t buf[LX_EVENT_ENCODED_MAX], out[LX_EVENT_ENCODED_MAX];
        sample_event(&e, t, 1);
        int n = lx_event_encode(&e, buf, sizeof buf);
        for (int off = 0; off < n; off++) {
            uint8_t keep = buf[off];
            for (int v = 0; v < 256; v++) {
                buf[off] = (uint8_t)v;
                int rc = lx_event_decode(&d, buf, (size_t)n);
                if (rc < 0) continue;
                if (off == 0 && v == 1) { /* the same body read as version 1 */
                    assert_memory_equal(&d, &e, sizeof e);
                    continue;
                }
                assert_int_equal(rc, n);
                assert_int_equal(lx_event_encode(&d, out, sizeof out), n);
                assert_memory_equal(out, buf, (size_t)n);
            }
            buf[off] = keep;
        }
    }
}

/* ---- text form ------------------------------------------------------------ */

static void check_text_round_trip(const lx_cmd_t *c) {
    char line[512], line2[512], err[128];
    int n = lx_cmd_format(c, line, sizeof line);
    assert_true(n > 0 && (size_t)n < sizeof line);
    assert_int_equal((size_t)n, strlen(line));
    lx_cmd_t d;
    memset(&d, 0x77, sizeof d);
    int rc = lx_cmd_parse(&d, line, err, sizeof err);
    if (rc != 0) fail_msg("parse of '%s' failed: %s", line, err);
    lx_cmd_format(&d, line2, sizeof line2);
    assert_string_equal(line, line2);
    assert_memory_equal(c, &d, sizeof *c);
}

static void test_text_round_trip(void **state) {
    (void)state;
    for (int t = 1; t <= LX_CMD__MAX; t++) {
        for (int v = 0; v < 2; v++) {
            lx_cmd_t c;
            sample_cmd(&c, t, v);
            check_text_round_trip(&c);
        }
    }
    /* Out-of-range enums print as numbers and parse back. */
    lx_cmd_t c;
    sample_cmd(&c, LX_CMD_PLACE, 0);
    c.u.place.side = 7;
    c.u.place.tif = 200;
    c.u.place.stp = 255;
    c.u.place.type = 9;
    check_text_round_trip(&c);
    /* Symbols with bytes that need escaping. */
    sample_cmd(&c, LX_CMD_CREATE_ASSET, 0);
    memcpy(c.u.create_asset.symbol, "a\\b c\x01\0d", 8);
    check_text_round_trip(&c);
}

static void test_text_format_golden(void **state) {
    (void)state;
    char line[512];
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_PLACE;
    c.seq = 5;
    c.ts = 1000;
    c.u.place =
        (lx_cmd_place_t){.account = 1, .market = 0, .side = LX_SIDE_BUY, .price = 100, .qty = 10};
    lx_cmd_format(&c, line, sizeof line);
    assert_string_equal(line, "PLACE seq=5 ts=1000 account=1 market=0 side=BUY type=LIMIT "
                              "tif=GTC stp=NONE price=100 qty=10 client_id=0 expiry=0");
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL_ALL;
    c.u.cancel_all.account = 3;
    c.u.cancel_all.market = LX_MARKET_ALL;
    lx_cmd_format(&c, line, sizeof line);
    assert_string_equal(line, "CANCEL_ALL seq=0 ts=0 account=3 market=ALL reason=USER");
    c.u.cancel_all.reason = LX_CANCEL_ALL_DISCONNECT;
    lx_cmd_format(&c, line, sizeof line);
    assert_string_equal(line, "CANCEL_ALL seq=0 ts=0 account=3 market=ALL reason=DISCONNECT");
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_SCHEDULE_CANCEL;
    c.u.schedule_cancel = (lx_cmd_schedule_cancel_t){.account = 3, .deadline = 5000000000};
    lx_cmd_format(&c, line, sizeof line);
    assert_string_equal(line, "SCHEDULE_CANCEL seq=0 ts=0 account=3 deadline=5000000000");
    {
        /* identity commands, and the auth part of a line */
        static const char want[] =
            "APPROVE_AGENT seq=0 ts=0 account=3 "
            "key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f name=bot "
            "expiry=9";
        lx_cmd_t ap, back;
        lx_cmd_auth_t au, aback;
        memset(&ap, 0, sizeof ap);
        ap.type = LX_CMD_APPROVE_AGENT;
        ap.u.approve_agent.account = 3;
        for (int i = 0; i < 32; i++) ap.u.approve_agent.key[i] = (uint8_t)i;
        memcpy(ap.u.approve_agent.name, "bot", 3);
        ap.u.approve_agent.expiry = 9;
        lx_cmd_format(&ap, line, sizeof line);
        assert_string_equal(line, want);
        memset(&au, 0, sizeof au);
        au.scheme = LX_CMD_AUTH_SIGNED;
        memset(au.key, 0xab, 32);
        au.nonce = 77;
        char tail[256], full[768];
        lx_cmd_auth_format(&au, tail, sizeof tail);
        assert_string_equal(tail,
                            " auth=SIGNED "
                            "signer=abababababababababababababababababababababababababababababab"
                            "abab nonce=77");
        snprintf(full, sizeof full, "%s%s", line, tail);
        char err[128];
        assert_int_equal(lx_cmd_parse_auth(&back, &aback, full, err, sizeof err), 0);
        assert_memory_equal(&back, &ap, sizeof ap);
        assert_memory_equal(&aback, &au, sizeof au);
        /* lx_cmd_parse refuses auth keys; signer needs auth; auth needs signer */
        assert_int_equal(lx_cmd_parse(&back, full, err, sizeof err), LX_EINVAL);
        assert_int_equal(lx_cmd_parse_auth(&back, &aback, "TICK nonce=3", err, sizeof err),
                         LX_EINVAL);
        assert_int_equal(lx_cmd_parse_auth(&back, &aback, "TICK auth=SESSION", err, sizeof err),
                         LX_EINVAL);
        assert_int_equal(lx_cmd_parse_auth(&back, &aback, "TICK", err, sizeof err), 0);
        assert_int_equal(aback.scheme, LX_CMD_AUTH_NONE);
        lx_cmd_auth_format(&aback, tail, sizeof tail);
        assert_string_equal(tail, "");
        /* a key is exactly 64 hex digits */
        assert_int_equal(lx_cmd_parse(&back, "BIND_KEY account=1 key=00", err, sizeof err),
                         LX_EINVAL);
    }
    {
        lx_event_t dm;
        memset(&dm, 0, sizeof dm);
        dm.type = LX_EV_DEADMAN;
        dm.market = LX_MARKET_NONE;
        dm.u.deadman = (lx_ev_deadman_t){.account = 3, .deadline = 5000000000, .state = 1};
        lx_event_format(&dm, line, sizeof line);
        assert_string_equal(line, "DEADMAN account=3 deadline=5000000000 state=ARMED");
    }

    lx_event_t e;
    memset(&e, 0, sizeof e);
    e.type = LX_EV_TRADE;
    e.market = 0;
    e.market_seq = 7;
    e.u.trade = (lx_ev_trade_t){.maker_order = 4294967296ULL,
                                .taker_order = 4294967297ULL,
                                .maker_account = 1,
                                .taker_account = 2,
                                .taker_side = LX_SIDE_BUY,
                                .price = 100,
                                .qty = 5,
                                .maker_remaining = 0,
                                .taker_remaining = 5,
                                .maker_fee = -1,
                                .taker_fee = 2};
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(line, "TRADE market=0 mseq=7 maker=4294967296 taker=4294967297 "
                              "maker_account=1 taker_account=2 taker_side=BUY price=100 qty=5 "
                              "maker_remaining=0 taker_remaining=5 maker_fee=-1 taker_fee=2");

    /* A non-market event: no market, no mseq. */
    memset(&e, 0, sizeof e);
    e.type = LX_EV_REJECTED;
    e.market = LX_MARKET_NONE;
    e.u.rejected = (lx_ev_rejected_t){
        .cmd_type = LX_CMD_DEPOSIT, .reason = LX_REJECT_DUPLICATE_DEPOSIT, .account = 4};
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(
        line, "REJECTED cmd=DEPOSIT reason=DUPLICATE_DEPOSIT account=4 order_id=0 client_id=0");
    /* ... unless it carries a market (a rejected place), or an mseq it should not have. */
    e.market = 2;
    e.market_seq = 1;
    e.u.rejected.cmd_type = LX_CMD_PLACE;
    e.u.rejected.reason = LX_REJECT_UNKNOWN_MARKET;
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(line, "REJECTED market=2 mseq=1 cmd=PLACE reason=UNKNOWN_MARKET "
                              "account=4 order_id=0 client_id=0");

    memset(&e, 0, sizeof e);
    e.type = LX_EV_DEPOSIT;
    e.market = LX_MARKET_NONE;
    e.u.funds = (lx_ev_funds_t){
        .account = 1, .to = LX_ACCOUNT_NONE, .asset = 0, .amount = 50, .deposit_id = 9};
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(line, "DEPOSIT account=1 asset=0 amount=50 deposit_id=9");
    e.type = LX_EV_TRANSFER;
    e.u.funds.to = 2;
    e.u.funds.deposit_id = 0;
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(line, "TRANSFER from=1 to=2 asset=0 amount=50");

    memset(&e, 0, sizeof e);
    e.type = LX_EV_ASSET_CREATED;
    e.market = LX_MARKET_NONE;
    e.u.asset.asset = 0;
    e.u.asset.scale = 100000000;
    memcpy(e.u.asset.symbol, "BTC", 3);
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(line, "ASSET_CREATED asset=0 symbol=BTC scale=100000000");

    memset(&e, 0, sizeof e);
    e.type = LX_EV_ORDER_CANCELED;
    e.market = 1;
    e.market_seq = 12;
    e.u.canceled = (lx_ev_canceled_t){.order_id = 8589934592ULL,
                                      .account = 2,
                                      .client_id = 5,
                                      .reason = LX_CANCEL_IOC_REMAINDER,
                                      .qty = 3};
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(line, "ORDER_CANCELED market=1 mseq=12 order_id=8589934592 account=2 "
                              "client_id=5 reason=IOC_REMAINDER qty=3");

    /* Unknown types. */
    e.type = (lx_event_type_t)99;
    lx_event_format(&e, line, sizeof line);
    assert_string_equal(line, "? type=99");
}

static void test_text_format_truncates(void **state) {
    (void)state;
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_TICK;
    c.seq = 12;
    c.ts = 34;
    char buf[8];
    memset(buf, 'x', sizeof buf);
    int n = lx_cmd_format(&c, buf, sizeof buf);
    assert_int_equal(n, (int)strlen("TICK seq=12 ts=34"));
    assert_string_equal(buf, "TICK se");
    assert_int_equal(lx_cmd_format(&c, NULL, 0), n);
    char one[1] = {'x'};
    assert_int_equal(lx_cmd_format(&c, one, 1), n);
    assert_int_equal(one[0], '\0');
}

static void test_parse_defaults(void **state) {
    (void)state;
    lx_cmd_t c;
    char err[128];
    assert_int_equal(
        lx_cmd_parse(&c, "PLACE account=1 market=0 side=SELL price=100 qty=10", err, sizeof err),
        0);
    assert_int_equal(c.type, LX_CMD_PLACE);
    assert_int_equal(c.seq, 0);
    assert_int_equal(c.ts, 0);
    assert_int_equal(c.u.place.account, 1);
    assert_int_equal(c.u.place.side, LX_SIDE_SELL);
    assert_int_equal(c.u.place.type, LX_ORDER_LIMIT);
    assert_int_equal(c.u.place.tif, LX_TIF_GTC);
    assert_int_equal(c.u.place.stp, LX_STP_NONE);
    assert_int_equal(c.u.place.price, 100);
    assert_int_equal(c.u.place.qty, 10);
    assert_int_equal(c.u.place.client_id, 0);
    assert_int_equal(c.u.place.expiry, 0);

    /* Keys in any order, extra whitespace. */
    assert_int_equal(lx_cmd_parse(&c,
                                  "  PLACE\tqty=3 price=-7 ts=9 tif=POST_ONLY stp=DECREMENT "
                                  "side=BUY market=NONE account=2 type=MARKET seq=4  ",
                                  err, sizeof err),
                     0);
    assert_int_equal(c.seq, 4);
    assert_int_equal(c.ts, 9);
    assert_int_equal(c.u.place.market, LX_MARKET_NONE);
    assert_int_equal(c.u.place.price, -7);
    assert_int_equal(c.u.place.tif, LX_TIF_POST_ONLY);
    assert_int_equal(c.u.place.stp, LX_STP_DECREMENT);
    assert_int_equal(c.u.place.type, LX_ORDER_MARKET);

    /* Cancel / amend: by_client_id inferred. */
    assert_int_equal(lx_cmd_parse(&c, "CANCEL account=1 market=0 client_id=77", err, sizeof err),
                     0);
    assert_int_equal(c.u.cancel.by_client_id, 1);
    assert_int_equal(c.u.cancel.client_id, 77);
    assert_int_equal(c.u.cancel.order_id, 0);
    assert_int_equal(
        lx_cmd_parse(&c, "CANCEL account=1 market=0 order_id=4294967296", err, sizeof err), 0);
    assert_int_equal(c.u.cancel.by_client_id, 0);
    assert_int_equal(c.u.cancel.order_id, 4294967296ULL);
    assert_int_equal(
        lx_cmd_parse(&c, "AMEND account=1 market=0 client_id=5 price=10 qty=2", err, sizeof err),
        0);
    assert_int_equal(c.u.amend.by_client_id, 1);
    assert_int_equal(c.u.amend.price, 10);
    assert_int_equal(lx_cmd_parse(&c,
                                  "AMEND account=1 market=0 order_id=1 client_id=5 price=10 qty=2",
                                  err, sizeof err),
                     0);
    assert_int_equal(c.u.amend.by_client_id, 0);

    /* Create market defaults; cancel-all ALL; tick. */
    assert_int_equal(lx_cmd_parse(&c,
                                  "CREATE_MARKET market=0 base=0 quote=1 tick_size=1 "
                                  "lot_size=1 min_price=1 max_price=1000 max_qty=100",
                                  err, sizeof err),
                     0);
    assert_int_equal(c.u.create_market.mode, LX_MODE_CONTINUOUS);
    assert_int_equal(c.u.create_market.maker_fee, 0);
    assert_int_equal(c.u.create_market.taker_fee, 0);
    assert_int_equal(lx_cmd_parse(&c, "CANCEL_ALL account=1 market=ALL", err, sizeof err), 0);
    assert_int_equal(c.u.cancel_all.market, LX_MARKET_ALL);
    assert_int_equal(lx_cmd_parse(&c, "TICK ts=500", err, sizeof err), 0);
    assert_int_equal(c.type, LX_CMD_TICK);
    assert_int_equal(c.ts, 500);
    assert_int_equal(lx_cmd_parse(&c, "CREATE_ASSET asset=0 symbol=USD scale=100", err, sizeof err),
                     0);
    assert_memory_equal(c.u.create_asset.symbol, "USD\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    /* Extremes of each width. */
    assert_int_equal(lx_cmd_parse(&c,
                                  "DEPOSIT account=4294967294 asset=0 amount=-9223372036854775808 "
                                  "deposit_id=18446744073709551615",
                                  err, sizeof err),
                     0);
    assert_int_equal(c.u.deposit.account, 4294967294u);
    assert_true(c.u.deposit.amount == INT64_MIN);
    assert_true(c.u.deposit.deposit_id == UINT64_MAX);
    assert_int_equal(lx_cmd_parse(&c,
                                  "SET_FEES market=0 maker_fee=-2147483648 taker_fee=2147483647",
                                  err, sizeof err),
                     0);
    assert_int_equal(c.u.set_fees.maker_fee, INT32_MIN);
    assert_int_equal(c.u.set_fees.taker_fee, INT32_MAX);
}

static void expect_parse_error(const char *line, const char *needle) {
    lx_cmd_t c;
    char err[160];
    memset(err, 0, sizeof err);
    int rc = lx_cmd_parse(&c, line, err, sizeof err);
    if (rc != LX_EINVAL) fail_msg("'%s' parsed (rc %d), expected an error", line, rc);
    if (!strstr(err, needle)) fail_msg("'%s': error '%s' does not mention '%s'", line, err, needle);
}

static void test_parse_errors(void **state) {
    (void)state;
    expect_parse_error("", "empty");
    expect_parse_error("   ", "empty");
    expect_parse_error("FROB x=1", "FROB");
    expect_parse_error("place account=1", "place"); /* names are case-sensitive */
    expect_parse_error("PLACE account=1 market=0 side=BUY price=100 qty=10 colour=red", "colour");
    expect_parse_error("PLACE account=1 market=0 side=UP price=100 qty=10", "side");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=100 qty=10 tif=GTX", "tif");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=1e3 qty=10", "price");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=+5 qty=10", "price");
    expect_parse_error("PLACE account=1 market=0 side=BUY price= qty=10", "price");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=100 qty=9223372036854775808",
                       "qty");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=-9223372036854775809 qty=1",
                       "price");
    expect_parse_error("PLACE account=4294967296 market=0 side=BUY price=1 qty=1", "account");
    expect_parse_error("PLACE account=-1 market=0 side=BUY price=1 qty=1", "account");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=1 qty=1 client_id=-1", "client_id");
    expect_parse_error(
        "PLACE account=1 market=0 side=BUY price=1 qty=1 client_id=18446744073709551616",
        "client_id");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=1 qty=1 side=SELL", "side");
    expect_parse_error("PLACE account=1 market=0 side=BUY qty=1", "price");
    expect_parse_error("PLACE account=1 market=0 price=1 qty=1", "side");
    expect_parse_error("PLACE account=1 market=0 side=BUY price=1 qty", "qty");
    expect_parse_error("PLACE seq=x account=1 market=0 side=BUY price=1 qty=1", "seq");
    expect_parse_error("PLACE ts=1 ts=2 account=1 market=0 side=BUY price=1 qty=1", "ts");
    expect_parse_error("PLACE account=1 market=0 side=256 price=1 qty=1", "side");
    expect_parse_error("CANCEL account=1 market=0", "order_id");
    expect_parse_error("CANCEL account=1 market=0 order_id=1 by_client_id=256", "by_client_id");
    expect_parse_error("SET_FEES market=0 maker_fee=2147483648 taker_fee=0", "maker_fee");
    expect_parse_error("CREATE_ASSET asset=0 symbol=ABCDEFGHIJKLMNOPQ scale=1", "symbol");
    expect_parse_error("CREATE_ASSET asset=0 symbol=A\\x4 scale=1", "symbol");
    expect_parse_error("CREATE_ASSET asset=0 symbol=A\\q41 scale=1", "symbol");
    expect_parse_error("TICK qty=1", "qty");
    expect_parse_error("CANCEL_ALL account=1", "market");
    /* A NULL error buffer is allowed. */
    lx_cmd_t c;
    assert_int_equal(lx_cmd_parse(&c, "NOPE", NULL, 0), LX_EINVAL);
    assert_int_equal(lx_cmd_parse(&c, NULL, NULL, 0), LX_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_round_trip),         cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_golden_place),           cmocka_unit_test(test_golden_create_asset),
        cmocka_unit_test(test_golden_balance_event),   cmocka_unit_test(test_golden_trade_event),
        cmocka_unit_test(test_golden_deadman_records), cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_header_corruption),      cmocka_unit_test(test_enum_corruption),
        cmocka_unit_test(test_encode_refuses_invalid), cmocka_unit_test(test_decode_injective),
        cmocka_unit_test(test_text_round_trip),        cmocka_unit_test(test_text_format_golden),
        cmocka_unit_test(test_text_format_truncates),  cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
