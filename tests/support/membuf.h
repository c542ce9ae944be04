/*
 * membuf.h: an in-memory byte stream for snapshot round trips in tests:
 * membuf_write appends (an lx_write_fn), membuf_read reads from `pos` on
 * (an lx_read_fn, LX_ETRUNC past the end). Start from a zeroed membuf_t;
 * membuf_free gives the buffer back.
 */
#ifndef LX_TESTS_MEMBUF_H
#define LX_TESTS_MEMBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *buf;
    size_t n, cap, pos; /* bytes written, allocated, read */
} membuf_t;

int membuf_write(void *ctx, const void *p, size_t len);
int membuf_read(void *ctx, void *p, size_t len);
void membuf_free(membuf_t *m);

#endif
