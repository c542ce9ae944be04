/*
 * node_bench.h: the node end to end over TCP (node_bench.c).
 *
 * lx_bench_node(rate, seconds, fsync, seed) starts a node and its binary
 * gateway in this process (loopback, a port the system picks, a fresh data
 * directory under $TMPDIR or /tmp, removed afterwards), connects the clients,
 * and offers `rate` requests per second for `seconds` seconds, open loop:
 * request i is due at start + i / rate (32.32 fixed point ns: the offered
 * rate is `rate`) and is sent then (or at once, with everything else due,
 * when the sender is behind; how late each left is reported). Requests
 * alternate: a
 * resting limit buy below the market (answered by ACCEPTED) and the cancel
 * of that order by client id (answered by CANCELED). The latency of a
 * request is the arrival of its report minus its due time, so queueing
 * behind a stall counts (no coordinated omission). With fsync every report
 * waits for the group commit's fdatasync, as in production.
 *
 * Prints one line:
 *   RESULT workload=node_tcp msgs= msgs_per_s= p50_ns= p99_ns= p999_ns= max_ns=
 *          bytes_per_order=na offered_rate= late_msgs= send_late_p50_ns=
 *          send_late_p99_ns= send_late_max_ns= sender_cpu_pct= fsync= commits=
 *          cmds_per_commit= seed=
 * send_late_*: the time each request was handed to send() minus its due
 * time (the client's own delay, inside the latencies); late_msgs: how many
 * left over 100 us late; sender_cpu_pct: the sending threads' CPU time over
 * the run's, in percent of one core.
 * Returns 0, or 1 if the run failed (a message on stderr).
 *
 * auth picks how the client authenticates (workload name in the line):
 *   LXB_AUTH_DEV      node_tcp: logon by account id (dev mode), no checks
 *   LXB_AUTH_SESSION  node_tcp_session: a signed logon (challenge), then
 *                     plain requests the engine checks against the key
 *   LXB_AUTH_SIGNED   node_tcp_signed: every request a SIGNED envelope (all
 *                     signed before the run starts), verified by the
 *                     gateway, signer and nonce checked by the engine
 *
 * lx_bench_verify(seconds) verifies signed envelopes (lx_verify) on one
 * thread for that long: RESULT workload=verify msgs_per_s= (signatures per
 * second on one core).
 */
#ifndef LXB_NODE_BENCH_H
#define LXB_NODE_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum { LXB_AUTH_DEV = 0, LXB_AUTH_SESSION = 1, LXB_AUTH_SIGNED = 2 };

/* conns clients (accounts 1..conns; 0: 1) share the rate, each with its own
 * connection, sender and receiver; threads: the binary gateway's I/O
 * threads (0: the node's default, gateway.binary_threads); shards: 1 (0) or
 * 2, and with 2 client k trades market k % 2 (BTC-USD in shard 0, ETH-USD in
 * shard 1), else every client trades BTC-USD. The RESULT line adds conns=,
 * gw_threads= and shards=. */
int lx_bench_node(uint64_t rate, uint32_t seconds, bool fsync, uint64_t seed, int auth,
                  uint32_t conns, uint32_t threads, uint32_t shards);
int lx_bench_verify(uint32_t seconds);

/* lx_bench_ws(rate, seconds, seed, batch): the node with its web gateway,
 * one WebSocket client offering `rate` orders per second open loop (IOC
 * buys that rest nowhere: each one command and one result), `batch` orders
 * per WebSocket message (1: one `place` message each; more: `batch`
 * messages); latency from each order's due time to its result. Prints
 * RESULT workload=node_ws ... (with offered_rate, late_msgs, send_late_*
 * and sender_cpu_pct as above) and a STAGES line. */
int lx_bench_ws(uint64_t rate, uint32_t seconds, uint64_t seed, uint32_t batch);

/* Runs a load generator's sender and receiver threads on arg and waits for
 * both; 0, or -1 (with *failed set) if a thread could not start. */
int lxb_run_client(void *(*send_fn)(void *), void *(*recv_fn)(void *), void *arg,
                   _Atomic int *failed);

struct lx_node;
void lxb_print_stages(const struct lx_node *node, const char *wl, uint64_t rate);

#endif
