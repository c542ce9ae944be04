/*
 * journal.c: `lxdex journal verify` and `lxdex journal dump`.
 *
 * Both only read the directory (read-only recovery: a torn tail is reported,
 * not cut), so they are safe on a journal that a stopped node will recover
 * later. verify runs two passes: every segment present, from the first, is
 * checked for CRCs and the hash chain without an engine; then the journal is
 * replayed from scratch (genesis, or the oldest valid snapshot when
 * retention has removed the first segments) through a fresh engine, and
 * every snapshot passed on the way is compared with the replayed digest.
 * dump prints each command of every valid group in the one-line text form
 * of lx/text.h, prefixed with its file and offset.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lx/error.h"
#include "lx/journal.h"
#include "lx/node.h"
#include "lx/sign.h"
#include "lx/text.h"
#include "lxdex.h"

const char lxdex_journal_verify_help[] =
    "Reads every segment of the journal in <dir> (a node's data directory; with\n"
    "several shards, every shard's journal in <dir>/shard-K): checks each record's CRC32C,\n"
    "each group's BLAKE2b chain hash and the continuity of the segments, then\n"
    "replays the journal through a fresh engine from genesis (or from the oldest\n"
    "valid snapshot if the first segments were removed by retention), comparing\n"
    "the digest of every snapshot it passes. Every record signed with ed25519\n"
    "(auth section ED25519) has its signature verified again against the\n"
    "journaled command (docs/signing.md). Changes nothing on disk.\n"
    "\n"
    "options:\n"
    "  --chain-id N   the chain id the actions were signed for (default 1)\n"
    "\n"
    "Prints the number of segments, groups and commands, the last seq, the final\n"
    "engine digest and the chain hash. A torn tail (an incomplete last group,\n"
    "which recovery would cut) is reported but is not an error.\n"
    "\n"
    "Exit status: 0 valid; 1 invalid (the message names the file and offset)\n"
    "or unreadable; 2 usage.\n";

const char lxdex_journal_dump_help[] =
    "Prints every command of every valid group, in order, one per line:\n"
    "  <segment file>:<offset> <command in the text form of lx/text.h> [auth]\n"
    "where auth is 'auth=ED25519 key=<hex> nonce=<n> sig=<hex>' or\n"
    "'auth=SESSION key=<hex> nonce=<n>' when the record carries one.\n"
    "\n"
    "options:\n"
    "  --groups     also print a line per group: its number, last seq, size and\n"
    "               chain hash\n"
    "  --from SEQ   print commands with seq >= SEQ only\n"
    "\n"
    "Stops at the first invalid record (exit status 1, message on stderr); a torn\n"
    "tail is noted on stderr. Exit status: 0, 1 invalid, 2 usage.\n";

static void hex(FILE *out, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) fprintf(out, "%02x", p[i]);
}

/* Parses "[options] <dir>": --groups, --from N. */
typedef struct {
    const char *dir;
    bool groups;
    uint64_t from;
    uint32_t chain_id;
} args_t;

static int parse(int argc, char **argv, args_t *a, bool dump) {
    memset(a, 0, sizeof *a);
    a->chain_id = 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!dump && !strcmp(s, "--chain-id") && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || v > UINT32_MAX) goto usage;
            a->chain_id = (uint32_t)v;
        } else if (dump && !strcmp(s, "--groups")) {
            a->groups = true;
        } else if (dump && !strcmp(s, "--from") && i + 1 < argc) {
            char *end;
            a->from = strtoull(argv[++i], &end, 10);
            if (*end) goto usage;
        } else if (s[0] == '-' && s[1]) {
            goto usage;
        } else if (!a->dir) {
            a->dir = s;
        } else {
            goto usage;
        }
    }
    if (a->dir) return 0;
usage:
    lxdex_usage(stderr, "journal", argv[0]);
    return 2;
}

/* ---- verify --------------------------------------------------------------- */

/* Pass 1's per-record check: every ED25519 auth section must verify
 * against its command (docs/signing.md); the first that does not is kept. */
typedef struct {
    uint32_t chain_id;
    uint32_t shard; /* the journal's: what a funds command signed */
    uint64_t signed_cmds, bad;
    char first_bad[512];
} sigcheck_t;

static void check_sig(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth,
                      const char *file, uint64_t off) {
    sigcheck_t *s = ctx;
    if (!auth || auth->scheme != LX_AUTH_ED25519) return;
    s->signed_cmds++;
    lx_action_t act;
    memset(&act, 0, sizeof act);
    act.chain_id = s->chain_id;
    act.shard = lx_sign_funds(cmd) ? s->shard : 0;
    memcpy(act.signer, auth->key, sizeof act.signer);
    act.nonce = auth->nonce;
    act.cmd = *cmd;
    if (lx_verify_detached(&act, auth->sig) == 0) return;
    /* a cancel or amend by order id in a shard's journal: the id the
     * client signed may have carried the shard bits (lx/node.h) */
    if (lx_node_cmd_as_sent(&act.cmd, s->shard) && lx_verify_detached(&act, auth->sig) == 0) return;
    if (s->bad++ == 0)
        snprintf(s->first_bad, sizeof s->first_bad,
                 "%s:%" PRIu64 ": the signature of seq %" PRIu64 " (%s) does not verify", file, off,
                 cmd->seq, lx_cmd_type_name(cmd->type));
}

/* The number of shards a node's data directory records (data_dir/SHARDS,
 * docs/node.md "Shards"), 1 when it records none. */
static unsigned shards_of(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/SHARDS", dir);
    FILE *f = fopen(path, "r");
    unsigned n = 0;
    if (f) {
        if (fscanf(f, "%u", &n) != 1) n = 0;
        fclose(f);
    }
    return n ? n : 1;
}

static int verify_dir(const char *dir, uint32_t chain_id, uint32_t shard);

int lxdex_journal_verify(int argc, char **argv) {
    args_t a;
    if (parse(argc, argv, &a, false)) return 2;
    unsigned n = shards_of(a.dir);
    if (n == 1) return verify_dir(a.dir, a.chain_id, 0);
    /* a node with shards: one journal per shard, each verified on its own */
    int bad = 0;
    for (unsigned k = 0; k < n; k++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/shard-%u", a.dir, k);
        printf("shard %u:\n", k);
        fflush(stdout);
        if (verify_dir(sub, a.chain_id, k)) bad++;
    }
    if (bad) {
        fprintf(stderr, "lxdex journal verify: INVALID: %d of %u shards\n", bad, n);
        return 1;
    }
    printf("all %u shards OK\n", n);
    return 0;
}

static int verify_dir(const char *dir, uint32_t chain_id, uint32_t shard) {
    args_t a = {.dir = dir, .chain_id = chain_id};
    /* pass 1: every segment, CRCs and chain, every signature, no engine */
    sigcheck_t sc = {.chain_id = a.chain_id, .shard = shard};
    lx_recover_opts_t o1 = {.read_only = true, .no_engine = true, .on_cmd = check_sig, .ctx = &sc};
    lx_recovery_t r1;
    int rc = lx_recover(a.dir, &o1, NULL, &r1);
    if (rc) {
        fprintf(stderr, "lxdex journal verify: INVALID: %s (%s)\n", r1.msg, lx_err_name(rc));
        return 1;
    }
    if (sc.bad) {
        fprintf(stderr, "lxdex journal verify: INVALID: %s (%" PRIu64 " bad signature%s in all)\n",
                sc.first_bad, sc.bad, sc.bad == 1 ? "" : "s");
        if (sc.bad == sc.signed_cmds)
            fprintf(stderr,
                    "lxdex journal verify: no signature verifies for chain id %u: if the node "
                    "has another node.chain_id, give it with --chain-id N\n",
                    (unsigned)a.chain_id);
        return 1;
    }
    if (r1.empty) {
        fprintf(stderr, "lxdex journal verify: %s holds no journal\n", a.dir);
        return 1;
    }
    /* pass 2: replay from scratch through an engine, checking snapshots */
    lx_recover_opts_t o2 = {.read_only = true, .from_genesis = true, .check_snapshots = true};
    lx_recovery_t r2;
    lx_engine_t *e = NULL;
    rc = lx_recover(a.dir, &o2, &e, &r2);
    if (rc) {
        fprintf(stderr, "lxdex journal verify: INVALID: %s (%s)\n", r2.msg, lx_err_name(rc));
        return 1;
    }
    char chain[65];
    lx_journal_hash_hex(r2.chain, chain);
    printf("journal:   %s\n", a.dir);
    printf("segments:  %" PRIu64 " checked (%" PRIu64 " groups, %" PRIu64 " commands, %" PRIu64
           " bytes)\n",
           r1.segments, r1.groups, r1.commands, r1.bytes);
    if (r2.snapshot[0])
        printf("replay:    from snapshot %s (seq %" PRIu64 "): first segments removed\n",
               r2.snapshot, r2.snapshot_seq);
    else
        printf("replay:    from genesis\n");
    printf("rules:     %u (docs/matching.md \"Rules versions\")\n", r2.engine.rules);
    printf("replayed:  %" PRIu64 " commands in %" PRIu64 " groups; %u snapshot(s) matched\n",
           r2.commands, r2.groups, r2.snapshots_checked);
    printf("signed:    %" PRIu64 " commands, every signature verified (chain id %u)\n",
           sc.signed_cmds, a.chain_id);
    if (r2.torn)
        printf("torn tail: %s: %" PRIu64 " bytes from offset %" PRIu64
               " (recovery will cut them)\n",
               r2.torn_file, r2.torn_bytes, r2.torn_offset);
    if (r2.msg[0]) printf("notes:     %s\n", r2.msg);
    printf("last seq:  %" PRIu64 "\n", r2.last_seq);
    printf("digest:    0x%016" PRIx64 "\n", r2.digest);
    printf("chain:     %s (group %" PRIu64 ", seq %" PRIu64 ")\n", chain, r2.total_groups,
           r2.chain_seq);
    printf("OK\n");
    lx_engine_destroy(e);
    return 0;
}

/* ---- dump ----------------------------------------------------------------- */

typedef struct {
    args_t *a;
    char line[1024];
} dump_t;

static void on_cmd(void *ctx, const lx_cmd_t *cmd, const lx_journal_auth_t *auth, const char *file,
                   uint64_t off) {
    dump_t *d = ctx;
    if (cmd->seq < d->a->from) return;
    lx_cmd_format(cmd, d->line, sizeof d->line);
    printf("%s:%" PRIu64 " %s", file, off, d->line);
    if (auth) {
        printf(" auth=%s key=", auth->scheme == LX_AUTH_ED25519 ? "ED25519" : "SESSION");
        hex(stdout, auth->key, 32);
        printf(" nonce=%" PRIu64, auth->nonce);
        if (auth->scheme == LX_AUTH_ED25519) {
            printf(" sig=");
            hex(stdout, auth->sig, 64);
        }
    }
    putchar('\n');
}

static void on_group(void *ctx, uint64_t group, uint64_t last_seq, uint32_t count,
                     const uint8_t hash[LX_JOURNAL_HASH_LEN], const char *file, uint64_t off) {
    dump_t *d = ctx;
    if (!d->a->groups || last_seq < d->a->from) return;
    char h[65];
    lx_journal_hash_hex(hash, h);
    printf("%s:%" PRIu64 " COMMIT group=%" PRIu64 " last_seq=%" PRIu64 " count=%u hash=%s\n", file,
           off, group, last_seq, count, h);
}

int lxdex_journal_dump(int argc, char **argv) {
    args_t a;
    if (parse(argc, argv, &a, true)) return 2;
    unsigned n = shards_of(a.dir);
    if (n > 1) {
        fprintf(stderr, "lxdex journal dump: %s holds the journals of %u shards: dump %s/shard-K\n",
                a.dir, n, a.dir);
        return 2;
    }
    dump_t d = {.a = &a};
    lx_recover_opts_t o = {
        .read_only = true, .no_engine = true, .on_cmd = on_cmd, .on_group = on_group, .ctx = &d};
    lx_recovery_t r;
    int rc = lx_recover(a.dir, &o, NULL, &r);
    fflush(stdout);
    if (rc) {
        fprintf(stderr, "lxdex journal dump: INVALID: %s (%s)\n", r.msg, lx_err_name(rc));
        return 1;
    }
    if (r.empty) {
        fprintf(stderr, "lxdex journal dump: %s holds no journal\n", a.dir);
        return 1;
    }
    if (r.torn) fprintf(stderr, "lxdex journal dump: note: %s\n", r.msg);
    return 0;
}
