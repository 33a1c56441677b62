//! Classic snapshot tables: native balances, accounts, signers, trustlines,
//! offers, claimable balances, liquidity pools.
//!
//! One fold of the ledger's change list (fee processing, transaction meta,
//! post-apply refunds, upgrades) by ledger key gives, per classic entry that
//! changed, its state at the end of the ledger. An entry whose last change
//! removed it gets a row with `deleted = true` carrying its last state before
//! removal; that includes entries created and removed within the same ledger,
//! so every entity that existed at some point is recorded.

mod accounts;
mod claimants;
mod entries;

use crate::model::Timestamp;
use stellar_xdr::{LedgerEntry, LedgerEntryData, LedgerEntryExt, LedgerEntryType, LedgerKey};

use super::changes::{ChangeKind, EntryChange, fold_by_key};
use super::encode::{account_id, ledger_range};
use super::view::LedgerView;
use super::{ExtractContext, ExtractError};
use crate::tables::LedgerTables;

/// Values every row of the ledger shares.
struct Ledger<'c> {
    seq: u32,
    closed_at: Timestamp,
    ledger_range: i64,
    ctx: &'c ExtractContext,
}

impl Ledger<'_> {
    fn seq(&self) -> i64 {
        i64::from(self.seq)
    }
    fn era_id(&self) -> Option<String> {
        self.ctx.era_id.clone()
    }
    fn version_label(&self) -> Option<String> {
        self.ctx.version_label.clone()
    }
}

/// One classic entry that changed in the ledger.
struct Snapshot<'a> {
    /// State at the end of the ledger, or the last state before removal.
    entry: &'a LedgerEntry,
    deleted: bool,
    /// State at the start of the ledger (`None` when the ledger created it).
    initial: Option<&'a LedgerEntry>,
}

/// Appends this module's rows for one ledger to `out`.
pub fn rows(
    view: &LedgerView<'_>,
    changes: &[EntryChange<'_>],
    ctx: &ExtractContext,
    closed_at: Timestamp,
    out: &mut LedgerTables,
) -> Result<(), ExtractError> {
    let seq = view.seq();
    let ledger = Ledger { seq, closed_at, ledger_range: ledger_range(seq), ctx };
    for snap in snapshots(changes) {
        match &snap.entry.data {
            LedgerEntryData::Account(_) => accounts::rows(&ledger, &snap, out),
            LedgerEntryData::Trustline(_) => entries::trustline(&ledger, &snap, out),
            LedgerEntryData::Offer(_) => entries::offer(&ledger, &snap, out)?,
            LedgerEntryData::ClaimableBalance(_) => entries::claimable_balance(&ledger, &snap, out),
            LedgerEntryData::LiquidityPool(_) => entries::liquidity_pool(&ledger, &snap, out),
            _ => {}
        }
    }
    Ok(())
}

/// The classic entry types these tables cover.
fn is_classic(t: LedgerEntryType) -> bool {
    matches!(
        t,
        LedgerEntryType::Account
            | LedgerEntryType::Trustline
            | LedgerEntryType::Offer
            | LedgerEntryType::ClaimableBalance
            | LedgerEntryType::LiquidityPool
    )
}

/// Key of the classic entry a change touches. The type is checked before
/// the key is built: a Soroban entry's key would clone its `ScVal` only to
/// be dropped.
fn change_key(c: &EntryChange<'_>) -> Option<LedgerKey> {
    match (c.entry(), c.removed_key) {
        (Some(e), _) => is_classic(e.data.discriminant()).then(|| e.to_key()),
        (None, Some(k)) => is_classic(k.discriminant()).then(|| k.clone()),
        (None, None) => None,
    }
}

/// The final state of each classic entry that changed, in order of first change.
///
/// A removal whose meta lacks the `STATE` entry (never seen in practice) falls
/// back to the first state the ledger showed; with no state at all the entry
/// cannot be described and gets no row.
fn snapshots<'a>(changes: &[EntryChange<'a>]) -> Vec<Snapshot<'a>> {
    fold_by_key(changes, change_key)
        .into_iter()
        .filter_map(|f| {
            let initial = match f.first.kind {
                ChangeKind::Updated | ChangeKind::Removed => f.first.pre,
                _ => None,
            };
            let deleted = f.last.kind.is_removal();
            let entry = if deleted { f.last.pre.or(f.first.entry()) } else { f.last.post };
            entry.map(|entry| Snapshot { entry, deleted, initial })
        })
        .collect()
}

/// The entry's sponsor (`LedgerEntry.ext.v1.sponsoringID`), NULL when none.
fn sponsor(entry: &LedgerEntry) -> Option<String> {
    match &entry.ext {
        LedgerEntryExt::V0 => None,
        LedgerEntryExt::V1(v1) => v1.sponsoring_id.0.as_ref().map(account_id),
    }
}

#[cfg(test)]
mod tests {
    use stellar_xdr::{
        AccountEntry, AccountId, LedgerEntry, LedgerEntryData, LedgerEntryExt, PublicKey, Signer, SignerKey, Uint256,
    };

    use super::*;
    use crate::extract::changes::ChangeOrigin;

    fn account(key: u8, balance: i64, signers: &[u8]) -> LedgerEntry {
        let signers: Vec<Signer> =
            signers.iter().map(|s| Signer { key: SignerKey::Ed25519(Uint256([*s; 32])), weight: 1 }).collect();
        LedgerEntry {
            last_modified_ledger_seq: 5,
            data: LedgerEntryData::Account(AccountEntry {
                account_id: AccountId(PublicKey::PublicKeyTypeEd25519(Uint256([key; 32]))),
                balance,
                signers: signers.try_into().unwrap(),
                ..Default::default()
            }),
            ext: LedgerEntryExt::V0,
        }
    }

    fn change<'a>(
        kind: ChangeKind,
        pre: Option<&'a LedgerEntry>,
        post: Option<&'a LedgerEntry>,
        key: Option<&'a LedgerKey>,
    ) -> EntryChange<'a> {
        EntryChange { tx: Some(0), origin: ChangeOrigin::Operation(0), kind, pre, post, removed_key: key }
    }

    fn tables(changes: &[EntryChange<'_>]) -> LedgerTables {
        let ctx = ExtractContext::new("test");
        let ledger = Ledger { seq: 7, closed_at: Timestamp(0), ledger_range: 0, ctx: &ctx };
        let mut out = LedgerTables::default();
        for snap in snapshots(changes) {
            accounts::rows(&ledger, &snap, &mut out);
        }
        out
    }

    #[test]
    fn created_and_removed_in_one_ledger_is_a_deletion_with_the_last_state() {
        let (created, updated) = (account(1, 100, &[]), account(1, 70, &[]));
        let key = created.to_key();
        let out = tables(&[
            change(ChangeKind::Created, None, Some(&created), None),
            change(ChangeKind::Updated, Some(&created), Some(&updated), None),
            change(ChangeKind::Removed, Some(&updated), None, Some(&key)),
        ]);
        assert_eq!(out.native_balances.len(), 1);
        assert!(out.native_balances[0].deleted);
        assert_eq!(out.native_balances[0].balance, 70);
        assert_eq!(out.accounts[0].balance, "0.0000070");
    }

    #[test]
    fn removed_signers_are_recorded() {
        let (before, after) = (account(1, 100, &[2, 3]), account(1, 90, &[3, 4]));
        let out = tables(&[change(ChangeKind::Updated, Some(&before), Some(&after), None)]);
        let rows: Vec<(String, bool)> = out.account_signers.iter().map(|r| (r.signer.clone(), r.deleted)).collect();
        let g = |b: u8| crate::extract::encode::g_address(&[b; 32]);
        assert_eq!(rows, vec![(g(3), false), (g(4), false), (g(2), true)]);
        assert_eq!(
            out.accounts[0].signers.as_deref(),
            Some(
                format!(
                    r#"[{{"key":"{}","sponsor":null,"weight":1}},{{"key":"{}","sponsor":null,"weight":1}}]"#,
                    g(3),
                    g(4)
                )
                .as_str()
            )
        );
        // A merged account deletes every signer it had.
        let key = after.to_key();
        let out = tables(&[change(ChangeKind::Removed, Some(&after), None, Some(&key))]);
        assert!(out.account_signers.iter().all(|r| r.deleted) && out.account_signers.len() == 2);
    }
}
