//! Contract events (`contract_events_stream_v1`): operation, transaction-level and diagnostic events.
//!
//! Where the meta keeps them:
//!
//! | kind | meta v3 | meta v4 |
//! |---|---|---|
//! | `operation` | `soroban_meta.events` (the single Soroban operation) | `operations[i].events` (any operation: CAP-67 classic events too) |
//! | `transaction` | none | `events` (fee events, with their stage) |
//! | `diagnostic` | `soroban_meta.diagnostic_events` | `diagnostic_events` |
//!
//! Meta v0-v2 carry no events.
//!
//! Event id: `<TOID>-<kind>-<index>`, with the TOID zero-padded to 19
//! digits (like Stellar RPC's ids) and the index to 10. The TOID is the
//! operation's for operation events and the transaction's (operation part 0)
//! for transaction-level and diagnostic events; `<kind>` is `op`, `tx` or
//! `diag`; `<index>` is the event's position in its list. Ids are unique
//! within a network and sort in application order within each kind.

use crate::model::Timestamp;
use stellar_xdr::{
    ContractEvent, ContractEventBody, ContractEventType, DiagnosticEvent, TransactionEventStage, TransactionMeta,
};

use super::changes::EntryChange;
use super::encode::{contract_address, ledger_range, toid, xdr_base64};
use super::scval;
use super::view::{LedgerView, TxView};
use super::{ExtractContext, ExtractError};
use crate::tables::{ContractEventRow, LedgerTables};

/// Which list of the meta an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Operation(u32),
    Transaction(TransactionEventStage),
    Diagnostic { in_successful_contract_call: bool },
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Operation(_) => "operation",
            Kind::Transaction(_) => "transaction",
            Kind::Diagnostic { .. } => "diagnostic",
        }
    }

    fn id_tag(self) -> &'static str {
        match self {
            Kind::Operation(_) => "op",
            Kind::Transaction(_) => "tx",
            Kind::Diagnostic { .. } => "diag",
        }
    }
}

/// Per-transaction values shared by all its events.
struct TxContext<'c> {
    seq: u32,
    tx_order: u32,
    tx_hash: String,
    successful: bool,
    closed_at: Timestamp,
    ctx: &'c ExtractContext,
}

/// Appends this module's rows for one ledger to `out`.
pub fn rows(
    view: &LedgerView<'_>,
    _changes: &[EntryChange<'_>],
    ctx: &ExtractContext,
    closed_at: Timestamp,
    out: &mut LedgerTables,
) -> Result<(), ExtractError> {
    for tx in &view.txs {
        tx_events(view.seq(), tx, ctx, closed_at, &mut out.contract_events);
    }
    Ok(())
}

/// Every event of one transaction: operation events, then transaction-level, then diagnostic.
fn tx_events(seq: u32, tx: &TxView<'_>, ctx: &ExtractContext, closed_at: Timestamp, out: &mut Vec<ContractEventRow>) {
    let t = TxContext {
        seq,
        tx_order: tx.order,
        tx_hash: hex::encode(tx.result.transaction_hash.0),
        successful: tx.successful(),
        closed_at,
        ctx,
    };
    match tx.meta {
        TransactionMeta::V3(m) => {
            if let Some(sm) = &m.soroban_meta {
                // A Soroban transaction has exactly one operation.
                push_all(&t, &sm.events, Kind::Operation(0), out);
                push_diagnostic(&t, &sm.diagnostic_events, out);
            }
        }
        TransactionMeta::V4(m) => {
            for (op, meta) in m.operations.iter().enumerate() {
                push_all(&t, &meta.events, Kind::Operation(op as u32), out);
            }
            for (i, e) in m.events.iter().enumerate() {
                out.push(row(&t, Kind::Transaction(e.stage), i, &e.event));
            }
            push_diagnostic(&t, &m.diagnostic_events, out);
        }
        TransactionMeta::V0(_) | TransactionMeta::V1(_) | TransactionMeta::V2(_) => {}
    }
}

fn push_all(t: &TxContext<'_>, events: &[ContractEvent], kind: Kind, out: &mut Vec<ContractEventRow>) {
    for (i, e) in events.iter().enumerate() {
        out.push(row(t, kind, i, e));
    }
}

fn push_diagnostic(t: &TxContext<'_>, events: &[DiagnosticEvent], out: &mut Vec<ContractEventRow>) {
    for (i, d) in events.iter().enumerate() {
        let kind = Kind::Diagnostic { in_successful_contract_call: d.in_successful_contract_call };
        out.push(row(t, kind, i, &d.event));
    }
}

/// `before_all_txs`, `after_tx`, `after_all_txs`.
fn stage_name(s: TransactionEventStage) -> &'static str {
    match s {
        TransactionEventStage::BeforeAllTxs => "before_all_txs",
        TransactionEventStage::AfterTx => "after_tx",
        TransactionEventStage::AfterAllTxs => "after_all_txs",
    }
}

fn event_type(t: ContractEventType) -> &'static str {
    match t {
        ContractEventType::System => "system",
        ContractEventType::Contract => "contract",
        ContractEventType::Diagnostic => "diagnostic",
    }
}

/// The unique id described in the module documentation.
fn event_id(toid: i64, kind: Kind, index: usize) -> String {
    format!("{toid:019}-{}-{index:010}", kind.id_tag())
}

fn row(t: &TxContext<'_>, kind: Kind, index: usize, e: &ContractEvent) -> ContractEventRow {
    let ContractEventBody::V0(body) = &e.body;
    let tx_id = toid(t.seq, t.tx_order, 0);
    let op = match kind {
        Kind::Operation(op) => Some(op),
        _ => None,
    };
    let op_id = op.map(|op| toid(t.seq, t.tx_order, op + 1));
    // A JSON array of base64 strings (which need no escaping).
    let mut topics_json = String::with_capacity(2 + 48 * body.topics.len());
    topics_json.push('[');
    for (i, topic) in body.topics.iter().enumerate() {
        topics_json.push_str(if i == 0 { "\"" } else { ",\"" });
        topics_json.push_str(&xdr_base64(topic));
        topics_json.push('"');
    }
    topics_json.push(']');
    ContractEventRow {
        event_id: event_id(op_id.unwrap_or(tx_id), kind, index),
        contract_id: e.contract_id.as_ref().map(|c| contract_address(&c.0.0)),
        ledger_sequence: i64::from(t.seq),
        transaction_hash: t.tx_hash.clone(),
        closed_at: t.closed_at,
        event_type: event_type(e.type_).to_string(),
        in_successful_contract_call: match kind {
            Kind::Diagnostic { in_successful_contract_call } => in_successful_contract_call,
            // Operation and fee events are kept only as the transaction's
            // outcome (Stellar RPC's rule): true when it succeeded.
            _ => t.successful,
        },
        topics_json,
        topics_decoded: scval::array_json(&body.topics),
        data_xdr: xdr_base64(&body.data),
        data_decoded: scval::to_json(&body.data),
        topic_count: body.topics.len() as i32,
        operation_index: op.map(|op| op as i32),
        event_index: index as i32,
        created_at: t.closed_at,
        ledger_range: ledger_range(t.seq),
        era_id: t.ctx.era_id.clone(),
        version_label: t.ctx.version_label.clone(),
        event_kind: kind.name().to_string(),
        transaction_event_stage: match kind {
            Kind::Transaction(s) => Some(stage_name(s).to_string()),
            _ => None,
        },
        transaction_successful: t.successful,
        transaction_id: tx_id,
        operation_id: op_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_per_kind_and_sort_within_a_kind() {
        let tx = toid(63092982, 5, 0);
        let op = toid(63092982, 5, 1);
        let diag = event_id(tx, Kind::Diagnostic { in_successful_contract_call: true }, 0);
        let fee = event_id(tx, Kind::Transaction(TransactionEventStage::BeforeAllTxs), 0);
        let first = event_id(op, Kind::Operation(0), 0);
        assert_eq!(first, "0270982294297137153-op-0000000000");
        assert_ne!(diag, fee);
        assert!(event_id(op, Kind::Operation(0), 9) < event_id(op, Kind::Operation(0), 10));
        assert!(first < event_id(toid(63092982, 6, 1), Kind::Operation(0), 0));
    }
}
