//! `ducklake-operator`: runs `DuckLakeIngestion` resources as StatefulSets of
//! `ducklake-ingester`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use ducklake_operator::build::{Defaults, default_ingester_image};
use ducklake_operator::controller::{self, RunSettings};
use ducklake_operator::{render, telemetry};

/// Kubernetes operator for Stellar ledger ingestion into DuckDB / DuckLake.
///
/// A DuckLakeIngestion custom resource (group ingest.ducklake.dev, short name
/// `dli`) describes one ingester: its ledger sources, its store and its pod.
/// The operator runs it as a one-replica StatefulSet on a persistent volume,
/// with a ConfigMap holding the ingester configuration, a Service for the
/// query API and metrics, and optionally a ServiceMonitor, and reports
/// progress read from the ingester's /status in the resource's status.
#[derive(Parser)]
#[command(name = "ducklake-operator", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller against the cluster (in a pod, or with KUBECONFIG).
    Run(RunArgs),
    /// Print the DuckLakeIngestion CustomResourceDefinition (YAML), e.g.
    /// `ducklake-operator crd | kubectl apply -f -`.
    Crd,
    /// Print the objects the operator would apply for the resources in a
    /// file (ConfigMap, Service, StatefulSet, ServiceMonitor), without a
    /// cluster. Invalid resources are reported with the key at fault.
    Render {
        /// YAML file with one or more DuckLakeIngestion documents (`-`: stdin).
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
        /// Namespace for resources that do not name one.
        #[arg(short, long, default_value = "default")]
        namespace: String,
        /// Ingester image for resources without spec.image.
        #[arg(long, env = "DUCKLAKE_INGESTER_IMAGE", default_value_t = default_ingester_image())]
        ingester_image: String,
    },
    /// Print the JSON schema of the ingester configuration (spec.config).
    ConfigSchema,
}

#[derive(Parser)]
struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Ingester image for resources without spec.image.
    #[arg(long, env = "DUCKLAKE_INGESTER_IMAGE", default_value_t = default_ingester_image())]
    ingester_image: String,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "LISTEN_ADDRESS", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Elect a leader through a Lease so several replicas are safe.
    #[arg(long, env = "LEADER_ELECTION", default_value_t = false)]
    leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "ducklake-operator-leader")]
    lease_name: String,
    /// Namespace of the Lease (default: the operator's own, from POD_NAMESPACE).
    #[arg(long, env = "POD_NAMESPACE")]
    lease_namespace: Option<String>,
    /// This replica's identity in the Lease (default: the pod name, from POD_NAME or HOSTNAME).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds between looks at a healthy resource's progress.
    #[arg(long, default_value_t = 30)]
    poll_seconds: u64,
    /// Log level or tracing filter (RUST_LOG wins).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log format; default: json unless stderr is a terminal.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[tokio::main]
async fn main() {
    // Both ring and aws-lc-rs are in the graph; without a choice the first
    // TLS connection (to the API server) panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let code = match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Crd => {
            print!("{}", ducklake_crds::resource::crd_yaml());
            Ok(())
        }
        Command::Render { file, namespace, ingester_image } => render_file(&file, &namespace, ingester_image),
        Command::ConfigSchema => {
            let schema = schemars::schema_for!(ducklake_config::IngesterConfig);
            serde_json::to_string_pretty(&schema).map(|s| println!("{s}")).map_err(Into::into)
        }
    };
    if let Err(e) = code {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log_level, args.log_format.map(|f| matches!(f, LogFormat::Json)));
    let identity = args
        .identity
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("ducklake-operator-{}", std::process::id()));
    let lease = if args.leader_election {
        let ns = args
            .lease_namespace
            .context("--leader-election needs the Lease's namespace: --lease-namespace or POD_NAMESPACE")?;
        Some((ns, args.lease_name))
    } else {
        None
    };
    controller::run(RunSettings {
        namespace: args.namespace,
        defaults: Defaults { ingester_image: args.ingester_image },
        listen: args.listen,
        lease,
        identity,
        poll: Duration::from_secs(args.poll_seconds.max(1)),
    })
    .await
}

fn render_file(file: &std::path::Path, namespace: &str, ingester_image: String) -> anyhow::Result<()> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let resources = render::parse_resources(&text, namespace).with_context(|| file.display().to_string())?;
    let (yaml, warnings) =
        render::render(&resources, &Defaults { ingester_image }).with_context(|| file.display().to_string())?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    print!("{yaml}");
    Ok(())
}
