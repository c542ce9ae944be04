/*
 * owner.c: lxdex agent approve | revoke, withdraw, transfer: the actions
 * only an account's owner key may sign (docs/signing.md, docs/identity.md).
 *
 * An agent is a second ed25519 key that may trade for an account (place,
 * cancel, amend, cancel all, the dead man's switch) until its approval
 * expires or is revoked, and never withdraw, transfer or approve agents: a
 * market maker's hot key, kept on the trading machine, while the owner key
 * stays offline. Approving and revoking are engine commands (APPROVE_AGENT,
 * REVOKE_AGENT) that only the owner key may sign.
 *
 * How one is sent. The command is built as the engine's lx_cmd_t, wrapped
 * in an action (chain id from the node's configuration, the owner's public
 * key as signer, a nonce), signed with lx_sign (the journal's own canonical
 * bytes behind the LXDEX-ACTION-V1 header) and sent as one SIGNED (0x09)
 * frame of the binary protocol over a session of the same account, logged
 * on with the same owner key (session.c: in dev mode that logon also binds
 * the key as the account's owner key when it has none yet). The gateway
 * verifies the signature, the node journals it, the engine checks that the
 * signer is the owner and the nonce is new, and the answer is an
 * ACCOUNT_KEY report (approved or revoked, with the key, name and expiry)
 * or REJECTED with the engine's reason (BAD_SIGNER, UNKNOWN_AGENT,
 * TOO_MANY_AGENTS, EXPIRED, ...), or REJECT BAD_SIGNATURE from the gateway.
 *
 * Nonces. The engine keeps each key's last nonce and refuses any that is
 * not greater. The CLI has no state between runs, so the nonce is the wall
 * clock in nanoseconds (unique and increasing for one person at one
 * terminal); --nonce N overrides it for a key also used by a program that
 * counts its own.
 *
 * The agent is named by its public key in hex (lxdex key show prints it) or
 * by a file holding either its secret key (lxdex keygen --out) or its
 * public key in hex.
 *
 * Withdrawals and transfers are signed and sent the same way, the amount
 * converted exactly to the asset's smallest units (the configuration's
 * scale). The protocol reports only their refusals (REJECTED), not their
 * success, so the command follows the action with an ORDER_STATUS, which
 * the node answers from the engine in order with everything else the
 * session sent (docs/node.md): a status reply with no REJECTED before it
 * means the action was applied. (A WITHDRAWAL report in the protocol would
 * make this one round trip shorter; it does not exist yet.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/decimal.h"
#include "lx/error.h"
#include "lx/node.h"
#include "lx/sign.h"
#include "lxdex.h"

typedef enum { APPROVE, REVOKE, WITHDRAW, TRANSFER } what_t;

typedef struct {
    what_t what;
    const char *cmd; /* "agent approve", "withdraw", ... for messages */
    const char *node, *config, *key, *agent, *name, *expires;
    long long account, to;
    uint64_t nonce;
    uint8_t shard;              /* withdraw, transfer: the shard that holds the funds */
    const char *asset, *amount; /* withdraw, transfer */
} aopts_t;

static const char *const cmd_names[] = {"agent approve", "agent revoke", "withdraw", "transfer"};

static int parse(int argc, char **argv, what_t what, aopts_t *o) {
    memset(o, 0, sizeof *o);
    o->what = what;
    o->cmd = cmd_names[what];
    o->node = "127.0.0.1:9100";
    o->account = o->to = -1;
    bool agent = what == APPROVE || what == REVOKE;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = !strcmp(a, "--node")                         ? &o->node
                            : !strcmp(a, "--config")                     ? &o->config
                            : !strcmp(a, "--key")                        ? &o->key
                            : agent && !strcmp(a, "--agent")             ? &o->agent
                            : what == APPROVE && !strcmp(a, "--name")    ? &o->name
                            : what == APPROVE && !strcmp(a, "--expires") ? &o->expires
                                                                         : NULL;
        bool numeric = !strcmp(a, "--account") || !strcmp(a, "--nonce") ||
                       (what == TRANSFER && !strcmp(a, "--to")) ||
                       (!agent && !strcmp(a, "--shard"));
        if (!slot && !numeric && !agent && a[0] != '-' && npos < 2) {
            *(npos++ ? &o->amount : &o->asset) = a;
            continue;
        }
        if (!slot && !numeric) {
            fprintf(stderr, "lxdex %s: unexpected argument '%s' (--help lists the options)\n",
                    o->cmd, a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "lxdex %s: %s needs a value\n", o->cmd, a);
            return 2;
        }
        i++;
        if (slot) {
            *slot = v;
            continue;
        }
        bool acct = a[2] == 'a' || a[2] == 't'; /* --account, --to */
        bool shard = a[2] == 's';
        uint64_t n;
        if (!lxdex_parse_u64(v, acct || shard ? 0 : 1,
                             acct    ? 0xfffffffeULL
                             : shard ? LX_CONFIG_SHARDS_MAX - 1
                                     : UINT64_MAX,
                             &n)) {
            fprintf(stderr, "lxdex %s: %s: %s, got '%s'\n", o->cmd, a,
                    acct    ? "an account number"
                    : shard ? "a shard number below 32"
                            : "a positive integer",
                    v);
            return 2;
        }
        if (shard)
            o->shard = (uint8_t)n;
        else if (a[2] == 'a')
            o->account = (long long)n;
        else if (a[2] == 't')
            o->to = (long long)n;
        else
            o->nonce = n;
    }
    const char *missing = o->account < 0                   ? "--account"
                          : !o->key                        ? "--key"
                          : agent && !o->agent             ? "--agent"
                          : what == APPROVE && !o->expires ? "--expires"
                          : what == TRANSFER && o->to < 0  ? "--to"
                          : !agent && npos != 2            ? "ASSET AMOUNT"
                                                           : NULL;
    if (missing) {
        fprintf(stderr, "lxdex %s: %s %s required\n", o->cmd, missing,
                missing[0] == 'A' ? "are" : "is");
        lxdex_usage(stderr, agent ? "agent" : o->cmd, agent ? argv[0] : NULL);
        return 2;
    }
    return 0;
}

/* 64 hex digits, or a file holding a secret key (128 hex) or a public key (64 hex). */
static int agent_key(const char *s, uint8_t pk[32]) {
    size_t got = 0;
    const char *end = NULL;
    if (strlen(s) == 64 && sodium_hex2bin(pk, 32, s, 64, NULL, &got, &end) == 0 && got == 32)
        return 0;
    FILE *f = fopen(s, "r");
    if (!f) {
        fprintf(stderr,
                "lxdex agent: --agent: neither a public key (64 hex digits) nor a readable "
                "file: %s\n",
                s);
        return 2;
    }
    char line[256] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = strcspn(line, "\r\n");
    line[n] = 0;
    sodium_memzero(line + n, sizeof line - n);
    if (ok && n == 64 && sodium_hex2bin(pk, 32, line, 64, NULL, &got, &end) == 0 && got == 32) {
        sodium_memzero(line, sizeof line);
        return 0;
    }
    sodium_memzero(line, sizeof line);
    uint8_t sk[64];
    if (lxdex_key_load(s, sk, pk)) return 1;
    sodium_memzero(sk, sizeof sk);
    return 0;
}

/* Unix seconds, or +N[s|m|h|d] from now -> ns since the epoch. 0 or 2. */
static int parse_expiry(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    bool rel = s[0] == '+';
    long long v = strtoll(s + rel, &end, 10);
    long long unit = 1;
    if (rel && *end && !end[1]) {
        unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
        end += unit != 0;
    }
    const long long max_s = INT64_MAX / 1000000000 - 1;
    if (!s[rel] || s[rel] == '-' || *end || errno || v <= 0 || v > max_s / unit) {
        fprintf(stderr,
                "lxdex agent approve: --expires: unix seconds or +DURATION (+90s, +30m, +12h, "
                "+7d), got '%s'\n",
                s);
        return 2;
    }
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    long long secs = rel ? (long long)t.tv_sec + v * unit : v;
    if (secs > max_s) secs = max_s;
    *out = (int64_t)secs * 1000000000;
    return 0;
}

/* Withdrawals and transfers are answered only when refused: an
 * ORDER_STATUS sent after the action is answered in order with everything
 * else (docs/node.md), so a reply with no REJECTED before it means the
 * action was applied. 0 applied, 1 refused or no answer. */
static int await_applied(lxdex_conn_t *c, uint8_t shard) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_ORDER_STATUS;
    m.u.order_status.market = LX_MARKET_ALL;
    /* any id of the action's shard (an order id names its shard, lx/node.h):
     * only the reply's place in that shard's stream counts */
    m.u.order_status.order_id = 1 | ((uint64_t)shard << LX_NODE_ORDER_SHARD_SHIFT);
    if (lxdex_conn_send(c, &m)) return 1;
    int64_t end = lxdex_now_ms() + 5000;
    for (;;) {
        int rc = lxdex_conn_recv(c, &m, end);
        if (rc <= 0) {
            fprintf(stderr, "lxdex: %s\n", rc ? lx_strerror(rc) : "no answer within 5 s");
            return 1;
        }
        if (m.type == LX_PROTO_ORDER_STATUS_REPLY) return 0;
        if (m.type == LX_PROTO_FUNDS) lxdex_conn_print(c, &m);
        if (m.type == LX_PROTO_REJECTED || m.type == LX_PROTO_REJECT) {
            lxdex_conn_print(c, &m);
            return 1;
        }
    }
}

/* Signs cmd with the owner key and sends it over a session logged on with
 * that key; prints the answer. Returns the exit status. */
static int send_signed(const aopts_t *o, lxdex_conn_t *c, lx_cmd_t *cmd) {
    lx_action_t a;
    memset(&a, 0, sizeof a);
    uint8_t sk[64];
    if (lxdex_key_load(o->key, sk, a.signer)) return 1;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    a.chain_id = c->cfg.node.chain_id;
    a.nonce = o->nonce ? o->nonce : (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
    a.cmd = *cmd;
    a.shard = lx_sign_funds(cmd) ? o->shard : 0; /* signed: it cannot be replayed elsewhere */
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_SIGNED;
    int n = lx_sign(&a, sk, m.u.signed_action.envelope, sizeof m.u.signed_action.envelope);
    sodium_memzero(sk, sizeof sk);
    if (n < 0) {
        fprintf(stderr, "lxdex %s: cannot sign the command: %s\n", o->cmd, lx_strerror(n));
        return 1;
    }
    m.u.signed_action.len = (uint16_t)n;
    m.u.signed_action.shard = o->shard;
    int rc = lxdex_conn_dial(c, o->node, (lx_account_id_t)o->account, o->key);
    if (rc) return rc;
    if (lxdex_conn_send(c, &m)) return 1;
    if (o->what == APPROVE || o->what == REVOKE) return lxdex_conn_await(c, 300);
    if ((rc = await_applied(c, o->shard))) return rc;
    if (o->what == WITHDRAW)
        printf("withdrew %s %s from account %lld\n", o->amount, o->asset, o->account);
    else
        printf("transferred %s %s from account %lld to account %lld\n", o->amount, o->asset,
               o->account, o->to);
    return 0;
}

/* send_signed with the node's configuration loaded first */
static int send_signed_cfg(const aopts_t *o, lx_cmd_t *cmd) {
    lxdex_conn_t c = LXDEX_CONN_INIT;
    int rc = lxdex_conn_config(&c, o->config);
    return lxdex_conn_close(&c, rc ? rc : send_signed(o, &c, cmd));
}

/* The name and expiry of an approval. 0 or 2. */
static int approval(const aopts_t *o, lx_cmd_approve_agent_t *ap) {
    int rc = parse_expiry(o->expires, &ap->expiry);
    if (rc) return rc;
    const char *name = o->name ? o->name : "";
    size_t len = strlen(name);
    bool printable = true;
    for (size_t i = 0; i < len; i++) printable &= name[i] >= 0x20 && name[i] < 0x7f;
    if (len >= sizeof ap->name || !printable) {
        fprintf(stderr, "lxdex agent approve: --name: at most %zu printable ASCII characters\n",
                sizeof ap->name - 1);
        return 2;
    }
    memcpy(ap->name, name, len);
    return 0;
}

/* agent approve and revoke: both name the account and the agent's key */
static int agent_cmd(int argc, char **argv, what_t what) {
    aopts_t o;
    int rc = parse(argc, argv, what, &o);
    if (rc) return rc;
    lx_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    uint8_t *key;
    if (what == APPROVE) {
        cmd.type = LX_CMD_APPROVE_AGENT;
        cmd.u.approve_agent.account = (lx_account_id_t)o.account;
        key = cmd.u.approve_agent.key;
    } else {
        cmd.type = LX_CMD_REVOKE_AGENT;
        cmd.u.revoke_agent.account = (lx_account_id_t)o.account;
        key = cmd.u.revoke_agent.key;
    }
    if ((rc = agent_key(o.agent, key)) ||
        (what == APPROVE && (rc = approval(&o, &cmd.u.approve_agent))))
        return rc;
    return send_signed_cfg(&o, &cmd);
}

int lxdex_agent_approve(int argc, char **argv) {
    return agent_cmd(argc, argv, APPROVE);
}
int lxdex_agent_revoke(int argc, char **argv) {
    return agent_cmd(argc, argv, REVOKE);
}

/* withdraw and transfer: ASSET AMOUNT, the amount exact in the asset's units */
static int funds(int argc, char **argv, what_t what) {
    aopts_t o;
    int rc = parse(argc, argv, what, &o);
    if (rc) return rc;
    lxdex_conn_t c = LXDEX_CONN_INIT;
    if ((rc = lxdex_conn_config(&c, o.config))) return rc;
    const lx_config_asset_t *as = lx_config_asset_by_symbol(&c.cfg, o.asset);
    int64_t units;
    const char *why = NULL;
    if (!as) {
        fprintf(stderr, "lxdex %s: unknown asset '%s'; assets:", o.cmd, o.asset);
        for (size_t i = 0; i < c.cfg.nassets; i++) fprintf(stderr, " %s", c.cfg.assets[i].symbol);
        fprintf(stderr, "\n");
        return lxdex_conn_close(&c, 2);
    }
    if (lx_decimal_parse_n(o.amount, strlen(o.amount), as->decimals, &units, &why) || units <= 0) {
        fprintf(stderr, "lxdex %s: amount %s: %s (%s has %d decimals)\n", o.cmd, o.amount,
                why ? why : "must be positive", as->symbol, as->decimals);
        return lxdex_conn_close(&c, 2);
    }
    lx_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    if (what == WITHDRAW) {
        cmd.type = LX_CMD_WITHDRAW;
        cmd.u.withdraw = (lx_cmd_withdraw_t){(lx_account_id_t)o.account, as->id, units};
    } else {
        cmd.type = LX_CMD_TRANSFER;
        cmd.u.transfer =
            (lx_cmd_transfer_t){(lx_account_id_t)o.account, (lx_account_id_t)o.to, as->id, units};
    }
    return lxdex_conn_close(&c, send_signed(&o, &c, &cmd));
}

int lxdex_withdraw(int argc, char **argv) {
    return funds(argc, argv, WITHDRAW);
}
int lxdex_transfer(int argc, char **argv) {
    return funds(argc, argv, TRANSFER);
}

const char lxdex_agent_approve_args[] =
    "--account N --key OWNER_KEYFILE --agent (PUBKEY_HEX | KEYFILE) --expires (UNIX_SECONDS | "
    "+DURATION) [--name NAME] [options]";
const char lxdex_agent_revoke_args[] =
    "--account N --key OWNER_KEYFILE --agent (PUBKEY_HEX | KEYFILE) [options]";

const char lxdex_withdraw_args[] = "--account N --key OWNER_KEYFILE [options] ASSET AMOUNT";
const char lxdex_transfer_args[] = "--account N --key OWNER_KEYFILE --to M [options] ASSET AMOUNT";

const char lxdex_funds_help[] =
    "Options:\n"
    "  --account N        the account the funds leave\n"
    "  --key FILE         the account's owner secret key (an agent may not move funds)\n"
    "  --to M             transfer: the account credited\n"
    "  --shard K          the shard that holds the funds (a node with several shards\n"
    "                     holds an account's funds per shard; default 0)\n"
    "  --node HOST:PORT   the node's binary port (default 127.0.0.1:9100)\n"
    "  --config FILE      the node's configuration, for asset scales and the chain id\n"
    "  --nonce N          the action's nonce (default: the clock in ns)\n"
    "\n"
    "AMOUNT is a decimal in ASSET's units (USD 12.5), exact: finer than the asset's smallest\n"
    "unit is an error. Only the free balance moves. The node answers with a FUNDS report\n"
    "(printed) or a refusal; the command follows the action with a status query that the\n"
    "node answers in order: an answer with no refusal before it means it was applied.\n"
    "Exit status: 0 done, 1 rejected (reason shown) or failed, 2 usage error.\n";

const char lxdex_agent_help[] =
    "Options:\n"
    "  --account N        the account whose agent this is\n"
    "  --key FILE         the account's owner secret key (lxdex keygen); signs the action and\n"
    "                     the logon (in dev mode the first signed logon binds it as owner key)\n"
    "  --agent KEY        the agent's public key in hex (lxdex key show), or a file with its\n"
    "                     secret key or its public key\n"
    "  --expires T        approve: unix seconds, or +N with s, m, h or d (+12h) from now\n"
    "  --name NAME        approve: a label of at most 15 printable characters (default empty)\n"
    "  --node HOST:PORT   the node's binary port (default 127.0.0.1:9100)\n"
    "  --config FILE      the node's configuration, for its chain id (default: the embedded\n"
    "                     dev configuration)\n"
    "  --nonce N          the action's nonce (default: the clock in ns); it must be greater\n"
    "                     than the last this key signed\n"
    "\n"
    "An approved agent trades for the account by logging on with its own key:\n"
    "  lxdex order place --account N --key AGENT_KEYFILE ...\n"
    "It may place, cancel, amend, cancel all and arm the dead man's switch, never withdraw,\n"
    "transfer or approve agents. Approving an agent again renews it (new name and expiry).\n"
    "Prints the node's answer. Exit status: 0 done, 1 rejected or failed, 2 usage error.\n";
