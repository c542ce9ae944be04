/*
 * idx.c: allocation of the hash index and the hash function.
 *
 * The probing code is inline in idx.h. The hash is a 64-bit finalizer
 * (murmur3's fmix64) over the two key words: keys here are small integers
 * (account, asset, client id, deposit id) that a client can choose, so the
 * mix must spread sequential and patterned keys; a client who picks keys to
 * collide can lengthen only the probes of its own entries' cluster.
 */
#include <stdlib.h>
#include "idx.h"

static uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t lx__hash2(uint64_t a, uint64_t b) {
    return fmix64(a * 0x9e3779b97f4a7c15ULL ^ fmix64(b + 0x632be59bd9b4e019ULL));
}

int lx__idx_init(lx__idx_t *t, uint32_t cap) {
    uint32_t c = 16;
    while (c < cap) c *= 2;
    t->slots = calloc(c, sizeof *t->slots);
    if (!t->slots) return LX_ENOMEM;
    t->mask = c - 1;
    t->count = 0;
    return 0;
}

void lx__idx_free(lx__idx_t *t) {
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->count = 0;
}
