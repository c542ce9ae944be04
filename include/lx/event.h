/*
 * lx/event.h: what the engine says happened.
 *
 * Applying one command emits zero or more events, in a fully determined
 * order, through a caller-supplied sink. Every event carries the log
 * sequence number and timestamp of the command that caused it. Events that
 * belong to a market (everything about orders, trades and levels, and the
 * market's own creation, state and fee changes) also carry that market's
 * sequence number, which starts at 1 and has no gaps; other events (funds,
 * balances, assets, rejections of non-market commands) carry market
 * LX_MARKET_NONE and market_seq 0.
 *
 * While a taker matches, a level it trades through is reported once, when
 * the taker leaves it; every other change to a level is reported as it
 * happens. The exact order of events is specified in docs/matching.md.
 */
#ifndef LX_EVENT_H
#define LX_EVENT_H

#include "lx/types.h"

/* Values are part of the wire and journal formats: never renumber. */
typedef enum {
    LX_EV_ASSET_CREATED = 1,
    LX_EV_MARKET_CREATED = 2,
    LX_EV_MARKET_STATE = 3,
    LX_EV_FEES_SET = 4,
    LX_EV_DEPOSIT = 5,
    LX_EV_WITHDRAWAL = 6,
    LX_EV_TRANSFER = 7,
    LX_EV_REJECTED = 8,
    LX_EV_ORDER_ACCEPTED = 9,
    LX_EV_TRADE = 10,
    LX_EV_ORDER_CANCELED = 11,
    LX_EV_ORDER_AMENDED = 12,
    LX_EV_BOOK_LEVEL = 13,
    LX_EV_BALANCE = 14,
    LX_EV_DEADMAN = 15, /* a dead man's switch armed, cleared or fired */
    LX_EV_KEY_BOUND = 16,
    LX_EV_AGENT_APPROVED = 17,
    LX_EV_AGENT_REVOKED = 18,
    LX_EV__MAX = 18
} lx_event_type_t;

typedef struct {
    lx_asset_id_t asset;
    int64_t scale;
    char symbol[16];
} lx_ev_asset_t;

typedef struct {
    lx_asset_id_t base, quote;
    uint8_t mode;
    int64_t tick_size, lot_size, min_price, max_price, max_qty;
    int32_t maker_fee, taker_fee;
} lx_ev_market_t;

typedef struct {
    uint8_t halted;
} lx_ev_market_state_t;

typedef struct {
    int32_t maker_fee, taker_fee;
} lx_ev_fees_t;

/* DEPOSIT, WITHDRAWAL and TRANSFER (account -> to). */
typedef struct {
    lx_account_id_t account;
    lx_account_id_t to; /* TRANSFER only, else LX_ACCOUNT_NONE */
    lx_asset_id_t asset;
    int64_t amount;
    uint64_t deposit_id; /* DEPOSIT only, else 0 */
} lx_ev_funds_t;

/* A refused command. order_id/client_id echo what the command named. */
typedef struct {
    uint8_t cmd_type; /* lx_cmd_type_t */
    uint8_t reason;   /* lx_reject_t */
    lx_account_id_t account;
    lx_order_id_t order_id;
    uint64_t client_id;
} lx_ev_rejected_t;

typedef struct {
    lx_order_id_t order_id;
    lx_account_id_t account;
    uint8_t side, type, tif, stp;
    int64_t price;
    int64_t qty;
    uint64_t client_id;
    int64_t expiry;
} lx_ev_accepted_t;

/* Fees are in quote units: positive is charged, negative a rebate paid. */
typedef struct {
    lx_order_id_t maker_order, taker_order;
    lx_account_id_t maker_account, taker_account;
    uint8_t taker_side;
    int64_t price; /* the resting (maker) order's price */
    int64_t qty;
    int64_t maker_remaining, taker_remaining; /* after this trade */
    int64_t maker_fee, taker_fee;
} lx_ev_trade_t;

typedef struct {
    lx_order_id_t order_id;
    lx_account_id_t account;
    uint64_t client_id;
    uint8_t reason; /* lx_cancel_reason_t */
    int64_t qty;    /* the remaining quantity that was canceled */
} lx_ev_canceled_t;

typedef struct {
    lx_order_id_t order_id;
    lx_account_id_t account;
    uint64_t client_id;
    int64_t price;
    int64_t qty;       /* new total quantity */
    int64_t remaining; /* new open quantity */
    uint8_t priority_lost;
} lx_ev_amended_t;

typedef struct {
    uint8_t side;
    int64_t price;
    int64_t qty;    /* total open quantity at the level; 0 = level gone */
    uint32_t count; /* orders at the level */
} lx_ev_level_t;

typedef struct {
    lx_account_id_t account;
    lx_asset_id_t asset;
    int64_t free, locked;
} lx_ev_balance_t;

typedef enum {
    LX_DEADMAN_CLEARED = 0, /* SCHEDULE_CANCEL deadline 0 (armed or not before) */
    LX_DEADMAN_ARMED = 1,   /* SCHEDULE_CANCEL: armed, or moved to deadline */
    LX_DEADMAN_FIRED = 2    /* a TICK reached deadline; the cancels follow */
} lx_deadman_state_t;

typedef struct {
    lx_account_id_t account;
    int64_t deadline; /* CLEARED: 0 */
    uint8_t state;    /* lx_deadman_state_t */
} lx_ev_deadman_t;

/* KEY_BOUND (name and expiry zero), AGENT_APPROVED, AGENT_REVOKED (the
 * name and expiry of the approval it ends). */
typedef struct {
    lx_account_id_t account;
    uint8_t key[32];
    char name[16];
    int64_t expiry;
} lx_ev_key_t;

typedef struct {
    lx_event_type_t type;
    lx_market_id_t market; /* LX_MARKET_NONE if not a market event */
    uint64_t market_seq;   /* 0 if not a market event */
    uint64_t seq;          /* log sequence of the causing command */
    int64_t ts;            /* its timestamp */
    union {
        lx_ev_asset_t asset;
        lx_ev_market_t market;
        lx_ev_market_state_t market_state;
        lx_ev_fees_t fees;
        lx_ev_funds_t funds;
        lx_ev_rejected_t rejected;
        lx_ev_accepted_t accepted;
        lx_ev_trade_t trade;
        lx_ev_canceled_t canceled;
        lx_ev_amended_t amended;
        lx_ev_level_t level;
        lx_ev_balance_t balance;
        lx_ev_deadman_t deadman;
        lx_ev_key_t key;
    } u;
} lx_event_t;

/* Where events go. emit is called once per event, in order; the event is
 * only valid during the call. emit may be NULL (events are dropped). emit
 * must not call the engine: it runs in the middle of a command, whose
 * state only its last event completes (a new order, say, is in its
 * account's list and the client-id index only once it rests). */
typedef struct {
    void (*emit)(void *ctx, const lx_event_t *ev);
    void *ctx;
} lx_sink_t;

const char *lx_event_type_name(int type); /* "TRADE", or "?" */

#endif
