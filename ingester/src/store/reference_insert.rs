//! The reference `bench` measures the write path against: the same Arrow
//! batches inserted by stock DuckDB through its own Arrow scan (a
//! `duckdb_arrow_scan` view per table, then one `INSERT ... SELECT` per
//! table, all tables in one transaction). No lineage row and no overlap
//! check: only what the engine itself needs to store the rows.

use super::commit::DuckDbStore;
use super::{Batch, DbContext, StoreError};
use crate::sql::ident;
use crate::tables::all_tables;

impl DuckDbStore {
    /// Inserts every table of `batch` by DuckDB's Arrow scan in one
    /// transaction; returns the rows inserted. For benchmarks only: it
    /// records no lineage, so a pipeline never resumes from what it wrote.
    pub fn insert_by_arrow_scan(&mut self, batch: &Batch) -> Result<u64, StoreError> {
        let db = self._db.clone();
        let _writing = db.write_lock();
        let w = &self.writer;
        let mut views = Vec::new();
        for (name, _) in all_tables() {
            let parts: Vec<_> = batch.parts(name).into_iter().filter(|b| b.num_rows() > 0).cloned().collect();
            if parts.is_empty() {
                continue;
            }
            let view = w
                .arrow_scan_view(&format!("bench_arrow_scan_{name}"), parts)
                .ctx(|| format!("an Arrow scan of {name}"))?;
            views.push((name, view));
        }
        // The views are in the in-memory catalog, made before the
        // transaction: it reads them and writes only the target.
        w.in_transaction("an Arrow scan insert", || {
            views.iter().try_for_each(|(name, view)| {
                w.execute(&format!("INSERT INTO {} SELECT * FROM {}", self.qualified(name), ident(&view.name)))
                    .ctx(|| format!("inserting {name}"))
            })
        })?;
        Ok(batch.row_counts().iter().map(|(_, n)| n).sum())
    }
}
