#!/usr/bin/env bash
# bench/echo_compare.sh - sockit's echo beside its peers, one run, one load generator.
#
# Every server is driven by the same client (`sockit bench`, release build) on
# the same loopback, so the ratios compare servers, not clients:
#   sockit   sockit serve --echo tcp://.. --echo udp://..
#   cepoll   bench/c_epoll_echo.c: one thread, epoll, the native floor
#   socat    socat TCP-LISTEN:P,fork,reuseaddr EXEC:cat (UDP: UDP-LISTEN:P,fork PIPE)
#   classic  the classic Python ThreadingTCPServer / UDP loop (../shared/bench)
# Measured: messages/s and p50/p99 latency with 64-byte messages at 1, 10, 100
# TCP connections and 1, 10 UDP clients; MB/s through 1 and 8 TCP connections
# with 64 KiB writes, both streaming continuously (--stream) and one 64 KiB
# message at a time (closed loop). Then memory per idle TCP connection at 10,000 connections,
# sockit beside Redis, with ../shared/bench/07_idle_conns.sh.
#
# Needs: socat, redis-server, python3, cc (apt-get install -y socat redis-server gcc).
# Each cell is the median of REPS runs (the machine is noisy: compare within
# one run, as ratios).
# Usage: [DUR=5] [REPS=3] [SERVERS="sockit cepoll socat classic"] [IDLE=1] bench/echo_compare.sh
# Loopback only; ports 39301-39309; prints a markdown table and writes bench/out/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
SHARED="${SHARED:-$ROOT/../shared/bench}"
DUR="${DUR:-5}"; REPS="${REPS:-3}"; SERVERS="${SERVERS:-sockit cepoll socat classic}"; IDLE="${IDLE:-1}"
PORT_TCP=39301; PORT_UDP=39302
ulimit -n 65536 2>/dev/null || true

(cd "$ROOT" && cargo build --release --quiet)
SOCKIT="$ROOT/target/release/sockit"
cc -O2 -o "$OUT/c_epoll_echo" "$ROOT/bench/c_epoll_echo.c"

PIDS=()
# Servers run in their own process groups (setsid), so socat's forked
# children go down with their parent.
cleanup() {
  for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT

wait_tcp() { # port: wait up to 10 s for a listener
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "port $1 never opened" >&2; return 1
}

start() { # name: start TCP and UDP echo of that server
  case "$1" in
    sockit) setsid "$SOCKIT" serve --echo "tcp://127.0.0.1:$PORT_TCP" --echo "udp://127.0.0.1:$PORT_UDP" \
              --data "$OUT/sockit-data" >"$OUT/sockit.log" 2>&1 & PIDS+=($!) ;;
    cepoll) setsid "$OUT/c_epoll_echo" tcp "$PORT_TCP" & PIDS+=($!)
            setsid "$OUT/c_epoll_echo" udp "$PORT_UDP" & PIDS+=($!) ;;
    socat)  setsid socat "TCP-LISTEN:$PORT_TCP,fork,reuseaddr,bind=127.0.0.1" EXEC:cat & PIDS+=($!)
            setsid socat "UDP-LISTEN:$PORT_UDP,fork,reuseaddr,bind=127.0.0.1" PIPE & PIDS+=($!) ;;
    classic) setsid python3 "$SHARED/classic_echo_server.py" --proto tcp --port "$PORT_TCP" --no-upper >/dev/null & PIDS+=($!)
             setsid python3 "$SHARED/classic_echo_server.py" --proto udp --port "$PORT_UDP" --no-upper >/dev/null & PIDS+=($!) ;;
  esac
  wait_tcp "$PORT_TCP"
}

# bench NAME LABEL ARGS...: one `sockit bench --json` run; appends "NAME LABEL json" to results
RESULTS="$OUT/echo_compare.results"; : >"$RESULTS"
bench() {
  local name="$1" label="$2" json r; shift 2
  for r in $(seq "$REPS"); do
    json=$("$SOCKIT" bench --json --duration "$DUR" "$@" 2>>"$OUT/bench.err" | tail -1) || json='{}'
    echo "$name $label $json" >>"$RESULTS"
    echo "$name $label $json" >&2
  done
}

for s in $SERVERS; do
  start "$s"
  for c in 1 10 100; do bench "$s" "tcp_c$c" --conns "$c" --size 64 "tcp://127.0.0.1:$PORT_TCP"; done
  for c in 1 10; do bench "$s" "udp_c$c" --conns "$c" --size 64 "udp://127.0.0.1:$PORT_UDP"; done
  for c in 1 8; do bench "$s" "mbs_c$c" --conns "$c" --size 65536 "tcp://127.0.0.1:$PORT_TCP"; done
  for c in 1 8; do bench "$s" "stream_c$c" --conns "$c" --size 65536 --stream "tcp://127.0.0.1:$PORT_TCP"; done
  cleanup
done

python3 - "$RESULTS" <<'EOF'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, label, js = line.split(" ", 2)
    try: runs.setdefault((name, label), []).append(json.loads(js))
    except ValueError: runs.setdefault((name, label), [])
def med(rs, get):
    v = [x for x in (get(r) for r in rs) if x is not None]
    return statistics.median(v) if v else None
rows = {}
for k, rs in runs.items():
    rows[k] = {"msgs_per_s": med(rs, lambda r: r.get("msgs_per_s")),
               "mb_per_s": med(rs, lambda r: r.get("mb_per_s")),
               "latency_us": {q: med(rs, lambda r, q=q: (r.get("latency_us") or {}).get(q)) for q in ("p50", "p99")}}
names = list(dict.fromkeys(n for n, _ in rows))
labels = list(dict.fromkeys(l for _, l in rows))
def val(n, l, key):
    r = rows.get((n, l), {})
    if key in ("p50", "p99"): return (r.get("latency_us") or {}).get(key)
    return r.get(key)
print("| test | " + " | ".join(names) + " | sockit/cepoll | sockit/socat |")
print("|---" * (len(names) + 3) + "|")
for l in labels:
    bulk = l.startswith(("mbs", "stream"))
    key = "mb_per_s" if bulk else "msgs_per_s"
    cells, base = [], {}
    for n in names:
        v = val(n, l, key); base[n] = v
        p50, p99 = val(n, l, "p50"), val(n, l, "p99")
        lat = "" if bulk or p50 is None else f" ({p50:.0f}/{p99:.0f} us)"
        cells.append("-" if v is None else f"{v:,.0f}{lat}")
    ratio = lambda a, b: f"{base[a] / base[b]:.2f}x" if base.get(a) and base.get(b) else "-"
    unit = ("MB/s, continuous" if l.startswith("stream") else "MB/s, one 64 KiB message at a time") if bulk else "msg/s (p50/p99)"
    print(f"| {l} {unit} | " + " | ".join(cells) + f" | {ratio('sockit', 'cepoll')} | {ratio('sockit', 'socat')} |")
EOF

if [ "$IDLE" = 1 ] && [ -x "$SHARED/07_idle_conns.sh" ]; then
  setsid "$SOCKIT" serve --echo "tcp://127.0.0.1:$PORT_TCP" --max-conns-per-ip 0 --data "$OUT/sockit-data" >"$OUT/sockit-idle.log" 2>&1 & SP=$!; PIDS+=($SP)
  wait_tcp "$PORT_TCP"
  SERVERS=redis REPS=1 EXT="sockit:echo:127.0.0.1:$PORT_TCP:$SP" "$SHARED/07_idle_conns.sh" 2>&1 | grep -E 'SUMMARY idle_.*server_bytes_per_conn'
fi
