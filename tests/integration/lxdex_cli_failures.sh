#!/bin/sh
# lxdex_cli_failures.sh BUILD_DIR: lxdex order commands when the node refuses or cannot be reached.
#
# - `order cancel-all` refused by the node (REJECT RATE_LIMITED: the account's bucket is spent)
#   must exit 1 and not claim that orders were canceled; the orders stay open.
# - a price off the tick grid names the tick as docs/cli.md writes it ("0.01").
# - the binary port of a host that never completes the TCP handshake (a listener whose backlog
#   is full drops SYNs): the command must fail within a few seconds, not hang for the kernel's
#   SYN retries (about two minutes).
set -eu
. "$(dirname "$0")/binary_node.sh"
binary_node_setup lxdex_cli_failures "${1:-build}"
bh=
cleanup_extra() { [ -n "$bh" ] && kill "$bh" 2>/dev/null; }
fail() { echo "lxdex_cli_failures: $*" >&2; exit 1; }

# a node whose accounts may spend 6 tokens at once, 1 a second (a cancel-all weighs 5)
binary_node_yaml |
    awk '/^  per_account:/ { print; getline; print "    rate: 1"; getline; print "    burst: 6"; next } 1' \
        > "$TMP/node.yaml"
binary_node_start "$TMP/node.yaml"
L="$CLI order"
O="--node 127.0.0.1:$port"

# 1. cancel-all refused: exit 1, no "N orders canceled"
$L place $O --account 7 BTC-USD buy 100 1 > /dev/null
$L place $O --account 7 BTC-USD buy 101 1 > /dev/null
rc=0
out=$($L cancel-all $O --account 7) || rc=$?
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^refused' || fail "cancel-all was not refused (test setup): $out"
[ "$rc" -eq 1 ] || fail "cancel-all refused by the node exited $rc"
printf '%s\n' "$out" | grep -q 'orders* canceled' && fail "cancel-all refused by the node says: $out"

# 2. the tick in an off-grid error as the docs write it
rc=0
$L place $O --account 7 BTC-USD sell 30000.001 1 2> "$TMP/err" || rc=$?
cat "$TMP/err"
[ "$rc" -eq 2 ] && grep -q '(the tick of BTC-USD is 0.01)$' "$TMP/err" ||
    fail "off-tick message differs from docs/cli.md: $(cat "$TMP/err")"

# 3. a binary port that never answers the handshake
command -v python3 > /dev/null || { echo "lxdex_cli_failures: no python3, part 3 skipped"; exit 0; }
python3 - "$TMP/bh.port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = []
for _ in range(3):  # fill the accept queue; later SYNs are dropped
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(60)
PY
bh=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$TMP/bh.port" ] && break; sleep 0.2; done
t0=$(date +%s)
rc=0
timeout 20 $L status --node "127.0.0.1:$(cat "$TMP/bh.port")" --account 5 1 || rc=$?
dt=$(($(date +%s) - t0))
[ "$rc" -eq 1 ] && [ "$dt" -le 10 ] ||
    fail "order status against an unresponsive node: exit $rc after ${dt} s (124 = still blocked in connect after 20 s)"
echo "lxdex_cli_failures: ok"
