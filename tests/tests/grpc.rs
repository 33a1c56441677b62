//! The gRPC source against the real `serve-ledgers` server on loopback:
//! dropped streams, stalls, a server that starts late, a corrupt ledger and a gap.
//! Ledgers must arrive exactly once: the tables of a gRPC run equal those of
//! a direct data-lake run of the same range.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ducklake_tests::config::{SyntheticConfig, synthetic_source};
use ducklake_tests::{
    KillOnDrop, Lake, LedgerServer, SYNTHNET, TESTNET, assert_lineage_matches_tables, assert_same_tables,
    datastore_source, describe, free_port, grpc_source, http, ingester, open_catalog, require_fixtures, run_config,
    spawn_run, stderr_lines, wait_exit, wait_for_line, write_sources_config,
};
use ducklake_tests::{Tweak, batch};

const START: u32 = 1410048;
const END: u32 = 1410367;

fn testnet_lake(fixtures: &Path) -> std::path::PathBuf {
    fixtures.join("derived/datalake-testnet-lpf64-fpp10")
}

/// The reference: the same range read directly from the lake.
fn direct_run(dir: &Path, lake: &Path) -> std::path::PathBuf {
    let catalog = dir.join("direct.duckdb");
    let src = datastore_source(&Lake { path: lake, passphrase: TESTNET, start: START, end: END });
    let config = write_sources_config(dir, "direct.yaml", &[src], &catalog, &batch(64));
    let out = run_config(&config);
    assert!(out.status.success(), "direct run failed: {}", describe(&out));
    catalog
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn dropped_streams_resume_without_loss_or_duplication() {
    let fixtures = require_fixtures!();
    let lake = testnet_lake(&fixtures);
    let dir = tempfile::tempdir().unwrap();
    let reference = direct_run(dir.path(), &lake);

    // Drops at a prime interval land at every offset within the 64-ledger batches.
    let server = LedgerServer::start(&["--lake", lake.to_str().unwrap(), "--drop-every", "37"]);
    let catalog = dir.path().join("grpc.duckdb");
    let src = grpc_source(&server.addr, TESTNET, START, END, |_| {});
    let config = write_sources_config(dir.path(), "grpc.yaml", &[src], &catalog, &batch(50));
    let out = run_config(&config);
    assert!(out.status.success(), "grpc run failed: {}", describe(&out));
    let drops = stderr(&out).matches("fault injection: stream dropped after 37 ledgers").count();
    assert!(drops >= 8, "expected a drop every 37 ledgers, saw {drops}: {}", describe(&out));

    let counts = assert_same_tables(&reference, &catalog, "testnet");
    println!("grpc with {drops} dropped streams: {counts:?} identical to the direct run");
    let ledgers: i64 = open_catalog(&catalog)
        .query_row("SELECT sum(ledger_count) FROM testnet._ingest_lineage", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ledgers, i64::from(END - START + 1));
}

#[test]
fn a_silent_stream_is_reconnected() {
    let fixtures = require_fixtures!();
    let lake = testnet_lake(&fixtures);
    let dir = tempfile::tempdir().unwrap();
    let server = LedgerServer::start(&["--lake", lake.to_str().unwrap(), "--stall-after", "100"]);
    let catalog = dir.path().join("stall.duckdb");
    let src = grpc_source(&server.addr, TESTNET, START, START + 199, |g| g.stall_timeout_seconds = 1);
    let config = write_sources_config(dir.path(), "stall.yaml", &[src], &catalog, &batch(64));
    let out = run_config(&config);
    assert!(out.status.success(), "stalled run failed: {}", describe(&out));
    let log = stderr(&out);
    assert!(
        log.contains(&format!(
            "no ledger for 1s (grpc.stall_timeout_seconds) while waiting for ledger {}",
            START + 100
        )),
        "no stall reconnect in the log: {log}"
    );
    let (n, max): (i64, i64) = open_catalog(&catalog)
        .query_row("SELECT count(*), max(sequence) FROM testnet.ledgers_row_v2", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((n, max), (200, i64::from(START + 199)));
}

#[test]
fn the_ingester_waits_for_a_server_that_starts_late() {
    let fixtures = require_fixtures!();
    let lake = testnet_lake(&fixtures);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let endpoint = format!("127.0.0.1:{port}");
    let catalog = dir.path().join("late.duckdb");
    let src = grpc_source(&endpoint, TESTNET, START, START + 63, |_| {});
    let config = write_sources_config(dir.path(), "late.yaml", &[src], &catalog, &batch(64));
    let mut child = spawn_run(&config);
    let lines = stderr_lines(&mut child);
    let mut seen = Vec::new();
    let listening = wait_for_line(&lines, "query API listening", &mut seen);
    let addr = listening.split("address=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    wait_for_line(&lines, "cannot connect", &mut seen);
    // While the source is down: /status says so, /health stays ready (the
    // committed data is still served).
    let (status, body) = http(&addr, "GET", "/status", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["sources"][0]["state"], "reconnecting", "{v}");
    assert!(v["sources"][0]["reconnects"].as_u64().unwrap() >= 1, "{v}");
    let (status, body) = http(&addr, "GET", "/health", "");
    assert_eq!(status, 200, "a down source must not fail the readiness probe: {body}");

    let _server = Command::new(ingester())
        .args(["serve-ledgers", "--listen", &endpoint, "--lake", lake.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(KillOnDrop)
        .unwrap();
    assert_eq!(wait_exit(&mut child, Duration::from_secs(120)), 0);
    let n: i64 =
        open_catalog(&catalog).query_row("SELECT count(*) FROM testnet.ledgers_row_v2", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 64);
}

#[test]
fn a_corrupt_ledger_fails_clearly_and_commits_only_whole_ledgers_before_it() {
    let fixtures = require_fixtures!();
    let lake = testnet_lake(&fixtures);
    let dir = tempfile::tempdir().unwrap();
    let bad = START + 70;
    let server = LedgerServer::start(&["--lake", lake.to_str().unwrap(), "--corrupt-ledger", &bad.to_string()]);
    let catalog = dir.path().join("corrupt.duckdb");
    let log = fails_after_committing_up_to(&server, dir.path(), &catalog, &batch(50), bad);
    assert!(log.contains(&format!("ledger {bad}")), "the error must name the ledger: {log}");
}

/// Runs the testnet range from `server` into `catalog`, which must exit 1
/// with every ledger before `stop` committed and none after, each table
/// agreeing with the lineage (no batch half-written); returns the log.
fn fails_after_committing_up_to(
    server: &LedgerServer,
    dir: &Path,
    catalog: &Path,
    tweak: Tweak<'_>,
    stop: u32,
) -> String {
    let src = grpc_source(&server.addr, TESTNET, START, END, |_| {});
    let config = write_sources_config(dir, "faulty.yaml", &[src], catalog, tweak);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let conn = open_catalog(catalog);
    let (n, max): (i64, i64) = conn
        .query_row("SELECT count(*), max(sequence) FROM testnet.ledgers_row_v2", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((n, max), (i64::from(stop - START), i64::from(stop - 1)), "every ledger before {stop}, none after");
    assert_lineage_matches_tables(&conn, "testnet");
    stderr(&out)
}

#[test]
fn a_gap_in_the_stream_fails_clearly_and_fills_once_the_source_has_the_ledger() {
    let fixtures = require_fixtures!();
    let lake = testnet_lake(&fixtures);
    let dir = tempfile::tempdir().unwrap();
    let reference = direct_run(dir.path(), &lake);
    let gap = START + 100;
    let server = LedgerServer::start(&["--lake", lake.to_str().unwrap(), "--skip-ledger", &gap.to_string()]);
    let catalog = dir.path().join("gap.duckdb");
    let log = fails_after_committing_up_to(&server, dir.path(), &catalog, &batch(30), gap);
    let expected =
        format!("the server sent ledger {} when ledger {gap} was requested next; refusing to skip ledgers", gap + 1);
    assert!(log.contains(&expected), "the error names the gap: {log}");
    drop(server);

    // A source that has the ledger: the same command completes the range once.
    let server = LedgerServer::start(&["--lake", lake.to_str().unwrap()]);
    let src = grpc_source(&server.addr, TESTNET, START, END, |_| {});
    let config = write_sources_config(dir.path(), "gap.yaml", &[src], &catalog, &batch(30));
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_same_tables(&reference, &catalog, "testnet");
    assert_lineage_matches_tables(&open_catalog(&catalog), "testnet");
}

/// Kills a helper process when the test ends, pass or fail.
#[test]
fn the_synthetic_network_over_grpc_equals_the_in_process_source() {
    let dir = tempfile::tempdir().unwrap();
    // In process, unpaced.
    let direct = dir.path().join("direct.duckdb");
    let synthetic =
        SyntheticConfig { seed: 7, txs_per_ledger: Some(12), ledger_interval_ms: 0, ..SyntheticConfig::default() };
    let src = synthetic_source(synthetic, SYNTHNET, 2, 61);
    let config = write_sources_config(dir.path(), "direct.yaml", &[src], &direct, &batch(16));
    let out = run_config(&config);
    assert!(out.status.success(), "{}", describe(&out));

    // The same chain from serve-ledgers, with the stream dropped every 7 ledgers.
    let server = LedgerServer::start(&["--synthetic", "--seed", "7", "--txs-per-ledger", "12", "--drop-every", "7"]);
    let catalog = dir.path().join("grpc.duckdb");
    let src = grpc_source(&server.addr, SYNTHNET, 2, 61, |_| {});
    let config = write_sources_config(dir.path(), "grpc.yaml", &[src], &catalog, &batch(16));
    let out = run_config(&config);
    assert!(out.status.success(), "{}", describe(&out));
    let counts = assert_same_tables(&direct, &catalog, "synthnet");
    println!("synthetic over grpc with drops: {counts:?} identical to the in-process source");
    assert!(counts[1].1 > 300, "{counts:?}");
}

/// `serve-ledgers --synthetic --live-clock` (the kind e2e's ledger source)
/// closes its ledgers at wall-clock times, so an ingester following it is at
/// the tip: its last ledger closed seconds ago, not years.
#[test]
fn a_live_clock_synthetic_stream_is_at_the_tip() {
    let dir = tempfile::tempdir().unwrap();
    let server = LedgerServer::start(&["--synthetic", "--seed", "7", "--live-clock", "--ledger-interval", "1s"]);
    // A client that connects late gets the backlog at once, then the tip.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let catalog = dir.path().join("live.duckdb");
    let src = grpc_source(&server.addr, SYNTHNET, 2, 8, |_| {});
    let config = write_sources_config(dir.path(), "live.yaml", &[src], &catalog, &batch(1));
    let out = run_config(&config);
    assert!(out.status.success(), "{}", describe(&out));
    let conn = ducklake_tests::open_catalog(&catalog);
    let age: i64 = conn
        .query_row("SELECT epoch(now()::TIMESTAMP) - epoch(max(closed_at)) FROM synthnet.ledgers_row_v2", [], |r| {
            r.get(0)
        })
        .unwrap();
    println!("live-clock stream: last ledger closed {age} s ago");
    assert!((-2..=5).contains(&age), "closed {age} s before now");
}
