//! Path policy: where the catalog, the lake's data and DuckDB's spill files go.

use std::path::Path;

use ducklake_config::{LakeMetadata, Storage};

use super::StoreError;

/// Local paths made absolute, so DuckDB's allowed-directories check and the
/// logs see one spelling whatever the working directory.
pub(super) fn absolute_storage(storage: &Storage) -> Result<Storage, StoreError> {
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
pub(super) fn temp_directory(storage: &Storage, read_only: bool) -> Option<String> {
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
pub(super) fn create_parent_dirs(storage: &Storage) -> Result<(), StoreError> {
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
