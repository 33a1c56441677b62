//! Per-source progress, written by the pipeline and committer and read by
//! logs, `/status` and metrics.

use crate::model::{LedgerId, Range, Timestamp};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::source::{SourceCounters, SourcePhase};
use crate::store::CommitStats;

pub use ducklake_config::status::CAUGHT_UP_LAG_SECONDS;
/// A source's state, as `/status` reports it (the type the operator reads).
pub use ducklake_config::status::SourceState as State;
/// A consistent copy of one source's progress: the `/status` entry.
pub use ducklake_config::status::SourceStatus as Snapshot;

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

/// What a source's progress tells the process's counters: metrics implement
/// it, so the pipeline and this module need not know them.
pub trait IngestEvents: Send + Sync {
    /// One object took `took` to decode and extract.
    fn decoded(&self, source: &str, took: Duration);
    /// One batch is committed.
    fn committed(&self, source: &str, stats: &CommitStats);
    /// The source stopped on an error.
    fn failed(&self, source: &str);
}

/// Counts nothing (tests, benchmarks without metrics).
struct NoEvents;

impl IngestEvents for NoEvents {
    fn decoded(&self, _: &str, _: Duration) {}
    fn committed(&self, _: &str, _: &CommitStats) {}
    fn failed(&self, _: &str) {}
}

pub struct SourceProgress {
    inner: Mutex<Inner>,
    counters: Arc<SourceCounters>,
    events: Arc<dyn IngestEvents>,
    name: String,
}

impl std::fmt::Debug for SourceProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceProgress").field("source", &self.name).finish_non_exhaustive()
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
                    lag_seconds: None,
                    lag_ledgers: None,
                },
                started: None,
            }),
            counters: Arc::default(),
            events: Arc::new(NoEvents),
            name: name.to_string(),
        }
    }

    /// Tells `events` (the process's metrics) of commits, extraction time and failures.
    pub fn with_events(mut self, events: Arc<dyn IngestEvents>) -> Self {
        self.events = events;
        self
    }

    /// Time one object took to decode and extract.
    pub fn decoded(&self, took: Duration) {
        self.events.decoded(&self.name, took);
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
        self.events.committed(&self.name, stats);
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
        self.events.failed(&self.name);
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
        snap.lag_seconds = snap.last_committed_close_time.map(|t| Timestamp::now().unix_seconds() - t);
        snap.lag_ledgers = snap.received_not_committed();
        if snap.state == State::Ingesting {
            snap.state = live_state(self.counters.phase(), snap.lag_seconds);
        }
        snap
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
