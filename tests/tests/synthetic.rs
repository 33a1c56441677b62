//! The synthetic chain end to end: `ducklake-ingester synth` writes a lake,
//! `ducklake-ingester run` ingests it (verifying every header hash, the hash
//! chain and the result/envelope pairing), and the tables hold exactly what
//! the generator reported. The independent Python stellar-sdk then re-checks
//! the lake (transaction hashes, hash chain, meta replay) when it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use ducklake_tests::{Lake, SYNTHNET, describe, open_catalog, run_config, run_ingester, write_config};

/// Counts printed by `synth`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    ledgers: i64,
    transactions: i64,
    successful_transactions: i64,
    operations: i64,
    successful_operations: i64,
}

/// First integer after `label` and the first integer inside the parentheses.
fn counts(stdout: &str, label: &str) -> (i64, i64) {
    let line = stdout.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label} line in\n{stdout}"));
    let nums: Vec<i64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("digits"))
        .collect();
    (nums[0], nums[1])
}

fn synth(out: &Path, args: &[&str]) -> Summary {
    let mut all = vec!["synth", "--out", out.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let run = run_ingester(&all);
    assert_eq!(run.status.code(), Some(0), "synth: {}", describe(&run));
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let (ledgers, _) = counts(&stdout, "ledgers:");
    let (transactions, successful_transactions) = counts(&stdout, "transactions:");
    let (operations, successful_operations) = counts(&stdout, "operations:");
    Summary { ledgers, transactions, successful_transactions, operations, successful_operations }
}

fn ingest(tmp: &Path, lake: &Path, start: u32, end: u32, name: &str) -> PathBuf {
    let catalog = tmp.join(format!("{name}.duckdb"));
    let config = write_config(
        tmp,
        &format!("{name}.yaml"),
        &Lake { path: lake, passphrase: SYNTHNET, start, end },
        &catalog,
        &|d| (d.schema_name, d.batch_size) = (Some("synth".into()), 25),
    );
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "ingesting the synthetic lake: {}", describe(&out));
    catalog
}

fn table_counts(catalog: &Path) -> Summary {
    let conn = open_catalog(catalog);
    conn.query_row(
        "SELECT (SELECT count(*) FROM synth.ledgers_row_v2), \
                (SELECT count(*) FROM synth.transactions_row_v2), \
                (SELECT count(*) FROM synth.transactions_row_v2 WHERE successful), \
                (SELECT count(*) FROM synth.operations_row_v2), \
                (SELECT count(*) FROM synth.operations_row_v2 WHERE transaction_successful)",
        [],
        |r| {
            Ok(Summary {
                ledgers: r.get(0)?,
                transactions: r.get(1)?,
                successful_transactions: r.get(2)?,
                operations: r.get(3)?,
                successful_operations: r.get(4)?,
            })
        },
    )
    .expect("count rows")
}

#[test]
fn synthetic_lake_ingests_with_the_reported_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let reported = synth(&lake, &["--ledgers", "100", "--seed", "9", "--txs-per-ledger", "12"]);
    assert_eq!(reported.ledgers, 100);
    assert!(reported.transactions > 500, "{reported:?}");
    assert!(reported.successful_transactions < reported.transactions, "some transactions fail: {reported:?}");

    // Same options, same bytes.
    let again = tmp.path().join("again");
    assert_eq!(synth(&again, &["--ledgers", "100", "--seed", "9", "--txs-per-ledger", "12"]), reported);
    let key = "FFFFFFFF--0-63999/FFFFFFAC--83.xdr.zst";
    assert_eq!(std::fs::read(lake.join(key)).unwrap(), std::fs::read(again.join(key)).unwrap());

    let catalog = ingest(tmp.path(), &lake, 2, 101, "synth");
    assert_eq!(table_counts(&catalog), reported);
    let conn = open_catalog(&catalog);
    let (ledger_txs, ledger_ops): (i64, i64) = conn
        .query_row("SELECT sum(transaction_count), sum(tx_set_operation_count) FROM synth.ledgers_row_v2", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let chained: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT previous_ledger_hash, lag(ledger_hash) OVER (ORDER BY sequence) AS p \
             FROM synth.ledgers_row_v2) WHERE previous_ledger_hash = p",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((ledger_txs, ledger_ops), (reported.transactions, reported.operations));
    assert_eq!(chained, 99, "every ledger after the first chains to its predecessor");
    let soroban: i64 = conn
        .query_row(
            "SELECT count(*) FROM synth.transactions_row_v2 WHERE soroban_host_function_type IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let fee_bumps: i64 = conn
        .query_row("SELECT count(*) FROM synth.transactions_row_v2 WHERE fee_bump_fee IS NOT NULL", [], |r| r.get(0))
        .unwrap();
    assert!(soroban > 0 && fee_bumps > 0, "soroban {soroban}, fee bumps {fee_bumps}");

    python_cross_check(&lake, &reported);
}

/// Multi-ledger objects and partitions (64/10-style layouts) read back too.
#[test]
fn batched_partitioned_lake_ingests() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let reported = synth(
        &lake,
        &[
            "--ledgers",
            "64",
            "--seed",
            "4",
            "--first-ledger",
            "16",
            "--ledgers-per-file",
            "8",
            "--files-per-partition",
            "4",
        ],
    );
    assert!(lake.join(format!("{:08X}--0-31", u32::MAX)).is_dir());
    assert!(lake.join(format!("{:08X}--64-95/{:08X}--72-79.xdr.zst", u32::MAX - 64, u32::MAX - 72)).is_file());
    let catalog = ingest(tmp.path(), &lake, 16, 79, "batched");
    assert_eq!(table_counts(&catalog), reported);
}

/// Runs tests/python/check_synth_lake.py when the Python stellar-sdk is installed.
fn python_cross_check(lake: &Path, reported: &Summary) {
    let probe = Command::new("python3").args(["-c", "import stellar_sdk, zstandard"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => {
            ducklake_tests::missing_tool(
                "python3 with stellar_sdk and zstandard is not available; skipping the independent Python cross-check (pip install stellar-sdk zstandard)",
            );
            return;
        }
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/check_synth_lake.py");
    let out = Command::new("python3").arg(&script).arg(lake).output().expect("run python3");
    assert!(out.status.success(), "Python cross-check failed: {}", describe(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(summary["ledgers"], reported.ledgers);
    assert_eq!(summary["transactions"], reported.transactions);
    assert_eq!(summary["operations"], reported.operations);
    eprintln!("Python stellar-sdk cross-check: {summary}");
}
