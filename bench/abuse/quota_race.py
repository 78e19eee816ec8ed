#!/usr/bin/env python3
"""Quota attacks on the file store (issue 16 item 4), as one user:

1. race: `--uploads` uploads of `--size` bytes begun at once on as many
   connections, under a quota that holds one of them (`--quota`, 1 MiB):
   how many were published, and how many bytes the user then stores.
2. entries: `--files` empty files under a 1 KiB quota, pipelined on one
   connection: how many were published (empty files used to be free).

Figures are counts and bytes, not timings, so a debug build gives the same
numbers as a release one. Python 3 standard library and the repository's
Python client only; loopback only.

usage: quota_race.py [--uploads 16] [--size 1000000] [--quota 1M] [--files 3000]
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading

import abuselib as lib

sys.path.insert(0, str(lib.ROOT / "clients" / "python"))
from sockit_client import Client, ServerError  # noqa: E402

PASSWORD = "correct horse battery"
CHEAP = "m=256,t=1,p=1"
CHUNK = 1 << 20


def start(quota):
    data = os.path.join(tempfile.mkdtemp(prefix="sockit-quota-"), "data")
    subprocess.run([lib.sockit_bin(), "user", "add", "mallory", "--password-stdin",
                    "--argon2", CHEAP, "--data", data], input=PASSWORD + "\n", text=True,
                   check=True, capture_output=True)
    return lib.Server(["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP,
                       "--quota", quota], data=data)


def stored(data):
    """Bytes of published files and their count, from the data directory."""
    total = count = 0
    for root, _, files in os.walk(os.path.join(data, "files", "u")):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
            count += 1
    return total, count


def race(uploads, size, quota):
    srv = start(quota)
    addr = srv.addr("framed")
    body = os.urandom(size)
    md5 = hashlib.md5(body).hexdigest()
    barrier = threading.Barrier(uploads)
    outcomes = []

    def one(i):
        try:
            with Client.connect(addr, timeout=60) as c:
                c.login("mallory", PASSWORD)
                barrier.wait()
                h = c.request("file.put", path=f"race/f{i}", file_size=size, md5=True,
                              fingerprint=f"race{i}").header["handle"]
                ids = [c.send("file.write", body[o:o + CHUNK], handle=h, offset=o)
                       for o in range(0, size, CHUNK)]
                for rid in ids:
                    c.receive(rid)
                c.request("file.put.end", handle=h, md5=md5)
                outcomes.append("published")
        except ServerError as e:
            outcomes.append(e.code)
        except threading.BrokenBarrierError:
            outcomes.append("barrier")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(uploads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total, count = stored(srv.data)
    srv.cleanup()
    return {"uploads": uploads, "size": size, "quota": quota,
            "published": outcomes.count("published"),
            "refused": {c: outcomes.count(c) for c in set(outcomes) if c != "published"},
            "stored_bytes": total, "stored_files": count}


def entries(files):
    srv = start("1K")
    empty = hashlib.md5(b"").hexdigest()
    published = refused = 0
    with Client.connect(srv.addr("framed"), timeout=60) as c:
        c.login("mallory", PASSWORD)
        for i in range(files):
            try:
                h = c.request("file.put", path=f"e/{i}", file_size=0, md5=True).header
                c.request("file.put.end", handle=h["handle"], md5=empty)
                published += 1
            except ServerError:
                refused += 1
    total, count = stored(srv.data)
    srv.cleanup()
    return {"files": files, "quota": "1K", "published": published, "refused": refused,
            "stored_files": count}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uploads", type=int, default=16)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--quota", default="1M")
    ap.add_argument("--files", type=int, default=3000)
    a = ap.parse_args()
    r = race(a.uploads, a.size, a.quota)
    e = entries(a.files)
    lib.table("quota race (one user, concurrent uploads)", [
        ("binary", lib.sockit_bin()),
        ("uploads begun at once", f"{r['uploads']} x {r['size']} bytes under --quota {r['quota']}"),
        ("published", f"{r['published']} (refused: {r['refused']})"),
        ("stored", f"{r['stored_bytes']} bytes in {r['stored_files']} files"),
        ("empty files under 1K", f"{e['published']} of {e['files']} published"),
    ])
    lib.write_json("quota_race", {"race": r, "entries": e})
    # The checks: never more stored than the quota allows.
    ok = r["published"] <= 1 and e["published"] == 0
    print("quota held" if ok else "QUOTA EXCEEDED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
