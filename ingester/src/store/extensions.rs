//! DuckDB extensions, loaded from a configured directory only (never
//! downloaded at run time), before the instance is locked down.

use std::path::{Path, PathBuf};

use duckdb::Connection;
use ducklake_crds::config::{LakeMetadata, Storage};

use super::duckdb::literal;
use super::{DbContext, StoreError};

/// Extensions loaded when the extension directory holds them: `json`, so the
/// JSON columns can be queried with DuckDB's JSON functions.
pub const OPTIONAL: &[&str] = &["json"];

/// Extensions a storage cannot work without, as DuckDB file names (`<name>.duckdb_extension`).
pub fn required(storage: &Storage) -> Vec<&'static str> {
    let Storage::DuckLake { metadata, .. } = storage else { return Vec::new() };
    // json: the query API checks statements with json_serialize_sql (see query::guard).
    let mut names = vec!["parquet", "ducklake", "json"];
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

/// Loads every `required` extension from `dir` (DuckDB's layout:
/// `dir/<version>/<platform>/<name>.duckdb_extension`; a missing file is an
/// error naming it and the command that installs it) and every [`OPTIONAL`]
/// one that is there. A file that is there but does not load is an error naming it.
pub fn load(conn: &Connection, dir: &Path, required: &[&str]) -> Result<(), StoreError> {
    let (version, platform): (String, String) = conn
        .query_row("SELECT library_version, (SELECT platform FROM pragma_platform()) FROM pragma_version()", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ctx(|| "reading DuckDB's version and platform".into())?;
    let files = dir.join(version).join(platform);
    let file = |name: &str| files.join(format!("{name}.duckdb_extension"));
    for name in required {
        let file = file(name);
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
    let mut loaded: Vec<&str> = required.to_vec();
    for name in OPTIONAL.iter().filter(|n| !required.contains(n)) {
        let file = file(name);
        if !file.is_file() {
            tracing::info!(extension = name, file = %file.display(), "extension not installed; skipped (scripts/fetch-extensions.sh installs it)");
            continue;
        }
        load_file(conn, &file)?;
        loaded.push(name);
    }
    if !loaded.is_empty() {
        tracing::info!(extensions = ?loaded, directory = %dir.display(), "DuckDB extensions loaded");
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
        assert_eq!(required(&lake(LakeMetadata::DuckDb { path: "c".into() }, "/d/")), ["parquet", "ducklake", "json"]);
        assert_eq!(
            required(&lake(LakeMetadata::Postgres { conninfo: "host=x".into() }, "s3://b/p/")),
            ["parquet", "ducklake", "json", "httpfs", "postgres_scanner"]
        );
    }
}
