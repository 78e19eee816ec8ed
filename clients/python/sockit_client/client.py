"""A blocking sockit client: one socket, numbered requests, replies by id.

Every request gets a fresh ``"id"``; the server copies it into the reply, so
many requests can be in flight at once (pipelining) and replies are matched
by id, not by order. New message types need no new machinery: ``request``
sends any type, and the typed helpers (``hello``, ``ping``, ``echo``) are a
few lines each, the pattern for ``login`` and friends to follow.
"""

import itertools
import logging
import secrets
import socket
import ssl
import time
from collections import deque
from typing import (Any, Deque, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)
from urllib.parse import urlsplit

from . import files, tls
from .frame import (MAX_BODY, MAX_HEADER, FrameDecoder, Header, ProtocolError, SockitError,
                    encode_frame)

#: Where ``sockit serve`` listens for the frame protocol by default.
DEFAULT_ADDRESS = "tcp://127.0.0.1:7878"
#: Port used when an address names none.
DEFAULT_PORT = 7878
#: Protocol version this client speaks.
PROTOCOL_VERSION = 1
#: Sent in ``hello`` so server logs can tell clients apart.
CLIENT_NAME = "sockit-client-python/0.1.0"
#: Bytes asked of each ``recv``: a few socket buffers' worth.
RECV_SIZE = 256 * 1024
#: ``pipeline`` reads replies after sending this many bytes of requests.
#: Otherwise both sides could block writing to each other with full buffers
#: (the server writes replies while we still write requests); 32 KiB of
#: requests stays well inside default socket buffers.
PIPELINE_WINDOW = 32 * 1024
#: Most addresses ``connect`` tries: a cluster is a handful of nodes, and
#: each unreachable one can cost up to ``timeout``.
MAX_ADDRESSES = 16

#: Where ``connect`` says which node it fell over to (one warning line).
log = logging.getLogger("sockit_client")


class Reply(NamedTuple):
    """One frame from the server: ``header, body = client.request(...)``."""

    #: Header fields as sent, including ``"type"``, ``"id"`` and ``"size"``.
    header: Header
    #: The body bytes (empty when the reply has none).
    body: bytes


class ServerError(SockitError):
    """The server answered with ``{"type":"error","code":..,"message":..}``.

    Codes of decode errors (``bad_header``, ``header_too_large``, ...) mean
    the server closes the connection after this reply; message-level codes
    (``unknown_type``, ``bad_request``, ...) leave it open.
    """

    def __init__(self, header: Header) -> None:
        super().__init__(str(header.get("code", "unknown")), str(header.get("message", "")))
        #: The whole error header, for any field beyond code and message.
        self.header = header
        #: The id of the request this answers, or None if it could not be matched.
        self.id: Optional[int] = header.get("id")


#: An item of ``pipeline``: ``"ping"``, ``("echo", {"n": 1})`` or ``("echo", {}, b"body")``.
RequestSpec = Union[str, Sequence[Any]]


def split_addresses(address: Union[str, Sequence[str]]) -> List[str]:
    """``"tcp://a:1,tcp://b:2"`` or ``["tcp://a:1", "tcp://b:2"]`` -> a list;
    at most ``MAX_ADDRESSES``."""
    parts = address.split(",") if isinstance(address, str) else list(address)
    nodes = [p.strip() for p in parts if p.strip()]
    if not nodes:
        raise ValueError(f"no address in {address!r}; give one like {DEFAULT_ADDRESS}")
    if len(nodes) > MAX_ADDRESSES:
        raise ValueError(f"{len(nodes)} addresses given; at most {MAX_ADDRESSES} are tried")
    return nodes


def _dial(address: str, timeout: Optional[float], cafile: Optional[str],
          fingerprint: Optional[str]) -> socket.socket:
    """One connected (and for tls://, handshaken) socket to ``address``."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(rest)
        except OSError:
            sock.close()
            raise
        return sock
    if scheme in ("tcp", "tls"):
        url = urlsplit("tcp://" + rest)
        if not url.hostname:
            raise ValueError(f"{address!r}: expected tcp://HOST:PORT, tls://HOST:PORT, "
                             "unix://PATH or HOST:PORT")
        sock = socket.create_connection((url.hostname, url.port or DEFAULT_PORT), timeout)
        # Requests are small and each goes out in one write: send now.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "tls":
            sock = tls.wrap(sock, url.hostname, cafile, fingerprint)
        return sock
    raise ValueError(f"{address!r}: the frame protocol runs over tcp://, tls:// or unix://")


class Client:
    """A connection to a sockit server speaking the frame protocol.

    Use ``Client.connect(address)`` as a context manager. Methods block,
    for at most ``timeout`` seconds per socket operation (``TimeoutError``,
    ``socket.timeout`` before Python 3.10). Not thread-safe.
    """

    def __init__(self, sock: socket.socket, timeout: Optional[float] = 10.0,
                 insecure: bool = False) -> None:
        """Wraps an already connected stream socket (see ``connect``)."""
        self._sock = sock
        self._sock.settimeout(timeout)
        #: Send passwords over plain TCP to another host anyway (``login``).
        self.insecure = insecure
        self._ids = itertools.count(1)
        self._decoder = FrameDecoder()
        self._replies: Dict[int, Reply] = {}
        #: Limits for what we send; ``hello`` replaces them with the server's.
        self.limits = {"max_header": MAX_HEADER, "max_body": MAX_BODY}
        #: The address connected to (set by ``connect``).
        self.address: Optional[str] = None
        #: ``(address, reason)`` of nodes ``connect`` skipped, unreachable.
        self.skipped: List[Tuple[str, str]] = []
        #: Frames that arrived without an id (server pushes, e.g. chat
        #: messages in later protocol versions), oldest first.
        self.events: Deque[Reply] = deque()

    @classmethod
    def connect(cls, address: Union[str, Sequence[str]] = DEFAULT_ADDRESS,
                timeout: Optional[float] = 10.0, cafile: Optional[str] = None,
                fingerprint: Optional[str] = None, insecure: bool = False) -> "Client":
        """Connects to ``tcp://HOST:PORT``, ``tls://HOST:PORT``,
        ``unix:///abs/path``, ``unix://rel/path`` or bare ``HOST:PORT``; IPv6
        hosts in brackets (``tcp://[::1]:7878``).

        Several addresses (a list, or one string separated by commas) are
        the nodes of one cluster, tried in turn: a node that cannot be
        reached (refused, reset, timed out: ``OSError``) is skipped, the
        first that connects is used, and one warning line on the
        ``sockit_client`` logger names the node it fell over to. The
        client's ``address`` is the node used and ``skipped`` lists
        ``(address, reason)`` of those passed over. With every node
        unreachable, the last node's error is raised.

        ``tls://`` checks the server by ``cafile`` (PEM CA certificates) or
        ``fingerprint`` (``"sha256:HEX"``, as `sockit cert show` prints it);
        see ``tls.py``. ``insecure`` lets ``login`` send a password over
        plain TCP to another host (refused by default)."""
        nodes = split_addresses(address)
        skipped: List[Tuple[str, str]] = []
        for i, node in enumerate(nodes):
            try:
                sock = _dial(node, timeout, cafile, fingerprint)
            except ssl.SSLError:
                # A certificate that fails its check is no outage: say so.
                raise
            except OSError as e:
                if i + 1 == len(nodes):
                    raise
                skipped.append((node, str(e) or type(e).__name__))
                continue
            client = cls(sock, timeout, insecure)
            client.address, client.skipped = node, skipped
            line = client.fell_over()
            if line:
                log.warning("%s", line)
            return client
        raise ValueError("no server address given")

    def fell_over(self) -> Optional[str]:
        """One line naming the node ``connect`` fell over to and why, or
        None when the first node answered."""
        if not self.skipped:
            return None
        node, why = self.skipped[0]
        more = f" and {len(self.skipped) - 1} more" if len(self.skipped) > 1 else ""
        return f"{node} unreachable ({why}){more}; fell over to {self.address}"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection; safe to call twice."""
        self._sock.close()

    # -- typed helpers: one per message type, each a thin wrapper ----------

    def hello(self, **fields: Any) -> Header:
        """Says hello; returns the reply (``version``, ``server``, ``limits``,
        ``features``) and adopts the server's limits for what we send."""
        fields.setdefault("version", PROTOCOL_VERSION)
        fields.setdefault("client", CLIENT_NAME)
        header = self.request("hello", **fields).header
        limits = header.get("limits") or {}
        self.limits = {k: int(limits.get(k, v)) for k, v in self.limits.items()}
        # The server may echo back bodies as large as it accepts.
        self._decoder.max_body = max(self._decoder.max_body, self.limits["max_body"])
        return header

    def ping(self, ts: Any = None) -> float:
        """Sends a ping (with ``ts`` if given) and returns the round-trip time
        in seconds; the pong must carry the same ``ts``."""
        fields = {} if ts is None else {"ts": ts}
        start = time.perf_counter()
        header = self.request("ping", **fields).header
        rtt = time.perf_counter() - start
        if header.get("type") != "pong" or header.get("ts") != ts:
            raise ProtocolError("unexpected_reply", f"ping answered with {header}")
        return rtt

    def echo(self, body: bytes = b"", **fields: Any) -> Reply:
        """Sends an echo; the server returns every field and the body unchanged."""
        return self.request("echo", body, **fields)

    # -- the login family (feature "login") -------------------------------

    def login(self, name: str, password: str) -> Header:
        """Logs in; returns the reply (``user``, ``token``, ``expires``).

        The connection then speaks for ``user``; keep ``token`` to
        ``resume`` the session on a later connection. A refusal raises
        ServerError with ``code`` "invalid_credentials" (the same for an
        unknown name and a wrong password), "too_many_attempts" or
        "account_locked". Over plain TCP to another host it raises
        TlsError "insecure" before sending anything, unless the client was
        made with ``insecure=True``: use ``tls://``.
        """
        if not self.insecure and tls.plain_remote(self._sock):
            raise tls.TlsError("insecure", "refusing to send a password over plain TCP to "
                               "another host: anyone on the path could read it; connect with "
                               "tls://HOST:PORT, or pass insecure=True if you trust the network")
        return self.request("login", name=name, password=password).header

    def resume(self, token: str) -> Header:
        """Adopts the session of a previous ``login``; returns ``user`` and
        ``expires``, or raises ServerError "invalid_token"."""
        return self.request("resume", token=token).header

    def whoami(self) -> Header:
        """Which account this connection speaks for (``user``, ``expires``);
        raises ServerError "unauthenticated" before a login."""
        return self.request("whoami").header

    def logout(self) -> None:
        """Revokes this connection's session token on the server."""
        self.request("logout")

    # -- the chat family (feature "chat") ---------------------------------

    def chat_join(self, room: str) -> Header:
        """Joins ``room``; the reply has ``room``, ``last_seq`` and ``epoch``.
        Messages numbered above ``last_seq`` arrive as pushed
        ``chat.message`` frames (see ``events``). Keep ``epoch`` with the
        seqs you saw: it changes when the room's history is reset. Log in
        first."""
        return self.request("chat.join", room=room).header

    def chat_history(self, room: str, last: Optional[int] = None,
                     after: Optional[int] = None,
                     epoch: Optional[str] = None) -> Header:
        """One page of ``room``'s history: the ``last`` N messages, or
        those numbered above ``after``; the reply has ``messages`` (oldest
        first), ``more`` and the room's ``epoch``. With ``epoch`` (the one
        your seqs belong to) a reset history raises ServerError with code
        ``stale_epoch`` instead of a page that would skip messages: read
        again without ``after`` or ``epoch``."""
        fields: Dict[str, Any] = {"room": room}
        for name, value in (("last", last), ("after", after), ("epoch", epoch)):
            if value is not None:
                fields[name] = value
        return self.request("chat.history", **fields).header

    def chat_send(self, room: str, text: str, key: Optional[str] = None) -> Header:
        """Says ``text`` in ``room`` (joined first); returns the reply with
        ``seq`` once the message is committed.

        Every send carries an idempotency key (a fresh random one unless
        ``key`` is given): sending again with the same key after a lost
        reply returns the original ``seq`` instead of posting twice, so
        ``chat_send(room, text, key=k)`` is safe to retry.
        """
        return self.request("chat.send", room=room, text=text,
                            key=key if key is not None else secrets.token_hex(16)).header

    def chat_dm(self, to: str) -> Header:
        """Opens (joins) the direct conversation with the account ``to``;
        the reply has ``room`` (``@a+b``), ``with``, ``last_seq`` and
        ``epoch``. Send to it with ``chat_send("@" + to, text)``. Only the
        two accounts may read it; guests have none."""
        return self.request("chat.dm", to=to).header

    def chat_dms(self) -> List[Header]:
        """Your direct conversations, newest first, each with ``room``,
        ``with``, ``last_seq``, ``ts``, ``read``, ``unread`` and
        ``mentions`` (counts stop at 100: "99+")."""
        return self.request("chat.dms").header["dms"]

    def chat_read(self, room: str, seq: int) -> int:
        """Moves your read marker in ``room`` forward to ``seq`` (never
        back); returns the marker now. Your other connections get a
        ``chat.read`` event."""
        return self.request("chat.read", room=room, seq=seq).header["seq"]

    def chat_unread(self, rooms: List[str]) -> List[Header]:
        """Your marker and counts in each of ``rooms`` (at most 64)."""
        return self.request("chat.unread", rooms=rooms).header["rooms"]

    def chat_edit(self, room: str, seq: int, text: str) -> Header:
        """Replaces the text of your message ``seq`` in ``room`` (joined),
        within the server's edit window (10 minutes by default). The reply
        is the edit entry: its own ``seq``, ``kind`` "edit", ``target`` =
        ``seq``. Others raise ServerError: ``not_author``, ``edit_window``,
        ``message_deleted``, ``no_such_message``."""
        return self.request("chat.edit", room=room, seq=seq, text=text).header

    def chat_delete(self, room: str, seq: int) -> Header:
        """Deletes your message ``seq`` in ``room`` (joined), within the
        edit window; its text leaves history and search. The reply is the
        delete entry (``kind`` "delete", ``target`` = ``seq``)."""
        return self.request("chat.delete", room=room, seq=seq).header

    def chat_search(self, q: str, room: Optional[str] = None,
                    before: Optional[int] = None, limit: Optional[int] = None) -> Header:
        """Messages holding every word of ``q`` (the last also as a
        prefix), newest first, in the rooms you may read (or ``room``). The
        reply has ``results`` (``room``, ``seq``, ``ts``, ``name``,
        ``text``, ``edited``) and, when more exist, ``before``: pass it
        back for the next page."""
        fields: Dict[str, Any] = {"q": q}
        for name, value in (("room", room), ("before", before), ("limit", limit)):
            if value is not None:
                fields[name] = value
        return self.request("chat.search", **fields).header

    # -- the file family (feature "file"), in files.py --------------------

    def put(self, local: str, remote: str, force: bool = False) -> Header:
        """Uploads a local file (streamed, pipelined, resumable, verified
        with MD5); returns the ``file.put.end`` reply. Log in first."""
        return files.put(self, local, remote, force)

    def get(self, remote: str, local: str, force: bool = False) -> Header:
        """Downloads a file, verified with MD5 before it appears at
        ``local``; returns the ``file.get`` reply. Log in first."""
        return files.get(self, remote, local, force)

    def ls(self, remote: str = "") -> List[Header]:
        """A directory's entries (``""``: your root), every page of it."""
        return files.ls(self, remote)

    def partials(self, remote: str = "") -> List[Header]:
        """Your unfinished uploads at or below ``remote`` (interrupted puts,
        which hold quota until resumed or cancelled)."""
        return files.partials(self, remote)

    def cancel(self, remote: str) -> int:
        """Cancels the unfinished upload of ``remote``, deleting what the
        server holds of it; returns the bytes of quota freed."""
        return files.cancel(self, remote)

    # -- the generic layer ------------------------------------------------

    def request(self, type: str, body: bytes = b"", **fields: Any) -> Reply:
        """Sends one request of any ``type`` and waits for its reply.

        Raises ServerError if the reply is an error frame.
        """
        return self.receive(self.send(type, body, **fields))

    def send(self, type: str, body: bytes = b"", **fields: Any) -> int:
        """Sends one request without waiting; returns its id for ``receive``."""
        request_id = next(self._ids)
        self._sock.sendall(self._encode(request_id, type, body, fields))
        return request_id

    def receive(self, request_id: int, check: bool = True) -> Reply:
        """Waits for the reply to ``request_id``; other replies that arrive
        meanwhile are kept for their own ``receive``. With ``check``, an
        error reply raises ServerError."""
        while request_id not in self._replies:
            self._read()
        reply = self._replies.pop(request_id)
        if check and reply.header.get("type") == "error":
            raise ServerError(reply.header)
        return reply

    def pipeline(self, requests: Iterable[RequestSpec], check: bool = True) -> List[Reply]:
        """Sends many requests before reading their replies; returns the
        replies in request order. Items: ``"ping"``, ``(type, fields)`` or
        ``(type, fields, body)``. Requests go out in one write per
        PIPELINE_WINDOW bytes. With ``check``, the first error reply is
        raised as ServerError once every reply has been read."""
        replies: List[Reply] = []
        batch, ids = bytearray(), []
        for spec in requests:
            parts = (spec,) if isinstance(spec, str) else tuple(spec)
            type_, fields, body = parts + ({}, b"")[len(parts) - 1:]
            ids.append(next(self._ids))
            batch += self._encode(ids[-1], type_, body, fields)
            if len(batch) >= PIPELINE_WINDOW:
                self._flush(batch, ids, replies)
        self._flush(batch, ids, replies)
        errors = [r for r in replies if r.header.get("type") == "error"]
        if check and errors:
            raise ServerError(errors[0].header)
        return replies

    # -- internals --------------------------------------------------------

    def _encode(self, request_id: int, type: str, body: bytes, fields: Dict[str, Any]) -> bytes:
        """One request frame; ``id`` and ``size`` belong to the client."""
        if "id" in fields or "size" in fields:
            raise ValueError('"id" and "size" are set by the client; leave them out')
        header = {"type": type, "id": request_id, **fields}
        return encode_frame(header, body, **self.limits)

    def _flush(self, batch: bytearray, ids: List[int], replies: List[Reply]) -> None:
        """Sends ``batch`` in one write, then reads the replies to ``ids``."""
        self._sock.sendall(batch)
        replies.extend(self.receive(i, check=False) for i in ids)
        batch.clear()
        ids.clear()

    def _read(self) -> None:
        """Reads once from the socket and files every frame that completes."""
        data = self._sock.recv(RECV_SIZE)
        if not data:
            self._decoder.eof()
            raise ConnectionError("the server closed the connection")
        unmatched: Optional[ServerError] = None
        for header, body in self._decoder.feed(data):
            if isinstance(header.get("id"), int):
                self._replies[header["id"]] = Reply(header, body)
            elif header.get("type") == "error":
                # No id to match (e.g. a decode error): it concerns us now.
                unmatched = unmatched or ServerError(header)
            else:
                self.events.append(Reply(header, body))
        if unmatched:
            raise unmatched
