"""The chat family through the Python client, against the real server."""
import pytest

from conftest import add_user
from sockit_client import Client, ServerError

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def account(server):
    add_user(server.data, "pychat", PASSWORD)
    return "pychat"


def test_a_retried_send_with_its_key_posts_once(server, account):
    with Client.connect(server.tcp) as c:
        c.login(account, PASSWORD)
        last = c.chat_join("pyroom")["last_seq"]
        first = c.chat_send("pyroom", "hello", key="retry-1")
        # The reply was lost: the same send again returns the original.
        again = c.chat_send("pyroom", "hello", key="retry-1")
        assert (again["seq"], again["text"]) == (first["seq"], "hello")
        assert first["seq"] == last + 1
        # Without a key given, each send gets a fresh one: two posts.
        a = c.chat_send("pyroom", "one")
        b = c.chat_send("pyroom", "one")
        assert (a["seq"], b["seq"]) == (first["seq"] + 1, first["seq"] + 2)
        with pytest.raises(ServerError) as e:
            c.chat_send("pyroom", "x", key="no spaces")
        assert e.value.code == "bad_request"


def test_join_and_history_carry_the_epoch_and_a_stale_one_is_refused(server, account):
    with Client.connect(server.tcp) as c:
        c.login(account, PASSWORD)
        joined = c.chat_join("pyepoch")
        epoch = joined["epoch"]
        assert isinstance(epoch, str) and epoch
        sent = c.chat_send("pyepoch", "kept")
        page = c.chat_history("pyepoch", after=joined["last_seq"], epoch=epoch)
        assert page["epoch"] == epoch
        assert [m["seq"] for m in page["messages"]] == [sent["seq"]]
        assert c.chat_history("pyepoch", last=5)["epoch"] == epoch
        with pytest.raises(ServerError) as e:
            c.chat_history("pyepoch", after=0, epoch="not-" + epoch)
        assert e.value.code == "stale_epoch"
        assert "reload" in str(e.value)


def test_direct_messages_and_read_markers(server):
    for name in ("pyann", "pybob", "pycid"):
        add_user(server.data, name, PASSWORD)
    with Client.connect(server.tcp) as ann, Client.connect(server.tcp) as bob, \
            Client.connect(server.tcp) as cid:
        for c, name in ((ann, "pyann"), (bob, "pybob"), (cid, "pycid")):
            c.login(name, PASSWORD)
        opened = ann.chat_dm("PyBob")
        assert (opened["room"], opened["with"]) == ("@pyann+pybob", "pybob")
        sent = ann.chat_send("@pybob", "hi @pybob")
        [conv] = bob.chat_dms()
        assert (conv["with"], conv["unread"], conv["mentions"]) == ("pyann", 1, 1)
        assert bob.chat_read("@pyann", sent["seq"]) == sent["seq"]
        assert bob.chat_read("@pyann", 0) == sent["seq"]  # never back
        [counts] = bob.chat_unread(["@pyann+pybob"])
        assert (counts["read"], counts["unread"]) == (sent["seq"], 0)
        # A third account reads nothing of it.
        for call in (lambda: cid.chat_history("@pyann+pybob", last=5),
                     lambda: cid.chat_join("@pyann+pybob")):
            with pytest.raises(ServerError) as e:
                call()
            assert e.value.code == "not_in_room"
        assert cid.chat_dms() == []
        with pytest.raises(ServerError) as e:
            ann.chat_dm("nobody-here")
        assert e.value.code == "not_found"


def test_edit_delete_and_search(server, account):
    add_user(server.data, "pyother", PASSWORD)
    with Client.connect(server.tcp) as c, Client.connect(server.tcp) as other:
        c.login(account, PASSWORD)
        other.login("pyother", PASSWORD)
        c.chat_join("pyedit")
        other.chat_join("pyedit")
        sent = c.chat_send("pyedit", "meet at noon")
        edit = c.chat_edit("pyedit", sent["seq"], "meet at one")
        assert (edit["kind"], edit["target"], edit["seq"]) == ("edit", sent["seq"], sent["seq"] + 1)
        with pytest.raises(ServerError) as e:
            other.chat_delete("pyedit", sent["seq"])
        assert e.value.code == "not_author"
        found = other.chat_search("meet", room="pyedit")["results"]
        assert [(r["seq"], r["text"], r.get("edited")) for r in found] == \
            [(sent["seq"], "meet at one", True)]
        assert other.chat_search("noon", room="pyedit")["results"] == []
        c.chat_delete("pyedit", sent["seq"])
        page = c.chat_history("pyedit", last=10)["messages"]
        assert [(m["kind"], m["text"]) for m in page] == \
            [("deleted", ""), ("edit", ""), ("delete", "")]
        with pytest.raises(ServerError) as e:
            c.chat_edit("pyedit", sent["seq"], "back")
        assert e.value.code == "message_deleted"
        with pytest.raises(ServerError) as e:
            c.chat_search("x" * 10_000)
        assert e.value.code == "bad_query"
