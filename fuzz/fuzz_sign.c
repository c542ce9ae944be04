/*
 * fuzz_sign.c: lx_sign_decode / lx_verify on arbitrary bytes never crash, and
 * a payload that decodes re-encodes to exactly the same bytes (one canonical
 * form). The first input byte picks payload-only or envelope mode.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lx/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lx_action_t a;
    uint8_t buf[LX_SIGN_MAX_PAYLOAD];
    if (lx_sign_decode(data, size, &a) == 0) {
        int n = lx_sign_encode(&a, buf);
        if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0) abort();
    }
    if (size >= LX_SIGN_SIG_LEN && lx_sign_decode(data, size - LX_SIGN_SIG_LEN, &a) == 0) {
        lx_action_t b;
        (void)lx_verify(data, size, a.chain_id, &b);
    }
    (void)lx_verify(data, size, 7, &a);
    return 0;
}
