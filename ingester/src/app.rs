//! The `run` and `check-config` commands: wiring config, store, sources and
//! pipelines, plus logging and signal handling.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ducklake_crds::config::{IngesterConfig, LogFormat, Storage};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Invalid, Prepared};
use crate::extract::ExtractContext;
use crate::pipeline::{Outcome, Pipeline, PipelineSettings};
use crate::progress::SourceProgress;
use crate::source::Range;
use crate::store::{Database, LakeSettings, StoreSettings};

/// Process exit codes.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const CONFIG: i32 = 2;
}

/// Installs the global logger: `level` (or `RUST_LOG`), JSON when asked or
/// when stderr is not a terminal (containers), text otherwise.
pub fn init_logging(level: &str, format: Option<LogFormat>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Text) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}

fn store_settings(cfg: &IngesterConfig, read_only: bool) -> StoreSettings {
    let d = &cfg.ducklake;
    StoreSettings {
        // Validated when the configuration was loaded.
        storage: d.storage().unwrap_or(Storage::DuckDb { path: d.catalog_path.clone() }),
        catalog_name: d.catalog_name.clone(),
        threads: d.threads,
        memory_limit: d.memory_limit.clone(),
        wal_autocheckpoint: d.wal_autocheckpoint.clone(),
        checkpoint_after_batch: d.checkpoint_after_batch,
        extension_directory: d.extension_directory.clone(),
        lake: LakeSettings {
            metadata_schema: d.metadata_schema.clone(),
            data_inlining_row_limit: d.data_inlining_row_limit,
            s3: d.s3.clone(),
        },
        read_only,
    }
}

/// `check-config FILE`: everything `run` checks before writing, and a summary.
pub async fn check_config(path: &Path) -> i32 {
    let prepared = match load_and_prepare(path, None).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    for w in &prepared.warnings {
        eprintln!("warning: {w}");
    }
    println!("{}: configuration is valid", path.display());
    let d = &prepared.config.ducklake;
    match d.storage() {
        Ok(Storage::DuckLake { data_path, .. }) => {
            println!(
                "  catalog: DuckLake {} (attached as {}), data in {data_path}",
                d.catalog_display(),
                d.catalog_name
            )
        }
        _ => println!("  catalog: DuckDB file {} (attached as {})", d.catalog_display(), d.catalog_name),
    }
    if let Some(line) = lake_format_line(&prepared.config) {
        println!("  {line}");
    }
    for s in &prepared.sources {
        let end = s.end.map_or("forever".to_string(), |e| e.to_string());
        println!("  {}: {} -> schema {}, ledgers {}..{end}", s.key, s.source.describe(), s.schema, s.start);
    }
    exit::OK
}

/// What `check-config` says of the lake's catalog format, read without
/// changing anything; a lake it cannot inspect (extensions missing, the
/// catalog in use) is reported, not an error of the configuration.
fn lake_format_line(cfg: &IngesterConfig) -> Option<String> {
    use crate::store::duckdb::{LakeState, inspect_lake};
    use crate::store::lake::FORMAT_VERSION;
    let line = match inspect_lake(&store_settings(cfg, false)) {
        Ok(None) => return None,
        Ok(Some(LakeState::New)) => format!("lake format: no lake yet; `run` creates it in DuckLake {FORMAT_VERSION}"),
        Ok(Some(LakeState::Current { version })) => format!("lake format: DuckLake {version}"),
        Ok(Some(LakeState::NeedsMigration { from })) => format!(
            "lake format: DuckLake {from}; `run` will migrate it to {FORMAT_VERSION} when it opens it \
             (one-way: DuckDB 1.4 clients cannot open it afterwards; back it up first, see the README)"
        ),
        Err(e) => format!("lake format: not checked ({e})"),
    };
    Some(line)
}

async fn load_and_prepare(path: &Path, log: Option<()>) -> Result<Prepared, Invalid> {
    let loaded = config::load(path)?;
    if log.is_some() {
        init_logging(&loaded.config.logging.level, loaded.config.logging.format);
    }
    config::prepare(loaded).await
}

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
                SourceProgress::new(&s.name, &s.schema).with_counters(counters).with_metrics(ingest_metrics.clone()),
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

fn log_catalog_open(cfg: &IngesterConfig, db: &Database) {
    let (kind, data) = match db.storage() {
        Storage::DuckDb { .. } => ("duckdb", None),
        Storage::DuckLake { data_path, .. } => ("ducklake", Some(data_path.as_str())),
    };
    tracing::info!(
        catalog = %cfg.ducklake.catalog_display(),
        name = %cfg.ducklake.catalog_name,
        storage = kind,
        data_path = data.unwrap_or(""),
        "catalog open"
    );
}

/// The configuration of a command that opens the catalog without sources
/// (`serve`, `maintain`): loaded and validated, logging started, warnings
/// logged; `Err` is the exit code after printing the error.
fn load_for_catalog(path: &Path) -> Result<IngesterConfig, i32> {
    let loaded = config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        exit::CONFIG
    })?;
    let cfg = loaded.config;
    init_logging(&cfg.logging.level, cfg.logging.format);
    for w in loaded.warnings.iter().chain(ducklake_crds::load::lint(&cfg).iter()) {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

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

/// `maintain --config FILE`: one maintenance run, printed task by task.
pub fn maintain(path: &Path) -> i32 {
    let cfg = match load_for_catalog(path) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    let db = match Database::open(&store_settings(&cfg, false)) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: opening the catalog: {e}");
            return exit::FAILED;
        }
    };
    let runs = match crate::store::maintenance::run_now(
        &db,
        cfg.ducklake.metadata_schema.as_deref(),
        &(&cfg.ducklake.maintenance).into(),
    ) {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let mut failed = false;
    for r in &runs {
        let outcome = match &r.result {
            Ok(()) => "ok".to_string(),
            Err(e) => {
                failed = true;
                format!("FAILED: {}", e.to_string().lines().next().unwrap_or_default())
            }
        };
        println!(
            "{:<22} {outcome:<6} {:>8.3} s  data files {} -> {}  snapshots {} -> {}  pending deletion {} -> {}",
            r.task,
            r.seconds,
            r.before.data_files,
            r.after.data_files,
            r.before.snapshots,
            r.after.snapshots,
            r.before.pending_deletion,
            r.after.pending_deletion
        );
    }
    if failed { exit::FAILED } else { exit::OK }
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

/// Binds the query API (failing clearly when the address is taken) and serves
/// it until `stop` is cancelled.
async fn start_query_api(
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
fn query_settings(q: &ducklake_crds::config::QueryApiConfig) -> anyhow::Result<crate::query::QuerySettings> {
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
async fn start_metrics_server(
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
fn database_file(db: &Database) -> Option<std::path::PathBuf> {
    match db.storage() {
        Storage::DuckDb { path }
        | Storage::DuckLake { metadata: ducklake_crds::config::LakeMetadata::DuckDb { path }, .. } => {
            (!path.contains("://") && path != ":memory:").then(|| std::path::PathBuf::from(path))
        }
        Storage::DuckLake { .. } => None,
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

pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
