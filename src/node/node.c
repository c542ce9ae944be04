/*
 * node.c: the node's two inner stages, the sequencer and the engine thread
 * (ARCHITECTURE.md §4), and startup from the journal.
 *
 *   in rings (each gateway -> sequencer)   lx_node_msg_t
 *   eng ring (sequencer -> engine)         lx_node_msg_t, cmd.seq and cmd.ts set
 *   out rings (engine -> each gateway)     lx_node_out_t
 *
 * Sequencer: each round takes up to BATCH messages from every gateway's in
 * ring (in gateway order, so none starves another), stamps every command
 * with the next seq and ts (CLOCK_REALTIME ns, clamped so it never
 * decreases, also across a restart: it starts at the recovered last ts),
 * appends it to the journal with its auth section, adds a TICK when
 * tick_ns of wall time have passed (GTD expiry happens through the log),
 * commits once for the round (one write, one fdatasync: group commit) and
 * forwards the round to the engine ring only when lx_journal_durable_seq()
 * covers its last seq. Nothing reaches the engine, so no report reaches a
 * client, before it is durable. Queries and session bindings pass through in
 * order, unjournaled. If the journal fails (its errors are sticky) the
 * sequencer forwards nothing more: the round is dropped and the node is
 * marked failed; the gateways then answer requests with UNAVAILABLE. With
 * several in rings the sequencer cannot sleep on one ring's futex: it spins
 * briefly, then sleeps on the node's own `bell`, which a gateway rings
 * (lx_node_kick) after a commit only when the sequencer said it sleeps.
 *
 * Engine thread: applies each command, and for every event decides who gets
 * a report. Order reports go to the session that placed the order: a table
 * indexed by the order id's slot (the low 32 bits, < max_orders) holds
 * (order id, session, client id), set on ORDER_ACCEPTED and cleared when the
 * order ends. An order the table does not know (placed before a restart)
 * goes to the last session that logged on as its account (BIND), if any,
 * else nowhere. Rejections go to the session of the command. A session id
 * names its gateway in its top byte, so dispatch() sends each event to the
 * gateways of its sessions, and every event to the market-data gateways;
 * each gateway's messages leave in one ring commit per engine batch. A
 * market-data gateway first gets the state the engine starts from
 * (dump_state). With N shards this thread becomes N threads, each with its
 * own engine and ring, fed by the sequencer by market; everything per engine
 * already lives in shard_t.
 *
 * Latency: the gateway stamps each command with t_rx; the sequencer and
 * the engine thread record how long it took to be sequenced, durable and
 * applied (lx/lathist.h), per batch, one clock read each.
 *
 * Snapshots (journal.snapshot_every_commands): see seq_snapshot().
 *
 * Deliberately not here: sockets, sessions and report numbering (the
 * gateways).
 */
#define _GNU_SOURCE
#include "lx/node.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>
#include "lx/engine.h"
#include "lx/error.h"

#define BATCH 4096

typedef struct {
    lx_order_id_t order_id;
    uint64_t session;
    uint64_t client_id;
} route_t;

/* One engine and its thread: everything the engine thread touches. A node
 * has one; N shards will be N of these, each fed its own ring. */
typedef struct {
    lx_node_t *node;
    lx_engine_t *engine;
    lx_ring_t *ring; /* sequencer -> this engine */
    pthread_t thread;
    route_t *routes;
    uint32_t nroutes;          /* power of two */
    uint64_t *account_session; /* max_accounts entries: last bound session */
    uint32_t naccounts;
    uint64_t cur_session;        /* session of the command being applied */
    uint64_t cur_tag;            /* its tag */
    uint64_t cur_t_rx;           /* its t_rx */
    lx_account_id_t cur_account; /* its account, for order commands; else NONE */
} shard_t;

/* A gateway's two rings and what it asked for. `staged` is the engine
 * thread's batch for the out ring (one commit per engine batch); `gone` is
 * the sequencer's: the in ring is closed and drained. */
typedef struct {
    lx_ring_t *in, *out;
    uint32_t flags; /* LX_NODE_GW_* */
    void (*notify)(void *ctx);
    void *notify_ctx;
    lx_node_out_t *staged;
    uint32_t nstaged, staged_cap;
    bool gone;
    lx_lathist_t acked; /* written by the gateway's thread */
} gateway_t;

struct lx_node {
    const lx_config_t *cfg;
    lx_node_opts_t opts;
    FILE *log;
    lx_journal_t *journal;
    lx_recovery_t rec;
    gateway_t gw[LX_NODE_GATEWAYS_MAX];
    uint32_t ngw;
    pthread_t seq_thread;
    bool started, joined;
    /* the sequencer's wake-up: gateways bump `bell` after a commit when it
     * has said it sleeps (futex on bell) */
    _Atomic uint32_t bell, seq_sleeping;
    /* sequencer */
    uint64_t next_seq;
    int64_t last_ts;
    bool boot;                  /* empty journal: journal the boot commands first */
    int64_t tick_ns, last_tick; /* TICK every tick_ns of sequencer time */
    shard_t shard;
    /* snapshots: the sequencer parks the engine thread, forks the snapshot
     * of the engine (lx_journal_snapshot_start) and lets it go on */
    uint64_t since_snapshot; /* commands journaled since the last snapshot */
    pthread_mutex_t park_mu;
    pthread_cond_t park_cv;
    int park_state; /* 0 running, 1 parked (engine waits), 2 released */
    _Atomic uint64_t snapshots, snapshot_stall_ns;
    lx_lathist_t lat[LX_NODE_LAT_APPLIED + 1]; /* sequenced, durable: sequencer; applied: engine */
    lx_lathist_t fsync_lat;                    /* sequencer */
    _Atomic uint64_t commands, batches, reports, durable;
    _Atomic int journal_error;
    _Atomic bool failed;
};

static void logf_(lx_node_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(lx_node_t *n, const char *fmt, ...) {
    if (!n->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(n->log, fmt, ap);
    va_end(ap);
    fflush(n->log);
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int mkdir_p(const char *path) {
    char buf[LX_CONFIG_PATH_MAX + 1];
    size_t len = strlen(path);
    if (len == 0 || len > LX_CONFIG_PATH_MAX) return -EINVAL;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
            buf[i] = c;
        }
    }
    return 0;
}

/* ---- open / close --------------------------------------------------------- */

static int gateway_add(lx_node_t *n, const lx_node_gw_opts_t *opts) {
    if (n->ngw == LX_NODE_GATEWAYS_MAX) return LX_EFULL;
    gateway_t *g = &n->gw[n->ngw];
    int rc;
    if ((rc = lx_ring_create(&g->in, sizeof(lx_node_msg_t), n->opts.ring_capacity)) ||
        (rc = lx_ring_create(&g->out, sizeof(lx_node_out_t), n->opts.ring_capacity)))
        goto fail;
    g->staged_cap = BATCH * 2;
    g->staged = malloc(g->staged_cap * sizeof *g->staged);
    if (!g->staged) {
        rc = LX_ENOMEM;
        goto fail;
    }
    g->flags = opts->flags;
    g->notify = opts->notify;
    g->notify_ctx = opts->notify_ctx;
    n->ngw++;
    return 0;
fail:
    lx_ring_destroy(g->in);
    lx_ring_destroy(g->out);
    memset(g, 0, sizeof *g);
    return rc;
}

int lx_node_open(lx_node_t **out, const lx_config_t *cfg, const lx_node_opts_t *opts, char *err,
                 size_t errlen) {
    *out = NULL;
    lx_node_t *n = calloc(1, sizeof *n);
    int rc = LX_ENOMEM;
    if (!n) goto fail;
    n->cfg = cfg;
    n->shard.node = n;
    pthread_mutex_init(&n->park_mu, NULL);
    pthread_cond_init(&n->park_cv, NULL);
    if (opts) n->opts = *opts;
    if (!n->opts.faucet_accounts) n->opts.faucet_accounts = 100;
    if (!n->opts.ring_capacity) n->opts.ring_capacity = 16384;
    n->tick_ns = n->opts.tick_ms == UINT32_MAX
                     ? INT64_MAX
                     : (int64_t)(n->opts.tick_ms ? n->opts.tick_ms : 100) * 1000000;
    n->log = n->opts.log;

    int e = mkdir_p(cfg->node.data_dir);
    if (e) {
        snprintf(err, errlen, "%s: cannot create the data directory: %s", cfg->node.data_dir,
                 strerror(-e));
        rc = LX_EIO;
        goto fail;
    }
    lx_recover_opts_t ro = {.io = n->opts.io};
    rc = lx_recover(cfg->node.data_dir, &ro, &n->shard.engine, &n->rec);
    if (rc) {
        snprintf(err, errlen, "%s: recovery failed (%s): %s", cfg->node.data_dir, lx_strerror(rc),
                 n->rec.msg);
        goto fail;
    }
    if (n->rec.empty) {
        rc = lx_engine_create(&n->shard.engine, &cfg->engine);
        if (rc) {
            snprintf(err, errlen, "engine: %s", lx_strerror(rc));
            goto fail;
        }
        n->boot = true;
        logf_(n, "lxdexd: journal in %s is empty: a new exchange (%zu assets, %zu markets)\n",
              cfg->node.data_dir, cfg->nassets, cfg->nmarkets);
    } else {
        lx_engine_stats_t st;
        lx_engine_stats(n->shard.engine, &st);
        logf_(n,
              "lxdexd: recovered %s: last seq %llu, digest %016llx, %u markets, %u open orders, "
              "%llu commands replayed%s%s%s\n",
              cfg->node.data_dir, (unsigned long long)n->rec.last_seq,
              (unsigned long long)n->rec.digest, st.markets, st.orders,
              (unsigned long long)n->rec.commands, n->rec.snapshot[0] ? " after snapshot " : "",
              n->rec.snapshot, n->rec.torn ? " (a torn tail was cut)" : "");
        if (n->rec.msg[0]) logf_(n, "lxdexd: recovery notes: %s\n", n->rec.msg);
    }

    /* the engine's arenas on huge pages: the fork() of a snapshot stalls the
     * engine for a tenth of the time (BENCHMARKS.md, journal) */
    uint64_t advised = lx_hugepages_advise(32ul << 20);
    if (advised)
        logf_(n, "lxdexd: %llu MiB of engine memory advised to transparent huge pages\n",
              (unsigned long long)(advised >> 20));

    lx_journal_config_t jc;
    lx_journal_config_default(&jc);
    jc.engine = *lx_engine_config(n->shard.engine);
    jc.segment_bytes = cfg->journal.segment_bytes ? cfg->journal.segment_bytes : jc.segment_bytes;
    if (cfg->journal.batch_max_bytes)
        jc.batch_max_bytes = cfg->journal.batch_max_bytes > UINT32_MAX
                                 ? UINT32_MAX
                                 : (uint32_t)cfg->journal.batch_max_bytes;
    jc.batch_max_delay_ns = (uint64_t)cfg->journal.batch_max_delay_us * 1000;
    jc.fsync = cfg->journal.fsync;
    jc.io = n->opts.io;
    rc = lx_journal_open(&n->journal, cfg->node.data_dir, &jc, &n->rec);
    if (rc) {
        snprintf(err, errlen, "%s: cannot open the journal: %s", cfg->node.data_dir,
                 lx_strerror(rc));
        goto fail;
    }
    n->next_seq = lx_engine_last_seq(n->shard.engine) + 1;
    if (lx_journal_last_seq(n->journal) >= n->next_seq)
        n->next_seq = lx_journal_last_seq(n->journal) + 1;
    n->last_ts = lx_engine_last_ts(n->shard.engine);
    if (n->rec.last_ts > n->last_ts) n->last_ts = n->rec.last_ts;
    atomic_store(&n->durable, n->next_seq - 1);

    if ((rc = lx_ring_create(&n->shard.ring, sizeof(lx_node_msg_t), n->opts.ring_capacity)) ||
        (rc = gateway_add(n, &(lx_node_gw_opts_t){0}))) {
        snprintf(err, errlen, "rings: %s", lx_strerror(rc));
        goto fail;
    }
    const lx_engine_config_t *ec = lx_engine_config(n->shard.engine);
    n->shard.nroutes = 1;
    while (n->shard.nroutes < ec->max_orders + 1u && n->shard.nroutes < (1u << 30))
        n->shard.nroutes <<= 1;
    n->shard.routes = calloc(n->shard.nroutes, sizeof *n->shard.routes);
    n->shard.naccounts = ec->max_accounts;
    n->shard.account_session =
        calloc(n->shard.naccounts ? n->shard.naccounts : 1, sizeof *n->shard.account_session);
    rc = LX_ENOMEM;
    if (!n->shard.routes || !n->shard.account_session) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *out = n;
    return 0;
fail:
    if (n && err && errlen && !err[0]) snprintf(err, errlen, "%s", lx_strerror(rc));
    lx_node_close(n);
    return rc;
}

lx_ring_t *lx_node_in_ring(lx_node_t *n) {
    return n->gw[0].in;
}
lx_ring_t *lx_node_out_ring(lx_node_t *n) {
    return n->gw[0].out;
}
void lx_node_set_notify(lx_node_t *n, void (*fn)(void *), void *ctx) {
    n->gw[0].notify = fn;
    n->gw[0].notify_ctx = ctx;
}

int lx_node_add_gateway(lx_node_t *n, const lx_node_gw_opts_t *opts, lx_ring_t **in,
                        lx_ring_t **out) {
    if (n->started) return LX_ESTATE;
    int rc = gateway_add(n, opts);
    if (rc) return rc;
    gateway_t *g = &n->gw[n->ngw - 1];
    *in = g->in;
    *out = g->out;
    return (int)n->ngw - 1;
}

void lx_node_kick(lx_node_t *n) {
    /* Pairs with the fence in seq_wait: either the sequencer sees the commit
     * before it sleeps, or this sees it sleeping. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&n->seq_sleeping, memory_order_relaxed)) {
        atomic_fetch_add(&n->bell, 1);
        syscall(SYS_futex, &n->bell, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

void lx_node_submit(lx_node_t *n, unsigned gw, const lx_node_msg_t *msgs, uint32_t k,
                    void (*drain)(void *ctx), void *ctx) {
    if (gw >= n->ngw) return;
    lx_ring_t *in = n->gw[gw].in;
    uint32_t done = 0;
    while (done < k) {
        uint32_t got = lx_ring_reserve(in, k - done);
        if (got == 0) {
            if (drain) drain(ctx);
            int w = lx_ring_reserve_wait(in, k - done, 1000000);
            if (w == LX_ECLOSED) break;
            if (w <= 0) continue;
            got = (uint32_t)w;
        }
        for (uint32_t i = 0; i < got; i++)
            memcpy(lx_ring_wslot(in, i), &msgs[done + i], sizeof *msgs);
        lx_ring_commit(in, got);
        lx_node_kick(n);
        done += got;
    }
}

void lx_node_gateway_close(lx_node_t *n, unsigned gw) {
    if (gw >= n->ngw) return;
    lx_ring_close(n->gw[gw].in);
    lx_node_kick(n);
}

void lx_node_stop_inputs(lx_node_t *n) {
    for (unsigned i = 0; i < n->ngw; i++) lx_ring_close(n->gw[i].in);
    lx_node_kick(n);
}
bool lx_node_failed(const lx_node_t *n) {
    return atomic_load(&((lx_node_t *)n)->failed);
}
const lx_engine_t *lx_node_engine(const lx_node_t *n) {
    return n->shard.engine;
}

void lx_node_stats(const lx_node_t *n, lx_node_stats_t *out) {
    lx_node_t *m = (lx_node_t *)n;
    out->commands = atomic_load(&m->commands);
    out->batches = atomic_load(&m->batches);
    out->reports = atomic_load(&m->reports);
    out->last_seq = atomic_load(&m->durable);
    out->journal_error = atomic_load(&m->journal_error);
    out->snapshots = atomic_load(&m->snapshots);
    out->snapshot_stall_ns = atomic_load(&m->snapshot_stall_ns);
    out->recovered_snapshot_seq = m->rec.empty ? 0 : m->rec.snapshot_seq;
}

/* ---- sequencer ------------------------------------------------------------- */

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Records now - t_rx for the timed commands of msgs[0..k). */
static void record_lat(lx_lathist_t *h, const lx_node_msg_t *msgs, uint32_t k, uint64_t now) {
    for (uint32_t i = 0; i < k; i++)
        if (msgs[i].t_rx && msgs[i].kind == LX_NODE_MSG_CMD)
            lx_lathist_add(h, now > msgs[i].t_rx ? now - msgs[i].t_rx : 0);
}

const char *lx_node_lat_stage_name(int stage) {
    static const char *const names[] = {"sequenced", "durable", "applied", "acked"};
    return stage >= 0 && stage < LX_NODE_LAT__COUNT ? names[stage] : "?";
}

void lx_node_latency(const lx_node_t *n, int stage, lx_lathist_t *out) {
    if (stage < 0 || stage >= LX_NODE_LAT__COUNT) return;
    if (stage == LX_NODE_LAT_ACKED) {
        for (unsigned i = 0; i < n->ngw; i++) lx_lathist_merge(out, &n->gw[i].acked);
        return;
    }
    lx_lathist_merge(out, &n->lat[stage]);
}

void lx_node_fsync_latency(const lx_node_t *n, lx_lathist_t *out) {
    lx_lathist_merge(out, &n->fsync_lat);
}

void lx_node_record_acked(lx_node_t *n, unsigned gw, uint64_t t_rx, uint64_t now) {
    if (gw < n->ngw && t_rx) lx_lathist_add(&n->gw[gw].acked, now > t_rx ? now - t_rx : 0);
}

/* Stamps and appends one command. */
static int seq_append(lx_node_t *n, lx_cmd_t *c, const lx_journal_auth_t *auth) {
    int64_t ts = now_ns();
    if (ts < n->last_ts) ts = n->last_ts;
    c->seq = n->next_seq;
    c->ts = ts;
    int rc = lx_journal_append(n->journal, c, auth && auth->scheme != LX_AUTH_NONE ? auth : NULL);
    if (rc) return rc;
    n->next_seq++;
    n->last_ts = ts;
    return 0;
}

/* Forwards msgs[0..k) to the engine ring (blocking while it is full). */
static void seq_forward(lx_node_t *n, const lx_node_msg_t *msgs, uint32_t k) {
    uint32_t done = 0;
    while (done < k) {
        int g = lx_ring_reserve_wait(n->shard.ring, k - done, LX_RING_FOREVER);
        if (g <= 0) return; /* closed: shutting down */
        for (int i = 0; i < g; i++)
            memcpy(lx_ring_wslot(n->shard.ring, (uint32_t)i), &msgs[done + (uint32_t)i],
                   sizeof *msgs);
        lx_ring_commit(n->shard.ring, (uint32_t)g);
        done += (uint32_t)g;
    }
}

/* Commits the journal and forwards the batch once it is durable. */
static void seq_flush(lx_node_t *n, lx_node_msg_t *msgs, uint32_t k, uint64_t ncmd) {
    if (k == 0) return;
    if (atomic_load(&n->failed)) return;
    uint64_t t0 = ncmd ? mono_ns() : 0;
    int rc = ncmd ? lx_journal_commit(n->journal) : 0;
    uint64_t last = n->next_seq - 1;
    if (rc || lx_journal_durable_seq(n->journal) < last) {
        if (!rc) rc = LX_EIO;
        atomic_store(&n->journal_error, rc);
        atomic_store(&n->failed, true);
        logf_(n, "lxdexd: journal commit failed (%s): the node takes no more commands\n",
              lx_strerror(rc));
        return;
    }
    atomic_store(&n->durable, last);
    if (ncmd) {
        uint64_t t1 = mono_ns();
        lx_lathist_add(&n->fsync_lat, t1 - t0);
        record_lat(&n->lat[LX_NODE_LAT_DURABLE], msgs, k, t1);
    }
    if (ncmd) atomic_fetch_add(&n->batches, 1);
    atomic_fetch_add(&n->commands, ncmd);
    seq_forward(n, msgs, k);
}

static void seq_boot(lx_node_t *n) {
    const lx_config_t *cfg = n->cfg;
    size_t nb = lx_config_boot_cmds(cfg, UINT32_MAX, NULL, 0);
    size_t nf = cfg->node.dev_mode ? (size_t)n->opts.faucet_accounts * cfg->nfaucet : 0;
    lx_node_msg_t *msgs = calloc(nb + nf + 1, sizeof *msgs);
    lx_cmd_t *cmds = calloc(nb + 1, sizeof *cmds);
    if (!msgs || !cmds) {
        atomic_store(&n->failed, true);
        free(msgs);
        free(cmds);
        return;
    }
    lx_config_boot_cmds(cfg, UINT32_MAX, cmds, nb);
    uint32_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < nb && !rc; i++) {
        msgs[k].kind = LX_NODE_MSG_CMD;
        msgs[k].cmd = cmds[i];
        rc = seq_append(n, &msgs[k].cmd, NULL);
        k++;
    }
    for (uint32_t a = 1; a <= n->opts.faucet_accounts && nf && !rc; a++) {
        for (size_t f = 0; f < cfg->nfaucet && !rc; f++) {
            lx_node_msg_t *m = &msgs[k++];
            m->kind = LX_NODE_MSG_CMD;
            m->cmd.type = LX_CMD_DEPOSIT;
            m->cmd.u.deposit.account = a;
            m->cmd.u.deposit.asset = cfg->faucet[f].asset;
            m->cmd.u.deposit.amount = cfg->faucet[f].amount;
            m->cmd.u.deposit.deposit_id = ((uint64_t)1 << 63) | ((uint64_t)a << 20) | f;
            rc = seq_append(n, &m->cmd, NULL);
        }
    }
    if (rc) {
        atomic_store(&n->journal_error, rc);
        atomic_store(&n->failed, true);
        logf_(n, "lxdexd: journaling the boot commands failed: %s\n", lx_strerror(rc));
    } else {
        seq_flush(n, msgs, k, k);
        logf_(n,
              "lxdexd: journaled %zu boot commands and %zu faucet deposits (dev accounts "
              "1..%u)\n",
              nb, nf, nf ? n->opts.faucet_accounts : 0);
    }
    free(msgs);
    free(cmds);
}

/*
 * A snapshot, from the sequencer (the journal's thread): a PARK message
 * follows everything already forwarded down the engine ring; when the
 * engine thread reaches it, it flushes its reports and waits. The engine is
 * then quiescent and holds exactly the durable commands, so this thread may
 * read it: lx_journal_snapshot_start() rotates the segment and forks a child
 * that writes the copy-on-write image. Then the engine thread goes on. The
 * stall is the engine ring's drain plus fork(). The child is reaped by
 * lx_journal_snapshot_poll() before the next one, and at shutdown.
 */
static void seq_snapshot(lx_node_t *n) {
    int rc = lx_journal_snapshot_poll(n->journal, false);
    if (rc == LX_EAGAIN) return; /* the last one is still being written */
    if (rc) logf_(n, "lxdexd: snapshot failed: %s\n", lx_strerror(rc));
    uint64_t t0 = mono_ns();
    lx_node_msg_t park;
    memset(&park, 0, sizeof park);
    park.kind = LX_NODE_MSG_PARK;
    seq_forward(n, &park, 1);
    pthread_mutex_lock(&n->park_mu);
    while (n->park_state != 1 && !lx_ring_closed(n->shard.ring))
        pthread_cond_wait(&n->park_cv, &n->park_mu);
    bool parked = n->park_state == 1;
    pthread_mutex_unlock(&n->park_mu);
    if (parked) {
        rc = lx_journal_snapshot_start(n->journal, n->shard.engine, NULL);
        pthread_mutex_lock(&n->park_mu);
        n->park_state = 2;
        pthread_cond_broadcast(&n->park_cv);
        pthread_mutex_unlock(&n->park_mu);
        uint64_t stall = mono_ns() - t0;
        if (stall > atomic_load(&n->snapshot_stall_ns)) atomic_store(&n->snapshot_stall_ns, stall);
        if (rc)
            logf_(n, "lxdexd: snapshot at seq %llu failed: %s\n",
                  (unsigned long long)(n->next_seq - 1), lx_strerror(rc));
        else
            atomic_fetch_add(&n->snapshots, 1);
        if (lx_journal_error(n->journal)) {
            atomic_store(&n->journal_error, lx_journal_error(n->journal));
            atomic_store(&n->failed, true);
            logf_(n, "lxdexd: the journal failed during a snapshot: the node takes no more "
                     "commands\n");
        }
    }
    n->since_snapshot = 0;
}

/* True when some gateway's in ring holds work or was closed and not yet
 * seen drained. */
static bool seq_pending(lx_node_t *n) {
    for (uint32_t i = 0; i < n->ngw; i++) {
        gateway_t *g = &n->gw[i];
        if (!g->gone && (lx_ring_peek(g->in, 1) > 0 || lx_ring_closed(g->in))) return true;
    }
    return false;
}

/* Waits for work or the next tick: spins briefly, then sleeps on the bell
 * (see lx_node_kick for the other half of the handshake). */
static void seq_wait(lx_node_t *n) {
    for (int i = 0; i < LX_RING_SPIN_DEFAULT * 4; i++) {
        if (seq_pending(n)) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    uint32_t bell = atomic_load(&n->bell);
    atomic_store(&n->seq_sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (!seq_pending(n)) {
        int64_t wait = n->tick_ns == INT64_MAX ? 1000000000 : n->last_tick + n->tick_ns - now_ns();
        if (wait < 100000) wait = 100000;
        if (wait > 1000000000) wait = 1000000000;
        struct timespec ts = {wait / 1000000000, wait % 1000000000};
        syscall(SYS_futex, &n->bell, FUTEX_WAIT_PRIVATE, bell, &ts, NULL, 0);
    }
    atomic_store(&n->seq_sleeping, 0);
}

/* Journals m's command (when it is one) into batch[*k]. */
static void seq_take(lx_node_t *n, const lx_node_msg_t *m, lx_node_msg_t *batch, uint32_t *k,
                     uint64_t *ncmd, bool *failed) {
    if (*failed) return;
    batch[*k] = *m;
    if (m->kind == LX_NODE_MSG_CMD) {
        int rc = seq_append(n, &batch[*k].cmd, &batch[*k].auth);
        if (rc) {
            atomic_store(&n->journal_error, rc);
            atomic_store(&n->failed, true);
            logf_(n, "lxdexd: journal append failed (%s): the node takes no more commands\n",
                  lx_strerror(rc));
            *failed = true;
            return;
        }
        (*ncmd)++;
    }
    (*k)++;
}

/*
 * The sequencer: each round takes up to BATCH messages from every gateway's
 * in ring (in gateway order, so no gateway starves another), journals the
 * commands, adds a TICK when tick_ns of wall time passed since the last one
 * (GTD expiry and dead man's switches happen through the log), commits once
 * and forwards the round to the engine. It ends when every in ring is
 * closed and drained.
 */
static void *seq_main(void *arg) {
    lx_node_t *n = arg;
    size_t cap = (size_t)BATCH * n->ngw + 1;
    lx_node_msg_t *batch = malloc(cap * sizeof *batch);
    if (!batch) {
        atomic_store(&n->failed, true);
        lx_ring_close(n->shard.ring);
        return NULL;
    }
    n->last_tick = now_ns();
    for (;;) {
        uint32_t k = 0, open = 0;
        uint64_t ncmd = 0;
        bool failed = atomic_load(&n->failed);
        for (uint32_t i = 0; i < n->ngw; i++) {
            gateway_t *g = &n->gw[i];
            if (g->gone) continue;
            bool closed = lx_ring_closed(g->in); /* before the peek: nothing committed
                                                    before the close is missed */
            uint32_t got = lx_ring_peek(g->in, BATCH);
            if (got == 0 && closed) {
                g->gone = true;
                continue;
            }
            open++;
            for (uint32_t j = 0; j < got; j++)
                seq_take(n, lx_ring_rslot(g->in, j), batch, &k, &ncmd, &failed);
            lx_ring_release(g->in, got);
        }
        if (open == 0) break;
        int64_t now = now_ns();
        if (!failed && now - n->last_tick >= n->tick_ns) {
            lx_node_msg_t tick;
            memset(&tick, 0, sizeof tick);
            tick.kind = LX_NODE_MSG_CMD;
            tick.cmd.type = LX_CMD_TICK;
            seq_take(n, &tick, batch, &k, &ncmd, &failed);
            n->last_tick = now;
        }
        if (k == 0) {
            seq_wait(n);
            continue;
        }
        record_lat(&n->lat[LX_NODE_LAT_SEQUENCED], batch, k, mono_ns());
        if (!failed) seq_flush(n, batch, k, ncmd);
        n->since_snapshot += ncmd;
        if (n->cfg->journal.snapshot_every_commands && !atomic_load(&n->failed) &&
            n->since_snapshot >= n->cfg->journal.snapshot_every_commands)
            seq_snapshot(n);
    }
    if (!atomic_load(&n->failed)) lx_journal_commit(n->journal);
    int src = lx_journal_snapshot_poll(n->journal, true);
    if (src) logf_(n, "lxdexd: snapshot failed: %s\n", lx_strerror(src));
    lx_ring_close(n->shard.ring);
    free(batch);
    return NULL;
}

/* ---- engine thread ----------------------------------------------------------- */

static void gw_flush(lx_node_t *n, gateway_t *g) {
    uint32_t done = 0;
    while (done < g->nstaged) {
        int k = lx_ring_reserve_wait(g->out, g->nstaged - done, LX_RING_FOREVER);
        if (k <= 0) break; /* closed */
        for (int i = 0; i < k; i++)
            memcpy(lx_ring_wslot(g->out, (uint32_t)i), &g->staged[done + (uint32_t)i],
                   sizeof *g->staged);
        lx_ring_commit(g->out, (uint32_t)k);
        done += (uint32_t)k;
        if (g->notify) g->notify(g->notify_ctx);
    }
    atomic_fetch_add(&n->reports, g->nstaged);
    g->nstaged = 0;
}

static void stage_flush(shard_t *s) {
    lx_node_t *n = s->node;
    for (uint32_t i = 0; i < n->ngw; i++)
        if (n->gw[i].nstaged) gw_flush(n, &n->gw[i]);
}

/* A zeroed slot in gateway gw's batch. */
static lx_node_out_t *stage(shard_t *s, unsigned gw) {
    gateway_t *g = &s->node->gw[gw];
    if (g->nstaged == g->staged_cap) gw_flush(s->node, g);
    lx_node_out_t *o = &g->staged[g->nstaged++];
    memset(o, 0, sizeof *o);
    return o;
}

/*
 * Sends out message o (sessions filled, kind and ev set) to the gateways
 * that should see it: every market-data gateway, and every gateway one of
 * the sessions belongs to; each copy keeps only that gateway's sessions,
 * and the tag when the command's session is that gateway's.
 */
static void dispatch(shard_t *s, const lx_node_out_t *o) {
    lx_node_t *n = s->node;
    if (n->ngw == 1 && !n->gw[0].flags) { /* the common case: one binary gateway */
        if (!o->session[0] && !o->session[1]) return;
        lx_node_out_t *c = stage(s, 0);
        *c = *o;
        if (s->cur_session && LX_NODE_SESSION_GW(s->cur_session) == 0)
            c->tag = s->cur_tag, c->t_rx = s->cur_t_rx;
        return;
    }
    for (uint32_t i = 0; i < n->ngw; i++) {
        bool mine0 = o->session[0] && LX_NODE_SESSION_GW(o->session[0]) == i;
        bool mine1 = o->session[1] && LX_NODE_SESSION_GW(o->session[1]) == i;
        if (!mine0 && !mine1 && !(n->gw[i].flags & LX_NODE_GW_MARKET_DATA)) continue;
        lx_node_out_t *c = stage(s, i);
        *c = *o;
        if (!mine0) c->session[0] = 0;
        if (!mine1) c->session[1] = 0;
        if (s->cur_session && LX_NODE_SESSION_GW(s->cur_session) == i)
            c->tag = s->cur_tag, c->t_rx = s->cur_t_rx;
    }
}

static route_t *route_slot(shard_t *s, lx_order_id_t id) {
    return &s->routes[(uint32_t)id & (s->nroutes - 1)];
}

/* The session an order's reports go to, and its client id. */
static uint64_t route_of(shard_t *s, lx_order_id_t id, lx_account_id_t account,
                         uint64_t *client_id) {
    route_t *r = route_slot(s, id);
    if (r->order_id == id) {
        *client_id = r->client_id;
        return r->session;
    }
    *client_id = 0;
    return account < s->naccounts ? s->account_session[account] : 0;
}

static void route_end(shard_t *s, lx_order_id_t id) {
    route_t *r = route_slot(s, id);
    if (r->order_id == id) memset(r, 0, sizeof *r);
}

/* The session that sent the command being applied, when it acts on an
 * order of its own account and is not the order's session already: it
 * gets the cancel or amend it asked for as well as the owner does (a new
 * session, such as a command-line client, sees the answer to its request).
 * Expiries and another account's commands give 0. */
static uint64_t requester(const shard_t *s, lx_account_id_t account, uint64_t owner) {
    if (!s->cur_session || s->cur_account != account || s->cur_session == owner) return 0;
    return s->cur_session;
}

static void on_event(void *ctx, const lx_event_t *ev) {
    shard_t *s = ctx;
    lx_node_out_t o;
    o.session[0] = o.session[1] = 0;
    o.client_id[0] = o.client_id[1] = 0;
    switch (ev->type) {
    case LX_EV_ORDER_ACCEPTED: {
        const lx_ev_accepted_t *a = &ev->u.accepted;
        route_t *r = route_slot(s, a->order_id);
        r->order_id = a->order_id;
        r->session = s->cur_session
                         ? s->cur_session
                         : (a->account < s->naccounts ? s->account_session[a->account] : 0);
        r->client_id = a->client_id;
        o.session[0] = r->session;
        o.client_id[0] = a->client_id;
        break;
    }
    case LX_EV_TRADE: {
        const lx_ev_trade_t *t = &ev->u.trade;
        o.session[0] = route_of(s, t->maker_order, t->maker_account, &o.client_id[0]);
        o.session[1] = route_of(s, t->taker_order, t->taker_account, &o.client_id[1]);
        if (t->maker_remaining == 0) route_end(s, t->maker_order);
        if (t->taker_remaining == 0) route_end(s, t->taker_order);
        break;
    }
    case LX_EV_ORDER_CANCELED: {
        const lx_ev_canceled_t *c = &ev->u.canceled;
        uint64_t cid, to = route_of(s, c->order_id, c->account, &cid);
        route_end(s, c->order_id);
        uint64_t req = requester(s, c->account, to);
        o.session[0] = to ? to : req;
        o.session[1] = to ? req : 0;
        o.client_id[0] = o.client_id[1] = c->client_id;
        break;
    }
    case LX_EV_ORDER_AMENDED: {
        const lx_ev_amended_t *a = &ev->u.amended;
        uint64_t cid, to = route_of(s, a->order_id, a->account, &cid);
        uint64_t req = requester(s, a->account, to);
        if (req) { /* the order's later reports follow the session that amended it */
            route_t *r = route_slot(s, a->order_id);
            if (r->order_id == a->order_id) r->session = req;
        }
        o.session[0] = to ? to : req;
        o.session[1] = to ? req : 0;
        o.client_id[0] = o.client_id[1] = a->client_id;
        break;
    }
    case LX_EV_KEY_BOUND:
    case LX_EV_AGENT_APPROVED:
    case LX_EV_AGENT_REVOKED: {
        /* the session that sent the command (the owner's, or the bridge's
         * for a bind), else the account's last bound session */
        lx_account_id_t a = ev->u.key.account;
        o.session[0] = s->cur_session     ? s->cur_session
                       : a < s->naccounts ? s->account_session[a]
                                          : 0;
        break;
    }
    case LX_EV_DEADMAN: {
        /* armed or cleared: the session that asked; fired (by a TICK): the
         * account's last bound session */
        lx_account_id_t a = ev->u.deadman.account;
        o.session[0] = s->cur_session && s->cur_account == a ? s->cur_session
                       : a < s->naccounts                    ? s->account_session[a]
                                                             : 0;
        break;
    }
    case LX_EV_REJECTED:
        /* any command a session sent (the node's own have session 0) */
        if (s->cur_session) {
            o.session[0] = s->cur_session;
            o.client_id[0] = ev->u.rejected.client_id;
        }
        break;
    default:
        break;
    }
    o.kind = LX_NODE_OUT_EVENT;
    o.found = false;
    o.tag = 0;
    o.t_rx = 0;
    o.ev = *ev;
    dispatch(s, &o);
}

static void eng_status(shard_t *s, const lx_node_msg_t *m) {
    unsigned gw = LX_NODE_SESSION_GW(m->session);
    if (!m->session || gw >= s->node->ngw) return;
    lx_node_out_t *o = stage(s, gw);
    o->kind = LX_NODE_OUT_STATUS;
    o->tag = m->tag;
    o->session[0] = m->session;
    lx_order_info_t oi;
    bool found = false;
    if (m->status.by_client_id) {
        lx_order_info_t buf[64];
        size_t total = lx_engine_account_orders(s->engine, m->account, buf, 64);
        lx_order_info_t *all = buf;
        if (total > 64) {
            all = malloc(total * sizeof *all);
            if (all)
                total = lx_engine_account_orders(s->engine, m->account, all, total);
            else
                total = 64, all = buf;
        }
        for (size_t i = 0; i < total; i++) {
            if (all[i].client_id == m->status.client_id &&
                (m->status.market == LX_MARKET_ALL || all[i].market == m->status.market)) {
                oi = all[i];
                found = true;
                break;
            }
        }
        if (all != buf) free(all);
    } else if (lx_engine_order(s->engine, m->status.order_id, &oi) == 0 &&
               oi.account == m->account) {
        found = true;
    }
    o->found = found;
    if (found) {
        o->order = oi;
    } else {
        o->order.market = m->status.market;
        o->order.order_id = m->status.order_id;
        o->order.client_id = m->status.client_id;
    }
}

/* ---- the start-up state for market-data gateways (lx_node_out_t, STATE) ---- */

typedef struct {
    shard_t *s;
    unsigned gw;
} dump_ctx_t;

static void dump_balance(void *ctx, lx_account_id_t a, lx_asset_id_t asset, int64_t free_,
                         int64_t locked) {
    dump_ctx_t *d = ctx;
    lx_node_out_t *o = stage(d->s, d->gw);
    o->kind = LX_NODE_OUT_STATE;
    o->ev.type = LX_EV_BALANCE;
    o->ev.market = LX_MARKET_NONE;
    o->ev.u.balance = (lx_ev_balance_t){a, asset, free_, locked};
}

/* Markets with their levels, balances, keys, then open orders per market and side
 * in priority order. Runs on the engine thread before the first command. */
static void dump_state(shard_t *s, unsigned gw) {
    const lx_engine_t *e = s->engine;
    const lx_engine_config_t *ec = lx_engine_config(e);
    size_t cap = 0;
    lx_level_t *lv = NULL;
    lx_order_info_t *ords = NULL;
    for (lx_market_id_t m = 0; m < ec->max_markets; m++) {
        lx_market_info_t mi;
        if (lx_engine_market_info(e, m, &mi)) continue;
        lx_node_out_t *o = stage(s, gw);
        o->kind = LX_NODE_OUT_STATE;
        o->ev.type = LX_EV_MARKET_STATE;
        o->ev.market = m;
        o->ev.market_seq = mi.market_seq;
        o->ev.u.market_state.halted = mi.halted;
        for (uint8_t side = 0; side < 2; side++) {
            size_t want = side == LX_SIDE_BUY ? mi.bid_levels : mi.ask_levels;
            if (want > cap) {
                lx_level_t *nl = realloc(lv, want * sizeof *nl);
                if (!nl) continue;
                lv = nl, cap = want;
            }
            size_t got = lx_engine_levels(e, m, (lx_side_t)side, lv, want);
            for (size_t i = 0; i < got; i++) {
                o = stage(s, gw);
                o->kind = LX_NODE_OUT_STATE;
                o->ev.type = LX_EV_BOOK_LEVEL;
                o->ev.market = m;
                o->ev.market_seq = mi.market_seq;
                o->ev.u.level = (lx_ev_level_t){side, lv[i].price, lv[i].qty, lv[i].count};
            }
        }
    }
    dump_ctx_t d = {s, gw};
    lx_engine_foreach_balance(e, dump_balance, &d);
    /* every key the engine knows, as the event that made it what it is now */
    for (uint32_t i = 0, nk = lx_engine_key_count(e); i < nk; i++) {
        lx_key_info_t k;
        lx_engine_key_nth(e, i, &k);
        lx_node_out_t *o = stage(s, gw);
        o->kind = LX_NODE_OUT_STATE;
        o->ev.type = k.role == LX_KEY_OWNER   ? LX_EV_KEY_BOUND
                     : k.role == LX_KEY_AGENT ? LX_EV_AGENT_APPROVED
                                              : LX_EV_AGENT_REVOKED;
        o->ev.market = LX_MARKET_NONE;
        o->ev.u.key.account = k.account;
        memcpy(o->ev.u.key.key, k.key, sizeof o->ev.u.key.key);
        memcpy(o->ev.u.key.name, k.name, sizeof o->ev.u.key.name);
        o->ev.u.key.expiry = k.expiry;
    }
    for (lx_market_id_t m = 0; m < ec->max_markets; m++) {
        lx_market_info_t mi;
        if (lx_engine_market_info(e, m, &mi) || mi.orders == 0) continue;
        lx_order_info_t *no = realloc(ords, mi.orders * sizeof *no);
        if (!no) continue;
        ords = no;
        for (uint8_t side = 0; side < 2; side++) {
            size_t got = lx_engine_book_orders(e, m, (lx_side_t)side, ords, mi.orders);
            if (got > mi.orders) got = mi.orders;
            for (size_t i = 0; i < got; i++) {
                lx_node_out_t *o = stage(s, gw);
                o->kind = LX_NODE_OUT_STATE;
                o->ev.type = LX_EV_ORDER_ACCEPTED;
                o->ev.market = m;
                o->order = ords[i];
            }
        }
    }
    free(lv);
    free(ords);
    stage(s, gw)->kind = LX_NODE_OUT_STATE_END;
    stage_flush(s);
}

static void *eng_main(void *arg) {
    shard_t *s = arg;
    lx_sink_t sink = {.emit = on_event, .ctx = s};
    for (unsigned i = 0; i < s->node->ngw; i++)
        if (s->node->gw[i].flags & LX_NODE_GW_MARKET_DATA) dump_state(s, i);
    for (;;) {
        int g = lx_ring_peek_wait(s->ring, BATCH, LX_RING_FOREVER);
        if (g == LX_ECLOSED) break;
        if (g <= 0) continue;
        for (int i = 0; i < g; i++) {
            const lx_node_msg_t *m = lx_ring_rslot(s->ring, (uint32_t)i);
            switch (m->kind) {
            case LX_NODE_MSG_CMD: {
                s->cur_session = m->session;
                s->cur_tag = m->tag;
                s->cur_t_rx = m->t_rx;
                switch (m->cmd.type) {
                case LX_CMD_PLACE:
                    s->cur_account = m->cmd.u.place.account;
                    break;
                case LX_CMD_CANCEL:
                    s->cur_account = m->cmd.u.cancel.account;
                    break;
                case LX_CMD_AMEND:
                    s->cur_account = m->cmd.u.amend.account;
                    break;
                case LX_CMD_CANCEL_ALL:
                    s->cur_account = m->cmd.u.cancel_all.account;
                    break;
                case LX_CMD_SCHEDULE_CANCEL:
                    s->cur_account = m->cmd.u.schedule_cancel.account;
                    break;
                default:
                    s->cur_account = LX_ACCOUNT_NONE;
                    break;
                }
                int rc;
                if (m->auth.scheme != LX_AUTH_NONE) {
                    lx_cmd_auth_t ca = {.scheme = m->auth.scheme, .nonce = m->auth.nonce};
                    memcpy(ca.key, m->auth.key, sizeof ca.key);
                    rc = lx_engine_apply_auth(s->engine, &m->cmd, &ca, &sink);
                } else {
                    rc = lx_engine_apply(s->engine, &m->cmd, &sink);
                }
                if (rc)
                    logf_(s->node, "lxdexd: engine refused seq %llu (%s)\n",
                          (unsigned long long)m->cmd.seq, lx_strerror(rc));
                unsigned gw = LX_NODE_SESSION_GW(m->session);
                if (m->session && gw < s->node->ngw && (s->node->gw[gw].flags & LX_NODE_GW_DONE)) {
                    lx_node_out_t *o = stage(s, gw);
                    o->kind = LX_NODE_OUT_DONE;
                    o->session[0] = m->session;
                    o->tag = m->tag;
                    o->ev.seq = m->cmd.seq;
                    o->ev.ts = m->cmd.ts;
                }
                s->cur_session = 0;
                s->cur_tag = 0;
                s->cur_t_rx = 0;
                break;
            }
            case LX_NODE_MSG_STATUS:
                eng_status(s, m);
                break;
            case LX_NODE_MSG_BIND:
                if (m->account < s->naccounts) s->account_session[m->account] = m->session;
                break;
            case LX_NODE_MSG_PARK: {
                lx_node_t *n = s->node;
                stage_flush(s);
                pthread_mutex_lock(&n->park_mu);
                n->park_state = 1;
                pthread_cond_broadcast(&n->park_cv);
                while (n->park_state == 1) pthread_cond_wait(&n->park_cv, &n->park_mu);
                n->park_state = 0;
                pthread_mutex_unlock(&n->park_mu);
                break;
            }
            default:
                break;
            }
        }
        uint64_t now = mono_ns();
        for (int i = 0; i < g; i++) {
            const lx_node_msg_t *m = lx_ring_rslot(s->ring, (uint32_t)i);
            if (m->t_rx && m->kind == LX_NODE_MSG_CMD)
                lx_lathist_add(&s->node->lat[LX_NODE_LAT_APPLIED],
                               now > m->t_rx ? now - m->t_rx : 0);
        }
        lx_ring_release(s->ring, (uint32_t)g);
        stage_flush(s);
    }
    stage_flush(s);
    for (unsigned i = 0; i < s->node->ngw; i++) {
        gateway_t *g = &s->node->gw[i];
        lx_ring_close(g->out);
        if (g->notify) g->notify(g->notify_ctx);
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

int lx_node_start(lx_node_t *n) {
    if (n->started) return LX_ESTATE;
    if (pthread_create(&n->shard.thread, NULL, eng_main, &n->shard)) return LX_ENOMEM;
    /* The boot batch runs here, before the sequencer thread exists (which
     * then owns the journal), so that the node is ready when start returns. */
    if (n->boot) {
        seq_boot(n);
        n->boot = false;
        if (atomic_load(&n->failed)) {
            lx_ring_close(n->shard.ring);
            pthread_join(n->shard.thread, NULL);
            int rc = atomic_load(&n->journal_error);
            return rc ? rc : LX_EIO;
        }
    }
    if (pthread_create(&n->seq_thread, NULL, seq_main, n)) {
        lx_ring_close(n->shard.ring);
        pthread_join(n->shard.thread, NULL);
        return LX_ENOMEM;
    }
    pthread_setname_np(n->seq_thread, "lx-sequencer");
    pthread_setname_np(n->shard.thread, "lx-engine");
    n->started = true;
    return 0;
}

void lx_node_join(lx_node_t *n) {
    if (!n->started || n->joined) return;
    lx_node_stop_inputs(n);
    pthread_join(n->seq_thread, NULL);
    pthread_join(n->shard.thread, NULL);
    n->joined = true;
    logf_(n, "lxdexd: stopped at seq %llu, digest %016llx\n",
          (unsigned long long)lx_engine_last_seq(n->shard.engine),
          (unsigned long long)lx_engine_digest(n->shard.engine));
}

void lx_node_close(lx_node_t *n) {
    if (!n) return;
    if (n->started && !n->joined) {
        /* The gateways are gone: nobody drains the out rings. */
        for (unsigned i = 0; i < n->ngw; i++) lx_ring_close(n->gw[i].out);
        lx_node_join(n);
    }
    if (n->journal) lx_journal_close(n->journal);
    lx_engine_destroy(n->shard.engine);
    for (unsigned i = 0; i < n->ngw; i++) {
        lx_ring_destroy(n->gw[i].in);
        lx_ring_destroy(n->gw[i].out);
        free(n->gw[i].staged);
    }
    lx_ring_destroy(n->shard.ring);
    free(n->shard.routes);
    free(n->shard.account_session);
    pthread_mutex_destroy(&n->park_mu);
    pthread_cond_destroy(&n->park_cv);
    free(n);
}
