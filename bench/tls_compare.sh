#!/usr/bin/env bash
# bench/tls_compare.sh - what TLS costs: one server with the frame protocol on
# tcp:// and tls:// (loopback, port 0), the same client runs against both:
#   bench --proto frame, 1 connection with 16 requests in flight
#   bench --proto frame, 50 connections with 16 in flight each
#   put and get of SIZE bytes (verified, fsynced)
# Each round runs every measure on tcp:// and at once on tls://, so load that
# comes and goes on a shared machine hits both alike; REPS rounds, then the
# median [min-max] of each, and the median [min-max] of the per-round tls/tcp.
# Usage: [SIZE=256M] [DUR=5] [REPS=5] [SOCKIT=path/to/sockit] bench/tls_compare.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/tls"; rm -rf "$OUT"; mkdir -p "$OUT"
SIZE="${SIZE:-256M}"; DUR="${DUR:-5}"; REPS="${REPS:-5}"
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="$ROOT/target/release/sockit"
fi
export SOCKIT_CONFIG_DIR="$OUT/cfg"
PASS="bench password $$"
DATA="$OUT/data"
printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --data "$DATA" >/dev/null
"$SOCKIT" serve --listen tcp://127.0.0.1:0 --listen tls://127.0.0.1:0 --data "$DATA" \
  --quota 1T --max-file 1T >"$OUT/serve.log" 2>"$OUT/serve.err" & SP=$!
trap 'kill $SP 2>/dev/null || true; wait $SP 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q '^ready' "$OUT/serve.log" && break; sleep 0.05; done
TCP=$(awk '/^framed listening on tcp:/ {print $4}' "$OUT/serve.log")
TLS=$(awk '/^framed listening on tls:/ {print $4}' "$OUT/serve.log")
FP=$(awk '/^tls certificate/ {print $3}' "$OUT/serve.log")
[ -n "$TCP" ] && [ -n "$TLS" ] || { echo "server did not start" >&2; exit 1; }

bench() { # addr conns -> msg/s
  "$SOCKIT" bench --proto frame --json --duration "$DUR" --warmup 1 --conns "$2" --pipeline 16 \
    --fingerprint "$FP" "$1" 2>/dev/null | tail -1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["msgs_per_s"])'
}
SRC="$OUT/src.bin"; head -c "$SIZE" /dev/urandom > "$SRC"; BYTES=$(stat -c %s "$SRC")
now() { date +%s.%N; }
transfer() { # addr put|get -> MB/s
  local t0 t1
  if [ "$2" = put ]; then
    printf '%s\n' "$PASS" | "$SOCKIT" login "$1" --user bench --password-stdin --fingerprint "$FP" >/dev/null
    t0=$(now); "$SOCKIT" put --force --fingerprint "$FP" "$SRC" "$1:" >/dev/null; t1=$(now)
  else
    t0=$(now); "$SOCKIT" get --force --fingerprint "$FP" "$1:src.bin" "$OUT/got.bin" >/dev/null; t1=$(now)
    cmp -s "$SRC" "$OUT/got.bin" || { echo "get returned different bytes" >&2; exit 1; }
  fi
  python3 -c "print($BYTES / ($t1 - $t0) / 1e6)"
}
RES="$OUT/results.txt"; : > "$RES"
for rep in $(seq "$REPS"); do
  for m in b1 b50 put get; do
    for t in tcp tls; do
      addr=$TCP; [ $t = tls ] && addr=$TLS
      case $m in
        b1) v=$(bench "$addr" 1) ;;
        b50) v=$(bench "$addr" 50) ;;
        *) v=$(transfer "$addr" $m) ;;
      esac
      echo "$rep $m $t $v" >> "$RES"
    done
  done
done
rm -f "$SRC" "$OUT/got.bin"
python3 - "$RES" "$SIZE" "$REPS" <<'PY'
import statistics, sys
res, size, reps = sys.argv[1], sys.argv[2], sys.argv[3]
got = {}
for line in open(res):
    rep, m, t, v = line.split()
    got.setdefault((m, t), {})[rep] = float(v)
rows = [("b1", "bench frame, 1 conn x 16", "msg/s"),
        ("b50", "bench frame, 50 conns x 16", "msg/s"),
        ("put", f"put {size}", "MB/s"), ("get", f"get {size}", "MB/s")]
def span(xs, fmt):
    return f"{fmt(statistics.median(xs))} [{fmt(min(xs))}-{fmt(max(xs))}]"
num = lambda x: f"{x:.0f}"
rat = lambda x: f"{x:.2f}"
print(f"{reps} rounds; median [min-max]")
print(f"{'':28} {'unit':>6} {'tcp://':>24} {'tls://':>24} {'tls/tcp per round':>20}")
for m, name, unit in rows:
    tcp, tls = got[(m, "tcp")], got[(m, "tls")]
    ratios = [tls[r] / tcp[r] for r in tcp if r in tls and tcp[r] > 0]
    print(f"{name:28} {unit:>6} {span(list(tcp.values()), num):>24} "
          f"{span(list(tls.values()), num):>24} {span(ratios, rat):>20}")
PY
