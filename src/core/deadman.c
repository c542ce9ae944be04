/*
 * deadman.c: dead man's switches (docs/matching.md "Dead man's switch").
 *
 * An account arms its switch with SCHEDULE_CANCEL {account, deadline}: if
 * nothing re-arms or clears it first, the first command (TICK or any other)
 * whose ts >= deadline cancels, before it applies, every open order of the
 * account (reason DEADMAN) and disarms it, so no order of the account trades
 * after the deadline.
 * A market maker re-arms it every few seconds; if its process, its network
 * or its gateway dies, its quotes do not outlive it by more than the lead
 * it chose. The switch fires through the log like everything else: the
 * command's ts is the only clock, so every replica fires the same
 * switches at the same seq, exactly once.
 *
 * Data structure: a binary min-heap of (deadline, account) over the armed
 * switches, and per account (ident[account].dms) the entry's position + 1
 * (0: not armed). The order (deadline, then account id) is total, because
 * an account has at most one entry, so the order in which several switches
 * due at one command fire depends only on the state. Because the heap is
 * indexed, re-arming moves the entry up or down in place and clearing
 * removes it: O(log n) each, no stale entries, and the heap holds exactly
 * the armed switches (as the GTD heap holds the resting GTD orders, gtd.c).
 *
 * Costs: arm, re-arm, clear O(log n) in the number of armed switches;
 * growth of the heap array (doubling) happens before the first change of a
 * command, so LX_ENOMEM leaves the engine as it was. A command costs
 * nothing here when nothing is due (engine.c's one comparison of the
 * earliest timer, GTD or switch, with its ts), plus, for each
 * switch that fires, O(log n) and the cancel-all of its account; the
 * matching path neither reads nor writes this state.
 *
 * What this file deliberately does not do: look at a clock (time is the
 * command's ts; the sequencer writes a TICK every 100 ms so that time passes
 * without traffic), fire in the middle of a command (engine.c fires the
 * due switches before it), or decide who may arm a switch (the identity
 * checks of docs/identity.md run before the command reaches this file).
 * Rules 1 (docs/matching.md "Rules versions"): switches fire on a TICK
 * only.
 */
#include <stdlib.h>
#include "core.h"

/* ---- the indexed heap ----------------------------------------------------- */

static void place_at(lx_engine_t *e, uint32_t i, lx__dms_t x) {
    e->dms[i] = x;
    e->ident[x.account].dms = i + 1;
}

static void sift_up(lx_engine_t *e, uint32_t i, lx__dms_t x) {
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!lx__dms_less(&x, &e->dms[p])) break;
        place_at(e, i, e->dms[p]);
        i = p;
    }
    place_at(e, i, x);
}

static void sift_down(lx_engine_t *e, uint32_t i, lx__dms_t x) {
    uint32_t n = e->ndms;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && lx__dms_less(&e->dms[c + 1], &e->dms[c])) c++;
        if (!lx__dms_less(&e->dms[c], &x)) break;
        place_at(e, i, e->dms[c]);
        i = c;
    }
    place_at(e, i, x);
}

int lx__dms_reserve(lx_engine_t *e) {
    if (e->ndms < e->dms_cap) return 0;
    uint32_t ncap = e->dms_cap ? e->dms_cap * 2 : 64;
    lx__dms_t *n = realloc(e->dms, (size_t)ncap * sizeof *n);
    if (!n) return LX_ENOMEM;
    e->dms = n;
    e->dms_cap = ncap;
    return 0;
}

static void remove_at(lx_engine_t *e, uint32_t i) {
    e->ident[e->dms[i].account].dms = 0;
    lx__dms_t last = e->dms[--e->ndms];
    if (i == e->ndms) return;
    if (i > 0 && lx__dms_less(&last, &e->dms[(i - 1) / 2]))
        sift_up(e, i, last);
    else
        sift_down(e, i, last);
}

void lx__dms_set(lx_engine_t *e, uint32_t account, int64_t deadline) {
    uint32_t pos = e->ident[account].dms;
    if (deadline == 0) {
        if (pos) remove_at(e, pos - 1);
        return;
    }
    lx__dms_t x = {deadline, account, 0};
    if (deadline < e->next_due) e->next_due = deadline;
    if (!pos) {
        sift_up(e, e->ndms++, x); /* room reserved by the caller */
        return;
    }
    uint32_t i = pos - 1;
    if (lx__dms_less(&x, &e->dms[i]))
        sift_up(e, i, x);
    else
        sift_down(e, i, x);
}

/* ---- commands ------------------------------------------------------------- */

static void emit_deadman(lx_engine_t *e, uint32_t account, int64_t deadline, int state) {
    lx_event_t ev;
    lx__ev_start(e, &ev, LX_EV_DEADMAN, LX_MARKET_NONE, false);
    ev.u.deadman.account = account;
    ev.u.deadman.deadline = deadline;
    ev.u.deadman.state = (uint8_t)state;
    lx__emit(e, &ev);
}

int lx__schedule_cancel(lx_engine_t *e, const lx_cmd_t *c) {
    const lx_cmd_schedule_cancel_t *p = &c->u.schedule_cancel;
    lx_reject_t r = LX_REJECT_NONE;
    if (p->account >= e->cfg.max_accounts)
        r = LX_REJECT_UNKNOWN_ACCOUNT;
    else if (p->deadline != 0 &&
             (lx__i128)p->deadline < (lx__i128)c->ts + e->cfg.deadman_min_lead_ns)
        r = LX_REJECT_DEADLINE_TOO_SOON; /* negative deadlines included */
    if (r) {
        lx__reject(e, c, r, LX_MARKET_NONE, p->account, 0, 0);
        return 0;
    }
    if (p->deadline != 0 && !e->ident[p->account].dms) {
        int rc = lx__dms_reserve(e);
        if (rc) return rc;
    }
    lx__dms_set(e, p->account, p->deadline);
    emit_deadman(e, p->account, p->deadline, p->deadline ? LX_DEADMAN_ARMED : LX_DEADMAN_CLEARED);
    return 0;
}

void lx__deadman_fire(lx_engine_t *e) {
    while (e->ndms > 0 && e->dms[0].deadline <= e->cur_ts) {
        lx__dms_t x = e->dms[0];
        remove_at(e, 0);
        emit_deadman(e, x.account, x.deadline, LX_DEADMAN_FIRED);
        lx__cancel_account(e, x.account, LX_MARKET_ALL, LX_CANCEL_DEADMAN);
    }
}

/* ---- read API ------------------------------------------------------------- */

int64_t lx_engine_deadman(const lx_engine_t *e, lx_account_id_t a) {
    if (!e || a >= e->cfg.max_accounts || !e->ident[a].dms) return 0;
    return e->dms[e->ident[a].dms - 1].deadline;
}
