/*
 * identity.c: who may act for an account, and which nonces were used
 * (docs/identity.md, ARCHITECTURE.md §7).
 *
 * Signatures are verified on gateway threads, before sequencing; what a
 * verified signature is worth depends on state that only the log can make
 * consistent: which key owns an account, which agents it approved, until
 * when, and the last nonce each key used. That state lives here, so that
 * replaying the journal (whose records keep each command's auth section)
 * rebuilds it exactly and every replica rejects the same replay.
 *
 * Data structure: keys[] holds every public key the engine knows, in the
 * order it became known (BIND_KEY, first APPROVE_AGENT of that key), with
 * its account, role (owner, agent, and under rules 1 and 2 revoked agent),
 * last nonces and, for agents, the approval's name and expiry. A hash
 * index (lx__idx, the same one the client ids use) maps the 32 key bytes
 * to the record; the tag is a mix of all four key words. Per account,
 * ident[account] holds the owner's record index, the number of agents and
 * its nonce floors' record index.
 *
 * Forgetting revoked keys (rules 3). Under rules 1 and 2 a revoked agent
 * keeps its record for ever, so that its nonce history survives a later
 * re-approval and an old signed action of it can never be replayed; but
 * then an owner who approves and revokes new keys grows the engine by a
 * record (80 bytes and an index entry) a pair of commands, without bound.
 * From rules 3 REVOKE_AGENT deletes the record (the last record takes its
 * place in keys[], so nothing moves but one record) and raises the
 * account's nonce floors of the key's slot to the key's last nonces; every
 * key record of that slot the account gets later (an agent, the same key
 * approved again, its owner key) starts from them. An old action signed
 * by the forgotten key for this account therefore stays spent, whatever
 * the key becomes; one signed for another account was never this
 * account's to replay. What an account holds is bounded: an owner, its
 * agents (the limit) and one floor record.
 *
 * Why slots (16, a fixed public function of the key, lx_nonce_floor_slot)
 * and not one floor an account: an agent chooses its own nonces, and a
 * signed action is spent even when refused for business reasons, so a
 * leaked agent can spend the largest nonce of each kind before its owner
 * revokes it; with one floor an account, no later key of the account
 * could ever sign again (a review found it: test_engine
 * test_revoked_agent_cannot_poison_floors). With slots, it spoils one
 * sixteenth of the key space, and an owner whose new key lands there
 * takes another. Likewise a client that counts its nonces from 1 for
 * each new key meets the floors of a revoked key only in that key's slot
 * (docs/identity.md). The floors are two a slot, like a key's nonces: the
 * every-shard one is the same in every shard (lx_cmd_every_shard), the
 * other is each shard's own.
 *
 * Invariants (lx_engine_validate checks them): every record is in the
 * index; a key belongs to exactly one account; an account has at most one
 * owner record and ident[a].owner names it; under rules 3 no record is
 * revoked, and only then are there floors, one record an account, which
 * ident[a].floor names; ident[a].nagents is the number
 * of its records of role AGENT and never exceeds the configured maximum
 * (except after a configuration that lowered it: then no new agent until
 * it is back under).
 *
 * The auth check (lx__auth_check) runs before a command's own checks: it
 * finds the account the command acts for, looks the signer up (one hash
 * probe), checks role, permission, expiry and, for SIGNED, the nonce; the
 * caller records the nonce once the command has been applied (whatever its
 * business outcome), so a signed action is spent even when it is rejected
 * for funds, and cannot be replayed later when it would succeed.
 *
 * Costs: one hash probe of a 32-byte key per authenticated command; nothing
 * at all for a command without auth, which is what the matching path sees
 * in dev mode and in the benchmarks. BIND_KEY and APPROVE_AGENT may grow
 * keys[] and the index (doubling), REVOKE_AGENT the floors, before they
 * change anything.
 *
 * What this file deliberately does not do: verify signatures (gateways do,
 * src/gw/sign.c), know the bridge key (the gateway checks that deposits and
 * key binds are signed by it), rotate an owner key (not supported yet: an
 * account's owner key is bound once).
 */
#include <stdlib.h>
#include "idx.h"
#include "lx/codec.h"

/* ---- the key index ---------------------------------------------------------- */

/* Every word mixed, under the engine's secret seed (core.h): an owner
 * picks its agents' key bytes at will (an agent key need not be a real
 * ed25519 key), and approve/revoke keeps every record, so the fold of the
 * four words into two that was here (w0 ^ w2, w1 ^ w3, unkeyed) let one
 * owner pile any number of keys onto one hash: with 6,000 of them, the
 * approvals and revocations took 185 ms against 1.1 ms for random keys,
 * all of it on the engine's thread. Three lx__hash2 a lookup, on the
 * authenticated path only. */
static uint64_t key_hash(const lx_engine_t *e, const uint8_t k[32]) {
    uint64_t w[4];
    memcpy(w, k, 32);
    return lx__hash2(lx__hash2(w[0] ^ e->hash_seed[0], w[1]) ^ w[2],
                     lx__hash2(w[3] ^ e->hash_seed[1], w[2]));
}

static bool key_eq(const void *ctx, uint32_t v, const void *key) {
    const lx_engine_t *e = ctx;
    uint64_t a[4], b[4];
    memcpy(a, e->keys[v].key, 32);
    memcpy(b, key, 32);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

static uint64_t key_hash_of(const void *ctx, uint32_t v) {
    const lx_engine_t *e = ctx;
    return key_hash(e, e->keys[v].key);
}

uint32_t lx__key_find(const lx_engine_t *e, const uint8_t key[32]) {
    return lx__idx_find(&e->key_idx, key_hash(e, key), key_eq, e, key);
}

int lx__identity_init(lx_engine_t *e) {
    return lx__idx_init(&e->key_idx, 64, key_hash_of, e);
}

void lx__identity_free(lx_engine_t *e) {
    free(e->keys);
    free(e->floors);
    lx__idx_free(&e->key_idx);
}

int lx__key_reserve(lx_engine_t *e) {
    if (e->nkeys == e->keys_cap) {
        uint32_t ncap = e->keys_cap ? e->keys_cap * 2 : 64;
        lx__key_t *n = realloc(e->keys, (size_t)ncap * sizeof *n);
        if (!n) return LX_ENOMEM;
        e->keys = n;
        e->keys_cap = ncap;
    }
    return lx__idx_reserve(&e->key_idx, 1);
}

uint32_t lx__key_add(lx_engine_t *e, const uint8_t key[32], uint32_t account, uint32_t role) {
    uint32_t k = e->nkeys++;
    lx__key_t *r = &e->keys[k];
    memset(r, 0, sizeof *r);
    memcpy(r->key, key, 32);
    r->account = account;
    r->role = role;
    if (e->ident[account].floor) {
        const lx__floor_t *f = &e->floors[e->ident[account].floor - 1];
        uint32_t s = lx_nonce_floor_slot(key);
        r->nonce = f->nonce[s];
        r->nonce_all = f->nonce_all[s];
    }
    lx__idx_insert(&e->key_idx, key_hash(e, key), k); /* reserved: cannot fail */
    if (role == LX_KEY_OWNER) e->ident[account].owner = k + 1;
    if (role == LX_KEY_AGENT) e->ident[account].nagents++;
    return k;
}

/* Deletes record k (rules 3): the last record takes its place, and the
 * index and the owner's ident entry learn where it went. */
static void key_delete(lx_engine_t *e, uint32_t k) {
    lx__idx_remove(&e->key_idx, key_hash(e, e->keys[k].key), k);
    if (e->keys[k].role == LX_KEY_AGENT) e->ident[e->keys[k].account].nagents--;
    uint32_t last = --e->nkeys;
    if (k == last) return;
    uint64_t h = key_hash(e, e->keys[last].key);
    lx__idx_remove(&e->key_idx, h, last);
    e->keys[k] = e->keys[last];
    (void)lx__idx_insert(&e->key_idx, h, k); /* room: one was just freed */
    if (e->keys[k].role == LX_KEY_OWNER) e->ident[e->keys[k].account].owner = k + 1;
}

int lx__floor_reserve(lx_engine_t *e) {
    lx__floor_t *f = lx__array_room(e->floors, e->nfloors, &e->floors_cap, sizeof *f, 16);
    if (!f) return LX_ENOMEM;
    e->floors = f;
    return 0;
}

/* The top 4 bits of murmur3's finalizer over the key's first 8 bytes
 * (little-endian): fixed and public, not the engine's secret seed, because
 * which floor a key starts from is state that every replica must agree on
 * (and a client may want to know). */
uint32_t lx_nonce_floor_slot(const uint8_t key[LX_KEY_LEN]) {
    return (uint32_t)(lx__fmix64(lx_get_u64(key)) >> 60);
}

void lx__floor_raise(lx_engine_t *e, uint32_t account, uint32_t slot, uint64_t nonce,
                     uint64_t nonce_all) {
    lx__ident_t *id = &e->ident[account];
    if (!id->floor) {
        memset(&e->floors[e->nfloors], 0, sizeof e->floors[0]);
        e->floors[e->nfloors].account = account;
        id->floor = ++e->nfloors;
    }
    lx__floor_t *f = &e->floors[id->floor - 1];
    if (nonce > f->nonce[slot]) f->nonce[slot] = nonce;
    if (nonce_all > f->nonce_all[slot]) f->nonce_all[slot] = nonce_all;
}

/* ---- auth --------------------------------------------------------------------- */

/* Whether auth applies to the command; if so, the account it acts for and
 * whether an agent may send it. */
static bool acting_account(const lx_cmd_t *c, uint32_t *a, bool *agent_ok) {
    switch (c->type) {
    case LX_CMD_PLACE:
    case LX_CMD_CANCEL:
    case LX_CMD_AMEND:
    case LX_CMD_CANCEL_ALL:
    case LX_CMD_SCHEDULE_CANCEL:
        *agent_ok = true;
        break;
    case LX_CMD_WITHDRAW:
    case LX_CMD_TRANSFER:
    case LX_CMD_APPROVE_AGENT:
    case LX_CMD_REVOKE_AGENT:
        *agent_ok = false;
        break;
    default:
        return false; /* operator, bridge and time commands ignore auth */
    }
    *a = lx_cmd_account(c);
    return true;
}

/* The REJECTED event of a refused auth echoes what the command's own
 * rejection would (docs/matching.md): its market, order id or client id. */
static void reject_auth(lx_engine_t *e, const lx_cmd_t *c, uint32_t account, lx_reject_t r) {
    uint32_t market = LX_MARKET_NONE;
    lx_order_id_t oid = 0;
    uint64_t cid = 0;
    switch (c->type) {
    case LX_CMD_PLACE:
        market = c->u.place.market;
        cid = c->u.place.client_id;
        break;
    case LX_CMD_CANCEL:
        market = c->u.cancel.market;
        oid = c->u.cancel.by_client_id ? 0 : c->u.cancel.order_id;
        cid = c->u.cancel.by_client_id ? c->u.cancel.client_id : 0;
        break;
    case LX_CMD_AMEND:
        market = c->u.amend.market;
        oid = c->u.amend.by_client_id ? 0 : c->u.amend.order_id;
        cid = c->u.amend.by_client_id ? c->u.amend.client_id : 0;
        break;
    case LX_CMD_CANCEL_ALL:
        market = c->u.cancel_all.market;
        break;
    default:
        break;
    }
    lx__reject(e, c, r, market, account, oid, cid);
}

lx_reject_t lx__auth_check(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                           uint32_t *kidx) {
    *kidx = LX__NIL;
    bool agent_ok;
    uint32_t a = LX_ACCOUNT_NONE;
    if (!acting_account(c, &a, &agent_ok)) return LX_REJECT_NONE;
    lx_reject_t r = LX_REJECT_NONE;
    uint32_t k = LX__NIL;
    if (auth->scheme > LX_CMD_AUTH_SESSION)
        r = LX_REJECT_BAD_COMMAND;
    else if (a >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if ((k = lx__key_find(e, auth->key)) == LX__NIL || e->keys[k].account != a ||
             !e->ident[a].owner) /* an agent approved without an owner key acts for no one */
        r = LX_REJECT_BAD_SIGNER;
    else if (e->keys[k].role == LX_KEY_REVOKED)
        r = LX_REJECT_AGENT_REVOKED;
    else if (e->keys[k].role == LX_KEY_AGENT && !agent_ok)
        r = LX_REJECT_NOT_AUTHORIZED;
    else if (e->keys[k].role == LX_KEY_AGENT && e->keys[k].expiry <= c->ts)
        r = LX_REJECT_AGENT_EXPIRED;
    else if (auth->scheme == LX_CMD_AUTH_SIGNED &&
             auth->nonce <= (lx_cmd_every_shard(c) ? e->keys[k].nonce_all : e->keys[k].nonce))
        r = LX_REJECT_NONCE_REPLAYED;
    if (r) {
        reject_auth(e, c, a, r);
        return r;
    }
    if (auth->scheme == LX_CMD_AUTH_SIGNED) *kidx = k;
    return LX_REJECT_NONE;
}

/* ---- commands ------------------------------------------------------------------- */

static void emit_key(lx_engine_t *e, lx_event_type_t type, uint32_t k) {
    const lx__key_t *r = &e->keys[k];
    lx_event_t ev;
    lx__ev_start(e, &ev, type, LX_MARKET_NONE, false);
    ev.u.key.account = r->account;
    memcpy(ev.u.key.key, r->key, 32);
    if (type != LX_EV_KEY_BOUND) {
        memcpy(ev.u.key.name, r->name, 16);
        ev.u.key.expiry = r->expiry;
    }
    lx__emit(e, &ev);
}

int lx__bind_key(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_bind_key_t *p = &c->u.bind_key;
    lx_reject_t r = LX_REJECT_NONE;
    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (lx__key_zero(p->key))
        r = LX_REJECT_BAD_KEY;
    else if (e->ident[p->account].owner)
        r = LX_REJECT_ACCOUNT_HAS_KEY;
    else if (lx__key_find(e, p->key) != LX__NIL)
        r = LX_REJECT_KEY_IN_USE;
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, p->account, 0, 0);
        return 0;
    }
    int rc = lx__key_reserve(e);
    if (rc) return rc;
    emit_key(e, LX_EV_KEY_BOUND, lx__key_add(e, p->key, p->account, LX_KEY_OWNER));
    return 0;
}

int lx__approve_agent(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_approve_agent_t *p = &c->u.approve_agent;
    lx_reject_t r = LX_REJECT_NONE;
    uint32_t k = LX__NIL;
    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (lx__key_zero(p->key))
        r = LX_REJECT_BAD_KEY;
    else if (!lx__text16_valid(p->name))
        r = LX_REJECT_BAD_COMMAND;
    else if (p->expiry <= c->ts)
        r = LX_REJECT_EXPIRED;
    else if ((k = lx__key_find(e, p->key)) != LX__NIL &&
             (e->keys[k].account != p->account || e->keys[k].role == LX_KEY_OWNER))
        r = LX_REJECT_KEY_IN_USE;
    else if ((k == LX__NIL || e->keys[k].role == LX_KEY_REVOKED) &&
             e->ident[p->account].nagents >= e->cfg.max_agents_per_account)
        r = LX_REJECT_TOO_MANY_AGENTS;
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, p->account, 0, 0);
        return 0;
    }
    if (k == LX__NIL) {
        int rc = lx__key_reserve(e);
        if (rc) return rc;
        k = lx__key_add(e, p->key, p->account, LX_KEY_AGENT);
    } else if (e->keys[k].role == LX_KEY_REVOKED) {
        e->keys[k].role = LX_KEY_AGENT; /* re-approved: its nonce goes on */
        e->ident[p->account].nagents++;
    }
    memcpy(e->keys[k].name, p->name, 16);
    e->keys[k].expiry = p->expiry;
    emit_key(e, LX_EV_AGENT_APPROVED, k);
    return 0;
}

int lx__revoke_agent(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_revoke_agent_t *p = &c->u.revoke_agent;
    lx_reject_t r = LX_REJECT_NONE;
    uint32_t k = LX__NIL;
    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if ((k = lx__key_find(e, p->key)) == LX__NIL || e->keys[k].account != p->account ||
             e->keys[k].role != LX_KEY_AGENT)
        r = LX_REJECT_UNKNOWN_AGENT;
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, p->account, 0, 0);
        return 0;
    }
    if (e->cfg.rules < LX_RULES_3) { /* the record stays, revoked */
        e->keys[k].role = LX_KEY_REVOKED;
        e->ident[p->account].nagents--;
        emit_key(e, LX_EV_AGENT_REVOKED, k);
        return 0;
    }
    int rc = e->ident[p->account].floor ? 0 : lx__floor_reserve(e);
    if (rc) return rc;
    emit_key(e, LX_EV_AGENT_REVOKED, k);
    lx__floor_raise(e, p->account, lx_nonce_floor_slot(e->keys[k].key), e->keys[k].nonce,
                    e->keys[k].nonce_all);
    key_delete(e, k);
    return 0;
}

/* ---- read API --------------------------------------------------------------------- */

static void key_info(const lx__key_t *r, lx_key_info_t *out) {
    memset(out, 0, sizeof *out);
    memcpy(out->key, r->key, 32);
    out->account = r->account;
    out->role = (uint8_t)r->role;
    out->nonce = r->nonce;
    out->nonce_all = r->nonce_all;
    out->expiry = r->expiry;
    memcpy(out->name, r->name, 16);
}

int lx_engine_key(const lx_engine_t *e, const uint8_t key[LX_KEY_LEN], lx_key_info_t *out) {
    if (!e || !key || !out) return LX_EINVAL;
    uint32_t k = lx__key_find(e, key);
    if (k == LX__NIL) return LX_ENOENT;
    key_info(&e->keys[k], out);
    return 0;
}

uint32_t lx_engine_key_count(const lx_engine_t *e) {
    return e ? e->nkeys : 0;
}

void lx_engine_key_nth(const lx_engine_t *e, uint32_t i, lx_key_info_t *out) {
    if (i < e->nkeys) key_info(&e->keys[i], out);
}

int lx_engine_owner_key(const lx_engine_t *e, lx_account_id_t a, uint8_t key[LX_KEY_LEN]) {
    if (!e || a >= e->cfg.max_accounts || !e->ident[a].owner) return LX_ENOENT;
    memcpy(key, e->keys[e->ident[a].owner - 1].key, 32);
    return 0;
}

void lx_engine_nonce_floor(const lx_engine_t *e, lx_account_id_t a, uint32_t slot, uint64_t *nonce,
                           uint64_t *nonce_all) {
    *nonce = *nonce_all = 0;
    if (!e || a >= e->cfg.max_accounts || slot >= LX_NONCE_FLOOR_SLOTS || !e->ident[a].floor)
        return;
    *nonce = e->floors[e->ident[a].floor - 1].nonce[slot];
    *nonce_all = e->floors[e->ident[a].floor - 1].nonce_all[slot];
}

lx_account_id_t lx_cmd_account(const lx_cmd_t *cmd) {
    switch (cmd->type) {
    case LX_CMD_DEPOSIT:
        return cmd->u.deposit.account;
    case LX_CMD_WITHDRAW:
        return cmd->u.withdraw.account;
    case LX_CMD_TRANSFER:
        return cmd->u.transfer.from;
    case LX_CMD_PLACE:
        return cmd->u.place.account;
    case LX_CMD_CANCEL:
        return cmd->u.cancel.account;
    case LX_CMD_AMEND:
        return cmd->u.amend.account;
    case LX_CMD_CANCEL_ALL:
        return cmd->u.cancel_all.account;
    case LX_CMD_SCHEDULE_CANCEL:
        return cmd->u.schedule_cancel.account;
    case LX_CMD_BIND_KEY:
        return cmd->u.bind_key.account;
    case LX_CMD_APPROVE_AGENT:
        return cmd->u.approve_agent.account;
    case LX_CMD_REVOKE_AGENT:
        return cmd->u.revoke_agent.account;
    default:
        return LX_ACCOUNT_NONE;
    }
}
