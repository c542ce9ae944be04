/*
 * test_config.c: the node configuration parser (src/node/config.c).
 *
 * The defaults of every key; the embedded development configuration, whose
 * assets and markets an engine must accept without a single rejection; the
 * accepted spellings (underscores, size suffixes, IPv6, `off`, quoted
 * numbers, rebates); writing and re-reading gives the same configuration;
 * files; a bound written below another key's default lowers that default;
 * market symbols the APIs can name (letters, digits, "-_.", not all digits,
 * unique in any case); and a table with one entry per error path, each
 * checked for the key path and line in the message and for an empty *out
 * (never half configured).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lx/config.h"
#include "lx/engine.h"
#include "lx/error.h"

#define DEV "node: {dev_mode: true}\n"
#define ASSETS                                                                                     \
    "assets:\n"                                                                                    \
    "  - {id: 0, symbol: USD, scale: 1000000}\n"                                                   \
    "  - {id: 1, symbol: BTC, scale: 100000000}\n"
/* DEV ASSETS MARKET(...) puts "markets:" on line 5, the item on line 6, base
 * 7, quote 8, tick_size 9, lot_size 10, max_price 11, max_qty 12, extra 13. */
#define MARKET(tick, lot, maxp, maxq, extra)                                                       \
    "markets:\n"                                                                                   \
    "  - id: 0\n"                                                                                  \
    "    base: BTC\n"                                                                              \
    "    quote: USD\n"                                                                             \
    "    tick_size: " tick "\n"                                                                    \
    "    lot_size: " lot "\n"                                                                      \
    "    max_price: " maxp "\n"                                                                    \
    "    max_qty: " maxq "\n" extra
#define OKMARKET(extra) MARKET("\"0.01\"", "\"0.0001\"", "\"100000\"", "\"100\"", extra)
#define KEY "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

static int parse(const char *text, lx_config_t *c, char *err) {
    return lx_config_parse(text, strlen(text), c, err, LX_CONFIG_ERR_LEN);
}

static void parse_ok(const char *text, lx_config_t *c) {
    char err[LX_CONFIG_ERR_LEN];
    int rc = parse(text, c, err);
    if (rc != 0) fail_msg("expected success, got %d: %s\n---\n%s", rc, err, text);
}

static bool all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

/* ---- defaults and the development configuration ------------------------- */

static void test_defaults(void **state) {
    (void)state;
    lx_config_t c;
    parse_ok(DEV, &c);
    assert_string_equal(c.node.name, "lxdex");
    assert_true(c.node.dev_mode);
    assert_string_equal(c.node.data_dir, "data");
    assert_true(c.node.prefault_memory);
    assert_true(c.listen.http.enabled && c.listen.http.loopback && !c.listen.http.ipv6);
    assert_string_equal(c.listen.http.host, "127.0.0.1");
    assert_int_equal(c.listen.http.port, 8080);
    assert_int_equal(c.listen.ws.port, 8081);
    assert_int_equal(c.listen.binary.port, 9100);
    lx_engine_config_t e;
    lx_engine_config_default(&e);
    assert_int_equal(c.engine.max_markets, e.max_markets);
    assert_int_equal(c.engine.max_assets, e.max_assets);
    assert_int_equal(c.engine.max_accounts, e.max_accounts);
    assert_int_equal(c.engine.max_orders, e.max_orders);
    assert_int_equal(c.engine.max_open_orders_per_account, e.max_open_orders_per_account);
    assert_int_equal(c.engine.fee_account, 0);
    assert_true(c.engine.clearing);
    assert_int_equal(c.gateway.binary_threads, 0); /* one per core, at most 2 */
    assert_int_equal(c.shards, 1);
    assert_int_equal(c.journal.segment_bytes, 64u << 20);
    assert_int_equal(c.journal.batch_max_bytes, 1u << 20);
    assert_int_equal(c.journal.batch_max_delay_us, 200);
    assert_true(c.journal.fsync);
    assert_int_equal(c.journal.snapshot_every_commands, 1000000);
    assert_int_equal(c.journal.retention_segments, 0);
    assert_int_equal(c.limits.max_connections, 1024);
    assert_int_equal(c.limits.max_connections_per_ip, 64);
    assert_int_equal(c.limits.max_message_bytes, 65536);
    assert_int_equal(c.limits.slow_subscriber_buffer_bytes, 4u << 20);
    assert_int_equal(c.rate_limits.per_account.rate, 1000);
    assert_int_equal(c.rate_limits.per_account.burst, 2000);
    assert_int_equal(c.rate_limits.per_connection.rate, 5000);
    assert_int_equal(c.rate_limits.per_connection.burst, 10000);
    assert_int_equal(c.nassets + c.nmarkets + c.nfaucet, 0);
    assert_false(c.has_bridge_key);
    lx_config_free(&c);

    /* empty sections keep the defaults too */
    parse_ok(DEV "listen:\nengine: {}\njournal: ~\nassets: []\nmarkets:\ndev:\n", &c);
    assert_int_equal(c.listen.ws.port, 8081);
    lx_config_free(&c);
}

typedef struct {
    int rejected, assets, markets;
} count_t;

static void count_events(void *ctx, const lx_event_t *ev) {
    count_t *n = ctx;
    if (ev->type == LX_EV_REJECTED) n->rejected++;
    if (ev->type == LX_EV_ASSET_CREATED) n->assets++;
    if (ev->type == LX_EV_MARKET_CREATED) n->markets++;
}

static void test_dev_config(void **state) {
    (void)state;
    lx_config_t c;
    char err[LX_CONFIG_ERR_LEN];
    assert_int_equal(lx_config_default(&c, err, sizeof err), 0);
    assert_non_null(strstr(lx_config_default_yaml(), "dev_mode: true"));
    assert_true(c.node.dev_mode);
    assert_int_equal(c.listen.http.port, 8080);
    assert_int_equal(c.listen.ws.port, 8081);
    assert_int_equal(c.listen.binary.port, 9100);
    assert_true(c.listen.http.loopback && c.listen.ws.loopback && c.listen.binary.loopback);
    assert_int_equal(c.nassets, 3);
    assert_int_equal(c.nmarkets, 2);

    const lx_config_market_t *btc = lx_config_market_by_symbol(&c, "BTC-USD");
    assert_non_null(btc);
    assert_ptr_equal(lx_config_market(&c, btc->id), btc);
    assert_int_equal(btc->base, lx_config_asset_by_symbol(&c, "BTC")->id);
    assert_int_equal(btc->quote, lx_config_asset_by_symbol(&c, "USD")->id);
    assert_int_equal(btc->tick_size, 10000);     /* 0.01 USD in micro-dollars */
    assert_int_equal(btc->lot_size, 10000);      /* 0.0001 BTC in satoshi */
    assert_int_equal(btc->tick_value, 1);        /* 10000 * 10000 / 1e8 */
    assert_int_equal(btc->min_price, 1);         /* 0.01 = one tick */
    assert_int_equal(btc->max_price, 100000000); /* 1,000,000 USD in ticks */
    assert_int_equal(btc->max_qty, 10000000);    /* 1000 BTC in lots */
    assert_int_equal(btc->maker_fee, 100);       /* 1 bp */
    assert_int_equal(btc->taker_fee, 500);       /* 5 bp */
    assert_int_equal(btc->base_decimals, 8);
    assert_int_equal(btc->quote_decimals, 6);
    assert_non_null(lx_config_market_by_symbol(&c, "ETH-USD"));
    assert_ptr_equal(lx_config_market_by_symbol(&c, "eth-Usd"),
                     lx_config_market_by_symbol(&c, "ETH-USD"));
    assert_null(lx_config_market_by_symbol(&c, "XRP-USD"));
    assert_null(lx_config_market(&c, 99));
    assert_null(lx_config_asset(&c, 99));
    assert_int_equal(c.nfaucet, 3);
    assert_int_equal(c.faucet[1].asset, lx_config_asset_by_symbol(&c, "BTC")->id);
    assert_int_equal(c.faucet[1].amount, 1000000000); /* 10 BTC */

    /* The boot commands create every asset and market without a rejection. */
    lx_cmd_t cmds[8];
    size_t n = lx_config_boot_cmds(&c, UINT32_MAX, cmds, 8);
    assert_int_equal(n, 5);
    assert_int_equal(lx_config_boot_cmds(&c, 0, NULL, 0), 5);
    assert_int_equal(lx_config_boot_cmds(&c, 1, NULL, 0), 3); /* shard 1 has no markets */
    lx_engine_t *e;
    assert_int_equal(lx_engine_create(&e, &c.engine), 0);
    count_t cnt = {0};
    lx_sink_t sink = {count_events, &cnt};
    for (size_t i = 0; i < n; i++) {
        cmds[i].seq = i + 1;
        assert_int_equal(lx_engine_apply(e, &cmds[i], &sink), 0);
    }
    assert_int_equal(cnt.rejected, 0);
    assert_int_equal(cnt.assets, 3);
    assert_int_equal(cnt.markets, 2);
    lx_market_info_t mi;
    assert_int_equal(lx_engine_market_info(e, btc->id, &mi), 0);
    assert_int_equal(mi.tick_value, btc->tick_value);
    lx_engine_destroy(e);
    lx_config_free(&c);
    lx_config_free(&c); /* twice is harmless */
}

/* ---- accepted spellings -------------------------------------------------- */

static void test_accepted_forms(void **state) {
    (void)state;
    lx_config_t c;
    parse_ok("node:\n"
             "  name: \"my node\"\n"
             "  dev_mode: false\n"
             "  data_dir: /var/lib/lx dex\n"
             "  prefault_memory: false\n"
             "listen:\n"
             "  http: 0.0.0.0:80\n"
             "  ws: \"[::1]:0\"\n"
             "  binary: off\n"
             "gateway: {binary_threads: 3}\n"
             "engine:\n"
             "  max_orders: 1_000_000\n"
             "  max_markets: \"16\"\n"
             "shards: 4\n"
             "journal:\n"
             "  segment_bytes: 64 MiB\n"
             "  batch_max_bytes: 4KiB\n"
             "  fsync: False\n"
             "  snapshot_every_commands: 0\n"
             "limits:\n"
             "  slow_subscriber_buffer_bytes: 1GiB\n"
             "rate_limits:\n"
             "  per_account: {rate: 0, burst: 0}\n"
             "assets:\n"
             "  - {id: 7, symbol: USDC, scale: 1}\n"
             "  - {id: 3, symbol: ETH, scale: \"1000000000\"}\n"
             "markets:\n"
             "  - id: 5\n"
             "    base: ETH\n"
             "    quote: USDC\n"
             "    mode: batch\n"
             "    tick_size: 1\n"
             "    lot_size: 1.000\n"
             "    max_price: 10\n"
             "    max_qty: 20.00\n"
             "    maker_fee: -0.0002\n"
             "    taker_fee: 0.000300\n"
             "  - id: 6\n"
             "    symbol: Weird_sym.2-x\n"
             "    shard: 3\n"
             "    base: USDC\n"
             "    quote: ETH\n"
             "    tick_size: 0.000000001\n"
             "    lot_size: 1\n"
             "    min_price: 0.5\n"
             "    max_price: 0.5\n"
             "    max_qty: 3\n"
             "bridge_key: " KEY "\n",
             &c);
    assert_string_equal(c.node.name, "my node");
    assert_string_equal(c.node.data_dir, "/var/lib/lx dex");
    assert_false(c.node.prefault_memory);
    assert_false(c.listen.http.loopback);
    assert_string_equal(c.listen.http.host, "0.0.0.0");
    assert_true(c.listen.ws.ipv6 && c.listen.ws.loopback && c.listen.ws.enabled);
    assert_string_equal(c.listen.ws.host, "::1");
    assert_int_equal(c.listen.ws.port, 0);
    assert_false(c.listen.binary.enabled);
    assert_int_equal(c.gateway.binary_threads, 3);
    assert_int_equal(c.engine.max_orders, 1000000);
    assert_int_equal(c.engine.max_markets, 16);
    assert_int_equal(c.shards, 4);
    assert_int_equal(c.journal.segment_bytes, 64u << 20);
    assert_int_equal(c.journal.batch_max_bytes, 4096);
    assert_false(c.journal.fsync);
    assert_int_equal(c.journal.snapshot_every_commands, 0);
    assert_int_equal(c.limits.slow_subscriber_buffer_bytes, 1u << 30);
    assert_int_equal(c.rate_limits.per_account.rate, 0);
    assert_true(c.has_bridge_key);
    assert_int_equal(c.bridge_key[0], 0x00);
    assert_int_equal(c.bridge_key[1], 0x11);
    assert_int_equal(c.bridge_key[31], 0xff);

    const lx_config_market_t *m = &c.markets[0];
    assert_string_equal(m->symbol, "ETH-USDC"); /* the default symbol */
    assert_int_equal(m->mode, LX_MODE_BATCH);
    assert_int_equal(m->shard, 5 % 4); /* the default shard */
    assert_int_equal(m->tick_size, 1);
    assert_int_equal(m->lot_size, 1000000000);
    assert_int_equal(m->tick_value, 1);
    assert_int_equal(m->min_price, 1);
    assert_int_equal(m->max_price, 10);
    assert_int_equal(m->max_qty, 20);
    assert_int_equal(m->maker_fee, -200);
    assert_int_equal(m->taker_fee, 300);
    m = &c.markets[1];
    assert_string_equal(m->symbol, "Weird_sym.2-x");
    assert_int_equal(m->shard, 3);
    assert_int_equal(m->tick_size, 1); /* 1e-9 ETH */
    assert_int_equal(m->lot_size, 1);  /* 1 USDC */
    assert_int_equal(m->min_price, 500000000);
    assert_int_equal(m->max_price, 500000000);
    assert_int_equal(m->maker_fee, 0);
    assert_int_equal(m->taker_fee, 0);
    lx_cmd_t cmds[4];
    assert_int_equal(lx_config_boot_cmds(&c, 3, cmds, 4), 3);
    assert_int_equal(cmds[2].type, LX_CMD_CREATE_MARKET);
    assert_int_equal(cmds[2].u.create_market.market, 6);
    assert_int_equal(cmds[0].type, LX_CMD_CREATE_ASSET);
    assert_memory_equal(cmds[0].u.create_asset.symbol, "USDC\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    lx_config_free(&c);

    /* localhost is stored as its address */
    parse_ok(DEV "listen: {http: localhost:1}\n", &c);
    assert_string_equal(c.listen.http.host, "127.0.0.1");
    assert_true(c.listen.http.loopback);
    lx_config_free(&c);
    /* an empty text is a configuration of defaults (that needs a bridge key) */
    char err[LX_CONFIG_ERR_LEN];
    assert_int_equal(lx_config_parse(NULL, 0, &c, err, sizeof err), LX_EINVAL);
    assert_non_null(strstr(err, "bridge_key: required"));
    parse_ok("bridge_key: " KEY "\n", &c);
    assert_false(c.node.dev_mode);
    lx_config_free(&c);
}

/* ---- write, then read back ----------------------------------------------- */

static void round_trip(const char *text) {
    lx_config_t a, b;
    char err[LX_CONFIG_ERR_LEN];
    parse_ok(text, &a);
    int n = lx_config_write(&a, NULL, 0);
    assert_true(n > 0);
    char *buf = malloc((size_t)n + 1), *buf2 = malloc((size_t)n + 1);
    assert_int_equal(lx_config_write(&a, buf, (size_t)n + 1), n);
    assert_int_equal(strlen(buf), (size_t)n);
    int rc = lx_config_parse(buf, (size_t)n, &b, err, sizeof err);
    if (rc) fail_msg("re-reading failed: %s\n---\n%s", err, buf);
    assert_int_equal(lx_config_write(&b, buf2, (size_t)n + 1), n);
    assert_string_equal(buf, buf2);
    /* and the parsed values are equal, not just their text */
    assert_memory_equal(&a.node, &b.node, sizeof a.node);
    assert_memory_equal(&a.listen, &b.listen, sizeof a.listen);
    assert_memory_equal(&a.journal, &b.journal, sizeof a.journal);
    assert_int_equal(a.nmarkets, b.nmarkets);
    for (size_t i = 0; i < a.nmarkets; i++)
        assert_memory_equal(&a.markets[i], &b.markets[i], sizeof a.markets[i]);
    free(buf);
    free(buf2);
    lx_config_free(&a);
    lx_config_free(&b);
}

static void test_write_round_trip(void **state) {
    (void)state;
    round_trip(lx_config_default_yaml());
    round_trip(DEV);
    round_trip(DEV ASSETS OKMARKET("    maker_fee: \"-0.0001\"\n    taker_fee: 0.1\n"));
    round_trip("node: {name: \"q\\\"uo\\\\te\", data_dir: \"\\u00e9t\\u00e9\"}\n"
               "listen: {http: \"[::]:8080\", ws: off}\n"
               "assets:\n  - {id: 0, symbol: \"\\\"#:\", scale: 1}\n"
               "  - {id: 1, symbol: \"null\", scale: 1000000000000000000}\n"
               "markets:\n  - {id: 0, symbol: odd, base: \"null\", quote: \"\\\"#:\", tick_size: 1,"
               " lot_size: 1, max_price: 9223372036854775807, max_qty: 9}\n"
               "bridge_key: " KEY "\n");
    /* a truncated write is still terminated */
    lx_config_t c;
    char small[16];
    parse_ok(DEV, &c);
    assert_true(lx_config_write(&c, small, sizeof small) > 16);
    assert_int_equal(strlen(small), 15);
    lx_config_free(&c);
}

/* ---- files ---------------------------------------------------------------- */

static void test_load_file(void **state) {
    (void)state;
    char path[] = "/tmp/lxdex-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = DEV "shards: 2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    lx_config_t c;
    char err[LX_CONFIG_ERR_LEN];
    assert_int_equal(lx_config_load_file(path, &c, err, sizeof err), 0);
    assert_int_equal(c.shards, 2);
    lx_config_free(&c);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(DEV "\n\nshards: 99\n", f);
    fclose(f);
    assert_int_equal(lx_config_load_file(path, &c, err, sizeof err), LX_EINVAL);
    char expect[128];
    snprintf(expect, sizeof expect, "%s: line 4: shards: expected an integer from 1 to 32", path);
    assert_non_null(strstr(err, expect));
    assert_true(all_zero(&c, sizeof c));
    unlink(path);

    assert_int_equal(lx_config_load_file(path, &c, err, sizeof err), LX_EIO);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(lx_config_load_file(NULL, &c, err, sizeof err), LX_EINVAL);
}

static void test_arguments_and_error_buffer(void **state) {
    (void)state;
    lx_config_t c;
    char err[8];
    assert_int_equal(lx_config_parse("x", 1, NULL, NULL, 0), LX_EINVAL);
    assert_int_equal(lx_config_parse(NULL, 5, &c, NULL, 0), LX_EINVAL);
    /* a small buffer gets a truncated, terminated message; NULL gets none */
    assert_int_equal(lx_config_parse("shards: x", 9, &c, err, sizeof err), LX_EINVAL);
    assert_string_equal(err, "line 1:");
    assert_int_equal(lx_config_parse("shards: x", 9, &c, NULL, 0), LX_EINVAL);
    assert_int_equal(lx_config_parse("shards: x", 9, &c, err, 0), LX_EINVAL);
}

/* ---- every error path ------------------------------------------------------ */

typedef struct {
    const char *yaml;
    const char *expect; /* a substring of the message */
} bad_t;

#define E8 "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9" /* 8 x U+00E9, 16 bytes */

static const bad_t bad[] = {
    /* YAML itself */
    {"node: [\n", "invalid YAML"},
    {"key: \"unterminated\n", "line 2: invalid YAML"},
    {DEV "---\n" DEV, "line 3: expected one YAML document, found a second one"},
    {"- 1\n", "line 1: expected a mapping at the top level, got a list"},
    {"just text\n", "expected a mapping at the top level, got \"just text\""},
    /* keys */
    {DEV "nodes: {}\n",
     "line 2: nodes: unknown key (expected one of: node, listen, engine, shards"},
    {"node:\n  nmae: x\n", "line 2: node.nmae: unknown key (expected one of: name, dev_mode, "
                           "chain_id, data_dir, prefault_memory)"},
    {DEV "shards: 1\nshards: 2\n", "line 3: shards: duplicate key (first at line 2)"},
    {DEV "gateway:\n  threads: 2\n",
     "line 3: gateway.threads: unknown key (expected one of: binary_threads)"},
    {DEV "gateway:\n  binary_threads: 8\n",
     "line 3: gateway.binary_threads: expected an integer from 0 to 7, got \"8\""},
    {DEV "gateway:\n  binary_threads: -1\n", "gateway.binary_threads: expected an integer"},
    {DEV "? [a]\n: 1\n", "line 2: expected a key, got a list"},
    {DEV "~: 1\n", "line 2: expected a key, got null"},
    {DEV "listen: 5\n", "line 2: listen: expected a mapping, got \"5\""},
    {DEV "listen: [1]\n", "listen: expected a mapping, got a list"},
    {DEV "rate_limits:\n  per_accounts: {}\n", "line 3: rate_limits.per_accounts: unknown key"},
    {DEV "dev: {faucets: {}}\n", "dev.faucets: unknown key"},
    /* integers */
    {DEV "shards: abc\n", "line 2: shards: expected an integer from 1 to 32, got \"abc\""},
    {DEV "shards: 0\n", "shards: expected an integer from 1 to 32, got \"0\""},
    {DEV "shards: 33\n", "got \"33\""},
    {DEV "shards: -1\n", "got \"-1\""},
    {DEV "shards: 1__0\n", "got \"1__0\""},
    {DEV "shards: _1\n", "got \"_1\""},
    {DEV "shards: 1_\n", "got \"1_\""},
    {DEV "shards: 1.0\n", "got \"1.0\""},
    {DEV "shards: 1KiB\n", "got \"1KiB\""},
    {DEV "shards:\n", "shards: expected an integer from 1 to 32, got null"},
    {DEV "shards: [1]\n", "got a list"},
    {DEV "shards: {a: 1}\n", "got a mapping"},
    {DEV "engine:\n  max_orders: 99999999999999999999999\n",
     "line 3: engine.max_orders: expected an integer from 1 to 268435456"},
    {DEV "engine:\n  max_markets: 4294967295\n", "engine.max_markets: expected an integer"},
    {DEV "engine:\n  max_markets: 16777217\n", "expected an integer from 1 to 16777216"},
    {DEV "engine:\n  max_assets: 1048577\n", "expected an integer from 1 to 1048576"},
    {DEV "engine:\n  max_accounts: 268435457\n", "expected an integer from 1 to 268435456"},
    {DEV "engine:\n  max_open_orders_per_account: x\n", "from 0 to 4294967294"},
    {DEV "journal:\n  segment_bytes: 64MB\n",
     "line 3: journal.segment_bytes: expected a size in bytes from 65536 to 1099511627776"},
    {DEV "journal:\n  segment_bytes: 99999999TiB\n", "got \"99999999TiB\""},
    {DEV "journal:\n  segment_bytes: 1KiB\n", "got \"1KiB\""},
    {DEV "journal:\n  segment_bytes: 64  MiB\n", "got \"64  MiB\""},
    {DEV "journal:\n  batch_max_delay_us: 1000001\n", "journal.batch_max_delay_us"},
    {DEV "limits:\n  max_message_bytes: 100\n", "limits.max_message_bytes: expected a size"},
    {DEV "rate_limits:\n  per_connection: {rate: 10000001}\n",
     "rate_limits.per_connection.rate: expected an integer from 0 to 10000000"},
    /* booleans */
    {"node:\n  dev_mode: yes\n", "line 2: node.dev_mode: expected true or false, got \"yes\""},
    {DEV "journal:\n  fsync: \"true\"\n", "journal.fsync: expected true or false, got \"true\""},
    {DEV "journal:\n  fsync: 1\n", "expected true or false"},
    /* strings */
    {"node:\n  dev_mode: true\n  name: \"\"\n",
     "line 3: node.name: expected a string of 1 to 63 bytes, got \"\""},
    {"node:\n  dev_mode: true\n  name: "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     "node.name: expected a string of 1 to 63 bytes"},
    /* 32 x U+00E9 is 64 bytes of UTF-8 */
    {"node:\n  dev_mode: true\n  name: \"" E8 E8 E8 E8 "\"\n",
     "line 3: node.name: expected a string of 1 to 63 bytes"},
    {"node:\n  dev_mode: true\n  name: \"a\\x01b\"\n", "got \"a\\x01b\""},
    {"node:\n  dev_mode: true\n  name: \"a\\0b\"\n", "got \"a\\x00b\""},
    {"node:\n  dev_mode: true\n  data_dir:\n", "node.data_dir: expected a string of 1 to 1023 "
                                               "bytes, got null"},
    /* addresses */
    {DEV "listen:\n  http: localhost\n", "line 3: listen.http: expected \"host:port\""},
    {DEV "listen:\n  http: \"1.2.3.4:\"\n", "listen.http: expected \"host:port\""},
    {DEV "listen:\n  http: 1.2.3.4:65536\n", "got \"1.2.3.4:65536\""},
    {DEV "listen:\n  http: 1.2.3.4:123456\n", "got \"1.2.3.4:123456\""},
    {DEV "listen:\n  http: 1.2.3.4:8a\n", "got \"1.2.3.4:8a\""},
    {DEV "listen:\n  http: 1.2.3:80\n", "got \"1.2.3:80\""},
    {DEV "listen:\n  http: 01.2.3.4:80\n", "got \"01.2.3.4:80\""},
    {DEV "listen:\n  http: \"[::1]80\"\n", "got \"[::1]80\""},
    {DEV "listen:\n  http: \"[zz]:80\"\n", "got \"[zz]:80\""},
    {DEV "listen:\n  http: \"[::1]:\"\n", "got \"[::1]:\""},
    {DEV "listen:\n  http: \"::1:80\"\n", "got \"::1:80\""},
    {DEV "listen:\n  http: example.com:80\n", "got \"example.com:80\""},
    {DEV "listen:\n  http: \":80\"\n", "got \":80\""},
    {DEV "listen:\n  http: \"1.2.3.4:-1\"\n", "got \"1.2.3.4:-1\""},
    {DEV "listen:\n  http: \"1.2.3.4:+80\"\n", "got \"1.2.3.4:+80\""},
    {DEV "listen:\n  http:\n", "listen.http: expected \"host:port\""},
    {DEV "listen:\n  ws: 0.0.0.0:8081\n",
     "line 3: listen.ws: node.dev_mode requires a loopback address (127.0.0.1 or [::1]), got "
     "\"0.0.0.0:8081\""},
    {"listen:\n  binary: \"[::]:1\"\nnode:\n  dev_mode: true\n",
     "line 2: listen.binary: node.dev_mode requires a loopback address"},
    {DEV "listen:\n  http: 10.0.0.1:80\n", "listen.http: node.dev_mode requires a loopback"},
    /* production needs a bridge key, well formed */
    {"node: {dev_mode: false}\n", "line 1: bridge_key: required unless node.dev_mode is true"},
    {DEV "bridge_key: abc\n",
     "line 2: bridge_key: expected an ed25519 public key as 64 hexadecimal digits, got \"abc\""},
    {DEV "bridge_key: "
         "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
     "bridge_key: expected an ed25519 public key"},
    {DEV "bridge_key: [1]\n", "bridge_key: expected an ed25519 public key"},
    /* assets */
    {DEV "assets: {a: 1}\n", "line 2: assets: expected a list, got a mapping"},
    {DEV "assets: 5\n", "assets: expected a list, got \"5\""},
    {DEV "assets:\n  - 5\n", "line 3: assets[0]: expected a mapping, got \"5\""},
    {DEV "assets:\n  - {symbol: USD, scale: 100}\n", "line 3: assets[0]: missing key \"id\""},
    {DEV "assets:\n  - {id: 0, scale: 100}\n", "assets[0]: missing key \"symbol\""},
    {DEV "assets:\n  - {id: 0, symbol: USD}\n", "assets[0]: missing key \"scale\""},
    {DEV "assets:\n  -\n", "assets[0]: missing key \"id\""},
    {DEV "assets:\n  - {id: 0, symbol: USD, scale: 100, decimals: 2}\n",
     "assets[0].decimals: unknown key (expected one of: id, symbol, scale)"},
    {DEV "assets:\n  - {id: 0, id: 1, symbol: USD, scale: 100}\n",
     "assets[0].id: duplicate key (first at line 3)"},
    {DEV "engine: {max_assets: 4}\nassets:\n  - {id: 4, symbol: USD, scale: 1}\n",
     "line 4: assets[0].id: expected an integer from 0 to 3, got \"4\""},
    {DEV "assets:\n  - {id: 0, symbol: USD, scale: 3}\n",
     "assets[0].scale: expected a power of ten (1, 10, 100, ...), got \"3\""},
    {DEV "assets:\n  - {id: 0, symbol: USD, scale: 0}\n",
     "assets[0].scale: expected an integer from 1 to 1000000000000000000"},
    {DEV "assets:\n  - {id: 0, symbol: USD, scale: 10000000000000000000}\n",
     "assets[0].scale: expected an integer"},
    {DEV "assets:\n  - {id: 0, symbol: ABCDEFGHIJKLMNOPQ, scale: 1}\n",
     "assets[0].symbol: expected a symbol (printable ASCII, no spaces) of 1 to 16 characters"},
    {DEV "assets:\n  - {id: 0, symbol: \"U S\", scale: 1}\n", "got \"U S\""},
    {DEV "assets:\n  - {id: 0, symbol: \"\\u00e9\", scale: 1}\n", "assets[0].symbol: expected"},
    {DEV ASSETS "  - {id: 0, symbol: EUR, scale: 100}\n",
     "line 5: assets[2].id: duplicate asset id 0 (also assets[0])"},
    {DEV ASSETS "  - {id: 2, symbol: BTC, scale: 100}\n",
     "assets[2].symbol: duplicate asset symbol \"BTC\" (also assets[1])"},
    {DEV "assets: &a [*a]\n", "assets[0]: expected a mapping, got a list"},
    /* markets */
    {DEV ASSETS "markets: {}\n", "line 5: markets: expected a list, got a mapping"},
    {DEV ASSETS "markets:\n  - []\n", "line 6: markets[0]: expected a mapping, got a list"},
    {DEV ASSETS MARKET("abc", "\"0.0001\"", "\"100000\"", "\"100\"", ""),
     "line 9: markets[0].tick_size: expected a decimal number, got \"abc\""},
    {DEV ASSETS MARKET("\"0.0000001\"", "\"0.0001\"", "\"100000\"", "\"100\"", ""),
     "line 9: markets[0].tick_size: too many decimal places for USD (at most 6), got "
     "\"0.0000001\""},
    {DEV ASSETS MARKET("-0.01", "\"0.0001\"", "\"100000\"", "\"100\"", ""),
     "markets[0].tick_size: expected a positive number, got \"-0.01\""},
    {DEV ASSETS MARKET("0", "\"0.0001\"", "\"100000\"", "\"100\"", ""),
     "markets[0].tick_size: expected a positive number"},
    {DEV ASSETS MARKET("99999999999999999999", "\"0.0001\"", "\"100000\"", "\"100\"", ""),
     "markets[0].tick_size: number out of range"},
    {DEV ASSETS MARKET("[1]", "\"0.0001\"", "\"100000\"", "\"100\"", ""),
     "markets[0].tick_size: expected a decimal number, got a list"},
    {DEV ASSETS MARKET("0.01", "0.000000001", "\"100000\"", "\"100\"", ""),
     "line 10: markets[0].lot_size: too many decimal places for BTC (at most 8)"},
    {DEV ASSETS MARKET("0.01", "0.00001", "\"100000\"", "\"100\"", ""),
     "line 10: markets[0].lot_size: one lot (0.00001000 BTC) at one tick (0.010000 USD) must be "
     "worth a whole number of USD's smallest unit"},
    {DEV ASSETS MARKET("0.01", "0.0001", "100000.005", "\"100\"", ""),
     "line 11: markets[0].max_price: not a multiple of tick_size (0.010000 USD), got "
     "\"100000.005\""},
    {DEV ASSETS OKMARKET("    min_price: 0.005\n"),
     "line 13: markets[0].min_price: not a multiple of tick_size"},
    {DEV ASSETS OKMARKET("    min_price: 200000\n"),
     "line 11: markets[0].max_price: must not be below min_price"},
    {DEV ASSETS OKMARKET("    min_price: -1\n"), "markets[0].min_price: expected a positive"},
    {DEV ASSETS MARKET("0.01", "0.0001", "100000", "0.00005", ""),
     "line 12: markets[0].max_qty: not a multiple of lot_size (0.00010000 BTC)"},
    {DEV ASSETS MARKET("0.01", "0.0001", "100000", "abc", ""),
     "markets[0].max_qty: expected a decimal number"},
    {DEV ASSETS MARKET("0.01", "0.0001", "100000", "429497", ""),
     "line 12: markets[0].max_qty: more than 4294967295 lots (an order's quantity fits 32 bits)"},
    {DEV ASSETS OKMARKET("    taker_fee: 0.2\n"),
     "line 13: markets[0].taker_fee: expected a fee rate from -0.1 to 0.1, got \"0.2\""},
    {DEV ASSETS OKMARKET("    taker_fee: -0.001\n"), "markets[0].taker_fee: must not be negative"},
    {DEV ASSETS OKMARKET("    maker_fee: 0.001\n    taker_fee: 0.0005\n"),
     "line 13: markets[0].maker_fee: must lie between -taker_fee and taker_fee"},
    {DEV ASSETS OKMARKET("    maker_fee: -0.001\n    taker_fee: 0.0005\n"),
     "markets[0].maker_fee: must lie between"},
    {DEV ASSETS OKMARKET("    maker_fee: 0.0001\n"), "markets[0].maker_fee: must lie between"},
    {DEV ASSETS OKMARKET("    maker_fee: 0.0000001\n"),
     "markets[0].maker_fee: too many decimal places for a fee rate (at most 6)"},
    {DEV ASSETS OKMARKET("    mode: auction\n"),
     "line 13: markets[0].mode: expected continuous or batch, got \"auction\""},
    {DEV ASSETS OKMARKET("    mode: \"batch\"\n"), "markets[0].mode: expected continuous or"},
    {DEV ASSETS OKMARKET("    shard: 1\n"),
     "markets[0].shard: expected an integer from 0 to 0, got \"1\""},
    {DEV ASSETS OKMARKET("    symbol: \"BTC USD\"\n"), "markets[0].symbol: expected a symbol"},
    {DEV ASSETS OKMARKET("    tick: 1\n"), "line 13: markets[0].tick: unknown key"},
    {DEV ASSETS OKMARKET("    base: ETH\n"), "line 13: markets[0].base: duplicate key (first "
                                             "at line 7)"},
    {DEV ASSETS
     "markets:\n  - id: 0\n    base: XYZ\n    quote: USD\n    tick_size: 1\n    lot_size: 1\n"
     "    max_price: 1\n    max_qty: 1\n",
     "line 7: markets[0].base: unknown asset \"XYZ\" (not in assets)"},
    {DEV ASSETS
     "markets:\n  - id: 0\n    base: BTC\n    quote: BTC\n    tick_size: 1\n    lot_size: 1\n"
     "    max_price: 1\n    max_qty: 1\n",
     "line 8: markets[0].quote: must differ from base, got \"BTC\""},
    {DEV ASSETS "markets:\n  - id: 0\n    base: BTC\n    quote: USD\n    lot_size: 1\n"
                "    max_price: 1\n    max_qty: 1\n",
     "line 6: markets[0]: missing key \"tick_size\""},
    {DEV ASSETS "markets:\n  - {id: 0, quote: USD}\n", "markets[0]: missing key \"base\""},
    {DEV ASSETS "markets:\n  - {base: BTC}\n", "markets[0]: missing key \"id\""},
    {DEV ASSETS "markets:\n  - {id: 0, base: BTC, quote: USD, tick_size: 1, lot_size: 1, "
                "max_qty: 1}\n",
     "markets[0]: missing key \"max_price\""},
    {DEV ASSETS "markets:\n  - {id: 0, base: BTC, quote: USD, tick_size: 1, lot_size: 1, "
                "max_price: 1}\n",
     "markets[0]: missing key \"max_qty\""},
    {"node: {dev_mode: true}\nengine: {max_markets: 2}\n" ASSETS
     "markets:\n  - {id: 2, base: BTC, quote: USD, tick_size: 1, lot_size: 1, max_price: 1, "
     "max_qty: 1}\n",
     "markets[0].id: expected an integer from 0 to 1, got \"2\""},
    {DEV ASSETS OKMARKET("  - {id: 0, symbol: X, base: BTC, quote: USD, tick_size: 1, "
                         "lot_size: 1, max_price: 1, max_qty: 1}\n"),
     "line 13: markets[1].id: duplicate market id 0 (also markets[0])"},
    {DEV ASSETS OKMARKET("  - {id: 1, base: BTC, quote: USD, tick_size: 1, lot_size: 1, "
                         "max_price: 1, max_qty: 1}\n"),
     "line 13: markets[1].symbol: duplicate market symbol \"BTC-USD\" (also markets[0], line "
     "6)"},
    /* market symbols: the APIs match them in any case, read digits as an id
     * and take them in a URL path */
    {DEV ASSETS OKMARKET("  - {id: 1, symbol: btc-usd, base: BTC, quote: USD, tick_size: 1, "
                         "lot_size: 1, max_price: 1, max_qty: 1}\n"),
     "line 13: markets[1].symbol: market symbol \"btc-usd\" differs from \"BTC-USD\" "
     "(markets[0], line 6) only in case"},
    {DEV ASSETS OKMARKET("    symbol: Bx\n"
                         "  - {id: 1, symbol: bX, base: BTC, quote: USD, tick_size: 1, "
                         "lot_size: 1, max_price: 1, max_qty: 1}\n"),
     "line 14: markets[1].symbol: market symbol \"bX\" differs from \"Bx\" (markets[0], line 13)"},
    {DEV ASSETS OKMARKET("    symbol: btc-USD\n"
                         "  - {id: 1, base: BTC, quote: USD, tick_size: 1, lot_size: 1, "
                         "max_price: 1, max_qty: 1}\n"),
     "line 14: markets[1].symbol: market symbol \"BTC-USD\" differs from \"btc-USD\" "
     "(markets[0], line 13)"},
    {DEV ASSETS OKMARKET("    symbol: \"2\"\n"),
     "line 13: markets[0].symbol: must not be all digits (the APIs read a number as a market "
     "id), got \"2\""},
    {DEV ASSETS OKMARKET("    symbol: 0123456789012\n"), "markets[0].symbol: must not be all"},
    {DEV ASSETS OKMARKET("    symbol: ..\n"), "line 13: markets[0].symbol: must not be \".\" or"},
    {DEV ASSETS OKMARKET("    symbol: .\n"), "markets[0].symbol: must not be \".\" or"},
    {DEV ASSETS OKMARKET("    symbol: BTC/USD\n"),
     "line 13: markets[0].symbol: expected a market symbol of letters, digits, '-', '_' and '.' "
     "only (the HTTP API names it in a URL path), got \"BTC/USD\""},
    {DEV ASSETS OKMARKET("    symbol: \"a?b\"\n"), "got \"a?b\""},
    {DEV ASSETS OKMARKET("    symbol: \"a#b\"\n"), "got \"a#b\""},
    {DEV ASSETS OKMARKET("    symbol: \"a%2Fb\"\n"), "got \"a%2Fb\""},
    {DEV ASSETS OKMARKET("    symbol: \"a+b\"\n"), "markets[0].symbol: expected a market symbol"},
    {DEV ASSETS OKMARKET("    symbol: \"a:b\"\n"), "markets[0].symbol: expected a market symbol"},
    {DEV ASSETS OKMARKET("    symbol: \"\\u00e9\"\n"), "markets[0].symbol: expected a symbol"},
    {DEV ASSETS OKMARKET("    symbol: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
     "markets[0].symbol: expected a symbol (printable ASCII, no spaces) of 1 to 40 characters"},
    {DEV "assets:\n  - {id: 0, symbol: USD, scale: 1}\n  - {id: 1, symbol: \"B/C\", scale: 1}\n"
         "markets:\n  - {id: 0, base: B/C, quote: USD, tick_size: 1, lot_size: 1, max_price: 1, "
         "max_qty: 1}\n",
     "line 6: markets[0].symbol: the default symbol \"B/C-USD\" (base-quote) is not a valid "
     "market symbol"},
    /* the faucet */
    {"node: {dev_mode: false}\nbridge_key: " KEY "\n" ASSETS "dev:\n  faucet:\n    USD: 1\n",
     "line 8: dev.faucet: only allowed when node.dev_mode is true"},
    {DEV ASSETS "dev:\n  faucet:\n    XYZ: 1\n",
     "line 7: dev.faucet.XYZ: unknown asset \"XYZ\" (not in assets)"},
    {DEV ASSETS "dev:\n  faucet:\n    USD: 0.0000001\n",
     "dev.faucet.USD: too many decimal places for USD (at most 6)"},
    {DEV ASSETS "dev:\n  faucet:\n    USD: 0\n", "dev.faucet.USD: expected a positive amount"},
    {DEV ASSETS "dev:\n  faucet:\n    USD: abc\n", "dev.faucet.USD: expected a decimal number"},
    {DEV ASSETS "dev:\n  faucet:\n    USD: 1\n    USD: 2\n",
     "line 8: dev.faucet.USD: duplicate key"},
    {DEV ASSETS "dev:\n  faucet: [1]\n", "line 6: dev.faucet: expected a mapping, got a list"},
    {DEV ASSETS "dev:\n  faucet:\n    [a]: 1\n", "dev.faucet: expected an asset symbol"},
    /* rules between keys */
    {DEV "journal:\n  segment_bytes: 1MiB\n  batch_max_bytes: 2MiB\n",
     "line 4: journal.batch_max_bytes: must not exceed journal.segment_bytes (1048576)"},
    {DEV "limits:\n  max_connections_per_ip: 20\n  max_connections: 10\n",
     "line 3: limits.max_connections_per_ip: must not exceed limits.max_connections (10)"},
    {DEV "engine:\n  max_accounts: 10\n  fee_account: 10\n",
     "line 4: engine.fee_account: must be below engine.max_accounts (10)"},
    {DEV "limits:\n  max_connections_per_ip: 2000\n",
     "line 3: limits.max_connections_per_ip: must not exceed limits.max_connections (1024)"},
    {DEV "journal:\n  batch_max_bytes: 128MiB\n",
     "line 3: journal.batch_max_bytes: must not exceed journal.segment_bytes (67108864)"},
    {DEV "rate_limits:\n  per_account: {rate: 5, burst: 0}\n",
     "line 3: rate_limits.per_account.burst: must be at least 1 when rate is not 0"},
    {DEV "rate_limits:\n  per_connection:\n    rate: 5\n    burst: 0\n",
     "line 5: rate_limits.per_connection.burst: must be at least 1"},
    {DEV "shards: 2\nengine:\n  max_orders: 100_000_000\n",
     "line 4: engine.max_orders: must be at most 67108864 (2^26) per shard"},
    /* an alias that points at its own ancestor: no endless walk */
    {"node: &n {dev_mode: true, name: *n}\n", "node.name: expected a string of 1 to 63 "
                                              "bytes, got a mapping"},
};

static void test_errors(void **state) {
    (void)state;
    size_t failures = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lx_config_t c;
        char err[LX_CONFIG_ERR_LEN] = "";
        memset(&c, 0x5a, sizeof c); /* must come back zeroed */
        int rc = parse(bad[i].yaml, &c, err);
        if (rc != LX_EINVAL || !strstr(err, bad[i].expect) || !all_zero(&c, sizeof c)) {
            print_error("case %zu: rc %d, message\n  %s\nexpected to contain\n  %s\n---\n%s---\n",
                        i, rc, err, bad[i].expect, bad[i].yaml);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* A bound written below the default of the key it bounds lowers that
 * default; market symbols the APIs can name; node.name counts bytes. */
static void test_bounds_and_symbols(void **state) {
    (void)state;
    lx_config_t c;
    parse_ok(DEV "limits: {max_connections: 10}\n", &c);
    assert_int_equal(c.limits.max_connections, 10);
    assert_int_equal(c.limits.max_connections_per_ip, 10);
    lx_config_free(&c);
    parse_ok(DEV "limits: {max_connections: 100}\n", &c);
    assert_int_equal(c.limits.max_connections_per_ip, 64); /* the default fits */
    lx_config_free(&c);
    parse_ok(DEV "limits: {max_connections: 10, max_connections_per_ip: 10}\n", &c);
    assert_int_equal(c.limits.max_connections_per_ip, 10);
    lx_config_free(&c);
    parse_ok(DEV "journal: {segment_bytes: 64KiB}\n", &c);
    assert_int_equal(c.journal.segment_bytes, 65536);
    assert_int_equal(c.journal.batch_max_bytes, 65536);
    lx_config_free(&c);
    parse_ok(DEV "journal: {segment_bytes: 64KiB, batch_max_bytes: 4KiB}\n", &c);
    assert_int_equal(c.journal.batch_max_bytes, 4096);
    lx_config_free(&c);
    round_trip(DEV "limits: {max_connections: 3}\njournal: {segment_bytes: 100KiB}\n");

    /* letters, digits, '-', '_', '.'; not all digits; unique in any case */
    parse_ok(DEV ASSETS OKMARKET("    symbol: a.B_c-9\n"
                                 "  - {id: 1, symbol: 2x, base: BTC, quote: USD, tick_size: 1, "
                                 "lot_size: 1, max_price: 1, max_qty: 1}\n"
                                 "  - {id: 2, symbol: ..., base: BTC, quote: USD, tick_size: 1, "
                                 "lot_size: 1, max_price: 1, max_qty: 1}\n"
                                 "  - {id: 3, symbol: A.B_C-90, base: BTC, quote: USD, "
                                 "tick_size: 1, lot_size: 1, max_price: 1, max_qty: 1}\n"),
             &c);
    assert_int_equal(c.nmarkets, 4);
    assert_string_equal(c.markets[0].symbol, "a.B_c-9");
    assert_string_equal(c.markets[1].symbol, "2x");
    assert_string_equal(c.markets[2].symbol, "...");
    lx_config_free(&c);

    /* 31 x U+00E9 and one ASCII letter is 63 bytes, the most */
    parse_ok("node:\n  dev_mode: true\n  name: \"" E8 E8 E8
             "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9x\"\n",
             &c);
    assert_int_equal(strlen(c.node.name), 63);
    lx_config_free(&c);
}

static void test_list_limit(void **state) {
    (void)state;
    size_t n = LX_CONFIG_LIST_MAX + 1;
    char *text = malloc(64 + n * 5);
    assert_non_null(text);
    size_t o = (size_t)sprintf(text, DEV "markets:\n");
    for (size_t i = 0; i < n; i++) o += (size_t)sprintf(text + o, "- 1\n");
    lx_config_t c;
    char err[LX_CONFIG_ERR_LEN];
    assert_int_equal(lx_config_parse(text, o, &c, err, sizeof err), LX_EINVAL);
    if (!strstr(err, "line 3: markets: too many entries (at most 4096)")) fail_msg("%s", err);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_dev_config),
        cmocka_unit_test(test_accepted_forms), cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_load_file),      cmocka_unit_test(test_arguments_and_error_buffer),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_bounds_and_symbols),
        cmocka_unit_test(test_list_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
