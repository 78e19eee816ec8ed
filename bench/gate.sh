#!/usr/bin/env bash
# bench/gate.sh - the performance gate of a refactor (issue 18), one binary:
#   latency   pinned (server --threads 1 and client on CPU 0), one connection,
#             pipeline 1: framed-ping p50 and echo RTT p50 (median of REPS)
#   framed    bench/framed_compare.sh, unpinned: 1 and 50 connections,
#             pipeline 1 and 16, ratios to Redis through the same client
#   idle      server memory per idle connection at N (10,000): echo and
#             framed (bench/idle_mem.py: VmRSS growth / N)
#   tls       bench/tls_compare.sh: TLS vs plain TCP, put/get and pings
#   chat      bench/chat_fanout.sh: fan-out beside NATS and Redis
#   files     bench/files_compare.sh: put/get beside nc
# Run it on the old and the new binary, one after the other, and compare;
# the machine is shared and noisy, so compare ratios to the peers.
# Needs what those scripts need (redis-server, redis-tools, nats-server, nc, b3sum).
# Usage: SOCKIT=path/to/sockit [PARTS="latency framed idle tls chat files"]
#        [DUR=4] [REPS=3] [N=10000] [SIZE=512M] bench/gate.sh
#        (loopback only; ports 39321-39322 and those of the scripts it runs)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/gate"; rm -rf "$OUT"; mkdir -p "$OUT"
: "${SOCKIT:?set SOCKIT=path/to/sockit (a release build)}"
SOCKIT="$(cd "$(dirname "$SOCKIT")" && pwd)/$(basename "$SOCKIT")"
export SOCKIT
PARTS="${PARTS:-latency framed idle tls chat files}"
DUR="${DUR:-4}"; REPS="${REPS:-3}"; N="${N:-10000}"; SIZE="${SIZE:-512M}"
P_FRAME=39321; P_ECHO=39322
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

SP=""
stop() { [ -z "$SP" ] || { kill "$SP" 2>/dev/null || true; wait "$SP" 2>/dev/null || true; SP=""; }; }
trap stop EXIT
serve() { # pin-prefix threads
  rm -rf "$OUT/data"
  $1 "$SOCKIT" serve --threads "$2" --listen "tcp://127.0.0.1:$P_FRAME" --echo "tcp://127.0.0.1:$P_ECHO" \
    --max-conns 30000 --max-conns-per-ip 0 --data "$OUT/data" >"$OUT/serve.log" 2>&1 & SP=$!
  for _ in $(seq 600); do grep -q '^ready' "$OUT/serve.log" && return 0; sleep 0.05; done
  echo "server did not start: $(cat "$OUT/serve.log")" >&2; exit 1
}
p50() { # proto port -> p50 us, median of REPS
  for _ in $(seq "$REPS"); do
    taskset -c 0 "$SOCKIT" bench --json --proto "$1" --conns 1 --pipeline 1 --duration "$DUR" \
      "tcp://127.0.0.1:$2" 2>/dev/null | tail -1
  done | python3 -c 'import json,statistics,sys; print(statistics.median(json.loads(l)["latency_us"]["p50"] for l in sys.stdin))'
}

echo "# gate: $SOCKIT ($(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
for part in $PARTS; do
  echo; echo "## $part"
  case $part in
    latency)
      serve "taskset -c 0" 1
      echo "pinned framed-ping p50 us: $(p50 frame-ping $P_FRAME)"
      echo "pinned echo RTT p50 us: $(p50 echo $P_ECHO)"
      stop ;;
    framed)
      MODES=spread FLOOR=none DUR="$DUR" REPS="$REPS" "$ROOT/bench/framed_compare.sh" ;;
    idle)
      for proto in echo frame; do
        serve "" "$(nproc)"
        port=$P_ECHO; [ "$proto" = frame ] && port=$P_FRAME
        python3 "$ROOT/bench/idle_mem.py" 127.0.0.1 "$port" --pid "$SP" --n "$N" --proto "$proto"
        stop
      done ;;
    tls) SIZE="$SIZE" DUR="$DUR" "$ROOT/bench/tls_compare.sh" ;;
    chat) env -u SIZE REPS="$REPS" "$ROOT/bench/chat_fanout.sh" ;; # its SIZE is a message size
    files) SIZE="$SIZE" "$ROOT/bench/files_compare.sh" ;;
    *) echo "unknown part $part (latency framed idle tls chat files)" >&2; exit 2 ;;
  esac
done
