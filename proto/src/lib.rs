//! Generated client and server for `raw_ledger_service.RawLedgerService`.
//!
//! The service streams ledgers as raw `LedgerCloseMeta` XDR; see
//! `proto/raw_ledger_service.proto` for the wire contract.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("raw_ledger_service");
