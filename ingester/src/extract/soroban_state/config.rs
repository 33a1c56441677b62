//! `config_settings_snapshot_v1` rows: network settings changed in the ledger
//! (in practice by `LedgerUpgrade::Config`, whose changes are in
//! `upgrades_processing`; the shared change list includes them).

use stellar_xdr::{ConfigSettingEntry, LedgerEntryData};

use super::super::changes::Folded;
use super::super::encode::{self, snake_case, xdr_base64};
use super::Base;
use super::keys::SorobanKey;
use crate::tables::ConfigSettingRow;

pub fn config_row(f: &Folded<'_, SorobanKey>, id: i32, base: &Base<'_>) -> Option<ConfigSettingRow> {
    let last = &f.last;
    let entry = last.entry()?;
    let LedgerEntryData::ConfigSetting(s) = &entry.data else { return None };
    let mut row = ConfigSettingRow {
        config_setting_id: id,
        ledger_sequence: i64::from(base.seq),
        last_modified_ledger: entry.last_modified_ledger_seq as i32,
        deleted: last.kind.is_removal(),
        closed_at: base.closed_at,
        config_setting_xdr: xdr_base64(s),
        created_at: base.closed_at,
        ledger_range: encode::ledger_range(base.seq),
        era_id: base.ctx.era_id.clone(),
        version_label: base.ctx.version_label.clone(),
        config_setting_name: snake_case(s.discriminant().name()),
        ledger_entry_change: last.kind.xdr_type(),
        ..Default::default()
    };
    fill_values(&mut row, s);
    Some(row)
}

/// The reference value columns, from the variant that holds them (the rest stay NULL).
fn fill_values(row: &mut ConfigSettingRow, s: &ConfigSettingEntry) {
    match s {
        ConfigSettingEntry::ContractMaxSizeBytes(v) => row.contract_max_size_bytes = Some(*v),
        ConfigSettingEntry::ContractComputeV0(c) => {
            row.ledger_max_instructions = Some(c.ledger_max_instructions);
            row.tx_max_instructions = Some(c.tx_max_instructions);
            row.fee_rate_per_instructions_increment = Some(c.fee_rate_per_instructions_increment);
            row.tx_memory_limit = Some(c.tx_memory_limit);
        }
        ConfigSettingEntry::ContractLedgerCostV0(c) => {
            row.ledger_max_read_ledger_entries = Some(c.ledger_max_disk_read_entries);
            row.ledger_max_read_bytes = Some(c.ledger_max_disk_read_bytes);
            row.ledger_max_write_ledger_entries = Some(c.ledger_max_write_ledger_entries);
            row.ledger_max_write_bytes = Some(c.ledger_max_write_bytes);
            row.tx_max_read_ledger_entries = Some(c.tx_max_disk_read_entries);
            row.tx_max_read_bytes = Some(c.tx_max_disk_read_bytes);
            row.tx_max_write_ledger_entries = Some(c.tx_max_write_ledger_entries);
            row.tx_max_write_bytes = Some(c.tx_max_write_bytes);
        }
        _ => {}
    }
}
