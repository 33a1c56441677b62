//! Reading the ingester's own view of its progress: `GET /status` on the pod.

use std::time::Duration;

use futures::future::BoxFuture;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The ingester's `/status` answer and one source in it: the very types the
/// ingester serializes (`ducklake-config`), under the names the operator uses.
pub use ducklake_config::status::{SourceStatus as SourceReport, StatusDocument as IngesterStatus};

/// Asks an ingester for its status; a trait so tests answer for the pod.
pub trait StatusProbe: Send + Sync {
    /// `base` is `http://<pod ip>:<port>`; `token` the query API's bearer token, if any.
    fn status(&self, base: String, token: Option<String>) -> BoxFuture<'static, Result<IngesterStatus, String>>;
}

/// Plain HTTP/1 to the pod IP, with a short timeout: a slow answer must not
/// hold up reconciling other resources.
pub struct HttpProbe {
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Empty<bytes::Bytes>>,
    timeout: Duration,
}

impl HttpProbe {
    pub fn new(timeout: Duration) -> Self {
        HttpProbe { client: Client::builder(TokioExecutor::new()).build_http(), timeout }
    }
}

impl StatusProbe for HttpProbe {
    fn status(&self, base: String, token: Option<String>) -> BoxFuture<'static, Result<IngesterStatus, String>> {
        let client = self.client.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let url = format!("{base}/status");
            let mut req = http::Request::get(&url);
            if let Some(t) = token {
                req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let req = req.body(Empty::new()).map_err(|e| format!("{url}: {e}"))?;
            let resp = tokio::time::timeout(timeout, client.request(req))
                .await
                .map_err(|_| format!("{url}: no answer within {timeout:?}"))?
                .map_err(|e| format!("{url}: {e}"))?;
            let status = resp.status();
            let body = tokio::time::timeout(timeout, resp.into_body().collect())
                .await
                .map_err(|_| format!("{url}: body not complete within {timeout:?}"))?
                .map_err(|e| format!("{url}: {e}"))?
                .to_bytes();
            if status == http::StatusCode::UNAUTHORIZED {
                return Err(format!(
                    "{url}: 401; the query API wants a token the operator could not resolve \
                     (give query_api.auth_token as ${{VAR}} with VAR in spec.env from a Secret)"
                ));
            }
            if !status.is_success() {
                return Err(format!("{url}: HTTP {status}"));
            }
            serde_json::from_slice(&body).map_err(|e| format!("{url}: unexpected answer: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ingesters_status() {
        let body = r#"{"version":"0.1.0","sources":[{"name":"pubnet","schema":"mainnet","state":"caught_up",
            "start_ledger":2,"end_ledger":null,"last_committed_ledger":59000001,"last_committed_close_time":1,
            "last_received_ledger":59000001,"objects_received":3,"bytes_received":10,"reconnects":0,
            "ledgers_committed":10,"batches_committed":1,"ledgers_per_second":12.5,"last_error":null,
            "lag_seconds":4,"lag_ledgers":0}]}"#;
        let s: IngesterStatus = serde_json::from_str(body).unwrap();
        assert_eq!(s.sources[0].state, ducklake_config::status::SourceState::CaughtUp);
        assert_eq!(s.sources[0].last_committed_ledger, Some(59_000_001));
        assert_eq!(s.sources[0].lag_seconds, Some(4));
    }
}
