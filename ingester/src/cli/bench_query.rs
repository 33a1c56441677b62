//! `bench-query`: query latency while ingestion runs at full speed, and the
//! ingestion slowdown the queries cause.
//!
//! Ingests a lake range twice into fresh catalogs: once alone, once with N
//! concurrent clients sending point lookups and aggregates through the same
//! [`QueryEngine`] the HTTP API uses (limits, read-only transactions,
//! timeout). Prints latency percentiles per query kind and the slowdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::bench::{LakeArgs, StorageArgs, drop_round_catalog, temp_store_settings};
use crate::extract::ExtractContext;
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::progress::SourceProgress;
use crate::query::{QueryEngine, QueryRequest, QuerySettings};
use crate::source::LedgerSource;
use crate::store::Database;

#[derive(Debug, clap::Args)]
pub struct QueryBenchArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Concurrent query clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Ledgers per commit (small batches: frequent commits, like live ingestion).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Ingest the first N ledgers of the range before the clock starts (not
    /// timed, no clients), so queries run against a large table from the
    /// start (e.g. 3600 synthetic pubnet-size ledgers hold 1M transactions).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preload: u32,
}

pub async fn run(args: QueryBenchArgs) -> i32 {
    match bench(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The query mix: each client cycles through these.
const KINDS: [&str; 5] = [
    "point: ledger by sequence",
    "point: txs of a ledger",
    "aggregate: ops by type",
    "aggregate: fees",
    "point: transaction by hash",
];

fn query_for(kind: usize, ledger: u32, hash: Option<&str>, schema: &str) -> String {
    match (kind, hash) {
        (4, Some(hash)) => format!("SELECT * FROM {schema}.transactions_row_v2 WHERE transaction_hash = '{hash}'"),
        (kind, _) => query_kind(kind, ledger, schema),
    }
}

fn query_kind(kind: usize, ledger: u32, schema: &str) -> String {
    match kind {
        0 => format!("SELECT * FROM {schema}.ledgers_row_v2 WHERE sequence = {ledger}"),
        1 => format!(
            "SELECT transaction_hash, fee_charged, successful FROM {schema}.transactions_row_v2 WHERE ledger_sequence = {ledger}"
        ),
        2 => format!("SELECT type_string, count(*) AS n FROM {schema}.operations_row_v2 GROUP BY 1 ORDER BY 2 DESC"),
        _ => format!(
            "SELECT count(*), sum(fee_charged), avg(operation_count) FROM {schema}.transactions_row_v2 WHERE successful"
        ),
    }
}

async fn bench(args: QueryBenchArgs) -> anyhow::Result<()> {
    args.storage.validate()?;
    let workers = args.lake.workers();
    let source = args.lake.open().await?;
    let pool = Arc::new(crate::decode::decode_pool(workers)?);
    let ctx = Arc::new(ExtractContext::new(&args.lake.network_passphrase));
    let ledgers = args.lake.ledgers();
    println!("ducklake-ingester bench-query {}", env!("CARGO_PKG_VERSION"));
    println!("lake:    {}", source.describe());
    println!(
        "ledgers: {}-{} ({ledgers}), batch size {}, {workers} workers",
        args.lake.start, args.lake.end, args.batch_size
    );
    anyhow::ensure!(u64::from(args.preload) < ledgers, "--preload must leave ledgers to ingest under load");
    let ledgers = ledgers - u64::from(args.preload);
    if args.preload > 0 {
        println!(
            "preload: ledgers {}-{} before each timed round; timed: the other {ledgers}",
            args.lake.start,
            args.lake.start + args.preload - 1
        );
    }
    println!("storage: {}", args.storage.describe());
    println!();

    let round = Round { source, pool, ctx, args: &args, workers };
    let (alone, _) = round.ingest(0).await?;
    println!("ingestion alone: {:.1} ledgers/s ({:.2} s)", ledgers as f64 / alone.as_secs_f64(), alone.as_secs_f64());
    let (loaded, latencies) = round.ingest(args.clients).await?;
    println!(
        "ingestion with {} query clients: {:.1} ledgers/s ({:.2} s): {:+.1}% time",
        args.clients,
        ledgers as f64 / loaded.as_secs_f64(),
        loaded.as_secs_f64(),
        100.0 * (loaded.as_secs_f64() / alone.as_secs_f64() - 1.0)
    );
    println!();
    println!("  {:<28} {:>8} {:>9} {:>9} {:>9}", "query", "count", "p50 ms", "p99 ms", "max ms");
    let mut total = 0;
    for (kind, mut lat) in latencies.into_iter().enumerate() {
        if lat.is_empty() {
            continue;
        }
        lat.sort_unstable();
        total += lat.len();
        let pct = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  {:<28} {:>8} {:>9.2} {:>9.2} {:>9.2}",
            KINDS[kind],
            lat.len(),
            ms(pct(0.5)),
            ms(pct(0.99)),
            ms(lat.last().copied().unwrap_or_default())
        );
    }
    println!(
        "  {total} queries in {:.2} s ({:.0} queries/s)",
        loaded.as_secs_f64(),
        total as f64 / loaded.as_secs_f64()
    );
    Ok(())
}

struct Round<'a> {
    source: Arc<dyn LedgerSource>,
    pool: Arc<rayon::ThreadPool>,
    ctx: Arc<ExtractContext>,
    args: &'a QueryBenchArgs,
    workers: usize,
}

impl Round<'_> {
    /// Ingests the range into a fresh catalog while `clients` query it;
    /// returns the ingestion time and the latencies per query kind.
    async fn ingest(&self, clients: usize) -> anyhow::Result<(Duration, Vec<Vec<Duration>>)> {
        let dir = tempfile::tempdir()?;
        let settings = temp_store_settings(dir.path(), false, &self.args.storage);
        let result = self.ingest_into(&settings, clients).await;
        let dropped = drop_round_catalog(&settings);
        let result = result?;
        dropped?;
        Ok(result)
    }

    async fn ingest_into(
        &self,
        settings: &crate::store::StoreSettings,
        clients: usize,
    ) -> anyhow::Result<(Duration, Vec<Vec<Duration>>)> {
        let db = Database::open(settings)?;
        let pipeline = |range: crate::model::Range, progress: Arc<SourceProgress>| -> anyhow::Result<Pipeline> {
            Ok(Pipeline {
                name: "bench".into(),
                source: self.source.clone(),
                range,
                store: db.store("mainnet", &self.args.lake.network_passphrase, "bench")?,
                ctx: self.ctx.clone(),
                settings: PipelineSettings {
                    batch_size: self.args.batch_size,
                    batch_max_bytes: (ducklake_config::DuckLakeConfig::default().batch_max_mib as usize) << 20,
                    commit_interval: Duration::from_secs(3600),
                    max_in_flight: self.workers * 2,
                    max_object_bytes: 1 << 30,
                },
                pool: self.pool.clone(),
                progress,
            })
        };
        let range = self.args.lake.range();
        if self.args.preload > 0 {
            let preload = crate::model::Range { from: range.from, to: Some(range.from + self.args.preload - 1) };
            let t = Instant::now();
            pipeline(preload, Arc::new(SourceProgress::new("preload", "mainnet")))?
                .run(CancellationToken::new())
                .await?;
            println!("  preloaded {} ledgers in {:.1} s", self.args.preload, t.elapsed().as_secs_f64());
        }
        let engine = Arc::new(QueryEngine::new(&db, QuerySettings::default())?);
        // Hashes for the point lookups, from what is committed before the clock starts.
        let hashes: Arc<Vec<String>> = Arc::new(if self.args.preload > 0 {
            let conn = db.connection()?;
            let mut stmt = conn
                .prepare(&format!("SELECT transaction_hash FROM {} USING SAMPLE 1000 ROWS", transactions_table(&db)))?;
            stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        } else {
            Vec::new()
        });
        let txs_before = count_transactions(&db)?;
        let progress = Arc::new(SourceProgress::new("bench", "mainnet"));
        let pipeline = pipeline(range, progress.clone())?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for client in 0..clients {
            let (engine, progress, stop, hashes) = (engine.clone(), progress.clone(), stop.clone(), hashes.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
                let mut i = client;
                while !stop.load(Ordering::Relaxed) {
                    let Some(last) = progress.snapshot().last_committed_ledger else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    // The hash lookup joins the mix once there are hashes to look up.
                    let kinds = if hashes.is_empty() { KINDS.len() - 1 } else { KINDS.len() };
                    let kind = i % kinds;
                    let hash = (!hashes.is_empty()).then(|| hashes[(i * 7919) % hashes.len()].as_str());
                    // Spread point lookups over the committed ledgers.
                    let span = last.saturating_sub(progress.snapshot().start_ledger).max(1);
                    let ledger = last - (i as u32 * 7919) % span;
                    let req = QueryRequest {
                        sql: query_for(kind, ledger, hash, "mainnet"),
                        limit: None,
                        offset: None,
                        format: None,
                    };
                    let t = Instant::now();
                    match engine.run(req).await {
                        Ok(_) => lat[kind].push(t.elapsed()),
                        Err(e) => return Err(anyhow::anyhow!("query failed during the benchmark: {e}")),
                    }
                    i += 1;
                }
                Ok(lat)
            }));
        }
        let t = Instant::now();
        pipeline.run(CancellationToken::new()).await?;
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        println!(
            "  round with {clients} clients: transactions in the table {txs_before} at the start, {} at the end",
            count_transactions(&db)?
        );
        let mut all: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
        for task in tasks {
            for (kind, l) in task.await??.into_iter().enumerate() {
                all[kind].extend(l);
            }
        }
        Ok((took, all))
    }
}

/// The transactions table, qualified: a new connection does not inherit `USE`.
fn transactions_table(db: &Database) -> String {
    format!("{}.mainnet.transactions_row_v2", crate::sql::ident(db.catalog_name()))
}

/// Transactions committed so far (none before the first commit creates the table).
fn count_transactions(db: &Database) -> anyhow::Result<i64> {
    let sql = format!("SELECT count(*) FROM {}", transactions_table(db));
    match db.connection()?.query_row(&sql, [], |r| r.get(0)) {
        Ok(n) => Ok(n),
        Err(e) if e.to_string().contains("does not exist") => Ok(0),
        Err(e) => Err(anyhow::Error::new(e).context("counting the committed transactions")),
    }
}
