//! `ducklake-ingester`: Stellar ledgers into DuckDB tables, exactly once.
//!
//! ```text
//! source ──objects──► decode (once) ──► extract (one pass, all tables) ──► batcher ──► store
//!  datastore            parallel, ordered by ledger                         size/time   one transaction
//!                                                                                       per batch + lineage
//! ```
//! Layers, bottom up: [`model`], [`sql`], [`s3`] (depend on nothing of
//! ours); [`decode`], [`extract`], [`tables`]; [`source`], [`store`];
//! telemetry ([`progress`], [`metrics`], told through event traits);
//! [`pipeline`], [`query`], [`ledger_server`]; [`cli`], the commands.
//! The synthetic generator is the `ducklake-synth` crate (re-exported as
//! [`synth`]);
//! [`fuzz`] holds the properties the fuzz targets (`fuzz/`) check.

pub mod cli;
pub mod config;
pub mod decode;
pub mod extract;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;
pub mod ledger_server;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod progress;
pub mod query;
pub mod s3;
pub mod source;
pub mod sql;
pub mod store;
pub mod tables;

/// The synthetic network generator (crate `ducklake-synth`).
pub use ducklake_synth as synth;

#[cfg(test)]
mod docs_tests;
