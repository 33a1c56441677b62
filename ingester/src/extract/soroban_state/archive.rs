//! TTL snapshots and the evicted / restored key tables.

use std::collections::{HashMap, HashSet};

use stellar_xdr::{LedgerEntryData, OperationBody};

use super::super::changes::{ChangeKind, ChangeOrigin, EntryChange, Folded};
use super::super::encode;
use super::super::view::LedgerView;
use super::Base;
use super::keys::{KeyFacts, KeyRef, SorobanKey, key_facts, key_hash, key_ref, ledger_key_ref};
use crate::tables::{EvictedKeyRow, RestoredKeyRow, TtlRow};

pub fn ttl_row(f: &Folded<'_, SorobanKey>, key_hash: &[u8; 32], base: &Base<'_>) -> TtlRow {
    let last = &f.last;
    let entry = last.entry();
    let live_until = entry.and_then(|e| match &e.data {
        LedgerEntryData::Ttl(t) => Some(i64::from(t.live_until_ledger_seq)),
        _ => None,
    });
    let seq = i64::from(base.seq);
    TtlRow {
        key_hash: hex::encode(key_hash),
        ledger_sequence: seq,
        live_until_ledger_seq: live_until,
        ttl_remaining: live_until.map(|l| l - seq),
        // Live in ledger N means live_until >= N.
        expired: live_until.map(|l| l < seq),
        last_modified_ledger: entry.map(|e| e.last_modified_ledger_seq as i32),
        deleted: last.kind.is_removal(),
        closed_at: base.closed_at,
        created_at: base.closed_at,
        ledger_range: encode::ledger_range(base.seq),
        era_id: base.ctx.era_id.clone(),
        version_label: base.ctx.version_label.clone(),
        ledger_entry_change: last.kind.xdr_type(),
        evicted: last.kind == ChangeKind::Evicted,
    }
}

/// Facts about the data/code keys changed in the ledger, by key hash: lets a
/// TTL key (which holds only that hash) name its contract and durability.
pub type KeyIndex = HashMap<[u8; 32], KeyFacts>;

/// One row per key in the LCM's eviction list (V1 and V2), in list order.
pub fn evicted_rows(
    changes: &[EntryChange<'_>],
    index: &KeyIndex,
    base: &Base<'_>,
) -> Result<Vec<EvictedKeyRow>, String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.kind == ChangeKind::Evicted) {
        let Some(k) = c.removed_key.and_then(ledger_key_ref) else { continue };
        let hash = key_hash(k).map_err(|e| e.to_string())?;
        if !seen.insert(hash) {
            continue;
        }
        let (facts, target) = match k {
            KeyRef::Ttl(t) => (ttl_facts(index, &t.0), Some(hex::encode(t.0))),
            _ => (key_facts(k), None),
        };
        out.push(EvictedKeyRow {
            key_hash: hex::encode(hash),
            ledger_sequence: i64::from(base.seq),
            contract_id: facts.contract_id,
            key_type: facts.key_type,
            durability: facts.durability.map(str::to_string),
            closed_at: base.closed_at,
            ledger_range: encode::ledger_range(base.seq),
            created_at: base.closed_at,
            era_id: base.ctx.era_id.clone(),
            version_label: base.ctx.version_label.clone(),
            entry_type: facts.entry_type.to_string(),
            contract_code_hash: facts.contract_code_hash,
            ttl_target_key_hash: target,
        });
    }
    Ok(out)
}

/// A TTL key's facts: key type `Ttl`, with the contract id and durability
/// of the entry it governs when that entry changed in the same ledger.
fn ttl_facts(index: &KeyIndex, target: &[u8; 32]) -> KeyFacts {
    let mut facts = key_facts(KeyRef::Ttl(&stellar_xdr::Hash(*target)));
    if let Some(t) = index.get(target) {
        facts.contract_id = t.contract_id.clone();
        facts.durability = t.durability;
        facts.contract_code_hash = t.contract_code_hash.clone();
    }
    facts
}

/// Restored contract data and code keys: every `LEDGER_ENTRY_RESTORED`
/// change (protocol 23+: `RestoreFootprint` and automatic restores by
/// `InvokeHostFunction`), and the read-write footprint keys whose expired
/// TTL a successful `RestoreFootprint` bumped (how protocols 20-22 report a
/// restore: STATE/UPDATED of the TTL; `restored_from_ledger` is then the
/// TTL's old live-until ledger, the last ledger the entry was live).
pub fn restored_rows(
    view: &LedgerView<'_>,
    changes: &[EntryChange<'_>],
    base: &Base<'_>,
) -> Result<Vec<RestoredKeyRow>, String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let err = |e: stellar_xdr::Error| e.to_string();
    for c in changes.iter().filter(|c| c.kind == ChangeKind::Restored) {
        let Some(k @ (KeyRef::Data { .. } | KeyRef::Code(_))) = key_ref(c) else { continue };
        let hash = key_hash(k).map_err(err)?;
        if seen.insert(hash) {
            out.push(restored_row(view, c, k, hash, None, base));
        }
    }
    {
        for (tx, ttl_change) in ttl_restores(view, changes) {
            let Some(soroban) = view.txs[tx].inner().soroban_data() else { continue };
            let (Some(LedgerEntryData::Ttl(pre)), Some(LedgerEntryData::Ttl(post))) =
                (ttl_change.pre.map(|e| &e.data), ttl_change.post.map(|e| &e.data))
            else {
                continue;
            };
            if pre.live_until_ledger_seq >= base.seq || post.live_until_ledger_seq < base.seq {
                continue;
            }
            for lk in soroban.resources.footprint.read_write.iter() {
                let Some(k) = ledger_key_ref(lk) else { continue };
                let hash = key_hash(k).map_err(err)?;
                if hash == pre.key_hash.0 && seen.insert(hash) {
                    out.push(restored_row(view, ttl_change, k, hash, Some(i64::from(pre.live_until_ledger_seq)), base));
                }
            }
        }
    }
    Ok(out)
}

/// TTL updates made by successful `RestoreFootprint` operations: (tx index, change).
fn ttl_restores<'a, 'c>(
    view: &LedgerView<'a>,
    changes: &'c [EntryChange<'a>],
) -> impl Iterator<Item = (usize, &'c EntryChange<'a>)> {
    changes.iter().filter_map(move |c| {
        let (Some(tx), ChangeOrigin::Operation(op), ChangeKind::Updated) = (c.tx, c.origin, c.kind) else {
            return None;
        };
        let t = view.txs.get(tx)?;
        let body = &t.operations().get(op as usize)?.body;
        (t.successful() && matches!(body, OperationBody::RestoreFootprint(_))).then_some((tx, c))
    })
}

fn restored_row(
    view: &LedgerView<'_>,
    c: &EntryChange<'_>,
    k: KeyRef<'_>,
    hash: [u8; 32],
    from: Option<i64>,
    base: &Base<'_>,
) -> RestoredKeyRow {
    let facts = key_facts(k);
    let op = match (c.tx, c.origin) {
        (Some(tx), ChangeOrigin::Operation(i)) => view.txs.get(tx).map(|t| (t, i)),
        _ => None,
    };
    let op_type = op.and_then(|(t, i)| match t.operations().get(i as usize).map(|o| &o.body) {
        Some(OperationBody::RestoreFootprint(_)) => Some("restore_footprint"),
        Some(OperationBody::InvokeHostFunction(_)) => Some("invoke_host_function"),
        Some(OperationBody::ExtendFootprintTtl(_)) => Some("extend_footprint_ttl"),
        _ => None,
    });
    RestoredKeyRow {
        key_hash: hex::encode(hash),
        ledger_sequence: i64::from(base.seq),
        contract_id: facts.contract_id,
        key_type: facts.key_type,
        durability: facts.durability.unwrap_or_default().to_string(),
        restored_from_ledger: from,
        closed_at: base.closed_at,
        ledger_range: encode::ledger_range(base.seq),
        created_at: base.closed_at,
        era_id: base.ctx.era_id.clone(),
        version_label: base.ctx.version_label.clone(),
        entry_type: facts.entry_type.to_string(),
        contract_code_hash: facts.contract_code_hash,
        operation_id: op.map(|(t, i)| encode::toid(base.seq, t.order, i + 1)),
        restore_op_type: op_type.map(str::to_string),
    }
}
