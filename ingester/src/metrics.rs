//! Prometheus metrics (`GET /metrics`), with the prefix `ducklake_`.
//!
//! Event counters and histograms are updated where things happen (commits,
//! extraction, queries). Values that already live elsewhere (source
//! progress, file sizes, RSS) are read at scrape time by a collector, so
//! they are never stale and cost nothing between scrapes.

use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::progress::{SourceProgress, State};

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

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    /// `flush_inlined_data`, `merge_adjacent_files`, `expire_snapshots`, `cleanup_old_files`.
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

const STATES: [(State, &str); 8] = [
    (State::Starting, "starting"),
    (State::Ingesting, "ingesting"),
    (State::CaughtUp, "caught_up"),
    (State::Reconnecting, "reconnecting"),
    (State::Stalled, "stalled"),
    (State::Completed, "completed"),
    (State::Stopped, "stopped"),
    (State::Failed, "failed"),
];

impl Collector for ScrapeTime {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snaps: Vec<_> = self.sources.iter().map(|p| (p.snapshot(), p.lag_seconds())).collect();
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
            snaps.iter().filter_map(|(s, _)| s.lag_ledgers().map(|l| (label(&s.name), i64::from(l)))),
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
                for (state, name) in STATES {
                    let labels = [("source", s.name.as_str()), ("state", name)];
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
}
