/*
 * reconcile.c: making the shards of a node agree again about the commands
 * every shard applies, after a failure between their commits
 * (ARCHITECTURE.md §5, docs/node.md "Shards").
 *
 * The problem. Each shard journals on its own, and a round ends with one
 * commit per shard (sequencer.c), not atomic across shards: an I/O error or
 * a crash between two of them leaves a command that every shard applies
 * (asset creation, TICK, cancel-all of every market, dead man's switch,
 * keys, agents: lx__node_every_shard, the sequencer's own routing rule)
 * durable in some shards and not in others. Recovery alone would leave them
 * disagreeing for good (a key bound in shard 0 only: its orders on shard
 * 1's markets refused forever).
 *
 * What bounds it. Round r + 1 starts only after every shard committed round
 * r, and any failure stops the node, so the shards can differ only about
 * the last round R, none of whose every-shard commands was acknowledged
 * (acks wait for every shard). The sequencer appends every-shard commands
 * to every shard in the same order, and a journal's durable part is a
 * prefix of what was appended to it (groups are written and synced in
 * order, errors are sticky, a torn tail is cut), so each shard holds a
 * prefix of one list of every-shard commands. And a ts names a command
 * node-wide: the sequencer stamps ts = max(now, last + 1), the same in
 * every shard (an every-shard boot command gets its ordinal, the same in
 * every shard whenever it boots); seqs differ per shard.
 *
 * The repair, which is an append. While each shard is recovered
 * (lx_recover's on_cmd, lx__reconcile_collect) the every-shard commands of
 * its journal tail are kept with their auth sections: the last W of them,
 * W = BATCH x LX_NODE_GATEWAYS_MAX + 1, the most one round can hold, so the
 * whole of round R is among them. Then, before the boot commands
 * (lx__reconcile): L is the shard whose last every-shard command has the
 * greatest ts; every other shard k gets, in order, L's every-shard
 * commands whose ts is greater than k's last ts, with k's next seqs and
 * their original ts and auth; they are committed (one group), then applied
 * to k's engine as recovery would apply them. No byte of any file changes.
 *
 * Why k's last ts, and not the ts of k's last every-shard command: k holds
 * a prefix of its own commands, so everything it lacks comes after its last
 * command, and what it has comes at or before it; the two bounds select the
 * same commands, but the last ts is always known (a snapshot keeps it, even
 * when k's tail holds no every-shard command at all) and it is the bound
 * k's journal itself sets (ts never decreases within a journal).
 *
 * Idempotent: after a crash during reconciliation, the next start finds k's
 * last ts at the last command that became durable and appends the rest; a
 * clean start finds nothing to append (every shard's last ts is at or past
 * L's last every-shard command).
 *
 * Checks, so that it never makes things worse than no reconciliation: the
 * ts of k's last every-shard command, when L's kept commands reach back to
 * it, must be the ts of one of L's with the same type (journals written
 * before ts were unique gave the boot's assets each shard's own ts: such a
 * shard is left as it is, and the log says so); and when L's kept commands
 * do not reach back to k's last ts (more than W, which the bound above
 * rules out) nothing is appended either. A failure to append or commit
 * (I/O: sticky) or to apply stops the node from opening; the next start's
 * recovery replays whatever became durable, and reconciles the rest.
 *
 * Not here: a shard whose journal is empty boots (sequencer.c) and is left
 * out; the shards' own commands (orders, funds) are never copied.
 */
#include <stdlib.h>
#include <string.h>
#include "lx/engine.h"
#include "lx/error.h"
#include "node_int.h"

#define TAIL_MAX ((size_t)BATCH * LX_NODE_GATEWAYS_MAX + 1)

typedef struct {
    lx_cmd_t cmd;
    lx_journal_auth_t auth;
    bool has_auth;
} tail_cmd_t;

/* A shard's last every-shard commands: a ring once it holds TAIL_MAX. */
struct lx_node_tail {
    tail_cmd_t *v;
    size_t n, cap, head; /* the oldest is v[head] (head != 0 only when full) */
    bool dropped;        /* older ones were overwritten */
    bool oom;
    bool any;         /* the tail held a command (of any kind) */
    int64_t first_ts; /* the first one's ts */
};

static const tail_cmd_t *tail_at(const struct lx_node_tail *t, size_t i) {
    return &t->v[(t->head + i) % t->cap];
}

void lx__reconcile_collect(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                           const char *file, uint64_t off) {
    (void)file, (void)off;
    shard_t *s = ctx;
    if (!s->tail && !s->tail_oom && !(s->tail = calloc(1, sizeof *s->tail))) s->tail_oom = true;
    struct lx_node_tail *t = s->tail;
    if (!t || t->oom) return;
    if (!t->any) {
        t->any = true;
        t->first_ts = cmd->ts;
    }
    if (!lx__node_every_shard(s->node, cmd)) return;
    tail_cmd_t *d;
    if (t->n == TAIL_MAX) {
        d = &t->v[t->head];
        t->head = (t->head + 1) % t->cap;
        t->dropped = true;
    } else {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 64;
            if (cap > TAIL_MAX) cap = TAIL_MAX;
            tail_cmd_t *v = realloc(t->v, cap * sizeof *v);
            if (!v) {
                t->oom = true;
                return;
            }
            t->v = v;
            t->cap = cap;
        }
        d = &t->v[t->n++];
    }
    d->cmd = *cmd;
    d->has_auth = auth != NULL;
    if (auth) d->auth = *auth;
}

void lx__reconcile_free(shard_t *s) {
    if (!s->tail) return;
    free(s->tail->v);
    free(s->tail);
    s->tail = NULL;
}

static int64_t last_ts(const shard_t *s) {
    int64_t ts = lx_engine_last_ts(s->engine);
    return s->rec.last_ts > ts ? s->rec.last_ts : ts;
}

/* Appends L's commands from index i on to shard k, commits, applies. */
static int append_to(lx_node_t *n, shard_t *k, const struct lx_node_tail *lt, size_t i,
                     unsigned from, char *err, size_t errlen) {
    uint64_t first = k->next_seq;
    size_t count = lt->n - i;
    int rc = 0;
    for (size_t j = i; j < lt->n && !rc; j++) {
        const tail_cmd_t *c = tail_at(lt, j);
        lx_cmd_t cmd = c->cmd;
        cmd.seq = k->next_seq;
        rc = lx_journal_append(k->journal, &cmd, c->has_auth ? &c->auth : NULL);
        if (!rc) k->next_seq++;
    }
    if (!rc) rc = lx_journal_commit(k->journal);
    if (!rc && lx_journal_durable_seq(k->journal) < k->next_seq - 1) rc = LX_EIO;
    if (rc) {
        lx_journal_discard(k->journal); /* so that closing it writes none of them */
        snprintf(err, errlen,
                 "%s: appending the every-shard commands of the last round from shard %u failed: "
                 "%s",
                 k->dir, from, lx_strerror(rc));
        return rc;
    }
    /* durable: now the engine, as recovery applies a journaled command */
    for (size_t j = i; j < lt->n; j++) {
        const tail_cmd_t *c = tail_at(lt, j);
        lx_cmd_t cmd = c->cmd;
        cmd.seq = first + (j - i);
        rc = lx_journal_apply(k->engine, &cmd, c->has_auth ? &c->auth : NULL, NULL);
        if (rc) {
            snprintf(err, errlen, "%s: seq %llu appended from shard %u: the engine refuses it (%s)",
                     k->dir, (unsigned long long)cmd.seq, from, lx_strerror(rc));
            return rc == LX_ENOMEM ? rc : LX_ECORRUPT;
        }
    }
    atomic_store(&k->durable, k->next_seq - 1);
    lx__node_log(n,
                 "lxdexd: shard %u: %zu every-shard command%s of the last round appended from "
                 "shard %u (seq %llu..%llu)\n",
                 k->index, count, count == 1 ? "" : "s", from, (unsigned long long)first,
                 (unsigned long long)(k->next_seq - 1));
    return 0;
}

int lx__reconcile(lx_node_t *n, char *err, size_t errlen) {
    int rc = 0;
    shard_t *L = NULL;
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (s->tail_oom || (s->tail && s->tail->oom)) {
            snprintf(err, errlen, "%s: out of memory keeping the journal tail", s->dir);
            rc = LX_ENOMEM;
            goto done;
        }
        if (s->boot || !s->tail || !s->tail->n) continue;
        if (!L ||
            tail_at(s->tail, s->tail->n - 1)->cmd.ts > tail_at(L->tail, L->tail->n - 1)->cmd.ts)
            L = s;
    }
    if (!L) goto done;
    const struct lx_node_tail *lt = L->tail;
    /* L's kept commands hold every one of its every-shard commands with a
     * ts at or after this (all of them when it replayed from genesis) */
    int64_t reach = lt->dropped                ? tail_at(lt, 0)->cmd.ts
                    : L->rec.snapshot_seq == 0 ? INT64_MIN
                                               : lt->first_ts;
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (s == L || s->boot) continue;
        int64_t ts = last_ts(s);
        size_t i = lt->n;
        while (i > 0 && tail_at(lt, i - 1)->cmd.ts > ts) i--;
        if (i == lt->n) continue; /* it has them all */
        if (lt->dropped && i == 0) {
            lx__node_log(n,
                         "lxdexd: shard %u: lacks every-shard commands of shard %u from before "
                         "the %zu kept: not reconciled\n",
                         s->index, L->index, lt->n);
            continue;
        }
        if (s->tail && s->tail->n) {
            const tail_cmd_t *mine = tail_at(s->tail, s->tail->n - 1);
            bool found = mine->cmd.ts < reach;
            for (size_t j = 0; j < lt->n && !found; j++)
                found = tail_at(lt, j)->cmd.ts == mine->cmd.ts &&
                        tail_at(lt, j)->cmd.type == mine->cmd.type;
            if (!found) {
                lx__node_log(n,
                             "lxdexd: shard %u: its last every-shard command (seq %llu) is not "
                             "one of shard %u's: the shards' histories differ, not reconciled\n",
                             s->index, (unsigned long long)mine->cmd.seq, L->index);
                continue;
            }
        }
        if ((rc = append_to(n, s, lt, i, L->index, err, errlen))) goto done;
    }
done:
    for (uint32_t k = 0; k < n->nshards; k++) lx__reconcile_free(&n->shards[k]);
    return rc;
}
