//! The built-in synthetic network as a ledger source: ledgers are generated
//! in process (see [`crate::synth`]), paced like a live network. The chain is
//! a pure function of the settings, so a restart regenerates up to the resume
//! point and continues with the same ledgers.

use crate::model::Range;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ducklake_config::{SyntheticConfig, SyntheticSize};
use futures::stream::BoxStream;
use stellar_xdr::{Limits, WriteXdr};
use tokio::sync::mpsc;

use super::{LedgerSource, SourceError, SourceObject};
use crate::decode::{Framing, ledger_seq};
use crate::synth::{Generator, SynthConfig};

pub struct SyntheticSource {
    cfg: SynthConfig,
    interval: Duration,
}

impl SyntheticSource {
    /// Checks the settings; `key` is the config key of the `synthetic` section.
    pub fn new(settings: &SyntheticConfig, passphrase: &str, key: &str) -> Result<Self, SourceError> {
        let cfg = synth_config(settings, passphrase);
        cfg.validate().map_err(|e| SourceError::config(key, e.0))?;
        Ok(SyntheticSource { cfg, interval: Duration::from_millis(settings.ledger_interval_ms) })
    }

    /// Without pacing (for a server that paces by itself).
    pub fn unpaced(mut self) -> Self {
        self.interval = Duration::ZERO;
        self
    }
}

/// The generator settings for a `synthetic` section.
pub fn synth_config(s: &SyntheticConfig, passphrase: &str) -> SynthConfig {
    let mut cfg = match s.size {
        SyntheticSize::Testnet => SynthConfig::testnet_like(s.seed),
        SyntheticSize::Pubnet => SynthConfig::pubnet_like(s.seed),
    };
    if let Some(n) = s.txs_per_ledger {
        cfg.txs_per_ledger = n;
    }
    cfg.network_passphrase = passphrase.to_string();
    cfg.first_ledger = s.first_ledger;
    cfg.upgrade_every = s.upgrade_every;
    if let Some(t) = s.genesis_close_time {
        cfg.genesis_close_time = t;
    }
    if let Some(i) = s.close_interval_seconds {
        cfg.close_interval_secs = i;
    }
    cfg
}

impl LedgerSource for SyntheticSource {
    fn describe(&self) -> String {
        format!(
            "synthetic network (seed {}, ~{} tx/ledger, every {:?})",
            self.cfg.seed, self.cfg.txs_per_ledger, self.interval
        )
    }

    fn stream(&self, range: Range) -> BoxStream<'static, Result<SourceObject, SourceError>> {
        let (tx, rx) = mpsc::channel(4);
        let (cfg, interval) = (self.cfg.clone(), self.interval);
        // Generation is CPU work: a thread of its own, paced by sleeping.
        let spawned =
            std::thread::Builder::new().name("synthetic".into()).spawn(move || generate(cfg, interval, range, tx));
        if let Err(e) = spawned {
            let e = SourceError::Io { what: "synthetic network".into(), message: format!("cannot start: {e}") };
            return Box::pin(futures::stream::once(async move { Err(e) }));
        }
        Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
    }
}

fn generate(cfg: SynthConfig, interval: Duration, range: Range, tx: mpsc::Sender<Result<SourceObject, SourceError>>) {
    let mut generator = match Generator::new(cfg) {
        Ok(g) => g,
        Err(e) => {
            let _ = tx.blocking_send(Err(SourceError::config("synthetic", e.0)));
            return;
        }
    };
    if range.from > generator.next_seq() {
        let t = Instant::now();
        generator.skip_to(range.from);
        tracing::info!(
            ledger = range.from,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "synthetic chain regenerated up to the resume point"
        );
    }
    let mut next_due = Instant::now();
    loop {
        let lcm = generator.next_ledger();
        let seq = ledger_seq(&lcm);
        if range.to.is_some_and(|to| seq > to) {
            return;
        }
        let data = match lcm.to_xdr(Limits::none()) {
            Ok(d) => d,
            Err(e) => {
                let _ = tx.blocking_send(Err(SourceError::Io {
                    what: format!("synthetic ledger {seq}"),
                    message: e.to_string(),
                }));
                return;
            }
        };
        if !interval.is_zero() {
            next_due += interval;
            if let Some(wait) = next_due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let object = SourceObject {
            what: format!("synthetic ledger {seq}"),
            framing: Framing::Lcm,
            first: seq,
            last: seq,
            data: Bytes::from(data),
        };
        if tx.blocking_send(Ok(object)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use ducklake_synth::{Generator, SYNTH_PASSPHRASE, SynthConfig};

    /// The generator's chains are what the extractor reads: every ledger of
    /// a busy chain extracts (the generator's own tests check hashes, chain
    /// and meta from the XDR alone).
    #[test]
    fn the_extractor_accepts_synthetic_ledgers() {
        let cfg = SynthConfig { txs_per_ledger: 40, ..SynthConfig::testnet_like(7) };
        let ctx = crate::extract::ExtractContext::new(&cfg.network_passphrase);
        let mut transactions = 0;
        for lcm in Generator::new(cfg).expect("valid config").take(60) {
            let rows = crate::extract::extract_ledger(&lcm, &ctx).expect("the extractor accepts the ledger");
            transactions += rows.tables.transactions.len();
        }
        assert!(transactions > 1_000, "{transactions} transactions extracted");
    }

    #[test]
    fn the_synthetic_passphrase_is_the_one_the_config_names_synthnet() {
        assert_eq!(SYNTH_PASSPHRASE, ducklake_config::SYNTHETIC_PASSPHRASE);
    }
}
