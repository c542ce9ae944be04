/*
 * snapshot.c: the engine's state as a canonical byte image, and back.
 *
 * lx_engine_save() walks the same state lx_engine_digest() covers and writes
 * it in the order below; lx_engine_load() rebuilds it through the same
 * internal operations the matching path uses (slot claim, level get, book
 * append, account link, index insert), so a loaded engine is built by the
 * code that the tests already trust, then checked by lx_engine_validate()
 * and by the digest stored at the end of the image.
 *
 * Format, version 6. All integers little-endian; i64 two's complement.
 *
 *   offset  size  field
 *   0       4     magic "LXEN" (0x4c 0x58 0x45 0x4e)
 *   4       4     version (6)
 *   8       4     max_markets
 *   12      4     max_assets
 *   16      4     max_accounts
 *   20      4     max_orders
 *   24      4     max_open_orders_per_account
 *   28      4     clearing (0 or 1)
 *   32      8     last_seq
 *   40      8     last_ts
 *   48      8     deadman_min_lead_ns (i64, > 0: the effective value)
 *   56      4     max_agents_per_account (> 0: the effective value)
 *   60      4     fee_account (zero before version 4)
 *   64      4     rules (LX_RULES_*, >= 1: the effective value)
 *   68      4     zero
 *   72      8     check: lx__fmix64 chain over the 72 bytes above (a
 *                 damaged configuration is refused before anything is
 *                 allocated for it)
 *   80      ...   sections, in this order, each starting with a u32 count:
 *
 *   assets    count x 48: u32 id, 16 bytes symbol, i64 scale, i64 supply,
 *             i64 fees (collected since genesis); ids strictly increasing
 *   markets   count x market; ids strictly increasing. A market is 88
 *             bytes: u32 id, u32 base, u32 quote, u8 mode, u8 halted,
 *             2 bytes zero, i64 tick_size, i64 lot_size, i64 min_price,
 *             i64 max_price, i64 max_qty, i32 maker_fee, i32 taker_fee,
 *             u64 market_seq, i64 last_price, i64 last_ts (the ts of the
 *             market's last event); then, for the
 *             buy side and then the sell side: u32 level count, then each
 *             level from the worst price to the best: i64 price, u32 order
 *             count, then its orders in time priority, 48 bytes each:
 *             u32 slot, u32 generation, i64 remaining, i64 filled,
 *             u64 client_id, i64 expiry, u32 account, u32 flags
 *             (bit 0 side, 1 type, 2-4 tif, 5-7 stp, 8-31 fee reserve)
 *   accounts  count x (u32 account, u32 n, n x u32 slot): the open orders
 *             of every account that has any, oldest first; accounts
 *             strictly increasing
 *   balances  count x 24: u32 account, u32 asset, i64 free, i64 locked, in
 *             creation order
 *   deposits  count x u64 deposit id, in application order
 *   slots     count (= 1 + highest slot ever used) x u32 generation
 *   gtd       count x 24: i64 expiry, u64 accept seq, u64 order id, in
 *             (expiry, seq) order: every resting GTD order once
 *   deadman   count x 12: u32 account, i64 deadline (> 0), the armed dead
 *             man's switches in (deadline, account) order
 *   keys      count x 80: key[32], u32 account, u32 role (1 owner, 2 agent,
 *             3 revoked), u64 last nonce, i64 expiry, 16 bytes name, u64
 *             last nonce of the commands every shard applies; in the order
 *             of the engine's key table (identity.c); role 3 only under
 *             rules 1 and 2
 *   floors    count x 260: u32 account, then for each of the 16 key slots
 *             (lx_nonce_floor_slot) u64 nonce floor, u64 nonce floor of
 *             the commands every shard applies; in creation order, one an
 *             account at most, none under rules 1 and 2 (identity.c)
 *   trailer   u64 lx_engine_digest() of the state
 *
 * Version 2 is read too: its markets have 8 zero bytes where last_ts is
 * (no time then), its keys are 72 bytes (one nonce, which becomes both:
 * every nonce used so far is refused in both kinds), and its trailer is
 * the digest of its day (lx__digest(e, 2)). So a node upgraded over a
 * data directory recovers from its snapshots. Versions 2 and 3 have no
 * fee account: their fees were a pool of each asset, in no balance, and
 * their digest hashed the balances in creation order. Such an image is
 * checked against its trailer as written, then its pools are paid to
 * account 0, the fee account it had (fee_pools_to_account), so that the
 * loaded state is the one a replay of its log gives today.
 *
 * Versions 2 to 4 have a 64-byte header (no rules and no zero word: the
 * check at 64, the sections at 72) and ran the first rules (LX_RULES_1),
 * which their engine keeps; their digest has no rules version. Version 5
 * has no floors section (it ran rules 1 or 2, which have no floors); its
 * digest is today's for such an engine.
 *
 * Version 1 (before the dead man's switches and keys) is no longer read
 * (LX_EVERSION): its trailer is the digest of its day, which the digest
 * has outgrown, so no v1 image could pass the check below; recovery then
 * skips such a snapshot and replays the journal.
 *
 * Validity: every count and id within the configuration; levels strictly
 * ascending by key (price for bids, -price for asks); no slot twice; every
 * resting order in exactly one account list; the final digest equal to the
 * trailer. Anything else is LX_ECORRUPT and no engine is returned; an
 * allocation that fails is LX_ENOMEM (the image may be fine: recovery
 * stops instead of skipping it as invalid).
 */
#include <stdlib.h>
#include "accounts.h"
#include "book.h"
#include "lx/codec.h"
#include "lx/snapshot.h"

/* The snapshot's order of GTD entries: (expiry, accept seq), unique for
 * the orders of one engine (a command accepts one order at most); the
 * slot breaks ties all the same, so the bytes never depend on the heap. */
static int gtd_cmp(const void *a, const void *b) {
    const lx__gtd_t *x = a, *y = b;
    if (x->expiry != y->expiry) return x->expiry < y->expiry ? -1 : 1;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

#define SNAP_MAGIC 0x4e45584cu /* "LXEN" little-endian */
#define HEADER_LEN 72          /* versions 5 and 6 */
#define HEADER_LEN_V4 64       /* versions 2 to 4: no rules version */

uint64_t lx__image_header_check(const uint8_t *h, int len) {
    uint64_t x = 0x6865616465720001ULL;
    for (int i = 0; i < len; i += 8) x = lx__fmix64(x ^ lx_get_u64(h + i));
    return x;
}

/* ---- buffered writer ---------------------------------------------------- */

typedef struct {
    lx_write_fn write;
    void *ctx;
    uint8_t buf[1 << 16];
    size_t n;
    int err;
} wr_t;

static void wr_flush(wr_t *w) {
    if (w->n && !w->err) w->err = w->write(w->ctx, w->buf, w->n);
    w->n = 0;
}

static uint8_t *wr_room(wr_t *w, size_t len) {
    if (w->n + len > sizeof w->buf) wr_flush(w);
    uint8_t *p = w->buf + w->n;
    w->n += len;
    return p;
}

static void w32(wr_t *w, uint32_t v) {
    lx_put_u32(wr_room(w, 4), v);
}
static void w64(wr_t *w, uint64_t v) {
    lx_put_u64(wr_room(w, 8), v);
}

static uint32_t order_flags(const lx__order_t *o) {
    return o->side | o->type << 1 | o->tif << 2 | o->stp << 5 | (uint32_t)o->fee_res << 8;
}

/* A live level: price, count, then each order in FIFO order. */
static void w_level(wr_t *w, const lx_engine_t *e, const lx__level_t *l) {
    w64(w, (uint64_t)l->price);
    w32(w, l->count);
    for (uint32_t cur = l->head; cur != LX__NIL; cur = e->orders[cur].next) {
        const lx__order_t *o = &e->orders[cur];
        w32(w, cur);
        w32(w, o->gen);
        w64(w, (uint64_t)o->remaining);
        w64(w, (uint64_t)o->filled);
        w64(w, o->client_id);
        w64(w, (uint64_t)lx__gtd_expiry(e, cur));
        w32(w, o->account);
        w32(w, order_flags(o));
    }
}

int lx_engine_save(const lx_engine_t *e, lx_write_fn write, void *ctx) {
    if (!e || !write) return LX_EINVAL;
    wr_t *w = malloc(sizeof *w);
    if (!w) return LX_ENOMEM;
    w->write = write;
    w->ctx = ctx;
    w->n = 0;
    w->err = 0;
    const lx_engine_config_t *c = &e->cfg;
    w32(w, SNAP_MAGIC);
    w32(w, LX_SNAPSHOT_VERSION);
    w32(w, c->max_markets);
    w32(w, c->max_assets);
    w32(w, c->max_accounts);
    w32(w, c->max_orders);
    w32(w, c->max_open_orders_per_account);
    w32(w, c->clearing ? 1 : 0);
    w64(w, e->last_seq);
    w64(w, (uint64_t)e->last_ts);
    w64(w, (uint64_t)c->deadman_min_lead_ns);
    w32(w, c->max_agents_per_account);
    w32(w, c->fee_account);
    w32(w, c->rules);
    w32(w, 0);
    w64(w, lx__image_header_check(w->buf, HEADER_LEN)); /* the header is the first 72 bytes */

    w32(w, e->nassets);
    for (uint32_t a = 0; a < c->max_assets; a++) {
        const lx__asset_t *as = &e->assets[a];
        if (!as->exists) continue;
        w32(w, a);
        memcpy(wr_room(w, 16), as->symbol, 16);
        w64(w, (uint64_t)as->scale);
        w64(w, (uint64_t)as->supply);
        w64(w, (uint64_t)as->fees);
    }

    w32(w, e->nmarkets);
    for (uint32_t i = 0; i < c->max_markets; i++) {
        const lx__market_t *m = &e->markets[i];
        if (!m->exists) continue;
        w32(w, i);
        w32(w, m->base);
        w32(w, m->quote);
        uint8_t *p = wr_room(w, 4);
        p[0] = m->mode;
        p[1] = m->halted;
        p[2] = p[3] = 0;
        w64(w, (uint64_t)e->tick_size[i]);
        w64(w, (uint64_t)m->lot_size);
        w64(w, (uint64_t)m->min_price);
        w64(w, (uint64_t)m->max_price);
        w64(w, (uint64_t)m->max_qty);
        w32(w, (uint32_t)m->maker_fee);
        w32(w, (uint32_t)m->taker_fee);
        w64(w, m->seq);
        w64(w, (uint64_t)m->last_price);
        w64(w, (uint64_t)m->last_ts);
        for (int side = 0; side < 2; side++) {
            const lx__side_t *s = &m->side[side];
            w32(w, s->live);
            for (uint32_t j = 0, nseg = lx__side_nseg(e, s); j < nseg; j++) {
                const uint32_t *lv;
                uint32_t nk = lx__side_seg(e, s, j, NULL, &lv);
                for (uint32_t k = 0; k < nk; k++)
                    if (e->levels[lv[k]].count) w_level(w, e, &e->levels[lv[k]]);
            }
            const lx__lad_t *d = lx__lad(e, m, side); /* above every segment's keys */
            for (uint32_t q = d ? lx__lad_from(d, 0) : LX__LAD_W; q < LX__LAD_W;
                 q = lx__lad_from(d, q + 1))
                w_level(w, e, &e->levels[d->lv[q]]);
        }
    }

    uint32_t nacc = 0;
    for (uint32_t a = 0; a < c->max_accounts; a++) nacc += e->accounts[a].norders > 0;
    w32(w, nacc);
    for (uint32_t a = 0; a < c->max_accounts; a++) {
        const lx__account_t *ac = &e->accounts[a];
        if (ac->norders == 0) continue;
        w32(w, a);
        w32(w, ac->norders);
        for (uint32_t cur = ac->head; cur != LX__NIL; cur = e->orders[cur].acct_next) w32(w, cur);
    }

    w32(w, e->nbalances);
    for (uint32_t i = 0; i < e->nbalances; i++) {
        const lx__balance_t *b = &e->balances[i];
        w32(w, b->account);
        w32(w, b->asset);
        w64(w, (uint64_t)b->free);
        w64(w, (uint64_t)b->locked);
    }
    w32(w, e->ndeposits);
    for (uint32_t i = 0; i < e->ndeposits; i++) w64(w, e->deposit_ids[i]);
    w32(w, e->slot_hwm);
    for (uint32_t i = 0; i < e->slot_hwm; i++) w32(w, e->orders[i].gen);

    /* the GTD entries in (expiry, seq) order: a sorted copy of the heap */
    lx__gtd_t *g = malloc(((size_t)e->ngtd + 1) * sizeof *g);
    if (!g) {
        free(w);
        return LX_ENOMEM;
    }
    if (e->ngtd) memcpy(g, e->gtd, (size_t)e->ngtd * sizeof *g);
    qsort(g, e->ngtd, sizeof *g, gtd_cmp);
    w32(w, e->ngtd);
    for (uint32_t i = 0; i < e->ngtd; i++) {
        w64(w, (uint64_t)g[i].expiry);
        w64(w, g[i].seq);
        w64(w, lx__order_id(g[i].slot, e->orders[g[i].slot].gen));
    }
    free(g);

    /* armed switches in (deadline, account) order: a sorted copy of the heap */
    lx__dms_t *d = malloc(((size_t)e->ndms + 1) * sizeof *d);
    if (!d) {
        free(w);
        return LX_ENOMEM;
    }
    if (e->ndms) memcpy(d, e->dms, (size_t)e->ndms * sizeof *d);
    for (uint32_t i = 1; i < e->ndms; i++) {
        lx__dms_t x = d[i];
        uint32_t j = i;
        while (j > 0 && lx__dms_less(&x, &d[j - 1])) {
            d[j] = d[j - 1];
            j--;
        }
        d[j] = x;
    }
    w32(w, e->ndms);
    for (uint32_t i = 0; i < e->ndms; i++) {
        w32(w, d[i].account);
        w64(w, (uint64_t)d[i].deadline);
    }
    free(d);
    w32(w, e->nkeys);
    for (uint32_t i = 0; i < e->nkeys; i++) {
        const lx__key_t *k = &e->keys[i];
        memcpy(wr_room(w, 32), k->key, 32);
        w32(w, k->account);
        w32(w, k->role);
        w64(w, k->nonce);
        w64(w, (uint64_t)k->expiry);
        memcpy(wr_room(w, 16), k->name, 16);
        w64(w, k->nonce_all);
    }
    w32(w, e->nfloors);
    for (uint32_t i = 0; i < e->nfloors; i++) {
        w32(w, e->floors[i].account);
        for (uint32_t j = 0; j < LX_NONCE_FLOOR_SLOTS; j++) {
            w64(w, e->floors[i].nonce[j]);
            w64(w, e->floors[i].nonce_all[j]);
        }
    }
    w64(w, lx_engine_digest(e));
    wr_flush(w);
    int rc = w->err;
    free(w);
    return rc;
}

/* ---- loader ------------------------------------------------------------- */

typedef struct {
    lx_read_fn read;
    void *ctx;
    int err;
} rd_t;

static bool rd(rd_t *r, void *buf, size_t len) {
    if (r->err) return false;
    int rc = r->read(r->ctx, buf, len);
    if (rc) r->err = rc;
    return rc == 0;
}

static uint32_t r32(rd_t *r) {
    uint8_t b[4] = {0};
    rd(r, b, 4);
    return lx_get_u32(b);
}

static uint64_t r64(rd_t *r) {
    uint8_t b[8] = {0};
    rd(r, b, 8);
    return lx_get_u64(b);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (r.err) goto fail;                                                                      \
        if (!(cond)) {                                                                             \
            r.err = LX_ECORRUPT;                                                                   \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* An allocation the load needs (0 or LX_ENOMEM; any other code as it is):
 * running out of memory is not the image's fault, and recovery tells the
 * two apart (it skips an LX_ECORRUPT snapshot as invalid). */
#define NEED(call)                                                                                 \
    do {                                                                                           \
        if (r.err) goto fail;                                                                      \
        int need_rc_ = (call);                                                                     \
        if (need_rc_) {                                                                            \
            r.err = need_rc_;                                                                      \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* An image before version 4 kept the fees in a pool of each asset, owned
 * by no account: with clearing they become the fee account's (account 0
 * then), and every asset gets its record, as CREATE_ASSET makes it now.
 * The pool's total stays as the asset's statistic. */
static int fee_pools_to_account(lx_engine_t *e) {
    if (!e->cfg.clearing) return 0;
    for (uint32_t a = 0; a < e->cfg.max_assets; a++) {
        lx__asset_t *as = &e->assets[a];
        if (!as->exists) continue;
        if (as->fees < 0) return LX_ECORRUPT; /* validate's rule then */
        int rc = lx__bal_reserve(e, 1);
        if (rc) return rc;
        lx__fee_bal_link(e, a);
        lx__balance_t *b = &e->balances[as->fee_bal - 1];
        if (b->free > INT64_MAX - as->fees) return LX_ECORRUPT;
        b->free += as->fees;
    }
    return 0;
}

int lx_engine_load(lx_engine_t **out, lx_read_fn read, void *ctx) {
    if (!out || !read) return LX_EINVAL;
    *out = NULL;
    rd_t r = {read, ctx, 0};
    lx_engine_t *e = NULL;
    uint8_t *linked = NULL;

    uint8_t h[HEADER_LEN + 8];
    if (!rd(&r, h, 8)) return r.err;
    CHECK(lx_get_u32(h) == SNAP_MAGIC);
    uint32_t version = lx_get_u32(h + 4);
    if (version < 2 || version > LX_SNAPSHOT_VERSION) return LX_EVERSION;
    int hlen = version >= 5 ? HEADER_LEN : HEADER_LEN_V4;
    if (!rd(&r, h + 8, (size_t)hlen)) return r.err;
    CHECK(lx_get_u64(h + hlen) == lx__image_header_check(h, hlen));
    lx_engine_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_markets = lx_get_u32(h + 8);
    cfg.max_assets = lx_get_u32(h + 12);
    cfg.max_accounts = lx_get_u32(h + 16);
    cfg.max_orders = lx_get_u32(h + 20);
    cfg.max_open_orders_per_account = lx_get_u32(h + 24);
    uint32_t clearing = lx_get_u32(h + 28);
    CHECK(clearing <= 1);
    cfg.clearing = clearing;
    cfg.deadman_min_lead_ns = (int64_t)lx_get_u64(h + 48);
    cfg.max_agents_per_account = lx_get_u32(h + 56);
    cfg.fee_account = lx_get_u32(h + 60); /* zero before version 4: account 0 */
    /* an image before version 5 ran the first rules */
    cfg.rules = version >= 5 ? lx_get_u32(h + 64) : LX_RULES_1;
    CHECK(cfg.deadman_min_lead_ns > 0 && cfg.max_agents_per_account > 0 &&
          (version >= 4 || cfg.fee_account == 0) && cfg.rules >= LX_RULES_1 &&
          cfg.rules <= LX_RULES_LATEST && (version < 5 || lx_get_u32(h + 68) == 0) &&
          (version >= 6 || cfg.rules < LX_RULES_3));
    int rc = lx_engine_create(&e, &cfg);
    if (rc) {
        r.err = rc == LX_EINVAL ? LX_ECORRUPT : rc;
        goto fail;
    }
    linked = calloc(((size_t)cfg.max_orders + 7) / 8, 1);
    NEED(linked ? 0 : LX_ENOMEM);
    e->last_seq = lx_get_u64(h + 32);
    e->last_ts = (int64_t)lx_get_u64(h + 40);

    uint32_t n = r32(&r);
    CHECK(n <= cfg.max_assets);
    for (uint32_t i = 0, prev = 0; i < n; i++) {
        uint32_t a = r32(&r);
        CHECK(a < cfg.max_assets && (i == 0 || a > prev));
        prev = a;
        lx__asset_t *as = &e->assets[a];
        rd(&r, as->symbol, 16);
        as->scale = (int64_t)r64(&r);
        as->supply = (int64_t)r64(&r);
        as->fees = (int64_t)r64(&r);
        CHECK(as->scale >= 1);
        as->exists = 1;
        e->nassets++;
    }

    n = r32(&r);
    CHECK(n <= cfg.max_markets);
    for (uint32_t i = 0, prev = 0; i < n; i++) {
        uint32_t id = r32(&r);
        CHECK(id < cfg.max_markets && (i == 0 || id > prev));
        prev = id;
        lx__market_t *m = &e->markets[id];
        m->base = r32(&r);
        m->quote = r32(&r);
        uint8_t b4[4] = {0};
        rd(&r, b4, 4);
        m->mode = b4[0];
        m->halted = b4[1];
        int64_t tick_size = e->tick_size[id] = (int64_t)r64(&r);
        m->lot_size = (int64_t)r64(&r);
        m->min_price = (int64_t)r64(&r);
        m->max_price = (int64_t)r64(&r);
        m->max_qty = (int64_t)r64(&r);
        m->maker_fee = (int32_t)r32(&r);
        m->taker_fee = (int32_t)r32(&r);
        m->seq = r64(&r);
        m->last_price = (int64_t)r64(&r);
        m->last_ts = (int64_t)r64(&r); /* version 2: zero */
        CHECK(m->last_ts >= 0 && (m->seq > 0 || m->last_ts == 0) &&
              (version >= 3 || m->last_ts == 0));
        CHECK(b4[2] == 0 && b4[3] == 0 && m->mode <= LX_MODE_BATCH && m->halted <= 1);
        CHECK(m->base < cfg.max_assets && e->assets[m->base].exists && m->quote < cfg.max_assets &&
              e->assets[m->quote].exists && m->base != m->quote);
        CHECK(tick_size >= 1 && m->lot_size >= 1 && m->min_price >= 1 &&
              m->max_price >= m->min_price && m->max_qty >= 1 && m->max_qty <= LX_QTY_MAX);
        lx__i128 prod = (lx__i128)tick_size * m->lot_size;
        int64_t scale = e->assets[m->base].scale;
        CHECK(prod % scale == 0 && prod / scale >= 1 && prod / scale <= INT64_MAX);
        m->tick_value = (int64_t)(prod / scale);
        lx__market_bounds(m);
        m->exists = 1;
        e->nmarkets++;
        for (int side = 0; side < 2; side++) {
            uint32_t nl = r32(&r);
            CHECK(nl <= cfg.max_orders);
            int64_t prev_key = INT64_MIN;
            for (uint32_t k = 0; k < nl; k++) {
                int64_t price = (int64_t)r64(&r);
                uint32_t cnt = r32(&r);
                CHECK(price >= m->min_price && price <= m->max_price && cnt >= 1 &&
                      cnt <= cfg.max_orders);
                int64_t key = lx__key(side, price);
                CHECK(k == 0 || key > prev_key);
                prev_key = key;
                NEED(lx__book_reserve(e, m, side, price));
                uint32_t l = lx__book_level_get(e, m, id, side, price);
                NEED(l != LX__NIL ? 0 : LX_ENOMEM);
                for (uint32_t j = 0; j < cnt; j++) {
                    uint8_t rec[48];
                    if (!rd(&r, rec, sizeof rec)) goto fail;
                    uint32_t slot = lx_get_u32(rec), gen = lx_get_u32(rec + 4);
                    uint32_t flags = lx_get_u32(rec + 44);
                    CHECK(lx__slot_claim(e, slot) == 0 && gen >= 1);
                    lx__order_t *o = &e->orders[slot];
                    o->gen = gen;
                    int64_t rem = (int64_t)lx_get_u64(rec + 8);
                    int64_t fil = (int64_t)lx_get_u64(rec + 16);
                    int64_t expiry = (int64_t)lx_get_u64(rec + 32);
                    CHECK(rem > 0 && fil >= 0 && (lx__i128)rem + fil <= m->max_qty &&
                          lx__amounts_fit(m, price, rem + fil));
                    o->remaining = (uint32_t)rem; /* max_qty <= LX_QTY_MAX */
                    o->filled = (uint32_t)fil;
                    o->client_id = lx_get_u64(rec + 24);
                    o->account = lx_get_u32(rec + 40);
                    o->side = flags & 1;
                    o->type = (flags >> 1) & 1;
                    o->tif = (flags >> 2) & 7;
                    o->stp = (flags >> 5) & 7;
                    o->fee_res = flags >> 8;
                    CHECK((int)o->side == side && o->tif <= LX_TIF_POST_ONLY &&
                          o->stp <= LX_STP_DECREMENT && o->fee_res <= LX_FEE_RATE_MAX);
                    CHECK(o->account < cfg.max_accounts);
                    CHECK(o->tif == LX_TIF_GTD ? expiry > 0 : expiry == 0);
                    if (o->tif == LX_TIF_GTD) {
                        NEED(lx__gtd_reserve(e));
                        lx__gtd_set(e, slot, expiry);
                    }
                    o->acct_next = o->acct_prev = LX__NIL;
                    lx__book_append(e, l, slot);
                    if (o->client_id) {
                        CHECK(lx__cid_find(e, o->account, o->client_id) == LX__NIL);
                        NEED(lx__cid_reserve(e));
                        lx__cid_insert(e, slot);
                    }
                }
            }
        }
    }

    n = r32(&r);
    CHECK(n <= cfg.max_accounts);
    for (uint32_t i = 0, prev = 0; i < n; i++) {
        uint32_t a = r32(&r), cnt = r32(&r);
        CHECK(a < cfg.max_accounts && (i == 0 || a > prev) && cnt >= 1 && cnt <= e->norders);
        prev = a;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t slot = r32(&r);
            CHECK(slot < cfg.max_orders && lx__slot_used(e, slot) && e->orders[slot].account == a &&
                  !(linked[slot / 8] & (1u << (slot % 8))));
            linked[slot / 8] |= (uint8_t)(1u << (slot % 8));
            lx__acct_link(e, slot);
        }
    }

    n = r32(&r);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = r32(&r), asset = r32(&r);
        int64_t fr = (int64_t)r64(&r), lk = (int64_t)r64(&r);
        CHECK(a < cfg.max_accounts && asset < cfg.max_assets && fr >= 0 && lk >= 0);
        CHECK(lx__bal_find(e, a, asset) == NULL);
        NEED(lx__bal_reserve(e, 1));
        lx__balance_t *b = lx__bal_get(e, a, asset, true);
        b->free = fr;
        b->locked = lk;
    }
    n = r32(&r);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = r64(&r);
        CHECK(!lx__deposit_seen(e, id));
        NEED(lx__deposit_reserve(e));
        lx__deposit_add(e, id);
    }
    n = r32(&r);
    CHECK(n <= cfg.max_orders && n >= e->slot_hwm);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t gen = r32(&r);
        bool used = lx__slot_used(e, i);
        CHECK(!used || e->orders[i].gen == gen);
        e->orders[i].gen = gen;
        /* a free slot with a generation must not look like a resting order
         * to an id lookup (a stale id names it) */
        if (!used) e->orders[i].level = LX__NIL;
    }
    e->slot_hwm = n;
    n = r32(&r);
    CHECK(n <= e->norders);
    lx__gtd_t prev_gtd = {0};
    for (uint32_t i = 0; i < n; i++) {
        int64_t expiry = (int64_t)r64(&r);
        uint64_t seq = r64(&r), id = r64(&r);
        /* strictly ascending, as lx_engine_save writes them */
        lx__gtd_t cur = {expiry, seq, (uint32_t)id, 0};
        CHECK(i == 0 || gtd_cmp(&prev_gtd, &cur) < 0);
        prev_gtd = cur;
        uint32_t slot = (uint32_t)id;
        CHECK(slot < cfg.max_orders && lx__slot_used(e, slot) &&
              e->orders[slot].gen == (uint32_t)(id >> 32) && e->orders[slot].tif == LX_TIF_GTD);
        uint32_t xi = lx__gtd_find(e, slot);
        /* each resting GTD order listed once, with its own expiry */
        CHECK(xi != LX__NIL && e->gtx[xi].expiry == expiry && e->gtx[xi].hpos == LX__NIL);
        NEED(lx__gtd_reserve(e));
        lx__gtd_push(e, xi, seq);
    }
    CHECK(e->ngtd == e->ngtx); /* and none left out */
    n = r32(&r);
    CHECK(n <= cfg.max_accounts);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = r32(&r);
        int64_t deadline = (int64_t)r64(&r);
        CHECK(a < cfg.max_accounts && deadline > 0 && !e->ident[a].dms);
        NEED(lx__dms_reserve(e));
        lx__dms_set(e, a, deadline);
    }
    n = r32(&r);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t rec[80];
        if (!rd(&r, rec, version >= 3 ? 80 : 72)) goto fail;
        uint32_t a = lx_get_u32(rec + 32), role = lx_get_u32(rec + 36);
        CHECK(a < cfg.max_accounts && role >= LX_KEY_OWNER &&
              role <= (cfg.rules < LX_RULES_3 ? LX_KEY_REVOKED : LX_KEY_AGENT));
        CHECK(lx__key_find(e, rec) == LX__NIL);
        NEED(lx__key_reserve(e));
        CHECK(role != LX_KEY_OWNER || !e->ident[a].owner);
        uint32_t k = lx__key_add(e, rec, a, role);
        e->keys[k].nonce = lx_get_u64(rec + 40);
        e->keys[k].expiry = (int64_t)lx_get_u64(rec + 48);
        memcpy(e->keys[k].name, rec + 56, 16);
        e->keys[k].nonce_all = version >= 3 ? lx_get_u64(rec + 72) : e->keys[k].nonce;
    }
    n = version >= 6 ? r32(&r) : 0;
    CHECK(n <= cfg.max_accounts && (n == 0 || cfg.rules >= LX_RULES_3));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = r32(&r);
        CHECK(a < cfg.max_accounts && !e->ident[a].floor);
        NEED(lx__floor_reserve(e));
        for (uint32_t j = 0; j < LX_NONCE_FLOOR_SLOTS; j++) {
            uint64_t nonce = r64(&r), nonce_all = r64(&r);
            lx__floor_raise(e, a, j, nonce, nonce_all); /* a short read: r.err, checked next */
        }
    }
    uint64_t digest = r64(&r);
    if (version < 4) { /* checked as it was written, then moved to today's form */
        CHECK(lx__digest(e, version) == digest);
        int mrc = fee_pools_to_account(e);
        if (mrc) {
            r.err = mrc; /* LX_ENOMEM is not the image's fault */
            goto fail;
        }
    } else if (cfg.clearing) {
        for (uint32_t a = 0; a < cfg.max_assets; a++)
            if (e->assets[a].exists) {
                CHECK(lx__bal_find(e, cfg.fee_account, a) != NULL);
                lx__fee_bal_link(e, a);
            }
    }
    int vrc = lx_engine_validate(e, NULL, 0);
    NEED(vrc == LX_ENOMEM ? vrc : 0);
    CHECK(vrc == 0 && (version < 4 || lx__digest(e, version) == digest));
    free(linked);
    *out = e;
    return 0;
fail:
    free(linked);
    lx_engine_destroy(e);
    return r.err ? r.err : LX_ECORRUPT;
}
