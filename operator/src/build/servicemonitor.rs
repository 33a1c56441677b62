//! A Prometheus Operator ServiceMonitor for the ingester's `/metrics`.
//!
//! Only the fields we set are typed here, so the operator does not depend on
//! the Prometheus Operator's CRDs being installed (or on a crate generated
//! from them); `schema = "disabled"` because we never install this CRD.

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::{CustomResource, ResourceExt};
use serde::{Deserialize, Serialize};

use super::service::{GOVERNING_LABEL, HTTP_PORT_NAME, METRICS_PORT_NAME};
use super::{RenderedConfig, child_meta, selector_labels};

#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[kube(group = "monitoring.coreos.com", version = "v1", kind = "ServiceMonitor", namespaced, schema = "disabled")]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    pub selector: LabelSelector,
    pub endpoints: Vec<ServiceMonitorEndpoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorEndpoint {
    pub port: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

pub fn service_monitor(cr: &DuckLakeIngestion, config: &RenderedConfig) -> ServiceMonitor {
    let name = cr.name_any();
    let spec = &cr.spec.service_monitor;
    let mut metadata = child_meta(cr, name.clone());
    // The user's labels (e.g. the one a Prometheus selects on) never replace
    // ours: the operator finds its children by them.
    let mut labels = spec.labels.clone();
    labels.extend(metadata.labels.take().unwrap_or_default());
    metadata.labels = Some(labels);
    let port = if config.metrics_port.is_some() { METRICS_PORT_NAME } else { HTTP_PORT_NAME };
    ServiceMonitor {
        metadata,
        spec: ServiceMonitorSpec {
            // The API Service only: the headless one selects the same pod.
            selector: LabelSelector {
                match_labels: Some(selector_labels(&name)),
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: GOVERNING_LABEL.to_string(),
                    operator: "DoesNotExist".to_string(),
                    values: None,
                }]),
            },
            endpoints: vec![ServiceMonitorEndpoint {
                port: port.to_string(),
                path: "/metrics".to_string(),
                interval: spec.interval.clone(),
            }],
        },
    }
}
