/*
 * lx/config.h: the node's configuration (lxdexd), parsed from YAML.
 *
 * Every key, its type, default and meaning is in docs/config.md. Parsing is
 * all or nothing: either every key is valid and *out is filled, or the call
 * returns an error whose message names the key path and the line
 * ("line 12: markets[1].tick_size: too many decimal places for USD (at most
 * 6), got \"0.0000001\"") and *out is left empty. Unknown keys are errors.
 *
 * Market numbers (tick size, lot size, price band, maximum quantity, fees)
 * are written as decimals in whole units of the market's assets and
 * converted exactly (lx/decimal.h) into the engine's integer units: the
 * fields of lx_config_market_t below are what lx_cmd_create_market_t wants.
 *
 * Ownership: lx_config_t owns its arrays; lx_config_free() releases them.
 * A zeroed lx_config_t (and any *out after a failed parse) is safe to free.
 */
#ifndef LX_CONFIG_H
#define LX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lx/command.h"
#include "lx/engine.h"

#define LX_CONFIG_NAME_MAX 63          /* node.name */
#define LX_CONFIG_PATH_MAX 1023        /* node.data_dir */
#define LX_CONFIG_HOST_MAX 63          /* listen host, without brackets */
#define LX_CONFIG_ASSET_SYMBOL_MAX 16  /* the engine's symbol field */
#define LX_CONFIG_MARKET_SYMBOL_MAX 40 /* the default, BASE-QUOTE, always fits */
#define LX_CONFIG_SHARDS_MAX 32
/* binary gateway threads: each is a node gateway, of which a node has 8 (LX_NODE_GATEWAYS_MAX),
 * and the web gateway takes one */
#define LX_CONFIG_BINARY_THREADS_MAX 7
#define LX_CONFIG_LIST_MAX 4096        /* most assets, most markets in one file */
#define LX_CONFIG_FILE_MAX (16u << 20) /* largest file lx_config_load_file reads */
#define LX_CONFIG_FEE_DECIMALS 6       /* fee rates: 0.000001 = LX_FEE_RATE_ONE / 1e6 */
#define LX_CONFIG_ERR_LEN 256          /* a good size for err buffers */

/* A listen address, "host:port", "[v6]:port" or `off`. */
typedef struct {
    bool enabled; /* false when written as `off` */
    bool ipv6;
    bool loopback;                     /* 127.0.0.0/8 or ::1 */
    uint16_t port;                     /* 0: the system picks a free port */
    char host[LX_CONFIG_HOST_MAX + 1]; /* a literal address; "localhost" is
                                          stored as "127.0.0.1" */
} lx_config_addr_t;

/* A token bucket: `rate` messages per second, bursts of up to `burst`.
 * rate 0 means no limit. */
typedef struct {
    uint32_t rate;
    uint32_t burst;
} lx_config_rate_t;

typedef struct {
    lx_asset_id_t id;
    char symbol[LX_CONFIG_ASSET_SYMBOL_MAX + 1];
    int64_t scale; /* base units per whole unit: 10^decimals */
    int decimals;
} lx_config_asset_t;

/* Engine units, as in lx_cmd_create_market_t. */
typedef struct {
    lx_market_id_t id;
    char symbol[LX_CONFIG_MARKET_SYMBOL_MAX + 1];
    lx_asset_id_t base, quote; /* asset ids */
    int base_decimals;         /* quantities are written with at most these */
    int quote_decimals;        /* prices likewise */
    uint32_t shard;            /* < shards */
    uint8_t mode;              /* lx_market_mode_t */
    int64_t tick_size;         /* quote units per whole base unit, per tick */
    int64_t lot_size;          /* base units per lot */
    int64_t tick_value;        /* tick_size * lot_size / base scale, >= 1 */
    int64_t min_price;         /* ticks */
    int64_t max_price;         /* ticks */
    int64_t max_qty;           /* lots */
    int32_t maker_fee;         /* hundredths of a basis point (LX_FEE_RATE_ONE = 100%) */
    int32_t taker_fee;
} lx_config_market_t;

typedef struct {
    lx_asset_id_t asset;
    int64_t amount; /* base units, > 0 */
} lx_config_faucet_t;

typedef struct {
    struct {
        char name[LX_CONFIG_NAME_MAX + 1];
        bool dev_mode;
        uint32_t chain_id; /* signed actions name it (docs/signing.md) */
        char data_dir[LX_CONFIG_PATH_MAX + 1];
        bool prefault_memory; /* map the engines' arenas in full at start */
    } node;
    struct {
        lx_config_addr_t http, ws, binary;
    } listen;
    struct {
        /* threads of the binary TCP gateway, 1..LX_CONFIG_BINARY_THREADS_MAX;
         * 0: one per core, at most 2 (lx_gw_tcp_open decides) */
        uint32_t binary_threads;
    } gateway;
    lx_engine_config_t engine; /* clearing is always on */
    uint32_t shards;           /* engine threads, 1..LX_CONFIG_SHARDS_MAX */
    struct {
        uint64_t segment_bytes;
        uint64_t batch_max_bytes;
        uint32_t batch_max_delay_us;
        bool fsync;
        uint64_t snapshot_every_commands; /* 0: never */
        uint32_t retention_segments;      /* 0: keep every segment */
    } journal;
    struct {
        uint32_t max_connections;
        uint32_t max_connections_per_ip;
        uint32_t max_message_bytes;
        uint64_t slow_subscriber_buffer_bytes;
    } limits;
    struct {
        lx_config_rate_t per_account, per_connection;
        /* what one request costs in the per-account bucket (a batch of n
         * actions costs the sum of its actions) */
        struct {
            uint32_t place, cancel, amend, cancel_all;
        } weight;
    } rate_limits;
    lx_config_asset_t *assets; /* in file order */
    size_t nassets;
    lx_config_market_t *markets; /* in file order */
    size_t nmarkets;
    bool has_bridge_key;
    uint8_t bridge_key[32];     /* ed25519 public key of the deposit bridge */
    lx_config_faucet_t *faucet; /* dev.faucet, in file order; dev mode only */
    size_t nfaucet;
} lx_config_t;

/*
 * Parses len bytes of YAML. Returns 0, or LX_EINVAL (invalid configuration)
 * or LX_ENOMEM, with a one-line message in err (NUL-terminated, truncated
 * to errlen; err may be NULL). On error *out is zeroed.
 */
int lx_config_parse(const char *text, size_t len, lx_config_t *out, char *err, size_t errlen);

/* Reads and parses a file; messages start with the path ("node.yaml: line
 * 3: ..."). Adds LX_EIO for a file that cannot be read. */
int lx_config_load_file(const char *path, lx_config_t *out, char *err, size_t errlen);

/* The embedded development configuration (dev_mode, loopback, two markets
 * BTC-USD and ETH-USD, a faucet), as YAML text and parsed. */
const char *lx_config_default_yaml(void);
int lx_config_default(lx_config_t *out, char *err, size_t errlen);

void lx_config_free(lx_config_t *c);

/*
 * Writes c as YAML, every key explicit, to buf (like snprintf: returns the
 * full length, truncates safely). Parsing the text gives back an equal
 * configuration. Returns LX_EINVAL if c holds values no parse produces.
 */
int lx_config_write(const lx_config_t *c, char *buf, size_t cap);

/* Lookups; NULL when absent. */
const lx_config_asset_t *lx_config_asset(const lx_config_t *c, lx_asset_id_t id);
const lx_config_asset_t *lx_config_asset_by_symbol(const lx_config_t *c, const char *symbol);
const lx_config_market_t *lx_config_market(const lx_config_t *c, lx_market_id_t id);
/* A market symbol in any case (the APIs take it so; the parser refuses two
 * symbols that differ only in case). */
const lx_config_market_t *lx_config_market_by_symbol(const lx_config_t *c, const char *symbol);

/* What an order-entry command of type cmd_type weighs in its account's
 * rate bucket (rate_limits.weight: a cancel, amend or cancel-all its own,
 * anything else a place's). */
static inline uint32_t lx_config_weight(const lx_config_t *c, int cmd_type) {
    return cmd_type == LX_CMD_CANCEL       ? c->rate_limits.weight.cancel
           : cmd_type == LX_CMD_AMEND      ? c->rate_limits.weight.amend
           : cmd_type == LX_CMD_CANCEL_ALL ? c->rate_limits.weight.cancel_all
                                           : c->rate_limits.weight.place;
}

/*
 * The commands that create the configured assets and markets: every asset
 * (in file order), then the markets of `shard` (every market when shard is
 * UINT32_MAX). seq and ts are 0, for the sequencer to set. Returns the
 * number of commands, writing at most cap.
 */
size_t lx_config_boot_cmds(const lx_config_t *c, uint32_t shard, lx_cmd_t *out, size_t cap);

#endif
