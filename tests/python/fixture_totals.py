#!/usr/bin/env python3
"""Per-ledger totals of the fixture lakes, decoded with the Python stellar-sdk
(no Rust involved), for tests/tests/fixture_ledgers.rs to compare with the
ingested tables.

For every ledger in the given lake directories (zstd LedgerCloseMetaBatch
objects) prints one JSON line:
  {"seq": N, "fee_charged": sum of result.feeCharged over all applied txs,
   "successful_op_types": {"payment": n, ...} (operations of successful txs)}
Usage: fixture_totals.py LAKE_DIR [LAKE_DIR ...]
"""

import json
import os
import sys

import zstandard
from stellar_sdk import xdr as X

SUCCESS = {X.TransactionResultCode.txSUCCESS, X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS}


def lcm_parts(lcm):
    v = lcm.v
    m = {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[v]
    return m.ledger_header.header.ledger_seq.uint32, [p.result for p in m.tx_processing], m


def main():
    dctx = zstandard.ZstdDecompressor()
    out = {}
    for lake in sys.argv[1:]:
        for root, _dirs, files in os.walk(lake):
            for name in sorted(files):
                if ".xdr." not in name or name.startswith("."):
                    continue
                with open(os.path.join(root, name), "rb") as f:
                    raw = dctx.stream_reader(f).read()
                batch = X.LedgerCloseMetaBatch.from_xdr_bytes(raw)
                for lcm in batch.ledger_close_metas:
                    seq, results, m = lcm_parts(lcm)
                    fee = sum(r.result.fee_charged.int64 for r in results)
                    # Operation types of successful transactions, from the
                    # operation results' own type tags (no envelope needed).
                    types = {}
                    for r in results:
                        res = r.result.result
                        if res.code not in SUCCESS:
                            continue
                        op_results = res.results if res.code == X.TransactionResultCode.txSUCCESS else res.inner_result_pair.result.result.results
                        for opr in op_results:
                            key = opr.tr.type.name.lower()
                            types[key] = types.get(key, 0) + 1
                    out[seq] = {"seq": seq, "fee_charged": fee, "successful_op_types": types}
    for seq in sorted(out):
        print(json.dumps(out[seq], sort_keys=True))


if __name__ == "__main__":
    main()
