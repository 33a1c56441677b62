//! DuckDB extensions, loaded from a configured directory only (never
//! downloaded at run time, never unsigned), before the instance is locked down.

use std::path::{Path, PathBuf};

use duckdb::Connection;
use ducklake_config::{LakeMetadata, Storage};

use super::{DbContext, StoreError};
use crate::sql::literal;

/// `(version, platform)` of the bundled engine as DuckDB spells them in
/// extension paths (`v1.5.5`, `linux_amd64`), asked of DuckDB itself once.
fn engine() -> &'static (String, String) {
    static ENGINE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        Connection::open_in_memory()
            .and_then(|c| {
                c.query_row(
                    "SELECT library_version, (SELECT platform FROM pragma_platform()) FROM pragma_version()",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap_or_else(|_| (String::from("unknown"), String::from("unknown")))
    })
}

/// The bundled DuckDB release, as in extension paths (`v1.5.5`).
pub fn engine_version() -> &'static str {
    &engine().0
}

/// Where `dir` keeps the extension files of this engine (DuckDB's layout:
/// `dir/<version>/<platform>/<name>.duckdb_extension`).
pub fn files_dir(dir: &Path) -> PathBuf {
    let (version, platform) = engine();
    dir.join(version).join(platform)
}

/// Whether `dir` holds every extension file a DuckLake needs (DuckDB-file catalog, local data).
pub fn has_ducklake(dir: &Path) -> bool {
    files_dir(dir).join("ducklake.duckdb_extension").is_file()
}

/// Extensions a storage cannot work without, as DuckDB file names
/// (`<name>.duckdb_extension`). `parquet` and `json` are compiled into the
/// engine, so a DuckDB file needs none.
pub fn required(storage: &Storage) -> Vec<&'static str> {
    let Storage::DuckLake { metadata, .. } = storage else { return Vec::new() };
    let mut names = vec!["ducklake"];
    if storage.s3_data_path().is_some() {
        names.push("httpfs");
    }
    if matches!(metadata, LakeMetadata::Postgres { .. }) {
        names.push("postgres_scanner");
    }
    names
}

/// DuckDB's own default extension directory, used when none is configured.
pub fn default_directory() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".duckdb").join("extensions")
}

/// Loads every `required` extension from `dir` (a missing file is an error
/// naming it and the command that installs it). Signature checks stay on:
/// the files are DuckDB's signed builds, and a file whose signature does not
/// verify is refused by DuckDB itself and reported naming the file.
pub fn load(conn: &Connection, dir: &Path, required: &[&str]) -> Result<(), StoreError> {
    let files = files_dir(dir);
    for name in required {
        let file = files.join(format!("{name}.duckdb_extension"));
        if !file.is_file() {
            return Err(StoreError::Refused(format!(
                "ducklake.extension_directory: the DuckLake storage needs the {name} extension, but {} is missing; \
                 run `scripts/fetch-extensions.sh {}` (or point ducklake.extension_directory at a directory that has it)",
                file.display(),
                dir.display()
            )));
        }
        load_file(conn, &file)?;
    }
    if !required.is_empty() {
        tracing::info!(extensions = ?required, directory = %files.display(), "DuckDB extensions loaded");
    }
    Ok(())
}

/// `LOAD` takes no parameters; the path is a file just checked to exist,
/// quoted as a literal.
fn load_file(conn: &Connection, file: &Path) -> Result<(), StoreError> {
    let path = file.display().to_string();
    conn.execute_batch(&format!("LOAD {}", literal(&path)))
        .ctx(|| format!("ducklake.extension_directory: cannot load {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_per_storage() {
        let lake = |m: LakeMetadata, d: &str| Storage::DuckLake { metadata: m, data_path: d.into() };
        assert!(required(&Storage::DuckDb { path: "x".into() }).is_empty());
        assert_eq!(required(&lake(LakeMetadata::DuckDb { path: "c".into() }, "/d/")), ["ducklake"]);
        assert_eq!(
            required(&lake(LakeMetadata::Postgres { conninfo: "host=x".into() }, "s3://b/p/")),
            ["ducklake", "httpfs", "postgres_scanner"]
        );
    }

    #[test]
    fn paths_follow_the_bundled_engine() {
        assert_eq!(engine_version(), "v1.5.5");
        let files = files_dir(Path::new("/x"));
        assert!(files.starts_with("/x/v1.5.5/"), "{}", files.display());
        assert!(!has_ducklake(Path::new("/nonexistent")));
    }
}
