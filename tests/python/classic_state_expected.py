#!/usr/bin/env python3
"""Independent expectation for the classic snapshot tables, with the Python stellar-sdk.

Walks every ledger-entry change of every ledger in the given lakes (fee
processing, transaction meta of every version, post-apply fee processing,
upgrades) and, per ledger, folds the classic entries (accounts, trustlines,
offers, claimable balances, liquidity pools) by key: the last state of each
entry that changed, or, when its last change removed it, its last state before
removal marked deleted. Signer rows: every extra signer of a changed account's
final state, plus a deleted row for each signer the account had at the start
of the ledger but not at the end (all of them when the account was removed).

Prints one JSON object: {"ledgers": {seq: {...per table...}}, "final": {...}}
where "final" (with --final) is the live classic state after the last ledger,
from replaying all changes in order. Usage:
  classic_state_expected.py PATH... [--final]
PATH is a lake directory or a single .xdr.zst / .xdr.zstd object.
"""

import argparse
from fractions import Fraction
import json
import os
import struct
import sys

import zstandard
from stellar_sdk import xdr as X
from stellar_sdk import StrKey

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_synth_lake import entry_key as synth_entry_key  # noqa: E402


def objects(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, _dirs, files in os.walk(p):
            for name in sorted(files):
                if ".xdr.zst" in name and not name.startswith("."):
                    yield os.path.join(root, name)


def read_ledgers(paths):
    dctx = zstandard.ZstdDecompressor()
    out = {}
    for path in objects(paths):
        with open(path, "rb") as f:
            raw = dctx.stream_reader(f).read()
        for lcm in X.LedgerCloseMetaBatch.from_xdr_bytes(raw).ledger_close_metas:
            out[body(lcm).ledger_header.header.ledger_seq.uint32] = lcm
    return [out[s] for s in sorted(out)]


def body(lcm):
    return {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]


def meta_changes(meta):
    """The LedgerEntryChanges lists of one TransactionMeta, in order."""
    if meta.v == 0:
        return [op.changes for op in meta.operations]
    if meta.v == 1:
        return [meta.v1.tx_changes] + [op.changes for op in meta.v1.operations]
    m = {2: meta.v2, 3: meta.v3, 4: meta.v4}[meta.v]
    return [m.tx_changes_before] + [op.changes for op in m.operations] + [m.tx_changes_after]


def ledger_change_lists(lcm):
    m = body(lcm)
    lists = [p.fee_processing for p in m.tx_processing]
    for p in m.tx_processing:
        lists.extend(meta_changes(p.tx_apply_processing))
    if lcm.v == 2:
        lists.extend(p.post_tx_apply_fee_processing for p in m.tx_processing)
    lists.extend(u.changes for u in m.upgrades_processing)
    return lists


CLASSIC = {0, 1, 2, 4, 5}


def entry_key(entry):
    """(type, LedgerKey XDR bytes) of a classic entry; (type, None) otherwise."""
    t = int(entry.data.type)
    return t, (synth_entry_key(entry) if t in CLASSIC else None)


def changes_of(lcm):
    """(key, kind, pre, post) for every classic change; kind 'c','u','r','s'(restored)."""
    out = []
    for lst in ledger_change_lists(lcm):
        state = None
        for c in lst.ledger_entry_changes:
            t = int(c.type)
            if t == 3:
                state = c.state
                continue
            if t == 0:
                kind, e = "c", c.created
            elif t == 1:
                kind, e = "u", c.updated
            elif t == 4:
                kind, e = "s", c.restored
            else:
                kind, e = "r", None
            pre = state if kind in ("u", "r") else None
            state = None
            if e is not None:
                typ, key = entry_key(e)
            else:
                key = c.removed.to_xdr_bytes()
                typ = struct.unpack(">i", key[:4])[0]
            if typ in CLASSIC:
                out.append((key, kind, pre, e))
    return out


def amount(v):
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // 10**7}.{v % 10**7:07d}"


def price(n, d):
    """n/d rounded to 7 decimals, half away from zero, as a string."""
    q = Fraction(abs(n) * 10**7, abs(d))
    units = int(q) + (1 if q - int(q) >= Fraction(1, 2) else 0)
    sign = "-" if (n < 0) != (d < 0) and units else ""
    return f"{sign}{units // 10**7}.{units % 10**7:07d}"


def g(account_id):
    return StrKey.encode_ed25519_public_key(account_id.account_id.ed25519.uint256)


def sponsor(entry):
    if entry.ext.v == 1 and entry.ext.v1.sponsoring_id.sponsorship_descriptor is not None:
        return g(entry.ext.v1.sponsoring_id.sponsorship_descriptor)
    return None


def account_ext_v2(a):
    if a.ext.v == 1 and a.ext.v1.ext.v == 2:
        return a.ext.v1.ext.v2
    return None


def signer_strkey(key):
    t = int(key.type)
    if t == 0:
        return StrKey.encode_ed25519_public_key(key.ed25519.uint256)
    if t == 1:
        return StrKey.encode_pre_auth_tx(key.pre_auth_tx.uint256)
    if t == 2:
        return StrKey.encode_sha256_hash(key.hash_x.uint256)
    p = key.ed25519_signed_payload
    return StrKey.encode_ed25519_signed_payload(p.ed25519.uint256 + struct.pack(">I", len(p.payload)) + p.payload + b"\0" * (-len(p.payload) % 4))


def signers(a):
    v2 = account_ext_v2(a)
    sponsors = v2.signer_sponsoring_i_ds if v2 is not None else []
    out = []
    for i, s in enumerate(a.signers):
        sp = sponsors[i].sponsorship_descriptor if i < len(sponsors) else None
        out.append((signer_strkey(s.key), s.weight.uint32, g(sp) if sp is not None else None))
    return out


def asset_cols(a):
    t = int(a.type)
    if t == 0:
        return ["native", None, None]
    if t == 1:
        return ["credit_alphanum4", a.alpha_num4.asset_code.asset_code4.rstrip(b"\0").decode("utf-8", "replace"), g(a.alpha_num4.issuer)]
    if t == 2:
        return ["credit_alphanum12", a.alpha_num12.asset_code.asset_code12.rstrip(b"\0").decode("utf-8", "replace"), g(a.alpha_num12.issuer)]
    return ["liquidity_pool_shares", None, None]


def describe(entry, deleted):
    """(table, key string, values) of one classic entry, in the tables' formats."""
    d = entry.data
    t = int(d.type)
    lml = entry.last_modified_ledger_seq.uint32
    if t == 0:
        a = d.account
        liab = a.ext.v1.liabilities if a.ext.v == 1 else None
        v2 = account_ext_v2(a)
        return "accounts", g(a.account_id), {
            "balance": a.balance.int64,
            "balance_str": amount(a.balance.int64),
            "sequence_number": a.seq_num.sequence_number.int64,
            "num_subentries": a.num_sub_entries.uint32,
            "num_sponsoring": v2.num_sponsoring.uint32 if v2 else 0,
            "num_sponsored": v2.num_sponsored.uint32 if v2 else 0,
            "buying_liabilities": liab.buying.int64 if liab else 0,
            "selling_liabilities": liab.selling.int64 if liab else 0,
            "master_weight": a.thresholds.thresholds[0],
            "flags": a.flags.uint32,
            "sponsor": sponsor(entry),
            "signers": len(a.signers),
            "last_modified_ledger": lml,
            "deleted": deleted,
        }
    if t == 1:
        tl = d.trust_line
        typ, code, issuer = asset_cols(tl.asset)
        pool = tl.asset.liquidity_pool_id.pool_id.hash.hex() if typ == "liquidity_pool_shares" else None
        liab = tl.ext.v1.liabilities if tl.ext.v == 1 else None
        key = "|".join([g(tl.account_id), typ, code or "", issuer or "", pool or ""])
        return "trustlines", key, {
            "balance": amount(tl.balance.int64),
            "trust_limit": amount(tl.limit.int64),
            "buying_liabilities": amount(liab.buying.int64 if liab else 0),
            "selling_liabilities": amount(liab.selling.int64 if liab else 0),
            "flags": tl.flags.uint32,
            "sponsor": sponsor(entry),
            "last_modified_ledger": lml,
            "deleted": deleted,
        }
    if t == 2:
        o = d.offer
        return "offers", str(o.offer_id.int64), {
            "seller": g(o.seller_id),
            "amount": amount(o.amount.int64),
            "price_n": o.price.n.int32,
            "price_d": o.price.d.int32,
            "price": price(o.price.n.int32, o.price.d.int32),
            "selling": asset_cols(o.selling),
            "buying": asset_cols(o.buying),
            "sponsor": sponsor(entry),
            "last_modified_ledger": lml,
            "deleted": deleted,
        }
    if t == 4:
        c = d.claimable_balance
        flags = c.ext.v1.flags.uint32 if c.ext.v == 1 else 0
        return "claimable_balances", c.balance_id.to_xdr_bytes().hex(), {
            "amount": c.amount.int64,
            "asset": asset_cols(c.asset),
            "claimants_count": len(c.claimants),
            "destinations": [cl.v0.destination and g(cl.v0.destination) for cl in c.claimants],
            "flags": flags,
            "sponsor": sponsor(entry),
            "last_modified_ledger": lml,
            "deleted": deleted,
        }
    p = d.liquidity_pool
    cp = p.body.constant_product
    return "liquidity_pools", p.liquidity_pool_id.pool_id.hash.hex(), {
        "reserve_a": cp.reserve_a.int64,
        "reserve_b": cp.reserve_b.int64,
        "total_pool_shares": cp.total_pool_shares.int64,
        "trustline_count": cp.pool_shares_trust_line_count.int64,
        "fee": cp.params.fee.int32,
        "asset_a": asset_cols(cp.params.asset_a),
        "asset_b": asset_cols(cp.params.asset_b),
        "last_modified_ledger": lml,
        "deleted": deleted,
    }


TABLES = ["accounts", "trustlines", "offers", "claimable_balances", "liquidity_pools"]


def ledger_expectation(lcm):
    first, last, order = {}, {}, []
    for key, kind, pre, post in changes_of(lcm):
        if key not in first:
            first[key] = (kind, pre, post)
            order.append(key)
        last[key] = (kind, pre, post)
    out = {t: {} for t in TABLES}
    out["account_signers"] = []
    for key in order:
        fkind, fpre, fpost = first[key]
        lkind, lpre, lpost = last[key]
        deleted = lkind == "r"
        entry = lpre if deleted else lpost
        if entry is None:
            entry = fpost if fpost is not None else fpre
        if entry is None:
            continue
        table, k, values = describe(entry, deleted)
        out[table][k] = values
        if table == "accounts":
            initial = fpre if fkind in ("u", "r") else None
            final = signers(entry.data.account)
            final_keys = {s[0] for s in final}
            rows = [] if deleted else [[k, s[0], s[1], s[2], False] for s in final]
            gone = list(final) if deleted else []
            if initial is not None:
                gone += [s for s in signers(initial.data.account) if s[0] not in final_keys]
            rows += [[k, s[0], s[1], s[2], True] for s in gone]
            out["account_signers"].extend(rows)
    out["account_signers"].sort(key=lambda r: (r[0], r[1], r[4]))
    return out


def replay_final(ledgers):
    live = {}
    for lcm in ledgers:
        for key, kind, _pre, post in changes_of(lcm):
            if kind == "r":
                live.pop(key, None)
            else:
                live[key] = post
    out = {t: {} for t in TABLES}
    out["account_signers"] = []
    for entry in live.values():
        table, k, values = describe(entry, False)
        out[table][k] = values
        if table == "accounts":
            out["account_signers"].extend([k, s[0], s[1], s[2], False] for s in signers(entry.data.account))
    out["account_signers"].sort(key=lambda r: (r[0], r[1]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--final", action="store_true", help="also print the live classic state after the last ledger")
    args = ap.parse_args()
    ledgers = read_ledgers(args.paths)
    result = {"ledgers": {}}
    for lcm in ledgers:
        seq = body(lcm).ledger_header.header.ledger_seq.uint32
        result["ledgers"][str(seq)] = ledger_expectation(lcm)
    if args.final:
        result["final"] = replay_final(ledgers)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
