//! Every ledger-entry change of a ledger, in the order the ledger applied
//! them: fee processing of all transactions, then each transaction's meta
//! (before, per operation, after), then post-apply fee refunds (LCM V2),
//! then ledger upgrades, then evictions.
//!
//! The snapshot tables fold this one list (last change per key wins), so no
//! table walks the transaction meta on its own.

use std::collections::HashMap;
use std::hash::Hash;

use stellar_xdr::{LedgerCloseMeta, LedgerEntry, LedgerEntryChange, LedgerEntryChanges, LedgerKey, TransactionMeta};

use super::view::LedgerView;

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOrigin {
    /// Fee charged before any transaction ran.
    FeeProcessing,
    /// Transaction-level changes before the operations (sequence number, signers).
    TxBefore,
    /// Changes made by the operation at this 0-based index.
    Operation(u32),
    /// Transaction-level changes after the operations (Soroban refunds in meta v3).
    TxAfter,
    /// Protocol 23+ fee refunds applied after all transactions.
    PostApplyFee,
    /// The ledger upgrade at this 0-based index of `upgrades_processing`.
    Upgrade(u32),
    /// Removed from live state by the eviction scan.
    Eviction,
}

/// What happened to the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Removed,
    /// Brought back from the archive (explicit or protocol 23+ automatic restore).
    Restored,
    /// Evicted: a temporary entry is gone, a persistent one is archived.
    Evicted,
}

impl ChangeKind {
    /// `LedgerEntryChangeType` number (created 0, updated 1, removed 2,
    /// restored 4); evictions count as removals.
    pub fn xdr_type(self) -> i32 {
        match self {
            ChangeKind::Created => 0,
            ChangeKind::Updated => 1,
            ChangeKind::Removed | ChangeKind::Evicted => 2,
            ChangeKind::Restored => 4,
        }
    }

    /// The entry no longer exists in live state after this change.
    pub fn is_removal(self) -> bool {
        matches!(self, ChangeKind::Removed | ChangeKind::Evicted)
    }
}

/// One change to one ledger entry.
#[derive(Debug, Clone, Copy)]
pub struct EntryChange<'a> {
    /// Index into `LedgerView::txs`, for changes made by a transaction.
    pub tx: Option<usize>,
    pub origin: ChangeOrigin,
    pub kind: ChangeKind,
    /// The entry before the change, when the meta carries it (a `STATE`
    /// entry before `UPDATED`/`REMOVED`).
    pub pre: Option<&'a LedgerEntry>,
    /// The entry after the change; `None` for removals and evictions.
    pub post: Option<&'a LedgerEntry>,
    /// The key, for removals and evictions (which carry no entry).
    pub removed_key: Option<&'a LedgerKey>,
}

impl<'a> EntryChange<'a> {
    /// The entry's latest known contents: after the change, else before it.
    pub fn entry(&self) -> Option<&'a LedgerEntry> {
        self.post.or(self.pre)
    }
}

/// All changes of the ledger in application order.
pub fn ledger_changes<'a>(view: &LedgerView<'a>) -> Vec<EntryChange<'a>> {
    let mut out = Vec::new();
    for (i, tx) in view.txs.iter().enumerate() {
        push_changes(&mut out, tx.fee_processing, Some(i), ChangeOrigin::FeeProcessing);
    }
    for (i, tx) in view.txs.iter().enumerate() {
        push_meta(&mut out, tx.meta, i);
    }
    for (i, tx) in view.txs.iter().enumerate() {
        if let Some(post) = tx.post_apply_fee_processing {
            push_changes(&mut out, post, Some(i), ChangeOrigin::PostApplyFee);
        }
    }
    let (upgrades, evicted) = match view.lcm {
        LedgerCloseMeta::V0(m) => (&m.upgrades_processing[..], &[][..]),
        LedgerCloseMeta::V1(m) => (&m.upgrades_processing[..], &m.evicted_keys[..]),
        LedgerCloseMeta::V2(m) => (&m.upgrades_processing[..], &m.evicted_keys[..]),
    };
    for (u, upgrade) in upgrades.iter().enumerate() {
        push_changes(&mut out, &upgrade.changes, None, ChangeOrigin::Upgrade(u as u32));
    }
    for key in evicted {
        out.push(EntryChange {
            tx: None,
            origin: ChangeOrigin::Eviction,
            kind: ChangeKind::Evicted,
            pre: None,
            post: None,
            removed_key: Some(key),
        });
    }
    out
}

/// The changes in one transaction's meta, for every meta version.
fn push_meta<'a>(out: &mut Vec<EntryChange<'a>>, meta: &'a TransactionMeta, tx: usize) {
    let (before, ops, after): (Option<&LedgerEntryChanges>, Vec<&LedgerEntryChanges>, Option<&LedgerEntryChanges>) =
        match meta {
            TransactionMeta::V0(ops) => (None, ops.iter().map(|o| &o.changes).collect(), None),
            TransactionMeta::V1(m) => (Some(&m.tx_changes), m.operations.iter().map(|o| &o.changes).collect(), None),
            TransactionMeta::V2(m) => (
                Some(&m.tx_changes_before),
                m.operations.iter().map(|o| &o.changes).collect(),
                Some(&m.tx_changes_after),
            ),
            TransactionMeta::V3(m) => (
                Some(&m.tx_changes_before),
                m.operations.iter().map(|o| &o.changes).collect(),
                Some(&m.tx_changes_after),
            ),
            TransactionMeta::V4(m) => (
                Some(&m.tx_changes_before),
                m.operations.iter().map(|o| &o.changes).collect(),
                Some(&m.tx_changes_after),
            ),
        };
    if let Some(before) = before {
        push_changes(out, before, Some(tx), ChangeOrigin::TxBefore);
    }
    for (i, changes) in ops.into_iter().enumerate() {
        push_changes(out, changes, Some(tx), ChangeOrigin::Operation(i as u32));
    }
    if let Some(after) = after {
        push_changes(out, after, Some(tx), ChangeOrigin::TxAfter);
    }
}

/// Pairs each `STATE` entry with the change that follows it.
fn push_changes<'a>(
    out: &mut Vec<EntryChange<'a>>,
    changes: &'a LedgerEntryChanges,
    tx: Option<usize>,
    origin: ChangeOrigin,
) {
    let mut state: Option<&'a LedgerEntry> = None;
    for change in changes.iter() {
        let (kind, post, removed_key) = match change {
            LedgerEntryChange::State(e) => {
                state = Some(e);
                continue;
            }
            LedgerEntryChange::Created(e) => (ChangeKind::Created, Some(e), None),
            LedgerEntryChange::Updated(e) => (ChangeKind::Updated, Some(e), None),
            LedgerEntryChange::Restored(e) => (ChangeKind::Restored, Some(e), None),
            LedgerEntryChange::Removed(k) => (ChangeKind::Removed, None, Some(k)),
        };
        let pre = match kind {
            ChangeKind::Updated | ChangeKind::Removed => state.take(),
            _ => None,
        };
        out.push(EntryChange { tx, origin, kind, pre, post, removed_key });
    }
}

/// For each key, its first and last change in the ledger, in order of first
/// appearance (so output order is deterministic).
pub struct Folded<'a, K> {
    pub key: K,
    pub first: EntryChange<'a>,
    pub last: EntryChange<'a>,
}

/// Groups changes by a key and keeps the first and last change of each;
/// changes for which `key_of` returns `None` are skipped.
pub fn fold_by_key<'a, K: Hash + Eq + Clone>(
    changes: &[EntryChange<'a>],
    mut key_of: impl FnMut(&EntryChange<'a>) -> Option<K>,
) -> Vec<Folded<'a, K>> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<Folded<'a, K>> = Vec::new();
    for c in changes {
        let Some(k) = key_of(c) else { continue };
        match index.get(&k) {
            Some(&i) => out[i].last = *c,
            None => {
                index.insert(k.clone(), out.len());
                out.push(Folded { key: k, first: *c, last: *c });
            }
        }
    }
    out
}
