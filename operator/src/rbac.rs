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

/// The RBAC `(group, resource, verb)` of a request to the API server.
pub fn of_request(method: &str, path: &str) -> Option<(String, String, &'static str)> {
    let parts: Vec<&str> = path.split('?').next()?.trim_matches('/').split('/').collect();
    let (group, rest) = match *parts.first()? {
        "api" => (String::new(), parts.get(2..)?),
        "apis" => (parts.get(1)?.to_string(), parts.get(3..)?),
        _ => return None,
    };
    let rest = if rest.first() == Some(&"namespaces") && rest.len() >= 3 { &rest[2..] } else { rest };
    let resource = match rest {
        [plural] | [plural, _] => plural.to_string(),
        [plural, _, sub] => format!("{plural}/{sub}"),
        _ => return None,
    };
    let watch = path.contains("watch=true");
    let verb = match (method, rest.len()) {
        ("GET", 1) if watch => "watch",
        ("GET", 1) => "list",
        ("GET", _) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => return None,
    };
    Some((group, resource, verb))
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
