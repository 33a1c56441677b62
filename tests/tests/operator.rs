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
        assert!(kinds.starts_with(&["ConfigMap", "Service", "Service", "StatefulSet"]), "{name}: {kinds:?}");

        // ServiceMonitor is not a Kubernetes type; its fields are pinned by the builder tests.
        let core: Vec<_> = docs.iter().filter(|d| d["kind"] != "ServiceMonitor").collect();
        assert_eq!(core.len(), 4, "{name}: {kinds:?}");
        if ducklake_tests::kubernetes_validate(&core, &name).is_some() {
            println!("{name}: ConfigMap, Services, StatefulSet pass kubernetes-validate --strict (1.33)");
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
    let results = schema_results(files)?;
    Some(
        results
            .iter()
            .map(|v| {
                let errors = v["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect();
                (v["name"].as_str().unwrap().to_string(), errors)
            })
            .collect(),
    )
}

/// The JSON lines of `validate_cr.py` (`name`, `errors`, `stored`).
fn schema_results(files: &[PathBuf]) -> Option<Vec<serde_json::Value>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let probe = Command::new("python3").args(["-c", "import celpy, jsonschema, yaml"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        ducklake_tests::missing_tool(
            "cel-python or jsonschema is not installed (pip install cel-python jsonschema); skipping CRD schema checks",
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
    Some(lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

#[test]
fn samples_satisfy_the_crd_schema_and_its_cel_rules() {
    let Some(results) = schema_errors(&samples()) else { return };
    assert_eq!(results.len(), samples().len());
    for (name, errors) in results {
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

/// 53 characters: one too many for the pod labels the StatefulSet adds.
const LONG_NAME: &str = "a-name-of-fifty-three-characters-is-one-too-long-xxxx";

#[test]
fn the_crd_refuses_bad_resources_with_clear_messages() {
    assert_eq!(LONG_NAME.len(), 53);
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
        ("port", base("port", &format!("{ok}    query_api: {{port: 70000}}\n"), ""), "a port number is 0-65535"),
        ("pub.net", base("pub.net", &ok, ""), "must be a DNS-1035 label of at most 52 characters"),
        ("1pubnet", base("1pubnet", &ok, ""), "must be a DNS-1035 label"),
        (LONG_NAME, base(LONG_NAME, &ok, ""), "of at most 52 characters"),
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

/// Keys of `spec` holding Kubernetes' own types (validated by Kubernetes'
/// schemas, passed through unchanged) and the legacy single `source`,
/// which the CEL rules refuse beside `sources`.
const PASS_THROUGH: &[&str] =
    &["affinity", "tolerations", "nodeSelector", "env", "envFrom", "resources", "imagePullSecrets", "source"];

/// A bound as the schema's type: the CRD writes `minimum: 0.0`, but an
/// integer key holds `0` (as a client sends it).
fn integral(schema: &serde_json::Value, bound: &serde_json::Value) -> serde_json::Value {
    match (schema["type"].as_str(), bound.as_f64()) {
        (Some("integer"), Some(f)) if bound.is_f64() => serde_json::json!(f as i64),
        _ => bound.clone(),
    }
}

/// A value for `key` that a pod can run with (paths on the volume, a
/// well-formed endpoint), else [`filler`].
fn filler_for(key: &str, schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    match key {
        "catalog_path" => json!("ducklake:duckdb:/data/catalog.ducklake"),
        "path" => json!("/data/lake"),
        "endpoint" => json!("http://ledgers:50051"),
        _ => filler(schema),
    }
}

/// A value of the type `schema` asks for, to fill a required key.
fn filler(schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("string") => json!("x"),
        Some("integer") | Some("number") => schema.get("minimum").map_or(json!(1), |m| integral(schema, m)),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => {
            let mut o = serde_json::Map::new();
            for key in schema["required"].as_array().into_iter().flatten().filter_map(|k| k.as_str()) {
                o.insert(key.to_string(), filler_for(key, &schema["properties"][key]));
            }
            serde_json::Value::Object(o)
        }
        _ => json!(1),
    }
}

/// Every edge value of the schema below `path`: each enum value, each
/// minimum and maximum, 0 and 65535 for an int-or-string port, and null for
/// every optional key (which the API server keeps or prunes).
fn edges(schema: &serde_json::Value, path: &[String], out: &mut Vec<(Vec<String>, serde_json::Value)>) {
    use serde_json::json;
    let mut push = |v: serde_json::Value| out.push((path.to_vec(), v));
    if let Some(values) = schema["enum"].as_array() {
        values.iter().cloned().for_each(&mut push);
    }
    for bound in ["minimum", "maximum"] {
        if let Some(b) = schema.get(bound) {
            push(integral(schema, b));
        }
    }
    if schema["x-kubernetes-int-or-string"] == json!(true) {
        push(json!(0));
        push(json!(65535));
        push(json!("127.0.0.1:9000"));
    }
    if let Some(props) = schema["properties"].as_object() {
        let required: Vec<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).collect();
        for (key, child) in props {
            if path.len() == 1 && PASS_THROUGH.contains(&key.as_str()) {
                continue;
            }
            let mut p = path.to_vec();
            p.push(key.clone());
            if !required.contains(&key.as_str()) {
                out.push((p.clone(), serde_json::Value::Null));
            }
            edges(child, &p, out);
        }
    }
    if schema["type"] == json!("array") {
        let mut p = path.to_vec();
        p.push("0".to_string());
        edges(&schema["items"], &p, out);
    }
}

/// Sets `value` at `path` in `doc`, creating what is missing with the
/// schema's required keys filled.
fn set_path(doc: &mut serde_json::Value, schema: &serde_json::Value, path: &[String], value: serde_json::Value) {
    let (Some(key), rest) = (path.first(), &path[1.min(path.len())..]) else {
        *doc = value;
        return;
    };
    if let Ok(i) = key.parse::<usize>() {
        if !doc.is_array() {
            *doc = serde_json::json!([]);
        }
        let items = doc.as_array_mut().unwrap();
        if items.len() <= i {
            items.push(filler(&schema["items"]));
        }
        set_path(&mut items[i], &schema["items"], rest, value);
    } else {
        if !doc.is_object() {
            *doc = filler(schema);
        }
        let child_schema = &schema["properties"][key.as_str()];
        let map = doc.as_object_mut().unwrap();
        let child = map.entry(key.clone()).or_insert_with(|| filler_for(key, child_schema));
        set_path(child, child_schema, rest, value);
    }
}

/// Resources at the edges of the CRD's schema: each one the API server would
/// store, the operator reads (never a deserialization error), and renders
/// either into objects that pass Kubernetes' schemas strictly or into a
/// refusal naming the key at fault.
#[test]
fn resources_at_the_schema_bounds_are_read_and_render_valid_objects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let crd =
        ducklake_tests::yaml_documents(&std::fs::read_to_string(root.join("../crds/ducklakeingestion.yaml")).unwrap())
            .remove(0);
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let base = serde_json::json!({
        "apiVersion": "ingest.ducklake.dev/v1alpha1", "kind": "DuckLakeIngestion", "metadata": {"name": "bounds"},
        "spec": {"config": {"sources": [{"synthetic": {}, "network_passphrase": "Ducklake Synthetic Network ; 2025", "start_ledger": 2}]}},
    });
    let mut variants = Vec::new();
    edges(&schema["properties"]["spec"], &["spec".to_string()], &mut variants);
    assert!(variants.len() > 100, "only {} edge values found", variants.len());
    let docs: Vec<serde_json::Value> = variants
        .iter()
        .enumerate()
        .map(|(i, (path, value))| {
            let mut doc = base.clone();
            // A datastore or gRPC edge replaces the synthetic source.
            if path.len() > 4 && ["datastore", "grpc"].contains(&path[4].as_str()) {
                doc["spec"]["config"]["sources"][0].as_object_mut().unwrap().remove("synthetic");
            }
            set_path(&mut doc, schema, path, value.clone());
            doc["metadata"]["name"] = serde_json::json!(format!("bounds-{i}"));
            doc
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bounds.yaml");
    let text: String = docs.iter().map(|d| format!("---\n{}", serde_yaml_ng::to_string(d).unwrap())).collect();
    std::fs::write(&file, text).unwrap();
    let Some(results) = schema_results(&[file]) else { return };
    assert_eq!(results.len(), docs.len());

    let (mut stored, mut rendered, mut refused) = (0, 0, 0);
    let mut objects = Vec::new();
    for ((path, value), result) in variants.iter().zip(&results) {
        if !result["errors"].as_array().unwrap().is_empty() {
            continue; // the API server refuses it: never stored, never read
        }
        stored += 1;
        let what = format!("{} = {value}", path.join("."));
        let one = dir.path().join("one.yaml");
        std::fs::write(&one, serde_yaml_ng::to_string(&result["stored"]).unwrap()).unwrap();
        let out = operator(&["render", "-f", one.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("document 1"), "{what}: stored by the API server but unreadable: {stderr}");
        if out.status.success() {
            rendered += 1;
            let yaml = String::from_utf8(out.stdout).unwrap();
            objects.extend(ducklake_tests::yaml_documents(&yaml).into_iter().filter(|d| d["kind"] != "ServiceMonitor"));
        } else {
            assert!(stderr.contains("spec."), "{what}: refused without naming the key: {stderr}");
            if std::env::var_os("BOUNDS_VERBOSE").is_some() {
                println!("refused {what}: {}", stderr.trim());
            }
            refused += 1;
        }
    }
    let refs: Vec<_> = objects.iter().collect();
    ducklake_tests::kubernetes_validate(&refs, "bounds");
    println!(
        "schema bounds: {} edge values, {stored} stored by the API server, {rendered} rendered into {} objects \
         passing kubernetes-validate --strict, {refused} refused naming the key",
        variants.len(),
        objects.len()
    );
    assert!(rendered > stored / 2, "most stored edge values should render: {rendered} of {stored}");
}
