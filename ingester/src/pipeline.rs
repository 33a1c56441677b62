//! Source → decode/extract (parallel, ordered) → batcher → committer.
//!
//! * Decode and extraction of up to `max_in_flight` objects run at once on
//!   the decode pool; results are consumed in ledger order.
//! * The batcher closes a batch at `batch_size` ledgers, at `batch_max_bytes`
//!   of Arrow memory, when its oldest ledger has waited `commit_interval`
//!   (the timer fires without new ledgers), or at once when its newest
//!   ledger closed less than `commit_interval` ago (the tip: no later ledger
//!   is coming soon, so waiting only adds latency).
//! * The committer thread owns the store connection and commits one batch
//!   while the next one fills (channel of one: memory stays bounded).
//! * Every ledger must extend the chain: its sequence follows the last one and
//!   its `previous_ledger_hash` equals the last ledger's hash (the last
//!   committed one, after a restart).
//! * On shutdown, or when a later ledger fails, the ledgers already decoded
//!   are committed first: nothing valid is lost, nothing invalid is written.

use crate::model::{LedgerId, Range};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use stellar_xdr::LedgerCloseMeta;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::decode::{self, DecodeError};
use crate::extract::{self, ExtractContext, ExtractError};
use crate::progress::SourceProgress;
use crate::source::{LedgerSource, SourceError, SourceObject};
use crate::store::{Batch, CommitStats, DuckDbStore, EncodedLedger, StoreError};

/// Why a pipeline stopped early.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("source: {0}")]
    Source(#[from] SourceError),
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    #[error("extract: {0}")]
    Extract(#[from] ExtractError),
    #[error("{0}")]
    Chain(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// Tuning of one pipeline.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub batch_size: usize,
    /// Arrow memory at which a batch closes.
    pub batch_max_bytes: usize,
    pub commit_interval: Duration,
    pub max_in_flight: usize,
    pub max_object_bytes: usize,
}

/// How a pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `end_ledger` is committed.
    Completed,
    /// Stopped by a signal after committing what was decoded.
    ShutDown,
}

pub struct Pipeline {
    pub name: String,
    pub source: Arc<dyn LedgerSource>,
    pub range: Range,
    pub store: DuckDbStore,
    pub ctx: Arc<ExtractContext>,
    pub settings: PipelineSettings,
    pub pool: Arc<rayon::ThreadPool>,
    pub progress: Arc<SourceProgress>,
}

impl Pipeline {
    pub async fn run(self, shutdown: CancellationToken) -> Result<Outcome, PipelineError> {
        let Pipeline { name, source, range, store, ctx, settings, pool, progress } = self;
        let resume = store.resume(range.from, range.to)?;
        if range.to.is_some_and(|to| resume.next > to) {
            tracing::info!(source = %name, schema = store.schema(), start = range.from, end = range.to, "range already committed; nothing to do");
            progress.set_state(crate::progress::State::Completed);
            return Ok(Outcome::Completed);
        }
        if resume.next != range.from {
            tracing::info!(source = %name, resume_at = resume.next, already_committed = resume.committed, "resuming from the catalog");
        }
        progress.start(range, resume.next);
        tracing::info!(source = %name, from = resume.next, to = %range.to.map_or("forever".to_string(), |t| t.to_string()), schema = store.schema(), "ingesting from {}", source.describe());

        let (commit_tx, commit_rx) = mpsc::channel::<Batch>(1);
        let committer = {
            let progress = progress.clone();
            let name = name.clone();
            std::thread::Builder::new()
                .name(format!("commit-{name}"))
                .spawn(move || committer(store, commit_rx, progress, name))
                .map_err(|e| PipelineError::Internal(format!("cannot start the committer thread: {e}")))?
        };

        let wanted = Range { from: resume.next, to: range.to };
        let counted = progress.clone();
        let timed = progress.clone();
        let decoded = source
            .stream(wanted)
            .inspect(move |o| {
                if let Ok(o) = o {
                    counted.object(o.data.len());
                }
            })
            .map(|obj| decode_on_pool(pool.clone(), obj, ctx.clone(), wanted, settings.max_object_bytes, timed.clone()))
            .buffered(settings.max_in_flight.max(1));
        let mut decoded = std::pin::pin!(decoded);

        let mut chain = Chain { next: resume.next, prev_hash: resume.prev_hash };
        let mut batch = Batch::default();
        let mut batch_bytes = 0usize;
        let mut deadline: Option<tokio::time::Instant> = None;
        let mut failure: Option<PipelineError> = None;
        let mut outcome = Outcome::Completed;

        'outer: loop {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    tracing::info!(source = %name, pending = batch.len(), "shutting down: committing decoded ledgers");
                    outcome = Outcome::ShutDown;
                    break;
                }
                _ = timer => {
                    batch.live = true;
                    if !send(&commit_tx, &mut batch).await { break; }
                    (deadline, batch_bytes) = (None, 0);
                }
                item = decoded.next() => {
                    let ledgers = match item {
                        None => break,
                        Some(Ok(ledgers)) => ledgers,
                        Some(Err(e)) => { failure = Some(e); break; }
                    };
                    for ledger in ledgers {
                        if let Err(e) = chain.extend(&ledger.id) {
                            failure = Some(e);
                            break 'outer;
                        }
                        progress.received(&ledger.id);
                        if batch.is_empty() {
                            deadline = Some(tokio::time::Instant::now() + settings.commit_interval);
                        }
                        batch_bytes += ledger.arrow_bytes();
                        let at_tip = is_at_tip(&ledger.id, settings.commit_interval);
                        batch.ledgers.push(ledger);
                        if batch.len() >= settings.batch_size || batch_bytes >= settings.batch_max_bytes || at_tip {
                            batch.live = at_tip;
                            if !send(&commit_tx, &mut batch).await { break 'outer; }
                            (deadline, batch_bytes) = (None, 0);
                        }
                    }
                    if range.to.is_some_and(|to| chain.next > to) {
                        break;
                    }
                }
            }
        }
        if !batch.is_empty() {
            send(&commit_tx, &mut batch).await;
        }
        drop(commit_tx);
        let committed = tokio::task::spawn_blocking(move || committer.join())
            .await
            .map_err(|e| PipelineError::Internal(format!("committer join: {e}")))?
            .map_err(|_| PipelineError::Internal("the committer thread panicked".into()))?;
        // A store error is the root cause when both fail (the pipeline only saw a closed channel).
        committed?;
        if let Some(e) = failure {
            progress.failed(&e.to_string());
            return Err(e);
        }
        if outcome == Outcome::Completed && range.to.is_none() {
            // An unbounded source only ends on error; treat an end as one.
            let e = PipelineError::Internal("the source ended unexpectedly".into());
            progress.failed(&e.to_string());
            return Err(e);
        }
        progress.set_state(if outcome == Outcome::Completed {
            crate::progress::State::Completed
        } else {
            crate::progress::State::Stopped
        });
        Ok(outcome)
    }
}

/// A ledger closed less than `window` ago: the source is at the network's
/// tip, where the next ledger is a close interval away.
fn is_at_tip(id: &LedgerId, window: Duration) -> bool {
    let age = crate::model::Timestamp::now().unix_seconds() - id.closed_at.unix_seconds();
    age < window.as_secs() as i64
}

/// Hands the batch to the committer; false if the committer has stopped.
async fn send(tx: &mpsc::Sender<Batch>, batch: &mut Batch) -> bool {
    if batch.is_empty() {
        return true;
    }
    tx.send(std::mem::take(batch)).await.is_ok()
}

/// The expected next ledger and its predecessor's hash.
struct Chain {
    next: u32,
    prev_hash: Option<[u8; 32]>,
}

impl Chain {
    fn extend(&mut self, id: &LedgerId) -> Result<(), PipelineError> {
        if id.seq != self.next {
            return Err(PipelineError::Chain(format!(
                "ledger {}: expected ledger {} next; the source skipped or repeated ledgers",
                id.seq, self.next
            )));
        }
        if let Some(prev) = self.prev_hash
            && id.prev_hash != prev
        {
            return Err(PipelineError::Chain(format!(
                "ledger {}: previous_ledger_hash {} does not match hash {} of ledger {}; \
                     the source serves a different chain than the one committed (wrong network or corrupt data)",
                id.seq,
                hex::encode(id.prev_hash),
                hex::encode(prev),
                id.seq - 1
            )));
        }
        self.next = id.seq + 1;
        self.prev_hash = Some(id.hash);
        Ok(())
    }
}

/// Decodes and extracts one object on the decode pool.
async fn decode_on_pool(
    pool: Arc<rayon::ThreadPool>,
    obj: Result<SourceObject, SourceError>,
    ctx: Arc<ExtractContext>,
    range: Range,
    max_object_bytes: usize,
    progress: Arc<SourceProgress>,
) -> Result<Vec<EncodedLedger>, PipelineError> {
    let obj = obj?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.spawn(move || {
        let started = Instant::now();
        let result = decode_and_extract(&obj, &ctx, range, max_object_bytes);
        progress.decoded(started.elapsed());
        let _ = tx.send(result);
    });
    rx.await.map_err(|_| PipelineError::Internal("a decode worker panicked".into()))?
}

/// Bytes of one object to the encoded rows of the ledgers of `range` it holds.
pub fn decode_and_extract(
    obj: &SourceObject,
    ctx: &ExtractContext,
    range: Range,
    max_object_bytes: usize,
) -> Result<Vec<EncodedLedger>, PipelineError> {
    let ledgers = decode::decode_object(&obj.what, obj.framing, &obj.data, max_object_bytes)?;
    check_object_range(obj, &ledgers)?;
    ledgers
        .iter()
        .filter(|lcm| range.contains(decode::ledger_seq(lcm)))
        .map(|lcm| {
            let extracted = extract::extract_ledger(lcm, ctx)?;
            Ok(EncodedLedger { id: extracted.id, tables: extracted.tables.to_batches() })
        })
        .collect()
}

/// An object must hold exactly the ledgers its key promises.
fn check_object_range(obj: &SourceObject, ledgers: &[LedgerCloseMeta]) -> Result<(), DecodeError> {
    let first = ledgers.first().map(decode::ledger_seq);
    let last = ledgers.last().map(decode::ledger_seq);
    if first != Some(obj.first) || last != Some(obj.last) {
        return Err(DecodeError::Content {
            what: obj.what.clone(),
            detail: format!(
                "holds ledgers {}-{}, expected {}-{}",
                first.map_or("none".into(), |s| s.to_string()),
                last.map_or("none".into(), |s| s.to_string()),
                obj.first,
                obj.last
            ),
        });
    }
    Ok(())
}

/// Commits batches until the channel closes or a commit fails.
fn committer(
    mut store: DuckDbStore,
    mut rx: mpsc::Receiver<Batch>,
    progress: Arc<SourceProgress>,
    name: String,
) -> Result<(), PipelineError> {
    let started = Instant::now();
    let mut total = 0u64;
    while let Some(batch) = rx.blocking_recv() {
        let stats: CommitStats = store.commit(&batch).map_err(|e| {
            progress.failed(&e.to_string());
            PipelineError::Store(e)
        })?;
        total += stats.ledgers as u64;
        progress.committed(&stats);
        let rate = total as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let count = |t: &str| stats.rows.iter().find(|(n, _)| *n == t).map_or(0, |(_, c)| *c);
        let lag_s = crate::model::Timestamp::now().unix_seconds() - stats.last.closed_at.unix_seconds();
        tracing::info!(
            source = %name,
            first = stats.first,
            last = stats.last.seq,
            ledgers = stats.ledgers,
            transactions = count("transactions_row_v2"),
            operations = count("operations_row_v2"),
            commit_ms = stats.commit_ms,
            checkpoint_ms = stats.checkpoint_ms,
            ledgers_per_s = format!("{rate:.1}"),
            lag_s,
            "committed ledgers {}-{}",
            stats.first,
            stats.last.seq
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    fn id(seq: u32, hash: u8, prev: u8) -> LedgerId {
        LedgerId { seq, hash: [hash; 32], prev_hash: [prev; 32], closed_at: Timestamp(0) }
    }

    #[test]
    fn chain_accepts_consecutive_linked_ledgers() {
        let mut c = Chain { next: 10, prev_hash: Some([9; 32]) };
        c.extend(&id(10, 10, 9)).unwrap();
        c.extend(&id(11, 11, 10)).unwrap();
        assert_eq!(c.next, 12);
    }

    #[test]
    fn chain_refuses_gaps_repeats_and_forks() {
        let mut c = Chain { next: 10, prev_hash: Some([9; 32]) };
        let err = c.extend(&id(11, 11, 10)).unwrap_err().to_string();
        assert!(err.contains("expected ledger 10 next"), "{err}");
        let err = c.extend(&id(10, 10, 7)).unwrap_err().to_string();
        assert!(err.contains("ledger 10: previous_ledger_hash 0707"), "{err}");
        // Without a committed predecessor the first ledger is accepted as is.
        let mut fresh = Chain { next: 10, prev_hash: None };
        fresh.extend(&id(10, 10, 7)).unwrap();
        assert!(fresh.extend(&id(11, 11, 99)).is_err());
    }

    #[test]
    fn object_must_hold_its_promised_range() {
        let obj = SourceObject {
            what: "o".into(),
            framing: decode::Framing::Lcm,
            first: 5,
            last: 5,
            data: Default::default(),
        };
        let err = check_object_range(&obj, &[]).unwrap_err().to_string();
        assert_eq!(err, "o: holds ledgers none-none, expected 5-5");
    }
}
