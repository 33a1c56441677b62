//! Row tables derived from operation results and meta: effects, trades and
//! contract events.
//!
//! Reference columns come first in the reference order; additions follow
//! and are counted in `*_EXTRA_COLUMNS`.

use super::{column_name, define_table};
use crate::model::Timestamp;

/// Columns after the 22 reference columns of `effects_row_v1`.
pub const EFFECT_EXTRA_COLUMNS: usize = 4;
/// Columns after the 19 reference columns of `trades_row_v1`.
pub const TRADE_EXTRA_COLUMNS: usize = 13;
/// Columns after the 18 reference columns of `contract_events_stream_v1`.
pub const CONTRACT_EVENT_EXTRA_COLUMNS: usize = 5;

define_table! {
    /// One row per effect of a successful operation (Horizon's effect set).
    pub struct EffectRow in "effects_row_v1" {
        ledger_sequence: i64 = "BIGINT NOT NULL",
        transaction_hash: String = "VARCHAR NOT NULL",
        operation_index: i32 = "INT NOT NULL",
        effect_index: i32 = "INT NOT NULL",
        effect_type: i32 = "INT NOT NULL",
        effect_type_string: String = "VARCHAR NOT NULL",
        account_id: Option<String> = "VARCHAR",
        amount: Option<String> = "VARCHAR",
        asset_code: Option<String> = "VARCHAR",
        asset_issuer: Option<String> = "VARCHAR",
        asset_type: Option<String> = "VARCHAR",
        trustline_limit: Option<String> = "VARCHAR",
        authorize_flag: Option<bool> = "BOOLEAN",
        clawback_flag: Option<bool> = "BOOLEAN",
        signer_account: Option<String> = "VARCHAR",
        signer_weight: Option<i32> = "INT",
        offer_id: Option<i64> = "BIGINT",
        seller_account: Option<String> = "VARCHAR",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: Option<i64> = "BIGINT",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        /// stellar-etl effect id: `<operation_id>-<effect_index>`.
        effect_id: String = "VARCHAR NOT NULL",
        /// TOID of the operation.
        operation_id: i64 = "BIGINT NOT NULL",
        /// The account's `M...` address when the effect's account is muxed.
        account_muxed: Option<String> = "VARCHAR",
        /// stellar-etl's `details` object as JSON (every type-specific field).
        details: Option<String> = "VARCHAR",
    }
}

define_table! {
    /// One row per offer or pool match (ClaimAtom) of a successful operation.
    pub struct TradeRow in "trades_row_v1" {
        ledger_sequence: i64 = "BIGINT NOT NULL",
        transaction_hash: String = "VARCHAR NOT NULL",
        operation_index: i32 = "INT NOT NULL",
        trade_index: i32 = "INT NOT NULL",
        trade_type: String = "VARCHAR NOT NULL",
        trade_timestamp: Timestamp = "TIMESTAMP NOT NULL",
        seller_account: String = "VARCHAR NOT NULL",
        selling_asset_code: Option<String> = "VARCHAR",
        selling_asset_issuer: Option<String> = "VARCHAR",
        selling_amount: String = "VARCHAR NOT NULL",
        buyer_account: String = "VARCHAR NOT NULL",
        buying_asset_code: Option<String> = "VARCHAR",
        buying_asset_issuer: Option<String> = "VARCHAR",
        buying_amount: String = "VARCHAR NOT NULL",
        /// buying_amount / selling_amount, 7 decimals; NULL when nothing was sold.
        price: Option<String> = "VARCHAR",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: Option<i64> = "BIGINT",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        /// TOID of the operation (stellar-etl `history_operation_id`).
        history_operation_id: i64 = "BIGINT NOT NULL",
        selling_asset_type: String = "VARCHAR NOT NULL",
        buying_asset_type: String = "VARCHAR NOT NULL",
        /// selling_amount in stroops.
        selling_amount_stroops: i64 = "BIGINT NOT NULL",
        /// buying_amount in stroops.
        buying_amount_stroops: i64 = "BIGINT NOT NULL",
        /// stellar-etl's price numerator: the maker offer's price (order book) or the bought amount (pool).
        price_n: Option<i64> = "BIGINT",
        /// stellar-etl's price denominator.
        price_d: Option<i64> = "BIGINT",
        /// The maker's offer (order-book trades).
        selling_offer_id: Option<i64> = "BIGINT",
        /// The taker's offer when it stays on the book after the operation.
        buying_offer_id: Option<i64> = "BIGINT",
        /// Hex id of the pool (liquidity-pool trades).
        liquidity_pool_id: Option<String> = "VARCHAR",
        /// The pool's fee in basis points.
        liquidity_pool_fee: Option<i32> = "INT",
        /// The taker's `M...` address when the operation source is muxed.
        buyer_account_muxed: Option<String> = "VARCHAR",
        /// Path payments: true for strict receive, false for strict send (stellar-etl).
        seller_is_exact: Option<bool> = "BOOLEAN",
    }
}

define_table! {
    /// One row per contract event: operation, transaction-level and diagnostic.
    pub struct ContractEventRow in "contract_events_stream_v1" {
        event_id: String = "VARCHAR NOT NULL",
        contract_id: Option<String> = "VARCHAR",
        ledger_sequence: i64 = "BIGINT NOT NULL",
        transaction_hash: String = "VARCHAR NOT NULL",
        closed_at: Timestamp = "TIMESTAMP NOT NULL",
        event_type: String = "VARCHAR NOT NULL",
        in_successful_contract_call: bool = "BOOLEAN NOT NULL",
        topics_json: String = "VARCHAR NOT NULL",
        topics_decoded: String = "VARCHAR NOT NULL",
        data_xdr: String = "VARCHAR NOT NULL",
        data_decoded: String = "VARCHAR NOT NULL",
        topic_count: i32 = "INT NOT NULL",
        /// NULL for transaction-level and diagnostic events (they belong to no operation).
        operation_index: Option<i32> = "INT",
        event_index: i32 = "INT NOT NULL",
        created_at: Timestamp = "TIMESTAMP NOT NULL",
        ledger_range: i64 = "BIGINT NOT NULL",
        era_id: Option<String> = "VARCHAR",
        version_label: Option<String> = "VARCHAR",
        // Additions (documented in docs/tables.md):
        /// `operation`, `transaction` or `diagnostic`: the meta list the event came from.
        event_kind: String = "VARCHAR NOT NULL",
        /// Transaction-level events: `before_all_txs`, `after_tx` or `after_all_txs`.
        transaction_event_stage: Option<String> = "VARCHAR",
        transaction_successful: bool = "BOOLEAN NOT NULL",
        /// TOID of the transaction.
        transaction_id: i64 = "BIGINT NOT NULL",
        /// TOID of the operation (operation events).
        operation_id: Option<i64> = "BIGINT",
    }
}
