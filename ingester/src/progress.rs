//! Per-source progress, written by the pipeline and committer and read by
//! logs, `/status` and metrics.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::extract::LedgerId;
use crate::metrics::{IngestMetrics, SourceLabel, TableLabel};
use crate::source::{Range, SourceCounters, SourcePhase};
use crate::store::CommitStats;
use crate::tables::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Starting,
    /// Behind the source's tip, catching up.
    Ingesting,
    /// At the tip: waiting for the next ledger, or the last committed ledger
    /// closed less than [`CAUGHT_UP_LAG_SECONDS`] ago.
    CaughtUp,
    /// The stream was lost; retrying with backoff.
    Reconnecting,
    /// The source delivered nothing within its stall timeout; retrying.
    Stalled,
    /// `end_ledger` is committed.
    Completed,
    /// Stopped by a signal.
    Stopped,
    Failed,
}

/// A source whose last committed ledger is at most this old is caught up.
pub const CAUGHT_UP_LAG_SECONDS: i64 = 30;

/// A consistent copy of one source's progress.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub name: String,
    pub schema: String,
    pub state: State,
    pub start_ledger: u32,
    pub end_ledger: Option<u32>,
    pub last_committed_ledger: Option<u32>,
    /// Close time of the last committed ledger, Unix seconds.
    pub last_committed_close_time: Option<i64>,
    pub last_received_ledger: Option<u32>,
    /// Close time of the last received ledger, Unix seconds.
    pub last_received_close_time: Option<i64>,
    /// Objects (data-lake files or stream messages) and bytes received.
    pub objects_received: u64,
    pub bytes_received: u64,
    /// Reconnects of a streaming source.
    pub reconnects: u64,
    pub ledgers_committed: u64,
    pub batches_committed: u64,
    pub ledgers_per_second: f64,
    /// The error that stopped the source, else the last one it recovered
    /// from by itself (a lost stream), still shown after recovery.
    pub last_error: Option<String>,
}

impl Snapshot {
    /// Ledgers received (decoded or in flight) but not yet committed; `None`
    /// before the first ledger arrives.
    pub fn lag_ledgers(&self) -> Option<u32> {
        let committed = self.last_committed_ledger.unwrap_or(self.start_ledger.saturating_sub(1));
        self.last_received_ledger.map(|r| r.saturating_sub(committed))
    }
}

/// What an ingesting source is doing, from its phase and the commit lag.
fn live_state(phase: SourcePhase, lag_seconds: Option<i64>) -> State {
    match phase {
        SourcePhase::Reconnecting => State::Reconnecting,
        SourcePhase::Stalled => State::Stalled,
        SourcePhase::AtTip => State::CaughtUp,
        SourcePhase::Streaming if lag_seconds.is_some_and(|l| l <= CAUGHT_UP_LAG_SECONDS) => State::CaughtUp,
        SourcePhase::Streaming => State::Ingesting,
    }
}

pub struct SourceProgress {
    inner: Mutex<Inner>,
    counters: Arc<SourceCounters>,
    metrics: Arc<IngestMetrics>,
    label: SourceLabel,
}

impl std::fmt::Debug for SourceProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceProgress").field("source", &self.label.source).finish_non_exhaustive()
    }
}

struct Inner {
    snap: Snapshot,
    started: Option<Instant>,
}

impl SourceProgress {
    pub fn new(name: &str, schema: &str) -> Self {
        SourceProgress {
            inner: Mutex::new(Inner {
                snap: Snapshot {
                    name: name.to_string(),
                    schema: schema.to_string(),
                    state: State::Starting,
                    start_ledger: 0,
                    end_ledger: None,
                    last_committed_ledger: None,
                    last_committed_close_time: None,
                    last_received_ledger: None,
                    last_received_close_time: None,
                    objects_received: 0,
                    bytes_received: 0,
                    reconnects: 0,
                    ledgers_committed: 0,
                    batches_committed: 0,
                    ledgers_per_second: 0.0,
                    last_error: None,
                },
                started: None,
            }),
            counters: Arc::default(),
            metrics: Arc::default(),
            label: SourceLabel { source: name.to_string() },
        }
    }

    /// Counts commits, extraction time and failures in the process's metrics.
    pub fn with_metrics(mut self, metrics: Arc<IngestMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Time one object took to decode and extract.
    pub fn decoded(&self, took: std::time::Duration) {
        self.metrics.decode_extract_seconds.get_or_create(&self.label).observe(took.as_secs_f64());
    }

    /// Reads the source's own counters (when it keeps them) into snapshots.
    pub fn with_counters(mut self, counters: Option<Arc<SourceCounters>>) -> Self {
        if let Some(c) = counters {
            self.counters = c;
        }
        self
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub fn start(&self, range: Range, next: u32) {
        self.with(|i| {
            i.snap.state = State::Ingesting;
            i.snap.start_ledger = range.from;
            i.snap.end_ledger = range.to;
            if next > range.from {
                i.snap.last_committed_ledger = Some(next - 1);
            }
            i.started = Some(Instant::now());
        });
    }

    pub fn received(&self, id: &LedgerId) {
        self.with(|i| {
            i.snap.last_received_ledger = Some(id.seq);
            i.snap.last_received_close_time = Some(id.closed_at.unix_seconds());
        });
    }

    /// An object arrived from the source.
    pub fn object(&self, bytes: usize) {
        self.counters.objects.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn committed(&self, stats: &CommitStats) {
        let m = &self.metrics;
        m.ledgers_committed.get_or_create(&self.label).inc_by(stats.ledgers as u64);
        m.batches_committed.get_or_create(&self.label).inc();
        m.commit_seconds.get_or_create(&self.label).observe(stats.commit_ms as f64 / 1000.0);
        for (table, rows) in &stats.rows {
            m.rows_committed
                .get_or_create(&TableLabel { source: self.label.source.clone(), table: table.to_string() })
                .inc_by(*rows);
        }
        self.with(|i| {
            i.snap.last_committed_ledger = Some(stats.last.seq);
            i.snap.last_committed_close_time = Some(stats.last.closed_at.unix_seconds());
            i.snap.ledgers_committed += stats.ledgers as u64;
            i.snap.batches_committed += 1;
            if let Some(s) = i.started {
                i.snap.ledgers_per_second = i.snap.ledgers_committed as f64 / s.elapsed().as_secs_f64().max(1e-3);
            }
        });
    }

    pub fn failed(&self, error: &str) {
        self.metrics.source_errors.get_or_create(&self.label).inc();
        self.with(|i| {
            i.snap.state = State::Failed;
            i.snap.last_error = Some(error.to_string());
        });
    }

    pub fn set_state(&self, state: State) {
        self.with(|i| i.snap.state = state);
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut snap = self.with(|i| i.snap.clone());
        snap.objects_received = self.counters.objects.load(Ordering::Relaxed);
        snap.bytes_received = self.counters.bytes.load(Ordering::Relaxed);
        snap.reconnects = self.counters.reconnects.load(Ordering::Relaxed);
        // A fatal error wins; otherwise the last one the source recovered from.
        if snap.last_error.is_none() {
            snap.last_error = self.counters.last_error();
        }
        if snap.state == State::Ingesting {
            let lag = snap.last_committed_close_time.map(|t| Timestamp::now().unix_seconds() - t);
            snap.state = live_state(self.counters.phase(), lag);
        }
        snap
    }

    /// Seconds between now and the last committed ledger's close time.
    pub fn lag_seconds(&self) -> Option<i64> {
        self.with(|i| i.snap.last_committed_close_time).map(|t| Timestamp::now().unix_seconds() - t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_states() {
        assert_eq!(live_state(SourcePhase::Streaming, Some(3600)), State::Ingesting);
        assert_eq!(live_state(SourcePhase::Streaming, None), State::Ingesting);
        assert_eq!(live_state(SourcePhase::Streaming, Some(5)), State::CaughtUp);
        assert_eq!(live_state(SourcePhase::AtTip, Some(3600)), State::CaughtUp);
        assert_eq!(live_state(SourcePhase::Reconnecting, Some(5)), State::Reconnecting);
        assert_eq!(live_state(SourcePhase::Stalled, None), State::Stalled);
    }
}
