//! Attaching a DuckLake: S3 credentials and the ATTACH itself (the
//! extensions it needs are in [`super::extensions`]).
//!
//! Paths, connection strings and credentials never become SQL text: they are
//! bound as parameters into session variables (`SET VARIABLE x = ?`), read by
//! `CREATE SECRET` / `ATTACH` through `getvariable()`, and the variables are
//! reset right after, so no query can read them back. The only text spliced
//! into SQL is fixed names and numbers.

use duckdb::{Connection, params};
use ducklake_config::{LakeMetadata, LakeS3Config};

use super::{DbContext, StoreError};
use crate::s3::{s3_endpoint, s3_region};
use crate::sql::ident;

/// Rows per row group of the lake's Parquet files (DuckDB's default is
/// 122,880, and a merged file is often one group). A query reads whole row
/// groups of the columns it selects: a lookup by hash with `SELECT *` on a
/// merged 68,698-row transactions file took 160-260 ms (and held its XDR
/// columns in memory) against 25-38 ms with 8,192-row groups, for a file 9%
/// larger; smaller groups also let one file's scan use every thread.
pub const PARQUET_ROW_GROUP_ROWS: u32 = 8192;

/// The size at which `ducklake_merge_adjacent_files` leaves a file alone
/// (DuckLake's default is 512 MiB). Each maintenance run merges a table's
/// files smaller than this, the earlier merged one included: with the
/// default, the one-hour soak's merge rewrote its whole 237 MB transactions
/// file every run, taking 3 s at 10 minutes and 43 s at 55, while commits
/// waited. With 64 MB a run rewrites at most about twice that per table
/// (the soak's 25-minute run: a 63.5 MB file and a 21 MB one, merged in 7 s).
pub const TARGET_FILE_SIZE: &str = "64MB";

/// S3 settings for DuckDB's `s3` secret, resolved from the configuration,
/// a credentials file and the `AWS_*` variables.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub region: String,
    /// `host:port`, without scheme; `None` for AWS.
    pub endpoint: Option<String>,
    pub use_ssl: bool,
    pub path_style: bool,
    pub key_id: Option<String>,
    pub secret: Option<String>,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("use_ssl", &self.use_ssl)
            .field("path_style", &self.path_style)
            .field("key_id", &self.key_id.as_ref().map(|_| "<set>"))
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Resolves [`S3Settings`]; `env` is `std::env::var` in production.
pub fn s3_settings(cfg: &LakeS3Config, env: impl Fn(&str) -> Option<String>) -> Result<S3Settings, StoreError> {
    let bad = |key: &str, m: String| StoreError::Refused(format!("ducklake.s3.{key}: {m}"));
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    // Region and endpoint as for a datastore source on S3.
    let region = s3_region(cfg.region.as_deref(), &env).map_err(|r| bad("region", r))?;
    let url = s3_endpoint(cfg.endpoint.as_deref(), cfg.allow_http, &env).map_err(|r| bad("endpoint", r))?;
    let use_ssl = url.as_ref().is_none_or(|u| u.scheme() == "https");
    let endpoint = match url {
        None => None,
        // DuckDB's ENDPOINT is host[:port], without scheme or path.
        Some(u) if u.path() != "/" => {
            return Err(bad("endpoint", format!("{u} has a path; give the server's http(s)://host[:port]")));
        }
        Some(u) => {
            let host = u.host_str().unwrap_or_default();
            Some(u.port().map_or_else(|| host.to_string(), |p| format!("{host}:{p}")))
        }
    };
    let path_style = cfg.force_path_style.unwrap_or(endpoint.is_some());
    let from_file = match &cfg.credentials_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| bad("credentials_file", format!("cannot read {file}: {e}")))?;
            let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
            let creds = shared_credentials(&text, &profile);
            if creds.0.is_none() || creds.1.is_none() {
                return Err(bad(
                    "credentials_file",
                    format!("{file} has no aws_access_key_id and aws_secret_access_key under [{profile}]"),
                ));
            }
            creds
        }
        None => (None, None, None),
    };
    let key_id = cfg.access_key_id.clone().or(from_file.0).or_else(|| env("AWS_ACCESS_KEY_ID"));
    let secret = cfg.secret_access_key.clone().or(from_file.1).or_else(|| env("AWS_SECRET_ACCESS_KEY"));
    let session_token = cfg.session_token.clone().or(from_file.2).or_else(|| env("AWS_SESSION_TOKEN"));
    if key_id.is_some() != secret.is_some() {
        return Err(bad(
            if key_id.is_some() { "secret_access_key" } else { "access_key_id" },
            "missing: an access key id and a secret access key go together".into(),
        ));
    }
    Ok(S3Settings { region, endpoint, use_ssl, path_style, key_id, secret, session_token })
}

/// `(aws_access_key_id, aws_secret_access_key, aws_session_token)` of one
/// profile of an AWS shared-credentials (INI) file.
fn shared_credentials(text: &str, profile: &str) -> (Option<String>, Option<String>, Option<String>) {
    let mut in_profile = false;
    let (mut key, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = Some(v.trim().to_string());
            match k.trim() {
                "aws_access_key_id" => key = v,
                "aws_secret_access_key" => secret = v,
                "aws_session_token" => token = v,
                _ => {}
            }
        }
    }
    (key, secret, token)
}

/// Binds `values` to session variables, runs `sql` (which reads them with
/// `getvariable`), and resets the variables whatever happened.
pub(super) fn with_variables(
    conn: &Connection,
    values: &[(&str, &str)],
    sql: &str,
    context: impl Fn() -> String,
) -> Result<(), StoreError> {
    let result = (|| {
        for (name, value) in values {
            conn.execute(&format!("SET VARIABLE {name} = ?"), params![value]).ctx(&context)?;
        }
        conn.execute_batch(sql).ctx(&context)
    })();
    for (name, _) in values {
        let _ = conn.execute_batch(&format!("RESET VARIABLE {name}"));
    }
    result
}

/// Creates the (temporary, in-memory) `s3` secret DuckDB uses for the data path.
pub fn create_s3_secret(conn: &Connection, s3: &S3Settings) -> Result<(), StoreError> {
    let mut values: Vec<(&str, &str)> = vec![("ducklake_s3_region", &s3.region)];
    let mut options = vec![
        "TYPE s3".to_string(),
        "REGION getvariable('ducklake_s3_region')".to_string(),
        format!("URL_STYLE '{}'", if s3.path_style { "path" } else { "vhost" }),
        format!("USE_SSL {}", s3.use_ssl),
    ];
    for (var, option, value) in [
        ("ducklake_s3_endpoint", "ENDPOINT", &s3.endpoint),
        ("ducklake_s3_key_id", "KEY_ID", &s3.key_id),
        ("ducklake_s3_secret", "SECRET", &s3.secret),
        ("ducklake_s3_token", "SESSION_TOKEN", &s3.session_token),
    ] {
        if let Some(v) = value {
            values.push((var, v));
            options.push(format!("{option} getvariable('{var}')"));
        }
    }
    let sql = format!("CREATE OR REPLACE SECRET ducklake_data_s3 ({})", options.join(", "));
    with_variables(conn, &values, &sql, || "ducklake.s3: creating the S3 secret".into())
}

/// How to attach a lake.
#[derive(Debug, Clone)]
pub struct AttachOptions<'a> {
    pub catalog_name: &'a str,
    pub metadata: &'a LakeMetadata,
    pub data_path: &'a str,
    pub metadata_schema: Option<&'a str>,
    pub data_inlining_row_limit: u64,
    pub read_only: bool,
}

/// The catalog format this engine's DuckLake writes (DuckDB 1.5's DuckLake 1.0).
pub const FORMAT_VERSION: &str = "1.0";

/// What [`attach`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The catalog is (now) in [`FORMAT_VERSION`], or was just created in it.
    Current,
    /// The catalog was in an older format and has been migrated (one-way).
    Migrated { from: String },
}

/// ATTACHes the lake under `catalog_name` and makes it the default catalog.
/// A catalog in an older DuckLake format is migrated to [`FORMAT_VERSION`]
/// (DuckLake's `AUTOMATIC_MIGRATION`, one transaction) when attached for
/// writing, and logged once; read-only, it is refused with
/// [`StoreError::NeedsMigration`].
pub fn attach(conn: &Connection, o: &AttachOptions<'_>) -> Result<Attached, StoreError> {
    match attach_once(conn, o, false) {
        Err(e) => match catalog_format_behind(&e) {
            Some(from) if o.read_only => Err(StoreError::NeedsMigration { from }),
            Some(from) => {
                attach_once(conn, o, true)?;
                tracing::warn!(
                    from = %from,
                    to = FORMAT_VERSION,
                    "migrated the DuckLake catalog from format {from} to {FORMAT_VERSION}; the step is one-way: \
                     DuckDB 1.4 clients can no longer open this lake"
                );
                Ok(Attached::Migrated { from })
            }
            None => Err(e),
        },
        Ok(()) => Ok(Attached::Current),
    }
}

/// The older catalog format DuckLake refused to attach without migrating
/// ("DuckLake catalog version mismatch: catalog version is 0.3, but ...").
pub fn catalog_format_behind(e: &StoreError) -> Option<String> {
    let StoreError::Db { source, .. } = e else { return None };
    let m = source.to_string();
    let rest = m.split_once("catalog version mismatch: catalog version is ")?.1;
    let version = rest.split([',', ' ']).next().filter(|v| !v.is_empty())?;
    Some(version.to_string())
}

/// One ATTACH. The metadata target goes through a temporary `ducklake`
/// secret (ATTACH takes no parameters), dropped once attached.
fn attach_once(conn: &Connection, o: &AttachOptions<'_>, migrate: bool) -> Result<(), StoreError> {
    let target = o.metadata.attach_target();
    let mut values = vec![("ducklake_metadata", target.as_str()), ("ducklake_data", o.data_path)];
    let mut options = vec![format!("DATA_INLINING_ROW_LIMIT {}", o.data_inlining_row_limit)];
    if let Some(schema) = o.metadata_schema {
        values.push(("ducklake_metadata_schema", schema));
        options.push("METADATA_SCHEMA getvariable('ducklake_metadata_schema')".into());
    }
    if o.read_only {
        options.push("READ_ONLY".into());
    }
    if migrate {
        options.push("AUTOMATIC_MIGRATION TRUE".into());
    }
    let catalog = ident(o.catalog_name);
    let sql = format!(
        "CREATE OR REPLACE SECRET ducklake_attach (TYPE ducklake, METADATA_PATH getvariable('ducklake_metadata'), \
         DATA_PATH getvariable('ducklake_data'));\n\
         ATTACH 'ducklake:ducklake_attach' AS {catalog} ({});\n\
         USE {catalog};",
        options.join(", ")
    );
    let what = match o.metadata {
        LakeMetadata::DuckDb { path } => format!("the DuckLake catalog file {path}"),
        LakeMetadata::Postgres { .. } => "the DuckLake catalog in PostgreSQL".to_string(),
    };
    let result = with_variables(conn, &values, &sql, || {
        format!("ducklake.catalog_path: cannot {} {what}", if migrate { "migrate" } else { "attach" })
    });
    let _ = conn.execute_batch("DROP SECRET IF EXISTS ducklake_attach");
    result.map_err(|e| match (&e, o.metadata, o.read_only) {
        (StoreError::Db { source, .. }, LakeMetadata::DuckDb { .. }, _) if source.to_string().contains("lock") => {
            StoreError::Refused(format!(
                "{e}\n(a DuckDB-file catalog is open in one process at a time; for readers beside the writer use \
                 ducklake:postgres:...)"
            ))
        }
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn s3_from_environment_and_config() {
        let s = s3_settings(
            &LakeS3Config::default(),
            env(&[("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK"), ("AWS_DEFAULT_REGION", "eu-west-1")]),
        )
        .unwrap();
        assert_eq!(
            (s.key_id.as_deref(), s.secret.as_deref(), s.region.as_str()),
            (Some("AK"), Some("SK"), "eu-west-1")
        );
        assert_eq!((s.endpoint, s.use_ssl, s.path_style), (None, true, false));
        // Debug output never shows the credentials.
        let cfg = LakeS3Config {
            endpoint: Some("http://127.0.0.1:9000/".into()),
            access_key_id: Some("mine".into()),
            secret_access_key: Some("hush".into()),
            ..Default::default()
        };
        let s = s3_settings(&cfg, env(&[])).unwrap();
        assert_eq!((s.endpoint.as_deref(), s.use_ssl, s.path_style), (Some("127.0.0.1:9000"), false, true));
        let shown = format!("{s:?}");
        assert!(!shown.contains("hush") && !shown.contains("mine"), "{shown}");
    }

    #[test]
    fn s3_refusals_name_the_key() {
        let cfg = LakeS3Config { endpoint: Some("http://minio.internal:9000".into()), ..Default::default() };
        let err = s3_settings(&cfg, env(&[])).unwrap_err().to_string();
        assert!(err.contains("ducklake.s3.endpoint") && err.contains("allow_http"), "{err}");
        let cfg = LakeS3Config { access_key_id: Some("a".into()), ..Default::default() };
        let err = s3_settings(&cfg, env(&[])).unwrap_err().to_string();
        assert!(err.contains("ducklake.s3.secret_access_key: missing"), "{err}");
    }

    #[test]
    fn an_older_catalog_format_is_told_from_other_attach_errors() {
        let db =
            |m: &str| StoreError::Db { context: "x".into(), source: duckdb::Error::InvalidParameterName(m.into()) };
        let refused = db("Invalid Input Error: DuckLake catalog version mismatch: catalog version is 0.3, but the \
             extension requires version 1.0. To automatically migrate, set AUTOMATIC_MIGRATION to TRUE when attaching.");
        assert_eq!(catalog_format_behind(&refused).as_deref(), Some("0.3"));
        assert_eq!(catalog_format_behind(&db("IO Error: Cannot open database in read-only mode")), None);
        assert_eq!(catalog_format_behind(&StoreError::Refused("catalog version mismatch".into())), None);
    }

    #[test]
    fn shared_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        std::fs::write(
            &file,
            "[other]\naws_access_key_id = X\n\n[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n",
        )
        .unwrap();
        let cfg = LakeS3Config { credentials_file: Some(file.display().to_string()), ..Default::default() };
        let s = s3_settings(&cfg, env(&[])).unwrap();
        assert_eq!((s.key_id.as_deref(), s.secret.as_deref()), (Some("AK"), Some("SK")));
        let err = s3_settings(&cfg, env(&[("AWS_PROFILE", "other")])).unwrap_err().to_string();
        assert!(err.contains("under [other]"), "{err}");
    }
}
