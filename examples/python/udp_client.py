"""Exercise 3, UDP client: one datagram out, one datagram back.

Serve it with:  sockit serve --echo udp://127.0.0.1:8888
"""
import socket
import sys

host, port = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 8888

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(2)  # UDP may lose datagrams: never wait forever
    for text in ["hello", ""]:  # the empty datagram is a real datagram too
        sock.sendto(text.encode(), (host, port))
        data, server = sock.recvfrom(65507)  # 65507: the largest UDP payload over IPv4
        print(f"received {len(data)} bytes: {data.decode()!r}")
