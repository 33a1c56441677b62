//! The operation engine: applies one classic operation to the state the way
//! stellar-core would (checks, result codes, reserves, liabilities,
//! sponsorship, events), simplified where the difference is invisible in
//! the meta (e.g. exact exchange rounding). Soroban operations live in
//! [`super::soroban`].
//!
//! Operations return `Result<OperationResultTr, OperationResultTr>`: the
//! error is the XDR result itself, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use stellar_xdr::{
    AccountMergeResult, AllowTrustOp, AllowTrustResult, Asset, AssetCode, BeginSponsoringFutureReservesResult,
    BumpSequenceResult, ChangeTrustAsset, ChangeTrustOp, ChangeTrustResult, ClaimAtom, ClaimClaimableBalanceResult,
    ClaimPredicate, ClaimableBalanceId, Claimant, ClawbackClaimableBalanceResult, ClawbackResult, ContractEvent,
    CreateAccountOp, CreateAccountResult, CreateClaimableBalanceOp, CreateClaimableBalanceResult,
    EndSponsoringFutureReservesResult, Hash, HashIdPreimage, HashIdPreimageOperationId, LiquidityPoolDepositOp,
    LiquidityPoolDepositResult, LiquidityPoolWithdrawOp, LiquidityPoolWithdrawResult, ManageBuyOfferResult,
    ManageDataOp, ManageDataResult, ManageOfferSuccessResult, ManageOfferSuccessResultOffer, ManageSellOfferResult,
    MuxedAccount, Operation, OperationBody, OperationResult, OperationResultTr, PathPaymentStrictReceiveOp,
    PathPaymentStrictReceiveResult, PathPaymentStrictReceiveResultSuccess, PathPaymentStrictSendOp,
    PathPaymentStrictSendResult, PathPaymentStrictSendResultSuccess, PaymentOp, PaymentResult, Price,
    RevokeSponsorshipOp, RevokeSponsorshipResult, ScAddress, SequenceNumber, SetOptionsOp, SetOptionsResult,
    SetTrustLineFlagsOp, SetTrustLineFlagsResult, SimplePaymentResult, SorobanTransactionData,
};

use super::dex::{self, HopErr, Mode};
use super::events;
use super::funds::{
    Env, MoveErr, Sponsorships, add_sub_entries, apply_liabilities, available, credit, debit, mul_div_ceil, raw_adjust,
    release_sponsorship, remove_sub_entries,
};
use super::state::{
    Account, AccountSigner, ClaimableBalance, Entry, Key, Offer, Pool, Px, State, TL_AUTHORIZED, TL_CLAWBACK,
    TL_MAINTAIN, TrustAsset, TrustLine,
};
use super::universe::{AUTH_CLAWBACK, AUTH_REQUIRED, AUTH_REVOCABLE, AssetIx, Id, NATIVE, PoolIx, Universe};
use super::xdr::{account_address, key_from_xdr, offer_entry};

/// Everything an operation sees besides the state.
pub struct TxCtx<'a> {
    pub env: Env<'a>,
    pub tx_source: Id,
    pub tx_seq: i64,
    pub sponsorships: Sponsorships,
    pub soroban: Option<&'a SorobanTransactionData>,
    /// Return value of the transaction's host function, for the Soroban meta.
    pub return_value: Option<stellar_xdr::ScVal>,
}

type OpResult = Result<OperationResultTr, OperationResultTr>;

pub fn muxed_id(m: &MuxedAccount) -> Id {
    match m {
        MuxedAccount::Ed25519(k) => k.0,
        MuxedAccount::MuxedEd25519(m) => m.ed25519.0,
    }
}

fn pk(a: &stellar_xdr::AccountId) -> Id {
    let stellar_xdr::PublicKey::PublicKeyTypeEd25519(k) = &a.0;
    k.0
}

pub fn asset_ix(u: &Universe, a: &Asset) -> Option<AssetIx> {
    u.assets.iter().position(|x| x.xdr == *a).map(|i| i as AssetIx)
}

/// Applies one operation; returns its result and whether it succeeded.
/// Events go to `ev` (callers discard them if the transaction fails).
pub fn apply_op(
    st: &mut State,
    ctx: &mut TxCtx<'_>,
    index: u32,
    op: &Operation,
    ev: &mut Vec<ContractEvent>,
) -> (OperationResult, bool) {
    let src = op.source_account.as_ref().map(muxed_id).unwrap_or(ctx.tx_source);
    if st.account(&src).is_none() {
        return (OperationResult::OpNoAccount, false);
    }
    let r = match &op.body {
        OperationBody::CreateAccount(o) => create_account(st, ctx, &src, o, ev),
        OperationBody::Payment(o) => payment(st, ctx, &src, o, ev),
        OperationBody::PathPaymentStrictReceive(o) => path_receive(st, ctx, &src, o, ev),
        OperationBody::PathPaymentStrictSend(o) => path_send(st, ctx, &src, o, ev),
        OperationBody::ManageSellOffer(o) => {
            let r = manage_offer(st, ctx, &src, &o.selling, &o.buying, Kind::Sell(o.amount), &o.price, o.offer_id, ev);
            r.map(|s| OperationResultTr::ManageSellOffer(ManageSellOfferResult::Success(s)))
                .map_err(|e| OperationResultTr::ManageSellOffer(e.sell()))
        }
        OperationBody::CreatePassiveSellOffer(o) => {
            let r = manage_offer(st, ctx, &src, &o.selling, &o.buying, Kind::Passive(o.amount), &o.price, 0, ev);
            r.map(|s| OperationResultTr::CreatePassiveSellOffer(ManageSellOfferResult::Success(s)))
                .map_err(|e| OperationResultTr::CreatePassiveSellOffer(e.sell()))
        }
        OperationBody::ManageBuyOffer(o) => {
            let r =
                manage_offer(st, ctx, &src, &o.selling, &o.buying, Kind::Buy(o.buy_amount), &o.price, o.offer_id, ev);
            r.map(|s| OperationResultTr::ManageBuyOffer(ManageBuyOfferResult::Success(s)))
                .map_err(|e| OperationResultTr::ManageBuyOffer(e.buy()))
        }
        OperationBody::SetOptions(o) => set_options(st, ctx, &src, o),
        OperationBody::ChangeTrust(o) => change_trust(st, ctx, &src, o),
        OperationBody::AllowTrust(o) => allow_trust(st, ctx, &src, o),
        OperationBody::AccountMerge(dest) => account_merge(st, ctx, &src, dest, ev),
        OperationBody::ManageData(o) => manage_data(st, ctx, &src, o),
        OperationBody::BumpSequence(o) => bump_sequence(st, ctx, &src, o.bump_to.0),
        OperationBody::CreateClaimableBalance(o) => create_claimable(st, ctx, &src, index, o, ev),
        OperationBody::ClaimClaimableBalance(o) => claim_claimable(st, ctx, &src, &o.balance_id, ev),
        OperationBody::ClawbackClaimableBalance(o) => clawback_claimable(st, ctx, &src, &o.balance_id, ev),
        OperationBody::Clawback(o) => clawback(st, ctx, &src, &o.asset, &o.from, o.amount, ev),
        OperationBody::BeginSponsoringFutureReserves(o) => begin_sponsoring(ctx, &src, &pk(&o.sponsored_id)),
        OperationBody::EndSponsoringFutureReserves => end_sponsoring(ctx, &src),
        OperationBody::RevokeSponsorship(o) => revoke_sponsorship(st, ctx, &src, o),
        OperationBody::SetTrustLineFlags(o) => set_trust_line_flags(st, ctx, &src, o),
        OperationBody::LiquidityPoolDeposit(o) => pool_deposit(st, ctx, &src, o, ev),
        OperationBody::LiquidityPoolWithdraw(o) => pool_withdraw(st, ctx, &src, o, ev),
        OperationBody::InvokeHostFunction(o) => super::soroban::invoke(st, ctx, &src, o, ev),
        OperationBody::ExtendFootprintTtl(o) => super::soroban::extend_ttl(st, ctx, o),
        OperationBody::RestoreFootprint(_) => super::soroban::restore(st, ctx),
        OperationBody::Inflation => return (OperationResult::OpNotSupported, false),
    };
    match r {
        Ok(tr) => (OperationResult::OpInner(tr), true),
        Err(tr) => (OperationResult::OpInner(tr), false),
    }
}

fn addr(id: &Id) -> ScAddress {
    account_address(id)
}

fn create_account(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    o: &CreateAccountOp,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use CreateAccountResult as R;
    let f = OperationResultTr::CreateAccount;
    let dest = pk(&o.destination);
    if o.starting_balance < 0 || dest == *src {
        return Err(f(R::Malformed));
    }
    if st.account(&dest).is_some() {
        return Err(f(R::AlreadyExist));
    }
    let sponsor = ctx.sponsorships.sponsor_of(&dest);
    if sponsor.is_none() && o.starting_balance < 2 * ctx.env.base_reserve {
        return Err(f(R::LowReserve));
    }
    debit(st, &ctx.env, src, NATIVE, o.starting_balance).map_err(|_| f(R::Underfunded))?;
    let account = Account {
        balance: o.starting_balance,
        seq: i64::from(ctx.env.seq) << 32,
        thresholds: [1, 0, 0, 0],
        num_sponsored: if sponsor.is_some() { 2 } else { 0 },
        ..Default::default()
    };
    st.create(Key::Account(dest), Entry::Account(account), sponsor);
    if let Some(s) = sponsor {
        st.update_account(&s, |a| a.num_sponsoring += 2);
        if st.account(&s).is_some_and(|a| a.available(ctx.env.base_reserve) < 0) {
            return Err(f(R::LowReserve));
        }
    }
    ev.push(events::transfer(ctx.env.u, NATIVE, &addr(src), &addr(&dest), o.starting_balance));
    Ok(f(R::Success))
}

fn payment(st: &mut State, ctx: &TxCtx<'_>, src: &Id, o: &PaymentOp, ev: &mut Vec<ContractEvent>) -> OpResult {
    use PaymentResult as R;
    let f = OperationResultTr::Payment;
    let Some(asset) = asset_ix(ctx.env.u, &o.asset) else { return Err(f(R::NoIssuer)) };
    let dest = muxed_id(&o.destination);
    if o.amount <= 0 {
        return Err(f(R::Malformed));
    }
    if st.account(&dest).is_none() {
        return Err(f(R::NoDestination));
    }
    debit(st, &ctx.env, src, asset, o.amount).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::SrcNoTrust,
            MoveErr::NotAuthorized => R::SrcNotAuthorized,
            _ => R::Underfunded,
        })
    })?;
    credit(st, &ctx.env, &dest, asset, o.amount).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::NoTrust,
            MoveErr::NotAuthorized => R::NotAuthorized,
            MoveErr::NoAccount => R::NoDestination,
            _ => R::LineFull,
        })
    })?;
    ev.push(events::transfer(ctx.env.u, asset, &addr(src), &addr(&dest), o.amount));
    Ok(f(R::Success))
}

/// Resolves a path's assets; unknown assets make the operation malformed.
fn path_assets(u: &Universe, send: &Asset, path: &[Asset], dest: &Asset) -> Option<Vec<AssetIx>> {
    let s = asset_ix(u, send)?;
    let d = asset_ix(u, dest)?;
    let hops: Option<Vec<AssetIx>> = path.iter().map(|a| asset_ix(u, a)).collect();
    Some(dex::full_path(s, &hops?, d))
}

fn path_send(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    o: &PathPaymentStrictSendOp,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use PathPaymentStrictSendResult as R;
    let f = OperationResultTr::PathPaymentStrictSend;
    let Some(path) = path_assets(ctx.env.u, &o.send_asset, &o.path, &o.dest_asset) else {
        return Err(f(R::Malformed));
    };
    let dest = muxed_id(&o.destination);
    if o.send_amount <= 0 || o.dest_min <= 0 {
        return Err(f(R::Malformed));
    }
    if st.account(&dest).is_none() {
        return Err(f(R::NoDestination));
    }
    debit(st, &ctx.env, src, path[0], o.send_amount).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::SrcNoTrust,
            MoveErr::NotAuthorized => R::SrcNotAuthorized,
            _ => R::Underfunded,
        })
    })?;
    let mut atoms = Vec::new();
    let mut amount = o.send_amount;
    for w in path.windows(2) {
        amount = dex::hop_send(st, &ctx.env, src, w[0], w[1], amount, Some(&mut atoms)).map_err(|e| {
            f(match e {
                HopErr::TooFewOffers => R::TooFewOffers,
                HopErr::CrossSelf => R::OfferCrossSelf,
            })
        })?;
    }
    if amount < o.dest_min {
        return Err(f(R::UnderDestmin));
    }
    let last = *path.last().expect("paths hold at least the send asset");
    credit(st, &ctx.env, &dest, last, amount).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::NoTrust,
            MoveErr::NotAuthorized => R::NotAuthorized,
            MoveErr::NoAccount => R::NoDestination,
            _ => R::LineFull,
        })
    })?;
    events::trades(ctx.env.u, &addr(src), &atoms, ev);
    ev.push(events::transfer(ctx.env.u, last, &addr(src), &addr(&dest), amount));
    Ok(f(R::Success(PathPaymentStrictSendResultSuccess {
        offers: super::xdr::vecm(atoms),
        last: SimplePaymentResult {
            destination: super::universe::account_id(&dest),
            asset: o.dest_asset.clone(),
            amount,
        },
    })))
}

fn path_receive(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    o: &PathPaymentStrictReceiveOp,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use PathPaymentStrictReceiveResult as R;
    let f = OperationResultTr::PathPaymentStrictReceive;
    let Some(path) = path_assets(ctx.env.u, &o.send_asset, &o.path, &o.dest_asset) else {
        return Err(f(R::Malformed));
    };
    let dest = muxed_id(&o.destination);
    if o.send_max <= 0 || o.dest_amount <= 0 {
        return Err(f(R::Malformed));
    }
    if st.account(&dest).is_none() {
        return Err(f(R::NoDestination));
    }
    let last = *path.last().expect("paths hold at least the send asset");
    credit(st, &ctx.env, &dest, last, o.dest_amount).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::NoTrust,
            MoveErr::NotAuthorized => R::NotAuthorized,
            MoveErr::NoAccount => R::NoDestination,
            _ => R::LineFull,
        })
    })?;
    // Hops run from the destination back to the source; results list them in path order.
    let mut hops: Vec<Vec<ClaimAtom>> = Vec::new();
    let mut need = o.dest_amount;
    for w in path.windows(2).rev() {
        let mut atoms = Vec::new();
        need = dex::hop_receive(st, &ctx.env, src, w[0], w[1], need, Some(&mut atoms)).map_err(|e| {
            f(match e {
                HopErr::TooFewOffers => R::TooFewOffers,
                HopErr::CrossSelf => R::OfferCrossSelf,
            })
        })?;
        hops.push(atoms);
    }
    if need > o.send_max {
        return Err(f(R::OverSendmax));
    }
    debit(st, &ctx.env, src, path[0], need).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::SrcNoTrust,
            MoveErr::NotAuthorized => R::SrcNotAuthorized,
            _ => R::Underfunded,
        })
    })?;
    let atoms: Vec<ClaimAtom> = hops.into_iter().rev().flatten().collect();
    events::trades(ctx.env.u, &addr(src), &atoms, ev);
    ev.push(events::transfer(ctx.env.u, last, &addr(src), &addr(&dest), o.dest_amount));
    Ok(f(R::Success(PathPaymentStrictReceiveResultSuccess {
        offers: super::xdr::vecm(atoms),
        last: SimplePaymentResult {
            destination: super::universe::account_id(&dest),
            asset: o.dest_asset.clone(),
            amount: o.dest_amount,
        },
    })))
}

/// Manage sell, manage buy and passive offers share one implementation.
#[derive(Clone, Copy)]
enum Kind {
    Sell(i64),
    Buy(i64),
    Passive(i64),
}

#[derive(Clone, Copy)]
enum OfferErr {
    Malformed,
    SellNoTrust,
    BuyNoTrust,
    SellNotAuthorized,
    BuyNotAuthorized,
    LineFull,
    Underfunded,
    CrossSelf,
    NotFound,
    LowReserve,
}

impl OfferErr {
    fn sell(self) -> ManageSellOfferResult {
        use ManageSellOfferResult as R;
        match self {
            OfferErr::Malformed => R::Malformed,
            OfferErr::SellNoTrust => R::SellNoTrust,
            OfferErr::BuyNoTrust => R::BuyNoTrust,
            OfferErr::SellNotAuthorized => R::SellNotAuthorized,
            OfferErr::BuyNotAuthorized => R::BuyNotAuthorized,
            OfferErr::LineFull => R::LineFull,
            OfferErr::Underfunded => R::Underfunded,
            OfferErr::CrossSelf => R::CrossSelf,
            OfferErr::NotFound => R::NotFound,
            OfferErr::LowReserve => R::LowReserve,
        }
    }
    fn buy(self) -> ManageBuyOfferResult {
        use ManageBuyOfferResult as R;
        match self {
            OfferErr::Malformed => R::Malformed,
            OfferErr::SellNoTrust => R::SellNoTrust,
            OfferErr::BuyNoTrust => R::BuyNoTrust,
            OfferErr::SellNotAuthorized => R::SellNotAuthorized,
            OfferErr::BuyNotAuthorized => R::BuyNotAuthorized,
            OfferErr::LineFull => R::LineFull,
            OfferErr::Underfunded => R::Underfunded,
            OfferErr::CrossSelf => R::CrossSelf,
            OfferErr::NotFound => R::NotFound,
            OfferErr::LowReserve => R::LowReserve,
        }
    }
}

/// Trustline checks for one side of an offer.
fn offer_side_ok(st: &State, u: &Universe, src: &Id, asset: AssetIx) -> Result<(), (bool, bool)> {
    if asset == NATIVE || u.is_issuer(src, asset) {
        return Ok(());
    }
    match st.trust(src, TrustAsset::Asset(asset)) {
        None => Err((true, false)),
        Some(t) if t.flags & (TL_AUTHORIZED | TL_MAINTAIN) == 0 => Err((false, true)),
        Some(_) => Ok(()),
    }
}

/// Room left to receive `asset` (native: effectively unlimited).
fn room(st: &State, u: &Universe, who: &Id, asset: AssetIx) -> i64 {
    if asset == NATIVE || u.is_issuer(who, asset) {
        return i64::MAX / 2;
    }
    st.trust(who, TrustAsset::Asset(asset)).map_or(0, TrustLine::room)
}

#[allow(clippy::too_many_arguments)]
fn manage_offer(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    selling: &Asset,
    buying: &Asset,
    kind: Kind,
    price: &Price,
    offer_id: i64,
    ev: &mut Vec<ContractEvent>,
) -> Result<ManageOfferSuccessResult, OfferErr> {
    let u = ctx.env.u;
    let (Some(sell), Some(buy)) = (asset_ix(u, selling), asset_ix(u, buying)) else {
        return Err(OfferErr::Malformed);
    };
    let amount = match kind {
        Kind::Sell(a) | Kind::Buy(a) | Kind::Passive(a) => a,
    };
    if sell == buy || price.n <= 0 || price.d <= 0 || amount < 0 || (amount == 0 && offer_id == 0) {
        return Err(OfferErr::Malformed);
    }
    // Stored price: units of `buy` per unit of `sell`; buy offers quote the inverse.
    let stored = match kind {
        Kind::Buy(_) => Px { n: price.d, d: price.n },
        _ => Px { n: price.n, d: price.d },
    };
    let passive = matches!(kind, Kind::Passive(_));
    let existing = if offer_id != 0 {
        let o = st.offer(src, offer_id).cloned().ok_or(OfferErr::NotFound)?;
        apply_liabilities(st, &ctx.env, src, &o, -1);
        Some(o)
    } else {
        None
    };
    let key = Key::Offer(*src, offer_id);
    let delete = |st: &mut State| {
        let sponsor = st.get(&key).and_then(|s| s.sponsor);
        st.remove(&key);
        remove_sub_entries(st, src, sponsor, 1);
    };
    if amount == 0 {
        delete(st);
        return Ok(ManageOfferSuccessResult {
            offers_claimed: Default::default(),
            offer: ManageOfferSuccessResultOffer::Deleted,
        });
    }
    offer_side_ok(st, u, src, sell)
        .map_err(|(no, _)| if no { OfferErr::SellNoTrust } else { OfferErr::SellNotAuthorized })?;
    offer_side_ok(st, u, src, buy)
        .map_err(|(no, _)| if no { OfferErr::BuyNoTrust } else { OfferErr::BuyNotAuthorized })?;
    let sell_amount = match kind {
        Kind::Buy(b) => mul_div_ceil(b, i64::from(price.n), i64::from(price.d)),
        _ => amount,
    };
    if available(st, &ctx.env, src, sell) < sell_amount {
        return Err(OfferErr::Underfunded);
    }
    let mode = match kind {
        Kind::Buy(b) => Mode::Get(b),
        _ => Mode::Give(sell_amount),
    };
    let (fills, rem) =
        dex::book_fills(st, src, sell, buy, mode, Some((stored, passive))).map_err(|_| OfferErr::CrossSelf)?;
    let paid: i64 = fills.iter().map(|f| f.pay).sum();
    let got: i64 = fills.iter().map(|f| f.take).sum();
    if got > room(st, u, src, buy) {
        return Err(OfferErr::LineFull);
    }
    let mut atoms = Vec::new();
    dex::execute_fills(st, &ctx.env, &fills, sell, buy, &mut atoms);
    raw_adjust(st, &ctx.env, src, sell, -paid);
    raw_adjust(st, &ctx.env, src, buy, got);
    events::trades(u, &addr(src), &atoms, ev);
    let left = match kind {
        Kind::Buy(_) if rem > 0 => mul_div_ceil(rem, i64::from(price.n), i64::from(price.d)),
        Kind::Buy(_) => 0,
        _ => rem,
    };
    let offer = if left > 0 {
        let o = Offer { selling: sell, buying: buy, amount: left, price: stored, passive };
        let buying_liability = mul_div_ceil(left, i64::from(stored.n), i64::from(stored.d));
        if buying_liability > room(st, u, src, buy) {
            return Err(OfferErr::LineFull);
        }
        if available(st, &ctx.env, src, sell) < left {
            return Err(OfferErr::Underfunded);
        }
        let (id, created) = match existing {
            Some(_) => {
                let o2 = o.clone();
                st.update_offer(src, offer_id, |x| *x = o2);
                (offer_id, false)
            }
            None => {
                let sponsor =
                    add_sub_entries(st, &ctx.env, &ctx.sponsorships, src, 1).map_err(|_| OfferErr::LowReserve)?;
                st.hdr.id_pool += 1;
                let id = st.hdr.id_pool as i64;
                st.create(Key::Offer(*src, id), Entry::Offer(o.clone()), sponsor);
                (id, true)
            }
        };
        apply_liabilities(st, &ctx.env, src, &o, 1);
        if st.account(src).is_some_and(|a| a.available(ctx.env.base_reserve) < 0) {
            return Err(OfferErr::LowReserve);
        }
        let e = offer_entry(u, src, id, &o);
        if created { ManageOfferSuccessResultOffer::Created(e) } else { ManageOfferSuccessResultOffer::Updated(e) }
    } else {
        if existing.is_some() {
            delete(st);
        }
        ManageOfferSuccessResultOffer::Deleted
    };
    Ok(ManageOfferSuccessResult { offers_claimed: super::xdr::vecm(atoms), offer })
}

fn set_options(st: &mut State, ctx: &TxCtx<'_>, src: &Id, o: &SetOptionsOp) -> OpResult {
    use SetOptionsResult as R;
    let f = OperationResultTr::SetOptions;
    const KNOWN: u32 = AUTH_REQUIRED | AUTH_REVOCABLE | 4 | AUTH_CLAWBACK;
    let (set, clear) = (o.set_flags.unwrap_or(0), o.clear_flags.unwrap_or(0));
    if (set | clear) & !KNOWN != 0 {
        return Err(f(R::UnknownFlag));
    }
    if set & clear != 0 {
        return Err(f(R::BadFlags));
    }
    let weights = [o.master_weight, o.low_threshold, o.med_threshold, o.high_threshold];
    if weights.iter().flatten().any(|&w| w > 255) {
        return Err(f(R::ThresholdOutOfRange));
    }
    let acct = st.account(src).expect("operation source exists").clone();
    let flags = (acct.flags & !clear) | set;
    if flags & AUTH_CLAWBACK != 0 && flags & AUTH_REVOCABLE == 0 {
        return Err(f(R::AuthRevocableRequired));
    }
    if let Some(signer) = &o.signer {
        let stellar_xdr::SignerKey::Ed25519(k) = &signer.key else { return Err(f(R::BadSigner)) };
        if k.0 == *src || signer.weight > 255 {
            return Err(f(R::BadSigner));
        }
        let pos = acct.signers.iter().position(|s| s.key == k.0);
        match (pos, signer.weight) {
            (Some(i), 0) => {
                let sponsor = acct.signers[i].sponsor;
                st.update_account(src, |a| {
                    a.signers.remove(i);
                });
                remove_sub_entries(st, src, sponsor, 1);
            }
            (Some(i), w) => st.update_account(src, |a| a.signers[i].weight = w),
            (None, 0) => {}
            (None, w) => {
                if acct.signers.len() >= 20 {
                    return Err(f(R::TooManySigners));
                }
                let sponsor = add_sub_entries(st, &ctx.env, &ctx.sponsorships, src, 1).map_err(|_| f(R::LowReserve))?;
                st.update_account(src, |a| {
                    let at = a.signers.partition_point(|s| s.key < k.0);
                    a.signers.insert(at, AccountSigner { key: k.0, weight: w, sponsor });
                });
            }
        }
    }
    let domain = o.home_domain.as_ref().map(|d| d.0.to_utf8_string_lossy());
    st.update_account(src, |a| {
        a.flags = flags;
        for (i, w) in weights.iter().enumerate() {
            if let Some(w) = w {
                a.thresholds[i] = *w as u8;
            }
        }
        if let Some(d) = domain {
            a.home_domain = d;
        }
    });
    Ok(f(R::Success))
}

fn change_trust(st: &mut State, ctx: &TxCtx<'_>, src: &Id, o: &ChangeTrustOp) -> OpResult {
    use ChangeTrustResult as R;
    let f = OperationResultTr::ChangeTrust;
    let u = ctx.env.u;
    let what = match &o.line {
        ChangeTrustAsset::Native => return Err(f(R::Malformed)),
        ChangeTrustAsset::CreditAlphanum4(a) => asset_ix(u, &Asset::CreditAlphanum4(a.clone())).map(TrustAsset::Asset),
        ChangeTrustAsset::CreditAlphanum12(a) => {
            asset_ix(u, &Asset::CreditAlphanum12(a.clone())).map(TrustAsset::Asset)
        }
        ChangeTrustAsset::PoolShare(p) => {
            u.pools.iter().position(|x| x.params == *p).map(|i| TrustAsset::Pool(i as PoolIx))
        }
    };
    let Some(what) = what else { return Err(f(R::NoIssuer)) };
    if o.limit < 0 {
        return Err(f(R::InvalidLimit));
    }
    if let TrustAsset::Asset(a) = what {
        if u.is_issuer(src, a) {
            return Err(f(R::SelfNotAllowed));
        }
        if st.account(&u.asset(a).issuer).is_none() {
            return Err(f(R::NoIssuer));
        }
    }
    let key = Key::Trust(*src, what);
    let units = if matches!(what, TrustAsset::Pool(_)) { 2 } else { 1 };
    match st.trust(src, what).cloned() {
        Some(t) if o.limit == 0 => {
            if t.balance > 0 || t.liabilities.buying > 0 {
                return Err(f(R::InvalidLimit));
            }
            if t.pool_use > 0 || t.liabilities.selling > 0 {
                return Err(f(R::CannotDelete));
            }
            let sponsor = st.get(&key).and_then(|s| s.sponsor);
            st.remove(&key);
            remove_sub_entries(st, src, sponsor, units);
            if let TrustAsset::Pool(p) = what {
                pool_trustline_count(st, u, src, p, -1);
            }
            Ok(f(R::Success))
        }
        Some(t) => {
            if o.limit < t.balance + t.liabilities.buying {
                return Err(f(R::InvalidLimit));
            }
            st.update_trust(src, what, |t| t.limit = o.limit);
            Ok(f(R::Success))
        }
        None if o.limit == 0 => Err(f(R::InvalidLimit)),
        None => {
            let flags = match what {
                TrustAsset::Asset(a) => {
                    let issuer_flags = st.account(&u.asset(a).issuer).map_or(0, |i| i.flags);
                    let auth = if issuer_flags & AUTH_REQUIRED == 0 { TL_AUTHORIZED } else { 0 };
                    auth | if issuer_flags & AUTH_CLAWBACK != 0 { TL_CLAWBACK } else { 0 }
                }
                TrustAsset::Pool(p) => {
                    let info = u.pool(p);
                    for side in [info.a, info.b] {
                        if side == NATIVE || u.is_issuer(src, side) {
                            continue;
                        }
                        match st.trust(src, TrustAsset::Asset(side)) {
                            None => return Err(f(R::TrustLineMissing)),
                            Some(t) if !t.authorized() => return Err(f(R::NotAuthMaintainLiabilities)),
                            Some(_) => {}
                        }
                    }
                    TL_AUTHORIZED
                }
            };
            let sponsor = add_sub_entries(st, &ctx.env, &ctx.sponsorships, src, units).map_err(|_| f(R::LowReserve))?;
            let line = TrustLine { balance: 0, limit: o.limit, flags, liabilities: Default::default(), pool_use: 0 };
            st.create(key, Entry::Trust(line), sponsor);
            if let TrustAsset::Pool(p) = what {
                pool_trustline_count(st, u, src, p, 1);
            }
            Ok(f(R::Success))
        }
    }
}

/// Pool-share trustline added (+1) or removed (-1): the pool entry's count,
/// the pool's existence and the asset trustlines' use counts follow.
fn pool_trustline_count(st: &mut State, u: &Universe, owner: &Id, p: PoolIx, delta: i64) {
    let info = u.pool(p);
    if st.pool(p).is_none() {
        st.create(Key::Pool(p), Entry::Pool(Pool::default()), None);
    }
    st.update_pool(p, |pool| pool.trustlines += delta);
    if st.pool(p).is_some_and(|pool| pool.trustlines == 0) {
        st.remove(&Key::Pool(p));
    }
    for side in [info.a, info.b] {
        if side != NATIVE && st.trust(owner, TrustAsset::Asset(side)).is_some() {
            st.update_trust(owner, TrustAsset::Asset(side), |t| t.pool_use += delta as i32);
        }
    }
}

/// Issuer-side authorization change shared by AllowTrust and SetTrustLineFlags.
fn set_auth(st: &mut State, src: &Id, trustor: &Id, asset: AssetIx, new_flags: u32) -> Result<(), AuthErr> {
    let t = st.trust(trustor, TrustAsset::Asset(asset)).ok_or(AuthErr::NoTrustLine)?.clone();
    let issuer_flags = st.account(src).map_or(0, |a| a.flags);
    let auth_bits = TL_AUTHORIZED | TL_MAINTAIN;
    let revoking = (t.flags & TL_AUTHORIZED != 0 && new_flags & TL_AUTHORIZED == 0)
        || (t.flags & auth_bits != 0 && new_flags & auth_bits == 0);
    if revoking && issuer_flags & AUTH_REVOCABLE == 0 {
        return Err(AuthErr::CantRevoke);
    }
    // Pulling offers on full revocation is not simulated: refuse instead.
    if new_flags & auth_bits == 0 && (t.liabilities != Default::default() || t.pool_use > 0) {
        return Err(AuthErr::CantRevoke);
    }
    st.update_trust(trustor, TrustAsset::Asset(asset), |t| t.flags = new_flags);
    Ok(())
}

enum AuthErr {
    NoTrustLine,
    CantRevoke,
}

fn allow_trust(st: &mut State, ctx: &TxCtx<'_>, src: &Id, o: &AllowTrustOp) -> OpResult {
    use AllowTrustResult as R;
    let f = OperationResultTr::AllowTrust;
    let u = ctx.env.u;
    let trustor = pk(&o.trustor);
    if trustor == *src {
        return Err(f(R::SelfNotAllowed));
    }
    if o.authorize > TL_MAINTAIN {
        return Err(f(R::Malformed));
    }
    let asset = u.credit_assets().find(|&a| {
        let info = u.asset(a);
        info.issuer == *src
            && match (&o.asset, &info.xdr) {
                (AssetCode::CreditAlphanum4(c), Asset::CreditAlphanum4(x)) => *c == x.asset_code,
                (AssetCode::CreditAlphanum12(c), Asset::CreditAlphanum12(x)) => *c == x.asset_code,
                _ => false,
            }
    });
    let Some(asset) = asset else { return Err(f(R::NoTrustLine)) };
    let keep = st.trust(&trustor, TrustAsset::Asset(asset)).map_or(0, |t| t.flags & TL_CLAWBACK);
    set_auth(st, src, &trustor, asset, keep | o.authorize).map_err(|e| {
        f(match e {
            AuthErr::NoTrustLine => R::NoTrustLine,
            AuthErr::CantRevoke => R::CantRevoke,
        })
    })?;
    Ok(f(R::Success))
}

fn set_trust_line_flags(st: &mut State, ctx: &TxCtx<'_>, src: &Id, o: &SetTrustLineFlagsOp) -> OpResult {
    use SetTrustLineFlagsResult as R;
    let f = OperationResultTr::SetTrustLineFlags;
    let u = ctx.env.u;
    let trustor = pk(&o.trustor);
    let Some(asset) = asset_ix(u, &o.asset).filter(|&a| u.is_issuer(src, a)) else {
        return Err(f(R::Malformed));
    };
    if trustor == *src || o.set_flags & o.clear_flags != 0 || o.set_flags & TL_CLAWBACK != 0 {
        return Err(f(R::Malformed));
    }
    let Some(t) = st.trust(&trustor, TrustAsset::Asset(asset)) else { return Err(f(R::NoTrustLine)) };
    let new = (t.flags & !o.clear_flags) | o.set_flags;
    if new & TL_AUTHORIZED != 0 && new & TL_MAINTAIN != 0 {
        return Err(f(R::InvalidState));
    }
    set_auth(st, src, &trustor, asset, new).map_err(|e| {
        f(match e {
            AuthErr::NoTrustLine => R::NoTrustLine,
            AuthErr::CantRevoke => R::CantRevoke,
        })
    })?;
    Ok(f(R::Success))
}

fn account_merge(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    dest: &MuxedAccount,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use AccountMergeResult as R;
    let f = OperationResultTr::AccountMerge;
    let dest = muxed_id(dest);
    if dest == *src {
        return Err(f(R::Malformed));
    }
    if st.account(&dest).is_none() {
        return Err(f(R::NoAccount));
    }
    let a = st.account(src).expect("operation source exists").clone();
    if a.flags & 4 != 0 {
        return Err(f(R::ImmutableSet));
    }
    if a.num_sub_entries as usize != a.signers.len() {
        return Err(f(R::HasSubEntries));
    }
    if a.num_sponsoring > 0 {
        return Err(f(R::IsSponsor));
    }
    if a.seq >= i64::from(ctx.env.seq) << 32 {
        return Err(f(R::SeqnumTooFar));
    }
    credit(st, &ctx.env, &dest, NATIVE, a.balance).map_err(|_| f(R::DestFull))?;
    for s in &a.signers {
        if let Some(sp) = s.sponsor {
            release_sponsorship(st, src, &sp, 1);
        }
    }
    if let Some(sp) = st.get(&Key::Account(*src)).and_then(|s| s.sponsor) {
        release_sponsorship(st, src, &sp, 2);
    }
    st.remove(&Key::Account(*src));
    ev.push(events::transfer(ctx.env.u, NATIVE, &addr(src), &addr(&dest), a.balance));
    Ok(f(R::Success(a.balance)))
}

fn manage_data(st: &mut State, ctx: &TxCtx<'_>, src: &Id, o: &ManageDataOp) -> OpResult {
    use ManageDataResult as R;
    let f = OperationResultTr::ManageData;
    let name = o.data_name.0.to_utf8_string_lossy();
    if name.is_empty() || name.len() > 64 {
        return Err(f(R::InvalidName));
    }
    let key = Key::Data(*src, name);
    match (&o.data_value, st.contains(&key)) {
        (Some(v), true) => {
            let v = v.0.to_vec();
            st.update(&key, |s| s.entry = Entry::Data(v));
        }
        (Some(v), false) => {
            let sponsor = add_sub_entries(st, &ctx.env, &ctx.sponsorships, src, 1).map_err(|_| f(R::LowReserve))?;
            st.create(key, Entry::Data(v.0.to_vec()), sponsor);
        }
        (None, false) => return Err(f(R::NameNotFound)),
        (None, true) => {
            let sponsor = st.get(&key).and_then(|s| s.sponsor);
            st.remove(&key);
            remove_sub_entries(st, src, sponsor, 1);
        }
    }
    Ok(f(R::Success))
}

fn bump_sequence(st: &mut State, ctx: &TxCtx<'_>, src: &Id, to: i64) -> OpResult {
    let f = OperationResultTr::BumpSequence;
    if to < 0 {
        return Err(f(BumpSequenceResult::BadSeq));
    }
    let (seq, time) = (ctx.env.seq, ctx.env.close_time);
    st.update_account(src, |a| {
        if to > a.seq {
            a.seq = to;
            a.seq_ledger = seq;
            a.seq_time = time;
        }
    });
    Ok(f(BumpSequenceResult::Success))
}

/// The id of a claimable balance: sha256 of the operation id (tx source, tx seq, op index).
pub fn balance_id(tx_source: &Id, tx_seq: i64, index: u32) -> Id {
    super::universe::xdr_hash(&HashIdPreimage::OpId(HashIdPreimageOperationId {
        source_account: super::universe::account_id(tx_source),
        seq_num: SequenceNumber(tx_seq),
        op_num: index,
    }))
}

/// Relative time predicates become absolute when the balance is created.
fn absolute(p: &ClaimPredicate, now: u64) -> ClaimPredicate {
    match p {
        ClaimPredicate::BeforeRelativeTime(s) => ClaimPredicate::BeforeAbsoluteTime((now as i64).saturating_add(*s)),
        ClaimPredicate::Not(Some(inner)) => ClaimPredicate::Not(Some(Box::new(absolute(inner, now)))),
        ClaimPredicate::And(v) => ClaimPredicate::And(super::xdr::vecm(v.iter().map(|x| absolute(x, now)).collect())),
        ClaimPredicate::Or(v) => ClaimPredicate::Or(super::xdr::vecm(v.iter().map(|x| absolute(x, now)).collect())),
        other => other.clone(),
    }
}

pub fn predicate_holds(p: &ClaimPredicate, now: u64) -> bool {
    match p {
        ClaimPredicate::Unconditional => true,
        ClaimPredicate::BeforeAbsoluteTime(t) => (now as i64) < *t,
        ClaimPredicate::BeforeRelativeTime(_) => false,
        ClaimPredicate::Not(Some(inner)) => !predicate_holds(inner, now),
        ClaimPredicate::Not(None) => false,
        ClaimPredicate::And(v) => v.iter().all(|x| predicate_holds(x, now)),
        ClaimPredicate::Or(v) => v.iter().any(|x| predicate_holds(x, now)),
    }
}

fn create_claimable(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    index: u32,
    o: &CreateClaimableBalanceOp,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use CreateClaimableBalanceResult as R;
    let f = OperationResultTr::CreateClaimableBalance;
    let u = ctx.env.u;
    let Some(asset) = asset_ix(u, &o.asset) else { return Err(f(R::Malformed)) };
    let claimants: Vec<(Id, ClaimPredicate)> = o
        .claimants
        .iter()
        .map(|c| {
            let Claimant::ClaimantTypeV0(c) = c;
            (pk(&c.destination), absolute(&c.predicate, ctx.env.close_time))
        })
        .collect();
    let mut dests: Vec<Id> = claimants.iter().map(|c| c.0).collect();
    dests.sort_unstable();
    dests.dedup();
    if o.amount <= 0 || claimants.is_empty() || dests.len() != claimants.len() {
        return Err(f(R::Malformed));
    }
    debit(st, &ctx.env, src, asset, o.amount).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::NoTrust,
            MoveErr::NotAuthorized => R::NotAuthorized,
            _ => R::Underfunded,
        })
    })?;
    let sponsor = ctx.sponsorships.sponsor_of(src).unwrap_or(*src);
    let n = claimants.len() as u32;
    st.update_account(&sponsor, |a| a.num_sponsoring += n);
    if st.account(&sponsor).is_some_and(|a| a.available(ctx.env.base_reserve) < 0) {
        return Err(f(R::LowReserve));
    }
    let clawback = asset != NATIVE
        && (st.trust(src, TrustAsset::Asset(asset)).is_some_and(|t| t.flags & TL_CLAWBACK != 0)
            || (u.is_issuer(src, asset) && st.account(src).is_some_and(|a| a.flags & AUTH_CLAWBACK != 0)));
    let id = balance_id(&ctx.tx_source, ctx.tx_seq, index);
    st.create(
        Key::Balance(id),
        Entry::Balance(ClaimableBalance { claimants, asset, amount: o.amount, clawback }),
        Some(sponsor),
    );
    let cb = ScAddress::ClaimableBalance(ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)));
    ev.push(events::transfer(u, asset, &addr(src), &cb, o.amount));
    Ok(f(R::Success(ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)))))
}

/// Removes a claimable balance and frees its reserves.
fn drop_claimable(st: &mut State, id: &Id) -> Option<ClaimableBalance> {
    let stored = st.remove(&Key::Balance(*id))?;
    let Entry::Balance(b) = stored.entry else { return None };
    if let Some(sp) = stored.sponsor
        && st.account(&sp).is_some()
    {
        let n = b.claimants.len() as u32;
        st.update_account(&sp, |a| a.num_sponsoring -= n);
    }
    Some(b)
}

fn claim_claimable(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    id: &ClaimableBalanceId,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use ClaimClaimableBalanceResult as R;
    let f = OperationResultTr::ClaimClaimableBalance;
    let ClaimableBalanceId::ClaimableBalanceIdTypeV0(h) = id;
    let Some(b) = st.claimable(&h.0).cloned() else { return Err(f(R::DoesNotExist)) };
    if !b.claimants.iter().any(|(d, p)| d == src && predicate_holds(p, ctx.env.close_time)) {
        return Err(f(R::CannotClaim));
    }
    drop_claimable(st, &h.0);
    credit(st, &ctx.env, src, b.asset, b.amount).map_err(|e| {
        f(match e {
            MoveErr::NoTrust => R::NoTrust,
            MoveErr::NotAuthorized => R::NotAuthorized,
            _ => R::LineFull,
        })
    })?;
    ev.push(events::transfer(ctx.env.u, b.asset, &ScAddress::ClaimableBalance(id.clone()), &addr(src), b.amount));
    Ok(f(R::Success))
}

fn clawback_claimable(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    id: &ClaimableBalanceId,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use ClawbackClaimableBalanceResult as R;
    let f = OperationResultTr::ClawbackClaimableBalance;
    let ClaimableBalanceId::ClaimableBalanceIdTypeV0(h) = id;
    let Some(b) = st.claimable(&h.0).cloned() else { return Err(f(R::DoesNotExist)) };
    if !ctx.env.u.is_issuer(src, b.asset) {
        return Err(f(R::NotIssuer));
    }
    if !b.clawback {
        return Err(f(R::NotClawbackEnabled));
    }
    drop_claimable(st, &h.0);
    ev.push(events::clawback(ctx.env.u, b.asset, &ScAddress::ClaimableBalance(id.clone()), b.amount));
    Ok(f(R::Success))
}

fn clawback(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    asset: &Asset,
    from: &MuxedAccount,
    amount: i64,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use ClawbackResult as R;
    let f = OperationResultTr::Clawback;
    let u = ctx.env.u;
    let from = muxed_id(from);
    let Some(asset) = asset_ix(u, asset).filter(|&a| u.is_issuer(src, a)) else { return Err(f(R::Malformed)) };
    if amount <= 0 || from == *src {
        return Err(f(R::Malformed));
    }
    let Some(t) = st.trust(&from, TrustAsset::Asset(asset)) else { return Err(f(R::NoTrust)) };
    if t.flags & TL_CLAWBACK == 0 {
        return Err(f(R::NotClawbackEnabled));
    }
    if t.available() < amount {
        return Err(f(R::Underfunded));
    }
    st.update_trust(&from, TrustAsset::Asset(asset), |t| t.balance -= amount);
    ev.push(events::clawback(u, asset, &addr(&from), amount));
    Ok(f(R::Success))
}

fn begin_sponsoring(ctx: &mut TxCtx<'_>, src: &Id, sponsored: &Id) -> OpResult {
    use BeginSponsoringFutureReservesResult as R;
    let f = OperationResultTr::BeginSponsoringFutureReserves;
    if sponsored == src {
        return Err(f(R::Malformed));
    }
    let sp = &ctx.sponsorships;
    if sp.sponsor_of(sponsored).is_some() {
        return Err(f(R::AlreadySponsored));
    }
    if sp.sponsor_of(src).is_some() || sp.pairs.iter().any(|(_, s)| s == sponsored) {
        return Err(f(R::Recursive));
    }
    ctx.sponsorships.pairs.push((*sponsored, *src));
    Ok(f(R::Success))
}

fn end_sponsoring(ctx: &mut TxCtx<'_>, src: &Id) -> OpResult {
    use EndSponsoringFutureReservesResult as R;
    let f = OperationResultTr::EndSponsoringFutureReserves;
    match ctx.sponsorships.pairs.iter().position(|(s, _)| s == src) {
        Some(i) => {
            ctx.sponsorships.pairs.remove(i);
            Ok(f(R::Success))
        }
        None => Err(f(R::NotSponsored)),
    }
}

fn revoke_sponsorship(st: &mut State, ctx: &TxCtx<'_>, src: &Id, o: &RevokeSponsorshipOp) -> OpResult {
    use RevokeSponsorshipResult as R;
    let f = OperationResultTr::RevokeSponsorship;
    let RevokeSponsorshipOp::LedgerEntry(lk) = o else { return Err(f(R::DoesNotExist)) };
    let Some(key) = key_from_xdr(ctx.env.u, lk) else { return Err(f(R::DoesNotExist)) };
    let (owner, units) = match &key {
        Key::Account(id) => (*id, 2),
        Key::Trust(id, TrustAsset::Pool(_)) => (*id, 2),
        Key::Trust(id, _) | Key::Data(id, _) => (*id, 1),
        _ => return Err(f(R::OnlyTransferable)),
    };
    let Some(stored) = st.get(&key) else { return Err(f(R::DoesNotExist)) };
    if stored.sponsor != Some(*src) {
        return Err(f(R::NotSponsor));
    }
    st.update(&key, |s| s.sponsor = None);
    release_sponsorship(st, &owner, src, units);
    if st.account(&owner).is_some_and(|a| a.available(ctx.env.base_reserve) < 0) {
        return Err(f(R::LowReserve));
    }
    Ok(f(R::Success))
}

fn pool_ix(u: &Universe, id: &Hash) -> Option<PoolIx> {
    u.pools.iter().position(|p| p.id == id.0).map(|i| i as PoolIx)
}

/// Integer square root (floor).
fn isqrt(v: i128) -> i128 {
    if v < 2 {
        return v.max(0);
    }
    let mut x = (v as f64).sqrt() as i128;
    while x * x > v {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= v {
        x += 1;
    }
    x
}

fn pool_deposit(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    o: &LiquidityPoolDepositOp,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use LiquidityPoolDepositResult as R;
    let f = OperationResultTr::LiquidityPoolDeposit;
    let u = ctx.env.u;
    let Some(ix) = pool_ix(u, &o.liquidity_pool_id.0) else { return Err(f(R::NoTrust)) };
    if o.max_amount_a <= 0
        || o.max_amount_b <= 0
        || o.min_price.n <= 0
        || o.min_price.d <= 0
        || o.max_price.n <= 0
        || o.max_price.d <= 0
    {
        return Err(f(R::Malformed));
    }
    if st.trust(src, TrustAsset::Pool(ix)).is_none() {
        return Err(f(R::NoTrust));
    }
    let p = st.pool(ix).cloned().expect("a pool exists while trustlines to it do");
    let info = u.pool(ix);
    let (a, b, shares) = if p.shares == 0 {
        let s = isqrt(i128::from(o.max_amount_a) * i128::from(o.max_amount_b)) as i64;
        (o.max_amount_a, o.max_amount_b, s)
    } else {
        let (ra, rb, s) = (p.reserve_a, p.reserve_b, p.shares);
        let b_needed = mul_div_ceil(o.max_amount_a, rb, ra);
        let (a, b) = if b_needed <= o.max_amount_b {
            (o.max_amount_a, b_needed)
        } else {
            (mul_div_ceil(o.max_amount_b, ra, rb), o.max_amount_b)
        };
        let shares =
            (i128::from(a) * i128::from(s) / i128::from(ra)).min(i128::from(b) * i128::from(s) / i128::from(rb));
        (a, b, shares as i64)
    };
    if a <= 0 || b <= 0 || shares <= 0 {
        return Err(f(R::BadPrice));
    }
    let (a128, b128) = (i128::from(a), i128::from(b));
    let below_min = a128 * i128::from(o.min_price.d) < b128 * i128::from(o.min_price.n);
    let above_max = a128 * i128::from(o.max_price.d) > b128 * i128::from(o.max_price.n);
    if below_min || above_max {
        return Err(f(R::BadPrice));
    }
    for (asset, amount) in [(info.a, a), (info.b, b)] {
        debit(st, &ctx.env, src, asset, amount).map_err(|e| {
            f(match e {
                MoveErr::NoTrust => R::NoTrust,
                MoveErr::NotAuthorized => R::NotAuthorized,
                _ => R::Underfunded,
            })
        })?;
    }
    if st.trust(src, TrustAsset::Pool(ix)).is_some_and(|t| t.room() < shares) {
        return Err(f(R::LineFull));
    }
    st.update_trust(src, TrustAsset::Pool(ix), |t| t.balance += shares);
    st.update_pool(ix, |p| {
        p.reserve_a += a;
        p.reserve_b += b;
        p.shares += shares;
    });
    let pool_addr = ScAddress::LiquidityPool(o.liquidity_pool_id.clone());
    ev.push(events::transfer(u, info.a, &addr(src), &pool_addr, a));
    ev.push(events::transfer(u, info.b, &addr(src), &pool_addr, b));
    Ok(f(R::Success))
}

fn pool_withdraw(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    o: &LiquidityPoolWithdrawOp,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    use LiquidityPoolWithdrawResult as R;
    let f = OperationResultTr::LiquidityPoolWithdraw;
    let u = ctx.env.u;
    let Some(ix) = pool_ix(u, &o.liquidity_pool_id.0) else { return Err(f(R::NoTrust)) };
    if o.amount <= 0 || o.min_amount_a < 0 || o.min_amount_b < 0 {
        return Err(f(R::Malformed));
    }
    let Some(t) = st.trust(src, TrustAsset::Pool(ix)) else { return Err(f(R::NoTrust)) };
    if t.balance < o.amount {
        return Err(f(R::Underfunded));
    }
    let p = st.pool(ix).cloned().expect("a pool exists while trustlines to it do");
    let a = (i128::from(o.amount) * i128::from(p.reserve_a) / i128::from(p.shares)) as i64;
    let b = (i128::from(o.amount) * i128::from(p.reserve_b) / i128::from(p.shares)) as i64;
    if a < o.min_amount_a || b < o.min_amount_b {
        return Err(f(R::UnderMinimum));
    }
    let info = u.pool(ix);
    st.update_trust(src, TrustAsset::Pool(ix), |t| t.balance -= o.amount);
    st.update_pool(ix, |p| {
        p.reserve_a -= a;
        p.reserve_b -= b;
        p.shares -= o.amount;
    });
    let pool_addr = ScAddress::LiquidityPool(o.liquidity_pool_id.clone());
    for (asset, amount) in [(info.a, a), (info.b, b)] {
        if amount > 0 {
            credit(st, &ctx.env, src, asset, amount).map_err(|e| {
                f(match e {
                    MoveErr::LineFull => R::LineFull,
                    MoveErr::NotAuthorized => R::TrustlineFrozen,
                    _ => R::NoTrust,
                })
            })?;
            ev.push(events::transfer(u, asset, &pool_addr, &addr(src), amount));
        }
    }
    Ok(f(R::Success))
}
