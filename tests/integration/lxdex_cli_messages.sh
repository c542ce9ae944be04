#!/bin/sh
# lxdex_cli_messages.sh BUILD_DIR: what lxdex tells a trader when a command does not do what was
# asked (found by an end-to-end walk through docs/cli.md). Every check runs; exit 1 if any fails.
#
# A dev-mode node with chain id 7 (binary port picked by the system, temporary data directory):
# - `order status --client-id N` of an order that is no longer open names the client id, not
#   "order 0";
# - `order deadman 5`, the configured minimum lead (deadman_min_lead_ms 5000), is refused by the
#   node (the lead is counted from when the node sequences the request): the refusal must say
#   what the minimum is, so that the trader knows what to ask for;
# - order commands take a market symbol in any case, as the read commands do (docs/cli.md);
# - a signed logon with the account's owner key but the embedded configuration's chain id (1) is
#   refused: the message must point at the chain id and --config, not claim that the key is not
#   the owner's;
# - a signed withdrawal sent twice with one --nonce is refused NONCE_REPLAYED the second time,
#   and the tool says what the nonce rule is;
# - `journal verify` of that journal without --chain-id: every signature fails; the message must
#   point at --chain-id.
# A node outside dev mode:
# - an order command without --key (logon by account id) must say that outside dev mode --key is
#   needed, not only "logon refused".
set -u
. "$(dirname "$0")/binary_node.sh"
binary_node_setup lxdex_cli_messages "${1:-build}"
FAILS=0
fail() { echo "lxdex_cli_messages: FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
# check DESCRIPTION PATTERN FILE: FILE (a command's stdout and stderr) matches PATTERN
check() { grep -q -- "$2" "$3" || { fail "$1: expected /$2/ in:"; cat "$3" >&2; }; }
# nocheck DESCRIPTION PATTERN FILE: FILE does not match PATTERN
nocheck() { ! grep -q -- "$2" "$3" || { fail "$1: did not expect /$2/ in:"; cat "$3" >&2; }; }

binary_node_yaml | sed -e 's#^\(  chain_id: \).*#\17#' > "$TMP/node.yaml"
binary_node_start "$TMP/node.yaml"
L="$CLI order"
O="--node 127.0.0.1:$port"

# order status by client id, once the order is gone
$L place $O --account 5 --client-id 42 BTC-USD buy 100 1 > /dev/null
$L cancel $O --account 5 --client-id 42 BTC-USD > /dev/null
$L status $O --account 5 --client-id 42 > "$TMP/out" 2>&1
check "status of a closed order by client id" "client id 42" "$TMP/out"
nocheck "status of a closed order by client id" "order 0 " "$TMP/out"

# the dead man's switch at the minimum lead
rc=0
$L deadman $O --account 5 5 > "$TMP/out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
    check "deadman 5 refused" "DEADLINE_TOO_SOON" "$TMP/out"
    check "deadman 5 refused: the minimum lead is named" "5 s" "$TMP/out"
fi
$L deadman $O --account 5 clear > /dev/null

# a market symbol in any case
rc=0
$L place $O --account 5 btc-usd buy 100 1 > "$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { fail "order place with symbol btc-usd exited $rc"; cat "$TMP/out" >&2; }
check "order place with symbol btc-usd" "^accepted" "$TMP/out"

# the owner key (bound by its first signed logon, dev mode) with the wrong chain id
$CLI keygen --out "$TMP/owner.key" > /dev/null
$L place $O --account 6 --key "$TMP/owner.key" --config "$TMP/node.yaml" BTC-USD buy 100 1 \
    > "$TMP/out" 2>&1 || { fail "signed logon with --config"; cat "$TMP/out" >&2; }
$CLI withdraw $O --account 6 --key "$TMP/owner.key" --config "$TMP/node.yaml" USD 1 \
    > "$TMP/out" 2>&1 || { fail "withdraw with --config"; cat "$TMP/out" >&2; }
# a nonce used twice: the engine takes it once, then refuses it, and the tool says why (the
# nonce must be above the clock nonce the withdrawal above spent, or the first send is refused
# too and nothing here would be sent twice)
N=$(( $(date +%s) * 1000000000 + 1000000000 ))
rc=0
$CLI withdraw $O --account 6 --key "$TMP/owner.key" --config "$TMP/node.yaml" --nonce $N USD 1 \
    > "$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { fail "the first withdrawal with --nonce $N exited $rc"; cat "$TMP/out" >&2; }
rc=0
$CLI withdraw $O --account 6 --key "$TMP/owner.key" --config "$TMP/node.yaml" --nonce $N USD 1 \
    > "$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a withdrawal with a spent nonce exited $rc"
check "a spent nonce" "NONCE_REPLAYED" "$TMP/out"
check "a spent nonce: the rule is named" "must exceed the last one its key signed" "$TMP/out"
rc=0
$L place $O --account 6 --key "$TMP/owner.key" BTC-USD buy 100 1 > "$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a signed logon for chain id 1 on a chain id 7 node exited $rc"
check "signed logon for the wrong chain id" "chain id 1" "$TMP/out"
check "signed logon for the wrong chain id" "--config" "$TMP/out"

kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=
rc=0
$CLI journal verify "$TMP/data" > "$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "journal verify with the wrong chain id exited $rc"
check "journal verify with the wrong chain id" "--chain-id" "$TMP/out"
$CLI journal verify --chain-id 7 "$TMP/data" > "$TMP/out" 2>&1 ||
    { fail "journal verify --chain-id 7"; cat "$TMP/out" >&2; }

# outside dev mode, a logon by account id
binary_node_yaml | sed -e 's#^\(  dev_mode: \).*#\1false#' -e "s#/data\"#/data2\"#" \
    -e "s#^bridge_key: .*#bridge_key: \"$(printf '%064d' 1)\"#" -e '/^dev:/,$d' > "$TMP/node2.yaml"
binary_node_start "$TMP/node2.yaml"
rc=0
$L place --node 127.0.0.1:$port --account 5 BTC-USD buy 100 1 > "$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a logon by account id outside dev mode exited $rc"
check "a logon by account id outside dev mode" "--key" "$TMP/out"

[ "$FAILS" -eq 0 ] || { echo "lxdex_cli_messages: $FAILS failed" >&2; exit 1; }
echo "lxdex_cli_messages: ok"
