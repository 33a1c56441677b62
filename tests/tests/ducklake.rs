//! DuckLake storage against real services: the real extensions (from
//! `scripts/fetch-extensions.sh`), a PostgreSQL server started here, a moto
//! S3 server on loopback, and the stock Python `duckdb` client of the bundled
//! engine's release (1.5.5) as an independent reader.
//!
//! Every lake is compared with a plain DuckDB catalog of the same ledgers,
//! table by table and row by row (all 19 tables).
//!
//! Skipped with a `NOTICE:` when the fixtures, extensions, PostgreSQL or moto are absent.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ducklake_tests::config::{DuckLakeConfig, EVERY_LEDGER_AT_THE_TIP, SyntheticConfig, synthetic_source};
use ducklake_tests::lake::{LakeSpec, PgServer, S3Target, assert_same_fingerprints, data_files, fingerprints};
use ducklake_tests::moto::Moto;
use ducklake_tests::{
    DUCKDB_VERSION, DUCKLAKE_FORMAT, Lake, SYNTHNET, TESTNET, assert_lineage_matches_tables, describe, extension_dir,
    http, ingest_all_fixture_ledgers, ingest_all_fixture_ledgers_into, ingester, open_catalog, require_fixtures,
    run_config, run_ingester, spawn_run, stderr_lines, wait_exit, wait_for_line, write_config, write_sources_config,
};
use ducklake_tests::{Tweak, batch, keep};

const TESTNET_LAKE: &str = "derived/datalake-testnet-lpf64-fpp10";
const TESTNET_FIRST: u32 = 1410048;
const TESTNET_LAST: u32 = 1410367;

macro_rules! require_extensions {
    ($test:expr) => {
        match extension_dir($test) {
            Some(dir) => dir,
            None => return,
        }
    };
}

/// `run --config` with extra environment variables.
fn run_with_env(config: &Path, env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(ingester());
    cmd.args(["run", "--config", config.to_str().unwrap()]).env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn ducklake-ingester")
}

/// The testnet fixture range `[start, end]` into a plain DuckDB file: the reference.
fn reference_catalog(fixtures: &Path, dir: &Path, start: u32, end: u32) -> std::path::PathBuf {
    let lake = fixtures.join(TESTNET_LAKE);
    let catalog = dir.join("reference.duckdb");
    let config =
        write_config(dir, "reference.yaml", &Lake { path: &lake, passphrase: TESTNET, start, end }, &catalog, &keep);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "reference run: {}", describe(&out));
    catalog
}

/// Asserts the lake's testnet tables equal the reference catalog's; returns the row counts.
fn assert_matches_reference(reference: &Path, lake: &duckdb::Connection, what: &str) -> BTreeMap<String, u64> {
    assert_same_fingerprints(&fingerprints(&open_catalog(reference), "testnet"), &fingerprints(lake, "testnet"), what)
}

/// Writes a config ingesting testnet `[start, end]` into `spec`.
fn lake_config(
    dir: &Path,
    name: &str,
    fixtures: &Path,
    spec: &LakeSpec,
    start: u32,
    end: u32,
    tweak: Tweak<'_>,
) -> std::path::PathBuf {
    let lake = fixtures.join(TESTNET_LAKE);
    let on_lake = |d: &mut DuckLakeConfig| {
        spec.apply(d);
        tweak(d);
    };
    write_config(dir, name, &Lake { path: &lake, passphrase: TESTNET, start, end }, &spec.catalog(), &on_lake)
}

#[test]
fn duckdb_catalog_with_local_data_holds_the_rows_of_plain_duckdb() {
    let fixtures = require_fixtures!();
    let extensions = require_extensions!("the DuckLake tests");
    let dir = tempfile::tempdir().unwrap();
    let plain = ingest_all_fixture_ledgers(&fixtures, &dir.path().join("plain"), &keep);
    let spec = LakeSpec::local(&dir.path().join("lake"), &extensions);
    let lake_dir = dir.path().join("lake-configs");
    std::fs::create_dir_all(&lake_dir).unwrap();
    ingest_all_fixture_ledgers_into(&fixtures, &lake_dir, &spec.catalog(), &|d| spec.apply(d));

    let (reference, lake) = (open_catalog(&plain.catalog), spec.open());
    for schema in ["mainnet", "testnet"] {
        let counts = assert_same_fingerprints(&fingerprints(&reference, schema), &fingerprints(&lake, schema), schema);
        assert_lineage_matches_tables(&lake, schema);
        let total: u64 = counts.values().sum();
        eprintln!("ducklake (DuckDB catalog): {schema}: {total} rows in 19 tables identical to plain DuckDB");
        // The stock client reads the same counts.
        if let Some(py) = spec.python_counts(schema) {
            assert_eq!(py, counts, "{schema}: Python duckdb counts");
            eprintln!(
                "ducklake (DuckDB catalog): {schema}: Python duckdb {DUCKDB_VERSION} reads the same {total} rows \
                 in DuckLake format {DUCKLAKE_FORMAT}"
            );
        }
    }
    // The *_current views exist in the lake and agree with the plain catalog.
    let q = "SELECT count(*) FROM testnet.accounts_snapshot_v1_current";
    let (a, b): (i64, i64) =
        (reference.query_row(q, [], |r| r.get(0)).unwrap(), lake.query_row(q, [], |r| r.get(0)).unwrap());
    assert_eq!(a, b);
    // Data files are Parquet under the data path.
    let parquet = walk(&dir.path().join("lake/data")).iter().filter(|p| p.ends_with(".parquet")).count();
    assert!(parquet > 0, "no Parquet files under the data path");
    eprintln!("ducklake (DuckDB catalog): {parquet} Parquet files; accounts_snapshot_v1_current {a} rows");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[test]
fn postgres_catalog_with_s3_data() {
    let fixtures = require_fixtures!();
    let extensions = require_extensions!("the DuckLake PostgreSQL test");
    let Some(pg) = PgServer::start() else { return };
    let Some(moto) = Moto::start() else { return };
    moto.s3(&["mb", "lake"]);
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_catalog(&fixtures, dir.path(), TESTNET_FIRST, TESTNET_LAST);
    let spec = LakeSpec {
        catalog_path: format!("ducklake:postgres:{}", pg.conninfo()),
        data_path: "s3://lake/stellar/".into(),
        s3: Some(S3Target { endpoint: moto.endpoint.clone(), key_id: "test".into(), secret: "moto-secret".into() }),
        extensions,
        metadata_schema: None,
    };
    let config = lake_config(dir.path(), "pg.yaml", &fixtures, &spec, TESTNET_FIRST, TESTNET_LAST, &|d| {
        (d.batch_size, d.data_inlining_row_limit) = (40, 10)
    });
    let out = run_with_env(&config, &spec.env());
    assert_eq!(out.status.code(), Some(0), "run: {}", describe(&out));
    // The secret never reaches the log.
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains("moto-secret"), "the S3 secret was logged");

    let lake = spec.open();
    let counts = assert_matches_reference(&reference, &lake, "pg+s3");
    assert_lineage_matches_tables(&lake, "testnet");
    let files = data_files(&lake, "testnet");
    assert!(files > 0, "no data files on S3");
    eprintln!(
        "ducklake (PostgreSQL catalog, S3 data): {} rows identical to plain DuckDB; {files} data files",
        counts.values().sum::<u64>()
    );
    if let Some(py) = spec.python_counts("testnet") {
        assert_eq!(py, counts, "Python duckdb counts");
        eprintln!(
            "ducklake (PostgreSQL catalog, S3 data): Python duckdb {DUCKDB_VERSION} reads the same counts \
             in DuckLake format {DUCKLAKE_FORMAT}"
        );
    }
    // A rerun finds everything committed and adds nothing.
    let out = run_with_env(&config, &spec.env());
    assert_eq!(out.status.code(), Some(0), "rerun: {}", describe(&out));
    assert_eq!(fingerprints(&spec.open(), "testnet"), fingerprints(&lake, "testnet"));
}

/// `run` of two synthetic ledgers into `spec`, which must fail (exit 1) on
/// its extensions; returns the error output.
fn run_failing_on_extensions(dir: &Path, spec: &LakeSpec) -> String {
    let source = synthetic_source(SyntheticConfig::default(), SYNTHNET, 2, 3);
    let config = write_sources_config(dir, "x.yaml", &[source], &spec.catalog(), &|d| spec.apply(d));
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_extension_is_named_with_the_command_that_installs_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("ext");
    std::fs::create_dir_all(&empty).unwrap();
    let spec = LakeSpec::local(&dir.path().join("lake"), &empty);
    let err = run_failing_on_extensions(dir.path(), &spec);
    assert!(
        err.contains("needs the ducklake extension")
            && err.contains(&format!("v{DUCKDB_VERSION}/linux_amd64/ducklake.duckdb_extension is missing"))
            && err.contains("scripts/fetch-extensions.sh"),
        "{err}"
    );
    // Nothing was created.
    assert!(!dir.path().join("lake/catalog.ducklake").exists());
}

/// Extensions load with DuckDB's signature checks on: a `ducklake` extension
/// altered by one byte is refused, naming the file, and nothing is created.
#[test]
fn an_extension_whose_signature_does_not_verify_is_refused() {
    let extensions = require_extensions!("the extension signature test");
    let dir = tempfile::tempdir().unwrap();
    let files = format!("v{DUCKDB_VERSION}/linux_amd64");
    let tampered = dir.path().join("ext");
    std::fs::create_dir_all(tampered.join(&files)).unwrap();
    let mut bytes = std::fs::read(extensions.join(&files).join("ducklake.duckdb_extension")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let file = tampered.join(&files).join("ducklake.duckdb_extension");
    std::fs::write(&file, bytes).unwrap();
    let spec = LakeSpec::local(&dir.path().join("lake"), &tampered);
    let err = run_failing_on_extensions(dir.path(), &spec);
    assert!(err.contains(&format!("cannot load {}", file.display())) && err.contains("signature"), "{err}");
    assert!(!dir.path().join("lake/catalog.ducklake").exists());
    eprintln!("extensions: a ducklake extension altered by one byte is refused: signature checks are on");
}

/// Regression (found by the soak run): DuckLake 0.3's flush of inlined data
/// duplicated rows that a commit inserted at the same moment
/// (duckdb/ducklake#650). Maintenance every second, a commit per ledger and
/// inlining on: every table must still equal the plain run, row for row.
#[test]
fn maintenance_during_ingestion_duplicates_nothing() {
    let fixtures = require_fixtures!();
    let extensions = require_extensions!("the DuckLake maintenance race test");
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_catalog(&fixtures, dir.path(), TESTNET_FIRST, TESTNET_LAST);
    let spec = LakeSpec::local(&dir.path().join("lake"), &extensions);
    let tweak = |d: &mut DuckLakeConfig| {
        (d.batch_size, d.commit_interval_seconds, d.data_inlining_row_limit) = (1, EVERY_LEDGER_AT_THE_TIP, 1000);
        let m = &mut d.maintenance;
        (m.interval_seconds, m.expire_snapshots_after_seconds, m.cleanup_files_after_seconds) = (1, 1, 1);
    };
    let config = lake_config(dir.path(), "race.yaml", &fixtures, &spec, TESTNET_FIRST, TESTNET_LAST, &tweak);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    let flushes =
        log.lines().filter(|l| l.contains("maintenance task done") && l.contains("flush_inlined_data")).count();
    assert!(flushes >= 3, "only {flushes} flushes ran during ingestion:\n{log}");
    let counts = assert_matches_reference(&reference, &spec.open(), "maintenance during ingestion");
    if let Some(py) = spec.python_counts("testnet") {
        assert_eq!(py, counts);
    }
    eprintln!(
        "ducklake: {flushes} flushes of inlined data during 320 one-ledger commits; {} rows in 19 tables, none twice",
        counts.values().sum::<u64>()
    );
}

#[test]
fn maintenance_shrinks_the_file_count_and_keeps_every_row() {
    let fixtures = require_fixtures!();
    let extensions = require_extensions!("the DuckLake maintenance test");
    let dir = tempfile::tempdir().unwrap();
    // Without inlining, every batch of 2 ledgers writes a file per non-empty table.
    let spec = LakeSpec::local(&dir.path().join("lake"), &extensions);
    let tweak = |d: &mut DuckLakeConfig| {
        (d.batch_size, d.data_inlining_row_limit) = (2, 0);
        let m = &mut d.maintenance;
        (m.enabled, m.expire_snapshots_after_seconds, m.cleanup_files_after_seconds) = (false, 1, 0);
    };
    let config = lake_config(dir.path(), "m.yaml", &fixtures, &spec, TESTNET_FIRST, TESTNET_FIRST + 99, &tweak);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "run: {}", describe(&out));
    let (before_files, before) = {
        let lake = spec.open();
        (data_files(&lake, "testnet"), fingerprints(&lake, "testnet"))
    };
    let parquet_before = walk(&dir.path().join("lake/data")).len();
    std::thread::sleep(Duration::from_millis(1100)); // older than expire_snapshots_after_seconds
    let out = run_ingester(&["maintain", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "maintain: {}", describe(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    for task in
        ["flush_inlined_data", "merge_adjacent_files", "expire_snapshots", "cleanup_old_files", "delete_orphaned_files"]
    {
        assert!(report.lines().any(|l| l.starts_with(task) && l.contains(" ok ")), "{task}: {report}");
    }
    let lake = spec.open();
    let after_files = data_files(&lake, "testnet");
    let parquet_after = walk(&dir.path().join("lake/data")).len();
    let counts = assert_same_fingerprints(&before, &fingerprints(&lake, "testnet"), "after maintenance");
    assert!(after_files * 4 < before_files, "files {before_files} -> {after_files}");
    assert!(parquet_after < parquet_before, "unreferenced files were not deleted: {parquet_before} -> {parquet_after}");
    eprintln!(
        "maintenance: data files {before_files} -> {after_files}, files on disk {parquet_before} -> {parquet_after}, \
         {} rows identical",
        counts.values().sum::<u64>()
    );
    if let Some(py) = spec.python_counts("testnet") {
        assert_eq!(py, counts);
    }

    // With inlining, live batches (every ledger at the tip) write no files at all until the flush.
    let spec = LakeSpec::local(&dir.path().join("inlined"), &spec.extensions);
    let tweak = |d: &mut DuckLakeConfig| {
        (d.commit_interval_seconds, d.data_inlining_row_limit, d.maintenance.enabled) =
            (EVERY_LEDGER_AT_THE_TIP, 2048, false);
    };
    let config = lake_config(dir.path(), "i.yaml", &fixtures, &spec, TESTNET_FIRST, TESTNET_FIRST + 99, &tweak);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "run: {}", describe(&out));
    let inlined = fingerprints(&spec.open(), "testnet");
    assert_eq!(data_files(&spec.open(), "testnet"), 0, "inlined rows were written as files");
    assert_same_fingerprints(&before, &inlined, "inlined");
    let out = run_ingester(&["maintain", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "maintain: {}", describe(&out));
    let flushed = data_files(&spec.open(), "testnet");
    assert!(flushed > 0 && flushed <= 19, "flushed into {flushed} files");
    assert_same_fingerprints(&before, &fingerprints(&spec.open(), "testnet"), "flushed");
    eprintln!("maintenance: inlined rows (0 files) flushed into {flushed} files, rows identical");
}

/// Regression (found by the soak): DuckLake 0.3 (DuckDB 1.4.4) stopped
/// scanning a table's inlined rows at the first 2048-row vector in which no
/// row passed the query's filter, so lookups by hash found nothing once a
/// table held more than 2048 inlined rows; the ingester flushed tables
/// before they did. DuckLake 1.0 scans them all, so that workaround is gone:
/// 32 synthetic pubnet-size ledgers committed one by one leave their native
/// balances (narrow rows) inlined, several vectors of them, and every
/// filtered count equals the unfiltered one.
#[test]
fn filtered_queries_see_every_inlined_row() {
    let extensions = require_extensions!("the DuckLake inlining test");
    let dir = tempfile::tempdir().unwrap();
    let synth = dir.path().join("synth");
    // Enough ledgers that their inlined native balances fill more than three 2048-row vectors.
    const LEDGERS: u32 = 32;
    let n = LEDGERS.to_string();
    let out = run_ingester(&["synth", "--out", synth.to_str().unwrap(), "--ledgers", &n, "--size", "pubnet"]);
    assert_eq!(out.status.code(), Some(0), "synth: {}", describe(&out));
    let spec = LakeSpec::local(&dir.path().join("lake"), &extensions);
    let tweak = |d: &mut DuckLakeConfig| {
        spec.apply(d);
        (d.commit_interval_seconds, d.data_inlining_row_limit, d.maintenance.enabled) =
            (EVERY_LEDGER_AT_THE_TIP, 1000, false);
    };
    let lake = Lake { path: &synth, passphrase: SYNTHNET, start: 2, end: LEDGERS + 1 };
    let config = write_config(dir.path(), "i.yaml", &lake, &spec.catalog(), &tweak);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "run: {}", describe(&out));

    let conn = spec.open();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let txs = count("SELECT count(*) FROM c.synthnet.transactions_row_v2");
    // A live batch inlines a table only when its rows are few and small: each
    // ledger's native balances (narrow rows) stay in the catalog, its
    // transactions (kilobytes of XDR each) become a file at once.
    let (table, key) = ("native_balances_snapshot_v1", "account_id");
    let inlined = count(&format!("SELECT count(*) FROM c.synthnet.{table}"));
    assert!(inlined > 3 * 2048, "{inlined} {table} rows: too few to span several vectors");
    for cut in [5, 12, 20, 24] {
        let pushed = count(&format!("SELECT count(*) FROM c.synthnet.{table} WHERE ledger_sequence > {cut}"));
        let scanned = count(&format!("SELECT count_if(ledger_sequence > {cut}) FROM c.synthnet.{table}"));
        assert_eq!(pushed, scanned, "{table} WHERE ledger_sequence > {cut}");
    }
    let hashes: Vec<String> = conn
        .prepare(&format!("SELECT DISTINCT {key} FROM c.synthnet.{table} WHERE ledger_sequence + 0 >= 24"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!hashes.is_empty());
    for h in &hashes {
        let n = count(&format!("SELECT count(*) FROM c.synthnet.{table} WHERE {key} = '{h}'"));
        let scanned = count(&format!("SELECT count_if({key} = '{h}') FROM c.synthnet.{table}"));
        assert_eq!(n, scanned, "lookup of {h}");
    }
    let files = data_files(&conn, "synthnet");
    let table_files = |t: &str| -> Vec<String> {
        conn.prepare(&format!("SELECT data_file FROM ducklake_list_files('c', '{t}', schema => 'synthnet')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // A ledger of more than 1000 balance changes (or 64 KiB of them) is a
    // file of its own; the rows in no file are the inlined ones.
    let paths = table_files(table);
    let in_files = if paths.is_empty() {
        0
    } else {
        let list = paths.iter().map(|p| format!("'{}'", p.replace('\'', "''"))).collect::<Vec<_>>().join(", ");
        count(&format!("SELECT count(*) FROM read_parquet([{list}])"))
    };
    let small = inlined - in_files;
    assert!(
        paths.len() * 8 < LEDGERS as usize && small > 3 * 2048,
        "{table}: {} files, {small} rows inlined; the lookups must run on inlined rows",
        paths.len()
    );
    assert!(!table_files("transactions_row_v2").is_empty(), "wide rows are never inlined");
    let row_group: String = conn
        .query_row("SELECT value FROM ducklake_options('c') WHERE option_name = 'parquet_row_group_size'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(row_group, "8192", "small row groups keep lookups on merged files cheap");
    let target: String = conn
        .query_row("SELECT value FROM ducklake_options('c') WHERE option_name = 'target_file_size'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(target, "64000000", "maintenance stops rewriting a merged file at 64 MB");
    if let Some(py) = spec.python_counts("synthnet") {
        assert_eq!(py["transactions_row_v2"], txs as u64);
    }
    eprintln!(
        "inlining: {inlined} {table} rows committed one ledger at a time, {small} of them inlined ({files} data \
         files for wide or large tables); every filtered count and {} lookups exact",
        hashes.len()
    );
}

/// A child process killed when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `/query` on `addr`: (status, JSON).
fn query(addr: &str, sql: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(addr, "POST", "/query", &serde_json::json!({ "sql": sql }).to_string());
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

fn count(addr: &str, sql: &str) -> i64 {
    let (status, v) = query(addr, sql);
    assert_eq!(status, 200, "{sql}: {v}");
    v["rows"][0][0].as_i64().unwrap_or(0)
}

fn listening(lines: &std::sync::mpsc::Receiver<String>) -> String {
    let line = wait_for_line(lines, "query API listening", &mut Vec::new());
    line.split("address=").nth(1).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn read_only_process_queries_the_postgres_lake_during_ingestion() {
    let extensions = require_extensions!("the DuckLake reader test");
    let Some(pg) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = LakeSpec {
        catalog_path: format!("ducklake:postgres:{}", pg.conninfo()),
        data_path: format!("{}/", dir.path().join("data").display()),
        s3: None,
        extensions,
        metadata_schema: None,
    };
    let synthetic = SyntheticConfig { seed: 3, ledger_interval_ms: 150, ..SyntheticConfig::default() };
    let source = synthetic_source(synthetic, ducklake_tests::SYNTHNET, 2, 0);
    let tweak = |d: &mut DuckLakeConfig| {
        spec.apply(d);
        (d.batch_size, d.commit_interval_seconds, d.maintenance.interval_seconds) = (4, 1, 2);
    };
    let writer_config =
        write_sources_config(dir.path(), "w.yaml", std::slice::from_ref(&source), &spec.catalog(), &tweak);
    let mut writer = Killed(spawn_run(&writer_config));
    let writer_lines = stderr_lines(&mut writer.0);
    let writer_addr = listening(&writer_lines);
    // Wait for the schema and a first commit before the reader attaches.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&writer_addr, "SELECT count(*) FROM synthnet.ledgers_row_v2") == 0 {
        assert!(Instant::now() < deadline, "no commit within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }

    let reader_config = write_sources_config(dir.path(), "r.yaml", &[source], &spec.catalog(), &|d| spec.apply(d));
    let mut reader = Killed(
        Command::new(ingester())
            .args(["serve", "--read-only", "--config", reader_config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let reader_lines = stderr_lines(&mut reader.0);
    let reader_addr = listening(&reader_lines);

    // The reader sees the writer's commits as they land.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "the reader saw only {seen:?}");
        let n = count(&reader_addr, "SELECT count(*) FROM synthnet.ledgers_row_v2");
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "counts went backwards: {seen:?}");
    let joined = count(
        &reader_addr,
        "SELECT count(*) FROM synthnet.transactions_row_v2 t JOIN synthnet.ledgers_row_v2 l ON t.ledger_sequence = l.sequence",
    );
    assert!(joined > 0);

    // Maintenance runs in the writer on its schedule while both serve queries.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, metrics) = http(&writer_addr, "GET", "/metrics", "");
        if metrics.lines().any(|l| {
            l.starts_with("ducklake_maintenance_runs_total{")
                && l.contains("merge_adjacent_files")
                && l.contains("outcome=\"ok\"")
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "no maintenance run within 60 s");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Neither API lets a query change the lake.
    for addr in [&writer_addr, &reader_addr] {
        for sql in [
            "SELECT * FROM ducklake_expire_snapshots('stellar', older_than => now()::TIMESTAMP::TIMESTAMPTZ)",
            "SELECT * FROM ducklake_merge_adjacent_files('stellar')",
            "SELECT * FROM ducklake_set_option('stellar', 'data_inlining_row_limit', 5)",
            "CALL ducklake_cleanup_old_files('stellar', cleanup_all => true)",
            "select * from DuckLake_Delete_Orphaned_Files('stellar', cleanup_all => true)",
            "SELECT 1 FROM range(1) WHERE EXISTS (SELECT * FROM system.main.ducklake_flush_inlined_data('stellar'))",
            "EXPLAIN ANALYZE SELECT * FROM ducklake_merge_adjacent_files('stellar')",
            "SELECT * FROM query('SELECT * FROM ducklake_merge_adjacent_files(''stellar'')')",
            "SELECT * FROM read_parquet('/etc/passwd')",
        ] {
            let (status, v) = query(addr, sql);
            assert_eq!(status, 400, "{addr}: {sql} was accepted: {v}");
        }
        // Reading the lake's history is fine, and so is time travel.
        assert!(count(addr, "SELECT count(*) FROM ducklake_snapshots('stellar')") > 0);
        let (status, v) = query(addr, "SELECT count(*) FROM synthnet.ledgers_row_v2 AT (VERSION => 2)");
        assert_eq!(status, 200, "time travel: {v}");
    }

    // Stop the writer; the reader then sees exactly what the lineage recorded.
    let pid = writer.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert_eq!(wait_exit(&mut writer.0, Duration::from_secs(60)), 0);
    let lineage = count(&reader_addr, "SELECT sum(ledger_count) FROM synthnet._ingest_lineage");
    let rows = count(&reader_addr, "SELECT count(*) FROM synthnet.ledgers_row_v2");
    assert_eq!(lineage, rows);
    if let Some(py) = spec.python_counts("synthnet") {
        assert_eq!(py["ledgers_row_v2"], rows as u64);
    }
    eprintln!("reader: ledger counts seen during ingestion {seen:?}; {rows} ledgers after the writer stopped");
    drop(reader);
}

#[test]
fn two_backfill_processes_on_disjoint_ranges_write_the_rows_of_one() {
    let fixtures = require_fixtures!();
    let extensions = require_extensions!("the DuckLake backfill test");
    let Some(pg) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_catalog(&fixtures, dir.path(), TESTNET_FIRST, TESTNET_LAST);
    let spec = LakeSpec {
        catalog_path: format!("ducklake:postgres:{}", pg.conninfo()),
        data_path: format!("{}/", dir.path().join("data").display()),
        s3: None,
        extensions,
        metadata_schema: None,
    };
    let middle = TESTNET_FIRST + 160;
    let a = lake_config(dir.path(), "a.yaml", &fixtures, &spec, TESTNET_FIRST, middle - 1, &batch(5));
    let b = lake_config(dir.path(), "b.yaml", &fixtures, &spec, middle, TESTNET_LAST, &batch(5));

    let (mut pa, mut pb) = (Killed(spawn_run(&a)), Killed(spawn_run(&b)));
    let (la, lb) = (stderr_lines(&mut pa.0), stderr_lines(&mut pb.0));
    let (ca, cb) = (wait_exit(&mut pa.0, Duration::from_secs(600)), wait_exit(&mut pb.0, Duration::from_secs(600)));
    let logs: Vec<String> = la.try_iter().chain(lb.try_iter()).collect();
    assert_eq!((ca, cb), (0, 0), "backfill processes failed:\n{}", logs.join("\n"));
    let retries = logs.iter().filter(|l| l.contains("write conflict; retrying")).count();

    let lake = spec.open();
    let counts = assert_matches_reference(&reference, &lake, "two backfills");
    assert_lineage_matches_tables(&lake, "testnet");
    // Both processes committed, interleaved, each ledger once.
    let (ledgers, overlaps, low, high): (i64, i64, i64, i64) = lake
        .query_row(
            "SELECT (SELECT sum(ledger_count) FROM testnet._ingest_lineage), \
             (SELECT count(*) FROM testnet._ingest_lineage x JOIN testnet._ingest_lineage y \
              ON x.ledger_start < y.ledger_start AND x.ledger_end >= y.ledger_start), \
             (SELECT count(*) FROM testnet._ingest_lineage WHERE ledger_end < ?), \
             (SELECT count(*) FROM testnet._ingest_lineage WHERE ledger_start >= ?)",
            [i64::from(middle), i64::from(middle)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((ledgers, overlaps), (320, 0));
    assert!(low > 0 && high > 0);
    if let Some(py) = spec.python_counts("testnet") {
        assert_eq!(py, counts);
    }
    eprintln!(
        "parallel backfill: {low} + {high} batches from two processes ({retries} conflict retries); \
         {} rows in 19 tables identical to one plain run",
        counts.values().sum::<u64>()
    );
}
