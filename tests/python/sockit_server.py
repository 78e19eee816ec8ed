"""Start the real `sockit serve` for the Python tests and read its addresses.

The binary comes from $SOCKIT_BIN, else target/debug/sockit (built by cargo).
Servers listen on port 0; the real addresses are read from their output.
"""
import os
import pathlib
import signal
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("SOCKIT_BIN", str(ROOT / "target" / "debug" / "sockit"))


class Server:
    """A running `sockit serve ARGS`; use as a context manager."""

    def __init__(self, *args):
        self.tmp = tempfile.TemporaryDirectory()
        #: The server's --data directory (accounts, chat, files).
        self.data = os.path.join(self.tmp.name, "data")
        self.proc = subprocess.Popen(
            [BIN, "serve", *args, "--data", self.data],
            stdout=subprocess.PIPE, text=True, cwd=self.tmp.name)
        self.listeners = []
        for line in self.proc.stdout:
            if " listening on " in line:
                service, addr = line.strip().split(" listening on ")
                self.listeners.append((service, addr))
            if line.startswith("ready"):
                break
        else:
            raise RuntimeError(f"sockit serve exited: {self.proc.wait()}")

    def addr(self, service, scheme):
        """(host, port) of the first `service` listener with that scheme."""
        for s, a in self.listeners:
            if s == service and a.startswith(scheme + "://"):
                host, port = a.split("://", 1)[1].rsplit(":", 1)
                return host.strip("[]"), int(port)
        raise KeyError((service, scheme, self.listeners))

    def add_user(self, name, password, *args):
        """Creates an account with `sockit user add` in this server's store."""
        subprocess.run([BIN, "user", "add", name, "--password-stdin", *args, "--data", self.data],
                       input=password + "\n", text=True, check=True, capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.tmp.cleanup()
