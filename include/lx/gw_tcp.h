/*
 * lx/gw_tcp.h: the binary TCP gateway (docs/protocol.md) of a node.
 *
 * N I/O threads (gateway.binary_threads), each with its own epoll, connections,
 * sessions and node gateway; thread 0 accepts and deals the connections out
 * round robin. Each thread owns its sessions: logon,
 * heartbeats, per-session report numbering, the resend history and the
 * bounded output buffer of each connection. Each thread is the producer of its
 * node gateway's in ring and the consumer of its out ring (lx/node.h).
 */
#ifndef LX_GW_TCP_H
#define LX_GW_TCP_H

#include <stdint.h>
#include <stdio.h>
#include "lx/config.h"
#include "lx/node.h"

typedef struct lx_gw_tcp lx_gw_tcp_t;

typedef struct {
    FILE *log;                  /* connection messages; NULL: silent */
    uint32_t history;           /* reports kept per session for RESEND (0: 65536) */
    uint32_t heartbeat_ms;      /* default interval (0: 5000) */
    uint32_t session_linger_ms; /* a disconnected session's history is freed after
                                   this (0: 600000) */
    uint64_t out_buffer_max;    /* per-connection output bound (0: the config's
                                   limits.slow_subscriber_buffer_bytes, else 4 MiB) */
    uint32_t threads;           /* I/O threads (0: the config's gateway.binary_threads;
                                   there 0: one per core, at most 2) */
} lx_gw_tcp_opts_t;

/* Binds and listens on cfg->listen.binary (which must be enabled). Thread 0
 * takes the node's gateway 0; every other thread adds a node gateway
 * (lx_node_add_gateway), so call it before lx_node_start. */
int lx_gw_tcp_open(lx_gw_tcp_t **out, lx_node_t *node, const lx_config_t *cfg,
                   const lx_gw_tcp_opts_t *opts, char *err, size_t errlen);
/* The port it listens on (the one the system picked for port 0). */
uint16_t lx_gw_tcp_port(const lx_gw_tcp_t *g);
/* How many I/O threads it runs. */
uint32_t lx_gw_tcp_threads(const lx_gw_tcp_t *g);
/* Starts the I/O threads (open set the node's notify hooks for them). */
int lx_gw_tcp_start(lx_gw_tcp_t *g);
/* Graceful stop, from any thread: every I/O thread stops accepting and
 * reading, closes its node gateway's in ring, delivers the reports still
 * coming out of the node, flushes and closes its connections; then joins
 * the threads. The node can then be joined. */
void lx_gw_tcp_stop(lx_gw_tcp_t *g);
void lx_gw_tcp_close(lx_gw_tcp_t *g);

#endif
