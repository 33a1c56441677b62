//! Command-line entry point of `ducklake-ingester`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ducklake_ingester::cli;

/// jemalloc for every allocation, DuckDB's included (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Stream Stellar ledgers (LedgerCloseMeta XDR) into a DuckLake or a DuckDB file, exactly once.
///
/// Ledgers come from a SEP-54 data lake (directory, S3, GCS), a RawLedgerService
/// gRPC stream or a built-in synthetic network; each is decoded once and turned
/// into rows of 19 tables (ledgers, transactions, operations, effects, trades,
/// contract events, account/trustline/offer/... snapshots). Batches commit in
/// one transaction with a lineage row, so a restart resumes from the catalog
/// itself and never loses or duplicates a row. A read-only SQL API answers while
/// ingestion runs.
///
/// Exit codes: 0 done (end_ledger committed, or stopped by SIGTERM/SIGINT),
/// 1 ingestion failed, 2 invalid configuration or usage.
#[derive(Parser)]
#[command(name = "ducklake-ingester", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Try it now: ingest a synthetic network live and query it over HTTP.
    ///
    /// Generates a deterministic synthetic Stellar network that closes a
    /// ledger every --ledger-interval, ingests it exactly once into
    /// DIR/demo.duckdb, serves the query API on 127.0.0.1:PORT and prints
    /// ready-to-paste example queries. Needs no network and no data. Ctrl-C
    /// stops it; a rerun resumes from the catalog.
    Demo(cli::demo::DemoArgs),
    /// Ingest the configured sources until end_ledger (or forever when it is 0).
    ///
    /// Resumes after the last ledger the catalog has committed. SIGTERM or
    /// SIGINT commits the ledgers already decoded and exits 0; a second
    /// signal exits at once without committing the open batch.
    Run {
        /// YAML configuration file (every key: docs/configuration.md).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// When every source has reached its end_ledger, keep serving the
        /// query API (and maintenance) until SIGTERM instead of exiting: a
        /// finished backfill stays queryable in a pod that must not exit.
        #[arg(long)]
        keep_serving: bool,
    },
    /// Serve the query API over the configured catalog without ingesting.
    ///
    /// With --read-only the catalog is attached read-only: on a DuckLake
    /// catalogued in PostgreSQL, any number of such processes can query the
    /// lake while one `run` process writes it. Without it, the catalog is
    /// opened as `run` opens it (one process at a time for DuckDB files).
    Serve {
        /// YAML configuration file (only `ducklake`, `query_api`, `metrics` and `logging` are used).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Attach the catalog read-only (nothing is created or written).
        #[arg(long)]
        read_only: bool,
    },
    /// Run DuckLake maintenance once and print what each task did.
    ///
    /// Flushes inlined rows to Parquet, merges adjacent small files, expires
    /// old snapshots and deletes unreferenced files, as `run` does on its
    /// schedule (ducklake.maintenance). Safe beside a running writer on a
    /// PostgreSQL-catalogued lake; for a DuckDB-file catalog, stop the writer first.
    Maintain {
        /// YAML configuration file (only `ducklake` and `logging` are used).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Validate a configuration without writing anything.
    ///
    /// Parses the file, checks every value, opens each data lake and reads its
    /// manifest. Prints warnings for unknown or ignored keys. Exit code 2 and a
    /// message naming the key when something is wrong.
    CheckConfig {
        /// YAML configuration file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Measure decode-only, extract-only, append-only and end-to-end ledgers/s on a local data lake.
    ///
    /// One pass over the range times each step on the same batches (decode,
    /// extraction, append into a fresh catalog); then a full pipeline run,
    /// printed as a fraction of each ceiling; plus peak memory (RSS), per
    /// batch size with --memory-batch-sizes. Nothing is written outside a
    /// temporary directory (or a PostgreSQL schema it drops).
    Bench(cli::bench::BenchArgs),
    /// Measure query latency during full-speed ingestion, and the slowdown.
    ///
    /// Ingests a lake range twice into temporary catalogs, alone and with
    /// --clients concurrent clients sending point lookups and aggregates
    /// through the query engine; prints p50/p99 latency per query kind and how
    /// much longer ingestion took.
    BenchQuery(cli::bench_query::QueryBenchArgs),
    /// Serve ledgers over gRPC (raw_ledger_service.RawLedgerService).
    ///
    /// Streams a data lake to any RawLedgerService client, such as `run` with
    /// a grpc source. Can pace ledgers like a live network and inject faults
    /// (dropped streams, stalls, a corrupt ledger) for testing clients.
    /// Prints `listening on ADDR` once it accepts connections.
    ServeLedgers(cli::serve_ledgers::ServeLedgersArgs),
    /// Write a synthetic Stellar chain as a SEP-54 data lake.
    ///
    /// A deterministic simulated network (payments, DEX offers and path
    /// payments, liquidity pools, claimable balances, sponsorship, Soroban
    /// contracts, fee bumps, failed transactions, upgrades, evictions) closes
    /// LedgerCloseMeta V2 ledgers with valid hashes and consistent
    /// ledger-entry changes. The same options always give the same bytes.
    /// Prints counts of ledgers, transactions, operations and bytes.
    ///
    /// Example: ducklake-ingester synth --out /tmp/lake --ledgers 1000 --size pubnet
    Synth(cli::synth::SynthArgs),
}

fn main() {
    // Both ring and aws-lc-rs are in the graph (gRPC, object store); rustls
    // needs one chosen before the first TLS connection.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // Generation is synchronous and needs no runtime.
    if let Command::Synth(args) = cli.command {
        std::process::exit(cli::synth::run(args));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(cli::exit::FAILED);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Run { config, keep_serving } => cli::run(&config, keep_serving).await,
            Command::Demo(args) => cli::demo::run(args).await,
            Command::CheckConfig { file } => cli::check_config(&file).await,
            Command::Serve { config, read_only } => cli::serve(&config, read_only).await,
            Command::Maintain { config } => cli::maintain(&config),
            Command::Bench(args) => cli::bench::run(args).await,
            Command::BenchQuery(args) => cli::bench_query::run(args).await,
            Command::ServeLedgers(args) => cli::serve_ledgers::run(args).await,
            Command::Synth(_) => unreachable!("handled before the runtime starts"),
        }
    });
    // Do not wait for detached tasks (a source blocked at the lake's tip).
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}
