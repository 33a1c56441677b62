//! The README's first command: `ducklake-ingester demo` ingests a synthetic
//! network live, and every example query it prints returns rows over HTTP.
//! A rerun resumes the same chain from the catalog.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ducklake_tests::{free_port, http, ingester, wait_exit};

fn post(addr: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(addr, "POST", "/query", body);
    (status, serde_json::from_str(&body).unwrap_or_default())
}

fn start_demo(dir: &std::path::Path, port: u16) -> (Child, Vec<String>) {
    let mut child = Command::new(ingester())
        .args(["demo", "--dir", dir.to_str().unwrap(), "--port", &port.to_string(), "--ledger-interval", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The banner ends with the Ctrl-C hint; collect the curl bodies before it.
    let mut bodies = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in out.by_ref() {
        let line = line.unwrap();
        if let Some((_, body)) = line.split_once(" -d '") {
            bodies.push(body.trim_end_matches('\'').replace("'\\''", "'"));
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    (child, bodies)
}

fn stop(mut child: Child) -> String {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert_eq!(code, 0, "{log}");
    log
}

#[test]
fn the_demo_ingests_live_and_its_example_queries_return_rows() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (mut child, bodies) = start_demo(dir.path(), port);
    assert_eq!(bodies.len(), 4, "the demo prints four example queries");

    let deadline = Instant::now() + Duration::from_secs(240);
    for body in &bodies {
        loop {
            let answer = TcpStream::connect(&addr).ok().map(|_| post(&addr, body));
            if let Some((status, v)) = &answer {
                assert!(*status == 200 || *status == 400 && v["code"] == "invalid_sql", "{body}: {v}");
                if *status == 200 && v["row_count"].as_u64().unwrap_or(0) > 0 {
                    println!("demo query returned {} rows: {body}", v["row_count"]);
                    break;
                }
            }
            if answer.is_none()
                && let Some(status) = child.try_wait().unwrap()
            {
                let mut log = String::new();
                child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
                panic!("the demo exited ({status}) before answering:\n{log}");
            }
            // Before the first commit the tables may not exist or be empty.
            assert!(Instant::now() < deadline, "{body}: no rows within 240 s (last answer {answer:?})");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let (_, v) = post(&addr, r#"{"sql": "SELECT max(sequence) FROM synthnet.ledgers_row_v2"}"#);
    let first_run_max = v["rows"][0][0].as_i64().unwrap();
    stop(child);

    // A rerun resumes the same chain: the hashes still link. The synthetic
    // source first regenerates the committed ledgers (unpaced; slow in a
    // debug build on a busy machine), hence the generous bound.
    let (child, _) = start_demo(dir.path(), port);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        // The API comes back once the catalog is open again.
        let answer = TcpStream::connect(&addr)
            .ok()
            .map(|_| post(&addr, r#"{"sql": "SELECT max(sequence) FROM synthnet.ledgers_row_v2"}"#));
        let v = answer.map(|(_, v)| v).unwrap_or_default();
        if v["rows"][0][0].as_i64().unwrap_or(0) > first_run_max + 10 {
            break;
        }
        assert!(Instant::now() < deadline, "the rerun did not commit new ledgers: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = stop(child);
    assert!(log.contains("resuming from the catalog"), "{log}");

    // With the extensions installed the demo writes a DuckLake, which the
    // stock client reads too.
    if dir.path().join("demo.ducklake").exists()
        && let Some(extensions) = ducklake_tests::extension_dir("the demo's stock-client read")
    {
        let spec = ducklake_tests::lake::LakeSpec {
            catalog_path: format!("ducklake:duckdb:{}", dir.path().join("demo.ducklake").display()),
            data_path: format!("{}/", dir.path().join("lake").display()),
            s3: None,
            extensions,
            metadata_schema: None,
        };
        if let Some(py) = spec.python_counts("synthnet") {
            assert!(py["ledgers_row_v2"] as i64 > first_run_max, "{py:?}");
        }
    }
}
