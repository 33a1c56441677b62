//! Catalogs written by the previous release (0.1.0: DuckDB 1.4.4, DuckLake
//! format 0.3; `tests/fixtures/previous-release/`, with the commands that
//! made them) open with this one and continue exactly once: the result
//! equals a clean run of the whole range on the new engine, row for row in
//! all 19 tables.
//!
//! Skipped with a `NOTICE:` when the fixtures or the extensions are absent.

use std::path::{Path, PathBuf};

use ducklake_tests::config::DuckLakeConfig;
use ducklake_tests::lake::{LakeSpec, assert_same_fingerprints, fingerprints};
use ducklake_tests::{
    DUCKLAKE_FORMAT, Lake, TESTNET, assert_lineage_matches_tables, describe, extension_dir, open_catalog,
    require_fixtures, run_config, run_ingester, write_config,
};
use ducklake_tests::{Tweak, keep};

const TESTNET_LAKE: &str = "derived/datalake-testnet-lpf64-fpp10";
const FIRST: u32 = 1410048;
/// The last ledger the fixtures hold.
const FIXTURE_LAST: u32 = 1410059;
const LAST: u32 = 1410087;
const MIGRATED: &str = "migrated the DuckLake catalog from format 0.3 to 1.0";

fn previous_release(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/previous-release").join(name)
}

/// Copies a fixture folder; `x.zst` files (the DuckDB database files, kept
/// compressed) become `x`, decompressed.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else if let Some(plain) = name.strip_suffix(".zst") {
            let bytes = zstd::decode_all(std::fs::File::open(entry.path()).unwrap()).unwrap();
            std::fs::write(to.join(plain), bytes).unwrap();
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// The DuckLake format recorded in a DuckDB-file catalog, read as a plain
/// DuckDB database (no DuckLake extension, which would refuse or migrate).
fn recorded_format(catalog: &Path) -> String {
    let conn = open_catalog(catalog);
    conn.query_row("SELECT value FROM ducklake_metadata WHERE key = 'version'", [], |r| r.get(0)).unwrap()
}

/// A DuckLake remembers its data path: point the copy at its own.
fn relocate(catalog: &Path, data_path: &str) {
    let conn = duckdb::Connection::open(catalog).unwrap();
    let n = conn.execute("UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'", [data_path]).unwrap();
    assert_eq!(n, 1);
}

fn testnet_config(fixtures: &Path, dir: &Path, name: &str, catalog: &Path, tweak: Tweak<'_>) -> PathBuf {
    let lake = Lake { path: &fixtures.join(TESTNET_LAKE), passphrase: TESTNET, start: FIRST, end: LAST };
    let tweak = |d: &mut DuckLakeConfig| {
        d.batch_size = 7;
        tweak(d);
    };
    write_config(dir, name, &lake, catalog, &tweak)
}

fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_ducklake_0_3_lake_is_migrated_once_and_continues_exactly_once() {
    let fixtures = require_fixtures!();
    let Some(extensions) = extension_dir("the DuckLake 0.3 migration test") else { return };
    let dir = tempfile::tempdir().unwrap();
    let old = LakeSpec::local(&dir.path().join("old"), &extensions);
    copy_dir(&previous_release("ducklake-0.3"), &dir.path().join("old"));
    let catalog = dir.path().join("old/catalog.ducklake");
    relocate(&catalog, &old.data_path);
    assert_eq!(recorded_format(&catalog), "0.3");
    let config = testnet_config(&fixtures, dir.path(), "old.yaml", &old.catalog(), &|d| old.apply(d));

    // check-config says what `run` will do, and does not do it.
    let out = run_ingester(&["check-config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "check-config: {}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("lake format: DuckLake 0.3; `run` will migrate it to 1.0 when it opens it"), "{said}");
    assert!(said.contains("one-way"), "{said}");
    assert_eq!(recorded_format(&catalog), "0.3", "check-config changed the catalog");

    // A read-only server may not migrate it, and says who may.
    let out = run_ingester(&["serve", "--read-only", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "serve --read-only: {}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in format 0.3") && err.contains("ducklake-ingester run"), "{err}");
    assert_eq!(recorded_format(&catalog), "0.3", "a read-only server changed the catalog");

    // The writer migrates it once, resumes after the last committed ledger, and continues.
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "run: {}", describe(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(lines_with(&log, MIGRATED), 1, "{log}");
    let resumed = log.lines().find(|l| l.contains("resuming from the catalog")).unwrap_or_else(|| panic!("{log}"));
    assert!(resumed.contains(&format!("resume_at={}", FIXTURE_LAST + 1)), "{resumed}");
    assert_eq!(recorded_format(&catalog), DUCKLAKE_FORMAT);

    // Exactly the rows of a clean run on the new engine.
    let clean = LakeSpec::local(&dir.path().join("clean"), &extensions);
    let clean_config = testnet_config(&fixtures, dir.path(), "clean.yaml", &clean.catalog(), &|d| clean.apply(d));
    let out = run_config(&clean_config);
    assert_eq!(out.status.code(), Some(0), "clean run: {}", describe(&out));
    let lake = old.open();
    let counts =
        assert_same_fingerprints(&fingerprints(&clean.open(), "testnet"), &fingerprints(&lake, "testnet"), "0.3 lake");
    assert_lineage_matches_tables(&lake, "testnet");
    let (ledgers, versions): (i64, String) = lake
        .query_row(
            "SELECT sum(ledger_count), string_agg(DISTINCT ingester_version, ',' ORDER BY ingester_version) \
             FROM testnet._ingest_lineage",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(ledgers, i64::from(LAST - FIRST + 1), "each ledger once");
    assert_eq!(versions, format!("0.1.0,{}", env!("CARGO_PKG_VERSION")), "batches of both releases");
    if let Some(py) = old.python_counts("testnet") {
        assert_eq!(py, counts, "the stock client reads the migrated lake");
    }

    // A second start finds the lake current: no migration, nothing to do. The file catalog
    // admits one process at a time, so this test lets go of it first.
    drop(lake);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "rerun: {}", describe(&out));
    assert_eq!(lines_with(&String::from_utf8_lossy(&out.stderr), MIGRATED), 0);
    let out = run_ingester(&["check-config", config.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("lake format: DuckLake 1.0"), "{}", describe(&out));
    eprintln!(
        "upgrade: a DuckLake 0.3 lake of ledgers {FIRST}-{FIXTURE_LAST} migrated once to {DUCKLAKE_FORMAT} and continued \
         to {LAST}: {} rows in 19 tables identical to a clean run, each ledger once",
        counts.values().sum::<u64>()
    );
}

#[test]
fn a_duckdb_file_written_by_1_4_4_opens_and_continues_exactly_once() {
    let fixtures = require_fixtures!();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&previous_release("duckdb-1.4.4"), &dir.path().join("old"));
    let old = dir.path().join("old/catalog.duckdb");
    let config = testnet_config(&fixtures, dir.path(), "old.yaml", &old, &keep);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "run: {}", describe(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    let resumed = log.lines().find(|l| l.contains("resuming from the catalog")).unwrap_or_else(|| panic!("{log}"));
    assert!(resumed.contains(&format!("resume_at={}", FIXTURE_LAST + 1)), "{resumed}");

    let clean = dir.path().join("clean.duckdb");
    let out = run_config(&testnet_config(&fixtures, dir.path(), "clean.yaml", &clean, &keep));
    assert_eq!(out.status.code(), Some(0), "clean run: {}", describe(&out));
    let conn = open_catalog(&old);
    let counts = assert_same_fingerprints(
        &fingerprints(&open_catalog(&clean), "testnet"),
        &fingerprints(&conn, "testnet"),
        "1.4.4 DuckDB file",
    );
    assert_lineage_matches_tables(&conn, "testnet");
    let ledgers: i64 =
        conn.query_row("SELECT sum(ledger_count) FROM testnet._ingest_lineage", [], |r| r.get(0)).unwrap();
    assert_eq!(ledgers, i64::from(LAST - FIRST + 1), "each ledger once");
    eprintln!(
        "upgrade: a DuckDB 1.4.4 file of ledgers {FIRST}-{FIXTURE_LAST} continued to {LAST}: {} rows in 19 tables \
         identical to a clean run, each ledger once",
        counts.values().sum::<u64>()
    );
}
