/*
 * format.c: the byte layout of journal segments, specified here and in
 * docs/journal.md, with the codecs that write and read it.
 *
 * A journal directory holds segment files named seg-<index>.lxj (index: 20
 * decimal digits, from 0). A segment is a 128-byte header followed by
 * records. Records form groups: one or more command records closed by one
 * commit record; the writer writes a group with one write() and makes it
 * durable with one fdatasync() (group commit), and a group is the unit of
 * validity: a command counts only once its group's commit record is valid.
 * Groups never span segments. Every integer is little-endian; every
 * reserved byte is zero and checked.
 *
 * Segment header, 128 bytes, format version 3 (versions 1 and 2, read
 * too, are the same with zeros at 120, and version 1 with zeros at 116:
 * before the rules version and the fee account; each a new version so
 * that an older lxdexd refuses a directory a newer one wrote to, rather
 * than replay its commands by older rules):
 *
 *   offset size field
 *   0      8    magic "LXDEXJNL" (4c 58 44 45 58 4a 4e 4c)
 *   8      2    format version (3)
 *   10     2    header length (128)
 *   12     4    zero
 *   16     8    epoch, >= 1: changes whenever a writer starts a segment after
 *               a snapshot or a restart; covered by every record's CRC and
 *               every group's hash, so that a record left over from another
 *               epoch (a reused or resurrected file) cannot validate
 *   24     8    segment index (equal to the one in the file name)
 *   32     8    prev_seq: seq of the last command before this segment (0 at genesis)
 *   40     8    prev_groups: groups before this segment since genesis
 *   48     32   prev_hash: chain hash after those groups (zeros at genesis)
 *   80     24   engine configuration, six u32: max_markets, max_assets,
 *               max_accounts, max_orders, max_open_orders_per_account,
 *               clearing (0 or 1)
 *   104    4    engine max_agents_per_account (u32; 0: the engine's default)
 *   108    8    engine deadman_min_lead_ns (i64 >= 0; 0: the engine's default)
 *   116    4    engine fee_account (u32)
 *   120    4    engine rules (u32, LX_RULES_*: the effective value, >= 1)
 *               (segments written before these fields existed hold zeros
 *               there, which mean what those segments ran with: fee account
 *               0, rules 1)
 *   124    4    CRC32C of bytes [0, 124)
 *
 * Command record, 28 + P (+ 112) + 4 bytes:
 *
 *   0      4    len: the whole record's length, this field and the CRC included
 *   4      1    kind = 1 (command)
 *   5      1    flags: bit 0 = an auth section follows the payload; others zero
 *   6      2    P: payload length, 1 .. 1024
 *   8      8    lsn: the command's seq (log sequence number), strictly increasing
 *   16     8    ts: the command's timestamp (i64 ns), never decreasing
 *   24     1    command type (lx_cmd_type_t)
 *   25     3    zero
 *   28     P    payload: the command in the canonical byte form of lx/codec.h
 *               (lx_cmd_encode); it repeats type, seq and ts, which must agree
 *   28+P   112  auth section, if flags bit 0 (ARCHITECTURE §7):
 *                 0   1  scheme: 1 ed25519 signature, 2 session
 *                 1   1  zero
 *                 2   2  section length (112)
 *                 4   4  zero
 *                 8   32 public key: the signer (account or approved agent
 *                        key), or the session's authenticated account key
 *                 40  8  nonce (u64, per key, strictly increasing; session id)
 *                 48  64 ed25519 signature (zeros for a session)
 *   len-4  4    CRC32C of (epoch as 8 LE bytes) followed by bytes [0, len-4)
 *
 * Commit record, 76 bytes, closes a group of n >= 1 command records:
 *
 *   0      4    len = 76
 *   4      1    kind = 2 (commit)
 *   5      3    zero
 *   8      8    lsn of the group's last command
 *   16     8    group number (1 for the first group since genesis)
 *   24     4    n: command records in the group
 *   28     4    bytes: total length of those records (they end where this starts)
 *   32     8    zero
 *   40     32   chain hash H = BLAKE2b-256(H' || epoch (8 LE) || the group's
 *               command records || bytes [0, 40) of this record), where H' is
 *               the previous group's H (prev_hash of the segment header for
 *               its first group; zeros at genesis)
 *   72     4    CRC32C of (epoch as 8 LE bytes) followed by bytes [0, 72)
 *
 * The chain hash after the last group stands for the whole history: two
 * replicas with equal hashes hold equal logs; changing any byte of any
 * record changes every later hash.
 *
 * Validity of a record (jnl_rec_parse): 33 <= len <= 1168 (commit: = 76),
 * known kind, reserved bytes and undefined flags zero, P and the auth section
 * consistent with len, auth scheme 1 or 2 with section length 112, CRC
 * matching. Validity in context (scan.c): payload decodes to a command of
 * the same type, seq and ts; seq above and ts not below the previous
 * command's; the commit's n, bytes, lsn, group number and hash match.
 *
 * The codecs below never dump structs: every field is put and got one by
 * one with lx_put_* / lx_get_*.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "jnl.h"

/* sodium_init() picks the fastest BLAKE2b for this CPU (AVX2 where there is
 * one, about 2.5 times the portable code); without it libsodium runs its
 * reference implementation. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static void sodium_setup(void) {
    if (sodium_init() < 0) abort(); /* cannot happen after a successful link */
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* ---- segment header ------------------------------------------------------ */

void jnl_seg_hdr_encode(uint8_t out[JNL_SEG_HDR_LEN], const jnl_seg_hdr_t *h) {
    memset(out, 0, JNL_SEG_HDR_LEN);
    memcpy(out, JNL_SEG_MAGIC, 8);
    lx_put_u16(out + 8, LX_JOURNAL_VERSION);
    lx_put_u16(out + 10, JNL_SEG_HDR_LEN);
    lx_put_u64(out + 16, h->epoch);
    lx_put_u64(out + 24, h->index);
    lx_put_u64(out + 32, h->prev_seq);
    lx_put_u64(out + 40, h->prev_groups);
    memcpy(out + 48, h->prev_hash, LX_JOURNAL_HASH_LEN);
    lx_put_u32(out + 80, h->engine.max_markets);
    lx_put_u32(out + 84, h->engine.max_assets);
    lx_put_u32(out + 88, h->engine.max_accounts);
    lx_put_u32(out + 92, h->engine.max_orders);
    lx_put_u32(out + 96, h->engine.max_open_orders_per_account);
    lx_put_u32(out + 100, h->engine.clearing ? 1 : 0);
    lx_put_u32(out + 104, h->engine.max_agents_per_account);
    lx_put_u64(out + 108, (uint64_t)h->engine.deadman_min_lead_ns);
    lx_put_u32(out + 116, h->engine.fee_account);
    lx_put_u32(out + 120, lx_engine_config_effective(&h->engine).rules);
    lx_put_u32(out + 124, lx__crc32c(0, out, 124));
}

int jnl_seg_hdr_parse(const uint8_t *buf, size_t len, jnl_seg_hdr_t *h, const char **why) {
    const char *w = NULL;
    int rc = LX_ECORRUPT;
    if (len < JNL_SEG_HDR_LEN) {
        w = "segment header truncated";
        rc = LX_ETRUNC;
    } else if (memcmp(buf, JNL_SEG_MAGIC, 8) != 0) {
        w = "bad segment magic";
    } else if (lx_get_u32(buf + 124) != lx__crc32c(0, buf, 124)) {
        w = "segment header CRC mismatch";
    } else if (lx_get_u16(buf + 8) < 1 || lx_get_u16(buf + 8) > LX_JOURNAL_VERSION) {
        w = "unsupported segment format version";
        rc = LX_EVERSION;
    } else if (lx_get_u16(buf + 8) == 3 &&
               (lx_get_u32(buf + 120) < LX_RULES_1 || lx_get_u32(buf + 120) > LX_RULES_LATEST)) {
        w = "the segment's rules version is unknown to this build (written by a newer one?)";
        rc = LX_EVERSION;
    } else if (lx_get_u16(buf + 10) != JNL_SEG_HDR_LEN || lx_get_u32(buf + 12) != 0 ||
               (lx_get_u16(buf + 8) < 3 && !all_zero(buf + 120, 4)) ||
               (lx_get_u16(buf + 8) == 1 && !all_zero(buf + 116, 4))) {
        w = "bad segment header layout";
    } else {
        memset(h, 0, sizeof *h);
        h->epoch = lx_get_u64(buf + 16);
        h->index = lx_get_u64(buf + 24);
        h->prev_seq = lx_get_u64(buf + 32);
        h->prev_groups = lx_get_u64(buf + 40);
        memcpy(h->prev_hash, buf + 48, LX_JOURNAL_HASH_LEN);
        h->engine.max_markets = lx_get_u32(buf + 80);
        h->engine.max_assets = lx_get_u32(buf + 84);
        h->engine.max_accounts = lx_get_u32(buf + 88);
        h->engine.max_orders = lx_get_u32(buf + 92);
        h->engine.max_open_orders_per_account = lx_get_u32(buf + 96);
        uint32_t clearing = lx_get_u32(buf + 100);
        h->engine.clearing = clearing == 1;
        h->engine.max_agents_per_account = lx_get_u32(buf + 104);
        h->engine.deadman_min_lead_ns = (int64_t)lx_get_u64(buf + 108);
        h->engine.fee_account = lx_get_u32(buf + 116);
        /* a segment before version 3 was written by the first rules */
        h->engine.rules = lx_get_u16(buf + 8) >= 3 ? lx_get_u32(buf + 120) : LX_RULES_1;
        if (h->epoch == 0 || clearing > 1 || h->engine.deadman_min_lead_ns < 0) {
            w = "bad segment header field";
        } else {
            if (why) *why = NULL;
            return 0;
        }
    }
    if (why) *why = w;
    return rc;
}

/* ---- records ------------------------------------------------------------- */

uint32_t jnl_epoch_crc(uint64_t epoch) {
    uint8_t e[8];
    lx_put_u64(e, epoch);
    return lx__crc32c(0, e, 8);
}

static uint32_t rec_crc(uint64_t epoch, const uint8_t *rec, size_t n) {
    return lx__crc32c(jnl_epoch_crc(epoch), rec, n);
}

int jnl_cmd_rec_encode(uint8_t *out, uint64_t epoch, const lx_cmd_t *cmd,
                       const lx_journal_auth_t *auth) {
    int p = lx_cmd_encode(cmd, out + JNL_CMD_HDR_LEN, LX_CMD_ENCODED_MAX);
    if (p < 0) return p;
    if (p == 0 || p > JNL_PAYLOAD_MAX) return LX_ERANGE;
    if (auth && auth->scheme != LX_AUTH_ED25519 && auth->scheme != LX_AUTH_SESSION)
        return LX_EINVAL;
    uint32_t len = JNL_CMD_HDR_LEN + (uint32_t)p + (auth ? JNL_AUTH_LEN : 0) + 4;
    lx_put_u32(out, len);
    out[4] = JNL_REC_CMD;
    out[5] = auth ? JNL_FLAG_AUTH : 0;
    lx_put_u16(out + 6, (uint16_t)p);
    lx_put_u64(out + 8, cmd->seq);
    lx_put_u64(out + 16, (uint64_t)cmd->ts);
    out[24] = (uint8_t)cmd->type;
    out[25] = out[26] = out[27] = 0;
    if (auth) {
        uint8_t *a = out + JNL_CMD_HDR_LEN + p;
        memset(a, 0, JNL_AUTH_LEN);
        a[0] = auth->scheme;
        lx_put_u16(a + 2, JNL_AUTH_LEN);
        memcpy(a + 8, auth->key, 32);
        lx_put_u64(a + 40, auth->nonce);
        if (auth->scheme == LX_AUTH_ED25519) memcpy(a + 48, auth->sig, 64);
    }
    lx_put_u32(out + len - 4, rec_crc(epoch, out, len - 4));
    return (int)len;
}

void jnl_auth_decode(const uint8_t *a, lx_journal_auth_t *out) {
    memset(out, 0, sizeof *out);
    out->scheme = a[0];
    memcpy(out->key, a + 8, 32);
    out->nonce = lx_get_u64(a + 40);
    memcpy(out->sig, a + 48, 64);
}

void jnl_chain_hash(uint8_t out[LX_JOURNAL_HASH_LEN], const uint8_t prev[LX_JOURNAL_HASH_LEN],
                    uint64_t epoch, const uint8_t *recs, size_t bytes, const uint8_t *commit) {
    pthread_once(&sodium_once, sodium_setup);
    crypto_generichash_state st;
    uint8_t e[8];
    lx_put_u64(e, epoch);
    crypto_generichash_init(&st, NULL, 0, LX_JOURNAL_HASH_LEN);
    crypto_generichash_update(&st, prev, LX_JOURNAL_HASH_LEN);
    crypto_generichash_update(&st, e, 8);
    crypto_generichash_update(&st, recs, bytes);
    crypto_generichash_update(&st, commit, JNL_COMMIT_HASHED);
    crypto_generichash_final(&st, out, LX_JOURNAL_HASH_LEN);
}

void jnl_commit_encode(uint8_t out[JNL_COMMIT_LEN], uint64_t epoch, const uint8_t *recs,
                       uint32_t bytes, uint32_t count, uint64_t last_seq, uint64_t group,
                       const uint8_t prev_hash[LX_JOURNAL_HASH_LEN],
                       uint8_t hash[LX_JOURNAL_HASH_LEN]) {
    memset(out, 0, JNL_COMMIT_LEN);
    lx_put_u32(out, JNL_COMMIT_LEN);
    out[4] = JNL_REC_COMMIT;
    lx_put_u64(out + 8, last_seq);
    lx_put_u64(out + 16, group);
    lx_put_u32(out + 24, count);
    lx_put_u32(out + 28, bytes);
    jnl_chain_hash(hash, prev_hash, epoch, recs, bytes, out);
    memcpy(out + 40, hash, LX_JOURNAL_HASH_LEN);
    lx_put_u32(out + 72, rec_crc(epoch, out, 72));
}

int jnl_rec_parse(const uint8_t *buf, size_t avail, uint64_t epoch, jnl_rec_t *r,
                  const char **why) {
    return jnl_rec_parse_seeded(buf, avail, jnl_epoch_crc(epoch), r, why);
}

int jnl_rec_parse_seeded(const uint8_t *buf, size_t avail, uint32_t seed, jnl_rec_t *r,
                         const char **why) {
    const char *w = NULL;
    if (avail < 5) {
        /* not even length and kind: only an incomplete tail can look so */
        if (why) *why = "record header truncated";
        return LX_ETRUNC;
    }
    uint32_t len = lx_get_u32(buf);
    uint8_t kind = buf[4];
    memset(r, 0, sizeof *r);
    if (kind == JNL_REC_CMD) {
        if (len < JNL_REC_MIN || len > JNL_REC_MAX) {
            w = "bad record length";
            goto bad;
        }
    } else if (kind == JNL_REC_COMMIT) {
        if (len != JNL_COMMIT_LEN) {
            w = "bad commit record length";
            goto bad;
        }
    } else {
        w = "bad record kind";
        goto bad;
    }
    if (len > avail) {
        if (why) *why = "record runs past the end of the file";
        return LX_ETRUNC;
    }
    if (lx_get_u32(buf + len - 4) != lx__crc32c(seed, buf, len - 4)) {
        w = "record CRC mismatch";
        goto bad;
    }
    r->kind = kind;
    r->len = len;
    if (kind == JNL_REC_COMMIT) {
        if (!all_zero(buf + 5, 3) || !all_zero(buf + 32, 8)) {
            w = "nonzero reserved bytes in commit record";
            goto bad;
        }
        r->lsn = lx_get_u64(buf + 8);
        r->group = lx_get_u64(buf + 16);
        r->count = lx_get_u32(buf + 24);
        r->bytes = lx_get_u32(buf + 28);
        r->hash = buf + 40;
    } else {
        r->flags = buf[5];
        r->payload_len = lx_get_u16(buf + 6);
        r->lsn = lx_get_u64(buf + 8);
        r->ts = (int64_t)lx_get_u64(buf + 16);
        r->cmd_type = buf[24];
        uint32_t want = JNL_CMD_HDR_LEN + r->payload_len + 4;
        if (r->flags & ~JNL_FLAG_AUTH || !all_zero(buf + 25, 3)) {
            w = "nonzero reserved bytes in command record";
            goto bad;
        }
        if (r->flags & JNL_FLAG_AUTH) want += JNL_AUTH_LEN;
        if (r->payload_len == 0 || r->payload_len > JNL_PAYLOAD_MAX || want != len) {
            w = "payload length does not match record length";
            goto bad;
        }
        r->payload = buf + JNL_CMD_HDR_LEN;
        if (r->flags & JNL_FLAG_AUTH) {
            const uint8_t *a = r->payload + r->payload_len;
            if ((a[0] != LX_AUTH_ED25519 && a[0] != LX_AUTH_SESSION) || a[1] != 0 ||
                lx_get_u16(a + 2) != JNL_AUTH_LEN || !all_zero(a + 4, 4) ||
                (a[0] == LX_AUTH_SESSION && !all_zero(a + 48, 64))) {
                w = "bad auth section";
                goto bad;
            }
            r->auth = a;
        }
    }
    if (why) *why = NULL;
    return (int)len;
bad:
    if (why) *why = w;
    return LX_ECORRUPT;
}
