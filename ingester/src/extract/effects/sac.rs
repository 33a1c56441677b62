//! Account and contract credits/debits from Stellar Asset Contract events
//! (transfer, mint, clawback, burn) of an invoke-host-function operation.
//!
//! An event counts only when its contract id is the asset's SAC id on this
//! network (the Go SDK's integrity check), so look-alike tokens are ignored.

use serde_json::json;
use sha2::{Digest, Sha256};
use stellar_xdr::{
    AlphaNum4, AlphaNum12, Asset, AssetCode4, AssetCode12, ContractEvent, ContractEventBody, ContractEventType,
    ContractIdPreimage, Hash, HashIdPreimage, HashIdPreimageContractId, Limits, ScAddress, ScVal, WriteXdr,
};

use super::details::{Details, add_asset, amount_i128};
use super::{Effect, Kind, OpInput};

/// One SAC balance movement: who lost and who gained `amount` of `asset`.
struct Movement {
    name: &'static str,
    asset: Asset,
    from: Option<ScAddress>,
    to: Option<ScAddress>,
    amount: i128,
}

pub fn effects(input: &OpInput<'_>, out: &mut Vec<Effect>) {
    for event in input.events {
        let Some(m) = movement(event, input.network_id) else { continue };
        let mut d = Details::new();
        add_asset(&mut d, &m.asset, "");
        d.insert("contract_event_type".into(), m.name.into());
        d.insert("amount".into(), amount_i128(m.amount).into());
        if let Some(from) = &m.from {
            out.push(side(input, from, d.clone(), Kind::AccountDebited, Kind::ContractDebited));
        }
        if let Some(to) = &m.to {
            out.push(side(input, to, d, Kind::AccountCredited, Kind::ContractCredited));
        }
    }
}

/// An account gets an account effect; any other address (contract, muxed,
/// balance, pool) a contract effect on the operation source naming it.
fn side(input: &OpInput<'_>, addr: &ScAddress, mut d: Details, account: Kind, contract: Kind) -> Effect {
    match addr {
        ScAddress::Account(a) => Effect::account(a, account, d),
        other => {
            d.insert("contract".into(), json!(other.to_string()));
            Effect::muxed(&input.source, contract, d)
        }
    }
}

/// Parses a SAC event. Topics: `transfer from to asset`; `mint [admin] to
/// asset`; `clawback [admin] from asset`; `burn from asset` (the admin topic
/// was dropped in protocol 23). Data: an i128, or a map with an `amount` key.
fn movement(event: &ContractEvent, network_id: &[u8; 32]) -> Option<Movement> {
    if event.type_ != ContractEventType::Contract {
        return None;
    }
    let contract = event.contract_id.as_ref()?;
    let ContractEventBody::V0(body) = &event.body;
    let topics = &body.topics[..];
    let name: &'static str = match topics.first()? {
        ScVal::Symbol(s) => match s.0.as_slice() {
            b"transfer" => "transfer",
            b"mint" => "mint",
            b"clawback" => "clawback",
            b"burn" => "burn",
            _ => return None,
        },
        _ => return None,
    };
    let asset = match topics.last()? {
        ScVal::String(s) => parse_asset(&s.0)?,
        _ => return None,
    };
    if topics.len() < 3 || sac_id(&asset, network_id)? != contract.0.0 {
        return None;
    }
    let addr = |i: usize| match topics.get(i) {
        Some(ScVal::Address(a)) => Some(a.clone()),
        _ => None,
    };
    let (from, to) = match (name, topics.len()) {
        ("transfer", 4) => (Some(addr(1)?), Some(addr(2)?)),
        ("mint", 4) => (None, Some(addr(2)?)),
        ("mint", 3) => (None, Some(addr(1)?)),
        ("clawback", 4) => (Some(addr(2)?), None),
        ("clawback", 3) | ("burn", 3) => (Some(addr(1)?), None),
        _ => return None,
    };
    Some(Movement { name, asset, from, to, amount: amount(&body.data)? })
}

fn amount(data: &ScVal) -> Option<i128> {
    match data {
        ScVal::I128(p) => Some((i128::from(p.hi) << 64) | i128::from(p.lo)),
        ScVal::Map(Some(m)) => m.iter().find_map(|e| match (&e.key, &e.val) {
            (ScVal::Symbol(k), v) if k.0.as_slice() == b"amount" => amount(v),
            _ => None,
        }),
        _ => None,
    }
}

/// `native` or SEP-11 `CODE:ISSUER`.
fn parse_asset(s: &[u8]) -> Option<Asset> {
    if s == b"native" {
        return Some(Asset::Native);
    }
    let text = std::str::from_utf8(s).ok()?;
    let (code, issuer) = text.split_once(':')?;
    let key = stellar_strkey::ed25519::PublicKey::from_string(issuer).ok()?;
    let issuer = stellar_xdr::AccountId(stellar_xdr::PublicKey::PublicKeyTypeEd25519(stellar_xdr::Uint256(key.0)));
    let code = code.as_bytes();
    match code.len() {
        1..=4 => {
            let mut c = [0u8; 4];
            c[..code.len()].copy_from_slice(code);
            Some(Asset::CreditAlphanum4(AlphaNum4 { asset_code: AssetCode4(c), issuer }))
        }
        5..=12 => {
            let mut c = [0u8; 12];
            c[..code.len()].copy_from_slice(code);
            Some(Asset::CreditAlphanum12(AlphaNum12 { asset_code: AssetCode12(c), issuer }))
        }
        _ => None,
    }
}

/// The asset's Stellar Asset Contract id on this network.
fn sac_id(asset: &Asset, network_id: &[u8; 32]) -> Option<[u8; 32]> {
    let preimage = HashIdPreimage::ContractId(HashIdPreimageContractId {
        network_id: Hash(*network_id),
        contract_id_preimage: ContractIdPreimage::Asset(asset.clone()),
    });
    let bytes = preimage.to_xdr(Limits::none()).ok()?;
    Some(Sha256::digest(bytes).into())
}
