/*
 * recover.c: from a journal directory back to an engine: choose the
 * snapshot, replay the segments after it, cut a torn tail, refuse anything
 * else; and retention, which decides what the next recovery no longer needs.
 *
 * Recovery, in order (docs/journal.md has the same rules for operators):
 *
 *   1. List the directory: segments seg-<index>.lxj, snapshots
 *      snap-<seq>.lxs, leftover snapshot temporaries (deleted). Nothing at
 *      all is a new journal (rec->empty).
 *   2. The last segment's header may be torn (a crash while the writer was
 *      creating it: shorter than 128 bytes, all zeros, or a bad header with
 *      nothing after it). Such a file holds no record; it is deleted.
 *   3. Snapshot: the newest one that is valid (snapfile.c checks CRCs,
 *      lengths, the image, the digest). An invalid one is skipped with a
 *      note in rec->msg, and the next older is tried; with none, replay
 *      starts from an empty engine, which requires the genesis segment
 *      (index 0, prev_seq 0) to be present.
 *   4. Replay: from the last segment whose prev_seq <= the snapshot's seq N,
 *      every segment in index order. Each header must continue the chain
 *      (index + 1, prev_seq, prev_groups and prev_hash equal to where the
 *      previous segment ended, epoch not smaller, same engine configuration);
 *      each group is checked (scan.c) and its commands with seq > N are
 *      applied as lx_journal_apply() would (with the record's auth
 *      section, if any, into opts.sink), in runs through
 *      lx_engine_apply_batch_auth (on_group); the engine refusing one
 *      (LX_EINVAL: seq or ts out of order) is corruption too, the engine
 *      out of memory for one is LX_ENOMEM (the journal is fine: run
 *      recovery again).
 *   5. The end: a clean end, or a torn tail in the LAST segment (scan.c
 *      defines it: nothing after the first invalid byte proves that the
 *      group in flight there was complete and fsync'ed). The tail is
 *      cut with ftruncate + fsync, so that a later recovery, and the next
 *      writer's new segment after it, see a clean end; a clean end is
 *      fsync'ed as it is (a writer killed before its fdatasync returned
 *      left its last group in the page cache only, and it was just
 *      replayed: what the next writer builds on must be on disk). Both
 *      happen only once everything else checked out. A torn tail in any
 *      other segment, a damaged record followed by one that a later write
 *      produced (scan.c), a missing
 *      segment, a broken chain or a journal that ends before the snapshot's
 *      seq (a "torn" tail before it included: the snapshot proves it was
 *      durable) is LX_ECORRUPT, with rec->msg naming the file and the offset.
 *      Nothing is skipped and nothing is "repaired" beyond the torn tail.
 *
 * After recovery the engine's digest is the digest it had after the last
 * durable command (every durable group is intact, and nothing else was
 * applied), and rec holds the chain state lx_journal_open() continues from.
 *
 * Read-only recovery (verify, dump) does the same without touching a file.
 * from_genesis (verify) replays from the first segment instead of the newest
 * snapshot and, with check_snapshots, compares every snapshot it passes with
 * the replayed engine's digest.
 *
 * Retention (jnl_retain, after each snapshot): keep the newest keep
 * snapshots; delete older snapshot files, then every segment before the one
 * where a replay from the oldest kept snapshot would start, oldest first, so
 * that a crash in the middle leaves a contiguous suffix of segments. While
 * there are fewer than keep snapshots nothing is deleted: the genesis
 * segments are then one of the keep recovery points.
 *
 * What this file does not do: parse records (scan.c, format.c), or write
 * any record.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "jnl.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct {
    int rc; /* 0, or the parse result */
    jnl_seg_hdr_t h;
} seg_info_t;

static int read_hdr(const char *dir, const char *name, seg_info_t *si) {
    char path[4200];
    uint8_t b[JNL_SEG_HDR_LEN];
    if (jnl_path(path, sizeof path, dir, name)) return si->rc = LX_ERANGE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return si->rc = LX_EIO;
    ssize_t n;
    do n = pread(fd, b, sizeof b, 0);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0) return si->rc = LX_EIO;
    return si->rc = jnl_seg_hdr_parse(b, (size_t)n, &si->h, NULL);
}

/* Effective values: 0 in a segment header (older segments) or a config
 * means the engine's default. */
static bool cfg_equal(const lx_engine_config_t *ca, const lx_engine_config_t *cb) {
    lx_engine_config_t ea = lx_engine_config_effective(ca), eb = lx_engine_config_effective(cb);
    const lx_engine_config_t *a = &ea, *b = &eb;
    return a->max_markets == b->max_markets && a->max_assets == b->max_assets &&
           a->max_accounts == b->max_accounts && a->max_orders == b->max_orders &&
           a->max_open_orders_per_account == b->max_open_orders_per_account &&
           a->clearing == b->clearing && a->deadman_min_lead_ns == b->deadman_min_lead_ns &&
           a->max_agents_per_account == b->max_agents_per_account &&
           a->fee_account == b->fee_account && a->rules == b->rules;
}

static int errorf(lx_recovery_t *rec, const char *dir, const char *file, uint64_t off, int rc,
                  const char *fmt, ...) {
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (file) {
        snprintf(rec->error_file, sizeof rec->error_file, "%s", file);
        rec->error_offset = off;
        snprintf(rec->msg, sizeof rec->msg, "%s/%s: offset %" PRIu64 ": %s", dir, file, off, what);
    } else {
        snprintf(rec->msg, sizeof rec->msg, "%s: %s", dir, what);
    }
    return rc;
}

static void note(lx_recovery_t *rec, const char *fmt, ...) {
    size_t n = strlen(rec->msg);
    if (n + 3 >= sizeof rec->msg) return;
    if (n) {
        memcpy(rec->msg + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->msg + n, sizeof rec->msg - n, fmt, ap);
    va_end(ap);
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* ---- retention ----------------------------------------------------------- */

int jnl_retain(const char *dir, const lx_io_t *io, uint32_t keep, uint64_t keep_from,
               uint64_t *segs_removed, uint64_t *snaps_removed) {
    jnl_dir_t d;
    int rc = jnl_dir_list(dir, &d);
    if (rc) return rc;
    char path[4200];
    bool removed = false;
    if (keep == 0) keep = 1;
    /* fewer snapshots than kept: the genesis segments are the oldest recovery point */
    if (d.nsnaps < keep) goto done;
    size_t first_kept = d.nsnaps > keep ? d.nsnaps - keep : 0;
    for (size_t i = 0; i < first_kept; i++) {
        if ((rc = jnl_path(path, sizeof path, dir, d.snaps[i].name))) goto done;
        if ((rc = io->unlink(io->ctx, path)) < 0) {
            rc = jnl_io_err(rc);
            goto done;
        }
        (*snaps_removed)++;
        removed = true;
    }
    uint64_t oldest = d.snaps[first_kept].key;
    /* the segment a replay from `oldest` starts at */
    size_t start = d.nsegs;
    for (size_t i = 0; i < d.nsegs; i++) {
        seg_info_t si;
        if (read_hdr(dir, d.segs[i].name, &si) == 0 && si.h.prev_seq <= oldest) start = i;
    }
    for (size_t i = 0; i < start && i < d.nsegs; i++) {
        if (d.segs[i].key >= keep_from) break;
        if ((rc = jnl_path(path, sizeof path, dir, d.segs[i].name))) goto done;
        if ((rc = io->unlink(io->ctx, path)) < 0) {
            rc = jnl_io_err(rc);
            goto done;
        }
        (*segs_removed)++;
        removed = true;
    }
    rc = 0;
done:
    if (removed) {
        int r2 = io->fsync_dir(io->ctx, dir);
        if (!rc && r2 < 0) rc = jnl_io_err(r2);
    }
    jnl_dir_free(&d);
    return rc;
}

/* ---- replay -------------------------------------------------------------- */

typedef struct {
    uint64_t seq, digest;
    const char *name;
} snap_check_t;

/* The engine's auth section for a record's (NULL or scheme NONE: none,
 * which the engine takes as no auth). */
static void cmd_auth(const lx_journal_auth_t *a, lx_cmd_auth_t *out) {
    memset(out, 0, sizeof *out);
    if (!a || a->scheme == LX_AUTH_NONE) return;
    out->scheme = a->scheme;
    out->nonce = a->nonce;
    memcpy(out->key, a->key, sizeof out->key);
}

/* Commands applied in one lx_engine_apply_batch_auth call: a group's,
 * up to this many at a time (the engine fetches ahead within a run). */
#define REPLAY_RUN 256

typedef struct {
    const char *dir;
    const lx_recover_opts_t *opts;
    lx_recovery_t *rec;
    lx_engine_t *e;
    uint64_t skip_to;     /* commands with seq <= this are in the snapshot */
    const char *file;     /* current segment */
    snap_check_t *checks; /* check_snapshots, ascending seq */
    size_t nchecks, next_check;
    /* the run being gathered (REPLAY_RUN each, with an engine): commands,
     * their auth sections, their records (offset, on_cmd) */
    lx_cmd_t *run;
    lx_cmd_auth_t *run_auth;
    const jnl_entry_t **run_ent;
    size_t nrun, pend; /* the run's length; on_cmd called before pend */
} replay_t;

/* on_cmd, and the count of commands replayed, for the run's commands up
 * to (not including) upto, in order. */
static void announce(replay_t *r, size_t upto) {
    const lx_recover_opts_t *o = r->opts;
    for (; r->pend < upto; r->pend++) {
        const jnl_entry_t *en = r->run_ent[r->pend];
        if (o->on_cmd) {
            lx_journal_auth_t a;
            if (en->auth) jnl_auth_decode(en->auth, &a);
            o->on_cmd(o->ctx, &en->cmd, en->auth ? &a : NULL, r->file, en->off);
        }
        r->rec->commands++;
    }
}

/* The run's sink while on_cmd is set: a command's first event calls on_cmd
 * for it (and for the commands before it that had none) first, so that
 * on_cmd and the events interleave as with one command a call. */
static void relay(void *ctx, const lx_event_t *ev) {
    replay_t *r = ctx;
    size_t j = r->pend;
    while (j < r->nrun && r->run[j].seq <= ev->seq) j++;
    announce(r, j);
    const lx_sink_t *s = r->opts->sink;
    if (s && s->emit) s->emit(s->ctx, ev);
}

/* Applies the gathered run (n commands); on a refusal, names the command. */
static int apply_run(replay_t *r, size_t n) {
    size_t done = 0;
    lx_sink_t via = {relay, r};
    r->nrun = n;
    r->pend = 0;
    int rc = lx_engine_apply_batch_auth(r->e, r->run, r->run_auth, n,
                                        r->opts->on_cmd ? &via : r->opts->sink, &done);
    /* the commands applied, and the one refused (seen before it was) */
    announce(r, rc ? done + 1 : n);
    if (rc == LX_ENOMEM) /* not the journal's fault: recovery may be run again */
        return errorf(r->rec, r->dir, r->file, r->run_ent[done]->off, LX_ENOMEM,
                      "no memory to apply command seq %" PRIu64, r->run[done].seq);
    if (rc)
        return errorf(r->rec, r->dir, r->file, r->run_ent[done]->off, LX_ECORRUPT,
                      "the engine refuses command seq %" PRIu64 " (%s)", r->run[done].seq,
                      lx_err_name(rc));
    return 0;
}

/* The snapshots to compare with the engine once it has applied seq. */
static int check_snapshots(replay_t *r, uint64_t seq) {
    while (r->next_check < r->nchecks && r->checks[r->next_check].seq <= seq) {
        const snap_check_t *c = &r->checks[r->next_check++];
        if (c->seq != seq)
            return errorf(r->rec, r->dir, c->name, 0, LX_ECORRUPT,
                          "snapshot seq %" PRIu64 " is not a seq of the journal", c->seq);
        if (lx_engine_digest(r->e) != c->digest)
            return errorf(r->rec, r->dir, c->name, 0, LX_ECORRUPT,
                          "snapshot digest differs from the replayed engine's at seq %" PRIu64,
                          c->seq);
        r->rec->snapshots_checked++;
    }
    return 0;
}

/* A group's commands after the snapshot are applied in runs (a run ends
 * at the group's end, at REPLAY_RUN commands, and at a command whose seq
 * a snapshot to check has reached), each command with the record's auth
 * section, so that replay checks signers and records nonces exactly as
 * the live engine did (docs/identity.md). The same events and state as
 * one lx_journal_apply() a command. */
static int on_group(void *ctx, const jnl_entry_t *ents, uint32_t n, uint64_t group,
                    const uint8_t *hash, uint64_t commit_off) {
    replay_t *r = ctx;
    const lx_recover_opts_t *o = r->opts;
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const jnl_entry_t *en = &ents[i];
        if (en->cmd.seq <= r->skip_to) continue;
        lx_journal_auth_t a;
        if (en->auth) jnl_auth_decode(en->auth, &a);
        if (!r->e) {
            if (o->on_cmd) o->on_cmd(o->ctx, &en->cmd, en->auth ? &a : NULL, r->file, en->off);
            r->rec->commands++;
            continue;
        }
        /* on_cmd and the count as the run is applied (apply_run) */
        r->run_ent[k] = en;
        cmd_auth(en->auth ? &a : NULL, &r->run_auth[k]);
        r->run[k++] = en->cmd;
        bool check = r->next_check < r->nchecks && r->checks[r->next_check].seq <= en->cmd.seq;
        if (k < REPLAY_RUN && !check) continue;
        int rc = apply_run(r, k);
        if (!rc) rc = check_snapshots(r, en->cmd.seq);
        if (rc) return rc;
        k = 0;
    }
    if (k) {
        int rc = apply_run(r, k);
        if (rc) return rc;
    }
    r->rec->groups++;
    if (o->on_group) {
        uint64_t last = n ? ents[n - 1].cmd.seq : 0;
        o->on_group(o->ctx, group, last, n, hash, r->file, commit_off);
    }
    return 0;
}

/* Cuts path to len bytes (UINT64_MAX: as it is), durably. */
static int truncate_file(const lx_io_t *io, const char *path, uint64_t len) {
    int fd = io->open(io->ctx, path, O_WRONLY, 0);
    if (fd < 0) return jnl_io_err(fd);
    int rc = len == UINT64_MAX ? 0 : io->ftruncate(io->ctx, fd, (off_t)len);
    if (!rc) rc = io->fsync(io->ctx, fd);
    io->close(io->ctx, fd);
    return rc < 0 ? jnl_io_err(rc) : 0;
}

/* Is the last segment's header torn (a crash while it was being created)? */
static bool torn_header(const jnl_map_t *m) {
    if (m->len < JNL_SEG_HDR_LEN) return true;
    if (all_zero(m->data, m->len)) return true;
    jnl_seg_hdr_t h;
    return m->len == JNL_SEG_HDR_LEN && jnl_seg_hdr_parse(m->data, m->len, &h, NULL) != 0;
}

int lx_recover(const char *dir, const lx_recover_opts_t *opts_in, lx_engine_t **out,
               lx_recovery_t *rec) {
    static const lx_recover_opts_t no_opts;
    const lx_recover_opts_t *opts = opts_in ? opts_in : &no_opts;
    if (!dir || !rec || (!out && !opts->no_engine)) return LX_EINVAL;
    if (out) *out = NULL;
    memset(rec, 0, sizeof *rec);
    rec->read_only = opts->read_only;
    const lx_io_t *io = opts->io ? opts->io : lx_io_posix();
    char path[4200];
    jnl_dir_t d;
    int rc = jnl_dir_list(dir, &d);
    if (rc == LX_ENOENT) {
        rec->empty = true;
        return 0;
    }
    if (rc) return errorf(rec, dir, NULL, 0, rc, "cannot list the directory");

    seg_info_t *si = NULL;
    snap_check_t *checks = NULL;
    lx_engine_t *e = NULL;
    jnl_scan_t sc;
    memset(&sc, 0, sizeof sc);
    jnl_map_t m = {0};
    bool dir_changed = false;
    replay_t r = {.dir = dir, .opts = opts, .rec = rec};

    if (!opts->read_only) {
        for (size_t i = 0; i < d.ntmps; i++) {
            if (jnl_path(path, sizeof path, dir, d.tmps[i].name) == 0 &&
                io->unlink(io->ctx, path) == 0)
                dir_changed = true;
        }
    }
    if (d.nsegs == 0 && (d.nsnaps == 0 || opts->no_engine)) {
        rec->empty = true;
        rc = 0;
        goto done;
    }

    /* 2. a torn header of the last segment */
    if (d.nsegs) {
        const char *name = d.segs[d.nsegs - 1].name;
        if ((rc = jnl_path(path, sizeof path, dir, name))) goto done;
        if ((rc = jnl_map(path, &m))) {
            rc = errorf(rec, dir, name, 0, rc, "cannot read");
            goto done;
        }
        bool torn = torn_header(&m);
        uint64_t flen = m.len;
        jnl_unmap(&m);
        if (torn) {
            rec->torn = true;
            rec->torn_removed_file = true;
            snprintf(rec->torn_file, sizeof rec->torn_file, "%s", name);
            rec->torn_offset = 0;
            rec->torn_bytes = flen;
            note(rec, "%s/%s: torn segment header (%" PRIu64 " bytes)%s", dir, name, flen,
                 opts->read_only ? ", would be removed" : ", removed");
            if (!opts->read_only) {
                if ((rc = io->unlink(io->ctx, path)) < 0) {
                    rc = errorf(rec, dir, name, 0, jnl_io_err(rc), "cannot remove");
                    goto done;
                }
                dir_changed = true;
            }
            d.nsegs--;
        }
    }
    if (d.nsegs == 0) {
        if (d.nsnaps && !opts->no_engine) {
            rc = errorf(rec, dir, NULL, 0, LX_ECORRUPT,
                        "snapshots but no journal segment: the log is missing");
            goto done;
        }
        rec->empty = true;
        rc = 0;
        goto done;
    }

    si = calloc(d.nsegs, sizeof *si);
    if (!si) {
        rc = LX_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < d.nsegs; i++) {
        read_hdr(dir, d.segs[i].name, &si[i]);
        if (si[i].rc == 0 && si[i].h.epoch > rec->epoch) rec->epoch = si[i].h.epoch;
    }

    /* 3. the snapshot, and the segment the replay starts at */
    uint64_t base = 0; /* seq the replay starts after */
    const jnl_seg_hdr_t *first = si[0].rc == 0 ? &si[0].h : NULL;
    bool genesis = first && d.segs[0].key == 0 && first->prev_seq == 0 && first->prev_groups == 0;
    if (!opts->no_engine) {
        char why[160];
        size_t ns = d.nsnaps;
        for (size_t k = 0; k < ns && !(opts->from_genesis && genesis); k++) {
            /* newest first; from_genesis without genesis: oldest first */
            size_t i = opts->from_genesis ? k : ns - 1 - k;
            const jnl_file_t *f = &d.snaps[i];
            if (opts->from_genesis && first && f->key < first->prev_seq) continue;
            if ((rc = jnl_path(path, sizeof path, dir, f->name))) goto done;
            lx_snapshot_info_t info;
            rc = lx_snapshot_read(path, &e, &info, why, sizeof why);
            if (rc == LX_ENOMEM) goto done;
            if (rc) {
                if (!opts->from_genesis) rec->snapshots_skipped++;
                note(rec, "%s/%s: invalid snapshot skipped: %s", dir, f->name, why);
                continue;
            }
            if (info.epoch > rec->epoch) rec->epoch = info.epoch;
            base = info.seq;
            snprintf(rec->snapshot, sizeof rec->snapshot, "%s", f->name);
            rec->snapshot_seq = base;
            break;
        }
        if (!e) {
            if (!genesis) {
                /* a first segment of a format or rules version this build
                 * does not know (a newer lxdexd's) is not corruption */
                rc = errorf(rec, dir, d.segs[0].name, 0,
                            si[0].rc == LX_EVERSION ? LX_EVERSION : LX_ECORRUPT,
                            "no valid snapshot, and the journal does not start at genesis "
                            "(first segment: %s)",
                            si[0].rc ? lx_strerror(si[0].rc) : "starts after a later seq");
                goto done;
            }
            if ((rc = lx_engine_create(&e, &first->engine))) {
                rc = errorf(rec, dir, d.segs[0].name, 0, rc == LX_EINVAL ? LX_ECORRUPT : rc,
                            "cannot create an engine with the stored configuration");
                goto done;
            }
        }
        rec->engine = *lx_engine_config(e);
    }
    r.e = e;
    r.skip_to = base;
    if (e && (!(r.run = malloc(REPLAY_RUN * sizeof *r.run)) ||
              !(r.run_auth = malloc(REPLAY_RUN * sizeof *r.run_auth)) ||
              !(r.run_ent = malloc(REPLAY_RUN * sizeof *r.run_ent)))) {
        rc = errorf(rec, dir, NULL, 0, LX_ENOMEM, "no memory to replay");
        goto done;
    }
    size_t start = d.nsegs;
    for (size_t i = 0; i < d.nsegs; i++)
        if (si[i].rc == 0 && si[i].h.prev_seq <= base) start = i;
    if (opts->no_engine) start = 0;
    if (start == d.nsegs) {
        rc = errorf(rec, dir, d.segs[0].name, 0, LX_ECORRUPT,
                    "the journal does not reach back to seq %" PRIu64 " (%s)", base + 1,
                    rec->snapshot[0] ? rec->snapshot : "genesis");
        goto done;
    }
    if (opts->check_snapshots && e) {
        checks = calloc(d.nsnaps + 1, sizeof *checks);
        if (!checks) {
            rc = LX_ENOMEM;
            goto done;
        }
        size_t nc = 0;
        for (size_t i = 0; i < d.nsnaps; i++) {
            if (d.snaps[i].key <= base) continue;
            if ((rc = jnl_path(path, sizeof path, dir, d.snaps[i].name))) goto done;
            lx_snapshot_info_t info;
            char why[160];
            lx_engine_t *se = NULL;
            /* loaded, not only its header read: an image of an older
             * version is checked against the digest of its day, then
             * brought to today's form (snapshot.c), whose digest is the
             * one a replay reaches */
            int r2 = lx_snapshot_read(path, &se, &info, why, sizeof why);
            if (r2 != 0) {
                rc = errorf(rec, dir, d.snaps[i].name, 0, r2 == LX_ENOMEM ? r2 : LX_ECORRUPT, "%s",
                            why);
                goto done;
            }
            checks[nc++] = (snap_check_t){info.seq, lx_engine_digest(se), d.snaps[i].name};
            lx_engine_destroy(se);
        }
        if (rec->snapshot[0]) rec->snapshots_checked++; /* the one loaded checked itself */
        r.checks = checks;
        r.nchecks = nc;
    }

    /* 4. replay */
    sc.on_group = on_group;
    sc.ctx = &r;
    sc.parallel = !opts->single_thread;
    for (size_t i = start; i < d.nsegs; i++) {
        const char *name = d.segs[i].name;
        bool last = i == d.nsegs - 1;
        r.file = name;
        if ((rc = jnl_path(path, sizeof path, dir, name))) goto done;
        if ((rc = jnl_map(path, &m))) {
            rc = errorf(rec, dir, name, 0, rc, "cannot read");
            goto done;
        }
        jnl_seg_hdr_t h;
        const char *why = NULL;
        if ((rc = jnl_seg_hdr_parse(m.data, m.len, &h, &why))) {
            rc = errorf(rec, dir, name, 0, rc == LX_EVERSION ? rc : LX_ECORRUPT, "%s", why);
            goto done;
        }
        if (h.index != d.segs[i].key) {
            rc = errorf(rec, dir, name, 24, LX_ECORRUPT, "segment header names index %" PRIu64,
                        h.index);
            goto done;
        }
        if (e && !cfg_equal(&h.engine, &rec->engine)) {
            rc = errorf(rec, dir, name, 80, LX_ECORRUPT,
                        "engine configuration differs from the snapshot's or genesis'");
            goto done;
        }
        if (i == start) {
            sc.chain.last_seq = h.prev_seq;
            sc.chain.last_ts = INT64_MIN;
            sc.chain.groups = h.prev_groups;
            memcpy(sc.chain.hash, h.prev_hash, LX_JOURNAL_HASH_LEN);
            if (opts->no_engine) rec->engine = h.engine;
        } else {
            if (h.index != d.segs[i - 1].key + 1) {
                char want[64];
                jnl_seg_name(want, d.segs[i - 1].key + 1);
                rc = errorf(rec, dir, name, 0, LX_ECORRUPT, "segment %s is missing", want);
                goto done;
            }
            if (h.prev_seq != sc.chain.last_seq || h.prev_groups != sc.chain.groups ||
                memcmp(h.prev_hash, sc.chain.hash, LX_JOURNAL_HASH_LEN) != 0 ||
                h.epoch < sc.epoch) {
                rc = errorf(rec, dir, name, 32, LX_ECORRUPT,
                            "segment header does not continue the chain of %s", d.segs[i - 1].name);
                goto done;
            }
        }
        sc.epoch = h.epoch;
        rc = jnl_scan_records(m.data, m.len, &sc);
        rec->segments++;
        rec->bytes += m.len;
        if (rc) {
            if (sc.cb_rc) goto done; /* message set by on_group */
            rc = errorf(rec, dir, name, sc.valid_end, rc, "cannot scan");
            goto done;
        }
        if (sc.status == JNL_SCAN_CORRUPT) {
            rc = errorf(rec, dir, name, sc.bad_offset, LX_ECORRUPT, "%s", sc.why);
            goto done;
        }
        if (sc.status == JNL_SCAN_TORN) {
            if (!last) {
                rc = errorf(rec, dir, name, sc.bad_offset, LX_ECORRUPT,
                            "%s, in a segment that is not the last", sc.why);
                goto done;
            }
            if (e && sc.chain.last_seq < base) {
                /* the snapshot proves the group durable: this is damage, not
                 * a torn write, and nothing is cut */
                rc = errorf(rec, dir, name, sc.bad_offset, LX_ECORRUPT,
                            "%s; the journal would end at seq %" PRIu64
                            ", before the snapshot's seq %" PRIu64,
                            sc.why, sc.chain.last_seq, base);
                goto done;
            }
            rec->torn = true;
            snprintf(rec->torn_file, sizeof rec->torn_file, "%s", name);
            rec->torn_offset = sc.valid_end;
            rec->torn_bytes = m.len - sc.valid_end;
            rec->bad_offset = sc.bad_offset;
            rec->error_offset = sc.bad_offset;
            snprintf(rec->error_file, sizeof rec->error_file, "%s", name);
            note(rec,
                 "%s/%s: offset %" PRIu64 ": %s: torn tail of %" PRIu64
                 " bytes from offset %" PRIu64 "%s",
                 dir, name, sc.bad_offset, sc.why, rec->torn_bytes, sc.valid_end,
                 opts->read_only ? " (not cut: read-only)" : " cut");
        }
        jnl_unmap(&m);
    }
    if (e && sc.chain.last_seq < base) {
        rc = errorf(rec, dir, d.segs[d.nsegs - 1].name, 0, LX_ECORRUPT,
                    "the journal ends at seq %" PRIu64 ", before the snapshot's seq %" PRIu64,
                    sc.chain.last_seq, base);
        goto done;
    }
    if (r.next_check < r.nchecks) {
        rc = errorf(rec, dir, r.checks[r.next_check].name, 0, LX_ECORRUPT,
                    "snapshot seq %" PRIu64 " is beyond the end of the journal",
                    r.checks[r.next_check].seq);
        goto done;
    }

    if (!opts->read_only) {
        /* The last segment: its torn tail cut, or its end made durable as it
         * is. A writer killed between a group's write() and its fdatasync
         * left that group in the page cache only: read here, it is replayed
         * and the next writer's segment chains to it, so it must be on disk
         * before lx_journal_open() builds on it. */
        const char *name = d.segs[d.nsegs - 1].name;
        if ((rc = jnl_path(path, sizeof path, dir, name))) goto done;
        bool cut = sc.status == JNL_SCAN_TORN;
        if ((rc = truncate_file(io, path, cut ? rec->torn_offset : UINT64_MAX))) {
            rc = errorf(rec, dir, name, cut ? rec->torn_offset : 0, rc,
                        cut ? "cannot cut the torn tail" : "cannot fsync");
            goto done;
        }
    }

    /* 5. where the log ends */
    rec->chain_seq = sc.chain.last_seq;
    rec->total_groups = sc.chain.groups;
    memcpy(rec->chain, sc.chain.hash, LX_JOURNAL_HASH_LEN);
    rec->next_segment = d.segs[d.nsegs - 1].key + 1;
    if (e) {
        rec->last_seq = lx_engine_last_seq(e);
        rec->last_ts = lx_engine_last_ts(e);
        rec->digest = lx_engine_digest(e);
    } else {
        rec->last_seq = sc.chain.last_seq;
        rec->last_ts = sc.chain.last_ts;
    }
    rc = 0;
done:
    jnl_unmap(&m);
    if (dir_changed && !opts->read_only) {
        int r2 = io->fsync_dir(io->ctx, dir);
        if (!rc && r2 < 0) rc = errorf(rec, dir, NULL, 0, jnl_io_err(r2), "cannot fsync");
    }
    jnl_scan_free(&sc);
    free(r.run);
    free(r.run_auth);
    free(r.run_ent);
    free(si);
    free(checks);
    jnl_dir_free(&d);
    if (rc) {
        lx_engine_destroy(e);
        e = NULL;
    }
    if (out)
        *out = e;
    else
        lx_engine_destroy(e);
    return rc;
}

int lx_journal_apply(lx_engine_t *e, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                     const lx_sink_t *sink) {
    lx_cmd_auth_t ca;
    cmd_auth(auth, &ca);
    return lx_engine_apply_auth(e, cmd, &ca, sink);
}
