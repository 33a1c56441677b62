//! A SEP-54 / galexie data lake read through `object_store`: a local
//! directory, S3 (or an S3-compatible server) or GCS, all read the same way.
//!
//! Objects are fetched `num_workers` at a time and up to `buffer_size` ahead
//! of the decoder, in ledger order; memory is bounded by those two numbers.
//! A missing object is waited for while nothing after it exists (the lake's
//! tip); if a later object exists the lake has a gap and the stream fails
//! instead of skipping ledgers.
//!
//! Transient failures are retried `retry_limit` times with exponential
//! backoff and jitter: by `object_store`'s HTTP client for object stores (it
//! sees status codes: 5xx, 429, timeouts and broken connections are retried,
//! 403 and 404 are not), here for local I/O errors.

use crate::model::Range;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ducklake_config::DatastoreConfig;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::sync::Mutex;

use super::layout::{EXTENSIONS, Layout, MANIFEST_FILE, Manifest};
use super::objstore::{GcsSpec, S3Spec, StoreSpec, describe_error, http_status, retry_config};
use super::{LedgerSource, SourceCounters, SourceError, SourceObject, SourcePhase};
use crate::decode::Framing;

/// How often a full listing may run while waiting at the tip.
const LIST_INTERVAL: Duration = Duration::from_secs(60);

pub struct DatastoreSource {
    inner: Arc<Inner>,
}

struct Inner {
    /// Shared with the pipeline's progress: waiting at the tip shows in `/status`.
    counters: Arc<SourceCounters>,
    store: Arc<dyn ObjectStore>,
    /// The lake's address for messages (directory, `s3://...`, `gs://...`).
    root: String,
    /// Object store over HTTP: its client has already retried transient failures.
    remote: bool,
    layout: Layout,
    /// Index into [`EXTENSIONS`] of the extension that worked last.
    ext: AtomicUsize,
    num_workers: usize,
    buffer_size: usize,
    retry_limit: u32,
    retry_wait: Duration,
    poll_interval: Duration,
    last_listing: Mutex<Option<Instant>>,
}

/// The lake settings after reconciling the config with the lake's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeInfo {
    pub layout: Layout,
    pub manifest: Option<Manifest>,
}

impl DatastoreSource {
    /// Opens the lake, reads its `.config.json` and checks it against the config.
    /// `key` is the config key of the datastore section, for error messages.
    pub async fn open(cfg: &DatastoreConfig, passphrase: &str, key: &str) -> Result<Self, SourceError> {
        let spec = StoreSpec::resolve(cfg, key, &|var| std::env::var(var).ok())?;
        if let StoreSpec::Fs { dir } = &spec {
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(SourceError::config(format!("{key}.path"), format!("{dir} is not a directory"))),
                Err(e) => return Err(SourceError::config(format!("{key}.path"), format!("cannot read {dir}: {e}"))),
            }
        }
        let retry_wait = Duration::from_millis(cfg.retry_wait_ms);
        let store = spec.build(retry_config(cfg.retry_limit, retry_wait)).map_err(|e| {
            SourceError::config(format!("{key}.path"), format!("cannot open {}: {}", spec.root(), describe_error(&e)))
        })?;
        let root = spec.root();
        let manifest = read_manifest(store.as_ref(), &root).await.map_err(|e| open_error(&spec, key, e))?;
        if manifest.is_none() && spec.is_remote() {
            // A missing bucket answers 404 like a missing manifest: tell them apart
            // now rather than wait forever at the "tip" of a lake that is not there.
            let listing = store.list_with_delimiter(None).await.map_err(|e| open_error(&spec, key, e))?;
            if listing.objects.is_empty() && listing.common_prefixes.is_empty() {
                return Err(SourceError::config(
                    format!("{key}.path"),
                    format!(
                        "no lake at {root}: no {MANIFEST_FILE} and no objects under this prefix (check the bucket and prefix)"
                    ),
                ));
            }
        }
        let info = reconcile(cfg, passphrase, key, manifest)?;
        Ok(DatastoreSource {
            inner: Arc::new(Inner {
                store,
                remote: spec.is_remote(),
                root,
                layout: info.layout,
                ext: AtomicUsize::new(0),
                num_workers: cfg.num_workers.max(1),
                buffer_size: cfg.buffer_size.max(1),
                retry_limit: cfg.retry_limit,
                retry_wait,
                poll_interval: Duration::from_millis(cfg.poll_interval_ms.max(1)),
                last_listing: Mutex::new(None),
                counters: Arc::default(),
            }),
        })
    }

    pub fn layout(&self) -> Layout {
        self.inner.layout
    }
}

async fn read_manifest(store: &dyn ObjectStore, root: &str) -> Result<Option<Manifest>, object_store::Error> {
    match store.get(&StorePath::from(MANIFEST_FILE)).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            serde_json::from_slice(&bytes).map(Some).map_err(|e| object_store::Error::Generic {
                store: "lake",
                source: format!("{root}/{MANIFEST_FILE} is not a valid lake manifest: {e}").into(),
            })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A failure to open the lake, as a config problem naming the key most likely at fault.
fn open_error(spec: &StoreSpec, key: &str, e: object_store::Error) -> SourceError {
    let root = spec.root();
    let text = describe_error(&e);
    let status = match &e {
        object_store::Error::NotFound { .. } => Some(404),
        object_store::Error::PermissionDenied { .. } => Some(403),
        object_store::Error::Unauthenticated { .. } => Some(401),
        _ => http_status(&text),
    };
    let (field, reason) = match (status, spec) {
        (Some(404), StoreSpec::S3(s)) => {
            ("path", format!("bucket {:?} not found at {} ({text})", s.bucket, s.bucket_url()))
        }
        (Some(404), StoreSpec::Gcs(g)) => ("path", format!("bucket {:?} not found ({text})", g.bucket)),
        (Some(401 | 403), _) => {
            let hint = match spec {
                StoreSpec::Gcs(_) => {
                    "check credentials_file or GOOGLE_APPLICATION_CREDENTIALS, or set anonymous: true for a public bucket"
                }
                _ => {
                    "check access_key_id / secret_access_key or the AWS_* variables, or set anonymous: true for a public bucket"
                }
            };
            ("path", format!("access denied to {root}: {hint} ({text})"))
        }
        (_, StoreSpec::S3(s)) if text.contains("redirect") || status == Some(301) => {
            ("region", format!("{root}: the bucket answered with a redirect; is it in region {:?}? ({text})", s.region))
        }
        (
            _,
            StoreSpec::S3(S3Spec { endpoint: Some(url), .. }) | StoreSpec::Gcs(GcsSpec { endpoint: Some(url), .. }),
        ) => ("endpoint", format!("cannot read {root} from {url}: {text}")),
        _ if text.to_ascii_lowercase().contains("credential") => (
            "path",
            format!("cannot read {root}: no usable credentials ({text}); set anonymous: true for a public bucket"),
        ),
        _ => ("path", format!("cannot read {root}: {text}")),
    };
    SourceError::config(format!("{key}.{field}"), reason)
}

/// Combines config and manifest: the manifest wins where the config is silent,
/// and a disagreement is an error naming the config key.
pub fn reconcile(
    cfg: &DatastoreConfig,
    passphrase: &str,
    key: &str,
    manifest: Option<Manifest>,
) -> Result<LakeInfo, SourceError> {
    let mismatch = |field: &str, ours: String, theirs: String| {
        SourceError::config(
            format!("{key}.{field}"),
            format!("{ours} disagrees with the lake's {MANIFEST_FILE} ({theirs}) at {}", cfg.path),
        )
    };
    if let Some(m) = &manifest {
        if let Some(p) = &m.network_passphrase
            && p != passphrase
        {
            return Err(SourceError::config(
                format!("{}.network_passphrase", key.trim_end_matches(".datastore")),
                format!("{passphrase:?} disagrees with the lake's {MANIFEST_FILE} ({p:?}) at {}", cfg.path),
            ));
        }
        if let Some(c) = &m.compression
            && !c.eq_ignore_ascii_case("zstd")
        {
            return Err(SourceError::config(
                format!("{key}.path"),
                format!("compression {c:?} in {}/{MANIFEST_FILE} is not supported (zstd only)", cfg.path),
            ));
        }
    }
    let from_manifest = |v: Option<u32>, field: &str, config: Option<u32>, default: u32| match (config, v) {
        (Some(c), Some(m)) if c != m => Err(mismatch(field, c.to_string(), m.to_string())),
        (Some(c), _) => Ok(c),
        (None, Some(m)) => Ok(m),
        (None, None) => Ok(default),
    };
    let lpf = from_manifest(
        manifest.as_ref().and_then(|m| m.ledgers_per_batch),
        "ledgers_per_file",
        cfg.ledgers_per_file,
        1,
    )?;
    let fpp = from_manifest(
        manifest.as_ref().and_then(|m| m.batches_per_partition),
        "files_per_partition",
        cfg.files_per_partition,
        64000,
    )?;
    if lpf == 0 {
        return Err(mismatch("ledgers_per_file", "0".into(), "must be at least 1".into()));
    }
    Ok(LakeInfo { layout: Layout { ledgers_per_file: lpf, files_per_partition: fpp }, manifest })
}

fn io(what: String, e: impl std::fmt::Display) -> SourceError {
    SourceError::Io { what, message: e.to_string() }
}

impl LedgerSource for DatastoreSource {
    fn describe(&self) -> String {
        let l = self.inner.layout;
        format!(
            "datastore {} ({} ledgers/file, {} files/partition)",
            self.inner.root, l.ledgers_per_file, l.files_per_partition
        )
    }

    fn counters(&self) -> Option<Arc<SourceCounters>> {
        Some(self.inner.counters.clone())
    }

    fn stream(&self, range: Range) -> BoxStream<'static, Result<SourceObject, SourceError>> {
        let inner = self.inner.clone();
        let lpf = inner.layout.ledgers_per_file;
        let first = inner.layout.file_start(range.from);
        let starts = stream::iter((0u64..).map(move |i| u64::from(first) + i * u64::from(lpf)))
            .take_while(move |s| futures::future::ready(*s <= u64::from(range.to.unwrap_or(u32::MAX))))
            .map(|s| s as u32);
        let workers = inner.num_workers;
        let fetches = starts.map(move |start| fetch(inner.clone(), start)).buffered(workers);
        // Read ahead into a bounded channel so decoding never waits on I/O.
        let (tx, rx) = tokio::sync::mpsc::channel(self.inner.buffer_size);
        tokio::spawn(async move {
            let mut fetches = fetches.boxed();
            while let Some(item) = fetches.next().await {
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        tokio_stream_from(rx).boxed()
    }
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}

impl Inner {
    fn key(&self, start: u32, ext_index: usize) -> String {
        self.layout.object_key(start, EXTENSIONS[ext_index])
    }

    /// The object starting at `start`, trying each known extension; `None` if absent.
    async fn get(&self, start: u32) -> Result<Option<(String, Bytes)>, object_store::Error> {
        let preferred = self.ext.load(Ordering::Relaxed);
        for i in [preferred, 1 - preferred] {
            let key = self.key(start, i);
            match self.store.get(&StorePath::from(key.as_str())).await {
                Ok(r) => {
                    let bytes = r.bytes().await?;
                    self.ext.store(i, Ordering::Relaxed);
                    return Ok(Some((key, bytes)));
                }
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Whether the lake holds an object after `start`: the next object, or
    /// (at most once per [`LIST_INTERVAL`]) anything later in this or the next partition.
    async fn later_object(&self, start: u32) -> Result<Option<String>, object_store::Error> {
        let next = start.checked_add(self.layout.ledgers_per_file);
        if let Some(next) = next {
            for i in 0..EXTENSIONS.len() {
                let key = self.key(next, i);
                match self.store.head(&StorePath::from(key.as_str())).await {
                    Ok(_) => return Ok(Some(key)),
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        {
            let mut last = self.last_listing.lock().await;
            if last.is_some_and(|t| t.elapsed() < LIST_INTERVAL) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        let mut dirs = vec![self.layout.partition_dir(start)];
        let size = u64::from(self.layout.ledgers_per_file) * u64::from(self.layout.files_per_partition);
        if let Ok(next_part) = u32::try_from((u64::from(start) / size + 1) * size) {
            dirs.push(self.layout.partition_dir(next_part));
        }
        dirs.dedup();
        for dir in dirs {
            let prefix = (!dir.is_empty()).then(|| StorePath::from(dir.trim_end_matches('/')));
            let mut listing = self.store.list(prefix.as_ref());
            while let Some(meta) = listing.try_next().await? {
                let name = meta.location.filename().unwrap_or_default();
                if let Some((first, _)) = Layout::parse_file_name(name)
                    && first > start
                {
                    return Ok(Some(meta.location.to_string()));
                }
            }
        }
        Ok(None)
    }
}

/// Fetches the object starting at `start`: retries transient errors, waits at
/// the tip, fails on a gap.
async fn fetch(inner: Arc<Inner>, start: u32) -> Result<SourceObject, SourceError> {
    let end = inner.layout.file_end(start);
    let mut errors = 0u32;
    let mut gap_checks = 0u32;
    let mut waiting_since: Option<Instant> = None;
    loop {
        match inner.get(start).await {
            Ok(Some((key, data))) => {
                inner.counters.set_phase(SourcePhase::Streaming);
                if let Some(since) = waiting_since {
                    tracing::info!(object = %key, waited_s = since.elapsed().as_secs(), "object arrived");
                }
                return Ok(SourceObject {
                    what: format!("{}/{key}", inner.root),
                    framing: Framing::ZstdBatch,
                    first: start,
                    last: end,
                    data,
                });
            }
            Ok(None) => match inner.later_object(start).await {
                Ok(Some(later)) => {
                    // A later object exists. Writers may finish slightly out of
                    // order, so look again a few times before calling it a gap.
                    gap_checks += 1;
                    if gap_checks > inner.retry_limit {
                        return Err(SourceError::Gap {
                            key: format!("{}/{}", inner.root, inner.key(start, inner.ext.load(Ordering::Relaxed))),
                            later: format!("{}/{later}", inner.root),
                            first: start,
                            last: end,
                        });
                    }
                    tokio::time::sleep(inner.retry_wait).await;
                }
                Ok(None) => {
                    inner.counters.set_phase(SourcePhase::AtTip);
                    if waiting_since.is_none() {
                        tracing::info!(
                            ledger = start,
                            object = %inner.key(start, inner.ext.load(Ordering::Relaxed)),
                            "waiting at the lake's tip for the next object"
                        );
                        waiting_since = Some(Instant::now());
                    }
                    tokio::time::sleep(inner.poll_interval).await;
                }
                Err(e) => retry(&inner, start, &mut errors, e).await?,
            },
            Err(e) => retry(&inner, start, &mut errors, e).await?,
        }
    }
}

/// Counts a failed read; waits before the next attempt if it may succeed, else fails.
async fn retry(inner: &Inner, start: u32, errors: &mut u32, e: object_store::Error) -> Result<(), SourceError> {
    *errors += 1;
    let key = format!("{}/{}", inner.root, inner.key(start, inner.ext.load(Ordering::Relaxed)));
    if matches!(e, object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }) {
        return Err(io(key, format!("access denied: {}", describe_error(&e))));
    }
    if inner.remote {
        // The HTTP client retried what was transient; what reaches here is final.
        return Err(io(key, describe_error(&e)));
    }
    if *errors > inner.retry_limit {
        return Err(io(key, format!("{} (gave up after {errors} attempts)", describe_error(&e))));
    }
    let wait = jitter(inner.retry_wait.saturating_mul(1 << (*errors - 1).min(6)));
    tracing::warn!(object = %key, attempt = *errors, error = %e, wait_ms = wait.as_millis() as u64, "read failed; retrying");
    tokio::time::sleep(wait).await;
    Ok(())
}

/// `d` scaled by a random factor in [0.5, 1.5), so that readers failing
/// together do not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    d.mul_f64(0.5 + (random % 1024) as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(lpf: Option<u32>, fpp: Option<u32>) -> DatastoreConfig {
        DatastoreConfig {
            path: "/lake".into(),
            ledgers_per_file: lpf,
            files_per_partition: fpp,
            ..DatastoreConfig::default()
        }
    }

    fn manifest(lpf: u32, fpp: u32) -> Manifest {
        Manifest {
            network_passphrase: Some("P".into()),
            version: Some("1.0".into()),
            compression: Some("zstd".into()),
            ledgers_per_batch: Some(lpf),
            batches_per_partition: Some(fpp),
        }
    }

    #[test]
    fn manifest_fills_unset_values() {
        let info = reconcile(&cfg(None, None), "P", "sources[0].datastore", Some(manifest(64, 10))).unwrap();
        assert_eq!(info.layout, Layout { ledgers_per_file: 64, files_per_partition: 10 });
        let info = reconcile(&cfg(None, None), "P", "sources[0].datastore", None).unwrap();
        assert_eq!(info.layout, Layout { ledgers_per_file: 1, files_per_partition: 64000 });
    }

    #[test]
    fn disagreements_name_the_key() {
        let err = reconcile(&cfg(Some(1), None), "P", "sources[0].datastore", Some(manifest(64, 10))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("sources[0].datastore.ledgers_per_file: 1 disagrees with the lake's .config.json (64)"),
            "{err}"
        );
        let err = reconcile(&cfg(None, None), "Q", "sources[0].datastore", Some(manifest(64, 10))).unwrap_err();
        assert!(err.to_string().starts_with("sources[0].network_passphrase: \"Q\" disagrees"), "{err}");
    }
}
