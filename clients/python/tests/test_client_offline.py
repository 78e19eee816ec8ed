"""Client behaviour that needs no server: a socketpair plays the server."""

import socket
from typing import Tuple

import pytest

from sockit_client import Client, FrameDecoder, ProtocolError, ServerError, encode_frame


def pair() -> Tuple[Client, socket.socket]:
    """A client and the socket standing in for its server."""
    ours, theirs = socket.socketpair()
    theirs.settimeout(5)
    return Client(ours, timeout=5), theirs


def test_request_frame_on_the_wire() -> None:
    client, peer = pair()
    with client, peer:
        request_id = client.send("login", b"secret", user="ada")
        assert FrameDecoder().feed(peer.recv(4096)) == [
            ({"type": "login", "id": request_id, "user": "ada", "size": 6}, b"secret")]


def test_replies_out_of_order_and_pushes_without_id() -> None:
    client, peer = pair()
    with client, peer:
        first, second = client.send("ping"), client.send("ping")
        peer.sendall(encode_frame({"type": "pong", "id": second})
                     + encode_frame({"type": "message", "text": "pushed"})
                     + encode_frame({"type": "pong", "id": first}))
        assert client.receive(first).header["id"] == first
        assert client.receive(second).header["id"] == second
        assert list(client.events) == [({"type": "message", "text": "pushed"}, b"")]


def test_error_without_id_is_raised() -> None:
    client, peer = pair()
    with client, peer:
        client.send("ping")
        peer.sendall(encode_frame({"type": "error", "code": "bad_header", "message": "m"}))
        with pytest.raises(ServerError) as e:
            client.ping()
        assert (e.value.code, e.value.message, e.value.id) == ("bad_header", "m", None)


def test_close_between_frames_is_a_connection_error() -> None:
    client, peer = pair()
    with client:
        request_id = client.send("ping")
        peer.recv(4096)  # closing with unread input would reset instead
        peer.close()
        with pytest.raises(ConnectionError):
            client.receive(request_id)


def test_close_inside_a_frame_is_truncated_frame() -> None:
    client, peer = pair()
    with client:
        request_id = client.send("ping")
        peer.recv(4096)
        peer.sendall(encode_frame({"type": "pong", "id": request_id})[:-3])
        peer.close()
        with pytest.raises(ProtocolError) as e:
            client.receive(request_id)
        assert e.value.code == "truncated_frame"


def test_garbage_from_the_server_is_a_protocol_error() -> None:
    client, peer = pair()
    with client, peer:
        peer.sendall(b"\x00\x00\x00\x02[]")
        with pytest.raises(ProtocolError) as e:
            client.ping()
        assert e.value.code == "bad_header"


def test_wrong_pong_is_unexpected_reply() -> None:
    client, peer = pair()
    with client, peer:
        peer.sendall(encode_frame({"type": "pong", "id": 1, "ts": 2}))
        with pytest.raises(ProtocolError) as e:
            client.ping(ts=1)
        assert e.value.code == "unexpected_reply"


def test_id_and_size_belong_to_the_client() -> None:
    client, peer = pair()
    with client, peer:
        with pytest.raises(ValueError):
            client.send("echo", id=5)


@pytest.mark.parametrize("address", ["udp://127.0.0.1:1", "tcp://:7878", "ftp://x"])
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError):
        Client.connect(address)


def test_timeout_when_the_server_is_silent() -> None:
    ours, theirs = socket.socketpair()
    with Client(ours, timeout=0.05) as client, theirs:
        with pytest.raises(socket.timeout):  # TimeoutError from Python 3.10 on
            client.ping()
