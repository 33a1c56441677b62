//! Exactly-once under SIGKILL: the ingester is killed at random moments while
//! it ingests one range, restarted each time, and the final tables must equal
//! those of an uninterrupted run, row for row.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ducklake_tests::{
    DATA_TABLES, Lake, TESTNET, describe, ingester, open_catalog, require_fixtures, run_config, table_fingerprint,
    write_config,
};

/// xorshift64*: deterministic, seed printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let fixtures = require_fixtures!();
    let lake_dir = fixtures.join("derived/datalake-testnet-lpf64-fpp10");
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake { path: &lake_dir, passphrase: TESTNET, start: 1410048, end: 1410367 };
    // Tiny batches: hundreds of commits, so kills land before, inside and
    // after commits and checkpoints.
    let extra = "  batch_size: 3\n  commit_interval_seconds: 1";

    // Reference: one uninterrupted run, timed to spread the kills over it.
    let clean_catalog = tmp.path().join("clean.duckdb");
    let clean_config = write_config(tmp.path(), "clean.yaml", &lake, &clean_catalog, extra);
    let t = Instant::now();
    let out = run_config(&clean_config);
    assert_eq!(out.status.code(), Some(0), "clean run: {}", describe(&out));
    let clean_ms = t.elapsed().as_millis().max(200) as u64;

    let seed = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("crash test: seed {seed} (set CRASH_SEED to replay), clean run {clean_ms} ms");
    let mut rng = Rng(seed);

    let crash_catalog = tmp.path().join("crash.duckdb");
    let crash_config = write_config(tmp.path(), "crash.yaml", &lake, &crash_catalog, extra);
    let mut kills = 0;
    let mut attempts = 0;
    let mut committed_before_kill = Vec::new();
    while kills < 12 {
        attempts += 1;
        assert!(attempts < 200, "could not land 12 kills mid-run in 200 attempts");
        let mut child = Command::new(ingester())
            .args(["run", "--config", crash_config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from start-up to a sixth of a clean run, so a dozen kills
        // fit inside one range (each restart also pays its start-up).
        std::thread::sleep(Duration::from_millis(rng.below(clean_ms / 6 + 1)));
        match child.try_wait().unwrap() {
            Some(status) => {
                // The range completed before this kill.
                assert!(status.success(), "ingester failed between kills: {status}");
                if kills >= 10 {
                    break;
                }
                // Too few kills landed: repeat the exercise on a fresh catalog.
                std::fs::remove_file(&crash_catalog).ok();
                std::fs::remove_file(crash_catalog.with_extension("duckdb.wal")).ok();
                kills = 0;
                committed_before_kill.clear();
                continue;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                let conn = open_catalog(&crash_catalog);
                let n: i64 =
                    conn.query_row("SELECT count(*) FROM testnet.ledgers_row_v2", [], |r| r.get(0)).unwrap_or(0);
                committed_before_kill.push(n);
            }
        }
    }
    eprintln!("crash test: {kills} kills mid-run; ledgers committed at each kill: {committed_before_kill:?}");

    // Finish the range.
    let out = run_config(&crash_config);
    assert_eq!(out.status.code(), Some(0), "final run: {}", describe(&out));

    let clean = open_catalog(&clean_catalog);
    let crashed = open_catalog(&crash_catalog);
    for table in DATA_TABLES {
        let a = table_fingerprint(&clean, "testnet", table);
        let b = table_fingerprint(&crashed, "testnet", table);
        assert_eq!(a.0, b.0, "{table}: row count differs after {kills} kills (seed {seed})");
        assert!(a == b, "{table}: contents differ after {kills} kills (seed {seed})");
        eprintln!("crash test: {table}: {} rows identical to the clean run", a.0);
    }
    // Lineage covers the range exactly once.
    let (ledgers, distinct_starts): (i64, i64) = crashed
        .query_row("SELECT sum(ledger_count), count(DISTINCT ledger_start) FROM testnet._ingest_lineage", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(ledgers, 320);
    let batches: i64 = crashed.query_row("SELECT count(*) FROM testnet._ingest_lineage", [], |r| r.get(0)).unwrap();
    assert_eq!(batches, distinct_starts);
}
