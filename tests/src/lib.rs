//! Helpers for the integration tests: they run the real `ducklake-ingester`
//! binary against the shared Stellar fixtures and inspect the catalogs it
//! writes with DuckDB.
//!
//! Fixtures live in `../shared/fixtures/stellar` next to the repository (or
//! wherever `STELLAR_FIXTURES` points). When they are absent, tests print a
//! notice and pass without checking anything fixture-based.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

pub mod config;
pub mod lake;
pub mod moto;

pub use config::{SourceConfig, Tweak, batch, keep};

pub const PUBNET: &str = "Public Global Stellar Network ; September 2015";
pub const TESTNET: &str = "Test SDF Network ; September 2015";
/// The DuckDB release the ingester bundles; the stock Python client and the
/// extension wheels the tests use are the same release.
pub const DUCKDB_VERSION: &str = "1.5.5";
/// The DuckLake catalog format that release writes.
pub const DUCKLAKE_FORMAT: &str = "1.0";
/// Passphrase of the synthetic network (`synth`, `mode: synthetic`).
pub const SYNTHNET: &str = "Ducklake Synthetic Network ; 2025";

/// A tool a test needs (moto, PostgreSQL, helm, a Python package, the DuckDB
/// extensions) is missing. The README's test command installs them all and
/// sets `DUCKLAKE_REQUIRE_TOOLS=1`, so there the test fails; a bare `cargo
/// test` prints the notice and the test skips.
pub fn missing_tool(notice: &str) {
    if std::env::var_os("DUCKLAKE_REQUIRE_TOOLS").is_some_and(|v| v != "0") {
        panic!("{notice}\nDUCKLAKE_REQUIRE_TOOLS is set: scripts/test-setup.sh should have installed it");
    }
    eprintln!("NOTICE: {notice}");
}

/// The fixture folder, or `None` (with a printed notice) when it is absent.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("STELLAR_FIXTURES").map(PathBuf::from).unwrap_or_else(|| {
        // Cargo sets CARGO_MANIFEST_DIR when it runs a test; prefer that to the
        // compile-time value, which goes stale when a build cache moves.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        crate_dir.join("../../shared/fixtures/stellar")
    });
    if dir.join("decoded_stats.jsonl").is_file() {
        Some(dir.canonicalize().unwrap_or(dir))
    } else {
        eprintln!("NOTICE: Stellar fixtures not found at {}; skipping this fixture test", dir.display());
        None
    }
}

/// Returns early from a test when the fixtures are absent.
#[macro_export]
macro_rules! require_fixtures {
    () => {
        match $crate::fixtures() {
            Some(dir) => dir,
            None => return,
        }
    };
}

/// Path of a binary built from this workspace (same profile as the tests).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("test executable lives in target/<profile>/deps");
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, which the README's test command does)",
        bin.display()
    );
    bin
}

pub fn ingester() -> PathBuf {
    binary("ducklake-ingester")
}

/// Runs the ingester with arguments, capturing its output.
pub fn run_ingester(args: &[&str]) -> Output {
    Command::new(ingester()).args(args).env("RUST_LOG", "info").output().expect("spawn ducklake-ingester")
}

/// Starts `ducklake-ingester run --config <config>` with stderr piped (for
/// tests that watch the log while it runs).
pub fn spawn_run(config: &Path) -> std::process::Child {
    Command::new(ingester())
        .args(["run", "--config", config.to_str().expect("utf-8 path")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ducklake-ingester")
}

/// `ducklake-ingester run --config <config>`.
pub fn run_config(config: &Path) -> Output {
    run_ingester(&["run", "--config", config.to_str().expect("utf-8 path")])
}

/// Exit code and combined output, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A datastore source block for a config file.
pub struct Lake<'a> {
    pub path: &'a Path,
    pub passphrase: &'a str,
    pub start: u32,
    pub end: u32,
}

/// Writes a config with one datastore source; `tweak` changes its `ducklake` section.
pub fn write_config(dir: &Path, name: &str, lake: &Lake<'_>, catalog: &Path, tweak: Tweak<'_>) -> PathBuf {
    write_sources_config(dir, name, &[datastore_source(lake)], catalog, tweak)
}

/// Opens a catalog written by the ingester (the process must have exited).
pub fn open_catalog(path: &Path) -> duckdb::Connection {
    let conn = duckdb::Connection::open_in_memory().expect("duckdb");
    conn.execute_batch(&format!(
        "ATTACH '{}' AS c (READ_ONLY); USE c;",
        path.display().to_string().replace('\'', "''")
    ))
    .expect("attach catalog");
    conn
}

/// One line of `decoded_stats.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct DecodedStats {
    pub file: String,
    pub seq: u32,
    /// NULL for a ledger without transactions.
    pub network: Option<String>,
    pub tx_count: i64,
    pub tx_success: i64,
    pub tx_failed: i64,
    pub txset_op_count: i64,
    pub success_op_count: i64,
    pub ledger_hash: String,
    pub prev_hash: String,
    pub close_time: i64,
    pub protocol: i64,
    pub lcm_version: i64,
    pub fee_bump_txs: i64,
}

/// Per-ledger numbers from the two independent decoders, one entry per ledger.
pub fn decoded_stats(fixtures: &Path) -> BTreeMap<u32, DecodedStats> {
    let text = std::fs::read_to_string(fixtures.join("decoded_stats.jsonl")).expect("decoded_stats.jsonl");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let s: DecodedStats = serde_json::from_str(line).expect("decoded_stats line");
        out.insert(s.seq, s);
    }
    out
}

/// A copy of a fixture lake in a temporary directory, for tests that damage it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Content of every data table as sorted text rows, for comparing catalogs.
/// `ingestion_timestamp` (wall clock) is left out.
pub fn table_fingerprint(conn: &duckdb::Connection, schema: &str, table: &str) -> (u64, String) {
    let exclude = if table == "ledgers_row_v2" { " EXCLUDE (ingestion_timestamp)" } else { "" };
    let sql = format!(
        "SELECT count(*), coalesce(string_agg(md5(CAST(t AS VARCHAR)), ',' ORDER BY md5(CAST(t AS VARCHAR))), '') \
         FROM (SELECT *{exclude} FROM \"{schema}\".\"{table}\") t"
    );
    conn.query_row(&sql, [], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))).expect(&sql)
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `ducklake-ingester serve-ledgers` process, killed on drop.
pub struct LedgerServer {
    _child: KillOnDrop,
    /// `host:port` it listens on.
    pub addr: String,
}

impl LedgerServer {
    /// Starts `serve-ledgers --listen 127.0.0.1:0 <args>` and waits for its address.
    pub fn start(args: &[&str]) -> LedgerServer {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(ingester())
            .args(["serve-ledgers", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn serve-ledgers");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read serve-ledgers stdout");
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("serve-ledgers said {line:?}"));
        LedgerServer { addr: addr.to_string(), _child: KillOnDrop(child) }
    }
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A gRPC source with quick reconnects; `grpc` changes its `grpc` section.
pub fn grpc_source(
    endpoint: &str,
    passphrase: &str,
    start: u32,
    end: u32,
    grpc: impl FnOnce(&mut config::GrpcConfig),
) -> SourceConfig {
    let mut s = config::grpc_source(endpoint, passphrase, start, end);
    grpc(s.grpc.as_mut().expect("a grpc source"));
    s
}

/// A datastore source on a local lake.
pub fn datastore_source(lake: &Lake<'_>) -> SourceConfig {
    config::datastore_source(lake.path, lake.passphrase, lake.start, lake.end)
}

/// Writes a config with the given sources and catalog.
pub fn write_sources_config(
    dir: &Path,
    name: &str,
    sources: &[SourceConfig],
    catalog: &Path,
    tweak: Tweak<'_>,
) -> PathBuf {
    write_sources_config_serving(dir, name, sources, catalog, tweak, "127.0.0.1:0")
}

/// [`write_sources_config`] with the query API on `api` (`host:port`).
pub fn write_sources_config_serving(
    dir: &Path,
    name: &str,
    sources: &[SourceConfig],
    catalog: &Path,
    tweak: Tweak<'_>,
    api: &str,
) -> PathBuf {
    let mut cfg = config::config(sources.to_vec(), catalog);
    cfg.query_api.port = config::ListenAddr::Address(api.to_string());
    tweak(&mut cfg.ducklake);
    config::write(dir, name, &cfg)
}

/// Runs `tests/python/<script> <args>` and parses its JSON lines; `None`
/// (with a printed notice) when python3 with stellar_sdk and zstandard is
/// not installed. Panics when the script fails.
pub fn python_json_lines(script: &str, args: &[PathBuf]) -> Option<Vec<serde_json::Value>> {
    let probe = Command::new("python3").args(["-c", "import stellar_sdk, zstandard"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        crate::missing_tool(&format!(
            "python3 with stellar_sdk and zstandard is not available; skipping the independent Python check {script} (pip install stellar-sdk zstandard)"
        ));
        return None;
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python").join(script);
    let out = Command::new("python3").arg(&path).args(args).output().expect("run python3");
    assert!(out.status.success(), "{script} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    Some(text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("JSON line")).collect())
}

/// The DuckDB extension directory filled by `scripts/fetch-extensions.sh`:
/// `$DUCKLAKE_EXTENSION_DIR`, else `<repo>/.duckdb/extensions`; `None` (with a
/// printed notice) when neither exists.
pub fn extension_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("DUCKLAKE_EXTENSION_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").join(".duckdb/extensions")
    });
    if dir.join(format!("v{DUCKDB_VERSION}")).is_dir() {
        Some(dir)
    } else {
        crate::missing_tool(&format!(
            "no DuckDB extensions at {}; skipping {test} (run scripts/fetch-extensions.sh)",
            dir.display()
        ));
        None
    }
}

/// Every data table, in the ingester's creation order.
pub const DATA_TABLES: [&str; 19] = [
    "ledgers_row_v2",
    "transactions_row_v2",
    "operations_row_v2",
    "native_balances_snapshot_v1",
    "effects_row_v1",
    "trades_row_v1",
    "accounts_snapshot_v1",
    "trustlines_snapshot_v1",
    "offers_snapshot_v1",
    "claimable_balances_snapshot_v1",
    "liquidity_pools_snapshot_v1",
    "contract_events_stream_v1",
    "contract_data_snapshot_v1",
    "contract_code_snapshot_v1",
    "config_settings_snapshot_v1",
    "ttl_snapshot_v1",
    "evicted_keys_state_v1",
    "restored_keys_state_v1",
    "account_signers_snapshot_v1",
];

/// Asserts two catalogs hold the same rows in every data table of `schema`.
pub fn assert_same_tables(a: &Path, b: &Path, schema: &str) -> Vec<(String, u64)> {
    let (ca, cb) = (open_catalog(a), open_catalog(b));
    DATA_TABLES
        .iter()
        .map(|t| {
            let fa = table_fingerprint(&ca, schema, t);
            let fb = table_fingerprint(&cb, schema, t);
            assert_eq!(fa.0, fb.0, "{schema}.{t}: row counts differ");
            assert!(fa == fb, "{schema}.{t}: contents differ");
            (t.to_string(), fa.0)
        })
        .collect()
}

/// Asserts that the per-table row counts the lineage recorded equal the
/// rows in the tables: every committed batch is whole.
pub fn assert_lineage_matches_tables(conn: &duckdb::Connection, schema: &str) {
    let mut stmt = conn.prepare(&format!("SELECT row_counts FROM \"{schema}\"._ingest_lineage")).expect("lineage");
    let mut recorded: BTreeMap<String, u64> = BTreeMap::new();
    for counts in stmt.query_map([], |r| r.get::<_, String>(0)).expect("lineage rows") {
        let counts: BTreeMap<String, u64> = serde_json::from_str(&counts.expect("row")).expect("row_counts JSON");
        for (table, n) in counts {
            *recorded.entry(table).or_default() += n;
        }
    }
    for table in DATA_TABLES {
        let actual: i64 =
            conn.query_row(&format!("SELECT count(*) FROM \"{schema}\".\"{table}\""), [], |r| r.get(0)).expect("count");
        assert_eq!(recorded.get(table).copied().unwrap_or(0), actual as u64, "{schema}.{table}: lineage vs rows");
    }
}

/// Forwards a child's stderr lines to a channel (the child's stderr must be piped).
pub fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits up to 60 s for a log line containing `needle`, keeping every line seen.
/// Returns the matching line.
pub fn wait_for_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return seen.last().cloned().unwrap_or_default();
            }
        }
    }
    panic!("no log line with {needle:?} within 60 s; saw:\n{}", seen.join("\n"));
}

/// The exit code of a child that must exit within `within` (killed and failed otherwise).
pub fn wait_exit(child: &mut std::process::Child, within: std::time::Duration) -> i32 {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code().expect("exited normally, not by a signal");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {within:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A minimal HTTP/1.1 client for the query API: (status, body).
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(addr, method, path, "", body)
}

/// [`http`] with extra header lines (each ending in `\r\n`).
pub fn http_with(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let (status, _, body) = http_raw(addr, method, path, headers, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// One HTTP/1.1 exchange: (status, response headers, body bytes), with a
/// chunked body decoded.
pub fn http_raw(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the query API");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("read timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut body = raw[split..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

/// Decodes a chunked transfer encoding (stops at the last complete chunk).
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16) else { break };
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// A lake folder, its network passphrase and the ledger ranges it holds.
type FixtureLake = (PathBuf, &'static str, &'static [(u32, u32)]);

/// Every distinct fixture ledger, ingested by [`ingest_all_fixture_ledgers`].
pub struct FixtureCatalog {
    pub catalog: PathBuf,
    /// The lake folders (for the Python scripts).
    pub lakes: Vec<PathBuf>,
    /// `run` invocations, one per contiguous range.
    pub runs: usize,
}

/// Ingests every distinct fixture ledger (the three derived lakes plus
/// testnet 982180, given a one-object lake with a `.config.json`) into one
/// catalog, `dir/fixtures.duckdb`, with one run per contiguous range and
/// `tweak` applied to each config. Pubnet lands in schema `mainnet`, testnet
/// in `testnet`.
pub fn ingest_all_fixture_ledgers(fixtures: &Path, dir: &Path, tweak: Tweak<'_>) -> FixtureCatalog {
    ingest_all_fixture_ledgers_into(fixtures, dir, &dir.join("fixtures.duckdb"), tweak)
}

/// [`ingest_all_fixture_ledgers`] into any `catalog` (a DuckDB file or a `ducklake:` path).
pub fn ingest_all_fixture_ledgers_into(
    fixtures: &Path,
    dir: &Path,
    catalog: &Path,
    tweak: Tweak<'_>,
) -> FixtureCatalog {
    const PUBNET_RANGES: &[(u32, u32)] =
        &[(51000294, 51000294), (53312000, 53312000), (57500008, 57500008), (60659332, 60659332), (63092982, 63093001)];
    let derived = fixtures.join("derived");
    // Testnet 982180 (protocol 25, after the 2025 reset) exists only as an
    // original object; give it a one-object lake at its SEP-54 key.
    let extra = dir.join("testnet-982180");
    let part = extra.join(format!("{:08X}--960000-1023999", u32::MAX - 960000));
    std::fs::create_dir_all(&part).expect("mkdir");
    std::fs::copy(
        fixtures.join("original/testnet/soroban-block-explorer/testdata.xdr.zst"),
        part.join(format!("{:08X}--982180.xdr.zst", u32::MAX - 982180)),
    )
    .expect("copy 982180");
    std::fs::write(
        extra.join(".config.json"),
        format!(r#"{{"networkPassphrase":"{TESTNET}","version":"1.0","compression":"zstd","ledgersPerBatch":1,"batchesPerPartition":64000}}"#),
    )
    .expect("write .config.json");
    let lakes: [FixtureLake; 4] = [
        (derived.join("datalake-pubnet-lpf1-fpp64000"), PUBNET, PUBNET_RANGES),
        (derived.join("etl-reconstructed-pubnet-lpf1-fpp64000"), PUBNET, &[(30820015, 30820015), (30822015, 30822025)]),
        (derived.join("datalake-testnet-lpf64-fpp10"), TESTNET, &[(1410048, 1410367)]),
        (extra, TESTNET, &[(982180, 982180)]),
    ];
    let catalog = catalog.to_path_buf();
    let mut runs = 0;
    for (i, (path, passphrase, ranges)) in lakes.iter().enumerate() {
        let config_dir = dir.join(format!("configs-{i}"));
        std::fs::create_dir_all(&config_dir).expect("mkdir");
        ingest_ranges(&config_dir, path, passphrase, ranges, &catalog, tweak);
        runs += ranges.len();
    }
    FixtureCatalog { catalog, lakes: lakes.into_iter().map(|(p, _, _)| p).collect(), runs }
}

/// Writes a synthetic lake with `synth --out dir/lake <args>` and ingests
/// ledgers 2..=`ledgers + 1` of it into `dir/synth.duckdb` (schema `synth`,
/// plus `tweak`). Returns (lake, catalog).
pub fn synth_and_ingest(dir: &Path, ledgers: u32, args: &[&str], tweak: Tweak<'_>) -> (PathBuf, PathBuf) {
    let lake = dir.join("lake");
    let ledger_count = ledgers.to_string();
    let mut all = vec!["synth", "--out", lake.to_str().expect("utf-8 path"), "--ledgers", &ledger_count];
    all.extend_from_slice(args);
    let run = run_ingester(&all);
    assert_eq!(run.status.code(), Some(0), "synth: {}", describe(&run));
    let catalog = dir.join("synth.duckdb");
    let in_synth = |d: &mut config::DuckLakeConfig| {
        d.schema_name = Some("synth".to_string());
        tweak(d);
    };
    ingest_ranges(dir, &lake, SYNTHNET, &[(2, ledgers + 1)], &catalog, &in_synth);
    (lake, catalog)
}

/// Ingests `ranges` of a lake into `catalog` with one config (and run) per range.
pub fn ingest_ranges(
    tmp: &Path,
    lake: &Path,
    passphrase: &str,
    ranges: &[(u32, u32)],
    catalog: &Path,
    tweak: Tweak<'_>,
) {
    for (i, &(start, end)) in ranges.iter().enumerate() {
        let config =
            write_config(tmp, &format!("range{i}.yaml"), &Lake { path: lake, passphrase, start, end }, catalog, tweak);
        let out = run_config(&config);
        assert_eq!(out.status.code(), Some(0), "ingesting {} {start}-{end}: {}", lake.display(), describe(&out));
    }
}

/// Every document of a multi-document YAML text (`kubectl`-style output), as
/// JSON values; empty documents are skipped.
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde_yaml_ng::Value::deserialize(d).expect("valid YAML document"))
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_value(v).expect("YAML maps to JSON"))
        .collect()
}

/// Validates Kubernetes objects against the 1.33 schemas with
/// `kubernetes-validate --strict` (PyPI), asserting that every one passes;
/// returns the report, or `None` with a notice when the tool is not installed.
pub fn kubernetes_validate(objects: &[&serde_json::Value], name: &str) -> Option<String> {
    if !Command::new("kubernetes-validate").arg("--version").output().is_ok_and(|o| o.status.success()) {
        crate::missing_tool(
            "kubernetes-validate is not installed (pip install kubernetes-validate); skipping schema validation",
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join(format!("{name}.yaml"));
    let text: String = objects.iter().map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).expect("YAML"))).collect();
    std::fs::write(&file, text).expect("write the objects");
    let out = Command::new("kubernetes-validate")
        .args(["-k", "1.33.0", "--strict"])
        .arg(&file)
        .output()
        .expect("spawn kubernetes-validate");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} does not validate:\n{report}");
    assert!(!report.contains("ERROR") && !report.contains("failed"), "{name}: {report}");
    assert_eq!(report.matches("passed").count(), objects.len(), "{name}: {report}");
    Some(report)
}
