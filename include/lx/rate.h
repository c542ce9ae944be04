/*
 * lx/rate.h: the gateways' rate limits (rate_limits in docs/config.md).
 *
 * A token bucket of `rate` requests per second and bursts of `burst`, kept
 * as GCRA: one "theoretical arrival time" per bucket, in integer monotonic
 * nanoseconds, and no timer. Pure: the caller owns the state and passes the
 * time in.
 */
#ifndef LX_RATE_H
#define LX_RATE_H

#include <stdatomic.h>
#include <stdint.h>
#include "lx/config.h"

/*
 * One request of `weight` tokens against the bucket whose state is *tat.
 * Each request moves *tat on by weight/rate; it conforms while *tat stays
 * within burst/rate of now (a request heavier than a whole burst weighs one
 * burst). Returns 0 when allowed (and moves *tat), else the microseconds
 * until a retry would conform (at least 1; *tat unchanged). rate 0: never
 * limited.
 */
uint32_t lx_rate_check(uint64_t *tat, const lx_config_rate_t *r, uint64_t now_ns, uint32_t weight);

/* The same on a bucket that several threads charge (compare-and-swap). */
uint32_t lx_rate_check_shared(_Atomic uint64_t *tat, const lx_config_rate_t *r, uint64_t now_ns,
                              uint32_t weight);

#endif
