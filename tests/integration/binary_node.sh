# binary_node.sh: sourced by the lxdex integration scripts that need a node speaking only the
# binary protocol. binary_node_setup sets NODE, CLI and TMP; the scripts define a function
# fail MESSAGE; binary_node_start sets pid (the node's) and port (its binary port, picked by the
# system).

# binary_node_setup NAME BUILD_DIR: NODE and CLI from BUILD_DIR (exit 77, "skipped", when they
# are not built), TMP a new scratch directory, and an EXIT trap that stops the node, calls
# cleanup_extra if the script defines one, and removes TMP.
binary_node_setup() {
    NODE=$2/lxdexd
    CLI=$2/lxdex
    [ -x "$NODE" ] && [ -x "$CLI" ] || { echo "$1: binaries not built" >&2; exit 77; }
    TMP=$(mktemp -d "/tmp/$1-XXXXXX")
    pid=
    trap binary_node_cleanup EXIT
}

binary_node_cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    command -v cleanup_extra > /dev/null && cleanup_extra
    wait 2>/dev/null
    rm -rf "$TMP"
}

# The embedded development configuration with the binary port on 127.0.0.1:0, HTTP and
# WebSocket off, and the data in $TMP/data, on stdout.
binary_node_yaml() {
    "$NODE" --print-config |
        sed -e 's#^\(  binary: \).*#\1"127.0.0.1:0"#' -e 's#^\(  http: \).*#\1off#' \
            -e 's#^\(  ws: \).*#\1off#' -e "s#^\(  data_dir: \).*#\1\"$TMP/data\"#"
}

# Starts lxdexd with configuration file $1 (log in $TMP/node.log) and waits until it runs.
binary_node_start() {
    "$NODE" --config "$1" > "$TMP/node.log" 2>&1 &
    pid=$!
    port=
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        port=$(sed -n 's/^  binary *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/node.log" | head -1)
        [ -n "$port" ] && grep -q "running" "$TMP/node.log" && break
        sleep 0.2
    done
    [ -n "$port" ] || { cat "$TMP/node.log" >&2; fail "node did not start"; }
}
