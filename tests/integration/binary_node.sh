# binary_node.sh: sourced by the lxdex integration scripts that need a node speaking only the
# binary protocol. Expects NODE (the lxdexd binary), TMP (a scratch directory) and a function
# fail MESSAGE; sets pid (the node's) and port (its binary port, picked by the system).

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
