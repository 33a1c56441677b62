//! The ingester configuration the ConfigMap carries: `spec.config` with the
//! operator's defaults, validated by the same code as `ducklake-ingester
//! check-config` (less its checks of the local filesystem, which is the
//! operator's, not the pod's) plus the rules a pod adds (paths on the volume, the query
//! API reachable by probes).

use ducklake_config::load::{self, ConfigError, Problem};
use ducklake_config::{DuckLakeConfig, IngesterConfig, LakeMetadata, ListenAddr, LogFormat, Storage};
use ducklake_crds::DuckLakeIngestion;
use sha2::{Digest, Sha256};

use super::{DATA_MOUNT, EXTENSION_DIR};

/// The rendered configuration and what the other builders derive from it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedConfig {
    pub config: IngesterConfig,
    /// The file written into the ConfigMap.
    pub yaml: String,
    /// First 16 hex digits of the SHA-256 of `yaml`.
    pub hash: String,
    /// Port of `/query`, `/health`, `/status` and `/metrics`.
    pub query_port: u16,
    /// Port of the separate metrics listener (`metrics.enabled`).
    pub metrics_port: Option<u16>,
    /// Unknown or ignored keys and risky settings, each naming the key.
    pub warnings: Vec<String>,
}

/// A resource the operator cannot run as given; it waits for a spec change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid spec: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct InvalidSpec {
    /// Keys are paths in the resource, e.g. `spec.config.sources[0].end_ledger`.
    pub problems: Vec<Problem>,
}

impl InvalidSpec {
    fn new(problems: Vec<Problem>) -> Self {
        let problems = problems.into_iter().map(|p| Problem::new(format!("spec.config.{}", p.key), p.reason)).collect();
        InvalidSpec { problems }
    }
}

/// Renders and validates the ingester configuration of `cr`.
pub fn render_config(cr: &DuckLakeIngestion) -> Result<RenderedConfig, InvalidSpec> {
    let mut config = cr.spec.config.to_ingester_config(DuckLakeConfig::ducklake_on_volume(DATA_MOUNT, EXTENSION_DIR));
    if config.ducklake.extension_directory.is_none() {
        config.ducklake.extension_directory = Some(EXTENSION_DIR.to_string());
    }
    // Log collectors in a cluster read JSON.
    config.logging.format.get_or_insert(LogFormat::Json);
    if config.ducklake.memory_limit.is_none() {
        config.ducklake.memory_limit = container_memory_limit(cr).map(duckdb_memory_limit);
    }

    let yaml = serde_yaml_ng::to_string(&config)
        .map_err(|e| InvalidSpec::new(vec![Problem::new("(document)", format!("cannot be written as YAML: {e}"))]))?;
    // The ingester reads this text: check what it will read. `${VAR}` stays
    // unexpanded here; its value comes from the pod's environment.
    let loaded = load::parse(&yaml, |name| Some(format!("${{{name}}}"))).map_err(|e| match e {
        ConfigError::Invalid(problems) => InvalidSpec::new(problems),
        other => InvalidSpec::new(vec![Problem::new("(document)", other.to_string())]),
    })?;
    let mut problems = load::validate_values(&loaded.config);
    problems.extend(pod_problems(&loaded.config));
    let query_port = listen_port(&config.query_api.port, "query_api.port", &mut problems);
    let metrics_port =
        config.metrics.enabled.then(|| listen_port(&config.metrics.address, "metrics.address", &mut problems));
    if metrics_port.is_some_and(|p| p == query_port) {
        problems.push(Problem::new("metrics.address", "must differ from query_api.port (it is served there too)"));
    }
    if !problems.is_empty() {
        return Err(InvalidSpec::new(problems));
    }
    let mut warnings = loaded.warnings;
    warnings.extend(load::lint(&loaded.config));
    let hash = hex::encode(&Sha256::digest(yaml.as_bytes())[..8]);
    Ok(RenderedConfig { config, yaml, hash, query_port, metrics_port, warnings })
}

/// Share of the container's memory limit given to DuckDB's `memory_limit`
/// when the spec sets none. DuckDB's own default is 80 % of what it sees;
/// the rest of the process (batches waiting for their commit, ledgers being
/// decoded, query results being written out, allocator slack) needs the
/// other half, and a pod over its limit meets the OOM killer.
pub const DUCKDB_MEMORY_SHARE_PERCENT: u64 = 50;

/// DuckDB's `memory_limit` for a container limit of `bytes`: the share, in MiB.
pub fn duckdb_memory_limit(bytes: u64) -> String {
    format!("{}MiB", (u128::from(bytes) * u128::from(DUCKDB_MEMORY_SHARE_PERCENT) / 100) >> 20)
}

/// The ingester container's memory limit in bytes, if the spec sets one.
fn container_memory_limit(cr: &DuckLakeIngestion) -> Option<u64> {
    let limits = cr.spec.resources.as_ref()?.limits.as_ref()?;
    let bytes = super::quantity_bytes(&limits.get("memory")?.0)?;
    u64::try_from(bytes).ok().filter(|b| *b > 0)
}

/// Rules of running in the pod: the root filesystem is read-only, so every
/// local path must be on the volume, and probes need the query API.
fn pod_problems(cfg: &IngesterConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !cfg.query_api.enabled {
        problems.push(Problem::new(
            "query_api.enabled",
            "must be true in a pod: readiness and liveness probes use the ingester's /health",
        ));
    }
    let on_volume = |key: &str, path: &str, problems: &mut Vec<Problem>| {
        if !is_under(path, DATA_MOUNT) {
            problems.push(Problem::new(
                key,
                format!("{path} is not on the pod's volume; the root filesystem is read-only, use a path under {DATA_MOUNT}/"),
            ));
        }
    };
    match cfg.ducklake.storage() {
        Ok(Storage::DuckDb { path }) => on_volume("ducklake.catalog_path", &path, &mut problems),
        Ok(Storage::DuckLake { metadata, data_path }) => {
            if let LakeMetadata::DuckDb { path } = &metadata {
                on_volume("ducklake.catalog_path", path, &mut problems);
            }
            if !data_path.starts_with("s3://") {
                on_volume("ducklake.data_path", &data_path, &mut problems);
            }
        }
        // `validate` already reported it, naming the key.
        Err(_) => {}
    }
    problems
}

/// `path` is `root` or inside it, lexically (no `..` escapes).
fn is_under(path: &str, root: &str) -> bool {
    let path = path.strip_prefix("file://").unwrap_or(path);
    let Some(rest) = path.strip_prefix(root) else { return false };
    (rest.is_empty() || rest.starts_with('/')) && !rest.split('/').any(|c| c == "..")
}

/// The port of a listen address that must accept connections from other
/// pods (probes, the Service); a loopback host is a problem.
fn listen_port(addr: &ListenAddr, key: &str, problems: &mut Vec<Problem>) -> u16 {
    let bind = addr.to_bind_string();
    let (host, port) = bind.rsplit_once(':').unwrap_or(("", bind.as_str()));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match port.parse::<u16>() {
        Ok(0) | Err(_) => {
            problems
                .push(Problem::new(key, format!("{bind}: needs a fixed port (the Service and probes point at it)")));
            0
        }
        Ok(p) => {
            if !matches!(host, "0.0.0.0" | "::" | "") {
                problems.push(Problem::new(
                    key,
                    format!("{bind}: listen on all interfaces (a port or `:port`), probes and the Service come from outside the pod"),
                ));
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdb_gets_a_fixed_share_in_mib() {
        assert_eq!(duckdb_memory_limit(2 << 30), "1024MiB");
        assert_eq!(duckdb_memory_limit(1_000_000_000), "476MiB");
    }

    #[test]
    fn paths_on_the_volume() {
        assert!(is_under("/data/catalog.duckdb", "/data"));
        assert!(is_under("/data", "/data"));
        assert!(is_under("file:///data/lake/", "/data"));
        assert!(!is_under("/database/x", "/data"));
        assert!(!is_under("/data/../etc/x", "/data"));
        assert!(!is_under("catalogs/x.duckdb", "/data"));
    }

    #[test]
    fn ports_reachable_from_outside() {
        let mut p = Vec::new();
        assert_eq!(listen_port(&ListenAddr::Port(8080), "k", &mut p), 8080);
        assert_eq!(listen_port(&ListenAddr::Address(":9090".into()), "k", &mut p), 9090);
        assert_eq!(listen_port(&ListenAddr::Address("[::]:9090".into()), "k", &mut p), 9090);
        assert!(p.is_empty(), "{p:?}");
        listen_port(&ListenAddr::Address("127.0.0.1:8080".into()), "k", &mut p);
        listen_port(&ListenAddr::Address("0.0.0.0:0".into()), "k2", &mut p);
        assert_eq!(p.len(), 2);
        assert!(p[0].reason.contains("all interfaces"), "{}", p[0]);
        assert!(p[1].reason.contains("fixed port"), "{}", p[1]);
    }
}
