#!/usr/bin/env bash
# Mutation testing of the lines a change touched (CI hook; tests/MUTANTS.md).
#
# Runs cargo-mutants on the mutable lines of the security-critical code that
# `git diff $MUTANTS_BASE` (default HEAD~1) touched, and fails when a mutant
# survives: a change to a parser or to the evaluator must come with tests
# that notice when its logic is broken. Bounded so it cannot blow the CI
# budget: at most $MUTANTS_MAX mutants per run (more are split into shards
# and the commit picks one, so successive commits cover all of them), each
# test run stopped after $MUTANTS_TIMEOUT s, and the whole run after
# $MUTANTS_BUDGET s (a failure, never a silent pass).
# Installs cargo-mutants idempotently; with CI=true a missing tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE=${MUTANTS_BASE:-HEAD~1}
MAX=${MUTANTS_MAX:-16}
TIMEOUT=${MUTANTS_TIMEOUT:-30}
BUDGET=${MUTANTS_BUDGET:-540}
VERSION=27.1.0
PATHS=(src/policy src/identity src/routes/path.rs src/routes/canonical.rs src/proxy)

say() { printf '\n==> %s\n' "$*"; }
fail() { echo "tests/mutants.sh: $*" >&2; exit 1; }

need_cargo_mutants() {
  cargo mutants --version >/dev/null 2>&1 && return 0
  say "installing cargo-mutants $VERSION (crates.io)"
  nice -n 10 cargo install --quiet --locked --version "$VERSION" cargo-mutants || true
  cargo mutants --version >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = "true" ]; then fail "cargo-mutants is required in CI and could not be installed"; fi
  echo "warning: cargo-mutants not available; mutation testing skipped" >&2
  exit 0
}

need_cargo_mutants
# Reuse the test suite's build: the mutated copy is compiled into the same
# target dir, so only iamgate itself is rebuilt, never its dependencies.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/iamgate-mutants.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

git diff "$BASE" -- "${PATHS[@]}" > "$OUT/diff"
if [ ! -s "$OUT/diff" ]; then
  say "mutants: no change under ${PATHS[*]} since $BASE"
  exit 0
fi

# The unit tests always run (.cargo/mutants.toml); the integration tests
# that exercise a touched folder are added to them. The decision log's tests
# are skipped: they mutate nothing here and one of them is timing-sensitive,
# and a flaky failure would count a surviving mutant as caught.
ARGS=()
grep -q '^+++ b/src/policy/' "$OUT/diff" && ARGS+=(-C --test=decision_corpus)
grep -q '^+++ b/src/proxy/' "$OUT/diff" && ARGS+=(-C --test=pipeline -C --test=request_inputs -C --test=handler_edges -C --test=builtin_iam_pipeline)
grep -q '^+++ b/src/identity/' "$OUT/diff" && ARGS+=(-C --test=request_inputs)

COUNT=$(cargo mutants --in-diff "$OUT/diff" --list | wc -l)
if [ "$COUNT" -eq 0 ]; then
  say "mutants: the change touched no mutable line"
  exit 0
fi
SHARD=()
if [ "$COUNT" -gt "$MAX" ]; then
  SHARDS=$(( (COUNT + MAX - 1) / MAX ))
  PICK=$(( 0x$(git rev-parse --short=6 HEAD) % SHARDS ))
  SHARD=(--shard "$PICK/$SHARDS")
  say "mutants: $COUNT mutants > $MAX: running shard $PICK of $SHARDS (chosen by the commit)"
fi

say "cargo mutants on $COUNT mutants in the lines changed since $BASE"
set +e
timeout --kill-after=30 "$BUDGET" nice -n 10 cargo mutants --in-diff "$OUT/diff" \
  --jobs 1 --timeout "$TIMEOUT" --build-timeout 600 --baseline skip --features otel \
  --output "$OUT" "${SHARD[@]}" "${ARGS[@]}" -- -- --skip decision_log::
STATUS=$?
set -e
case $STATUS in
  0) say "mutants: every mutant was caught" ;;
  2) cat "$OUT/mutants.out/missed.txt" >&2
     fail "a mutant survived: add a test that kills it, or list it as equivalent in tests/MUTANTS.md" ;;
  3) cat "$OUT/mutants.out/timeout.txt" >&2
     echo "warning: some mutants timed out (an infinite loop is caught, but check the list)" >&2 ;;
  124|137) fail "the mutants run exceeded its budget of ${BUDGET}s" ;;
  *) fail "cargo mutants failed (exit $STATUS)" ;;
esac
