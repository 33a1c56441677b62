//! The reconcile loop against the in-memory API server (`crate::fake`).

use std::sync::Mutex;

use ducklake_crds::resource::Phase;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};

use super::*;
use crate::build::tests::MINIMAL;
use crate::fake::FakeApi;
use crate::probe::{IngesterStatus, SourceReport};
use ducklake_config::status::SourceState;

const CR: &str = "ingest.ducklake.dev/v1alpha1/ducklakeingestions";
const STS: &str = "apps/v1/statefulsets";
const CM: &str = "v1/configmaps";
const SVC: &str = "v1/services";
const SM: &str = "monitoring.coreos.com/v1/servicemonitors";
const POD: &str = "v1/pods";

/// Answers `/status` for the pod like an ingester would.
#[derive(Default)]
struct FakeProbe(Mutex<Option<Result<IngesterStatus, String>>>);

impl FakeProbe {
    fn answer(&self, r: Result<IngesterStatus, String>) {
        *self.0.lock().unwrap() = Some(r);
    }
}

impl StatusProbe for FakeProbe {
    fn status(
        &self,
        _: String,
        _: Option<String>,
    ) -> futures::future::BoxFuture<'static, Result<IngesterStatus, String>> {
        let r = self.0.lock().unwrap().clone().unwrap_or_else(|| Err("no answer".into()));
        Box::pin(async move { r })
    }
}

struct Harness {
    api: FakeApi,
    probe: Arc<FakeProbe>,
    ctx: Arc<Context>,
    clock: Arc<Mutex<Timestamp>>,
}

impl Harness {
    fn new(service_monitor_crd: bool, yaml: &str) -> Self {
        let api = FakeApi::new(service_monitor_crd);
        let mut cr: Value =
            serde_json::to_value(serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml).unwrap()).unwrap();
        cr["metadata"]["namespace"] = json!("ns");
        api.insert(CR, cr);
        let client = api.client();
        let probe = Arc::new(FakeProbe::default());
        let recorder = Recorder::new(client.clone(), Reporter { controller: "test".into(), instance: None });
        let mut ctx = Context::new(client, recorder, Defaults::default(), probe.clone(), Arc::new(Metrics::default()));
        let clock = Arc::new(Mutex::new(Timestamp::from_second(1_800_000_000).unwrap()));
        let c = clock.clone();
        ctx.now = Arc::new(move || *c.lock().unwrap());
        Harness { api, probe, ctx: Arc::new(ctx), clock }
    }

    fn cr(&self) -> DuckLakeIngestion {
        serde_json::from_value(self.api.get(CR, "ns", "demo").expect("resource stored")).unwrap()
    }

    async fn reconcile(&self) -> Result<Action, Error> {
        reconcile(Arc::new(self.cr()), self.ctx.clone()).await
    }

    fn status(&self) -> ducklake_crds::DuckLakeIngestionStatus {
        self.cr().status.expect("status written")
    }

    fn condition(&self, type_: &str) -> (String, String) {
        let s = self.status();
        let c = s.conditions.iter().find(|c| c.type_ == type_).unwrap_or_else(|| panic!("no {type_}: {s:?}"));
        (c.status.clone(), c.reason.clone())
    }

    fn edit_spec(&self, f: impl FnOnce(&mut Value)) {
        self.api.edit(CR, "ns", "demo", |o| {
            f(&mut o["spec"]);
            let g = o["metadata"]["generation"].as_i64().unwrap();
            o["metadata"]["generation"] = json!(g + 1);
        });
    }

    fn sts(&self) -> Value {
        self.api.get(STS, "ns", "demo").expect("statefulset applied")
    }

    /// The StatefulSet controller's part: a pod, ready or not.
    fn pod(&self, ready: bool) {
        self.api.insert(
            POD,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo-0", "namespace": "ns"},
                   "status": {"podIP": "10.0.0.7", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}}),
        );
    }

    fn advance(&self, secs: i64) {
        let mut c = self.clock.lock().unwrap();
        *c = c.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(secs)).unwrap();
    }
}

fn report(state: SourceState, ledger: u32) -> IngesterStatus {
    IngesterStatus {
        version: "0.1.0".into(),
        sources: vec![SourceReport {
            name: "synthnet".into(),
            state,
            last_committed_ledger: Some(ledger),
            lag_seconds: Some(3),
            ledgers_per_second: 12.5,
            ..SourceReport::default()
        }],
    }
}

fn annotation_hash(sts: &Value) -> String {
    sts.pointer("/spec/template/metadata/annotations/ingest.ducklake.dev~1config-hash")
        .and_then(Value::as_str)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn create_applies_every_child_with_one_field_manager() {
    let h = Harness::new(false, MINIMAL);
    assert_eq!(h.reconcile().await.unwrap(), Action::requeue(Duration::from_secs(30)));
    assert_eq!(h.api.names(CM), ["ns/demo-config"]);
    assert_eq!(h.api.names(SVC), ["ns/demo", "ns/demo-headless"]);
    assert_eq!(h.api.names(STS), ["ns/demo"]);
    let applies: Vec<_> = h.api.log().into_iter().filter(|l| l.starts_with("PATCH")).collect();
    assert!(!applies.is_empty());
    for a in &applies {
        assert!(a.contains("fieldManager=ducklake-operator") && a.contains("force=true"), "{a}");
    }
    let owner = &h.sts()["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"], "uid-demo");
    assert_eq!(owner["controller"], true);
    let s = h.status();
    assert_eq!(s.phase, Some(Phase::Pending));
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(s.endpoint.as_deref(), Some("http://demo.ns.svc:8080"));
    assert_eq!(h.condition("Ready"), ("False".into(), "PodMissing".into()));
    assert_eq!(h.condition("ServiceMonitorReady"), ("False".into(), "Disabled".into()));
    let cm = h.api.get(CM, "ns", "demo-config").unwrap();
    assert_eq!(annotation_hash(&h.sts()), s.config_hash.unwrap());
    assert!(
        cm["data"]["config.yaml"].as_str().unwrap().contains("catalog_path: ducklake:duckdb:/data/catalog.ducklake")
    );
}

#[tokio::test]
async fn a_config_change_rolls_the_pod_through_a_new_hash() {
    let h = Harness::new(false, MINIMAL);
    h.reconcile().await.unwrap();
    let before = annotation_hash(&h.sts());
    h.edit_spec(|s| s["config"]["sources"][0]["start_ledger"] = json!(100));
    h.reconcile().await.unwrap();
    let after = annotation_hash(&h.sts());
    assert_ne!(before, after);
    let cm = h.api.get(CM, "ns", "demo-config").unwrap();
    assert!(cm["data"]["config.yaml"].as_str().unwrap().contains("start_ledger: 100"));
    assert_eq!(h.status().config_hash.as_deref(), Some(after.as_str()));
    assert_eq!(h.status().observed_generation, Some(2));
    assert!(h.api.events().iter().any(|e| e.1 == "ConfigChanged"), "{:?}", h.api.events());
}

#[tokio::test]
async fn drift_is_corrected_on_the_next_reconcile() {
    let h = Harness::new(false, MINIMAL);
    h.reconcile().await.unwrap();
    let want = h.sts()["spec"].clone();
    h.api.edit(STS, "ns", "demo", |o| {
        o["spec"]["replicas"] = json!(3);
        o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("evil:latest");
    });
    h.api.edit(CM, "ns", "demo-config", |o| o["data"]["config.yaml"] = json!("tampered"));
    h.reconcile().await.unwrap();
    assert_eq!(h.sts()["spec"], want);
    assert_ne!(h.api.get(CM, "ns", "demo-config").unwrap()["data"]["config.yaml"], "tampered");
}

#[tokio::test]
async fn suspend_scales_to_zero_and_resume_back_to_one() {
    let h = Harness::new(false, MINIMAL);
    h.reconcile().await.unwrap();
    h.pod(true);
    h.edit_spec(|s| s["suspend"] = json!(true));
    h.reconcile().await.unwrap();
    assert_eq!(h.sts()["spec"]["replicas"], 0);
    assert_eq!(h.status().phase, Some(Phase::Suspended));
    assert_eq!(h.condition("Ready"), ("False".into(), "Suspended".into()));
    assert!(h.api.events().iter().any(|e| e.1 == "Suspended"));
    h.edit_spec(|s| s["suspend"] = json!(false));
    h.reconcile().await.unwrap();
    assert_eq!(h.sts()["spec"]["replicas"], 1);
}

#[tokio::test]
async fn deletion_garbage_collects_children_and_keeps_the_volume() {
    let h = Harness::new(true, &format!("{MINIMAL}  serviceMonitor: {{enabled: true}}\n"));
    h.reconcile().await.unwrap();
    assert_eq!(h.sts()["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"], "Retain");
    // The StatefulSet controller's claim: not owned by the resource.
    h.api.insert(
        "v1/persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-demo-0", "namespace": "ns"}}),
    );
    let cr = h.cr();
    let api: Api<DuckLakeIngestion> = Api::namespaced(h.api.client(), "ns");
    api.delete("demo", &DeleteParams::default()).await.unwrap();
    for kind in [STS, CM, SVC, SM] {
        assert!(h.api.names(kind).is_empty(), "{kind} left: {:?}", h.api.names(kind));
    }
    assert_eq!(h.api.names("v1/persistentvolumeclaims"), ["ns/data-demo-0"]);
    // A reconcile of the terminating resource recreates nothing.
    let mut terminating = cr;
    terminating.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()));
    let writes = h.api.log().len();
    assert_eq!(reconcile(Arc::new(terminating), h.ctx.clone()).await.unwrap(), Action::await_change());
    assert_eq!(h.api.log().len(), writes);
    assert!(h.api.names(STS).is_empty());
}

#[tokio::test]
async fn service_monitor_is_applied_when_its_crd_exists() {
    let h = Harness::new(true, &format!("{MINIMAL}  serviceMonitor: {{enabled: true, interval: 15s}}\n"));
    h.reconcile().await.unwrap();
    let sm = h.api.get(SM, "ns", "demo").expect("servicemonitor applied");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(h.condition("ServiceMonitorReady"), ("True".into(), "Applied".into()));
    // Disabling it removes ours.
    h.edit_spec(|s| s["serviceMonitor"]["enabled"] = json!(false));
    h.reconcile().await.unwrap();
    assert!(h.api.get(SM, "ns", "demo").is_none());
    assert_eq!(h.condition("ServiceMonitorReady"), ("False".into(), "Disabled".into()));
}

#[tokio::test]
async fn missing_service_monitor_crd_is_a_condition_and_one_warning() {
    let h = Harness::new(false, &format!("{MINIMAL}  serviceMonitor: {{enabled: true}}\n"));
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("ServiceMonitorReady"), ("False".into(), "CRDNotInstalled".into()));
    let warnings: Vec<_> = h.api.events().into_iter().filter(|e| e.1 == "CRDNotInstalled").collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!((warnings[0].0.as_str(), warnings[0].2), ("Warning", 1));
    // Everything else is still applied.
    assert_eq!(h.api.names(STS), ["ns/demo"]);
}

#[tokio::test]
async fn healthy_pod_reports_progress_in_the_status() {
    let h = Harness::new(false, MINIMAL);
    h.reconcile().await.unwrap();
    h.pod(true);
    h.probe.answer(Ok(report(SourceState::Ingesting, 500)));
    h.reconcile().await.unwrap();
    let s = h.status();
    assert_eq!(s.phase, Some(Phase::Ingesting));
    assert_eq!(s.last_ledger, Some(500));
    assert_eq!(s.lag_seconds, Some(3));
    assert_eq!(s.sources[0].ledgers_per_second, Some(12.5));
    assert_eq!(h.condition("Ready"), ("True".into(), "PodReady".into()));
    assert_eq!(h.condition("Progressing"), ("True".into(), "Ingesting".into()));
    assert_eq!(h.condition("Degraded"), ("False".into(), "AsExpected".into()));
    h.probe.answer(Ok(report(SourceState::CaughtUp, 600)));
    h.reconcile().await.unwrap();
    assert_eq!(h.status().phase, Some(Phase::CaughtUp));
    let events: Vec<_> = h.api.events().into_iter().map(|e| e.1).collect();
    assert!(events.contains(&"Ingesting".to_string()) && events.contains(&"CaughtUp".to_string()), "{events:?}");
}

#[tokio::test]
async fn unhealthy_pod_is_pending_and_a_stall_restarts_it() {
    let h = Harness::new(false, MINIMAL);
    h.reconcile().await.unwrap();
    h.pod(false);
    h.reconcile().await.unwrap();
    assert_eq!(h.status().phase, Some(Phase::Pending));
    assert_eq!(h.condition("Ready"), ("False".into(), "PodNotReady".into()));

    // Ready, but the ledger stops advancing.
    h.pod(true);
    h.probe.answer(Ok(report(SourceState::Ingesting, 700)));
    h.reconcile().await.unwrap();
    h.advance(300);
    h.reconcile().await.unwrap();
    assert_eq!(h.status().phase, Some(Phase::Ingesting), "300 s is under the 600 s threshold");
    h.advance(400);
    h.reconcile().await.unwrap();
    let s = h.status();
    assert_eq!(s.phase, Some(Phase::Degraded));
    assert_eq!(s.stall_restarts, 1);
    assert_eq!(h.condition("Degraded"), ("True".into(), "Stalled".into()));
    assert_eq!(h.condition("Progressing"), ("False".into(), "Stalled".into()));
    assert!(h.api.get(POD, "ns", "demo-0").is_none(), "the stalled pod is deleted");
    assert!(h.api.events().iter().any(|e| e.0 == "Warning" && e.1 == "StallRestart"));

    // The restarted pod is not ready for longer than the threshold; back, it
    // gets a whole threshold again instead of being restarted at once.
    h.pod(false);
    h.advance(900);
    h.reconcile().await.unwrap();
    h.pod(true);
    h.reconcile().await.unwrap();
    assert_eq!(h.status().stall_restarts, 1);
    assert!(h.api.get(POD, "ns", "demo-0").is_some(), "not restarted again on its return");
    h.advance(601);
    h.reconcile().await.unwrap();
    assert_eq!(h.status().stall_restarts, 2, "still stuck a threshold later: restarted again");

    // Without restartOnStall it is only reported.
    let h = Harness::new(false, &format!("{MINIMAL}  selfHealing: {{stallSeconds: 60, restartOnStall: false}}\n"));
    h.pod(true);
    h.probe.answer(Ok(report(SourceState::Ingesting, 700)));
    h.reconcile().await.unwrap();
    h.advance(120);
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Degraded"), ("True".into(), "Stalled".into()));
    assert!(h.api.get(POD, "ns", "demo-0").is_some());

    // A /status the operator cannot read is reported, not fatal.
    h.probe.answer(Err("http://10.0.0.7:8080/status: HTTP 500".into()));
    h.reconcile().await.unwrap();
    assert_eq!(h.condition("Progressing"), ("False".into(), "StatusUnavailable".into()));
}

#[tokio::test]
async fn invalid_resource_is_refused_and_waits_for_a_change() {
    let h = Harness::new(false, &format!("{MINIMAL}    ducklake: {{catalog_path: /var/lib/stellar.duckdb}}\n"));
    let err = h.reconcile().await.unwrap_err();
    assert!(matches!(err, Error::InvalidSpec(_)), "{err}");
    assert!(err.to_string().contains("spec.config.ducklake.catalog_path"), "{err}");
    assert_eq!(error_policy(Arc::new(h.cr()), &err, h.ctx.clone()), Action::await_change());
    assert!(h.api.names(STS).is_empty() && h.api.names(CM).is_empty(), "nothing applied");
    let s = h.status();
    assert_eq!(s.phase, Some(Phase::Failed));
    assert_eq!(h.condition("Degraded"), ("True".into(), "InvalidSpec".into()));
    assert!(h.api.events().iter().any(|e| e.0 == "Warning" && e.1 == "Failed"));
    // Transient errors back off instead.
    let transient = Error::NoNamespace;
    assert_eq!(error_policy(Arc::new(h.cr()), &transient, h.ctx.clone()), Action::requeue(Duration::from_secs(5)));
    assert_eq!(error_policy(Arc::new(h.cr()), &transient, h.ctx.clone()), Action::requeue(Duration::from_secs(10)));
}

#[tokio::test]
async fn immutable_storage_change_is_degraded_not_retried() {
    let h = Harness::new(false, MINIMAL);
    h.reconcile().await.unwrap();
    let claims = h.sts()["spec"]["volumeClaimTemplates"].clone();
    h.edit_spec(|s| {
        s["storage"] = json!({"size": "50Gi"});
        s["config"]["sources"][0]["start_ledger"] = json!(9);
    });
    assert!(h.reconcile().await.is_ok());
    assert_eq!(h.sts()["spec"]["volumeClaimTemplates"], claims, "the claim template is kept");
    assert_eq!(h.status().phase, Some(Phase::Degraded));
    let (status, reason) = h.condition("Degraded");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "ImmutableFieldChanged"));
    let msg = h.status().conditions.iter().find(|c| c.type_ == "Degraded").unwrap().message.clone();
    assert!(msg.contains("storage.size 10Gi -> 50Gi"), "{msg}");
    // The configuration change still rolled.
    let cm = h.api.get(CM, "ns", "demo-config").unwrap();
    assert!(cm["data"]["config.yaml"].as_str().unwrap().contains("start_ledger: 9"));
}

#[tokio::test]
async fn an_unchanged_status_is_not_rewritten() {
    let h = Harness::new(false, MINIMAL);
    h.reconcile().await.unwrap();
    let writes = |h: &Harness| h.api.log().iter().filter(|l| l.contains("/status?")).count();
    let before = writes(&h);
    h.reconcile().await.unwrap();
    assert_eq!(writes(&h), before);
}

#[test]
fn backoff_doubles_to_five_minutes() {
    let s: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(s, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
}

/// Every request the reconcile tests' scenarios make is granted by
/// `rbac::REQUIRED` (which the Helm chart's ClusterRole is checked against).
#[tokio::test]
async fn every_api_call_is_covered_by_the_rbac_rules() {
    let h = Harness::new(
        true,
        &format!(
            "{MINIMAL}  serviceMonitor: {{enabled: true}}\n  selfHealing: {{stallSeconds: 60}}\n  env: [{{name: T, valueFrom: {{secretKeyRef: {{name: s, key: t}}}}}}]\n"
        ),
    );
    h.edit_spec(|s| s["config"]["query_api"] = json!({"auth_token": "${T}"}));
    h.reconcile().await.unwrap();
    h.pod(true);
    h.probe.answer(Ok(report(SourceState::Ingesting, 1)));
    h.reconcile().await.unwrap();
    h.advance(120);
    h.reconcile().await.unwrap();
    h.edit_spec(|s| s["serviceMonitor"]["enabled"] = json!(false));
    h.reconcile().await.unwrap();
    let log = h.api.log();
    assert!(log.iter().any(|l| l.starts_with("DELETE /api/v1/namespaces/ns/pods/")), "the stall restart ran");
    assert!(log.iter().any(|l| l.contains("/secrets/s")), "the token was read");
    for line in log {
        let (method, path) = line.split_once(' ').unwrap();
        let (group, resource, verb) = crate::rbac::of_request(method, path).unwrap_or_else(|| panic!("{line}"));
        assert!(
            crate::rbac::allowed(&group, &resource, verb),
            "{line}: {verb} {group}/{resource} is not in rbac::REQUIRED"
        );
    }
}

/// A resource the operator cannot read (port 70000, stored before the schema
/// bounded it) fails a typed list, which would stop the watch of every
/// resource. Watched untyped, it alone is marked `Failed` with the key at
/// fault and waits for a change; the others reconcile.
#[tokio::test]
async fn an_unreadable_resource_is_marked_failed_and_the_others_reconcile() {
    let h = Harness::new(false, MINIMAL);
    let mut broken = h.api.get(CR, "ns", "demo").expect("stored");
    broken["metadata"] = json!({"name": "broken", "namespace": "ns", "generation": 1});
    broken["spec"]["config"]["query_api"] = json!({"port": 70000});
    h.api.insert(CR, broken);

    let typed: Api<DuckLakeIngestion> = Api::namespaced(h.ctx.client.clone(), "ns");
    assert!(typed.list(&Default::default()).await.is_err(), "a typed list fails on the unreadable resource");
    let watched: Api<WatchedIngestion> = Api::namespaced(h.ctx.client.clone(), "ns");
    let all = watched.list(&Default::default()).await.expect("the watched list reads every resource");
    assert_eq!(all.items.len(), 2);
    for w in all.items {
        let w = Arc::new(w);
        let result = reconcile_watched(w.clone(), h.ctx.clone()).await;
        if w.metadata.name.as_deref() == Some("broken") {
            let err = result.expect_err("unreadable");
            assert!(matches!(err, Error::Unreadable(_)), "{err}");
            assert_eq!(error_policy_watched(w, &err, h.ctx.clone()), Action::await_change());
        } else {
            result.expect("the readable resource reconciles");
        }
    }
    assert_eq!(h.api.names(STS), ["ns/demo"], "only the readable resource gets children");
    let status = &h.api.get(CR, "ns", "broken").expect("stored")["status"];
    assert_eq!(status["phase"], "Failed", "{status}");
    let degraded = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Degraded").unwrap();
    assert_eq!(degraded["reason"], "InvalidSpec");
    let message = degraded["message"].as_str().unwrap();
    assert!(message.contains("spec.config.query_api.port"), "{message}");
    assert_eq!(h.status().phase, Some(Phase::Pending));
}
