//! Where batches are committed. Nothing else writes SQL for ingestion.
//!
//! A batch is a run of consecutive ledgers. [`DuckDbStore::commit`] writes all
//! of its rows, for every table, plus one lineage row in a single
//! transaction, so a batch is either entirely visible or not at all, and the
//! lineage table alone says where to resume.

mod arrow_write;
mod commit;
pub mod data_files;
pub mod extensions;
pub mod lake;
pub mod maintenance;
mod open;
mod paths;
pub mod raw;
mod reference_insert;
mod retry;
mod schema;
#[cfg(test)]
mod tests;

use crate::model::LedgerId;
use crate::tables::TableBatch;

pub use commit::DuckDbStore;
pub(crate) use open::checkpoint_statement;
pub use open::{Database, LakeSettings, LakeState, StoreSettings, inspect_lake};
pub(crate) use retry::retry_transient;
pub use schema::LINEAGE_COLUMNS;

/// Name of the lineage table in every data schema.
pub const LINEAGE_TABLE: &str = "_ingest_lineage";

/// One ledger's rows, converted for the appender.
#[derive(Debug, Clone)]
pub struct EncodedLedger {
    pub id: LedgerId,
    pub tables: Vec<TableBatch>,
}

impl EncodedLedger {
    /// Memory its Arrow batches hold: what sizes a batch.
    pub fn arrow_bytes(&self) -> usize {
        self.tables.iter().map(|t| t.batch.get_array_memory_size()).sum()
    }
}

/// Consecutive ledgers committed together.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub ledgers: Vec<EncodedLedger>,
    /// Closed at the network's tip or by `commit_interval_seconds` (live
    /// ingestion), not because it was full: a DuckLake inlines its small
    /// tables in the catalog instead of writing a small file for each.
    pub live: bool,
}

impl Batch {
    pub fn first(&self) -> Option<&LedgerId> {
        self.ledgers.first().map(|l| &l.id)
    }
    pub fn last(&self) -> Option<&LedgerId> {
        self.ledgers.last().map(|l| &l.id)
    }
    pub fn len(&self) -> usize {
        self.ledgers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ledgers.is_empty()
    }

    /// The Arrow batches of one table, in ledger order.
    pub fn parts(&self, table: &str) -> Vec<&duckdb::arrow::record_batch::RecordBatch> {
        self.ledgers.iter().flat_map(|l| l.tables.iter()).filter(|t| t.table == table).map(|t| &t.batch).collect()
    }

    /// Rows per table, in table order, including empty tables.
    pub fn row_counts(&self) -> Vec<(&'static str, u64)> {
        crate::tables::all_tables()
            .into_iter()
            .map(|(name, _)| {
                let rows = self
                    .ledgers
                    .iter()
                    .flat_map(|l| l.tables.iter())
                    .filter(|t| t.table == name)
                    .map(|t| t.batch.num_rows() as u64)
                    .sum();
                (name, rows)
            })
            .collect()
    }
}

/// Where to resume a range, from what the catalog recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    /// First ledger not yet committed.
    pub next: u32,
    /// Hash of ledger `next - 1` when the catalog holds it: the next ledger's
    /// `previous_ledger_hash` must equal it.
    pub prev_hash: Option<[u8; 32]>,
    /// Ledgers of the range already committed.
    pub committed: u64,
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{context}: {source}")]
    Db { context: String, source: ::duckdb::Error },
    #[error("{0}")]
    Refused(String),
    /// A read-only attach found a catalog in an older DuckLake format, which
    /// only a writer may migrate.
    #[error(
        "the DuckLake catalog is in format {from}; DuckLake {} reads it only once migrated: start the writer \
         (`ducklake-ingester run`) once to migrate it (one-way; back it up first, see docs/storage.md), then the readers",
        lake::FORMAT_VERSION
    )]
    NeedsMigration { from: String },
}

pub(crate) trait DbContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, ::duckdb::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Db { context: context(), source })
    }
}

/// Outcome of one commit, for logs and progress.
#[derive(Debug, Clone)]
pub struct CommitStats {
    pub first: u32,
    pub last: LedgerId,
    pub ledgers: usize,
    pub rows: Vec<(&'static str, u64)>,
    pub commit_ms: u64,
    pub checkpoint_ms: Option<u64>,
}
