//! Where a data lake lives: a local directory, an S3 or S3-compatible bucket,
//! or a GCS bucket.
//!
//! [`StoreSpec::resolve`] checks the config (and the environment it falls back
//! on) without any I/O, so a mistake is reported against its key before
//! anything connects; [`StoreSpec::build`] then makes an `object_store` client
//! rooted at the lake's prefix, so the datastore source reads every backend
//! the same way.

use std::sync::Arc;
use std::time::Duration;

use ducklake_config::{DatastoreConfig, DatastoreType};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use url::Url;

use super::SourceError;
use crate::s3::{is_loopback, parse_endpoint, s3_endpoint, s3_region};

/// Connecting must not take longer than this (a dead endpoint fails fast).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request, body included: generous for 64-ledger objects on slow links.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries of one request stop after this long, whatever `retry_limit` says.
const RETRY_TIMEOUT: Duration = Duration::from_secs(300);

/// A checked lake location and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// A local directory.
    Fs {
        dir: String,
    },
    S3(S3Spec),
    Gcs(GcsSpec),
}

/// An S3 or S3-compatible lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Spec {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
    pub region: String,
    /// The service URL (`endpoint`), normalised; `None` for AWS itself.
    pub endpoint: Option<Url>,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
    pub allow_http: bool,
    pub auth: S3Auth,
}

/// How S3 requests are signed.
#[derive(Clone, PartialEq, Eq)]
pub enum S3Auth {
    /// Unsigned requests (public buckets).
    Anonymous,
    /// Keys from the config.
    Keys { access_key_id: String, secret_access_key: String, session_token: Option<String> },
    /// The AWS credential chain: `AWS_*` variables, web identity, container or instance credentials.
    Environment,
}

impl std::fmt::Debug for S3Auth {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            S3Auth::Anonymous => f.write_str("Anonymous"),
            S3Auth::Keys { access_key_id, session_token, .. } => f
                .debug_struct("Keys")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>")
                .field("session_token", &session_token.as_ref().map(|_| "<redacted>"))
                .finish(),
            S3Auth::Environment => f.write_str("Environment"),
        }
    }
}

/// A Google Cloud Storage lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsSpec {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
    /// API base URL (an emulator); `None` for Google Cloud Storage.
    pub endpoint: Option<Url>,
    pub allow_http: bool,
    pub auth: GcsAuth,
}

/// How GCS requests are authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcsAuth {
    Anonymous,
    /// A service-account or authorized-user JSON file.
    File(String),
    /// `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_SERVICE_ACCOUNT*`, gcloud's file or instance credentials.
    Environment,
}

impl StoreSpec {
    /// Checks the datastore section. `key` is its config key
    /// (`sources[0].datastore`) and `env` reads the environment.
    pub fn resolve(
        cfg: &DatastoreConfig,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<StoreSpec, SourceError> {
        let bad = |field: &str, reason: String| SourceError::config(format!("{key}.{field}"), reason);
        match cfg.store_type {
            DatastoreType::Fs => {
                if let Some(scheme) = scheme_of(&cfg.path) {
                    return Err(bad(
                        "path",
                        format!("{:?} is a {scheme}:// URL but type is FS (set type: S3 or GCS)", cfg.path),
                    ));
                }
                Ok(StoreSpec::Fs { dir: cfg.path.clone() })
            }
            DatastoreType::S3 => {
                let (bucket, prefix) =
                    parse_bucket_path(&cfg.path, &["s3", "s3a"], "s3").map_err(|r| bad("path", r))?;
                let region = s3_region(cfg.region.as_deref(), env).map_err(|r| bad("region", r))?;
                let endpoint =
                    s3_endpoint(cfg.endpoint.as_deref(), cfg.allow_http, env).map_err(|r| bad("endpoint", r))?;
                let path_style = cfg.force_path_style.unwrap_or(endpoint.is_some());
                if !path_style
                    && let Some(url) = &endpoint
                    && matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
                {
                    return Err(bad(
                        "force_path_style",
                        format!(
                            "must be true for an endpoint addressed by IP ({url}): virtual-hosted requests put the bucket in the host name"
                        ),
                    ));
                }
                let auth = match (cfg.anonymous, &cfg.access_key_id, &cfg.secret_access_key) {
                    (true, None, None) => S3Auth::Anonymous,
                    (true, _, _) => {
                        return Err(bad(
                            "anonymous",
                            "cannot be combined with access_key_id / secret_access_key (unsigned requests use no keys)"
                                .into(),
                        ));
                    }
                    (false, Some(id), Some(secret)) => {
                        if id.trim().is_empty() {
                            return Err(bad(
                                "access_key_id",
                                "is empty (an unset ${VAR} with an empty default?)".into(),
                            ));
                        }
                        if secret.is_empty() {
                            return Err(bad(
                                "secret_access_key",
                                "is empty (an unset ${VAR} with an empty default?)".into(),
                            ));
                        }
                        S3Auth::Keys {
                            access_key_id: id.trim().to_string(),
                            secret_access_key: secret.clone(),
                            session_token: cfg.session_token.clone().filter(|t| !t.is_empty()),
                        }
                    }
                    (false, Some(_), None) => {
                        return Err(bad("secret_access_key", "required with access_key_id".into()));
                    }
                    (false, None, Some(_)) => {
                        return Err(bad("access_key_id", "required with secret_access_key".into()));
                    }
                    (false, None, None) => {
                        if cfg.session_token.is_some() {
                            return Err(bad("session_token", "needs access_key_id and secret_access_key".into()));
                        }
                        S3Auth::Environment
                    }
                };
                Ok(StoreSpec::S3(S3Spec {
                    bucket,
                    prefix,
                    region,
                    endpoint,
                    path_style,
                    allow_http: cfg.allow_http,
                    auth,
                }))
            }
            DatastoreType::Gcs => {
                let (bucket, prefix) =
                    parse_bucket_path(&cfg.path, &["gs", "gcs"], "gs").map_err(|r| bad("path", r))?;
                let endpoint = match &cfg.endpoint {
                    Some(e) => Some(parse_endpoint(e, cfg.allow_http).map_err(|r| bad("endpoint", r))?),
                    None => None,
                };
                let auth = match (cfg.anonymous, &cfg.credentials_file) {
                    (true, None) => GcsAuth::Anonymous,
                    (true, Some(_)) => {
                        return Err(bad("anonymous", "cannot be combined with credentials_file".into()));
                    }
                    (false, Some(f)) if f.trim().is_empty() => {
                        return Err(bad("credentials_file", "is empty".into()));
                    }
                    (false, Some(f)) => GcsAuth::File(f.clone()),
                    (false, None) => GcsAuth::Environment,
                };
                Ok(StoreSpec::Gcs(GcsSpec { bucket, prefix, endpoint, allow_http: cfg.allow_http, auth }))
            }
        }
    }

    /// The lake's address for messages: the directory, `s3://bucket/prefix` or `gs://bucket/prefix`.
    pub fn root(&self) -> String {
        let url = |scheme: &str, bucket: &str, prefix: &str| {
            if prefix.is_empty() { format!("{scheme}://{bucket}") } else { format!("{scheme}://{bucket}/{prefix}") }
        };
        match self {
            StoreSpec::Fs { dir } => dir.trim_end_matches('/').to_string(),
            StoreSpec::S3(s) => url("s3", &s.bucket, &s.prefix),
            StoreSpec::Gcs(g) => url("gs", &g.bucket, &g.prefix),
        }
    }

    /// Whether requests go over HTTP (and so through `object_store`'s retrying client).
    pub fn is_remote(&self) -> bool {
        !matches!(self, StoreSpec::Fs { .. })
    }

    /// An `object_store` client whose paths are relative to the lake's root.
    /// Makes no request. `retry` governs transient HTTP failures.
    pub fn build(&self, retry: RetryConfig) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
        let within = |store: Arc<dyn ObjectStore>, prefix: &str| -> Arc<dyn ObjectStore> {
            if prefix.is_empty() { store } else { Arc::new(PrefixStore::new(store, prefix)) }
        };
        match self {
            StoreSpec::Fs { dir } => Ok(Arc::new(LocalFileSystem::new_with_prefix(dir)?)),
            StoreSpec::S3(s) => {
                let mut builder = AmazonS3Builder::new();
                if !matches!(s.auth, S3Auth::Anonymous) {
                    // The credential chain, as the AWS SDKs read it; everything the
                    // config decides is set explicitly below and wins.
                    for (name, value) in std::env::vars() {
                        let Some(lower) = name.strip_prefix("AWS_").map(|_| name.to_ascii_lowercase()) else {
                            continue;
                        };
                        if let Ok(k) = lower.parse::<AmazonS3ConfigKey>()
                            && is_credential_key(&k, matches!(s.auth, S3Auth::Keys { .. }))
                        {
                            builder = builder.with_config(k, value);
                        }
                    }
                }
                builder = builder
                    .with_bucket_name(&s.bucket)
                    .with_region(&s.region)
                    .with_endpoint(s.bucket_url())
                    // The endpoint above already addresses the bucket in both styles.
                    .with_virtual_hosted_style_request(true)
                    .with_client_options(client_options(s.endpoint.as_ref(), s.allow_http))
                    .with_retry(retry);
                match &s.auth {
                    S3Auth::Anonymous => builder = builder.with_skip_signature(true),
                    S3Auth::Keys { access_key_id, secret_access_key, session_token } => {
                        builder = builder.with_access_key_id(access_key_id).with_secret_access_key(secret_access_key);
                        if let Some(t) = session_token {
                            builder = builder.with_token(t);
                        }
                    }
                    S3Auth::Environment => {}
                }
                Ok(within(Arc::new(builder.build()?), &s.prefix))
            }
            StoreSpec::Gcs(g) => {
                let mut builder = match g.auth {
                    GcsAuth::Anonymous => GoogleCloudStorageBuilder::new().with_skip_signature(true),
                    _ => GoogleCloudStorageBuilder::from_env(),
                };
                if let GcsAuth::File(path) = &g.auth {
                    builder = builder.with_application_credentials(path);
                }
                if let Some(url) = &g.endpoint {
                    builder = builder.with_base_url(url.as_str().trim_end_matches('/'));
                }
                builder = builder
                    .with_bucket_name(&g.bucket)
                    .with_client_options(client_options(g.endpoint.as_ref(), g.allow_http))
                    .with_retry(retry);
                Ok(within(Arc::new(builder.build()?), &g.prefix))
            }
        }
    }
}

impl S3Spec {
    /// The URL the bucket is reached at, in the configured addressing style.
    pub fn bucket_url(&self) -> String {
        let (bucket, region) = (&self.bucket, &self.region);
        match (&self.endpoint, self.path_style) {
            (Some(url), true) => format!("{}/{bucket}", url.as_str().trim_end_matches('/')),
            (Some(url), false) => {
                let mut url = url.clone();
                // Only a domain name gets here (resolve refuses IP endpoints without path style).
                let host = format!("{bucket}.{}", url.host_str().unwrap_or_default());
                if url.set_host(Some(&host)).is_err() {
                    return format!("{}/{bucket}", url.as_str().trim_end_matches('/'));
                }
                url.as_str().trim_end_matches('/').to_string()
            }
            (None, true) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
            (None, false) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        }
    }
}

/// The retry policy of `object_store`'s HTTP client: `retry_limit` retries of
/// transient failures (5xx, 429, 408, connection errors, timeouts, bodies cut
/// short), exponential backoff from `retry_wait` with decorrelated jitter.
/// Other 4xx answers (403, 404, ...) are never retried.
pub fn retry_config(retry_limit: u32, retry_wait: Duration) -> RetryConfig {
    // object_store draws each wait from [init, 2 x previous): keep that range non-empty.
    let init = retry_wait.max(Duration::from_millis(1));
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: init,
            max_backoff: (init * 32).min(Duration::from_secs(60)).max(init),
            base: 2.0,
        },
        max_retries: retry_limit as usize,
        retry_timeout: RETRY_TIMEOUT,
    }
}

/// AWS settings taken from the environment: credentials and how to obtain them.
/// With keys in the config, the environment's keys are left out.
fn is_credential_key(key: &AmazonS3ConfigKey, config_has_keys: bool) -> bool {
    use AmazonS3ConfigKey as K;
    match key {
        K::AccessKeyId | K::SecretAccessKey | K::Token => !config_has_keys,
        K::WebIdentityTokenFile
        | K::RoleArn
        | K::RoleSessionName
        | K::StsEndpoint
        | K::ContainerCredentialsRelativeUri
        | K::ContainerCredentialsFullUri
        | K::ContainerAuthorizationTokenFile
        | K::MetadataEndpoint
        | K::ImdsV1Fallback
        | K::RequestPayer => !config_has_keys,
        _ => false,
    }
}

/// An `object_store` error in one line: its message with the causes it
/// leaves out (`connection refused`), and an S3/GCS XML error body reduced to
/// its code and message.
pub fn describe_error(e: &object_store::Error) -> String {
    let mut text = one_line(&e.to_string());
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let c = one_line(&cause.to_string());
        if !c.is_empty() && !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}

/// Collapses whitespace and reduces an XML error body to `Code: Message`.
fn one_line(message: &str) -> String {
    let mut text = message.to_string();
    if let Some(xml) = text.find("<?xml") {
        let body = text.split_off(xml);
        let tag = |name: &str| {
            let open = format!("<{name}>");
            let start = body.find(&open)? + open.len();
            Some(body[start..].split('<').next()?.to_string())
        };
        let parts: Vec<String> = ["Code", "Message"].iter().filter_map(|t| tag(t)).collect();
        text.push_str(&parts.join(": "));
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches(':').to_string()
}

/// The HTTP status an `object_store` error reports, if any. object_store does not
/// expose it for listings, so it is read from the message (for messages only, never for retry decisions).
pub fn http_status(message: &str) -> Option<u16> {
    let (_, rest) = message.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

fn client_options(endpoint: Option<&Url>, allow_http: bool) -> ClientOptions {
    let http = endpoint.is_some_and(|u| u.scheme() == "http");
    ClientOptions::new()
        .with_allow_http(http && (allow_http || endpoint.is_some_and(is_loopback)))
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
}

/// `scheme` of `scheme://...`, if the string starts with one.
fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.trim().split_once("://")?;
    (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))).then_some(scheme)
}

/// Splits `bucket/prefix` or `<scheme>://bucket/prefix` (for one of `schemes`).
fn parse_bucket_path(path: &str, schemes: &[&str], shown: &str) -> Result<(String, String), String> {
    let trimmed = path.trim();
    let rest = match scheme_of(trimmed) {
        Some(scheme) if schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) => &trimmed[scheme.len() + 3..],
        Some(scheme) => {
            return Err(format!(
                "{path:?}: a {scheme}:// URL does not fit this type (use {shown}://bucket/prefix or bucket/prefix)"
            ));
        }
        None => trimmed,
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("{path:?} names no bucket (expected {shown}://bucket/prefix or bucket/prefix)"));
    }
    let bucket_ok = bucket.len() >= 3
        && bucket.len() <= 222
        && bucket.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return Err(format!(
            "{bucket:?} is not a bucket name (3 or more letters, digits, '.', '-' or '_', starting and ending with a letter or digit)"
        ));
    }
    let prefix = prefix.trim_end_matches('/');
    if let Some(bad) = prefix.split('/').find(|s| matches!(*s, "" | "." | "..")).filter(|_| !prefix.is_empty()) {
        return Err(format!("{path:?}: prefix segment {bad:?} is not allowed"));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(store_type: DatastoreType, path: &str) -> DatastoreConfig {
        DatastoreConfig { store_type, path: path.into(), ..DatastoreConfig::default() }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn resolve(c: &DatastoreConfig) -> Result<StoreSpec, String> {
        StoreSpec::resolve(c, "sources[0].datastore", &no_env).map_err(|e| e.to_string())
    }

    fn s3(c: &DatastoreConfig) -> S3Spec {
        match resolve(c) {
            Ok(StoreSpec::S3(s)) => s,
            other => panic!("expected S3, got {other:?}"),
        }
    }

    #[test]
    fn s3_public_bucket() {
        let mut c = cfg(DatastoreType::S3, "s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet/");
        c.region = Some("us-east-2".into());
        c.anonymous = true;
        let s = s3(&c);
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("aws-public-blockchain", "v1.1/stellar/ledgers/pubnet"));
        assert_eq!(s.auth, S3Auth::Anonymous);
        assert!(!s.path_style);
        assert_eq!(s.bucket_url(), "https://aws-public-blockchain.s3.us-east-2.amazonaws.com");
        assert_eq!(StoreSpec::S3(s).root(), "s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet");

        // The Go tool's form: bucket/prefix, region from the environment.
        let c = cfg(DatastoreType::S3, "my-lake/pubnet");
        let env = |k: &str| (k == "AWS_DEFAULT_REGION").then(|| "eu-west-1".to_string());
        let StoreSpec::S3(s) = StoreSpec::resolve(&c, "k", &env).unwrap() else { panic!() };
        assert_eq!((s.bucket.as_str(), s.prefix.as_str(), s.region.as_str()), ("my-lake", "pubnet", "eu-west-1"));
        assert_eq!(s.auth, S3Auth::Environment);
        let s = s3(&cfg(DatastoreType::S3, "my-lake"));
        assert_eq!((s.prefix.as_str(), s.region.as_str()), ("", "us-east-1"));
        let mut c = cfg(DatastoreType::S3, "my-lake");
        c.force_path_style = Some(true);
        assert_eq!(s3(&c).bucket_url(), "https://s3.us-east-1.amazonaws.com/my-lake");
    }

    #[test]
    fn s3_compatible_endpoints() {
        let mut c = cfg(DatastoreType::S3, "lake/testnet");
        c.endpoint = Some("http://127.0.0.1:9000".into());
        c.access_key_id = Some("AKIA".into());
        c.secret_access_key = Some("secret".into());
        let s = s3(&c);
        assert!(s.path_style, "an endpoint defaults to path style");
        assert_eq!(s.bucket_url(), "http://127.0.0.1:9000/lake");
        assert!(matches!(&s.auth, S3Auth::Keys { access_key_id, .. } if access_key_id == "AKIA"));
        assert!(!format!("{:?}", s.auth).contains("secret\""), "Debug must not print the secret");

        // Virtual-hosted style against a named host puts the bucket in the host.
        c.endpoint = Some("https://minio.example.com:9443/".into());
        c.force_path_style = Some(false);
        assert_eq!(s3(&c).bucket_url(), "https://lake.minio.example.com:9443");

        // ...and is impossible against an IP address.
        c.endpoint = Some("http://127.0.0.1:9000".into());
        let err = resolve(&c).unwrap_err();
        assert!(err.starts_with("sources[0].datastore.force_path_style: must be true"), "{err}");

        // The endpoint may come from the environment.
        let c = cfg(DatastoreType::S3, "lake");
        let env = |k: &str| (k == "AWS_ENDPOINT_URL").then(|| "http://localhost:4566".to_string());
        let StoreSpec::S3(s) = StoreSpec::resolve(&c, "k", &env).unwrap() else { panic!() };
        assert_eq!(s.bucket_url(), "http://localhost:4566/lake");
    }

    #[test]
    fn s3_mistakes_name_their_key() {
        type Change = dyn Fn(&mut DatastoreConfig);
        let cases: &[(&Change, &str)] = &[
            (&|c| c.endpoint = Some("not a url".into()), "sources[0].datastore.endpoint: \"not a url\" is not a URL"),
            (
                &|c| c.endpoint = Some("ftp://host".into()),
                "sources[0].datastore.endpoint: \"ftp://host\" is not an http(s)",
            ),
            (
                &|c| c.endpoint = Some("http://minio.internal:9000".into()),
                "sources[0].datastore.endpoint: \"http://minio.internal:9000\" is plain http to another machine",
            ),
            (
                &|c| c.path = "gs://bucket/x".into(),
                "sources[0].datastore.path: \"gs://bucket/x\": a gs:// URL does not fit",
            ),
            (&|c| c.path = "s3:///x".into(), "sources[0].datastore.path: "),
            (&|c| c.path = "Bad Bucket/x".into(), "sources[0].datastore.path: \"Bad Bucket\" is not a bucket name"),
            (&|c| c.path = "lake/a//b".into(), "sources[0].datastore.path: \"lake/a//b\": prefix segment \"\""),
            (&|c| c.region = Some("us east".into()), "sources[0].datastore.region: \"us east\" is not a region"),
            (
                &|c| c.access_key_id = Some("A".into()),
                "sources[0].datastore.secret_access_key: required with access_key_id",
            ),
            (&|c| c.secret_access_key = Some("S".into()), "sources[0].datastore.access_key_id: required with"),
            (&|c| c.session_token = Some("T".into()), "sources[0].datastore.session_token: needs access_key_id"),
            (
                &|c| {
                    c.anonymous = true;
                    c.access_key_id = Some("A".into());
                },
                "sources[0].datastore.anonymous: cannot be combined",
            ),
        ];
        for (change, expected) in cases {
            let mut c = cfg(DatastoreType::S3, "lake/prefix");
            change(&mut c);
            let err = resolve(&c).unwrap_err();
            assert!(err.starts_with(expected), "expected {expected:?}, got {err:?}");
        }
        // http to another machine is allowed when asked for.
        let mut c = cfg(DatastoreType::S3, "lake");
        c.endpoint = Some("http://minio.internal:9000".into());
        c.allow_http = true;
        assert!(resolve(&c).is_ok());
    }

    #[test]
    fn gcs_forms() {
        let c = cfg(DatastoreType::Gcs, "gs://sdf-ledger-close-meta/v1/ledgers/pubnet");
        let Ok(StoreSpec::Gcs(g)) = resolve(&c) else { panic!() };
        assert_eq!((g.bucket.as_str(), g.prefix.as_str()), ("sdf-ledger-close-meta", "v1/ledgers/pubnet"));
        assert_eq!(g.auth, GcsAuth::Environment);
        assert_eq!(StoreSpec::Gcs(g).root(), "gs://sdf-ledger-close-meta/v1/ledgers/pubnet");

        let mut c = cfg(DatastoreType::Gcs, "obsrvr-data/landing/ledgers/testnet");
        c.credentials_file = Some("/secrets/sa.json".into());
        c.endpoint = Some("http://localhost:4443".into());
        let Ok(StoreSpec::Gcs(g)) = resolve(&c) else { panic!() };
        assert_eq!(g.auth, GcsAuth::File("/secrets/sa.json".into()));
        assert_eq!(g.endpoint.map(|u| u.to_string()), Some("http://localhost:4443/".into()));

        c.anonymous = true;
        assert!(resolve(&c).unwrap_err().starts_with("sources[0].datastore.anonymous: cannot be combined"));
        let err = resolve(&cfg(DatastoreType::Gcs, "s3://b/x")).unwrap_err();
        assert!(err.starts_with("sources[0].datastore.path: \"s3://b/x\": a s3:// URL does not fit"), "{err}");
    }

    #[test]
    fn error_bodies_shrink_to_code_and_message() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>".into(),
        };
        let text = describe_error(&e);
        assert_eq!(
            text,
            "Generic S3 error: Server returned non-2xx status code: 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(http_status(&text), Some(404));
        assert_eq!(http_status("connection refused"), None);
    }

    #[test]
    fn fs_refuses_urls() {
        assert_eq!(resolve(&cfg(DatastoreType::Fs, "/data/lake")).unwrap(), StoreSpec::Fs { dir: "/data/lake".into() });
        let err = resolve(&cfg(DatastoreType::Fs, "s3://bucket/lake")).unwrap_err();
        assert!(
            err.starts_with("sources[0].datastore.path: \"s3://bucket/lake\" is a s3:// URL but type is FS"),
            "{err}"
        );
    }

    #[test]
    fn stores_build_without_io() {
        let mut c = cfg(DatastoreType::S3, "s3://lake/prefix");
        c.endpoint = Some("http://127.0.0.1:1".into());
        c.anonymous = true;
        let spec = resolve(&c).unwrap();
        assert!(spec.is_remote());
        spec.build(retry_config(1, Duration::from_millis(1))).unwrap();
        let mut c = cfg(DatastoreType::Gcs, "gs://lake/prefix");
        c.anonymous = true;
        resolve(&c).unwrap().build(retry_config(0, Duration::ZERO)).unwrap();
    }

    /// What the fake S3 server does with the `n`th request (1-based) for a path.
    enum Reply {
        Body(&'static str),
        Status(u16),
        /// Close the connection without answering.
        Reset,
    }

    /// A one-request-per-connection HTTP server on loopback; returns its URL and request counts per path.
    async fn fake_s3(
        reply: impl Fn(&str, usize) -> Reply + Send + Sync + 'static,
    ) -> (String, Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let counts = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let (seen, reply) = (counts.clone(), Arc::new(reply));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (seen, reply) = (seen.clone(), reply.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").split('?').next().unwrap_or("").to_string();
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        let count = seen.entry(path.clone()).or_insert(0);
                        *count += 1;
                        *count
                    };
                    let response = match reply(&path, n) {
                        Reply::Reset => return,
                        Reply::Body(body) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"e\"\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                        Reply::Status(code) => {
                            format!("HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        }
                    };
                    let _ = sock.write_all(response.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (url, counts)
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_denials_are_not() {
        let (url, counts) = fake_s3(|path, n| match (path, n) {
            ("/lake/p/flaky", 1 | 2) => Reply::Status(503),
            ("/lake/p/flaky", _) => Reply::Body("ok"),
            ("/lake/p/reset", 1) => Reply::Reset,
            ("/lake/p/reset", _) => Reply::Body("ok"),
            ("/lake/p/denied", _) => Reply::Status(403),
            ("/lake/p/missing", _) => Reply::Status(404),
            _ => Reply::Status(500),
        })
        .await;
        let mut c = cfg(DatastoreType::S3, "s3://lake/p");
        c.endpoint = Some(url);
        c.anonymous = true;
        let store = resolve(&c).unwrap().build(retry_config(2, Duration::from_millis(1))).unwrap();
        let get = |key: &'static str| {
            let store = store.clone();
            async move { store.get(&object_store::path::Path::from(key)).await?.bytes().await }
        };
        use object_store::ObjectStoreExt;

        assert_eq!(&get("flaky").await.unwrap()[..], b"ok", "503 twice, then served");
        assert_eq!(&get("reset").await.unwrap()[..], b"ok", "a dropped connection is retried");
        let err = get("denied").await.unwrap_err();
        assert!(matches!(err, object_store::Error::PermissionDenied { .. }), "{err}");
        let err = get("missing").await.unwrap_err();
        assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
        let err = get("broken").await.unwrap_err();
        assert!(describe_error(&err).contains("after 2 retries"), "{}", describe_error(&err));

        let counts = counts.lock().unwrap().clone();
        let count = |p: &str| counts.get(p).copied().unwrap_or(0);
        assert_eq!(count("/lake/p/flaky"), 3);
        assert_eq!(count("/lake/p/reset"), 2);
        assert_eq!(count("/lake/p/denied"), 1, "403 is not retried");
        assert_eq!(count("/lake/p/missing"), 1, "404 is not retried (the source decides: tip or gap)");
        assert_eq!(count("/lake/p/broken"), 3, "500: the first attempt and retry_limit retries");
    }
}
