/* sign.c: canonical signed action envelopes + nonce tracker (docs/signing.md). */
#include "lx/sign.h"
#include "lx/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static int zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int lx_sign_body_len(int type) {
    switch (type) {
    case LX_ACT_PLACE:
        return 32;
    case LX_ACT_CANCEL:
        return 16;
    case LX_ACT_AMEND:
        return 32;
    case LX_ACT_CANCEL_ALL:
        return 8;
    case LX_ACT_WITHDRAW:
        return 16;
    case LX_ACT_TRANSFER:
        return 16;
    case LX_ACT_APPROVE_AGENT:
        return 56;
    case LX_ACT_REVOKE_AGENT:
        return 32;
    case LX_ACT_SCHEDULE_CANCEL:
        return 8;
    default:
        return -1;
    }
}

static int name_ok(const uint8_t *n) {
    int ended = 0;
    for (int i = 0; i < LX_SIGN_NAME_LEN; i++) {
        if (n[i] == 0)
            ended = 1;
        else if (ended || n[i] < 0x20 || n[i] > 0x7e)
            return 0;
    }
    return 1;
}

/* Validates the body of a (decoded) action; shared by encode and decode. */
static int body_ok(const lx_action_t *a) {
    switch (a->type) {
    case LX_ACT_PLACE:
        return a->u.place.side <= 1 && a->u.place.tif <= 3 && a->u.place.price > 0 &&
               a->u.place.qty > 0;
    case LX_ACT_CANCEL:
        return 1;
    case LX_ACT_AMEND:
        return a->u.amend.price > 0 && a->u.amend.qty > 0;
    case LX_ACT_CANCEL_ALL:
        return 1;
    case LX_ACT_WITHDRAW:
        return a->u.withdraw.amount > 0;
    case LX_ACT_TRANSFER:
        return a->u.transfer.amount > 0;
    case LX_ACT_APPROVE_AGENT:
        return a->u.approve.expiry_ns > 0 && name_ok((const uint8_t *)a->u.approve.name);
    case LX_ACT_REVOKE_AGENT:
        return 1;
    case LX_ACT_SCHEDULE_CANCEL:
        return 1;
    default:
        return 0;
    }
}

int lx_sign_encode(const lx_action_t *a, uint8_t *buf) {
    if (!a || !buf) return LX_EINVAL;
    int bl = lx_sign_body_len(a->type);
    if (bl < 0 || !body_ok(a)) return LX_EINVAL;
    memset(buf, 0, (size_t)(LX_SIGN_HDR_LEN + bl));
    memcpy(buf, LX_SIGN_MAGIC, LX_SIGN_MAGIC_LEN);
    put32(buf + 16, a->chain_id);
    buf[20] = a->type;
    put16(buf + 22, (uint16_t)bl);
    memcpy(buf + 24, a->signer, LX_SIGN_PK_LEN);
    put32(buf + 56, a->account);
    put64(buf + 64, a->nonce);
    uint8_t *b = buf + LX_SIGN_HDR_LEN;
    switch (a->type) {
    case LX_ACT_PLACE:
        put32(b, a->u.place.market);
        b[4] = a->u.place.side;
        b[5] = a->u.place.tif;
        put64(b + 8, (uint64_t)a->u.place.price);
        put64(b + 16, (uint64_t)a->u.place.qty);
        put64(b + 24, a->u.place.client_id);
        break;
    case LX_ACT_CANCEL:
        put32(b, a->u.cancel.market);
        put64(b + 8, a->u.cancel.order_id);
        break;
    case LX_ACT_AMEND:
        put32(b, a->u.amend.market);
        put64(b + 8, a->u.amend.order_id);
        put64(b + 16, (uint64_t)a->u.amend.price);
        put64(b + 24, (uint64_t)a->u.amend.qty);
        break;
    case LX_ACT_CANCEL_ALL:
        put32(b, a->u.cancel_all.market);
        break;
    case LX_ACT_WITHDRAW:
        put32(b, a->u.withdraw.asset);
        put64(b + 8, (uint64_t)a->u.withdraw.amount);
        break;
    case LX_ACT_TRANSFER:
        put32(b, a->u.transfer.to);
        put32(b + 4, a->u.transfer.asset);
        put64(b + 8, (uint64_t)a->u.transfer.amount);
        break;
    case LX_ACT_APPROVE_AGENT:
        memcpy(b, a->u.approve.agent, LX_SIGN_PK_LEN);
        memcpy(b + 32, a->u.approve.name, LX_SIGN_NAME_LEN);
        put64(b + 48, a->u.approve.expiry_ns);
        break;
    case LX_ACT_REVOKE_AGENT:
        memcpy(b, a->u.revoke.agent, LX_SIGN_PK_LEN);
        break;
    case LX_ACT_SCHEDULE_CANCEL:
        put64(b, a->u.schedule_cancel.deadline_ns);
        break;
    default:
        return LX_EINVAL;
    }
    return LX_SIGN_HDR_LEN + bl;
}

int lx_sign_decode(const uint8_t *buf, size_t len, lx_action_t *out) {
    if (!buf || !out) return LX_EINVAL;
    if (len < LX_SIGN_HDR_LEN) return LX_ETRUNC;
    if (memcmp(buf, LX_SIGN_MAGIC, LX_SIGN_MAGIC_LEN) != 0) return LX_EVERSION;
    if (buf[21] != 0 || !zero(buf + 60, 4)) return LX_EINVAL;
    int bl = lx_sign_body_len(buf[20]);
    if (bl < 0) return LX_EINVAL;
    if (get16(buf + 22) != (uint16_t)bl) return LX_EINVAL;
    if (len != (size_t)(LX_SIGN_HDR_LEN + bl)) return LX_ETRUNC;
    lx_action_t a;
    memset(&a, 0, sizeof a);
    a.chain_id = get32(buf + 16);
    a.type = buf[20];
    memcpy(a.signer, buf + 24, LX_SIGN_PK_LEN);
    a.account = get32(buf + 56);
    a.nonce = get64(buf + 64);
    const uint8_t *b = buf + LX_SIGN_HDR_LEN;
    switch (a.type) {
    case LX_ACT_PLACE:
        if (!zero(b + 6, 2)) return LX_EINVAL;
        a.u.place.market = get32(b);
        a.u.place.side = b[4];
        a.u.place.tif = b[5];
        a.u.place.price = (int64_t)get64(b + 8);
        a.u.place.qty = (int64_t)get64(b + 16);
        a.u.place.client_id = get64(b + 24);
        break;
    case LX_ACT_CANCEL:
        if (!zero(b + 4, 4)) return LX_EINVAL;
        a.u.cancel.market = get32(b);
        a.u.cancel.order_id = get64(b + 8);
        break;
    case LX_ACT_AMEND:
        if (!zero(b + 4, 4)) return LX_EINVAL;
        a.u.amend.market = get32(b);
        a.u.amend.order_id = get64(b + 8);
        a.u.amend.price = (int64_t)get64(b + 16);
        a.u.amend.qty = (int64_t)get64(b + 24);
        break;
    case LX_ACT_CANCEL_ALL:
        if (!zero(b + 4, 4)) return LX_EINVAL;
        a.u.cancel_all.market = get32(b);
        break;
    case LX_ACT_WITHDRAW:
        if (!zero(b + 4, 4)) return LX_EINVAL;
        a.u.withdraw.asset = get32(b);
        a.u.withdraw.amount = (int64_t)get64(b + 8);
        break;
    case LX_ACT_TRANSFER:
        a.u.transfer.to = get32(b);
        a.u.transfer.asset = get32(b + 4);
        a.u.transfer.amount = (int64_t)get64(b + 8);
        break;
    case LX_ACT_APPROVE_AGENT:
        memcpy(a.u.approve.agent, b, LX_SIGN_PK_LEN);
        memcpy(a.u.approve.name, b + 32, LX_SIGN_NAME_LEN);
        a.u.approve.expiry_ns = get64(b + 48);
        break;
    case LX_ACT_REVOKE_AGENT:
        memcpy(a.u.revoke.agent, b, LX_SIGN_PK_LEN);
        break;
    case LX_ACT_SCHEDULE_CANCEL:
        a.u.schedule_cancel.deadline_ns = get64(b);
        break;
    default:
        return LX_EINVAL;
    }
    if (!body_ok(&a)) return LX_EINVAL;
    *out = a;
    return 0;
}

int lx_sign(const lx_action_t *a, const uint8_t sk[LX_SIGN_SK_LEN], uint8_t *out) {
    if (!a || !sk || !out) return LX_EINVAL;
    if (sodium_init() < 0) return LX_ESTATE;
    uint8_t pk[LX_SIGN_PK_LEN];
    if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0 || memcmp(pk, a->signer, LX_SIGN_PK_LEN) != 0)
        return LX_EINVAL;
    int n = lx_sign_encode(a, out);
    if (n < 0) return n;
    if (crypto_sign_detached(out + n, NULL, out, (unsigned long long)n, sk) != 0) return LX_EINVAL;
    return n + LX_SIGN_SIG_LEN;
}

int lx_verify(const uint8_t *env, size_t len, uint32_t chain_id, lx_action_t *out) {
    if (!env || !out) return LX_EINVAL;
    if (len < LX_SIGN_HDR_LEN + LX_SIGN_SIG_LEN) return LX_ETRUNC;
    size_t plen = len - LX_SIGN_SIG_LEN;
    lx_action_t a;
    int rc = lx_sign_decode(env, plen, &a);
    if (rc != 0) return rc;
    if (a.chain_id != chain_id) return LX_ERANGE;
    if (sodium_init() < 0) return LX_ESTATE;
    if (crypto_sign_verify_detached(env + plen, env, plen, a.signer) != 0) return LX_ECORRUPT;
    *out = a;
    return 0;
}

/* ---- nonce tracker ---- */
struct lx_nonce_tracker {
    size_t cap, used; /* cap is a power of two */
    struct slot {
        uint8_t key[LX_SIGN_PK_LEN];
        uint64_t last; /* 0 = empty slot (nonces are >= 1) */
    } * slots;
};

lx_nonce_tracker_t *lx_nonce_tracker_new(size_t capacity) {
    size_t cap = 16;
    while (cap < capacity * 2) {
        if (cap > SIZE_MAX / 4) return NULL;
        cap *= 2;
    }
    lx_nonce_tracker_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    t->cap = cap;
    return t;
}

void lx_nonce_tracker_free(lx_nonce_tracker_t *t) {
    if (!t) return;
    free(t->slots);
    free(t);
}

int lx_nonce_check_and_set(lx_nonce_tracker_t *t, const uint8_t key[LX_SIGN_PK_LEN],
                           uint64_t nonce) {
    if (!t || !key) return LX_EINVAL;
    if (nonce == 0) return LX_EEXIST; /* never greater than the implicit 0 */
    /* Public keys are uniformly distributed enough; FNV-1a over all bytes. */
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < LX_SIGN_PK_LEN; i++) h = (h ^ key[i]) * 1099511628211ull;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask, n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        struct slot *s = &t->slots[i];
        if (s->last == 0) {
            if (t->used * 2 >= t->cap) return LX_EFULL;
            memcpy(s->key, key, LX_SIGN_PK_LEN);
            s->last = nonce;
            t->used++;
            return 0;
        }
        if (memcmp(s->key, key, LX_SIGN_PK_LEN) == 0) {
            if (nonce <= s->last) return LX_EEXIST;
            s->last = nonce;
            return 0;
        }
    }
    return LX_EFULL;
}
