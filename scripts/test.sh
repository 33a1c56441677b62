#!/usr/bin/env bash
# The project's test command (the README names it; .ci/run calls it).
#
# Builds every binary first: the integration tests in tests/ run the real
# ducklake-ingester executable. Fixture-based tests read ../shared/fixtures/stellar
# (or $STELLAR_FIXTURES) and skip with a notice when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== build (workspace binaries)"
cargo build --workspace --bins --locked

echo "== lint (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked -- --nocapture "$@" 2>&1 | tee "${TEST_LOG:-/dev/null}"
