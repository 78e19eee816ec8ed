#!/usr/bin/env bash
# bench/files_compare.sh - file transfer over loopback: `sockit put` and
# `sockit get` (BLAKE3 verified end to end, fsynced, atomically published)
# beside the raw floor and the classic exercise, in one run:
#   nc -> disk          raw bytes to a file (no hash, no fsync)
#   nc | b3sum          raw bytes hashed on the receiving side
#   python classic      bench/classic_upload.py: JSON header + md5 + sendall
#   sockit put / get    release build, default chunking (4 x 4 MiB in flight)
# Prints GB/s (SIZE / wall time), ratios to nc -> disk and to the classic
# Python upload, and the peak RSS of each side (/usr/bin/time -f %M).
# Targets (issue 6): put and get >= 0.8x nc -> disk, >= 2x classic Python;
# peak RSS of each sockit side < 64 MiB.
# Usage: [SIZE=2G] [SOCKIT=path/to/sockit] bench/files_compare.sh
#        (needs nc (OpenBSD), b3sum, python3, /usr/bin/time; ports 39331-39334)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/files"; rm -rf "$OUT"; mkdir -p "$OUT"
SIZE="${SIZE:-2G}"
P_NC=39331; P_B3=39332; P_PY=39333; P_SOCKIT=39334
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="$ROOT/target/release/sockit"
fi
PASS="bench password $$"
export SOCKIT_CONFIG_DIR="$OUT/cfg" SOCKIT_SERVER="tcp://127.0.0.1:$P_SOCKIT"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# Listening yet? Asked of the kernel (ss), not by connecting: nc and the
# classic server accept exactly one connection, which a probe would take.
wait_tcp() { for _ in $(seq 400); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done; return 1; }
now() { date +%s.%N; }
rss() { cat "$1" 2>/dev/null | tail -1; } # KiB

SRC="$OUT/src.bin"
echo "making a $SIZE file of random bytes..." >&2
head -c "$SIZE" /dev/urandom > "$SRC"
BYTES=$(stat -c %s "$SRC")
cat "$SRC" > /dev/null # page cache: every run reads from memory

declare -A SECS RSS_S RSS_C
run_pair() { # name port server-cmd client-cmd
  local name=$1 port=$2 scmd=$3 ccmd=$4 t0 t1
  /usr/bin/time -f %M -o "$OUT/$name.srss" bash -c "$scmd" & local sp=$!; PIDS+=($sp)
  wait_tcp "$port"
  t0=$(now)
  /usr/bin/time -f %M -o "$OUT/$name.crss" bash -c "$ccmd"
  wait "$sp"
  t1=$(now)
  SECS[$name]=$(python3 -c "print($t1-$t0)")
  RSS_S[$name]=$(rss "$OUT/$name.srss"); RSS_C[$name]=$(rss "$OUT/$name.crss")
}

# nc's own listener exits at EOF (-N on the sender closes the write side).
run_pair nc-disk $P_NC "nc -l 127.0.0.1 $P_NC > $OUT/nc.bin" "nc -N 127.0.0.1 $P_NC < $SRC"
run_pair nc-b3sum $P_B3 "nc -l 127.0.0.1 $P_B3 | b3sum > $OUT/nc.b3" "nc -N 127.0.0.1 $P_B3 < $SRC"
mkdir -p "$OUT/py"
run_pair python-classic $P_PY "python3 $ROOT/bench/classic_upload.py serve $P_PY $OUT/py" \
  "python3 $ROOT/bench/classic_upload.py send 127.0.0.1 $P_PY $SRC"

# sockit: one server for the put, a fresh one (same data) for the get, so
# each peak RSS belongs to one direction.
DATA="$OUT/data"
printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --data "$DATA" >/dev/null
serve() { "$SOCKIT" serve --listen "tcp://127.0.0.1:$P_SOCKIT" \
  --data "$DATA" --quota 1T --max-file 1T >"$OUT/$1.log" 2>&1 & SP=$!; PIDS+=($SP); wait_tcp $P_SOCKIT; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; } # peak RSS, KiB
sockit_run() { # name args...
  local name=$1; shift; serve "$name"
  printf '%s\n' "$PASS" | "$SOCKIT" login "$SOCKIT_SERVER" --user bench --password-stdin >/dev/null
  local t0 t1; t0=$(now)
  /usr/bin/time -f %M -o "$OUT/$name.crss" "$SOCKIT" "$@" >"$OUT/$name.out"
  t1=$(now)
  hwm "$SP" > "$OUT/$name.srss"
  kill "$SP"; wait "$SP" || true
  SECS[$name]=$(python3 -c "print($t1-$t0)")
  RSS_S[$name]=$(rss "$OUT/$name.srss"); RSS_C[$name]=$(rss "$OUT/$name.crss")
}
sockit_run sockit-put put --force "$SRC" :
sockit_run sockit-get get --force :src.bin "$OUT/got.bin"
cmp -s "$SRC" "$OUT/got.bin" || { echo "get returned different bytes" >&2; exit 1; }
cmp -s "$SRC" "$OUT/nc.bin" || { echo "nc returned different bytes" >&2; exit 1; }

python3 - "$BYTES" "$SIZE" <<PY
import sys
size = int(sys.argv[1])
rows = [(n, float(s), r1, r2) for n, s, r1, r2 in [
$(for n in nc-disk nc-b3sum python-classic sockit-put sockit-get; do
  echo "  (\"$n\", \"${SECS[$n]}\", \"${RSS_S[$n]}\", \"${RSS_C[$n]}\"),"; done)
]]
gbs = {n: size / s / 1e9 for n, s, _, _ in rows}
print(f"file transfer over loopback, {sys.argv[2]} ({size} bytes)")
print(f"{'':16} {'GB/s':>7} {'x nc->disk':>11} {'x python':>9} {'RSS recv MiB':>13} {'RSS send MiB':>13}")
for n, s, rs, rc in rows:
    # put, nc and python: the server receives; get: the client receives.
    recv, send = (rc, rs) if n == "sockit-get" else (rs, rc)
    print(f"{n:16} {gbs[n]:7.2f} {gbs[n]/gbs['nc-disk']:11.2f} {gbs[n]/gbs['python-classic']:9.2f}"
          f" {int(recv or 0)/1024:13.1f} {int(send or 0)/1024:13.1f}")
PY
