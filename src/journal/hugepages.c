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
 * ones already touched). This walks /proc/self/maps and advises every
 * anonymous read-write mapping of at least min_bytes: the same effect as
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1, without needing the variable set
 * before the process starts. The core stays free of OS calls; the process
 * that hosts it decides.
 *
 * The price of huge pages is paid at the first touch: a fault clears 2 MiB
 * at once, and on a VM whose host takes back the memory its guest frees
 * (Firecracker with free page reporting, as on our benchmark machines) the
 * host must supply those 2 MiB too: 6 to 10 ms a fault, measured. An engine
 * filling up from empty touches a new 2 MiB of its order arena every 43,690
 * orders: the fill workload (lxdex-bench) had 92 places over 1 ms with the
 * advice alone and none once the arenas were mapped at start
 * (lx_hugepages_prefault, which lxdexd calls unless node.prefault_memory is
 * false). Arrays the engine grows later are new mappings, not advised: they
 * fault in 4 KiB pages, about 2 us each.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include "lx/journal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Advises huge pages on every anonymous read-write mapping of at least
 * min_bytes, and with populate maps each one advised in full (as if every
 * page were written; the calloc'd arenas stay zero). Returns the bytes
 * advised, or with populate the bytes mapped. */
static uint64_t walk(size_t min_bytes, bool populate) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[512];
    uint64_t total = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, ino;
        char perms[8];
        unsigned long long off;
        unsigned dmaj, dmin;
        int n = 0;
        if (sscanf(line, "%lx-%lx %7s %llx %x:%x %lu %n", &lo, &hi, perms, &off, &dmaj, &dmin, &ino,
                   &n) < 7)
            continue;
        bool anon = ino == 0 && (line[n] == '\n' || line[n] == 0);
        if (!anon || perms[0] != 'r' || perms[1] != 'w' || hi - lo < min_bytes) continue;
        if (madvise((void *)lo, hi - lo, MADV_HUGEPAGE) != 0) continue;
        if (!populate || madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0) total += hi - lo;
    }
    fclose(f);
    return total;
}

uint64_t lx_hugepages_advise(size_t min_bytes) {
    return walk(min_bytes, false);
}

uint64_t lx_hugepages_prefault(size_t min_bytes) {
    return walk(min_bytes, true);
}
