#!/usr/bin/env bash
# kill -9 the server during uploads, downloads and a chat burst, restart it
# on the same --data, and check that nothing acknowledged was lost, every
# file is intact or resumes, and no temporary outlives the startup sweep.
#
# usage: bench/abuse/kill9.sh [ROUNDS] [kill9.py options]   (default 5 rounds)
# The work is in kill9.py (Python 3 stdlib and clients/python); this wrapper
# only builds the release binary when missing. Figures: bench/out/abuse-kill9.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds=5
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then rounds=$1; shift; fi
if [ -z "${SOCKIT:-}" ] && [ ! -x "${CARGO_TARGET_DIR:-$here/../../target}/release/sockit" ]; then
    (cd "$here/../.." && cargo build --release)
fi
exec python3 "$here/kill9.py" --rounds "$rounds" "$@"
