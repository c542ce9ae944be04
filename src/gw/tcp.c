/*
 * tcp.c: the binary order-entry gateway (docs/protocol.md), one I/O thread.
 *
 * The thread runs an epoll loop over the listening socket, the connections
 * and an eventfd. Each round it
 *   1. reads every readable connection and decodes its frames with the
 *      incremental decoder (lx/proto.h); requests become lx_node_msg_t,
 *      staged locally and pushed into the node's in ring with one commit per
 *      round (or per STAGE requests);
 *   2. drains the node's out ring: each execution report gets its session's
 *      next seq, is kept in the session's history (for RESEND_REQUEST) and
 *      is appended to the connection's output buffer if the session is
 *      connected;
 *   3. writes the output buffers (EPOLLOUT only while a buffer is not empty).
 *
 * Waking: the engine thread calls notify() after committing reports; it
 * writes the eventfd only when this thread has announced it is about to
 * sleep (`sleeping`), with a fence on both sides (store sleeping / load the
 * ring's tail, and commit / load sleeping), so a busy node makes no
 * system call for it.
 *
 * Sessions outlive connections. A session has an id (boot second << 24 |
 * index), an account, the next report seq, and a history ring of the last
 * `history` encoded reports (at most 80 bytes each; grown on demand). A
 * LOGON with a known session id of the same account resumes it (taking it
 * from a connection that still holds it); reports produced while it was
 * disconnected are numbered and kept, and RESEND_REQUEST replays them. A
 * resend is answered synchronously in this thread, so no live report can
 * come between the replay and RESEND_END.
 *
 * Bounds: connections over limits.max_connections or
 * max_connections_per_ip get REJECT UNAVAILABLE and are closed; a connection whose output buffer
 * would pass its bound (a slow reader) is closed, and its session keeps numbering and keeping
 * reports. While a resend is being written the bound is raised by the size
 * of a whole history (history x 80 bytes), so that a client can always get
 * back everything that is kept. Frames whose boundaries are lost (MALFORMED, TOO_LARGE) get a
 * REJECT and a close, as do a failed logon and a bad version.
 *
 * Rate limits (rate_limits in the config) are token buckets kept as GCRA
 * ("theoretical arrival time") in integer nanoseconds: one per connection
 * over every message, one per account over its order-entry requests from
 * all its sessions. A request over either is answered REJECT RATE_LIMITED
 * with retry_after_us and dropped.
 *
 * A session disconnected for longer than opts.session_linger_ms (10 min)
 * loses its history (a resend then says "trimmed"); the session itself (a
 * few dozen bytes) stays until the node stops.
 *
 * Not yet here: signed logon (answered LOGON_FAILED).
 */
#define _GNU_SOURCE
#include "lx/gw_tcp.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
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

#define STAGE 256
#define REPORT_MAX 80 /* the largest execution report */
#define READ_BUF 65536

typedef struct conn conn_t;

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
    bool keyed;                /* logged on by signing a challenge with `key` */
    uint8_t key[32];
} session_t;

struct conn {
    int fd;
    uint32_t index; /* in g->conns */
    bool dead, want_out, dirty;
    bool resending; /* in do_resend: the output bound is raised by a history */
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
    char peer[64];
};

struct lx_gw_tcp {
    lx_node_t *node;
    const lx_config_t *cfg;
    lx_gw_tcp_opts_t opts;
    lx_ring_t *in;
    lx_node_outs_t outs; /* one out ring per shard */
    int lfd, efd, epfd;
    uint16_t port;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Atomic int sleeping;
    uint64_t acked_seq; /* the command whose ack latency was recorded last */
    session_t **cod;    /* sessions whose connection dropped with cancel-on-disconnect */
    uint32_t ncod, cod_cap;
    /* connections */
    conn_t **conns;
    uint32_t nconns, max_conns, max_per_ip;
    conn_t **dead;
    uint32_t ndead, dead_cap;
    conn_t **dirty;
    uint32_t ndirty;
    /* rate limits: GCRA, "theoretical arrival time" per account and per
     * connection, in monotonic ns */
    uint64_t *account_tat; /* max_accounts entries, NULL when no account limit */
    uint32_t naccounts;
    uint64_t now_ns; /* taken once per read */
    /* sessions */
    session_t **sessions;
    uint32_t nsessions, sessions_cap;
    uint64_t session_base;
    /* staged requests */
    lx_node_msg_t stage[STAGE];
    uint32_t nstage;
    uint8_t rbuf[READ_BUF];
};

static void glog(lx_gw_tcp_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void glog(lx_gw_tcp_t *g, const char *fmt, ...) {
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

/* ---- output ------------------------------------------------------------------ */

static void conn_kill(lx_gw_tcp_t *g, conn_t *c, const char *why);

static void mark_dirty(lx_gw_tcp_t *g, conn_t *c) {
    if (c->dirty || c->dead) return;
    c->dirty = true;
    g->dirty[g->ndirty++] = c;
}

/* Appends one encoded frame; closes a connection over its bound. */
static void conn_send(lx_gw_tcp_t *g, conn_t *c, const lx_proto_msg_t *m) {
    if (c->dead) return;
    if (c->ocap - c->olen < LX_PROTO_FRAME_MAX) {
        if (c->ooff > 0) {
            memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
            c->olen -= c->ooff;
            c->ooff = 0;
        }
        if (c->ocap - c->olen < LX_PROTO_FRAME_MAX) {
            /* A resend may add a whole history on top of the bound. */
            size_t limit =
                g->opts.out_buffer_max + (c->resending ? (size_t)g->opts.history * REPORT_MAX : 0);
            size_t want = c->ocap ? c->ocap * 2 : 16384;
            if (want > limit + LX_PROTO_FRAME_MAX) {
                if (c->olen + LX_PROTO_FRAME_MAX > limit) {
                    conn_kill(g, c, "slow reader: output buffer full");
                    return;
                }
                want = limit + LX_PROTO_FRAME_MAX;
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
    c->olen += (size_t)n;
    mark_dirty(g, c);
}

static void send_reject(lx_gw_tcp_t *g, conn_t *c, int reason, int ref_type, uint64_t cid) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_REJECT;
    m.u.reject.reason = (uint8_t)reason;
    m.u.reject.ref_type = (uint8_t)ref_type;
    m.u.reject.ref_client_id = cid;
    conn_send(g, c, &m);
}

/* Writes what it can; arms EPOLLOUT while something is left. */
static void conn_flush(lx_gw_tcp_t *g, conn_t *c) {
    c->dirty = false;
    if (c->dead) return;
    while (c->ooff < c->olen) {
        ssize_t w = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
        if (w > 0) {
            c->ooff += (size_t)w;
            c->last_tx = mono_ms();
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

static void flush_dirty(lx_gw_tcp_t *g) {
    for (uint32_t i = 0; i < g->ndirty; i++) conn_flush(g, g->dirty[i]);
    g->ndirty = 0;
}

/* ---- connections ----------------------------------------------------------- */

static void conn_kill(lx_gw_tcp_t *g, conn_t *c, const char *why) {
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
    if (c->sess && c->sess->conn == c) {
        c->sess->conn = NULL;
        c->sess->disc_at = mono_ms();
        /* staged later, from the loop: conn_kill can run inside stage_flush */
        if (c->sess->cancel_on_disconnect && !atomic_load(&g->stop)) {
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

static void reap_dead(lx_gw_tcp_t *g) {
    for (uint32_t i = 0; i < g->ndead; i++) {
        free(g->dead[i]->out);
        free(g->dead[i]);
    }
    g->ndead = 0;
}

static void do_accept(lx_gw_tcp_t *g) {
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(g->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        uint8_t ip[16];
        memset(ip, 0, sizeof ip);
        if (ss.ss_family == AF_INET)
            memcpy(ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        else if (ss.ss_family == AF_INET6)
            memcpy(ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
        /* The per-address cap: a scan, at accept only (max_connections is small). */
        uint32_t same = 0;
        for (uint32_t i = 0; i < g->nconns; i++) same += !memcmp(g->conns[i]->ip, ip, sizeof ip);
        const char *why = g->nconns >= g->max_conns ? "max_connections"
                          : same >= g->max_per_ip   ? "max_connections_per_ip"
                                                    : NULL;
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
            glog(g, "lxdexd: binary: connection refused: %s (%u connections)\n", why, g->nconns);
            continue;
        }
        conn_t *c = calloc(1, sizeof *c);
        if (!c) {
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
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            close(fd);
            free(c);
            continue;
        }
        c->index = g->nconns;
        g->conns[g->nconns++] = c;
    }
}

/* ---- sessions ---------------------------------------------------------------- */

static session_t *session_find(lx_gw_tcp_t *g, uint64_t id) {
    if ((id >> 24) != g->session_base) return NULL;
    uint64_t idx = id & 0xffffff;
    if (idx == 0 || idx > g->nsessions) return NULL;
    return g->sessions[idx - 1];
}

static session_t *session_new(lx_gw_tcp_t *g, lx_account_id_t account) {
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
    s->id = (g->session_base << 24) | (g->nsessions + 1);
    s->account = account;
    s->next_seq = 1;
    s->hist_first = 1;
    g->sessions[g->nsessions++] = s;
    return s;
}

/* Keeps an encoded report in the history, the kept ones being
 * [hist_first, next_seq); grows the ring up to opts.history. seq is the
 * report just numbered (next_seq - 1). */
static void session_keep(lx_gw_tcp_t *g, session_t *s, uint64_t seq, const lx_proto_msg_t *m) {
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
static void sessions_reclaim(lx_gw_tcp_t *g, int64_t now) {
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

static void drain_out(lx_gw_tcp_t *g);

/* Pushes the staged requests into the node's in ring. While the ring is
 * full it keeps draining the out ring, so that neither side can wait on the
 * other forever. */
static void drain_cb(void *ctx) {
    drain_out(ctx);
}

static void stage_flush(lx_gw_tcp_t *g) {
    lx_node_submit(g->node, 0, g->stage, g->nstage, drain_cb, g);
    g->nstage = 0;
}

static lx_node_msg_t *stage_slot(lx_gw_tcp_t *g) {
    if (g->nstage == STAGE) stage_flush(g);
    lx_node_msg_t *m = &g->stage[g->nstage++];
    memset(m, 0, sizeof *m);
    return m;
}

static void do_resend(lx_gw_tcp_t *g, conn_t *c, const lx_proto_resend_request_t *r) {
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
}

static bool zero64(const uint8_t *p) {
    for (int i = 0; i < 64; i++)
        if (p[i]) return false;
    return true;
}

/* A signed LOGON: with an all-zero signature it asks for a challenge; with
 * a signature, it must sign the challenge this connection was sent last
 * (docs/protocol.md). Returns true when the logon may go on. */
static bool signed_logon(lx_gw_tcp_t *g, conn_t *c, const lx_proto_logon_t *l) {
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
    uint8_t p[LX_SIGN_LOGON_LEN];
    if (!c->challenged) {
        why = "signed logon without a challenge";
    } else {
        lx_sign_logon_payload(g->cfg->node.chain_id, l->account, c->challenge, l->public_key, p);
        c->challenged = false; /* one use */
        if (crypto_sign_verify_detached(l->signature, p, sizeof p, l->public_key) != 0)
            why = "logon signature does not verify";
    }
    if (!why) return true;
    send_reject(g, c, LX_PROTO_R_LOGON_FAILED, LX_PROTO_LOGON, 0);
    conn_kill(g, c, why);
    return false;
}

static void do_logon(lx_gw_tcp_t *g, conn_t *c, const lx_proto_logon_t *l) {
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
    session_t *s = l->session_id ? session_find(g, l->session_id) : NULL;
    /* a session resumes only with the same account and the same key (or none) */
    if (s && (s->account != l->account || s->keyed != keyed ||
              (keyed && memcmp(s->key, l->public_key, 32) != 0)))
        s = NULL;
    if (s && s->conn) conn_kill(g, s->conn, "session resumed on another connection");
    if (!s) {
        s = session_new(g, l->account);
        if (s && keyed) {
            s->keyed = true;
            memcpy(s->key, l->public_key, 32);
        }
    }
    if (!s) {
        send_reject(g, c, LX_PROTO_R_UNAVAILABLE, LX_PROTO_LOGON, 0);
        conn_kill(g, c, "no room for a session");
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
    if (keyed && g->cfg->node.dev_mode && !atomic_load(&g->stop) && !lx_node_failed(g->node)) {
        /* dev mode has no bridge: the first key that logs on for an account
         * becomes its owner (the engine refuses the bind, harmlessly, when
         * the account or the key is taken) */
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

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * A token bucket as GCRA: each request moves *tat (the time the bucket would
 * be empty again) on by 1/rate; it conforms while *tat stays within
 * burst/rate of now. Integer nanoseconds only. Returns 0 when allowed, else
 * the microseconds until a retry would be (at least 1).
 */
static bool is_order_entry(int type) {
    return type == LX_PROTO_PLACE || type == LX_PROTO_CANCEL || type == LX_PROTO_AMEND ||
           type == LX_PROTO_CANCEL_ALL || type == LX_PROTO_SIGNED ||
           type == LX_PROTO_SCHEDULE_CANCEL;
}

/* What a request costs in its account's bucket (rate_limits.weight); a
 * SIGNED request weighs what the action it carries weighs (read from the
 * codec header's type byte without verifying: a bad one is refused anyway). */
static uint32_t weight_of(const lx_config_t *cfg, const lx_proto_msg_t *m) {
    int t = m->type;
    if (t == LX_PROTO_SIGNED && m->u.signed_action.len > LX_SIGN_HDR_LEN + 1) {
        switch (m->u.signed_action.envelope[LX_SIGN_HDR_LEN + 1]) {
        case LX_CMD_CANCEL:
            return cfg->rate_limits.weight.cancel;
        case LX_CMD_AMEND:
            return cfg->rate_limits.weight.amend;
        case LX_CMD_CANCEL_ALL:
            return cfg->rate_limits.weight.cancel_all;
        default:
            return cfg->rate_limits.weight.place;
        }
    }
    return t == LX_PROTO_CANCEL       ? cfg->rate_limits.weight.cancel
           : t == LX_PROTO_AMEND      ? cfg->rate_limits.weight.amend
           : t == LX_PROTO_CANCEL_ALL ? cfg->rate_limits.weight.cancel_all
                                      : cfg->rate_limits.weight.place;
}

static void send_rate_limited(lx_gw_tcp_t *g, conn_t *c, const lx_proto_msg_t *m, uint32_t us) {
    lx_proto_msg_t r;
    memset(&r, 0, sizeof r);
    r.type = LX_PROTO_REJECT;
    r.u.reject.reason = LX_PROTO_R_RATE_LIMITED;
    r.u.reject.ref_type = m->type;
    r.u.reject.retry_after_us = us;
    r.u.reject.ref_client_id = msg_client_id(m);
    conn_send(g, c, &r);
}

static void on_msg(lx_gw_tcp_t *g, conn_t *c, const lx_proto_msg_t *m) {
    /* Rate limits (docs/config.md): every message of a connection, and the
     * order-entry requests of an account over all its sessions. */
    uint32_t wait = lx_rate_check(&c->tat, &g->cfg->rate_limits.per_connection, g->now_ns, 1);
    if (!wait && c->sess && g->account_tat && is_order_entry(m->type) &&
        c->sess->account < g->naccounts) {
        wait = lx_rate_check(&g->account_tat[c->sess->account], &g->cfg->rate_limits.per_account,
                             g->now_ns, weight_of(g->cfg, m));
    }
    if (wait) {
        send_rate_limited(g, c, m, wait);
        /* A client that ignores retry_after_us and keeps pushing is cut off:
         * more refusals in one second than a whole connection burst (at
         * least 100). */
        int64_t now = (int64_t)(g->now_ns / 1000000);
        if (now - c->over_since >= 1000) c->over_since = now, c->over = 0;
        uint32_t cap = g->cfg->rate_limits.per_connection.burst;
        if (++c->over > (cap > 100 ? cap : 100))
            conn_kill(g, c, "kept sending over its rate limit");
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
        if (atomic_load(&g->stop) || lx_node_failed(g->node)) {
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
        if (atomic_load(&g->stop) || lx_node_failed(g->node)) {
            send_reject(g, c, LX_PROTO_R_UNAVAILABLE, m->type, 0);
            break;
        }
        /* verified here, on the gateway thread, never on the engine's */
        const lx_proto_signed_t *sa = &m->u.signed_action;
        lx_action_t act;
        if (lx_verify(sa->envelope, sa->len, g->cfg->node.chain_id, &act) != 0) {
            send_reject(g, c, LX_PROTO_R_BAD_SIGNATURE, m->type, 0);
            break;
        }
        lx_account_id_t acct = lx_sign_account(&act.cmd);
        if (acct == LX_ACCOUNT_NONE) {
            send_reject(g, c, LX_PROTO_R_BAD_FIELD, m->type, 0); /* an operator's command */
            break;
        }
        /* a deposit or a key binding is the bridge's word: only the bridge
         * key named in the configuration signs one (ARCHITECTURE.md §7) */
        if ((act.cmd.type == LX_CMD_DEPOSIT || act.cmd.type == LX_CMD_BIND_KEY) &&
            (!g->cfg->has_bridge_key || memcmp(act.signer, g->cfg->bridge_key, 32) != 0)) {
            send_reject(g, c, LX_PROTO_R_BAD_SIGNATURE, m->type, 0);
            break;
        }
        /* funds are held per shard: a deposit, withdrawal or transfer names
         * its shard (routing, not authority: the funds stay the account's) */
        bool funds = act.cmd.type == LX_CMD_DEPOSIT || act.cmd.type == LX_CMD_WITHDRAW ||
                     act.cmd.type == LX_CMD_TRANSFER;
        if (sa->shard >= lx_node_shards(g->node) || (sa->shard && !funds)) {
            send_reject(g, c, LX_PROTO_R_BAD_FIELD, m->type, 0);
            break;
        }
        lx_node_msg_t *b = stage_slot(g);
        b->kind = LX_NODE_MSG_CMD;
        b->session = sess->id;
        b->account = acct;
        b->t_rx = g->now_ns;
        b->shard = sa->shard;
        b->cmd = act.cmd;
        b->client_id = act.cmd.type == LX_CMD_PLACE    ? act.cmd.u.place.client_id
                       : act.cmd.type == LX_CMD_CANCEL ? act.cmd.u.cancel.client_id
                       : act.cmd.type == LX_CMD_AMEND  ? act.cmd.u.amend.client_id
                                                       : 0;
        b->auth.scheme = LX_AUTH_ED25519;
        memcpy(b->auth.key, act.signer, 32);
        b->auth.nonce = act.nonce;
        memcpy(b->auth.sig, sa->envelope + sa->len - LX_SIGN_SIG_LEN, LX_SIGN_SIG_LEN);
        break;
    }
    case LX_PROTO_ORDER_STATUS: {
        if (atomic_load(&g->stop) || lx_node_failed(g->node)) {
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

static void do_read(lx_gw_tcp_t *g, conn_t *c) {
    for (int rounds = 0; rounds < 4 && !c->dead; rounds++) {
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
        const uint8_t *p = g->rbuf;
        size_t len = (size_t)r;
        while (!c->dead) {
            lx_proto_msg_t m;
            int rc = lx_proto_decode(&c->dec, &p, &len, &m);
            if (rc == 0) break;
            if (rc == 1) {
                on_msg(g, c, &m);
                continue;
            }
            lx_proto_msg_t rej;
            lx_proto_decoder_reject(&c->dec, &rej);
            conn_send(g, c, &rej);
            if (rc == LX_ECORRUPT) {
                conn_kill(g, c, lx_proto_reason_str(rej.u.reject.reason));
                return;
            }
        }
        if ((size_t)r < sizeof g->rbuf) return;
    }
}

/* ---- reports ------------------------------------------------------------------- */

/* Numbers an execution report in its session, keeps it, sends it. */
static void deliver(lx_gw_tcp_t *g, uint64_t session, lx_proto_msg_t *m) {
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

static void on_report(lx_gw_tcp_t *g, const lx_node_out_t *o) {
    if (o->kind == LX_NODE_OUT_EVENT) {
        /* the first report of a timed command: its order-to-ack latency */
        if (o->t_rx && o->ev.seq != g->acked_seq) {
            g->acked_seq = o->ev.seq;
            lx_node_record_acked(g->node, 0, o->t_rx, mono_ns());
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
    on_report(ctx, o);
}

static void drain_out(lx_gw_tcp_t *g) {
    while (lx_node_outs_drain(&g->outs, 1024, on_out, g)) {
    }
}

static void notify(void *ctx) {
    lx_gw_tcp_t *g = ctx;
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&g->sleeping) && atomic_exchange(&g->sleeping, 0)) {
        uint64_t one = 1;
        ssize_t w = write(g->efd, &one, sizeof one);
        (void)w;
    }
}

static void heartbeats(lx_gw_tcp_t *g) {
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
static void stage_cancel_on_disconnect(lx_gw_tcp_t *g) {
    for (uint32_t i = 0; i < g->ncod; i++) {
        session_t *s = g->cod[i];
        if (atomic_load(&g->stop) || lx_node_failed(g->node)) break;
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
    }
    g->ncod = 0;
}

static void *gw_main(void *arg) {
    lx_gw_tcp_t *g = arg;
    struct epoll_event evs[256];
    int64_t last_tick = mono_ms(), last_reclaim = last_tick;
    while (!atomic_load(&g->stop)) {
        /* Announce sleep, then look at the ring once more (see the essay). */
        atomic_store(&g->sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        int timeout = lx_node_outs_pending(&g->outs) ? 0 : 50; /* the heartbeat tick */
        int n = epoll_wait(g->epfd, evs, 256, timeout);
        atomic_store(&g->sleeping, 0);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &g->lfd) {
                do_accept(g);
            } else if (p == &g->efd) {
                uint64_t v;
                ssize_t r = read(g->efd, &v, sizeof v);
                (void)r;
            } else {
                conn_t *c = p;
                if (c->dead) continue;
                if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) do_read(g, c);
                if (!c->dead && (evs[i].events & EPOLLOUT)) mark_dirty(g, c);
            }
        }
        stage_cancel_on_disconnect(g);
        stage_flush(g);
        drain_out(g);
        int64_t now = mono_ms();
        if (now - last_tick >= 50) {
            heartbeats(g);
            last_tick = now;
        }
        if (now - last_reclaim >= 1000) {
            sessions_reclaim(g, now);
            last_reclaim = now;
        }
        flush_dirty(g);
        reap_dead(g);
    }

    /* Graceful stop: take nothing new, let the node finish what it has. */
    close(g->lfd);
    g->lfd = -1;
    stage_flush(g);
    lx_node_gateway_close(g->node, 0);
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

int lx_gw_tcp_open(lx_gw_tcp_t **out, lx_node_t *node, const lx_config_t *cfg,
                   const lx_gw_tcp_opts_t *opts, char *err, size_t errlen) {
    *out = NULL;
    const lx_config_addr_t *a = &cfg->listen.binary;
    if (!a->enabled) {
        snprintf(err, errlen, "listen.binary is off");
        return LX_EINVAL;
    }
    lx_gw_tcp_t *g = calloc(1, sizeof *g);
    if (!g) return LX_ENOMEM;
    g->lfd = g->efd = g->epfd = -1;
    g->node = node;
    g->cfg = cfg;
    if (opts) g->opts = *opts;
    if (!g->opts.history) g->opts.history = 65536;
    /* a power of two */
    uint32_t h = 1;
    while (h < g->opts.history && h < (1u << 24)) h <<= 1;
    g->opts.history = h;
    if (!g->opts.session_linger_ms) g->opts.session_linger_ms = 600000;
    if (!g->opts.heartbeat_ms) g->opts.heartbeat_ms = 5000;
    if (!g->opts.out_buffer_max)
        g->opts.out_buffer_max = cfg->limits.slow_subscriber_buffer_bytes
                                     ? cfg->limits.slow_subscriber_buffer_bytes
                                     : (4u << 20);
    g->in = lx_node_in_ring(node);
    lx_node_outs_init(&g->outs, node, 0);
    g->max_conns = cfg->limits.max_connections ? cfg->limits.max_connections : 1024;
    g->max_per_ip =
        cfg->limits.max_connections_per_ip ? cfg->limits.max_connections_per_ip : g->max_conns;
    g->session_base = ((uint64_t)time(NULL)) & 0xffffffffffULL;
    int rc = LX_ENOMEM;
    g->conns = calloc(g->max_conns, sizeof *g->conns);
    g->dead = calloc(2 * (size_t)g->max_conns + 2, sizeof *g->dead);
    g->dirty = calloc(2 * (size_t)g->max_conns + 2, sizeof *g->dirty);
    if (!g->conns || !g->dead || !g->dirty) goto fail;
    if (cfg->rate_limits.per_account.rate) {
        g->naccounts = cfg->engine.max_accounts;
        g->account_tat = calloc(g->naccounts ? g->naccounts : 1, sizeof *g->account_tat);
        if (!g->account_tat) goto fail;
    }

    rc = LX_EIO;
    g->lfd = socket(a->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g->lfd < 0) goto fail_errno;
    int one = 1;
    setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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
    if (bind(g->lfd, (struct sockaddr *)&ss, sl) || listen(g->lfd, 512)) goto fail_errno;
    sl = sizeof ss;
    getsockname(g->lfd, (struct sockaddr *)&ss, &sl);
    g->port = ntohs(a->ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g->efd < 0 || g->epfd < 0) goto fail_errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g->lfd};
    epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->lfd, &ev);
    ev.data.ptr = &g->efd;
    epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->efd, &ev);
    lx_node_set_notify(node, notify, g);
    *out = g;
    return 0;
fail_errno:
    snprintf(err, errlen, "listen.binary %s:%u: %s", a->host, a->port, strerror(errno));
fail:
    lx_gw_tcp_close(g);
    return rc;
}

uint16_t lx_gw_tcp_port(const lx_gw_tcp_t *g) {
    return g->port;
}

int lx_gw_tcp_start(lx_gw_tcp_t *g) {
    if (g->started) return LX_ESTATE;
    if (pthread_create(&g->thread, NULL, gw_main, g)) return LX_ENOMEM;
    pthread_setname_np(g->thread, "lx-gw-binary");
    g->started = true;
    return 0;
}

void lx_gw_tcp_stop(lx_gw_tcp_t *g) {
    if (!g || !g->started) return;
    atomic_store(&g->stop, true);
    uint64_t one = 1;
    ssize_t w = write(g->efd, &one, sizeof one);
    (void)w;
    pthread_join(g->thread, NULL);
    g->started = false;
}

void lx_gw_tcp_close(lx_gw_tcp_t *g) {
    if (!g) return;
    lx_gw_tcp_stop(g);
    if (g->lfd >= 0) close(g->lfd);
    if (g->efd >= 0) close(g->efd);
    if (g->epfd >= 0) close(g->epfd);
    for (uint32_t i = 0; i < g->nconns; i++) {
        close(g->conns[i]->fd);
        free(g->conns[i]->out);
        free(g->conns[i]);
    }
    for (uint32_t i = 0; i < g->nsessions; i++) {
        free(g->sessions[i]->hist);
        free(g->sessions[i]);
    }
    free(g->sessions);
    free(g->conns);
    free(g->dead);
    free(g->cod);
    free(g->dirty);
    free(g->account_tat);
    free(g);
}
