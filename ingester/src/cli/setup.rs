//! What the catalog commands share: loading the configuration (with logging
//! started from it) and the store settings it gives.

use std::path::Path;

use ducklake_config::{IngesterConfig, Storage};

use super::{exit, init_logging};
use crate::config::{self, Invalid, Prepared};
use crate::store::{Database, LakeSettings, StoreSettings};

pub(super) fn store_settings(cfg: &IngesterConfig, read_only: bool) -> StoreSettings {
    let d = &cfg.ducklake;
    StoreSettings {
        // Validated when the configuration was loaded.
        storage: d.storage().unwrap_or(Storage::DuckDb { path: d.catalog_path.clone() }),
        catalog_name: d.catalog_name.clone(),
        threads: d.threads,
        memory_limit: d.memory_limit.clone(),
        wal_autocheckpoint: d.wal_autocheckpoint.clone(),
        checkpoint_after_batch: d.checkpoint_after_batch,
        extension_directory: d.extension_directory.clone(),
        lake: LakeSettings {
            metadata_schema: d.metadata_schema.clone(),
            data_inlining_row_limit: d.data_inlining_row_limit,
            s3: d.s3.clone(),
        },
        read_only,
    }
}

pub(super) async fn load_and_prepare(path: &Path, log: Option<()>) -> Result<Prepared, Invalid> {
    let loaded = config::load(path)?;
    if log.is_some() {
        init_logging(&loaded.config.logging.level, loaded.config.logging.format);
    }
    config::prepare(loaded).await
}

pub(super) fn log_catalog_open(cfg: &IngesterConfig, db: &Database) {
    let (kind, data) = match db.storage() {
        Storage::DuckDb { .. } => ("duckdb", None),
        Storage::DuckLake { data_path, .. } => ("ducklake", Some(data_path.as_str())),
    };
    tracing::info!(
        catalog = %cfg.ducklake.catalog_display(),
        name = %cfg.ducklake.catalog_name,
        storage = kind,
        data_path = data.unwrap_or(""),
        "catalog open"
    );
}

/// The configuration of a command that opens the catalog without sources
/// (`serve`, `maintain`): loaded and validated, logging started, warnings
/// logged; `Err` is the exit code after printing the error.
pub(super) fn load_for_catalog(path: &Path) -> Result<IngesterConfig, i32> {
    let loaded = config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        exit::CONFIG
    })?;
    let cfg = loaded.config;
    init_logging(&cfg.logging.level, cfg.logging.format);
    for w in loaded.warnings.iter().chain(ducklake_config::load::lint(&cfg).iter()) {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}
