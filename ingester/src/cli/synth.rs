//! `ducklake-ingester synth`: writes a synthetic chain as a SEP-54 data lake.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::exit;
use crate::synth::{Generator, SYNTH_PASSPHRASE, SynthConfig, write_lake};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// About 5 transactions per ledger, 30% of them Soroban.
    Testnet,
    /// About 300 transactions per ledger, many failing path payments.
    Pubnet,
}

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Lake directory to write (created if missing; must not hold another lake's manifest).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of ledgers to generate.
    #[arg(long, value_name = "N")]
    pub ledgers: u32,
    /// Seed: the same seed and options always give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Traffic preset.
    #[arg(long, value_enum, default_value = "testnet")]
    pub size: Size,
    /// Average transactions per ledger (overrides the preset).
    #[arg(long, value_name = "N")]
    pub txs_per_ledger: Option<u32>,
    /// Network passphrase the transactions are hashed and signed for.
    #[arg(long, value_name = "P", default_value = SYNTH_PASSPHRASE)]
    pub network_passphrase: String,
    /// First ledger of the chain (its predecessor is a synthetic genesis).
    #[arg(long, value_name = "SEQ", default_value_t = 2)]
    pub first_ledger: u32,
    /// Protocol version of the first ledger (23-26); upgrades raise it every --upgrade-every ledgers.
    #[arg(long, value_name = "V", default_value_t = crate::synth::MIN_PROTOCOL)]
    pub protocol: u32,
    /// Ledgers between ledger upgrades (0 = none): each raises the protocol by one up to 26, then toggles max_tx_set_size.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub upgrade_every: u32,
    /// Ledgers per object (galexie's ledgers_per_file).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub ledgers_per_file: u32,
    /// Objects per partition folder (galexie's files_per_partition).
    #[arg(long, value_name = "N", default_value_t = 64000)]
    pub files_per_partition: u32,
}

impl SynthArgs {
    pub fn config(&self) -> SynthConfig {
        let mut cfg = match self.size {
            Size::Testnet => SynthConfig::testnet_like(self.seed),
            Size::Pubnet => SynthConfig::pubnet_like(self.seed),
        };
        if let Some(n) = self.txs_per_ledger {
            cfg.txs_per_ledger = n;
        }
        cfg.network_passphrase = self.network_passphrase.clone();
        cfg.first_ledger = self.first_ledger;
        cfg.protocol_version = self.protocol;
        cfg.upgrade_every = self.upgrade_every;
        cfg
    }
}

pub fn run(args: SynthArgs) -> i32 {
    let cfg = args.config();
    let mut generator = match Generator::new(cfg.clone()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    if args.ledgers_per_file == 0 || args.files_per_partition == 0 {
        eprintln!("error: --ledgers-per-file and --files-per-partition must be at least 1");
        return exit::CONFIG;
    }
    let started = Instant::now();
    let mut gen_time = Duration::ZERO;
    let ledgers = (0..args.ledgers).map(|_| {
        let t = Instant::now();
        let lcm = generator.next_ledger();
        gen_time += t.elapsed();
        lcm
    });
    let summary = match write_lake(
        &args.out,
        &cfg.network_passphrase,
        args.ledgers_per_file,
        args.files_per_partition,
        ledgers,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let totals = generator.totals();
    let range = match (summary.first, summary.last) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => "none".into(),
    };
    println!("lake: {}", args.out.display());
    println!("network_passphrase: {}", cfg.network_passphrase);
    println!("ledgers: {} ({range})", totals.ledgers);
    println!(
        "transactions: {} ({} successful, {} failed)",
        totals.transactions,
        totals.successful_transactions,
        totals.transactions - totals.successful_transactions
    );
    println!("operations: {} ({} in successful transactions)", totals.operations, totals.successful_operations);
    println!("bytes: {} in {} objects ({} bytes of XDR)", summary.bytes, summary.objects, summary.xdr_bytes);
    let secs = gen_time.as_secs_f64().max(1e-9);
    println!(
        "generation: {:.0} ledgers/s ({:.2} ms per ledger); total with encoding and writing {:.2} s",
        totals.ledgers as f64 / secs,
        secs * 1000.0 / totals.ledgers.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    if !summary.partial_objects.is_empty() {
        eprintln!(
            "warning: {} object(s) hold fewer ledgers than their key's range (first {}); readers that require full objects will reject them: choose --first-ledger and --ledgers to align with --ledgers-per-file",
            summary.partial_objects.len(),
            summary.partial_objects[0]
        );
    }
    exit::OK
}
