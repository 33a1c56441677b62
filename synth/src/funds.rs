//! Moving money and reserves: checked debits and credits (the result codes
//! operations map them to), offer liabilities, sub-entry reserves and
//! sponsorship. Issuers hold unlimited amounts of their own asset, so moving
//! it to or from them mints or burns.

use super::state::{Offer, State, TrustAsset};
use super::universe::{AssetIx, Id, NATIVE, Universe};

/// Why a balance could not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveErr {
    NoAccount,
    NoTrust,
    NotAuthorized,
    Underfunded,
    LineFull,
}

/// What a transaction needs to know about its environment.
pub struct Env<'a> {
    pub u: &'a Universe,
    pub base_reserve: i64,
    pub seq: u32,
    pub close_time: u64,
}

/// Spendable amount of an asset (ignoring authorization).
pub fn available(st: &State, env: &Env<'_>, who: &Id, asset: AssetIx) -> i64 {
    if env.u.is_issuer(who, asset) {
        return i64::MAX;
    }
    if asset == NATIVE {
        return st.account(who).map_or(0, |a| a.available(env.base_reserve).max(0));
    }
    st.trust(who, TrustAsset::Asset(asset)).map_or(0, |t| if t.authorized() { t.available().max(0) } else { 0 })
}

pub fn debit(st: &mut State, env: &Env<'_>, who: &Id, asset: AssetIx, amount: i64) -> Result<(), MoveErr> {
    if env.u.is_issuer(who, asset) {
        return if st.account(who).is_some() { Ok(()) } else { Err(MoveErr::NoAccount) };
    }
    if asset == NATIVE {
        let a = st.account(who).ok_or(MoveErr::NoAccount)?;
        if a.available(env.base_reserve) < amount {
            return Err(MoveErr::Underfunded);
        }
        st.update_account(who, |a| a.balance -= amount);
        return Ok(());
    }
    let t = st.trust(who, TrustAsset::Asset(asset)).ok_or(MoveErr::NoTrust)?;
    if !t.authorized() {
        return Err(MoveErr::NotAuthorized);
    }
    if t.available() < amount {
        return Err(MoveErr::Underfunded);
    }
    st.update_trust(who, TrustAsset::Asset(asset), |t| t.balance -= amount);
    Ok(())
}

pub fn credit(st: &mut State, env: &Env<'_>, who: &Id, asset: AssetIx, amount: i64) -> Result<(), MoveErr> {
    if env.u.is_issuer(who, asset) {
        return if st.account(who).is_some() { Ok(()) } else { Err(MoveErr::NoAccount) };
    }
    if asset == NATIVE {
        let a = st.account(who).ok_or(MoveErr::NoAccount)?;
        if a.balance.checked_add(amount).and_then(|b| b.checked_add(a.liabilities.buying)).is_none() {
            return Err(MoveErr::LineFull);
        }
        st.update_account(who, |a| a.balance += amount);
        return Ok(());
    }
    if st.account(who).is_none() {
        return Err(MoveErr::NoAccount);
    }
    let t = st.trust(who, TrustAsset::Asset(asset)).ok_or(MoveErr::NoTrust)?;
    if !t.authorized() {
        return Err(MoveErr::NotAuthorized);
    }
    if t.room() < amount {
        return Err(MoveErr::LineFull);
    }
    st.update_trust(who, TrustAsset::Asset(asset), |t| t.balance += amount);
    Ok(())
}

/// Moves a balance without checks: for offer owners, whose liabilities
/// already reserved what a trade takes.
pub fn raw_adjust(st: &mut State, env: &Env<'_>, who: &Id, asset: AssetIx, delta: i64) {
    if delta == 0 || env.u.is_issuer(who, asset) {
        return;
    }
    if asset == NATIVE {
        st.update_account(who, |a| a.balance += delta);
    } else {
        st.update_trust(who, TrustAsset::Asset(asset), |t| t.balance += delta);
    }
}

/// ceil(a * n / d) without overflow for the amounts the generator uses.
pub fn mul_div_ceil(a: i64, n: i64, d: i64) -> i64 {
    let v = (i128::from(a) * i128::from(n) + i128::from(d) - 1) / i128::from(d);
    v.min(i128::from(i64::MAX)) as i64
}

pub fn mul_div_floor(a: i64, n: i64, d: i64) -> i64 {
    let v = i128::from(a) * i128::from(n) / i128::from(d);
    v.min(i128::from(i64::MAX)) as i64
}

/// Selling and buying liabilities an offer places on its owner.
pub fn offer_liabilities(o: &Offer) -> (i64, i64) {
    (o.amount, mul_div_ceil(o.amount, i64::from(o.price.n), i64::from(o.price.d)))
}

/// Adds (`sign` 1) or releases (`sign` -1) an offer's liabilities.
pub fn apply_liabilities(st: &mut State, env: &Env<'_>, seller: &Id, o: &Offer, sign: i64) {
    let (sell, buy) = offer_liabilities(o);
    for (asset, selling, amount) in [(o.selling, true, sell * sign), (o.buying, false, buy * sign)] {
        if amount == 0 || env.u.is_issuer(seller, asset) {
            continue;
        }
        if asset == NATIVE {
            st.update_account(seller, |a| {
                if selling { a.liabilities.selling += amount } else { a.liabilities.buying += amount }
            });
        } else {
            st.update_trust(seller, TrustAsset::Asset(asset), |t| {
                if selling { t.liabilities.selling += amount } else { t.liabilities.buying += amount }
            });
        }
    }
}

/// Active "begin sponsoring future reserves" pairs of one transaction.
#[derive(Debug, Default, Clone)]
pub struct Sponsorships {
    /// (sponsored, sponsor)
    pub pairs: Vec<(Id, Id)>,
}

impl Sponsorships {
    pub fn sponsor_of(&self, who: &Id) -> Option<Id> {
        self.pairs.iter().find(|(s, _)| s == who).map(|(_, sp)| *sp)
    }
}

/// The account's native balance still covers its reserve and selling liabilities.
fn reserve_ok(st: &State, env: &Env<'_>, who: &Id) -> bool {
    st.account(who).is_some_and(|a| a.available(env.base_reserve) >= 0)
}

/// Reserves `n` sub-entries for `owner` (paid by its active sponsor if any).
/// Returns the sponsor to record on the new entry, or `Err` on low reserve.
pub fn add_sub_entries(st: &mut State, env: &Env<'_>, sp: &Sponsorships, owner: &Id, n: u32) -> Result<Option<Id>, ()> {
    let sponsor = sp.sponsor_of(owner);
    st.update_account(owner, |a| a.num_sub_entries += n);
    match sponsor {
        Some(s) => {
            st.update_account(&s, |a| a.num_sponsoring += n);
            st.update_account(owner, |a| a.num_sponsored += n);
            if reserve_ok(st, env, &s) { Ok(Some(s)) } else { Err(()) }
        }
        None => {
            if reserve_ok(st, env, owner) {
                Ok(None)
            } else {
                Err(())
            }
        }
    }
}

/// Releases `n` sub-entries of a removed entry (and its sponsorship).
pub fn remove_sub_entries(st: &mut State, owner: &Id, sponsor: Option<Id>, n: u32) {
    st.update_account(owner, |a| a.num_sub_entries -= n);
    if let Some(s) = sponsor {
        release_sponsorship(st, owner, &s, n);
    }
}

/// Ends the sponsorship of `n` reserves of `owner` by `sponsor`.
pub fn release_sponsorship(st: &mut State, owner: &Id, sponsor: &Id, n: u32) {
    if st.account(sponsor).is_some() {
        st.update_account(sponsor, |a| a.num_sponsoring -= n);
    }
    if st.account(owner).is_some() {
        st.update_account(owner, |a| a.num_sponsored -= n);
    }
}
