/*
 * lx/sign.h: canonical signed action envelopes (issue 6, identity layer core).
 *
 * An envelope is a fixed-layout little-endian payload (see docs/signing.md for
 * byte offsets) followed by a 64-byte ed25519 signature (crypto_sign_detached
 * over exactly the payload bytes). Also: a per-key nonce tracker (replay check)
 * and an agent registry (who may act for which account).
 */
#ifndef LX_SIGN_H
#define LX_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define LX_SIGN_MAGIC "LXDEX-ACTION-V1" /* 15 chars + NUL = 16 bytes */
#define LX_SIGN_MAGIC_LEN 16
#define LX_SIGN_HDR_LEN 72
#define LX_SIGN_PK_LEN 32
#define LX_SIGN_SK_LEN 64
#define LX_SIGN_SIG_LEN 64
#define LX_SIGN_NAME_LEN 16
#define LX_SIGN_MAX_BODY 56
#define LX_SIGN_MAX_PAYLOAD (LX_SIGN_HDR_LEN + LX_SIGN_MAX_BODY)
#define LX_SIGN_MAX_ENVELOPE (LX_SIGN_MAX_PAYLOAD + LX_SIGN_SIG_LEN)
#define LX_SIGN_ALL_MARKETS 0xFFFFFFFFu

typedef enum {
    LX_ACT_PLACE = 1,
    LX_ACT_CANCEL = 2,
    LX_ACT_AMEND = 3,
    LX_ACT_CANCEL_ALL = 4,
    LX_ACT_WITHDRAW = 5,
    LX_ACT_TRANSFER = 6,
    LX_ACT_APPROVE_AGENT = 7,
    LX_ACT_REVOKE_AGENT = 8,
    LX_ACT_SCHEDULE_CANCEL = 9,
    LX_ACT__MAX = 9
} lx_act_type_t;

typedef struct {
    uint32_t market;
    uint8_t side;  /* 0 buy, 1 sell */
    uint8_t tif;   /* 0..3 (engine's time-in-force codes) */
    int64_t price; /* ticks, > 0 */
    int64_t qty;   /* lots, > 0 */
    uint64_t client_id;
} lx_act_place_t;

typedef struct {
    uint32_t market;
    uint64_t order_id;
} lx_act_cancel_t;

typedef struct {
    uint32_t market;
    uint64_t order_id;
    int64_t price; /* > 0 */
    int64_t qty;   /* > 0 */
} lx_act_amend_t;

typedef struct {
    uint32_t market; /* LX_SIGN_ALL_MARKETS for every market */
} lx_act_cancel_all_t;

typedef struct {
    uint32_t asset;
    int64_t amount; /* > 0 */
} lx_act_withdraw_t;

typedef struct {
    uint32_t to;
    uint32_t asset;
    int64_t amount; /* > 0 */
} lx_act_transfer_t;

typedef struct {
    uint8_t agent[LX_SIGN_PK_LEN];
    char name[LX_SIGN_NAME_LEN]; /* NUL-padded printable ASCII (may be empty) */
    uint64_t expiry_ns;          /* > 0 */
} lx_act_approve_agent_t;

typedef struct {
    uint8_t agent[LX_SIGN_PK_LEN];
} lx_act_revoke_agent_t;

typedef struct {
    uint64_t deadline_ns; /* 0 clears the dead man's switch */
} lx_act_schedule_cancel_t;

typedef struct {
    uint32_t chain_id;
    uint8_t type; /* lx_act_type_t */
    uint8_t signer[LX_SIGN_PK_LEN];
    uint32_t account;
    uint64_t nonce;
    union {
        lx_act_place_t place;
        lx_act_cancel_t cancel;
        lx_act_amend_t amend;
        lx_act_cancel_all_t cancel_all;
        lx_act_withdraw_t withdraw;
        lx_act_transfer_t transfer;
        lx_act_approve_agent_t approve;
        lx_act_revoke_agent_t revoke;
        lx_act_schedule_cancel_t schedule_cancel;
    } u;
} lx_action_t;

/* Body length of an action type, or -1 for an unknown type. */
int lx_sign_body_len(int type);

/* Encodes the payload into buf (>= LX_SIGN_MAX_PAYLOAD bytes). Returns the
 * byte count (> 0) or LX_EINVAL when the action would not decode. */
int lx_sign_encode(const lx_action_t *a, uint8_t *buf);

/* Decodes and fully validates a payload (exact length). 0, LX_ETRUNC (short or
 * long), LX_EVERSION (domain tag), LX_EINVAL (enum/range/reserved bytes). */
int lx_sign_decode(const uint8_t *buf, size_t len, lx_action_t *out);

/* Builds payload + signature into out (>= LX_SIGN_MAX_ENVELOPE bytes); the
 * action's signer must be the public half of sk. Returns length or LX_E*. */
int lx_sign(const lx_action_t *a, const uint8_t sk[LX_SIGN_SK_LEN], uint8_t *out);

/* Verifies an envelope. 0 (out filled), a decode code when malformed,
 * LX_ERANGE for a wrong chain id, LX_ECORRUPT for a bad signature. */
int lx_verify(const uint8_t *env, size_t len, uint32_t chain_id, lx_action_t *out);

/* ---- nonce tracker: public key -> last nonce (open addressing) ---- */
typedef struct lx_nonce_tracker lx_nonce_tracker_t;
lx_nonce_tracker_t *lx_nonce_tracker_new(size_t capacity);
void lx_nonce_tracker_free(lx_nonce_tracker_t *t);
/* 0 and records nonce when it is greater than the key's last (a new key
 * accepts any nonce >= 1); LX_EEXIST for a replayed / non-increasing nonce;
 * LX_EFULL when the table is full. */
int lx_nonce_check_and_set(lx_nonce_tracker_t *t, const uint8_t key[LX_SIGN_PK_LEN],
                           uint64_t nonce);

/* ---- agent registry ---- */
typedef struct lx_agents lx_agents_t;
lx_agents_t *lx_agents_new(size_t max_accounts, size_t max_agents);
void lx_agents_free(lx_agents_t *r);
/* Binds an account to its owner key (the account key). */
int lx_agents_set_owner(lx_agents_t *r, uint32_t account, const uint8_t key[LX_SIGN_PK_LEN]);
/* Approves (or re-approves, updating name/expiry) an agent for an account. */
int lx_agents_approve(lx_agents_t *r, uint32_t account, const uint8_t agent[LX_SIGN_PK_LEN],
                      const char name[LX_SIGN_NAME_LEN], uint64_t expiry_ns);
/* LX_ENOENT when not approved. */
int lx_agents_revoke(lx_agents_t *r, uint32_t account, const uint8_t agent[LX_SIGN_PK_LEN]);
/* May key act for account with action type at now_ns? 0 yes; LX_ENOENT no
 * relation; LX_ESTATE agent not allowed this action or expired. */
int lx_agents_may(const lx_agents_t *r, const uint8_t key[LX_SIGN_PK_LEN], uint32_t account,
                  int type, uint64_t now_ns);
/* 1 when agents may perform this action type. */
int lx_agent_action_allowed(int type);

#endif
