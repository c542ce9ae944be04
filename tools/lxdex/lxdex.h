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

#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *group;   /* "journal" */
    const char *name;    /* "verify" */
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

/* main.c: prints "usage: lxdex GROUP NAME ARGS" and the help of one command */
void lxdex_usage(FILE *out, const char *group, const char *name);

#endif
