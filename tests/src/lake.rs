//! DuckLake test harness: a real PostgreSQL server, lake specs that write
//! the `ducklake:` config lines and open the lake for inspection, and the
//! stock Python DuckDB client as an independent reader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{DATA_TABLES, DUCKDB_VERSION, DUCKLAKE_FORMAT, describe, table_fingerprint};

/// A PostgreSQL server in a temporary directory on a free loopback port,
/// stopped on drop. Run as `nobody` when the tests run as root (PostgreSQL
/// refuses root).
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_nobody: bool,
    pub port: u16,
}

/// Where `initdb` and `pg_ctl` are: on PATH, /usr/local/bin, or Debian's
/// /usr/lib/postgresql/<version>/bin.
fn postgres_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    candidates.push("/usr/local/bin".into());
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    candidates.into_iter().find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

impl PgServer {
    /// Starts a server, or prints a notice and returns `None` when PostgreSQL is not installed.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = postgres_bin() else {
            crate::missing_tool("PostgreSQL (initdb, pg_ctl) is not installed; skipping this PostgreSQL test");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let as_nobody = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        if as_nobody {
            for p in [dir.path(), data.as_path()] {
                let ok =
                    Command::new("chown").args(["nobody", p.to_str().unwrap()]).status().is_ok_and(|s| s.success());
                assert!(ok, "chown nobody {}", p.display());
            }
        }
        let port = crate::free_port();
        let server = PgServer { dir, bin, as_nobody, port };
        let out = server
            .pg("initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", describe(&out));
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            server.dir.path().display()
        );
        let log = server.dir.path().join("postgres.log");
        let out = server.pg(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "-t", "60", "start"],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            describe(&out),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    fn pg(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).current_dir(self.dir.path()).stdin(Stdio::null());
        // pg_ctl's server inherits these pipes; do not wait for them to close.
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("run a PostgreSQL tool")
    }

    /// A libpq connection string for the `postgres` database.
    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.pg("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
    }
}

/// An S3-compatible store for a lake's data path.
#[derive(Debug, Clone)]
pub struct S3Target {
    pub endpoint: String,
    pub key_id: String,
    pub secret: String,
}

/// Where a test lake lives.
#[derive(Debug, Clone)]
pub struct LakeSpec {
    /// `ducklake:duckdb:/...` or `ducklake:postgres:...`.
    pub catalog_path: String,
    pub data_path: String,
    pub s3: Option<S3Target>,
    pub extensions: PathBuf,
    /// PostgreSQL schema of the metadata tables (`metadata_schema`), when not the default.
    pub metadata_schema: Option<String>,
}

impl LakeSpec {
    /// A lake with its metadata in a DuckDB file and data in a directory, under `dir`.
    pub fn local(dir: &Path, extensions: &Path) -> LakeSpec {
        LakeSpec {
            catalog_path: format!("ducklake:duckdb:{}", dir.join("catalog.ducklake").display()),
            data_path: format!("{}/", dir.join("data").display()),
            s3: None,
            extensions: extensions.to_path_buf(),
            metadata_schema: None,
        }
    }

    /// Points a `ducklake` section at this lake (its `catalog_path` comes
    /// from [`Self::catalog`]): data path, extensions, metadata schema, S3.
    pub fn apply(&self, d: &mut crate::config::DuckLakeConfig) {
        d.data_path = Some(self.data_path.clone());
        d.extension_directory = Some(self.extensions.to_str().expect("utf-8 path").to_string());
        d.metadata_schema.clone_from(&self.metadata_schema);
        d.s3 = self.s3.as_ref().map(|s3| crate::config::LakeS3Config {
            endpoint: Some(s3.endpoint.clone()),
            access_key_id: Some(s3.key_id.clone()),
            secret_access_key: Some("${LAKE_TEST_SECRET}".to_string()),
            ..Default::default()
        });
    }

    /// The catalog path as the config writers want it.
    pub fn catalog(&self) -> PathBuf {
        PathBuf::from(&self.catalog_path)
    }

    /// The lake attached read-only as `c` in a fresh in-memory DuckDB (test
    /// code: plain string SQL is fine here).
    pub fn open(&self) -> duckdb::Connection {
        self.try_open().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Self::open`], or why the lake cannot be attached (e.g. not created yet).
    pub fn try_open(&self) -> Result<duckdb::Connection, String> {
        let config = duckdb::Config::default()
            .with("extension_directory", self.extensions.to_str().unwrap())
            .and_then(|c| c.with("autoload_known_extensions", "false"))
            .expect("duckdb config");
        let conn = duckdb::Connection::open_in_memory_with_flags(config).expect("duckdb");
        let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let mut sql = "LOAD ducklake;".to_string();
        if self.catalog_path.starts_with("ducklake:postgres:") {
            sql.push_str("LOAD postgres_scanner;");
        }
        if let Some(s3) = &self.s3 {
            sql.push_str(&format!(
                "LOAD httpfs; CREATE SECRET (TYPE s3, KEY_ID {}, SECRET {}, REGION 'us-east-1', ENDPOINT {}, URL_STYLE 'path', USE_SSL false);",
                q(&s3.key_id),
                q(&s3.secret),
                q(s3.endpoint.trim_start_matches("http://"))
            ));
        }
        let schema = self.metadata_schema.as_ref().map_or(String::new(), |s| format!(", METADATA_SCHEMA {}", q(s)));
        sql.push_str(&format!(
            "ATTACH {} AS c (DATA_PATH {}, READ_ONLY{schema}); USE c;",
            q(&self.catalog_path),
            q(&self.data_path)
        ));
        conn.execute_batch(&sql).map_err(|e| format!("attach {}: {e}", self.catalog_path))?;
        Ok(conn)
    }

    /// Environment for the ingester process (the S3 secret given by `${LAKE_TEST_SECRET}`).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        self.s3.iter().map(|s| ("LAKE_TEST_SECRET", s.secret.clone())).collect()
    }

    /// Row counts of every data table, read by the stock Python `duckdb`
    /// package (the bundled engine's release, with the same extensions),
    /// which must also see the lake in DuckLake format [`DUCKLAKE_FORMAT`];
    /// `None` with a notice when it is not installed.
    pub fn python_counts(&self, schema: &str) -> Option<BTreeMap<String, u64>> {
        if !python_duckdb_installed() {
            return None;
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/read_lake.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--extensions", self.extensions.to_str().unwrap()])
            .args(["--catalog", &self.catalog_path, "--data-path", &self.data_path, "--schema", schema])
            .args(DATA_TABLES);
        if let Some(m) = &self.metadata_schema {
            cmd.args(["--metadata-schema", m]);
        }
        if let Some(s3) = &self.s3 {
            cmd.args(["--s3-endpoint", &s3.endpoint, "--s3-key-id", &s3.key_id]).env("LAKE_TEST_SECRET", &s3.secret);
        }
        let out = cmd.output().expect("run python3");
        assert!(out.status.success(), "read_lake.py: {}", describe(&out));
        let read: LakeRead = serde_json::from_slice(&out.stdout).expect("read_lake.py JSON");
        assert_eq!(
            (read.duckdb_version.as_str(), read.format_version.as_str()),
            (DUCKDB_VERSION, DUCKLAKE_FORMAT),
            "the stock client's release and the lake's format"
        );
        Some(read.counts)
    }
}

/// What `read_lake.py` prints.
#[derive(serde::Deserialize)]
struct LakeRead {
    duckdb_version: String,
    format_version: String,
    counts: BTreeMap<String, u64>,
}

/// Whether the stock Python `duckdb` of [`DUCKDB_VERSION`] is importable;
/// prints a notice when not.
pub fn python_duckdb_installed() -> bool {
    let probe = Command::new("python3")
        .args(["-c", &format!("import duckdb; assert duckdb.__version__ == '{DUCKDB_VERSION}'")])
        .output();
    let ok = probe.is_ok_and(|o| o.status.success());
    if !ok {
        crate::missing_tool(&format!(
            "Python duckdb=={DUCKDB_VERSION} is not installed; skipping the stock-client check \
             (pip install duckdb=={DUCKDB_VERSION})"
        ));
    }
    ok
}

/// Row count and content fingerprint of every data table of `schema`.
pub fn fingerprints(conn: &duckdb::Connection, schema: &str) -> BTreeMap<String, (u64, String)> {
    DATA_TABLES.iter().map(|t| (t.to_string(), table_fingerprint(conn, schema, t))).collect()
}

/// Asserts two fingerprint sets are equal table by table (naming the first
/// table that differs) and returns the row counts.
pub fn assert_same_fingerprints(
    a: &BTreeMap<String, (u64, String)>,
    b: &BTreeMap<String, (u64, String)>,
    what: &str,
) -> BTreeMap<String, u64> {
    for t in DATA_TABLES {
        let (fa, fb) = (&a[t], &b[t]);
        assert_eq!(fa.0, fb.0, "{what}: {t}: row counts differ");
        assert!(fa == fb, "{what}: {t}: contents differ");
    }
    a.iter().map(|(t, (n, _))| (t.clone(), *n)).collect()
}

/// Active Parquet data files of the lake (current snapshot), from DuckLake itself.
pub fn data_files(conn: &duckdb::Connection, schema: &str) -> u64 {
    DATA_TABLES
        .iter()
        .map(|t| {
            conn.query_row(
                &format!("SELECT count(*) FROM ducklake_list_files('c', '{t}', schema => '{schema}')"),
                [],
                |r| r.get::<_, i64>(0),
            )
            .expect("ducklake_list_files") as u64
        })
        .sum()
}
