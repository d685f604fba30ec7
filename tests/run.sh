#!/usr/bin/env bash
# Run every test of iamgate: format and lint checks, the Rust unit and
# integration tests, then the end-to-end tests that drive the real vendor
# SDKs through the gateway. Installs what it needs, idempotently:
#   - Debian's prometheus (a real Prometheus scrapes the admin endpoint;
#     promtool checks and unit-tests deploy/prometheus/alerts.yml)
#   - Debian's redis-server (two gateways share one replay store)
#   - a Python venv in .venv with the pinned SDKs of tests/e2e/requirements.txt
# With CI=true a tool that cannot be installed is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\n==> %s\n' "$*"; }
fail() { echo "tests/run.sh: $*" >&2; exit 1; }

need_debian_package() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing $2 (Debian)"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }) || true
  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null || true
  fi
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = "true" ]; then fail "$1 is required in CI and could not be installed"; fi
  echo "warning: $1 not available; tests that need it will fail" >&2
}

python_venv() {
  local venv="$ROOT/.venv" stamp="$ROOT/.venv/.requirements.sha256"
  local want; want=$(sha256sum tests/e2e/requirements.txt | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  say "creating $venv with the pinned SDKs"
  command -v python3 >/dev/null || fail "python3 is required"
  python3 -m venv "$venv" || { need_debian_package python3 python3-venv; python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/e2e/requirements.txt
  echo "$want" > "$stamp"
}

need_debian_package prometheus prometheus
need_debian_package faketime faketime   # test_sts_expiry.py moves the gateway's clock
need_debian_package openssl openssl
need_debian_package redis-server redis-server # the shared nonce store (tests/e2e/test_redis_nonces.py)
need_debian_package chromium chromium # the console in a real browser (tests/e2e/test_console.py)
need_debian_package chromedriver chromium-driver # Selenium drives it
python_venv

say "cargo fmt --check"
cargo fmt --all -- --check
# One feature set for every build the suite makes (clippy's check build and
# the test/debug build): the `otel` feature is on, so its code is linted,
# unit-tested and its spans checked end to end (tests/e2e/test_otel.py)
# without compiling the dependency tree twice. The default build (no otel
# crates) is compiled by `cargo run` and by the fuzz targets below.
say "cargo clippy --all-targets --features otel -- -D warnings"
cargo clippy --quiet --all-targets --features otel -- -D warnings
say "cargo test --features otel (unit, corpus, catalog, property and in-process tests)"
cargo test --quiet --features otel
cargo build --quiet --features otel

say "promtool: deploy/prometheus alert rules (check + unit tests)"
promtool check rules deploy/prometheus/alerts.yml
(cd deploy/prometheus && promtool test rules alerts_test.yml)

say "end-to-end: real SDKs → iamgate → recording mock upstream"
export IAMGATE_BIN="$ROOT/target/debug/iamgate"
(cd tests/e2e && "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider -q)

say "fuzzing: every cargo-fuzz target for ${FUZZ_SECONDS:-30} s"
# The instrumented nightly build is cached outside the clone (it shares
# nothing with the main build), so a CI run only rebuilds the iamgate crate.
export FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iamgate/fuzz-target}"
bash tests/fuzz.sh

say "mutation testing: cargo-mutants on the lines the last commit changed"
bash tests/mutants.sh
