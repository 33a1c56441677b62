//! Prometheus metrics (`GET /metrics`), with the prefix `ducklake_`.
//!
//! Event counters and histograms are updated where things happen (commits,
//! extraction, queries). Values that already live elsewhere (source
//! progress, file sizes, RSS) are read at scrape time by a collector, so
//! they are never stale and cost nothing between scrapes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::progress::{IngestEvents, SourceProgress, State};
use crate::store::CommitStats;
use crate::store::maintenance::{LakeStats, MaintenanceEvents, TaskRun};

/// Content type of the classic Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub source: String,
    pub table: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `ok`, or the error code (`invalid_sql`, `forbidden`, `timeout`, ...).
    pub outcome: String,
}

/// Ingestion counters and histograms, updated by the pipeline.
#[derive(Debug)]
pub struct IngestMetrics {
    pub ledgers_committed: Family<SourceLabel, Counter>,
    pub batches_committed: Family<SourceLabel, Counter>,
    pub rows_committed: Family<TableLabel, Counter>,
    pub commit_seconds: Family<SourceLabel, Histogram, fn() -> Histogram>,
    pub decode_extract_seconds: Family<SourceLabel, Histogram, fn() -> Histogram>,
    pub source_errors: Family<SourceLabel, Counter>,
}

/// Ingestion counted as each source's progress reports it.
impl IngestEvents for IngestMetrics {
    fn decoded(&self, source: &str, took: Duration) {
        let label = SourceLabel { source: source.to_string() };
        self.decode_extract_seconds.get_or_create(&label).observe(took.as_secs_f64());
    }

    fn committed(&self, source: &str, stats: &CommitStats) {
        let label = SourceLabel { source: source.to_string() };
        self.ledgers_committed.get_or_create(&label).inc_by(stats.ledgers as u64);
        self.batches_committed.get_or_create(&label).inc();
        self.commit_seconds.get_or_create(&label).observe(stats.commit_ms as f64 / 1000.0);
        for (table, rows) in &stats.rows {
            self.rows_committed
                .get_or_create(&TableLabel { source: source.to_string(), table: table.to_string() })
                .inc_by(*rows);
        }
    }

    fn failed(&self, source: &str) {
        self.source_errors.get_or_create(&SourceLabel { source: source.to_string() }).inc();
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    /// `flush_inlined_data`, `merge_adjacent_files`, `expire_snapshots`, `cleanup_old_files`,
    /// `delete_orphaned_files`.
    pub task: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskOutcomeLabel {
    pub task: String,
    /// `ok` or `error`.
    pub outcome: String,
}

/// DuckLake maintenance: what each task did, and the lake's shape after the
/// last run (gauges stay 0 for a plain DuckDB catalog).
#[derive(Debug)]
pub struct MaintenanceMetrics {
    pub runs: Family<TaskOutcomeLabel, Counter>,
    pub duration_seconds: Family<TaskLabel, Histogram, fn() -> Histogram>,
    /// Reduction in data files by merging.
    pub files_merged: Counter,
    /// Data files written by flushing inlined rows.
    pub files_flushed: Counter,
    pub snapshots_expired: Counter,
    pub files_deleted: Counter,
    pub data_files: Gauge,
    pub files_pending_deletion: Gauge,
    pub snapshots: Gauge,
}

/// Maintenance runs counted as the store reports them.
impl MaintenanceEvents for MaintenanceMetrics {
    fn task_run(&self, r: &TaskRun) {
        let outcome = if r.result.is_ok() { "ok" } else { "error" };
        self.runs.get_or_create(&TaskOutcomeLabel { task: r.task.into(), outcome: outcome.into() }).inc();
        self.duration_seconds.get_or_create(&TaskLabel { task: r.task.into() }).observe(r.seconds);
        let (b, a) = (r.before, r.after);
        let (counter, delta) = match r.task {
            "flush_inlined_data" => (&self.files_flushed, a.data_files - b.data_files),
            "merge_adjacent_files" => (&self.files_merged, b.data_files - a.data_files),
            "expire_snapshots" => (&self.snapshots_expired, b.snapshots - a.snapshots),
            _ => (&self.files_deleted, b.pending_deletion - a.pending_deletion),
        };
        counter.inc_by(delta.max(0) as u64);
    }

    fn lake_size(&self, stats: &LakeStats) {
        self.data_files.set(stats.data_files);
        self.files_pending_deletion.set(stats.pending_deletion);
        self.snapshots.set(stats.snapshots);
    }
}

impl Default for MaintenanceMetrics {
    fn default() -> Self {
        MaintenanceMetrics {
            runs: Family::default(),
            duration_seconds: Family::new_with_constructor(latency_histogram),
            files_merged: Counter::default(),
            files_flushed: Counter::default(),
            snapshots_expired: Counter::default(),
            files_deleted: Counter::default(),
            data_files: Gauge::default(),
            files_pending_deletion: Gauge::default(),
            snapshots: Gauge::default(),
        }
    }
}

/// Query API counters and histograms.
#[derive(Debug)]
pub struct QueryMetrics {
    pub requests: Family<OutcomeLabel, Counter>,
    pub duration_seconds: Histogram,
    pub in_flight: Gauge,
    /// Requests refused before running: concurrency limit or request size.
    pub rejected: Family<OutcomeLabel, Counter>,
}

impl Default for QueryMetrics {
    fn default() -> Self {
        QueryMetrics {
            requests: Family::default(),
            duration_seconds: latency_histogram(),
            in_flight: Gauge::default(),
            rejected: Family::default(),
        }
    }
}

impl Default for IngestMetrics {
    fn default() -> Self {
        IngestMetrics {
            ledgers_committed: Family::default(),
            batches_committed: Family::default(),
            rows_committed: Family::default(),
            commit_seconds: Family::new_with_constructor(latency_histogram),
            decode_extract_seconds: Family::new_with_constructor(latency_histogram),
            source_errors: Family::default(),
        }
    }
}

/// 1 ms .. ~65 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 17))
}

/// Every metric of the process, and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    pub ingest: Arc<IngestMetrics>,
    pub query: Arc<QueryMetrics>,
    pub maintenance: Arc<MaintenanceMetrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every metric; `sources` and `files` are read at scrape time.
    pub fn new(ingest: Arc<IngestMetrics>, sources: Vec<Arc<SourceProgress>>, files: DatabaseFiles) -> Self {
        let query = Arc::new(QueryMetrics::default());
        let mut registry = Registry::with_prefix("ducklake");
        registry.register("ledgers_committed", "Ledgers committed to the catalog", ingest.ledgers_committed.clone());
        registry.register("batches_committed", "Batches (transactions) committed", ingest.batches_committed.clone());
        registry.register("rows_committed", "Rows committed, per table", ingest.rows_committed.clone());
        registry.register_with_unit(
            "batch_commit_duration",
            "Time to commit one batch (append, lineage, COMMIT; checkpoint excluded)",
            Unit::Seconds,
            ingest.commit_seconds.clone(),
        );
        registry.register_with_unit(
            "decode_extract_duration",
            "Time to decode one source object and extract its rows, on a decode worker",
            Unit::Seconds,
            ingest.decode_extract_seconds.clone(),
        );
        registry.register("source_errors", "Sources that stopped with an error", ingest.source_errors.clone());
        registry.register("query_requests", "Query API requests by outcome", query.requests.clone());
        registry.register_with_unit(
            "query_duration",
            "Query execution time (admitted queries)",
            Unit::Seconds,
            query.duration_seconds.clone(),
        );
        registry.register("query_in_flight", "Queries running now", query.in_flight.clone());
        registry.register(
            "query_rejected",
            "Queries refused before running (concurrency limit, size)",
            query.rejected.clone(),
        );
        let maintenance = Arc::new(MaintenanceMetrics::default());
        let m = &maintenance;
        registry.register("maintenance_runs", "DuckLake maintenance task runs by outcome", m.runs.clone());
        registry.register_with_unit(
            "maintenance_duration",
            "Time of one DuckLake maintenance task",
            Unit::Seconds,
            m.duration_seconds.clone(),
        );
        registry.register(
            "maintenance_files_merged",
            "Reduction in data files by merging adjacent files",
            m.files_merged.clone(),
        );
        registry.register(
            "maintenance_files_flushed",
            "Data files written by flushing inlined rows",
            m.files_flushed.clone(),
        );
        registry.register("maintenance_snapshots_expired", "DuckLake snapshots expired", m.snapshots_expired.clone());
        registry.register("maintenance_files_deleted", "Unreferenced data files deleted", m.files_deleted.clone());
        registry.register("lake_data_files", "Data files of the current DuckLake snapshot", m.data_files.clone());
        registry.register(
            "lake_files_pending_deletion",
            "Data files no snapshot needs, waiting for cleanup",
            m.files_pending_deletion.clone(),
        );
        registry.register("lake_snapshots", "DuckLake snapshots kept", m.snapshots.clone());
        registry.register_collector(Box::new(ScrapeTime { sources, files }));
        Metrics { registry, ingest, query, maintenance }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// Files whose sizes are exported (the DuckDB catalog and its WAL).
#[derive(Debug, Clone, Default)]
pub struct DatabaseFiles {
    pub database: Option<PathBuf>,
}

/// Values read when Prometheus scrapes.
#[derive(Debug)]
struct ScrapeTime {
    sources: Vec<Arc<SourceProgress>>,
    files: DatabaseFiles,
}

const STATES: [State; 8] = [
    State::Starting,
    State::Ingesting,
    State::CaughtUp,
    State::Reconnecting,
    State::Stalled,
    State::Completed,
    State::Stopped,
    State::Failed,
];

impl Collector for ScrapeTime {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snaps: Vec<_> = self
            .sources
            .iter()
            .map(|p| p.snapshot())
            .map(|s| {
                let lag = s.lag_seconds;
                (s, lag)
            })
            .collect();
        let label = |name: &str| SourceLabel { source: name.to_string() };

        gauge_family(
            &mut encoder,
            "last_committed_ledger",
            "Sequence of the last committed ledger",
            None,
            snaps.iter().filter_map(|(s, _)| s.last_committed_ledger.map(|l| (label(&s.name), i64::from(l)))),
        )?;
        gauge_family(
            &mut encoder,
            "last_committed_close_time",
            "Close time of the last committed ledger (Unix time)",
            Some(&Unit::Seconds),
            snaps.iter().filter_map(|(s, _)| s.last_committed_close_time.map(|t| (label(&s.name), t))),
        )?;
        gauge_family(
            &mut encoder,
            "lag",
            "Wall clock minus the close time of the last committed ledger",
            Some(&Unit::Seconds),
            snaps.iter().filter_map(|(s, lag)| lag.map(|l| (label(&s.name), l))),
        )?;
        gauge_family(
            &mut encoder,
            "lag_ledgers",
            "Ledgers received from the source but not yet committed",
            None,
            snaps.iter().filter_map(|(s, _)| s.lag_ledgers.map(|l| (label(&s.name), i64::from(l)))),
        )?;
        counter_family(
            &mut encoder,
            "source_reconnects",
            "Reconnects of a streaming source",
            snaps.iter().map(|(s, _)| (label(&s.name), s.reconnects)),
        )?;
        counter_family(
            &mut encoder,
            "source_received_bytes",
            "Bytes received from the source (compressed objects or stream messages)",
            snaps.iter().map(|(s, _)| (label(&s.name), s.bytes_received)),
        )?;
        counter_family(
            &mut encoder,
            "source_received_objects",
            "Objects (data-lake files or stream messages) received from the source",
            snaps.iter().map(|(s, _)| (label(&s.name), s.objects_received)),
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "source_state",
                "1 for the state each source is in (starting, ingesting, caught_up, reconnecting, stalled, completed, stopped, failed)",
                None,
                ConstGauge::new(0i64).metric_type(),
            )?;
            for (s, _) in &snaps {
                for state in STATES {
                    let labels = [("source", s.name.as_str()), ("state", state.as_str())];
                    ConstGauge::new(i64::from(s.state == state)).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        if let Some(rss) = resident_bytes() {
            let g = ConstGauge::new(rss as i64);
            g.encode(encoder.encode_descriptor(
                "process_resident_memory",
                "Resident set size of the process",
                Some(&Unit::Bytes),
                g.metric_type(),
            )?)?;
        }
        if let Some(db) = &self.files.database {
            let wal = PathBuf::from(format!("{}.wal", db.display()));
            for (name, help, path) in [
                ("database_file_size", "Size of the DuckDB catalog file", db),
                ("database_wal_size", "Size of the DuckDB write-ahead log", &wal),
            ] {
                let size = std::fs::metadata(path).map_or(0, |m| m.len());
                let g = ConstGauge::new(size as i64);
                g.encode(encoder.encode_descriptor(name, help, Some(&Unit::Bytes), g.metric_type())?)?;
            }
        }
        Ok(())
    }
}

fn gauge_family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    values: impl Iterator<Item = (SourceLabel, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, unit, ConstGauge::new(0i64).metric_type())?;
    for (labels, v) in values {
        ConstGauge::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter_family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (SourceLabel, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
    for (labels, v) in values {
        ConstCounter::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Resident set size from `/proc/self/statm` (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_the_prefix() {
        let p = Arc::new(SourceProgress::new("pubnet", "mainnet"));
        let m = Metrics::new(Arc::default(), vec![p], DatabaseFiles::default());
        m.ingest.ledgers_committed.get_or_create(&SourceLabel { source: "pubnet".into() }).inc_by(3);
        m.ingest
            .rows_committed
            .get_or_create(&TableLabel { source: "pubnet".into(), table: "ledgers_row_v2".into() })
            .inc_by(3);
        m.query.duration_seconds.observe(0.02);
        let text = m.render();
        assert!(text.contains("ducklake_ledgers_committed_total{source=\"pubnet\"} 3"), "{text}");
        assert!(text.contains("ducklake_rows_committed_total{source=\"pubnet\",table=\"ledgers_row_v2\"} 3"), "{text}");
        assert!(text.contains("# TYPE ducklake_query_duration_seconds histogram"), "{text}");
        assert!(text.contains("\nducklake_source_state{source=\"pubnet\",state=\"starting\"} 1"), "{text}");
        assert!(!text.contains("ducklake_ducklake"), "{text}");
        assert!(!text.contains("# EOF"), "classic text format, not OpenMetrics");
    }

    /// docs/metrics.md lists exactly the metrics the process serves: every
    /// family the registry renders (names as scraped, without `ducklake_`)
    /// is in its table, and every name in the table is rendered.
    #[test]
    fn docs_list_every_metric() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md");
        let doc = std::fs::read_to_string(path).expect("docs/metrics.md");
        let p = Arc::new(SourceProgress::new("pubnet", "mainnet"));
        let dir = tempfile::tempdir().expect("tempdir");
        let database = dir.path().join("x.duckdb");
        std::fs::write(&database, b"x")
            .and_then(|()| std::fs::write(dir.path().join("x.duckdb.wal"), b"x"))
            .expect("files");
        let m = Metrics::new(Arc::default(), vec![p], DatabaseFiles { database: Some(database) });
        // Families render once they have a sample: give each one.
        let source = SourceLabel { source: "pubnet".into() };
        let i = &m.ingest;
        for family in [&i.ledgers_committed, &i.batches_committed, &i.source_errors] {
            family.get_or_create(&source).inc();
        }
        i.rows_committed.get_or_create(&TableLabel { source: "pubnet".into(), table: "t".into() }).inc();
        i.commit_seconds.get_or_create(&source).observe(0.1);
        i.decode_extract_seconds.get_or_create(&source).observe(0.1);
        m.query.requests.get_or_create(&OutcomeLabel { outcome: "ok".into() }).inc();
        m.query.rejected.get_or_create(&OutcomeLabel { outcome: "busy".into() }).inc();
        m.maintenance.runs.get_or_create(&TaskOutcomeLabel { task: "t".into(), outcome: "ok".into() }).inc();
        m.maintenance.duration_seconds.get_or_create(&TaskLabel { task: "t".into() }).observe(0.1);
        let text = m.render();
        let served: std::collections::BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ducklake_"))
            .filter_map(|l| l.split_once(' '))
            .map(|(name, kind)| {
                if kind == "counter" && !name.ends_with("_total") { format!("{name}_total") } else { name.to_string() }
            })
            .collect();
        let documented: std::collections::BTreeSet<String> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_string).collect::<Vec<_>>())
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&served).collect();
        assert!(undocumented.is_empty(), "served but not in docs/metrics.md: {undocumented:?}");
        assert!(unknown.is_empty(), "in docs/metrics.md but not served: {unknown:?}");
    }
}
