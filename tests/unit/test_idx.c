/*
 * test_idx.c: the hash index (src/core/idx.h, idx.c) against a plain
 * reference, through its growth.
 *
 * The index keeps 8 bits of each key's hash and asks its owner for the
 * rest; here the owner is an array of 64-bit keys, value v naming keys[v].
 * Random inserts (both ways: find_hole + put, and insert), removals and
 * lookups drive a table from its smallest size through many growths and
 * back down, and after each step the deep check (lx__idx_validate) must
 * pass while the table is small, and periodically when it is large; every
 * key the reference holds must be found with its value, and keys it does
 * not hold must not. While a growth is in progress the old table is moved
 * a bucket per reserve: the test counts the owner's hash calls to check
 * that no reserve pays for more than its bucket (and the few entries that
 * wrapped past the end, when a growth starts), that the old table's memory
 * is given back as the move goes, and that the move finishes before the
 * next growth.
 *
 * A second owner hashes every key to the last few buckets, so that the
 * cluster wraps past the end of the table, over counts stick at 255, and
 * growth must first move the wrapped entries: the same checks hold.
 *
 * The same two runs again with the table presized (lx__idx_presize): the
 * tables must then lie in the reserve's two regions, each left zero by the
 * move out of it.
 *
 * Last, lx_engine_reserve, which sizes an engine's level pool up front and
 * reserves memory for its client-id index: two engines take the same
 * commands, one reserved; their events and digests must be identical, the
 * reserved one's pool must never grow while the other's does, its index
 * grows as the other's but inside its reserve; lx_engine_memory must list
 * what was reserved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/idx.h"
#include "lx/engine.h"

#define MAXV 200000u

typedef struct {
    uint64_t key[MAXV];
    bool live[MAXV];
    uint32_t free_v[MAXV], nfree;
    uint32_t live_v[MAXV], nlive; /* the live values, in any order */
    uint32_t pos[MAXV];           /* index of v in live_v */
    bool clustered;               /* hash every key near the table's end */
    uint64_t hash_calls;
} owner_t;

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state += 0x9e3779b97f4a7c15ULL;
    return lx__fmix64(rng_state);
}

static uint64_t key_hash(const owner_t *o, uint64_t key) {
    uint64_t h = lx__hash2(key, 7);
    if (!o->clustered) return h;
    /* low 32 bits within 2^-7 of the top: homes in the last 1/128 of the
     * table (the last bucket of a small one) */
    return (h & 0xffffffff00000000ULL) | (0xffffffffu - (uint32_t)(h >> 8 & 0x1ffffff));
}

static uint64_t owner_hash(const void *ctx, uint32_t v) {
    owner_t *o = (owner_t *)(uintptr_t)ctx;
    o->hash_calls++;
    return key_hash(o, o->key[v]);
}

static bool owner_eq(const void *ctx, uint32_t v, const void *key) {
    const owner_t *o = ctx;
    return o->key[v] == *(const uint64_t *)key;
}

static owner_t *owner_new(bool clustered) {
    owner_t *o = calloc(1, sizeof *o);
    assert_non_null(o);
    o->clustered = clustered;
    for (uint32_t v = 0; v < MAXV; v++) o->free_v[v] = MAXV - 1 - v;
    o->nfree = MAXV;
    return o;
}

static void check_all(const lx__idx_t *t, owner_t *o) {
    assert_int_equal(t->count, o->nlive);
    for (uint32_t i = 0; i < o->nlive; i++) {
        uint32_t v = o->live_v[i];
        assert_int_equal(lx__idx_find(t, key_hash(o, o->key[v]), owner_eq, o, &o->key[v]), v);
    }
}

/* One reserve: at most one old bucket's entries hashed (12), or, when it
 * starts a growth, the entries that wrapped past the end as well. */
static void reserve(lx__idx_t *t, owner_t *o, uint64_t *growths) {
    bool growing = t->old != NULL;
    uint32_t nb = t->nb;
    size_t before = lx__idx_bytes(t);
    uint64_t calls = o->hash_calls;
    assert_int_equal(lx__idx_reserve(t, 1), 0);
    uint64_t used = o->hash_calls - calls;
    if (t->nb != nb) {
        /* a growth started: the previous one had finished */
        assert_false(growing);
        assert_non_null(t->old);
        (*growths)++;
        if (!o->clustered) assert_true(used <= LX__IDX_B); /* clustered: most entries wrap */
    } else {
        assert_true(used <= LX__IDX_B);
        if (growing) assert_true(lx__idx_bytes(t) <= before); /* given back, never more */
    }
    size_t reserve_bytes = ((size_t)t->reg_nb[0] + t->reg_nb[1]) * sizeof(lx__idx_bucket_t);
    if (!t->old)
        assert_int_equal(lx__idx_bytes(t),
                         (t->mem ? (size_t)t->nb * sizeof(lx__idx_bucket_t) : 0) + reserve_bytes);
}

static void insert(lx__idx_t *t, owner_t *o, uint64_t *growths) {
    assert_true(o->nfree > 0);
    uint32_t v = o->free_v[--o->nfree];
    uint64_t key = rnd();
    o->key[v] = key;
    uint64_t h = key_hash(o, key);
    if (rnd() & 1) {
        /* the engine's way for a new order's client id: room first, the
         * duplicate check, then (once the order rests) the insert, whose
         * own reserve then never grows the table */
        reserve(t, o, growths);
        assert_int_equal(lx__idx_find(t, h, owner_eq, o, &key), LX__NIL);
        uint32_t nb = t->nb;
        assert_int_equal(lx__idx_insert(t, h, v), 0);
        assert_int_equal(t->nb, nb);
    } else {
        assert_int_equal(lx__idx_find(t, h, owner_eq, o, &key), LX__NIL);
        uint32_t nb = t->nb;
        bool growing = t->old != NULL;
        assert_int_equal(lx__idx_insert(t, h, v), 0);
        if (t->nb != nb) {
            assert_false(growing);
            (*growths)++;
        }
    }
    o->live[v] = true;
    o->pos[v] = o->nlive;
    o->live_v[o->nlive++] = v;
}

static void erase(lx__idx_t *t, owner_t *o) {
    uint32_t i = (uint32_t)(rnd() % o->nlive), v = o->live_v[i];
    lx__idx_remove(t, key_hash(o, o->key[v]), v);
    o->live[v] = false;
    uint32_t last = o->live_v[--o->nlive];
    o->live_v[i] = last;
    o->pos[last] = i;
    o->free_v[o->nfree++] = v;
}

static void lookup(const lx__idx_t *t, owner_t *o) {
    if (o->nlive && (rnd() & 1)) {
        uint32_t v = o->live_v[rnd() % o->nlive];
        assert_int_equal(lx__idx_find(t, key_hash(o, o->key[v]), owner_eq, o, &o->key[v]), v);
    } else {
        uint64_t key = rnd(); /* 64 random bits: not a live key */
        assert_int_equal(lx__idx_find(t, key_hash(o, key), owner_eq, o, &key), LX__NIL);
    }
}

/* Random operations toward each target size in turn; with `presize`, the
 * table reserved for that many entries first (lx__idx_presize): then every
 * table after the first growth lies in the reserve, never in memory of its
 * own, as long as the entries do not pass `presize`. */
static void run(owner_t *o, const uint32_t *targets, size_t ntargets, uint32_t validate_below,
                uint32_t presize) {
    lx__idx_t t;
    assert_int_equal(lx__idx_init(&t, 16, owner_hash, o), 0);
    if (presize) {
        /* more than an index can hold: refused, nothing changed */
        assert_int_equal(lx__idx_presize(&t, UINT32_MAX), LX_ENOMEM);
        assert_null(t.arena);
        assert_int_equal(t.nb, 2);
        assert_int_equal(lx__idx_presize(&t, presize), 0);
        assert_non_null(t.arena);
        assert_true(lx__idx_fits(presize, t.reg_nb[0]) && !lx__idx_fits(presize, t.reg_nb[1]));
        assert_int_equal(t.nb, 2);                             /* the table keeps its size */
        assert_int_equal(lx__idx_presize(&t, presize * 2), 0); /* once: changes nothing */
        assert_true(lx__idx_fits(presize, t.reg_nb[0]) && !lx__idx_fits(presize * 2, t.reg_nb[0]));
    }
    uint64_t growths = 0, ops = 0;
    for (size_t k = 0; k < ntargets; k++) {
        uint32_t target = targets[k];
        bool up = target > o->nlive;
        while (up ? o->nlive < target : o->nlive > target) {
            uint64_t r = rnd() % 100;
            if (r < 50)
                lookup(&t, o);
            else if ((r < 85) == up || o->nlive == 0)
                insert(&t, o, &growths);
            else
                erase(&t, o);
            ops++;
            if (presize && growths > 0) {
                assert_null(t.mem);
                assert_true(t.bkt == t.reg[0] || t.bkt == t.reg[1]);
                /* the old table: the first one (of its own) or a region */
                assert_true(t.old == NULL ||
                            (t.old != t.bkt && (growths == 1) == (t.old_mem != NULL)));
            }
            if (o->nlive < validate_below || ops % 4099 == 0)
                assert_int_equal(lx__idx_validate(&t), 0);
        }
        assert_int_equal(lx__idx_validate(&t), 0);
        check_all(&t, o);
    }
    assert_true(growths >= 5);
    lx__idx_free(&t);
}

/* Spread keys from the smallest table through many growths and back
 * down; with presize, inside a reserve for the largest target. */
static void spread_case(uint32_t presize) {
    rng_state = 1;
    owner_t *o = owner_new(false);
    const uint32_t targets[] = {3000, 500, 60000, 20000, 150000, 0, 2000};
    run(o, targets, sizeof targets / sizeof *targets, 1500, presize);
    free(o);
}

/* Keys hashed to the table's end (see owner_t.clustered). */
static void cluster_case(uint32_t presize) {
    rng_state = 2;
    owner_t *o = owner_new(true);
    const uint32_t targets[] = {400, 50, 1200, 30, 800};
    run(o, targets, sizeof targets / sizeof *targets, 300, presize);
    free(o);
}

static void test_random_growth(void **state) {
    (void)state;
    spread_case(0);
}

/* The same growth inside a reserve for the largest target: the tables take
 * its two regions in turn, each left zero by the move out of it (the deep
 * check looks), and the last fits in region 0. */
static void test_presized_growth(void **state) {
    (void)state;
    spread_case(150000);
}

static void test_wrapped_cluster(void **state) {
    (void)state;
    cluster_case(0);
}

/* The wrapped cluster in a reserve: over counts that stuck at 255 are
 * cleared with the rest of each bucket the move leaves. */
static void test_presized_cluster(void **state) {
    (void)state;
    cluster_case(1200);
}

/* ---- lx_engine_reserve ---------------------------------------------------- */

typedef struct {
    uint64_t n, hash;
} evsum_t;

static void evsum(void *ctx, const lx_event_t *ev) {
    evsum_t *s = ctx;
    const unsigned char *p = (const unsigned char *)ev;
    for (size_t i = 0; i < sizeof *ev; i++) s->hash = (s->hash ^ p[i]) * 0x100000001b3ULL;
    s->n++;
}

static lx_cmd_t setup_cmd(uint32_t i) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    if (i < 2) {
        c.type = LX_CMD_CREATE_ASSET;
        c.u.create_asset.asset = i;
        memcpy(c.u.create_asset.symbol, i ? "USD" : "BTC", 3);
        c.u.create_asset.scale = 1;
    } else if (i < 5) {
        c.type = LX_CMD_CREATE_MARKET;
        c.u.create_market = (lx_cmd_create_market_t){.market = i - 2,
                                                     .base = 0,
                                                     .quote = 1,
                                                     .tick_size = 1,
                                                     .lot_size = 1,
                                                     .min_price = 1,
                                                     .max_price = 100000,
                                                     .max_qty = 1000,
                                                     .taker_fee = 10};
    } else {
        c.type = LX_CMD_DEPOSIT;
        c.u.deposit = (lx_cmd_deposit_t){.account = (i - 5) / 2,
                                         .asset = (i - 5) % 2,
                                         .amount = 1000000000000LL,
                                         .deposit_id = i};
    }
    return c;
}

/* Resting places far from one another, then random places, cancels (by
 * client id) and amends around one price. */
static lx_cmd_t flow_cmd(uint32_t i) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    uint32_t acct = (uint32_t)(rnd() % 16), market = (uint32_t)(rnd() % 3);
    uint64_t k = rnd() % 100;
    if (i < 3000 || k < 50) {
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = acct,
                                     .market = market,
                                     .side = (uint8_t)(rnd() & 1),
                                     .tif = LX_TIF_GTC,
                                     .price = 1000 + (int64_t)(rnd() % 2000),
                                     .qty = 1 + (int64_t)(rnd() % 9),
                                     .client_id = 1 + rnd() % 4000};
        if (i < 3000) c.u.place.price = c.u.place.side ? 5000 + i : 1000 - i / 4;
    } else if (k < 85) {
        c.type = LX_CMD_CANCEL;
        c.u.cancel = (lx_cmd_cancel_t){
            .account = acct, .market = market, .by_client_id = 1, .client_id = 1 + rnd() % 4000};
    } else {
        c.type = LX_CMD_AMEND;
        c.u.amend = (lx_cmd_amend_t){.account = acct,
                                     .market = market,
                                     .by_client_id = 1,
                                     .client_id = 1 + rnd() % 4000,
                                     .price = 1000 + (int64_t)(rnd() % 2000),
                                     .qty = 1 + (int64_t)(rnd() % 9)};
    }
    return c;
}

/* lx_engine_memory's ranges: their total, and whether the order slots and
 * the level pool were among them. */
typedef struct {
    size_t total;
    const void *orders, *levels;
    bool saw_orders, saw_levels;
} memsum_t;

static void memsum(void *ctx, void *start, size_t bytes) {
    memsum_t *m = ctx;
    assert_non_null(start);
    assert_true(bytes > 0);
    m->total += bytes;
    m->saw_orders |= start == m->orders;
    m->saw_levels |= start == m->levels;
}

static void test_engine_reserve(void **state) {
    (void)state;
    rng_state = 3;
    lx_engine_config_t cfg;
    lx_engine_config_default(&cfg);
    cfg.max_markets = 4;
    cfg.max_assets = 4;
    cfg.max_accounts = 16;
    cfg.max_orders = 8192;
    lx_engine_t *plain = NULL, *big = NULL;
    assert_int_equal(lx_engine_create(&plain, &cfg), 0);
    assert_int_equal(lx_engine_create(&big, &cfg), 0);
    assert_int_equal(lx_engine_reserve(big, cfg.max_orders), 0);
    const lx__idx_t *ci = &big->cid_idx;
    uint32_t big_nb = ci->nb, big_levels = big->nlevels_cap;
    uint32_t plain_nb = plain->cid_idx.nb, plain_levels = plain->nlevels_cap;
    assert_null(ci->old);
    assert_int_equal(big_nb, plain_nb); /* the index keeps the size its entries need */
    assert_true(big_levels >= cfg.max_orders && lx__idx_fits(cfg.max_orders, ci->reg_nb[0]));
    /* what a host would map: at least the slots, the pool and the index's
     * reserve */
    memsum_t ms = {0, big->orders, big->levels, false, false};
    lx_engine_memory(big, memsum, &ms);
    assert_true(ms.saw_orders && ms.saw_levels);
    assert_true(ms.total >= (size_t)cfg.max_orders * (sizeof(lx__order_t) + sizeof(lx__level_t)) +
                                ((size_t)ci->reg_nb[0] + ci->reg_nb[1]) * sizeof(lx__idx_bucket_t));
    evsum_t s1 = {0, 0}, s2 = {0, 0};
    lx_sink_t k1 = {evsum, &s1}, k2 = {evsum, &s2};
    uint64_t seq = 0;
    unsigned growths = 0;
    char msg[256];
    for (uint32_t i = 0; i < 5 + 32 + 40000; i++) {
        lx_cmd_t c = i < 37 ? setup_cmd(i) : flow_cmd(i - 37);
        c.seq = ++seq;
        c.ts = (int64_t)seq * 1000;
        assert_int_equal(lx_engine_apply(plain, &c, &k1), 0);
        assert_int_equal(lx_engine_apply(big, &c, &k2), 0);
        assert_int_equal(big->nlevels_cap, big_levels);
        /* the index grows as the other's does, into its reserve */
        assert_int_equal(ci->nb, plain->cid_idx.nb);
        if (ci->nb != big_nb) {
            assert_null(ci->mem);
            assert_true(ci->bkt == ci->reg[0] || ci->bkt == ci->reg[1]);
            growths++;
            big_nb = ci->nb;
        }
        if (i % 2000 == 0) assert_int_equal(lx_engine_validate(big, msg, sizeof msg), 0);
    }
    assert_true(growths >= 3); /* 5: each region left and taken again */
    assert_int_equal(s1.n, s2.n);
    assert_true(s1.hash == s2.hash);
    assert_true(lx_engine_digest(plain) == lx_engine_digest(big));
    /* without the reservation both would have grown */
    assert_true(plain->cid_idx.nb > plain_nb && plain->nlevels_cap > plain_levels);
    assert_int_equal(lx_engine_validate(big, msg, sizeof msg), 0);
    assert_int_equal(lx_engine_validate(plain, msg, sizeof msg), 0);
    lx_engine_destroy(plain);
    lx_engine_destroy(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_growth),   cmocka_unit_test(test_wrapped_cluster),
        cmocka_unit_test(test_presized_growth), cmocka_unit_test(test_presized_cluster),
        cmocka_unit_test(test_engine_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
