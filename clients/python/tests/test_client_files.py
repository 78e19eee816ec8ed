"""put and get through the Python client, against the real server."""
import hashlib
import os

import pytest

from conftest import add_user
from sockit_client import Client, ServerError

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def account(server):
    add_user(server.data, "pyfiles", PASSWORD)
    return "pyfiles"


def test_put_get_round_trip_verified(server, account, tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(3 * (1 << 20) + 123))
    with Client.connect(server.tcp) as c:
        c.hello()
        c.login(account, PASSWORD)
        done = c.put(str(src), "py/data.bin")
        assert done["file_size"] == src.stat().st_size
        assert done["md5"] == hashlib.md5(src.read_bytes()).hexdigest()
        with pytest.raises(ServerError) as e:
            c.put(str(src), "py/data.bin")
        assert e.value.code == "conflict"
        out = tmp_path / "out.bin"
        c.get("py/data.bin", str(out))
        assert out.read_bytes() == src.read_bytes()
        with pytest.raises(FileExistsError):
            c.get("py/data.bin", str(out))
        names = [e["name"] for e in c.request("file.ls", path="py").header["entries"]]
        assert names == ["data.bin"]


def test_files_need_a_login(server):
    with Client.connect(server.tcp) as c:
        with pytest.raises(ServerError) as e:
            c.request("file.ls")
        assert e.value.code == "unauthenticated"
