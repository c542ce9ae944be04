/*
 * test_recovery_kill9.c: kill -9 under load loses nothing acknowledged.
 *
 * A child process recovers the journal directory, then applies and journals
 * the commands of a deterministic history in a loop (group commits of
 * random size, fsync on, small segments, a snapshot every few hundred
 * commands, synchronous or forked), and after every commit writes the new
 * durable seq to a pipe: that is its acknowledgement. The parent kills it
 * (SIGKILL, its whole process group, so a snapshot writer dies with it) at
 * a random moment, at least 50 times, and starts it again. Each new child
 * first reports what recovery found: its last seq must be at least every
 * seq any earlier child acknowledged, and its digest must equal the digest
 * of a fresh engine that applied the history up to that seq (the parent
 * keeps such an engine). One run in eight is killed within 3 ms of its start,
 * usually during its recovery. At the end the parent recovers once more
 * itself.
 *
 * Killing a process does not lose the page cache, so this tests the torn
 * writes and half-done steps a crash leaves (a record cut mid-write, a
 * segment created without its header, a snapshot temporary, retention
 * half done), not power loss; fsync'ed durability is covered by the fault
 * injection tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "journal_util.h"
#include "splitmix.h"
#include "lx/codec.h"
#include "lx/journal.h"

#define SEED 99

enum { MSG_RECOVERED = 'R', MSG_DURABLE = 'D', MSG_ERROR = 'E' };

static void send_msg(int fd, char type, uint64_t a, uint64_t b) {
    uint8_t m[17];
    m[0] = (uint8_t)type;
    lx_put_u64(m + 1, a);
    lx_put_u64(m + 9, b);
    if (write(fd, m, sizeof m) != (ssize_t)sizeof m) _exit(3);
}

/* The child: never returns. */
static void child_main(const char *dir, int fd, uint64_t run) {
    setpgid(0, 0);
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    int rc = lx_recover(dir, NULL, &e, &rec);
    if (rc) {
        fprintf(stderr, "child recovery: %s\n", rec.msg);
        send_msg(fd, MSG_ERROR, (uint64_t)-rc, 0);
        _exit(2);
    }
    lx_engine_config_t ecfg;
    jt_engine_config(&ecfg);
    if (rec.empty && lx_engine_create(&e, &ecfg)) _exit(2);
    send_msg(fd, MSG_RECOVERED, rec.last_seq, lx_engine_digest(e));
    lx_journal_config_t cfg;
    jt_journal_config(&cfg);
    cfg.fsync = true;
    cfg.segment_bytes = 16 << 10;
    cfg.batch_max_bytes = 3000;
    cfg.keep_snapshots = 2;
    lx_journal_t *j;
    if ((rc = lx_journal_open(&j, dir, &cfg, &rec))) {
        send_msg(fd, MSG_ERROR, (uint64_t)-rc, 1);
        _exit(2);
    }
    uint64_t r = run * 7919 + 1, durable = lx_journal_durable_seq(j);
    for (uint64_t k = rec.last_seq + 1;; k++) {
        lx_cmd_t c;
        lx_journal_auth_t a;
        jt_cmd(SEED, k, &c);
        bool has = jt_auth(SEED, k, &a);
        if ((rc = lx_journal_append(j, &c, has ? &a : NULL))) break;
        if ((rc = jt_apply(e, SEED, k, &c))) break;
        uint64_t x = splitmix_next(&r) % 1000;
        if (x < 200)
            rc = lx_journal_commit(j);
        else if (x < 203)
            rc = lx_journal_snapshot(j, e);
        else if (x < 205) {
            rc = lx_journal_snapshot_poll(j, false);
            if (rc == LX_EAGAIN)
                rc = 0;
            else if (rc == 0)
                rc = lx_journal_snapshot_start(j, e, NULL);
        }
        if (rc) break;
        if (lx_journal_durable_seq(j) != durable) {
            durable = lx_journal_durable_seq(j);
            send_msg(fd, MSG_DURABLE, durable, 0);
        }
    }
    send_msg(fd, MSG_ERROR, (uint64_t)-rc, 2);
    _exit(2);
}

/* Reads whole messages from fd until EOF (block) or until none is ready. */
typedef struct {
    uint8_t buf[17];
    size_t have;
} reader_t;

static int read_msg(int fd, reader_t *rd, uint8_t out[17]) {
    while (rd->have < 17) {
        ssize_t n = read(fd, rd->buf + rd->have, 17 - rd->have);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        if (n <= 0) return -1;
        rd->have += (size_t)n;
    }
    memcpy(out, rd->buf, 17);
    rd->have = 0;
    return 1;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_kill9(void **state) {
    (void)state;
    char dir[256];
    jt_tmpdir(dir, "kill9");
    int runs = (int)(70 * jt_scale());
    if (runs < 50) runs = 50;
    uint64_t t0 = now_ns(), r = 12345;
    uint64_t acked = 0, recovered_prev = 0, total_acks = 0, early = 0;
    lx_engine_t *ref = jt_engine_at(SEED, 0);
    uint64_t ref_seq = 0;
    for (int run = 0; run <= runs; run++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_main(dir, p[1], (uint64_t)run);
        }
        setpgid(pid, pid); /* also from here: no race with the kill */
        close(p[1]);
        reader_t rd = {.have = 0};
        uint8_t m[17];
        if (run < runs && splitmix_next(&r) % 8 == 0) {
            /* now and then, kill it during its recovery (a cut, a removal, a
             * temporary's deletion may be half done) */
            usleep((useconds_t)(splitmix_next(&r) % 3000));
            kill(-pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(p[0]);
            early++;
            continue;
        }
        /* the recovery report */
        assert_int_equal(read_msg(p[0], &rd, m), 1);
        if (m[0] == MSG_ERROR) fail_msg("child failed: %s", lx_err_name(-(int)lx_get_u64(m + 1)));
        assert_int_equal(m[0], MSG_RECOVERED);
        uint64_t last = lx_get_u64(m + 1), digest = lx_get_u64(m + 9);
        if (last < acked)
            fail_msg("run %d: recovered to seq %llu, but seq %llu was acknowledged", run,
                     (unsigned long long)last, (unsigned long long)acked);
        assert_true(last >= recovered_prev);
        recovered_prev = last;
        jt_engine_advance(ref, SEED, ref_seq, last);
        ref_seq = last;
        assert_int_equal(digest, lx_engine_digest(ref));
        if (run == runs) {
            kill(-pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(p[0]);
            break;
        }
        /* let it work for a random 1 to 40 ms, reading acknowledgements */
        uint64_t until = now_ns() + 1000000 * (1 + splitmix_next(&r) % 40);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        while (now_ns() < until) {
            int got = read_msg(p[0], &rd, m);
            if (got == 1) {
                if (m[0] == MSG_ERROR)
                    fail_msg("child failed: %s (%llu)", lx_err_name(-(int)lx_get_u64(m + 1)),
                             (unsigned long long)lx_get_u64(m + 9));
                assert_int_equal(m[0], MSG_DURABLE);
                uint64_t d = lx_get_u64(m + 1);
                assert_true(d > acked);
                acked = d;
                total_acks++;
            } else if (got == 0) {
                struct pollfd pf = {.fd = p[0], .events = POLLIN};
                poll(&pf, 1, 1);
            } else {
                fail_msg("child died");
            }
        }
        kill(-pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        /* every acknowledgement it wrote before dying */
        fcntl(p[0], F_SETFL, 0);
        int got;
        while ((got = read_msg(p[0], &rd, m)) == 1) {
            assert_int_equal(m[0], MSG_DURABLE);
            acked = lx_get_u64(m + 1);
            total_acks++;
        }
        close(p[0]);
    }
    /* and the parent's own recovery */
    lx_recovery_t rec;
    lx_engine_t *e = NULL;
    assert_int_equal(lx_recover(dir, NULL, &e, &rec), 0);
    assert_true(rec.last_seq >= acked);
    jt_engine_advance(ref, SEED, ref_seq, rec.last_seq);
    assert_int_equal(rec.digest, lx_engine_digest(ref));
    print_message("%d kills (%llu during recovery), %llu acknowledgements, last acknowledged seq "
                  "%llu, recovered %llu, %.1f s\n",
                  runs, (unsigned long long)early, (unsigned long long)total_acks,
                  (unsigned long long)acked, (unsigned long long)rec.last_seq,
                  (double)(now_ns() - t0) / 1e9);
    assert_true(acked > 100);
    lx_engine_destroy(e);
    lx_engine_destroy(ref);
    jt_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
