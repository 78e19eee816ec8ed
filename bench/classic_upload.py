#!/usr/bin/env python3
"""The classic upload exercise, as a benchmark peer: a JSON header with
file_size, file_name and md5 behind a 4-byte length, then the bytes with
sendall; the server reads them, writes the file, hashes it with MD5 while
receiving and compares. One file per run.

    classic_upload.py serve PORT OUTDIR     # accept one upload, then exit
    classic_upload.py send HOST PORT FILE
"""

import hashlib
import json
import os
import socket
import struct
import sys

CHUNK = 1 << 20


def serve(port: int, outdir: str) -> None:
    with socket.create_server(("127.0.0.1", port), reuse_port=False) as srv:
        conn, _ = srv.accept()
        with conn:
            (hlen,) = struct.unpack(">I", recv_exact(conn, 4))
            header = json.loads(recv_exact(conn, hlen))
            name = os.path.basename(header["file_name"])
            left, md5 = header["file_size"], hashlib.md5()
            with open(os.path.join(outdir, name), "wb") as f:
                while left:
                    data = conn.recv(min(CHUNK, left))
                    if not data:
                        raise ConnectionError("closed early")
                    md5.update(data)
                    f.write(data)
                    left -= len(data)
            ok = md5.hexdigest() == header["md5"]
            conn.sendall(b"ok" if ok else b"bad")
            if not ok:
                sys.exit("md5 mismatch")


def recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        data = conn.recv(n - len(buf))
        if not data:
            raise ConnectionError("closed early")
        buf += data
    return bytes(buf)


def send(host: str, port: int, path: str) -> None:
    md5 = hashlib.md5()
    with open(path, "rb") as f:  # the classic reads the file twice: hash, then send
        for block in iter(lambda: f.read(CHUNK), b""):
            md5.update(block)
    header = json.dumps({"file_name": os.path.basename(path),
                         "file_size": os.path.getsize(path),
                         "md5": md5.hexdigest()}).encode()
    with socket.create_connection((host, port)) as s, open(path, "rb") as f:
        s.sendall(struct.pack(">I", len(header)) + header)
        for block in iter(lambda: f.read(CHUNK), b""):
            s.sendall(block)
        if s.recv(3) != b"ok":
            sys.exit("server says md5 mismatch")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1:2] == ["send"]:
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)
