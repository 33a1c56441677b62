//! Soroban operations against the simulated contract state: uploading Wasm,
//! creating contracts, a token-like contract (`mint`, `transfer`) that writes
//! persistent balances and temporary nonces, TTL extension and restoring
//! archived entries. TTLs are short (tens of ledgers) so that eviction and
//! restoration show up in short chains.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use stellar_xdr::{
    ContractEvent, ContractExecutable, ContractIdPreimage, ExtendFootprintTtlOp, ExtendFootprintTtlResult, Hash,
    HostFunction, InvokeHostFunctionOp, InvokeHostFunctionResult, InvokeHostFunctionSuccessPreImage, OperationResultTr,
    RestoreFootprintResult, ScAddress, ScBytes, ScContractInstance, ScMap, ScMapEntry, ScVal,
};

use super::events::contract_event;
use super::ops::TxCtx;
use super::state::{CKey, Durability, Entry, Key, State, Stored};
use super::universe::{Id, contract_id, sha256, xdr_hash};
use super::xdr::{account_address, i128_val, key_from_xdr, symbol, ttl_hash, vecm};

pub const CODE_TTL: u32 = 20_000;
pub const INSTANCE_TTL: u32 = 5_000;
pub const RESTORE_TTL: u32 = 200;

/// Persistent balances live 40-119 ledgers unless extended.
fn balance_ttl(h: &Id) -> u32 {
    40 + u32::from(h[0]) % 80
}

/// Temporary nonces live 8-39 ledgers.
fn nonce_ttl(h: &Id) -> u32 {
    8 + u32::from(h[0]) % 32
}

type OpResult = Result<OperationResultTr, OperationResultTr>;

/// Where a Soroban entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Missing,
    Live,
    /// Persistent entry past its TTL, or evicted to the archive.
    Archived,
}

pub fn liveness(st: &State, ctx_seq: u32, u: &super::universe::Universe, k: &Key) -> Liveness {
    if !st.contains(k) {
        return if st.contains(&Key::Archived(Box::new(k.clone()))) { Liveness::Archived } else { Liveness::Missing };
    }
    match st.ttl(&ttl_hash(u, k)) {
        Some(t) if t >= ctx_seq => Liveness::Live,
        _ if matches!(k, Key::ContractData(_, _, Durability::Temporary)) => Liveness::Missing,
        _ => Liveness::Archived,
    }
}

/// Creates a Soroban entry and its TTL entry.
fn create_with_ttl(st: &mut State, ctx: &TxCtx<'_>, k: Key, entry: Entry, ttl_len: impl Fn(&Id) -> u32) {
    let h = ttl_hash(ctx.env.u, &k);
    st.ttl_keys.insert(h, k.clone());
    st.create(k, entry, None);
    st.create(Key::Ttl(h), Entry::Ttl(ctx.env.seq + ttl_len(&h)), None);
}

fn as_i128(v: &ScVal) -> Option<i128> {
    match v {
        ScVal::I128(p) => Some((i128::from(p.hi) << 64) | i128::from(p.lo)),
        _ => None,
    }
}

fn account_of(v: &ScVal) -> Option<Id> {
    match v {
        ScVal::Address(ScAddress::Account(a)) => {
            let stellar_xdr::PublicKey::PublicKeyTypeEd25519(k) = &a.0;
            Some(k.0)
        }
        _ => None,
    }
}

fn trapped() -> OperationResultTr {
    OperationResultTr::InvokeHostFunction(InvokeHostFunctionResult::Trapped)
}

fn archived() -> OperationResultTr {
    OperationResultTr::InvokeHostFunction(InvokeHostFunctionResult::EntryArchived)
}

/// Adds `delta` to a contract balance, creating it when absent.
fn add_balance(st: &mut State, ctx: &TxCtx<'_>, contract: &Id, who: &Id, delta: i128) -> Result<(), OperationResultTr> {
    let k = Key::ContractData(*contract, CKey::Balance(*who), Durability::Persistent);
    let mut live = liveness(st, ctx.env.seq, ctx.env.u, &k);
    if live == Liveness::Archived && declared_archived(ctx, &k) {
        restore_key(st, ctx, &k);
        live = Liveness::Live;
    }
    match live {
        Liveness::Archived => Err(archived()),
        Liveness::Missing if delta < 0 => Err(trapped()),
        Liveness::Missing => {
            create_with_ttl(st, ctx, k, Entry::ContractData(i128_val(delta)), balance_ttl);
            Ok(())
        }
        Liveness::Live => {
            let cur = match st.get(&k).map(|s| &s.entry) {
                Some(Entry::ContractData(v)) => as_i128(v).unwrap_or(0),
                _ => 0,
            };
            if cur + delta < 0 {
                return Err(trapped());
            }
            st.update(&k, |s| s.entry = Entry::ContractData(i128_val(cur + delta)));
            Ok(())
        }
    }
}

pub fn invoke(
    st: &mut State,
    ctx: &mut TxCtx<'_>,
    src: &Id,
    o: &InvokeHostFunctionOp,
    ev: &mut Vec<ContractEvent>,
) -> OpResult {
    let mut events = Vec::new();
    let ret = match &o.host_function {
        HostFunction::UploadContractWasm(code) => {
            let h = sha256(&[code.as_slice()]);
            let k = Key::ContractCode(h);
            if liveness(st, ctx.env.seq, ctx.env.u, &k) == Liveness::Missing {
                create_with_ttl(st, ctx, k, Entry::ContractCode(Arc::from(code.as_slice())), |_| CODE_TTL);
            }
            ScVal::Bytes(ScBytes(h.to_vec().try_into().expect("32 bytes fit")))
        }
        HostFunction::CreateContract(args) => {
            create_contract(st, ctx, src, &args.contract_id_preimage, &args.executable)?
        }
        HostFunction::CreateContractV2(args) => {
            create_contract(st, ctx, src, &args.contract_id_preimage, &args.executable)?
        }
        HostFunction::InvokeContract(args) => {
            let ScAddress::Contract(stellar_xdr::ContractId(Hash(c))) = &args.contract_address else {
                return Err(trapped());
            };
            match liveness(st, ctx.env.seq, ctx.env.u, &Key::ContractData(*c, CKey::Instance, Durability::Persistent)) {
                Liveness::Live => {}
                Liveness::Archived => return Err(archived()),
                Liveness::Missing => return Err(trapped()),
            }
            let a = args.args.as_slice();
            match (args.function_name.0.as_slice(), a) {
                (b"mint", [to, amount]) => {
                    let (Some(to), Some(amount)) = (account_of(to), as_i128(amount)) else { return Err(trapped()) };
                    add_balance(st, ctx, c, &to, amount)?;
                    events.push(contract_event(
                        c,
                        vec![symbol("mint"), ScVal::Address(account_address(&to))],
                        i128_val(amount),
                    ));
                }
                (b"transfer", [from, to, amount, ScVal::U64(nonce)]) => {
                    let (Some(from), Some(to), Some(amount)) = (account_of(from), account_of(to), as_i128(amount))
                    else {
                        return Err(trapped());
                    };
                    if amount <= 0 {
                        return Err(trapped());
                    }
                    add_balance(st, ctx, c, &from, -amount)?;
                    add_balance(st, ctx, c, &to, amount)?;
                    let nk = Key::ContractData(*c, CKey::Nonce(*nonce), Durability::Temporary);
                    if liveness(st, ctx.env.seq, ctx.env.u, &nk) == Liveness::Missing {
                        if st.contains(&nk) {
                            // Expired but not yet evicted: the slot is free again.
                            let h = ttl_hash(ctx.env.u, &nk);
                            st.remove(&nk);
                            st.remove(&Key::Ttl(h));
                        }
                        create_with_ttl(st, ctx, nk, Entry::ContractData(ScVal::Void), nonce_ttl);
                    } else {
                        return Err(trapped());
                    }
                    events.push(contract_event(
                        c,
                        vec![
                            symbol("transfer"),
                            ScVal::Address(account_address(&from)),
                            ScVal::Address(account_address(&to)),
                        ],
                        i128_val(amount),
                    ));
                }
                _ => return Err(trapped()),
            }
            ScVal::Void
        }
    };
    let hash = xdr_hash(&InvokeHostFunctionSuccessPreImage { return_value: ret.clone(), events: vecm(events.clone()) });
    ctx.return_value = Some(ret);
    ev.extend(events);
    Ok(OperationResultTr::InvokeHostFunction(InvokeHostFunctionResult::Success(Hash(hash))))
}

fn create_contract(
    st: &mut State,
    ctx: &TxCtx<'_>,
    src: &Id,
    preimage: &ContractIdPreimage,
    executable: &ContractExecutable,
) -> Result<ScVal, OperationResultTr> {
    let ContractExecutable::Wasm(code) = executable else { return Err(trapped()) };
    if liveness(st, ctx.env.seq, ctx.env.u, &Key::ContractCode(code.0)) != Liveness::Live {
        return Err(trapped());
    }
    let id = contract_id(&ctx.env.u.network_id, preimage.clone());
    let k = Key::ContractData(id, CKey::Instance, Durability::Persistent);
    if liveness(st, ctx.env.seq, ctx.env.u, &k) != Liveness::Missing {
        return Err(trapped());
    }
    let storage = ScMap(vecm(vec![ScMapEntry { key: symbol("admin"), val: ScVal::Address(account_address(src)) }]));
    let instance =
        ScVal::ContractInstance(ScContractInstance { executable: executable.clone(), storage: Some(storage) });
    create_with_ttl(st, ctx, k, Entry::ContractData(instance), |_| INSTANCE_TTL);
    Ok(ScVal::Address(super::xdr::contract_address(&id)))
}

pub fn extend_ttl(st: &mut State, ctx: &TxCtx<'_>, o: &ExtendFootprintTtlOp) -> OpResult {
    let f = OperationResultTr::ExtendFootprintTtl;
    let Some(data) = ctx.soroban else { return Err(f(ExtendFootprintTtlResult::Malformed)) };
    if !data.resources.footprint.read_write.is_empty() {
        return Err(f(ExtendFootprintTtlResult::Malformed));
    }
    let target = ctx.env.seq.saturating_add(o.extend_to);
    for k in data.resources.footprint.read_only.iter() {
        let h = xdr_hash(k);
        if let Some(t) = st.ttl(&h)
            && t >= ctx.env.seq
            && target > t
        {
            st.update(&Key::Ttl(h), |s| s.entry = Entry::Ttl(target));
        }
    }
    Ok(f(ExtendFootprintTtlResult::Success))
}

pub fn restore(st: &mut State, ctx: &TxCtx<'_>) -> OpResult {
    let f = OperationResultTr::RestoreFootprint;
    let Some(data) = ctx.soroban else { return Err(f(RestoreFootprintResult::Malformed)) };
    if !data.resources.footprint.read_only.is_empty() {
        return Err(f(RestoreFootprintResult::Malformed));
    }
    for lk in data.resources.footprint.read_write.iter() {
        let Some(k) = key_from_xdr(ctx.env.u, lk) else { continue };
        restore_key(st, ctx, &k);
    }
    Ok(f(RestoreFootprintResult::Success))
}

/// Brings one key back: from the archive (meta RESTORED for the entry and
/// its TTL), or, when it expired but was not evicted yet, by bumping its TTL.
fn restore_key(st: &mut State, ctx: &TxCtx<'_>, k: &Key) {
    let until = ctx.env.seq + RESTORE_TTL;
    let h = ttl_hash(ctx.env.u, k);
    let archived = Key::Archived(Box::new(k.clone()));
    if let Some(stored) = st.get(&archived).cloned() {
        st.remove(&archived);
        st.ttl_keys.insert(h, k.clone());
        st.restore(k.clone(), stored);
        st.restore(Key::Ttl(h), Stored { entry: Entry::Ttl(until), last_modified: ctx.env.seq, sponsor: None });
    } else if st.ttl(&h).is_some_and(|t| t < ctx.env.seq) {
        st.update(&Key::Ttl(h), |s| s.entry = Entry::Ttl(until));
    }
}

/// Whether the transaction declares `k` archived (protocol 23 automatic
/// restore: `archived_soroban_entries` indexes the read-write footprint).
fn declared_archived(ctx: &TxCtx<'_>, k: &Key) -> bool {
    let Some(data) = ctx.soroban else { return false };
    let stellar_xdr::SorobanTransactionDataExt::V1(ext) = &data.ext else { return false };
    let rw = &data.resources.footprint.read_write;
    ext.archived_soroban_entries
        .iter()
        .filter_map(|i| rw.get(*i as usize))
        .any(|lk| key_from_xdr(ctx.env.u, lk).as_ref() == Some(k))
}
