/*
 * journal_bench.h: the journal's workloads of lxdex-bench (journal_bench.c).
 *
 * lx_bench_journal(workload, seed, quick) runs one workload or a family and
 * prints RESULT lines in the bench's format (bench/main.c):
 *
 *   journal              all of the below
 *   journal_append       journal_append_b1, _b16, _b256, _b4096 and
 *                        journal_append_auth_b256: group commit with fsync,
 *                        a batch closing every N commands (a closed loop:
 *                        rates and service times, latency keys na)
 *   journal_append_bN    one batch bound (any N >= 1)
 *   journal_replay       reading a warm journal: CRCs, chain, decoding
 *                        (journal_replay), and the same through the engine
 *                        (journal_replay_apply)
 *   journal_snapshot     snapshot write time and the fork() stall with
 *                        10,000,000 resting orders (quick: 1,000,000), then
 *   journal_recovery     recovery time from that snapshot plus a journal tail
 *                        (journal_snapshot runs both; either name does)
 *   journal_snapshot_thp the same two with the engine's memory in transparent
 *                        huge pages (also journal_recovery_thp)
 *
 * Files go to a fresh directory under $TMPDIR (or /tmp), removed afterwards.
 * Returns 0, 1 if a run failed (a message on stderr), 2 for an unknown
 * workload name.
 */
#ifndef LXB_JOURNAL_BENCH_H
#define LXB_JOURNAL_BENCH_H

#include <stdbool.h>
#include <stdint.h>

int lx_bench_journal(const char *workload, uint64_t seed, bool quick);

#endif
