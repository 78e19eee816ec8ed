#!/usr/bin/env bash
# bench/files_pg_compare.sh - `sockit put` and `sockit get` of one file over
# loopback, with the file store on disk (`serve`, the default) and on
# PostgreSQL (`serve --store postgres://...`), in the same run, so the
# ratio compares like with like on a loaded machine.
#   disk   DATA/files: streamed, fsynced every 64 MiB and at publish
#   pg     a throw-away PostgreSQL 15 (initdb in a temporary directory,
#          Unix socket only, default durability: fsync and synchronous
#          commit on); content in 4 MiB rows, one per wire chunk
# Prints MB/s (SIZE / wall time of the client), the server's peak RSS
# (VmHWM of a fresh server per direction), and pg/disk ratios.
# Usage: [SIZE=256M] [SOCKIT=path/to/sockit] bench/files_pg_compare.sh
#        (needs PostgreSQL 15 under /usr/lib/postgresql; port 39341)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/files_pg"; rm -rf "$OUT"; mkdir -p "$OUT"
SIZE="${SIZE:-256M}"
PORT=39341
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/sockit"
fi
PASS="bench password $$"
export SOCKIT_SERVER="tcp://127.0.0.1:$PORT"

. "$ROOT/bench/pg_lib.sh"
PIDS=()
PGTMP="$(mktemp -d)"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pg_stop
  rm -rf "$PGTMP"
}
trap cleanup EXIT
wait_tcp() { for _ in $(seq 400); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done; return 1; }
now() { date +%s.%N; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; } # peak RSS, KiB

# A throw-away PostgreSQL (bench/pg_lib.sh).
pg_start "$PGTMP" "$OUT"

SRC="$OUT/src.bin"
head -c "$SIZE" /dev/urandom > "$SRC"
BYTES=$(stat -c %s "$SRC")
cat "$SRC" > /dev/null # page cache: every run reads from memory

declare -A SECS RSS
run() { # backend direction store-args... -- client-args...
  local backend=$1 dir=$2; shift 2
  local sargs=() ; while [ "$1" != -- ]; do sargs+=("$1"); shift; done; shift
  "$SOCKIT" serve --listen "$SOCKIT_SERVER" --data "$OUT/$backend.data" --quota 1T \
    --max-file 1T "${sargs[@]}" >"$OUT/$backend-$dir.log" 2>&1 & local sp=$!; PIDS+=($sp)
  wait_tcp $PORT
  export SOCKIT_CONFIG_DIR="$OUT/$backend.cfg"
  printf '%s\n' "$PASS" | "$SOCKIT" login "$SOCKIT_SERVER" --user bench --password-stdin >/dev/null
  local t0 t1; t0=$(now)
  "$SOCKIT" "$@" >"$OUT/$backend-$dir.out"
  t1=$(now)
  RSS[$backend-$dir]=$(hwm "$sp")
  kill "$sp"; wait "$sp" || true
  SECS[$backend-$dir]=$(python3 -c "print($t1-$t0)")
}
for backend in disk pg; do
  printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --data "$OUT/$backend.data" >/dev/null
  store=(); [ $backend = pg ] && store=(--store "$PGURL")
  run $backend put "${store[@]}" -- put --force "$SRC" :
  run $backend get "${store[@]}" -- get --force :src.bin "$OUT/$backend.got"
  cmp -s "$SRC" "$OUT/$backend.got" || { echo "$backend: get returned different bytes" >&2; exit 1; }
done
PGBYTES=$(pg_psql "SELECT pg_total_relation_size('files_chunks')")

python3 - "$BYTES" "$SIZE" "$PGBYTES" <<PY
import sys
size, pgbytes = int(sys.argv[1]), int(sys.argv[3])
secs = {$(for k in "${!SECS[@]}"; do printf '"%s": %s, ' "$k" "${SECS[$k]}"; done)}
rss = {$(for k in "${!RSS[@]}"; do printf '"%s": %s, ' "$k" "${RSS[$k]}"; done)}
mbs = {k: size / s / 1e6 for k, s in secs.items()}
print(f"file store, disk vs PostgreSQL, {sys.argv[2]} ({size} bytes), loopback, same run")
print(f"{'':6} {'put MB/s':>9} {'get MB/s':>9} {'RSS put MiB':>12} {'RSS get MiB':>12}")
for b in ("disk", "pg"):
    print(f"{b:6} {mbs[b+'-put']:9.1f} {mbs[b+'-get']:9.1f} {rss[b+'-put']/1024:12.1f} {rss[b+'-get']/1024:12.1f}")
print(f"pg/disk put {mbs['pg-put']/mbs['disk-put']:.2f}x, get {mbs['pg-get']/mbs['disk-get']:.2f}x;"
      f" files_chunks holds {pgbytes/size:.3f}x the file's bytes")
PY
