/*
 * sequencer.c: the node's sequencer and journal stage (ARCHITECTURE.md §4).
 *
 * Each round takes up to BATCH messages from every gateway's in ring (in
 * gateway order, so none starves another) and routes each to a shard:
 *
 *   by market       PLACE, CANCEL, AMEND (their market must match the order's),
 *                   a CANCEL_ALL of one market, the market commands, a STATUS
 *                   that names its market
 *   by order id     a STATUS by order id for any market (the id names its shard)
 *   by msg.shard    DEPOSIT, WITHDRAW, TRANSFER (funds are held per shard)
 *   every shard     CREATE_ASSET, TICK, a CANCEL_ALL of every market, dead man's
 *                   switch, keys and agents, session bindings, a STATUS by client
 *                   id for any market
 *
 * A command gets the next seq of each shard it goes to and a ts from
 * CLOCK_REALTIME (one per command, the same in every shard; at least 1 ns
 * after the last one, also across a restart: unique and increasing
 * node-wide, so that a ts names one command in every shard, which is how
 * reconcile.c finds the every-shard commands a shard lacks after a crash),
 * and is appended to that shard's journal with its auth section. Order ids
 * on the way in lose their shard bits (each journal holds its engine's own
 * ids). A TICK is added when tick_ns of wall time have passed (GTD expiry
 * and dead man's switches happen through the log). The round ends with one
 * commit per shard that got commands (one write and one fdatasync each:
 * group commit), and each
 * shard's part is forwarded to its engine ring only once
 * lx_journal_durable_seq() covers it: nothing reaches an engine, so no
 * report reaches a client, before it is durable. Queries and session
 * bindings pass through in order, unjournaled.
 *
 * The commits of a round are not atomic across shards: an I/O error or a
 * crash between them can leave a command every shard applies durable in
 * some shards only. Round r + 1 starts only once every shard committed
 * round r, and any failure stops the node, so the shards can differ only
 * about the last round, none of whose every-shard commands was
 * acknowledged; and every shard gets the every-shard commands in the same
 * order, so what each holds of them is a prefix of one list. The next start
 * completes that prefix in every shard before anything else (reconcile.c).
 *
 * If a journal fails (its errors are sticky), or an append is refused
 * (LX_EINVAL: a command that does not encode), or an engine fails, the
 * sequencer forwards nothing more: the round is dropped and the node is
 * marked failed; the gateways then answer requests with UNAVAILABLE. A
 * dropped round's commands, already appended to some journals, are
 * discarded from their open batches (lx_journal_discard, seq_discard): they
 * were never forwarded nor acknowledged, and must not become durable when
 * the journals are closed and be applied after a restart.
 *
 * With several in rings the sequencer cannot sleep on one ring's futex: it
 * spins briefly, then sleeps on the node's `bell`, which a gateway rings
 * (lx_node_kick) after a commit only when the sequencer said it sleeps.
 *
 * Snapshots (journal.snapshot_every_commands, counted per shard): see
 * seq_snapshot().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "lx/engine.h"
#include "lx/error.h"
#include "node_int.h"

#define TO_ALL UINT32_MAX

/* Records now - t_rx for the timed commands of msgs[0..k). */
static void record_lat(lx_lathist_t *h, const lx_node_msg_t *msgs, uint32_t k, uint64_t now) {
    for (uint32_t i = 0; i < k; i++)
        if (msgs[i].t_rx && msgs[i].kind == LX_NODE_MSG_CMD)
            lx_lathist_add(h, now > msgs[i].t_rx ? now - msgs[i].t_rx : 0);
}

/* The shard a command goes to, or TO_ALL; shard: the message's (funds). The
 * one rule for commands, shared with recovery (lx__node_every_shard). */
static uint32_t cmd_route(const lx_node_t *n, const lx_cmd_t *c, uint8_t shard) {
    if (n->nshards == 1) return 0;
    /* one list for the engine's nonces and this routing (lx/command.h) */
    if (lx_cmd_every_shard(c)) return TO_ALL;
    switch (c->type) {
    case LX_CMD_CREATE_MARKET:
        return lx_node_market_shard(n, c->u.create_market.market);
    case LX_CMD_SET_MARKET_STATE:
        return lx_node_market_shard(n, c->u.set_market_state.market);
    case LX_CMD_SET_FEES:
        return lx_node_market_shard(n, c->u.set_fees.market);
    case LX_CMD_PLACE:
        return lx_node_market_shard(n, c->u.place.market);
    case LX_CMD_CANCEL:
        return lx_node_market_shard(n, c->u.cancel.market);
    case LX_CMD_AMEND:
        return lx_node_market_shard(n, c->u.amend.market);
    case LX_CMD_CANCEL_ALL: /* of one market */
        return lx_node_market_shard(n, c->u.cancel_all.market);
    default: /* deposit, withdraw, transfer */
        return shard < n->nshards ? shard : 0;
    }
}

bool lx__node_every_shard(const lx_node_t *n, const lx_cmd_t *c) {
    return cmd_route(n, c, 0) == TO_ALL;
}

/* The shard a message goes to, or TO_ALL. */
static uint32_t route(const lx_node_t *n, const lx_node_msg_t *m) {
    if (n->nshards == 1) return 0;
    if (m->kind == LX_NODE_MSG_BIND) return TO_ALL;
    if (m->kind == LX_NODE_MSG_STATUS) {
        if (!m->status.by_client_id) { /* the id names its shard, whatever the market says */
            unsigned k = LX_NODE_ORDER_SHARD(m->status.order_id);
            return k < n->nshards ? k : 0;
        }
        if (m->status.market != LX_MARKET_ALL) return lx_node_market_shard(n, m->status.market);
        return TO_ALL;
    }
    return cmd_route(n, &m->cmd, m->shard);
}

/* The next command's ts: CLOCK_REALTIME, but at least one ns after the last
 * one stamped (also before a restart: shard_open), so that a ts is unique
 * and increasing node-wide and names one command in every shard that got
 * it (reconcile.c relies on it). */
static int64_t next_ts(lx_node_t *n) {
    int64_t ts = lx__node_now_ns();
    if (ts <= n->last_ts) ts = n->last_ts + 1;
    n->last_ts = ts;
    return ts;
}

/* The engine's own id for an order id of shard k: the shard bits go. An id
 * of another shard keeps them (shard 0's get bits 63, LX_NODE_ORDER_FOREIGN),
 * so its slot is at least 2^26, which no order of shard k has: the engine
 * answers UNKNOWN_ORDER, and the shard thread echoes the id as it was. */
static lx_order_id_t localize(lx_order_id_t id, unsigned k) {
    unsigned own = LX_NODE_ORDER_SHARD(id);
    if (own == k) return LX_NODE_ORDER_LOCAL(id);
    return own ? id : id | LX_NODE_ORDER_SHARD_MASK;
}

/* Copies m into shard s's batch, localizing order ids, and journals it when
 * it is a command (ts: the command's, the same in every shard). */
static int put(shard_t *s, const lx_node_msg_t *m, uint8_t parts, int64_t ts) {
    lx_node_msg_t *d = &s->batch[s->nbatch];
    *d = *m;
    d->parts = parts;
    if (s->node->nshards > 1) {
        if (d->kind == LX_NODE_MSG_STATUS && !d->status.by_client_id)
            d->status.order_id = localize(d->status.order_id, s->index);
        else if (d->kind == LX_NODE_MSG_CMD && d->cmd.type == LX_CMD_CANCEL &&
                 !d->cmd.u.cancel.by_client_id)
            d->cmd.u.cancel.order_id = localize(d->cmd.u.cancel.order_id, s->index);
        else if (d->kind == LX_NODE_MSG_CMD && d->cmd.type == LX_CMD_AMEND &&
                 !d->cmd.u.amend.by_client_id)
            d->cmd.u.amend.order_id = localize(d->cmd.u.amend.order_id, s->index);
    }
    if (d->kind == LX_NODE_MSG_CMD) {
        d->cmd.seq = s->next_seq;
        d->cmd.ts = ts;
        int rc = lx_journal_append(s->journal, &d->cmd,
                                   d->auth.scheme != LX_AUTH_NONE ? &d->auth : NULL);
        if (rc) return rc;
        s->next_seq++;
        s->ncmd++;
    }
    s->nbatch++;
    return 0;
}

/* Routes, stamps and journals one message into the round's shard batches.
 * False once a journal failed. */
static bool seq_take(lx_node_t *n, const lx_node_msg_t *m) {
    int64_t ts = m->kind == LX_NODE_MSG_CMD ? next_ts(n) : 0;
    uint32_t to = route(n, m);
    int rc = 0;
    if (to != TO_ALL) {
        rc = put(&n->shards[to], m, 1, ts);
    } else if (m->kind == LX_NODE_MSG_STATUS) {
        struct lx_node_fan *fan = malloc(sizeof *fan); /* a query, not the order path */
        if (!fan) return true;                         /* unanswered: out of memory */
        atomic_init(&fan->left, n->nshards);
        atomic_init(&fan->found, 0);
        lx_node_msg_t c = *m;
        c.fan = fan;
        for (uint32_t k = 0; k < n->nshards; k++) put(&n->shards[k], &c, (uint8_t)n->nshards, 0);
    } else {
        for (uint32_t k = 0; k < n->nshards && !rc; k++)
            rc = put(&n->shards[k], m, (uint8_t)n->nshards, ts);
    }
    if (rc) {
        lx__node_fail(n, rc, "journal append failed");
        return false;
    }
    return true;
}

/* Forwards shard s's batch to its engine ring (blocking while it is full). */
static void seq_forward(shard_t *s, const lx_node_msg_t *msgs, uint32_t k) {
    uint32_t done = 0;
    while (done < k) {
        int g = lx_ring_reserve_wait(s->ring, k - done, LX_RING_FOREVER);
        if (g <= 0) return; /* closed: shutting down */
        for (int i = 0; i < g; i++)
            memcpy(lx_ring_wslot(s->ring, (uint32_t)i), &msgs[done + (uint32_t)i], sizeof *msgs);
        lx_ring_commit(s->ring, (uint32_t)g);
        done += (uint32_t)g;
    }
}

/* One shard's commit: 0 once its journal holds the round durably. */
static int commit_one(shard_t *s) {
    uint64_t t0 = lx__node_mono_ns();
    int rc = lx_journal_commit(s->journal);
    if (!rc && lx_journal_durable_seq(s->journal) < s->next_seq - 1) rc = LX_EIO;
    s->commit_ns = lx__node_mono_ns() - t0;
    return rc;
}

/* The hand-off between the sequencer and a committer: a state word both
 * sides wait on with a futex (no lock: one writer at a time, in turn). */
static void state_set(shard_t *s, uint32_t v) {
    atomic_store(&s->commit_state, v);
    syscall(SYS_futex, &s->commit_state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static uint32_t state_wait(shard_t *s, uint32_t a, uint32_t b) {
    for (;;) {
        uint32_t v = atomic_load(&s->commit_state);
        if (v == a || v == b) return v;
        syscall(SYS_futex, &s->commit_state, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
    }
}

/* A committer thread (shards 1..N-1): commits its shard's journal when the
 * sequencer asks (state 1), while the sequencer commits shard 0's, and
 * says so (state 2). The sequencer neither appends to that journal nor
 * reads it until then. */
static void *committer_main(void *arg) {
    shard_t *s = arg;
    while (state_wait(s, 1, 3) == 1) {
        s->commit_rc = commit_one(s);
        state_set(s, 2);
    }
    return NULL;
}

int lx__seq_committers_start(lx_node_t *n) {
    for (uint32_t k = 1; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (pthread_create(&s->committer, NULL, committer_main, s)) return LX_ENOMEM;
        s->committer_started = true;
        char name[16];
        snprintf(name, sizeof name, "lx-commit-%u", k % 100u);
        pthread_setname_np(s->committer, name);
    }
    return 0;
}

void lx__seq_committers_stop(lx_node_t *n) {
    for (uint32_t k = 1; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (!s->committer_started) continue;
        state_set(s, 3);
        pthread_join(s->committer, NULL);
        s->committer_started = false;
    }
}

/* Commits every shard's journal that got commands this round (shard 0's
 * here, the others' on their committer threads at the same time) and, once
 * all are durable, forwards each shard's batch. */
static void seq_flush(lx_node_t *n) {
    if (atomic_load(&n->failed)) return;
    uint64_t ncmd = 0;
    for (uint32_t k = 1; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (!s->ncmd) continue;
        if (!s->committer_started) {
            s->commit_rc = commit_one(s);
            atomic_store(&s->commit_state, 2);
            continue;
        }
        state_set(s, 1);
    }
    int rc0 = n->shards[0].ncmd ? commit_one(&n->shards[0]) : 0;
    int rc = rc0;
    for (uint32_t k = 1; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (!s->ncmd) continue;
        state_wait(s, 2, 2);
        atomic_store(&s->commit_state, 0);
        if (s->commit_rc && !rc) rc = s->commit_rc;
    }
    if (rc) {
        lx__node_fail(n, rc, "journal commit failed");
        return;
    }
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (!s->ncmd) continue;
        lx_lathist_add(&n->fsync_lat, s->commit_ns);
        atomic_store(&s->durable, s->next_seq - 1);
        ncmd += s->ncmd;
        atomic_fetch_add(&n->batches, 1);
    }
    uint64_t now = lx__node_mono_ns();
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (s->ncmd) record_lat(&n->lat[LX_NODE_LAT_DURABLE], s->batch, s->nbatch, now);
    }
    atomic_fetch_add(&n->commands, ncmd);
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (s->nbatch) seq_forward(s, s->batch, s->nbatch);
    }
}

/* After a failure: drops what the journals hold uncommitted (the dropped
 * round), so that lx_journal_close() writes none of it. Runs on the thread
 * that owns the journals (the sequencer, or the starting thread at boot). */
static void seq_discard(lx_node_t *n) {
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        uint32_t d = lx_journal_discard(s->journal);
        s->next_seq = lx_journal_last_seq(s->journal) + 1;
        if (d)
            lx__node_log(n, "lxdexd: shard %u: %u commands of the dropped round discarded\n", k, d);
    }
}

static void round_reset(lx_node_t *n) {
    for (uint32_t k = 0; k < n->nshards; k++) {
        n->shards[k].since_snapshot += n->shards[k].ncmd;
        n->shards[k].nbatch = 0;
        n->shards[k].ncmd = 0;
    }
}

/*
 * The boot commands of every shard with an empty journal (its assets and
 * markets) and, in dev mode, the faucet deposits into each of them (every
 * shard holds funds of its own). Runs on the starting thread, before the
 * sequencer thread exists.
 */
void lx__seq_boot(lx_node_t *n) {
    const lx_config_t *cfg = n->cfg;
    size_t nb = lx_config_boot_cmds(cfg, UINT32_MAX, NULL, 0);
    lx_cmd_t *cmds = calloc(nb + 1, sizeof *cmds);
    if (!cmds) {
        lx__node_fail(n, LX_ENOMEM, "boot");
        return;
    }
    size_t nf = cfg->node.dev_mode ? (size_t)n->opts.faucet_accounts * cfg->nfaucet : 0;
    for (uint32_t k = 0; k < n->nshards && !atomic_load(&n->failed); k++) {
        shard_t *s = &n->shards[k];
        if (!s->boot) continue;
        size_t nk = lx_config_boot_cmds(cfg, k, cmds, nb);
        lx_node_msg_t m;
        memset(&m, 0, sizeof m);
        m.kind = LX_NODE_MSG_CMD;
        int rc = 0;
        uint64_t nevery = 0;
        /* in pieces of BATCH: the shard's batch holds that many */
        for (size_t i = 0; i < nk + nf && !rc; i++) {
            if (i < s->boot_from) { /* durable already (a boot cut short) */
                if (n->nshards > 1 && i < nk && lx__node_every_shard(n, &cmds[i])) nevery++;
                continue;
            }
            if (i < nk) {
                m.cmd = cmds[i];
            } else {
                size_t j = i - nk;
                uint32_t a = (uint32_t)(j / cfg->nfaucet) + 1;
                size_t f = j % cfg->nfaucet;
                memset(&m.cmd, 0, sizeof m.cmd);
                m.cmd.type = LX_CMD_DEPOSIT;
                m.cmd.u.deposit.account = a;
                m.cmd.u.deposit.asset = cfg->faucet[f].asset;
                m.cmd.u.deposit.amount = cfg->faucet[f].amount;
                m.cmd.u.deposit.deposit_id = ((uint64_t)1 << 63) | ((uint64_t)a << 20) | f;
            }
            /* An every-shard boot command (an asset: they come first) is
             * the same command in every shard, whenever that shard boots:
             * it gets the same ts everywhere, its ordinal among them (1,
             * 2, ...), which names it for reconcile.c as a client's
             * command's ts does. The rest are the shard's own. */
            int64_t ts = n->nshards > 1 && i < nk && lx__node_every_shard(n, &m.cmd)
                             ? (int64_t)++nevery
                             : next_ts(n);
            rc = put(s, &m, 1, ts);
            if (!rc && s->nbatch == s->batch_cap) {
                seq_flush(n);
                round_reset(n);
            }
        }
        if (rc) {
            lx__node_fail(n, rc, "journaling the boot commands failed");
            break;
        }
        seq_flush(n);
        round_reset(n);
        s->boot = false;
        s->boot_from = 0;
        if (!atomic_load(&n->failed))
            lx__node_log(n,
                         "lxdexd: shard %u: journaled %zu boot commands and %zu faucet deposits "
                         "(dev accounts 1..%u)\n",
                         k, nk, nf, nf ? n->opts.faucet_accounts : 0);
    }
    if (atomic_load(&n->failed)) seq_discard(n);
    free(cmds);
}

/*
 * A snapshot of shard s, from the sequencer (the journal's thread): a PARK
 * message follows everything already forwarded down the engine ring; when
 * the engine thread reaches it, it flushes its reports and waits. The engine
 * is then quiescent and holds exactly the durable commands, so this thread
 * may read it: lx_journal_snapshot_start() rotates the segment and forks a
 * child that writes the copy-on-write image. Then the engine thread goes on.
 * The stall is the engine ring's drain plus fork(). The child is reaped by
 * lx_journal_snapshot_poll() before the next one, and at shutdown. Other
 * shards go on meanwhile.
 */
static void seq_snapshot(lx_node_t *n, shard_t *s) {
    int rc = lx_journal_snapshot_poll(s->journal, false);
    if (rc == LX_EAGAIN) return; /* the last one is still being written */
    if (rc)
        lx__node_log(n, "lxdexd: shard %u: snapshot failed: %s\n", s->index,
                     lx_journal_strerror(rc));
    uint64_t t0 = lx__node_mono_ns();
    lx_node_msg_t park;
    memset(&park, 0, sizeof park);
    park.kind = LX_NODE_MSG_PARK;
    seq_forward(s, &park, 1);
    pthread_mutex_lock(&s->park_mu);
    while (s->park_state != 1 && !lx_ring_closed(s->ring))
        pthread_cond_wait(&s->park_cv, &s->park_mu);
    bool parked = s->park_state == 1;
    pthread_mutex_unlock(&s->park_mu);
    if (parked) {
        rc = lx_journal_snapshot_start(s->journal, s->engine, NULL);
        pthread_mutex_lock(&s->park_mu);
        s->park_state = 2;
        pthread_cond_broadcast(&s->park_cv);
        pthread_mutex_unlock(&s->park_mu);
        uint64_t stall = lx__node_mono_ns() - t0;
        if (stall > atomic_load(&n->snapshot_stall_ns)) atomic_store(&n->snapshot_stall_ns, stall);
        if (rc)
            lx__node_log(n, "lxdexd: shard %u: snapshot at seq %llu failed: %s\n", s->index,
                         (unsigned long long)(s->next_seq - 1), lx_journal_strerror(rc));
        else
            atomic_fetch_add(&n->snapshots, 1);
        if (lx_journal_error(s->journal))
            lx__node_fail(n, lx_journal_error(s->journal), "the journal failed during a snapshot");
    }
    s->since_snapshot = 0;
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
        int64_t wait = n->tick_ns == INT64_MAX
                           ? 1000000000
                           : n->last_tick + n->tick_ns - (int64_t)lx__node_mono_ns();
        if (wait < 100000) wait = 100000;
        if (wait > 1000000000) wait = 1000000000;
        struct timespec ts = {wait / 1000000000, wait % 1000000000};
        syscall(SYS_futex, &n->bell, FUTEX_WAIT_PRIVATE, bell, &ts, NULL, 0);
    }
    atomic_store(&n->seq_sleeping, 0);
}

static void close_engine_rings(lx_node_t *n) {
    for (uint32_t k = 0; k < n->nshards; k++) lx_ring_close(n->shards[k].ring);
}

/* The sequencer thread: rounds until every in ring is closed and drained. */
void *lx__seq_main(void *arg) {
    lx_node_t *n = arg;
    n->last_tick = (int64_t)lx__node_mono_ns();
    for (;;) {
        uint32_t open = 0, taken = 0;
        bool ok = !atomic_load(&n->failed);
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
            for (uint32_t j = 0; j < got && ok; j++) ok = seq_take(n, lx_ring_rslot(g->in, j));
            lx_ring_release(g->in, got);
            taken += got;
        }
        if (open == 0) break;
        /* paced by the monotonic clock: a step of the wall clock (which
         * stamps the commands) neither stops the TICKs nor bunches them */
        int64_t now = (int64_t)lx__node_mono_ns();
        if (ok && now - n->last_tick >= n->tick_ns) {
            lx_node_msg_t tick;
            memset(&tick, 0, sizeof tick);
            tick.kind = LX_NODE_MSG_CMD;
            tick.cmd.type = LX_CMD_TICK;
            ok = seq_take(n, &tick);
            n->last_tick = now;
            taken++;
        }
        if (taken == 0) {
            seq_wait(n);
            continue;
        }
        uint64_t t = lx__node_mono_ns();
        for (uint32_t k = 0; k < n->nshards; k++)
            record_lat(&n->lat[LX_NODE_LAT_SEQUENCED], n->shards[k].batch, n->shards[k].nbatch, t);
        if (ok) seq_flush(n);
        if (atomic_load(&n->failed)) seq_discard(n);
        round_reset(n);
        uint64_t every = n->cfg->journal.snapshot_every_commands;
        for (uint32_t k = 0; k < n->nshards && every; k++)
            if (!atomic_load(&n->failed) && n->shards[k].since_snapshot >= every)
                seq_snapshot(n, &n->shards[k]);
    }
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (!atomic_load(&n->failed))
            lx_journal_commit(s->journal);
        else
            lx_journal_discard(s->journal); /* a failure after the last round */
        int src = lx_journal_snapshot_poll(s->journal, true);
        if (src)
            lx__node_log(n, "lxdexd: shard %u: snapshot failed: %s\n", k, lx_journal_strerror(src));
    }
    close_engine_rings(n);
    return NULL;
}
