//! Loading the configuration and checking what needs I/O (lake manifests,
//! paths) before anything is written. Every failure names its key.

use std::path::Path;
use std::sync::Arc;

use ducklake_config::load::{self, ConfigError, Loaded, Problem};
use ducklake_config::{IngesterConfig, LakeMetadata, SourceMode, Storage};

use crate::source::LedgerSource;
use crate::source::datastore::DatastoreSource;
use crate::source::grpc::GrpcSource;
use crate::source::synthetic::SyntheticSource;

/// One source, ready to run.
pub struct PreparedSource {
    /// `sources[i]`, for messages.
    pub key: String,
    pub name: String,
    pub schema: String,
    pub passphrase: String,
    pub start: u32,
    /// `None` runs forever.
    pub end: Option<u32>,
    pub source: Arc<dyn LedgerSource>,
}

/// A validated configuration with its sources opened.
pub struct Prepared {
    pub config: IngesterConfig,
    pub warnings: Vec<String>,
    pub sources: Vec<PreparedSource>,
}

/// Why a configuration cannot run (exit code 2).
#[derive(Debug)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn invalid(problems: Vec<Problem>) -> Invalid {
    Invalid(ConfigError::Invalid(problems).to_string())
}

/// Parses and validates the file (no I/O beyond reading it).
pub fn load(path: &Path) -> Result<Loaded, Invalid> {
    let loaded = load::load_file(path).map_err(|e| Invalid(e.to_string()))?;
    let problems = load::validate(&loaded.config);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    Ok(loaded)
}

/// Opens every source (reading lake manifests) and checks the store settings
/// this build supports. Writes nothing.
pub async fn prepare(loaded: Loaded) -> Result<Prepared, Invalid> {
    let Loaded { config, mut warnings } = loaded;
    warnings.extend(load::lint(&config));
    let mut problems = Vec::new();
    // Local files and directories must be creatable where they are:
    // (key, directory that will hold or be the path).
    let local: Vec<(&str, std::path::PathBuf)> = match config.ducklake.storage() {
        Ok(Storage::DuckDb { path }) => vec![("ducklake.catalog_path", Path::new(&path).to_path_buf())],
        Ok(Storage::DuckLake { metadata, data_path }) => {
            let mut v = Vec::new();
            if let LakeMetadata::DuckDb { path } = metadata {
                v.push(("ducklake.catalog_path", Path::new(&path).to_path_buf()));
            }
            if !data_path.starts_with("s3://") {
                v.push(("ducklake.data_path", Path::new(&data_path).join("x")));
            }
            v
        }
        Err(_) => Vec::new(),
    };
    for (key, path) in local {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && let Some(existing) = dir.ancestors().find(|p| p.exists())
            && !existing.is_dir()
        {
            problems.push(Problem::new(key, format!("{} is not a directory", existing.display())));
        }
    }
    let mut sources = Vec::new();
    for (i, s) in config.effective_sources().into_iter().enumerate() {
        let key = config.source_key(i);
        let schema = match load::schema_for_source(&config, i) {
            Ok(s) => s,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let opened: Result<Arc<dyn LedgerSource>, Problem> = match s.effective_mode() {
            Some(SourceMode::Datastore) => {
                let Some(ds) = &s.datastore else { continue };
                let dkey = format!("{key}.datastore");
                DatastoreSource::open(ds, &s.network_passphrase, &dkey)
                    .await
                    .map(|src| Arc::new(src) as Arc<dyn LedgerSource>)
                    .map_err(|e| as_problem(e, &format!("{dkey}.path")))
            }
            Some(SourceMode::Grpc) => {
                // The legacy top-level `endpoint` key gets the defaults of a `grpc:` section.
                let (grpc, gkey) = match (&s.grpc, s.grpc_endpoint()) {
                    (Some(g), _) => (g.clone(), format!("{key}.grpc")),
                    (None, Some(e)) => (ducklake_config::GrpcConfig::for_endpoint(e), key.clone()),
                    (None, None) => continue,
                };
                GrpcSource::new(&grpc, &gkey)
                    .map(|src| Arc::new(src) as Arc<dyn LedgerSource>)
                    .map_err(|e| as_problem(e, &format!("{gkey}.endpoint")))
            }
            Some(SourceMode::Synthetic) => {
                let settings = s.synthetic.clone().unwrap_or_default();
                SyntheticSource::new(&settings, &s.network_passphrase, &format!("{key}.synthetic"))
                    .map(|src| Arc::new(src) as Arc<dyn LedgerSource>)
                    .map_err(|e| as_problem(e, &format!("{key}.synthetic")))
            }
            None => continue,
        };
        let source = match opened {
            Ok(source) => source,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        sources.push(PreparedSource {
            name: s.name.clone().unwrap_or_else(|| schema.clone()),
            key,
            schema,
            passphrase: s.network_passphrase.clone(),
            start: s.start_ledger,
            end: (s.end_ledger != 0).then_some(s.end_ledger),
            source,
        });
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    Ok(Prepared { config, warnings, sources })
}

/// A source that cannot open: config errors carry their key; anything else
/// is reported under `fallback_key`.
fn as_problem(e: crate::source::SourceError, fallback_key: &str) -> Problem {
    match e {
        crate::source::SourceError::Config { key, reason } => Problem::new(key, reason),
        e => Problem::new(fallback_key, e.to_string()),
    }
}
