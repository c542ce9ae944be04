/*
 * failalloc.h: the engine out of memory on demand, for tests of how it, and
 * what drives it, answer an allocation that fails.
 *
 * A test program linked with the wrap options of CMakeLists.txt
 * (LX_FAILALLOC_TESTS: -Wl,--wrap= for malloc, calloc, realloc,
 * lx_engine_apply, lx_engine_apply_auth, lx_engine_apply_batch and
 * lx_engine_apply_batch_auth) has every call of those from its own objects
 * and static libraries go through failalloc.c; shared libraries' calls
 * (libc's, cmocka's) do not. Only the allocations made inside the four
 * engine calls, on any thread, are
 * counted and failed; the test's own bookkeeping called from inside them
 * (an event sink) passes when it is held.
 */
#ifndef LX_TESTS_FAILALLOC_H
#define LX_TESTS_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx/engine.h"

/* The k-th engine allocation from now fails, once (k >= 1); 0 disarms. */
void failalloc_arm(uint64_t k);
/* While on, every engine allocation fails. */
void failalloc_fail_all(bool on);
/* Whether an allocation failed since the last failalloc_arm or
 * failalloc_fail_all(true). */
bool failalloc_fired(void);
/* While held (on this thread; calls nest), allocations pass uncounted. */
void failalloc_hold(void);
void failalloc_release(void);
/* Between enter and leave (on this thread; calls nest), the allocations of
 * any engine call count as the three wrapped calls' do: for the calls that
 * are not wrapped (lx_engine_load). */
void failalloc_enter(void);
void failalloc_leave(void);

/*
 * lx_engine_apply_auth, tried with its k-th allocation failing for k = 1,
 * 2, ... until a try makes fewer than k allocations, and each LX_ENOMEM on
 * the way checked: the engine validates and has not taken the command's seq
 * (engine.h). The sink sees the events of every try (only GTD expiries can
 * precede an LX_ENOMEM), and is called with allocations held. Returns the
 * code of the try that stands, or FAILALLOC_BROKEN with msg set (an
 * LX_ENOMEM that took the seq, left an engine that does not validate, or
 * came with no allocation failing). Adds the LX_ENOMEMs to *nomem.
 */
#define FAILALLOC_BROKEN (-1000)
int failalloc_apply(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                    const lx_sink_t *sink, uint64_t *nomem, char *msg, size_t len);

#endif
