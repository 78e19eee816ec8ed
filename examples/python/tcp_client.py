"""Exercise 1, TCP client: connect, send a message, print the echo.

Serve it with:  sockit serve --echo tcp://127.0.0.1:8888
"""
import socket
import sys

host, port = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 8888
message = b"hello, sockit"

with socket.create_connection((host, port), timeout=5) as sock:
    sock.sendall(message)  # sendall, not send: send may write only part
    received = b""
    while len(received) < len(message):  # TCP is a stream: one send may arrive in pieces
        chunk = sock.recv(1024)
        if not chunk:
            break
        received += chunk
print("received:", received.decode())
