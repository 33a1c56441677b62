//! Soroban network settings and their ledger upgrades. A config upgrade is
//! `LedgerUpgrade::Config(key of a ConfigUpgradeSet)`; stellar-core reports
//! the settings it changed in `upgrades_processing[i].changes` as
//! STATE (old value) / UPDATED (new value) pairs, which is what we emit.

use stellar_xdr::{
    ConfigSettingContractComputeV0, ConfigSettingContractLedgerCostV0, ConfigSettingEntry, ConfigUpgradeSet,
    ConfigUpgradeSetKey, ContractId, Hash, LedgerEntry, LedgerEntryChange, LedgerEntryChanges, LedgerEntryData,
    LedgerEntryExt, LedgerUpgrade,
};

use super::universe::{sha256, xdr_hash};
use super::xdr::vecm;

/// The settings the generator upgrades, with the ledger each last changed in.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    settings: Vec<(ConfigSettingEntry, u32)>,
}

impl NetworkConfig {
    /// Mainnet-like starting values, last modified at the genesis ledger.
    pub fn new(genesis: u32) -> Self {
        let settings = vec![
            ConfigSettingEntry::ContractMaxSizeBytes(131_072),
            ConfigSettingEntry::ContractComputeV0(ConfigSettingContractComputeV0 {
                ledger_max_instructions: 600_000_000,
                tx_max_instructions: 100_000_000,
                fee_rate_per_instructions_increment: 25,
                tx_memory_limit: 41_943_040,
            }),
            ConfigSettingEntry::ContractLedgerCostV0(ConfigSettingContractLedgerCostV0 {
                ledger_max_disk_read_entries: 1_000,
                ledger_max_disk_read_bytes: 7_000_000,
                ledger_max_write_ledger_entries: 250,
                ledger_max_write_bytes: 143_360,
                tx_max_disk_read_entries: 100,
                tx_max_disk_read_bytes: 200_000,
                tx_max_write_ledger_entries: 50,
                tx_max_write_bytes: 132_096,
                fee_disk_read_ledger_entry: 6_250,
                fee_write_ledger_entry: 10_000,
                fee_disk_read1_kb: 1_786,
                soroban_state_target_size_bytes: 14_000_000_000,
                rent_fee1_kb_soroban_state_size_low: -17_000,
                rent_fee1_kb_soroban_state_size_high: 10_000,
                soroban_state_rent_fee_growth_factor: 5_000,
            }),
        ];
        NetworkConfig { settings: settings.into_iter().map(|s| (s, genesis)).collect() }
    }

    /// The `n`-th config upgrade (0-based), applied at ledger `seq`: one
    /// setting in turn gets new values. Returns the upgrade and its meta changes.
    pub fn upgrade(&mut self, n: u32, seq: u32) -> (LedgerUpgrade, LedgerEntryChanges) {
        let i = n as usize % self.settings.len();
        let (old, old_seq) = self.settings[i].clone();
        let step = n / self.settings.len() as u32 + 1;
        let new = bumped(&old, step);
        self.settings[i] = (new.clone(), seq);
        let set = ConfigUpgradeSet { updated_entry: vecm(vec![new.clone()]) };
        let key = ConfigUpgradeSetKey {
            contract_id: ContractId(Hash(sha256(&[b"synthetic config upgrade contract"]))),
            content_hash: Hash(xdr_hash(&set)),
        };
        let entry = |s: ConfigSettingEntry, last| LedgerEntry {
            last_modified_ledger_seq: last,
            data: LedgerEntryData::ConfigSetting(s),
            ext: LedgerEntryExt::V0,
        };
        let changes =
            vecm(vec![LedgerEntryChange::State(entry(old, old_seq)), LedgerEntryChange::Updated(entry(new, seq))]);
        (LedgerUpgrade::Config(key), LedgerEntryChanges(changes))
    }
}

/// New values for a setting: limits raised by `step` increments.
fn bumped(s: &ConfigSettingEntry, step: u32) -> ConfigSettingEntry {
    let mut s = s.clone();
    match &mut s {
        ConfigSettingEntry::ContractMaxSizeBytes(v) => *v += 1_024 * step,
        ConfigSettingEntry::ContractComputeV0(c) => {
            c.ledger_max_instructions += 10_000_000 * i64::from(step);
            c.tx_max_instructions += 1_000_000 * i64::from(step);
            c.tx_memory_limit += 1_048_576;
        }
        ConfigSettingEntry::ContractLedgerCostV0(c) => {
            c.ledger_max_disk_read_entries += 10 * step;
            c.tx_max_disk_read_entries += step;
            c.ledger_max_write_bytes += 1_024 * step;
            c.tx_max_write_bytes += 512 * step;
        }
        _ => {}
    }
    s
}
