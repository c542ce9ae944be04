/*
 * lx/gw_auth.h: what every gateway does to authenticate a session or an
 * action before it reaches the node (docs/signing.md, docs/identity.md),
 * in one place so that the binary protocol (src/gw/tcp.c) and the web
 * gateway (src/gw/web_ws.c) apply the same rules with the same words.
 *
 *   lx_gw_auth_logon      checks a signed logon: the 88-byte logon payload
 *                         (lx_sign_logon_payload) over the server's challenge
 *   lx_gw_auth_action     checks a SIGNED envelope: signature, chain, an
 *                         account command (no operator commands), deposits
 *                         and key bindings signed by the bridge key only
 *   lx_gw_auth_read       checks a signed HTTP read (lx_sign_read_header):
 *                         signature, chain, path and the timestamp's window
 *   lx_gw_keys_*          a gateway's copy of who may act for an account
 *                         (owner keys, agents), built from the node's start-up
 *                         state and the key events, so that a logon with a key
 *                         the account does not know is refused at once; the
 *                         engine still checks every command (auth SESSION)
 *
 * Pure: no sockets, no threads, no node; the key table has one writer.
 */
#ifndef LX_GW_AUTH_H
#define LX_GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx/config.h"
#include "lx/event.h"
#include "lx/sign.h"

/* A signed logon for `account` by `pk`, signing `challenge` on `chain_id`:
 * 0, or LX_ECORRUPT (the signature does not verify: wrong key, wrong
 * challenge, another chain or account, forged). */
int lx_gw_auth_logon(uint32_t chain_id, lx_account_id_t account,
                     const uint8_t challenge[LX_SIGN_CHALLENGE_LEN],
                     const uint8_t pk[LX_SIGN_PK_LEN], const uint8_t sig[LX_SIGN_SIG_LEN]);

/* A SIGNED envelope as a gateway must check it before sequencing: 0 (out
 * filled, *account the account it acts for), or
 *   LX_ECORRUPT  not a valid envelope of this chain, or a signature that does
 *                not verify (binary: REJECT BAD_SIGNATURE)
 *   LX_EINVAL    an operator's command (assets, markets, fees, halts, ticks;
 *                binary: REJECT BAD_FIELD)
 *   LX_ESTATE    a deposit or key binding not signed by cfg's bridge key
 *                (binary: REJECT BAD_SIGNATURE)
 * *why gets a one-line static reason. */
int lx_gw_auth_action(const lx_config_t *cfg, const uint8_t *env, size_t len, lx_action_t *out,
                      lx_account_id_t *account, const char **why);

/* How far a signed read's ts may be from the gateway's clock, either way. */
#define LX_GW_READ_WINDOW_NS (30 * INT64_C(1000000000))

/* The Authorization header of an HTTP read of `path` (NULL or "": none),
 * at now_ns (ns since the epoch): 0 with key set to the signer, or
 *   LX_ENOENT    no header
 *   LX_EINVAL    not an "LX-Ed25519 key=..., ts=..., sig=..." value
 *   LX_ERANGE    ts more than LX_GW_READ_WINDOW_NS from now_ns
 *   LX_ECORRUPT  the signature does not verify (another path, chain, key
 *                or ts; forged)
 * *why gets a one-line static reason. Who the key may read for is
 * lx_gw_keys_check's answer. */
int lx_gw_auth_read(uint32_t chain_id, const char *header, const char *path, int64_t now_ns,
                    uint8_t key[LX_SIGN_PK_LEN], const char **why);

/* The client id a command carries (PLACE, CANCEL, AMEND), else 0. */
uint64_t lx_gw_auth_client_id(const lx_cmd_t *cmd);

typedef struct lx_gw_keys lx_gw_keys_t;

lx_gw_keys_t *lx_gw_keys_create(void);
void lx_gw_keys_destroy(lx_gw_keys_t *k);
/* KEY_BOUND, AGENT_APPROVED, AGENT_REVOKED (live events or the node's STATE
 * records); other events are ignored. 0 or LX_ENOMEM. */
int lx_gw_keys_apply(lx_gw_keys_t *k, const lx_event_t *ev);

/* May `key` act for `account` at now_ns (ns since the epoch)? Returns
 * LX_KEY_OWNER or LX_KEY_AGENT, or LX_ENOENT with *why: the key is unknown,
 * another account's, a revoked agent, or an agent whose approval expired. */
int lx_gw_keys_check(const lx_gw_keys_t *k, lx_account_id_t account, const uint8_t key[32],
                     int64_t now_ns, const char **why);
/* Whether any account knows the key (in any role). */
bool lx_gw_keys_known(const lx_gw_keys_t *k, const uint8_t key[32]);
/* Whether the account has an owner key (a scan: for logons, not per order). */
bool lx_gw_keys_has_owner(const lx_gw_keys_t *k, lx_account_id_t account);

#endif
