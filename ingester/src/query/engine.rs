//! The query engine: admission (concurrency, body size), classification by
//! DuckDB's own binder, limits that wrap the statement, the timeout that
//! interrupts DuckDB, and the JSON and streamed results.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use duckdb::Connection;
use duckdb::types::Value;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::export::{self, Format};
use super::guard;
use super::value::{sql_type_name, to_json};
use crate::sql::ident;
use crate::store::raw::{Classified, RawDatabase, StatementKind};
use crate::store::{Database, StoreError};

/// Limits of the query API.
#[derive(Debug, Clone)]
pub struct QuerySettings {
    pub default_limit: u64,
    pub max_limit: u64,
    pub timeout: Duration,
    pub max_concurrent: usize,
    pub max_body_bytes: usize,
    /// Row cap of streamed exports.
    pub export_max_rows: u64,
    /// Largest JSON answer buffered for one request (streamed exports are not buffered).
    pub max_result_bytes: usize,
    /// When set, `/query` and `/status` require `Authorization: Bearer <token>`.
    pub auth_token: Option<String>,
}

impl Default for QuerySettings {
    fn default() -> Self {
        QuerySettings {
            default_limit: 1_000,
            max_limit: 10_000,
            timeout: Duration::from_secs(30),
            max_concurrent: 20,
            max_body_bytes: 1 << 20,
            export_max_rows: 1_000_000,
            max_result_bytes: 64 << 20,
            auth_token: None,
        }
    }
}

/// Runs read-only queries on the ingester's DuckDB instance.
pub struct QueryEngine {
    pool: Mutex<Vec<Connection>>,
    catalog: String,
    pub(super) settings: QuerySettings,
    permits: Arc<Semaphore>,
    /// Refuses functions that change state despite a read-only transaction.
    guard: Option<guard::FunctionGuard>,
    /// Declared last: the connections above are dropped first.
    raw: Arc<RawDatabase>,
}

/// A `/query` request, compatible with the Go tool's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub sql: String,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub offset: Option<i64>,
    /// `json` (default), `ndjson`, `csv` or `arrow`; overrides the `Accept` header.
    #[serde(default)]
    pub format: Option<String>,
}

/// A `/query` answer: the Go tool's fields plus `column_types` and `truncated`.
#[derive(Debug, Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub column_types: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    /// More rows exist beyond `limit`.
    pub truncated: bool,
    pub execution_time_ms: u64,
}

/// Why a query was not answered; each maps to an HTTP status and a code.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("query exceeded the {0:?} timeout and was interrupted")]
    Timeout(Duration),
    #[error("too many concurrent queries (limit {0}); retry later")]
    Busy(usize),
    #[error("{0}")]
    Execution(String),
    #[error("missing or wrong bearer token (send Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("{0}")]
    ResultTooLarge(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Internal(String),
}

impl QueryEngine {
    /// Locks the instance down (no external access, configuration locked)
    /// and prepares the classifier. Call after every store is prepared.
    pub fn new(db: &Database, settings: QuerySettings) -> Result<Self, StoreError> {
        let raw = db.raw();
        let catalog = db.catalog_name().to_string();
        db.lock_down()?;
        raw.use_catalog_for_classifier(&catalog)?;
        let guard = guard::FunctionGuard::new(db.connection()?);
        if guard.is_none() && db.storage().is_ducklake() {
            return Err(StoreError::Refused(
                "the json extension is needed to check queries against a DuckLake; \
                 scripts/fetch-extensions.sh installs it into ducklake.extension_directory"
                    .into(),
            ));
        }
        Ok(QueryEngine {
            guard,
            pool: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            catalog,
            settings,
            raw,
        })
    }

    fn checkout(&self) -> Result<Connection, QueryError> {
        if let Some(c) = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        let conn = self.raw.connect().map_err(|e| QueryError::Internal(e.to_string()))?;
        conn.execute_batch(&format!("USE {}", ident(&self.catalog)))
            .map_err(|e| QueryError::Internal(format!("USE {}: {e}", self.catalog)))?;
        Ok(conn)
    }

    fn checkin(&self, conn: Connection) {
        // A connection left inside a transaction (after an interrupt) is not reused.
        if conn.is_autocommit() {
            self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        }
    }

    /// The statement to execute: refused unless DuckDB says it is one
    /// read-only statement; SELECT-type statements get the limit wrapper.
    /// JSON answers fetch one row more than the limit to tell whether the
    /// result was truncated; exports (`export = true`) are capped at
    /// `export_max_rows` instead and fetch exactly the limit.
    pub fn plan(&self, req: &QueryRequest, export: bool) -> Result<(String, u64), QueryError> {
        let sql = req.sql.trim();
        let (default, max) = if export {
            (self.settings.export_max_rows, self.settings.export_max_rows)
        } else {
            (self.settings.default_limit, self.settings.max_limit)
        };
        let limit = match req.limit {
            None | Some(0) => default,
            Some(n) if n < 0 => return Err(QueryError::Invalid("limit must not be negative".into())),
            Some(n) => (n as u64).min(max),
        };
        let fetch = if export { limit } else { limit + 1 };
        let offset = match req.offset {
            Some(n) if n < 0 => return Err(QueryError::Invalid("offset must not be negative".into())),
            n => n.unwrap_or(0) as u64,
        };
        // The guard reads DuckDB's parse tree only; it runs before `classify`, which
        // prepares (binds) the statement, and binding a DuckLake function runs its
        // code: `ducklake_set_option(.., 'data_inlining_row_limit', ..)` on a lake
        // holding a view crashes the process at bind time in DuckLake 1.0
        // (tests/python/upstream/set_option_with_view.py).
        if let Some(guard) = &self.guard {
            guard.check(sql).map_err(QueryError::Forbidden)?;
        }
        match self.raw.classify(sql) {
            Err(Classified::Invalid(m)) => Err(QueryError::Invalid(m)),
            Err(Classified::Forbidden(m)) => Err(QueryError::Forbidden(m)),
            Ok(StatementKind::Other(kind)) => Err(QueryError::Forbidden(format!(
                "{kind} statements are not allowed: only SELECT, WITH, SHOW, DESCRIBE, SUMMARIZE and EXPLAIN"
            ))),
            Ok(StatementKind::Explain) => Ok((sql.to_string(), limit)),
            Ok(StatementKind::Select) => {
                let body = sql.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
                // Newlines keep a trailing `-- comment` from swallowing the wrapper.
                let wrapped = format!("SELECT * FROM (\n{body}\n) AS q LIMIT {fetch} OFFSET {offset}");
                match self.raw.classify(&wrapped) {
                    Ok(StatementKind::Select) => Ok((wrapped, limit)),
                    _ => Err(QueryError::Invalid("the statement cannot be used as a subquery".into())),
                }
            }
        }
    }

    /// Runs one request under the concurrency limit and timeout.
    pub async fn run(self: &Arc<Self>, req: QueryRequest) -> Result<QueryResult, QueryError> {
        let _permit = self.permits.try_acquire().map_err(|_| QueryError::Busy(self.settings.max_concurrent))?;
        let (sql, limit) = self.plan(&req, false)?;
        let conn = self.checkout()?;
        let interrupt = conn.interrupt_handle();
        let engine = self.clone();
        let started = Instant::now();
        let max_bytes = self.settings.max_result_bytes;
        let task = tokio::task::spawn_blocking(move || {
            let result = execute(&conn, &sql, limit, max_bytes);
            engine.checkin(conn);
            result
        });
        tokio::pin!(task);
        let result = tokio::select! {
            r = &mut task => r,
            _ = tokio::time::sleep(self.settings.timeout) => {
                interrupt.interrupt();
                let _ = task.await;
                return Err(QueryError::Timeout(self.settings.timeout));
            }
        };
        let mut result = result.map_err(|e| QueryError::Internal(format!("query task: {e}")))??;
        result.execution_time_ms = started.elapsed().as_millis() as u64;
        Ok(result)
    }

    /// Streams the result in `format` (NDJSON, CSV, Arrow). The concurrency
    /// permit and the timeout cover the whole export; the response starts once
    /// the statement runs, so planning and binding errors are still 400s.
    pub async fn export(self: &Arc<Self>, req: QueryRequest, format: Format) -> Result<Response, QueryError> {
        let permit =
            self.permits.clone().try_acquire_owned().map_err(|_| QueryError::Busy(self.settings.max_concurrent))?;
        let (sql, _) = self.plan(&req, true)?;
        let conn = self.checkout()?;
        let interrupt = conn.interrupt_handle();
        let engine = self.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (tx, rx) = tokio::sync::mpsc::channel::<export::Chunk>(4);
        let done = Arc::new(tokio::sync::Notify::new());
        let finished = done.clone();
        tokio::task::spawn_blocking(move || {
            export::stream(&conn, &sql, format, started_tx, tx);
            engine.checkin(conn);
            drop(permit);
            finished.notify_one();
        });
        let timeout = self.settings.timeout;
        tokio::spawn(async move {
            tokio::select! {
                _ = done.notified() => {}
                _ = tokio::time::sleep(timeout) => {
                    tracing::warn!(timeout_s = timeout.as_secs(), "query export exceeded the timeout; interrupting");
                    interrupt.interrupt();
                }
            }
        });
        match tokio::time::timeout(timeout, started_rx).await {
            Err(_) => Err(QueryError::Timeout(timeout)),
            Ok(Err(_)) => Err(QueryError::Internal("the export task ended before the query ran".into())),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Ok(Ok(()))) => {
                let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
                Ok(([(axum::http::header::CONTENT_TYPE, format.content_type())], body).into_response())
            }
        }
    }

    /// `SELECT 1` through the pool: the database answers queries.
    pub async fn ping(self: &Arc<Self>) -> Result<(), QueryError> {
        let r = self.run(QueryRequest { sql: "SELECT 1".into(), limit: None, offset: None, format: None }).await?;
        if r.row_count == 1 { Ok(()) } else { Err(QueryError::Internal("SELECT 1 returned no row".into())) }
    }
}

/// Executes in a read-only transaction; always ends the transaction.
fn execute(conn: &Connection, sql: &str, limit: u64, max_bytes: usize) -> Result<QueryResult, QueryError> {
    conn.execute_batch("BEGIN TRANSACTION READ ONLY").map_err(|e| QueryError::Internal(e.to_string()))?;
    let result = fetch(conn, sql, limit, max_bytes);
    let _ = conn.execute_batch("ROLLBACK");
    result
}

/// Collects up to `limit` rows; fails once the answer would exceed
/// `max_bytes` (an estimate of its JSON size), so one query cannot make the
/// process buffer an arbitrarily large response.
fn fetch(conn: &Connection, sql: &str, limit: u64, max_bytes: usize) -> Result<QueryResult, QueryError> {
    let exec = |e: duckdb::Error| QueryError::Execution(e.to_string());
    let mut stmt = conn.prepare(sql).map_err(exec)?;
    let mut rows = stmt.query([]).map_err(exec)?;
    let width = rows.as_ref().map_or(0, |s| s.column_count());
    let mut out = Vec::new();
    let mut truncated = false;
    let mut bytes = 0usize;
    while let Some(row) = rows.next().map_err(exec)? {
        if out.len() as u64 >= limit {
            truncated = true;
            break;
        }
        let values: Vec<serde_json::Value> =
            (0..width).map(|i| row.get::<_, Value>(i).map(to_json)).collect::<Result<_, _>>().map_err(exec)?;
        bytes += values.iter().map(json_size).sum::<usize>() + width + 2;
        if bytes > max_bytes {
            return Err(QueryError::ResultTooLarge(format!(
                "the answer exceeds {max_bytes} bytes (query_api.max_result_bytes) after {} rows: \
                 select fewer columns or rows, or export it with \"format\": \"ndjson\", \"csv\" or \"arrow\"",
                out.len()
            )));
        }
        out.push(values);
    }
    drop(rows);
    let columns: Vec<String> = stmt.column_names();
    let column_types = (0..columns.len()).map(|i| sql_type_name(&stmt.column_type(i))).collect();
    Ok(QueryResult { row_count: out.len(), columns, column_types, rows: out, truncated, execution_time_ms: 0 })
}

/// Approximate serialized size of a JSON value.
fn json_size(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.len() + 2,
        serde_json::Value::Array(a) => a.iter().map(json_size).sum::<usize>() + a.len() + 2,
        serde_json::Value::Object(o) => o.iter().map(|(k, v)| k.len() + 3 + json_size(v)).sum::<usize>() + 2,
        _ => 8,
    }
}
