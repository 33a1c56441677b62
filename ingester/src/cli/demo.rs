//! `demo`: the whole product on a fresh machine with no network. A synthetic
//! network closes ledgers at a visible pace, `run` ingests them exactly once
//! into an embedded catalog, and the query API answers while it does.

use std::path::PathBuf;
use std::time::Duration;

use super::parse_duration;
use super::synth::Size;

/// `demo` arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Directory for the demo's configuration (demo.yaml) and data
    /// (see --storage). A rerun resumes where the last one stopped.
    #[arg(long, value_name = "DIR", default_value = "demo")]
    pub dir: PathBuf,
    /// Port of the query API, on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Time between ledgers (a live network closes one every ~5 s).
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    pub ledger_interval: Duration,
    /// Traffic preset: testnet (~5 transactions per ledger) or pubnet (~300).
    #[arg(long, value_enum, default_value = "testnet")]
    pub size: Size,
    /// Average transactions per ledger (overrides the preset).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub txs_per_ledger: u32,
    /// Seed of the synthetic chain.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Storage: a DuckLake (metadata in DIR/demo.ducklake, Parquet files in
    /// DIR/lake/), a plain DuckDB file (DIR/demo.duckdb), or auto: DuckLake
    /// when the extension directory holds the DuckLake extensions.
    #[arg(long, value_enum, default_value = "auto")]
    pub storage: DemoStorage,
    /// DuckDB extension directory (scripts/fetch-extensions.sh fills it).
    /// Default: $DUCKLAKE_EXTENSION_DIR, else .duckdb/extensions.
    #[arg(long, value_name = "DIR")]
    pub extension_directory: Option<PathBuf>,
}

/// `demo --storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoStorage {
    Auto,
    Ducklake,
    Duckdb,
}

/// Where the demo writes: `(catalog_path, extra lines under ducklake:)`.
fn demo_storage(args: &DemoArgs) -> (String, String) {
    let ext = args.extension_directory.clone().unwrap_or_else(|| {
        std::env::var_os("DUCKLAKE_EXTENSION_DIR").map_or_else(|| PathBuf::from(".duckdb/extensions"), PathBuf::from)
    });
    let has_ducklake = crate::store::extensions::has_ducklake(&ext);
    let lake = match args.storage {
        DemoStorage::Ducklake => true,
        DemoStorage::Duckdb => false,
        DemoStorage::Auto => {
            if !has_ducklake {
                println!(
                    "note: no DuckLake extensions in {}; writing a plain DuckDB file \
                     (scripts/fetch-extensions.sh {} makes the demo write a DuckLake)",
                    ext.display(),
                    ext.display()
                );
            }
            has_ducklake
        }
    };
    let quoted =
        |p: &std::path::Path| format!("\"{}\"", p.display().to_string().replace('\\', "\\\\").replace('"', "\\\""));
    if lake {
        let catalog = format!("ducklake:duckdb:{}", args.dir.join("demo.ducklake").display());
        let extra = format!(
            "  data_path: {}\n  extension_directory: {}\n  maintenance:\n    interval_seconds: 60\n",
            quoted(&args.dir.join("lake")),
            quoted(&ext)
        );
        (catalog, extra)
    } else {
        (args.dir.join("demo.duckdb").display().to_string(), String::new())
    }
}

/// Example queries the demo prints; each returns rows once a batch is committed.
pub const EXAMPLE_QUERIES: &[(&str, &str)] = &[
    (
        "latest ledgers",
        "SELECT sequence, closed_at, transaction_count, successful_tx_count, failed_tx_count, operation_count \
         FROM synthnet.ledgers_row_v2 ORDER BY sequence DESC LIMIT 5",
    ),
    (
        "operations by type",
        "SELECT type_string, count(*) AS operations, count(*) FILTER (WHERE transaction_successful) AS applied \
         FROM synthnet.operations_row_v2 GROUP BY type_string ORDER BY operations DESC",
    ),
    (
        "fees and Soroban resources",
        "SELECT count(*) AS transactions, sum(fee_charged) AS fees_stroops, \
         count(soroban_resources_instructions) AS soroban_transactions, \
         sum(soroban_resources_instructions) AS instructions FROM synthnet.transactions_row_v2",
    ),
    (
        "what was committed, batch by batch",
        "SELECT batch_id, ledger_start, ledger_end, row_counts, committed_at \
         FROM synthnet._ingest_lineage ORDER BY batch_id DESC LIMIT 5",
    ),
];

/// The demo's configuration file. `genesis` (Unix seconds) dates the chain so
/// its ledgers close around now; it is kept in the file so reruns resume the
/// same chain.
pub fn config_yaml(args: &DemoArgs, catalog: &str, ducklake_extra: &str, genesis: u64) -> String {
    let size = match args.size {
        Size::Testnet => "testnet",
        Size::Pubnet => "pubnet",
    };
    format!(
        r#"# Written by `ducklake-ingester demo`; `ducklake-ingester run --config` this file to rerun it.
sources:
  - mode: synthetic
    synthetic:
      seed: {seed}
      size: {size}
      txs_per_ledger: {txs}
      ledger_interval_ms: {interval}
      close_interval_seconds: {close}
      genesis_close_time: {genesis}
    network_passphrase: "{passphrase}"
    start_ledger: 2
    end_ledger: 0
ducklake:
  catalog_path: "{catalog}"
  batch_size: 10
  commit_interval_seconds: 3
{ducklake_extra}query_api:
  port: "127.0.0.1:{port}"
logging:
  format: text
"#,
        seed = args.seed,
        txs = args.txs_per_ledger,
        interval = args.ledger_interval.as_millis(),
        close = args.ledger_interval.as_secs().max(1),
        passphrase = ducklake_config::SYNTHETIC_PASSPHRASE,
        catalog = catalog.replace('\\', "\\\\").replace('"', "\\\""),
        port = args.port,
    )
}

/// Prints the example queries as ready-to-paste commands, in one write: a
/// reader that stops after the banner (`| head`) must not kill the demo.
fn print_banner(args: &DemoArgs, config: &std::path::Path, catalog: &str) {
    use std::fmt::Write as _;
    let url = format!("http://127.0.0.1:{}", args.port);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "ducklake-ingester demo: a synthetic Stellar network, one ledger every {:?}",
        args.ledger_interval
    );
    let _ = writeln!(text, "  config:  {}", config.display());
    let _ = writeln!(text, "  catalog: {catalog} (schema synthnet)");
    let _ = writeln!(text, "  API:     {url}/query  {url}/health  {url}/status");
    let _ = writeln!(text);
    let _ = writeln!(text, "Try, in another terminal (first rows appear after a few seconds):");
    for (what, sql) in EXAMPLE_QUERIES {
        let body = serde_json::json!({ "sql": sql }).to_string().replace('\'', "'\\''");
        let _ = writeln!(text);
        let _ = writeln!(text, "# {what}");
        let _ = writeln!(text, "curl -s {url}/query -H 'content-type: application/json' -d '{body}'");
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "Ctrl-C stops the demo (the open batch is committed); rerun to resume.");
    let _ = writeln!(text);
    let mut out = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut out, text.as_bytes()).and_then(|()| std::io::Write::flush(&mut out));
}

/// Runs the demo until SIGINT/SIGTERM.
pub async fn run(args: DemoArgs) -> i32 {
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        eprintln!("error: --dir {}: {e}", args.dir.display());
        return super::exit::CONFIG;
    }
    let (catalog, ducklake_extra) = demo_storage(&args);
    let config = args.dir.join("demo.yaml");
    // A rerun keeps the chain's genesis time, so it resumes the same chain.
    let genesis = std::fs::read_to_string(&config)
        .ok()
        .and_then(|text| ducklake_config::load::parse(&text, |_| None).ok())
        .and_then(|loaded| loaded.config.effective_sources().first()?.synthetic.as_ref()?.genesis_close_time)
        .unwrap_or_else(|| crate::model::Timestamp::now().unix_seconds().max(0) as u64);
    if let Err(e) = std::fs::write(&config, config_yaml(&args, &catalog, &ducklake_extra, genesis)) {
        eprintln!("error: cannot write {}: {e}", config.display());
        return super::exit::CONFIG;
    }
    print_banner(&args, &config, &catalog);
    super::run(&config, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_loads_and_validates() {
        let args = DemoArgs {
            dir: "d".into(),
            port: 18080,
            ledger_interval: Duration::from_millis(250),
            size: Size::Testnet,
            txs_per_ledger: 7,
            seed: 3,
            storage: DemoStorage::Ducklake,
            extension_directory: Some(std::env::temp_dir()),
        };
        let (catalog, extra) = demo_storage(&args);
        assert_eq!(catalog, "ducklake:duckdb:d/demo.ducklake");
        let yaml = config_yaml(&args, &catalog, &extra, 1_700_000_000);
        let loaded = ducklake_config::load::parse(&yaml, |_| None).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(ducklake_config::load::validate(&loaded.config).is_empty());
        assert!(loaded.config.ducklake.storage().unwrap().is_ducklake());
        let plain = DemoArgs { storage: DemoStorage::Duckdb, ..args };
        let (catalog, extra) = demo_storage(&plain);
        let loaded = ducklake_config::load::parse(&config_yaml(&plain, &catalog, &extra, 1), |_| None).unwrap();
        assert!(!loaded.config.ducklake.storage().unwrap().is_ducklake());
        assert_eq!(ducklake_config::load::schema_for_source(&loaded.config, 0).unwrap(), "synthnet");
        let s = &loaded.config.effective_sources()[0];
        let sy = s.synthetic.as_ref().unwrap();
        assert_eq!((sy.seed, sy.txs_per_ledger, sy.ledger_interval_ms), (3, Some(7), 250));
    }
}
