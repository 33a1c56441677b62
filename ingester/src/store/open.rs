//! Opening the DuckDB instance: settings, ATTACH of the catalog (a DuckDB
//! file, or a DuckLake through [`super::lake`]), extensions, and locking the
//! instance down before queries run.

use std::path::Path;
use std::sync::Arc;

use duckdb::{Connection, params};
use ducklake_config::{LakeMetadata, LakeS3Config, Storage};

use super::arrow_write::RawConnection;
use super::commit::DuckDbStore;
use super::data_files::DataFiles;
use super::lake::{PARQUET_ROW_GROUP_ROWS, TARGET_FILE_SIZE};
use super::paths::{absolute_storage, create_parent_dirs, temp_directory};
use super::raw::RawDatabase;
use super::retry::retry_transient;
use super::{DbContext, StoreError, extensions, lake};
use crate::sql::{ident, literal};

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
            files: match &self.settings.storage {
                Storage::DuckLake { data_path, .. } => {
                    DataFiles::local(data_path, schema, self.settings.lake.data_inlining_row_limit)
                }
                Storage::DuckDb { .. } => None,
            },
            writer: RawConnection::open(self.raw.clone()).ctx(|| "opening the committer's connection".into())?,
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
