//! The Service in front of the ingester: the query API (`/query`,
//! `/status`, `/health`, `/metrics`) and, when configured, the separate
//! metrics listener; and the headless Service that governs the StatefulSet,
//! so the pod gets its DNS name (`<name>-0.<name>-headless.<ns>.svc`).

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{RenderedConfig, child_meta, selector_labels};

/// Label of the governing (headless) Service only, so that the ServiceMonitor
/// can leave it out: both Services select the same pod, and scraping both
/// would count every metric twice.
pub const GOVERNING_LABEL: &str = "ingest.ducklake.dev/governing";

/// Port names shared by the container, the Service and the ServiceMonitor.
pub const HTTP_PORT_NAME: &str = "http";
pub const METRICS_PORT_NAME: &str = "metrics";

pub fn service(cr: &DuckLakeIngestion, config: &RenderedConfig) -> Service {
    let name = cr.name_any();
    Service {
        metadata: child_meta(cr, name.clone()),
        spec: Some(ServiceSpec { type_: Some("ClusterIP".to_string()), ..ports_spec(&name, config) }),
        ..Service::default()
    }
}

/// The StatefulSet's governing Service: headless, and publishing the pod
/// before it is ready, so its DNS name exists while it starts.
pub fn headless_service(cr: &DuckLakeIngestion, config: &RenderedConfig) -> Service {
    let name = cr.name_any();
    let mut metadata = child_meta(cr, headless_service_name(&name));
    metadata.labels.get_or_insert_with(Default::default).insert(GOVERNING_LABEL.to_string(), "true".to_string());
    Service {
        metadata,
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            publish_not_ready_addresses: Some(true),
            ..ports_spec(&name, config)
        }),
        ..Service::default()
    }
}

/// Name of the governing Service of the resource `name`.
pub fn headless_service_name(name: &str) -> String {
    format!("{name}-headless")
}

fn ports_spec(name: &str, config: &RenderedConfig) -> ServiceSpec {
    let port = |name: &str, port: u16| ServicePort {
        name: Some(name.to_string()),
        port: i32::from(port),
        target_port: Some(IntOrString::String(name.to_string())),
        protocol: Some("TCP".to_string()),
        ..ServicePort::default()
    };
    let mut ports = vec![port(HTTP_PORT_NAME, config.query_port)];
    if let Some(m) = config.metrics_port {
        ports.push(port(METRICS_PORT_NAME, m));
    }
    ServiceSpec { selector: Some(selector_labels(name)), ports: Some(ports), ..ServiceSpec::default() }
}

/// The in-cluster URL of the query API, as the status reports it.
pub fn endpoint(cr: &DuckLakeIngestion, config: &RenderedConfig) -> String {
    let ns = cr.namespace().unwrap_or_else(|| "default".to_string());
    format!("http://{}.{ns}.svc:{}", cr.name_any(), config.query_port)
}
