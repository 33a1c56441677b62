//! Process lifecycle: the commit timer fires while the source is idle at the
//! lake's tip, and SIGTERM commits the decoded ledgers and exits 0.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

use ducklake_tests::config::{SyntheticConfig, edit, first_datastore, synthetic_source};
use ducklake_tests::keep;
use ducklake_tests::{
    Lake, TESTNET, open_catalog, require_fixtures, spawn_run, stderr_lines, wait_exit, wait_for_line, write_config,
};

/// Starts the ingester with its stderr lines forwarded to a channel.
fn start(config: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = spawn_run(config);
    let rx = stderr_lines(&mut child);
    (child, rx)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

fn ledgers(catalog: &Path) -> i64 {
    open_catalog(catalog).query_row("SELECT count(*) FROM testnet.ledgers_row_v2", [], |r| r.get(0)).unwrap()
}

/// The lake ends at 1410367 but the range goes on: the source waits at the tip.
fn config(dir: &Path, catalog: &Path, commit_interval: u64) -> std::path::PathBuf {
    let fixtures = ducklake_tests::fixtures().unwrap();
    let lake = fixtures.join("derived/datalake-testnet-lpf64-fpp10");
    let path = write_config(
        dir,
        "c.yaml",
        &Lake { path: &lake, passphrase: TESTNET, start: 1410048, end: 1410500 },
        catalog,
        &|d| (d.batch_size, d.commit_interval_seconds) = (10_000, commit_interval),
    );
    // Poll quickly so the tip is reached fast.
    edit(&path, |c| first_datastore(c).poll_interval_ms = 100);
    path
}

#[test]
fn commit_timer_fires_while_the_source_is_idle() {
    let _fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("t.duckdb");
    let (mut child, rx) = start(&config(tmp.path(), &catalog, 1));
    let mut seen = Vec::new();
    // batch_size is never reached; only the timer can commit these ledgers.
    // The last commit ends at the lake's last ledger, whose source then idles
    // (on a loaded machine the timer may also fire once on the way).
    wait_for_line(&rx, "-1410367 source=testnet", &mut seen);
    sigterm(&child);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), 0);
    assert!(seen.iter().any(|l| l.contains("waiting at the lake's tip")), "{}", seen.join("\n"));
    assert_eq!(ledgers(&catalog), 320);
}

#[test]
fn sigterm_commits_the_open_batch_and_exits_0() {
    let _fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("t.duckdb");
    let (mut child, rx) = start(&config(tmp.path(), &catalog, 3600));
    let mut seen = Vec::new();
    wait_for_line(&rx, "waiting at the lake's tip", &mut seen);
    // The prefetcher reaches the tip first; give the decoder time to catch up
    // (320 small ledgers take well under a second).
    std::thread::sleep(Duration::from_secs(3));
    seen.extend(rx.try_iter());
    // 320 ledgers decoded, none committed yet (no size or time trigger).
    assert!(!seen.iter().any(|l| l.contains("committed ledgers")), "{}", seen.join("\n"));
    sigterm(&child);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), 0);
    seen.extend(rx.try_iter());
    assert!(seen.iter().any(|l| l.contains("committed ledgers 1410048-1410367")), "{}", seen.join("\n"));
    assert_eq!(ledgers(&catalog), 320);
    // The next run resumes after the committed ledgers.
    let (mut child, rx) = start(&config(tmp.path(), &catalog, 3600));
    let mut seen = Vec::new();
    wait_for_line(&rx, "resuming from the catalog", &mut seen);
    assert!(seen.iter().any(|l| l.contains("1410368")), "{}", seen.join("\n"));
    sigterm(&child);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), 0);
}

/// `run --keep-serving` (how the operator runs the ingester in a pod): a
/// bounded range that is done keeps the query API up until SIGTERM instead
/// of exiting (which a StatefulSet would restart forever).
#[test]
fn keep_serving_answers_queries_after_the_range_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("k.duckdb");
    let synthetic = SyntheticConfig { seed: 3, ledger_interval_ms: 0, ..SyntheticConfig::default() };
    let src = synthetic_source(synthetic, ducklake_tests::SYNTHNET, 2, 11);
    let config = ducklake_tests::write_sources_config(dir.path(), "k.yaml", &[src], &catalog, &keep);
    let mut child = Command::new(ducklake_tests::ingester())
        .args(["run", "--config", config.to_str().unwrap(), "--keep-serving"])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let mut seen = Vec::new();
    let line = wait_for_line(&rx, "query API listening", &mut seen);
    let addr = line.split("address=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    wait_for_line(&rx, "serving queries until SIGTERM", &mut seen);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "still running after the range is done");
    let (code, body) =
        ducklake_tests::http(&addr, "POST", "/query", r#"{"sql": "SELECT count(*) FROM synthnet.ledgers_row_v2"}"#);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("[[10]]"), "{body}");
    sigterm(&child);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), 0);
}
