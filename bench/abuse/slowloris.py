#!/usr/bin/env python3
"""Slowloris: 2,000 half-open connections to the framed port, each sending
half a frame header (2 of the 4 length bytes) and then one more byte every
second, so no frame ever completes. The server's first-frame timeout
(`--first-frame-timeout`, default 10 s) should drop them all; the script
counts how many it still holds 5 s after the timeout, while framed pings
measure p99 and the server's RSS is sampled.

The connections come from 127.0.0.2-127.0.0.5 (500 each), under the
default per-IP cap, so it is the timeout that is tested, not the cap.

usage: slowloris.py [--conns 2000] [--timeout 10] [--pace 1000] [--rate 500]
"""

import argparse
import asyncio
import statistics
import threading
import time

import abuselib as lib

SOURCES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
# A frame that would take minutes to arrive at a byte a second: a 256-byte
# header, of which the first two prefix bytes go at once.
FRAME = b"\x00\x00\x01\x00" + b'{"type":"ping","pad":"' + b"x" * 300
FIRST = 2


class Loris:
    def __init__(self, host, port, conns, pace):
        self.host, self.port, self.conns, self.pace = host, port, conns, pace
        self.conn = []  # [writer, opened_at, closed_at or None, sent]
        self.failed = 0
        self.released_at = float("inf")
        self.opened = threading.Event()
        self.release = threading.Event()

    async def watch(self, reader, entry):
        try:
            while await reader.read(4096):
                pass  # an error frame may come first; EOF is what counts
        except OSError:
            pass
        entry[2] = time.monotonic()

    async def one(self, i):
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(SOURCES[i % len(SOURCES)], 0))
        except OSError:
            self.failed += 1
            return
        writer.write(FRAME[:FIRST])
        entry = [writer, time.monotonic(), None, FIRST]
        self.conn.append(entry)
        asyncio.ensure_future(self.watch(reader, entry))

    async def drip(self):
        while not self.release.is_set():
            await asyncio.sleep(1.0)
            for e in self.conn:
                if e[2] is None and e[3] < len(FRAME):
                    try:
                        e[0].write(FRAME[e[3]:e[3] + 1])
                        e[3] += 1
                    except OSError:
                        pass

    async def main(self):
        start = time.monotonic()
        dripper = asyncio.ensure_future(self.drip())
        tasks = []
        for i in range(self.conns):
            tasks.append(asyncio.ensure_future(self.one(i)))
            ahead = (i + 1) / self.pace - (time.monotonic() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
        await asyncio.gather(*tasks)
        self.opened.set()
        while not self.release.is_set():
            await asyncio.sleep(0.1)
        await dripper
        self.released_at = time.monotonic()
        for e in self.conn:
            e[0].close()
        await asyncio.sleep(0.5)

    def held(self):
        return sum(1 for e in self.conn if e[2] is None)

    def close_times(self):
        # Only the server's closes: ours come after the release.
        return [e[2] - e[1] for e in self.conn if e[2] is not None and e[2] < self.released_at]

    def start(self):
        self.thread = threading.Thread(target=lambda: asyncio.run(self.main()), daemon=True)
        self.thread.start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--timeout", type=int, default=10, help="the server's first-frame timeout")
    ap.add_argument("--pace", type=int, default=1000, help="connections opened per second")
    ap.add_argument("--rate", type=int, default=500, help="probe pings per second")
    ap.add_argument("--probe", type=int, default=5, help="seconds of the idle probe")
    a = ap.parse_args()
    lib.raise_nofile()
    flags = ["--listen", "tcp://127.0.0.1:0"]
    has_timeout = lib.serve_supports("--first-frame-timeout")
    if has_timeout:
        flags += ["--first-frame-timeout", str(a.timeout)]
    else:
        print("note: this sockit has no --first-frame-timeout; only the idle timeout applies")
    srv = lib.Server(flags)
    try:
        framed = srv.addr("framed")
        host, port = srv.hostport("framed")
        before = srv.rss()
        idle = lib.ping_p99(framed, a.rate, a.probe)
        sampler = lib.RssSampler(srv)
        loris = Loris(host, port, a.conns, a.pace)
        t0 = time.monotonic()
        loris.start()
        watch = a.conns / a.pace + a.timeout + 5
        under = lib.ping_p99(framed, a.rate, max(2, int(watch) - 1))
        loris.opened.wait()
        time.sleep(max(0.0, t0 + watch - time.monotonic()))
        held = loris.held()
        during = srv.rss()
        loris.release.set()
        loris.thread.join()
        peak = sampler.stop()
        time.sleep(1)
        after = srv.rss()
        closes = loris.close_times()
        panicked = srv.panicked()
        result = {
            "script": "slowloris", "conns": a.conns, "connect_failed": loris.failed,
            "sources": SOURCES, "first_frame_timeout_s": a.timeout if has_timeout else None,
            "checked_after_s": round(watch, 1), "held_after_timeout": held,
            "closed_by_server": len(closes),
            "close_after_s": {"min": round(min(closes), 2), "median": round(
                statistics.median(closes), 2), "max": round(max(closes), 2)} if closes else None,
            "rss_kib": {"before": before.get("VmRSS"), "peak_during": peak,
                        "with_all_open": during.get("VmRSS"), "after": after.get("VmRSS"),
                        "hwm": after.get("VmHWM")},
            "ping_idle": idle, "ping_under_attack": under, "p99_ratio": lib.ratio(under, idle),
            "panicked": panicked,
        }
        lib.table("slowloris", [
            ("half-open connections", f"{a.conns} from {len(SOURCES)} IPs at {a.pace}/s, "
                                      f"{loris.failed} failed to connect; a byte/s each"),
            ("first-frame timeout", f"{a.timeout} s" if has_timeout else "none (flag missing)"),
            (f"still held at {watch:.0f} s", held),
            ("closed by server", f"{len(closes)}; after (s) {result['close_after_s']}"),
            ("RSS before / peak / after", f"{lib.mib(before.get('VmRSS'))} / {lib.mib(peak)}"
                                          f" / {lib.mib(after.get('VmRSS'))}"),
            ("ping p99 idle / attack", f"{idle.get('p99_us')} us / {under.get('p99_us')} us "
                                       f"(x{result['p99_ratio']}, target <= 5)"),
            ("ping errors/timeouts", f"{under.get('errors')}/{under.get('timeouts')}"),
            ("server panicked", panicked),
        ])
        lib.write_json("slowloris", result)
        return 0 if not panicked and (held == 0 or not has_timeout) else 1
    finally:
        srv.stop()
        srv.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
