/*
 * demo.c: a demo order flow over the binary protocol, so that `make run`
 * shows a market that moves.
 *
 * One thread, one TCP connection per dev account: account 1 + i makes the
 * market in market i, account 90 takes. Every 100 ms each market's mid
 * takes a small random step; its maker cancels its quotes (CANCEL_ALL for
 * that market) and quotes 5 levels a side around the new mid; a few times a
 * second the taker sends an IOC order that crosses the spread. The mid starts
 * at max_price / 40 (25,000 USD for BTC-USD, 2,500 USD for ETH-USD in the
 * default config), quantities are 1..20 lots. Reports are read and counted
 * (fills), and a line of totals is printed every 10 s.
 *
 * It is a client like any other: it knows only the protocol (lx/proto.h)
 * and the config's market table. It uses a seeded xorshift, so runs repeat.
 */
#define _GNU_SOURCE
#include "demo.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "lx/error.h"
#include "lx/proto.h"

#define DEMO_TAKER 90
#define LEVELS 5

typedef struct {
    int fd;
    lx_proto_decoder_t dec;
} dconn_t;

typedef struct {
    const lx_config_market_t *m;
    int64_t mid; /* ticks */
    dconn_t maker;
} dmarket_t;

struct lx_demo {
    pthread_t thread;
    _Atomic bool stop;
    FILE *log;
    const lx_config_t *cfg;
    uint16_t port;
    dmarket_t *mk;
    size_t nmk;
    dconn_t taker;
    uint64_t rng;
    uint64_t sent, fills, rejected, client_id;
};

static uint64_t rnd(lx_demo_t *d) {
    uint64_t x = d->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return d->rng = x;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int send_msg(dconn_t *c, const lx_proto_msg_t *m) {
    uint8_t b[LX_PROTO_FRAME_MAX];
    int n = lx_proto_encode(m, b, sizeof b);
    if (n <= 0 || c->fd < 0) return -1;
    ssize_t w = send(c->fd, b, (size_t)n, MSG_NOSIGNAL);
    return w == n ? 0 : -1;
}

static int dconnect(lx_demo_t *d, dconn_t *c, lx_account_id_t account) {
    c->fd = socket(d->cfg->listen.binary.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return LX_EIO;
    int rc;
    if (d->cfg->listen.binary.ipv6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(d->port)};
        inet_pton(AF_INET6, d->cfg->listen.binary.host, &a.sin6_addr);
        if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) a.sin6_addr = in6addr_loopback;
        rc = connect(c->fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(d->port)};
        inet_pton(AF_INET, d->cfg->listen.binary.host, &a.sin_addr);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(c->fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc) {
        close(c->fd);
        c->fd = -1;
        return LX_EIO;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    lx_proto_decoder_init(&c->dec, LX_PROTO_FROM_SERVER);
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = account;
    return send_msg(c, &m) ? LX_EIO : 0;
}

/* Reads whatever has arrived and counts it. */
static void drain(lx_demo_t *d, dconn_t *c) {
    uint8_t buf[16384];
    for (;;) {
        if (c->fd < 0) return;
        ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            close(c->fd);
            c->fd = -1;
            return;
        }
        if (r < 0) return;
        const uint8_t *p = buf;
        size_t len = (size_t)r;
        lx_proto_msg_t m;
        int rc;
        while ((rc = lx_proto_decode(&c->dec, &p, &len, &m)) != 0) {
            if (rc == 1 && m.type == LX_PROTO_FILL) d->fills++;
            if (rc == 1 && m.type == LX_PROTO_REJECTED) d->rejected++;
            if (rc < 0 && rc != LX_EINVAL) return;
        }
    }
}

static void place(lx_demo_t *d, dconn_t *c, lx_market_id_t market, int side, int tif, int64_t price,
                  int64_t qty) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_PLACE;
    m.u.place.market = market;
    m.u.place.client_id = ++d->client_id;
    m.u.place.side = (uint8_t)side;
    m.u.place.order_type = 0;
    m.u.place.tif = (uint8_t)tif;
    m.u.place.price = price;
    m.u.place.qty = qty;
    if (send_msg(c, &m) == 0) d->sent++;
}

static void quote(lx_demo_t *d, dmarket_t *k) {
    const lx_config_market_t *m = k->m;
    int64_t step = k->mid / 2000; /* 0.05% */
    if (step < 1) step = 1;
    k->mid += (int64_t)(rnd(d) % 5) * step - 2 * step;
    if (k->mid < m->min_price + (LEVELS + 2) * step) k->mid = m->min_price + (LEVELS + 2) * step;
    if (k->mid > m->max_price - (LEVELS + 2) * step) k->mid = m->max_price - (LEVELS + 2) * step;
    lx_proto_msg_t ca;
    memset(&ca, 0, sizeof ca);
    ca.type = LX_PROTO_CANCEL_ALL;
    ca.u.cancel_all.market = m->id;
    if (send_msg(&k->maker, &ca) == 0) d->sent++;
    int64_t half = step;
    for (int l = 0; l < LEVELS; l++) {
        int64_t q = 1 + (int64_t)(rnd(d) % 20);
        if (q > m->max_qty) q = m->max_qty;
        place(d, &k->maker, m->id, 0, 4 /* post-only */, k->mid - half - l * step, q);
        place(d, &k->maker, m->id, 1, 4, k->mid + half + l * step, q);
    }
}

static void take(lx_demo_t *d, dmarket_t *k) {
    int side = (int)(rnd(d) & 1);
    int64_t off = k->mid / 100;
    int64_t price = side == 0 ? k->mid + off : k->mid - off;
    if (price < k->m->min_price) price = k->m->min_price;
    if (price > k->m->max_price) price = k->m->max_price;
    int64_t q = 1 + (int64_t)(rnd(d) % 10);
    if (q > k->m->max_qty) q = k->m->max_qty;
    place(d, &d->taker, k->m->id, side, 2 /* IOC */, price, q);
}

static void heartbeat(dconn_t *c) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_HEARTBEAT;
    send_msg(c, &m);
}

static void *demo_main(void *arg) {
    lx_demo_t *d = arg;
    int64_t next_print = now_ms() + 10000, next_hb = now_ms() + 1000;
    while (!atomic_load(&d->stop)) {
        for (size_t i = 0; i < d->nmk; i++) {
            quote(d, &d->mk[i]);
            if (rnd(d) % 3 == 0) take(d, &d->mk[i]);
        }
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
        for (size_t i = 0; i < d->nmk; i++) drain(d, &d->mk[i].maker);
        drain(d, &d->taker);
        int64_t now = now_ms();
        if (now >= next_hb) {
            for (size_t i = 0; i < d->nmk; i++) heartbeat(&d->mk[i].maker);
            heartbeat(&d->taker);
            next_hb = now + 1000;
        }
        if (now >= next_print && d->log) {
            fprintf(d->log, "demo: %llu requests sent, %llu fills, %llu rejected;",
                    (unsigned long long)d->sent, (unsigned long long)d->fills,
                    (unsigned long long)d->rejected);
            for (size_t i = 0; i < d->nmk; i++)
                fprintf(d->log, " %s mid %lld ticks", d->mk[i].m->symbol, (long long)d->mk[i].mid);
            fprintf(d->log, "\n");
            fflush(d->log);
            next_print = now + 10000;
        }
    }
    return NULL;
}

int lx_demo_start(lx_demo_t **out, const lx_config_t *cfg, uint16_t port, FILE *log) {
    *out = NULL;
    lx_demo_t *d = calloc(1, sizeof *d);
    if (!d) return LX_ENOMEM;
    d->cfg = cfg;
    d->port = port;
    d->log = log;
    d->rng = 0x9e3779b97f4a7c15ULL;
    d->nmk = cfg->nmarkets;
    d->mk = calloc(d->nmk ? d->nmk : 1, sizeof *d->mk);
    d->taker.fd = -1;
    int rc = d->mk ? 0 : LX_ENOMEM;
    for (size_t i = 0; i < d->nmk; i++) d->mk[i].maker.fd = -1;
    for (size_t i = 0; i < d->nmk && !rc; i++) {
        d->mk[i].m = &cfg->markets[i];
        d->mk[i].mid = cfg->markets[i].max_price / 40;
        if (d->mk[i].mid < cfg->markets[i].min_price) d->mk[i].mid = cfg->markets[i].min_price;
        rc = dconnect(d, &d->mk[i].maker, (lx_account_id_t)(1 + i));
    }
    if (!rc) rc = dconnect(d, &d->taker, DEMO_TAKER);
    if (!rc && pthread_create(&d->thread, NULL, demo_main, d)) rc = LX_ENOMEM;
    if (rc) {
        for (size_t i = 0; d->mk && i < d->nmk; i++)
            if (d->mk[i].maker.fd >= 0) close(d->mk[i].maker.fd);
        if (d->taker.fd >= 0) close(d->taker.fd);
        free(d->mk);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void lx_demo_stop(lx_demo_t *d) {
    if (!d) return;
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
    for (size_t i = 0; i < d->nmk; i++)
        if (d->mk[i].maker.fd >= 0) close(d->mk[i].maker.fd);
    if (d->taker.fd >= 0) close(d->taker.fd);
    free(d->mk);
    free(d);
}
