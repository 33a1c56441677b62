#!/usr/bin/env python3
"""Independent per-ledger effect counts for a SEP-54 data lake, decoded with
the Python stellar-sdk (no Rust code involved).

For every ledger, only operations of successful transactions count, and each
figure follows from the operation, its result and (for Soroban) its contract
events, by Horizon's rules:

* account_created = create_account ops; account_removed = account_merge ops;
* trade = 2 x non-empty order-book claim atoms of offer and path payment ops;
  liquidity_pool_trade = non-empty pool claim atoms;
* claimable_balance_created / _claimed = create / claim ops;
  claimable_balance_claimant_created = claimants of the create ops;
* trustline_changes (created + removed + updated) = change_trust ops;
  allow_trust_deprecated (authorized + deauthorized + maintain) = allow_trust ops;
  trustline_flags_updated = allow_trust + set_trust_line_flags ops;
* data_changes (created + removed + updated) = manage_data ops;
* credits (account_credited + contract_credited) and debits (account_debited +
  contract_debited): payment 1+1, create_account 0+1, path payments 1+1,
  account_merge 1+1, inflation one credit per payout, claim 1+0, create
  claimable balance 0+1, clawback 1+1, clawback claimable balance 1+0, and
  Stellar Asset Contract events whose contract id is the asset's SAC id:
  transfer 1+1, mint 1+0, clawback 0+1, burn 0+1.

Prints one JSON object: {"<seq>": {"<figure>": count, ...}, ...}.
Usage: count_effects.py LAKE_DIR --passphrase P
"""

import argparse
import collections
import json
import os

import zstandard
from stellar_sdk import Asset, StrKey
from stellar_sdk import xdr as X

OT = X.OperationType
SAC_NAMES = {b"transfer", b"mint", b"clawback", b"burn"}


def read_ledgers(lake):
    dctx = zstandard.ZstdDecompressor()
    for root, _dirs, files in os.walk(lake):
        for name in sorted(files):
            if ".xdr." not in name or name.startswith("."):
                continue
            with open(os.path.join(root, name), "rb") as f:
                raw = dctx.stream_reader(f).read()
            yield from X.LedgerCloseMetaBatch.from_xdr_bytes(raw).ledger_close_metas


def body(lcm):
    return {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]


def successful(result):
    code = result.result.result.code
    return code in (X.TransactionResultCode.txSUCCESS, X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS)


def op_results(result):
    r = result.result.result
    if r.code == X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS:
        return r.inner_result_pair.result.result.results
    return r.results


def envelopes(b, lcm_v):
    if lcm_v == 0:
        return list(b.tx_set.txs)
    out = []
    for phase in b.tx_set.v1_tx_set.phases:
        if phase.v == 0:
            for comp in phase.v0_components:
                out.extend(comp.txs_maybe_discounted_fee.txs)
        else:
            for stage in phase.parallel_txs_component.execution_stages:
                for cluster in stage.parallel_tx_execution_stage:
                    out.extend(cluster.dependent_tx_cluster)
    return out


def inner_ops(env):
    if env.type == X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        return env.fee_bump.tx.inner_tx.v1.tx.operations
    if env.type == X.EnvelopeType.ENVELOPE_TYPE_TX_V0:
        return env.v0.tx.operations
    return env.v1.tx.operations


def tx_hash(env, passphrase):
    from stellar_sdk import TransactionEnvelope, FeeBumpTransactionEnvelope

    if env.type == X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        return FeeBumpTransactionEnvelope.from_xdr_object(env, passphrase).hash()
    return TransactionEnvelope.from_xdr_object(env, passphrase).hash()


def claim_atoms(tr):
    t = tr.type
    if t in (OT.MANAGE_SELL_OFFER, OT.CREATE_PASSIVE_SELL_OFFER):
        r = tr.manage_sell_offer_result if t == OT.MANAGE_SELL_OFFER else tr.create_passive_sell_offer_result
        return r.success.offers_claimed if r.success else []
    if t == OT.MANAGE_BUY_OFFER:
        r = tr.manage_buy_offer_result
        return r.success.offers_claimed if r.success else []
    if t == OT.PATH_PAYMENT_STRICT_RECEIVE:
        return tr.path_payment_strict_receive_result.success.offers
    if t == OT.PATH_PAYMENT_STRICT_SEND:
        return tr.path_payment_strict_send_result.success.offers
    return []


def atom_amounts(a):
    inner = {0: a.v0, 1: a.order_book, 2: a.liquidity_pool}[a.type.value]
    return inner.amount_sold.int64, inner.amount_bought.int64


def sac_moves(event, passphrase):
    """(credits, debits) of one contract event if it is a genuine SAC event."""
    if event.type != X.ContractEventType.CONTRACT or event.contract_id is None:
        return 0, 0
    topics = event.body.v0.topics
    if len(topics) < 3 or topics[0].type != X.SCValType.SCV_SYMBOL or topics[-1].type != X.SCValType.SCV_STRING:
        return 0, 0
    name = topics[0].sym.sc_symbol
    if name not in SAC_NAMES:
        return 0, 0
    text = topics[-1].str.sc_string.decode("utf-8", "replace")
    try:
        asset = Asset.native() if text == "native" else Asset(*text.split(":"))
        expected = asset.contract_id(passphrase)
    except Exception:
        return 0, 0
    if StrKey.encode_contract(event.contract_id.contract_id.hash) != expected:
        return 0, 0
    data = event.body.v0.data
    if data.type not in (X.SCValType.SCV_I128, X.SCValType.SCV_MAP):
        return 0, 0
    n = len(topics)
    return {
        (b"transfer", 4): (1, 1),
        (b"mint", 4): (1, 0),
        (b"mint", 3): (1, 0),
        (b"clawback", 4): (0, 1),
        (b"clawback", 3): (0, 1),
        (b"burn", 3): (0, 1),
    }.get((name, n), (0, 0))


def op_events(meta, i):
    if meta.v == 3 and i == 0 and meta.v3.soroban_meta is not None:
        return meta.v3.soroban_meta.events
    if meta.v == 4 and i < len(meta.v4.operations):
        return meta.v4.operations[i].events
    return []


def count_ledger(lcm, passphrase):
    b = body(lcm)
    by_hash = {tx_hash(e, passphrase): e for e in envelopes(b, lcm.v)}
    c = collections.Counter()
    for proc in b.tx_processing:
        if not successful(proc.result):
            continue
        env = by_hash[proc.result.transaction_hash.hash]
        meta = proc.tx_apply_processing
        for i, (op, res) in enumerate(zip(inner_ops(env), op_results(proc.result))):
            t = op.body.type
            tr = res.tr
            credits, debits = {
                OT.PAYMENT: (1, 1),
                OT.CREATE_ACCOUNT: (0, 1),
                OT.PATH_PAYMENT_STRICT_RECEIVE: (1, 1),
                OT.PATH_PAYMENT_STRICT_SEND: (1, 1),
                OT.ACCOUNT_MERGE: (1, 1),
                OT.CLAIM_CLAIMABLE_BALANCE: (1, 0),
                OT.CREATE_CLAIMABLE_BALANCE: (0, 1),
                OT.CLAWBACK: (1, 1),
                OT.CLAWBACK_CLAIMABLE_BALANCE: (1, 0),
            }.get(t, (0, 0))
            if t == OT.INFLATION:
                credits = len(tr.inflation_result.payouts or [])
            if t == OT.INVOKE_HOST_FUNCTION:
                for ev in op_events(meta, i):
                    cr, db = sac_moves(ev, passphrase)
                    credits += cr
                    debits += db
            c["credits"] += credits
            c["debits"] += debits
            c["account_created"] += t == OT.CREATE_ACCOUNT
            c["account_removed"] += t == OT.ACCOUNT_MERGE
            c["claimable_balance_created"] += t == OT.CREATE_CLAIMABLE_BALANCE
            c["claimable_balance_claimed"] += t == OT.CLAIM_CLAIMABLE_BALANCE
            if t == OT.CREATE_CLAIMABLE_BALANCE:
                c["claimable_balance_claimant_created"] += len(op.body.create_claimable_balance_op.claimants)
            c["trustline_changes"] += t == OT.CHANGE_TRUST
            c["allow_trust_deprecated"] += t == OT.ALLOW_TRUST
            c["trustline_flags_updated"] += t in (OT.ALLOW_TRUST, OT.SET_TRUST_LINE_FLAGS)
            c["data_changes"] += t == OT.MANAGE_DATA
            for atom in claim_atoms(tr):
                sold, bought = atom_amounts(atom)
                if sold == 0 and bought == 0:
                    continue
                if atom.type == X.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL:
                    c["liquidity_pool_trade"] += 1
                else:
                    c["trade"] += 2
    return c


def main():
    p = argparse.ArgumentParser()
    p.add_argument("lake")
    p.add_argument("--passphrase", required=True)
    a = p.parse_args()
    out = {}
    for lcm in read_ledgers(a.lake):
        seq = body(lcm).ledger_header.header.ledger_seq.uint32
        out[str(seq)] = dict(count_ledger(lcm, a.passphrase))
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
