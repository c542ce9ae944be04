/*
 * sign.c: signed actions (lx/sign.h, docs/signing.md).
 *
 * The design choice that matters is what gets signed: the journal's own
 * canonical encoding of the engine command (src/core/codec.c) behind a short
 * header with a domain tag, the chain id, the signer's key and its nonce.
 * Nothing is signed twice in two formats, so there is no second encoder that
 * could disagree with the engine about a field, and `lxdex journal verify`
 * re-verifies a record by encoding the journaled command again with seq and
 * ts zeroed. The domain tag keeps an action signature from ever being valid
 * as anything else (a logon signature has its own tag), and the chain id
 * keeps a testnet action from replaying on another deployment.
 *
 * libsodium does the cryptography: crypto_sign_detached and
 * crypto_sign_verify_detached (ed25519), which take constant time in the
 * secret and reject non-canonical signatures.
 *
 * Signed reads. Outside dev mode an account's balances and orders are shown
 * over HTTP only to a request signed by a key that may act for it. Reads
 * change nothing, so they carry no nonce: the signature covers the path and
 * the client's timestamp, and the gateway takes it within a short window of
 * its own clock (a replay can only read the same path again, for a few
 * seconds). The payload has its own domain tag, so it can never pass as an
 * action or a logon. The header's format is written and parsed here, so the
 * CLI and the gateway cannot disagree about it.
 */
#include "lx/sign.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lx/error.h"

bool lx_sign_funds(const lx_cmd_t *cmd) {
    return cmd->type == LX_CMD_DEPOSIT || cmd->type == LX_CMD_WITHDRAW ||
           cmd->type == LX_CMD_TRANSFER;
}

int lx_sign_payload(const lx_action_t *a, uint8_t *buf, size_t cap) {
    if (!a || !buf || a->nonce == 0 || (a->shard && !lx_sign_funds(&a->cmd))) return LX_EINVAL;
    if (cap < LX_SIGN_HDR_LEN) return LX_ERANGE;
    lx_cmd_t c = a->cmd;
    c.seq = 0;
    c.ts = 0;
    int n = lx_cmd_encode(&c, buf + LX_SIGN_HDR_LEN, cap - LX_SIGN_HDR_LEN);
    if (n < 0) return n;
    memset(buf, 0, LX_SIGN_HDR_LEN);
    memcpy(buf, LX_SIGN_DOMAIN, sizeof LX_SIGN_DOMAIN);
    lx_put_u32(buf + 16, a->chain_id);
    lx_put_u32(buf + 20, a->shard);
    memcpy(buf + 24, a->signer, LX_SIGN_PK_LEN);
    lx_put_u64(buf + 56, a->nonce);
    return LX_SIGN_HDR_LEN + n;
}

int lx_sign_decode(const uint8_t *buf, size_t len, lx_action_t *out) {
    if (!buf || !out) return LX_EINVAL;
    if (len < LX_SIGN_HDR_LEN) return LX_ETRUNC;
    if (memcmp(buf, LX_SIGN_DOMAIN, LX_SIGN_DOMAIN_LEN) != 0) return LX_EVERSION;
    lx_action_t a;
    memset(&a, 0, sizeof a);
    a.chain_id = lx_get_u32(buf + 16);
    a.shard = lx_get_u32(buf + 20);
    memcpy(a.signer, buf + 24, LX_SIGN_PK_LEN);
    a.nonce = lx_get_u64(buf + 56);
    if (a.nonce == 0) return LX_EINVAL;
    /* the current codec version only: the decoder also reads older records,
     * but a signature is checked again (lxdex journal verify) over the bytes
     * of today's encoding, which an older version's bytes are not */
    if (len > LX_SIGN_HDR_LEN && buf[LX_SIGN_HDR_LEN] != LX_CODEC_VERSION) return LX_EVERSION;
    int n = lx_cmd_decode(&a.cmd, buf + LX_SIGN_HDR_LEN, len - LX_SIGN_HDR_LEN);
    if (n < 0) return n;
    if ((size_t)n != len - LX_SIGN_HDR_LEN) return LX_ETRUNC;
    if (a.cmd.seq != 0 || a.cmd.ts != 0 || (a.shard && !lx_sign_funds(&a.cmd))) return LX_EINVAL;
    *out = a;
    return 0;
}

int lx_sign(const lx_action_t *a, const uint8_t sk[LX_SIGN_SK_LEN], uint8_t *out, size_t cap) {
    if (!a || !sk || !out) return LX_EINVAL;
    if (sodium_init() < 0) return LX_ESTATE;
    uint8_t pk[LX_SIGN_PK_LEN];
    if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0 || memcmp(pk, a->signer, LX_SIGN_PK_LEN) != 0)
        return LX_EINVAL;
    if (cap < LX_SIGN_SIG_LEN) return LX_ERANGE;
    int n = lx_sign_payload(a, out, cap - LX_SIGN_SIG_LEN);
    if (n < 0) return n;
    crypto_sign_detached(out + n, NULL, out, (unsigned long long)n, sk);
    return n + LX_SIGN_SIG_LEN;
}

int lx_verify(const uint8_t *env, size_t len, uint32_t chain_id, lx_action_t *out) {
    if (!env || !out) return LX_EINVAL;
    if (len < LX_SIGN_HDR_LEN + LX_SIGN_SIG_LEN) return LX_ETRUNC;
    size_t plen = len - LX_SIGN_SIG_LEN;
    lx_action_t a;
    int rc = lx_sign_decode(env, plen, &a);
    if (rc) return rc;
    if (a.chain_id != chain_id) return LX_ERANGE;
    if (sodium_init() < 0) return LX_ESTATE;
    if (crypto_sign_verify_detached(env + plen, env, plen, a.signer) != 0) return LX_ECORRUPT;
    *out = a;
    return 0;
}

int lx_verify_detached(const lx_action_t *a, const uint8_t sig[LX_SIGN_SIG_LEN]) {
    uint8_t p[LX_SIGN_MAX_PAYLOAD];
    int n = lx_sign_payload(a, p, sizeof p);
    if (n < 0) return LX_EINVAL;
    if (sodium_init() < 0) return LX_ESTATE;
    return crypto_sign_verify_detached(sig, p, (unsigned long long)n, a->signer) ? LX_ECORRUPT : 0;
}

lx_account_id_t lx_sign_account(const lx_cmd_t *cmd) {
    return lx_cmd_account(cmd);
}

void lx_sign_logon_payload(uint32_t chain_id, lx_account_id_t account,
                           const uint8_t challenge[LX_SIGN_CHALLENGE_LEN],
                           const uint8_t pk[LX_SIGN_PK_LEN], uint8_t out[LX_SIGN_LOGON_LEN]) {
    memset(out, 0, 16);
    memcpy(out, LX_SIGN_LOGON_DOMAIN, sizeof LX_SIGN_LOGON_DOMAIN);
    lx_put_u32(out + 16, chain_id);
    lx_put_u32(out + 20, account);
    memcpy(out + 24, challenge, LX_SIGN_CHALLENGE_LEN);
    memcpy(out + 56, pk, LX_SIGN_PK_LEN);
}

/* ---- signed reads ------------------------------------------------------------------------- */

int lx_sign_read_payload(uint32_t chain_id, const uint8_t pk[LX_SIGN_PK_LEN], int64_t ts,
                         const char *path, uint8_t *out, size_t cap) {
    size_t n = path ? strlen(path) : 0;
    if (!pk || !out || n == 0 || path[0] != '/' || n > LX_SIGN_READ_PATH_MAX) return LX_EINVAL;
    if (cap < LX_SIGN_READ_HDR_LEN + n) return LX_ERANGE;
    memset(out, 0, LX_SIGN_READ_HDR_LEN);
    memcpy(out, LX_SIGN_READ_DOMAIN, sizeof LX_SIGN_READ_DOMAIN);
    lx_put_u32(out + 16, chain_id);
    memcpy(out + 24, pk, LX_SIGN_PK_LEN);
    lx_put_u64(out + 56, (uint64_t)ts);
    memcpy(out + LX_SIGN_READ_HDR_LEN, path, n);
    return (int)(LX_SIGN_READ_HDR_LEN + n);
}

int lx_sign_read_header(uint32_t chain_id, const uint8_t sk[LX_SIGN_SK_LEN], int64_t ts,
                        const char *path, char *out, size_t cap) {
    uint8_t p[LX_SIGN_READ_HDR_LEN + LX_SIGN_READ_PATH_MAX], pk[LX_SIGN_PK_LEN];
    uint8_t sig[LX_SIGN_SIG_LEN];
    if (!sk || !out || ts < 0) return LX_EINVAL;
    if (cap < LX_SIGN_READ_HEADER_MAX) return LX_ERANGE;
    if (sodium_init() < 0) return LX_ESTATE;
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    int n = lx_sign_read_payload(chain_id, pk, ts, path, p, sizeof p);
    if (n < 0) return n;
    crypto_sign_detached(sig, NULL, p, (unsigned long long)n, sk);
    char kh[2 * LX_SIGN_PK_LEN + 1], sh[2 * LX_SIGN_SIG_LEN + 1];
    sodium_bin2hex(kh, sizeof kh, pk, sizeof pk);
    sodium_bin2hex(sh, sizeof sh, sig, sizeof sig);
    return snprintf(out, cap, LX_SIGN_READ_SCHEME " key=%s, ts=%lld, sig=%s", kh, (long long)ts,
                    sh);
}

/* hex of exactly n bytes in s[0..len) */
static bool hex_exact(const char *s, size_t len, uint8_t *out, size_t n) {
    size_t got = 0;
    const char *end = NULL;
    return len == 2 * n && sodium_hex2bin(out, n, s, len, NULL, &got, &end) == 0 && got == n &&
           end == s + len;
}

int lx_sign_read_parse(const char *h, uint8_t pk[LX_SIGN_PK_LEN], int64_t *ts,
                       uint8_t sig[LX_SIGN_SIG_LEN]) {
    const size_t sl = sizeof LX_SIGN_READ_SCHEME - 1;
    if (!h || !pk || !ts || !sig) return LX_EINVAL;
    while (*h == ' ') h++;
    if (strncasecmp(h, LX_SIGN_READ_SCHEME, sl) != 0 || h[sl] != ' ') return LX_EINVAL;
    h += sl;
    unsigned seen = 0; /* bits: key, ts, sig */
    for (;;) {
        while (*h == ' ') h++;
        const char *eq = strchr(h, '=');
        if (!eq) return LX_EINVAL;
        const char *v = eq + 1, *ve = v;
        while (*ve && *ve != ',' && *ve != ' ') ve++;
        size_t nl = (size_t)(eq - h), vl = (size_t)(ve - v);
        unsigned bit;
        if (nl == 3 && !memcmp(h, "key", 3) && hex_exact(v, vl, pk, LX_SIGN_PK_LEN)) {
            bit = 1;
        } else if (nl == 3 && !memcmp(h, "sig", 3) && hex_exact(v, vl, sig, LX_SIGN_SIG_LEN)) {
            bit = 4;
        } else if (nl == 2 && !memcmp(h, "ts", 2) && vl >= 1 && vl <= 19) {
            int64_t t = 0;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9' || t > (INT64_MAX - (v[i] - '0')) / 10)
                    return LX_EINVAL;
                t = t * 10 + (v[i] - '0');
            }
            *ts = t;
            bit = 2;
        } else {
            return LX_EINVAL;
        }
        if (seen & bit) return LX_EINVAL;
        seen |= bit;
        h = ve;
        while (*h == ' ') h++;
        if (*h == 0) break;
        if (*h++ != ',') return LX_EINVAL;
    }
    return seen == 7 ? 0 : LX_EINVAL;
}
