//! `ducklake-operator`: runs `DuckLakeIngestion` resources as StatefulSets of
//! `ducklake-ingester`.
//!
//! This is the command-line skeleton; the controller (watch, pure object
//! builders, server-side apply, status) arrives with the operator issue.

use clap::{Parser, Subcommand};

/// Kubernetes operator for Stellar ledger ingestion into DuckDB / DuckLake.
///
/// A DuckLakeIngestion custom resource describes one ingester: its ledger
/// sources, catalog and storage. The operator turns it into a StatefulSet on
/// a persistent volume, a ConfigMap holding the ingester configuration,
/// Services for the query API and metrics, and a ServiceMonitor, and reports
/// progress from the ingester's /status endpoint in the resource's status.
#[derive(Parser)]
#[command(name = "ducklake-operator", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the JSON schema of the ingester configuration that the custom
    /// resource embeds (the CRD itself comes with the operator issue).
    ConfigSchema,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::ConfigSchema) => {
            let schema = schemars::schema_for!(ducklake_crds::IngesterConfig);
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(())
        }
        None => {
            anyhow::bail!("the controller is not implemented yet; see `ducklake-operator --help` for what is available")
        }
    }
}
