//! Table definitions: one declaration per table gives the row struct, the
//! column list (names, DuckDB types, order) for the DDL, and the conversion of
//! rows to an Arrow `RecordBatch` for DuckDB's appender.
//!
//! Column names, types and order follow the Go tool's tables exactly (see
//! docs/tables.md), so existing queries keep working. Columns added
//! by this project come after the reference columns and are documented.

use crate::model::Timestamp;
use std::sync::Arc;

use crate::sql::ident;
use duckdb::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;

mod activity;
mod classic_state;
mod core;
mod soroban_state;
pub use self::activity::*;
pub use self::classic_state::*;
pub use self::core::{LedgerRow, OPERATION_EXTRA_COLUMNS, OperationRow, TRANSACTION_EXTRA_COLUMNS, TransactionRow};
pub use self::soroban_state::*;

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// DuckDB type, with `NOT NULL` where the reference table has it.
    pub sql_type: &'static str,
    /// Whether the Rust field can hold NULL.
    pub nullable: bool,
}

/// A table whose rows the extractors produce.
pub trait Table: Sized + Send + 'static {
    const NAME: &'static str;
    const COLUMNS: &'static [Column];
    /// Converts rows to one Arrow batch with the table's column order.
    fn record_batch(rows: &[Self]) -> RecordBatch;
}

/// `CREATE TABLE IF NOT EXISTS` for a table in `schema` (an already-quoted qualified name).
pub fn create_table_sql(qualified_schema: &str, name: &str, columns: &[Column]) -> String {
    create_table_sql_with(qualified_schema, name, columns, true)
}

/// [`create_table_sql`], optionally without the `USING COMPRESSION` clauses,
/// which only DuckDB's own storage accepts (not DuckLake, whose Parquet
/// files choose their own encodings).
pub fn create_table_sql_with(qualified_schema: &str, name: &str, columns: &[Column], compression: bool) -> String {
    let column_type = |t: &'static str| if compression { t } else { t.split(" USING ").next().unwrap_or(t) };
    let cols: Vec<String> = columns.iter().map(|c| format!("  \"{}\" {}", c.name, column_type(c.sql_type))).collect();
    format!("CREATE TABLE IF NOT EXISTS {qualified_schema}.\"{name}\" (\n{}\n)", cols.join(",\n"))
}

/// A Rust field type that maps to one Arrow column type.
pub trait ArrowValue: Sized {
    const NULLABLE: bool;
    fn data_type() -> DataType;
    fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef
    where
        Self: 'a;
}

macro_rules! arrow_primitive {
    ($t:ty, $array:ty, $dt:expr) => {
        impl ArrowValue for $t {
            const NULLABLE: bool = false;
            fn data_type() -> DataType {
                $dt
            }
            fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
                Arc::new(<$array>::from_iter_values(values.copied()))
            }
        }
        impl ArrowValue for Option<$t> {
            const NULLABLE: bool = true;
            fn data_type() -> DataType {
                $dt
            }
            fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
                Arc::new(<$array>::from_iter(values.copied()))
            }
        }
    };
}

arrow_primitive!(i64, Int64Array, DataType::Int64);
arrow_primitive!(i32, Int32Array, DataType::Int32);
arrow_primitive!(u32, UInt32Array, DataType::UInt32);

impl ArrowValue for bool {
    const NULLABLE: bool = false;
    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
        Arc::new(values.map(|v| Some(*v)).collect::<BooleanArray>())
    }
}

impl ArrowValue for Option<bool> {
    const NULLABLE: bool = true;
    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
        Arc::new(values.copied().collect::<BooleanArray>())
    }
}

impl ArrowValue for String {
    const NULLABLE: bool = false;
    fn data_type() -> DataType {
        DataType::Utf8
    }
    fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(values))
    }
}

impl ArrowValue for Option<String> {
    const NULLABLE: bool = true;
    fn data_type() -> DataType {
        DataType::Utf8
    }
    fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
        Arc::new(values.map(|v| v.as_deref()).collect::<StringArray>())
    }
}

impl ArrowValue for Timestamp {
    const NULLABLE: bool = false;
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }
    fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from_iter_values(values.map(|t| t.0)))
    }
}

impl ArrowValue for Option<Timestamp> {
    const NULLABLE: bool = true;
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }
    fn array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef {
        Arc::new(values.map(|v| v.map(|t| t.0)).collect::<TimestampMicrosecondArray>())
    }
}

/// Picks the explicit column name when one is given, else the field name.
macro_rules! column_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident $col:literal) => {
        $col
    };
}

/// Declares a table: its row struct, columns and Arrow conversion.
///
/// Each line is `field: RustType = "DUCKDB TYPE"`; a field whose column name
/// is a Rust keyword is written `field("column"): ...`.
macro_rules! define_table {
    (
        $(#[$meta:meta])*
        pub struct $row:ident in $table:literal {
            $( $(#[$fmeta:meta])* $field:ident $(($col:literal))? : $ty:ty = $sql:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $row {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::tables::Table for $row {
            const NAME: &'static str = $table;
            const COLUMNS: &'static [$crate::tables::Column] = &[
                $( $crate::tables::Column {
                    name: column_name!($field $($col)?),
                    sql_type: $sql,
                    nullable: <$ty as $crate::tables::ArrowValue>::NULLABLE,
                }, )*
            ];

            fn record_batch(rows: &[Self]) -> duckdb::arrow::record_batch::RecordBatch {
                use $crate::tables::ArrowValue;
                let fields = vec![
                    $( duckdb::arrow::datatypes::Field::new(
                        column_name!($field $($col)?),
                        <$ty as ArrowValue>::data_type(),
                        <$ty as ArrowValue>::NULLABLE,
                    ), )*
                ];
                let columns: Vec<duckdb::arrow::array::ArrayRef> = vec![
                    $( <$ty as ArrowValue>::array(rows.iter().map(|r| &r.$field)), )*
                ];
                $crate::tables::batch(fields, columns)
            }
        }
    };
}
pub(crate) use {column_name, define_table};

/// Assembles a record batch; the macro guarantees the columns match the fields.
pub(crate) fn batch(fields: Vec<Field>, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("define_table! builds one array per field with the field's type")
}

/// Declares [`LedgerTables`] (one `Vec` of rows per table), the table list
/// and the conversion to Arrow batches from one list, so a table cannot be
/// created but never written, or written but never created.
macro_rules! ledger_tables {
    ($( $field:ident: $row:ty ),* $(,)?) => {
        /// The rows one ledger contributes to every table.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct LedgerTables {
            $( pub $field: Vec<$row>, )*
        }

        /// Name and columns of every table, in creation order.
        pub fn all_tables() -> Vec<(&'static str, &'static [Column])> {
            vec![ $( (<$row>::NAME, <$row>::COLUMNS), )* ]
        }

        impl LedgerTables {
            /// Arrow batches for every non-empty table (built on the decode workers,
            /// so the committer only copies them into DuckDB).
            pub fn to_batches(&self) -> Vec<TableBatch> {
                self.to_batches_timed(&mut crate::model::NoTimer)
            }

            /// [`Self::to_batches`], timing each table's Arrow encoding.
            pub fn to_batches_timed(&self, timer: &mut impl crate::model::StageTimer) -> Vec<TableBatch> {
                let mut out = Vec::new();
                $( timer.time(<$row>::NAME, || push(&mut out, &self.$field)); )*
                out
            }

            /// Row count per table, in table order.
            pub fn row_counts(&self) -> Vec<(&'static str, usize)> {
                vec![ $( (<$row>::NAME, self.$field.len()), )* ]
            }
        }
    };
}

ledger_tables! {
    ledgers: LedgerRow,
    transactions: TransactionRow,
    operations: OperationRow,
    native_balances: NativeBalanceRow,
    effects: EffectRow,
    trades: TradeRow,
    accounts: AccountRow,
    trustlines: TrustlineRow,
    offers: OfferRow,
    claimable_balances: ClaimableBalanceRow,
    liquidity_pools: LiquidityPoolRow,
    contract_events: ContractEventRow,
    contract_data: ContractDataRow,
    contract_code: ContractCodeRow,
    config_settings: ConfigSettingRow,
    ttl: TtlRow,
    evicted_keys: EvictedKeyRow,
    restored_keys: RestoredKeyRow,
    account_signers: AccountSignerRow,
}

/// A `<table>_current` view: the latest row per key, deleted keys left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentView {
    pub table: &'static str,
    /// Columns that identify one entity.
    pub key: &'static [&'static str],
}

/// Snapshot tables and their entity keys. Each gets a `<table>_current` view.
pub const CURRENT_VIEWS: &[CurrentView] = &[
    CurrentView { table: "native_balances_snapshot_v1", key: &["account_id"] },
    CurrentView { table: "accounts_snapshot_v1", key: &["account_id"] },
    CurrentView {
        table: "trustlines_snapshot_v1",
        key: &["account_id", "asset_type", "asset_code", "asset_issuer", "liquidity_pool_id"],
    },
    CurrentView { table: "offers_snapshot_v1", key: &["offer_id"] },
    CurrentView { table: "claimable_balances_snapshot_v1", key: &["balance_id"] },
    CurrentView { table: "liquidity_pools_snapshot_v1", key: &["liquidity_pool_id"] },
    CurrentView { table: "contract_data_snapshot_v1", key: &["ledger_key_hash"] },
    CurrentView { table: "contract_code_snapshot_v1", key: &["contract_code_hash"] },
    CurrentView { table: "config_settings_snapshot_v1", key: &["config_setting_id"] },
    CurrentView { table: "ttl_snapshot_v1", key: &["key_hash"] },
    CurrentView { table: "account_signers_snapshot_v1", key: &["account_id", "signer"] },
];

/// `CREATE OR REPLACE VIEW <table>_current`: per key, the row of the latest
/// ledger, unless that row records a deletion. Snapshot tables hold at most
/// one row per key and ledger, so the order is total.
///
/// The view is created in `catalog.schema`, but its body names the table by
/// schema only: DuckDB binds a view's names in the view's own catalog, so the
/// view keeps working when another client attaches the file under another name.
pub fn current_view_sql(catalog: &str, schema: &str, view: &CurrentView) -> String {
    let key: Vec<String> = view.key.iter().map(|k| ident(k)).collect();
    format!(
        "CREATE OR REPLACE VIEW {cat}.{sch}.{name} AS\n\
         SELECT * FROM {sch}.{table}\n\
         QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY ledger_sequence DESC) = 1 AND NOT deleted",
        cat = ident(catalog),
        sch = ident(schema),
        name = ident(&format!("{}_current", view.table)),
        table = ident(view.table),
        key = key.join(", "),
    )
}

/// Rows of one table, ready for the appender.
#[derive(Debug, Clone)]
pub struct TableBatch {
    pub table: &'static str,
    pub batch: RecordBatch,
}

fn push<T: Table>(out: &mut Vec<TableBatch>, rows: &[T]) {
    if !rows.is_empty() {
        out.push(TableBatch { table: T::NAME, batch: T::record_batch(rows) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_column_counts() {
        // Reference tables (v3-anchor section 4) plus documented additions.
        assert_eq!(LedgerRow::COLUMNS.len(), 26);
        assert_eq!(TransactionRow::COLUMNS.len(), 48 + core::TRANSACTION_EXTRA_COLUMNS);
        assert_eq!(OperationRow::COLUMNS.len(), 60 + core::OPERATION_EXTRA_COLUMNS);
        assert_eq!(NativeBalanceRow::COLUMNS.len(), 13 + NATIVE_BALANCE_EXTRA_COLUMNS);
        assert_eq!(EffectRow::COLUMNS.len(), 22 + EFFECT_EXTRA_COLUMNS);
        assert_eq!(TradeRow::COLUMNS.len(), 19 + TRADE_EXTRA_COLUMNS);
        assert_eq!(AccountRow::COLUMNS.len(), 25 + ACCOUNT_EXTRA_COLUMNS);
        assert_eq!(TrustlineRow::COLUMNS.len(), 16 + TRUSTLINE_EXTRA_COLUMNS);
        assert_eq!(OfferRow::COLUMNS.len(), 17 + OFFER_EXTRA_COLUMNS);
        assert_eq!(ClaimableBalanceRow::COLUMNS.len(), 14 + CLAIMABLE_BALANCE_EXTRA_COLUMNS);
        assert_eq!(LiquidityPoolRow::COLUMNS.len(), 19 + LIQUIDITY_POOL_EXTRA_COLUMNS);
        assert_eq!(ContractEventRow::COLUMNS.len(), 18 + CONTRACT_EVENT_EXTRA_COLUMNS);
        assert_eq!(ContractDataRow::COLUMNS.len(), 19 + CONTRACT_DATA_EXTRA_COLUMNS);
        assert_eq!(ContractCodeRow::COLUMNS.len(), 22 + CONTRACT_CODE_EXTRA_COLUMNS);
        assert_eq!(ConfigSettingRow::COLUMNS.len(), 23 + CONFIG_SETTING_EXTRA_COLUMNS);
        assert_eq!(TtlRow::COLUMNS.len(), 12 + TTL_EXTRA_COLUMNS);
        assert_eq!(EvictedKeyRow::COLUMNS.len(), 10 + EVICTED_KEY_EXTRA_COLUMNS);
        assert_eq!(RestoredKeyRow::COLUMNS.len(), 11 + RESTORED_KEY_EXTRA_COLUMNS);
        assert_eq!(AccountSignerRow::COLUMNS.len(), 11 + ACCOUNT_SIGNER_EXTRA_COLUMNS);
        assert_eq!(all_tables().len(), 19);
    }

    #[test]
    fn current_views_name_existing_columns() {
        let tables = all_tables();
        for v in CURRENT_VIEWS {
            let (_, cols) = tables.iter().find(|(n, _)| *n == v.table).expect("view of a known table");
            for k in v.key.iter().chain(["ledger_sequence", "deleted"].iter()) {
                assert!(cols.iter().any(|c| c.name == *k), "{}: no column {k}", v.table);
            }
        }
    }

    #[test]
    fn not_null_columns_have_non_optional_fields() {
        for (table, cols) in all_tables() {
            for c in cols {
                if c.sql_type.contains("NOT NULL") {
                    assert!(!c.nullable, "{table}.{} is NOT NULL but its field is an Option", c.name);
                }
            }
        }
    }

    #[test]
    fn record_batch_has_table_columns_in_order() {
        let rows = vec![LedgerRow { sequence: 7, ..Default::default() }];
        let batch = LedgerRow::record_batch(&rows);
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        let expected: Vec<&str> = LedgerRow::COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, expected);
        assert_eq!(batch.num_rows(), 1);
    }

    #[test]
    fn ddl_quotes_names() {
        let sql =
            create_table_sql("\"cat\".\"mainnet\"", "t", &[Column { name: "type", sql_type: "INT", nullable: true }]);
        assert_eq!(sql, "CREATE TABLE IF NOT EXISTS \"cat\".\"mainnet\".\"t\" (\n  \"type\" INT\n)");
    }
}
