//! Read-only SQL over HTTP while ingestion runs: `POST /query`, `GET /health`,
//! `GET /status`, `GET /metrics`.
//!
//! Safety is enforced by DuckDB, not by keyword matching:
//! * DuckDB's parser and binder classify the statement; only one `SELECT`-type
//!   statement (`SELECT`, `WITH`, `FROM`, `VALUES`, `SHOW`, `DESCRIBE`,
//!   `SUMMARIZE`, `PIVOT`) or `EXPLAIN` runs.
//! * It runs inside `BEGIN TRANSACTION READ ONLY`, on an instance whose
//!   external access is disabled and configuration locked after start-up, so
//!   file and network functions, `SET`, `ATTACH`, `INSTALL` fail inside DuckDB.
//! * Limits wrap the statement (`SELECT * FROM (...) LIMIT n OFFSET m`), a
//!   timeout interrupts DuckDB, and a semaphore bounds concurrent queries.

use crate::model::{format_date, format_timestamp_micros};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use duckdb::Connection;
use duckdb::types::Value;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;

pub mod export;
pub mod guard;

use self::export::Format;
use crate::metrics::{Metrics, OutcomeLabel};
use crate::progress::SourceProgress;
use crate::sql::ident;
use crate::store::Database;
use crate::store::StoreError;
use crate::store::raw::{Classified, RawDatabase, StatementKind};
use ducklake_config::status::StatusDocument;

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
    settings: QuerySettings,
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

impl QueryError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            QueryError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_sql"),
            QueryError::Forbidden(_) => (StatusCode::BAD_REQUEST, "forbidden_statement"),
            QueryError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            QueryError::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_queries"),
            QueryError::Execution(_) => (StatusCode::BAD_REQUEST, "execution_error"),
            QueryError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            QueryError::ResultTooLarge(_) => (StatusCode::BAD_REQUEST, "result_too_large"),
            QueryError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
            QueryError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = Json(json!({ "error": self.to_string(), "code": code }));
        if matches!(self, QueryError::Unauthorized) {
            return (status, [(axum::http::header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
        }
        (status, body).into_response()
    }
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

/// The DuckDB SQL name of a result column's type (DuckDB hands results over
/// as Arrow, so the name is mapped back: `Utf8` is `VARCHAR`, `Int64` is
/// `BIGINT`, ...).
pub fn sql_type_name(t: &duckdb::arrow::datatypes::DataType) -> String {
    use duckdb::arrow::datatypes::{DataType as A, TimeUnit};
    match t {
        A::Null => "NULL".into(),
        A::Boolean => "BOOLEAN".into(),
        A::Int8 => "TINYINT".into(),
        A::Int16 => "SMALLINT".into(),
        A::Int32 => "INTEGER".into(),
        A::Int64 => "BIGINT".into(),
        A::UInt8 => "UTINYINT".into(),
        A::UInt16 => "USMALLINT".into(),
        A::UInt32 => "UINTEGER".into(),
        A::UInt64 => "UBIGINT".into(),
        A::Float16 | A::Float32 => "FLOAT".into(),
        A::Float64 => "DOUBLE".into(),
        A::Utf8 | A::LargeUtf8 | A::Utf8View => "VARCHAR".into(),
        A::Binary | A::LargeBinary | A::BinaryView | A::FixedSizeBinary(_) => "BLOB".into(),
        A::Date32 | A::Date64 => "DATE".into(),
        A::Time32(_) | A::Time64(_) => "TIME".into(),
        A::Timestamp(TimeUnit::Second, None) => "TIMESTAMP_S".into(),
        A::Timestamp(TimeUnit::Millisecond, None) => "TIMESTAMP_MS".into(),
        A::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP_NS".into(),
        A::Timestamp(_, None) => "TIMESTAMP".into(),
        A::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        A::Interval(_) | A::Duration(_) => "INTERVAL".into(),
        A::Decimal128(p, s) | A::Decimal256(p, s) => format!("DECIMAL({p},{s})"),
        A::List(f) | A::LargeList(f) | A::ListView(f) | A::LargeListView(f) => {
            format!("{}[]", sql_type_name(f.data_type()))
        }
        A::FixedSizeList(f, n) => format!("{}[{n}]", sql_type_name(f.data_type())),
        A::Struct(fields) => {
            let inner: Vec<String> =
                fields.iter().map(|f| format!("{} {}", f.name(), sql_type_name(f.data_type()))).collect();
            format!("STRUCT({})", inner.join(", "))
        }
        A::Map(f, _) => match f.data_type() {
            A::Struct(kv) if kv.len() == 2 => {
                format!("MAP({}, {})", sql_type_name(kv[0].data_type()), sql_type_name(kv[1].data_type()))
            }
            other => format!("MAP({})", sql_type_name(other)),
        },
        A::Dictionary(_, v) => sql_type_name(v),
        other => format!("{other}"),
    }
}

/// DuckDB values as JSON: numbers stay numbers where JSON can hold them
/// exactly; 128-bit integers and decimals become strings; times are ISO 8601.
pub fn to_json(v: Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(b),
        Value::TinyInt(n) => n.into(),
        Value::SmallInt(n) => n.into(),
        Value::Int(n) => n.into(),
        Value::BigInt(n) => n.into(),
        Value::UTinyInt(n) => n.into(),
        Value::USmallInt(n) => n.into(),
        Value::UInt(n) => n.into(),
        Value::UBigInt(n) => n.into(),
        Value::HugeInt(n) => i64::try_from(n).map_or_else(|_| J::String(n.to_string()), J::from),
        Value::Float(f) => serde_json::Number::from_f64(f64::from(f)).map_or(J::Null, J::Number),
        Value::Double(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Value::Decimal(d) => J::String(d.to_string()),
        Value::Timestamp(unit, t) => J::String(format_timestamp_micros(unit.to_micros(t))),
        Value::Date32(days) => J::String(format_date(i64::from(days))),
        Value::Time64(unit, t) => {
            let us = unit.to_micros(t);
            J::String(format!(
                "{:02}:{:02}:{:02}.{:06}",
                us / 3_600_000_000,
                us / 60_000_000 % 60,
                us / 1_000_000 % 60,
                us % 1_000_000
            ))
        }
        Value::Text(s) => J::String(s),
        Value::Enum(s) => J::String(s),
        Value::Blob(b) => {
            use base64::Engine;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Value::List(items) | Value::Array(items) => J::Array(items.into_iter().map(to_json).collect()),
        Value::Struct(fields) => J::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v.clone()))).collect()),
        Value::Map(map) => {
            J::Array(map.iter().map(|(k, v)| json!({"key": to_json(k.clone()), "value": to_json(v.clone())})).collect())
        }
        other => J::String(format!("{other:?}")),
    }
}

/// Everything the HTTP handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Arc<QueryEngine>,
    pub sources: Arc<Vec<Arc<SourceProgress>>>,
    pub metrics: Arc<Metrics>,
}

/// The HTTP routes. With a token configured, `/query` and `/status` require
/// it; `/health` and `/metrics` stay open for probes and scrapers.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.engine.settings.max_body_bytes;
    let protected = Router::new()
        .route("/query", post(query_handler))
        .route("/status", get(status_handler))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .merge(protected)
        .route("/health", get(health_handler))
        .route("/metrics", get(metrics_handler))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Checks `Authorization: Bearer <token>` in constant time.
async fn require_token(
    State(state): State<ApiState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(expected) = &state.engine.settings.auth_token {
        let given = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            state.metrics.query.rejected.get_or_create(&OutcomeLabel { outcome: "unauthorized".into() }).inc();
            return QueryError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, y) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ y);
    }
    diff == 0
}

/// Only `GET /metrics`, for `metrics.address`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route("/metrics", get(move || async move { metrics_response(&metrics) }))
}

async fn metrics_handler(State(state): State<ApiState>) -> Response {
    metrics_response(&state.metrics)
}

fn metrics_response(metrics: &Metrics) -> Response {
    ([(axum::http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], metrics.render()).into_response()
}

async fn query_handler(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, QueryError> {
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok());
    let m = &state.metrics.query;
    let parsed = match body {
        Ok(body) => serde_json::from_slice::<QueryRequest>(&body)
            .map_err(|e| QueryError::Invalid(format!("invalid request body: {e} (expected {{\"sql\": \"...\"}})"))),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(QueryError::TooLarge(format!(
            "request body larger than {} bytes (query_api.max_request_bytes)",
            state.engine.settings.max_body_bytes
        ))),
        Err(e) => Err(QueryError::Invalid(format!("cannot read the request body: {e}"))),
    };
    let result = match parsed {
        Ok(req) => {
            m.in_flight.inc();
            let started = Instant::now();
            let r = match Format::choose(req.format.as_deref(), accept) {
                Ok(Format::Json) => state.engine.run(req).await.map(|r| Json(r).into_response()),
                Ok(format) => state.engine.export(req, format).await,
                Err(e) => Err(e),
            };
            m.in_flight.dec();
            if !matches!(r, Err(QueryError::Busy(_))) {
                m.duration_seconds.observe(started.elapsed().as_secs_f64());
            }
            r
        }
        Err(e) => Err(e),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.status_and_code().1,
    };
    m.requests.get_or_create(&OutcomeLabel { outcome: outcome.to_string() }).inc();
    if let Err(QueryError::Busy(_) | QueryError::TooLarge(_)) = &result {
        m.rejected.get_or_create(&OutcomeLabel { outcome: outcome.to_string() }).inc();
    }
    result
}

async fn health_handler(State(state): State<ApiState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.engine.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({"status": "ok", "db_connected": true}))).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "db_connected": false, "reason": e.to_string()})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "unavailable", "db_connected": false, "reason": "database did not answer within 2 s"}),
            ),
        )
            .into_response(),
    }
}

async fn status_handler(State(state): State<ApiState>) -> Json<StatusDocument> {
    Json(StatusDocument {
        version: env!("CARGO_PKG_VERSION").to_string(),
        sources: state.sources.iter().map(|p| p.snapshot()).collect(),
    })
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::types::TimeUnit;

    #[test]
    fn sql_type_names() {
        use duckdb::arrow::datatypes::{DataType as A, Field, TimeUnit};
        assert_eq!(sql_type_name(&A::Utf8), "VARCHAR");
        assert_eq!(sql_type_name(&A::Int64), "BIGINT");
        assert_eq!(sql_type_name(&A::Timestamp(TimeUnit::Microsecond, None)), "TIMESTAMP");
        assert_eq!(sql_type_name(&A::Decimal128(18, 3)), "DECIMAL(18,3)");
        assert_eq!(sql_type_name(&A::List(std::sync::Arc::new(Field::new("l", A::Int32, true)))), "INTEGER[]");
    }

    #[test]
    fn values_become_json() {
        assert_eq!(to_json(Value::HugeInt(i128::MAX)), json!(i128::MAX.to_string()));
        assert_eq!(to_json(Value::HugeInt(5)), json!(5));
        assert_eq!(to_json(Value::Double(f64::NAN)), serde_json::Value::Null);
        assert_eq!(to_json(Value::Timestamp(TimeUnit::Second, 86_400)), json!("1970-01-02T00:00:00Z"));
        assert_eq!(to_json(Value::List(vec![Value::Int(1), Value::Null])), json!([1, null]));
    }
}
