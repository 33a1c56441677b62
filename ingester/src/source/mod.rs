//! Ledger sources. A source yields raw objects (compressed batches or bare
//! LCMs) in ledger order, starting with the object that holds the requested
//! first ledger. Retries, prefetching and waiting at the tip live here, so the
//! pipeline never sees a transient failure.

pub mod datastore;
pub mod grpc;
pub use ducklake_stellar::layout;
pub mod objstore;
pub mod synthetic;

use crate::model::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::decode::Framing;

/// One unit of source data: an object holding ledgers `first..=last`.
#[derive(Debug, Clone)]
pub struct SourceObject {
    /// Where it came from, for error messages (object key or `ledger N`).
    pub what: String,
    pub framing: Framing,
    pub first: u32,
    pub last: u32,
    pub data: Bytes,
}

/// Why a source stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "{key}: missing from the lake, but a later object exists ({later}); refusing to skip ledgers {first}-{last}"
    )]
    Gap { key: String, later: String, first: u32, last: u32 },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    /// A setting does not fit the source; `key` is the config key.
    #[error("{key}: {reason}")]
    Config { key: String, reason: String },
}

impl SourceError {
    pub fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        SourceError::Config { key: key.into(), reason: reason.into() }
    }
}

/// Something that streams ledger objects.
pub trait LedgerSource: Send + Sync {
    /// A short description for logs (`datastore FS /lakes/pubnet`).
    fn describe(&self) -> String;

    /// Objects covering `range`, in order. Ends after the object holding
    /// `range.to`; never ends for an unbounded range.
    fn stream(&self, range: Range) -> BoxStream<'static, Result<SourceObject, SourceError>>;

    /// Live counters of a source that keeps them (reconnects, bytes), for
    /// `/status` and metrics.
    fn counters(&self) -> Option<Arc<SourceCounters>> {
        None
    }
}

/// Counters of one source, monotonic over the process life. The pipeline
/// counts objects and bytes; a streaming source counts its reconnects.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Objects (or stream messages) received.
    pub objects: AtomicU64,
    /// Bytes received, as sent by the source (compressed for data lakes).
    pub bytes: AtomicU64,
    /// Reconnects after a lost stream or failed connection attempt.
    pub reconnects: AtomicU64,
    /// What the source is doing now, a [`SourcePhase`] as a number.
    phase: std::sync::atomic::AtomicU8,
    /// Why the last connection was lost (kept after recovery, for `/status`).
    last_error: std::sync::Mutex<Option<String>>,
}

/// What a source is doing, for `/status` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SourcePhase {
    /// Delivering ledgers (or nothing more specific is known).
    Streaming = 0,
    /// Waiting for the network (or lake) to produce the next ledger.
    AtTip = 1,
    /// Connection lost or refused; retrying with backoff.
    Reconnecting = 2,
    /// The last connection delivered nothing within the stall timeout.
    Stalled = 3,
}

impl SourceCounters {
    pub fn set_phase(&self, phase: SourcePhase) {
        self.phase.store(phase as u8, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records a failure the source recovers from by itself (a lost stream).
    pub fn set_error(&self, reason: &str) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_string());
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn phase(&self) -> SourcePhase {
        match self.phase.load(std::sync::atomic::Ordering::Relaxed) {
            1 => SourcePhase::AtTip,
            2 => SourcePhase::Reconnecting,
            3 => SourcePhase::Stalled,
            _ => SourcePhase::Streaming,
        }
    }
}
