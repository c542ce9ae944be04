/*
 * refmodel.h: a slow, obviously correct reference model of the lxdex engine.
 *
 * The model applies the same commands as lx_engine_apply() and emits the
 * same events, following docs/matching.md and docs/clearing.md directly; it
 * shares no code with src/core. The randomized differential test
 * (tests/unit/test_differential.c) and the fuzz driver (fuzz/fuzz_engine.c)
 * feed both the same commands and compare every event field by field, then
 * compare the whole state through the read functions below, which mirror
 * the engine's read API (include/lx/engine.h) and fill the same structs.
 *
 * See the essay at the top of refmodel.c for how it is built and why.
 */
#ifndef LX_TESTS_REFMODEL_H
#define LX_TESTS_REFMODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "lx/command.h"
#include "lx/event.h"
#include "lx/engine.h"

typedef struct ref ref_t;

/* What the model saw, for the coverage summary of the tests. Counts only
 * what is not visible in the events themselves. */
typedef struct {
    uint64_t stp_hits[5]; /* same-account encounters by taker stp mode */
    uint64_t fok_accepted;
    uint64_t fok_rejected;
    uint64_t amend_keep;    /* same price, smaller: priority kept */
    uint64_t amend_lose;    /* price change or increase: re-entered */
    uint64_t amend_cancel;  /* to or below filled */
    uint64_t amend_cross;   /* re-entered and traded */
    uint64_t expired;       /* GTD orders expired */
    uint64_t fee_capped;    /* buyer fee capped by its lock room */
    uint64_t rebate_capped; /* maker rebate capped at the taker fee */
    uint64_t rebates;       /* fills with a negative (rebate) fee */
    uint64_t self_trades;   /* trades with maker account == taker account */
    uint64_t max_live;      /* most resting orders at once */
    uint64_t einval;        /* commands refused with LX_EINVAL */
    uint64_t deadman_fired; /* dead man's switches fired */
    uint64_t auth_rejected; /* commands refused by the identity checks */
} ref_stats_t;

/* Returns NULL on allocation failure or a configuration the model cannot
 * hold (it allocates max_accounts * max_assets balance cells). */
ref_t *ref_create(const lx_engine_config_t *cfg);
void ref_destroy(ref_t *r);

/* Same contract as lx_engine_apply(): 0, or LX_EINVAL (nothing changed,
 * nothing emitted) for a NULL or unknown command, a seq not greater than
 * the last one, or a ts below the last one. */
int ref_apply(ref_t *r, const lx_cmd_t *cmd, const lx_sink_t *sink);
/* With who authorised it, as lx_engine_apply_auth() (docs/identity.md). */
int ref_apply_auth(ref_t *r, const lx_cmd_t *cmd, const lx_cmd_auth_t *auth, const lx_sink_t *sink);

/* ---- read functions, same meaning as their lx_engine_* twins ---------- */

uint64_t ref_last_seq(const ref_t *r);
int64_t ref_last_ts(const ref_t *r);
const lx_engine_config_t *ref_config(const ref_t *r);
const ref_stats_t *ref_stats(const ref_t *r);

int ref_market_info(const ref_t *r, lx_market_id_t m, lx_market_info_t *out);
/* The cheap part of ref_market_info (which counts levels): LX_ENOENT or 0. */
int ref_market_brief(const ref_t *r, lx_market_id_t m, uint64_t *market_seq, bool *halted);
int ref_asset_info(const ref_t *r, lx_asset_id_t a, lx_asset_info_t *out);
bool ref_best(const ref_t *r, lx_market_id_t m, lx_side_t side, int64_t *price, int64_t *qty);
size_t ref_levels(const ref_t *r, lx_market_id_t m, lx_side_t side, lx_level_t *out, size_t n);
int ref_order(const ref_t *r, lx_order_id_t id, lx_order_info_t *out);
size_t ref_book_orders(const ref_t *r, lx_market_id_t m, lx_side_t side, lx_order_info_t *out,
                       size_t cap);
size_t ref_account_orders(const ref_t *r, lx_account_id_t a, lx_order_info_t *out, size_t cap);
int ref_balance(const ref_t *r, lx_account_id_t a, lx_asset_id_t asset, int64_t *free_,
                int64_t *locked);
/* Keys, as lx_engine_key / _key_count / _key_nth. */
int ref_key(const ref_t *r, const uint8_t key[32], lx_key_info_t *out);
size_t ref_key_count(const ref_t *r);
void ref_key_nth(const ref_t *r, size_t i, lx_key_info_t *out);
/* The account's nonce floors of a key slot, as lx_engine_nonce_floor. */
void ref_nonce_floor(const ref_t *r, lx_account_id_t a, uint32_t slot, uint64_t *nonce,
                     uint64_t *nonce_all);
/* The account's dead man's switch deadline, 0 when not armed. */
int64_t ref_deadman(const ref_t *r, lx_account_id_t a);
/* Every balance record in creation order. */
void ref_foreach_balance(const ref_t *r,
                         void (*fn)(void *ctx, lx_account_id_t a, lx_asset_id_t asset,
                                    int64_t free_, int64_t locked),
                         void *ctx);

/* ---- for command generators -------------------------------------------- */

/* Resting orders, all markets, in no meaningful (but deterministic) order:
 * i < ref_open_count(). Cheap: for picking cancel and amend targets. */
size_t ref_open_count(const ref_t *r);
void ref_open_nth(const ref_t *r, size_t i, lx_order_info_t *out);
/* Open orders of one account (any market). */
size_t ref_account_open_count(const ref_t *r, lx_account_id_t a);

#endif
