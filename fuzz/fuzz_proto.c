/*
 * fuzz_proto.c: the binary protocol decoder.
 *
 * The first byte picks the direction (bit 0) and how the rest is cut into
 * reads (the other bits seed the chunk sizes); the rest is the byte stream.
 * The decoder must never crash; every message it returns must encode back
 * to exactly the bytes of its frame and convert (when it is an order
 * request) without fault; and feeding the stream whole and in pieces must
 * give the same sequence of messages and errors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lx/error.h"
#include "lx/proto.h"

static void check(int ok) {
    if (!ok) abort();
}

typedef struct {
    int rc;
    uint8_t error, error_type;
    uint64_t error_client_id;
    uint64_t hash; /* of the frame bytes */
} outcome_t;

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Decodes data in chunks (seed 0: whole); returns the number of outcomes. */
static size_t run(const uint8_t *data, size_t size, int dir, unsigned seed, outcome_t *out,
                  size_t cap, size_t *pending) {
    lx_proto_decoder_t d;
    lx_proto_decoder_init(&d, dir);
    size_t pos = 0, count = 0;
    uint32_t s = seed * 2654435761u + 1;
    while (pos < size && !d.failed) {
        size_t chunk = size - pos;
        if (seed) {
            s = s * 1103515245u + 12345u;
            chunk = 1 + (s >> 16) % (seed % 64 + 1);
            if (chunk > size - pos) chunk = size - pos;
        }
        const uint8_t *p = data + pos;
        size_t len = chunk;
        for (;;) {
            lx_proto_msg_t m;
            int rc = lx_proto_decode(&d, &p, &len, &m);
            if (rc == 0) break;
            check(count < cap);
            outcome_t *o = &out[count++];
            memset(o, 0, sizeof *o);
            o->rc = rc;
            if (rc == 1) {
                uint8_t buf[LX_PROTO_FRAME_MAX];
                int n = lx_proto_encode(&m, buf, sizeof buf);
                check(n > 0 && (size_t)n == d.frame_len);
                check(memcmp(buf, d.frame, d.frame_len) == 0);
                o->hash = fnv(buf, (size_t)n);
                lx_cmd_t cmd;
                int crc = lx_proto_to_cmd(&m, 7, &cmd);
                check(crc == 0 || crc == LX_EINVAL);
                if (lx_proto_exec(&m)) check(lx_proto_exec(&m)->seq >= 1);
            } else {
                check(rc == LX_EINVAL || rc == LX_ECORRUPT);
                check(d.error != LX_PROTO_R_NONE);
                o->error = d.error;
                o->error_type = d.error_type;
                o->error_client_id = d.error_client_id;
                if (rc == LX_EINVAL) o->hash = fnv(d.frame, d.frame_len);
                lx_proto_msg_t rej;
                lx_proto_decoder_reject(&d, &rej);
                uint8_t buf[LX_PROTO_FRAME_MAX];
                check(lx_proto_encode(&rej, buf, sizeof buf) == 24);
                if (rc == LX_ECORRUPT) break;
            }
        }
        pos += chunk;
    }
    *pending = lx_proto_decoder_pending(&d);
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int dir = data[0] & 1;
    unsigned seed = data[0] >> 1;
    data++;
    size--;
    size_t cap = size / 2 + 2;
    outcome_t *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    check(a && b);
    size_t pa, pb;
    size_t na = run(data, size, dir, 0, a, cap, &pa);
    size_t nb = run(data, size, dir, seed ? seed : 1, b, cap, &pb);
    check(na == nb && pa == pb);
    for (size_t i = 0; i < na; i++) {
        check(a[i].rc == b[i].rc && a[i].error == b[i].error);
        check(a[i].error_type == b[i].error_type && a[i].error_client_id == b[i].error_client_id);
        check(a[i].hash == b[i].hash);
    }
    /* The one-frame decoder on the whole input. */
    lx_proto_msg_t m;
    uint8_t reason;
    if (lx_proto_decode_frame(data, size, dir, &m, &reason) == 0) {
        uint8_t buf[LX_PROTO_FRAME_MAX];
        check(lx_proto_encode(&m, buf, sizeof buf) == (int)size);
        check(memcmp(buf, data, size) == 0);
    }
    free(a);
    free(b);
    return 0;
}
