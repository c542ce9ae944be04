/*
 * failalloc.c: what the linker puts in place of malloc, calloc and realloc,
 * and of the engine's three apply calls, in programs linked with --wrap
 * (failalloc.h). The apply wrappers mark the thread as inside the engine;
 * there an allocation that is armed to fail returns NULL without calling
 * the real allocator (so a failed realloc leaves its block as it was, as
 * the real one does). Thread-safe: the node's shard threads apply commands
 * while the test thread arms.
 */
#include "failalloc.h"

#include <stdatomic.h>
#include <stdio.h>

#include "lx/error.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
int __real_lx_engine_apply(lx_engine_t *e, const lx_cmd_t *c, const lx_sink_t *sink);
int __real_lx_engine_apply_auth(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                                const lx_sink_t *sink);
int __real_lx_engine_apply_batch(lx_engine_t *e, const lx_cmd_t *cmds, size_t n,
                                 const lx_sink_t *sink, size_t *applied);
int __wrap_lx_engine_apply(lx_engine_t *e, const lx_cmd_t *c, const lx_sink_t *sink);
int __wrap_lx_engine_apply_auth(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                                const lx_sink_t *sink);
int __wrap_lx_engine_apply_batch(lx_engine_t *e, const lx_cmd_t *cmds, size_t n,
                                 const lx_sink_t *sink, size_t *applied);
int __real_lx_engine_apply_batch_auth(lx_engine_t *e, const lx_cmd_t *cmds,
                                      const lx_cmd_auth_t *auths, size_t n, const lx_sink_t *sink,
                                      size_t *applied);
int __wrap_lx_engine_apply_batch_auth(lx_engine_t *e, const lx_cmd_t *cmds,
                                      const lx_cmd_auth_t *auths, size_t n, const lx_sink_t *sink,
                                      size_t *applied);

static _Atomic uint64_t armed; /* engine allocations until the failing one; 0 = none */
static _Atomic bool all, fired;
static _Thread_local unsigned inside, held;

void failalloc_arm(uint64_t k) {
    atomic_store(&fired, false);
    atomic_store(&armed, k);
}

void failalloc_fail_all(bool on) {
    if (on) atomic_store(&fired, false);
    atomic_store(&all, on);
}

bool failalloc_fired(void) {
    return atomic_load(&fired);
}

void failalloc_hold(void) {
    held++;
}

void failalloc_release(void) {
    held--;
}

void failalloc_enter(void) {
    inside++;
}

void failalloc_leave(void) {
    inside--;
}

static bool fail_now(void) {
    if (!inside || held) return false;
    bool fail = atomic_load(&all);
    uint64_t k = atomic_load(&armed);
    while (!fail && k > 0 && !atomic_compare_exchange_weak(&armed, &k, k - 1)) {
    }
    if (!fail && k == 1) fail = true; /* this call took the count from 1 to 0 */
    if (fail) atomic_store(&fired, true);
    return fail;
}

void *__wrap_malloc(size_t n) {
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n) {
    return fail_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n) {
    return fail_now() ? NULL : __real_realloc(p, n);
}

int __wrap_lx_engine_apply(lx_engine_t *e, const lx_cmd_t *c, const lx_sink_t *sink) {
    inside++;
    int rc = __real_lx_engine_apply(e, c, sink);
    inside--;
    return rc;
}

int __wrap_lx_engine_apply_auth(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                                const lx_sink_t *sink) {
    inside++;
    int rc = __real_lx_engine_apply_auth(e, c, auth, sink);
    inside--;
    return rc;
}

int __wrap_lx_engine_apply_batch(lx_engine_t *e, const lx_cmd_t *cmds, size_t n,
                                 const lx_sink_t *sink, size_t *applied) {
    inside++;
    int rc = __real_lx_engine_apply_batch(e, cmds, n, sink, applied);
    inside--;
    return rc;
}

int __wrap_lx_engine_apply_batch_auth(lx_engine_t *e, const lx_cmd_t *cmds,
                                      const lx_cmd_auth_t *auths, size_t n, const lx_sink_t *sink,
                                      size_t *applied) {
    inside++;
    int rc = __real_lx_engine_apply_batch_auth(e, cmds, auths, n, sink, applied);
    inside--;
    return rc;
}

/* A sink that passes events on with allocation failures held: the test's
 * own event list grows inside the engine's call. */
static void held_emit(void *ctx, const lx_event_t *ev) {
    const lx_sink_t *inner = ctx;
    failalloc_hold();
    inner->emit(inner->ctx, ev);
    failalloc_release();
}

int failalloc_apply(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                    const lx_sink_t *sink, uint64_t *nomem, char *msg, size_t len) {
    lx_sink_t pass = {held_emit, (void *)sink};
    uint64_t seq = lx_engine_last_seq(e);
    for (uint64_t k = 1; k < 100000; k++) {
        failalloc_arm(k);
        int rc = lx_engine_apply_auth(e, c, auth, sink ? &pass : NULL);
        bool failed = failalloc_fired();
        failalloc_arm(0);
        if (rc != LX_ENOMEM) return rc; /* a failure it could do without (a shrink) too */
        if (!failed) {
            snprintf(msg, len, "LX_ENOMEM with no allocation failing");
            return FAILALLOC_BROKEN;
        }
        if (lx_engine_last_seq(e) != seq) {
            snprintf(msg, len, "LX_ENOMEM (allocation %llu) took the command's seq",
                     (unsigned long long)k);
            return FAILALLOC_BROKEN;
        }
        if (lx_engine_validate(e, msg, len) != 0) return FAILALLOC_BROKEN;
        ++*nomem;
    }
    snprintf(msg, len, "still LX_ENOMEM after 100,000 tries");
    return FAILALLOC_BROKEN;
}
