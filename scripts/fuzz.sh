#!/usr/bin/env bash
# Fuzzes the frame decoder (fuzz/fuzz_targets/frame_decoder.rs) for a fixed
# time budget and prints the executions and findings.
#
# usage: scripts/fuzz.sh [SECONDS]     (default 60)
#
# Not part of CI (it needs minutes, not seconds); run it after touching
# src/wire. Crashes land in fuzz/artifacts/frame_decoder/ and the script
# exits non-zero; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz frame_decoder <file>
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
target=frame_decoder
corpus="fuzz/corpus/$target"
artifacts="fuzz/artifacts/$target"
log="fuzz/target/$target.log"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# cargo-fuzz hands rustc nightly-only flags (-Zsanitizer=address and the
# sanitizer-coverage options). Our machines carry only the stable toolchain
# and cannot fetch another, so RUSTC_BOOTSTRAP=1 lets stable rustc accept
# them (it is how the compiler builds itself). Fine for a local fuzzing
# build; never use it for anything we ship.
export RUSTC_BOOTSTRAP=1

# Seed the corpus with the test vectors (two control bytes, then the
# stream), so the fuzzer starts from real frames instead of from nothing.
mkdir -p "$corpus" "$artifacts" fuzz/target
python3 - "$corpus" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for v in json.load(open("tests/vectors/frames.json"))["vectors"]:
    for control in (b"\x00\x07", b"\x01\x2a"):
        (out / f"vector-{v['name']}-{control[0]}").write_bytes(control + bytes.fromhex(v["hex"]))
PY

before=$(find "$artifacts" -type f | wc -l)
status=0
cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
    -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    >"$log" 2>&1 || status=$?
after=$(find "$artifacts" -type f | wc -l)

execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
echo "fuzz $target: ${secs}s, ${execs} executions (${rate}/s), ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) inputs"
echo "findings: $((after - before)) new artifact(s) in $artifacts (full log: $log)"
if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    echo "fuzzing failed (exit $status)" >&2
    exit "$status"
fi
