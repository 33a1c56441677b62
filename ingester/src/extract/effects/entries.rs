//! Effects read from ledger-entry changes: sponsorship (entries and signers)
//! and liquidity pools created/removed, plus the lookups the operation
//! effects share (first change of a type in ledger-key order, pool deltas).

use std::collections::BTreeMap;

use serde_json::json;
use stellar_xdr::{
    AccountEntry, AccountEntryExt, AccountEntryExtensionV1Ext, AccountId, LedgerEntry, LedgerEntryData, LedgerEntryExt,
    Limits, LiquidityPoolEntry, LiquidityPoolEntryBody, PoolId, TrustLineAsset, WriteXdr,
};

use super::super::changes::EntryChange;
use super::super::encode::{account_id, claimable_balance_id, hash_hex, trust_line_asset};
use super::details::{self, Details};
use super::{Effect, Kind, OpInput};

/// The operation's changes in the Go SDK's order: sorted by the XDR of the
/// ledger key, stable. Only computed when the order can matter.
pub fn key_ordered<'a>(changes: &[&'a EntryChange<'a>]) -> Vec<&'a EntryChange<'a>> {
    let mut out = changes.to_vec();
    if out.len() > 1 {
        out.sort_by_cached_key(|c| c.entry().map(|e| e.to_key().to_xdr(Limits::none()).unwrap_or_default()));
    }
    out
}

/// The first change (in ledger-key order) whose entry satisfies `pred`.
pub fn first_by_key<'a>(
    changes: &[&'a EntryChange<'a>],
    pred: impl Fn(&EntryChange<'a>) -> bool,
) -> Option<&'a EntryChange<'a>> {
    let matching: Vec<&EntryChange<'a>> = changes.iter().copied().filter(|c| pred(c)).collect();
    key_ordered(&matching).into_iter().next()
}

fn sponsor(e: Option<&LedgerEntry>) -> Option<&AccountId> {
    match e.map(|e| &e.ext) {
        Some(LedgerEntryExt::V1(v1)) => v1.sponsoring_id.0.as_ref(),
        _ => None,
    }
}

/// Sponsorship created/updated/removed effects of one change (entry first,
/// then its signers), as Horizon derives them from the entry's sponsor.
pub fn sponsorship_effects(input: &OpInput<'_>, c: &EntryChange<'_>, out: &mut Vec<Effect>) {
    let Some(entry) = c.entry() else { return };
    let kinds = match &entry.data {
        LedgerEntryData::Account(_) => {
            [Kind::AccountSponsorshipCreated, Kind::AccountSponsorshipUpdated, Kind::AccountSponsorshipRemoved]
        }
        LedgerEntryData::Trustline(_) => {
            [Kind::TrustlineSponsorshipCreated, Kind::TrustlineSponsorshipUpdated, Kind::TrustlineSponsorshipRemoved]
        }
        LedgerEntryData::Data(_) => {
            [Kind::DataSponsorshipCreated, Kind::DataSponsorshipUpdated, Kind::DataSponsorshipRemoved]
        }
        LedgerEntryData::ClaimableBalance(_) => [
            Kind::ClaimableBalanceSponsorshipCreated,
            Kind::ClaimableBalanceSponsorshipUpdated,
            Kind::ClaimableBalanceSponsorshipRemoved,
        ],
        _ => return,
    };
    let mut d = Details::new();
    let kind = match (sponsor(c.pre), sponsor(c.post)) {
        (None, Some(new)) => {
            d.insert("sponsor".into(), account_id(new).into());
            kinds[0]
        }
        (Some(old), None) => {
            d.insert("former_sponsor".into(), account_id(old).into());
            kinds[2]
        }
        (Some(old), Some(new)) if old != new => {
            d.insert("former_sponsor".into(), account_id(old).into());
            d.insert("new_sponsor".into(), account_id(new).into());
            kinds[1]
        }
        _ => Kind::AccountCreated, // no sponsorship change: marker, not emitted
    };
    if kind != Kind::AccountCreated {
        out.push(match &entry.data {
            LedgerEntryData::Account(a) => Effect::account(&a.account_id, kind, d),
            LedgerEntryData::Trustline(tl) => {
                match &tl.asset {
                    TrustLineAsset::PoolShare(id) => {
                        d.insert("asset_type".into(), "liquidity_pool".into());
                        d.insert("liquidity_pool_id".into(), hash_hex(&id.0).into());
                    }
                    a => {
                        let cols = trust_line_asset(a);
                        let canonical = match (cols.code, cols.issuer) {
                            (Some(code), Some(issuer)) => format!("{code}:{issuer}"),
                            _ => "native".into(),
                        };
                        d.insert("asset".into(), canonical.into());
                    }
                }
                Effect::account(&tl.account_id, kind, d)
            }
            LedgerEntryData::Data(data) => {
                d.insert("data_name".into(), String::from_utf8_lossy(&data.data_name.0).into_owned().into());
                Effect::muxed(&input.source, kind, d)
            }
            LedgerEntryData::ClaimableBalance(cb) => {
                d.insert("balance_id".into(), claimable_balance_id(&cb.balance_id).into());
                Effect::muxed(&input.source, kind, d)
            }
            _ => return,
        });
    }
    if let LedgerEntryData::Account(_) = &entry.data {
        signer_sponsorship_effects(c, out);
    }
}

pub fn account(e: Option<&LedgerEntry>) -> Option<&AccountEntry> {
    match e.map(|e| &e.data) {
        Some(LedgerEntryData::Account(a)) => Some(a),
        _ => None,
    }
}

/// Sponsor of each sponsored signer of an account, keyed by signer strkey
/// (sorted, like Horizon's sorted key list).
fn signer_sponsors(a: Option<&AccountEntry>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(a) = a else { return out };
    let AccountEntryExt::V1(v1) = &a.ext else { return out };
    let AccountEntryExtensionV1Ext::V2(v2) = &v1.ext else { return out };
    for (signer, sponsor) in a.signers.iter().zip(v2.signer_sponsoring_i_ds.iter()) {
        if let Some(s) = &sponsor.0 {
            out.insert(signer.key.to_string(), account_id(s));
        }
    }
    out
}

fn signer_sponsorship_effects(c: &EntryChange<'_>, out: &mut Vec<Effect>) {
    let pre = signer_sponsors(account(c.pre));
    let post = signer_sponsors(account(c.post));
    if pre.is_empty() && post.is_empty() {
        return;
    }
    let mut all: Vec<&String> = pre.keys().chain(post.keys()).collect();
    all.sort();
    all.dedup();
    for signer in all {
        let mut d = Details::new();
        d.insert("signer".into(), signer.clone().into());
        let (kind, holder) = match (pre.get(signer), post.get(signer)) {
            (None, Some(new)) => {
                d.insert("sponsor".into(), new.clone().into());
                (Kind::SignerSponsorshipCreated, account(c.post))
            }
            (Some(old), None) => {
                d.insert("former_sponsor".into(), old.clone().into());
                (Kind::SignerSponsorshipRemoved, account(c.pre))
            }
            (Some(old), Some(new)) if old != new => {
                d.insert("former_sponsor".into(), old.clone().into());
                d.insert("new_sponsor".into(), new.clone().into());
                (Kind::SignerSponsorshipUpdated, account(c.post))
            }
            _ => continue,
        };
        if let Some(a) = holder {
            out.push(Effect::account(&a.account_id, kind, d));
        }
    }
}

fn pool_entry(e: Option<&LedgerEntry>) -> Option<&LiquidityPoolEntry> {
    match e.map(|e| &e.data) {
        Some(LedgerEntryData::LiquidityPool(lp)) => Some(lp),
        _ => None,
    }
}

/// `liquidity_pool_created` / `liquidity_pool_removed` for a pool entry
/// that appeared or disappeared in this operation.
pub fn pool_entry_effects(input: &OpInput<'_>, c: &EntryChange<'_>, out: &mut Vec<Effect>) {
    match (pool_entry(c.pre), pool_entry(c.post)) {
        (None, Some(lp)) if c.pre.is_none() => {
            let mut d = Details::new();
            d.insert("liquidity_pool".into(), details::pool(lp));
            out.push(Effect::muxed(&input.source, Kind::LiquidityPoolCreated, d));
        }
        (Some(lp), None) if c.post.is_none() => {
            let mut d = Details::new();
            d.insert("liquidity_pool_id".into(), json!(hash_hex(&lp.liquidity_pool_id.0)));
            out.push(Effect::muxed(&input.source, Kind::LiquidityPoolRemoved, d));
        }
        _ => {}
    }
}

/// Change of a pool's reserves and shares in this operation (post − pre).
pub struct PoolDelta<'a> {
    /// The pool after the operation, or before it when it was removed.
    pub pool: &'a LiquidityPoolEntry,
    pub reserve_a: i64,
    pub reserve_b: i64,
    pub shares: i64,
}

/// The pool `id` (or the first pool in key order when `None`) and how the
/// operation changed it.
pub fn pool_delta<'a>(changes: &[&'a EntryChange<'a>], id: Option<&PoolId>) -> Option<PoolDelta<'a>> {
    let c = first_by_key(changes, |c| {
        pool_entry(c.entry()).is_some_and(|lp| id.is_none_or(|id| &lp.liquidity_pool_id == id))
    })?;
    let nums = |lp: Option<&LiquidityPoolEntry>| {
        lp.map_or((0, 0, 0), |lp| {
            let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &lp.body;
            (cp.reserve_a, cp.reserve_b, cp.total_pool_shares)
        })
    };
    let (pre, post) = (pool_entry(c.pre), pool_entry(c.post));
    let ((a0, b0, s0), (a1, b1, s1)) = (nums(pre), nums(post));
    Some(PoolDelta {
        pool: post.or(pre)?,
        reserve_a: a1.saturating_sub(a0),
        reserve_b: b1.saturating_sub(b0),
        shares: s1.saturating_sub(s0),
    })
}
