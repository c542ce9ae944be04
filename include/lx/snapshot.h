/*
 * lx/snapshot.h: the engine's complete state as a byte stream.
 *
 * lx_engine_save() writes everything a future command can depend on (see
 * digest.c for the list) in a canonical little-endian format, specified in
 * src/core/snapshot.c and docs/journal.md; lx_engine_load() rebuilds an
 * engine whose digest, events and future order ids are identical to the
 * saved one's. The core does no I/O: bytes go through caller callbacks
 * (the journal compresses them and writes files).
 *
 * Load validates as it reads (lengths, ranges, links, ordering) and
 * finishes with lx_engine_validate(); any inconsistency is LX_ECORRUPT,
 * never a half-built engine.
 */
#ifndef LX_SNAPSHOT_H
#define LX_SNAPSHOT_H

#include <stddef.h>
#include "lx/engine.h"

/* Write exactly len bytes or return a negative LX_E* code. */
typedef int (*lx_write_fn)(void *ctx, const void *buf, size_t len);
/* Read exactly len bytes or return a negative LX_E* code (LX_ETRUNC at
 * end of input). */
typedef int (*lx_read_fn)(void *ctx, void *buf, size_t len);

#define LX_SNAPSHOT_VERSION 6 /* lx_engine_load() also reads versions 2 to 5 */

int lx_engine_save(const lx_engine_t *e, lx_write_fn write, void *ctx);
int lx_engine_load(lx_engine_t **out, lx_read_fn read, void *ctx);

#endif
