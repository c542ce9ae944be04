/*
 * membuf.c: the byte stream of membuf.h. Shared by the tests that save an
 * engine and load it back (test_engine, test_scenarios, test_book), which
 * each carried a copy.
 */
#include "membuf.h"

#include <stdlib.h>
#include <string.h>

#include "lx/error.h"

int membuf_write(void *ctx, const void *p, size_t len) {
    membuf_t *m = ctx;
    if (m->n + len > m->cap) {
        size_t cap = (m->n + len) * 2;
        uint8_t *nb = realloc(m->buf, cap);
        if (!nb) return LX_ENOMEM;
        m->buf = nb;
        m->cap = cap;
    }
    memcpy(m->buf + m->n, p, len);
    m->n += len;
    return 0;
}

int membuf_read(void *ctx, void *p, size_t len) {
    membuf_t *m = ctx;
    if (m->pos + len > m->n) return LX_ETRUNC;
    memcpy(p, m->buf + m->pos, len);
    m->pos += len;
    return 0;
}

void membuf_free(membuf_t *m) {
    free(m->buf);
    m->buf = NULL;
    m->n = m->cap = m->pos = 0;
}
