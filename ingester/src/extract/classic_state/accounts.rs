//! `native_balances_snapshot_v1`, `accounts_snapshot_v1` and
//! `account_signers_snapshot_v1`: three views of one account entry.

use crate::model::Timestamp;
use stellar_xdr::{
    AccountEntry, AccountEntryExt, AccountEntryExtensionV1Ext, AccountEntryExtensionV2, AccountEntryExtensionV2Ext,
    LedgerEntry, LedgerEntryData, Liabilities, SignerKey,
};

use super::{Ledger, Snapshot, sponsor};
use crate::extract::encode::{account_id, amount_decimal};
use crate::tables::{AccountRow, AccountSignerRow, LedgerTables, NativeBalanceRow};

/// Account flags (`AccountFlags` in the XDR).
const AUTH_REQUIRED: u32 = 1;
const AUTH_REVOCABLE: u32 = 2;
const AUTH_IMMUTABLE: u32 = 4;
const AUTH_CLAWBACK_ENABLED: u32 = 8;

/// Rows of all three account tables for one changed account.
pub(super) fn rows(ledger: &Ledger<'_>, snap: &Snapshot<'_>, out: &mut LedgerTables) {
    let LedgerEntryData::Account(a) = &snap.entry.data else { return };
    out.native_balances.push(native_balance(ledger, snap.entry, a, snap.deleted));
    out.accounts.push(account(ledger, snap.entry, a, snap.deleted));
    let initial = snap.initial.and_then(|e| match &e.data {
        LedgerEntryData::Account(a) => Some(a),
        _ => None,
    });
    signer_rows(ledger, initial, a, snap.deleted, &mut out.account_signers);
}

/// Buying and selling liabilities (account extension v1, else zero).
fn liabilities(a: &AccountEntry) -> Liabilities {
    match &a.ext {
        AccountEntryExt::V0 => Liabilities { buying: 0, selling: 0 },
        AccountEntryExt::V1(v1) => v1.liabilities.clone(),
    }
}

/// Account extension v2 (sponsorship counters and signer sponsors), protocol 14+.
fn ext_v2(a: &AccountEntry) -> Option<&AccountEntryExtensionV2> {
    match &a.ext {
        AccountEntryExt::V1(v1) => match &v1.ext {
            AccountEntryExtensionV1Ext::V2(v2) => Some(v2),
            AccountEntryExtensionV1Ext::V0 => None,
        },
        AccountEntryExt::V0 => None,
    }
}

/// `(num_sponsoring, num_sponsored)`, zero without extension v2.
fn sponsorship_counts(a: &AccountEntry) -> (i32, i32) {
    ext_v2(a).map_or((0, 0), |v2| (v2.num_sponsoring as i32, v2.num_sponsored as i32))
}

/// Sequence-number ledger and time (extension v3), else NULL.
fn sequence_bump(a: &AccountEntry) -> (Option<i64>, Option<Timestamp>) {
    match ext_v2(a).map(|v2| &v2.ext) {
        Some(AccountEntryExtensionV2Ext::V3(v3)) => {
            (Some(i64::from(v3.seq_ledger)), Some(Timestamp::from_unix_seconds(v3.seq_time.0)))
        }
        _ => (None, None),
    }
}

fn native_balance(ledger: &Ledger<'_>, entry: &LedgerEntry, a: &AccountEntry, deleted: bool) -> NativeBalanceRow {
    let liab = liabilities(a);
    let (num_sponsoring, num_sponsored) = sponsorship_counts(a);
    NativeBalanceRow {
        account_id: account_id(&a.account_id),
        balance: a.balance,
        buying_liabilities: liab.buying,
        selling_liabilities: liab.selling,
        num_subentries: a.num_sub_entries as i32,
        num_sponsoring,
        num_sponsored,
        sequence_number: Some(a.seq_num.0),
        last_modified_ledger: i64::from(entry.last_modified_ledger_seq),
        ledger_sequence: ledger.seq(),
        ledger_range: Some(ledger.ledger_range),
        era_id: ledger.era_id(),
        version_label: ledger.version_label(),
        deleted,
        closed_at: ledger.closed_at,
    }
}

fn account(ledger: &Ledger<'_>, entry: &LedgerEntry, a: &AccountEntry, deleted: bool) -> AccountRow {
    let liab = liabilities(a);
    let (num_sponsoring, num_sponsored) = sponsorship_counts(a);
    let (sequence_ledger, sequence_time) = sequence_bump(a);
    let home_domain = String::from_utf8_lossy(a.home_domain.0.as_slice()).into_owned();
    let [master, low, med, high] = a.thresholds.0;
    AccountRow {
        account_id: account_id(&a.account_id),
        ledger_sequence: ledger.seq(),
        closed_at: ledger.closed_at,
        balance: amount_decimal(a.balance),
        sequence_number: a.seq_num.0,
        num_subentries: a.num_sub_entries as i32,
        num_sponsoring,
        num_sponsored,
        home_domain: (!home_domain.is_empty()).then_some(home_domain),
        master_weight: i32::from(master),
        low_threshold: i32::from(low),
        med_threshold: i32::from(med),
        high_threshold: i32::from(high),
        flags: a.flags as i32,
        auth_required: a.flags & AUTH_REQUIRED != 0,
        auth_revocable: a.flags & AUTH_REVOCABLE != 0,
        auth_immutable: a.flags & AUTH_IMMUTABLE != 0,
        auth_clawback_enabled: a.flags & AUTH_CLAWBACK_ENABLED != 0,
        signers: signers_json(a),
        sponsor_account: sponsor(entry),
        created_at: ledger.closed_at,
        updated_at: ledger.closed_at,
        ledger_range: ledger.ledger_range,
        era_id: ledger.era_id(),
        version_label: ledger.version_label(),
        deleted,
        last_modified_ledger: i64::from(entry.last_modified_ledger_seq),
        buying_liabilities: amount_decimal(liab.buying),
        selling_liabilities: amount_decimal(liab.selling),
        inflation_destination: a.inflation_dest.as_ref().map(account_id),
        sequence_ledger,
        sequence_time,
    }
}

/// One signer (other than the master key) as the tables show it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignerView {
    key: String,
    weight: u32,
    sponsor: Option<String>,
}

/// Strkey of a signer key: `G` (ed25519), `T` (pre-auth tx), `X` (hash-x), `P` (signed payload).
fn signer_key(k: &SignerKey) -> String {
    k.to_string()
}

/// The account's extra signers with their sponsors (`signerSponsoringIDs`
/// runs parallel to `signers`).
fn signers(a: &AccountEntry) -> Vec<SignerView> {
    let sponsors = ext_v2(a).map(|v2| &v2.signer_sponsoring_i_ds[..]).unwrap_or(&[]);
    a.signers
        .iter()
        .enumerate()
        .map(|(i, s)| SignerView {
            key: signer_key(&s.key),
            weight: s.weight,
            sponsor: sponsors.get(i).and_then(|d| d.0.as_ref()).map(account_id),
        })
        .collect()
}

/// `[{"key":"G...","weight":N,"sponsor":"G..."|null}]`, NULL without extra signers.
fn signers_json(a: &AccountEntry) -> Option<String> {
    let list = signers(a);
    if list.is_empty() {
        return None;
    }
    let items: Vec<serde_json::Value> = list
        .into_iter()
        .map(|s| serde_json::json!({ "key": s.key, "weight": s.weight, "sponsor": s.sponsor }))
        .collect();
    Some(serde_json::Value::Array(items).to_string())
}

/// One row per signer of the account's final state, plus a `deleted` row for
/// each signer the account had at the start of the ledger but no longer has
/// (all of them when the account itself was removed). The master key is not
/// a signer row: its weight is `accounts_snapshot_v1.master_weight`.
fn signer_rows(
    ledger: &Ledger<'_>,
    initial: Option<&AccountEntry>,
    last: &AccountEntry,
    account_deleted: bool,
    out: &mut Vec<AccountSignerRow>,
) {
    let account = account_id(&last.account_id);
    let last_signers = signers(last);
    let mut removed: Vec<SignerView> = Vec::new();
    let mut kept: Vec<SignerView> = Vec::new();
    if account_deleted {
        removed.extend(last_signers.iter().cloned());
    } else {
        kept = last_signers.clone();
    }
    for s in initial.map(signers).unwrap_or_default() {
        if !last_signers.iter().any(|l| l.key == s.key) {
            removed.push(s);
        }
    }
    let make = |s: SignerView, deleted: bool| AccountSignerRow {
        account_id: account.clone(),
        signer: s.key,
        ledger_sequence: ledger.seq(),
        weight: s.weight as i32,
        sponsor: s.sponsor,
        deleted,
        closed_at: ledger.closed_at,
        ledger_range: ledger.ledger_range,
        created_at: ledger.closed_at,
        era_id: ledger.era_id(),
        version_label: ledger.version_label(),
    };
    out.extend(kept.into_iter().map(|s| make(s, false)));
    out.extend(removed.into_iter().map(|s| make(s, true)));
}
