/*
 * test_journal.c: the journal writer and its formats (src/journal).
 *
 *   - CRC32C: known vectors, hardware and table paths agree, chaining;
 *   - record and segment header codecs: round trips, every truncation,
 *     reserved bytes, the epoch binding (a record of another epoch fails);
 *   - group commit: durable_seq moves only at commit, one write and one
 *     fdatasync per group, the size bound inside append, the time bound
 *     through poll with a fake clock, segment rotation;
 *   - injected failures of every I/O call the writer makes (open, write,
 *     short write, fdatasync, directory fsync): reported, sticky, and what
 *     recovery finds afterwards is a prefix that holds everything reported
 *     durable;
 *   - reopening continues the chain in a new segment with a new epoch;
 *     tampering with a record (and fixing its CRC) breaks the chain hash;
 *   - auth sections travel through the journal unchanged;
 *   - a discarded batch is never written, and the journal goes on after it;
 *   - a directory the journal creates is made durable (its parent fsync'ed,
 *     before the first segment; a failure of that fsync fails the open), and
 *     lx_io_mkdir names the right parent.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/jnl.h"
#include "journal_util.h"
#include "lx/codec.h"
#include "lx/journal.h"

#define SEED 42

/* ---- CRC32C --------------------------------------------------------------- */

static void test_crc32c_vectors(void **state) {
    (void)state;
    assert_int_equal(lx__crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(lx__crc32c_portable(0, "123456789", 9), 0xe3069283u);
    uint8_t z[32] = {0}, ff[32];
    memset(ff, 0xff, sizeof ff);
    assert_int_equal(lx__crc32c(0, z, 32), 0x8a9136aau); /* RFC 3720 B.4 */
    assert_int_equal(lx__crc32c(0, ff, 32), 0x62a8ab43u);
    assert_int_equal(lx__crc32c(0, NULL, 0), 0);
    /* both implementations, every length and alignment, and chaining */
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 7) {
            uint32_t a = lx__crc32c(0, buf + off, len);
            assert_int_equal(a, lx__crc32c_portable(0, buf + off, len));
            size_t cut = len / 3;
            assert_int_equal(a,
                             lx__crc32c(lx__crc32c(0, buf + off, cut), buf + off + cut, len - cut));
        }
    }
    print_message("crc32c implementation: %s\n", lx__crc32c_impl());
}

/* ---- codecs --------------------------------------------------------------- */

static void test_record_codec(void **state) {
    (void)state;
    uint8_t rec[JNL_REC_MAX];
    for (uint64_t k = 1; k < 400; k++) {
        lx_cmd_t c, d;
        lx_journal_auth_t a, b;
        jt_cmd(SEED, k, &c);
        bool has = jt_auth(SEED, k, &a);
        int n = jnl_cmd_rec_encode(rec, 7, &c, has ? &a : NULL);
        assert_true(n >= JNL_REC_MIN && n <= JNL_REC_MAX);
        jnl_rec_t r;
        assert_int_equal(jnl_rec_parse(rec, (size_t)n, 7, &r, NULL), n);
        assert_int_equal(r.kind, JNL_REC_CMD);
        assert_int_equal(r.lsn, k);
        assert_int_equal(r.ts, c.ts);
        assert_int_equal(r.cmd_type, c.type);
        assert_int_equal(lx_cmd_decode(&d, r.payload, r.payload_len), (int)r.payload_len);
        assert_int_equal(d.seq, k);
        assert_int_equal(d.type, c.type);
        assert_int_equal(r.auth != NULL, has);
        if (has) {
            jnl_auth_decode(r.auth, &b);
            assert_int_equal(b.scheme, a.scheme);
            assert_int_equal(b.nonce, a.nonce);
            assert_memory_equal(b.key, a.key, 32);
            assert_memory_equal(b.sig, a.sig, 64);
        }
        /* the epoch is part of the CRC */
        assert_int_equal(jnl_rec_parse(rec, (size_t)n, 8, &r, NULL), LX_ECORRUPT);
        /* every clean prefix is "truncated", never a record */
        for (int cut = 0; cut < n; cut++)
            assert_int_equal(jnl_rec_parse(rec, (size_t)cut, 7, &r, NULL), LX_ETRUNC);
        /* a nonzero reserved byte, even with a fixed CRC, is refused */
        rec[25] = 1;
        lx_put_u32(rec + n - 4, 0);
        uint8_t e[8];
        lx_put_u64(e, 7);
        lx_put_u32(rec + n - 4, lx__crc32c(lx__crc32c(0, e, 8), rec, (size_t)n - 4));
        assert_int_equal(jnl_rec_parse(rec, (size_t)n, 7, &r, NULL), LX_ECORRUPT);
    }
    /* unknown command types cannot be journaled */
    lx_cmd_t bad = {.type = 99, .seq = 1};
    assert_true(jnl_cmd_rec_encode(rec, 1, &bad, NULL) < 0);
}

/* Parses a segment header after a test changed it, its CRC mended (so
 * that the change itself is what the parser judges). */
static int hdr_reparse(uint8_t h[JNL_SEG_HDR_LEN], jnl_seg_hdr_t *g) {
    lx_put_u32(h + 124, lx__crc32c(0, h, 124));
    return jnl_seg_hdr_parse(h, JNL_SEG_HDR_LEN, g, NULL);
}

static void test_segment_header_codec(void **state) {
    (void)state;
    jnl_seg_hdr_t h = {.epoch = 3, .index = 17, .prev_seq = 12345, .prev_groups = 99}, g;
    jt_engine_config(&h.engine);
    h.engine.fee_account = 5;
    for (int i = 0; i < 32; i++) h.prev_hash[i] = (uint8_t)i;
    uint8_t b[JNL_SEG_HDR_LEN];
    jnl_seg_hdr_encode(b, &h);
    assert_memory_equal(b, "LXDEXJNL", 8);
    assert_int_equal(jnl_seg_hdr_parse(b, sizeof b, &g, NULL), 0);
    assert_int_equal(g.epoch, 3);
    assert_int_equal(g.index, 17);
    assert_int_equal(g.prev_seq, 12345);
    assert_int_equal(g.prev_groups, 99);
    assert_memory_equal(g.prev_hash, h.prev_hash, 32);
    assert_int_equal(g.engine.max_orders, h.engine.max_orders);
    assert_int_equal(g.engine.clearing, h.engine.clearing);
    assert_int_equal(g.engine.fee_account, 5);
    assert_int_equal(lx_get_u16(b + 8), 3);
    /* the rules version: "0, the latest" is written as what it is */
    assert_int_equal(h.engine.rules, 0);
    assert_int_equal(lx_get_u32(b + 120), LX_RULES_LATEST);
    assert_int_equal(g.engine.rules, LX_RULES_LATEST);
    /* version 2 (before the rules version) is read, with zeros at 120
     * only, as rules 1; version 1 (before the fee account) also with zeros
     * at 116; a version or a rules version this code does not know is
     * LX_EVERSION */
    uint8_t v2[JNL_SEG_HDR_LEN];
    memcpy(v2, b, sizeof v2);
    lx_put_u16(v2 + 8, 2);
    assert_int_equal(hdr_reparse(v2, &g), LX_ECORRUPT);
    lx_put_u32(v2 + 120, 0);
    assert_int_equal(hdr_reparse(v2, &g), 0);
    assert_int_equal(g.engine.rules, LX_RULES_1);
    assert_int_equal(g.engine.fee_account, 5);
    uint8_t v1[JNL_SEG_HDR_LEN];
    memcpy(v1, v2, sizeof v1);
    lx_put_u16(v1 + 8, 1);
    assert_int_equal(hdr_reparse(v1, &g), LX_ECORRUPT);
    lx_put_u32(v1 + 116, 0);
    assert_int_equal(hdr_reparse(v1, &g), 0);
    assert_int_equal(g.engine.fee_account, 0);
    assert_int_equal(g.engine.rules, LX_RULES_1);
    uint8_t v3[JNL_SEG_HDR_LEN];
    memcpy(v3, b, sizeof v3);
    lx_put_u32(v3 + 120, LX_RULES_LATEST + 1);
    assert_int_equal(hdr_reparse(v3, &g), LX_EVERSION);
    lx_put_u16(v1 + 8, 4);
    assert_int_equal(hdr_reparse(v1, &g), LX_EVERSION);
    assert_int_equal(jnl_seg_hdr_parse(b, sizeof b - 1, &g, NULL), LX_ETRUNC);
    for (size_t i = 0; i < sizeof b; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1 << bit);
            assert_int_not_equal(jnl_seg_hdr_parse(b, sizeof b, &g, NULL), 0);
            b[i] ^= (uint8_t)(1 << bit);
        }
    }
}

/* ---- writer --------------------------------------------------------------- */

typedef struct {
    uint64_t now;
} fake_clock_t;

static uint64_t fake_now(void *ctx) {
    return ((fake_clock_t *)ctx)->now;
}

static int append_k(lx_journal_t *j, uint64_t k) {
    lx_cmd_t c;
    lx_journal_auth_t a;
    jt_cmd(SEED, k, &c);
    bool has = jt_auth(SEED, k, &a);
    return lx_journal_append(j, &c, has ? &a : NULL);
}

/* Recovers dir (read-write) and checks it holds exactly commands 1..n. */
static void check_recovers_to(const char *dir, uint64_t n) {
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    int rc = lx_recover(dir, NULL, &e, &rec);
    if (rc) print_message("recover: %s\n", rec.msg);
    assert_int_equal(rc, 0);
    assert_non_null(e);
    assert_int_equal(rec.last_seq, n);
    lx_engine_t *want = jt_engine_at(SEED, n);
    assert_int_equal(rec.digest, lx_engine_digest(want));
    assert_int_equal(lx_engine_digest(e), lx_engine_digest(want));
    lx_engine_destroy(want);
    lx_engine_destroy(e);
}

static void test_group_commit(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "jnl");
    jt_faultio_t f;
    jt_faultio_init(&f);
    fake_clock_t clk = {1000};
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.io = &f.io;
    cfg.fsync = true;
    cfg.batch_max_bytes = 1 << 20;
    cfg.batch_max_delay_ns = 500;
    cfg.clock = fake_now;
    cfg.clock_ctx = &clk;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    uint64_t w0 = f.calls[JT_OP_WRITE], s0 = f.calls[JT_OP_FDATASYNC];
    assert_int_equal(lx_journal_deadline(j), UINT64_MAX);
    for (uint64_t k = 1; k <= 10; k++) assert_int_equal(append_k(j, k), 0);
    assert_int_equal(lx_journal_durable_seq(j), 0);
    assert_int_equal(lx_journal_last_seq(j), 10);
    assert_int_equal(lx_journal_deadline(j), 1500);
    /* not yet due */
    clk.now = 1499;
    assert_int_equal(lx_journal_poll(j, clk.now), 0);
    assert_int_equal(lx_journal_durable_seq(j), 0);
    assert_int_equal(f.calls[JT_OP_WRITE], w0);
    /* due: one write, one fdatasync for ten commands */
    clk.now = 1500;
    assert_int_equal(lx_journal_poll(j, clk.now), 0);
    assert_int_equal(lx_journal_durable_seq(j), 10);
    assert_int_equal(f.calls[JT_OP_WRITE], w0 + 1);
    assert_int_equal(f.calls[JT_OP_FDATASYNC], s0 + 1);
    assert_int_equal(lx_journal_deadline(j), UINT64_MAX);
    /* an empty commit does nothing */
    assert_int_equal(lx_journal_commit(j), 0);
    assert_int_equal(f.calls[JT_OP_WRITE], w0 + 1);
    /* explicit commit */
    for (uint64_t k = 11; k <= 25; k++) assert_int_equal(append_k(j, k), 0);
    assert_int_equal(lx_journal_commit(j), 0);
    assert_int_equal(lx_journal_durable_seq(j), 25);
    assert_int_equal(f.calls[JT_OP_WRITE], w0 + 2);
    assert_int_equal(f.calls[JT_OP_FDATASYNC], s0 + 2);
    /* bad stamps are refused and change nothing */
    lx_cmd_t c;
    jt_cmd(SEED, 25, &c);
    assert_int_equal(lx_journal_append(j, &c, NULL), LX_EINVAL);
    jt_cmd(SEED, 26, &c);
    c.ts = 0;
    assert_int_equal(lx_journal_append(j, &c, NULL), LX_EINVAL);
    c.type = 77;
    c.ts = 1;
    assert_int_equal(lx_journal_error(j), 0);
    lx_journal_stats_t st;
    lx_journal_stats(j, &st);
    assert_int_equal(st.commands, 25);
    assert_int_equal(st.groups, 2);
    assert_int_equal(st.fsyncs, 2);
    uint8_t chain[32];
    lx_journal_chain(j, chain);
    lx_journal_close(j);
    check_recovers_to(dir, 25);
    lx_recovery_t rec;
    lx_engine_t *e;
    assert_int_equal(lx_recover(dir, NULL, &e, &rec), 0);
    assert_memory_equal(rec.chain, chain, 32);
    assert_int_equal(rec.total_groups, 2);
    assert_int_equal(rec.chain_seq, 25);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

static void test_size_bound_and_rotation(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "jnl");
    jt_faultio_t f;
    jt_faultio_init(&f);
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.io = &f.io;
    cfg.fsync = true;
    cfg.batch_max_bytes = 1000;
    cfg.segment_bytes = 5000;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    uint64_t w0 = f.calls[JT_OP_WRITE];
    uint64_t groups = 0;
    for (uint64_t k = 1; k <= 600; k++) {
        uint64_t before = lx_journal_durable_seq(j);
        assert_int_equal(append_k(j, k), 0);
        if (lx_journal_durable_seq(j) != before) {
            /* the batch closed inside append, at the size bound */
            assert_int_equal(lx_journal_durable_seq(j), k);
            groups++;
        }
    }
    assert_true(groups > 30);
    lx_journal_stats_t st;
    lx_journal_stats(j, &st);
    assert_int_equal(st.groups, groups);
    /* one write per group, one per segment header */
    assert_int_equal(f.calls[JT_OP_WRITE] - w0, groups + st.segments_created - 1);
    assert_int_equal(st.fsyncs, groups);
    assert_true(st.segments_created > 5);
    lx_journal_close(j); /* commits the rest */
    char names[64][64];
    size_t n = jt_list(dir, "seg-", names, 64);
    assert_int_equal(n, st.segments_created);
    check_recovers_to(dir, 600);
    jt_rmdir(dir);
}

static void test_reopen_continues_chain(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "jnl");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    uint64_t k = 0, epoch = 0;
    for (int round = 0; round < 5; round++) {
        lx_recovery_t rec;
        lx_engine_t *e = NULL;
        assert_int_equal(lx_recover(dir, NULL, &e, &rec), 0);
        assert_int_equal(rec.empty, round == 0);
        assert_int_equal(rec.last_seq, k);
        lx_journal_t *j;
        assert_int_equal(lx_journal_open(&j, dir, &cfg, &rec), 0);
        assert_true(lx_journal_epoch(j) > epoch);
        epoch = lx_journal_epoch(j);
        for (int i = 0; i < 50 + round * 13; i++) {
            assert_int_equal(append_k(j, ++k), 0);
            if (i % 7 == 6) assert_int_equal(lx_journal_commit(j), 0);
        }
        lx_journal_close(j);
        lx_engine_destroy(e);
    }
    check_recovers_to(dir, k);
    /* a new journal refuses a directory that holds one */
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), LX_EEXIST);
    /* a read-only recovery cannot be continued */
    lx_recovery_t rec;
    lx_recover_opts_t ro = {.read_only = true};
    lx_engine_t *e;
    assert_int_equal(lx_recover(dir, &ro, &e, &rec), 0);
    assert_int_equal(lx_journal_open(&j, dir, &cfg, &rec), LX_EINVAL);
    lx_engine_destroy(e);
    jt_rmdir(dir);
}

/* Appends 1..n in groups of 1..9, committing; returns the journal's chain. */
static void write_history(const char *dir, const lx_journal_config_t *cfg, uint64_t n) {
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, cfg, NULL), 0);
    for (uint64_t k = 1; k <= n; k++) {
        assert_int_equal(append_k(j, k), 0);
        if ((k * 7919) % 9 == 0) assert_int_equal(lx_journal_commit(j), 0);
    }
    assert_int_equal(lx_journal_commit(j), 0);
    lx_journal_close(j);
}

/* Changing a command and fixing its CRC: the chain hash catches it. */
static void test_tamper_detected_by_chain(void **state) {
    (void)state;
    char dir[256], path[512];
    jt_tmpdir(dir, "jnl");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    write_history(dir, &cfg, 60);
    char names[8][64];
    assert_int_equal(jt_list(dir, "seg-", names, 8), 1);
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    size_t len;
    uint8_t *b = jt_read_file(path, &len);
    assert_non_null(b);
    /* the first PLACE after the 40th record: change its quantity, re-encode
     * the payload (same length) and forge the CRC under the segment's epoch */
    size_t off = JNL_SEG_HDR_LEN, target = 0;
    int cmds = 0;
    while (off < len && !target) {
        uint32_t l = lx_get_u32(b + off);
        if (b[off + 4] == JNL_REC_CMD && ++cmds >= 40 && b[off + 24] == LX_CMD_PLACE) target = off;
        off += l;
    }
    assert_true(target > 0);
    uint32_t l = lx_get_u32(b + target);
    uint16_t p = lx_get_u16(b + target + 6);
    lx_cmd_t c;
    assert_int_equal(lx_cmd_decode(&c, b + target + JNL_CMD_HDR_LEN, p), p);
    c.u.place.qty += 1;
    assert_int_equal(lx_cmd_encode(&c, b + target + JNL_CMD_HDR_LEN, p), p);
    uint8_t e8[8];
    lx_put_u64(e8, lx_get_u64(b + 16));
    lx_put_u32(b + target + l - 4, lx__crc32c(lx__crc32c(0, e8, 8), b + target, l - 4));
    assert_int_equal(jt_write_file(path, b, len), 0);
    lx_recovery_t rec;
    lx_engine_t *e;
    lx_recover_opts_t ro = {.read_only = true};
    int rc = lx_recover(dir, &ro, &e, &rec);
    print_message("tampered: %s\n", rec.msg);
    assert_int_equal(rc, LX_ECORRUPT);
    assert_null(e);
    assert_non_null(strstr(rec.msg, names[0]));
    assert_non_null(strstr(rec.msg, "chain hash mismatch"));
    /* the commit record of the group that holds the changed record */
    assert_true(rec.error_offset > target);
    free(b);
    jt_rmdir(dir);
}

/* A record of another epoch, appended to a segment as a stale leftover
 * would be, does not validate: it is a torn tail, and it is cut. */
static void test_stale_epoch_record_rejected(void **state) {
    (void)state;
    char a[256], b[256], pa[512], pb[512];
    jt_tmpdir(a, "jnl");
    jt_tmpdir(b, "jnl");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    write_history(a, &cfg, 80); /* epoch 1, seqs 1..80 */
    /* b: 1..40 in epoch 1, then a restart: 41.. in epoch 2 */
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, b, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= 40; k++) assert_int_equal(append_k(j, k), 0);
    lx_journal_close(j);
    lx_recovery_t rec;
    lx_engine_t *e;
    assert_int_equal(lx_recover(b, NULL, &e, &rec), 0);
    assert_int_equal(lx_journal_open(&j, b, &cfg, &rec), 0);
    assert_int_equal(lx_journal_epoch(j), 2);
    lx_journal_close(j); /* an empty epoch-2 segment */
    lx_engine_destroy(e);
    char na[4][64], nb[4][64];
    assert_int_equal(jt_list(a, "seg-", na, 4), 1);
    assert_int_equal(jt_list(b, "seg-", nb, 4), 2);
    snprintf(pa, sizeof pa, "%s/%s", a, na[0]);
    snprintf(pb, sizeof pb, "%s/%s", b, nb[1]);
    size_t la, lb;
    uint8_t *ba = jt_read_file(pa, &la), *bb = jt_read_file(pb, &lb);
    /* epoch-1 records 41..80 of journal a, after the epoch-2 header: the
     * prev_seq (40) and the chain would even fit */
    size_t off = JNL_SEG_HDR_LEN;
    while (off < la && lx_get_u64(ba + off + 8) <= 40) off += lx_get_u32(ba + off);
    uint8_t *m = malloc(lb + la - off);
    memcpy(m, bb, lb);
    memcpy(m + lb, ba + off, la - off);
    assert_int_equal(jt_write_file(pb, m, lb + la - off), 0);
    assert_int_equal(lx_recover(b, NULL, &e, &rec), 0);
    assert_true(rec.torn);
    assert_int_equal(rec.torn_offset, JNL_SEG_HDR_LEN);
    assert_int_equal(rec.last_seq, 40);
    lx_engine_destroy(e);
    check_recovers_to(b, 40);
    free(ba);
    free(bb);
    free(m);
    jt_rmdir(a);
    jt_rmdir(b);
}

/* ---- injected failures ------------------------------------------------------ */

typedef struct {
    int op;
    size_t short_write;
} fault_case_t;

/* Runs 300 appends with op's n-th call failing; checks the error is reported,
 * sticky, and that recovery gives a prefix holding everything durable. */
static void run_fault(int op, uint64_t nth, size_t short_write, bool *triggered) {
    char dir[256];
    jt_tmpdir(dir, "jnlf");
    jt_faultio_t f;
    jt_faultio_init(&f);
    f.fail_op = op;
    f.fail_at = nth;
    f.short_write = short_write;
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.io = &f.io;
    cfg.fsync = true;
    cfg.batch_max_bytes = 700;
    cfg.segment_bytes = 3000;
    lx_journal_t *j = NULL;
    uint64_t durable = 0, appended = 0;
    int err = lx_journal_open(&j, dir, &cfg, NULL);
    if (err) {
        assert_int_equal(err, LX_EIO);
        assert_null(j);
        *triggered = true;
    } else {
        for (uint64_t k = 1; k <= 300; k++) {
            int rc = append_k(j, k);
            if (k % 11 == 0 && rc == 0) rc = lx_journal_commit(j);
            uint64_t d = lx_journal_durable_seq(j);
            assert_true(d >= durable);
            durable = d;
            if (rc) {
                assert_int_equal(rc, LX_EIO);
                err = rc;
                break;
            }
            appended = k;
        }
        if (err) {
            *triggered = true;
            /* sticky: nothing more is accepted, durable does not move */
            assert_int_equal(lx_journal_error(j), LX_EIO);
            lx_cmd_t c;
            jt_cmd(SEED, 1000, &c);
            assert_int_equal(lx_journal_append(j, &c, NULL), LX_EIO);
            assert_int_equal(lx_journal_commit(j), LX_EIO);
            assert_int_equal(lx_journal_poll(j, UINT64_MAX), LX_EIO);
            assert_int_equal(lx_journal_durable_seq(j), durable);
        } else {
            int rc = lx_journal_commit(j);
            if (rc) {
                assert_int_equal(rc, LX_EIO);
                assert_int_equal(lx_journal_durable_seq(j), durable);
                *triggered = true;
            } else {
                durable = appended;
            }
        }
        lx_journal_close(j);
    }
    /* recovery with the real file system */
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    int rc = lx_recover(dir, NULL, &e, &rec);
    if (rc) print_message("%s #%llu: %s\n", jt_op_name(op), (unsigned long long)nth, rec.msg);
    assert_int_equal(rc, 0);
    if (!rec.empty) {
        assert_true(rec.last_seq >= durable);
        assert_true(rec.last_seq <= appended + 1);
        lx_engine_t *want = jt_engine_at(SEED, rec.last_seq);
        assert_int_equal(rec.digest, lx_engine_digest(want));
        lx_engine_destroy(want);
        /* and the journal goes on after it */
        lx_journal_t *j2;
        cfg.io = NULL;
        assert_int_equal(lx_journal_open(&j2, dir, &cfg, &rec), 0);
        assert_int_equal(append_k(j2, rec.last_seq + 1), 0);
        assert_int_equal(lx_journal_commit(j2), 0);
        lx_journal_close(j2);
    } else {
        assert_int_equal(durable, 0);
    }
    lx_engine_destroy(e);
    if (!rec.empty) check_recovers_to(dir, rec.last_seq + 1);
    jt_rmdir(dir);
}

static void test_injected_failures(void **state) {
    (void)state;
    static const fault_case_t cases[] = {
        {JT_OP_WRITE, 0},     {JT_OP_WRITE, 1}, {JT_OP_WRITE, 100},   {JT_OP_WRITE, 333},
        {JT_OP_FDATASYNC, 0}, {JT_OP_OPEN, 0},  {JT_OP_FSYNC_DIR, 0},
    };
    int total = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (uint64_t nth = 1;; nth++) {
            bool trig = false;
            run_fault(cases[c].op, nth, cases[c].short_write, &trig);
            total++;
            if (!trig) break; /* the n-th call never happened: all covered */
        }
    }
    print_message("%d fault runs\n", total);
}

/* A failed fsync must not be followed by a second try that "succeeds". */
static void test_fsync_failure_not_retried(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "jnlf");
    jt_faultio_t f;
    jt_faultio_init(&f);
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.io = &f.io;
    cfg.fsync = true;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= 5; k++) assert_int_equal(append_k(j, k), 0);
    assert_int_equal(lx_journal_commit(j), 0);
    f.fail_op = JT_OP_FDATASYNC;
    f.fail_at = f.calls[JT_OP_FDATASYNC] + 1;
    f.fail_errno = ENOSPC; /* a full disk, said as such (lx_journal_strerror) */
    for (uint64_t k = 6; k <= 9; k++) assert_int_equal(append_k(j, k), 0);
    uint64_t syncs = f.calls[JT_OP_FDATASYNC], writes = f.calls[JT_OP_WRITE];
    assert_int_equal(lx_journal_commit(j), LX_EIO);
    assert_string_equal(lx_journal_strerror(LX_EIO), strerror(ENOSPC));
    assert_string_equal(lx_journal_strerror(LX_ECORRUPT), lx_strerror(LX_ECORRUPT));
    assert_int_equal(f.calls[JT_OP_FDATASYNC], syncs + 1);
    assert_int_equal(lx_journal_durable_seq(j), 5);
    /* nothing after it touches the file */
    assert_int_equal(lx_journal_commit(j), LX_EIO);
    assert_int_equal(append_k(j, 10), LX_EIO);
    lx_journal_close(j);
    assert_int_equal(f.calls[JT_OP_FDATASYNC], syncs + 1);
    assert_int_equal(f.calls[JT_OP_WRITE], writes + 1);
    jt_rmdir(dir);
}

/* ---- discard --------------------------------------------------------------- */

/* Commands appended and then discarded are never written, even by close; the
 * next appends take their seqs, and recovery sees exactly what was committed. */
static void test_discard(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "jnld");
    jt_faultio_t f;
    jt_faultio_init(&f);
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.io = &f.io;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    for (uint64_t k = 1; k <= 5; k++) assert_int_equal(append_k(j, k), 0);
    assert_int_equal(lx_journal_commit(j), 0);
    assert_int_equal(lx_journal_discard(j), 0); /* nothing buffered */
    for (uint64_t k = 6; k <= 9; k++) assert_int_equal(append_k(j, k), 0);
    uint64_t writes = f.calls[JT_OP_WRITE];
    assert_int_equal(lx_journal_discard(j), 4);
    assert_int_equal(lx_journal_last_seq(j), 5);
    assert_int_equal(lx_journal_durable_seq(j), 5);
    assert_int_equal(lx_journal_deadline(j), UINT64_MAX);
    assert_int_equal(lx_journal_commit(j), 0); /* nothing to write */
    assert_int_equal(f.calls[JT_OP_WRITE], writes);
    /* seq 6 again (its ts is the one that was discarded too) */
    assert_int_equal(append_k(j, 6), 0);
    assert_int_equal(lx_journal_commit(j), 0);
    /* discarded, then closed: close writes none of it */
    for (uint64_t k = 7; k <= 8; k++) assert_int_equal(append_k(j, k), 0);
    assert_int_equal(lx_journal_discard(j), 2);
    writes = f.calls[JT_OP_WRITE];
    lx_journal_close(j);
    assert_int_equal(f.calls[JT_OP_WRITE], writes);
    check_recovers_to(dir, 6);
    jt_rmdir(dir);
}

/* ---- directories ----------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static char last_synced[512];
static int n_synced;
static int fail_synced; /* errno to fail fsync_dir with; 0: none */

static int rec_fsync_dir(void *ctx, const char *d) {
    (void)ctx;
    snprintf(last_synced, sizeof last_synced, "%s", d);
    n_synced++;
    return fail_synced ? -fail_synced : 0;
}

static void test_new_directory_durable(void **state) {
    (void)state;
    char base[256], path[512], cwd[4096], names[4][64];
    jt_tmpdir(base, "jnlm");
    lx_io_t io = *lx_io_posix();
    io.fsync_dir = rec_fsync_dir;
    /* lx_io_mkdir: the parent of what it created, and again when it exists
     * (a start whose fsync failed left it created but not durable) */
    struct {
        const char *name, *parent;
    } cases[] = {{"x", ""}, {"y/", ""}, {"x//z", "/x"}, {"x/z/w///", "/x/z"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[512];
        snprintf(path, sizeof path, "%s/%s", base, cases[i].name);
        snprintf(want, sizeof want, "%s%s", base, cases[i].parent);
        n_synced = 0;
        assert_int_equal(lx_io_mkdir(&io, path, true), 0);
        assert_int_equal(n_synced, 1);
        assert_string_equal(last_synced, want);
        assert_int_equal(lx_io_mkdir(&io, path, true), 0); /* exists: fsync'ed again */
        assert_int_equal(n_synced, 2);
        assert_string_equal(last_synced, want);
    }
    snprintf(path, sizeof path, "%s/nosync", base);
    n_synced = 0;
    assert_int_equal(lx_io_mkdir(&io, path, false), 0);
    assert_int_equal(n_synced, 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(base), 0);
    assert_int_equal(lx_io_mkdir(&io, "rel", true), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(last_synced, ".");
    snprintf(path, sizeof path, "%s/failed", base);
    fail_synced = EIO;
    assert_int_equal(lx_io_mkdir(&io, path, true), -EIO);
    fail_synced = 0;
    snprintf(path, sizeof path, "%s/no/such/parent", base);
    assert_int_equal(lx_io_mkdir(&io, path, true), -ENOENT);

    /* lx_journal_open on a directory that does not exist: the parent's
     * fsync comes before the first segment (the first fsync_dir call) */
    jt_faultio_t f;
    jt_faultio_init(&f);
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.io = &f.io;
    cfg.fsync = true;
    lx_journal_t *j;
    snprintf(path, sizeof path, "%s/j1", base);
    assert_int_equal(lx_journal_open(&j, path, &cfg, NULL), 0);
    assert_int_equal(f.calls[JT_OP_FSYNC_DIR], 2); /* the parent, then the segment's */
    lx_journal_close(j);
    jt_faultio_init(&f);
    f.fail_op = JT_OP_FSYNC_DIR;
    f.fail_at = 1;
    snprintf(path, sizeof path, "%s/j2", base);
    j = (lx_journal_t *)1;
    assert_int_equal(lx_journal_open(&j, path, &cfg, NULL), LX_EIO);
    assert_null(j);
    assert_int_equal(f.calls[JT_OP_OPEN], 0); /* no segment was created */
    assert_int_equal(jt_list(path, "seg-", names, 4), 0);
    /* the directory that failed open left (created, its parent's fsync
     * failed): the next open fsyncs its parent, then the segment's; without
     * fsync: none at all */
    jt_faultio_init(&f);
    assert_int_equal(lx_journal_open(&j, path, &cfg, NULL), 0);
    assert_int_equal(f.calls[JT_OP_FSYNC_DIR], 2);
    lx_journal_close(j);
    jt_faultio_init(&f);
    cfg.fsync = false;
    snprintf(path, sizeof path, "%s/j3", base);
    assert_int_equal(lx_journal_open(&j, path, &cfg, NULL), 0);
    assert_int_equal(f.calls[JT_OP_FSYNC_DIR], 0);
    lx_journal_close(j);
    assert_int_equal(nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- auth ----------------------------------------------------------------- */

typedef struct {
    uint64_t n, with_auth;
    bool ok;
} auth_ctx_t;

static void on_cmd_auth(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                        const char *file, uint64_t off) {
    auth_ctx_t *a = ctx;
    (void)file;
    (void)off;
    lx_journal_auth_t want;
    bool has = jt_auth(SEED, cmd->seq, &want);
    a->n++;
    if (has != (auth != NULL)) a->ok = false;
    if (has && auth) {
        a->with_auth++;
        if (auth->scheme != want.scheme || auth->nonce != want.nonce ||
            memcmp(auth->key, want.key, 32) || memcmp(auth->sig, want.sig, 64))
            a->ok = false;
    }
    lx_cmd_t c;
    jt_cmd(SEED, cmd->seq, &c);
    uint8_t x[LX_CMD_ENCODED_MAX], y[LX_CMD_ENCODED_MAX];
    int nx = lx_cmd_encode(&c, x, sizeof x), ny = lx_cmd_encode(cmd, y, sizeof y);
    if (nx != ny || memcmp(x, y, (size_t)nx)) a->ok = false;
}

static void test_auth_and_commands_roundtrip(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "jnl");
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    write_history(dir, &cfg, 500);
    auth_ctx_t a = {.ok = true};
    lx_recover_opts_t o = {.read_only = true, .no_engine = true, .on_cmd = on_cmd_auth, .ctx = &a};
    lx_recovery_t rec;
    assert_int_equal(lx_recover(dir, &o, NULL, &rec), 0);
    assert_int_equal(a.n, 500);
    assert_true(a.with_auth > 100);
    assert_true(a.ok);
    assert_int_equal(rec.last_seq, 500);
    jt_rmdir(dir);
}

/* Large segments are checked with a helper thread computing the chain hashes
 * ahead of the scan: every result must be the single-threaded one, on a
 * valid journal and on damaged ones. */
static void test_parallel_hash_same_results(void **state) {
    (void)state;
    char src[256], dir[256], path[512], names[4][64];
    jt_tmpdir(src, "jpar");
    jt_tmpdir(dir, "jpar");
    jt_build_journal(src, SEED, 4000, 8 << 20);
    assert_int_equal(jt_list(src, "seg-", names, 4), 1);
    snprintf(path, sizeof path, "%s/%s", src, names[0]);
    size_t len;
    uint8_t *orig = jt_read_file(path, &len);
    assert_true(len >= (256u << 10)); /* big enough for the helper */
    uint8_t *b = malloc(len);
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    for (int k = -1; k < 40; k++) {
        memcpy(b, orig, len);
        size_t cut = len;
        if (k >= 0 && k < 30) {
            size_t x = 128 + (size_t)k * (len - 129) / 29;
            b[x] ^= (uint8_t)(1u << (k % 8));
        } else if (k >= 30 && k < 35) {
            cut = len - 1 - (size_t)(k - 30) * 997; /* torn tails */
        } else if (k >= 35) {
            /* a CRC-fixed change: only the chain hash catches it */
            size_t off = JNL_SEG_HDR_LEN, target = 0;
            int n = 0;
            while (off < len) {
                if (b[off + 4] == JNL_REC_CMD && b[off + 24] == LX_CMD_PLACE &&
                    ++n == 300 * (k - 34))
                    target = off;
                off += lx_get_u32(b + off);
            }
            assert_true(target > 0);
            uint32_t l = lx_get_u32(b + target);
            b[target + 16] ^= 1;                   /* the ts's low byte... */
            b[target + JNL_CMD_HDR_LEN + 12] ^= 1; /* ...and the payload's, consistently */
            uint8_t e8[8];
            lx_put_u64(e8, lx_get_u64(b + 16));
            lx_put_u32(b + target + l - 4, lx__crc32c(lx__crc32c(0, e8, 8), b + target, l - 4));
        }
        assert_int_equal(jt_write_file(path, b, cut), 0);
        lx_recovery_t r1, r2;
        lx_engine_t *e1 = NULL, *e2 = NULL;
        lx_recover_opts_t o1 = {.read_only = true};
        lx_recover_opts_t o2 = {.read_only = true, .single_thread = true};
        int rc1 = lx_recover(dir, &o1, &e1, &r1);
        int rc2 = lx_recover(dir, &o2, &e2, &r2);
        assert_int_equal(rc1, rc2);
        assert_string_equal(r1.msg, r2.msg);
        assert_int_equal(r1.last_seq, r2.last_seq);
        assert_int_equal(r1.digest, r2.digest);
        assert_int_equal(r1.torn, r2.torn);
        assert_int_equal(r1.error_offset, r2.error_offset);
        assert_memory_equal(r1.chain, r2.chain, 32);
        if (k == -1) {
            assert_int_equal(rc1, 0);
            assert_int_equal(r1.last_seq, 4000);
        } else if (k >= 35) {
            assert_int_equal(rc1, LX_ECORRUPT);
            if (!strstr(r1.msg, "chain hash mismatch")) print_message("%s\n", r1.msg);
            assert_non_null(strstr(r1.msg, "chain hash mismatch"));
        } else {
            assert_true(rc1 != 0 || r1.torn);
        }
        lx_engine_destroy(e1);
        lx_engine_destroy(e2);
    }
    free(b);
    free(orig);
    jt_rmdir(src);
    jt_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_record_codec),
        cmocka_unit_test(test_segment_header_codec),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_size_bound_and_rotation),
        cmocka_unit_test(test_reopen_continues_chain),
        cmocka_unit_test(test_tamper_detected_by_chain),
        cmocka_unit_test(test_stale_epoch_record_rejected),
        cmocka_unit_test(test_injected_failures),
        cmocka_unit_test(test_fsync_failure_not_retried),
        cmocka_unit_test(test_auth_and_commands_roundtrip),
        cmocka_unit_test(test_parallel_hash_same_results),
        cmocka_unit_test(test_discard),
        cmocka_unit_test(test_new_directory_durable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
