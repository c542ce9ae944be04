/*
 * fuzz_codec.c: libFuzzer driver for the canonical codec and the text form.
 *
 * The first byte picks the decoder: command bytes, event bytes, or a command
 * text line. A decoded command or event must re-encode to exactly the bytes
 * it was decoded from (the codec is canonical: one byte form per value), and
 * a parsed text command must survive format -> parse unchanged. A version-1
 * record (still decoded, never written) must instead re-encode to a current
 * record that decodes to the same value. Anything else is a crash report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lx/codec.h"
#include "lx/error.h"
#include "lx/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;
    uint8_t
        out[LX_EVENT_ENCODED_MAX > LX_CMD_ENCODED_MAX ? LX_EVENT_ENCODED_MAX : LX_CMD_ENCODED_MAX];
    if (mode == 0) {
        lx_cmd_t c;
        memset(&c, 0, sizeof c);
        int n = lx_cmd_decode(&c, data, size);
        if (n > 0 && data[0] != LX_CODEC_VERSION) {
            int m = lx_cmd_encode(&c, out, sizeof out);
            lx_cmd_t d;
            if (m <= 0 || lx_cmd_decode(&d, out, (size_t)m) != m || memcmp(&c, &d, sizeof c))
                abort();
        } else if (n > 0) {
            int m = lx_cmd_encode(&c, out, sizeof out);
            if (m != n || memcmp(out, data, (size_t)n) != 0) abort();
            char line[1024];
            lx_cmd_format(&c, line, sizeof line);
            lx_cmd_t back;
            char err[256];
            if (lx_cmd_parse(&back, line, err, sizeof err) != 0) abort();
            uint8_t again[LX_CMD_ENCODED_MAX];
            if (lx_cmd_encode(&back, again, sizeof again) != n || memcmp(again, data, (size_t)n))
                abort();
        }
    } else if (mode == 1) {
        lx_event_t ev;
        memset(&ev, 0, sizeof ev);
        int n = lx_event_decode(&ev, data, size);
        if (n > 0 && data[0] != LX_CODEC_VERSION) {
            int m = lx_event_encode(&ev, out, sizeof out);
            lx_event_t d;
            if (m <= 0 || lx_event_decode(&d, out, (size_t)m) != m || memcmp(&ev, &d, sizeof ev))
                abort();
        } else if (n > 0) {
            int m = lx_event_encode(&ev, out, sizeof out);
            if (m != n || memcmp(out, data, (size_t)n) != 0) abort();
            char line[1024];
            lx_event_format(&ev, line, sizeof line);
        }
    } else {
        char *line = malloc(size + 1);
        if (!line) return 0;
        memcpy(line, data, size);
        line[size] = 0;
        lx_cmd_t c;
        char err[256];
        if (lx_cmd_parse(&c, line, err, sizeof err) == 0) {
            int n = lx_cmd_encode(&c, out, sizeof out);
            if (n > 0) {
                char again[1024];
                lx_cmd_format(&c, again, sizeof again);
                lx_cmd_t back;
                if (lx_cmd_parse(&back, again, err, sizeof err) != 0) abort();
                uint8_t b2[LX_CMD_ENCODED_MAX];
                if (lx_cmd_encode(&back, b2, sizeof b2) != n || memcmp(b2, out, (size_t)n)) abort();
            }
        }
        free(line);
    }
    return 0;
}
