#!/usr/bin/env python3
"""bench/idle_mem.py - server memory per idle connection, echo or framed.

Opens N connections to HOST:PORT, each completing a tiny hello so the server
has really accepted and set it up (echo: one byte back; frame: a hello frame
and its reply), holds them idle, and prints the growth of the server's VmRSS
divided by N. The framed door closes a peer that sends no first frame within
its first-frame timeout, hence the hello.

usage: idle_mem.py HOST PORT --pid PID [--n 10000] [--proto echo|frame]
"""

import argparse
import json
import resource
import socket
import struct
import time

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--n", type=int, default=10000)
ap.add_argument("--proto", choices=["echo", "frame"], default="echo")
# Time for the server to settle (allocator, deferred frees) before each sample.
ap.add_argument("--settle", type=float, default=1.5)
a = ap.parse_args()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < a.n + 100:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.n + 100), hard))

HELLO = json.dumps({"id": 1, "type": "hello", "version": 1}).encode()
FRAME = struct.pack(">I", len(HELLO)) + HELLO


def rss_kb():
    with open(f"/proc/{a.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for the server pid")


def recv_exact(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise ConnectionError("server closed")
        got += chunk
    return got


def hello(s):
    if a.proto == "echo":
        s.sendall(b"x")
        recv_exact(s, 1)
    else:
        s.sendall(FRAME)
        (n,) = struct.unpack(">I", recv_exact(s, 4))
        recv_exact(s, n)


time.sleep(a.settle)
before = rss_kb()
socks = []
for _ in range(a.n):
    s = socket.create_connection((a.host, a.port), timeout=10)
    hello(s)
    socks.append(s)
time.sleep(a.settle)
after = rss_kb()
# Still served: a few of them answer again.
for s in socks[:: max(1, a.n // 10)]:
    hello(s)
for s in socks:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
print(f"RESULT proto={a.proto} n={a.n} rss_before_kb={before} rss_after_kb={after} "
      f"per_conn_bytes={(after - before) * 1024 // a.n}")
