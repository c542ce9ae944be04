/*
 * fuzz_journal.c: libFuzzer driver for the journal reader and the snapshot
 * file reader (src/journal/scan.c, format.c, snapfile.c).
 *
 * The first byte picks a mode; the rest is the input:
 *
 *   0  raw segment: the bytes as a segment file (header and records), as
 *      recovery would find them on disk. Exercises framing, CRCs, the
 *      torn-tail search and every refusal.
 *   1  repaired segment: the bytes are first made consistent the way the
 *      writer would have made them (header CRC; each record's CRC under the
 *      header's epoch; each commit record's count, length, seq, group
 *      number and chain hash), so that mutations reach the payload decoder,
 *      the content checks and the engine.
 *   2  snapshot file: the bytes as a snapshot file, with the header's
 *      lengths and CRCs repaired, so that mutations of the zstd frame reach
 *      the decompressor and lx_engine_load().
 *   3  engine image: the bytes as an uncompressed lx_engine_save() image,
 *      its header's check word repaired (for the version it claims) and
 *      wrapped into a valid snapshot file (zstd level 1), so that every
 *      mutation reaches lx_engine_load()'s sections, not only its header
 *      check. (The trailer digest is not repaired: a mutated section is
 *      parsed to its end, then refused there if no check refused it
 *      first.)
 *
 * Properties checked besides "no crash, no sanitizer report": the scan's
 * status is one of its three values and valid_end never passes the input;
 * a clean or torn scan of a repaired segment applied every command of every
 * valid group to an engine that then passes lx_engine_validate(); a decoded
 * command re-encodes to the payload it came from; a snapshot that loads
 * yields an engine that validates and whose digest is the header's.
 *
 * Corpus: fuzz/corpus/fuzz_journal/ (segments and snapshots written by the
 * real writer, prefixed with their mode byte).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/core.h"
#include "journal/jnl.h"
#include "journal_util.h"
#include "lx/codec.h"
#include "lx/journal.h"
#include "lx/snapshot.h"

typedef struct {
    lx_engine_t *e;
    const uint8_t *buf;
    size_t len;
} ctx_t;

static int on_group(void *vctx, const jnl_entry_t *ents, uint32_t n, uint64_t group,
                    const uint8_t *hash, uint64_t off) {
    ctx_t *c = vctx;
    (void)group;
    (void)hash;
    if (off >= c->len) abort();
    for (uint32_t i = 0; i < n; i++) {
        const jnl_entry_t *en = &ents[i];
        if (en->off >= off) abort();
        /* a payload in the codec's current version re-encodes to itself (an
         * older version's decodes, and re-encodes in the current one) */
        uint8_t b[LX_CMD_ENCODED_MAX];
        int m = lx_cmd_encode(&en->cmd, b, sizeof b);
        uint32_t p = lx_get_u16(c->buf + en->off + 6);
        const uint8_t *pay = c->buf + en->off + JNL_CMD_HDR_LEN;
        if (m <= 0) abort();
        if (pay[0] == LX_CODEC_VERSION && (m != (int)p || memcmp(b, pay, p) != 0)) abort();
        if (en->auth) {
            lx_journal_auth_t a;
            jnl_auth_decode(en->auth, &a);
            if (a.scheme != LX_AUTH_ED25519 && a.scheme != LX_AUTH_SESSION) abort();
        }
        if (c->e) lx_engine_apply(c->e, &en->cmd, NULL); /* may refuse: seq/ts */
    }
    return 0;
}

/* Makes buf a segment the writer could have written: see mode 1. */
static void repair_segment(uint8_t *buf, size_t len) {
    if (len < JNL_SEG_HDR_LEN) return;
    lx_put_u32(buf + 124, lx__crc32c(0, buf, 124));
    uint64_t epoch = lx_get_u64(buf + 16);
    uint8_t prev[LX_JOURNAL_HASH_LEN];
    memcpy(prev, buf + 48, LX_JOURNAL_HASH_LEN);
    uint64_t group = lx_get_u64(buf + 40);
    uint32_t seed = jnl_epoch_crc(epoch);
    size_t off = JNL_SEG_HDR_LEN, gstart = off;
    uint32_t count = 0;
    uint64_t last = 0;
    while (off + 8 <= len) {
        uint32_t l = lx_get_u32(buf + off);
        uint8_t kind = buf[off + 4];
        if (kind == JNL_REC_CMD) {
            if (l < JNL_REC_MIN || l > JNL_REC_MAX || l > len - off) return;
            lx_put_u32(buf + off + l - 4, lx__crc32c(seed, buf + off, l - 4));
            if (l >= 16) last = lx_get_u64(buf + off + 8);
            count++;
        } else if (kind == JNL_REC_COMMIT) {
            if (l != JNL_COMMIT_LEN || l > len - off) return;
            lx_put_u64(buf + off + 8, last);
            lx_put_u64(buf + off + 16, ++group);
            lx_put_u32(buf + off + 24, count);
            lx_put_u32(buf + off + 28, (uint32_t)(off - gstart));
            jnl_chain_hash(prev, prev, epoch, buf + gstart, off - gstart, buf + off);
            memcpy(buf + off + 40, prev, LX_JOURNAL_HASH_LEN);
            lx_put_u32(buf + off + 72, lx__crc32c(seed, buf + off, 72));
            count = 0;
            gstart = off + l;
        } else {
            return;
        }
        off += l;
    }
}

static void fuzz_segment(const uint8_t *data, size_t size, bool repair) {
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    if (repair) repair_segment(buf, size);
    jnl_seg_hdr_t h;
    if (jnl_seg_hdr_parse(buf, size, &h, NULL) != 0) {
        /* still scan the records, under epoch 1, from a zero chain */
        if (size < JNL_SEG_HDR_LEN) {
            free(buf);
            return;
        }
        memset(&h, 0, sizeof h);
        h.epoch = 1;
        jt_engine_config(&h.engine);
    }
    lx_engine_config_t small;
    jt_engine_config(&small);
    if (h.engine.max_orders > small.max_orders || h.engine.max_accounts > small.max_accounts ||
        h.engine.max_markets > small.max_markets || h.engine.max_assets > small.max_assets)
        h.engine = small; /* keep the engine small: the fuzzer is not testing calloc */
    ctx_t c = {.buf = buf, .len = size};
    if (lx_engine_create(&c.e, &h.engine) != 0) c.e = NULL;
    jnl_scan_t s;
    memset(&s, 0, sizeof s);
    s.epoch = h.epoch;
    s.on_group = on_group;
    s.ctx = &c;
    s.chain.last_seq = h.prev_seq;
    s.chain.last_ts = INT64_MIN;
    s.chain.groups = h.prev_groups;
    memcpy(s.chain.hash, h.prev_hash, LX_JOURNAL_HASH_LEN);
    int rc = jnl_scan_records(buf, size, &s);
    if (rc == 0) {
        if (s.status != JNL_SCAN_CLEAN && s.status != JNL_SCAN_TORN && s.status != JNL_SCAN_CORRUPT)
            abort();
        if (s.valid_end > size || s.valid_end < JNL_SEG_HDR_LEN) abort();
        if (s.status != JNL_SCAN_CLEAN && (s.bad_offset < s.valid_end || s.bad_offset > size))
            abort();
        if (s.status == JNL_SCAN_CLEAN && s.valid_end != size) abort();
    }
    if (c.e && lx_engine_validate(c.e, NULL, 0) != 0) abort();
    jnl_scan_free(&s);
    lx_engine_destroy(c.e);
    free(buf);
}

static void check_snapshot(const uint8_t *buf, size_t len) {
    lx_engine_t *e = NULL;
    lx_snapshot_info_t info;
    char msg[160];
    if (lx_snapshot_read_buf(buf, len, &e, &info, msg, sizeof msg) == 0) {
        if (!e || lx_engine_validate(e, NULL, 0) != 0 || lx_engine_digest(e) != info.digest)
            abort();
        lx_engine_destroy(e);
    } else if (e) {
        abort();
    }
}

static void repair_snapshot_header(uint8_t *buf, size_t len, uint64_t image_len) {
    lx_put_u64(buf + 56, len - JNL_SNAP_HDR_LEN);
    if (image_len) lx_put_u64(buf + 48, image_len);
    lx_put_u32(buf + 64, lx__crc32c(0, buf + JNL_SNAP_HDR_LEN, len - JNL_SNAP_HDR_LEN));
    lx_put_u32(buf + 124, lx__crc32c(0, buf, 124));
}

/* Would the image in a zstd frame ask for an engine larger than the small
 * one? (The fuzzer is not testing calloc of gigabytes.) */
static bool image_too_big(const uint8_t *frame, size_t len) {
    unsigned long long n = ZSTD_getFrameContentSize(frame, len);
    if (n == ZSTD_CONTENTSIZE_ERROR) return false; /* refused before any engine */
    if (n == ZSTD_CONTENTSIZE_UNKNOWN || n > (16u << 20)) return true;
    uint8_t *img = malloc(n ? n : 1);
    size_t got = ZSTD_decompress(img, n, frame, len);
    bool big = false;
    if (!ZSTD_isError(got) && got >= 24) {
        lx_engine_config_t small;
        jt_engine_config(&small);
        big = lx_get_u32(img + 8) > small.max_markets || lx_get_u32(img + 12) > small.max_assets ||
              lx_get_u32(img + 16) > small.max_accounts || lx_get_u32(img + 20) > small.max_orders;
    }
    free(img);
    return big;
}

static void fuzz_snapshot(const uint8_t *data, size_t size) {
    if (size < JNL_SNAP_HDR_LEN) {
        check_snapshot(data, size);
        return;
    }
    if (image_too_big(data + JNL_SNAP_HDR_LEN, size - JNL_SNAP_HDR_LEN)) return;
    uint8_t *buf = malloc(size);
    memcpy(buf, data, size);
    repair_snapshot_header(buf, size, 0);
    check_snapshot(buf, size);
    free(buf);
}

/* An uncompressed image wrapped into a snapshot file whose header agrees with
 * what the image claims (seq and digest from its own fields where present). */
static void fuzz_image(const uint8_t *data, size_t size) {
    /* bound the engine the image asks for (its configuration: bytes 8..32) */
    lx_engine_config_t small;
    jt_engine_config(&small);
    if (size >= 32 &&
        (lx_get_u32(data + 8) > small.max_markets || lx_get_u32(data + 12) > small.max_assets ||
         lx_get_u32(data + 16) > small.max_accounts || lx_get_u32(data + 20) > small.max_orders))
        return;
    uint8_t *img = malloc(size ? size : 1);
    memcpy(img, data, size);
    uint32_t version = size >= 8 ? lx_get_u32(img + 4) : 0;
    int hlen = version >= 5 ? 72 : 64;
    if (version >= 2 && version <= LX_SNAPSHOT_VERSION && size >= (size_t)hlen + 8)
        lx_put_u64(img + hlen, lx__image_header_check(img, hlen));
    data = img;
    size_t cap = ZSTD_compressBound(size) + JNL_SNAP_HDR_LEN;
    uint8_t *buf = calloc(1, cap);
    size_t z = ZSTD_compress(buf + JNL_SNAP_HDR_LEN, cap - JNL_SNAP_HDR_LEN, data, size, 1);
    if (ZSTD_isError(z)) {
        free(buf);
        free(img);
        return;
    }
    size_t len = JNL_SNAP_HDR_LEN + z;
    memcpy(buf, JNL_SNAP_MAGIC, 8);
    lx_put_u16(buf + 8, 1);
    lx_put_u16(buf + 10, JNL_SNAP_HDR_LEN);
    lx_put_u32(buf + 12, 1);
    lx_put_u64(buf + 16, 1);
    if (size >= 32) memcpy(buf + 72, data + 8, 24);                   /* configuration */
    if (size >= 40) lx_put_u64(buf + 24, lx_get_u64(data + 32));      /* last_seq */
    if (size >= 48) lx_put_u64(buf + 32, lx_get_u64(data + 40));      /* last_ts */
    if (size >= 8) lx_put_u64(buf + 40, lx_get_u64(data + size - 8)); /* trailer digest */
    lx_put_u32(buf + 68, lx__crc32c(0, data, size));
    repair_snapshot_header(buf, len, size);
    check_snapshot(buf, len);
    free(buf);
    free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0] & 3;
    data++;
    size--;
    switch (mode) {
    case 0:
        fuzz_segment(data, size, false);
        break;
    case 1:
        fuzz_segment(data, size, true);
        break;
    case 2:
        fuzz_snapshot(data, size);
        break;
    case 3:
        fuzz_image(data, size);
        break;
    }
    return 0;
}
