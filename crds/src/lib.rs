//! Types shared by `ducklake-ingester` and `ducklake-operator`.
//!
//! * [`config`]: the ingester configuration schema (serde + schemars). The
//!   `DuckLakeIngestion` custom resource embeds it, so the operator and the
//!   ingester agree on one definition.
//! * [`load`]: parsing YAML with environment expansion and validation whose
//!   errors name the offending key.

pub mod config;
pub mod load;

pub use config::IngesterConfig;
