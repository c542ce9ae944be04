/*
 * idx.c: allocation of the hash index.
 *
 * The probing code and the hash (lx__hash2) are inline in idx.h.
 */
#include <stdlib.h>
#include "idx.h"

int lx__idx_init(lx__idx_t *t, uint32_t cap) {
    uint32_t c = 16;
    while (c < cap) c *= 2;
    if (lx__idx_alloc(&t->slots, &t->over, c)) {
        t->slots = NULL;
        t->over = NULL;
        return LX_ENOMEM;
    }
    t->mask = c - 1;
    t->count = 0;
    return 0;
}

void lx__idx_free(lx__idx_t *t) {
    free(t->slots);
    free(t->over);
    t->slots = NULL;
    t->over = NULL;
    t->mask = 0;
    t->count = 0;
}
