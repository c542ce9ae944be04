/*
 * lx/types.h: the scalar vocabulary shared by every lxdex module.
 *
 * Prices are int64 ticks and quantities int64 lots, per market. Amounts of an
 * asset are int64 base units (satoshi, micro-dollar). Time is int64
 * nanoseconds since the Unix epoch, written into each command by the
 * sequencer; the engine never reads a clock. No floating point anywhere.
 *
 * Enumerations that travel on the wire or into the journal have explicit
 * values that never change; reason codes come from one X-macro table each so
 * that names, numbers and text cannot drift apart.
 */
#ifndef LX_TYPES_H
#define LX_TYPES_H

#include <stdint.h>
#include <stdbool.h>

typedef uint32_t lx_market_id_t;  /* < engine config max_markets */
typedef uint32_t lx_asset_id_t;   /* < engine config max_assets */
typedef uint32_t lx_account_id_t; /* < engine config max_accounts */
/* Engine-assigned order id: (generation << 32) | slot. 0 is never valid.
 * Clients must treat it as opaque. */
typedef uint64_t lx_order_id_t;

#define LX_MARKET_NONE UINT32_MAX /* event not tied to a market */
#define LX_MARKET_ALL UINT32_MAX  /* cancel-all: every market */
#define LX_ASSET_NONE UINT32_MAX
#define LX_ACCOUNT_NONE UINT32_MAX

/* Fee rates are in hundredths of a basis point: 1,000,000 = 100%. */
#define LX_FEE_RATE_ONE 1000000
#define LX_FEE_RATE_MAX 100000 /* 10%: the largest taker rate accepted */

/* The largest notional (price x qty x tick value, in quote units) an order
 * may have; keeps every later sum of locks and fees inside int64. */
#define LX_NOTIONAL_MAX ((int64_t)1 << 62)

/* The largest max_qty a market may have, in lots: one order's quantity
 * fits 32 bits (as in CME iLink and Nasdaq OUCH), which keeps the order
 * record at 48 bytes. Level totals and every amount stay 64-bit. */
#define LX_QTY_MAX ((int64_t)UINT32_MAX)

typedef enum { LX_SIDE_BUY = 0, LX_SIDE_SELL = 1 } lx_side_t;

typedef enum {
    LX_ORDER_LIMIT = 0,
    LX_ORDER_MARKET = 1 /* price = protection price; behaves as IOC there */
} lx_order_type_t;

typedef enum {
    LX_TIF_GTC = 0,
    LX_TIF_GTD = 1, /* expires when a command's timestamp >= expiry */
    LX_TIF_IOC = 2,
    LX_TIF_FOK = 3,      /* fills completely in one command or changes nothing */
    LX_TIF_POST_ONLY = 4 /* GTC that is rejected if it would take */
} lx_tif_t;

/* Self-trade prevention. The taker's mode decides. */
typedef enum {
    LX_STP_NONE = 0,         /* self-trades are allowed */
    LX_STP_EXPIRE_TAKER = 1, /* cancel the taker's remainder, stop */
    LX_STP_EXPIRE_MAKER = 2, /* cancel the resting order, go on matching */
    LX_STP_EXPIRE_BOTH = 3,  /* cancel both */
    LX_STP_DECREMENT = 4     /* decrement both by the smaller; cancel the
                                one that reaches zero (both if equal) */
} lx_stp_t;

typedef enum {
    LX_MODE_CONTINUOUS = 0,
    LX_MODE_BATCH = 1 /* periodic batch auction (ARCHITECTURE §6) */
} lx_market_mode_t;

/* Why a command was refused. X(name, value, text). */
#define LX_REJECT_MAP(X)                                                                           \
    X(NONE, 0, "none")                                                                             \
    X(UNKNOWN_MARKET, 1, "unknown market")                                                         \
    X(MARKET_HALTED, 2, "market halted")                                                           \
    X(PRICE_OFF_TICK, 3, "price not on the tick grid")                                             \
    X(PRICE_OUT_OF_BAND, 4, "price outside the market's band")                                     \
    X(QTY_OFF_LOT, 5, "quantity not on the lot grid")                                              \
    X(QTY_ZERO, 6, "quantity zero or negative")                                                    \
    X(QTY_TOO_LARGE, 7, "quantity above the market maximum")                                       \
    X(DUPLICATE_CLIENT_ID, 8, "client order id already used by an open order")                     \
    X(POST_ONLY_WOULD_CROSS, 9, "post-only order would take liquidity")                            \
    X(FOK_CANNOT_FILL, 10, "fill-or-kill order cannot fill completely")                            \
    X(UNKNOWN_ORDER, 11, "unknown order")                                                          \
    X(NOT_OWNER, 12, "order belongs to another account")                                           \
    X(BAD_SIDE, 13, "invalid side")                                                                \
    X(BAD_TIF, 14, "invalid time in force")                                                        \
    X(BAD_ORDER_TYPE, 15, "invalid order type")                                                    \
    X(BAD_STP, 16, "invalid self-trade prevention mode")                                           \
    X(EXPIRED, 17, "expiry time already passed")                                                   \
    X(UNKNOWN_ACCOUNT, 18, "unknown or invalid account")                                           \
    X(UNKNOWN_ASSET, 19, "unknown asset")                                                          \
    X(INSUFFICIENT_FUNDS, 20, "insufficient free balance")                                         \
    X(OVERFLOW, 21, "amount overflows")                                                            \
    X(TOO_MANY_ORDERS, 22, "too many open orders for this account")                                \
    X(ENGINE_FULL, 23, "engine order capacity exhausted")                                          \
    X(MARKET_EXISTS, 24, "market already exists")                                                  \
    X(ASSET_EXISTS, 25, "asset already exists")                                                    \
    X(BAD_MARKET_PARAMS, 26, "invalid market parameters")                                          \
    X(BAD_ASSET_PARAMS, 27, "invalid asset parameters")                                            \
    X(BAD_FEES, 28, "invalid fee schedule")                                                        \
    X(DUPLICATE_DEPOSIT, 29, "deposit id already applied")                                         \
    X(BAD_AMOUNT, 30, "amount zero or negative")                                                   \
    X(NOTHING_TO_AMEND, 31, "amend changes nothing")                                               \
    X(UNSUPPORTED, 32, "not supported by this market")                                             \
    X(BAD_COMMAND, 33, "malformed command")                                                        \
    X(DEADLINE_TOO_SOON, 34, "dead man's switch deadline closer than the minimum lead")            \
    X(BAD_SIGNER, 35, "signer is neither the account's owner key nor one of its agents")           \
    X(NOT_AUTHORIZED, 36, "an agent may not send this command")                                    \
    X(AGENT_EXPIRED, 37, "the agent's approval has expired")                                       \
    X(AGENT_REVOKED, 38, "the agent's approval was revoked")                                       \
    X(NONCE_REPLAYED, 39, "nonce not greater than the signer's last")                              \
    X(KEY_IN_USE, 40, "key already belongs to an account")                                         \
    X(ACCOUNT_HAS_KEY, 41, "account already has an owner key")                                     \
    X(TOO_MANY_AGENTS, 42, "account has the most agents allowed")                                  \
    X(UNKNOWN_AGENT, 43, "key is not an approved agent of this account")                           \
    X(BAD_KEY, 44, "invalid public key")

typedef enum {
#define LX__REJ_ENUM(name, value, text) LX_REJECT_##name = (value),
    LX_REJECT_MAP(LX__REJ_ENUM)
#undef LX__REJ_ENUM
        LX_REJECT__COUNT
} lx_reject_t;

/* Why an order left the book (or never rested). X(name, value, text). */
#define LX_CANCEL_MAP(X)                                                                           \
    X(USER, 0, "canceled by its owner")                                                            \
    X(IOC_REMAINDER, 1, "immediate-or-cancel remainder")                                           \
    X(FOK, 2, "fill-or-kill could not fill")                                                       \
    X(STP, 3, "self-trade prevention")                                                             \
    X(EXPIRED, 4, "good-till-date expired")                                                        \
    X(CANCEL_ALL, 5, "cancel-all")                                                                 \
    X(AMEND, 6, "amended to or below its filled quantity")                                         \
    X(MARKET_UNFILLED, 7, "market order remainder")                                                \
    X(DEADMAN, 8, "the account's dead man's switch fired")                                         \
    X(DISCONNECT, 9, "its session disconnected (cancel-on-disconnect)")

typedef enum {
#define LX__CXL_ENUM(name, value, text) LX_CANCEL_##name = (value),
    LX_CANCEL_MAP(LX__CXL_ENUM)
#undef LX__CXL_ENUM
        LX_CANCEL__COUNT
} lx_cancel_reason_t;

const char *lx_reject_str(int reason);  /* text, never NULL */
const char *lx_reject_name(int reason); /* "UNKNOWN_MARKET" */
const char *lx_cancel_reason_str(int reason);
const char *lx_cancel_reason_name(int reason);

#endif
