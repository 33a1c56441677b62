//! `check-config FILE`: everything `run` checks before writing, without writing.

use std::path::Path;

use ducklake_config::{IngesterConfig, Storage};

use super::exit;
use super::setup::{load_and_prepare, store_settings};

/// `check-config FILE`: everything `run` checks before writing, and a summary.
pub async fn check_config(path: &Path) -> i32 {
    let prepared = match load_and_prepare(path, None).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    for w in &prepared.warnings {
        eprintln!("warning: {w}");
    }
    println!("{}: configuration is valid", path.display());
    let d = &prepared.config.ducklake;
    match d.storage() {
        Ok(Storage::DuckLake { data_path, .. }) => {
            println!(
                "  catalog: DuckLake {} (attached as {}), data in {data_path}",
                d.catalog_display(),
                d.catalog_name
            )
        }
        _ => println!("  catalog: DuckDB file {} (attached as {})", d.catalog_display(), d.catalog_name),
    }
    if let Some(line) = lake_format_line(&prepared.config) {
        println!("  {line}");
    }
    for s in &prepared.sources {
        let end = s.end.map_or("forever".to_string(), |e| e.to_string());
        println!("  {}: {} -> schema {}, ledgers {}..{end}", s.key, s.source.describe(), s.schema, s.start);
    }
    exit::OK
}

/// What `check-config` says of the lake's catalog format, read without
/// changing anything; a lake it cannot inspect (extensions missing, the
/// catalog in use) is reported, not an error of the configuration.
fn lake_format_line(cfg: &IngesterConfig) -> Option<String> {
    use crate::store::lake::FORMAT_VERSION;
    use crate::store::{LakeState, inspect_lake};
    let line = match inspect_lake(&store_settings(cfg, false)) {
        Ok(None) => return None,
        Ok(Some(LakeState::New)) => format!("lake format: no lake yet; `run` creates it in DuckLake {FORMAT_VERSION}"),
        Ok(Some(LakeState::Current { version })) => format!("lake format: DuckLake {version}"),
        Ok(Some(LakeState::NeedsMigration { from })) => format!(
            "lake format: DuckLake {from}; `run` will migrate it to {FORMAT_VERSION} when it opens it \
             (one-way: DuckDB 1.4 clients cannot open it afterwards; back it up first, see docs/storage.md)"
        ),
        Err(e) => format!("lake format: not checked ({e})"),
    };
    Some(line)
}
