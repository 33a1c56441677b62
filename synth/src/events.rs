//! Contract events as protocol 23+ emits them for classic operations (CAP-67
//! unified asset events from the Stellar Asset Contract) and for fees.

use stellar_xdr::{
    ClaimAtom, ContractEvent, ContractEventBody, ContractEventType, ContractEventV0, ContractId, ExtensionPoint, Hash,
    ScAddress, ScString, ScVal,
};

use super::universe::{AssetIx, Id, Universe, account_id};
use super::xdr::{i128_val, symbol, vecm};

pub fn contract_event(contract: &Id, topics: Vec<ScVal>, data: ScVal) -> ContractEvent {
    ContractEvent {
        ext: ExtensionPoint::V0,
        contract_id: Some(ContractId(Hash(*contract))),
        type_: ContractEventType::Contract,
        body: ContractEventBody::V0(ContractEventV0 { topics: vecm(topics), data }),
    }
}

fn asset_name(u: &Universe, asset: AssetIx) -> ScVal {
    ScVal::String(ScString(u.asset(asset).event_name.as_str().try_into().expect("asset names are short")))
}

fn is_issuer(u: &Universe, a: &ScAddress, asset: AssetIx) -> bool {
    asset != 0 && *a == ScAddress::Account(account_id(&u.asset(asset).issuer))
}

/// `transfer`, or `mint` / `burn` when the issuer is one side.
pub fn transfer(u: &Universe, asset: AssetIx, from: &ScAddress, to: &ScAddress, amount: i64) -> ContractEvent {
    let sac = &u.asset(asset).sac;
    let name = asset_name(u, asset);
    let data = i128_val(i128::from(amount));
    if is_issuer(u, from, asset) {
        contract_event(sac, vec![symbol("mint"), ScVal::Address(to.clone()), name], data)
    } else if is_issuer(u, to, asset) {
        contract_event(sac, vec![symbol("burn"), ScVal::Address(from.clone()), name], data)
    } else {
        contract_event(
            sac,
            vec![symbol("transfer"), ScVal::Address(from.clone()), ScVal::Address(to.clone()), name],
            data,
        )
    }
}

pub fn clawback(u: &Universe, asset: AssetIx, from: &ScAddress, amount: i64) -> ContractEvent {
    contract_event(
        &u.asset(asset).sac,
        vec![symbol("clawback"), ScVal::Address(from.clone()), asset_name(u, asset)],
        i128_val(i128::from(amount)),
    )
}

/// The fee event of a transaction (negative for a refund).
pub fn fee(u: &Universe, payer: &Id, amount: i64) -> ContractEvent {
    contract_event(
        &u.asset(0).sac,
        vec![symbol("fee"), ScVal::Address(ScAddress::Account(account_id(payer)))],
        i128_val(i128::from(amount)),
    )
}

fn atom_parts(a: &ClaimAtom) -> Option<(ScAddress, &stellar_xdr::Asset, i64, &stellar_xdr::Asset, i64)> {
    match a {
        ClaimAtom::OrderBook(o) => Some((
            ScAddress::Account(o.seller_id.clone()),
            &o.asset_sold,
            o.amount_sold,
            &o.asset_bought,
            o.amount_bought,
        )),
        ClaimAtom::LiquidityPool(p) => Some((
            ScAddress::LiquidityPool(p.liquidity_pool_id.clone()),
            &p.asset_sold,
            p.amount_sold,
            &p.asset_bought,
            p.amount_bought,
        )),
        ClaimAtom::V0(_) => None,
    }
}

/// Two transfers per trade: the taker pays the maker, the maker delivers.
pub fn trades(u: &Universe, taker: &ScAddress, atoms: &[ClaimAtom], out: &mut Vec<ContractEvent>) {
    let ix = |a: &stellar_xdr::Asset| u.assets.iter().position(|x| x.xdr == *a).map(|i| i as AssetIx);
    for atom in atoms {
        let Some((maker, sold, sold_amount, bought, bought_amount)) = atom_parts(atom) else { continue };
        if let (Some(s), Some(b)) = (ix(sold), ix(bought)) {
            out.push(transfer(u, b, taker, &maker, bought_amount));
            out.push(transfer(u, s, &maker, taker, sold_amount));
        }
    }
}
