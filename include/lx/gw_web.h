/*
 * lx/gw_web.h: the web gateway of a node (docs/api.md): HTTP JSON and
 * JSON-RPC 2.0 on listen.http, WebSocket JSON on listen.ws.
 *
 * One I/O thread runs libwebsockets with one vhost per enabled address. The
 * gateway is a node gateway of its own (lx_node_add_gateway, with market
 * data and DONE messages): it is the only producer of its in ring and the
 * only consumer of its out ring, keeps a read model (lx/view.h) built from
 * the node's start-up state and event stream, and answers every query from
 * it; commands are answered when the node says they were applied.
 */
#ifndef LX_GW_WEB_H
#define LX_GW_WEB_H

#include <stdint.h>
#include <stdio.h>
#include "lx/config.h"
#include "lx/node.h"

typedef struct lx_gw_web lx_gw_web_t;

typedef struct {
    FILE *log;               /* connection and error messages; NULL: silent */
    uint64_t out_buffer_max; /* per-connection output bound (0: the config's
                                limits.slow_subscriber_buffer_bytes, else 4 MiB) */
} lx_gw_web_opts_t;

/* Adds the gateway to the node (before lx_node_start) and binds the enabled
 * addresses of cfg->listen.http and cfg->listen.ws (at least one must be
 * enabled). err gets a one-line reason. */
int lx_gw_web_open(lx_gw_web_t **out, lx_node_t *node, const lx_config_t *cfg,
                   const lx_gw_web_opts_t *opts, char *err, size_t errlen);
/* The ports listened on (the ones the system picked for port 0); 0 when off. */
uint16_t lx_gw_web_http_port(const lx_gw_web_t *g);
uint16_t lx_gw_web_ws_port(const lx_gw_web_t *g);
/* Starts the I/O thread. */
int lx_gw_web_start(lx_gw_web_t *g);
/* Asks the thread to stop, without waiting: it then refuses new requests
 * (503), closes its in ring, answers what the node still applies, gives the
 * clients up to a second to read it and ends. Lets a caller stop several
 * gateways at once (each one's stop waits for the node's out rings to close,
 * which needs every in ring closed). From any thread. */
void lx_gw_web_stop_async(lx_gw_web_t *g);
/* lx_gw_web_stop_async, then waits for the thread to end. */
void lx_gw_web_stop(lx_gw_web_t *g);
void lx_gw_web_close(lx_gw_web_t *g);

#endif
