//! Identity of Soroban ledger entries: which key a change touches, the
//! sha256 of its `LedgerKey` XDR, and the stellar-etl strings for key types
//! and durabilities. Shared by every Soroban state table so they agree.

use sha2::{Digest, Sha256};
use stellar_xdr::{
    ConfigSettingId, ContractDataDurability, Hash, LedgerEntryData, LedgerEntryType, LedgerKey, Limits, ScAddress,
    ScVal, WriteXdr,
};

use super::super::changes::EntryChange;

/// The Soroban entry a change touches, as the snapshot tables fold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SorobanKey {
    /// sha256 of the contract data `LedgerKey` XDR.
    Data([u8; 32]),
    /// sha256 of the contract code `LedgerKey` XDR.
    Code([u8; 32]),
    /// `TtlEntry.key_hash`: the key hash of the entry the TTL governs.
    Ttl([u8; 32]),
    Config(i32),
}

/// Borrowed parts of a Soroban key, read from the entry or the removed key.
#[derive(Debug, Clone, Copy)]
pub enum KeyRef<'a> {
    Data { contract: &'a ScAddress, key: &'a ScVal, durability: ContractDataDurability },
    Code(&'a Hash),
    Ttl(&'a Hash),
    Config(ConfigSettingId),
}

/// The key a change touches, when it is a Soroban entry.
pub fn key_ref<'a>(c: &EntryChange<'a>) -> Option<KeyRef<'a>> {
    if let Some(e) = c.entry() {
        return match &e.data {
            LedgerEntryData::ContractData(d) => {
                Some(KeyRef::Data { contract: &d.contract, key: &d.key, durability: d.durability })
            }
            LedgerEntryData::ContractCode(cc) => Some(KeyRef::Code(&cc.hash)),
            LedgerEntryData::Ttl(t) => Some(KeyRef::Ttl(&t.key_hash)),
            LedgerEntryData::ConfigSetting(s) => Some(KeyRef::Config(s.discriminant())),
            _ => None,
        };
    }
    c.removed_key.and_then(ledger_key_ref)
}

/// The parts of a `LedgerKey`, when it is a Soroban key.
pub fn ledger_key_ref(k: &LedgerKey) -> Option<KeyRef<'_>> {
    match k {
        LedgerKey::ContractData(d) => {
            Some(KeyRef::Data { contract: &d.contract, key: &d.key, durability: d.durability })
        }
        LedgerKey::ContractCode(c) => Some(KeyRef::Code(&c.hash)),
        LedgerKey::Ttl(t) => Some(KeyRef::Ttl(&t.key_hash)),
        LedgerKey::ConfigSetting(s) => Some(KeyRef::Config(s.config_setting_id)),
        _ => None,
    }
}

/// sha256 of the `LedgerKey` XDR, written from the borrowed parts (XDR is a
/// concatenation, so no key needs to be cloned).
pub fn key_hash(k: KeyRef<'_>) -> Result<[u8; 32], stellar_xdr::Error> {
    let mut h = Sha256::new();
    match k {
        KeyRef::Data { contract, key, durability } => {
            h.update((LedgerEntryType::ContractData as i32).to_be_bytes());
            h.update(contract.to_xdr(Limits::none())?);
            h.update(key.to_xdr(Limits::none())?);
            h.update((durability as i32).to_be_bytes());
        }
        KeyRef::Code(hash) => {
            h.update((LedgerEntryType::ContractCode as i32).to_be_bytes());
            h.update(hash.0);
        }
        KeyRef::Ttl(hash) => {
            h.update((LedgerEntryType::Ttl as i32).to_be_bytes());
            h.update(hash.0);
        }
        KeyRef::Config(id) => {
            h.update((LedgerEntryType::ConfigSetting as i32).to_be_bytes());
            h.update((id as i32).to_be_bytes());
        }
    }
    Ok(h.finalize().into())
}

/// The fold key of a change (hashing contract data and code keys).
pub fn soroban_key(c: &EntryChange<'_>) -> Result<Option<SorobanKey>, stellar_xdr::Error> {
    Ok(match key_ref(c) {
        None => None,
        Some(k @ KeyRef::Data { .. }) => Some(SorobanKey::Data(key_hash(k)?)),
        Some(k @ KeyRef::Code(_)) => Some(SorobanKey::Code(key_hash(k)?)),
        Some(KeyRef::Ttl(h)) => Some(SorobanKey::Ttl(h.0)),
        Some(KeyRef::Config(id)) => Some(SorobanKey::Config(id as i32)),
    })
}

/// stellar-etl's `contract_key_type`: the Go name of the key's `ScValType`
/// (`ScValTypeScvVec`, `ScValTypeScvLedgerKeyContractInstance`, ...).
pub fn sc_val_type_name(v: &ScVal) -> String {
    format!("ScValTypeScv{}", v.discriminant().name())
}

/// stellar-etl's `contract_durability` (`ContractDataDurabilityPersistent` / `...Temporary`).
pub fn durability_name(d: ContractDataDurability) -> &'static str {
    match d {
        ContractDataDurability::Persistent => "ContractDataDurabilityPersistent",
        ContractDataDurability::Temporary => "ContractDataDurabilityTemporary",
    }
}

/// What the evicted/restored tables say about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    /// `contract_data`, `contract_code`, `ttl` or `config_setting`.
    pub entry_type: &'static str,
    /// Contract data: the contract's strkey; otherwise `None`.
    pub contract_id: Option<String>,
    /// Contract data: `sc_val_type_name` of the key; else the `LedgerEntryType` name (`ContractCode`, `Ttl`).
    pub key_type: String,
    /// Contract data: its durability; contract code is persistent storage; `None` for TTL and config keys.
    pub durability: Option<&'static str>,
    pub contract_code_hash: Option<String>,
}

pub fn key_facts(k: KeyRef<'_>) -> KeyFacts {
    match k {
        KeyRef::Data { contract, key, durability } => KeyFacts {
            entry_type: "contract_data",
            contract_id: Some(super::super::encode::sc_address(contract)),
            key_type: sc_val_type_name(key),
            durability: Some(durability_name(durability)),
            contract_code_hash: None,
        },
        KeyRef::Code(h) => KeyFacts {
            entry_type: "contract_code",
            contract_id: None,
            key_type: LedgerEntryType::ContractCode.name().to_string(),
            durability: Some(durability_name(ContractDataDurability::Persistent)),
            contract_code_hash: Some(hex::encode(h.0)),
        },
        KeyRef::Ttl(_) => KeyFacts {
            entry_type: "ttl",
            contract_id: None,
            key_type: LedgerEntryType::Ttl.name().to_string(),
            durability: None,
            contract_code_hash: None,
        },
        KeyRef::Config(_) => KeyFacts {
            entry_type: "config_setting",
            contract_id: None,
            key_type: LedgerEntryType::ConfigSetting.name().to_string(),
            durability: None,
            contract_code_hash: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{ContractId, LedgerKeyContractData, LedgerKeyTtl, ScSymbol};

    #[test]
    fn hash_from_parts_equals_hash_of_the_key_xdr() {
        let contract = ScAddress::Contract(ContractId(Hash([7; 32])));
        let key = ScVal::Symbol(ScSymbol("Balance".try_into().unwrap()));
        let full = LedgerKey::ContractData(LedgerKeyContractData {
            contract: contract.clone(),
            key: key.clone(),
            durability: ContractDataDurability::Temporary,
        });
        let expect: [u8; 32] = Sha256::digest(full.to_xdr(Limits::none()).unwrap()).into();
        let parts = KeyRef::Data { contract: &contract, key: &key, durability: ContractDataDurability::Temporary };
        assert_eq!(key_hash(parts).unwrap(), expect);
        let ttl = LedgerKey::Ttl(LedgerKeyTtl { key_hash: Hash([3; 32]) });
        let expect: [u8; 32] = Sha256::digest(ttl.to_xdr(Limits::none()).unwrap()).into();
        assert_eq!(key_hash(ledger_key_ref(&ttl).unwrap()).unwrap(), expect);
        assert_eq!(sc_val_type_name(&key), "ScValTypeScvSymbol");
        assert_eq!(sc_val_type_name(&ScVal::LedgerKeyContractInstance), "ScValTypeScvLedgerKeyContractInstance");
    }
}
