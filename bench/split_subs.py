#!/usr/bin/env python3
"""bench/split_subs.py - run a Python bench client with its subscribers spread over two nodes.

A stand-in for `python3` (05_pubsub.sh takes it as PY): `split_subs.py SCRIPT ARGS...`
runs SCRIPT (../shared/bench/pubsub_bench.py) unchanged, except that when it
connects to SPLIT_FROM (host:port, node A), every second subscriber
connection goes to SPLIT_TO (node B) instead; the publisher, which the
client connects after all its subscribers, stays on node A. So the
measurement is the same client, the same counting, the same latency
stamps as every other server in the run, with delivery crossing nodes for
half the subscribers. Any other use (`-c CODE`, other ports) is plain python3.
"""
import os
import runpy
import socket
import sys

if len(sys.argv) < 2 or sys.argv[1] == "-c" or sys.argv[1].startswith("-"):
    os.execvp(sys.executable, [sys.executable] + sys.argv[1:])

script, args = sys.argv[1], sys.argv[2:]
split_from = os.environ.get("SPLIT_FROM", "")
split_to = os.environ.get("SPLIT_TO", "")
subs = int(args[args.index("--subs") + 1]) if "--subs" in args else 100
real = socket.create_connection
count = 0


def parse(hp):
    host, port = hp.rsplit(":", 1)
    return host, int(port)


def create_connection(address, *rest, **kw):
    global count
    if split_from and split_to and (address[0], int(address[1])) == parse(split_from):
        i = count
        count += 1
        if i < subs and i % 2 == 1:
            address = parse(split_to)
    return real(address, *rest, **kw)


socket.create_connection = create_connection
sys.argv = [script] + args
runpy.run_path(script, run_name="__main__")
