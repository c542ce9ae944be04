/*
 * auth.c: authentication on a gateway's thread (lx/gw_auth.h), shared by the
 * gateways so that a logon or a signed action is judged by one set of rules.
 *
 * Two kinds of proof reach a gateway (docs/signing.md). A session logs on by
 * signing the server's challenge: the 88-byte logon payload names the chain,
 * the account, the challenge and the key, so a signature is good for one
 * connection's one challenge and nothing else (its domain tag keeps it from
 * ever being an action signature). An action may instead carry its own
 * signature (the SIGNED envelope): lx_verify checks the bytes and the chain,
 * and this file adds the gateway's part of the rules, which the engine cannot
 * apply because it never sees signatures: operator commands are never taken
 * from a client, and deposits and key bindings are the bridge's word only.
 *
 * Who may act for an account is engine state (docs/identity.md), checked by
 * the engine for every command. A gateway that sees the engine's events (the
 * web gateway has every event) can also refuse a logon whose key the account
 * does not know, instead of taking a session whose every order the engine
 * would reject: lx_gw_keys_t is that copy. Records are a flat array, with
 * an open-addressing index (linear probing) on a keyed hash of the whole
 * key: SipHash (libsodium's crypto_shorthash) under a key drawn at
 * creation. Not the key's first eight bytes: an agent key is whatever 32
 * bytes its owner approves, so an owner could approve keys that all share
 * them and make every lookup walk one long cluster on the gateway's
 * thread. A revoked agent's record is deleted (the last record takes its
 * place, and the probe run behind the freed slot is shifted back), as the
 * engine does from rules 3; under rules 1 and 2 the engine keeps it, and a
 * logon by such a key is then told the key is not the account's, where it
 * was told the key was revoked: the engine refuses its commands either
 * way. So the copy holds the keys that may act, and no more. Lookups are
 * one probe sequence; lx_gw_keys_has_owner scans the records, which a logon
 * can afford. The copy lags the engine by the events in flight, so it only
 * decides what a session is told at logon: the engine's check of each
 * command (auth SESSION, the session's key) stays the one that counts.
 *
 * Not here: challenges (each gateway draws and keeps its own per
 * connection), sessions, rate limits.
 */
#include "lx/gw_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lx/engine.h"
#include "lx/error.h"

int lx_gw_auth_logon(uint32_t chain_id, lx_account_id_t account,
                     const uint8_t challenge[LX_SIGN_CHALLENGE_LEN],
                     const uint8_t pk[LX_SIGN_PK_LEN], const uint8_t sig[LX_SIGN_SIG_LEN]) {
    uint8_t p[LX_SIGN_LOGON_LEN];
    if (sodium_init() < 0) return LX_ESTATE;
    lx_sign_logon_payload(chain_id, account, challenge, pk, p);
    return crypto_sign_verify_detached(sig, p, sizeof p, pk) ? LX_ECORRUPT : 0;
}

int lx_gw_auth_action(const lx_config_t *cfg, const uint8_t *env, size_t len, lx_action_t *out,
                      lx_account_id_t *account, const char **why) {
    int rc = lx_verify(env, len, cfg->node.chain_id, out);
    if (rc == LX_ERANGE) {
        *why = "the envelope was signed for another chain id";
        return LX_ECORRUPT;
    }
    if (rc == LX_ECORRUPT) {
        *why = "the signature does not verify (wrong key, or a byte changed)";
        return LX_ECORRUPT;
    }
    if (rc) {
        *why = "not a valid signed envelope (docs/signing.md)";
        return LX_ECORRUPT;
    }
    *account = lx_sign_account(&out->cmd);
    if (*account == LX_ACCOUNT_NONE) {
        *why = "an operator's command is not taken from a client";
        return LX_EINVAL;
    }
    if ((out->cmd.type == LX_CMD_DEPOSIT || out->cmd.type == LX_CMD_BIND_KEY) &&
        (!cfg->has_bridge_key || memcmp(out->signer, cfg->bridge_key, LX_SIGN_PK_LEN) != 0)) {
        *why = "deposits and key bindings must be signed by the bridge key (bridge_key)";
        return LX_ESTATE;
    }
    return 0;
}

int lx_gw_auth_read(uint32_t chain_id, const char *header, const char *path, int64_t now_ns,
                    uint8_t key[LX_SIGN_PK_LEN], const char **why) {
    uint8_t sig[LX_SIGN_SIG_LEN], p[LX_SIGN_READ_HDR_LEN + LX_SIGN_READ_PATH_MAX];
    int64_t ts;
    if (!header || !*header) {
        *why = "no Authorization header";
        return LX_ENOENT;
    }
    if (lx_sign_read_parse(header, key, &ts, sig)) {
        *why = "the Authorization header is not \"" LX_SIGN_READ_SCHEME
               " key=<64 hex>, ts=<ns>, sig=<128 hex>\"";
        return LX_EINVAL;
    }
    if (ts > now_ns + LX_GW_READ_WINDOW_NS || ts < now_ns - LX_GW_READ_WINDOW_NS) {
        *why = "ts is more than 30 s away from the node's clock";
        return LX_ERANGE;
    }
    int n = lx_sign_read_payload(chain_id, key, ts, path, p, sizeof p);
    if (n < 0 || sodium_init() < 0 ||
        crypto_sign_verify_detached(sig, p, (unsigned long long)n, key) != 0) {
        *why = "the signature does not verify (it must sign the read payload of "
               "docs/signing.md: this path, this chain id, this ts, with this key)";
        return LX_ECORRUPT;
    }
    return 0;
}

uint64_t lx_gw_auth_client_id(const lx_cmd_t *cmd) {
    switch (cmd->type) {
    case LX_CMD_PLACE:
        return cmd->u.place.client_id;
    case LX_CMD_CANCEL:
        return cmd->u.cancel.client_id;
    case LX_CMD_AMEND:
        return cmd->u.amend.client_id;
    default:
        return 0;
    }
}

/* ---- the key table ------------------------------------------------------------------------ */

typedef struct {
    uint8_t key[32];
    lx_account_id_t account;
    uint8_t role; /* lx_key_role_t */
    int64_t expiry;
} rec_t;

struct lx_gw_keys {
    rec_t *rec;
    uint32_t n, cap;
    uint32_t *idx; /* icap slots: record index + 1, 0 empty */
    uint32_t icap; /* a power of two, at least twice n */
    uint8_t seed[crypto_shorthash_KEYBYTES];
};

static uint32_t hash_of(const lx_gw_keys_t *k, const uint8_t key[32]) {
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, 32, k->seed);
    uint32_t v;
    memcpy(&v, h, sizeof v);
    return v;
}

static uint32_t *slot_of(const lx_gw_keys_t *k, const uint8_t key[32]) {
    if (!k->icap) return NULL;
    for (uint32_t i = hash_of(k, key) & (k->icap - 1);; i = (i + 1) & (k->icap - 1)) {
        uint32_t *s = &k->idx[i];
        if (!*s || !memcmp(k->rec[*s - 1].key, key, 32)) return s;
    }
}

static int grow(lx_gw_keys_t *k) {
    if (k->n == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 64;
        rec_t *r = realloc(k->rec, cap * sizeof *r);
        if (!r) return LX_ENOMEM;
        k->rec = r;
        k->cap = cap;
    }
    if ((k->n + 1) * 2 > k->icap) {
        uint32_t icap = k->icap ? k->icap * 2 : 128;
        uint32_t *idx = calloc(icap, sizeof *idx);
        if (!idx) return LX_ENOMEM;
        free(k->idx);
        k->idx = idx;
        k->icap = icap;
        for (uint32_t i = 0; i < k->n; i++) *slot_of(k, k->rec[i].key) = i + 1;
    }
    return 0;
}

lx_gw_keys_t *lx_gw_keys_create(void) {
    if (sodium_init() < 0) return NULL;
    lx_gw_keys_t *k = calloc(1, sizeof(lx_gw_keys_t));
    if (k) randombytes_buf(k->seed, sizeof k->seed);
    return k;
}

/* Deletes the record whose index slot is s: the slots after it in its
 * probe run move back where their home allows (so every key stays
 * reachable without tombstones), and the last record takes the freed
 * record's place. */
static void delete_at(lx_gw_keys_t *k, uint32_t *s) {
    uint32_t mask = k->icap - 1, r = *s - 1;
    uint32_t hole = (uint32_t)(s - k->idx);
    for (uint32_t i = (hole + 1) & mask; k->idx[i]; i = (i + 1) & mask) {
        uint32_t home = hash_of(k, k->rec[k->idx[i] - 1].key) & mask;
        /* the entry at i may fill the hole unless its home lies in (hole, i] */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            k->idx[hole] = k->idx[i];
            hole = i;
        }
    }
    k->idx[hole] = 0;
    if (r != --k->n) {
        k->rec[r] = k->rec[k->n];
        *slot_of(k, k->rec[r].key) = r + 1;
    }
}

void lx_gw_keys_destroy(lx_gw_keys_t *k) {
    if (!k) return;
    free(k->rec);
    free(k->idx);
    free(k);
}

int lx_gw_keys_apply(lx_gw_keys_t *k, const lx_event_t *ev) {
    uint8_t role = ev->type == LX_EV_KEY_BOUND        ? LX_KEY_OWNER
                   : ev->type == LX_EV_AGENT_APPROVED ? LX_KEY_AGENT
                   : ev->type == LX_EV_AGENT_REVOKED  ? LX_KEY_REVOKED
                                                      : 0;
    if (!role) return 0;
    const lx_ev_key_t *e = &ev->u.key;
    uint32_t *s = slot_of(k, e->key);
    if (role == LX_KEY_REVOKED) {
        if (s && *s && k->rec[*s - 1].account == e->account) delete_at(k, s);
        return 0;
    }
    if (!s || !*s) {
        int rc = grow(k);
        if (rc) return rc;
        s = slot_of(k, e->key);
        *s = ++k->n;
        memcpy(k->rec[*s - 1].key, e->key, 32);
    }
    rec_t *r = &k->rec[*s - 1];
    r->account = e->account;
    r->role = role;
    r->expiry = role == LX_KEY_AGENT ? e->expiry : 0;
    return 0;
}

int lx_gw_keys_check(const lx_gw_keys_t *k, lx_account_id_t account, const uint8_t key[32],
                     int64_t now_ns, const char **why) {
    uint32_t *s = slot_of(k, key);
    const rec_t *r = s && *s ? &k->rec[*s - 1] : NULL;
    if (!r || r->account != account) {
        *why = "the key is not this account's owner key nor an agent it approved and has not "
               "revoked";
        return LX_ENOENT;
    }
    if (r->role == LX_KEY_AGENT && now_ns >= r->expiry) {
        *why = "the approval of this agent key has expired";
        return LX_ENOENT;
    }
    return r->role;
}

bool lx_gw_keys_known(const lx_gw_keys_t *k, const uint8_t key[32]) {
    uint32_t *s = slot_of(k, key);
    return s && *s;
}

bool lx_gw_keys_has_owner(const lx_gw_keys_t *k, lx_account_id_t account) {
    for (uint32_t i = 0; i < k->n; i++)
        if (k->rec[i].account == account && k->rec[i].role == LX_KEY_OWNER) return true;
    return false;
}
