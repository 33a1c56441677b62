//! The operator's offline commands, run as binaries: `render` of the sample
//! resources yields objects that pass the Kubernetes schemas (strict), and
//! the ingester configuration in each ConfigMap passes the ingester's own
//! `check-config`; `crd` prints a valid CustomResourceDefinition.

use std::path::{Path, PathBuf};
use std::process::Command;

use ducklake_tests::moto::Moto;
use ducklake_tests::{binary, describe};

const PUBNET_LAKE: &str = "derived/datalake-pubnet-lpf1-fpp64000";

/// Stops moto when the check is done.
struct MotoGuard(Moto);

impl Drop for MotoGuard {
    fn drop(&mut self) {
        self.0.kill();
    }
}

fn operator(args: &[&str]) -> std::process::Output {
    Command::new(binary("ducklake-operator")).args(args).output().expect("spawn ducklake-operator")
}

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/samples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected the sample resources in {}", dir.display());
    files
}

#[test]
fn rendered_samples_pass_the_kubernetes_schemas_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    // The image bakes the extensions at /opt/duckdb/extensions; here any directory stands in.
    let extensions = dir.path().join("extensions");
    std::fs::create_dir(&extensions).unwrap();
    for sample in samples() {
        let name = sample.file_stem().unwrap().to_string_lossy().to_string();
        let out = operator(&["render", "-f", sample.to_str().unwrap()]);
        assert!(out.status.success(), "render {name}: {}", describe(&out));
        let yaml = String::from_utf8(out.stdout).unwrap();
        let docs = ducklake_tests::yaml_documents(&yaml);
        let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
        assert!(kinds.starts_with(&["ConfigMap", "Service", "StatefulSet"]), "{name}: {kinds:?}");

        // ServiceMonitor is not a Kubernetes type; its fields are pinned by the builder tests.
        let core: Vec<_> = docs.iter().filter(|d| d["kind"] != "ServiceMonitor").collect();
        assert_eq!(core.len(), 3, "{name}: {kinds:?}");
        if ducklake_tests::kubernetes_validate(&core, &name).is_some() {
            println!("{name}: ConfigMap, Service, StatefulSet pass kubernetes-validate --strict (1.33)");
        }

        // The ConfigMap's file, as the pod reads it, passes the ingester's check-config.
        let config = docs[0]["data"]["config.yaml"].as_str().expect("config.yaml in the ConfigMap");
        let config = config.replace("/opt/duckdb/extensions", extensions.to_str().unwrap());
        let file = dir.path().join(format!("{name}-config.yaml"));
        std::fs::write(&file, &config).unwrap();
        let mut check = Command::new(ducklake_tests::ingester());
        check.args(["check-config", file.to_str().unwrap()]).env("QUERY_TOKEN", "t0ken");
        // check-config reads the data lake's manifest: serve the public AWS
        // lake's path from moto with the pubnet fixture lake (no internet here).
        let _moto = if config.contains("s3://aws-public-blockchain/") {
            let Some(fixtures) = ducklake_tests::fixtures() else { continue };
            let Some(moto) = Moto::start() else { continue };
            moto.s3(&["mb", "aws-public-blockchain", "public"]);
            moto.upload_lake("aws-public-blockchain", "v1.1/stellar/ledgers/pubnet", &fixtures.join(PUBNET_LAKE), true);
            check.env("AWS_ENDPOINT_URL", &moto.endpoint);
            Some(MotoGuard(moto))
        } else {
            None
        };
        let out = check.output().unwrap();
        assert!(out.status.success(), "check-config of {name}'s ConfigMap: {}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid"));
    }
}

#[test]
fn crd_command_prints_the_committed_and_valid_crd() {
    let out = operator(&["crd"]);
    assert!(out.status.success(), "{}", describe(&out));
    let committed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/ducklakeingestion.yaml")).unwrap();
    assert!(out.stdout == committed, "`ducklake-operator crd` differs from crds/ducklakeingestion.yaml");
    let crd = ducklake_tests::yaml_documents(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(crd.len(), 1);
    ducklake_tests::kubernetes_validate(&[&crd[0]], "crd");
}

#[test]
fn render_refuses_an_invalid_resource_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: ingest.ducklake.dev/v1alpha1\nkind: DuckLakeIngestion\nmetadata: {name: bad}\nspec:\n  config:\n    sources:\n      - synthetic: {}\n        network_passphrase: \"Ducklake Synthetic Network ; 2025\"\n        start_ledger: 2\n    ducklake: {catalog_path: /srv/x.duckdb, batch_size: 0}\n",
    )
    .unwrap();
    let out = operator(&["render", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.config.ducklake.catalog_path") && err.contains("spec.config.ducklake.batch_size"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing is printed for an invalid resource");

    std::fs::write(&file, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").unwrap();
    let out = operator(&["render", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected DuckLakeIngestion"), "{}", describe(&out));
}

/// `tests/python/validate_cr.py` over `files`: per document, the errors the
/// API server's schema and CEL rules would give. `None` (with a notice) when
/// jsonschema or cel-python is not installed.
fn schema_errors(files: &[PathBuf]) -> Option<Vec<(String, Vec<String>)>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let probe = Command::new("python3").args(["-c", "import celpy, jsonschema, yaml"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "NOTICE: cel-python or jsonschema is not installed (pip install cel-python jsonschema); skipping CRD schema checks"
        );
        return None;
    }
    let out = Command::new("python3")
        .arg(root.join("python/validate_cr.py"))
        .arg(root.join("../crds/ducklakeingestion.yaml"))
        .args(files)
        .output()
        .expect("run validate_cr.py");
    assert!(out.status.success(), "validate_cr.py: {}", describe(&out));
    let lines = String::from_utf8(out.stdout).unwrap();
    Some(
        lines
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let errors = v["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect();
                (v["name"].as_str().unwrap().to_string(), errors)
            })
            .collect(),
    )
}

#[test]
fn samples_satisfy_the_crd_schema_and_its_cel_rules() {
    let Some(results) = schema_errors(&samples()) else { return };
    assert_eq!(results.len(), samples().len());
    for (name, errors) in results {
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn the_crd_refuses_bad_resources_with_clear_messages() {
    let base = |name: &str, config: &str, extra: &str| {
        format!(
            "---\napiVersion: ingest.ducklake.dev/v1alpha1\nkind: DuckLakeIngestion\nmetadata: {{name: {name}}}\nspec:\n  config:\n{config}{extra}"
        )
    };
    let source = |start: u32, end: u32| {
        format!(
            "      - synthetic: {{}}\n        network_passphrase: x\n        start_ledger: {start}\n        end_ledger: {end}\n"
        )
    };
    // One valid source: the cases below break one thing each.
    let ok = format!("    sources:\n{}", source(2, 0));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "range",
            base("range", &format!("    sources:\n{}", source(100, 50)), ""),
            "end_ledger must be 0 (run forever) or at least start_ledger",
        ),
        (
            "both",
            base("both", &format!("    sources:\n{}    source: {{network_passphrase: x}}\n", source(2, 0)), ""),
            "give either `sources` or `source`, not both",
        ),
        ("none", base("none", "    era: {era_id: e}\n", ""), "config needs `sources`"),
        (
            "retention",
            base("retention", &ok, "  storage: {retention: Keep}\n"),
            "'Keep' is not one of ['Retain', 'Delete']",
        ),
        ("stall", base("stall", &ok, "  selfHealing: {stallSeconds: 5}\n"), "5 is less than the minimum of 30"),
        ("interval", base("interval", &ok, "  serviceMonitor: {interval: soon}\n"), "does not match"),
        (
            "mode",
            base("mode", "    sources:\n      - mode: ftp\n        network_passphrase: x\n", ""),
            "'ftp' is not one of",
        ),
        ("many", base("many", &format!("    sources:\n{}", source(2, 0).repeat(17)), ""), "is too long"),
        (
            "type",
            base(
                "type",
                &format!(
                    "    sources:\n{}    ducklake: {{catalog_path: /data/x.duckdb, batch_size: many}}\n",
                    source(2, 0)
                ),
                "",
            ),
            "'many' is not of type 'integer'",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, cases.iter().map(|c| c.1.clone()).collect::<String>()).unwrap();
    let Some(results) = schema_errors(&[file]) else { return };
    assert_eq!(results.len(), cases.len());
    for ((name, errors), (case, _, expected)) in results.iter().zip(&cases) {
        assert_eq!(name, case);
        assert!(errors.iter().any(|e| e.contains(expected)), "{case}: expected {expected:?} in {errors:?}");
        println!("{case}: {}", errors.join("; "));
    }
}

/// `run` against an API server that does not answer fails with a message
/// naming what to check, instead of panicking (TLS backend, client setup).
#[test]
fn run_without_a_reachable_cluster_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: \"https://127.0.0.1:1\"}\n  name: c\n\
         contexts:\n- context: {cluster: c, user: u}\n  name: x\ncurrent-context: x\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let out = Command::new(binary("ducklake-operator"))
        .args(["run", "--listen", "127.0.0.1:0", "--log-format", "text"])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("cannot list DuckLakeIngestion resources"), "{err}");
}
