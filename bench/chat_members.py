"""Server memory per idle chat member: opens N members, each really in a
room (sockit's line door: a name line, then the server's notice; NATS: SUB
then PING/PONG), and compares the server's RSS before and after.

usage: chat_members.py {line|nats} HOST PORT PID N
prints one JSON line: {"proto", "members", "rss_before_kb", "rss_after_kb", "per_member_bytes"}
"""
import json
import resource
import socket
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for pid {pid}")


def read_until(sock, token, limit=1 << 16):
    buf = b""
    while token not in buf:
        chunk = sock.recv(4096)
        if not chunk or len(buf) > limit:
            raise SystemExit(f"server closed or talked too much: {buf[-200:]!r}")
        buf += chunk
    return buf


def join(proto, host, port, i):
    s = socket.create_connection((host, port))
    if proto == "line":
        read_until(s, b"name?")
        s.sendall(b"m%d\n" % i)
        read_until(s, b"/help lists the commands")
    else:
        s.sendall(b'CONNECT {"verbose":false}\r\nSUB lobby 1\r\nPING\r\n')
        read_until(s, b"PONG\r\n")
    return s


def main():
    proto, host, port, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
    time.sleep(0.5)
    before = rss_kb(pid)
    members = [join(proto, host, port, i) for i in range(n)]
    time.sleep(1.5)  # let the server settle (allocator, lazily freed buffers)
    after = rss_kb(pid)
    print(json.dumps({"proto": proto, "members": n, "rss_before_kb": before, "rss_after_kb": after,
                      "per_member_bytes": round((after - before) * 1024 / n)}))
    for s in members:
        s.close()


if __name__ == "__main__":
    main()
