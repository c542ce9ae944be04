/*
 * journal.c: the writer: group commit, the hash chain, segment rotation,
 * sticky errors, and the snapshot calls that tie the journal to snapshots.
 *
 * Data structure: one batch buffer of batch_max_bytes + one record + one
 * commit record, allocated at open. lx_journal_append() encodes the command
 * record straight into it (format.c); lx_journal_commit() appends the commit
 * record, whose chain hash covers the previous hash, the epoch and the
 * batch's bytes, and hands the whole group to the file system with one
 * write() and one fdatasync(). Only then does durable_seq move, to the
 * group's last seq: the caller releases acknowledgements up to it (Redis's
 * flushAppendOnlyFile before any reply, ARCHITECTURE §4). A batch closes on
 * the first of: an explicit commit (the node commits when its input ring
 * runs dry), the size bound (inside append), or the time bound (poll, with
 * the time from the configured clock, so tests can drive it).
 *
 * Segments: the current one is appended to with plain write(); when it has
 * reached segment_bytes, the next batch starts a new file (so groups never
 * span segments and a segment overshoots by at most one batch). A new
 * segment's header (written, fdatasync'ed, directory fsync'ed before any
 * record goes in) carries the chain state before it, which lets a reader
 * start at any segment and check that none is missing. Every open and every
 * snapshot starts a new segment with the next epoch: the writer never
 * appends to a file it did not create in this epoch, so bytes of an older
 * writer (a torn tail that recovery cut, a stale file) can never be
 * mistaken for new records.
 *
 * Errors: a failed write, fsync, open or directory fsync sets a sticky error;
 * every later append, commit and snapshot returns it, and durable_seq stays
 * where it was. Nothing is retried: after a failed fsync the page cache may
 * have dropped the dirty pages, and a second fsync could "succeed" on data
 * that was never written (PostgreSQL's fsyncgate). The owner must stop
 * acknowledging and restart through recovery, which trusts only the file.
 *
 * Abandoning a batch: lx_journal_discard() forgets the buffered, uncommitted
 * group (last_seq and last_ts go back to the durable ones), so that its
 * owner can drop commands it will never acknowledge without lx_journal_close()
 * committing them. The node does so on its failure path: a round it dropped
 * must not become durable at shutdown and be applied after a restart.
 *
 * Invariants: durable_seq <= last_seq; the buffer holds exactly the records
 * of seqs (durable_seq, last_seq]; hash/groups describe the file as written
 * up to durable_seq.
 *
 * Threading: one thread owns a journal (the sequencer's). The engine may be
 * another thread's: lx_journal_snapshot* must then be called where both
 * are quiescent, or the node uses lx_snapshot_fork() directly.
 *
 * What this file does not do: read segments (scan.c, recover.c), or decide
 * when to snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "jnl.h"

struct lx_journal {
    char dir[4096];
    lx_journal_config_t cfg;
    const lx_io_t *io;
    lx_engine_config_t engine;

    int fd;              /* current segment, -1 before the first */
    uint64_t seg_bytes;  /* its size */
    uint64_t next_index; /* index of the next segment to create */
    uint64_t cur_index;
    uint64_t epoch;

    /* the chain, as durable */
    uint64_t durable_seq;
    int64_t durable_ts;
    uint64_t groups;
    uint8_t hash[LX_JOURNAL_HASH_LEN];

    /* what has been appended */
    uint64_t last_seq;
    int64_t last_ts;

    uint8_t *buf;
    size_t len, cap;
    uint32_t count;
    uint64_t batch_start;

    int err; /* sticky */
    pid_t child;
    lx_journal_stats_t st;
};

void lx_journal_config_default(lx_journal_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    lx_engine_config_default(&cfg->engine);
    cfg->segment_bytes = 64ull << 20;
    cfg->batch_max_bytes = 256u << 10;
    cfg->batch_max_delay_ns = 200000;
    cfg->fsync = true;
    cfg->keep_snapshots = 2;
    cfg->zstd_level = 1;
}

static uint64_t mono_clock(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(lx_journal_t *j, int neg_errno) {
    j->err = jnl_io_err(neg_errno);
    return j->err;
}

/* Creates segment next_index with the current epoch and chain state. */
static int new_segment(lx_journal_t *j) {
    char name[64], path[4200];
    jnl_seg_name(name, j->next_index);
    if (jnl_path(path, sizeof path, j->dir, name)) return j->err = LX_ERANGE;
    int fd = j->io->open(j->io->ctx, path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0644);
    if (fd < 0) return fail(j, fd);
    jnl_seg_hdr_t h = {.epoch = j->epoch,
                       .index = j->next_index,
                       .prev_seq = j->durable_seq,
                       .prev_groups = j->groups,
                       .engine = j->engine};
    memcpy(h.prev_hash, j->hash, LX_JOURNAL_HASH_LEN);
    uint8_t hdr[JNL_SEG_HDR_LEN];
    jnl_seg_hdr_encode(hdr, &h);
    int rc = j->io->write(j->io->ctx, fd, hdr, sizeof hdr);
    if (!rc && j->cfg.fsync) rc = j->io->fdatasync(j->io->ctx, fd);
    if (!rc && j->cfg.fsync) rc = j->io->fsync_dir(j->io->ctx, j->dir);
    if (rc) {
        j->io->close(j->io->ctx, fd);
        return fail(j, rc);
    }
    if (j->fd >= 0) j->io->close(j->io->ctx, j->fd);
    j->fd = fd;
    j->cur_index = j->next_index++;
    j->seg_bytes = JNL_SEG_HDR_LEN;
    j->st.segments_created++;
    return 0;
}

int lx_journal_open(lx_journal_t **out, const char *dir, const lx_journal_config_t *cfg,
                    const lx_recovery_t *rec) {
    if (!out || !dir || !cfg) return LX_EINVAL;
    *out = NULL;
    if (cfg->segment_bytes < JNL_SEG_HDR_LEN || cfg->batch_max_bytes == 0 ||
        cfg->keep_snapshots == 0 || strlen(dir) + 80 > sizeof((lx_journal_t *)0)->dir)
        return LX_EINVAL;
    if (rec && !rec->empty && rec->read_only) return LX_EINVAL;
    lx_journal_t *j = calloc(1, sizeof *j);
    if (!j) return LX_ENOMEM;
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    j->cfg = *cfg;
    j->io = cfg->io ? cfg->io : lx_io_posix();
    if (!j->cfg.clock) j->cfg.clock = mono_clock;
    j->fd = -1;
    j->cap = (size_t)cfg->batch_max_bytes + JNL_REC_MAX + JNL_COMMIT_LEN;
    j->buf = malloc(j->cap);
    int rc = LX_ENOMEM;
    if (!j->buf) goto fail;
    if (rec && !rec->empty) {
        j->engine = rec->engine;
        j->epoch = rec->epoch + 1;
        j->next_index = rec->next_segment;
        j->durable_seq = j->last_seq = rec->chain_seq;
        j->durable_ts = j->last_ts = rec->last_ts;
        j->groups = rec->total_groups;
        memcpy(j->hash, rec->chain, LX_JOURNAL_HASH_LEN);
    } else {
        /* a new directory: its parent is fsync'ed, or the fsync'ed segments
         * could vanish with it */
        if (lx_io_mkdir(j->io, dir, j->cfg.fsync) != 0) {
            rc = LX_EIO;
            goto fail;
        }
        jnl_dir_t d;
        if ((rc = jnl_dir_list(dir, &d))) goto fail;
        bool used = d.nsegs || d.nsnaps;
        jnl_dir_free(&d);
        if (used) {
            rc = LX_EEXIST;
            goto fail;
        }
        j->engine = cfg->engine;
        j->epoch = 1;
    }
    if ((rc = new_segment(j))) goto fail;
    *out = j;
    return 0;
fail:
    lx_journal_close(j);
    return rc;
}

void lx_journal_close(lx_journal_t *j) {
    if (!j) return;
    if (!j->err) lx_journal_commit(j);
    if (j->child > 0) lx_journal_snapshot_poll(j, true);
    if (j->fd >= 0) j->io->close(j->io->ctx, j->fd);
    free(j->buf);
    free(j);
}

int lx_journal_commit(lx_journal_t *j) {
    if (j->err) return j->err;
    if (j->count == 0) return 0;
    uint8_t hash[LX_JOURNAL_HASH_LEN];
    jnl_commit_encode(j->buf + j->len, j->epoch, j->buf, (uint32_t)j->len, j->count, j->last_seq,
                      j->groups + 1, j->hash, hash);
    size_t total = j->len + JNL_COMMIT_LEN;
    int rc = j->io->write(j->io->ctx, j->fd, j->buf, total);
    j->st.writes++;
    if (rc) return fail(j, rc);
    if (j->cfg.fsync) {
        rc = j->io->fdatasync(j->io->ctx, j->fd);
        j->st.fsyncs++;
        if (rc) return fail(j, rc);
    }
    j->durable_seq = j->last_seq;
    j->durable_ts = j->last_ts;
    j->groups++;
    memcpy(j->hash, hash, LX_JOURNAL_HASH_LEN);
    j->seg_bytes += total;
    j->st.groups++;
    j->st.commands += j->count;
    j->st.bytes += total;
    j->len = 0;
    j->count = 0;
    return 0;
}

uint32_t lx_journal_discard(lx_journal_t *j) {
    uint32_t n = j->count;
    j->len = 0;
    j->count = 0;
    j->last_seq = j->durable_seq;
    j->last_ts = j->durable_ts;
    return n;
}

int lx_journal_append(lx_journal_t *j, const lx_cmd_t *cmd, const lx_journal_auth_t *auth) {
    if (j->err) return j->err;
    if (!cmd || cmd->seq <= j->last_seq || cmd->ts < j->last_ts) return LX_EINVAL;
    if (j->count == 0 && j->seg_bytes >= j->cfg.segment_bytes) {
        int rc = new_segment(j);
        if (rc) return rc;
    }
    int n = jnl_cmd_rec_encode(j->buf + j->len, j->epoch, cmd, auth);
    if (n < 0) return n;
    if (j->count == 0) j->batch_start = j->cfg.clock(j->cfg.clock_ctx);
    j->len += (size_t)n;
    j->count++;
    j->last_seq = cmd->seq;
    j->last_ts = cmd->ts;
    if (j->len >= j->cfg.batch_max_bytes) return lx_journal_commit(j);
    return 0;
}

int lx_journal_poll(lx_journal_t *j, uint64_t now_ns) {
    if (j->err) return j->err;
    if (j->count && now_ns - j->batch_start >= j->cfg.batch_max_delay_ns)
        return lx_journal_commit(j);
    return 0;
}

uint64_t lx_journal_deadline(const lx_journal_t *j) {
    return j->count ? j->batch_start + j->cfg.batch_max_delay_ns : UINT64_MAX;
}

uint64_t lx_journal_now(const lx_journal_t *j) {
    return j->cfg.clock(j->cfg.clock_ctx);
}
uint64_t lx_journal_durable_seq(const lx_journal_t *j) {
    return j->durable_seq;
}
uint64_t lx_journal_last_seq(const lx_journal_t *j) {
    return j->last_seq;
}
int lx_journal_error(const lx_journal_t *j) {
    return j->err;
}
uint64_t lx_journal_epoch(const lx_journal_t *j) {
    return j->epoch;
}

void lx_journal_chain(const lx_journal_t *j, uint8_t out[LX_JOURNAL_HASH_LEN]) {
    memcpy(out, j->hash, LX_JOURNAL_HASH_LEN);
}

void lx_journal_stats(const lx_journal_t *j, lx_journal_stats_t *out) {
    *out = j->st;
}

void lx_journal_hash_hex(const uint8_t hash[LX_JOURNAL_HASH_LEN], char out[65]) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < LX_JOURNAL_HASH_LEN; i++) {
        out[2 * i] = hx[hash[i] >> 4];
        out[2 * i + 1] = hx[hash[i] & 15];
    }
    out[64] = 0;
}

/* ---- snapshots ----------------------------------------------------------- */

/* Everything a snapshot of e needs from the journal: e holds only durable
 * commands, and a new epoch has begun. */
static int snapshot_prepare(lx_journal_t *j, const lx_engine_t *e) {
    if (!e) return LX_EINVAL;
    if (j->child > 0) return LX_ESTATE;
    int rc = lx_journal_commit(j);
    if (rc) return rc;
    if (lx_engine_last_seq(e) > j->durable_seq) return LX_ESTATE;
    j->epoch++;
    return new_segment(j);
}

static int retain(lx_journal_t *j) {
    uint64_t segs = 0, snaps = 0;
    int rc = jnl_retain(j->dir, j->io, j->cfg.keep_snapshots, j->cur_index, &segs, &snaps);
    j->st.segments_removed += segs;
    j->st.snapshots_removed += snaps;
    return rc;
}

int lx_journal_retain(lx_journal_t *j) {
    return retain(j);
}

int lx_journal_snapshot(lx_journal_t *j, const lx_engine_t *e) {
    int rc = lx_journal_snapshot_poll(j, true); /* a forked one first */
    if (rc) return rc;
    rc = snapshot_prepare(j, e);
    if (rc) return rc;
    rc = lx_snapshot_write(j->dir, e, j->epoch, j->cfg.zstd_level, j->io);
    if (rc) return rc;
    j->st.snapshots++;
    return retain(j);
}

int lx_journal_snapshot_start(lx_journal_t *j, const lx_engine_t *e, uint64_t *stall_ns) {
    int rc = snapshot_prepare(j, e);
    if (rc) return rc;
    return lx_snapshot_fork(j->dir, e, j->epoch, j->cfg.zstd_level, j->io, &j->child, stall_ns);
}

int lx_journal_snapshot_poll(lx_journal_t *j, bool wait) {
    if (j->child <= 0) return 0;
    int rc = lx_snapshot_wait(j->child, wait);
    if (rc == LX_EAGAIN) return rc;
    j->child = 0;
    if (rc) return rc;
    j->st.snapshots++;
    return retain(j);
}
