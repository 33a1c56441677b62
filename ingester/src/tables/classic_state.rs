//! Snapshot tables of classic ledger entries: one row per entity per ledger
//! in which it changed, deletions included (`deleted = true`, carrying the
//! last state before removal).
//!
//! Reference columns come first in the reference order; additions follow
//! and are counted in `*_EXTRA_COLUMNS`.

use super::{column_name, define_table};
use crate::model::Timestamp;

/// Columns after the 13 reference columns of `native_balances_snapshot_v1`.
pub const NATIVE_BALANCE_EXTRA_COLUMNS: usize = 2;
/// Columns after the 25 reference columns of `accounts_snapshot_v1`.
pub const ACCOUNT_EXTRA_COLUMNS: usize = 7;
/// Columns after the 16 reference columns of `trustlines_snapshot_v1`.
pub const TRUSTLINE_EXTRA_COLUMNS: usize = 6;
/// Columns after the 17 reference columns of `offers_snapshot_v1`.
pub const OFFER_EXTRA_COLUMNS: usize = 5;
/// Columns after the 14 reference columns of `claimable_balances_snapshot_v1`.
pub const CLAIMABLE_BALANCE_EXTRA_COLUMNS: usize = 3;
/// Columns after the 19 reference columns of `liquidity_pools_snapshot_v1`.
pub const LIQUIDITY_POOL_EXTRA_COLUMNS: usize = 2;
/// Columns after the 11 reference columns of `account_signers_snapshot_v1`.
pub const ACCOUNT_SIGNER_EXTRA_COLUMNS: usize = 0;

define_table! {
    /// Native (XLM) balance of each account that changed in a ledger.
    pub struct NativeBalanceRow in "native_balances_snapshot_v1" {
        account_id: String = "VARCHAR NOT NULL",
        balance: i64 = "BIGINT NOT NULL",
        buying_liabilities: i64 = "BIGINT NOT NULL",
        selling_liabilities: i64 = "BIGINT NOT NULL",
        num_subentries: i32 = "INT NOT NULL",
        num_sponsoring: i32 = "INT NOT NULL",
        num_sponsored: i32 = "INT NOT NULL",
        sequence_number: Option<i64> = "BIGINT",
        last_modified_ledger: i64 = "BIGINT NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        ledger_range: Option<i64> = "BIGINT",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        /// The account was removed (merged) in this ledger.
        deleted: bool = "BOOLEAN NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
    }
}

define_table! {
    /// Account entries that changed in a ledger.
    pub struct AccountRow in "accounts_snapshot_v1" {
        account_id: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        balance: String = "VARCHAR NOT NULL",
        sequence_number: i64 = "BIGINT NOT NULL",
        num_subentries: i32 = "INT NOT NULL",
        num_sponsoring: i32 = "INT NOT NULL",
        num_sponsored: i32 = "INT NOT NULL",
        home_domain: Option<String> = "VARCHAR",
        master_weight: i32 = "INT NOT NULL",
        low_threshold: i32 = "INT NOT NULL",
        med_threshold: i32 = "INT NOT NULL",
        high_threshold: i32 = "INT NOT NULL",
        flags: i32 = "INT NOT NULL",
        auth_required: bool = "BOOLEAN NOT NULL",
        auth_revocable: bool = "BOOLEAN NOT NULL",
        auth_immutable: bool = "BOOLEAN NOT NULL",
        auth_clawback_enabled: bool = "BOOLEAN NOT NULL",
        signers: Option<String> = "VARCHAR",
        sponsor_account: Option<String> = "VARCHAR",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        updated_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        /// The account was removed (merged) in this ledger; the row holds its last state.
        deleted: bool = "BOOLEAN NOT NULL",
        /// The entry's own `lastModifiedLedgerSeq`.
        last_modified_ledger: i64 = "BIGINT NOT NULL",
        /// Liabilities (7-decimal strings like `balance`); 0 before protocol 10 extensions.
        buying_liabilities: String = "VARCHAR NOT NULL",
        selling_liabilities: String = "VARCHAR NOT NULL",
        inflation_destination: Option<String> = "VARCHAR",
        /// Ledger and close time of the last sequence-number bump (account extension v3, protocol 19+).
        sequence_ledger: Option<i64> = "BIGINT",
        sequence_time: Option<Timestamp> = "TIMESTAMP",
    }
}

define_table! {
    /// Trustlines that changed in a ledger.
    pub struct TrustlineRow in "trustlines_snapshot_v1" {
        account_id: String = "VARCHAR NOT NULL",
        /// NULL for pool-share trustlines (the Go tool wrote "POOL_SHARE").
        asset_code: Option<String> = "VARCHAR",
        /// NULL for pool-share trustlines (the Go tool wrote "pool").
        asset_issuer: Option<String> = "VARCHAR",
        asset_type: String = "VARCHAR NOT NULL",
        balance: String = "VARCHAR NOT NULL",
        trust_limit: String = "VARCHAR NOT NULL",
        buying_liabilities: String = "VARCHAR NOT NULL",
        selling_liabilities: String = "VARCHAR NOT NULL",
        authorized: bool = "BOOLEAN NOT NULL",
        authorized_to_maintain_liabilities: bool = "BOOLEAN NOT NULL",
        clawback_enabled: bool = "BOOLEAN NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        deleted: bool = "BOOLEAN NOT NULL",
        last_modified_ledger: i64 = "BIGINT NOT NULL",
        /// Hex pool id of a pool-share trustline (part of its key), else NULL.
        liquidity_pool_id: Option<String> = "VARCHAR",
        /// Raw trustline flags (1 authorized, 2 authorized to maintain liabilities, 4 clawback enabled).
        flags: i32 = "INT NOT NULL",
        sponsor: Option<String> = "VARCHAR",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
    }
}

define_table! {
    /// Order-book offers that changed in a ledger.
    pub struct OfferRow in "offers_snapshot_v1" {
        offer_id: i64 = "BIGINT NOT NULL",
        seller_account: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        selling_asset_type: String = "VARCHAR NOT NULL",
        selling_asset_code: Option<String> = "VARCHAR",
        selling_asset_issuer: Option<String> = "VARCHAR",
        buying_asset_type: String = "VARCHAR NOT NULL",
        buying_asset_code: Option<String> = "VARCHAR",
        buying_asset_issuer: Option<String> = "VARCHAR",
        amount: String = "VARCHAR NOT NULL",
        price: String = "VARCHAR NOT NULL",
        flags: i32 = "INT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        deleted: bool = "BOOLEAN NOT NULL",
        last_modified_ledger: i64 = "BIGINT NOT NULL",
        /// The exact price fraction (`price` is its 7-decimal rounding).
        price_n: i32 = "INT NOT NULL",
        price_d: i32 = "INT NOT NULL",
        sponsor: Option<String> = "VARCHAR",
    }
}

define_table! {
    /// Claimable balances that changed in a ledger.
    pub struct ClaimableBalanceRow in "claimable_balances_snapshot_v1" {
        balance_id: String = "VARCHAR NOT NULL",
        /// NULL when the entry has no sponsor (the Go tool wrote "").
        sponsor: Option<String> = "VARCHAR",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        asset_type: String = "VARCHAR NOT NULL",
        asset_code: Option<String> = "VARCHAR",
        asset_issuer: Option<String> = "VARCHAR",
        amount: i64 = "BIGINT NOT NULL",
        claimants_count: i32 = "INT NOT NULL",
        flags: i32 = "INT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        deleted: bool = "BOOLEAN NOT NULL",
        last_modified_ledger: i64 = "BIGINT NOT NULL",
        /// JSON `[{"destination":"G...","predicate":{...}}]` in Horizon's predicate form.
        claimants: String = "VARCHAR NOT NULL",
    }
}

define_table! {
    /// Liquidity pools that changed in a ledger.
    pub struct LiquidityPoolRow in "liquidity_pools_snapshot_v1" {
        liquidity_pool_id: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        pool_type: String = "VARCHAR NOT NULL",
        fee: i32 = "INT NOT NULL",
        trustline_count: i32 = "INT NOT NULL",
        total_pool_shares: i64 = "BIGINT NOT NULL",
        asset_a_type: String = "VARCHAR NOT NULL",
        asset_a_code: Option<String> = "VARCHAR",
        asset_a_issuer: Option<String> = "VARCHAR",
        asset_a_amount: i64 = "BIGINT NOT NULL",
        asset_b_type: String = "VARCHAR NOT NULL",
        asset_b_code: Option<String> = "VARCHAR",
        asset_b_issuer: Option<String> = "VARCHAR",
        asset_b_amount: i64 = "BIGINT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        deleted: bool = "BOOLEAN NOT NULL",
        last_modified_ledger: i64 = "BIGINT NOT NULL",
    }
}

define_table! {
    /// Signers of accounts that changed in a ledger.
    pub struct AccountSignerRow in "account_signers_snapshot_v1" {
        account_id: String = "VARCHAR NOT NULL",
        signer: String = "VARCHAR NOT NULL",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        weight: i32 = "INTEGER NOT NULL",
        sponsor: Option<String> = "VARCHAR",
        deleted: bool = "BOOLEAN NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
    }
}
