//! `run --config FILE`: wires configuration, store, sources and pipelines,
//! serves the query API and metrics beside them, and stops cleanly on a signal.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::servers::{database_file, start_metrics_server, start_query_api};
use super::setup::{load_and_prepare, log_catalog_open, store_settings};
use super::{exit, wait_for_signal};
use crate::config::Prepared;
use crate::extract::ExtractContext;
use crate::model::Range;
use crate::pipeline::{Outcome, Pipeline, PipelineSettings};
use crate::progress::SourceProgress;
use crate::store::Database;

/// `run --config FILE`: ingest until every bounded source is done or a signal arrives.
pub async fn run(path: &Path, keep_serving: bool) -> i32 {
    let prepared = match load_and_prepare(path, Some(())).await {
        Ok(p) => p,
        Err(e) => {
            // Logging may not be set up yet; config errors go to stderr plainly.
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    for w in &prepared.warnings {
        tracing::warn!("{w}");
    }
    match run_prepared(prepared, keep_serving).await {
        Ok(()) => exit::OK,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            exit::FAILED
        }
    }
}

async fn run_prepared(prepared: Prepared, keep_serving: bool) -> anyhow::Result<()> {
    let Prepared { config: cfg, sources, .. } = prepared;
    let workers = cfg.pipeline.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let settings = PipelineSettings {
        batch_size: cfg.ducklake.batch_size as usize,
        batch_max_bytes: (cfg.ducklake.batch_max_mib as usize) << 20,
        commit_interval: Duration::from_secs(cfg.ducklake.commit_interval_seconds),
        max_in_flight: cfg.pipeline.max_in_flight.unwrap_or(workers * 2),
        max_object_bytes: cfg.pipeline.max_object_bytes,
    };
    let pool = Arc::new(crate::decode::decode_pool(workers).context("starting the decode pool")?);
    let db = Database::open(&store_settings(&cfg, false)).context("opening the catalog")?;
    log_catalog_open(&cfg, &db);

    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());

    let mut tasks = tokio::task::JoinSet::new();
    let ingest_metrics = Arc::new(crate::metrics::IngestMetrics::default());
    let mut progresses = Vec::new();
    let mut pipelines = Vec::new();
    for s in sources {
        let store = db
            .store(&s.schema, &s.passphrase, &s.source.describe())
            .with_context(|| format!("{}: preparing schema {}", s.key, s.schema))?;
        let mut ctx = ExtractContext::new(&s.passphrase);
        if let Some(era) = &cfg.era {
            ctx.era_id = era.era_id.clone();
            ctx.version_label = era.version_label.clone();
        }
        let counters = s.source.counters();
        let pipeline = Pipeline {
            name: s.name.clone(),
            source: s.source,
            range: Range { from: s.start, to: s.end },
            store,
            ctx: Arc::new(ctx),
            settings: settings.clone(),
            pool: pool.clone(),
            progress: Arc::new(
                SourceProgress::new(&s.name, &s.schema).with_counters(counters).with_events(ingest_metrics.clone()),
            ),
        };
        progresses.push(pipeline.progress.clone());
        pipelines.push(pipeline);
    }
    // The API starts once every schema exists, and before ingestion, so
    // committed data is queryable from the first second.
    let metrics = Arc::new(crate::metrics::Metrics::new(
        ingest_metrics,
        progresses.clone(),
        crate::metrics::DatabaseFiles { database: database_file(&db) },
    ));
    let api_stop = CancellationToken::new();
    let mut servers = Vec::new();
    if cfg.ducklake.maintenance.enabled
        && let Some(task) = crate::store::maintenance::spawn(
            &db,
            cfg.ducklake.metadata_schema.as_deref(),
            (&cfg.ducklake.maintenance).into(),
            metrics.maintenance.clone(),
            api_stop.clone(),
        )
        .context("starting DuckLake maintenance")?
    {
        servers.push(task);
    }
    if cfg.query_api.enabled {
        servers.push(start_query_api(&db, &cfg, progresses, metrics.clone(), api_stop.clone()).await?);
    }
    if cfg.metrics.enabled {
        servers.push(start_metrics_server(&cfg, metrics.clone(), api_stop.clone()).await?);
    }
    for pipeline in pipelines {
        let token = shutdown.clone();
        let name = pipeline.name.clone();
        tasks.spawn(async move { (name, pipeline.run(token).await) });
    }

    let mut first_error: Option<anyhow::Error> = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(outcome))) => {
                tracing::info!(source = %name, outcome = ?outcome, "source finished");
                if outcome == Outcome::ShutDown {
                    shutdown.cancel();
                }
            }
            Ok((name, Err(e))) => {
                // Sources are independent: the others keep ingesting. The
                // process exits 1 once they are done too.
                tracing::error!(source = %name, error = %e, remaining = tasks.len(), "source failed");
                first_error.get_or_insert(anyhow::anyhow!("source {name}: {e}"));
            }
            Err(e) => {
                shutdown.cancel();
                first_error.get_or_insert(anyhow::anyhow!("a pipeline task failed: {e}"));
            }
        }
    }
    if keep_serving && first_error.is_none() && !shutdown.is_cancelled() && !servers.is_empty() {
        tracing::info!("every source reached its end_ledger; serving queries until SIGTERM (--keep-serving)");
        shutdown.cancelled().await;
    }
    api_stop.cancel();
    for server in servers {
        let _ = server.await;
    }
    if let Err(e) = db.checkpoint() {
        tracing::warn!(error = %e, "final CHECKPOINT failed; the WAL will be replayed on the next start");
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// SIGTERM or SIGINT: stop cleanly. A second signal exits at once (the open
/// batch is abandoned; nothing half-written is ever visible).
fn spawn_signal_handler(token: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: committing decoded ledgers and stopping (signal again to abort)");
        token.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal: exiting without committing the open batch");
        std::process::exit(exit::FAILED);
    });
}
