/*
 * lx/command.h: the commands the engine applies.
 *
 * Every state change of an engine is one of these, taken from the ordered
 * log. The sequencer sets `seq` (the global log sequence number, strictly
 * increasing) and `ts` (nanoseconds since the epoch, never decreasing); the
 * engine trusts both and reads no clock. Everything else comes from a client
 * and is validated by the engine; an invalid command is answered with a
 * rejection event and changes nothing.
 *
 * The struct is an in-memory form. Its canonical byte form (journal, wire) is
 * defined by lx/codec.h.
 */
#ifndef LX_COMMAND_H
#define LX_COMMAND_H

#include "lx/types.h"

/* Values are part of the journal format: never renumber. */
typedef enum {
    LX_CMD_CREATE_ASSET = 1,
    LX_CMD_CREATE_MARKET = 2,
    LX_CMD_SET_MARKET_STATE = 3, /* halt / resume */
    LX_CMD_SET_FEES = 4,
    LX_CMD_DEPOSIT = 5,
    LX_CMD_WITHDRAW = 6,
    LX_CMD_TRANSFER = 7,
    LX_CMD_PLACE = 8,
    LX_CMD_CANCEL = 9,
    LX_CMD_AMEND = 10,
    LX_CMD_CANCEL_ALL = 11,
    LX_CMD_TICK = 12,            /* time passes: expires GTD orders, fires dead man's switches */
    LX_CMD_SCHEDULE_CANCEL = 13, /* arm, re-arm or clear an account's dead man's switch */
    LX_CMD_BIND_KEY = 14,        /* the account's owner key (operator / bridge) */
    LX_CMD_APPROVE_AGENT = 15,   /* an agent key may act for the account */
    LX_CMD_REVOKE_AGENT = 16,    /* ... no longer */
    LX_CMD__MAX = 16
} lx_cmd_type_t;

typedef struct {
    lx_asset_id_t asset; /* chosen by the operator; < max_assets */
    char symbol[16];     /* NUL-padded, printable ASCII, non-empty */
    int64_t scale;       /* base units per whole unit (1e8 for BTC) */
} lx_cmd_create_asset_t;

/*
 * A market's numbers: a price of p ticks means p * tick_size quote units per
 * whole base unit; a quantity of q lots is q * lot_size base units. The
 * notional of q lots at p ticks is p * q * tick_value quote units, where
 * tick_value = tick_size * lot_size / base_scale must be an integer >= 1
 * (the market is rejected otherwise).
 */
typedef struct {
    lx_market_id_t market; /* chosen by the operator; < max_markets */
    lx_asset_id_t base;
    lx_asset_id_t quote;
    uint8_t mode;      /* lx_market_mode_t */
    int64_t tick_size; /* quote units per whole base unit, per tick */
    int64_t lot_size;  /* base units per lot */
    int64_t min_price; /* band, in ticks, 1 <= min <= max */
    int64_t max_price;
    int64_t max_qty;   /* largest order quantity, in lots, 1..LX_QTY_MAX */
    int32_t maker_fee; /* hundredths of a basis point; may be negative */
    int32_t taker_fee; /* 0 <= taker <= LX_FEE_RATE_MAX, -taker <= maker <= taker */
} lx_cmd_create_market_t;

typedef struct {
    lx_market_id_t market;
    uint8_t halted; /* 1 halt, 0 resume */
} lx_cmd_set_market_state_t;

typedef struct {
    lx_market_id_t market;
    int32_t maker_fee;
    int32_t taker_fee;
} lx_cmd_set_fees_t;

typedef struct {
    lx_account_id_t account;
    lx_asset_id_t asset;
    int64_t amount;      /* > 0 */
    uint64_t deposit_id; /* idempotency key (bridge transaction) */
} lx_cmd_deposit_t;

typedef struct {
    lx_account_id_t account;
    lx_asset_id_t asset;
    int64_t amount; /* > 0, from the free balance only */
} lx_cmd_withdraw_t;

typedef struct {
    lx_account_id_t from;
    lx_account_id_t to;
    lx_asset_id_t asset;
    int64_t amount; /* > 0, from the free balance only */
} lx_cmd_transfer_t;

typedef struct {
    lx_account_id_t account;
    lx_market_id_t market;
    uint8_t side;       /* lx_side_t */
    uint8_t type;       /* lx_order_type_t */
    uint8_t tif;        /* lx_tif_t; ignored (IOC) for market orders */
    uint8_t stp;        /* lx_stp_t */
    int64_t price;      /* ticks; the protection price of a market order */
    int64_t qty;        /* lots */
    uint64_t client_id; /* 0 = none; else unique among the account's open orders */
    int64_t expiry;     /* GTD only: ns since epoch */
} lx_cmd_place_t;

/* Cancel names the order by engine id, or by client id when by_client_id. */
typedef struct {
    lx_account_id_t account;
    lx_market_id_t market;
    uint8_t by_client_id;
    lx_order_id_t order_id;
    uint64_t client_id;
} lx_cmd_cancel_t;

/*
 * Amend: new limit price and new total quantity (lots, including what has
 * already filled). A pure quantity decrease keeps time priority; a price
 * change or an increase loses it (the order is taken out and re-enters as a
 * new arrival with the same id: it may match). A new quantity at or below the
 * filled quantity cancels the rest.
 */
typedef struct {
    lx_account_id_t account;
    lx_market_id_t market;
    uint8_t by_client_id;
    lx_order_id_t order_id;
    uint64_t client_id;
    int64_t price;
    int64_t qty;
} lx_cmd_amend_t;

/* Who asked for a cancel-all; the ORDER_CANCELED events say so. */
typedef enum {
    LX_CANCEL_ALL_USER = 0,      /* the account: reason CANCEL_ALL */
    LX_CANCEL_ALL_DISCONNECT = 1 /* the gateway, for a dropped cancel-on-disconnect
                                    session: reason DISCONNECT */
} lx_cancel_all_reason_t;

typedef struct {
    lx_account_id_t account;
    lx_market_id_t market; /* LX_MARKET_ALL for every market */
    uint8_t reason;        /* lx_cancel_all_reason_t */
} lx_cmd_cancel_all_t;

/*
 * The account's dead man's switch (docs/matching.md "Dead man's switch"):
 * deadline > 0 arms it (or moves it) to that time; the first TICK whose ts
 * >= deadline cancels every open order of the account and disarms it.
 * deadline 0 clears it. A deadline below ts + the engine's minimum lead is
 * rejected (DEADLINE_TOO_SOON).
 */
typedef struct {
    lx_account_id_t account;
    int64_t deadline; /* ns since epoch; 0 clears */
} lx_cmd_schedule_cancel_t;

/* ---- identity (docs/identity.md) ---------------------------------------- */

#define LX_KEY_LEN 32 /* an ed25519 public key */

/* Binds an owner key to an account: at most one per account, never
 * replaced; a key owns at most one account and is nobody's agent. Sent by
 * the operator or the deposit bridge (the engine does not check its auth). */
typedef struct {
    lx_account_id_t account;
    uint8_t key[LX_KEY_LEN];
} lx_cmd_bind_key_t;

/* Approves (or renews: new name and expiry) an agent key for an account.
 * The agent may place, cancel, amend, cancel all and schedule a cancel for
 * the account until expiry (ns since epoch, exclusive), never withdraw,
 * transfer or approve/revoke agents. */
typedef struct {
    lx_account_id_t account;
    uint8_t key[LX_KEY_LEN];
    char name[16]; /* printable ASCII then NUL padding; may be empty */
    int64_t expiry;
} lx_cmd_approve_agent_t;

typedef struct {
    lx_account_id_t account;
    uint8_t key[LX_KEY_LEN];
} lx_cmd_revoke_agent_t;

typedef struct {
    lx_cmd_type_t type;
    uint64_t seq; /* global log sequence number, set by the sequencer */
    int64_t ts;   /* ns since epoch, set by the sequencer */
    union {
        lx_cmd_create_asset_t create_asset;
        lx_cmd_create_market_t create_market;
        lx_cmd_set_market_state_t set_market_state;
        lx_cmd_set_fees_t set_fees;
        lx_cmd_deposit_t deposit;
        lx_cmd_withdraw_t withdraw;
        lx_cmd_transfer_t transfer;
        lx_cmd_place_t place;
        lx_cmd_cancel_t cancel;
        lx_cmd_amend_t amend;
        lx_cmd_cancel_all_t cancel_all;
        lx_cmd_schedule_cancel_t schedule_cancel;
        lx_cmd_bind_key_t bind_key;
        lx_cmd_approve_agent_t approve_agent;
        lx_cmd_revoke_agent_t revoke_agent;
    } u;
} lx_cmd_t;

/*
 * Who authorised a command, next to it rather than in it: the journal keeps
 * it in the record's auth section and the node's ring carries it beside the
 * command, so lx_cmd_t (and the codec's command bytes, which are what gets
 * signed) stay as they are. lx_engine_apply_auth() checks it against the
 * engine's identity state (docs/identity.md). Scheme values equal the
 * journal's lx_auth_scheme_t, so the node copies scheme, key and nonce.
 */
typedef enum {
    LX_CMD_AUTH_NONE = 0,    /* no check: operator, dev mode, the node itself */
    LX_CMD_AUTH_SIGNED = 1,  /* key signed this command with nonce: owner or agent,
                                permission, expiry and nonce are checked */
    LX_CMD_AUTH_SESSION = 2, /* sent on a session whose logon key is `key`: owner or
                                agent, permission and expiry checked; no nonce */
} lx_cmd_auth_scheme_t;

typedef struct {
    uint8_t scheme; /* lx_cmd_auth_scheme_t */
    uint8_t key[LX_KEY_LEN];
    uint64_t nonce; /* SIGNED: > the key's last; else ignored */
} lx_cmd_auth_t;

const char *lx_cmd_type_name(int type); /* "PLACE", or "?" */

/* Whether a node with several shards applies the command in every shard
 * (assets, TICK, the dead man's switch, keys and agents, a cancel-all of
 * every market) rather than in one (a market's commands, orders, funds).
 * A key's SIGNED nonces are kept apart for the two kinds (docs/identity.md):
 * every shard then sees the same nonces for the commands every shard
 * applies, and decides them alike. */
static inline bool lx_cmd_every_shard(const lx_cmd_t *c) {
    switch (c->type) {
    case LX_CMD_CREATE_MARKET:
    case LX_CMD_SET_MARKET_STATE:
    case LX_CMD_SET_FEES:
    case LX_CMD_PLACE:
    case LX_CMD_CANCEL:
    case LX_CMD_AMEND:
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
    case LX_CMD_TRANSFER:
        return false;
    case LX_CMD_CANCEL_ALL:
        return c->u.cancel_all.market == LX_MARKET_ALL;
    default:
        return true;
    }
}

/* The account a command acts for (the one whose key, or agent, must sign
 * it; a deposit names the account credited, a transfer the account
 * debited); LX_ACCOUNT_NONE for operator commands (assets, markets, fees,
 * halts, ticks). */
lx_account_id_t lx_cmd_account(const lx_cmd_t *cmd);

#endif
