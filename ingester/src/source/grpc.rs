//! A `raw_ledger_service.RawLedgerService` stream as a ledger source.
//!
//! The server streams forever from `start_ledger` and never ends a stream by
//! itself, so everything that can go wrong is a disconnect: stream end,
//! transport error, `Unavailable`, or silence (the stall timeout). Each is
//! answered the same way: reconnect with exponential backoff plus jitter and
//! ask for the last received ledger + 1. Ledgers the server repeats are
//! dropped; a ledger the server skips is an error. Hash continuity is checked
//! downstream by the pipeline on every ledger.

use crate::model::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use ducklake_config::{GrpcConfig, grpc_endpoint_uri};
use ducklake_proto::StreamLedgersRequest;
use ducklake_proto::raw_ledger_service_client::RawLedgerServiceClient;
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tonic::Code;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::{LedgerSource, SourceCounters, SourceError, SourceObject, SourcePhase};
use crate::decode::Framing;

/// Ledgers received ahead of the decoder (each is ~1-1.5 MB on pubnet).
const READ_AHEAD: usize = 16;

pub struct GrpcSource {
    cfg: Arc<GrpcConfig>,
    uri: String,
    auth: Option<(AsciiMetadataKey, AsciiMetadataValue)>,
    ca: Option<Certificate>,
    counters: Arc<SourceCounters>,
}

impl GrpcSource {
    /// Checks the settings (endpoint, TLS CA file, auth header) without
    /// connecting: the server may come up after the ingester. `key` is the
    /// config key of the source, for error messages.
    pub fn new(cfg: &GrpcConfig, key: &str) -> Result<Self, SourceError> {
        let uri = grpc_endpoint_uri(&cfg.endpoint).map_err(|r| SourceError::config(format!("{key}.endpoint"), r))?;
        Endpoint::from_shared(uri.clone())
            .map_err(|e| SourceError::config(format!("{key}.endpoint"), format!("{:?}: {e}", cfg.endpoint)))?;
        let ca = match &cfg.tls_ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    SourceError::config(format!("{key}.tls_ca_file"), format!("cannot read {path}: {e}"))
                })?;
                Some(Certificate::from_pem(pem))
            }
            None => None,
        };
        let auth = match &cfg.auth_token {
            Some(token) => {
                let name = AsciiMetadataKey::from_bytes(cfg.auth_header.as_bytes())
                    .map_err(|e| SourceError::config(format!("{key}.auth_header"), e.to_string()))?;
                let value = AsciiMetadataValue::try_from(token.as_str()).map_err(|_| {
                    SourceError::config(format!("{key}.auth_token"), "must be printable ASCII without newlines")
                })?;
                Some((name, value))
            }
            None => None,
        };
        Ok(GrpcSource { cfg: Arc::new(cfg.clone()), uri, auth, ca, counters: Arc::default() })
    }

    fn endpoint(&self) -> Result<Endpoint, SourceError> {
        let io = |e: tonic::transport::Error| SourceError::Io { what: self.uri.clone(), message: e.to_string() };
        let mut ep = Endpoint::from_shared(self.uri.clone())
            .map_err(io)?
            .connect_timeout(Duration::from_secs(self.cfg.connect_timeout_seconds))
            .tcp_nodelay(true)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if self.uri.starts_with("https://") {
            let mut tls = ClientTlsConfig::new().with_enabled_roots();
            if let Some(ca) = &self.ca {
                tls = tls.ca_certificate(ca.clone());
            }
            if let Some(domain) = &self.cfg.tls_domain {
                tls = tls.domain_name(domain.clone());
            }
            ep = ep.tls_config(tls).map_err(io)?;
        }
        Ok(ep)
    }
}

impl LedgerSource for GrpcSource {
    fn describe(&self) -> String {
        format!("grpc {}", self.uri)
    }

    fn stream(&self, range: Range) -> BoxStream<'static, Result<SourceObject, SourceError>> {
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let session = Session {
            endpoint: self.endpoint(),
            cfg: self.cfg.clone(),
            uri: self.uri.clone(),
            auth: self.auth.clone(),
            counters: self.counters.clone(),
        };
        tokio::spawn(session.run(range, tx));
        Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
    }

    fn counters(&self) -> Option<Arc<SourceCounters>> {
        Some(self.counters.clone())
    }
}

/// Everything one streaming task needs, owned.
struct Session {
    endpoint: Result<Endpoint, SourceError>,
    cfg: Arc<GrpcConfig>,
    uri: String,
    auth: Option<(AsciiMetadataKey, AsciiMetadataValue)>,
    counters: Arc<SourceCounters>,
}

/// Why one connection ended.
enum Ended {
    /// The consumer went away or the range is complete.
    Done,
    /// Worth reconnecting: says why, for the log.
    Retry(String),
    /// Will not get better by reconnecting.
    Fatal(SourceError),
}

impl Session {
    async fn run(self, range: Range, tx: mpsc::Sender<Result<SourceObject, SourceError>>) {
        let endpoint = match &self.endpoint {
            Ok(e) => e.clone(),
            Err(e) => {
                let _ = tx.send(Err(SourceError::Io { what: self.uri.clone(), message: e.to_string() })).await;
                return;
            }
        };
        let mut next = range.from;
        let mut failures: u32 = 0;
        loop {
            if range.to.is_some_and(|to| next > to) {
                return;
            }
            let before = next;
            let ended = self.connect_and_stream(&endpoint, &mut next, range, &tx).await;
            let reason = match ended {
                Ended::Done => return,
                Ended::Fatal(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                Ended::Retry(reason) => reason,
            };
            failures = if next > before { 1 } else { failures + 1 };
            if self.cfg.max_reconnect_attempts > 0 && failures > self.cfg.max_reconnect_attempts {
                let e = SourceError::Io {
                    what: self.uri.clone(),
                    message: format!(
                        "gave up after {} attempts without a ledger (grpc.max_reconnect_attempts): {reason}",
                        failures - 1
                    ),
                };
                let _ = tx.send(Err(e)).await;
                return;
            }
            let delay = backoff(
                failures,
                Duration::from_millis(self.cfg.reconnect_initial_backoff_ms),
                Duration::from_millis(self.cfg.reconnect_max_backoff_ms),
            );
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            self.counters.set_error(&format!("{}: {reason}", self.uri));
            self.counters.set_phase(
                if reason.starts_with("no ledger for") || reason.starts_with("no response within") {
                    SourcePhase::Stalled
                } else {
                    SourcePhase::Reconnecting
                },
            );
            tracing::warn!(endpoint = %self.uri, resume_at = next, attempt = failures, delay_ms = delay.as_millis() as u64, "ledger stream lost: {reason}; reconnecting");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = tx.closed() => return,
            }
        }
    }

    /// One connection: streams from `*next` until something ends it.
    async fn connect_and_stream(
        &self,
        endpoint: &Endpoint,
        next: &mut u32,
        range: Range,
        tx: &mpsc::Sender<Result<SourceObject, SourceError>>,
    ) -> Ended {
        let channel: Channel = match endpoint.connect().await {
            Ok(c) => c,
            Err(e) => return Ended::Retry(format!("cannot connect: {}", error_chain(&e))),
        };
        let mut client = RawLedgerServiceClient::new(channel)
            .max_decoding_message_size(self.cfg.max_message_size)
            .max_encoding_message_size(1 << 20);
        let mut request = tonic::Request::new(StreamLedgersRequest { start_ledger: *next });
        if let Some((k, v)) = &self.auth {
            request.metadata_mut().insert(k.clone(), v.clone());
        }
        let stall = Duration::from_secs(self.cfg.stall_timeout_seconds);
        let mut stream = match tokio::time::timeout(stall, client.stream_raw_ledgers(request)).await {
            Err(_) => {
                return Ended::Retry(format!("no response within {}s (grpc.stall_timeout_seconds)", stall.as_secs()));
            }
            Ok(Err(status)) => return self.classify(status),
            Ok(Ok(response)) => response.into_inner(),
        };
        tracing::info!(endpoint = %self.uri, start_ledger = *next, "ledger stream open");
        loop {
            let message = tokio::select! {
                m = tokio::time::timeout(stall, stream.message()) => m,
                _ = tx.closed() => return Ended::Done,
            };
            let raw = match message {
                Err(_) => {
                    return Ended::Retry(format!(
                        "no ledger for {}s (grpc.stall_timeout_seconds) while waiting for ledger {next}",
                        stall.as_secs()
                    ));
                }
                Ok(Err(status)) => return self.classify(status),
                Ok(Ok(None)) => return Ended::Retry("the server ended the stream".into()),
                Ok(Ok(Some(raw))) => raw,
            };
            if raw.sequence < *next {
                // A server may replay from an earlier point after a reconnect.
                tracing::debug!(sequence = raw.sequence, expected = *next, "dropping a ledger received twice");
                continue;
            }
            if raw.sequence > *next {
                return Ended::Fatal(SourceError::Io {
                    what: self.uri.clone(),
                    message: format!(
                        "the server sent ledger {} when ledger {} was requested next; refusing to skip ledgers",
                        raw.sequence, *next
                    ),
                });
            }
            let object = SourceObject {
                what: format!("{} ledger {}", self.uri, raw.sequence),
                framing: Framing::Lcm,
                first: raw.sequence,
                last: raw.sequence,
                data: Bytes::from(raw.ledger_close_meta_xdr),
            };
            self.counters.set_phase(SourcePhase::Streaming);
            if tx.send(Ok(object)).await.is_err() {
                return Ended::Done;
            }
            *next += 1;
            if range.to.is_some_and(|to| *next > to) {
                // Dropping the stream cancels the call: the server never ends it.
                return Ended::Done;
            }
        }
    }

    fn classify(&self, status: tonic::Status) -> Ended {
        let message = status.message().to_string();
        match status.code() {
            Code::OutOfRange if message.contains("too large") => Ended::Fatal(SourceError::Io {
                what: self.uri.clone(),
                message: format!("{message} (raise grpc.max_message_size, now {})", self.cfg.max_message_size),
            }),
            Code::Unauthenticated | Code::PermissionDenied => Ended::Fatal(SourceError::Io {
                what: self.uri.clone(),
                message: format!("{:?}: {message} (check grpc.auth_header / grpc.auth_token)", status.code()),
            }),
            Code::InvalidArgument
            | Code::NotFound
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::FailedPrecondition => Ended::Fatal(SourceError::Io {
                what: self.uri.clone(),
                message: format!("{:?}: {message}", status.code()),
            }),
            code => Ended::Retry(format!("{code:?}: {message}")),
        }
    }
}

/// Delay before attempt `n` (1-based): `initial * 2^(n-1)`, capped, with
/// "equal jitter" (between half and all of it) so clients don't reconnect in step.
pub fn backoff(n: u32, initial: Duration, max: Duration) -> Duration {
    let exp = initial.saturating_mul(1u32 << n.saturating_sub(1).min(20)).min(max);
    let half = exp / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) that differs between calls and processes.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::AtomicU64;
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let h = RandomState::new().hash_one(CALLS.fetch_add(1, Ordering::Relaxed));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// "transport error: connection refused" rather than only "transport error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let i = Duration::from_millis(100);
        let m = Duration::from_secs(2);
        for n in 1..30 {
            let d = backoff(n, i, m);
            let full = (i * 2u32.pow((n - 1).min(20))).min(m);
            assert!(d >= full / 2 && d <= full, "attempt {n}: {d:?} not within [{:?}, {full:?}]", full / 2);
        }
        let spread: std::collections::BTreeSet<_> = (0..20).map(|_| backoff(5, i, m)).collect();
        assert!(spread.len() > 1, "no jitter");
    }

    #[test]
    fn settings_are_checked_with_key_names() {
        let mut cfg = GrpcConfig::for_endpoint("localhost");
        let err = GrpcSource::new(&cfg, "sources[0].grpc").err().unwrap().to_string();
        assert!(err.starts_with("sources[0].grpc.endpoint:"), "{err}");
        cfg.endpoint = "https://ledgers.example.org".into();
        cfg.tls_ca_file = Some("/nonexistent/ca.pem".into());
        let err = GrpcSource::new(&cfg, "sources[0].grpc").err().unwrap().to_string();
        assert!(err.starts_with("sources[0].grpc.tls_ca_file: cannot read /nonexistent/ca.pem"), "{err}");
        cfg.tls_ca_file = None;
        cfg.auth_token = Some("Bearer a\nb".into());
        let err = GrpcSource::new(&cfg, "sources[0].grpc").err().unwrap().to_string();
        assert!(err.starts_with("sources[0].grpc.auth_token:"), "{err}");
        cfg.auth_token = Some("Bearer abc".into());
        let src = GrpcSource::new(&cfg, "sources[0].grpc").unwrap();
        assert_eq!(src.describe(), "grpc https://ledgers.example.org");
    }
}
