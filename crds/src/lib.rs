//! The `DuckLakeIngestion` custom resource (`ingest.ducklake.dev/v1alpha1`)
//! and its generated CRD. Its `spec.config` is made of the ingester's own
//! configuration types from `ducklake-config`, so the operator and the
//! ingester agree on one definition; this crate adds only what Kubernetes
//! needs (pod settings, status, printer columns, CEL rules).

pub mod resource;

pub use resource::{DuckLakeIngestion, DuckLakeIngestionSpec, DuckLakeIngestionStatus};
