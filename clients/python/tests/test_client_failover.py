"""Several addresses (the nodes of a cluster): tried in turn, the first that
answers is used, and one warning line names the node fallen over to."""

import logging
import socket

import pytest

from sockit_client import Client


def dead_address() -> str:
    """A loopback port nothing listens on (bound, then closed: refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_a_dead_first_node_is_skipped_with_one_line(server, caplog) -> None:
    dead = dead_address()
    caplog.set_level(logging.WARNING, logger="sockit_client")
    with Client.connect([dead, server.tcp]) as c:
        assert c.address == server.tcp
        assert [a for a, _ in c.skipped] == [dead]
        assert c.hello()["type"] == "hello"
    lines = [r.getMessage() for r in caplog.records if r.name == "sockit_client"]
    assert len(lines) == 1
    assert lines[0].startswith(f"{dead} unreachable (")
    assert lines[0].endswith(f"fell over to {server.tcp}")


def test_a_comma_list_in_order_and_silence_when_the_first_answers(server, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="sockit_client")
    with Client.connect(f"{server.tcp},{dead_address()}") as c:
        assert (c.address, c.skipped, c.fell_over()) == (server.tcp, [], None)
        assert c.ping() > 0
    assert not [r for r in caplog.records if r.name == "sockit_client"]
    with Client.connect(f" {server.unix} , {server.tcp}") as c:
        assert c.address == server.unix


def test_every_node_down_raises_the_last_error() -> None:
    with pytest.raises(ConnectionRefusedError):
        Client.connect([dead_address(), dead_address()], timeout=5)
    with pytest.raises(ValueError):
        Client.connect(" , ")
