//! Types shared by `ducklake-ingester` and `ducklake-operator`.
//!
//! * [`config`]: the ingester configuration schema (serde + schemars). The
//!   `DuckLakeIngestion` custom resource embeds it, so the operator and the
//!   ingester agree on one definition.
//! * [`load`]: parsing YAML with environment expansion and validation whose
//!   errors name the offending key.
//! * [`resource`]: the `DuckLakeIngestion` custom resource, whose
//!   `spec.config` is made of the [`config`] types.

pub mod config;
pub mod load;
pub mod resource;

pub use config::IngesterConfig;
pub use resource::{DuckLakeIngestion, DuckLakeIngestionSpec, DuckLakeIngestionStatus};
