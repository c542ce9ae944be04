/*
 * test_journal_tool.c: `lxdex journal verify` and `lxdex journal dump`, run
 * as the built program (../lxdex next to this test's directory).
 *
 *   - verify on a valid journal: exit 0, the last seq and the digest of a
 *     fresh engine that applied the same history, "OK";
 *   - dump: one line per command in the text form, COMMIT lines with
 *     --groups, --from;
 *   - a damaged record: verify and dump exit 1 naming the file and offset;
 *   - a torn tail: verify reports it and still exits 0 (recovery would cut
 *     it), and changes nothing on disk;
 *   - usage errors exit 2; --help exits 0.
 * Skipped when the program was not built.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "journal_util.h"

#define SEED 21
#define N 150

static char tool[600];

/* Runs "tool args" capturing stdout and stderr; returns the exit status. */
static int run(const char *args, char *out, size_t cap) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", tool, args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t count_lines(const char *s, const char *prefix) {
    size_t n = 0;
    for (const char *p = s; p && *p;) {
        if (!strncmp(p, prefix, strlen(prefix))) n++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return n;
}

static int setup(void **state) {
    (void)state;
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 0;
    self[n] = 0;
    snprintf(tool, sizeof tool, "%s/../lxdex", dirname(self));
    return 0;
}

static void test_verify_and_dump(void **state) {
    (void)state;
    if (access(tool, X_OK) != 0) skip();
    char dir[256], args[400], want[64];
    static char out[1 << 20];
    jt_tmpdir(dir, "tool");
    jt_build_journal(dir, SEED, N, 4000);
    snprintf(args, sizeof args, "journal verify %s", dir);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "OK"));
    snprintf(want, sizeof want, "last seq:  %d\n", N);
    assert_non_null(strstr(out, want));
    lx_engine_t *e = jt_engine_at(SEED, N);
    snprintf(want, sizeof want, "digest:    0x%016" PRIx64 "\n", lx_engine_digest(e));
    lx_engine_destroy(e);
    assert_non_null(strstr(out, want));

    snprintf(args, sizeof args, "journal dump %s", dir);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_int_equal(count_lines(out, "seg-"), N);
    assert_non_null(strstr(out, " PLACE seq="));
    assert_non_null(strstr(out, " auth=ED25519 key="));
    assert_non_null(strstr(out, " auth=SESSION key="));
    snprintf(args, sizeof args, "journal dump --groups --from 101 %s", dir);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_true(strstr(out, " COMMIT group=") != NULL);
    assert_true(count_lines(out, "seg-") >= N - 100);
    assert_null(strstr(out, " seq=100 "));

    /* a torn tail: reported, exit 0, nothing changed on disk */
    char names[16][64], path[512];
    size_t ns = jt_list(dir, "seg-", names, 16);
    snprintf(path, sizeof path, "%s/%s", dir, names[ns - 1]);
    size_t len;
    uint8_t *b = jt_read_file(path, &len);
    assert_int_equal(jt_write_file(path, b, len - 7), 0);
    snprintf(args, sizeof args, "journal verify %s", dir);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "torn tail"));
    size_t len2;
    uint8_t *b2 = jt_read_file(path, &len2);
    assert_int_equal(len2, len - 7);
    free(b2);
    assert_int_equal(jt_write_file(path, b, len), 0);

    /* a damaged record in the first segment: named, exit 1 */
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    free(b);
    b = jt_read_file(path, &len);
    b[200] ^= 0x20;
    assert_int_equal(jt_write_file(path, b, len), 0);
    free(b);
    assert_int_equal(run(args, out, sizeof out), 1);
    assert_non_null(strstr(out, names[0]));
    assert_non_null(strstr(out, "offset"));
    snprintf(args, sizeof args, "journal dump %s", dir);
    assert_int_equal(run(args, out, sizeof out), 1);
    assert_non_null(strstr(out, names[0]));
    jt_rmdir(dir);
}

static void test_usage(void **state) {
    (void)state;
    if (access(tool, X_OK) != 0) skip();
    static char out[1 << 16];
    assert_int_equal(run("", out, sizeof out), 2);
    assert_int_equal(run("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "journal verify"));
    assert_int_equal(run("journal verify --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "usage: lxdex journal verify"));
    assert_int_equal(run("journal dump --help", out, sizeof out), 0);
    assert_int_equal(run("journal verify", out, sizeof out), 2);
    assert_int_equal(run("journal verify a b", out, sizeof out), 2);
    assert_int_equal(run("journal dump --bogus x", out, sizeof out), 2);
    assert_int_equal(run("journal frobnicate x", out, sizeof out), 2);
    assert_int_equal(run("nosuch", out, sizeof out), 2);
    assert_int_equal(run("journal verify /nonexistent/journal", out, sizeof out), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_and_dump),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
