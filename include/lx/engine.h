/*
 * lx/engine.h: the deterministic matching and clearing engine.
 *
 * An engine holds many markets, their order books and (when clearing is on)
 * the accounts' balances. It is a pure state machine: lx_engine_apply()
 * changes state and emits events, and nothing else influences it: no clock,
 * no randomness, no I/O, no threads, no floating point. Two engines with the
 * same configuration fed the same commands emit identical events and have
 * identical digests.
 *
 * Threading: an engine has one writer. Read functions may be called between
 * applies from the same thread.
 */
#ifndef LX_ENGINE_H
#define LX_ENGINE_H

#include <stddef.h>
#include "lx/command.h"
#include "lx/event.h"

typedef struct lx_engine lx_engine_t;

/* Upper bounds of the configuration, so that a damaged or hostile
 * configuration cannot make the engine reserve absurd amounts of memory. */
#define LX_LIMIT_MARKETS (1u << 24)
#define LX_LIMIT_ASSETS (1u << 20)
#define LX_LIMIT_ACCOUNTS (1u << 28)
#define LX_LIMIT_ORDERS (1u << 28)

typedef struct {
    uint32_t max_markets;                 /* market ids are < this */
    uint32_t max_assets;                  /* asset ids are < this */
    uint32_t max_accounts;                /* account ids are < this */
    uint32_t max_orders;                  /* resting orders at once, all markets */
    uint32_t max_open_orders_per_account; /* 0 = no limit */
    /* With clearing on, orders lock funds and fills move balances; with it
     * off the engine matches only (no funds checks, no balance events). */
    bool clearing;
    /* The least time between a SCHEDULE_CANCEL and the deadline it sets,
     * in ns; 0 means LX_DEADMAN_MIN_LEAD_DEFAULT. The engine stores the
     * effective value (lx_engine_config() reports it). */
    int64_t deadman_min_lead_ns;
    /* Approved (not revoked) agents per account, expired ones included;
     * 0 means LX_AGENTS_DEFAULT (stored as the effective value). */
    uint32_t max_agents_per_account;
    /* With clearing on, the account every fee is paid to (net of maker
     * rebates), in the quote asset of the market it was earned in; it
     * holds a balance record for every asset from the asset's creation,
     * and withdraws or trades them like any account (docs/clearing.md).
     * < max_accounts; 0 by default. */
    lx_account_id_t fee_account;
    /* The version of the matching and clearing rules the engine applies
     * (LX_RULES_*, docs/matching.md "Rules versions"); 0 means
     * LX_RULES_LATEST (stored as the effective value). A journal and a
     * snapshot keep it, so a replay applies the rules its commands were
     * acknowledged under, whatever the binary's latest. */
    uint32_t rules;
} lx_engine_config_t;

/* Rules versions. 1: until 2026-12-07 (a dead man's switch fires on a TICK
 * only; a buy's fee is capped at its lock's room; a market order's tif is
 * ignored, IOC). 2: a due switch fires before any command; a buy's fee
 * beyond the room comes from its free quote; a market order honours FOK
 * and refuses POST_ONLY (BAD_TIF). 3: a revoked agent key is forgotten
 * (its record deleted, its last nonces kept as the account's nonce floors
 * of the key's slot, where every later key of that slot starts:
 * docs/identity.md),
 * so approving and revoking keys no longer grows the engine. */
#define LX_RULES_1 1u
#define LX_RULES_2 2u
#define LX_RULES_3 3u
#define LX_RULES_LATEST LX_RULES_3

#define LX_DEADMAN_MIN_LEAD_DEFAULT ((int64_t)5000000000) /* 5 s */
#define LX_AGENTS_DEFAULT 8
#define LX_LIMIT_AGENTS 1024

/* Sensible defaults for tests and tools. */
void lx_engine_config_default(lx_engine_config_t *cfg);
/* The values an engine created with cfg stores: each "0 means the
 * default" field (an older segment header's zeros too) made explicit. */
lx_engine_config_t lx_engine_config_effective(const lx_engine_config_t *cfg);

int lx_engine_create(lx_engine_t **out, const lx_engine_config_t *cfg);
void lx_engine_destroy(lx_engine_t *e);

/*
 * Keys the hashes of the indexes whose keys clients choose (client order
 * ids, public keys) with a secret, so that nobody can pick ids or keys
 * that all land in one bucket and make every lookup near it walk them (20,000
 * crafted client ids cost 130 times what random ones do without it). A new
 * engine uses a public default: a host that takes commands from the
 * outside calls this with 16 bytes from the OS (lxdexd does, for each
 * engine it creates or recovers) before lx_engine_reserve. Where an entry
 * sits is not state: digests, snapshots and events do not change, and
 * replicas may differ in seed. The indexes are rebuilt (O(entries)). 0;
 * LX_ESTATE after lx_engine_reserve; LX_ENOMEM with nothing changed.
 */
int lx_engine_seed_hashes(lx_engine_t *e, const uint64_t seed[2]);

/*
 * Sizes what the engine grows as its book grows for `orders` resting
 * orders, now: the price-level pool (as many levels), and the memory the
 * client-id index grows into (the index itself keeps the size its entries
 * need, so a small book's lookups stay in cache). A book that grows to
 * that size then allocates nothing. (The order arena is sized by
 * max_orders at creation.) For a host that commits its memory at start
 * (lxdexd with node.prefault_memory, then lx_engine_prefault); state,
 * digest and snapshots are unchanged. The index's reserve is made once: a
 * second call changes only the level pool. 0, or LX_ENOMEM with nothing
 * changed but what was already grown.
 */
int lx_engine_reserve(lx_engine_t *e, uint32_t orders);

/*
 * Apply one command. Returns 0 when the command was applied, whether its
 * business outcome was acceptance or rejection (see the events). Returns
 * LX_EINVAL, changing nothing and emitting nothing, if cmd is NULL, its type
 * is unknown, its seq is not greater than the last applied seq, or its ts is
 * less than the last applied ts.
 *
 * Returns LX_ENOMEM when memory the command needs could not be allocated:
 * the command was not applied and changed nothing (lx_engine_last_seq and
 * the digest included), except that GTD orders and dead man's switches
 * due at its ts have expired or fired, with their events, as they would
 * for any command at that time. Apply the
 * same command again, or stop: a host that went on to the next command
 * would hold a state that no replay of its log reproduces.
 */
int lx_engine_apply(lx_engine_t *e, const lx_cmd_t *cmd, const lx_sink_t *sink);

/*
 * Apply cmds[0..n) in order, exactly as n calls of lx_engine_apply would
 * (the same events, state and return codes), stopping at the first command
 * that returns nonzero; *applied (if not NULL) is set to how many commands
 * were applied before it. For a caller that holds a run of commands, a log
 * replaying or a batch from the sequencer: when the state is larger than
 * the caches, the engine fetches the records of the commands ahead while
 * it applies the current one (batch.c).
 */
int lx_engine_apply_batch(lx_engine_t *e, const lx_cmd_t *cmds, size_t n, const lx_sink_t *sink,
                          size_t *applied);

/*
 * Apply one command with who authorised it (auth NULL or scheme NONE: as
 * lx_engine_apply). For a command that acts for an account (place, cancel,
 * amend, cancel-all, schedule-cancel, withdraw, transfer, approve and
 * revoke agent) the signer must be the account's owner key, or for the
 * first five a live agent of it; a SIGNED nonce must exceed the key's last
 * and is then recorded. Otherwise one REJECTED (BAD_SIGNER, NOT_AUTHORIZED,
 * AGENT_EXPIRED, AGENT_REVOKED, NONCE_REPLAYED, BAD_COMMAND for an unknown
 * scheme) and nothing changes. Other commands ignore auth. docs/identity.md.
 */
int lx_engine_apply_auth(lx_engine_t *e, const lx_cmd_t *cmd, const lx_cmd_auth_t *auth,
                         const lx_sink_t *sink);

/*
 * lx_engine_apply_batch with an auth section per command: cmds[i] is
 * applied as lx_engine_apply_auth(e, &cmds[i], &auths[i], sink) would
 * (scheme NONE: no auth); auths NULL is lx_engine_apply_batch. For a log
 * that keeps each command's auth section (the journal's replay).
 */
int lx_engine_apply_batch_auth(lx_engine_t *e, const lx_cmd_t *cmds, const lx_cmd_auth_t *auths,
                               size_t n, const lx_sink_t *sink, size_t *applied);

/* A 64-bit hash of the whole state (markets, books in priority order,
 * orders, accounts, balances, counters). Engines with the same history have
 * the same digest. Costs a walk over the state. */
uint64_t lx_engine_digest(const lx_engine_t *e);

/* Deep consistency check of every structure; 0 or LX_ECORRUPT with a
 * description in msg. For tests and fuzzers; costs a walk over the state. */
int lx_engine_validate(const lx_engine_t *e, char *msg, size_t msglen);

uint64_t lx_engine_last_seq(const lx_engine_t *e);
int64_t lx_engine_last_ts(const lx_engine_t *e);
const lx_engine_config_t *lx_engine_config(const lx_engine_t *e);

/* ---- read API ---------------------------------------------------------- */

typedef struct {
    int64_t price;
    int64_t qty;
    uint32_t count;
} lx_level_t;

typedef struct {
    lx_order_id_t order_id;
    lx_account_id_t account;
    lx_market_id_t market;
    uint8_t side, type, tif, stp;
    int64_t price;
    int64_t qty;       /* total quantity (filled + remaining) */
    int64_t remaining; /* open quantity */
    int64_t filled;
    uint64_t client_id;
    int64_t expiry;
    int64_t locked; /* funds this order locks (clearing on), else 0 */
} lx_order_info_t;

typedef struct {
    lx_market_id_t market;
    lx_asset_id_t base, quote;
    uint8_t mode;
    uint8_t halted;
    int64_t tick_size, lot_size, tick_value, min_price, max_price, max_qty;
    int32_t maker_fee, taker_fee;
    uint64_t market_seq; /* sequence of the market's last event */
    int64_t last_ts;     /* ts of the command of that event, 0 if none */
    int64_t last_price;  /* price of the last trade, 0 if none */
    uint32_t bid_levels, ask_levels;
    uint32_t orders; /* resting orders */
} lx_market_info_t;

typedef struct {
    lx_asset_id_t asset;
    char symbol[16];
    int64_t scale;
    int64_t supply; /* deposits - withdrawals */
    int64_t fees;   /* collected fees (net of rebates) */
} lx_asset_info_t;

typedef struct {
    uint32_t markets;
    uint32_t assets;
    uint32_t orders;     /* resting orders */
    uint32_t levels;     /* price levels in use */
    uint32_t balances;   /* (account, asset) balance records */
    size_t bytes;        /* memory the engine holds for state, touched */
    size_t bytes_orders; /* of which: order slots, order indexes, levels */
} lx_engine_stats_t;

int lx_engine_market_info(const lx_engine_t *e, lx_market_id_t m, lx_market_info_t *out);
int lx_engine_asset_info(const lx_engine_t *e, lx_asset_id_t a, lx_asset_info_t *out);
void lx_engine_stats(const lx_engine_t *e, lx_engine_stats_t *out);

/* The engine's arrays, each reported as fn(ctx, start, bytes): order slots,
 * accounts, markets, assets, identities, the slot bitmaps, the level pool,
 * balances, the GTD, key and nonce floor tables, and the tables of its hash indexes
 * (not the per-market side arrays and their blocks: small allocations of
 * their own, in the books that need them). For a host that
 * manages memory (lxdexd maps them on huge pages at start:
 * lx_engine_prefault in lx/journal.h); the host must not change their
 * contents. They move when the engine grows them. */
typedef void (*lx_memory_fn)(void *ctx, void *start, size_t bytes);
void lx_engine_memory(const lx_engine_t *e, lx_memory_fn fn, void *ctx);

/* Best price and its total quantity; returns false if that side is empty or
 * the market unknown. */
bool lx_engine_best(const lx_engine_t *e, lx_market_id_t m, lx_side_t side, int64_t *price,
                    int64_t *qty);
/* Up to n levels of one side, best first; returns how many were written. */
size_t lx_engine_levels(const lx_engine_t *e, lx_market_id_t m, lx_side_t side, lx_level_t *out,
                        size_t n);
/* Open quantity and order count at one price (0 if no level there). */
int64_t lx_engine_depth_at(const lx_engine_t *e, lx_market_id_t m, lx_side_t side, int64_t price,
                           uint32_t *count);
/* One resting order; LX_ENOENT if the id names no open order. */
int lx_engine_order(const lx_engine_t *e, lx_order_id_t id, lx_order_info_t *out);
/* The open order of account a with client id cid (unique among the
 * account's open orders), found through the client-id index in O(1);
 * LX_ENOENT if there is none (cid 0 names none). */
int lx_engine_order_by_client_id(const lx_engine_t *e, lx_account_id_t a, uint64_t cid,
                                 lx_order_info_t *out);
/* Orders of one side of a book in priority order (best price, then time);
 * returns the total number, writing at most cap. */
size_t lx_engine_book_orders(const lx_engine_t *e, lx_market_id_t m, lx_side_t side,
                             lx_order_info_t *out, size_t cap);
/* An account's open orders, oldest first; returns the total number,
 * writing at most cap. */
size_t lx_engine_account_orders(const lx_engine_t *e, lx_account_id_t a, lx_order_info_t *out,
                                size_t cap);
/* Balance of one account in one asset (zeros if none); LX_EINVAL for ids out
 * of range. */
int lx_engine_balance(const lx_engine_t *e, lx_account_id_t a, lx_asset_id_t asset, int64_t *free_,
                      int64_t *locked);
typedef enum {
    LX_KEY_OWNER = 1,  /* the account's own key */
    LX_KEY_AGENT = 2,  /* an approved agent (possibly expired) */
    LX_KEY_REVOKED = 3 /* rules 1 and 2: an agent whose approval was revoked, its
                          nonces kept (from rules 3 the record is deleted) */
} lx_key_role_t;

typedef struct {
    uint8_t key[LX_KEY_LEN];
    lx_account_id_t account;
    uint8_t role;       /* lx_key_role_t */
    uint64_t nonce;     /* the last SIGNED nonce of a one-shard command, 0 if none */
    uint64_t nonce_all; /* ... of a command every shard applies (lx_cmd_every_shard) */
    int64_t expiry;     /* agents: the approval's expiry; owners: 0 */
    char name[16];      /* agents: the approval's name */
} lx_key_info_t;

/* A key the engine knows; LX_ENOENT if none. */
int lx_engine_key(const lx_engine_t *e, const uint8_t key[LX_KEY_LEN], lx_key_info_t *out);
/* Every key the engine knows, i < count: in the order they became known,
 * except that a deleted record's place (rules 3: a revoked agent) is taken
 * by the last record. */
uint32_t lx_engine_key_count(const lx_engine_t *e);
void lx_engine_key_nth(const lx_engine_t *e, uint32_t i, lx_key_info_t *out);
/* The account's owner key; LX_ENOENT if it has none (or a bad id). */
int lx_engine_owner_key(const lx_engine_t *e, lx_account_id_t a, uint8_t key[LX_KEY_LEN]);
/* The account's nonce floors (rules 3, docs/identity.md): per key slot
 * (lx_nonce_floor_slot of the key), the highest last nonces, one-shard and
 * every-shard, of the keys of that slot it revoked and the engine forgot;
 * a new key record of the account starts from its slot's. Zeros if none
 * (or a bad id or slot). */
#define LX_NONCE_FLOOR_SLOTS 16u
uint32_t lx_nonce_floor_slot(const uint8_t key[LX_KEY_LEN]);
void lx_engine_nonce_floor(const lx_engine_t *e, lx_account_id_t a, uint32_t slot, uint64_t *nonce,
                           uint64_t *nonce_all);

/* The deadline of the account's dead man's switch, 0 when it is not armed
 * (or the account id is out of range). */
int64_t lx_engine_deadman(const lx_engine_t *e, lx_account_id_t a);
/* Calls fn for every balance record, in creation order. */
void lx_engine_foreach_balance(const lx_engine_t *e,
                               void (*fn)(void *ctx, lx_account_id_t a, lx_asset_id_t asset,
                                          int64_t free_, int64_t locked),
                               void *ctx);

#endif
