//! Builder tests: resources in, objects out, every field that matters pinned.

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Resource;

use super::*;

/// A stored resource (with a uid, so children get owner references).
pub(crate) fn resource(yaml: &str) -> DuckLakeIngestion {
    let mut cr: DuckLakeIngestion = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    cr.metadata.namespace.get_or_insert_with(|| "ns".to_string());
    cr.metadata.uid = Some("uid-1".to_string());
    cr.metadata.generation = Some(1);
    cr
}

pub(crate) const MINIMAL: &str = r#"
apiVersion: ingest.ducklake.dev/v1alpha1
kind: DuckLakeIngestion
metadata: {name: demo}
spec:
  config:
    sources:
      - synthetic: {seed: 1}
        network_passphrase: "Ducklake Synthetic Network ; 2025"
        start_ledger: 2
"#;

pub(crate) fn sample(name: &str) -> DuckLakeIngestion {
    let path = format!("{}/../crds/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    resource(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn container(sts: &StatefulSet) -> &k8s_openapi::api::core::v1::Container {
    &sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0]
}

#[test]
fn minimal_resource_gets_a_ducklake_on_its_volume() {
    let d = desired(&resource(MINIMAL), &Defaults::default()).unwrap();
    let c = &d.config.config;
    assert_eq!(c.ducklake.catalog_path, "ducklake:duckdb:/data/catalog.ducklake");
    assert_eq!(c.ducklake.data_path.as_deref(), Some("/data/lake/"));
    assert_eq!(c.ducklake.extension_directory.as_deref(), Some(EXTENSION_DIR));
    assert_eq!(c.logging.format, Some(ducklake_config::LogFormat::Json));
    assert_eq!(d.config.query_port, 8080);
    assert_eq!(d.config.hash.len(), 16);
    assert!(d.service_monitor.is_none());
    // The ConfigMap carries exactly the rendered file.
    let data = d.config_map.data.as_ref().unwrap();
    assert_eq!(data[CONFIG_FILE], d.config.yaml);
    assert_eq!(d.config_map.metadata.name.as_deref(), Some("demo-config"));
    // No container memory limit: DuckDB keeps its own default.
    assert_eq!(c.ducklake.memory_limit, None);
}

#[test]
fn duckdb_gets_half_the_containers_memory_unless_the_spec_says() {
    let yaml = format!("{MINIMAL}  resources: {{limits: {{memory: 6Gi}}}}\n");
    let d = desired(&resource(&yaml), &Defaults::default()).unwrap();
    assert_eq!(d.config.config.ducklake.memory_limit.as_deref(), Some("3072MiB"));
    assert!(d.config.yaml.contains("memory_limit: 3072MiB"), "{}", d.config.yaml);
    let yaml = format!(
        "{MINIMAL}    ducklake: {{catalog_path: /data/x.duckdb, memory_limit: 700MB}}\n  resources: {{limits: {{memory: 4Gi}}}}\n"
    );
    let d = desired(&resource(&yaml), &Defaults::default()).unwrap();
    assert_eq!(d.config.config.ducklake.memory_limit.as_deref(), Some("700MB"));
}

#[test]
fn children_are_owned_and_labelled() {
    let d = desired(&resource(MINIMAL), &Defaults::default()).unwrap();
    for meta in [&d.config_map.metadata, &d.service.metadata, &d.stateful_set.metadata] {
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "DuckLakeIngestion");
        assert_eq!(owner.uid, "uid-1");
        assert_eq!(owner.controller, Some(true));
        assert_eq!(meta.namespace.as_deref(), Some("ns"));
        assert_eq!(meta.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"], FIELD_MANAGER);
    }
}

#[test]
fn statefulset_runs_one_hardened_pod_on_a_volume() {
    let cr = resource(MINIMAL);
    let d = desired(&cr, &Defaults { ingester_image: "img:1".into() }).unwrap();
    let spec = d.stateful_set.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    // Governed by the headless Service, so the pod has a DNS name.
    assert_eq!(spec.service_name.as_deref(), Some("demo-headless"));
    let headless = d.headless_service.spec.as_ref().unwrap();
    assert_eq!(d.headless_service.metadata.name.as_deref(), Some("demo-headless"));
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(headless.publish_not_ready_addresses, Some(true));
    assert_eq!(headless.selector, d.service.spec.as_ref().unwrap().selector);
    let retention = spec.persistent_volume_claim_retention_policy.as_ref().unwrap();
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
    let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
    let requests = claim.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["storage"].0, "10Gi");

    let pod = spec.template.spec.as_ref().unwrap();
    let annotations = spec.template.metadata.as_ref().unwrap().annotations.as_ref().unwrap();
    assert_eq!(annotations[CONFIG_HASH_ANNOTATION], d.config.hash);
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert!(pod.termination_grace_period_seconds.unwrap() >= 60 + 30, "commit interval + a minute");

    let c = container(&d.stateful_set);
    assert_eq!(c.image.as_deref(), Some("img:1"));
    assert_eq!(c.args.as_ref().unwrap().join(" "), "run --config /etc/ducklake/config.yaml --keep-serving");
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.as_ref().unwrap().drop.as_ref().unwrap(), &vec!["ALL".to_string()]);
    for probe in [&c.readiness_probe, &c.liveness_probe, &c.startup_probe] {
        let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(get.path.as_deref(), Some("/health"));
    }
    let mounts: Vec<_> = c.volume_mounts.as_ref().unwrap().iter().map(|m| m.mount_path.as_str()).collect();
    assert_eq!(mounts, ["/data", "/etc/ducklake", "/tmp"]);
}

#[test]
fn suspend_scales_to_zero_and_keeps_the_volume() {
    let mut cr = resource(MINIMAL);
    cr.spec.suspend = true;
    let d = desired(&cr, &Defaults::default()).unwrap();
    let spec = d.stateful_set.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(0));
    assert!(spec.volume_claim_templates.is_some());
}

#[test]
fn a_config_change_changes_the_pod_template_hash() {
    let a = desired(&resource(MINIMAL), &Defaults::default()).unwrap();
    let mut cr = resource(MINIMAL);
    cr.spec.config.sources[0].start_ledger = 3;
    let b = desired(&cr, &Defaults::default()).unwrap();
    assert_ne!(a.config.hash, b.config.hash);
    let hash = |d: &Desired| {
        d.stateful_set.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().annotations.as_ref().unwrap()
            [CONFIG_HASH_ANNOTATION]
            .clone()
    };
    assert_eq!(hash(&b), b.config.hash);
    // Pod-level settings that are not configuration leave the hash alone.
    let mut cr = resource(MINIMAL);
    cr.spec.storage.size = k8s_openapi::apimachinery::pkg::api::resource::Quantity("20Gi".into());
    assert_eq!(desired(&cr, &Defaults::default()).unwrap().config.hash, a.config.hash);
}

#[test]
fn full_sample_maps_every_pod_setting() {
    let cr = sample("pubnet-aws.yaml");
    let d = desired(&cr, &Defaults::default()).unwrap();
    let pod = d.stateful_set.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let c = container(&d.stateful_set);
    let env = c.env.as_ref().unwrap();
    assert!(env.iter().any(|e| e.name == "QUERY_TOKEN" && e.value_from.is_some()));
    assert_eq!(c.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"].0, "6Gi");
    assert_eq!(d.config.config.ducklake.memory_limit.as_deref(), Some("3GB"), "the spec's own memory_limit");
    let claim = &d.stateful_set.spec.as_ref().unwrap().volume_claim_templates.as_ref().unwrap()[0];
    assert_eq!(claim.spec.as_ref().unwrap().storage_class_name.as_deref(), Some("standard"));
    assert!(pod.node_selector.is_none());
    // The token stays a reference in the ConfigMap; its value never lands there.
    assert!(d.config.yaml.contains("auth_token: ${QUERY_TOKEN}"), "{}", d.config.yaml);

    let sm = d.service_monitor.as_ref().expect("serviceMonitor.enabled");
    assert_eq!(sm.metadata.labels.as_ref().unwrap()["release"], "prometheus");
    assert_eq!(sm.spec.endpoints[0].port, "http");
    assert_eq!(sm.spec.endpoints[0].path, "/metrics");
    assert_eq!(sm.spec.endpoints[0].interval.as_deref(), Some("30s"));
    assert_eq!(sm.spec.selector.match_labels, Some(selector_labels("pubnet")));
    // It selects the API Service and not the headless one, which selects
    // the same pod: scraping both would count every metric twice.
    let selects = |svc: &k8s_openapi::api::core::v1::Service| {
        let labels = svc.metadata.labels.clone().unwrap_or_default();
        let sel = &sm.spec.selector;
        sel.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v))
            && sel.match_expressions.iter().flatten().all(|e| match e.operator.as_str() {
                "DoesNotExist" => !labels.contains_key(&e.key),
                other => panic!("unexpected operator {other}"),
            })
    };
    assert!(selects(&d.service), "the ServiceMonitor selects the API Service");
    assert!(!selects(&d.headless_service), "the ServiceMonitor leaves out the headless Service");
    assert_eq!(ServiceMonitor::api_version(&()), "monitoring.coreos.com/v1");

    let cr = sample("testnet-grpc-postgres.yaml");
    let d = desired(&cr, &Defaults::default()).unwrap();
    let pod = d.stateful_set.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(pod.tolerations.as_ref().unwrap()[0].key.as_deref(), Some("dedicated"));
    assert_eq!(pod.node_selector.as_ref().unwrap()["kubernetes.io/os"], "linux");
    assert_eq!(container(&d.stateful_set).env_from.as_ref().unwrap().len(), 2);
}

#[test]
fn separate_metrics_port_is_exposed_and_scraped() {
    let mut cr = resource(MINIMAL);
    cr.spec.config.metrics = Some(ducklake_config::MetricsConfig {
        enabled: true,
        address: ducklake_config::ListenAddr::Address(":9100".into()),
    });
    cr.spec.service_monitor.enabled = true;
    let d = desired(&cr, &Defaults::default()).unwrap();
    let ports: Vec<_> = d
        .service
        .spec
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.name.clone().unwrap(), p.port))
        .collect();
    assert_eq!(ports, [("http".to_string(), 8080), ("metrics".to_string(), 9100)]);
    assert_eq!(d.service_monitor.unwrap().spec.endpoints[0].port, "metrics");
}

#[test]
fn invalid_specs_are_refused_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        ("ducklake: {catalog_path: /var/lib/x.duckdb}", "spec.config.ducklake.catalog_path"),
        (
            "ducklake: {catalog_path: 'ducklake:duckdb:/data/c.ducklake', data_path: /srv/lake/}",
            "spec.config.ducklake.data_path",
        ),
        ("query_api: {enabled: false}", "spec.config.query_api.enabled"),
        ("query_api: {port: '127.0.0.1:8080'}", "spec.config.query_api.port"),
        ("ducklake: {catalog_path: 'ducklake:sqlite:/data/x'}", "spec.config.ducklake.catalog_path"),
        ("ducklake: {catalog_path: /data/x.duckdb, batch_size: 0}", "spec.config.ducklake.batch_size"),
    ];
    for (extra, key) in cases {
        let yaml = format!("{MINIMAL}    {}\n", extra);
        let err = desired(&resource(&yaml), &Defaults::default()).expect_err(extra);
        assert!(err.problems.iter().any(|p| p.key == *key), "{extra}: {err}");
    }
    let mut cr = resource(MINIMAL);
    cr.spec.config.sources[0].network_passphrase = String::new();
    let err = desired(&cr, &Defaults::default()).unwrap_err();
    assert!(err.to_string().contains("spec.config.sources[0].network_passphrase"), "{err}");
}

#[test]
fn immutable_changes_are_detected_and_kept() {
    let live = desired(&resource(MINIMAL), &Defaults::default()).unwrap().stateful_set;
    let mut cr = resource(MINIMAL);
    cr.spec.storage.size = k8s_openapi::apimachinery::pkg::api::resource::Quantity("50Gi".into());
    cr.spec.suspend = true;
    let mut want = desired(&cr, &Defaults::default()).unwrap().stateful_set;
    assert_eq!(immutable_changes(&live, &want), ["storage.size 10Gi -> 50Gi"]);
    keep_immutable(&mut want, &live);
    assert!(immutable_changes(&live, &want).is_empty());
    // The rest of the change still applies.
    assert_eq!(want.spec.as_ref().unwrap().replicas, Some(0));
    assert!(immutable_changes(&live, &live).is_empty());
}

#[test]
fn storage_sizes_compare_by_bytes() {
    assert_eq!(quantity_bytes("1Gi"), quantity_bytes("1024Mi"));
    assert_eq!(quantity_bytes("1.5Gi"), quantity_bytes("1536Mi"));
    assert_eq!(quantity_bytes("2G"), quantity_bytes("2e9"));
    assert_ne!(quantity_bytes("10Gi"), quantity_bytes("10G"));
    assert_eq!(quantity_bytes("lots"), None);
    let live = desired(&resource(MINIMAL), &Defaults::default()).unwrap().stateful_set;
    let mut cr = resource(MINIMAL);
    cr.spec.storage.size = k8s_openapi::apimachinery::pkg::api::resource::Quantity("10240Mi".into());
    let want = desired(&cr, &Defaults::default()).unwrap().stateful_set;
    assert!(immutable_changes(&live, &want).is_empty(), "the same size in another unit");
}

#[test]
fn service_monitor_labels_cannot_replace_the_operators() {
    let mut cr = resource(MINIMAL);
    cr.spec.service_monitor.enabled = true;
    cr.spec.service_monitor.labels = [
        ("release".to_string(), "prom".to_string()),
        ("app.kubernetes.io/managed-by".to_string(), "someone-else".to_string()),
    ]
    .into();
    let sm = desired(&cr, &Defaults::default()).unwrap().service_monitor.unwrap();
    let labels = sm.metadata.labels.unwrap();
    assert_eq!(labels["release"], "prom");
    assert_eq!(labels["app.kubernetes.io/managed-by"], FIELD_MANAGER);
}

#[test]
fn a_name_that_cannot_name_the_children_is_refused() {
    let mut cr = resource(MINIMAL);
    cr.metadata.name = Some("pub.net".into());
    let err = desired(&cr, &Defaults::default()).unwrap_err().to_string();
    assert!(err.contains("metadata.name: metadata.name must be a DNS-1035 label"), "{err}");
}

#[test]
fn a_set_governed_by_the_old_service_is_kept_as_it_is() {
    let cr = resource(MINIMAL);
    let mut live = desired(&cr, &Defaults::default()).unwrap().stateful_set;
    live.spec.as_mut().unwrap().service_name = Some("demo".into());
    let mut want = desired(&cr, &Defaults::default()).unwrap().stateful_set;
    assert!(immutable_changes(&live, &want).is_empty(), "not the user's change");
    keep_immutable(&mut want, &live);
    assert_eq!(want.spec.unwrap().service_name.as_deref(), Some("demo"));
}
