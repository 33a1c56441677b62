//! The header of any `LedgerCloseMeta` version.

use stellar_xdr::{LedgerCloseMeta, LedgerHeaderHistoryEntry};

/// The ledger sequence of any LCM version.
pub fn ledger_seq(lcm: &LedgerCloseMeta) -> u32 {
    header_entry(lcm).header.ledger_seq
}

/// The header history entry (header plus its hash) of any LCM version.
pub fn header_entry(lcm: &LedgerCloseMeta) -> &LedgerHeaderHistoryEntry {
    match lcm {
        LedgerCloseMeta::V0(m) => &m.ledger_header,
        LedgerCloseMeta::V1(m) => &m.ledger_header,
        LedgerCloseMeta::V2(m) => &m.ledger_header,
    }
}
