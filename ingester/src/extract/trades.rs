//! Trades (`trades_row_v1`): both parties of every order-book and liquidity-pool match.

use super::changes::EntryChange;
use super::view::LedgerView;
use super::{ExtractContext, ExtractError};
use crate::tables::{LedgerTables, Timestamp};

/// Appends this module's rows for one ledger to `out`.
pub fn rows(
    _view: &LedgerView<'_>,
    _changes: &[EntryChange<'_>],
    _ctx: &ExtractContext,
    _closed_at: Timestamp,
    _out: &mut LedgerTables,
) -> Result<(), ExtractError> {
    // TODO(issue 4): being written.
    Ok(())
}
