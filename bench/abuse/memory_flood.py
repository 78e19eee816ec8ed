#!/usr/bin/env python3
"""Memory attacks: what peers that send big frames and never read, or stop
one byte short of a frame, make the server hold; the server's RSS before,
at its peak and at the end of each attack.

  big_echo     40 peers (from 127.0.0.2-127.0.0.5) each send one 8 MiB
               `echo` frame to the framed port and never read the reply
  big_echo_in  the same with bodies allowed before login
               (--max-body-guest 8 MiB), so the memory budget is what holds
  short_frame  40 peers each send an 8 MiB echo frame but its last byte,
               then one byte of nothing... never: they just wait
  ws_frame     20 logged-in WebSockets each announce one 15 MiB frame and
               send all of it but the last byte

Each attack runs on a fresh server for --hold seconds. With SOCKIT_BEFORE
set to another binary (e.g. a build of the previous release), every attack
runs against both and the table shows before -> after.

usage: memory_flood.py [--hold 8] [--peers 40] [--ws 20]
"""

import argparse
import base64
import os
import socket
import subprocess
import threading
import time

import abuselib as lib

SOURCES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
BODY = 8 << 20
WS_FRAME = 15 << 20
PASSWORD = "correct horse battery"


def echo_frame(size):
    head = b'{"type":"echo","size":%d}' % size
    return len(head).to_bytes(4, "big") + head + b"x" * size


def peer(host, port, i, data, hold_until, outcome):
    """Connects from a spread of loopback sources, sends `data`, never reads."""
    try:
        s = socket.create_connection((host, port), timeout=30,
                                     source_address=(SOURCES[i % len(SOURCES)], 0))
    except OSError:
        outcome["refused"] += 1
        return
    try:
        s.sendall(data)
        outcome["sent"] += 1
    except OSError:
        outcome["cut"] += 1
    time.sleep(max(0.0, hold_until - time.monotonic()))
    s.close()


def ws_peer(host, port, cookie, hold_until, outcome):
    s = socket.create_connection((host, port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
               f"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            outcome["refused"] += 1
            return
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        outcome["refused"] += 1
        return
    frame = bytes([0x01, 0x80 | 127]) + WS_FRAME.to_bytes(8, "big") + b"\x00" * 4
    try:
        s.sendall(frame + b"\x00" * (WS_FRAME - 1))
        outcome["sent"] += 1
    except OSError:
        outcome["cut"] += 1
    time.sleep(max(0.0, hold_until - time.monotonic()))
    s.close()


def login_cookie(host, port):
    body = '{"name":"alice","password":"%s"}' % PASSWORD
    s = socket.create_connection((host, port), timeout=30)
    s.sendall((f"POST /api/login HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
               f"{body}").encode())
    reply = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    for line in reply.decode(errors="replace").split("\r\n"):
        if line.lower().startswith("set-cookie:"):
            return line.split(":", 1)[1].strip().split(";")[0]
    raise SystemExit(f"login failed: {reply[:200]!r}")


def attack(binary, name, hold, peers, ws):
    """Runs one attack on a fresh server of `binary`; its figures."""
    os.environ["SOCKIT"] = binary
    args = ["--listen", "tcp://127.0.0.1:0", "--web", "tcp://127.0.0.1:0",
            "--argon2", "m=256,t=1,p=1"]
    if name == "big_echo_in":
        if not lib.serve_supports("--max-body-guest"):
            return None
        args += ["--max-body-guest", str(BODY)]
    data = None
    if name == "ws_frame":
        import tempfile
        data = os.path.join(tempfile.mkdtemp(prefix="sockit-memflood-"), "data")
        subprocess.run([binary, "user", "add", "alice", "--password-stdin", "--argon2",
                        "m=256,t=1,p=1", "--data", data], input=PASSWORD + "\n",
                       text=True, check=True, capture_output=True)
    srv = lib.Server(args, data=data)
    try:
        before = srv.rss().get("VmRSS", 0)
        sampler = lib.RssSampler(srv)
        outcome = {"sent": 0, "cut": 0, "refused": 0}
        hold_until = time.monotonic() + hold
        threads = []
        if name == "ws_frame":
            host, port = srv.hostport("web")
            cookie = login_cookie(host, port)
            for _ in range(ws):
                threads.append(threading.Thread(
                    target=ws_peer, args=(host, port, cookie, hold_until, outcome)))
        else:
            host, port = srv.hostport("framed")
            frame = echo_frame(BODY)
            if name == "short_frame":
                frame = frame[:-1]
            for i in range(peers):
                threads.append(threading.Thread(
                    target=peer, args=(host, port, i, frame, hold_until, outcome)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        end = srv.rss().get("VmRSS", 0)
        peak = sampler.stop()
        return {"rss_kib": {"before": before, "peak": peak, "end_of_hold": end},
                "outcome": outcome, "panicked": srv.panicked()}
    finally:
        srv.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hold", type=float, default=8.0)
    ap.add_argument("--peers", type=int, default=40)
    ap.add_argument("--ws", type=int, default=20)
    a = ap.parse_args()
    binaries = [("after", lib.sockit_bin())]
    if os.environ.get("SOCKIT_BEFORE"):
        binaries.insert(0, ("before", os.environ["SOCKIT_BEFORE"]))
    results = {}
    rows = []
    for name in ["big_echo", "big_echo_in", "short_frame", "ws_frame"]:
        for label, binary in binaries:
            r = attack(binary, name, a.hold, a.peers, a.ws)
            results.setdefault(name, {})[label] = r
            if r is None:
                rows.append((f"{name} ({label})", "not supported by this binary"))
                continue
            k = r["rss_kib"]
            o = r["outcome"]
            rows.append((f"{name} ({label})",
                         f"RSS {lib.mib(k['before'])} -> peak {lib.mib(k['peak'])}, "
                         f"{lib.mib(k['end_of_hold'])} after {a.hold:g} s; peers sent "
                         f"{o['sent']}, cut {o['cut']}, refused {o['refused']}"
                         + ("; PANICKED" if r["panicked"] else "")))
    lib.table("memory attacks (server RSS)", rows)
    lib.write_json("memory_flood", {"hold_s": a.hold, "peers": a.peers, "ws": a.ws,
                                    "body": BODY, "ws_frame": WS_FRAME, "results": results})
    bad = any(r and r["panicked"] for v in results.values() for r in v.values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
