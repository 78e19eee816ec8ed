"""tls:// through the Python client, against a real `sockit serve` over TLS."""
import hashlib
import os
import socket
import subprocess
import tempfile
from typing import Iterator, NamedTuple

import pytest

from conftest import BIN, CHEAP_HASH, add_user, read_until_ready
from sockit_client import Client, TlsError

PASSWORD = "correct horse battery"


class TlsServer(NamedTuple):
    addr: str
    fingerprint: str
    cert: str
    data: str


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    """`sockit serve --listen tls://127.0.0.1:0` with its self-signed certificate."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        args = [BIN, "serve", "--listen", "tls://127.0.0.1:0", "--data", data,
                "--argon2", CHEAP_HASH]
        proc = subprocess.Popen(args, cwd=tmp, stdout=subprocess.PIPE, text=True)
        try:
            lines = read_until_ready(proc)
            addr = next(l.split(" listening on ", 1)[1] for l in lines
                        if l.startswith("framed listening on "))
            fp = next(l.split()[2] for l in lines if l.startswith("tls certificate "))
            add_user(data, "tlsuser", PASSWORD)
            yield TlsServer(addr, fp, os.path.join(data, "tls", "cert.pem"), data)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_pinned_fingerprint_login_and_files(tls_server, tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(2 * (1 << 20) + 7))
    with Client.connect(tls_server.addr, fingerprint=tls_server.fingerprint) as c:
        assert c.hello()["server"].startswith("sockit/")
        assert c.login("tlsuser", PASSWORD)["user"] == "tlsuser"
        c.put(str(src), "tls/data.bin")
        back = tmp_path / "back.bin"
        c.get("tls/data.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()


def test_ca_file_verifies_chain_and_name(tls_server):
    # The self-signed certificate is its own CA, and names 127.0.0.1.
    with Client.connect(tls_server.addr, cafile=tls_server.cert) as c:
        assert c.ping() > 0


def test_a_wrong_pin_or_no_trust_fails_before_anything_is_sent(tls_server):
    with pytest.raises(TlsError) as e:
        Client.connect(tls_server.addr, fingerprint="sha256:" + "ab" * 32)
    assert e.value.code == "certificate_mismatch"
    assert tls_server.fingerprint in e.value.message
    with pytest.raises(TlsError) as e:
        Client.connect(tls_server.addr)
    assert e.value.code == "no_trust"
    with pytest.raises(ValueError):
        Client.connect(tls_server.addr, fingerprint="sha256:1234")


class FakeRemoteSocket:
    """A plain TCP socket to another host, which must receive nothing."""

    family = socket.AF_INET

    def __init__(self) -> None:
        self.sent = b""

    def settimeout(self, _t) -> None:
        pass

    def getpeername(self):
        return ("192.0.2.7", 7878)  # TEST-NET-1: never dialed

    def sendall(self, data: bytes) -> None:
        self.sent += data
        raise ConnectionError("stop here")


def test_a_password_is_refused_over_plain_tcp_to_another_host():
    sock = FakeRemoteSocket()
    c = Client(sock)  # type: ignore[arg-type]
    with pytest.raises(TlsError) as e:
        c.login("alice", PASSWORD)
    assert e.value.code == "insecure"
    assert "tls://" in e.value.message and "insecure=True" in e.value.message
    assert sock.sent == b""
    c = Client(sock, insecure=True)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        c.login("alice", PASSWORD)
    assert PASSWORD.encode() in sock.sent
