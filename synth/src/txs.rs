//! Transactions: fees, application (sequence bump, operations in nested
//! journal frames, rollback on failure), results and meta V4.
//!
//! A ledger is processed the way stellar-core does it: every transaction's
//! fee is charged first (fee processing), then each is applied in order,
//! then Soroban refunds are paid (post-apply fee processing).

use stellar_xdr::{
    ContractEvent, ExtensionPoint, FeeBumpTransaction, FeeBumpTransactionInnerTx, Hash, InnerTransactionResult,
    InnerTransactionResultExt, InnerTransactionResultPair, InnerTransactionResultResult, LedgerEntryChanges,
    OperationMetaV2, OperationResult, ScVal, SorobanTransactionMetaExt, SorobanTransactionMetaExtV1,
    SorobanTransactionMetaV2, Transaction, TransactionEnvelope, TransactionEvent, TransactionEventStage,
    TransactionExt, TransactionMeta, TransactionMetaV4, TransactionResult, TransactionResultExt,
    TransactionResultMetaV1, TransactionResultPair, TransactionResultResult,
};

use super::events;
use super::funds::{Env, Sponsorships};
use super::ops::{TxCtx, apply_op, muxed_id};
use super::state::State;
use super::universe::{Id, Universe};
use super::xdr::{frame_changes, vecm};

/// A transaction of the ledger being built, with its network hash(es).
#[derive(Debug, Clone)]
pub struct PlannedTx {
    pub envelope: TransactionEnvelope,
    /// Outer hash (the fee-bump hash for fee bumps).
    pub hash: Id,
    /// Inner transaction hash of a fee bump.
    pub inner_hash: Option<Id>,
}

impl PlannedTx {
    pub fn inner(&self) -> &Transaction {
        inner_tx(&self.envelope)
    }
    pub fn fee_bump(&self) -> Option<&FeeBumpTransaction> {
        match &self.envelope {
            TransactionEnvelope::TxFeeBump(e) => Some(&e.tx),
            _ => None,
        }
    }
    pub fn is_soroban(&self) -> bool {
        matches!(self.inner().ext, TransactionExt::V1(_))
    }
}

pub fn inner_tx(env: &TransactionEnvelope) -> &Transaction {
    match env {
        TransactionEnvelope::Tx(e) => &e.tx,
        TransactionEnvelope::TxFeeBump(e) => {
            let FeeBumpTransactionInnerTx::Tx(inner) = &e.tx.inner_tx;
            &inner.tx
        }
        TransactionEnvelope::TxV0(_) => unreachable!("the generator builds V1 envelopes"),
    }
}

/// Who pays and how much, decided before any transaction applies.
#[derive(Debug, Clone, Copy)]
pub struct Fees {
    pub source: Id,
    /// Inclusion fee charged (base fee per operation, plus one for a fee bump).
    pub inclusion: i64,
    /// Declared Soroban resource fee (charged up front, partly refunded).
    pub resource: i64,
}

pub fn fees(tx: &PlannedTx, base_fee: i64) -> Fees {
    let inner = tx.inner();
    let ops = inner.operations.len() as i64;
    let resource = match &inner.ext {
        TransactionExt::V1(d) => d.resource_fee,
        TransactionExt::V0 => 0,
    };
    match tx.fee_bump() {
        Some(fb) => Fees { source: muxed_id(&fb.fee_source), inclusion: base_fee * (ops + 1), resource },
        None => Fees { source: muxed_id(&inner.source_account), inclusion: base_fee * ops, resource },
    }
}

/// How a Soroban transaction's declared resource fee splits: charged
/// non-refundable, charged refundable (of which rent), refunded. Derived from
/// the hash so it is stable.
#[derive(Debug, Clone, Copy, Default)]
pub struct SorobanFees {
    pub non_refundable: i64,
    pub refundable: i64,
    pub rent: i64,
    pub refund: i64,
}

pub fn soroban_fees(declared: i64, hash: &Id, success: bool) -> SorobanFees {
    let non_refundable = declared * (30 + i64::from(hash[0] % 20)) / 100;
    let (refundable, rent) = if success {
        let r = declared * (10 + i64::from(hash[1] % 30)) / 100;
        (r, r * i64::from(hash[2] % 50) / 100)
    } else {
        (0, 0)
    };
    SorobanFees { non_refundable, refundable, rent, refund: declared - non_refundable - refundable }
}

/// Charges a fee up front (fee processing); returns the amount charged.
pub fn charge_fee(st: &mut State, f: &Fees) -> i64 {
    let want = f.inclusion + f.resource;
    let charged = st.account(&f.source).map_or(0, |a| want.min(a.balance.max(0)));
    if charged > 0 {
        st.update_account(&f.source, |a| a.balance -= charged);
        st.hdr.fee_pool += charged;
    }
    charged
}

/// Why a transaction failed before or around its operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxFail {
    BadSeq,
    NoAccount,
    BadSponsorship,
}

/// What applying one transaction produced.
pub struct Applied {
    pub success: bool,
    pub fail: Option<TxFail>,
    pub op_results: Vec<OperationResult>,
    pub before: LedgerEntryChanges,
    pub ops: Vec<OperationMetaV2>,
    pub return_value: Option<ScVal>,
}

/// Applies a transaction (sequence bump, then its operations). With
/// `record` false nothing is converted to XDR: the planning pass only needs
/// the state to move.
pub fn apply_tx(st: &mut State, env: &Env<'_>, tx: &PlannedTx, record: bool) -> Applied {
    let u = env.u;
    let inner = tx.inner();
    let source = muxed_id(&inner.source_account);
    let mut out = Applied {
        success: false,
        fail: None,
        op_results: Vec::new(),
        before: LedgerEntryChanges::default(),
        ops: Vec::new(),
        return_value: None,
    };
    let Some(acct) = st.account(&source) else {
        out.fail = Some(TxFail::NoAccount);
        return out;
    };
    if inner.seq_num.0 != acct.seq + 1 {
        out.fail = Some(TxFail::BadSeq);
        return out;
    }
    st.begin();
    let (seq, time) = (env.seq, env.close_time);
    st.update_account(&source, |a| {
        a.seq = inner.seq_num.0;
        a.seq_ledger = seq;
        a.seq_time = time;
    });
    if record {
        out.before = frame_changes(u, st);
    }
    st.commit();

    let mut ctx = TxCtx {
        env: Env { u, base_reserve: env.base_reserve, seq: env.seq, close_time: env.close_time },
        tx_source: source,
        tx_seq: inner.seq_num.0,
        sponsorships: Sponsorships::default(),
        soroban: match &inner.ext {
            TransactionExt::V1(d) => Some(d),
            TransactionExt::V0 => None,
        },
        return_value: None,
    };
    st.begin();
    let mut ok = true;
    for (i, op) in inner.operations.iter().enumerate() {
        st.begin();
        let mut ev: Vec<ContractEvent> = Vec::new();
        let (res, op_ok) = apply_op(st, &mut ctx, i as u32, op, &mut ev);
        if op_ok {
            let changes = if record { frame_changes(u, st) } else { LedgerEntryChanges::default() };
            st.commit();
            out.ops.push(OperationMetaV2 { ext: ExtensionPoint::V0, changes, events: vecm(ev) });
        } else {
            st.rollback();
            ok = false;
        }
        out.op_results.push(res);
    }
    if ok && !ctx.sponsorships.pairs.is_empty() {
        ok = false;
        out.fail = Some(TxFail::BadSponsorship);
    }
    if ok {
        st.commit();
    } else {
        st.rollback();
        out.ops.clear();
    }
    out.success = ok;
    out.return_value = ctx.return_value.take();
    out
}

fn tx_result_code(a: &Applied) -> TransactionResultResult {
    let results = || vecm(a.op_results.clone());
    match a.fail {
        Some(TxFail::BadSeq) => TransactionResultResult::TxBadSeq,
        Some(TxFail::NoAccount) => TransactionResultResult::TxNoAccount,
        Some(TxFail::BadSponsorship) => TransactionResultResult::TxBadSponsorship,
        None if a.success => TransactionResultResult::TxSuccess(results()),
        None => TransactionResultResult::TxFailed(results()),
    }
}

fn inner_result_code(r: TransactionResultResult) -> InnerTransactionResultResult {
    match r {
        TransactionResultResult::TxSuccess(v) => InnerTransactionResultResult::TxSuccess(v),
        TransactionResultResult::TxFailed(v) => InnerTransactionResultResult::TxFailed(v),
        TransactionResultResult::TxBadSeq => InnerTransactionResultResult::TxBadSeq,
        TransactionResultResult::TxNoAccount => InnerTransactionResultResult::TxNoAccount,
        _ => InnerTransactionResultResult::TxBadSponsorship,
    }
}

/// The result pair of an applied transaction.
pub fn result_pair(tx: &PlannedTx, a: &Applied, fee_charged: i64) -> TransactionResultPair {
    let code = tx_result_code(a);
    let result = match tx.inner_hash {
        Some(inner) => {
            let pair = InnerTransactionResultPair {
                transaction_hash: Hash(inner),
                result: InnerTransactionResult {
                    fee_charged: 0,
                    result: inner_result_code(code),
                    ext: InnerTransactionResultExt::V0,
                },
            };
            if a.success {
                TransactionResultResult::TxFeeBumpInnerSuccess(pair)
            } else {
                TransactionResultResult::TxFeeBumpInnerFailed(pair)
            }
        }
        None => code,
    };
    TransactionResultPair {
        transaction_hash: Hash(tx.hash),
        result: TransactionResult { fee_charged, result, ext: TransactionResultExt::V0 },
    }
}

/// Processes the ledger's transactions in application order: fees, then
/// application, then refunds. Returns the `tx_processing` entries.
pub fn process(st: &mut State, env: &Env<'_>, base_fee: i64, txs: &[&PlannedTx]) -> Vec<TransactionResultMetaV1> {
    let u = env.u;
    let fee_info: Vec<Fees> = txs.iter().map(|t| fees(t, base_fee)).collect();
    let mut charged = Vec::with_capacity(txs.len());
    let mut fee_changes = Vec::with_capacity(txs.len());
    for f in &fee_info {
        st.begin();
        charged.push(charge_fee(st, f));
        fee_changes.push(frame_changes(u, st));
        st.commit();
    }
    let mut out = Vec::with_capacity(txs.len());
    let mut refunds = Vec::new();
    for ((i, tx), fee_processing) in txs.iter().enumerate().zip(fee_changes) {
        let applied = apply_tx(st, env, tx, true);
        let f = &fee_info[i];
        let mut events = vec![tx_event(TransactionEventStage::BeforeAllTxs, events::fee(u, &f.source, charged[i]))];
        let (soroban_meta, fee_charged) = if tx.is_soroban() {
            let s = soroban_fees(f.resource, &tx.hash, applied.success);
            let refund = s.refund.min(charged[i] - f.inclusion).max(0);
            if refund > 0 {
                events.push(tx_event(TransactionEventStage::AfterAllTxs, events::fee(u, &f.source, -refund)));
            }
            refunds.push((i, f.source, refund));
            let meta = SorobanTransactionMetaV2 {
                ext: SorobanTransactionMetaExt::V1(SorobanTransactionMetaExtV1 {
                    ext: ExtensionPoint::V0,
                    total_non_refundable_resource_fee_charged: s.non_refundable,
                    total_refundable_resource_fee_charged: s.refundable,
                    rent_fee_charged: s.rent,
                }),
                return_value: if applied.success { applied.return_value.clone() } else { None },
            };
            (Some(meta), charged[i] - refund)
        } else {
            (None, charged[i])
        };
        let result = result_pair(tx, &applied, fee_charged);
        let meta = TransactionMeta::V4(TransactionMetaV4 {
            ext: ExtensionPoint::V0,
            tx_changes_before: applied.before,
            operations: vecm(applied.ops),
            tx_changes_after: LedgerEntryChanges::default(),
            soroban_meta,
            events: vecm(events),
            diagnostic_events: Default::default(),
        });
        out.push(TransactionResultMetaV1 {
            ext: ExtensionPoint::V0,
            result,
            fee_processing,
            tx_apply_processing: meta,
            post_tx_apply_fee_processing: LedgerEntryChanges::default(),
        });
    }
    for (i, source, refund) in refunds {
        if refund == 0 || st.account(&source).is_none() {
            continue;
        }
        st.begin();
        st.update_account(&source, |a| a.balance += refund);
        st.hdr.fee_pool -= refund;
        out[i].post_tx_apply_fee_processing = frame_changes(u, st);
        st.commit();
    }
    out
}

fn tx_event(stage: TransactionEventStage, event: ContractEvent) -> TransactionEvent {
    TransactionEvent { stage, event }
}

/// Hash pairs for an envelope: outer and, for fee bumps, inner.
pub fn hashes(env: &TransactionEnvelope, network_id: &Id) -> (Id, Option<Id>) {
    let outer = ducklake_stellar::hash::envelope_hash(env, network_id);
    let inner = match env {
        TransactionEnvelope::TxFeeBump(e) => Some(ducklake_stellar::hash::inner_hash(&e.tx, network_id)),
        _ => None,
    };
    (outer, inner)
}

pub fn planned(env: TransactionEnvelope, u: &Universe) -> PlannedTx {
    let (hash, inner_hash) = hashes(&env, &u.network_id);
    PlannedTx { envelope: env, hash, inner_hash }
}
