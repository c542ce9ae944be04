#!/bin/sh
# lxdexd_smoke.sh BUILD_DIR: the real node binary, end to end.
#
#   1. a config from the embedded one, with the binary port 0 (the system picks one), http and ws
#      off, two binary gateway threads, node.prefault_memory on (the engine sized and mapped at
#      start, as in production; the log must say so), and a temporary data directory;
#   2. start lxdexd --demo, let the demo client trade for a few seconds, SIGTERM: it must stop
#      gracefully (exit 0) and print the seq and digest it stopped at;
#   3. start again: recovery must report that same seq and digest; SIGTERM again;
#   4. a node with two shards (BTC-USD in shard 0, ETH-USD in shard 1, a journal each) and the demo
#      client trading: orders placed with `lxdex` on both markets and acknowledged, then kill -9;
#      after a restart every acknowledged order is still open, and both shards were recovered.
set -eu
BUILD=${1:-build}
BIN=$BUILD/lxdexd
[ -x "$BIN" ] || { echo "lxdexd_smoke: $BIN not built" >&2; exit 77; }
TMP=$(mktemp -d /tmp/lxdexd-smoke-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$BIN" --print-config |
    sed -e 's#^\(  binary: \).*#\1"127.0.0.1:0"#' -e 's#^\(  http: \).*#\1off#' \
        -e 's#^\(  ws: \).*#\1off#' -e "s#^\(  data_dir: \).*#\1\"$TMP/data\"#" \
        -e 's#^\(  binary_threads: \).*#\12#' \
        -e 's#^\(  prefault_memory: \).*#\1true#' > "$TMP/node.yaml"
grep -q '^  binary_threads: 2$' "$TMP/node.yaml" || { echo "lxdexd_smoke: no gateway.binary_threads" >&2; exit 1; }
# the production path: engines sized for max_orders and mapped at start
grep -q '^  prefault_memory: true$' "$TMP/node.yaml" || { echo "lxdexd_smoke: no node.prefault_memory" >&2; exit 1; }

run() { # run LOG SECONDS [ARGS]: start, wait, SIGTERM, wait for exit
    log=$1 secs=$2
    shift 2
    "$BIN" --config "$TMP/node.yaml" "$@" > "$log" 2>&1 &
    pid=$!
    sleep "$secs"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "lxdexd_smoke: lxdexd exited with $rc" >&2
        cat "$log" >&2
        exit 1
    fi
}

run "$TMP/run1.log" 3 --demo
stop=$(sed -n 's/^lxdexd: stopped at seq \([0-9]*\), digest \([0-9a-f]*\)$/\1 \2/p' "$TMP/run1.log")
fills=$(sed -n 's/^demo: .* \([0-9]*\) fills.*/\1/p' "$TMP/run1.log" | tail -1)
[ -n "$stop" ] || { echo "lxdexd_smoke: no stop line" >&2; cat "$TMP/run1.log" >&2; exit 1; }
grep -q "binary order entry on 2 gateway threads" "$TMP/run1.log" || { cat "$TMP/run1.log" >&2; exit 1; }
grep -q "MiB of engine memory mapped in" "$TMP/run1.log" || { cat "$TMP/run1.log" >&2; exit 1; }
seq=${stop% *}
digest=${stop#* }
[ "$seq" -gt 305 ] || { echo "lxdexd_smoke: only $seq commands" >&2; cat "$TMP/run1.log" >&2; exit 1; }

run "$TMP/run2.log" 1
grep -q "recovered .*: last seq $seq, digest $digest," "$TMP/run2.log" || {
    echo "lxdexd_smoke: the restart did not recover seq $seq digest $digest" >&2
    cat "$TMP/run2.log" >&2
    exit 1
}
# An idle node still journals a TICK every 100 ms (GTD expiry), so it stops at a later seq.
seq2=$(sed -n 's/^lxdexd: stopped at seq \([0-9]*\), digest .*/\1/p' "$TMP/run2.log")
[ -n "$seq2" ] && [ "$seq2" -ge "$seq" ] || { cat "$TMP/run2.log" >&2; exit 1; }
# ---- 4. two shards, kill -9 -------------------------------------------------------------------
CLI=$BUILD/lxdex
sharded="12 acknowledged orders on two shards survived kill -9"
if [ ! -x "$CLI" ]; then
    echo "lxdexd_smoke: $CLI not built: the two-shard kill -9 part is skipped" >&2
    sharded="the two-shard kill -9 part SKIPPED: no $CLI"
else
    sed -e 's/^shards: 1/shards: 2/' -e '/symbol: "ETH-USD"/,/shard:/s/shard: 0/shard: 1/' \
        -e "s#^\(  data_dir: \).*#\1\"$TMP/sharded\"#" "$TMP/node.yaml" > "$TMP/sharded.yaml"
    "$BIN" --config "$TMP/sharded.yaml" --demo > "$TMP/k1.log" 2>&1 &
    pid=$!
    port=""
    for _ in $(seq 1 50); do
        sleep 0.1
        port=$(sed -n 's/^  binary *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/k1.log" | head -1)
        grep -q running "$TMP/k1.log" && [ -n "$port" ] && break
    done
    [ -n "$port" ] || { echo "lxdexd_smoke: the sharded node did not start" >&2; cat "$TMP/k1.log" >&2; exit 1; }
    : > "$TMP/acked"
    for i in 1 2 3 4 5 6; do
        for m in BTC-USD ETH-USD; do
            px=$([ "$m" = BTC-USD ] && echo 1000.0$i || echo 100.0$i)
            out=$("$CLI" order place --node "127.0.0.1:$port" --config "$TMP/sharded.yaml" --account 50 "$m" buy "$px" 0.01)
            echo "$out" | awk '$1 == "accepted" {print $3}' >> "$TMP/acked"
        done
    done
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    [ "$(wc -l < "$TMP/acked")" -eq 12 ] || { echo "lxdexd_smoke: $(wc -l < "$TMP/acked") of 12 orders acknowledged" >&2; exit 1; }
    "$BIN" --config "$TMP/sharded.yaml" > "$TMP/k2.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do
        sleep 0.1
        grep -q running "$TMP/k2.log" && break
    done
    port=$(sed -n 's/^  binary *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/k2.log" | head -1)
    grep -q "recovered $TMP/sharded/shard-1" "$TMP/k2.log" && grep -q "recovered $TMP/sharded/shard-0" "$TMP/k2.log" ||
        { echo "lxdexd_smoke: the shards were not recovered" >&2; cat "$TMP/k2.log" >&2; exit 1; }
    open=0
    while read -r id; do
        "$CLI" order status --node "127.0.0.1:$port" --config "$TMP/sharded.yaml" --account 50 "$id" | grep -q "^order $id  open" && open=$((open + 1))
    done < "$TMP/acked"
    kill -TERM "$pid"
    wait "$pid" || { echo "lxdexd_smoke: the sharded node did not stop cleanly" >&2; exit 1; }
    [ "$open" -eq 12 ] || { echo "lxdexd_smoke: $open of 12 acknowledged orders open after kill -9" >&2; exit 1; }
fi
echo "lxdexd_smoke: ok (stopped and recovered at seq $seq, digest $digest${fills:+, $fills demo fills}; $sharded)"
