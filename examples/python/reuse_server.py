"""Exercise 2, address reuse: a server that can restart on its port at once.

Without SO_REUSEADDR, restarting right after a client was connected fails with
"OSError: [Errno 98] Address already in use" while old connections sit in
TIME_WAIT. sockit sets the option on every TCP listener; this script shows the
same fix in Python and serves one client, then exits.

Run it twice in a row:  python3 reuse_server.py 127.0.0.1 8890
and talk to it with:    python3 tcp_client.py 127.0.0.1 8890
"""
import socket
import sys

host, port = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 8890

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the fix: set before bind()
    srv.bind((host, port))
    srv.listen()
    print(f"listening on {srv.getsockname()[0]}:{srv.getsockname()[1]}", flush=True)
    conn, addr = srv.accept()
    with conn:
        data = conn.recv(1024)
        conn.sendall(data)  # echo, then close first: this side keeps TIME_WAIT
