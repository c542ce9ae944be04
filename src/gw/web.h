/*
 * gw/web.h: internal to the web gateway (src/gw/web*.c); not a public API.
 *
 *   web_json.c  pure JSON: exact numbers, field access, markets, decimal
 *               rendering, actions (JSON -> lx_cmd_t), command outcomes
 *   web_http.c  the HTTP JSON routes and /metrics
 *   web_rpc.c   JSON-RPC 2.0 at POST /rpc
 *   web_ws.c    WebSocket messages, subscriptions and the feeds
 *   web_out.c   the WebSocket output queue (whole frames, many per write)
 *               and the order-entry answers written without jansson
 *   web.c       the libwebsockets thread, connections, the node's rings
 */
#ifndef LX_GW_WEB_INTERNAL_H
#define LX_GW_WEB_INTERNAL_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include "lx/config.h"
#include "lx/gw_auth.h"
#include "lx/gw_web.h"
#include "lx/lathist.h"
#include "lx/node.h"
#include "lx/view.h"

/* ==== web_json.c: pure ======================================================================= */

#define LX__WEB_ERR 200 /* a good size for error message buffers */

/*
 * Exact numbers. JSON text is parsed with jansson after a pre-scan that
 * turns every number token into a string holding a NUL byte followed by the
 * token's literal text; user strings holding NUL (\u0000) are refused, so
 * such a string can only be a number. A number's value is then read from
 * its text, exactly (lx_api_to_steps, strtoull on digits), never through a
 * double. Output goes the other way: lx__web_num() makes such a string and
 * lx__web_dump() writes it as a bare number token.
 *
 * lx__web_parse: 0, or -1 with a message ("invalid JSON at byte 12: ...").
 * Any JSON value is accepted at the top level.
 */
int lx__web_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen);
/* Compact text of v with marked numbers restored (malloc'd; NULL: no memory). */
char *lx__web_dump(const json_t *v, size_t *len);
/* A JSON number whose text is exactly `text` (which must be a valid number). */
json_t *lx__web_num(const char *text);
json_t *lx__web_num_u64(uint64_t v);
/* The literal text of a number, or NULL if v is not a number. */
const char *lx__web_num_text(const json_t *v, size_t *len);
/* A number or a string: its text (NULL otherwise). */
const char *lx__web_text(const json_t *v, size_t *len);
/* An integer 0..2^64-1, given as a number without fraction or exponent or
 * as a string of digits: 0, or -1. */
int lx__web_u64(const json_t *v, uint64_t *out);
/* Every key of obj is one of `allowed` (NULL-terminated lists, up to two);
 * else -1 with "unknown field \"x\"". */
int lx__web_keys(const json_t *obj, const char *const *allowed, const char *const *allowed2,
                 char *err, size_t errlen);
/* How much of a client's text s[0..n) an error message quotes, for "%.*s":
 * at most max bytes, not past a NUL, and never ending inside a UTF-8
 * character (jansson refuses a string that is not UTF-8, and the message
 * would be lost). Every quote of client text goes through it. */
#define LX__WEB_QUOTE 40
int lx__web_cut(const char *s, size_t n, size_t max);
/* Makes s (NUL-terminated) valid UTF-8 for jansson: ends it before a
 * character that a truncating snprintf cut short, and replaces every other
 * byte that is not part of a valid character with '?' (a client's bytes
 * quoted from a URL). */
void lx__web_utf8_trim(char *s);

/* Markets, by configured id, with what rendering needs. */
typedef struct {
    const lx_config_market_t *m; /* NULL: no market with this id */
    int64_t base_scale, quote_scale;
    const char *base, *quote; /* asset symbols */
} lx__web_market_t;

typedef struct {
    const lx_config_t *cfg;
    lx__web_market_t *mk; /* nmk entries, by id */
    uint32_t nmk;
} lx__web_markets_t;

int lx__web_markets_init(lx__web_markets_t *ms, const lx_config_t *cfg);
void lx__web_markets_free(lx__web_markets_t *ms);
/* By symbol (case-insensitive) or by decimal id; NULL if none. */
const lx__web_market_t *lx__web_market_find(const lx__web_markets_t *ms, const char *name,
                                            size_t len);
const lx__web_market_t *lx__web_market_get(const lx__web_markets_t *ms, lx_market_id_t id);
/* Decimal rendering: a string, or (num) an exact JSON number. */
json_t *lx__web_price(const lx__web_market_t *m, int64_t ticks, bool num);
json_t *lx__web_qty(const lx__web_market_t *m, int64_t lots, bool num);
json_t *lx__web_amount(int64_t units, int64_t scale, bool num);
/* Order ids: strings in our own API (safe for JavaScript), numbers in JSON-RPC. */
json_t *lx__web_id(uint64_t id, bool num);

/*
 * A JSON value as an action's validation reads it: its kind and its text (a
 * string's value, unescaped; a number's literal token), not necessarily
 * NUL-terminated. From a jansson value (lx__web_val) or straight from the
 * message text (lx__web_flat), so that one validation serves both.
 */
enum {
    LX__WEB_V_NONE = 0, /* absent */
    LX__WEB_V_STRING,
    LX__WEB_V_NUMBER,
    LX__WEB_V_TRUE,
    LX__WEB_V_FALSE,
    LX__WEB_V_NULL,
    LX__WEB_V_OTHER /* an object or an array */
};
typedef struct {
    const char *s;
    size_t n;
    int kind;
} lx__web_val_t;

lx__web_val_t lx__web_val(const json_t *v); /* NULL: kind NONE */
/* A number's or a string's text (NULL otherwise). */
const char *lx__web_vtext(lx__web_val_t v, size_t *len);
/* lx__web_u64 of a value. */
int lx__web_vu64(lx__web_val_t v, uint64_t *out);

/*
 * The fast path of the WebSocket API (web_ws.c): a message that is one flat
 * object of at most LX__WEB_FLAT_MAX members whose values are strings
 * without escapes, numbers, true, false or null, in printable ASCII, with no
 * key twice, is read in place into members (no allocation, no jansson). It
 * returns the number of members, or -1 for anything else (nested values,
 * escapes, other bytes, invalid JSON), which the caller then hands to
 * lx__web_parse: the slow path decides and words every error.
 */
#define LX__WEB_FLAT_MAX 16
typedef struct {
    const char *key;
    size_t klen;
    lx__web_val_t v;
} lx__web_member_t;
int lx__web_flat(const char *text, size_t len, lx__web_member_t *m, int max);
/* The member named key, or a value of kind NONE. */
lx__web_val_t lx__web_flat_get(const lx__web_member_t *m, int n, const char *key);

/*
 * An order-entry action, whatever API it came in by: the values of its
 * fields (kind NONE when absent), then validated into a command by
 * lx__web_action(). Values accepted (both APIs):
 *   side      "buy" | "sell" | 0 | 1
 *   type      "limit" | "market" | 0 | 1
 *   tif       "GTC" | "GTD" | "IOC" | "FOK" | "POST_ONLY" (any case) | 0..4
 *   stp       "none" | "expire_taker" | "expire_maker" | "expire_both" | "decrement" | 0..4
 *   postOnly  true | false
 *   price, size   decimal string or JSON number, exact, on the grid
 *   orderId, clientId, account, expiry   integers (number or string of digits)
 */
typedef struct {
    lx__web_val_t market, side, type, price, size, tif, post_only, client_id, stp, expiry, order_id,
        account;
} lx__web_fields_t;

typedef struct {
    lx_cmd_t cmd; /* seq and ts 0 */
    lx_account_id_t account;
    uint64_t client_id;
    uint32_t weight; /* in the account's rate bucket (rate_limits.weight) */
    /* scheme NONE: the connection's (a signed logon's SESSION, or none in dev
     * mode); ED25519: a signed envelope's signer, nonce and signature */
    lx_journal_auth_t auth;
    uint8_t shard; /* a signed deposit, withdrawal or transfer: the shard of the funds */
    /* a signed action whose signer may not act for `account` by the key copy
     * (the engine will refuse it, BAD_SIGNER; or the bridge's deposit): no
     * account's bucket pays for it, only the connection's or address's */
    bool unpaid;
} lx__web_action_t;

/* The own API's field names for an action of cmd_type (PLACE, CANCEL,
 * AMEND, CANCEL_ALL): fills f, refuses unknown keys (besides `extra`). */
int lx__web_own_fields(const json_t *obj, int cmd_type, const char *const *extra,
                       lx__web_fields_t *f, char *err, size_t errlen);
/* The same from flat members: 0, or -1 for a key that is not a field of
 * cmd_type nor in `extra` (the slow path words the error). */
int lx__web_own_fields_flat(const lx__web_member_t *m, int n, int cmd_type,
                            const char *const *extra, lx__web_fields_t *f);
/*
 * Validates f into a command of cmd_type. account: the session's account,
 * or LX_ACCOUNT_NONE when the fields must name it (dev mode; a cancel or
 * amend by order id may leave it out: the order's owner in the view). The
 * view gives a cancel's or amend's market when only the order id is given.
 * 0, or -1 with a message naming the field.
 */
int lx__web_action(const lx__web_markets_t *ms, const lx_view_t *view, int cmd_type,
                   const lx__web_fields_t *f, lx_account_id_t account, lx__web_action_t *out,
                   char *err, size_t errlen);

/* What a command did, from the events that carry its tag (pure). */
#define LX__WEB_FILLS_MAX 64
typedef struct {
    int64_t price, qty, fee;
    bool maker;
} lx__web_fill_t;

typedef struct {
    uint8_t cmd_type;
    lx_market_id_t market;
    lx_account_id_t account;
    lx_order_id_t order_id; /* PLACE: the id given; CANCEL/AMEND: the target */
    uint64_t client_id;
    int64_t price, qty; /* lots */
    int64_t filled, remaining;
    bool accepted, rejected, canceled, amended;
    uint8_t reason;        /* rejected: lx_reject_t */
    uint8_t cancel_reason; /* canceled: lx_cancel_reason_t */
    uint32_t ncanceled;    /* CANCEL_ALL */
    uint64_t seq;
    uint32_t nfills, fills_dropped;
    lx__web_fill_t fills[LX__WEB_FILLS_MAX]; /* last: outcome_init clears only what is before */
} lx__web_outcome_t;

void lx__web_outcome_init(lx__web_outcome_t *o, const lx__web_action_t *a);
void lx__web_outcome_event(lx__web_outcome_t *o, const lx_event_t *ev);
/* "open", "partially_filled", "filled", "canceled", "amended", "rejected". */
const char *lx__web_outcome_status(const lx__web_outcome_t *o);
/* The result object; rpc: JSON-RPC's shape (numbers, {orderId, status, ...}). */
json_t *lx__web_outcome_json(const lx__web_markets_t *ms, const lx__web_outcome_t *o, bool rpc);

const char *lx__web_side_name(int side); /* "buy" / "sell" */

/* ==== the gateway (web.c) ==================================================================== */

enum { LX__WEB_API_HTTP = 1, LX__WEB_API_RPC = 2, LX__WEB_API_WS = 3 };

/* WebSocket subscriptions, per market and per account. */
enum { LX__SUB_L2 = 1, LX__SUB_TRADES = 2, LX__SUB_BBO = 4, LX__SUB_L3 = 8 };
enum { LX__FEED_ORDERS = 1, LX__FEED_FILLS = 2, LX__FEED_BALANCES = 4 };

/* The most bytes of whole frames handed to one lws_write (web_out.c). */
#define LX__WEB_WRITE_MAX (256u << 10)
/* The gateway's buffer for one hand-written answer (web_out.c). */
#define LX__WEB_TXT 16384
/* A request id's JSON text kept inline; a longer one stays a json_t. */
#define LX__WEB_ID_TEXT 48

typedef struct lx__web_conn lx__web_conn_t;
struct lx__web_conn {
    struct lws *wsi;
    uint64_t session; /* LX_NODE_SESSION(gw, local) */
    bool ws;
    bool counted; /* in the connection counts */
    bool closing; /* close once the queue is written */
    int ip;       /* slot in g->ips, -1 if none */
    char peer[48];
    uint64_t tat;       /* WebSocket: per-connection rate bucket */
    int64_t over_since; /* ms: the second counted in `over` */
    uint32_t over;      /* requests refused for rate in it */
    uint32_t npending;  /* commands sent, not DONE yet */
    /* output (WebSocket): whole frames in ob[oh .. ot), web_out.c */
    unsigned char *ob;
    size_t oh, ot, ocap;
    size_t qbytes;    /* ot - oh */
    size_t snap_left; /* of qbytes, snapshot bytes: not held to the output bound */
    int close_code;
    char close_reason[120];
    /* input */
    char *rx;
    size_t rxlen, rxcap;
    bool rx_over; /* the current message passed max_message_bytes */
    /* HTTP */
    int method; /* a HEAD request is routed as GET, with head set */
    bool head;  /* HEAD: the GET's status and headers, without its body */
    char uri[512];
    bool body_expected, responded, resp_ready;
    int status;
    char *resp;
    size_t resplen;
    uint32_t retry_after; /* seconds, 0: none */
    uint64_t t_rx;
    json_t *rpc_out;   /* JSON-RPC: the answers collected for the request (array) */
    uint32_t rpc_wait; /* JSON-RPC: commands of the request not DONE yet */
    bool rpc_batch;    /* JSON-RPC: the request was a batch */
    /* WebSocket */
    bool logged_on;
    lx_account_id_t account;
    bool keyed;            /* logged on by signing a challenge with `key` */
    bool challenged;       /* a challenge was sent and not yet used */
    uint8_t key[32];       /* keyed: the session's key, journaled with its commands */
    uint8_t challenge[32]; /* what the next signed logon must sign */
    uint8_t *sub;          /* per market id: LX__SUB_* */
    lx_account_id_t feed_account;
    uint8_t feeds;  /* LX__FEED_* */
    uint32_t index; /* in g->wsc */
};

/* A command sent to the node and not yet answered, in a FIFO in the order
 * sent. With one shard commands complete in that order, so a DONE answers
 * the oldest; with several, commands of different shards complete in any
 * order, and a command sent to every shard completes with its last DONE
 * (`parts`): an entry is answered when complete and leaves the FIFO once
 * every older one has. */
typedef struct {
    uint64_t tag;
    lx__web_conn_t *conn; /* NULL once the connection is gone */
    int api;
    json_t *id; /* the request id (owned), unless idlen > 0 */
    uint8_t idlen;
    char idtext[LX__WEB_ID_TEXT]; /* WebSocket: the id's JSON text, idlen bytes */
    uint64_t t_rx;
    lx__web_outcome_t out;
    uint8_t parts_done; /* DONEs seen */
    bool answered;
} lx__web_pending_t;

typedef struct {
    char ip[48];
    uint32_t conns;
    uint64_t tat; /* HTTP: the address's rate bucket */
} lx__web_ip_t;

enum {
    LX__WEB_METHOD_GET = 1,
    LX__WEB_METHOD_POST,
    LX__WEB_METHOD_DELETE,
    LX__WEB_METHOD_PUT,
    LX__WEB_METHOD_PATCH,
    LX__WEB_METHOD_HEAD, /* routed as GET (lx__web_conn_t.head) */
    LX__WEB_METHOD_OTHER
};

#define LX__WEB_STAGE 256

struct lx_gw_web {
    lx_node_t *node;
    const lx_config_t *cfg;
    lx_gw_web_opts_t opts;
    unsigned gw;
    lx_ring_t *in, *out; /* out: shard 0's (see outs) */
    lx_node_outs_t outs; /* the out ring of each shard */
    struct lws_context *ctx;
    struct lws_vhost *vh_http, *vh_ws;
    uint16_t http_port, ws_port;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Atomic int wake;
    bool stopping;   /* the thread saw stop: no new commands */
    bool out_closed; /* the node closed the out rings */
    bool state_done; /* every shard's STATE_END seen */
    uint32_t state_ends;
    lx_view_t *view;
    lx_gw_keys_t *keys; /* who may act for which account (lx/gw_auth.h) */
    lx__web_markets_t ms;
    uint8_t *halted;           /* per market id */
    lx_view_level_t (*bbo)[2]; /* per market id: last BBO sent (qty 0: none) */
    uint64_t next_tag, next_local;
    int64_t now_ms;
    int64_t expiry_scan_ms; /* close_unauthorized's last scan for expiries */
    uint64_t now_ns;
    /* pending commands: a ring of pcap (a power of two) */
    lx__web_pending_t *pend;
    uint32_t pcap, phead, pn;
    lx_node_msg_t stage[LX__WEB_STAGE];
    uint32_t nstage;
    /* connections */
    lx__web_conn_t **wsc; /* WebSocket connections, for the feeds */
    uint32_t nwsc, wsc_cap;
    uint32_t nhttp, max_conns, max_per_ip;
    lx__web_ip_t *ips;
    uint32_t nips, ips_cap;
    _Atomic uint64_t *account_tat; /* the node's (lx_node_account_buckets), not owned */
    uint32_t naccounts;
    uint64_t out_max;
    /* metrics */
    struct {
        uint64_t http_status[600];
        uint64_t rpc_calls, rpc_errors;
        uint64_t ws_messages, ws_errors;
        uint64_t commands[LX_CMD__MAX + 1];
        uint64_t rejects[LX_REJECT__COUNT]; /* every REJECTED event, node-wide */
        uint64_t events, gaps;
        uint64_t refused_conns, slow_closed, rate_limited;
        uint64_t http_conns_total, ws_conns_total;
    } m;
    lx_lathist_t resp_lat;      /* receipt to response queued, for commands */
    char txt[LX__WEB_TXT];      /* one hand-written answer (web_out.c) */
    lws_sorted_usec_list_t sul; /* the 50 ms timer */
};
typedef struct lx_gw_web lx__web_t;

/* web.c */
void lx__web_log(lx__web_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queues text (copied) on a connection, within its output bound. */
void lx__web_send(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len);
/* Queues v's text (and frees v). */
void lx__web_send_json(lx__web_t *g, lx__web_conn_t *c, json_t *v);
/* The same for a subscription's snapshot: queued whatever its size when
 * the queue is within its bound, and not counted in that bound while it is
 * written (web_out.c). */
void lx__web_send_snapshot(lx__web_t *g, lx__web_conn_t *c, json_t *v);
/* Closes a WebSocket connection once its queue is written, with a code and reason. */
void lx__web_close(lx__web_t *g, lx__web_conn_t *c, int code, const char *reason);
/* Stages an action for the node; the answer comes with its DONE. id: the
 * WebSocket request id or the JSON-RPC id (copied). 0, or -1 (stopping). */
int lx__web_submit(lx__web_t *g, lx__web_conn_t *c, int api, const lx__web_action_t *a,
                   const json_t *id);
/* The same for a WebSocket request whose id is already JSON text (the fast
 * path, web_ws.c): idlen 1 .. LX__WEB_ID_TEXT - 1. */
int lx__web_submit_text(lx__web_t *g, lx__web_conn_t *c, const lx__web_action_t *a, const char *id,
                        size_t idlen);
/* Dev mode: stages a BIND_KEY of key as a's owner key, unanswered (the
 * engine refuses it, harmlessly, when the account or the key is taken). */
void lx__web_bind_key(lx__web_t *g, lx__web_conn_t *c, lx_account_id_t a, const uint8_t key[32]);
/* Rate limits: 0 or the microseconds to wait. */
uint32_t lx__web_rate_conn(lx__web_t *g, lx__web_conn_t *c);
uint32_t lx__web_rate_account(lx__web_t *g, lx_account_id_t a, uint32_t weight);
/* An action's charge to its account's bucket (none when unpaid): 0 or the
 * microseconds until a retry. */
uint32_t lx__web_rate_action(lx__web_t *g, const lx__web_action_t *a);
/*
 * A signed action (WebSocket `signed`, HTTP POST /v1/signed): msg's
 * "envelope" (the binary protocol's SIGNED envelope in hexadecimal,
 * docs/signing.md) verified here, on the gateway thread, and its optional
 * "shard" (the shard of a deposit's, withdrawal's or transfer's funds), into
 * an action journaled with the signer, nonce and signature (auth ED25519);
 * the engine checks the signer's right and the nonce. Needs no logon: the
 * signature is the authority. 0, or -1 with *code ("bad_request",
 * "bad_signature") and err.
 */
int lx__web_signed(lx__web_t *g, const json_t *msg, lx__web_action_t *a, const char **code,
                   char *err, size_t errlen);
bool lx__web_available(lx__web_t *g);
/* The wall clock, ns since the epoch: agent expiries, signed reads' ts. */
int64_t lx__web_wall_ns(void);

/* web_http.c: answers one HTTP request (c->method, c->uri, body); sets
 * c->status/c->resp, or submits a command (the response follows its DONE). */
void lx__web_http(lx__web_t *g, lx__web_conn_t *c, const char *query_depth, const char *query_limit,
                  const char *body, size_t len);
void lx__web_http_reply(lx__web_t *g, lx__web_conn_t *c, int status, json_t *body);
void lx__web_http_error(lx__web_t *g, lx__web_conn_t *c, int status, const char *code,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The answer to a command submitted over HTTP. */
void lx__web_http_done(lx__web_t *g, lx__web_conn_t *c, const lx__web_outcome_t *o);
char *lx__web_metrics(lx__web_t *g, size_t *len);

/* web_rpc.c */
void lx__web_rpc(lx__web_t *g, lx__web_conn_t *c, const char *body, size_t len);
void lx__web_rpc_done(lx__web_t *g, lx__web_conn_t *c, const json_t *id,
                      const lx__web_outcome_t *o);

/* web_out.c: the WebSocket output queue and hand-written answers */
/* The JSON text of a request id (a number's literal text, a string escaped
 * as jansson dumps it, null for none): its length, or -1 (too long, or not an
 * id's type). */
int lx__web_id_text(const json_t *id, char *out, size_t cap);
/* The `result` message of an action, exactly as web_ws.c's jansson rendering
 * writes it; 0 if it does not fit cap. */
size_t lx__web_ws_result(char *buf, size_t cap, const lx__web_markets_t *ms, const char *action,
                         const char *id, size_t idlen, const lx__web_outcome_t *o);
/* The WRITEABLE callback of a WebSocket connection: 0, or -1 to close it. */
int lx__web_out_write(lx__web_t *g, lx__web_conn_t *c);
/* Frees the queue. */
void lx__web_out_drop(lx__web_conn_t *c);
/* lx__web_send for a snapshot (lx__web_send_snapshot). */
void lx__web_send_big(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len);

/* web_ws.c */
/* A WebSocket message arrived (text or binary): counts it and charges the
 * connection's rate bucket; false when over it (answered rate_limited, and a
 * connection that keeps pushing is closed): drop the message. */
bool lx__web_ws_admit(lx__web_t *g, lx__web_conn_t *c);
void lx__web_ws_message(lx__web_t *g, lx__web_conn_t *c, const char *text, size_t len);
void lx__web_ws_done(lx__web_t *g, lx__web_conn_t *c, const lx__web_pending_t *p);
const char *lx__web_ws_action_name(int cmd_type);
/* An engine event, after it was applied to the view: the feeds. */
void lx__web_ws_event(lx__web_t *g, const lx_event_t *ev);
void lx__web_ws_error(lx__web_t *g, lx__web_conn_t *c, const json_t *id, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Shared JSON for queries (web_http.c), used by the WebSocket and RPC too. */
json_t *lx__web_book_json(lx__web_t *g, const lx__web_market_t *m, size_t depth);
json_t *lx__web_trade_json(lx__web_t *g, const lx__web_market_t *m, const lx_view_trade_t *t);
json_t *lx__web_order_json(lx__web_t *g, const lx_view_order_t *o, bool rpc);
json_t *lx__web_balances_json(lx__web_t *g, lx_account_id_t a);
json_t *lx__web_markets_json(lx__web_t *g);

#endif
