//! The store: one DuckDB instance with the catalog ATTACHed under
//! `catalog_name` (a DuckDB database file, or a DuckLake through
//! [`super::lake`]), one connection per source for commits and cloned
//! connections for readers (MVCC keeps them consistent while batches commit).

use std::path::Path;
use std::time::Instant;

use std::sync::Arc;

use duckdb::{Connection, params};
use ducklake_crds::config::{LakeMetadata, LakeS3Config, Storage};

use super::raw::RawDatabase;
use super::{Batch, CommitStats, DbContext, LINEAGE_TABLE, ResumePoint, StoreError};
use super::{extensions, lake};
use crate::extract::LedgerId;
use crate::tables::{CURRENT_VIEWS, Column, Timestamp, all_tables, create_table_sql_with, current_view_sql};

/// Settings of the DuckDB instance and commit policy.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub storage: Storage,
    pub catalog_name: String,
    pub threads: Option<u32>,
    pub memory_limit: Option<String>,
    /// DuckDB `checkpoint_threshold` (the WAL size that triggers an automatic checkpoint).
    pub wal_autocheckpoint: String,
    pub checkpoint_after_batch: bool,
    /// DuckDB extension directory; optional extensions found there are loaded.
    pub extension_directory: Option<String>,
    /// DuckLake-only settings.
    pub lake: LakeSettings,
    /// Attach the catalog read-only (`serve --read-only`): nothing is created or written.
    pub read_only: bool,
}

impl StoreSettings {
    /// Settings for a plain DuckDB file with the defaults of the configuration.
    pub fn duckdb_file(path: impl Into<String>, catalog_name: impl Into<String>) -> Self {
        StoreSettings {
            storage: Storage::DuckDb { path: path.into() },
            catalog_name: catalog_name.into(),
            threads: None,
            memory_limit: None,
            wal_autocheckpoint: "1GB".into(),
            checkpoint_after_batch: true,
            extension_directory: None,
            lake: LakeSettings::default(),
            read_only: false,
        }
    }
}

/// Settings that apply to DuckLake storage only.
#[derive(Debug, Clone, Default)]
pub struct LakeSettings {
    pub metadata_schema: Option<String>,
    pub data_inlining_row_limit: u64,
    pub s3: Option<LakeS3Config>,
}

/// Double-quoted SQL identifier.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Single-quoted SQL string literal (for statements that cannot take parameters).
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One DuckDB instance with the catalog attached.
pub struct Database {
    conn: Connection,
    settings: StoreSettings,
    /// Declared last: dropped after the connection above.
    raw: Arc<RawDatabase>,
}

/// The state of a DuckLake catalog, read without changing it (`check-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeState {
    /// No lake there yet: `run` creates it in [`lake::FORMAT_VERSION`].
    New,
    /// A lake in this format, which this engine reads and writes as it is.
    Current { version: String },
    /// A lake in an older format, which `run` migrates when it opens it.
    NeedsMigration { from: String },
}

/// Reads the format of the configured DuckLake without writing to it: a
/// read-only attach, which DuckLake refuses (naming the format) when the
/// catalog needs a migration. `None` for a DuckDB file.
pub fn inspect_lake(settings: &StoreSettings) -> Result<Option<LakeState>, StoreError> {
    let Storage::DuckLake { metadata, .. } = &settings.storage else { return Ok(None) };
    if let LakeMetadata::DuckDb { path } = metadata
        && !Path::new(path).exists()
    {
        return Ok(Some(LakeState::New));
    }
    let mut read_only = StoreSettings { read_only: true, ..settings.clone() };
    // A look, not a run: an unreachable server must not hold check-config for minutes.
    if let Storage::DuckLake { metadata: LakeMetadata::Postgres { conninfo }, .. } = &mut read_only.storage
        && !conninfo.contains("connect_timeout")
        && !conninfo.contains("://")
    {
        conninfo.push_str(" connect_timeout=5");
    }
    match Database::open(&read_only) {
        Ok(db) => {
            let version: String = db
                .conn
                .query_row(
                    "SELECT value FROM ducklake_options(?) WHERE option_name = 'version'",
                    params![db.settings.catalog_name],
                    |r| r.get(0),
                )
                .ctx(|| "reading the DuckLake format version".into())?;
            Ok(Some(LakeState::Current { version }))
        }
        Err(StoreError::NeedsMigration { from }) => Ok(Some(LakeState::NeedsMigration { from })),
        // A PostgreSQL catalog with no lake in it yet.
        Err(StoreError::Db { source, .. })
            if source.to_string().contains("does not exist - and creating a new DuckLake is explicitly disabled") =>
        {
            Ok(Some(LakeState::New))
        }
        Err(e) => Err(e),
    }
}

impl Database {
    /// Opens DuckDB in memory and ATTACHes the catalog: the DuckDB file
    /// (created if missing) or the DuckLake (created on first use).
    pub fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        let mut settings = settings.clone();
        settings.storage = absolute_storage(&settings.storage)?;
        let lake = settings.storage.is_ducklake();
        if !settings.read_only {
            create_parent_dirs(&settings.storage)?;
        }
        let extension_directory = match (&settings.extension_directory, lake) {
            (Some(dir), _) => Some(dir.clone()),
            (None, true) => Some(extensions::default_directory().display().to_string()),
            (None, false) => None,
        };
        let mut options = vec![("autoload_known_extensions", "false".to_string())];
        if let Some(dir) = &extension_directory {
            options.push(("extension_directory", dir.clone()));
        }
        if let Some(t) = settings.threads {
            options.push(("threads", t.to_string()));
        }
        if let Some(m) = &settings.memory_limit {
            options.push(("memory_limit", m.clone()));
        }
        if settings.read_only && !lake {
            options.push(("access_mode", "READ_ONLY".to_string()));
        }
        if let Some(dir) = temp_directory(&settings.storage, settings.read_only) {
            options.push(("temp_directory", dir));
        }
        let raw = Arc::new(RawDatabase::open_in_memory(&options).map_err(|e| match settings.memory_limit {
            Some(_) => StoreError::Refused(format!("ducklake.threads / ducklake.memory_limit: {e}")),
            None => e,
        })?);
        let conn = raw.connect()?;
        conn.execute_batch(&format!(
            "SET autoinstall_known_extensions = false; SET checkpoint_threshold = {};",
            literal(&settings.wal_autocheckpoint)
        ))
        .ctx(|| format!("ducklake.wal_autocheckpoint {:?}", settings.wal_autocheckpoint))?;
        if let Some(dir) = &extension_directory {
            extensions::load(&conn, Path::new(dir), &extensions::required(&settings.storage))?;
        }
        let catalog = ident(&settings.catalog_name);
        match &settings.storage {
            Storage::DuckDb { path } => {
                // The 1.4 storage format enables zstd for strings (see tables::core);
                // files need DuckDB 1.2 or newer to read.
                let mode = if settings.read_only { ", READ_ONLY" } else { "" };
                conn.execute_batch(&format!(
                    "ATTACH {} AS {catalog} (STORAGE_VERSION 'v1.4.0'{mode}); USE {catalog};",
                    literal(path)
                ))
                .ctx(|| format!("ducklake.catalog_path: cannot open {path}"))?;
            }
            Storage::DuckLake { metadata, data_path } => {
                if settings.storage.s3_data_path().is_some() {
                    let s3 =
                        lake::s3_settings(&settings.lake.s3.clone().unwrap_or_default(), |k| std::env::var(k).ok())?;
                    lake::create_s3_secret(&conn, &s3)?;
                }
                let options = lake::AttachOptions {
                    catalog_name: &settings.catalog_name,
                    metadata,
                    data_path,
                    metadata_schema: settings.lake.metadata_schema.as_deref(),
                    data_inlining_row_limit: settings.lake.data_inlining_row_limit,
                    read_only: settings.read_only,
                };
                // Processes starting together race to create a new lake's metadata tables.
                retry_transient(|| lake::attach(&conn, &options), "attaching the lake")?;
                if !settings.read_only {
                    let name = ident(&settings.catalog_name);
                    let sql = format!(
                        "CALL {name}.set_option('parquet_row_group_size', {PARQUET_ROW_GROUP_ROWS}); \
                         CALL {name}.set_option('target_file_size', '{TARGET_FILE_SIZE}');"
                    );
                    retry_transient(
                        || {
                            conn.execute_batch(&sql)
                                .ctx(|| "setting the lake's parquet_row_group_size and target_file_size".into())
                        },
                        "setting the lake's options",
                    )?;
                }
            }
        }
        Ok(Database { conn, settings, raw })
    }

    /// Where the tables live (local paths made absolute).
    pub fn storage(&self) -> &Storage {
        &self.settings.storage
    }

    /// A new connection to the same instance (for queries or another source).
    pub fn connection(&self) -> Result<Connection, StoreError> {
        self.conn.try_clone().ctx(|| "opening a DuckDB connection".into())
    }

    /// The instance itself, for statement classification and raw connections.
    pub fn raw(&self) -> Arc<RawDatabase> {
        self.raw.clone()
    }

    pub fn catalog_name(&self) -> &str {
        &self.settings.catalog_name
    }

    /// A store writing `schema`, with its tables created (or checked) and
    /// bound to `passphrase`.
    pub fn store(&self, schema: &str, passphrase: &str, source: &str) -> Result<DuckDbStore, StoreError> {
        if self.settings.read_only {
            return Err(StoreError::Refused("the catalog is attached read-only".into()));
        }
        let conn = self.connection()?;
        let mut store = DuckDbStore {
            conn,
            lake: self.settings.storage.is_ducklake(),
            catalog: self.settings.catalog_name.clone(),
            schema: schema.to_string(),
            checkpoint_after_batch: self.settings.checkpoint_after_batch,
            passphrase: passphrase.to_string(),
            source: source.to_string(),
            _db: self.raw.clone(),
        };
        store.prepare()?;
        Ok(store)
    }

    /// Disables file and network access for every later statement and locks
    /// the configuration, so queries cannot read files, ATTACH, INSTALL or SET.
    /// The attached catalog stays writable. Call once every store is prepared.
    /// A DuckLake's data path stays reachable (only it).
    pub fn lock_down(&self) -> Result<(), StoreError> {
        if let Storage::DuckLake { data_path, .. } = &self.settings.storage {
            // SET takes no parameters: the path goes through a variable.
            lake::with_variables(
                &self.conn,
                &[("ducklake_allowed", data_path)],
                "SET allowed_directories = [getvariable('ducklake_allowed')]",
                || format!("allowing the DuckLake data path {data_path}"),
            )?;
        }
        self.conn
            .execute_batch("SET enable_external_access = false; SET lock_configuration = true;")
            .ctx(|| "locking the DuckDB configuration".into())
    }

    /// Flushes the WAL into the database file (for DuckLake, into the
    /// metadata file of a DuckDB-catalogued lake; a no-op on PostgreSQL).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        if let Some(sql) = checkpoint_statement(&self.settings.storage, &self.settings.catalog_name)
            && !self.settings.read_only
        {
            self.conn.execute_batch(&sql).ctx(|| "CHECKPOINT".into())?;
        }
        Ok(())
    }
}

/// The `CHECKPOINT` that flushes the WAL of the DuckDB database behind the
/// catalog: the catalog itself, or the metadata database DuckLake attaches as
/// `__ducklake_metadata_<name>` (a checkpoint of the lake itself would run
/// all of DuckLake's maintenance); none for a PostgreSQL catalog.
pub(crate) fn checkpoint_statement(storage: &Storage, catalog_name: &str) -> Option<String> {
    let db = match storage {
        Storage::DuckDb { .. } => catalog_name.to_string(),
        Storage::DuckLake { metadata: LakeMetadata::DuckDb { .. }, .. } => {
            format!("__ducklake_metadata_{catalog_name}")
        }
        Storage::DuckLake { metadata: LakeMetadata::Postgres { .. }, .. } => return None,
    };
    Some(format!("CHECKPOINT {}", ident(&db)))
}

/// Local paths made absolute, so DuckDB's allowed-directories check and the
/// logs see one spelling whatever the working directory.
fn absolute_storage(storage: &Storage) -> Result<Storage, StoreError> {
    let abs = |p: &str| -> Result<String, StoreError> {
        let trailing = p.ends_with('/');
        let a = std::path::absolute(p)
            .map_err(|e| StoreError::Refused(format!("ducklake: cannot resolve the path {p}: {e}")))?
            .display()
            .to_string();
        Ok(if trailing && !a.ends_with('/') { a + "/" } else { a })
    };
    Ok(match storage {
        Storage::DuckDb { path } if path == ":memory:" || path.contains("://") => storage.clone(),
        Storage::DuckDb { path } => Storage::DuckDb { path: abs(path)? },
        Storage::DuckLake { metadata, data_path } => Storage::DuckLake {
            metadata: match metadata {
                LakeMetadata::DuckDb { path } => LakeMetadata::DuckDb { path: abs(path)? },
                m => m.clone(),
            },
            data_path: if data_path.starts_with("s3://") { data_path.clone() } else { abs(data_path)? },
        },
    })
}

/// Where DuckDB spills operators that do not fit `memory_limit`: beside the
/// catalog, on the data volume. DuckDB's default for an in-memory database is
/// `.tmp` under the working directory, which a container may not be able to
/// write (queries and commits would then fail for memory instead of spilling).
/// Not inside a lake's data path, whose orphan cleanup owns every file there.
fn temp_directory(storage: &Storage, read_only: bool) -> Option<String> {
    if read_only {
        return None;
    }
    match storage {
        Storage::DuckDb { path } | Storage::DuckLake { metadata: LakeMetadata::DuckDb { path }, .. } => {
            Some(format!("{path}.tmp"))
        }
        Storage::DuckLake { data_path, .. } if !data_path.contains("://") => {
            Some(format!("{}.tmp", data_path.trim_end_matches('/')))
        }
        Storage::DuckLake { .. } => None,
    }
}

/// Creates the directories of local catalog files and of a local data path.
fn create_parent_dirs(storage: &Storage) -> Result<(), StoreError> {
    let mkdir = |dir: &Path, key: &str| {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Refused(format!("ducklake.{key}: cannot create directory {}: {e}", dir.display())))
    };
    let parent = |p: &str| Path::new(p).parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf);
    match storage {
        Storage::DuckDb { path } | Storage::DuckLake { metadata: LakeMetadata::DuckDb { path }, .. } => {
            if let Some(dir) = parent(path) {
                mkdir(&dir, "catalog_path")?;
            }
        }
        Storage::DuckLake { .. } => {}
    }
    if let Storage::DuckLake { data_path, .. } = storage
        && !data_path.starts_with("s3://")
    {
        mkdir(Path::new(data_path), "data_path")?;
    }
    Ok(())
}

/// Commits batches of one source into one schema.
pub struct DuckDbStore {
    conn: Connection,
    /// DuckLake tables take no appender: rows are appended to per-connection
    /// TEMP staging tables and moved with `INSERT ... SELECT` in the same transaction.
    lake: bool,
    catalog: String,
    schema: String,
    checkpoint_after_batch: bool,
    passphrase: String,
    source: String,
    /// Keeps the instance open while this store's connection lives.
    _db: Arc<RawDatabase>,
}

/// Rows per row group of the lake's Parquet files (DuckDB's default is
/// 122,880, and a merged file is often one group). A query reads whole row
/// groups of the columns it selects: a lookup by hash with `SELECT *` on a
/// merged 68,698-row transactions file took 160-260 ms (and held its XDR
/// columns in memory) against 25-38 ms with 8,192-row groups, for a file 9%
/// larger; smaller groups also let one file's scan use every thread.
pub const PARQUET_ROW_GROUP_ROWS: u32 = 8192;

/// The size at which `ducklake_merge_adjacent_files` leaves a file alone
/// (DuckLake's default is 512 MiB). Each maintenance run merges a table's
/// files smaller than this, the earlier merged one included: with the
/// default, the one-hour soak's merge rewrote its whole 237 MB transactions
/// file every run, taking 3 s at 10 minutes and 43 s at 55, while commits
/// waited. With 64 MB a run rewrites at most about twice that per table
/// (the soak's 25-minute run: a 63.5 MB file and a 21 MB one, merged in 7 s).
pub const TARGET_FILE_SIZE: &str = "64MB";

impl DuckDbStore {
    fn qualified(&self, table: &str) -> String {
        format!("{}.{}.{}", ident(&self.catalog), ident(&self.schema), ident(table))
    }

    fn lineage(&self) -> String {
        self.qualified(LINEAGE_TABLE)
    }

    /// Creates the schema, tables and lineage table; adds columns this
    /// version introduced to tables created by an older one; refuses a schema
    /// that holds another network's ledgers.
    fn prepare(&mut self) -> Result<(), StoreError> {
        // Several processes may prepare one lake at once (parallel backfill):
        // the loser of a DDL race retries and finds everything in place.
        retry_transient(|| self.create_tables(), "creating the tables")?;
        if self.lake {
            let mut ddl = String::new();
            for (name, columns) in all_tables() {
                ddl.push_str(&create_table_sql_with("temp.main", name, columns, false).replacen(
                    "CREATE TABLE",
                    "CREATE TEMP TABLE",
                    1,
                ));
                ddl.push_str(";\n");
            }
            self.conn.execute_batch(&ddl).ctx(|| "creating the staging tables".into())?;
        }
        let other: Option<String> = self
            .conn
            .query_row(
                &format!(
                    "SELECT max(network_passphrase) FILTER (WHERE network_passphrase <> ?) FROM {}",
                    self.lineage()
                ),
                params![self.passphrase],
                |r| r.get(0),
            )
            .ctx(|| "reading the lineage table".into())?;
        if let Some(other) = other {
            return Err(StoreError::Refused(format!(
                "schema {:?} already holds ledgers of network {other:?}, not {:?}; use another schema_name",
                self.schema, self.passphrase
            )));
        }
        Ok(())
    }

    /// Schema, tables, lineage table, migrations and views, in one transaction.
    fn create_tables(&self) -> Result<(), StoreError> {
        let schema_q = format!("{}.{}", ident(&self.catalog), ident(&self.schema));
        let mut ddl = format!("BEGIN;\nCREATE SCHEMA IF NOT EXISTS {schema_q};\n");
        for (name, columns) in all_tables() {
            ddl.push_str(&create_table_sql_with(&schema_q, name, columns, !self.lake));
            ddl.push_str(";\n");
        }
        ddl.push_str(&create_table_sql_with(&schema_q, LINEAGE_TABLE, LINEAGE_COLUMNS, !self.lake));
        ddl.push(';');
        let rollback = |e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            e
        };
        self.conn.execute_batch(&ddl).ctx(|| format!("creating tables in schema {}", self.schema)).map_err(rollback)?;
        for (name, columns) in all_tables() {
            self.migrate(name, columns).map_err(rollback)?;
        }
        // Views after migration: `SELECT *` binds the columns as they are now.
        let views: Vec<String> =
            CURRENT_VIEWS.iter().map(|v| current_view_sql(&self.catalog, &self.schema, v)).collect();
        self.conn
            .execute_batch(&(views.join(";\n") + ";\nCOMMIT;"))
            .ctx(|| format!("creating the *_current views in schema {}", self.schema))
            .map_err(rollback)
    }

    /// Brings a table created by an older version up to date: its columns
    /// must be a prefix of ours; the missing ones are added (NULL for old rows).
    fn migrate(&self, table: &str, columns: &[Column]) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT column_name FROM duckdb_columns() \
                 WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index",
            )
            .ctx(|| format!("inspecting {table}"))?;
        let existing: Vec<String> = stmt
            .query_map(params![self.catalog, self.schema, table], |r| r.get(0))
            .ctx(|| format!("inspecting {table}"))?
            .collect::<Result<_, _>>()
            .ctx(|| format!("inspecting {table}"))?;
        for (i, name) in existing.iter().enumerate() {
            if columns.get(i).is_none_or(|c| c.name != name) {
                return Err(StoreError::Refused(format!(
                    "table {}.{table} has column #{} {name:?} where this version expects {:?}; \
                     it was not created by a compatible ingester",
                    self.schema,
                    i + 1,
                    columns.get(i).map_or("(nothing)", |c| c.name)
                )));
            }
        }
        for c in &columns[existing.len()..] {
            let ty = c.sql_type.replace(" NOT NULL", "");
            // The compression clause is for CREATE TABLE only.
            let ty = ty.split(" USING ").next().unwrap_or(&ty);
            self.conn
                .execute_batch(&format!("ALTER TABLE {} ADD COLUMN {} {ty}", self.qualified(table), ident(c.name)))
                .ctx(|| format!("adding column {} to {table}", c.name))?;
            tracing::info!(table, column = c.name, "added column to existing table");
        }
        Ok(())
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
        retry_transient(
            || self.write(batch, &first, &last, &rows),
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

    /// One attempt at [`Self::commit`]: nothing is visible unless it returns Ok.
    fn write(
        &mut self,
        batch: &Batch,
        first: &LedgerId,
        last: &LedgerId,
        rows: &[(&'static str, u64)],
    ) -> Result<(), StoreError> {
        let lineage = self.lineage();
        let (catalog, schema) = (self.catalog.clone(), self.schema.clone());
        let row_counts: serde_json::Map<String, serde_json::Value> =
            rows.iter().map(|(t, n)| (t.to_string(), (*n).into())).collect();

        let tx = self.conn.transaction().ctx(|| "BEGIN".into())?;
        // The batch id is read inside the transaction: other processes may
        // commit to the same schema (parallel backfill of disjoint ranges).
        let (overlap, batch_id): (i64, i64) = tx
            .query_row(
                &format!(
                    "SELECT count(*) FILTER (WHERE ledger_start <= ? AND ledger_end >= ?), \
                     coalesce(max(batch_id), 0) + 1 FROM {lineage}"
                ),
                params![i64::from(last.seq), i64::from(first.seq)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx(|| "checking the lineage table".into())?;
        if overlap > 0 {
            return Err(StoreError::Refused(format!(
                "ledgers {}-{} overlap ledgers already committed in schema {schema}; refusing to write them twice",
                first.seq, last.seq
            )));
        }
        for (name, _) in all_tables() {
            let mut parts = batch.ledgers.iter().flat_map(|l| l.tables.iter()).filter(|t| t.table == name).peekable();
            if parts.peek().is_none() {
                continue;
            }
            let (db, sch) = if self.lake { ("temp", "main") } else { (catalog.as_str(), schema.as_str()) };
            let mut appender =
                tx.appender_to_catalog_and_db(name, db, sch).ctx(|| format!("opening an appender on {name}"))?;
            for part in parts {
                appender.append_record_batch(part.batch.clone()).ctx(|| format!("appending to {name}"))?;
            }
            appender.flush().ctx(|| format!("writing {name}"))?;
            drop(appender);
            if self.lake {
                let staged = format!("temp.main.{}", ident(name));
                tx.execute_batch(&format!(
                    "INSERT INTO {}.{}.{} SELECT * FROM {staged}; DELETE FROM {staged};",
                    ident(&catalog),
                    ident(&schema),
                    ident(name)
                ))
                .ctx(|| format!("writing {name} to the lake"))?;
            }
        }
        tx.execute(
            &format!(
                "INSERT INTO {lineage} VALUES (?, ?, ?, ?, ?, ?, make_timestamp(?::BIGINT), ?, ?, ?, ?, make_timestamp(?::BIGINT))"
            ),
            params![
                batch_id,
                i64::from(first.seq),
                i64::from(last.seq),
                batch.len() as i32,
                hex::encode(first.prev_hash),
                hex::encode(last.hash),
                last.closed_at.0,
                serde_json::Value::Object(row_counts).to_string(),
                self.passphrase,
                self.source,
                env!("CARGO_PKG_VERSION"),
                Timestamp::now().0,
            ],
        )
        .ctx(|| "writing the lineage row".into())?;
        tx.commit().ctx(|| format!("COMMIT of ledgers {}-{}", first.seq, last.seq))
    }
}

/// Attempts before a write conflict or a memory shortage becomes an error.
const TRANSIENT_ATTEMPTS: u32 = 8;

/// A failure that the same work may not meet again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transient {
    /// Another transaction (or process) wrote the same lake first.
    Conflict,
    /// DuckDB's buffer pool was full (`memory_limit`), typically of concurrent
    /// queries' operators; they finish or time out and free it.
    Memory,
}

impl Transient {
    fn pause(self, attempt: u32) -> std::time::Duration {
        match self {
            // Jittered, so that writers which collided once do not retry in step.
            Transient::Conflict => {
                let full = 50u64 << attempt.min(6);
                let jitter = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), attempt);
                std::time::Duration::from_millis(full / 2 + jitter % (full / 2 + 1))
            }
            // Up to about a minute in all: longer than a query's default timeout.
            Transient::Memory => std::time::Duration::from_millis(500 * u64::from(attempt) * u64::from(attempt)),
        }
    }
}

/// Runs `attempt` again (after a growing pause) while it fails with a
/// transaction conflict, which another process committing to the same lake
/// causes, or for memory, which concurrent queries cause (the failed attempt
/// has rolled back); any other error, or the last transient one, is returned.
pub(crate) fn retry_transient<T>(
    mut attempt: impl FnMut() -> Result<T, StoreError>,
    what: &str,
) -> Result<T, StoreError> {
    let mut n = 0;
    loop {
        n += 1;
        let e = match attempt() {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(kind) = transient(&e).filter(|_| n < TRANSIENT_ATTEMPTS) else { return Err(e) };
        let pause = kind.pause(n);
        let why = if kind == Transient::Memory { "out of memory" } else { "write conflict" };
        tracing::warn!(attempt = n, pause_ms = pause.as_millis() as u64, error = %e, "{what}: {why}; retrying");
        std::thread::sleep(pause);
    }
}

/// Whether retrying the same work may succeed. Processes creating a new lake
/// together race on its metadata tables, which PostgreSQL reports as a
/// duplicate key or as a table that already exists.
fn transient(e: &StoreError) -> Option<Transient> {
    let StoreError::Db { source, .. } = e else { return None };
    let m = source.to_string().to_ascii_lowercase();
    // DuckLake wraps it ("Failed to commit DuckLake transaction. Failed to
    // flush changes into DuckLake: failed to pin block ...").
    if m.contains("out of memory") || m.contains("failed to pin block") || m.contains("failed to allocate block") {
        return Some(Transient::Memory);
    }
    let conflict = m.contains("conflict")
        || m.contains("could not serialize")
        || m.contains("duplicate key value")
        || (m.contains("failed to initialize ducklake") && m.contains("already exists"));
    conflict.then_some(Transient::Conflict)
}

/// Columns of the lineage table: one row per committed batch.
pub const LINEAGE_COLUMNS: &[Column] = &[
    Column { name: "batch_id", sql_type: "BIGINT NOT NULL", nullable: false },
    Column { name: "ledger_start", sql_type: "BIGINT NOT NULL", nullable: false },
    Column { name: "ledger_end", sql_type: "BIGINT NOT NULL", nullable: false },
    Column { name: "ledger_count", sql_type: "INTEGER NOT NULL", nullable: false },
    Column { name: "first_previous_ledger_hash", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "last_ledger_hash", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "last_ledger_closed_at", sql_type: "TIMESTAMP NOT NULL", nullable: false },
    Column { name: "row_counts", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "network_passphrase", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "source", sql_type: "VARCHAR", nullable: true },
    Column { name: "ingester_version", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "committed_at", sql_type: "TIMESTAMP NOT NULL", nullable: false },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::LedgerId;
    use crate::store::{Batch, EncodedLedger};
    use crate::tables::{Table, create_table_sql};

    fn settings(dir: &std::path::Path) -> StoreSettings {
        StoreSettings {
            threads: Some(1),
            wal_autocheckpoint: "16MB".into(),
            ..StoreSettings::duckdb_file(dir.join("sub/dir/t.duckdb").display().to_string(), "cat")
        }
    }

    /// A batch of ledgers with chained fake hashes and no table rows.
    fn batch(first: u32, last: u32) -> Batch {
        let hash = |s: u32| {
            let mut h = [0u8; 32];
            h[..4].copy_from_slice(&s.to_be_bytes());
            h
        };
        Batch {
            ledgers: (first..=last)
                .map(|s| EncodedLedger {
                    id: LedgerId {
                        seq: s,
                        hash: hash(s),
                        prev_hash: hash(s - 1),
                        closed_at: Timestamp(i64::from(s) * 1_000_000),
                    },
                    tables: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn resume_follows_the_lineage() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&settings(dir.path())).unwrap();
        let mut store = db.store("testnet", "P", "test").unwrap();
        assert_eq!(store.resume(100, Some(200)).unwrap(), ResumePoint { next: 100, prev_hash: None, committed: 0 });
        store.commit(&batch(100, 109)).unwrap();
        store.commit(&batch(110, 119)).unwrap();
        let r = store.resume(100, Some(200)).unwrap();
        assert_eq!((r.next, r.committed), (120, 20));
        assert_eq!(r.prev_hash.unwrap()[..4], 119u32.to_be_bytes());
        // A range starting inside committed ledgers resumes after them.
        assert_eq!(store.resume(105, None).unwrap().next, 120);
        // A disjoint later range starts at its own start; its predecessor is unknown.
        assert_eq!(store.resume(500, Some(600)).unwrap(), ResumePoint { next: 500, prev_hash: None, committed: 0 });
        // A range right after committed ledgers knows the hash to chain to.
        assert_eq!(store.resume(120, Some(130)).unwrap().prev_hash.unwrap()[..4], 119u32.to_be_bytes());
    }

    #[test]
    fn overlaps_and_gaps_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&settings(dir.path())).unwrap();
        let mut store = db.store("testnet", "P", "test").unwrap();
        store.commit(&batch(100, 109)).unwrap();
        let err = store.commit(&batch(105, 112)).unwrap_err().to_string();
        assert!(err.contains("overlap ledgers already committed"), "{err}");
        store.commit(&batch(150, 160)).unwrap();
        let err = store.resume(100, Some(200)).unwrap_err().to_string();
        assert!(err.contains("ledgers 150-160 of schema testnet are already committed but ledgers 110-149"), "{err}");
        // Only whole batches exist: the failed commit left nothing behind.
        let rows: i64 = store
            .conn
            .query_row("SELECT sum(ledger_count) FROM cat.testnet._ingest_lineage", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 21);
    }

    #[test]
    fn a_schema_belongs_to_one_network() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&settings(dir.path())).unwrap();
        db.store("s", "P", "test").unwrap().commit(&batch(10, 11)).unwrap();
        let err = db.store("s", "Q", "test").err().unwrap().to_string();
        assert!(err.contains("already holds ledgers of network \"P\""), "{err}");
    }

    #[test]
    fn tables_from_the_go_tool_are_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&settings(dir.path())).unwrap();
        // The Go tool's transactions table: the 48 reference columns only.
        let reference = &crate::tables::TransactionRow::COLUMNS[..48];
        let conn = db.connection().unwrap();
        conn.execute_batch("CREATE SCHEMA cat.mainnet").unwrap();
        conn.execute_batch(&create_table_sql("cat.mainnet", "transactions_row_v2", reference)).unwrap();
        db.store("mainnet", "P", "test").unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'mainnet' AND table_name = 'transactions_row_v2'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n as usize, crate::tables::TransactionRow::COLUMNS.len());
        // A table with a different shape is refused.
        conn.execute_batch("CREATE SCHEMA cat.other; CREATE TABLE cat.other.ledgers_row_v2 (seq BIGINT)").unwrap();
        let err = db.store("other", "P", "test").err().unwrap().to_string();
        assert!(err.contains("has column #1 \"seq\" where this version expects \"sequence\""), "{err}");
    }

    #[test]
    fn conflicts_are_told_from_other_errors() {
        let db =
            |m: &str| StoreError::Db { context: "x".into(), source: duckdb::Error::InvalidParameterName(m.into()) };
        assert_eq!(Some(Transient::Conflict), transient(&db("TransactionContext Error: Transaction conflict: ...")));
        assert_eq!(Some(Transient::Conflict), transient(&db("ERROR:  duplicate key value violates unique constraint")));
        assert_eq!(
            Some(Transient::Conflict),
            transient(&db(
                "Failed to initialize DuckLake:Failed to execute query \"CREATE TABLE ...\": ERROR:  relation \"ducklake_metadata\" already exists"
            ))
        );
        // DuckLake's own retries exhausted (a flush racing inserts, as 1.5.5 reports it).
        assert_eq!(
            Some(Transient::Conflict),
            transient(&db("TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n\
                 Exceeded the maximum retry count of 10 set by the ducklake_max_retry_count setting.\n\
                 Failed to flush changes into DuckLake: Conflict on update!"))
        );
        assert_eq!(
            Some(Transient::Conflict),
            transient(&db("Failed to flush changes into DuckLake: ...: ERROR:  could not serialize access due to concurrent update"))
        );
        assert_eq!(None, transient(&db("Catalog Error: Table with name t already exists")));
        assert_eq!(None, transient(&db("Parser Error: Failed to parse query")));
        assert_eq!(None, transient(&StoreError::Refused("conflict".into())));
        assert_eq!(
            Some(Transient::Memory),
            transient(&db("Out of Memory Error: failed to pin block of size 256.0 KiB (1.8 GiB/1.8 GiB used)"))
        );
        // As the soak saw it from a DuckLake COMMIT.
        assert_eq!(
            Some(Transient::Memory),
            transient(&db("TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n\
                 Failed to flush changes into DuckLake: failed to pin block of size 256.0 KiB (1.8 GiB/1.8 GiB used)"))
        );
    }

    #[test]
    fn conflict_pauses_grow_with_jitter() {
        let pauses: Vec<u128> = (1..=3).map(|n| Transient::Conflict.pause(n).as_millis()).collect();
        for (n, p) in pauses.iter().enumerate() {
            let full = 50u128 << (n + 1);
            assert!((full / 2..=full).contains(p), "attempt {}: {p} ms", n + 1);
        }
        // Capped at 3.2 s.
        assert!((1600..=3200).contains(&Transient::Conflict.pause(20).as_millis()));
    }

    #[test]
    fn spills_go_beside_the_catalog_never_into_the_lake_data() {
        let lake = |metadata, data_path: &str| Storage::DuckLake { metadata, data_path: data_path.into() };
        let file = Storage::DuckDb { path: "/data/c.duckdb".into() };
        assert_eq!(temp_directory(&file, false).as_deref(), Some("/data/c.duckdb.tmp"));
        assert_eq!(temp_directory(&file, true), None);
        let duckdb_catalog = lake(LakeMetadata::DuckDb { path: "/data/c.ducklake".into() }, "/data/files/");
        assert_eq!(temp_directory(&duckdb_catalog, false).as_deref(), Some("/data/c.ducklake.tmp"));
        let pg = |data: &str| lake(LakeMetadata::Postgres { conninfo: "dbname=x".into() }, data);
        assert_eq!(temp_directory(&pg("/data/files/"), false).as_deref(), Some("/data/files.tmp"));
        assert_eq!(temp_directory(&pg("s3://bucket/lake/"), false), None);
    }

    #[test]
    fn a_commit_that_ran_out_of_memory_is_retried_and_other_errors_are_not() {
        let oom = || StoreError::Db {
            context: "COMMIT".into(),
            source: duckdb::Error::InvalidParameterName("Out of Memory Error: failed to pin block".into()),
        };
        let mut calls = 0;
        let r = retry_transient(
            || {
                calls += 1;
                if calls < 3 { Err(oom()) } else { Ok(calls) }
            },
            "test",
        );
        assert_eq!(r.unwrap(), 3);
        let mut calls = 0;
        let r: Result<(), _> = retry_transient(
            || {
                calls += 1;
                Err(StoreError::Refused("disk full".into()))
            },
            "test",
        );
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
