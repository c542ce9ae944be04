/*
 * text.c: the one-line text form of commands and events (lx/text.h).
 *
 * Scenario files (tests/scenarios/), journal dumps and debug logs show a
 * command or event as `NAME key=value key=value ...`. This file prints that
 * form for both and parses it back for commands. docs/scenarios.md lists
 * every line form, key and default; this comment says how the code works.
 *
 * Data structure: one table row per command and event type, listing its
 * keys in print order. A key has a name, a kind (how its value is printed
 * and parsed: a decimal integer of some width, an enum by name, an id that
 * may be NONE, a symbol) and the offset of its field in lx_cmd_t or
 * lx_event_t. Formatting walks the row; parsing looks each key of the line
 * up in the row. So the printed form and the parsed form cannot drift: a
 * key is printed exactly as the parser reads it, and lx_cmd_format() output
 * parses back to the same command (tests/unit/test_codec.c checks this for
 * every type).
 *
 * Rules of the form:
 *   - Integers in decimal, signed ones with a leading '-' when negative; no
 *     '+', no spaces, no hex. Out-of-range values are errors, never
 *     wrapped.
 *   - Enums by their names (side=BUY, tif=POST_ONLY, reason=QTY_ZERO). A
 *     value outside its enum prints as its number, and a number is also
 *     accepted when parsing, so an invalid command (side=7, which the
 *     engine rejects with BAD_SIDE) can still be written down.
 *   - 32-bit ids equal to 0xffffffff print as NONE (ALL for the market of
 *     CANCEL_ALL); both words parse as 0xffffffff.
 *   - Symbols print their bytes up to the trailing NUL padding; a byte
 *     outside 0x21..0x7e, or a backslash, prints as \xNN.
 *   - Commands print seq= and ts= first. Events print neither (a scenario
 *     reads better without them, and the runner checks them against the
 *     command separately); market events print market= and mseq= first,
 *     other events print them only when they are not NONE / 0, so nothing
 *     the engine emits is ever hidden. A few keys that only one event of a
 *     shared struct uses (`to` of a deposit) are printed only when they are
 *     not their default, for the same reason.
 *
 * Parsing (commands only): keys in any order, each at most once; unknown
 * keys, malformed values and missing required keys are errors whose message
 * names the key. Omitted optional keys take the defaults in the tables
 * below. Cancel and amend infer by_client_id=1 when client_id= is given and
 * order_id= is not.
 *
 * Costs: linear in the line; no allocation, no locale (no strtol, no
 * isdigit), so the output is the same everywhere.
 *
 * What this file deliberately does not do: parse events (scenario files
 * compare event text exactly), or check engine-level validity (a zero
 * quantity parses fine; the engine rejects it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lx/error.h"
#include "lx/text.h"

/* ---- keys ----------------------------------------------------------------- */

enum {
    K_U8 = 1, /* plain number, 1 byte (booleans: halted, by_client_id) */
    K_U32,    /* plain number */
    K_ID,     /* u32; 0xffffffff is NONE */
    K_MKTALL, /* u32; 0xffffffff is ALL */
    K_I32,
    K_U64,
    K_I64,
    K_SIDE, /* enums: 1 byte each */
    K_OTYPE,
    K_TIF,
    K_STP,
    K_MODE,
    K_REJECT,
    K_CANCEL,
    K_CMDTYPE,
    K_CXLALL,  /* lx_cancel_all_reason_t */
    K_DMSTATE, /* lx_deadman_state_t */
    K_AUTH,    /* lx_cmd_auth_scheme_t */
    K_SYM,     /* 16 bytes */
    K_KEY,     /* 32 bytes, 64 lowercase hex digits */
};

enum {
    OPT = 1,  /* parse: may be omitted, then takes def */
    HIDE = 2, /* format: omitted when equal to def */
};

typedef struct {
    const char *name;
    uint8_t kind;
    uint8_t flags;
    uint16_t off;
    int64_t def; /* as the field's value: u32 NONE is 0xffffffff */
} tkey_t;

typedef struct {
    uint8_t nkeys;
    tkey_t k[14];
} row_t;

/* clang-format off */
#define KC(name, kind, m) {name, kind, 0, (uint16_t)offsetof(lx_cmd_t, u.m), 0}
#define KCO(name, kind, m, def) {name, kind, OPT, (uint16_t)offsetof(lx_cmd_t, u.m), def}
#define KE(name, kind, m) {name, kind, 0, (uint16_t)offsetof(lx_event_t, u.m), 0}
#define KEH(name, kind, m, def) {name, kind, HIDE, (uint16_t)offsetof(lx_event_t, u.m), def}

static const row_t cmd_rows[LX_CMD__MAX + 1] = {
    [LX_CMD_CREATE_ASSET] = {3,
                             {KC("asset", K_ID, create_asset.asset),
                              KC("symbol", K_SYM, create_asset.symbol),
                              KC("scale", K_I64, create_asset.scale)}},
    [LX_CMD_CREATE_MARKET] = {11,
                              {KC("market", K_ID, create_market.market),
                               KC("base", K_ID, create_market.base),
                               KC("quote", K_ID, create_market.quote),
                               KCO("mode", K_MODE, create_market.mode, LX_MODE_CONTINUOUS),
                               KC("tick_size", K_I64, create_market.tick_size),
                               KC("lot_size", K_I64, create_market.lot_size),
                               KC("min_price", K_I64, create_market.min_price),
                               KC("max_price", K_I64, create_market.max_price),
                               KC("max_qty", K_I64, create_market.max_qty),
                               KCO("maker_fee", K_I32, create_market.maker_fee, 0),
                               KCO("taker_fee", K_I32, create_market.taker_fee, 0)}},
    [LX_CMD_SET_MARKET_STATE] = {2,
                                 {KC("market", K_ID, set_market_state.market),
                                  KC("halted", K_U8, set_market_state.halted)}},
    [LX_CMD_SET_FEES] = {3,
                         {KC("market", K_ID, set_fees.market),
                          KC("maker_fee", K_I32, set_fees.maker_fee),
                          KC("taker_fee", K_I32, set_fees.taker_fee)}},
    [LX_CMD_DEPOSIT] = {4,
                        {KC("account", K_ID, deposit.account), KC("asset", K_ID, deposit.asset),
                         KC("amount", K_I64, deposit.amount),
                         KC("deposit_id", K_U64, deposit.deposit_id)}},
    [LX_CMD_WITHDRAW] = {3,
                         {KC("account", K_ID, withdraw.account),
                          KC("asset", K_ID, withdraw.asset), KC("amount", K_I64, withdraw.amount)}},
    [LX_CMD_TRANSFER] = {4,
                         {KC("from", K_ID, transfer.from), KC("to", K_ID, transfer.to),
                          KC("asset", K_ID, transfer.asset), KC("amount", K_I64, transfer.amount)}},
    [LX_CMD_PLACE] = {10,
                      {KC("account", K_ID, place.account), KC("market", K_ID, place.market),
                       KC("side", K_SIDE, place.side),
                       KCO("type", K_OTYPE, place.type, LX_ORDER_LIMIT),
                       KCO("tif", K_TIF, place.tif, LX_TIF_GTC),
                       KCO("stp", K_STP, place.stp, LX_STP_NONE), KC("price", K_I64, place.price),
                       KC("qty", K_I64, place.qty), KCO("client_id", K_U64, place.client_id, 0),
                       KCO("expiry", K_I64, place.expiry, 0)}},
    [LX_CMD_CANCEL] = {5,
                       {KC("account", K_ID, cancel.account), KC("market", K_ID, cancel.market),
                        KCO("by_client_id", K_U8, cancel.by_client_id, 0),
                        KCO("order_id", K_U64, cancel.order_id, 0),
                        KCO("client_id", K_U64, cancel.client_id, 0)}},
    [LX_CMD_AMEND] = {7,
                      {KC("account", K_ID, amend.account), KC("market", K_ID, amend.market),
                       KCO("by_client_id", K_U8, amend.by_client_id, 0),
                       KCO("order_id", K_U64, amend.order_id, 0),
                       KCO("client_id", K_U64, amend.client_id, 0),
                       KC("price", K_I64, amend.price), KC("qty", K_I64, amend.qty)}},
    [LX_CMD_CANCEL_ALL] = {3,
                           {KC("account", K_ID, cancel_all.account),
                            KC("market", K_MKTALL, cancel_all.market),
                            KCO("reason", K_CXLALL, cancel_all.reason, LX_CANCEL_ALL_USER)}},
    [LX_CMD_TICK] = {0, {{NULL, 0, 0, 0, 0}}},
    [LX_CMD_SCHEDULE_CANCEL] = {2,
                                {KC("account", K_ID, schedule_cancel.account),
                                 KC("deadline", K_I64, schedule_cancel.deadline)}},
    [LX_CMD_BIND_KEY] = {2, {KC("account", K_ID, bind_key.account),
                             KC("key", K_KEY, bind_key.key)}},
    [LX_CMD_APPROVE_AGENT] = {4,
                              {KC("account", K_ID, approve_agent.account),
                               KC("key", K_KEY, approve_agent.key),
                               KCO("name", K_SYM, approve_agent.name, 0),
                               KC("expiry", K_I64, approve_agent.expiry)}},
    [LX_CMD_REVOKE_AGENT] = {2, {KC("account", K_ID, revoke_agent.account),
                                 KC("key", K_KEY, revoke_agent.key)}},
};

#define NONE32 ((int64_t)UINT32_MAX)

static const row_t ev_rows[LX_EV__MAX + 1] = {
    [LX_EV_ASSET_CREATED] = {3,
                             {KE("asset", K_ID, asset.asset), KE("symbol", K_SYM, asset.symbol),
                              KE("scale", K_I64, asset.scale)}},
    [LX_EV_MARKET_CREATED] = {10,
                              {KE("base", K_ID, market.base), KE("quote", K_ID, market.quote),
                               KE("mode", K_MODE, market.mode),
                               KE("tick_size", K_I64, market.tick_size),
                               KE("lot_size", K_I64, market.lot_size),
                               KE("min_price", K_I64, market.min_price),
                               KE("max_price", K_I64, market.max_price),
                               KE("max_qty", K_I64, market.max_qty),
                               KE("maker_fee", K_I32, market.maker_fee),
                               KE("taker_fee", K_I32, market.taker_fee)}},
    [LX_EV_MARKET_STATE] = {1, {KE("halted", K_U8, market_state.halted)}},
    [LX_EV_FEES_SET] = {2, {KE("maker_fee", K_I32, fees.maker_fee),
                            KE("taker_fee", K_I32, fees.taker_fee)}},
    [LX_EV_DEPOSIT] = {5,
                       {KE("account", K_ID, funds.account), KEH("to", K_ID, funds.to, NONE32),
                        KE("asset", K_ID, funds.asset), KE("amount", K_I64, funds.amount),
                        KE("deposit_id", K_U64, funds.deposit_id)}},
    [LX_EV_WITHDRAWAL] = {5,
                          {KE("account", K_ID, funds.account), KEH("to", K_ID, funds.to, NONE32),
                           KE("asset", K_ID, funds.asset), KE("amount", K_I64, funds.amount),
                           KEH("deposit_id", K_U64, funds.deposit_id, 0)}},
    [LX_EV_TRANSFER] = {5,
                        {KE("from", K_ID, funds.account), KE("to", K_ID, funds.to),
                         KE("asset", K_ID, funds.asset), KE("amount", K_I64, funds.amount),
                         KEH("deposit_id", K_U64, funds.deposit_id, 0)}},
    [LX_EV_REJECTED] = {5,
                        {KE("cmd", K_CMDTYPE, rejected.cmd_type),
                         KE("reason", K_REJECT, rejected.reason),
                         KE("account", K_ID, rejected.account),
                         KE("order_id", K_U64, rejected.order_id),
                         KE("client_id", K_U64, rejected.client_id)}},
    [LX_EV_ORDER_ACCEPTED] = {10,
                              {KE("order_id", K_U64, accepted.order_id),
                               KE("account", K_ID, accepted.account),
                               KE("side", K_SIDE, accepted.side), KE("type", K_OTYPE, accepted.type),
                               KE("tif", K_TIF, accepted.tif), KE("stp", K_STP, accepted.stp),
                               KE("price", K_I64, accepted.price), KE("qty", K_I64, accepted.qty),
                               KE("client_id", K_U64, accepted.client_id),
                               KE("expiry", K_I64, accepted.expiry)}},
    [LX_EV_TRADE] = {11,
                     {KE("maker", K_U64, trade.maker_order), KE("taker", K_U64, trade.taker_order),
                      KE("maker_account", K_ID, trade.maker_account),
                      KE("taker_account", K_ID, trade.taker_account),
                      KE("taker_side", K_SIDE, trade.taker_side), KE("price", K_I64, trade.price),
                      KE("qty", K_I64, trade.qty),
                      KE("maker_remaining", K_I64, trade.maker_remaining),
                      KE("taker_remaining", K_I64, trade.taker_remaining),
                      KE("maker_fee", K_I64, trade.maker_fee),
                      KE("taker_fee", K_I64, trade.taker_fee)}},
    [LX_EV_ORDER_CANCELED] = {5,
                              {KE("order_id", K_U64, canceled.order_id),
                               KE("account", K_ID, canceled.account),
                               KE("client_id", K_U64, canceled.client_id),
                               KE("reason", K_CANCEL, canceled.reason),
                               KE("qty", K_I64, canceled.qty)}},
    [LX_EV_ORDER_AMENDED] = {7,
                             {KE("order_id", K_U64, amended.order_id),
                              KE("account", K_ID, amended.account),
                              KE("client_id", K_U64, amended.client_id),
                              KE("price", K_I64, amended.price), KE("qty", K_I64, amended.qty),
                              KE("remaining", K_I64, amended.remaining),
                              KE("priority_lost", K_U8, amended.priority_lost)}},
    [LX_EV_BOOK_LEVEL] = {4,
                          {KE("side", K_SIDE, level.side), KE("price", K_I64, level.price),
                           KE("qty", K_I64, level.qty), KE("count", K_U32, level.count)}},
    [LX_EV_BALANCE] = {4,
                       {KE("account", K_ID, balance.account), KE("asset", K_ID, balance.asset),
                        KE("free", K_I64, balance.free), KE("locked", K_I64, balance.locked)}},
    [LX_EV_DEADMAN] = {3,
                       {KE("account", K_ID, deadman.account),
                        KE("deadline", K_I64, deadman.deadline),
                        KE("state", K_DMSTATE, deadman.state)}},
    /* KEY_BOUND's name and expiry are always empty: not printed */
    [LX_EV_KEY_BOUND] = {2, {KE("account", K_ID, key.account), KE("key", K_KEY, key.key)}},
    [LX_EV_AGENT_APPROVED] = {4,
                              {KE("account", K_ID, key.account), KE("key", K_KEY, key.key),
                               KE("name", K_SYM, key.name), KE("expiry", K_I64, key.expiry)}},
    [LX_EV_AGENT_REVOKED] = {4,
                             {KE("account", K_ID, key.account), KE("key", K_KEY, key.key),
                              KE("name", K_SYM, key.name), KE("expiry", K_I64, key.expiry)}},
};
/* clang-format on */

static bool is_market_event(int type) {
    switch (type) {
    case LX_EV_MARKET_CREATED:
    case LX_EV_MARKET_STATE:
    case LX_EV_FEES_SET:
    case LX_EV_ORDER_ACCEPTED:
    case LX_EV_TRADE:
    case LX_EV_ORDER_CANCELED:
    case LX_EV_ORDER_AMENDED:
    case LX_EV_BOOK_LEVEL:
        return true;
    default:
        return false;
    }
}

/* ---- enum names ----------------------------------------------------------- */

static const char *const side_names[] = {"BUY", "SELL"};
static const char *const otype_names[] = {"LIMIT", "MARKET"};
static const char *const tif_names[] = {"GTC", "GTD", "IOC", "FOK", "POST_ONLY"};
static const char *const stp_names[] = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH",
                                        "DECREMENT"};
static const char *const mode_names[] = {"CONTINUOUS", "BATCH"};
static const char *const cxlall_names[] = {"USER", "DISCONNECT"};
static const char *const dmstate_names[] = {"CLEARED", "ARMED", "FIRED"};
static const char *const auth_names[] = {"NONE", "SIGNED", "SESSION"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The name of value v of an enum kind, or NULL if it has none. */
static const char *enum_name(int kind, unsigned v) {
    const char *s = NULL;
    switch (kind) {
    case K_SIDE:
        return v < NELEM(side_names) ? side_names[v] : NULL;
    case K_OTYPE:
        return v < NELEM(otype_names) ? otype_names[v] : NULL;
    case K_TIF:
        return v < NELEM(tif_names) ? tif_names[v] : NULL;
    case K_STP:
        return v < NELEM(stp_names) ? stp_names[v] : NULL;
    case K_MODE:
        return v < NELEM(mode_names) ? mode_names[v] : NULL;
    case K_CXLALL:
        return v < NELEM(cxlall_names) ? cxlall_names[v] : NULL;
    case K_DMSTATE:
        return v < NELEM(dmstate_names) ? dmstate_names[v] : NULL;
    case K_AUTH:
        return v < NELEM(auth_names) ? auth_names[v] : NULL;
    case K_REJECT:
        s = v < LX_REJECT__COUNT ? lx_reject_name((int)v) : NULL;
        break;
    case K_CANCEL:
        s = v < LX_CANCEL__COUNT ? lx_cancel_reason_name((int)v) : NULL;
        break;
    case K_CMDTYPE:
        s = v <= LX_CMD__MAX ? lx_cmd_type_name((int)v) : NULL;
        break;
    }
    return s && strcmp(s, "?") != 0 ? s : NULL;
}

static int enum_count(int kind) {
    switch (kind) {
    case K_SIDE:
        return (int)NELEM(side_names);
    case K_OTYPE:
        return (int)NELEM(otype_names);
    case K_TIF:
        return (int)NELEM(tif_names);
    case K_STP:
        return (int)NELEM(stp_names);
    case K_MODE:
        return (int)NELEM(mode_names);
    case K_CXLALL:
        return (int)NELEM(cxlall_names);
    case K_DMSTATE:
        return (int)NELEM(dmstate_names);
    case K_AUTH:
        return (int)NELEM(auth_names);
    case K_REJECT:
        return LX_REJECT__COUNT;
    case K_CANCEL:
        return LX_CANCEL__COUNT;
    case K_CMDTYPE:
        return LX_CMD__MAX + 1;
    default:
        return 0;
    }
}

static int kind_width(int kind) {
    switch (kind) {
    case K_U32:
    case K_ID:
    case K_MKTALL:
    case K_I32:
        return 4;
    case K_U64:
    case K_I64:
        return 8;
    case K_SYM:
        return 16;
    case K_KEY:
        return 32;
    default:
        return 1;
    }
}

/* A field's value as a sign-extended (signed kinds) or zero-extended int64. */
static int64_t field_get(const uint8_t *base, const tkey_t *k) {
    switch (kind_width(k->kind)) {
    case 4:
        if (k->kind == K_I32) {
            int32_t v;
            memcpy(&v, base + k->off, 4);
            return v;
        } else {
            uint32_t v;
            memcpy(&v, base + k->off, 4);
            return (int64_t)v;
        }
    case 8: {
        int64_t v;
        memcpy(&v, base + k->off, 8);
        return v;
    }
    case 1:
        return base[k->off];
    default:
        return 0;
    }
}

static void field_set(uint8_t *base, const tkey_t *k, int64_t v) {
    switch (kind_width(k->kind)) {
    case 4: {
        uint32_t u = (uint32_t)(uint64_t)v; /* i32 two's complement: same bits */
        memcpy(base + k->off, &u, 4);
        break;
    }
    case 8:
        memcpy(base + k->off, &v, 8);
        break;
    case 1:
        base[k->off] = (uint8_t)v;
        break;
    }
}

/* ---- output ----------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap;
    size_t n; /* length the full text has (may exceed cap) */
} out_t;

static void out_ch(out_t *o, char c) {
    if (o->n + 1 < o->cap) {
        o->buf[o->n] = c;
        o->buf[o->n + 1] = '\0';
    }
    o->n++;
}

static void out_str(out_t *o, const char *s) {
    while (*s) out_ch(o, *s++);
}

static void out_u64(out_t *o, uint64_t v) {
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) out_ch(o, tmp[--i]);
}

static void out_i64(out_t *o, int64_t v) {
    if (v < 0) {
        out_ch(o, '-');
        out_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        out_u64(o, (uint64_t)v);
    }
}

static void out_value(out_t *o, const uint8_t *base, const tkey_t *k) {
    int64_t v = field_get(base, k);
    switch (k->kind) {
    case K_ID:
    case K_MKTALL:
        if (v == NONE32) {
            out_str(o, k->kind == K_ID ? "NONE" : "ALL");
            return;
        }
        out_u64(o, (uint64_t)v);
        return;
    case K_U8:
    case K_U32:
    case K_U64:
        out_u64(o, (uint64_t)v);
        return;
    case K_I32:
    case K_I64:
        out_i64(o, v);
        return;
    case K_SYM: {
        const uint8_t *s = base + k->off;
        int end = 16;
        while (end > 0 && s[end - 1] == 0) end--;
        for (int i = 0; i < end; i++) {
            if (s[i] >= 0x21 && s[i] <= 0x7e && s[i] != '\\') {
                out_ch(o, (char)s[i]);
            } else {
                static const char hex[] = "0123456789abcdef";
                out_str(o, "\\x");
                out_ch(o, hex[s[i] >> 4]);
                out_ch(o, hex[s[i] & 15]);
            }
        }
        return;
    }
    case K_KEY: {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *b = base + k->off;
        for (int i = 0; i < 32; i++) {
            out_ch(o, hex[b[i] >> 4]);
            out_ch(o, hex[b[i] & 15]);
        }
        return;
    }
    default: {
        const char *name = enum_name(k->kind, (unsigned)v);
        if (name)
            out_str(o, name);
        else
            out_u64(o, (uint64_t)v);
        return;
    }
    }
}

static void out_key(out_t *o, const char *name) {
    out_ch(o, ' ');
    out_str(o, name);
    out_ch(o, '=');
}

static void out_row(out_t *o, const row_t *r, const uint8_t *base) {
    for (unsigned i = 0; i < r->nkeys; i++) {
        const tkey_t *k = &r->k[i];
        if ((k->flags & HIDE) && field_get(base, k) == k->def) continue;
        out_key(o, k->name);
        out_value(o, base, k);
    }
}

static int out_done(out_t *o) {
    if (o->cap && o->n >= o->cap) o->buf[o->cap - 1] = '\0';
    return o->n > INT32_MAX ? INT32_MAX : (int)o->n;
}

int lx_cmd_format(const lx_cmd_t *cmd, char *buf, size_t cap) {
    out_t o = {buf, buf ? cap : 0, 0};
    if (o.cap) buf[0] = '\0';
    if (!cmd) return 0;
    int t = (int)cmd->type;
    out_str(&o, lx_cmd_type_name(t));
    if (t < 1 || t > LX_CMD__MAX) {
        out_str(&o, " type=");
        out_i64(&o, t);
        return out_done(&o);
    }
    out_str(&o, " seq=");
    out_u64(&o, cmd->seq);
    out_str(&o, " ts=");
    out_i64(&o, cmd->ts);
    out_row(&o, &cmd_rows[t], (const uint8_t *)cmd);
    return out_done(&o);
}

int lx_event_format(const lx_event_t *ev, char *buf, size_t cap) {
    out_t o = {buf, buf ? cap : 0, 0};
    if (o.cap) buf[0] = '\0';
    if (!ev) return 0;
    int t = (int)ev->type;
    out_str(&o, lx_event_type_name(t));
    if (t < 1 || t > LX_EV__MAX) {
        out_str(&o, " type=");
        out_i64(&o, t);
        return out_done(&o);
    }
    bool mkt = is_market_event(t);
    if (mkt || ev->market != LX_MARKET_NONE) {
        out_key(&o, "market");
        if (ev->market == LX_MARKET_NONE)
            out_str(&o, "NONE");
        else
            out_u64(&o, ev->market);
    }
    if (mkt || ev->market_seq != 0) {
        out_key(&o, "mseq");
        out_u64(&o, ev->market_seq);
    }
    out_row(&o, &ev_rows[t], (const uint8_t *)ev);
    return out_done(&o);
}

/* ---- parsing ------------------------------------------------------------------ */

typedef struct {
    const char *p;
    size_t n;
} span_t;

static bool span_is(span_t s, const char *word) {
    size_t n = strlen(word);
    return s.n == n && memcmp(s.p, word, n) == 0;
}

static bool parse_u64(span_t s, uint64_t *out) {
    if (s.n == 0 || s.n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c < '0' || c > '9') return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_i64(span_t s, int64_t *out) {
    bool neg = s.n > 0 && s.p[0] == '-';
    span_t d = {s.p + neg, s.n - neg};
    uint64_t u;
    if (!parse_u64(d, &u)) return false;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1) return false;
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)u;
    }
    return true;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool parse_symbol(span_t s, uint8_t out[16]) {
    memset(out, 0, 16);
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        uint8_t b;
        if (s.p[i] == '\\') {
            if (i + 3 >= s.n || s.p[i + 1] != 'x') return false; /* needs \xNN */
            int hi = hexval(s.p[i + 2]), lo = hexval(s.p[i + 3]);
            if (hi < 0 || lo < 0) return false;
            b = (uint8_t)(hi * 16 + lo);
            i += 3;
        } else {
            b = (uint8_t)s.p[i];
            if (b < 0x21 || b > 0x7e) return false;
        }
        if (n == 16) return false;
        out[n++] = b;
    }
    return true;
}

static bool parse_key(span_t s, uint8_t out[32]) {
    if (s.n != 64) return false;
    for (int i = 0; i < 32; i++) {
        int hi = hexval(s.p[2 * i]), lo = hexval(s.p[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return true;
}

/* Parses value s for key k into the struct at base. */
static bool parse_value(uint8_t *base, const tkey_t *k, span_t s) {
    int64_t v;
    uint64_t u;
    switch (k->kind) {
    case K_SYM:
        return parse_symbol(s, base + k->off);
    case K_KEY:
        return parse_key(s, base + k->off);
    case K_ID:
    case K_MKTALL:
        if (span_is(s, "NONE") || span_is(s, "ALL")) {
            field_set(base, k, NONE32);
            return true;
        }
        /* fall through */
    case K_U32:
        if (!parse_u64(s, &u) || u > UINT32_MAX) return false;
        field_set(base, k, (int64_t)u);
        return true;
    case K_U8:
        if (!parse_u64(s, &u) || u > UINT8_MAX) return false;
        field_set(base, k, (int64_t)u);
        return true;
    case K_U64:
        if (!parse_u64(s, &u)) return false;
        memcpy(base + k->off, &u, 8);
        return true;
    case K_I32:
        if (!parse_i64(s, &v) || v < INT32_MIN || v > INT32_MAX) return false;
        field_set(base, k, v);
        return true;
    case K_I64:
        if (!parse_i64(s, &v)) return false;
        field_set(base, k, v);
        return true;
    default: /* enums: a name, or a number 0..255 */
        for (int i = 0; i < enum_count(k->kind); i++) {
            const char *name = enum_name(k->kind, (unsigned)i);
            if (name && span_is(s, name)) {
                field_set(base, k, i);
                return true;
            }
        }
        if (!parse_u64(s, &u) || u > UINT8_MAX) return false;
        field_set(base, k, (int64_t)u);
        return true;
    }
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static span_t next_token(const char **pp) {
    const char *p = *pp;
    while (is_space(*p)) p++;
    const char *start = p;
    while (*p && !is_space(*p)) p++;
    *pp = p;
    return (span_t){start, (size_t)(p - start)};
}

static int fail(char *err, size_t errlen, const char *fmt, span_t a, span_t b) {
    if (err && errlen) snprintf(err, errlen, fmt, (int)a.n, a.p, (int)b.n, b.p);
    return LX_EINVAL;
}

#define NOSPAN ((span_t){"", 0})

static const tkey_t auth_keys[3] = {
    {"auth", K_AUTH, OPT, (uint16_t)offsetof(lx_cmd_auth_t, scheme), 0},
    {"signer", K_KEY, 0, (uint16_t)offsetof(lx_cmd_auth_t, key), 0},
    {"nonce", K_U64, OPT, (uint16_t)offsetof(lx_cmd_auth_t, nonce), 0},
};

int lx_cmd_auth_format(const lx_cmd_auth_t *auth, char *buf, size_t cap) {
    out_t o = {buf, buf ? cap : 0, 0};
    if (o.cap) buf[0] = '\0';
    if (!auth || auth->scheme == LX_CMD_AUTH_NONE) return 0;
    for (int i = 0; i < 3; i++) {
        out_key(&o, auth_keys[i].name);
        out_value(&o, (const uint8_t *)auth, &auth_keys[i]);
    }
    return out_done(&o);
}

int lx_cmd_parse(lx_cmd_t *cmd, const char *line, char *err, size_t errlen) {
    return lx_cmd_parse_auth(cmd, NULL, line, err, errlen);
}

int lx_cmd_parse_auth(lx_cmd_t *cmd, lx_cmd_auth_t *auth, const char *line, char *err,
                      size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!cmd || !line) return fail(err, errlen, "no command%.*s%.*s", NOSPAN, NOSPAN);
    lx_cmd_t c;
    memset(&c, 0, sizeof c);
    lx_cmd_auth_t a;
    memset(&a, 0, sizeof a);
    const char *p = line;
    span_t name = next_token(&p);
    if (name.n == 0) return fail(err, errlen, "empty command line%.*s%.*s", NOSPAN, NOSPAN);
    int t = 0;
    for (int i = 1; i <= LX_CMD__MAX; i++)
        if (span_is(name, lx_cmd_type_name(i))) t = i;
    if (!t) return fail(err, errlen, "unknown command '%.*s'%.*s", name, NOSPAN);
    c.type = (lx_cmd_type_t)t;
    const row_t *r = &cmd_rows[t];
    uint32_t seen = 0; /* bit i: key i of the row; 27..29: auth keys; 30, 31: seq, ts */
    for (;;) {
        span_t tok = next_token(&p);
        if (tok.n == 0) break;
        const char *eq = memchr(tok.p, '=', tok.n);
        if (!eq) return fail(err, errlen, "expected key=value, got '%.*s'%.*s", tok, NOSPAN);
        span_t key = {tok.p, (size_t)(eq - tok.p)};
        span_t val = {eq + 1, tok.n - key.n - 1};
        int bit;
        bool ok;
        if (span_is(key, "seq")) {
            bit = 30;
            ok = parse_u64(val, &c.seq);
        } else if (span_is(key, "ts")) {
            bit = 31;
            ok = parse_i64(val, &c.ts);
        } else if (auth &&
                   (span_is(key, "auth") || span_is(key, "signer") || span_is(key, "nonce"))) {
            int i = span_is(key, "auth") ? 0 : span_is(key, "signer") ? 1 : 2;
            bit = 27 + i;
            ok = parse_value((uint8_t *)&a, &auth_keys[i], val);
        } else {
            bit = -1;
            for (int i = 0; i < r->nkeys; i++)
                if (span_is(key, r->k[i].name)) bit = i;
            if (bit < 0) return fail(err, errlen, "unknown key '%.*s' for %.*s", key, name);
            ok = parse_value((uint8_t *)&c, &r->k[bit], val);
        }
        if (seen & (UINT32_C(1) << bit))
            return fail(err, errlen, "duplicate key '%.*s'%.*s", key, NOSPAN);
        seen |= UINT32_C(1) << bit;
        if (!ok) return fail(err, errlen, "bad value for '%.*s': '%.*s'", key, val);
    }
    for (int i = 0; i < r->nkeys; i++) {
        const tkey_t *k = &r->k[i];
        if (seen & (UINT32_C(1) << i)) continue;
        if (!(k->flags & OPT)) {
            span_t kn = {k->name, strlen(k->name)};
            return fail(err, errlen, "missing key '%.*s' for %.*s", kn, name);
        }
        field_set((uint8_t *)&c, k, k->def);
    }
    if (t == LX_CMD_CANCEL || t == LX_CMD_AMEND) {
        /* Row order: account, market, by_client_id (2), order_id (3), client_id (4). */
        bool by = seen & (UINT32_C(1) << 2), oid = seen & (UINT32_C(1) << 3),
             cid = seen & (UINT32_C(1) << 4);
        if (!oid && !cid)
            return fail(err, errlen, "missing key 'order_id' or 'client_id' for %.*s%.*s", name,
                        NOSPAN);
        if (!by) {
            uint8_t inferred = cid && !oid;
            if (t == LX_CMD_CANCEL)
                c.u.cancel.by_client_id = inferred;
            else
                c.u.amend.by_client_id = inferred;
        }
    }
    if (auth) {
        bool has_auth = seen & (UINT32_C(1) << 27), has_signer = seen & (UINT32_C(1) << 28),
             has_nonce = seen & (UINT32_C(1) << 29);
        if ((has_signer || has_nonce) && (!has_auth || a.scheme == LX_CMD_AUTH_NONE))
            return fail(err, errlen, "'signer' and 'nonce' need 'auth' for %.*s%.*s", name, NOSPAN);
        if (has_auth && a.scheme != LX_CMD_AUTH_NONE && !has_signer)
            return fail(err, errlen, "missing key 'signer' for %.*s%.*s", name, NOSPAN);
        *auth = a;
    }
    *cmd = c;
    return 0;
}
