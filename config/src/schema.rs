//! The ingester configuration: typed, documented, and shared with the operator
//! (the `DuckLakeIngestion` custom resource embeds [`IngesterConfig`]).
//!
//! The YAML shape is a superset of the Go `ducklake-ingestion-obsrvr-v3`
//! `AppConfig`, so existing configuration files load unchanged. Keys the Go
//! tool parsed but never used, and keys we do not know, produce warnings that
//! name the key instead of being silently dropped.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Passphrase of the public Stellar network (pubnet).
pub const MAINNET_PASSPHRASE: &str = "Public Global Stellar Network ; September 2015";
/// Passphrase of the SDF test network.
pub const TESTNET_PASSPHRASE: &str = "Test SDF Network ; September 2015";
/// Passphrase of the SDF futurenet.
pub const FUTURENET_PASSPHRASE: &str = "Test SDF Future Network ; October 2022";

/// Top-level configuration of one `ducklake-ingester` process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IngesterConfig {
    /// Free-form service labels; `name` and `environment` appear in logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceConfig>,
    /// Ledger sources. Each source is ingested into its own schema.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceConfig>,
    /// Single-source form of the Go tool; used only when `sources` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceConfig>,
    /// Where and how ledgers are committed.
    pub ducklake: DuckLakeConfig,
    /// Parallel decode and extraction.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// HTTP query API, health and status endpoints.
    #[serde(default)]
    pub query_api: QueryApiConfig,
    /// Prometheus metrics endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Log level and format.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Labels stamped into the `era_id` and `version_label` columns of every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub era: Option<EraConfig>,
}

/// Service labels (informational).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// How ledgers reach the ingester.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    /// A SEP-54 / galexie data lake (local directory, S3 or GCS).
    Datastore,
    /// A `raw_ledger_service.RawLedgerService` gRPC stream.
    Grpc,
    /// The built-in deterministic synthetic network (demos, tests, benchmarks).
    Synthetic,
}

impl fmt::Display for SourceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceMode::Datastore => "datastore",
            SourceMode::Grpc => "grpc",
            SourceMode::Synthetic => "synthetic",
        })
    }
}

/// One ledger source and the ledger range to ingest from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.end_ledger) || self.end_ledger == 0 || self.end_ledger >= (has(self.start_ledger) ? self.start_ledger : 0)",
    "message": "end_ledger must be 0 (run forever) or at least start_ledger"
}]))]
pub struct SourceConfig {
    /// Optional label used in logs, metrics and `/status`; defaults to the schema name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `datastore`, `grpc` or `synthetic`. Inferred when only one of `datastore:`/`grpc:`/`endpoint`/`synthetic:` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SourceMode>,
    /// Legacy gRPC endpoint (Go tool); same as `grpc.endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Data-lake settings (mode `datastore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore: Option<DatastoreConfig>,
    /// gRPC settings (mode `grpc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcConfig>,
    /// Synthetic-network settings (mode `synthetic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SyntheticConfig>,
    /// Network passphrase; required. Transaction hashes are checked against it.
    #[serde(default)]
    pub network_passphrase: String,
    /// First ledger to ingest (inclusive, at least 2). Ignored for ledgers already committed.
    #[serde(default)]
    pub start_ledger: u32,
    /// Last ledger to ingest (inclusive). `0` runs forever.
    #[serde(default)]
    pub end_ledger: u32,
    /// Schema for this source's tables; overrides `ducklake.schema_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
}

/// Where a data lake lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DatastoreType {
    /// A local directory (or a mounted volume).
    #[serde(alias = "fs", alias = "Fs", alias = "FILESYSTEM", alias = "filesystem")]
    Fs,
    /// Amazon S3 or an S3-compatible endpoint.
    #[serde(alias = "s3")]
    S3,
    /// Google Cloud Storage.
    #[serde(alias = "gcs")]
    Gcs,
}

impl fmt::Display for DatastoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatastoreType::Fs => "FS",
            DatastoreType::S3 => "S3",
            DatastoreType::Gcs => "GCS",
        })
    }
}

/// A SEP-54 / galexie data lake.
///
/// Object stores take their credentials from the environment like the AWS and
/// Google SDKs do (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, web identity, ECS/EKS and instance credentials;
/// `GOOGLE_APPLICATION_CREDENTIALS`, instance credentials), unless the keys
/// below say otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatastoreConfig {
    /// `FS`, `S3` or `GCS`.
    #[serde(rename = "type")]
    pub store_type: DatastoreType,
    /// FS: the lake's directory. S3 / GCS: `bucket/prefix` (the Go tool's form),
    /// `s3://bucket/prefix` or `gs://bucket/prefix`. The prefix holds `.config.json` and the partitions.
    pub path: String,
    /// Ledgers per object. Defaults to the lake's `.config.json`, else 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledgers_per_file: Option<u32>,
    /// Objects per partition directory. Defaults to the lake's `.config.json`, else 64000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_per_partition: Option<u32>,
    /// Objects read ahead of the decoder (bounds memory: about this many compressed objects).
    #[serde(default = "default_buffer_size")]
    pub buffer_size: usize,
    /// Objects fetched concurrently (requests in flight).
    #[serde(default = "default_num_workers")]
    pub num_workers: usize,
    /// Attempts per request after the first failure, for transient errors only
    /// (I/O errors, HTTP 5xx, 429, timeouts, refused or reset connections).
    #[serde(default = "default_retry_limit")]
    pub retry_limit: u32,
    /// Wait before the first retry, in milliseconds; it roughly doubles on every retry, with random jitter.
    #[serde(default = "default_retry_wait_ms")]
    pub retry_wait_ms: u64,
    /// How often to look for the next object once the lake's tip is reached, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// S3 region, e.g. `us-east-2`. Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    // Configuration files may use the Go tool's `s3_region`; the schema (and
    // so the custom resource) has only `region`, so it is not promised there.
    #[serde(default, alias = "s3_region", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Service URL of an S3-compatible store (MinIO, Ceph, R2, moto, ...), or of a GCS
    /// emulator. Default: `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, else AWS S3 or Google Cloud Storage.
    // Files may use the Go tool's `s3_endpoint` (see `region`).
    #[serde(default, alias = "s3_endpoint", skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// S3: address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    /// Default: true with an `endpoint` (what S3-compatible servers expect), false for AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    /// Send unsigned requests and look up no credentials: for public buckets such
    /// as `s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anonymous: bool,
    /// Allow a plain `http://` endpoint that is not on this machine. Loopback
    /// endpoints (`127.0.0.1`, `::1`, `localhost`) may always use http.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_http: bool,
    /// S3 access key id; overrides `AWS_ACCESS_KEY_ID`. Write `${VAR}` rather than the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// S3 secret access key; overrides `AWS_SECRET_ACCESS_KEY`. Write `${VAR}` rather than the secret itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    /// S3 session token of temporary credentials (with `access_key_id`); overrides `AWS_SESSION_TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// GCS: a service-account (or authorized-user) JSON key file; overrides `GOOGLE_APPLICATION_CREDENTIALS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

impl Default for DatastoreConfig {
    fn default() -> Self {
        DatastoreConfig {
            store_type: DatastoreType::Fs,
            path: String::new(),
            ledgers_per_file: None,
            files_per_partition: None,
            buffer_size: default_buffer_size(),
            num_workers: default_num_workers(),
            retry_limit: default_retry_limit(),
            retry_wait_ms: default_retry_wait_ms(),
            poll_interval_ms: default_poll_interval_ms(),
            region: None,
            endpoint: None,
            force_path_style: None,
            anonymous: false,
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            credentials_file: None,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_buffer_size() -> usize {
    100
}
fn default_num_workers() -> usize {
    5
}
fn default_retry_limit() -> u32 {
    3
}
fn default_retry_wait_ms() -> u64 {
    1000
}
fn default_poll_interval_ms() -> u64 {
    2000
}

/// A `raw_ledger_service.RawLedgerService` endpoint.
///
/// The stream is resumed at the last received ledger + 1 after any
/// disconnect, so reconnects never skip or repeat a ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GrpcConfig {
    /// `host:port`, `http://host:port` or `https://host:port` (TLS).
    pub endpoint: String,
    /// Largest message accepted from the server, in bytes (pubnet ledgers are 1-1.5 MB and growing).
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    /// PEM file of a CA to trust for `https://` endpoints, in addition to the public web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<String>,
    /// TLS server name to verify, when it differs from the endpoint's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_domain: Option<String>,
    /// Metadata header carrying `auth_token` on every call.
    #[serde(default = "default_auth_header")]
    pub auth_header: String,
    /// Value sent in `auth_header` (verbatim, e.g. `Bearer ${LEDGER_TOKEN}`); unset: no header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// Time allowed to establish a connection, in seconds.
    #[serde(default = "default_connect_timeout_seconds")]
    pub connect_timeout_seconds: u64,
    /// A stream that delivers no ledger for this long is reconnected, in seconds.
    /// Keep it well above the network's close time (about 5-6 s).
    #[serde(default = "default_stall_timeout_seconds")]
    pub stall_timeout_seconds: u64,
    /// First reconnect delay, in milliseconds; doubles per failed attempt, with jitter.
    #[serde(default = "default_reconnect_initial_ms")]
    pub reconnect_initial_backoff_ms: u64,
    /// Longest reconnect delay, in milliseconds.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_backoff_ms: u64,
    /// Give up after this many consecutive failed attempts without receiving a ledger; 0: never.
    #[serde(default)]
    pub max_reconnect_attempts: u32,
}

fn default_max_message_size() -> usize {
    128 << 20
}
fn default_auth_header() -> String {
    "authorization".to_string()
}
fn default_connect_timeout_seconds() -> u64 {
    10
}
fn default_stall_timeout_seconds() -> u64 {
    60
}
fn default_reconnect_initial_ms() -> u64 {
    500
}
fn default_reconnect_max_ms() -> u64 {
    30_000
}

impl GrpcConfig {
    /// Defaults for an endpoint (what a config with only `endpoint:` gets).
    pub fn for_endpoint(endpoint: &str) -> Self {
        GrpcConfig {
            endpoint: endpoint.to_string(),
            max_message_size: default_max_message_size(),
            tls_ca_file: None,
            tls_domain: None,
            auth_header: default_auth_header(),
            auth_token: None,
            connect_timeout_seconds: default_connect_timeout_seconds(),
            stall_timeout_seconds: default_stall_timeout_seconds(),
            reconnect_initial_backoff_ms: default_reconnect_initial_ms(),
            reconnect_max_backoff_ms: default_reconnect_max_ms(),
            max_reconnect_attempts: 0,
        }
    }
}

/// Traffic preset of the synthetic network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyntheticSize {
    /// About 5 transactions per ledger, 30% of them Soroban.
    #[default]
    Testnet,
    /// About 300 transactions per ledger, many failing path payments.
    Pubnet,
}

/// The built-in synthetic network: a deterministic chain (payments, DEX,
/// pools, claimable balances, sponsorship, Soroban, fee bumps, failures,
/// upgrades) with valid hashes, generated in process. Ledger N is always the
/// same for the same settings, so resuming after a restart is exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SyntheticConfig {
    /// Seed of the chain.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// `testnet` (about 5 transactions per ledger) or `pubnet` (about 300).
    #[serde(default)]
    pub size: SyntheticSize,
    /// Average transactions per ledger; overrides the preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txs_per_ledger: Option<u32>,
    /// Time between ledgers, like a live network's close time, in milliseconds; 0: as fast as possible.
    #[serde(default = "default_ledger_interval_ms")]
    pub ledger_interval_ms: u64,
    /// First ledger of the chain; `start_ledger` must not be before it.
    #[serde(default = "default_first_ledger")]
    pub first_ledger: u32,
    /// A protocol upgrade every this many ledgers (up to protocol 26); 0: never.
    #[serde(default = "default_upgrade_every")]
    pub upgrade_every: u32,
    /// Close time of the chain's genesis, Unix seconds (part of every ledger
    /// hash: keep it fixed across restarts). Default: 2025-01-01T00:00:00Z.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_close_time: Option<u64>,
    /// Seconds between ledger close times in the chain (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_interval_seconds: Option<u32>,
}

fn default_seed() -> u64 {
    1
}
fn default_ledger_interval_ms() -> u64 {
    5000
}
fn default_first_ledger() -> u32 {
    2
}
fn default_upgrade_every() -> u32 {
    100
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: default_seed(),
            size: SyntheticSize::default(),
            txs_per_ledger: None,
            ledger_interval_ms: default_ledger_interval_ms(),
            first_ledger: default_first_ledger(),
            upgrade_every: default_upgrade_every(),
            genesis_close_time: None,
            close_interval_seconds: None,
        }
    }
}

/// Passphrase of the built-in synthetic network (schema `synthnet`).
pub const SYNTHETIC_PASSPHRASE: &str = "Ducklake Synthetic Network ; 2025";

/// The analytics store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DuckLakeConfig {
    /// Where the tables live.
    /// * `ducklake:duckdb:/data/catalog.ducklake`: a DuckLake whose metadata is a
    ///   DuckDB file and whose data are Parquet files under `data_path`.
    /// * `ducklake:postgres:<libpq conninfo>`, e.g. `ducklake:postgres:host=pg dbname=lake user=ingest`:
    ///   a DuckLake catalogued in PostgreSQL, which other processes can attach while
    ///   this one writes. Give the password in `PGPASSWORD` or a `PGPASSFILE`, not here.
    /// * a plain path such as `catalogs/stellar.duckdb`: one DuckDB database file (fastest; one process only).
    pub catalog_path: String,
    /// DuckLake data files: a local directory or `s3://bucket/prefix/`. Required for a
    /// PostgreSQL catalog; default for a DuckDB-file catalog: `<catalog_path>.files/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_path: Option<String>,
    /// DuckLake metadata schema inside the PostgreSQL database (several lakes can share one database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_schema: Option<String>,
    /// DuckLake: in a live batch (closed at the tip or by commit_interval_seconds), a
    /// table's rows, if at most this many and at most 64 KiB, are kept in the catalog
    /// instead of a new Parquet file, until maintenance flushes them (0 disables
    /// inlining; with an s3:// data_path the byte bound does not apply). Batches
    /// behind the tip (closed by batch_size or batch_max_mib) write every table as a
    /// file: inlining costs their commit about 3 times the time.
    #[serde(default = "default_data_inlining_row_limit")]
    pub data_inlining_row_limit: u64,
    /// DuckLake: credentials and endpoint for an `s3://` data_path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<LakeS3Config>,
    /// DuckLake: scheduled maintenance (flush inlined rows, merge small files,
    /// expire snapshots, delete unreferenced files).
    #[serde(default)]
    pub maintenance: MaintenanceConfig,
    /// Name the catalog is attached under inside the process (and in `/query`).
    #[serde(default = "default_catalog_name")]
    pub catalog_name: String,
    /// Schema for the tables; default: the network name (`mainnet`, `testnet`, `futurenet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
    /// Most ledgers per commit. A batch closes at whichever comes first:
    /// `batch_size` ledgers, `batch_max_mib` of rows, `commit_interval_seconds`,
    /// or, at the tip, the ledger itself.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// Most rows per commit, as MiB of Arrow memory. Behind the tip this sizes
    /// the batches (a pubnet ledger of about 300 transactions holds about
    /// 3.4 MB, so about 19 of them per commit) and bounds memory: at most
    /// three batches are held at once (filling, queued, committing).
    #[serde(default = "default_batch_max_mib")]
    pub batch_max_mib: u32,
    /// Longest time a ledger waits before it is committed, in seconds. A
    /// ledger that closed less than this long ago is at the tip and is
    /// committed as soon as it is decoded, without waiting for more.
    #[serde(default = "default_commit_interval_seconds")]
    pub commit_interval_seconds: u64,
    /// DuckDB WAL size that triggers an automatic checkpoint (DuckDB size string).
    #[serde(default = "default_wal_autocheckpoint")]
    pub wal_autocheckpoint: String,
    /// Run `CHECKPOINT` after every committed batch (keeps the WAL small).
    #[serde(default = "default_true")]
    pub checkpoint_after_batch: bool,
    /// Directory of DuckDB extensions, in DuckDB's layout
    /// (`<dir>/v1.5.5/linux_amd64/ducklake.duckdb_extension`): `ducklake`,
    /// plus `httpfs` for `s3://` data and `postgres_scanner` for a PostgreSQL
    /// catalog. `scripts/fetch-extensions.sh` fills it; the image bakes it in.
    /// Parquet and JSON are compiled in. Default: `~/.duckdb/extensions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_directory: Option<String>,
    /// DuckDB memory limit (DuckDB size string or percentage); default: DuckDB's (80% of RAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
    /// DuckDB worker threads; default: DuckDB's (all cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

fn default_data_inlining_row_limit() -> u64 {
    1000
}

/// S3 settings of a DuckLake `data_path` on S3 or an S3-compatible store.
/// Credentials default to the `AWS_*` environment variables; nothing here is logged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LakeS3Config {
    /// Region; default `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// S3-compatible endpoint such as `http://minio:9000`; default `AWS_ENDPOINT_URL_S3` /
    /// `AWS_ENDPOINT_URL`, else AWS S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`); default: true with an endpoint, false for AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    /// Allow a plain `http://` endpoint that is not on this machine.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_http: bool,
    /// Access key id; overrides `AWS_ACCESS_KEY_ID`. Write `${VAR}`, not the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Secret access key; overrides `AWS_SECRET_ACCESS_KEY`. Write `${VAR}`, not the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials; overrides `AWS_SESSION_TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// An AWS shared-credentials file (INI: `aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_session_token` under `[default]` or `[$AWS_PROFILE]`), e.g. a mounted Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

/// DuckLake maintenance, run by the writing process on a schedule. Each task
/// is its own DuckLake transaction: queries keep reading their snapshot, and
/// no committed row is ever removed (only files no snapshot needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MaintenanceConfig {
    /// Run maintenance at all (DuckLake catalogs only; `serve --read-only` never does).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Seconds between runs; the first run is one interval after start.
    #[serde(default = "default_maintenance_interval_seconds")]
    pub interval_seconds: u64,
    /// Write rows kept in the catalog by data inlining into Parquet files.
    #[serde(default = "default_true")]
    pub flush_inlined_data: bool,
    /// Merge adjacent small Parquet files of each table into larger ones.
    #[serde(default = "default_true")]
    pub merge_adjacent_files: bool,
    /// Expire snapshots older than this many seconds (0 keeps every snapshot:
    /// time travel to any commit, but replaced files are never freed).
    #[serde(default = "default_expire_snapshots_after_seconds")]
    pub expire_snapshots_after_seconds: u64,
    /// Delete files that expired snapshots no longer need once they are older than
    /// this many seconds (a grace period for queries still reading them).
    #[serde(default = "default_cleanup_files_after_seconds")]
    pub cleanup_files_after_seconds: u64,
}

fn default_maintenance_interval_seconds() -> u64 {
    600
}
fn default_expire_snapshots_after_seconds() -> u64 {
    86_400
}
fn default_cleanup_files_after_seconds() -> u64 {
    3_600
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            enabled: true,
            interval_seconds: default_maintenance_interval_seconds(),
            flush_inlined_data: true,
            merge_adjacent_files: true,
            expire_snapshots_after_seconds: default_expire_snapshots_after_seconds(),
            cleanup_files_after_seconds: default_cleanup_files_after_seconds(),
        }
    }
}

/// Where the tables live, from `catalog_path` and `data_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// One DuckDB database file.
    DuckDb { path: String },
    /// A DuckLake: metadata in a catalog database, data as Parquet files.
    DuckLake { metadata: LakeMetadata, data_path: String },
}

/// The database holding a DuckLake's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeMetadata {
    DuckDb { path: String },
    Postgres { conninfo: String },
}

impl LakeMetadata {
    /// The metadata path as DuckLake's ATTACH expects it (after `ducklake:`).
    pub fn attach_target(&self) -> String {
        match self {
            LakeMetadata::DuckDb { path } => format!("duckdb:{path}"),
            LakeMetadata::Postgres { conninfo } => format!("postgres:{conninfo}"),
        }
    }
}

impl Storage {
    pub fn is_ducklake(&self) -> bool {
        matches!(self, Storage::DuckLake { .. })
    }
    /// The `s3://` data path, if any.
    pub fn s3_data_path(&self) -> Option<&str> {
        match self {
            Storage::DuckLake { data_path, .. } if data_path.starts_with("s3://") => Some(data_path),
            _ => None,
        }
    }
}

impl DuckLakeConfig {
    /// The default store of a deployment with a persistent volume at `mount`
    /// (the custom resource's default): a DuckLake with its metadata in a
    /// DuckDB file and its data in a directory, both on the volume, and the
    /// extensions baked into the image.
    pub fn ducklake_on_volume(mount: &str, extension_directory: &str) -> Self {
        let mount = mount.trim_end_matches('/');
        DuckLakeConfig {
            catalog_path: format!("ducklake:duckdb:{mount}/catalog.ducklake"),
            data_path: Some(format!("{mount}/lake/")),
            extension_directory: Some(extension_directory.to_string()),
            ..DuckLakeConfig::default()
        }
    }

    /// `catalog_path` for logs: a `password=` in a PostgreSQL conninfo is masked.
    pub fn catalog_display(&self) -> String {
        self.catalog_path
            .split(' ')
            .map(|kv| if kv.starts_with("password=") { "password=***" } else { kv })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Parses `catalog_path` (and `data_path`) into a [`Storage`]; the error
    /// names the key at fault.
    pub fn storage(&self) -> Result<Storage, (&'static str, String)> {
        let path = self.catalog_path.trim();
        let Some(rest) = path.strip_prefix("ducklake:") else {
            return Ok(Storage::DuckDb { path: path.to_string() });
        };
        let metadata = if let Some(conninfo) = rest.strip_prefix("postgres:") {
            if conninfo.trim().is_empty() {
                return Err(("ducklake.catalog_path", "ducklake:postgres: needs a connection string, e.g. ducklake:postgres:host=pg dbname=lake user=ingest".into()));
            }
            LakeMetadata::Postgres { conninfo: conninfo.trim().to_string() }
        } else {
            let file = rest.strip_prefix("duckdb:").unwrap_or(rest);
            if let Some((scheme, _)) =
                file.split_once(':').filter(|(s, _)| s.chars().all(|c| c.is_ascii_alphanumeric()) && s.len() > 1)
            {
                return Err((
                    "ducklake.catalog_path",
                    format!(
                        "unsupported DuckLake catalog database {scheme:?}: use ducklake:duckdb:/path/catalog.ducklake or ducklake:postgres:<conninfo>"
                    ),
                ));
            }
            if file.trim().is_empty() {
                return Err((
                    "ducklake.catalog_path",
                    "ducklake:duckdb: needs a file path, e.g. ducklake:duckdb:/data/catalog.ducklake".into(),
                ));
            }
            LakeMetadata::DuckDb { path: file.trim().to_string() }
        };
        let data_path = match (&self.data_path, &metadata) {
            (Some(d), _) if !d.trim().is_empty() => d.trim().to_string(),
            (_, LakeMetadata::DuckDb { path }) => format!("{path}.files/"),
            (_, LakeMetadata::Postgres { .. }) => {
                return Err(("ducklake.data_path", "missing: a PostgreSQL-catalogued lake needs a data directory or s3://bucket/prefix/ that every process reaches".into()));
            }
        };
        if let Some((scheme, _)) = data_path.split_once("://").filter(|(s, _)| *s != "s3") {
            return Err((
                "ducklake.data_path",
                format!("{scheme}:// is not supported: use a local directory or s3://bucket/prefix/"),
            ));
        }
        // DuckLake joins file names to the data path: keep one trailing slash.
        let data_path = if data_path.ends_with('/') { data_path } else { format!("{data_path}/") };
        Ok(Storage::DuckLake { metadata, data_path })
    }
}

fn default_catalog_name() -> String {
    "stellar".to_string()
}
fn default_batch_size() -> u32 {
    200
}
fn default_batch_max_mib() -> u32 {
    64
}
fn default_commit_interval_seconds() -> u64 {
    30
}
fn default_wal_autocheckpoint() -> String {
    "1GB".to_string()
}
fn default_true() -> bool {
    true
}

impl Default for DuckLakeConfig {
    fn default() -> Self {
        DuckLakeConfig {
            catalog_path: String::new(),
            data_path: None,
            metadata_schema: None,
            data_inlining_row_limit: default_data_inlining_row_limit(),
            s3: None,
            maintenance: MaintenanceConfig::default(),
            catalog_name: default_catalog_name(),
            schema_name: None,
            batch_size: default_batch_size(),
            batch_max_mib: default_batch_max_mib(),
            commit_interval_seconds: default_commit_interval_seconds(),
            wal_autocheckpoint: default_wal_autocheckpoint(),
            checkpoint_after_batch: true,
            extension_directory: None,
            memory_limit: None,
            threads: None,
        }
    }
}

/// Decode and extraction parallelism.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineConfig {
    /// Threads that decode and extract ledgers; default: all cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Source objects being decoded at once; default: twice `workers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// Largest decompressed object accepted, in bytes (guards against zstd bombs).
    #[serde(default = "default_max_object_bytes")]
    pub max_object_bytes: usize,
}

fn default_max_object_bytes() -> usize {
    1 << 30
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { workers: None, max_in_flight: None, max_object_bytes: default_max_object_bytes() }
    }
}

/// HTTP listen address given as a port (`8080`), `:8080` or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ListenAddr {
    Port(u16),
    Address(String),
}

/// An integer or a string, in the form Kubernetes accepts in a structural
/// schema (`x-kubernetes-int-or-string`), since the custom resource embeds it.
impl JsonSchema for ListenAddr {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ListenAddr".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // A number is read as a u16: the bound keeps the API server from
        // storing a resource the operator could not read back.
        schemars::json_schema!({
            "x-kubernetes-int-or-string": true,
            "x-kubernetes-validations": [{
                "rule": "type(self) != int || (self >= 0 && self <= 65535)",
                "message": "a port number is 0-65535 (or give \"host:port\")"
            }]
        })
    }
}

impl ListenAddr {
    /// The socket address to bind: a bare port or `:port` binds all interfaces.
    pub fn to_bind_string(&self) -> String {
        match self {
            ListenAddr::Port(p) => format!("0.0.0.0:{p}"),
            ListenAddr::Address(a) if a.starts_with(':') => format!("0.0.0.0{a}"),
            ListenAddr::Address(a) => a.clone(),
        }
    }
}

/// HTTP query API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueryApiConfig {
    /// Serve `/query`, `/health`, `/status`, `/metrics`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Listen port or address.
    #[serde(default = "default_query_port")]
    pub port: ListenAddr,
    /// Rows returned when a request gives no `limit`.
    #[serde(default = "default_query_limit")]
    pub default_limit: u64,
    /// Largest `limit` a JSON request may ask for.
    #[serde(default = "default_query_max_limit")]
    pub max_limit: u64,
    /// Row cap of streamed exports (NDJSON, CSV, Arrow).
    #[serde(default = "default_export_max_rows")]
    pub export_max_rows: u64,
    /// Largest JSON answer in bytes (larger ones fail with `result_too_large`;
    /// streamed formats are not buffered and not limited by this).
    #[serde(default = "default_max_result_bytes")]
    pub max_result_bytes: usize,
    /// A query running longer is interrupted (504).
    #[serde(default = "default_query_timeout")]
    pub timeout_seconds: u64,
    /// Queries running at once; more are refused with 429.
    #[serde(default = "default_query_concurrency")]
    pub max_concurrent: usize,
    /// Largest request body in bytes; larger ones get 413.
    #[serde(default = "default_query_body")]
    pub max_request_bytes: usize,
    /// Bearer token that `/query` and `/status` require (best given as `${VAR}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// File holding the bearer token (a mounted Secret); trailing whitespace is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_file: Option<String>,
}

fn default_query_port() -> ListenAddr {
    ListenAddr::Port(8080)
}
fn default_query_limit() -> u64 {
    1_000
}
fn default_query_max_limit() -> u64 {
    10_000
}
fn default_export_max_rows() -> u64 {
    1_000_000
}
fn default_max_result_bytes() -> usize {
    64 << 20
}
fn default_query_timeout() -> u64 {
    30
}
fn default_query_concurrency() -> usize {
    20
}
fn default_query_body() -> usize {
    1 << 20
}

impl Default for QueryApiConfig {
    fn default() -> Self {
        QueryApiConfig {
            enabled: true,
            port: default_query_port(),
            default_limit: default_query_limit(),
            max_limit: default_query_max_limit(),
            export_max_rows: default_export_max_rows(),
            max_result_bytes: default_max_result_bytes(),
            timeout_seconds: default_query_timeout(),
            max_concurrent: default_query_concurrency(),
            max_request_bytes: default_query_body(),
            auth_token: None,
            auth_token_file: None,
        }
    }
}

/// Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricsConfig {
    /// Serve `/metrics` on `address` (it is always on the query API port as well).
    #[serde(default)]
    pub enabled: bool,
    /// Listen address, e.g. `:9090`.
    #[serde(default = "default_metrics_address")]
    pub address: ListenAddr,
}

fn default_metrics_address() -> ListenAddr {
    ListenAddr::Address(":9090".to_string())
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { enabled: false, address: default_metrics_address() }
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug` or `trace` (or a tracing filter directive).
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `text` or `json`; default: `json` when stderr is not a terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<LogFormat>,
}

fn default_log_level() -> String {
    "info".to_string()
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig { level: default_log_level(), format: None }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Era labels written to `era_id` / `version_label` (NULL when absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EraConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub era_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_label: Option<String>,
    /// Accepted for compatibility; the network comes from the passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// Short network name for a passphrase, used as the default schema name.
pub fn network_name(passphrase: &str) -> Option<&'static str> {
    match passphrase {
        MAINNET_PASSPHRASE => Some("mainnet"),
        SYNTHETIC_PASSPHRASE => Some("synthnet"),
        TESTNET_PASSPHRASE => Some("testnet"),
        FUTURENET_PASSPHRASE => Some("futurenet"),
        _ => None,
    }
}

impl IngesterConfig {
    /// The configured sources: `sources`, or the single legacy `source`.
    pub fn effective_sources(&self) -> Vec<SourceConfig> {
        if !self.sources.is_empty() { self.sources.clone() } else { self.source.iter().cloned().collect() }
    }

    /// The YAML key prefix of source `i` as the user wrote it.
    pub fn source_key(&self, i: usize) -> String {
        if self.sources.is_empty() { "source".to_string() } else { format!("sources[{i}]") }
    }
}

impl SourceConfig {
    /// The mode, inferred from which sub-section is present when `mode` is omitted.
    pub fn effective_mode(&self) -> Option<SourceMode> {
        if self.mode.is_some() {
            return self.mode;
        }
        match (self.datastore.is_some(), self.grpc.is_some() || self.endpoint.is_some(), self.synthetic.is_some()) {
            (true, false, false) => Some(SourceMode::Datastore),
            (false, true, false) => Some(SourceMode::Grpc),
            (false, false, true) => Some(SourceMode::Synthetic),
            _ => None,
        }
    }

    /// The gRPC endpoint from `grpc.endpoint` or the legacy `endpoint`.
    pub fn grpc_endpoint(&self) -> Option<&str> {
        self.grpc.as_ref().map(|g| g.endpoint.as_str()).or(self.endpoint.as_deref())
    }
}

/// The URI a gRPC endpoint setting names: `host:port` gets `http://`.
/// Errors say what is wrong, for a message naming the key.
pub fn grpc_endpoint_uri(endpoint: &str) -> Result<String, String> {
    let e = endpoint.trim();
    let uri = if e.contains("://") { e.to_string() } else { format!("http://{e}") };
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", ""));
    if scheme != "http" && scheme != "https" {
        return Err(format!("{endpoint:?}: scheme must be http or https"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    let has_port = authority.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(format!("{endpoint:?}: expected host:port or http(s)://host:port"));
    }
    if !has_port && scheme == "http" && !e.contains("://") {
        return Err(format!("{endpoint:?}: missing port (host:port)"));
    }
    Ok(uri)
}
