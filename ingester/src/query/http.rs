//! The HTTP surface (axum): `POST /query`, `GET /health`, `GET /status`,
//! `GET /metrics`, the bearer-token check, and errors as JSON bodies with a
//! status code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::engine::{QueryEngine, QueryError, QueryRequest};
use super::export::Format;
use crate::metrics::{Metrics, OutcomeLabel};
use crate::progress::SourceProgress;
use ducklake_config::status::StatusDocument;

impl QueryError {
    /// The HTTP status and the `code` of the error body.
    pub(super) fn status_and_code(&self) -> (StatusCode, &'static str) {
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
