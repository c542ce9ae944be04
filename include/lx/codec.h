/*
 * lx/codec.h: the canonical byte form of commands and events.
 *
 * Used by the journal (commands), the determinism tests and market data
 * (events), and anything else that must compare or store them byte for
 * byte. Explicit little-endian fields, never struct dumps. The layout of
 * every type, with byte offsets, is specified above the code in
 * src/core/codec.c and in docs/codec.md.
 *
 * Encoding refuses (LX_EINVAL) exactly what decoding would refuse: an
 * unknown type, an enum value out of range, a flag other than 0/1, a bad
 * symbol; so nothing can be journaled that its reader rejects, and a
 * gateway must refuse such values before sequencing. Decoding validates
 * everything it can without engine state (type, lengths, enum ranges,
 * padding) and returns LX_ETRUNC, LX_ECORRUPT or LX_EVERSION otherwise.
 */
#ifndef LX_CODEC_H
#define LX_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "lx/command.h"
#include "lx/event.h"

/* The version byte the encoders write (docs/codec.md); version 1 records
 * are still decoded. */
#define LX_CODEC_VERSION 2

#define LX_CMD_ENCODED_MAX 128
#define LX_EVENT_ENCODED_MAX 128

/* Returns the number of bytes written (> 0), or LX_EINVAL (unknown type) or
 * LX_ERANGE (buffer too small). */
int lx_cmd_encode(const lx_cmd_t *cmd, uint8_t *buf, size_t cap);
/* Returns the number of bytes consumed (> 0) or a negative LX_E*. */
int lx_cmd_decode(lx_cmd_t *cmd, const uint8_t *buf, size_t len);

int lx_event_encode(const lx_event_t *ev, uint8_t *buf, size_t cap);
int lx_event_decode(lx_event_t *ev, const uint8_t *buf, size_t len);

/* Little-endian helpers shared by every codec in the tree. */
static inline void lx_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void lx_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void lx_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t lx_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t lx_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static inline uint64_t lx_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#endif
