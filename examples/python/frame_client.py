"""Exercise 6, sticky packets: frame every message with a 4-byte length,
a JSON header and a body.

TCP is a byte stream: three sends may arrive as one recv, and one send as
several. Framing makes the message boundaries part of the data.

Serve it with:  sockit serve --listen tcp://127.0.0.1:7878
Watch the problem itself:  sockit lab sticky
"""
import json
import socket
import struct
import sys

host, port = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 7878
MAX_HEADER = 64 * 1024  # check every length before trusting it
MAX_BODY = 8 * 1024 * 1024


def send_frame(sock, header, body=b""):
    if body:
        header = dict(header, size=len(body))
    data = json.dumps(header).encode()
    sock.sendall(struct.pack(">I", len(data)) + data + body)  # one sendall per frame


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:  # recv may return less than asked: loop
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def recv_frame(sock):
    (length,) = struct.unpack(">I", recv_exactly(sock, 4))
    if length > MAX_HEADER:
        raise ValueError(f"header of {length} bytes is over the limit")
    header = json.loads(recv_exactly(sock, length))
    size = header.get("size", 0)
    if not isinstance(size, int) or not 0 <= size <= MAX_BODY:
        raise ValueError(f"bad body size {size!r}")
    body = recv_exactly(sock, size)
    return header, body


with socket.create_connection((host, port), timeout=5) as sock:
    for i in range(3):  # three frames back to back: they may merge on the wire
        send_frame(sock, {"type": "echo", "id": i}, f"message {i}".encode())
    for _ in range(3):  # and still come apart exactly
        header, body = recv_frame(sock)
        print(header["id"], body.decode())
