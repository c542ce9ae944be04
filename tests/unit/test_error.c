/*
 * test_error.c: the name and text tables of src/core/error.c.
 *
 * The tables are expanded here a second time from the same X-macro lists in
 * the public headers, so the test checks the functions against the lists,
 * not against a copy that could drift: every listed code maps to its own
 * text and name, unlisted codes get the fallback, names are unique, and the
 * command and event type names cover every value up to their _MAX.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "lx/error.h"
#include "lx/types.h"
#include "lx/command.h"
#include "lx/event.h"

typedef struct {
    int value;
    const char *name;
    const char *text;
} entry_t;

static const entry_t errs[] = {
#define E(name, value, msg) {(value), "LX_" #name, (msg)},
    LX_ERRNO_MAP(E)
#undef E
};

static const entry_t rejects[] = {
#define E(name, value, text) {(value), #name, (text)},
    LX_REJECT_MAP(E)
#undef E
};

static const entry_t cancels[] = {
#define E(name, value, text) {(value), #name, (text)},
    LX_CANCEL_MAP(E)
#undef E
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* No two entries share a name or a value. */
static void assert_unique(const entry_t *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(t[i].value, t[j].value);
            assert_string_not_equal(t[i].name, t[j].name);
        }
    }
}

static void test_strerror_matches_table(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(errs); i++) {
        assert_string_equal(lx_strerror(errs[i].value), errs[i].text);
        assert_string_equal(lx_err_name(errs[i].value), errs[i].name);
    }
    assert_unique(errs, COUNT(errs));
}

static void test_strerror_known_values(void **state) {
    (void)state;
    assert_int_equal(LX_OK, 0);
    assert_string_equal(lx_err_name(0), "LX_OK");
    assert_string_equal(lx_strerror(0), "success");
    assert_string_equal(lx_err_name(LX_EINVAL), "LX_EINVAL");
    assert_string_equal(lx_strerror(LX_EINVAL), "invalid argument");
    assert_string_equal(lx_err_name(LX_ECLOSED), "LX_ECLOSED");
    /* Every error code is negative; success is the only zero. */
    for (size_t i = 1; i < COUNT(errs); i++) assert_true(errs[i].value < 0);
}

static void test_strerror_unknown(void **state) {
    (void)state;
    const int unknown[] = {1, 2, 100, -14, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < COUNT(unknown); i++) {
        assert_string_equal(lx_strerror(unknown[i]), "unknown error");
        assert_string_equal(lx_err_name(unknown[i]), "LX_E?");
    }
}

static void test_reject_matches_table(void **state) {
    (void)state;
    assert_int_equal(COUNT(rejects), LX_REJECT__COUNT);
    for (size_t i = 0; i < COUNT(rejects); i++) {
        /* Values are dense from 0, so arrays indexed by reason are safe. */
        assert_int_equal(rejects[i].value, (int)i);
        assert_string_equal(lx_reject_str(rejects[i].value), rejects[i].text);
        assert_string_equal(lx_reject_name(rejects[i].value), rejects[i].name);
        assert_true(strlen(rejects[i].text) > 0);
    }
    assert_unique(rejects, COUNT(rejects));
    assert_string_equal(lx_reject_name(LX_REJECT_INSUFFICIENT_FUNDS), "INSUFFICIENT_FUNDS");
    assert_string_equal(lx_reject_str(LX_REJECT_NONE), "none");
}

static void test_reject_unknown(void **state) {
    (void)state;
    const int unknown[] = {-1, LX_REJECT__COUNT, 255, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < COUNT(unknown); i++) {
        assert_string_equal(lx_reject_name(unknown[i]), "?");
        assert_string_equal(lx_reject_str(unknown[i]), "unknown reason");
    }
}

static void test_cancel_matches_table(void **state) {
    (void)state;
    assert_int_equal(COUNT(cancels), LX_CANCEL__COUNT);
    for (size_t i = 0; i < COUNT(cancels); i++) {
        assert_int_equal(cancels[i].value, (int)i);
        assert_string_equal(lx_cancel_reason_str(cancels[i].value), cancels[i].text);
        assert_string_equal(lx_cancel_reason_name(cancels[i].value), cancels[i].name);
    }
    assert_unique(cancels, COUNT(cancels));
    assert_string_equal(lx_cancel_reason_name(LX_CANCEL_IOC_REMAINDER), "IOC_REMAINDER");
    assert_string_equal(lx_cancel_reason_name(LX_CANCEL__COUNT), "?");
    assert_string_equal(lx_cancel_reason_str(-1), "unknown reason");
}

/* Names must be unique and non-empty for 1..max, "?" elsewhere. */
static void check_type_names(const char *(*fn)(int), int max) {
    assert_string_equal(fn(0), "?");
    assert_string_equal(fn(-1), "?");
    assert_string_equal(fn(max + 1), "?");
    assert_string_equal(fn(INT32_MIN), "?");
    assert_string_equal(fn(INT32_MAX), "?");
    for (int i = 1; i <= max; i++) {
        const char *n = fn(i);
        assert_non_null(n);
        assert_string_not_equal(n, "?");
        assert_true(strlen(n) > 0);
        for (int j = 1; j < i; j++) assert_string_not_equal(fn(j), n);
    }
}

static void test_cmd_type_names(void **state) {
    (void)state;
    check_type_names(lx_cmd_type_name, LX_CMD__MAX);
    assert_string_equal(lx_cmd_type_name(LX_CMD_CREATE_ASSET), "CREATE_ASSET");
    assert_string_equal(lx_cmd_type_name(LX_CMD_PLACE), "PLACE");
    assert_string_equal(lx_cmd_type_name(LX_CMD_CANCEL_ALL), "CANCEL_ALL");
    assert_string_equal(lx_cmd_type_name(LX_CMD_TICK), "TICK");
}

static void test_event_type_names(void **state) {
    (void)state;
    check_type_names(lx_event_type_name, LX_EV__MAX);
    assert_string_equal(lx_event_type_name(LX_EV_ASSET_CREATED), "ASSET_CREATED");
    assert_string_equal(lx_event_type_name(LX_EV_TRADE), "TRADE");
    assert_string_equal(lx_event_type_name(LX_EV_BOOK_LEVEL), "BOOK_LEVEL");
    assert_string_equal(lx_event_type_name(LX_EV_BALANCE), "BALANCE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_matches_table), cmocka_unit_test(test_strerror_known_values),
        cmocka_unit_test(test_strerror_unknown),       cmocka_unit_test(test_reject_matches_table),
        cmocka_unit_test(test_reject_unknown),         cmocka_unit_test(test_cancel_matches_table),
        cmocka_unit_test(test_cmd_type_names),         cmocka_unit_test(test_event_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
