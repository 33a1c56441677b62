//! `maintain --config FILE`: one DuckLake maintenance run, printed task by task.

use std::path::Path;

use super::exit;
use super::setup::{load_for_catalog, store_settings};
use crate::store::Database;

/// `maintain --config FILE`: one maintenance run, printed task by task.
pub fn maintain(path: &Path) -> i32 {
    let cfg = match load_for_catalog(path) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    let db = match Database::open(&store_settings(&cfg, false)) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: opening the catalog: {e}");
            return exit::FAILED;
        }
    };
    let runs = match crate::store::maintenance::run_now(
        &db,
        cfg.ducklake.metadata_schema.as_deref(),
        &(&cfg.ducklake.maintenance).into(),
    ) {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let mut failed = false;
    for r in &runs {
        let outcome = match &r.result {
            Ok(()) => "ok".to_string(),
            Err(e) => {
                failed = true;
                format!("FAILED: {}", e.to_string().lines().next().unwrap_or_default())
            }
        };
        println!(
            "{:<22} {outcome:<6} {:>8.3} s  data files {} -> {}  snapshots {} -> {}  pending deletion {} -> {}",
            r.task,
            r.seconds,
            r.before.data_files,
            r.after.data_files,
            r.before.snapshots,
            r.after.snapshots,
            r.before.pending_deletion,
            r.after.pending_deletion
        );
    }
    if failed { exit::FAILED } else { exit::OK }
}
