//! `ducklake-ingester`: Stellar ledgers into DuckDB tables, exactly once.
//!
//! ```text
//! source ──objects──► decode (once) ──► extract (one pass, all tables) ──► batcher ──► store
//!  datastore            parallel, ordered by ledger                         size/time   one transaction
//!                                                                                       per batch + lineage
//! ```
//! Module per job: [`source`], [`decode`], [`extract`], [`tables`], [`store`],
//! [`pipeline`], [`config`], [`progress`], [`query`], [`metrics`]; [`app`] wires them for the CLI.
//! [`synth`] generates synthetic ledger chains (tests, demos, benchmarks);
//! [`fuzz`] holds the properties the fuzz targets (`fuzz/`) check.

pub mod app;
pub mod bench;
pub mod bench_query;
pub mod config;
pub mod decode;
pub mod demo;
pub mod extract;
pub mod fuzz;
pub mod metrics;
pub mod pipeline;
pub mod progress;
pub mod query;
pub mod serve;
pub mod source;
pub mod store;
pub mod synth;
pub mod tables;
