//! An in-memory Kubernetes API server for reconcile tests: a tower service
//! behind a real `kube::Client`, with what the operator relies on: get,
//! create, replace, server-side apply (one manager, so an apply replaces
//! what it owned), the status subresource, delete with owner-reference
//! cascade, a 422 for changed StatefulSet volume claim templates, and a 404
//! for kinds whose CRD is not installed (the ServiceMonitor).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// `(group/version/plural, namespace, name)`.
type Key = (String, String, String);

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    /// `group/version/plural` served; others answer 404 like a missing CRD.
    served: Vec<String>,
    /// Every request as `METHOD path?query`.
    log: Vec<String>,
    version: u64,
}

#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

const CORE: [&str; 5] = ["v1/configmaps", "v1/services", "v1/pods", "v1/secrets", "v1/persistentvolumeclaims"];

impl FakeApi {
    pub fn new(service_monitor_crd: bool) -> Self {
        let mut served: Vec<String> = CORE.iter().map(|s| s.to_string()).collect();
        served.extend(
            [
                "apps/v1/statefulsets",
                "ingest.ducklake.dev/v1alpha1/ducklakeingestions",
                "events.k8s.io/v1/events",
                "coordination.k8s.io/v1/leases",
            ]
            .map(String::from),
        );
        if service_monitor_crd {
            served.push("monitoring.coreos.com/v1/servicemonitors".to_string());
        }
        FakeApi { state: Arc::new(Mutex::new(State { served, ..State::default() })) }
    }

    pub fn client(&self) -> kube::Client {
        let me = self.clone();
        let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
            let me = me.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let (status, value) = me.handle(&parts.method, &parts.uri, &body);
                let resp = Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(serde_json::to_vec(&value).unwrap_or_default()))
                    .unwrap_or_else(|e| panic!("response: {e}"));
                Ok::<_, Infallible>(resp)
            }
        });
        kube::Client::new(svc, "default")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `obj` as if it had been created (uid, generation 1).
    pub fn insert(&self, gvp: &str, obj: Value) {
        let mut s = self.lock();
        let (ns, name) = ns_name(&obj);
        let mut obj = obj;
        s.version += 1;
        let v = s.version;
        let meta = meta_mut(&mut obj);
        meta.entry("uid").or_insert_with(|| json!(format!("uid-{name}")));
        meta.entry("generation").or_insert(json!(1));
        meta.insert("resourceVersion".into(), json!(v.to_string()));
        s.objects.insert((gvp.to_string(), ns, name), obj);
    }

    pub fn get(&self, gvp: &str, ns: &str, name: &str) -> Option<Value> {
        self.lock().objects.get(&(gvp.to_string(), ns.to_string(), name.to_string())).cloned()
    }

    /// Changes a stored object behind the operator's back (drift, a spec edit).
    pub fn edit(&self, gvp: &str, ns: &str, name: &str, f: impl FnOnce(&mut Value)) {
        let mut s = self.lock();
        let obj = s
            .objects
            .get_mut(&(gvp.to_string(), ns.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("{gvp} {ns}/{name} not stored"));
        f(obj);
    }

    /// Objects of a kind, as `(namespace, name)`.
    pub fn names(&self, gvp: &str) -> Vec<String> {
        self.lock().objects.keys().filter(|k| k.0 == gvp).map(|k| format!("{}/{}", k.1, k.2)).collect()
    }

    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Events as `(type, reason)`.
    pub fn events(&self) -> Vec<(String, String, u64)> {
        self.lock()
            .objects
            .iter()
            .filter(|(k, _)| k.0 == "events.k8s.io/v1/events")
            .map(|(_, e)| {
                let count = e.pointer("/series/count").and_then(Value::as_u64).unwrap_or(1);
                (str_at(e, "/type"), str_at(e, "/reason"), count)
            })
            .collect()
    }

    fn handle(&self, method: &Method, uri: &http::Uri, body: &[u8]) -> (StatusCode, Value) {
        let mut s = self.lock();
        s.log.push(format!("{method} {}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("")));
        let Some(route) = Route::parse(uri.path()) else {
            return status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource");
        };
        if !s.served.contains(&route.gvp) {
            return status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource");
        }
        let body: Value =
            if body.is_empty() { Value::Null } else { serde_json::from_slice(body).unwrap_or(Value::Null) };
        let Some(name) = route.name.clone() else {
            return match *method {
                Method::POST => create(&mut s, &route, body),
                Method::GET => {
                    let items: Vec<Value> = s
                        .objects
                        .iter()
                        .filter(|(k, _)| k.0 == route.gvp && (route.ns.is_empty() || k.1 == route.ns))
                        .map(|(_, v)| v.clone())
                        .collect();
                    (
                        StatusCode::OK,
                        json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
                    )
                }
                _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "not supported by the fake"),
            };
        };
        let key = (route.gvp.clone(), route.ns.clone(), name.clone());
        match *method {
            Method::GET => match s.objects.get(&key) {
                Some(o) => (StatusCode::OK, o.clone()),
                None => not_found(&route, &name),
            },
            Method::DELETE => match s.objects.remove(&key) {
                Some(o) => {
                    cascade(&mut s, &o);
                    (StatusCode::OK, o)
                }
                None => not_found(&route, &name),
            },
            Method::PUT => {
                let Some(old) = s.objects.get(&key) else { return not_found(&route, &name) };
                if body.pointer("/metadata/resourceVersion") != old.pointer("/metadata/resourceVersion") {
                    return status(StatusCode::CONFLICT, "Conflict", "the object has been modified");
                }
                let old = old.clone();
                store(&mut s, key, &old, body, false)
            }
            Method::PATCH => {
                let old = s.objects.get(&key).cloned();
                if route.status {
                    let Some(mut obj) = old else { return not_found(&route, &name) };
                    obj["status"] = body.get("status").cloned().unwrap_or(Value::Null);
                    s.version += 1;
                    obj["metadata"]["resourceVersion"] = json!(s.version.to_string());
                    s.objects.insert(key, obj.clone());
                    return (StatusCode::OK, obj);
                }
                match old {
                    None => create(&mut s, &route, body),
                    Some(old) => {
                        if route.gvp == "apps/v1/statefulsets"
                            && old.pointer("/spec/volumeClaimTemplates") != body.pointer("/spec/volumeClaimTemplates")
                        {
                            return status(
                                StatusCode::UNPROCESSABLE_ENTITY,
                                "Invalid",
                                "StatefulSet.apps is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                            );
                        }
                        // A merge patch (event series) keeps what it does not name; an apply by the one manager replaces.
                        let merged = if route.gvp == "events.k8s.io/v1/events" {
                            let mut m = old.clone();
                            merge(&mut m, &body);
                            m
                        } else {
                            body
                        };
                        store(&mut s, key, &old, merged, true)
                    }
                }
            }
            _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "not supported by the fake"),
        }
    }
}

struct Route {
    gvp: String,
    ns: String,
    name: Option<String>,
    status: bool,
}

impl Route {
    /// The fake keys objects by `group/version/plural` (`v1/plural` for core).
    fn parse(path: &str) -> Option<Route> {
        let p = crate::rbac::ApiPath::parse(path)?;
        let gv = if p.group.is_empty() { p.version } else { format!("{}/{}", p.group, p.version) };
        Some(Route {
            gvp: format!("{gv}/{}", p.resource),
            ns: p.namespace,
            name: p.name,
            status: p.subresource.as_deref() == Some("status"),
        })
    }
}

fn create(s: &mut State, route: &Route, mut body: Value) -> (StatusCode, Value) {
    let name = str_at(&body, "/metadata/name");
    let key = (route.gvp.clone(), route.ns.clone(), name.clone());
    if s.objects.contains_key(&key) {
        return status(StatusCode::CONFLICT, "AlreadyExists", &format!("{name} already exists"));
    }
    s.version += 1;
    let v = s.version;
    let meta = meta_mut(&mut body);
    meta.insert("uid".into(), json!(format!("uid-{name}-{v}")));
    meta.insert("namespace".into(), json!(route.ns));
    meta.insert("generation".into(), json!(1));
    meta.insert("resourceVersion".into(), json!(v.to_string()));
    s.objects.insert(key, body.clone());
    (StatusCode::CREATED, body)
}

/// Writes `new` over `old`, keeping what the server owns (uid, status) and
/// bumping `generation` only when the spec changed, as a real server does.
fn store(s: &mut State, key: Key, old: &Value, mut new: Value, keep_status: bool) -> (StatusCode, Value) {
    s.version += 1;
    let v = s.version;
    let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
    let changed = old.get("spec") != new.get("spec");
    let meta = meta_mut(&mut new);
    for k in ["uid", "namespace", "creationTimestamp"] {
        if let Some(x) = old.pointer(&format!("/metadata/{k}")) {
            meta.insert(k.into(), x.clone());
        }
    }
    meta.insert("generation".into(), json!(if changed { generation + 1 } else { generation }));
    meta.insert("resourceVersion".into(), json!(v.to_string()));
    if keep_status && let Some(st) = old.get("status") {
        new["status"] = st.clone();
    }
    s.objects.insert(key, new.clone());
    (StatusCode::OK, new)
}

/// The garbage collector: objects owned by a deleted one go too.
fn cascade(s: &mut State, deleted: &Value) {
    let uid = str_at(deleted, "/metadata/uid");
    let owned: Vec<Key> = s
        .objects
        .iter()
        .filter(|(_, o)| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == json!(uid)))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in owned {
        if let Some(o) = s.objects.remove(&k) {
            cascade(s, &o);
        }
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().unwrap_or_else(|| unreachable!())
}

fn ns_name(obj: &Value) -> (String, String) {
    (str_at(obj, "/metadata/namespace"), str_at(obj, "/metadata/name"))
}

fn str_at(v: &Value, ptr: &str) -> String {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn not_found(route: &Route, name: &str) -> (StatusCode, Value) {
    status(StatusCode::NOT_FOUND, "NotFound", &format!("{} \"{name}\" not found", route.gvp))
}

fn status(code: StatusCode, reason: &str, message: &str) -> (StatusCode, Value) {
    (
        code,
        json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": reason, "message": message, "code": code.as_u16(), "metadata": {}}),
    )
}
