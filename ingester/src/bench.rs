//! `ducklake-ingester bench`: throughput and memory on a local data lake.
//!
//! Three figures, each the best of `--repeat` rounds:
//! * decode only: zstd + XDR decode of every ledger, on all workers;
//! * decode + extract: the above plus row extraction and Arrow encoding;
//! * end to end: the real pipeline (source, decode, extract, batch, commit)
//!   into a fresh DuckDB catalog in a temporary directory.
//!
//! Peak RSS is read from `/proc/self/status` (VmHWM) and reset between
//! phases through `/proc/self/clear_refs`, so each phase reports its own peak.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ducklake_crds::config::{DatastoreConfig, DatastoreType, LakeMetadata, MAINNET_PASSPHRASE, Storage};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::decode;
use crate::extract::{ExtractContext, StageTimes, extract_ledger_timed};
use crate::pipeline::{Pipeline, PipelineSettings, decode_and_extract};
use crate::progress::SourceProgress;
use crate::source::datastore::DatastoreSource;
use crate::source::{LedgerSource, Range, SourceObject};
use crate::store::duckdb::{ident, literal};
use crate::store::{Database, LakeSettings, StoreSettings};

/// The lake and ledger range a benchmark reads (shared by `bench` and `bench-query`).
#[derive(Debug, clap::Args)]
pub struct LakeArgs {
    /// Data lake directory (SEP-54 layout, with or without .config.json;
    /// for example one written by `synth --size pubnet`).
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// First ledger.
    #[arg(long)]
    pub start: u32,
    /// Last ledger (inclusive).
    #[arg(long)]
    pub end: u32,
    /// Network passphrase of the lake.
    #[arg(long, default_value = MAINNET_PASSPHRASE)]
    pub network_passphrase: String,
    /// Decode/extract threads (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
}

impl LakeArgs {
    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    pub fn range(&self) -> Range {
        Range { from: self.start, to: Some(self.end) }
    }

    pub fn ledgers(&self) -> u64 {
        u64::from(self.end.saturating_sub(self.start)) + 1
    }

    /// Opens the lake as a source that fails fast (no retries, short polls).
    pub async fn open(&self) -> anyhow::Result<Arc<dyn LedgerSource>> {
        anyhow::ensure!(self.end >= self.start, "--end must not be below --start");
        let cfg = DatastoreConfig {
            store_type: DatastoreType::Fs,
            path: self.lake.display().to_string(),
            retry_limit: 0,
            retry_wait_ms: 10,
            poll_interval_ms: 100,
            ..DatastoreConfig::default()
        };
        Ok(Arc::new(DatastoreSource::open(&cfg, &self.network_passphrase, "--lake").await.map_err(anyhow::Error::msg)?))
    }
}

/// Where a benchmark round writes its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageKind {
    /// One DuckDB database file.
    Duckdb,
    /// A DuckLake with its metadata in a DuckDB file and its data as Parquet files.
    Ducklake,
    /// A DuckLake with its metadata in PostgreSQL (`--postgres`) and its data as Parquet files.
    DucklakePostgres,
}

/// The storage a benchmark writes (shared by `bench` and `bench-query`).
/// Every round writes a fresh catalog: files in a temporary directory and,
/// on PostgreSQL, its own metadata schema, dropped after the round.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Storage to measure.
    #[arg(long, value_enum, default_value_t = StorageKind::Duckdb)]
    pub storage: StorageKind,
    /// libpq connection string of the PostgreSQL database holding the DuckLake
    /// metadata (required by `--storage ducklake-postgres`), e.g.
    /// "host=127.0.0.1 port=5432 user=postgres dbname=bench". Give a password in PGPASSWORD.
    #[arg(long, value_name = "CONNINFO", required_if_eq("storage", "ducklake-postgres"))]
    pub postgres: Option<String>,
    /// DuckLake: inserts of at most this many rows per table stay in the catalog
    /// instead of a new Parquet file (0 disables inlining).
    #[arg(long, default_value_t = 1000)]
    pub data_inlining_row_limit: u64,
    /// DuckDB extension directory (ducklake, parquet, postgres_scanner; json when present);
    /// default: ~/.duckdb/extensions.
    #[arg(long, value_name = "DIR", env = "DUCKLAKE_EXTENSION_DIR")]
    pub extension_directory: Option<String>,
}

impl StorageArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.postgres.is_none() || self.storage == StorageKind::DucklakePostgres,
            "--postgres is only used with --storage ducklake-postgres"
        );
        Ok(())
    }

    /// One line naming the storage, for the report (a password is masked).
    pub fn describe(&self) -> String {
        let inlining = match self.data_inlining_row_limit {
            0 => "no inlining".to_string(),
            n => format!("inserts of <= {n} rows inlined in the catalog"),
        };
        match self.storage {
            StorageKind::Duckdb => "DuckDB file in a temporary directory".into(),
            StorageKind::Ducklake => {
                format!("DuckLake, metadata in a DuckDB file, Parquet data in a temporary directory ({inlining})")
            }
            StorageKind::DucklakePostgres => format!(
                "DuckLake, metadata in PostgreSQL ({}; schema bench_{}_<round>), Parquet data in a temporary directory ({inlining})",
                mask_password(self.postgres.as_deref().unwrap_or_default()),
                std::process::id()
            ),
        }
    }

    /// Short name for phase labels.
    pub fn short_name(&self) -> &'static str {
        match self.storage {
            StorageKind::Duckdb => "DuckDB",
            StorageKind::Ducklake => "DuckLake (DuckDB catalog)",
            StorageKind::DucklakePostgres => "DuckLake (PostgreSQL catalog)",
        }
    }
}

fn mask_password(conninfo: &str) -> String {
    conninfo
        .split(' ')
        .map(|kv| if kv.starts_with("password=") { "password=***" } else { kv })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rounds of this process so far: each PostgreSQL round gets its own metadata schema.
static ROUND: AtomicU32 = AtomicU32::new(0);

/// A fresh catalog in `dir` for one benchmark round: a DuckDB file; or a
/// DuckLake whose metadata file (or, on PostgreSQL, a new metadata schema
/// `bench_<pid>_<round>`) and Parquet data directory are in `dir`.
pub fn temp_store_settings(
    dir: &std::path::Path,
    checkpoint_after_batch: bool,
    storage: &StorageArgs,
) -> StoreSettings {
    let data_path = dir.join("bench.files").display().to_string();
    let (storage_kind, metadata_schema) = match storage.storage {
        StorageKind::Duckdb => (Storage::DuckDb { path: dir.join("bench.duckdb").display().to_string() }, None),
        StorageKind::Ducklake => (
            Storage::DuckLake {
                metadata: LakeMetadata::DuckDb { path: dir.join("bench.ducklake").display().to_string() },
                data_path,
            },
            None,
        ),
        StorageKind::DucklakePostgres => (
            Storage::DuckLake {
                metadata: LakeMetadata::Postgres { conninfo: storage.postgres.clone().unwrap_or_default() },
                data_path,
            },
            Some(format!("bench_{}_{}", std::process::id(), ROUND.fetch_add(1, Ordering::Relaxed))),
        ),
    };
    StoreSettings {
        storage: storage_kind,
        checkpoint_after_batch,
        extension_directory: storage.extension_directory.clone(),
        lake: LakeSettings { metadata_schema, data_inlining_row_limit: storage.data_inlining_row_limit, s3: None },
        ..StoreSettings::duckdb_file("", "bench")
    }
}

/// Drops what a round left outside its temporary directory: the PostgreSQL
/// metadata schema (through the metadata database DuckLake attaches).
pub fn drop_round_catalog(settings: &StoreSettings) -> anyhow::Result<()> {
    let (Storage::DuckLake { metadata: LakeMetadata::Postgres { .. }, .. }, Some(schema)) =
        (&settings.storage, &settings.lake.metadata_schema)
    else {
        return Ok(());
    };
    let db = Database::open(settings)?;
    let metadata_db = format!("__ducklake_metadata_{}", settings.catalog_name);
    let drop = format!("DROP SCHEMA {} CASCADE", ident(schema));
    db.connection()?
        .execute_batch(&format!("CALL postgres_execute({}, {});", literal(&metadata_db), literal(&drop)))
        .map_err(|e| anyhow::anyhow!("dropping the round's metadata schema {schema}: {e}"))?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Rounds per phase; the best round is reported.
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    /// Ledgers per commit in the end-to-end phase.
    #[arg(long, default_value_t = 200)]
    pub batch_size: usize,
}

pub async fn run(args: BenchArgs) -> i32 {
    match bench(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn fmt_rss() -> String {
    peak_rss_mib().map_or("n/a".into(), |m| format!("{m:.0} MiB"))
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    args.storage.validate()?;
    let workers = args.lake.workers();
    let repeat = args.repeat.max(1);
    let range = args.lake.range();
    let ledgers = args.lake.ledgers();
    let source = args.lake.open().await?;
    let objects: Vec<SourceObject> =
        source.stream(range).collect::<Vec<_>>().await.into_iter().collect::<Result<_, _>>()?;
    let compressed: usize = objects.iter().map(|o| o.data.len()).sum();
    let pool = Arc::new(decode::decode_pool(workers)?);
    let ctx = Arc::new(ExtractContext::new(&args.lake.network_passphrase));
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!("ducklake-ingester bench {}", env!("CARGO_PKG_VERSION"));
    println!("lake:    {}", source.describe());
    println!(
        "ledgers: {}-{} ({ledgers} ledgers, {} objects, {:.1} MB compressed)",
        args.lake.start,
        args.lake.end,
        objects.len(),
        compressed as f64 / 1e6
    );
    println!("machine: {workers} workers, {cpu}");
    println!("storage: {} (end-to-end phases)", args.storage.describe());
    println!();

    // Phase 1: decode only.
    reset_peak_rss();
    let objects = Arc::new(objects);
    let decode_only = best_of(repeat, || {
        let objects = objects.clone();
        let pool = pool.clone();
        async move {
            let t = Instant::now();
            let n = pool.install(|| {
                use rayon::prelude::*;
                objects
                    .par_iter()
                    .map(|o| decode::decode_object(&o.what, o.framing, &o.data, 1 << 30).map(|l| l.len()))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            anyhow::ensure!(n.iter().sum::<usize>() as u64 >= ledgers, "decoded fewer ledgers than requested");
            Ok(t.elapsed())
        }
    })
    .await?;
    report("decode only (zstd + XDR)", ledgers, decode_only);
    println!("    peak RSS {}", fmt_rss());

    // Phase 2: decode + extract + Arrow encoding.
    reset_peak_rss();
    let extract = best_of(repeat, || {
        let (objects, pool, ctx) = (objects.clone(), pool.clone(), ctx.clone());
        async move {
            let t = Instant::now();
            let rows = pool.install(|| {
                use rayon::prelude::*;
                objects
                    .par_iter()
                    .map(|o| decode_and_extract(o, &ctx, range, 1 << 30).map(|l| l.len()))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            anyhow::ensure!(rows.iter().sum::<usize>() as u64 == ledgers, "extracted a different number of ledgers");
            Ok(t.elapsed())
        }
    })
    .await?;
    report("decode + extract (all tables, Arrow)", ledgers, extract);
    println!("    peak RSS {}", fmt_rss());
    profile_tables(&objects, &ctx, range)?;
    drop(objects);

    // Phase 3: end to end into a fresh catalog each round.
    let e2e_settings = E2e {
        range,
        batch_size: args.batch_size,
        workers,
        passphrase: args.lake.network_passphrase.clone(),
        storage: args.storage.clone(),
    };
    let store_name = args.storage.short_name();
    reset_peak_rss();
    let e2e = best_of(repeat, || e2e_round(source.clone(), pool.clone(), ctx.clone(), e2e_settings.clone())).await?;
    report(&format!("end to end (source -> {store_name} commit, incl. open + CHECKPOINT)"), ledgers, e2e);
    println!("    peak RSS {}", fmt_rss());

    // Phase 4: the same through gRPC: a loopback serve-ledgers over the lake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let feed = Arc::new(crate::serve::SourceFeed { source: source.clone(), max_object_bytes: 1 << 30 });
    let server = crate::serve::LedgerServer::new(
        feed,
        crate::serve::ServeOptions { max_message_size: 128 << 20, ..Default::default() },
    );
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let serving = tokio::spawn(server.serve(listener, async move { stopped.cancelled().await }));
    let grpc: Arc<dyn LedgerSource> = Arc::new(
        crate::source::grpc::GrpcSource::new(
            &ducklake_crds::config::GrpcConfig::for_endpoint(&addr.to_string()),
            "bench",
        )
        .map_err(anyhow::Error::msg)?,
    );
    reset_peak_rss();
    let e2e_grpc = best_of(repeat, || e2e_round(grpc.clone(), pool.clone(), ctx.clone(), e2e_settings.clone())).await?;
    report(&format!("end to end over gRPC (loopback serve-ledgers -> {store_name} commit)"), ledgers, e2e_grpc);
    println!("    peak RSS {} (server and client in one process)", fmt_rss());
    stop.cancel();
    let _ = serving.await;
    Ok(())
}

/// Single-threaded cost of each extraction stage and of each table's Arrow
/// encoding, summed over the ledgers (decoding is not counted).
fn profile_tables(objects: &[SourceObject], ctx: &ExtractContext, range: Range) -> anyhow::Result<()> {
    let mut extract = StageTimes::default();
    let mut arrow = StageTimes::default();
    let mut rows: Vec<(&'static str, usize)> = Vec::new();
    let mut n = 0u64;
    for o in objects {
        for lcm in decode::decode_object(&o.what, o.framing, &o.data, 1 << 30)? {
            if !range.contains(decode::ledger_seq(&lcm)) {
                continue;
            }
            let ledger = extract_ledger_timed(&lcm, ctx, &mut extract)?;
            ledger.tables.to_batches_timed(&mut arrow);
            for (table, count) in ledger.tables.row_counts() {
                match rows.iter_mut().find(|(t, _)| *t == table) {
                    Some((_, c)) => *c += count,
                    None => rows.push((table, count)),
                }
            }
            n += 1;
        }
    }
    let n = n.max(1) as f64;
    let total: f64 = extract.0.iter().chain(arrow.0.iter()).map(|(_, d)| d.as_secs_f64()).sum();
    println!("  extraction cost per stage and table (one thread, {n} ledgers; decoding excluded):");
    println!("    {:<56} {:>10} {:>7} {:>10}", "stage", "us/ledger", "share", "rows");
    let line = |label: &str, d: Duration, rows: Option<usize>| {
        let rows = rows.map_or(String::new(), |r| r.to_string());
        println!(
            "    {label:<56} {:>10.1} {:>6.1}% {rows:>10}",
            d.as_secs_f64() * 1e6 / n,
            100.0 * d.as_secs_f64() / total.max(f64::MIN_POSITIVE)
        );
    };
    let rows_of = |t: &str| rows.iter().find(|(name, _)| *name == t).map(|(_, c)| *c);
    for (stage, d) in &extract.0 {
        line(&format!("extract {stage}"), *d, rows_of(stage));
    }
    for (table, d) in &arrow.0 {
        line(&format!("arrow   {table}"), *d, rows_of(table));
    }
    println!("    {:<56} {:>10.1}", "total", total * 1e6 / n);
    Ok(())
}

#[derive(Clone)]
struct E2e {
    range: Range,
    batch_size: usize,
    workers: usize,
    passphrase: String,
    storage: StorageArgs,
}

/// One end-to-end run into a fresh temporary catalog; returns its duration
/// (opening the catalog and the final CHECKPOINT included; for a DuckLake the
/// CHECKPOINT flushes the metadata file's WAL, a no-op on PostgreSQL).
async fn e2e_round(
    source: Arc<dyn LedgerSource>,
    pool: Arc<rayon::ThreadPool>,
    ctx: Arc<ExtractContext>,
    e: E2e,
) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    let settings = temp_store_settings(dir.path(), true, &e.storage);
    let t = Instant::now();
    let db = Database::open(&settings)?;
    let store = db.store("mainnet", &e.passphrase, "bench")?;
    let pipeline = Pipeline {
        name: "bench".into(),
        source,
        range: e.range,
        store,
        ctx,
        settings: PipelineSettings {
            batch_size: e.batch_size,
            commit_interval: Duration::from_secs(3600),
            max_in_flight: e.workers * 2,
            max_object_bytes: 1 << 30,
        },
        pool,
        progress: Arc::new(SourceProgress::new("bench", "mainnet")),
    };
    pipeline.run(CancellationToken::new()).await?;
    if settings.storage.is_ducklake() {
        db.checkpoint()?;
    }
    let took = t.elapsed();
    drop(db);
    drop_round_catalog(&settings)?;
    Ok(took)
}

fn report(label: &str, ledgers: u64, d: Duration) {
    let secs = d.as_secs_f64();
    println!(
        "{label}: {:.1} ledgers/s ({ledgers} ledgers in {:.3} s, {:.2} ms/ledger)",
        ledgers as f64 / secs,
        secs,
        secs * 1000.0 / ledgers as f64
    );
}

async fn best_of<F, Fut>(rounds: u32, mut f: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Duration>>,
{
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        best = best.min(f().await?);
    }
    Ok(best)
}
