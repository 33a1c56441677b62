//! The `/status` document: serialized by the ingester, read by the operator.
//!
//! One type for both ends, so a field renamed on one side is a compile error
//! on the other. Every field but `name` has a serde default, so an operator
//! reads an older ingester's answer; a state it does not know (a newer
//! ingester) reads as [`SourceState::Unknown`] instead of failing the parse.

use serde::{Deserialize, Serialize};

/// `GET /status`: the ingester's version and one entry per source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusDocument {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub sources: Vec<SourceStatus>,
}

/// What one source is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    #[default]
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
    /// A state this build does not know (read from a newer ingester); never
    /// produced by the ingester itself.
    #[serde(other)]
    Unknown,
}

impl SourceState {
    /// The name `/status` and the custom resource's status use.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Starting => "starting",
            SourceState::Ingesting => "ingesting",
            SourceState::CaughtUp => "caught_up",
            SourceState::Reconnecting => "reconnecting",
            SourceState::Stalled => "stalled",
            SourceState::Completed => "completed",
            SourceState::Stopped => "stopped",
            SourceState::Failed => "failed",
            SourceState::Unknown => "unknown",
        }
    }

    /// A source in this state is not expected to advance.
    pub fn at_rest(self) -> bool {
        matches!(self, SourceState::Completed | SourceState::Stopped)
    }
}

/// A source whose last committed ledger is at most this old is caught up.
pub const CAUGHT_UP_LAG_SECONDS: i64 = 30;

/// One source's progress, a consistent copy taken when `/status` is asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub name: String,
    #[serde(default)]
    pub schema: String,
    #[serde(default)]
    pub state: SourceState,
    #[serde(default)]
    pub start_ledger: u32,
    #[serde(default)]
    pub end_ledger: Option<u32>,
    #[serde(default)]
    pub last_committed_ledger: Option<u32>,
    /// Close time of the last committed ledger, Unix seconds.
    #[serde(default)]
    pub last_committed_close_time: Option<i64>,
    #[serde(default)]
    pub last_received_ledger: Option<u32>,
    /// Close time of the last received ledger, Unix seconds.
    #[serde(default)]
    pub last_received_close_time: Option<i64>,
    /// Objects (data-lake files or stream messages) and bytes received.
    #[serde(default)]
    pub objects_received: u64,
    #[serde(default)]
    pub bytes_received: u64,
    /// Reconnects of a streaming source.
    #[serde(default)]
    pub reconnects: u64,
    #[serde(default)]
    pub ledgers_committed: u64,
    #[serde(default)]
    pub batches_committed: u64,
    #[serde(default)]
    pub ledgers_per_second: f64,
    /// The error that stopped the source, else the last one it recovered
    /// from by itself (a lost stream), still shown after recovery.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Seconds between now and the last committed ledger's close time.
    #[serde(default)]
    pub lag_seconds: Option<i64>,
    /// Ledgers received but not yet committed; `None` before the first arrives.
    #[serde(default)]
    pub lag_ledgers: Option<u32>,
}

impl SourceStatus {
    /// Ledgers received (decoded or in flight) but not yet committed; `None`
    /// before the first ledger arrives.
    pub fn received_not_committed(&self) -> Option<u32> {
        let committed = self.last_committed_ledger.unwrap_or(self.start_ledger.saturating_sub(1));
        self.last_received_ledger.map(|r| r.saturating_sub(committed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_what_it_does_not_know() {
        let s = SourceStatus {
            name: "pubnet".into(),
            state: SourceState::CaughtUp,
            last_committed_ledger: Some(59_000_001),
            lag_seconds: Some(4),
            ..SourceStatus::default()
        };
        let doc = StatusDocument { version: "0.2.0".into(), sources: vec![s.clone()] };
        let text = serde_json::to_string(&doc).unwrap();
        assert!(text.contains(r#""state":"caught_up""#), "{text}");
        assert_eq!(serde_json::from_str::<StatusDocument>(&text).unwrap(), doc);

        let newer: StatusDocument =
            serde_json::from_str(r#"{"sources":[{"name":"x","state":"hibernating","new_field":1}]}"#).unwrap();
        assert_eq!(newer.sources[0].state, SourceState::Unknown);
        for state in [SourceState::Completed, SourceState::Stalled, SourceState::Failed] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
    }

    #[test]
    fn received_not_committed() {
        let mut s = SourceStatus { start_ledger: 10, ..SourceStatus::default() };
        assert_eq!(s.received_not_committed(), None);
        s.last_received_ledger = Some(12);
        assert_eq!(s.received_not_committed(), Some(3));
        s.last_committed_ledger = Some(12);
        assert_eq!(s.received_not_committed(), Some(0));
    }
}
