/*
 * test_sign.c: signed actions (src/gw/sign.c; format in docs/signing.md).
 *
 *   - every command type round-trips through payload and envelope, and the
 *     payload is the 64-byte header followed by exactly the codec's bytes;
 *   - seq and ts are not signed: a journaled command (seq, ts set) verifies
 *     with lx_verify_detached;
 *   - golden header bytes;
 *   - rejections: another chain (LX_ERANGE), the wrong key, a signature by
 *     another key, any single byte flipped anywhere in the envelope, a
 *     truncated or extended envelope, nonce 0, a bad domain tag;
 *   - the account each command acts for; the logon payload layout;
 *   - signed reads: the payload layout, the header written and parsed back,
 *     and lx_gw_auth_read's answers (no header, a malformed one, ts outside
 *     the window either way, another path, chain, key or ts, a forged
 *     signature);
 *   - the gateway's key table (lx_gw_keys_t): owners and agents as the
 *     events make them, a revoked agent forgotten (and only by its own
 *     account's revocation), every other key still found after deletions
 *     in the middle of probe runs, keys that share their first 8 bytes.
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

#include "lx/codec.h"
#include "lx/engine.h"
#include "lx/error.h"
#include "lx/event.h"
#include "lx/gw_auth.h"
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

/* One valid command of each type a user or the bridge signs. */
static lx_cmd_t sample(int i) {
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    switch (i) {
    case 0:
        c.type = LX_CMD_PLACE;
        c.u.place = (lx_cmd_place_t){.account = 4,
                                     .market = 3,
                                     .side = LX_SIDE_SELL,
                                     .type = LX_ORDER_LIMIT,
                                     .tif = LX_TIF_GTD,
                                     .stp = 2,
                                     .price = 12345,
                                     .qty = 6,
                                     .client_id = 99,
                                     .expiry = 5555};
        break;
    case 1:
        c.type = LX_CMD_CANCEL;
        c.u.cancel = (lx_cmd_cancel_t){.account = 4, .market = 3, .order_id = 1234};
        break;
    case 2:
        c.type = LX_CMD_AMEND;
        c.u.amend = (lx_cmd_amend_t){
            .account = 4, .market = 3, .by_client_id = 1, .client_id = 77, .price = 5, .qty = 6};
        break;
    case 3:
        c.type = LX_CMD_CANCEL_ALL;
        c.u.cancel_all = (lx_cmd_cancel_all_t){.account = 4, .market = LX_MARKET_ALL};
        break;
    case 4:
        c.type = LX_CMD_WITHDRAW;
        c.u.withdraw = (lx_cmd_withdraw_t){.account = 4, .asset = 2, .amount = 500};
        break;
    case 5:
        c.type = LX_CMD_TRANSFER;
        c.u.transfer = (lx_cmd_transfer_t){.from = 4, .to = 9, .asset = 1, .amount = 42};
        break;
    default:
        c.type = LX_CMD_DEPOSIT;
        c.u.deposit = (lx_cmd_deposit_t){.account = 4, .asset = 1, .amount = 10, .deposit_id = 8};
        break;
    }
    return c;
}
#define NSAMPLES 7

static lx_action_t action(int i, const uint8_t *pk, uint64_t nonce) {
    lx_action_t a;
    memset(&a, 0, sizeof a);
    a.chain_id = CHAIN;
    memcpy(a.signer, pk, 32);
    a.nonce = nonce;
    a.cmd = sample(i);
    return a;
}

static void test_round_trip_every_type(void **st) {
    (void)st;
    for (int i = 0; i < NSAMPLES; i++) {
        lx_action_t a = action(i, pk1, 10 + (uint64_t)i), b;
        uint8_t p[LX_SIGN_MAX_PAYLOAD], cb[LX_CMD_ENCODED_MAX], env[LX_SIGN_MAX_ENVELOPE];
        int n = lx_sign_payload(&a, p, sizeof p);
        assert_true(n > LX_SIGN_HDR_LEN);
        int cn = lx_cmd_encode(&a.cmd, cb, sizeof cb);
        assert_int_equal(n, LX_SIGN_HDR_LEN + cn);
        assert_memory_equal(p + LX_SIGN_HDR_LEN, cb, (size_t)cn);
        assert_int_equal(lx_sign_decode(p, (size_t)n, &b), 0);
        assert_int_equal(b.nonce, a.nonce);
        assert_int_equal(b.cmd.type, a.cmd.type);
        uint8_t again[LX_SIGN_MAX_PAYLOAD];
        assert_int_equal(lx_sign_payload(&b, again, sizeof again), n);
        assert_memory_equal(again, p, (size_t)n);
        int e = lx_sign(&a, sk1, env, sizeof env);
        assert_int_equal(e, n + LX_SIGN_SIG_LEN);
        assert_int_equal(lx_verify(env, (size_t)e, CHAIN, &b), 0);
        assert_memory_equal(b.signer, pk1, 32);
        /* journaled: seq and ts set by the sequencer, the signature still holds */
        b.cmd.seq = 1000 + (uint64_t)i;
        b.cmd.ts = 1700000000000000000ll;
        assert_int_equal(lx_verify_detached(&b, env + n), 0);
        b.cmd.u.place.account ^= 1; /* a different command: no */
        assert_int_equal(lx_verify_detached(&b, env + n), LX_ECORRUPT);
        /* a payload that carries seq or ts is not canonical */
        lx_cmd_t c = a.cmd;
        c.seq = 5;
        assert_int_equal(lx_cmd_encode(&c, p + LX_SIGN_HDR_LEN, sizeof p - LX_SIGN_HDR_LEN), cn);
        assert_int_equal(lx_sign_decode(p, (size_t)n, &b), LX_EINVAL);
    }
}

static void test_golden_header(void **st) {
    (void)st;
    lx_action_t a = action(1, pk1, 10);
    uint8_t p[LX_SIGN_MAX_PAYLOAD];
    int n = lx_sign_payload(&a, p, sizeof p);
    assert_true(n > 0);
    static const uint8_t head[24] = {'L', 'X', 'D', 'E', 'X', '-', 'A', 'C', 'T', 'I', 'O', 'N',
                                     '-', 'V', '1', 0,   7,   0,   0,   0,   0,   0,   0,   0};
    assert_memory_equal(p, head, sizeof head);
    assert_memory_equal(p + 24, pk1, 32);
    static const uint8_t nonce[8] = {10, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(p + 56, nonce, 8);
}

static void test_rejections(void **st) {
    (void)st;
    lx_action_t a = action(0, pk1, 10), b;
    uint8_t env[LX_SIGN_MAX_ENVELOPE];
    int e = lx_sign(&a, sk1, env, sizeof env);
    assert_true(e > 0);
    size_t len = (size_t)e;
    assert_int_equal(lx_verify(env, len, CHAIN + 1, &b), LX_ERANGE);
    /* every single bit flip anywhere is caught (by the decoder or the signature) */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            env[i] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(lx_verify(env, len, CHAIN, &b), 0);
            env[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(lx_verify(env, len, CHAIN, &b), 0);
    assert_int_equal(lx_verify(env, len - 1, CHAIN, &b), LX_ETRUNC);
    assert_int_equal(lx_verify(env, 10, CHAIN, &b), LX_ETRUNC);
    uint8_t longer[LX_SIGN_MAX_ENVELOPE + 1];
    memcpy(longer, env, len - 64);
    longer[len - 64] = 0;
    memcpy(longer + len - 63, env + len - 64, 64);
    assert_int_equal(lx_verify(longer, len + 1, CHAIN, &b), LX_ETRUNC);
    /* signed by another key than the one it names */
    lx_action_t forged = a;
    memcpy(forged.signer, pk2, 32);
    uint8_t p[LX_SIGN_MAX_PAYLOAD];
    int n = lx_sign_payload(&forged, p, sizeof p);
    uint8_t fenv[LX_SIGN_MAX_ENVELOPE];
    memcpy(fenv, p, (size_t)n);
    crypto_sign_detached(fenv + n, NULL, p, (unsigned long long)n, sk1);
    assert_int_equal(lx_verify(fenv, (size_t)n + 64, CHAIN, &b), LX_ECORRUPT);
    /* lx_sign refuses a key that is not the signer's */
    assert_int_equal(lx_sign(&forged, sk1, fenv, sizeof fenv), LX_EINVAL);
    /* nonce 0, a bad domain, a command the codec refuses */
    a.nonce = 0;
    assert_int_equal(lx_sign_payload(&a, p, sizeof p), LX_EINVAL);
    a.nonce = 1;
    n = lx_sign_payload(&a, p, sizeof p);
    p[3] ^= 0x20;
    assert_int_equal(lx_sign_decode(p, (size_t)n, &b), LX_EVERSION);
    p[3] ^= 0x20;
    p[LX_SIGN_HDR_LEN] = LX_CODEC_VERSION - 1; /* an older codec version: not signable */
    assert_int_equal(lx_sign_decode(p, (size_t)n, &b), LX_EVERSION);
    a.cmd.u.place.side = 7;
    assert_int_equal(lx_sign_payload(&a, p, sizeof p), LX_EINVAL);
    assert_int_equal(lx_sign_payload(&a, p, 20), LX_ERANGE);
}

static void test_accounts_and_logon(void **st) {
    (void)st;
    for (int i = 0; i < NSAMPLES; i++) {
        lx_cmd_t c = sample(i);
        assert_int_equal(lx_sign_account(&c), 4);
    }
    lx_cmd_t tick;
    memset(&tick, 0, sizeof tick);
    tick.type = LX_CMD_TICK;
    assert_int_equal(lx_sign_account(&tick), LX_ACCOUNT_NONE);
    uint8_t ch[32], out[LX_SIGN_LOGON_LEN];
    memset(ch, 0xab, sizeof ch);
    lx_sign_logon_payload(CHAIN, 4, ch, pk1, out);
    assert_memory_equal(out, "LXDEX-LOGON-V1\0\0", 16);
    assert_int_equal(lx_get_u32(out + 16), CHAIN);
    assert_int_equal(lx_get_u32(out + 20), 4);
    assert_memory_equal(out + 24, ch, 32);
    assert_memory_equal(out + 56, pk1, 32);
}

static void test_signed_read(void **st) {
    (void)st;
    const char *path = "/v1/accounts/5/orders";
    const int64_t ts = INT64_C(1780000000123456789);
    uint8_t p[LX_SIGN_READ_HDR_LEN + LX_SIGN_READ_PATH_MAX];
    int n = lx_sign_read_payload(CHAIN, pk1, ts, path, p, sizeof p);
    assert_int_equal(n, 64 + (int)strlen(path));
    assert_memory_equal(p, "LXDEX-READ-V1\0\0\0", 16);
    assert_int_equal(lx_get_u32(p + 16), CHAIN);
    assert_int_equal(lx_get_u32(p + 20), 0);
    assert_memory_equal(p + 24, pk1, 32);
    assert_int_equal((int64_t)lx_get_u64(p + 56), ts);
    assert_memory_equal(p + 64, path, strlen(path));
    assert_int_equal(lx_sign_read_payload(CHAIN, pk1, ts, "v1/x", p, sizeof p), LX_EINVAL);
    assert_int_equal(lx_sign_read_payload(CHAIN, pk1, ts, "", p, sizeof p), LX_EINVAL);
    assert_int_equal(lx_sign_read_payload(CHAIN, pk1, ts, path, p, 70), LX_ERANGE);

    char h[LX_SIGN_READ_HEADER_MAX], h2[LX_SIGN_READ_HEADER_MAX];
    assert_true(lx_sign_read_header(CHAIN, sk1, ts, path, h, sizeof h) > 0);
    assert_int_equal(lx_sign_read_header(CHAIN, sk1, ts, path, h, 100), LX_ERANGE);
    assert_int_equal(strncmp(h, "LX-Ed25519 key=", 15), 0);
    uint8_t k[32], sig[64];
    int64_t t = 0;
    assert_int_equal(lx_sign_read_parse(h, k, &t, sig), 0);
    assert_memory_equal(k, pk1, 32);
    assert_int_equal(t, ts);
    assert_int_equal(crypto_sign_verify_detached(sig, p, (unsigned long long)n, pk1), 0);

    /* what the gateway answers */
    const char *why = NULL;
    assert_int_equal(lx_gw_auth_read(CHAIN, h, path, ts, k, &why), 0);
    assert_memory_equal(k, pk1, 32);
    assert_int_equal(lx_gw_auth_read(CHAIN, h, path, ts + LX_GW_READ_WINDOW_NS, k, &why), 0);
    assert_int_equal(lx_gw_auth_read(CHAIN, h, path, ts - LX_GW_READ_WINDOW_NS, k, &why), 0);
    assert_int_equal(lx_gw_auth_read(CHAIN, h, path, ts + LX_GW_READ_WINDOW_NS + 1, k, &why),
                     LX_ERANGE);
    assert_int_equal(lx_gw_auth_read(CHAIN, h, path, ts - LX_GW_READ_WINDOW_NS - 1, k, &why),
                     LX_ERANGE);
    assert_int_equal(lx_gw_auth_read(CHAIN, NULL, path, ts, k, &why), LX_ENOENT);
    assert_int_equal(lx_gw_auth_read(CHAIN, "", path, ts, k, &why), LX_ENOENT);
    assert_int_equal(lx_gw_auth_read(CHAIN, h, "/v1/accounts/5/balances", ts, k, &why),
                     LX_ECORRUPT);
    assert_int_equal(lx_gw_auth_read(CHAIN + 1, h, path, ts, k, &why), LX_ECORRUPT);
    /* the key swapped for another (the signature is pk1's) */
    char kh[65];
    sodium_bin2hex(kh, sizeof kh, pk2, 32);
    memcpy(h2, h, sizeof h);
    memcpy(h2 + 15, kh, 64);
    assert_int_equal(lx_gw_auth_read(CHAIN, h2, path, ts, k, &why), LX_ECORRUPT);
    /* another ts, inside the window, under the same signature */
    assert_int_equal(lx_sign_read_header(CHAIN, sk1, ts + 1, path, h2, sizeof h2) > 0, 1);
    char *sp = strstr(h2, "sig="), *hp = strstr(h, "sig=");
    memcpy(sp, hp, 4 + 128);
    assert_int_equal(lx_gw_auth_read(CHAIN, h2, path, ts, k, &why), LX_ECORRUPT);
    /* one bit of the signature */
    memcpy(h2, h, sizeof h);
    sp = strstr(h2, "sig=") + 4;
    *sp = *sp == '0' ? '1' : '0';
    assert_int_equal(lx_gw_auth_read(CHAIN, h2, path, ts, k, &why), LX_ECORRUPT);

    /* the parser: the scheme in any case, hex in either case, parameters in
     * any order; nothing missing, repeated, unknown or extra */
    char sh[129];
    memcpy(sh, strstr(h, "sig=") + 4, 128);
    sh[128] = 0;
    char kh1[65];
    sodium_bin2hex(kh1, sizeof kh1, pk1, 32);
    char v[600];
    snprintf(v, sizeof v, "  lx-ed25519 sig=%s,ts=%lld ,  key=%s  ", sh, (long long)ts, kh1);
    for (char *q = strstr(v, "key=") + 4; *q && *q != ' '; q++)
        if (*q >= 'a' && *q <= 'f') *q = (char)(*q - 'a' + 'A');
    assert_int_equal(lx_gw_auth_read(CHAIN, v, path, ts, k, &why), 0);
    const char *bad[] = {
        "LX-Ed25519",
        "Bearer abc",
        "LX-Ed25519key=%s, ts=%lld, sig=%s",
        "LX-Ed25519 key=%s, ts=%lld",
        "LX-Ed25519 key=%s, ts=%lld, sig=%s, sig=%s",
        "LX-Ed25519 key=%s, ts=%lld, sig=%s, x=1",
        "LX-Ed25519 key=%s, ts=%lld, sig=%s,",
        "LX-Ed25519 key=%s, ts=%lld; sig=%s",
        "LX-Ed25519 key=%s, ts=-%lld, sig=%s",
        "LX-Ed25519 key=%s, ts=%lld9, sig=%s",
        "LX-Ed25519 key=%.62s, ts=%lld, sig=%s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(v, sizeof v, bad[i], kh1, (long long)ts, sh, sh);
        assert_int_equal(lx_gw_auth_read(CHAIN, v, path, ts, k, &why), LX_EINVAL);
        assert_int_equal(lx_sign_read_parse(v, k, &t, sig), LX_EINVAL);
    }
    /* ts: 19 digits that pass INT64_MAX */
    snprintf(v, sizeof v, "LX-Ed25519 key=%s, ts=9223372036854775808, sig=%s", kh1, sh);
    assert_int_equal(lx_sign_read_parse(v, k, &t, sig), LX_EINVAL);
    snprintf(v, sizeof v, "LX-Ed25519 key=%s, ts=9223372036854775807, sig=%s", kh1, sh);
    assert_int_equal(lx_sign_read_parse(v, k, &t, sig), 0);
    assert_int_equal(t, INT64_MAX);
}

/* A funds command signs its shard (bytes 20..23): the same envelope cannot
 * be applied in another shard; any other command signs 0 there. */
static void test_signed_shard(void **st) {
    (void)st;
    lx_action_t a;
    memset(&a, 0, sizeof a);
    a.chain_id = CHAIN;
    a.nonce = 3;
    memcpy(a.signer, pk1, 32);
    a.cmd.type = LX_CMD_DEPOSIT;
    a.cmd.u.deposit = (lx_cmd_deposit_t){.account = 4, .asset = 1, .amount = 5, .deposit_id = 9};
    a.shard = 5;
    uint8_t env[LX_SIGN_MAX_ENVELOPE], p[LX_SIGN_MAX_PAYLOAD];
    int e = lx_sign(&a, sk1, env, sizeof env);
    assert_true(e > 0);
    assert_int_equal(lx_get_u32(env + 20), 5);
    lx_action_t b;
    assert_int_equal(lx_verify(env, (size_t)e, CHAIN, &b), 0);
    assert_int_equal(b.shard, 5);
    assert_int_equal(lx_verify_detached(&b, env + e - 64), 0);
    b.shard = 0; /* journaled in another shard: the signature is not its */
    assert_int_equal(lx_verify_detached(&b, env + e - 64), LX_ECORRUPT);
    /* the shard byte changed in the envelope: the signature fails */
    env[20] = 4;
    assert_int_equal(lx_verify(env, (size_t)e, CHAIN, &b), LX_ECORRUPT);
    /* withdraw and transfer likewise; not an order */
    assert_true(lx_sign_funds(&a.cmd));
    a.cmd.type = LX_CMD_WITHDRAW;
    assert_true(lx_sign_funds(&a.cmd));
    a.cmd.type = LX_CMD_TRANSFER;
    assert_true(lx_sign_funds(&a.cmd));
    lx_action_t o = action(0, pk1, 10);
    assert_false(lx_sign_funds(&o.cmd));
    o.shard = 1;
    assert_int_equal(lx_sign_payload(&o, p, sizeof p), LX_EINVAL);
    o.shard = 0;
    int n = lx_sign_payload(&o, p, sizeof p);
    assert_true(n > 0);
    lx_put_u32(p + 20, 1);
    assert_int_equal(lx_sign_decode(p, (size_t)n, &b), LX_EINVAL);
}

static void key_event(lx_gw_keys_t *k, lx_event_type_t type, uint32_t account,
                      const uint8_t key[32]) {
    lx_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.u.key.account = account;
    memcpy(ev.u.key.key, key, 32);
    ev.u.key.expiry = INT64_MAX;
    assert_int_equal(lx_gw_keys_apply(k, &ev), 0);
}

/* Keys i of a set whose first 8 bytes are all alike (an owner may approve
 * any bytes as an agent key): they must not share one probe run. */
static void crafted_key(uint8_t key[32], uint32_t i) {
    memset(key, 0x5a, 32);
    memcpy(key + 8, &i, sizeof i);
}

/* ms to add n keys to a fresh table, crafted or random */
static double gw_keys_fill_ms(uint32_t n, bool crafted) {
    lx_gw_keys_t *k = lx_gw_keys_create();
    assert_non_null(k);
    uint8_t key[32];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t i = 0; i < n; i++) {
        if (crafted)
            crafted_key(key, i);
        else
            randombytes_buf(key, sizeof key);
        key_event(k, LX_EV_AGENT_APPROVED, 2, key);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    lx_gw_keys_destroy(k);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static void test_gw_keys(void **st) {
    (void)st;
    lx_gw_keys_t *k = lx_gw_keys_create();
    assert_non_null(k);
    const char *why = NULL;
    const uint32_t n = 20000;
    uint8_t key[32];
    key_event(k, LX_EV_KEY_BOUND, 1, pk1);
    double rnd = gw_keys_fill_ms(n, false), ms = gw_keys_fill_ms(n, true);
    print_message("gateway key table, %u keys: random %.1f ms, sharing their first 8 bytes "
                  "%.1f ms\n",
                  n, rnd, ms);
    /* one probe run for all (the first 8 bytes hashed): 750 ms against 3 */
    assert_true(ms < 10 * rnd + 20);
    for (uint32_t i = 0; i < n; i++) {
        crafted_key(key, i);
        key_event(k, LX_EV_AGENT_APPROVED, 2 + i % 5, key);
    }
    assert_int_equal(lx_gw_keys_check(k, 1, pk1, 0, &why), LX_KEY_OWNER);
    /* revoke every third: by another account first (ignored), then its own */
    for (uint32_t i = 0; i < n; i += 3) {
        crafted_key(key, i);
        key_event(k, LX_EV_AGENT_REVOKED, 1, key);
        assert_true(lx_gw_keys_known(k, key));
        key_event(k, LX_EV_AGENT_REVOKED, 2 + i % 5, key);
        assert_false(lx_gw_keys_known(k, key));
    }
    for (uint32_t i = 0; i < n; i++) {
        crafted_key(key, i);
        int role = lx_gw_keys_check(k, 2 + i % 5, key, 0, &why);
        if (i % 3 == 0) {
            assert_int_equal(role, LX_ENOENT);
            assert_non_null(strstr(why, "has not revoked"));
        } else {
            assert_int_equal(role, LX_KEY_AGENT);
        }
    }
    assert_int_equal(lx_gw_keys_check(k, 1, pk1, 0, &why), LX_KEY_OWNER);
    assert_true(lx_gw_keys_has_owner(k, 1));
    assert_false(lx_gw_keys_has_owner(k, 2));
    /* a revoked key approved again, by another account */
    crafted_key(key, 0);
    key_event(k, LX_EV_AGENT_APPROVED, 9, key);
    assert_int_equal(lx_gw_keys_check(k, 9, key, 0, &why), LX_KEY_AGENT);
    assert_int_equal(lx_gw_keys_check(k, 2, key, 0, &why), LX_ENOENT);
    lx_gw_keys_destroy(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_golden_header),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_accounts_and_logon),
        cmocka_unit_test(test_signed_read),
        cmocka_unit_test(test_signed_shard),
        cmocka_unit_test(test_gw_keys),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
