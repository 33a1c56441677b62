#!/usr/bin/env bash
# The same benchmark commands against two ingester builds, side by side, in
# one run on one machine: end-to-end ledgers/s per storage mode (`bench`, the
# 20 real pubnet fixture ledgers and the 320 testnet ones) and query latency
# under ingestion (`bench-query`, 16 clients). Used to compare engines (0.1.0
# on DuckDB 1.4.4 against this release on 1.5.5; see BENCHMARKS.md).
#
# Usage: scripts/bench-engines.sh NAME=BIN:EXTENSION_DIR NAME=BIN:EXTENSION_DIR ...
#   env: POSTGRES="<libpq conninfo>"  adds the PostgreSQL-catalog storage
#        FIXTURES=../shared/fixtures/stellar
#        QUERY_LAKE=/tmp/qlake        a synthetic lake of >= 401 ledgers
#                                     (made here with `synth --size pubnet --seed 1` when missing)
#        REPEAT=3                     rounds per `bench` (best round reported)
# Prints one Markdown table per benchmark; the raw outputs go to $OUT (default /tmp/bench-engines).
set -euo pipefail
cd "$(dirname "$0")/.."

FIXTURES="${FIXTURES:-../shared/fixtures/stellar}"
QUERY_LAKE="${QUERY_LAKE:-/tmp/qlake}"
REPEAT="${REPEAT:-3}"
OUT="${OUT:-/tmp/bench-engines}"
SYNTH="Ducklake Synthetic Network ; 2025"
TESTNET="Test SDF Network ; September 2015"
mkdir -p "$OUT"
[ $# -ge 1 ] || { echo "usage: $0 NAME=BIN:EXTENSION_DIR ..." >&2; exit 2; }

storages=(duckdb ducklake)
[ -n "${POSTGRES:-}" ] && storages+=(ducklake-postgres)
storage_args() {
  case "$1" in
    ducklake-postgres) echo "--storage ducklake-postgres --postgres" ;;
    *) echo "--storage $1" ;;
  esac
}

first_bin="${1#*=}"; first_bin="${first_bin%%:*}"
if [ ! -f "$QUERY_LAKE/.config.json" ]; then
  "$first_bin" synth --out "$QUERY_LAKE" --ledgers 401 --size pubnet --seed 1 >/dev/null
fi

# bench: the "end to end" figure (ledgers/s).
e2e() { grep -m1 '^end to end' "$1" | sed -E 's/.*\): ([0-9.]+) ledgers\/s.*/\1/'; }
# bench-query: "p50 / p99" of one query row, and the two ingestion figures.
q() { grep -m1 "  $2 " "$1" | awk '{print $(NF-2) " / " $(NF-1)}'; }
ingest() { grep -m1 "^$2" "$1" | sed -E 's/.*: ([0-9.]+) ledgers\/s.*/\1/'; }

run() { # name bin ext storage kind -> output file
  local name=$1 bin=$2 ext=$3 storage=$4 kind=$5 out="$OUT/$1-$4-$5.txt"
  local sargs; read -r -a sargs <<<"$(storage_args "$storage")"
  [ "$storage" = ducklake-postgres ] && sargs+=("$POSTGRES")
  case "$kind" in
    pubnet) "$bin" bench --lake "$FIXTURES/derived/datalake-pubnet-lpf1-fpp64000" --start 63092982 --end 63093001 \
              --repeat "$REPEAT" --batch-size 20 --no-profile --extension-directory "$ext" "${sargs[@]}" >"$out" 2>"$out.log" ;;
    testnet) "$bin" bench --lake "$FIXTURES/derived/datalake-testnet-lpf64-fpp10" --start 1410048 --end 1410367 \
              --network-passphrase "$TESTNET" --repeat "$REPEAT" --batch-size 50 --no-profile \
              --extension-directory "$ext" "${sargs[@]}" >"$out" 2>"$out.log" ;;
    query) "$bin" bench-query --lake "$QUERY_LAKE" --start 2 --end 401 --network-passphrase "$SYNTH" --clients 16 \
              --extension-directory "$ext" "${sargs[@]}" >"$out" 2>"$out.log" ;;
  esac
  echo "$out"
}

declare -A E2E_P E2E_T QRY
for storage in "${storages[@]}"; do
  for kind in pubnet testnet query; do
    for spec in "$@"; do   # builds interleaved, so drift of the machine hits both alike
      name="${spec%%=*}"; rest="${spec#*=}"; bin="${rest%%:*}"; ext="${rest#*:}"
      echo "== $name: $storage: $kind" >&2
      f=$(run "$name" "$bin" "$ext" "$storage" "$kind")
      case "$kind" in
        pubnet) E2E_P[$name,$storage]=$(e2e "$f") ;;
        testnet) E2E_T[$name,$storage]=$(e2e "$f") ;;
        query) QRY[$name,$storage]="$(ingest "$f" "ingestion alone") | $(ingest "$f" "ingestion with") | $(q "$f" "point: ledger by sequence") | $(q "$f" "point: txs of a ledger") | $(q "$f" "aggregate: ops by type") | $(q "$f" "aggregate: fees")" ;;
      esac
    done
  done
done

echo
echo "End to end, ledgers/s (best of $REPEAT rounds):"
echo
echo "| storage | build | 20 pubnet ledgers, 20 per commit | 320 testnet ledgers, 50 per commit |"
echo "|---|---|---:|---:|"
for storage in "${storages[@]}"; do
  for spec in "$@"; do name="${spec%%=*}"
    echo "| $storage | $name | ${E2E_P[$name,$storage]} | ${E2E_T[$name,$storage]} |"
  done
done
echo
echo "Query latency with 16 clients during ingestion (400 synthetic pubnet ledgers, 16 per commit), p50 / p99 ms:"
echo
echo "| storage | build | ingestion alone l/s | with clients l/s | ledger by sequence | txs of a ledger | ops by type | fees |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for storage in "${storages[@]}"; do
  for spec in "$@"; do name="${spec%%=*}"
    echo "| $storage | $name | ${QRY[$name,$storage]} |"
  done
done
