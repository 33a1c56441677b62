//! Decoded ledger to table rows: one pass over each ledger feeds every table.
//!
//! Each table family has its own file with pure functions from a
//! [`LedgerView`] (and the per-ledger context) to rows; the fixture tests pin
//! them down. Nothing here touches I/O or the database.

pub mod changes;
mod classic_state;
pub mod codes;
mod effects;
pub mod encode;
mod events;
mod json;
mod ledgers;
mod operations;
mod scval;
mod soroban_state;
mod trades;
mod transactions;
pub mod view;

use crate::model::{LedgerId, NoTimer, StageTimer};
use sha2::Digest;
use stellar_xdr::{LedgerCloseMeta, Limits, WriteXdr};

use crate::tables::LedgerTables;
pub use view::LedgerView;

/// Values shared by every row of one ingestion run.
#[derive(Debug, Clone)]
pub struct ExtractContext {
    /// sha256 of the network passphrase.
    pub network_id: [u8; 32],
    pub era_id: Option<String>,
    pub version_label: Option<String>,
}

impl ExtractContext {
    pub fn new(passphrase: &str) -> Self {
        ExtractContext {
            network_id: sha2::Sha256::digest(passphrase.as_bytes()).into(),
            era_id: None,
            version_label: None,
        }
    }
}

/// A ledger that cannot be turned into rows (inconsistent contents or wrong network).
#[derive(Debug, Clone, thiserror::Error)]
#[error("ledger {ledger}: {detail}")]
pub struct ExtractError {
    pub ledger: u32,
    pub detail: String,
}

impl ExtractError {
    pub fn new(ledger: u32, detail: impl Into<String>) -> Self {
        ExtractError { ledger, detail: detail.into() }
    }
}

/// One ledger's rows for every table.
#[derive(Debug, Clone)]
pub struct ExtractedLedger {
    pub id: LedgerId,
    pub tables: LedgerTables,
}

/// Extracts every table's rows from one decoded ledger.
pub fn extract_ledger(lcm: &LedgerCloseMeta, ctx: &ExtractContext) -> Result<ExtractedLedger, ExtractError> {
    extract_ledger_timed(lcm, ctx, &mut NoTimer)
}

/// [`extract_ledger`], timing each stage with `timer`.
pub fn extract_ledger_timed(
    lcm: &LedgerCloseMeta,
    ctx: &ExtractContext,
    timer: &mut impl StageTimer,
) -> Result<ExtractedLedger, ExtractError> {
    let view = timer.time("ledger view (pair envelopes, tx hashes)", || LedgerView::new(lcm, &ctx.network_id))?;
    let closed_at = ledgers::close_time(&view);
    let header = view.header;
    // The header's hash must match its contents: catches corrupt or forged
    // headers before the hash is used for chain checks.
    let header_xdr =
        header.header.to_xdr(Limits::none()).map_err(|e| ExtractError::new(header.header.ledger_seq, e.to_string()))?;
    let digest: [u8; 32] = sha2::Sha256::digest(&header_xdr).into();
    if digest != header.hash.0 {
        return Err(ExtractError::new(
            header.header.ledger_seq,
            format!(
                "header hash {} does not match the header's contents (sha256 {}): corrupt ledger",
                hex::encode(header.hash.0),
                hex::encode(digest)
            ),
        ));
    }
    let id = LedgerId {
        seq: header.header.ledger_seq,
        hash: header.hash.0,
        prev_hash: header.header.previous_ledger_hash.0,
        closed_at,
    };
    let mut tables = LedgerTables::default();
    timer.time("ledgers_row_v2", || tables.ledgers.push(ledgers::ledger_row(&view, ctx, closed_at, &header_xdr)));
    timer.time("transactions_row_v2", || -> Result<(), ExtractError> {
        tables.transactions.reserve(view.txs.len());
        for tx in &view.txs {
            tables.transactions.push(transactions::transaction_row(&view, tx, ctx, closed_at)?);
        }
        Ok(())
    })?;
    timer.time("operations_row_v2", || -> Result<(), ExtractError> {
        for tx in &view.txs {
            operations::operation_rows(&view, tx, ctx, closed_at, &mut tables.operations)?;
        }
        Ok(())
    })?;
    let changes = timer.time("ledger-entry change list", || changes::ledger_changes(&view));
    timer.time("effects_row_v1", || effects::rows(&view, &changes, ctx, closed_at, &mut tables))?;
    timer.time("trades_row_v1", || trades::rows(&view, &changes, ctx, closed_at, &mut tables))?;
    timer.time("contract_events_stream_v1", || events::rows(&view, &changes, ctx, closed_at, &mut tables))?;
    timer.time("classic snapshot tables (7)", || classic_state::rows(&view, &changes, ctx, closed_at, &mut tables))?;
    timer.time("soroban state tables (6)", || soroban_state::rows(&view, &changes, ctx, closed_at, &mut tables))?;
    Ok(ExtractedLedger { id, tables })
}

#[cfg(test)]
mod tests;
