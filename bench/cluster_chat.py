#!/usr/bin/env python3
"""bench/cluster_chat.py - chat commits and cross-node delivery, SQLite vs PostgreSQL.

Starts `sockit serve` nodes itself (port 0, addresses read from their
output) with the nc/telnet line door, each node's history either in its
own SQLite file or in one shared PostgreSQL (--store URL), and measures
through the line door, the way bench/chat_fanout.sh does:

  committed: PUBS publishers write MSGS lines each as fast as they can;
             one subscriber counts deliveries until it has them all.
             Every line is committed before it is delivered, so the rate
             the subscriber sees is the commit rate (msgs/s).
  latency:   one publisher on node A, one subscriber on node B (or on A
             with one node); LAT messages one at a time, each sent when
             the previous one arrived: publish-to-receive p50/p99 (ms).

With --store, --sync-commit off starts the nodes with
`--store-sync-commit off` (synchronous_commit=off on the chat writer).

Usage: bench/cluster_chat.py SOCKIT_BIN [--store URL [--sync-commit on|off]]
       [--nodes 1|2] [--pubs 4] [--msgs 2000] [--lat 300]
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def start_node(binary, store, sync_commit, tmp, n):
    args = [binary, "serve", "--chat-lines", "tcp://127.0.0.1:0", "--data",
            os.path.join(tmp, f"data{n}"), "--chat-rate", "1000000", "--chat-burst",
            "1000000", "--chat-guest-ip-rate", "1000000", "--chat-guest-ip-burst", "1000000",
            "--max-conns-per-ip", "0", "--chat-queue", "1000000"]
    if store:
        args += ["--store", store, "--store-sync-commit", sync_commit]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = None
    for line in proc.stdout:
        if " listening on tcp://" in line and line.startswith("chat"):
            addr = line.rsplit("tcp://", 1)[1].strip()
        if line.startswith("ready"):
            break
    if addr is None:
        proc.kill()
        sys.exit("a node did not start its line door")
    host, port = addr.rsplit(":", 1)
    return proc, (host, int(port))


class Member:
    """One line-door member: a guest name, in the lobby."""

    def __init__(self, addr, name):
        self.sock = socket.create_connection(addr, timeout=60)
        self.buf = b""
        self.sock.sendall(name.encode() + b"\n")
        # Joined once the door says who we are (a member never sees its
        # own messages, so that is the signal).
        for line in self.lines():
            if line.startswith(b"* you are"):
                break

    def lines(self):
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                yield line.rstrip(b"\r")
            data = self.sock.recv(1 << 16)
            if not data:
                return
            self.buf += data

    def wait_for(self, text):
        for line in self.lines():
            if line.endswith(text):
                return


def committed(addrs, pubs, msgs):
    sub = Member(addrs[-1], "sub")
    payload = b"x" * 122  # with " N\n", lines of about 128 bytes
    total = pubs * msgs
    got = 0
    start = time.perf_counter()

    def publish(i):
        m = Member(addrs[i % len(addrs)], f"pub{i}")
        m.sock.sendall(b"".join(payload + b" %d\n" % k for k in range(msgs)))
        return m

    keep = []
    threads = [threading.Thread(target=lambda i=i: keep.append(publish(i))) for i in range(pubs)]
    for t in threads:
        t.start()
    for line in sub.lines():
        if line.startswith(b"<~pub"):
            got += 1
            if got == total:
                break
    elapsed = time.perf_counter() - start
    for t in threads:
        t.join()
    return total / elapsed


def latency(addrs, n):
    sub = Member(addrs[-1], "lsub")
    pub = Member(addrs[0], "lpub")
    pub.sock.sendall(b"warm\n")
    sub.wait_for(b"warm")
    samples = []
    for k in range(n):
        text = b"lat %d" % k
        t0 = time.perf_counter()
        pub.sock.sendall(text + b"\n")
        sub.wait_for(text)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[min(len(samples) - 1, len(samples) * 99 // 100)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--store")
    ap.add_argument("--sync-commit", choices=["on", "off"], default="on")
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--pubs", type=int, default=4)
    ap.add_argument("--msgs", type=int, default=2000)
    ap.add_argument("--lat", type=int, default=300)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        nodes = [start_node(a.binary, a.store, a.sync_commit, tmp, n) for n in range(a.nodes)]
        try:
            addrs = [addr for _, addr in nodes]
            rate = committed(addrs, a.pubs, a.msgs)
            p50, p99 = latency(addrs, a.lat)
            store = "sqlite"
            if a.store:
                store = "postgres" if a.sync_commit == "on" else "postgres_async"
            print(f"store={store} nodes={a.nodes} pubs={a.pubs} msgs={a.pubs * a.msgs} "
                  f"committed_msgs_per_s={rate:.0f} latency_ms_p50={p50:.2f} p99={p99:.2f}")
        finally:
            for proc, _ in nodes:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
