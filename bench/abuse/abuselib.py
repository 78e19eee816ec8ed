"""What every abuse script shares: the server under test, its memory, the
framed-ping latency probe, and the report (a table, and JSON in bench/out/).

Python 3 standard library only. Loopback only: servers listen on 127.0.0.1
port 0 and the scripts read the real addresses from their stdout.
"""

import json
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"

# How long a server may take to print `ready`: a bound on a hang.
START_LIMIT = 30.0


def sockit_bin():
    """The release binary: $SOCKIT, else $CARGO_TARGET_DIR or target/."""
    if os.environ.get("SOCKIT"):
        return os.environ["SOCKIT"]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "release" / "sockit"
    if not path.exists():
        sys.exit(f"{path} not found: run `cargo build --release` (or set SOCKIT=PATH)")
    return str(path)


def serve_supports(flag):
    """True when `sockit serve` knows `flag` (the limits land separately)."""
    out = subprocess.run([sockit_bin(), "serve", "--help"], capture_output=True, text=True)
    return flag in out.stdout


def raise_nofile():
    """Lifts the soft open-files limit to the hard one (for 10k sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Server:
    """A release `sockit serve ARGS --data DIR` on port-0 listeners."""

    def __init__(self, args, data=None, env=None):
        binary = sockit_bin()  # before the temporary directory: it may exit
        self.tmp = tempfile.mkdtemp(prefix="sockit-abuse-")
        self.data = data or os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "server.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", *args, "--data", self.data],
            stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        self.listeners = []
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                line = line.strip()
                if " listening on " in line:
                    svc, addr = line.split(" listening on ", 1)
                    self.listeners.append((svc, addr))
                if line.startswith("ready"):
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(START_LIMIT) or self.proc.poll() is not None:
            self.kill()
            sys.exit(f"server did not start; log:\n{open(self.log_path).read()}")
        self.pid = self.proc.pid

    def addr(self, service, scheme="tcp://"):
        for svc, a in self.listeners:
            if svc == service and a.startswith(scheme):
                return a
        raise KeyError(f"no {service} {scheme} listener in {self.listeners}")

    def hostport(self, service, scheme="tcp://"):
        host, port = self.addr(service, scheme).split("://", 1)[1].rsplit(":", 1)
        return host, int(port)

    def rss(self):
        """VmRSS and VmHWM in KiB."""
        out = {}
        try:
            for line in open(f"/proc/{self.pid}/status"):
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
        except FileNotFoundError:
            pass
        return out

    def stop(self):
        """SIGTERM and wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        """SIGKILL, like a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def panicked(self):
        self.log.flush()
        return "panicked" in open(self.log_path, errors="replace").read()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


class RssSampler:
    """Samples the server's VmRSS every `period` s in a thread; `peak` KiB."""

    def __init__(self, server, period=0.2):
        self.server, self.period = server, period
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss().get("VmRSS", 0))
            self.samples += 1
            self._stop.wait(self.period)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def ping_p99(addr, rate, duration, conns=2):
    """Open-loop framed pings (`sockit bench --proto frame-ping --rate`);
    the latency figures in microseconds, and counts."""
    cmd = [sockit_bin(), "bench", "--proto", "frame-ping", "--rate", str(rate),
           "--conns", str(conns), "--duration", str(duration), "--warmup", "1",
           "--json", addr]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    try:
        j = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": (out.stderr or out.stdout).strip()[-300:]}
    lat = j.get("latency_us") or {}
    return {"p50_us": lat.get("p50"), "p99_us": lat.get("p99"), "max_us": lat.get("max"),
            "messages": j.get("messages"), "errors": j.get("errors"),
            "timeouts": j.get("timeouts"), "rate": rate, "seconds": duration}


def ratio(during, idle):
    try:
        return round(during["p99_us"] / idle["p99_us"], 2)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def table(title, rows):
    """Prints `rows` (pairs) as a two-column table."""
    print(f"\n{title}")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib else "?"


def write_json(name, obj):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"abuse-{name}.json"
    obj = dict(obj, machine={"cpus": os.cpu_count(), "load1": os.getloadavg()[0]})
    path.write_text(json.dumps(obj, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path


def pace(sent, start, rate):
    """Sleeps until `sent` items are due at `rate` per second since `start`."""
    ahead = sent / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
