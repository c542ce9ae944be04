/*
 * error.c: names and texts for every code lxdex hands out.
 *
 * lxdex has a few small vocabularies of numbers that leave the process: C
 * error codes (LX_E*, lx/error.h), rejection reasons and cancel reasons
 * (lx/types.h), command types (lx/command.h) and event types (lx/event.h).
 * Each number appears in logs, scenario files, journal dumps and on the wire,
 * so each needs a stable symbolic name and, for the reasons, a sentence a
 * person can read. This file turns numbers into those strings and does
 * nothing else.
 *
 * Data structure: none of its own. The error codes and both reason tables
 * are X-macro lists in the public headers (X(name, value, text)); the
 * functions below are switches generated from those lists, so a code added
 * to a header gets its name and text here by recompiling, and names, values
 * and texts cannot drift apart. Switches rather than arrays indexed by value,
 * because error codes are negative and a table with a gap must not hand out
 * NULL. Command and event types are plain enums in their headers (their
 * values are journal format); their names are listed once below, as
 * designated initializers keyed by the enum constants, with static
 * assertions that the list covers every value up to LX_CMD__MAX and
 * LX_EV__MAX.
 *
 * Invariants: every function returns a pointer to a static string, never
 * NULL, for any int, including values no table knows ("unknown error",
 * "LX_E?", "?", "unknown reason"). A name is the enum constant without its
 * prefix (LX_REJECT_UNKNOWN_MARKET is "UNKNOWN_MARKET", LX_CMD_PLACE is
 * "PLACE"), except that error names keep theirs ("LX_EINVAL"); these are the
 * names the one-line text form (lx/text.h) prints and parses.
 *
 * Costs: a switch or one bounds-checked array load; no allocation, no state,
 * safe from any thread.
 *
 * What this file deliberately does not do: format messages with arguments,
 * keep a last-error value, parse names back into numbers (that belongs to
 * the text form, lx/text.h), or know what any code means beyond its text.
 */
#include "lx/error.h"
#include "lx/types.h"
#include "lx/command.h"
#include "lx/event.h"

#include <stddef.h>

/* ---- C error codes ------------------------------------------------------ */

const char *lx_strerror(int err) {
    switch (err) {
#define LX__ERR_STR(name, value, msg)                                                              \
    case (value):                                                                                  \
        return msg;
        LX_ERRNO_MAP(LX__ERR_STR)
#undef LX__ERR_STR
    default:
        return "unknown error";
    }
}

const char *lx_err_name(int err) {
    switch (err) {
#define LX__ERR_NAME(name, value, msg)                                                             \
    case (value):                                                                                  \
        return "LX_" #name;
        LX_ERRNO_MAP(LX__ERR_NAME)
#undef LX__ERR_NAME
    default:
        return "LX_E?";
    }
}

/* ---- business reasons --------------------------------------------------- */

const char *lx_reject_str(int reason) {
    switch (reason) {
#define LX__REJ_STR(name, value, text)                                                             \
    case (value):                                                                                  \
        return text;
        LX_REJECT_MAP(LX__REJ_STR)
#undef LX__REJ_STR
    default:
        return "unknown reason";
    }
}

const char *lx_reject_name(int reason) {
    switch (reason) {
#define LX__REJ_NAME(name, value, text)                                                            \
    case (value):                                                                                  \
        return #name;
        LX_REJECT_MAP(LX__REJ_NAME)
#undef LX__REJ_NAME
    default:
        return "?";
    }
}

const char *lx_cancel_reason_str(int reason) {
    switch (reason) {
#define LX__CXL_STR(name, value, text)                                                             \
    case (value):                                                                                  \
        return text;
        LX_CANCEL_MAP(LX__CXL_STR)
#undef LX__CXL_STR
    default:
        return "unknown reason";
    }
}

const char *lx_cancel_reason_name(int reason) {
    switch (reason) {
#define LX__CXL_NAME(name, value, text)                                                            \
    case (value):                                                                                  \
        return #name;
        LX_CANCEL_MAP(LX__CXL_NAME)
#undef LX__CXL_NAME
    default:
        return "?";
    }
}

/* ---- command and event types -------------------------------------------- */

/* Every lx_cmd_type_t, by suffix. Adding a command means adding it here; the
 * static assertion below fails until the list reaches LX_CMD__MAX. */
#define LX__CMD_TYPES(X)                                                                           \
    X(CREATE_ASSET)                                                                                \
    X(CREATE_MARKET)                                                                               \
    X(SET_MARKET_STATE)                                                                            \
    X(SET_FEES)                                                                                    \
    X(DEPOSIT)                                                                                     \
    X(WITHDRAW)                                                                                    \
    X(TRANSFER)                                                                                    \
    X(PLACE)                                                                                       \
    X(CANCEL)                                                                                      \
    X(AMEND)                                                                                       \
    X(CANCEL_ALL)                                                                                  \
    X(TICK)                                                                                        \
    X(SCHEDULE_CANCEL)                                                                             \
    X(BIND_KEY)                                                                                    \
    X(APPROVE_AGENT)                                                                               \
    X(REVOKE_AGENT)

#define LX__EV_TYPES(X)                                                                            \
    X(ASSET_CREATED)                                                                               \
    X(MARKET_CREATED)                                                                              \
    X(MARKET_STATE)                                                                                \
    X(FEES_SET)                                                                                    \
    X(DEPOSIT)                                                                                     \
    X(WITHDRAWAL)                                                                                  \
    X(TRANSFER)                                                                                    \
    X(REJECTED)                                                                                    \
    X(ORDER_ACCEPTED)                                                                              \
    X(TRADE)                                                                                       \
    X(ORDER_CANCELED)                                                                              \
    X(ORDER_AMENDED)                                                                               \
    X(BOOK_LEVEL)                                                                                  \
    X(BALANCE)                                                                                     \
    X(DEADMAN)                                                                                     \
    X(KEY_BOUND)                                                                                   \
    X(AGENT_APPROVED)                                                                              \
    X(AGENT_REVOKED)

static const char *const cmd_names[] = {
#define LX__CMD_NAME(name) [LX_CMD_##name] = #name,
    LX__CMD_TYPES(LX__CMD_NAME)
#undef LX__CMD_NAME
};

static const char *const ev_names[] = {
#define LX__EV_NAME(name) [LX_EV_##name] = #name,
    LX__EV_TYPES(LX__EV_NAME)
#undef LX__EV_NAME
};

/* One entry per value 1..MAX (0 is never a valid type and stays NULL). A name
 * listed twice trips -Woverride-init (-Wextra) and leaves a hole that
 * tests/unit/test_error.c finds. */
#define LX__COUNT_ONE(name) +1
_Static_assert(sizeof cmd_names / sizeof cmd_names[0] == LX_CMD__MAX + 1,
               "cmd_names must cover every lx_cmd_type_t up to LX_CMD__MAX");
_Static_assert(0 LX__CMD_TYPES(LX__COUNT_ONE) == LX_CMD__MAX,
               "every command type 1..LX_CMD__MAX is listed exactly once");
_Static_assert(sizeof ev_names / sizeof ev_names[0] == LX_EV__MAX + 1,
               "ev_names must cover every lx_event_type_t up to LX_EV__MAX");
_Static_assert(0 LX__EV_TYPES(LX__COUNT_ONE) == LX_EV__MAX,
               "every event type 1..LX_EV__MAX is listed exactly once");
#undef LX__COUNT_ONE

const char *lx_cmd_type_name(int type) {
    if (type < 0 || type > LX_CMD__MAX || cmd_names[type] == NULL) return "?";
    return cmd_names[type];
}

const char *lx_event_type_name(int type) {
    if (type < 0 || type > LX_EV__MAX || ev_names[type] == NULL) return "?";
    return ev_names[type];
}
