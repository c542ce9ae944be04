/*
 * lx/sign.h: signed actions (docs/signing.md, ARCHITECTURE.md §7).
 *
 * An action is an engine command (lx/command.h) signed with an ed25519 key.
 * What is signed is never JSON text: it is the payload
 *
 *   offset size
 *      0   16  domain tag "LXDEX-ACTION-V1" and a 0 byte
 *     16    4  chain id (u32): the deployment; another chain's actions never verify
 *     20    4  shard (u32): a deposit, withdrawal or transfer moves the funds of
 *              one shard of the node, and names it here, so that the same
 *              envelope cannot be applied again in another shard (whose
 *              deposit ids and nonces are its own); 0 for any other command
 *     24   32  signer: the ed25519 public key (the account's own or an agent's)
 *     56    8  nonce (u64, >= 1): greater than the signer's last (the engine checks)
 *     64    n  the command in its canonical byte form (lx_cmd_encode, docs/codec.md)
 *              with seq = 0 and ts = 0 (the sequencer sets those after signing)
 *
 * and the envelope a client sends is the payload followed by the 64-byte
 * signature (crypto_sign_detached over the payload). Because the command
 * bytes are the journal's own encoding, every field the engine applies is
 * covered, every command type the codec knows can be signed, and anyone can
 * re-verify a journaled command from the record and its auth section
 * (lx_verify_detached). The codec's encoding is canonical (decoding and
 * re-encoding gives the same bytes), so is the payload.
 *
 * Also the logon challenge a session signs (lx_sign_logon_payload), and the
 * read request a client signs to see its own account over HTTP outside dev
 * mode (lx_sign_read_payload, lx_sign_read_header).
 *
 * Who may sign what (owner, agent, bridge) and the nonce order are engine
 * state (docs/identity.md); this module only checks signatures.
 */
#ifndef LX_SIGN_H
#define LX_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx/codec.h"
#include "lx/command.h"

#define LX_SIGN_DOMAIN "LXDEX-ACTION-V1" /* 15 characters and a 0 byte */
#define LX_SIGN_DOMAIN_LEN 16
#define LX_SIGN_HDR_LEN 64
#define LX_SIGN_PK_LEN 32
#define LX_SIGN_SK_LEN 64
#define LX_SIGN_SIG_LEN 64
#define LX_SIGN_MAX_PAYLOAD (LX_SIGN_HDR_LEN + LX_CMD_ENCODED_MAX)
#define LX_SIGN_MAX_ENVELOPE (LX_SIGN_MAX_PAYLOAD + LX_SIGN_SIG_LEN)

#define LX_SIGN_LOGON_DOMAIN "LXDEX-LOGON-V1" /* 14 characters and two 0 bytes */
#define LX_SIGN_CHALLENGE_LEN 32
#define LX_SIGN_LOGON_LEN 88

#define LX_SIGN_READ_DOMAIN "LXDEX-READ-V1" /* 13 characters and three 0 bytes */
#define LX_SIGN_READ_HDR_LEN 64
#define LX_SIGN_READ_PATH_MAX 511 /* bytes of the request's path */
#define LX_SIGN_READ_SCHEME "LX-Ed25519"
/* "LX-Ed25519 key=<64 hex>, ts=<up to 19 digits>, sig=<128 hex>" and a NUL */
#define LX_SIGN_READ_HEADER_MAX 240

typedef struct {
    uint32_t chain_id;
    uint32_t shard; /* funds commands only (lx_sign_funds), else 0 */
    uint8_t signer[LX_SIGN_PK_LEN];
    uint64_t nonce;
    lx_cmd_t cmd; /* seq and ts are not signed: encoded as 0, decoded as 0 */
} lx_action_t;

/* Whether the command moves funds of one shard (deposit, withdraw,
 * transfer): the only ones whose payload may name a shard. */
bool lx_sign_funds(const lx_cmd_t *cmd);

/* The payload of a; returns its length, LX_EINVAL (the codec refuses the
 * command, nonce 0, or a shard on a command that is not lx_sign_funds) or
 * LX_ERANGE (cap too small). */
int lx_sign_payload(const lx_action_t *a, uint8_t *buf, size_t cap);

/* Decodes a payload of exactly len bytes: 0, LX_ETRUNC (short, or bytes
 * after the command), LX_EVERSION (another domain tag), LX_EINVAL (a shard
 * on a command that is not lx_sign_funds, nonce 0, seq or ts not 0) or the
 * codec's error. */
int lx_sign_decode(const uint8_t *buf, size_t len, lx_action_t *out);

/* Payload + signature into out; sk's public half must be a->signer.
 * Returns the envelope's length or LX_E*. */
int lx_sign(const lx_action_t *a, const uint8_t sk[LX_SIGN_SK_LEN], uint8_t *out, size_t cap);

/* Checks an envelope: 0 (out filled); a decode error; LX_ERANGE for another
 * chain; LX_ECORRUPT for a signature that does not verify (forged, wrong
 * key, any byte changed). */
int lx_verify(const uint8_t *env, size_t len, uint32_t chain_id, lx_action_t *out);

/* Checks a signature over a's payload (a journaled command with its auth
 * section): 0, LX_ECORRUPT, or LX_EINVAL when a cannot be encoded. */
int lx_verify_detached(const lx_action_t *a, const uint8_t sig[LX_SIGN_SIG_LEN]);

/* The account a command acts for (the one whose key, or agent, must sign
 * it); LX_ACCOUNT_NONE for operator commands (assets, markets, fees, halts,
 * ticks). A deposit names the account credited: the bridge key signs it. */
lx_account_id_t lx_sign_account(const lx_cmd_t *cmd);

/* The 88 bytes a session signs to log on: "LXDEX-LOGON-V1\0\0", chain id
 * (u32), account (u32), the server's 32-byte challenge, the public key. */
void lx_sign_logon_payload(uint32_t chain_id, lx_account_id_t account,
                           const uint8_t challenge[LX_SIGN_CHALLENGE_LEN],
                           const uint8_t pk[LX_SIGN_PK_LEN], uint8_t out[LX_SIGN_LOGON_LEN]);

/* The bytes a client signs to read an account over HTTP (docs/signing.md):
 *
 *   offset size
 *      0   16  "LXDEX-READ-V1" and three 0 bytes
 *     16    4  chain id (u32)
 *     20    4  reserved, 0
 *     24   32  the key (the account's owner key or a live agent's)
 *     56    8  ts (i64): the client's clock, ns since the epoch
 *     64    n  the request's path as sent, "/v1/accounts/5/orders" (no query)
 *
 * Returns 64 + n, LX_EINVAL (no path, one not starting with '/', or over
 * LX_SIGN_READ_PATH_MAX bytes) or LX_ERANGE (cap too small). */
int lx_sign_read_payload(uint32_t chain_id, const uint8_t pk[LX_SIGN_PK_LEN], int64_t ts,
                         const char *path, uint8_t *out, size_t cap);

/* The value of the Authorization header that carries such a signature:
 * "LX-Ed25519 key=<hex>, ts=<decimal>, sig=<hex>" (lowercase hex), signed
 * with sk (whose public half is the key). Returns its length, or
 * lx_sign_read_payload's error, or LX_ERANGE when cap is under
 * LX_SIGN_READ_HEADER_MAX. */
int lx_sign_read_header(uint32_t chain_id, const uint8_t sk[LX_SIGN_SK_LEN], int64_t ts,
                        const char *path, char *out, size_t cap);

/* Parses that header value (the scheme's name in any case, hex in either
 * case, ts a decimal >= 0): 0, or LX_EINVAL. */
int lx_sign_read_parse(const char *header, uint8_t pk[LX_SIGN_PK_LEN], int64_t *ts,
                       uint8_t sig[LX_SIGN_SIG_LEN]);

#endif
