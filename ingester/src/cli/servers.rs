//! The HTTP servers of `run` and `serve`: the query API and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ducklake_config::{IngesterConfig, Storage};
use tokio_util::sync::CancellationToken;

use crate::progress::SourceProgress;
use crate::store::Database;

/// Binds the query API (failing clearly when the address is taken) and serves
/// it until `stop` is cancelled.
pub(super) async fn start_query_api(
    db: &Database,
    cfg: &IngesterConfig,
    sources: Vec<Arc<SourceProgress>>,
    metrics: Arc<crate::metrics::Metrics>,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let engine =
        crate::query::QueryEngine::new(db, query_settings(&cfg.query_api)?).context("preparing the query API")?;
    let addr = cfg.query_api.port.to_bind_string();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("query_api.port: cannot listen on {addr}"))?;
    let bound = listener.local_addr().map_or(addr, |a| a.to_string());
    tracing::info!(
        address = %bound,
        auth = cfg.query_api.auth_token.is_some() || cfg.query_api.auth_token_file.is_some(),
        "query API listening (POST /query, GET /health, GET /status, GET /metrics)"
    );
    let state = crate::query::ApiState { engine: Arc::new(engine), sources: Arc::new(sources), metrics };
    Ok(tokio::spawn(async move {
        if let Err(e) = crate::query::serve(listener, state, async move { stop.cancelled().await }).await {
            tracing::error!(error = %e, "query API stopped");
        }
    }))
}

/// Query API limits and token from the configuration; the token file is read
/// once at start-up (a rotated Secret takes effect on restart).
pub(super) fn query_settings(q: &ducklake_config::QueryApiConfig) -> anyhow::Result<crate::query::QuerySettings> {
    let auth_token = match (&q.auth_token, &q.auth_token_file) {
        (Some(t), _) => Some(t.trim().to_string()),
        (None, Some(file)) => {
            let t = std::fs::read_to_string(file)
                .with_context(|| format!("query_api.auth_token_file: cannot read {file}"))?;
            let t = t.trim().to_string();
            anyhow::ensure!(!t.is_empty(), "query_api.auth_token_file: {file} is empty");
            Some(t)
        }
        (None, None) => None,
    };
    Ok(crate::query::QuerySettings {
        default_limit: q.default_limit,
        max_limit: q.max_limit,
        timeout: Duration::from_secs(q.timeout_seconds),
        max_concurrent: q.max_concurrent,
        max_body_bytes: q.max_request_bytes,
        export_max_rows: q.export_max_rows,
        max_result_bytes: q.max_result_bytes,
        auth_token,
    })
}

/// `metrics.enabled`: `/metrics` on its own address too (it is always on the
/// query API port), for scrapers that must not reach the query API.
pub(super) async fn start_metrics_server(
    cfg: &IngesterConfig,
    metrics: Arc<crate::metrics::Metrics>,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let addr = cfg.metrics.address.to_bind_string();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("metrics.address: cannot listen on {addr}"))?;
    let bound = listener.local_addr().map_or(addr, |a| a.to_string());
    tracing::info!(address = %bound, "metrics listening (GET /metrics)");
    let app = crate::query::metrics_router(metrics);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    }))
}

/// The DuckDB file behind the catalog (or behind a DuckLake's metadata), when it is a local file.
pub(super) fn database_file(db: &Database) -> Option<std::path::PathBuf> {
    match db.storage() {
        Storage::DuckDb { path }
        | Storage::DuckLake { metadata: ducklake_config::LakeMetadata::DuckDb { path }, .. } => {
            (!path.contains("://") && path != ":memory:").then(|| std::path::PathBuf::from(path))
        }
        Storage::DuckLake { .. } => None,
    }
}
