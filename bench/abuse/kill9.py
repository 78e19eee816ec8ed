#!/usr/bin/env python3
"""kill -9 the server in the middle of uploads, downloads and a chat
burst, restart it on the same --data (port 0, addresses read anew), and
check what a user relies on:

- every chat message the server acknowledged is in the room's history;
- every upload that completed is intact (SHA-256 of the stored file and of
  a fresh download against the source);
- every interrupted put resumes from what the server kept (the fsynced
  offset in its staging metadata), not from 0, and ends intact; a put
  whose file was published before the client heard so is found intact;
- every interrupted get resumes from its .sockit-part and ends intact;
- no temporary outlives the startup sweep: DATA/files/staging holds only
  whole .part + .meta pairs (resumable uploads), the users' trees hold no
  temporary names, and staging is empty once every put has resumed.

usage: kill9.py [--rounds 5] [--puts 3] [--gets 2] [--min-mib 64] [--max-mib 256]
"""

import argparse
import collections
import hashlib
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import abuselib as lib

sys.path.insert(0, str(lib.ROOT / "clients" / "python"))
from sockit_client import Client, ProtocolError, ServerError  # noqa: E402

USER, PASSWORD = "abuse", "kill9-password"
CHEAP_ARGON2 = "m=256,t=1,p=1"
# Requests the chat burst keeps in flight: enough to fill group commits.
WINDOW = 32
# Bound on a client still running after the kill (a hang, not a delay).
CLIENT_WAIT = 120


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def make_source(path, mib, rng):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1 << 20))
    return sha256(path)


class Run:
    def __init__(self, a):
        self.a = a
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="sockit-kill9-"))
        self.data = self.root / "data"
        self.env = dict(os.environ, SOCKIT_CONFIG_DIR=str(self.root / "config"))
        self.rng = random.Random(a.seed)
        self.sources = {}  # remote path -> (local source, sha256)
        self.stored = []  # remote paths known complete
        self.srv = None
        self.problems = []

    def cli(self, *args, stdin=None, check=True):
        out = subprocess.run([lib.sockit_bin(), *args], input=stdin, capture_output=True,
                             text=True, env=self.env, timeout=600)
        if check and out.returncode != 0:
            raise RuntimeError(f"sockit {' '.join(args)}: {out.stderr.strip()}")
        return out

    def start(self):
        self.srv = lib.Server(["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP_ARGON2,
                               "--chat-rate", "100000", "--chat-burst", "100000"],
                              data=str(self.data), env=self.env)
        self.addr = self.srv.addr("framed")
        self.cli("login", "--user", USER, "--password-stdin", self.addr, stdin=PASSWORD + "\n")

    def source(self, remote, mib):
        local = self.root / "src" / remote.replace("/", "_")
        local.parent.mkdir(parents=True, exist_ok=True)
        self.sources[remote] = (local, make_source(local, mib, self.rng))
        return local

    def put_cmd(self, remote):
        return [lib.sockit_bin(), "put", "--json", str(self.sources[remote][0]),
                f"{self.addr}:{remote}"]

    def get_cmd(self, remote, dest):
        return [lib.sockit_bin(), "get", "--json", f"{self.addr}:{remote}", str(dest)]

    def stored_file(self, remote):
        """The published file in DATA/files/u/<user id>/<remote>."""
        for user in (self.data / "files" / "u").iterdir():
            if (user / remote).is_file():
                return user / remote
        return None

    def intact(self, remote, what):
        f = self.stored_file(remote)
        if f is None or sha256(f) != self.sources[remote][1]:
            self.problems.append(f"{what}: {remote} stored {'missing' if f is None else 'corrupt'}")
            return False
        return True

    def temporaries(self):
        """Names that should not survive the sweep, and the kept partials
        (destination -> fsynced bytes)."""
        bad, kept, halves = [], {}, collections.defaultdict(set)
        staging = self.data / "files" / "staging"
        for f in staging.rglob("*") if staging.exists() else []:
            if f.is_dir():
                continue
            stem, _, ext = f.name.partition(".")
            if ext in ("part", "meta"):
                halves[(f.parent, stem)].add(ext)
            else:
                bad.append(str(f.relative_to(self.data)))
        for (parent, stem), exts in halves.items():
            if exts != {"part", "meta"}:
                bad.append(f"{parent.relative_to(self.data)}/{stem}: only {exts}")
                continue
            meta = json.loads((parent / f"{stem}.meta").read_text())
            kept[meta["path"]] = meta["synced"]
        tree = self.data / "files" / "u"
        for f in tree.rglob("*") if tree.exists() else []:
            if ".sockit" in f.name or f.name.endswith((".part", ".tmp", ".meta")):
                bad.append(str(f.relative_to(self.data)))
        return bad, kept


def chat_burst(addr, room, joined, stop, acked, refused):
    """Sends messages with WINDOW in flight until the server dies; records
    every (seq, text) the server acknowledged."""
    try:
        c = Client.connect(addr, timeout=10)
        c.hello()
        c.login(USER, PASSWORD)
        c.request("chat.join", room=room)
    except (OSError, ConnectionError, ProtocolError, ServerError):
        return
    finally:
        joined.set()
    flight = collections.deque()
    i = 0
    try:
        while not stop.is_set():
            while len(flight) < WINDOW:
                text = f"{room}-{i}"
                i += 1
                flight.append((c.send("chat.send", room=room, text=text), text))
            rid, text = flight.popleft()
            try:
                h = c.receive(rid).header
                acked.append((h["seq"], h["text"]))
            except ServerError:
                refused.append(text)
            c.events.clear()
    except (OSError, ConnectionError, ProtocolError):
        pass


def history(addr, room):
    c = Client.connect(addr, timeout=10)
    c.hello()
    c.login(USER, PASSWORD)
    seen, after = set(), 0
    while True:
        h = c.request("chat.history", room=room, after=after).header
        for m in h["messages"]:
            seen.add((m["seq"], m["text"]))
            after = max(after, m["seq"])
        if not h.get("more"):
            return seen


def one_round(run, r):
    a, rng = run.a, run.rng
    run.start()
    if not run.stored:  # something stored earlier, for the gets
        for i in range(a.gets):
            remote = f"seed/s{i}.bin"
            run.source(remote, a.min_mib)
            run.cli(*run.put_cmd(remote)[1:])
            run.stored.append(remote)
    puts = [f"r{r}/p{i}.bin" for i in range(a.puts)]
    for remote in puts:
        run.source(remote, rng.randint(a.min_mib, a.max_mib))
    gets = rng.sample(run.stored, min(a.gets, len(run.stored)))
    dests = {g: run.root / "got" / f"r{r}" / g.replace("/", "_") for g in gets}
    for d in dests.values():
        d.parent.mkdir(parents=True, exist_ok=True)
    room = f"k9-r{r}"
    stop, joined, acked, refused = threading.Event(), threading.Event(), [], []
    chat = threading.Thread(target=chat_burst,
                            args=(run.addr, room, joined, stop, acked, refused))
    # The burst is under way before the transfers start.
    chat.start()
    joined.wait(30)
    procs = {("put", p): subprocess.Popen(run.put_cmd(p), stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, env=run.env, text=True)
             for p in puts}
    procs.update({("get", g): subprocess.Popen(run.get_cmd(g, dests[g]), stdout=subprocess.PIPE,
                                               stderr=subprocess.DEVNULL, env=run.env, text=True)
                  for g in gets})
    kill_at = rng.uniform(a.kill_min, a.kill_max)
    time.sleep(kill_at)
    run.srv.kill()
    stop.set()
    done = {k: p.wait(CLIENT_WAIT) == 0 for k, p in procs.items()}
    chat.join()
    run.srv.cleanup()

    # Restart over the same data; the sweep runs at startup.
    run.start()
    bad, kept = run.temporaries()
    run.problems += [f"round {r}: temporary after sweep: {b}" for b in bad]
    rep = {"round": r, "kill_after_s": round(kill_at, 2), "temporaries_after_sweep": bad,
           "partials_kept": kept, "puts": [], "gets": []}
    for p in puts:
        entry = {"path": p, "size": run.sources[p][0].stat().st_size,
                 "completed_before_kill": done[("put", p)], "server_kept": kept.get(p, 0)}
        if not done[("put", p)]:
            out = run.cli(*run.put_cmd(p)[1:], check=False)
            if out.returncode == 5 and p not in kept:
                entry["outcome"] = "published before the kill (reply lost)"
            elif out.returncode == 0:
                resumed = json.loads(out.stdout.splitlines()[-1])["files"][0]["resumed_from"]
                entry["resumed_from"] = resumed
                entry["outcome"] = "resumed" if resumed else "restarted"
                if resumed != kept.get(p, 0):
                    run.problems.append(f"round {r}: put {p} resumed from {resumed}, "
                                        f"server kept {kept.get(p, 0)}")
            else:
                entry["outcome"] = f"re-run failed (exit {out.returncode})"
                run.problems.append(f"round {r}: put {p}: {out.stderr.strip()[-200:]}")
        entry["intact"] = run.intact(p, f"round {r} put")
        if entry["intact"]:
            run.stored.append(p)
        rep["puts"].append(entry)
    for g in gets:
        d = dests[g]
        part = d.with_name(d.name + ".sockit-part")
        entry = {"path": g, "completed_before_kill": done[("get", g)],
                 "partial_bytes": part.stat().st_size if part.exists() else 0}
        if not done[("get", g)]:
            out = run.cli(*run.get_cmd(g, d)[1:], check=False)
            if out.returncode == 0:
                entry["resumed_from"] = json.loads(
                    out.stdout.splitlines()[-1])["files"][0]["resumed_from"]
                if entry["partial_bytes"] and not entry["resumed_from"]:
                    run.problems.append(f"round {r}: get {g} restarted over a partial")
            else:
                run.problems.append(f"round {r}: get {g} re-run exit {out.returncode}")
        entry["intact"] = d.exists() and sha256(d) == run.sources[g][1]
        if not entry["intact"]:
            run.problems.append(f"round {r}: get {g} not intact")
        rep["gets"].append(entry)
    seen = history(run.addr, room)
    lost = [m for m in acked if m not in seen]
    run.problems += [f"round {r}: acknowledged message lost: {m}" for m in lost[:10]]
    rep["chat"] = {"acknowledged": len(acked), "refused": len(refused), "in_history": len(seen),
                   "lost": len(lost)}
    bad, kept = run.temporaries()
    rep["staging_after_resumes"] = bad + [f"partial left: {p}" for p in kept]
    run.problems += [f"round {r}: after resumes: {b}" for b in rep["staging_after_resumes"]]
    rep["panicked"] = run.srv.panicked()
    if rep["panicked"]:
        run.problems.append(f"round {r}: the server panicked")
    run.srv.stop()
    run.srv.cleanup()
    for d in dests.values():
        d.unlink(missing_ok=True)
    return rep


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--puts", type=int, default=3)
    ap.add_argument("--gets", type=int, default=2)
    ap.add_argument("--min-mib", type=int, default=64)
    ap.add_argument("--max-mib", type=int, default=256)
    ap.add_argument("--kill-min", type=float, default=0.5, help="earliest kill, seconds")
    ap.add_argument("--kill-max", type=float, default=4.0, help="latest kill, seconds")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    a.seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print(f"kill9: {a.rounds} rounds, seed {a.seed} (--seed {a.seed} replays the choices)")
    run = Run(a)
    try:
        run.cli("user", "add", USER, "--password-stdin", "--argon2", CHEAP_ARGON2,
                "--data", str(run.data), stdin=PASSWORD + "\n")
        rounds = []
        for r in range(1, a.rounds + 1):
            rep = one_round(run, r)
            rounds.append(rep)
            puts = rep["puts"]
            print(f"round {r}: kill at {rep['kill_after_s']} s; puts "
                  f"{sum(p['completed_before_kill'] for p in puts)} done, "
                  + ", ".join(f"{p['path']} {p.get('outcome', 'done')}"
                              f"{' from ' + str(p['resumed_from']) if p.get('resumed_from') else ''}"
                              for p in puts)
                  + f"; gets {', '.join(str(g.get('resumed_from', 'done')) for g in rep['gets'])}"
                  + f"; chat acked {rep['chat']['acknowledged']}, lost {rep['chat']['lost']}"
                  + f"; temporaries {len(rep['temporaries_after_sweep'])}")
    finally:
        if run.srv:
            run.srv.cleanup()
        shutil.rmtree(run.root, ignore_errors=True)
    total = lambda f: sum(f(x) for x in rounds)  # noqa: E731
    summary = {
        "rounds": len(rounds),
        "acknowledged": total(lambda x: x["chat"]["acknowledged"]),
        "lost": total(lambda x: x["chat"]["lost"]),
        "puts_completed": total(lambda x: sum(p["completed_before_kill"] for p in x["puts"])),
        "puts_resumed": total(lambda x: sum(p.get("outcome") == "resumed" for p in x["puts"])),
        "puts_restarted_no_partial": total(
            lambda x: sum(p.get("outcome") == "restarted" for p in x["puts"])),
        "puts_intact": total(lambda x: sum(p["intact"] for p in x["puts"])),
        "puts": total(lambda x: len(x["puts"])),
        "gets_resumed": total(lambda x: sum(bool(g.get("resumed_from")) for g in x["gets"])),
        "gets_intact": total(lambda x: sum(g["intact"] for g in x["gets"])),
        "gets": total(lambda x: len(x["gets"])),
        "temporaries_after_sweep": total(lambda x: len(x["temporaries_after_sweep"])),
        "problems": run.problems,
    }
    lib.table("kill9", [(k, v) for k, v in summary.items() if k != "problems"]
              + [("problems", len(run.problems))])
    for p in run.problems:
        print(f"  PROBLEM {p}")
    lib.write_json("kill9", {"script": "kill9", "seed": a.seed, "summary": summary,
                             "rounds": rounds})
    return 1 if run.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
