//! A version-independent view of one decoded ledger.
//!
//! LCM V0/V1/V2 differ in where the transaction set lives (classic set,
//! generalized phases, parallel Soroban stages) and in the shape of the
//! per-transaction processing entries. [`LedgerView`] resolves all of that
//! once: transactions in application order, each paired with its envelope
//! (matched by hash, which also proves the network passphrase is right).

use std::collections::HashMap;

use stellar_xdr::{
    DecoratedSignature, FeeBumpTransaction, GeneralizedTransactionSet, InnerTransactionResultResult, LedgerCloseMeta,
    LedgerEntryChanges, LedgerHeaderHistoryEntry, Memo, MuxedAccount, Operation, OperationResult, Preconditions,
    SequenceNumber, SorobanTransactionData, Transaction, TransactionEnvelope, TransactionExt, TransactionMeta,
    TransactionPhase, TransactionResultPair, TransactionResultResult, TransactionV0, TxSetComponent,
};

pub use ducklake_stellar::hash::{envelope_hash, inner_hash};

use super::ExtractError;

/// One ledger, with its transactions in application order.
pub struct LedgerView<'a> {
    pub lcm: &'a LedgerCloseMeta,
    pub header: &'a LedgerHeaderHistoryEntry,
    pub txs: Vec<TxView<'a>>,
}

/// One applied transaction and everything the ledger says about it.
pub struct TxView<'a> {
    /// 1-based position in application order (the TOID transaction order).
    pub order: u32,
    pub envelope: &'a TransactionEnvelope,
    pub result: &'a TransactionResultPair,
    pub fee_processing: &'a LedgerEntryChanges,
    pub meta: &'a TransactionMeta,
    /// Protocol 23+ (LCM V2): fee refunds applied after all transactions.
    pub post_apply_fee_processing: Option<&'a LedgerEntryChanges>,
}

/// The transaction inside an envelope (the inner one for a fee bump).
#[derive(Clone, Copy)]
pub enum InnerTx<'a> {
    V0(&'a TransactionV0),
    V1(&'a Transaction),
}

impl<'a> LedgerView<'a> {
    /// Builds the view; fails if a result has no matching envelope, which
    /// means the ledger is inconsistent or the network passphrase is wrong.
    pub fn new(lcm: &'a LedgerCloseMeta, network_id: &[u8; 32]) -> Result<Self, ExtractError> {
        let (header, envelopes, processing): (_, Vec<&TransactionEnvelope>, Vec<Processing<'a>>) = match lcm {
            LedgerCloseMeta::V0(m) => (
                &m.ledger_header,
                m.tx_set.txs.iter().collect(),
                m.tx_processing.iter().map(|p| (&p.result, &p.fee_processing, &p.tx_apply_processing, None)).collect(),
            ),
            LedgerCloseMeta::V1(m) => (
                &m.ledger_header,
                generalized_envelopes(&m.tx_set),
                m.tx_processing.iter().map(|p| (&p.result, &p.fee_processing, &p.tx_apply_processing, None)).collect(),
            ),
            LedgerCloseMeta::V2(m) => (
                &m.ledger_header,
                generalized_envelopes(&m.tx_set),
                m.tx_processing
                    .iter()
                    .map(|p| {
                        (&p.result, &p.fee_processing, &p.tx_apply_processing, Some(&p.post_tx_apply_fee_processing))
                    })
                    .collect(),
            ),
        };
        let seq = header.header.ledger_seq;
        if envelopes.len() != processing.len() {
            return Err(ExtractError::new(
                seq,
                format!(
                    "tx set holds {} envelopes but {} transactions were applied",
                    envelopes.len(),
                    processing.len()
                ),
            ));
        }
        let mut by_hash: HashMap<[u8; 32], &TransactionEnvelope> = HashMap::with_capacity(envelopes.len());
        for env in envelopes {
            by_hash.insert(envelope_hash(env, network_id), env);
        }
        let mut txs = Vec::with_capacity(processing.len());
        for (i, (result, fee_processing, meta, post)) in processing.into_iter().enumerate() {
            let envelope = by_hash.remove(&result.transaction_hash.0).ok_or_else(|| {
                ExtractError::new(
                    seq,
                    format!(
                        "transaction {} has no envelope with that hash in the tx set: the ledger is not from the configured network (check network_passphrase)",
                        hex::encode(result.transaction_hash.0)
                    ),
                )
            })?;
            txs.push(TxView {
                order: i as u32 + 1,
                envelope,
                result,
                fee_processing,
                meta,
                post_apply_fee_processing: post,
            });
        }
        Ok(LedgerView { lcm, header, txs })
    }

    pub fn seq(&self) -> u32 {
        self.header.header.ledger_seq
    }
}

type Processing<'a> =
    (&'a TransactionResultPair, &'a LedgerEntryChanges, &'a TransactionMeta, Option<&'a LedgerEntryChanges>);

/// Every envelope of a generalized set: classic and Soroban phases, parallel stages.
fn generalized_envelopes(set: &GeneralizedTransactionSet) -> Vec<&TransactionEnvelope> {
    let GeneralizedTransactionSet::V1(set) = set;
    let mut out = Vec::new();
    for phase in set.phases.iter() {
        match phase {
            TransactionPhase::V0(components) => {
                for c in components.iter() {
                    let TxSetComponent::TxsetCompTxsMaybeDiscountedFee(c) = c;
                    out.extend(c.txs.iter());
                }
            }
            TransactionPhase::V1(parallel) => {
                for stage in parallel.execution_stages.iter() {
                    for cluster in stage.0.iter() {
                        out.extend(cluster.0.iter());
                    }
                }
            }
        }
    }
    out
}

impl<'a> TxView<'a> {
    pub fn fee_bump(&self) -> Option<&'a FeeBumpTransaction> {
        match self.envelope {
            TransactionEnvelope::TxFeeBump(e) => Some(&e.tx),
            _ => None,
        }
    }

    pub fn inner(&self) -> InnerTx<'a> {
        match self.envelope {
            TransactionEnvelope::TxV0(e) => InnerTx::V0(&e.tx),
            TransactionEnvelope::Tx(e) => InnerTx::V1(&e.tx),
            TransactionEnvelope::TxFeeBump(e) => {
                let stellar_xdr::FeeBumpTransactionInnerTx::Tx(inner) = &e.tx.inner_tx;
                InnerTx::V1(&inner.tx)
            }
        }
    }

    /// Signatures on the envelope (the outer ones for a fee bump).
    pub fn signatures(&self) -> &'a [DecoratedSignature] {
        match self.envelope {
            TransactionEnvelope::TxV0(e) => &e.signatures,
            TransactionEnvelope::Tx(e) => &e.signatures,
            TransactionEnvelope::TxFeeBump(e) => &e.signatures,
        }
    }

    /// Signatures of the inner transaction of a fee bump.
    pub fn inner_signatures(&self) -> Option<&'a [DecoratedSignature]> {
        self.fee_bump().map(|fb| {
            let stellar_xdr::FeeBumpTransactionInnerTx::Tx(inner) = &fb.inner_tx;
            &inner.signatures[..]
        })
    }

    /// txSUCCESS, or txFEE_BUMP_INNER_SUCCESS for a fee bump.
    pub fn successful(&self) -> bool {
        matches!(
            self.result.result.result,
            TransactionResultResult::TxSuccess(_) | TransactionResultResult::TxFeeBumpInnerSuccess(_)
        )
    }

    /// Per-operation results, when the transaction got as far as applying operations.
    pub fn op_results(&self) -> Option<&'a [OperationResult]> {
        match &self.result.result.result {
            TransactionResultResult::TxSuccess(r) | TransactionResultResult::TxFailed(r) => Some(r),
            TransactionResultResult::TxFeeBumpInnerSuccess(inner)
            | TransactionResultResult::TxFeeBumpInnerFailed(inner) => match &inner.result.result {
                InnerTransactionResultResult::TxSuccess(r) | InnerTransactionResultResult::TxFailed(r) => Some(r),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn operations(&self) -> &'a [Operation] {
        match self.inner() {
            InnerTx::V0(tx) => &tx.operations,
            InnerTx::V1(tx) => &tx.operations,
        }
    }
}

impl<'a> InnerTx<'a> {
    /// The transaction's source, as a muxed account (V0 sources are plain keys).
    pub fn source(&self) -> MuxedAccount {
        match self {
            InnerTx::V0(tx) => MuxedAccount::Ed25519(tx.source_account_ed25519.clone()),
            InnerTx::V1(tx) => tx.source_account.clone(),
        }
    }

    pub fn fee(&self) -> u32 {
        match self {
            InnerTx::V0(tx) => tx.fee,
            InnerTx::V1(tx) => tx.fee,
        }
    }

    pub fn seq_num(&self) -> &'a SequenceNumber {
        match self {
            InnerTx::V0(tx) => &tx.seq_num,
            InnerTx::V1(tx) => &tx.seq_num,
        }
    }

    pub fn memo(&self) -> &'a Memo {
        match self {
            InnerTx::V0(tx) => &tx.memo,
            InnerTx::V1(tx) => &tx.memo,
        }
    }

    /// Preconditions; V0 transactions can only carry time bounds.
    pub fn preconditions(&self) -> Preconditions {
        match self {
            InnerTx::V0(tx) => match &tx.time_bounds {
                Some(tb) => Preconditions::Time(tb.clone()),
                None => Preconditions::None,
            },
            InnerTx::V1(tx) => tx.cond.clone(),
        }
    }

    pub fn soroban_data(&self) -> Option<&'a SorobanTransactionData> {
        match self {
            InnerTx::V1(Transaction { ext: TransactionExt::V1(d), .. }) => Some(d),
            _ => None,
        }
    }
}
