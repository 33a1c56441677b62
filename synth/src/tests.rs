//! Properties of generated chains, checked from the XDR alone (independent
//! of the generator's internals): hashes, hash chain, transaction hashes,
//! ledger-entry change consistency, conservation of lumens, coverage.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};
use stellar_xdr::{
    Asset, ClaimableBalanceEntry, LedgerCloseMeta, LedgerCloseMetaV2, LedgerEntry, LedgerEntryChange,
    LedgerEntryChanges, LedgerEntryData, LedgerKey, Limits, LiquidityPoolEntryBody, OperationType, ReadXdr,
    TransactionEnvelope, TransactionMeta, TransactionPhase, TransactionResultResult, TxSetComponent, WriteXdr,
};

use super::*;

fn v2(lcm: &LedgerCloseMeta) -> &LedgerCloseMetaV2 {
    match lcm {
        LedgerCloseMeta::V2(m) => m,
        _ => panic!("generator emits LCM V2"),
    }
}

fn xdr(v: &impl WriteXdr) -> Vec<u8> {
    v.to_xdr(Limits::none()).unwrap()
}

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn chain(cfg: SynthConfig, n: usize) -> Vec<LedgerCloseMeta> {
    Generator::new(cfg).unwrap().take(n).collect()
}

fn envelopes(m: &LedgerCloseMetaV2) -> Vec<&TransactionEnvelope> {
    let stellar_xdr::GeneralizedTransactionSet::V1(set) = &m.tx_set;
    let mut out = Vec::new();
    for phase in set.phases.iter() {
        match phase {
            TransactionPhase::V0(cs) => {
                for c in cs.iter() {
                    let TxSetComponent::TxsetCompTxsMaybeDiscountedFee(c) = c;
                    out.extend(c.txs.iter());
                }
            }
            TransactionPhase::V1(p) => {
                for stage in p.execution_stages.iter() {
                    for cluster in stage.0.iter() {
                        out.extend(cluster.0.iter());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn same_config_same_bytes() {
    let a = chain(SynthConfig::testnet_like(42), 40);
    let b = chain(SynthConfig::testnet_like(42), 40);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(xdr(x), xdr(y));
    }
    let c = chain(SynthConfig::testnet_like(43), 5);
    assert_ne!(xdr(&a[4]), xdr(&c[4]), "another seed gives another chain");
    let mut g = Generator::new(SynthConfig::testnet_like(42)).unwrap();
    g.skip_to(32);
    assert_eq!(g.next_seq(), 32);
    assert_eq!(xdr(&g.next_ledger()), xdr(&a[30]), "skip_to lands on the same ledger");
}

#[test]
fn hashes_chain_and_pair() {
    let cfg = SynthConfig { txs_per_ledger: 40, ..SynthConfig::testnet_like(7) };
    let network_id = sha(cfg.network_passphrase.as_bytes());
    let g = Generator::new(cfg.clone()).unwrap();
    let mut prev = g.chain.prev_hash;
    let mut prev_seq = cfg.first_ledger - 1;
    let mut prev_close = cfg.genesis_close_time;
    let mut txs = 0;
    for lcm in g.take(60) {
        let m = v2(&lcm);
        let h = &m.ledger_header;
        assert_eq!(h.hash.0, sha(&xdr(&h.header)), "header hash");
        assert_eq!(h.header.previous_ledger_hash.0, prev, "previous hash");
        assert_eq!(h.header.ledger_seq, prev_seq + 1);
        assert_eq!(h.header.scp_value.close_time.0, prev_close + 5);
        assert_eq!(h.header.scp_value.tx_set_hash.0, sha(&xdr(&m.tx_set)), "tx set hash");
        let stellar_xdr::GeneralizedTransactionSet::V1(set) = &m.tx_set;
        assert_eq!(set.previous_ledger_hash.0, prev);
        // Results pair with envelopes by hash, computed by stellar-xdr itself.
        let by_hash: HashMap<[u8; 32], &TransactionEnvelope> =
            envelopes(m).into_iter().map(|e| (e.hash(network_id).unwrap(), e)).collect();
        assert_eq!(by_hash.len(), m.tx_processing.len());
        for p in m.tx_processing.iter() {
            let env = by_hash.get(&p.result.transaction_hash.0).expect("result pairs with an envelope");
            if let TransactionEnvelope::TxFeeBump(fb) = env {
                let stellar_xdr::FeeBumpTransactionInnerTx::Tx(inner) = &fb.tx.inner_tx;
                let inner_hash = TransactionEnvelope::Tx(inner.clone()).hash(network_id).unwrap();
                match &p.result.result.result {
                    TransactionResultResult::TxFeeBumpInnerSuccess(r)
                    | TransactionResultResult::TxFeeBumpInnerFailed(r) => {
                        assert_eq!(r.transaction_hash.0, inner_hash)
                    }
                    other => panic!("fee bump with result {other:?}"),
                }
            }
            txs += 1;
        }
        prev = h.hash.0;
        prev_seq = h.header.ledger_seq;
        prev_close = h.header.scp_value.close_time.0;
    }
    assert!(txs > 1_000, "{txs} transactions checked");
}

/// Replays every change of the meta against a map of live entries.
#[derive(Default)]
struct Replay {
    live: HashMap<Vec<u8>, LedgerEntry>,
    archived: HashMap<Vec<u8>, LedgerEntry>,
    restored: usize,
}

impl Replay {
    fn apply(&mut self, seq: u32, what: &str, changes: &LedgerEntryChanges) {
        let mut last_state: Option<Vec<u8>> = None;
        for c in changes.0.iter() {
            match c {
                LedgerEntryChange::State(e) => {
                    let k = xdr(&e.to_key());
                    if let Some(known) = self.live.get(&k) {
                        assert_eq!(xdr(known), xdr(e), "ledger {seq} {what}: STATE differs from the last value");
                    }
                    last_state = Some(k);
                }
                LedgerEntryChange::Updated(e) => {
                    let k = xdr(&e.to_key());
                    assert_eq!(last_state.take().as_ref(), Some(&k), "ledger {seq} {what}: UPDATED follows its STATE");
                    assert_eq!(e.last_modified_ledger_seq, seq, "ledger {seq} {what}: last modified");
                    self.live.insert(k, e.clone());
                }
                LedgerEntryChange::Created(e) => {
                    let k = xdr(&e.to_key());
                    assert!(!self.live.contains_key(&k), "ledger {seq} {what}: CREATED an existing entry {e:?}");
                    assert_eq!(e.last_modified_ledger_seq, seq);
                    self.live.insert(k, e.clone());
                }
                LedgerEntryChange::Removed(key) => {
                    let k = xdr(key);
                    assert_eq!(last_state.take().as_ref(), Some(&k), "ledger {seq} {what}: REMOVED follows its STATE");
                    self.live.remove(&k);
                }
                LedgerEntryChange::Restored(e) => {
                    let k = xdr(&e.to_key());
                    assert!(!self.live.contains_key(&k), "ledger {seq} {what}: RESTORED a live entry");
                    if !matches!(e.data, LedgerEntryData::Ttl(_)) {
                        assert!(self.archived.remove(&k).is_some(), "ledger {seq}: RESTORED an entry never archived");
                        self.restored += 1;
                    }
                    self.live.insert(k, e.clone());
                }
            }
        }
    }

    fn ledger(&mut self, m: &LedgerCloseMetaV2) {
        let seq = m.ledger_header.header.ledger_seq;
        for p in m.tx_processing.iter() {
            self.apply(seq, "fee", &p.fee_processing);
        }
        for p in m.tx_processing.iter() {
            let TransactionMeta::V4(meta) = &p.tx_apply_processing else { panic!("meta v4") };
            self.apply(seq, "before", &meta.tx_changes_before);
            for (i, op) in meta.operations.iter().enumerate() {
                self.apply(seq, &format!("op {i}"), &op.changes);
            }
            self.apply(seq, "after", &meta.tx_changes_after);
        }
        for p in m.tx_processing.iter() {
            self.apply(seq, "refund", &p.post_tx_apply_fee_processing);
        }
        for u in m.upgrades_processing.iter() {
            self.apply(seq, "upgrade", &u.changes);
        }
        for k in m.evicted_keys.iter() {
            let kb = xdr(k);
            let e = self.live.remove(&kb).unwrap_or_else(|| panic!("ledger {seq}: evicted a missing entry {k:?}"));
            if let LedgerKey::ContractData(d) = k
                && d.durability == stellar_xdr::ContractDataDurability::Persistent
            {
                self.archived.insert(kb, e);
            } else if let LedgerKey::ContractCode(_) = k {
                self.archived.insert(kb, e);
            }
        }
    }

    /// Lumens held by accounts, claimable balances and pools.
    fn lumens(&self) -> i128 {
        let mut total = 0i128;
        for e in self.live.values() {
            total += match &e.data {
                LedgerEntryData::Account(a) => i128::from(a.balance),
                LedgerEntryData::ClaimableBalance(ClaimableBalanceEntry { asset: Asset::Native, amount, .. }) => {
                    i128::from(*amount)
                }
                LedgerEntryData::LiquidityPool(p) => {
                    let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(c) = &p.body;
                    let mut v = 0;
                    if c.params.asset_a == Asset::Native {
                        v += i128::from(c.reserve_a);
                    }
                    if c.params.asset_b == Asset::Native {
                        v += i128::from(c.reserve_b);
                    }
                    v
                }
                _ => 0,
            };
        }
        total
    }
}

#[test]
fn meta_replays_consistently_and_conserves_lumens() {
    let cfg = SynthConfig { txs_per_ledger: 30, ..SynthConfig::testnet_like(11) };
    let mut replay = Replay::default();
    let mut g = Generator::new(cfg).unwrap();
    for i in 0..150 {
        let lcm = g.next_ledger();
        let m = v2(&lcm);
        replay.ledger(m);
        let h = &m.ledger_header.header;
        if i > 0 {
            // Every live account has appeared in the meta by now (root pays in ledger 2).
            assert_eq!(
                replay.lumens() + i128::from(h.fee_pool),
                i128::from(h.total_coins),
                "ledger {}: lumens are conserved",
                h.ledger_seq
            );
        }
        // The replayed entries agree with the generator's own state.
        let accounts = g.st.accounts.len();
        let replayed = replay.live.values().filter(|e| matches!(e.data, LedgerEntryData::Account(_))).count();
        assert_eq!(accounts, replayed, "ledger {}: account count", h.ledger_seq);
    }
    assert!(replay.restored > 0, "some archived entry was restored");
}

#[test]
fn every_operation_type_appears_in_200_ledgers() {
    let mut g = Generator::new(SynthConfig::testnet_like(3)).unwrap();
    let mut ok_types = BTreeSet::new();
    let (mut fee_bumps, mut failed, mut upgrades, mut evicted, mut events, mut muxed) = (0, 0, 0, 0, 0, 0);
    for _ in 0..200 {
        let lcm = g.next_ledger();
        let m = v2(&lcm);
        upgrades += m.upgrades_processing.len();
        evicted += m.evicted_keys.len();
        let envs: HashMap<[u8; 32], &TransactionEnvelope> =
            envelopes(m).into_iter().map(|e| (e.hash(g.network_id()).unwrap(), e)).collect();
        for p in m.tx_processing.iter() {
            let env = envs[&p.result.transaction_hash.0];
            let tx = super::txs::inner_tx(env);
            if matches!(env, TransactionEnvelope::TxFeeBump(_)) {
                fee_bumps += 1;
            }
            if matches!(tx.source_account, stellar_xdr::MuxedAccount::MuxedEd25519(_)) {
                muxed += 1;
            }
            let ok = matches!(
                p.result.result.result,
                TransactionResultResult::TxSuccess(_) | TransactionResultResult::TxFeeBumpInnerSuccess(_)
            );
            if !ok {
                failed += 1;
                continue;
            }
            let TransactionMeta::V4(meta) = &p.tx_apply_processing else { panic!("meta v4") };
            events += meta.operations.iter().map(|o| o.events.len()).sum::<usize>();
            for op in tx.operations.iter() {
                ok_types.insert(op.body.discriminant() as i32);
            }
        }
    }
    let missing: Vec<&str> = OperationType::VARIANTS
        .iter()
        .filter(|t| **t != OperationType::Inflation && !ok_types.contains(&(**t as i32)))
        .map(|t| t.name())
        .collect();
    assert!(missing.is_empty(), "operation types never applied successfully: {missing:?}");
    assert!(
        fee_bumps > 0 && failed > 0 && upgrades > 0 && evicted > 0 && events > 0 && muxed > 0,
        "fee bumps {fee_bumps}, failed {failed}, upgrades {upgrades}, evicted keys {evicted}, events {events}, muxed sources {muxed}"
    );
    let t = g.totals();
    assert_eq!(t.ledgers, 200);
    assert!(t.transactions > 500, "{t:?}");
}

#[test]
fn config_is_validated() {
    let bad = |f: fn(&mut SynthConfig)| {
        let mut c = SynthConfig::testnet_like(1);
        f(&mut c);
        Generator::new(c).err().map(|e| e.to_string())
    };
    assert!(bad(|c| c.first_ledger = 1).unwrap().contains("first_ledger"));
    assert!(bad(|c| c.protocol_version = 22).unwrap().contains("protocol_version"));
    assert!(bad(|c| c.failure_rate = 2.0).unwrap().contains("failure_rate"));
    assert!(bad(|_| {}).is_none());
}

#[test]
fn lake_round_trips_through_the_reader_layout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig { first_ledger: 64, ..SynthConfig::testnet_like(5) };
    let ledgers = chain(cfg.clone(), 128);
    let summary = write_lake(dir.path(), &cfg.network_passphrase, 64, 2, ledgers.clone()).unwrap();
    assert_eq!((summary.ledgers, summary.objects, summary.first, summary.last), (128, 2, Some(64), Some(191)));
    assert!(summary.partial_objects.is_empty());
    let layout = ducklake_stellar::layout::Layout { ledgers_per_file: 64, files_per_partition: 2 };
    let key = layout.object_key(128, "zst");
    assert_eq!(key, "FFFFFF7F--128-255/FFFFFF7F--128-191.xdr.zst");
    let bytes = std::fs::read(dir.path().join(&key)).unwrap();
    // Read back with stellar-xdr alone: a zstd-framed LedgerCloseMetaBatch.
    let batch =
        stellar_xdr::LedgerCloseMetaBatch::from_xdr(zstd::decode_all(&bytes[..]).unwrap(), Limits::none()).unwrap();
    assert_eq!((batch.start_sequence, batch.end_sequence, batch.ledger_close_metas.len()), (128, 191, 64));
    assert_eq!(xdr(&batch.ledger_close_metas[0]), xdr(&ledgers[64]));
    let manifest: ducklake_stellar::layout::Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".config.json")).unwrap()).unwrap();
    assert_eq!(manifest.ledgers_per_batch, Some(64));
    assert_eq!(manifest.batches_per_partition, Some(2));
    assert_eq!(manifest.network_passphrase.as_deref(), Some(cfg.network_passphrase.as_str()));
    // A second lake with another layout in the same directory is refused.
    let err = write_lake(dir.path(), &cfg.network_passphrase, 1, 2, ledgers.into_iter().take(1)).unwrap_err();
    assert!(matches!(err, LakeError::ManifestMismatch { .. }), "{err}");
}

/// `cargo test --workspace --lib -- print_mix --ignored --nocapture`:
/// operation results by type, for tuning the planner.
#[test]
#[ignore]
fn print_mix() {
    let seed = std::env::var("SYNTH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let n = std::env::var("SYNTH_LEDGERS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let cfg = match std::env::var("SYNTH_SIZE").as_deref() {
        Ok("pubnet") => SynthConfig::pubnet_like(seed),
        _ => SynthConfig::testnet_like(seed),
    };
    let mut g = Generator::new(cfg).unwrap();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for _ in 0..n {
        let lcm = g.next_ledger();
        for p in v2(&lcm).tx_processing.iter() {
            let results = match &p.result.result.result {
                TransactionResultResult::TxSuccess(r) | TransactionResultResult::TxFailed(r) => r.to_vec(),
                TransactionResultResult::TxFeeBumpInnerSuccess(i)
                | TransactionResultResult::TxFeeBumpInnerFailed(i) => match &i.result.result {
                    stellar_xdr::InnerTransactionResultResult::TxSuccess(r)
                    | stellar_xdr::InnerTransactionResultResult::TxFailed(r) => r.to_vec(),
                    other => {
                        *counts.entry(format!("tx {}", other.name())).or_default() += 1;
                        continue;
                    }
                },
                other => {
                    *counts.entry(format!("tx {}", other.name())).or_default() += 1;
                    continue;
                }
            };
            for r in results {
                let k = match &r {
                    stellar_xdr::OperationResult::OpInner(tr) => {
                        let inner = format!("{tr:?}");
                        let code: String =
                            inner.split('(').nth(1).unwrap_or("").chars().take_while(|c| c.is_alphanumeric()).collect();
                        format!("{} {}", tr.name(), code)
                    }
                    other => other.name().to_string(),
                };
                *counts.entry(k).or_default() += 1;
            }
        }
    }
    for (k, v) in counts {
        println!("{v:>7} {k}");
    }
    println!("{:?}", g.totals());
}
