//! Helpers for the integration tests: they run the real `ducklake-ingester`
//! binary against the shared Stellar fixtures and inspect the catalogs it
//! writes with DuckDB.
//!
//! Fixtures live in `../shared/fixtures/stellar` next to the repository (or
//! wherever `STELLAR_FIXTURES` points). When they are absent, tests print a
//! notice and pass without checking anything fixture-based.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

pub const PUBNET: &str = "Public Global Stellar Network ; September 2015";
pub const TESTNET: &str = "Test SDF Network ; September 2015";

/// The fixture folder, or `None` (with a printed notice) when it is absent.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("STELLAR_FIXTURES").map(PathBuf::from).unwrap_or_else(|| {
        // Cargo sets CARGO_MANIFEST_DIR when it runs a test; prefer that to the
        // compile-time value, which goes stale when a build cache moves.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        crate_dir.join("../../shared/fixtures/stellar")
    });
    if dir.join("decoded_stats.jsonl").is_file() {
        Some(dir.canonicalize().unwrap_or(dir))
    } else {
        eprintln!("NOTICE: Stellar fixtures not found at {}; skipping this fixture test", dir.display());
        None
    }
}

/// Returns early from a test when the fixtures are absent.
#[macro_export]
macro_rules! require_fixtures {
    () => {
        match $crate::fixtures() {
            Some(dir) => dir,
            None => return,
        }
    };
}

/// Path of a binary built from this workspace (same profile as the tests).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("test executable lives in target/<profile>/deps");
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, which the README's test command does)",
        bin.display()
    );
    bin
}

pub fn ingester() -> PathBuf {
    binary("ducklake-ingester")
}

/// Runs the ingester with arguments, capturing its output.
pub fn run_ingester(args: &[&str]) -> Output {
    Command::new(ingester()).args(args).env("RUST_LOG", "info").output().expect("spawn ducklake-ingester")
}

/// `ducklake-ingester run --config <config>`.
pub fn run_config(config: &Path) -> Output {
    run_ingester(&["run", "--config", config.to_str().expect("utf-8 path")])
}

/// Exit code and combined output, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A datastore source block for a config file.
pub struct Lake<'a> {
    pub path: &'a Path,
    pub passphrase: &'a str,
    pub start: u32,
    pub end: u32,
}

/// Writes a config with one datastore source; `extra` is appended under `ducklake:`.
pub fn write_config(dir: &Path, name: &str, lake: &Lake<'_>, catalog: &Path, ducklake_extra: &str) -> PathBuf {
    let yaml = format!(
        r#"sources:
  - mode: datastore
    datastore:
      type: FS
      path: "{}"
    network_passphrase: "{}"
    start_ledger: {}
    end_ledger: {}
ducklake:
  catalog_path: "{}"
  catalog_name: stellar
{ducklake_extra}
logging:
  format: text
"#,
        lake.path.display(),
        lake.passphrase,
        lake.start,
        lake.end,
        catalog.display()
    );
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// Opens a catalog written by the ingester (the process must have exited).
pub fn open_catalog(path: &Path) -> duckdb::Connection {
    let conn = duckdb::Connection::open_in_memory().expect("duckdb");
    conn.execute_batch(&format!(
        "ATTACH '{}' AS c (READ_ONLY); USE c;",
        path.display().to_string().replace('\'', "''")
    ))
    .expect("attach catalog");
    conn
}

/// One line of `decoded_stats.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct DecodedStats {
    pub file: String,
    pub seq: u32,
    /// NULL for a ledger without transactions.
    pub network: Option<String>,
    pub tx_count: i64,
    pub tx_success: i64,
    pub tx_failed: i64,
    pub txset_op_count: i64,
    pub success_op_count: i64,
    pub ledger_hash: String,
    pub prev_hash: String,
    pub close_time: i64,
    pub protocol: i64,
    pub lcm_version: i64,
    pub fee_bump_txs: i64,
}

/// Per-ledger numbers from the two independent decoders, one entry per ledger.
pub fn decoded_stats(fixtures: &Path) -> BTreeMap<u32, DecodedStats> {
    let text = std::fs::read_to_string(fixtures.join("decoded_stats.jsonl")).expect("decoded_stats.jsonl");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let s: DecodedStats = serde_json::from_str(line).expect("decoded_stats line");
        out.insert(s.seq, s);
    }
    out
}

/// A copy of a fixture lake in a temporary directory, for tests that damage it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Content of every data table as sorted text rows, for comparing catalogs.
/// `ingestion_timestamp` (wall clock) is left out.
pub fn table_fingerprint(conn: &duckdb::Connection, schema: &str, table: &str) -> (u64, String) {
    let exclude = if table == "ledgers_row_v2" { " EXCLUDE (ingestion_timestamp)" } else { "" };
    let sql = format!(
        "SELECT count(*), coalesce(string_agg(md5(CAST(t AS VARCHAR)), ',' ORDER BY md5(CAST(t AS VARCHAR))), '') \
         FROM (SELECT *{exclude} FROM \"{schema}\".\"{table}\") t"
    );
    conn.query_row(&sql, [], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))).expect(&sql)
}
