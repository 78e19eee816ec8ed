#!/usr/bin/env bash
# bench/framed_compare.sh - framed pings per second, sockit beside Redis and NATS.
#
# One run, one loopback, 1 and 50 connections, pipeline depth 1 and 16:
#   sockit  `sockit serve --listen`, loaded by `sockit bench --proto frame-ping`
#   redis   redis-server, loaded by the same client (`--proto redis`, PING as
#           multi-bulk) and by redis-benchmark itself (-t ping_mbulk)
#   nats    nats-server, loaded by the same client (`--proto nats`, PING/PONG)
# The same-client figures are the fair comparison (same client cost on the
# shared 2 cores); redis-benchmark is shown as Redis's own view.
#
# Needs: redis-server, redis-tools, nats-server (apt-get install -y redis-server redis-tools nats-server).
# Each figure is the median of REPS runs (the machine is noisy; compare
# within one run, as ratios).
# Usage: [DUR=5] [REPS=3] bench/framed_compare.sh     (loopback only; ports 39311-39313)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
DUR="${DUR:-5}"; REPS="${REPS:-3}"
P_SOCKIT=39311; P_REDIS=39312; P_NATS=39313
ulimit -n 65536 2>/dev/null || true

(cd "$ROOT" && cargo build --release --quiet)
SOCKIT="$ROOT/target/release/sockit"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_tcp() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

setsid "$SOCKIT" serve --listen "tcp://127.0.0.1:$P_SOCKIT" --data "$OUT/sockit-data" >"$OUT/framed-sockit.log" 2>&1 & PIDS+=($!)
setsid redis-server --port "$P_REDIS" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/framed-redis.log" 2>&1 & PIDS+=($!)
setsid nats-server -a 127.0.0.1 -p "$P_NATS" >"$OUT/framed-nats.log" 2>&1 & PIDS+=($!)
for p in $P_SOCKIT $P_REDIS $P_NATS; do wait_tcp "$p"; done

median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x]; print(round(statistics.median(v)) if v else 0)' "$@"; }
rate() { # proto port conns depth -> median msgs/s over REPS runs
  local v=() r; for r in $(seq "$REPS"); do v+=("$(rate1 "$@")"); done; median "${v[@]}"
}
redis_own() { # conns depth -> median requests/s from redis-benchmark
  local v=() r; for r in $(seq "$REPS"); do v+=("$(redis_own1 "$@")"); done; median "${v[@]}"
}
rate1() { # proto port conns depth -> msgs/s
  "$SOCKIT" bench --json --proto "$1" --conns "$3" --pipeline "$4" --duration "$DUR" \
    "tcp://127.0.0.1:$2" 2>>"$OUT/framed-bench.err" | tail -1 |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["msgs_per_s"]))'
}
redis_own1() { # conns depth -> requests/s from redis-benchmark
  local n=$(( $1 * $2 * 20000 )); [ "$n" -gt 3000000 ] && n=3000000
  redis-benchmark -p "$P_REDIS" -c "$1" -P "$2" -n "$n" -t ping_mbulk --csv 2>/dev/null |
    tail -1 | tr -d '"' | cut -d, -f2 | cut -d. -f1
}

echo "| conns | pipeline | sockit framed ping/s | redis (same client) | redis-benchmark | nats (same client) | sockit/redis | sockit/redis-benchmark | sockit/nats |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in 1 50; do
  for d in 1 16; do
    s=$(rate frame-ping $P_SOCKIT "$c" "$d")
    r=$(rate redis $P_REDIS "$c" "$d")
    rb=$(redis_own "$c" "$d")
    n=$(rate nats $P_NATS "$c" "$d")
    python3 - "$c" "$d" "$s" "$r" "$rb" "$n" <<'EOF'
import sys
c, d, s, r, rb, n = sys.argv[1:]
s, r, rb, n = (float(x or 0) for x in (s, r, rb, n))
q = lambda a, b: f"{a / b:.2f}x" if b else "-"
print(f"| {c} | {d} | {s:,.0f} | {r:,.0f} | {rb:,.0f} | {n:,.0f} | {q(s, r)} | {q(s, rb)} | {q(s, n)} |")
EOF
  done
done
