/*
 * test_ring.c: the single-producer single-consumer ring (src/node/ring.c).
 *
 * Single-threaded: argument checks, grants at the edges (full, empty,
 * partial, wrap-around), and that a ring nobody sleeps on makes no wake-up
 * call. Two threads: a stream of tens of millions of slots in random batch
 * sizes, checked for order and content (the number scales with
 * LX_TEST_SCALE or TEST_SCALE, and is smaller under AddressSanitizer); the
 * same stream through a tiny ring that never spins, so nearly every wait is
 * a futex sleep and a lost wake-up would hang; and the wake-up paths one by
 * one: a sleeping consumer woken by a commit, a sleeping producer woken by
 * a release, timeouts, and close waking both sides. An alarm turns a hang
 * into a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lx/error.h"
#include "lx/ring.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    uint64_t seq;
    uint64_t check;
} item_t;

static uint64_t check_of(uint64_t seq) {
    return (seq * 0x9E3779B97F4A7C15ull) ^ 0x5bd1e995ull;
}

static double test_scale(void) {
    const char *s = getenv("LX_TEST_SCALE");
    if (!s || !*s) s = getenv("TEST_SCALE");
    if (!s || !*s) return 1.0;
    double v = strtod(s, NULL);
    return v > 0 ? v : 1.0;
}

static uint64_t scaled(uint64_t base) {
    uint64_t n = (uint64_t)((double)base * test_scale());
    return n ? n : 1;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static lx_ring_t *make_ring(size_t slot, uint32_t cap) {
    lx_ring_t *r = NULL;
    assert_int_equal(lx_ring_create(&r, slot, cap), 0);
    assert_non_null(r);
    return r;
}

static lx_ring_stats_t stats_of(const lx_ring_t *r) {
    lx_ring_stats_t st;
    lx_ring_stats(r, &st);
    return st;
}

/* Waits (up to 10 s) until *counter of the ring's stats is at least want. */
static void await_stat(const lx_ring_t *r, size_t offset, uint64_t want) {
    for (int i = 0; i < 10000; i++) {
        lx_ring_stats_t st = stats_of(r);
        uint64_t v;
        memcpy(&v, (const char *)&st + offset, sizeof v);
        if (v >= want) return;
        sleep_ms(1);
    }
    fail_msg("ring statistic at offset %zu never reached %llu", offset, (unsigned long long)want);
}

/* ---- single thread ------------------------------------------------------ */

static void test_create_rejects_bad_arguments(void **state) {
    (void)state;
    lx_ring_t *r = (lx_ring_t *)1;
    assert_int_equal(lx_ring_create(NULL, 8, 16), LX_EINVAL);
    assert_int_equal(lx_ring_create(&r, 8, 0), LX_EINVAL);
    assert_null(r);
    assert_int_equal(lx_ring_create(&r, 8, 1), LX_EINVAL);
    assert_int_equal(lx_ring_create(&r, 8, 3), LX_EINVAL);
    assert_int_equal(lx_ring_create(&r, 8, 1000), LX_EINVAL);
    assert_int_equal(lx_ring_create(&r, 8, LX_RING_CAPACITY_MAX * 2u), LX_EINVAL);
    assert_int_equal(lx_ring_create(&r, 0, 16), LX_EINVAL);
    assert_int_equal(lx_ring_create(&r, SIZE_MAX / 4, 1u << 20), LX_EINVAL);
    lx_ring_destroy(NULL);

    r = make_ring(5, 2);
    lx_ring_stats_t st = stats_of(r);
    assert_int_equal(st.capacity, 2);
    assert_int_equal(st.slot_size, 5);
    assert_int_equal(st.stride, 8);
    assert_int_equal((uintptr_t)r % LX_RING_CACHE_LINE, 0);
    /* The counters sit on different cache lines from each other and from
     * both sides' private state. */
    uintptr_t tail = (uintptr_t)&r->tail, head = (uintptr_t)&r->head;
    uintptr_t p = (uintptr_t)&r->p, c = (uintptr_t)&r->c, w = (uintptr_t)&r->w;
    uintptr_t lines[] = {tail / 64, head / 64, p / 64, c / 64, w / 64};
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) assert_int_not_equal(lines[i], lines[j]);
    lx_ring_destroy(r);
}

static void test_grants_at_the_edges(void **state) {
    (void)state;
    lx_ring_t *r = make_ring(sizeof(uint64_t), 8);
    assert_int_equal(lx_ring_peek(r, 4), 0);
    assert_int_equal(lx_ring_peek_wait(r, 4, 0), 0);

    uint64_t next_w = 0, next_r = 0;
    /* Many rounds so that the indices wrap the array several times, with
     * grants that are clipped by the space left. */
    for (int round = 0; round < 50; round++) {
        uint32_t want = (uint32_t)(round % 11);
        uint32_t k = lx_ring_reserve(r, want);
        uint64_t used = next_w - next_r;
        uint32_t expect = (uint32_t)(8 - used < want ? 8 - used : want);
        assert_int_equal(k, expect);
        for (uint32_t i = 0; i < k; i++) *(uint64_t *)lx_ring_wslot(r, i) = next_w + i;
        /* commit all but one of the grant: the rest is dropped */
        uint32_t c = k > 1 ? k - 1 : k;
        lx_ring_commit(r, c);
        next_w += c;

        uint32_t rw = (uint32_t)((round * 7) % 6);
        uint32_t g = lx_ring_peek(r, rw);
        uint64_t avail = next_w - next_r;
        assert_int_equal(g, avail < rw ? avail : rw);
        for (uint32_t i = 0; i < g; i++)
            assert_int_equal(*(const uint64_t *)lx_ring_rslot(r, i), next_r + i);
        lx_ring_release(r, g);
        next_r += g;
    }
    /* Fill completely: reserve grants exactly what is free, then 0. */
    uint32_t k = lx_ring_reserve(r, 100);
    assert_int_equal(k, 8 - (next_w - next_r));
    for (uint32_t i = 0; i < k; i++) *(uint64_t *)lx_ring_wslot(r, i) = next_w + i;
    lx_ring_commit(r, k);
    next_w += k;
    assert_int_equal(lx_ring_reserve(r, 1), 0);
    assert_int_equal(lx_ring_reserve_wait(r, 1, 0), 0);
    assert_int_equal(lx_ring_peek(r, 100), 8);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(*(const uint64_t *)lx_ring_rslot(r, i), next_r + i);
    lx_ring_release(r, 8);
    next_r += 8;
    assert_int_equal(lx_ring_peek(r, 1), 0);

    lx_ring_stats_t st = stats_of(r);
    assert_int_equal(st.produced, next_w);
    assert_int_equal(st.consumed, next_r);
    /* Nobody ever slept, so nobody made a wake-up call. */
    assert_int_equal(st.producer_sleeps + st.consumer_sleeps, 0);
    assert_int_equal(st.producer_wakes + st.consumer_wakes, 0);
    lx_ring_destroy(r);
}

/* ---- two threads: the stream -------------------------------------------- */

typedef struct {
    lx_ring_t *r;
    uint64_t n;
    uint64_t seed;
    uint32_t max_batch;
    uint64_t received; /* consumer: slots seen */
    uint64_t bad;      /* consumer: slots out of order or corrupt */
    int end;           /* consumer: the _wait result that ended it */
} stream_t;

static void *producer_main(void *arg) {
    stream_t *s = arg;
    uint64_t seed = s->seed, seq = 0;
    while (seq < s->n) {
        uint32_t want = 1 + (uint32_t)(xorshift(&seed) % s->max_batch);
        if (want > s->n - seq) want = (uint32_t)(s->n - seq);
        int k = lx_ring_reserve_wait(s->r, want, LX_RING_FOREVER);
        if (k <= 0) break;
        for (int i = 0; i < k; i++) {
            item_t *it = lx_ring_wslot(s->r, (uint32_t)i);
            it->seq = seq;
            it->check = check_of(seq);
            seq++;
        }
        lx_ring_commit(s->r, (uint32_t)k);
    }
    lx_ring_close(s->r);
    return NULL;
}

static void *consumer_main(void *arg) {
    stream_t *s = arg;
    uint64_t seed = s->seed ^ 0xabcdef, expect = 0;
    for (;;) {
        uint32_t want = 1 + (uint32_t)(xorshift(&seed) % s->max_batch);
        int k = lx_ring_peek_wait(s->r, want, LX_RING_FOREVER);
        if (k <= 0) {
            s->end = k;
            break;
        }
        for (int i = 0; i < k; i++) {
            const item_t *it = lx_ring_rslot(s->r, (uint32_t)i);
            if (it->seq != expect || it->check != check_of(expect)) s->bad++;
            expect++;
        }
        lx_ring_release(s->r, (uint32_t)k);
    }
    s->received = expect;
    return NULL;
}

static void run_stream(uint32_t capacity, uint32_t spin, uint64_t n, uint32_t max_batch) {
    lx_ring_t *r = make_ring(sizeof(item_t), capacity);
    lx_ring_set_spin(r, spin);
    stream_t s = {.r = r, .n = n, .seed = 0x1234567 + capacity, .max_batch = max_batch};
    pthread_t pt, ct;
    int64_t t0 = mono_ns();
    assert_int_equal(pthread_create(&ct, NULL, consumer_main, &s), 0);
    assert_int_equal(pthread_create(&pt, NULL, producer_main, &s), 0);
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    int64_t dt = mono_ns() - t0;

    lx_ring_stats_t st = stats_of(r);
    printf("# ring %u slots, spin %u, batches <= %u: %llu items in %.3f s (%.1f M/s); "
           "sleeps p=%llu c=%llu, wakes p=%llu c=%llu\n",
           capacity, spin, max_batch, (unsigned long long)n, (double)dt / 1e9,
           dt > 0 ? (double)n * 1e3 / (double)dt : 0.0, (unsigned long long)st.producer_sleeps,
           (unsigned long long)st.consumer_sleeps, (unsigned long long)st.producer_wakes,
           (unsigned long long)st.consumer_wakes);
    assert_int_equal(s.bad, 0);
    assert_int_equal(s.received, n);
    assert_int_equal(s.end, LX_ECLOSED);
    assert_int_equal(st.produced, n);
    assert_int_equal(st.consumed, n);
    /* Every wake-up call answered an announced sleep of the other side. */
    assert_true(st.producer_wakes <= st.consumer_sleeps);
    assert_true(st.consumer_wakes <= st.producer_sleeps);
    lx_ring_destroy(r);
}

static void test_stream_in_batches(void **state) {
    (void)state;
    run_stream(4096, LX_RING_SPIN_DEFAULT, scaled(UNDER_ASAN ? 1000000 : 20000000), 64);
}

/* A ring of 4 slots that never spins: most waits end in a futex sleep, so
 * the sleep/wake handshake is exercised hundreds of thousands of times. */
static void test_stream_tiny_ring_no_spin(void **state) {
    (void)state;
    run_stream(4, 0, scaled(UNDER_ASAN ? 100000 : 1000000), 5);
}

/* ---- two threads: the wake-up paths, one at a time ---------------------- */

typedef struct {
    lx_ring_t *r;
    int64_t timeout;
    int result;
    uint64_t value;
} waiter_t;

static void *consumer_wait_main(void *arg) {
    waiter_t *w = arg;
    w->result = lx_ring_peek_wait(w->r, 4, w->timeout);
    if (w->result > 0) {
        w->value = *(const uint64_t *)lx_ring_rslot(w->r, 0);
        lx_ring_release(w->r, (uint32_t)w->result);
    }
    return NULL;
}

static void *producer_wait_main(void *arg) {
    waiter_t *w = arg;
    w->result = lx_ring_reserve_wait(w->r, 4, w->timeout);
    if (w->result > 0) {
        *(uint64_t *)lx_ring_wslot(w->r, 0) = 77;
        lx_ring_commit(w->r, 1);
    }
    return NULL;
}

static void test_sleeping_consumer_is_woken_by_commit(void **state) {
    (void)state;
    lx_ring_t *r = make_ring(sizeof(uint64_t), 16);
    waiter_t w = {.r = r, .timeout = LX_RING_FOREVER};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, consumer_wait_main, &w), 0);
    await_stat(r, offsetof(lx_ring_stats_t, consumer_sleeps), 1);
    assert_int_equal(lx_ring_reserve(r, 1), 1);
    *(uint64_t *)lx_ring_wslot(r, 0) = 42;
    lx_ring_commit(r, 1);
    pthread_join(t, NULL);
    assert_int_equal(w.result, 1);
    assert_int_equal(w.value, 42);
    lx_ring_stats_t st = stats_of(r);
    assert_int_equal(st.producer_wakes, 1);
    /* The consumer is awake again: the next commit makes no call. */
    assert_int_equal(lx_ring_reserve(r, 1), 1);
    lx_ring_commit(r, 1);
    assert_int_equal(stats_of(r).producer_wakes, 1);
    lx_ring_destroy(r);
}

static void test_sleeping_producer_is_woken_by_release(void **state) {
    (void)state;
    lx_ring_t *r = make_ring(sizeof(uint64_t), 4);
    assert_int_equal(lx_ring_reserve(r, 4), 4);
    for (uint32_t i = 0; i < 4; i++) *(uint64_t *)lx_ring_wslot(r, i) = i;
    lx_ring_commit(r, 4);

    waiter_t w = {.r = r, .timeout = LX_RING_FOREVER};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer_wait_main, &w), 0);
    await_stat(r, offsetof(lx_ring_stats_t, producer_sleeps), 1);
    assert_int_equal(lx_ring_peek(r, 1), 1);
    lx_ring_release(r, 1);
    pthread_join(t, NULL);
    assert_int_equal(w.result, 1);
    assert_int_equal(stats_of(r).consumer_wakes, 1);
    /* The order is intact: 1, 2, 3, then the producer's 77. */
    assert_int_equal(lx_ring_peek(r, 8), 4);
    assert_int_equal(*(const uint64_t *)lx_ring_rslot(r, 0), 1);
    assert_int_equal(*(const uint64_t *)lx_ring_rslot(r, 3), 77);
    lx_ring_release(r, 4);
    lx_ring_destroy(r);
}

static void test_waits_time_out(void **state) {
    (void)state;
    lx_ring_t *r = make_ring(sizeof(uint64_t), 2);
    int64_t t0 = mono_ns();
    assert_int_equal(lx_ring_peek_wait(r, 1, 20000000), 0);
    assert_true(mono_ns() - t0 >= 20000000);

    assert_int_equal(lx_ring_reserve(r, 2), 2);
    lx_ring_commit(r, 2);
    t0 = mono_ns();
    assert_int_equal(lx_ring_reserve_wait(r, 1, 20000000), 0);
    assert_true(mono_ns() - t0 >= 20000000);
    /* No wait at all with a zero timeout. */
    assert_int_equal(lx_ring_reserve_wait(r, 1, 0), 0);
    lx_ring_stats_t st = stats_of(r);
    assert_true(st.consumer_sleeps >= 1);
    assert_true(st.producer_sleeps >= 1);
    assert_int_equal(st.producer_wakes + st.consumer_wakes, 0);
    lx_ring_destroy(r);
}

static void test_close_wakes_both_sides_and_drains(void **state) {
    (void)state;
    /* A sleeping consumer is woken by close and told so. */
    lx_ring_t *r = make_ring(sizeof(uint64_t), 4);
    waiter_t w = {.r = r, .timeout = LX_RING_FOREVER};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, consumer_wait_main, &w), 0);
    await_stat(r, offsetof(lx_ring_stats_t, consumer_sleeps), 1);
    assert_false(lx_ring_closed(r));
    lx_ring_close(r);
    pthread_join(t, NULL);
    assert_int_equal(w.result, LX_ECLOSED);
    assert_true(lx_ring_closed(r));
    assert_int_equal(lx_ring_reserve_wait(r, 1, LX_RING_FOREVER), LX_ECLOSED);
    lx_ring_destroy(r);

    /* A sleeping producer likewise. */
    r = make_ring(sizeof(uint64_t), 2);
    assert_int_equal(lx_ring_reserve(r, 2), 2);
    *(uint64_t *)lx_ring_wslot(r, 0) = 10;
    *(uint64_t *)lx_ring_wslot(r, 1) = 11;
    lx_ring_commit(r, 2);
    w = (waiter_t){.r = r, .timeout = LX_RING_FOREVER};
    assert_int_equal(pthread_create(&t, NULL, producer_wait_main, &w), 0);
    await_stat(r, offsetof(lx_ring_stats_t, producer_sleeps), 1);
    lx_ring_close(r);
    pthread_join(t, NULL);
    assert_int_equal(w.result, LX_ECLOSED);
    /* What was committed before the close is still delivered, then the
     * consumer is told the ring is closed. */
    assert_int_equal(lx_ring_peek_wait(r, 1, LX_RING_FOREVER), 1);
    assert_int_equal(*(const uint64_t *)lx_ring_rslot(r, 0), 10);
    lx_ring_release(r, 1);
    assert_int_equal(lx_ring_peek_wait(r, 8, LX_RING_FOREVER), 1);
    assert_int_equal(*(const uint64_t *)lx_ring_rslot(r, 0), 11);
    lx_ring_release(r, 1);
    assert_int_equal(lx_ring_peek_wait(r, 8, LX_RING_FOREVER), LX_ECLOSED);
    assert_int_equal(lx_ring_peek_wait(r, 8, 0), LX_ECLOSED);
    lx_ring_close(r); /* twice is harmless */
    lx_ring_destroy(r);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_ring: timed out (a lost wake-up?)\n";
    ssize_t rc = write(2, msg, sizeof msg - 1);
    (void)rc;
    _exit(1);
}

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(300 * (test_scale() > 1 ? test_scale() : 1)));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_arguments),
        cmocka_unit_test(test_grants_at_the_edges),
        cmocka_unit_test(test_stream_in_batches),
        cmocka_unit_test(test_stream_tiny_ring_no_spin),
        cmocka_unit_test(test_sleeping_consumer_is_woken_by_commit),
        cmocka_unit_test(test_sleeping_producer_is_woken_by_release),
        cmocka_unit_test(test_waits_time_out),
        cmocka_unit_test(test_close_wakes_both_sides_and_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
