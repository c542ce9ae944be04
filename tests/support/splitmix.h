/*
 * splitmix.h: the tests' small seeded generator (splitmix64): a state that
 * advances by a constant and a mixing of it, so every seed gives the same
 * sequence on every machine. splitmix_in is uniform enough for tests (the
 * modulo bias is below 2^-40 for their ranges).
 */
#ifndef LX_TESTS_SPLITMIX_H
#define LX_TESTS_SPLITMIX_H

#include <stdint.h>

static inline uint64_t splitmix_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A value in [lo, hi]. */
static inline int64_t splitmix_in(uint64_t *state, int64_t lo, int64_t hi) {
    return lo + (int64_t)(splitmix_next(state) % (uint64_t)(hi - lo + 1));
}

#endif
