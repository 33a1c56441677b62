//! The one-replica StatefulSet running the ingester on a persistent volume.

use std::collections::BTreeMap;

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    SeccompProfile, SecurityContext, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::service::{HTTP_PORT_NAME, METRICS_PORT_NAME, headless_service_name};
use super::{
    CONFIG_FILE, CONFIG_HASH_ANNOTATION, CONFIG_MOUNT, CONTAINER, DATA_MOUNT, Defaults, RenderedConfig, child_meta,
    config_map_name, labels, selector_labels,
};

/// Name of the volume claim template (PVCs are `data-<name>-0`).
pub const DATA_VOLUME: &str = "data";
/// The image's unprivileged user (distroless `nonroot`).
const RUN_AS: i64 = 65532;

pub fn stateful_set(cr: &DuckLakeIngestion, config: &RenderedConfig, defaults: &Defaults) -> StatefulSet {
    let name = cr.name_any();
    let spec = &cr.spec;
    let storage = &spec.storage;
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_string()),
            labels: Some(selector_labels(&name)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), storage.size.clone())])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };
    let pod_labels = labels(&name);
    StatefulSet {
        metadata: child_meta(cr, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(if spec.suspend { 0 } else { 1 }),
            // With OrderedReady a crash-looping pod is never replaced by a
            // new template, so a fixed configuration would not roll it.
            pod_management_policy: Some("Parallel".to_string()),
            service_name: Some(headless_service_name(&name)),
            selector: LabelSelector { match_labels: Some(selector_labels(&name)), ..LabelSelector::default() },
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some(storage.retention.as_str().to_string()),
                when_scaled: Some("Retain".to_string()),
            }),
            volume_claim_templates: Some(vec![claim]),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_string(), config.hash.clone())])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(cr, config, defaults)),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn pod_spec(cr: &DuckLakeIngestion, config: &RenderedConfig, defaults: &Defaults) -> PodSpec {
    let spec = &cr.spec;
    let mut ports = vec![container_port(HTTP_PORT_NAME, config.query_port)];
    if let Some(m) = config.metrics_port {
        ports.push(container_port(METRICS_PORT_NAME, m));
    }
    let health = |period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/health".to_string()),
            port: IntOrString::String(HTTP_PORT_NAME.to_string()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    // DuckDB writes a home directory and temporary files; the root
    // filesystem is read-only, so both go to an emptyDir.
    let mut env = vec![EnvVar { name: "HOME".to_string(), value: Some("/tmp".to_string()), ..EnvVar::default() }];
    env.extend(spec.env.iter().cloned());
    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(spec.image.clone().unwrap_or_else(|| defaults.ingester_image.clone())),
        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().to_string()),
        // --keep-serving: a pod must not exit when a bounded range is done
        // (it would be restarted forever); it stays up to serve queries.
        args: Some(vec![
            "run".to_string(),
            "--config".to_string(),
            format!("{CONFIG_MOUNT}/{CONFIG_FILE}"),
            "--keep-serving".to_string(),
        ]),
        ports: Some(ports),
        env: Some(env),
        env_from: (!spec.env_from.is_empty()).then(|| spec.env_from.clone()),
        resources: spec.resources.clone(),
        // Opening a large catalog (WAL replay) can take minutes: the startup
        // probe allows 10, after which liveness takes over.
        startup_probe: Some(health(10, 60)),
        readiness_probe: Some(health(10, 3)),
        liveness_probe: Some(health(20, 6)),
        volume_mounts: Some(vec![
            mount(DATA_VOLUME, DATA_MOUNT, false),
            mount("config", CONFIG_MOUNT, true),
            mount("tmp", "/tmp", false),
        ]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_string()]), ..Capabilities::default() }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    PodSpec {
        containers: vec![container],
        volumes: Some(vec![
            Volume {
                name: "config".to_string(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config_map_name(&cr.name_any()),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "tmp".to_string(),
                empty_dir: Some(EmptyDirVolumeSource {
                    size_limit: Some(Quantity("1Gi".to_string())),
                    ..EmptyDirVolumeSource::default()
                }),
                ..Volume::default()
            },
        ]),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            // Re-owning every lake file at each start would slow it down.
            fs_group_change_policy: Some("OnRootMismatch".to_string()),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_string(), ..SeccompProfile::default() }),
            ..PodSecurityContext::default()
        }),
        termination_grace_period_seconds: Some(grace_period(cr, config)),
        node_selector: (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone()),
        tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
        affinity: spec.affinity.clone(),
        image_pull_secrets: (!spec.image_pull_secrets.is_empty()).then(|| spec.image_pull_secrets.clone()),
        enable_service_links: Some(false),
        // The ingester never calls the Kubernetes API.
        automount_service_account_token: Some(false),
        ..PodSpec::default()
    }
}

/// Long enough to close the open batch on SIGTERM: a batch closes within
/// `commit_interval_seconds`, and the commit itself gets a minute.
fn grace_period(cr: &DuckLakeIngestion, config: &RenderedConfig) -> i64 {
    cr.spec.termination_grace_period_seconds.unwrap_or_else(|| {
        let interval = i64::try_from(config.config.ducklake.commit_interval_seconds).unwrap_or(i64::MAX);
        interval.saturating_add(60)
    })
}

fn container_port(name: &str, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: i32::from(port),
        protocol: Some("TCP".to_string()),
        ..ContainerPort::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// Why a StatefulSet cannot take the desired spec in place.
pub const IMMUTABLE_NOTE: &str = "a StatefulSet cannot change its volume claim template or selector; \
     the pod keeps its current volume (expand the PersistentVolumeClaim directly, or recreate the resource)";

/// Changes between the live StatefulSet and the desired one that the API
/// server would refuse, each described for the `Degraded` condition.
pub fn immutable_changes(live: &StatefulSet, desired: &StatefulSet) -> Vec<String> {
    let (Some(live), Some(want)) = (&live.spec, &desired.spec) else { return Vec::new() };
    let mut changes = Vec::new();
    let claim = |s: &StatefulSetSpec| s.volume_claim_templates.as_ref().and_then(|v| v.first().cloned());
    let (lc, wc) = (claim(live), claim(want));
    let size = |c: &Option<PersistentVolumeClaim>| {
        c.as_ref()
            .and_then(|c| c.spec.as_ref())
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone())
    };
    if size(&lc).as_deref().and_then(quantity_bytes) != size(&wc).as_deref().and_then(quantity_bytes) {
        changes.push(format!("storage.size {} -> {}", size(&lc).unwrap_or_default(), size(&wc).unwrap_or_default()));
    }
    let class = |c: &Option<PersistentVolumeClaim>| {
        c.as_ref().and_then(|c| c.spec.as_ref()).and_then(|s| s.storage_class_name.clone())
    };
    // A live claim without a class took the cluster default: not a change.
    if class(&wc).is_some() && class(&lc) != class(&wc) {
        changes.push(format!(
            "storage.storageClassName {} -> {}",
            class(&lc).unwrap_or_else(|| "(default)".to_string()),
            class(&wc).unwrap_or_default()
        ));
    }
    if live.selector.match_labels != want.selector.match_labels {
        changes.push("selector".to_string());
    }
    changes
}

/// `desired` with the live StatefulSet's immutable fields, so the rest of a
/// change (configuration, image, suspend) still applies.
pub fn keep_immutable(desired: &mut StatefulSet, live: &StatefulSet) {
    if let (Some(want), Some(live)) = (desired.spec.as_mut(), live.spec.as_ref()) {
        want.volume_claim_templates.clone_from(&live.volume_claim_templates);
        want.selector.clone_from(&live.selector);
        // Derived from the name alone, so it differs only for a set made by
        // an operator before 0.2 (governed by the ClusterIP Service): kept,
        // not reported, since the user changed nothing.
        want.service_name.clone_from(&live.service_name);
        want.pod_management_policy.clone_from(&live.pod_management_policy);
    }
}

/// A storage quantity in bytes (`10Gi`, `1500M`, `1.5Gi`, `2e9`), so that the
/// API server's canonical form (`1024Mi` -> `1Gi`) is not taken for a change.
pub fn quantity_bytes(q: &str) -> Option<u128> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    let n: f64 = number.parse().ok()?;
    Some((n * factor).round() as u128)
}
