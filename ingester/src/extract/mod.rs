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
mod ledgers;
mod operations;
mod scval;
mod soroban_state;
mod trades;
mod transactions;
pub mod view;

use sha2::Digest;
use stellar_xdr::{LedgerCloseMeta, Limits, WriteXdr};

use crate::tables::{LedgerTables, Timestamp};
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

/// Identity of a ledger, used for chain continuity checks and lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerId {
    pub seq: u32,
    pub hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub closed_at: Timestamp,
}

/// One ledger's rows for every table.
#[derive(Debug, Clone)]
pub struct ExtractedLedger {
    pub id: LedgerId,
    pub tables: LedgerTables,
}

/// Extracts every table's rows from one decoded ledger.
pub fn extract_ledger(lcm: &LedgerCloseMeta, ctx: &ExtractContext) -> Result<ExtractedLedger, ExtractError> {
    let view = LedgerView::new(lcm, &ctx.network_id)?;
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
    let mut tables =
        LedgerTables { ledgers: vec![ledgers::ledger_row(&view, ctx, closed_at, &header_xdr)], ..Default::default() };
    tables.transactions.reserve(view.txs.len());
    for tx in &view.txs {
        tables.transactions.push(transactions::transaction_row(&view, tx, ctx, closed_at)?);
        operations::operation_rows(&view, tx, ctx, closed_at, &mut tables.operations)?;
    }
    let changes = changes::ledger_changes(&view);
    effects::rows(&view, &changes, ctx, closed_at, &mut tables)?;
    trades::rows(&view, &changes, ctx, closed_at, &mut tables)?;
    events::rows(&view, &changes, ctx, closed_at, &mut tables)?;
    classic_state::rows(&view, &changes, ctx, closed_at, &mut tables)?;
    soroban_state::rows(&view, &changes, ctx, closed_at, &mut tables)?;
    Ok(ExtractedLedger { id, tables })
}

#[cfg(test)]
mod tests;
