"""Say hello to a sockit server, ping it a few times, and echo a body.

Start a server first (`sockit serve`), then:

    python3 frame_demo.py                      # tcp://127.0.0.1:7878
    python3 frame_demo.py unix://sockit.sock   # any address `sockit serve --listen` took
"""

import sys
from pathlib import Path

try:
    from sockit_client import DEFAULT_ADDRESS, Client
except ImportError:  # running from a checkout without `pip install ./clients/python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sockit_client import DEFAULT_ADDRESS, Client


def main(address: str, pings: int = 4) -> None:
    """Runs the demo against ``address``; exits non-zero if the echo differs."""
    with Client.connect(address, timeout=5) as client:
        info = client.hello()
        print(f"connected to {address}: {info['server']}, protocol {info['version']}, "
              f"features {', '.join(info['features'])}")

        for n in range(1, pings + 1):
            rtt = client.ping(ts=n)  # the pong must carry ts back
            print(f"ping {n}: {rtt * 1000:.3f} ms")

        body = "hello, sockit! ☕".encode("utf-8")
        header, echoed = client.echo(body, note="any field comes back too")
        print(f"echo: sent {len(body)} bytes, got {len(echoed)} back "
              f"({'identical' if echoed == body else 'DIFFERENT'}), header {header}")
        if echoed != body:
            sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_ADDRESS)
