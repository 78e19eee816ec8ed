#!/usr/bin/env bash
# bench/cluster_fanout.sh - issue 19's fan-out benchmark, one run, one loopback:
# the issue-5 fan-out (1 publisher, 100 and 1,000 subscribers, 128-byte
# messages, ../shared/bench/05_pubsub.sh's client for every server) on
#   sqlite   one node, history in SQLite (the default)
#   pg1      one node, history in PostgreSQL (--store)
#   pg2      two nodes on that PostgreSQL: the publisher on node A, every
#            second subscriber on node B (bench/split_subs.py stands in for
#            python3 and redirects those connections), so half the
#            deliveries cross nodes through the store's outbox feed
#   nats, redis   beside them, same client, same run
# then committed messages/s, SQLite against PostgreSQL (bench/cluster_chat.py:
# 4 publishers as fast as they can, one node), and a table of the ratios the
# issue sets targets for. sockit is measured through its line door.
#
# PostgreSQL: a throw-away server in a temporary directory (the newest
# /usr/lib/postgresql/*/bin; as the user nobody when run as root), on a Unix
# socket only, with its default durability (fsync on), stopped at the end.
# Needs nats-server, redis-server, postgresql-15
# (apt-get install -y nats-server redis-server postgresql-15).
# Usage: [REPS=3] [DURATION=2] [SUBS_LIST="100 1000"] [SOCKIT=path/to/sockit] bench/cluster_fanout.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared/bench}"
OUT="$ROOT/bench/out/cluster"; rm -rf "$OUT"; mkdir -p "$OUT"
REPS="${REPS:-3}"; DURATION="${DURATION:-2}"; SUBS_LIST="${SUBS_LIST:-100 1000}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/sockit"
fi

. "$ROOT/bench/pg_lib.sh"
PIDS=()
TMP="$(mktemp -d)"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pg_stop
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- a throw-away PostgreSQL (bench/pg_lib.sh)
pg_start "$TMP" "$OUT" -c max_connections=200
URL="$PGURL"

# --- sockit nodes (port 0; the address is read from the node's output)
node() { # name [--store URL]
  local name="$1"; shift
  "$SOCKIT" serve --chat-lines tcp://127.0.0.1:0 --data "$TMP/$name" --chat-rate 1000000 \
    --chat-burst 1000000 --chat-guest-ip-rate 1000000 --chat-guest-ip-burst 1000000 \
    --max-conns 30000 --max-conns-per-ip 0 "$@" >"$OUT/$name.log" 2>"$OUT/$name.err" &
  PIDS+=($!); LAST=$!
  for _ in $(seq 600); do grep -q '^ready' "$OUT/$name.log" && break; sleep 0.05; done
  ADDR=$(awk '/^chat-lines listening on tcp:/ {sub("tcp://", "", $4); print $4}' "$OUT/$name.log")
  [ -n "$ADDR" ] || { echo "node $name did not start: $(cat "$OUT/$name.err")" >&2; exit 1; }
}
node sqlite; S_ADDR=$ADDR; S_PID=$LAST
node pga --store "$URL"; A_ADDR=$ADDR; A_PID=$LAST
echo "nodes: sqlite $S_ADDR, pg node A $A_ADDR"

pubsub() { LINE_HELLO='sub%d\n' REPS="$REPS" DURATION="$DURATION" SUBS_LIST="$SUBS_LIST" "$SHARED/05_pubsub.sh" "$@"; }
echo "== fan-out: nats, redis, sockit on SQLite, sockit on PostgreSQL (one node)"
SERVERS="nats redis" EXT="sqlite:line:$S_ADDR pg1:line:$A_ADDR" pubsub | tee "$OUT/fanout.txt" | grep '^SUMMARY' || true
node pgb --store "$URL"; B_ADDR=$ADDR
echo "== fan-out: two nodes on PostgreSQL (publisher on A $A_ADDR, half the subscribers on B $B_ADDR)"
SERVERS="" EXT="pg2:line:$A_ADDR" PY="$ROOT/bench/split_subs.py" SPLIT_FROM="$A_ADDR" SPLIT_TO="$B_ADDR" \
  pubsub | tee -a "$OUT/fanout.txt" | grep '^SUMMARY' || true
kill "$S_PID" "$A_PID" 2>/dev/null || true

echo "== committed messages/s, one node: SQLite, then PostgreSQL (bench/cluster_chat.py)"
python3 "$ROOT/bench/cluster_chat.py" "$SOCKIT" --nodes 1 | tee "$OUT/committed.txt"
python3 "$ROOT/bench/cluster_chat.py" "$SOCKIT" --nodes 1 --store "$URL" | tee -a "$OUT/committed.txt"

python3 - "$OUT/fanout.txt" "$OUT/committed.txt" "$SUBS_LIST" <<'PY'
import re, sys
med = {}
for line in open(sys.argv[1]):
    m = re.match(r"SUMMARY pubsub_(\w+?)_s(\d+)(?:_w\d+)?_(\w+) \S+ median=([\d.]+)", line)
    if m:
        med[(m[1], int(m[2]), m[3])] = float(m[4])
com = {}
for line in open(sys.argv[2]):
    m = re.search(r"store=(\w+) .*committed_msgs_per_s=(\d+)", line)
    if m:
        com[m[1]] = float(m[2])
q = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
servers = ("sqlite", "pg1", "pg2", "nats", "redis")
print("\n| subscribers | metric | " + " | ".join(servers) + " | pg2/nats | pg2/pg1 | pg2/sqlite |")
print("|---|---|" + "---|" * (len(servers) + 3))
for subs in map(int, sys.argv[3].split()):
    for key, name in [("delivered_msgs_s", "delivered msgs/s"), ("idle_lat_p50_us", "idle p50 us"),
                      ("idle_lat_p99_us", "idle p99 us"), ("fanout_last_p99_us", "last-subscriber p99 us")]:
        v = {s: med.get((s, subs, key), 0) for s in servers}
        print(f"| {subs} | {name} | " + " | ".join(f"{v[s]:,.0f}" for s in servers)
              + f" | {q(v['pg2'], v['nats'])} | {q(v['pg2'], v['pg1'])} | {q(v['pg2'], v['sqlite'])} |")
print(f"\ncommitted msgs/s: sqlite {com.get('sqlite', 0):,.0f}, postgres {com.get('postgres', 0):,.0f}, "
      f"postgres/sqlite {q(com.get('postgres', 0), com.get('sqlite', 0))}")
print("targets (issue 19): pg2 delivered >= nats (pg2/nats >= 1); pg2 last-subscriber p99 <= 2x single node;"
      " committed on postgres >= 0.5x sqlite")
PY
