/*
 * ws_bench.c: an open-loop load generator for the node over WebSocket JSON
 * (docs/api.md §6), the counterpart of node_bench.c's binary one.
 *
 * The node and its web gateway run in this process (binary and HTTP off, a
 * WebSocket port the system picks, fsync on, rate limits off). One client
 * connection logs on as account 1 and offers `rate` orders per second: order
 * i is due at start + i * 1e9 / rate ns (32.32 fixed point, so the offered
 * rate is the printed one). Each order is an IOC buy below every price
 * anyone quotes (the book is empty), so the node journals it, the engine
 * accepts it and cancels the unfilled rest, and the gateway answers one
 * `result` naming the order's id: the latency of order i is the arrival of
 * that result minus its due time (no coordinated omission). With batch > 1
 * the due orders go out as `batch` messages of up to that many actions.
 *
 * The sender waits for the next due order as node_bench.c's does
 * (lxb_pacer_*, clock.h), and records for every order the time it was
 * handed to send() minus its due time: send_late_p50_ns, send_late_p99_ns,
 * send_late_max_ns (the client's share of the latencies; late_msgs counts
 * those over 100 us), and sender_cpu_pct (its CPU time over the run's).
 *
 * The client speaks the WebSocket protocol itself (RFC 6455: the upgrade
 * request, masked text frames out, unmasked frames in) over a blocking
 * socket, with a sender and a receiver thread as in node_bench.c: a load
 * generator must decide exactly when each byte leaves, which an event-loop
 * client library would take out of its hands. The server side is
 * libwebsockets (src/gw/web.c), so what is measured is the product's stack.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hist.h"
#include "lx/config.h"
#include "lx/gw_web.h"
#include "lx/node.h"
#include "node_bench.h"

typedef struct {
    int fd;
    uint64_t n, start, late, got;
    uint64_t period_fp; /* ns between orders, 32.32 fixed point */
    uint32_t batch;
    lxb_hist_t *lat;
    lxb_hist_t *send_late; /* send() time minus due time, per order */
    uint64_t sender_cpu_ns;
    _Atomic int failed;
} wb_t;

static uint64_t due(const wb_t *b, uint64_t i) {
    return b->start + (uint64_t)(((unsigned __int128)i * b->period_fp) >> 32);
}

static int send_all(int fd, const uint8_t *p, size_t len) {
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Appends one masked text frame holding len bytes of text to out. */
static size_t ws_frame(uint8_t *out, const char *text, size_t len, uint32_t mask) {
    size_t h = 0;
    out[h++] = 0x81; /* FIN, text */
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t m[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                    (uint8_t)mask};
    memcpy(out + h, m, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) out[h + i] = (uint8_t)text[i] ^ m[i & 3];
    return h + len;
}

static int ws_handshake(int fd, uint16_t port) {
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     port);
    if (send_all(fd, (const uint8_t *)req, (size_t)n)) return -1;
    char resp[1024];
    size_t got = 0;
    while (got < sizeof resp - 1) { /* to the end of the response head, byte by byte */
        ssize_t r = recv(fd, resp + got, 1, 0);
        if (r <= 0) return -1;
        got++;
        if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4)) break;
    }
    resp[got] = 0;
    return strstr(resp, " 101 ") ? 0 : -1;
}

static void *sender(void *arg) {
    wb_t *b = arg;
    size_t cap = (size_t)4096 * 200 + 65536, fcap = cap + 4096 * 14;
    /* the most one message can take: batch actions of at most 160 bytes, its
     * envelope, a frame header */
    size_t per = (size_t)b->batch * 160 + 64 + 14;
    char *text = malloc(cap);
    uint8_t *frames = malloc(fcap);
    if (!text || !frames) {
        atomic_store(&b->failed, 1);
        free(text);
        free(frames);
        return NULL;
    }
    lxb_pacer_t pace;
    lxb_pacer_init(&pace, b->period_fp >> 32);
    uint64_t i = 0;
    uint32_t mask = 0x9e3779b9;
    while (i < b->n && !atomic_load(&b->failed)) {
        uint64_t now = lxb_now_ns();
        if (now < due(b, i)) {
            lxb_pacer_wait(&pace, due(b, i));
            continue;
        }
        size_t flen = 0;
        uint64_t first = i;
        /* as many due messages as the frame buffer holds (at most 256): a
         * sender that fell behind must not write past it */
        for (int msgs = 0; msgs < 256 && i < b->n && due(b, i) <= now && flen + per <= fcap;
             msgs++) {
            size_t t = 0;
            uint32_t k = 0;
            if (b->batch > 1) t += (size_t)sprintf(text + t, "{\"type\":\"batch\",\"actions\":[");
            for (; k < b->batch && i < b->n && due(b, i) <= now; k++, i++) {
                t += (size_t)sprintf(text + t,
                                     "%s{\"type\":\"place\",\"id\":%" PRIu64
                                     ",\"market\":\"BTC-USD\",\"side\":\"buy\","
                                     "\"price\":\"%u.%02u\",\"size\":\"0.0001\",\"tif\":\"IOC\"}",
                                     k ? "," : "", i, 100 + (unsigned)(i % 900),
                                     (unsigned)(i % 100));
            }
            if (b->batch > 1) t += (size_t)sprintf(text + t, "]}");
            mask = mask * 1664525u + 1013904223u;
            flen += ws_frame(frames + flen, text, t, mask);
        }
        uint64_t sent = lxb_now_ns(); /* the orders leave now */
        for (uint64_t j = first; j < i; j++) {
            uint64_t d = due(b, j);
            lxb_hist_record(b->send_late, sent - d);
            b->late += sent > d + 100000;
        }
        if (send_all(b->fd, frames, flen)) {
            fprintf(stderr, "ws_bench: send: %s\n", strerror(errno));
            atomic_store(&b->failed, 1);
        }
    }
    free(text);
    free(frames);
    b->sender_cpu_ns = lxb_thread_cpu_ns();
    return NULL;
}

/* One text message from the server: a result names its order by "id"; an
 * error or a rejected order fails the run. */
static void on_text(wb_t *b, const char *p, size_t len, uint64_t now) {
    if (len < 22 || memcmp(p, "{\"type\":\"result\",\"id\":", 22) != 0) {
        if (len >= 14 && !memcmp(p, "{\"type\":\"error", 14)) {
            fprintf(stderr, "ws_bench: %.*s\n", (int)(len > 300 ? 300 : len), p);
            atomic_store(&b->failed, 1);
        }
        return;
    }
    uint64_t i = 0;
    for (size_t k = 22; k < len && p[k] >= '0' && p[k] <= '9'; k++)
        i = i * 10 + (uint64_t)(p[k] - '0');
    if (i >= b->n) return;
    /* an order the engine refused is no order served: the run fails */
    if (memmem(p, len, "\"status\":\"rejected\"", 19)) {
        fprintf(stderr, "ws_bench: rejected: %.*s\n", (int)(len > 300 ? 300 : len), p);
        atomic_store(&b->failed, 1);
        return;
    }
    uint64_t d = due(b, i);
    lxb_hist_record(b->lat, now > d ? now - d : 0);
    b->got++;
}

static void *receiver(void *arg) {
    wb_t *b = arg;
    size_t cap = 1 << 22, have = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        atomic_store(&b->failed, 1);
        return NULL;
    }
    uint64_t deadline = due(b, b->n) + 30000000000ull;
    while (b->got < b->n && !atomic_load(&b->failed)) {
        struct pollfd pf = {.fd = b->fd, .events = POLLIN};
        if (poll(&pf, 1, 100) == 0) {
            if (lxb_now_ns() > deadline) {
                fprintf(stderr, "ws_bench: %" PRIu64 " of %" PRIu64 " results in time\n", b->got,
                        b->n);
                atomic_store(&b->failed, 1);
            }
            continue;
        }
        ssize_t r = recv(b->fd, buf + have, cap - have, 0);
        if (r <= 0) {
            fprintf(stderr, "ws_bench: the node closed the connection\n");
            atomic_store(&b->failed, 1);
            break;
        }
        have += (size_t)r;
        uint64_t now = lxb_now_ns();
        size_t off = 0;
        for (;;) { /* whole frames: the server's are unmasked and unfragmented */
            if (have - off < 2) break;
            uint8_t *f = buf + off;
            uint64_t plen = f[1] & 0x7f;
            size_t h = 2;
            if (plen == 126) {
                if (have - off < 4) break;
                plen = (uint64_t)f[2] << 8 | f[3];
                h = 4;
            } else if (plen == 127) {
                if (have - off < 10) break;
                plen = 0;
                for (int k = 0; k < 8; k++) plen = plen << 8 | f[2 + k];
                h = 10;
            }
            if (have - off < h + plen) break;
            if ((f[0] & 0x0f) == 1) on_text(b, (const char *)f + h, (size_t)plen, now);
            off += h + (size_t)plen;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (have == cap) {
            fprintf(stderr, "ws_bench: a frame larger than the buffer\n");
            atomic_store(&b->failed, 1);
        }
    }
    free(buf);
    return NULL;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

int lx_bench_ws(uint64_t rate, uint32_t seconds, uint64_t seed, uint32_t batch) {
    if (rate == 0 || seconds == 0 || rate > 100000000 || batch == 0 || batch > 50) return 1;
    (void)seed;
    const char *tmp = getenv("TMPDIR");
    char dir[512], err[512] = "";
    snprintf(dir, sizeof dir, "%s/lx-ws-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return 1;
    lx_config_t cfg;
    lx_node_t *node = NULL;
    lx_gw_web_t *web = NULL;
    wb_t b;
    memset(&b, 0, sizeof b);
    b.fd = -1;
    int ret = 1;
    bool started = false;
    if (lx_config_default(&cfg, err, sizeof err)) goto out_nocfg;
    cfg.listen.binary.enabled = false;
    cfg.listen.http.enabled = false;
    cfg.listen.ws.port = 0;
    cfg.journal.fsync = true;
    cfg.rate_limits.per_account.rate = 0;
    cfg.rate_limits.per_connection.rate = 0;
    cfg.limits.max_message_bytes = 1u << 20;
    snprintf(cfg.node.data_dir, sizeof cfg.node.data_dir, "%s/data", dir);
    lx_node_opts_t no = {.faucet_accounts = 1};
    if (lx_node_open(&node, &cfg, &no, err, sizeof err) ||
        lx_gw_web_open(&web, node, &cfg, &(lx_gw_web_opts_t){.log = stderr}, err, sizeof err) ||
        lx_node_start(node) || lx_gw_web_start(web)) {
        fprintf(stderr, "ws_bench: %s\n", err[0] ? err : "cannot start the node");
        goto out;
    }
    started = true;
    b.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(lx_gw_web_ws_port(web))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (b.fd < 0 || connect(b.fd, (struct sockaddr *)&a, sizeof a) ||
        ws_handshake(b.fd, lx_gw_web_ws_port(web))) {
        fprintf(stderr, "ws_bench: cannot open the WebSocket\n");
        goto out;
    }
    int one = 1;
    setsockopt(b.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    {
        static const char logon[] = "{\"type\":\"logon\",\"account\":1,\"id\":\"L\"}";
        uint8_t f[128], r[256];
        size_t fl = ws_frame(f, logon, sizeof logon - 1, 0x12345678);
        ssize_t got = send_all(b.fd, f, fl) ? -1 : recv(b.fd, r, sizeof r, 0);
        if (got < 2 || !memmem(r, (size_t)got, "\"logon\"", 7)) {
            fprintf(stderr, "ws_bench: logon failed\n");
            goto out;
        }
    }
    b.lat = malloc(sizeof *b.lat);
    b.send_late = malloc(sizeof *b.send_late);
    if (!b.lat || !b.send_late) goto out;
    lxb_hist_init(b.lat);
    lxb_hist_init(b.send_late);
    b.n = rate * seconds;
    b.period_fp = (uint64_t)(((unsigned __int128)1000000000ull << 32) / rate);
    b.batch = batch;
    b.start = lxb_now_ns() + 10000000;
    if (lxb_run_client(sender, receiver, &b, &b.failed)) goto out;
    uint64_t el = lxb_now_ns() - b.start;
    if (atomic_load(&b.failed) || b.got != b.n) {
        fprintf(stderr, "ws_bench: run failed (%" PRIu64 " of %" PRIu64 " results)\n", b.got, b.n);
        goto out;
    }
    close(b.fd);
    b.fd = -1;
    lx_gw_web_stop_async(web);
    lx_node_gateway_close(node, 0);
    lx_gw_web_stop(web);
    lx_node_join(node);
    started = false;
    lx_node_stats_t st;
    lx_node_stats(node, &st);
    char wl[32];
    snprintf(wl, sizeof wl, batch > 1 ? "node_ws_batch%u" : "node_ws", batch);
    printf("RESULT workload=%s msgs=%" PRIu64 " msgs_per_s=%" PRIu64 " p50_ns=%" PRIu64
           " p99_ns=%" PRIu64 " p999_ns=%" PRIu64 " max_ns=%" PRIu64
           " bytes_per_order=na offered_rate=%" PRIu64 " late_msgs=%" PRIu64
           " send_late_p50_ns=%" PRIu64 " send_late_p99_ns=%" PRIu64 " send_late_max_ns=%" PRIu64
           " sender_cpu_pct=%" PRIu64 " fsync=1 commits=%" PRIu64 " cmds_per_commit=%" PRIu64 "\n",
           wl, b.n, (uint64_t)((unsigned __int128)b.n * 1000000000u / (el ? el : 1)),
           lxb_hist_quantile(b.lat, 500000), lxb_hist_quantile(b.lat, 990000),
           lxb_hist_quantile(b.lat, 999000), b.lat->max, rate, b.late,
           lxb_hist_quantile(b.send_late, 500000), lxb_hist_quantile(b.send_late, 990000),
           b.send_late->max, b.sender_cpu_ns * 100 / (el ? el : 1), st.batches,
           st.batches ? st.commands / st.batches : 0);
    lxb_print_stages(node, wl, rate);
    ret = 0;
out:
    if (b.fd >= 0) close(b.fd);
    if (started) {
        lx_gw_web_stop_async(web);
        lx_node_stop_inputs(node);
        lx_gw_web_stop(web);
    }
    lx_gw_web_close(web);
    lx_node_close(node);
    lx_config_free(&cfg);
    free(b.lat);
    free(b.send_late);
out_nocfg:
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ret;
}
