#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ (git-ignored) with seed inputs: real ledgers
# from the shared fixtures, re-framed for each target, and SQL statements
# (fuzz/sql-seeds.txt, one per line). Fixture bytes are never committed;
# this script copies them where the fuzzer reads them.
#
#   fuzz/seed.sh [FIXTURES_DIR]     (default: $STELLAR_FIXTURES, else ../shared/fixtures/stellar)
set -euo pipefail
cd "$(dirname "$0")"
fixtures="${1:-${STELLAR_FIXTURES:-../../shared/fixtures/stellar}}"
corpus=corpus
mkdir -p "$corpus"/{xdr_to_rows,object_to_rows,lcm_to_rows,sql_classifier}

# SQL: one statement per line (a literal \n stands for a newline).
n=0
while IFS= read -r line || [ -n "$line" ]; do
  [ -z "$line" ] && continue
  n=$((n + 1))
  printf '%b' "$line" > "$corpus/sql_classifier/seed-$(printf %03d "$n")"
done < sql-seeds.txt
echo "sql_classifier: $n statements"

if [ ! -f "$fixtures/decoded_stats.jsonl" ]; then
  echo "NOTICE: no Stellar fixtures at $fixtures; only the SQL corpus was seeded" >&2
  exit 0
fi
src="$fixtures/original"
lcm="$corpus/xdr_to_rows"
obj="$corpus/object_to_rows"

# Bare LedgerCloseMeta: testnet V0 ledgers (lighthorizon: skip the 4-byte
# SerializedLedgerCloseMeta tag), a few pubnet V1/V2 ones (gzip), and the
# one-ledger testnet Soroban batch with its 12-byte batch header cut off.
for f in "$src"/testnet/stellar-go-lighthorizon/*; do
  tail -c +5 "$f" > "$lcm/testnet-$(basename "$f").xdr"
done
for seq in 51000294 57500008 63092988 63092996; do
  gzip -dc "$src/pubnet/wallet-backend/ledger-$seq.xdr.gz" > "$lcm/pubnet-$seq.xdr"
done
zstd -dcq "$src/testnet/soroban-block-explorer/testdata.xdr.zst" | tail -c +13 > "$lcm/testnet-982180.xdr"
echo "xdr_to_rows: $(ls "$lcm" | wc -l) ledgers"

# Objects: zstd batches as stored in the lakes, and two uncompressed batches.
for f in "$fixtures"/derived/*/*/*.xdr.zst "$src"/testnet/soroban-block-explorer/testdata.xdr.zst \
  "$src"/pubnet/stellar-go/*.xdr.zstd; do
  cp "$f" "$obj/$(basename "$f")"
  chmod u+w "$obj/$(basename "$f")"
done
zstd -dcq "$src/testnet/soroban-block-explorer/testdata.xdr.zst" > "$obj/testdata.xdr"
zstd -dcq "$fixtures"/derived/datalake-testnet-lpf64-fpp10/*/FFEA7AFF--1410304-1410367.xdr.zst > "$obj/FFEA7AFF--1410304-1410367.xdr"
echo "object_to_rows: $(ls "$obj" | wc -l) objects"

# lcm_to_rows reads its input as `arbitrary` choices, not XDR: it starts
# from whatever is in its directory (empty is fine).
echo "lcm_to_rows: $(ls "$corpus/lcm_to_rows" | wc -l) inputs (starts from scratch)"
