/*
 * book.c: price levels and the two sides of a market's book.
 *
 * A side is a sorted array of level keys (price for bids, -price for asks)
 * with the best level at the end, plus a parallel array of level indices.
 * Why an array and not a tree: order flow concentrates at the touch (most
 * adds, cancels and all fills happen within a few levels of it), and at the
 * end of an array those are O(1) pushes and pops on memory that stays in
 * cache. Finding a level looks at the last 8 keys (near the best, where
 * most lookups land), else binary-searches the rest without branches (see
 * side_lower_bound), so a deep book costs O(log n) to find a level.
 *
 * The array keeps free room at both ends (`front` entries before keys[0],
 * the rest after keys[n-1]), and an insert moves the entries between the
 * new key and the nearer end (8 + 4 bytes each). In a book that is deep
 * and moving (swing: ~2,000 levels a side while the price trends 35% up
 * and back), most new levels open in the half of the array away from the
 * touch; with room only at the top each of them moved about 1,900
 * entries, and memmove was 40% of the workload's instructions (now 2%).
 * When the end an insert needs is full, the entries are re-centred in
 * their allocation (free room split evenly), or, if the allocation is
 * nearly full, moved the other way. A price that moves far only changes
 * where the ends are; a flash crash that sweeps many levels pops them one
 * by one. Nothing here depends on a fixed price centre or a preallocated
 * price range, so 100,000 markets cost nothing until they hold orders.
 *
 * A side that holds more than LX__TOUCH_MAX (4,096) entries keeps only
 * its upper half in that array, the touch array; the lower entries go to
 * blocks of at most LX__BLK (256) sorted entries, with a sorted array of
 * each block's first key to find a key's block (core.h, lx__deep_t). Why:
 * a trader who scatters orders over a wide price band makes nearly every
 * new level open in the middle of the side, and in one array each of them
 * moved a quarter of the entries on average: 181,092 levels in one market
 * (lxdex-bench --workload fill_wide) cost 2.2 us a place at the median,
 * 12 us at p99. In a block the move is at most 256 entries, and a full
 * block splits in two. The touch array and everything that happens near
 * the best are as before; blocks are only searched for keys below the
 * touch array's first. When the touch array reaches LX__TOUCH_MAX its
 * lower half moves into new blocks of LX__BLK_FILL entries (once per
 * 2,048 new levels); when it empties (a sweep), the highest block moves
 * back into it (once per block's entries popped). The books of the
 * benchmark's other workloads never reach the limit (swing peaks near
 * 2,000 entries a side).
 *
 * A level that empties and is not the best stays where it is as a
 * tombstone (in a block as well): its entry and its level record (count
 * 0, no orders) remain,
 * so removing it neither moves the entries behind it nor searches for its
 * position (in a swing, most levels that empty are hundreds of entries
 * from the touch: the search was 4% of that workload's instructions). A
 * later level whose key fits at or next to a tombstone takes its entry and
 * its record; the same price coming back revives it. The touch array is
 * compacted in one pass, freeing the tombstones' records, when they number
 * more than a quarter of its live levels (so they add little memory); a
 * block counts its tombstones and is compacted alone on the same rule
 * (and merged with a neighbour when the two fit in LX__BLK_FILL), so no
 * pass is longer than the touch array: one over a whole 90,000-level side
 * took 1 to 3 ms (lxdex-bench --workload fill_churn). The
 * best entry (the last) is never a tombstone: removing it also pops (and
 * frees) the tombstones before it.
 *
 * A side of many levels keeps a ladder above all of this (core.h,
 * lx__lad_t): LX__LAD_W (2,048) slots, one a price tick from `lo` up,
 * each the index of the live level at that price or LX__NIL, with a
 * bitmap of the slots in use and one word summing the bitmap. It holds
 * the best level and every level within LX__LAD_W - LX__LAD_HEAD (1,791)
 * ticks below it; the touch array and the blocks keep only keys below
 * lo. Why: in books of about one order a level (realistic, swing: most
 * new orders open a level of their own, away from the touch) a new level
 * in the array was a search of ~11 dependent steps and a move of the
 * entries between it and the nearer end, and an emptied one a tombstone
 * and later a compaction: the largest part of a place. In the ladder
 * finding, opening and emptying a level is an index and a bit, and the
 * next best level after the best empties is two bit scans away
 * (lx__lad_below). Swing and realistic ran 10-13% faster
 * (BENCHMARKS.md) on 6% fewer instructions (swing, a whole run): most of
 * the gain is the search's mispredicted steps and the misses at the
 * array's far end.
 *
 * A key above the ladder moves it up so that the key lands LX__LAD_HEAD
 * (256) slots below its top; the levels it leaves behind go to the top of
 * the touch array, above all of its keys. That is the one move that may
 * allocate, and it is made by the room check (lx__book_reserve takes the
 * price), before the command changes anything. A key below the ladder
 * moves it down if the best stays LX__LAD_HEAD slots below the top, and
 * the ladder takes the touch array's entries it then covers (popped from
 * its top, nothing allocated); otherwise the key goes to the touch array
 * or the blocks as before. A ladder that a sweep or cancels empty stays
 * where it is (what was reserved must still hold); the next key outside
 * it places it anew at the touch array's best.
 *
 * A ladder is 8.5 KB whatever it holds, so a side gets one when it holds
 * LX__LAD_ON (128) live levels and only if the ladder would start with
 * LX__LAD_DENSE (256) of the touch array's entries (lx__lad_worth_it, two
 * keys compared on each place): a thin book (crash: 300 levels a side, 10
 * ticks apart) stays in the array, a few bytes a level (with a ladder
 * crash's bytes per order went from 97 to 124). A side down to
 * LX__LAD_OFF (32) live levels gives its ladder back, its levels going to
 * the touch array. 100,000 markets of 20 levels a side have none. The
 * engine keeps the ladders (e->lads, given-back ones for the next side
 * that needs one) and a market record names its sides' by index
 * (lad[2]), where the tick size was (it moved to e->tick_size: only
 * reads and decimal conversions use it), so that a market stays 160
 * bytes: with the ladder pointers in the sides (192 bytes) the many
 * workload ran 3-10% slower in interleaved runs.
 *
 * A level holds its orders as an intrusive doubly linked FIFO through the
 * order records (next/prev), with its total open quantity and count kept
 * exact at every change. A live level is never empty; an empty one is a
 * tombstone or gone (lx_engine_validate checks this).
 *
 * Appending an order, unlinking it and the room check before a place are
 * inline, in book.h; what they call when a level empties or something
 * must grow is here. The room check compares the touch array's count
 * with `lim`, which is 0 whenever the next new level might need memory
 * that is not there (the touch array full or at LX__TOUCH_MAX, no spare
 * block for a split): the slow path then allocates, before the command
 * changes anything.
 *
 * Allocation: the side arrays grow by half when full (after compacting
 * tombstones, if there are many) and give a third back below a third
 * full, the level pool grows by a sixteenth (amortized, never per order:
 * it grows only when the book holds more levels than ever before). The
 * slack is part of the memory per resting order: from a quarter and a
 * half to these, realistic went from 66 to 64 bytes an order (seed 1;
 * 64.35), swing from 87 to 86 and crash from 101 to 96, at no cost
 * callgrind can see.
 */
#include <stdlib.h>
#include "book.h"

static void deep_detach(lx_engine_t *e, lx__side_t *s);
static void side_set_lim(const lx_engine_t *e, lx__side_t *s);

void lx__side_free(lx_engine_t *e, lx__side_t *s) {
    if (s->deep) deep_detach(e, s);
    if (s->keys) free(s->keys - s->front);
    if (s->lv) free(s->lv - s->front);
    s->keys = NULL;
    s->lv = NULL;
    s->n = s->cap = s->front = s->lim = 0;
    s->live = 0;
}

/* Index of the first key >= key (n if none). Nearly every lookup lands
 * near the best, so the last 8 keys are looked at first, counted without a
 * branch per key, then the first 8 (the far end); otherwise a binary
 * search over the rest whose steps are conditional moves, not branches.
 * (Before, a scan with a branch per key and a branching binary search
 * mispredicted about 4 times per message on the swing workload, by
 * callgrind's branch model: the book's largest cost after the memmoves;
 * now about 1.3.) Inlined, with its 8-key scans unrolled: 10 to 20
 * instructions a message less on swing.
 *
 * Past the first 8 keys, the next 56 are a window of their own: in a
 * trending book most new levels open just behind the others (swing: of
 * 1.5 million lookups, 1.0 million land at index 8 to 63 of ~1,200
 * entries), where a search of the whole side takes ~11 dependent steps and
 * one of the window 6. One more independent load (keys[63]) decides it;
 * swing ran 4.5% faster (BENCHMARKS.md). The same window at the near end
 * (realistic: most lookups 8 to 500 entries from the best) did not show
 * above the host's noise, and is not here. */
static LX_ALWAYS_INLINE uint32_t side_lower_bound(const lx__side_t *s, int64_t key) {
    const int64_t *k = s->keys;
    uint32_t n = s->n;
    if (n <= 8) {
        uint32_t i = n;
        for (uint32_t j = 0; j < n; j++) i -= k[j] >= key;
        return i;
    }
    if (k[n - 8] < key) {
        uint32_t i = n;
#pragma GCC unroll 8
        for (uint32_t j = n - 8; j < n; j++) i -= k[j] >= key;
        return i;
    }
    if (n >= 24 && k[7] >= key) {
        /* the far end: in a deep book most new levels open behind all the
         * others (swing: 70% of them in the first 16 entries), where the
         * binary search would take its full ~11 steps */
        uint32_t i = 0;
#pragma GCC unroll 8
        for (uint32_t j = 0; j < 8; j++) i += k[j] < key;
        return i;
    }
    /* the answer is in [0, n - 8]; in [8, 63] if keys[63] >= key */
    const int64_t *b = k;
    uint32_t len = n - 7;
    if (n >= 72 && k[63] >= key) {
        b = k + 8;
        len = 56;
    }
    while (len > 1) {
        uint32_t half = len / 2;
        b += (size_t)(b[half - 1] < key) * half; /* no branch */
        len -= half;
    }
    return (uint32_t)(b - k);
}

/* ---- blocks: a side's entries below its touch array ------------------- */

/* The block a key below the touch array belongs in: the last whose first
 * key is <= key, or block 0. The steps are conditional moves, as in
 * side_lower_bound: a branch per step mispredicted half the time. */
static uint32_t deep_block(const lx__deep_t *d, int64_t key) {
    const int64_t *base = d->bmin;
    uint32_t len = d->nblk; /* the answer is in [base, base + len) */
    while (len > 1) {
        uint32_t half = len / 2;
        base += (size_t)(base[half] <= key) * half;
        len -= half;
    }
    return (uint32_t)(base - d->bmin);
}

/* Index of the first key >= key in a block (n if none), the same way. */
static uint32_t blk_lower_bound(const lx__blk_t *b, int64_t key) {
    const int64_t *base = b->keys;
    uint32_t len = b->n + 1; /* the answer is in [base, base + len) */
    while (len > 1) {
        uint32_t half = len / 2;
        base += (size_t)(base[half - 1] < key) * half;
        len -= half;
    }
    return (uint32_t)(base - b->keys);
}

/* A block no longer used: kept as the spare if there is none, else freed. */
static void blk_release(lx__deep_t *d, lx__blk_t *b) {
    if (!d->spare)
        d->spare = b;
    else
        free(b);
}

/* Entry i of an array of level indices (the touch array's or a block's)
 * is a tombstone: its level has no orders. */
static inline bool tomb_at(const lx_engine_t *e, const uint32_t *lv, uint32_t i) {
    return e->levels[lv[i]].count == 0;
}

/* Where a new key at insertion point i of n entries can take a
 * tombstone's entry and record, keys staying sorted: i itself, or i - 1
 * (keys[i-1] < key < keys[i]); LX__NIL if neither is one. */
static inline uint32_t tomb_near(const lx_engine_t *e, const uint32_t *lv, uint32_t n, uint32_t i) {
    return i < n && tomb_at(e, lv, i) ? i : i > 0 && tomb_at(e, lv, i - 1) ? i - 1 : LX__NIL;
}

/* Tombstones among a block's entries. */
static uint32_t blk_count_dead(const lx_engine_t *e, const lx__blk_t *b) {
    uint32_t dead = 0;
    for (uint32_t i = 0; i < b->n; i++) dead += tomb_at(e, b->lv, i);
    return dead;
}

/* Gives the side a deep record (no blocks yet). */
static int deep_attach(lx_engine_t *e, lx__side_t *s) {
    uint32_t i = e->deep_free;
    if (i) {
        e->deep_free = e->deeps[i].next_free;
    } else {
        if (e->ndeeps == 0) e->ndeeps = 1; /* index 0 means none */
        lx__deep_t *p = lx__array_room(e->deeps, e->ndeeps, &e->deeps_cap, sizeof *p, 8);
        if (!p) return LX_ENOMEM;
        e->deeps = p;
        i = e->ndeeps++;
    }
    memset(&e->deeps[i], 0, sizeof e->deeps[i]);
    s->deep = i;
    return 0;
}

/* Frees the side's blocks and returns its deep record to the free list. */
static void deep_detach(lx_engine_t *e, lx__side_t *s) {
    lx__deep_t *d = &e->deeps[s->deep];
    for (uint32_t j = 0; j < d->nblk; j++) free(d->blk[j]);
    free(d->blk);
    free(d->bmin);
    free(d->bdead);
    free(d->spare);
    memset(d, 0, sizeof *d);
    d->next_free = e->deep_free;
    e->deep_free = s->deep;
    s->deep = 0;
}

/* Room in the block arrays for `more` blocks. */
static int deep_room(lx__deep_t *d, uint32_t more) {
    if (d->nblk + more <= d->cap) return 0;
    uint32_t ncap = d->cap + d->cap / 2;
    if (ncap < d->nblk + more) ncap = d->nblk + more + 8;
    lx__blk_t **nb = realloc(d->blk, (size_t)ncap * sizeof *nb);
    if (!nb) return LX_ENOMEM;
    d->blk = nb;
    int64_t *nm = realloc(d->bmin, (size_t)ncap * sizeof *nm);
    if (!nm) return LX_ENOMEM;
    d->bmin = nm;
    uint32_t *nd = realloc(d->bdead, (size_t)ncap * sizeof *nd);
    if (!nd) return LX_ENOMEM;
    d->bdead = nd;
    d->cap = ncap;
    return 0;
}

/* The touch array is at LX__TOUCH_MAX: its entries below the upper half
 * move into new blocks above the existing ones (all of whose keys are
 * lower), LX__BLK_FILL or fewer each, leaving room in each for new
 * levels. Nothing changes if an allocation fails. */
static int side_spill(lx_engine_t *e, lx__side_t *s) {
    uint32_t move = s->n - LX__TOUCH_MAX / 2;
    uint32_t nb = (move + LX__BLK_FILL - 1) / LX__BLK_FILL;
    bool attached = false;
    if (!s->deep) {
        if (deep_attach(e, s)) return LX_ENOMEM;
        attached = true;
    }
    lx__deep_t *d = &e->deeps[s->deep];
    uint32_t made = 0;
    int rc = deep_room(d, nb + 1);
    if (!rc && !d->spare && !(d->spare = malloc(sizeof *d->spare))) rc = LX_ENOMEM;
    for (; !rc && made < nb; made++)
        if (!(d->blk[d->nblk + made] = malloc(sizeof(lx__blk_t)))) rc = LX_ENOMEM;
    if (rc) {
        while (made > 0) free(d->blk[d->nblk + --made]);
        if (attached) deep_detach(e, s);
        return rc;
    }
    uint32_t src = 0;
    for (uint32_t k = 0; k < nb; k++) {
        lx__blk_t *b = d->blk[d->nblk + k];
        uint32_t cnt = move / nb + (k < move % nb);
        memcpy(b->keys, s->keys + src, (size_t)cnt * sizeof *b->keys);
        memcpy(b->lv, s->lv + src, (size_t)cnt * sizeof *b->lv);
        b->n = cnt;
        d->bdead[d->nblk + k] = blk_count_dead(e, b);
        d->dead += d->bdead[d->nblk + k];
        d->bmin[d->nblk + k] = b->keys[0];
        src += cnt;
    }
    d->nblk += nb;
    d->n += move;
    s->keys += move;
    s->lv += move;
    s->front = (uint16_t)(s->front + move);
    s->n = (uint16_t)(s->n - move);
    return 0;
}

static void level_release(lx_engine_t *e, uint32_t l);

/* The touch array emptied (its last entry popped) and the side has
 * blocks: the highest block's entries move into it, re-centred, and its
 * trailing tombstones are popped (freeing their levels), until a live
 * entry is on top or no block is left. The touch array has room for at
 * least LX__BLK entries while there are blocks (side_shrink), so nothing
 * is allocated. */
static void side_pull(lx_engine_t *e, lx__side_t *s) {
    lx__deep_t *d = &e->deeps[s->deep];
    while (s->n == 0 && d->nblk > 0) {
        lx__blk_t *b = d->blk[--d->nblk];
        d->n -= b->n;
        d->dead -= d->bdead[d->nblk];
        uint32_t front = (s->cap - b->n) / 2;
        s->keys = s->keys - s->front + front;
        s->lv = s->lv - s->front + front;
        s->front = (uint16_t)front;
        memcpy(s->keys, b->keys, (size_t)b->n * sizeof *s->keys);
        memcpy(s->lv, b->lv, (size_t)b->n * sizeof *s->lv);
        s->n = (uint16_t)b->n;
        blk_release(d, b);
        while (s->n > 0 && tomb_at(e, s->lv, s->n - 1u)) level_release(e, s->lv[--s->n]);
    }
    if (d->nblk == 0) deep_detach(e, s);
}

/* ---- finding a key ------------------------------------------------------ */

uint32_t lx__side_level(const lx_engine_t *e, const lx__market_t *m, int side, int64_t key) {
    const lx__side_t *s = &m->side[side];
    const lx__lad_t *lad = lx__lad(e, m, side);
    if (lad && key >= lad->lo) {
        uint64_t i = (uint64_t)key - (uint64_t)lad->lo;
        return i < LX__LAD_W ? lad->lv[i] : LX__NIL;
    }
    if (s->deep && key < s->keys[0]) {
        const lx__deep_t *d = &e->deeps[s->deep];
        const lx__blk_t *b = d->blk[deep_block(d, key)];
        uint32_t i = blk_lower_bound(b, key);
        return i < b->n && b->keys[i] == key && e->levels[b->lv[i]].count ? b->lv[i] : LX__NIL;
    }
    uint32_t i = side_lower_bound(s, key);
    return (i < s->n && s->keys[i] == key && !tomb_at(e, s->lv, i)) ? s->lv[i] : LX__NIL;
}

/* ---- compaction, growth ------------------------------------------------- */

/* Drops the tombstones among n entries (the touch array's or a block's) in
 * one pass, freeing their levels; returns how many entries are left. */
static uint32_t compact_entries(lx_engine_t *e, int64_t *keys, uint32_t *lv, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (tomb_at(e, lv, i)) {
            level_release(e, lv[i]);
            continue;
        }
        keys[k] = keys[i];
        lv[k] = lv[i];
        k++;
    }
    return k;
}

/* Drops every tombstone of the touch array. */
static void touch_compact(lx_engine_t *e, lx__side_t *s) {
    s->n = (uint16_t)compact_entries(e, s->keys, s->lv, s->n);
}

/* Takes block j out of the block arrays and releases it. */
static void blk_remove(lx__deep_t *d, uint32_t j) {
    lx__blk_t *b = d->blk[j];
    memmove(&d->blk[j], &d->blk[j + 1], (size_t)(d->nblk - j - 1) * sizeof *d->blk);
    memmove(&d->bmin[j], &d->bmin[j + 1], (size_t)(d->nblk - j - 1) * sizeof *d->bmin);
    memmove(&d->bdead[j], &d->bdead[j + 1], (size_t)(d->nblk - j - 1) * sizeof *d->bdead);
    d->nblk--;
    blk_release(d, b);
}

/* Moves block j+1's entries to the end of block j (they fit). */
static void blk_merge(lx__deep_t *d, uint32_t j) {
    lx__blk_t *a = d->blk[j], *b = d->blk[j + 1];
    memcpy(a->keys + a->n, b->keys, (size_t)b->n * sizeof *b->keys);
    memcpy(a->lv + a->n, b->lv, (size_t)b->n * sizeof *b->lv);
    a->n += b->n;
    d->bdead[j] += d->bdead[j + 1];
    blk_remove(d, j + 1);
}

/* Drops block j's tombstones, freeing their levels; an emptied block is
 * released (and the side's blocks with it if it was the last), one that
 * fits with a neighbour in LX__BLK_FILL entries is merged with it. At most
 * LX__BLK entries are read and moved. */
static void blk_compact(lx_engine_t *e, lx__side_t *s, uint32_t j) {
    lx__deep_t *d = &e->deeps[s->deep];
    lx__blk_t *b = d->blk[j];
    uint32_t k = compact_entries(e, b->keys, b->lv, b->n);
    d->n -= b->n - k;
    d->dead -= d->bdead[j];
    d->bdead[j] = 0;
    b->n = k;
    if (k == 0) {
        blk_remove(d, j);
        if (d->nblk == 0) deep_detach(e, s);
        return;
    }
    d->bmin[j] = b->keys[0];
    if (j + 1 < d->nblk && k + d->blk[j + 1]->n <= LX__BLK_FILL)
        blk_merge(d, j);
    else if (j > 0 && d->blk[j - 1]->n + k <= LX__BLK_FILL)
        blk_merge(d, j - 1);
}

/* A level below the touch array emptied: its block counts a tombstone
 * more, and is compacted when they are more than a quarter of its live
 * entries. */
static LX_NOINLINE void deep_emptied(lx_engine_t *e, lx__side_t *s, int64_t key) {
    lx__deep_t *d = &e->deeps[s->deep];
    uint32_t j = deep_block(d, key);
    uint32_t dead = ++d->bdead[j];
    d->dead++;
    if (dead > (d->blk[j]->n - dead) / 4 + 2) blk_compact(e, s, j);
}

/* Live entries of the touch array: the side's live levels less the
 * ladder's and the blocks' (their entries less their tombstones). */
static inline uint32_t touch_live(const lx_engine_t *e, const lx__side_t *s, const lx__lad_t *lad) {
    uint32_t live = s->live - (lad ? lad->n : 0);
    if (!s->deep) return live;
    const lx__deep_t *d = &e->deeps[s->deep];
    return live - (d->n - d->dead);
}

/* Moves the entries to a new allocation of ncap (>= n) entries, re-centred
 * (free room split evenly between the ends). */
static int side_realloc(lx__side_t *s, uint32_t ncap) {
    int64_t *k = malloc((size_t)ncap * sizeof *k);
    uint32_t *l = malloc((size_t)ncap * sizeof *l);
    if (!k || !l) {
        free(k);
        free(l);
        return LX_ENOMEM;
    }
    uint32_t front = (ncap - s->n) / 2;
    if (s->n) {
        memcpy(k + front, s->keys, (size_t)s->n * sizeof *k);
        memcpy(l + front, s->lv, (size_t)s->n * sizeof *l);
    }
    if (s->keys) free(s->keys - s->front);
    if (s->lv) free(s->lv - s->front);
    s->keys = k + front;
    s->lv = l + front;
    s->front = (uint16_t)front;
    s->cap = (uint16_t)ncap;
    return 0;
}

/* Room for one more entry at one end or the other of a full touch array:
 * a side that holds many tombstones (a quarter of its entries) is
 * compacted in place, else the array grows by half (up to LX__TOUCH_MAX
 * and a half: it spills first). Compacting first keeps a side's allocation
 * near twice its live levels when levels come and go far from the touch
 * (swing), instead of growing with the tombstones. Positions found before
 * the call are stale after it. */
static LX_NOINLINE int side_grow(lx_engine_t *e, lx__side_t *s, const lx__lad_t *lad) {
    uint32_t tombs = s->n - touch_live(e, s, lad);
    if (tombs >= s->n / 4u && tombs >= 8) {
        touch_compact(e, s);
        return 0;
    }
    uint32_t ncap = s->cap ? s->cap + s->cap / 2 : 8;
    return side_realloc(s, ncap);
}

/* Gives back a third of the allocation of a touch array whose entries fill
 * less than a third of it (a side the price moved away from, or one
 * emptied by a sweep), so its memory follows the levels it holds; the
 * entries then fill half of it, so growth at full and shrinking cannot
 * alternate on every call. A side with blocks keeps more than LX__BLK
 * entries of room (side_pull). A failed allocation keeps the old array. */
static LX_NOINLINE void side_shrink(lx_engine_t *e, lx__side_t *s) {
    if (s->deep && s->cap <= 3 * LX__BLK) return;
    (void)side_realloc(s, s->cap - s->cap / 3u);
    side_set_lim(e, s);
}

/* lim (book.h): the touch array has room (and is below LX__TOUCH_MAX) and
 * a block split would find its spare block and a place in the block
 * arrays. */
static void side_set_lim(const lx_engine_t *e, lx__side_t *s) {
    uint32_t lim = s->cap < LX__TOUCH_MAX ? s->cap : LX__TOUCH_MAX;
    if (s->deep) {
        const lx__deep_t *d = &e->deeps[s->deep];
        if (!d->spare || d->nblk == d->cap) lim = 0;
    }
    s->lim = (uint16_t)lim;
}

/* Makes room for one new level on the side (lx__book_reserve's slow
 * path), whatever part of the side it lands in. */
static int side_reserve_slow(lx_engine_t *e, lx__side_t *s, const lx__lad_t *lad) {
    int rc = 0;
    if (s->n >= LX__TOUCH_MAX)
        rc = side_spill(e, s);
    else if (s->n == s->cap)
        rc = side_grow(e, s, lad);
    if (!rc && s->deep) {
        lx__deep_t *d = &e->deeps[s->deep];
        rc = deep_room(d, 1);
        if (!rc && !d->spare && !(d->spare = malloc(sizeof *d->spare))) rc = LX_ENOMEM;
    }
    side_set_lim(e, s);
    return rc;
}

/* Moves the entries within their allocation so that the free room is split
 * evenly between the two ends. */
static void side_recenter(lx__side_t *s) {
    uint32_t front = (s->cap - s->n) / 2u;
    int64_t *k = s->keys - s->front + front;
    uint32_t *l = s->lv - s->front + front;
    memmove(k, s->keys, (size_t)s->n * sizeof *k);
    memmove(l, s->lv, (size_t)s->n * sizeof *l);
    s->keys = k;
    s->lv = l;
    s->front = (uint16_t)front;
}

/* Inserts (key, l) before position i (after lx__book_reserve), moving the
 * entries between i and the nearer end of the array. */
static void side_insert(lx__side_t *s, uint32_t i, int64_t key, uint32_t l) {
    uint32_t n = s->n;
    uint32_t back = s->cap - s->front - n;
    bool down = i < n - i; /* fewer entries below i than from i up */
    if (down ? s->front == 0 : back == 0) {
        if (s->cap - n >= 16)
            side_recenter(s); /* at least 8 free at each end now */
        else
            down = !down; /* nearly full: the other end has the room */
    }
    if (down) {
        if (i) {
            memmove(s->keys - 1, s->keys, (size_t)i * sizeof *s->keys);
            memmove(s->lv - 1, s->lv, (size_t)i * sizeof *s->lv);
        }
        s->keys--;
        s->lv--;
        s->front--;
    } else if (i < n) {
        memmove(&s->keys[i + 1], &s->keys[i], (size_t)(n - i) * sizeof *s->keys);
        memmove(&s->lv[i + 1], &s->lv[i], (size_t)(n - i) * sizeof *s->lv);
    }
    s->keys[i] = key;
    s->lv[i] = l;
    s->n = (uint16_t)(n + 1);
}

/* ---- the level pool ----------------------------------------------------- */

/* The level pool grows by a sixteenth (from 64, and by at least 8: a pool
 * lx__levels_reserve sized below 16 must grow too, tombstones hold level
 * records): its size follows the most levels the book has held, which a
 * swing makes several times the levels near the touch, and it is part of
 * the memory per resting order. */
static LX_NOINLINE int levels_grow(lx_engine_t *e) {
    uint32_t step = e->nlevels_cap / 16 > 8 ? e->nlevels_cap / 16 : 8;
    uint32_t ncap = e->nlevels_cap ? e->nlevels_cap + step : 64;
    if (ncap <= e->nlevels_cap) return LX_ENOMEM;
    lx__level_t *nl = realloc(e->levels, (size_t)ncap * sizeof *nl);
    if (!nl) return LX_ENOMEM;
    e->levels = nl;
    e->nlevels_cap = ncap;
    return 0;
}

static LX_ALWAYS_INLINE uint32_t level_alloc(lx_engine_t *e) {
    if (e->level_free != LX__NIL) {
        uint32_t l = e->level_free;
        e->level_free = e->levels[l].head;
        e->levels_used++;
        return l;
    }
    if (e->levels_used == e->nlevels_cap && levels_grow(e)) return LX__NIL;
    /* free list empty: every allocated index 0..levels_used-1 is in use,
     * so levels_used is the next never-used index */
    return e->levels_used++;
}

static void level_release(lx_engine_t *e, uint32_t l) {
    e->levels[l].head = e->level_free;
    e->levels[l].count = 0;
    e->levels[l].qty = 0;
    e->level_free = l;
    e->levels_used--;
}

/* A new empty level record for (market, side, price). */
static LX_ALWAYS_INLINE uint32_t level_new(lx_engine_t *e, uint32_t market, int side,
                                           int64_t price) {
    uint32_t l = level_alloc(e);
    if (l == LX__NIL) return LX__NIL;
    lx__level_t *lv = &e->levels[l];
    lv->price = price;
    lv->qty = 0;
    lv->count = 0;
    lv->head = lv->tail = LX__NIL;
    lv->market = market;
    lv->side = (uint32_t)side & 1;
    return l;
}

int lx__levels_reserve(lx_engine_t *e, uint32_t n) {
    if (n <= e->nlevels_cap) return 0;
    lx__level_t *nl = realloc(e->levels, (size_t)n * sizeof *nl);
    if (!nl) return LX_ENOMEM;
    e->levels = nl;
    e->nlevels_cap = n;
    return 0;
}

/* ---- the ladder --------------------------------------------------------- */

/* Slot i holds level l now. */
static LX_ALWAYS_INLINE void lad_set(lx__lad_t *d, uint32_t i, uint32_t l) {
    d->lv[i] = l;
    d->bits[i / 64] |= 1ull << (i % 64);
    d->sum |= 1ull << (i / 64);
    d->n++;
    if (i >= d->top) d->top = i + 1;
}

/* Slot i is empty now; if it held the best, the next slot in use below it
 * is (two bit scans). */
static LX_ALWAYS_INLINE void lad_clear(lx__lad_t *d, uint32_t i) {
    d->lv[i] = LX__NIL;
    if (!(d->bits[i / 64] &= ~(1ull << (i % 64)))) d->sum &= ~(1ull << (i / 64));
    d->n--;
    if (i + 1 == d->top) {
        uint32_t b = lx__lad_below(d, i);
        d->top = b == LX__NIL ? 0 : b + 1;
    }
}

static void lad_sum(lx__lad_t *d) {
    d->sum = 0;
    for (uint32_t w = 0; w < LX__LAD_W / 64; w++) d->sum |= (uint64_t)(d->bits[w] != 0) << w;
}

/* The ladder's content moves j slots up (slot i to i + j): the top j
 * slots are empty. */
static void lad_move_up(lx__lad_t *d, uint32_t j) {
    memmove(d->lv + j, d->lv, (LX__LAD_W - j) * sizeof *d->lv);
    memset(d->lv, 0xff, j * sizeof *d->lv);
    uint32_t ws = j / 64, bs = j % 64;
    for (uint32_t w = LX__LAD_W / 64; w-- > 0;) {
        uint64_t v = 0;
        if (w >= ws) {
            v = d->bits[w - ws] << bs;
            if (bs && w > ws) v |= d->bits[w - ws - 1] >> (64 - bs);
        }
        d->bits[w] = v;
    }
    lad_sum(d);
    if (d->top) d->top += j;
}

/* ... j slots down (slot i to i - j): the bottom j slots are empty. */
static void lad_move_down(lx__lad_t *d, uint32_t j) {
    if (j >= LX__LAD_W) {
        memset(d->lv, 0xff, sizeof d->lv);
        memset(d->bits, 0, sizeof d->bits);
        d->sum = 0;
        d->top = 0;
        return;
    }
    memmove(d->lv, d->lv + j, (LX__LAD_W - j) * sizeof *d->lv);
    memset(d->lv + LX__LAD_W - j, 0xff, j * sizeof *d->lv);
    uint32_t ws = j / 64, bs = j % 64, nw = LX__LAD_W / 64;
    for (uint32_t w = 0; w < nw; w++) {
        uint64_t v = 0;
        if (w + ws < nw) {
            v = d->bits[w + ws] >> bs;
            if (bs && w + ws + 1 < nw) v |= d->bits[w + ws + 1] << (64 - bs);
        }
        d->bits[w] = v;
    }
    lad_sum(d);
    d->top = d->top > j ? d->top - j : 0;
}

/* Room for cnt more entries at the top of the touch array without
 * allocating: a spill first if it is at LX__TOUCH_MAX (it may then hold
 * up to LX__TOUCH_MAX + LX__LAD_W entries until the next new level below
 * the ladder spills it), then the free room moved to the top or a larger
 * array. If an allocation fails, no entry has changed tiers but a spill
 * may have been made (a change of layout only). */
static int far_room_top(lx_engine_t *e, lx__side_t *s, uint32_t cnt) {
    if (s->n >= LX__TOUCH_MAX) {
        int rc = side_spill(e, s);
        side_set_lim(e, s);
        if (rc) return rc;
    }
    if ((uint32_t)s->cap - s->front - s->n >= cnt) return 0;
    if ((uint32_t)s->cap - s->n >= 2 * cnt + 2) {
        side_recenter(s);
        return 0;
    }
    return side_realloc(s, s->n + 2 * cnt + 8u);
}

/* The ladder's levels in slots below k go to the top of the touch array
 * (their keys are above all of its keys), room made first. */
static int lad_evict(lx_engine_t *e, lx__side_t *s, lx__lad_t *d, uint32_t k) {
    uint32_t cnt = 0;
    for (uint32_t w = 0; w < LX__LAD_W / 64 && w * 64 < k; w++) {
        uint64_t b = d->bits[w];
        if (k - w * 64 < 64) b &= (1ull << (k - w * 64)) - 1;
        cnt += (uint32_t)__builtin_popcountll(b);
    }
    if (cnt == 0) return 0;
    int rc = far_room_top(e, s, cnt);
    if (rc) return rc;
    for (uint32_t i = lx__lad_from(d, 0); i < k; i = lx__lad_from(d, i + 1)) {
        s->keys[s->n] = (int64_t)((uint64_t)d->lo + i);
        s->lv[s->n] = d->lv[i];
        s->n++;
    }
    d->n -= cnt;
    side_set_lim(e, s);
    return 0;
}

/* The touch array's entries with keys at or above the ladder's lo move
 * into it, best first (the touch array's last entry is always live; the
 * tombstones uncovered behind it are freed). Allocates nothing. */
static void lad_pull(lx_engine_t *e, lx__side_t *s, lx__lad_t *d) {
    while (s->n > 0 && s->keys[s->n - 1] >= d->lo) {
        s->n--;
        lad_set(d, (uint32_t)((uint64_t)s->keys[s->n] - (uint64_t)d->lo), s->lv[s->n]);
        while (s->n > 0 && tomb_at(e, s->lv, s->n - 1u)) level_release(e, s->lv[--s->n]);
        if (s->n == 0 && s->deep) side_pull(e, s);
    }
    if (s->n < s->cap / 3u && s->cap > 64) side_shrink(e, s);
}

/* An empty ladder placed so that key lands LX__LAD_HEAD slots below its
 * top, then filled from the touch array. */
static void lad_anchor(lx_engine_t *e, lx__side_t *s, lx__lad_t *d, int64_t key) {
    d->lo = lx__lad_lo_for(key);
    lad_pull(e, s, d);
}

/* A side of LX__LAD_ON live levels whose ladder would start with
 * LX__LAD_DENSE entries (lx__lad_worth_it) gets one, at its best level:
 * one of the engine's free ladders, or a new one. */
static int lad_create(lx_engine_t *e, lx__market_t *m, int side) {
    uint32_t i = e->lad_free;
    if (i) {
        e->lad_free = e->lads[i]->next_free;
    } else {
        lx__lad_t **p = lx__array_room(e->lads, e->nlads, &e->lads_cap, sizeof *p, 8);
        if (!p) return LX_ENOMEM;
        e->lads = p;
        if (!(e->lads[e->nlads] = malloc(sizeof(lx__lad_t)))) return LX_ENOMEM;
        i = e->nlads++;
    }
    lx__lad_t *d = e->lads[i];
    memset(d, 0, offsetof(lx__lad_t, lv));
    memset(d->lv, 0xff, sizeof d->lv);
    m->lad[side] = i;
    lx__side_t *s = &m->side[side];
    lad_anchor(e, s, d, s->keys[s->n - 1]);
    side_set_lim(e, s);
    return 0;
}

/* A side down to fewer than LX__LAD_OFF live levels gives its ladder
 * back to the engine's free ones, its levels going to the touch array. */
static int lad_dissolve(lx_engine_t *e, lx__market_t *m, int side) {
    uint32_t i = m->lad[side];
    int rc = lad_evict(e, &m->side[side], e->lads[i], LX__LAD_W);
    if (rc) return rc;
    e->lads[i]->next_free = e->lad_free;
    e->lad_free = i;
    m->lad[side] = 0;
    return 0;
}

/* A key above the ladder: it moves up so that the key lands
 * LX__LAD_HEAD slots below its top; the levels it leaves behind go to
 * the touch array. */
static int lad_raise(lx_engine_t *e, lx__side_t *s, lx__lad_t *d, int64_t key) {
    int64_t lo = lx__lad_lo_for(key);
    uint64_t k = (uint64_t)lo - (uint64_t)d->lo;
    uint32_t kk = k < LX__LAD_W ? (uint32_t)k : LX__LAD_W;
    int rc = lad_evict(e, s, d, kk);
    if (rc) return rc;
    lad_move_down(d, kk);
    d->lo = lo;
    return 0;
}

/* A key below the ladder: if the ladder can move down far enough for it
 * while its best stays LX__LAD_HEAD slots below the top, it does, and
 * takes the touch array's entries it now covers; otherwise the key goes
 * to the touch array or the blocks. An empty ladder is placed anew. */
static void lad_lower(lx_engine_t *e, lx__side_t *s, lx__lad_t *d, int64_t key) {
    if (d->n == 0) {
        lad_anchor(e, s, d, s->n > 0 && s->keys[s->n - 1] > key ? s->keys[s->n - 1] : key);
        return;
    }
    if (d->top >= LX__LAD_W - LX__LAD_HEAD) return;
    uint64_t j = LX__LAD_W - LX__LAD_HEAD - d->top;
    uint64_t room = (uint64_t)d->lo - (uint64_t)INT64_MIN;
    if (j > room) j = room;
    if ((uint64_t)d->lo - (uint64_t)key > j) return;
    lad_move_up(d, (uint32_t)j);
    d->lo = (int64_t)((uint64_t)d->lo - j);
    lad_pull(e, s, d);
}

/* Makes room for one new level at price on the side (lx__book_reserve's
 * slow path): the ladder made, moved or given back as the side's live
 * levels and the key ask, then room in the touch array or blocks if the
 * key lands there, and in the level pool. */
int lx__book_reserve_slow(lx_engine_t *e, lx__market_t *m, int side, int64_t price) {
    lx__side_t *s = &m->side[side];
    int64_t key = lx__key(side, price);
    int rc = 0;
    if (m->lad[side] && s->live < LX__LAD_OFF)
        rc = lad_dissolve(e, m, side);
    else if (!m->lad[side] && s->live >= LX__LAD_ON && lx__lad_worth_it(s))
        rc = lad_create(e, m, side);
    lx__lad_t *d = lx__lad(e, m, side);
    if (!rc && d) {
        if (key < d->lo)
            lad_lower(e, s, d, key);
        else if ((uint64_t)key - (uint64_t)d->lo >= LX__LAD_W)
            rc = lad_raise(e, s, d, key);
    }
    if (rc) return rc;
    if ((!d || key < d->lo) && s->n >= s->lim && side_reserve_slow(e, s, d)) return LX_ENOMEM;
    if (e->level_free == LX__NIL && e->levels_used == e->nlevels_cap) return levels_grow(e);
    return 0;
}

void lx__lads_free(lx_engine_t *e) {
    for (uint32_t i = 1; i < e->nlads; i++) free(e->lads[i]);
    free(e->lads);
    e->lads = NULL;
    e->nlads = e->lads_cap = e->lad_free = 0;
}

/* ---- getting a level, emptying one -------------------------------------- */

/* lx__book_level_get for a key below the touch array: the same rules in
 * the key's block; a full block splits in two (its spare reserved). */
static LX_NOINLINE uint32_t deep_level_get(lx_engine_t *e, lx__side_t *s, uint32_t market, int side,
                                           int64_t price, int64_t key) {
    lx__deep_t *d = &e->deeps[s->deep];
    uint32_t j = deep_block(d, key);
    lx__blk_t *b = d->blk[j];
    uint32_t i = blk_lower_bound(b, key);
    if (i < b->n && b->keys[i] == key) {
        if (tomb_at(e, b->lv, i)) { /* the price is back */
            s->live++;
            d->bdead[j]--;
            d->dead--;
        }
        return b->lv[i];
    }
    uint32_t t = tomb_near(e, b->lv, b->n, i);
    if (t != LX__NIL) {
        b->keys[t] = key;
        if (t == 0) d->bmin[j] = key;
        e->levels[b->lv[t]].price = price;
        s->live++;
        d->bdead[j]--;
        d->dead--;
        return b->lv[t];
    }
    if (b->n == LX__BLK) {
        if (!d->spare || d->nblk == d->cap) return LX__NIL; /* not reserved */
        lx__blk_t *nb = d->spare;
        d->spare = NULL;
        s->lim = 0; /* the next new level reserves another */
        uint32_t h = LX__BLK / 2;
        memcpy(nb->keys, b->keys + h, (LX__BLK - h) * sizeof *b->keys);
        memcpy(nb->lv, b->lv + h, (LX__BLK - h) * sizeof *b->lv);
        nb->n = LX__BLK - h;
        b->n = h;

        memmove(&d->blk[j + 2], &d->blk[j + 1], (size_t)(d->nblk - j - 1) * sizeof *d->blk);
        memmove(&d->bmin[j + 2], &d->bmin[j + 1], (size_t)(d->nblk - j - 1) * sizeof *d->bmin);
        memmove(&d->bdead[j + 2], &d->bdead[j + 1], (size_t)(d->nblk - j - 1) * sizeof *d->bdead);
        d->blk[j + 1] = nb;
        d->bmin[j + 1] = nb->keys[0];
        d->bdead[j + 1] = blk_count_dead(e, nb);
        d->bdead[j] -= d->bdead[j + 1];
        d->nblk++;
        if (i > h) {
            b = nb;
            i -= h;
            j++;
        }
    }
    uint32_t l = level_new(e, market, side, price);
    if (l == LX__NIL) return LX__NIL;
    memmove(&b->keys[i + 1], &b->keys[i], (size_t)(b->n - i) * sizeof *b->keys);
    memmove(&b->lv[i + 1], &b->lv[i], (size_t)(b->n - i) * sizeof *b->lv);
    b->keys[i] = key;
    b->lv[i] = l;
    b->n++;
    if (i == 0) d->bmin[j] = key;
    d->n++;
    s->live++;
    return l;
}

/* A new level without lx__book_reserve first: make the room, then look
 * again (a compaction or a spill moved the entries). */
static LX_NOINLINE uint32_t level_get_unreserved(lx_engine_t *e, lx__market_t *m, uint32_t market,
                                                 int side, int64_t price) {
    if (lx__book_reserve_slow(e, m, side, price)) return LX__NIL;
    return lx__book_level_get(e, m, market, side, price);
}

uint32_t lx__book_level_get(lx_engine_t *e, lx__market_t *m, uint32_t market, int side,
                            int64_t price) {
    lx__side_t *s = &m->side[side];
    int64_t key = lx__key(side, price);
    lx__lad_t *d = lx__lad(e, m, side);
    if (d && key >= d->lo) {
        uint64_t i = (uint64_t)key - (uint64_t)d->lo;
        if (LX_UNLIKELY(i >= LX__LAD_W)) return level_get_unreserved(e, m, market, side, price);
        uint32_t l = d->lv[i];
        if (l != LX__NIL) return l;
        l = level_new(e, market, side, price);
        if (l == LX__NIL) return LX__NIL;
        lad_set(d, (uint32_t)i, l);
        s->live++;
        return l;
    }
    if (LX_UNLIKELY(s->deep != 0) && key < s->keys[0])
        return deep_level_get(e, s, market, side, price, key);
    uint32_t i = side_lower_bound(s, key);
    if (i < s->n && s->keys[i] == key) {
        if (tomb_at(e, s->lv, i)) s->live++; /* the price is back: revive it */
        return s->lv[i];
    }
    /* a tombstone at or just below the key's place: take its entry and its
     * level (keys stay sorted: keys[i-1] < key < keys[i]) */
    uint32_t t = tomb_near(e, s->lv, s->n, i);
    if (t != LX__NIL) {
        s->keys[t] = key;
        e->levels[s->lv[t]].price = price;
        s->live++;
        return s->lv[t];
    }
    if (LX_UNLIKELY(s->n >= s->lim)) return level_get_unreserved(e, m, market, side, price);
    uint32_t l = level_new(e, market, side, price);
    if (l == LX__NIL) return LX__NIL;
    s->live++;
    side_insert(s, i, key, l);
    return l;
}

void lx__book_level_emptied(lx_engine_t *e, uint32_t l) {
    lx__level_t *lv = &e->levels[l];
    lx__market_t *m = &e->markets[lv->market];
    lx__side_t *s = &m->side[lv->side];
    s->live--;
    lx__lad_t *d = lx__lad(e, m, (int)lv->side);
    int64_t key = lx__key((int)lv->side, lv->price);
    if (d && key >= d->lo) {
        /* (an emptied ladder stays where it is, so that what was reserved
         * still holds: the next key outside it places it anew) */
        lad_clear(d, (uint32_t)((uint64_t)key - (uint64_t)d->lo));
        level_release(e, l);
        return;
    }
    if (s->lv[s->n - 1] == l) {
        /* the best level: the common case; uncover the next live one */
        s->n--;
        level_release(e, l);
        while (s->n > 0 && tomb_at(e, s->lv, s->n - 1u)) level_release(e, s->lv[--s->n]);
        if (LX_UNLIKELY(s->n == 0) && s->deep) side_pull(e, s);
    } else if (LX_UNLIKELY(s->deep != 0) && key < s->keys[0]) {
        deep_emptied(e, s, key);
    } else {
        uint32_t live = touch_live(e, s, d);
        if (s->n - live > live / 4 + 16) touch_compact(e, s); /* frees l with the others */
    }
    /* otherwise l stays where it is, a tombstone */
    if (LX_UNLIKELY(s->n < s->cap / 3u && s->cap > 64)) side_shrink(e, s);
}

uint32_t lx__walk_next(const lx_engine_t *e, lx__walk_t *w) {
    if (w->slot) {
        uint32_t i = lx__lad_below(w->d, w->slot);
        if (i != LX__NIL) {
            w->slot = i;
            return w->d->lv[i];
        }
        w->slot = 0;
    }
    for (;;) {
        while (w->i == 0) {
            if (w->seg == 0) return LX__NIL;
            w->i = lx__side_seg(e, w->s, --w->seg, NULL, &w->lv);
        }
        uint32_t l = w->lv[--w->i];
        if (e->levels[l].count) return l;
    }
}
