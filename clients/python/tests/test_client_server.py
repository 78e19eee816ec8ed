"""The client against the real `sockit serve` (see the `server` fixture)."""

import os
import socket
from typing import List

import pytest

from sockit_client import Client, FrameDecoder, ProtocolError, ServerError, encode_frame
from sockit_client.frame import Frame


def test_hello_reports_version_and_limits(server) -> None:
    with Client.connect(server.tcp) as c:
        reply = c.hello()
    assert reply["type"] == "hello" and reply["id"] == 1
    assert reply["version"] == 1
    assert reply["limits"] == {"max_header": 65536, "max_body": 8 * 1024 * 1024}
    assert {"echo", "ping"} <= set(reply["features"])
    assert reply["server"].startswith("sockit/")


def test_ping_copies_id_and_ts(server) -> None:
    with Client.connect(server.tcp) as c:
        ts = {"sec": 1, "nsec": 5, "note": "any JSON value"}
        reply = c.request("ping", ts=ts)
        assert reply.header == {"type": "pong", "id": 1, "ts": ts}
        assert c.request("ping").header == {"type": "pong", "id": 2}  # no ts, none back
        assert 0 < c.ping(ts=123) < 5


def test_echo_returns_a_64_kib_body_and_every_field(server) -> None:
    # 64 KiB is the most a peer may send before it logs in.
    body = os.urandom(64 * 1024)
    with Client.connect(server.tcp) as c:
        header, got = c.echo(body, name="café ☕", nested={"a": [1, None]})
    assert got == body
    assert header == {"type": "echo", "id": 1, "size": len(body),
                      "name": "café ☕", "nested": {"a": [1, None]}}


def test_a_guest_is_told_to_log_in_before_sending_a_large_body(server) -> None:
    with Client.connect(server.tcp) as c:
        with pytest.raises(ServerError) as e:
            c.echo(os.urandom(1024 * 1024))
    assert e.value.code == "body_too_large"
    assert "log in first" in str(e.value)


def test_empty_echo(server) -> None:
    with Client.connect(server.tcp) as c:
        assert c.echo() == ({"type": "echo", "id": 1}, b"")


def test_pipeline_100_requests_matched_by_id(server) -> None:
    with Client.connect(server.tcp) as c:
        requests = [("echo", {"n": i}, str(i).encode()) if i % 2 else ("ping", {"ts": i})
                    for i in range(100)]
        replies = c.pipeline(requests)
        assert len(replies) == 100
        for i, (header, body) in enumerate(replies):
            assert header["id"] == i + 1
            if i % 2:
                assert (header["type"], header["n"], body) == ("echo", i, str(i).encode())
            else:
                assert (header["type"], header["ts"]) == ("pong", i)


def test_send_many_then_receive_in_any_order(server) -> None:
    with Client.connect(server.tcp) as c:
        ids = [c.send("ping", ts=i) for i in range(100)]
        for i, request_id in reversed(list(enumerate(ids))):
            assert c.receive(request_id).header == {"type": "pong", "id": request_id, "ts": i}


def test_pipeline_larger_than_socket_buffers(server) -> None:
    """Megabytes in flight: the client must read while it writes, or deadlock."""
    # 64 KiB bodies: the most a peer may send before it logs in.
    body = os.urandom(64 * 1024)
    with Client.connect(server.tcp, timeout=30) as c:
        replies = c.pipeline([("echo", {}, body)] * 160)
    assert all(r.body == body for r in replies)


def test_unknown_type_is_an_error_but_the_connection_lives(server) -> None:
    with Client.connect(server.tcp) as c:
        with pytest.raises(ServerError) as e:
            c.request("no_such_type", x=1)
        assert e.value.code == "unknown_type"
        assert e.value.id == 1
        assert "no_such_type" in e.value.message
        with pytest.raises(ServerError) as e:
            c.hello(version="one")
        assert e.value.code == "bad_request"
        assert c.echo(b"still here").body == b"still here"


def test_pipeline_check_raises_the_first_error_after_reading_all(server) -> None:
    with Client.connect(server.tcp) as c:
        with pytest.raises(ServerError) as e:
            c.pipeline(["ping", "bogus", "ping"])
        assert (e.value.code, e.value.id) == ("unknown_type", 2)
        replies = c.pipeline(["ping", "bogus", "ping"], check=False)
        assert [r.header["type"] for r in replies] == ["pong", "error", "pong"]
        assert c.ping() > 0


def test_oversized_header_len_gets_an_error_then_close(server) -> None:
    with Client.connect(server.tcp) as c:
        c.hello()
    host, port = server.tcp[len("tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"\xff\xff\xff\xff")  # announces a 4 GiB header
        stream = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            stream += data
    [(header, body)] = FrameDecoder().feed(stream)
    assert header["type"] == "error"
    assert header["code"] == "header_too_large"
    assert "id" not in header and body == b""


def test_client_raises_unmatched_error_then_sees_the_close(server) -> None:
    with Client.connect(server.tcp) as c:
        c._sock.sendall(b"\0\0\0\0")  # header_len 0: a decode error, no id to copy
        with pytest.raises(ServerError) as e:
            c.ping()
        assert e.value.code == "bad_header" and e.value.id is None
        with pytest.raises((ConnectionError, ProtocolError)):
            c.ping()


def test_client_refuses_to_send_over_the_servers_limit(server) -> None:
    with Client.connect(server.tcp) as c:
        c.hello()
        with pytest.raises(ProtocolError) as e:
            c.echo(b"x" * (8 * 1024 * 1024 + 1))
        assert e.value.code == "body_too_large"
        assert c.ping() > 0  # nothing was sent, the connection is fine


def test_unix_socket(server) -> None:
    with Client.connect(server.unix) as c:
        assert c.hello()["version"] == 1
        assert c.echo(b"over unix").body == b"over unix"


def test_bare_host_port(server) -> None:
    with Client.connect(server.tcp[len("tcp://"):]) as c:
        assert c.ping() > 0


def test_ipv6(server) -> None:
    if server.ipv6 is None:
        pytest.skip("no IPv6 loopback on this host")
    with Client.connect(server.ipv6) as c:
        assert c.hello()["version"] == 1
        assert c.echo(b"v6").body == b"v6"


def test_encode_frame_by_hand_is_understood(server) -> None:
    """The codec alone is enough to talk to the server: what learners copy."""
    host, port = server.tcp[len("tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(encode_frame({"type": "ping", "id": 7}) + encode_frame({"type": "echo"}, b"hi"))
        decoder = FrameDecoder()
        frames: List[Frame] = []
        while len(frames) < 2:
            frames += decoder.feed(s.recv(4096))
    assert frames == [({"type": "pong", "id": 7}, b""), ({"type": "echo", "size": 2}, b"hi")]
