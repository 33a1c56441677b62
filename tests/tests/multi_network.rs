//! Several networks in one process: each source writes its own schema with
//! its own progress and resume point, and one failing source does not stop
//! the others.

use std::path::Path;

use ducklake_tests::batch;
use ducklake_tests::{
    Lake, LedgerServer, PUBNET, TESTNET, assert_lineage_matches_tables, datastore_source, describe, grpc_source,
    open_catalog, require_fixtures, run_config, write_sources_config,
};

const PUBNET_START: u32 = 63092982;
const PUBNET_END: u32 = 63093001;
const TESTNET_START: u32 = 1410048;
const TESTNET_END: u32 = 1410367;

fn count(conn: &duckdb::Connection, schema: &str) -> (i64, Option<i64>) {
    conn.query_row(&format!("SELECT count(*), max(sequence) FROM {schema}.ledgers_row_v2"), [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap()
}

fn pubnet_lake(fixtures: &Path) -> std::path::PathBuf {
    fixtures.join("derived/datalake-pubnet-lpf1-fpp64000")
}

#[test]
fn two_networks_ingest_concurrently_into_two_schemas() {
    let fixtures = require_fixtures!();
    let dir = tempfile::tempdir().unwrap();
    let testnet_lake = fixtures.join("derived/datalake-testnet-lpf64-fpp10");
    let server = LedgerServer::start(&["--lake", pubnet_lake(&fixtures).to_str().unwrap()]);
    let catalog = dir.path().join("two.duckdb");
    let sources = [
        grpc_source(&server.addr, PUBNET, PUBNET_START, PUBNET_END, |_| {}),
        datastore_source(&Lake { path: &testnet_lake, passphrase: TESTNET, start: TESTNET_START, end: TESTNET_END }),
    ];
    let config = write_sources_config(dir.path(), "two.yaml", &sources, &catalog, &batch(16));
    let out = run_config(&config);
    assert!(out.status.success(), "{}", describe(&out));
    let conn = open_catalog(&catalog);
    assert_eq!(count(&conn, "mainnet"), (20, Some(i64::from(PUBNET_END))));
    assert_eq!(count(&conn, "testnet"), (320, Some(i64::from(TESTNET_END))));
    assert_lineage_matches_tables(&conn, "mainnet");
    assert_lineage_matches_tables(&conn, "testnet");
}

#[test]
fn a_failing_source_does_not_stop_the_other() {
    let fixtures = require_fixtures!();
    let dir = tempfile::tempdir().unwrap();
    let testnet_lake = fixtures.join("derived/datalake-testnet-lpf64-fpp10");
    let bad = TESTNET_START + 10;
    let broken = LedgerServer::start(&["--lake", testnet_lake.to_str().unwrap(), "--corrupt-ledger", &bad.to_string()]);
    // The healthy network is paced so that it is still running when the other fails.
    let paced =
        LedgerServer::start(&["--lake", pubnet_lake(&fixtures).to_str().unwrap(), "--ledger-interval", "150ms"]);
    let catalog = dir.path().join("fail.duckdb");
    let sources = [
        grpc_source(&broken.addr, TESTNET, TESTNET_START, TESTNET_END, |_| {}),
        grpc_source(&paced.addr, PUBNET, PUBNET_START, PUBNET_END, |_| {}),
    ];
    let config = write_sources_config(dir.path(), "fail.yaml", &sources, &catalog, &batch(4));
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(1), "a failed source makes the exit code 1: {}", describe(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    let failed_at = log.find("source failed").expect("the failure is logged");
    let last_commit =
        log.rfind(&format!("committed ledgers {}-{PUBNET_END}", PUBNET_END - 3)).expect("pubnet finished");
    assert!(failed_at < last_commit, "pubnet kept committing after testnet failed:\n{log}");
    assert!(log.contains(&format!("ledger {bad}")), "the error names the bad ledger:\n{log}");

    let conn = open_catalog(&catalog);
    assert_eq!(count(&conn, "mainnet"), (20, Some(i64::from(PUBNET_END))));
    assert_eq!(count(&conn, "testnet"), (10, Some(i64::from(bad - 1))));
    assert_lineage_matches_tables(&conn, "mainnet");
    assert_lineage_matches_tables(&conn, "testnet");
}
