#!/usr/bin/env bash
# Every test suite, as CI runs it (.ci/run calls this; the README shows it).
# Installs what it needs itself, idempotently, so a fresh machine passes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "set-up (idempotent)"
# pytest for the Python suites; distros that forbid system-wide pip (PEP 668)
# get it from apt instead.
python3 -c 'import pytest' 2>/dev/null ||
  python3 -m pip install --quiet 'pytest>=7' 2>/dev/null ||
  { apt-get update -qq && apt-get install -y -qq python3-pytest; }
# The web page's end-to-end test drives Debian's Chromium with playwright-core.
command -v npm >/dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
command -v chromium >/dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
[ -d tests/e2e/node_modules/playwright-core ] ||
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done

step "format"
cargo fmt --all -- --check

step "clippy (warnings denied, all targets)"
cargo clippy --all-targets --locked -- -D warnings

step "rust tests"
cargo test --locked

step "docs (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet

step "python tests (exercise clients and the stdlib frame client, against the real server)"
cargo build --locked --quiet
SOCKIT_BIN="$PWD/target/debug/sockit" python3 -m pytest -q tests/python clients/python/tests

step "web page end to end (headless Chromium; screenshots in tests/e2e/artifacts on failure)"
SOCKIT_BIN="$PWD/target/debug/sockit" node tests/e2e/web.mjs

printf '\nall tests passed\n'
