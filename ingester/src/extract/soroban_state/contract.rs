//! `contract_data_snapshot_v1` and `contract_code_snapshot_v1` rows, with the
//! Stellar Asset Contract decoding of stellar-etl (`AssetFromContractData`,
//! `ContractBalanceFromContractData`).

use sha2::{Digest, Sha256};
use stellar_xdr::{
    AccountId, AlphaNum4, AlphaNum12, Asset, AssetCode4, AssetCode12, ContractCodeEntry, ContractCodeEntryExt,
    ContractDataEntry, ContractId, ContractIdPreimage, Hash, HashIdPreimage, HashIdPreimageContractId, LedgerEntryData,
    Limits, PublicKey, ScAddress, ScVal, Uint256, WriteXdr,
};

use super::super::changes::{ChangeKind, Folded};
use super::super::encode::{self, xdr_base64};
use super::Base;
use super::keys::{KeyRef, SorobanKey, durability_name, key_ref, sc_val_type_name};
use super::wasm::count_sections;
use crate::tables::{ContractCodeRow, ContractDataRow};

/// One contract data row; `None` for nonce keys (skipped like stellar-etl does).
pub fn data_row(f: &Folded<'_, SorobanKey>, hash: &[u8; 32], base: &Base<'_>) -> Option<ContractDataRow> {
    let last = &f.last;
    let entry = last.entry();
    let data: Option<&ContractDataEntry> = entry.and_then(|e| match &e.data {
        LedgerEntryData::ContractData(d) => Some(d),
        _ => None,
    });
    let Some(KeyRef::Data { contract, key, durability }) = key_ref(last) else { return None };
    if matches!(key, ScVal::LedgerKeyNonce(_)) {
        return None;
    }
    let asset = data.and_then(|d| sac_asset(d, base.network_id)).map(|a| encode::asset(&a));
    let balance = data.and_then(sac_balance);
    Some(ContractDataRow {
        contract_id: encode::sc_address(contract),
        ledger_sequence: i64::from(base.seq),
        ledger_key_hash: hex::encode(hash),
        contract_key_type: sc_val_type_name(key),
        contract_durability: durability_name(durability).to_string(),
        asset_code: asset.as_ref().and_then(|a| a.code.clone()),
        asset_issuer: asset.as_ref().and_then(|a| a.issuer.clone()),
        asset_type: asset.map(|a| a.asset_type),
        balance_holder: balance.as_ref().map(|(h, _)| encode::contract_address(h)),
        balance: balance.map(|(_, b)| b.to_string()),
        last_modified_ledger: entry.map(|e| e.last_modified_ledger_seq as i32),
        ledger_entry_change: last.kind.xdr_type(),
        deleted: last.kind.is_removal(),
        closed_at: base.closed_at,
        contract_data_xdr: data.map(xdr_base64),
        created_at: base.closed_at,
        ledger_range: encode::ledger_range(base.seq),
        era_id: base.ctx.era_id.clone(),
        version_label: base.ctx.version_label.clone(),
        evicted: last.kind == ChangeKind::Evicted,
    })
}

/// One contract code row.
pub fn code_row(f: &Folded<'_, SorobanKey>, hash: &[u8; 32], base: &Base<'_>) -> Option<ContractCodeRow> {
    let last = &f.last;
    let entry = last.entry();
    let code: Option<&ContractCodeEntry> = entry.and_then(|e| match &e.data {
        LedgerEntryData::ContractCode(c) => Some(c),
        _ => None,
    });
    let Some(KeyRef::Code(code_hash)) = key_ref(last) else { return None };
    let stats = code.and_then(code_stats);
    let n = |pick: fn(&Stats) -> Option<i64>| stats.as_ref().and_then(pick);
    Some(ContractCodeRow {
        contract_code_hash: hex::encode(code_hash.0),
        ledger_key_hash: hex::encode(hash),
        contract_code_ext_v: code.map(|c| match c.ext {
            ContractCodeEntryExt::V0 => 0,
            ContractCodeEntryExt::V1(_) => 1,
        }),
        last_modified_ledger: entry.map(|e| e.last_modified_ledger_seq as i32),
        ledger_entry_change: last.kind.xdr_type(),
        deleted: last.kind.is_removal(),
        closed_at: base.closed_at,
        ledger_sequence: i64::from(base.seq),
        n_instructions: n(|s| s.instructions),
        n_functions: n(|s| Some(s.counts[0])),
        n_globals: n(|s| Some(s.counts[1])),
        n_table_entries: n(|s| Some(s.counts[2])),
        n_types: n(|s| Some(s.counts[3])),
        n_data_segments: n(|s| Some(s.counts[4])),
        n_elem_segments: n(|s| Some(s.counts[5])),
        n_imports: n(|s| Some(s.counts[6])),
        n_exports: n(|s| Some(s.counts[7])),
        n_data_segment_bytes: n(|s| Some(s.counts[8])),
        created_at: base.closed_at,
        ledger_range: encode::ledger_range(base.seq),
        era_id: base.ctx.era_id.clone(),
        version_label: base.ctx.version_label.clone(),
        evicted: last.kind == ChangeKind::Evicted,
        wasm_bytes: code.map(|c| c.code.len() as i64),
        code_stats_source: stats.map(|s| s.source.to_string()),
    })
}

/// Section counts in the cost-input order (functions, globals, table
/// entries, types, data segments, elem segments, imports, exports, data bytes).
struct Stats {
    instructions: Option<i64>,
    counts: [i64; 9],
    source: &'static str,
}

/// From the entry's cost inputs when present (what the network metered),
/// else from parsing the module; `None` for a malformed module.
fn code_stats(c: &ContractCodeEntry) -> Option<Stats> {
    if let ContractCodeEntryExt::V1(v1) = &c.ext {
        let i = &v1.cost_inputs;
        let counts = [
            i.n_functions,
            i.n_globals,
            i.n_table_entries,
            i.n_types,
            i.n_data_segments,
            i.n_elem_segments,
            i.n_imports,
            i.n_exports,
            i.n_data_segment_bytes,
        ]
        .map(i64::from);
        return Some(Stats { instructions: Some(i64::from(i.n_instructions)), counts, source: "cost_inputs" });
    }
    let w = count_sections(c.code.as_slice())?;
    let counts = [
        w.functions,
        w.globals,
        w.table_entries,
        w.types,
        w.data_segments,
        w.elem_segments,
        w.imports,
        w.exports,
        w.data_segment_bytes,
    ]
    .map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    Some(Stats { instructions: None, counts, source: "parsed" })
}

fn sym(v: &ScVal) -> Option<&[u8]> {
    match v {
        ScVal::Symbol(s) => Some(s.0.as_slice()),
        _ => None,
    }
}

/// The contract id a Stellar Asset Contract for `asset` has on this network.
fn asset_contract_id(asset: &Asset, network_id: &[u8; 32]) -> Option<[u8; 32]> {
    let preimage = HashIdPreimage::ContractId(HashIdPreimageContractId {
        network_id: Hash(*network_id),
        contract_id_preimage: ContractIdPreimage::Asset(asset.clone()),
    });
    Some(Sha256::digest(preimage.to_xdr(Limits::none()).ok()?).into())
}

/// The asset of a SAC instance entry: the `AssetInfo` key of the instance
/// storage, accepted only when the contract id is the asset's SAC id (forged
/// asset info is ignored, as stellar-etl does).
fn sac_asset(d: &ContractDataEntry, network_id: &[u8; 32]) -> Option<Asset> {
    let ScAddress::Contract(ContractId(Hash(contract))) = &d.contract else { return None };
    if !matches!(d.key, ScVal::LedgerKeyContractInstance) {
        return None;
    }
    let ScVal::ContractInstance(inst) = &d.val else { return None };
    let storage = inst.storage.as_ref()?;
    let info = storage.0.iter().find_map(|e| match &e.key {
        ScVal::Vec(Some(v)) if v.0.len() == 1 && sym(&v.0[0]) == Some(b"AssetInfo") => Some(&e.val),
        _ => None,
    })?;
    let ScVal::Vec(Some(info)) = info else { return None };
    let [kind, details] = info.0.as_slice() else { return None };
    let asset = match sym(kind)? {
        b"Native" => Asset::Native,
        b"AlphaNum4" | b"AlphaNum12" => credit_asset(details)?,
        _ => return None,
    };
    (asset_contract_id(&asset, network_id)? == *contract).then_some(asset)
}

/// `{asset_code: String, issuer: Bytes(32)}` as an asset (4 or 12 by code length).
fn credit_asset(details: &ScVal) -> Option<Asset> {
    let ScVal::Map(Some(m)) = details else { return None };
    let [code, issuer] = m.0.as_slice() else { return None };
    if sym(&code.key)? != b"asset_code" || sym(&issuer.key)? != b"issuer" {
        return None;
    }
    let (ScVal::String(code), ScVal::Bytes(issuer)) = (&code.val, &issuer.val) else { return None };
    let code = code.0.as_slice();
    let issuer: [u8; 32] = issuer.0.as_slice().try_into().ok()?;
    let issuer = AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(issuer)));
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

/// A SAC balance entry: key `[Balance, <contract address>]`, value
/// `{amount: i128 >= 0, authorized: bool, clawback: bool}`. Like stellar-etl,
/// only contract holders (account balances live in trustlines) and only the
/// entry's shape is checked. Returns the holder and the exact amount.
fn sac_balance(d: &ContractDataEntry) -> Option<([u8; 32], i128)> {
    let ScVal::Vec(Some(k)) = &d.key else { return None };
    let [tag, holder] = k.0.as_slice() else { return None };
    if sym(tag)? != b"Balance" {
        return None;
    }
    let ScVal::Address(ScAddress::Contract(ContractId(Hash(holder)))) = holder else { return None };
    let ScVal::Map(Some(m)) = &d.val else { return None };
    let [amount, authorized, clawback] = m.0.as_slice() else { return None };
    let is_bool = |v: &ScVal| matches!(v, ScVal::Bool(_));
    if sym(&amount.key)? != b"amount"
        || sym(&authorized.key)? != b"authorized"
        || !is_bool(&authorized.val)
        || sym(&clawback.key)? != b"clawback"
        || !is_bool(&clawback.val)
    {
        return None;
    }
    let ScVal::I128(p) = &amount.val else { return None };
    if p.hi < 0 {
        return None;
    }
    Some((*holder, (i128::from(p.hi) << 64) | i128::from(p.lo)))
}
