/*
 * lx/journal.h: the durable log, snapshots and recovery (ARCHITECTURE §1, §4).
 *
 * A journal is a directory holding numbered segment files (seg-*.lxj) of
 * command records and compressed engine snapshots (snap-*.lxs). The formats
 * are specified, with byte offsets, above the reader in
 * src/journal/format.c and in docs/journal.md.
 *
 * Writer (one thread, the sequencer's): lx_journal_append() buffers a
 * command; lx_journal_commit() closes the batch ("group"): it extends the
 * BLAKE2b hash chain, issues one write and one fdatasync for the whole
 * group, and advances lx_journal_durable_seq(). A batch also closes by
 * itself when it reaches cfg.batch_max_bytes (inside append) or when
 * lx_journal_poll() finds it older than cfg.batch_max_delay_ns.
 * Acknowledgements may be released for every seq <= durable_seq, never
 * before. Any failed write, fsync, open or rename makes the journal refuse
 * every later append and commit with the same error (sticky): nothing is
 * retried, because after a failed fsync the state of the file is unknown.
 *
 * Startup: lx_recover() loads the newest valid snapshot, replays the journal
 * after it, truncates a torn tail and reports where the log ends; then
 * lx_journal_open() starts a new segment (and a new epoch) after it.
 *
 *     lx_recovery_t rec;
 *     lx_engine_t *e = NULL;
 *     if ((rc = lx_recover(dir, NULL, &e, &rec))) { puts(rec.msg); fail; }
 *     if (rec.empty) lx_engine_create(&e, &engine_cfg);
 *     lx_journal_open(&j, dir, &jcfg, &rec);
 *
 * All file I/O of the writer, the snapshot writer and recovery goes through
 * an lx_io_t vtable, so that tests can fail any call deterministically.
 */
#ifndef LX_JOURNAL_H
#define LX_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lx/command.h"
#include "lx/engine.h"
#include "lx/error.h"

/* ---- I/O vtable ---------------------------------------------------------- */

/*
 * Every function returns 0 (open: a file descriptor >= 0) or a negative
 * errno value. write writes all len bytes (looping over short writes and
 * EINTR in the POSIX version) or fails; a failure may leave a prefix of the
 * bytes in the file. fsync_dir makes a directory's entries durable.
 */
typedef struct lx_io {
    void *ctx;
    int (*open)(void *ctx, const char *path, int flags, mode_t mode);
    int (*close)(void *ctx, int fd);
    int (*write)(void *ctx, int fd, const void *buf, size_t len);
    int (*pwrite)(void *ctx, int fd, const void *buf, size_t len, off_t off);
    int (*fdatasync)(void *ctx, int fd);
    int (*fsync)(void *ctx, int fd);
    int (*ftruncate)(void *ctx, int fd, off_t len);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    int (*fsync_dir)(void *ctx, const char *dir);
} lx_io_t;

/* The real thing: POSIX calls on the local file system. */
const lx_io_t *lx_io_posix(void);

/*
 * Creates the directory path (mode 0755) unless it exists. With sync_parent
 * its entry is then made durable, whether it was created now or before (a
 * start whose fsync failed may have left it created but not durable):
 * fsync_dir of the parent through io (NULL: POSIX), whose failure is
 * returned. 0 when the directory exists afterwards and, with sync_parent,
 * its parent was fsync'ed; else a negative errno value (mkdir's or
 * fsync_dir's).
 */
int lx_io_mkdir(const lx_io_t *io, const char *path, bool sync_parent);

/* ---- records ------------------------------------------------------------- */

/*
 * The auth section a command record may carry (ARCHITECTURE §7): who
 * authorised the command. Stored verbatim; the identity layer defines what
 * is signed and verifies it before sequencing, and any replica can verify
 * it again from the log.
 */
typedef enum {
    LX_AUTH_NONE = 0,
    LX_AUTH_ED25519 = 1, /* key signed the command: account key or approved agent key */
    LX_AUTH_SESSION = 2  /* sent on a session whose logon key signed a challenge */
} lx_auth_scheme_t;

typedef struct {
    uint8_t scheme;  /* lx_auth_scheme_t */
    uint8_t key[32]; /* ed25519 public key of the signer / session account */
    uint64_t nonce;  /* per-key, strictly increasing (session: the session id) */
    uint8_t sig[64]; /* ed25519 signature; zeros for LX_AUTH_SESSION */
} lx_journal_auth_t;

/* The segment format written; versions 1 (before the fee account) and 2
 * (before the rules version, LX_RULES_*: those segments ran rules 1) are
 * read too. Each was a new version so that an older lxdexd that finds a
 * newer segment refuses the directory instead of replaying it by older
 * rules. */
#define LX_JOURNAL_VERSION 3
#define LX_JOURNAL_HASH_LEN 32

/* ---- writer -------------------------------------------------------------- */

typedef struct lx_journal lx_journal_t;

typedef struct {
    /* The engine's configuration, stored in every segment header so that the
     * journal can be replayed from scratch. Used for a new journal only; an
     * existing one keeps the configuration it recovered. */
    lx_engine_config_t engine;
    uint64_t segment_bytes;      /* start a new segment once one reaches this size */
    uint32_t batch_max_bytes;    /* close a batch when its records reach this size */
    uint64_t batch_max_delay_ns; /* ... or when its first append is this old (poll) */
    bool fsync;                  /* false: no fdatasync (tests and CPU benchmarks only) */
    uint32_t keep_snapshots;     /* snapshots kept (>= 1); older ones, and the segments
                                    only they need, are removed after a snapshot */
    int zstd_level;              /* snapshot compression level (default 1) */
    const lx_io_t *io;           /* NULL: lx_io_posix() */
    /* The clock that dates a batch for batch_max_delay_ns; NULL: CLOCK_MONOTONIC.
     * Tests pass a fake one. */
    uint64_t (*clock)(void *ctx);
    void *clock_ctx;
} lx_journal_config_t;

/* 64 MiB segments, 256 KiB or 200 us batches, fsync on, 2 snapshots kept. */
void lx_journal_config_default(lx_journal_config_t *cfg);

typedef struct lx_recovery lx_recovery_t;

/*
 * Opens the journal in dir for appending. rec is what lx_recover() returned
 * for dir (writable, not read-only); NULL or rec->empty starts a new journal,
 * in which case dir must hold no segment, and is created if it does not
 * exist (with cfg->fsync, its parent is then fsync'ed: lx_io_mkdir). A new
 * segment with a new epoch is always started: the writer never appends to
 * a file it did not create.
 */
int lx_journal_open(lx_journal_t **out, const char *dir, const lx_journal_config_t *cfg,
                    const lx_recovery_t *rec);
/* Commits what is buffered (errors are ignored: call commit first to see
 * them; lx_journal_discard first to write nothing), waits for a running
 * snapshot child, closes. */
void lx_journal_close(lx_journal_t *j);

/*
 * Buffers one command (seq strictly greater, ts not less than the last
 * appended one's; LX_EINVAL otherwise) with its auth section (NULL: none).
 * When the batch reaches batch_max_bytes it is committed before returning,
 * and that commit's error is returned. Returns 0, LX_EINVAL, or the sticky
 * error of an earlier failure.
 */
int lx_journal_append(lx_journal_t *j, const lx_cmd_t *cmd, const lx_journal_auth_t *auth);
/* Applies a journaled command to e with its auth section (NULL or scheme
 * LX_AUTH_NONE: none), as recovery does, so that the engine checks signers
 * and records nonces exactly as it did live: lx_engine_apply_auth's result. */
int lx_journal_apply(lx_engine_t *e, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                     const lx_sink_t *sink);
/* Closes the batch: one write, one fdatasync. 0 if nothing was buffered. */
int lx_journal_commit(lx_journal_t *j);
/*
 * Drops the batch: the commands appended since the last commit are never
 * written, as if they had not been appended (last_seq and the last ts go
 * back to the durable ones; the next append must follow those). Returns how
 * many were dropped. For an owner that abandons commands it will never
 * acknowledge, before lx_journal_close() would commit them: the node after
 * a failure (docs/node.md). Works with a sticky error too; changes no file.
 */
uint32_t lx_journal_discard(lx_journal_t *j);
/* Commits if the batch is older than batch_max_delay_ns at now_ns (the
 * config's clock). Returns what commit returns, or 0. */
int lx_journal_poll(lx_journal_t *j, uint64_t now_ns);
/* When the open batch must be committed (config clock), UINT64_MAX if none. */
uint64_t lx_journal_deadline(const lx_journal_t *j);
/* The config clock's current value. */
uint64_t lx_journal_now(const lx_journal_t *j);

uint64_t lx_journal_durable_seq(const lx_journal_t *j); /* acks may go out up to here */
uint64_t lx_journal_last_seq(const lx_journal_t *j);    /* last appended */
int lx_journal_error(const lx_journal_t *j);            /* the sticky error, or 0 */
/* The chain hash after the last committed group (32 bytes). */
void lx_journal_chain(const lx_journal_t *j, uint8_t out[LX_JOURNAL_HASH_LEN]);
uint64_t lx_journal_epoch(const lx_journal_t *j);

typedef struct {
    uint64_t commands, groups, fsyncs, writes, bytes, segments_created;
    uint64_t snapshots, segments_removed, snapshots_removed;
} lx_journal_stats_t;
void lx_journal_stats(const lx_journal_t *j, lx_journal_stats_t *out);

/* ---- snapshots ----------------------------------------------------------- */

/*
 * Writes a snapshot of e, synchronously: commits the journal, requires
 * lx_engine_last_seq(e) <= durable seq (LX_ESTATE otherwise: a snapshot may
 * only hold durable commands), starts a new segment with a new epoch, writes
 * the snapshot (temporary file, fsync, rename, fsync of the directory), then
 * removes what retention allows. A forked snapshot still running is waited
 * for first (its error, if any, is returned). A failed snapshot leaves the journal
 * usable unless the failure was the journal's own (commit or new segment).
 */
int lx_journal_snapshot(lx_journal_t *j, const lx_engine_t *e);
/*
 * The same, but the snapshot is written by a fork()ed child from its
 * copy-on-write image of the engine, while the caller goes on applying
 * commands. stall_ns (may be NULL) receives the time the caller was stopped
 * in fork(). LX_ESTATE while an earlier child is still running.
 */
int lx_journal_snapshot_start(lx_journal_t *j, const lx_engine_t *e, uint64_t *stall_ns);
/* Reaps the child: 0 when done (retention has run) or none was running,
 * LX_EAGAIN while it runs (wait false), or the child's failure. */
int lx_journal_snapshot_poll(lx_journal_t *j, bool wait);
/*
 * Retention alone, for a snapshot that another thread took (a node whose
 * engine thread calls lx_snapshot_fork() between commands, all of which are
 * durable by construction): once that snapshot is durable, call this on the
 * journal's thread to remove older snapshots and the segments only they
 * needed (never the current segment).
 */
int lx_journal_retain(lx_journal_t *j);

typedef struct {
    uint64_t epoch, seq, digest;
    int64_t ts;
    uint64_t image_len, data_len;
    lx_engine_config_t engine;
} lx_snapshot_info_t;

/* The building blocks, for tools and tests: write a snapshot file of e into
 * dir (named after its seq) with the given epoch; read one back. */
/* Advises transparent huge pages on each of the engine's arrays of 2 MiB or
 * more (lx_engine_memory): the fork() of a snapshot then copies far fewer
 * page tables (src/journal/hugepages.c). Call after the engine is created
 * or recovered; arrays it grows later are not covered. Returns the bytes
 * advised. */
uint64_t lx_engine_hugepages(lx_engine_t *e);
/* The same, and maps every page of those arrays now, so that no command
 * later stops for a page fault when the engine first touches memory: with
 * huge pages a fault clears 2 MiB (on a VM whose host reclaims the memory
 * its guest frees, measured 6 to 10 ms each). Call lx_engine_reserve first
 * for the arrays that grow with the book. Returns the bytes mapped (0
 * where the kernel cannot map on request, before Linux 5.14). */
uint64_t lx_engine_prefault(lx_engine_t *e);

int lx_snapshot_write(const char *dir, const lx_engine_t *e, uint64_t epoch, int zstd_level,
                      const lx_io_t *io);
/* Forks a child that writes lx_snapshot_write(dir, e, ...) from its
 * copy-on-write image and exits; returns at once with its pid. stall_ns (may
 * be NULL) receives the time spent in fork(). Call it from the thread that
 * owns e, between commands. */
int lx_snapshot_fork(const char *dir, const lx_engine_t *e, uint64_t epoch, int zstd_level,
                     const lx_io_t *io, pid_t *child, uint64_t *stall_ns);
/* Reaps a child of lx_snapshot_fork: 0 if it wrote the snapshot, LX_EAGAIN
 * while it runs (block false), else its error (LX_EIO if it died). */
int lx_snapshot_wait(pid_t child, bool block);
/* Reads and fully checks path; *e may be NULL to check the header only.
 * msg (may be NULL) receives why a file is invalid. */
int lx_snapshot_read(const char *path, lx_engine_t **e, lx_snapshot_info_t *info, char *msg,
                     size_t msglen);
/* The same on a file image in memory (fuzzing). */
int lx_snapshot_read_buf(const uint8_t *buf, size_t len, lx_engine_t **e, lx_snapshot_info_t *info,
                         char *msg, size_t msglen);

/* ---- recovery and reading ------------------------------------------------ */

typedef struct {
    const lx_io_t *io; /* NULL: POSIX */
    /* Change nothing on disk: report a torn tail instead of truncating it
     * (verify, dump). */
    bool read_only;
    /* Ignore snapshots and replay from the first segment (verify). If that
     * segment is not the genesis one, start from the oldest valid snapshot
     * that the journal reaches back to. */
    bool from_genesis;
    /* While replaying, compare the digest of every snapshot whose seq is
     * passed with the replayed engine's (verify). */
    bool check_snapshots;
    /* Do not build an engine at all: only read and check the segments
     * (dump). Snapshots are ignored. */
    bool no_engine;
    /* Check chain hashes on this thread only (by default a helper thread
     * checks them ahead of the replay in large segments; same results). */
    bool single_thread;
    /* Called for every replayed command of a valid group, in order, before
     * it is applied; file is the segment's name, off the record's offset. */
    void (*on_cmd)(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth, const char *file,
                   uint64_t off);
    /* Called after every valid group. */
    void (*on_group)(void *ctx, uint64_t group, uint64_t last_seq, uint32_t count,
                     const uint8_t hash[LX_JOURNAL_HASH_LEN], const char *file, uint64_t off);
    void *ctx;
    const lx_sink_t *sink; /* events of replayed commands; NULL drops them */
} lx_recover_opts_t;

struct lx_recovery {
    bool empty;     /* no segment and no snapshot: a new journal */
    bool read_only; /* from a read-only recovery: lx_journal_open refuses it */
    lx_engine_config_t engine;
    /* where the replay started */
    uint64_t snapshot_seq;      /* 0 if none was used */
    char snapshot[64];          /* its file name, "" if none */
    uint32_t snapshots_skipped; /* newer snapshots found invalid */
    uint32_t snapshots_checked; /* check_snapshots: digests compared */
    /* what was replayed */
    uint64_t segments, groups, commands, bytes;
    /* where the log ends */
    uint64_t last_seq; /* the engine's last seq (snapshot or replay) */
    int64_t last_ts;
    uint64_t digest;                    /* lx_engine_digest() of the recovered engine */
    uint64_t epoch;                     /* highest epoch seen */
    uint64_t next_segment;              /* index the next segment takes */
    uint64_t total_groups;              /* groups in the log since genesis */
    uint64_t chain_seq;                 /* seq of the last command of the chain (>= last_seq) */
    uint8_t chain[LX_JOURNAL_HASH_LEN]; /* chain hash after the last valid group */
    /* a torn tail: the last segment ends with an incomplete or damaged
     * group, removed (or, read-only, reported) */
    bool torn;
    char torn_file[64];
    uint64_t torn_offset;   /* the tail started (and the file was cut) here */
    uint64_t torn_bytes;    /* bytes in the tail */
    uint64_t bad_offset;    /* the first invalid record */
    bool torn_removed_file; /* the whole last segment was a torn header */
    /* an error (LX_ECORRUPT...) or notes (skipped snapshot, torn tail):
     * names the file and the offset */
    char msg[512];
    char error_file[64];
    uint64_t error_offset;
};

/*
 * Rebuilds the engine from dir: the newest valid snapshot (older ones if the
 * newest is invalid, none if none is valid), then every valid group after
 * it, applied in runs through lx_engine_apply_batch_auth() with each
 * record's auth section (as lx_journal_apply() one by one). Stops at the
 * first invalid record: if it is the start of the torn tail of the last
 * segment (nothing after it proves that the group in flight there was
 * complete: docs/journal.md, Recovery, step 5) the tail is truncated
 * (fsync'ed) and reported in rec; anything else (a damaged record followed by a later group's
 * commit record or by a record after its own group's commit record, a damaged segment that is not
 * the last, a missing segment, a broken hash chain, a command the engine refuses) is LX_ECORRUPT
 * with rec->msg naming the file and the offset; the engine out of memory for a command is
 * LX_ENOMEM, named the same way. *e is NULL on error, and when the directory holds no journal
 * (rec->empty). opts may be NULL.
 */
int lx_recover(const char *dir, const lx_recover_opts_t *opts, lx_engine_t **e, lx_recovery_t *rec);

/* Hex of a chain hash into out (65 bytes). */
void lx_journal_hash_hex(const uint8_t hash[LX_JOURNAL_HASH_LEN], char out[65]);

/* lx_strerror(rc), except that an LX_EIO from this thread's last failed
 * journal or snapshot I/O names the system's reason ("No space left on
 * device", "Read-only file system"): LX_EIO alone hides what an operator
 * must do. */
const char *lx_journal_strerror(int rc);

#endif
