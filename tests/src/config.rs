//! Test configurations built from the ingester's own configuration types and
//! serialized to YAML, so a test cannot misspell a key or misindent a block:
//! what it writes is what a user's file with those values would say. (Tests
//! of bad input write their text as it is: the text is what they test.)

use std::path::{Path, PathBuf};

pub use ducklake_config::{
    DatastoreConfig, DatastoreType, DuckLakeConfig, GrpcConfig, IngesterConfig, LakeS3Config, ListenAddr, LogFormat,
    QueryApiConfig, SourceConfig, SyntheticConfig,
};

/// A change to the `ducklake` section.
pub type Tweak<'a> = &'a dyn Fn(&mut DuckLakeConfig);

/// No change to the `ducklake` section.
pub fn keep(_: &mut DuckLakeConfig) {}

/// `batch_size: n`.
pub fn batch(n: u32) -> impl Fn(&mut DuckLakeConfig) {
    move |d| d.batch_size = n
}

/// `commit_interval_seconds` longer than any fixture ledger's age (a
/// century): every ledger counts as at the tip, so each is committed at once
/// in a live batch of its own, which a DuckLake inlines (tables of at most
/// `data_inlining_row_limit` rows) as it does at a live network's tip.
pub const EVERY_LEDGER_AT_THE_TIP: u64 = 100 * 365 * 86_400;

/// A configuration of `sources` committing to `catalog` (attached as
/// `stellar`), the query API on a free loopback port, text logs.
pub fn config(sources: Vec<SourceConfig>, catalog: &Path) -> IngesterConfig {
    // Through serde, so every omitted key gets the default a file omitting it gets.
    let mut cfg: IngesterConfig = serde_json::from_value(
        serde_json::json!({ "ducklake": { "catalog_path": catalog.to_str().expect("utf-8 path") } }),
    )
    .expect("a catalog path is a configuration");
    cfg.sources = sources;
    cfg.ducklake.catalog_name = "stellar".to_string();
    cfg.query_api.port = ListenAddr::Address("127.0.0.1:0".to_string());
    cfg.logging.format = Some(LogFormat::Text);
    cfg
}

/// Writes `cfg` as `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, cfg: &IngesterConfig) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml_ng::to_string(cfg).expect("a configuration serializes")).expect("write config");
    path
}

/// A data-lake source on a local directory.
pub fn datastore_source(path: &Path, passphrase: &str, start: u32, end: u32) -> SourceConfig {
    let datastore = DatastoreConfig {
        store_type: DatastoreType::Fs,
        path: path.to_str().expect("utf-8 path").to_string(),
        ..DatastoreConfig::default()
    };
    source(passphrase, start, end, |s| s.datastore = Some(datastore))
}

/// A gRPC source with quick reconnects (50 ms doubling to 500 ms).
pub fn grpc_source(endpoint: &str, passphrase: &str, start: u32, end: u32) -> SourceConfig {
    let mut grpc: GrpcConfig =
        serde_json::from_value(serde_json::json!({ "endpoint": endpoint })).expect("an endpoint is a grpc section");
    grpc.reconnect_initial_backoff_ms = 50;
    grpc.reconnect_max_backoff_ms = 500;
    source(passphrase, start, end, |s| s.grpc = Some(grpc))
}

/// A synthetic-network source.
pub fn synthetic_source(synthetic: SyntheticConfig, passphrase: &str, start: u32, end: u32) -> SourceConfig {
    source(passphrase, start, end, |s| s.synthetic = Some(synthetic))
}

fn source(passphrase: &str, start: u32, end: u32, with: impl FnOnce(&mut SourceConfig)) -> SourceConfig {
    let mut s = SourceConfig {
        network_passphrase: passphrase.to_string(),
        start_ledger: start,
        end_ledger: end,
        ..SourceConfig::default()
    };
    with(&mut s);
    s
}

/// Rewrites the configuration file at `path` with `f` applied.
pub fn edit(path: &Path, f: impl FnOnce(&mut IngesterConfig)) {
    let text = std::fs::read_to_string(path).expect("read config");
    let mut cfg: IngesterConfig = serde_yaml_ng::from_str(&text).expect("a configuration this module wrote");
    f(&mut cfg);
    std::fs::write(path, serde_yaml_ng::to_string(&cfg).expect("a configuration serializes")).expect("write config");
}

/// The datastore section of the first source (tests that edit it).
pub fn first_datastore(cfg: &mut IngesterConfig) -> &mut DatastoreConfig {
    cfg.sources[0].datastore.as_mut().expect("a datastore source")
}
