#!/usr/bin/python3
"""web_ws.py BUILD_DIR: the WebSocket JSON API of a real lxdexd, driven by Python's `websockets`
(Debian python3-websockets, 10.x), a client we did not write.

Starts lxdexd --demo on loopback (every port 0, read back from its output; a temporary data
directory; limits.max_message_bytes 8192, max_connections_per_ip 12, slow_subscriber_buffer_bytes
64 KiB) and checks:
  - ping/pong with the request id echoed (a number stays the same number);
  - l2: the snapshot, then every delta applied to it with its CRC32 checked after each one; a
    second snapshot (re-subscribe) equals the book built from the deltas, CRC included;
  - trades, bbo and l3 while the demo client trades;
  - logon, the account feeds (orders, fills, balances) and the actions place, amend, cancel,
    cancel_all, each answered by its id; a taking order's fills;
  - batch: three actions answered by id; a batch with one bad action is refused whole and nothing
    of it reaches the book;
  - bad input: invalid JSON, unknown type, unknown field, price off the grid, a binary frame, an
    action before logon, an oversized message (close 1009), too many connections (close 1013);
  - a signed logon in dev mode binds the first key of an account as its owner; another key is
    then refused;
  - a slow subscriber (reads nothing) is closed with code 1008 and a reason.
Then a second node outside dev mode (chain id 7, a bridge key), with Python's `nacl` (Debian
python3-nacl) as the signer we did not write:
  - signed envelopes: the bridge binds account 5's owner key and deposits, the owner approves an
    agent; an agent's signed place, its replay (NONCE_REPLAYED), a deposit not signed by the
    bridge and a tampered envelope (bad_signature);
  - logon by account number refused; an action before logon refused;
  - signed logon with the owner key, then place, amend, cancel, batch, cancel_all; with the agent
    key, a place; the owner revokes the agent: the agent's open session is refused
    (AGENT_REVOKED) and it cannot log on again;
  - refused, and the connection still not logged on: a bad signature, the right signature after a
    failed attempt (a challenge is good for one attempt), a key the account does not know, an
    agent key never approved, the owner key for another account, another connection's challenge
    signature replayed, a signature without any challenge;
  - after the node stops, `lxdex journal verify` re-verifies every signed command; restarted, the
    gateway knows the keys from the node's start-up state (owner in, revoked agent out).
Then a third node, without the demo (rate_limits.per_connection 20/s, burst 20;
slow_subscriber_buffer_bytes 4096):
  - a self-trade sends both fills and both order updates (maker and taker are two orders);
  - an l2 snapshot larger than slow_subscriber_buffer_bytes is delivered whole, and the connection
    stays usable;
  - binary frames are charged to the connection's rate bucket: rate_limited, then closed;
  - an error quoting client text cut inside a UTF-8 character is still answered (WebSocket and
    JSON-RPC);
  - a WebSocket upgrade on listen.http is refused.
Exit 0 on success, 77 when something needed is missing, 1 on failure.
"""
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from decimal import Decimal

try:
    import websockets
except ImportError:
    print("web_ws: python3-websockets is not installed", file=sys.stderr)
    sys.exit(77)

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.join(BUILD, "lxdexd")
if not os.access(BIN, os.X_OK):
    print("web_ws: %s not built" % BIN, file=sys.stderr)
    sys.exit(77)

try:
    import nacl.signing
except ImportError:
    print("web_ws: python3-nacl is not installed", file=sys.stderr)
    sys.exit(77)

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("web_ws: FAIL: " + what, file=sys.stderr)
    return cond


def start_node(tmp, extra=None, demo=True):
    cfg = subprocess.run([BIN, "--print-config"], capture_output=True, text=True, check=True).stdout
    subs = {
        r"^(  binary: ).*": r'\1"127.0.0.1:0"',
        r"^(  http: ).*": r'\1"127.0.0.1:0"',
        r"^(  ws: ).*": r'\1"127.0.0.1:0"',
        r"^(  data_dir: ).*": r'\1"%s/data"' % tmp,
        r"^(  max_message_bytes: ).*": r"\g<1>8192",
        r"^(  max_connections_per_ip: ).*": r"\g<1>12",
        r"^(  slow_subscriber_buffer_bytes: ).*": r"\g<1>65536",
    }
    subs.update(extra or {})  # extra wins
    for k, v in subs.items():
        cfg = re.sub(k, v, cfg, flags=re.M)
    with open(os.path.join(tmp, "node.yaml"), "w") as f:
        f.write(cfg)
    log = open(os.path.join(tmp, "node.log"), "w+")
    p = subprocess.Popen([BIN, "--config", os.path.join(tmp, "node.yaml")] +
                         (["--demo"] if demo else []), stdout=log, stderr=subprocess.STDOUT)
    http = ws = None
    for _ in range(100):
        time.sleep(0.1)
        log.seek(0)
        text = log.read()
        m1 = re.search(r"^  http +127\.0\.0\.1:(\d+)", text, re.M)
        m2 = re.search(r"^  ws +127\.0\.0\.1:(\d+)", text, re.M)
        if m1 and m2 and "running" in text:
            http, ws = int(m1.group(1)), int(m2.group(1))
            break
    # The gateway answers 503 until it has the node's start-up state; a
    # slow start (the sanitized build, a loaded host) is still loading it
    # when the log says "running".
    for _ in range(100 if http else 0):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/v1/markets" % http, timeout=5).close()
            break
        except urllib.error.HTTPError as e:
            if e.code != 503:
                break
            time.sleep(0.1)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    else:
        http = None
    if not http:
        log.seek(0)
        print(log.read(), file=sys.stderr)
        p.kill()
        sys.exit(1)
    return p, log, http, ws


def stop_node(p, log, what):
    """SIGTERM and a clean exit (status 0); the node's log on stderr once anything failed."""
    p.send_signal(signal.SIGTERM)
    rc = p.wait(30)
    check(rc == 0, "%s stops cleanly on SIGTERM (exit %s)" % (what, rc))
    if FAILS:
        log.seek(0)
        sys.stderr.write(log.read()[-4000:])


def discard_node(p, tmp):
    """After a run, passed or not: a node still up is killed, its directory removed."""
    if p and p.poll() is None:
        p.kill()
    shutil.rmtree(tmp, ignore_errors=True)


def get(http, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (http, path), timeout=5) as r:
        return json.loads(r.read())


class Market:
    def __init__(self, m):
        self.tick = Decimal(m["tickSize"])
        self.lot = Decimal(m["lotSize"])

    def ticks(self, s):
        return int(Decimal(s) / self.tick)

    def lots(self, s):
        return int(Decimal(s) / self.lot)


def crc(m, bids, asks):
    """docs/api.md: CRC-32 over the top 10 levels, bid0, ask0, bid1, ..., price then size, each
    int64 little-endian (ticks, lots)."""
    c = 0
    b = sorted(bids.items(), key=lambda kv: -kv[0])[:10]
    a = sorted(asks.items(), key=lambda kv: kv[0])[:10]
    for i in range(10):
        for side in (b, a):
            if i < len(side):
                p, q = side[i]
                c = zlib.crc32(p.to_bytes(8, "little", signed=True) + q.to_bytes(8, "little",
                                                                                   signed=True), c)
    return c


def book_of(m, snap):
    bids = {m.ticks(p): m.lots(q) for p, q, _ in snap["bids"]}
    asks = {m.ticks(p): m.lots(q) for p, q, _ in snap["asks"]}
    return bids, asks


async def recv(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, pred, timeout=5.0, keep=None):
    """Messages until pred(msg); the others go to keep (a list) if given."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError()
        msg = await recv(ws, left)
        if pred(msg):
            return msg
        if keep is not None:
            keep.append(msg)


async def test_ping(url):
    async with websockets.connect(url) as ws:
        await ws.send('{"type":"ping","id":12345678901234567890}')
        raw = await asyncio.wait_for(ws.recv(), 5)
        check('"id":12345678901234567890' in raw and '"pong"' in raw, "pong echoes a big number id")
        await ws.send('{"type":"ping","id":"abc"}')
        check((await recv(ws))["id"] == "abc", "pong echoes a string id")


async def test_l2(url, markets):
    m = markets["BTC-USD"]
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send('{"type":"subscribe","channel":"l2","market":"BTC-USD","id":1}')
        ack = await recv(ws)
        check(ack.get("type") == "subscribed" and ack.get("id") == 1, "l2 subscribed: %s" % ack)
        snap = await recv(ws)
        check(snap.get("type") == "l2_snapshot", "l2 snapshot first: %s" % str(snap)[:200])
        bids, asks = book_of(m, snap)
        check(crc(m, bids, asks) == snap["checksum"], "snapshot checksum")
        seq = snap["seq"]
        deltas = 0
        end = time.monotonic() + 3.0
        while time.monotonic() < end or deltas < 5:
            if time.monotonic() > end + 10:
                break
            d = await recv(ws)
            if d["type"] != "l2":
                continue
            check(d["seq"] > seq, "delta seq increases (%d after %d)" % (d["seq"], seq))
            seq = d["seq"]
            side = bids if d["side"] == "buy" else asks
            p, q = m.ticks(d["price"]), m.lots(d["size"])
            if q == 0:
                side.pop(p, None)
            else:
                side[p] = q
            deltas += 1
            if not check(crc(m, bids, asks) == d["checksum"], "delta checksum at seq %d" % seq):
                return
        check(deltas >= 5, "l2 deltas arrive while the demo trades (%d)" % deltas)
        # a fresh snapshot, in stream order: it must equal the book built from the deltas
        await ws.send('{"type":"subscribe","channel":"l2","market":"BTC-USD","id":2}')
        later = []
        await recv_until(ws, lambda x: x.get("type") == "subscribed" and x.get("id") == 2,
                         keep=later)
        for d in later:  # deltas that were already on the way
            if d["type"] == "l2":
                side = bids if d["side"] == "buy" else asks
                p, q = m.ticks(d["price"]), m.lots(d["size"])
                if q == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        snap2 = await recv(ws)
        b2, a2 = book_of(m, snap2)
        check(snap2["type"] == "l2_snapshot", "second snapshot")
        check(b2 == bids and a2 == asks, "deltas applied to the snapshot give the later snapshot")
        check(crc(m, b2, a2) == snap2["checksum"] == crc(m, bids, asks), "later snapshot CRC")
        print("web_ws: l2 ok (%d deltas checked, seq %d -> %d)" % (deltas, snap["seq"], snap2["seq"]))


async def test_market_feeds(url):
    async with websockets.connect(url, max_size=None) as ws:
        for i, ch in enumerate(("trades", "bbo", "l3")):
            await ws.send(json.dumps({"type": "subscribe", "channel": ch, "market": "BTC-USD",
                                      "id": i}))
        seen = set()
        end = time.monotonic() + 10
        while time.monotonic() < end and not {"trade", "bbo", "l3", "l3_snapshot"} <= seen:
            seen.add((await recv(ws))["type"])
        for t in ("trade", "bbo", "l3", "l3_snapshot"):
            check(t in seen, "market feed message %s" % t)


async def logon(ws, account):
    await ws.send(json.dumps({"type": "logon", "account": account, "id": "L"}))
    r = await recv(ws)
    check(r.get("type") == "logon" and r.get("account") == account, "logon: %s" % r)


async def result(ws, rid, timeout=5.0, keep=None):
    return await recv_until(ws, lambda x: x.get("id") == rid and x.get("type") in ("result",
                                                                                  "error"),
                            timeout, keep)


async def test_actions(url, http):
    acct = 7
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send('{"type":"place","id":1,"market":"BTC-USD","side":"buy","price":"1","size":"1"}')
        r = await recv(ws)
        check(r.get("code") == "not_logged_on", "an action before logon: %s" % r)
        await logon(ws, acct)
        for ch in ("orders", "fills", "balances"):
            await ws.send(json.dumps({"type": "subscribe", "channel": ch, "id": ch}))
        got = []
        await recv_until(ws, lambda x: x.get("type") == "balances_snapshot", keep=got)
        check(any(x.get("type") == "orders_snapshot" for x in got), "orders snapshot")
        # place far below the market: rests
        await ws.send('{"type":"place","id":"p1","market":"BTC-USD","side":"buy","price":"100.5",'
                      '"size":"0.01","clientId":42}')
        feed = []
        r = await result(ws, "p1", keep=feed)
        res = r.get("result", {})
        check(r["type"] == "result" and res.get("status") == "open", "place rests: %s" % r)
        oid = res.get("orderId")
        await ws.send(json.dumps({"type": "amend", "id": "a1", "orderId": oid, "price": "100.6",
                                  "size": "0.02"}))
        r = await result(ws, "a1", keep=feed)
        check(r.get("result", {}).get("status") == "amended", "amend: %s" % r)
        check(get(http, "/v1/orders/%s" % oid)["price"] == "100.6", "amend visible over HTTP")
        await ws.send(json.dumps({"type": "cancel", "id": "c1", "orderId": oid}))
        r = await result(ws, "c1", keep=feed)
        check(r.get("result", {}).get("status") == "canceled", "cancel: %s" % r)
        await ws.send(json.dumps({"type": "cancel", "id": "c2", "orderId": oid}))
        r = await result(ws, "c2", keep=feed)
        check(r.get("result", {}).get("status") == "rejected" and
              r["result"].get("reason") == "UNKNOWN_ORDER" or r.get("type") == "error",
              "cancel of a canceled order: %s" % r)
        # take liquidity: a buy at the best ask
        book = get(http, "/v1/book/BTC-USD?depth=1")
        if book["asks"]:
            px = book["asks"][0][0]
            await ws.send(json.dumps({"type": "place", "id": "t1", "market": "BTC-USD",
                                      "side": "buy", "price": px, "size": "0.0001",
                                      "tif": "IOC"}))
            r = await result(ws, "t1", keep=feed)
            res = r.get("result", {})
            check(res.get("status") in ("filled", "canceled"), "IOC taker: %s" % r)
            if res.get("status") == "filled":
                check(res.get("fills") and res["fills"][0]["liquidity"] == "taker",
                      "taker fills listed: %s" % res)
                end = time.monotonic() + 3
                while time.monotonic() < end and not any(x.get("type") == "fill" for x in feed):
                    try:
                        feed.append(await recv(ws, 0.5))
                    except asyncio.TimeoutError:
                        pass
                check(any(x.get("type") == "fill" and x.get("account") == acct for x in feed),
                      "fills feed")
        types = {x.get("type") for x in feed}
        check("order" in types, "orders feed: %s" % types)
        check("balance" in types, "balances feed: %s" % types)
        # cancel_all
        for i in range(2):
            await ws.send(json.dumps({"type": "place", "id": "q%d" % i, "market": "ETH-USD",
                                      "side": "sell", "price": "99999", "size": "0.001"}))
            await result(ws, "q%d" % i)
        await ws.send('{"type":"cancel_all","id":"ca"}')
        r = await result(ws, "ca")
        check(r.get("result", {}).get("canceled") == 2, "cancel_all: %s" % r)
        # batch: all answered by id
        acts = [{"type": "place", "id": "b%d" % i, "market": "ETH-USD", "side": "buy",
                 "price": "10.%d" % i, "size": "0.001"} for i in range(3)]
        await ws.send(json.dumps({"type": "batch", "id": "B", "actions": acts}))
        ids = set()
        for _ in range(3):
            r = await recv_until(ws, lambda x: x.get("type") in ("result", "error"))
            ids.add(r.get("id"))
            check(r.get("result", {}).get("status") == "open", "batch action: %s" % r)
        check(ids == {"b0", "b1", "b2"}, "batch answered by id: %s" % ids)
        n_before = len(get(http, "/v1/accounts/%d/orders" % acct)["orders"])
        bad = acts + [{"type": "place", "id": "bx", "market": "ETH-USD", "side": "buy",
                       "price": "10.001", "size": "0.001"}]
        await ws.send(json.dumps({"type": "batch", "id": "B2", "actions": bad}))
        r = await result(ws, "B2")
        check(r.get("type") == "error" and "actions[3]" in r.get("message", "") and
              "grid" in r.get("message", ""), "a bad batch is refused whole: %s" % r)
        await asyncio.sleep(0.3)
        check(len(get(http, "/v1/accounts/%d/orders" % acct)["orders"]) == n_before,
              "nothing of a refused batch was applied")
        booly = [acts[0], dict(acts[1], id=True)]
        await ws.send(json.dumps({"type": "batch", "id": "B4", "actions": booly}))
        r = await result(ws, "B4")
        check(r.get("type") == "error" and "actions[1]: id" in r.get("message", ""),
              "an action's id of true is refused, as a message's is: %s" % r)
        await asyncio.sleep(0.3)
        check(len(get(http, "/v1/accounts/%d/orders" % acct)["orders"]) == n_before,
              "nothing of a batch with a bad id was applied")
        big = {"type": "batch", "id": "B3", "actions": acts * 17}
        await ws.send(json.dumps(big)[:8000] if len(json.dumps(big)) > 8192 else json.dumps(big))
        r = await recv(ws)
        check(r.get("type") == "error", "batch over 50 actions or malformed: %s" % r)


async def test_bad_input(url):
    async with websockets.connect(url) as ws:
        cases = [
            ("{not json", "invalid_json"),
            ('{"type":"frobnicate","id":1}', "unknown_type"),
            ('{"type":"ping","id":1,"extra":true}', "bad_request"),
            ('[1,2,3]', "bad_request"),
            ('{"type":"subscribe","channel":"l2","market":"DOGE-USD"}', "not_found"),
            ('{"type":"subscribe","channel":"nope","market":"BTC-USD"}', "bad_request"),
            ('{"type":"logon","account":"x"}', "bad_request"),
        ]
        for text, code in cases:
            await ws.send(text)
            r = await recv(ws)
            check(r.get("type") == "error" and r.get("code") == code,
                  "%s -> %s, got %s" % (text, code, r))
        await logon(ws, 9)
        await ws.send('{"type":"place","id":3,"market":"BTC-USD","side":"buy","price":"1.001",'
                      '"size":"1"}')
        r = await recv(ws)
        check(r.get("code") == "bad_request" and "grid" in r.get("message", ""),
              "price off the grid: %s" % r)
        await ws.send('{"type":"place","id":4,"market":"BTC-USD","side":"buy","price":1.5e2,'
                      '"size":"1"}')
        r = await recv(ws)
        check(r.get("code") == "bad_request", "exponent number refused: %s" % r)
        await ws.send('{"type":"place","id":5,"market":"BTC-USD","side":"up","price":"1",'
                      '"size":"1"}')
        r = await recv(ws)
        check(r.get("code") == "bad_request" and "side" in r.get("message", ""), "bad side: %s" % r)
        await ws.send(b"\x01\x02binary")
        r = await recv(ws)
        check(r.get("code") == "bad_request" and "binary" in r.get("message", ""),
              "binary frame refused: %s" % r)
        await ws.send('{"type":"ping","id":6}')
        check((await recv(ws)).get("type") == "pong", "still usable after errors")
    async with websockets.connect(url) as ws:
        await ws.send('{"type":"ping","pad":"%s"}' % ("x" * 9000))
        r = await recv(ws)
        check(r.get("code") == "too_large", "oversized message: %s" % r)
        try:
            await asyncio.wait_for(ws.recv(), 5)
            check(False, "oversized message closes the connection")
        except websockets.ConnectionClosed as e:
            check(e.code == 1009, "oversized: close code 1009 (%s)" % e.code)


async def test_too_many(url):
    conns = []
    try:
        for _ in range(11):  # with this test's own connection counted by nobody else: 12 allowed
            conns.append(await websockets.connect(url))
        extra = []
        refused = None
        for _ in range(3):
            ws = await websockets.connect(url)
            extra.append(ws)
            try:
                r = await recv(ws, 2)
                if r.get("code") == "unavailable":
                    refused = ws
                    break
            except asyncio.TimeoutError:
                pass
        check(refused is not None, "connections over max_connections_per_ip are refused")
        if refused:
            try:
                await asyncio.wait_for(refused.recv(), 5)
            except websockets.ConnectionClosed as e:
                check(e.code == 1013 and "max_connections" in e.reason,
                      "refused: close 1013 with a reason (%s %s)" % (e.code, e.reason))
        for ws in extra:
            await ws.close()
    finally:
        for ws in conns:
            await ws.close()


async def test_slow(url):
    """A subscriber that stops reading while another client makes the book move: its output
    queue passes slow_subscriber_buffer_bytes (64 KiB here) and it is closed with 1008."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    sock.connect(("127.0.0.1", port))
    slow = await websockets.connect(url, sock=sock, max_queue=1, max_size=None)
    try:
        for ch in ("l2", "l3"):
            await slow.send(json.dumps({"type": "subscribe", "channel": ch, "market": "ETH-USD"}))
        # another client places 2,000 orders on distinct levels for each of 4 accounts
        async with websockets.connect(url, max_size=None) as ws:
            for acct in range(30, 34):
                await ws.send(json.dumps({"type": "logon", "account": acct}))
                await recv(ws)
                for b in range(40):
                    acts = [{"type": "place", "id": i, "market": "ETH-USD", "side": "sell",
                             "price": "%d.%02d" % (90000 + acct, i + 50 * (b % 2)),
                             "size": "0.001"} for i in range(50)]
                    await ws.send(json.dumps({"type": "batch", "actions": acts}))
                    for _ in range(50):
                        await recv(ws)
                await ws.send('{"type":"cancel_all","id":"x"}')
                await result(ws, "x")
                # one logon per connection: reconnect for the next account
                await ws.close()
                ws = await websockets.connect(url, max_size=None)
            await ws.close()
        code = reason = None
        try:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
        except websockets.ConnectionClosed as e:
            code, reason = e.code, e.reason
        except asyncio.TimeoutError:
            pass
        check(code == 1008 and "slow subscriber" in (reason or ""),
              "slow subscriber closed with 1008 and a reason (%s %r)" % (code, reason))
    finally:
        await slow.close()


async def test_cancel_cid_many(url):
    # a cancel by clientId without a market finds the order among all the account's open
    # orders (it once looked at 64 of them only, then asked for the market)
    async with websockets.connect(url, max_size=None) as ws:
        await logon(ws, 43)
        for i in range(150):
            await ws.send(json.dumps({"type": "place", "id": "m%d" % i, "market": "BTC-USD",
                                      "side": "buy", "price": "100", "size": "0.0001",
                                      "clientId": 5000 + i}))
            r = await result(ws, "m%d" % i)
            check(r.get("result", {}).get("status") == "open", "place %d: %s" % (i, r))
        for cid in range(5000, 5150):  # every one of them
            await ws.send(json.dumps({"type": "cancel", "id": "c%d" % cid, "clientId": cid}))
            r = await result(ws, "c%d" % cid)
            check(r.get("result", {}).get("status") == "canceled",
                  "cancel by clientId %d of 150 open orders, no market: %s" % (cid, r))
        await ws.send(json.dumps({"type": "cancel_all", "id": "ca"}))
        await result(ws, "ca")


async def main(http, wsport):
    url = "ws://127.0.0.1:%d" % wsport
    markets = {m["symbol"]: Market(m) for m in get(http, "/v1/markets")["markets"]}
    for name, fn in (("ping", lambda: test_ping(url)), ("l2", lambda: test_l2(url, markets)),
                     ("market feeds", lambda: test_market_feeds(url)),
                     ("actions", lambda: test_actions(url, http)),
                     ("cancel by clientId among many", lambda: test_cancel_cid_many(url)),
                     ("bad input", lambda: test_bad_input(url)),
                     ("dev signed logon", lambda: test_dev_signed(url)),
                     ("too many connections", lambda: test_too_many(url)),
                     ("slow subscriber", lambda: test_slow(url))):
        try:
            await asyncio.wait_for(fn(), 60)
            print("web_ws: %s done" % name)
        except Exception as e:  # a failure of one part must not hide the others
            check(False, "%s: %s: %s" % (name, type(e).__name__, e))


# ---- outside dev mode: signed envelopes and the signed logon (docs/signing.md) -------------------

CHAIN = 7


def cmd_bytes(ctype, body):
    """A command in the codec's canonical form (docs/codec.md): version 2, type, body length,
    seq 0, ts 0, body."""
    return struct.pack("<BBHQq", 2, ctype, len(body), 0, 0) + body


def bind_key(acct, pk):
    return cmd_bytes(14, struct.pack("<I", acct) + pk)


def deposit(acct, asset, amount, dep_id):
    return cmd_bytes(5, struct.pack("<IIqQ", acct, asset, amount, dep_id))


def approve_agent(acct, pk, name, expiry):
    return cmd_bytes(15, struct.pack("<I", acct) + pk + name.ljust(16, b"\0") +
                     struct.pack("<q", expiry))


def revoke_agent(acct, pk):
    return cmd_bytes(16, struct.pack("<I", acct) + pk)


def place(acct, market, price, qty, side=0, client_id=0):
    return cmd_bytes(8, struct.pack("<IIqqQqBBBB", acct, market, price, qty, client_id, 0, side,
                                    0, 0, 0))


def envelope(sk, nonce, cmd, chain=CHAIN):
    """docs/signing.md: the 64-byte header, the command, then the signature of both."""
    payload = (b"LXDEX-ACTION-V1\0" + struct.pack("<II", chain, 0) + bytes(sk.verify_key) +
               struct.pack("<Q", nonce) + cmd)
    return payload + sk.sign(payload).signature


def logon_sig(sk, acct, challenge_hex, pk=None, chain=None):
    """The 88-byte logon payload of docs/signing.md, signed."""
    pk = pk or bytes(sk.verify_key)
    p = (b"LXDEX-LOGON-V1\0\0" + struct.pack("<II", chain or CHAIN, acct) +
         bytes.fromhex(challenge_hex) + pk)
    return sk.sign(p).signature.hex()


async def ask(ws, msg, rid):
    msg = dict(msg, id=rid)
    await ws.send(json.dumps(msg))
    return await recv_until(ws, lambda x: x.get("id") == rid)


async def challenge(ws, acct, pk):
    r = await ask(ws, {"type": "logon", "account": acct, "key": pk.hex()}, "ch")
    check(r.get("type") == "challenge" and len(r.get("challenge", "")) == 64 and
          r.get("key") == pk.hex() and r.get("account") == acct, "challenge: %s" % r)
    return r.get("challenge", "00" * 32)


async def signed_logon(ws, sk, acct, pk=None, chain=None):
    pk = pk or bytes(sk.verify_key)
    ch = await challenge(ws, acct, pk)
    return await ask(ws, {"type": "logon", "account": acct, "key": pk.hex(),
                          "signature": logon_sig(sk, acct, ch, pk, chain)}, "lg"), ch


async def test_dev_signed(url):
    """Dev mode has no bridge: the first key that logs on for an account becomes its owner (a
    BIND_KEY the gateway journals), as on the binary protocol; another key is then refused."""
    first, second = (nacl.signing.SigningKey(bytes([i]) * 32) for i in (21, 22))
    async with websockets.connect(url) as ws:
        r, _ = await signed_logon(ws, first, 40, chain=1)
        check(r.get("type") == "logon" and r.get("role") == "owner", "dev signed logon: %s" % r)
        r = await ask(ws, {"type": "place", "market": "BTC-USD", "side": "buy", "price": "100",
                           "size": "0.01"}, "dp")
        check(r.get("result", {}).get("status") == "open", "dev signed session places: %s" % r)
    async with websockets.connect(url) as ws:
        r, _ = await signed_logon(ws, second, 40, chain=1)
        check(r.get("code") == "unauthorized", "dev: a second key for a bound account: %s" % r)
        r, _ = await signed_logon(ws, first, 40, chain=1)
        check(r.get("role") == "owner", "dev: the bound key logs on again: %s" % r)


async def test_signed(url):
    bridge, owner, agent, stranger = (nacl.signing.SigningKey(bytes([i]) * 32) for i in (1, 2, 3, 4))
    opk, apk = bytes(owner.verify_key), bytes(agent.verify_key)
    acct = 5
    async with websockets.connect(url, max_size=None) as ws:
        # the bridge binds the owner key and funds the account; the owner approves an agent
        expiry = time.time_ns() + 3600 * 10**9
        for i, (sk, nonce, cmd) in enumerate((
                (bridge, 1, bind_key(acct, opk)),
                (bridge, 2, deposit(acct, 0, 10**12, 1)),
                (bridge, 3, deposit(acct, 1, 10**9, 2)),
                (owner, 1, approve_agent(acct, apk, b"bot", expiry)))):
            r = await ask(ws, {"type": "signed", "envelope": envelope(sk, nonce, cmd).hex()}, i)
            check(r.get("type") == "result" and r["result"].get("status") == "applied",
                  "signed setup %d: %s" % (i, r))
        env = envelope(owner, 2, deposit(acct, 0, 10**12, 3))
        r = await ask(ws, {"type": "signed", "envelope": env.hex()}, "d")
        check(r.get("code") == "bad_signature" and "bridge" in r.get("message", ""),
              "a deposit not signed by the bridge: %s" % r)
        env = bytearray(envelope(owner, 2, place(acct, 0, 10000, 1)))
        env[70] ^= 1
        r = await ask(ws, {"type": "signed", "envelope": env.hex()}, "t")
        check(r.get("code") == "bad_signature", "a tampered envelope: %s" % r)
        env = envelope(bridge, 4, deposit(acct, 0, 10**6, 4))
        r = await ask(ws, {"type": "signed", "envelope": env.hex(), "shard": 1}, "sh1")
        check(r.get("code") == "bad_request" and "shard" in r.get("message", ""),
              "a deposit into shard 1 of a one-shard node: %s" % r)
        r = await ask(ws, {"type": "signed", "envelope": env.hex(), "shard": 0}, "sh0")
        check(r.get("type") == "result" and r["result"].get("status") == "applied",
              "a deposit into shard 0: %s" % r)
        env = envelope(agent, 1, place(acct, 0, 10000, 1, client_id=77))
        r = await ask(ws, {"type": "signed", "envelope": env.hex()}, "sp")
        check(r.get("type") == "result" and r["result"].get("status") == "open" and
              r["result"].get("clientId") == "77", "an agent's signed place: %s" % r)
        r = await ask(ws, {"type": "signed", "envelope": env.hex()}, "sp2")
        check(r.get("result", {}).get("reason") == "NONCE_REPLAYED",
              "a replayed signed place: %s" % r)
        # no order entry before a logon, and no logon by account number
        r = await ask(ws, {"type": "place", "market": "BTC-USD", "side": "buy", "price": "100",
                           "size": "0.01"}, "p0")
        check(r.get("code") == "not_logged_on", "an action before logon: %s" % r)
        r = await ask(ws, {"type": "logon", "account": acct}, "l0")
        check(r.get("code") == "unauthorized" and "dev mode" in r.get("message", ""),
              "logon by account number outside dev mode: %s" % r)
        r = await ask(ws, {"type": "subscribe", "channel": "orders", "account": acct}, "s0")
        check(r.get("code") == "unauthorized", "account channel before a signed logon: %s" % r)
        # the owner logs on by signing a challenge, then trades
        r, used = await signed_logon(ws, owner, acct)
        check(r.get("type") == "logon" and r.get("role") == "owner" and r.get("account") == acct,
              "signed logon (owner): %s" % r)
        r = await ask(ws, {"type": "subscribe", "channel": "orders", "account": acct + 1}, "s1")
        check(r.get("code") == "unauthorized", "another account's channel: %s" % r)
        r = await ask(ws, {"type": "place", "market": "BTC-USD", "side": "buy", "price": "100",
                           "size": "0.01", "clientId": 9}, "p1")
        check(r.get("type") == "result" and r["result"].get("status") == "open",
              "place after a signed logon: %s" % r)
        oid = r.get("result", {}).get("orderId")
        r = await ask(ws, {"type": "amend", "orderId": oid, "price": "101", "size": "0.02"}, "a1")
        check(r.get("result", {}).get("status") == "amended", "amend: %s" % r)
        r = await ask(ws, {"type": "cancel", "orderId": oid}, "c1")
        check(r.get("result", {}).get("status") == "canceled", "cancel: %s" % r)
        acts = [{"type": "place", "id": "b%d" % i, "market": "BTC-USD", "side": "sell",
                 "price": "5000", "size": "0.01"} for i in range(2)]
        await ws.send(json.dumps({"type": "batch", "id": "B", "actions": acts}))
        for _ in range(2):
            r = await recv_until(ws, lambda x: x.get("type") in ("result", "error"))
            check(r.get("result", {}).get("status") == "open", "batch after a signed logon: %s" % r)
        r = await ask(ws, {"type": "cancel_all"}, "ca")
        check(r.get("result", {}).get("canceled") == 3, "cancel_all: %s" % r)
        r = await ask(ws, {"type": "logon", "account": acct, "key": opk.hex()}, "again")
        check(r.get("code") == "bad_request" and "already" in r.get("message", ""),
              "a second logon: %s" % r)
    async with websockets.connect(url) as ws:
        r, _ = await signed_logon(ws, agent, acct)
        check(r.get("type") == "logon" and r.get("role") == "agent", "signed logon (agent): %s" % r)
        r = await ask(ws, {"type": "place", "market": "BTC-USD", "side": "buy", "price": "99",
                           "size": "0.01"}, "p2")
        check(r.get("result", {}).get("status") == "open", "an agent's session places: %s" % r)
        # the owner revokes the agent: its open session ends at once (1008; the engine refuses
        # the key's commands from then on anyway), so it no longer gets the account's feeds,
        # and it cannot log on again
        async with websockets.connect(url) as ow:
            env = envelope(owner, 3, revoke_agent(acct, apk))
            r = await ask(ow, {"type": "signed", "envelope": env.hex()}, "rv")
            check(r.get("result", {}).get("status") == "applied", "revoke the agent: %s" % r)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 8)
        except websockets.ConnectionClosed as e:
            check(e.code == 1008 and "revoked" in e.reason,
                  "a revoked agent's open session is closed: %s %s" % (e.code, e.reason))
        except asyncio.TimeoutError:
            check(False, "a revoked agent's open session stays open")
    async with websockets.connect(url) as ws:
        r, _ = await signed_logon(ws, agent, acct)
        check(r.get("code") == "unauthorized" and "revoked" in r.get("message", ""),
              "a revoked agent logs on: %s" % r)

    async def refused(ws, what):
        r = await ask(ws, {"type": "place", "market": "BTC-USD", "side": "buy", "price": "98",
                           "size": "0.01"}, "px")
        check(r.get("code") == "not_logged_on", "%s: still not logged on: %s" % (what, r))

    async with websockets.connect(url) as ws:
        ch = await challenge(ws, acct, opk)
        bad = logon_sig(stranger, acct, ch, opk)  # signed by another key than the one named
        r = await ask(ws, {"type": "logon", "account": acct, "key": opk.hex(), "signature": bad},
                      "b1")
        check(r.get("code") == "unauthorized" and "does not verify" in r.get("message", ""),
              "a bad logon signature: %s" % r)
        await refused(ws, "bad signature")
        good = logon_sig(owner, acct, ch)
        r = await ask(ws, {"type": "logon", "account": acct, "key": opk.hex(), "signature": good},
                      "b2")
        check(r.get("code") == "unauthorized" and "without a challenge" in r.get("message", ""),
              "a challenge is good for one attempt: %s" % r)
        r, _ = await signed_logon(ws, stranger, acct)
        check(r.get("code") == "unauthorized" and "not this account" in r.get("message", ""),
              "a key the account does not know: %s" % r)
        r, _ = await signed_logon(ws, nacl.signing.SigningKey(bytes([9]) * 32), acct)
        check(r.get("code") == "unauthorized" and "approved" in r.get("message", ""),
              "an agent key never approved: %s" % r)
        r, _ = await signed_logon(ws, owner, acct + 1)
        check(r.get("code") == "unauthorized", "the owner key for another account: %s" % r)
        await refused(ws, "wrong keys")
        # the signature another connection used, over its own (older) challenge
        await challenge(ws, acct, opk)
        old = logon_sig(owner, acct, used)
        r = await ask(ws, {"type": "logon", "account": acct, "key": opk.hex(), "signature": old},
                      "r1")
        check(r.get("code") == "unauthorized" and "does not verify" in r.get("message", ""),
              "an old challenge's signature replayed: %s" % r)
        await refused(ws, "replay")
    async with websockets.connect(url) as ws:
        r = await ask(ws, {"type": "logon", "account": acct, "key": opk.hex(),
                           "signature": logon_sig(owner, acct, used)}, "r2")
        check(r.get("code") == "unauthorized" and "without a challenge" in r.get("message", ""),
              "a replayed signature on a connection with no challenge: %s" % r)
        r, _ = await signed_logon(ws, owner, acct)
        check(r.get("role") == "owner", "the connection is usable after refusals: %s" % r)


def post(http, path, body):
    """(status, JSON body) of a POST, error statuses included."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (http, path), data=body.encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_http_signed(http):
    """POST /v1/signed outside dev mode: a signed place is applied, bad envelopes refused."""
    owner = nacl.signing.SigningKey(bytes([2]) * 32)
    env = envelope(owner, 2**62, place(5, 0, 10000, 1, client_id=4242))
    st, r = post(http, "/v1/signed", json.dumps({"envelope": env.hex()}))
    check(st == 200 and r.get("status") == "open" and r.get("clientId") == "4242",
          "HTTP signed place: %s %s" % (st, r))
    st, r = post(http, "/v1/signed", json.dumps({"envelope": env.hex()}))
    check(st == 400 and r.get("error", {}).get("reason") == "NONCE_REPLAYED",
          "HTTP signed place replayed: %s %s" % (st, r))
    bad = bytearray(envelope(owner, 2**62 + 1, place(5, 0, 10000, 1)))
    bad[70] ^= 1
    st, r = post(http, "/v1/signed", json.dumps({"envelope": bad.hex()}))
    check(st == 401 and r.get("error", {}).get("code") == "bad_signature",
          "HTTP tampered envelope: %s %s" % (st, r))
    st, r = post(http, "/v1/signed", json.dumps({"envelope": "zz"}))
    check(st == 400, "HTTP envelope not hexadecimal: %s %s" % (st, r))
    st, r = post(http, "/v1/signed", json.dumps({"envelope": env.hex(), "colour": 1}))
    check(st == 400, "HTTP signed with an unknown field: %s %s" % (st, r))
    st, r = post(http, "/v1/orders", json.dumps({"account": 5, "market": "BTC-USD", "side": "buy",
                                                 "price": "100", "size": "0.01"}))
    check(st == 401, "HTTP unsigned order entry outside dev mode: %s %s" % (st, r))


async def test_expired_agent(url):
    """An agent whose approval expires loses its session: closed (1008), as a revoked one is."""
    owner, short = (nacl.signing.SigningKey(bytes([i]) * 32) for i in (2, 6))
    async with websockets.connect(url) as ws:
        env = envelope(owner, 10, approve_agent(5, bytes(short.verify_key), b"short",
                                                time.time_ns() + 4 * 10**9))
        r = await ask(ws, {"type": "signed", "envelope": env.hex()}, "ap")
        check(r.get("result", {}).get("status") == "applied", "approve a short agent: %s" % r)
    async with websockets.connect(url) as ws:
        r, _ = await signed_logon(ws, short, 5)
        check(r.get("role") == "agent", "the short agent logs on: %s" % r)
        r = await ask(ws, {"type": "subscribe", "channel": "balances", "id": "s"}, "s")
        closed = None
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 8)
        except websockets.ConnectionClosed as e:
            closed = e
        except asyncio.TimeoutError:
            pass
        code = getattr(closed, "code", None) or getattr(getattr(closed, "rcvd", None), "code", None)
        check(closed is not None and code == 1008,
              "the expired agent's session is closed (1008): %r" % (closed,))


def read_auth(sk, path, ts=None, chain=CHAIN):
    """The Authorization header of a signed read (docs/signing.md's read payload)."""
    ts = time.time_ns() if ts is None else ts
    pk = bytes(sk.verify_key)
    p = (b"LXDEX-READ-V1\0\0\0" + struct.pack("<II", chain, 0) + pk + struct.pack("<q", ts) +
         path.encode())
    return "LX-Ed25519 key=%s, ts=%d, sig=%s" % (pk.hex(), ts, sk.sign(p).signature.hex())


def get_auth(http, path, authz=None):
    """(status, JSON body) of a GET with an Authorization header, error statuses included."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (http, path),
                                 headers={"authorization": authz} if authz else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_http_reads(http, tmp):
    """Outside dev mode an account is read only with a request signed by its owner or a live
    agent (docs/api.md §4); market data stays public."""
    owner, agent, stranger = (nacl.signing.SigningKey(bytes([i]) * 32) for i in (2, 3, 4))
    for what in ("balances", "orders"):
        path = "/v1/accounts/5/" + what
        st, r = get_auth(http, path)
        check(st == 401 and r["error"]["code"] == "unauthorized" and
              "signed request" in r["error"]["message"], "unsigned %s: %s %s" % (path, st, r))
        st, r = get_auth(http, path, read_auth(owner, path))
        check(st == 200 and r.get("account") == 5 and what in r,
              "the owner reads %s: %s %s" % (path, st, r))
        st, r = get_auth(http, path, read_auth(stranger, path))
        check(st == 403 and r["error"]["code"] == "forbidden",
              "another key reads %s: %s %s" % (path, st, r))
        st, r = get_auth(http, path, read_auth(agent, path))
        check(st == 403 and "revoked" in r["error"]["message"],
              "the revoked agent reads %s: %s %s" % (path, st, r))
        st, r = get_auth(http, path, read_auth(owner, path, ts=time.time_ns() - 60 * 10**9))
        check(st == 401 and "30 s" in r["error"]["message"],
              "a read signed a minute ago: %s %s" % (st, r))
        st, r = get_auth(http, path, read_auth(owner, path, chain=CHAIN + 1))
        check(st == 401 and "does not verify" in r["error"]["message"],
              "a read signed for another chain: %s %s" % (st, r))
        st, r = get_auth(http, path, "Bearer x")
        check(st == 401, "another scheme: %s %s" % (st, r))
    st, r = get_auth(http, "/v1/accounts/5/balances", read_auth(owner, "/v1/accounts/5/orders"))
    check(st == 401, "a signature of another path: %s %s" % (st, r))
    st, r = get_auth(http, "/v1/accounts/5/orders", read_auth(owner, "/v1/accounts/5/orders"))
    oid = r["orders"][0]["orderId"] if st == 200 and r.get("orders") else "0"
    path = "/v1/orders/" + oid
    st, r = get_auth(http, path)
    check(st == 401, "an order read unsigned: %s %s" % (st, r))
    st, r = get_auth(http, path, read_auth(owner, path))
    check(st == 200 and r.get("orderId") == oid and r.get("account") == 5,
          "the owner reads its order: %s %s" % (st, r))
    st, r = get_auth(http, path, read_auth(stranger, path))
    check(st == 404, "another key reads the order (as if unknown): %s %s" % (st, r))
    for path in ("/v1/markets", "/v1/book/BTC-USD", "/v1/trades/BTC-USD"):
        st, r = get_auth(http, path)
        check(st == 200, "market data unsigned: %s %s %s" % (path, st, r))
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "lx_getOrder",
                       "params": {"orderId": int(oid)}}).encode()
    rq = urllib.request.Request("http://127.0.0.1:%d/rpc" % http, data=body,
                                headers={"content-type": "application/json"})
    with urllib.request.urlopen(rq, timeout=5) as resp:
        r = json.loads(resp.read())
    check(r.get("error", {}).get("code") == -32003, "lx_getOrder outside dev mode: %s" % r)
    # the CLI signs its reads with --key (the chain id from --config)
    keyfile = os.path.join(tmp, "owner.key")
    with open(keyfile, "w") as f:
        f.write((bytes([2]) * 32 + bytes(owner.verify_key)).hex() + "\n")
    url = "http://127.0.0.1:%d" % http
    cli = os.path.join(BUILD, "lxdex")
    v = subprocess.run([cli, "orders", "--url", url, "--key", keyfile, "--config",
                        os.path.join(tmp, "node.yaml"), "5"], capture_output=True, text=True)
    check(v.returncode == 0 and oid in v.stdout, "lxdex orders --key: %s %s" % (v.stdout, v.stderr))
    v = subprocess.run([cli, "balances", "--url", url, "5"], capture_output=True, text=True)
    check(v.returncode == 1 and "signed request" in v.stderr,
          "lxdex balances unsigned: %s %s" % (v.stdout, v.stderr))


async def test_restarted(url):
    async with websockets.connect(url) as ws:
        r, _ = await signed_logon(ws, nacl.signing.SigningKey(bytes([2]) * 32), 5)
        check(r.get("role") == "owner", "after a restart, the owner logs on: %s" % r)
        # bbo is sent when the best bid or ask changes, not at the first book event after a
        # restart (the gateway knows the best from the start-up state)
        await ws.send(json.dumps({"type": "subscribe", "channel": "bbo", "market": "BTC-USD",
                                  "id": "b"}))
        first = await recv_until(ws, lambda x: x.get("type") == "bbo")
        env = envelope(nacl.signing.SigningKey(bytes([2]) * 32), 2**63 - 5,
                       place(5, 0, 5000, 1, client_id=701))
        await ws.send(json.dumps({"type": "signed", "envelope": env.hex(), "id": "far"}))
        got = []
        try:
            await recv_until(ws, lambda x: False, 1.0, got)
        except asyncio.TimeoutError:
            pass
        check(first.get("bid") and not [x for x in got if x.get("type") == "bbo"],
              "after a restart, a bid behind the best sends no bbo: %s then %s" % (first, got))
    # the restarted node's per-account bucket holds 3: envelopes naming account 5 signed by a
    # key that may not act for it are refused by the engine (BAD_SIGNER) and spend nothing of
    # account 5's budget, so its owner's place still goes through
    owner, stranger = (nacl.signing.SigningKey(bytes([i]) * 32) for i in (2, 4))
    async with websockets.connect(url) as ws:
        for i in range(6):
            env = envelope(stranger, 100 + i, place(5, 0, 10000, 1, client_id=500 + i))
            r = await ask(ws, {"type": "signed", "envelope": env.hex()}, "x%d" % i)
            check(r.get("result", {}).get("reason") == "BAD_SIGNER",
                  "a stranger's envelope for account 5: %s" % r)
        env = envelope(owner, 2**63, place(5, 0, 10000, 1, client_id=600))
        r = await ask(ws, {"type": "signed", "envelope": env.hex()}, "own")
        check(r.get("result", {}).get("status") == "open",
              "the owner's place after a stranger's envelopes: %s" % r)
    async with websockets.connect(url) as ws:
        r, _ = await signed_logon(ws, nacl.signing.SigningKey(bytes([3]) * 32), 5)
        check(r.get("code") == "unauthorized" and "revoked" in r.get("message", ""),
              "after a restart, the revoked agent is still refused: %s" % r)


def run_signed():
    """A node outside dev mode, the signed tests, then `lxdex journal verify` of its journal."""
    tmp = tempfile.mkdtemp(prefix="lxdexd-ws-signed-")
    p = None
    bridge = nacl.signing.SigningKey(bytes([1]) * 32)
    try:
        extra = {r"^(  dev_mode: ).*": r"\1false", r"^(  chain_id: ).*": r"\g<1>7",
                 r"^bridge_key: .*": 'bridge_key: "%s"' % bytes(bridge.verify_key).hex(),
                 r"^dev:\n(  .*\n)*": ""}
        p, log, http, ws = start_node(tmp, extra, demo=False)
        asyncio.run(asyncio.wait_for(test_signed("ws://127.0.0.1:%d" % ws), 60))
        asyncio.run(asyncio.wait_for(test_expired_agent("ws://127.0.0.1:%d" % ws), 30))
        test_http_signed(http)
        test_http_reads(http, tmp)
        book = get(http, "/v1/book/BTC-USD")
        stop_node(p, log, "the signed node")
        v = subprocess.run([os.path.join(BUILD, "lxdex"), "journal", "verify", "--chain-id",
                            str(CHAIN), os.path.join(tmp, "data")], capture_output=True, text=True)
        m = re.search(r"signed: +(\d+) commands", v.stdout)
        check(v.returncode == 0 and m and int(m.group(1)) >= 5,
              "lxdex journal verify: %s %s" % (v.stdout, v.stderr))
        # restarted, the gateway knows the keys from the node's start-up state (and the
        # account bucket is 3 deep: test_restarted)
        tight = dict(extra)
        tight[r"^(  per_account:\n    rate: )\d+\n(    burst: )\d+"] = r"\g<1>1\n\g<2>3"
        p, log, http, ws = start_node(tmp, tight, demo=False)
        again = get(http, "/v1/book/BTC-USD")
        check(book["ts"] > 0 and again == book,
              "the book after a restart, its ts included: %s, was %s" % (again, book))
        asyncio.run(asyncio.wait_for(test_restarted("ws://127.0.0.1:%d" % ws), 30))
        stop_node(p, log, "the restarted signed node")
        print("web_ws: signed logon and envelopes done")
    except Exception as e:
        check(False, "signed: %s: %s" % (type(e).__name__, e))
    finally:
        discard_node(p, tmp)


# ---- a node with small limits: feeds and bounds --------------------------------------------------


async def test_self_trade(url):
    async with websockets.connect(url) as ws:
        await logon(ws, 7)
        for ch in ("orders", "fills"):
            await ws.send(json.dumps({"type": "subscribe", "channel": ch, "id": ch}))
            await recv_until(ws, lambda x: x.get("id") == ch)
        await ws.send('{"type":"place","id":1,"market":"BTC-USD","side":"sell","price":"100",'
                      '"size":"0.01"}')
        await result(ws, 1)
        got = []
        await ws.send('{"type":"place","id":2,"market":"BTC-USD","side":"buy","price":"100",'
                      '"size":"0.02"}')
        r = await result(ws, 2, keep=got)
        check(r.get("type") == "result" and r["result"].get("filled") == "0.01",
              "self-trade: the taker filled: %s" % r)
        try:  # the feeds may come after the result
            await recv_until(ws, lambda x: False, 1.0, got)
        except asyncio.TimeoutError:
            pass
        fills = {x.get("liquidity") for x in got if x.get("type") == "fill"}
        ofills = [x for x in got if x.get("type") == "order" and x.get("event") == "fill"]
        check(fills == {"maker", "taker"}, "self-trade: a fill for maker and taker: %s" % got)
        check(len({x.get("orderId") for x in ofills}) == 2,
              "self-trade: an order fill for each order: %s" % ofills)


async def test_amend_filled(url):
    """An amend's answer counts what the order filled before it (it said 0), also when the amend
    cancels the order (size at or below the filled size)."""
    async with websockets.connect(url) as mk, websockets.connect(url) as tk:
        await logon(mk, 8)
        await logon(tk, 9)
        await mk.send('{"type":"place","id":1,"market":"BTC-USD","side":"sell","price":"200",'
                      '"size":"0.03"}')
        r = await result(mk, 1)
        oid = r.get("result", {}).get("orderId")
        await tk.send('{"type":"place","id":2,"market":"BTC-USD","side":"buy","price":"200",'
                      '"size":"0.01","tif":"IOC"}')
        r = await result(tk, 2)
        check(r.get("result", {}).get("filled") == "0.01", "amend: the taker filled: %s" % r)
        await mk.send(json.dumps({"type": "amend", "id": 3, "orderId": oid, "price": "200",
                                  "size": "0.025"}))
        r = (await result(mk, 3)).get("result", {})
        check(r.get("status") == "amended" and r.get("size") == "0.025" and
              r.get("filled") == "0.01" and r.get("remaining") == "0.015",
              "amend of a partly filled order: %s" % r)
        await mk.send(json.dumps({"type": "amend", "id": 4, "orderId": oid, "price": "200",
                                  "size": "0.005"}))
        r = (await result(mk, 4)).get("result", {})
        check(r.get("status") == "canceled" and r.get("cancelReason") == "AMEND" and
              r.get("filled") == "0.01" and r.get("remaining") == "0",
              "amend below the filled size: %s" % r)


async def test_deep_snapshot(url):
    """300 levels (about 7 KB of l2 snapshot) against a 4096-byte output bound."""
    async with websockets.connect(url, max_size=None) as ws:
        await logon(ws, 8)
        for b in range(15):  # batches of 20: their results stay under the bound
            acts = [{"type": "place", "id": i, "market": "ETH-USD", "side": "buy",
                     "price": "%d.%02d" % (10 + b, i), "size": "0.001"} for i in range(20)]
            await ws.send(json.dumps({"type": "batch", "actions": acts}))
            for _ in range(20):
                r = await recv(ws)
                check(r.get("type") == "result", "deep book: place: %s" % r)
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send('{"type":"subscribe","channel":"l2","market":"ETH-USD","id":"s"}')
        try:
            snap = await recv_until(ws, lambda x: x.get("type") == "l2_snapshot")
            check(len(snap["bids"]) == 300, "deep book: the whole book (%d bids)" % len(snap["bids"]))
            await ws.send('{"type":"ping","id":"after"}')
            r = await recv(ws)
            check(r.get("type") == "pong", "deep book: the connection is still usable: %s" % r)
        except websockets.ConnectionClosed as e:
            check(False, "deep book: the subscriber was closed: %s %s" % (e.code, e.reason))


async def test_binary_rate(url):
    """Binary frames count against rate_limits.per_connection (burst 20 here) as text does: 30 at
    once get 20 bad_request and then rate_limited (the same bucket closes a client that keeps
    pushing)."""
    async with websockets.connect(url) as ws:
        for _ in range(30):
            await ws.send(b"x")
        codes = {}
        for _ in range(30):
            r = await recv(ws)
            codes[r.get("code")] = codes.get(r.get("code"), 0) + 1
        check(codes.get("rate_limited", 0) >= 5 and codes.get("bad_request", 0) <= 25,
              "binary frames charged to the rate bucket: %s" % codes)


async def test_utf8_cut(url, http):
    """Messages quote at most 40 (or 60) bytes of client text: cut inside "é", the message must
    still be valid UTF-8, so still sent."""
    async with websockets.connect(url) as ws:
        for n in (38, 39):
            await ws.send(json.dumps({"type": "a" * n + "\u00e9", "id": n}, ensure_ascii=False))
            r = await recv(ws)
            check(r.get("id") == n and r.get("code") == "unknown_type",
                  "unknown type cut at 40 bytes (%d + 2): %s" % (n, r))
        await ws.send(json.dumps({"type": "subscribe", "channel": "a" * 39 + "\u00e9"},
                                 ensure_ascii=False))
        r = await recv(ws)
        check(r.get("code") == "bad_request", "unknown channel cut inside a character: %s" % r)
    for n in (58, 59):
        body = json.dumps({"jsonrpc": "2.0", "id": n, "method": "a" * n + "\u00e9"},
                          ensure_ascii=False).encode()
        rq = urllib.request.Request("http://127.0.0.1:%d/rpc" % http, data=body,
                                    headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(rq, timeout=5) as resp:
            st, text = resp.status, resp.read()
        r = json.loads(text) if text else {}
        check(st == 200 and r.get("error", {}).get("code") == -32601,
              "JSON-RPC unknown method cut at 60 bytes (%d + 2): %s %r" % (n, st, text))


async def test_ws_on_http(http):
    """listen.http serves no WebSocket (listen.ws: off must turn the WebSocket API off)."""
    try:
        async with websockets.connect("ws://127.0.0.1:%d" % http, open_timeout=5) as ws:
            await ws.send('{"type":"ping","id":1}')
            r = await recv(ws)
            check(False, "a WebSocket on listen.http was served: %s" % r)
    except (websockets.InvalidHandshake, websockets.ConnectionClosed, OSError,
            asyncio.TimeoutError):
        pass


def run_limits():
    tmp = tempfile.mkdtemp(prefix="lxdexd-ws-limits-")
    p = None
    try:
        extra = {r"^(  per_connection:\n    rate: )\d+\n(    burst: )\d+": r"\g<1>20\n\g<2>20",
                 r"^(  slow_subscriber_buffer_bytes: ).*": r"\g<1>4096"}
        p, log, http, ws = start_node(tmp, extra, demo=False)
        url = "ws://127.0.0.1:%d" % ws
        for name, fn in (("self-trade", lambda: test_self_trade(url)),
                         ("amend filled", lambda: test_amend_filled(url)),
                         ("deep l2 snapshot", lambda: test_deep_snapshot(url)),
                         ("binary frames rate", lambda: test_binary_rate(url)),
                         ("UTF-8 cut", lambda: test_utf8_cut(url, http)),
                         ("WebSocket on listen.http", lambda: test_ws_on_http(http))):
            try:
                asyncio.run(asyncio.wait_for(fn(), 60))
                print("web_ws: %s done" % name)
            except Exception as e:  # a failure of one part must not hide the others
                check(False, "%s: %s: %s" % (name, type(e).__name__, e))
        stop_node(p, log, "the limits node")
    finally:
        discard_node(p, tmp)


def run():
    tmp = tempfile.mkdtemp(prefix="lxdexd-ws-")
    p = None
    try:
        p, log, http, ws = start_node(tmp)
        asyncio.run(main(http, ws))
        stop_node(p, log, "lxdexd")
    finally:
        discard_node(p, tmp)
    run_signed()
    run_limits()
    if FAILS:
        print("web_ws: %d failure(s)" % len(FAILS), file=sys.stderr)
        sys.exit(1)
    print("web_ws: ok")


if __name__ == "__main__":
    run()
