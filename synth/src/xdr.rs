//! Typed state to XDR: ledger keys, ledger entries and the change lists of
//! the meta. Only called when a change is recorded, so the simulation itself
//! works on plain structs.

use stellar_xdr::{
    AccountEntry, AccountEntryExt, AccountEntryExtensionV1, AccountEntryExtensionV1Ext, AccountEntryExtensionV2,
    AccountEntryExtensionV2Ext, AccountEntryExtensionV3, Asset, ClaimableBalanceEntry, ClaimableBalanceEntryExt,
    ClaimableBalanceEntryExtensionV1, ClaimableBalanceEntryExtensionV1Ext, ClaimableBalanceId, Claimant, ClaimantV0,
    ContractCodeEntry, ContractCodeEntryExt, ContractDataDurability, ContractDataEntry, ContractId, DataEntry,
    DataEntryExt, DataValue, ExtensionPoint, Hash, LedgerEntry, LedgerEntryChange, LedgerEntryChanges, LedgerEntryData,
    LedgerEntryExt, LedgerEntryExtensionV1, LedgerEntryExtensionV1Ext, LedgerKey, LedgerKeyAccount,
    LedgerKeyClaimableBalance, LedgerKeyContractCode, LedgerKeyContractData, LedgerKeyData, LedgerKeyLiquidityPool,
    LedgerKeyOffer, LedgerKeyTrustLine, LedgerKeyTtl, LiquidityPoolConstantProductParameters, LiquidityPoolEntry,
    LiquidityPoolEntryBody, LiquidityPoolEntryConstantProduct, LiquidityPoolParameters, OfferEntry, OfferEntryExt,
    PoolId, Price, ScAddress, ScSymbol, ScVal, ScVec, SequenceNumber, Signer, SignerKey, SponsorshipDescriptor,
    String32, String64, Thresholds, TimePoint, TrustLineAsset, TrustLineEntry, TrustLineEntryExt,
    TrustLineEntryExtensionV2, TrustLineEntryExtensionV2Ext, TrustLineEntryV1, TrustLineEntryV1Ext, TtlEntry, Uint256,
};

use super::state::{Account, CKey, Durability, Entry, Key, Px, State, Stored, TrustAsset, TrustLine};
use super::universe::{Id, Universe, account_id};

/// Converts a length-bounded vector; the generator never builds oversized ones.
pub fn vecm<T, const N: u32>(v: Vec<T>) -> stellar_xdr::VecM<T, N> {
    v.try_into().expect("generator keeps XDR vectors within their bounds")
}

pub fn symbol(s: &str) -> ScVal {
    ScVal::Symbol(ScSymbol(s.try_into().expect("symbols are short ASCII")))
}

pub fn contract_address(c: &Id) -> ScAddress {
    ScAddress::Contract(ContractId(Hash(*c)))
}

pub fn account_address(a: &Id) -> ScAddress {
    ScAddress::Account(account_id(a))
}

pub fn price(p: Px) -> Price {
    Price { n: p.n, d: p.d }
}

pub fn i128_val(v: i128) -> ScVal {
    ScVal::I128(stellar_xdr::Int128Parts { hi: (v >> 64) as i64, lo: v as u64 })
}

/// The ScVal key of a contract-data entry.
pub fn ckey_val(k: &CKey) -> ScVal {
    match k {
        CKey::Instance => ScVal::LedgerKeyContractInstance,
        CKey::Balance(who) => {
            ScVal::Vec(Some(ScVec(vecm(vec![symbol("Balance"), ScVal::Address(account_address(who))]))))
        }
        CKey::Nonce(n) => ScVal::Vec(Some(ScVec(vecm(vec![symbol("Nonce"), ScVal::U64(*n)])))),
    }
}

fn durability(d: Durability) -> ContractDataDurability {
    match d {
        Durability::Temporary => ContractDataDurability::Temporary,
        Durability::Persistent => ContractDataDurability::Persistent,
    }
}

pub fn trust_asset(u: &Universe, a: TrustAsset) -> TrustLineAsset {
    match a {
        TrustAsset::Asset(ix) => match &u.asset(ix).xdr {
            Asset::Native => TrustLineAsset::Native,
            Asset::CreditAlphanum4(x) => TrustLineAsset::CreditAlphanum4(x.clone()),
            Asset::CreditAlphanum12(x) => TrustLineAsset::CreditAlphanum12(x.clone()),
        },
        TrustAsset::Pool(p) => TrustLineAsset::PoolShare(PoolId(Hash(u.pool(p).id))),
    }
}

pub fn ledger_key(u: &Universe, k: &Key) -> LedgerKey {
    match k {
        Key::Account(id) => LedgerKey::Account(LedgerKeyAccount { account_id: account_id(id) }),
        Key::Trust(id, a) => {
            LedgerKey::Trustline(LedgerKeyTrustLine { account_id: account_id(id), asset: trust_asset(u, *a) })
        }
        Key::Offer(seller, id) => LedgerKey::Offer(LedgerKeyOffer { seller_id: account_id(seller), offer_id: *id }),
        Key::Data(id, name) => LedgerKey::Data(LedgerKeyData {
            account_id: account_id(id),
            data_name: String64(name.as_str().try_into().expect("data names are at most 64 bytes")),
        }),
        Key::Balance(id) => LedgerKey::ClaimableBalance(LedgerKeyClaimableBalance {
            balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(*id)),
        }),
        Key::Pool(p) => {
            LedgerKey::LiquidityPool(LedgerKeyLiquidityPool { liquidity_pool_id: PoolId(Hash(u.pool(*p).id)) })
        }
        Key::ContractData(c, ck, d) => LedgerKey::ContractData(LedgerKeyContractData {
            contract: contract_address(c),
            key: ckey_val(ck),
            durability: durability(*d),
        }),
        Key::ContractCode(h) => LedgerKey::ContractCode(LedgerKeyContractCode { hash: Hash(*h) }),
        Key::Ttl(h) => LedgerKey::Ttl(LedgerKeyTtl { key_hash: Hash(*h) }),
        Key::Archived(inner) => ledger_key(u, inner),
    }
}

/// The TTL key hash of a Soroban entry: sha256 of its ledger key's XDR.
pub fn ttl_hash(u: &Universe, k: &Key) -> Id {
    super::universe::xdr_hash(&ledger_key(u, k))
}

fn account_entry(id: &Id, a: &Account) -> AccountEntry {
    let sponsorship = a.num_sponsored != 0 || a.num_sponsoring != 0 || a.signers.iter().any(|s| s.sponsor.is_some());
    let v3 = a.seq_ledger != 0;
    let ext = if a.liabilities == Default::default() && !sponsorship && !v3 {
        AccountEntryExt::V0
    } else {
        let v2 = if sponsorship || v3 {
            AccountEntryExtensionV1Ext::V2(AccountEntryExtensionV2 {
                num_sponsored: a.num_sponsored,
                num_sponsoring: a.num_sponsoring,
                signer_sponsoring_i_ds: vecm(
                    a.signers.iter().map(|s| SponsorshipDescriptor(s.sponsor.as_ref().map(account_id))).collect(),
                ),
                ext: if v3 {
                    AccountEntryExtensionV2Ext::V3(AccountEntryExtensionV3 {
                        ext: ExtensionPoint::V0,
                        seq_ledger: a.seq_ledger,
                        seq_time: TimePoint(a.seq_time),
                    })
                } else {
                    AccountEntryExtensionV2Ext::V0
                },
            })
        } else {
            AccountEntryExtensionV1Ext::V0
        };
        AccountEntryExt::V1(AccountEntryExtensionV1 {
            liabilities: stellar_xdr::Liabilities { buying: a.liabilities.buying, selling: a.liabilities.selling },
            ext: v2,
        })
    };
    AccountEntry {
        account_id: account_id(id),
        balance: a.balance,
        seq_num: SequenceNumber(a.seq),
        num_sub_entries: a.num_sub_entries,
        inflation_dest: None,
        flags: a.flags,
        home_domain: String32(a.home_domain.as_str().try_into().expect("home domains are at most 32 bytes")),
        thresholds: Thresholds(a.thresholds),
        signers: vecm(
            a.signers.iter().map(|s| Signer { key: SignerKey::Ed25519(Uint256(s.key)), weight: s.weight }).collect(),
        ),
        ext,
    }
}

fn trustline_entry(u: &Universe, id: &Id, asset: TrustAsset, t: &TrustLine) -> TrustLineEntry {
    let ext = if t.liabilities == Default::default() && t.pool_use == 0 {
        TrustLineEntryExt::V0
    } else {
        TrustLineEntryExt::V1(TrustLineEntryV1 {
            liabilities: stellar_xdr::Liabilities { buying: t.liabilities.buying, selling: t.liabilities.selling },
            ext: if t.pool_use == 0 {
                TrustLineEntryV1Ext::V0
            } else {
                TrustLineEntryV1Ext::V2(TrustLineEntryExtensionV2 {
                    liquidity_pool_use_count: t.pool_use,
                    ext: TrustLineEntryExtensionV2Ext::V0,
                })
            },
        })
    };
    TrustLineEntry {
        account_id: account_id(id),
        asset: trust_asset(u, asset),
        balance: t.balance,
        limit: t.limit,
        flags: t.flags,
        ext,
    }
}

fn entry_data(u: &Universe, k: &Key, e: &Entry) -> LedgerEntryData {
    match (k, e) {
        (Key::Account(id), Entry::Account(a)) => LedgerEntryData::Account(account_entry(id, a)),
        (Key::Trust(id, asset), Entry::Trust(t)) => LedgerEntryData::Trustline(trustline_entry(u, id, *asset, t)),
        (Key::Offer(seller, id), Entry::Offer(o)) => LedgerEntryData::Offer(OfferEntry {
            seller_id: account_id(seller),
            offer_id: *id,
            selling: u.asset(o.selling).xdr.clone(),
            buying: u.asset(o.buying).xdr.clone(),
            amount: o.amount,
            price: price(o.price),
            flags: u32::from(o.passive),
            ext: OfferEntryExt::V0,
        }),
        (Key::Data(id, name), Entry::Data(v)) => LedgerEntryData::Data(DataEntry {
            account_id: account_id(id),
            data_name: String64(name.as_str().try_into().expect("data names are at most 64 bytes")),
            data_value: DataValue(v.clone().try_into().expect("data values are at most 64 bytes")),
            ext: DataEntryExt::V0,
        }),
        (Key::Balance(id), Entry::Balance(b)) => LedgerEntryData::ClaimableBalance(ClaimableBalanceEntry {
            balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(*id)),
            claimants: vecm(
                b.claimants
                    .iter()
                    .map(|(d, p)| {
                        Claimant::ClaimantTypeV0(ClaimantV0 { destination: account_id(d), predicate: p.clone() })
                    })
                    .collect(),
            ),
            asset: u.asset(b.asset).xdr.clone(),
            amount: b.amount,
            ext: if b.clawback {
                ClaimableBalanceEntryExt::V1(ClaimableBalanceEntryExtensionV1 {
                    ext: ClaimableBalanceEntryExtensionV1Ext::V0,
                    flags: 1,
                })
            } else {
                ClaimableBalanceEntryExt::V0
            },
        }),
        (Key::Pool(ix), Entry::Pool(p)) => {
            let info = u.pool(*ix);
            let LiquidityPoolParameters::LiquidityPoolConstantProduct(params) = &info.params;
            LedgerEntryData::LiquidityPool(LiquidityPoolEntry {
                liquidity_pool_id: PoolId(Hash(info.id)),
                body: LiquidityPoolEntryBody::LiquidityPoolConstantProduct(LiquidityPoolEntryConstantProduct {
                    params: LiquidityPoolConstantProductParameters { ..params.clone() },
                    reserve_a: p.reserve_a,
                    reserve_b: p.reserve_b,
                    total_pool_shares: p.shares,
                    pool_shares_trust_line_count: p.trustlines,
                }),
            })
        }
        (Key::ContractData(c, ck, d), Entry::ContractData(v)) => LedgerEntryData::ContractData(ContractDataEntry {
            ext: ExtensionPoint::V0,
            contract: contract_address(c),
            key: ckey_val(ck),
            durability: durability(*d),
            val: v.clone(),
        }),
        (Key::ContractCode(h), Entry::ContractCode(code)) => LedgerEntryData::ContractCode(ContractCodeEntry {
            // Half the modules carry cost inputs (as uploads since protocol 21
            // do), the rest leave the counts to the reader's parser.
            ext: match super::wasm::declared_counts(code) {
                Some(c) if h[0] % 2 == 0 => ContractCodeEntryExt::V1(stellar_xdr::ContractCodeEntryV1 {
                    ext: ExtensionPoint::V0,
                    cost_inputs: super::wasm::cost_inputs(c),
                }),
                _ => ContractCodeEntryExt::V0,
            },
            hash: Hash(*h),
            code: code.to_vec().try_into().expect("contract code fits an XDR opaque"),
        }),
        (Key::Ttl(h), Entry::Ttl(until)) => {
            LedgerEntryData::Ttl(TtlEntry { key_hash: Hash(*h), live_until_ledger_seq: *until })
        }
        (Key::Archived(inner), e) => entry_data(u, inner, e),
        (k, _) => unreachable!("entry kind does not match its key {k:?}"),
    }
}

pub fn ledger_entry(u: &Universe, k: &Key, s: &Stored) -> LedgerEntry {
    LedgerEntry {
        last_modified_ledger_seq: s.last_modified,
        data: entry_data(u, k, &s.entry),
        ext: match &s.sponsor {
            Some(sp) => LedgerEntryExt::V1(LedgerEntryExtensionV1 {
                sponsoring_id: SponsorshipDescriptor(Some(account_id(sp))),
                ext: LedgerEntryExtensionV1Ext::V0,
            }),
            None => LedgerEntryExt::V0,
        },
    }
}

/// The meta changes of the current journal frame: STATE/UPDATED for
/// modified entries, CREATED, STATE/REMOVED, RESTORED; untouched-in-value
/// entries are left out.
pub fn frame_changes(u: &Universe, state: &State) -> LedgerEntryChanges {
    let (touched, restored) = state.frame_touched();
    let mut out = Vec::with_capacity(touched.len() * 2);
    for (k, pre) in touched {
        if matches!(k, Key::Archived(_)) {
            continue;
        }
        match (pre, state.get(k)) {
            (None, Some(cur)) if restored.contains(k) => out.push(LedgerEntryChange::Restored(ledger_entry(u, k, cur))),
            (None, Some(cur)) => out.push(LedgerEntryChange::Created(ledger_entry(u, k, cur))),
            (Some(p), Some(cur)) if p != cur => {
                out.push(LedgerEntryChange::State(ledger_entry(u, k, p)));
                out.push(LedgerEntryChange::Updated(ledger_entry(u, k, cur)));
            }
            (Some(p), None) => {
                out.push(LedgerEntryChange::State(ledger_entry(u, k, p)));
                out.push(LedgerEntryChange::Removed(ledger_key(u, k)));
            }
            _ => {}
        }
    }
    LedgerEntryChanges(vecm(out))
}

/// The `OfferEntry` of a typed offer (manage-offer results carry it).
pub fn offer_entry(u: &Universe, seller: &Id, id: i64, o: &super::state::Offer) -> OfferEntry {
    match entry_data(u, &Key::Offer(*seller, id), &Entry::Offer(o.clone())) {
        LedgerEntryData::Offer(e) => e,
        _ => unreachable!("offer keys convert to offer entries"),
    }
}

/// Typed key of an XDR ledger key, for the kinds the generator creates.
pub fn key_from_xdr(u: &Universe, k: &LedgerKey) -> Option<Key> {
    let pk = |a: &stellar_xdr::AccountId| {
        let stellar_xdr::PublicKey::PublicKeyTypeEd25519(k) = &a.0;
        k.0
    };
    Some(match k {
        LedgerKey::Account(a) => Key::Account(pk(&a.account_id)),
        LedgerKey::Trustline(t) => {
            let asset = match &t.asset {
                TrustLineAsset::PoolShare(p) => {
                    TrustAsset::Pool(u.pools.iter().position(|x| x.id == p.0.0)? as super::universe::PoolIx)
                }
                other => TrustAsset::Asset(
                    (1..u.assets.len())
                        .map(|i| i as super::universe::AssetIx)
                        .find(|&i| trust_asset(u, TrustAsset::Asset(i)) == *other)?,
                ),
            };
            Key::Trust(pk(&t.account_id), asset)
        }
        LedgerKey::Data(d) => Key::Data(pk(&d.account_id), d.data_name.0.to_utf8_string_lossy()),
        LedgerKey::ContractCode(c) => Key::ContractCode(c.hash.0),
        LedgerKey::ContractData(d) => {
            let ScAddress::Contract(ContractId(Hash(c))) = &d.contract else { return None };
            let dur = match d.durability {
                ContractDataDurability::Temporary => Durability::Temporary,
                ContractDataDurability::Persistent => Durability::Persistent,
            };
            let ck = match &d.key {
                ScVal::LedgerKeyContractInstance => CKey::Instance,
                ScVal::Vec(Some(v)) if v.0.len() == 2 => match (&v.0[0], &v.0[1]) {
                    (ScVal::Symbol(s), ScVal::Address(ScAddress::Account(a))) if s.0.as_slice() == b"Balance" => {
                        CKey::Balance(pk(a))
                    }
                    (ScVal::Symbol(s), ScVal::U64(n)) if s.0.as_slice() == b"Nonce" => CKey::Nonce(*n),
                    _ => return None,
                },
                _ => return None,
            };
            Key::ContractData(*c, ck, dur)
        }
        _ => return None,
    })
}
