#!/bin/sh
# lxdex_read.sh BUILD_DIR: the lxdex read commands, `watch`, agent keys, withdraw and transfer
# against a real lxdexd.
#
# Starts the node (dev mode, every port picked by the system, a temporary data directory, no demo
# client), places orders with `lxdex order`, then checks:
#   - markets, book, trades, balances, orders: the tables (exact decimals, alignment-independent
#     patterns) and --json, which must be byte for byte what curl gets from the same endpoint;
#   - watch --plain --updates N: the first block's book equals `lxdex book`, then a new level, a
#     trade and a removed level arrive as deltas and the last block equals `lxdex book` again,
#     with the checksum confirmed;
#   - errors: an unknown market (HTTP and watch), an unreachable node (HTTP and WebSocket), usage;
#   - agent keys: the owner approves an agent, the agent places an order, the owner revokes it,
#     the agent is refused; a second revoke and an approval already expired are rejected;
#   - withdraw and transfer signed by the owner key (balances checked), refused over the balance
#     and when an agent signs.
# Exit 0 on success, 77 when the binaries or curl are missing, 1 on the first failure.
set -eu
BUILD=${1:-build}
NODE=$BUILD/lxdexd
CLI=$BUILD/lxdex
[ -x "$NODE" ] && [ -x "$CLI" ] || { echo "lxdex_read: binaries not built" >&2; exit 77; }
command -v curl > /dev/null || { echo "lxdex_read: curl is not installed" >&2; exit 77; }
TMP=$(mktemp -d /tmp/lxdex-read-XXXXXX)
pid=
wpid=
cleanup() {
    [ -n "$wpid" ] && kill -TERM "$wpid" 2> /dev/null
    [ -n "$pid" ] && kill -TERM "$pid" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

"$NODE" --print-config |
    sed -e 's#^\(  binary: \).*#\1"127.0.0.1:0"#' -e 's#^\(  http: \).*#\1"127.0.0.1:0"#' \
        -e 's#^\(  ws: \).*#\1"127.0.0.1:0"#' -e "s#^\(  data_dir: \).*#\1\"$TMP/data\"#" \
        > "$TMP/node.yaml"
: > "$TMP/node.log"
"$NODE" --config "$TMP/node.yaml" > "$TMP/node.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do
    grep -q "running" "$TMP/node.log" && break
    sleep 0.2
done
bport=$(sed -n 's/^  binary *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/node.log" | head -1)
hport=$(sed -n 's/^  http *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/node.log" | head -1)
wport=$(sed -n 's/^  ws *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/node.log" | head -1)
[ -n "$bport" ] && [ -n "$hport" ] && [ -n "$wport" ] ||
    { echo "lxdex_read: node did not start" >&2; cat "$TMP/node.log" >&2; exit 1; }
URL=http://127.0.0.1:$hport
# The gateway answers 503 until it has the node's start-up state, which a
# slow start (sanitized build, loaded host) is still loading at "running".
for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/markets")" = 200 ] && break
    sleep 0.1
done
U="--url $URL"
WS="--ws ws://127.0.0.1:$wport"
O="--node 127.0.0.1:$bport"

die() { echo "lxdex_read: $*" >&2; exit 1; }
expect() { # expect ERE OUTPUT
    printf '%s\n' "$2" | grep -Eq -- "$1" || { printf 'lxdex_read: expected /%s/ in:\n%s\n' "$1" "$2" >&2; exit 1; }
}
refuse() { # refuse ERE OUTPUT
    if printf '%s\n' "$2" | grep -Eq -- "$1"; then printf 'lxdex_read: unexpected /%s/ in:\n%s\n' "$1" "$2" >&2; exit 1; fi
}
same_json() { # same_json PATH LXDEX-ARGS...: --json prints exactly what the API sent
    p=$1
    shift
    curl -s "$URL$p" > "$TMP/curl.json"
    "$CLI" "$@" --json $U > "$TMP/cli.json"
    [ -s "$TMP/curl.json" ] || die "curl got nothing from $p"
    # lxdex adds a final newline when the body has none
    [ "$(tail -c 1 "$TMP/curl.json" | od -An -tx1 | tr -d ' ')" = 0a ] || printf '\n' >> "$TMP/curl.json"
    cmp -s "$TMP/curl.json" "$TMP/cli.json" || { echo "lxdex_read: lxdex $* --json differs from GET $p:" >&2; cat "$TMP/curl.json" "$TMP/cli.json" >&2; exit 1; }
}
order_id() { printf '%s\n' "$1" | sed -n 's/^accepted  order \([0-9]*\) .*/\1/p'; }

# ---- a book and a trade -------------------------------------------------------------------------
maker=$(order_id "$($CLI order place $O --account 5 BTC-USD sell 30000 0.5)")
$CLI order place $O --account 5 BTC-USD sell 30000.5 1.25 > /dev/null
$CLI order place $O --account 7 BTC-USD buy 29999.99 0.0001 > /dev/null
taker=$(order_id "$($CLI order place $O --account 6 BTC-USD buy 30000 0.1)")
[ -n "$maker" ] && [ -n "$taker" ] || die "orders not accepted"

# ---- markets ------------------------------------------------------------------------------------
out=$($CLI markets $U)
expect '^ID +SYMBOL +BASE +QUOTE +TICK +LOT +MIN PRICE +MAX PRICE +MAX SIZE +MAKER +TAKER +HALTED +SEQ$' "$out"
expect '^ +0 +BTC-USD +BTC +USD +0\.01 +0\.0001 +0\.01 +1000000 +1000 +0\.0001 +0\.0005 +no +[0-9]+$' "$out"
expect '^ +1 +ETH-USD +ETH +USD +0\.01 +0\.001 ' "$out"
same_json /v1/markets markets

# ---- book ---------------------------------------------------------------------------------------
out=$($CLI book $U btc-usd)
expect '^BTC-USD  seq [0-9]+  checksum [0-9]+$' "$out"
expect '^ORDERS +SIZE +BID +ASK +SIZE +ORDERS$' "$out"
expect '^ +1 +0\.0001 +29999\.99 +30000 +0\.4 +1$' "$out"
expect '^ +30000\.5 +1\.25 +1$' "$out"
expect '^spread 0\.01 \(bid 29999\.99, ask 30000\)$' "$out"
out=$($CLI book $U --depth 1 BTC-USD)
expect '29999\.99 +30000 +0\.4' "$out"
refuse '30000\.5' "$out"
same_json '/v1/book/BTC-USD?depth=10' book BTC-USD
same_json '/v1/book/BTC-USD?depth=1' book --depth 1 BTC-USD

# ---- trades -------------------------------------------------------------------------------------
out=$($CLI trades $U BTC-USD)
expect '^BTC-USD  last 1 trade, newest first' "$out"
expect "^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} +buy +30000 +0\.1 +[0-9]+ +$maker +$taker\$" "$out"
same_json '/v1/trades/BTC-USD?limit=20' trades BTC-USD
same_json '/v1/trades/BTC-USD?limit=5' trades --limit 5 BTC-USD
rc=0
"$CLI" trades $U --limit 1001 BTC-USD 2> "$TMP/err" > /dev/null || rc=$?
[ "$rc" = 2 ] && grep -q 'from 1 to 1000' "$TMP/err" || die "trades --limit 1001: rc $rc $(cat "$TMP/err")"

# ---- balances and orders ------------------------------------------------------------------------
out=$($CLI balances $U 5)
expect '^account 5$' "$out"
expect '^USD +102999\.7 +0$' "$out" # 100000 + 0.1 BTC at 30000 - the 0.01% maker fee
expect '^BTC +8\.25 +1\.65$' "$out"
expect '^ETH +100 +0$' "$out"
same_json /v1/accounts/5/balances balances 5
out=$($CLI orders $U 5)
expect '^account 5  2 open orders, oldest first$' "$out"
expect "^$maker +BTC-USD +sell +limit +GTC +30000 +0\\.5 +0\\.1 +0\\.4 +partially_filled\$" "$out"
expect '^[0-9]+ +BTC-USD +sell +limit +GTC +30000\.5 +1\.25 +0 +1\.25 +open$' "$out"
same_json /v1/accounts/5/orders orders 5
out=$($CLI orders $U 99)
expect '^account 99  0 open orders' "$out"

# ---- errors -------------------------------------------------------------------------------------
for cmd in book trades watch; do
    rc=0
    extra=
    [ "$cmd" = watch ] && extra=$WS
    $CLI $cmd $U $extra NOPE > /dev/null 2> "$TMP/err" || rc=$?
    [ "$rc" -eq 1 ] || die "$cmd of an unknown market exited $rc"
    grep -q 'unknown market "NOPE"' "$TMP/err" && grep -q 'BTC-USD ETH-USD' "$TMP/err" ||
        { cat "$TMP/err" >&2; die "$cmd: no clear error for an unknown market"; }
done
rc=0
$CLI balances $U 7x 2> "$TMP/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'an account number' "$TMP/err" || die "balances 7x: exit $rc"
rc=0
$CLI book --url http://127.0.0.1:1 BTC-USD 2> "$TMP/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'cannot reach the node at http://127.0.0.1:1 ' "$TMP/err" ||
    { cat "$TMP/err" >&2; die "an unreachable node (HTTP): exit $rc"; }
rc=0
$CLI watch --plain $U --ws ws://127.0.0.1:1 BTC-USD > /dev/null 2> "$TMP/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot reach the node's WebSocket at ws://127.0.0.1:1" "$TMP/err" ||
    { cat "$TMP/err" >&2; die "an unreachable node (WebSocket): exit $rc"; }
rc=0
$CLI book > /dev/null 2> "$TMP/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q '^usage: lxdex book ' "$TMP/err" || die "book without a market: exit $rc"
for cmd in markets book trades balances orders watch "agent approve" "agent revoke"; do
    # shellcheck disable=SC2086 # "agent approve" is two words
    $CLI $cmd --help | grep -q "^usage: lxdex $cmd " || die "lxdex $cmd --help"
done

# ---- watch --------------------------------------------------------------------------------------
book_lines() { $CLI book $U BTC-USD | sed 1d; } # the table and the spread
# the lines of the last block of a plain watch output, from the table header to the spread
last_block() { awk '/^--- update/ { b = "" } /^ORDERS/ { on = 1 } on { b = b $0 "\n" } /^spread|^the book is empty/ { on = 0 } END { printf "%s", b }' "$1"; }
timeout 20 $CLI watch --plain --updates 1 $U $WS BTC-USD > "$TMP/w1" || die "watch --updates 1 failed"
expect '^--- update 1$' "$(cat "$TMP/w1")"
expect '^BTC-USD  seq [0-9]+  checksum ok  resyncs 0$' "$(cat "$TMP/w1")"
expect "^[0-9:.]+ +buy +30000 +0\\.1\$" "$(cat "$TMP/w1")"
[ "$(last_block "$TMP/w1")" = "$(book_lines)" ] ||
    { cat "$TMP/w1" >&2; book_lines >&2; die "watch's first block is not the book"; }

# the snapshot, then: a new bid level (1 delta), a sell that takes the best bid (a trade and the
# level's removal): 4 updates
: > "$TMP/w4"
timeout 20 $CLI watch --plain --updates 4 --depth 5 $U $WS BTC-USD > "$TMP/w4" 2>&1 &
wpid=$!
for _ in $(seq 1 50); do
    grep -q '^--- update 1$' "$TMP/w4" && break
    sleep 0.1
done
grep -q '^--- update 1$' "$TMP/w4" || die "watch showed no book"
$CLI order place $O --account 20 BTC-USD buy 29000 0.3 > /dev/null
$CLI order place $O --account 21 BTC-USD sell 29999.99 0.0001 > /dev/null
rc=0
wait "$wpid" || rc=$?
wpid=
[ "$rc" -eq 0 ] || { cat "$TMP/w4" >&2; die "watch --updates 4 exited $rc"; }
out=$(cat "$TMP/w4")
expect '^--- update 4$' "$out"
refuse '^--- update 5$' "$out"
refuse 'MISMATCH|stale' "$out"
expect '^ +1 +0\.3 +29000 ' "$out"
expect "^[0-9:.]+ +sell +29999\\.99 +0\\.0001\$" "$out"
[ "$(last_block "$TMP/w4")" = "$(book_lines)" ] ||
    { cat "$TMP/w4" >&2; book_lines >&2; die "watch's last block is not the book"; }
expect '^spread 1000 \(bid 29000, ask 30000\)$' "$(book_lines)"

# ---- agent keys ---------------------------------------------------------------------------------
$CLI keygen --out "$TMP/owner.key" > /dev/null
agent=$($CLI keygen --out "$TMP/agent.key")
out=$($CLI agent approve $O --account 30 --key "$TMP/owner.key" --agent "$agent" --name mm-bot --expires +1h)
expect "^agent $agent approved  name \"mm-bot\", expires [0-9-]+ [0-9:.]+ UTC\$" "$out"
out=$($CLI order place $O --account 30 --key "$TMP/agent.key" BTC-USD buy 100 1)
expect '^accepted .* buy 1.00000000 @ 100.000000' "$out"
out=$($CLI orders $U 30)
expect '^[0-9]+ +BTC-USD +buy +limit +GTC +100 +1 +0 +1 +open$' "$out"
out=$($CLI agent revoke $O --account 30 --key "$TMP/owner.key" --agent "$TMP/agent.key")
expect "^agent $agent revoked  name \"mm-bot\"" "$out"
rc=0
# a revoked agent cannot even log on (the gateway checks the key, docs/protocol.md section 2)
out=$($CLI order place $O --account 30 --key "$TMP/agent.key" BTC-USD buy 100 1 2>&1) || rc=$?
[ "$rc" -eq 1 ] || die "a revoked agent's order: exit $rc"
expect '^lxdex: logon refused \(LOGON_FAILED\): the key must be account 30' "$out"
rc=0
out=$($CLI agent revoke $O --account 30 --key "$TMP/owner.key" --agent "$agent") || rc=$?
[ "$rc" -eq 1 ] || die "a second revoke: exit $rc"
expect '^rejected  UNKNOWN_AGENT' "$out"
rc=0
out=$($CLI agent approve $O --account 30 --key "$TMP/owner.key" --agent "$agent" --expires 1000) || rc=$?
[ "$rc" -eq 1 ] || die "an approval already expired: exit $rc"
expect '^rejected  EXPIRED' "$out"
rc=0
$CLI agent approve $O --account 30 --key "$TMP/owner.key" --agent "$agent" 2> "$TMP/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- '--expires is required' "$TMP/err" || die "approve without --expires: exit $rc"

# ---- withdraw and transfer (the owner key only) -------------------------------------------------
out=$($CLI withdraw $O --account 30 --key "$TMP/owner.key" USD 12.5)
expect '^withdrew 12\.5 USD from account 30$' "$out"
out=$($CLI transfer $O --account 30 --key "$TMP/owner.key" --to 31 USD 0.000001)
expect '^transferred 0\.000001 USD from account 30 to account 31$' "$out"
# 100000 - 12.5 - 0.000001, less 100.05 locked by the agent's buy 1 @ 100 (with its taker fee)
expect '^USD +99887\.449999 +100\.05$' "$($CLI balances $U 30)"
expect '^USD +100000\.000001 +0$' "$($CLI balances $U 31)"
rc=0
out=$($CLI withdraw $O --account 30 --key "$TMP/owner.key" USD 1000000) || rc=$?
[ "$rc" -eq 1 ] || die "a withdrawal over the balance: exit $rc"
expect '^rejected  INSUFFICIENT_FUNDS' "$out"
agent2=$($CLI keygen --out "$TMP/agent2.key")
$CLI agent approve $O --account 30 --key "$TMP/owner.key" --agent "$agent2" --expires +1h > /dev/null
rc=0
out=$($CLI withdraw $O --account 30 --key "$TMP/agent2.key" USD 1) || rc=$?
[ "$rc" -eq 1 ] || die "an agent's withdrawal: exit $rc"
expect '^rejected  NOT_AUTHORIZED' "$out"
rc=0
$CLI withdraw $O --account 30 --key "$TMP/owner.key" USD 0.0000001 2> "$TMP/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'too many decimal places' "$TMP/err" || die "an amount below the unit: exit $rc"
echo "lxdex_read: ok"
