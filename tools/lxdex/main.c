/*
 * main.c: lxdex, the command-line tool: a table of subcommands and the
 * dispatch to them.
 *
 *   lxdex GROUP COMMAND [options] [args]     run a command
 *   lxdex GROUP COMMAND --help               its help
 *   lxdex GROUP --help, lxdex --help         the commands of a group, of all
 *   lxdex COMMAND [options] [args]           a command outside any group
 *                                            (book, trades, watch, ...)
 *
 * The table below is the only list of commands: help is generated from it,
 * so a command added here is documented everywhere at once. Each group of
 * commands is one file (journal.c: journal verify, journal dump); later
 * issues add groups (orders, accounts, market data) the same way.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "lxdex.h"

static const lxdex_cmd_t commands[] = {
    {"journal", "verify", "[--chain-id N] <dir>",
     "check every CRC, the hash chain and every signature, replay from scratch, print the last "
     "seq and digest",
     lxdex_journal_verify_help, lxdex_journal_verify},
    {"journal", "dump", "[--groups] [--from SEQ] <dir>",
     "print the journal's commands in readable form", lxdex_journal_dump_help, lxdex_journal_dump},
    {"order", "place", lxdex_order_place_args, "place an order and print its reports",
     lxdex_order_help, lxdex_order_place},
    {"order", "cancel", lxdex_order_cancel_args, "cancel an order", lxdex_order_help,
     lxdex_order_cancel},
    {"order", "amend", lxdex_order_amend_args,
     "change an order's price and total size (a smaller size keeps time priority)",
     lxdex_order_help, lxdex_order_amend},
    {"order", "cancel-all", lxdex_order_cancel_all_args,
     "cancel the account's open orders in one market or all", lxdex_order_help,
     lxdex_order_cancel_all},
    {"order", "status", lxdex_order_status_args, "show one order of the account", lxdex_order_help,
     lxdex_order_status},
    {"order", "deadman", lxdex_order_deadman_args,
     "arm the account's dead man's switch: cancel all its orders in SECONDS unless re-armed",
     lxdex_order_help, lxdex_order_deadman},
    {"key", "gen", "[--out FILE]", "make an ed25519 key pair (secret file mode 0600)",
     lxdex_key_help, lxdex_key_gen},
    {"key", "show", "FILE", "print the public key of a secret key file", lxdex_key_help,
     lxdex_key_show},
    {"agent", "approve", lxdex_agent_approve_args,
     "let an agent key trade for the account until it expires (signed by the owner key)",
     lxdex_agent_help, lxdex_agent_approve},
    {"agent", "revoke", lxdex_agent_revoke_args,
     "end an agent key's approval (signed by the owner key)", lxdex_agent_help, lxdex_agent_revoke},
    {"withdraw", NULL, lxdex_withdraw_args,
     "withdraw from the account's free balance (signed by the owner key)", lxdex_funds_help,
     lxdex_withdraw},
    {"transfer", NULL, lxdex_transfer_args,
     "move funds from the account's free balance to another account (signed by the owner key)",
     lxdex_funds_help, lxdex_transfer},
    {"markets", NULL, "[--url URL] [--json]", "list the node's markets (HTTP API)", lxdex_read_help,
     lxdex_read_markets},
    {"book", NULL, "[--url URL] [--json] [--depth N] MARKET",
     "show a market's order book, bids and asks side by side", lxdex_read_help, lxdex_read_book},
    {"trades", NULL, "[--url URL] [--json] [--limit N] MARKET", "show a market's latest trades",
     lxdex_read_help, lxdex_read_trades},
    {"balances", NULL, "[--url URL] [--json] [--key FILE [--config FILE]] ACCOUNT",
     "show an account's balances", lxdex_read_help, lxdex_read_balances},
    {"orders", NULL, "[--url URL] [--json] [--key FILE [--config FILE]] ACCOUNT",
     "show an account's open orders", lxdex_read_help, lxdex_read_orders},
    {"watch", NULL,
     "[--ws URL] [--url URL] [--depth N] [--trades N] [--plain] [--updates N] MARKET",
     "follow a market's book and trades live (WebSocket API)", lxdex_watch_help, lxdex_watch},
};

#define NCMDS (sizeof commands / sizeof commands[0])

static void list(FILE *out, const char *group) {
    fprintf(out, "usage: lxdex [<group>] <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < NCMDS; i++) {
        if (group && strcmp(group, commands[i].group) != 0) continue;
        fprintf(out, "  %s%s%s %s\n      %s\n", commands[i].group, commands[i].name ? " " : "",
                commands[i].name ? commands[i].name : "", commands[i].args, commands[i].summary);
    }
    fprintf(out, "\n'lxdex <command> --help' or 'lxdex <group> <command> --help' describes one "
                 "command.\n");
}

static bool same(const char *a, const char *b) {
    return a == b || (a && b && !strcmp(a, b));
}

void lxdex_usage(FILE *out, const char *group, const char *name) {
    for (size_t i = 0; i < NCMDS; i++) {
        if (!same(group, commands[i].group) || !same(name, commands[i].name)) continue;
        fprintf(out, "usage: lxdex %s%s%s %s\n\n%s.\n\n%s", group, name ? " " : "",
                name ? name : "", commands[i].args, commands[i].summary, commands[i].help);
        return;
    }
}

/* Runs c with argv[0] its name, or prints its help when asked. */
static int run(const lxdex_cmd_t *c, int argc, char **argv) {
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--")) break;
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            lxdex_usage(stdout, c->group, c->name);
            return 0;
        }
    }
    return c->run(argc, argv);
}

static bool is_help(const char *s) {
    return !strcmp(s, "--help") || !strcmp(s, "-h") || !strcmp(s, "help");
}

int main(int argc, char **argv) {
    if (argc < 2 || is_help(argv[1])) {
        list(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? 2 : 0;
    }
    /* `lxdex keygen` is `lxdex key gen` (the name issue 6 gives it) */
    char *alias[64];
    if (!strcmp(argv[1], "keygen") && argc < 63) {
        alias[0] = argv[0];
        alias[1] = "key";
        alias[2] = "gen";
        for (int i = 2; i < argc; i++) alias[i + 1] = argv[i];
        alias[argc + 1] = NULL;
        argv = alias;
        argc++;
    }
    const char *group = argv[1];
    for (size_t i = 0; i < NCMDS; i++)
        if (!commands[i].name && !strcmp(group, commands[i].group))
            return run(&commands[i], argc - 1, argv + 1);
    bool known_group = false;
    for (size_t i = 0; i < NCMDS; i++) known_group |= !strcmp(group, commands[i].group);
    if (!known_group) {
        fprintf(stderr, "lxdex: unknown command group '%s'\n\n", group);
        list(stderr, NULL);
        return 2;
    }
    if (argc < 3 || is_help(argv[2])) {
        list(argc < 3 ? stderr : stdout, group);
        return argc < 3 ? 2 : 0;
    }
    for (size_t i = 0; i < NCMDS; i++) {
        const lxdex_cmd_t *c = &commands[i];
        if (!c->name || strcmp(group, c->group) || strcmp(argv[2], c->name)) continue;
        return run(c, argc - 2, argv + 2);
    }
    fprintf(stderr, "lxdex: unknown command '%s %s'\n\n", group, argv[2]);
    list(stderr, group);
    return 2;
}
