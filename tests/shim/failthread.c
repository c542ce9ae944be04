/*
 * failthread.c: an LD_PRELOAD shim for test_node_proc. With LX_FAIL_THREAD=n
 * in the environment, the n-th call of pthread_create in the process fails
 * with EAGAIN (the others go to the real one), so that a test can watch what
 * lxdexd does when one of its threads (the node's, a binary gateway's, the
 * web gateway's) cannot start: it must stop with exit status 1, not hang
 * and not crash. Built as a shared library beside the tests (CMakeLists.txt),
 * never linked into anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    static _Atomic int calls;
    static create_fn real;
    if (!real) {
        void *p = dlsym(RTLD_NEXT, "pthread_create");
        memcpy(&real, &p, sizeof real); /* object to function pointer, without a cast */
    }
    const char *e = getenv("LX_FAIL_THREAD");
    int n = atomic_fetch_add(&calls, 1) + 1;
    if (e && atoi(e) == n) return EAGAIN;
    return real(t, a, fn, arg);
}
