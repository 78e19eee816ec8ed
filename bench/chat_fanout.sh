#!/usr/bin/env bash
# bench/chat_fanout.sh - chat fan-out, sockit beside NATS and Redis pub/sub.
#
# One run, one loopback: 1 publisher, 100 and 1,000 subscribers, 128-byte
# messages, measured by the same client (../shared/bench/pubsub_bench.py via
# 05_pubsub.sh): delivered msgs/s with a bounded in-flight window, and idle
# publish-to-receive latency (p50/p99 of every delivery and of the last
# delivery of each fan-out). sockit is measured through its nc/telnet line
# door (`--chat-lines`), persisting every message to SQLite before fan-out
# (group commit); flood control is raised so the publisher is not throttled.
# Then server memory per idle member at MEMBERS (10,000) members, sockit's
# line door beside NATS subscriptions (bench/chat_members.py).
#
# Needs nats-server and redis-server (apt-get install -y nats-server redis-server).
# Usage: [REPS=3] [DURATION=2] [MEMBERS=10000] [SOCKIT=path/to/sockit] bench/chat_fanout.sh   (ports 39331-39333)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared/bench}"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
REPS="${REPS:-3}"; DURATION="${DURATION:-2}"; MEMBERS="${MEMBERS:-10000}"
P_CHAT=39331; P_NATS=39332
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="$ROOT/target/release/sockit"
fi
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_tcp() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
start_sockit() {
  rm -rf "$OUT/chat-data"
  "$SOCKIT" serve --chat-lines "tcp://127.0.0.1:$P_CHAT" --chat-rate 1000000 --chat-burst 1000000 \
    --max-conns 30000 --max-conns-per-ip 0 --data "$OUT/chat-data" >"$OUT/chat-sockit.log" 2>&1 &
  SOCKIT_PID=$!; PIDS+=("$SOCKIT_PID"); wait_tcp $P_CHAT
}

start_sockit
echo "== fan-out (05_pubsub.sh: nats, redis, sockit line door)"
LINE_HELLO='sub%d\n' EXT="sockit:line:127.0.0.1:$P_CHAT" EXT_PID="$SOCKIT_PID" REPS="$REPS" \
  DURATION="$DURATION" SERVERS="nats redis" "$SHARED/05_pubsub.sh" | tee "$OUT/chat-fanout.txt" | grep '^SUMMARY' || true

echo "== memory per idle member at $MEMBERS members"
kill "$SOCKIT_PID"; wait "$SOCKIT_PID" 2>/dev/null || true
start_sockit
python3 "$ROOT/bench/chat_members.py" line 127.0.0.1 $P_CHAT "$SOCKIT_PID" "$MEMBERS" | tee "$OUT/chat-members-sockit.json"
nats-server -a 127.0.0.1 -p $P_NATS >"$OUT/chat-nats.log" 2>&1 & NATS_PID=$!; PIDS+=("$NATS_PID"); wait_tcp $P_NATS
python3 "$ROOT/bench/chat_members.py" nats 127.0.0.1 $P_NATS "$NATS_PID" "$MEMBERS" | tee "$OUT/chat-members-nats.json"

python3 - "$OUT/chat-fanout.txt" "$OUT/chat-members-sockit.json" "$OUT/chat-members-nats.json" <<'PY'
import json, re, sys
med = {}
for line in open(sys.argv[1]):
    m = re.match(r"SUMMARY pubsub_(\w+?)_s(\d+)(?:_w\d+)?_(\w+) \S+ median=([\d.]+)", line)
    if m:
        med[(m[1], int(m[2]), m[3])] = float(m[4])
q = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
print("\n| subscribers | metric | sockit | nats | redis | sockit/nats | sockit/redis |")
print("|---|---|---|---|---|---|---|")
for subs in (100, 1000):
    for key, name in [("delivered_msgs_s", "delivered msgs/s"), ("idle_lat_p50_us", "idle p50 us"),
                      ("idle_lat_p99_us", "idle p99 us"), ("fanout_last_p99_us", "last-subscriber p99 us")]:
        s, n, r = (med.get((srv, subs, key), 0) for srv in ("sockit", "nats", "redis"))
        print(f"| {subs} | {name} | {s:,.0f} | {n:,.0f} | {r:,.0f} | {q(s, n)} | {q(s, r)} |")
a, b = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(f"\nidle member memory at {a['members']:,} members: sockit {a['per_member_bytes']:,} B, "
      f"nats {b['per_member_bytes']:,} B, sockit/nats {a['per_member_bytes'] / b['per_member_bytes']:.2f}x")
PY
