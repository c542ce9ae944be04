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
 */
#include "lx/sign.h"

#include <sodium.h>
#include <string.h>

#include "lx/error.h"

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

int lx_sign_payload(const lx_action_t *a, uint8_t *buf, size_t cap) {
    if (!a || !buf || a->nonce == 0) return LX_EINVAL;
    if (cap < LX_SIGN_HDR_LEN) return LX_ERANGE;
    lx_cmd_t c = a->cmd;
    c.seq = 0;
    c.ts = 0;
    int n = lx_cmd_encode(&c, buf + LX_SIGN_HDR_LEN, cap - LX_SIGN_HDR_LEN);
    if (n < 0) return n;
    memset(buf, 0, LX_SIGN_HDR_LEN);
    memcpy(buf, LX_SIGN_DOMAIN, sizeof LX_SIGN_DOMAIN);
    lx_put_u32(buf + 16, a->chain_id);
    memcpy(buf + 24, a->signer, LX_SIGN_PK_LEN);
    lx_put_u64(buf + 56, a->nonce);
    return LX_SIGN_HDR_LEN + n;
}

int lx_sign_decode(const uint8_t *buf, size_t len, lx_action_t *out) {
    if (!buf || !out) return LX_EINVAL;
    if (len < LX_SIGN_HDR_LEN) return LX_ETRUNC;
    if (memcmp(buf, LX_SIGN_DOMAIN, LX_SIGN_DOMAIN_LEN) != 0) return LX_EVERSION;
    if (!all_zero(buf + 20, 4)) return LX_EINVAL;
    lx_action_t a;
    memset(&a, 0, sizeof a);
    a.chain_id = lx_get_u32(buf + 16);
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
    if (a.cmd.seq != 0 || a.cmd.ts != 0) return LX_EINVAL;
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
