/*
 * proto.c: the binary order-entry protocol, version 1: frames, decoding,
 * encoding, and conversions to commands and from events.
 *
 * The format (also docs/protocol.md, which adds the session rules).
 * Every integer is little-endian; i64 is two's complement. A frame is a
 * 4-byte header and a body whose size is fixed by the type:
 *
 *   header   0 u16 size (whole frame)   2 u8 type   3 u8 flags
 *
 * Reserved bytes ("-") must be zero; a frame with a nonzero reserved byte,
 * an enum out of range or a flag not allowed for its type is BAD_FIELD.
 * Header flags are 0 except LX_PROTO_F_RESENT (bit 0) on execution reports.
 *
 * client -> server
 *   0x01 LOGON (120)          4 u16 version  6 u8 flags (bit 0 SIGNED)  7 -
 *                             8 u32 account  12 u32 heartbeat_ms  16 u64 session_id
 *                             24 u8[32] public_key  56 u8[64] signature
 *                             (unsigned logon: key and signature all zero)
 *   0x02 HEARTBEAT (4)        -
 *   0x03 PLACE (48)           4 u32 market  8 u64 client_id  16 u8 side  17 u8 order_type
 *                             18 u8 tif  19 u8 stp  20 u32 -  24 i64 price  32 i64 qty
 *                             40 i64 expiry
 *   0x04 CANCEL (32)          4 u32 market  8 u64 client_id  16 u64 order_id
 *                             24 u8 by_client_id (0/1)  25 u8[7] -
 *   0x05 AMEND (48)           as CANCEL, then 32 i64 price  40 i64 qty
 *   0x06 CANCEL_ALL (8)       4 u32 market (0xffffffff: all)
 *   0x07 ORDER_STATUS (32)    as CANCEL (market 0xffffffff when not known)
 *   0x08 RESEND_REQUEST (24)  4 u32 -  8 u64 from_seq (>= 1)  16 u64 to_seq (0, or >= from)
 *   0x09 SIGNED (240)         4 u16 len (148..232)  6 u8 shard  7 -  8 u8[232] envelope, zero
 *                             after len
 *                             (a signed action, docs/signing.md)
 *   0x0a SCHEDULE_CANCEL (16) 4 u32 -  8 i64 deadline (ns since the epoch; 0 clears; >= 0)
 *
 * server -> client
 *   0x81 LOGON_ACK (32)       4 u16 version  6 u16 -  8 u32 account  12 u32 heartbeat_ms
 *                             16 u64 session_id  24 u64 next_seq
 *   0x82 SERVER_HEARTBEAT (16) 4 u32 -  8 u64 next_seq
 *   0x83 REJECT (24)          4 u8 reason (1..13)  5 u8 ref_type  6 u16 -
 *                             8 u32 retry_after_us  12 u32 -  16 u64 ref_client_id
 *   execution reports: 40 bytes in common, then per type
 *                             4 u32 market  8 u64 client_id  16 u64 order_id  24 u64 seq (>= 1)
 *                             32 i64 ts
 *   0x84 ACCEPTED (72)        40 u8 side  41 u8 order_type  42 u8 tif  43 u8 stp  44 u32 -
 *                             48 i64 price  56 i64 qty  64 i64 expiry
 *   0x85 REJECTED (48)        40 u8 reason (lx_reject_t)  41 u8 cmd_type (lx_cmd_type_t)
 *                             42 u8[6] -
 *   0x86 FILL (80)            40 u8 side  41 u8 liquidity (0 maker, 1 taker)  42 u8[6] -
 *                             48 i64 price  56 i64 qty  64 i64 remaining  72 i64 fee
 *   0x87 CANCELED (56)        40 u8 reason (lx_cancel_reason_t)  41 u8[7] -  48 i64 qty
 *   0x88 AMENDED (72)         40 u8 priority_lost (0/1)  41 u8[7] -  48 i64 price
 *                             56 i64 qty  64 i64 remaining
 *   0x89 ORDER_STATUS_REPLY (80) 4 u32 market  8 u64 client_id  16 u64 order_id
 *                             24 u8 status (0 unknown, 1 open)  25 u8 side  26 u8 order_type
 *                             27 u8 tif  28 u8 stp  29 u8[3] -  32 i64 price  40 i64 qty
 *                             48 i64 remaining  56 i64 filled  64 i64 expiry
 *                             72 u64 as_of_seq
 *   0x8a RESEND_END (32)      4 u8 status (0 complete, 1 trimmed)  5 u8[3] -
 *                             8 u64 first_seq  16 u64 last_seq  24 u64 next_seq
 *   0x8b CHALLENGE (40)       4 u32 -  8 u8[32] challenge (what a signed LOGON signs)
 *   0x8c DEADMAN (56)         execution report: 40 u8 state (0 cleared, 1 armed, 2 fired)
 *                             41 u8[7] -  48 i64 deadline
 *   0x8d ACCOUNT_KEY (104)    execution report: 40 u8 what (0 owner key bound, 1 agent
 *                             approved, 2 agent revoked)  41 u8[7] -  48 i64 expiry
 *                             56 u8[32] key  88 u8[16] name
 *   0x8e FUNDS (72)           execution report: 40 u8 what (0 deposit, 1 withdrawal,
 *                             2 transfer out, 3 transfer in)  41 u8[3] -  44 u32 asset
 *                             48 i64 amount  56 u32 account  60 u32 other  64 u64 deposit_id
 *
 * Enumerations: side 0..1, order_type 0..1, tif 0..4, stp 0..4 (lx/types.h).
 * client_id sits at offset 8 in every message that has one, so a refusal
 * can echo it even when the rest of the frame is bad.
 *
 * Validity is checked in one place (check()) for both directions: the
 * decoder refuses exactly what the encoder refuses to write, so a decoded
 * message always encodes back to the bytes it came from (the fuzz driver
 * checks this). What is not checked here is what needs state: whether the
 * market exists, the price is on the grid, the session is logged on, the
 * version is supported: the engine and the session answer those.
 *
 * The incremental decoder. A frame that arrives whole is decoded where it
 * lies; one split over reads is gathered in a LX_PROTO_FRAME_MAX-byte
 * buffer. The size field is judged as soon as its two bytes are in: below 4
 * or above LX_PROTO_FRAME_MAX the boundaries are lost and the decoder stays
 * failed; any other frame is consumed whole before it is judged, so an
 * invalid frame costs a REJECT, not the connection. Feeding a stream in
 * pieces of any size gives the same messages and errors as feeding it whole.
 *
 * Deliberately not here: sockets, sessions, sequence numbering, retention
 * of reports for resend, rate limits and signature checks (the gateway
 * does those); and no allocation anywhere.
 */
#include <string.h>
#include "lx/codec.h"
#include "lx/error.h"
#include "lx/proto.h"

/* The shortest envelope: the 64-byte header, the shortest command record
 * (20-byte codec header, a 0-byte body would be refused but the size check
 * is only a bound), and the 64-byte signature. */
#define LX_PROTO_SIGNED_MIN (64 + 20 + 64)

/* ---- tables ------------------------------------------------------------- */

size_t lx_proto_msg_size(int type) {
    switch (type) {
#define SIZE_CASE(name, value, size)                                                               \
    case value:                                                                                    \
        return size;
        LX_PROTO_TYPE_MAP(SIZE_CASE)
#undef SIZE_CASE
    default:
        return 0;
    }
}

const char *lx_proto_type_name(int type) {
    switch (type) {
#define NAME_CASE(name, value, size)                                                               \
    case value:                                                                                    \
        return #name;
        LX_PROTO_TYPE_MAP(NAME_CASE)
#undef NAME_CASE
    default:
        return "?";
    }
}

int lx_proto_direction(int type) {
    if (lx_proto_msg_size(type) == 0) return -1;
    return type & 0x80 ? LX_PROTO_FROM_SERVER : LX_PROTO_FROM_CLIENT;
}

bool lx_proto_is_exec(int type) {
    return (type >= LX_PROTO_ACCEPTED && type <= LX_PROTO_AMENDED) || type == LX_PROTO_DEADMAN ||
           type == LX_PROTO_ACCOUNT_KEY || type == LX_PROTO_FUNDS;
}

const char *lx_proto_reason_name(int reason) {
    switch (reason) {
#define RNAME_CASE(name, value, text)                                                              \
    case value:                                                                                    \
        return #name;
        LX_PROTO_REASON_MAP(RNAME_CASE)
#undef RNAME_CASE
    default:
        return "?";
    }
}

const char *lx_proto_reason_str(int reason) {
    switch (reason) {
#define RTEXT_CASE(name, value, text)                                                              \
    case value:                                                                                    \
        return text;
        LX_PROTO_REASON_MAP(RTEXT_CASE)
#undef RTEXT_CASE
    default:
        return "unknown reason";
    }
}

lx_proto_exec_t *lx_proto_exec(lx_proto_msg_t *m) {
    switch (m->type) {
    case LX_PROTO_ACCEPTED:
        return &m->u.accepted.h;
    case LX_PROTO_REJECTED:
        return &m->u.rejected.h;
    case LX_PROTO_FILL:
        return &m->u.fill.h;
    case LX_PROTO_CANCELED:
        return &m->u.canceled.h;
    case LX_PROTO_AMENDED:
        return &m->u.amended.h;
    case LX_PROTO_DEADMAN:
        return &m->u.deadman.h;
    case LX_PROTO_ACCOUNT_KEY:
        return &m->u.account_key.h;
    case LX_PROTO_FUNDS:
        return &m->u.funds.h;
    default:
        return NULL;
    }
}

/* ---- validity: one rule set for both directions -------------------------- */

static bool order_enums_ok(uint8_t side, uint8_t type, uint8_t tif, uint8_t stp) {
    return side <= LX_SIDE_SELL && type <= LX_ORDER_MARKET && tif <= LX_TIF_POST_ONLY &&
           stp <= LX_STP_DECREMENT;
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* Everything about a message that does not need state. */
static bool check(const lx_proto_msg_t *m) {
    uint8_t allowed = lx_proto_is_exec(m->type) ? LX_PROTO_F_RESENT : 0;
    if (m->flags & ~allowed) return false;
    switch (m->type) {
    case LX_PROTO_LOGON: {
        const lx_proto_logon_t *l = &m->u.logon;
        if (l->flags & ~(LX_PROTO_LOGON_SIGNED | LX_PROTO_LOGON_CANCEL_ON_DISCONNECT)) return false;
        if (!(l->flags & LX_PROTO_LOGON_SIGNED))
            return all_zero(l->public_key, 32) && all_zero(l->signature, 64);
        return true;
    }
    case LX_PROTO_PLACE: {
        const lx_proto_place_t *p = &m->u.place;
        return order_enums_ok(p->side, p->order_type, p->tif, p->stp);
    }
    case LX_PROTO_CANCEL:
    case LX_PROTO_ORDER_STATUS:
        return m->u.cancel.by_client_id <= 1;
    case LX_PROTO_AMEND:
        return m->u.amend.by_client_id <= 1;
    case LX_PROTO_RESEND_REQUEST: {
        const lx_proto_resend_request_t *r = &m->u.resend_request;
        return r->from_seq >= 1 && (r->to_seq == 0 || r->to_seq >= r->from_seq);
    }
    case LX_PROTO_REJECT:
        return m->u.reject.reason > LX_PROTO_R_NONE && m->u.reject.reason < LX_PROTO_R__COUNT;
    case LX_PROTO_ACCEPTED: {
        const lx_proto_accepted_t *a = &m->u.accepted;
        return a->h.seq >= 1 && order_enums_ok(a->side, a->order_type, a->tif, a->stp);
    }
    case LX_PROTO_REJECTED: {
        const lx_proto_rejected_t *r = &m->u.rejected;
        return r->h.seq >= 1 && r->reason < LX_REJECT__COUNT && r->cmd_type >= 1 &&
               r->cmd_type <= LX_CMD__MAX;
    }
    case LX_PROTO_FILL:
        return m->u.fill.h.seq >= 1 && m->u.fill.side <= LX_SIDE_SELL &&
               m->u.fill.liquidity <= LX_PROTO_TAKER;
    case LX_PROTO_CANCELED:
        return m->u.canceled.h.seq >= 1 && m->u.canceled.reason < LX_CANCEL__COUNT;
    case LX_PROTO_AMENDED:
        return m->u.amended.h.seq >= 1 && m->u.amended.priority_lost <= 1;
    case LX_PROTO_ORDER_STATUS_REPLY: {
        const lx_proto_status_reply_t *s = &m->u.status_reply;
        return s->status <= LX_PROTO_STATUS_OPEN &&
               order_enums_ok(s->side, s->order_type, s->tif, s->stp);
    }
    case LX_PROTO_RESEND_END:
        return m->u.resend_end.status <= LX_PROTO_RESEND_TRIMMED;
    case LX_PROTO_SCHEDULE_CANCEL:
        return m->u.schedule_cancel.deadline >= 0;
    case LX_PROTO_DEADMAN:
        return m->u.deadman.h.seq >= 1 && m->u.deadman.state <= LX_DEADMAN_FIRED &&
               m->u.deadman.deadline >= 0;
    case LX_PROTO_ACCOUNT_KEY:
        return m->u.account_key.h.seq >= 1 && m->u.account_key.what <= LX_PROTO_KEY_AGENT_REVOKED;
    case LX_PROTO_FUNDS:
        return m->u.funds.h.seq >= 1 && m->u.funds.what <= LX_PROTO_FUNDS_TRANSFER_IN &&
               m->u.funds.amount > 0;
    case LX_PROTO_SIGNED: {
        const lx_proto_signed_t *s = &m->u.signed_action;
        return s->len >= LX_PROTO_SIGNED_MIN && s->len <= LX_PROTO_SIGNED_MAX &&
               all_zero(s->envelope + s->len, LX_PROTO_SIGNED_MAX - s->len);
    }
    default:
        return true; /* HEARTBEAT, CANCEL_ALL, LOGON_ACK, SERVER_HEARTBEAT */
    }
}

/* ---- field access ----------------------------------------------------- */

static int64_t get_i64(const uint8_t *p) {
    return (int64_t)lx_get_u64(p);
}
static void put_i64(uint8_t *p, int64_t v) {
    lx_put_u64(p, (uint64_t)v);
}

static void get_exec(const uint8_t *p, lx_proto_exec_t *h) {
    h->market = lx_get_u32(p + 4);
    h->client_id = lx_get_u64(p + 8);
    h->order_id = lx_get_u64(p + 16);
    h->seq = lx_get_u64(p + 24);
    h->ts = get_i64(p + 32);
}

static void put_exec(uint8_t *p, const lx_proto_exec_t *h) {
    lx_put_u32(p + 4, h->market);
    lx_put_u64(p + 8, h->client_id);
    lx_put_u64(p + 16, h->order_id);
    lx_put_u64(p + 24, h->seq);
    put_i64(p + 32, h->ts);
}

/* CANCEL, ORDER_STATUS and the first 32 bytes of AMEND. */
static void get_cancel(const uint8_t *p, lx_proto_cancel_t *c) {
    c->market = lx_get_u32(p + 4);
    c->client_id = lx_get_u64(p + 8);
    c->order_id = lx_get_u64(p + 16);
    c->by_client_id = p[24];
}

static void put_cancel(uint8_t *p, const lx_proto_cancel_t *c) {
    lx_put_u32(p + 4, c->market);
    lx_put_u64(p + 8, c->client_id);
    lx_put_u64(p + 16, c->order_id);
    p[24] = c->by_client_id;
}

/* ---- decoding --------------------------------------------------------- */

/* Reads the body of a frame of known type and correct size. Returns false
 * if a reserved byte is not zero. */
static bool read_body(const uint8_t *p, lx_proto_msg_t *m) {
    switch (m->type) {
    case LX_PROTO_LOGON: {
        lx_proto_logon_t *l = &m->u.logon;
        l->version = lx_get_u16(p + 4);
        l->flags = p[6];
        l->account = lx_get_u32(p + 8);
        l->heartbeat_ms = lx_get_u32(p + 12);
        l->session_id = lx_get_u64(p + 16);
        memcpy(l->public_key, p + 24, 32);
        memcpy(l->signature, p + 56, 64);
        return p[7] == 0;
    }
    case LX_PROTO_HEARTBEAT:
        return true;
    case LX_PROTO_PLACE: {
        lx_proto_place_t *o = &m->u.place;
        o->market = lx_get_u32(p + 4);
        o->client_id = lx_get_u64(p + 8);
        o->side = p[16];
        o->order_type = p[17];
        o->tif = p[18];
        o->stp = p[19];
        o->price = get_i64(p + 24);
        o->qty = get_i64(p + 32);
        o->expiry = get_i64(p + 40);
        return all_zero(p + 20, 4);
    }
    case LX_PROTO_CANCEL:
    case LX_PROTO_ORDER_STATUS:
        get_cancel(p, &m->u.cancel);
        return all_zero(p + 25, 7);
    case LX_PROTO_AMEND: {
        lx_proto_cancel_t c;
        get_cancel(p, &c);
        m->u.amend.market = c.market;
        m->u.amend.client_id = c.client_id;
        m->u.amend.order_id = c.order_id;
        m->u.amend.by_client_id = c.by_client_id;
        m->u.amend.price = get_i64(p + 32);
        m->u.amend.qty = get_i64(p + 40);
        return all_zero(p + 25, 7);
    }
    case LX_PROTO_CANCEL_ALL:
        m->u.cancel_all.market = lx_get_u32(p + 4);
        return true;
    case LX_PROTO_RESEND_REQUEST:
        m->u.resend_request.from_seq = lx_get_u64(p + 8);
        m->u.resend_request.to_seq = lx_get_u64(p + 16);
        return all_zero(p + 4, 4);
    case LX_PROTO_SIGNED:
        m->u.signed_action.len = lx_get_u16(p + 4);
        m->u.signed_action.shard = p[6];
        memcpy(m->u.signed_action.envelope, p + 8, LX_PROTO_SIGNED_MAX);
        return all_zero(p + 7, 1);
    case LX_PROTO_CHALLENGE:
        memcpy(m->u.challenge.challenge, p + 8, 32);
        return all_zero(p + 4, 4);
    case LX_PROTO_SCHEDULE_CANCEL:
        m->u.schedule_cancel.deadline = get_i64(p + 8);
        return all_zero(p + 4, 4);
    case LX_PROTO_DEADMAN:
        get_exec(p, &m->u.deadman.h);
        m->u.deadman.state = p[40];
        m->u.deadman.deadline = get_i64(p + 48);
        return all_zero(p + 41, 7);
    case LX_PROTO_ACCOUNT_KEY:
        get_exec(p, &m->u.account_key.h);
        m->u.account_key.what = p[40];
        m->u.account_key.expiry = get_i64(p + 48);
        memcpy(m->u.account_key.key, p + 56, 32);
        memcpy(m->u.account_key.name, p + 88, 16);
        return all_zero(p + 41, 7);
    case LX_PROTO_FUNDS:
        get_exec(p, &m->u.funds.h);
        m->u.funds.what = p[40];
        m->u.funds.asset = lx_get_u32(p + 44);
        m->u.funds.amount = get_i64(p + 48);
        m->u.funds.account = lx_get_u32(p + 56);
        m->u.funds.other = lx_get_u32(p + 60);
        m->u.funds.deposit_id = lx_get_u64(p + 64);
        return all_zero(p + 41, 3);
    case LX_PROTO_LOGON_ACK: {
        lx_proto_logon_ack_t *a = &m->u.logon_ack;
        a->version = lx_get_u16(p + 4);
        a->account = lx_get_u32(p + 8);
        a->heartbeat_ms = lx_get_u32(p + 12);
        a->session_id = lx_get_u64(p + 16);
        a->next_seq = lx_get_u64(p + 24);
        return all_zero(p + 6, 2);
    }
    case LX_PROTO_SERVER_HEARTBEAT:
        m->u.heartbeat.next_seq = lx_get_u64(p + 8);
        return all_zero(p + 4, 4);
    case LX_PROTO_REJECT: {
        lx_proto_reject_t *r = &m->u.reject;
        r->reason = p[4];
        r->ref_type = p[5];
        r->retry_after_us = lx_get_u32(p + 8);
        r->ref_client_id = lx_get_u64(p + 16);
        return all_zero(p + 6, 2) && all_zero(p + 12, 4);
    }
    case LX_PROTO_ACCEPTED: {
        lx_proto_accepted_t *a = &m->u.accepted;
        get_exec(p, &a->h);
        a->side = p[40];
        a->order_type = p[41];
        a->tif = p[42];
        a->stp = p[43];
        a->price = get_i64(p + 48);
        a->qty = get_i64(p + 56);
        a->expiry = get_i64(p + 64);
        return all_zero(p + 44, 4);
    }
    case LX_PROTO_REJECTED:
        get_exec(p, &m->u.rejected.h);
        m->u.rejected.reason = p[40];
        m->u.rejected.cmd_type = p[41];
        return all_zero(p + 42, 6);
    case LX_PROTO_FILL: {
        lx_proto_fill_t *f = &m->u.fill;
        get_exec(p, &f->h);
        f->side = p[40];
        f->liquidity = p[41];
        f->price = get_i64(p + 48);
        f->qty = get_i64(p + 56);
        f->remaining = get_i64(p + 64);
        f->fee = get_i64(p + 72);
        return all_zero(p + 42, 6);
    }
    case LX_PROTO_CANCELED:
        get_exec(p, &m->u.canceled.h);
        m->u.canceled.reason = p[40];
        m->u.canceled.qty = get_i64(p + 48);
        return all_zero(p + 41, 7);
    case LX_PROTO_AMENDED: {
        lx_proto_amended_t *a = &m->u.amended;
        get_exec(p, &a->h);
        a->priority_lost = p[40];
        a->price = get_i64(p + 48);
        a->qty = get_i64(p + 56);
        a->remaining = get_i64(p + 64);
        return all_zero(p + 41, 7);
    }
    case LX_PROTO_ORDER_STATUS_REPLY: {
        lx_proto_status_reply_t *s = &m->u.status_reply;
        s->market = lx_get_u32(p + 4);
        s->client_id = lx_get_u64(p + 8);
        s->order_id = lx_get_u64(p + 16);
        s->status = p[24];
        s->side = p[25];
        s->order_type = p[26];
        s->tif = p[27];
        s->stp = p[28];
        s->price = get_i64(p + 32);
        s->qty = get_i64(p + 40);
        s->remaining = get_i64(p + 48);
        s->filled = get_i64(p + 56);
        s->expiry = get_i64(p + 64);
        s->as_of_seq = lx_get_u64(p + 72);
        return all_zero(p + 29, 3);
    }
    case LX_PROTO_RESEND_END: {
        lx_proto_resend_end_t *e = &m->u.resend_end;
        e->status = p[4];
        e->first_seq = lx_get_u64(p + 8);
        e->last_seq = lx_get_u64(p + 16);
        e->next_seq = lx_get_u64(p + 24);
        return all_zero(p + 5, 3);
    }
    default:
        return false;
    }
}

int lx_proto_decode_frame(const uint8_t *buf, size_t len, int direction, lx_proto_msg_t *m,
                          uint8_t *reason) {
    uint8_t r = LX_PROTO_R_NONE;
    memset(m, 0, sizeof *m);
    if (len < LX_PROTO_HEADER_SIZE || lx_get_u16(buf) < LX_PROTO_HEADER_SIZE) {
        r = LX_PROTO_R_MALFORMED;
    } else if (lx_get_u16(buf) > LX_PROTO_FRAME_MAX) {
        r = LX_PROTO_R_TOO_LARGE;
    } else if (lx_get_u16(buf) != len) {
        r = LX_PROTO_R_MALFORMED;
    } else {
        size_t want = lx_proto_msg_size(buf[2]);
        m->type = buf[2];
        m->flags = buf[3];
        if (want == 0 || lx_proto_direction(buf[2]) != direction)
            r = LX_PROTO_R_UNKNOWN_TYPE;
        else if (len < want)
            r = LX_PROTO_R_TRUNCATED;
        else if (len > want)
            r = LX_PROTO_R_TRAILING_BYTES;
        else if (!read_body(buf, m) || !check(m))
            r = LX_PROTO_R_BAD_FIELD;
    }
    if (reason) *reason = r;
    return r == LX_PROTO_R_NONE ? 0 : LX_EINVAL;
}

/* ---- encoding --------------------------------------------------------- */

int lx_proto_encode(const lx_proto_msg_t *m, uint8_t *buf, size_t cap) {
    size_t size = lx_proto_msg_size(m->type);
    if (size == 0 || !check(m)) return LX_EINVAL;
    if (cap < size) return LX_ERANGE;
    uint8_t *p = buf;
    memset(p, 0, size);
    lx_put_u16(p, (uint16_t)size);
    p[2] = m->type;
    p[3] = m->flags;
    switch (m->type) {
    case LX_PROTO_LOGON: {
        const lx_proto_logon_t *l = &m->u.logon;
        lx_put_u16(p + 4, l->version);
        p[6] = l->flags;
        lx_put_u32(p + 8, l->account);
        lx_put_u32(p + 12, l->heartbeat_ms);
        lx_put_u64(p + 16, l->session_id);
        memcpy(p + 24, l->public_key, 32);
        memcpy(p + 56, l->signature, 64);
        break;
    }
    case LX_PROTO_HEARTBEAT:
        break;
    case LX_PROTO_PLACE: {
        const lx_proto_place_t *o = &m->u.place;
        lx_put_u32(p + 4, o->market);
        lx_put_u64(p + 8, o->client_id);
        p[16] = o->side;
        p[17] = o->order_type;
        p[18] = o->tif;
        p[19] = o->stp;
        put_i64(p + 24, o->price);
        put_i64(p + 32, o->qty);
        put_i64(p + 40, o->expiry);
        break;
    }
    case LX_PROTO_CANCEL:
    case LX_PROTO_ORDER_STATUS:
        put_cancel(p, &m->u.cancel);
        break;
    case LX_PROTO_AMEND: {
        const lx_proto_amend_t *a = &m->u.amend;
        lx_proto_cancel_t c = {a->market, a->client_id, a->order_id, a->by_client_id};
        put_cancel(p, &c);
        put_i64(p + 32, a->price);
        put_i64(p + 40, a->qty);
        break;
    }
    case LX_PROTO_CANCEL_ALL:
        lx_put_u32(p + 4, m->u.cancel_all.market);
        break;
    case LX_PROTO_RESEND_REQUEST:
        lx_put_u64(p + 8, m->u.resend_request.from_seq);
        lx_put_u64(p + 16, m->u.resend_request.to_seq);
        break;
    case LX_PROTO_SIGNED:
        lx_put_u16(p + 4, m->u.signed_action.len);
        p[6] = m->u.signed_action.shard;
        memcpy(p + 8, m->u.signed_action.envelope, LX_PROTO_SIGNED_MAX);
        break;
    case LX_PROTO_CHALLENGE:
        memcpy(p + 8, m->u.challenge.challenge, 32);
        break;
    case LX_PROTO_SCHEDULE_CANCEL:
        put_i64(p + 8, m->u.schedule_cancel.deadline);
        break;
    case LX_PROTO_DEADMAN:
        put_exec(p, &m->u.deadman.h);
        p[40] = m->u.deadman.state;
        put_i64(p + 48, m->u.deadman.deadline);
        break;
    case LX_PROTO_ACCOUNT_KEY:
        put_exec(p, &m->u.account_key.h);
        p[40] = m->u.account_key.what;
        put_i64(p + 48, m->u.account_key.expiry);
        memcpy(p + 56, m->u.account_key.key, 32);
        memcpy(p + 88, m->u.account_key.name, 16);
        break;
    case LX_PROTO_FUNDS:
        put_exec(p, &m->u.funds.h);
        p[40] = m->u.funds.what;
        lx_put_u32(p + 44, m->u.funds.asset);
        put_i64(p + 48, m->u.funds.amount);
        lx_put_u32(p + 56, m->u.funds.account);
        lx_put_u32(p + 60, m->u.funds.other);
        lx_put_u64(p + 64, m->u.funds.deposit_id);
        break;
    case LX_PROTO_LOGON_ACK: {
        const lx_proto_logon_ack_t *a = &m->u.logon_ack;
        lx_put_u16(p + 4, a->version);
        lx_put_u32(p + 8, a->account);
        lx_put_u32(p + 12, a->heartbeat_ms);
        lx_put_u64(p + 16, a->session_id);
        lx_put_u64(p + 24, a->next_seq);
        break;
    }
    case LX_PROTO_SERVER_HEARTBEAT:
        lx_put_u64(p + 8, m->u.heartbeat.next_seq);
        break;
    case LX_PROTO_REJECT: {
        const lx_proto_reject_t *r = &m->u.reject;
        p[4] = r->reason;
        p[5] = r->ref_type;
        lx_put_u32(p + 8, r->retry_after_us);
        lx_put_u64(p + 16, r->ref_client_id);
        break;
    }
    case LX_PROTO_ACCEPTED: {
        const lx_proto_accepted_t *a = &m->u.accepted;
        put_exec(p, &a->h);
        p[40] = a->side;
        p[41] = a->order_type;
        p[42] = a->tif;
        p[43] = a->stp;
        put_i64(p + 48, a->price);
        put_i64(p + 56, a->qty);
        put_i64(p + 64, a->expiry);
        break;
    }
    case LX_PROTO_REJECTED:
        put_exec(p, &m->u.rejected.h);
        p[40] = m->u.rejected.reason;
        p[41] = m->u.rejected.cmd_type;
        break;
    case LX_PROTO_FILL: {
        const lx_proto_fill_t *f = &m->u.fill;
        put_exec(p, &f->h);
        p[40] = f->side;
        p[41] = f->liquidity;
        put_i64(p + 48, f->price);
        put_i64(p + 56, f->qty);
        put_i64(p + 64, f->remaining);
        put_i64(p + 72, f->fee);
        break;
    }
    case LX_PROTO_CANCELED:
        put_exec(p, &m->u.canceled.h);
        p[40] = m->u.canceled.reason;
        put_i64(p + 48, m->u.canceled.qty);
        break;
    case LX_PROTO_AMENDED: {
        const lx_proto_amended_t *a = &m->u.amended;
        put_exec(p, &a->h);
        p[40] = a->priority_lost;
        put_i64(p + 48, a->price);
        put_i64(p + 56, a->qty);
        put_i64(p + 64, a->remaining);
        break;
    }
    case LX_PROTO_ORDER_STATUS_REPLY: {
        const lx_proto_status_reply_t *s = &m->u.status_reply;
        lx_put_u32(p + 4, s->market);
        lx_put_u64(p + 8, s->client_id);
        lx_put_u64(p + 16, s->order_id);
        p[24] = s->status;
        p[25] = s->side;
        p[26] = s->order_type;
        p[27] = s->tif;
        p[28] = s->stp;
        put_i64(p + 32, s->price);
        put_i64(p + 40, s->qty);
        put_i64(p + 48, s->remaining);
        put_i64(p + 56, s->filled);
        put_i64(p + 64, s->expiry);
        lx_put_u64(p + 72, s->as_of_seq);
        break;
    }
    case LX_PROTO_RESEND_END: {
        const lx_proto_resend_end_t *e = &m->u.resend_end;
        p[4] = e->status;
        lx_put_u64(p + 8, e->first_seq);
        lx_put_u64(p + 16, e->last_seq);
        lx_put_u64(p + 24, e->next_seq);
        break;
    }
    default:
        return LX_EINVAL;
    }
    return (int)size;
}

/* ---- the incremental decoder ------------------------------------------ */

void lx_proto_decoder_init(lx_proto_decoder_t *d, int direction) {
    memset(d, 0, sizeof *d);
    d->direction = direction;
}

size_t lx_proto_decoder_pending(const lx_proto_decoder_t *d) {
    return d->have;
}

/* The frame boundaries are lost; remember why, forever. The type byte is
 * deliberately not recorded: whether it has arrived depends on how the
 * input was split. */
static int lose_framing(lx_proto_decoder_t *d, uint8_t reason) {
    d->failed = true;
    d->error = reason;
    d->error_type = 0;
    d->error_client_id = 0;
    d->frames++;
    return LX_ECORRUPT;
}

/* A whole frame of plausible size: decode it, or record why not. */
static int judge(lx_proto_decoder_t *d, const uint8_t *frame, size_t size, lx_proto_msg_t *m) {
    uint8_t reason;
    d->frames++;
    d->frame = frame;
    d->frame_len = size;
    if (lx_proto_decode_frame(frame, size, d->direction, m, &reason) == 0) return 1;
    d->error = reason;
    d->error_type = frame[2];
    d->error_client_id = 0;
    uint8_t t = frame[2];
    if ((t == LX_PROTO_PLACE || t == LX_PROTO_CANCEL || t == LX_PROTO_AMEND ||
         t == LX_PROTO_ORDER_STATUS) &&
        size >= 16)
        d->error_client_id = lx_get_u64(frame + 8);
    return LX_EINVAL;
}

int lx_proto_decode(lx_proto_decoder_t *d, const uint8_t **data, size_t *len, lx_proto_msg_t *m) {
    d->frame = NULL;
    d->frame_len = 0;
    if (d->failed) return LX_ECORRUPT;
    const uint8_t *p = *data;
    size_t n = *len;

    /* Fast path: nothing buffered and the whole frame is here. */
    if (d->have == 0 && n >= 2) {
        size_t size = lx_get_u16(p);
        if (size >= LX_PROTO_HEADER_SIZE && size <= LX_PROTO_FRAME_MAX && n >= size) {
            *data = p + size;
            *len = n - size;
            return judge(d, p, size, m);
        }
    }

    /* Gather the size field, then the rest of the frame. */
    while (d->have < 2 && n > 0) {
        d->buf[d->have++] = *p++;
        n--;
    }
    *data = p;
    *len = n;
    if (d->have < 2) return 0;
    size_t size = lx_get_u16(d->buf);
    if (size < LX_PROTO_HEADER_SIZE) return lose_framing(d, LX_PROTO_R_MALFORMED);
    if (size > LX_PROTO_FRAME_MAX) return lose_framing(d, LX_PROTO_R_TOO_LARGE);
    size_t take = size - d->have < n ? size - d->have : n;
    memcpy(d->buf + d->have, p, take);
    d->have += take;
    *data = p + take;
    *len = n - take;
    if (d->have < size) return 0;
    d->have = 0;
    return judge(d, d->buf, size, m);
}

void lx_proto_decoder_reject(const lx_proto_decoder_t *d, lx_proto_msg_t *out) {
    memset(out, 0, sizeof *out);
    out->type = LX_PROTO_REJECT;
    out->u.reject.reason = d->error ? d->error : LX_PROTO_R_MALFORMED;
    out->u.reject.ref_type = d->error_type;
    out->u.reject.ref_client_id = d->error_client_id;
}

/* ---- conversions ------------------------------------------------------- */

int lx_proto_to_cmd(const lx_proto_msg_t *m, lx_account_id_t account, lx_cmd_t *cmd) {
    memset(cmd, 0, sizeof *cmd);
    switch (m->type) {
    case LX_PROTO_PLACE: {
        const lx_proto_place_t *o = &m->u.place;
        cmd->type = LX_CMD_PLACE;
        cmd->u.place.account = account;
        cmd->u.place.market = o->market;
        cmd->u.place.side = o->side;
        cmd->u.place.type = o->order_type;
        cmd->u.place.tif = o->tif;
        cmd->u.place.stp = o->stp;
        cmd->u.place.price = o->price;
        cmd->u.place.qty = o->qty;
        cmd->u.place.client_id = o->client_id;
        cmd->u.place.expiry = o->expiry;
        return 0;
    }
    case LX_PROTO_CANCEL: {
        const lx_proto_cancel_t *c = &m->u.cancel;
        cmd->type = LX_CMD_CANCEL;
        cmd->u.cancel.account = account;
        cmd->u.cancel.market = c->market;
        cmd->u.cancel.by_client_id = c->by_client_id;
        cmd->u.cancel.order_id = c->order_id;
        cmd->u.cancel.client_id = c->client_id;
        return 0;
    }
    case LX_PROTO_AMEND: {
        const lx_proto_amend_t *a = &m->u.amend;
        cmd->type = LX_CMD_AMEND;
        cmd->u.amend.account = account;
        cmd->u.amend.market = a->market;
        cmd->u.amend.by_client_id = a->by_client_id;
        cmd->u.amend.order_id = a->order_id;
        cmd->u.amend.client_id = a->client_id;
        cmd->u.amend.price = a->price;
        cmd->u.amend.qty = a->qty;
        return 0;
    }
    case LX_PROTO_CANCEL_ALL:
        cmd->type = LX_CMD_CANCEL_ALL;
        cmd->u.cancel_all.account = account;
        cmd->u.cancel_all.market = m->u.cancel_all.market;
        return 0;
    case LX_PROTO_SCHEDULE_CANCEL:
        cmd->type = LX_CMD_SCHEDULE_CANCEL;
        cmd->u.schedule_cancel.account = account;
        cmd->u.schedule_cancel.deadline = m->u.schedule_cancel.deadline;
        return 0;
    default:
        return LX_EINVAL;
    }
}

static void exec_head(lx_proto_exec_t *h, const lx_event_t *ev, lx_order_id_t order,
                      uint64_t client_id) {
    h->market = ev->market;
    h->client_id = client_id;
    h->order_id = order;
    h->seq = 0;
    h->ts = ev->ts;
}

int lx_proto_reports_from_event(const lx_event_t *ev, lx_proto_report_t out[2]) {
    memset(out, 0, 2 * sizeof *out);
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *a = &ev->u.accepted;
        lx_proto_accepted_t *r = &out[0].msg.u.accepted;
        out[0].account = a->account;
        out[0].msg.type = LX_PROTO_ACCEPTED;
        exec_head(&r->h, ev, a->order_id, a->client_id);
        r->side = a->side;
        r->order_type = a->type;
        r->tif = a->tif;
        r->stp = a->stp;
        r->price = a->price;
        r->qty = a->qty;
        r->expiry = a->expiry;
        return 1;
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *t = &ev->u.trade;
        for (int i = 0; i < 2; i++) {
            bool maker = i == 0;
            lx_proto_fill_t *f = &out[i].msg.u.fill;
            out[i].account = maker ? t->maker_account : t->taker_account;
            out[i].msg.type = LX_PROTO_FILL;
            exec_head(&f->h, ev, maker ? t->maker_order : t->taker_order, 0);
            f->side = maker ? (uint8_t)(t->taker_side ^ 1) : t->taker_side;
            f->liquidity = maker ? LX_PROTO_MAKER : LX_PROTO_TAKER;
            f->price = t->price;
            f->qty = t->qty;
            f->remaining = maker ? t->maker_remaining : t->taker_remaining;
            f->fee = maker ? t->maker_fee : t->taker_fee;
        }
        return 2;
    }
    case LX_EV_ORDER_CANCELED: {
        const lx_ev_canceled_t *c = &ev->u.canceled;
        out[0].account = c->account;
        out[0].msg.type = LX_PROTO_CANCELED;
        exec_head(&out[0].msg.u.canceled.h, ev, c->order_id, c->client_id);
        out[0].msg.u.canceled.reason = c->reason;
        out[0].msg.u.canceled.qty = c->qty;
        return 1;
    }
    case LX_EV_ORDER_AMENDED: {
        const lx_ev_amended_t *a = &ev->u.amended;
        lx_proto_amended_t *r = &out[0].msg.u.amended;
        out[0].account = a->account;
        out[0].msg.type = LX_PROTO_AMENDED;
        exec_head(&r->h, ev, a->order_id, a->client_id);
        r->priority_lost = a->priority_lost;
        r->price = a->price;
        r->qty = a->qty;
        r->remaining = a->remaining;
        return 1;
    }
    case LX_EV_REJECTED: {
        const lx_ev_rejected_t *j = &ev->u.rejected;
        out[0].account = j->account;
        out[0].msg.type = LX_PROTO_REJECTED;
        exec_head(&out[0].msg.u.rejected.h, ev, j->order_id, j->client_id);
        out[0].msg.u.rejected.reason = j->reason;
        out[0].msg.u.rejected.cmd_type = j->cmd_type;
        return 1;
    }
    case LX_EV_KEY_BOUND:
    case LX_EV_AGENT_APPROVED:
    case LX_EV_AGENT_REVOKED: {
        const lx_ev_key_t *k = &ev->u.key;
        lx_proto_account_key_t *r = &out[0].msg.u.account_key;
        out[0].account = k->account;
        out[0].msg.type = LX_PROTO_ACCOUNT_KEY;
        exec_head(&r->h, ev, 0, 0);
        r->h.market = LX_MARKET_NONE;
        r->what = ev->type == LX_EV_KEY_BOUND        ? LX_PROTO_KEY_BOUND
                  : ev->type == LX_EV_AGENT_APPROVED ? LX_PROTO_KEY_AGENT_APPROVED
                                                     : LX_PROTO_KEY_AGENT_REVOKED;
        r->expiry = k->expiry;
        memcpy(r->key, k->key, 32);
        memcpy(r->name, k->name, 16);
        return 1;
    }
    case LX_EV_DEPOSIT:
    case LX_EV_WITHDRAWAL:
    case LX_EV_TRANSFER: {
        const lx_ev_funds_t *f = &ev->u.funds;
        int n = ev->type == LX_EV_TRANSFER ? 2 : 1;
        for (int i = 0; i < n; i++) {
            lx_proto_funds_t *r = &out[i].msg.u.funds;
            out[i].account = i ? f->to : f->account;
            out[i].msg.type = LX_PROTO_FUNDS;
            exec_head(&r->h, ev, 0, 0);
            r->h.market = LX_MARKET_NONE;
            r->what = ev->type == LX_EV_DEPOSIT      ? LX_PROTO_FUNDS_DEPOSIT
                      : ev->type == LX_EV_WITHDRAWAL ? LX_PROTO_FUNDS_WITHDRAWAL
                      : i                            ? LX_PROTO_FUNDS_TRANSFER_IN
                                                     : LX_PROTO_FUNDS_TRANSFER_OUT;
            r->asset = f->asset;
            r->amount = f->amount;
            r->account = i ? f->to : f->account;
            r->other = ev->type != LX_EV_TRANSFER ? LX_ACCOUNT_NONE : i ? f->account : f->to;
            r->deposit_id = f->deposit_id;
        }
        return n;
    }
    case LX_EV_DEADMAN: {
        const lx_ev_deadman_t *d = &ev->u.deadman;
        out[0].account = d->account;
        out[0].msg.type = LX_PROTO_DEADMAN;
        exec_head(&out[0].msg.u.deadman.h, ev, 0, 0);
        out[0].msg.u.deadman.h.market = LX_MARKET_NONE;
        out[0].msg.u.deadman.state = d->state;
        out[0].msg.u.deadman.deadline = d->state == LX_DEADMAN_CLEARED ? 0 : d->deadline;
        return 1;
    }
    default:
        return 0;
    }
}
