//! The DuckLake bugs of DuckDB 1.4.4 that the ingester once worked around,
//! reproduced with the stock Python client of the pinned release and the same
//! extension wheels (`tests/python/upstream/`): each script exits 0 only when
//! the engine behaves. The workarounds were removed because these pass; an
//! engine change that brings a bug back fails here first.
//!
//! Skipped with a `NOTICE:` without the extensions, the Python client,
//! PostgreSQL or `psql`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ducklake_tests::lake::{PgServer, python_duckdb_installed};
use ducklake_tests::{describe, extension_dir};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/upstream").join(name)
}

/// Runs one reproduction; asserts it found the engine fixed.
fn reproduce(extensions: &Path, name: &str, args: &[&str]) {
    let out = Command::new("python3")
        .arg(script(name))
        .args(["--extensions", extensions.to_str().unwrap()])
        .args(args)
        .output()
        .expect("run python3");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && printed.starts_with("fixed:"), "{name} {args:?}: {}", describe(&out));
    eprintln!("upstream: {name} {}: {}", args.first().copied().unwrap_or(""), printed.trim());
}

/// The extensions and the stock client, or `None` after a notice.
fn stock_client(test: &str) -> Option<PathBuf> {
    let extensions = extension_dir(test)?;
    python_duckdb_installed().then_some(extensions)
}

fn psql_installed() -> bool {
    let ok = Command::new("psql").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        ducklake_tests::missing_tool("psql is not installed; skipping this PostgreSQL reproduction");
    }
    ok
}

#[test]
fn filtered_scans_of_inlined_rows_see_every_row() {
    let Some(extensions) = stock_client("the inlined-scan reproduction") else { return };
    reproduce(&extensions, "inlined_scan.py", &[]);
}

#[test]
fn a_flush_beside_inserts_in_one_process_duplicates_nothing() {
    let Some(extensions) = stock_client("the flush-race reproduction") else { return };
    reproduce(&extensions, "flush_race.py", &[]);
}

#[test]
fn a_flush_that_loses_a_race_to_another_process_duplicates_nothing() {
    let Some(extensions) = stock_client("the cross-process flush reproduction") else { return };
    let Some(pg) = PgServer::start() else { return };
    if psql_installed() {
        reproduce(&extensions, "flush_race.py", &["--processes", "--pg", &pg.conninfo()]);
    }
}

#[test]
fn processes_creating_tables_at_once_do_not_garble_the_change_lists() {
    let Some(extensions) = stock_client("the concurrent-DDL reproduction") else { return };
    let Some(pg) = PgServer::start() else { return };
    if psql_installed() {
        reproduce(&extensions, "concurrent_ddl.py", &["--pg", &pg.conninfo()]);
    }
}

/// Still present in 1.5.5, so the query API runs its function guard on the
/// parse tree before it prepares a statement (`query/mod.rs`, `plan`); the
/// server test of it is `read_only_process_queries_the_postgres_lake_during_ingestion`.
/// When this fails because the script says `fixed:`, the engine fixed it:
/// drop the note in `plan` and move the script to the fixed list.
#[test]
fn binding_set_option_on_a_lake_with_a_view_still_crashes() {
    let Some(extensions) = stock_client("the set_option reproduction") else { return };
    let out = Command::new("python3")
        .arg(script("set_option_with_view.py"))
        .args(["--extensions", extensions.to_str().unwrap()])
        .output()
        .expect("run python3");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.starts_with("BUG:") && printed.contains("exit -11"), "{}", describe(&out));
    eprintln!("upstream: set_option_with_view.py: {} (known, guarded)", printed.trim());
}
