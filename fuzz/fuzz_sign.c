/*
 * fuzz_sign.c: the signed-action parser (src/gw/sign.c) on arbitrary bytes.
 *
 * lx_sign_decode never crashes, and a payload it accepts re-encodes to
 * exactly the same bytes (one canonical form, so one signature per action);
 * lx_verify on the input as an envelope never crashes and, when it accepts,
 * agrees with the decoder about the action. The same bytes as an HTTP
 * Authorization header (a signed read): lx_sign_read_parse never crashes,
 * and what it accepts, written back in the canonical form, parses to the
 * same key, ts and signature; lx_gw_auth_read never crashes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <stdio.h>

#include "lx/gw_auth.h"
#include "lx/sign.h"

static void read_header(const uint8_t *data, size_t size) {
    char h[1024], h2[LX_SIGN_READ_HEADER_MAX + 64], kh[65], sh[129];
    if (size >= sizeof h) size = sizeof h - 1;
    memcpy(h, data, size);
    h[size] = 0;
    uint8_t k[32], k2[32], sig[64], sig2[64];
    int64_t ts, ts2;
    const char *why;
    (void)lx_gw_auth_read(7, h, "/v1/accounts/1/orders", 1000000000, k, &why);
    if (lx_sign_read_parse(h, k, &ts, sig)) return;
    sodium_bin2hex(kh, sizeof kh, k, sizeof k);
    sodium_bin2hex(sh, sizeof sh, sig, sizeof sig);
    snprintf(h2, sizeof h2, LX_SIGN_READ_SCHEME " key=%s, ts=%lld, sig=%s", kh, (long long)ts, sh);
    if (lx_sign_read_parse(h2, k2, &ts2, sig2) || memcmp(k, k2, 32) || ts != ts2 ||
        memcmp(sig, sig2, 64))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lx_action_t a, b;
    uint8_t buf[LX_SIGN_MAX_PAYLOAD];
    if (lx_sign_decode(data, size, &a) == 0) {
        int n = lx_sign_payload(&a, buf, sizeof buf);
        if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0) abort();
    }
    if (size >= LX_SIGN_SIG_LEN && lx_sign_decode(data, size - LX_SIGN_SIG_LEN, &a) == 0) {
        if (lx_verify(data, size, a.chain_id, &b) == 0 && b.nonce != a.nonce) abort();
    }
    (void)lx_verify(data, size, 7, &a);
    read_header(data, size);
    return 0;
}
