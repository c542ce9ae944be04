/*
 * lx/view.h: a gateway's read model of the engine, built only from the
 * engine's event stream (gateways never read the engine itself).
 *
 * Pure: no threads, no I/O. One writer. It keeps open orders (hash map by
 * id, from ORDER_ACCEPTED / TRADE / ORDER_CANCELED / ORDER_AMENDED) and
 * balances (hash map by account and asset, from BALANCE). Per market it
 * keeps the L2 book
 * (from BOOK_LEVEL events), the last applied market sequence number, and a
 * ring of the last LX_VIEW_TRADES trades. Gap detection: a market event
 * whose market_seq is not last+1 is not applied and lx_view_apply returns
 * LX_VIEW_GAP (the caller resynchronises). Events with market_seq 0
 * (REJECTED, BALANCE, funds, ASSET_CREATED) are not sequenced and ignored.
 *
 * Checksum (docs/api.md): CRC-32 (IEEE 802.3, reflected poly 0xEDB88320,
 * init and final xor 0xFFFFFFFF) over the top 10 levels, interleaved
 * bid0, ask0, bid1, ask1, ... ; each present level contributes 16 bytes:
 * price then qty, each int64 little-endian (ticks, lots). A missing level
 * contributes nothing.
 */
#ifndef LX_VIEW_H
#define LX_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "lx/event.h"

#define LX_VIEW_TRADES 1000
#define LX_VIEW_CRC_DEPTH 10

/* lx_view_apply returns 0, LX_VIEW_GAP (a status, not an error), or a
 * negative LX_E* code (lx/error.h). */
enum { LX_VIEW_GAP = 1 };

typedef struct lx_view lx_view_t;

typedef struct {
    int64_t price, qty;
    uint32_t count;
} lx_view_level_t;

typedef struct {
    int64_t price, qty, ts;
    uint8_t taker_side;
    lx_order_id_t maker_order, taker_order;
    uint64_t seq;
} lx_view_trade_t;

/* An open order, as the event stream describes it. */
typedef struct {
    lx_order_id_t order_id;
    lx_account_id_t account;
    lx_market_id_t market;
    uint8_t side, type, tif;
    int64_t price;
    int64_t qty;       /* total (filled + remaining) */
    int64_t remaining; /* open quantity */
    uint64_t client_id;
    uint64_t age;  /* acceptance order within this view (account lists) */
    uint64_t prio; /* time priority: acceptance, or the last amend that lost it
                      (the book's order within a level) */
} lx_view_order_t;

/* The L2 change an event causes (BOOK_LEVEL events only). */
typedef struct {
    lx_market_id_t market;
    uint64_t market_seq;
    uint8_t side;
    int64_t price, qty; /* qty 0 = level removed */
    uint32_t count;
} lx_view_delta_t;

lx_view_t *lx_view_create(uint32_t max_markets);
void lx_view_destroy(lx_view_t *v);

/* 0, LX_VIEW_GAP (event not applied), LX_EINVAL or LX_ENOMEM. */
int lx_view_apply(lx_view_t *v, const lx_event_t *ev);
/* The same, for an event of shard `shard` (< 1024) of a node with several:
 * a BALANCE is the holding in that shard, and lx_view_balance sums the
 * shards. lx_view_apply is shard 0. */
int lx_view_apply_shard(lx_view_t *v, unsigned shard, const lx_event_t *ev);
/* Forget a market's state and accept `market_seq` as the new last sequence
 * and `ts` as its last event's (after a resync from a snapshot). */
void lx_view_reset_market(lx_view_t *v, lx_market_id_t m, uint64_t market_seq, int64_t ts);

/*
 * Loading a start-up state (lx/node.h: LX_NODE_OUT_STATE) instead of events:
 * after lx_view_reset_market(v, m, seq, ts), the market's levels are set one by
 * one with lx_view_load_level (no sequence check; qty <= 0 removes), and
 * open orders are added with lx_view_load_order (priorities, and ages until
 * lx_view_load_age, follow the calls: load them in priority order). Balances load with
 * lx_view_apply (BALANCE events are not sequenced). Returns 0, LX_EINVAL or LX_ENOMEM.
 */
int lx_view_load_level(lx_view_t *v, lx_market_id_t m, uint8_t side, int64_t price, int64_t qty,
                       uint32_t count);
int lx_view_load_order(lx_view_t *v, const lx_view_order_t *o);
/* After the orders: names each loaded order again, in acceptance order
 * (each account's oldest first), which sets its age; an order never named
 * keeps the age of its load. 0 or LX_ENOENT. */
int lx_view_load_age(lx_view_t *v, lx_order_id_t id);

uint64_t lx_view_market_seq(const lx_view_t *v, lx_market_id_t m);
/* The ts of the last event applied to the market (0: none since a reset). */
int64_t lx_view_market_ts(const lx_view_t *v, lx_market_id_t m);
/* Up to n levels of one side, best first; returns how many were written. */
size_t lx_view_levels(const lx_view_t *v, lx_market_id_t m, uint8_t side, lx_view_level_t *out,
                      size_t n);
/* How many levels a side has. */
size_t lx_view_depth(const lx_view_t *v, lx_market_id_t m, uint8_t side);
/* Best level of a side; 0 if the side is empty or market unknown. */
int lx_view_best(const lx_view_t *v, lx_market_id_t m, uint8_t side, lx_view_level_t *out);
/* The trade record of a TRADE event. */
lx_view_trade_t lx_view_trade_of(const lx_event_t *ev);
/* Newest first; returns how many were written. */
size_t lx_view_trades(const lx_view_t *v, lx_market_id_t m, lx_view_trade_t *out, size_t n);
/* One open order; 0 if unknown (filled, canceled or never seen). */
int lx_view_order(const lx_view_t *v, lx_order_id_t id, lx_view_order_t *out);
/* An account's open orders, oldest first; returns the total number, writing
 * at most cap. Costs a scan of all open orders. */
size_t lx_view_account_orders(const lx_view_t *v, lx_account_id_t a, lx_view_order_t *out,
                              size_t cap);
/* A market's open orders, oldest first; returns the total number, writing
 * at most cap. Costs a scan of all open orders. */
size_t lx_view_market_orders(const lx_view_t *v, lx_market_id_t m, lx_view_order_t *out,
                             size_t cap);
/* Latest BALANCE of (account, asset), summed over the shards; zeros and 0
 * if none seen, else 1. */
int lx_view_balance(const lx_view_t *v, lx_account_id_t a, lx_asset_id_t asset, int64_t *free_,
                    int64_t *locked);
/* CRC-32 over the top 10 levels as defined above. */
uint32_t lx_view_checksum(const lx_view_t *v, lx_market_id_t m);
uint32_t lx_view_checksum_levels(const lx_view_level_t *bids, size_t nb,
                                 const lx_view_level_t *asks, size_t na);
uint32_t lx_crc32(uint32_t crc, const void *data, size_t len);
/* 1 and fills *out if the event changes the L2 book, else 0. Pure. */
int lx_view_delta(const lx_event_t *ev, lx_view_delta_t *out);

#endif
