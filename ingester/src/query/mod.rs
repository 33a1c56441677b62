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
//!
//! [`engine`] runs statements, [`value`] converts what DuckDB returns,
//! [`http`] serves it; [`export`] streams large results and [`guard`]
//! refuses the functions that change a lake.

pub mod engine;
pub mod export;
pub mod guard;
pub mod http;
pub mod value;

pub use engine::{QueryEngine, QueryError, QueryRequest, QueryResult, QuerySettings};
pub use http::{ApiState, metrics_router, router, serve};
pub use value::{sql_type_name, to_json};
