/*
 * rate.c: GCRA token buckets for the gateways (lx/rate.h).
 *
 * GCRA ("generic cell rate algorithm") is a token bucket written as a single
 * number per bucket: the time at which the bucket would be full again (the
 * theoretical arrival time, TAT). A request costing `cost` nanoseconds of
 * refill moves TAT to max(TAT, now) + cost, and conforms while that stays
 * within burst * cost_of_one of now. No clock is read and no timer is kept;
 * all arithmetic is integer nanoseconds, so the result is exact and the
 * same on every machine. Both gateways (tcp.c, web*.c) use it; an
 * account's bucket is the node's (lx_node_account_buckets), one for every
 * gateway and thread, charged with compare-and-swap.
 */
#include "lx/rate.h"

uint32_t lx_rate_check(uint64_t *tat, const lx_config_rate_t *r, uint64_t now_ns, uint32_t weight) {
    if (r->rate == 0) return 0;
    uint64_t cost = 1000000000u / r->rate;
    if (cost == 0) cost = 1;
    if (weight == 0) weight = 1;
    cost *= weight < r->burst ? weight : r->burst; /* heavier than a burst: a whole burst */
    uint64_t t = *tat > now_ns ? *tat : now_ns;
    uint64_t next = t + cost;
    uint64_t allow = (uint64_t)r->burst * (1000000000u / r->rate ? 1000000000u / r->rate : 1);
    if (next - now_ns > allow) {
        uint64_t us = (next - now_ns - allow + 999) / 1000;
        return us == 0 ? 1 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    *tat = next;
    return 0;
}

uint32_t lx_rate_check_shared(_Atomic uint64_t *tat, const lx_config_rate_t *r, uint64_t now_ns,
                              uint32_t weight) {
    uint64_t old = atomic_load_explicit(tat, memory_order_relaxed);
    for (;;) {
        uint64_t t = old;
        uint32_t wait = lx_rate_check(&t, r, now_ns, weight);
        if (wait) return wait;
        if (atomic_compare_exchange_weak_explicit(tat, &old, t, memory_order_relaxed,
                                                  memory_order_relaxed))
            return 0;
    }
}
