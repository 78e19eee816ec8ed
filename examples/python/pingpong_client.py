"""Exercise 5, ping/pong on TCP and UDP at the same port number.

Serve it with:  sockit serve --echo tcp://127.0.0.1:8888 --echo udp://127.0.0.1:8888
"""
import socket
import sys
import time

host, port = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 8888

with socket.create_connection((host, port), timeout=5) as tcp:
    start = time.perf_counter()
    tcp.sendall(b"ping")
    reply = b""
    while len(reply) < 4:  # a stream: the 4 bytes may come in pieces
        chunk = tcp.recv(4 - len(reply))
        if not chunk:
            break
        reply += chunk
    print(f"tcp {reply.decode()} in {(time.perf_counter() - start) * 1e6:.0f} us")

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
    udp.settimeout(2)
    start = time.perf_counter()
    udp.sendto(b"ping", (host, port))  # same port number, other transport
    reply, _ = udp.recvfrom(1024)
    print(f"udp {reply.decode()} in {(time.perf_counter() - start) * 1e6:.0f} us")
