//! The reconcile loop: build (pure) -> apply (server-side apply, one field
//! manager) -> observe the pod -> status (pure) -> events.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{info, warn};

use crate::build::{self, Defaults, FIELD_MANAGER, InvalidSpec, ServiceMonitor};
use crate::metrics::Metrics;
use crate::probe::StatusProbe;
use crate::status::{self, Applied, Observed, PodView, ServiceMonitorState};
use crate::watched::WatchedIngestion;
use ducklake_crds::resource::SelfHealingSpec;

/// Shared by every reconcile.
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub defaults: Defaults,
    pub probe: Arc<dyn StatusProbe>,
    pub metrics: Arc<Metrics>,
    /// How often a healthy resource is looked at again (progress, stalls).
    pub poll: Duration,
    /// The clock; tests move it to make a pod look stalled.
    pub now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        recorder: Recorder,
        defaults: Defaults,
        probe: Arc<dyn StatusProbe>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Context {
            client,
            recorder,
            defaults,
            probe,
            metrics,
            poll: Duration::from_secs(30),
            now: Arc::new(Timestamp::now),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Consecutive failures of `key`, counting this one.
    fn failed(&self, key: &str) -> u32 {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec cannot be run; retrying will not help until it changes.
    #[error(transparent)]
    InvalidSpec(#[from] InvalidSpec),
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("the resource has no namespace")]
    NoNamespace,
    /// The stored resource does not deserialize; waits for a change.
    #[error("cannot read the resource: {0}")]
    Unreadable(String),
}

impl Error {
    /// The `error` label of the failure metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::InvalidSpec(_) => "invalid_spec",
            Error::Kube { .. } => "kube",
            Error::NoNamespace => "no_namespace",
            Error::Unreadable(_) => "unreadable",
        }
    }
}

fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Kube { what, source }
}

fn key(cr: &impl Resource) -> String {
    format!("{}/{}", cr.namespace().unwrap_or_default(), cr.name_any())
}

/// Entry point for the controller: parses the watched resource, reconciles
/// it, or marks it `Failed` when it cannot be read (the others go on).
pub async fn reconcile_watched(watched: Arc<WatchedIngestion>, ctx: Arc<Context>) -> Result<Action, Error> {
    match watched.parse() {
        Ok(cr) => reconcile(Arc::new(cr), ctx).await,
        Err(reason) => {
            let started = Instant::now();
            let result = mark_unreadable(&watched, &reason, &ctx).await;
            let error = result.err().unwrap_or(Error::Unreadable(reason));
            ctx.metrics.reconciled(started.elapsed(), Some(error.metric_label()));
            Err(error)
        }
    }
}

/// [`error_policy`] for [`reconcile_watched`].
pub fn error_policy_watched(watched: Arc<WatchedIngestion>, error: &Error, ctx: Arc<Context>) -> Action {
    policy(&key(watched.as_ref()), error, &ctx)
}

/// Status `Failed` (condition `Degraded`, reason `InvalidSpec`) with why the
/// stored resource cannot be read.
async fn mark_unreadable(watched: &WatchedIngestion, reason: &str, ctx: &Context) -> Result<(), Error> {
    let ns = watched.namespace().ok_or(Error::NoNamespace)?;
    warn!(resource = %key(watched), reason, "cannot read the resource; marking it Failed");
    let previous = watched.status().unwrap_or_default();
    let self_healing = SelfHealingSpec::default();
    let observed = Observed {
        generation: watched.meta().generation,
        previous: &previous,
        suspend: false,
        self_healing: &self_healing,
        applied: Applied::Invalid { message: format!("the operator cannot read this resource: {reason}") },
        pod: PodView::default(),
        ingester: None,
        now: (ctx.now)(),
    };
    let target = Target { ns: &ns, name: watched.name_any(), reference: watched.object_ref(&()), key: key(watched) };
    finish(&target, ctx, &observed).await.map(|_| ())
}

/// Entry point for the controller: times the reconcile and counts outcomes.
pub async fn reconcile(cr: Arc<DuckLakeIngestion>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_one(&cr, &ctx).await;
    ctx.metrics.reconciled(started.elapsed(), result.as_ref().err().map(Error::metric_label));
    if result.is_ok() {
        ctx.succeeded(&key(cr.as_ref()));
    }
    result
}

/// Invalid specs wait for a change; anything else is retried with
/// exponential backoff (5 s doubling to 5 min) per resource.
pub fn error_policy(cr: Arc<DuckLakeIngestion>, error: &Error, ctx: Arc<Context>) -> Action {
    policy(&key(cr.as_ref()), error, &ctx)
}

fn policy(key: &str, error: &Error, ctx: &Context) -> Action {
    match error {
        Error::InvalidSpec(_) | Error::Unreadable(_) => {
            warn!(resource = %key, error = %error, "invalid spec; waiting for a change");
            Action::await_change()
        }
        e => {
            let n = ctx.failed(key);
            let delay = backoff(n);
            warn!(resource = %key, error = %e, attempt = n, retry_in_s = delay.as_secs(), "reconcile failed");
            Action::requeue(delay)
        }
    }
}

/// Delay before retry `n` (1-based).
pub fn backoff(n: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << n.saturating_sub(1).min(10));
    Duration::from_secs(secs.min(300))
}

async fn reconcile_one(cr: &DuckLakeIngestion, ctx: &Context) -> Result<Action, Error> {
    let ns = cr.namespace().ok_or(Error::NoNamespace)?;
    let name = cr.name_any();
    if cr.meta().deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove the children;
        // the volume follows the StatefulSet's retention policy.
        return Ok(Action::await_change());
    }
    let client = &ctx.client;
    let previous = cr.status.clone().unwrap_or_default();
    let ssa = PatchParams::apply(FIELD_MANAGER).force();

    let desired = match build::desired(cr, &ctx.defaults) {
        Ok(d) => d,
        Err(invalid) => {
            let observed = Observed {
                generation: cr.meta().generation,
                previous: &previous,
                suspend: cr.spec.suspend,
                self_healing: &cr.spec.self_healing,
                applied: Applied::Invalid { message: invalid.to_string() },
                pod: PodView::default(),
                ingester: None,
                now: (ctx.now)(),
            };
            finish(&Target::of(cr, &ns), ctx, &observed).await?;
            return Err(invalid.into());
        }
    };
    for w in &desired.config.warnings {
        warn!(resource = %key(cr), warning = %w, "configuration warning");
    }

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    apply(&cms, &desired.config_map, &ssa).await?;

    let stss: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let mut sts = desired.stateful_set.clone();
    let live = stss.get_opt(&name).await.map_err(kube_err(format!("get statefulset {name}")))?;
    let mut immutable = Vec::new();
    if let Some(live) = &live {
        // Whatever the comparison says, the live immutable fields are sent
        // back unchanged, so the apply never fails on them.
        immutable = build::immutable_changes(live, &sts);
        build::keep_immutable(&mut sts, live);
    }
    match stss.patch(&name, &ssa, &Patch::Apply(&sts)).await {
        Ok(_) => {}
        // Refused by the API server as an invalid update: report, don't loop.
        Err(kube::Error::Api(s)) if s.code == 422 => immutable.push(format!("statefulset refused: {}", s.message)),
        Err(e) => return Err(kube_err(format!("apply statefulset {name}"))(e)),
    }

    let svcs: Api<Service> = Api::namespaced(client.clone(), &ns);
    apply(&svcs, &desired.service, &ssa).await?;
    apply(&svcs, &desired.headless_service, &ssa).await?;

    let sm_state = service_monitor(ctx, &ns, &name, desired.service_monitor.as_ref(), &ssa).await?;

    let (pod, pod_ip) = if cr.spec.suspend { (PodView::default(), None) } else { observe_pod(ctx, &ns, &name).await? };
    let ingester = match pod_ip {
        Some(ip) if pod.ready => {
            let token = query_token(ctx, cr, &ns, &desired.config.config).await;
            let host = if ip.contains(':') { format!("[{ip}]") } else { ip };
            Some(ctx.probe.status(format!("http://{host}:{}", desired.config.query_port), token).await)
        }
        _ => None,
    };

    let observed = Observed {
        generation: cr.meta().generation,
        previous: &previous,
        suspend: cr.spec.suspend,
        self_healing: &cr.spec.self_healing,
        applied: Applied::Objects {
            config_hash: desired.config.hash.clone(),
            endpoint: build::endpoint(cr, &desired.config),
            immutable,
            service_monitor: sm_state,
        },
        pod,
        ingester,
        now: (ctx.now)(),
    };
    let restart = finish(&Target::of(cr, &ns), ctx, &observed).await?;
    if restart {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let pod = build::pod_name(&name);
        info!(resource = %key(cr), pod = %pod, "ingestion stalled; restarting the pod");
        pods.delete(&pod, &DeleteParams::default()).await.map_err(kube_err(format!("delete pod {pod}")))?;
        ctx.metrics.stall_restarts.inc();
    }
    Ok(Action::requeue(ctx.poll))
}

/// The resource a status and its events are written to.
struct Target<'a> {
    ns: &'a str,
    name: String,
    reference: k8s_openapi::api::core::v1::ObjectReference,
    key: String,
}

impl<'a> Target<'a> {
    fn of(cr: &DuckLakeIngestion, ns: &'a str) -> Self {
        Target { ns, name: cr.name_any(), reference: cr.object_ref(&()), key: key(cr) }
    }
}

/// Computes and writes the status and publishes its events; returns whether
/// the pod should be restarted.
async fn finish(target: &Target<'_>, ctx: &Context, observed: &Observed<'_>) -> Result<bool, Error> {
    let computed = status::compute(observed);
    let patch = serde_json::json!({
        "apiVersion": DuckLakeIngestion::api_version(&()),
        "kind": DuckLakeIngestion::kind(&()),
        "status": computed.status,
    });
    // An unchanged status is not written: each write is a watch event that
    // reconciles the resource again.
    if &computed.status != observed.previous {
        let ssa = PatchParams::apply(FIELD_MANAGER).force();
        // The answer is not read back: it is the resource, which may be
        // one the operator cannot deserialize.
        let api: Api<WatchedIngestion> = Api::namespaced(ctx.client.clone(), target.ns);
        api.patch_status(&target.name, &ssa, &Patch::Apply(&patch))
            .await
            .map_err(kube_err(format!("update status of {}", target.key)))?;
    }
    for note in &computed.notes {
        let event = Event {
            type_: if note.warning { EventType::Warning } else { EventType::Normal },
            reason: note.reason.to_string(),
            // events.k8s.io refuses a note over 1 KiB.
            note: Some(status::truncate(note.message.clone(), 1000)),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        // An event that cannot be written is not worth failing the reconcile.
        if let Err(e) = ctx.recorder.publish(&event, &target.reference).await {
            warn!(resource = %target.key, reason = note.reason, error = %e, "cannot publish event");
        }
    }
    Ok(computed.restart_pod)
}

async fn apply<K>(api: &Api<K>, obj: &K, ssa: &PatchParams) -> Result<K, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = obj.name_any();
    api.patch(&name, ssa, &Patch::Apply(obj)).await.map_err(kube_err(format!("apply {} {name}", K::kind(&()))))
}

/// Applies, or removes, the ServiceMonitor. A missing CRD is a state, not an error.
async fn service_monitor(
    ctx: &Context,
    ns: &str,
    name: &str,
    desired: Option<&ServiceMonitor>,
    ssa: &PatchParams,
) -> Result<ServiceMonitorState, Error> {
    let api: Api<ServiceMonitor> = Api::namespaced(ctx.client.clone(), ns);
    match desired {
        Some(sm) => match api.patch(name, ssa, &Patch::Apply(sm)).await {
            Ok(_) => Ok(ServiceMonitorState::Applied),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(ServiceMonitorState::CrdNotInstalled),
            Err(e) => Err(kube_err(format!("apply servicemonitor {name}"))(e)),
        },
        None => {
            // Disabled: remove ours if it exists (404: none, or no CRD at all).
            match api.get_opt(name).await {
                Ok(Some(sm)) if owned_by_us(&sm) => {
                    api.delete(name, &DeleteParams::default())
                        .await
                        .map_err(kube_err(format!("delete servicemonitor {name}")))?;
                }
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(kube_err(format!("get servicemonitor {name}"))(e)),
            }
            Ok(ServiceMonitorState::Disabled)
        }
    }
}

fn owned_by_us(sm: &ServiceMonitor) -> bool {
    sm.owner_references().iter().any(|o| o.kind == DuckLakeIngestion::kind(&()) && o.controller == Some(true))
}

/// The pod's readiness and IP.
async fn observe_pod(ctx: &Context, ns: &str, name: &str) -> Result<(PodView, Option<String>), Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let pod_name = build::pod_name(name);
    let Some(pod) = pods.get_opt(&pod_name).await.map_err(kube_err(format!("get pod {pod_name}")))? else {
        return Ok((PodView::default(), None));
    };
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ip = status.and_then(|s| s.pod_ip.clone());
    Ok((PodView { exists: true, ready: ready && !terminating }, ip))
}

/// The query API's bearer token, when the operator can know it: a literal
/// `auth_token`, or `${VAR}` with VAR in `spec.env` (a value or a Secret key).
async fn query_token(
    ctx: &Context,
    cr: &DuckLakeIngestion,
    ns: &str,
    config: &ducklake_config::IngesterConfig,
) -> Option<String> {
    let token = config.query_api.auth_token.as_deref()?;
    let Some(var) = token.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        return Some(token.to_string());
    };
    let var = var.split(":-").next().unwrap_or(var);
    let env = cr.spec.env.iter().find(|e| e.name == var)?;
    if let Some(v) = &env.value {
        return Some(v.clone());
    }
    let sel = env.value_from.as_ref()?.secret_key_ref.as_ref()?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    match secrets.get_opt(&sel.name).await {
        Ok(Some(s)) => {
            let bytes = s.data.as_ref()?.get(&sel.key)?;
            String::from_utf8(bytes.0.clone()).ok().map(|t| t.trim_end().to_string())
        }
        Ok(None) => None,
        Err(e) => {
            warn!(resource = %key(cr), secret = %sel.name, error = %e, "cannot read the query token");
            None
        }
    }
}

#[cfg(test)]
mod tests;
