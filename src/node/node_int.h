/*
 * node_int.h: what the node's three files share (node.c: open, close and the
 * gateway-facing calls; sequencer.c: the sequencer and journal stage;
 * shard.c: the engine threads). Not a public header.
 *
 * Who writes what: the sequencer thread owns every journal, next_seq and
 * the seq_* fields of each shard; shard K's engine thread owns its engine,
 * its routes and its staged out messages; a gateway's thread owns its in
 * ring's producer end, its out rings' consumer ends and its `acked`
 * histogram. Counters read by other threads are atomics.
 */
#ifndef LX_NODE_INT_H
#define LX_NODE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include "lx/node.h"

#define BATCH 4096

/* A STATUS by client id asked of every shard: the shard that finds the
 * order answers; the last one to look answers "not found" if nobody did. */
struct lx_node_fan {
    _Atomic uint32_t left;
    _Atomic uint32_t found;
};

typedef struct {
    lx_order_id_t order_id;
    uint64_t session;
    uint64_t client_id;
} route_t;

typedef struct lx_node lx_node_t;

/* One shard: its engine, journal and thread, and the sequencer's batch for
 * it. */
typedef struct {
    lx_node_t *node;
    unsigned index;
    char dir[LX_CONFIG_PATH_MAX + 1];
    lx_engine_t *engine;
    lx_journal_t *journal;
    lx_recovery_t rec;
    struct lx_node_tail *tail; /* reconcile.c: kept during recovery, then freed */
    bool tail_oom;             /* no memory for even the tail's record: reconciling is refused */
    bool boot;                 /* empty journal: journal the boot commands first */
    uint64_t boot_from;        /* ... from this one on (a boot cut short: the rest) */
    lx_ring_t *ring;           /* sequencer -> this engine */
    pthread_t thread;
    bool thread_started;
    /* sequencer side */
    uint64_t next_seq;
    uint64_t since_snapshot; /* commands journaled since the last snapshot */
    lx_node_msg_t *batch;    /* this round's messages for the shard */
    uint32_t nbatch, batch_cap;
    uint64_t ncmd; /* commands among them */
    _Atomic uint64_t durable;
    /* shards 1..N-1: a committer thread runs this shard's journal commit
     * while the sequencer commits shard 0's, so that the fdatasyncs of a
     * round overlap (sequencer.c) */
    pthread_t committer;
    bool committer_started;
    _Atomic uint32_t commit_state; /* 0 idle, 1 asked, 2 done, 3 quit: a futex */
    int commit_rc;
    uint64_t commit_ns;
    /* snapshots: the sequencer parks this engine thread, forks the snapshot
     * of the engine (lx_journal_snapshot_start) and lets it go on */
    pthread_mutex_t park_mu;
    pthread_cond_t park_cv;
    int park_state; /* 0 running, 1 parked (engine waits), 2 released */
    /* engine side */
    route_t *routes;
    uint32_t nroutes;          /* power of two */
    uint64_t *account_session; /* max_accounts entries: last bound session */
    uint32_t naccounts;
    uint64_t cur_session;                        /* session of the command being applied */
    uint64_t cur_tag;                            /* its tag */
    uint64_t cur_t_rx;                           /* its t_rx */
    uint8_t cur_parts;                           /* how many shards got it */
    lx_account_id_t cur_account;                 /* its account, for order commands; else NONE */
    lx_node_out_t *staged[LX_NODE_GATEWAYS_MAX]; /* per gateway: one ring commit per batch */
    uint32_t nstaged[LX_NODE_GATEWAYS_MAX], staged_cap;
    lx_lathist_t applied;
    bool halted; /* the engine ran out of memory on a command: nothing more is applied */
} shard_t;

/* A gateway: its in ring, its out ring from each shard, what it asked for.
 * `gone` is the sequencer's: the in ring is closed and drained. */
typedef struct {
    lx_ring_t *in;
    lx_ring_t *out[LX_CONFIG_SHARDS_MAX];
    uint32_t flags; /* LX_NODE_GW_* */
    void (*notify)(void *ctx);
    void *notify_ctx;
    bool gone;
    lx_lathist_t acked; /* written by the gateway's thread */
} gateway_t;

struct lx_node {
    const lx_config_t *cfg;
    lx_node_opts_t opts;
    int lock_fd;                   /* data_dir/LOCK, flock'ed while the node is open; -1: none */
    _Atomic uint64_t *account_tat; /* per-account rate buckets (lx_node_account_buckets) */
    uint32_t naccount_tat;
    FILE *log;
    gateway_t gw[LX_NODE_GATEWAYS_MAX];
    uint32_t ngw;
    shard_t *shards;
    uint32_t nshards;
    uint8_t *market_shard; /* engine.max_markets entries */
    uint32_t nmarket_shard;
    pthread_t seq_thread;
    bool started, joined;
    /* the sequencer's wake-up: gateways bump `bell` after a commit when it
     * has said it sleeps (futex on bell) */
    _Atomic uint32_t bell, seq_sleeping;
    /* sequencer */
    int64_t last_ts;
    int64_t tick_ns, last_tick; /* TICK every tick_ns (CLOCK_MONOTONIC) */
    _Atomic uint64_t snapshots, snapshot_stall_ns;
    lx_lathist_t lat[LX_NODE_LAT_DURABLE + 1]; /* sequenced, durable: sequencer */
    lx_lathist_t fsync_lat;                    /* sequencer */
    _Atomic uint64_t commands, batches, reports;
    _Atomic int journal_error;
    _Atomic bool failed;
};

void lx__node_log(lx_node_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t lx__node_now_ns(void);   /* CLOCK_REALTIME */
uint64_t lx__node_mono_ns(void); /* CLOCK_MONOTONIC */
/* The sequencer after a fatal journal error: takes no more commands. */
void lx__node_fail(lx_node_t *n, int rc, const char *what);

/* sequencer.c */
/* True when every shard applies c (the sequencer's routing rule; false on a
 * one-shard node). */
bool lx__node_every_shard(const lx_node_t *n, const lx_cmd_t *c);
int lx__seq_committers_start(lx_node_t *n);
void lx__seq_committers_stop(lx_node_t *n);
void lx__seq_boot(lx_node_t *n);
void *lx__seq_main(void *arg);

/* reconcile.c */
/* lx_recover_opts_t.on_cmd for shard ctx (a shard_t): keeps the last
 * every-shard commands of its journal tail. */
void lx__reconcile_collect(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                           const char *file, uint64_t off);
/* After every shard is recovered and its journal open, before the boot:
 * appends to each shard the every-shard commands of the last round that
 * another shard holds and it lacks. 0, or an error described in err. */
int lx__reconcile(lx_node_t *n, char *err, size_t errlen);
/* Frees what lx__reconcile_collect kept. */
void lx__reconcile_free(shard_t *s);

/* shard.c */
void *lx__shard_main(void *arg);

#endif
