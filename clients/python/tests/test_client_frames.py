"""The codec against tests/vectors/frames.json (shared with the Rust codec),
fed whole, byte by byte, in the vector's chunks and in every two-way split."""

import json
import pathlib
import socket
from typing import List, Optional, Tuple

import pytest

from sockit_client import FrameDecoder, ProtocolError, encode_frame
from sockit_client.frame import Frame

ROOT = pathlib.Path(__file__).resolve().parents[3]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "frames.json").read_text("utf-8"))["vectors"]


def decode(vector: dict, chunks: List[bytes]) -> Tuple[list, Optional[str]]:
    """Feeds `chunks` then EOF; returns the frames and the error code (or None)."""
    decoder = FrameDecoder(**vector.get("limits", {}))
    frames: list = []
    try:
        for chunk in chunks:
            frames += decoder.feed(chunk)
        decoder.eof()
    except ProtocolError as e:
        return frames + e.frames, e.code
    return frames, None


def splits(data: bytes, vector: dict) -> List[Tuple[str, List[bytes]]]:
    """Every way of cutting `data` that the tests try."""
    ways = [("whole", [data]), ("bytewise", [data[i:i + 1] for i in range(len(data))])]
    ways += [(f"split@{i}", [data[:i], data[i:]]) for i in range(1, len(data))]
    if vector.get("chunks"):
        pieces, at = [], 0
        for n in vector["chunks"]:
            pieces.append(data[at:at + n])
            at += n
        assert at == len(data), "chunks must add up to the length of hex"
        ways.append(("chunks", pieces))
    return ways


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_decodes(vector: dict) -> None:
    data = bytes.fromhex(vector["hex"])
    want = [(f["header"], bytes.fromhex(f["body_hex"])) for f in vector["frames"]]
    for how, chunks in splits(data, vector):
        assert decode(vector, chunks) == (want, vector["error"]), how


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["canonical"]],
                         ids=[v["name"] for v in VECTORS if v["canonical"]])
def test_canonical_vector_encodes(vector: dict) -> None:
    limits = vector.get("limits", {})
    encoded = b"".join(encode_frame(f["header"], bytes.fromhex(f["body_hex"]), **limits)
                       for f in vector["frames"])
    assert encoded.hex() == vector["hex"]


def test_every_error_code_is_covered() -> None:
    codes = {v["error"] for v in VECTORS} - {None}
    assert codes == {"bad_header", "header_too_large", "bad_size", "body_too_large",
                     "truncated_frame"}


def frame_with_header(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


#: Headers where Python's json and the server's parser (serde_json) could
#: disagree, with the code both must give (None: a valid frame).
PITFALLS = [
    ('{"type":"echo","size":true}', "bad_size"),        # bool is an int in Python
    ('{"type":"echo","size":18446744073709551616}', "bad_size"),  # over u64
    ('{"type":"echo","size":1e2}', "bad_size"),
    ('{"type":"echo","ts":NaN}', "bad_header"),          # not JSON
    ('{"type":"echo","ts":-Infinity}', "bad_header"),
    ('{"type":"echo","x":-1e400}', "bad_header"),        # Python: -inf; server: out of range
    ('{"type":"echo","x":1e-400}', None),                 # underflow to 0.0 is fine
    ('"type"', "bad_header"),
    ("\ufeff{}", "bad_header"),                           # a BOM is not JSON
    ('{"type":"echo","x":"\\ud800"}', "bad_header"),      # lone surrogate
    ('{"type":"echo","\\udc00":1}', "bad_header"),
    ('{"type":"echo","x":"\\ud83d\\ude00"}', None),      # a surrogate pair is fine
    ('{"type":"echo","x":' + "[" * 126 + "]" * 126 + "}", None),  # 127 levels: the most
    ('{"type":"echo","x":' + "[" * 127 + "]" * 127 + "}", "bad_header"),
    ('{"type":"echo","x":' + '{"a":' * 127 + "1" + "}" * 127 + "}", "bad_header"),
]


@pytest.mark.parametrize("text, code", PITFALLS)
def test_python_json_pitfalls(text: str, code: Optional[str]) -> None:
    frames, error = decode({}, [frame_with_header(text)])
    assert (len(frames), error) == (int(code is None), code)


@pytest.mark.parametrize("text, code", PITFALLS)
def test_server_agrees_on_pitfalls(server, text: str, code: Optional[str]) -> None:
    """The same bytes sent to the real server draw the same verdict."""
    host, port = server.tcp[len("tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(frame_with_header(text))
        decoder = FrameDecoder()
        frames: List[Frame] = []
        while not frames:
            frames = decoder.feed(s.recv(65536))
    header = frames[0][0]
    assert header.get("code") == code, header


def test_failed_decoder_stays_failed() -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed(b"\0\0\0\0")
    with pytest.raises(ProtocolError) as e:
        decoder.feed(frame_with_header('{"type":"ping"}'))
    assert e.value.code == "stream_failed"


def test_header_len_refused_from_the_prefix_alone() -> None:
    decoder = FrameDecoder(max_header=100)
    with pytest.raises(ProtocolError) as e:
        decoder.feed((101).to_bytes(4, "big"))  # no header byte sent yet
    assert e.value.code == "header_too_large"


def test_body_size_refused_before_the_body_arrives() -> None:
    with pytest.raises(ProtocolError) as e:
        FrameDecoder(max_body=10).feed(frame_with_header('{"size":11,"type":"echo"}'))
    assert e.value.code == "body_too_large"


def test_encoder_refuses_what_the_server_would() -> None:
    with pytest.raises(ProtocolError) as e:
        encode_frame({"type": "echo"}, b"x" * 11, max_body=10)
    assert e.value.code == "body_too_large"
    with pytest.raises(ProtocolError) as e:
        encode_frame({"type": "echo", "pad": "x" * 100}, max_header=100)
    assert e.value.code == "header_too_large"


def test_encoder_owns_size() -> None:
    assert encode_frame({"type": "echo", "size": 99}) == frame_with_header('{"type":"echo"}')
    assert encode_frame({"type": "echo", "size": 0}, b"ab").endswith(b'"size":2,"type":"echo"}ab')


def test_round_trip_many_frames_in_one_stream() -> None:
    frames = [({"type": "echo", "id": i, "text": "é" * i}, bytes(range(i % 256)) * 3)
              for i in range(300)]
    stream = b"".join(encode_frame(h, b) for h, b in frames)
    decoded = FrameDecoder().feed(stream)
    want = [({**h, **({"size": len(b)} if b else {})}, b) for h, b in frames]
    assert decoded == want
