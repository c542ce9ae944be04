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
  - a slow subscriber (reads nothing) is closed with code 1008 and a reason.
Exit 0 on success, 77 when something needed is missing, 1 on failure.
"""
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
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

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("web_ws: FAIL: " + what, file=sys.stderr)
    return cond


def start_node(tmp):
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
    for k, v in subs.items():
        cfg = re.sub(k, v, cfg, flags=re.M)
    with open(os.path.join(tmp, "node.yaml"), "w") as f:
        f.write(cfg)
    log = open(os.path.join(tmp, "node.log"), "w+")
    p = subprocess.Popen([BIN, "--config", os.path.join(tmp, "node.yaml"), "--demo"], stdout=log,
                         stderr=subprocess.STDOUT)
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
    if not http:
        log.seek(0)
        print(log.read(), file=sys.stderr)
        p.kill()
        sys.exit(1)
    return p, log, http, ws


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


async def main(http, wsport):
    url = "ws://127.0.0.1:%d" % wsport
    markets = {m["symbol"]: Market(m) for m in get(http, "/v1/markets")["markets"]}
    for name, fn in (("ping", lambda: test_ping(url)), ("l2", lambda: test_l2(url, markets)),
                     ("market feeds", lambda: test_market_feeds(url)),
                     ("actions", lambda: test_actions(url, http)),
                     ("bad input", lambda: test_bad_input(url)),
                     ("too many connections", lambda: test_too_many(url)),
                     ("slow subscriber", lambda: test_slow(url))):
        try:
            await asyncio.wait_for(fn(), 60)
            print("web_ws: %s done" % name)
        except Exception as e:  # a failure of one part must not hide the others
            check(False, "%s: %s: %s" % (name, type(e).__name__, e))


def run():
    tmp = tempfile.mkdtemp(prefix="lxdexd-ws-")
    p = None
    try:
        p, log, http, ws = start_node(tmp)
        asyncio.run(main(http, ws))
        p.send_signal(signal.SIGTERM)
        rc = p.wait(30)
        check(rc == 0, "lxdexd stops cleanly on SIGTERM (exit %s)" % rc)
        if FAILS:
            log.seek(0)
            sys.stderr.write(log.read()[-4000:])
    finally:
        if p and p.poll() is None:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("web_ws: %d failure(s)" % len(FAILS), file=sys.stderr)
        sys.exit(1)
    print("web_ws: ok")


if __name__ == "__main__":
    run()
