"""Login flood for bench/login_flood.sh: THREADS connections each logging in
in a loop for SECONDS, through the stdlib Python client; prints one JSON
line with the logins/s the server sustained.

usage: login_flood.py HOST PORT USER SECONDS THREADS   (password in SOCKIT_PASSWORD)
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python"))
from sockit_client import Client, ServerError  # noqa: E402


def main():
    host, port, user, seconds, threads = sys.argv[1:6]
    password = os.environ["SOCKIT_PASSWORD"]
    deadline = time.monotonic() + float(seconds)
    counts = {"ok": 0, "refused": 0}
    lock = threading.Lock()

    def worker():
        with Client.connect(f"tcp://{host}:{port}", timeout=60) as c:
            while time.monotonic() < deadline:
                try:
                    c.login(user, password)
                    key = "ok"
                except ServerError:
                    key = "refused"
                with lock:
                    counts[key] += 1

    start = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(int(threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - start
    print(json.dumps({"logins": counts["ok"], "refused": counts["refused"],
                      "seconds": round(elapsed, 2),
                      "logins_per_s": round(counts["ok"] / elapsed, 1)}))


if __name__ == "__main__":
    main()
