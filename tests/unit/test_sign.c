/*
 * test_sign.c: signed action envelopes, nonce tracker and agent registry
 * (src/gw/sign.c, src/gw/agents.c; format in docs/signing.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "lx/error.h"
#include "lx/sign.h"

#define CHAIN 7u

static uint8_t pk1[32], sk1[64], pk2[32], sk2[64];

static int setup(void **st) {
    (void)st;
    if (sodium_init() < 0) return -1;
    uint8_t seed[32];
    memset(seed, 1, 32);
    crypto_sign_seed_keypair(pk1, sk1, seed);
    memset(seed, 2, 32);
    crypto_sign_seed_keypair(pk2, sk2, seed);
    return 0;
}

static lx_action_t make(int type, const uint8_t *pk, uint32_t account, uint64_t nonce) {
    lx_action_t a;
    memset(&a, 0, sizeof a);
    a.chain_id = CHAIN;
    a.type = (uint8_t)type;
    memcpy(a.signer, pk, 32);
    a.account = account;
    a.nonce = nonce;
    switch (type) {
    case LX_ACT_PLACE:
        a.u.place = (lx_act_place_t){
            .market = 3, .side = 1, .tif = 2, .price = 1000, .qty = 5, .client_id = 99};
        break;
    case LX_ACT_CANCEL:
        a.u.cancel = (lx_act_cancel_t){.market = 3, .order_id = 1234};
        break;
    case LX_ACT_AMEND:
        a.u.amend = (lx_act_amend_t){.market = 3, .order_id = 77, .price = 5, .qty = 6};
        break;
    case LX_ACT_CANCEL_ALL:
        a.u.cancel_all.market = LX_SIGN_ALL_MARKETS;
        break;
    case LX_ACT_WITHDRAW:
        a.u.withdraw = (lx_act_withdraw_t){.asset = 2, .amount = 500};
        break;
    case LX_ACT_TRANSFER:
        a.u.transfer = (lx_act_transfer_t){.to = 9, .asset = 1, .amount = 42};
        break;
    case LX_ACT_APPROVE_AGENT:
        memcpy(a.u.approve.agent, pk2, 32);
        memcpy(a.u.approve.name, "bot-1", 5);
        a.u.approve.expiry_ns = 1000000;
        break;
    case LX_ACT_REVOKE_AGENT:
        memcpy(a.u.revoke.agent, pk2, 32);
        break;
    case LX_ACT_SCHEDULE_CANCEL:
        a.u.schedule_cancel.deadline_ns = 123456789;
        break;
    }
    return a;
}

static void test_round_trip_every_type(void **st) {
    (void)st;
    for (int t = 1; t <= LX_ACT__MAX; t++) {
        lx_action_t a = make(t, pk1, 4, 10), b;
        uint8_t buf[LX_SIGN_MAX_PAYLOAD], buf2[LX_SIGN_MAX_PAYLOAD];
        int n = lx_sign_encode(&a, buf);
        assert_int_equal(n, LX_SIGN_HDR_LEN + lx_sign_body_len(t));
        assert_int_equal(lx_sign_decode(buf, (size_t)n, &b), 0);
        assert_int_equal(lx_sign_encode(&b, buf2), n);
        assert_memory_equal(buf, buf2, (size_t)n);
        assert_memory_equal(&a, &b, sizeof a); /* both zero-initialised */
        /* wrong lengths */
        assert_int_equal(lx_sign_decode(buf, (size_t)n - 1, &b), LX_ETRUNC);
        assert_int_equal(lx_sign_decode(buf, (size_t)n + 1, &b), LX_ETRUNC);
    }
    lx_action_t a = make(LX_ACT_PLACE, pk1, 4, 10);
    a.type = 0;
    uint8_t buf[LX_SIGN_MAX_PAYLOAD];
    assert_int_equal(lx_sign_encode(&a, buf), LX_EINVAL);
    a = make(LX_ACT_PLACE, pk1, 4, 10);
    a.u.place.side = 2;
    assert_int_equal(lx_sign_encode(&a, buf), LX_EINVAL);
    a = make(LX_ACT_PLACE, pk1, 4, 10);
    int n = lx_sign_encode(&a, buf);
    lx_action_t b;
    buf[0] ^= 1;
    assert_int_equal(lx_sign_decode(buf, (size_t)n, &b), LX_EVERSION);
    buf[0] ^= 1;
    buf[21] = 1; /* reserved */
    assert_int_equal(lx_sign_decode(buf, (size_t)n, &b), LX_EINVAL);
    buf[21] = 0;
    buf[LX_SIGN_HDR_LEN + 6] = 1; /* place reserved */
    assert_int_equal(lx_sign_decode(buf, (size_t)n, &b), LX_EINVAL);
    buf[LX_SIGN_HDR_LEN + 6] = 0;
    buf[20] = 10; /* type out of range */
    assert_int_equal(lx_sign_decode(buf, (size_t)n, &b), LX_EINVAL);
}

static void test_golden_bytes(void **st) {
    (void)st;
    /* A cancel, built by hand from docs/signing.md. */
    uint8_t want[88];
    memset(want, 0, sizeof want);
    memcpy(want, "LXDEX-ACTION-V1", 15); /* [15] = 0 */
    want[16] = 0x07;                     /* chain id 7 */
    want[20] = 0x02;                     /* LX_ACT_CANCEL */
    want[22] = 16;                       /* body length */
    memcpy(want + 24, pk1, 32);
    want[56] = 0x04;                  /* account 4 */
    want[64] = 0x0a;                  /* nonce 10 */
    want[72] = 0x03;                  /* market 3 */
    want[80] = 0xd2, want[81] = 0x04; /* order id 1234 */
    lx_action_t a = make(LX_ACT_CANCEL, pk1, 4, 10);
    uint8_t buf[LX_SIGN_MAX_PAYLOAD];
    assert_int_equal(lx_sign_encode(&a, buf), 88);
    assert_memory_equal(buf, want, 88);
}

static void test_verify_and_rejections(void **st) {
    (void)st;
    for (int t = 1; t <= LX_ACT__MAX; t++) {
        lx_action_t a = make(t, pk1, 4, 10), b;
        uint8_t env[LX_SIGN_MAX_ENVELOPE];
        int n = lx_sign(&a, sk1, env);
        assert_true(n > 0);
        assert_int_equal(lx_verify(env, (size_t)n, CHAIN, &b), 0);
        assert_memory_equal(&a, &b, sizeof a);
        assert_int_equal(lx_verify(env, (size_t)n, CHAIN + 1, &b), LX_ERANGE);
        /* every byte flipped: rejected */
        for (int i = 0; i < n; i++) {
            env[i] ^= 0x01;
            assert_int_not_equal(lx_verify(env, (size_t)n, CHAIN, &b), 0);
            env[i] ^= 0x01;
        }
        assert_int_equal(lx_verify(env, (size_t)n - 1, CHAIN, &b), LX_ETRUNC);
    }
    lx_action_t a = make(LX_ACT_PLACE, pk1, 4, 10), b;
    uint8_t env[LX_SIGN_MAX_ENVELOPE];
    /* signer key does not match the secret key */
    assert_int_equal(lx_sign(&a, sk2, env), LX_EINVAL);
    int n = lx_sign(&a, sk1, env);
    /* forged signature */
    memset(env + n - 64, 0x5a, 64);
    assert_int_equal(lx_verify(env, (size_t)n, CHAIN, &b), LX_ECORRUPT);
    /* wrong key: signed by key 2, claims key 1 */
    lx_action_t c = make(LX_ACT_PLACE, pk2, 4, 10);
    uint8_t env2[LX_SIGN_MAX_ENVELOPE];
    n = lx_sign(&c, sk2, env2);
    memcpy(env2 + 24, pk1, 32);
    assert_int_equal(lx_verify(env2, (size_t)n, CHAIN, &b), LX_ECORRUPT);
    /* tampered payload byte in the body (price) */
    n = lx_sign(&a, sk1, env);
    env[LX_SIGN_HDR_LEN + 8] ^= 0x02;
    assert_int_equal(lx_verify(env, (size_t)n, CHAIN, &b), LX_ECORRUPT);
}

static void test_nonces(void **st) {
    (void)st;
    lx_nonce_tracker_t *t = lx_nonce_tracker_new(4);
    assert_non_null(t);
    assert_int_equal(lx_nonce_check_and_set(t, pk1, 0), LX_EEXIST);
    assert_int_equal(lx_nonce_check_and_set(t, pk1, 5), 0);
    assert_int_equal(lx_nonce_check_and_set(t, pk1, 5), LX_EEXIST); /* replay */
    assert_int_equal(lx_nonce_check_and_set(t, pk1, 4), LX_EEXIST); /* decreasing */
    assert_int_equal(lx_nonce_check_and_set(t, pk1, 6), 0);
    assert_int_equal(lx_nonce_check_and_set(t, pk2, 1), 0); /* independent */
    assert_int_equal(lx_nonce_check_and_set(t, pk2, 1), LX_EEXIST);
    assert_int_equal(lx_nonce_check_and_set(t, pk1, 100), 0);
    assert_int_equal(lx_nonce_check_and_set(t, pk2, 2), 0);
    /* fill: capacity is bounded */
    int full = 0;
    for (int i = 0; i < 100 && !full; i++) {
        uint8_t k[32] = {0};
        k[0] = (uint8_t)i;
        k[1] = 0xee;
        int rc = lx_nonce_check_and_set(t, k, 1);
        if (rc == LX_EFULL)
            full = 1;
        else
            assert_int_equal(rc, 0);
    }
    assert_true(full);
    assert_int_equal(lx_nonce_check_and_set(t, pk1, 101), 0); /* known keys still work */
    lx_nonce_tracker_free(t);
}

static void test_agents(void **st) {
    (void)st;
    lx_agents_t *r = lx_agents_new(16, 4);
    assert_non_null(r);
    assert_int_equal(lx_agents_set_owner(r, 1, pk1), 0);
    /* owner: everything for account 1, nothing for account 2 */
    for (int t = 1; t <= LX_ACT__MAX; t++) {
        assert_int_equal(lx_agents_may(r, pk1, 1, t, 0), 0);
        assert_int_equal(lx_agents_may(r, pk1, 2, t, 0), LX_ENOENT);
        assert_int_equal(lx_agents_may(r, pk2, 1, t, 0), LX_ENOENT);
    }
    char name[16] = "bot-1";
    assert_int_equal(lx_agents_approve(r, 1, pk2, name, 1000), 0);
    for (int t = 1; t <= LX_ACT__MAX; t++) {
        int ok = lx_agent_action_allowed(t);
        assert_int_equal(lx_agents_may(r, pk2, 1, t, 999), ok ? 0 : LX_ESTATE);
        assert_int_equal(lx_agents_may(r, pk2, 1, t, 1000), LX_ESTATE); /* expired */
        assert_int_equal(lx_agents_may(r, pk2, 2, t, 0), LX_ENOENT);    /* other account */
    }
    assert_int_equal(lx_agents_may(r, pk2, 1, LX_ACT_PLACE, 0), 0);
    assert_int_equal(lx_agents_may(r, pk2, 1, LX_ACT_WITHDRAW, 0), LX_ESTATE);
    assert_int_equal(lx_agents_may(r, pk2, 1, LX_ACT_TRANSFER, 0), LX_ESTATE);
    assert_int_equal(lx_agents_may(r, pk2, 1, LX_ACT_APPROVE_AGENT, 0), LX_ESTATE);
    assert_int_equal(lx_agents_may(r, pk2, 1, LX_ACT_REVOKE_AGENT, 0), LX_ESTATE);
    assert_int_equal(lx_agents_revoke(r, 1, pk2), 0);
    assert_int_equal(lx_agents_may(r, pk2, 1, LX_ACT_PLACE, 0), LX_ENOENT);
    assert_int_equal(lx_agents_revoke(r, 1, pk2), LX_ENOENT);
    assert_int_equal(lx_agents_may(r, pk1, 1, 0, 0), LX_EINVAL);
    lx_agents_free(r);
}

static void test_verify_rate(void **st) {
    (void)st;
    lx_action_t a = make(LX_ACT_PLACE, pk1, 4, 10);
    uint8_t env[LX_SIGN_MAX_ENVELOPE];
    int n = lx_sign(&a, sk1, env);
    size_t plen = (size_t)n - 64;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long count = 0;
    double el = 0;
    do {
        for (int i = 0; i < 64; i++)
            assert_int_equal(crypto_sign_verify_detached(env + plen, env, plen, pk1), 0);
        count += 64;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    } while (el < 0.5);
    printf("ed25519 verify: %ld in %.3f s = %.0f verifications/s on one core\n", count, el,
           (double)count / el);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_verify_and_rejections),
        cmocka_unit_test(test_nonces),
        cmocka_unit_test(test_agents),
        cmocka_unit_test(test_verify_rate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
