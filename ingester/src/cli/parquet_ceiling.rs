//! `bench`'s ceiling of the storage step: the batch's tables written as
//! Parquet files by arrow-rs, with no catalog, on all workers.
//!
//! The files match what the lake writes (DuckLake's default Snappy
//! compression, our 8,192-row row groups, one file per table per batch), so
//! the time is what the format alone costs for these rows.

use std::fs::File;
use std::path::Path;

use anyhow::Context;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use crate::store::Batch;
use crate::store::lake::PARQUET_ROW_GROUP_ROWS;

/// Writes each non-empty table of `batch` to `<dir>/<table>-<n>.parquet`,
/// tables in parallel on `pool`; returns the bytes written. The caller
/// removes `dir`.
pub fn encode_batch(batch: &Batch, dir: &Path, n: u64, pool: &rayon::ThreadPool) -> anyhow::Result<u64> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS as usize))
        .build();
    let tables: Vec<_> = crate::tables::all_tables()
        .into_iter()
        .map(|(name, _)| (name, batch.parts(name)))
        .filter(|(_, parts)| parts.iter().any(|b| b.num_rows() > 0))
        .collect();
    pool.install(|| {
        tables
            .par_iter()
            .map(|(name, parts)| {
                let path = dir.join(format!("{name}-{n}.parquet"));
                let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                let mut writer = ArrowWriter::try_new(file, parts[0].schema(), Some(props.clone()))?;
                for part in parts {
                    writer.write(part)?;
                }
                writer.close()?;
                Ok(std::fs::metadata(&path)?.len())
            })
            .sum::<anyhow::Result<u64>>()
    })
}
