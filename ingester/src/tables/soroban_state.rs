//! Soroban state tables: contract data and code, config settings, TTLs
//! (snapshots), and evicted and restored keys (state changes).
//!
//! Reference columns come first in the reference order; additions follow
//! and are counted in `*_EXTRA_COLUMNS`.

use super::{column_name, define_table};
use crate::model::Timestamp;

/// Columns after the 19 reference columns of `contract_data_snapshot_v1`.
pub const CONTRACT_DATA_EXTRA_COLUMNS: usize = 1;
/// Columns after the 22 reference columns of `contract_code_snapshot_v1`.
pub const CONTRACT_CODE_EXTRA_COLUMNS: usize = 3;
/// Columns after the 23 reference columns of `config_settings_snapshot_v1`.
pub const CONFIG_SETTING_EXTRA_COLUMNS: usize = 2;
/// Columns after the 12 reference columns of `ttl_snapshot_v1`.
pub const TTL_EXTRA_COLUMNS: usize = 2;
/// Columns after the 10 reference columns of `evicted_keys_state_v1`.
pub const EVICTED_KEY_EXTRA_COLUMNS: usize = 3;
/// Columns after the 11 reference columns of `restored_keys_state_v1`.
pub const RESTORED_KEY_EXTRA_COLUMNS: usize = 4;

define_table! {
    /// Contract data entries that changed in a ledger.
    pub struct ContractDataRow in "contract_data_snapshot_v1" {
        contract_id: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        ledger_key_hash: String = "VARCHAR NOT NULL",
        contract_key_type: String = "VARCHAR NOT NULL",
        contract_durability: String = "VARCHAR NOT NULL",
        asset_code: Option<String> = "VARCHAR",
        asset_issuer: Option<String> = "VARCHAR",
        asset_type: Option<String> = "VARCHAR",
        balance_holder: Option<String> = "VARCHAR",
        balance: Option<String> = "VARCHAR",
        // NULL only for evictions, which carry the key but not the entry.
        last_modified_ledger: Option<i32> = "INT",
        ledger_entry_change: i32 = "INT NOT NULL",
        deleted: bool = "BOOLEAN NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        contract_data_xdr: Option<String> = "TEXT USING COMPRESSION zstd",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Added: removed by the eviction scan (deleted temporary / archived persistent entry).
        evicted: bool = "BOOLEAN NOT NULL",
    }
}

define_table! {
    /// Contract code (WASM) entries that changed in a ledger.
    pub struct ContractCodeRow in "contract_code_snapshot_v1" {
        contract_code_hash: String = "VARCHAR NOT NULL",
        ledger_key_hash: String = "VARCHAR NOT NULL",
        // NULL only for evictions, which carry the key but not the entry.
        contract_code_ext_v: Option<i32> = "INT",
        last_modified_ledger: Option<i32> = "INT",
        ledger_entry_change: i32 = "INT NOT NULL",
        deleted: bool = "BOOLEAN NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        n_instructions: Option<i64> = "BIGINT",
        n_functions: Option<i64> = "BIGINT",
        n_globals: Option<i64> = "BIGINT",
        n_table_entries: Option<i64> = "BIGINT",
        n_types: Option<i64> = "BIGINT",
        n_data_segments: Option<i64> = "BIGINT",
        n_elem_segments: Option<i64> = "BIGINT",
        n_imports: Option<i64> = "BIGINT",
        n_exports: Option<i64> = "BIGINT",
        n_data_segment_bytes: Option<i64> = "BIGINT",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Added.
        evicted: bool = "BOOLEAN NOT NULL",
        wasm_bytes: Option<i64> = "BIGINT",
        code_stats_source: Option<String> = "VARCHAR",
    }
}

define_table! {
    /// Network configuration settings that changed in a ledger (ledger upgrades included).
    pub struct ConfigSettingRow in "config_settings_snapshot_v1" {
        config_setting_id: i32 = "INT NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        last_modified_ledger: i32 = "INT NOT NULL",
        deleted: bool = "BOOLEAN NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_max_instructions: Option<i64> = "BIGINT",
        tx_max_instructions: Option<i64> = "BIGINT",
        fee_rate_per_instructions_increment: Option<i64> = "BIGINT",
        tx_memory_limit: Option<u32> = "UINTEGER",
        ledger_max_read_ledger_entries: Option<u32> = "UINTEGER",
        ledger_max_read_bytes: Option<u32> = "UINTEGER",
        ledger_max_write_ledger_entries: Option<u32> = "UINTEGER",
        ledger_max_write_bytes: Option<u32> = "UINTEGER",
        tx_max_read_ledger_entries: Option<u32> = "UINTEGER",
        tx_max_read_bytes: Option<u32> = "UINTEGER",
        tx_max_write_ledger_entries: Option<u32> = "UINTEGER",
        tx_max_write_bytes: Option<u32> = "UINTEGER",
        contract_max_size_bytes: Option<u32> = "UINTEGER",
        config_setting_xdr: String = "TEXT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Added.
        config_setting_name: String = "VARCHAR NOT NULL",
        ledger_entry_change: i32 = "INT NOT NULL",
    }
}

define_table! {
    /// TTL entries that changed in a ledger.
    pub struct TtlRow in "ttl_snapshot_v1" {
        key_hash: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        // These four are NULL only for evictions, which carry the key but not the entry.
        live_until_ledger_seq: Option<i64> = "BIGINT",
        ttl_remaining: Option<i64> = "BIGINT",
        expired: Option<bool> = "BOOLEAN",
        last_modified_ledger: Option<i32> = "INT",
        deleted: bool = "BOOLEAN NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Added.
        ledger_entry_change: i32 = "INT NOT NULL",
        evicted: bool = "BOOLEAN NOT NULL",
    }
}

define_table! {
    /// Keys evicted from live Soroban state in a ledger (LCM V1 and V2).
    pub struct EvictedKeyRow in "evicted_keys_state_v1" {
        key_hash: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        // NULL for contract code keys, and TTL keys whose entry is not known in the ledger.
        contract_id: Option<String> = "VARCHAR",
        key_type: String = "VARCHAR NOT NULL",
        durability: Option<String> = "VARCHAR",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Added.
        entry_type: String = "VARCHAR NOT NULL",
        contract_code_hash: Option<String> = "VARCHAR",
        ttl_target_key_hash: Option<String> = "VARCHAR",
    }
}

define_table! {
    /// Keys restored from the archive in a ledger (explicit and automatic restores).
    pub struct RestoredKeyRow in "restored_keys_state_v1" {
        key_hash: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        // NULL for contract code keys.
        contract_id: Option<String> = "VARCHAR",
        key_type: String = "VARCHAR NOT NULL",
        durability: String = "VARCHAR NOT NULL",
        // NULL when the meta does not carry the entry's state before the restore.
        restored_from_ledger: Option<i64> = "BIGINT",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Added.
        entry_type: String = "VARCHAR NOT NULL",
        contract_code_hash: Option<String> = "VARCHAR",
        operation_id: Option<i64> = "BIGINT",
        restore_op_type: Option<String> = "VARCHAR",
    }
}
