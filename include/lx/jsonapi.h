/*
 * lx/jsonapi.h: the JSON API's exact decimal <-> grid conversion (pure).
 *
 * A price arrives as decimal text and must be a whole number of ticks:
 *     price_ticks = price * quote_scale / tick_size   (exact integer)
 * and a size a whole number of lots:
 *     qty_lots = size * base_scale / lot_size         (exact integer)
 * where quote_scale / base_scale are the assets' units per whole (a power of
 * ten). No double anywhere: the text is parsed with lx_decimal_parse_n at
 * log10(scale) fractional digits, then divided exactly by the step.
 * See docs/api.md.
 *
 * Status: only the conversion layer exists so far; the REST / JSON-RPC /
 * WebSocket handlers are still to be written (docs/api.md, "Not yet").
 */
#ifndef LX_JSONAPI_H
#define LX_JSONAPI_H

#include <stddef.h>
#include <stdint.h>

/*
 * Converts the len bytes of decimal text at s to a positive whole number of
 * steps (ticks or lots). Returns 0 and sets *out, or LX_EINVAL with *why set
 * to a static description: "not a decimal number", "too many decimal
 * places", "out of range", "must be positive", "not on the grid"
 * (off the tick/lot grid), "bad scale or step" (scale not a power of ten
 * 1..10^18, or step <= 0). *out is unchanged on error.
 */
int lx_api_to_steps(const char *s, size_t len, int64_t scale, int64_t step, int64_t *out,
                    const char **why);

/*
 * Writes n steps as decimal text (n * step / scale), with no trailing
 * fractional zeros ("1.5", "2", "0.0001"). Returns the text length, or
 * LX_EINVAL (bad scale/step) / LX_ERANGE (n * step overflows) with buf
 * set to "". Like snprintf, truncates to cap but returns the full length.
 */
int lx_api_from_steps(int64_t n, int64_t scale, int64_t step, char *buf, size_t cap);

#endif
