//! The Service in front of the ingester: the query API (`/query`,
//! `/status`, `/health`, `/metrics`) and, when configured, the separate
//! metrics listener. It is also the StatefulSet's governing service.

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{RenderedConfig, child_meta, selector_labels};

/// Port names shared by the container, the Service and the ServiceMonitor.
pub const HTTP_PORT_NAME: &str = "http";
pub const METRICS_PORT_NAME: &str = "metrics";

pub fn service(cr: &DuckLakeIngestion, config: &RenderedConfig) -> Service {
    let name = cr.name_any();
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
    Service {
        metadata: child_meta(cr, name.clone()),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(&name)),
            ports: Some(ports),
            type_: Some("ClusterIP".to_string()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The in-cluster URL of the query API, as the status reports it.
pub fn endpoint(cr: &DuckLakeIngestion, config: &RenderedConfig) -> String {
    let ns = cr.namespace().unwrap_or_else(|| "default".to_string());
    format!("http://{}.{ns}.svc:{}", cr.name_any(), config.query_port)
}
