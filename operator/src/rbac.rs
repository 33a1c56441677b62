//! Every Kubernetes API call the operator makes, as RBAC rules. The Helm
//! chart's ClusterRole must grant them (a chart test checks it) and the
//! reconcile tests check that the operator makes no call outside them.

/// One RBAC rule: API group (`""` for core), resource (with `/subresource`), verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub group: &'static str,
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
}

const fn p(group: &'static str, resource: &'static str, verbs: &'static [&'static str]) -> Permission {
    Permission { group, resource, verbs }
}

/// Children: watched, read, and server-side applied (which needs `create`
/// as well as `patch` for an object that does not exist yet). Deleting them is
/// the garbage collector's job, through owner references.
const OWNED: &[&str] = &["get", "list", "watch", "create", "patch"];

pub const REQUIRED: &[Permission] = &[
    p("ingest.ducklake.dev", "ducklakeingestions", &["get", "list", "watch"]),
    p("ingest.ducklake.dev", "ducklakeingestions/status", &["get", "patch", "update"]),
    // Owner references with blockOwnerDeletion need it where the
    // OwnerReferencesPermissionEnforcement admission plugin is on.
    p("ingest.ducklake.dev", "ducklakeingestions/finalizers", &["update"]),
    p("apps", "statefulsets", OWNED),
    p("", "services", OWNED),
    p("", "configmaps", OWNED),
    // Deleted when spec.serviceMonitor is switched off.
    p("monitoring.coreos.com", "servicemonitors", &["get", "list", "watch", "create", "patch", "delete"]),
    // Readiness and IP of the ingester pod; deleting it restarts a stalled ingester.
    p("", "pods", &["get", "delete"]),
    // The query token named in spec.env, to read the pod's /status.
    p("", "secrets", &["get"]),
    p("events.k8s.io", "events", &["create", "patch"]),
    p("coordination.k8s.io", "leases", &["get", "create", "update"]),
];

/// Whether `REQUIRED` allows `verb` on `group`/`resource`.
pub fn allowed(group: &str, resource: &str, verb: &str) -> bool {
    REQUIRED.iter().any(|p| p.group == group && p.resource == resource && p.verbs.contains(&verb))
}

/// A Kubernetes API request path, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    /// `""` for a cluster-wide request.
    pub namespace: String,
    /// The plural, e.g. `statefulsets`.
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl ApiPath {
    /// `/api/v1/[namespaces/{ns}/]{plural}[/{name}[/{sub}]]` or the same under
    /// `/apis/{group}/{version}/`; a query string is ignored.
    pub fn parse(path: &str) -> Option<ApiPath> {
        let parts: Vec<&str> = path.split('?').next()?.trim_matches('/').split('/').collect();
        let (group, version, rest) = match *parts.first()? {
            "api" => (String::new(), parts.get(1)?.to_string(), parts.get(2..)?),
            "apis" => (parts.get(1)?.to_string(), parts.get(2)?.to_string(), parts.get(3..)?),
            _ => return None,
        };
        let (namespace, rest) = if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
            (rest[1].to_string(), &rest[2..])
        } else {
            (String::new(), rest)
        };
        let (resource, name, subresource) = match rest {
            [plural] => (plural, None, None),
            [plural, name] => (plural, Some(name.to_string()), None),
            [plural, name, sub] => (plural, Some(name.to_string()), Some(sub.to_string())),
            _ => return None,
        };
        Some(ApiPath { group, version, namespace, resource: resource.to_string(), name, subresource })
    }
}

/// The RBAC `(group, resource, verb)` of a request to the API server.
pub fn of_request(method: &str, path: &str) -> Option<(String, String, &'static str)> {
    let p = ApiPath::parse(path)?;
    let resource = match &p.subresource {
        Some(sub) => format!("{}/{sub}", p.resource),
        None => p.resource.clone(),
    };
    let watch = path.contains("watch=true");
    let verb = match (method, &p.name) {
        ("GET", None) if watch => "watch",
        ("GET", None) => "list",
        ("GET", Some(_)) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => return None,
    };
    Some((p.group, resource, verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_rbac() {
        let r = |m, p| of_request(m, p).unwrap();
        assert_eq!(
            r("GET", "/apis/apps/v1/namespaces/ns/statefulsets/x"),
            ("apps".into(), "statefulsets".into(), "get")
        );
        assert_eq!(r("GET", "/api/v1/pods?watch=true&labelSelector=x"), ("".into(), "pods".into(), "watch"));
        assert_eq!(
            r("PATCH", "/apis/ingest.ducklake.dev/v1alpha1/namespaces/ns/ducklakeingestions/x/status?force=true"),
            ("ingest.ducklake.dev".into(), "ducklakeingestions/status".into(), "patch")
        );
        assert!(allowed("", "pods", "delete"));
        assert!(!allowed("", "secrets", "list"));
    }
}
