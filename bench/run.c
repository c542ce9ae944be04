/*
 * run.c: the timed loops (see run.h).
 *
 * Throughput: every flow message applied back to back; the loop is timed as
 * a whole with CLOCK_MONOTONIC (two clock reads for n messages) and
 * msgs_per_s = n / elapsed. The messages go to lx_engine_apply_batch in
 * runs of --batch (1,024; with 1, one lx_engine_apply each), as a log
 * replay would hand them over; the only other work is OR-ing the return
 * codes (checked after the loop) and the sink's counting.
 *
 * Latency, without coordinated omission: an in-process benchmark that
 * applies the next message as soon as the previous one returns never lets a
 * queue form, so a 1 ms stall costs one sample and hides the messages that a
 * real gateway would have queued behind it. Here every message i has an
 * intended start t0 + i / rate (an open-loop schedule at the offered rate,
 * by default half the measured throughput); the loop spins until that time
 * if it is early, applies the message, and records completion - intended.
 * After a stall the loop is late for the following messages, starts them at
 * once, and each of them records the wait it would have had in a queue.
 * The service time (completion - actual start) is recorded separately.
 * With --batch above 1 the loop drains what is due as a node drains its
 * queue: the messages whose time has come, up to LXB_LAT_BATCH, go to
 * lx_engine_apply_batch together, and each of them records the end of that
 * call as its completion (pessimistic for all but the last) and the call's
 * mean per message as its service time. At 50% load the queue is nearly
 * always empty and a batch holds one message; it grows only behind a stall.
 * Without this, a workload whose throughput batches raise (many) would be
 * offered half of that rate one message at a time, more than the
 * unbatched path sustains.
 * Timestamps come from lxb_ticks() (rdtsc where invariant, see clock.h);
 * the schedule is computed in ticks with a 32.32 fixed-point period.
 *
 * Every run ends with checks that cost nothing in the timed part: the sink's
 * counters and the engine digest must equal those of the verification pass
 * (gen.c), or the run is reported as a failure (a nondeterministic engine or
 * a run that did not do the work).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>
#include "clock.h"
#include "lx/journal.h"
#include "run.h"

void lxb_counter_emit(void *ctx, const lx_event_t *ev) {
    lxb_counter_fold(ctx, ev);
}

/* Commands per lx_engine_apply_batch call in the throughput runs (1: one
 * lx_engine_apply call each). */
static size_t tput_batch = LXB_BATCH_DEFAULT;

void lxb_run_set_batch(size_t n) {
    tput_batch = n ? n : 1;
}

/* Whether timed engines ask for transparent huge pages (as lxdexd does). */
static int thp;

void lxb_run_set_thp(int mode) {
    thp = mode;
}

void lxb_thp_apply(int mode, lx_engine_t *e) {
    if (mode == LXB_THP_ADVISE) lx_engine_hugepages(e);
    if (mode == LXB_THP_PREFAULT) lx_engine_prefault(e);
}

int lxb_seed_hashes(lx_engine_t *e) {
    uint64_t seed[2];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) return LX_EIO;
    return lx_engine_seed_hashes(e, seed);
}

size_t lxb_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2) return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

uint64_t lxb_preemptions(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_nivcsw;
}

/* A fresh engine holding the workload's setup. Setup events go to a
 * counting sink that is then discarded. */
static lx_engine_t *engine_with_setup(const lxb_workload_t *w) {
    lx_engine_t *e = NULL;
    if (lx_engine_create(&e, &w->cfg) != 0 || lxb_seed_hashes(e) != 0) {
        fprintf(stderr, "lxdex-bench: %s: lx_engine_create failed\n", w->p.name);
        lx_engine_destroy(e);
        return NULL;
    }
    /* advice on the arrays lx_engine_create allocated, before they are
     * touched; after the setup, the mode's full request (the arrays grown
     * by then advised too, and with --prefault the engine sized and mapped) */
    lxb_thp_apply(thp ? LXB_THP_ADVISE : LXB_THP_OFF, e);
    lxb_counter_t k = {0};
    lx_sink_t sink = {lxb_counter_emit, &k};
    lxb_setup_t s;
    lxb_setup_begin(&s, w);
    lx_cmd_t c;
    int bad = 0;
    while (lxb_setup_next(&s, &c)) bad |= lx_engine_apply(e, &c, &sink);
    if (bad || k.rejects) {
        fprintf(stderr, "lxdex-bench: %s: setup failed (%d, %llu rejects)\n", w->p.name, bad,
                (unsigned long long)k.rejects);
        lx_engine_destroy(e);
        return NULL;
    }
    if (thp == LXB_THP_PREFAULT && lx_engine_reserve(e, w->cfg.max_orders)) {
        fprintf(stderr, "lxdex-bench: %s: lx_engine_reserve failed\n", w->p.name);
        lx_engine_destroy(e);
        return NULL;
    }
    lxb_thp_apply(thp, e);
    return e;
}

int lxb_run_throughput(const lxb_workload_t *w, lxb_tput_t *out) {
    memset(out, 0, sizeof *out);
    out->rss_before = lxb_rss_bytes();
    lx_engine_t *e = engine_with_setup(w);
    if (!e) return -1;
    out->rss_after_setup = lxb_rss_bytes();
    lx_engine_stats_t st;
    lx_engine_stats(e, &st);
    out->resting_after_setup = st.orders;

    lx_sink_t sink = {lxb_counter_emit, &out->k};
    const lx_cmd_t *cmds = w->cmds;
    size_t n = w->n;
    int bad = 0;

    uint64_t cs0 = lxb_preemptions();
    uint64_t t0 = lxb_now_ns();
    if (tput_batch == 1) {
        for (size_t i = 0; i < n; i++) bad |= lx_engine_apply(e, &cmds[i], &sink);
    } else {
        for (size_t i = 0; i < n; i += tput_batch) {
            size_t k = n - i < tput_batch ? n - i : tput_batch;
            bad |= lx_engine_apply_batch(e, &cmds[i], k, &sink, NULL);
        }
    }
    uint64_t t1 = lxb_now_ns();
    out->preempted = lxb_preemptions() - cs0;

    out->elapsed_ns = t1 - t0 ? t1 - t0 : 1;
    out->apply_errors = bad;
    out->digest = lx_engine_digest(e);
    lx_engine_destroy(e);
    return 0;
}

/* Message i's intended start: start + i periods (32.32 fixed point). */
static inline uint64_t slot_time(uint64_t start, uint64_t period, size_t i) {
    return start + (uint64_t)(((unsigned __int128)i * period) >> 32);
}

int lxb_run_latency(const lxb_workload_t *w, uint64_t rate, lxb_lat_t *out) {
    lxb_hist_init(&out->lat);
    lxb_hist_init(&out->svc);
    memset(&out->k, 0, sizeof out->k);
    out->behind = 0;
    lx_engine_t *e = engine_with_setup(w);
    if (!e) return -1;

    lx_sink_t sink = {lxb_counter_emit, &out->k};
    const lx_cmd_t *cmds = w->cmds;
    size_t n = w->n;
    int bad = 0;
    if (rate == 0) rate = 1;
    /* ticks per message, 32.32 fixed point */
    uint64_t period = (uint64_t)(((unsigned __int128)lxb_clock.ticks_per_s << 32) / rate);
    uint64_t behind = 0;

    uint64_t cs0 = lxb_preemptions();
    uint64_t n0 = lxb_now_ns();
    uint64_t start = lxb_ticks() + lxb_clock.ticks_per_s / 10000; /* 100 us from now */
    size_t most = tput_batch < LXB_LAT_BATCH ? tput_batch : LXB_LAT_BATCH;
    for (size_t i = 0; i < n;) {
        uint64_t intended = slot_time(start, period, i);
        uint64_t t = lxb_ticks();
        if (t < intended) {
            do {
                lxb_cpu_relax();
                t = lxb_ticks();
            } while (t < intended);
        } else {
            behind++;
        }
        if (most == 1) {
            bad |= lx_engine_apply(e, &cmds[i], &sink);
            uint64_t done = lxb_ticks();
            lxb_hist_record(&out->lat, done - intended);
            lxb_hist_record(&out->svc, done - t);
            i++;
            continue;
        }
        /* the messages already due, applied together; each is charged the
         * batch's end as its completion and the batch's mean as its
         * service time */
        size_t k = 1;
        while (k < most && i + k < n && slot_time(start, period, i + k) <= t) k++;
        behind += k - 1;
        bad |= lx_engine_apply_batch(e, &cmds[i], k, &sink, NULL);
        uint64_t done = lxb_ticks();
        for (size_t j = 0; j < k; j++) {
            lxb_hist_record(&out->lat, done - slot_time(start, period, i + j));
            lxb_hist_record(&out->svc, (done - t) / k);
        }
        i += k;
    }
    uint64_t n1 = lxb_now_ns();
    out->preempted = lxb_preemptions() - cs0;

    out->elapsed_ns = n1 - n0;
    out->behind = behind;
    out->apply_errors = bad;
    out->digest = lx_engine_digest(e);
    lx_engine_destroy(e);
    return 0;
}
