"""Exercise 9, UDP chat: send {"name", "msg"} datagrams, print what arrives.

Serve it with:  sockit serve --chat-udp udp://127.0.0.1:9999
Run it with:    python3 udp_chat_client.py NAME [HOST PORT]
Each line you type goes to the lobby; messages from others print as they come.
"""
import json
import socket
import sys
import threading

name = sys.argv[1] if len(sys.argv) > 1 else "guest"
server = (sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1", int(sys.argv[3]) if len(sys.argv) > 3 else 9999)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cookie = None  # the server's proof that we receive at this address: echoed, it makes us a member


def send(**fields):
    if cookie:
        fields["cookie"] = cookie
    sock.sendto(json.dumps({"name": name, **fields}).encode(), server)  # one datagram, one JSON object


def receive():
    global cookie
    sock.settimeout(240)  # quiet for 4 minutes? renew the 10-minute membership lease
    while True:
        try:
            data, _ = sock.recvfrom(65507)  # the largest UDP payload: never truncates
        except socket.timeout:
            send()
            continue
        obj = json.loads(data)
        if "cookie" in obj:  # echo it to become a member: every message and notice of the room
            cookie = obj["cookie"]
            send()
        elif "error" in obj:  # our datagram was refused (bad JSON, blocked word, too fast...)
            print("!", obj["error"], flush=True)
        elif "notice" in obj:  # someone joined, left or changed name
            print("*", obj["notice"], flush=True)
        else:  # a message: name, msg, room, id, ts
            print(f"<{obj['name']}> {obj['msg']}", flush=True)


threading.Thread(target=receive, daemon=True).start()
send()  # no "msg": just join the lobby (and start the lease)
for line in sys.stdin:
    if line.strip():
        send(msg=line.rstrip("\n"))
