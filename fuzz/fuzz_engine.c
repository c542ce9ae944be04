/*
 * fuzz_engine.c: libFuzzer driver, the engine against the reference model.
 *
 * The input is a command program. Its first byte picks the configuration
 * (clearing on or off, max_orders 4, 8, 16 or 64, a per-account limit of 3
 * or none, the fee account from its top 3 bits); then a fixed setup runs (three assets, two
 * markets, deposits for six accounts), and then every following group of bytes is one command:
 *
 *   byte 0: opcode. Low 4 bits: the command (table in decode()); high 4
 *           bits: how far time moves first (x 997 ns), so GTD orders expire.
 *   (opcode 10 is CANCEL_ALL, or SCHEDULE_CANCEL when its second byte has
 *   the top bit; dead man's switches have a 4 x 997 ns minimum lead;
 *   opcode 13 is a funds command or BIND_KEY / APPROVE_AGENT / REVOKE_AGENT)
 *   bytes 1..6: its arguments, each a small field (account, market, side,
 *           price offset, quantity, client id, which earlier order to
 *           name...). Missing bytes at the end of the input read as 0.
 *
 * With bit 4 of the first byte set, identity is on: accounts 0..4 get owner
 * keys at setup, and every command is followed by one auth byte (scheme in
 * its low 2 bits, 3 being invalid; then which key: the acting account's
 * owner, the next account's owner, one of four agent keys, an unknown key,
 * the zero key; then the nonce: the key's last, one less, or a few more).
 *
 * Prices cluster around 100 in a band [90, 110] (market 0) so orders cross;
 * market 1 has a huge band and a tick value of 10^6 so amounts overflow, a
 * maker rebate, and a zero-fee default; market 2 never exists. Cancel and
 * amend targets are picked from the ids the engine has accepted so far
 * (open, dead, or with a reused slot), or are garbage.
 *
 * Every command goes to lx_engine_apply() and ref_apply(); the return codes
 * and event lists must be equal field by field, and after every command the
 * full invariants (inv_check_engine) and the full state comparison
 * (inv_compare_state) must pass: the state is tiny, so everything is
 * checked every time. The engine's side goes through failalloc_apply
 * (tests/support/failalloc.h): a command that allocates is first tried with
 * each of its allocations failing, and every LX_ENOMEM must leave the
 * engine as it was. Any difference prints the program so far and aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/engine.h"
#include "lx/error.h"
#include "failalloc.h"
#include "invariants.h"
#include "refmodel.h"

enum { BTC, USD, BIG, NASSETS };
#define NACCOUNTS 6
#define NRECENT 32

typedef struct {
    const uint8_t *p;
    size_t n, i;
} input_t;

static uint8_t next(input_t *in) {
    return in->i < in->n ? in->p[in->i++] : 0;
}

typedef struct {
    lx_engine_t *e;
    ref_t *ref;
    inv_events_t ee, re;
    uint64_t seq;
    int64_t ts;
    uint64_t deposit_id;
    lx_order_id_t ids[NRECENT];
    lx_account_id_t owners[NRECENT];
    uint64_t clients[NRECENT];
    size_t nids;
    lx_cmd_t hist[8];
    size_t ncmds;
    bool identity;      /* an auth byte follows every command */
    lx_cmd_auth_t auth; /* the current command's */
} fz_t;

/* Keys: kind 1 the owner key of account i, 2 agent key i, 3 unknown. */
static void fz_key(uint8_t out[32], int kind, unsigned i) {
    memset(out, (int)(kind * 16 + i + 1), 32);
    out[31] = (uint8_t)kind;
}

static void die(fz_t *f, const char *what, const char *msg) {
    char buf[512];
    fprintf(stderr, "\nfuzz_engine: %s after %zu commands\n", what, f->ncmds);
    if (msg) fprintf(stderr, "  %s\n", msg);
    size_t from = f->ncmds > 8 ? f->ncmds - 8 : 0;
    for (size_t k = from; k < f->ncmds; k++) {
        inv_cmd_format(&f->hist[k % 8], buf, sizeof buf);
        fprintf(stderr, "  %s [%zu] %s\n", k + 1 == f->ncmds ? ">>" : "  ", k, buf);
    }
    inv_events_print_diff(stderr, &f->ee, "engine", &f->re, "ref");
    abort();
}

/* Applies one command to both and checks everything. */
static void run(fz_t *f, lx_cmd_t *c, bool stamp) {
    if (stamp) {
        c->seq = ++f->seq;
        c->ts = f->ts;
    }
    f->hist[f->ncmds++ % 8] = *c;
    inv_events_clear(&f->ee);
    inv_events_clear(&f->re);
    lx_sink_t es = inv_events_sink(&f->ee), rs = inv_events_sink(&f->re);
    char msg[1024];
    uint64_t nomem = 0;
    int erc = failalloc_apply(f->e, c, &f->auth, &es, &nomem, msg, sizeof msg);
    if (erc == FAILALLOC_BROKEN) die(f, "OUT OF MEMORY", msg);
    int rrc = ref_apply_auth(f->ref, c, &f->auth, &rs);
    if (erc != rrc || inv_events_first_diff(&f->ee, &f->re) >= 0) {
        char m[128];
        snprintf(m, sizeof m, "engine returned %d, reference %d", erc, rrc);
        die(f, "MISMATCH", m);
    }
    if (rrc != 0 && stamp) f->seq--; /* refused: the next command reuses the number */
    for (size_t i = 0; i < f->re.n; i++) {
        const lx_event_t *ev = &f->re.v[i];
        if (ev->type == LX_EV_ORDER_ACCEPTED) {
            size_t k = f->nids < NRECENT ? f->nids++ : (ev->u.accepted.order_id % NRECENT);
            f->ids[k] = ev->u.accepted.order_id;
            f->owners[k] = ev->u.accepted.account;
            f->clients[k] = ev->u.accepted.client_id;
        }
    }
    if (inv_check_engine(f->e, msg, sizeof msg) != 0) die(f, "INVARIANT", msg);
    if (inv_compare_state(f->e, f->ref, msg, sizeof msg) != 0) die(f, "STATE DIFFERS", msg);
}

static void setup(fz_t *f, bool clearing) {
    lx_cmd_t c;
    memset(&f->auth, 0, sizeof f->auth);
    for (unsigned a = 0; f->identity && a < 5; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_BIND_KEY;
        c.u.bind_key.account = a;
        fz_key(c.u.bind_key.key, 1, a);
        run(f, &c, true);
    }
    static const char *sym[NASSETS] = {"BTC", "USD", "BIG"};
    static const int64_t scale[NASSETS] = {100000000, 1000000, 1};
    for (int a = 0; a < NASSETS; a++) {
        memset(&c, 0, sizeof c);
        c.type = LX_CMD_CREATE_ASSET;
        c.u.create_asset.asset = (lx_asset_id_t)a;
        memcpy(c.u.create_asset.symbol, sym[a], strlen(sym[a]));
        c.u.create_asset.scale = scale[a];
        run(f, &c, true);
    }
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CREATE_MARKET;
    c.u.create_market = (lx_cmd_create_market_t){.market = 0,
                                                 .base = BTC,
                                                 .quote = USD,
                                                 .tick_size = 10000,
                                                 .lot_size = 10000,
                                                 .min_price = 90,
                                                 .max_price = 110,
                                                 .max_qty = 50,
                                                 .maker_fee = 1000,
                                                 .taker_fee = 3000};
    run(f, &c, true);
    c.u.create_market = (lx_cmd_create_market_t){.market = 1,
                                                 .base = BIG,
                                                 .quote = USD,
                                                 .tick_size = 1000,
                                                 .lot_size = 1000,
                                                 .min_price = 1,
                                                 .max_price = (int64_t)1 << 40,
                                                 .max_qty = LX_QTY_MAX,
                                                 .maker_fee = -500,
                                                 .taker_fee = 500};
    run(f, &c, true);
    if (!clearing) return;
    for (lx_account_id_t a = 0; a < NACCOUNTS; a++) {
        for (int as = 0; as < NASSETS; as++) {
            memset(&c, 0, sizeof c);
            c.type = LX_CMD_DEPOSIT;
            c.u.deposit = (lx_cmd_deposit_t){.account = a,
                                             .asset = (lx_asset_id_t)as,
                                             .amount = as == BTC   ? 2000000
                                                       : as == USD ? 100000000000
                                                                   : 100000000,
                                             .deposit_id = ++f->deposit_id};
            run(f, &c, true);
        }
    }
}

static lx_account_id_t account(uint8_t b) {
    b &= 7; /* 6 and 7 are unknown accounts */
    return b == 7 ? LX_ACCOUNT_NONE : b;
}

static int64_t price(uint8_t b, lx_market_id_t m) {
    if (m == 1) {
        static const int64_t big[8] = {
            1000, 1001, 999, 1, (int64_t)1 << 40, ((int64_t)1 << 40) + 1, 4611686, 4611687};
        return big[b & 7];
    }
    if ((b & 0xf0) == 0xf0) return (b & 1) ? 89 : 111; /* one tick outside the band */
    return 100 + (int64_t)(b % 21) - 10;               /* 90..110 */
}

static int64_t qty(uint8_t b, lx_market_id_t m) {
    switch (b >> 5) {
    case 7:
        return (b & 1) ? 0 : -1;
    case 6:
        if (m == 1) return (b & 2) ? LX_QTY_MAX + (b & 1) : 1000000; /* max and one above */
        return (b & 1) ? 50 : 51;                                    /* max_qty and one above */
    default:
        return 1 + (b & 15);
    }
}

/* A cancel/amend target: an id seen before (with its owner), or garbage. */
static void target(fz_t *f, uint8_t b, lx_account_id_t *a, lx_order_id_t *id, uint8_t *by_client,
                   uint64_t *client) {
    *by_client = 0;
    *client = 0;
    if (f->nids == 0 || (b & 0xc0) == 0xc0) {
        *id = ((uint64_t)(b & 3) << 32) | ((b >> 2) & 15);
        *a = account(b >> 3);
        return;
    }
    size_t k = (b & 0x1f) % f->nids;
    *id = f->ids[k];
    *a = f->owners[k];
    if (b & 0x20) { /* by client id (0 names nothing) */
        *by_client = 1;
        *client = f->clients[k];
    }
    if ((b & 0xc0) == 0x80) *a = (*a + 1) % NACCOUNTS; /* NOT_OWNER */
}

/* The account a command acts for (identity.md), or 0 for the operator's and
 * the bridge's commands. */
static lx_account_id_t acting(const lx_cmd_t *c) {
    lx_account_id_t a = lx_cmd_account(c);
    return c->type == LX_CMD_DEPOSIT || c->type == LX_CMD_BIND_KEY || a == LX_ACCOUNT_NONE ? 0 : a;
}

/* One command from the input. */
static void decode(fz_t *f, input_t *in) {
    uint8_t op = next(in);
    f->ts += (int64_t)(op >> 4) * 997;
    uint8_t b1 = next(in), b2 = next(in), b3 = next(in), b4 = next(in), b5 = next(in);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    lx_market_id_t m = (b1 >> 3) & 1;
    if ((b1 & 0xc0) == 0xc0) m = 2; /* unknown market */
    switch (op & 15) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: {
        lx_cmd_place_t *p = &c.u.place;
        c.type = LX_CMD_PLACE;
        p->account = account(b1);
        p->market = m;
        p->side = (b1 >> 4) & 1;
        p->type = (b1 & 0x20) && (b2 & 1) ? LX_ORDER_MARKET : LX_ORDER_LIMIT;
        p->tif = (uint8_t)((b2 >> 1) % 6); /* 5: BAD_TIF */
        p->stp = (uint8_t)((b2 >> 4) % 6); /* 5: BAD_STP */
        p->price = price(b3, m);
        p->qty = qty(b4, m);
        p->client_id = b5 & 7;
        p->expiry = f->ts + (int64_t)(b5 >> 3) * 997 - 997; /* some already passed */
        if (op == 5 && (b5 & 0x80)) p->side = 2;            /* BAD_SIDE */
        if (op == 4 && (b5 & 0x80)) p->type = 7;            /* BAD_ORDER_TYPE */
        break;
    }
    case 6:
    case 7: {
        c.type = LX_CMD_CANCEL;
        lx_cmd_cancel_t *x = &c.u.cancel;
        target(f, b2, &x->account, &x->order_id, &x->by_client_id, &x->client_id);
        x->market = (b1 & 0x40) ? m : 0;
        if (m == 1 && !(b1 & 0x40)) x->market = 1;
        break;
    }
    case 8:
    case 9: {
        c.type = LX_CMD_AMEND;
        lx_cmd_amend_t *x = &c.u.amend;
        target(f, b2, &x->account, &x->order_id, &x->by_client_id, &x->client_id);
        lx_order_info_t o;
        x->market = 0;
        if (ref_order(f->ref, x->order_id, &o) == 0) x->market = o.market;
        if ((b1 & 0xc0) == 0xc0) x->market = m;
        x->price = price(b3, x->market);
        x->qty = qty(b4, x->market);
        if (ref_order(f->ref, x->order_id, &o) == 0) {
            switch (b5 & 7) {
            case 0:
                x->price = o.price;
                x->qty = o.qty - 1;
                break; /* keep priority */
            case 1:
                x->price = o.price;
                x->qty = o.filled;
                break; /* to filled */
            case 2:
                x->price = o.price;
                x->qty = o.qty;
                break; /* nothing */
            case 3:
                x->price = o.price;
                x->qty = o.qty + 2;
                break; /* larger */
            default:
                break;
            }
        }
        break;
    }
    case 10:
        if (b2 & 0x80) { /* dead man's switch: lead 4 x 997 ns, some too soon, 0 clears */
            c.type = LX_CMD_SCHEDULE_CANCEL;
            c.u.schedule_cancel.account = account(b1);
            c.u.schedule_cancel.deadline = b3 ? f->ts + ((int64_t)b3 - 8) * 997 : 0;
            break;
        }
        c.type = LX_CMD_CANCEL_ALL;
        c.u.cancel_all.account = account(b1);
        c.u.cancel_all.market = (b2 & 1) ? LX_MARKET_ALL : m;
        c.u.cancel_all.reason = (b2 & 2) ? LX_CANCEL_ALL_DISCONNECT : LX_CANCEL_ALL_USER;
        break;
    case 11:
        c.type = LX_CMD_TICK;
        f->ts += (int64_t)b1 * 997;
        break;
    case 12:
        if (b1 & 1) {
            c.type = LX_CMD_SET_MARKET_STATE;
            c.u.set_market_state.market = m;
            c.u.set_market_state.halted = (b2 & 0x80) ? 2 : (b2 & 1);
        } else {
            c.type = LX_CMD_SET_FEES;
            c.u.set_fees.market = m;
            c.u.set_fees.taker_fee = (int32_t)(b2 % 8) * 2000 - 1000;  /* -1000..13000 */
            c.u.set_fees.maker_fee = (int32_t)(b3 % 16) * 1000 - 8000; /* -8000..7000 */
            if (b4 & 1) c.u.set_fees.taker_fee = LX_FEE_RATE_MAX + (b4 & 2 ? 1 : 0);
        }
        break;
    case 13: {
        lx_asset_id_t as = b2 % 4; /* 3: unknown asset */
        int64_t amount = (int64_t)b3 * 10000 - 1000 * (b4 & 1);
        if ((b4 & 6) == 6) amount = INT64_MAX;
        switch (b1 % 6) {
        case 3:
            c.type = LX_CMD_BIND_KEY;
            c.u.bind_key.account = account(b5);
            fz_key(c.u.bind_key.key, 1 + (b2 & 1), b2 >> 5);
            if ((b4 & 0x30) == 0x30) memset(c.u.bind_key.key, 0, 32);
            break;
        case 4:
            c.type = LX_CMD_APPROVE_AGENT;
            c.u.approve_agent.account = account(b5);
            fz_key(c.u.approve_agent.key, (b2 & 1) ? 1 : 2, (b2 >> 1) & 3);
            if (b3 & 1) memcpy(c.u.approve_agent.name, "bot", 3);
            c.u.approve_agent.expiry = f->ts + ((int64_t)(b4 >> 2) - 4) * 997;
            break;
        case 5:
            c.type = LX_CMD_REVOKE_AGENT;
            c.u.revoke_agent.account = account(b5);
            fz_key(c.u.revoke_agent.key, (b2 & 1) ? 1 : 2, (b2 >> 1) & 3);
            break;
        case 0:
            c.type = LX_CMD_DEPOSIT;
            c.u.deposit =
                (lx_cmd_deposit_t){.account = account(b5),
                                   .asset = as,
                                   .amount = amount,
                                   .deposit_id = (b4 & 8) ? f->deposit_id : ++f->deposit_id};
            break;
        case 1:
            c.type = LX_CMD_WITHDRAW;
            c.u.withdraw =
                (lx_cmd_withdraw_t){.account = account(b5), .asset = as, .amount = amount};
            break;
        case 2:
            c.type = LX_CMD_TRANSFER;
            c.u.transfer = (lx_cmd_transfer_t){
                .from = account(b5), .to = account(b5 >> 3), .asset = as, .amount = amount};
            break;
        }
        break;
    }
    case 14:
        /* a taker aimed at the opposite best, as an account with an order there */
        c.type = LX_CMD_PLACE;
        {
            lx_cmd_place_t *p = &c.u.place;
            int64_t bp;
            p->market = 0;
            p->side = b1 & 1;
            p->account = account(b2);
            p->tif = (uint8_t)((b3 >> 1) % 5);
            p->stp = (uint8_t)(b3 >> 4) % 5;
            p->price = 100;
            if (ref_best(f->ref, 0, (lx_side_t)(1 - p->side), &bp, NULL))
                p->price = bp + (p->side == LX_SIDE_BUY ? (b4 & 3) : -(int64_t)(b4 & 3));
            p->qty = 1 + (b5 & 31);
            p->expiry = f->ts + 1;
            if (f->nids && (b2 & 0x80)) p->account = f->owners[b4 % f->nids];
        }
        break;
    default:
        /* misuse: seq not increasing, ts going back, unknown type */
        c.type = LX_CMD_TICK;
        c.seq = f->seq - (b1 & 1);
        c.ts = f->ts;
        if (b1 & 2) {
            c.seq = f->seq + 1;
            c.ts = ref_last_ts(f->ref) - 1;
        }
        if (b1 & 4) {
            c.seq = f->seq + 1;
            c.type = (b1 & 8) ? 0 : 99;
        }
        memset(&f->auth, 0, sizeof f->auth);
        run(f, &c, false);
        return;
    }
    memset(&f->auth, 0, sizeof f->auth);
    if (f->identity) {
        uint8_t a = next(in);
        lx_account_id_t who = acting(&c);
        lx_cmd_auth_t *au = &f->auth;
        au->scheme = a & 3;
        unsigned kc = (a >> 2) & 7;
        if (kc == 0)
            fz_key(au->key, 1, who < NACCOUNTS ? who : 0);
        else if (kc == 1)
            fz_key(au->key, 1, who < NACCOUNTS ? (who + 1) % NACCOUNTS : 1);
        else if (kc < 6)
            fz_key(au->key, 2, kc - 2);
        else if (kc == 6)
            fz_key(au->key, 3, 0);
        lx_key_info_t ki;
        uint64_t last = ref_key(f->ref, au->key, &ki) == 0 ? ki.nonce : 0;
        unsigned nk = a >> 5;
        au->nonce = nk == 0 ? last : nk == 1 ? (last ? last - 1 : 0) : last + nk - 1;
    }
    run(f, &c, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    input_t in = {data, size, 0};
    uint8_t cfgb = next(&in);
    static const uint32_t max_orders[4] = {4, 8, 16, 64};
    lx_engine_config_t cfg = {.max_markets = 3,
                              .max_assets = 4,
                              .max_accounts = NACCOUNTS,
                              .max_orders = max_orders[cfgb & 3],
                              .max_open_orders_per_account = (cfgb & 4) ? 3 : 0,
                              .clearing = (cfgb & 8) == 0,
                              .deadman_min_lead_ns = 4 * 997,
                              /* often an account that trades */
                              .fee_account = (uint32_t)(cfgb >> 5) % NACCOUNTS};
    fz_t f;
    memset(&f, 0, sizeof f);
    f.ts = 1000000;
    f.identity = (cfgb & 0x10) != 0;
    if (lx_engine_create(&f.e, &cfg) != 0) abort();
    f.ref = ref_create(&cfg);
    if (!f.ref) abort();
    setup(&f, cfg.clearing);
    while (in.i < in.n) decode(&f, &in);
    inv_events_free(&f.ee);
    inv_events_free(&f.re);
    ref_destroy(f.ref);
    lx_engine_destroy(f.e);
    return 0;
}
