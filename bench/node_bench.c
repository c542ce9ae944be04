/*
 * node_bench.c: an open-loop load generator for the whole node over the
 * binary protocol (see node_bench.h for what it measures and prints).
 *
 * Two client threads share one TCP connection: the sender waits until the
 * next request is due (lxb_pacer_*, clock.h: timer slack 1 ns, a sleep to
 * the due time less an eighth of the gap between its requests, then
 * sched_yield() to it; requests closer together than 50 us, a wakeup every
 * 50 us), then writes every due request in one send(); the receiver decodes
 * reports and records, for each ACCEPTED or CANCELED, now - due(i), where i
 * comes from the order's client id (PLACE i has client id i + 1; the CANCEL
 * i + 1 of that order is answered by a CANCELED carrying the same client
 * id, and is charged to request i + 1). Due times are absolute: request g
 * of the run (all clients' requests interleaved) is due at start + g * 1e9
 * / rate ns, in 32.32 fixed point, so the offered rate is the printed one
 * and not 1e9 / rate truncated to whole ns; a sender that falls behind
 * sends a burst, and the burst's queueing shows in the latencies.
 *
 * What the client adds: a request that leaves after its due time has that
 * lateness in its latency. The sender records, for every request, the time
 * it handed it to send() minus its due time: send_late_p50_ns,
 * send_late_p99_ns and send_late_max_ns in the RESULT line, and late_msgs
 * counts those over 100 us. sender_cpu_pct is the senders' CPU time over the
 * run's (100: one core's worth), which the node did not have.
 *
 * The node runs in this process, so its three threads, the two client
 * threads and the kernel's loopback share the machine's cores: on a 2-core
 * machine this measures the node under heavy contention, not in isolation.
 */
#define _GNU_SOURCE
#include "node_bench.h"
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
#include "lx/engine.h"
#include "lx/error.h"
#include "lx/gw_tcp.h"
#include "lx/node.h"
#include "lx/proto.h"
#include "lx/sign.h"
#include <sodium.h>

#define ACCOUNT 1
/* the default configuration's markets: BTC-USD (25,000 USD) and ETH-USD
 * (2,000 USD), in ticks */
static const int64_t MID[2] = {2500000, 200000};

typedef struct {
    int fd;
    lx_account_id_t account;
    uint64_t n;         /* requests of this client */
    uint64_t period_fp; /* ns between the run's requests, 32.32 fixed point */
    uint32_t conns, k;  /* this client's request i is the run's i * conns + k */
    uint64_t start;     /* due time of the run's request 0 (lxb_now_ns) */
    uint64_t seed;
    uint64_t late; /* requests sent after their due time + 100 us */
    lxb_hist_t *lat;
    lxb_hist_t *send_late; /* send() time minus due time, per request */
    uint64_t sender_cpu_ns;
    uint64_t got;
    _Atomic int failed;
    uint8_t *frames; /* LXB_AUTH_SIGNED: request i is the SIGNED frame at i * FRAME */
    uint8_t pk[32], sk[64];
    uint32_t chain;
    lx_market_id_t market; /* the market the client trades */
} nb_t;

#define SIGNED_FRAME 240 /* lx_proto_msg_size(LX_PROTO_SIGNED) */

/* Request i as a command of `account` in `market` (0 or 1): even i places
 * (client id i + 1), odd i cancels the order of request i - 1 by client id. */
static void request_cmd(lx_account_id_t account, lx_market_id_t market, uint64_t i, uint64_t *x,
                        lx_cmd_t *c) {
    memset(c, 0, sizeof *c);
    if (i % 2 == 0) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        c->type = LX_CMD_PLACE;
        c->u.place.account = account;
        c->u.place.market = market;
        c->u.place.client_id = i + 1;
        c->u.place.side = LX_SIDE_BUY;
        c->u.place.tif = LX_TIF_GTC;
        c->u.place.price = MID[market] - 1 - (int64_t)(*x % 1000);
        c->u.place.qty = 1 + (int64_t)(*x >> 40) % 10;
    } else {
        c->type = LX_CMD_CANCEL;
        c->u.cancel.account = account;
        c->u.cancel.market = market;
        c->u.cancel.client_id = i; /* the order placed by request i - 1 */
        c->u.cancel.by_client_id = 1;
    }
}

/* Every request of the run as a SIGNED frame, signed before the clock
 * starts (the client's signing is not what is measured). */
static int presign(nb_t *b, const uint8_t sk[64], const uint8_t pk[32], uint32_t chain) {
    b->frames = malloc(b->n * SIGNED_FRAME);
    if (!b->frames) return -1;
    uint64_t x = b->seed | 1;
    for (uint64_t i = 0; i < b->n; i++) {
        lx_action_t a = {.chain_id = chain, .nonce = i + 1};
        memcpy(a.signer, pk, 32);
        request_cmd(b->account, b->market, i, &x, &a.cmd);
        lx_proto_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = LX_PROTO_SIGNED;
        int n = lx_sign(&a, sk, m.u.signed_action.envelope, sizeof m.u.signed_action.envelope);
        if (n <= 0) return -1;
        m.u.signed_action.len = (uint16_t)n;
        if (lx_proto_encode(&m, b->frames + i * SIGNED_FRAME, SIGNED_FRAME) != SIGNED_FRAME)
            return -1;
    }
    return 0;
}

/* A thread signing one client's requests (clients sign in parallel). */
static void *presign_main(void *arg) {
    nb_t *b = arg;
    if (presign(b, b->sk, b->pk, b->chain)) atomic_store(&b->failed, 1);
    return NULL;
}

static uint64_t due(const nb_t *b, uint64_t i) {
    unsigned __int128 g = (unsigned __int128)(i * b->conns + b->k);
    return b->start + (uint64_t)((g * b->period_fp) >> 32);
}

static void *sender(void *arg) {
    nb_t *b = arg;
    uint64_t x = b->seed | 1;
    uint8_t *buf = malloc(4096 * SIGNED_FRAME);
    if (!buf) {
        atomic_store(&b->failed, 1);
        return NULL;
    }
    lxb_pacer_t pace;
    lxb_pacer_init(&pace, (b->period_fp >> 32) * b->conns);
    uint64_t i = 0;
    while (i < b->n && !atomic_load(&b->failed)) {
        uint64_t now = lxb_now_ns();
        if (now < due(b, i)) {
            lxb_pacer_wait(&pace, due(b, i));
            continue;
        }
        size_t len = 0;
        uint64_t first = i;
        for (int k = 0; k < 4096 && i < b->n && due(b, i) <= now; k++, i++) {
            if (b->frames) {
                memcpy(buf + len, b->frames + i * SIGNED_FRAME, SIGNED_FRAME);
                len += SIGNED_FRAME;
                continue;
            }
            lx_cmd_t c;
            request_cmd(b->account, b->market, i, &x, &c);
            lx_proto_msg_t m;
            memset(&m, 0, sizeof m);
            if (c.type == LX_CMD_PLACE) {
                m.type = LX_PROTO_PLACE;
                m.u.place.market = c.u.place.market;
                m.u.place.client_id = c.u.place.client_id;
                m.u.place.side = c.u.place.side;
                m.u.place.tif = c.u.place.tif;
                m.u.place.price = c.u.place.price;
                m.u.place.qty = c.u.place.qty;
            } else {
                m.type = LX_PROTO_CANCEL;
                m.u.cancel.market = c.u.cancel.market;
                m.u.cancel.client_id = c.u.cancel.client_id;
                m.u.cancel.by_client_id = 1;
            }
            int n = lx_proto_encode(&m, buf + len, 48);
            if (n <= 0) {
                atomic_store(&b->failed, 1);
                break;
            }
            len += (size_t)n;
        }
        uint64_t sent = lxb_now_ns(); /* the requests leave now */
        for (uint64_t j = first; j < i; j++) {
            uint64_t d = due(b, j);
            lxb_hist_record(b->send_late, sent - d);
            b->late += sent > d + 100000;
        }
        size_t off = 0;
        while (off < len) {
            ssize_t w = send(b->fd, buf + off, len - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                fprintf(stderr, "node_bench: send: %s\n", strerror(errno));
                atomic_store(&b->failed, 1);
                break;
            }
            off += (size_t)w;
        }
    }
    free(buf);
    b->sender_cpu_ns = lxb_thread_cpu_ns();
    return NULL;
}

static void *receiver(void *arg) {
    nb_t *b = arg;
    lx_proto_decoder_t dec;
    lx_proto_decoder_init(&dec, LX_PROTO_FROM_SERVER);
    uint8_t *buf = malloc(1 << 16);
    if (!buf) {
        atomic_store(&b->failed, 1);
        return NULL;
    }
    uint64_t deadline = due(b, b->n) + 30000000000ull;
    while (b->got < b->n && !atomic_load(&b->failed)) {
        struct pollfd pf = {.fd = b->fd, .events = POLLIN};
        if (poll(&pf, 1, 100) == 0) {
            if (lxb_now_ns() > deadline) {
                fprintf(stderr, "node_bench: %" PRIu64 " of %" PRIu64 " reports in time\n", b->got,
                        b->n);
                atomic_store(&b->failed, 1);
            }
            continue;
        }
        ssize_t r = recv(b->fd, buf, 1 << 16, 0);
        if (r <= 0) {
            fprintf(stderr, "node_bench: the node closed the connection\n");
            atomic_store(&b->failed, 1);
            break;
        }
        uint64_t now = lxb_now_ns();
        const uint8_t *p = buf;
        size_t len = (size_t)r;
        lx_proto_msg_t m;
        int rc;
        while ((rc = lx_proto_decode(&dec, &p, &len, &m)) != 0) {
            if (rc < 0) {
                atomic_store(&b->failed, 1);
                break;
            }
            uint64_t i;
            if (m.type == LX_PROTO_ACCEPTED) {
                i = m.u.accepted.h.client_id - 1;
            } else if (m.type == LX_PROTO_CANCELED) {
                i = m.u.canceled.h.client_id; /* the cancel came right after its place */
            } else if (m.type == LX_PROTO_REJECTED) {
                fprintf(stderr, "node_bench: request rejected (reason %u)\n", m.u.rejected.reason);
                atomic_store(&b->failed, 1);
                break;
            } else {
                continue;
            }
            if (i >= b->n) continue;
            uint64_t d = due(b, i);
            lxb_hist_record(b->lat, now > d ? now - d : 0);
            b->got++;
        }
    }
    free(buf);
    return NULL;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

int lxb_run_client(void *(*send_fn)(void *), void *(*recv_fn)(void *), void *arg,
                   _Atomic int *failed) {
    pthread_t ts, tr;
    if (pthread_create(&tr, NULL, recv_fn, arg)) return -1;
    if (pthread_create(&ts, NULL, send_fn, arg)) {
        atomic_store(failed, 1);
        pthread_join(tr, NULL);
        return -1;
    }
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    return 0;
}

/* The STAGES line: the node's own stage histograms (from the gateway's
 * receipt of each order, 12.5% buckets) and its fsync times. */
void lxb_print_stages(const lx_node_t *node, const char *wl, uint64_t rate) {
    printf("STAGES workload=%s offered_rate=%" PRIu64, wl, rate);
    for (int stage = 0; stage < LX_NODE_LAT__COUNT; stage++) {
        lx_lathist_t *h = calloc(1, sizeof *h);
        if (!h) break;
        lx_node_latency(node, stage, h);
        printf(" %s_p50_ns=%" PRIu64 " %s_p99_ns=%" PRIu64 " %s_p999_ns=%" PRIu64,
               lx_node_lat_stage_name(stage), lx_lathist_quantile(h, 500000),
               lx_node_lat_stage_name(stage), lx_lathist_quantile(h, 990000),
               lx_node_lat_stage_name(stage), lx_lathist_quantile(h, 999000));
        free(h);
    }
    lx_lathist_t *fh = calloc(1, sizeof *fh);
    if (fh) {
        lx_node_fsync_latency(node, fh);
        printf(" fsync_p50_ns=%" PRIu64 " fsync_p99_ns=%" PRIu64 " fsync_max_ns=%" PRIu64,
               lx_lathist_quantile(fh, 500000), lx_lathist_quantile(fh, 990000),
               (uint64_t)atomic_load(&fh->max));
        free(fh);
    }
    printf("\n");
    fflush(stdout);
}

/* Sends one frame and reads one of want_len bytes of type want_type. */
static int exchange(int fd, const lx_proto_msg_t *m, uint8_t *reply, int want_len, int want_type) {
    uint8_t f[LX_PROTO_FRAME_MAX];
    int n = lx_proto_encode(m, f, sizeof f);
    if (n <= 0 || send(fd, f, (size_t)n, MSG_NOSIGNAL) != n ||
        recv(fd, reply, (size_t)want_len, MSG_WAITALL) != want_len || reply[2] != want_type)
        return -1;
    return 0;
}

/* Connects client k (account 1 + k) and logs it on: dev, by account id;
 * session and signed, a signed logon with key k, which in dev mode also
 * binds the key as the account's owner key. */
static int client_open(nb_t *b, uint16_t port, int auth, uint32_t chain, uint32_t k, uint8_t pk[32],
                       uint8_t sk[64]) {
    b->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (b->fd < 0 || connect(b->fd, (struct sockaddr *)&a, sizeof a)) {
        fprintf(stderr, "node_bench: connect: %s\n", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = b->account;
    uint8_t reply[64];
    int rc = 0;
    if (auth != LXB_AUTH_DEV) {
        uint8_t kseed[32];
        memset(kseed, 7 + (int)k, sizeof kseed);
        rc = sodium_init() < 0 ? -1 : 0;
        crypto_sign_seed_keypair(pk, sk, kseed);
        m.u.logon.flags = LX_PROTO_LOGON_SIGNED;
        memcpy(m.u.logon.public_key, pk, 32);
        if (!rc) rc = exchange(b->fd, &m, reply, 40, LX_PROTO_CHALLENGE);
        uint8_t p[LX_SIGN_LOGON_LEN];
        lx_sign_logon_payload(chain, b->account, reply + 8, pk, p);
        crypto_sign_detached(m.u.logon.signature, NULL, p, sizeof p, sk);
    }
    if (rc || exchange(b->fd, &m, reply, 32, LX_PROTO_LOGON_ACK)) {
        fprintf(stderr, "node_bench: logon failed\n");
        return -1;
    }
    return 0;
}

int lx_bench_node(uint64_t rate, uint32_t seconds, bool fsync, uint64_t seed, int auth,
                  uint32_t conns, uint32_t threads, uint32_t shards) {
    if (rate == 0 || seconds == 0 || rate > 1000000000) return 1;
    if (shards == 0) shards = 1;
    if (shards > 2) return 1; /* the default configuration has two markets */
    if (conns == 0) conns = 1;
    if (conns > 64) return 1;
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lx-node-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "node_bench: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    char err[512] = "";
    lx_config_t cfg;
    lx_node_t *node = NULL;
    lx_gw_tcp_t *gw = NULL;
    nb_t *bs = calloc(conns, sizeof *bs);
    pthread_t *th = calloc(2 * (size_t)conns, sizeof *th);
    lxb_hist_t *lat = malloc(sizeof *lat), *slate = malloc(sizeof *slate);
    uint32_t nth = 0;
    int ret = 1;
    if (!bs || !th || !lat || !slate) {
        free(bs);
        free(th);
        free(lat);
        free(slate);
        return 1;
    }
    for (uint32_t k = 0; k < conns; k++) bs[k].fd = -1;
    if (lx_config_default(&cfg, err, sizeof err)) goto out_nocfg;
    cfg.listen.binary.port = 0;
    cfg.journal.fsync = fsync;
    cfg.rate_limits.per_account.rate = 0; /* the offered rate is the point */
    cfg.rate_limits.per_connection.rate = 0;
    snprintf(cfg.node.data_dir, sizeof cfg.node.data_dir, "%s/data", dir);
    cfg.shards = shards; /* market m in shard m % shards */
    for (size_t i = 0; i < cfg.nmarkets; i++) cfg.markets[i].shard = cfg.markets[i].id % shards;
    lx_node_opts_t no = {.faucet_accounts = conns};
    lx_gw_tcp_opts_t go = {.threads = threads};
    if (lx_node_open(&node, &cfg, &no, err, sizeof err) ||
        lx_gw_tcp_open(&gw, node, &cfg, &go, err, sizeof err) || lx_node_start(node) ||
        lx_gw_tcp_start(gw)) {
        fprintf(stderr, "node_bench: %s\n", err[0] ? err : "cannot start the node");
        goto out;
    }

    /* Client k (account 1 + k) offers rate / conns: its request i is the
     * run's request i * conns + k, so that together they offer one request
     * per period (1e9 / rate ns, 32.32 fixed point: exact to 2^-32 ns). */
    uint64_t n = rate * seconds;
    uint64_t period_fp = (uint64_t)(((unsigned __int128)1000000000ull << 32) / rate);
    n /= conns;
    n &= ~(uint64_t)1; /* whole place + cancel pairs */
    for (uint32_t k = 0; k < conns; k++) {
        nb_t *b = &bs[k];
        b->account = ACCOUNT + k;
        b->market = shards > 1 ? k % 2 : 0; /* with two shards, clients alternate */
        b->chain = cfg.node.chain_id;
        if (client_open(b, lx_gw_tcp_port(gw), auth, cfg.node.chain_id, k, b->pk, b->sk)) goto out;
        b->lat = malloc(sizeof *b->lat);
        b->send_late = malloc(sizeof *b->send_late);
        if (!b->lat || !b->send_late) goto out;
        lxb_hist_init(b->lat);
        lxb_hist_init(b->send_late);
        b->n = n;
        b->period_fp = period_fp;
        b->conns = conns;
        b->k = k;
        b->seed = seed + k;
    }
    if (auth == LXB_AUTH_SIGNED) { /* before the clock starts, one thread per client */
        bool made[64];
        for (uint32_t k = 0; k < conns; k++) {
            made[k] = pthread_create(&th[k], NULL, presign_main, &bs[k]) == 0;
            if (!made[k]) atomic_store(&bs[k].failed, 1);
        }
        for (uint32_t k = 0; k < conns; k++)
            if (made[k]) pthread_join(th[k], NULL);
        for (uint32_t k = 0; k < conns; k++) {
            if (atomic_load(&bs[k].failed)) {
                fprintf(stderr, "node_bench: cannot sign the requests\n");
                goto out;
            }
        }
    }
    uint64_t start = lxb_now_ns() + 10000000;
    for (uint32_t k = 0; k < conns; k++) bs[k].start = start;
    bool failed = false;
    for (uint32_t k = 0; k < conns && !failed; k++) {
        if (pthread_create(&th[nth], NULL, receiver, &bs[k]) == 0)
            nth++;
        else
            failed = true;
        if (!failed && pthread_create(&th[nth], NULL, sender, &bs[k]) == 0)
            nth++;
        else
            failed = true;
    }
    if (failed)
        for (uint32_t k = 0; k < conns; k++) atomic_store(&bs[k].failed, 1);
    for (uint32_t i = 0; i < nth; i++) pthread_join(th[i], NULL);
    uint64_t el = lxb_now_ns() - start;
    uint64_t got = 0, late = 0, total = n * conns, sender_cpu = 0;
    lxb_hist_init(lat);
    lxb_hist_init(slate);
    for (uint32_t k = 0; k < conns; k++) {
        nb_t *b = &bs[k];
        failed |= atomic_load(&b->failed) != 0;
        got += b->got;
        late += b->late;
        sender_cpu += b->sender_cpu_ns;
        lxb_hist_add(lat, b->lat);
        lxb_hist_add(slate, b->send_late);
    }
    if (failed || got != total) {
        fprintf(stderr, "node_bench: run failed (%" PRIu64 " of %" PRIu64 " reports)\n", got,
                total);
        goto out;
    }
    for (uint32_t k = 0; k < conns; k++) {
        close(bs[k].fd);
        bs[k].fd = -1;
    }
    uint32_t gw_threads = lx_gw_tcp_threads(gw);
    lx_gw_tcp_stop(gw);
    lx_node_join(node);
    lx_node_stats_t st;
    lx_node_stats(node, &st);
    const char *wl = auth == LXB_AUTH_SIGNED    ? "node_tcp_signed"
                     : auth == LXB_AUTH_SESSION ? "node_tcp_session"
                                                : "node_tcp";
    printf("RESULT workload=%s msgs=%" PRIu64 " msgs_per_s=%" PRIu64 " p50_ns=%" PRIu64
           " p99_ns=%" PRIu64 " p999_ns=%" PRIu64 " max_ns=%" PRIu64
           " bytes_per_order=na offered_rate=%" PRIu64 " late_msgs=%" PRIu64
           " send_late_p50_ns=%" PRIu64 " send_late_p99_ns=%" PRIu64 " send_late_max_ns=%" PRIu64
           " sender_cpu_pct=%" PRIu64 " fsync=%d commits=%" PRIu64 " cmds_per_commit=%" PRIu64
           " conns=%u gw_threads=%u shards=%u seed=%" PRIu64 "\n",
           wl, total, (uint64_t)((unsigned __int128)total * 1000000000u / (el ? el : 1)),
           lxb_hist_quantile(lat, 500000), lxb_hist_quantile(lat, 990000),
           lxb_hist_quantile(lat, 999000), lat->max, rate, late, lxb_hist_quantile(slate, 500000),
           lxb_hist_quantile(slate, 990000), slate->max, sender_cpu * 100 / (el ? el : 1),
           fsync ? 1 : 0, st.batches, st.batches ? st.commands / st.batches : 0, conns, gw_threads,
           shards, seed);
    lxb_print_stages(node, wl, rate);

    ret = 0;
out:
    for (uint32_t k = 0; k < conns; k++)
        if (bs[k].fd >= 0) close(bs[k].fd);
    lx_gw_tcp_close(gw);
    lx_node_close(node);
    lx_config_free(&cfg);
out_nocfg:
    for (uint32_t k = 0; k < conns; k++) {
        free(bs[k].lat);
        free(bs[k].send_late);
        free(bs[k].frames);
    }
    free(bs);
    free(th);
    free(lat);
    free(slate);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ret;
}

int lx_bench_verify(uint32_t seconds) {
    if (sodium_init() < 0) return 1;
    enum { N = 256 };
    uint8_t pk[32], sk[64], kseed[32];
    memset(kseed, 9, sizeof kseed);
    crypto_sign_seed_keypair(pk, sk, kseed);
    static uint8_t env[N][LX_SIGN_MAX_ENVELOPE];
    int len[N];
    uint64_t x = 1;
    for (int i = 0; i < N; i++) {
        lx_action_t a = {.chain_id = 1, .nonce = (uint64_t)i + 1};
        memcpy(a.signer, pk, 32);
        request_cmd(1, 0, (uint64_t)i, &x, &a.cmd);
        len[i] = lx_sign(&a, sk, env[i], sizeof env[i]);
        if (len[i] <= 0) return 1;
    }
    uint64_t t0 = lxb_now_ns(), end = t0 + (uint64_t)seconds * 1000000000u, n = 0, bad = 0;
    while (lxb_now_ns() < end) {
        for (int i = 0; i < N; i++) {
            lx_action_t out;
            bad += lx_verify(env[i], (size_t)len[i], 1, &out) != 0;
        }
        n += N;
    }
    uint64_t el = lxb_now_ns() - t0;
    if (bad) {
        fprintf(stderr, "verify: %" PRIu64 " signatures did not verify\n", bad);
        return 1;
    }
    printf("RESULT workload=verify msgs=%" PRIu64 " msgs_per_s=%" PRIu64
           " p50_ns=na p99_ns=na p999_ns=na max_ns=na bytes_per_order=na ns_per_msg=%" PRIu64
           " what=lx_verify_decode_and_ed25519\n",
           n, (uint64_t)((unsigned __int128)n * 1000000000u / (el ? el : 1)), el / (n ? n : 1));
    fflush(stdout);
    return 0;
}
