//! `bench`'s ceiling of the storage step: the batch's tables written as
//! Parquet files by arrow-rs, with no catalog, on all workers.
//!
//! The files are written by the very function the lake's write path uses
//! ([`crate::store::data_files::write_parquet`]: Snappy, 8,192-row row
//! groups, one file per table per batch, synced), so the time is what the
//! format alone costs for these rows.

use std::path::Path;

use rayon::prelude::*;

use crate::store::Batch;
use crate::store::data_files::write_parquet;

/// Writes each non-empty table of `batch` to `<dir>/<table>-<n>.parquet`,
/// tables in parallel on `pool`; returns the bytes written. The caller
/// removes `dir`.
pub fn encode_batch(batch: &Batch, dir: &Path, n: u64, pool: &rayon::ThreadPool) -> anyhow::Result<u64> {
    let tables: Vec<_> = crate::tables::all_tables()
        .into_iter()
        .map(|(name, _)| (name, batch.parts(name)))
        .filter(|(_, parts)| parts.iter().any(|b| b.num_rows() > 0))
        .collect();
    pool.install(|| {
        tables
            .par_iter()
            .map(|(name, parts)| Ok(write_parquet(&dir.join(format!("{name}-{n}.parquet")), parts)?))
            .sum::<anyhow::Result<u64>>()
    })
}
