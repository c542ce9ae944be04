#!/bin/sh
# web_http.sh BUILD_DIR: the HTTP JSON API and JSON-RPC 2.0 of a real lxdexd, driven by curl.
#
# Starts lxdexd --demo on loopback (every port 0, read back from its output; a temporary data
# directory; limits.max_message_bytes 4096) and checks every endpoint (docs/api.md), every JSON-RPC
# method and error code, exact decimals both ways (JSON numbers in JSON-RPC, strings in our API),
# values off the grid, bad input (invalid JSON, unknown fields, unknown routes, wrong methods, an
# oversized body), the rate limit (429 with Retry-After) on a second node with a tiny bucket, and a
# clean stop on SIGTERM. Exit 0 on success, 77 when something needed is missing, 1 on failure.
set -u
BUILD=${1:-build}
BIN=$BUILD/lxdexd
[ -x "$BIN" ] || { echo "web_http: $BIN not built" >&2; exit 77; }
command -v curl >/dev/null || { echo "web_http: curl is not installed" >&2; exit 77; }
command -v jq >/dev/null || { echo "web_http: jq is not installed" >&2; exit 77; }
TMP=$(mktemp -d /tmp/lxdexd-http-XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
FAILS=0

fail() {
    echo "web_http: FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}

# start NAME EXTRA_SED: writes $TMP/NAME.yaml, starts lxdexd, sets PORT (http) and PID
start() {
    name=$1
    shift
    "$BIN" --print-config |
        sed -e 's#^\(  binary: \).*#\1"127.0.0.1:0"#' -e 's#^\(  http: \).*#\1"127.0.0.1:0"#' \
            -e 's#^\(  ws: \).*#\1"127.0.0.1:0"#' -e "s#^\(  data_dir: \).*#\1\"$TMP/$name\"#" \
            -e 's#^\(  max_message_bytes: \).*#\14096#' "$@" > "$TMP/$name.yaml"
    "$BIN" --config "$TMP/$name.yaml" --demo > "$TMP/$name.log" 2>&1 &
    PID=$!
    PIDS="$PIDS $PID"
    PORT=""
    for _ in $(seq 1 100); do
        sleep 0.1
        if grep -q "running" "$TMP/$name.log"; then
            PORT=$(sed -n 's/^  http *127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/$name.log")
            BPORT=$(sed -n 's/^  binary *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.log" | head -1)
            break
        fi
    done
    [ -n "$PORT" ] || { cat "$TMP/$name.log" >&2; exit 1; }
}

# req METHOD PATH [BODY]: sets CODE, BODY (and HDRS)
req() {
    if [ $# -ge 3 ]; then
        CODE=$(curl -s -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' -X "$1" \
            -H 'content-type: application/json' --data-binary "$3" "$URL$2")
    else
        CODE=$(curl -s -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' -X "$1" "$URL$2")
    fi
    BODY=$(cat "$TMP/body")
}

# expect CODE JQ_FILTER DESCRIPTION: the last response had CODE and the filter is true
expect() {
    if [ "$CODE" != "$1" ]; then
        fail "$3: status $CODE, expected $1: $BODY"
        return
    fi
    [ -z "$2" ] && return
    r=$(printf '%s' "$BODY" | jq -e "$2" 2>/dev/null) || { fail "$3: $2 is not true of $BODY"; return; }
    [ "$r" = "false" ] || [ "$r" = "null" ] && fail "$3: $2 is $r in $BODY"
}

rpc() { req POST /rpc "$1"; }

start main
URL=http://127.0.0.1:$PORT
sleep 1 # the demo client trades

# ---- queries --------------------------------------------------------------------------------
req GET /health
expect 200 '.status == "ok" and .devMode == true' "GET /health"

# ---- one request per connection ---------------------------------------------------------------
# Every response says "connection: close" and the connection is closed after it (docs/api.md §4).
# Pipelined requests (a GET, then a POST with its body, in one write) get the first answered and
# the connection closed; they once made lws spin in the web thread, and the engine with it.
python3 - "$PORT" > "$TMP/pipe.out" 2>&1 <<'EOF_PY' || fail "pipelined requests: $(cat "$TMP/pipe.out")"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
b = b'{"account":3}'
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + b"POST /v1/orders/cancel-all HTTP/1.1\r\n"
          b"Host: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
s.settimeout(5)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    sys.exit("the connection was not closed after the response: %r" % out)
if not out.startswith(b"HTTP/1.1 200") or b"connection: close" not in out.lower():
    sys.exit("not one response with connection: close: %r" % out)
EOF_PY
CODE=$(curl -s -m 5 -o "$TMP/body" -w '%{http_code}' "$URL/health")
[ "$CODE" = 200 ] || fail "the node answers after pipelined requests: $CODE"
req GET /v1/markets
grep -qi '^connection: close' "$TMP/hdrs" || fail "a response without connection: close: $(cat "$TMP/hdrs")"
req GET /v1/markets
expect 200 '.markets | length == 2 and .[0].symbol == "BTC-USD" and .[0].tickSize == "0.01" and .[0].lotSize == "0.0001"' "GET /v1/markets"
req GET '/v1/book/BTC-USD?depth=5'
expect 200 '(.bids | length) <= 5 and (.asks | length) <= 5 and (.checksum | type) == "number" and .seq > 0' "GET /v1/book"
req GET /v1/book/0
expect 200 '.market == "BTC-USD"' "GET /v1/book by id"
req GET /v1/book/eth-usd
expect 200 '.market == "ETH-USD"' "GET /v1/book, any case"
req GET /v1/book/DOGE-USD
expect 404 '.error.code == "not_found"' "unknown market"
req GET '/v1/book/BTC-USD?depth=0'
expect 400 '.error.code == "bad_request"' "depth 0"
req GET '/v1/book/BTC-USD?depth=abc'
expect 400 '.error.code == "bad_request"' "depth not a number"
req GET '/v1/trades/BTC-USD?limit=3'
expect 200 '(.trades | length) <= 3 and .market == "BTC-USD"' "GET /v1/trades"
req GET /v1/accounts/3/balances
expect 200 '.account == 3 and (.balances | map(.asset) | sort) == ["BTC","ETH","USD"]' "GET balances"
req GET /v1/accounts/99999999/balances
expect 404 '.error.code == "not_found"' "account out of range"
req GET /v1/accounts/3/orders
expect 200 '.account == 3 and (.orders | type) == "array"' "GET account orders"
req GET /v1/accounts/3/nothing
expect 404 '' "unknown account route"
req GET /metrics
[ "$CODE" = 200 ] && grep -q '^lx_node_stage_latency_seconds_bucket{stage="durable",le="+Inf"}' "$TMP/body" &&
    grep -q '^lx_journal_fsync_seconds_count' "$TMP/body" && grep -q '^lx_ring_occupancy{ring="web_in"}' "$TMP/body" &&
    grep -q '^lx_web_connections{kind="http"}' "$TMP/body" || fail "GET /metrics: $(head -c 300 "$TMP/body")"
grep -q 'content-type: text/plain; version=0.0.4' "$TMP/hdrs" || fail "metrics content type"
# the text format: every family has its TYPE line and its samples together
awk '/^# TYPE/ {type[$3] = $4; next} /^#/ {next}
     {n = $1; sub(/[{ ].*/, "", n); b = n
      if (b ~ /_(bucket|sum|count)$/) {c = b; sub(/_(bucket|sum|count)$/, "", c); if (type[c] == "histogram") b = c}
      if (!(b in type)) {print "no TYPE line: " b; bad = 1}
      if (b != last) {if (b in seen) {print "family split: " b; bad = 1}; seen[b] = 1; last = b}}
     END {exit bad}' "$TMP/body" > "$TMP/metrics.err" || fail "metrics format: $(head -3 "$TMP/metrics.err")"

# ---- order entry ----------------------------------------------------------------------------
req POST /v1/orders '{"account":11,"market":"BTC-USD","side":"buy","price":"100.25","size":"0.5","clientId":77}'
expect 200 '.status == "open" and .price == "100.25" and .size == "0.5" and .clientId == "77"' "place"
OID=$(printf '%s' "$BODY" | jq -r .orderId)
req GET "/v1/orders/$OID"
expect 200 '.orderId == "'"$OID"'" and .account == 11 and .remaining == "0.5" and .side == "buy"' "GET order"
req GET /v1/accounts/11/orders
expect 200 '[.orders[].orderId] | index("'"$OID"'") != null' "order in account orders"
req GET /v1/accounts/11/balances
expect 200 '.balances[] | select(.asset == "USD") | .locked != "0"' "funds locked"
req POST "/v1/orders/$OID/amend" '{"price":"100.5","size":"0.25"}'
expect 200 '.status == "amended" and .price == "100.5" and .size == "0.25"' "amend"
req POST "/v1/orders/$OID/amend" '{"price":"100.505","size":"0.25"}'
expect 400 '.error.message | test("grid")' "amend off the grid"
req DELETE "/v1/orders/$OID"
expect 200 '.status == "canceled"' "DELETE order"
req DELETE "/v1/orders/$OID"
expect 404 '' "cancel a canceled order"
req GET "/v1/orders/$OID"
expect 404 '.error.code == "not_found"' "GET a canceled order"
req POST /v1/orders '{"account":11,"market":"ETH-USD","side":"sell","price":"99999","size":"0.001"}'
OID2=$(printf '%s' "$BODY" | jq -r .orderId)
req POST "/v1/orders/$OID2/cancel"
expect 200 '.status == "canceled"' "POST .../cancel"
req POST /v1/orders '{"account":11,"market":"ETH-USD","side":"sell","price":"99999","size":"0.001"}'
req POST /v1/orders/cancel-all '{"account":11}'
expect 200 '.status == "canceled" and .canceled == 1' "cancel-all"
req POST /v1/orders '{"account":11,"market":"BTC-USD","side":"buy","price":"100.001","size":"0.5"}'
expect 400 '.error.code == "bad_request" and (.error.message | test("price.*grid.*0.01"))' "price off the grid"
req POST /v1/orders '{"account":11,"market":"BTC-USD","side":"buy","price":"100","size":"0.00001"}'
expect 400 '.error.message | test("size")' "size off the grid"
req POST /v1/orders '{"account":11,"market":"BTC-USD","side":"buy","price":"100","size":"0.5","colour":"red"}'
expect 400 '.error.message | test("unknown field \"colour\"")' "unknown field"
req POST /v1/orders '{"account":11,"market":"BTC-USD","side":"buy","price":1e2,"size":"0.5"}'
expect 400 '.error.message | test("price")' "exponent price"
req POST /v1/orders '{"account":11,"market":"BTC-USD","side":"buy","price":"100","size":"0.5"'
expect 400 '.error.code == "invalid_json"' "invalid JSON"
req POST /v1/orders '[1]'
expect 400 '.error.code == "bad_request"' "body not an object"
req POST /v1/orders '{"account":11,"market":"BTC-USD","side":"buy","price":"1000000","size":"1000"}'
expect 400 '.error.code == "rejected" and .error.reason == "INSUFFICIENT_FUNDS"' "engine rejection"
req POST /v1/orders "{\"account\":11,\"market\":\"BTC-USD\",\"side\":\"buy\",\"price\":\"1\",\"size\":\"1\",\"pad\":\"$(head -c 5000 /dev/zero | tr '\0' x)\"}"
expect 413 '.error.code == "too_large"' "oversized body"
req GET /v1/nothing
expect 404 '.error.code == "not_found"' "unknown route"
req PUT /v1/markets '{}'
expect 405 '.error.code == "method_not_allowed"' "wrong method"
req GET /rpc
expect 405 '' "GET /rpc"

# ---- JSON-RPC -------------------------------------------------------------------------------
rpc '{"jsonrpc":"2.0","id":1,"method":"lx_ping"}'
expect 200 '.result == "pong" and .id == 1' "lx_ping"
rpc '{"jsonrpc":"2.0","id":"s","method":"lx_getInfo"}'
expect 200 '.id == "s" and .result.devMode == true and (.result.markets | index("ETH-USD")) != null' "lx_getInfo"
rpc '{"jsonrpc":"2.0","id":1,"method":"lx_ping","params":{"bogus":1}}'
expect 200 '.error.code == -32602' "lx_ping with an unknown param"
rpc '{"jsonrpc":"2.0","id":1,"method":"lx_getInfo","params":{"bogus":1}}'
expect 200 '.error.code == -32602' "lx_getInfo with an unknown param"
EXP=$(( ($(date +%s) + 3600) * 1000000000 ))
rpc '{"jsonrpc":"2.0","id":3,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","type":0,"side":0,"price":1.25,"size":0.5,"userID":12,"timeInForce":"GTD","expiry":'$EXP'}}'
expect 200 '.result.status == "open"' "lx_placeOrder GTD with expiry"
GOID=$(printf '%s' "$BODY" | jq -r .result.orderId)
req GET "/v1/orders/$GOID"
expect 200 '.tif == "GTD"' "the RPC's GTD order rests as GTD"
rpc '{"jsonrpc":"2.0","id":4,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","type":0,"side":0,"price":1.25,"size":0.5,"userID":12,"timeInForce":"GTD"}}'
expect 200 '.error.code == -32602 and (.error.message | test("expiry"))' "lx_placeOrder GTD without expiry"
rpc '{"jsonrpc":"2.0","id":2,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","type":0,"side":0,"price":101.25,"size":0.5,"userID":12,"clientID":9}}'
expect 200 '.result.status == "open" and .result.orderId > 0' "lx_placeOrder"
grep -q '"price":101.25' "$TMP/body" && grep -q '"size":0.5' "$TMP/body" || fail "exact numbers in the answer: $BODY"
ROID=$(printf '%s' "$BODY" | jq -r .result.orderId)
rpc "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"lx_getOrder\",\"params\":{\"orderId\":$ROID}}"
expect 200 '.result.userID == 12 and .result.symbol == "BTC-USD"' "lx_getOrder"
grep -q '"price":101.25' "$TMP/body" || fail "lx_getOrder price: $BODY"
rpc "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"lx_cancelOrder\",\"params\":{\"orderId\":$ROID}}"
expect 200 '.result.status == "canceled"' "lx_cancelOrder"
rpc "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"lx_getOrder\",\"params\":{\"orderId\":$ROID}}"
expect 200 '.error.code == -32001' "lx_getOrder of a canceled order"
rpc '{"jsonrpc":"2.0","id":6,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","type":0,"side":0,"price":101.255,"size":0.5,"userID":12}}'
expect 200 '.error.code == -32602 and (.error.message | test("grid"))' "RPC price off the grid"
rpc '{"jsonrpc":"2.0","id":7,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","type":0,"side":0,"price":0.1,"size":0.00001,"userID":12}}'
expect 200 '.error.code == -32602 and (.error.message | test("size"))' "RPC size off the grid"
rpc '{"jsonrpc":"2.0","id":8,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","type":0,"side":0,"price":1000000,"size":1000,"userID":12}}'
expect 200 '.error.code == -32000 and .error.data.reason == "INSUFFICIENT_FUNDS"' "RPC engine rejection"
rpc '{"jsonrpc":"2.0","id":9,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","side":0,"price":1,"size":1,"userID":12,"leverage":5}}'
expect 200 '.error.code == -32602 and (.error.message | test("leverage"))' "RPC unknown param"
rpc '{"jsonrpc":"2.0","id":10,"method":"lx_getOrderBook","params":{"symbol":"BTC-USD","depth":3}}'
expect 200 '.result.Symbol == "BTC-USD" and (.result.Bids | length) <= 3 and .result.Sequence > 0 and (.result.Timestamp > 0)' "lx_getOrderBook"
rpc '{"jsonrpc":"2.0","id":11,"method":"lx_getBestBid","params":{"symbol":"BTC-USD"}}'
expect 200 '(.result.price | type) == "number"' "lx_getBestBid"
rpc '{"jsonrpc":"2.0","id":12,"method":"lx_getBestAsk","params":{"symbol":"ETH-USD"}}'
expect 200 '(.result.price | type) == "number"' "lx_getBestAsk"
rpc '{"jsonrpc":"2.0","id":13,"method":"lx_getTrades","params":{"symbol":"BTC-USD","limit":2}}'
expect 200 '(.result | length) <= 2' "lx_getTrades"
rpc '{"jsonrpc":"2.0","id":14,"method":"lx_getBestBid","params":{"symbol":"NOPE"}}'
expect 200 '.error.code == -32602' "RPC unknown symbol"
rpc '{"jsonrpc":"2.0","id":15,"method":"lx_nothing"}'
expect 200 '.error.code == -32601' "RPC unknown method"
rpc '{"jsonrpc":"2.0","id":16,"method":"lx_ping"'
expect 200 '.error.code == -32700 and .id == null' "RPC parse error"
rpc '{"id":17,"method":"lx_ping"}'
expect 200 '.error.code == -32600' "RPC without jsonrpc"
rpc '{"jsonrpc":"2.0","id":18,"method":5}'
expect 200 '.error.code == -32600' "RPC method not a string"
rpc '[]'
expect 200 '.error.code == -32600' "RPC empty batch"
rpc '{"jsonrpc":"2.0","id":{"a":1},"method":"lx_ping"}'
expect 200 '.error.code == -32600' "RPC id an object"
rpc '{"jsonrpc":"2.0","id":19,"method":"lx_getOrderBook","params":["BTC-USD"]}'
expect 200 '.error.code == -32602' "RPC positional params"
rpc '[{"jsonrpc":"2.0","id":20,"method":"lx_ping"},{"jsonrpc":"2.0","method":"lx_ping"},{"jsonrpc":"2.0","id":21,"method":"lx_placeOrder","params":{"symbol":"ETH-USD","type":0,"side":1,"price":"99999.5","size":"0.001","userID":12}},{"jsonrpc":"2.0","id":22,"method":"nope"}]'
expect 200 'length == 3 and (map(select(.id == 20))[0].result == "pong") and (map(select(.id == 21))[0].result.status == "open") and (map(select(.id == 22))[0].error.code == -32601)' "RPC batch (any order, as JSON-RPC allows)"
rpc '{"jsonrpc":"2.0","method":"lx_ping"}'
[ "$CODE" = 204 ] || fail "RPC notification: $CODE $BODY"
rpc '{"jsonrpc":"2.0","id":23,"method":"lx_placeOrder","params":{"symbol":"BTC-USD","type":1,"side":1,"size":0.0001,"userID":12}}'
expect 200 '.result.status == "filled" or .result.status == "canceled"' "RPC market order"

# ---- rate limit: a node whose client-address bucket is 2 requests --------------------------------
kill -TERM "$PID"
wait "$PID" || fail "lxdexd exit status $? on SIGTERM"
grep -q '^lxdexd: stopped at seq' "$TMP/main.log" || fail "no clean stop: $(tail -5 "$TMP/main.log")"
start rate -e '/^  per_connection:/,/burst/{s/\(rate: \).*/\11/;s/\(burst: \).*/\12/}'
URL=http://127.0.0.1:$PORT
req GET /health
req GET /health
req GET /health
expect 429 '.error.code == "rate_limited"' "rate limited"
grep -qi '^retry-after: [0-9]' "$TMP/hdrs" || fail "429 without Retry-After: $(cat "$TMP/hdrs")"
kill -TERM "$PID"
wait "$PID" || fail "lxdexd (rate) exit status $?"

# ---- two shards: BTC-USD in shard 0, ETH-USD in shard 1, each with its own journal ---------------
start shards -e 's/^shards: 1/shards: 2/' -e '/symbol: "ETH-USD"/,/shard:/s/shard: 0/shard: 1/'
URL=http://127.0.0.1:$PORT
grep -q '^lxdexd: 2 shards' "$TMP/shards.log" || fail "shards: no shard line: $(head -5 "$TMP/shards.log")"
req GET /health
expect 200 '.status == "ok"' "shards: health (every shard's start-up state loaded)"
rpc '{"jsonrpc":"2.0","id":1,"method":"lx_getInfo"}'
expect 200 '.result.shards == 2' "shards: lx_getInfo"
req GET /v1/accounts/60/balances
expect 200 '.balances[] | select(.asset == "USD") | .free == "200000"' "shards: the faucet paid both shards, balances sum them"
req POST /v1/orders '{"account":60,"market":"BTC-USD","side":"buy","price":"100.25","size":"0.5","clientId":1}'
expect 200 '.status == "open"' "shards: place BTC-USD"
SB=$(printf '%s' "$BODY" | jq -r .orderId)
req POST /v1/orders '{"account":60,"market":"ETH-USD","side":"sell","price":"99999","size":"0.001","clientId":2}'
expect 200 '.status == "open"' "shards: place ETH-USD"
SE=$(printf '%s' "$BODY" | jq -r .orderId)
[ $(( (SE >> 26) & 63 )) = 1 ] && [ $(( (SB >> 26) & 63 )) = 0 ] || fail "shards: order ids $SB $SE do not name their shards"
req GET "/v1/orders/$SE"
expect 200 '.market == "ETH-USD" and .account == 60' "shards: GET an order of shard 1"
req GET /v1/accounts/60/orders
expect 200 '.orders | length == 2' "shards: account orders from both shards"
req POST "/v1/orders/$SE/amend" '{"price":"99998","size":"0.002"}'
expect 200 '.status == "amended" and .orderId == "'"$SE"'"' "shards: amend in shard 1"
req POST /v1/orders/cancel-all '{"account":60}'
expect 200 '.status == "canceled" and .canceled == 2' "shards: cancel-all over both shards, answered once"
req GET /v1/accounts/60/orders
expect 200 '.orders | length == 0' "shards: nothing left open"
req POST /v1/orders '{"account":60,"market":"ETH-USD","side":"sell","price":"99999","size":"0.001","clientId":3}'
SE2=$(printf '%s' "$BODY" | jq -r .orderId)
# funds per shard: 100000 USD in each; a withdrawal names its shard
"$BUILD/lxdex" keygen --out "$TMP/owner61.key" > /dev/null
W="$BUILD/lxdex withdraw --node 127.0.0.1:$BPORT --config $TMP/shards.yaml --account 61 --key $TMP/owner61.key"
$W --shard 1 USD 60000 > "$TMP/w.out" 2>&1 || fail "shards: withdraw from shard 1: $(cat "$TMP/w.out")"
$W --shard 1 USD 60000 > "$TMP/w.out" 2>&1 && fail "shards: shard 1 paid more than it holds"
grep -q 'INSUFFICIENT_FUNDS' "$TMP/w.out" || fail "shards: second withdrawal: $(cat "$TMP/w.out")"
$W --shard 2 USD 1 > "$TMP/w.out" 2>&1 && fail "shards: a withdrawal from shard 2 of 2"
req GET /v1/accounts/61/balances
expect 200 '.balances[] | select(.asset == "USD") | .free == "140000"' "shards: balances after a withdrawal from shard 1"
kill -TERM "$PID"
wait "$PID" || fail "lxdexd (shards) exit status $?"
grep -q '^lxdexd: shard 1 stopped at seq' "$TMP/shards.log" || fail "shards: no clean stop: $(tail -5 "$TMP/shards.log")"
[ -d "$TMP/shards/shard-1" ] && [ "$(cat "$TMP/shards/SHARDS")" = 2 ] || fail "shards: data directory layout"
mv "$TMP/shards.log" "$TMP/shards-1.log"
start shards -e 's/^shards: 1/shards: 2/' -e '/symbol: "ETH-USD"/,/shard:/s/shard: 0/shard: 1/'
URL=http://127.0.0.1:$PORT
grep -q "recovered $TMP/shards/shard-1" "$TMP/shards.log" || fail "shards: shard 1 not recovered: $(head -8 "$TMP/shards.log")"
# queries answer 503 until every shard's start-up state has reached the web gateway: wait for it
# (/health says so), as a client would, instead of racing it (a loaded host loses that race)
for _ in $(seq 1 100); do
    req GET /health
    [ "$CODE" = 200 ] && break
    sleep 0.1
done
req GET "/v1/orders/$SE2"
expect 200 '.market == "ETH-USD" and .clientId == "3"' "shards: an order of shard 1 after a restart"
kill -TERM "$PID"
wait "$PID" || fail "lxdexd (shards, restarted) exit status $?"
"$BUILD/lxdex" journal verify "$TMP/shards" > "$TMP/verify.out" 2>&1 && grep -q '^all 2 shards OK' "$TMP/verify.out" ||
    fail "shards: lxdex journal verify: $(tail -3 "$TMP/verify.out")"
sed -e 's/^shards: 2/shards: 1/' -e 's/shard: 1/shard: 0/' "$TMP/shards.yaml" > "$TMP/shards1.yaml"
if timeout 10 "$BIN" --config "$TMP/shards1.yaml" > "$TMP/shards1.log" 2>&1; then
    fail "shards: a node with another number of shards started"
fi
grep -q "shards: 1, but .* holds the journals of 2 shards" "$TMP/shards1.log" || fail "shards: not the layout error: $(tail -3 "$TMP/shards1.log")"

if [ "$FAILS" -ne 0 ]; then
    echo "web_http: $FAILS failure(s)" >&2
    tail -20 "$TMP/main.log" >&2
    exit 1
fi
echo "web_http: ok"
