//! DuckLake maintenance on a schedule: small batches leave small Parquet
//! files and rows inlined in the catalog; this flushes, merges, expires old
//! snapshots and deletes files nothing references any more.
//!
//! Every task is DuckLake's own function in its own transaction on its own
//! connection: queries keep reading the snapshot they started with, and no
//! committed row is ever dropped, since only files that no kept snapshot
//! references are deleted. A task never overlaps a commit of this process
//! ([`RawDatabase::write_lock`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use duckdb::Connection;
use ducklake_config::{LakeMetadata, MaintenanceConfig, Storage};
use tokio_util::sync::CancellationToken;

use super::data_files::ORPHAN_AGE;
use super::raw::RawDatabase;
use super::{Database, checkpoint_statement, retry_transient};
use super::{DbContext, StoreError};
use crate::sql::ident;

/// What maintenance does and how often.
#[derive(Debug, Clone)]
pub struct MaintenanceSettings {
    pub interval: Duration,
    pub flush_inlined_data: bool,
    pub merge_adjacent_files: bool,
    /// `None`: keep every snapshot.
    pub expire_snapshots_after: Option<Duration>,
    pub cleanup_files_after: Duration,
}

impl From<&MaintenanceConfig> for MaintenanceSettings {
    fn from(c: &MaintenanceConfig) -> Self {
        MaintenanceSettings {
            interval: Duration::from_secs(c.interval_seconds.max(1)),
            flush_inlined_data: c.flush_inlined_data,
            merge_adjacent_files: c.merge_adjacent_files,
            expire_snapshots_after: (c.expire_snapshots_after_seconds > 0)
                .then(|| Duration::from_secs(c.expire_snapshots_after_seconds)),
            cleanup_files_after: Duration::from_secs(c.cleanup_files_after_seconds),
        }
    }
}

/// The shape of a lake, from its metadata tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LakeStats {
    /// Data files of the current snapshot.
    pub data_files: i64,
    /// Files no kept snapshot references, not deleted yet.
    pub pending_deletion: i64,
    pub snapshots: i64,
}

/// One task's outcome.
#[derive(Debug)]
pub struct TaskRun {
    pub task: &'static str,
    pub result: Result<(), StoreError>,
    pub seconds: f64,
    pub before: LakeStats,
    pub after: LakeStats,
}

/// The metadata schema of `catalog`, as attached by DuckLake
/// (`__ducklake_metadata_<catalog>`).
fn metadata_schema(storage: &Storage, catalog: &str, configured: Option<&str>) -> String {
    let schema = configured.unwrap_or(match storage {
        Storage::DuckLake { metadata: LakeMetadata::Postgres { .. }, .. } => "public",
        _ => "main",
    });
    format!("{}.{}", ident(&format!("__ducklake_metadata_{catalog}")), ident(schema))
}

/// Reads [`LakeStats`] from the metadata tables.
pub fn lake_stats(conn: &Connection, metadata: &str) -> Result<LakeStats, StoreError> {
    conn.query_row(
        &format!(
            "SELECT (SELECT count(*) FROM {metadata}.ducklake_data_file WHERE end_snapshot IS NULL), \
             (SELECT count(*) FROM {metadata}.ducklake_files_scheduled_for_deletion), \
             (SELECT count(*) FROM {metadata}.ducklake_snapshot)"
        ),
        [],
        |r| Ok(LakeStats { data_files: r.get(0)?, pending_deletion: r.get(1)?, snapshots: r.get(2)? }),
    )
    .ctx(|| "reading the DuckLake metadata".into())
}

/// The tasks of one run, in order, as `(name, CALL statement)`.
pub fn tasks(catalog: &str, s: &MaintenanceSettings) -> Vec<(&'static str, String)> {
    // The catalog name is a validated identifier; ages are integers.
    let name = crate::sql::literal(catalog);
    let mut tasks = Vec::new();
    if s.flush_inlined_data {
        tasks.push(("flush_inlined_data", format!("CALL ducklake_flush_inlined_data({name})")));
    }
    if s.merge_adjacent_files {
        tasks.push(("merge_adjacent_files", format!("CALL ducklake_merge_adjacent_files({name})")));
    }
    if let Some(age) = s.expire_snapshots_after {
        tasks.push((
            "expire_snapshots",
            format!(
                "CALL ducklake_expire_snapshots({name}, older_than => (now()::TIMESTAMP - INTERVAL '{} seconds')::TIMESTAMPTZ)",
                age.as_secs()
            ),
        ));
    }
    tasks.push((
        "cleanup_old_files",
        format!(
            "CALL ducklake_cleanup_old_files({name}, older_than => (now()::TIMESTAMP - INTERVAL '{} seconds')::TIMESTAMPTZ)",
            s.cleanup_files_after.as_secs()
        ),
    ));
    // Files of batches whose commit never happened (a crash between writing
    // them and the commit, see `data_files`), once surely not in flight.
    tasks.push((
        "delete_orphaned_files",
        format!(
            "CALL ducklake_delete_orphaned_files({name}, older_than => (now()::TIMESTAMP - INTERVAL '{} seconds')::TIMESTAMPTZ)",
            ORPHAN_AGE.max(s.cleanup_files_after).as_secs()
        ),
    ));
    tasks
}

/// Runs every task once on `conn`, each between two commits of `raw`'s
/// writers; a failing task is reported and the others still run.
pub fn run_once(
    raw: &RawDatabase,
    conn: &Connection,
    catalog: &str,
    metadata: &str,
    s: &MaintenanceSettings,
) -> Vec<TaskRun> {
    let mut runs = Vec::new();
    for (task, sql) in tasks(catalog, s) {
        let _writing = raw.write_lock();
        let before = lake_stats(conn, metadata).unwrap_or_default();
        let started = Instant::now();
        let result = retry_transient(
            || conn.execute_batch(&sql).ctx(|| format!("DuckLake maintenance {task}")),
            &format!("maintenance {task}"),
        );
        let seconds = started.elapsed().as_secs_f64();
        let after = lake_stats(conn, metadata).unwrap_or(before);
        runs.push(TaskRun { task, result, seconds, before, after });
    }
    runs
}

/// What maintenance tells telemetry: each task run, and the lake's size
/// (at the start and after each run). Metrics implement it; the store does
/// not know them.
pub trait MaintenanceEvents: Send + Sync {
    fn task_run(&self, run: &TaskRun);
    fn lake_size(&self, stats: &LakeStats);
}

/// Logs a run and tells `events` about it.
pub fn record(runs: &[TaskRun], events: &dyn MaintenanceEvents) {
    for r in runs {
        events.task_run(r);
        let (b, a) = (r.before, r.after);
        match &r.result {
            Ok(()) => tracing::info!(
                task = r.task,
                seconds = r.seconds,
                data_files_before = b.data_files,
                data_files_after = a.data_files,
                snapshots_after = a.snapshots,
                pending_deletion_after = a.pending_deletion,
                "maintenance task done"
            ),
            Err(e) => tracing::warn!(task = r.task, error = %e, "maintenance task failed; retried at the next run"),
        }
    }
    if let Some(last) = runs.last() {
        events.lake_size(&last.after);
    }
}

/// `(catalog name, metadata schema)` of a DuckLake; `None` for a DuckDB file.
fn lake_names(db: &Database, metadata_schema_name: Option<&str>) -> Option<(String, String)> {
    db.storage().is_ducklake().then(|| {
        let catalog = db.catalog_name().to_string();
        let metadata = metadata_schema(db.storage(), &catalog, metadata_schema_name);
        (catalog, metadata)
    })
}

/// One run now, on a new connection (the `maintain` command).
pub fn run_now(
    db: &Database,
    metadata_schema_name: Option<&str>,
    settings: &MaintenanceSettings,
) -> Result<Vec<TaskRun>, StoreError> {
    let Some((catalog, metadata)) = lake_names(db, metadata_schema_name) else {
        return Err(StoreError::Refused(
            "ducklake.catalog_path: maintenance is for DuckLake catalogs (ducklake:...); a DuckDB file needs none"
                .into(),
        ));
    };
    Ok(run_once(&db.raw(), &db.connection()?, &catalog, &metadata, settings))
}

/// Runs maintenance every `interval` on a blocking thread until `stop`.
/// Returns `None` for a plain DuckDB catalog (nothing to maintain).
pub fn spawn(
    db: &Database,
    metadata_schema_name: Option<&str>,
    settings: MaintenanceSettings,
    events: Arc<dyn MaintenanceEvents>,
    stop: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
    let Some((catalog, metadata)) = lake_names(db, metadata_schema_name) else {
        return Ok(None);
    };
    let conn = db.connection()?;
    let raw = db.raw();
    let checkpoint = checkpoint_statement(db.storage(), &catalog);
    if let Ok(stats) = lake_stats(&conn, &metadata) {
        events.lake_size(&stats);
    }
    tracing::info!(interval_seconds = settings.interval.as_secs(), "DuckLake maintenance scheduled");
    Ok(Some(tokio::spawn(async move {
        let conn = Arc::new(std::sync::Mutex::new(conn));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(settings.interval) => {}
            }
            let (raw, conn, catalog, metadata, settings, events, checkpoint) = (
                raw.clone(),
                conn.clone(),
                catalog.clone(),
                metadata.clone(),
                settings.clone(),
                events.clone(),
                checkpoint.clone(),
            );
            let done = tokio::task::spawn_blocking(move || {
                let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let runs = run_once(&raw, &conn, &catalog, &metadata, &settings);
                record(&runs, events.as_ref());
                // A DuckDB-file catalog holds the rows inlined since its last
                // checkpoint (and those flushed since) in memory and in its WAL;
                // checkpointing after each run keeps both small.
                if let Some(sql) = &checkpoint {
                    let _writing = raw.write_lock();
                    if let Err(e) = conn.execute_batch(sql) {
                        tracing::warn!(error = %e, "checkpoint of the DuckLake catalog file failed; retried after the next run");
                    }
                }
            })
            .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "maintenance task panicked");
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_follow_the_settings() {
        let mut s = MaintenanceSettings::from(&MaintenanceConfig::default());
        let names: Vec<_> = tasks("stellar", &s).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "flush_inlined_data",
                "merge_adjacent_files",
                "expire_snapshots",
                "cleanup_old_files",
                "delete_orphaned_files"
            ]
        );
        let all = tasks("stellar", &s);
        assert!(all[2].1.contains("INTERVAL '86400 seconds'"), "{}", all[2].1);
        assert!(all[3].1.contains("INTERVAL '3600 seconds'"), "{}", all[3].1);
        assert!(all[4].1.contains("INTERVAL '3600 seconds'"), "{}", all[4].1);
        s.expire_snapshots_after = None;
        s.merge_adjacent_files = false;
        let names: Vec<_> = tasks("stellar", &s).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["flush_inlined_data", "cleanup_old_files", "delete_orphaned_files"]);
    }

    #[test]
    fn metadata_schema_per_catalog_database() {
        let pg = Storage::DuckLake {
            metadata: LakeMetadata::Postgres { conninfo: "host=x".into() },
            data_path: "s3://b/".into(),
        };
        assert_eq!(metadata_schema(&pg, "stellar", None), "\"__ducklake_metadata_stellar\".\"public\"");
        assert_eq!(metadata_schema(&pg, "stellar", Some("lake1")), "\"__ducklake_metadata_stellar\".\"lake1\"");
        let file = Storage::DuckLake { metadata: LakeMetadata::DuckDb { path: "/c".into() }, data_path: "/d/".into() };
        assert_eq!(metadata_schema(&file, "s", None), "\"__ducklake_metadata_s\".\"main\"");
    }
}
