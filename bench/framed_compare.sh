#!/usr/bin/env bash
# bench/framed_compare.sh - framed pings per second, sockit beside Redis and NATS.
#
# One run, one loopback, 1 and 50 connections, pipeline depth 1 and 16:
#   sockit  `sockit serve --listen`, loaded by `sockit bench --proto frame-ping`
#   redis   redis-server, loaded by the same client (`--proto redis`, PING as
#           multi-bulk) and by redis-benchmark itself (-t ping_mbulk)
#   nats    nats-server, loaded by the same client (`--proto nats`, PING/PONG)
#   floor   examples/ping_floor.rs: a bare tokio server that answers only
#           this ping (one runtime thread, a task per connection, no limits,
#           timers or logs): the least a server built like sockit can cost,
#           so sockit/floor is what sockit's features cost per request
# The same-client figures are the fair comparison (same client cost on the
# shared 2 cores); redis-benchmark is shown as Redis's own view.
#
# Two placements, each a table (MODES picks them):
#   spread  nothing pinned, sockit on its default --threads (one per CPU).
#           Lone connections here mostly measure the 35-70 us it costs to
#           wake a thread on the other vCPU (../shared/bench/README.md),
#           which swings 3-4x from run to run. sockit's shards poll their
#           quiet connections before sleeping (serve --busy-poll, on by
#           default), so sockit's side skips that wake-up; the floor, Redis
#           and NATS sleep at once.
#   onecpu  every server and the client pinned to CPU 0, sockit --threads 1:
#           the work per request of each server, with the wake-up noise gone.
#   split   every server on CPU 1 (sockit --threads 1), the client on CPU 0,
#           as redis-benchmark's docs advise: no competition for a CPU, but
#           every idle spell costs a cross-CPU wake-up.
# Runs are interleaved (sockit, redis, nats, then again) so a slow spell of
# the machine hits all three alike; each figure is the median of REPS runs
# and each ratio the median of the per-round ratios.
#
# Needs: redis-server, redis-tools, nats-server (apt-get install -y redis-server redis-tools nats-server).
# Usage: [DUR=4] [REPS=3] [MODES="spread onecpu"] [CONNS="1 50"] [DEPTHS="1 16"]
#        [SOCKIT=path/to/sockit] [FLOOR=path/to/ping_floor|none] bench/framed_compare.sh
#        (loopback only; ports 39311-39313)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
DUR="${DUR:-4}"; REPS="${REPS:-3}"; MODES="${MODES:-spread onecpu split}"
CONNS="${CONNS:-1 50}"; DEPTHS="${DEPTHS:-1 16}"
P_SOCKIT=39311; P_REDIS=39312; P_NATS=39313; P_FLOOR=39314
ulimit -n 65536 2>/dev/null || true

if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet && cargo build --release --quiet --example ping_floor)
  SOCKIT="$ROOT/target/release/sockit"
fi
# FLOOR=none leaves the tokio floor out (its column reads 0 and "-").
FLOOR="${FLOOR:-$ROOT/target/release/examples/ping_floor}"

PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap stop_all EXIT
wait_tcp() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

start_all() { # PIN-prefix sockit-threads
  local pin=$1 threads=$2
  setsid $pin "$SOCKIT" serve --threads "$threads" --listen "tcp://127.0.0.1:$P_SOCKIT" \
    --max-conns-per-ip 0 --data "$OUT/sockit-data" >"$OUT/framed-sockit.log" 2>&1 & PIDS+=($!)
  setsid $pin redis-server --port "$P_REDIS" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/framed-redis.log" 2>&1 & PIDS+=($!)
  setsid $pin nats-server -a 127.0.0.1 -p "$P_NATS" >"$OUT/framed-nats.log" 2>&1 & PIDS+=($!)
  [ "$FLOOR" = none ] || { setsid $pin "$FLOOR" "127.0.0.1:$P_FLOOR" >"$OUT/framed-floor.log" 2>&1 & PIDS+=($!); }
  for p in $P_SOCKIT $P_REDIS $P_NATS; do wait_tcp "$p"; done
  [ "$FLOOR" = none ] || wait_tcp $P_FLOOR
}

rate1() { # pin proto port conns depth -> msgs/s
  $1 "$SOCKIT" bench --json --proto "$2" --conns "$4" --pipeline "$5" --duration "$DUR" \
    "tcp://127.0.0.1:$3" 2>>"$OUT/framed-bench.err" | tail -1 |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["msgs_per_s"]))'
}
redis_own1() { # pin conns depth -> requests/s from redis-benchmark
  local n=$(( $2 * $3 * 20000 )); [ "$n" -gt 3000000 ] && n=3000000
  $1 redis-benchmark -p "$P_REDIS" -c "$2" -P "$3" -n "$n" -t ping_mbulk --csv 2>/dev/null |
    tail -1 | tr -d '"' | cut -d, -f2 | cut -d. -f1
}

for mode in $MODES; do
  case $mode in
    spread) pin=""; cpin=""; threads=$(nproc) ;;
    onecpu) pin="taskset -c 0"; cpin="$pin"; threads=1 ;;
    split) pin="taskset -c 1"; cpin="taskset -c 0"; threads=1 ;;
    *) echo "unknown mode $mode (spread, onecpu, split)" >&2; exit 2 ;;
  esac
  start_all "$pin" "$threads"
  echo
  case $mode in
    spread) what="unpinned, sockit --threads $threads" ;;
    onecpu) what="servers and client on CPU 0, sockit --threads 1" ;;
    split) what="servers on CPU 1, client on CPU 0, sockit --threads 1" ;;
  esac
  echo "### $mode: $what"
  echo
  echo "| conns | pipeline | sockit framed ping/s | redis (same client) | redis-benchmark | nats (same client) | tokio floor | sockit/redis | sockit/redis-benchmark | sockit/nats | sockit/floor |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for c in $CONNS; do
    for d in $DEPTHS; do
      rounds=()
      for _ in $(seq "$REPS"); do
        s=$(rate1 "$cpin" frame-ping $P_SOCKIT "$c" "$d")
        r=$(rate1 "$cpin" redis $P_REDIS "$c" "$d")
        rb=$(redis_own1 "$cpin" "$c" "$d")
        n=$(rate1 "$cpin" nats $P_NATS "$c" "$d")
        f=0; [ "$FLOOR" = none ] || f=$(rate1 "$cpin" frame-ping $P_FLOOR "$c" "$d")
        rounds+=("$s,$r,$rb,$n,$f")
      done
      python3 - "$c" "$d" "${rounds[@]}" <<'EOF'
import statistics as st, sys
c, d, *rounds = sys.argv[1:]
rows = [[float(x or 0) for x in r.split(",")] for r in rounds]
med = lambda i: st.median(r[i] for r in rows)
def q(i):
    v = [r[0] / r[i] for r in rows if r[i]]
    return f"{st.median(v):.2f}x" if v else "-"
print(f"| {c} | {d} | {med(0):,.0f} | {med(1):,.0f} | {med(2):,.0f} | {med(3):,.0f} | {med(4):,.0f} | {q(1)} | {q(2)} | {q(3)} | {q(4)} |")
EOF
    done
  done
  stop_all
done
