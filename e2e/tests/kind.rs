//! The scenario of `e2e/kind.sh`, against the cluster in the current kube
//! context (the chart installed, `ledger-source` running in `$E2E_NAMESPACE`).
//! Ignored unless asked for: `cargo test -p ducklake-e2e -- --ignored`.
//!
//! Steps: apply a DuckLakeIngestion -> CaughtUp -> query it over in-cluster
//! HTTP and check the row counts -> change its configuration and see the
//! pod roll -> delete children and see them restored -> delete it and check
//! that the volume stays -> `helm uninstall` keeps the CRD.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

fn ns() -> String {
    std::env::var("E2E_NAMESPACE").unwrap_or_else(|_| "e2e".to_string())
}

/// Runs kubectl in the test namespace; panics with its output on failure.
fn kubectl(args: &[&str]) -> String {
    let out = Command::new("kubectl").arg("-n").arg(ns()).args(args).output().expect("kubectl on PATH");
    assert!(
        out.status.success(),
        "kubectl {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn kubectl_ok(args: &[&str]) -> bool {
    Command::new("kubectl").arg("-n").arg(ns()).args(args).output().is_ok_and(|o| o.status.success())
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(&a)).expect("kubectl JSON")
}

/// Polls `check` every 3 s until it returns `Some`, or panics after `within`.
fn wait_for<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            println!("ok: {what}");
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// `POST /query` from a throwaway curl pod, as an in-cluster client would.
fn query(sql: &str) -> Value {
    let body = serde_json::json!({ "sql": sql }).to_string();
    let url = format!("http://e2e.{}.svc:8080/query", ns());
    // A fresh name per call: `kubectl run --rm` does not wait for the deletion.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("q-{}-{n}", std::process::id() % 100_000);
    let out = kubectl(&[
        "run",
        &name,
        "--rm",
        "-i",
        "--restart=Never",
        "--quiet",
        "--image=curlimages/curl:8.11.0",
        "--image-pull-policy=IfNotPresent",
        "--",
        "curl",
        "-sS",
        "--fail-with-body",
        "-H",
        "content-type: application/json",
        "-d",
        &body,
        &url,
    ]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("query answer {out:?}: {e}"))
}

fn phase() -> String {
    json(&["get", "dli", "e2e"])["status"]["phase"].as_str().unwrap_or("").to_string()
}

#[test]
#[ignore = "needs a kind cluster prepared by e2e/kind.sh"]
fn kind_end_to_end() {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/ingestion.yaml");
    kubectl(&["apply", "-f", manifests]);

    // 1. Running and caught up with the live ledger source.
    wait_for("phase CaughtUp", Duration::from_secs(600), || (phase() == "CaughtUp").then_some(()));
    let dli = json(&["get", "dli", "e2e"]);
    let status = &dli["status"];
    assert_eq!(status["endpoint"], format!("http://e2e.{}.svc:8080", ns()));
    let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!(ready["status"], "True");
    let last = status["lastLedger"].as_u64().expect("lastLedger");
    assert!(last > 2, "{status}");

    // 2. Rows over in-cluster HTTP: one row per ledger from start_ledger on.
    let answer = query("SELECT count(*) AS n, min(sequence) AS lo, max(sequence) AS hi FROM synthnet.ledgers_row_v2");
    let row = &answer["rows"][0];
    let (n, lo, hi) = (row[0].as_u64().unwrap(), row[1].as_u64().unwrap(), row[2].as_u64().unwrap());
    assert_eq!(lo, 2, "{answer}");
    assert_eq!(n, hi - lo + 1, "no gap, no duplicate: {answer}");
    assert!(hi >= last, "{answer} vs lastLedger {last}");
    let tx = query("SELECT count(*) FROM synthnet.transactions_row_v2 WHERE ledger_sequence <= 20");
    assert!(tx["rows"][0][0].as_u64().unwrap() > 0, "{tx}");
    println!("ok: {n} ledgers {lo}..{hi} queried in-cluster");

    // 3. A configuration change rolls the pod (new hash) and keeps the data.
    let old_hash = status["configHash"].as_str().unwrap().to_string();
    let old_uid = json(&["get", "pod", "e2e-0"])["metadata"]["uid"].clone();
    kubectl(&["patch", "dli", "e2e", "--type=merge", "-p", r#"{"spec":{"config":{"ducklake":{"batch_size":40}}}}"#]);
    let new_hash = wait_for("a new config hash in the status", Duration::from_secs(120), || {
        let h = json(&["get", "dli", "e2e"])["status"]["configHash"].as_str().unwrap_or("").to_string();
        (h != old_hash).then_some(h)
    });
    wait_for("the pod rolled to the new configuration", Duration::from_secs(300), || {
        // Between the old pod's deletion and the new one's creation there is none.
        let out = kubectl(&["get", "pod", "e2e-0", "--ignore-not-found", "-o", "json"]);
        let pod: Value = serde_json::from_str(&out).ok()?;
        let annotation = &pod["metadata"]["annotations"]["ingest.ducklake.dev/config-hash"];
        let ready =
            pod["status"]["conditions"].as_array()?.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
        (pod["metadata"]["uid"] != old_uid && annotation == new_hash.as_str() && ready).then_some(())
    });
    let cm = json(&["get", "configmap", "e2e-config"]);
    assert!(cm["data"]["config.yaml"].as_str().unwrap().contains("batch_size: 40"));
    wait_for("caught up again after the roll", Duration::from_secs(300), || (phase() == "CaughtUp").then_some(()));
    let after = query("SELECT count(*), min(sequence), max(sequence) FROM synthnet.ledgers_row_v2");
    let r = &after["rows"][0];
    assert_eq!(r[0].as_u64().unwrap(), r[2].as_u64().unwrap() - 1, "still gap-free after the restart: {after}");
    assert!(r[2].as_u64().unwrap() > hi, "{after}");

    // 4. Deleted children come back.
    kubectl(&["delete", "service", "e2e", "--wait=true"]);
    kubectl(&["delete", "configmap", "e2e-config", "--wait=true"]);
    wait_for("service and configmap restored", Duration::from_secs(120), || {
        (kubectl_ok(&["get", "service", "e2e"]) && kubectl_ok(&["get", "configmap", "e2e-config"])).then_some(())
    });

    // 5. Deleting the resource removes its children and keeps the volume (retention: Retain).
    kubectl(&["delete", "dli", "e2e", "--wait=true"]);
    wait_for("children garbage-collected", Duration::from_secs(180), || {
        (!kubectl_ok(&["get", "statefulset", "e2e"]) && !kubectl_ok(&["get", "service", "e2e"])).then_some(())
    });
    let pvc = json(&["get", "pvc", "data-e2e-0"]);
    assert_eq!(pvc["status"]["phase"], "Bound", "the volume stays: {pvc}");

    // 6. Uninstalling the chart keeps the CRD (helm.sh/resource-policy: keep).
    let out = Command::new("helm")
        .args(["uninstall", "ducklake-operator", "-n", "ducklake-system", "--wait"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(kubectl_ok(&["get", "crd", "ducklakeingestions.ingest.ducklake.dev"]), "the CRD is kept on uninstall");
    assert!(!kubectl_ok(&["-n", "ducklake-system", "get", "deploy", "ducklake-operator"]));
    println!("ok: uninstalled; CRD and volume data-e2e-0 remain");
}
