//! The seven classic snapshot tables against an independent decode.
//!
//! `tests/python/classic_state_expected.py` (Python stellar-sdk, no Rust
//! involved) walks every change of every ledger and states, per ledger, which
//! accounts, signers, trustlines, offers, claimable balances and liquidity
//! pools changed, which were removed, and their final values. These tests
//! ingest the same ledgers with the real binary and require the tables to say
//! exactly that, ledger by ledger, row by row. On the synthetic network the
//! `<table>_current` views must also equal the live state after the last
//! ledger, replayed independently.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use ducklake_tests::batch;
use ducklake_tests::{FixtureCatalog, describe, ingest_all_fixture_ledgers, open_catalog, synth_and_ingest};
use serde_json::{Value, json};

/// Table -> entity key -> values (the Python script's shape).
type Tables = BTreeMap<String, Value>;

/// Runs the Python expectation over `paths`; `None` (with a notice) when the
/// Python stellar-sdk is not installed.
fn python_expectation(paths: &[PathBuf], with_final: bool) -> Option<Value> {
    let probe = Command::new("python3").args(["-c", "import stellar_sdk, zstandard"]).output();
    if !matches!(probe, Ok(ref o) if o.status.success()) {
        ducklake_tests::missing_tool(
            "python3 with stellar_sdk and zstandard is not available; skipping the classic-state cross-check (pip install stellar-sdk zstandard)",
        );
        return None;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/classic_state_expected.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).args(paths);
    if with_final {
        cmd.arg("--final");
    }
    let out = cmd.output().expect("run python3");
    assert!(out.status.success(), "classic_state_expected.py failed: {}", describe(&out));
    Some(serde_json::from_slice(&out.stdout).expect("JSON from the Python script"))
}

fn asset(r: &duckdb::Row<'_>, i: usize) -> Value {
    json!([
        r.get::<_, String>(i).unwrap(),
        r.get::<_, Option<String>>(i + 1).unwrap(),
        r.get::<_, Option<String>>(i + 2).unwrap()
    ])
}

/// Runs `sql` (first column the ledger, second the entity key) and files the
/// values `f` builds under `ledger -> table -> key`.
fn collect(
    conn: &duckdb::Connection,
    sql: &str,
    table: &str,
    out: &mut BTreeMap<i64, Tables>,
    f: impl Fn(&duckdb::Row<'_>) -> Value,
) {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let ledger: i64 = r.get(0).unwrap();
        let key: String = r.get(1).unwrap();
        let t = out.entry(ledger).or_default().entry(table.to_string()).or_insert_with(|| json!({}));
        let prev = t.as_object_mut().unwrap().insert(key.clone(), f(r));
        assert!(prev.is_none(), "{table}: two rows for {key} in ledger {ledger}");
    }
}

/// The ingested tables in the Python script's shape, per ledger.
/// `source` is a schema-qualified table prefix; with `current` the views are read.
fn actual(conn: &duckdb::Connection, schema: &str, current: bool) -> BTreeMap<i64, Tables> {
    let t = |name: &str| format!("{schema}.{name}{}", if current { "_current" } else { "" });
    let ledger = if current { "0::BIGINT" } else { "a.ledger_sequence" };
    let mut out: BTreeMap<i64, Tables> = BTreeMap::new();
    collect(
        conn,
        &format!(
            "SELECT {ledger}, a.account_id, n.balance, a.balance, a.sequence_number, a.num_subentries, a.num_sponsoring, \
                    a.num_sponsored, n.buying_liabilities, n.selling_liabilities, a.master_weight, a.flags, a.sponsor_account, \
                    a.signers, a.last_modified_ledger, a.deleted, n.last_modified_ledger, n.deleted, n.sequence_number, \
                    a.buying_liabilities, a.selling_liabilities \
             FROM {} a JOIN {} n ON n.account_id = a.account_id AND n.ledger_sequence = a.ledger_sequence",
            t("accounts_snapshot_v1"),
            t("native_balances_snapshot_v1")
        ),
        "accounts",
        &mut out,
        |r: &duckdb::Row<'_>| {
            let signers: Option<String> = r.get(13).unwrap();
            let n_signers = signers.map_or(0, |s| serde_json::from_str::<Vec<Value>>(&s).unwrap().len());
            // native_balances and accounts describe the same entry.
            assert_eq!(r.get::<_, i64>(14).unwrap(), r.get::<_, i64>(16).unwrap());
            assert_eq!(r.get::<_, bool>(15).unwrap(), r.get::<_, bool>(17).unwrap());
            assert_eq!(r.get::<_, i64>(4).unwrap(), r.get::<_, i64>(18).unwrap());
            let liab: (String, String) = (r.get(19).unwrap(), r.get(20).unwrap());
            let nl: (i64, i64) = (r.get(8).unwrap(), r.get(9).unwrap());
            assert_eq!(liab.0.replace('.', "").parse::<i64>().unwrap(), nl.0);
            assert_eq!(liab.1.replace('.', "").parse::<i64>().unwrap(), nl.1);
            json!({
                "balance": r.get::<_, i64>(2).unwrap(),
                "balance_str": r.get::<_, String>(3).unwrap(),
                "sequence_number": r.get::<_, i64>(4).unwrap(),
                "num_subentries": r.get::<_, i32>(5).unwrap(),
                "num_sponsoring": r.get::<_, i32>(6).unwrap(),
                "num_sponsored": r.get::<_, i32>(7).unwrap(),
                "buying_liabilities": nl.0,
                "selling_liabilities": nl.1,
                "master_weight": r.get::<_, i32>(10).unwrap(),
                "flags": r.get::<_, i32>(11).unwrap(),
                "sponsor": r.get::<_, Option<String>>(12).unwrap(),
                "signers": n_signers,
                "last_modified_ledger": r.get::<_, i64>(14).unwrap(),
                "deleted": r.get::<_, bool>(15).unwrap(),
            })
        },
    );
    let ledger = if current { "0::BIGINT" } else { "ledger_sequence" };
    collect(
        conn,
        &format!(
            "SELECT {ledger}, concat_ws('|', account_id, asset_type, coalesce(asset_code, ''), coalesce(asset_issuer, ''), \
                    coalesce(liquidity_pool_id, '')), balance, trust_limit, buying_liabilities, selling_liabilities, flags, \
                    sponsor, last_modified_ledger, deleted, authorized, authorized_to_maintain_liabilities, clawback_enabled \
             FROM {}",
            t("trustlines_snapshot_v1")
        ),
        "trustlines",
        &mut out,
        |r: &duckdb::Row<'_>| {
            let flags: i32 = r.get(6).unwrap();
            let bools: (bool, bool, bool) = (r.get(10).unwrap(), r.get(11).unwrap(), r.get(12).unwrap());
            assert_eq!(bools, (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0));
            json!({
                "balance": r.get::<_, String>(2).unwrap(),
                "trust_limit": r.get::<_, String>(3).unwrap(),
                "buying_liabilities": r.get::<_, String>(4).unwrap(),
                "selling_liabilities": r.get::<_, String>(5).unwrap(),
                "flags": flags,
                "sponsor": r.get::<_, Option<String>>(7).unwrap(),
                "last_modified_ledger": r.get::<_, i64>(8).unwrap(),
                "deleted": r.get::<_, bool>(9).unwrap(),
            })
        },
    );
    collect(
        conn,
        &format!(
            "SELECT {ledger}, offer_id::VARCHAR, seller_account, amount, price_n, price_d, price, \
                    selling_asset_type, selling_asset_code, selling_asset_issuer, \
                    buying_asset_type, buying_asset_code, buying_asset_issuer, sponsor, last_modified_ledger, deleted \
             FROM {}",
            t("offers_snapshot_v1")
        ),
        "offers",
        &mut out,
        |r: &duckdb::Row<'_>| {
            json!({
                "seller": r.get::<_, String>(2).unwrap(),
                "amount": r.get::<_, String>(3).unwrap(),
                "price_n": r.get::<_, i32>(4).unwrap(),
                "price_d": r.get::<_, i32>(5).unwrap(),
                "price": r.get::<_, String>(6).unwrap(),
                "selling": asset(r, 7),
                "buying": asset(r, 10),
                "sponsor": r.get::<_, Option<String>>(13).unwrap(),
                "last_modified_ledger": r.get::<_, i64>(14).unwrap(),
                "deleted": r.get::<_, bool>(15).unwrap(),
            })
        },
    );
    collect(
        conn,
        &format!(
            "SELECT {ledger}, balance_id, amount, asset_type, asset_code, asset_issuer, claimants_count, claimants, flags, \
                    sponsor, last_modified_ledger, deleted FROM {}",
            t("claimable_balances_snapshot_v1")
        ),
        "claimable_balances",
        &mut out,
        |r: &duckdb::Row<'_>| {
            let claimants: Vec<Value> = serde_json::from_str(&r.get::<_, String>(7).unwrap()).unwrap();
            json!({
                "amount": r.get::<_, i64>(2).unwrap(),
                "asset": asset(r, 3),
                "claimants_count": r.get::<_, i32>(6).unwrap(),
                "destinations": claimants.iter().map(|c| c["destination"].clone()).collect::<Vec<_>>(),
                "flags": r.get::<_, i32>(8).unwrap(),
                "sponsor": r.get::<_, Option<String>>(9).unwrap(),
                "last_modified_ledger": r.get::<_, i64>(10).unwrap(),
                "deleted": r.get::<_, bool>(11).unwrap(),
            })
        },
    );
    collect(
        conn,
        &format!(
            "SELECT {ledger}, liquidity_pool_id, asset_a_amount, asset_b_amount, total_pool_shares, trustline_count, fee, \
                    asset_a_type, asset_a_code, asset_a_issuer, asset_b_type, asset_b_code, asset_b_issuer, \
                    last_modified_ledger, deleted FROM {}",
            t("liquidity_pools_snapshot_v1")
        ),
        "liquidity_pools",
        &mut out,
        |r: &duckdb::Row<'_>| {
            json!({
                "reserve_a": r.get::<_, i64>(2).unwrap(),
                "reserve_b": r.get::<_, i64>(3).unwrap(),
                "total_pool_shares": r.get::<_, i64>(4).unwrap(),
                "trustline_count": r.get::<_, i32>(5).unwrap(),
                "fee": r.get::<_, i32>(6).unwrap(),
                "asset_a": asset(r, 7),
                "asset_b": asset(r, 10),
                "last_modified_ledger": r.get::<_, i64>(13).unwrap(),
                "deleted": r.get::<_, bool>(14).unwrap(),
            })
        },
    );
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {ledger}, account_id, signer, weight, sponsor, deleted FROM {} ORDER BY 1, 2, 3, 6",
            t("account_signers_snapshot_v1")
        ))
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let row = json!([
            r.get::<_, String>(1).unwrap(),
            r.get::<_, String>(2).unwrap(),
            r.get::<_, i32>(3).unwrap(),
            r.get::<_, Option<String>>(4).unwrap(),
            r.get::<_, bool>(5).unwrap()
        ]);
        let t = out.entry(r.get(0).unwrap()).or_default().entry("account_signers".into()).or_insert_with(|| json!([]));
        t.as_array_mut().unwrap().push(row);
    }
    out
}

/// Per-table totals: (rows, deleted rows).
#[derive(Debug, Default)]
struct Totals(BTreeMap<String, (usize, usize)>);

impl Totals {
    fn add(&mut self, tables: &Value) {
        for (table, v) in tables.as_object().unwrap() {
            let rows: Vec<&Value> = match v {
                Value::Object(m) => m.values().collect(),
                Value::Array(a) => a.iter().collect(),
                _ => vec![],
            };
            let deleted = rows.iter().filter(|r| r.get("deleted").or_else(|| r.get(4)) == Some(&json!(true))).count();
            let e = self.0.entry(table.clone()).or_default();
            e.0 += rows.len();
            e.1 += deleted;
        }
    }
}

/// Empty tables are absent from the actual side; normalise both sides.
fn non_empty(v: &Value) -> BTreeMap<String, Value> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, x)| {
                    !(x.as_object().is_some_and(|o| o.is_empty()) || x.as_array().is_some_and(|a| a.is_empty()))
                })
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Requires `actual` to equal `expected` table by table, naming the first difference.
fn assert_same(what: &str, expected: &Value, actual: &Tables) {
    let expected = non_empty(expected);
    let actual = non_empty(&serde_json::to_value(actual).unwrap());
    let tables: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for table in tables {
        let (e, a) = (expected.get(table).unwrap_or(&Value::Null), actual.get(table).unwrap_or(&Value::Null));
        if e == a {
            continue;
        }
        if let (Some(eo), Some(ao)) = (e.as_object(), a.as_object()) {
            for k in eo.keys().chain(ao.keys()) {
                assert_eq!(ao.get(k), eo.get(k), "{what} {table} {k}: ingested (left) vs Python stellar-sdk (right)");
            }
        }
        panic!("{what} {table}: ingested\n{a}\nPython stellar-sdk\n{e}");
    }
}

/// Compares every ledger of `schema` with the Python expectation; returns the totals.
fn compare_ledgers(conn: &duckdb::Connection, schema: &str, expected: &Value) -> (usize, Totals) {
    let got = actual(conn, schema, false);
    let ledgers: Vec<i64> = conn
        .prepare(&format!("SELECT sequence FROM {schema}.ledgers_row_v2 ORDER BY 1"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut totals = Totals::default();
    for seq in &ledgers {
        let e = &expected["ledgers"][seq.to_string()];
        assert!(!e.is_null(), "ledger {seq} missing from the Python output");
        totals.add(e);
        assert_same(&format!("{schema} ledger {seq}"), e, got.get(seq).unwrap_or(&Tables::new()));
    }
    let stray: Vec<&i64> = got.keys().filter(|s| !ledgers.contains(s)).collect();
    assert!(stray.is_empty(), "rows for ledgers that were not ingested: {stray:?}");
    (ledgers.len(), totals)
}

#[test]
fn classic_tables_match_an_independent_decode_of_the_fixtures() {
    let Some(fixtures) = ducklake_tests::fixtures() else {
        eprintln!("NOTICE: fixtures not found; skipping");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let FixtureCatalog { catalog, lakes, .. } = ingest_all_fixture_ledgers(&fixtures, tmp.path(), &batch(7));
    let Some(expected) = python_expectation(&lakes, false) else {
        return;
    };
    let conn = open_catalog(&catalog);
    let mut ledgers = 0;
    for schema in ["mainnet", "testnet"] {
        let (n, totals) = compare_ledgers(&conn, schema, &expected);
        eprintln!("{schema}: {n} ledgers agree with the Python stellar-sdk; (rows, deleted) per table: {:?}", totals.0);
        ledgers += n;
    }
    assert_eq!(ledgers, 357, "every distinct fixture ledger");
}

#[test]
fn synthetic_network_classic_tables_and_current_views() {
    let tmp = tempfile::tempdir().unwrap();
    // A seed whose 150 ledgers also remove liquidity pools (a pool goes only
    // with its last trustline; seed 2 removes two) and signers.
    let (lake, catalog) = synth_and_ingest(tmp.path(), 150, &["--seed", "2", "--txs-per-ledger", "14"], &batch(25));
    // The `<table>_current` views name the catalog as the config does ("stellar").
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!("ATTACH '{}' AS stellar (READ_ONLY); USE stellar;", catalog.display())).unwrap();

    // Every table has rows, and every table records deletions.
    for table in [
        "native_balances_snapshot_v1",
        "accounts_snapshot_v1",
        "account_signers_snapshot_v1",
        "trustlines_snapshot_v1",
        "offers_snapshot_v1",
        "claimable_balances_snapshot_v1",
        "liquidity_pools_snapshot_v1",
    ] {
        let (rows, deleted): (i64, i64) = conn
            .query_row(&format!("SELECT count(*), count(*) FILTER (WHERE deleted) FROM synth.{table}"), [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        eprintln!("synthetic {table}: {rows} rows, {deleted} deletions");
        assert!(rows > 0 && deleted > 0, "{table}: {rows} rows, {deleted} deleted");
    }
    let pool_share_lines: i64 = conn
        .query_row("SELECT count(DISTINCT liquidity_pool_id) FROM synth.trustlines_snapshot_v1", [], |r| r.get(0))
        .unwrap();
    assert!(pool_share_lines > 1, "pool-share trustlines of several pools are kept apart");

    let Some(expected) = python_expectation(std::slice::from_ref(&lake), true) else { return };
    let (n, totals) = compare_ledgers(&conn, "synth", &expected);
    eprintln!("synthetic: {n} ledgers agree with the Python stellar-sdk; (rows, deleted) per table: {:?}", totals.0);
    // The current views equal the state replayed to the end.
    let current = actual(&conn, "synth", true);
    let final_state = &expected["final"];
    assert_same("synthetic current views", final_state, current.get(&0).unwrap_or(&Tables::new()));
    let live: BTreeMap<String, usize> = non_empty(final_state)
        .iter()
        .map(|(t, v)| (t.clone(), v.as_object().map_or_else(|| v.as_array().map_or(0, Vec::len), |o| o.len())))
        .collect();
    eprintln!("synthetic current views match the replayed final state: {live:?}");
}
