//! Per-source progress, written by the pipeline and committer and read by
//! logs, `/status` and metrics.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::extract::LedgerId;
use crate::source::Range;
use crate::store::CommitStats;
use crate::tables::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Starting,
    Ingesting,
    Completed,
    Stopped,
    Failed,
}

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
    pub ledgers_committed: u64,
    pub batches_committed: u64,
    pub ledgers_per_second: f64,
    pub last_error: Option<String>,
}

pub struct SourceProgress {
    inner: Mutex<Inner>,
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
                    ledgers_committed: 0,
                    batches_committed: 0,
                    ledgers_per_second: 0.0,
                    last_error: None,
                },
                started: None,
            }),
        }
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
        self.with(|i| i.snap.last_received_ledger = Some(id.seq));
    }

    pub fn committed(&self, stats: &CommitStats) {
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
        self.with(|i| {
            i.snap.state = State::Failed;
            i.snap.last_error = Some(error.to_string());
        });
    }

    pub fn set_state(&self, state: State) {
        self.with(|i| i.snap.state = state);
    }

    pub fn snapshot(&self) -> Snapshot {
        self.with(|i| i.snap.clone())
    }

    /// Seconds between now and the last committed ledger's close time.
    pub fn lag_seconds(&self) -> Option<i64> {
        self.with(|i| i.snap.last_committed_close_time).map(|t| Timestamp::now().unix_seconds() - t)
    }
}
