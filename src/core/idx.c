/*
 * idx.c: allocation and the deep check of the hash index.
 *
 * The layout, the probing code and the hash (lx__hash2) are inline in
 * idx.h; here are the constructor, the destructor and lx__idx_validate.
 * A table starts with the fewest buckets (at least 2) that hold `cap`
 * entries within the load bound, so an owner that knows its size never
 * grows. The owner passes the function that gives the hash of the key a
 * value names (the table keeps 8 bits of it; growing needs the rest) and
 * its first argument, normally the engine.
 */
#include <stdlib.h>
#include "idx.h"

int lx__idx_init(lx__idx_t *t, uint32_t cap, lx__idx_hash_fn hash, const void *ctx) {
    uint64_t per = (uint64_t)LX__IDX_B * LX__IDX_LOAD_NUM; /* entries in DEN buckets */
    uint64_t nb = ((uint64_t)cap * LX__IDX_LOAD_DEN + per - 1) / per;
    if (nb < 2) nb = 2;
    t->hash = hash;
    t->ctx = ctx;
    t->nb = 0;
    t->count = 0;
    if (nb > LX__IDX_MAX_NB || !(t->bkt = lx__idx_alloc((uint32_t)nb))) {
        t->bkt = NULL;
        return LX_ENOMEM;
    }
    t->nb = (uint32_t)nb;
    return 0;
}

void lx__idx_free(lx__idx_t *t) {
    free(t->bkt);
    t->bkt = NULL;
    t->nb = 0;
    t->count = 0;
}

/* Recounts everything the table keeps incrementally, asking the owner for
 * each entry's hash: count, each tag, each distance hint, each over count
 * (a count of 255 may stand for fewer: it is sticky), the load bound. */
int lx__idx_validate(const lx__idx_t *t) {
    if (t->nb < 2 || !t->bkt || !lx__idx_fits(t->count, t->nb)) return LX_ECORRUPT;
    uint32_t *over = calloc(t->nb, sizeof *over), n = 0;
    if (!over) return LX_ENOMEM;
    int rc = 0;
    for (uint32_t b = 0; b < t->nb && !rc; b++) {
        const lx__idx_bucket_t *s = &t->bkt[b];
        for (uint32_t j = 0; j < LX__IDX_B && !rc; j++) {
            uint32_t hint = lx__idx_hints(s) >> (2 * j) & 3;
            if (!s->tag[j]) {
                if (hint) rc = LX_ECORRUPT;
                continue;
            }
            n++;
            uint64_t h = t->hash(t->ctx, s->val[j]);
            uint32_t d = 0;
            for (uint32_t p = lx__idx_home(h, t->nb); p != b; p = p + 1 == t->nb ? 0 : p + 1, d++)
                over[p]++;
            if (s->tag[j] != lx__idx_tag(h) || hint != (d < 3 ? d : 3)) rc = LX_ECORRUPT;
        }
    }
    for (uint32_t b = 0; b < t->nb && !rc; b++) {
        uint32_t o = lx__idx_over(&t->bkt[b]);
        if (o != 255 && o != over[b]) rc = LX_ECORRUPT;
    }
    if (!rc && n != t->count) rc = LX_ECORRUPT;
    free(over);
    return rc;
}
