/*
 * journal_util.h: helpers shared by the journal, snapshot and recovery tests
 * (tests/unit/test_journal*.c, test_snapshot*.c, test_recovery*.c) and the
 * journal fuzz driver.
 *
 *   - a deterministic command history: jt_cmd(seed, k) is the k-th command
 *     (seq k) of history `seed`, a pure function of (seed, k) that needs no
 *     engine state, so a test (or a restarted child process) can produce
 *     command k without replaying 1..k-1, and the digest of any prefix can
 *     be recomputed by applying 1..n to a fresh engine (jt_engine_at);
 *   - a fault-injecting I/O vtable that fails the n-th call of one
 *     operation (optionally after writing part of the buffer);
 *   - temporary directories and small file utilities.
 */
#ifndef LX_TESTS_JOURNAL_UTIL_H
#define LX_TESTS_JOURNAL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lx/engine.h"
#include "lx/journal.h"

/* ---- command histories ---------------------------------------------------- */

/* The small engine every history runs on (4 markets, 16 accounts, 4096 orders). */
void jt_engine_config(lx_engine_config_t *cfg);
/* Command k >= 1 of history seed (seq = k, ts increasing with k). */
void jt_cmd(uint64_t seed, uint64_t k, lx_cmd_t *out);
/* The auth section command k carries, if any (about one in three). */
bool jt_auth(uint64_t seed, uint64_t k, lx_journal_auth_t *out);
/* Applies command k of seed with the auth jt_auth gives it, as the node and
 * recovery do (lx_engine_apply_auth). */
int jt_apply(lx_engine_t *e, uint64_t seed, uint64_t k, const lx_cmd_t *c);
/* A fresh engine that applied commands 1..n of history seed. */
lx_engine_t *jt_engine_at(uint64_t seed, uint64_t n);
/* Applies commands from+1..to to e (which has applied 1..from). */
void jt_engine_advance(lx_engine_t *e, uint64_t seed, uint64_t from, uint64_t to);
/* lx_journal_config_default() for tests: jt_engine_config, small batches,
 * fsync off (the tests simulate crashes in-process, not power loss). */
void jt_journal_config(lx_journal_config_t *cfg);

/* ---- fault injection ------------------------------------------------------ */

typedef enum {
    JT_OP_OPEN,
    JT_OP_CLOSE,
    JT_OP_WRITE,
    JT_OP_PWRITE,
    JT_OP_FDATASYNC,
    JT_OP_FSYNC,
    JT_OP_FTRUNCATE,
    JT_OP_RENAME,
    JT_OP_UNLINK,
    JT_OP_FSYNC_DIR,
    JT_OP__N,
    JT_OP_NONE = -1
} jt_op_t;

typedef struct {
    lx_io_t io;         /* hand &f->io to the code under test */
    int fail_op;        /* jt_op_t to fail, JT_OP_NONE for none */
    uint64_t fail_at;   /* fail its n-th call (1-based) */
    bool fail_after;    /* ... and every later call of that op too */
    int fail_errno;     /* errno to return (EIO if 0) */
    size_t short_write; /* a failing write first writes this many bytes */
    uint64_t calls[JT_OP__N];
    uint64_t failures;
    struct jt_durable *durable; /* jt_faultio_track_durable; NULL: not tracked */
} jt_faultio_t;

void jt_faultio_init(jt_faultio_t *f);
/* Remembers, for every file opened through f, the size its last fsync or
 * fdatasync made durable (a file it creates starts with nothing durable):
 * a write no sync covered is in the page cache, which a process crash
 * keeps and a power loss does not. */
void jt_faultio_track_durable(jt_faultio_t *f);
/* The power loss: every tracked file cut back to its durable size. */
void jt_faultio_power_loss(jt_faultio_t *f);
/* Frees what jt_faultio_track_durable took. */
void jt_faultio_free(jt_faultio_t *f);
const char *jt_op_name(int op);

/* ---- files ---------------------------------------------------------------- */

/* mkdtemp under $TMPDIR or /tmp into out (256 bytes); aborts on failure. */
void jt_tmpdir(char out[256], const char *tag);
/* Removes every file in dir, then dir. */
void jt_rmdir(const char *dir);
/* Whole file into a malloc'ed buffer (*len); NULL if unreadable. */
uint8_t *jt_read_file(const char *path, size_t *len);
/* Writes buf to path (creating or truncating); 0 or -1. */
int jt_write_file(const char *path, const void *buf, size_t len);
/* Copies every file of src into dst (an existing directory). */
void jt_copy_dir(const char *src, const char *dst);
/* File names in dir starting with prefix, sorted; returns how many (at most cap). */
size_t jt_list(const char *dir, const char *prefix, char names[][64], size_t cap);

/* ---- journal layouts ------------------------------------------------------- */

/* Writes history seed 1..n into a new journal in dir, committing groups of
 * 1 to 9 commands, with segments of about seg_bytes. */
void jt_build_journal(const char *dir, uint64_t seed, uint64_t n, uint64_t seg_bytes);

/* The segments of a valid journal, read into memory with their framing. */
typedef struct {
    char name[64];
    uint8_t *data;
    size_t len;
    uint64_t prev_seq; /* from the header */
    size_t nrecs;
    uint32_t *rec_off; /* start of each record */
    size_t ngroups;
    uint32_t *group_end; /* end of each commit record */
    uint64_t *group_seq; /* last seq of each group */
} jt_seg_t;

typedef struct {
    jt_seg_t *segs;
    size_t n;
    size_t total; /* bytes in all segments */
} jt_layout_t;

int jt_layout_read(const char *dir, jt_layout_t *l);
void jt_layout_free(jt_layout_t *l);
/* Empties dir, then writes segments [0, seg) whole and segment seg cut to
 * len bytes (len == SIZE_MAX: whole; seg == l->n: no cut one). */
void jt_layout_write(const jt_layout_t *l, const char *dir, size_t seg, size_t len);
/* The last seq of segment seg cut to len bytes: the last group ending at or
 * before len, else the segment's prev_seq. */
uint64_t jt_layout_seq_at(const jt_layout_t *l, size_t seg, size_t len);
/* The record of segment seg that holds byte off (its start), or -1 in the header. */
long jt_layout_record_at(const jt_layout_t *l, size_t seg, size_t off);

/* TEST_SCALE from the environment (default 1, at least 1). */
double jt_scale(void);

#endif
