/*
 * prng.h: the benchmark's own random numbers (never rand()).
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that any
 * 64-bit seed, 0 included, gives a good state. Every generator in the bench
 * owns one of these, seeded from (--seed, a fixed stream tag), so a workload
 * is a pure function of its seed and its size: the same command array on
 * every machine and every run. Integer arithmetic only: no floating point
 * enters a workload, so libm differences cannot change one.
 *
 * Ranges use Lemire's multiply-shift reduction (a bias below 2^-32 for the
 * ranges used here, irrelevant for a benchmark, and no division).
 */
#ifndef LXB_PRNG_H
#define LXB_PRNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} lxb_rng_t;

static inline uint64_t lxb_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A 64-bit mix of two values: per-market constants derived from the seed. */
static inline uint64_t lxb_mix(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ull);
    return lxb_splitmix64(&x);
}

static inline void lxb_rng_seed(lxb_rng_t *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
    for (int i = 0; i < 4; i++) r->s[i] = lxb_splitmix64(&x);
}

static inline uint64_t lxb_rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t lxb_next(lxb_rng_t *r) {
    uint64_t *s = r->s;
    uint64_t out = lxb_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = lxb_rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n), n >= 1. */
static inline uint32_t lxb_below(lxb_rng_t *r, uint32_t n) {
    return (uint32_t)(((lxb_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, n) for 64-bit n. */
static inline uint64_t lxb_below64(lxb_rng_t *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)lxb_next(r) * n) >> 64);
}

/* True with probability ppm / 1,000,000. */
static inline int lxb_ppm(lxb_rng_t *r, uint32_t ppm) {
    return lxb_below(r, 1000000) < ppm;
}

/* Log-uniform integer in [min, max] (1 <= min): an octave of min * 2^k is
 * chosen uniformly, then a value inside it, so small sizes dominate and
 * large ones still occur. */
static inline int64_t lxb_logu2(lxb_rng_t *r, int64_t min, int64_t max) {
    if (min < 1) min = 1;
    if (max <= min) return min;
    int bits = 63 - __builtin_clzll((uint64_t)(max / min)); /* floor(log2 max/min) */
    int k = (int)lxb_below(r, (uint32_t)bits + 1);
    int64_t lo = min << k;
    int64_t hi = (min << (k + 1)) - 1;
    if (hi > max) hi = max;
    return lo + (int64_t)lxb_below64(r, (uint64_t)(hi - lo + 1));
}

static inline int64_t lxb_logu(lxb_rng_t *r, int64_t max) {
    return lxb_logu2(r, 1, max);
}

#endif
