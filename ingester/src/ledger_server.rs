//! A `raw_ledger_service.RawLedgerService` server over any ledger feed (a data
//! lake, the synthetic network); the `serve-ledgers` command runs it. It is the ledger source of the demo, the
//! integration tests and the kind e2e, so it can pace ledgers like a live
//! network and inject the faults a real stream shows (drops, stalls, corrupt
//! ledgers).

use crate::model::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ducklake_proto::raw_ledger_service_server::{RawLedgerService, RawLedgerServiceServer};
use ducklake_proto::{GetLedgerRangeRequest, GetLedgerRangeResponse, RawLedger, StreamLedgersRequest};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use stellar_xdr::{Limits, WriteXdr};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::decode;
use crate::source::{LedgerSource, SourceError};

/// Where served ledgers come from: `(sequence, LedgerCloseMeta XDR)` in
/// order from a start ledger, forever (waiting at the tip) or until an error.
pub trait LedgerFeed: Send + Sync + 'static {
    fn ledgers(&self, from: u32) -> BoxStream<'static, Result<(u32, Vec<u8>), Status>>;
    fn describe(&self) -> String;
}

/// A data lake (any [`LedgerSource`] that yields objects) as a feed.
pub struct SourceFeed {
    pub source: Arc<dyn LedgerSource>,
    pub max_object_bytes: usize,
}

impl LedgerFeed for SourceFeed {
    fn ledgers(&self, from: u32) -> BoxStream<'static, Result<(u32, Vec<u8>), Status>> {
        let limit = self.max_object_bytes;
        self.source
            .stream(Range { from, to: None })
            .then(move |obj| async move {
                let obj = obj.map_err(source_status)?;
                if obj.framing == decode::Framing::Lcm {
                    // Already one bare LedgerCloseMeta: pass it through.
                    return Ok(vec![(obj.first, obj.data.to_vec())]);
                }
                tokio::task::spawn_blocking(move || -> Result<Vec<(u32, Vec<u8>)>, Status> {
                    let ledgers = decode::decode_object(&obj.what, obj.framing, &obj.data, limit)
                        .map_err(|e| Status::data_loss(e.to_string()))?;
                    ledgers
                        .iter()
                        .map(|l| {
                            let xdr = l.to_xdr(Limits::none()).map_err(|e| Status::internal(e.to_string()))?;
                            Ok((decode::ledger_seq(l), xdr))
                        })
                        .collect()
                })
                .await
                .map_err(|e| Status::internal(format!("decode task: {e}")))?
            })
            .flat_map(|r| match r {
                Ok(v) => futures::stream::iter(v.into_iter().map(Ok).collect::<Vec<_>>()),
                Err(e) => futures::stream::iter(vec![Err(e)]),
            })
            .filter(move |r| futures::future::ready(r.as_ref().map_or(true, |(seq, _)| *seq >= from)))
            .boxed()
    }

    fn describe(&self) -> String {
        self.source.describe()
    }
}

fn source_status(e: SourceError) -> Status {
    match e {
        SourceError::Gap { .. } => Status::not_found(e.to_string()),
        SourceError::Config { .. } => Status::failed_precondition(e.to_string()),
        SourceError::Io { .. } => Status::unavailable(e.to_string()),
    }
}

/// Pacing and fault injection.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Time between ledgers, like a live network's close time.
    pub ledger_interval: Option<Duration>,
    /// End every stream with `Unavailable` after this many ledgers.
    pub drop_every: Option<u32>,
    /// Stop sending (without closing the stream) after this many ledgers on
    /// the first stream only, to exercise client stall timeouts.
    pub stall_after: Option<u32>,
    /// Send this ledger with its XDR truncated.
    pub corrupt_ledger: Option<u32>,
    /// Leave this ledger out of every stream (a gap in the source's data).
    pub skip_ledger: Option<u32>,
    /// Release each ledger when the wall clock reaches its close time
    /// (`--live-clock`), whenever a stream opens; replaces `ledger_interval`.
    pub live_clock: Option<LiveClock>,
    /// Largest message sent, in bytes.
    pub max_message_size: usize,
}

pub struct LedgerServer {
    feed: Arc<dyn LedgerFeed>,
    options: ServeOptions,
    streams: std::sync::atomic::AtomicU64,
}

impl LedgerServer {
    pub fn new(feed: Arc<dyn LedgerFeed>, options: ServeOptions) -> Self {
        LedgerServer { feed, options, streams: Default::default() }
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let max = self.options.max_message_size;
        let service =
            RawLedgerServiceServer::new(self).max_encoding_message_size(max).max_decoding_message_size(1 << 20);
        tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .add_service(service)
            .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
            .await
    }
}

type LedgerStream = Pin<Box<dyn Stream<Item = Result<RawLedger, Status>> + Send>>;

#[tonic::async_trait]
impl RawLedgerService for LedgerServer {
    type StreamRawLedgersStream = LedgerStream;

    async fn stream_raw_ledgers(
        &self,
        request: Request<StreamLedgersRequest>,
    ) -> Result<Response<Self::StreamRawLedgersStream>, Status> {
        let peer = request.remote_addr().map_or("unknown".to_string(), |a| a.to_string());
        let start = request.into_inner().start_ledger;
        if start < 2 {
            return Err(Status::invalid_argument(format!("start_ledger {start}: the first ledger is 2")));
        }
        let stream_no = self.streams.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(%peer, start_ledger = start, stream = stream_no, "stream opened");
        let (tx, rx) = mpsc::channel(4);
        let ledgers = self.feed.ledgers(start);
        let options = self.options.clone();
        tokio::spawn(async move { pump(ledgers, options, stream_no, tx).await });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn get_ledger_range(
        &self,
        request: Request<GetLedgerRangeRequest>,
    ) -> Result<Response<GetLedgerRangeResponse>, Status> {
        const MAX: u32 = 100;
        let GetLedgerRangeRequest { start_ledger, end_ledger } = request.into_inner();
        if start_ledger < 2 || end_ledger <= start_ledger {
            return Err(Status::invalid_argument("want 2 <= start_ledger < end_ledger (end is exclusive)"));
        }
        if end_ledger - start_ledger > MAX {
            return Err(Status::invalid_argument(format!("at most {MAX} ledgers per call")));
        }
        let mut ledgers = Vec::new();
        let mut stream = self.feed.ledgers(start_ledger);
        // Ledgers past the tip do not exist yet: stop when none arrives for a while.
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
            let (sequence, xdr) = item?;
            if sequence >= end_ledger {
                break;
            }
            ledgers.push(RawLedger { sequence, ledger_close_meta_xdr: xdr });
        }
        // The feed is read to its tip only as far as asked: report the last ledger seen.
        let latest_ledger = ledgers.last().map_or(0, |l| l.sequence);
        Ok(Response::new(GetLedgerRangeResponse { ledgers, latest_ledger }))
    }
}

/// Close times that follow the wall clock: ledger `first_ledger + k` closes
/// `k * interval` after `start`, and is not sent before then.
#[derive(Debug, Clone, Copy)]
pub struct LiveClock {
    pub start: tokio::time::Instant,
    pub first_ledger: u32,
    pub interval: Duration,
}

impl LiveClock {
    fn release_at(&self, sequence: u32) -> tokio::time::Instant {
        self.start + self.interval * sequence.saturating_sub(self.first_ledger)
    }
}

/// Moves ledgers from the feed to one client, applying pacing and faults.
async fn pump(
    mut ledgers: BoxStream<'static, Result<(u32, Vec<u8>), Status>>,
    options: ServeOptions,
    stream_no: u64,
    tx: mpsc::Sender<Result<RawLedger, Status>>,
) {
    let mut sent: u32 = 0;
    // A live clock paces by close time, not per stream: a client that
    // (re)connects late gets the backlog at once, then the tip as it closes.
    let mut tick = options.ledger_interval.filter(|_| options.live_clock.is_none()).map(|d| {
        let mut t = tokio::time::interval(d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        if let Some(t) = tick.as_mut() {
            tokio::select! {
                _ = t.tick() => {}
                _ = tx.closed() => return,
            }
        }
        if options.drop_every.is_some_and(|n| n > 0 && sent >= n) {
            tracing::info!(stream = stream_no, sent, "fault injection: dropping the stream");
            let _ = tx
                .send(Err(Status::unavailable(format!("fault injection: stream dropped after {sent} ledgers"))))
                .await;
            return;
        }
        if stream_no == 0 && options.stall_after.is_some_and(|n| sent >= n) {
            tracing::info!(stream = stream_no, sent, "fault injection: stalling the stream");
            tx.closed().await;
            return;
        }
        let next = tokio::select! {
            n = ledgers.next() => n,
            _ = tx.closed() => return,
        };
        let item = match next {
            None => return,
            Some(Err(status)) => {
                tracing::warn!(stream = stream_no, "ending the stream: {}", status.message());
                let _ = tx.send(Err(status)).await;
                return;
            }
            Some(Ok((sequence, mut xdr))) => {
                if let Some(clock) = options.live_clock {
                    tokio::select! {
                        _ = tokio::time::sleep_until(clock.release_at(sequence)) => {}
                        _ = tx.closed() => return,
                    }
                }
                if options.skip_ledger == Some(sequence) {
                    tracing::info!(sequence, "fault injection: leaving the ledger out");
                    continue;
                }
                if options.corrupt_ledger == Some(sequence) {
                    tracing::info!(sequence, "fault injection: sending a truncated ledger");
                    xdr.truncate(xdr.len() / 2);
                }
                RawLedger { sequence, ledger_close_meta_xdr: xdr }
            }
        };
        if tx.send(Ok(item)).await.is_err() {
            return;
        }
        sent += 1;
    }
}
