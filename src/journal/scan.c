/*
 * scan.c: the reader of one segment's records: framing, CRCs, groups, the
 * hash chain, and the rule that tells a torn tail from corruption.
 *
 * The layout is specified in format.c. jnl_scan_records() walks a segment
 * image (a mapped file, or a fuzzer's bytes) record by record, decoding
 * each command into a reusable array; when a commit record closes the group
 * and everything checks (count, byte length, last seq, group number, chain
 * hash) the whole group is handed to the callback, which applies it to an
 * engine (recover.c) or prints it (lxdex journal dump). A group is applied
 * all or nothing; nothing is applied before its commit record is checked.
 *
 * Where the records stop being valid, the scan must decide between two
 * different things, and never confuse them:
 *
 *   TORN: a crash during the last write left an incomplete group at the end
 *   of the file: a record that runs past the end of the file, a group with
 *   no commit record, garbage or zeros, or any of these followed by other
 *   parts of the same group. The writer hands a group (its command records
 *   and its commit record) to the kernel with one write(), and a power loss
 *   may keep any subset of that write's sectors: the first record lost and
 *   a later one, or the commit record itself, on disk. No byte of that group
 *   was ever reported durable (its fdatasync had not returned), so recovery
 *   cuts it off and goes on: the recovered log is a prefix of what was
 *   written, and holds everything that was acknowledged.
 *
 *   CORRUPT: a damaged record followed by a record that was written by a
 *   LATER write() than the damaged group's: the writer issues that write
 *   only after the damaged group's fdatasync returned, so the damage hit
 *   data that had been durable (and acknowledged): cutting there would
 *   silently drop acknowledged commands. Also CORRUPT, wherever it is: a
 *   record whose CRC is right but whose content contradicts the log
 *   (payload that does not decode or disagrees with the record header, seq
 *   not increasing, ts decreasing, a commit record whose count, length,
 *   seq, group number or hash does not match): such a record was written
 *   so, which no crash explains.
 *
 * The test is literal: from the first invalid byte offset X on, every later
 * offset is tried as the start of a record (cheap filters on length and
 * kind, then the CRC under this segment's epoch). Let G be the number of the
 * group in flight (the last valid group's + 1) and S where it starts (the
 * end of the last valid group). A valid record after X proves a later write
 * when it is a commit record other than G's own (G's own: number G, its
 * byte count reaching back to S), or any record after G's own commit record.
 * Any such proof makes it CORRUPT. A valid command record with no commit
 * record of G before it proves nothing: it may be a later part of G itself.
 * This costs O(tail x record length) in the rare failure case and nothing
 * otherwise. One consequence, deliberate: damage confined to the last group
 * of a segment (and what follows it) cannot be told from a torn write, so
 * it is reported as a torn tail (with the file and offset), not as an
 * error; a segment that is not the last is never allowed a torn tail
 * (recover.c).
 *
 * Costs per record: one CRC32C, one lx_cmd_decode, and its share of one
 * BLAKE2b over the group. No allocation except growing the entry array.
 *
 * The hash is the largest of those costs (BLAKE2b runs at about 1 GB/s, 85
 * ns for a 96-byte record, as much as all the rest). So for a large segment
 * (s->parallel) a second thread walks the same records by their length
 * fields alone, computing the chain, and publishes the offset of the last
 * commit record whose hash it found right; the scan then skips computing a
 * hash the helper has already checked, and computes it itself whenever the
 * helper has not got there or has stopped (a framing problem, a mismatch).
 * The helper decides nothing: up to a commit record the scan has found
 * valid, both walked the same bytes from the same chain state, so "checked
 * by the helper" and "checked here" are the same statement, and every
 * decision and message is the single-threaded one. On two cores this makes
 * a warm replay run at the speed of the slower half instead of the sum.
 *
 * What this file does not do: open files, choose segments, or apply
 * commands (recover.c does).
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jnl.h"

/* ---- the hash helper ------------------------------------------------------ */

typedef struct {
    const uint8_t *buf;
    size_t len;
    uint64_t epoch;
    uint8_t prev[LX_JOURNAL_HASH_LEN];
    uint64_t verified; /* atomic: offset of the last commit record checked */
    int done;          /* atomic: the helper has stopped */
    int stop;          /* atomic: asked to stop */
} hasher_t;

static void *hasher_main(void *arg) {
    hasher_t *h = arg;
    const uint8_t *b = h->buf;
    size_t off = JNL_SEG_HDR_LEN, gstart = off;
    uint8_t hash[LX_JOURNAL_HASH_LEN];
    while (off + 5 <= h->len && !__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
        uint32_t l = lx_get_u32(b + off);
        uint8_t kind = b[off + 4];
        if (kind == JNL_REC_CMD && l >= JNL_REC_MIN && l <= JNL_REC_MAX && l <= h->len - off) {
            off += l;
            continue;
        }
        if (kind != JNL_REC_COMMIT || l != JNL_COMMIT_LEN || l > h->len - off) break;
        jnl_chain_hash(hash, h->prev, h->epoch, b + gstart, off - gstart, b + off);
        if (memcmp(hash, b + off + 40, LX_JOURNAL_HASH_LEN) != 0) break;
        memcpy(h->prev, hash, LX_JOURNAL_HASH_LEN);
        __atomic_store_n(&h->verified, (uint64_t)off, __ATOMIC_RELEASE);
        off += l;
        gstart = off;
    }
    __atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Has the helper checked the commit record at off? Waits while it may. */
static bool hasher_checked(hasher_t *h, uint64_t off) {
    for (unsigned spin = 0;; spin++) {
        if (__atomic_load_n(&h->verified, __ATOMIC_ACQUIRE) >= off) return true;
        if (__atomic_load_n(&h->done, __ATOMIC_ACQUIRE))
            return __atomic_load_n(&h->verified, __ATOMIC_ACQUIRE) >= off;
        if (spin % 64 == 63) sched_yield();
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static int grow(jnl_scan_t *s, uint32_t need) {
    if (need <= s->nents_cap) return 0;
    uint32_t nc = s->nents_cap ? s->nents_cap : 256;
    while (nc < need) nc *= 2;
    jnl_entry_t *e = realloc(s->ents, (size_t)nc * sizeof *e);
    if (!e) return LX_ENOMEM;
    s->ents = e;
    s->nents_cap = nc;
    return 0;
}

void jnl_scan_free(jnl_scan_t *s) {
    free(s->ents);
    s->ents = NULL;
    s->nents_cap = 0;
}

/*
 * Is there a valid record in [from, len) that proves the bytes before it
 * were durable? The writer writes a group (its command records, then its
 * commit record) with one write() and starts the next group only after that
 * group's fdatasync returned. So, for a damage in the group that starts at
 * gstart (the group in flight at a crash, number `group`):
 *
 *   - a commit record of another group proves durable data after the damage
 *     (a later group: ours was complete and fsync'ed; any other number
 *     contradicts the chain);
 *   - the group's own commit record (number `group`, its byte count reaching
 *     back to gstart) proves nothing: the write that carries it may have
 *     reached the disk in any order, all of it unacknowledged;
 *   - a command record proves nothing, unless it lies after the group's own
 *     commit record (it was then written by a later write);
 *
 * Every offset is tried (cheap filters on length and kind, then the CRC
 * under this segment's epoch). *at receives the offset of the proof.
 */
static bool durable_after(const uint8_t *buf, size_t len, size_t from, size_t gstart,
                          uint64_t group, uint64_t epoch, size_t *at) {
    size_t own_end = 0; /* end of the group's own commit record, once found */
    for (size_t p = from; p + 5 <= len; p++) {
        uint32_t l = lx_get_u32(buf + p);
        uint8_t kind = buf[p + 4];
        if (kind == JNL_REC_CMD) {
            if (l < JNL_REC_MIN || l > JNL_REC_MAX) continue;
        } else if (kind == JNL_REC_COMMIT) {
            if (l != JNL_COMMIT_LEN) continue;
        } else {
            continue;
        }
        if (l > len - p) continue;
        jnl_rec_t r;
        if (jnl_rec_parse(buf + p, len - p, epoch, &r, NULL) <= 0) continue;
        if (r.kind == JNL_REC_COMMIT && r.group == group && (size_t)r.bytes == p - gstart) {
            own_end = p + l;
            continue;
        }
        if (r.kind == JNL_REC_CMD && (own_end == 0 || p < own_end)) continue;
        *at = p;
        return true;
    }
    return false;
}

static int corrupt(jnl_scan_t *s, uint64_t off, const char *why) {
    s->status = JNL_SCAN_CORRUPT;
    s->bad_offset = off;
    snprintf(s->why, sizeof s->why, "%s", why);
    return 0;
}

static int scan(const uint8_t *buf, size_t len, jnl_scan_t *s, hasher_t *hz) {
    s->status = JNL_SCAN_CLEAN;
    s->bad_offset = 0;
    s->groups = s->commands = 0;
    s->cb_rc = 0;
    s->why[0] = 0;
    if (len < JNL_SEG_HDR_LEN) return LX_EINVAL;
    size_t off = JNL_SEG_HDR_LEN, gstart = off;
    s->valid_end = off;
    uint32_t n = 0;
    uint64_t prev_seq = s->chain.last_seq;
    int64_t prev_ts = s->chain.last_ts;
    const char *why = NULL;
    uint32_t seed = jnl_epoch_crc(s->epoch);
    while (off < len) {
        jnl_rec_t r;
        int rc = jnl_rec_parse_seeded(buf + off, len - off, seed, &r, &why);
        if (rc < 0) goto tail;
        if (r.kind == JNL_REC_CMD) {
            if (grow(s, n + 1)) return LX_ENOMEM;
            jnl_entry_t *e = &s->ents[n];
            if (r.lsn <= prev_seq) return corrupt(s, off, "command seq not increasing");
            if (r.ts < prev_ts) return corrupt(s, off, "command timestamp decreasing");
            int d = lx_cmd_decode(&e->cmd, r.payload, r.payload_len);
            if (d != (int)r.payload_len) return corrupt(s, off, "command payload does not decode");
            if ((int)e->cmd.type != r.cmd_type || e->cmd.seq != r.lsn || e->cmd.ts != r.ts)
                return corrupt(s, off, "command payload disagrees with its record header");
            e->off = off;
            e->auth = r.auth;
            prev_seq = r.lsn;
            prev_ts = r.ts;
            n++;
        } else {
            if (n == 0) return corrupt(s, off, "commit record without commands");
            if (r.count != n || r.bytes != off - gstart || r.lsn != prev_seq)
                return corrupt(s, off, "commit record does not match its group");
            if (r.group != s->chain.groups + 1)
                return corrupt(s, off, "commit record has the wrong group number");
            if (!hz || !hasher_checked(hz, off)) {
                uint8_t h[LX_JOURNAL_HASH_LEN];
                jnl_chain_hash(h, s->chain.hash, s->epoch, buf + gstart, r.bytes, buf + off);
                if (memcmp(h, r.hash, LX_JOURNAL_HASH_LEN) != 0)
                    return corrupt(s, off, "chain hash mismatch");
            }
            if (s->on_group) {
                int cb = s->on_group(s->ctx, s->ents, n, r.group, r.hash, off);
                if (cb) {
                    s->cb_rc = cb;
                    return cb;
                }
            }
            s->chain.last_seq = prev_seq;
            s->chain.last_ts = prev_ts;
            s->chain.groups = r.group;
            memcpy(s->chain.hash, r.hash, LX_JOURNAL_HASH_LEN);
            s->groups++;
            s->commands += n;
            n = 0;
            gstart = off + (size_t)rc;
            s->valid_end = gstart;
        }
        off += (size_t)rc;
    }
    if (n == 0) return 0; /* clean: the file ends after a commit record */
    /* commands without their commit record at the end of the file */
    s->status = JNL_SCAN_TORN;
    s->bad_offset = off;
    snprintf(s->why, sizeof s->why, "group without commit record at end of file");
    return 0;
tail:;
    size_t at = 0;
    if (durable_after(buf, len, off + 1, gstart, s->chain.groups + 1, s->epoch, &at)) {
        s->status = JNL_SCAN_CORRUPT;
        s->bad_offset = off;
        snprintf(s->why, sizeof s->why, "%s (a record written after it is valid at offset %zu)",
                 why, at);
        return 0;
    }
    s->status = JNL_SCAN_TORN;
    s->bad_offset = off;
    snprintf(s->why, sizeof s->why, "%s", why);
    return 0;
}

int jnl_scan_records(const uint8_t *buf, size_t len, jnl_scan_t *s) {
    if (!s->parallel || len < JNL_PARALLEL_MIN) return scan(buf, len, s, NULL);
    hasher_t h = {.buf = buf, .len = len, .epoch = s->epoch};
    memcpy(h.prev, s->chain.hash, LX_JOURNAL_HASH_LEN);
    pthread_t t;
    if (pthread_create(&t, NULL, hasher_main, &h) != 0) return scan(buf, len, s, NULL);
    int rc = scan(buf, len, s, &h);
    __atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    return rc;
}
