#!/usr/bin/env python3
"""Independent cross-check of a SEP-54 data lake with the Python stellar-sdk.

Decodes every object of the lake (zstd LedgerCloseMetaBatch) and checks each
ledger without any Rust code involved:

* the header hash is sha256 of the header XDR and each header's
  previous_ledger_hash is the previous header's hash;
* the tx set hash is sha256 of the GeneralizedTransactionSet XDR;
* every transaction hash, recomputed by the SDK from its envelope and the
  network passphrase, matches exactly one result (and a fee bump's inner
  hash matches its inner result);
* fee pool and total coins move only by the fees charged;
* the ledger-entry changes replay consistently: a STATE entry equals the
  last value the meta gave that key, CREATED keys did not exist, UPDATED and
  REMOVED follow their STATE, evicted keys existed.

Prints one JSON line with the counts; exits 1 with a message on the first
failure. Usage: check_synth_lake.py LAKE_DIR [--passphrase P]
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys

import zstandard
from stellar_sdk import xdr as X
from stellar_sdk import FeeBumpTransactionEnvelope
from stellar_sdk import TransactionBuilder


class CheckError(Exception):
    pass


def sha256(b):
    return hashlib.sha256(b).digest()


def read_ledgers(lake):
    ledgers = []
    dctx = zstandard.ZstdDecompressor()
    for root, _dirs, files in os.walk(lake):
        for name in files:
            if ".xdr." not in name or name.startswith("."):
                continue
            with open(os.path.join(root, name), "rb") as f:
                raw = dctx.stream_reader(f).read()
            batch = X.LedgerCloseMetaBatch.from_xdr_bytes(raw)
            seqs = [lcm_header(l).ledger_seq.uint32 for l in batch.ledger_close_metas]
            if seqs != list(range(batch.start_sequence.uint32, batch.end_sequence.uint32 + 1)):
                raise CheckError(f"{name}: batch header does not match its ledgers")
            ledgers.extend(batch.ledger_close_metas)
    ledgers.sort(key=lambda l: lcm_header(l).ledger_seq.uint32)
    return ledgers


def lcm_v2(lcm):
    if lcm.v != 2:
        raise CheckError(f"expected LedgerCloseMeta V2, got V{lcm.v}")
    return lcm.v2


def lcm_header(lcm):
    return lcm_v2(lcm).ledger_header.header


def envelopes(tx_set):
    out = []
    for phase in tx_set.v1_tx_set.phases:
        if phase.v == 0:
            for comp in phase.v0_components:
                out.extend(comp.txs_maybe_discounted_fee.txs)
        else:
            for stage in phase.parallel_txs_component.execution_stages:
                for cluster in stage.parallel_tx_execution_stage:
                    out.extend(cluster.dependent_tx_cluster)
    return out


def entry_key(entry):
    """LedgerKey XDR bytes of a LedgerEntry: the key fields after the type."""
    d = entry.data
    t = int(d.type)
    if t == 0:
        parts = [d.account.account_id]
    elif t == 1:
        parts = [d.trust_line.account_id, d.trust_line.asset]
    elif t == 2:
        parts = [d.offer.seller_id, d.offer.offer_id]
    elif t == 3:
        parts = [d.data.account_id, d.data.data_name]
    elif t == 4:
        parts = [d.claimable_balance.balance_id]
    elif t == 5:
        parts = [d.liquidity_pool.liquidity_pool_id]
    elif t == 6:
        parts = [d.contract_data.contract, d.contract_data.key, d.contract_data.durability]
    elif t == 7:
        parts = [d.contract_code.hash]
    elif t == 9:
        parts = [d.ttl.key_hash]
    else:
        raise CheckError(f"unexpected ledger entry type {t}")
    return struct.pack(">i", t) + b"".join(p.to_xdr_bytes() for p in parts)


class Replay:
    def __init__(self):
        self.live = {}

    def apply(self, seq, what, changes):
        pending = None
        for c in changes.ledger_entry_changes:
            t = int(c.type)
            if t == 3:  # STATE
                key = entry_key(c.state)
                known = self.live.get(key)
                if known is not None and known != c.state.to_xdr_bytes():
                    raise CheckError(f"ledger {seq} {what}: STATE differs from the last value of its key")
                pending = key
            elif t == 1:  # UPDATED
                key = entry_key(c.updated)
                if pending != key:
                    raise CheckError(f"ledger {seq} {what}: UPDATED without its STATE")
                self.live[key] = c.updated.to_xdr_bytes()
                pending = None
            elif t == 0:  # CREATED
                key = entry_key(c.created)
                if key in self.live:
                    raise CheckError(f"ledger {seq} {what}: CREATED an existing entry")
                self.live[key] = c.created.to_xdr_bytes()
            elif t == 2:  # REMOVED
                key = c.removed.to_xdr_bytes()
                if pending != key:
                    raise CheckError(f"ledger {seq} {what}: REMOVED without its STATE")
                self.live.pop(key, None)
                pending = None
            elif t == 4:  # RESTORED
                key = entry_key(c.restored)
                if key in self.live:
                    raise CheckError(f"ledger {seq} {what}: RESTORED a live entry")
                self.live[key] = c.restored.to_xdr_bytes()

    def ledger(self, m):
        seq = m.ledger_header.header.ledger_seq.uint32
        for p in m.tx_processing:
            self.apply(seq, "fee processing", p.fee_processing)
        for p in m.tx_processing:
            meta = p.tx_apply_processing
            if meta.v != 4:
                raise CheckError(f"ledger {seq}: expected TransactionMeta V4, got V{meta.v}")
            self.apply(seq, "tx changes before", meta.v4.tx_changes_before)
            for i, op in enumerate(meta.v4.operations):
                self.apply(seq, f"operation {i}", op.changes)
            self.apply(seq, "tx changes after", meta.v4.tx_changes_after)
        for p in m.tx_processing:
            self.apply(seq, "post-apply fee processing", p.post_tx_apply_fee_processing)
        for u in m.upgrades_processing:
            self.apply(seq, "upgrade", u.changes)
        for k in m.evicted_keys:
            if self.live.pop(k.to_xdr_bytes(), None) is None:
                raise CheckError(f"ledger {seq}: evicted key was not live")


def check(lake, passphrase):
    ledgers = read_ledgers(lake)
    if not ledgers:
        raise CheckError("the lake holds no ledgers")
    replay = Replay()
    prev = None
    txs = ops = fee_bumps = 0
    for lcm in ledgers:
        m = lcm_v2(lcm)
        entry = m.ledger_header
        h = entry.header
        seq = h.ledger_seq.uint32
        if sha256(h.to_xdr_bytes()) != entry.hash.hash:
            raise CheckError(f"ledger {seq}: header hash is not sha256 of the header")
        if prev is not None:
            if seq != prev.header.ledger_seq.uint32 + 1:
                raise CheckError(f"ledger {seq}: does not follow {prev.header.ledger_seq.uint32}")
            if h.previous_ledger_hash.hash != prev.hash.hash:
                raise CheckError(f"ledger {seq}: previous_ledger_hash breaks the chain")
            if h.total_coins.int64 != prev.header.total_coins.int64:
                raise CheckError(f"ledger {seq}: total coins changed")
        if sha256(m.tx_set.to_xdr_bytes()) != h.scp_value.tx_set_hash.hash:
            raise CheckError(f"ledger {seq}: tx set hash is not sha256 of the tx set")
        by_hash = {}
        inner_of = {}
        for env in envelopes(m.tx_set):
            parsed = TransactionBuilder.from_xdr(env.to_xdr(), passphrase)
            tx_hash = parsed.hash()
            if tx_hash in by_hash:
                raise CheckError(f"ledger {seq}: duplicate transaction hash")
            by_hash[tx_hash] = parsed
            if isinstance(parsed, FeeBumpTransactionEnvelope):
                inner_of[tx_hash] = parsed.transaction.inner_transaction_envelope.hash()
                ops += len(parsed.transaction.inner_transaction_envelope.transaction.operations)
                fee_bumps += 1
            else:
                ops += len(parsed.transaction.operations)
        if len(by_hash) != len(m.tx_processing):
            raise CheckError(f"ledger {seq}: {len(by_hash)} envelopes but {len(m.tx_processing)} results")
        fees = 0
        for p in m.tx_processing:
            r = p.result
            got = r.transaction_hash.hash
            if got not in by_hash:
                raise CheckError(f"ledger {seq}: result {got.hex()} has no envelope with that hash")
            if got in inner_of:
                inner = r.result.result.inner_result_pair
                if inner is None or inner.transaction_hash.hash != inner_of[got]:
                    raise CheckError(f"ledger {seq}: fee bump {got.hex()} has the wrong inner hash")
            del by_hash[got]
            fees += r.result.fee_charged.int64
        if prev is not None and h.fee_pool.int64 - prev.header.fee_pool.int64 != fees:
            raise CheckError(f"ledger {seq}: fee pool moved by {h.fee_pool.int64 - prev.header.fee_pool.int64}, fees charged {fees}")
        replay.ledger(m)
        txs += len(m.tx_processing)
        prev = entry
    return {
        "ledgers": len(ledgers),
        "first": lcm_header(ledgers[0]).ledger_seq.uint32,
        "last": lcm_header(ledgers[-1]).ledger_seq.uint32,
        "transactions": txs,
        "operations": ops,
        "fee_bumps": fee_bumps,
        "live_entries": len(replay.live),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lake", help="data lake directory (with .config.json)")
    ap.add_argument("--passphrase", help="network passphrase (default: the lake's .config.json)")
    args = ap.parse_args()
    passphrase = args.passphrase
    if passphrase is None:
        with open(os.path.join(args.lake, ".config.json")) as f:
            passphrase = json.load(f)["networkPassphrase"]
    try:
        summary = check(args.lake, passphrase)
    except CheckError as e:
        print(f"check_synth_lake: FAILED: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
