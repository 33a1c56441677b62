//! A batch's large tables as Parquet files written by arrow-rs, tables in
//! parallel, then registered with `ducklake_add_data_files` inside the
//! batch's transaction.
//!
//! DuckLake's own insert path converts every row from Arrow to DuckDB
//! vectors and writes Parquet on one thread per statement; arrow-rs encodes
//! the Arrow batches directly, all tables at once. The lake then owns the
//! files like its own: stored relative to the table's path, with the
//! footer's statistics in the catalog (pruning), merged and deleted by
//! maintenance. In a live batch (at the tip), a table of at most
//! `data_inlining_row_limit` rows and [`INLINE_MAX_BYTES`] still goes
//! through DuckLake's insert, which inlines it in the catalog; a full batch
//! (backfill) writes every table as a file.
//!
//! Exactly-once is unchanged: a file is complete and synced before the
//! transaction names it, so the catalog never references a half-written
//! file; a file whose transaction never committed (a crash, a failed
//! commit) is referenced by nothing and `ducklake_delete_orphaned_files`
//! (maintenance, after [`ORPHAN_AGE`]) removes it.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use super::lake::PARQUET_ROW_GROUP_ROWS;
use super::{Batch, StoreError};

/// How long an unreferenced file in the data path must have existed before
/// maintenance deletes it: far longer than any commit (with its retries)
/// takes, so the files of a batch another process is committing right now
/// are never taken for orphans.
pub const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// String values longer than this (XDR, JSON) get no min/max statistics in
/// the footer: nobody filters by their range, and DuckLake would copy them
/// into the catalog for every file.
const MAX_STATISTICS_VALUE_BYTES: usize = 256;

/// Most Arrow memory one table's rows in a live batch may take and still be
/// inlined in the catalog (see [`DataFiles::as_file`]): a ledger's trades,
/// snapshots and ledger row, not its transactions, operations, effects or
/// contract events.
pub const INLINE_MAX_BYTES: usize = 64 << 10;

/// Where a lake's tables keep their files, and which tables of a batch are
/// large enough to be written as files.
#[derive(Debug, Clone)]
pub struct DataFiles {
    /// `<data_path>/<schema>`: DuckLake's default path of the schema's tables.
    schema_dir: PathBuf,
    /// Tables with at most this many rows in a batch stay on DuckLake's insert path (inlined).
    inline_rows: u64,
}

/// One file written for one table of a batch.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub table: &'static str,
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

impl DataFiles {
    /// For a lake whose data path is a local directory; `None` for object
    /// storage, whose tables keep DuckLake's own insert path.
    pub fn local(data_path: &str, schema: &str, inline_rows: u64) -> Option<Self> {
        (!data_path.contains("://")).then(|| DataFiles { schema_dir: Path::new(data_path).join(schema), inline_rows })
    }

    /// Whether `rows` rows (`bytes` of Arrow memory) of one table in one
    /// batch are written as a file: any rows of a full batch (backfill:
    /// inlining them would only defer the file to maintenance, and costs
    /// the commit tens of milliseconds per table); in a live one, more than
    /// the inlining limit or more than [`INLINE_MAX_BYTES`]. DuckLake's own
    /// rule counts rows only, but a pubnet ledger's few hundred
    /// transactions carry megabytes of XDR: inlined, they grew a soak's
    /// catalog by 4 MB a ledger until one-ledger commits took 11 s and
    /// DuckDB ran out of memory within five minutes.
    pub fn as_file(&self, rows: u64, bytes: usize, live: bool) -> bool {
        rows > 0 && (!live || rows > self.inline_rows || bytes > INLINE_MAX_BYTES)
    }

    /// Writes every table of `batch` that [`Self::as_file`] picks, in
    /// parallel, each synced to disk. `tag` makes the names unique (the
    /// batch's ledger range). On error, the files already written stay
    /// until maintenance deletes them (see the module doc).
    pub fn write(&self, batch: &Batch, tag: &str) -> Result<Vec<WrittenFile>, StoreError> {
        let tables: Vec<_> = crate::tables::all_tables()
            .into_iter()
            .map(|(name, _)| (name, batch.parts(name)))
            .filter(|(_, parts)| {
                let rows = parts.iter().map(|b| b.num_rows() as u64).sum();
                self.as_file(rows, parts.iter().map(|b| b.get_array_memory_size()).sum(), batch.live)
            })
            .collect();
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("ingest-{tag}-{stamp:x}-{}.parquet", std::process::id());
        let files = tables
            .par_iter()
            .map(|(table, parts)| {
                let dir = self.schema_dir.join(table);
                std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "creating", e))?;
                let path = dir.join(&name);
                let bytes = write_parquet(&path, parts)?;
                let rows = parts.iter().map(|b| b.num_rows() as u64).sum();
                Ok(WrittenFile { table, path, rows, bytes })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // A new file's name is durable once its directory is synced.
        for f in &files {
            if let Some(dir) = f.path.parent() {
                File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, "syncing", e))?;
            }
        }
        Ok(files)
    }
}

/// Writes `parts` (one table, same schema) to `path` as one Parquet file,
/// synced; returns its size.
pub fn write_parquet(path: &Path, parts: &[&RecordBatch]) -> Result<u64, StoreError> {
    let Some(first) = parts.first() else {
        return Err(StoreError::Refused(format!("no rows to write to {}", path.display())));
    };
    let schema = first.schema();
    let file = File::create(path).map_err(|e| io_error(path, "creating", e))?;
    let mut writer =
        ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema.clone(), Some(properties(parts)))
            .map_err(|e| parquet_error(path, e))?;
    for part in parts {
        writer.write(part).map_err(|e| parquet_error(path, e))?;
    }
    let file = writer.into_inner().map_err(|e| parquet_error(path, e))?;
    let file = file.into_inner().map_err(|e| io_error(path, "writing", e.into_error()))?;
    file.sync_all().map_err(|e| io_error(path, "syncing", e))?;
    file.metadata().map(|m| m.len()).map_err(|e| io_error(path, "reading the size of", e))
}

/// The lake's format choices (Snappy, [`PARQUET_ROW_GROUP_ROWS`]-row row
/// groups, exact column-chunk statistics), with long strings left without
/// statistics or dictionary.
fn properties(parts: &[&RecordBatch]) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS as usize))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_statistics_truncate_length(None);
    if let Some(first) = parts.first() {
        for (i, field) in first.schema().fields().iter().enumerate() {
            if field.data_type() == &DataType::Utf8 && longest_value(parts, i) > MAX_STATISTICS_VALUE_BYTES {
                let col = ColumnPath::from(field.name().as_str());
                b = b.set_column_statistics_enabled(col.clone(), EnabledStatistics::None);
                b = b.set_column_dictionary_enabled(col, false);
            }
        }
    }
    b.build()
}

/// Bytes of the longest string in column `i` of every part.
fn longest_value(parts: &[&RecordBatch], i: usize) -> usize {
    parts
        .iter()
        .filter_map(|b| b.column(i).as_string_opt::<i32>())
        .flat_map(|a| a.offsets().windows(2).map(|w| (w[1] - w[0]) as usize))
        .max()
        .unwrap_or(0)
}

fn io_error(path: &Path, doing: &str, e: std::io::Error) -> StoreError {
    StoreError::Refused(format!("{doing} the data file {}: {e}", path.display()))
}

fn parquet_error(path: &Path, e: parquet::errors::ParquetError) -> StoreError {
    StoreError::Refused(format!("writing the data file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::arrow::array::StringArray;
    use duckdb::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn strings(values: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(values.to_vec()))]).unwrap()
    }

    #[test]
    fn only_local_data_paths_and_tables_past_the_inlining_limit_become_files() {
        assert!(DataFiles::local("s3://bucket/lake/", "main", 10).is_none());
        assert!(DataFiles::local("gs://bucket/lake/", "main", 10).is_none());
        let f = DataFiles::local("/data/lake/", "mainnet", 10).unwrap();
        assert_eq!(f.schema_dir, Path::new("/data/lake/mainnet"));
        assert!(!f.as_file(10, 1000, true));
        assert!(f.as_file(11, 1000, true));
        assert!(f.as_file(10, INLINE_MAX_BYTES + 1, true), "wide rows are never inlined");
        assert!(f.as_file(1, 10, false));
        assert!(!f.as_file(0, 0, false));
        assert!(!f.as_file(0, 0, true));
        assert!(DataFiles::local("/d", "s", 0).unwrap().as_file(1, 10, true));
    }

    #[test]
    fn long_strings_get_no_statistics() {
        let long = "x".repeat(MAX_STATISTICS_VALUE_BYTES + 1);
        let (a, b) = (strings(&["a", "bb"]), strings(&["ccc", &long]));
        assert_eq!(longest_value(&[&a], 0), 2);
        assert_eq!(longest_value(&[&a, &b], 0), MAX_STATISTICS_VALUE_BYTES + 1);
        let col = ColumnPath::from("s");
        assert_eq!(properties(&[&a]).statistics_enabled(&col), EnabledStatistics::Chunk);
        assert_eq!(properties(&[&a, &b]).statistics_enabled(&col), EnabledStatistics::None);
        assert!(!properties(&[&a, &b]).dictionary_enabled(&col));
    }

    #[test]
    fn a_written_file_reads_back_with_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let (a, b) = (strings(&["a", "bb"]), strings(&["ccc"]));
        let bytes = write_parquet(&path, &[&a, &b]).unwrap();
        assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
        let reader = parquet::file::reader::SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        use parquet::file::reader::FileReader;
        assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
    }
}
