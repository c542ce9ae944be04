/*
 * fuzz_sign.c: the signed-action parser (src/gw/sign.c) on arbitrary bytes.
 *
 * lx_sign_decode never crashes, and a payload it accepts re-encodes to
 * exactly the same bytes (one canonical form, so one signature per action);
 * lx_verify on the input as an envelope never crashes and, when it accepts,
 * agrees with the decoder about the action.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lx/sign.h"

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
    return 0;
}
