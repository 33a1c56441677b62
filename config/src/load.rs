//! Loading and validating [`IngesterConfig`] from YAML.
//!
//! Three steps, each reporting the YAML key it is about:
//! 1. `${VAR}` / `${VAR:-default}` in string values are replaced from the
//!    environment, so secrets need not be written into files;
//! 2. the document is deserialised; unknown keys become warnings, type errors
//!    name the key (`ducklake.batch_size: invalid type ...`);
//! 3. [`validate`] checks values and cross-field rules and returns every
//!    problem at once.

use std::fmt;

use serde_yaml_ng::Value;

use crate::schema::{DatastoreType, IngesterConfig, SourceMode, network_name};

/// One thing wrong with a configuration, tied to the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// YAML path, e.g. `sources[0].end_ledger`.
    pub key: String,
    /// Why the value is not acceptable and, where possible, how to fix it.
    pub reason: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem { key: key.into(), reason: reason.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config is not valid YAML: {0}")]
    Yaml(String),
    #[error("invalid configuration:\n{}", list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
}

/// A parsed configuration and the warnings found while parsing it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: IngesterConfig,
    /// Unknown or ignored keys, each naming the key.
    pub warnings: Vec<String>,
}

/// Keys the Go tool accepted that this ingester deliberately ignores, with why.
const IGNORED_GO_KEYS: &[(&str, &str)] = &[
    ("checkpoint", "resume comes from the catalog itself (the last committed ledger), not a side file"),
    ("manifest", "every batch records a lineage row in the catalog instead"),
    ("pas", "the audit-file chain is not carried over; lineage rows are in the catalog"),
    ("write_queue", "each source commits through its own ordered committer"),
    ("advanced", "no longer used"),
    ("quality", "no longer used"),
    ("live_mode", "an unbounded range (end_ledger: 0) follows the source live"),
    ("poll_interval_seconds", "use datastore.poll_interval_ms"),
    ("enabled", "remove the source instead"),
    ("table_name", "table names are fixed"),
    ("partition_size", "no longer used"),
    ("enable_public_archive", "no longer used"),
    ("live_batch_size", "batch_size and commit_interval_seconds apply to live ingestion"),
    ("live_commit_interval_seconds", "batch_size and commit_interval_seconds apply to live ingestion"),
    ("use_upsert", "commits are exactly-once transactions"),
    ("create_indexes", "no longer used"),
    ("num_workers", "use pipeline.workers"),
];

/// Parses YAML text, expanding `${VAR}` from `env`.
pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Loaded, ConfigError> {
    let mut doc: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
    if doc.is_null() {
        return Err(ConfigError::Invalid(vec![Problem::new("(document)", "the config file is empty")]));
    }
    let mut problems = Vec::new();
    expand_env(&mut doc, "", &env, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }

    let mut ignored = Vec::new();
    let mut on_ignored = |path: serde_ignored::Path<'_>| ignored.push(render_path(&path));
    let de = serde_ignored::Deserializer::new(doc, &mut on_ignored);
    let config: IngesterConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { "(document)".to_string() } else { key };
        ConfigError::Invalid(vec![Problem::new(key, e.into_inner().to_string())])
    })?;

    let warnings = ignored.into_iter().map(|key| describe_ignored(&key)).collect();
    Ok(Loaded { config, warnings })
}

/// Reads and parses a config file with the process environment.
pub fn load_file(path: &std::path::Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    parse(&text, |k| std::env::var(k).ok())
}

fn describe_ignored(key: &str) -> String {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    let leaf = leaf.split('[').next().unwrap_or(leaf);
    if let Some((_, why)) = IGNORED_GO_KEYS.iter().find(|(k, _)| *k == leaf) {
        return format!("{key}: ignored ({why})");
    }
    match suggest(leaf) {
        Some(s) => format!("{key}: unknown key, ignored (did you mean `{s}`?)"),
        None => format!("{key}: unknown key, ignored"),
    }
}

/// Key names serde accepts that the schema does not list (field aliases).
const ALIASES: &[&str] = &["s3_region", "s3_endpoint"];

/// Every key name of the schema (read from the schema itself, so a new field
/// gets did-you-mean hints without being listed by hand), plus [`ALIASES`].
fn known_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let schema = serde_json::to_value(schemars::schema_for!(IngesterConfig)).unwrap_or_default();
        let mut keys = std::collections::BTreeSet::new();
        collect_property_names(&schema, &mut keys);
        keys.extend(ALIASES.iter().map(|k| k.to_string()));
        keys.into_iter().collect()
    })
}

fn collect_property_names(node: &serde_json::Value, keys: &mut std::collections::BTreeSet<String>) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                keys.extend(props.keys().cloned());
            }
            map.values().for_each(|v| collect_property_names(v, keys));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_property_names(v, keys)),
        _ => {}
    }
}

fn suggest(key: &str) -> Option<&'static str> {
    known_keys()
        .iter()
        .map(|k| (edit_distance(key, k), k.as_str()))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn render_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_path(parent)),
        Path::Map { parent, key } => {
            let p = render_path(parent);
            if p.is_empty() { key.clone() } else { format!("{p}.{key}") }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => render_path(parent),
    }
}

fn expand_env(value: &mut Value, key: &str, env: &impl Fn(&str) -> Option<String>, problems: &mut Vec<Problem>) {
    match value {
        Value::String(s) if s.contains('$') => match expand_str(s, env) {
            Ok(expanded) => *s = expanded,
            Err(reason) => problems.push(Problem::new(key, reason)),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_env(item, &format!("{key}[{i}]"), env, problems);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let name = k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}"));
                let child = if key.is_empty() { name } else { format!("{key}.{name}") };
                expand_env(v, &child, env, problems);
            }
        }
        Value::Tagged(t) => expand_env(&mut t.value, key, env, problems),
        _ => {}
    }
}

/// Expands `${NAME}` and `${NAME:-default}`; `$$` is a literal `$`; any other `$` is kept.
fn expand_str(s: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| format!("unterminated `${{` in {s:?}"))?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`${{{expr}}}` is not a valid environment variable reference"));
            }
            match (env(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(format!("environment variable {name} is not set")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// True for names usable unquoted as DuckDB identifiers.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a DuckDB-style size (`1GB`, `512MiB`, `1000000`) into bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (num >= 0.0).then_some((num * mult) as u64)
}

/// The schema source `index` writes to: `sources[i].schema_name`, else
/// `ducklake.schema_name` (single source only), else the network name.
pub fn schema_for_source(cfg: &IngesterConfig, index: usize) -> Result<String, Problem> {
    let sources = cfg.effective_sources();
    let source = &sources[index];
    if let Some(s) = &source.schema_name {
        return Ok(s.clone());
    }
    if sources.len() == 1
        && let Some(s) = &cfg.ducklake.schema_name
    {
        return Ok(s.clone());
    }
    network_name(&source.network_passphrase).map(str::to_string).ok_or_else(|| {
        Problem::new(
            format!("{}.schema_name", cfg.source_key(index)),
            "required: the network passphrase is not mainnet, testnet or futurenet, so no default schema name can be derived",
        )
    })
}

/// Checks values and cross-field rules, and that what they name on this
/// host exists. Returns every problem found.
pub fn validate(cfg: &IngesterConfig) -> Vec<Problem> {
    let mut problems = validate_values(cfg);
    problems.extend(host_problems(cfg));
    problems
}

/// Checks of the local filesystem, which only hold where the ingester runs
/// (not in the operator, which validates a configuration for a pod).
fn host_problems(cfg: &IngesterConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(dir) = &cfg.ducklake.extension_directory
        && !std::path::Path::new(dir).is_dir()
    {
        problems.push(Problem::new(
            "ducklake.extension_directory",
            format!("{dir} is not a directory (scripts/fetch-extensions.sh {dir} fetches the extensions)"),
        ));
    }
    problems
}

/// [`validate`] without the checks of this host's filesystem: what holds
/// wherever the configuration runs.
pub fn validate_values(cfg: &IngesterConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    let sources = cfg.effective_sources();
    if sources.is_empty() {
        problems.push(Problem::new("sources", "at least one source is required"));
    }
    let mut schemas: Vec<(String, String)> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let p = cfg.source_key(i);
        match s.effective_mode() {
            None => problems.push(Problem::new(
                format!("{p}.mode"),
                "missing or ambiguous: set `datastore` (with a `datastore:` section), `grpc` (with `grpc.endpoint`) or `synthetic`",
            )),
            Some(SourceMode::Datastore) => match &s.datastore {
                None => problems.push(Problem::new(format!("{p}.datastore"), "required when mode is datastore")),
                Some(d) => {
                    let dp = format!("{p}.datastore");
                    if d.path.trim().is_empty() {
                        problems
                            .push(Problem::new(format!("{dp}.path"), "missing: the lake's directory or bucket path"));
                    }
                    if d.ledgers_per_file == Some(0) {
                        problems.push(Problem::new(format!("{dp}.ledgers_per_file"), "must be at least 1"));
                    }
                    if d.files_per_partition == Some(0) {
                        problems.push(Problem::new(format!("{dp}.files_per_partition"), "must be at least 1"));
                    }
                    if d.buffer_size == 0 {
                        problems.push(Problem::new(format!("{dp}.buffer_size"), "must be at least 1"));
                    }
                    if d.num_workers == 0 {
                        problems.push(Problem::new(format!("{dp}.num_workers"), "must be at least 1"));
                    }
                    if d.retry_wait_ms == 0 {
                        problems.push(Problem::new(format!("{dp}.retry_wait_ms"), "must be at least 1"));
                    }
                    if d.poll_interval_ms == 0 {
                        problems.push(Problem::new(format!("{dp}.poll_interval_ms"), "must be at least 1"));
                    }
                }
            },
            Some(SourceMode::Synthetic) => {
                let sy = s.synthetic.clone().unwrap_or_default();
                let sp = format!("{p}.synthetic");
                if sy.first_ledger < 2 {
                    problems.push(Problem::new(format!("{sp}.first_ledger"), "must be at least 2"));
                }
                if s.start_ledger != 0 && s.start_ledger < sy.first_ledger {
                    problems.push(Problem::new(
                        format!("{p}.start_ledger"),
                        format!("{} is before the synthetic chain's first ledger {}", s.start_ledger, sy.first_ledger),
                    ));
                }
                if sy.txs_per_ledger == Some(0) {
                    problems.push(Problem::new(format!("{sp}.txs_per_ledger"), "must be at least 1"));
                }
            }
            Some(SourceMode::Grpc) => {
                if s.grpc_endpoint().is_none_or(|e| e.trim().is_empty()) {
                    problems.push(Problem::new(format!("{p}.grpc.endpoint"), "required when mode is grpc"));
                }
                if let Some(e) = s.grpc_endpoint().filter(|e| !e.trim().is_empty())
                    && let Err(reason) = crate::schema::grpc_endpoint_uri(e)
                {
                    let key = if s.grpc.is_some() { format!("{p}.grpc.endpoint") } else { format!("{p}.endpoint") };
                    problems.push(Problem::new(key, reason));
                }
                if let Some(g) = &s.grpc {
                    let gp = format!("{p}.grpc");
                    if g.max_message_size < (1 << 20) {
                        problems.push(Problem::new(
                            format!("{gp}.max_message_size"),
                            "must be at least 1 MiB (pubnet ledgers are 1-1.5 MB)",
                        ));
                    }
                    if g.stall_timeout_seconds == 0 {
                        problems.push(Problem::new(format!("{gp}.stall_timeout_seconds"), "must be at least 1"));
                    }
                    if g.connect_timeout_seconds == 0 {
                        problems.push(Problem::new(format!("{gp}.connect_timeout_seconds"), "must be at least 1"));
                    }
                    if g.reconnect_initial_backoff_ms == 0
                        || g.reconnect_initial_backoff_ms > g.reconnect_max_backoff_ms
                    {
                        problems.push(Problem::new(
                            format!("{gp}.reconnect_initial_backoff_ms"),
                            "must be at least 1 and at most reconnect_max_backoff_ms",
                        ));
                    }
                    if g.auth_token.is_some() && !is_header_name(&g.auth_header) {
                        problems.push(Problem::new(
                            format!("{gp}.auth_header"),
                            "not a valid gRPC metadata name (lowercase letters, digits, '-', '_', '.')",
                        ));
                    }
                }
            }
        }
        if s.network_passphrase.trim().is_empty() {
            problems.push(Problem::new(
                format!("{p}.network_passphrase"),
                format!("missing: e.g. \"{}\"", crate::schema::MAINNET_PASSPHRASE),
            ));
        }
        if s.start_ledger == 0 {
            problems
                .push(Problem::new(format!("{p}.start_ledger"), "missing: the first ledger to ingest (at least 2)"));
        } else if s.start_ledger < 2 {
            problems.push(Problem::new(
                format!("{p}.start_ledger"),
                "must be at least 2: ledger 1 is genesis and has no close meta",
            ));
        }
        if s.end_ledger != 0 && s.end_ledger < s.start_ledger {
            problems.push(Problem::new(
                format!("{p}.end_ledger"),
                format!(
                    "{} is before start_ledger {} (end_ledger is inclusive; 0 runs forever)",
                    s.end_ledger, s.start_ledger
                ),
            ));
        }
        match schema_for_source(cfg, i) {
            Ok(schema) => {
                if !is_identifier(&schema) {
                    problems.push(Problem::new(
                        format!("{p}.schema_name"),
                        format!(
                            "{schema:?} is not a valid schema name (letters, digits and _, not starting with a digit)"
                        ),
                    ));
                } else if let Some((other, _)) = schemas.iter().find(|(_, s)| *s == schema) {
                    problems.push(Problem::new(
                        format!("{p}.schema_name"),
                        format!("schema {schema:?} is already used by {other}; give each source its own schema_name"),
                    ));
                }
                schemas.push((p.clone(), schema));
            }
            Err(problem) => problems.push(problem),
        }
    }

    let d = &cfg.ducklake;
    if d.catalog_path.trim().is_empty() {
        problems.push(Problem::new(
            "ducklake.catalog_path",
            "missing: e.g. ducklake:duckdb:/data/catalog.ducklake (DuckLake) or catalogs/stellar.duckdb (plain DuckDB)",
        ));
    } else if let Err((key, message)) = d.storage() {
        problems.push(Problem::new(key, message));
    }
    if let Some(m) = &d.metadata_schema
        && !is_identifier(m)
    {
        problems.push(Problem::new(
            "ducklake.metadata_schema",
            format!("{m:?} is not a valid name (letters, digits and _, not starting with a digit)"),
        ));
    }
    if d.maintenance.enabled && d.maintenance.interval_seconds == 0 {
        problems.push(Problem::new("ducklake.maintenance.interval_seconds", "must be at least 1"));
    }
    if !is_identifier(&d.catalog_name) {
        problems.push(Problem::new(
            "ducklake.catalog_name",
            format!("{:?} is not a valid name (letters, digits and _, not starting with a digit)", d.catalog_name),
        ));
    }
    if d.batch_size == 0 {
        problems.push(Problem::new("ducklake.batch_size", "must be at least 1"));
    }
    if d.batch_max_mib == 0 {
        problems.push(Problem::new("ducklake.batch_max_mib", "must be at least 1"));
    }
    if d.commit_interval_seconds == 0 {
        problems.push(Problem::new("ducklake.commit_interval_seconds", "must be at least 1"));
    }
    if parse_size(&d.wal_autocheckpoint).is_none() {
        problems.push(Problem::new(
            "ducklake.wal_autocheckpoint",
            format!("{:?} is not a size such as 16MB or 1GB", d.wal_autocheckpoint),
        ));
    }
    if let Some(m) = &d.memory_limit {
        let pct = m.trim().strip_suffix('%').and_then(|p| p.trim().parse::<f64>().ok());
        if parse_size(m).is_none() && !pct.is_some_and(|p| p > 0.0 && p <= 100.0) {
            problems.push(Problem::new(
                "ducklake.memory_limit",
                format!("{m:?} is not a size such as 4GB or a percentage"),
            ));
        }
    }
    if d.threads == Some(0) {
        problems.push(Problem::new("ducklake.threads", "must be at least 1"));
    }
    if cfg.pipeline.workers == Some(0) {
        problems.push(Problem::new("pipeline.workers", "must be at least 1"));
    }
    if cfg.pipeline.max_in_flight == Some(0) {
        problems.push(Problem::new("pipeline.max_in_flight", "must be at least 1"));
    }
    if cfg.pipeline.max_object_bytes < (1 << 20) {
        problems.push(Problem::new("pipeline.max_object_bytes", "must be at least 1 MiB"));
    }
    for (key, addr) in [("query_api.port", &cfg.query_api.port), ("metrics.address", &cfg.metrics.address)] {
        if let crate::schema::ListenAddr::Address(a) = addr {
            let bind = addr.to_bind_string();
            if bind.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
                problems.push(Problem::new(key, format!("{a:?} is not a port or host:port")));
            }
        }
    }
    let q = &cfg.query_api;
    for (key, v) in [
        ("query_api.default_limit", q.default_limit),
        ("query_api.max_limit", q.max_limit),
        ("query_api.export_max_rows", q.export_max_rows),
        ("query_api.timeout_seconds", q.timeout_seconds),
        ("query_api.max_concurrent", q.max_concurrent as u64),
        ("query_api.max_request_bytes", q.max_request_bytes as u64),
        ("query_api.max_result_bytes", q.max_result_bytes as u64),
    ] {
        if v == 0 {
            problems.push(Problem::new(key, "must be at least 1"));
        }
    }
    if q.default_limit > q.max_limit {
        problems.push(Problem::new(
            "query_api.default_limit",
            format!("{} is larger than query_api.max_limit ({})", q.default_limit, q.max_limit),
        ));
    }
    match (&q.auth_token, &q.auth_token_file) {
        (Some(_), Some(_)) => {
            problems.push(Problem::new("query_api.auth_token", "give auth_token or auth_token_file, not both"))
        }
        (Some(t), None) if t.trim().is_empty() => {
            problems.push(Problem::new("query_api.auth_token", "is empty (an unset ${VAR}?)"))
        }
        _ => {}
    }
    if !["error", "warn", "info", "debug", "trace"].contains(&cfg.logging.level.to_ascii_lowercase().as_str())
        && !cfg.logging.level.contains('=')
    {
        problems.push(Problem::new(
            "logging.level",
            format!("{:?} is not one of error, warn, info, debug, trace", cfg.logging.level),
        ));
    }
    problems
}

/// Warnings about valid but suspicious combinations.
pub fn lint(cfg: &IngesterConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if !cfg.sources.is_empty() && cfg.source.is_some() {
        warnings.push("source: ignored because `sources` is set".to_string());
    }
    for (i, s) in cfg.effective_sources().iter().enumerate() {
        let Some(d) = &s.datastore else { continue };
        let key = format!("{}.datastore", cfg.source_key(i));
        let s3_only = [
            ("region", d.region.is_some()),
            ("force_path_style", d.force_path_style.is_some()),
            ("access_key_id", d.access_key_id.is_some()),
            ("secret_access_key", d.secret_access_key.is_some()),
            ("session_token", d.session_token.is_some()),
        ];
        let remote_only = [
            ("endpoint", d.endpoint.is_some()),
            ("anonymous", d.anonymous),
            ("allow_http", d.allow_http),
            ("credentials_file", d.credentials_file.is_some()),
        ];
        let ignored: Vec<&str> = match d.store_type {
            DatastoreType::Fs => s3_only.iter().chain(&remote_only).filter(|(_, set)| *set).map(|(k, _)| *k).collect(),
            DatastoreType::S3 => {
                remote_only.iter().filter(|(k, set)| *set && *k == "credentials_file").map(|(k, _)| *k).collect()
            }
            DatastoreType::Gcs => s3_only.iter().filter(|(_, set)| *set).map(|(k, _)| *k).collect(),
        };
        for k in ignored {
            warnings.push(format!("{key}.{k}: ignored for type {}", d.store_type));
        }
    }
    let d = &cfg.ducklake;
    match d.storage() {
        Ok(crate::schema::Storage::DuckDb { .. }) => {
            for (k, set) in [
                ("data_path", d.data_path.is_some()),
                ("metadata_schema", d.metadata_schema.is_some()),
                ("s3", d.s3.is_some()),
            ] {
                if set {
                    warnings.push(format!("ducklake.{k}: ignored for a plain DuckDB catalog"));
                }
            }
        }
        Ok(storage) => {
            if d.s3.is_some() && storage.s3_data_path().is_none() {
                warnings.push("ducklake.s3: ignored because data_path is not s3://".to_string());
            }
            if let crate::schema::Storage::DuckLake {
                metadata: crate::schema::LakeMetadata::Postgres { conninfo }, ..
            } = &storage
                && conninfo.split_whitespace().any(|kv| kv.starts_with("password="))
            {
                warnings.push(
                    "ducklake.catalog_path: holds a password; DuckDB shows the catalog path to queries \
                     (duckdb_secrets); use PGPASSWORD or a PGPASSFILE instead"
                        .to_string(),
                );
            }
        }
        Err(_) => {}
    }
    if cfg.effective_sources().len() > 1 && cfg.ducklake.schema_name.is_some() {
        warnings.push(
            "ducklake.schema_name: ignored with several sources; each uses its own schema_name or network name"
                .to_string(),
        );
    }
    warnings
}

/// gRPC metadata names: lowercase ASCII, digits, `-`, `_`, `.`; not `grpc-` reserved.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with("grpc-")
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "SECRET" => Some("s3cr3t".into()),
            _ => None,
        }
    }

    const GO_CONFIG: &str = r#"
service:
  name: ingest
  environment: prod
sources:
  - mode: datastore
    datastore:
      type: FS
      path: /lake
      ledgers_per_file: 1
      files_per_partition: 64000
    network_passphrase: "Public Global Stellar Network ; September 2015"
    start_ledger: 100
    end_ledger: 200
    live_mode: false
ducklake:
  catalog_path: catalogs/x.duckdb
  catalog_name: cat
  batch_size: 50
  commit_interval_seconds: 5
  use_upsert: true
checkpoint:
  enabled: true
query_api:
  port: ":8081"
metrics:
  enabled: true
  address: ":9090"
"#;

    #[test]
    fn go_shape_loads_and_warns_on_ignored_keys() {
        let loaded = parse(GO_CONFIG, env).unwrap();
        assert!(validate(&loaded.config).is_empty(), "{:?}", validate(&loaded.config));
        assert_eq!(loaded.config.ducklake.batch_size, 50);
        assert_eq!(loaded.config.query_api.port.to_bind_string(), "0.0.0.0:8081");
        assert_eq!(schema_for_source(&loaded.config, 0).unwrap(), "mainnet");
        let w = loaded.warnings.join("\n");
        assert!(w.contains("sources[0].live_mode: ignored"), "{w}");
        assert!(w.contains("ducklake.use_upsert: ignored"), "{w}");
        assert!(w.contains("checkpoint: ignored (resume comes from the catalog"), "{w}");
    }

    #[test]
    fn unknown_key_gets_a_suggestion() {
        let text = GO_CONFIG.replace("batch_size: 50", "batchsize: 50");
        let loaded = parse(&text, env).unwrap();
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w == "ducklake.batchsize: unknown key, ignored (did you mean `batch_size`?)"),
            "{:?}",
            loaded.warnings
        );
    }

    /// The hints come from the schema: keys added after the hand-kept list
    /// (the gRPC ones) get suggestions too.
    #[test]
    fn every_schema_key_gets_suggestions() {
        for key in ["stall_timeout_seconds", "tls_ca_file", "reconnect_max_backoff_ms", "batch_size", "s3_region"] {
            assert!(known_keys().iter().any(|k| k == key), "{key} missing from {:?}", known_keys());
        }
        let yaml = "sources:\n- mode: grpc\n  network_passphrase: x\n  grpc:\n    endpoint: http://h:1\n    stall_timeout_second: 5\nducklake:\n  catalog_path: c.duckdb\n";
        let loaded = parse(yaml, env).unwrap();
        assert_eq!(
            loaded.warnings,
            ["sources[0].grpc.stall_timeout_second: unknown key, ignored (did you mean `stall_timeout_seconds`?)"]
        );
    }

    #[test]
    fn type_error_names_the_key() {
        let text = GO_CONFIG.replace("batch_size: 50", "batch_size: lots");
        let err = parse(&text, env).unwrap_err().to_string();
        assert!(err.contains("ducklake.batch_size: invalid type"), "{err}");
    }

    #[test]
    fn env_expansion_and_missing_variable() {
        let text =
            GO_CONFIG.replace("catalog_path: catalogs/x.duckdb", "catalog_path: \"/c/${SECRET}/${NOPE:-d}.duckdb\"");
        let loaded = parse(&text, env).unwrap();
        assert_eq!(loaded.config.ducklake.catalog_path, "/c/s3cr3t/d.duckdb");
        let text = GO_CONFIG.replace("path: /lake", "path: ${MISSING_VAR}");
        let err = parse(&text, env).unwrap_err().to_string();
        assert!(err.contains("sources[0].datastore.path: environment variable MISSING_VAR is not set"), "{err}");
        assert_eq!(expand_str("a$$b$c", &env).unwrap(), "a$b$c");
    }

    #[test]
    fn invalid_values_name_their_keys() {
        let text = GO_CONFIG
            .replace("end_ledger: 200", "end_ledger: 50")
            .replace(
                "network_passphrase: \"Public Global Stellar Network ; September 2015\"",
                "network_passphrase: \"\"",
            )
            .replace("batch_size: 50", "batch_size: 0");
        let loaded = parse(&text, env).unwrap();
        let problems: Vec<String> = validate(&loaded.config).iter().map(|p| p.to_string()).collect();
        let all = problems.join("\n");
        assert!(all.contains("sources[0].end_ledger: 50 is before start_ledger 100"), "{all}");
        assert!(all.contains("sources[0].network_passphrase: missing"), "{all}");
        assert!(all.contains("ducklake.batch_size: must be at least 1"), "{all}");
        assert!(all.contains("sources[0].schema_name: required"), "{all}");
    }

    #[test]
    fn query_api_and_extension_settings_are_checked() {
        let text = GO_CONFIG
            .replace("catalog_path: catalogs/x.duckdb", "catalog_path: catalogs/x.duckdb\n  extension_directory: /no/such/dir")
            .replace(
                "query_api:\n  port: \":8081\"",
                "query_api:\n  port: \":8081\"\n  default_limit: 500\n  max_limit: 100\n  timeout_seconds: 0\n  auth_token: \"  \"",
            );
        let loaded = parse(&text, env).unwrap();
        let all: Vec<String> = validate(&loaded.config).iter().map(|p| p.to_string()).collect();
        let all = all.join("\n");
        assert!(all.contains("ducklake.extension_directory: /no/such/dir is not a directory"), "{all}");
        assert!(all.contains("query_api.default_limit: 500 is larger than query_api.max_limit (100)"), "{all}");
        assert!(all.contains("query_api.timeout_seconds: must be at least 1"), "{all}");
        assert!(all.contains("query_api.auth_token: is empty"), "{all}");
    }

    #[test]
    fn mode_is_inferred_and_legacy_source_accepted() {
        let text = r#"
source:
  endpoint: localhost:50051
  network_passphrase: "Test SDF Network ; September 2015"
  start_ledger: 10
ducklake:
  catalog_path: x.duckdb
"#;
        let loaded = parse(text, env).unwrap();
        assert!(validate(&loaded.config).is_empty());
        let s = &loaded.config.effective_sources()[0];
        assert_eq!(s.effective_mode(), Some(SourceMode::Grpc));
        assert_eq!(s.grpc_endpoint(), Some("localhost:50051"));
        assert_eq!(schema_for_source(&loaded.config, 0).unwrap(), "testnet");
    }

    #[test]
    fn duplicate_schemas_are_rejected() {
        let text = r#"
sources:
  - datastore: {type: fs, path: /a}
    network_passphrase: "Test SDF Network ; September 2015"
    start_ledger: 10
  - datastore: {type: FS, path: /b}
    network_passphrase: "Test SDF Network ; September 2015"
    start_ledger: 10
ducklake:
  catalog_path: x.duckdb
"#;
        let loaded = parse(text, env).unwrap();
        let all: Vec<String> = validate(&loaded.config).iter().map(|p| p.to_string()).collect();
        assert!(
            all.iter()
                .any(|p| p.starts_with("sources[1].schema_name: schema \"testnet\" is already used by sources[0]")),
            "{all:?}"
        );
    }

    #[test]
    fn grpc_settings_are_checked() {
        let text = r#"
sources:
  - grpc:
      endpoint: "ledgers.example.org"
      stall_timeout_seconds: 0
      reconnect_initial_backoff_ms: 60000
      auth_header: "Bad Header"
      auth_token: "Bearer ${TOKEN:-x}"
    network_passphrase: "Test SDF Network ; September 2015"
    start_ledger: 10
ducklake:
  catalog_path: x.duckdb
"#;
        let loaded = parse(text, env).unwrap();
        let all: Vec<String> = validate(&loaded.config).iter().map(|p| p.to_string()).collect();
        let all = all.join("\n");
        assert!(all.contains("sources[0].grpc.endpoint: \"ledgers.example.org\": missing port"), "{all}");
        assert!(all.contains("sources[0].grpc.stall_timeout_seconds: must be at least 1"), "{all}");
        assert!(all.contains("sources[0].grpc.reconnect_initial_backoff_ms: must be at least 1 and at most"), "{all}");
        assert!(all.contains("sources[0].grpc.auth_header: not a valid gRPC metadata name"), "{all}");
        let g = loaded.config.effective_sources()[0].grpc.clone().unwrap();
        assert_eq!(g.max_message_size, 128 << 20);
        assert_eq!(g.auth_token.as_deref(), Some("Bearer x"));
        assert_eq!(
            crate::schema::grpc_endpoint_uri("https://ledgers.example.org").unwrap(),
            "https://ledgers.example.org"
        );
        assert_eq!(crate::schema::grpc_endpoint_uri("10.0.0.1:50051").unwrap(), "http://10.0.0.1:50051");
        assert!(crate::schema::grpc_endpoint_uri("ftp://x:1").is_err());
    }

    #[test]
    fn object_store_keys_load_and_misplaced_ones_warn() {
        let text = r#"
sources:
  - datastore:
      type: S3
      path: aws-public-blockchain/v1.1/stellar/ledgers/pubnet
      s3_region: us-east-2
      s3_endpoint: https://s3.us-east-2.amazonaws.com
      anonymous: true
      credentials_file: /sa.json
    network_passphrase: "Public Global Stellar Network ; September 2015"
    start_ledger: 10
  - datastore: {type: GCS, path: "gs://b/p", region: x, access_key_id: "${SECRET}"}
    network_passphrase: "Test SDF Network ; September 2015"
    start_ledger: 10
ducklake:
  catalog_path: x.duckdb
"#;
        let loaded = parse(text, env).unwrap();
        assert!(validate(&loaded.config).is_empty(), "{:?}", validate(&loaded.config));
        let sources = loaded.config.effective_sources();
        let d = sources[0].datastore.as_ref().unwrap();
        assert_eq!(d.region.as_deref(), Some("us-east-2"), "the Go tool's s3_region is accepted");
        assert_eq!(d.endpoint.as_deref(), Some("https://s3.us-east-2.amazonaws.com"));
        assert!(d.anonymous);
        assert_eq!(sources[1].datastore.as_ref().unwrap().access_key_id.as_deref(), Some("s3cr3t"));
        let w = lint(&loaded.config);
        assert_eq!(
            w,
            [
                "sources[0].datastore.credentials_file: ignored for type S3",
                "sources[1].datastore.region: ignored for type GCS",
                "sources[1].datastore.access_key_id: ignored for type GCS",
            ]
        );
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("16 MiB"), Some(16 << 20));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn empty_document_is_an_error() {
        assert!(matches!(parse("", env), Err(ConfigError::Invalid(_))));
        assert!(matches!(parse(": : :", env), Err(ConfigError::Yaml(_))));
    }

    #[test]
    fn storage_modes_parse_and_name_the_key() {
        use crate::schema::{DuckLakeConfig, LakeMetadata, Storage};
        let cfg = |catalog: &str, data: Option<&str>| DuckLakeConfig {
            catalog_path: catalog.into(),
            data_path: data.map(str::to_string),
            ..DuckLakeConfig::default()
        };
        assert_eq!(cfg("c/x.duckdb", None).storage().unwrap(), Storage::DuckDb { path: "c/x.duckdb".into() });
        assert_eq!(
            cfg("ducklake:duckdb:/v/c.ducklake", None).storage().unwrap(),
            Storage::DuckLake {
                metadata: LakeMetadata::DuckDb { path: "/v/c.ducklake".into() },
                data_path: "/v/c.ducklake.files/".into()
            }
        );
        assert_eq!(
            cfg("ducklake:postgres:host=pg dbname=lake", Some("s3://b/p")).storage().unwrap(),
            Storage::DuckLake {
                metadata: LakeMetadata::Postgres { conninfo: "host=pg dbname=lake".into() },
                data_path: "s3://b/p/".into()
            }
        );
        let err = |c: &str, d: Option<&str>| cfg(c, d).storage().unwrap_err();
        assert_eq!(err("ducklake:postgres:host=pg", None).0, "ducklake.data_path");
        assert!(err("ducklake:sqlite:/x.db", None).1.contains("unsupported DuckLake catalog database \"sqlite\""));
        assert!(err("ducklake:duckdb:/c", Some("gs://b/")).1.contains("gs:// is not supported"));
        // Validation reports the same, and masks passwords in logs.
        let text = GO_CONFIG
            .replace("catalog_path: catalogs/x.duckdb", "catalog_path: \"ducklake:postgres:host=x password=hunter2\"");
        let loaded = parse(&text, |_| None).unwrap();
        let problems = validate(&loaded.config);
        assert!(problems.iter().any(|p| p.to_string().contains("ducklake.data_path")), "{problems:?}");
        assert_eq!(loaded.config.ducklake.catalog_display(), "ducklake:postgres:host=x password=***");
        let mut with_data = loaded.config.clone();
        with_data.ducklake.data_path = Some("/lake/".into());
        assert!(lint(&with_data).iter().any(|w| w.contains("holds a password")));
        // The custom resource's default: a DuckLake on the volume.
        let d = DuckLakeConfig::ducklake_on_volume("/data/", "/opt/duckdb/extensions");
        assert!(d.storage().unwrap().is_ducklake());
        assert_eq!(
            (d.catalog_path.as_str(), d.data_path.as_deref()),
            ("ducklake:duckdb:/data/catalog.ducklake", Some("/data/lake/"))
        );
    }
}
