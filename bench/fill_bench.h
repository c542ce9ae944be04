/*
 * fill_bench.h: the `fill` workloads of lxdex-bench (fill_bench.c): an
 * empty engine filled with resting orders, every place timed.
 *
 * lx_bench_fill(name, n, seed, clearing, thp) places n orders into an empty
 * engine whose arenas are on huge pages as thp says (LXB_THP_*, run.h):
 *   fill       4,000,000 (n 0) over 1,000 markets, 1 to 500 ticks from the
 *              mid, about 1,000 levels a market;
 *   fill_wide  200,000 (n 0) in one market, 1 to 500,000 ticks from the
 *              mid: sides of about 90,000 levels, most new ones far from
 *              the touch (book.c: blocks);
 *   fill_churn the fill_wide book filled untimed, then n commands timed:
 *              a cancel of a random resting order and a new place, in
 *              turn (tombstones and compaction in a deep side);
 * and prints one RESULT line in the bench's format (bench/main.c), whose
 * msgs_per_s is n over the engine's calls alone (a pass with no clock read
 * per call, the commands generated beforehand) and whose p50_ns ... max_ns
 * are the service times of single commands from a second pass on a fresh
 * engine (timing=service: a closed loop, nothing queues), plus max_at (the
 * place that took max_ns), over_100us and over_1ms (how many took
 * longer). Returns
 * 0, 1 if a run failed (a message on stderr), 2 for an unknown name.
 */
#ifndef LXB_FILL_BENCH_H
#define LXB_FILL_BENCH_H

#include <stdbool.h>
#include <stdint.h>

int lx_bench_fill(const char *name, uint64_t n, uint64_t seed, bool clearing, int thp);

#endif
