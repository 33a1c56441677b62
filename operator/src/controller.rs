//! `ducklake-operator run`: watches DuckLakeIngestion resources (one
//! namespace or all) and the objects it owns, and reconciles them while this
//! replica leads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, ListParams};
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Client, Resource};
use tracing::{error, info, warn};

use crate::build::{Defaults, FIELD_MANAGER, ServiceMonitor};
use crate::leader::LeaderElection;
use crate::metrics::Metrics;
use crate::probe::HttpProbe;
use crate::reconcile::{Context, error_policy_watched, reconcile_watched};
use crate::server::{self, Readiness};
use crate::watched::WatchedIngestion;

/// Settings of `run`.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Watch only this namespace; `None`: all namespaces.
    pub namespace: Option<String>,
    pub defaults: Defaults,
    pub listen: SocketAddr,
    /// Lease `(namespace, name)` for leader election; `None` disables it.
    pub lease: Option<(String, String)>,
    /// This replica's identity in the lease (the pod name).
    pub identity: String,
    pub poll: Duration,
}

/// An `Api` of `K` over the watched scope.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

pub async fn run(settings: RunSettings) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (in a pod: service account; outside: KUBECONFIG)")?;
    let metrics = Arc::new(Metrics::default());
    let ready = Readiness::default();
    let server = tokio::spawn(server::serve(settings.listen, metrics.clone(), ready.clone()));
    info!(listen = %settings.listen, namespace = settings.namespace.as_deref().unwrap_or("(all)"), "ducklake-operator starting");

    let ns = settings.namespace.as_deref();
    let resources: Api<WatchedIngestion> = scoped(&client, ns);
    resources.list(&ListParams::default().limit(1)).await.context(
        "cannot list DuckLakeIngestion resources: is the CRD installed (`ducklake-operator crd | kubectl apply -f -`) \
         and may this service account list them?",
    )?;

    let mut lost_leadership = None;
    if let Some((lease_ns, lease_name)) = &settings.lease {
        let election =
            LeaderElection::new(Api::<Lease>::namespaced(client.clone(), lease_ns), lease_name, &settings.identity);
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(election.run(tx));
        // Followers are ready (they stand by); only the leader reconciles.
        ready.set();
        info!(lease = %lease_name, identity = %settings.identity, "waiting to become the leader");
        rx.wait_for(|leading| *leading).await.context("leader election ended before leading")?;
        metrics.leader.set(1);
        lost_leadership = Some(async move {
            let _ = rx.wait_for(|leading| !*leading).await;
            let _ = task.await;
        });
    }

    let service_monitors: Api<ServiceMonitor> = scoped(&client, ns);
    let sm_crd = match service_monitors.list(&ListParams::default().limit(1)).await {
        Ok(_) => true,
        Err(kube::Error::Api(s)) if s.code == 404 => {
            warn!("the ServiceMonitor CRD is not installed; resources asking for one get ServiceMonitorReady=False");
            false
        }
        Err(e) => {
            warn!(error = %e, "cannot tell whether the ServiceMonitor CRD is installed; not watching ServiceMonitors");
            false
        }
    };

    let recorder = Recorder::new(
        client.clone(),
        Reporter { controller: FIELD_MANAGER.into(), instance: Some(settings.identity.clone()) },
    );
    let mut ctx = Context::new(
        client.clone(),
        recorder,
        settings.defaults.clone(),
        Arc::new(HttpProbe::new(Duration::from_secs(5))),
        metrics.clone(),
    );
    ctx.poll = settings.poll;
    let ctx = Arc::new(ctx);

    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=ducklake-operator");
    let mut controller = Controller::new(resources, watcher::Config::default())
        .owns(scoped::<StatefulSet>(&client, ns), owned.clone())
        .owns(scoped::<Service>(&client, ns), owned.clone())
        .owns(scoped::<ConfigMap>(&client, ns), owned.clone());
    if sm_crd {
        controller = controller.owns(service_monitors, owned);
    }
    let store = controller.store();
    let ready_when_synced = ready.clone();
    tokio::spawn(async move {
        if store.wait_until_ready().await.is_ok() {
            ready_when_synced.set();
        }
    });

    let controller =
        controller.shutdown_on_signal().run(reconcile_watched, error_policy_watched, ctx).for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(resource = %obj.name, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile error"),
            }
        });
    tokio::select! {
        _ = controller => info!("controller stopped"),
        _ = async { match lost_leadership { Some(f) => f.await, None => std::future::pending().await } } => {
            metrics.leader.set(0);
            error!("leadership lost; exiting so that only one replica reconciles");
            anyhow::bail!("leadership lost");
        }
        r = server => {
            r.context("the HTTP server task failed")?.context("the HTTP server stopped")?;
        }
    }
    Ok(())
}
