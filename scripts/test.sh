#!/usr/bin/env bash
# The project's test command (the README names it; .ci/run calls it).
#
# Installs what the tests need first (scripts/test-setup.sh: Python packages
# in a virtual environment, helm, PostgreSQL, the DuckDB extensions; all
# idempotent and outside the clone), then builds every binary (the
# integration tests in tests/ run the real ducklake-ingester executable),
# lints, and runs every test. Fixture-based tests read
# ../shared/fixtures/stellar (or $STELLAR_FIXTURES) and skip with a notice
# when it is absent; nothing else skips. Arguments go to the test binaries (a name filter, say).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/test-setup.sh
source scripts/test-setup.sh

echo "== build (workspace binaries)"
cargo build --workspace --bins --locked

echo "== lint (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
# Everything the tests need is installed now: a missing tool fails its test
# instead of skipping it. Only an absent ../shared skips (with a notice).
export DUCKLAKE_REQUIRE_TOOLS=1
cargo test --workspace --locked -- --nocapture "$@" 2>&1 | tee "${TEST_LOG:-/dev/null}"
