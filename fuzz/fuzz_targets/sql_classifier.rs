//! Bytes as the `sql` of a `/query` request through the query API's
//! planning (DuckDB's parser and binder, the function guard, the limit
//! wrapper). Non-UTF-8 input is skipped: the HTTP layer rejects it first.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use ducklake_ingester::fuzz::SqlGuard;
use libfuzzer_sys::fuzz_target;

/// As in production, the json extension turns the function guard on; run.sh
/// points DUCKLAKE_EXTENSION_DIR at the directory scripts/fetch-extensions.sh fills.
fn guard() -> &'static SqlGuard {
    static GUARD: OnceLock<SqlGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        let dir = std::env::var_os("DUCKLAKE_EXTENSION_DIR").map(PathBuf::from);
        let guard = SqlGuard::new(dir.as_deref()).expect("an in-memory catalog for the query engine");
        if !guard.has_function_guard() {
            eprintln!("NOTICE: no json extension in DUCKLAKE_EXTENSION_DIR ({dir:?}): the function guard is off");
        }
        guard
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = guard().check_sql(text);
    }
});
