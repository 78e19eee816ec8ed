#!/usr/bin/env python3
"""Datagram flood: 1,000,000 garbage datagrams (random sizes and bytes,
oversized JSON, bad UTF-8, JSON of the wrong shape), alternating between
the UDP echo port and the chat-udp port, paced so the 2-CPU machine keeps
a core for the server. Meanwhile framed pings measure p99 (idle first, then
under the flood) and the server's RSS is sampled; afterwards the server
must still answer an echo datagram and deliver a valid chat datagram.

usage: datagram_flood.py [--count 1000000] [--pace 50000] [--rate 500]
"""

import argparse
import json
import random
import socket
import threading
import time

import abuselib as lib

# Distinct payloads cycled through: enough variety, built once.
POOL = 4096
# A datagram the door refuses unread: over its 16 KiB limit.
OVERSIZED = 16 * 1024 + 1


def garbage(rng):
    # One in 32 is oversized: they are most of the bytes as it is.
    kind = 1 if rng.randrange(32) == 0 else rng.choice([0, 2, 3, 4, 5, 6, 7])
    size = rng.choice([rng.randrange(64), rng.randrange(512), rng.randrange(4096)])
    if kind == 0:
        return rng.randbytes(size)
    if kind == 1:  # oversized JSON, up to the largest UDP payload
        n = rng.randrange(OVERSIZED, 60_000)
        return json.dumps({"name": "big", "msg": "x" * n}).encode()[:65_507]
    if kind == 2:  # bad UTF-8 inside JSON
        return b'{"name":"bad","msg":"' + rng.randbytes(size) + b'"}'
    if kind == 3:  # JSON of the wrong shape
        return rng.choice([b"[1,2,3]", b"null", b'"name"', b'{"name":5}', b"{}",
                           b'{"name":"x","room":"no spaces here"}'])
    if kind == 4:  # truncated JSON
        return json.dumps({"name": "cut", "msg": "y" * size}).encode()[:max(1, size)]
    if kind == 5:  # escapes and controls in a valid shape
        return json.dumps({"name": "~\x1b[31m", "msg": "\x1b]0;t\x07" * 4}).encode()
    if kind == 6:
        return b""
    return bytes(rng.randrange(0x80, 0x100) for _ in range(size))


def udp_drops(port):
    """The kernel's drop counter of the UDP socket bound to `port`."""
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                return int(f[-1])
    return None


class Flood(threading.Thread):
    def __init__(self, targets, count, pace):
        super().__init__(daemon=True)
        rng = random.Random(8)
        self.pool = [garbage(rng) for _ in range(POOL)]
        self.targets, self.count, self.pace = targets, count, pace
        self.sent = self.bytes = self.errors = 0
        self.seconds = None

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.2", 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        start = time.monotonic()
        burst = 256
        for i in range(self.count):
            d = self.pool[i % POOL]
            try:
                s.sendto(d, self.targets[i % len(self.targets)])
                self.bytes += len(d)
            except OSError:
                self.errors += 1
            self.sent += 1
            if i % burst == 0:
                lib.pace(i, start, self.pace)
        self.seconds = time.monotonic() - start
        s.close()


def echo_answers(target):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for _ in range(20):
        s.sendto(b"still echoing", target)
        try:
            if s.recv(64) == b"still echoing":
                return True
        except socket.timeout:
            pass
    return False


def chat_delivers(target):
    """A watcher joins the lobby (echoing the cookie, if the server sends
    one, to become a member); a probe's message must reach it."""
    w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    w.settimeout(1.0)
    join = {"name": "watcher"}
    for _ in range(20):
        w.sendto(json.dumps(join).encode(), target)
        p.sendto(b'{"name":"probe","msg":"still here"}', target)
        try:
            while True:
                m = json.loads(w.recv(65_536))
                if "cookie" in m:
                    join["cookie"] = m["cookie"]
                    w.sendto(json.dumps(join).encode(), target)
                if m.get("msg") == "still here":
                    return True
        except (socket.timeout, ValueError):
            pass
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--pace", type=int, default=50_000, help="datagrams per second")
    ap.add_argument("--rate", type=int, default=500, help="probe pings per second")
    ap.add_argument("--probe", type=int, default=5, help="seconds of the idle probe")
    a = ap.parse_args()
    srv = lib.Server(["--listen", "tcp://127.0.0.1:0", "--echo", "udp://127.0.0.1:0",
                      "--chat-udp", "udp://127.0.0.1:0"])
    try:
        framed = srv.addr("framed")
        echo = srv.hostport("echo", "udp://")
        chat = srv.hostport("chat-udp", "udp://")
        drops0 = {"echo": udp_drops(echo[1]), "chat": udp_drops(chat[1])}
        before = srv.rss()
        idle = lib.ping_p99(framed, a.rate, a.probe)
        sampler = lib.RssSampler(srv)
        flood = Flood([echo, chat], a.count, a.pace)
        flood.start()
        under = lib.ping_p99(framed, a.rate, max(2, int(a.count / a.pace) - 1))
        flood.join()
        peak = sampler.stop()
        drops = {k: (udp_drops(p) or 0) - (drops0[k] or 0)
                 for k, p in (("echo", echo[1]), ("chat", chat[1]))}
        echo_ok, chat_ok = echo_answers(echo), chat_delivers(chat)
        after = srv.rss()
        panicked = srv.panicked()
        rate = round(flood.sent / flood.seconds) if flood.seconds else None
        result = {
            "script": "datagram_flood", "sent": flood.sent, "send_errors": flood.errors,
            "bytes": flood.bytes, "seconds": round(flood.seconds, 2), "sent_per_s": rate,
            "kernel_drops": drops, "rss_kib": {"before": before.get("VmRSS"),
                                               "peak_during": peak, "after": after.get("VmRSS"),
                                               "hwm": after.get("VmHWM")},
            "ping_idle": idle, "ping_under_flood": under, "p99_ratio": lib.ratio(under, idle),
            "echo_answers_after": echo_ok, "chat_delivers_after": chat_ok,
            "panicked": panicked,
        }
        lib.table("datagram_flood", [
            ("datagrams sent", f"{flood.sent} ({flood.bytes / 1e6:.0f} MB) in "
                               f"{result['seconds']} s = {rate}/s from 127.0.0.2, "
                               f"{flood.errors} send errors"),
            ("kernel drops (rcvbuf full)", f"echo {drops['echo']}, chat-udp {drops['chat']}"),
            ("RSS before / peak / after", f"{lib.mib(before.get('VmRSS'))} / {lib.mib(peak)}"
                                          f" / {lib.mib(after.get('VmRSS'))}"),
            ("ping p99 idle / flood", f"{idle.get('p99_us')} us / {under.get('p99_us')} us "
                                      f"(x{result['p99_ratio']}, target <= 5)"),
            ("ping errors/timeouts", f"{under.get('errors')}/{under.get('timeouts')}"),
            ("echo answers after", echo_ok),
            ("chat delivers after", chat_ok),
            ("server panicked", panicked),
        ])
        lib.write_json("datagram_flood", result)
        return 0 if echo_ok and chat_ok and not panicked else 1
    finally:
        srv.stop()
        srv.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
