#!/usr/bin/env bash
# bench/perf_compare.sh - `sockit perf` beside iperf3 on loopback, in one run.
#
# Each tool measures against its own server on the same loopback, back to
# back: TCP one stream, TCP -P 4 (a markdown table with the ratio
# sockit/iperf3 of the receiver's throughput), then UDP at 1 Gbit/s with
# 1460-byte datagrams (a second table: receiver's rate, loss and jitter of
# each tool side by side).
#
# Needs iperf3 (Debian: apt-get install -y iperf3; this script does NOT
# install it) and a release build of sockit (built here unless SOCKIT points
# at a binary).
# Usage: [DUR=5] [BITRATE=1G] [SOCKIT=path/to/sockit] bench/perf_compare.sh
# Loopback only; ports 39321 (sockit) and 39322 (iperf3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DUR="${DUR:-5}"
PORT_S=39321; PORT_I=39322
command -v iperf3 >/dev/null || { echo "iperf3 is missing: apt-get install -y iperf3" >&2; exit 1; }
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/sockit"
fi
command -v jq >/dev/null || { echo "jq is missing: apt-get install -y jq" >&2; exit 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
TMP="$(mktemp -d)"
"$SOCKIT" serve --data "$TMP/data" --perf "tcp://127.0.0.1:$PORT_S" --perf "udp://127.0.0.1:$PORT_S" \
  > "$TMP/serve.log" 2>&1 & PIDS+=($!)
iperf3 -s -p "$PORT_I" > "$TMP/iperf3.log" 2>&1 & PIDS+=($!)
for _ in $(seq 50); do
  grep -q ready "$TMP/serve.log" && (exec 3<>"/dev/tcp/127.0.0.1/$PORT_I") 2>/dev/null && break
  sleep 0.1
done

# Receiver-side bits per second of one run of each tool.
sockit_tcp() { "$SOCKIT" perf --json -i 0 -t "$DUR" "$@" "tcp://127.0.0.1:$PORT_S" \
  | jq '.summary | .server_received * 8 / .secs'; }
iperf_tcp() { iperf3 -J -c 127.0.0.1 -p "$PORT_I" -t "$DUR" "$@" | jq '.end.sum_received.bits_per_second'; }
gbit() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "| test | sockit perf | iperf3 | sockit/iperf3 |"
echo "|---|---|---|---|"
for p in 1 4; do
  s=$(sockit_tcp -P "$p"); i=$(iperf_tcp -P "$p")
  echo "| TCP -P $p, Gbit/s (receiver) | $(gbit "$s") | $(gbit "$i") | $(ratio "$s" "$i") |"
done

# UDP: the same rate and datagram size for both; the receiver's figures.
# sockit's UDP listeners ask for a 4 MiB receive buffer (UDP_BUFFER), so
# iperf3 gets the same with -w 4M; the loss then compares the tools, not
# the kernel's default buffer.
BITRATE="${BITRATE:-1G}"
echo
echo "| UDP -b $BITRATE -l 1460 | received | lost | jitter |"
echo "|---|---|---|---|"
"$SOCKIT" perf -u --json -i 0 -b "$BITRATE" -l 1460 -t "$DUR" "udp://127.0.0.1:$PORT_S" | jq -r '.summary |
  "| sockit perf -u | \(.received_bits_per_second / 1e9 * 1000 | round / 1000) Gbit/s | \(.lost)/\(.sent) (\(.loss_percent * 1000 | round / 1000) %) | \(.jitter_ms * 1000 | round / 1000) ms |"'
iperf3 -J -c 127.0.0.1 -p "$PORT_I" -u -b "$BITRATE" -l 1460 -w 4M -t "$DUR" | jq -r '.end.sum |
  "| iperf3 -u | \(.bits_per_second / 1e9 * 1000 | round / 1000) Gbit/s | \(.lost_packets)/\(.packets) (\(.lost_percent * 1000 | round / 1000) %) | \(.jitter_ms * 1000 | round / 1000) ms |"'
echo
echo "DUR=$DUR s per cell; sockit $("$SOCKIT" --version 2>/dev/null || echo '?'), $(iperf3 --version | head -1)"
