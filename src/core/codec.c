/*
 * codec.c: the canonical byte form of commands and events (lx/codec.h).
 *
 * A command is what the journal stores and what replicas replay; an event is
 * what determinism tests compare and what market data carries. Both need one
 * byte form that is independent of the compiler's struct layout, padding and
 * endianness, and that can be decoded from untrusted bytes without trusting
 * anything in them. This file is that form and nothing else.
 *
 * Data structure: every record is a fixed header followed by a fixed-size
 * body whose layout depends only on the record's type. Each body layout is
 * one row of a table below (cmd_layouts[], ev_layouts[]): a list of fields
 * in wire order, each with its width, where it lives in the C struct, and
 * what values are valid. The encoder and the decoder walk the same row, so
 * they cannot disagree about an offset; offsets are the running sum of the
 * widths (there is no padding and no reserved byte anywhere), and the table
 * of offsets in the comment above the decoder, and docs/codec.md, are the
 * specification that the golden-byte tests in tests/unit/test_codec.c check
 * the code against.
 *
 * Invariants:
 *   - Every byte of a record is either a header field or a body field, and
 *     every field has exactly one valid encoding of each valid value, so
 *     decode is injective: encode(decode(b)) == b for every b that decodes.
 *   - decode(encode(x)) reproduces every field of x that the type defines
 *     (the rest of the union is left zero).
 *   - Encode and decode accept exactly the same set of values: a command
 *     whose enum fields are out of range, whose flags are not 0 or 1, or
 *     whose symbol is not printable-then-NUL is refused by both (LX_EINVAL
 *     from encode, LX_ECORRUPT from decode). So a journal can never hold a
 *     record its own reader would refuse. Engine-level validity (a known
 *     market, a positive quantity) is not checked here: such commands are
 *     valid records whose business outcome is a REJECTED event.
 *
 * Costs: a loop over at most 14 fields; no allocation, no state, no locale.
 * Safe from any thread.
 *
 * What this file deliberately does not do: checksums, framing of a stream
 * of records, compression, or write any version but the current one (the
 * journal frames and checksums records; the version byte lets an older
 * layout still be read: version 1 is).
 */
#include <string.h>

#include "lx/codec.h"
#include "lx/error.h"

/* LX_CODEC_VERSION (lx/codec.h, 2) is what the encoders write */
#define LX_CODEC_V1 1 /* still decoded: see "Version 1" above lx_cmd_decode() */
#define V1_CMD_MAX 12 /* LX_CMD_TICK */
#define V1_EV_MAX 14  /* LX_EV_BALANCE */
#define CMD_HEADER 20 /* version, type, body length, seq, ts */
#define EV_HEADER 32  /* ... and market, market_seq */

/* ---- field descriptors ---------------------------------------------------- */

enum {
    F_U8 = 1,   /* 1 byte; value in [lo, hi] */
    F_32 = 4,   /* u32 or i32, bit pattern */
    F_64 = 8,   /* u64 or i64, bit pattern */
    F_SYM = 16, /* 16 bytes: 0x21..0x7e, then only NUL */
    F_KEY = 32, /* 32 bytes, any value (a public key) */
};

typedef struct {
    uint8_t width; /* F_*: also the number of bytes on the wire */
    uint8_t lo, hi;
    uint16_t off; /* offset of the field in lx_cmd_t / lx_event_t */
} field_t;

typedef struct {
    uint8_t nfields;
    uint8_t body; /* body length in bytes: the sum of the widths */
    field_t f[14];
} layout_t;

/* clang-format off */
/* Each takes C(member) or E(member), which expands to (struct, member); the
 * variadic forwarding lets that expansion happen before the split. */
#define U8(...) U8_(__VA_ARGS__)
#define W32(...) W32_(__VA_ARGS__)
#define W64(...) W64_(__VA_ARGS__)
#define SYM(...) SYM_(__VA_ARGS__)
#define KEY(...) KEY_(__VA_ARGS__)
#define U8_(type, member, lo, hi) {F_U8, (lo), (hi), (uint16_t)offsetof(type, member)}
#define W32_(type, member) {F_32, 0, 0, (uint16_t)offsetof(type, member)}
#define W64_(type, member) {F_64, 0, 0, (uint16_t)offsetof(type, member)}
#define SYM_(type, member) {F_SYM, 0, 0, (uint16_t)offsetof(type, member)}
#define KEY_(type, member) {F_KEY, 0, 0, (uint16_t)offsetof(type, member)}

#define C(m) lx_cmd_t, u.m
#define E(m) lx_event_t, u.m

#define BOOL_ 0, 1
#define SIDE_ 0, LX_SIDE_SELL
#define OTYPE_ 0, LX_ORDER_MARKET
#define TIF_ 0, LX_TIF_POST_ONLY
#define STP_ 0, LX_STP_DECREMENT
#define MODE_ 0, LX_MODE_BATCH

/*
 * Command bodies. Offsets are relative to the start of the body (byte 20 of
 * the record); see the table above lx_cmd_decode().
 */
static const layout_t cmd_layouts[LX_CMD__MAX + 1] = {
    [LX_CMD_CREATE_ASSET] = {3, 28,
                             {W32(C(create_asset.asset)), W64(C(create_asset.scale)),
                              SYM(C(create_asset.symbol))}},
    [LX_CMD_CREATE_MARKET] = {11, 61,
                              {W32(C(create_market.market)), W32(C(create_market.base)),
                               W32(C(create_market.quote)), W64(C(create_market.tick_size)),
                               W64(C(create_market.lot_size)), W64(C(create_market.min_price)),
                               W64(C(create_market.max_price)), W64(C(create_market.max_qty)),
                               W32(C(create_market.maker_fee)), W32(C(create_market.taker_fee)),
                               U8(C(create_market.mode), MODE_)}},
    [LX_CMD_SET_MARKET_STATE] = {2, 5,
                                 {W32(C(set_market_state.market)),
                                  U8(C(set_market_state.halted), BOOL_)}},
    [LX_CMD_SET_FEES] = {3, 12,
                         {W32(C(set_fees.market)), W32(C(set_fees.maker_fee)),
                          W32(C(set_fees.taker_fee))}},
    [LX_CMD_DEPOSIT] = {4, 24,
                        {W32(C(deposit.account)), W32(C(deposit.asset)), W64(C(deposit.amount)),
                         W64(C(deposit.deposit_id))}},
    [LX_CMD_WITHDRAW] = {3, 16,
                         {W32(C(withdraw.account)), W32(C(withdraw.asset)),
                          W64(C(withdraw.amount))}},
    [LX_CMD_TRANSFER] = {4, 20,
                         {W32(C(transfer.from)), W32(C(transfer.to)), W32(C(transfer.asset)),
                          W64(C(transfer.amount))}},
    [LX_CMD_PLACE] = {10, 44,
                      {W32(C(place.account)), W32(C(place.market)), W64(C(place.price)),
                       W64(C(place.qty)), W64(C(place.client_id)), W64(C(place.expiry)),
                       U8(C(place.side), SIDE_), U8(C(place.type), OTYPE_),
                       U8(C(place.tif), TIF_), U8(C(place.stp), STP_)}},
    [LX_CMD_CANCEL] = {5, 25,
                       {W32(C(cancel.account)), W32(C(cancel.market)), W64(C(cancel.order_id)),
                        W64(C(cancel.client_id)), U8(C(cancel.by_client_id), BOOL_)}},
    [LX_CMD_AMEND] = {7, 41,
                      {W32(C(amend.account)), W32(C(amend.market)), W64(C(amend.order_id)),
                       W64(C(amend.client_id)), W64(C(amend.price)), W64(C(amend.qty)),
                       U8(C(amend.by_client_id), BOOL_)}},
    [LX_CMD_CANCEL_ALL] = {3, 9,
                           {W32(C(cancel_all.account)), W32(C(cancel_all.market)),
                            U8(C(cancel_all.reason), 0, LX_CANCEL_ALL_DISCONNECT)}},
    [LX_CMD_TICK] = {0, 0, {{0, 0, 0, 0}}},
    [LX_CMD_SCHEDULE_CANCEL] = {2, 12,
                                {W32(C(schedule_cancel.account)),
                                 W64(C(schedule_cancel.deadline))}},
    [LX_CMD_BIND_KEY] = {2, 36, {W32(C(bind_key.account)), KEY(C(bind_key.key))}},
    [LX_CMD_APPROVE_AGENT] = {4, 60,
                              {W32(C(approve_agent.account)), KEY(C(approve_agent.key)),
                               SYM(C(approve_agent.name)), W64(C(approve_agent.expiry))}},
    [LX_CMD_REVOKE_AGENT] = {2, 36, {W32(C(revoke_agent.account)), KEY(C(revoke_agent.key))}},
};

/* Event bodies, relative to byte 32 of the record; see lx_event_decode(). */
static const layout_t ev_layouts[LX_EV__MAX + 1] = {
    [LX_EV_ASSET_CREATED] = {3, 28, {W32(E(asset.asset)), W64(E(asset.scale)), SYM(E(asset.symbol))}},
    [LX_EV_MARKET_CREATED] = {10, 57,
                              {W32(E(market.base)), W32(E(market.quote)),
                               W64(E(market.tick_size)), W64(E(market.lot_size)),
                               W64(E(market.min_price)), W64(E(market.max_price)),
                               W64(E(market.max_qty)), W32(E(market.maker_fee)),
                               W32(E(market.taker_fee)), U8(E(market.mode), MODE_)}},
    [LX_EV_MARKET_STATE] = {1, 1, {U8(E(market_state.halted), BOOL_)}},
    [LX_EV_FEES_SET] = {2, 8, {W32(E(fees.maker_fee)), W32(E(fees.taker_fee))}},
#define FUNDS_LAYOUT                                                                               \
    {5, 28,                                                                                        \
     {W32(E(funds.account)), W32(E(funds.to)), W32(E(funds.asset)), W64(E(funds.amount)),          \
      W64(E(funds.deposit_id))}}
    [LX_EV_DEPOSIT] = FUNDS_LAYOUT,
    [LX_EV_WITHDRAWAL] = FUNDS_LAYOUT,
    [LX_EV_TRANSFER] = FUNDS_LAYOUT,
#undef FUNDS_LAYOUT
    [LX_EV_REJECTED] = {5, 22,
                        {W32(E(rejected.account)), W64(E(rejected.order_id)),
                         W64(E(rejected.client_id)), U8(E(rejected.cmd_type), 1, LX_CMD__MAX),
                         U8(E(rejected.reason), 0, LX_REJECT__COUNT - 1)}},
    [LX_EV_ORDER_ACCEPTED] = {10, 48,
                              {W64(E(accepted.order_id)), W32(E(accepted.account)),
                               W64(E(accepted.price)), W64(E(accepted.qty)),
                               W64(E(accepted.client_id)), W64(E(accepted.expiry)),
                               U8(E(accepted.side), SIDE_), U8(E(accepted.type), OTYPE_),
                               U8(E(accepted.tif), TIF_), U8(E(accepted.stp), STP_)}},
    [LX_EV_TRADE] = {11, 73,
                     {W64(E(trade.maker_order)), W64(E(trade.taker_order)),
                      W32(E(trade.maker_account)), W32(E(trade.taker_account)),
                      W64(E(trade.price)), W64(E(trade.qty)), W64(E(trade.maker_remaining)),
                      W64(E(trade.taker_remaining)), W64(E(trade.maker_fee)),
                      W64(E(trade.taker_fee)), U8(E(trade.taker_side), SIDE_)}},
    [LX_EV_ORDER_CANCELED] = {5, 29,
                              {W64(E(canceled.order_id)), W32(E(canceled.account)),
                               W64(E(canceled.client_id)), W64(E(canceled.qty)),
                               U8(E(canceled.reason), 0, LX_CANCEL__COUNT - 1)}},
    [LX_EV_ORDER_AMENDED] = {7, 45,
                             {W64(E(amended.order_id)), W32(E(amended.account)),
                              W64(E(amended.client_id)), W64(E(amended.price)),
                              W64(E(amended.qty)), W64(E(amended.remaining)),
                              U8(E(amended.priority_lost), BOOL_)}},
    [LX_EV_BOOK_LEVEL] = {4, 21,
                          {W64(E(level.price)), W64(E(level.qty)), W32(E(level.count)),
                           U8(E(level.side), SIDE_)}},
    [LX_EV_BALANCE] = {4, 24,
                       {W32(E(balance.account)), W32(E(balance.asset)), W64(E(balance.free)),
                        W64(E(balance.locked))}},
    [LX_EV_DEADMAN] = {3, 13,
                       {W32(E(deadman.account)), W64(E(deadman.deadline)),
                        U8(E(deadman.state), 0, LX_DEADMAN_FIRED)}},
#define KEY_LAYOUT                                                                                 \
    {4, 60, {W32(E(key.account)), KEY(E(key.key)), SYM(E(key.name)), W64(E(key.expiry))}}
    [LX_EV_KEY_BOUND] = KEY_LAYOUT,
    [LX_EV_AGENT_APPROVED] = KEY_LAYOUT,
    [LX_EV_AGENT_REVOKED] = KEY_LAYOUT,
#undef KEY_LAYOUT
};

/* Version 1 differs from version 2 only in CANCEL_ALL, which had no reason
 * byte (it decodes as reason 0, USER), and in knowing fewer types. */
static const layout_t cmd_cancel_all_v1 = {2, 8,
                                           {W32(C(cancel_all.account)),
                                            W32(C(cancel_all.market))}};
/* clang-format on */

/* ---- walking a layout ------------------------------------------------------ */

static bool symbol_valid(const uint8_t *s) {
    size_t i = 0;
    while (i < 16 && s[i] >= 0x21 && s[i] <= 0x7e) i++;
    while (i < 16 && s[i] == 0) i++;
    return i == 16;
}

/* Whether every field of the struct at `base` has a canonical encoding. */
static bool body_valid(const layout_t *l, const uint8_t *base) {
    for (unsigned i = 0; i < l->nfields; i++) {
        const field_t *f = &l->f[i];
        if (f->width == F_U8 && (base[f->off] < f->lo || base[f->off] > f->hi)) return false;
        if (f->width == F_SYM && !symbol_valid(base + f->off)) return false;
    }
    return true;
}

static void body_put(const layout_t *l, const uint8_t *base, uint8_t *p) {
    for (unsigned i = 0; i < l->nfields; i++) {
        const field_t *f = &l->f[i];
        /* tests in order of frequency (an if chain: the switch over five
         * widths compiled to a slower search, +0.5 instructions a field) */
        if (f->width == F_64) {
            uint64_t v;
            memcpy(&v, base + f->off, 8);
            lx_put_u64(p, v);
        } else if (f->width == F_32) {
            uint32_t v;
            memcpy(&v, base + f->off, 4); /* int32_t or uint32_t: same bits */
            lx_put_u32(p, v);
        } else if (f->width == F_U8) {
            *p = base[f->off];
        } else { /* F_SYM, F_KEY: bytes as they are */
            memcpy(p, base + f->off, f->width);
        }
        p += f->width;
    }
}

static void body_get(const layout_t *l, uint8_t *base, const uint8_t *p) {
    for (unsigned i = 0; i < l->nfields; i++) {
        const field_t *f = &l->f[i];
        switch (f->width) {
        case F_U8:
            base[f->off] = *p;
            break;
        case F_32: {
            uint32_t v = lx_get_u32(p);
            memcpy(base + f->off, &v, 4);
            break;
        }
        case F_64: {
            uint64_t v = lx_get_u64(p);
            memcpy(base + f->off, &v, 8);
            break;
        }
        default: /* F_SYM, F_KEY */
            memcpy(base + f->off, p, f->width);
            break;
        }
        p += f->width;
    }
}

/*
 * Checks the first bytes every record shares: version, type, body length.
 * Each check runs as soon as the bytes it needs are present, so a clean
 * prefix of a valid record is always LX_ETRUNC (a torn write at the end of
 * a journal) and never mistaken for corruption, while garbage is reported
 * as early as it shows. On success *lay is the type's layout.
 */
static int header_check(const uint8_t *buf, size_t len, size_t hdr, const layout_t *table,
                        int max_type, int v1_max_type, const layout_t **lay) {
    if (len < 1) return LX_ETRUNC;
    bool v1 = buf[0] == LX_CODEC_V1;
    if (buf[0] != LX_CODEC_VERSION && !v1) return LX_EVERSION;
    if (len < 2) return LX_ETRUNC;
    if (buf[1] < 1 || buf[1] > (v1 ? v1_max_type : max_type)) return LX_ECORRUPT;
    *lay = &table[buf[1]];
    if (v1 && table == cmd_layouts && buf[1] == LX_CMD_CANCEL_ALL) *lay = &cmd_cancel_all_v1;
    if (len < 4) return LX_ETRUNC;
    if (lx_get_u16(buf + 2) != (*lay)->body) return LX_ECORRUPT;
    if (len < hdr + (*lay)->body) return LX_ETRUNC;
    return 0;
}

/* ---- commands --------------------------------------------------------------- */

int lx_cmd_encode(const lx_cmd_t *cmd, uint8_t *buf, size_t cap) {
    if (!cmd || cmd->type < 1 || cmd->type > LX_CMD__MAX) return LX_EINVAL;
    const layout_t *l = &cmd_layouts[cmd->type];
    if (!body_valid(l, (const uint8_t *)cmd)) return LX_EINVAL;
    size_t total = CMD_HEADER + (size_t)l->body;
    if (!buf || cap < total) return LX_ERANGE;
    buf[0] = LX_CODEC_VERSION;
    buf[1] = (uint8_t)cmd->type;
    lx_put_u16(buf + 2, l->body);
    lx_put_u64(buf + 4, cmd->seq);
    lx_put_u64(buf + 12, (uint64_t)cmd->ts);
    body_put(l, (const uint8_t *)cmd, buf + CMD_HEADER);
    return (int)total;
}

/*
 * Command record, version 2. All integers little-endian, signed ones two's
 * complement; no padding, no reserved bytes. The header (20 bytes):
 *
 *   offset size field
 *   0      1    version: 2 (1 also decodes, below; anything else: LX_EVERSION)
 *   1      1    type: lx_cmd_type_t, 1..16 (else LX_ECORRUPT)
 *   2      2    body length: exactly the length below for the type
 *   4      8    seq (u64)
 *   12     8    ts (i64, ns since the epoch)
 *   20     ...  body
 *
 * Bodies; offsets from the start of the record (body offset + 20):
 *
 *   CREATE_ASSET (1), 28 bytes:      20 u32 asset, 24 i64 scale,
 *                                    32 symbol[16]
 *   CREATE_MARKET (2), 61 bytes:     20 u32 market, 24 u32 base, 28 u32 quote,
 *                                    32 i64 tick_size, 40 i64 lot_size,
 *                                    48 i64 min_price, 56 i64 max_price,
 *                                    64 i64 max_qty, 72 i32 maker_fee,
 *                                    76 i32 taker_fee, 80 u8 mode (0..1)
 *   SET_MARKET_STATE (3), 5 bytes:   20 u32 market, 24 u8 halted (0..1)
 *   SET_FEES (4), 12 bytes:          20 u32 market, 24 i32 maker_fee,
 *                                    28 i32 taker_fee
 *   DEPOSIT (5), 24 bytes:           20 u32 account, 24 u32 asset,
 *                                    28 i64 amount, 36 u64 deposit_id
 *   WITHDRAW (6), 16 bytes:          20 u32 account, 24 u32 asset,
 *                                    28 i64 amount
 *   TRANSFER (7), 20 bytes:          20 u32 from, 24 u32 to, 28 u32 asset,
 *                                    32 i64 amount
 *   PLACE (8), 44 bytes:             20 u32 account, 24 u32 market,
 *                                    28 i64 price, 36 i64 qty,
 *                                    44 u64 client_id, 52 i64 expiry,
 *                                    60 u8 side (0..1), 61 u8 type (0..1),
 *                                    62 u8 tif (0..4), 63 u8 stp (0..4)
 *   CANCEL (9), 25 bytes:            20 u32 account, 24 u32 market,
 *                                    28 u64 order_id, 36 u64 client_id,
 *                                    44 u8 by_client_id (0..1)
 *   AMEND (10), 41 bytes:            20 u32 account, 24 u32 market,
 *                                    28 u64 order_id, 36 u64 client_id,
 *                                    44 i64 price, 52 i64 qty,
 *                                    60 u8 by_client_id (0..1)
 *   CANCEL_ALL (11), 9 bytes:        20 u32 account, 24 u32 market
 *                                    (0xffffffff: every market),
 *                                    28 u8 reason (0 user, 1 disconnect)
 *   TICK (12), 0 bytes.
 *   SCHEDULE_CANCEL (13), 12 bytes:  20 u32 account, 24 i64 deadline
 *                                    (0: clear)
 *   BIND_KEY (14), 36 bytes:         20 u32 account, 24 key[32]
 *   APPROVE_AGENT (15), 60 bytes:    20 u32 account, 24 key[32],
 *                                    56 name (a symbol, may be empty),
 *                                    72 i64 expiry
 *   REVOKE_AGENT (16), 36 bytes:     20 u32 account, 24 key[32]
 *
 * Version 1 (written before the reason byte existed) is still decoded: its
 * header is the same with version 1 and types 1..12, its bodies are the
 * same except CANCEL_ALL, 8 bytes without the reason (decoded as 0, USER).
 * The encoder writes version 2 only, so a version-1 record re-encodes to
 * different bytes; injectivity holds within each version.
 *
 * A symbol is 16 bytes: zero or more bytes 0x21..0x7e, then NUL bytes to
 * the end (an empty symbol is a valid record; the engine rejects it as an
 * asset symbol, accepts it as an agent name). A key is 32 bytes, any value
 * (an ed25519 public key; the engine rejects all zeros).
 *
 * Validity, checked in this order as soon as the bytes are there: version
 * (LX_EVERSION), type (LX_ECORRUPT), body length equal to the type's
 * (LX_ECORRUPT), the whole record present (LX_ETRUNC), every u8 field in its
 * range and every symbol well formed (LX_ECORRUPT). A record shorter than
 * its header or body is LX_ETRUNC. Bytes after the record are not looked at:
 * the return value is the record's length.
 */
int lx_cmd_decode(lx_cmd_t *cmd, const uint8_t *buf, size_t len) {
    if (!cmd || (!buf && len)) return LX_EINVAL;
    memset(cmd, 0, sizeof *cmd);
    const layout_t *l = NULL;
    int rc = header_check(buf, len, CMD_HEADER, cmd_layouts, LX_CMD__MAX, V1_CMD_MAX, &l);
    if (rc) return rc;
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = (lx_cmd_type_t)buf[1];
    c.seq = lx_get_u64(buf + 4);
    c.ts = (int64_t)lx_get_u64(buf + 12);
    body_get(l, (uint8_t *)&c, buf + CMD_HEADER);
    if (!body_valid(l, (const uint8_t *)&c)) return LX_ECORRUPT;
    *cmd = c;
    return CMD_HEADER + l->body;
}

/* ---- events ----------------------------------------------------------------- */

int lx_event_encode(const lx_event_t *ev, uint8_t *buf, size_t cap) {
    if (!ev || ev->type < 1 || ev->type > LX_EV__MAX) return LX_EINVAL;
    const layout_t *l = &ev_layouts[ev->type];
    if (!body_valid(l, (const uint8_t *)ev)) return LX_EINVAL;
    size_t total = EV_HEADER + (size_t)l->body;
    if (!buf || cap < total) return LX_ERANGE;
    buf[0] = LX_CODEC_VERSION;
    buf[1] = (uint8_t)ev->type;
    lx_put_u16(buf + 2, l->body);
    lx_put_u64(buf + 4, ev->seq);
    lx_put_u64(buf + 12, (uint64_t)ev->ts);
    lx_put_u32(buf + 20, ev->market);
    lx_put_u64(buf + 24, ev->market_seq);
    body_put(l, (const uint8_t *)ev, buf + EV_HEADER);
    return (int)total;
}

/*
 * Event record, version 2. Same conventions as commands. The header (32
 * bytes):
 *
 *   offset size field
 *   0      1    version: 2 (1 also decodes: types 1..14, same layouts)
 *   1      1    type: lx_event_type_t, 1..18
 *   2      2    body length: exactly the length below for the type
 *   4      8    seq (u64) of the command that caused the event
 *   12     8    ts (i64) of that command
 *   20     4    market (u32; 0xffffffff: not a market event)
 *   24     8    market_seq (u64; 0 for events that are not market events)
 *   32     ...  body
 *
 * Bodies; offsets from the start of the record (body offset + 32):
 *
 *   ASSET_CREATED (1), 28 bytes:     32 u32 asset, 36 i64 scale,
 *                                    44 symbol[16]
 *   MARKET_CREATED (2), 57 bytes:    32 u32 base, 36 u32 quote,
 *                                    40 i64 tick_size, 48 i64 lot_size,
 *                                    56 i64 min_price, 64 i64 max_price,
 *                                    72 i64 max_qty, 80 i32 maker_fee,
 *                                    84 i32 taker_fee, 88 u8 mode (0..1)
 *   MARKET_STATE (3), 1 byte:        32 u8 halted (0..1)
 *   FEES_SET (4), 8 bytes:           32 i32 maker_fee, 36 i32 taker_fee
 *   DEPOSIT (5), WITHDRAWAL (6), TRANSFER (7), 28 bytes each:
 *                                    32 u32 account, 36 u32 to,
 *                                    40 u32 asset, 44 i64 amount,
 *                                    52 u64 deposit_id
 *   REJECTED (8), 22 bytes:          32 u32 account, 36 u64 order_id,
 *                                    44 u64 client_id,
 *                                    52 u8 cmd_type (1..LX_CMD__MAX),
 *                                    53 u8 reason (< LX_REJECT__COUNT)
 *   ORDER_ACCEPTED (9), 48 bytes:    32 u64 order_id, 40 u32 account,
 *                                    44 i64 price, 52 i64 qty,
 *                                    60 u64 client_id, 68 i64 expiry,
 *                                    76 u8 side (0..1), 77 u8 type (0..1),
 *                                    78 u8 tif (0..4), 79 u8 stp (0..4)
 *   TRADE (10), 73 bytes:            32 u64 maker_order, 40 u64 taker_order,
 *                                    48 u32 maker_account,
 *                                    52 u32 taker_account, 56 i64 price,
 *                                    64 i64 qty, 72 i64 maker_remaining,
 *                                    80 i64 taker_remaining,
 *                                    88 i64 maker_fee, 96 i64 taker_fee,
 *                                    104 u8 taker_side (0..1)
 *   ORDER_CANCELED (11), 29 bytes:   32 u64 order_id, 40 u32 account,
 *                                    44 u64 client_id, 52 i64 qty,
 *                                    60 u8 reason (< LX_CANCEL__COUNT)
 *   ORDER_AMENDED (12), 45 bytes:    32 u64 order_id, 40 u32 account,
 *                                    44 u64 client_id, 52 i64 price,
 *                                    60 i64 qty, 68 i64 remaining,
 *                                    76 u8 priority_lost (0..1)
 *   BOOK_LEVEL (13), 21 bytes:       32 i64 price, 40 i64 qty,
 *                                    48 u32 count, 52 u8 side (0..1)
 *   BALANCE (14), 24 bytes:          32 u32 account, 36 u32 asset,
 *                                    40 i64 free, 48 i64 locked
 *   DEADMAN (15), 13 bytes:          32 u32 account, 36 i64 deadline,
 *                                    44 u8 state (0 cleared, 1 armed,
 *                                    2 fired)
 *   KEY_BOUND (16), AGENT_APPROVED (17), AGENT_REVOKED (18), 60 bytes each:
 *                                    32 u32 account, 36 key[32],
 *                                    68 name (symbol), 84 i64 expiry
 *
 * Validity as for commands. The codec does not check relations between
 * fields (that market_seq is 0 exactly for non-market events, say): those
 * are the engine's promises, checked by the engine's tests.
 */
int lx_event_decode(lx_event_t *ev, const uint8_t *buf, size_t len) {
    if (!ev || (!buf && len)) return LX_EINVAL;
    memset(ev, 0, sizeof *ev);
    const layout_t *l = NULL;
    int rc = header_check(buf, len, EV_HEADER, ev_layouts, LX_EV__MAX, V1_EV_MAX, &l);
    if (rc) return rc;
    lx_event_t e;
    memset(&e, 0, sizeof e);
    e.type = (lx_event_type_t)buf[1];
    e.seq = lx_get_u64(buf + 4);
    e.ts = (int64_t)lx_get_u64(buf + 12);
    e.market = lx_get_u32(buf + 20);
    e.market_seq = lx_get_u64(buf + 24);
    body_get(l, (uint8_t *)&e, buf + EV_HEADER);
    if (!body_valid(l, (const uint8_t *)&e)) return LX_ECORRUPT;
    *ev = e;
    return EV_HEADER + l->body;
}
