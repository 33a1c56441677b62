//! `serve --config FILE [--read-only]`: the query API over a catalog, without ingesting.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use ducklake_config::IngesterConfig;
use tokio_util::sync::CancellationToken;

use super::servers::{database_file, start_metrics_server, start_query_api};
use super::setup::{load_for_catalog, log_catalog_open, store_settings};
use super::{exit, wait_for_signal};
use crate::store::Database;

/// `serve --config FILE [--read-only]`: the query API (and /metrics) over
/// the configured catalog, without ingesting. Read-only, it attaches the lake
/// read-only, so it can run beside a writer on a PostgreSQL-catalogued lake.
pub async fn serve(path: &Path, read_only: bool) -> i32 {
    let cfg = match load_for_catalog(path) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    if !cfg.query_api.enabled {
        eprintln!("error: query_api.enabled: serve needs the query API");
        return exit::CONFIG;
    }
    match serve_catalog(cfg, read_only).await {
        Ok(()) => exit::OK,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            exit::FAILED
        }
    }
}

async fn serve_catalog(cfg: IngesterConfig, read_only: bool) -> anyhow::Result<()> {
    let db = Database::open(&store_settings(&cfg, read_only)).context("opening the catalog")?;
    log_catalog_open(&cfg, &db);
    let metrics = Arc::new(crate::metrics::Metrics::new(
        Arc::new(crate::metrics::IngestMetrics::default()),
        Vec::new(),
        crate::metrics::DatabaseFiles { database: database_file(&db) },
    ));
    let stop = CancellationToken::new();
    let mut servers = vec![start_query_api(&db, &cfg, Vec::new(), metrics.clone(), stop.clone()).await?];
    if cfg.metrics.enabled {
        servers.push(start_metrics_server(&cfg, metrics, stop.clone()).await?);
    }
    wait_for_signal().await;
    tracing::info!("signal received: stopping");
    stop.cancel();
    for s in servers {
        let _ = s.await;
    }
    Ok(())
}
