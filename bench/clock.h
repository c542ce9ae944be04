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

/* A load generator's pacing: when its sender thread waits for the next
 * request's due time (lxb_now_ns), how, and how often.
 *   - Timer slack 1 ns (prctl PR_SET_TIMERSLACK, set by lxb_pacer_init in
 *     the calling thread): Linux's default of 50 us lets every sleep end up
 *     to 50 us past its deadline, on top of the wakeup's own delay, and a
 *     request that leaves late has that lateness in its latency.
 *   - A sleep to an absolute time (clock_nanosleep), then sched_yield()
 *     through the last yield_ns before the due time: an eighth of the gap
 *     between the sender's requests, at most 70 us (about the p99 of a
 *     sleep's overshoot on a loaded two-core VM), so that a request leaves
 *     within a few us of its due time rather than a wakeup's delay after it
 *     (a few us on an idle machine, tens on a loaded one), while the
 *     sender stays asleep for seven eighths of each gap.
 *   - Requests closer together than LXB_PACE_QUANTUM_NS (50 us) are not
 *     woken for one by one: the sender wakes at most once a quantum and
 *     sends what is due by then, without yielding, so that at high rates it
 *     does not take the cores of the node it measures (on a two-core VM,
 *     two senders waking every 10 us or so took a core between them and
 *     raised node_tcp's p99 at 200,000/s from a few ms to 100-200 ms).
 *     Those requests leave up to a quantum (plus a wakeup's delay) late.
 * The senders record how late each request left (send_late_*). */
#define LXB_PACE_QUANTUM_NS 50000ull

typedef struct {
    uint64_t yield_ns; /* yielded through before a due time */
    uint64_t quantum;  /* the least time between wakeups; 0: none */
    uint64_t last;     /* the last wakeup */
} lxb_pacer_t;

/* For a sender whose requests are gap_ns apart; call in its thread. */
void lxb_pacer_init(lxb_pacer_t *p, uint64_t gap_ns);

/* Waits until the request due at due_ns may leave (at once if it is due). */
void lxb_pacer_wait(lxb_pacer_t *p, uint64_t due_ns);

/* CPU time the calling thread has used, in nanoseconds. */
static inline uint64_t lxb_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void lxb_cpu_relax(void) {
#ifdef LXB_HAVE_TSC
    _mm_pause();
#endif
}

#endif
