//! Closing a ledger: transaction set, upgrades, eviction, the header and its
//! hash chain, and the `LedgerCloseMeta::V2` envelope around it all.

use stellar_xdr::{
    DependentTxCluster, ExtensionPoint, GeneralizedTransactionSet, Hash, LedgerCloseMeta, LedgerCloseMetaExt,
    LedgerCloseMetaExtV1, LedgerCloseMetaV2, LedgerCloseValueSignature, LedgerEntryChanges, LedgerHeader,
    LedgerHeaderExt, LedgerHeaderHistoryEntry, LedgerHeaderHistoryEntryExt, LedgerKey, LedgerUpgrade, Limits, NodeId,
    ParallelTxExecutionStage, ParallelTxsComponent, PublicKey, Signature, StellarValue, StellarValueExt, TimePoint,
    TransactionPhase, TransactionResultMetaV1, TransactionResultSet, TransactionSetV1, TxSetComponent,
    TxSetComponentTxsMaybeDiscountedFee, Uint256, UpgradeEntryMeta, UpgradeType, WriteXdr,
};

use super::state::{Durability, Key, State};
use super::txs::PlannedTx;
use super::universe::{Id, Universe, sha256, xdr_hash};
use super::xdr::{ledger_key, vecm};

/// Skip-list spacing (stellar-core's SKIP_1..SKIP_4).
const SKIPS: [u32; 4] = [50, 5_000, 50_000, 500_000];

/// stellar-core's skip list: every 50 ledgers the bucket-list hash enters
/// slot 0 and older slots shift at coarser spacings.
pub fn update_skip_list(skip: &mut [Hash; 4], new_seq: u32, bucket_hash: &Hash) {
    let seq = new_seq.saturating_sub(1);
    if seq > 0 && seq.is_multiple_of(SKIPS[0]) {
        let v = seq - SKIPS[0];
        if v > 0 && v.is_multiple_of(SKIPS[1]) {
            let w = v - SKIPS[1];
            if w > 0 && w.is_multiple_of(SKIPS[2]) {
                let x = w - SKIPS[2];
                if x > 0 && x.is_multiple_of(SKIPS[3]) {
                    skip[3] = skip[2].clone();
                }
                skip[2] = skip[1].clone();
            }
            skip[1] = skip[0].clone();
        }
        skip[0] = bucket_hash.clone();
    }
}

/// The generalized set: a classic phase (one component, hash-sorted) and a
/// parallel Soroban phase (one stage, one cluster per transaction).
pub fn tx_set(
    prev_hash: &Id,
    base_fee: i64,
    classic: Vec<PlannedTx>,
    soroban: Vec<PlannedTx>,
) -> GeneralizedTransactionSet {
    let mut sorted = classic;
    sorted.sort_by_key(|t| t.hash);
    let classic_phase = if sorted.is_empty() {
        TransactionPhase::V0(Default::default())
    } else {
        TransactionPhase::V0(vecm(vec![TxSetComponent::TxsetCompTxsMaybeDiscountedFee(
            TxSetComponentTxsMaybeDiscountedFee {
                base_fee: Some(base_fee),
                txs: vecm(sorted.into_iter().map(|t| t.envelope).collect()),
            },
        )]))
    };
    let any_soroban = !soroban.is_empty();
    let stages = if any_soroban {
        let clusters = soroban.into_iter().map(|t| DependentTxCluster(vecm(vec![t.envelope]))).collect();
        vec![ParallelTxExecutionStage(vecm(clusters))]
    } else {
        Vec::new()
    };
    let soroban_phase = TransactionPhase::V1(ParallelTxsComponent {
        base_fee: any_soroban.then_some(base_fee),
        execution_stages: vecm(stages),
    });
    GeneralizedTransactionSet::V1(TransactionSetV1 {
        previous_ledger_hash: Hash(*prev_hash),
        phases: vecm(vec![classic_phase, soroban_phase]),
    })
}

/// Evicts Soroban entries whose TTL ended before `seq`: temporary entries
/// are deleted, persistent ones move to the archive. Returns the evicted
/// keys (entry and TTL) as LCM V2 lists them.
pub fn evict(st: &mut State, u: &Universe, seq: u32) -> Vec<LedgerKey> {
    let expired: Vec<(u32, Id)> = st.ttls.range(..(seq, [0u8; 32])).take(256).copied().collect();
    let mut out = Vec::with_capacity(expired.len() * 2);
    for (_, h) in expired {
        let Some(k) = st.ttl_keys.get(&h).cloned() else { continue };
        let data = st.put_untracked(k.clone(), None);
        st.put_untracked(Key::Ttl(h), None);
        let persistent = !matches!(k, Key::ContractData(_, _, Durability::Temporary));
        if persistent && let Some(mut d) = data {
            d.last_modified = seq;
            st.put_untracked(Key::Archived(Box::new(k.clone())), Some(d));
        }
        out.push(ledger_key(u, &k));
        out.push(ledger_key(u, &Key::Ttl(h)));
    }
    out
}

/// Values of the header that carry from ledger to ledger.
#[derive(Debug, Clone)]
pub struct Chain {
    pub prev: LedgerHeader,
    pub prev_hash: Id,
}

pub fn header_hash(h: &LedgerHeader) -> Id {
    xdr_hash(h)
}

/// Everything the ledger close needs from the generator.
pub struct Close<'a> {
    pub u: &'a Universe,
    pub seq: u32,
    pub close_time: u64,
    pub classic: Vec<PlannedTx>,
    pub soroban: Vec<PlannedTx>,
    pub processing: Vec<TransactionResultMetaV1>,
    /// The upgrade and the ledger-entry changes it made.
    pub upgrade: Option<(LedgerUpgrade, LedgerEntryChanges)>,
    pub evicted: Vec<LedgerKey>,
    pub fee_pool: i64,
    pub id_pool: u64,
    pub soroban_bytes: u64,
    pub node_signature: [u8; 64],
}

/// Builds the header and the LCM, and advances the chain.
pub fn close(chain: &mut Chain, c: Close<'_>) -> LedgerCloseMeta {
    let prev = &chain.prev;
    let base_fee = i64::from(prev.base_fee);
    let set = tx_set(&chain.prev_hash, base_fee, c.classic, c.soroban);
    let tx_set_hash = xdr_hash(&set);
    let results = TransactionResultSet { results: vecm(c.processing.iter().map(|p| p.result.clone()).collect()) };
    let result_hash = xdr_hash(&results);
    let bucket_list_hash = sha256(&[&prev.bucket_list_hash.0, &c.seq.to_be_bytes(), &result_hash]);
    let mut header = LedgerHeader {
        ledger_version: prev.ledger_version,
        previous_ledger_hash: Hash(chain.prev_hash),
        scp_value: StellarValue {
            tx_set_hash: Hash(tx_set_hash),
            close_time: TimePoint(c.close_time),
            upgrades: Default::default(),
            ext: StellarValueExt::Signed(LedgerCloseValueSignature {
                node_id: NodeId(PublicKey::PublicKeyTypeEd25519(Uint256(c.u.node))),
                signature: Signature(c.node_signature.to_vec().try_into().expect("64 bytes fit")),
            }),
        },
        tx_set_result_hash: Hash(result_hash),
        bucket_list_hash: Hash(bucket_list_hash),
        ledger_seq: c.seq,
        total_coins: prev.total_coins,
        fee_pool: c.fee_pool,
        inflation_seq: prev.inflation_seq,
        id_pool: c.id_pool,
        base_fee: prev.base_fee,
        base_reserve: prev.base_reserve,
        max_tx_set_size: prev.max_tx_set_size,
        skip_list: prev.skip_list.clone(),
        ext: LedgerHeaderExt::V0,
    };
    let mut upgrades_processing = Vec::new();
    if let Some((up, changes)) = c.upgrade {
        match &up {
            LedgerUpgrade::Version(v) => header.ledger_version = *v,
            LedgerUpgrade::MaxTxSetSize(n) => header.max_tx_set_size = *n,
            LedgerUpgrade::BaseFee(f) => header.base_fee = *f,
            LedgerUpgrade::BaseReserve(r) => header.base_reserve = *r,
            _ => {}
        }
        let bytes = up.to_xdr(Limits::none()).expect("in-memory XDR encoding cannot fail");
        header.scp_value.upgrades = vecm(vec![UpgradeType(bytes.try_into().expect("upgrades are small"))]);
        upgrades_processing.push(UpgradeEntryMeta { upgrade: up, changes });
    }
    update_skip_list(&mut header.skip_list, c.seq, &header.bucket_list_hash);
    let hash = header_hash(&header);
    let lcm = LedgerCloseMeta::V2(LedgerCloseMetaV2 {
        ext: LedgerCloseMetaExt::V1(LedgerCloseMetaExtV1 { ext: ExtensionPoint::V0, soroban_fee_write1_kb: 1_000 }),
        ledger_header: LedgerHeaderHistoryEntry {
            hash: Hash(hash),
            header: header.clone(),
            ext: LedgerHeaderHistoryEntryExt::V0,
        },
        tx_set: set,
        tx_processing: vecm(c.processing),
        upgrades_processing: vecm(upgrades_processing),
        scp_info: Default::default(),
        total_byte_size_of_live_soroban_state: c.soroban_bytes,
        evicted_keys: vecm(c.evicted),
    });
    chain.prev = header;
    chain.prev_hash = hash;
    lcm
}
