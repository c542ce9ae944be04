/*
 * clock.h: the bench's clocks.
 *
 * Two clocks, both monotonic:
 *   - lxb_now_ns(): CLOCK_MONOTONIC in nanoseconds. Used to time whole loops
 *     (throughput) and to calibrate the fast clock.
 *   - lxb_ticks(): the per-message clock of the latency run. On x86-64 with
 *     an invariant TSC (constant_tsc and nonstop_tsc in /proc/cpuinfo) it
 *     is rdtsc (about 10 ns a read, against about 20 for clock_gettime
 *     through the vDSO); anywhere else it is CLOCK_MONOTONIC itself and
 *     one tick is one nanosecond. lxb_clock_init() decides and calibrates
 *     once, before any timed loop.
 *
 * Conversions use 32.32 fixed point (ticks_to_ns) so that nothing in a
 * timed loop divides or uses floating point.
 */
#ifndef LXB_CLOCK_H
#define LXB_CLOCK_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define LXB_HAVE_TSC 1
#endif

typedef struct {
    int use_tsc;          /* 1: ticks are TSC cycles; 0: nanoseconds */
    uint64_t ns_per_tick; /* 32.32 fixed point */
    uint64_t ticks_per_s; /* for rate schedules */
    const char *name;     /* "tsc" or "monotonic" */
} lxb_clock_t;

extern lxb_clock_t lxb_clock;

/* Chooses the tick source and calibrates it (about calib_ms milliseconds).
 * force_mono: never use the TSC. */
void lxb_clock_init(int calib_ms, int force_mono);

/* How often the host takes the CPU away: a bare loop reading the clock for
 * `ms` milliseconds counts the gaps between consecutive reads longer than
 * 10 us, 100 us and 1 ms (per second) and the longest. An open-loop latency
 * run charges every such gap to the messages queued behind it, so this is
 * the floor its tail can show on this machine (VMs: vCPU preemption). */
typedef struct {
    uint64_t per_s_10us, per_s_100us, per_s_1ms;
    uint64_t max_ns;
} lxb_jitter_t;

void lxb_jitter(int ms, lxb_jitter_t *out);

static inline uint64_t lxb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t lxb_ticks(void) {
#ifdef LXB_HAVE_TSC
    if (lxb_clock.use_tsc) return __rdtsc();
#endif
    return lxb_now_ns();
}

static inline uint64_t lxb_ticks_to_ns(uint64_t t) {
    return (uint64_t)(((unsigned __int128)t * lxb_clock.ns_per_tick) >> 32);
}

/* A load generator's pause before its next due request, wait_ns ahead:
 * sleeps, never spins (a spinning client would take one of the machine's
 * two cores from the node); within 20 us of the due time it still sleeps
 * 10 us, so requests leave in small bursts, their latency still counted
 * from their due times. */
static inline void lxb_pause(uint64_t wait_ns) {
    struct timespec ts = {0, (long)(wait_ns > 20000 ? wait_ns - 10000 : 10000)};
    if (wait_ns >= 1000000000) ts.tv_sec = 0, ts.tv_nsec = 999999999;
    nanosleep(&ts, NULL);
}

static inline void lxb_cpu_relax(void) {
#ifdef LXB_HAVE_TSC
    _mm_pause();
#endif
}

#endif
