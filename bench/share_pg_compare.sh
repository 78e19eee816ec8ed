#!/usr/bin/env bash
# bench/share_pg_compare.sh - one shared file downloaded through its link
# (`GET /s/ID/file`, no account) by N concurrent clients over loopback,
# from a single node with its disk store and `shares.db`, and from two
# nodes sharing one PostgreSQL (files, shares and download coverage in
# it; the link made on node A, every second client sent to node B), in
# the same run, so the ratio compares like with like on a loaded machine.
# Prints aggregate MB/s (clients x SIZE / wall time), the ratio, and
# checks that each share counted exactly N downloads (410 consumed after
# the last, wherever it completed).
#   PostgreSQL: a throw-away 15 (initdb in a temporary directory, Unix
#   socket only, default durability: fsync and synchronous commit on).
# Usage: [SIZE=64M] [COUNTS="1 10"] [SOCKIT=path/to/sockit] bench/share_pg_compare.sh
#        (needs PostgreSQL 15 under /usr/lib/postgresql, curl, python3;
#        ports 39351-39355)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/share_pg"; rm -rf "$OUT"; mkdir -p "$OUT"
SIZE="${SIZE:-64M}"
COUNTS="${COUNTS:-1 10}"
P_DISK=39351; W_DISK=39352; P_A=39353; W_A=39354; W_B=39355
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/sockit"
fi
PASS="bench password $$"

. "$ROOT/bench/pg_lib.sh"
PIDS=()
PGTMP="$(mktemp -d)"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pg_stop
  rm -rf "$PGTMP" "$OUT"
}
trap cleanup EXIT
wait_tcp() { for _ in $(seq 400); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done; return 1; }
now() { date +%s.%N; }

# A throw-away PostgreSQL (bench/pg_lib.sh).
pg_start "$PGTMP" "$OUT"

SRC="$OUT/file.bin"
head -c "$SIZE" /dev/urandom > "$SRC"
BYTES=$(stat -c %s "$SRC")
LIMITS=(--quota 1T --max-file 1T --share-max-downloads 1000 --share-creates-per-hour 1000)

# The single node, and the two PostgreSQL nodes (B has no framed door:
# only its web door serves links).
printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --data "$OUT/disk" >/dev/null
"$SOCKIT" serve --listen "tcp://127.0.0.1:$P_DISK" --web "tcp://127.0.0.1:$W_DISK" \
  --data "$OUT/disk" "${LIMITS[@]}" >"$OUT/disk.log" 2>&1 & PIDS+=($!)
printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --store "$PGURL" >/dev/null
"$SOCKIT" serve --listen "tcp://127.0.0.1:$P_A" --web "tcp://127.0.0.1:$W_A" \
  --data "$OUT/a" --store "$PGURL" "${LIMITS[@]}" >"$OUT/a.log" 2>&1 & PIDS+=($!)
"$SOCKIT" serve --web "tcp://127.0.0.1:$W_B" --data "$OUT/b" --store "$PGURL" \
  "${LIMITS[@]}" >"$OUT/b.log" 2>&1 & PIDS+=($!)
for p in $W_DISK $W_A $W_B; do wait_tcp $p; done
for p in $P_DISK $P_A; do
  SOCKIT_CONFIG_DIR="$OUT/cfg-$p" "$SOCKIT" login "tcp://127.0.0.1:$p" --user bench \
    --password-stdin <<<"$PASS" >/dev/null
  SOCKIT_CONFIG_DIR="$OUT/cfg-$p" SOCKIT_SERVER="tcp://127.0.0.1:$p" \
    "$SOCKIT" put --force "$SRC" :file.bin >/dev/null
done

# N curls at once, client i to the i-th of the web doors given; each must
# receive the whole file. Wall time of all.
round() { # name n web...
  local name=$1 n=$2 t0 t1 bad; shift 2
  local webs=("$@")
  t0=$(now)
  for i in $(seq "$n"); do
    echo "http://127.0.0.1:${webs[$((i % ${#webs[@]}))]}$PATH_ID/file"
  done | xargs -P "$n" -I{} curl -sS -o /dev/null -w '%{size_download}\n' {} > "$OUT/$name-$n.sizes"
  t1=$(now)
  bad=$(grep -vcx "$BYTES" "$OUT/$name-$n.sizes" || true)
  [ "$bad" = 0 ] || { echo "$name x$n: $bad downloads incomplete" >&2; exit 1; }
  python3 -c "print($n * $BYTES / ($t1 - $t0) / 1e6)"
}
share_path() { # framed port, n -> /s/ID
  SOCKIT_CONFIG_DIR="$OUT/cfg-$1" SOCKIT_SERVER="tcp://127.0.0.1:$1" \
    "$SOCKIT" share :file.bin --downloads "$2" --json |
    python3 -c 'import json,sys,urllib.parse; print(urllib.parse.urlparse(json.load(sys.stdin)["url"]).path)'
}
consumed() { # web port: the share answers 410 consumed (a response is
  # counted as it ends, just after its last byte: a bounded wait)
  for _ in $(seq 100); do
    curl -s "http://127.0.0.1:$1$PATH_ID/info" | grep -q consumed && return 0
    sleep 0.05
  done
  echo "share on :$1 not consumed after exactly its downloads" >&2; exit 1
}

printf '%-8s %16s %22s %8s\n' clients "disk node MB/s" "2 PG nodes MB/s" "PG/disk"
for n in $COUNTS; do
  PATH_ID=$(share_path $P_DISK "$n"); D=$(round disk "$n" $W_DISK); consumed $W_DISK
  PATH_ID=$(share_path $P_A "$n"); P=$(round pg "$n" $W_A $W_B); consumed $W_B
  python3 -c "print('%-8s %16.0f %22.0f %8.2f' % ($n, $D, $P, $P / $D))"
done
echo "(SIZE=$SIZE on $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg))"
