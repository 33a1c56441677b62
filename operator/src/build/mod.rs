//! Pure builders: a `DuckLakeIngestion` in, the objects the operator applies
//! out. Nothing here talks to the API server, so `render` prints exactly what
//! `run` applies and the unit tests pin every field.

mod config;
mod configmap;
mod service;
mod servicemonitor;
mod statefulset;

use std::collections::BTreeMap;

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

pub use config::{InvalidSpec, RenderedConfig, render_config};
pub use configmap::config_map;
pub use service::{endpoint, headless_service, headless_service_name, service};
pub use servicemonitor::{ServiceMonitor, ServiceMonitorEndpoint, ServiceMonitorSpec, service_monitor};
pub use statefulset::{IMMUTABLE_NOTE, immutable_changes, keep_immutable, quantity_bytes, stateful_set};

/// Where the persistent volume is mounted in the ingester container.
pub const DATA_MOUNT: &str = "/data";
/// Where the ConfigMap is mounted.
pub const CONFIG_MOUNT: &str = "/etc/ducklake";
/// The configuration file inside the ConfigMap.
pub const CONFIG_FILE: &str = "config.yaml";
/// DuckDB extensions baked into the ingester image.
pub const EXTENSION_DIR: &str = "/opt/duckdb/extensions";
/// Pod annotation carrying the rendered configuration's hash: a new hash is
/// a new pod template, so a configuration change rolls the pod.
pub const CONFIG_HASH_ANNOTATION: &str = "ingest.ducklake.dev/config-hash";
/// The one field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "ducklake-operator";
/// Name of the ingester container.
pub const CONTAINER: &str = "ingester";

/// Operator-wide defaults a resource may leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// Ingester image for resources without `spec.image`.
    pub ingester_image: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { ingester_image: default_ingester_image() }
    }
}

/// The released ingester image matching this operator's version.
pub fn default_ingester_image() -> String {
    format!("ghcr.io/ducklake-stellar/ducklake-ingester:{}", env!("CARGO_PKG_VERSION"))
}

/// Everything the operator applies for one resource.
#[derive(Debug, Clone)]
pub struct Desired {
    pub config: RenderedConfig,
    pub config_map: ConfigMap,
    pub stateful_set: StatefulSet,
    pub service: Service,
    /// The StatefulSet's governing Service (headless).
    pub headless_service: Service,
    /// `None` unless `spec.serviceMonitor.enabled`.
    pub service_monitor: Option<ServiceMonitor>,
}

/// Builds every child object of `cr`; an invalid spec is refused whole.
pub fn desired(cr: &DuckLakeIngestion, defaults: &Defaults) -> Result<Desired, InvalidSpec> {
    // The CRD refuses such names; a resource stored before it did is refused here.
    if let Some(reason) = ducklake_crds::resource::name_problem(&cr.name_any()) {
        return Err(InvalidSpec { problems: vec![ducklake_config::load::Problem::new("metadata.name", reason)] });
    }
    let config = render_config(cr)?;
    Ok(Desired {
        config_map: config_map(cr, &config),
        stateful_set: stateful_set(cr, &config, defaults),
        service: service(cr, &config),
        headless_service: headless_service(cr, &config),
        service_monitor: cr.spec.service_monitor.enabled.then(|| service_monitor(cr, &config)),
        config,
    })
}

/// Names of the children of the resource `name`.
pub fn config_map_name(name: &str) -> String {
    format!("{name}-config")
}

/// The pod of the one-replica StatefulSet.
pub fn pod_name(name: &str) -> String {
    format!("{name}-0")
}

/// Labels selecting the ingester pod of `name` (immutable once applied).
pub fn selector_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "ducklake-ingester".to_string()),
        ("app.kubernetes.io/instance".to_string(), name.to_string()),
    ])
}

/// Labels of every child object.
pub fn labels(name: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(name);
    l.insert("app.kubernetes.io/component".to_string(), "ingester".to_string());
    l.insert("app.kubernetes.io/managed-by".to_string(), FIELD_MANAGER.to_string());
    l
}

/// Metadata of a child: same namespace, common labels, and a controller
/// owner reference so deleting the resource garbage-collects it.
pub fn child_meta(cr: &DuckLakeIngestion, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: cr.namespace(),
        labels: Some(labels(&cr.name_any())),
        owner_references: owner_reference(cr).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// `None` only for a resource that was never stored (no uid), as in `render`
/// of a file: the reference is then left out rather than invented.
fn owner_reference(cr: &DuckLakeIngestion) -> Option<OwnerReference> {
    cr.controller_owner_ref(&())
}

#[cfg(test)]
pub(crate) mod tests;
