//! Commit and resume: one transaction per batch (every table plus its
//! lineage row), an overlap check inside it, and where to resume from the
//! lineage rows.

use std::sync::Arc;
use std::time::Instant;

use duckdb::{Connection, params};

use super::arrow_write::{RawConnection, Target};
use super::data_files::{DataFiles, WrittenFile};
use super::raw::RawDatabase;
use super::retry::retry_transient;
use super::{Batch, CommitStats, DbContext, LINEAGE_TABLE, ResumePoint, StoreError};
use crate::model::{LedgerId, Timestamp};
use crate::sql::{ident, literal};
use crate::tables::all_tables;

/// Commits batches of one source into one schema.
pub struct DuckDbStore {
    pub(super) conn: Connection,
    /// A DuckLake (tables written through a query appender) or a DuckDB file.
    pub(super) lake: bool,
    /// A DuckLake on a local data path: large tables are written as Parquet
    /// files by arrow-rs and registered (see [`super::data_files`]).
    pub(super) files: Option<DataFiles>,
    /// The committer's own connection, on which each batch's transaction runs.
    pub(super) writer: RawConnection,
    pub(super) catalog: String,
    pub(super) schema: String,
    pub(super) checkpoint_after_batch: bool,
    pub(super) passphrase: String,
    pub(super) source: String,
    /// Keeps the instance open while this store's connection lives.
    pub(super) _db: Arc<RawDatabase>,
}

impl DuckDbStore {
    pub(super) fn qualified(&self, table: &str) -> String {
        format!("{}.{}.{}", ident(&self.catalog), ident(&self.schema), ident(table))
    }

    pub(super) fn lineage(&self) -> String {
        self.qualified(LINEAGE_TABLE)
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Where to resume `[start, end]`, from the lineage rows. Refuses when
    /// ledgers inside the range are committed after a gap (another run owns
    /// them), since continuing would eventually overlap them.
    pub fn resume(&self, start: u32, end: Option<u32>) -> Result<ResumePoint, StoreError> {
        let end_bound = i64::from(end.unwrap_or(u32::MAX));
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT ledger_start, ledger_end FROM {} WHERE ledger_end >= ? AND ledger_start <= ? ORDER BY ledger_start",
                self.lineage()
            ))
            .ctx(|| "reading the lineage table".into())?;
        let ranges: Vec<(i64, i64)> = stmt
            .query_map(params![i64::from(start), end_bound], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx(|| "reading the lineage table".into())?
            .collect::<Result<_, _>>()
            .ctx(|| "reading the lineage table".into())?;
        let mut next = i64::from(start);
        let mut committed = 0u64;
        for (s, e) in &ranges {
            if *s <= next {
                committed += (e + 1 - next.max(*s)).max(0) as u64;
                next = next.max(e + 1);
            } else {
                return Err(StoreError::Refused(format!(
                    "ledgers {s}-{e} of schema {} are already committed but ledgers {next}-{} before them are not; \
                     ingest the range {next}-{} separately (end_ledger: {}) or start after {e}",
                    self.schema,
                    s - 1,
                    s - 1,
                    s - 1
                )));
            }
        }
        let next = u32::try_from(next).unwrap_or(u32::MAX);
        let prev_hash = if next > 1 {
            let hash: Option<String> = self
                .conn
                .query_row(
                    &format!("SELECT max(last_ledger_hash) FROM {} WHERE ledger_end = ?", self.lineage()),
                    params![i64::from(next - 1)],
                    |r| r.get(0),
                )
                .ctx(|| "reading the lineage table".into())?;
            hash.and_then(|h| hex::decode(h).ok()).and_then(|b| <[u8; 32]>::try_from(b).ok())
        } else {
            None
        };
        Ok(ResumePoint { next, prev_hash, committed: committed.min(end_bound as u64 + 1) })
    }

    /// Writes every table of the batch and its lineage row in one transaction.
    /// A DuckLake write conflict with another process (beyond DuckLake's own
    /// retries) rolls back and is retried with the same rows.
    pub fn commit(&mut self, batch: &Batch) -> Result<CommitStats, StoreError> {
        let (Some(first), Some(last)) = (batch.first().copied(), batch.last().copied()) else {
            return Err(StoreError::Refused("empty batch".into()));
        };
        let db = self._db.clone();
        let _writing = db.write_lock();
        let started = Instant::now();
        let rows = batch.row_counts();
        // Files are written once; each attempt of the transaction registers them.
        let files = match &self.files {
            Some(f) => f.write(batch, &format!("{}-{}", first.seq, last.seq))?,
            None => Vec::new(),
        };
        retry_transient(
            || self.write(batch, &first, &last, &rows, &files),
            &format!("committing ledgers {}-{}", first.seq, last.seq),
        )?;
        let commit_ms = started.elapsed().as_millis() as u64;

        // A lake's metadata database is checkpointed by DuckDB's WAL threshold and at shutdown.
        let checkpoint_ms = if self.checkpoint_after_batch && !self.lake {
            let t = Instant::now();
            match self.conn.execute_batch(&format!("CHECKPOINT {}", ident(&self.catalog))) {
                Ok(()) => Some(t.elapsed().as_millis() as u64),
                // A fatal error (a full disk, an I/O error) invalidates the
                // database: every later statement would fail with a message
                // that hides the cause, so stop here, naming it. The batch
                // is durable in the WAL and is found again on restart.
                Err(e) if e.to_string().contains("FATAL Error") => {
                    return Err(StoreError::Refused(format!(
                        "ledgers {}-{} are committed (in the write-ahead log), but the CHECKPOINT after them \
                         failed and DuckDB closed the database: {e}",
                        first.seq, last.seq
                    )));
                }
                Err(e) => {
                    // The batch is durable in the WAL; a failed checkpoint only delays compaction.
                    tracing::warn!(error = %e, "CHECKPOINT after batch failed; will retry after the next batch");
                    None
                }
            }
        } else {
            None
        };
        Ok(CommitStats { first: first.seq, last, ledgers: batch.len(), rows, commit_ms, checkpoint_ms })
    }

    /// One attempt at [`Self::commit`]: nothing is visible unless it returns
    /// Ok. The transaction runs on the committer's own C API connection,
    /// which writes each table's Arrow batches once (see [`super::arrow_write`]).
    fn write(
        &mut self,
        batch: &Batch,
        first: &LedgerId,
        last: &LedgerId,
        rows: &[(&'static str, u64)],
        files: &[WrittenFile],
    ) -> Result<(), StoreError> {
        let what = format!("ledgers {}-{}", first.seq, last.seq);
        self.writer.in_transaction(&what, || self.write_in_transaction(batch, first, last, rows, files))
    }

    fn write_in_transaction(
        &self,
        batch: &Batch,
        first: &LedgerId,
        last: &LedgerId,
        rows: &[(&'static str, u64)],
        files: &[WrittenFile],
    ) -> Result<(), StoreError> {
        let w = &self.writer;
        let lineage = self.lineage();
        let schema = &self.schema;
        // The batch id is read inside the transaction: other processes may
        // commit to the same schema (parallel backfill of disjoint ranges).
        let found = w
            .query_i64s(
                &format!(
                    "SELECT count(*) FILTER (WHERE ledger_start <= {} AND ledger_end >= {}), \
                     coalesce(max(batch_id), 0) + 1 FROM {lineage}",
                    last.seq, first.seq
                ),
                2,
            )
            .ctx(|| "checking the lineage table".into())?;
        let (overlap, batch_id) = (found[0].unwrap_or(0), found[1].unwrap_or(1));
        if overlap > 0 {
            return Err(StoreError::Refused(format!(
                "ledgers {}-{} overlap ledgers already committed in schema {schema}; refusing to write them twice",
                first.seq, last.seq
            )));
        }
        for (name, _) in all_tables() {
            let parts = batch.parts(name);
            if parts.iter().all(|b| b.num_rows() == 0) {
                continue;
            }
            if let Some(file) = files.iter().find(|f| f.table == name) {
                let path = file.path.to_str().ok_or_else(|| {
                    StoreError::Refused(format!("the data file {} has a name that is not UTF-8", file.path.display()))
                })?;
                w.execute(&format!(
                    "CALL ducklake_add_data_files({}, {}, {}, schema => {})",
                    literal(&self.catalog),
                    literal(name),
                    literal(path),
                    literal(schema)
                ))
                .ctx(|| format!("registering the data file of {name} ({} rows)", file.rows))?;
                continue;
            }
            let insert;
            let target = if self.lake {
                insert = format!("INSERT INTO {} SELECT * FROM appended_data", self.qualified(name));
                Target::Query(&insert)
            } else {
                Target::Table { catalog: &self.catalog, schema, table: name }
            };
            w.append(&target, &parts).ctx(|| format!("writing {name}"))?;
        }
        let row_counts: serde_json::Map<String, serde_json::Value> =
            rows.iter().map(|(t, n)| (t.to_string(), (*n).into())).collect();
        w.execute(&format!(
            "INSERT INTO {lineage} VALUES ({batch_id}, {}, {}, {}, {}, {}, make_timestamp({}::BIGINT), {}, {}, {}, {}, \
             make_timestamp({}::BIGINT))",
            first.seq,
            last.seq,
            batch.len(),
            literal(&hex::encode(first.prev_hash)),
            literal(&hex::encode(last.hash)),
            last.closed_at.0,
            literal(&serde_json::Value::Object(row_counts).to_string()),
            literal(&self.passphrase),
            literal(&self.source),
            literal(env!("CARGO_PKG_VERSION")),
            Timestamp::now().0,
        ))
        .ctx(|| "writing the lineage row".into())
    }
}
