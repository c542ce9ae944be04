#!/bin/sh
# lxdex_cli.sh BUILD_DIR: the lxdex trading commands against a real lxdexd.
#
# Starts the node (dev mode, binary port picked by the system, temporary data directory), then
# places, fills, checks, amends and cancels orders with `lxdex order ...`, comparing what it
# prints; a FOK market order refused and filled; also a price off the tick grid (usage error, exit 2) and a cancel of an unknown order
# (rejected, exit 1); whole-number arguments that are negative, signed, padded, empty or out of
# range (--client-id, ORDER_ID, --expiry-ms, --account, the --node port, deadman SECONDS: usage
# errors, exit 2).
set -eu
. "$(dirname "$0")/binary_node.sh"
binary_node_setup lxdex_cli "${1:-build}"
fail() { echo "lxdex_cli: $*" >&2; exit 1; }
binary_node_yaml > "$TMP/node.yaml"
binary_node_start "$TMP/node.yaml"
L="$CLI order"
O="--node 127.0.0.1:$port"

expect() { # expect PATTERN OUTPUT
    printf '%s\n' "$2" | grep -q -- "$1" || { echo "lxdex_cli: expected /$1/ in:" >&2; printf '%s\n' "$2" >&2; exit 1; }
}

out=$($L place $O --account 5 --client-id 7 BTC-USD sell 30000.00 0.5)
expect '^accepted .* sell 0.50000000 @ 30000.000000  GTC' "$out"
out=$($L place $O --account 6 BTC-USD buy 30000.01 0.2)
expect '^fill .* bought 0.20000000 @ 30000.000000  taker, fee 3.000000, open 0.00000000' "$out"
out=$($L status $O --account 5 --client-id 7)
expect 'open  sell 0.50000000 @ 30000.000000, filled 0.20000000, open 0.30000000' "$out"
out=$($L amend $O --account 5 --client-id 7 BTC-USD 30000 0.4)
expect '^amended .* open 0.20000000, time priority kept' "$out"
out=$($L cancel $O --account 5 --client-id 7 BTC-USD)
expect '^canceled .* 0.20000000 open, canceled by its owner' "$out"
rc=0
out=$($L cancel $O --account 5 --client-id 7 BTC-USD) || rc=$?
[ "$rc" -eq 1 ] || { echo "lxdex_cli: a second cancel exited $rc" >&2; exit 1; }
expect '^rejected  UNKNOWN_ORDER' "$out"
rc=0
$L place $O --account 5 BTC-USD sell 30000.001 1 2> "$TMP/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "tick" "$TMP/err" || { echo "lxdex_cli: off-tick price not refused" >&2; exit 1; }
$L place $O --account 5 BTC-USD sell 31000 1 > /dev/null
$L place $O --account 5 ETH-USD sell 2000 1 > /dev/null
out=$($L cancel-all $O --account 5)
expect '^2 orders canceled' "$out"
# a market order with --tif FOK: all or nothing (refused when the book is short)
$L place $O --account 5 BTC-USD sell 31000 0.5 > /dev/null
rc=0
out=$($L place $O --account 6 --market --tif FOK BTC-USD buy 32000 1) || rc=$?
[ "$rc" -eq 1 ] || { echo "lxdex_cli: a FOK market order too large exited $rc" >&2; exit 1; }
expect '^rejected  FOK_CANNOT_FILL' "$out"
out=$($L place $O --account 6 --market --tif FOK BTC-USD buy 32000 0.5)
expect '^fill .* bought 0.50000000 @ 31000.000000  taker' "$out"
# a key made with `lxdex keygen`, a signed logon with it (the session needs no more signatures)
$CLI keygen --out "$TMP/trader.key" > "$TMP/trader.pub"
[ "$(stat -c %a "$TMP/trader.key")" = 600 ] || { echo "lxdex_cli: key file not 0600" >&2; exit 1; }
[ "$($CLI key show "$TMP/trader.key")" = "$(cat "$TMP/trader.pub")" ] || { echo "lxdex_cli: key show" >&2; exit 1; }
out=$($L place $O --account 8 --key "$TMP/trader.key" BTC-USD buy 100 1)
expect '^accepted .* buy 1.00000000 @ 100.000000' "$out"
rc=0
$L place $O --account 8 --key "$TMP/trader.pub" BTC-USD buy 100 1 2> "$TMP/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "not an lxdex secret key" "$TMP/err" || { echo "lxdex_cli: a bad key file" >&2; exit 1; }
# the dead man's switch: armed, cleared
out=$($L deadman $O --account 9 30)
expect "^dead man's switch armed: all orders canceled at " "$out"
out=$($L deadman $O --account 9 clear)
expect "^dead man's switch cleared" "$out"
# whole-number arguments: digits only and in range, else a usage error (exit 2) naming the argument
usage_err() { # usage_err PATTERN ARGS...: `lxdex order ARGS` exits 2 with PATTERN on stderr
    pat=$1
    shift
    rc=0
    $L "$@" > /dev/null 2> "$TMP/err" || rc=$?
    [ "$rc" -eq 2 ] && grep -q -- "$pat" "$TMP/err" ||
        { echo "lxdex_cli: 'lxdex order $*' exited $rc, expected 2 and /$pat/:" >&2; cat "$TMP/err" >&2; exit 1; }
}
usage_err "^lxdex: --client-id: .*'-1'" place $O --account 5 --client-id -1 BTC-USD buy 100 1
usage_err "^lxdex: --client-id: .*'99999999999999999999'" place $O --account 5 --client-id 99999999999999999999 BTC-USD buy 100 1
usage_err "^lxdex: --client-id: .*'+7'" cancel $O --account 5 --client-id +7 BTC-USD
usage_err "^lxdex: ORDER_ID: .*'-1'" cancel $O --account 5 BTC-USD -1
usage_err "^lxdex: ORDER_ID: .*' 3'" status $O --account 5 " 3"
usage_err "^lxdex: ORDER_ID: .*'18446744073709551616'" amend $O --account 5 BTC-USD 18446744073709551616 100 1
usage_err "^lxdex: --expiry-ms: .*'9223372036854775807'" place $O --account 5 --tif GTD --expiry-ms 9223372036854775807 BTC-USD buy 100 1
usage_err "^lxdex: --expiry-ms 9223372036854: later than" place $O --account 5 --tif GTD --expiry-ms 9223372036854 BTC-USD buy 100 1
usage_err "^lxdex: --expiry-ms: .*'-5'" place $O --account 5 --tif GTD --expiry-ms -5 BTC-USD buy 100 1
usage_err "^lxdex: --tif GTD needs --expiry-ms" place $O --account 5 --tif GTD BTC-USD buy 100 1
usage_err "^lxdex: --node: the port .*'84748'" place --node 127.0.0.1:84748 --account 5 BTC-USD buy 100 1
usage_err "^lxdex: --node: the port .*'abc'" place --node 127.0.0.1:abc --account 5 BTC-USD buy 100 1
usage_err "^lxdex: --node: the port .*'${port}x'" place --node "127.0.0.1:${port}x" --account 5 BTC-USD buy 100 1
usage_err "^lxdex: --node: the port .*'0'" cancel-all --node 127.0.0.1:0 --account 5
usage_err "^lxdex: --account: not an account id: ''" place $O --account "" BTC-USD buy 100 1
usage_err "^lxdex: --account: not an account id: '-0'" place $O --account -0 BTC-USD buy 100 1
usage_err "^lxdex: --account: not an account id: '5x'" place $O --account 5x BTC-USD buy 100 1
usage_err "^lxdex: --account: not an account id: '4294967295'" place $O --account 4294967295 BTC-USD buy 100 1
usage_err "^lxdex: deadman: seconds from now" deadman $O --account 9 " 30"
usage_err "^lxdex: deadman: seconds from now" deadman $O --account 9 0.0001
# and the good ones still work: an order named by its id, a GTD expiry
out=$($L place $O --account 10 --tif GTD --expiry-ms 60000 BTC-USD buy 100 1)
expect '^accepted .* buy 1.00000000 @ 100.000000  GTD' "$out"
id=$(printf '%s\n' "$out" | sed -n 's/^accepted  order \([0-9]*\) .*/\1/p')
out=$($L status $O --account 10 "$id")
expect "^order $id  open  buy 1.00000000 @ 100.000000" "$out"
out=$($L cancel $O --account 10 BTC-USD "$id")
expect "^canceled  order $id  1.00000000 open" "$out"
echo "lxdex_cli: ok"
