/*
 * core.h: the engine's internal data structures (not a public header).
 *
 * Memory layout, chosen for the matching path:
 *
 *   orders[]   one 48-byte record per order slot, a fixed arena sized to
 *              max_orders at startup (calloc: pages are touched only when
 *              used). An order id is (generation << 32) | slot; slots are
 *              taken lowest-free-first through a 3-level bitmap, so the
 *              set of ids handed out depends only on the command history
 *              (a snapshot restores it exactly) and the arena stays dense.
 *   levels[]   price levels (price, total, count, FIFO head/tail), a
 *              growable pool with a free list. Level indices never leave
 *              the engine, so their assignment need not be canonical.
 *   sides      per market and side, a sorted array of level keys with the
 *              BEST AT THE END. The key is the price for bids and -price
 *              for asks, so both sides sort ascending and "crosses" is one
 *              comparison. Matching pops from the end in O(1); the array
 *              has free room at both ends, and inserting a level moves the
 *              entries between it and the nearer end (a few near the
 *              touch, where nearly all flow lands). Keys and level indices
 *              are parallel arrays so a search touches 8 keys per cache
 *              line.
 *   indexes    bucketed hash tables (lx__idx) mapping (account, client
 *              id) -> order slot, (account, asset) -> balance, and deposit
 *              id -> applied; each entry is 8 bytes (a 32-bit hash tag and
 *              the value), 8 to a cache line, and the key itself is
 *              compared in the record it points to.
 *   accounts[] per account: its open orders as an intrusive list in
 *              acceptance order (cancel-all, account queries), and count.
 *   balances[] (account, asset, free, locked) records in creation order.
 *   gtd heap   min-heap of (expiry, accept seq, slot) of the resting GTD
 *              orders, beside a table of each one's expiry by slot; each
 *              names the other's position, so an order leaves both in
 *              O(log n) when it fills or is canceled (gtd.c).
 *   dms heap   min-heap of (deadline, account) of the armed dead man's
 *              switches, indexed (ident[account].dms is the position + 1),
 *              so re-arming and clearing are exact O(log n) (deadman.c).
 *   ident[]    per account: what the order path never reads (the switch's
 *              heap position, the owner key, the agent count), kept apart
 *              from accounts[] so that the account record the matching
 *              path touches stays as it is.
 *   keys[]     every public key the engine knows (owners, agents, revoked
 *              agents) in the order they became known, with its account,
 *              role and last nonce; found through a hash index on the key
 *              bytes (identity.c). Commands carry keys, never key indices.
 *
 * All indices are uint32_t with LX__NIL as "none". No pointers are stored
 * in the state, so growth by realloc is safe and nothing depends on
 * addresses.
 */
#ifndef LX_CORE_INTERNAL_H
#define LX_CORE_INTERNAL_H

#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "lx/engine.h"
#include "lx/error.h"

#define LX__NIL UINT32_MAX

#ifdef LX_DEBUG
#include <assert.h>
#define LX_ASSERT(x) assert(x)
#else
#define LX_ASSERT(x) ((void)0)
#endif

#if defined(__GNUC__)
#define LX_LIKELY(x) __builtin_expect(!!(x), 1)
#define LX_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For the hot path's small helpers that gcc would keep out of line
 * because several places call them, and for the cold parts split off it
 * (each use says what it saves, measured by callgrind). */
#define LX_ALWAYS_INLINE inline __attribute__((always_inline))
#define LX_NOINLINE __attribute__((noinline))
/* A function whose calls are rare: gcc lays its call sites out of the hot
 * path and keeps the caller's registers for the common case. */
#define LX_COLD __attribute__((cold))
#else
#define LX_LIKELY(x) (x)
#define LX_UNLIKELY(x) (x)
#define LX_ALWAYS_INLINE inline
#define LX_NOINLINE
#define LX_COLD
#endif

typedef __int128 lx__i128;

/* ---- orders ------------------------------------------------------------ */

typedef struct lx__order {
    uint64_t client_id; /* 0 = none */
    uint32_t remaining; /* open quantity, lots; > 0 while resting */
    uint32_t filled;    /* lots filled so far (both <= max_qty <= LX_QTY_MAX) */
    uint32_t account;
    uint32_t level;                /* LX__NIL unless resting */
    uint32_t next, prev;           /* FIFO within the level */
    uint32_t acct_next, acct_prev; /* the account's open orders */
    uint32_t gen;                  /* times this slot has been taken */
    uint32_t side : 1, type : 1, tif : 3, stp : 3;
    uint32_t fee_res : 24; /* fee reserve rate of a buy's lock */
} lx__order_t;

/* 48 bytes: the expiry of a GTD order lives in gtd.c's table, quantities
 * are 32-bit (LX_QTY_MAX). Every field is needed by matching, cancel by
 * id or client id, cancel-all or clearing; bytes per resting order is a
 * target (lxdex-bench bytes_per_order). */
_Static_assert(sizeof(lx__order_t) == 48, "an order is 48 bytes");

/* The order's total quantity: what it was placed (or amended) with. */
static inline int64_t lx__order_qty(const lx__order_t *o) {
    return (int64_t)o->filled + o->remaining;
}

static inline lx_order_id_t lx__order_id(uint32_t slot, uint32_t gen) {
    return ((uint64_t)gen << 32) | slot;
}

/* ---- levels and book sides -------------------------------------------- */

typedef struct lx__level {
    int64_t price;
    int64_t qty; /* sum of remaining of its orders */
    uint32_t count;
    uint32_t head, tail;            /* head also links the free list */
    uint32_t market : 31, side : 1; /* side: lx_side_t */
} lx__level_t;

_Static_assert(sizeof(lx__level_t) == 32, "two levels to a cache line");

/* A side's entries beyond its touch array (book.c): when a side holds more
 * than LX__TOUCH_MAX entries, the lower ones (farthest from the best) live
 * in blocks of at most LX__BLK sorted entries, so a new level far from the
 * touch moves at most a block's entries, not every entry between it and
 * the nearer end. */
#ifndef LX_SMALL_BLOCKS
#define LX__TOUCH_MAX 4096u
#define LX__BLK 256u
#define LX__BLK_FILL 192u /* entries a block gets when filled from the touch */
#else
/* the sanitizer and fuzz builds (CMakeLists.txt): the books of the
 * differential test and the fuzzer, a few dozen levels a side, then
 * spill, split, merge and pull back all the time */
#define LX__TOUCH_MAX 16u
#define LX__BLK 8u
#define LX__BLK_FILL 6u
#endif

typedef struct lx__blk {
    uint32_t n;
    int64_t keys[LX__BLK]; /* ascending */
    uint32_t lv[LX__BLK];
} lx__blk_t;

typedef struct lx__deep {
    lx__blk_t **blk;    /* ascending: every key of blk[j] < every key of blk[j+1] */
    int64_t *bmin;      /* blk[j]->keys[0], searched to find a key's block */
    uint32_t *bdead;    /* tombstones in blk[j] (here, not in the block: a
                           cancel far from the touch then touches only these
                           arrays, not the block) */
    lx__blk_t *spare;   /* the block the next split takes (reserved ahead) */
    uint32_t nblk, cap; /* cap: of blk and bmin */
    uint32_t n;         /* entries in all the blocks */
    uint32_t dead;      /* tombstones in all the blocks */
    uint32_t next_free; /* engine's free list of deep records */
} lx__deep_t;

/* A side's ladder (book.c): the LX__LAD_W keys (ticks) from lo up, each
 * slot the index of the live level at that key or LX__NIL, with a bitmap
 * of the slots in use. A side of many levels has one; it holds the best
 * level and the levels near it, and the touch array and blocks hold only
 * keys below lo. */
#ifndef LX_SMALL_BLOCKS
#define LX__LAD_W 2048u
#define LX__LAD_ON 128u
#define LX__LAD_DENSE 256u /* entries a new ladder takes, at least */
#else
/* the sanitizer and fuzz builds: ladders made, moved and given back all
 * the time */
#define LX__LAD_W 64u
#define LX__LAD_ON 8u
#define LX__LAD_DENSE 2u
#endif
#define LX__LAD_OFF (LX__LAD_ON / 4u) /* fewer live levels: given back */
#define LX__LAD_HEAD (LX__LAD_W / 8u) /* free slots a move leaves above the best */

typedef struct lx__lad {
    int64_t lo;         /* key of slot 0 */
    uint32_t n;         /* slots in use (every one a live level) */
    uint32_t top;       /* highest slot in use + 1 (the best); 0 if n is 0 */
    uint64_t sum;       /* bit w set: bits[w] is not 0 */
    uint32_t next_free; /* the engine's free ladders, kept for the next side */
    uint32_t pad_;
    uint64_t bits[LX__LAD_W / 64];
    uint32_t lv[LX__LAD_W];
} lx__lad_t;

_Static_assert(LX__LAD_W % 64 == 0 && LX__LAD_W <= 64 * 64, "one summary word");

typedef struct lx__side {
    int64_t *keys;  /* the touch array: ascending, all below the ladder (the
                       market's lad[]); its best at keys[n-1] */
    uint32_t *lv;   /* level index for each key (count 0: a tombstone) */
    uint32_t live;  /* live levels: entries that are not tombstones, blocks
                       and ladder included; lv[n-1] is live */
    uint32_t deep;  /* index in e->deeps, 0 = no blocks (then n is every entry) */
    uint16_t n;     /* entries in the touch array */
    uint16_t cap;   /* entries allocated, from keys - front */
    uint16_t front; /* free entries before keys[0] (book.c: both ends grow) */
    uint16_t lim;   /* a place may create a level while n < lim (book.c) */
} lx__side_t;

_Static_assert(sizeof(lx__side_t) == 32, "a side is 32 bytes");

/* The rules a command's fields meet, shared with the snapshot loader and
 * lx_engine_validate: fees (0 <= taker <= LX_FEE_RATE_MAX, -taker <= maker
 * <= taker), 16-byte text (asset symbols, agent names: printable ASCII,
 * then NULs to the end; a symbol is not empty) and an all-zero key (none). */
static inline bool lx__fees_valid(int32_t maker, int32_t taker) {
    return taker >= 0 && taker <= LX_FEE_RATE_MAX && maker <= taker && maker >= -taker;
}

static inline bool lx__text16_valid(const char t[16]) {
    int i = 0;
    while (i < 16 && t[i] >= 0x21 && t[i] <= 0x7e) i++;
    while (i < 16 && t[i] == 0) i++;
    return i == 16;
}

static inline bool lx__key_zero(const uint8_t k[32]) {
    for (int i = 0; i < 32; i++)
        if (k[i]) return false;
    return true;
}

/* ---- links written without a branch ----------------------------------
 * A doubly linked list (a level's FIFO, an account's open orders) writes a
 * neighbour's link, or the list's own head or tail where there is no
 * neighbour. Which of the two is data: in a book of many accounts with an
 * order or two each it is a coin toss, and as a branch it mispredicted
 * about one time a message in the crash workload (callgrind's branch
 * simulation). These select the address instead (a cmov: GCC compiled the
 * same select written in C, even with __builtin_expect_with_probability,
 * as a jump); crash ran 5% faster, realistic and swing 2.5% (BENCHMARKS.md).
 * The order's address is formed as an integer, so an absent neighbour
 * (LX__NIL) forms no pointer. */

/* a unless c is 0, then b. */
static inline uint32_t lx__sel32(uint32_t c, uint32_t a, uint32_t b) {
#if defined(__GNUC__) && defined(__x86_64__)
    __asm__("testl %k[c], %k[c]\n\tcmovzl %k[b], %k[a]"
            : [a] "+r"(a)
            : [b] "r"(b), [c] "r"(c)
            : "cc");
    return a;
#else
    return c ? a : b;
#endif
}

/* The link field at byte offset off of order nb, or *end if nb is LX__NIL. */
static inline uint32_t *lx__link_at(lx__order_t *orders, uint32_t nb, size_t off, uint32_t *end) {
    uintptr_t at = (uintptr_t)orders + (uintptr_t)nb * sizeof *orders + off;
    uintptr_t alt = (uintptr_t)end;
#if defined(__GNUC__) && defined(__x86_64__)
    __asm__("cmpl $-1, %k[nb]\n\tcmoveq %[alt], %[at]"
            : [at] "+r"(at)
            : [alt] "r"(alt), [nb] "r"(nb)
            : "cc");
#else
    at = nb == LX__NIL ? alt : at;
#endif
    return (uint32_t *)at;
}
#define LX__LINK(e, nb, field, end)                                                                \
    lx__link_at((e)->orders, (nb), offsetof(lx__order_t, field), (end))

static inline int64_t lx__key(int side, int64_t price) {
    return side == LX_SIDE_BUY ? price : -price;
}

typedef struct lx__market {
    uint8_t exists, halted, mode;
    uint8_t fits_all; /* lx__amounts_fit holds for every price and qty in bounds */
    lx_asset_id_t base, quote;
    uint32_t norders; /* resting orders (here, not at the end: 160 bytes) */
    uint32_t lad[2];  /* each side's ladder: index in e->lads, 0 = none. (The
                         tick size, needed only by decimal conversions and
                         reads, is in e->tick_size.) */
    int64_t lot_size, tick_value;
    int64_t min_price, max_price, max_qty;
    int32_t maker_fee, taker_fee;
    uint64_t seq;    /* market sequence of the last market event */
    int64_t last_ts; /* ts of the command of that event (0: none yet). Set
                        once per command, where the command takes the market:
                        every command with market events here has a place,
                        an amend, a resting order canceled, or a market
                        command among them (the differential test's model
                        sets it at every event) */
    int64_t last_price;
    lx__side_t side[2]; /* [LX_SIDE_BUY], [LX_SIDE_SELL] */
} lx__market_t;

_Static_assert(sizeof(lx__market_t) == 160, "a market is 160 bytes (5 x 32: cheap to index)");

typedef struct lx__asset {
    uint8_t exists;
    char symbol[16];
    /* With clearing: index + 1 of the fee account's balance record of the
     * asset (created with the asset, lx__fee_bal_link), where fills pay
     * their fees. Derived, not state: digest and snapshot ignore it. */
    uint32_t fee_bal;
    int64_t scale;
    int64_t supply;
    int64_t fees; /* fees collected (net of rebates) since genesis: a statistic */
} lx__asset_t;

typedef struct lx__account {
    uint32_t head, tail; /* open orders, oldest first */
    uint32_t norders;
    /* The two balance records used last (index + 1; 0 = empty): nearly
     * every lookup is the base or quote of the market being traded. A
     * cache, not state: digest and snapshot ignore it. */
    uint32_t bal_asset[2], bal_idx[2];
} lx__account_t;

typedef struct lx__balance {
    uint32_t account, asset;
    int64_t free, locked;
} lx__balance_t;

typedef struct lx__gtd {
    int64_t expiry;
    uint64_t seq;  /* accept seq: the tie-break */
    uint32_t slot; /* the resting order's (its id: with the slot's gen) */
    uint32_t xi;   /* its entry in the expiry table */
} lx__gtd_t;

typedef struct lx__gtx {
    uint32_t slot;
    uint32_t hpos; /* its entry's place in the heap, LX__NIL until pushed */
    int64_t expiry;
} lx__gtx_t;

typedef struct lx__dms {
    int64_t deadline;
    uint32_t account;
    uint32_t pad_;
} lx__dms_t;

typedef struct lx__ident {
    uint32_t dms;     /* position in the dms heap + 1; 0 = switch not armed */
    uint32_t owner;   /* index in keys[] + 1 of the owner key; 0 = none */
    uint32_t nagents; /* keys of role AGENT of this account */
    uint32_t floor;   /* index in floors[] + 1 of its nonce floors; 0 = none */
} lx__ident_t;

/* An account's nonce floors (rules 3, identity.c): per key slot, the
 * highest last nonces of the keys of that slot it revoked, which the
 * engine then forgot. */
typedef struct lx__floor {
    uint32_t account;
    uint32_t pad_;
    uint64_t nonce[LX_NONCE_FLOOR_SLOTS], nonce_all[LX_NONCE_FLOOR_SLOTS];
} lx__floor_t;

typedef struct lx__key {
    uint8_t key[32];
    uint64_t nonce;     /* last SIGNED nonce of a one-shard command */
    uint64_t nonce_all; /* ... of a command every shard applies (lx_cmd_every_shard) */
    int64_t expiry;     /* agents */
    char name[16];      /* agents */
    uint32_t account;
    uint32_t role; /* lx_key_role_t */
} lx__key_t;

/* ---- hash index (see idx.h) -------------------------------------------- */

/* The hash of the key in the record that `value` names: the index keeps
 * only 8 bits of each hash, so growing asks for the rest. */
typedef uint64_t (*lx__idx_hash_fn)(const void *ctx, uint32_t value);

typedef struct lx__idx {
    /* what every lookup reads, together */
    struct lx__idx_bucket *bkt; /* [nb], 64 bytes each: 12 tags, meta, 12 values */
    struct lx__idx_bucket *old; /* while growing, the table being moved into bkt a
                                 * bucket at a time, from its end; NULL otherwise */
    uint32_t nb;                /* buckets, >= 2 (0 once freed) */
    uint32_t count;             /* entries, in both tables */
    /* growing */
    lx__idx_hash_fn hash; /* rehashes a stored value when the table grows */
    const void *ctx;      /* hash's first argument */
    void *mem, *old_mem;  /* the allocations bkt and old are aligned in */
    uint32_t onb;         /* old's buckets when it was the table (its homes) */
    uint32_t oleft;       /* old's buckets not yet moved: its entries are there */
    uint32_t ocap;        /* old's buckets still allocated (>= oleft) */
    /* lx__idx_presize's reserve: two regions the tables grow into in turn
     * (arena NULL: none; a table there has mem or old_mem NULL) */
    void *arena;
    struct lx__idx_bucket *reg[2];
    uint32_t reg_nb[2];
} lx__idx_t;

/* ---- the engine -------------------------------------------------------- */

struct lx_engine {
    lx_engine_config_t cfg;
    uint64_t last_seq;
    int64_t last_ts;

    /* the command being applied, for event stamping */
    uint64_t cur_seq;
    int64_t cur_ts;
    /* the sink of the command being applied, copied out of its lx_sink_t
     * (emit NULL: no sink, or one that drops events) */
    void (*emit)(void *ctx, const lx_event_t *ev);
    void *emit_ctx;

    lx__market_t *markets; /* [max_markets] */
    lx__asset_t *assets;   /* [max_assets] */
    uint32_t nmarkets, nassets;

    lx__order_t *orders; /* [max_orders] */
    uint64_t *free_l0;   /* bit set = slot free */
    uint64_t *free_l1;   /* bit set = that l0 word has a free slot */
    uint64_t *free_l2;   /* bit set = that l1 word has a set bit */
    uint32_t nl0, nl1, nl2;
    uint32_t norders;  /* slots in use */
    uint32_t slot_hwm; /* 1 + highest slot ever used */

    lx__level_t *levels;
    uint32_t nlevels_cap, levels_used, level_free;

    lx__deep_t *deeps; /* [0] unused: a side's deep index 0 means none */
    uint32_t ndeeps, deeps_cap, deep_free;
    lx__lad_t **lads; /* [0] unused: a market's lad[] index 0 means none */
    uint32_t nlads, lads_cap, lad_free;
    int64_t *tick_size; /* [max_markets] */

    /* The secret that the hashes of the indexes whose keys clients choose
     * (client ids, key bytes) are keyed with, so that nobody can pick keys
     * that pile onto one bucket: the host's (lx_engine_seed_hashes), a
     * public default until it gives one. Where an entry sits is not state
     * (digests and snapshots never see it), so replicas may differ in it. */
    uint64_t hash_seed[2];
    lx__account_t *accounts; /* [max_accounts] */
    lx__idx_t cid_idx;       /* (account, client id) -> slot */

    lx__balance_t *balances;
    uint32_t nbalances, balances_cap;
    lx__idx_t bal_idx; /* (account, asset) -> balance */

    uint64_t *deposit_ids;
    uint32_t ndeposits, deposits_cap;
    lx__idx_t dep_idx; /* deposit id -> index in deposit_ids */

    /* No GTD expiry, and with rules 2 no switch deadline, is earlier: a
     * lower bound (lowered when an entry is pushed, recomputed once a
     * command reaches it), so a command checks one value for both timers
     * (engine.c take). Derived, not state; INT64_MIN after create. */
    int64_t next_due;
    lx__gtd_t *gtd; /* expiry heap (gtd.c) */
    uint32_t ngtd, gtd_cap;
    lx__gtx_t *gtx; /* each resting GTD order's expiry */
    uint32_t ngtx, gtx_cap;
    lx__idx_t gtx_idx; /* slot -> index in gtx */

    lx__ident_t *ident; /* [max_accounts] */
    lx__dms_t *dms;     /* armed switches, a heap by (deadline, account) */
    uint32_t ndms, dms_cap;

    lx__key_t *keys; /* in the order they became known (a deleted record's
                        place taken by the last) */
    uint32_t nkeys, keys_cap;
    lx__idx_t key_idx;   /* key bytes -> index in keys */
    lx__floor_t *floors; /* in the order they were created, at most one an account */
    uint32_t nfloors, floors_cap;
};

/* ---- shared internals (lx__ prefix), one file each ---------------------- */

/* Room for one more element in a growable array of n used out of *cap:
 * the array itself (p, or a larger copy of it when full, doubling from
 * `first`; *cap updated), or NULL when it cannot grow (p is untouched). */
static inline void *lx__array_room(void *p, uint32_t n, uint32_t *cap, size_t size,
                                   uint32_t first) {
    if (n < *cap) return p;
    uint32_t ncap = *cap ? *cap * 2 : first;
    if (ncap <= *cap) return NULL;
    void *q = realloc(p, (size_t)ncap * size);
    if (q) *cap = ncap;
    return q;
}

/* slots.c: order slot allocation */
int lx__slots_init(lx_engine_t *e);
void lx__slots_free(lx_engine_t *e);
/* lx__slot_alloc (LX__NIL if full) and lx__slot_release: inline, slots.h */
bool lx__slot_used(const lx_engine_t *e, uint32_t slot);
/* Takes a given slot (snapshot load); LX_ECORRUPT if taken or out of range. */
int lx__slot_claim(lx_engine_t *e, uint32_t slot);

/* idx.c: hash index */
int lx__idx_init(lx__idx_t *t, uint32_t cap, lx__idx_hash_fn hash, const void *ctx);
void lx__idx_free(lx__idx_t *t);

/* book.c: levels and sides */
/* book.c: room for n levels in the level pool (lx_engine_reserve). */
int lx__levels_reserve(lx_engine_t *e, uint32_t n);
void lx__side_free(lx_engine_t *e, lx__side_t *s);
/* The engine's ladders, freed. */
void lx__lads_free(lx_engine_t *e);
/* The live level with this key on market m's side, or LX__NIL. */
uint32_t lx__side_level(const lx_engine_t *e, const lx__market_t *m, int side, int64_t key);
/* A side's entries below its ladder as segments in ascending key order:
 * its blocks (0 to nblk-1), then the touch array (the last segment).
 * Segment j's level indices (and keys, if keys is not NULL); returns how
 * many. The ladder's slots (lx__lad_from, lx__lad_below) come after them;
 * lx__walk_first and lx__walk_next visit all of a side's live levels,
 * best first. */
static inline uint32_t lx__side_nseg(const lx_engine_t *e, const lx__side_t *s) {
    return s->deep ? e->deeps[s->deep].nblk + 1 : 1;
}
static inline uint32_t lx__side_seg(const lx_engine_t *e, const lx__side_t *s, uint32_t j,
                                    const int64_t **keys, const uint32_t **lv) {
    if (s->deep && j < e->deeps[s->deep].nblk) {
        const lx__blk_t *b = e->deeps[s->deep].blk[j];
        if (keys) *keys = b->keys;
        *lv = b->lv;
        return b->n;
    }
    if (keys) *keys = s->keys;
    *lv = s->lv;
    return s->n;
}
/* The highest slot in use below slot `below` of a ladder, LX__NIL if none. */
static inline uint32_t lx__lad_below(const lx__lad_t *d, uint32_t below) {
    if (below == 0) return LX__NIL;
    uint32_t i = below - 1, w = i / 64;
    uint64_t b = d->bits[w] & (~0ull >> (63 - i % 64));
    if (b) return w * 64 + 63 - (uint32_t)__builtin_clzll(b);
    uint64_t sw = d->sum & ((1ull << w) - 1);
    if (!sw) return LX__NIL;
    w = 63 - (uint32_t)__builtin_clzll(sw);
    return w * 64 + 63 - (uint32_t)__builtin_clzll(d->bits[w]);
}
/* The lowest slot in use at or above slot `from`, LX__LAD_W if none. */
static inline uint32_t lx__lad_from(const lx__lad_t *d, uint32_t from) {
    if (from >= LX__LAD_W) return LX__LAD_W;
    uint32_t w = from / 64;
    uint64_t b = d->bits[w] & (~0ull << (from % 64));
    if (b) return w * 64 + (uint32_t)__builtin_ctzll(b);
    uint64_t sw = w + 1 < 64 ? d->sum & (~0ull << (w + 1)) : 0;
    if (!sw) return LX__LAD_W;
    w = (uint32_t)__builtin_ctzll(sw);
    return w * 64 + (uint32_t)__builtin_ctzll(d->bits[w]);
}
/* Market m's ladder on a side, NULL if none (e->lads read only if it
 * names one: most sides have none). */
static inline lx__lad_t *lx__lad(const lx_engine_t *e, const lx__market_t *m, int side) {
    return m->lad[side] ? e->lads[m->lad[side]] : NULL;
}
/* The best live level of side s, whose ladder is d (NULL: none), and its
 * key; LX__NIL if the side is empty. */
static inline uint32_t lx__side_best_of(const lx__lad_t *d, const lx__side_t *s, int64_t *key) {
    if (d && d->top) {
        *key = (int64_t)((uint64_t)d->lo + d->top - 1);
        return d->lv[d->top - 1];
    }
    if (s->n) {
        *key = s->keys[s->n - 1];
        return s->lv[s->n - 1];
    }
    return LX__NIL;
}
/* ... of market m's side. */
static inline uint32_t lx__side_best(const lx_engine_t *e, const lx__market_t *m, int side,
                                     int64_t *key) {
    return lx__side_best_of(lx__lad(e, m, side), &m->side[side], key);
}
/* A walk over a side's live levels, best first:
 *     lx__walk_t w;
 *     for (uint32_t l = lx__walk_first(e, m, side, &w); l != LX__NIL;
 *          l = lx__walk_next(e, &w))
 * (the ladder's slots from the top down, then the segments above from the
 * last down, skipping tombstones). The side must not change meanwhile. */
typedef struct {
    const lx__side_t *s;
    const lx__lad_t *d;
    const uint32_t *lv; /* segment seg's level indices */
    uint32_t slot;      /* ladder slots below this are still to visit */
    uint32_t seg;       /* segments below this are still to start */
    uint32_t i;         /* entries of segment seg below this are still to visit */
} lx__walk_t;
uint32_t lx__walk_next(const lx_engine_t *e, lx__walk_t *w);
static inline uint32_t lx__walk_first(const lx_engine_t *e, const lx__market_t *m, int side,
                                      lx__walk_t *w) {
    w->s = &m->side[side];
    w->d = lx__lad(e, m, side);
    w->slot = w->d ? w->d->top : 0;
    w->seg = lx__side_nseg(e, w->s);
    w->i = 0;
    return lx__walk_next(e, w);
}
/* Level for (market, side, price), created (empty) if absent; LX__NIL on
 * allocation failure. */
uint32_t lx__book_level_get(lx_engine_t *e, lx__market_t *m, uint32_t market, int side,
                            int64_t price);

/* accounts.c: balances and deposits (the open-order lists and the
 * client-id index: accounts.h). lx__bal_reserve_slow: lx__bal_reserve's
 * path when the balance array must grow. */
int lx__bal_reserve_slow(lx_engine_t *e, uint32_t extra);
int lx__deposit_reserve(lx_engine_t *e);
/* Balance lookups (lx__bal_get, lx__bal_find below) check the account's two
 * most recently used records inline and call these on a miss. */
lx__balance_t *lx__bal_get_slow(lx_engine_t *e, uint32_t account, uint32_t asset, bool create);
const lx__balance_t *lx__bal_find_slow(const lx_engine_t *e, uint32_t account, uint32_t asset);
/* Creates (if missing: after lx__bal_reserve(e, 1)) the fee account's
 * record of an existing asset and points the asset's fee_bal at it. */
void lx__fee_bal_link(lx_engine_t *e, uint32_t asset);
bool lx__deposit_seen(const lx_engine_t *e, uint64_t id);
uint32_t lx__deposit_find(const lx_engine_t *e, uint64_t id); /* its index, or LX__NIL */
int lx__deposit_add(lx_engine_t *e, uint64_t id);
int lx__accounts_init(lx_engine_t *e);
void lx__accounts_free(lx_engine_t *e);

/* Event emission shared by the command handlers. lx__ev_start and lx__emit
 * are inline: every event goes through both, 2.5 events per message
 * without clearing and 5 with it, and as calls into engine.c they cost a
 * tenth of the engine's instructions. */
static inline void lx__emit(lx_engine_t *e, lx_event_t *ev) {
    if (e->emit) e->emit(e->emit_ctx, ev);
}

_Static_assert(offsetof(lx_event_t, u) == 32 &&
                   sizeof(lx_event_t) == 32 + sizeof(((lx_event_t *)0)->u),
               "an event's header has no padding: every byte of an event is defined");

/* The header of an event stamped with the current command, and its
 * union zeroed. */
static inline void lx__ev_head(lx_engine_t *e, lx_event_t *ev, lx_event_type_t type,
                               uint32_t market, uint64_t market_seq) {
    /* every header field, then the union zeroed (so the bytes an event
     * type leaves unused are 0, and events are byte-for-byte
     * deterministic). Not memset of the whole event (gcc emits rep stos)
     * nor a copy from a zero constant (7 loads and 7 stores): the union's
     * memset is 5 stores from one zeroed register. */
    ev->type = type;
    ev->market = market;
    ev->market_seq = market_seq;
    ev->seq = e->cur_seq;
    ev->ts = e->cur_ts;
    memset(&ev->u, 0, sizeof ev->u);
}

/* Starts an event stamped with the current command; for a market event
 * (market != LX_MARKET_NONE and counted) it takes the next market seq. */
static inline void lx__ev_start(lx_engine_t *e, lx_event_t *ev, lx_event_type_t type,
                                uint32_t market, bool market_event) {
    lx__ev_head(e, ev, type, market, market_event ? ++e->markets[market].seq : 0);
}

/* lx__ev_start of a market event whose market record the caller holds
 * (m == &e->markets[market]): every event of the order path. The seq is
 * taken through m instead of e->markets + market * 160, which gcc must
 * recompute for each event (the sink called before it may have changed
 * e->markets). Callgrind, marginal instructions a message: 4.5 fewer on
 * each of realistic, deep, swing and crash (about 2 an event). */
static inline void lx__ev_start_m(lx_engine_t *e, lx_event_t *ev, lx_event_type_t type,
                                  uint32_t market, lx__market_t *m) {
    lx__ev_head(e, ev, type, market, ++m->seq);
}

/* BALANCE: a balance record changed. */
static inline void lx__emit_balance(lx_engine_t *e, const lx__balance_t *b) {
    lx_event_t ev;
    lx__ev_start(e, &ev, LX_EV_BALANCE, LX_MARKET_NONE, false);
    ev.u.balance.account = b->account;
    ev.u.balance.asset = b->asset;
    ev.u.balance.free = b->free;
    ev.u.balance.locked = b->locked;
    lx__emit(e, &ev);
}

/* engine.c */
void lx__reject(lx_engine_t *e, const lx_cmd_t *c, lx_reject_t reason, uint32_t market,
                uint32_t account, lx_order_id_t order_id, uint64_t client_id);

/* engine.c: lx_engine_apply_auth over cmds[0..n) with auths[i] (auths
 * NULL: none), the sink set once; stops at the first error (*applied: the
 * commands taken). */
int lx__apply_run(lx_engine_t *e, const lx_cmd_t *cmds, const lx_cmd_auth_t *auths, size_t n,
                  const lx_sink_t *sink, size_t *applied);

/* orders.c: place, cancel, amend, cancel-all, expiry (docs/matching.md) */
int lx__place(lx_engine_t *e, const lx_cmd_t *c);
int lx__cancel(lx_engine_t *e, const lx_cmd_t *c);
int lx__amend(lx_engine_t *e, const lx_cmd_t *c);
int lx__cancel_all(lx_engine_t *e, const lx_cmd_t *c);
/* Cancels every open order of an account (market LX_MARKET_ALL: all
 * markets) in acceptance order, each ORDER_CANCELED then BOOK_LEVEL. */
void lx__cancel_account(lx_engine_t *e, uint32_t account, uint32_t market, lx_cancel_reason_t why);
int lx__expire_due(lx_engine_t *e);

/* gtd.c: GTD orders' expiry heap and expiry table */
int lx__gtd_init(lx_engine_t *e);
void lx__gtd_free(lx_engine_t *e);
/* Room for one more GTD order in the heap and the table. */
int lx__gtd_reserve(lx_engine_t *e);
/* A resting GTD order enters in two steps (after lx__gtd_reserve): its
 * expiry into the table (set, returning its table index; the slot has no
 * entry), then its heap entry with its accept seq (push). clear removes
 * both, wherever the entry is in the heap. */
uint32_t lx__gtd_set(lx_engine_t *e, uint32_t slot, int64_t expiry);
void lx__gtd_push(lx_engine_t *e, uint32_t xi, uint64_t seq);
void lx__gtd_clear(lx_engine_t *e, uint32_t slot);
uint32_t lx__gtd_find(const lx_engine_t *e, uint32_t slot); /* table index or LX__NIL */
int64_t lx__gtd_expiry(const lx_engine_t *e, uint32_t slot);
size_t lx__gtd_bytes(const lx_engine_t *e); /* memory of both */

/* digest.c: the digest as an image of `version` has it in its trailer */
uint64_t lx__digest(const lx_engine_t *e, uint32_t version);
/* snapshot.c: the check word of an image's header (its first len bytes:
 * 72 from version 5, 64 before), stored right after them. */
uint64_t lx__image_header_check(const uint8_t *h, int len);

/* deadman.c: dead man's switches (docs/matching.md) */
int lx__schedule_cancel(lx_engine_t *e, const lx_cmd_t *c);
/* Fires every switch due: before a command (engine.c; rules 1: on a TICK). */
void lx__deadman_fire(lx_engine_t *e);
int lx__dms_reserve(lx_engine_t *e);
/* Arms or moves (deadline > 0) or clears (0) an account's switch; room
 * reserved by the caller when arming a new one. */
void lx__dms_set(lx_engine_t *e, uint32_t account, int64_t deadline);
static inline bool lx__dms_less(const lx__dms_t *a, const lx__dms_t *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->account < b->account);
}

/* identity.c: keys, agents, auth checks (docs/identity.md) */
int lx__identity_init(lx_engine_t *e);
void lx__identity_free(lx_engine_t *e);
/* The auth check of lx_engine_apply_auth(): 0 (the command may go on; *kidx
 * is the signer's key index, or LX__NIL when auth does not apply) or the
 * reason it is rejected (already emitted). */
lx_reject_t lx__auth_check(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                           uint32_t *kidx);
int lx__bind_key(lx_engine_t *e, const lx_cmd_t *c);
int lx__approve_agent(lx_engine_t *e, const lx_cmd_t *c);
int lx__revoke_agent(lx_engine_t *e, const lx_cmd_t *c);
uint32_t lx__key_find(const lx_engine_t *e, const uint8_t key[32]);
/* Adds a key record (snapshot load; room reserved with lx__key_reserve);
 * its nonces start at the account's floors. */
int lx__key_reserve(lx_engine_t *e);
uint32_t lx__key_add(lx_engine_t *e, const uint8_t key[32], uint32_t account, uint32_t role);
/* Room for one more floor record (one per account, ever). */
int lx__floor_reserve(lx_engine_t *e);
/* Raises the account's floors of a key slot to at least these nonces,
 * creating its record (room reserved) if it has none. */
void lx__floor_raise(lx_engine_t *e, uint32_t account, uint32_t slot, uint64_t nonce,
                     uint64_t nonce_all);

/* clearing.c: locks, settlement, funds commands (docs/clearing.md) */
/* lx__lock_amount and lx__fee_for (clearing.h) in 128 bits, for products
 * past 64. */
int64_t lx__lock_amount_wide(const lx__market_t *m, int64_t price, int64_t qty, uint32_t fee_res);
int64_t lx__fee_wide(int64_t notional, int32_t rate);
/* Place check 9: the notional of qty at price is <= 2^62 and qty lots of
 * base fit int64 (orders.c). Every open order satisfies it for its total
 * quantity, which keeps lx__lock_amount() free of overflow. The check
 * needs a 64-bit division; a market whose largest order (max_price,
 * max_qty) fits (fits_all, set by lx__market_bounds) skips it for orders
 * inside its bounds. */
bool lx__amounts_fit_slow(const lx__market_t *m, int64_t price, int64_t qty);
static inline bool lx__amounts_fit(const lx__market_t *m, int64_t price, int64_t qty) {
    if (m->fits_all && price > 0 && qty > 0 && price <= m->max_price && qty <= m->max_qty)
        return true;
    return lx__amounts_fit_slow(m, price, qty);
}
/* Sets what follows from a market's parameters (fits_all). */
static inline void lx__market_bounds(lx__market_t *m) {
    m->fits_all = lx__amounts_fit_slow(m, m->max_price, m->max_qty);
}
int lx__deposit(lx_engine_t *e, const lx_cmd_t *c);
int lx__withdraw(lx_engine_t *e, const lx_cmd_t *c);
int lx__transfer(lx_engine_t *e, const lx_cmd_t *c);

/* The record of (account, asset), created (zero) if absent and create is
 * set (after lx__bal_reserve), else NULL if absent. A hit in the account's
 * cache of two is inline: a fill looks up four balances and nearly all of
 * them are the base and quote of the market being traded. */
static inline lx__balance_t *lx__bal_get(lx_engine_t *e, uint32_t account, uint32_t asset,
                                         bool create) {
    const lx__account_t *a = &e->accounts[account];
    if (a->bal_idx[0] && a->bal_asset[0] == asset) return &e->balances[a->bal_idx[0] - 1];
    if (a->bal_idx[1] && a->bal_asset[1] == asset) return &e->balances[a->bal_idx[1] - 1];
    return lx__bal_get_slow(e, account, asset, create);
}

static inline const lx__balance_t *lx__bal_find(const lx_engine_t *e, uint32_t account,
                                                uint32_t asset) {
    const lx__account_t *a = &e->accounts[account];
    if (a->bal_idx[0] && a->bal_asset[0] == asset) return &e->balances[a->bal_idx[0] - 1];
    if (a->bal_idx[1] && a->bal_asset[1] == asset) return &e->balances[a->bal_idx[1] - 1];
    return lx__bal_find_slow(e, account, asset);
}

static inline int64_t lx__level_price(const lx_engine_t *e, const lx__order_t *o) {
    return e->levels[o->level].price;
}

#endif
