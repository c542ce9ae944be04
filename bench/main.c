/*
 * main.c: lxdex-bench, the command line and the RESULT lines.
 *
 * For each selected workload (workload.c defines them):
 *   1. generate the flow up front, driving a verification engine (gen.c;
 *      untimed), and print its SANITY line to stderr: trades, rejects by
 *      reason, resting orders, what became of resting orders. A workload
 *      that never trades, rejects more than 5% of its messages, or rejects
 *      more than 1% without having asked to (stale cancels) is a broken
 *      benchmark: it is not timed and the exit status is 1;
 *   2. throughput: --repeat runs, each on a fresh engine with the setup
 *      applied untimed; the median is msgs_per_s, the best msgs_per_s_best;
 *   3. latency: one run at the offered rate (--rate, or --rate-pct of the
 *      median throughput) on a fresh engine, completion minus intended start
 *      (run.c explains why);
 *   4. one line on stdout:
 *        RESULT workload=<name> msgs= msgs_per_s= p50_ns= p99_ns= p999_ns=
 *               max_ns= bytes_per_order= <extra keys>
 *      the required keys first, in that order. bytes_per_order is the
 *      engine's own account of its order memory (lx_engine_stats:
 *      bytes_orders) at its high-water mark over the run, divided by the
 *      peak of resting orders, both sampled in the verification pass after
 *      every message (peak_sampling=every_msg) or, in workloads of more
 *      than 64 markets, on each 0.5% rise of the open orders and every
 *      4,096 messages (peak_sampling=sparse: gen.c); rss_bytes_per_order is
 *      the growth of the resident set over engine creation and setup, per
 *      setup order.
 *      Extra keys, after those: msgs_per_s_best and repeat; trades, events,
 *      rejects (verification pass, flow only); rss_bytes_per_order;
 *      peak_orders, peak_sampling, setup_orders, resting_end, markets,
 *      accounts; clearing; offered_rate and achieved_rate of the latency run;
 *      late_msgs (messages that found the loop behind schedule);
 *      preempted_tput and preempted_lat (involuntary context switches
 *      during the timed loops: nonzero means the scheduler stalled the run,
 *      and the latency tail shows it); svc_*_ns (apply time alone, without
 *      queueing); clock; host_stalls_* (a bare loop's gaps per second,
 *      measured once at start, clock.h); seed and flow_hash (the same hash
 *      means the same command stream); check (the sink's checksum over the
 *      flow's events), digest (lx_engine_digest at the end) and
 *      events_hash (every flow event's encoded bytes, gen.c): for the same
 *      flow_hash they must not change when the engine is only made faster.
 * After the single-market workloads (realistic, deep, swing, crash), a
 * `RESULT workload=worst` line: the lowest msgs_per_s and the highest
 * latencies and bytes over those that ran.
 *
 * Every timed run is checked against the verification pass (events, trades,
 * sink checksum, engine digest); a mismatch is a failure, exit status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "hist.h"
#include "run.h"
#include "fill_bench.h"
#include "journal_bench.h"
#include "node_bench.h"
#include "workload.h"

#define MAX_SEL 16

typedef struct {
    const lxb_params_t *sel[MAX_SEL];
    int nsel;
    char journal[MAX_SEL][48]; /* journal workloads, run by lx_bench_journal() */
    int njournal;
    char fill[MAX_SEL][16]; /* fill workloads, run by lx_bench_fill() */
    int nfill;
    uint64_t node_rates[MAX_SEL]; /* --node: offered rates for lx_bench_node() */
    int nnode;
    uint32_t node_seconds;
    int node_auth;           /* LXB_AUTH_* */
    uint32_t node_conns;     /* --node-conns: client connections (0: 1) */
    uint32_t node_threads;   /* --node-threads: binary gateway threads (0: the node's default) */
    uint32_t node_shards;    /* --node-shards: 1 or 2 */
    uint32_t verify_seconds; /* --verify: 0 none */
    uint64_t ws_rates[MAX_SEL];
    int nws;
    uint32_t ws_batch;
    uint64_t msgs;
    int msgs_set;
    uint64_t seed;
    int clearing;
    uint64_t batch; /* --batch */
    int thp;        /* --thp, --prefault: LXB_THP_* */
    int repeat;
    uint64_t rate;
    uint32_t rate_pct;
    int pin; /* -1: no */
    int quick;
    int mono;
    int selftest;
    lxb_jitter_t jit; /* measured once at start */
} opts_t;

typedef struct {
    int n;
    uint64_t msgs, tput;
    uint64_t p50, p99, p999, max, bpo;
    const char *slowest, *worst_p99;
    char over[128];
} worst_t;

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: lxdex-bench [options]\n"
        "  --workload NAME   workload to run; repeatable or a comma list (default: all\n"
        "                    engine workloads; journal workloads: journal, journal_append,\n"
        "                    journal_append_bN, journal_replay, journal_snapshot[_thp],\n"
        "                    journal_recovery[_thp], see bench/journal_bench.h; fill: an\n"
        "                    empty engine filled with 4,000,000 orders over 1,000 markets\n"
        "                    (--msgs), each place timed; fill_wide: 200,000 over one market\n"
        "                    +-500,000 ticks wide; fill_churn: that book, then cancels and\n"
        "                    places in turn; see bench/fill_bench.h)\n"
        "  --msgs N          flow messages per workload (default 5000000; --quick 50000)\n"
        "  --seed N          workload seed (default 1)\n"
        "  --clearing        clearing on: assets, deposits (untimed), funds locked per order\n"
        "  --batch N         throughput runs apply N commands per lx_engine_apply_batch call\n"
        "                    (default 1024); 1: one lx_engine_apply call per message\n"
        "  --thp             the engine's large arenas on transparent huge pages (madvise)\n"
        "  --prefault        the same, and mapped in full before the timed part, as lxdexd\n"
        "                    does at start (thp=2 in RESULT lines)\n"
        "  --node RATES      the node end to end over TCP with fsync, open loop at each offered\n"
        "                    rate (orders/s, comma list); --node-seconds S per rate (default 10)\n"
        "  --node-auth A     dev (logon by account id, default), session (signed logon, the\n"
        "                    engine checks the key) or signed (every order a signed action)\n"
        "  --node-conns C    C client connections (accounts 1..C) share the --node rate (default "
        "1)\n"
        "  --node-threads T  the binary gateway's I/O threads (default: the node's, one per core,\n"
        "                    at most 2); connections are dealt to the threads round robin\n"
        "  --node-shards S   1 (default) or 2 engine threads, each with its journal; with 2,\n"
        "                    client k trades market k %% 2 (BTC-USD shard 0, ETH-USD shard 1)\n"
        "  --verify S        ed25519 signed-action verifications per second on one core, S s\n"
        "  --ws RATES        the node over WebSocket JSON, open loop at each offered rate\n"
        "                    (orders/s); --ws-batch N orders per message (default 1, max 50)\n"
        "  --repeat K        throughput runs per workload; median and best (default 1)\n"
        "  --rate R          offered rate of the latency run, msgs/s\n"
        "  --rate-pct P      offered rate as P%% of the measured throughput (default 50)\n"
        "  --pin [CPU]       pin the process to CPU (default 0)\n"
        "  --quick           small sizes, a smoke test of every workload (a second or two)\n"
        "  --clock-mono      time latency with clock_gettime, not the TSC\n"
        "  --selftest        check the histogram and the PRNG, then exit (--quick does too)\n"
        "  --help            this text\n"
        "\nworkloads:\n");
    for (const lxb_params_t *p = lxb_workloads; p->name; p++)
        fprintf(f,
                "  %-10s %s\n"
                "             markets=%u accounts=%u setup_orders=%llu takers=%.1f%% amends=%.1f%% "
                "stale=%.1f%% depth=%u x %u ticks (%s)\n",
                p->name, p->about, p->markets, p->accounts,
                (unsigned long long)p->markets * 2 * p->setup_per_side, p->taker_ppm / 1e4,
                p->amend_ppm / 1e4, p->stale_ppm / 1e4, p->depth, p->spacing,
                p->uniform_depth ? "uniform" : "power law 1.5");
    fprintf(f, "\nOutput: one `RESULT workload=NAME msgs= msgs_per_s= p50_ns= p99_ns= p999_ns= "
               "max_ns= bytes_per_order= ...` line per workload on stdout, a SANITY line per "
               "workload on stderr. Exit status 1 if a workload is broken (no trades, > 5%% "
               "rejects, > 1%% rejects it did not ask for) or a timed run disagrees with the "
               "verification pass.\n");
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

static int add_workloads(opts_t *o, const char *list) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL; /* strtok_r: "all" recurses */
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "all") == 0) {
            for (const lxb_params_t *p = lxb_workloads; p->name; p++)
                if (add_workloads(o, p->name)) return -1;
            continue;
        }
        if (strncmp(tok, "fill", 4) == 0) { /* fill_bench.c checks the name */
            if (o->nfill < MAX_SEL) snprintf(o->fill[o->nfill++], sizeof o->fill[0], "%s", tok);
            continue;
        }
        if (strncmp(tok, "journal", 7) == 0) { /* journal_bench.c checks the name */
            if (o->njournal < MAX_SEL)
                snprintf(o->journal[o->njournal++], sizeof o->journal[0], "%s", tok);
            continue;
        }
        const lxb_params_t *p = lxb_workload_find(tok);
        if (!p) {
            fprintf(stderr, "lxdex-bench: unknown workload '%s'\n", tok);
            return -1;
        }
        int dup = 0;
        for (int i = 0; i < o->nsel; i++) dup |= o->sel[i] == p;
        if (!dup && o->nsel < MAX_SEL) o->sel[o->nsel++] = p;
    }
    return 0;
}

static int parse_args(opts_t *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->repeat = 1;
    o->batch = LXB_BATCH_DEFAULT;
    o->rate_pct = 50;
    o->pin = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[32];
        const char *eq = strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = 0;
            val = eq + 1;
            a = name;
        }
#define NEED_VAL()                                                                                 \
    do {                                                                                           \
        if (!val) {                                                                                \
            if (i + 1 >= argc) {                                                                   \
                fprintf(stderr, "lxdex-bench: %s needs a value\n", a);                             \
                return -1;                                                                         \
            }                                                                                      \
            val = argv[++i];                                                                       \
        }                                                                                          \
    } while (0)
        uint64_t u;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--workload") == 0 || strcmp(a, "-w") == 0) {
            NEED_VAL();
            if (add_workloads(o, val)) return -1;
        } else if (strcmp(a, "--msgs") == 0) {
            NEED_VAL();
            if (parse_u64(val, &o->msgs) || o->msgs == 0 || o->msgs > 200000000) goto bad;
            o->msgs_set = 1;
        } else if (strcmp(a, "--seed") == 0) {
            NEED_VAL();
            if (parse_u64(val, &o->seed)) goto bad;
        } else if (strcmp(a, "--node") == 0) {
            /* a comma list of offered rates, orders per second */
            NEED_VAL();
            char buf[256];
            snprintf(buf, sizeof buf, "%s", val);
            char *save = NULL;
            for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (parse_u64(tok, &u) || u == 0 || o->nnode >= MAX_SEL) {
                    fprintf(stderr, "lxdex-bench: --node wants rates like 20000,100000\n");
                    return -1;
                }
                o->node_rates[o->nnode++] = u;
            }
        } else if (strcmp(a, "--node-auth") == 0) {
            NEED_VAL();
            if (!strcmp(val, "dev"))
                o->node_auth = LXB_AUTH_DEV;
            else if (!strcmp(val, "session"))
                o->node_auth = LXB_AUTH_SESSION;
            else if (!strcmp(val, "signed"))
                o->node_auth = LXB_AUTH_SIGNED;
            else
                goto bad;
        } else if (strcmp(a, "--node-conns") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 64) goto bad;
            o->node_conns = (uint32_t)u;
        } else if (strcmp(a, "--node-threads") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 7) goto bad;
            o->node_threads = (uint32_t)u;
        } else if (strcmp(a, "--node-shards") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 2) goto bad;
            o->node_shards = (uint32_t)u;
        } else if (strcmp(a, "--ws") == 0) {
            NEED_VAL();
            char buf[256];
            snprintf(buf, sizeof buf, "%s", val);
            char *save = NULL;
            for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (parse_u64(tok, &u) || u == 0 || o->nws >= MAX_SEL) goto bad;
                o->ws_rates[o->nws++] = u;
            }
        } else if (strcmp(a, "--ws-batch") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 50) goto bad;
            o->ws_batch = (uint32_t)u;
        } else if (strcmp(a, "--verify") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 3600) goto bad;
            o->verify_seconds = (uint32_t)u;
        } else if (strcmp(a, "--node-seconds") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 3600) {
                fprintf(stderr, "lxdex-bench: bad --node-seconds\n");
                return -1;
            }
            o->node_seconds = (uint32_t)u;
        } else if (strcmp(a, "--clearing") == 0) {
            o->clearing = 1;
        } else if (strcmp(a, "--thp") == 0) {
            if (o->thp < LXB_THP_ADVISE) o->thp = LXB_THP_ADVISE;
        } else if (strcmp(a, "--prefault") == 0) {
            o->thp = LXB_THP_PREFAULT;
        } else if (strcmp(a, "--batch") == 0) {
            NEED_VAL();
            if (parse_u64(val, &o->batch) || o->batch == 0 || o->batch > 1000000) goto bad;
        } else if (strcmp(a, "--repeat") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 1000) goto bad;
            o->repeat = (int)u;
        } else if (strcmp(a, "--rate") == 0) {
            NEED_VAL();
            if (parse_u64(val, &o->rate) || o->rate == 0) goto bad;
        } else if (strcmp(a, "--rate-pct") == 0) {
            NEED_VAL();
            if (parse_u64(val, &u) || u == 0 || u > 1000) goto bad;
            o->rate_pct = (uint32_t)u;
        } else if (strcmp(a, "--pin") == 0) {
            o->pin = 0;
            if (!val && i + 1 < argc && parse_u64(argv[i + 1], &u) == 0) val = argv[++i];
            if (val) {
                if (parse_u64(val, &u) || u >= CPU_SETSIZE) goto bad;
                o->pin = (int)u;
            }
        } else if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(a, "--selftest") == 0) {
            o->selftest = 1;
        } else if (strcmp(a, "--clock-mono") == 0) {
            o->mono = 1;
        } else {
            fprintf(stderr, "lxdex-bench: unknown option '%s' (try --help)\n", argv[i]);
            return -1;
        }
        continue;
    bad:
        fprintf(stderr, "lxdex-bench: bad value '%s' for %s\n", val, a);
        return -1;
#undef NEED_VAL
    }
    if (o->nsel == 0 && o->njournal == 0 && o->nfill == 0 && o->nnode == 0 &&
        o->verify_seconds == 0 && o->nws == 0 && add_workloads(o, "all"))
        return -1;
    if (!o->msgs_set) o->msgs = o->quick ? 50000 : 5000000;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t per_second(uint64_t n, uint64_t ns) {
    return (uint64_t)((unsigned __int128)n * 1000000000u / (ns ? ns : 1));
}

static double pct(uint64_t a, uint64_t b) {
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void print_sanity(const lxb_workload_t *w, double gen_s) {
    const lxb_verify_t *v = &w->v;
    char rej[512] = "";
    size_t len = 0;
    for (int r = 0; r < LX_REJECT__COUNT; r++)
        if (v->rejects_by[r] && len < sizeof rej - 64)
            len += (size_t)snprintf(rej + len, sizeof rej - len, "%s%s=%llu", len ? "," : "",
                                    lx_reject_name(r), (unsigned long long)v->rejects_by[r]);
    uint64_t closed = v->fate_canceled + v->fate_filled + v->fate_expired;
    fprintf(stderr,
            "SANITY workload=%s msgs=%zu trades=%llu (%.1f per 100 msgs) takers=%llu "
            "cancels=%llu amends=%llu stale=%llu rejects=%llu (%.2f%%%s%s) deliberate=%llu "
            "unexpected=%llu resting_setup=%llu resting_max=%llu resting_end=%llu "
            "rested=%llu fate_canceled=%.1f%% fate_filled=%.1f%% fate_expired=%.1f%% "
            "amended=%.1f%% mid=[%lld,%lld] track_mean=%llu track_max=%llu gen_s=%.2f "
            "digest_ms=%.1f\n",
            w->p.name, w->n, (unsigned long long)v->trades, pct(v->trades, w->n),
            (unsigned long long)v->takers, (unsigned long long)v->cancels,
            (unsigned long long)v->amends, (unsigned long long)v->stale,
            (unsigned long long)v->rejects, pct(v->rejects, w->n), len ? ": " : "", rej,
            (unsigned long long)v->deliberate, (unsigned long long)v->unexpected,
            (unsigned long long)v->resting_setup, (unsigned long long)v->resting_max,
            (unsigned long long)v->resting_end, (unsigned long long)v->rested,
            pct(v->fate_canceled, closed), pct(v->fate_filled, closed),
            pct(v->fate_expired, closed), pct(v->amended, v->rested), (long long)v->mid_lo,
            (long long)v->mid_hi, (unsigned long long)(v->track_n ? v->track_sum / v->track_n : 0),
            (unsigned long long)v->track_max, gen_s, (double)v->digest_ns / 1e6);
}

/* 0 if the workload is worth timing. */
static int sanity_ok(const lxb_workload_t *w) {
    const lxb_verify_t *v = &w->v;
    const char *why = NULL;
    if (v->trades == 0)
        why = "it produced no trades";
    else if (v->rejects * 20 > w->n)
        why = "more than 5% of its messages were rejected";
    else if (v->unexpected * 100 > w->n)
        why = "more than 1% of its messages were rejected unasked";
    if (!why) return 0;
    fprintf(stderr, "lxdex-bench: %s: broken workload, not timed: %s\n", w->p.name, why);
    return -1;
}

static int check_run(const lxb_workload_t *w, const char *what, const lxb_counter_t *k,
                     uint64_t digest, int apply_errors) {
    const lxb_verify_t *v = &w->v;
    if (apply_errors == 0 && k->events == v->sink_events && k->trades == v->sink_trades &&
        k->rejects == v->sink_rejects && k->check == v->sink_check && digest == v->digest)
        return 0;
    fprintf(stderr,
            "lxdex-bench: %s: %s run disagrees with the verification pass: apply errors %d, "
            "events %llu/%llu trades %llu/%llu rejects %llu/%llu check %016llx/%016llx digest "
            "%016llx/%016llx\n",
            w->p.name, what, apply_errors, (unsigned long long)k->events,
            (unsigned long long)v->sink_events, (unsigned long long)k->trades,
            (unsigned long long)v->sink_trades, (unsigned long long)k->rejects,
            (unsigned long long)v->sink_rejects, (unsigned long long)k->check,
            (unsigned long long)v->sink_check, (unsigned long long)digest,
            (unsigned long long)v->digest);
    return -1;
}

static int is_single_market(const lxb_params_t *p) {
    return strcmp(p->name, "realistic") == 0 || strcmp(p->name, "deep") == 0 ||
           strcmp(p->name, "swing") == 0 || strcmp(p->name, "crash") == 0;
}

static int run_workload(const opts_t *o, const lxb_params_t *p, worst_t *worst) {
    lxb_workload_t w;
    if (lxb_workload_init(&w, p, o->seed, o->msgs, o->clearing, o->quick)) {
        fprintf(stderr, "lxdex-bench: %s: out of memory\n", p->name);
        lxb_workload_free(&w);
        return -1;
    }
    int rc = -1;
    lxb_lat_t *lat = NULL;
    uint64_t *tputs = NULL;

    uint64_t g0 = lxb_now_ns();
    if (lxb_generate(&w)) goto out;
    double gen_s = (double)(lxb_now_ns() - g0) / 1e9;
    print_sanity(&w, gen_s);
    if (sanity_ok(&w)) goto out;

    tputs = calloc((size_t)o->repeat, sizeof *tputs);
    lat = malloc(sizeof *lat);
    if (!tputs || !lat) goto out;
    size_t rss_before = 0, rss_after = 0;
    uint64_t resting_setup = 0, tput_preempted = 0;
    for (int r = 0; r < o->repeat; r++) {
        lxb_tput_t t;
        if (lxb_run_throughput(&w, &t)) goto out;
        if (check_run(&w, "throughput", &t.k, t.digest, t.apply_errors)) goto out;
        tputs[r] = per_second(w.n, t.elapsed_ns);
        tput_preempted += t.preempted;
        if (r == 0) {
            rss_before = t.rss_before;
            rss_after = t.rss_after_setup;
            resting_setup = t.resting_after_setup;
        }
    }
    qsort(tputs, (size_t)o->repeat, sizeof *tputs, cmp_u64);
    uint64_t median = tputs[(o->repeat - 1) / 2], best = tputs[o->repeat - 1];
    if (o->repeat % 2 == 0) median = (tputs[o->repeat / 2 - 1] + tputs[o->repeat / 2]) / 2;

    uint64_t rate = o->rate ? o->rate : median / 100 * o->rate_pct;
    if (rate == 0) rate = 1;
    if (lxb_run_latency(&w, rate, lat)) goto out;
    if (check_run(&w, "latency", &lat->k, lat->digest, lat->apply_errors)) goto out;

    uint64_t p50 = lxb_ticks_to_ns(lxb_hist_quantile(&lat->lat, 500000));
    uint64_t p99 = lxb_ticks_to_ns(lxb_hist_quantile(&lat->lat, 990000));
    uint64_t p999 = lxb_ticks_to_ns(lxb_hist_quantile(&lat->lat, 999000));
    uint64_t pmax = lxb_ticks_to_ns(lat->lat.max);
    uint64_t bpo =
        w.v.peak_orders ? (w.v.peak_bytes_orders + w.v.peak_orders / 2) / w.v.peak_orders : 0;
    uint64_t rss_bpo = resting_setup && rss_after > rss_before
                           ? (uint64_t)(rss_after - rss_before) / resting_setup
                           : 0;

    printf("RESULT workload=%s msgs=%zu msgs_per_s=%llu p50_ns=%llu p99_ns=%llu p999_ns=%llu "
           "max_ns=%llu bytes_per_order=%llu",
           p->name, w.n, (unsigned long long)median, (unsigned long long)p50,
           (unsigned long long)p99, (unsigned long long)p999, (unsigned long long)pmax,
           (unsigned long long)bpo);
    printf(
        " msgs_per_s_best=%llu repeat=%d trades=%llu events=%llu rejects=%llu "
        "rss_bytes_per_order=%llu peak_orders=%llu peak_sampling=%s setup_orders=%llu "
        "resting_end=%llu "
        "markets=%u accounts=%u clearing=%d batch=%llu thp=%d offered_rate=%llu achieved_rate=%llu "
        "late_msgs=%llu preempted_tput=%llu preempted_lat=%llu svc_p50_ns=%llu svc_p99_ns=%llu "
        "svc_p999_ns=%llu svc_max_ns=%llu "
        "clock=%s host_stalls_10us_per_s=%llu host_stalls_100us_per_s=%llu "
        "host_stalls_1ms_per_s=%llu host_stall_max_ns=%llu seed=%llu flow_hash=%016llx "
        "check=%016llx digest=%016llx events_hash=%016llx\n",
        (unsigned long long)best, o->repeat, (unsigned long long)w.v.trades,
        (unsigned long long)w.v.events, (unsigned long long)w.v.rejects,
        (unsigned long long)rss_bpo, (unsigned long long)w.v.peak_orders,
        w.p.markets <= LXB_PEAK_EVERY_MSG_MARKETS ? "every_msg" : "sparse",
        (unsigned long long)w.setup_orders, (unsigned long long)w.v.resting_end, w.p.markets,
        w.p.accounts, o->clearing, (unsigned long long)o->batch, o->thp, (unsigned long long)rate,
        (unsigned long long)per_second(w.n, lat->elapsed_ns), (unsigned long long)lat->behind,
        (unsigned long long)tput_preempted, (unsigned long long)lat->preempted,
        (unsigned long long)lxb_ticks_to_ns(lxb_hist_quantile(&lat->svc, 500000)),
        (unsigned long long)lxb_ticks_to_ns(lxb_hist_quantile(&lat->svc, 990000)),
        (unsigned long long)lxb_ticks_to_ns(lxb_hist_quantile(&lat->svc, 999000)),
        (unsigned long long)lxb_ticks_to_ns(lat->svc.max), lxb_clock.name,
        (unsigned long long)o->jit.per_s_10us, (unsigned long long)o->jit.per_s_100us,
        (unsigned long long)o->jit.per_s_1ms, (unsigned long long)o->jit.max_ns,
        (unsigned long long)o->seed, (unsigned long long)w.flow_hash,
        (unsigned long long)w.v.sink_check, (unsigned long long)w.v.digest,
        (unsigned long long)w.v.events_hash);
    fflush(stdout);

    if (is_single_market(p)) {
        if (worst->n == 0 || median < worst->tput) {
            worst->tput = median;
            worst->slowest = p->name;
        }
        if (worst->n == 0 || p99 > worst->p99) {
            worst->p99 = p99;
            worst->worst_p99 = p->name;
        }
        if (p50 > worst->p50) worst->p50 = p50;
        if (p999 > worst->p999) worst->p999 = p999;
        if (pmax > worst->max) worst->max = pmax;
        if (bpo > worst->bpo) worst->bpo = bpo;
        worst->msgs += w.n;
        size_t len = strlen(worst->over);
        snprintf(worst->over + len, sizeof worst->over - len, "%s%s", worst->n ? "," : "", p->name);
        worst->n++;
    }
    rc = 0;
out:
    free(lat);
    free(tputs);
    lxb_workload_free(&w);
    return rc;
}

/* The generators' PRNG must give the same numbers everywhere: a workload is
 * defined by its seed. Published test vectors: xoshiro256** from the state
 * {1, 2, 3, 4}, and splitmix64 from 0. */
static int prng_selftest(void) {
    static const uint64_t want[4] = {11520ull, 0ull, 1509978240ull, 1215971899390074240ull};
    lxb_rng_t r = {{1, 2, 3, 4}};
    for (int i = 0; i < 4; i++) {
        uint64_t got = lxb_next(&r);
        if (got != want[i]) {
            fprintf(stderr, "prng selftest: xoshiro256** output %d is %llu, want %llu\n", i,
                    (unsigned long long)got, (unsigned long long)want[i]);
            return -1;
        }
    }
    uint64_t x = 0;
    if (lxb_splitmix64(&x) != 0xe220a8397b1dcdafull) {
        fprintf(stderr, "prng selftest: splitmix64 is wrong\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    opts_t o;
    if (parse_args(&o, argc, argv)) return 2;
    lxb_run_set_batch(o.batch);
    lxb_run_set_thp(o.thp);
    if (o.pin >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.pin, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            fprintf(stderr, "lxdex-bench: cannot pin to CPU %d: %s\n", o.pin, strerror(errno));
            return 2;
        }
    }
    if (o.selftest || o.quick) {
        if (lxb_hist_selftest() || prng_selftest()) return 1;
        if (o.selftest) {
            printf("selftest ok\n");
            return 0;
        }
    }
    lxb_clock_init(o.quick ? 10 : 100, o.mono);
    lxb_jitter(o.quick ? 20 : 500, &o.jit);

    worst_t worst;
    memset(&worst, 0, sizeof worst);
    int failed = 0;
    for (int i = 0; i < o.nsel; i++) failed |= run_workload(&o, o.sel[i], &worst) != 0;
    for (int i = 0; i < o.njournal; i++)
        failed |= lx_bench_journal(o.journal[i], o.seed, o.quick) != 0;
    for (int i = 0; i < o.nfill; i++) {
        uint64_t n = o.msgs_set ? o.msgs : o.quick ? 20000 : 0;
        failed |= lx_bench_fill(o.fill[i], n, o.seed, o.clearing, o.thp) != 0;
    }
    for (int i = 0; i < o.nnode; i++)
        failed |= lx_bench_node(o.node_rates[i], o.node_seconds ? o.node_seconds : 10, true, o.seed,
                                o.node_auth, o.node_conns, o.node_threads, o.node_shards) != 0;
    if (o.verify_seconds) failed |= lx_bench_verify(o.verify_seconds) != 0;
    for (int i = 0; i < o.nws; i++)
        failed |= lx_bench_ws(o.ws_rates[i], o.node_seconds ? o.node_seconds : 10, o.seed,
                              o.ws_batch ? o.ws_batch : 1) != 0;

    /* the worst case over the single-market workloads only when every
     * selected one ran and passed its checks: a failed one (often the
     * slowest) would otherwise drop out of the minimum silently */
    int nsingle = 0;
    for (int i = 0; i < o.nsel; i++) nsingle += is_single_market(o.sel[i]);
    if (worst.n && worst.n == nsingle && !failed) {
        printf("RESULT workload=worst msgs=%llu msgs_per_s=%llu p50_ns=%llu p99_ns=%llu "
               "p999_ns=%llu max_ns=%llu bytes_per_order=%llu over=%s slowest=%s "
               "worst_p99=%s clearing=%d\n",
               (unsigned long long)worst.msgs, (unsigned long long)worst.tput,
               (unsigned long long)worst.p50, (unsigned long long)worst.p99,
               (unsigned long long)worst.p999, (unsigned long long)worst.max,
               (unsigned long long)worst.bpo, worst.over, worst.slowest, worst.worst_p99,
               o.clearing);
        fflush(stdout);
    }
    return failed ? 1 : 0;
}
