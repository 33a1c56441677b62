//! `soak`: live ingestion for a long time under query load, sampled.
//!
//! Starts `serve-ledgers --synthetic --live-clock` (a network that closes
//! pubnet-size ledgers at wall-clock times), `run` against it with the query
//! API on, and `--clients` threads that query back to back with a short
//! think time: point lookups of transactions by hash and aggregates over
//! every transaction. Every `--sample-seconds` it prints one CSV line: the
//! ingester's RSS, its commit lag, the transactions committed and the query
//! latencies of the interval. At the end it stops the ingester with SIGTERM,
//! checks that the committed ledgers are contiguous, each present once, and
//! prints a summary (RSS growth over the second half, lag percentiles).
//!
//! ```sh
//! cargo build --release --workspace --bins
//! target/release/soak --minutes 60 --clients 16 --ledger-interval 5s --out /tmp/soak
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const USAGE: &str = "usage: soak [--minutes N] [--clients N] [--think-ms N] [--ledger-interval 5s] \
[--size pubnet|testnet] [--storage ducklake|duckdb] [--sample-seconds N] [--out DIR] [--ingester PATH] \
[--extension-directory DIR] [--memory-limit 512MB]";

struct Args {
    minutes: f64,
    clients: usize,
    think: Duration,
    ledger_interval: String,
    size: String,
    storage: String,
    sample: Duration,
    out: PathBuf,
    ingester: PathBuf,
    extension_directory: Option<String>,
    memory_limit: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let sibling = std::env::current_exe()?.with_file_name("ducklake-ingester");
    let mut a = Args {
        minutes: 60.0,
        clients: 16,
        think: Duration::from_millis(250),
        ledger_interval: "5s".into(),
        size: "pubnet".into(),
        storage: "ducklake".into(),
        sample: Duration::from_secs(30),
        out: std::env::temp_dir().join(format!("soak-{}", std::process::id())),
        ingester: sibling,
        extension_directory: std::env::var("DUCKLAKE_EXTENSION_DIR").ok(),
        // What the operator gives DuckDB in a container limited to 1 GiB (half of it).
        memory_limit: "512MB".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| anyhow::anyhow!("{flag} {value}: {e}");
        match flag.as_str() {
            "--minutes" => a.minutes = value.parse().map_err(|e| bad(&e))?,
            "--clients" => a.clients = value.parse().map_err(|e| bad(&e))?,
            "--think-ms" => a.think = Duration::from_millis(value.parse().map_err(|e| bad(&e))?),
            "--ledger-interval" => a.ledger_interval = value,
            "--size" => a.size = value,
            "--storage" if value == "ducklake" || value == "duckdb" => a.storage = value,
            "--sample-seconds" => a.sample = Duration::from_secs(value.parse().map_err(|e| bad(&e))?),
            "--out" => a.out = value.into(),
            "--ingester" => a.ingester = value.into(),
            "--extension-directory" => a.extension_directory = Some(value),
            "--memory-limit" => a.memory_limit = value,
            _ => bail!("unknown flag or value: {flag} {value}\n{USAGE}"),
        }
    }
    anyhow::ensure!(a.ingester.is_file(), "{} not found: build it or pass --ingester", a.ingester.display());
    Ok(a)
}

/// Kills the child when dropped, so an early error leaves no process behind.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 exchange; errors instead of panics (a soak must survive them).
fn http(addr: &str, method: &str, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").context("no HTTP header")?;
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("no HTTP status")?;
    // The API answers small JSON bodies; strip a chunked frame if present.
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body.split("\r\n").skip(1).step_by(2).collect::<Vec<_>>().join("")
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn query(addr: &str, sql: &str) -> anyhow::Result<serde_json::Value> {
    let (status, body) = http(addr, "POST", "/query", &serde_json::json!({ "sql": sql }).to_string())?;
    let v: serde_json::Value = serde_json::from_str(&body).with_context(|| format!("HTTP {status}: {body}"))?;
    anyhow::ensure!(status == 200, "HTTP {status}: {}", v["error"]);
    Ok(v)
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Latencies of one kind of query within one sampling interval.
#[derive(Default)]
struct Interval {
    point_ms: Vec<f64>,
    aggregate_ms: Vec<f64>,
    errors: u64,
    last_error: Option<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

const AGGREGATES: [&str; 3] = [
    "SELECT count(*) AS txs, sum(fee_charged) AS fees, avg(operation_count) AS ops FROM synthnet.transactions_row_v2 WHERE successful",
    "SELECT type_string, count(*) FROM synthnet.operations_row_v2 GROUP BY type_string ORDER BY 2 DESC",
    "SELECT ledger_sequence // 100 AS bucket, count(*) AS txs, count_if(NOT successful) AS failed FROM synthnet.transactions_row_v2 GROUP BY 1 ORDER BY 1 DESC LIMIT 10",
];

/// One query client: alternates a point lookup by a sampled hash and an aggregate.
fn client(
    addr: String,
    hashes: Arc<Mutex<Vec<String>>>,
    stats: Arc<Mutex<Interval>>,
    stop: Arc<AtomicBool>,
    think: Duration,
    id: usize,
) {
    let mut n = id;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let hash = {
            let h = hashes.lock().unwrap_or_else(|p| p.into_inner());
            (!h.is_empty()).then(|| h[(n * 7919) % h.len()].clone())
        };
        let (point, sql) = match hash {
            Some(h) if n.is_multiple_of(2) => {
                (true, format!("SELECT * FROM synthnet.transactions_row_v2 WHERE transaction_hash = '{h}'"))
            }
            _ => (false, AGGREGATES[n % AGGREGATES.len()].to_string()),
        };
        let t = Instant::now();
        let result = query(&addr, &sql).and_then(|v| {
            if point {
                anyhow::ensure!(v["rows"].as_array().is_some_and(|r| r.len() == 1), "hash {sql}: not exactly one row");
            }
            Ok(())
        });
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        {
            let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(()) if point => s.point_ms.push(ms),
                Ok(()) => s.aggregate_ms.push(ms),
                Err(e) => {
                    s.errors += 1;
                    s.last_error = Some(format!("{e:#}"));
                }
            }
        }
        std::thread::sleep(think);
    }
}

fn main() {
    if let Err(e) = soak() {
        eprintln!("soak: error: {e:#}");
        std::process::exit(1);
    }
}

fn soak() -> anyhow::Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)?;
    let out = args.out.canonicalize()?;

    // The network.
    let mut server = Guard(
        Command::new(&args.ingester)
            .args(["serve-ledgers", "--synthetic", "--live-clock", "--listen", "127.0.0.1:0"])
            .args(["--size", &args.size, "--ledger-interval", &args.ledger_interval])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(out.join("serve-ledgers.log"))?)
            .spawn()
            .context("starting serve-ledgers")?,
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().context("stdout")?).read_line(&mut line)?;
    let grpc = line.trim().strip_prefix("listening on ").with_context(|| format!("serve-ledgers said {line:?}"))?;

    // The ingester.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let api = format!("127.0.0.1:{port}");
    let config = write_config(&out, grpc, port, &args)?;
    let log = out.join("ingester.log");
    let ingester = Guard(
        Command::new(&args.ingester)
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting the ingester")?,
    );
    let pid = ingester.0.id();
    wait_healthy(&api, &log)?;
    eprintln!(
        "soak: {} min, {} clients (think {:?}), {} ledgers every {}, storage {}, DuckDB memory_limit {}; files in {}",
        args.minutes,
        args.clients,
        args.think,
        args.size,
        args.ledger_interval,
        args.storage,
        args.memory_limit,
        out.display()
    );

    let hashes = Arc::new(Mutex::new(Vec::<String>::new()));
    let stats = Arc::new(Mutex::new(Interval::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..args.clients)
        .map(|i| {
            let (addr, h, s, st, think) = (api.clone(), hashes.clone(), stats.clone(), stop.clone(), args.think);
            std::thread::spawn(move || client(addr, h, s, st, think, i))
        })
        .collect();

    let mut csv = std::fs::File::create(out.join("soak.csv"))?;
    let header = "elapsed_s,rss_mib,duckdb_mib,last_ledger,lag_s,transactions,point_n,point_p50_ms,point_p99_ms,agg_n,agg_p50_ms,agg_p99_ms,errors";
    writeln!(csv, "{header}")?;
    println!("{header}");
    let started = Instant::now();
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples: Vec<(f64, f64, i64)> = Vec::new();
    let (mut all_point, mut all_agg, mut all_errors) = (Vec::new(), Vec::new(), 0u64);
    while started.elapsed() < total {
        std::thread::sleep(args.sample.min(total.saturating_sub(started.elapsed())).max(Duration::from_millis(10)));
        // Fresh hashes from recent ledgers for the point lookups.
        if let Ok(v) = query(&api, "SELECT transaction_hash FROM synthnet.transactions_row_v2 USING SAMPLE 200 ROWS")
            && let Some(rows) = v["rows"].as_array()
        {
            let fresh: Vec<String> = rows.iter().filter_map(|r| r[0].as_str().map(str::to_string)).collect();
            if !fresh.is_empty() {
                *hashes.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
            }
        }
        let status: serde_json::Value =
            http(&api, "GET", "/status", "").ok().and_then(|(_, b)| serde_json::from_str(&b).ok()).unwrap_or_default();
        let src = &status["sources"][0];
        let last = src["last_committed_ledger"].as_i64().unwrap_or(0);
        let lag = src["lag_seconds"].as_i64().unwrap_or(-1);
        let txs = query(&api, "SELECT count(*) FROM synthnet.transactions_row_v2")
            .ok()
            .and_then(|v| v["rows"][0][0].as_i64())
            .unwrap_or(-1);
        // What DuckDB itself accounts for (its buffer pool), to tell it from the rest of RSS.
        let duckdb_mib = query(&api, "SELECT sum(memory_usage_bytes) / 1048576.0 FROM duckdb_memory()")
            .ok()
            .and_then(|v| v["rows"][0][0].as_f64())
            .unwrap_or(-1.0);
        let rss = rss_mib(pid).context("the ingester is gone")?;
        let interval = std::mem::take(&mut *stats.lock().unwrap_or_else(|p| p.into_inner()));
        let (p, a) = (sorted(interval.point_ms), sorted(interval.aggregate_ms));
        let t = started.elapsed().as_secs_f64();
        let row = format!(
            "{t:.0},{rss:.1},{duckdb_mib:.1},{last},{lag},{txs},{},{:.1},{:.1},{},{:.1},{:.1},{}",
            p.len(),
            percentile(&p, 0.5),
            percentile(&p, 0.99),
            a.len(),
            percentile(&a, 0.5),
            percentile(&a, 0.99),
            interval.errors
        );
        writeln!(csv, "{row}")?;
        println!("{row}");
        if let Some(e) = interval.last_error {
            eprintln!("soak: {} query errors in the interval, last: {e}", interval.errors);
        }
        samples.push((t, rss, lag));
        all_point.extend(p);
        all_agg.extend(a);
        all_errors += interval.errors;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }

    // Stop the ingester as Kubernetes would and check what it committed.
    let mut ingester = ingester;
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(120);
    let code = loop {
        if let Some(s) = ingester.0.try_wait()? {
            break s.code();
        }
        anyhow::ensure!(Instant::now() < deadline, "the ingester did not exit within 120 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    anyhow::ensure!(code == Some(0), "the ingester exited with {code:?} after SIGTERM (log: {})", log.display());
    let integrity = check_catalog(&out, &args)?;

    summarize(&samples, &sorted(all_point), &sorted(all_agg), all_errors, &integrity);
    Ok(())
}

fn write_config(out: &Path, grpc: &str, port: u16, args: &Args) -> anyhow::Result<PathBuf> {
    use ducklake_tests::config::{ListenAddr, config, grpc_source, write};

    let catalog = match args.storage.as_str() {
        "duckdb" => out.join("soak.duckdb"),
        _ => PathBuf::from(format!("ducklake:duckdb:{}", out.join("soak.ducklake").display())),
    };
    let mut cfg = config(vec![grpc_source(grpc, ducklake_tests::SYNTHNET, 2, 0)], &catalog);
    // The soak sees reconnects as a live client would: the default backoffs.
    cfg.sources[0].grpc = Some(serde_json::from_value(serde_json::json!({ "endpoint": grpc }))?);
    let d = &mut cfg.ducklake;
    if args.storage != "duckdb" {
        d.data_path = Some(format!("{}/", out.join("lake").display()));
        d.extension_directory.clone_from(&args.extension_directory);
    }
    d.memory_limit = Some(args.memory_limit.clone());
    // Batching stays at the configuration's defaults: the soak measures what a user gets.
    cfg.query_api.port = ListenAddr::Address(format!("127.0.0.1:{port}"));
    Ok(write(out, "soak.yaml", &cfg))
}

fn wait_healthy(api: &str, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http(api, "GET", "/health", "") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the query API did not answer /health within 120 s; see {}", log.display())
}

/// What the catalog holds after the soak: contiguous ledgers, each once.
struct Integrity {
    ledgers: i64,
    first: i64,
    last: i64,
    transactions: i64,
}

fn check_catalog(out: &Path, args: &Args) -> anyhow::Result<Integrity> {
    let conn = duckdb::Connection::open_in_memory()?;
    let attach = match args.storage.as_str() {
        "duckdb" => format!("ATTACH '{}' AS c (READ_ONLY)", out.join("soak.duckdb").display()),
        _ => {
            if let Some(d) = &args.extension_directory {
                conn.execute_batch(&format!("SET extension_directory = '{d}'"))?;
            }
            conn.execute_batch("LOAD ducklake;")?;
            format!("ATTACH 'ducklake:duckdb:{}' AS c (READ_ONLY)", out.join("soak.ducklake").display())
        }
    };
    conn.execute_batch(&attach)?;
    let (ledgers, distinct, first, last): (i64, i64, i64, i64) = conn.query_row(
        "SELECT count(*), count(DISTINCT sequence), min(sequence), max(sequence) FROM c.synthnet.ledgers_row_v2",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    anyhow::ensure!(ledgers == distinct, "{ledgers} ledger rows but {distinct} distinct sequences: duplicates");
    anyhow::ensure!(last - first + 1 == ledgers, "ledgers {first}-{last} but {ledgers} rows: a gap");
    let lineage: i64 = conn.query_row("SELECT sum(ledger_count) FROM c.synthnet._ingest_lineage", [], |r| r.get(0))?;
    anyhow::ensure!(lineage == ledgers, "lineage counts {lineage} ledgers, the table {ledgers}");
    let (transactions, tx_distinct): (i64, i64) = conn.query_row(
        "SELECT count(*), count(DISTINCT transaction_hash) FROM c.synthnet.transactions_row_v2",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    anyhow::ensure!(transactions == tx_distinct, "{transactions} transactions but {tx_distinct} distinct hashes");
    Ok(Integrity { ledgers, first, last, transactions })
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let num: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let den: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if den == 0.0 { 0.0 } else { num / den }
}

fn summarize(samples: &[(f64, f64, i64)], point: &[f64], agg: &[f64], errors: u64, c: &Integrity) {
    let half = &samples[samples.len() / 2..];
    let rss: Vec<(f64, f64)> = half.iter().map(|s| (s.0 / 3600.0, s.1)).collect();
    let max_rss = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let lags = sorted(samples.iter().filter(|s| s.2 >= 0).map(|s| s.2 as f64).collect());
    println!();
    println!("summary");
    println!(
        "  committed: ledgers {}-{} ({} ledgers, {} transactions), each once, contiguous, lineage agrees",
        c.first, c.last, c.ledgers, c.transactions
    );
    if let (Some(first), Some(last)) = (half.first(), half.last()) {
        println!(
            "  RSS: max {max_rss:.0} MiB; second half {:.0} -> {:.0} MiB, trend {:+.1} MiB/hour",
            first.1,
            last.1,
            slope(&rss)
        );
    }
    println!(
        "  commit lag: p50 {:.0} s, p99 {:.0} s, max {:.0} s (of {} samples)",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN),
        lags.len()
    );
    println!(
        "  point lookups by hash: {} answered, p50 {:.1} ms, p99 {:.1} ms",
        point.len(),
        percentile(point, 0.5),
        percentile(point, 0.99)
    );
    println!(
        "  aggregates over all transactions: {} answered, p50 {:.1} ms, p99 {:.1} ms",
        agg.len(),
        percentile(agg, 0.5),
        percentile(agg, 0.99)
    );
    println!("  query errors: {errors}");
}
