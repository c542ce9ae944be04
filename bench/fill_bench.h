/*
 * fill_bench.h: the `fill` workload of lxdex-bench (fill_bench.c): an empty
 * engine filled with millions of resting orders, every place timed.
 *
 * lx_bench_fill(n, seed, clearing, thp) places n orders (0: 4,000,000) into
 * an engine whose arenas are on huge pages as thp says (LXB_THP_*, run.h), and
 * prints one RESULT line in the bench's format (bench/main.c), whose
 * p50_ns ... max_ns are the service times of single places (timing=service:
 * a closed loop, nothing queues), plus max_at (the place that took
 * max_ns), over_100us and over_1ms (how many places took longer). Returns
 * 0, or 1 if a run failed (a message on stderr).
 */
#ifndef LXB_FILL_BENCH_H
#define LXB_FILL_BENCH_H

#include <stdbool.h>
#include <stdint.h>

int lx_bench_fill(uint64_t n, uint64_t seed, bool clearing, int thp);

#endif
