#!/usr/bin/env python3
"""UDP reflection: how many bytes each UDP service sends an unverified
source per byte that source sent, and whether forged joins fill the
datagram chat's member table.

A forged source is simulated by a socket that never echoes a cookie (as
the victim of a spoofed address would not): what the server sends to that
socket is what a victim would receive. Per service:

- echo: datagrams of mixed sizes (x1 is the documented rule);
- upper: ASCII and text that grows when upper-cased (U+01F0, 2 -> 3 bytes);
- chat-udp: forged joins into a room with --members verified members (one
  socket per join, as many forged addresses would be), renames from one
  source, messages from one source into that room, and the table-fill
  attack: --fill forged joins from distinct 127.x.y.z addresses, then a
  real client tries to join.

Two factors per attack: bytes sent back to the forged source per byte it
sent (what the victim of a forged address receives: at most 3, echo 1), and
bytes the room's verified members were sent per byte (the fan-out a forger
triggers: joins and renames should cause none; a message reaches every
member, as any message does, paced per source).

Works against any sockit build (set SOCKIT=PATH): a server that sends no
cookie just admits every source, as the old door did.

usage: udp_reflect.py [--members 64] [--joins 256] [--renames 200]
                      [--messages 200] [--fill 4200]
"""

import argparse
import json
import selectors
import socket
import threading
import time

import abuselib as lib

# Silence on every socket for this long means the server is done sending.
QUIET = 1.0
# Receive buffer asked for each counting socket: the old door sent
# megabytes to one source, and dropped datagrams would undercount.
RCVBUF = 8 << 20
# Seconds to wait for one reply when joining.
WAIT = 5.0


class Counter:
    """Counts bytes arriving on registered sockets, from a thread."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.bytes = 0
        self.datagrams = 0
        self.last = time.monotonic()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def add(self, s):
        s.setblocking(False)
        with self.lock:
            self.sel.register(s, selectors.EVENT_READ)

    def _run(self):
        while not self.stop:
            with self.lock:
                if not self.sel.get_map():
                    events = []
                else:
                    events = self.sel.select(0.05)
            if not events:
                time.sleep(0.01)
            for key, _ in events:
                while True:
                    try:
                        n = len(key.fileobj.recv(65_536))
                    except (BlockingIOError, OSError):
                        break
                    self.bytes += n
                    self.datagrams += 1
                    self.last = time.monotonic()

    def settle(self):
        """Waits until QUIET passes with nothing arriving; the byte count."""
        while time.monotonic() - self.last < QUIET:
            time.sleep(0.1)
        return self.bytes

    def close(self):
        self.stop = True
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def udp(bind=("127.0.0.1", 0)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    except OSError:
        pass
    s.bind(bind)
    return s


def addr(block, i):
    """The i-th loopback address of a block (127.BLOCK.x.y): forged sources
    and members each get their own address, as on the internet, so the
    per-address member cap does not hide the attack."""
    return (f"127.{block}.{i // 250 % 250}.{1 + i % 250}", 0)


def measure(target, datagrams, block, room=(), one_source=False):
    """Sends `datagrams` from forged sources (a new address each, or one
    for all) and counts what comes back to them and to the room's
    members; returns (sent, to_sources, to_room)."""
    src, rm = Counter(), Counter()
    for s in room:
        rm.add(s)
    base = rm.settle() if room else 0  # what was still coming from earlier steps
    sent = 0
    one = udp(addr(block, 0)) if one_source else None
    if one:
        src.add(one)
    try:
        for i, d in enumerate(datagrams):
            s = one
            if s is None:
                s = udp(addr(block, i))
                src.add(s)
            s.sendto(d, target)
            sent += len(d)
            if i % 64 == 63:
                time.sleep(0.005)  # let the server and the counters breathe
        to_src = src.settle()
        return sent, to_src, rm.settle() - base
    finally:
        src.close()
        rm.stop = True
        rm.thread.join()


def member(target, name, bind=("127.0.0.1", 0)):
    """A verified member (echoes the cookie if one comes); the socket, or
    None with the refusal."""
    s = udp(bind)
    s.settimeout(WAIT)
    s.sendto(json.dumps({"name": name}).encode(), target)
    try:
        first = json.loads(s.recv(65_536))
        if "cookie" in first:
            s.sendto(json.dumps({"name": name, "cookie": first["cookie"]}).encode(), target)
            first = json.loads(s.recv(65_536))
    except (socket.timeout, ValueError):
        s.close()
        return None, "no answer"
    if "error" in first:
        s.close()
        return None, first.get("code")
    return s, None


def row(name, sent, got, room=0):
    """`factor`: bytes sent to the forged source per byte it sent (what a
    victim of the forgery receives; the x3 rule). `room_factor`: bytes the
    room's verified members were sent per byte, the fan-out."""
    return {"attack": name, "sent": sent, "received": got, "to_room": room,
            "factor": round(got / sent, 2) if sent else None,
            "room_factor": round(room / sent, 2) if sent else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=64, help="verified members in the room")
    ap.add_argument("--joins", type=int, default=256)
    ap.add_argument("--renames", type=int, default=200)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--fill", type=int, default=4200, help="forged joins for the table fill")
    a = ap.parse_args()
    lib.raise_nofile()
    results = []
    srv = lib.Server(["--echo", "udp://127.0.0.1:0", "--upper", "udp://127.0.0.1:0",
                      "--chat-udp", "udp://127.0.0.1:0", "--chat-rate", "1000",
                      "--chat-burst", "1000"])
    try:
        echo, upper = srv.hostport("echo", "udp://"), srv.hostport("upper", "udp://")
        chat = srv.hostport("chat-udp", "udp://")
        sizes = [0, 1, 12, 100, 1000, 1400, 8000]
        data = [b"e" * n for n in sizes * 20]
        results.append(row("echo: mixed sizes", *measure(echo, data, 2, one_source=True)))
        grow = ["hello", "\u01f0" * 700, "stra\u00dfe", "\ufb03" * 400, "\u0390" * 300]
        data = [t.encode() for t in grow * 20]
        results.append(row("upper: growing text", *measure(upper, data, 2, one_source=True)))

        room = []
        for i in range(a.members):
            s, why = member(chat, f"m{i}", addr(3, i))
            if s is None:
                raise SystemExit(f"member m{i} could not join: {why}")
            room.append(s)
        joins = [json.dumps({"name": f"j{i}"}).encode() for i in range(a.joins)]
        results.append(row(f"chat: {a.joins} forged joins, {a.members} members",
                           *measure(chat, joins, 4, room)))
        renames = [json.dumps({"name": f"r{i}"}).encode() for i in range(a.renames)]
        results.append(row(f"chat: {a.renames} renames, one source",
                           *measure(chat, renames, 5, room, one_source=True)))
        msgs = [json.dumps({"name": "spoof", "msg": f"m{i}"}).encode() for i in range(a.messages)]
        results.append(row(f"chat: {a.messages} messages, one source",
                           *measure(chat, msgs, 6, room, one_source=True)))
        for s in room:
            s.close()
    finally:
        srv.stop()
        srv.cleanup()

    # The fill attack on a fresh server: forged joins from distinct
    # addresses (127.x.y.z are all loopback), each into its own room so
    # that no presence fans out, then a real client.
    srv = lib.Server(["--chat-udp", "udp://127.0.0.1:0"])
    try:
        chat = srv.hostport("chat-udp", "udp://")
        c = Counter()
        sent = 0
        for i in range(a.fill):
            s = udp(addr(7 + i // 62500, i))
            c.add(s)
            d = json.dumps({"name": f"f{i}", "room": f"r{i}"}).encode()
            s.sendto(d, chat)
            sent += len(d)
            if i % 64 == 63:
                time.sleep(0.005)
        got = c.settle()
        c.close()
        results.append(row(f"chat: {a.fill} forged joins, distinct addresses", sent, got))
        s, why = member(chat, "real")
        fill = {"forged_joins": a.fill, "real_client": "joined" if s else f"refused ({why})"}
        if s:
            s.close()
    finally:
        srv.stop()
        srv.cleanup()

    rows = [(r["attack"], f"sent {r['sent']} B, back to the source {r['received']} B: "
                          f"x{r['factor']}; to the room {r['to_room']} B: x{r['room_factor']}")
            for r in results]
    rows.append(("member table after the fill", f"a real client: {fill['real_client']}"))
    lib.table("udp_reflect (bytes sent to an unverified source per byte it sent)", rows)
    worst = max((r["factor"] or 0) for r in results if not r["attack"].startswith("echo"))
    lib.write_json("udp_reflect", {"script": "udp_reflect", "results": results, "fill": fill,
                                   "worst_factor_except_echo": worst})
    ok = worst <= 3 and fill["real_client"] == "joined"
    print("udp_reflect:", "ok" if ok else "FAILED (over x3, or the table filled)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
