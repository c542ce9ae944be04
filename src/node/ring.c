/*
 * ring.c: the single-producer single-consumer ring between node stages.
 *
 * Data structure. A power-of-two array of fixed-size slots and two 64-bit
 * counters that only grow: `tail` (slots the producer has committed) and
 * `head` (slots the consumer has released). Slot i lives at index
 * i & (capacity - 1). The ring holds tail - head slots; it is empty when
 * they are equal and full when they differ by the capacity. 64-bit counters
 * never wrap in practice (2^64 slots), so there is no ABA case to handle.
 *
 * Invariants. head <= tail <= head + capacity. Only the producer stores
 * tail and only the consumer stores head, each with release order after
 * touching the slots; each side reads the other's counter with acquire
 * order. So the consumer never sees a slot before its contents, and the
 * producer never overwrites a slot the consumer is still reading.
 *
 * Cost, and why it is shaped this way. On these two-core machines the
 * expensive part of a ring is not the copying but the cache line that
 * moves between cores whenever one side reads a counter the other side has
 * just written (ARCHITECTURE.md §4: a matcher handing reports over one at a
 * time fell from ~9 to ~3 M msgs/s when that round trip got slow). Hence:
 *   - each counter sits alone on its own cache line, and each side's
 *     private state (its position, its cached copy of the other counter,
 *     and copies of the constants) on another, so no write of one side
 *     invalidates a line the other side reads for an unrelated reason;
 *   - each side caches the other's counter and reads the real one only
 *     when the cached value cannot satisfy the request;
 *   - each side publishes its counter once per batch (commit n, release n),
 *     so a batch of k slots costs one line transfer each way, not k.
 *
 * Waiting. A side that finds nothing to do spins a bounded number of pause
 * iterations (LX_RING_SPIN_DEFAULT, tunable), then sleeps on a futex: stages
 * may outnumber cores, and a spinning idle stage would steal the core a
 * busy one needs. The handshake is an event count:
 *
 *   sleeper                              waker (after publishing its counter)
 *   s = seq                              store counter (release)
 *   sleeping = 1                         fence (seq_cst)
 *   fence (seq_cst)                      if sleeping: sleeping = 0,
 *   recheck the counter; if work: go                  seq++, futex_wake(seq)
 *   futex_wait(seq, s)
 *
 * The two fences guarantee that the waker sees sleeping == 1 or the sleeper
 * sees the new counter (the store-buffer litmus test), and futex_wait
 * returns at once if seq moved after the sleeper read it, so no wake-up is
 * lost. The fast path of commit/release therefore costs one fence and one
 * read of a line that is only written when somebody sleeps: no system call.
 *
 * Ownership. lx_ring_create allocates the struct and the slots (64-byte
 * aligned, zeroed so every page is touched before the hot path runs);
 * lx_ring_destroy frees both. The slots belong to the producer between
 * reserve and commit and to the consumer between peek and release.
 *
 * Deliberately not here: multiple producers or consumers, variable-size
 * records, blocking on several rings at once (a stage that consumes two
 * rings polls them and sleeps on one), and any knowledge of what the slots
 * hold.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "lx/error.h"
#include "lx/ring.h"

#ifdef LX_DEBUG
#include <assert.h>
#define RING_ASSERT(x) assert(x)
#else
#define RING_ASSERT(x) ((void)0)
#endif

_Static_assert(sizeof(((lx_ring_t *)0)->p) <= LX_RING_CACHE_LINE, "producer line overflows");
_Static_assert(sizeof(((lx_ring_t *)0)->c) <= LX_RING_CACHE_LINE, "consumer line overflows");
_Static_assert(sizeof(((lx_ring_t *)0)->w) <= LX_RING_CACHE_LINE, "wait line overflows");

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* A counter written by one thread and read by others: no RMW needed. */
static inline void bump(_Atomic uint64_t *x) {
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps while *word == expect, at most timeout_ns (< 0: no limit). Returns
 * on a wake, a spurious wake-up, a signal, a changed word or the timeout;
 * the caller rechecks its condition in every case. */
static void futex_wait(_Atomic uint32_t *word, uint32_t expect, int64_t timeout_ns) {
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expect, tp, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int n) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- lifetime ---------------------------------------------------------- */

int lx_ring_create(lx_ring_t **out, size_t slot_size, uint32_t capacity) {
    if (!out) return LX_EINVAL;
    *out = NULL;
    if (slot_size == 0 || slot_size > SIZE_MAX / 2 || capacity < 2 ||
        capacity > LX_RING_CAPACITY_MAX || (capacity & (capacity - 1)) != 0)
        return LX_EINVAL;
    size_t stride = (slot_size + 7) & ~(size_t)7;
    if (stride > (SIZE_MAX - LX_RING_CACHE_LINE) / capacity) return LX_EINVAL;
    size_t bytes = stride * capacity;
    bytes = (bytes + LX_RING_CACHE_LINE - 1) & ~(size_t)(LX_RING_CACHE_LINE - 1);

    lx_ring_t *r = aligned_alloc(LX_RING_CACHE_LINE, sizeof *r);
    if (!r) return LX_ENOMEM;
    memset(r, 0, sizeof *r);
    r->mem = aligned_alloc(LX_RING_CACHE_LINE, bytes);
    if (!r->mem) {
        free(r);
        return LX_ENOMEM;
    }
    memset(r->mem, 0, bytes); /* touch every page now, not on the hot path */
    r->capacity = capacity;
    r->slot_size = slot_size;
    r->p.mask = r->c.mask = capacity - 1;
    r->p.stride = r->c.stride = stride;
    r->p.buf = r->c.buf = r->mem;
    r->p.spin = r->c.spin = LX_RING_SPIN_DEFAULT;
    atomic_store(&r->tail, 0);
    atomic_store(&r->head, 0);
    *out = r;
    return 0;
}

void lx_ring_destroy(lx_ring_t *r) {
    if (!r) return;
    free(r->mem);
    free(r);
}

void lx_ring_set_spin(lx_ring_t *r, uint32_t spin) {
    r->p.spin = spin;
    r->c.spin = spin;
}

bool lx_ring_closed(const lx_ring_t *r) {
    return atomic_load_explicit(&((lx_ring_t *)r)->w.closed, memory_order_acquire) != 0;
}

void lx_ring_close(lx_ring_t *r) {
    atomic_store_explicit(&r->w.closed, 1, memory_order_seq_cst);
    /* Unconditional: whoever sleeps rechecks `closed` after reading its
     * seq, so moving both seqs after the store leaves nobody asleep. */
    atomic_fetch_add_explicit(&r->w.cons_seq, 1, memory_order_release);
    atomic_fetch_add_explicit(&r->w.prod_seq, 1, memory_order_release);
    futex_wake(&r->w.cons_seq, INT_MAX);
    futex_wake(&r->w.prod_seq, INT_MAX);
}

void lx_ring_stats(const lx_ring_t *r, lx_ring_stats_t *out) {
    lx_ring_t *m = (lx_ring_t *)r; /* atomics are read-only here */
    memset(out, 0, sizeof *out);
    out->capacity = r->capacity;
    out->slot_size = r->slot_size;
    out->stride = r->p.stride;
    out->produced = atomic_load_explicit(&m->tail, memory_order_acquire);
    out->consumed = atomic_load_explicit(&m->head, memory_order_acquire);
    out->producer_sleeps = atomic_load_explicit(&m->p.sleeps, memory_order_relaxed);
    out->producer_wakes = atomic_load_explicit(&m->p.wakes, memory_order_relaxed);
    out->consumer_sleeps = atomic_load_explicit(&m->c.sleeps, memory_order_relaxed);
    out->consumer_wakes = atomic_load_explicit(&m->c.wakes, memory_order_relaxed);
}

/* ---- producer ---------------------------------------------------------- */

uint32_t lx_ring_reserve(lx_ring_t *r, uint32_t n) {
    uint64_t cap = r->p.mask + 1;
    uint64_t free_ = r->p.head_cache + cap - r->p.pos;
    if (free_ < n) {
        r->p.head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        free_ = r->p.head_cache + cap - r->p.pos;
    }
    uint32_t k = free_ < n ? (uint32_t)free_ : n;
    r->p.reserved = k;
    return k;
}

void lx_ring_commit(lx_ring_t *r, uint32_t n) {
    RING_ASSERT(n <= r->p.reserved);
    r->p.reserved = 0;
    if (n == 0) return;
    r->p.pos += n;
    atomic_store_explicit(&r->tail, r->p.pos, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&r->w.cons_sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&r->w.cons_sleeping, 0, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&r->w.cons_seq, 1, memory_order_release);
        futex_wake(&r->w.cons_seq, 1);
        bump(&r->p.wakes);
    }
}

/*
 * The waiting loop shared by both sides: `try` is reserve or peek, `seq` and
 * `sleeping` the sleeping side's futex word and flag.
 */
typedef uint32_t (*try_fn)(lx_ring_t *r, uint32_t n);

/*
 * On a closed ring the producer gets LX_ECLOSED at once; the consumer first
 * drains what was committed before the close (the acquire load of `closed`
 * orders the following reload of `tail` after the producer's last commit).
 */
static int closed_result(lx_ring_t *r, uint32_t n, try_fn try, bool producer) {
    uint32_t k = producer ? 0 : try(r, n);
    if (producer) r->p.reserved = 0;
    return k ? (int)k : LX_ECLOSED;
}

static int wait_for(lx_ring_t *r, uint32_t n, int64_t timeout_ns, try_fn try, bool producer,
                    uint32_t spin, _Atomic uint32_t *seq, _Atomic uint32_t *sleeping,
                    _Atomic uint64_t *sleeps) {
    if (atomic_load_explicit(&r->w.closed, memory_order_acquire))
        return closed_result(r, n, try, producer);
    uint32_t k = try(r, n);
    if (k || n == 0 || timeout_ns == 0) return (int)k;

    for (uint32_t i = 0; i < spin; i++) {
        cpu_relax();
        if ((k = try(r, n))) return (int)k;
        /* acquire, as closed_result() requires: the producer's last commit
         * is seen once its close is */
        if (atomic_load_explicit(&r->w.closed, memory_order_acquire))
            return closed_result(r, n, try, producer);
    }

    int64_t deadline = timeout_ns > 0 ? now_ns() + timeout_ns : 0;
    for (;;) {
        uint32_t s = atomic_load_explicit(seq, memory_order_acquire);
        atomic_store_explicit(sleeping, 1, memory_order_relaxed);
        /* counted when announced: the other side may answer the flag with a
         * wake even if this side then finds work and never sleeps, so only
         * announcements bound the wakes */
        bump(sleeps);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&r->w.closed, memory_order_acquire)) {
            atomic_store_explicit(sleeping, 0, memory_order_relaxed);
            return closed_result(r, n, try, producer);
        }
        if ((k = try(r, n))) {
            atomic_store_explicit(sleeping, 0, memory_order_relaxed);
            return (int)k;
        }
        int64_t left = -1;
        if (timeout_ns > 0) {
            left = deadline - now_ns();
            if (left <= 0) {
                atomic_store_explicit(sleeping, 0, memory_order_relaxed);
                return 0;
            }
        }
        futex_wait(seq, s, left);
        atomic_store_explicit(sleeping, 0, memory_order_relaxed);
        if (atomic_load_explicit(&r->w.closed, memory_order_acquire))
            return closed_result(r, n, try, producer);
        if ((k = try(r, n))) return (int)k;
    }
}

int lx_ring_reserve_wait(lx_ring_t *r, uint32_t n, int64_t timeout_ns) {
    return wait_for(r, n, timeout_ns, lx_ring_reserve, true, r->p.spin, &r->w.prod_seq,
                    &r->w.prod_sleeping, &r->p.sleeps);
}

/* ---- consumer ---------------------------------------------------------- */

uint32_t lx_ring_peek(lx_ring_t *r, uint32_t n) {
    uint64_t avail = r->c.tail_cache - r->c.pos;
    if (avail < n) {
        r->c.tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        avail = r->c.tail_cache - r->c.pos;
    }
    uint32_t k = avail < n ? (uint32_t)avail : n;
    r->c.peeked = k;
    return k;
}

void lx_ring_release(lx_ring_t *r, uint32_t n) {
    RING_ASSERT(n <= r->c.peeked);
    r->c.peeked = 0;
    if (n == 0) return;
    r->c.pos += n;
    atomic_store_explicit(&r->head, r->c.pos, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&r->w.prod_sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&r->w.prod_sleeping, 0, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&r->w.prod_seq, 1, memory_order_release);
        futex_wake(&r->w.prod_seq, 1);
        bump(&r->c.wakes);
    }
}

int lx_ring_peek_wait(lx_ring_t *r, uint32_t n, int64_t timeout_ns) {
    return wait_for(r, n, timeout_ns, lx_ring_peek, false, r->c.spin, &r->w.cons_seq,
                    &r->w.cons_sleeping, &r->c.sleeps);
}
