//! `trades_row_v1` and `contract_events_stream_v1` against independent decodes:
//! `decoded_stats.jsonl` (per-ledger event counts by kind) and
//! `tests/python/check_trades_events.py` (the Python stellar-sdk reads the
//! claim atoms, the envelopes and the events itself), on every real fixture
//! ledger and on the synthetic network.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ducklake_tests::batch;
use ducklake_tests::{ingest_all_fixture_ledgers, open_catalog, python_json_lines, require_fixtures, synth_and_ingest};
use serde_json::{Value, json};

/// Per-ledger [operation, transaction-level, diagnostic] event counts from decoded_stats.jsonl.
fn stats_event_counts(fixtures: &Path) -> BTreeMap<i64, [i64; 3]> {
    let text = std::fs::read_to_string(fixtures.join("decoded_stats.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let n = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("{k} in {line}"));
        out.insert(n("seq"), [n("op_contract_events"), n("tx_level_events"), n("diagnostic_events")]);
    }
    out
}

/// Per-ledger event counts by kind in one schema.
fn table_event_counts(conn: &duckdb::Connection, schema: &str) -> BTreeMap<i64, [i64; 3]> {
    let mut counts: BTreeMap<i64, [i64; 3]> = BTreeMap::new();
    let sql =
        format!("SELECT ledger_sequence, event_kind, count(*) FROM {schema}.contract_events_stream_v1 GROUP BY ALL");
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))).unwrap();
    for row in rows {
        let (seq, kind, n) = row.unwrap();
        let k = match kind.as_str() {
            "operation" => 0,
            "transaction" => 1,
            "diagnostic" => 2,
            other => panic!("unexpected event_kind {other}"),
        };
        counts.entry(seq).or_default()[k] = n;
    }
    counts
}

/// Trades in the Python script's layout.
fn table_trades(conn: &duckdb::Connection, schema: &str) -> Vec<Value> {
    let asset = |side: &str| {
        format!(
            "CASE WHEN {side}_asset_type = 'native' THEN 'native' \
             ELSE {side}_asset_type || '/' || {side}_asset_code || '/' || {side}_asset_issuer END"
        )
    };
    let sql = format!(
        "SELECT ledger_sequence, transaction_hash, operation_index, trade_index, trade_type, seller_account, \
                buyer_account, buyer_account_muxed, {}, selling_amount_stroops, {}, buying_amount_stroops, \
                selling_offer_id, liquidity_pool_id, price, buying_offer_id, history_operation_id \
         FROM {schema}.trades_row_v1",
        asset("selling"),
        asset("buying")
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| {
        Ok(json!([
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i32>(2)?,
            r.get::<_, i32>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, String>(8)?,
            r.get::<_, i64>(9)?,
            r.get::<_, String>(10)?,
            r.get::<_, i64>(11)?,
            r.get::<_, Option<i64>>(12)?,
            r.get::<_, Option<String>>(13)?,
            r.get::<_, Option<String>>(14)?,
            r.get::<_, Option<i64>>(15)?,
            r.get::<_, i64>(16)?,
        ]))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

/// `stroops` as the 7-decimal text DuckDB prints for a DECIMAL(38,7).
fn decimal_text(stroops: i128) -> String {
    format!("{}.{:07}", stroops / 10_000_000, stroops % 10_000_000)
}

/// Trades: the exact row set, then per-ledger count and sums of the VARCHAR
/// amount columns, against the Python decode. Returns (trades, ledgers with trades).
fn check_trades(conn: &duckdb::Connection, schemas: &[&str], python: &Value) -> (usize, usize) {
    let expected = sorted(python["trades"].as_array().unwrap().clone());
    let got = sorted(schemas.iter().flat_map(|s| table_trades(conn, s)).collect());
    assert_eq!(got.len(), expected.len(), "trade count");
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e, "trade row (ours, then Python's)");
    }
    let mut per_ledger: BTreeMap<i64, (i64, i128, i128)> = BTreeMap::new();
    for t in &expected {
        let e = per_ledger.entry(t[0].as_i64().unwrap()).or_default();
        e.0 += 1;
        e.1 += i128::from(t[9].as_i64().unwrap());
        e.2 += i128::from(t[11].as_i64().unwrap());
    }
    for (seq, (n, sold, bought)) in &per_ledger {
        let schema = schemas.iter().find(|s| schema_holds(conn, s, *seq)).unwrap();
        let row: (i64, String, String) = conn
            .query_row(
                &format!(
                    "SELECT count(*), CAST(sum(CAST(selling_amount AS DECIMAL(38,7))) AS VARCHAR), \
                            CAST(sum(CAST(buying_amount AS DECIMAL(38,7))) AS VARCHAR) \
                     FROM {schema}.trades_row_v1 WHERE ledger_sequence = ?"
                ),
                [seq],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, (*n, decimal_text(*sold), decimal_text(*bought)), "ledger {seq}: trades, sum sold, sum bought");
    }
    (expected.len(), per_ledger.len())
}

fn schema_holds(conn: &duckdb::Connection, schema: &str, seq: i64) -> bool {
    conn.query_row(&format!("SELECT count(*) FROM {schema}.ledgers_row_v2 WHERE sequence = ?"), [seq], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap()
        > 0
}

/// Structural rules every event row must follow, and id uniqueness. (The
/// bundled DuckDB has no JSON extension, so JSON is checked here in Rust.)
fn check_event_invariants(conn: &duckdb::Connection, schema: &str) -> i64 {
    let (rows, ids, bad): (i64, i64, i64) = conn
        .query_row(
            &format!(
                "SELECT count(*), count(DISTINCT event_id), count(*) FILTER (WHERE NOT ( \
                    (operation_index IS NULL) = (event_kind <> 'operation') \
                    AND (operation_id IS NULL) = (event_kind <> 'operation') \
                    AND (transaction_event_stage IS NULL) = (event_kind <> 'transaction') \
                    AND (contract_id IS NULL OR contract_id LIKE 'C%') \
                    AND event_type IN ('contract', 'system', 'diagnostic') \
                    AND event_id LIKE lpad(CAST(coalesce(operation_id, transaction_id) AS VARCHAR), 19, '0') || '-%')) \
                 FROM {schema}.contract_events_stream_v1"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(ids, rows, "{schema}: event_id is unique");
    assert_eq!(bad, 0, "{schema}: rows breaking the kind/index/id rules");
    for e in events_json(conn, schema) {
        assert_eq!(e.topics_xdr.len(), e.topic_count, "{}: topics_json length", e.id);
        assert_eq!(e.topics.len(), e.topic_count, "{}: topics_decoded length", e.id);
        assert!(e.topics.iter().all(|t| t.is_object() || t.is_string()), "{}: typed topics {:?}", e.id, e.topics);
        assert!(e.data.is_object() || e.data.is_string(), "{}: typed data {}", e.id, e.data);
    }
    rows
}

/// One event row with its JSON columns parsed.
struct EventJson {
    id: String,
    key: (String, String, Option<i64>, i64),
    contract_id: Option<String>,
    topic_count: usize,
    topics_xdr: Vec<Value>,
    topics: Vec<Value>,
    data_xdr: String,
    data: Value,
}

fn events_json(conn: &duckdb::Connection, schema: &str) -> Vec<EventJson> {
    let sql = format!(
        "SELECT event_id, transaction_hash, event_kind, operation_index, event_index, contract_id, topic_count, \
                topics_json, topics_decoded, data_xdr, data_decoded FROM {schema}.contract_events_stream_v1"
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    let parse = |s: String| serde_json::from_str::<Value>(&s).unwrap();
    stmt.query_map([], |r| {
        Ok(EventJson {
            id: r.get(0)?,
            key: (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
            contract_id: r.get(5)?,
            topic_count: r.get::<_, i32>(6)? as usize,
            topics_xdr: parse(r.get(7)?).as_array().unwrap().clone(),
            topics: parse(r.get(8)?).as_array().unwrap().clone(),
            data_xdr: r.get(9)?,
            data: parse(r.get(10)?),
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every `transfer` event the Python SDK decoded (symbol + two addresses)
/// has our row with the same decoded topics, contract, amount and XDR.
fn check_transfers(conn: &duckdb::Connection, schemas: &[&str], python: &Value) -> usize {
    let mut ours: HashMap<(String, String, Option<i64>, i64), Value> = HashMap::new();
    for schema in schemas {
        for e in events_json(conn, schema) {
            let addr = |i: usize| e.topics.get(i).and_then(|t| t["address"].as_str()).map(str::to_string);
            if e.topics.first().and_then(|t| t["symbol"].as_str()) != Some("transfer") {
                continue;
            }
            let (Some(from), Some(to)) = (addr(1), addr(2)) else { continue };
            let amount = e.data["i128"].as_str().map(str::to_string);
            ours.insert(e.key, json!([from, to, e.contract_id, amount, e.topics_xdr[0], e.data_xdr]));
        }
    }
    let expected = python["transfers"].as_array().unwrap();
    for t in expected {
        let key = (
            t[0].as_str().unwrap().to_string(),
            t[1].as_str().unwrap().to_string(),
            t[2].as_i64(),
            t[3].as_i64().unwrap(),
        );
        let got = ours.get(&key).unwrap_or_else(|| panic!("no row for Python's transfer event {t}"));
        assert_eq!(got, &json!([t[4], t[5], t[6], t[7], t[8], t[9]]), "transfer event {key:?}: ours, then Python's");
    }
    assert_eq!(ours.len(), expected.len(), "transfer events with two address topics");
    expected.len()
}

#[test]
fn fixture_trades_and_events_match_independent_decoders() {
    let fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let fixture = ingest_all_fixture_ledgers(&fixtures, tmp.path(), &batch(50));
    let (catalog, lakes) = (fixture.catalog, fixture.lakes);
    let conn = open_catalog(&catalog);
    let schemas = ["mainnet", "testnet"];

    // Events per ledger and kind against decoded_stats (two independent decoders).
    let stats = stats_event_counts(&fixtures);
    let mut ours: BTreeMap<i64, [i64; 3]> = BTreeMap::new();
    for s in schemas {
        ours.extend(table_event_counts(&conn, s));
    }
    let mut totals = [0i64; 3];
    for (seq, expected) in &stats {
        let got = ours.get(seq).copied().unwrap_or_default();
        assert_eq!(got, *expected, "ledger {seq}: [operation, transaction, diagnostic] events");
        for k in 0..3 {
            totals[k] += got[k];
        }
    }
    assert!(ours.keys().all(|k| stats.contains_key(k)), "events only in fixture ledgers");
    let rows: i64 = schemas.iter().map(|s| check_event_invariants(&conn, s)).sum();
    assert_eq!(rows, totals.iter().sum::<i64>());
    eprintln!(
        "contract events on {} fixture ledgers match decoded_stats: {} operation, {} transaction-level, {} diagnostic; {rows} unique event ids",
        stats.len(),
        totals[0],
        totals[1],
        totals[2]
    );

    let Some(lines) = python_json_lines("check_trades_events.py", &lakes) else { return };
    let python = &lines[0];
    assert_eq!(python["ledgers"].as_u64().unwrap() as usize, stats.len(), "Python read every fixture ledger");
    for (seq, counts) in python["events"].as_object().unwrap() {
        let seq: i64 = seq.parse().unwrap();
        let counts: [i64; 3] = serde_json::from_value(counts.clone()).unwrap();
        assert_eq!(counts, stats[&seq], "ledger {seq}: Python event counts vs decoded_stats");
    }
    let (trades, trade_ledgers) = check_trades(&conn, &schemas, python);
    let transfers = check_transfers(&conn, &schemas, python);
    let (book, pool): (i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE trade_type = 'orderbook'), count(*) FILTER (WHERE trade_type = 'liquidity_pool') \
             FROM (SELECT trade_type FROM mainnet.trades_row_v1 UNION ALL SELECT trade_type FROM testnet.trades_row_v1)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(trades > 1000 && book > 0 && pool > 0, "trades {trades}: order book {book}, pool {pool}");
    // stellar-etl's price_n/price_d (the maker offer's price from its pre-trade
    // state) and the pool fee are found for every trade.
    let missing: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT * FROM mainnet.trades_row_v1 UNION ALL SELECT * FROM testnet.trades_row_v1) \
             WHERE price_n IS NULL OR price_d IS NULL OR (trade_type = 'liquidity_pool') <> (liquidity_pool_fee IS NOT NULL) \
                OR (trade_type = 'orderbook') <> (selling_offer_id IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(missing, 0, "trades without price_n/price_d, pool fee or maker offer id");
    eprintln!(
        "Python stellar-sdk cross-check: {trades} trades ({book} order book, {pool} liquidity pool) on {trade_ledgers} ledgers \
         equal row for row (parties, assets, amounts, offer/pool ids, price) with per-ledger amount sums; \
         {transfers} transfer events' decoded topics, contract, amount and XDR equal"
    );
}

#[test]
fn synthetic_network_trades_and_events() {
    let tmp = tempfile::tempdir().unwrap();
    let (lake, catalog) = synth_and_ingest(tmp.path(), 80, &["--seed", "9", "--txs-per-ledger", "12"], &batch(25));
    let conn = open_catalog(&catalog);

    // Both kinds of trade, both parties filled, pool fee and prices present.
    let (book, pool, bad): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE trade_type = 'orderbook' AND seller_account LIKE 'G%' AND selling_offer_id IS NOT NULL), \
                    count(*) FILTER (WHERE trade_type = 'liquidity_pool' AND seller_account LIKE 'L%' \
                                     AND liquidity_pool_id IS NOT NULL AND liquidity_pool_fee = 30), \
                    count(*) FILTER (WHERE NOT (buyer_account LIKE 'G%' AND price IS NOT NULL \
                                     AND price_n IS NOT NULL AND price_d IS NOT NULL)) \
             FROM synth.trades_row_v1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(book > 0 && pool > 0 && bad == 0, "order book {book}, pool {pool}, incomplete {bad}");

    // Events: present, unique ids, every topic and data value decodes to typed JSON.
    let events = check_event_invariants(&conn, "synth");
    assert!(events > 0, "the synthetic network emits contract events");

    let Some(lines) = python_json_lines("check_trades_events.py", &[PathBuf::from(&lake)]) else {
        eprintln!("synthetic: {book} order-book and {pool} pool trades, {events} events (Python check skipped)");
        return;
    };
    let python = &lines[0];
    let (trades, _) = check_trades(&conn, &["synth"], python);
    let transfers = check_transfers(&conn, &["synth"], python);
    let ours = table_event_counts(&conn, "synth");
    for (seq, counts) in python["events"].as_object().unwrap() {
        let seq: i64 = seq.parse().unwrap();
        let counts: [i64; 3] = serde_json::from_value(counts.clone()).unwrap();
        assert_eq!(ours.get(&seq).copied().unwrap_or_default(), counts, "synthetic ledger {seq}: events by kind");
    }
    eprintln!(
        "synthetic network: {trades} trades ({book} order book, {pool} liquidity pool) equal Python's row for row; \
         {events} events with per-ledger kind counts equal, {transfers} transfer events' topics equal"
    );
}
