"""Shared fixtures: the package on sys.path, and a real `sockit serve`.

The server binary is $SOCKIT_BIN, else <repo>/target/debug/sockit (run
`cargo build` first). It listens on port 0 and a Unix socket in a temporary
directory; the addresses are read from its output, never guessed.
"""

import os
import pathlib
import queue
import socket
import subprocess
import sys
import tempfile
import threading
from typing import Iterator, List, NamedTuple, Optional

import pytest

HERE = pathlib.Path(__file__).resolve().parent
CLIENT_DIR = HERE.parent
ROOT = CLIENT_DIR.parents[1]
BIN = os.environ.get("SOCKIT_BIN", str(ROOT / "target" / "debug" / "sockit"))
#: Upper bound on the server's start-up: a guard against hangs, not a sleep.
START_LIMIT = 30.0

sys.path.insert(0, str(CLIENT_DIR))  # test the checkout, installed or not


class Addrs(NamedTuple):
    """Where the test server's framed door listens, and its data directory."""

    tcp: str
    unix: str
    ipv6: Optional[str]
    data: str


#: Cheap argon2id cost for tests (the production cost is benchmarked).
CHEAP_HASH = "m=256,t=1,p=1"


def add_user(data: str, name: str, password: str) -> None:
    """Creates an account in a server's store with `sockit user add`."""
    subprocess.run([BIN, "user", "add", name, "--password-stdin", "--argon2", CHEAP_HASH,
                    "--data", data], input=password + "\n", text=True, check=True,
                   capture_output=True)


def ipv6_loopback_works() -> bool:
    """True when this host can bind [::1] (containers often cannot)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def read_until_ready(proc: subprocess.Popen) -> List[str]:
    """The server's stdout lines up to the one starting with `ready`."""
    lines: "queue.Queue[str]" = queue.Queue()

    stdout = proc.stdout
    assert stdout is not None, "start the server with stdout=PIPE"

    def pump() -> None:  # a thread, so that a silent server cannot hang the tests
        for line in stdout:
            lines.put(line)
        stdout.close()
        lines.put("")  # EOF: the server exited

    threading.Thread(target=pump, daemon=True).start()
    seen: List[str] = []
    while True:
        try:
            line = lines.get(timeout=START_LIMIT)
        except queue.Empty:
            raise RuntimeError(f"sockit serve printed no `ready` in {START_LIMIT}s: {seen}")
        if not line:
            raise RuntimeError(f"sockit serve exited with {proc.wait()} before `ready`: {seen}")
        if line.startswith("ready"):
            return seen
        seen.append(line.strip())


@pytest.fixture(scope="module")
def server() -> Iterator[Addrs]:
    """A real `sockit serve` for one test module; yields its framed addresses."""
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} not found: run `cargo build` or set SOCKIT_BIN")
    with tempfile.TemporaryDirectory() as tmp:
        args = [BIN, "serve", "--listen", "tcp://127.0.0.1:0", "--listen", "unix://sockit.sock"]
        if ipv6_loopback_works():
            args += ["--listen", "tcp://[::1]:0"]
        data = os.path.join(tmp, "data")
        args += ["--data", data, "--argon2", CHEAP_HASH]
        proc = subprocess.Popen(args, cwd=tmp, stdout=subprocess.PIPE, text=True)
        try:
            lines = read_until_ready(proc)
            framed = [l.split(" listening on ", 1)[1] for l in lines
                      if l.startswith("framed listening on ")]
            tcp = next(a for a in framed if a.startswith("tcp://127."))
            ipv6 = next((a for a in framed if a.startswith("tcp://[")), None)
            # The server prints the relative path it was given; it ran in tmp.
            yield Addrs(tcp, f"unix://{tmp}/sockit.sock", ipv6, data)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
