#!/usr/bin/env bash
# bench/sync_commit_compare.sh - what `serve --store-sync-commit off` buys:
# chat committed messages/s and publish-to-receive latency through one node
# (bench/cluster_chat.py: 4 publishers x MSGS lines as fast as they can,
# one subscriber; then LAT messages one at a time), with the history in
#   sqlite   DATA/chat.db (the default)
#   pg_on    a throw-away PostgreSQL 15 (bench/pg_lib.sh), default
#            durability: every commit waits for its WAL flush
#   pg_off   the same PostgreSQL, the node's chat writer with
#            synchronous_commit=off (--store-sync-commit off)
# in the same run, REPS rounds, the three in turn within each round, so
# the ratios compare like with like on a loaded machine. Prints each
# round, then the medians and the ratios.
# Usage: [REPS=3] [MSGS=2000] [LAT=300] [SOCKIT=path/to/sockit] bench/sync_commit_compare.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/sync_commit"; rm -rf "$OUT"; mkdir -p "$OUT"
REPS="${REPS:-3}"; MSGS="${MSGS:-2000}"; LAT="${LAT:-300}"
if [ -z "${SOCKIT:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  SOCKIT="${CARGO_TARGET_DIR:-$ROOT/target}/release/sockit"
fi

. "$ROOT/bench/pg_lib.sh"
TMP="$(mktemp -d)"
cleanup() { pg_stop; rm -rf "$TMP"; }
trap cleanup EXIT
pg_start "$TMP" "$OUT"

chat() { python3 "$ROOT/bench/cluster_chat.py" "$SOCKIT" --nodes 1 --msgs "$MSGS" --lat "$LAT" "$@"; }
for r in $(seq "$REPS"); do
  echo "== round $r/$REPS (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  chat | tee -a "$OUT/runs.txt"
  chat --store "$PGURL" --sync-commit on | tee -a "$OUT/runs.txt"
  chat --store "$PGURL" --sync-commit off | tee -a "$OUT/runs.txt"
done

python3 - "$OUT/runs.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.search(r"store=(\w+) .*committed_msgs_per_s=(\d+) latency_ms_p50=([\d.]+) p99=([\d.]+)", line)
    if m:
        runs.setdefault(m[1], []).append((float(m[2]), float(m[3]), float(m[4])))
name = {"sqlite": "sqlite", "postgres": "pg_on", "postgres_async": "pg_off"}
med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in runs.items()}
print(f"\n{'':8} {'committed msgs/s':>24} {'p50 ms':>8} {'p99 ms':>8}   (median of {len(runs['sqlite'])}; min-max)")
for k in ("sqlite", "postgres", "postgres_async"):
    rates = [r[0] for r in runs[k]]
    print(f"{name[k]:8} {med[k][0]:10,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) {med[k][1]:8.2f} {med[k][2]:8.2f}")
q = lambda a, b: a / b if b else float("nan")
print(f"committed: pg_off/pg_on {q(med['postgres_async'][0], med['postgres'][0]):.2f}x, "
      f"pg_on/sqlite {q(med['postgres'][0], med['sqlite'][0]):.2f}x, "
      f"pg_off/sqlite {q(med['postgres_async'][0], med['sqlite'][0]):.2f}x (issue 19's target: >= 0.5x)")
PY
