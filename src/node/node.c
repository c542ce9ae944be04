/*
 * node.c: the node's shape (ARCHITECTURE.md §4, §5): opening it from its
 * data directory, its gateways' rings, its threads' lifecycle, and what the
 * gateways call. The stages themselves are sequencer.c (sequencing, the
 * journals, group commit, snapshots) and shard.c (one engine thread per
 * shard, execution reports, market data).
 *
 *   in rings (each gateway -> sequencer)         lx_node_msg_t
 *   engine rings (sequencer -> each shard)       lx_node_msg_t, cmd.seq and cmd.ts set
 *   out rings (each shard -> each gateway)       lx_node_out_t
 *
 * Data directory. A one-shard node keeps its journal in node.data_dir
 * itself (as every node did before shards existed); with shards: N > 1 shard
 * K's journal is data_dir/shard-K. The file data_dir/SHARDS records N when
 * the directory is first used, and a node configured with another number
 * refuses to start (the markets' shards would no longer match their
 * journals). A market the configuration places in shard K must be in shard
 * K's recovered state, or the node refuses to start and says which. A
 * node holds an exclusive flock on data_dir/LOCK while it is open: a
 * second one on the same directory refuses to start (lock_dir).
 *
 * Startup: each shard recovers from its journal (lx_recover: newest
 * snapshot, then replay) and opens it for appending; with several shards,
 * each then gets the every-shard commands of the last round that another
 * shard holds and it lacks (reconcile.c); a shard with an empty
 * journal journals its boot commands (its assets and markets, and in dev
 * mode the faucet deposits) when the node starts, before any gateway
 * command.
 *
 * Deliberately not here: sockets, sessions and report numbering (the
 * gateways).
 */
#define _GNU_SOURCE
#include "lx/node.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "lx/engine.h"
#include "lx/error.h"
#include "node_int.h"

void lx__node_log(lx_node_t *n, const char *fmt, ...) {
    if (!n->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(n->log, fmt, ap);
    va_end(ap);
    fflush(n->log);
}

int64_t lx__node_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

uint64_t lx__node_mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void lx__node_fail(lx_node_t *n, int rc, const char *what) {
    atomic_store(&n->journal_error, rc);
    atomic_store(&n->failed, true);
    lx__node_log(n, "lxdexd: %s (%s): the node takes no more commands\n", what,
                 lx_journal_strerror(rc));
}

/* mkdir -p. Every directory on the path, created now or found, is made
 * durable before the next step (lx_io_mkdir fsyncs its parent through the
 * node's I/O vtable): the journals' fsync'ed files must not vanish with a
 * directory entry that was never written. 0 or a negative errno value. */
static int mkdir_p(const char *path, const lx_io_t *io) {
    char buf[LX_CONFIG_PATH_MAX + 1];
    size_t len = strlen(path);
    if (len == 0 || len > LX_CONFIG_PATH_MAX) return -EINVAL;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            int e = lx_io_mkdir(io, buf, true);
            if (e) return e;
            buf[i] = c;
        }
    }
    return 0;
}

/* ---- the data directory's layout ------------------------------------------- */

/* True when dir holds journal segments or snapshots of its own. */
static bool holds_journal(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return false;
    bool found = false;
    for (struct dirent *de; !found && (de = readdir(d));)
        found = !strncmp(de->d_name, "seg-", 4) || !strncmp(de->d_name, "snap-", 5);
    closedir(d);
    return found;
}

/*
 * Checks data_dir/SHARDS against cfg->shards (writing it when the directory
 * is new), and names each shard's journal directory.
 */
static int layout(lx_node_t *n, char *err, size_t errlen) {
    const char *dir = n->cfg->node.data_dir;
    char path[LX_CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/SHARDS", dir);
    unsigned recorded = 0;
    FILE *f = fopen(path, "r");
    bool have = f != NULL;
    if (f) {
        if (fscanf(f, "%u", &recorded) != 1) recorded = 0;
        fclose(f);
        if (recorded == 0) {
            snprintf(err, errlen, "%s: unreadable", path);
            return LX_ECORRUPT;
        }
    } else if (holds_journal(dir)) {
        recorded = 1; /* a directory from before SHARDS existed: one shard's journal */
    }
    if (recorded && recorded != n->nshards) {
        snprintf(err, errlen,
                 "shards: %u, but %s holds the journals of %u shard%s: markets would no longer "
                 "match their journals",
                 n->nshards, dir, recorded, recorded == 1 ? "" : "s");
        return LX_EINVAL;
    }
    if (n->nshards > 1 && holds_journal(dir)) {
        snprintf(err, errlen, "shards: %u, but %s holds a one-shard journal", n->nshards, dir);
        return LX_EINVAL;
    }
    if (!have) {
        char tmp[LX_CONFIG_PATH_MAX + 32];
        snprintf(tmp, sizeof tmp, "%s/SHARDS.tmp", dir);
        f = fopen(tmp, "w");
        bool ok =
            f && fprintf(f, "%u\n", n->nshards) > 0 && fflush(f) == 0 && fdatasync(fileno(f)) == 0;
        if (f && fclose(f) != 0) ok = false;
        if (!ok || rename(tmp, path) != 0) {
            snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            return LX_EIO;
        }
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (n->nshards == 1)
            snprintf(s->dir, sizeof s->dir, "%s", dir);
        else if ((size_t)snprintf(s->dir, sizeof s->dir, "%s/shard-%u", dir, k) >= sizeof s->dir) {
            snprintf(err, errlen, "%s: the path is too long", dir);
            return LX_EINVAL;
        }
        int e = mkdir_p(s->dir, n->opts.io);
        if (e) {
            snprintf(err, errlen, "%s: cannot create the directory: %s", s->dir, strerror(-e));
            return LX_EIO;
        }
    }
    return 0;
}

/* ---- open / close --------------------------------------------------------- */

static int gateway_add(lx_node_t *n, const lx_node_gw_opts_t *opts) {
    if (n->ngw == LX_NODE_GATEWAYS_MAX) return LX_EFULL;
    gateway_t *g = &n->gw[n->ngw];
    int rc = lx_ring_create(&g->in, sizeof(lx_node_msg_t), n->opts.ring_capacity);
    for (uint32_t k = 0; k < n->nshards && !rc; k++)
        rc = lx_ring_create(&g->out[k], sizeof(lx_node_out_t), n->opts.ring_capacity);
    if (rc) goto fail;
    g->flags = opts->flags;
    g->notify = opts->notify;
    g->notify_ctx = opts->notify_ctx;
    n->ngw++;
    return 0;
fail:
    lx_ring_destroy(g->in);
    for (uint32_t k = 0; k < n->nshards; k++) lx_ring_destroy(g->out[k]);
    memset(g, 0, sizeof *g);
    return rc;
}

/* Recovers shard s from its directory and opens its journal. */
/* The engine section of the configuration counts only when a data
 * directory is created: a recovered engine keeps the configuration its
 * journal was written with (the log's meaning depends on it). A differing
 * value in the file is named at start, not applied (docs/config.md). */
static void warn_engine_config(lx_node_t *n, const char *dir, const lx_engine_config_t *file,
                               const lx_engine_config_t *have) {
    lx_engine_config_t eff = lx_engine_config_effective(file);
    const lx_engine_config_t *want = &eff;
    const struct {
        const char *name;
        uint64_t want, have;
    } f[] = {
        {"max_markets", want->max_markets, have->max_markets},
        {"max_assets", want->max_assets, have->max_assets},
        {"max_accounts", want->max_accounts, have->max_accounts},
        {"max_orders", want->max_orders, have->max_orders},
        {"max_open_orders_per_account", want->max_open_orders_per_account,
         have->max_open_orders_per_account},
        {"deadman_min_lead_ms", (uint64_t)want->deadman_min_lead_ns / 1000000,
         (uint64_t)have->deadman_min_lead_ns / 1000000},
        {"fee_account", want->fee_account, have->fee_account},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].want != f[i].have)
            lx__node_log(n,
                         "lxdexd: warning: engine.%s is %llu in the configuration but %llu in %s, "
                         "which keeps the value it was created with\n",
                         f[i].name, (unsigned long long)f[i].want, (unsigned long long)f[i].have,
                         dir);
}

/* A journal that holds the first k boot commands of shard s and nothing
 * else (k > 0, no snapshot, every asset and market among them in the engine
 * and none of those after them): k; else 0. */
static uint64_t boot_cut_short(lx_node_t *n, shard_t *s) {
    const lx_config_t *cfg = n->cfg;
    if (s->rec.empty || s->rec.snapshot[0] || s->rec.last_seq == 0 || !s->engine) return 0;
    size_t nk = lx_config_boot_cmds(cfg, s->index, NULL, 0);
    size_t nf = cfg->node.dev_mode ? (size_t)n->opts.faucet_accounts * cfg->nfaucet : 0;
    if (s->rec.last_seq >= nk + nf) return 0;
    lx_cmd_t *cmds = calloc(nk + 1, sizeof *cmds);
    if (!cmds) return 0;
    lx_config_boot_cmds(cfg, s->index, cmds, nk);
    bool ok = true;
    for (size_t i = 0; i < nk && ok; i++) {
        bool have = i < s->rec.last_seq;
        if (cmds[i].type == LX_CMD_CREATE_ASSET) {
            lx_asset_info_t ai;
            ok = (lx_engine_asset_info(s->engine, cmds[i].u.create_asset.asset, &ai) == 0) == have;
        } else if (cmds[i].type == LX_CMD_CREATE_MARKET) {
            lx_market_info_t mi;
            ok = (lx_engine_market_info(s->engine, cmds[i].u.create_market.market, &mi) == 0) ==
                 have;
        }
    }
    free(cmds);
    return ok ? s->rec.last_seq : 0;
}

static int shard_open(lx_node_t *n, shard_t *s, char *err, size_t errlen) {
    const lx_config_t *cfg = n->cfg;
    lx_recover_opts_t ro = {.io = n->opts.io};
    if (n->nshards > 1) { /* the every-shard commands of the tail, for lx__reconcile */
        ro.on_cmd = lx__reconcile_collect;
        ro.ctx = s;
    }
    int rc = lx_recover(s->dir, &ro, &s->engine, &s->rec);
    if (rc) {
        snprintf(err, errlen, "%s: recovery failed (%s): %s", s->dir, lx_journal_strerror(rc),
                 s->rec.msg);
        return rc;
    }
    /* A journal without a command (none, or only segments holding no group:
     * a start that failed before its boot commands were durable) is a new
     * exchange: the boot commands go into it. So is one that holds only the
     * first of them (a start that failed, or crashed, after some groups of
     * its boot were durable: a boot larger than journal.batch_max_bytes, or
     * than a round, is committed in pieces): the rest go in. */
    uint64_t cut = boot_cut_short(n, s);
    if (s->rec.empty || (s->rec.last_seq == 0 && !s->rec.snapshot[0]) || cut) {
        s->boot_from = cut;
        if (cut)
            lx__node_log(n, "lxdexd: %s holds %llu of its boot commands: journaling the rest\n",
                         s->dir, (unsigned long long)cut);
        if (!s->engine) {
            lx_engine_config_t ec = cfg->engine;
            rc = lx_engine_create(&s->engine, &ec);
            if (rc) {
                snprintf(err, errlen, "engine: %s", lx_strerror(rc));
                return rc;
            }
        }
        s->boot = true;
        lx__node_log(n, "lxdexd: journal in %s %s: a new exchange (%zu assets, %zu markets)\n",
                     s->dir, s->rec.empty ? "is empty" : "holds no command", cfg->nassets,
                     lx_config_boot_cmds(cfg, s->index, NULL, 0) - cfg->nassets);
    } else {
        lx_engine_stats_t st;
        lx_engine_stats(s->engine, &st);
        lx__node_log(n,
                     "lxdexd: recovered %s: last seq %llu, digest %016llx, %u markets, %u open "
                     "orders, rules %u, %llu commands replayed%s%s%s\n",
                     s->dir, (unsigned long long)s->rec.last_seq, (unsigned long long)s->rec.digest,
                     st.markets, st.orders, lx_engine_config(s->engine)->rules,
                     (unsigned long long)s->rec.commands,
                     s->rec.snapshot[0] ? " after snapshot " : "", s->rec.snapshot,
                     s->rec.torn ? " (a torn tail was cut)" : "");
        if (s->rec.msg[0]) lx__node_log(n, "lxdexd: recovery notes: %s\n", s->rec.msg);
        warn_engine_config(n, s->dir, &cfg->engine, lx_engine_config(s->engine));
        for (size_t i = 0; i < cfg->nmarkets; i++) {
            const lx_config_market_t *m = &cfg->markets[i];
            lx_market_info_t mi;
            if (m->shard == s->index && lx_engine_market_info(s->engine, m->id, &mi) != 0) {
                snprintf(err, errlen,
                         "markets: %s (id %u) belongs to shard %u, whose journal in %s does not "
                         "have it: the configuration's markets or shards changed since",
                         m->symbol, m->id, m->shard, s->dir);
                return LX_EINVAL;
            }
        }
    }
    if (n->nshards > 1 && lx_engine_config(s->engine)->max_orders > LX_NODE_MAX_ORDERS_SHARDED) {
        snprintf(err, errlen, "%s: engine.max_orders %u is over %u, the most a shard may hold",
                 s->dir, lx_engine_config(s->engine)->max_orders, LX_NODE_MAX_ORDERS_SHARDED);
        return LX_EINVAL;
    }

    lx_journal_config_t jc;
    lx_journal_config_default(&jc);
    jc.engine = *lx_engine_config(s->engine);
    jc.segment_bytes = cfg->journal.segment_bytes ? cfg->journal.segment_bytes : jc.segment_bytes;
    if (cfg->journal.batch_max_bytes)
        jc.batch_max_bytes = cfg->journal.batch_max_bytes > UINT32_MAX
                                 ? UINT32_MAX
                                 : (uint32_t)cfg->journal.batch_max_bytes;
    jc.batch_max_delay_ns = (uint64_t)cfg->journal.batch_max_delay_us * 1000;
    jc.fsync = cfg->journal.fsync;
    jc.io = n->opts.io;
    rc = lx_journal_open(&s->journal, s->dir, &jc, &s->rec);
    if (rc) {
        snprintf(err, errlen, "%s: cannot open the journal: %s", s->dir, lx_journal_strerror(rc));
        return rc;
    }
    s->next_seq = lx_engine_last_seq(s->engine) + 1;
    if (lx_journal_last_seq(s->journal) >= s->next_seq)
        s->next_seq = lx_journal_last_seq(s->journal) + 1;
    int64_t ts = lx_engine_last_ts(s->engine);
    if (s->rec.last_ts > ts) ts = s->rec.last_ts;
    if (ts > n->last_ts) n->last_ts = ts;
    atomic_store(&s->durable, s->next_seq - 1);

    rc = lx_ring_create(&s->ring, sizeof(lx_node_msg_t), n->opts.ring_capacity);
    if (rc) {
        snprintf(err, errlen, "rings: %s", lx_strerror(rc));
        return rc;
    }
    const lx_engine_config_t *ec = lx_engine_config(s->engine);
    s->nroutes = 1;
    while (s->nroutes < ec->max_orders + 1u && s->nroutes < (1u << 30)) s->nroutes <<= 1;
    s->routes = calloc(s->nroutes, sizeof *s->routes);
    s->naccounts = ec->max_accounts;
    s->account_session = calloc(s->naccounts ? s->naccounts : 1, sizeof *s->account_session);
    if (!s->routes || !s->account_session) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    return 0;
}

/* One node per data directory: a second one would recover the journal and
 * open a new segment under the running node (breaking its hash chain, and
 * its next snapshot's name), whether or not it then got its ports. An
 * exclusive flock on data_dir/LOCK, held until lx_node_close (the kernel
 * drops it when the process dies, so a crash leaves nothing to clean).
 * LX_ESTATE when another process holds it. */
static int lock_dir(lx_node_t *n, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/LOCK", n->cfg->node.data_dir);
    n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (n->lock_fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return LX_EIO;
    }
    if (flock(n->lock_fd, LOCK_EX | LOCK_NB) == 0) return 0;
    int e = errno;
    snprintf(err, errlen, "%s: %s", n->cfg->node.data_dir,
             e == EWOULDBLOCK ? "in use by another lxdexd (its LOCK file is locked)" : strerror(e));
    return e == EWOULDBLOCK ? LX_ESTATE : LX_EIO;
}

int lx_node_open(lx_node_t **out, const lx_config_t *cfg, const lx_node_opts_t *opts, char *err,
                 size_t errlen) {
    *out = NULL;
    lx_node_t *n = calloc(1, sizeof *n);
    int rc = LX_ENOMEM;
    if (!n) goto fail;
    n->lock_fd = -1;
    n->cfg = cfg;
    if (opts) n->opts = *opts;
    if (!n->opts.faucet_accounts) n->opts.faucet_accounts = 100;
    if (!n->opts.ring_capacity) n->opts.ring_capacity = 16384;
    n->tick_ns = n->opts.tick_ms == UINT32_MAX
                     ? INT64_MAX
                     : (int64_t)(n->opts.tick_ms ? n->opts.tick_ms : 100) * 1000000;
    n->log = n->opts.log;
    n->nshards = cfg->shards ? cfg->shards : 1;
    if (n->nshards > LX_CONFIG_SHARDS_MAX) n->nshards = LX_CONFIG_SHARDS_MAX;
    n->shards = calloc(n->nshards, sizeof *n->shards);
    n->nmarket_shard = cfg->engine.max_markets;
    n->market_shard = calloc(n->nmarket_shard ? n->nmarket_shard : 1, 1);
    if (!n->shards || !n->market_shard) goto fail;
    for (uint32_t m = 0; m < n->nmarket_shard; m++) n->market_shard[m] = (uint8_t)(m % n->nshards);
    for (size_t i = 0; i < cfg->nmarkets; i++)
        if (cfg->markets[i].id < n->nmarket_shard)
            n->market_shard[cfg->markets[i].id] = (uint8_t)cfg->markets[i].shard;
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        s->node = n;
        s->index = k;
        pthread_mutex_init(&s->park_mu, NULL);
        pthread_cond_init(&s->park_cv, NULL);
    }

    int e = mkdir_p(cfg->node.data_dir, n->opts.io);
    if (e) {
        snprintf(err, errlen, "%s: cannot create the data directory: %s", cfg->node.data_dir,
                 strerror(-e));
        rc = LX_EIO;
        goto fail;
    }
    if (cfg->rate_limits.per_account.rate) {
        n->naccount_tat = cfg->engine.max_accounts;
        n->account_tat = calloc(n->naccount_tat ? n->naccount_tat : 1, sizeof *n->account_tat);
        if (!n->account_tat) goto fail;
    }
    if ((rc = lock_dir(n, err, errlen))) goto fail;
    if ((rc = layout(n, err, errlen))) goto fail;
    for (uint32_t k = 0; k < n->nshards; k++)
        if ((rc = shard_open(n, &n->shards[k], err, errlen))) goto fail;
    /* the shards agree about the last round before anything is added to it
     * (reconcile.c) */
    if (n->nshards > 1 && (rc = lx__reconcile(n, err, errlen))) goto fail;
    if (n->nshards > 1)
        lx__node_log(n, "lxdexd: %u shards, one engine thread and journal each\n", n->nshards);

    /* each engine's client-id and key indexes keyed with a secret from the
     * OS (lx_engine_seed_hashes: traders choose the ids and keys), before
     * the reserve below */
    for (uint32_t k = 0; k < n->nshards; k++) {
        uint64_t seed[2];
        if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
            rc = LX_EIO;
            snprintf(err, errlen, "getrandom: %s", strerror(errno));
            goto fail;
        }
        if ((rc = lx_engine_seed_hashes(n->shards[k].engine, seed))) {
            snprintf(err, errlen, "engine hash seed: %s", lx_strerror(rc));
            goto fail;
        }
    }

    /* the engines' arrays on huge pages: the fork() of a snapshot stalls the
     * engine for a tenth of the time (BENCHMARKS.md, journal); and, unless
     * configured otherwise, sized for max_orders and mapped in full now, so
     * that no order waits for the first touch of a huge page
     * (src/journal/hugepages.c) */
    if (!cfg->node.prefault_memory) {
        uint64_t advised = 0;
        for (uint32_t k = 0; k < n->nshards; k++)
            advised += lx_engine_hugepages(n->shards[k].engine);
        if (advised)
            lx__node_log(n, "lxdexd: %llu MiB of engine memory advised to transparent huge pages\n",
                         (unsigned long long)(advised >> 20));
    } else {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        uint64_t mapped = 0;
        for (uint32_t k = 0; k < n->nshards; k++) {
            if ((rc = lx_engine_reserve(n->shards[k].engine, cfg->engine.max_orders))) {
                snprintf(err, errlen, "engine memory for %u orders: %s", cfg->engine.max_orders,
                         lx_strerror(rc));
                goto fail;
            }
            mapped += lx_engine_prefault(n->shards[k].engine);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        lx__node_log(
            n, "lxdexd: %llu MiB of engine memory mapped in %lld ms\n",
            (unsigned long long)(mapped >> 20),
            (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    }

    if ((rc = gateway_add(n, &(lx_node_gw_opts_t){0}))) {
        snprintf(err, errlen, "rings: %s", lx_strerror(rc));
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
    return n->gw[0].out[0];
}
unsigned lx_node_out_rings(lx_node_t *n, unsigned gw, lx_ring_t **rings) {
    if (gw >= n->ngw) return 0;
    for (uint32_t k = 0; k < n->nshards; k++) rings[k] = n->gw[gw].out[k];
    return n->nshards;
}
void lx_node_outs_init(lx_node_outs_t *o, lx_node_t *n, unsigned gw) {
    o->n = lx_node_out_rings(n, gw, o->ring);
}

uint32_t lx_node_outs_drain(lx_node_outs_t *o, uint32_t max,
                            void (*fn)(void *ctx, const lx_node_out_t *m), void *ctx) {
    uint32_t total = 0;
    for (unsigned k = 0; k < o->n; k++) {
        uint32_t got = lx_ring_peek(o->ring[k], max);
        for (uint32_t i = 0; i < got; i++) fn(ctx, lx_ring_rslot(o->ring[k], i));
        if (got) lx_ring_release(o->ring[k], got);
        total += got;
    }
    return total;
}

bool lx_node_outs_pending(const lx_node_outs_t *o) {
    for (unsigned k = 0; k < o->n; k++)
        if (lx_ring_peek(o->ring[k], 1)) return true;
    return false;
}

bool lx_node_outs_finished(const lx_node_outs_t *o) {
    for (unsigned k = 0; k < o->n; k++) /* closed first: nothing committed before is missed */
        if (!lx_ring_closed(o->ring[k]) || lx_ring_peek(o->ring[k], 1)) return false;
    return true;
}

void lx_node_outs_wait(const lx_node_outs_t *o, int64_t timeout_ns) {
    if (o->n == 1) {
        int r = lx_ring_peek_wait(o->ring[0], 1, timeout_ns);
        (void)r;
        return;
    }
    /* several rings: poll them in short naps */
    int64_t waited = 0;
    while (!lx_node_outs_pending(o) && !lx_node_outs_finished(o) && waited < timeout_ns) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        waited += 200000;
    }
}

_Atomic uint64_t *lx_node_account_buckets(lx_node_t *n, uint32_t *count) {
    *count = n->naccount_tat;
    return n->account_tat;
}

unsigned lx_node_shards(const lx_node_t *n) {
    return n->nshards;
}
unsigned lx_node_market_shard(const lx_node_t *n, lx_market_id_t m) {
    return m < n->nmarket_shard ? n->market_shard[m] : m % n->nshards;
}
void lx_node_set_notify(lx_node_t *n, void (*fn)(void *), void *ctx) {
    n->gw[0].notify = fn;
    n->gw[0].notify_ctx = ctx;
}

int lx_node_set_flags(lx_node_t *n, uint32_t flags) {
    if (n->started) return LX_ESTATE;
    n->gw[0].flags = flags;
    return 0;
}

int lx_node_add_gateway(lx_node_t *n, const lx_node_gw_opts_t *opts, lx_ring_t **in,
                        lx_ring_t **out) {
    if (n->started) return LX_ESTATE;
    int rc = gateway_add(n, opts);
    if (rc) return rc;
    gateway_t *g = &n->gw[n->ngw - 1];
    *in = g->in;
    *out = g->out[0];
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
    return n->shards[0].engine;
}
const lx_engine_t *lx_node_shard_engine(const lx_node_t *n, unsigned k) {
    return k < n->nshards ? n->shards[k].engine : NULL;
}

void lx_node_stats(const lx_node_t *n, lx_node_stats_t *out) {
    lx_node_t *m = (lx_node_t *)n;
    out->commands = atomic_load(&m->commands);
    out->batches = atomic_load(&m->batches);
    out->reports = atomic_load(&m->reports);
    out->last_seq = 0;
    out->recovered_snapshot_seq = 0;
    for (uint32_t k = 0; k < n->nshards; k++) {
        out->last_seq += atomic_load(&m->shards[k].durable);
        if (!n->shards[k].rec.empty) out->recovered_snapshot_seq += n->shards[k].rec.snapshot_seq;
    }
    out->journal_error = atomic_load(&m->journal_error);
    out->snapshots = atomic_load(&m->snapshots);
    out->snapshot_stall_ns = atomic_load(&m->snapshot_stall_ns);
}

const char *lx_node_lat_stage_name(int stage) {
    static const char *const names[] = {"sequenced", "durable", "applied", "acked"};
    return stage >= 0 && stage < LX_NODE_LAT__COUNT ? names[stage] : "?";
}

void lx_node_latency(const lx_node_t *n, int stage, lx_lathist_t *out) {
    if (stage < 0 || stage >= LX_NODE_LAT__COUNT) return;
    if (stage == LX_NODE_LAT_ACKED) {
        for (unsigned i = 0; i < n->ngw; i++) lx_lathist_merge(out, &n->gw[i].acked);
    } else if (stage == LX_NODE_LAT_APPLIED) {
        for (unsigned k = 0; k < n->nshards; k++) lx_lathist_merge(out, &n->shards[k].applied);
    } else {
        lx_lathist_merge(out, &n->lat[stage]);
    }
}

void lx_node_fsync_latency(const lx_node_t *n, lx_lathist_t *out) {
    lx_lathist_merge(out, &n->fsync_lat);
}

void lx_node_record_acked(lx_node_t *n, unsigned gw, uint64_t t_rx, uint64_t now) {
    if (gw < n->ngw && t_rx) lx_lathist_add(&n->gw[gw].acked, now > t_rx ? now - t_rx : 0);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void join_shards(lx_node_t *n) {
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        lx_ring_close(s->ring);
        if (s->thread_started) pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
}

/* Every gateway's out rings closed: what an engine thread waiting to write
 * to one (nobody draining it) needs to go on and stop. */
static void close_out_rings(lx_node_t *n) {
    for (unsigned i = 0; i < n->ngw; i++)
        for (uint32_t k = 0; k < n->nshards; k++) lx_ring_close(n->gw[i].out[k]);
}

/* A start that failed after the shard threads started: no gateway drains
 * the out rings yet, so they are closed first (an engine thread dumping a
 * start-up state larger than a ring to a market-data gateway would
 * otherwise wait on it for ever), then the shard threads are joined. */
static void start_undo(lx_node_t *n) {
    close_out_rings(n);
    join_shards(n);
}

int lx_node_start(lx_node_t *n) {
    if (n->started) return LX_ESTATE;
    /* each shard's batch holds a round: BATCH from every gateway, one TICK */
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        s->batch_cap = BATCH * n->ngw + 1;
        s->batch = malloc(s->batch_cap * sizeof *s->batch);
        s->staged_cap = BATCH * 2;
        for (uint32_t i = 0; i < n->ngw && s->batch; i++) {
            s->staged[i] = malloc(s->staged_cap * sizeof *s->staged[i]);
            if (!s->staged[i]) return LX_ENOMEM;
        }
        if (!s->batch) return LX_ENOMEM;
    }
    for (uint32_t k = 0; k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (pthread_create(&s->thread, NULL, lx__shard_main, s)) {
            start_undo(n);
            return LX_ENOMEM;
        }
        s->thread_started = true;
        char name[16];
        snprintf(name, sizeof name, n->nshards == 1 ? "lx-engine" : "lx-engine-%u", k);
        pthread_setname_np(s->thread, name);
    }
    /* The boot batches run here, before the sequencer thread exists (which
     * then owns the journals), so that the node is ready when start returns. */
    int crc = lx__seq_committers_start(n);
    if (crc) {
        lx__seq_committers_stop(n);
        start_undo(n);
        return crc;
    }
    lx__seq_boot(n);
    if (atomic_load(&n->failed)) {
        lx__seq_committers_stop(n);
        start_undo(n);
        int rc = atomic_load(&n->journal_error);
        return rc ? rc : LX_EIO;
    }
    if (pthread_create(&n->seq_thread, NULL, lx__seq_main, n)) {
        lx__seq_committers_stop(n);
        start_undo(n);
        return LX_ENOMEM;
    }
    pthread_setname_np(n->seq_thread, "lx-sequencer");
    n->started = true;
    return 0;
}

void lx_node_join(lx_node_t *n) {
    if (!n->started || n->joined) return;
    lx_node_stop_inputs(n);
    pthread_join(n->seq_thread, NULL);
    lx__seq_committers_stop(n);
    join_shards(n);
    n->joined = true;
    for (uint32_t k = 0; k < n->nshards; k++) {
        const lx_engine_t *e = n->shards[k].engine;
        if (n->nshards == 1)
            lx__node_log(n, "lxdexd: stopped at seq %llu, digest %016llx\n",
                         (unsigned long long)lx_engine_last_seq(e),
                         (unsigned long long)lx_engine_digest(e));
        else
            lx__node_log(n, "lxdexd: shard %u stopped at seq %llu, digest %016llx\n", k,
                         (unsigned long long)lx_engine_last_seq(e),
                         (unsigned long long)lx_engine_digest(e));
    }
}

void lx_node_close(lx_node_t *n) {
    if (!n) return;
    if (n->started && !n->joined) {
        close_out_rings(n); /* the gateways are gone: nobody drains them */
        lx_node_join(n);
    }
    for (unsigned i = 0; i < n->ngw; i++) {
        lx_ring_destroy(n->gw[i].in);
        for (uint32_t k = 0; k < n->nshards; k++) lx_ring_destroy(n->gw[i].out[k]);
    }
    for (uint32_t k = 0; n->shards && k < n->nshards; k++) {
        shard_t *s = &n->shards[k];
        if (s->journal) lx_journal_close(s->journal);
        lx__reconcile_free(s);
        lx_engine_destroy(s->engine);
        lx_ring_destroy(s->ring);
        free(s->routes);
        free(s->account_session);
        free(s->batch);
        for (unsigned i = 0; i < LX_NODE_GATEWAYS_MAX; i++) free(s->staged[i]);
        pthread_mutex_destroy(&s->park_mu);
        pthread_cond_destroy(&s->park_cv);
    }
    free(n->shards);
    free(n->market_shard);
    if (n->lock_fd >= 0) close(n->lock_fd);
    free(n->account_tat);
    free(n);
}
