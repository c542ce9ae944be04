/*
 * lxdexd: the lxdex node (docs/node.md).
 *
 *   lxdexd [--config FILE] [--demo] [--data-dir DIR] [--print-config]
 *
 * Without --config it runs the embedded development configuration
 * (lx_config_default: dev mode, loopback, BTC-USD and ETH-USD). It recovers
 * from the data directory, starts the sequencer and engine threads
 * (src/node), the binary TCP gateway (src/gw/tcp.c) and the web gateway
 * (src/gw/web.c: HTTP JSON, JSON-RPC and WebSocket, when listen.http or
 * listen.ws is on), prints its addresses and URLs, and runs until SIGINT or
 * SIGTERM, then stops gracefully: no new connections or requests, the node
 * drains its rings, the journal commits, the connections get their last
 * reports and are closed. It also stops, with exit status 1, when the node
 * fails (a journal error, an engine out of memory), so that a supervisor
 * restarts it. Both gateways are told to stop before either is
 * waited for: each one's stop waits for the node's out rings to close,
 * which needs every gateway's in ring closed.
 *
 * --demo also starts a demo flow client (demo.c) that trades over the
 * binary protocol, so that books and trades move.
 *
 * Signals are blocked in every thread and taken by sigtimedwait() in main,
 * so no handler runs on a pipeline thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "demo.h"
#include "lx/config.h"
#include "lx/error.h"
#include "lx/gw_tcp.h"
#include "lx/gw_web.h"
#include "lx/node.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lxdexd [--config FILE] [--data-dir DIR] [--demo] [--print-config]\n"
            "\n"
            "  --config FILE    node configuration (YAML, docs/config.md); without it the\n"
            "                   embedded development configuration is used (dev mode,\n"
            "                   loopback, markets BTC-USD and ETH-USD)\n"
            "  --data-dir DIR   override node.data_dir (journal and snapshots)\n"
            "  --demo           also run a demo client that quotes and trades on every market\n"
            "                   over the binary protocol (dev mode only)\n"
            "  --print-config   print the configuration (every key) as YAML and exit\n"
            "  --help           this text\n"
            "\n"
            "Stops gracefully on SIGINT (Ctrl-C) or SIGTERM; a second one during the stop ends it\n"
            "at once (the journal holds everything acknowledged).\n");
}

static void print_addr(const char *what, const lx_config_addr_t *a, uint16_t port,
                       const char *note) {
    if (!a->enabled) {
        printf("  %-8s off\n", what);
        return;
    }
    printf("  %-8s %s%s%s:%u%s\n", what, a->ipv6 ? "[" : "", a->host, a->ipv6 ? "]" : "", port,
           note);
}

int main(int argc, char **argv) {
    const char *config_path = NULL, *data_dir = NULL;
    bool demo = false, print_config = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (!strcmp(argv[i], "--demo")) {
            demo = true;
        } else if (!strcmp(argv[i], "--print-config")) {
            print_config = true;
        } else {
            fprintf(stderr, "lxdexd: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    char err[LX_CONFIG_ERR_LEN * 2] = "";
    lx_config_t cfg;
    int rc = config_path ? lx_config_load_file(config_path, &cfg, err, sizeof err)
                         : lx_config_default(&cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "lxdexd: %s\n", err);
        return 1;
    }
    if (data_dir) {
        if (strlen(data_dir) > LX_CONFIG_PATH_MAX) {
            fprintf(stderr, "lxdexd: --data-dir: path too long\n");
            lx_config_free(&cfg);
            return 1;
        }
        snprintf(cfg.node.data_dir, sizeof cfg.node.data_dir, "%s", data_dir);
    }
    if (print_config) {
        int len = lx_config_write(&cfg, NULL, 0);
        char *buf = len > 0 ? malloc((size_t)len + 1) : NULL;
        if (buf) {
            lx_config_write(&cfg, buf, (size_t)len + 1);
            fputs(buf, stdout);
        }
        free(buf);
        lx_config_free(&cfg);
        return buf ? 0 : 1;
    }
    if (demo && !cfg.node.dev_mode) {
        fprintf(stderr, "lxdexd: --demo needs node.dev_mode (it logs on by account id)\n");
        lx_config_free(&cfg);
        return 1;
    }

    /* A log line to a closed pipe (lxdexd | head) must not kill the node:
     * the write fails, the node goes on. */
    signal(SIGPIPE, SIG_IGN);
    /* Every thread created from here on inherits the blocked signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    printf("lxdexd: node \"%s\"%s, config: %s, data dir: %s\n", cfg.node.name,
           cfg.node.dev_mode ? " in development mode" : "",
           config_path ? config_path : "embedded default", cfg.node.data_dir);
    lx_node_t *node = NULL;
    lx_gw_tcp_t *gw = NULL;
    lx_gw_web_t *web = NULL;
    lx_node_opts_t nopts = {.log = stdout};
    rc = lx_node_open(&node, &cfg, &nopts, err, sizeof err);
    if (rc) {
        fprintf(stderr, "lxdexd: %s\n", err);
        lx_config_free(&cfg);
        return 1;
    }
    lx_gw_tcp_opts_t gopts = {.log = stdout};
    if (cfg.listen.binary.enabled) {
        rc = lx_gw_tcp_open(&gw, node, &cfg, &gopts, err, sizeof err);
        if (rc) {
            fprintf(stderr, "lxdexd: %s\n", err);
            lx_node_close(node);
            lx_config_free(&cfg);
            return 1;
        }
    }
    lx_gw_web_opts_t wopts = {.log = stdout};
    if (cfg.listen.http.enabled || cfg.listen.ws.enabled) {
        rc = lx_gw_web_open(&web, node, &cfg, &wopts, err, sizeof err);
        if (rc) {
            fprintf(stderr, "lxdexd: %s\n", err);
            lx_gw_tcp_close(gw);
            lx_node_close(node);
            lx_config_free(&cfg);
            return 1;
        }
    }
    if ((rc = lx_node_start(node)) || (gw && (rc = lx_gw_tcp_start(gw))) ||
        (web && (rc = lx_gw_web_start(web)))) {
        fprintf(stderr, "lxdexd: cannot start threads: %s\n", lx_strerror(rc));
        /* every gateway's in ring closed (also of a gateway whose thread
         * never started), so the sequencer and the engines stop; the
         * gateways are freed only after the node's threads, which call
         * their notify, were joined */
        lx_node_stop_inputs(node);
        lx_gw_web_stop_async(web);
        lx_gw_tcp_stop(gw);
        lx_gw_web_stop(web);
        lx_node_close(node);
        lx_gw_tcp_close(gw);
        lx_gw_web_close(web);
        lx_config_free(&cfg);
        return 1;
    }
    uint16_t port = gw ? lx_gw_tcp_port(gw) : 0;
    printf("lxdexd: listening\n");
    print_addr("binary", &cfg.listen.binary, port, "   binary order entry (docs/protocol.md)");
    if (gw)
        printf("lxdexd: binary order entry on %u gateway thread%s\n", lx_gw_tcp_threads(gw),
               lx_gw_tcp_threads(gw) == 1 ? "" : "s");
    print_addr("http", &cfg.listen.http, lx_gw_web_http_port(web),
               "   HTTP JSON and JSON-RPC (docs/api.md)");
    print_addr("ws", &cfg.listen.ws, lx_gw_web_ws_port(web), "   WebSocket JSON (docs/api.md)");
    const char *lb = cfg.listen.http.ipv6 ? "[" : "", *rb = cfg.listen.http.ipv6 ? "]" : "";
    if (cfg.listen.http.enabled) {
        printf("lxdexd: http://%s%s%s:%u/v1/markets\n", lb, cfg.listen.http.host, rb,
               lx_gw_web_http_port(web));
        printf("lxdexd: json-rpc http://%s%s%s:%u/rpc\n", lb, cfg.listen.http.host, rb,
               lx_gw_web_http_port(web));
        printf("lxdexd: metrics http://%s%s%s:%u/metrics\n", lb, cfg.listen.http.host, rb,
               lx_gw_web_http_port(web));
    }
    if (cfg.listen.ws.enabled)
        printf("lxdexd: websocket ws://%s%s%s:%u/\n", cfg.listen.ws.ipv6 ? "[" : "",
               cfg.listen.ws.host, cfg.listen.ws.ipv6 ? "]" : "", lx_gw_web_ws_port(web));
    for (size_t i = 0; i < cfg.nmarkets; i++)
        printf("  market %u %s\n", cfg.markets[i].id, cfg.markets[i].symbol);
    if (cfg.node.dev_mode)
        printf("lxdexd: dev mode: log on by account id (accounts 1..100 have faucet funds)\n");

    lx_demo_t *d = NULL;
    if (demo && gw) {
        rc = lx_demo_start(&d, &cfg, port, stdout);
        if (rc)
            fprintf(stderr, "lxdexd: demo client did not start: %s\n", lx_strerror(rc));
        else
            printf("lxdexd: demo client trading on %zu markets\n", cfg.nmarkets);
    }
    printf("lxdexd: running; Ctrl-C to stop\n");
    fflush(stdout);

    /* Until SIGINT or SIGTERM, or until the node fails (a journal error, or
     * an engine out of memory: it then takes no more commands): exiting
     * with status 1 lets a supervisor start it again, and the recovery
     * applies what the journal holds. */
    int sig;
    struct timespec every = {0, 100000000};
    while ((sig = sigtimedwait(&sigs, NULL, &every)) < 0 && !lx_node_failed(node)) {
    }
    if (sig > 0)
        printf("\nlxdexd: %s: stopping (a second one ends the process at once)\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
    else
        printf("lxdexd: the node failed: stopping\n");
    fflush(stdout);
    /* A second SIGINT or SIGTERM while the stop waits (a client that will
     * not drain, a hung disk) ends the process by the signal's default
     * action, as kill -9 would: the journal holds everything acknowledged. */
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    lx_demo_stop(d);
    lx_gw_web_stop_async(web);
    if (!gw) lx_node_gateway_close(node, 0); /* nobody else closes gateway 0's in ring */
    lx_gw_tcp_stop(gw);
    lx_gw_web_stop(web);
    lx_node_join(node);
    lx_node_stats_t st;
    lx_node_stats(node, &st);
    printf("lxdexd: %llu commands journaled in %llu commits this run, %llu reports%s%s\n",
           (unsigned long long)st.commands, (unsigned long long)st.batches,
           (unsigned long long)st.reports, st.journal_error ? ", failed: " : "",
           st.journal_error ? lx_strerror(st.journal_error) : "");
    lx_gw_tcp_close(gw);
    lx_gw_web_close(web);
    lx_node_close(node);
    lx_config_free(&cfg);
    return st.journal_error ? 1 : 0;
}
