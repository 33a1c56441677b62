//! The crash matrix: what production does to an ingester, done on purpose.
//!
//! * SIGKILL at random points, over many cycles, for every storage mode
//!   (DuckDB file; DuckLake with a DuckDB-file catalog; DuckLake with a
//!   PostgreSQL catalog).
//! * The ledger source (a gRPC `serve-ledgers`) killed and restarted while
//!   the ingester runs.
//! * The volume full (a small tmpfs), then given more space.
//!
//! Each case ends with all 19 tables equal, row for row, to one clean run
//! of the same 320 testnet ledgers, and the lineage covering each ledger
//! once. A corrupt lake object and a ledger gap are in `bad_input.rs`.
//!
//! `CRASH_SEED` replays a run; `CRASH_KILLS` sets the kills per storage mode
//! (default 6, which CI runs; RELIABILITY.md records a long run).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use ducklake_tests::lake::{LakeSpec, PgServer};
use ducklake_tests::{
    DATA_TABLES, KillOnDrop, Lake, TESTNET, describe, extension_dir, free_port, grpc_source, http, ingester,
    open_catalog, require_fixtures, run_config, stderr_lines, table_fingerprint, wait_exit, wait_for_line,
    write_config, write_sources_config_serving,
};
use ducklake_tests::{Tweak, batch, config::DuckLakeConfig};

const LAKE: &str = "derived/datalake-testnet-lpf64-fpp10";
const FIRST: u32 = 1410048;
const LAST: u32 = 1410367;
const LEDGERS: i64 = (LAST - FIRST + 1) as i64;

/// xorshift64*: deterministic, seed printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("crash matrix: seed {seed} (set CRASH_SEED to replay)");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn kills_wanted() -> usize {
    std::env::var("CRASH_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(6)
}

/// One catalog under test: its config and how to open it for reading
/// (an error when a kill landed before the catalog was created).
struct Target {
    config: PathBuf,
    try_open: Box<dyn Fn() -> Result<duckdb::Connection, String>>,
    /// A DuckLake, which the stock client reads too.
    lake: Option<LakeSpec>,
}

impl Target {
    fn open(&self) -> duckdb::Connection {
        (self.try_open)().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A DuckLake target read by the stock Python client: the same `rows`.
    fn check_stock_client(&self, rows: u64, what: &str) {
        if let Some(py) = self.lake.as_ref().and_then(|spec| spec.python_counts("testnet")) {
            assert_eq!(py.values().sum::<u64>(), rows, "{what}: rows the stock client reads");
        }
    }
}

/// Ledgers committed so far (0 before the catalog or its tables exist).
fn committed(t: &Target) -> i64 {
    (t.try_open)()
        .ok()
        .and_then(|conn| conn.query_row("SELECT count(*) FROM testnet.ledgers_row_v2", [], |r| r.get(0)).ok())
        .unwrap_or(0)
}

/// A DuckDB catalog file, opened read-only once it exists.
fn duckdb_file(catalog: PathBuf) -> Box<dyn Fn() -> Result<duckdb::Connection, String>> {
    Box::new(move || {
        if catalog.is_file() {
            Ok(open_catalog(&catalog))
        } else {
            Err(format!("{} not created yet", catalog.display()))
        }
    })
}

/// A config ingesting the 320 testnet ledgers of the matrix into `catalog`.
fn testnet_config(fixtures: &Path, dir: &Path, name: &str, catalog: &Path, tweak: Tweak<'_>) -> PathBuf {
    let lake = Lake { path: &fixtures.join(LAKE), passphrase: TESTNET, start: FIRST, end: LAST };
    write_config(dir, name, &lake, catalog, tweak)
}

/// A clean, uninterrupted run into a DuckDB file: what every case must end with.
fn reference(fixtures: &Path, dir: &Path) -> PathBuf {
    let catalog = dir.join("reference.duckdb");
    let config = testnet_config(fixtures, dir, "reference.yaml", &catalog, &batch(64));
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "reference run: {}", describe(&out));
    catalog
}

/// All 19 tables equal the reference's, and the lineage covers each ledger once.
fn assert_exactly_once(reference: &Path, conn: &duckdb::Connection, what: &str) -> u64 {
    let clean = open_catalog(reference);
    let mut rows = 0;
    for table in DATA_TABLES {
        let a = table_fingerprint(&clean, "testnet", table);
        let b = table_fingerprint(conn, "testnet", table);
        assert_eq!(a.0, b.0, "{what}: {table}: row count differs from the clean run");
        assert!(a == b, "{what}: {table}: contents differ from the clean run");
        rows += a.0;
    }
    let (ledgers, batches, starts): (i64, i64, i64) = conn
        .query_row(
            "SELECT sum(ledger_count), count(*), count(DISTINCT ledger_start) FROM testnet._ingest_lineage",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(ledgers, LEDGERS, "{what}: lineage");
    assert_eq!(batches, starts, "{what}: a batch recorded twice");
    rows
}

/// Runs the target's config, SIGKILLing it at random points (after 0-2
/// commits and a random delay, so kills land at start-up, inside commits and
/// between them) until `kills` kills have landed or the range completes.
/// Checks that every restart says where it resumes. Returns the ledgers
/// committed at each kill.
fn kill_cycles(t: &Target, rng: &mut Rng, kills: &mut usize, wanted: usize) -> Vec<i64> {
    let mut at_kill = Vec::new();
    loop {
        let mut child = Command::new(ingester())
            .args(["run", "--config", t.config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = stderr_lines(&mut child);
        let expect_resume = at_kill.last().copied().filter(|&n| n > 0 && n < LEDGERS);
        let mut resumed_said = expect_resume.is_none();
        let commits = rng.below(3);
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen < commits {
            match lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(n) = expect_resume
                        && line.contains("resuming from the catalog")
                    {
                        assert!(line.contains(&format!("resume_at={}", FIRST as i64 + n)), "{line}: expected {n}");
                        resumed_said = true;
                    }
                    seen += u64::from(line.contains("committed ledgers"));
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            assert!(Instant::now() < deadline, "no commit within 120 s");
        }
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the ingester failed between kills: {status}");
            return at_kill;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The resume line comes before the first commit; drain what was logged.
        while let Ok(line) = lines.try_recv() {
            resumed_said |= line.contains("resuming from the catalog");
        }
        assert!(resumed_said || seen == 0, "a restart after {expect_resume:?} ledgers did not say where it resumed");
        *kills += 1;
        at_kill.push(committed(t));
        if *kills >= wanted {
            let out = run_config(&t.config);
            assert_eq!(out.status.code(), Some(0), "final run: {}", describe(&out));
            return at_kill;
        }
    }
}

/// The SIGKILL cycles for one storage mode: rounds on fresh catalogs until
/// `CRASH_KILLS` kills have landed; each round ends equal to the clean run.
fn sigkill_matrix(mode: &str, mut target_for_round: impl FnMut(usize) -> Target) {
    let fixtures = require_fixtures!();
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&fixtures, dir.path());
    let mut rng = Rng::from_env();
    let wanted = kills_wanted();
    let mut kills = 0;
    let mut round = 0;
    while kills < wanted {
        round += 1;
        assert!(round <= wanted + 5, "{mode}: only {kills} kills landed in {round} rounds");
        let t = target_for_round(round);
        let at_kill = kill_cycles(&t, &mut rng, &mut kills, wanted);
        let rows = assert_exactly_once(&reference, &t.open(), &format!("{mode}, round {round}"));
        t.check_stock_client(rows, mode);
        eprintln!(
            "crash matrix: {mode}, round {round}: {} SIGKILLs (ledgers committed at each: {at_kill:?}); \
             19 tables identical to the clean run ({rows} rows), lineage covers {LEDGERS} ledgers once",
            at_kill.len()
        );
    }
}

fn lake_target(fixtures: &Path, dir: &Path, round: usize, spec: LakeSpec) -> Target {
    let tweak = |d: &mut DuckLakeConfig| {
        spec.apply(d);
        (d.batch_size, d.commit_interval_seconds, d.data_inlining_row_limit) = (2, 1, 10);
    };
    let config = testnet_config(fixtures, dir, &format!("round{round}.yaml"), &spec.catalog(), &tweak);
    let lake = Some(spec.clone());
    Target { config, try_open: Box::new(move || spec.try_open()), lake }
}

#[test]
fn sigkill_duckdb_file() {
    let Some(fixtures) = ducklake_tests::fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    sigkill_matrix("DuckDB file", |round| {
        let catalog = dir.path().join(format!("round{round}.duckdb"));
        let tweak = |d: &mut DuckLakeConfig| (d.batch_size, d.commit_interval_seconds) = (2, 1);
        let config = testnet_config(&fixtures, dir.path(), &format!("round{round}.yaml"), &catalog, &tweak);
        Target { config, try_open: duckdb_file(catalog), lake: None }
    });
}

#[test]
fn sigkill_ducklake_duckdb_catalog() {
    let Some(fixtures) = ducklake_tests::fixtures() else { return };
    let Some(extensions) = extension_dir("the DuckLake crash matrix") else { return };
    let dir = tempfile::tempdir().unwrap();
    sigkill_matrix("DuckLake, DuckDB catalog", |round| {
        let spec = LakeSpec::local(&dir.path().join(format!("round{round}")), &extensions);
        lake_target(&fixtures, dir.path(), round, spec)
    });
}

#[test]
fn sigkill_ducklake_postgres_catalog() {
    let Some(fixtures) = ducklake_tests::fixtures() else { return };
    let Some(extensions) = extension_dir("the DuckLake crash matrix") else { return };
    let Some(pg) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    sigkill_matrix("DuckLake, PostgreSQL catalog", |round| {
        let spec = LakeSpec {
            catalog_path: format!("ducklake:postgres:{}", pg.conninfo()),
            data_path: format!("{}/", dir.path().join(format!("data{round}")).display()),
            s3: None,
            extensions: extensions.clone(),
            metadata_schema: Some(format!("round{round}")),
        };
        lake_target(&fixtures, dir.path(), round, spec)
    });
}

fn serve_ledgers(endpoint: &str, lake: &Path) -> KillOnDrop {
    let server = Command::new(ingester())
        .args(["serve-ledgers", "--listen", endpoint, "--lake", lake.to_str().unwrap(), "--ledger-interval", "15ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(KillOnDrop)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(endpoint).is_err() {
        assert!(Instant::now() < deadline, "serve-ledgers did not listen on {endpoint}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[test]
fn ledger_source_killed_and_restarted() {
    let fixtures = require_fixtures!();
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&fixtures, dir.path());
    let lake = fixtures.join(LAKE);
    let endpoint = format!("127.0.0.1:{}", free_port());
    let catalog = dir.path().join("c.duckdb");
    let api = format!("127.0.0.1:{}", free_port());
    let src = grpc_source(&endpoint, TESTNET, FIRST, LAST, |_| {});
    let config = write_sources_config_serving(dir.path(), "c.yaml", &[src], &catalog, &batch(5), &api);
    let mut rng = Rng::from_env();

    let mut server = serve_ledgers(&endpoint, &lake);
    let mut child = Command::new(ingester())
        .args(["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    let mut log = Vec::new();
    wait_for_line(&lines, "query API listening", &mut log);
    let mut outages = 0;
    let mut reconnects = 0;
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(400 + rng.below(1200)));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        drop(server); // SIGKILL mid-stream
        std::thread::sleep(Duration::from_millis(300 + rng.below(700)));
        // While the source is down the ingester keeps serving and says so:
        // a reconnect is counted and `last_error` names the endpoint (the
        // client may first finish the ledgers it had buffered).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (code, body) = http(&api, "GET", "/status", "");
            assert_eq!(code, 200, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let s = &v["sources"][0];
            if s["state"] == "completed" {
                break;
            }
            let now = s["reconnects"].as_u64().unwrap_or(0);
            if now > reconnects {
                assert!(
                    s["last_error"].as_str().is_some_and(|e| e.contains(&endpoint)),
                    "status names the failure: {v}"
                );
                reconnects = now;
                outages += 1;
                break;
            }
            assert!(Instant::now() < deadline, "no reconnect counted 20 s after the source died: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server = serve_ledgers(&endpoint, &lake);
    }
    assert_eq!(wait_exit(&mut child, Duration::from_secs(180)), 0);
    drop(server);
    log.extend(lines.try_iter());
    let lost = log.iter().filter(|l| l.contains("ledger stream lost") || l.contains("cannot connect")).count();
    assert!(outages >= 2, "only {outages} outages landed mid-run");
    assert!(lost >= outages, "each outage is logged ({lost} lines for {outages} outages):\n{}", log.join("\n"));
    let rows = assert_exactly_once(&reference, &open_catalog(&catalog), "source killed and restarted");
    eprintln!(
        "crash matrix: serve-ledgers SIGKILLed and restarted {outages} times mid-stream; {lost} log lines name the \
         lost stream; 19 tables identical to the clean run ({rows} rows)"
    );
}

/// A tmpfs of a given size, unmounted on drop; `None` with a notice when
/// this process may not mount (not root, or no CAP_SYS_ADMIN).
struct SmallDisk(PathBuf);
impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str().unwrap()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("NOTICE: cannot mount a tmpfs here (needs root); skipping the full-disk test");
            return None;
        }
        Some(SmallDisk(at.to_path_buf()))
    }
    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}"), self.0.to_str().unwrap()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {}", self.0.display());
    }
}
impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", self.0.to_str().unwrap()]).status();
    }
}

/// The volume fills up mid-range: the run fails naming the cause, every
/// committed batch stays readable and whole, and after the volume grows the
/// same command completes the range exactly once.
fn full_disk(mode: &str, size: &str, make: impl FnOnce(&Path) -> Target) {
    let fixtures = require_fixtures!();
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), size) else { return };
    let reference = reference(&fixtures, dir.path());
    let t = make(&disk.0);

    let out = run_config(&t.config);
    assert_eq!(out.status.code(), Some(1), "{mode}: a full disk must fail the run: {}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let cause = err.lines().rev().find(|l| l.starts_with("error:")).unwrap_or_default().to_string();
    assert!(cause.contains("No space left on device"), "{mode}: the final error names the cause:\n{err}");
    let n = committed(&t);
    let conn = t.open();
    assert!(n > 0 && n < LEDGERS, "{mode}: {n} ledgers committed before the disk filled");
    ducklake_tests::assert_lineage_matches_tables(&conn, "testnet");
    let (min, max): (i64, i64) = conn
        .query_row("SELECT min(sequence), max(sequence) FROM testnet.ledgers_row_v2", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((min, max), (FIRST as i64, FIRST as i64 + n - 1), "{mode}: committed ledgers are a prefix");
    drop(conn);

    disk.grow("1g");
    let out = run_config(&t.config);
    assert_eq!(out.status.code(), Some(0), "{mode}: after freeing space: {}", describe(&out));
    let rows = assert_exactly_once(&reference, &t.open(), mode);
    t.check_stock_client(rows, mode);
    eprintln!(
        "crash matrix: {mode} on a {size} volume: failed after {n} ledgers with {cause:?}; after growing the \
         volume the rerun completed: 19 tables identical to the clean run ({rows} rows)"
    );
}

#[test]
fn full_disk_duckdb_file() {
    let Some(fixtures) = ducklake_tests::fixtures() else { return };
    full_disk("DuckDB file", "6m", |disk| {
        let catalog = disk.join("c.duckdb");
        let config = testnet_config(&fixtures, disk.parent().unwrap(), "full.yaml", &catalog, &batch(16));
        Target { config, try_open: duckdb_file(catalog), lake: None }
    });
}

#[test]
fn full_disk_ducklake() {
    let Some(fixtures) = ducklake_tests::fixtures() else { return };
    let Some(extensions) = extension_dir("the DuckLake full-disk test") else { return };
    full_disk("DuckLake, DuckDB catalog", "3m", |disk| {
        let spec = LakeSpec::local(disk, &extensions);
        let tweak = |d: &mut DuckLakeConfig| {
            spec.apply(d);
            (d.batch_size, d.data_inlining_row_limit) = (16, 0);
        };
        let config = testnet_config(&fixtures, disk.parent().unwrap(), "full.yaml", &spec.catalog(), &tweak);
        let lake = Some(spec.clone());
        Target { config, try_open: Box::new(move || spec.try_open()), lake }
    });
}
