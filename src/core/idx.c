/*
 * idx.c: allocation, growth and the deep check of the hash index.
 *
 * The layout, the probing code and the hash (lx__hash2) are inline in
 * idx.h; here are the constructor, the destructor, growing, and
 * lx__idx_validate. A table starts with the fewest buckets (at least 2)
 * that hold `cap` entries within the load bound, so an owner that knows its
 * size never grows. The owner passes the function that gives the hash of
 * the key a value names (the table keeps 8 bits of it; growing needs the
 * rest) and its first argument, normally the engine.
 *
 * Growing is spread over the commands that follow, so that no command pays
 * for the whole table. It used to rebuild the table in the command that
 * crossed the load bound: with the client-id index at 2.3 and 3.5 million
 * resting orders, that place took 112 and 172 ms, every earlier growth in
 * proportion. Now growth allocates the new table (calloc: large tables
 * come untouched, so not even zeroing is paid at once) and keeps the old
 * one beside it; every reserve then moves one bucket of the old table
 * (about 8 entries, one owner hash each) into the new one. Meanwhile
 * inserts go to the new table, a lookup that misses there looks in the old
 * one, and a removal from the old one only clears the entry and its over
 * counts (no shift: that table only empties).
 *
 * The old table is moved from its last bucket down, and its memory given
 * back behind the moving point, LX__IDX_GIVE_BACK buckets at a time, by a
 * realloc that shrinks it in place: freeing it whole at the end cost up to
 * 1 ms at 4 million entries (unmapping 27 MB), a step costs what 256 KiB
 * does. For that, no entry of the old table may lie before its home (past
 * the end, wrapped around to the first buckets): those few are moved when
 * growth starts. Then every entry of the old table lies in [0, oleft), at
 * or after its home, and its over counts stay exact, so a lookup in it
 * starts at its home (none if that is at or past oleft) and stops at
 * oleft at the latest, never reading memory given back.
 *
 * A host that commits its memory at start (lxdexd: lx_engine_reserve)
 * reserves the client-id index's growth with lx__idx_presize: one
 * allocation, mapped at start, holding two regions, one for the largest
 * table the reserve allows and one for the table before it; from the first
 * growth on, the tables take the two regions in turn, so growing allocates
 * nothing and faults in no page. The table itself keeps the size its
 * entries need. It used to be grown to the reserved size at once, and a
 * table sized for 1,048,576 entries that held the few thousand of a
 * single-market book spread them over 12 MB, a cache miss for every
 * lookup: the swing and realistic workloads ran at about half their speed
 * (swing 5.6-8.1 and realistic 6.3-8.7 M msgs/s against 12.3-12.4 and
 * 15.4-15.7; lxdex-bench --prefault, BENCHMARKS.md 7126398).
 * A region must be zero when a table takes it: untouched memory is, and
 * the move clears every bucket it leaves.
 *
 * Why one bucket per reserve is enough: growth starts when the table is
 * 11/16 full, about 8.25 entries per bucket, and the new table has half as
 * many buckets again, so the next growth needs about 4 inserts per old
 * bucket, each after a reserve: the move is finished long before. (If a
 * growth is ever asked for while one is in progress, the rest of the move
 * is done then, so the invariant holds either way.)
 */
#include <stdlib.h>
#include "idx.h"

/* A zeroed table of nb buckets, 64-aligned, in *mem (to free); NULL if out
 * of memory. Large tables come from calloc untouched: their pages are
 * mapped as the table fills, not all at once. */
static lx__idx_bucket_t *idx_alloc(uint32_t nb, void **mem) {
    unsigned char *p = calloc((size_t)nb + 1, sizeof(lx__idx_bucket_t));
    *mem = p;
    if (!p) return NULL;
    uintptr_t a = ((uintptr_t)p + 63) & ~(uintptr_t)63;
    return (lx__idx_bucket_t *)(void *)(p + (a - (uintptr_t)p));
}

int lx__idx_init(lx__idx_t *t, uint32_t cap, lx__idx_hash_fn hash, const void *ctx) {
    uint64_t per = (uint64_t)LX__IDX_B * LX__IDX_LOAD_NUM; /* entries in DEN buckets */
    uint64_t nb = ((uint64_t)cap * LX__IDX_LOAD_DEN + per - 1) / per;
    if (nb < 2) nb = 2;
    memset(t, 0, sizeof *t);
    t->hash = hash;
    t->ctx = ctx;
    if (nb > LX__IDX_MAX_NB || !(t->bkt = idx_alloc((uint32_t)nb, &t->mem))) {
        t->bkt = NULL;
        return LX_ENOMEM;
    }
    t->nb = (uint32_t)nb;
    return 0;
}

void lx__idx_free(lx__idx_t *t) {
    free(t->mem);
    free(t->old_mem);
    free(t->arena);
    t->bkt = t->old = NULL;
    t->mem = t->old_mem = t->arena = NULL;
    t->reg[0] = t->reg[1] = NULL;
    t->nb = t->onb = t->oleft = t->ocap = t->reg_nb[0] = t->reg_nb[1] = 0;
    t->count = 0;
}

int lx__idx_rehashed(const lx__idx_t *t, lx__idx_t *out) {
    int rc = lx__idx_init(out, t->count + 1, t->hash, t->ctx);
    for (int pass = 0; !rc && pass < 2; pass++) {
        /* the table, then what the table being moved still holds */
        const lx__idx_bucket_t *bkt = pass ? t->old : t->bkt;
        uint32_t nb = pass ? (t->old ? t->oleft : 0) : t->nb;
        for (uint32_t b = 0; !rc && b < nb; b++)
            for (uint32_t j = 0; !rc && j < LX__IDX_B; j++)
                if (bkt[b].tag[j])
                    rc = lx__idx_insert(out, t->hash(t->ctx, bkt[b].val[j]), bkt[b].val[j]);
    }
    if (rc) lx__idx_free(out);
    return rc;
}

/* A zeroed table of nb buckets for growth (the old table is gone by
 * then): a region of the reserve that the table is not in and that is
 * large enough (*mem NULL: nothing to free), else an allocation of its own.
 * When both regions are free (the first growth after lx__idx_presize), the
 * one that makes the tables that follow alternate so that the last size
 * lands in region 0. A region is zero while free: untouched at first, and
 * every bucket the old table leaves is cleared (idx_move). */
static lx__idx_bucket_t *table_alloc(lx__idx_t *t, uint32_t nb, void **mem) {
    bool free0 = t->arena && t->reg[0] != t->bkt && nb <= t->reg_nb[0];
    bool free1 = t->arena && t->reg[1] && t->reg[1] != t->bkt && nb <= t->reg_nb[1];
    int r = free0 ? 0 : free1 ? 1 : -1;
    if (free0 && free1) {
        uint64_t s = nb;
        unsigned steps = 0;
        for (; s < t->reg_nb[0]; steps++) s += s / 2 + 1;
        r = (int)(steps % 2);
    }
    if (r < 0) return idx_alloc(nb, mem);
    *mem = NULL;
    return t->reg[r];
}

/* Buckets of memory the old table gives back at once while it is moved. */
#define LX__IDX_GIVE_BACK 4096u

/* Clears entry j of old bucket b, whose hash is h, and the over counts it
 * held up between its home and b. */
static void old_clear(lx__idx_t *t, uint32_t b, uint32_t j, uint64_t h) {
    uint32_t onb = t->onb;
    for (uint32_t p = lx__idx_home(h, onb); p != b; p = p + 1 == onb ? 0 : p + 1)
        lx__idx_over_dec(&t->old[p]);
    t->old[b].tag[j] = 0;
    lx__idx_set_hint(&t->old[b], j, 0);
}

/* Moves entry j of old bucket b, whose hash is h, into the new table,
 * clearing it and the over counts it held up in the old one. */
static void move_entry(lx__idx_t *t, uint32_t b, uint32_t j, uint64_t h) {
    const lx__idx_bucket_t *s = &t->old[b];
    uint32_t home = lx__idx_home(h, t->nb);
    lx__idx_place(t->bkt, t->nb, home, lx__idx_free_entry(t->bkt, t->nb, home), s->tag[j],
                  s->val[j]);
    old_clear(t, b, j, h);
}

/* Shrinks the old table's allocation to its first oleft buckets. */
static void give_back(lx__idx_t *t) {
    unsigned char *at = (unsigned char *)t->old;
    uintptr_t was = (uintptr_t)t->old_mem;
    size_t off = (size_t)((uintptr_t)at - was), bytes = (size_t)t->oleft * sizeof(lx__idx_bucket_t);
    unsigned char *p = realloc(t->old_mem, bytes + 63); /* shrinking: in place */
    if (!p) return;                                     /* keeps the memory; nothing lost */
    if ((uintptr_t)p != was) {                          /* moved after all: realign */
        uintptr_t a = ((uintptr_t)p + 63) & ~(uintptr_t)63;
        unsigned char *dst = p + (a - (uintptr_t)p);
        memmove(dst, p + off, bytes);
        at = dst;
    }
    t->old_mem = p;
    t->old = (lx__idx_bucket_t *)(void *)at;
    t->ocap = t->oleft;
}

static void idx_move(lx__idx_t *t) {
    uint32_t c = --t->oleft;
    lx__idx_bucket_t *s = &t->old[c];
    uint32_t empty, n = 0, at[LX__IDX_B];
    uint64_t h[LX__IDX_B];
    lx__idx_scan(s, 0, &empty);
    /* the owner's hashes first, then the new homes fetched, then the
     * moves: each hash reads the record its value names and each move a
     * bucket of the new table, nearly always cache misses; taken one entry
     * after the other they cost about 2,000 cycles a bucket in the fill
     * workload, in these three passes the misses of a pass overlap */
    for (uint32_t m = ~empty & 0xfffu; m; m &= m - 1) {
        at[n] = (uint32_t)__builtin_ctz(m);
        h[n] = t->hash(t->ctx, s->val[at[n]]);
        n++;
    }
    for (uint32_t k = 0; k < n; k++) __builtin_prefetch(&t->bkt[lx__idx_home(h[k], t->nb)]);
    for (uint32_t k = 0; k < n; k++) {
        LX_ASSERT(lx__idx_tag(h[k]) == s->tag[at[k]] && lx__idx_home(h[k], t->onb) <= c);
        move_entry(t, c, at[k], h[k]);
    }
    /* in the reserve, the bucket is left as it was found: zero (its over
     * count is 0 now unless it stuck at 255, its values are stale) */
    if (!t->old_mem) memset(s, 0, sizeof *s);
    if (t->oleft == 0) {
        free(t->old_mem);
        t->old = NULL;
        t->old_mem = NULL;
        t->onb = t->ocap = 0;
    } else {
        if (t->old_mem && t->ocap - t->oleft >= LX__IDX_GIVE_BACK) give_back(t);
        __builtin_prefetch(&t->old[t->oleft - 1]); /* the next reserve's bucket */
    }
}

/* Starts growing to room for `need` entries (see the top of the file). */
static int idx_grow(lx__idx_t *t, uint64_t need) {
    while (t->old) idx_move(t);
    uint64_t nnb = (uint64_t)t->nb + t->nb / 2 + 1;
    while (!lx__idx_fits(need, nnb)) nnb += nnb / 2 + 1;
    if (nnb > LX__IDX_MAX_NB) return LX_ENOMEM;
    void *mem;
    lx__idx_bucket_t *n = table_alloc(t, (uint32_t)nnb, &mem);
    if (!n) return LX_ENOMEM;
    t->old = t->bkt;
    t->old_mem = t->mem;
    t->onb = t->oleft = t->ocap = t->nb;
    t->bkt = n;
    t->mem = mem;
    t->nb = (uint32_t)nnb;
    /* the entries stored past the end, in the first buckets (a bucket can
     * hold them only while every bucket from the last on is passed) */
    for (uint32_t b = 0; b < t->onb && lx__idx_over(&t->old[b == 0 ? t->onb - 1 : b - 1]); b++) {
        lx__idx_bucket_t *s = &t->old[b];
        uint32_t empty;
        lx__idx_scan(s, 0, &empty);
        for (uint32_t m = ~empty & 0xfffu; m; m &= m - 1) {
            uint32_t j = (uint32_t)__builtin_ctz(m), hint = lx__idx_hints(s) >> (2 * j) & 3;
            if (hint < 3 && hint <= b) continue; /* its home is at or before b */
            uint64_t h = t->hash(t->ctx, s->val[j]);
            if (lx__idx_home(h, t->onb) > b) move_entry(t, b, j, h);
        }
    }
    return 0;
}

int lx__idx_presize(lx__idx_t *t, uint32_t n) {
    if (t->arena) return 0;
    while (t->old) idx_move(t);
    /* the sizes growth will take, one entry at a time, from nb up to
     * room for n (idx_grow's steps): the last two alternate in the regions */
    uint64_t last = t->nb, prev = 0;
    while (!lx__idx_fits(n, last)) {
        prev = last;
        last += last / 2 + 1;
    }
    if (last == t->nb) return 0;
    if (last > LX__IDX_MAX_NB) return LX_ENOMEM;
    if (prev == t->nb) prev = 0; /* one step: the table before is the current one */
    void *mem;
    lx__idx_bucket_t *r = idx_alloc((uint32_t)(last + prev), &mem);
    if (!r) return LX_ENOMEM;
    t->arena = mem;
    t->reg[0] = r;
    t->reg_nb[0] = (uint32_t)last;
    t->reg[1] = prev ? r + last : NULL;
    t->reg_nb[1] = (uint32_t)prev;
    return 0;
}

int lx__idx_reserve_slow(lx__idx_t *t, uint32_t extra) {
    if (t->old) idx_move(t);
    uint64_t need = (uint64_t)t->count + extra;
    return lx__idx_fits(need, t->nb) ? 0 : idx_grow(t, need);
}

/* The entry of the old table for which eq(ctx, value, key) holds, among
 * those with the hash's tag, from its home up to oleft: its bucket in *b
 * and its place there in *j; false if there is none. */
static bool old_find(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq, const void *ctx,
                     const void *key, uint32_t *b, uint32_t *j) {
    uint32_t tag = lx__idx_tag(hash), empty;
    for (*b = lx__idx_home(hash, t->onb); *b < t->oleft; (*b)++) {
        const lx__idx_bucket_t *s = &t->old[*b];
        for (uint32_t m = lx__idx_scan(s, tag, &empty); m; m &= m - 1) {
            *j = (uint32_t)__builtin_ctz(m);
            if (eq(ctx, s->val[*j], key)) return true;
        }
        if (!lx__idx_over(s)) break;
    }
    return false;
}

uint32_t lx__idx_find_old(const lx__idx_t *t, uint64_t hash, lx__idx_eq_fn eq, const void *ctx,
                          const void *key) {
    uint32_t b, j;
    return old_find(t, hash, eq, ctx, key, &b, &j) ? t->old[b].val[j] : LX__NIL;
}

static bool same_value(const void *ctx, uint32_t value, const void *key) {
    (void)ctx;
    return value == *(const uint32_t *)key;
}

bool lx__idx_remove_old(lx__idx_t *t, uint64_t hash, uint32_t value) {
    uint32_t b, j;
    if (!old_find(t, hash, same_value, NULL, &value, &b, &j)) return false;
    old_clear(t, b, j, hash);
    t->count--;
    return true;
}

/* One table's part of the check: its tags, hints and over counts against
 * the owner's hashes, over its first `used` buckets of nb (homes are taken
 * modulo nb); with `wrap` false, no entry may lie before its home. Adds
 * its entries to *n. */
static int validate_table(const lx__idx_t *t, const lx__idx_bucket_t *bkt, uint32_t nb,
                          uint32_t used, bool wrap, uint32_t *n) {
    uint32_t *over = calloc(nb, sizeof *over);
    if (!over) return LX_ENOMEM;
    int rc = 0;
    for (uint32_t b = 0; b < used && !rc; b++) {
        const lx__idx_bucket_t *s = &bkt[b];
        for (uint32_t j = 0; j < LX__IDX_B && !rc; j++) {
            uint32_t hint = lx__idx_hints(s) >> (2 * j) & 3;
            if (!s->tag[j]) {
                if (hint) rc = LX_ECORRUPT;
                continue;
            }
            (*n)++;
            uint64_t h = t->hash(t->ctx, s->val[j]);
            uint32_t d = 0, home = lx__idx_home(h, nb);
            if (!wrap && home > b) rc = LX_ECORRUPT;
            for (uint32_t p = home; p != b; p = p + 1 == nb ? 0 : p + 1, d++) over[p]++;
            if (s->tag[j] != lx__idx_tag(h) || hint != (d < 3 ? d : 3)) rc = LX_ECORRUPT;
        }
    }
    for (uint32_t b = 0; b < used && !rc; b++) {
        uint32_t o = lx__idx_over(&bkt[b]);
        if (o != 255 && o != over[b]) rc = LX_ECORRUPT;
    }
    free(over);
    return rc;
}

/* Recounts everything the table keeps incrementally, asking the owner for
 * each entry's hash: count, each tag, each distance hint, each over count
 * (a count of 255 may stand for fewer: it is sticky), the load bound; and,
 * while growing, the same of the old table's buckets not yet moved, where
 * no entry lies before its home. */
int lx__idx_validate(const lx__idx_t *t) {
    if (t->nb < 2 || !t->bkt || !lx__idx_fits(t->count, t->nb)) return LX_ECORRUPT;
    uint32_t n = 0;
    int rc = validate_table(t, t->bkt, t->nb, t->nb, true, &n);
    if (!rc && t->old) {
        if (t->oleft == 0 || t->oleft > t->ocap || t->ocap > t->onb) return LX_ECORRUPT;
        rc = validate_table(t, t->old, t->onb, t->oleft, false, &n);
    }
    if (!rc && n != t->count) rc = LX_ECORRUPT;
    /* the reserve: a region no table holds is zero, and so are the
     * buckets the old table has left there */
    static const lx__idx_bucket_t zero;
    for (int k = 0; !rc && t->arena && k < 2; k++) {
        uint32_t from = t->reg[k] == t->bkt ? t->nb : t->reg[k] == t->old ? t->oleft : 0;
        for (uint32_t b = from; b < t->reg_nb[k] && !rc; b++)
            if (memcmp(&t->reg[k][b], &zero, sizeof zero)) rc = LX_ECORRUPT;
    }
    return rc;
}
