#!/usr/bin/env bash
# bench/share_compare.sh - one shared file downloaded through its link
# (`GET /s/ID/file`, no account) by 1, 10 and 100 concurrent clients over
# loopback, beside Debian's nginx (`sendfile on`) serving the same file in
# the same run. Prints aggregate MB/s (clients x SIZE / wall time), the
# ratio to nginx, and each server's RSS at the end of each round (peak,
# VmHWM, for sockit).
# Target (issue 20): >= 0.8x nginx at every count, RSS bounded whatever the
# count.
# Usage: [SIZE=1G] [COUNTS="1 10 100"] [SOCKIT=path/to/sockit] bench/share_compare.sh
#        (needs curl, nginx, python3; ports 39341-39343)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/share"; rm -rf "$OUT"; mkdir -p "$OUT"
SIZE="${SIZE:-1G}"
COUNTS="${COUNTS:-1 10 100}"
P_FRAMED=39341; P_WEB=39342; P_NGINX=39343
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="$ROOT/target/release/sockit"
fi
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
PASS="bench password $$"
export SOCKIT_CONFIG_DIR="$OUT/cfg" SOCKIT_SERVER="tcp://127.0.0.1:$P_FRAMED"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT
wait_tcp() { for _ in $(seq 400); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done; return 1; }
now() { date +%s.%N; }

SRC="$OUT/www/file.bin"; mkdir -p "$OUT/www"
echo "making a $SIZE file of random bytes..." >&2
head -c "$SIZE" /dev/urandom > "$SRC"
BYTES=$(stat -c %s "$SRC")
cat "$SRC" > /dev/null # page cache: both servers read from memory

# sockit: the file in an account's store, shared with enough downloads.
DATA="$OUT/data"
printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --data "$DATA" >/dev/null
"$SOCKIT" serve --listen "tcp://127.0.0.1:$P_FRAMED" --web "tcp://127.0.0.1:$P_WEB" \
  --data "$DATA" --quota 1T --max-file 1T --share-max-downloads 1000 \
  --share-creates-per-hour 1000 >"$OUT/sockit.log" 2>&1 & SP=$!; PIDS+=($SP)
wait_tcp $P_WEB
printf '%s\n' "$PASS" | "$SOCKIT" login "$SOCKIT_SERVER" --user bench --password-stdin >/dev/null
"$SOCKIT" put --force "$SRC" :file.bin >/dev/null

# nginx: sendfile on, one worker per CPU, no access log (sockit keeps none).
mkdir -p "$OUT/nginx"
cat > "$OUT/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $OUT/nginx/body;
  proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fastcgi;
  uwsgi_temp_path $OUT/nginx/uwsgi;
  scgi_temp_path $OUT/nginx/scgi;
  server { listen 127.0.0.1:$P_NGINX; root $OUT/www; }
}
CONF
"$NGINX" -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" 2>>"$OUT/nginx/error.log"
wait_tcp $P_NGINX

nginx_rss() { # KiB, master and workers together
  local total=0
  for p in $(pgrep -P "$(cat "$OUT/nginx/nginx.pid")") "$(cat "$OUT/nginx/nginx.pid")"; do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
  done
  echo $total
}
sockit_rss() { awk '/^VmHWM:/ {print $2}' "/proc/$SP/status"; }

# N curls at once; each must receive the whole file. Wall time of all.
round() { # name url n
  local name=$1 url=$2 n=$3 t0 t1 bad
  t0=$(now)
  seq "$n" | xargs -P "$n" -I{} curl -sS -o /dev/null -w '%{size_download}\n' "$url" > "$OUT/$name-$n.sizes"
  t1=$(now)
  bad=$(grep -vcx "$BYTES" "$OUT/$name-$n.sizes" || true)
  [ "$bad" = 0 ] || { echo "$name x$n: $bad downloads incomplete" >&2; exit 1; }
  python3 -c "print($n * $BYTES / ($t1 - $t0) / 1e6)"
}

printf '%-8s %14s %14s %8s %14s %14s\n' clients "sockit MB/s" "nginx MB/s" ratio "sockit RSS MiB" "nginx RSS MiB"
for n in $COUNTS; do
  URL=$("$SOCKIT" share :file.bin --downloads "$n" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  S=$(round sockit "$URL/file" "$n"); SR=$(sockit_rss)
  G=$(round nginx "http://127.0.0.1:$P_NGINX/file.bin" "$n"); GR=$(nginx_rss)
  # The share's downloads are spent: the last client's completion counted.
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/info")" = 410 ] || { echo "share x$n not consumed" >&2; exit 1; }
  python3 -c "print('%-8s %14.0f %14.0f %8.2f %14.1f %14.1f' % ($n, $S, $G, $S / $G, $SR / 1024, $GR / 1024))"
done
echo "(SIZE=$SIZE on $(nproc) CPUs; RSS: sockit peak VmHWM, nginx VmRSS of master+workers after the round)"
