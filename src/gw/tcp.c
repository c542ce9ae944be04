/*
 * tcp.c: the binary order-entry gateway (docs/protocol.md), N I/O threads.
 *
 * Threads. gateway.binary_threads threads (default: one per core, at most
 * 2), each a whole gateway (gw_t): its own epoll, connections, sessions,
 * staging and node gateway, i.e. its own in and out rings (thread 0 has the
 * node's gateway 0, every other one a gateway from lx_node_add_gateway). A
 * session id carries its node gateway in its top byte, so the engine thread
 * sends each report to the thread of its session. What a thread does for a
 * request, the ed25519 verification of a SIGNED action above all, it does
 * in parallel with the others and never on the engine thread: N threads
 * verify N times as many signatures per second as one, cores permitting.
 *
 * Spreading connections. Thread 0 alone accepts (the listening socket is
 * in its epoll), checks the connection caps and deals the connection out
 * round robin: it keeps it or pushes it onto another thread's inbox. One
 * acceptor rather than SO_REUSEPORT listeners per thread because the
 * kernel's hash puts two connections on one thread half the time (a
 * market maker's two connections would then share a core while the other
 * idles), the caps are then checked in one place, and the placement is
 * deterministic, which the tests use. Accepting is a small part of a
 * thread's work; the orders are the rest.
 *
 * A session lives on the thread that made it. A LOGON resuming a session
 * of another thread is checked where it arrives (version, account, the
 * signed challenge, which is that connection's), then the connection moves
 * to the session's thread with the LOGON and whatever bytes the client sent
 * after it, and that thread finishes the logon and reads on. So report
 * numbering, the resend history, RESEND_REQUEST and cancel-on-disconnect
 * keep one writer, the session's thread, with no lock; a reconnecting
 * client gets its missed reports whichever thread it lands on. Inboxes are
 * lock-free stacks (push by compare-and-swap, the owner takes all with one
 * exchange) and the owner's eventfd wakes it; only connections move, never
 * orders.
 *
 * Shared by the threads: the per-account rate-limit buckets (one 64-bit
 * GCRA time per account, updated by compare-and-swap, so an account with
 * connections on two threads has exactly one bucket), and the connection
 * table behind the caps (the remote address of every connection, under a
 * mutex taken only at accept and close). The order path takes no lock and
 * allocates nothing.
 *
 * Each thread runs an epoll loop over its connections and its eventfd
 * (thread 0: also the listening socket). Each round it
 *   1. reads every readable connection and decodes its frames with the
 *      incremental decoder (lx/proto.h); requests become lx_node_msg_t,
 *      staged locally and pushed into its in ring with one commit per
 *      round (or per STAGE requests);
 *   2. takes the connections handed to it;
 *   3. drains its out ring: each execution report gets its session's
 *      next seq, is kept in the session's history (for RESEND_REQUEST) and
 *      is appended to the connection's output buffer if the session is
 *      connected;
 *   4. writes the output buffers (EPOLLOUT only while a buffer is not
 *      empty), then hands over the connections that are to move.
 *
 * Waking: the engine thread calls notify() after committing reports; it
 * writes the eventfd only when this thread has announced it is about to
 * sleep (`sleeping`), with a fence on both sides (store sleeping / load the
 * ring's tail, and commit / load sleeping), so a busy node makes no
 * system call for it.
 *
 * Sessions outlive connections. A session has an id (node gateway << 56 |
 * a random 32-bit base drawn at every start << 24 | index: an id of an
 * earlier run, even one started in the same second, resumes nothing in
 * this one), an account, the next report seq, and a history ring of the
 * last `history` encoded reports (at most 104 bytes each, ACCOUNT_KEY;
 * grown on demand).
 * A LOGON with a known session id of the same account resumes it (taking
 * it from a connection that still holds it); reports produced while it
 * was disconnected are numbered and kept, and RESEND_REQUEST replays them.
 * A resend is answered synchronously in the session's thread, so no live
 * report can come between the replay and RESEND_END.
 *
 * Bounds: connections over limits.max_connections or
 * max_connections_per_ip (all threads together) get REJECT UNAVAILABLE and
 * are closed; a connection whose queued output would pass its bound with
 * the next frame (a slow reader; checked at every frame) is closed, and its
 * session keeps numbering and keeping reports. While a resend is being
 * written the bound is raised by the size of a whole history (history x 104
 * bytes), so that a client can always get back everything that is kept;
 * then by what is left of the resend's output, which shrinks as the client
 * reads it, so live reports get the normal bound on top of it. Once it is
 * out the bound is the normal one again and the buffer, grown for the
 * resend, goes back to a normal size (conn_resend_written). Frames whose
 * boundaries are lost (MALFORMED, TOO_LARGE) get a REJECT and a close, as
 * do a failed logon and a bad version. A LOGON that finds all its
 * account's sessions on the thread connected gets REJECT UNAVAILABLE and
 * the connection stays, to try again.
 *
 * Rate limits (rate_limits in the config) are token buckets kept as GCRA
 * ("theoretical arrival time") in integer nanoseconds: one per connection
 * over every message, frames the decoder refuses included, and a
 * RESEND_REQUEST also one per RESEND_WEIGHT reports it replays (the
 * connection's thread's), one per account over its order-entry requests
 * from all its sessions on all threads (shared, see above). A request
 * over either is answered REJECT RATE_LIMITED with retry_after_us and
 * dropped. A SIGNED action is charged to the account it
 * acts for, once its signature verified, when its signer may act for that
 * account (the key copy below); otherwise (a signer the engine will refuse,
 * the bridge's deposits) to the sending session's account. Exactly one
 * account pays for each request: an account cannot spread its actions over
 * other accounts' sessions, and no key can spend another account's budget
 * by signing envelopes in its name.
 *
 * Identity. A signed LOGON proves only that the sender holds the key it
 * names; the key must also be the account's owner key or a live agent's
 * (docs/identity.md), as the WebSocket checks it, else LOGON_FAILED: a
 * session's ORDER_STATUS, its BIND (which makes it the account's last
 * session, where reports of unknown orders, dead man's switch firings and
 * funds go) and its share of the account's rate bucket are gateway matters
 * the engine never sees. The gateway keeps its copy of the key records
 * (lx_gw_keys_t, lx/gw_auth.h, the web gateway's structure) from the last
 * thread's own node gateway, flagged LX_NODE_GW_KEYS: it gets the key
 * records of the start-up state (then a STATE_END from each shard) and
 * then the key events, nothing else more than the thread's own reports (so
 * the engine threads copy no market data for it, and one thread keeps the
 * node's one-gateway path). One
 * thread writes the copy, any thread reads it at logon, under keys_mu (a
 * read-write lock off the order path). It lags the engine by the events in
 * flight, so the engine's check of every command (auth SESSION, also on a
 * cancel-on-disconnect CANCEL_ALL) stays the one that counts. Until the
 * start-up state is in, a signed logon is answered REJECT UNAVAILABLE.
 *
 * A session disconnected for longer than opts.session_linger_ms (10 min)
 * loses its history (a resend then says "trimmed"); the session itself (a
 * few dozen bytes) stays until the node stops, or until its account, which
 * has at most SESSIONS_PER_ACCOUNT (32) of them on a thread, needs a new
 * one: the one disconnected the longest is then taken over (session_new).
 */
#define _GNU_SOURCE
#include "lx/gw_auth.h"
#include "lx/gw_tcp.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "lx/error.h"
#include "lx/proto.h"
#include "lx/rate.h"
#include "lx/sign.h"

_Static_assert(LX_CONFIG_BINARY_THREADS_MAX < LX_NODE_GATEWAYS_MAX,
               "a node gateway for every binary thread and one for the web gateway");

#define STAGE 256
/* What a session's history keeps of a report: the largest message the
 * server sends (ACCOUNT_KEY, 104 bytes), so every execution report fits. */
union report_sizes {
#define REPORT_SIZE(name, value, size) uint8_t name[(value) >= 0x80 ? (size) : 1];
    LX_PROTO_TYPE_MAP(REPORT_SIZE)
#undef REPORT_SIZE
};
#define REPORT_MAX sizeof(union report_sizes)
_Static_assert(REPORT_MAX <= UINT8_MAX, "a history slot's length is one byte");
#define RESEND_WEIGHT 64 /* reports a resend replays per message of rate limit */
#define READ_BUF 65536

/* The most session records an account has on one gateway thread
 * (session_new). */
#define SESSIONS_PER_ACCOUNT 32

typedef struct conn conn_t;
typedef struct gw gw_t;

typedef struct {
    uint64_t id;
    lx_account_id_t account;
    uint64_t next_seq;               /* the seq the next report takes */
    uint8_t (*hist)[REPORT_MAX + 1]; /* [i][0] = length; slot = seq & (hist_cap - 1) */
    uint32_t hist_cap;
    uint64_t hist_first; /* the oldest report kept (== next_seq: none) */
    int64_t disc_at;     /* monotonic ms when it lost its connection */
    conn_t *conn;
    bool cancel_on_disconnect; /* set by the LOGON that bound the current connection */
    bool keyed;                /* logged on by signing a challenge with `key`, which was
                                  the account's owner key or a live agent's then */
    uint8_t key[32];
    uint32_t acct_prev; /* the account's session made before it here (index + 1; 0: none) */
} session_t;

struct conn {
    int fd;
    uint32_t index; /* in g->conns */
    bool dead, want_out, dirty;
    bool resending;     /* in do_resend: the output bound is raised by a history */
    size_t resend_left; /* bytes at the front of the output up to the end of the
                           last resend's, not written yet: the bound's raise until
                           they are out (out_bound) */
    lx_proto_decoder_t dec;
    session_t *sess;
    uint8_t *out;
    size_t ooff, olen, ocap;
    int64_t last_rx, last_tx; /* monotonic ms */
    uint64_t tat;             /* rate limit of the connection (GCRA, ns) */
    int64_t over_since;       /* monotonic ms: start of the second counted in `over` */
    uint32_t over;            /* requests refused for rate in that second */
    uint8_t ip[16];           /* remote address (IPv4 in the first 4 bytes) */
    uint32_t hb_ms;
    bool challenged;       /* a CHALLENGE was sent and not yet used */
    uint8_t challenge[32]; /* what the next signed LOGON must sign */
    bool bind_owner;       /* dev mode: the signed LOGON's key becomes the account's owner */
    char peer[64];
    /* handing over to another thread (see the essay) */
    conn_t *next_in; /* in that thread's inbox */
    gw_t *move_to;   /* set when a LOGON asks for a session of thread move_to */
    bool has_logon;  /* `logon` is to be finished by the thread that takes it */
    lx_proto_logon_t logon;
    uint8_t *pend; /* bytes read after that LOGON, not decoded yet */
    size_t npend;
};

/* One thread: a whole gateway over its own connections and sessions, with
 * its own node gateway (rings `in` and `out`). */
struct gw {
    lx_gw_tcp_t *grp;
    lx_node_t *node;
    const lx_config_t *cfg;
    lx_gw_tcp_opts_t opts;
    unsigned idx;    /* thread number: 0 accepts */
    unsigned nodegw; /* its node gateway: the top byte of its session ids */
    lx_ring_t *in;
    lx_node_outs_t outs;   /* its out ring from each shard */
    bool feed;             /* it keeps the key copy (the essay's "Identity") */
    uint32_t revoked_seen; /* G->keys_revoked when it last ended revoked sessions */
    int efd, epfd;
    pthread_t thread;
    _Atomic int sleeping;
    _Atomic(conn_t *) inbox; /* connections handed to this thread (a stack) */
    uint64_t acked_seq;      /* the command whose ack latency was recorded last */
    session_t **cod;         /* sessions whose connection dropped with cancel-on-disconnect */
    uint32_t ncod, cod_cap;
    /* connections */
    conn_t **conns;
    uint32_t nconns;
    conn_t **dead;
    uint32_t ndead;
    conn_t **dirty;
    uint32_t ndirty;
    conn_t **moving; /* to go to their session's thread at the end of the round */
    uint32_t nmoving;
    uint64_t now_ns; /* taken once per read */
    /* sessions */
    session_t **sessions;
    uint32_t nsessions, sessions_cap;
    uint32_t *acct_sess; /* per account: its newest session here (index + 1; 0: none) */
    /* staged requests */
    lx_node_msg_t stage[STAGE];
    uint32_t nstage;
    uint8_t rbuf[READ_BUF];
};

/* The gateway: its threads and what they share. Written once at open and
 * read by every thread, except where marked. */
struct lx_gw_tcp {
    lx_node_t *node;
    const lx_config_t *cfg;
    lx_gw_tcp_opts_t opts;
    int lfd; /* in thread 0's epoll */
    uint16_t port;
    bool started;
    _Atomic bool stop;
    uint32_t nthreads;
    gw_t *t[LX_NODE_GATEWAYS_MAX];
    int8_t by_nodegw[LX_NODE_GATEWAYS_MAX]; /* node gateway -> thread, -1: none of ours */
    uint64_t session_base;                  /* 32 random bits, new at every start */
    /* per-account rate limits: GCRA "theoretical arrival time" in monotonic
     * ns, updated by compare-and-swap from any thread; NULL when no limit */
    _Atomic uint64_t *account_tat; /* the node's (lx_node_account_buckets), not owned */
    uint32_t naccounts;
    uint32_t rr; /* thread 0 only: the thread the next connection goes to */
    /* who may act for which account (see the essay): written by the thread
     * with `feed`, read by any, under keys_mu */
    lx_gw_keys_t *keys;
    pthread_rwlock_t keys_mu;
    _Atomic bool keys_ready;       /* the start-up state's key records are in */
    uint32_t keys_state_ends;      /* the feed thread's count of STATE_ENDs */
    _Atomic uint32_t keys_revoked; /* agent revocations the feed has seen (end_revoked) */
    /* the connection caps, over all threads: the remote address of each
     * connection (in no order), under conn_mu; touched at accept and close */
    pthread_mutex_t conn_mu;
    uint8_t (*ips)[16];
    uint32_t nips, max_conns, max_per_ip;
};

static void glog(gw_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void glog(gw_t *g, const char *fmt, ...) {
    if (!g->opts.log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->opts.log, fmt, ap);
    va_end(ap);
    fflush(g->opts.log);
}

static int64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ns since the epoch: an agent's approval expires on this clock. */
static int64_t wall_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- output ------------------------------------------------------------------ */

static void conn_kill(gw_t *g, conn_t *c, const char *why);
static void conn_release(lx_gw_tcp_t *G, const uint8_t ip[16]);

static void mark_dirty(gw_t *g, conn_t *c) {
    if (c->dirty || c->dead) return;
    c->dirty = true;
    g->dirty[g->ndirty++] = c;
}

/* What c may have queued: opts.out_buffer_max, raised while a resend is
 * written by a whole history (and a frame, for RESEND_END), then by what is
 * left of the resend's output, down to nothing as the client reads it. */
static size_t out_bound(const gw_t *g, const conn_t *c) {
    /* a resend written while an earlier one is still queued: on top of it */
    size_t raise = c->resend_left +
                   (c->resending ? (size_t)g->opts.history * REPORT_MAX + LX_PROTO_FRAME_MAX : 0);
    return g->opts.out_buffer_max + raise;
}

/* Appends one encoded frame; closes a connection that would pass its bound
 * (a slow reader), checked at every frame. */
static void conn_send(gw_t *g, conn_t *c, const lx_proto_msg_t *m) {
    if (c->dead) return;
    size_t bound = out_bound(g, c);
    if (c->ocap - c->olen < LX_PROTO_FRAME_MAX) {
        if (c->ooff > 0) {
            memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
            c->olen -= c->ooff;
            c->ooff = 0;
        }
        if (c->ocap - c->olen < LX_PROTO_FRAME_MAX) {
            size_t want = c->ocap ? c->ocap * 2 : 16384;
            if (want > bound + LX_PROTO_FRAME_MAX) want = bound + LX_PROTO_FRAME_MAX;
            if (want < c->olen + LX_PROTO_FRAME_MAX) {
                conn_kill(g, c, "slow reader: output buffer full");
                return;
            }
            uint8_t *p = realloc(c->out, want);
            if (!p) {
                conn_kill(g, c, "out of memory");
                return;
            }
            c->out = p;
            c->ocap = want;
        }
    }
    int n = lx_proto_encode(m, c->out + c->olen, c->ocap - c->olen);
    if (n <= 0) return; /* cannot happen for messages built here */
    if (c->olen - c->ooff + (size_t)n > bound) {
        conn_kill(g, c, "slow reader: output buffer full");
        return;
    }
    c->olen += (size_t)n;
    mark_dirty(g, c);
}

/* A resend's output is out: the bound is back to opts.out_buffer_max, and
 * the buffer, grown for the resend, back to a normal size. */
static void conn_resend_written(conn_t *c) {
    size_t normal = 16384;
    if (c->ocap <= normal) return;
    size_t left = c->olen - c->ooff;
    if (!left) {
        free(c->out);
        c->out = NULL;
        c->ooff = c->olen = c->ocap = 0;
        return;
    }
    memmove(c->out, c->out + c->ooff, left);
    c->ooff = 0;
    c->olen = left;
    while (normal < left + LX_PROTO_FRAME_MAX) normal *= 2;
    if (normal >= c->ocap) return;
    uint8_t *p = realloc(c->out, normal);
    if (p) c->out = p, c->ocap = normal;
}

static void send_reject(gw_t *g, conn_t *c, int reason, int ref_type, uint64_t cid) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_REJECT;
    m.u.reject.reason = (uint8_t)reason;
    m.u.reject.ref_type = (uint8_t)ref_type;
    m.u.reject.ref_client_id = cid;
    conn_send(g, c, &m);
}

/* Writes what it can; arms EPOLLOUT while something is left. */
static void conn_flush(gw_t *g, conn_t *c) {
    c->dirty = false;
    if (c->dead) return;
    while (c->ooff < c->olen) {
        ssize_t w = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
        if (w > 0) {
            c->ooff += (size_t)w;
            c->last_tx = mono_ms();
            if (c->resend_left) {
                c->resend_left -= (size_t)w < c->resend_left ? (size_t)w : c->resend_left;
                if (!c->resend_left) conn_resend_written(c);
            }
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        conn_kill(g, c, "write failed");
        return;
    }
    if (c->ooff == c->olen) c->ooff = c->olen = 0;
    bool want = c->olen > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(g->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
}

static void flush_dirty(gw_t *g) {
    for (uint32_t i = 0; i < g->ndirty; i++) conn_flush(g, g->dirty[i]);
    g->ndirty = 0;
}

/* ---- connections ----------------------------------------------------------- */

static void conn_kill(gw_t *g, conn_t *c, const char *why) {
    if (c->dead) return;
    glog(g, "lxdexd: binary: %s closed: %s\n", c->peer, why);
    /* Best effort: what is already encoded (e.g. a REJECT saying why) goes out. */
    if (c->ooff < c->olen) {
        ssize_t w = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    c->dead = true;
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    /* Closing with unread input makes the kernel reset the connection, which
     * can destroy that REJECT in flight: read what is there first. */
    uint8_t scratch[4096]; /* not g->rbuf: do_read may be decoding from it */
    for (int i = 0; i < 64; i++) {
        if (recv(c->fd, scratch, sizeof scratch, MSG_DONTWAIT) <= 0) break;
    }
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    c->fd = -1;
    conn_release(g->grp, c->ip);
    if (c->sess && c->sess->conn == c) {
        c->sess->conn = NULL;
        c->sess->disc_at = mono_ms();
        /* staged later, from the loop: conn_kill can run inside stage_flush */
        if (c->sess->cancel_on_disconnect && !atomic_load(&g->grp->stop)) {
            if (g->ncod == g->cod_cap) {
                uint32_t cap = g->cod_cap ? g->cod_cap * 2 : 16;
                session_t **n = realloc(g->cod, cap * sizeof *n);
                if (n) g->cod = n, g->cod_cap = cap;
            }
            if (g->ncod < g->cod_cap)
                g->cod[g->ncod++] = c->sess;
            else
                glog(g, "lxdexd: binary: out of memory: no cancel-on-disconnect for %s\n", c->peer);
        }
    }
    c->sess = NULL;
    conn_t *last = g->conns[--g->nconns];
    g->conns[c->index] = last;
    last->index = c->index;
    g->dead[g->ndead++] = c;
}

static void conn_free(conn_t *c) {
    free(c->out);
    free(c->pend);
    free(c);
}

static void reap_dead(gw_t *g) {
    for (uint32_t i = 0; i < g->ndead; i++) conn_free(g->dead[i]);
    g->ndead = 0;
}

/* Counts a new connection from ip against the caps, all threads together;
 * returns the cap it would pass (and counts nothing), else NULL. */
static const char *conn_admit(lx_gw_tcp_t *G, const uint8_t ip[16], uint32_t *total) {
    pthread_mutex_lock(&G->conn_mu);
    uint32_t same = 0;
    for (uint32_t i = 0; i < G->nips; i++) same += !memcmp(G->ips[i], ip, 16);
    const char *why = G->nips >= G->max_conns ? "max_connections"
                      : same >= G->max_per_ip ? "max_connections_per_ip"
                                              : NULL;
    if (!why) memcpy(G->ips[G->nips++], ip, 16);
    *total = G->nips;
    pthread_mutex_unlock(&G->conn_mu);
    return why;
}

/* A connection from ip closed (any thread). */
static void conn_release(lx_gw_tcp_t *G, const uint8_t ip[16]) {
    pthread_mutex_lock(&G->conn_mu);
    for (uint32_t i = 0; i < G->nips; i++) {
        if (!memcmp(G->ips[i], ip, 16)) {
            memcpy(G->ips[i], G->ips[--G->nips], 16);
            break;
        }
    }
    pthread_mutex_unlock(&G->conn_mu);
}

static void decode_bytes(gw_t *g, conn_t *c, const uint8_t *p, size_t len);
static void logon_finish(gw_t *g, conn_t *c, const lx_proto_logon_t *l);

/* Makes c one of this thread's connections: from the acceptor, or moving
 * here with a LOGON for one of this thread's sessions, which is finished
 * here, and the bytes the client sent after it. */
static void conn_adopt(gw_t *g, conn_t *c) {
    c->want_out = c->dirty = false;
    c->move_to = NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
        conn_release(g->grp, c->ip);
        close(c->fd);
        conn_free(c);
        return;
    }
    c->index = g->nconns;
    g->conns[g->nconns++] = c;
    if (c->olen > c->ooff) mark_dirty(g, c);
    g->now_ns = mono_ns();
    if (c->has_logon) {
        c->has_logon = false;
        logon_finish(g, c, &c->logon);
    }
    if (c->pend && !c->dead) {
        uint8_t *p = c->pend;
        c->pend = NULL;
        decode_bytes(g, c, p, c->npend);
        free(p);
    }
}

/* Hands c to thread `to` (a lock-free stack: push by compare-and-swap, the
 * owner takes the whole stack with one exchange) and wakes it. */
static void inbox_push(gw_t *to, conn_t *c) {
    conn_t *head = atomic_load_explicit(&to->inbox, memory_order_relaxed);
    do c->next_in = head;
    while (!atomic_compare_exchange_weak_explicit(&to->inbox, &head, c, memory_order_release,
                                                  memory_order_relaxed));
    uint64_t one = 1;
    ssize_t w = write(to->efd, &one, sizeof one);
    (void)w;
}

static void inbox_take(gw_t *g) {
    if (!atomic_load_explicit(&g->inbox, memory_order_relaxed)) return;
    conn_t *l = atomic_exchange_explicit(&g->inbox, NULL, memory_order_acquire), *fifo = NULL;
    while (l) {
        conn_t *next = l->next_in;
        l->next_in = fifo;
        fifo = l;
        l = next;
    }
    while (fifo) {
        conn_t *next = fifo->next_in;
        conn_adopt(g, fifo);
        fifo = next;
    }
}

/* The connections whose LOGON named another thread's session go there,
 * after this round's output was flushed (nothing of theirs is left in
 * this thread's lists). */
static void move_conns(gw_t *g) {
    for (uint32_t i = 0; i < g->nmoving; i++) {
        conn_t *c = g->moving[i];
        if (c->dead) continue;
        epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        conn_t *last = g->conns[--g->nconns];
        g->conns[c->index] = last;
        last->index = c->index;
        inbox_push(c->move_to, c);
    }
    g->nmoving = 0;
}

static void do_accept(gw_t *g) {
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(g->grp->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        uint8_t ip[16];
        memset(ip, 0, sizeof ip);
        if (ss.ss_family == AF_INET)
            memcpy(ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        else if (ss.ss_family == AF_INET6)
            memcpy(ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
        uint32_t total;
        const char *why = conn_admit(g->grp, ip, &total);
        if (why) {
            uint8_t b[64];
            lx_proto_msg_t m;
            memset(&m, 0, sizeof m);
            m.type = LX_PROTO_REJECT;
            m.u.reject.reason = LX_PROTO_R_UNAVAILABLE;
            int n = lx_proto_encode(&m, b, sizeof b);
            if (n > 0) {
                ssize_t w = send(fd, b, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w;
            }
            close(fd);
            glog(g, "lxdexd: binary: connection refused: %s (%u connections)\n", why, total);
            continue;
        }
        conn_t *c = calloc(1, sizeof *c);
        if (!c) {
            conn_release(g->grp, ip);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        memcpy(c->ip, ip, sizeof ip);
        lx_proto_decoder_init(&c->dec, LX_PROTO_FROM_CLIENT);
        c->last_rx = c->last_tx = mono_ms();
        c->hb_ms = g->opts.heartbeat_ms;
        char host[48] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
        /* round robin over the threads (see the essay) */
        lx_gw_tcp_t *G = g->grp;
        gw_t *to = G->t[G->rr++ % G->nthreads];
        if (to == g)
            conn_adopt(g, c);
        else
            inbox_push(to, c);
    }
}

/* ---- sessions ---------------------------------------------------------------- */

/* The thread whose session id this is, NULL for none of this gateway's. */
static gw_t *session_home(lx_gw_tcp_t *G, uint64_t id) {
    unsigned gw = LX_NODE_SESSION_GW(id);
    if (gw >= LX_NODE_GATEWAYS_MAX || G->by_nodegw[gw] < 0 ||
        ((id >> 24) & 0xffffffffu) != G->session_base)
        return NULL;
    return G->t[G->by_nodegw[gw]];
}

static session_t *session_find(gw_t *g, uint64_t id) {
    if (session_home(g->grp, id) != g) return NULL;
    uint64_t idx = id & 0xffffff;
    if (idx == 0 || idx > g->nsessions) return NULL;
    return g->sessions[idx - 1];
}

/* A session for account: a new record, or, when the account has
 * SESSIONS_PER_ACCOUNT records on this thread already, the record of its
 * session disconnected the longest, taken over (its id and its numbering go
 * on; its history, key and options are dropped); NULL when all of them are
 * connected (or out of memory). Without the bound a client that logs on
 * and off in a loop grew the gateway without end: a history (up to 20 KiB)
 * kept for the linger time per session, a record per session until the
 * node stops, and the thread's 2^24 session ids used up, after which no one
 * could log on. A take-over is safe: a session id resumes only with its
 * account (and key), and the orders it names are that account's. */
static session_t *session_new(gw_t *g, lx_account_id_t account) {
    uint32_t n = 0;
    session_t *oldest = NULL;
    for (uint32_t i = g->acct_sess[account]; i; i = g->sessions[i - 1]->acct_prev) {
        session_t *s = g->sessions[i - 1];
        n++;
        if (!s->conn && (!oldest || s->disc_at < oldest->disc_at)) oldest = s;
    }
    if (n >= SESSIONS_PER_ACCOUNT) {
        if (!oldest) return NULL;
        free(oldest->hist);
        oldest->hist = NULL;
        oldest->hist_cap = 0;
        oldest->hist_first = oldest->next_seq;
        oldest->keyed = false;
        memset(oldest->key, 0, sizeof oldest->key);
        oldest->cancel_on_disconnect = false;
        return oldest;
    }
    if (g->nsessions >= 0xffffff) return NULL;
    if (g->nsessions == g->sessions_cap) {
        uint32_t cap = g->sessions_cap ? g->sessions_cap * 2 : 64;
        session_t **p = realloc(g->sessions, cap * sizeof *p);
        if (!p) return NULL;
        g->sessions = p;
        g->sessions_cap = cap;
    }
    session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->id = LX_NODE_SESSION(g->nodegw, (g->grp->session_base << 24) | (g->nsessions + 1));
    s->account = account;
    s->next_seq = 1;
    s->hist_first = 1;
    g->sessions[g->nsessions++] = s;
    s->acct_prev = g->acct_sess[account];
    g->acct_sess[account] = g->nsessions;
    return s;
}

/* Keeps an encoded report in the history, the kept ones being
 * [hist_first, next_seq); grows the ring up to opts.history. seq is the
 * report just numbered (next_seq - 1). */
static void session_keep(gw_t *g, session_t *s, uint64_t seq, const lx_proto_msg_t *m) {
    uint64_t need = seq - s->hist_first + 1;
    if (need > s->hist_cap && s->hist_cap < g->opts.history) {
        uint32_t cap = s->hist_cap ? s->hist_cap : 256;
        while (cap < need && cap < g->opts.history) cap *= 2;
        if (cap > g->opts.history) cap = g->opts.history;
        uint8_t(*h)[REPORT_MAX + 1] = calloc(cap, sizeof *h);
        if (h) {
            /* Re-place the kept reports at their new slots. */
            for (uint64_t q = s->hist_first; q < seq && s->hist; q++)
                memcpy(h[q & (cap - 1)], s->hist[q & (s->hist_cap - 1)], sizeof *h);
            free(s->hist);
            s->hist = h;
            s->hist_cap = cap;
        }
    }
    if (!s->hist_cap) {
        s->hist_first = seq + 1; /* nothing kept */
        return;
    }
    if (seq - s->hist_first + 1 > s->hist_cap) s->hist_first = seq - s->hist_cap + 1;
    uint8_t *slot = s->hist[seq & (s->hist_cap - 1)];
    int n = lx_proto_encode(m, slot + 1, REPORT_MAX);
    slot[0] = n > 0 ? (uint8_t)n : 0;
}

/* Frees the histories of sessions disconnected for longer than
 * opts.session_linger_ms (a later resend of them says "trimmed"). */
static void sessions_reclaim(gw_t *g, int64_t now) {
    for (uint32_t i = 0; i < g->nsessions; i++) {
        session_t *s = g->sessions[i];
        if (s->conn || !s->hist || now - s->disc_at < (int64_t)g->opts.session_linger_ms) continue;
        free(s->hist);
        s->hist = NULL;
        s->hist_cap = 0;
        s->hist_first = s->next_seq;
    }
}

/* ---- requests ------------------------------------------------------------------ */

static void drain_out(gw_t *g);

/* Pushes the staged requests into the node's in ring. While the ring is
 * full it keeps draining the out ring, so that neither side can wait on the
 * other forever. */
static void drain_cb(void *ctx) {
    drain_out(ctx);
}

static void stage_flush(gw_t *g) {
    lx_node_submit(g->node, g->nodegw, g->stage, g->nstage, drain_cb, g);
    g->nstage = 0;
}

static lx_node_msg_t *stage_slot(gw_t *g) {
    if (g->nstage == STAGE) stage_flush(g);
    lx_node_msg_t *m = &g->stage[g->nstage++];
    memset(m, 0, sizeof *m);
    return m;
}

static void refuse_rate(gw_t *g, conn_t *c, int type, uint64_t cid, uint32_t us);

static void do_resend(gw_t *g, conn_t *c, const lx_proto_resend_request_t *r) {
    session_t *s = c->sess;
    uint64_t last = s->next_seq - 1;
    uint64_t to = r->to_seq == 0 || r->to_seq > last ? last : r->to_seq;
    uint64_t oldest = s->hist_first;
    uint64_t from = r->from_seq;
    lx_proto_msg_t end;
    memset(&end, 0, sizeof end);
    end.type = LX_PROTO_RESEND_END;
    if (from < oldest) {
        from = oldest;
        end.u.resend_end.status = LX_PROTO_RESEND_TRIMMED;
    }
    /* A replay costs the gateway thread (and the engine, whose reports wait
     * behind it) in proportion to its length: it is charged to the
     * connection's rate limit as one message per RESEND_WEIGHT reports, on
     * top of the one its request counted (docs/protocol.md), so a client
     * asking for a whole history again and again cannot keep the thread
     * from everyone else. */
    uint64_t n = to >= from ? to - from + 1 : 0;
    if (n >= RESEND_WEIGHT) {
        uint64_t w = n / RESEND_WEIGHT;
        uint32_t wait = lx_rate_check(&c->tat, &g->cfg->rate_limits.per_connection, g->now_ns,
                                      w > UINT32_MAX ? UINT32_MAX : (uint32_t)w);
        if (wait) {
            refuse_rate(g, c, LX_PROTO_RESEND_REQUEST, 0, wait);
            return;
        }
    }
    c->resending = true;
    for (uint64_t q = from; q <= to && s->hist_cap; q++) {
        const uint8_t *slot = s->hist[q & (s->hist_cap - 1)];
        lx_proto_msg_t m;
        uint8_t reason;
        if (!slot[0] ||
            lx_proto_decode_frame(slot + 1, slot[0], LX_PROTO_FROM_SERVER, &m, &reason) != 0)
            continue;
        m.flags |= LX_PROTO_F_RESENT;
        if (!end.u.resend_end.first_seq) end.u.resend_end.first_seq = q;
        end.u.resend_end.last_seq = q;
        conn_send(g, c, &m);
        if (c->dead) return;
    }
    end.u.resend_end.next_seq = s->next_seq;
    conn_send(g, c, &end);
    c->resending = false;
    if (!c->dead) c->resend_left = c->olen - c->ooff; /* out_bound */
}

static bool zero64(const uint8_t *p) {
    for (int i = 0; i < 64; i++)
        if (p[i]) return false;
    return true;
}

/* A signed LOGON: with an all-zero signature it asks for a challenge; with
 * a signature, it must sign the challenge this connection was sent last
 * (docs/protocol.md). Returns true when the logon may go on. */
static bool signed_logon(gw_t *g, conn_t *c, const lx_proto_logon_t *l) {
    if (zero64(l->signature)) {
        randombytes_buf(c->challenge, sizeof c->challenge);
        c->challenged = true;
        lx_proto_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = LX_PROTO_CHALLENGE;
        memcpy(m.u.challenge.challenge, c->challenge, sizeof c->challenge);
        conn_send(g, c, &m);
        return false;
    }
    const char *why = NULL;
    if (!c->challenged) {
        why = "signed logon without a challenge";
    } else {
        c->challenged = false; /* one use */
        if (lx_gw_auth_logon(g->cfg->node.chain_id, l->account, c->challenge, l->public_key,
                             l->signature) != 0)
            why = "logon signature does not verify";
    }
    if (!why) return true;
    send_reject(g, c, LX_PROTO_R_LOGON_FAILED, LX_PROTO_LOGON, 0);
    conn_kill(g, c, why);
    return false;
}

/* What `key` may do for `account` now, by the key copy: LX_KEY_OWNER,
 * LX_KEY_AGENT, or LX_ENOENT with *why (lx_gw_keys_check). */
static int key_role(lx_gw_tcp_t *G, lx_account_id_t account, const uint8_t key[32],
                    const char **why) {
    pthread_rwlock_rdlock(&G->keys_mu);
    int role = lx_gw_keys_check(G->keys, account, key, wall_ns(), why);
    pthread_rwlock_unlock(&G->keys_mu);
    return role;
}

/* The key of a signed LOGON whose signature verified must be the account's
 * owner key or a live agent's, as on the WebSocket (web_ws.c): else
 * LOGON_FAILED and the connection is closed. In dev mode, which has no
 * bridge, a key no account knows becomes the owner of an account that has
 * none (c->bind_owner: logon_finish binds it). Until the key copy holds the
 * start-up state: UNAVAILABLE, and the connection stays (a new LOGON asks
 * for a new challenge). Returns true when the logon may go on. */
static bool logon_key_ok(gw_t *g, conn_t *c, const lx_proto_logon_t *l) {
    lx_gw_tcp_t *G = g->grp;
    c->bind_owner = false;
    if (!atomic_load_explicit(&G->keys_ready, memory_order_acquire)) {
        send_reject(g, c, LX_PROTO_R_UNAVAILABLE, LX_PROTO_LOGON, 0);
        return false;
    }
    const char *why = NULL;
    int role = key_role(G, l->account, l->public_key, &why);
    if (role < 0 && g->cfg->node.dev_mode) {
        pthread_rwlock_rdlock(&G->keys_mu);
        c->bind_owner =
            !lx_gw_keys_known(G->keys, l->public_key) && !lx_gw_keys_has_owner(G->keys, l->account);
        pthread_rwlock_unlock(&G->keys_mu);
    }
    if (role >= 0 || c->bind_owner) return true;
    char msg[200];
    snprintf(msg, sizeof msg, "signed logon for account %u refused: %s", (unsigned)l->account, why);
    send_reject(g, c, LX_PROTO_R_LOGON_FAILED, LX_PROTO_LOGON, 0);
    conn_kill(g, c, msg);
    return false;
}

static void do_logon(gw_t *g, conn_t *c, const lx_proto_logon_t *l) {
    if (c->sess) {
        send_reject(g, c, LX_PROTO_R_ALREADY_LOGGED_ON, LX_PROTO_LOGON, 0);
        return;
    }
    if (l->version != LX_PROTO_VERSION) {
        send_reject(g, c, LX_PROTO_R_BAD_VERSION, LX_PROTO_LOGON, 0);
        conn_kill(g, c, "bad protocol version");
        return;
    }
    bool keyed = (l->flags & LX_PROTO_LOGON_SIGNED) != 0;
    if (keyed && !signed_logon(g, c, l)) return;
    if ((!keyed && !g->cfg->node.dev_mode) || l->account >= g->cfg->engine.max_accounts) {
        send_reject(g, c, LX_PROTO_R_LOGON_FAILED, LX_PROTO_LOGON, 0);
        conn_kill(g, c,
                  !keyed && !g->cfg->node.dev_mode ? "logon by account id needs dev mode"
                                                   : "account id out of range");
        return;
    }
    if (keyed && !logon_key_ok(g, c, l)) return;
    /* A session lives on the thread that made it: a LOGON resuming another
     * thread's session moves the connection there, which finishes it. */
    gw_t *home = l->session_id ? session_home(g->grp, l->session_id) : NULL;
    if (home && home != g) {
        c->move_to = home;
        c->has_logon = true;
        c->logon = *l;
        g->moving[g->nmoving++] = c;
        return;
    }
    logon_finish(g, c, l);
}

/* The rest of a LOGON that passed its checks (version, signature, account):
 * on the thread of the session it resumes, if any. */
static void stage_cancel_on_disconnect(gw_t *g);

static void logon_finish(gw_t *g, conn_t *c, const lx_proto_logon_t *l) {
    bool keyed = (l->flags & LX_PROTO_LOGON_SIGNED) != 0;
    session_t *s = l->session_id ? session_find(g, l->session_id) : NULL;
    /* a session resumes only with the same account and the same key (or none) */
    if (s && (s->account != l->account || s->keyed != keyed ||
              (keyed && memcmp(s->key, l->public_key, 32) != 0)))
        s = NULL;
    if (s && s->conn) {
        /* taken over: the session goes on here, so the old connection's
         * close is no disconnect of it (no cancel-on-disconnect) */
        s->cancel_on_disconnect = false;
        conn_kill(g, s->conn, "session resumed on another connection");
    }
    /* a cancel-on-disconnect queued before this LOGON (its connection had
     * dropped) goes to the log before anything sent behind the LOGON */
    if (g->ncod) stage_cancel_on_disconnect(g);
    if (!s) {
        s = session_new(g, l->account);
        if (s && keyed) {
            s->keyed = true;
            memcpy(s->key, l->public_key, 32);
        }
    }
    if (!s) {
        /* Nothing wrong with the client: the connection stays, not logged
         * on, and may send the LOGON again (docs/protocol.md section 2). */
        glog(g,
             "lxdexd: binary: %s: logon of account %u refused: no room for a session (all "
             "its sessions on this thread are connected, or no memory)\n",
             c->peer, (unsigned)l->account);
        send_reject(g, c, LX_PROTO_R_UNAVAILABLE, LX_PROTO_LOGON, 0);
        return;
    }
    s->conn = c;
    c->sess = s;
    s->cancel_on_disconnect = (l->flags & LX_PROTO_LOGON_CANCEL_ON_DISCONNECT) != 0;
    if (l->heartbeat_ms) {
        uint32_t hb = l->heartbeat_ms;
        if (hb < 100) hb = 100;
        if (hb > 60000) hb = 60000;
        c->hb_ms = hb;
    }
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON_ACK;
    m.u.logon_ack.version = LX_PROTO_VERSION;
    m.u.logon_ack.account = s->account;
    m.u.logon_ack.heartbeat_ms = c->hb_ms;
    m.u.logon_ack.session_id = s->id;
    m.u.logon_ack.next_seq = s->next_seq;
    conn_send(g, c, &m);
    if (keyed && c->bind_owner && !atomic_load(&g->grp->stop) && !lx_node_failed(g->node)) {
        /* dev mode has no bridge: the first key that logs on for an account
         * becomes its owner (the engine refuses the bind, harmlessly, when
         * the account or the key was taken meanwhile: the copy lags) */
        lx_node_msg_t *k = stage_slot(g);
        k->kind = LX_NODE_MSG_CMD;
        k->cmd.type = LX_CMD_BIND_KEY;
        k->cmd.u.bind_key.account = s->account;
        memcpy(k->cmd.u.bind_key.key, s->key, 32);
    }
    lx_node_msg_t *b = stage_slot(g);
    b->kind = LX_NODE_MSG_BIND;
    b->session = s->id;
    b->account = s->account;
}

static uint64_t msg_client_id(const lx_proto_msg_t *m) {
    switch (m->type) {
    case LX_PROTO_PLACE:
        return m->u.place.client_id;
    case LX_PROTO_CANCEL:
        return m->u.cancel.client_id;
    case LX_PROTO_AMEND:
        return m->u.amend.client_id;
    case LX_PROTO_ORDER_STATUS:
        return m->u.order_status.client_id;
    default:
        return 0;
    }
}

/*
 * A token bucket as GCRA: each request moves *tat (the time the bucket would
 * be empty again) on by 1/rate; it conforms while *tat stays within
 * burst/rate of now. Integer nanoseconds only. Returns 0 when allowed, else
 * the microseconds until a retry would be (at least 1).
 */
/* The order-entry requests a session's account pays for before anything
 * else is done with them; a SIGNED one is charged once verified, to the
 * account signed_payer() names. */
static bool is_order_entry(int type) {
    return type == LX_PROTO_PLACE || type == LX_PROTO_CANCEL || type == LX_PROTO_AMEND ||
           type == LX_PROTO_CANCEL_ALL || type == LX_PROTO_SCHEDULE_CANCEL;
}

/* What a request costs in its account's bucket (rate_limits.weight). */
static uint32_t weight_of(const lx_config_t *cfg, const lx_proto_msg_t *m) {
    int t = m->type;
    return lx_config_weight(cfg, t == LX_PROTO_CANCEL       ? LX_CMD_CANCEL
                                 : t == LX_PROTO_AMEND      ? LX_CMD_AMEND
                                 : t == LX_PROTO_CANCEL_ALL ? LX_CMD_CANCEL_ALL
                                                            : LX_CMD_PLACE);
}

/* REJECT RATE_LIMITED for a request of type `type` (client id cid). A
 * client that ignores retry_after_us and keeps pushing is cut off: more
 * refusals in one second than a whole connection burst (at least 100). */
static void refuse_rate(gw_t *g, conn_t *c, int type, uint64_t cid, uint32_t us) {
    lx_proto_msg_t r;
    memset(&r, 0, sizeof r);
    r.type = LX_PROTO_REJECT;
    r.u.reject.reason = LX_PROTO_R_RATE_LIMITED;
    r.u.reject.ref_type = (uint8_t)type;
    r.u.reject.retry_after_us = us;
    r.u.reject.ref_client_id = cid;
    conn_send(g, c, &r);
    int64_t now = (int64_t)(g->now_ns / 1000000);
    if (now - c->over_since >= 1000) c->over_since = now, c->over = 0;
    uint32_t cap = g->cfg->rate_limits.per_connection.burst;
    if (++c->over > (cap > 100 ? cap : 100)) conn_kill(g, c, "kept sending over its rate limit");
}

/* The per-account bucket, shared by the threads: the GCRA step computed on
 * a copy and published by compare-and-swap (a retry only when another
 * thread moved the same account's bucket meanwhile). */
static uint32_t account_rate(gw_t *g, lx_account_id_t account, uint32_t weight) {
    return lx_rate_check_shared(&g->grp->account_tat[account], &g->cfg->rate_limits.per_account,
                                g->now_ns, weight);
}

/* The account a verified SIGNED action of account `acct` is charged to
 * (docs/protocol.md section 2): `acct` when the signer is its owner key or a
 * live agent by the key copy; else the sending session's account (`sender`):
 * a signer the engine will refuse (BAD_SIGNER) must not spend the named
 * account's budget, and the bridge's deposits are the bridge session's. */
static lx_account_id_t signed_payer(gw_t *g, const lx_action_t *act, lx_account_id_t acct,
                                    lx_account_id_t sender) {
    lx_gw_tcp_t *G = g->grp;
    const char *why;
    if (acct != sender && atomic_load_explicit(&G->keys_ready, memory_order_acquire) &&
        key_role(G, acct, act->signer, &why) >= 0)
        return acct;
    return sender;
}

/* The per-account bucket of `account` (none when there is no limit): 0 or
 * the microseconds until a retry. */
static uint32_t charge_account(gw_t *g, lx_account_id_t account, uint32_t weight) {
    if (!g->grp->account_tat || account >= g->grp->naccounts) return 0;
    return account_rate(g, account, weight);
}

static void on_msg(gw_t *g, conn_t *c, const lx_proto_msg_t *m) {
    /* Rate limits (docs/config.md): every message of a connection, and the
     * order-entry requests of an account over all its sessions (a SIGNED
     * one below, once it is known whose it is). */
    uint32_t wait = lx_rate_check(&c->tat, &g->cfg->rate_limits.per_connection, g->now_ns, 1);
    if (!wait && c->sess && is_order_entry(m->type))
        wait = charge_account(g, c->sess->account, weight_of(g->cfg, m));
    if (wait) {
        refuse_rate(g, c, m->type, msg_client_id(m), wait);
        return;
    }
    if (m->type == LX_PROTO_LOGON) {
        do_logon(g, c, &m->u.logon);
        return;
    }
    if (!c->sess) {
        send_reject(g, c, LX_PROTO_R_NOT_LOGGED_ON, m->type, msg_client_id(m));
        return;
    }
    /* stage_slot() may flush, which delivers reports, which may close this
     * connection (slow reader): take what is needed from it first. */
    session_t *sess = c->sess;
    switch (m->type) {
    case LX_PROTO_HEARTBEAT:
        break;
    case LX_PROTO_PLACE:
    case LX_PROTO_CANCEL:
    case LX_PROTO_AMEND:
    case LX_PROTO_CANCEL_ALL:
    case LX_PROTO_SCHEDULE_CANCEL: {
        if (atomic_load(&g->grp->stop) || lx_node_failed(g->node)) {
            send_reject(g, c, LX_PROTO_R_UNAVAILABLE, m->type, msg_client_id(m));
            break;
        }
        lx_cmd_t cmd;
        if (lx_proto_to_cmd(m, sess->account, &cmd) != 0) {
            send_reject(g, c, LX_PROTO_R_BAD_FIELD, m->type, msg_client_id(m));
            break;
        }
        lx_node_msg_t *b = stage_slot(g);
        b->kind = LX_NODE_MSG_CMD;
        b->session = sess->id;
        b->account = sess->account;
        b->client_id = msg_client_id(m);
        b->t_rx = g->now_ns;
        b->cmd = cmd;
        if (sess->keyed) {
            b->auth.scheme = LX_AUTH_SESSION;
            memcpy(b->auth.key, sess->key, 32);
            b->auth.nonce = sess->id;
        }
        break;
    }
    case LX_PROTO_SIGNED: {
        if (atomic_load(&g->grp->stop) || lx_node_failed(g->node)) {
            send_reject(g, c, LX_PROTO_R_UNAVAILABLE, m->type, 0);
            break;
        }
        /* verified here, on the gateway thread, never on the engine's */
        const lx_proto_signed_t *sa = &m->u.signed_action;
        lx_action_t act;
        lx_account_id_t acct;
        const char *why;
        int arc = lx_gw_auth_action(g->cfg, sa->envelope, sa->len, &act, &acct, &why);
        if (arc) { /* an operator's command: BAD_FIELD; else the signature or signer */
            send_reject(g, c, arc == LX_EINVAL ? LX_PROTO_R_BAD_FIELD : LX_PROTO_R_BAD_SIGNATURE,
                        m->type, 0);
            break;
        }
        /* funds are held per shard: a deposit, withdrawal or transfer names
         * its shard in what is signed (so it cannot be applied again in
         * another shard, whose deposit ids and nonces are its own); the
         * frame's routing byte must say the same */
        if (act.shard >= lx_node_shards(g->node) || sa->shard != act.shard) {
            send_reject(g, c, LX_PROTO_R_BAD_FIELD, m->type, 0);
            break;
        }
        /* the account's bucket: the one it acts for, whichever session sends it */
        lx_account_id_t payer = signed_payer(g, &act, acct, sess->account);
        wait = charge_account(g, payer, lx_config_weight(g->cfg, act.cmd.type));
        if (wait) {
            refuse_rate(g, c, m->type, lx_gw_auth_client_id(&act.cmd), wait);
            break;
        }
        lx_node_msg_t *b = stage_slot(g);
        b->kind = LX_NODE_MSG_CMD;
        b->session = sess->id;
        b->account = acct;
        b->t_rx = g->now_ns;
        b->shard = (uint8_t)act.shard;
        b->cmd = act.cmd;
        b->client_id = lx_gw_auth_client_id(&act.cmd);
        b->auth.scheme = LX_AUTH_ED25519;
        memcpy(b->auth.key, act.signer, 32);
        b->auth.nonce = act.nonce;
        memcpy(b->auth.sig, sa->envelope + sa->len - LX_SIGN_SIG_LEN, LX_SIGN_SIG_LEN);
        break;
    }
    case LX_PROTO_ORDER_STATUS: {
        if (atomic_load(&g->grp->stop) || lx_node_failed(g->node)) {
            send_reject(g, c, LX_PROTO_R_UNAVAILABLE, m->type, msg_client_id(m));
            break;
        }
        lx_node_msg_t *b = stage_slot(g);
        b->kind = LX_NODE_MSG_STATUS;
        b->session = sess->id;
        b->account = sess->account;
        b->status.market = m->u.order_status.market;
        b->status.by_client_id = m->u.order_status.by_client_id;
        b->status.order_id = m->u.order_status.order_id;
        b->status.client_id = m->u.order_status.client_id;
        break;
    }
    case LX_PROTO_RESEND_REQUEST:
        do_resend(g, c, &m->u.resend_request);
        break;
    default:
        send_reject(g, c, LX_PROTO_R_UNKNOWN_TYPE, m->type, 0);
        break;
    }
}

/* Decodes and handles p[0..len) of c's input; stops at a LOGON that moves
 * c to another thread, keeping the rest for that thread. */
static void decode_bytes(gw_t *g, conn_t *c, const uint8_t *p, size_t len) {
    while (!c->dead) {
        lx_proto_msg_t m;
        int rc = lx_proto_decode(&c->dec, &p, &len, &m);
        if (rc == 0) return;
        if (rc == 1) {
            on_msg(g, c, &m);
            if (c->move_to && !c->dead) {
                if (len) {
                    c->pend = malloc(len);
                    if (!c->pend) {
                        conn_kill(g, c, "out of memory");
                        return;
                    }
                    memcpy(c->pend, p, len);
                }
                c->npend = len;
                return;
            }
            continue;
        }
        lx_proto_msg_t rej;
        lx_proto_decoder_reject(&c->dec, &rej);
        if (rc == LX_ECORRUPT) {
            conn_send(g, c, &rej);
            conn_kill(g, c, lx_proto_reason_str(rej.u.reject.reason));
            return;
        }
        /* A frame the decoder refused is a message too: it is charged to
         * the connection's bucket like any other (docs/config.md), so
         * garbage cannot make the node answer without limit. */
        uint32_t wait = lx_rate_check(&c->tat, &g->cfg->rate_limits.per_connection, g->now_ns, 1);
        if (wait)
            refuse_rate(g, c, rej.u.reject.ref_type, rej.u.reject.ref_client_id, wait);
        else
            conn_send(g, c, &rej);
    }
}

static void do_read(gw_t *g, conn_t *c) {
    for (int rounds = 0; rounds < 4 && !c->dead && !c->move_to; rounds++) {
        ssize_t r = recv(c->fd, g->rbuf, sizeof g->rbuf, 0);
        if (r == 0) {
            conn_kill(g, c,
                      lx_proto_decoder_pending(&c->dec) ? "peer closed mid-frame" : "peer closed");
            return;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            conn_kill(g, c, "read failed");
            return;
        }
        c->last_rx = mono_ms();
        g->now_ns = mono_ns();
        decode_bytes(g, c, g->rbuf, (size_t)r);
        if ((size_t)r < sizeof g->rbuf) return;
    }
}

/* ---- reports ------------------------------------------------------------------- */

/* Numbers an execution report in its session, keeps it, sends it. */
static void deliver(gw_t *g, uint64_t session, lx_proto_msg_t *m) {
    session_t *s = session_find(g, session);
    if (!s) return;
    if (lx_proto_is_exec(m->type)) {
        uint64_t seq = s->next_seq++;
        lx_proto_exec(m)->seq = seq;
        session_keep(g, s, seq, m);
    } else if (m->type == LX_PROTO_ORDER_STATUS_REPLY) {
        m->u.status_reply.as_of_seq = s->next_seq - 1;
    }
    if (s->conn) conn_send(g, s->conn, m);
}

/* The key feed (see the essay): the start-up state's key records and
 * STATE_ENDs, then the key events, into G->keys. A key event is taken from
 * shard 0 only: every shard applies key commands and reports them. */
static void feed_keys(gw_t *g, const lx_node_out_t *o) {
    lx_gw_tcp_t *G = g->grp;
    if (o->kind == LX_NODE_OUT_STATE_END) {
        if (++G->keys_state_ends >= (o->parts ? o->parts : 1u))
            atomic_store_explicit(&G->keys_ready, true, memory_order_release);
        return;
    }
    if ((o->kind != LX_NODE_OUT_STATE && o->kind != LX_NODE_OUT_EVENT) || o->shard != 0 ||
        o->ev.type < LX_EV_KEY_BOUND || o->ev.type > LX_EV_AGENT_REVOKED)
        return;
    pthread_rwlock_wrlock(&G->keys_mu);
    int rc = lx_gw_keys_apply(G->keys, &o->ev);
    pthread_rwlock_unlock(&G->keys_mu);
    if (rc) glog(g, "lxdexd: binary: no memory for a key of account %u\n", o->ev.u.key.account);
    if (o->kind == LX_NODE_OUT_EVENT && o->ev.type == LX_EV_AGENT_REVOKED)
        atomic_fetch_add_explicit(&G->keys_revoked, 1, memory_order_release);
}

/* After an agent's revocation (any thread's feed counts them), and once a
 * second for expiries (every_s): this thread's connections logged on with
 * a key that may no longer act for their account are closed. The engine
 * refuses the key's commands anyway; without this, its sessions went on
 * receiving the account's reports. */
static void end_revoked(gw_t *g, bool every_s) {
    lx_gw_tcp_t *G = g->grp;
    uint32_t r = atomic_load_explicit(&G->keys_revoked, memory_order_acquire);
    if (r == g->revoked_seen && !every_s) return;
    g->revoked_seen = r;
    for (uint32_t i = 0; i < g->nsessions; i++) {
        session_t *s = g->sessions[i];
        const char *why;
        if (s->keyed && s->conn && key_role(G, s->account, s->key, &why) < 0)
            conn_kill(g, s->conn, why); /* revoked, or its approval expired */
    }
}

static void on_report(gw_t *g, const lx_node_out_t *o) {
    if (o->kind == LX_NODE_OUT_EVENT) {
        /* the key feed's events may be no session's here */
        if (!o->session[0] && !o->session[1]) return;
        /* the first report of a timed command: its order-to-ack latency */
        if (o->t_rx && o->ev.seq != g->acked_seq) {
            g->acked_seq = o->ev.seq;
            lx_node_record_acked(g->node, g->nodegw, o->t_rx, mono_ns());
        }
        lx_proto_report_t rep[2];
        int k = lx_proto_reports_from_event(&o->ev, rep);
        for (int i = 0; i < k && i < 2; i++) {
            if (!o->session[i]) continue;
            lx_proto_exec_t *h = lx_proto_exec(&rep[i].msg);
            if (h && !h->client_id) h->client_id = o->client_id[i];
            deliver(g, o->session[i], &rep[i].msg);
        }
        /* a one-report event with a second session: the order's owner and
         * the session that asked for the change both get it */
        if (k == 1 && o->session[1] && o->session[1] != o->session[0])
            deliver(g, o->session[1], &rep[0].msg);
    } else if (o->kind == LX_NODE_OUT_STATUS) {
        lx_proto_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = LX_PROTO_ORDER_STATUS_REPLY;
        lx_proto_status_reply_t *r = &m.u.status_reply;
        const lx_order_info_t *oi = &o->order;
        r->market = oi->market;
        r->client_id = oi->client_id;
        r->order_id = oi->order_id;
        if (o->found) {
            r->status = LX_PROTO_STATUS_OPEN;
            r->side = oi->side;
            r->order_type = oi->type;
            r->tif = oi->tif;
            r->stp = oi->stp;
            r->price = oi->price;
            r->qty = oi->qty;
            r->remaining = oi->remaining;
            r->filled = oi->filled;
            r->expiry = oi->expiry;
        }
        deliver(g, o->session[0], &m);
    }
}

static void on_out(void *ctx, const lx_node_out_t *o) {
    gw_t *g = ctx;
    if (g->feed) feed_keys(g, o);
    on_report(g, o);
}

static void drain_out(gw_t *g) {
    while (lx_node_outs_drain(&g->outs, 1024, on_out, g)) {
    }
}

static bool outs_pending(const gw_t *g) {
    return lx_node_outs_pending(&g->outs);
}

static void notify(void *ctx) {
    gw_t *g = ctx;
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&g->sleeping) && atomic_exchange(&g->sleeping, 0)) {
        uint64_t one = 1;
        ssize_t w = write(g->efd, &one, sizeof one);
        (void)w;
    }
}

static void heartbeats(gw_t *g) {
    int64_t now = mono_ms();
    for (uint32_t i = 0; i < g->nconns; i++) {
        conn_t *c = g->conns[i];
        if (c->dead) continue;
        if (now - c->last_rx > 3 * (int64_t)c->hb_ms) {
            conn_kill(g, c, "heartbeat timeout");
            i--; /* the last connection moved here */
            continue;
        }
        if (c->sess && now - c->last_tx >= (int64_t)c->hb_ms && c->olen == c->ooff) {
            lx_proto_msg_t m;
            memset(&m, 0, sizeof m);
            m.type = LX_PROTO_SERVER_HEARTBEAT;
            m.u.heartbeat.next_seq = c->sess->next_seq;
            conn_send(g, c, &m);
            c->last_tx = now;
        }
    }
}

/* ---- the thread ------------------------------------------------------------------ */

/* The CANCEL_ALLs of sessions whose connection dropped with
 * cancel-on-disconnect (conn_kill queues them). Sessions live until the
 * gateway closes, so the pointers stay valid. */
static void stage_cancel_on_disconnect(gw_t *g) {
    for (uint32_t i = 0; i < g->ncod; i++) {
        session_t *s = g->cod[i];
        if (atomic_load(&g->grp->stop) || lx_node_failed(g->node)) break;
        glog(g, "lxdexd: binary: session %llu dropped: cancelling the open orders of account %u\n",
             (unsigned long long)s->id, s->account);
        lx_node_msg_t *b = stage_slot(g);
        b->kind = LX_NODE_MSG_CMD;
        b->session = s->id;
        b->account = s->account;
        b->t_rx = mono_ns();
        b->cmd.type = LX_CMD_CANCEL_ALL;
        b->cmd.u.cancel_all.account = s->account;
        b->cmd.u.cancel_all.market = LX_MARKET_ALL;
        b->cmd.u.cancel_all.reason = LX_CANCEL_ALL_DISCONNECT;
        if (s->keyed) {
            /* as the session's own requests: the engine checks that its key
             * still may cancel for the account (docs/identity.md) */
            b->auth.scheme = LX_AUTH_SESSION;
            memcpy(b->auth.key, s->key, 32);
            b->auth.nonce = s->id;
        }
    }
    g->ncod = 0;
}

static void *gw_main(void *arg) {
    gw_t *g = arg;
    lx_gw_tcp_t *G = g->grp;
    struct epoll_event evs[256];
    int64_t last_tick = mono_ms(), last_reclaim = last_tick;
    while (!atomic_load(&G->stop)) {
        /* Announce sleep, then look at the ring once more (see the essay). */
        atomic_store(&g->sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        int timeout = outs_pending(g) ? 0 : 50; /* the heartbeat tick */
        int n = epoll_wait(g->epfd, evs, 256, timeout);
        atomic_store(&g->sleeping, 0);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &G->lfd) {
                do_accept(g);
            } else if (p == &g->efd) {
                uint64_t v;
                ssize_t r = read(g->efd, &v, sizeof v);
                (void)r;
            } else {
                conn_t *c = p;
                if (c->dead || c->move_to) continue;
                if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) do_read(g, c);
                if (!c->dead && (evs[i].events & EPOLLOUT)) mark_dirty(g, c);
            }
        }
        inbox_take(g);
        stage_cancel_on_disconnect(g);
        stage_flush(g);
        drain_out(g);
        end_revoked(g, false);
        int64_t now = mono_ms();
        if (now - last_tick >= 50) {
            heartbeats(g);
            last_tick = now;
        }
        if (now - last_reclaim >= 1000) {
            end_revoked(g, true);
            sessions_reclaim(g, now);
            last_reclaim = now;
        }
        flush_dirty(g);
        move_conns(g);
        reap_dead(g);
    }

    /* Graceful stop: take nothing new, let the node finish what it has. */
    if (g->idx == 0) {
        close(G->lfd);
        G->lfd = -1;
    }
    g->nmoving = 0; /* they stay and are closed with the others */
    stage_flush(g);
    lx_node_gateway_close(g->node, g->nodegw);
    for (;;) {
        bool finished = lx_node_outs_finished(&g->outs);
        drain_out(g);
        flush_dirty(g);
        if (finished) break;
        lx_node_outs_wait(&g->outs, 10000000);
    }
    /* Give the clients up to a second to take their last reports. */
    int64_t until = mono_ms() + 1000;
    for (;;) {
        bool pending = false;
        for (uint32_t i = 0; i < g->nconns; i++) {
            conn_t *c = g->conns[i];
            conn_flush(g, c);
            if (!c->dead && c->olen > c->ooff) pending = true;
        }
        g->ndirty = 0;
        if (!pending || mono_ms() > until) break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    while (g->nconns) conn_kill(g, g->conns[0], "node shutting down");
    reap_dead(g);
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void gw_free(gw_t *g) {
    if (!g) return;
    if (g->efd >= 0) close(g->efd);
    if (g->epfd >= 0) close(g->epfd);
    for (uint32_t i = 0; i < g->nconns; i++) {
        close(g->conns[i]->fd);
        conn_free(g->conns[i]);
    }
    /* handed over after this thread stopped taking them */
    conn_t *c = atomic_load(&g->inbox);
    while (c) {
        conn_t *next = c->next_in;
        close(c->fd);
        conn_free(c);
        c = next;
    }
    for (uint32_t i = 0; i < g->nsessions; i++) {
        free(g->sessions[i]->hist);
        free(g->sessions[i]);
    }
    free(g->sessions);
    free(g->acct_sess);
    free(g->conns);
    free(g->dead);
    free(g->cod);
    free(g->dirty);
    free(g->moving);
    free(g);
}

/* Thread idx: its node gateway (0 for thread 0, which has the node's first
 * gateway; a new one for every other), epoll and arrays. */
static int gw_new(lx_gw_tcp_t *G, unsigned idx, char *err, size_t errlen) {
    gw_t *g = calloc(1, sizeof *g);
    if (!g) return LX_ENOMEM;
    G->t[idx] = g;
    g->efd = g->epfd = -1;
    g->grp = G;
    g->node = G->node;
    g->cfg = G->cfg;
    g->opts = G->opts;
    g->idx = idx;
    g->feed = idx + 1 == G->nthreads; /* the last thread keeps the key copy */
    size_t max = G->max_conns;
    g->conns = calloc(max, sizeof *g->conns);
    g->dead = calloc(2 * max + 2, sizeof *g->dead);
    g->dirty = calloc(2 * max + 2, sizeof *g->dirty);
    g->moving = calloc(max, sizeof *g->moving);
    g->acct_sess =
        calloc(G->cfg->engine.max_accounts ? G->cfg->engine.max_accounts : 1, sizeof *g->acct_sess);
    if (!g->conns || !g->dead || !g->dirty || !g->moving || !g->acct_sess) return LX_ENOMEM;
    g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g->efd < 0 || g->epfd < 0) {
        snprintf(err, errlen, "binary gateway: %s", strerror(errno));
        return LX_EIO;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g->efd};
    epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->efd, &ev);
    if (idx == 0) {
        g->nodegw = 0;
        g->in = lx_node_in_ring(G->node);
        lx_node_set_notify(G->node, notify, g);
        if (g->feed) lx_node_set_flags(G->node, LX_NODE_GW_KEYS);
    } else {
        lx_node_gw_opts_t go = {
            .flags = g->feed ? LX_NODE_GW_KEYS : 0, .notify = notify, .notify_ctx = g};
        lx_ring_t *out0;
        int rc = lx_node_add_gateway(G->node, &go, &g->in, &out0);
        if (rc < 0) {
            snprintf(err, errlen,
                     "gateway.binary_threads: %u threads: the node has no gateway "
                     "for thread %u (%s)",
                     G->nthreads, idx, lx_strerror(rc));
            return rc;
        }
        g->nodegw = (unsigned)rc;
    }
    lx_node_outs_init(&g->outs, G->node, g->nodegw);
    G->by_nodegw[g->nodegw] = (int8_t)idx;
    return 0;
}

/* gateway.binary_threads 0: one per core this process may run on, at most
 * 2 (more gateway threads than cores only add switches; two are what the
 * measurements in BENCHMARKS.md cover). */
static uint32_t threads_auto(void) {
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                         : sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 2 ? 2 : 1;
}

int lx_gw_tcp_open(lx_gw_tcp_t **out, lx_node_t *node, const lx_config_t *cfg,
                   const lx_gw_tcp_opts_t *opts, char *err, size_t errlen) {
    *out = NULL;
    const lx_config_addr_t *a = &cfg->listen.binary;
    if (!a->enabled) {
        snprintf(err, errlen, "listen.binary is off");
        return LX_EINVAL;
    }
    uint32_t nthreads = opts && opts->threads         ? opts->threads
                        : cfg->gateway.binary_threads ? cfg->gateway.binary_threads
                                                      : threads_auto();
    if (nthreads > LX_CONFIG_BINARY_THREADS_MAX) {
        snprintf(err, errlen, "gateway.binary_threads: expected an integer from 0 to %u, got %u",
                 LX_CONFIG_BINARY_THREADS_MAX, nthreads);
        return LX_EINVAL;
    }
    if (sodium_init() < 0) { /* randombytes_buf: the session base, challenges */
        snprintf(err, errlen, "binary gateway: libsodium does not initialise");
        return LX_ESTATE;
    }
    lx_gw_tcp_t *G = calloc(1, sizeof *G);
    if (!G) return LX_ENOMEM;
    G->lfd = -1;
    G->node = node;
    G->cfg = cfg;
    G->nthreads = nthreads;
    memset(G->by_nodegw, -1, sizeof G->by_nodegw);
    pthread_mutex_init(&G->conn_mu, NULL);
    pthread_rwlock_init(&G->keys_mu, NULL);
    if (opts) G->opts = *opts;
    if (!G->opts.history) G->opts.history = 65536;
    /* a power of two */
    uint32_t h = 1;
    while (h < G->opts.history && h < (1u << 24)) h <<= 1;
    G->opts.history = h;
    if (!G->opts.session_linger_ms) G->opts.session_linger_ms = 600000;
    if (!G->opts.heartbeat_ms) G->opts.heartbeat_ms = 5000;
    if (!G->opts.out_buffer_max)
        G->opts.out_buffer_max = cfg->limits.slow_subscriber_buffer_bytes
                                     ? cfg->limits.slow_subscriber_buffer_bytes
                                     : (4u << 20);
    G->opts.threads = nthreads;
    G->max_conns = cfg->limits.max_connections ? cfg->limits.max_connections : 1024;
    G->max_per_ip =
        cfg->limits.max_connections_per_ip ? cfg->limits.max_connections_per_ip : G->max_conns;
    /* 32 random bits, new at every start: a session id of an earlier run
     * (even one started in the same second) names no session of this one,
     * but for a 2^-32 chance, so it cannot resume another client's. */
    uint32_t base;
    randombytes_buf(&base, sizeof base);
    G->session_base = base;
    int rc = LX_ENOMEM;
    G->ips = calloc(G->max_conns, sizeof *G->ips);
    G->keys = lx_gw_keys_create();
    if (!G->ips || !G->keys) goto fail;
    G->account_tat = lx_node_account_buckets(node, &G->naccounts); /* shared with the web's */

    rc = LX_EIO;
    G->lfd = socket(a->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (G->lfd < 0) goto fail_errno;
    int one = 1;
    setsockopt(G->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (a->ipv6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        inet_pton(AF_INET6, a->host, &s6->sin6_addr);
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        inet_pton(AF_INET, a->host, &s4->sin_addr);
        sl = sizeof *s4;
    }
    if (bind(G->lfd, (struct sockaddr *)&ss, sl) || listen(G->lfd, 512)) goto fail_errno;
    sl = sizeof ss;
    getsockname(G->lfd, (struct sockaddr *)&ss, &sl);
    G->port = ntohs(a->ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    for (unsigned i = 0; i < nthreads; i++)
        if ((rc = gw_new(G, i, err, errlen))) goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &G->lfd};
    epoll_ctl(G->t[0]->epfd, EPOLL_CTL_ADD, G->lfd, &ev);
    *out = G;
    return 0;
fail_errno:
    snprintf(err, errlen, "listen.binary %s:%u: %s", a->host, a->port, strerror(errno));
fail:
    lx_gw_tcp_close(G);
    return rc;
}

uint16_t lx_gw_tcp_port(const lx_gw_tcp_t *G) {
    return G->port;
}

uint32_t lx_gw_tcp_threads(const lx_gw_tcp_t *G) {
    return G->nthreads;
}

int lx_gw_tcp_start(lx_gw_tcp_t *G) {
    if (G->started) return LX_ESTATE;
    for (unsigned i = 0; i < G->nthreads; i++) {
        gw_t *g = G->t[i];
        if (pthread_create(&g->thread, NULL, gw_main, g)) {
            /* the ones started stop again: they wait for the node's out
             * rings to close, which happens once the sequencer stopped,
             * which waits for every gateway's in ring to close (the web
             * gateway's too, whose thread may never start) */
            atomic_store(&G->stop, true);
            lx_node_stop_inputs(G->node);
            for (unsigned j = 0; j < i; j++) {
                uint64_t one = 1;
                ssize_t w = write(G->t[j]->efd, &one, sizeof one);
                (void)w;
                pthread_join(G->t[j]->thread, NULL);
            }
            return LX_ENOMEM;
        }
        char name[16];
        snprintf(name, sizeof name, i ? "lx-gw-binary%u" : "lx-gw-binary", i);
        pthread_setname_np(g->thread, name);
    }
    G->started = true;
    return 0;
}

void lx_gw_tcp_stop(lx_gw_tcp_t *G) {
    if (!G || !G->started) return;
    atomic_store(&G->stop, true);
    for (unsigned i = 0; i < G->nthreads; i++) {
        uint64_t one = 1;
        ssize_t w = write(G->t[i]->efd, &one, sizeof one);
        (void)w;
    }
    for (unsigned i = 0; i < G->nthreads; i++) pthread_join(G->t[i]->thread, NULL);
    G->started = false;
}

void lx_gw_tcp_close(lx_gw_tcp_t *G) {
    if (!G) return;
    lx_gw_tcp_stop(G);
    if (G->lfd >= 0) close(G->lfd);
    for (unsigned i = 0; i < LX_NODE_GATEWAYS_MAX; i++) gw_free(G->t[i]);
    pthread_mutex_destroy(&G->conn_mu);
    pthread_rwlock_destroy(&G->keys_mu);
    lx_gw_keys_destroy(G->keys);
    free(G->ips);
    free(G);
}
