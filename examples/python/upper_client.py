"""Exercise 4, the socketserver upper-case client (from the Python docs).

Serve it with:  sockit serve --upper tcp://127.0.0.1:9999
"""
import socket
import sys

host, port = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 9999
data = " ".join(sys.argv[3:]) or "hello world"

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    sock.connect((host, port))
    sock.sendall(bytes(data + "\n", "utf-8"))  # the server answers whole lines
    received = sock.makefile("rb").readline()  # read up to and including "\n"
print("Sent:     {}".format(data))
print("Received: {}".format(str(received, "utf-8").rstrip("\n")))
