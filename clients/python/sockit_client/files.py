"""The ``file`` family: streamed, pipelined, verified put and get.

Python's standard library has no BLAKE3, so this client verifies with MD5
(``hashlib``), which the protocol accepts in place of BLAKE3 for uploads
begun with ``"md5": true`` and returns on ``file.get`` when asked
(docs/PROTOCOL.md, the ``file`` family). MD5 catches corruption in transit
and on disk, which is what this check is for.

Memory stays at WINDOW chunks whatever the file size: chunks are read (or
written) one at a time while WINDOW requests are in flight.
"""

import hashlib
import os
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

#: Bytes per chunk (capped by the server's max_body): large enough that the
#: per-request cost vanishes, small enough that WINDOW of them stay small.
CHUNK = 1 << 20
#: Chunk requests in flight, so the transfer never waits a round trip per chunk.
WINDOW = 4


def _chunk(client: Any) -> int:
    return max(1, min(CHUNK, int(client.limits.get("max_body", CHUNK))))


def put(client: Any, local: str, remote: str, force: bool = False) -> Dict[str, Any]:
    """Uploads the file ``local`` to ``remote`` (a path below the user's
    root) on a logged-in client; resumes an interrupted upload of the same
    file. Returns the server's ``file.put.end`` reply; raises ServerError
    (``verify_failed``, ``conflict``, ...) on refusal."""
    st = os.stat(local)
    fingerprint = f"py1:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    begin = client.request("file.put", path=remote, file_size=st.st_size,
                           fingerprint=fingerprint, force=force, md5=True).header
    handle, offset = begin["handle"], begin["offset"]
    md5 = hashlib.md5()
    size, chunk = st.st_size, _chunk(client)
    with open(local, "rb") as f:
        # The prefix the server holds is hashed here, not sent again.
        left = offset
        while left:
            block = f.read(min(chunk, left))
            if not block:
                raise OSError(f"{local} shrank while being sent")
            md5.update(block)
            left -= len(block)
        pending: Deque[Tuple[int, int]] = deque()
        pos = offset
        while pos < size or pending:
            while pos < size and len(pending) < WINDOW:
                block = f.read(min(chunk, size - pos))
                if not block:
                    raise OSError(f"{local} shrank while being sent")
                md5.update(block)
                pending.append((client.send("file.write", block, handle=handle, offset=pos),
                                pos + len(block)))
                pos += len(block)
            request_id, end = pending.popleft()
            ack = client.receive(request_id).header
            if ack.get("offset") != end:
                raise ConnectionError(f"server acknowledged {ack.get('offset')}, expected {end}")
    return client.request("file.put.end", handle=handle, md5=md5.hexdigest()).header


def get(client: Any, remote: str, local: str, force: bool = False) -> Dict[str, Any]:
    """Downloads ``remote`` to the file ``local`` through ``local +
    '.sockit-part'``, verified with MD5 before it is renamed into place.
    Refuses to replace an existing file unless ``force``. Returns the
    ``file.get`` reply."""
    if os.path.lexists(local) and not force:
        raise FileExistsError(f"{local} exists; pass force=True to replace it")
    info = client.request("file.get", path=remote, md5=True).header
    if info.get("path") != remote:  # never write what was not asked for
        raise ConnectionError(f"server answered for {info.get('path')!r}, not {remote!r}")
    handle, size, chunk = info["handle"], info["file_size"], _chunk(client)
    part = local + ".sockit-part"
    md5 = hashlib.md5()
    try:
        with open(part, "wb") as f:
            pending: Deque[Tuple[int, int, int]] = deque()
            asked = got = 0
            while got < size:
                while asked < size and len(pending) < WINDOW:
                    n = min(chunk, size - asked)
                    pending.append((client.send("file.read", handle=handle, offset=asked, len=n),
                                    asked, n))
                    asked += n
                request_id, at, n = pending.popleft()
                reply = client.receive(request_id)
                if reply.header.get("offset") != at or len(reply.body) != n:
                    raise ConnectionError(f"bad chunk at {at}: {reply.header}")
                md5.update(reply.body)
                f.write(reply.body)
                got += n
            f.flush()
            os.fsync(f.fileno())
        if md5.hexdigest() != info.get("md5"):
            raise ValueError(f"verification failed: md5 {md5.hexdigest()} != {info.get('md5')}")
        if size == 0:
            client.request("file.close", handle=handle)
        os.replace(part, local)
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        raise
    return info


#: Most entries ``ls`` collects over all pages: bounds memory on a huge or
#: hostile directory.
MAX_ENTRIES = 1_000_000


def ls(client: Any, path: str = "") -> List[Dict[str, Any]]:
    """The entries of the directory ``path`` (``""``: the root), following
    the server's pages (``after`` = ``next``) until the last one."""
    entries: List[Dict[str, Any]] = []
    after: Optional[str] = None
    while True:
        fields: Dict[str, Any] = {"path": path}
        if after is not None:
            fields["after"] = after
        page = client.request("file.ls", **fields).header
        for e in page["entries"]:
            if "/" in e["name"] or (after is not None and e["name"] <= after):
                raise ConnectionError(f"bad entry name {e['name']!r} in a listing")
        entries.extend(page["entries"])
        nxt = page.get("next")
        if not page.get("truncated") or nxt is None:
            return entries
        if len(entries) >= MAX_ENTRIES or (after is not None and nxt <= after):
            raise ConnectionError("listing too long or not advancing")
        after = nxt


def partials(client: Any, path: str = "") -> List[Dict[str, Any]]:
    """Unfinished uploads at or below ``path``: entries with ``name`` (the
    whole destination), ``file_size``, ``offset`` (bytes held), ``running``."""
    return client.request("file.ls", path=path, partial=True).header["entries"]


def cancel(client: Any, remote: str) -> int:
    """Cancels the unfinished upload of ``remote``; returns the quota freed."""
    return client.request("file.put.cancel", path=remote).header["bytes"]
