//! The `DuckLakeIngestion` custom resource (`ingest.ducklake.dev/v1alpha1`).
//!
//! `spec.config` is the ingester's own configuration, with the same keys as
//! its YAML file (snake_case, as in the Go tool's files), built from the
//! types in `ducklake_config`: a config file can be pasted into a resource
//! unchanged, and the operator and the binary cannot disagree on the schema.
//! Pod-level settings around it follow Kubernetes conventions (camelCase).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvFromSource, EnvVar, LocalObjectReference, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use ducklake_config::{
    DuckLakeConfig, EraConfig, IngesterConfig, LoggingConfig, MetricsConfig, PipelineConfig, QueryApiConfig,
    ServiceConfig, SourceConfig,
};

/// API group of the custom resource.
pub const GROUP: &str = "ingest.ducklake.dev";
/// API version of the custom resource.
pub const VERSION: &str = "v1alpha1";

/// One ingester: ledger sources, the store they are committed to, and how its
/// pod runs. The operator runs it as a one-replica StatefulSet on a
/// persistent volume and reports progress from the ingester's `/status`.
// Several printer columns share a type; clippy takes them for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ingest.ducklake.dev",
    version = "v1alpha1",
    kind = "DuckLakeIngestion",
    plural = "ducklakeingestions",
    singular = "ducklakeingestion",
    shortname = "dli",
    category = "ducklake",
    namespaced,
    status = "DuckLakeIngestionStatus",
    derive = "PartialEq",
    doc = "A Stellar ledger ingestion into DuckDB or DuckLake, run by ducklake-operator as a StatefulSet of ducklake-ingester.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Last Ledger",
        type_ = "integer",
        json_path = ".status.lastLedger",
        description = "Last committed ledger (the slowest source's)"
    ),
    printcolumn(
        name = "Lag",
        type_ = "integer",
        json_path = ".status.lagSeconds",
        description = "Seconds between now and the close time of the last committed ledger"
    ),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct DuckLakeIngestionSpec {
    /// The ingester configuration, with the keys of its YAML file. Omit
    /// `ducklake` to get a DuckLake on the pod's volume
    /// (`ducklake:duckdb:/data/catalog.ducklake`, data under `/data/lake/`).
    pub config: IngestionConfig,
    /// Ingester image; default: the operator's `--ingester-image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Image pull policy; default: Kubernetes' (IfNotPresent unless the tag is `latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,
    /// Secrets holding registry credentials for `image`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Stop the ingester (0 replicas) while keeping its volume and data.
    #[serde(default)]
    pub suspend: bool,
    /// The persistent volume holding the catalog, data files and staging.
    #[serde(default)]
    pub storage: StorageSpec,
    /// CPU and memory of the ingester container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Extra environment variables, typically from Secrets (`valueFrom.secretKeyRef`):
    /// S3 keys, `PGPASSWORD`, a query token. Reference them in `config` as `${NAME}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Whole Secrets or ConfigMaps as environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    /// Seconds the pod gets to close its batch on shutdown; default: the
    /// commit interval plus a minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub termination_grace_period_seconds: Option<i64>,
    /// A Prometheus Operator ServiceMonitor for the ingester's `/metrics`.
    #[serde(default)]
    pub service_monitor: ServiceMonitorSpec,
    /// What to do when ingestion stops advancing while the pod stays healthy.
    #[serde(default)]
    pub self_healing: SelfHealingSpec,
}

/// `spec.config`: [`IngesterConfig`] with `ducklake` optional (the operator
/// puts the store on the pod's volume by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.sources) || has(self.source)", "message": "config needs `sources` (or the single-source form `source`)"},
    {"rule": "!(has(self.sources) && has(self.source))", "message": "give either `sources` or `source`, not both"}
]))]
pub struct IngestionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceConfig>,
    /// Ledger sources. Each source is ingested into its own schema.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1, max = 16))]
    pub sources: Vec<SourceConfig>,
    /// Single-source form of the Go tool's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceConfig>,
    /// The store; default: a DuckLake on the pod's volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ducklake: Option<DuckLakeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_api: Option<QueryApiConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub era: Option<EraConfig>,
}

impl IngestionConfig {
    /// The ingester configuration, with `default_store` where `ducklake` is omitted.
    pub fn to_ingester_config(&self, default_store: DuckLakeConfig) -> IngesterConfig {
        IngesterConfig {
            service: self.service.clone(),
            sources: self.sources.clone(),
            source: self.source.clone(),
            ducklake: self.ducklake.clone().unwrap_or(default_store),
            pipeline: self.pipeline.clone().unwrap_or_default(),
            query_api: self.query_api.clone().unwrap_or_default(),
            metrics: self.metrics.clone().unwrap_or_default(),
            logging: self.logging.clone().unwrap_or_default(),
            era: self.era.clone(),
        }
    }
}

/// Container image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// The pod's persistent volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Volume size. A StatefulSet cannot change it afterwards: a change is
    /// reported as `Degraded` (expand the PersistentVolumeClaim instead).
    #[serde(default = "default_storage_size")]
    pub size: Quantity,
    /// StorageClass of the volume; default: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// What happens to the volume when the resource is deleted: `Retain`
    /// (default; the data outlive the resource) or `Delete`.
    #[serde(default)]
    pub retention: Retention,
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec { size: default_storage_size(), storage_class_name: None, retention: Retention::default() }
    }
}

fn default_storage_size() -> Quantity {
    Quantity("10Gi".to_string())
}

/// Volume retention on deletion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Retention {
    #[default]
    Retain,
    Delete,
}

impl Retention {
    pub fn as_str(self) -> &'static str {
        match self {
            Retention::Retain => "Retain",
            Retention::Delete => "Delete",
        }
    }
}

/// A ServiceMonitor (Prometheus Operator) scraping the ingester's `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Scrape interval, e.g. `30s`; default: Prometheus'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub interval: Option<String>,
    /// Labels of the ServiceMonitor, e.g. the `release` label a Prometheus selects on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Stall detection: the last committed ledger has not advanced for
/// `stallSeconds` while `/health` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfHealingSpec {
    /// Seconds without a newly committed ledger after which ingestion counts as stalled.
    #[serde(default = "default_stall_seconds")]
    #[schemars(range(min = 30))]
    pub stall_seconds: u64,
    /// Delete the pod of a stalled ingester so the StatefulSet restarts it.
    #[serde(default = "default_true")]
    pub restart_on_stall: bool,
}

impl Default for SelfHealingSpec {
    fn default() -> Self {
        SelfHealingSpec { stall_seconds: default_stall_seconds(), restart_on_stall: true }
    }
}

fn default_stall_seconds() -> u64 {
    600
}

fn default_true() -> bool {
    true
}

/// Observed state, written by the operator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DuckLakeIngestionStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// `Ready`, `Progressing`, `Degraded`, `ServiceMonitorReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// In-cluster URL of the query API (`POST <endpoint>/query`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Hash of the rendered ingester configuration the pod template carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// Last committed ledger of the slowest source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ledger: Option<u32>,
    /// Largest lag among the sources, in seconds behind the close time of their last committed ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<i64>,
    /// When the last committed ledger last advanced (stall detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_advance_time: Option<Time>,
    /// Pods deleted by self-healing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stall_restarts: u32,
    /// Per-source progress from the ingester's `/status`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceStatus>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One source's progress as the ingester reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    pub name: String,
    /// The ingester's state of the source (`ingesting`, `caught_up`, `stalled`, ...).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ledger: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledgers_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Lifecycle phase shown by `kubectl get dli`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// Created; the pod is not ready yet.
    Pending,
    /// Ready and behind the network's tip.
    Ingesting,
    /// Ready and at the tip (or its bounded range is complete).
    CaughtUp,
    /// Running but not as specified: stalled, or a change the StatefulSet cannot take.
    Degraded,
    /// `spec.suspend` is set: no pod runs.
    Suspended,
    /// The resource cannot be run as given (invalid configuration); waits for a spec change.
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Ingesting => "Ingesting",
            Phase::CaughtUp => "CaughtUp",
            Phase::Degraded => "Degraded",
            Phase::Suspended => "Suspended",
            Phase::Failed => "Failed",
        }
    }
}

/// Longest resource name: the StatefulSet controller labels its pods
/// `controller-revision-hash: <name>-<10-character hash>`, and a label value
/// stops at 63 characters.
pub const MAX_NAME_LEN: usize = 52;

/// Why a resource name is refused (the CRD's rule on `metadata.name`).
pub const NAME_RULE_MESSAGE: &str = "metadata.name must be a DNS-1035 label of at most 52 characters \
     (lower-case letters, digits and '-', starting with a letter and ending with a letter or digit): \
     it names the Service and the StatefulSet, whose pods are labelled with it plus a hash";

/// The CEL form of [`name_problem`], evaluated by the API server.
const NAME_RULE: &str = "size(self.metadata.name) <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')";

/// `None` if `name` can name the children, else [`NAME_RULE_MESSAGE`].
pub fn name_problem(name: &str) -> Option<&'static str> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    (!ok).then_some(NAME_RULE_MESSAGE)
}

/// The CRD as YAML, as `ducklake-operator crd` prints it and `crds/` commits it.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let mut crd = serde_json::to_value(DuckLakeIngestion::crd()).unwrap_or_else(|e| panic!("the CRD serialises: {e}"));
    if let Some(versions) = crd.pointer_mut("/spec/versions").and_then(|v| v.as_array_mut()) {
        for v in versions {
            if let Some(schema) = v.pointer_mut("/schema/openAPIV3Schema") {
                tighten(schema);
                if let Some(root) = schema.as_object_mut() {
                    root.insert(
                        "x-kubernetes-validations".to_string(),
                        serde_json::json!([{"rule": NAME_RULE, "message": NAME_RULE_MESSAGE}]),
                    );
                }
            }
        }
    }
    let body = serde_yaml_ng::to_string(&crd).unwrap_or_else(|e| panic!("the CRD serialises: {e}"));
    format!("# Generated by `ducklake-operator crd`; do not edit (a test keeps it equal).\n---\n{body}")
}

/// Makes the API server refuse what the operator could not read back: a
/// resource it cannot deserialise would stop the watch of every resource.
/// * unsigned integers get their Rust maximum (the schema has only `format`);
/// * int-or-string values (ports, sizes) are never null (serde would not take
///   `null` for them; the derive marks them nullable);
/// * optional enums are neither `nullable` nor list `null`: the API server
///   would check a null against the enum and refuse it; without the flag it
///   prunes the null, which the operator reads as the default.
fn tighten(node: &mut serde_json::Value) {
    match node {
        serde_json::Value::Object(map) => {
            let max = match map.get("format").and_then(|f| f.as_str()) {
                Some("uint8") => Some(u64::from(u8::MAX)),
                Some("uint16") => Some(u64::from(u16::MAX)),
                Some("uint32") => Some(u64::from(u32::MAX)),
                _ => None,
            };
            if let Some(max) = max {
                map.insert("maximum".to_string(), max.into());
            }
            if map.get("x-kubernetes-int-or-string") == Some(&serde_json::Value::Bool(true)) {
                map.remove("nullable");
            }
            if let Some(values) = map.get_mut("enum").and_then(|e| e.as_array_mut()) {
                values.retain(|v| !v.is_null());
                map.remove("nullable");
            }
            map.values_mut().for_each(tighten);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(tighten),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crd_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ducklakeingestion.yaml");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == crd_yaml(),
            "{path} differs from the generated CRD; regenerate it with \
             `cargo run --bin ducklake-operator -- crd > crds/ducklakeingestion.yaml`"
        );
    }

    #[test]
    fn schema_refuses_what_serde_cannot_read() {
        let crd: serde_json::Value = serde_yaml_ng::from_str(&crd_yaml()).unwrap();
        let config = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/config/properties";
        let port = crd.pointer(&format!("{config}/query_api/properties/port")).unwrap();
        assert_eq!(port.get("nullable"), None);
        let start = crd.pointer(&format!("{config}/sources/items/properties/start_ledger")).unwrap();
        assert_eq!(start["maximum"], u64::from(u32::MAX));
        assert!(port["x-kubernetes-validations"][0]["rule"].as_str().unwrap().contains("65535"));
        let spec = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties";
        let pull = crd.pointer(&format!("{spec}/imagePullPolicy")).unwrap();
        assert_eq!(pull.get("nullable"), None, "a null is pruned, so it means the default");
        assert!(pull["enum"].as_array().unwrap().iter().all(|v| v.is_string()), "{pull}");
        let root = crd.pointer("/spec/versions/0/schema/openAPIV3Schema").unwrap();
        assert_eq!(root["x-kubernetes-validations"][0]["rule"], NAME_RULE);
    }

    #[test]
    fn names_that_cannot_name_the_children_are_refused() {
        for ok in ["pubnet", "a", "pub-net-2", &"a".repeat(MAX_NAME_LEN)] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        for bad in ["pub.net", "1pubnet", "Pubnet", "pubnet-", "", "pub_net", &"a".repeat(MAX_NAME_LEN + 1)] {
            assert_eq!(name_problem(bad), Some(NAME_RULE_MESSAGE), "{bad:?}");
        }
    }

    #[test]
    fn spec_config_becomes_the_ingester_config() {
        let cfg: IngestionConfig = serde_yaml_ng::from_str(
            "sources:\n- synthetic: {}\n  network_passphrase: x\n  start_ledger: 2\nquery_api: {port: 9000}\n",
        )
        .unwrap();
        let ingester = cfg.to_ingester_config(DuckLakeConfig::ducklake_on_volume("/data", "/ext"));
        assert_eq!(ingester.ducklake.catalog_path, "ducklake:duckdb:/data/catalog.ducklake");
        assert_eq!(ingester.query_api.port, ducklake_config::ListenAddr::Port(9000));
        assert_eq!(ingester.sources[0].start_ledger, 2);
    }
}
