#!/usr/bin/env bash
# bench/churn_compare.sh - connection churn: what accepting, handshaking and
# closing connections costs a server, and what the load generator reports.
#
# `sockit bench --conn-lifetime/--connect-rate` against sockit's TCP echo and
# bench/c_epoll_echo.c (the native floor), and, with the same flags, against
# tcpkali if it is installed (its --connect-rate and --conn-lifetime are the
# model; Debian does not package it: build it from github.com/satori-com/tcpkali
# and put it on PATH to get its line). Reports connects/s achieved vs intended,
# connect latency p50/p99, failed connects, and message p50/p99 under churn.
#
# Usage: [DUR=5] [CONNS=50] [LIFE=0.5] [RATE=5000] [SOCKIT=path] bench/churn_compare.sh
# Loopback only; ports 39311-39312; prints a markdown table and writes bench/out/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
DUR="${DUR:-5}"; CONNS="${CONNS:-50}"; LIFE="${LIFE:-0.5}"; RATE="${RATE:-5000}"
PORT_SOCKIT=39311; PORT_CEPOLL=39312
ulimit -n 65536 2>/dev/null || true
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="$ROOT/target/release/sockit"
fi
cc -O2 -o "$OUT/c_epoll_echo" "$ROOT/bench/c_epoll_echo.c"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_tcp() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

"$SOCKIT" serve --echo "tcp://127.0.0.1:$PORT_SOCKIT" --data "$OUT/churn-data" >"$OUT/churn-sockit.log" 2>&1 & PIDS+=($!)
"$OUT/c_epoll_echo" tcp "$PORT_CEPOLL" & PIDS+=($!)
wait_tcp "$PORT_SOCKIT"; wait_tcp "$PORT_CEPOLL"

echo "| server | load | connects/s (intended) | connect p50 / p99 | failed | msg/s | msg p50 / p99 |"
echo "|---|---|---|---|---|---|---|"
N=0
row() { # server port label args...
  local name="$1" port="$2" label="$3"; shift 3
  local file="$OUT/churn-$name-$((++N)).json"
  "$SOCKIT" bench --json --duration "$DUR" --warmup 1 "$@" "tcp://127.0.0.1:$port" 2>/dev/null | tail -1 >"$file"
  python3 - "$file" "$name" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c, l = r["connect_latency_us"] or {}, r["latency_us"] or {}
ms = lambda us: "-" if us is None else f"{us/1000:.2f} ms"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['connects_per_s']:.0f} ({r['connect_rate']:.0f}) | "
      f"{ms(c.get('p50'))} / {ms(c.get('p99'))} | {r['connect_failures']} | {r['msgs_per_s']:.0f} | "
      f"{ms(l.get('p50'))} / {ms(l.get('p99'))} |")
PY
}
for s in "sockit $PORT_SOCKIT" "cepoll $PORT_CEPOLL"; do
  set -- $s
  row "$1" "$2" "lifetime $LIFE s, $RATE msg/s" --conns "$CONNS" --conn-lifetime "$LIFE" --rate "$RATE"
  row "$1" "$2" "lifetime $LIFE s, closed loop" --conns "$CONNS" --conn-lifetime "$LIFE"
  row "$1" "$2" "ramp at $((CONNS * 2))/s" --conns "$CONNS" --connect-rate "$((CONNS * 2))" --rate "$RATE"
done

if command -v tcpkali >/dev/null; then
  # The same churn from tcpkali: CONNS connections, each replaced after LIFE
  # seconds, RATE/CONNS 64-byte messages per second per connection.
  echo
  echo "tcpkali against sockit (same churn):"
  tcpkali -c "$CONNS" --conn-lifetime "$LIFE" --connect-rate "$(python3 -c "print(int($CONNS/$LIFE))")" \
    -r "$((RATE / CONNS))" -m "$(printf 'x%.0s' $(seq 64))" --latency-connect --latency-first-byte \
    -T "${DUR}s" "127.0.0.1:$PORT_SOCKIT" 2>&1 | tail -12
else
  echo
  echo "tcpkali: not installed (Debian has no package); its line is skipped."
fi
