"""Every conversation in tests/vectors/files.json (the file family's rules,
docs/PROTOCOL.md section 4), spoken by this client to the real server, plus
the typed helpers for listings and unfinished uploads."""
import json
import socket
import time

import pytest

from conftest import ROOT, add_user
from sockit_client import Client, ServerError

PASSWORD = "correct horse battery"
VECTORS = json.loads((ROOT / "tests" / "vectors" / "files.json").read_text())["vectors"]
#: How far from now a "$now_s" value may be: a test run's length.
NOW_SLACK = 600


def matches(want, got, where="reply"):
    if want == "$now_s":
        assert isinstance(got, int) and abs(got - time.time()) <= NOW_SLACK, f"{where}: {got}"
    elif isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: {got!r}"
        for k, v in want.items():
            assert k in got, f"{where}: no field {k!r} in {got}"
            matches(v, got[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got!r}"
        for i, (w, g) in enumerate(zip(want, got)):
            matches(w, g, f"{where}[{i}]")
    else:
        assert want == got, f"{where}: {got!r} != {want!r}"


def login(server, user):
    c = Client.connect(server.tcp)
    c.login(user, PASSWORD)
    return c


def reconnect(server, c, user):
    # Half-close and read to the server's EOF: it closes only after pausing
    # this connection's uploads, so they resume at once on the next one.
    c._sock.shutdown(socket.SHUT_WR)
    while c._sock.recv(65536):
        pass
    c.close()
    return login(server, user)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_file_vector(server, vector):
    user = "pv" + str(VECTORS.index(vector))
    add_user(server.data, user, PASSWORD)
    c = login(server, user)
    try:
        for n, step in enumerate(vector["steps"]):
            if step.get("reconnect"):
                c = reconnect(server, c, user)
                continue
            fields = dict(step["send"])
            kind = fields.pop("type")
            want = step.get("expect", {})
            reading = want.get("type") == "file.read"
            body = b"" if reading else step.get("body", "").encode()
            reply = c.receive(c.send(kind, body, **fields), check=False)
            where = f"{vector['name']} step {n}"
            matches(want, reply.header, where)
            for k in step.get("absent", []):
                assert k not in reply.header, f"{where}: {k} in {reply.header}"
            if reading:
                assert reply.body == step.get("body", "").encode(), where
    finally:
        c.close()


def test_partials_are_listed_and_cancelled(server, tmp_path):
    add_user(server.data, "pypartial", PASSWORD)
    with login(server, "pypartial") as c:
        begin = c.request("file.put", path="big/iso", file_size=10, fingerprint="v1").header
        c.request("file.write", b"01234", handle=begin["handle"], offset=0)
        c.request("file.close", handle=begin["handle"])
        assert c.ls() == []
        [p] = c.partials()
        assert (p["name"], p["offset"], p["running"]) == ("big/iso", 5, False)
        assert c.cancel("big/iso") == 8192
        assert c.partials() == []
        with pytest.raises(ServerError) as e:
            c.cancel("big/iso")
        assert e.value.code == "not_found"
        src = tmp_path / "f.txt"
        src.write_bytes(b"x")
        c.put(str(src), "dir/f.txt")
        assert [e["name"] for e in c.ls("dir")] == ["f.txt"]
