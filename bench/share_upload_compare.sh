#!/usr/bin/env bash
# bench/share_upload_compare.sh - files sent over loopback three ways in
# one run, each REPS times:
#   sockit send LINK   through an upload link (`/u/ID`, no account):
#                      BLAKE3 declared, verified, fsynced, published
#   sockit put         the same files, logged in (framed protocol)
#   nginx PUT          curl -T to Debian's nginx with WebDAV
#                      (`dav_methods PUT`), one curl per case
# Two cases: one BIG file (256 MiB) and N small files (200 x 64 KiB).
# Prints the median MB/s of each (bytes / wall time of the command) and
# the ratios to nginx; every run is checked (sizes on disk for nginx, the
# link's log for sockit send, exit status for sockit put).
# Usage: [BIG=256M] [N=200] [SMALL=64K] [REPS=3] [SOCKIT=path/to/sockit] \
#        [STORE=postgres://...] bench/share_upload_compare.sh
#        (needs curl, nginx, python3; ports 39351-39353; data in $TMPDIR)
# STORE runs sockit as a cluster node on that PostgreSQL (files and links
# in the database) instead of its data directory.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/sockit-upload-bench.XXXXXX")"
BIG="${BIG:-256M}"; N="${N:-200}"; SMALL="${SMALL:-64K}"; REPS="${REPS:-3}"
P_FRAMED=39351; P_WEB=39352; P_NGINX=39353
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/sockit"
fi
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
PASS="bench password $$"
export SOCKIT_CONFIG_DIR="$OUT/cfg" SOCKIT_SERVER="tcp://127.0.0.1:$P_FRAMED"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
wait_tcp() { for _ in $(seq 400); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.05; done; return 1; }
now() { date +%s.%N; }

echo "making one $BIG file and $N files of $SMALL (random bytes)..." >&2
mkdir -p "$OUT/src/small"
head -c "$BIG" /dev/urandom > "$OUT/src/big.bin"
for i in $(seq "$N"); do head -c "$SMALL" /dev/urandom > "$OUT/src/small/f$i.bin"; done
BIG_BYTES=$(stat -c %s "$OUT/src/big.bin")
SMALL_BYTES=$(du -b --apparent-size -s "$OUT/src/small" | cut -f1)
SMALL_BYTES=$((SMALL_BYTES - $(stat -c %s "$OUT/src/small")))
cat "$OUT/src/big.bin" "$OUT/src/small"/* > /dev/null # page cache

# sockit: an account with room for every run, limits that do not bite.
DATA="$OUT/data"
STORE_ARGS=(--data "$DATA")
[ -n "${STORE:-}" ] && STORE_ARGS=(--data "$DATA" --store "$STORE")
if [ -n "${STORE:-}" ]; then
  printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --store "$STORE" >/dev/null 2>&1 || true
else
  printf '%s\n' "$PASS" | "$SOCKIT" user add bench --password-stdin --data "$DATA" >/dev/null
fi
"$SOCKIT" serve --listen "tcp://127.0.0.1:$P_FRAMED" --web "tcp://127.0.0.1:$P_WEB" \
  "${STORE_ARGS[@]}" --quota 1T --max-file 1T --share-upload-max-size 1T \
  --share-upload-max-files 100000 --share-upload-rate 1000000 \
  --share-creates-per-hour 1000 >"$OUT/sockit.log" 2>&1 & SP=$!; PIDS+=($SP)
wait_tcp $P_WEB
printf '%s\n' "$PASS" | "$SOCKIT" login "$SOCKIT_SERVER" --user bench --password-stdin >/dev/null

# nginx: WebDAV PUT into a directory on the same file system, one worker
# per CPU, no access log (sockit keeps none), no body size limit.
mkdir -p "$OUT/nginx" "$OUT/www"
# Workers run as this user (as root nginx would drop to nobody, who
# cannot write into this private directory).
cat > "$OUT/nginx/nginx.conf" <<CONF
user $(id -un) $(id -gn);
worker_processes auto;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_max_body_size 0;
  client_body_temp_path $OUT/www/.tmp;
  proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fastcgi;
  uwsgi_temp_path $OUT/nginx/uwsgi;
  scgi_temp_path $OUT/nginx/scgi;
  server {
    listen 127.0.0.1:$P_NGINX;
    root $OUT/www;
    location / { dav_methods PUT; create_full_put_path on; dav_access user:rw; }
  }
}
CONF
"$NGINX" -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" 2>>"$OUT/nginx/error.log"
wait_tcp $P_NGINX

mbps() { python3 -c "print($1 / ($3 - $2) / 1e6)"; }
link() { # folder -> an upload link's url
  "$SOCKIT" share --upload ":$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])'
}
logged() { # url -> files its log holds
  "$SOCKIT" share log "$1" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["uploads"]))'
}
# One curl for a whole case (connection reused), as sockit send is one process.
curl_put() { # dir-on-server files...
  local dir=$1; shift
  local cfg="$OUT/curl.cfg"; : > "$cfg"
  for f in "$@"; do
    printf 'upload-file = "%s"\nurl = "http://127.0.0.1:%s/%s/%s"\n' "$f" "$P_NGINX" "$dir" "$(basename "$f")" >> "$cfg"
  done
  curl -sS --fail -K "$cfg" -o /dev/null
}
check_www() { # dir bytes
  local got; got=$(find "$OUT/www/$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  [ "$got" = "$2" ] || { echo "nginx $1: $got bytes on disk, not $2" >&2; exit 1; }
}

SMALL_FILES=("$OUT/src/small"/*)
declare -A R
for r in $(seq "$REPS"); do
  for case in big small; do
    if [ $case = big ]; then files=("$OUT/src/big.bin"); bytes=$BIG_BYTES; count=1
    else files=("${SMALL_FILES[@]}"); bytes=$SMALL_BYTES; count=$N; fi
    # Alternate who goes first, so no tool always meets a warmer cache.
    order="send put nginx"; [ $((r % 2)) = 0 ] && order="nginx put send"
    for tool in $order; do
      case $tool in
        send)
          url=$(link "in-$case-$r")
          t0=$(now); "$SOCKIT" send "$url" "${files[@]}" >/dev/null; t1=$(now)
          [ "$(logged "$url")" = "$count" ] || { echo "send $case: log incomplete" >&2; exit 1; }
          ;;
        put)
          if [ $case = big ]; then
            t0=$(now); "$SOCKIT" put --force "${files[0]}" ":put-$case-$r/big.bin" >/dev/null; t1=$(now)
          else
            t0=$(now); "$SOCKIT" put -r "$OUT/src/small" ":put-$case-$r" >/dev/null; t1=$(now)
          fi
          ;;
        nginx)
          t0=$(now); curl_put "$case-$r" "${files[@]}"; t1=$(now)
          check_www "$case-$r" "$bytes"
          ;;
      esac
      R[$tool,$case,$r]=$(mbps "$bytes" "$t0" "$t1")
    done
    rm -rf "${OUT:?}/www/$case-$r"
  done
  # Keep the store small: each run's copies go.
  "$SOCKIT" rm -r ":in-big-$r" ":in-small-$r" ":put-big-$r" ":put-small-$r" >/dev/null 2>&1 || true
done

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
printf '%-26s %12s %12s %12s %10s %10s\n' case "send MB/s" "put MB/s" "nginx MB/s" send/nginx put/nginx
for case in big small; do
  s=(); p=(); g=()
  for r in $(seq "$REPS"); do s+=("${R[send,$case,$r]}"); p+=("${R[put,$case,$r]}"); g+=("${R[nginx,$case,$r]}"); done
  S=$(median "${s[@]}"); P=$(median "${p[@]}"); G=$(median "${g[@]}")
  label="1 x $BIG"; [ $case = small ] && label="$N x $SMALL"
  python3 -c "print('%-26s %12.1f %12.1f %12.1f %10.2f %10.2f' % ('$label', $S, $P, $G, $S / $G, $P / $G))"
done
echo "(median of REPS=$REPS on $(nproc) CPUs; store: ${STORE:+postgres}${STORE:-data dir}; $(uptime | sed 's/.*load/load/'))"
