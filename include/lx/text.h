/*
 * lx/text.h: a one-line human-readable form of commands and events.
 *
 * Used by scenario files (tests/scenarios/), `lxdex journal dump` and
 * debugging. The form is `NAME key=value key=value ...`, keys in a fixed
 * order, enums by name (side=BUY tif=GTC reason=USER), integers in decimal.
 * lx_cmd_parse() accepts keys in any order, with omitted keys taking the
 * defaults listed in docs/scenarios.md; the form written by lx_cmd_format()
 * parses back to the same command.
 */
#ifndef LX_TEXT_H
#define LX_TEXT_H

#include <stddef.h>
#include "lx/command.h"
#include "lx/event.h"

/* Both return the length written (like snprintf, truncating safely). */
int lx_cmd_format(const lx_cmd_t *cmd, char *buf, size_t cap);
int lx_event_format(const lx_event_t *ev, char *buf, size_t cap);

/* Parses one command line (without seq/ts unless given as seq= and ts=).
 * Returns 0, or LX_EINVAL with a message in err. */
int lx_cmd_parse(lx_cmd_t *cmd, const char *line, char *err, size_t errlen);

/* The same, also reading who authorised it: `auth=SIGNED|SESSION
 * signer=<64 hex digits> nonce=N` (auth omitted: scheme NONE, all zero).
 * lx_cmd_parse refuses these keys. */
int lx_cmd_parse_auth(lx_cmd_t *cmd, lx_cmd_auth_t *auth, const char *line, char *err,
                      size_t errlen);
/* " auth=SIGNED signer=... nonce=N", to append to lx_cmd_format's line, or
 * "" for NULL or scheme NONE; returns the length like snprintf. */
int lx_cmd_auth_format(const lx_cmd_auth_t *auth, char *buf, size_t cap);

#endif
