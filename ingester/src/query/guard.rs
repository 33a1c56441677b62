//! Functions a query may not call, found in DuckDB's own parse tree.
//!
//! A read-only transaction does not stop every function that changes
//! state: DuckLake's maintenance functions (`ducklake_merge_adjacent_files`,
//! `ducklake_expire_snapshots`, `ducklake_cleanup_old_files`,
//! `ducklake_delete_orphaned_files`, ...) commit snapshots or delete files
//! even when called from `SELECT * FROM ...` inside `BEGIN TRANSACTION READ
//! ONLY` (tried on DuckDB 1.4.4 + DuckLake 0.3). So the statement is parsed
//! by DuckDB (`json_serialize_sql`) and every function it names, at any
//! depth, is checked against a deny rule.

use std::sync::Mutex;

use duckdb::Connection;

/// DuckLake functions that only read; every other `ducklake_*` function is refused.
const READ_ONLY_DUCKLAKE: &[&str] = &[
    "ducklake_snapshots",
    "ducklake_current_snapshot",
    "ducklake_last_committed_snapshot",
    "ducklake_table_info",
    "ducklake_list_files",
    "ducklake_options",
    "ducklake_table_changes",
    "ducklake_table_insertions",
    "ducklake_table_deletions",
];

/// Functions that run SQL given as a string, which the checks here cannot see into
/// (the json extension's runner takes `json_serialize_sql` output of any text).
const SQL_RUNNERS: &[&str] = &["query", "query_table", "json_execute_serialized_sql"];

/// Why `name` may not be called, if it may not.
pub fn denied(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    if name.starts_with("ducklake_") && !READ_ONLY_DUCKLAKE.contains(&name.as_str()) {
        return Some(format!("{name} changes the lake; maintenance runs inside the ingester (see `maintain`)"));
    }
    if SQL_RUNNERS.contains(&name.as_str()) {
        return Some(format!("{name}() runs SQL from a string, which cannot be checked; write the query directly"));
    }
    None
}

/// Every `function_name` in a `json_serialize_sql` tree.
fn function_names(tree: &serde_json::Value, out: &mut Vec<String>) {
    match tree {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(name)) = map.get("function_name") {
                out.push(name.clone());
            }
            map.values().for_each(|v| function_names(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| function_names(v, out)),
        _ => {}
    }
}

/// Checks statements with DuckDB's parser (needs the json extension).
pub struct FunctionGuard {
    conn: Mutex<Connection>,
}

impl FunctionGuard {
    /// `None` when the json extension (and so `json_serialize_sql`) is not loaded.
    pub fn new(conn: Connection) -> Option<Self> {
        let loaded = conn
            .query_row("SELECT CAST(json_serialize_sql('SELECT 1') AS VARCHAR)", [], |r| r.get::<_, String>(0))
            .is_ok();
        loaded.then(|| FunctionGuard { conn: Mutex::new(conn) })
    }

    /// `Err(reason)` when `sql` calls a denied function. Statements DuckDB
    /// cannot serialize (EXPLAIN, SHOW, ...) fall back to a conservative
    /// text check: any denied name anywhere in the text refuses it.
    pub fn check(&self, sql: &str) -> Result<(), String> {
        let serialized: Result<String, _> = {
            let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            conn.query_row("SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)", [sql], |r| r.get(0))
        };
        let tree: Option<serde_json::Value> = serialized.ok().and_then(|s| serde_json::from_str(&s).ok());
        match tree {
            Some(tree) if tree["error"] == serde_json::Value::Bool(false) => {
                let mut names = Vec::new();
                function_names(&tree, &mut names);
                names.iter().find_map(|n| denied(n)).map_or(Ok(()), Err)
            }
            _ => text_check(sql),
        }
    }
}

/// The fallback: refuses text naming a `ducklake_` function outside the
/// read-only list, or naming a [`SQL_RUNNERS`] function at all: a comment or
/// a quoted name between it and its `(` still calls it (`query/**/(...)`).
fn text_check(sql: &str) -> Result<(), String> {
    let lower = sql.to_ascii_lowercase();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_word(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_word(bytes[i]) {
            i += 1;
        }
        let word = &lower[start..i];
        if (word.starts_with("ducklake_") || SQL_RUNNERS.contains(&word))
            && let Some(reason) = denied(word)
        {
            return Err(reason);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_rule() {
        assert!(denied("ducklake_merge_adjacent_files").is_some());
        assert!(denied("DuckLake_Expire_Snapshots").is_some());
        assert!(denied("ducklake_delete_orphaned_files").is_some());
        assert!(denied("ducklake_snapshots").is_none());
        assert!(denied("query").is_some());
        assert!(denied("json_execute_serialized_sql").is_some());
        assert!(denied("count").is_none());
    }

    #[test]
    fn names_are_found_at_any_depth() {
        let tree = serde_json::json!({"error": false, "statements": [{"node": {"from_table": {"left": {"function": {"function_name": "ducklake_set_option"}}}, "where": {"children": [{"function_name": "lower"}]}}}]});
        let mut names = Vec::new();
        function_names(&tree, &mut names);
        names.sort();
        assert_eq!(names, ["ducklake_set_option", "lower"]);
    }

    #[test]
    fn text_fallback() {
        assert!(text_check("EXPLAIN ANALYZE SELECT * FROM ducklake_cleanup_old_files('x')").is_err());
        assert!(text_check("EXPLAIN SELECT * FROM query ('SELECT 1')").is_err());
        // Found by fuzz/ (tests/fuzz-regressions/sql): EXPLAIN ANALYZE runs the call.
        assert!(text_check("EXPLAIN ANALYZE SELECT * FROM query/**/('SELECT 1')").is_err());
        assert!(text_check("EXPLAIN ANALYZE SELECT * FROM \"query\" ('SELECT 1')").is_err());
        assert!(text_check("EXPLAIN SELECT query_count FROM t").is_ok());
        assert!(text_check("EXPLAIN SELECT * FROM ducklake_snapshots('x')").is_ok());
    }
}
