/*
 * lx/ring.h: a single-producer single-consumer ring of fixed-size slots.
 *
 * The node's stages (gateways, sequencer + journal, engine shards, publisher)
 * hand work to each other through these rings (ARCHITECTURE.md §4). One
 * thread produces, one thread consumes; neither ever takes a lock, and the
 * memory is allocated once, at creation.
 *
 * Both sides work in batches, and the index a side publishes to the other
 * moves once per batch, not once per slot:
 *
 *   producer                               consumer
 *   k = lx_ring_reserve(r, n);             k = lx_ring_peek(r, n);
 *   for (i < k) fill lx_ring_wslot(r, i);  for (i < k) read lx_ring_rslot(r, i);
 *   lx_ring_commit(r, k);                  lx_ring_release(r, k);
 *
 * reserve/peek never block and may grant fewer than n (0 when the ring is
 * full/empty). The _wait variants spin briefly, then sleep on a futex until
 * at least one slot is granted, the timeout passes or the ring is closed.
 * A side only makes a system call to wake the other side when that side has
 * said it is asleep, so a busy ring makes none.
 *
 * The struct is public so that the slot accessors can be inline; its fields
 * are private to ring.c. Create rings with lx_ring_create() (the struct must
 * be 64-byte aligned).
 */
#ifndef LX_RING_H
#define LX_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_RING_CACHE_LINE 64
#define LX_RING_SPIN_DEFAULT 128 /* pause iterations before a waiting side sleeps */
#define LX_RING_CAPACITY_MAX (UINT32_C(1) << 30)
#define LX_RING_FOREVER (-1) /* timeout_ns: wait without a time limit */

typedef struct lx_ring {
    /* Producer-private: written and read by the producer only. */
    alignas(LX_RING_CACHE_LINE) struct {
        uint64_t pos;        /* next slot to fill; slots < pos are committed */
        uint64_t head_cache; /* the consumer's index as last read */
        uint64_t mask;       /* capacity - 1 (a copy, so the producer reads only this line) */
        size_t stride;
        uint8_t *buf;
        uint32_t reserved; /* slots granted by the last reserve */
        uint32_t spin;
        _Atomic uint64_t sleeps, wakes; /* statistics; written by the producer only */
    } p;
    /* Consumer-private: the mirror image. */
    alignas(LX_RING_CACHE_LINE) struct {
        uint64_t pos;        /* next slot to read; slots < pos are released */
        uint64_t tail_cache; /* the producer's index as last read */
        uint64_t mask;
        size_t stride;
        uint8_t *buf;
        uint32_t peeked; /* slots granted by the last peek */
        uint32_t spin;
        _Atomic uint64_t sleeps, wakes;
    } c;
    /* Published by the producer (committed slots), read by the consumer. */
    alignas(LX_RING_CACHE_LINE) _Atomic uint64_t tail;
    /* Published by the consumer (released slots), read by the producer. */
    alignas(LX_RING_CACHE_LINE) _Atomic uint64_t head;
    /* Sleeping: written only when a side goes to sleep or wakes the other,
     * so in steady state both sides only read this line. */
    alignas(LX_RING_CACHE_LINE) struct {
        _Atomic uint32_t cons_seq;      /* futex word the consumer sleeps on */
        _Atomic uint32_t cons_sleeping; /* 1: the consumer is (about to be) asleep */
        _Atomic uint32_t prod_seq;      /* futex word the producer sleeps on */
        _Atomic uint32_t prod_sleeping;
        _Atomic uint32_t closed;
    } w;
    /* Cold. */
    alignas(LX_RING_CACHE_LINE) uint32_t capacity;
    size_t slot_size;
    void *mem;
} lx_ring_t;

typedef struct {
    uint32_t capacity;        /* slots */
    size_t slot_size;         /* as given to lx_ring_create */
    size_t stride;            /* bytes between slots: slot_size rounded up to 8 */
    uint64_t produced;        /* slots committed so far */
    uint64_t consumed;        /* slots released so far */
    uint64_t producer_sleeps; /* times the producer announced a futex wait on a full ring */
    uint64_t producer_wakes;  /* futex wakes the producer issued to the consumer */
    uint64_t consumer_sleeps;
    uint64_t consumer_wakes;
} lx_ring_stats_t;

/*
 * Creates a ring of `capacity` slots (a power of two, 2 to
 * LX_RING_CAPACITY_MAX) of `slot_size` bytes each (> 0; slots are 8-byte
 * aligned, at a stride of slot_size rounded up to 8). All memory is
 * allocated and touched here. Returns 0, LX_EINVAL or LX_ENOMEM.
 */
int lx_ring_create(lx_ring_t **out, size_t slot_size, uint32_t capacity);
/* Frees the ring. Neither side may be using it any more. NULL is a no-op. */
void lx_ring_destroy(lx_ring_t *r);

/* Pause iterations a waiting side spins before it sleeps (0: sleep at
 * once). Call before the threads start. */
void lx_ring_set_spin(lx_ring_t *r, uint32_t spin);

/* ---- producer side (one thread) ------------------------------------------ */

/* Grants up to n free slots, 0 if the ring is full; never blocks. A second
 * reserve before commit replaces the first grant. */
uint32_t lx_ring_reserve(lx_ring_t *r, uint32_t n);
/* Like lx_ring_reserve, but waits for at least one free slot: returns the
 * number granted (> 0), 0 if timeout_ns passed first (LX_RING_FOREVER: no
 * limit; 0: no wait), or LX_ECLOSED once the ring is closed. */
int lx_ring_reserve_wait(lx_ring_t *r, uint32_t n, int64_t timeout_ns);
/* The i-th granted slot (i < the grant), to be filled before commit. */
static inline void *lx_ring_wslot(lx_ring_t *r, uint32_t i) {
    return r->p.buf + ((r->p.pos + i) & r->p.mask) * r->p.stride;
}
/* Publishes the first n granted slots (n <= the grant; the rest of the
 * grant is dropped). Wakes the consumer if it sleeps. */
void lx_ring_commit(lx_ring_t *r, uint32_t n);

/* ---- consumer side (one thread) ------------------------------------------ */

/* Grants up to n committed slots, oldest first, 0 if the ring is empty;
 * never blocks. */
uint32_t lx_ring_peek(lx_ring_t *r, uint32_t n);
/* Like lx_ring_peek, but waits for at least one slot: returns the number
 * granted (> 0), 0 on timeout, or LX_ECLOSED once the ring is closed and
 * every committed slot has been granted. */
int lx_ring_peek_wait(lx_ring_t *r, uint32_t n, int64_t timeout_ns);
/* The i-th granted slot (i < the grant). Valid until released. */
static inline const void *lx_ring_rslot(const lx_ring_t *r, uint32_t i) {
    return r->c.buf + ((r->c.pos + i) & r->c.mask) * r->c.stride;
}
/* Gives the first n granted slots back to the producer (n <= the grant).
 * Wakes the producer if it sleeps. */
void lx_ring_release(lx_ring_t *r, uint32_t n);

/* ---- either side ---------------------------------------------------------- */

/* Marks the ring closed and wakes both sides. Committed slots can still be
 * peeked; the _wait calls return LX_ECLOSED instead of sleeping. Either
 * side (or a third thread, for shutdown) may call it, once or more. */
void lx_ring_close(lx_ring_t *r);
bool lx_ring_closed(const lx_ring_t *r);

/* Counters, exact once both sides have stopped; approximate while they run. */
void lx_ring_stats(const lx_ring_t *r, lx_ring_stats_t *out);

#endif
