#!/bin/sh
# lxdexd_smoke.sh BUILD_DIR: the real node binary, end to end.
#
#   1. a config from the embedded one, with the binary port 0 (the system picks one), http and ws
#      off, two binary gateway threads, and a temporary data directory;
#   2. start lxdexd --demo, let the demo client trade for a few seconds, SIGTERM: it must stop
#      gracefully (exit 0) and print the seq and digest it stopped at;
#   3. start again: recovery must report that same seq and digest; SIGTERM again.
set -eu
BUILD=${1:-build}
BIN=$BUILD/lxdexd
[ -x "$BIN" ] || { echo "lxdexd_smoke: $BIN not built" >&2; exit 77; }
TMP=$(mktemp -d /tmp/lxdexd-smoke-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$BIN" --print-config |
    sed -e 's#^\(  binary: \).*#\1"127.0.0.1:0"#' -e 's#^\(  http: \).*#\1off#' \
        -e 's#^\(  ws: \).*#\1off#' -e "s#^\(  data_dir: \).*#\1\"$TMP/data\"#" \
        -e 's#^\(  binary_threads: \).*#\12#' > "$TMP/node.yaml"
grep -q '^  binary_threads: 2$' "$TMP/node.yaml" || { echo "lxdexd_smoke: no gateway.binary_threads" >&2; exit 1; }

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
echo "lxdexd_smoke: ok (stopped and recovered at seq $seq, digest $digest${fills:+, $fills demo fills})"
