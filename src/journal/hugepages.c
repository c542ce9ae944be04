/*
 * hugepages.c: ask for transparent huge pages on the engine's big arenas.
 *
 * Why the journal cares: a snapshot is written by a fork()ed child from the
 * copy-on-write image of the engine (snapfile.c), and the engine is stopped
 * only for the fork itself. fork() copies the page tables, so its cost grows
 * with the number of mapped pages: with 10,000,000 resting orders in 4 KiB
 * pages the stall measured 7.7 ms at the median and 11 ms at worst; with the
 * same memory in 2 MiB pages, 0.6 and 1.2 ms (BENCHMARKS.md).
 *
 * Debian runs transparent huge pages in "madvise" mode: only memory that
 * asks gets them. The engine's arenas come from calloc(), which for large
 * sizes is an untouched anonymous mmap(); advising those mappings makes the
 * pages faulted in afterwards 2 MiB ones (and lets khugepaged collapse the
 * ones already touched). The engine lists its arrays (lx_engine_memory);
 * this advises those of 2 MiB or more: for the engine, the effect of
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 without needing the variable set
 * before the process starts. The core stays free of OS calls; the process
 * that hosts it decides.
 *
 * The price of huge pages is paid at the first touch: a fault clears 2 MiB
 * at once, and on a VM whose host takes back the memory its guest frees
 * (Firecracker with free page reporting, as on our benchmark machines) the
 * host must supply those 2 MiB too: 6 to 10 ms a fault, measured. An engine
 * filling up from empty touches a new 2 MiB of its order arena every 43,690
 * orders, and its level pool and indexes as the book grows: the fill
 * workload (lxdex-bench) had 51 to 91 places over 1 ms with the advice
 * alone and none once the engine was sized for its capacity
 * (lx_engine_reserve) and its arrays mapped at start (lx_engine_prefault),
 * which lxdexd does unless node.prefault_memory is false.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lx/engine.h"
#include "lx/journal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Only the engine's own arrays are advised and mapped, not every large
 * mapping of the process: some are reservations never meant to be backed
 * (a sanitizer's shadow memory is terabytes; mapping it in full is an
 * out-of-memory kill, and advising it makes every shadow page it touches
 * 2 MiB). */
typedef struct {
    uintptr_t page;
    bool map;
    uint64_t bytes;
} walk_t;

static void range(void *ctx, void *start, size_t bytes) {
    walk_t *w = ctx;
    if (bytes < (2u << 20)) return;
    uintptr_t lo = ((uintptr_t)start + w->page - 1) & ~(w->page - 1);
    uintptr_t hi = ((uintptr_t)start + bytes) & ~(w->page - 1);
    if (hi <= lo) return;
    bool advised = madvise((void *)lo, hi - lo, MADV_HUGEPAGE) == 0;
    if (w->map ? madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0 : advised)
        w->bytes += hi - lo;
}

static uint64_t walk(lx_engine_t *e, bool map) {
    long page = sysconf(_SC_PAGESIZE);
    walk_t w = {(uintptr_t)(page > 0 ? page : 4096), map, 0};
    lx_engine_memory(e, range, &w);
    return w.bytes;
}

uint64_t lx_engine_hugepages(lx_engine_t *e) {
    return walk(e, false);
}

uint64_t lx_engine_prefault(lx_engine_t *e) {
    return walk(e, true);
}
