//! `ducklake-ingester bench`: throughput and memory on a local data lake.
//!
//! One run measures, on the same ledgers:
//! * decode only, extract only, Parquet-encode only (arrow-rs, no catalog),
//!   append only (our commit) and DuckDB's own Arrow scan insert of the same
//!   batches into a fresh catalog: one pass over the range in batches of
//!   `--batch-size`, each step timed on its own with its own peak RSS
//!   (decode, extraction and Parquet on all workers, the inserts by one
//!   committer), so each is a ceiling or a reference for the pipeline;
//! * end to end: the real pipeline (source, decode, extract, batch, commit)
//!   into a fresh catalog, printed as a fraction of each ceiling;
//! * optionally peak RSS per batch size, and end to end over loopback gRPC.
//!
//! Peak RSS is read from `/proc/self/status` (VmHWM) and reset between
//! phases through `/proc/self/clear_refs`, so each phase reports its own peak.

use crate::model::{Range, StageTimes};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use ducklake_config::{DatastoreConfig, DatastoreType, LakeMetadata, MAINNET_PASSPHRASE, Storage};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::decode;
use crate::extract::{ExtractContext, extract_ledger_timed};
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::progress::SourceProgress;
use crate::source::datastore::DatastoreSource;
use crate::source::{LedgerSource, SourceObject};
use crate::sql::{ident, literal};
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
    /// Most ledgers per commit, in every phase after extraction (the
    /// configuration's `batch_size`; default: its default).
    #[arg(long, default_value_t = ducklake_config::DuckLakeConfig::default().batch_size as usize)]
    pub batch_size: usize,
    /// Most rows per commit as MiB of Arrow memory (the configuration's
    /// `batch_max_mib`; default: its default).
    #[arg(long, default_value_t = ducklake_config::DuckLakeConfig::default().batch_max_mib as usize)]
    pub batch_max_mib: usize,
    /// Also measure peak RSS and speed of one end-to-end round per batch
    /// size given here (comma-separated, e.g. 1,16,64,256).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub memory_batch_sizes: Vec<usize>,
    /// Run only the --memory-batch-sizes rounds. The peak RSS a process
    /// reports never falls below what its allocator kept from earlier rounds,
    /// so a clean figure per size takes one process per size.
    #[arg(long, requires = "memory_batch_sizes")]
    pub memory_only: bool,
    /// Skip the single-threaded cost profile of each extraction stage (on the first batch).
    #[arg(long)]
    pub no_profile: bool,
    /// Also measure end to end through a loopback gRPC `serve-ledgers`.
    #[arg(long)]
    pub with_grpc: bool,
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
    println!("ledgers: {}-{} ({ledgers} ledgers)", args.lake.start, args.lake.end);
    println!("machine: {workers} workers, {cpu}");
    println!("storage: {} (append-only and end-to-end phases)", args.storage.describe());
    println!();
    let profile_first_batch = !args.no_profile;
    let e2e_settings = E2e {
        range,
        batch_size: args.batch_size,
        batch_max_bytes: args.batch_max_mib << 20,
        workers,
        passphrase: args.lake.network_passphrase.clone(),
        storage: args.storage.clone(),
    };
    if args.memory_only {
        return memory_per_batch_size(&args.memory_batch_sizes, ledgers, &source, &pool, &ctx, &e2e_settings).await;
    }

    // Phases 1-3 in one pass over the range, batch by batch, on the same
    // data: each batch is decoded (timed), its ledgers extracted (timed) and
    // the rows appended into a fresh catalog (timed). Each phase's time is
    // the sum over batches, so each is a ceiling for the pipeline.
    reset_peak_rss();
    let mut best: Option<Phases> = None;
    for _ in 0..repeat {
        let p = phases_round(&source, &pool, &ctx, &args, profile_first_batch && best.is_none()).await?;
        anyhow::ensure!(p.ledgers == ledgers, "the phases saw {} ledgers, expected {ledgers}", p.ledgers);
        best = Some(match best {
            None => p,
            Some(b) => b.best(p),
        });
    }
    let phases = best.context("no round ran")?;
    let store_name = args.storage.short_name();
    report("decode only (zstd + XDR, all workers)", ledgers, phases.decode);
    report("extract only (rows of 19 tables + Arrow, all workers)", ledgers, phases.extract);
    report(
        &format!(
            "parquet-encode only (arrow-rs, Snappy, one file per table per batch, no catalog; {:.1} MB)",
            phases.parquet_bytes as f64 / 1e6
        ),
        ledgers,
        phases.parquet,
    );
    report(
        &format!(
            "append only (our commit into {store_name}, {} commits of <= {} ledgers or {} MiB)",
            phases.batches, args.batch_size, args.batch_max_mib
        ),
        ledgers,
        phases.append,
    );
    report(
        &format!(
            "DuckDB Arrow scan insert (duckdb_arrow_scan + INSERT ... SELECT into a fresh {store_name}{})",
            if args.storage.storage == StorageKind::Duckdb { "" } else { ", inlining off" }
        ),
        ledgers,
        phases.arrow_scan,
    );
    println!("    ({} rows in all tables)", phases.rows);

    // End to end into a fresh catalog each round.
    reset_peak_rss();
    let mut e2e = Duration::MAX;
    let mut open = Duration::ZERO;
    for _ in 0..repeat {
        let (took, opened) = e2e_round(source.clone(), pool.clone(), ctx.clone(), e2e_settings.clone()).await?;
        if took < e2e {
            (e2e, open) = (took, opened);
        }
    }
    report_line(&format!("end to end (source -> {store_name} commit, incl. the final CHECKPOINT)"), ledgers, e2e);
    println!("    opening the fresh catalog first (once per process, not included): {:.3} s", open.as_secs_f64());
    println!("    peak RSS {}", fmt_rss());
    summarize(ledgers, &phases, e2e);

    if !args.memory_batch_sizes.is_empty() {
        println!();
        memory_per_batch_size(&args.memory_batch_sizes, ledgers, &source, &pool, &ctx, &e2e_settings).await?;
    }
    if !args.with_grpc {
        return Ok(());
    }

    // Phase 4: the same through gRPC: a loopback serve-ledgers over the lake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let feed = Arc::new(crate::ledger_server::SourceFeed { source: source.clone(), max_object_bytes: 1 << 30 });
    let server = crate::ledger_server::LedgerServer::new(
        feed,
        crate::ledger_server::ServeOptions { max_message_size: 128 << 20, ..Default::default() },
    );
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let serving = tokio::spawn(server.serve(listener, async move { stopped.cancelled().await }));
    let grpc: Arc<dyn LedgerSource> = Arc::new(
        crate::source::grpc::GrpcSource::new(&ducklake_config::GrpcConfig::for_endpoint(&addr.to_string()), "bench")
            .map_err(anyhow::Error::msg)?,
    );
    reset_peak_rss();
    let e2e_grpc = best_of(repeat, || async {
        Ok(e2e_round(grpc.clone(), pool.clone(), ctx.clone(), e2e_settings.clone()).await?.0)
    })
    .await?;
    report_line(&format!("end to end over gRPC (loopback serve-ledgers -> {store_name} commit)"), ledgers, e2e_grpc);
    println!("    peak RSS {} (server and client in one process)", fmt_rss());
    stop.cancel();
    let _ = serving.await;
    Ok(())
}

/// One end-to-end round per batch size, printing its peak RSS and speed.
async fn memory_per_batch_size(
    sizes: &[usize],
    ledgers: u64,
    source: &Arc<dyn LedgerSource>,
    pool: &Arc<rayon::ThreadPool>,
    ctx: &Arc<ExtractContext>,
    e2e: &E2e,
) -> anyhow::Result<()> {
    println!("memory per batch size (one end-to-end round each):");
    for &size in sizes {
        reset_peak_rss();
        let settings = E2e { batch_size: size.max(1), batch_max_bytes: usize::MAX, ..e2e.clone() };
        let (d, _) = e2e_round(source.clone(), pool.clone(), ctx.clone(), settings).await?;
        println!(
            "  batch_size {size:>5}: peak RSS {:>9}, {:.1} ledgers/s",
            fmt_rss(),
            ledgers as f64 / d.as_secs_f64()
        );
    }
    Ok(())
}

/// One phase of the pass: its time summed over batches and the highest
/// resident memory seen while it ran (the batch's data held included).
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    time: Duration,
    peak_rss_mib: f64,
}

impl Phase {
    /// Runs `step`, adding its time and raising the peak with its own.
    fn measure<T>(&mut self, step: impl FnOnce() -> T) -> T {
        reset_peak_rss();
        let t = Instant::now();
        let out = step();
        self.time += t.elapsed();
        self.peak_rss_mib = self.peak_rss_mib.max(peak_rss_mib().unwrap_or(0.0));
        out
    }

    /// The better of two rounds: the shorter time, and the lower peak.
    fn best(self, other: Phase) -> Phase {
        Phase { time: self.time.min(other.time), peak_rss_mib: self.peak_rss_mib.min(other.peak_rss_mib) }
    }
}

/// Each phase of one pass, summed over batches.
struct Phases {
    decode: Phase,
    extract: Phase,
    parquet: Phase,
    append: Phase,
    arrow_scan: Phase,
    ledgers: u64,
    batches: u64,
    rows: u64,
    parquet_bytes: u64,
}

impl Phases {
    fn best(self, o: Phases) -> Phases {
        Phases {
            decode: self.decode.best(o.decode),
            extract: self.extract.best(o.extract),
            parquet: self.parquet.best(o.parquet),
            append: self.append.best(o.append),
            arrow_scan: self.arrow_scan.best(o.arrow_scan),
            ..self
        }
    }
}

/// One pass over the range in batches of `--batch-size` ledgers: reads the
/// batch's objects (not timed), decodes them, extracts their ledgers, then
/// stores the same rows three ways, each timed on its own: as Parquet files
/// by arrow-rs (no catalog), by our commit into a fresh catalog, and by
/// DuckDB's own Arrow scan into another fresh catalog of the same kind.
async fn phases_round(
    source: &Arc<dyn LedgerSource>,
    pool: &rayon::ThreadPool,
    ctx: &ExtractContext,
    args: &BenchArgs,
    profile_first_batch: bool,
) -> anyhow::Result<Phases> {
    use rayon::prelude::*;
    let range = args.lake.range();
    let dir = tempfile::tempdir()?;
    let settings = temp_store_settings(dir.path(), true, &args.storage);
    let db = Database::open(&settings)?;
    let mut store = db.store("mainnet", &args.lake.network_passphrase, "bench")?;
    let stock_dir = tempfile::tempdir()?;
    // The ceiling is DuckDB's insert at its fastest for a backfill: inlining
    // off, so every table becomes a file, as our batches behind the tip do.
    let stock_storage = StorageArgs { data_inlining_row_limit: 0, ..args.storage.clone() };
    let stock_settings = temp_store_settings(stock_dir.path(), true, &stock_storage);
    let stock_db = Database::open(&stock_settings)?;
    let mut stock = stock_db.store("mainnet", &args.lake.network_passphrase, "bench")?;
    let parquet_dir = tempfile::tempdir()?;
    let mut p = Phases {
        decode: Phase::default(),
        extract: Phase::default(),
        parquet: Phase::default(),
        append: Phase::default(),
        arrow_scan: Phase::default(),
        ledgers: 0,
        batches: 0,
        rows: 0,
        parquet_bytes: 0,
    };
    let mut stream = source.stream(range);
    let mut profile = profile_first_batch;
    loop {
        // Objects until the batch holds --batch-size ledgers (or the range ends).
        let mut objects: Vec<SourceObject> = Vec::new();
        let mut held = 0usize;
        while held < args.batch_size.max(1) {
            match stream.next().await {
                Some(o) => {
                    let o = o?;
                    held += (o.last.min(args.lake.end) - o.first.max(args.lake.start) + 1) as usize;
                    objects.push(o);
                }
                None => break,
            }
        }
        if objects.is_empty() {
            break;
        }

        let decoded = p.decode.measure(|| {
            pool.install(|| {
                objects
                    .par_iter()
                    .map(|o| decode::decode_object(&o.what, o.framing, &o.data, 1 << 30))
                    .collect::<Result<Vec<_>, _>>()
            })
        })?;
        drop(objects);
        let lcms: Vec<_> =
            decoded.into_iter().flatten().filter(|lcm| range.contains(decode::ledger_seq(lcm))).collect();
        if profile {
            profile_tables(&lcms, ctx)?;
            profile = false;
        }

        let ledgers = p.extract.measure(|| {
            pool.install(|| {
                lcms.par_iter()
                    .map(|lcm| {
                        let x = crate::extract::extract_ledger(lcm, ctx)?;
                        Ok(crate::store::EncodedLedger { id: x.id, tables: x.tables.to_batches() })
                    })
                    .collect::<Result<Vec<_>, crate::extract::ExtractError>>()
            })
        })?;
        drop(lcms);

        // The pipeline's batches: closed at --batch-size ledgers or --batch-max-mib.
        for batch in split_by_bytes(ledgers, args.batch_max_mib << 20) {
            p.parquet_bytes += p
                .parquet
                .measure(|| super::parquet_ceiling::encode_batch(&batch, parquet_dir.path(), p.batches, pool))?;
            let stats = p.append.measure(|| store.commit(&batch))?;
            p.arrow_scan.measure(|| stock.insert_by_arrow_scan(&batch))?;
            p.ledgers += stats.ledgers as u64;
            p.rows += stats.rows.iter().map(|(_, n)| n).sum::<u64>();
            p.batches += 1;
        }
    }
    // Both passes end with their rows checkpointed, where a DuckDB file
    // compresses them: ours after each batch (the store's own CHECKPOINT, as
    // in the pipeline), the reference once at the end, the least it needs.
    if settings.storage.is_ducklake() {
        p.append.measure(|| db.checkpoint())?;
    }
    p.arrow_scan.measure(|| stock_db.checkpoint())?;
    drop((store, stock));
    drop((db, stock_db));
    drop_round_catalog(&settings)?;
    drop_round_catalog(&stock_settings)?;
    Ok(p)
}

/// Consecutive batches of `ledgers`, each closed once it holds `max_bytes` of Arrow memory.
fn split_by_bytes(ledgers: Vec<crate::store::EncodedLedger>, max_bytes: usize) -> Vec<crate::store::Batch> {
    let mut out = vec![crate::store::Batch::default()];
    let mut bytes = 0;
    for ledger in ledgers {
        bytes += ledger.arrow_bytes();
        out.last_mut().expect("never empty").ledgers.push(ledger);
        if bytes >= max_bytes {
            out.push(crate::store::Batch::default());
            bytes = 0;
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

/// End to end as a fraction of each ceiling. Decode and extraction share the
/// workers, so their sum is the CPU ceiling; the storage step's ceilings are
/// arrow-rs writing the Parquet alone and DuckDB inserting the rows by its
/// own Arrow scan.
fn summarize(ledgers: u64, p: &Phases, e2e: Duration) {
    let rate = |d: Duration| ledgers as f64 / d.as_secs_f64().max(1e-9);
    let (dec, ext, pq, app, scan, e) = (
        rate(p.decode.time),
        rate(p.extract.time),
        rate(p.parquet.time),
        rate(p.append.time),
        rate(p.arrow_scan.time),
        rate(e2e),
    );
    let cpu = rate(p.decode.time + p.extract.time);
    let (slower_name, slower) = if cpu <= scan { ("decode+extract", cpu) } else { ("DuckDB Arrow scan", scan) };
    println!();
    println!(
        "summary (ledgers/s): decode-only {dec:.1}, extract-only {ext:.1}, parquet-encode-only {pq:.1}, \
         append-only {app:.1}, duckdb-arrow-scan {scan:.1}, end-to-end {e:.1}"
    );
    println!(
        "  end-to-end = {:.2} of decode+extract ({cpu:.1}), {:.2} of DuckDB's Arrow scan insert, \
         {:.2} of arrow-rs Parquet; slower ceiling: {slower_name} -> {:.2}",
        e / cpu,
        e / scan,
        e / pq,
        e / slower
    );
    println!("  append-only = {:.2} of DuckDB's Arrow scan insert of the same batches", app / scan);
}

/// Single-threaded cost of each extraction stage and of each table's Arrow
/// encoding, summed over `lcms` (decoding is not counted).
fn profile_tables(lcms: &[stellar_xdr::LedgerCloseMeta], ctx: &ExtractContext) -> anyhow::Result<()> {
    let mut extract = StageTimes::default();
    let mut arrow = StageTimes::default();
    let mut rows: Vec<(&'static str, usize)> = Vec::new();
    for lcm in lcms {
        let ledger = extract_ledger_timed(lcm, ctx, &mut extract)?;
        ledger.tables.to_batches_timed(&mut arrow);
        for (table, count) in ledger.tables.row_counts() {
            match rows.iter_mut().find(|(t, _)| *t == table) {
                Some((_, c)) => *c += count,
                None => rows.push((table, count)),
            }
        }
    }
    let n = lcms.len().max(1) as f64;
    let total: f64 = extract.0.iter().chain(arrow.0.iter()).map(|(_, d)| d.as_secs_f64()).sum();
    println!("  extraction cost per stage and table (one thread, the first {n} ledgers; decoding excluded):");
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
    batch_max_bytes: usize,
    workers: usize,
    passphrase: String,
    storage: StorageArgs,
}

/// One end-to-end run into a fresh temporary catalog; returns its duration
/// from the open catalog to the final CHECKPOINT (for a DuckLake the
/// CHECKPOINT flushes the metadata file's WAL, a no-op on PostgreSQL) and,
/// apart, the one-off cost of opening it (creating the tables).
async fn e2e_round(
    source: Arc<dyn LedgerSource>,
    pool: Arc<rayon::ThreadPool>,
    ctx: Arc<ExtractContext>,
    e: E2e,
) -> anyhow::Result<(Duration, Duration)> {
    let dir = tempfile::tempdir()?;
    let settings = temp_store_settings(dir.path(), true, &e.storage);
    let opening = Instant::now();
    let db = Database::open(&settings)?;
    let store = db.store("mainnet", &e.passphrase, "bench")?;
    let open = opening.elapsed();
    let t = Instant::now();
    let pipeline = Pipeline {
        name: "bench".into(),
        source,
        range: e.range,
        store,
        ctx,
        settings: PipelineSettings {
            batch_size: e.batch_size,
            batch_max_bytes: e.batch_max_bytes,
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
    Ok((took, open))
}

/// A phase's line: speed and its peak RSS.
fn report(label: &str, ledgers: u64, phase: Phase) {
    report_line(label, ledgers, phase.time);
    println!("    peak RSS {:.0} MiB", phase.peak_rss_mib);
}

fn report_line(label: &str, ledgers: u64, d: Duration) {
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
