//! A deterministic generator of valid Stellar ledger chains.
//!
//! [`Generator`] simulates a small network — accounts, trustlines, an order
//! book, liquidity pools, claimable balances, sponsorships and Soroban
//! contracts — and closes one `LedgerCloseMeta::V2` (transaction meta V4) per
//! call: correct transaction and header hashes, a previous-hash chain, fee
//! processing, ledger-entry changes whose before/after values follow the
//! simulated state, contract events, upgrades and evictions. The chain is a
//! pure function of [`SynthConfig`]: ledger N is always the same bytes.
//!
//! ```text
//! plan (choose txs, applying each to the live state) ─► roll back ─► process
//! (fees for all, then apply each with meta, then refunds) ─► upgrades,
//! eviction ─► tx set, header, hash chain ─► LedgerCloseMeta::V2
//! ```
//!
//! [`write_lake`] stores a chain as a SEP-54 data lake, which the `synth`
//! CLI command wraps.

mod config;
mod dex;
mod events;
mod funds;
pub mod lake;
mod ledger;
mod ops;
mod plan;
mod rng;
mod soroban;
mod state;
mod txs;
mod universe;
mod wasm;
mod xdr;

#[cfg(test)]
mod tests;

use stellar_xdr::{
    Hash, LedgerCloseMeta, LedgerEntryChanges, LedgerHeader, LedgerHeaderExt, LedgerUpgrade, StellarValue,
    StellarValueExt, TimePoint,
};

pub use lake::{LakeError, LakeSummary, write_lake};

use funds::Env;
use ledger::{Chain, Close};
use plan::Planner;
use rng::Rng;
use state::{Account, Entry, Key, State, Stored};
use universe::{Universe, sha256};

/// Default passphrase: synthetic ledgers never pose as a real network.
/// The ingester's configuration names its schema `synthnet` (a test there
/// keeps the two equal).
pub const SYNTH_PASSPHRASE: &str = "Ducklake Synthetic Network ; 2025";
/// 100 billion XLM in stroops, the genesis supply.
pub const TOTAL_COINS: i64 = 1_000_000_000_000_000_000;
/// Oldest protocol with LCM V2 / meta V4 shapes.
pub const MIN_PROTOCOL: u32 = 23;
/// Newest protocol the generator upgrades to.
pub const LATEST_PROTOCOL: u32 = 26;
pub const BASE_FEE: u32 = 100;
pub const BASE_RESERVE: u32 = 5_000_000;

/// What to generate. The chain is a pure function of these values.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    pub seed: u64,
    pub network_passphrase: String,
    /// First generated ledger (>= 2); its predecessor is a synthetic genesis.
    pub first_ledger: u32,
    /// Average transactions per ledger (each ledger draws from half to 1.5x).
    pub txs_per_ledger: u32,
    pub close_interval_secs: u32,
    /// Protocol of the first ledger (23..=26).
    pub protocol_version: u32,
    /// Close time of the genesis ledger (unix seconds).
    pub genesis_close_time: u64,
    /// A ledger upgrade every this many ledgers (0 = never): the protocol
    /// goes up by one until [`LATEST_PROTOCOL`], then max_tx_set_size toggles.
    pub upgrade_every: u32,
    /// Share of transactions planned to fail (underfunded payments, missed
    /// path-payment bounds, trapped contract calls, ...).
    pub failure_rate: f64,
    /// Share of transactions that are Soroban transactions.
    pub soroban_share: f64,
}

impl SynthConfig {
    /// A quiet test network: about 5 transactions per ledger.
    pub fn testnet_like(seed: u64) -> Self {
        SynthConfig {
            seed,
            network_passphrase: SYNTH_PASSPHRASE.to_string(),
            first_ledger: 2,
            txs_per_ledger: 5,
            close_interval_secs: 5,
            protocol_version: MIN_PROTOCOL,
            genesis_close_time: 1_735_689_600,
            upgrade_every: 100,
            failure_rate: 0.05,
            soroban_share: 0.3,
        }
    }

    /// Busy like pubnet: about 300 transactions per ledger, many failing
    /// arbitrage path payments.
    pub fn pubnet_like(seed: u64) -> Self {
        SynthConfig { txs_per_ledger: 300, failure_rate: 0.3, soroban_share: 0.15, ..SynthConfig::testnet_like(seed) }
    }

    pub fn validate(&self) -> Result<(), SynthConfigError> {
        let err = |m: String| Err(SynthConfigError(m));
        if self.network_passphrase.is_empty() {
            return err("network_passphrase must not be empty".into());
        }
        if self.first_ledger < 2 {
            return err(format!("first_ledger must be >= 2 (ledger 1 is genesis), got {}", self.first_ledger));
        }
        if !(MIN_PROTOCOL..=LATEST_PROTOCOL).contains(&self.protocol_version) {
            return err(format!(
                "protocol_version must be {MIN_PROTOCOL}..={LATEST_PROTOCOL} (LCM V2 / meta V4), got {}",
                self.protocol_version
            ));
        }
        if self.close_interval_secs == 0 {
            return err("close_interval_secs must be at least 1".into());
        }
        if self.txs_per_ledger > 5_000 {
            return err(format!("txs_per_ledger must be at most 5000, got {}", self.txs_per_ledger));
        }
        for (name, v) in [("failure_rate", self.failure_rate), ("soroban_share", self.soroban_share)] {
            if !(0.0..=1.0).contains(&v) {
                return err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        Ok(())
    }
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig::testnet_like(0)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid synthetic-chain configuration: {0}")]
pub struct SynthConfigError(pub String);

/// Running counts over the generated ledgers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthTotals {
    pub ledgers: u64,
    /// Applied transactions (failed ones included).
    pub transactions: u64,
    pub successful_transactions: u64,
    /// Operations in the transaction sets (inner operations of fee bumps).
    pub operations: u64,
    /// Operations of successful transactions.
    pub successful_operations: u64,
}

/// Generates consecutive ledgers; also an endless iterator of them.
pub struct Generator {
    cfg: SynthConfig,
    u: Universe,
    st: State,
    planner: Planner,
    rng: Rng,
    sig_rng: Rng,
    chain: Chain,
    upgrades: u32,
    network_config: config::NetworkConfig,
    totals: SynthTotals,
}

impl Generator {
    pub fn new(cfg: SynthConfig) -> Result<Self, SynthConfigError> {
        cfg.validate()?;
        let network_id = sha256(&[cfg.network_passphrase.as_bytes()]);
        let u = Universe::new(cfg.seed, network_id);
        let mut st = State::new();
        let anchor = cfg.first_ledger - 1;
        st.seq = anchor;
        let root = Account { balance: TOTAL_COINS, thresholds: [1, 0, 0, 0], ..Default::default() };
        st.put_untracked(
            Key::Account(u.root),
            Some(Stored { entry: Entry::Account(root), last_modified: anchor, sponsor: None }),
        );
        let genesis = LedgerHeader {
            ledger_version: cfg.protocol_version,
            previous_ledger_hash: Hash([0; 32]),
            scp_value: StellarValue {
                tx_set_hash: Hash([0; 32]),
                close_time: TimePoint(cfg.genesis_close_time),
                upgrades: Default::default(),
                ext: StellarValueExt::Basic,
            },
            tx_set_result_hash: Hash([0; 32]),
            bucket_list_hash: Hash(sha256(&[b"genesis bucket list", &cfg.seed.to_be_bytes()])),
            ledger_seq: anchor,
            total_coins: TOTAL_COINS,
            fee_pool: 0,
            inflation_seq: 0,
            id_pool: 0,
            base_fee: BASE_FEE,
            base_reserve: BASE_RESERVE,
            max_tx_set_size: 1_000,
            skip_list: [Hash([0; 32]), Hash([0; 32]), Hash([0; 32]), Hash([0; 32])],
            ext: LedgerHeaderExt::V0,
        };
        let chain = Chain { prev_hash: ledger::header_hash(&genesis), prev: genesis };
        let mut planner = Planner::new(cfg.seed, &u);
        planner.failure_rate = cfg.failure_rate;
        planner.soroban_share = cfg.soroban_share;
        planner.min_users = (cfg.txs_per_ledger as usize * 3).max(20);
        Ok(Generator {
            rng: Rng::derive(cfg.seed, 1),
            sig_rng: Rng::derive(cfg.seed, 2),
            cfg,
            u,
            st,
            planner,
            chain,
            upgrades: 0,
            network_config: config::NetworkConfig::new(anchor),
            totals: SynthTotals::default(),
        })
    }

    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    /// sha256 of the network passphrase.
    pub fn network_id(&self) -> [u8; 32] {
        self.u.network_id
    }

    /// Sequence of the ledger [`Generator::next_ledger`] returns next.
    pub fn next_seq(&self) -> u32 {
        self.chain.prev.ledger_seq + 1
    }

    pub fn totals(&self) -> SynthTotals {
        self.totals
    }

    /// Close time of ledger `seq`: the genesis time plus one interval per ledger.
    pub fn close_time_of(&self, seq: u32) -> u64 {
        let after = u64::from(seq.saturating_sub(self.cfg.first_ledger - 1));
        self.cfg.genesis_close_time + after * u64::from(self.cfg.close_interval_secs)
    }

    /// Generates and discards ledgers up to `seq - 1`, so the next one is `seq`.
    pub fn skip_to(&mut self, seq: u32) {
        while self.next_seq() < seq {
            self.next_ledger();
        }
    }

    fn tx_count(&mut self) -> usize {
        let mean = u64::from(self.cfg.txs_per_ledger);
        if mean == 0 || self.rng.chance(0.02) {
            return 0;
        }
        (mean / 2 + self.rng.below(mean + 1)) as usize
    }

    /// The ledger's upgrade and its meta changes: every second upgrade
    /// changes a Soroban setting; the others raise the protocol, then toggle
    /// max_tx_set_size.
    fn upgrade_due(&mut self, seq: u32) -> Option<(LedgerUpgrade, LedgerEntryChanges)> {
        let every = self.cfg.upgrade_every;
        if every == 0 || !(seq - self.cfg.first_ledger + 1).is_multiple_of(every) {
            return None;
        }
        self.upgrades += 1;
        if self.upgrades.is_multiple_of(2) {
            return Some(self.network_config.upgrade(self.upgrades / 2 - 1, seq));
        }
        let h = &self.chain.prev;
        let up = if h.ledger_version < LATEST_PROTOCOL {
            LedgerUpgrade::Version(h.ledger_version + 1)
        } else {
            LedgerUpgrade::MaxTxSetSize(if h.max_tx_set_size == 1_000 { 1_200 } else { 1_000 })
        };
        Some((up, LedgerEntryChanges::default()))
    }

    /// Closes the next ledger.
    pub fn next_ledger(&mut self) -> LedgerCloseMeta {
        let seq = self.next_seq();
        let close_time = self.close_time_of(seq);
        self.st.seq = seq;
        let n = self.tx_count();
        let env = Env { u: &self.u, base_reserve: i64::from(self.chain.prev.base_reserve), seq, close_time };
        let (classic, mut soroban) = self.planner.plan_ledger(&mut self.st, &env, &mut self.rng, n);

        soroban.sort_by_key(|t| t.hash);
        let order: Vec<&txs::PlannedTx> = classic.iter().chain(soroban.iter()).collect();
        let processing = txs::process(&mut self.st, &env, i64::from(self.chain.prev.base_fee), &order);
        for (tx, p) in order.iter().zip(&processing) {
            let ops = tx.inner().operations.len() as u64;
            let ok = matches!(
                p.result.result.result,
                stellar_xdr::TransactionResultResult::TxSuccess(_)
                    | stellar_xdr::TransactionResultResult::TxFeeBumpInnerSuccess(_)
            );
            self.totals.transactions += 1;
            self.totals.operations += ops;
            if ok {
                self.totals.successful_transactions += 1;
                self.totals.successful_operations += ops;
            }
        }
        drop(order);
        self.totals.ledgers += 1;
        let upgrade = self.upgrade_due(seq);
        let evicted = ledger::evict(&mut self.st, &self.u, seq);
        let close = Close {
            u: &self.u,
            seq,
            close_time,
            classic,
            soroban,
            processing,
            upgrade,
            evicted,
            fee_pool: self.st.hdr.fee_pool,
            id_pool: self.st.hdr.id_pool,
            soroban_bytes: self.st.soroban_bytes.max(0) as u64,
            node_signature: self.sig_rng.bytes(),
        };
        ledger::close(&mut self.chain, close)
    }
}

impl Iterator for Generator {
    type Item = LedgerCloseMeta;

    fn next(&mut self) -> Option<LedgerCloseMeta> {
        Some(self.next_ledger())
    }
}
