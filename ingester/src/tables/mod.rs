//! Table definitions: one declaration per table gives the row struct, the
//! column list (names, DuckDB types, order) for the DDL, and the conversion of
//! rows to an Arrow `RecordBatch` for DuckDB's appender.
//!
//! Column names, types and order follow the Go tool's tables exactly (see the
//! README's table reference), so existing queries keep working. Columns added
//! by this project come after the reference columns and are documented.

use std::sync::Arc;

use duckdb::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;

mod core;
pub use self::core::{LedgerRow, OPERATION_EXTRA_COLUMNS, OperationRow, TRANSACTION_EXTRA_COLUMNS, TransactionRow};

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
    let cols: Vec<String> = columns.iter().map(|c| format!("  \"{}\" {}", c.name, c.sql_type)).collect();
    format!("CREATE TABLE IF NOT EXISTS {qualified_schema}.\"{name}\" (\n{}\n)", cols.join(",\n"))
}

/// Microseconds since the Unix epoch; stored as DuckDB `TIMESTAMP` (UTC, no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_unix_seconds(secs: u64) -> Self {
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000))
    }

    pub fn now() -> Self {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }
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

/// The rows one ledger contributes to every table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerTables {
    pub ledgers: Vec<LedgerRow>,
    pub transactions: Vec<TransactionRow>,
    pub operations: Vec<OperationRow>,
}

/// Name and columns of every table, in creation order.
pub fn all_tables() -> Vec<(&'static str, &'static [Column])> {
    vec![
        (LedgerRow::NAME, LedgerRow::COLUMNS),
        (TransactionRow::NAME, TransactionRow::COLUMNS),
        (OperationRow::NAME, OperationRow::COLUMNS),
    ]
}

/// Rows of one table, ready for the appender.
#[derive(Debug, Clone)]
pub struct TableBatch {
    pub table: &'static str,
    pub batch: RecordBatch,
}

impl LedgerTables {
    /// Arrow batches for every non-empty table (built on the decode workers,
    /// so the committer only copies them into DuckDB).
    pub fn to_batches(&self) -> Vec<TableBatch> {
        let mut out = Vec::with_capacity(3);
        push(&mut out, &self.ledgers);
        push(&mut out, &self.transactions);
        push(&mut out, &self.operations);
        out
    }
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
