/*
 * jnl.h: internals shared by the files of src/journal (not a public header).
 *
 *   crc32c.c   CRC32C (Castagnoli), table-driven, hardware when the CPU has it
 *   format.c   byte layouts of segment headers and records (the specification)
 *   io.c       the POSIX I/O vtable, directory listing, file mapping
 *   scan.c     the reader: segments, groups, hash chain, torn tails
 *   journal.c  the writer: group commit, rotation, sticky errors
 *   snapfile.c snapshot files: zstd, temp + fsync + rename, fork()
 *   recover.c  snapshot choice, replay, truncation, retention
 */
#ifndef LX_JOURNAL_INTERNAL_H
#define LX_JOURNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lx/codec.h"
#include "lx/error.h"
#include "lx/journal.h"

/* ---- crc32c.c ------------------------------------------------------------ */

/* CRC32C of buf, continuing from crc (0 to start): crc32c(crc32c(0, a), b)
 * is the CRC of a followed by b. */
uint32_t lx__crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table-driven implementation, whatever the CPU (tests). */
uint32_t lx__crc32c_portable(uint32_t crc, const void *buf, size_t len);
/* "sse4.2" or "table": which implementation runs. */
const char *lx__crc32c_impl(void);

/* ---- format.c ------------------------------------------------------------ */

#define JNL_SEG_MAGIC "LXDEXJNL"
#define JNL_SEG_HDR_LEN 128
#define JNL_REC_CMD 1
#define JNL_REC_COMMIT 2
#define JNL_CMD_HDR_LEN 28
#define JNL_AUTH_LEN 112
#define JNL_PAYLOAD_MAX 1024
#define JNL_REC_MIN (JNL_CMD_HDR_LEN + 1 + 4)
#define JNL_REC_MAX (JNL_CMD_HDR_LEN + JNL_PAYLOAD_MAX + JNL_AUTH_LEN + 4)
#define JNL_COMMIT_LEN 76
#define JNL_COMMIT_HASHED 40 /* commit bytes covered by the chain hash */
#define JNL_FLAG_AUTH 0x01

typedef struct {
    uint64_t epoch;
    uint64_t index;
    uint64_t prev_seq;
    uint64_t prev_groups;
    uint8_t prev_hash[LX_JOURNAL_HASH_LEN];
    lx_engine_config_t engine;
} jnl_seg_hdr_t;

/* One parsed record; pointers point into the parsed buffer. */
typedef struct {
    uint8_t kind;
    uint32_t len;
    /* command */
    uint8_t flags;
    uint8_t cmd_type;
    uint64_t lsn;
    int64_t ts;
    const uint8_t *payload;
    uint32_t payload_len;
    const uint8_t *auth; /* JNL_AUTH_LEN bytes, or NULL */
    /* commit */
    uint64_t group;
    uint32_t count;
    uint32_t bytes;
    const uint8_t *hash;
} jnl_rec_t;

void jnl_seg_hdr_encode(uint8_t out[JNL_SEG_HDR_LEN], const jnl_seg_hdr_t *h);
/* 0, LX_ETRUNC (fewer than JNL_SEG_HDR_LEN bytes), LX_EVERSION or
 * LX_ECORRUPT; why (may be NULL) receives a reason. */
int jnl_seg_hdr_parse(const uint8_t *buf, size_t len, jnl_seg_hdr_t *h, const char **why);

/* Encodes a command record into out (JNL_REC_MAX bytes); returns its length
 * or a negative LX_E* from the codec. */
int jnl_cmd_rec_encode(uint8_t *out, uint64_t epoch, const lx_cmd_t *cmd,
                       const lx_journal_auth_t *auth);
/* Encodes the commit record closing a group whose command records are
 * recs[0, bytes): computes the chain hash from prev_hash into hash. */
void jnl_commit_encode(uint8_t out[JNL_COMMIT_LEN], uint64_t epoch, const uint8_t *recs,
                       uint32_t bytes, uint32_t count, uint64_t last_seq, uint64_t group,
                       const uint8_t prev_hash[LX_JOURNAL_HASH_LEN],
                       uint8_t hash[LX_JOURNAL_HASH_LEN]);
/* The chain hash of a group (commit holds its first JNL_COMMIT_HASHED bytes). */
void jnl_chain_hash(uint8_t out[LX_JOURNAL_HASH_LEN], const uint8_t prev[LX_JOURNAL_HASH_LEN],
                    uint64_t epoch, const uint8_t *recs, size_t bytes, const uint8_t *commit);

/* Parses the record at buf[0, avail): returns its length (> 0), LX_ETRUNC
 * when it runs past avail, or LX_ECORRUPT (why says what is wrong). Checks
 * framing, reserved bytes and the CRC; not the payload's content. */
int jnl_rec_parse(const uint8_t *buf, size_t avail, uint64_t epoch, jnl_rec_t *r, const char **why);
/* The same with the CRC state after the epoch precomputed (jnl_epoch_crc). */
int jnl_rec_parse_seeded(const uint8_t *buf, size_t avail, uint32_t seed, jnl_rec_t *r,
                         const char **why);
uint32_t jnl_epoch_crc(uint64_t epoch);
void jnl_auth_decode(const uint8_t *p, lx_journal_auth_t *a);

/* ---- io.c ---------------------------------------------------------------- */

typedef struct {
    uint64_t key; /* segment index or snapshot seq */
    char name[64];
} jnl_file_t;

typedef struct {
    jnl_file_t *segs;
    size_t nsegs;
    jnl_file_t *snaps;
    size_t nsnaps;
    jnl_file_t *tmps; /* leftover snapshot temporaries */
    size_t ntmps;
} jnl_dir_t;

/* Lists dir; segments and snapshots in increasing key order. */
int jnl_dir_list(const char *dir, jnl_dir_t *d);
void jnl_dir_free(jnl_dir_t *d);
void jnl_seg_name(char out[64], uint64_t index);
void jnl_snap_name(char out[64], uint64_t seq);
/* dir + "/" + name into out (PATH_MAX); LX_ERANGE if too long. */
int jnl_path(char *out, size_t cap, const char *dir, const char *name);

/* A read-only view of a whole file (mmap; empty files have data NULL). */
typedef struct {
    const uint8_t *data;
    size_t len;
} jnl_map_t;
int jnl_map(const char *path, jnl_map_t *m);
void jnl_unmap(jnl_map_t *m);

/* errno-style results of the vtable to LX_E*: everything is LX_EIO except
 * ENOENT, EEXIST and ENOMEM. */
int jnl_io_err(int neg_errno);

/* ---- scan.c -------------------------------------------------------------- */

typedef struct {
    lx_cmd_t cmd;
    uint64_t off;
    const uint8_t *auth; /* into the mapped segment, or NULL */
} jnl_entry_t;

/* The chain state between groups. */
typedef struct {
    uint64_t last_seq;
    int64_t last_ts;
    uint64_t groups;
    uint8_t hash[LX_JOURNAL_HASH_LEN];
} jnl_chain_t;

typedef int (*jnl_group_fn)(void *ctx, const jnl_entry_t *cmds, uint32_t n, uint64_t group,
                            const uint8_t *hash, uint64_t commit_off);

typedef enum {
    JNL_SCAN_CLEAN = 0,  /* ends exactly after a valid group */
    JNL_SCAN_TORN = 1,   /* ends with an incomplete or damaged tail, nothing valid in it */
    JNL_SCAN_CORRUPT = 2 /* an invalid record with valid ones after it, or a
                            well-formed record that contradicts the chain */
} jnl_scan_status_t;

typedef struct {
    /* in */
    uint64_t epoch;
    jnl_group_fn on_group; /* may be NULL; a non-zero return stops the scan */
    void *ctx;
    /* Check chain hashes on a second thread, ahead of the scan (segments of
     * at least JNL_PARALLEL_MIN bytes); the results are the same. */
    bool parallel;
    /* in/out: advanced over every valid group */
    jnl_chain_t chain;
    /* out */
    jnl_scan_status_t status;
    uint64_t valid_end;  /* offset after the last valid group (or header) */
    uint64_t bad_offset; /* first invalid record (TORN, CORRUPT) */
    uint64_t groups, commands;
    int cb_rc; /* non-zero if on_group stopped the scan */
    char why[160];
    /* scratch, reused across segments */
    jnl_entry_t *ents;
    uint32_t nents_cap;
} jnl_scan_t;

#define JNL_PARALLEL_MIN (256u << 10)

/* Scans the records of one segment image buf[0, len) that follow its header
 * (records start at JNL_SEG_HDR_LEN). Returns 0 (see status) or LX_ENOMEM,
 * or the callback's code. */
int jnl_scan_records(const uint8_t *buf, size_t len, jnl_scan_t *s);
void jnl_scan_free(jnl_scan_t *s);

/* ---- snapfile.c ---------------------------------------------------------- */

#define JNL_SNAP_MAGIC "LXDEXSNP"
#define JNL_SNAP_HDR_LEN 128

/* Header only: 0 or LX_ECORRUPT / LX_EVERSION / LX_ETRUNC. */
int jnl_snap_hdr_parse(const uint8_t *buf, size_t len, lx_snapshot_info_t *info, uint32_t *data_crc,
                       const char **why);

/* ---- journal.c / recover.c ----------------------------------------------- */

/* Removes snapshots beyond the newest keep and the segments that only they
 * needed (never segment keep_from or later). Counts what it removed. */
int jnl_retain(const char *dir, const lx_io_t *io, uint32_t keep, uint64_t keep_from,
               uint64_t *segs_removed, uint64_t *snaps_removed);

#endif
