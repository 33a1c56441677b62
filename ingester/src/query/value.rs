//! DuckDB values and types as the API shows them: JSON values (timestamps
//! as RFC 3339, 128-bit integers and decimals as strings) and DuckDB's type
//! names.

use duckdb::types::Value;
use serde_json::json;

use crate::model::{format_date, format_timestamp_micros};

/// The DuckDB SQL name of a result column's type (DuckDB hands results over
/// as Arrow, so the name is mapped back: `Utf8` is `VARCHAR`, `Int64` is
/// `BIGINT`, ...).
pub fn sql_type_name(t: &duckdb::arrow::datatypes::DataType) -> String {
    use duckdb::arrow::datatypes::{DataType as A, TimeUnit};
    match t {
        A::Null => "NULL".into(),
        A::Boolean => "BOOLEAN".into(),
        A::Int8 => "TINYINT".into(),
        A::Int16 => "SMALLINT".into(),
        A::Int32 => "INTEGER".into(),
        A::Int64 => "BIGINT".into(),
        A::UInt8 => "UTINYINT".into(),
        A::UInt16 => "USMALLINT".into(),
        A::UInt32 => "UINTEGER".into(),
        A::UInt64 => "UBIGINT".into(),
        A::Float16 | A::Float32 => "FLOAT".into(),
        A::Float64 => "DOUBLE".into(),
        A::Utf8 | A::LargeUtf8 | A::Utf8View => "VARCHAR".into(),
        A::Binary | A::LargeBinary | A::BinaryView | A::FixedSizeBinary(_) => "BLOB".into(),
        A::Date32 | A::Date64 => "DATE".into(),
        A::Time32(_) | A::Time64(_) => "TIME".into(),
        A::Timestamp(TimeUnit::Second, None) => "TIMESTAMP_S".into(),
        A::Timestamp(TimeUnit::Millisecond, None) => "TIMESTAMP_MS".into(),
        A::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP_NS".into(),
        A::Timestamp(_, None) => "TIMESTAMP".into(),
        A::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        A::Interval(_) | A::Duration(_) => "INTERVAL".into(),
        A::Decimal128(p, s) | A::Decimal256(p, s) => format!("DECIMAL({p},{s})"),
        A::List(f) | A::LargeList(f) | A::ListView(f) | A::LargeListView(f) => {
            format!("{}[]", sql_type_name(f.data_type()))
        }
        A::FixedSizeList(f, n) => format!("{}[{n}]", sql_type_name(f.data_type())),
        A::Struct(fields) => {
            let inner: Vec<String> =
                fields.iter().map(|f| format!("{} {}", f.name(), sql_type_name(f.data_type()))).collect();
            format!("STRUCT({})", inner.join(", "))
        }
        A::Map(f, _) => match f.data_type() {
            A::Struct(kv) if kv.len() == 2 => {
                format!("MAP({}, {})", sql_type_name(kv[0].data_type()), sql_type_name(kv[1].data_type()))
            }
            other => format!("MAP({})", sql_type_name(other)),
        },
        A::Dictionary(_, v) => sql_type_name(v),
        other => format!("{other}"),
    }
}

/// DuckDB values as JSON: numbers stay numbers where JSON can hold them
/// exactly; 128-bit integers and decimals become strings; times are ISO 8601.
pub fn to_json(v: Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(b),
        Value::TinyInt(n) => n.into(),
        Value::SmallInt(n) => n.into(),
        Value::Int(n) => n.into(),
        Value::BigInt(n) => n.into(),
        Value::UTinyInt(n) => n.into(),
        Value::USmallInt(n) => n.into(),
        Value::UInt(n) => n.into(),
        Value::UBigInt(n) => n.into(),
        Value::HugeInt(n) => i64::try_from(n).map_or_else(|_| J::String(n.to_string()), J::from),
        Value::Float(f) => serde_json::Number::from_f64(f64::from(f)).map_or(J::Null, J::Number),
        Value::Double(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Value::Decimal(d) => J::String(d.to_string()),
        Value::Timestamp(unit, t) => J::String(format_timestamp_micros(unit.to_micros(t))),
        Value::Date32(days) => J::String(format_date(i64::from(days))),
        Value::Time64(unit, t) => {
            let us = unit.to_micros(t);
            J::String(format!(
                "{:02}:{:02}:{:02}.{:06}",
                us / 3_600_000_000,
                us / 60_000_000 % 60,
                us / 1_000_000 % 60,
                us % 1_000_000
            ))
        }
        Value::Text(s) => J::String(s),
        Value::Enum(s) => J::String(s),
        Value::Blob(b) => {
            use base64::Engine;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Value::List(items) | Value::Array(items) => J::Array(items.into_iter().map(to_json).collect()),
        Value::Struct(fields) => J::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v.clone()))).collect()),
        Value::Map(map) => {
            J::Array(map.iter().map(|(k, v)| json!({"key": to_json(k.clone()), "value": to_json(v.clone())})).collect())
        }
        other => J::String(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::types::TimeUnit;

    #[test]
    fn sql_type_names() {
        use duckdb::arrow::datatypes::{DataType as A, Field, TimeUnit};
        assert_eq!(sql_type_name(&A::Utf8), "VARCHAR");
        assert_eq!(sql_type_name(&A::Int64), "BIGINT");
        assert_eq!(sql_type_name(&A::Timestamp(TimeUnit::Microsecond, None)), "TIMESTAMP");
        assert_eq!(sql_type_name(&A::Decimal128(18, 3)), "DECIMAL(18,3)");
        assert_eq!(sql_type_name(&A::List(std::sync::Arc::new(Field::new("l", A::Int32, true)))), "INTEGER[]");
    }

    #[test]
    fn values_become_json() {
        assert_eq!(to_json(Value::HugeInt(i128::MAX)), json!(i128::MAX.to_string()));
        assert_eq!(to_json(Value::HugeInt(5)), json!(5));
        assert_eq!(to_json(Value::Double(f64::NAN)), serde_json::Value::Null);
        assert_eq!(to_json(Value::Timestamp(TimeUnit::Second, 86_400)), json!("1970-01-02T00:00:00Z"));
        assert_eq!(to_json(Value::List(vec![Value::Int(1), Value::Null])), json!([1, null]));
    }
}
