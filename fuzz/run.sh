#!/usr/bin/env bash
# The fuzzing budget: runs every target (or the ones named) for
# SECONDS_PER_TARGET seconds each, one after another, and prints each
# target's executions, exec/s, coverage and corpus size. Exits non-zero
# when a target found a crash (saved under fuzz/artifacts/<target>/).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 300 s, all targets)
#
# Needs nightly and cargo-fuzz (`cargo install cargo-fuzz --locked`). Builds
# into $CARGO_TARGET_DIR (default ~/.cache/ducklake/fuzz-target; the first
# build compiles DuckDB's C++). Run fuzz/seed.sh first for a real-ledger corpus.
set -uo pipefail
cd "$(dirname "$0")"
budget="${1:-300}"
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(xdr_to_rows object_to_rows lcm_to_rows sql_classifier)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ducklake/fuzz-target}"
# The json extension turns on the query API's function guard (as in production).
export DUCKLAKE_EXTENSION_DIR="${DUCKLAKE_EXTENSION_DIR:-$HOME/.cache/ducklake/extensions}"
# Every cargo fuzz command must use the same flags, or it rebuilds everything.
# No sanitizer: the fuzzed code is safe Rust plus DuckDB's C++, which ASan
# would not instrument; debug assertions and overflow checks stay on.
flags=(--sanitizer none --codegen-units 16)

cargo +nightly fuzz build "${flags[@]}" || exit 2
status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  echo "== $t: ${budget}s"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: DuckDB plus a
  # big ledger stay well under 4 GB.
  extra=()
  [ "$t" = sql_classifier ] && extra=(-dict="$PWD/sql.dict")
  cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$budget" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "${extra[@]}" 2>&1 | tee "$log" | grep -E '^#[0-9]+.*(pulse|DONE|INITED)|ERROR|panicked|SUMMARY|Test unit written'
  rc=${PIPESTATUS[0]}
  stats=$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | sed 's/^stat:://' | tr -s ' ' | paste -sd' ')
  cov=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')
  summary+=("$t: exit $rc; $cov; $stats; corpus files $(ls "corpus/$t" | wc -l)")
  [ "$rc" -ne 0 ] && status=1
done
echo "== summary (${budget}s per target)"
printf '%s\n' "${summary[@]}"
ls artifacts/*/crash-* artifacts/*/timeout-* artifacts/*/oom-* 2>/dev/null && echo "crashes above: see README.md"
exit $status
