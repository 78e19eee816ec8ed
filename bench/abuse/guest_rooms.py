"""Guest storage attack: N guests from one address on the line door, each
creating rooms and posting in them as fast as the server lets it.

Reports what the attack left behind: rooms with history, messages and
history bytes on disk (chat.db and its WAL), and the server's RSS before,
at its peak and after. Without the room and retention limits, 300 guests
made 35,100 rooms and 159 MiB of history in 25 s; with them the figures
stay at a few rooms per address and the per-address message budget.

Python 3 standard library only; loopback only (127.0.0.1, port 0).
"""

import argparse
import asyncio
import os
import sqlite3
import time

import abuselib as lib

# The text each guest posts: a long line, near the 4 KiB message limit,
# so the history grows as fast as one message allows.
TEXT = "x" * 3900


async def guest(host, port, i, stop, counts):
    """One guest: name, then `/join` a fresh room and post, until `stop`."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        counts["connect_failed"] += 1
        return

    async def drain_reads():
        # Read everything the server says, so it never cuts us off for
        # falling behind; count the refusals.
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"* too many new rooms") or line.startswith(b"* the server holds"):
                    counts["rooms_refused"] += 1
                elif line.startswith(b"* slow down"):
                    counts["rate_limited"] += 1
        except (OSError, asyncio.CancelledError):
            return

    reading = asyncio.ensure_future(drain_reads())
    try:
        writer.write(f"g{i}\r\n".encode())
        k = 0
        while not stop.is_set():
            writer.write(f"/join g{i}-r{k}\r\n{TEXT}\r\n".encode())
            await writer.drain()
            counts["attempts"] += 1
            k += 1
            # Let the other guests and the reader run.
            await asyncio.sleep(0)
    except OSError:
        counts["write_failed"] += 1
    finally:
        writer.close()
        reading.cancel()


async def attack(host, port, guests, seconds):
    stop = asyncio.Event()
    counts = {"attempts": 0, "rooms_refused": 0, "rate_limited": 0,
              "connect_failed": 0, "write_failed": 0}
    tasks = [asyncio.ensure_future(guest(host, port, i, stop, counts)) for i in range(guests)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait(tasks, timeout=10)
    return counts


def history_on_disk(data):
    """Rooms with history, messages, and bytes of chat.db plus its WAL."""
    db = os.path.join(data, "chat.db")
    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        rooms = conn.execute("SELECT count(*) FROM rooms").fetchone()[0]
        msgs, text = conn.execute(
            "SELECT count(*), coalesce(sum(length(text)), 0) FROM messages").fetchone()
        conn.close()
    except sqlite3.Error as e:
        return {"error": str(e), "bytes_on_disk": size}
    return {"rooms": rooms, "messages": msgs, "text_bytes": text, "bytes_on_disk": size}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guests", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=25)
    a = ap.parse_args()
    lib.raise_nofile()
    srv = lib.Server(["--chat-lines", "tcp://127.0.0.1:0"])
    try:
        host, port = srv.hostport("chat-lines")
        before = srv.rss()
        sampler = lib.RssSampler(srv)
        t0 = time.monotonic()
        counts = asyncio.run(attack(host, int(port), a.guests, a.seconds))
        took = time.monotonic() - t0
        peak = sampler.stop()
        after = srv.rss()
        disk = history_on_disk(srv.data)
        panicked = srv.panicked()
        result = {
            "script": "guest_rooms", "guests": a.guests, "seconds": round(took, 1),
            "binary": lib.sockit_bin(), **counts, "history": disk,
            "rss_kib": {"before": before.get("VmRSS"), "peak_during": peak,
                        "after": after.get("VmRSS"), "hwm": after.get("VmHWM")},
            "panicked": panicked,
        }
        mib = (disk.get("bytes_on_disk") or 0) / 2**20
        lib.table("guest_rooms", [
            ("guests (one address)", f"{a.guests} on the line door for {took:.1f} s"),
            ("join+post attempts", counts["attempts"]),
            ("refused: room limits / flood", f"{counts['rooms_refused']} / {counts['rate_limited']}"),
            ("rooms with history", disk.get("rooms")),
            ("messages stored", f"{disk.get('messages')} ({disk.get('text_bytes')} B of text)"),
            ("history on disk", f"{mib:.1f} MiB (chat.db + WAL)"),
            ("RSS before / peak / after", f"{lib.mib(before.get('VmRSS'))} / {lib.mib(peak)}"
                                          f" / {lib.mib(after.get('VmRSS'))}"),
            ("server panicked", panicked),
        ])
        lib.write_json("guest_rooms", result)
        return 1 if panicked else 0
    finally:
        srv.stop()
        srv.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
