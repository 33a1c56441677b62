//! The exchange: order-book fills, constant-product pool trades, and path
//! payment hops that take whichever of the two gives the better rate.
//!
//! Rounding favours the resting side (offer owners and pools), so amounts are
//! conserved exactly: what the taker pays is what the makers receive.

use stellar_xdr::{ClaimAtom, ClaimLiquidityAtom, ClaimOfferAtom, Hash, PoolId};

use super::funds::{Env, apply_liabilities, mul_div_ceil, mul_div_floor, raw_adjust, remove_sub_entries};
use super::state::{Key, Px, State};
use super::universe::{AssetIx, Id, PoolIx, Universe, account_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopErr {
    TooFewOffers,
    CrossSelf,
}

/// How much of a walk is bounded: by what the taker gives or by what it gets.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Give at most this much of `from`.
    Give(i64),
    /// Get at most this much of `to`.
    Get(i64),
}

/// One offer taken (partly): `take` of `to` from the maker for `pay` of `from`.
#[derive(Debug, Clone)]
pub struct Fill {
    pub seller: Id,
    pub offer_id: i64,
    pub take: i64,
    pub pay: i64,
    /// The offer keeps a remainder.
    pub partial: bool,
}

/// Walks the offers selling `to` for `from`, best price first. `cap` is the
/// taker's own price (units of `to` per `from`) for manage-offer crossing
/// (`strict` for passive offers, which do not take equal prices). Returns the
/// fills and what is left of the mode's bound.
pub fn book_fills(
    st: &State,
    taker: &Id,
    from: AssetIx,
    to: AssetIx,
    mode: Mode,
    cap: Option<(Px, bool)>,
) -> Result<(Vec<Fill>, i64), HopErr> {
    let mut rem = match mode {
        Mode::Give(x) | Mode::Get(x) => x,
    };
    let mut fills = Vec::new();
    let Some(book) = st.books.get(&(to, from)) else { return Ok((fills, rem)) };
    for &(q, offer_id, seller) in book.iter() {
        if rem <= 0 {
            break;
        }
        if let Some((p, strict)) = cap {
            // Crosses when q <= 1/p (q < 1/p for passive offers).
            let lhs = i64::from(q.n) * i64::from(p.n);
            let rhs = i64::from(q.d) * i64::from(p.d);
            if lhs > rhs || (strict && lhs == rhs) {
                break;
            }
        }
        let Some(o) = st.offer(&seller, offer_id) else { continue };
        let (n, d) = (i64::from(q.n), i64::from(q.d));
        let take = match mode {
            Mode::Give(_) => o.amount.min(mul_div_floor(rem, d, n)),
            Mode::Get(_) => o.amount.min(rem),
        };
        if take <= 0 {
            break;
        }
        if seller == *taker {
            return Err(HopErr::CrossSelf);
        }
        let pay = mul_div_ceil(take, n, d);
        rem -= match mode {
            Mode::Give(_) => pay,
            Mode::Get(_) => take,
        };
        fills.push(Fill { seller, offer_id, take, pay, partial: take < o.amount });
        if fills.len() >= 64 {
            break;
        }
    }
    Ok((fills, rem))
}

/// Executes fills against their offers: makers deliver `to`, receive `from`.
pub fn execute_fills(
    st: &mut State,
    env: &Env<'_>,
    fills: &[Fill],
    from: AssetIx,
    to: AssetIx,
    atoms: &mut Vec<ClaimAtom>,
) {
    for f in fills {
        let o = st.offer(&f.seller, f.offer_id).cloned().expect("filled offers exist");
        apply_liabilities(st, env, &f.seller, &o, -1);
        raw_adjust(st, env, &f.seller, to, -f.take);
        raw_adjust(st, env, &f.seller, from, f.pay);
        let left = o.amount - f.take;
        let key = Key::Offer(f.seller, f.offer_id);
        if left == 0 {
            let sponsor = st.get(&key).and_then(|s| s.sponsor);
            st.remove(&key);
            remove_sub_entries(st, &f.seller, sponsor, 1);
        } else {
            st.update_offer(&f.seller, f.offer_id, |o| o.amount = left);
            let updated = st.offer(&f.seller, f.offer_id).cloned().expect("offer just updated");
            apply_liabilities(st, env, &f.seller, &updated, 1);
        }
        atoms.push(ClaimAtom::OrderBook(ClaimOfferAtom {
            seller_id: account_id(&f.seller),
            offer_id: f.offer_id,
            asset_sold: env.u.asset(to).xdr.clone(),
            amount_sold: f.take,
            asset_bought: env.u.asset(from).xdr.clone(),
            amount_bought: f.pay,
        }));
    }
}

/// Pool reserves oriented as (reserve of `from`, reserve of `to`).
fn pool_reserves(st: &State, u: &Universe, from: AssetIx, to: AssetIx) -> Option<(PoolIx, i64, i64)> {
    let ix = u.pool_for(from, to)?;
    let p = st.pool(ix)?;
    let info = u.pool(ix);
    let (rin, rout) = if info.a == from { (p.reserve_a, p.reserve_b) } else { (p.reserve_b, p.reserve_a) };
    (rin > 0 && rout > 0).then_some((ix, rin, rout))
}

const FEE_DEN: i128 = 10_000;
const FEE_KEEP: i128 = FEE_DEN - super::universe::POOL_FEE_BPS as i128;

/// What a pool pays out for `inp` of `from`.
pub fn pool_out(st: &State, u: &Universe, from: AssetIx, to: AssetIx, inp: i64) -> Option<(PoolIx, i64)> {
    let (ix, rin, rout) = pool_reserves(st, u, from, to)?;
    let num = i128::from(rout) * i128::from(inp) * FEE_KEEP;
    let den = i128::from(rin) * FEE_DEN + i128::from(inp) * FEE_KEEP;
    let out = (num / den) as i64;
    (out > 0).then_some((ix, out))
}

/// What a pool wants in `from` to pay out `out` of `to`.
pub fn pool_in(st: &State, u: &Universe, from: AssetIx, to: AssetIx, out: i64) -> Option<(PoolIx, i64)> {
    let (ix, rin, rout) = pool_reserves(st, u, from, to)?;
    if out >= rout {
        return None;
    }
    let num = i128::from(rin) * i128::from(out) * FEE_DEN;
    let den = i128::from(rout - out) * FEE_KEEP;
    let inp = (num + den - 1) / den;
    (inp > 0 && inp < i128::from(i64::MAX / 4)).then_some((ix, inp as i64))
}

#[allow(clippy::too_many_arguments)]
fn pool_execute(
    st: &mut State,
    u: &Universe,
    ix: PoolIx,
    from: AssetIx,
    to: AssetIx,
    inp: i64,
    out: i64,
    atoms: &mut Vec<ClaimAtom>,
) {
    let a_is_from = u.pool(ix).a == from;
    st.update_pool(ix, |p| {
        if a_is_from {
            p.reserve_a += inp;
            p.reserve_b -= out;
        } else {
            p.reserve_b += inp;
            p.reserve_a -= out;
        }
    });
    atoms.push(ClaimAtom::LiquidityPool(ClaimLiquidityAtom {
        liquidity_pool_id: PoolId(Hash(u.pool(ix).id)),
        asset_sold: u.asset(to).xdr.clone(),
        amount_sold: out,
        asset_bought: u.asset(from).xdr.clone(),
        amount_bought: inp,
    }));
}

/// Strict-send hop: gives exactly `send` of `from`, returns what it gets of
/// `to`. With `exec` the trades happen; without, it is a quote.
pub fn hop_send(
    st: &mut State,
    env: &Env<'_>,
    taker: &Id,
    from: AssetIx,
    to: AssetIx,
    send: i64,
    exec: Option<&mut Vec<ClaimAtom>>,
) -> Result<i64, HopErr> {
    let book = book_fills(st, taker, from, to, Mode::Give(send), None).and_then(|(mut fills, rem)| {
        if rem > 0 {
            // Dust the last partial fill cannot convert goes to its maker.
            match fills.last_mut() {
                Some(last) if last.partial => last.pay += rem,
                _ => return Err(HopErr::TooFewOffers),
            }
        }
        Ok(fills)
    });
    let book_out = book.as_ref().ok().map(|f| f.iter().map(|x| x.take).sum::<i64>());
    let pool = pool_out(st, env.u, from, to, send);
    match (book_out, pool) {
        (_, Some((ix, out))) if book_out.is_none_or(|b| out > b) => {
            if let Some(atoms) = exec {
                pool_execute(st, env.u, ix, from, to, send, out, atoms);
            }
            Ok(out)
        }
        (Some(out), _) => {
            if let Some(atoms) = exec {
                execute_fills(st, env, &book.expect("book quote exists"), from, to, atoms);
            }
            Ok(out)
        }
        _ => Err(book.err().unwrap_or(HopErr::TooFewOffers)),
    }
}

/// Strict-receive hop: gets exactly `want` of `to`, returns what it pays in `from`.
pub fn hop_receive(
    st: &mut State,
    env: &Env<'_>,
    taker: &Id,
    from: AssetIx,
    to: AssetIx,
    want: i64,
    exec: Option<&mut Vec<ClaimAtom>>,
) -> Result<i64, HopErr> {
    let book = book_fills(st, taker, from, to, Mode::Get(want), None)
        .and_then(|(fills, rem)| if rem > 0 { Err(HopErr::TooFewOffers) } else { Ok(fills) });
    let book_in = book.as_ref().ok().map(|f| f.iter().map(|x| x.pay).sum::<i64>());
    let pool = pool_in(st, env.u, from, to, want);
    match (book_in, pool) {
        (_, Some((ix, inp))) if book_in.is_none_or(|b| inp < b) => {
            if let Some(atoms) = exec {
                pool_execute(st, env.u, ix, from, to, inp, want, atoms);
            }
            Ok(inp)
        }
        (Some(inp), _) => {
            if let Some(atoms) = exec {
                execute_fills(st, env, &book.expect("book quote exists"), from, to, atoms);
            }
            Ok(inp)
        }
        _ => Err(book.err().unwrap_or(HopErr::TooFewOffers)),
    }
}

/// The asset path without consecutive repeats: send asset, hops, destination asset.
pub fn full_path(send: AssetIx, path: &[AssetIx], dest: AssetIx) -> Vec<AssetIx> {
    let mut out = vec![send];
    for &a in path.iter().chain(std::iter::once(&dest)) {
        if out.last() != Some(&a) {
            out.push(a);
        }
    }
    out
}

/// Quote for a strict-send path: how much of the destination asset `send` buys.
pub fn quote_send(st: &mut State, env: &Env<'_>, taker: &Id, path: &[AssetIx], send: i64) -> Option<i64> {
    let mut amount = send;
    for w in path.windows(2) {
        amount = hop_send(st, env, taker, w[0], w[1], amount, None).ok()?;
    }
    Some(amount)
}

/// Quote for a strict-receive path: how much of the send asset `want` costs.
pub fn quote_receive(st: &mut State, env: &Env<'_>, taker: &Id, path: &[AssetIx], want: i64) -> Option<i64> {
    let mut amount = want;
    for w in path.windows(2).rev() {
        amount = hop_receive(st, env, taker, w[0], w[1], amount, None).ok()?;
    }
    Some(amount)
}
