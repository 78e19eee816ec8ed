#!/usr/bin/env bash
# bench/login_flood.sh - logins/s at the default argon2id cost, and what a
# login flood does to the echo service's latency on the same server.
#
# One server (`sockit serve --echo ... --listen ...`, release build, default
# argon2 parameters m=19456,t=2,p=1), one account. Echo latency is measured
# by `sockit bench` in open loop (RATE messages/s over CONNS connections, so
# the percentiles are not bent by coordinated omission), first idle, then
# while bench/login_flood.py keeps FLOOD connections logging in as fast as
# the server answers. Target (issue 4): p99 under the flood <= 2x idle p99.
# Each figure is the median of REPS runs.
# Usage: [DUR=10] [REPS=3] [RATE=2000] [CONNS=10] [FLOOD=32] bench/login_flood.sh
#        (loopback only; ports 39321-39322)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
DUR="${DUR:-10}"; REPS="${REPS:-3}"; RATE="${RATE:-2000}"; CONNS="${CONNS:-10}"; FLOOD="${FLOOD:-32}"
P_ECHO=39321; P_FRAMED=39322
PASS="bench password $$"

(cd "$ROOT" && cargo build --release --quiet)
SOCKIT="$ROOT/target/release/sockit"
DATA="$OUT/login-data"; rm -rf "$DATA"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_tcp() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --data "$DATA" >/dev/null
setsid "$SOCKIT" serve --echo "tcp://127.0.0.1:$P_ECHO" --listen "tcp://127.0.0.1:$P_FRAMED" \
  --data "$DATA" >"$OUT/login-sockit.log" 2>&1 & PIDS+=($!)
wait_tcp $P_ECHO; wait_tcp $P_FRAMED

p99() { # -> echo p99 in microseconds
  "$SOCKIT" bench --json --conns "$CONNS" --rate "$RATE" --duration "$DUR" \
    "tcp://127.0.0.1:$P_ECHO" 2>>"$OUT/login-bench.err" | tail -1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["latency_us"]["p99"])'
}
median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x]; print(statistics.median(v) if v else 0)' "$@"; }

idle=(); flood=(); rates=()
for r in $(seq "$REPS"); do
  idle+=("$(p99)")
  SOCKIT_PASSWORD="$PASS" python3 "$ROOT/bench/login_flood.py" 127.0.0.1 $P_FRAMED bench \
    "$((DUR + 2))" "$FLOOD" >"$OUT/login-flood.json" &
  fp=$!
  sleep 1   # let the flood reach full speed before measuring under it
  flood+=("$(p99)")
  wait "$fp"
  rates+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["logins_per_s"])' "$OUT/login-flood.json")")
done
I=$(median "${idle[@]}"); F=$(median "${flood[@]}"); L=$(median "${rates[@]}")
python3 - "$I" "$F" "$L" "$RATE" "$CONNS" "$FLOOD" <<'PY'
import sys
i, f, l, rate, conns, flood = sys.argv[1:]
i, f, l = float(i), float(f), float(l)
print(f"| argon2id m=19456,t=2,p=1 | logins/s ({flood} flooding connections) | echo p99 idle | echo p99 under flood | flood/idle |")
print("|---|---|---|---|---|")
print(f"| default | {l:,.1f} | {i:,.0f} us | {f:,.0f} us | {f / i:.2f}x |")
print(f"(echo load: {rate} msgs/s open loop over {conns} connections)")
PY
