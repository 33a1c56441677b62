//! The HTTP query API while ingestion runs: answers, and refusals enforced
//! by DuckDB (not keyword matching), with committed data left intact.

use std::time::{Duration, Instant};

use ducklake_tests::batch;
use ducklake_tests::config::{SyntheticConfig, config, synthetic_source, write};
use ducklake_tests::{
    LedgerServer, TESTNET, assert_lineage_matches_tables, describe, grpc_source, http, http_raw, http_with,
    open_catalog, require_fixtures, spawn_run, stderr_lines, wait_exit, wait_for_line, write_sources_config,
};

fn query(addr: &str, sql: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(addr, "POST", "/query", &serde_json::json!({ "sql": sql }).to_string());
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)))
}

/// NDJSON, CSV and Arrow IPC exports, chosen by `format` or `Accept`.
fn check_export_formats(addr: &str) {
    let post = |body: serde_json::Value, headers: &str| http_raw(addr, "POST", "/query", headers, &body.to_string());

    let (status, head, body) = post(
        serde_json::json!({"sql": "SELECT sequence, closed_at FROM testnet.ledgers_row_v2 ORDER BY sequence", "format": "ndjson", "limit": 3}),
        "",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(head.to_ascii_lowercase().contains("application/x-ndjson"), "{head}");
    let lines: Vec<serde_json::Value> =
        String::from_utf8(body).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["sequence"], 1410048);

    let (status, _, body) =
        post(serde_json::json!({"sql": "SELECT i, 'a,\"b' AS s FROM range(4) t(i)"}), "Accept: text/csv\r\n");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["i,s", "0,\"a,\"\"b\"", "1,\"a,\"\"b\"", "2,\"a,\"\"b\"", "3,\"a,\"\"b\""]
    );

    // A large Arrow export streams in many chunks and arrives whole.
    let (status, _, body) =
        post(serde_json::json!({"sql": "SELECT i, i * 2 AS j FROM range(300000) t(i)", "format": "arrow"}), "");
    assert_eq!(status, 200);
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None).expect("Arrow IPC stream");
    let (mut rows, mut sum) = (0usize, 0i64);
    for batch in reader {
        let batch = batch.expect("batch");
        rows += batch.num_rows();
        let col = batch.column(1).as_any().downcast_ref::<duckdb::arrow::array::Int64Array>().expect("BIGINT column");
        sum += col.iter().flatten().sum::<i64>();
    }
    assert_eq!((rows, sum), (300_000, 300_000 * 299_999));

    // Exports are capped at export_max_rows (default 1,000,000).
    let (status, _, body) = post(serde_json::json!({"sql": "SELECT i FROM range(1500000) t(i)", "format": "csv"}), "");
    assert_eq!(status, 200);
    assert_eq!(body.iter().filter(|b| **b == b'\n').count(), 1 + 1_000_000, "header + export_max_rows lines");

    // Errors before the first row are JSON errors, not cut-off streams.
    for sql in ["SELECT * FROM testnet.no_such_table", "COPY testnet.ledgers_row_v2 TO '/tmp/x.csv'"] {
        let (status, _, body) = post(serde_json::json!({"sql": sql, "format": "csv"}), "");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 400, "{sql}: {v}");
        assert!(v["code"].is_string(), "{v}");
    }
    let (status, _, _) = post(serde_json::json!({"sql": "SELECT 1", "format": "xml"}), "");
    assert_eq!(status, 400);
    eprintln!("exports: ndjson, csv (quoted), arrow 300000 rows, csv capped at 1000000 rows");
}

/// GET /metrics, checked line by line and parsed.
fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let (status, body) = http(addr, "GET", "/metrics", "");
    assert_eq!(status, 200, "{body}");
    let mut typed = std::collections::BTreeSet::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "family {name} declared twice");
        } else if !line.starts_with("# HELP ") {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name.starts_with("ducklake_"), "common prefix: {line}");
            let family = ["_bucket", "_sum", "_count", "_total"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                .unwrap_or(name);
            assert!(typed.contains(family), "sample before its # TYPE: {line}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
        }
    }
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text")
}

/// Sum of a metric's samples, optionally those with one label value.
fn sum(scrape: &prometheus_parse::Scrape, metric: &str, label: Option<(&str, &str)>) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[test]
fn queries_are_answered_and_hostile_ones_refused_during_ingestion() {
    let fixtures = require_fixtures!();
    let lake = fixtures.join("derived/datalake-testnet-lpf64-fpp10");
    let dir = tempfile::tempdir().unwrap();
    let server = LedgerServer::start(&["--lake", lake.to_str().unwrap(), "--ledger-interval", "30ms"]);
    let catalog = dir.path().join("q.duckdb");
    let src = grpc_source(&server.addr, TESTNET, 1410048, 1410367, |_| {});
    let config = write_sources_config(dir.path(), "q.yaml", &[src], &catalog, &batch(16));
    let mut child = spawn_run(&config);
    let lines = stderr_lines(&mut child);
    let listening = wait_for_line(&lines, "query API listening", &mut Vec::new());
    let addr = listening.split("address=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();

    let (status, body) = http(&addr, "GET", "/health", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"db_connected\":true"), "{body}");

    // Wait for a first commit, then query while ingestion goes on.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = query(&addr, "SELECT count(*) AS n FROM testnet.ledgers_row_v2");
        assert_eq!(status, 200, "{v}");
        if v["rows"][0][0].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "nothing committed within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Column names the Go tool's blacklist refused are fine here.
    let (status, v) = query(
        &addr,
        "SELECT sequence, closed_at, 'deleted' AS updated_at FROM testnet.ledgers_row_v2 ORDER BY sequence LIMIT 3;",
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["columns"], serde_json::json!(["sequence", "closed_at", "updated_at"]));
    assert_eq!(v["row_count"], 3);
    assert_eq!(v["rows"][0][0], 1410048);
    assert!(v["rows"][0][1].as_str().unwrap().ends_with('Z'), "{v}");
    let (status, v) = query(&addr, "DESCRIBE testnet.transactions_row_v2");
    assert_eq!(status, 200, "{v}");
    let (_, v) = http(&addr, "POST", "/query", r#"{"sql": "SELECT * FROM range(5000)", "limit": 10, "offset": 5}"#);
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(
        (v["row_count"].clone(), v["truncated"].clone(), v["rows"][0][0].clone()),
        (10.into(), true.into(), 5.into())
    );

    let hostile = [
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/hostname')",
        "SELECT * FROM glob('/*')",
        "DETACH stellar",
        "ATTACH '/tmp/x.duckdb' AS x",
        "DROP TABLE testnet.ledgers_row_v2",
        "DELETE FROM testnet.ledgers_row_v2",
        "INSERT INTO testnet.ledgers_row_v2 SELECT * FROM testnet.ledgers_row_v2",
        "UPDATE testnet.ledgers_row_v2 SET sequence = 0",
        "CREATE TABLE testnet.x AS SELECT 1",
        "COPY testnet.ledgers_row_v2 TO '/tmp/leak.csv'",
        "SET threads = 1",
        "PRAGMA threads = 1",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CALL pragma_version()",
        "EXPORT DATABASE '/tmp/exp'",
        "SELECT 1; DROP TABLE testnet.ledgers_row_v2",
        "SELECT 1 /* ; */ ; DELETE FROM testnet.ledgers_row_v2",
        "USE memory",
        "CHECKPOINT",
        "BEGIN",
        "SELECT getenv('HOME')",
        "",
        // More file and network readers, replacement scans and table functions.
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM read_json('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM parquet_metadata('/etc/passwd')",
        "SELECT * FROM read_csv('https://example.com/x.csv')",
        "SUMMARIZE SELECT * FROM read_text('/etc/passwd')",
        "EXPLAIN ANALYZE DELETE FROM testnet.ledgers_row_v2",
        "WITH x AS (SELECT 1) DELETE FROM testnet.ledgers_row_v2",
        // Comment and quoting tricks around forbidden statements.
        "-- just a comment\nDROP TABLE testnet.ledgers_row_v2",
        "/* SELECT */ ATTACH ':memory:' AS m",
        "SELECT 1;;DROP TABLE testnet.ledgers_row_v2",
        "SELECT '; DROP TABLE x' AS s; VACUUM",
        "CREATE MACRO testnet.m() AS 1",
        "ALTER TABLE testnet.ledgers_row_v2 ADD COLUMN x INT",
        "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
        "SELECT * FROM duckdb_settings() WHERE name = 'enable_external_access' AND value = 'true' UNION ALL SELECT * FROM read_text('/etc/passwd')",
    ];
    for sql in hostile {
        let (status, v) = query(&addr, sql);
        assert_eq!(status, 400, "{sql:?} must be refused: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()) && v["code"].is_string(), "{sql:?}: {v}");
    }
    let (status, body) = http(&addr, "POST", "/query", "{not json");
    assert_eq!(status, 400, "{body}");

    check_export_formats(&addr);

    // /metrics parses as Prometheus text, and the ingestion counters move.
    let first = scrape(&addr);
    let committed = |s: &prometheus_parse::Scrape| sum(s, "ducklake_ledgers_committed_total", None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let second = loop {
        std::thread::sleep(Duration::from_millis(300));
        let s = scrape(&addr);
        if committed(&s) > committed(&first) || committed(&s) >= 320.0 {
            break s;
        }
        assert!(Instant::now() < deadline, "ducklake_ledgers_committed_total did not move");
    };
    assert!(sum(&second, "ducklake_rows_committed_total", Some(("table", "transactions_row_v2"))) > 0.0);
    assert!(sum(&second, "ducklake_query_requests_total", Some(("outcome", "ok"))) >= 5.0);
    assert!(
        sum(&second, "ducklake_query_requests_total", Some(("outcome", "forbidden_statement"))) >= 10.0,
        "refusals are counted by outcome"
    );
    assert!(sum(&second, "ducklake_batch_commit_duration_seconds_count", None) > 0.0);
    assert!(
        sum(&second, "ducklake_last_committed_ledger", None) >= 1410048.0,
        "{:?}",
        second.samples.iter().map(|s| &s.metric).collect::<std::collections::BTreeSet<_>>()
    );
    assert!(sum(&second, "ducklake_process_resident_memory_bytes", None) > 0.0);
    eprintln!(
        "metrics: {} samples; ledgers committed {} -> {}",
        second.samples.len(),
        committed(&first),
        committed(&second)
    );

    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let conn = open_catalog(&catalog);
    let n: i64 = conn.query_row("SELECT count(*) FROM testnet.ledgers_row_v2", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 320, "every ledger committed, none deleted");
    assert_lineage_matches_tables(&conn, "testnet");
    assert!(!std::path::Path::new("/tmp/leak.csv").exists());
}

/// Configured limits, bearer-token auth, request size, the timeout of an
/// endless query and the concurrency limit, while a synthetic network is
/// ingested live; ingestion keeps committing throughout.
#[test]
fn auth_limits_timeout_and_concurrency_during_live_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let catalog = dir.path().join("live.duckdb");
    let synthetic =
        SyntheticConfig { seed: 3, txs_per_ledger: Some(5), ledger_interval_ms: 100, ..SyntheticConfig::default() };
    let mut cfg = config(vec![synthetic_source(synthetic, ducklake_tests::SYNTHNET, 2, 0)], &catalog);
    (cfg.ducklake.batch_size, cfg.ducklake.commit_interval_seconds) = (4, 1);
    let api = &mut cfg.query_api;
    api.auth_token_file = Some(token_file.to_str().unwrap().to_string());
    (api.timeout_seconds, api.max_concurrent, api.max_request_bytes, api.max_result_bytes) = (1, 2, 2048, 20_000);
    (api.default_limit, api.max_limit) = (5, 50);
    let config = write(dir.path(), "live.yaml", &cfg);
    let mut child = spawn_run(&config);
    let lines = stderr_lines(&mut child);
    let listening = wait_for_line(&lines, "query API listening", &mut Vec::new());
    let addr = listening.split("address=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let auth = "Authorization: Bearer s3cret-token\r\n";
    let q = |sql: &str, headers: &str| -> (u16, serde_json::Value) {
        let (status, body) =
            http_with(&addr, "POST", "/query", headers, &serde_json::json!({ "sql": sql }).to_string());
        (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)))
    };
    let committed = || -> i64 {
        let (status, v) = q("SELECT count(*) FROM synthnet.ledgers_row_v2", auth);
        assert_eq!(status, 200, "{v}");
        v["rows"][0][0].as_i64().unwrap()
    };

    // Probes and scrapers need no token; queries and status do.
    assert_eq!(http(&addr, "GET", "/health", "").0, 200);
    assert_eq!(http(&addr, "GET", "/metrics", "").0, 200);
    let (status, v) = q("SELECT 1", "");
    assert_eq!((status, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
    let (status, _) = q("SELECT 1", "Authorization: Bearer wrong\r\n");
    assert_eq!(status, 401);
    assert_eq!(http(&addr, "GET", "/status", "").0, 401);
    let (status, body) = http_with(&addr, "GET", "/status", auth, "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let state = v["sources"][0]["state"].as_str().unwrap_or_default().to_string();
    assert!(["starting", "ingesting", "caught_up"].contains(&state.as_str()), "{v}");
    assert!(v["sources"][0].get("lag_ledgers").is_some(), "{v}");

    // Configured default and maximum limits.
    let (status, v) = q("SELECT * FROM range(100)", auth);
    assert_eq!((status, v["row_count"].as_i64(), v["truncated"].as_bool()), (200, Some(5), Some(true)), "{v}");
    let (_, body) = http_with(&addr, "POST", "/query", auth, r#"{"sql": "SELECT * FROM range(100)", "limit": 1000}"#);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["row_count"], 50, "limit capped at max_limit");

    // An answer over max_result_bytes is refused instead of buffered.
    let (_, body) =
        http_with(&addr, "POST", "/query", auth, r#"{"sql": "SELECT repeat('x', 1000) FROM range(40)", "limit": 40}"#);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "result_too_large", "{v}");

    // Oversized request: 413 with a JSON error.
    let big = format!("SELECT '{}'", "x".repeat(5000));
    let (status, v) = q(&big, auth);
    assert_eq!((status, v["code"].as_str()), (413, Some("request_too_large")), "{v}");

    // Wait for ingestion to be under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while committed() < 4 {
        assert!(Instant::now() < deadline, "nothing committed within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }

    // An endless query is interrupted after timeout_seconds (504).
    let endless = "SELECT count(*) FROM range(1000000000) a, range(1000000000) b";
    let started = Instant::now();
    let (status, v) = q(endless, auth);
    assert_eq!((status, v["code"].as_str()), (504, Some("timeout")), "{v}");
    assert!(started.elapsed() < Duration::from_secs(10), "interrupted promptly: {:?}", started.elapsed());

    // More concurrent queries than max_concurrent: the extra ones get 429.
    let before = committed();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..5).map(|_| s.spawn(|| q(endless, auth).0)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.contains(&429), "concurrency limit: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 429 || *s == 504), "{statuses:?}");

    // Ingestion went on while the hostile load ran.
    let deadline = Instant::now() + Duration::from_secs(30);
    while committed() <= before {
        assert!(Instant::now() < deadline, "ingestion stalled during the query load");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("auth/limits: statuses under load {statuses:?}; ledgers committed {before} -> {}", committed());

    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(wait_exit(&mut child, Duration::from_secs(60)), 0);
}

/// The json extension is compiled into the binary (DuckDB 1.5.5 build with
/// the `json` feature): a DuckDB-file setup with no extension directory loads
/// nothing from disk, its JSON columns can be queried with DuckDB's JSON
/// functions, and file access stays refused.
#[test]
fn json_columns_are_queryable_with_no_extension_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("json.duckdb");
    let synthetic =
        SyntheticConfig { seed: 5, txs_per_ledger: Some(8), ledger_interval_ms: 50, ..SyntheticConfig::default() };
    let src = synthetic_source(synthetic, ducklake_tests::SYNTHNET, 2, 0);
    let config = write_sources_config(dir.path(), "json.yaml", &[src], &catalog, &batch(4));
    let mut child = spawn_run(&config);
    let lines = stderr_lines(&mut child);
    let mut seen = Vec::new();
    let listening = wait_for_line(&lines, "query API listening", &mut seen);
    assert!(!seen.iter().any(|l| l.contains("DuckDB extensions loaded")), "{seen:?}");
    let addr = listening.split("address=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let sql = "SELECT count(*) FROM synthnet.effects_row_v1 WHERE json_extract_string(details, '$.amount') IS NOT NULL";
    let deadline = Instant::now() + Duration::from_secs(120);
    let n = loop {
        let (status, v) = query(&addr, sql);
        assert_eq!(status, 200, "{v}");
        let n = v["rows"][0][0].as_i64().unwrap_or(0);
        if n > 0 {
            break n;
        }
        assert!(Instant::now() < deadline, "no effect with an amount within 120 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    for hostile in ["SELECT * FROM read_json('/etc/passwd')", "SELECT * FROM read_json_auto('/etc/hostname')"] {
        let (status, v) = query(&addr, hostile);
        assert_eq!(status, 400, "{hostile}: {v}");
    }
    eprintln!("json (compiled in): {n} effects with a details.amount, no extension on disk; read_json still refused");
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(wait_exit(&mut child, Duration::from_secs(60)), 0);
}
