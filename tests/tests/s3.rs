//! The datastore source against a real S3-compatible server: moto
//! (`pip install 'moto[server]'`), started on loopback by each test.
//!
//! * A lake served from S3 gives the same tables as the same lake read from
//!   the local directory (keys from `${VAR}`, and anonymous requests to a
//!   public-read bucket).
//! * A missing bucket or prefix, denied access or an unreachable endpoint is a
//!   configuration error naming the key (exit 2), from `check-config` and `run`.
//! * An object deleted mid-range is a gap error.
//! * The source waits at the lake's tip and picks up new objects; the server
//!   dying mid-run is a clear error after retries, and the committed ledgers
//!   stay intact: a later run completes them to the same tables.
//!
//! Skipped, with a `NOTICE:`, when moto or the fixtures are absent.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ducklake_tests::config::{DatastoreConfig, DatastoreType, DuckLakeConfig, SourceConfig, config, write};
use ducklake_tests::moto::Moto;
use ducklake_tests::{
    PUBNET, TESTNET, describe, ingester, open_catalog, require_fixtures, stderr_lines, table_fingerprint, wait_exit,
    wait_for_line,
};
use ducklake_tests::{Tweak, batch, keep};

const TABLES: &[&str] = &["ledgers_row_v2", "transactions_row_v2", "operations_row_v2"];
const TESTNET_LAKE: &str = "derived/datalake-testnet-lpf64-fpp10";
const PUBNET_LAKE: &str = "derived/datalake-pubnet-lpf1-fpp64000";
const TESTNET_OBJECTS: [&str; 5] = [
    "FFEA7C7F--1409920-1410559/FFEA7BFF--1410048-1410111.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7BBF--1410112-1410175.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7B7F--1410176-1410239.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7B3F--1410240-1410303.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7AFF--1410304-1410367.xdr.zst",
];
/// Access key given to the ingester through `${S3_TEST_SECRET}`; moto accepts any.
const SECRET: &str = "moto-secret";

/// Starts moto and returns it with the fixture folder, or returns from the test.
macro_rules! require_moto {
    () => {{
        let fixtures = require_fixtures!();
        match Moto::start() {
            Some(moto) => (moto, fixtures),
            None => return,
        }
    }};
}

/// One datastore source of a config file.
#[derive(Clone)]
struct Source<'a> {
    datastore: DatastoreConfig,
    passphrase: &'a str,
    start: u32,
    end: u32,
}

/// How a datastore authenticates.
#[derive(Clone, Copy)]
enum Auth {
    /// Keys through `${VAR}` expansion, as a secret would be given.
    Keys,
    Anonymous,
}

/// An S3 datastore on moto.
fn s3_datastore(moto: &Moto, path: &str, auth: Auth) -> DatastoreConfig {
    let mut d = DatastoreConfig {
        store_type: DatastoreType::S3,
        path: path.to_string(),
        endpoint: Some(moto.endpoint.clone()),
        force_path_style: Some(true),
        ..DatastoreConfig::default()
    };
    match auth {
        Auth::Keys => {
            d.access_key_id = Some("test".to_string());
            d.secret_access_key = Some("${S3_TEST_SECRET}".to_string());
        }
        Auth::Anonymous => d.anonymous = true,
    }
    d
}

/// `d` with quick retries, so that failures surface fast.
fn quick(d: DatastoreConfig) -> DatastoreConfig {
    DatastoreConfig { retry_limit: 2, retry_wait_ms: 50, poll_interval_ms: 100, ..d }
}

fn fs_datastore(dir: &Path) -> DatastoreConfig {
    DatastoreConfig {
        store_type: DatastoreType::Fs,
        path: dir.to_str().unwrap().to_string(),
        ..DatastoreConfig::default()
    }
}

fn write_config(dir: &Path, name: &str, sources: &[Source<'_>], catalog: &Path, tweak: Tweak<'_>) -> PathBuf {
    let sources = sources
        .iter()
        .map(|s| SourceConfig {
            datastore: Some(s.datastore.clone()),
            network_passphrase: s.passphrase.to_string(),
            start_ledger: s.start,
            end_ledger: s.end,
            ..SourceConfig::default()
        })
        .collect();
    let mut cfg = config(sources, catalog);
    tweak(&mut cfg.ducklake);
    write(dir, name, &cfg)
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(ingester());
    cmd.args(args).env("RUST_LOG", "info").env("S3_TEST_SECRET", SECRET);
    cmd
}

fn run(config: &Path) -> Output {
    command(&["run", "--config", config.to_str().unwrap()]).output().unwrap()
}

fn check(config: &Path) -> Output {
    command(&["check-config", config.to_str().unwrap()]).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_same_tables(a: &Path, b: &Path, schema: &str) {
    let (a, b) = (open_catalog(a), open_catalog(b));
    for table in TABLES {
        let fa = table_fingerprint(&a, schema, table);
        let fb = table_fingerprint(&b, schema, table);
        assert!(fa.0 > 0, "{schema}.{table} is empty");
        assert_eq!(fa.0, fb.0, "{schema}.{table}: row counts differ");
        assert!(fa == fb, "{schema}.{table}: contents differ");
        eprintln!("s3 test: {schema}.{table}: {} rows identical", fa.0);
    }
}

fn ledgers(catalog: &Path, schema: &str) -> (i64, i64, i64) {
    open_catalog(catalog)
        .query_row(&format!("SELECT count(*), min(sequence), max(sequence) FROM {schema}.ledgers_row_v2"), [], |r| {
            Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0), r.get::<_, Option<i64>>(2)?.unwrap_or(0)))
        })
        .unwrap()
}

#[test]
fn lakes_on_s3_give_the_same_tables_as_local_directories() {
    let (moto, fixtures) = require_moto!();
    let tmp = tempfile::tempdir().unwrap();
    // A private bucket read with keys, and a public-read one read anonymously.
    moto.s3(&["mb", "private"]);
    moto.s3(&["mb", "open", "public"]);
    moto.upload_lake("private", "v1/ledgers/pubnet", &fixtures.join(PUBNET_LAKE), false);
    moto.upload_lake("open", "testnet", &fixtures.join(TESTNET_LAKE), true);

    let s3 = [
        Source {
            datastore: s3_datastore(&moto, "s3://private/v1/ledgers/pubnet", Auth::Keys),
            passphrase: PUBNET,
            start: 63092982,
            end: 63093001,
        },
        // The Go tool's `bucket/prefix` form (its key names are written below).
        Source {
            datastore: DatastoreConfig {
                path: "open/testnet".to_string(),
                force_path_style: None,
                region: Some("us-east-2".to_string()),
                num_workers: 3,
                buffer_size: 2,
                ..s3_datastore(&moto, "", Auth::Anonymous)
            },
            passphrase: TESTNET,
            start: 1410048,
            end: 1410367,
        },
    ];
    let local = [
        Source { datastore: fs_datastore(&fixtures.join(PUBNET_LAKE)), ..s3[0].clone() },
        Source { datastore: fs_datastore(&fixtures.join(TESTNET_LAKE)), ..s3[1].clone() },
    ];
    let s3_catalog = tmp.path().join("s3.duckdb");
    let s3_config = write_config(tmp.path(), "s3.yaml", &s3, &s3_catalog, &batch(50));
    // The second source says `s3_endpoint` and `s3_region`, as the Go tool's files do.
    let text = std::fs::read_to_string(&s3_config).unwrap();
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let go = doc["sources"][1]["datastore"].as_mapping_mut().unwrap();
    for (ours, go_name) in [("endpoint", "s3_endpoint"), ("region", "s3_region")] {
        let value = go.remove(ours).unwrap();
        go.insert(go_name.into(), value);
    }
    std::fs::write(&s3_config, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
    let local_catalog = tmp.path().join("local.duckdb");
    let local_config = write_config(tmp.path(), "local.yaml", &local, &local_catalog, &batch(50));

    let out = check(&s3_config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("datastore s3://private/v1/ledgers/pubnet (1 ledgers/file, 64000 files/partition)"),
        "{summary}"
    );
    assert!(summary.contains("datastore s3://open/testnet (64 ledgers/file, 10 files/partition)"), "{summary}");
    assert!(!s3_catalog.exists(), "check-config writes nothing");

    let t = Instant::now();
    let out = run(&s3_config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    eprintln!("s3 test: 340 ledgers from S3 in {:?}", t.elapsed());
    let out = run(&local_config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    assert_eq!(ledgers(&s3_catalog, "mainnet"), (20, 63092982, 63093001));
    assert_eq!(ledgers(&s3_catalog, "testnet"), (320, 1410048, 1410367));
    assert_same_tables(&s3_catalog, &local_catalog, "mainnet");
    assert_same_tables(&s3_catalog, &local_catalog, "testnet");
}

#[test]
fn bad_buckets_prefixes_and_endpoints_exit_2_naming_the_key() {
    let (moto, fixtures) = require_moto!();
    let tmp = tempfile::tempdir().unwrap();
    moto.s3(&["mb", "private"]);
    moto.upload_lake("private", "testnet", &fixtures.join(TESTNET_LAKE), false);
    let catalog = tmp.path().join("catalogs/never.duckdb");
    let cases = [
        (
            "missing bucket",
            quick(s3_datastore(&moto, "s3://nope/testnet", Auth::Keys)),
            "sources[0].datastore.path: bucket \"nope\" not found",
        ),
        (
            "missing prefix",
            quick(s3_datastore(&moto, "s3://private/testnet-typo", Auth::Keys)),
            "sources[0].datastore.path: no lake at s3://private/testnet-typo: no .config.json and no objects",
        ),
        (
            "anonymous against a private bucket",
            quick(s3_datastore(&moto, "s3://private/testnet", Auth::Anonymous)),
            "sources[0].datastore.path: access denied to s3://private/testnet",
        ),
        (
            "endpoint not a URL",
            DatastoreConfig {
                endpoint: Some("127.0.0.1 9000".into()),
                ..quick(s3_datastore(&moto, "s3://private/testnet", Auth::Keys))
            },
            "sources[0].datastore.endpoint: \"127.0.0.1 9000\" is not a URL",
        ),
        (
            "nothing listening",
            DatastoreConfig {
                endpoint: Some("http://127.0.0.1:9".into()),
                ..quick(s3_datastore(&moto, "s3://private/testnet", Auth::Keys))
            },
            "sources[0].datastore.endpoint: cannot read s3://private/testnet from http://127.0.0.1:9/",
        ),
        (
            "bucket of the wrong type",
            quick(s3_datastore(&moto, "gs://private/testnet", Auth::Keys)),
            "sources[0].datastore.path: \"gs://private/testnet\": a gs:// URL does not fit this type",
        ),
    ];
    for (name, datastore, expected) in cases {
        let source = Source { datastore, passphrase: TESTNET, start: 1410048, end: 1410367 };
        let config = write_config(tmp.path(), "bad.yaml", &[source], &catalog, &keep);
        for (cmd, out) in [("check-config", check(&config)), ("run", run(&config))] {
            assert_eq!(out.status.code(), Some(2), "{name} ({cmd}): {}", describe(&out));
            assert!(stderr(&out).contains(expected), "{name} ({cmd}): expected {expected:?} in\n{}", stderr(&out));
        }
        assert!(!catalog.parent().unwrap().exists(), "{name}: nothing may be written");
        let out = check(&config);
        eprintln!(
            "s3 test: {name}: {}",
            stderr(&out).lines().find(|l| l.contains(expected)).unwrap_or_default().trim()
        );
    }
}

#[test]
fn an_object_deleted_mid_range_is_a_gap() {
    let (moto, fixtures) = require_moto!();
    let tmp = tempfile::tempdir().unwrap();
    moto.s3(&["mb", "lake"]);
    moto.upload_lake("lake", "testnet", &fixtures.join(TESTNET_LAKE), false);
    moto.s3(&["rm", "lake", &format!("testnet/{}", TESTNET_OBJECTS[1])]);
    let catalog = tmp.path().join("c.duckdb");
    let source = Source {
        datastore: quick(s3_datastore(&moto, "s3://lake/testnet", Auth::Keys)),
        passphrase: TESTNET,
        start: 1410048,
        end: 1410367,
    };
    let config = write_config(tmp.path(), "c.yaml", &[source], &catalog, &batch(50));
    let out = run(&config);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "s3://lake/testnet/{}: missing from the lake, but a later object exists",
            TESTNET_OBJECTS[1]
        )),
        "{err}"
    );
    assert_eq!(ledgers(&catalog, "testnet"), (64, 1410048, 1410111), "the ledgers before the gap are committed");
    eprintln!("s3 test: gap: {}", err.lines().find(|l| l.starts_with("error:")).unwrap_or_default());
}

/// Starts the ingester with its stderr lines forwarded to a channel.
fn start(config: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = command(&["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    (child, rx)
}

#[test]
fn waits_at_the_tip_then_fails_clearly_when_the_server_dies() {
    let (mut moto, fixtures) = require_moto!();
    let tmp = tempfile::tempdir().unwrap();
    let lake = fixtures.join(TESTNET_LAKE);
    // The lake's tip is at 1410239: the last two objects are not written yet.
    moto.s3(&["mb", "lake"]);
    moto.upload_lake("lake", "testnet", &lake, false);
    for object in &TESTNET_OBJECTS[3..] {
        moto.s3(&["rm", "lake", &format!("testnet/{object}")]);
    }
    let catalog = tmp.path().join("c.duckdb");
    let source = |moto: &Moto| Source {
        datastore: quick(s3_datastore(moto, "s3://lake/testnet", Auth::Keys)),
        passphrase: TESTNET,
        start: 1410048,
        end: 1410367,
    };
    let ducklake = &|d: &mut DuckLakeConfig| (d.batch_size, d.commit_interval_seconds) = (50, 1);
    let config = write_config(tmp.path(), "c.yaml", &[source(&moto)], &catalog, ducklake);
    let (mut child, rx) = start(&config);
    let mut seen = Vec::new();
    wait_for_line(&rx, "waiting at the lake's tip for the next object", &mut seen);

    // Galexie writes the next object: it is picked up.
    moto.s3(&[
        "put",
        "lake",
        &format!("testnet/{}", TESTNET_OBJECTS[3]),
        lake.join(TESTNET_OBJECTS[3]).to_str().unwrap(),
    ]);
    wait_for_line(&rx, "object arrived", &mut seen);
    wait_for_line(&rx, "committed ledgers", &mut seen);

    // The server dies while the source waits for the last object.
    moto.kill();
    let code = wait_exit(&mut child, Duration::from_secs(60));
    seen.extend(rx.try_iter());
    let log = seen.join("\n");
    assert_eq!(code, 1, "{log}");
    for line in seen.iter().filter(|l| l.starts_with("error:") || l.contains("WARN")) {
        eprintln!("s3 test: after the server died: {line}");
    }
    assert!(log.contains(&format!("error: source testnet: source: s3://lake/testnet/{}", TESTNET_OBJECTS[4])), "{log}");
    // Killed between requests the next connect is refused; killed during a
    // response the body is cut short. Either is a transport error, named.
    assert!(
        [
            "Connection refused",
            "end of file before message length reached",
            "connection reset",
            "error sending request"
        ]
        .iter()
        .any(|m| log.contains(m)),
        "{log}"
    );
    // Everything read before the failure is committed, nothing after it.
    assert_eq!(ledgers(&catalog, "testnet"), (256, 1410048, 1410303));

    // A new server with the whole lake: the run resumes and completes, and
    // the tables equal one uninterrupted run over the local directory.
    let moto = Moto::start().expect("moto started before");
    moto.s3(&["mb", "lake"]);
    moto.upload_lake("lake", "testnet", &lake, false);
    let config = write_config(tmp.path(), "c.yaml", &[source(&moto)], &catalog, ducklake);
    let out = run(&config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let local_catalog = tmp.path().join("local.duckdb");
    let local = Source { datastore: fs_datastore(&lake), passphrase: TESTNET, start: 1410048, end: 1410367 };
    let out = run(&write_config(tmp.path(), "local.yaml", &[local], &local_catalog, ducklake));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_same_tables(&catalog, &local_catalog, "testnet");
    let (covered, batches, distinct): (i64, i64, i64) = open_catalog(&catalog)
        .query_row(
            "SELECT sum(ledger_count), count(*), count(DISTINCT ledger_start) FROM testnet._ingest_lineage",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((covered, batches), (320, distinct), "lineage covers the range exactly once");
}
