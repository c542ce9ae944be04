/*
 * lx/proto.h: the binary order-entry protocol (TCP), version 1.
 *
 * A stream of frames, each a 4-byte header and a fixed-size body, every
 * field little-endian:
 *
 *   offset 0  u16 size   whole frame in bytes, header included
 *          2  u8  type   lx_proto_type_t: < 0x80 client->server, >= 0x80 server->client
 *          3  u8  flags  0, except LX_PROTO_F_RESENT on replayed execution reports
 *
 * Each message type has exactly one size (lx_proto_msg_size). The layout of
 * every message, with byte offsets, and the session rules (logon,
 * heartbeats, sequence numbers, resend) are in docs/protocol.md and above
 * the code in src/gw/proto.c.
 *
 * Execution reports (ACCEPTED, REJECTED, FILL, CANCELED, AMENDED) carry a
 * per-session sequence number, 1, 2, 3, ... without gaps; a client that sees
 * a gap sends RESEND_REQUEST. Session-level problems (a malformed frame, not
 * logged on, rate limited, ...) are answered with REJECT, which is not
 * sequenced.
 *
 * This module is pure: it decodes, encodes and converts, and owns no socket,
 * session or thread.
 */
#ifndef LX_PROTO_H
#define LX_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lx/command.h"
#include "lx/event.h"

#define LX_PROTO_VERSION 1
#define LX_PROTO_HEADER_SIZE 4
/* The largest frame size a decoder accepts; anything larger loses the
 * stream (REJECT TOO_LARGE, then close). Room for later, longer versions. */
#define LX_PROTO_FRAME_MAX 256

/* Header flags. */
#define LX_PROTO_F_RESENT 0x01 /* server: this execution report is a replay */

/* LOGON flags. */
#define LX_PROTO_LOGON_SIGNED 0x01 /* public_key and signature are meaningful */
/* When the session's connection drops, the node cancels all the account's
 * open orders (a CANCEL_ALL through the log). */
#define LX_PROTO_LOGON_CANCEL_ON_DISCONNECT 0x02

#define LX_PROTO_FROM_CLIENT 0
#define LX_PROTO_FROM_SERVER 1

/* X(name, value, size) */
#define LX_PROTO_TYPE_MAP(X)                                                                       \
    X(LOGON, 0x01, 120)                                                                            \
    X(HEARTBEAT, 0x02, 4)                                                                          \
    X(PLACE, 0x03, 48)                                                                             \
    X(CANCEL, 0x04, 32)                                                                            \
    X(AMEND, 0x05, 48)                                                                             \
    X(CANCEL_ALL, 0x06, 8)                                                                         \
    X(ORDER_STATUS, 0x07, 32)                                                                      \
    X(RESEND_REQUEST, 0x08, 24)                                                                    \
    X(SIGNED, 0x09, 240)                                                                           \
    X(SCHEDULE_CANCEL, 0x0a, 16)                                                                   \
    X(LOGON_ACK, 0x81, 32)                                                                         \
    X(SERVER_HEARTBEAT, 0x82, 16)                                                                  \
    X(REJECT, 0x83, 24)                                                                            \
    X(ACCEPTED, 0x84, 72)                                                                          \
    X(REJECTED, 0x85, 48)                                                                          \
    X(FILL, 0x86, 80)                                                                              \
    X(CANCELED, 0x87, 56)                                                                          \
    X(AMENDED, 0x88, 72)                                                                           \
    X(ORDER_STATUS_REPLY, 0x89, 80)                                                                \
    X(RESEND_END, 0x8a, 32)                                                                        \
    X(CHALLENGE, 0x8b, 40)                                                                         \
    X(DEADMAN, 0x8c, 56)                                                                           \
    X(ACCOUNT_KEY, 0x8d, 104)                                                                      \
    X(FUNDS, 0x8e, 72)

typedef enum {
#define LX__PROTO_TYPE_ENUM(name, value, size) LX_PROTO_##name = (value),
    LX_PROTO_TYPE_MAP(LX__PROTO_TYPE_ENUM)
#undef LX__PROTO_TYPE_ENUM
} lx_proto_type_t;

/*
 * Why a frame or a session request was refused: the decoder's error and the
 * `reason` of a REJECT message. X(name, value, text). MALFORMED and
 * TOO_LARGE lose the frame boundaries: the server sends REJECT and closes.
 * After the others the stream goes on with the next frame.
 */
#define LX_PROTO_REASON_MAP(X)                                                                     \
    X(NONE, 0, "none")                                                                             \
    X(MALFORMED, 1, "frame size smaller than the header")                                          \
    X(TOO_LARGE, 2, "frame larger than the maximum")                                               \
    X(UNKNOWN_TYPE, 3, "unknown message type")                                                     \
    X(TRUNCATED, 4, "frame shorter than its message type")                                         \
    X(TRAILING_BYTES, 5, "frame longer than its message type")                                     \
    X(BAD_FIELD, 6, "field out of range, or reserved bytes or flags not zero")                     \
    X(NOT_LOGGED_ON, 7, "log on first")                                                            \
    X(ALREADY_LOGGED_ON, 8, "already logged on")                                                   \
    X(LOGON_FAILED, 9, "logon refused")                                                            \
    X(BAD_VERSION, 10, "unsupported protocol version")                                             \
    X(RATE_LIMITED, 11, "rate limit exceeded, retry later")                                        \
    X(UNAVAILABLE, 12, "server busy or shutting down")                                             \
    X(BAD_SIGNATURE, 13, "signature, key, chain or signed bytes invalid")

typedef enum {
#define LX__PROTO_REASON_ENUM(name, value, text) LX_PROTO_R_##name = (value),
    LX_PROTO_REASON_MAP(LX__PROTO_REASON_ENUM)
#undef LX__PROTO_REASON_ENUM
        LX_PROTO_R__COUNT
} lx_proto_reason_t;

/* ORDER_STATUS_REPLY status. */
#define LX_PROTO_STATUS_UNKNOWN 0 /* not open: filled, canceled, or never existed */
#define LX_PROTO_STATUS_OPEN 1
/* RESEND_END status. */
#define LX_PROTO_RESEND_COMPLETE 0
#define LX_PROTO_RESEND_TRIMMED 1 /* the oldest requested reports are no longer kept */
/* FILL liquidity. */
#define LX_PROTO_MAKER 0
#define LX_PROTO_TAKER 1

/* ---- client -> server ---------------------------------------------------- */

typedef struct {
    uint16_t version;        /* LX_PROTO_VERSION */
    uint8_t flags;           /* LX_PROTO_LOGON_SIGNED */
    lx_account_id_t account; /* dev mode: the account to trade as */
    uint32_t heartbeat_ms;   /* requested interval; 0 = server default */
    uint64_t session_id;     /* 0: new session; else resume that session */
    uint8_t public_key[32];  /* signed logon only, else zero */
    uint8_t signature[64];   /* signed logon only, else zero */
} lx_proto_logon_t;

typedef struct {
    lx_market_id_t market;
    uint64_t client_id; /* 0 = none */
    uint8_t side, order_type, tif, stp;
    int64_t price;  /* ticks */
    int64_t qty;    /* lots */
    int64_t expiry; /* GTD: ns since the epoch */
} lx_proto_place_t;

/* CANCEL, and ORDER_STATUS (whose market is not used). */
typedef struct {
    lx_market_id_t market;
    uint64_t client_id;
    lx_order_id_t order_id;
    uint8_t by_client_id; /* 1: name the order by client_id, 0: by order_id */
} lx_proto_cancel_t;

typedef struct {
    lx_market_id_t market;
    uint64_t client_id;
    lx_order_id_t order_id;
    uint8_t by_client_id;
    int64_t price; /* new limit price, ticks */
    int64_t qty;   /* new total quantity, lots */
} lx_proto_amend_t;

typedef struct {
    lx_market_id_t market; /* LX_MARKET_ALL: every market */
} lx_proto_cancel_all_t;

/* SIGNED: a signed action (docs/signing.md), len bytes of envelope. */
#define LX_PROTO_SIGNED_MAX 232
typedef struct {
    uint16_t len;  /* LX_SIGN_HDR_LEN + 64 + 20 (the shortest command) .. LX_PROTO_SIGNED_MAX */
    uint8_t shard; /* deposit, withdrawal, transfer: the shard holding the funds; else 0 */
    uint8_t envelope[LX_PROTO_SIGNED_MAX]; /* zero after len */
} lx_proto_signed_t;

typedef struct {
    uint8_t challenge[32]; /* what a signed LOGON signs (lx_sign_logon_payload) */
} lx_proto_challenge_t;

/* SCHEDULE_CANCEL: the session account's dead man's switch. */
typedef struct {
    int64_t deadline; /* ns since the epoch; 0 clears */
} lx_proto_schedule_cancel_t;

typedef struct {
    uint64_t from_seq; /* >= 1 */
    uint64_t to_seq;   /* 0: up to the latest; else >= from_seq */
} lx_proto_resend_request_t;

/* ---- server -> client ---------------------------------------------------- */

typedef struct {
    uint16_t version;
    lx_account_id_t account;
    uint32_t heartbeat_ms; /* granted interval */
    uint64_t session_id;
    uint64_t next_seq; /* the sequence number the next execution report will carry */
} lx_proto_logon_ack_t;

typedef struct {
    uint64_t next_seq;
} lx_proto_server_heartbeat_t;

typedef struct {
    uint8_t reason;          /* lx_proto_reason_t, not NONE */
    uint8_t ref_type;        /* type byte of the refused frame (0 if unknown) */
    uint32_t retry_after_us; /* RATE_LIMITED: when to try again */
    uint64_t ref_client_id;  /* client_id of the refused frame, if it has one */
} lx_proto_reject_t;

/* The first fields of every execution report. */
typedef struct {
    lx_market_id_t market;
    uint64_t client_id;
    lx_order_id_t order_id;
    uint64_t seq; /* per session, from 1, no gaps */
    int64_t ts;   /* timestamp of the command that caused it */
} lx_proto_exec_t;

typedef struct {
    lx_proto_exec_t h;
    uint8_t side, order_type, tif, stp;
    int64_t price, qty, expiry;
} lx_proto_accepted_t;

typedef struct {
    lx_proto_exec_t h;
    uint8_t reason;   /* lx_reject_t */
    uint8_t cmd_type; /* lx_cmd_type_t of the refused request */
} lx_proto_rejected_t;

typedef struct {
    lx_proto_exec_t h;
    uint8_t side;      /* this order's side */
    uint8_t liquidity; /* LX_PROTO_MAKER or LX_PROTO_TAKER */
    int64_t price, qty;
    int64_t remaining; /* this order's open quantity after the fill */
    int64_t fee;       /* quote units; negative: a rebate */
} lx_proto_fill_t;

typedef struct {
    lx_proto_exec_t h;
    uint8_t reason; /* lx_cancel_reason_t */
    int64_t qty;    /* open quantity that was canceled */
} lx_proto_canceled_t;

typedef struct {
    lx_proto_exec_t h;
    uint8_t priority_lost;
    int64_t price, qty, remaining;
} lx_proto_amended_t;

/* DEADMAN: the account's dead man's switch was armed, cleared or fired
 * (h.market is LX_MARKET_NONE, h.order_id and h.client_id 0). */
typedef struct {
    lx_proto_exec_t h;
    uint8_t state;    /* lx_deadman_state_t */
    int64_t deadline; /* 0 when cleared */
} lx_proto_deadman_t;

/* ACCOUNT_KEY: a key of the account was bound as its owner key, approved as
 * an agent or revoked (h.market LX_MARKET_NONE, order and client ids 0). */
#define LX_PROTO_KEY_BOUND 0
#define LX_PROTO_KEY_AGENT_APPROVED 1
#define LX_PROTO_KEY_AGENT_REVOKED 2
typedef struct {
    lx_proto_exec_t h;
    uint8_t what;   /* LX_PROTO_KEY_* */
    int64_t expiry; /* an agent's approval; 0 for an owner key */
    uint8_t key[32];
    char name[16]; /* an agent's name, NUL-padded */
} lx_proto_account_key_t;

/* FUNDS: a deposit, withdrawal or transfer was applied (h.market
 * LX_MARKET_NONE, order and client ids 0). A transfer gives the payer a
 * TRANSFER_OUT and the payee a TRANSFER_IN. */
#define LX_PROTO_FUNDS_DEPOSIT 0
#define LX_PROTO_FUNDS_WITHDRAWAL 1
#define LX_PROTO_FUNDS_TRANSFER_OUT 2
#define LX_PROTO_FUNDS_TRANSFER_IN 3
typedef struct {
    lx_proto_exec_t h;
    uint8_t what; /* LX_PROTO_FUNDS_* */
    lx_asset_id_t asset;
    int64_t amount;          /* base units of the asset, > 0 */
    lx_account_id_t account; /* the account whose balance moved */
    lx_account_id_t other;   /* a transfer's other account, else LX_ACCOUNT_NONE */
    uint64_t deposit_id;     /* a deposit's id, else 0 */
} lx_proto_funds_t;

typedef struct {
    lx_market_id_t market;
    uint64_t client_id;
    lx_order_id_t order_id;
    uint8_t status; /* LX_PROTO_STATUS_* */
    uint8_t side, order_type, tif, stp;
    int64_t price, qty, remaining, filled, expiry;
    uint64_t as_of_seq; /* the last execution report sent before this reply */
} lx_proto_status_reply_t;

typedef struct {
    uint8_t status;     /* LX_PROTO_RESEND_* */
    uint64_t first_seq; /* first report replayed, 0 if none */
    uint64_t last_seq;  /* last report replayed, 0 if none */
    uint64_t next_seq;
} lx_proto_resend_end_t;

typedef struct {
    uint8_t type;  /* lx_proto_type_t */
    uint8_t flags; /* header flags */
    union {
        lx_proto_logon_t logon;
        lx_proto_place_t place;
        lx_proto_cancel_t cancel;
        lx_proto_amend_t amend;
        lx_proto_cancel_all_t cancel_all;
        lx_proto_cancel_t order_status;
        lx_proto_schedule_cancel_t schedule_cancel;
        lx_proto_account_key_t account_key;
        lx_proto_funds_t funds;
        lx_proto_deadman_t deadman;
        lx_proto_signed_t signed_action;
        lx_proto_challenge_t challenge;
        lx_proto_resend_request_t resend_request;
        lx_proto_logon_ack_t logon_ack;
        lx_proto_server_heartbeat_t heartbeat;
        lx_proto_reject_t reject;
        lx_proto_accepted_t accepted;
        lx_proto_rejected_t rejected;
        lx_proto_fill_t fill;
        lx_proto_canceled_t canceled;
        lx_proto_amended_t amended;
        lx_proto_status_reply_t status_reply;
        lx_proto_resend_end_t resend_end;
    } u;
} lx_proto_msg_t;

/* ---- tables --------------------------------------------------------------- */

size_t lx_proto_msg_size(int type);           /* the frame size of a type, 0 if unknown */
int lx_proto_direction(int type);             /* LX_PROTO_FROM_*, or -1 if unknown */
bool lx_proto_is_exec(int type);              /* ACCEPTED .. AMENDED, DEADMAN, ACCOUNT_KEY */
const char *lx_proto_type_name(int type);     /* "PLACE", or "?" */
const char *lx_proto_reason_name(int reason); /* "TOO_LARGE", or "?" */
const char *lx_proto_reason_str(int reason);  /* text, never NULL */

/* The common fields of an execution report, NULL for other types. */
lx_proto_exec_t *lx_proto_exec(lx_proto_msg_t *m);

/* ---- encoding -------------------------------------------------------------- */

/*
 * Writes one frame. Returns its size (> 0), LX_EINVAL if the message would
 * not decode (unknown type, a field out of range, flags not allowed), or
 * LX_ERANGE if cap is smaller than the frame. Every message the decoder
 * produces encodes back to the same bytes.
 */
int lx_proto_encode(const lx_proto_msg_t *m, uint8_t *buf, size_t cap);

/* ---- decoding -------------------------------------------------------------- */

/*
 * Decodes one whole frame (len is exactly the frame's bytes) arriving in
 * `direction`. Returns 0, or LX_EINVAL with *reason set (UNKNOWN_TYPE,
 * TRUNCATED, TRAILING_BYTES, BAD_FIELD, or MALFORMED/TOO_LARGE when len
 * disagrees with the size field).
 */
int lx_proto_decode_frame(const uint8_t *buf, size_t len, int direction, lx_proto_msg_t *m,
                          uint8_t *reason);

/*
 * The incremental decoder of one connection. Bytes may arrive in pieces of
 * any size; a frame split over several reads is buffered (at most
 * LX_PROTO_FRAME_MAX bytes), a frame that arrives whole is decoded in place.
 */
typedef struct {
    int direction;            /* which side's messages it accepts */
    bool failed;              /* frame boundaries lost: every call fails */
    uint8_t error;            /* lx_proto_reason_t of the last error */
    uint8_t error_type;       /* type byte of that frame, 0 if unknown */
    uint64_t error_client_id; /* its client_id, if its type has one and it was long enough */
    const uint8_t *frame;     /* bytes of the last frame returned or refused */
    size_t frame_len;
    uint64_t frames; /* frames consumed, valid or not */
    size_t have;     /* bytes of a partial frame in buf */
    uint8_t buf[LX_PROTO_FRAME_MAX];
} lx_proto_decoder_t;

void lx_proto_decoder_init(lx_proto_decoder_t *d, int direction);

/*
 * Takes bytes from (*data, *len), advancing both past what it consumed, and
 * stops after one frame. Returns
 *   1            a message, in *m (d->frame/frame_len: its bytes, valid
 *                until the next call and while the input is)
 *   0            everything was consumed and no frame is complete yet
 *   LX_EINVAL    a whole frame was consumed but is invalid: d->error says
 *                why; decoding can go on (answer with lx_proto_decoder_reject)
 *   LX_ECORRUPT  the frame boundaries are lost (size field below the header
 *                or above LX_PROTO_FRAME_MAX): nothing more can be decoded;
 *                send the REJECT and close the connection
 */
int lx_proto_decode(lx_proto_decoder_t *d, const uint8_t **data, size_t *len, lx_proto_msg_t *m);

/* Bytes of an incomplete frame held by the decoder: when the connection
 * ends with pending bytes, its last frame was truncated. */
size_t lx_proto_decoder_pending(const lx_proto_decoder_t *d);

/* The REJECT that answers the decoder's last error. */
void lx_proto_decoder_reject(const lx_proto_decoder_t *d, lx_proto_msg_t *out);

/* ---- conversions ------------------------------------------------------------ */

/*
 * A decoded PLACE, CANCEL, AMEND or CANCEL_ALL as an engine command for
 * `account` (the session's). seq and ts are 0, for the sequencer. Returns 0,
 * or LX_EINVAL for any other message type.
 */
int lx_proto_to_cmd(const lx_proto_msg_t *m, lx_account_id_t account, lx_cmd_t *cmd);

/*
 * The execution reports an engine event gives rise to: ORDER_ACCEPTED,
 * ORDER_CANCELED, ORDER_AMENDED give one; TRADE gives two (maker, then
 * taker; both may belong to one account); REJECTED (of any command), DEADMAN,
 * KEY_BOUND, AGENT_APPROVED and AGENT_REVOKED give one; other events none. Returns the number
 * written to out[0..1]. seq is 0 (the session numbers its reports). A FILL's client_id is 0: trade
 * events do not carry client ids, so the caller fills it in from the order's ACCEPTED report.
 */
typedef struct {
    lx_account_id_t account; /* whose session gets it */
    lx_proto_msg_t msg;
} lx_proto_report_t;

int lx_proto_reports_from_event(const lx_event_t *ev, lx_proto_report_t out[2]);

#endif
