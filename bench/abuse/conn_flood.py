#!/usr/bin/env python3
"""Connection flood: 10,000 TCP connections to the framed port, each
sending a hello frame, opened as fast as the pacing allows and held.

Pass 1 runs the server with `--max-conns-per-ip 0` (no per-IP cap) so it
holds them all; pass 2 with the default cap, to show the refusals. The
flood comes from 127.0.0.2 so the latency probe (from 127.0.0.1) is never
refused by the cap. Meanwhile framed pings measure p99 (idle first, then
under the flood) and the server's RSS is sampled.

usage: conn_flood.py [--conns 10000] [--pace 2000] [--hold 5] [--rate 500]
"""

import argparse
import asyncio
import json
import struct
import threading
import time

import abuselib as lib

HELLO = json.dumps({"id": 1, "type": "hello", "version": 1}).encode()
HELLO_FRAME = struct.pack(">I", len(HELLO)) + HELLO
# How long a connection may wait for its hello reply before it counts as
# unanswered (a bound, not an expectation).
REPLY_WAIT = 15.0


async def read_reply(reader):
    prefix = await reader.readexactly(4)
    (n,) = struct.unpack(">I", prefix)
    return json.loads(await reader.readexactly(n))


class Flood:
    """Opens `conns` connections at `pace` per second in its own loop."""

    def __init__(self, host, port, conns, pace, source="127.0.0.2"):
        self.host, self.port, self.conns, self.pace = host, port, conns, pace
        self.source = source
        self.counts = {"held": 0, "refused": 0, "closed": 0, "no_reply": 0,
                       "connect_failed": 0}
        self.refusal_codes = {}
        self.streams = []
        self.opened = threading.Event()
        self.release = threading.Event()
        self.open_seconds = None
        self.still_held = None

    async def one(self):
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(self.source, 0))
        except OSError:
            self.counts["connect_failed"] += 1
            return
        try:
            writer.write(HELLO_FRAME)
            reply = await asyncio.wait_for(read_reply(reader), REPLY_WAIT)
        except asyncio.TimeoutError:
            self.counts["no_reply"] += 1
            self.streams.append((reader, writer))
            return
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.counts["closed"] += 1
            writer.close()
            return
        if reply.get("type") == "hello":
            self.counts["held"] += 1
        else:
            self.counts["refused"] += 1
            code = reply.get("code", reply.get("type"))
            self.refusal_codes[code] = self.refusal_codes.get(code, 0) + 1
        self.streams.append((reader, writer))

    async def main(self):
        start = time.monotonic()
        tasks = []
        for i in range(self.conns):
            tasks.append(asyncio.ensure_future(self.one()))
            ahead = (i + 1) / self.pace - (time.monotonic() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
        await asyncio.gather(*tasks)
        self.open_seconds = time.monotonic() - start
        self.opened.set()
        while not self.release.is_set():
            await asyncio.sleep(0.1)
        # Held means still open now: no EOF from the server meanwhile.
        await asyncio.sleep(0)
        self.still_held = sum(1 for r, _ in self.streams if not r.at_eof()
                              and r.exception() is None)
        for _, w in self.streams:
            w.close()
        await asyncio.sleep(0.5)

    def start(self):
        self.thread = threading.Thread(target=lambda: asyncio.run(self.main()), daemon=True)
        self.thread.start()

    def join(self):
        self.release.set()
        self.thread.join()


def one_pass(name, extra, a):
    srv = lib.Server(["--listen", "tcp://127.0.0.1:0", *extra])
    try:
        addr = srv.addr("framed")
        host, port = srv.hostport("framed")
        before = srv.rss()
        idle = lib.ping_p99(addr, a.rate, a.probe)
        sampler = lib.RssSampler(srv)
        flood = Flood(host, port, a.conns, a.pace)
        flood.start()
        # The probe spans the opening and the hold.
        under = lib.ping_p99(addr, a.rate, int(a.conns / a.pace) + a.hold)
        flood.opened.wait()
        during = srv.rss()
        flood.join()
        peak = sampler.stop()
        time.sleep(2)  # let the server drop the closed connections
        after = srv.rss()
        held = flood.still_held or 0
        grown = max(0, peak - before.get("VmRSS", 0))
        result = {
            "pass": name, "server_flags": extra, "attempted": a.conns,
            "pace_per_s": a.pace, "open_seconds": round(flood.open_seconds or 0, 2),
            "outcomes": flood.counts, "refusal_codes": flood.refusal_codes,
            "held_at_end": held,
            "rss_kib": {"before": before.get("VmRSS"), "peak_during": peak,
                        "after": after.get("VmRSS"), "hwm": after.get("VmHWM"),
                        "at_full_hold": during.get("VmRSS")},
            "bytes_per_conn": round(grown * 1024 / held) if held else None,
            "ping_idle": idle, "ping_under_flood": under,
            "p99_ratio": lib.ratio(under, idle), "panicked": srv.panicked(),
        }
        lib.table(f"conn_flood, {name} ({' '.join(extra) or 'defaults'})", [
            ("connections attempted", f"{a.conns} from 127.0.0.2 at {a.pace}/s "
                                      f"(opened in {result['open_seconds']} s)"),
            ("outcomes", ", ".join(f"{k} {v}" for k, v in flood.counts.items())),
            ("refusal codes", flood.refusal_codes or "-"),
            ("held at end", held),
            ("RSS before / peak / after", f"{lib.mib(before.get('VmRSS'))} / "
                                          f"{lib.mib(peak)} / {lib.mib(after.get('VmRSS'))}"),
            ("bytes per held conn", result["bytes_per_conn"]),
            ("ping p99 idle / flood", f"{idle.get('p99_us')} us / {under.get('p99_us')} us "
                                      f"(x{result['p99_ratio']}, target <= 5)"),
            ("ping errors/timeouts", f"{under.get('errors')}/{under.get('timeouts')}"),
            ("server panicked", result["panicked"]),
        ])
        return result
    finally:
        srv.stop()
        srv.cleanup()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conns", type=int, default=10_000)
    p.add_argument("--pace", type=int, default=2000, help="connections opened per second")
    p.add_argument("--hold", type=int, default=5, help="seconds all are held while probed")
    p.add_argument("--rate", type=int, default=500, help="probe pings per second")
    p.add_argument("--probe", type=int, default=5, help="seconds of the idle probe")
    a = p.parse_args()
    print(f"open files limit: {lib.raise_nofile()}")
    passes = []
    if lib.serve_supports("--max-conns-per-ip"):
        passes.append(one_pass("uncapped", ["--max-conns-per-ip", "0"], a))
        passes.append(one_pass("default per-IP cap", [], a))
    else:
        print("note: this sockit has no --max-conns-per-ip; one pass, no per-IP cap")
        passes.append(one_pass("no per-IP cap (flag missing)", [], a))
    lib.write_json("conn_flood", {"script": "conn_flood", "passes": passes})
    ok = all(not r["panicked"] for r in passes)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
