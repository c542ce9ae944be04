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
 *   - signatures: every ED25519 auth section is verified again; a journal
 *     whose records are intact (CRCs, chain) but one signature's bytes were
 *     altered before it was written is INVALID, naming the file, offset and
 *     seq; the chain id matters;
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

#include <sodium.h>

#include "journal_util.h"
#include "lx/sign.h"

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

/* Like jt_build_journal, but the ED25519 auth sections carry real
 * signatures (chain 5) by a key from the seed; record `bad` (0: none) gets
 * one signature byte flipped before it is appended, so its CRC and the hash
 * chain are valid and only the signature is wrong. */
static void build_signed(const char *dir, uint64_t seed, uint64_t n, uint64_t bad) {
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.segment_bytes = 4000;
    lx_journal_t *j;
    assert_int_equal(lx_journal_open(&j, dir, &cfg, NULL), 0);
    uint8_t pk[32], sk[64], kseed[32];
    memset(kseed, (int)seed, sizeof kseed);
    assert_true(sodium_init() >= 0);
    crypto_sign_seed_keypair(pk, sk, kseed);
    for (uint64_t k = 1; k <= n; k++) {
        lx_cmd_t c;
        lx_journal_auth_t a;
        jt_cmd(seed, k, &c);
        bool has = jt_auth(seed, k, &a);
        if (has && a.scheme == LX_AUTH_ED25519) {
            lx_action_t act = {.chain_id = 5, .nonce = k, .cmd = c};
            memcpy(act.signer, pk, 32);
            uint8_t p[LX_SIGN_MAX_PAYLOAD];
            int len = lx_sign_payload(&act, p, sizeof p);
            assert_true(len > 0);
            memcpy(a.key, pk, 32);
            a.nonce = k;
            crypto_sign_detached(a.sig, NULL, p, (unsigned long long)len, sk);
            if (k == bad) a.sig[17] ^= 1;
        } else if (k == bad) {
            fail_msg("record %" PRIu64 " carries no ED25519 signature", bad);
        }
        assert_int_equal(lx_journal_append(j, &c, has ? &a : NULL), 0);
        if (k % 7 == 0) assert_int_equal(lx_journal_commit(j), 0);
    }
    assert_int_equal(lx_journal_commit(j), 0);
    lx_journal_close(j);
}

static void test_signatures(void **state) {
    (void)state;
    if (access(tool, X_OK) != 0) skip();
    char dir[256], args[400];
    static char out[1 << 16];
    jt_tmpdir(dir, "toolsig");
    build_signed(dir, SEED, N, 0);
    snprintf(args, sizeof args, "journal verify --chain-id 5 %s", dir);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "every signature verified (chain id 5)"));
    assert_null(strstr(out, "signed:    0 commands"));
    /* the same journal read as another chain's: every signature fails */
    snprintf(args, sizeof args, "journal verify --chain-id 6 %s", dir);
    assert_int_equal(run(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not verify"));
    jt_rmdir(dir);

    /* one altered signature, the record otherwise intact */
    uint64_t bad = 0;
    for (uint64_t k = N / 2; k <= N && !bad; k++) {
        lx_journal_auth_t a;
        if (jt_auth(SEED, k, &a) && a.scheme == LX_AUTH_ED25519) bad = k;
    }
    assert_true(bad != 0);
    jt_tmpdir(dir, "toolsig");
    build_signed(dir, SEED, N, bad);
    snprintf(args, sizeof args, "journal verify --chain-id 5 %s", dir);
    assert_int_equal(run(args, out, sizeof out), 1);
    char want[64];
    snprintf(want, sizeof want, "the signature of seq %" PRIu64 " ", bad);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "seg-"));
    assert_non_null(strstr(out, "1 bad signature in all"));
    jt_rmdir(dir);
}

static void test_verify_and_dump(void **state) {
    (void)state;
    if (access(tool, X_OK) != 0) skip();
    char dir[256], args[400], want[64];
    static char out[1 << 20];
    jt_tmpdir(dir, "tool");
    build_signed(dir, SEED, N, 0);
    snprintf(args, sizeof args, "journal verify --chain-id 5 %s", dir);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "OK"));
    snprintf(want, sizeof want, "last seq:  %d\n", N);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "rules:     %u ", LX_RULES_LATEST);
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
    snprintf(args, sizeof args, "journal verify --chain-id 5 %s", dir);
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
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
