"""Brute force against a full throttle (issue 16, item 3): fill the login
throttle's tables with failed logins from distinct names and addresses,
then guess at a real account, then try its right password.

Phase 1 sends up to --fill failed logins, each from its own loopback
address (127.1.0.0/16 and up; Linux routes all of 127/8 to lo) under its
own made-up name, for at most --fill-seconds. Phase 2 sends --guesses
wrong passwords for the real account from fresh addresses (10 each, under
the per-address limit). Then the right password from a fresh address (a
held throttle refuses it) and from the owner's usual address (which
logged in before the attack, and should still get in).

Reports failures/s absorbed, how many guesses were actually checked
(answered invalid_credentials) versus refused (too_many_attempts), and
whether the right password got in. JSON in bench/out/abuse-login_table_fill.json.

usage: login_table_fill.py [--fill N] [--fill-seconds S] [--guesses N] [--threads N]
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
from sockit_client import Client, ServerError  # noqa: E402

from abuselib import Server, sockit_bin, table, write_json  # noqa: E402

CHEAP = "m=256,t=1,p=1"
PASSWORD = "correct horse battery"


def addr_of(i, base=1):
    """The i-th loopback address from 127.BASE.0.0 up."""
    return f"127.{base + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


def attempt(host, port, source, name, password):
    """One login from `source`: 'ok', or the error code."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(60)
    try:
        sock.bind((source, 0))
        sock.connect((host, port))
        with Client(sock, timeout=60) as c:
            try:
                c.login(name, password)
                return "ok"
            except ServerError as e:
                return e.code
    except OSError as e:
        return f"io:{e.__class__.__name__}"
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fill", type=int, default=66_000)
    ap.add_argument("--fill-seconds", type=float, default=90)
    ap.add_argument("--guesses", type=int, default=200)
    ap.add_argument("--threads", type=int, default=64)
    a = ap.parse_args()

    srv = Server(["--listen", "tcp://127.0.0.1:0", "--argon2", CHEAP])
    try:
        add = subprocess.run(
            [sockit_bin(), "user", "add", "alice", "--password-stdin", "--argon2", CHEAP,
             "--data", srv.data], input=PASSWORD + "\n", capture_output=True, text=True)
        if add.returncode != 0:
            sys.exit(f"user add failed: {add.stderr}")
        host, port = srv.hostport("framed")
        owner = attempt(host, port, "127.0.0.1", "alice", PASSWORD)

        # Phase 1: fill.
        counts = {}
        lock = threading.Lock()
        next_i = [0]
        deadline = time.monotonic() + a.fill_seconds

        def filler():
            while time.monotonic() < deadline:
                with lock:
                    i = next_i[0]
                    if i >= a.fill:
                        return
                    next_i[0] += 1
                r = attempt(host, port, addr_of(i), f"ghost{i}", "wrong guess")
                with lock:
                    counts[r] = counts.get(r, 0) + 1

        t0 = time.monotonic()
        pool = [threading.Thread(target=filler) for _ in range(a.threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        fill_s = time.monotonic() - t0
        filled = sum(counts.values())

        # Phase 2: guesses at the real account, 10 per fresh address.
        guesses = {}
        for g in range(a.guesses):
            r = attempt(host, port, addr_of(g // 10, base=200), "alice", "wrong guess")
            guesses[r] = guesses.get(r, 0) + 1
        fresh = attempt(host, port, "127.250.0.1", "alice", PASSWORD)
        usual = attempt(host, port, "127.0.0.1", "alice", PASSWORD)
        rss = srv.rss()
        panicked = srv.panicked()
    finally:
        srv.cleanup()

    checked = guesses.get("invalid_credentials", 0)
    result = {
        "fill_attempted": filled,
        "fill_outcomes": counts,
        "fill_seconds": round(fill_s, 1),
        "fill_failures_per_s": round(filled / fill_s, 1) if fill_s else None,
        "owner_login_before": owner,
        "guesses": a.guesses,
        "guess_outcomes": guesses,
        "guesses_checked": checked,
        "right_password_fresh_address": fresh,
        "right_password_owner_address": usual,
        "rss_kib": rss.get("VmRSS"),
        "panicked": panicked,
    }
    table("login table fill then guess", [
        ("fill", f"{filled} failed logins in {result['fill_seconds']} s "
                 f"({result['fill_failures_per_s']}/s): {counts}"),
        ("guesses at alice", f"{checked}/{a.guesses} checked, outcomes {guesses}"),
        ("right password, fresh address", fresh),
        ("right password, owner's address", usual),
    ])
    write_json("login_table_fill", result)
    # Held: at most the lockout limit of guesses checked, the attacker's
    # right password refused, the owner admitted.
    ok = checked <= 5 and fresh != "ok" and usual == "ok" and not panicked
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
