#!/usr/bin/env python3
"""Independent decode of trades and contract events with the Python stellar-sdk.

Reads every object (zstd LedgerCloseMetaBatch) of the given data lakes (each
with a `.config.json` naming its network passphrase) and prints one JSON
object, computed without any Rust code:

* `trades`: one entry per claim atom of a successful transaction's
  manage_sell_offer / manage_buy_offer / create_passive_sell_offer /
  path payment result (atoms that moved nothing are skipped), told from the
  maker's side: [ledger, tx_hash, op_index, trade_index, trade_type, seller,
  buyer, buyer_muxed, selling_asset, amount_sold, buying_asset,
  amount_bought, offer_id, pool_id_hex, price]; price is amount_bought /
  amount_sold rounded half up to 7 decimals (null when nothing was sold),
  taker_offer_id (the offer a manage-offer result left on the book),
  operation TOID]. The taker (buyer) is the
  operation's source, else the transaction's source, from the envelope
  matched to the result by hash.
* `events`: per ledger, [operation, transaction-level, diagnostic] event counts.
* `transfers`: every event whose first topic is the symbol `transfer` and
  whose next two topics are addresses: [tx_hash, kind, operation_index,
  event_index, from, to, contract_id, amount] (amount: the i128 data as a
  decimal string, else null), topic0_xdr, data_xdr (base64).

Usage: check_trades_events.py LAKE_DIR [LAKE_DIR ...]
"""

import base64
import decimal
import json
import os
import sys

import zstandard
from stellar_sdk import Address, MuxedAccount, StrKey, TransactionBuilder
from stellar_sdk import FeeBumpTransactionEnvelope
from stellar_sdk import xdr as X

from check_synth_lake import envelopes

TRADE_RESULTS = {
    # operation result arm -> (result attribute, how to get the atoms)
    X.OperationType.MANAGE_SELL_OFFER: "manage_sell_offer_result",
    X.OperationType.CREATE_PASSIVE_SELL_OFFER: "create_passive_sell_offer_result",
    X.OperationType.MANAGE_BUY_OFFER: "manage_buy_offer_result",
    X.OperationType.PATH_PAYMENT_STRICT_RECEIVE: "path_payment_strict_receive_result",
    X.OperationType.PATH_PAYMENT_STRICT_SEND: "path_payment_strict_send_result",
}


def read_lake(lake):
    with open(os.path.join(lake, ".config.json")) as f:
        passphrase = json.load(f)["networkPassphrase"]
    dctx = zstandard.ZstdDecompressor()
    out = []
    for root, _dirs, files in os.walk(lake):
        for name in sorted(files):
            if ".xdr." not in name or name.startswith("."):
                continue
            with open(os.path.join(root, name), "rb") as f:
                raw = dctx.stream_reader(f).read()
            out.extend(X.LedgerCloseMetaBatch.from_xdr_bytes(raw).ledger_close_metas)
    return passphrase, out


def parts(lcm):
    """(header, envelopes, tx_processing) of any LedgerCloseMeta version."""
    m = {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]
    envs = list(m.tx_set.txs) if lcm.v == 0 else envelopes(m.tx_set)
    return m.ledger_header.header, envs, m.tx_processing


def g(account_id):
    return StrKey.encode_ed25519_public_key(account_id.account_id.ed25519.uint256)


def asset(a):
    t = a.type
    if t == X.AssetType.ASSET_TYPE_NATIVE:
        return "native"
    if t == X.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4:
        code, issuer, kind = a.alpha_num4.asset_code.asset_code4, a.alpha_num4.issuer, "credit_alphanum4"
    else:
        code, issuer, kind = a.alpha_num12.asset_code.asset_code12, a.alpha_num12.issuer, "credit_alphanum12"
    text = code.rstrip(b"\0").decode("utf-8", "replace")
    return f"{kind}/{text}/{g(issuer)}"


def successful_op_results(result):
    r = result.result
    if r.code == X.TransactionResultCode.txSUCCESS:
        return r.results
    if r.code == X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS:
        return r.inner_result_pair.result.result.results
    return None


def atoms_of(op_result):
    """(claim atoms, id of the taker's offer left on the book or None)."""
    tr = op_result.tr
    if tr is None or tr.type not in TRADE_RESULTS:
        return [], None
    res = getattr(tr, TRADE_RESULTS[tr.type])
    if res.code.value != 0:  # every *_SUCCESS code is 0
        return [], None
    if tr.type in (X.OperationType.PATH_PAYMENT_STRICT_RECEIVE, X.OperationType.PATH_PAYMENT_STRICT_SEND):
        return res.success.offers, None
    resting = res.success.offer.offer
    return res.success.offers_claimed, (resting.offer_id.int64 if resting is not None else None)


def atom_fields(a):
    """(trade_type, seller, offer_id, pool_hex, asset_sold, amount_sold, asset_bought, amount_bought)."""
    if a.type == X.ClaimAtomType.CLAIM_ATOM_TYPE_V0:
        o = a.v0
        seller = StrKey.encode_ed25519_public_key(o.seller_ed25519.uint256)
        return ("orderbook", seller, o.offer_id.int64, None, o.asset_sold, o.amount_sold.int64, o.asset_bought, o.amount_bought.int64)
    if a.type == X.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK:
        o = a.order_book
        return ("orderbook", g(o.seller_id), o.offer_id.int64, None, o.asset_sold, o.amount_sold.int64, o.asset_bought, o.amount_bought.int64)
    p = a.liquidity_pool
    pool = p.liquidity_pool_id.pool_id.hash
    return ("liquidity_pool", StrKey.encode_liquidity_pool(pool), None, pool.hex(), p.asset_sold, p.amount_sold.int64, p.asset_bought, p.amount_bought.int64)


def price(bought, sold):
    if sold == 0:
        return None
    with decimal.localcontext() as c:
        c.prec = 60
        q = (decimal.Decimal(bought) / decimal.Decimal(sold)).quantize(decimal.Decimal("0.0000001"), decimal.ROUND_HALF_UP)
    return f"{q:.7f}"


def taker(parsed, op):
    tx = parsed.transaction.inner_transaction_envelope.transaction if isinstance(parsed, FeeBumpTransactionEnvelope) else parsed.transaction
    src = op.source if op.source is not None else tx.source
    if isinstance(src, str):
        src = MuxedAccount.from_account(src)
    return src.account_id, (src.account_muxed if src.account_muxed_id is not None else None)


def operations_of(parsed):
    if isinstance(parsed, FeeBumpTransactionEnvelope):
        return parsed.transaction.inner_transaction_envelope.transaction.operations
    return parsed.transaction.operations


def address(v):
    if v.type != X.SCValType.SCV_ADDRESS:
        return None
    return Address.from_xdr_sc_address(v.address).address


def transfer(tx_hash, kind, op_index, index, ev):
    body = ev.body.v0
    topics = body.topics
    if len(topics) < 3 or topics[0].type != X.SCValType.SCV_SYMBOL or topics[0].sym.sc_symbol != b"transfer":
        return None
    frm, to = address(topics[1]), address(topics[2])
    if frm is None or to is None:
        return None
    amount = None
    if body.data.type == X.SCValType.SCV_I128:
        amount = str((body.data.i128.hi.int64 << 64) | body.data.i128.lo.uint64)
    contract = StrKey.encode_contract(ev.contract_id.contract_id.hash) if ev.contract_id is not None else None
    b64 = lambda v: base64.b64encode(v.to_xdr_bytes()).decode()
    return [tx_hash, kind, op_index, index, frm, to, contract, amount, b64(topics[0]), b64(body.data)]


def events_of(tx_hash, meta, transfers):
    counts = [0, 0, 0]
    if meta.v == 3 and meta.v3.soroban_meta is not None:
        sm = meta.v3.soroban_meta
        op_lists = [(0, sm.events)]
        tx_events = []
        diags = sm.diagnostic_events
    elif meta.v == 4:
        op_lists = list(enumerate(op.events for op in meta.v4.operations))
        tx_events = [e.event for e in meta.v4.events]
        diags = meta.v4.diagnostic_events
    else:
        return counts
    for op_index, evs in op_lists:
        for i, ev in enumerate(evs):
            counts[0] += 1
            t = transfer(tx_hash, "operation", op_index, i, ev)
            if t:
                transfers.append(t)
    for i, ev in enumerate(tx_events):
        counts[1] += 1
        t = transfer(tx_hash, "transaction", None, i, ev)
        if t:
            transfers.append(t)
    for i, d in enumerate(diags):
        counts[2] += 1
        t = transfer(tx_hash, "diagnostic", None, i, d.event)
        if t:
            transfers.append(t)
    return counts


def check(lakes):
    trades, events, transfers = [], {}, []
    ledgers = 0
    for lake in lakes:
        passphrase, lcms = read_lake(lake)
        for lcm in lcms:
            header, envs, processing = parts(lcm)
            seq = header.ledger_seq.uint32
            ledgers += 1
            by_hash = {}
            for env in envs:
                parsed = TransactionBuilder.from_xdr(env.to_xdr(), passphrase)
                by_hash[parsed.hash()] = parsed
            counts = [0, 0, 0]
            for order, p in enumerate(processing, start=1):
                tx_hash = p.result.transaction_hash.hash
                h = tx_hash.hex()
                for k, n in enumerate(events_of(h, p.tx_apply_processing, transfers)):
                    counts[k] += n
                results = successful_op_results(p.result.result)
                if results is None:
                    continue
                parsed = by_hash[tx_hash]
                for op_index, (op, res) in enumerate(zip(operations_of(parsed), results)):
                    atoms, taker_offer = atoms_of(res)
                    op_id = (seq << 32) | (order << 12) | (op_index + 1)
                    for trade_index, a in enumerate(atoms):
                        kind, seller, offer_id, pool, sold, n_sold, bought, n_bought = atom_fields(a)
                        if n_sold == 0 and n_bought == 0:
                            continue
                        buyer, buyer_muxed = taker(parsed, op)
                        trades.append([seq, h, op_index, trade_index, kind, seller, buyer, buyer_muxed,
                                       asset(sold), n_sold, asset(bought), n_bought, offer_id, pool,
                                       price(n_bought, n_sold), taker_offer, op_id])
            events[str(seq)] = counts
    return {"ledgers": ledgers, "trades": trades, "events": events, "transfers": transfers}


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(check(sys.argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
