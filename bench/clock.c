/*
 * clock.c: choosing and calibrating the latency clock (see clock.h).
 *
 * The TSC is used only when the kernel reports it invariant: constant_tsc
 * (its rate does not follow the core's frequency) and nonstop_tsc (it keeps
 * counting in deep sleep states). Calibration counts TSC cycles across a
 * CLOCK_MONOTONIC interval; a virtual machine whose TSC is emulated or
 * unsteady shows up as a rate far from any plausible one, and the bench
 * then falls back to clock_gettime rather than report made-up nanoseconds.
 *
 * Also the load generators' pacing (lxb_pacer_*: clock.h says how and
 * why).
 *
 * What this file does not do: time anything itself, or touch a timed loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include "clock.h"

lxb_clock_t lxb_clock = {0, (uint64_t)1 << 32, 1000000000ull, "monotonic"};

static int cpu_has_invariant_tsc(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int constant = 0, nonstop = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        constant = strstr(line, " constant_tsc") != NULL;
        nonstop = strstr(line, " nonstop_tsc") != NULL;
        break;
    }
    fclose(f);
    return constant && nonstop;
}

void lxb_clock_init(int calib_ms, int force_mono) {
    lxb_clock.use_tsc = 0;
    lxb_clock.ns_per_tick = (uint64_t)1 << 32;
    lxb_clock.ticks_per_s = 1000000000ull;
    lxb_clock.name = "monotonic";
#ifdef LXB_HAVE_TSC
    if (force_mono || !cpu_has_invariant_tsc()) return;
    if (calib_ms < 5) calib_ms = 5;
    uint64_t n0 = lxb_now_ns(), c0 = __rdtsc();
    uint64_t n1, c1;
    do {
        n1 = lxb_now_ns();
        c1 = __rdtsc();
    } while (n1 - n0 < (uint64_t)calib_ms * 1000000ull);
    uint64_t dn = n1 - n0, dc = c1 - c0;
    uint64_t hz = (uint64_t)((unsigned __int128)dc * 1000000000ull / dn);
    /* Plausible TSC rates: 200 MHz to 10 GHz. */
    if (hz < 200000000ull || hz > 10000000000ull) return;
    lxb_clock.use_tsc = 1;
    lxb_clock.ticks_per_s = hz;
    lxb_clock.ns_per_tick = (uint64_t)(((unsigned __int128)dn << 32) / dc);
    lxb_clock.name = "tsc";
#else
    (void)calib_ms;
    (void)force_mono;
#endif
}

void lxb_jitter(int ms, lxb_jitter_t *out) {
    uint64_t t10 = lxb_clock.ticks_per_s / 100000, t100 = t10 * 10, t1m = t100 * 10;
    uint64_t n10 = 0, n100 = 0, n1m = 0, max = 0;
    uint64_t n0 = lxb_now_ns();
    uint64_t start = lxb_ticks(), prev = start;
    uint64_t stop = start + lxb_clock.ticks_per_s / 1000 * (uint64_t)(ms > 0 ? ms : 1);
    while (prev < stop) {
        uint64_t t = lxb_ticks(), d = t - prev;
        prev = t;
        if (d > max) max = d;
        n10 += d > t10;
        n100 += d > t100;
        n1m += d > t1m;
    }
    uint64_t ns = lxb_now_ns() - n0;
    if (ns == 0) ns = 1;
    out->per_s_10us = n10 * 1000000000ull / ns;
    out->per_s_100us = n100 * 1000000000ull / ns;
    out->per_s_1ms = n1m * 1000000000ull / ns;
    out->max_ns = lxb_ticks_to_ns(max);
}

void lxb_pacer_init(lxb_pacer_t *p, uint64_t gap_ns) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    p->last = 0;
    if (gap_ns < LXB_PACE_QUANTUM_NS) {
        p->quantum = LXB_PACE_QUANTUM_NS;
        p->yield_ns = 0;
    } else {
        p->quantum = 0;
        p->yield_ns = gap_ns / 8 < 70000 ? gap_ns / 8 : 70000;
    }
}

void lxb_pacer_wait(lxb_pacer_t *p, uint64_t due_ns) {
    uint64_t wake = due_ns;
    if (p->quantum && wake < p->last + p->quantum) wake = p->last + p->quantum;
    uint64_t now = lxb_now_ns();
    if (now < wake) {
        if (wake - now > p->yield_ns) {
            uint64_t t = wake - p->yield_ns;
            struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
            }
        }
        while ((now = lxb_now_ns()) < wake) sched_yield();
    }
    p->last = now;
}
