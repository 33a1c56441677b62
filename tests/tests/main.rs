//! The integration tests: one binary (so DuckDB is linked once), a module per
//! area. They run the real `ducklake-ingester` and `ducklake-operator`
//! executables (built by the README's test command) against the shared
//! fixtures in `../shared/fixtures/stellar`. Run one area with
//! `cargo test --workspace --test main <area>::`, e.g. `crash::`.

mod bad_input;
mod chart;
mod crash;
mod demo;
mod ducklake;
mod fixture_ledgers;
mod golden;
mod grpc;
mod lifecycle;
mod multi_network;
mod operator;
mod query_api;
mod s3;
mod synthetic;
mod tables_activity;
mod tables_classic;
mod tables_effects;
mod tables_soroban;
mod upgrade;
mod upstream;
