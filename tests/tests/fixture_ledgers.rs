//! Runs the real binary over every ledger of the three derived data lakes and
//! checks each ledger against `decoded_stats.jsonl` (numbers from two
//! independent decoders: Python stellar-sdk and Rust stellar-xdr).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ducklake_tests::batch;
use ducklake_tests::{
    DATA_TABLES, FixtureCatalog, Lake, PUBNET, assert_lineage_matches_tables, decoded_stats, describe,
    ingest_all_fixture_ledgers, open_catalog, python_json_lines, require_fixtures, run_config, write_config,
};

#[test]
fn every_fixture_ledger_matches_the_independent_decoders() {
    let fixtures = require_fixtures!();
    let stats = decoded_stats(&fixtures);
    let tmp = tempfile::tempdir().unwrap();
    // Small batches so that ranges span several commits.
    let FixtureCatalog { catalog, lakes: lake_dirs, runs } =
        ingest_all_fixture_ledgers(&fixtures, tmp.path(), &batch(7));
    assert_eq!(runs, 9);

    let conn = open_catalog(&catalog);
    let mut checked = 0;
    for schema in ["mainnet", "testnet"] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT l.sequence, l.transaction_count, l.successful_tx_count, l.failed_tx_count, \
                        l.tx_set_operation_count, l.operation_count, l.ledger_hash, l.previous_ledger_hash, \
                        epoch(l.closed_at)::BIGINT, l.protocol_version, \
                        (SELECT count(*) FROM {schema}.transactions_row_v2 t WHERE t.ledger_sequence = l.sequence), \
                        (SELECT count(*) FROM {schema}.operations_row_v2 o WHERE o.ledger_sequence = l.sequence), \
                        (SELECT count(*) FROM {schema}.transactions_row_v2 t WHERE t.ledger_sequence = l.sequence AND t.fee_bump_fee IS NOT NULL) \
                 FROM {schema}.ledgers_row_v2 l ORDER BY l.sequence"
            ))
            .unwrap();
        let rows: Vec<(u32, Vec<i64>, String, String)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u32,
                    vec![
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                    ],
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (seq, got, hash, prev) in rows {
            let s = stats.get(&seq).unwrap_or_else(|| panic!("ledger {seq} is not in decoded_stats.jsonl"));
            let expected = vec![
                s.tx_count,
                s.tx_success,
                s.tx_failed,
                s.txset_op_count,
                s.success_op_count,
                s.close_time,
                s.protocol,
                s.tx_count,       // one transactions row per applied transaction
                s.txset_op_count, // one operations row per operation in the tx set
                s.fee_bump_txs,
            ];
            assert_eq!(
                got, expected,
                "ledger {seq} ({}): [transaction_count, successful, failed, tx_set_operation_count, operation_count, closed_at, protocol, tx rows, op rows, fee bumps]",
                s.file
            );
            assert_eq!(hash, s.ledger_hash, "ledger {seq} hash");
            assert_eq!(prev, s.prev_hash, "ledger {seq} previous hash");
            checked += 1;
        }
    }
    // Every distinct fixture ledger (357) was ingested.
    let expected_ledgers: BTreeMap<u32, ()> = stats.keys().map(|k| (*k, ())).collect();
    assert_eq!(checked, expected_ledgers.len(), "every fixture ledger was ingested and checked");
    eprintln!("checked {checked} ledgers against decoded_stats.jsonl");

    // The lineage agrees with the tables.
    let (batches, ledgers): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM mainnet._ingest_lineage) + (SELECT count(*) FROM testnet._ingest_lineage), \
                    (SELECT sum(ledger_count) FROM mainnet._ingest_lineage) + (SELECT sum(ledger_count) FROM testnet._ingest_lineage)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(ledgers as usize, checked);
    assert!(batches >= 9, "at least one batch per run, got {batches}");
    for schema in ["mainnet", "testnet"] {
        assert_lineage_matches_tables(&conn, schema);
        assert_schema_objects(&conn, schema);
    }
    check_operation_types(&conn, &fixtures);
    check_python_totals(&conn, &lake_dirs);
}

/// The schema holds the 19 data tables, the lineage table and one
/// `<table>_current` view per snapshot table, nothing else.
fn assert_schema_objects(conn: &duckdb::Connection, schema: &str) {
    let names = |kind: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = ? ORDER BY 1",
            )
            .unwrap();
        stmt.query_map([schema, kind], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let mut expected: Vec<String> = DATA_TABLES.iter().map(|t| t.to_string()).collect();
    expected.push("_ingest_lineage".into());
    expected.sort();
    assert_eq!(names("BASE TABLE"), expected, "{schema}: tables");
    let views = names("VIEW");
    assert_eq!(views.len(), 11, "{schema}: one _current view per snapshot table: {views:?}");
    for v in &views {
        let table = v.strip_suffix("_current").unwrap_or_else(|| panic!("{schema}.{v}: unexpected view"));
        assert!(DATA_TABLES.contains(&table), "{schema}.{v}: view of an unknown table");
        let _: i64 = conn.query_row(&format!("SELECT count(*) FROM {schema}.{v}"), [], |r| r.get(0)).unwrap();
    }
}

/// Operation rows per type and ledger equal `op_types` of decoded_stats.jsonl
/// (counted by the two independent decoders over the tx-set envelopes).
fn check_operation_types(conn: &duckdb::Connection, fixtures: &std::path::Path) {
    let text = std::fs::read_to_string(fixtures.join("decoded_stats.jsonl")).unwrap();
    let mut expected: BTreeMap<(u32, String), i64> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let seq = v["seq"].as_u64().unwrap() as u32;
        for (ty, n) in v["op_types"].as_object().into_iter().flatten() {
            expected.insert((seq, ty.to_lowercase()), n.as_i64().unwrap());
        }
    }
    let mut got: BTreeMap<(u32, String), i64> = BTreeMap::new();
    for schema in ["mainnet", "testnet"] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT ledger_sequence, type_string, count(*) FROM {schema}.operations_row_v2 GROUP BY ALL"
            ))
            .unwrap();
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, String>(1)?, r.get(2)?))).unwrap()
        {
            let (seq, ty, n) = row.unwrap();
            got.insert((seq, ty), n);
        }
    }
    assert_eq!(got, expected, "operation rows per ledger and type vs decoded_stats op_types");
    eprintln!("operation types: {} (ledger, type) counts agree with decoded_stats.jsonl", got.len());
}

/// Fee totals and successful operations per type, per ledger, against an
/// independent decode with the Python stellar-sdk (tests/python/fixture_totals.py).
fn check_python_totals(conn: &duckdb::Connection, lakes: &[PathBuf]) {
    let Some(lines) = python_json_lines("fixture_totals.py", lakes) else { return };
    let mut ledgers = 0;
    let mut fee_total = 0i64;
    for v in lines {
        let seq = v["seq"].as_i64().unwrap();
        let schema = if seq > 30_000_000 { "mainnet" } else { "testnet" };
        let fee: i64 = conn
            .query_row(
                &format!("SELECT coalesce(sum(fee_charged), 0)::BIGINT FROM {schema}.transactions_row_v2 WHERE ledger_sequence = ?"),
                [seq],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(fee, v["fee_charged"].as_i64().unwrap(), "ledger {seq}: sum of fee_charged");
        fee_total += fee;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT type_string, count(*) FROM {schema}.operations_row_v2 \
                 WHERE ledger_sequence = ? AND transaction_successful GROUP BY ALL"
            ))
            .unwrap();
        let got: BTreeMap<String, i64> =
            stmt.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
        let expected: BTreeMap<String, i64> = v["successful_op_types"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, n)| (k.clone(), n.as_i64().unwrap()))
            .collect();
        assert_eq!(got, expected, "ledger {seq}: operations of successful transactions per type");
        ledgers += 1;
    }
    assert_eq!(ledgers, 357, "the Python decode saw every fixture ledger");
    eprintln!(
        "python stellar-sdk totals: {ledgers} ledgers, fee_charged {fee_total} stroops in all, successful op types agree"
    );
}

#[test]
fn rerunning_a_committed_range_changes_nothing() {
    let fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("rerun.duckdb");
    let lake = fixtures.join("derived/datalake-pubnet-lpf1-fpp64000");
    let config = write_config(
        tmp.path(),
        "c.yaml",
        &Lake { path: &lake, passphrase: PUBNET, start: 63092982, end: 63092991 },
        &catalog,
        &batch(4),
    );
    for round in 0..2 {
        let out = run_config(&config);
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", describe(&out));
        if round == 1 {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("range already committed"), "{stderr}");
        }
    }
    // Extending the range resumes after the last committed ledger.
    let config = write_config(
        tmp.path(),
        "c2.yaml",
        &Lake { path: &lake, passphrase: PUBNET, start: 63092982, end: 63093001 },
        &catalog,
        &batch(4),
    );
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming from the catalog"), "{}", describe(&out));
    let conn = open_catalog(&catalog);
    let (n, distinct): (i64, i64) = conn
        .query_row("SELECT count(*), count(DISTINCT sequence) FROM mainnet.ledgers_row_v2", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, distinct), (20, 20));
    let (txs, distinct): (i64, i64) = conn
        .query_row("SELECT count(*), count(DISTINCT transaction_hash) FROM mainnet.transactions_row_v2", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(txs, distinct, "no transaction is written twice");
}
