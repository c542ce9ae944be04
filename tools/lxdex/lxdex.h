/*
 * lxdex.h: the subcommands of the lxdex command-line tool (tools/lxdex).
 *
 * main.c holds the table of subcommands, grouped by noun ("journal verify",
 * "journal dump"; later issues add trading commands); each group lives in
 * its own file and exports one function per command with the signature
 * below. A command gets argv after its own name (argv[0] is the command's
 * name) and returns the process exit status: 0 success, 1 failure (a
 * message on stderr), 2 a usage error.
 */
#ifndef LXDEX_TOOL_H
#define LXDEX_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lx/config.h"
#include "lx/proto.h"

typedef struct {
    const char *group;   /* "journal"; or a command of its own ("book") */
    const char *name;    /* "verify"; NULL for a command that is not in a group */
    const char *args;    /* "[options] <dir>" */
    const char *summary; /* one line */
    const char *help;    /* the rest of --help: options, output, exit status */
    int (*run)(int argc, char **argv);
} lxdex_cmd_t;

/* journal.c */
int lxdex_journal_verify(int argc, char **argv);
int lxdex_journal_dump(int argc, char **argv);
extern const char lxdex_journal_verify_help[];
extern const char lxdex_journal_dump_help[];

/* order.c: trading over the binary protocol */
int lxdex_order_place(int argc, char **argv);
int lxdex_order_cancel(int argc, char **argv);
int lxdex_order_amend(int argc, char **argv);
int lxdex_order_cancel_all(int argc, char **argv);
int lxdex_order_status(int argc, char **argv);
int lxdex_order_deadman(int argc, char **argv);
extern const char lxdex_order_place_args[], lxdex_order_cancel_args[], lxdex_order_amend_args[],
    lxdex_order_cancel_all_args[], lxdex_order_status_args[], lxdex_order_deadman_args[];
extern const char lxdex_order_help[];

/* key.c: ed25519 identities */
int lxdex_key_gen(int argc, char **argv);
int lxdex_key_show(int argc, char **argv);
/* Reads a secret key file (lxdex keygen): 0, or 1 with a message on stderr. */
int lxdex_key_load(const char *path, uint8_t sk[64], uint8_t pk[32]);
extern const char lxdex_key_help[];

/* session.c: one binary-protocol session (order.c, owner.c) */
typedef struct {
    int fd;
    lx_proto_decoder_t dec;
    lx_config_t cfg; /* tick and lot sizes, chain id */
    bool has_cfg;
    const char *cfg_path; /* --config, or NULL: the embedded configuration */
    uint8_t buf[4096];    /* received bytes not yet decoded: buf[off..have) */
    size_t have, off;
} lxdex_conn_t;
#define LXDEX_CONN_INIT                                                                            \
    { .fd = -1 }
/* The node's configuration: the file at path, or the embedded dev one
 * (NULL). 0, or 1 with a message on stderr. */
int lxdex_conn_config(lxdex_conn_t *c, const char *path);
/* Connects to node (IPv4 "host:port") and logs on as account: by account
 * id, or with keyfile by signing the challenge. 0; 1 failed; 2 bad node. */
int lxdex_conn_dial(lxdex_conn_t *c, const char *node, lx_account_id_t account,
                    const char *keyfile);
int lxdex_conn_send(lxdex_conn_t *c, const lx_proto_msg_t *m); /* 0 or LX_E* */
/* The next server message before deadline (lxdex_now_ms() clock):
 * 1 got one, 0 timeout, < 0 error or closed. */
int lxdex_conn_recv(lxdex_conn_t *c, lx_proto_msg_t *m, int64_t deadline);
/* Prints a report in words; true when it ends the exchange. */
bool lxdex_conn_print(const lxdex_conn_t *c, const lx_proto_msg_t *m);
/* Prints reports until one ends the exchange, quiet_ms pass after the
 * first, or 5 s in all: 0, or 1 (rejected, refused, no answer). */
int lxdex_conn_await(lxdex_conn_t *c, int quiet_ms);
/* Closes and frees; returns rc. */
int lxdex_conn_close(lxdex_conn_t *c, int rc);
/* A whole number in [min, max] written as decimal digits only: no sign,
 * space, '0x' or anything after the digits. true and *out set, or false
 * (the caller names the argument in its usage error). */
bool lxdex_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int64_t lxdex_now_ms(void);                               /* monotonic */
void lxdex_format_utc(int64_t ns, char *buf, size_t cap); /* 2026-11-25 09:30:00.123 */
extern const char *const lxdex_tif_names[5];

/* owner.c: actions signed by the owner key (SIGNED, docs/signing.md): agent
 * keys, withdrawals, transfers */
int lxdex_agent_approve(int argc, char **argv);
int lxdex_agent_revoke(int argc, char **argv);
int lxdex_withdraw(int argc, char **argv);
int lxdex_transfer(int argc, char **argv);
extern const char lxdex_agent_approve_args[], lxdex_agent_revoke_args[], lxdex_agent_help[];
extern const char lxdex_withdraw_args[], lxdex_transfer_args[], lxdex_funds_help[];

/* read.c: queries of the node's HTTP JSON API (docs/api.md §4) */
int lxdex_read_markets(int argc, char **argv);
int lxdex_read_book(int argc, char **argv);
int lxdex_read_trades(int argc, char **argv);
int lxdex_read_balances(int argc, char **argv);
int lxdex_read_orders(int argc, char **argv);
extern const char lxdex_read_help[];

/* watch.c: the live book and trades over the WebSocket API (docs/api.md §6) */
int lxdex_watch(int argc, char **argv);
extern const char lxdex_watch_help[];

/* main.c: prints "usage: lxdex GROUP NAME ARGS" and the help of one command */
void lxdex_usage(FILE *out, const char *group, const char *name);

#endif
