/*
 * engine.c: the engine's life cycle, the command dispatcher, market and
 * asset administration, and event stamping.
 *
 * lx_engine_apply() is the single entry point for state changes. It checks
 * the sequencer's stamps (seq strictly increasing, ts never decreasing),
 * expires GTD orders that are due at the command's time and (rules 2) fires
 * the dead man's switches that are due, then hands the command to its
 * handler: orders.c (place, cancel, amend, cancel-all), clearing.c
 * (deposit, withdraw, transfer), deadman.c (schedule-cancel, and firing
 * the switches due; rules 1: on a TICK only), identity.c (keys and agents)
 * or the administration handlers below. lx_engine_apply_auth() first checks who
 * authorised the command (identity.c): a refusal is one REJECTED event and
 * nothing else, and a SIGNED nonce is recorded once the command applied.
 * Handlers validate first and mutate after, so a rejected command changes
 * nothing; allocations that may fail are made before the first mutation,
 * so LX_ENOMEM leaves the engine as it was, its last seq included: the
 * command was not applied and may be applied again. (GTD orders due at the
 * command's time have expired, and the dead man's switches due have fired,
 * by then, as they would have for any command at that time; both only
 * free.) A log replica that ran out of memory
 * otherwise would skip a command the others applied: the host retries or
 * stops, it never goes on to the next command.
 *
 * What this file deliberately does not do: read a clock, allocate per order,
 * or know where events go (the sink does).
 */
#include <stdlib.h>
#include "core.h"
#include "accounts.h"

void lx_engine_config_default(lx_engine_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_markets = 1024;
    cfg->max_assets = 1024;
    cfg->max_accounts = 1u << 20;
    cfg->max_orders = 1u << 22;
    cfg->max_open_orders_per_account = 0;
    cfg->clearing = true;
}

lx_engine_config_t lx_engine_config_effective(const lx_engine_config_t *cfg) {
    lx_engine_config_t c = *cfg;
    if (c.deadman_min_lead_ns == 0) c.deadman_min_lead_ns = LX_DEADMAN_MIN_LEAD_DEFAULT;
    if (c.max_agents_per_account == 0) c.max_agents_per_account = LX_AGENTS_DEFAULT;
    if (c.rules == 0) c.rules = LX_RULES_LATEST;
    return c;
}

int lx_engine_create(lx_engine_t **out, const lx_engine_config_t *cfg) {
    if (!out || !cfg) return LX_EINVAL;
    *out = NULL;
    if (cfg->max_markets == 0 || cfg->max_markets > LX_LIMIT_MARKETS || cfg->max_assets == 0 ||
        cfg->max_assets > LX_LIMIT_ASSETS || cfg->max_accounts == 0 ||
        cfg->max_accounts > LX_LIMIT_ACCOUNTS || cfg->max_orders == 0 ||
        cfg->max_orders > LX_LIMIT_ORDERS)
        return LX_EINVAL;
    if (cfg->deadman_min_lead_ns < 0 || cfg->max_agents_per_account > LX_LIMIT_AGENTS ||
        cfg->fee_account >= cfg->max_accounts || cfg->rules > LX_RULES_LATEST)
        return LX_EINVAL;
    lx_engine_t *e = calloc(1, sizeof *e);
    if (!e) return LX_ENOMEM;
    e->cfg = lx_engine_config_effective(cfg);
    e->level_free = LX__NIL;
    e->next_due = INT64_MIN; /* the first command looks */
    /* a public default: the host keys the hashes with its secret
     * (lx_engine_seed_hashes) */
    e->hash_seed[0] = 0x243f6a8885a308d3ULL;
    e->hash_seed[1] = 0x13198a2e03707344ULL;
    int rc = LX_ENOMEM;
    e->markets = calloc(cfg->max_markets, sizeof *e->markets);
    e->assets = calloc(cfg->max_assets, sizeof *e->assets);
    e->orders = calloc(cfg->max_orders, sizeof *e->orders);
    e->ident = calloc(cfg->max_accounts, sizeof *e->ident);
    e->tick_size = calloc(cfg->max_markets, sizeof *e->tick_size);
    e->lads = calloc(8, sizeof *e->lads); /* [0]: NULL, no ladder */
    if (!e->markets || !e->assets || !e->orders || !e->ident || !e->tick_size || !e->lads)
        goto fail;
    e->nlads = 1;
    e->lads_cap = 8;
    if ((rc = lx__slots_init(e))) goto fail;
    if ((rc = lx__accounts_init(e))) goto fail;
    if ((rc = lx__identity_init(e))) goto fail;
    if ((rc = lx__gtd_init(e))) goto fail;
    *out = e;
    return 0;
fail:
    lx_engine_destroy(e);
    return rc;
}

int lx_engine_seed_hashes(lx_engine_t *e, const uint64_t seed[2]) {
    if (!e || !seed) return LX_EINVAL;
    if (e->cid_idx.arena) return LX_ESTATE; /* reserved: seed first */
    uint64_t was[2] = {e->hash_seed[0], e->hash_seed[1]};
    e->hash_seed[0] = seed[0];
    e->hash_seed[1] = seed[1];
    /* both indexes rebuilt under the new seed, or neither changed */
    lx__idx_t cid, key;
    int rc = lx__idx_rehashed(&e->cid_idx, &cid);
    if (!rc && (rc = lx__idx_rehashed(&e->key_idx, &key))) lx__idx_free(&cid);
    if (rc) {
        e->hash_seed[0] = was[0];
        e->hash_seed[1] = was[1];
        return rc;
    }
    lx__idx_free(&e->cid_idx);
    lx__idx_free(&e->key_idx);
    e->cid_idx = cid;
    e->key_idx = key;
    return 0;
}

void lx_engine_destroy(lx_engine_t *e) {
    if (!e) return;
    if (e->markets) {
        for (uint32_t i = 0; i < e->cfg.max_markets; i++) {
            if (!e->markets[i].exists) continue;
            lx__side_free(e, &e->markets[i].side[0]);
            lx__side_free(e, &e->markets[i].side[1]);
        }
    }
    free(e->deeps);
    lx__lads_free(e);
    free(e->tick_size);
    free(e->markets);
    free(e->assets);
    free(e->orders);
    free(e->levels);
    lx__gtd_free(e);
    free(e->ident);
    free(e->dms);
    lx__identity_free(e);
    lx__slots_free(e);
    lx__accounts_free(e);
    free(e);
}

int lx_engine_reserve(lx_engine_t *e, uint32_t orders) {
    if (!e) return LX_EINVAL;
    int rc = lx__levels_reserve(e, orders);
    return rc ? rc : lx__idx_presize(&e->cid_idx, orders);
}

uint64_t lx_engine_last_seq(const lx_engine_t *e) {
    return e->last_seq;
}
int64_t lx_engine_last_ts(const lx_engine_t *e) {
    return e->last_ts;
}
const lx_engine_config_t *lx_engine_config(const lx_engine_t *e) {
    return &e->cfg;
}

/* ---- events ------------------------------------------------------------- */

/* lx__emit and lx__ev_start are inline in core.h */

void lx__reject(lx_engine_t *e, const lx_cmd_t *c, lx_reject_t reason, uint32_t market,
                uint32_t account, lx_order_id_t order_id, uint64_t client_id) {
    lx_event_t ev;
    lx__ev_start(e, &ev, LX_EV_REJECTED, market, false);
    ev.u.rejected.cmd_type = (uint8_t)c->type;
    ev.u.rejected.reason = (uint8_t)reason;
    ev.u.rejected.account = account;
    ev.u.rejected.order_id = order_id;
    ev.u.rejected.client_id = client_id;
    lx__emit(e, &ev);
}

/* ---- administration ----------------------------------------------------- */

static bool symbol_valid(const char sym[16]) {
    return sym[0] != 0 && lx__text16_valid(sym);
}

static int create_asset(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_create_asset_t *a = &c->u.create_asset;
    lx_reject_t r = LX_REJECT_NONE;
    if (a->asset >= e->cfg.max_assets)
        r = LX_REJECT_BAD_ASSET_PARAMS;
    else if (e->assets[a->asset].exists)
        r = LX_REJECT_ASSET_EXISTS;
    else if (a->scale < 1 || !symbol_valid(a->symbol))
        r = LX_REJECT_BAD_ASSET_PARAMS;
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, LX_ACCOUNT_NONE, 0, 0);
        return 0;
    }
    /* with clearing, the fee account's record of the asset, so that a
     * fill never allocates (clearing.h lx__settle pays fees into it) */
    int rc = e->cfg.clearing ? lx__bal_reserve(e, 1) : 0;
    if (rc) return rc;
    lx__asset_t *as = &e->assets[a->asset];
    as->exists = 1;
    memcpy(as->symbol, a->symbol, 16);
    as->scale = a->scale;
    e->nassets++;
    if (e->cfg.clearing) lx__fee_bal_link(e, a->asset);
    lx_event_t ev;
    lx__ev_start(e, &ev, LX_EV_ASSET_CREATED, LX_MARKET_NONE, false);
    ev.u.asset.asset = a->asset;
    ev.u.asset.scale = a->scale;
    memcpy(ev.u.asset.symbol, a->symbol, 16);
    lx__emit(e, &ev);
    return 0;
}

static bool asset_exists(const lx_engine_t *e, uint32_t a) {
    return a < e->cfg.max_assets && e->assets[a].exists;
}

static void create_market(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_create_market_t *p = &c->u.create_market;
    lx_reject_t r = LX_REJECT_NONE;
    lx__i128 tv = 0;
    if (p->market >= e->cfg.max_markets)
        r = LX_REJECT_BAD_MARKET_PARAMS;
    else if (e->markets[p->market].exists)
        r = LX_REJECT_MARKET_EXISTS;
    else if (!asset_exists(e, p->base) || !asset_exists(e, p->quote))
        r = LX_REJECT_UNKNOWN_ASSET;
    else if (p->base == p->quote)
        r = LX_REJECT_BAD_MARKET_PARAMS;
    else if (p->mode != LX_MODE_CONTINUOUS)
        r = LX_REJECT_UNSUPPORTED;
    else if (p->tick_size < 1 || p->lot_size < 1 || p->min_price < 1 ||
             p->max_price < p->min_price || p->max_qty < 1 || p->max_qty > LX_QTY_MAX)
        r = LX_REJECT_BAD_MARKET_PARAMS;
    else {
        lx__i128 prod = (lx__i128)p->tick_size * p->lot_size;
        int64_t scale = e->assets[p->base].scale;
        tv = prod / scale;
        if (prod % scale != 0 || tv < 1 || tv > INT64_MAX)
            r = LX_REJECT_BAD_MARKET_PARAMS;
        else if (!lx__fees_valid(p->maker_fee, p->taker_fee))
            r = LX_REJECT_BAD_FEES;
    }
    if (r) {
        lx__reject(e, c, r, p->market, LX_ACCOUNT_NONE, 0, 0);
        return;
    }
    lx__market_t *m = &e->markets[p->market];
    memset(m, 0, sizeof *m);
    m->exists = 1;
    m->mode = p->mode;
    m->base = p->base;
    m->quote = p->quote;
    e->tick_size[p->market] = p->tick_size;
    m->lot_size = p->lot_size;
    m->tick_value = (int64_t)tv;
    m->min_price = p->min_price;
    m->max_price = p->max_price;
    m->max_qty = p->max_qty;
    m->maker_fee = p->maker_fee;
    m->taker_fee = p->taker_fee;
    lx__market_bounds(m);
    e->nmarkets++;
    lx_event_t ev;
    m->last_ts = c->ts;
    lx__ev_start(e, &ev, LX_EV_MARKET_CREATED, p->market, true);
    ev.u.market.base = p->base;
    ev.u.market.quote = p->quote;
    ev.u.market.mode = p->mode;
    ev.u.market.tick_size = p->tick_size;
    ev.u.market.lot_size = p->lot_size;
    ev.u.market.min_price = p->min_price;
    ev.u.market.max_price = p->max_price;
    ev.u.market.max_qty = p->max_qty;
    ev.u.market.maker_fee = p->maker_fee;
    ev.u.market.taker_fee = p->taker_fee;
    lx__emit(e, &ev);
}

static lx__market_t *market_of(lx_engine_t *e, uint32_t id) {
    return id < e->cfg.max_markets && e->markets[id].exists ? &e->markets[id] : NULL;
}

static void set_market_state(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_set_market_state_t *p = &c->u.set_market_state;
    lx__market_t *m = market_of(e, p->market);
    lx_reject_t r = !m ? LX_REJECT_UNKNOWN_MARKET : p->halted > 1 ? LX_REJECT_BAD_COMMAND : 0;
    if (r) {
        lx__reject(e, c, r, p->market, LX_ACCOUNT_NONE, 0, 0);
        return;
    }
    m->halted = p->halted;
    lx_event_t ev;
    m->last_ts = c->ts;
    lx__ev_start(e, &ev, LX_EV_MARKET_STATE, p->market, true);
    ev.u.market_state.halted = p->halted;
    lx__emit(e, &ev);
}

static void set_fees(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_set_fees_t *p = &c->u.set_fees;
    lx__market_t *m = market_of(e, p->market);
    lx_reject_t r = !m                                            ? LX_REJECT_UNKNOWN_MARKET
                    : !lx__fees_valid(p->maker_fee, p->taker_fee) ? LX_REJECT_BAD_FEES
                                                                  : 0;
    if (r) {
        lx__reject(e, c, r, p->market, LX_ACCOUNT_NONE, 0, 0);
        return;
    }
    m->maker_fee = p->maker_fee;
    m->taker_fee = p->taker_fee;
    lx_event_t ev;
    m->last_ts = c->ts;
    lx__ev_start(e, &ev, LX_EV_FEES_SET, p->market, true);
    ev.u.fees.maker_fee = p->maker_fee;
    ev.u.fees.taker_fee = p->taker_fee;
    lx__emit(e, &ev);
}

/* ---- dispatch ----------------------------------------------------------- */

/* The command switch is inlined into both paths below (with and without
 * auth): called from two places, gcc would otherwise keep it out of line,
 * which cost about 13 instructions per command under callgrind. */
static LX_ALWAYS_INLINE int dispatch(lx_engine_t *e, const lx_cmd_t *c) {
    int rc = 0;
    switch (c->type) {
    case LX_CMD_PLACE:
        rc = lx__place(e, c);
        break;
    case LX_CMD_CANCEL:
        rc = lx__cancel(e, c);
        break;
    case LX_CMD_AMEND:
        rc = lx__amend(e, c);
        break;
    case LX_CMD_CANCEL_ALL:
        rc = lx__cancel_all(e, c);
        break;
    case LX_CMD_TICK: /* time passes: its expiries (and switches) came first, in take() */
        if (e->cfg.rules < LX_RULES_2) lx__deadman_fire(e); /* rules 1: on a TICK only */
        break;
    case LX_CMD_SCHEDULE_CANCEL:
        rc = lx__schedule_cancel(e, c);
        break;
    case LX_CMD_DEPOSIT:
        rc = lx__deposit(e, c);
        break;
    case LX_CMD_WITHDRAW:
        rc = lx__withdraw(e, c);
        break;
    case LX_CMD_TRANSFER:
        rc = lx__transfer(e, c);
        break;
    case LX_CMD_CREATE_ASSET:
        rc = create_asset(e, c);
        break;
    case LX_CMD_CREATE_MARKET:
        create_market(e, c);
        break;
    case LX_CMD_SET_MARKET_STATE:
        set_market_state(e, c);
        break;
    case LX_CMD_SET_FEES:
        set_fees(e, c);
        break;
    case LX_CMD_BIND_KEY:
        rc = lx__bind_key(e, c);
        break;
    case LX_CMD_APPROVE_AGENT:
        rc = lx__approve_agent(e, c);
        break;
    case LX_CMD_REVOKE_AGENT:
        rc = lx__revoke_agent(e, c);
        break;
    }
    return rc;
}

/* The identity checks (identity.c), then the command; a SIGNED action is
 * spent once applied, whatever its business outcome (LX_ENOMEM changed
 * nothing, so it spends nothing). Out of line, so that the path without
 * auth keeps nothing extra alive across the command: with the check inline
 * it cost about 6 instructions per order under callgrind (realistic). */
static LX_NOINLINE int apply_authed(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth) {
    uint32_t signer = LX__NIL;
    if (lx__auth_check(e, c, auth, &signer) != LX_REJECT_NONE) return 0; /* rejected */
    int rc = dispatch(e, c);
    /* a revocation (rules 3) deletes a record, and the last record, which
     * may be the signer's, takes its place: the signer is found again (an
     * owner: never the deleted one) */
    if (signer != LX__NIL && rc == 0 && c->type == LX_CMD_REVOKE_AGENT)
        signer = lx__key_find(e, auth->key);
    if (signer != LX__NIL && rc == 0)
        *(lx_cmd_every_shard(c) ? &e->keys[signer].nonce_all : &e->keys[signer].nonce) =
            auth->nonce;
    return rc;
}

/* A command the engine can take next: a known type, a later seq, a time
 * not before the last. */
static LX_ALWAYS_INLINE bool cmd_next(const lx_engine_t *e, const lx_cmd_t *c) {
    return c->type >= 1 && c->type <= LX_CMD__MAX && c->seq > e->last_seq && c->ts >= e->last_ts;
}

/* The timers a command's time has reached (next_due <= cur_ts): GTD
 * orders whose time has passed expire, then (rules 2) the dead man's
 * switches that are due fire, both before the command (docs/matching.md:
 * a switch's orders never trade after its deadline); then the next time
 * either is due. */
static LX_NOINLINE int timers_due(lx_engine_t *e) {
    int rc;
    if (e->ngtd > 0 && e->gtd[0].expiry <= e->cur_ts && (rc = lx__expire_due(e))) return rc;
    bool dms = e->cfg.rules >= LX_RULES_2;
    if (dms && e->ndms > 0 && e->dms[0].deadline <= e->cur_ts) lx__deadman_fire(e);
    int64_t next = INT64_MAX;
    if (e->ngtd > 0) next = e->gtd[0].expiry;
    if (dms && e->ndms > 0 && e->dms[0].deadline < next) next = e->dms[0].deadline;
    e->next_due = next;
    return 0;
}

/* A command cmd_next accepted, the sink set: the timers due go first (one
 * comparison inline: most commands have none due), then the command (auth
 * NULL: none); its seq and time are taken only if it was. LX_ENOMEM: the
 * command changed nothing and is not taken, so that the same command can
 * be applied again (engine.h). */
static LX_ALWAYS_INLINE int take(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth) {
    e->cur_seq = c->seq;
    e->cur_ts = c->ts;
    int rc;
    if (LX_UNLIKELY(e->cur_ts >= e->next_due) && (rc = timers_due(e))) return rc;
    rc = LX_UNLIKELY(auth != NULL) ? apply_authed(e, c, auth) : dispatch(e, c);
    if (LX_UNLIKELY(rc != 0)) return rc;
    e->last_seq = c->seq;
    e->last_ts = c->ts;
    return 0;
}

/* One function for both entry points, so that lx_engine_apply() is a tail
 * call. (A shared static inline body made gcc split it in two, costing
 * about 24 instructions per command under callgrind on realistic.) */
int lx_engine_apply_auth(lx_engine_t *e, const lx_cmd_t *c, const lx_cmd_auth_t *auth,
                         const lx_sink_t *sink) {
    if (!e || !c || !cmd_next(e, c)) return LX_EINVAL;
    e->emit = sink ? sink->emit : NULL;
    e->emit_ctx = sink ? sink->ctx : NULL;
    int rc = take(e, c, auth != NULL && auth->scheme != LX_CMD_AUTH_NONE ? auth : NULL);
    e->emit = NULL;
    return rc;
}

int lx_engine_apply(lx_engine_t *e, const lx_cmd_t *c, const lx_sink_t *sink) {
    return lx_engine_apply_auth(e, c, NULL, sink);
}

/* lx_engine_apply_auth over a run of commands (auths NULL: none for any),
 * with the sink set once for the run and the dispatch inline in the loop:
 * per command that drops two calls, their register saves and the argument
 * checks, about 34 instructions under callgrind (batch.c). The loop without
 * auth is a loop of its own, so the benchmarks' and most replays' path
 * reads no auth at all. */
int lx__apply_run(lx_engine_t *e, const lx_cmd_t *cmds, const lx_cmd_auth_t *auths, size_t n,
                  const lx_sink_t *sink, size_t *applied) {
    e->emit = sink ? sink->emit : NULL;
    e->emit_ctx = sink ? sink->ctx : NULL;
    int rc = 0;
    size_t i = 0;
    if (!auths) {
        for (; i < n; i++) {
            const lx_cmd_t *c = &cmds[i];
            if (LX_UNLIKELY(!cmd_next(e, c))) {
                rc = LX_EINVAL;
                break;
            }
            if (LX_UNLIKELY((rc = take(e, c, NULL)) != 0)) break;
        }
    } else {
        for (; i < n; i++) {
            const lx_cmd_t *c = &cmds[i];
            if (!cmd_next(e, c)) {
                rc = LX_EINVAL;
                break;
            }
            const lx_cmd_auth_t *a = auths[i].scheme != LX_CMD_AUTH_NONE ? &auths[i] : NULL;
            if ((rc = take(e, c, a)) != 0) break;
        }
    }
    e->emit = NULL;
    *applied = i;
    return rc;
}
