//! `trustlines_snapshot_v1`, `offers_snapshot_v1`,
//! `claimable_balances_snapshot_v1` and `liquidity_pools_snapshot_v1`.

use stellar_xdr::{
    ClaimableBalanceEntryExt, LedgerEntryData, LiquidityPoolEntryBody, TrustLineAsset, TrustLineEntry,
    TrustLineEntryExt,
};

use super::claimants::claimants_json;
use super::{Ledger, Snapshot, sponsor};
use crate::extract::ExtractError;
use crate::extract::encode::{
    account_id, amount_decimal, asset, claimable_balance_id, hash_hex, price_decimal, trust_line_asset,
};
use crate::tables::{ClaimableBalanceRow, LedgerTables, LiquidityPoolRow, OfferRow, TrustlineRow};

/// Trustline flags (`TrustLineFlags` in the XDR).
const AUTHORIZED: u32 = 1;
const AUTHORIZED_TO_MAINTAIN_LIABILITIES: u32 = 2;
const CLAWBACK_ENABLED: u32 = 4;

/// `(buying, selling)` liabilities of a trustline (extension v1, else zero).
fn trustline_liabilities(t: &TrustLineEntry) -> (i64, i64) {
    match &t.ext {
        TrustLineEntryExt::V0 => (0, 0),
        TrustLineEntryExt::V1(v1) => (v1.liabilities.buying, v1.liabilities.selling),
    }
}

pub(super) fn trustline(ledger: &Ledger<'_>, snap: &Snapshot<'_>, out: &mut LedgerTables) {
    let LedgerEntryData::Trustline(t) = &snap.entry.data else { return };
    let a = trust_line_asset(&t.asset);
    let liquidity_pool_id = match &t.asset {
        TrustLineAsset::PoolShare(id) => Some(hash_hex(&id.0)),
        _ => None,
    };
    let (buying, selling) = trustline_liabilities(t);
    out.trustlines.push(TrustlineRow {
        account_id: account_id(&t.account_id),
        asset_code: a.code,
        asset_issuer: a.issuer,
        asset_type: a.asset_type,
        balance: amount_decimal(t.balance),
        trust_limit: amount_decimal(t.limit),
        buying_liabilities: amount_decimal(buying),
        selling_liabilities: amount_decimal(selling),
        authorized: t.flags & AUTHORIZED != 0,
        authorized_to_maintain_liabilities: t.flags & AUTHORIZED_TO_MAINTAIN_LIABILITIES != 0,
        clawback_enabled: t.flags & CLAWBACK_ENABLED != 0,
        ledger_sequence: ledger.seq(),
        created_at: ledger.closed_at,
        ledger_range: ledger.ledger_range,
        era_id: ledger.era_id(),
        version_label: ledger.version_label(),
        deleted: snap.deleted,
        last_modified_ledger: i64::from(snap.entry.last_modified_ledger_seq),
        liquidity_pool_id,
        flags: t.flags as i32,
        sponsor: sponsor(snap.entry),
        closed_at: ledger.closed_at,
    });
}

/// An offer; a zero price denominator cannot be in a valid ledger and fails it.
pub(super) fn offer(ledger: &Ledger<'_>, snap: &Snapshot<'_>, out: &mut LedgerTables) -> Result<(), ExtractError> {
    let LedgerEntryData::Offer(o) = &snap.entry.data else { return Ok(()) };
    let price = price_decimal(o.price.n, o.price.d)
        .ok_or_else(|| ExtractError::new(ledger.seq, format!("offer {} has price denominator 0", o.offer_id)))?;
    let (selling, buying) = (asset(&o.selling), asset(&o.buying));
    out.offers.push(OfferRow {
        offer_id: o.offer_id,
        seller_account: account_id(&o.seller_id),
        ledger_sequence: ledger.seq(),
        closed_at: ledger.closed_at,
        selling_asset_type: selling.asset_type,
        selling_asset_code: selling.code,
        selling_asset_issuer: selling.issuer,
        buying_asset_type: buying.asset_type,
        buying_asset_code: buying.code,
        buying_asset_issuer: buying.issuer,
        amount: amount_decimal(o.amount),
        price,
        flags: o.flags as i32,
        created_at: ledger.closed_at,
        ledger_range: ledger.ledger_range,
        era_id: ledger.era_id(),
        version_label: ledger.version_label(),
        deleted: snap.deleted,
        last_modified_ledger: i64::from(snap.entry.last_modified_ledger_seq),
        price_n: o.price.n,
        price_d: o.price.d,
        sponsor: sponsor(snap.entry),
    });
    Ok(())
}

pub(super) fn claimable_balance(ledger: &Ledger<'_>, snap: &Snapshot<'_>, out: &mut LedgerTables) {
    let LedgerEntryData::ClaimableBalance(c) = &snap.entry.data else { return };
    let a = asset(&c.asset);
    let flags = match &c.ext {
        ClaimableBalanceEntryExt::V0 => 0,
        ClaimableBalanceEntryExt::V1(v1) => v1.flags as i32,
    };
    out.claimable_balances.push(ClaimableBalanceRow {
        balance_id: claimable_balance_id(&c.balance_id),
        sponsor: sponsor(snap.entry),
        ledger_sequence: ledger.seq(),
        closed_at: ledger.closed_at,
        asset_type: a.asset_type,
        asset_code: a.code,
        asset_issuer: a.issuer,
        amount: c.amount,
        claimants_count: c.claimants.len() as i32,
        flags,
        created_at: ledger.closed_at,
        ledger_range: ledger.ledger_range,
        era_id: ledger.era_id(),
        version_label: ledger.version_label(),
        deleted: snap.deleted,
        last_modified_ledger: i64::from(snap.entry.last_modified_ledger_seq),
        claimants: claimants_json(&c.claimants),
    });
}

pub(super) fn liquidity_pool(ledger: &Ledger<'_>, snap: &Snapshot<'_>, out: &mut LedgerTables) {
    let LedgerEntryData::LiquidityPool(p) = &snap.entry.data else { return };
    let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &p.body;
    let (a, b) = (asset(&cp.params.asset_a), asset(&cp.params.asset_b));
    out.liquidity_pools.push(LiquidityPoolRow {
        liquidity_pool_id: hash_hex(&p.liquidity_pool_id.0),
        ledger_sequence: ledger.seq(),
        closed_at: ledger.closed_at,
        pool_type: "constant_product".into(),
        fee: cp.params.fee,
        trustline_count: i32::try_from(cp.pool_shares_trust_line_count).unwrap_or(i32::MAX),
        total_pool_shares: cp.total_pool_shares,
        asset_a_type: a.asset_type,
        asset_a_code: a.code,
        asset_a_issuer: a.issuer,
        asset_a_amount: cp.reserve_a,
        asset_b_type: b.asset_type,
        asset_b_code: b.code,
        asset_b_issuer: b.issuer,
        asset_b_amount: cp.reserve_b,
        created_at: ledger.closed_at,
        ledger_range: ledger.ledger_range,
        era_id: ledger.era_id(),
        version_label: ledger.version_label(),
        deleted: snap.deleted,
        last_modified_ledger: i64::from(snap.entry.last_modified_ledger_seq),
    });
}
