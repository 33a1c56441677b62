//! `serve-ledgers`: the ledger server over a data lake or the synthetic
//! network. It is the ledger source of the demo, the integration tests and
//! the kind e2e, so it can pace ledgers like a live network and inject the
//! faults a real stream shows (drops, stalls, corrupt ledgers).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::synth::Size;
use super::{exit, parse_duration};
use crate::ledger_server::{LedgerFeed, LedgerServer, LiveClock, ServeOptions, SourceFeed};

/// `serve-ledgers` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeLedgersArgs {
    /// Data lake directory to serve (SEP-54 layout, with or without .config.json).
    #[arg(long, value_name = "DIR", required_unless_present = "synthetic", conflicts_with = "synthetic")]
    pub lake: Option<PathBuf>,
    /// Serve the built-in synthetic network instead of a lake (deterministic:
    /// the same --seed and --size always give the same chain).
    #[arg(long)]
    pub synthetic: bool,
    /// Seed of the synthetic chain.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Traffic preset of the synthetic chain.
    #[arg(long, value_enum, default_value = "testnet")]
    pub size: Size,
    /// Average transactions per synthetic ledger (overrides the preset).
    #[arg(long, value_name = "N")]
    pub txs_per_ledger: Option<u32>,
    /// Network passphrase; default: the lake's .config.json (else pubnet), or
    /// the synthetic network's own passphrase.
    #[arg(long)]
    pub network_passphrase: Option<String>,
    /// Synthetic: ledgers close at wall-clock times from start-up, one per
    /// `--ledger-interval` (at least 1 s), so a client paced by it is at the
    /// tip like on a live network (for demos and cluster tests).
    #[arg(long)]
    pub live_clock: bool,
    /// Address to listen on; port 0 picks a free port. The bound address is
    /// printed on stdout as `listening on ADDR`.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Pace ledgers like a live network (e.g. 5s, 500ms); default: as fast as the client reads.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub ledger_interval: Option<Duration>,
    /// Fault injection: end every stream with UNAVAILABLE after N ledgers.
    #[arg(long, value_name = "N")]
    pub drop_every: Option<u32>,
    /// Fault injection: the first stream goes silent (stays open) after N ledgers.
    #[arg(long, value_name = "N")]
    pub stall_after: Option<u32>,
    /// Fault injection: send ledger SEQ with its XDR truncated.
    #[arg(long, value_name = "SEQ")]
    pub corrupt_ledger: Option<u32>,
    /// Fault injection: leave ledger SEQ out of the stream (a gap).
    #[arg(long, value_name = "SEQ")]
    pub skip_ledger: Option<u32>,
    /// Largest message sent, in bytes.
    #[arg(long, default_value_t = 128 << 20)]
    pub max_message_size: usize,
}

/// Runs `serve-ledgers` until SIGTERM/SIGINT.
pub async fn run(args: ServeLedgersArgs) -> i32 {
    super::init_logging("info", None);
    let Some(lake_dir) = args.lake.clone() else {
        return run_synthetic(&args).await;
    };
    if args.live_clock {
        eprintln!("error: --live-clock applies to --synthetic only (a lake's ledgers keep their close times)");
        return exit::CONFIG;
    }
    let lake = lake_dir.display().to_string();
    let passphrase = match &args.network_passphrase {
        Some(p) => p.clone(),
        None => read_manifest_passphrase(&lake_dir).unwrap_or_else(|| ducklake_config::MAINNET_PASSPHRASE.to_string()),
    };
    let cfg: ducklake_config::DatastoreConfig =
        match serde_json::from_value(serde_json::json!({"type": "FS", "path": lake})) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: --lake: {e}");
                return exit::CONFIG;
            }
        };
    let source = match crate::source::datastore::DatastoreSource::open(&cfg, &passphrase, "--lake").await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    let feed = Arc::new(SourceFeed { source: Arc::new(source), max_object_bytes: 1 << 30 });
    serve_feed(feed, &args, None).await
}

async fn run_synthetic(args: &ServeLedgersArgs) -> i32 {
    use ducklake_config::{SYNTHETIC_PASSPHRASE, SyntheticConfig, SyntheticSize};
    let settings = SyntheticConfig {
        seed: args.seed,
        size: match args.size {
            Size::Testnet => SyntheticSize::Testnet,
            Size::Pubnet => SyntheticSize::Pubnet,
        },
        txs_per_ledger: args.txs_per_ledger,
        ledger_interval_ms: 0,
        ..SyntheticConfig::default()
    };
    let mut live_clock = None;
    let settings = if args.live_clock {
        let interval = args.ledger_interval.map_or(1, |d| d.as_secs().max(1));
        live_clock = Some(LiveClock {
            start: tokio::time::Instant::now(),
            first_ledger: settings.first_ledger,
            interval: Duration::from_secs(interval),
        });
        SyntheticConfig {
            // The generator stamps ledger `first_ledger` one interval after
            // genesis; the clock releases it now, so genesis closed one interval ago.
            genesis_close_time: Some(
                (crate::model::Timestamp::now().unix_seconds().max(0) as u64).saturating_sub(interval),
            ),
            close_interval_seconds: Some(u32::try_from(interval).unwrap_or(u32::MAX)),
            ..settings
        }
    } else {
        settings
    };
    let passphrase = args.network_passphrase.clone().unwrap_or_else(|| SYNTHETIC_PASSPHRASE.to_string());
    let source = match crate::source::synthetic::SyntheticSource::new(&settings, &passphrase, "--synthetic") {
        Ok(s) => s.unpaced(),
        Err(e) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    let feed = Arc::new(SourceFeed { source: Arc::new(source), max_object_bytes: 1 << 30 });
    serve_feed(feed, args, live_clock).await
}

/// Serves a feed with the pacing and fault options of `args`.
pub async fn serve_feed(feed: Arc<dyn LedgerFeed>, args: &ServeLedgersArgs, live_clock: Option<LiveClock>) -> i32 {
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --listen {}: {e}", args.listen);
            return exit::CONFIG;
        }
    };
    let addr = listener.local_addr().map_or(args.listen.to_string(), |a| a.to_string());
    tracing::info!(%addr, feed = %feed.describe(), "serving raw_ledger_service.RawLedgerService");
    // Tests and scripts read the bound address from stdout.
    println!("listening on {addr}");
    let options = ServeOptions {
        ledger_interval: args.ledger_interval,
        drop_every: args.drop_every,
        stall_after: args.stall_after,
        corrupt_ledger: args.corrupt_ledger,
        skip_ledger: args.skip_ledger,
        max_message_size: args.max_message_size,
        live_clock,
    };
    let shutdown = async {
        super::wait_for_signal().await;
        tracing::info!("signal received: stopping the ledger server");
    };
    match LedgerServer::new(feed, options).serve(listener, shutdown).await {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: ledger server: {e}");
            exit::FAILED
        }
    }
}

fn read_manifest_passphrase(lake: &std::path::Path) -> Option<String> {
    let text = std::fs::read(lake.join(crate::source::layout::MANIFEST_FILE)).ok()?;
    serde_json::from_slice::<crate::source::layout::Manifest>(&text).ok()?.network_passphrase
}
