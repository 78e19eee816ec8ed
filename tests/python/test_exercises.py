"""The classic exercises' Python programs against the real sockit server.

Stdlib only: run with `python3 -m pytest tests/python` or
`python3 -m unittest discover -s tests/python`.
"""
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import unittest

from sockit_server import ROOT, Server

EXAMPLES = ROOT / "examples" / "python"


def run_example(name, *args, stdin=None, status=0):
    # The examples that use sockit's Python client find it in the checkout.
    env = dict(os.environ, PYTHONPATH=str(ROOT / "clients" / "python"))
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)],
                         capture_output=True, text=True, timeout=30, input=stdin, env=env)
    assert out.returncode == status, (out.returncode, out.stdout, out.stderr)
    return out.stdout


def free_port_for_tcp_and_udp():
    """A port number free for both TCP and UDP right now (the OS picks it)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
                    return port
            except OSError:
                continue


class Exercises(unittest.TestCase):
    def test_tcp_client(self):
        with Server("--echo", "tcp://127.0.0.1:0") as srv:
            out = run_example("tcp_client.py", *srv.addr("echo", "tcp"))
        self.assertEqual(out, "received: hello, sockit\n")

    def test_udp_client(self):
        with Server("--echo", "udp://127.0.0.1:0") as srv:
            out = run_example("udp_client.py", *srv.addr("echo", "udp"))
        self.assertEqual(out, "received 5 bytes: 'hello'\nreceived 0 bytes: ''\n")

    def test_socketserver_upper_client(self):
        with Server("--upper", "tcp://127.0.0.1:0") as srv:
            out = run_example("upper_client.py", *srv.addr("upper", "tcp"), "hello", "world")
        self.assertIn("Received: HELLO WORLD\n", out)

    def test_classic_udp_upper(self):
        with Server("--upper", "udp://127.0.0.1:0") as srv:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(5)
                s.sendto(b"hello", srv.addr("upper", "udp"))
                self.assertEqual(s.recvfrom(1024)[0], b"HELLO")

    def test_ping_pong_tcp_and_udp_on_one_port(self):
        port = free_port_for_tcp_and_udp()
        with Server("--echo", f"tcp://127.0.0.1:{port}", "--echo", f"udp://127.0.0.1:{port}") as srv:
            self.assertEqual(srv.addr("echo", "udp")[1], port)
            out = run_example("pingpong_client.py", "127.0.0.1", port)
        self.assertRegex(out, r"^tcp ping in \d+ us\nudp ping in \d+ us\n$")

    def test_sticky_packets_frame_client(self):
        with Server("--listen", "tcp://127.0.0.1:0") as srv:
            out = run_example("frame_client.py", *srv.addr("framed", "tcp"))
        self.assertEqual(out, "0 message 0\n1 message 1\n2 message 2\n")

    def test_login_client(self):
        cheap = ("--argon2", "m=256,t=1,p=1")  # fast hashing for tests
        with Server("--listen", "tcp://127.0.0.1:0", *cheap) as srv:
            srv.add_user("alice", "open sesame 42", *cheap)
            addr = "tcp://%s:%d" % srv.addr("framed", "tcp")
            out = run_example("login_client.py", addr, stdin="alice\nopen sesame 42\n")
            self.assertIn("login successful\nlogged in as alice until ", out)
            for who, password in [("alice", "wrong"), ("mallory", "open sesame 42")]:
                out = run_example("login_client.py", addr, stdin=f"{who}\n{password}\n", status=1)
                self.assertEqual(out, "username: password: invalid username or password\n")

    def test_udp_chat_client_meets_an_nc_user_under_the_keyword_rule(self):
        args = ("--chat-udp", "udp://127.0.0.1:0", "--chat-lines", "tcp://127.0.0.1:0",
                "--chat-filter", "darn=****")
        with Server(*args) as srv, socket.create_connection(srv.addr("chat-lines", "tcp"), timeout=10) as nc:
            ann = nc.makefile("rb")
            nc.sendall(b"ann\r\n")
            self.assertTrue(ann.readline().startswith(b"* welcome"))
            self.assertTrue(ann.readline().startswith(b"* you are ~ann in lobby"))
            host, port = srv.addr("chat-udp", "udp")
            client = subprocess.Popen([sys.executable, str(EXAMPLES / "udp_chat_client.py"), "bob", host, str(port)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(client.stdout.readline(), "* ~bob joined lobby\n")
                client.stdin.write("hello, darn it\n")
                client.stdin.flush()
                # ann is told her own join at once; bob's reaches the room
                # once he has stayed the grace period (5 s), as a quiet line
                # that may come between any two messages.
                def said():
                    while (line := ann.readline()) == b"* ~bob joined lobby\r\n":
                        pass
                    return line
                self.assertEqual(said(), b"* ~ann joined lobby\r\n")
                self.assertEqual(said(), b"<~bob> hello, **** it\r\n")
                nc.sendall(b"hi bob\r\n")
                self.assertEqual(client.stdout.readline(), "<~ann> hi bob\n")
                client.stdin.write("{not json, but sent as a message}\n")
                client.stdin.flush()
                self.assertEqual(said(), b"<~bob> {not json, but sent as a message}\r\n")
            finally:
                client.stdin.close()
                self.assertEqual(client.wait(timeout=10), 0)
                client.stdout.close()
    def test_classic_udp_chat_client_without_a_cookie(self):
        """The course's own client: one {"name","msg"} datagram, one reply with
        name and msg, repeat; it never echoes a cookie, and still chats."""
        # Joins told at once: ann's line tells when cy is in.
        with Server("--chat-udp", "udp://127.0.0.1:0", "--chat-lines", "tcp://127.0.0.1:0",
                    "--chat-presence-grace", "0") as srv, \
                socket.create_connection(srv.addr("chat-lines", "tcp"), timeout=10) as nc, \
                socket.create_connection(srv.addr("chat-lines", "tcp"), timeout=10) as nc2, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            ann, cy = nc.makefile("rb"), nc2.makefile("rb")
            nc.sendall(b"ann\r\n")
            while not ann.readline().startswith(b"* ~ann joined lobby"):
                pass
            nc2.sendall(b"cy\r\n")
            self.assertEqual(ann.readline(), b"* ~cy joined lobby\r\n")
            udp.settimeout(10)
            sent = received = 0
            for text in ["hello", "are you there?"]:
                datagram = json.dumps({"name": "bob", "msg": text}).encode()
                udp.sendto(datagram, srv.addr("chat-udp", "udp"))
                reply, _ = udp.recvfrom(65507)
                sent, received = sent + len(datagram), received + len(reply)
                obj = json.loads(reply)
                self.assertEqual(set(obj), {"name", "msg"})
                self.assertEqual(ann.readline(), f"<~bob> {text}\r\n".encode())
                if text == "hello":
                    self.assertEqual(obj, {"name": "~bob", "msg": "hello"})
                    nc.sendall(b"hi bob\r\n")
                    while cy.readline() != b"<~ann> hi bob\r\n":  # committed
                        pass
                else:
                    self.assertEqual(obj, {"name": "~ann", "msg": "hi bob"})
            self.assertLessEqual(received, 3 * sent)

    def test_upload_client(self):
        cheap = ("--argon2", "m=256,t=1,p=1")
        with Server("--listen", "tcp://127.0.0.1:0", *cheap) as srv:
            srv.add_user("alice", "open sesame 42", *cheap)
            addr = "tcp://%s:%d" % srv.addr("framed", "tcp")
            src = pathlib.Path(srv.tmp.name) / "notes.txt"
            data = os.urandom(3 * (1 << 20) + 5)
            src.write_bytes(data)
            out = run_example("upload_client.py", addr, src, stdin="alice\nopen sesame 42\n")
            md5 = hashlib.md5(data).hexdigest()
            self.assertEqual(out, f"username: password: uploaded notes.txt: {len(data)} bytes, md5 {md5}\n")
            stored = list(pathlib.Path(srv.data, "files", "u").glob("*/notes.txt"))
            self.assertEqual([p.read_bytes() == data for p in stored], [True])
            # A second upload of the same name is a conflict: nothing is overwritten.
            out = run_example("upload_client.py", addr, src, stdin="alice\nopen sesame 42\n", status=1)
            self.assertIn("already exists", out)

    def test_address_reuse_server_restarts_at_once(self):
        port = free_port_for_tcp_and_udp()
        for _ in range(2):  # the second run binds while the first left TIME_WAIT behind
            server = subprocess.Popen([sys.executable, str(EXAMPLES / "reuse_server.py"), "127.0.0.1", str(port)],
                                      stdout=subprocess.PIPE, text=True)
            self.assertIn(f"listening on 127.0.0.1:{port}", server.stdout.readline())
            self.assertEqual(run_example("tcp_client.py", "127.0.0.1", port), "received: hello, sockit\n")
            self.assertEqual(server.wait(timeout=10), 0)
            server.stdout.close()

    def test_exercises_doc_shows_every_client_verbatim(self):
        doc = (ROOT / "docs" / "EXERCISES.md").read_text()
        for script in sorted(EXAMPLES.glob("*.py")):
            self.assertIn(script.read_text().strip(), doc, f"{script.name} differs from docs/EXERCISES.md")


if __name__ == "__main__":
    unittest.main()
