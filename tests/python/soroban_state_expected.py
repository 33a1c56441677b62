#!/usr/bin/env python3
"""Independent per-ledger figures for the Soroban state tables, decoded with
the Python stellar-sdk from the SEP-54 lake objects (no Rust involved).

For every ledger of the lake(s), walking the ledger-entry changes in apply
order (fee processing, each tx's meta, post-apply fee refunds, upgrades,
evictions):

* contract_data / contract_code / ttl / config: distinct changed keys, and
  how many of them end the ledger removed (REMOVED or evicted); contract data
  keys of type SCV_LEDGER_KEY_NONCE are left out (stellar-etl skips them);
* sac_balances: key hash -> balance of SAC-shaped balance entries
  ([Balance, contract address] -> {amount, authorized, clawback});
* ttl_live_until: TTL key hash -> live-until ledger of its last change;
* config: setting id -> the last value's fields for the reference columns;
* code_stats: code hash -> the 9 section counts (cost inputs when present,
  else counted from the WASM here);
* evicted: distinct evicted keys by entry type;
* restored: distinct data/code keys restored (RESTORED changes, and TTLs a
  successful RestoreFootprint bumped from expired to live).

Prints one JSON object {seq: {...}}. Usage: soroban_state_expected.py LAKE_DIR...
"""

import hashlib
import json
import os
import struct
import sys

import zstandard
from stellar_sdk import xdr as X


def sha(b):
    return hashlib.sha256(b).hexdigest()


def read_ledgers(lake):
    out = []
    dctx = zstandard.ZstdDecompressor()
    for root, _dirs, files in os.walk(lake):
        for name in sorted(files):
            if ".xdr." not in name or name.startswith("."):
                continue
            with open(os.path.join(root, name), "rb") as f:
                raw = dctx.stream_reader(f).read()
            out.extend(X.LedgerCloseMetaBatch.from_xdr_bytes(raw).ledger_close_metas)
    return out


def body(lcm):
    return {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]


def key_of_entry(e):
    """LedgerKey XDR bytes of an entry (Soroban types only): XDR concatenates."""
    d = e.data
    t = d.type.value
    if t == 6:
        parts = [d.contract_data.contract, d.contract_data.key, d.contract_data.durability]
    elif t == 7:
        parts = [d.contract_code.hash]
    elif t == 8:
        parts = [d.config_setting.config_setting_id]
    elif t == 9:
        parts = [d.ttl.key_hash]
    else:
        return None
    return struct.pack(">i", t) + b"".join(p.to_xdr_bytes() for p in parts)


def meta_groups(meta):
    """(changes, op index or None) in apply order for every meta version."""
    v = meta.v
    if v == 0:
        return [(o.changes, i) for i, o in enumerate(meta.operations)]
    m = {1: meta.v1, 2: meta.v2, 3: meta.v3, 4: meta.v4}[v]
    if v == 1:
        return [(m.tx_changes, None)] + [(o.changes, i) for i, o in enumerate(m.operations)]
    return ([(m.tx_changes_before, None)] + [(o.changes, i) for i, o in enumerate(m.operations)]
            + [(m.tx_changes_after, None)])


def leb(b, i):
    v = shift = 0
    for n in range(5):
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return v, i
    raise ValueError("leb")


def skip_expr(b, i):
    while True:
        op = b[i]
        i += 1
        if op == 0x0B:
            return i
        if op in (0x41, 0x42):
            while b[i] & 0x80:
                i += 1
            i += 1
        elif op in (0x23, 0xD2):
            _, i = leb(b, i)
        elif op == 0xD0:
            i += 1
        elif op not in (0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E):
            raise ValueError("expr")


def wasm_counts(b):
    """[functions, globals, table entries, types, data segs, elem segs, imports, exports, data bytes] or None."""
    try:
        if b[:8] != b"\0asm\x01\0\0\0":
            return None
        c = dict(f=0, g=0, t=0, ty=0, ds=0, es=0, im=0, ex=0, db=0)
        i = 8
        while i < len(b):
            sid = b[i]
            size, i = leb(b, i + 1)
            end = i + size
            if end > len(b):
                return None
            if sid in (1, 2, 3, 6, 7, 9):
                n, _ = leb(b, i)
                c[{1: "ty", 2: "im", 3: "f", 6: "g", 7: "ex", 9: "es"}[sid]] = n
            elif sid == 4:
                n, j = leb(b, i)
                for _ in range(n):
                    flags = b[j + 1]
                    mn, j = leb(b, j + 2)
                    c["t"] += mn
                    if flags & 1:
                        _, j = leb(b, j)
            elif sid == 11:
                n, j = leb(b, i)
                c["ds"] = n
                for _ in range(n):
                    flag, j = leb(b, j)
                    if flag == 2:
                        _, j = leb(b, j)
                    if flag in (0, 2):
                        j = skip_expr(b, j)
                    ln, j = leb(b, j)
                    c["db"] += ln
                    j += ln
            i = end
        return [c[k] for k in ("f", "g", "t", "ty", "ds", "es", "im", "ex", "db")]
    except (IndexError, ValueError):
        return None


def sac_balance(cd):
    k = cd.key
    if k.type.value != 16 or k.vec is None or len(k.vec.sc_vec) != 2:
        return None
    tag, holder = k.vec.sc_vec
    if tag.type.value != 15 or tag.sym.sc_symbol != b"Balance":
        return None
    if holder.type.value != 18 or holder.address.type.value != 1:
        return None
    v = cd.val
    if v.type.value != 17 or v.map is None or len(v.map.sc_map) != 3:
        return None
    a, au, cl = v.map.sc_map
    names = [e.key.sym.sc_symbol if e.key.type.value == 15 else None for e in (a, au, cl)]
    if names != [b"amount", b"authorized", b"clawback"] or au.val.type.value != 0 or cl.val.type.value != 0:
        return None
    if a.val.type.value != 10:
        return None
    hi, lo = a.val.i128.hi.int64, a.val.i128.lo.uint64
    if hi < 0:
        return None
    return str((hi << 64) | lo)


def ledger_figures(lcm):
    m = body(lcm)
    seq = m.ledger_header.header.ledger_seq.uint32
    last = {}  # key xdr -> (kind, entry or None)
    restored = set()
    groups = []
    for p in m.tx_processing:
        groups.append((p.fee_processing, None, None))
    for ti, p in enumerate(m.tx_processing):
        for ch, op in meta_groups(p.tx_apply_processing):
            groups.append((ch, ti, op))
    if m is getattr(lcm, "v2", None):
        for p in m.tx_processing:
            groups.append((p.post_tx_apply_fee_processing, None, None))
    for u in m.upgrades_processing:
        groups.append((u.changes, None, None))
    envs = tx_envelopes_by_hash(m)
    for changes, ti, op in groups:
        state = None
        for c in changes.ledger_entry_changes:
            t = c.type.value
            if t == 3:
                state = c.state
                continue
            if t == 2:
                k = c.removed
                if k.type.value not in (6, 7, 8, 9):
                    continue
                last[k.to_xdr_bytes()] = ("removed", state)
                continue
            e = {0: c.created, 1: c.updated, 4: c.restored}[t]
            kx = key_of_entry(e)
            if kx is None:
                continue
            last[kx] = ({0: "created", 1: "updated", 4: "restored"}[t], e)
            if t == 4 and e.data.type.value in (6, 7):
                restored.add(sha(kx))
            if t == 1 and e.data.type.value == 9 and op is not None and state is not None:
                res = m.tx_processing[ti].result
                ok = res.result.result.code.value in (0, 1)  # txSUCCESS / txFEE_BUMP_INNER_SUCCESS
                tx = envs.get(res.transaction_hash.hash)
                if ok and tx is not None and tx[0][op].body.type.value == 26:
                    if state.data.ttl.live_until_ledger_seq.uint32 < seq <= e.data.ttl.live_until_ledger_seq.uint32:
                        target = e.data.ttl.key_hash.hash.hex()
                        for lk in tx[1]:
                            if sha(lk.to_xdr_bytes()) == target:
                                restored.add(target)
            state = None
    evicted = {}
    for k in m.evicted_keys or []:
        kx = k.to_xdr_bytes()
        last[kx] = ("evicted", None)
        evicted[sha(kx)] = {6: "contract_data", 7: "contract_code", 9: "ttl"}.get(k.type.value, "other")
    out = dict(contract_data=0, contract_data_deleted=0, contract_code=0, contract_code_deleted=0, ttl=0,
               ttl_deleted=0, config={}, sac_balances={}, ttl_live_until={}, code_stats={},
               evicted=sorted(evicted.items()), restored=sorted(restored))
    for kx, (kind, e) in last.items():
        k = X.LedgerKey.from_xdr_bytes(kx)
        t = k.type.value
        gone = kind in ("removed", "evicted")
        if t == 6:
            if k.contract_data.key.type.value == 21:  # SCV_LEDGER_KEY_NONCE
                continue
            out["contract_data"] += 1
            out["contract_data_deleted"] += gone
            if e is not None:
                b = sac_balance(e.data.contract_data)
                if b is not None:
                    out["sac_balances"][sha(kx)] = b
        elif t == 7:
            out["contract_code"] += 1
            out["contract_code_deleted"] += gone
            if e is not None:
                cc = e.data.contract_code
                if cc.ext.v == 1:
                    ci = cc.ext.v1.cost_inputs
                    s = [ci.n_functions, ci.n_globals, ci.n_table_entries, ci.n_types, ci.n_data_segments,
                         ci.n_elem_segments, ci.n_imports, ci.n_exports, ci.n_data_segment_bytes]
                    s = [x.uint32 if hasattr(x, "uint32") else x for x in s]
                else:
                    s = wasm_counts(cc.code)
                out["code_stats"][cc.hash.hash.hex()] = s
        elif t == 9:
            out["ttl"] += 1
            out["ttl_deleted"] += gone
            if e is not None:
                out["ttl_live_until"][k.ttl.key_hash.hash.hex()] = e.data.ttl.live_until_ledger_seq.uint32
        elif t == 8 and e is not None:
            cs = e.data.config_setting
            sid = cs.config_setting_id.value
            v = {}
            if sid == 0:
                v = dict(contract_max_size_bytes=cs.contract_max_size_bytes.uint32)
            elif sid == 1:
                c = cs.contract_compute
                v = dict(ledger_max_instructions=c.ledger_max_instructions.int64,
                         tx_max_instructions=c.tx_max_instructions.int64,
                         tx_memory_limit=c.tx_memory_limit.uint32)
            elif sid == 2:
                c = cs.contract_ledger_cost
                v = dict(ledger_max_read_ledger_entries=c.ledger_max_disk_read_entries.uint32,
                         tx_max_read_ledger_entries=c.tx_max_disk_read_entries.uint32,
                         ledger_max_write_bytes=c.ledger_max_write_bytes.uint32,
                         tx_max_write_bytes=c.tx_max_write_bytes.uint32)
            out["config"][str(sid)] = v
    return seq, out


def tx_envelopes_by_hash(m):
    """Only what the restore rule needs: result hash -> (operations, read-write footprint)."""
    from stellar_sdk import FeeBumpTransactionEnvelope, TransactionBuilder
    out = {}
    for env in all_envelopes(m.tx_set):
        if env.type.value == 5:  # fee bump
            inner = env.fee_bump.tx.inner_tx.v1
        elif env.type.value == 2:
            inner = env.v1
        else:
            continue
        tx = inner.tx
        has_restore = any(o.body.type.value == 26 for o in tx.operations)
        if not has_restore or tx.ext.v != 1:
            continue
        h = PASS_HASH(env)
        out[h] = (tx.operations, tx.ext.soroban_data.resources.footprint.read_write)
    return out


def all_envelopes(ts):
    if ts.__class__.__name__ == "TransactionSet":
        return list(ts.txs)
    g = ts.v1_tx_set if ts.v == 1 else None
    if g is None:
        return list(ts.v0.txs) if hasattr(ts, "v0") and ts.v0 else []
    out = []
    for ph in g.phases:
        if ph.v == 0:
            for comp in ph.v0_components:
                out.extend(comp.txs_maybe_discounted_fee.txs)
        else:
            for stage in ph.parallel_txs_component.execution_stages:
                for cluster in stage.parallel_tx_execution_stage:
                    out.extend(cluster.dependent_tx_cluster)
    return out


PASS_HASH = None


def main():
    global PASS_HASH
    from stellar_sdk import TransactionBuilder
    args = sys.argv[1:]
    passphrase = args.pop(0)

    def h(env):
        return TransactionBuilder.from_xdr(env.to_xdr(), passphrase).hash()

    PASS_HASH = h
    res = {}
    for lake in args:
        for lcm in read_ledgers(lake):
            seq, figs = ledger_figures(lcm)
            res[str(seq)] = figs
    json.dump(res, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
