/*
 * view.c: the gateway read model (see lx/view.h and docs/api.md).
 *
 * Data structures. Per market, each side of the L2 book is a sorted array
 * of levels, best first (bids descending, asks ascending): a BOOK_LEVEL
 * event is a binary search plus one memmove, O(log n + moved levels), and
 * a top-N snapshot is a memcpy. Trades are a per-market ring of
 * LX_VIEW_TRADES, allocated at the first trade. Open orders and balances
 * are open-addressing hash maps (linear probing, backward-shift deletion,
 * so no tombstones), grown at 3/4 load.
 *
 * Invariants: a side holds no level with qty <= 0 and no duplicate price;
 * a market's seq is the market_seq of the last event applied to it, and an
 * event is applied only if it carries seq + 1 (else LX_VIEW_GAP, nothing
 * changed).
 *
 * Not done here: no locking (one writer; readers on the same thread), no
 * I/O, no JSON. Per-account order lists are a scan of the order map, since
 * the gateway asks for them rarely compared with book updates.
 */
#include "lx/view.h"

#include <stdlib.h>
#include <string.h>

#include "lx/error.h"

typedef struct {
    lx_view_level_t *lv;
    size_t n, cap;
} side_t;

typedef struct {
    uint64_t seq;
    int64_t ts; /* of the last event applied */
    side_t side[2];
    lx_view_trade_t *trades; /* ring of LX_VIEW_TRADES, lazily allocated */
    size_t t_head, t_n;
} market_t;

/* Open-addressing hash map, linear probing, backward-shift deletion. */
typedef struct {
    uint64_t key;
    uint8_t used;
    union {
        lx_view_order_t o;
        struct {
            int64_t free_, locked;
        } b;
    } u;
} slot_t;

typedef struct {
    slot_t *s;
    size_t cap, n; /* cap a power of two */
} map_t;

struct lx_view {
    uint32_t max_markets;
    market_t *m;
    map_t orders;
    map_t *balances; /* one map per shard (BALANCE is a holding in one shard) */
    uint32_t nbal;
    uint64_t age;
};

static size_t hash64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static slot_t *map_find(const map_t *m, uint64_t key) {
    if (!m->cap) return NULL;
    for (size_t i = hash64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->s[i].used) return NULL;
        if (m->s[i].key == key) return &m->s[i];
    }
}

static int map_grow(map_t *m) {
    size_t nc = m->cap ? m->cap * 2 : 64;
    slot_t *ns = calloc(nc, sizeof *ns);
    if (!ns) return LX_ENOMEM;
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->s[j].used) continue;
        size_t i = hash64(m->s[j].key) & (nc - 1);
        while (ns[i].used) i = (i + 1) & (nc - 1);
        ns[i] = m->s[j];
    }
    free(m->s);
    m->s = ns;
    m->cap = nc;
    return 0;
}

/* The slot of key, inserted zeroed if absent; NULL on no memory. */
static slot_t *map_put(map_t *m, uint64_t key) {
    slot_t *f = map_find(m, key);
    if (f) return f;
    if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m)) return NULL;
    size_t i = hash64(key) & (m->cap - 1);
    while (m->s[i].used) i = (i + 1) & (m->cap - 1);
    memset(&m->s[i], 0, sizeof m->s[i]);
    m->s[i].used = 1;
    m->s[i].key = key;
    m->n++;
    return &m->s[i];
}

static void map_del(map_t *m, uint64_t key) {
    slot_t *f = map_find(m, key);
    if (!f) return;
    size_t mask = m->cap - 1, i = (size_t)(f - m->s), j = i;
    m->s[i].used = 0;
    m->n--;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->s[j].used) return;
        size_t h = hash64(m->s[j].key) & mask;
        /* move j back to i if its home h is not cyclically in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            m->s[i] = m->s[j];
            m->s[j].used = 0;
            i = j;
        }
    }
}

static int apply_order_event(lx_view_t *v, const lx_event_t *ev) {
    slot_t *sl;
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *a = &ev->u.accepted;
        if (!(sl = map_put(&v->orders, a->order_id))) return LX_ENOMEM;
        sl->u.o = (lx_view_order_t){.order_id = a->order_id,
                                    .account = a->account,
                                    .market = ev->market,
                                    .side = a->side,
                                    .type = a->type,
                                    .tif = a->tif,
                                    .price = a->price,
                                    .qty = a->qty,
                                    .remaining = a->qty,
                                    .client_id = a->client_id,
                                    .age = ++v->age};
        sl->u.o.prio = sl->u.o.age;
        break;
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *t = &ev->u.trade;
        if ((sl = map_find(&v->orders, t->maker_order))) {
            sl->u.o.remaining = t->maker_remaining;
            if (t->maker_remaining <= 0) map_del(&v->orders, t->maker_order);
        }
        if ((sl = map_find(&v->orders, t->taker_order))) {
            sl->u.o.remaining = t->taker_remaining;
            if (t->taker_remaining <= 0) map_del(&v->orders, t->taker_order);
        }
        break;
    }
    case LX_EV_ORDER_CANCELED:
        map_del(&v->orders, ev->u.canceled.order_id);
        break;
    case LX_EV_ORDER_AMENDED:
        if ((sl = map_find(&v->orders, ev->u.amended.order_id))) {
            sl->u.o.price = ev->u.amended.price;
            sl->u.o.qty = ev->u.amended.qty;
            sl->u.o.remaining = ev->u.amended.remaining;
            if (ev->u.amended.priority_lost) sl->u.o.prio = ++v->age;
            if (sl->u.o.remaining <= 0) map_del(&v->orders, ev->u.amended.order_id);
        }
        break;
    default:
        break;
    }
    return 0;
}

int lx_view_order(const lx_view_t *v, lx_order_id_t id, lx_view_order_t *out) {
    const slot_t *sl = v ? map_find(&v->orders, id) : NULL;
    if (!sl) return 0;
    *out = sl->u.o;
    return 1;
}

static int by_age(const void *a, const void *b) {
    const lx_view_order_t *x = a, *y = b;
    return x->age < y->age ? -1 : x->age > y->age;
}

static int by_prio(const void *a, const void *b) {
    const lx_view_order_t *x = a, *y = b;
    return x->prio < y->prio ? -1 : x->prio > y->prio;
}

size_t lx_view_account_orders(const lx_view_t *v, lx_account_id_t a, lx_view_order_t *out,
                              size_t cap) {
    if (!v) return 0;
    size_t total = 0;
    for (size_t i = 0; i < v->orders.cap; i++) {
        const slot_t *sl = &v->orders.s[i];
        if (!sl->used || sl->u.o.account != a) continue;
        if (total < cap) out[total] = sl->u.o;
        total++;
    }
    /* oldest first among those written (all of them when cap suffices) */
    size_t w = total < cap ? total : cap;
    if (w > 1) qsort(out, w, sizeof *out, by_age);
    return total;
}

size_t lx_view_market_orders(const lx_view_t *v, lx_market_id_t m, lx_view_order_t *out,
                             size_t cap) {
    if (!v) return 0;
    size_t total = 0;
    for (size_t i = 0; i < v->orders.cap; i++) {
        const slot_t *sl = &v->orders.s[i];
        if (!sl->used || sl->u.o.market != m) continue;
        if (total < cap) out[total] = sl->u.o;
        total++;
    }
    size_t w = total < cap ? total : cap;
    if (w > 1) qsort(out, w, sizeof *out, by_prio);
    return total;
}

int lx_view_balance(const lx_view_t *v, lx_account_id_t a, lx_asset_id_t asset, int64_t *free_,
                    int64_t *locked) {
    *free_ = *locked = 0;
    int seen = 0;
    for (uint32_t k = 0; v && k < v->nbal; k++) {
        const slot_t *sl = map_find(&v->balances[k], ((uint64_t)a << 32) | asset);
        if (!sl) continue;
        *free_ += sl->u.b.free_;
        *locked += sl->u.b.locked;
        seen = 1;
    }
    return seen;
}

lx_view_t *lx_view_create(uint32_t max_markets) {
    lx_view_t *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->m = calloc(max_markets ? max_markets : 1, sizeof *v->m);
    if (!v->m) {
        free(v);
        return NULL;
    }
    v->max_markets = max_markets;
    return v;
}

static void market_free(market_t *m) {
    free(m->side[0].lv);
    free(m->side[1].lv);
    free(m->trades);
    memset(m, 0, sizeof *m);
}

void lx_view_destroy(lx_view_t *v) {
    if (!v) return;
    for (uint32_t i = 0; i < v->max_markets; i++) market_free(&v->m[i]);
    free(v->m);
    free(v->orders.s);
    for (uint32_t k = 0; k < v->nbal; k++) free(v->balances[k].s);
    free(v->balances);
    free(v);
}

void lx_view_reset_market(lx_view_t *v, lx_market_id_t m, uint64_t market_seq, int64_t ts) {
    if (!v || m >= v->max_markets) return;
    market_free(&v->m[m]);
    v->m[m].seq = market_seq;
    v->m[m].ts = ts;
}

/* Index of price in side s (better = earlier), or insertion point; *found set. */
static size_t find(const side_t *s, uint8_t side, int64_t price, int *found) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t p = s->lv[mid].price;
        int before = side == 0 ? p > price : p < price; /* mid is better than price */
        if (p == price) {
            *found = 1;
            return mid;
        }
        if (before)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static int set_level(side_t *s, uint8_t side, int64_t price, int64_t qty, uint32_t count) {
    int found;
    size_t i = find(s, side, price, &found);
    if (qty <= 0) {
        if (found) {
            memmove(&s->lv[i], &s->lv[i + 1], (s->n - i - 1) * sizeof *s->lv);
            s->n--;
        }
        return 0;
    }
    if (found) {
        s->lv[i].qty = qty;
        s->lv[i].count = count;
        return 0;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        lx_view_level_t *nl = realloc(s->lv, nc * sizeof *nl);
        if (!nl) return LX_ENOMEM;
        s->lv = nl;
        s->cap = nc;
    }
    memmove(&s->lv[i + 1], &s->lv[i], (s->n - i) * sizeof *s->lv);
    s->lv[i] = (lx_view_level_t){price, qty, count};
    s->n++;
    return 0;
}

lx_view_trade_t lx_view_trade_of(const lx_event_t *ev) {
    const lx_ev_trade_t *t = &ev->u.trade;
    return (lx_view_trade_t){.price = t->price,
                             .qty = t->qty,
                             .ts = ev->ts,
                             .taker_side = t->taker_side,
                             .maker_order = t->maker_order,
                             .taker_order = t->taker_order,
                             .seq = ev->market_seq};
}

int lx_view_apply(lx_view_t *v, const lx_event_t *ev) {
    return lx_view_apply_shard(v, 0, ev);
}

int lx_view_apply_shard(lx_view_t *v, unsigned shard, const lx_event_t *ev) {
    if (!v || !ev) return LX_EINVAL;
    if (ev->type == LX_EV_BALANCE) {
        if (shard >= v->nbal) {
            if (shard >= 1024) return LX_EINVAL;
            map_t *nb = realloc(v->balances, (shard + 1) * sizeof *nb);
            if (!nb) return LX_ENOMEM;
            memset(nb + v->nbal, 0, (shard + 1 - v->nbal) * sizeof *nb);
            v->balances = nb;
            v->nbal = shard + 1;
        }
        slot_t *sl = map_put(&v->balances[shard],
                             ((uint64_t)ev->u.balance.account << 32) | ev->u.balance.asset);
        if (!sl) return LX_ENOMEM;
        sl->u.b.free_ = ev->u.balance.free;
        sl->u.b.locked = ev->u.balance.locked;
        return 0;
    }
    /* REJECTED, BALANCE, funds and ASSET_CREATED carry market_seq 0: not
     * sequenced, nothing to apply to a market. */
    if (ev->market == LX_MARKET_NONE || ev->market_seq == 0) return 0;
    if (ev->market >= v->max_markets) return LX_EINVAL;
    market_t *m = &v->m[ev->market];
    if (ev->market_seq != m->seq + 1) return LX_VIEW_GAP;
    if (ev->type == LX_EV_BOOK_LEVEL) {
        if (ev->u.level.side > 1) return LX_EINVAL;
        int rc = set_level(&m->side[ev->u.level.side], ev->u.level.side, ev->u.level.price,
                           ev->u.level.qty, ev->u.level.count);
        if (rc) return rc;
    } else if (ev->type == LX_EV_TRADE) {
        int rc = apply_order_event(v, ev);
        if (rc) return rc;
        if (!m->trades) {
            m->trades = calloc(LX_VIEW_TRADES, sizeof *m->trades);
            if (!m->trades) return LX_ENOMEM;
        }
        m->trades[m->t_head] = lx_view_trade_of(ev);
        m->t_head = (m->t_head + 1) % LX_VIEW_TRADES;
        if (m->t_n < LX_VIEW_TRADES) m->t_n++;
    } else {
        int rc = apply_order_event(v, ev);
        if (rc) return rc;
    }
    m->seq = ev->market_seq;
    m->ts = ev->ts;
    return 0;
}

int lx_view_load_level(lx_view_t *v, lx_market_id_t m, uint8_t side, int64_t price, int64_t qty,
                       uint32_t count) {
    if (!v || m >= v->max_markets || side > 1) return LX_EINVAL;
    return set_level(&v->m[m].side[side], side, price, qty, count);
}

int lx_view_load_order(lx_view_t *v, const lx_view_order_t *o) {
    if (!v || !o || o->order_id == 0) return LX_EINVAL;
    slot_t *sl = map_put(&v->orders, o->order_id);
    if (!sl) return LX_ENOMEM;
    sl->u.o = *o;
    sl->u.o.age = sl->u.o.prio = ++v->age;
    return 0;
}

int lx_view_load_age(lx_view_t *v, lx_order_id_t id) {
    slot_t *sl = v ? map_find(&v->orders, id) : NULL;
    if (!sl) return LX_ENOENT;
    sl->u.o.age = ++v->age;
    return 0;
}

int64_t lx_view_market_ts(const lx_view_t *v, lx_market_id_t m) {
    return v && m < v->max_markets ? v->m[m].ts : 0;
}

uint64_t lx_view_market_seq(const lx_view_t *v, lx_market_id_t m) {
    return v && m < v->max_markets ? v->m[m].seq : 0;
}

size_t lx_view_levels(const lx_view_t *v, lx_market_id_t m, uint8_t side, lx_view_level_t *out,
                      size_t n) {
    if (!v || m >= v->max_markets || side > 1) return 0;
    const side_t *s = &v->m[m].side[side];
    if (n > s->n) n = s->n;
    if (n) memcpy(out, s->lv, n * sizeof *out);
    return n;
}

size_t lx_view_depth(const lx_view_t *v, lx_market_id_t m, uint8_t side) {
    return v && m < v->max_markets && side <= 1 ? v->m[m].side[side].n : 0;
}

int lx_view_best(const lx_view_t *v, lx_market_id_t m, uint8_t side, lx_view_level_t *out) {
    return lx_view_levels(v, m, side, out, 1) == 1;
}

size_t lx_view_trades(const lx_view_t *v, lx_market_id_t m, lx_view_trade_t *out, size_t n) {
    if (!v || m >= v->max_markets) return 0;
    const market_t *mk = &v->m[m];
    if (n > mk->t_n) n = mk->t_n;
    for (size_t i = 0; i < n; i++)
        out[i] = mk->trades[(mk->t_head + LX_VIEW_TRADES - 1 - i) % LX_VIEW_TRADES];
    return n;
}

uint32_t lx_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t crc_level(uint32_t crc, const lx_view_level_t *l) {
    uint8_t b[16];
    uint64_t x[2] = {(uint64_t)l->price, (uint64_t)l->qty};
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 8; i++) b[j * 8 + i] = (uint8_t)(x[j] >> (8 * i));
    return lx_crc32(crc, b, sizeof b);
}

uint32_t lx_view_checksum_levels(const lx_view_level_t *bids, size_t nb,
                                 const lx_view_level_t *asks, size_t na) {
    uint32_t crc = 0;
    for (size_t i = 0; i < LX_VIEW_CRC_DEPTH; i++) {
        if (i < nb) crc = crc_level(crc, &bids[i]);
        if (i < na) crc = crc_level(crc, &asks[i]);
    }
    return crc;
}

uint32_t lx_view_checksum(const lx_view_t *v, lx_market_id_t m) {
    lx_view_level_t b[LX_VIEW_CRC_DEPTH], a[LX_VIEW_CRC_DEPTH];
    size_t nb = lx_view_levels(v, m, 0, b, LX_VIEW_CRC_DEPTH);
    size_t na = lx_view_levels(v, m, 1, a, LX_VIEW_CRC_DEPTH);
    return lx_view_checksum_levels(b, nb, a, na);
}

int lx_view_delta(const lx_event_t *ev, lx_view_delta_t *out) {
    if (!ev || ev->type != LX_EV_BOOK_LEVEL || ev->market == LX_MARKET_NONE) return 0;
    *out = (lx_view_delta_t){.market = ev->market,
                             .market_seq = ev->market_seq,
                             .side = ev->u.level.side,
                             .price = ev->u.level.price,
                             .qty = ev->u.level.qty,
                             .count = ev->u.level.count};
    return 1;
}
