"""The sockit frame format: bytes <-> (header, body), with no sockets at all.

One frame on the wire (docs/PROTOCOL.md)::

    +--------------------+---------------------------+-----------------------+
    | header_len: u32 BE | header: header_len bytes  | body: header["size"]  |
    |                    | one UTF-8 JSON object     | bytes (none if absent)|
    +--------------------+---------------------------+-----------------------+

The 4-byte length prefix is what cures TCP's "sticky packets": a reader always
knows where the header ends, and the header says where the body ends. This
module is pure (no I/O, no clock), so it is tested byte by byte against
tests/vectors/frames.json, the same vectors the Rust codec passes.
"""

import json
import math
import struct
from typing import Any, Dict, List, Optional, Tuple

#: Bytes of the big-endian ``header_len`` prefix.
PREFIX = struct.Struct(">I")
#: Default cap on one header, as on the server: far above any real header,
#: small enough that a hostile one costs little to refuse.
MAX_HEADER = 64 * 1024
#: Default cap on one body, as on the server (its ``hello`` reply tells its own).
MAX_BODY = 8 * 1024 * 1024
#: Largest value JSON ``"size"`` may hold: the Rust side reads it as a u64.
_U64_MAX = 2**64 - 1
#: Deepest nesting of arrays and objects the server's JSON parser accepts.
MAX_DEPTH = 127

Header = Dict[str, Any]
Frame = Tuple[Header, bytes]


class SockitError(Exception):
    """Base of every sockit error; ``code`` is a stable snake_case string."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        #: Stable snake_case code to branch on (never reworded).
        self.code = code
        #: One line for humans naming the cause and the fix.
        self.message = message


class ProtocolError(SockitError):
    """Bytes that are not valid frames, with the Rust codec's error code.

    Codes: ``bad_header``, ``header_too_large``, ``bad_size``,
    ``body_too_large``, ``truncated_frame``, ``stream_failed`` (the decoder
    already failed), plus the client's own ``unexpected_reply``. After a
    decode error the stream cannot be split into frames any more: close it.
    """

    def __init__(self, code: str, message: str, frames: Optional[List[Frame]] = None) -> None:
        super().__init__(code, message)
        #: Complete frames that preceded the bad bytes in the same ``feed``.
        self.frames = frames or []


def encode_frame(header: Header, body: bytes = b"", *,
                 max_header: int = MAX_HEADER, max_body: int = MAX_BODY) -> bytes:
    """Encodes one frame, exactly as the Rust encoder does (canonical form).

    ``"size"`` is always written from ``len(body)`` (and left out for an
    empty body), whatever ``header`` says. Keys are sorted, no whitespace,
    non-ASCII as raw UTF-8. Raises ProtocolError rather than send a frame
    over the limits, since the server would refuse it anyway.
    """
    if len(body) > max_body:
        raise ProtocolError("body_too_large", f"body of {len(body)} bytes exceeds the "
                            f"limit of {max_body} bytes; send the data in smaller frames")
    fields = {k: v for k, v in header.items() if k != "size"}
    if body:
        fields["size"] = len(body)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")
    if len(text) > max_header:
        raise ProtocolError("header_too_large", f"header of {len(text)} bytes exceeds "
                            f"the limit of {max_header} bytes; send a smaller header")
    return PREFIX.pack(len(text)) + text + bytes(body)


def _reject_constant(name: str) -> Any:
    """json.loads hook: NaN and Infinity are not JSON (the Rust side agrees)."""
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    """json.loads hook: 1e400 is out of range for the server, not infinity."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} out of range")
    return value


def _check_json(value: Any, depth: int = 1) -> None:
    """Refuses what Python's json accepts but the server's parser does not:
    nesting deeper than MAX_DEPTH, and unpaired surrogates such as "\\ud800"."""
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
    elif isinstance(value, (dict, list)):
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        for item in [*value, *value.values()] if isinstance(value, dict) else value:
            _check_json(item, depth + 1)


def parse_header(data: bytes, max_body: int = MAX_BODY) -> Tuple[Header, int]:
    """Parses header bytes; returns the header (``"size"`` kept) and the body size.

    Each failure names the rule it broke, with the Rust codec's code.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("bad_header", "header is not valid UTF-8; "
                            "encode the JSON header as UTF-8") from None
    try:
        header = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
        _check_json(header)
    except (ValueError, RecursionError) as e:
        raise ProtocolError("bad_header", f"header is not valid JSON ({e}); "
                            "send one JSON object") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_header", "header is JSON but not an object; "
                            "wrap the fields in {...}")
    size = header.get("size", 0)
    # bool is a subclass of int in Python, but true is not a byte count.
    if type(size) is not int or not 0 <= size <= _U64_MAX:
        raise ProtocolError("bad_size", '"size" must be an unsigned integer byte '
                            'count; omit it or send e.g. "size":12')
    if size > max_body:
        raise ProtocolError("body_too_large", f"body of {size} bytes exceeds the limit "
                            f"of {max_body} bytes; send the data in smaller frames")
    return header, size


class FrameDecoder:
    """Splits a byte stream into frames, however the bytes were cut up.

    Feed it whatever ``recv`` returned; it returns every frame completed so
    far. Lengths are checked against the limits as soon as they are known
    (``header_len`` from the 4 prefix bytes alone, ``"size"`` from the
    header), before waiting for, or keeping, the bytes they announce.
    """

    def __init__(self, max_header: int = MAX_HEADER, max_body: int = MAX_BODY) -> None:
        #: Largest accepted ``header_len``, in bytes.
        self.max_header = max_header
        #: Largest accepted ``"size"``, in bytes.
        self.max_body = max_body
        self._buf = bytearray()
        self._pending: Optional[Tuple[Header, int]] = None  # parsed header, body size
        self._failed = False

    def feed(self, data: bytes) -> List[Frame]:
        """Adds ``data`` and returns the frames it completed, in order.

        Raises ProtocolError on invalid input; frames completed before the
        bad bytes are in the error's ``frames``. Once failed, always fails.
        """
        if self._failed:
            raise ProtocolError("stream_failed", "the stream already failed to decode; "
                                "close the connection and reconnect")
        self._buf += data
        frames: List[Frame] = []
        try:
            while True:
                frame = self._next()
                if frame is None:
                    return frames
                frames.append(frame)
        except ProtocolError as e:
            self._failed = True
            e.frames = frames
            raise

    def eof(self) -> None:
        """Call when the stream ends: between frames is a clean close,
        anywhere else raises ProtocolError ``truncated_frame``."""
        if not self._failed and (self._buf or self._pending):
            self._failed = True
            raise ProtocolError("truncated_frame", f"connection closed inside a frame "
                                f"({len(self._buf)} bytes left over); "
                                "send whole frames before closing")

    def _next(self) -> Optional[Frame]:
        """Takes one frame off the front of the buffer, or None if incomplete."""
        buf = self._buf
        if self._pending is None:
            if len(buf) < PREFIX.size:
                return None
            (header_len,) = PREFIX.unpack_from(buf)
            if header_len == 0:
                raise ProtocolError("bad_header", "header length is 0; every frame needs "
                                    'a JSON object header such as {"type":"ping"}')
            if header_len > self.max_header:
                raise ProtocolError("header_too_large", f"header of {header_len} bytes exceeds "
                                    f"the limit of {self.max_header} bytes; send a smaller header")
            end = PREFIX.size + header_len
            if len(buf) < end:
                return None
            # Parse once, then keep the result while the body trickles in.
            self._pending = parse_header(bytes(buf[PREFIX.size:end]), self.max_body)
            del buf[:end]
        header, size = self._pending
        if len(buf) < size:
            return None
        body = bytes(buf[:size])
        del buf[:size]
        self._pending = None
        return header, body
