//! The type-specific effects of each operation (before the sponsorship and
//! pool-entry effects every operation can have).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Value, json};
use stellar_xdr::{
    AccountEntry, AccountFlags, AccountId, AlphaNum4, AlphaNum12, Asset, AssetCode, ChangeTrustAsset, ClaimAtom,
    ClaimableBalanceEntry, ClaimableBalanceEntryExt, Claimant, LedgerEntryData, ManageBuyOfferResult,
    ManageSellOfferResult, MuxedAccount, OperationBody, OperationResultTr, PathPaymentStrictSendResult, PoolId,
    TrustLineAsset, TrustLineFlags,
};

use super::super::changes::EntryChange;
use super::super::encode::{account_id, amount_decimal, claimable_balance_id, hash_hex, muxed_address, muxed_base};
use super::super::operations::strict_receive_sent;
use super::details::{self, Details, add_asset, amount_and_asset, canonical};
use super::entries::{account, first_by_key, pool_delta};
use super::{Effect, Kind, OpInput, sac};

/// Effects specific to the operation's type.
pub fn type_effects(input: &OpInput<'_>) -> Vec<Effect> {
    let mut out = Vec::new();
    let src = &input.source;
    match &input.op.body {
        OperationBody::CreateAccount(op) => {
            let amount = amount_decimal(op.starting_balance);
            out.push(Effect::account(
                &op.destination,
                Kind::AccountCreated,
                obj(json!({ "starting_balance": amount })),
            ));
            out.push(Effect::muxed(src, Kind::AccountDebited, amount_and_asset(op.starting_balance, &Asset::Native)));
            let signer = obj(json!({ "public_key": account_id(&op.destination), "weight": 1 }));
            out.push(Effect::account(&op.destination, Kind::SignerCreated, signer));
        }
        OperationBody::Payment(op) => {
            let d = amount_and_asset(op.amount, &op.asset);
            out.push(Effect::muxed(&op.destination, Kind::AccountCredited, d.clone()));
            out.push(Effect::muxed(src, Kind::AccountDebited, d));
        }
        OperationBody::PathPaymentStrictReceive(op) => {
            let Some(OperationResultTr::PathPaymentStrictReceive(
                stellar_xdr::PathPaymentStrictReceiveResult::Success(s),
            )) = input.result
            else {
                return out;
            };
            let credited = amount_and_asset(op.dest_amount, &op.dest_asset);
            out.push(Effect::muxed(&op.destination, Kind::AccountCredited, credited));
            let sent = strict_receive_sent(input.raw_result).unwrap_or(0);
            out.push(Effect::muxed(src, Kind::AccountDebited, amount_and_asset(sent, &op.send_asset)));
            trades(input, &s.offers, &mut out);
        }
        OperationBody::PathPaymentStrictSend(op) => {
            let Some(OperationResultTr::PathPaymentStrictSend(PathPaymentStrictSendResult::Success(s))) = input.result
            else {
                return out;
            };
            out.push(Effect::muxed(
                &op.destination,
                Kind::AccountCredited,
                amount_and_asset(s.last.amount, &op.dest_asset),
            ));
            out.push(Effect::muxed(src, Kind::AccountDebited, amount_and_asset(op.send_amount, &op.send_asset)));
            trades(input, &s.offers, &mut out);
        }
        OperationBody::ManageSellOffer(_)
        | OperationBody::ManageBuyOffer(_)
        | OperationBody::CreatePassiveSellOffer(_) => {
            // stellar-core files some passive offers' results under the
            // manage-sell arm; both arms carry the same success body.
            let claimed = match input.result {
                Some(OperationResultTr::ManageSellOffer(ManageSellOfferResult::Success(s)))
                | Some(OperationResultTr::CreatePassiveSellOffer(ManageSellOfferResult::Success(s)))
                | Some(OperationResultTr::ManageBuyOffer(ManageBuyOfferResult::Success(s))) => &s.offers_claimed[..],
                _ => &[],
            };
            trades(input, claimed, &mut out);
        }
        OperationBody::SetOptions(op) => set_options(input, op, &mut out),
        OperationBody::ChangeTrust(op) => change_trust(input, &op.line, op.limit, &mut out),
        OperationBody::AllowTrust(op) => allow_trust(input, op, &mut out),
        OperationBody::AccountMerge(dest) => {
            let Some(OperationResultTr::AccountMerge(stellar_xdr::AccountMergeResult::Success(balance))) = input.result
            else {
                return out;
            };
            let d = amount_and_asset(*balance, &Asset::Native);
            out.push(Effect::muxed(src, Kind::AccountDebited, d.clone()));
            out.push(Effect::muxed(dest, Kind::AccountCredited, d));
            out.push(Effect::muxed(src, Kind::AccountRemoved, Details::new()));
        }
        OperationBody::Inflation => {
            if let Some(OperationResultTr::Inflation(stellar_xdr::InflationResult::Success(payouts))) = input.result {
                for p in payouts.iter() {
                    out.push(Effect::account(
                        &p.destination,
                        Kind::AccountCredited,
                        amount_and_asset(p.amount, &Asset::Native),
                    ));
                }
            }
        }
        OperationBody::ManageData(op) => manage_data(input, &op.data_name.0, &mut out),
        OperationBody::BumpSequence(_) => {
            let c = first_by_key(&input.changes, |c| {
                matches!(c.entry().map(|e| &e.data), Some(LedgerEntryData::Account(_)))
            });
            if let Some((Some(pre), Some(post))) = c.map(|c| (account(c.pre), account(c.post)))
                && pre.seq_num != post.seq_num
            {
                out.push(Effect::muxed(src, Kind::SequenceBumped, obj(json!({ "new_seq": post.seq_num.0 }))));
            }
        }
        OperationBody::CreateClaimableBalance(op) => {
            let c = first_by_key(&input.changes, |c| balance(c.post).is_some());
            if let Some(cb) = c.and_then(|c| balance(c.post)) {
                balance_created(input, cb, &op.claimants, &mut out);
                out.push(Effect::muxed(src, Kind::AccountDebited, amount_and_asset(cb.amount, &cb.asset)));
            }
        }
        OperationBody::ClaimClaimableBalance(op) => {
            let id = claimable_balance_id(&op.balance_id);
            if let Some(cb) = removed_balance(&input.changes, Some(&op.balance_id)) {
                let mut d = balance_summary(cb, &id);
                balance_flag(&mut d, cb);
                out.push(Effect::muxed(src, Kind::ClaimableBalanceClaimed, d));
                out.push(Effect::muxed(src, Kind::AccountCredited, amount_and_asset(cb.amount, &cb.asset)));
            }
        }
        OperationBody::BeginSponsoringFutureReserves(_)
        | OperationBody::EndSponsoringFutureReserves
        | OperationBody::RevokeSponsorship(_) => {}
        OperationBody::Clawback(op) => {
            let d = amount_and_asset(op.amount, &op.asset);
            out.push(Effect::muxed(src, Kind::AccountCredited, d.clone()));
            out.push(Effect::muxed(&op.from, Kind::AccountDebited, d));
        }
        OperationBody::ClawbackClaimableBalance(op) => {
            let d = obj(json!({ "balance_id": claimable_balance_id(&op.balance_id) }));
            out.push(Effect::muxed(src, Kind::ClaimableBalanceClawedBack, d));
            if let Some(cb) = removed_balance(&input.changes, None) {
                out.push(Effect::muxed(src, Kind::AccountCredited, amount_and_asset(cb.amount, &cb.asset)));
            }
        }
        OperationBody::SetTrustLineFlags(op) => {
            out.push(trustline_flags(src, &op.trustor, &op.asset, op.set_flags, op.clear_flags));
            pool_revoked(input, &mut out);
        }
        OperationBody::LiquidityPoolDeposit(op) => {
            if let Some(delta) = pool_delta(&input.changes, Some(&op.liquidity_pool_id)) {
                let (a, b) = pool_assets(delta.pool);
                let d = obj(json!({
                    "liquidity_pool": details::pool(delta.pool),
                    "reserves_deposited": [details::asset_amount(a, delta.reserve_a), details::asset_amount(b, delta.reserve_b)],
                    "shares_received": amount_decimal(delta.shares),
                }));
                out.push(Effect::muxed(src, Kind::LiquidityPoolDeposited, d));
            }
        }
        OperationBody::LiquidityPoolWithdraw(op) => {
            if let Some(delta) = pool_delta(&input.changes, Some(&op.liquidity_pool_id)) {
                let (a, b) = pool_assets(delta.pool);
                let d = obj(json!({
                    "liquidity_pool": details::pool(delta.pool),
                    "reserves_received": [details::asset_amount(a, -delta.reserve_a), details::asset_amount(b, -delta.reserve_b)],
                    "shares_redeemed": amount_decimal(-delta.shares),
                }));
                out.push(Effect::muxed(src, Kind::LiquidityPoolWithdrew, d));
            }
        }
        OperationBody::InvokeHostFunction(_) => sac::effects(input, &mut out),
        OperationBody::ExtendFootprintTtl(op) => {
            let d = obj(json!({ "entries": ttl_keys(&input.changes), "extend_to": op.extend_to }));
            out.push(Effect::muxed(src, Kind::ExtendFootprintTtl, d));
        }
        OperationBody::RestoreFootprint(_) => {
            out.push(Effect::muxed(src, Kind::RestoreFootprint, obj(json!({ "entries": ttl_keys(&input.changes) }))));
        }
    }
    out
}

/// A `json!` object literal as a details map.
fn obj(v: Value) -> Details {
    match v {
        Value::Object(m) => m,
        _ => Details::new(),
    }
}

fn balance(e: Option<&stellar_xdr::LedgerEntry>) -> Option<&ClaimableBalanceEntry> {
    match e.map(|e| &e.data) {
        Some(LedgerEntryData::ClaimableBalance(cb)) => Some(cb),
        _ => None,
    }
}

/// The claimable balance the operation removed (the one with `id` if given).
fn removed_balance<'a>(
    changes: &[&'a EntryChange<'a>],
    id: Option<&stellar_xdr::ClaimableBalanceId>,
) -> Option<&'a ClaimableBalanceEntry> {
    let c = first_by_key(changes, |c| {
        c.post.is_none() && balance(c.pre).is_some_and(|cb| id.is_none_or(|id| &cb.balance_id == id))
    })?;
    balance(c.pre)
}

fn balance_summary(cb: &ClaimableBalanceEntry, id: &str) -> Details {
    obj(json!({ "balance_id": id, "amount": amount_decimal(cb.amount), "asset": canonical(&cb.asset) }))
}

/// `claimable_balance_clawback_enabled_flag: true` when the balance can be clawed back.
fn balance_flag(d: &mut Details, cb: &ClaimableBalanceEntry) {
    if let ClaimableBalanceEntryExt::V1(v1) = &cb.ext
        && v1.flags & 1 != 0
    {
        d.insert("claimable_balance_clawback_enabled_flag".into(), true.into());
    }
}

/// `claimable_balance_created` and one `claimable_balance_claimant_created`
/// per claimant (the operation's claimants when given: core rewrites relative
/// predicates to absolute ones in the entry).
fn balance_created(input: &OpInput<'_>, cb: &ClaimableBalanceEntry, claimants: &[Claimant], out: &mut Vec<Effect>) {
    let id = claimable_balance_id(&cb.balance_id);
    let mut d = balance_summary(cb, &id);
    balance_flag(&mut d, cb);
    out.push(Effect::muxed(&input.source, Kind::ClaimableBalanceCreated, d));
    let claimants = if claimants.is_empty() { &cb.claimants[..] } else { claimants };
    for c in claimants {
        let Claimant::ClaimantTypeV0(c) = c;
        let mut d = balance_summary(cb, &id);
        d.insert("predicate".into(), details::predicate(&c.predicate));
        out.push(Effect::account(&c.destination, Kind::ClaimableBalanceClaimantCreated, d));
    }
}

/// `trade` effects for both parties of each order-book match, and a
/// `liquidity_pool_trade` for each pool match (empty matches skipped).
fn trades(input: &OpInput<'_>, claims: &[ClaimAtom], out: &mut Vec<Effect>) {
    for claim in claims {
        let (seller, offer_id, sold_asset, sold, bought_asset, bought) = match claim {
            ClaimAtom::V0(a) => (
                AccountId(stellar_xdr::PublicKey::PublicKeyTypeEd25519(a.seller_ed25519.clone())),
                a.offer_id,
                &a.asset_sold,
                a.amount_sold,
                &a.asset_bought,
                a.amount_bought,
            ),
            ClaimAtom::OrderBook(a) => {
                (a.seller_id.clone(), a.offer_id, &a.asset_sold, a.amount_sold, &a.asset_bought, a.amount_bought)
            }
            ClaimAtom::LiquidityPool(a) => {
                if a.amount_sold == 0 && a.amount_bought == 0 {
                    continue;
                }
                if let Some(delta) = pool_delta(&input.changes, Some(&a.liquidity_pool_id)) {
                    let d = obj(json!({
                        "liquidity_pool": details::pool(delta.pool),
                        "sold": { "asset": canonical(&a.asset_sold), "amount": amount_decimal(a.amount_sold) },
                        "bought": { "asset": canonical(&a.asset_bought), "amount": amount_decimal(a.amount_bought) },
                    }));
                    out.push(Effect::muxed(&input.source, Kind::LiquidityPoolTrade, d));
                }
                continue;
            }
        };
        if sold == 0 && bought == 0 {
            continue;
        }
        // The taker (operation source) bought what the offer sold.
        let mut taker = obj(json!({
            "offer_id": offer_id,
            "seller": account_id(&seller),
            "bought_amount": amount_decimal(sold),
            "sold_amount": amount_decimal(bought),
        }));
        add_asset(&mut taker, sold_asset, "bought_");
        add_asset(&mut taker, bought_asset, "sold_");
        let mut maker = obj(json!({
            "offer_id": offer_id,
            "seller": muxed_base(&input.source),
            "bought_amount": amount_decimal(bought),
            "sold_amount": amount_decimal(sold),
        }));
        if let MuxedAccount::MuxedEd25519(m) = &input.source {
            maker.insert("seller_muxed".into(), muxed_address(&input.source).into());
            maker.insert("seller_muxed_id".into(), m.id.into());
        }
        add_asset(&mut maker, bought_asset, "bought_");
        add_asset(&mut maker, sold_asset, "sold_");
        out.push(Effect::muxed(&input.source, Kind::Trade, taker));
        out.push(Effect::account(&seller, Kind::Trade, maker));
    }
}

fn set_options(input: &OpInput<'_>, op: &stellar_xdr::SetOptionsOp, out: &mut Vec<Effect>) {
    let src = &input.source;
    if let Some(home) = &op.home_domain {
        let d = obj(json!({ "home_domain": String::from_utf8_lossy(&home.0).into_owned() }));
        out.push(Effect::muxed(src, Kind::AccountHomeDomainUpdated, d));
    }
    let mut t = Details::new();
    for (k, v) in [
        ("low_threshold", op.low_threshold),
        ("med_threshold", op.med_threshold),
        ("high_threshold", op.high_threshold),
    ] {
        if let Some(v) = v {
            t.insert(k.into(), v.into());
        }
    }
    if !t.is_empty() {
        out.push(Effect::muxed(src, Kind::AccountThresholdsUpdated, t));
    }
    let mut f = Details::new();
    for (flags, value) in [(op.set_flags, true), (op.clear_flags, false)] {
        let Some(flags) = flags else { continue };
        for (bit, key) in [
            (AccountFlags::RequiredFlag, "auth_required_flag"),
            (AccountFlags::RevocableFlag, "auth_revocable_flag"),
            (AccountFlags::ImmutableFlag, "auth_immutable_flag"),
            (AccountFlags::ClawbackEnabledFlag, "auth_clawback_enabled_flag"),
        ] {
            if flags & bit as u32 != 0 {
                f.insert(key.into(), value.into());
            }
        }
    }
    if !f.is_empty() {
        out.push(Effect::muxed(src, Kind::AccountFlagsUpdated, f));
    }
    if let Some(dest) = &op.inflation_dest {
        let d = obj(json!({ "inflation_destination": account_id(dest) }));
        out.push(Effect::muxed(src, Kind::AccountInflationDestinationUpdated, d));
    }
    for c in &input.changes {
        let (Some(pre), Some(post)) = (account(c.pre), account(c.post)) else { continue };
        let (before, after) = (signer_weights(pre), signer_weights(post));
        if before == after {
            continue;
        }
        for (key, weight) in &before {
            match after.get(key) {
                None => out.push(Effect::muxed(src, Kind::SignerRemoved, obj(json!({ "public_key": key })))),
                Some(w) if w != weight => {
                    out.push(Effect::muxed(src, Kind::SignerUpdated, obj(json!({ "public_key": key, "weight": w }))))
                }
                _ => {}
            }
        }
        for (key, weight) in after.iter().filter(|(k, _)| !before.contains_key(*k)) {
            out.push(Effect::muxed(src, Kind::SignerCreated, obj(json!({ "public_key": key, "weight": weight }))));
        }
    }
}

/// Signer strkey -> weight, the master key included when its weight is
/// positive (the Go SDK's `SignerSummary`), sorted by key.
fn signer_weights(a: &AccountEntry) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    if a.thresholds.0[0] > 0 {
        out.insert(account_id(&a.account_id), u32::from(a.thresholds.0[0]));
    }
    for s in a.signers.iter() {
        out.insert(s.key.to_string(), s.weight);
    }
    out
}

fn change_trust(input: &OpInput<'_>, line: &ChangeTrustAsset, limit: i64, out: &mut Vec<Effect>) {
    let want_pool = matches!(line, ChangeTrustAsset::PoolShare(_));
    let same_type = |a: &TrustLineAsset| match a {
        TrustLineAsset::PoolShare(_) => want_pool,
        TrustLineAsset::CreditAlphanum4(_) => matches!(line, ChangeTrustAsset::CreditAlphanum4(_)),
        TrustLineAsset::CreditAlphanum12(_) => matches!(line, ChangeTrustAsset::CreditAlphanum12(_)),
        TrustLineAsset::Native => false,
    };
    let trustline = |e: Option<&stellar_xdr::LedgerEntry>| match e.map(|e| &e.data) {
        Some(LedgerEntryData::Trustline(tl)) => Some(tl.asset.clone()),
        _ => None,
    };
    let Some(c) = first_by_key(&input.changes, |c| trustline(c.entry()).is_some_and(|a| same_type(&a))) else {
        return;
    };
    let kind = match (c.pre, c.post) {
        (None, Some(_)) => Kind::TrustlineCreated,
        (Some(_), None) => Kind::TrustlineRemoved,
        _ => Kind::TrustlineUpdated,
    };
    let mut d = obj(json!({ "limit": amount_decimal(limit) }));
    match (trustline(c.entry()), line) {
        (Some(TrustLineAsset::PoolShare(id)), _) => {
            d.insert("asset_type".into(), "liquidity_pool_shares".into());
            d.insert("liquidity_pool_id".into(), hash_hex(&id.0).into());
            d.insert("liquidity_pool_id_strkey".into(), PoolId(id.0.clone()).to_string().into());
        }
        (_, ChangeTrustAsset::CreditAlphanum4(a)) => add_asset(&mut d, &Asset::CreditAlphanum4(a.clone()), ""),
        (_, ChangeTrustAsset::CreditAlphanum12(a)) => add_asset(&mut d, &Asset::CreditAlphanum12(a.clone()), ""),
        _ => add_asset(&mut d, &Asset::Native, ""),
    }
    out.push(Effect::muxed(&input.source, kind, d));
}

fn allow_trust(input: &OpInput<'_>, op: &stellar_xdr::AllowTrustOp, out: &mut Vec<Effect>) {
    let src = &input.source;
    let issuer = AccountId(stellar_xdr::PublicKey::PublicKeyTypeEd25519(stellar_xdr::Uint256(match src {
        MuxedAccount::Ed25519(k) => k.0,
        MuxedAccount::MuxedEd25519(m) => m.ed25519.0,
    })));
    let asset = match &op.asset {
        AssetCode::CreditAlphanum4(c) => Asset::CreditAlphanum4(AlphaNum4 { asset_code: c.clone(), issuer }),
        AssetCode::CreditAlphanum12(c) => Asset::CreditAlphanum12(AlphaNum12 { asset_code: c.clone(), issuer }),
    };
    let mut d = obj(json!({ "trustor": account_id(&op.trustor) }));
    add_asset(&mut d, &asset, "");
    let (authorized, maintain) =
        (TrustLineFlags::AuthorizedFlag as u32, TrustLineFlags::AuthorizedToMaintainLiabilitiesFlag as u32);
    if op.authorize & authorized != 0 {
        out.push(Effect::muxed(src, Kind::TrustlineAuthorized, d));
        out.push(trustline_flags(src, &op.trustor, &asset, authorized, 0));
    } else if op.authorize & maintain != 0 {
        out.push(Effect::muxed(src, Kind::TrustlineAuthorizedToMaintainLiabilities, d));
        out.push(trustline_flags(src, &op.trustor, &asset, maintain, 0));
    } else {
        out.push(Effect::muxed(src, Kind::TrustlineDeauthorized, d));
        out.push(trustline_flags(src, &op.trustor, &asset, 0, authorized | maintain));
    }
    pool_revoked(input, out);
}

/// `trustline_flags_updated`: each named flag true when set, false when cleared.
fn trustline_flags(src: &MuxedAccount, trustor: &AccountId, asset: &Asset, set: u32, clear: u32) -> Effect {
    let mut d = obj(json!({ "trustor": account_id(trustor) }));
    add_asset(&mut d, asset, "");
    for (flags, value) in [(set, true), (clear, false)] {
        for (bit, key) in [
            (TrustLineFlags::AuthorizedFlag, "authorized_flag"),
            (TrustLineFlags::AuthorizedToMaintainLiabilitiesFlag, "authorized_to_maintain_liabilites"),
            (TrustLineFlags::TrustlineClawbackEnabledFlag, "clawback_enabled_flag"),
        ] {
            if flags & bit as u32 != 0 {
                d.insert(key.into(), value.into());
            }
        }
    }
    Effect::muxed(src, Kind::TrustlineFlagsUpdated, d)
}

fn pool_assets(lp: &stellar_xdr::LiquidityPoolEntry) -> (&Asset, &Asset) {
    let stellar_xdr::LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &lp.body;
    (&cp.params.asset_a, &cp.params.asset_b)
}

/// Deauthorizing a trustline pulls the trustor's pool shares: the reserves
/// go into new claimable balances. Emits those balances' created effects and
/// one `liquidity_pool_revoked` (stellar-etl: for the first pool in key order).
fn pool_revoked(input: &OpInput<'_>, out: &mut Vec<Effect>) {
    let Some(delta) = pool_delta(&input.changes, None) else { return };
    let mut created: Vec<&ClaimableBalanceEntry> =
        input.changes.iter().filter(|c| c.pre.is_none()).filter_map(|c| balance(c.post)).collect();
    if created.is_empty() {
        return;
    }
    created.sort_by_key(|cb| asset_order(&cb.asset));
    let mut by_asset = BTreeMap::new();
    for cb in &created {
        by_asset.insert(canonical(&cb.asset), claimable_balance_id(&cb.balance_id));
        balance_created(input, cb, &[], out);
    }
    let (a, b) = pool_assets(delta.pool);
    let revoked: Vec<Value> = [(a, delta.reserve_a), (b, delta.reserve_b)]
        .into_iter()
        .filter_map(|(asset, r)| {
            let name = canonical(asset);
            by_asset
                .get(&name)
                .map(|id| json!({ "asset": name, "amount": amount_decimal(-r), "claimable_balance_id": id }))
        })
        .collect();
    let d = obj(json!({
        "liquidity_pool": details::pool(delta.pool),
        "reserves_revoked": revoked,
        "shares_revoked": amount_decimal(-delta.shares),
    }));
    out.push(Effect::muxed(&input.source, Kind::LiquidityPoolRevoked, d));
}

/// The Go SDK's `Asset.LessThan`: by type, then code, then issuer.
fn asset_order(a: &Asset) -> (u8, String, String) {
    let cols = super::super::encode::asset(a);
    let t = match a {
        Asset::Native => 0,
        Asset::CreditAlphanum4(_) => 1,
        Asset::CreditAlphanum12(_) => 2,
    };
    (t, cols.code.unwrap_or_default(), cols.issuer.unwrap_or_default())
}

fn data(e: Option<&stellar_xdr::LedgerEntry>) -> Option<&stellar_xdr::DataEntry> {
    match e.map(|e| &e.data) {
        Some(LedgerEntryData::Data(d)) => Some(d),
        _ => None,
    }
}

fn manage_data(input: &OpInput<'_>, name: &[u8], out: &mut Vec<Effect>) {
    // A successful manage_data always touches its entry; without one there
    // is no honest effect type (stellar-etl would write type 0).
    let Some(c) = first_by_key(&input.changes, |c| data(c.entry()).is_some()) else { return };
    let mut d = obj(json!({ "name": String::from_utf8_lossy(name).into_owned() }));
    if let Some(after) = data(c.post) {
        d.insert("value".into(), base64::engine::general_purpose::STANDARD.encode(&after.data_value.0).into());
    }
    let kind = match (c.pre, c.post) {
        (None, Some(_)) => Kind::DataCreated,
        (Some(_), None) => Kind::DataRemoved,
        _ => Kind::DataUpdated,
    };
    out.push(Effect::muxed(&input.source, kind, d));
}

/// Base64 `LedgerKey::Ttl` of every TTL entry the operation wrote, sorted
/// by key (stellar-etl's `entries` for extend/restore footprint).
fn ttl_keys(changes: &[&EntryChange<'_>]) -> Vec<String> {
    let mut hashes: Vec<[u8; 32]> = changes
        .iter()
        .filter_map(|c| match c.post.map(|e| &e.data) {
            Some(LedgerEntryData::Ttl(t)) => Some(t.key_hash.0),
            _ => None,
        })
        .collect();
    hashes.sort();
    hashes
        .into_iter()
        .map(|h| {
            // LedgerKey XDR: the entry type (TTL = 9) then the key hash.
            let mut bytes = Vec::with_capacity(36);
            bytes.extend_from_slice(&9u32.to_be_bytes());
            bytes.extend_from_slice(&h);
            base64::engine::general_purpose::STANDARD.encode(bytes)
        })
        .collect()
}
