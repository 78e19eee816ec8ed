#!/usr/bin/env bash
# Every test suite, as CI runs it (.ci/run calls this; the README shows it).
# Installs what it needs itself, idempotently, so a fresh machine passes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "set-up (idempotent): installs only what is missing, and says what and where"
# Each tool is checked first; a second run installs nothing.
have() { printf '  %-16s present: %s\n' "$1" "$2"; }
get() { printf '  %-16s installing %s\n' "$1" "$2"; }
apt_get() {
  # apt needs root; say so instead of failing obscurely.
  [ "$(id -u)" = 0 ] || { echo "  apt-get needs root: run as root, or install: $*" >&2; exit 2; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
# pytest for the Python suites (the examples test, the exercise clients, the
# stdlib frame client), into the interpreter that runs them; distros that
# forbid system-wide pip (PEP 668) get their python3-pytest package instead.
if python3 -c 'import pytest' 2>/dev/null; then
  have pytest "$(python3 -c 'import os, pytest; print(os.path.dirname(pytest.__file__))')"
else
  site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  get pytest "with pip into $site (python3 -m pip install 'pytest>=7')"
  python3 -m pip install --quiet 'pytest>=7' ||
    { get pytest "python3-pytest with apt (pip refused: PEP 668)"; apt_get python3-pytest; }
fi
# cryptography: the third decryptor of end-to-end shares, written from
# docs/PROTOCOL.md (tests/python/test_e2e_vectors.py).
if python3 -c 'import cryptography' 2>/dev/null; then have cryptography "python3 module"; else
  get cryptography "python3-cryptography with apt"; apt_get python3-cryptography; fi
# curl: the README's web examples use it.
if command -v curl >/dev/null; then have curl "$(command -v curl)"; else
  get curl "with apt"; apt_get curl; fi
# The web page's end-to-end test drives Debian's Chromium with playwright-core.
if command -v npm >/dev/null; then have npm "$(command -v npm)"; else
  get "nodejs npm" "with apt"; apt_get nodejs npm; fi
if command -v chromium >/dev/null; then have chromium "$(command -v chromium)"; else
  get chromium "with apt"; apt_get chromium; fi
# Real HAProxy in front of sockit (the PROXY protocol test, tests/proxy_protocol.rs).
if command -v haproxy >/dev/null; then have haproxy "$(command -v haproxy)"; else
  get haproxy "with apt"; apt_get haproxy; fi
# PostgreSQL for the cluster tests (tests/cluster.rs): each test starts its
# own throw-away server in a temporary directory, on a Unix socket only, as
# the unprivileged user nobody when run as root (tests/common/pg.rs).
if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  have postgresql "$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
else
  get postgresql-15 "with apt (server binaries only; the tests start and stop their own)"
  apt_get postgresql-15
fi
if [ -d tests/e2e/node_modules/playwright-core ]; then
  have playwright-core "tests/e2e/node_modules"
else
  get playwright-core "with npm ci into tests/e2e/node_modules (tests/e2e/package-lock.json)"
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
for c in rustfmt clippy; do
  if rustup component list --installed 2>/dev/null | grep -q "^$c"; then
    have "$c" "rustup component"
  else
    get "$c" "with rustup component add"; rustup component add "$c"
  fi
done

step "format"
cargo fmt --all -- --check

step "clippy (warnings denied, all targets)"
cargo clippy --all-targets --locked -- -D warnings

step "rust tests"
cargo test --locked

step "docs (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet

step "python tests (every documented example, the exercise clients and the stdlib frame client, against the real server)"
cargo build --locked --quiet
SOCKIT_BIN="$PWD/target/debug/sockit" python3 -m pytest -q tests/python clients/python/tests

step "web page end to end (headless Chromium; screenshots at 1440x900 and 390x844 kept in tests/e2e/artifacts, and the failing page on failure)"
SOCKIT_BIN="$PWD/target/debug/sockit" node tests/e2e/web.mjs
SOCKIT_BIN="$PWD/target/debug/sockit" node tests/e2e/e2e_share.mjs
SOCKIT_BIN="$PWD/target/debug/sockit" node tests/e2e/e2e_send.mjs
SOCKIT_BIN="$PWD/target/debug/sockit" node tests/e2e/e2e_upload.mjs
SOCKIT_BIN="$PWD/target/debug/sockit" node tests/e2e/e2e_worker.mjs

printf '\nall tests passed\n'
