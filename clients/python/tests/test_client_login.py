"""The login family through the Python client, against the real server."""
import pytest

from conftest import add_user
from sockit_client import Client, ServerError

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def account(server):
    add_user(server.data, "pyuser", PASSWORD)
    return "pyuser"


def test_login_whoami_logout(server, account):
    with Client.connect(server.tcp) as c:
        with pytest.raises(ServerError) as e:
            c.whoami()
        assert e.value.code == "unauthenticated"
        reply = c.login("PyUser", PASSWORD)  # names ignore case
        assert reply["user"] == "pyuser"
        assert len(reply["token"]) == 64
        assert c.whoami()["user"] == "pyuser"
        c.logout()
        with pytest.raises(ServerError) as e:
            c.whoami()
        assert e.value.code == "unauthenticated"


def test_resume_on_a_new_connection_over_unix(server, account):
    with Client.connect(server.tcp) as c:
        token = c.login(account, PASSWORD)["token"]
    with Client.connect(server.unix) as c:
        assert c.resume(token)["user"] == "pyuser"
        assert c.whoami()["user"] == "pyuser"
    with Client.connect(server.tcp) as c:
        with pytest.raises(ServerError) as e:
            c.resume("00" * 32)
        assert e.value.code == "invalid_token"


def test_unknown_user_and_wrong_password_are_indistinguishable(server, account):
    with Client.connect(server.tcp) as c:
        errors = []
        for name, password in [(account, "wrong password"), ("nobody-here", "wrong password")]:
            with pytest.raises(ServerError) as e:
                c.login(name, password)
            errors.append((e.value.code, e.value.message))
        assert errors[0] == errors[1]
        assert errors[0][0] == "invalid_credentials"
        assert c.ping() > 0  # the connection stays usable
