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
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include "lx/journal.h"

uint64_t lx_hugepages_advise(size_t min_bytes) {
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
        if (madvise((void *)lo, hi - lo, MADV_HUGEPAGE) == 0) total += hi - lo;
    }
    fclose(f);
    return total;
}
