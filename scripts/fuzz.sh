#!/usr/bin/env bash
# Fuzzes the parsers that face peers, each for a fixed time budget, and
# records executions and findings:
#   frame_decoder  the frame codec (src/wire), fed in random chunkings
#   line_door      what the nc chat door does with a byte stream
#   datagram_door  what the chat-udp door (and UDP echo/upper) do with a datagram
#
# usage: scripts/fuzz.sh [TARGET|all] [SECONDS]   (default: all, 60 s each)
#        scripts/fuzz.sh SECONDS                  (all targets)
#
# Prints one line per target (executions, exec/s, corpus size, findings)
# and writes the same to fuzz/target/summary.json. Exits non-zero when a
# target crashed, leaked, timed out or could not run. Crashes land in
# fuzz/artifacts/TARGET/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz TARGET FILE
#
# Not part of CI (it needs minutes, not seconds); run it after touching
# src/wire, src/door/chat_lines, src/door/chat_udp or the chat rules.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(frame_decoder line_door datagram_door)
case "${1:-all}" in
    all) targets=("${all[@]}"); secs="${2:-60}" ;;
    *[!0-9]*) targets=("$1"); secs="${2:-60}" ;;
    *) targets=("${all[@]}"); secs="$1" ;;
esac
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "unknown target $t; one of: ${all[*]} all" >&2; exit 2; }
done

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# cargo-fuzz hands rustc nightly-only flags (-Zsanitizer=address and the
# sanitizer-coverage options). Our machines carry only the stable toolchain
# and cannot fetch another, so RUSTC_BOOTSTRAP=1 lets stable rustc accept
# them (it is how the compiler builds itself). Fine for a local fuzzing
# build; never use it for anything we ship.
export RUSTC_BOOTSTRAP=1

out=fuzz/target
mkdir -p "$out"
summary="$out/summary.json"
results="$out/results.tsv"
: >"$results"

# Seeds, so each fuzzer starts from real input instead of from nothing.
# Every target reads two control bytes first (limits, chunking), except
# datagram_door, which takes the datagram whole.
seed() {
    local target=$1 dir=$2
    python3 - "$target" "$dir" <<'PY'
import json, sys, pathlib
target, out = sys.argv[1], pathlib.Path(sys.argv[2])
def put(name, data):
    (out / name).write_bytes(data)
if target == "frame_decoder":
    for v in json.load(open("tests/vectors/frames.json"))["vectors"]:
        for control in (b"\x00\x07", b"\x01\x2a"):
            put(f"vector-{v['name']}-{control[0]}", control + bytes.fromhex(v["hex"]))
elif target == "line_door":
    sessions = {
        "chat": b"alice\r\nhello all\r\n/join #Dev\r\n//not a command\r\n/history 5\r\n/quit\r\n",
        "commands": b"bob\n/nick zo\xc3\xab\n/who\n/rooms\n/help\n/login alice open sesame\n/frob x\n",
        "mistakes": b"/join\n/join a b\n/nick\n/history x\n/login alice\n   \n\n",
        "escapes": b"eve\n\x1b[31mred\x1b[0m \x1b]0;title\x07 \xc2\x9b2J \xe2\x80\xae txt\n",
        "filter": b"carol\ndarn it\nsome spam here\nDARN\n",
        "bad-utf8": b"dave\ncaf\xe9\nok\n\xff\xfe\n",
        "long": b"frank\n" + b"x" * 64 + b"\nshort\n",
        "nfc": b"cafe\xcc\x81\n/join caf\xc3\xa9\n",
    }
    for name, data in sessions.items():
        for control in (b"\x00\x07", b"\x01\x2a"):
            put(f"{name}-{control[0]}", control + data)
else:
    datagrams = {
        "classic": b'{"name": "bob", "msg": "hello", "time": 1}',
        "room": b'{"name":"alice","msg":"hi","room":"#Dev"}',
        "join-only": b'{"name":"carol","room":"lobby"}',
        "escapes": b'{"name":"eve","msg":"\\u001b[31mred\\u0007 \\u202e x"}',
        "filter": b'{"name":"dan","msg":"darn spam"}',
        "bad-name": b'{"name":"~-x y","msg":"m"}',
        "bad-room": b'{"name":"bob","msg":"m","room":"no spaces"}',
        "array": b'["bob","hi"]',
        "not-json": b"hello \xff\xfe",
        "number-name": b'{"name":5,"msg":"x"}',
        "empty": b"",
        "upper": "ping straße".encode(),
    }
    for name, data in datagrams.items():
        put(name, data)
PY
}

echo "building the fuzz targets..."
one=(); [ "${#targets[@]}" -eq 1 ] && one=("${targets[0]}")
cargo fuzz build --fuzz-dir fuzz "${one[@]}" >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log"; echo "fuzz build failed (log: $out/build.log)" >&2; exit 1; }

failed=0
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    log="$out/$target.log"
    mkdir -p "$corpus" "$artifacts"
    seed "$target" "$corpus"
    before=$(find "$artifacts" -type f | wc -l)
    status=0
    cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    after=$(find "$artifacts" -type f | wc -l)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    size=$(find "$corpus" -type f | wc -l)
    findings=$((after - before))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$target" "$secs" "$execs" "$rate" "$cov" "$size" "$findings" "$status" >>"$results"
    printf 'fuzz %-14s %4ss  %12s execs  %8s exec/s  cov %6s  corpus %6s  findings %s\n' \
        "$target" "$secs" "$execs" "$rate" "$cov" "$size" "$findings"
    if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
        failed=1
        tail -n 30 "$log"
        echo "fuzz $target: exit $status, $findings new file(s) in $artifacts (log: $log)" >&2
    fi
done

python3 - "$results" "$summary" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
keys = ["target", "seconds", "executions", "exec_per_s", "coverage", "corpus", "findings", "exit"]
out = [{k: (v if k == "target" else int(v)) for k, v in zip(keys, r)} for r in rows]
json.dump({"targets": out}, open(sys.argv[2], "w"), indent=2)
PY
echo "summary: $summary"
exit "$failed"
