//! The three core tables: ledgers, transactions, operations.
//!
//! Column order is the reference order; additions are at the end and counted
//! in `*_EXTRA_COLUMNS`. Base64 XDR columns are stored with zstd (`USING
//! COMPRESSION zstd`): DuckDB otherwise leaves them uncompressed, and they are
//! most of the data (about 5x smaller on pubnet ledgers, at equal CPU).

use super::{column_name, define_table};
use crate::model::Timestamp;

/// Columns after the 48 reference columns of `transactions_row_v2`.
pub const TRANSACTION_EXTRA_COLUMNS: usize = 2;
/// Columns after the 60 reference columns of `operations_row_v2`.
pub const OPERATION_EXTRA_COLUMNS: usize = 2;

define_table! {
    /// One row per ledger.
    pub struct LedgerRow in "ledgers_row_v2" {
        sequence: i64 = "BIGINT NOT NULL",
        ledger_hash: String = "VARCHAR NOT NULL",
        previous_ledger_hash: String = "VARCHAR NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        protocol_version: i32 = "INT NOT NULL",
        total_coins: i64 = "BIGINT NOT NULL",
        fee_pool: i64 = "BIGINT NOT NULL",
        base_fee: i32 = "INT NOT NULL",
        base_reserve: i32 = "INT NOT NULL",
        max_tx_set_size: i32 = "INT NOT NULL",
        successful_tx_count: i32 = "INT NOT NULL",
        failed_tx_count: i32 = "INT NOT NULL",
        ingestion_timestamp: Option<Timestamp> = "TIMESTAMP",
        ledger_range: Option<i64> = "BIGINT",
        transaction_count: Option<i32> = "INT",
        operation_count: Option<i32> = "INT",
        tx_set_operation_count: Option<i32> = "INT",
        soroban_fee_write1kb: Option<i64> = "BIGINT",
        node_id: Option<String> = "VARCHAR",
        signature: Option<String> = "VARCHAR",
        ledger_header: Option<String> = "TEXT USING COMPRESSION zstd",
        bucket_list_size: Option<i64> = "BIGINT",
        live_soroban_state_size: Option<i64> = "BIGINT",
        evicted_keys_count: Option<i32> = "INT",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
    }
}

define_table! {
    /// One row per transaction, failed ones included, in application order.
    pub struct TransactionRow in "transactions_row_v2" {
        ledger_sequence: i64 = "BIGINT NOT NULL",
        transaction_hash: String = "VARCHAR NOT NULL",
        source_account: String = "VARCHAR NOT NULL",
        fee_charged: i64 = "BIGINT NOT NULL",
        max_fee: i64 = "BIGINT NOT NULL",
        successful: bool = "BOOLEAN NOT NULL",
        transaction_result_code: String = "VARCHAR NOT NULL",
        operation_count: i32 = "INT NOT NULL",
        memo_type: Option<String> = "VARCHAR",
        memo: Option<String> = "VARCHAR",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        account_sequence: Option<i64> = "BIGINT",
        ledger_range: Option<i64> = "BIGINT",
        source_account_muxed: Option<String> = "VARCHAR",
        fee_account_muxed: Option<String> = "VARCHAR",
        inner_transaction_hash: Option<String> = "VARCHAR",
        fee_bump_fee: Option<i64> = "BIGINT",
        max_fee_bid: Option<i64> = "BIGINT",
        inner_source_account: Option<String> = "VARCHAR",
        timebounds_min_time: Option<i64> = "BIGINT",
        timebounds_max_time: Option<i64> = "BIGINT",
        ledgerbounds_min: Option<i64> = "BIGINT",
        ledgerbounds_max: Option<i64> = "BIGINT",
        min_sequence_number: Option<i64> = "BIGINT",
        min_sequence_age: Option<i64> = "BIGINT",
        soroban_resources_instructions: Option<i64> = "BIGINT",
        soroban_resources_read_bytes: Option<i64> = "BIGINT",
        soroban_resources_write_bytes: Option<i64> = "BIGINT",
        soroban_data_size_bytes: Option<i32> = "INT",
        soroban_data_resources: Option<String> = "TEXT USING COMPRESSION zstd",
        soroban_fee_base: Option<i64> = "BIGINT",
        soroban_fee_resources: Option<i64> = "BIGINT",
        soroban_fee_refund: Option<i64> = "BIGINT",
        soroban_fee_charged: Option<i64> = "BIGINT",
        soroban_fee_wasted: Option<i64> = "BIGINT",
        soroban_host_function_type: Option<String> = "VARCHAR",
        soroban_contract_id: Option<String> = "VARCHAR",
        soroban_contract_events_count: Option<i32> = "INT",
        signatures_count: i32 = "INT NOT NULL",
        new_account: bool = "BOOLEAN NOT NULL",
        tx_envelope: Option<String> = "TEXT USING COMPRESSION zstd",
        tx_result: Option<String> = "TEXT USING COMPRESSION zstd",
        tx_meta: Option<String> = "TEXT USING COMPRESSION zstd",
        tx_fee_meta: Option<String> = "TEXT USING COMPRESSION zstd",
        tx_signers: Option<String> = "TEXT",
        extra_signers: Option<String> = "TEXT",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        /// TOID of the transaction (stellar-etl `id`): ledger << 32 | application order << 12.
        transaction_id: i64 = "BIGINT NOT NULL",
        /// Account that paid the fee of a fee-bump transaction (G-address); NULL otherwise.
        fee_account: Option<String> = "VARCHAR",
    }
}

define_table! {
    /// One row per operation of every transaction, failed ones included.
    pub struct OperationRow in "operations_row_v2" {
        transaction_hash: String = "VARCHAR NOT NULL",
        operation_index: i32 = "INT NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        source_account: String = "VARCHAR NOT NULL",
        op_type("type"): i32 = "INT NOT NULL",
        type_string: String = "VARCHAR NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        transaction_successful: bool = "BOOLEAN NOT NULL",
        operation_result_code: Option<String> = "VARCHAR",
        operation_trace_code: Option<String> = "VARCHAR",
        ledger_range: Option<i64> = "BIGINT",
        source_account_muxed: Option<String> = "VARCHAR",
        asset: Option<String> = "VARCHAR",
        asset_type: Option<String> = "VARCHAR",
        asset_code: Option<String> = "VARCHAR",
        asset_issuer: Option<String> = "VARCHAR",
        source_asset: Option<String> = "VARCHAR",
        source_asset_type: Option<String> = "VARCHAR",
        source_asset_code: Option<String> = "VARCHAR",
        source_asset_issuer: Option<String> = "VARCHAR",
        amount: Option<i64> = "BIGINT",
        source_amount: Option<i64> = "BIGINT",
        destination_min: Option<i64> = "BIGINT",
        starting_balance: Option<i64> = "BIGINT",
        destination: Option<String> = "VARCHAR",
        trustline_limit: Option<i64> = "BIGINT",
        trustor: Option<String> = "VARCHAR",
        authorize: Option<bool> = "BOOLEAN",
        authorize_to_maintain_liabilities: Option<bool> = "BOOLEAN",
        trust_line_flags: Option<i32> = "INT",
        balance_id: Option<String> = "VARCHAR",
        claimants_count: Option<i32> = "INT",
        sponsored_id: Option<String> = "VARCHAR",
        offer_id: Option<i64> = "BIGINT",
        price: Option<String> = "VARCHAR",
        price_r: Option<String> = "VARCHAR",
        buying_asset: Option<String> = "VARCHAR",
        buying_asset_type: Option<String> = "VARCHAR",
        buying_asset_code: Option<String> = "VARCHAR",
        buying_asset_issuer: Option<String> = "VARCHAR",
        selling_asset: Option<String> = "VARCHAR",
        selling_asset_type: Option<String> = "VARCHAR",
        selling_asset_code: Option<String> = "VARCHAR",
        selling_asset_issuer: Option<String> = "VARCHAR",
        soroban_operation: Option<String> = "VARCHAR",
        soroban_function: Option<String> = "VARCHAR",
        soroban_contract_id: Option<String> = "VARCHAR",
        soroban_auth_required: Option<bool> = "BOOLEAN",
        bump_to: Option<i64> = "BIGINT",
        set_flags: Option<i32> = "INT",
        clear_flags: Option<i32> = "INT",
        home_domain: Option<String> = "VARCHAR",
        master_weight: Option<i32> = "INT",
        low_threshold: Option<i32> = "INT",
        medium_threshold: Option<i32> = "INT",
        high_threshold: Option<i32> = "INT",
        data_name: Option<String> = "VARCHAR",
        data_value: Option<String> = "VARCHAR",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        /// TOID of the operation (stellar-etl `id`): transaction TOID | (index + 1).
        operation_id: i64 = "BIGINT NOT NULL",
        /// TOID of the operation's transaction.
        transaction_id: i64 = "BIGINT NOT NULL",
    }
}
