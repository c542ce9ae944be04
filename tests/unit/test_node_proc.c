/*
 * test_node_proc.c: the lxdexd program itself, as a child process.
 *
 * The binary is found next to the tests directory (<build>/lxdexd, this test
 * being <build>/tests/test_node_proc); the test is skipped if it is not
 * there. With a configuration derived from `lxdexd --print-config` (binary
 * port 0, http and ws off, a temporary data directory):
 *   - start with --demo and two binary gateway threads, read the port from
 *     its banner, place an order over TCP on each gateway thread and get
 *     them acknowledged while the demo client trades;
 *   - SIGTERM: a graceful stop, exit status 0, "stopped at seq N, digest D";
 *   - start again: it reports having recovered seq N with digest D, and the
 *     order is still open (ORDER_STATUS); SIGINT stops it, exit status 0;
 *   - a node that fails (its journal may not grow past 256 KiB, the demo
 *     client trading) stops lxdexd with exit status 1; the next start
 *     recovers;
 *   - a thread that cannot start (tests/shim/failthread.c) stops it with
 *     exit status 1, whichever thread it is;
 *   - the command line: --help, an unknown argument, a bad config file.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lx/proto.h"

static char bin[4096];

/* ---- the child ---------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    FILE *out; /* its stdout and stderr */
    char log[65536];
    size_t len;
} child_t;

static rlim_t t_fsize; /* nonzero: the next child's files stop growing at this size */

static void child_start(child_t *c, char *const argv[]) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    memset(c, 0, sizeof *c);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        if (t_fsize) { /* a write past the limit then fails with EFBIG */
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit r = {t_fsize, t_fsize};
            setrlimit(RLIMIT_FSIZE, &r);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    c->out = fdopen(p[0], "r");
    assert_non_null(c->out);
}

/* Reads lines until one contains `what` (NULL: until EOF); returns that
 * line (static buffer) or NULL. Everything read is kept in c->log. */
static const char *child_until(child_t *c, const char *what) {
    static char line[1024];
    while (fgets(line, sizeof line, c->out)) {
        size_t n = strlen(line);
        if (c->len + n < sizeof c->log) {
            memcpy(c->log + c->len, line, n + 1);
            c->len += n;
        }
        if (what && strstr(line, what)) return line;
    }
    return NULL;
}

static int child_wait(child_t *c) {
    child_until(c, NULL);
    fclose(c->out);
    int st = 0;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_plain(char *const argv[], child_t *c) {
    child_start(c, argv);
    return child_wait(c);
}

/* ---- a tiny client -------------------------------------------------------------- */

static int cli_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void cli_send(int fd, const lx_proto_msg_t *m) {
    uint8_t b[LX_PROTO_FRAME_MAX];
    int n = lx_proto_encode(m, b, sizeof b);
    assert_true(n > 0);
    assert_int_equal(send(fd, b, (size_t)n, MSG_NOSIGNAL), n);
}

/* The next message other than a heartbeat (frames are read one by one). */
static lx_proto_msg_t cli_recv(int fd) {
    for (;;) {
        uint8_t b[LX_PROTO_FRAME_MAX];
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pf, 1, 10000), 1);
        assert_int_equal(recv(fd, b, 4, MSG_WAITALL), 4);
        size_t size = (size_t)b[0] | (size_t)b[1] << 8;
        assert_true(size >= 4 && size <= sizeof b);
        if (size > 4) assert_int_equal(recv(fd, b + 4, size - 4, MSG_WAITALL), (ssize_t)(size - 4));
        lx_proto_msg_t m;
        uint8_t reason;
        assert_int_equal(lx_proto_decode_frame(b, size, LX_PROTO_FROM_SERVER, &m, &reason), 0);
        if (m.type != LX_PROTO_SERVER_HEARTBEAT) return m;
    }
}

/* Logs on; returns the session id (its top byte: the node gateway of the
 * gateway thread that holds it). */
static uint64_t cli_logon(int fd, uint32_t account) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_LOGON;
    m.u.logon.version = LX_PROTO_VERSION;
    m.u.logon.account = account;
    cli_send(fd, &m);
    m = cli_recv(fd);
    assert_int_equal(m.type, LX_PROTO_LOGON_ACK);
    return m.u.logon_ack.session_id;
}

/* A resting buy far below the demo's market; returns its order id. */
static lx_order_id_t cli_place_low(int fd, uint64_t cid, int64_t qty) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_PLACE;
    m.u.place.market = 0;
    m.u.place.client_id = cid;
    m.u.place.side = LX_SIDE_BUY;
    m.u.place.price = 100000; /* 1,000 USD: far below the demo's market */
    m.u.place.qty = qty;
    cli_send(fd, &m);
    m = cli_recv(fd);
    assert_int_equal(m.type, LX_PROTO_ACCEPTED);
    return m.u.accepted.h.order_id;
}

static void cli_expect_open(int fd, lx_order_id_t id, int64_t remaining) {
    lx_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = LX_PROTO_ORDER_STATUS;
    m.u.order_status.market = LX_MARKET_ALL;
    m.u.order_status.order_id = id;
    cli_send(fd, &m);
    m = cli_recv(fd);
    assert_int_equal(m.type, LX_PROTO_ORDER_STATUS_REPLY);
    assert_int_equal(m.u.status_reply.status, LX_PROTO_STATUS_OPEN);
    assert_int_equal(m.u.status_reply.remaining, remaining);
}

/* ---- tests ------------------------------------------------------------------------ */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

/* "  binary   127.0.0.1:NNNNN ..." */
static uint16_t banner_port(child_t *c) {
    const char *l = child_until(c, "  binary ");
    if (!l) fprintf(stderr, "%s", c->log);
    assert_non_null(l);
    const char *colon = strchr(l, ':');
    assert_non_null(colon);
    long port = strtol(colon + 1, NULL, 10);
    assert_true(port > 0 && port < 65536);
    return (uint16_t)port;
}

static bool t_web; /* make_node_dir: http and ws on port 0, not off */

/* Makes a temporary directory dir and writes dir/node.yaml: the embedded
 * configuration with binary port 0 on two gateway threads, http and ws
 * off (t_web: on, port 0), data in dir/data. */
static void make_node_dir(char dir[64], char cfgpath[128]) {
    snprintf(dir, 64, "/tmp/lx-test-node-proc-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char data[128];
    snprintf(cfgpath, 128, "%s/node.yaml", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    child_t c;
    char *pa[] = {bin, "--print-config", NULL};
    child_start(&c, pa);
    FILE *f = fopen(cfgpath, "w");
    assert_non_null(f);
    char line[1024];
    while (fgets(line, sizeof line, c.out)) {
        if (!strncmp(line, "  binary:", 9))
            fputs("  binary: \"127.0.0.1:0\"\n", f);
        else if (!strncmp(line, "  http:", 7))
            fputs(t_web ? "  http: \"127.0.0.1:0\"\n" : "  http: off\n", f);
        else if (!strncmp(line, "  ws:", 5))
            fputs(t_web ? "  ws: \"127.0.0.1:0\"\n" : "  ws: off\n", f);
        else if (!strncmp(line, "  data_dir:", 11))
            fprintf(f, "  data_dir: \"%s\"\n", data);
        else if (!strncmp(line, "  binary_threads:", 17))
            fputs("  binary_threads: 2\n", f);
        else
            fputs(line, f);
    }
    fclose(f);
    assert_int_equal(child_wait(&c), 0);
}

static void test_run_stop_recover(void **state) {
    (void)state;
    char dir[64], cfgpath[128];
    make_node_dir(dir, cfgpath);
    child_t c;

    /* First run, with the demo client. */
    char *a1[] = {bin, "--config", cfgpath, "--demo", NULL};
    child_start(&c, a1);
    uint16_t port = banner_port(&c);
    assert_non_null(child_until(&c, "on 2 gateway threads"));
    assert_non_null(child_until(&c, "running"));
    int fd = cli_connect(port);
    uint64_t s1 = cli_logon(fd, 50);
    lx_order_id_t id = cli_place_low(fd, 5, 3);
    /* a client on the other gateway thread (connections are dealt round
     * robin: the next one or the one after) */
    int fd2 = cli_connect(port), fd3 = -1;
    if (cli_logon(fd2, 51) >> 56 == s1 >> 56) {
        fd3 = fd2;
        fd2 = cli_connect(port);
        assert_true(cli_logon(fd2, 51) >> 56 != s1 >> 56);
    }
    lx_order_id_t id2 = cli_place_low(fd2, 6, 2);
    close(fd2);
    if (fd3 >= 0) close(fd3);
    usleep(1500 * 1000); /* the demo trades */
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    const char *l = child_until(&c, "stopped at seq ");
    if (!l) fprintf(stderr, "%s", c.log);
    assert_non_null(l);
    char stopped[128];
    snprintf(stopped, sizeof stopped, "%s", strstr(l, "seq "));
    stopped[strcspn(stopped, "\n")] = 0; /* "seq N, digest D" */
    close(fd);
    assert_int_equal(child_wait(&c), 0);
    unsigned long long seq = strtoull(stopped + 4, NULL, 10);
    assert_true(seq > 305); /* boot commands, faucet, demo flow */

    /* Second run: recovers where the first stopped. */
    char *a2[] = {bin, "--config", cfgpath, NULL};
    child_start(&c, a2);
    l = child_until(&c, "recovered ");
    assert_non_null(l);
    char want[160];
    snprintf(want, sizeof want, "last %s,", stopped);
    if (!strstr(l, want)) fprintf(stderr, "want \"%s\" in: %s", want, l);
    assert_non_null(strstr(l, want));
    port = banner_port(&c);
    assert_non_null(child_until(&c, "running"));
    fd = cli_connect(port);
    cli_logon(fd, 50);
    cli_expect_open(fd, id, 3);
    fd2 = cli_connect(port);
    cli_logon(fd2, 51);
    cli_expect_open(fd2, id2, 2);
    close(fd2);
    assert_int_equal(kill(c.pid, SIGINT), 0);
    l = child_until(&c, "stopped at seq ");
    assert_non_null(l);
    assert_non_null(strstr(l, stopped));
    close(fd);
    assert_int_equal(child_wait(&c), 0);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A node that fails (here its journal: the files may not grow past 256 KiB,
 * and the demo client fills them) stops lxdexd with exit status 1, so that
 * a supervisor can restart it; the next start recovers what was durable. */
static void test_node_failure_exits(void **state) {
    (void)state;
    char dir[64], cfgpath[128];
    make_node_dir(dir, cfgpath);
    child_t c;
    char *a1[] = {bin, "--config", cfgpath, "--demo", NULL};
    t_fsize = 256 << 10;
    child_start(&c, a1);
    t_fsize = 0;
    alarm(120); /* were it never to fail, the test would wait for ever */
    const char *l = child_until(&c, "the node failed: stopping");
    if (!l) fprintf(stderr, "%s", c.log);
    assert_non_null(l);
    assert_int_equal(child_wait(&c), 1);
    alarm(0);
    assert_non_null(strstr(c.log, "the node takes no more commands"));

    char *a2[] = {bin, "--config", cfgpath, NULL};
    child_start(&c, a2);
    assert_non_null(child_until(&c, "recovered "));
    assert_non_null(child_until(&c, "running"));
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    assert_non_null(child_until(&c, "stopped at seq "));
    assert_int_equal(child_wait(&c), 0);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char shim[4096 + 32]; /* <build>/tests/liblxfailthread.so */

/* A thread that cannot start (the k-th pthread_create fails, through the
 * failthread shim: the node's threads, each binary gateway thread, the web
 * gateway's) stops lxdexd at once with exit status 1 and "cannot start
 * threads": it once hung for ever when a gateway thread failed (the
 * sequencer waited for the in ring of a gateway that never ran), and
 * crashed when the engine threads called a freed gateway's wake-up. */
static void test_thread_start_failure(void **state) {
    (void)state;
    if (access(shim, R_OK) != 0) {
        fprintf(stderr, "test_node_proc: %s not built: skipped\n", shim);
        skip();
    }
    char dir[64], cfgpath[128];
    t_web = true;
    make_node_dir(dir, cfgpath);
    t_web = false;
    int failed_starts = 0;
    for (int k = 1; k <= 12; k++) {
        char n[16];
        snprintf(n, sizeof n, "%d", k);
        setenv("LX_FAIL_THREAD", n, 1);
        setenv("LD_PRELOAD", shim, 1);
        /* a sanitizer build: the shim comes before the sanitizer's runtime */
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
        child_t c;
        char *a[] = {bin, "--config", cfgpath, NULL};
        child_start(&c, a);
        unsetenv("LD_PRELOAD");
        unsetenv("LX_FAIL_THREAD");
        unsetenv("ASAN_OPTIONS");
        alarm(30); /* a hang is the failure this test is about */
        const char *l = child_until(&c, "running; Ctrl-C to stop");
        if (l) { /* every thread started: the k-th call was none of them */
            assert_int_equal(kill(c.pid, SIGTERM), 0);
            assert_int_equal(child_wait(&c), 0);
            alarm(0);
            break;
        }
        int rc = child_wait(&c);
        alarm(0);
        if (rc != 1 || !strstr(c.log, "cannot start threads")) fprintf(stderr, "%s", c.log);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(c.log, "cannot start threads"));
        failed_starts++;
    }
    /* the node's threads, two binary gateway threads and the web gateway's */
    assert_true(failed_starts >= 4);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_command_line(void **state) {
    (void)state;
    child_t c;
    char *help[] = {bin, "--help", NULL};
    assert_int_equal(run_plain(help, &c), 0);
    assert_non_null(strstr(c.log, "usage: lxdexd"));
    char *bad[] = {bin, "--bogus", NULL};
    assert_int_equal(run_plain(bad, &c), 2);
    assert_non_null(strstr(c.log, "unknown argument"));
    char *missing[] = {bin, "--config", "/nonexistent/node.yaml", NULL};
    assert_int_equal(run_plain(missing, &c), 1);
    assert_non_null(strstr(c.log, "/nonexistent/node.yaml"));
}

int main(void) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 77;
    self[n] = 0;
    snprintf(bin, sizeof bin, "%s/../lxdexd", dirname(self));
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "test_node_proc: %s not built: skipped\n", bin);
        return 77;
    }
    snprintf(shim, sizeof shim, "%s/liblxfailthread.so", self); /* dirname() left the directory */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_stop_recover),
        cmocka_unit_test(test_node_failure_exits),
        cmocka_unit_test(test_thread_start_failure),
        cmocka_unit_test(test_command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
