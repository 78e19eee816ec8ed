"""examples/frame_demo.py runs against the real server and exits 0."""

import pathlib
import subprocess
import sys

DEMO = pathlib.Path(__file__).resolve().parents[1] / "examples" / "frame_demo.py"


def test_frame_demo(server) -> None:
    out = subprocess.run([sys.executable, str(DEMO), server.tcp],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"connected to {server.tcp}: sockit/")
    assert [l.split(":")[0] for l in lines[1:5]] == ["ping 1", "ping 2", "ping 3", "ping 4"]
    assert "(identical)" in lines[5]
