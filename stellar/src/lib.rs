//! Stellar definitions that both sides of the project need and that belong
//! to neither: the reader (`ducklake-ingester` decodes and checks ledgers)
//! and the writer (`ducklake-synth` closes them) must agree on them byte for
//! byte. Depends on nothing of ours.
//!
//! * [`hash`]: transaction hashes over a network id (what results are paired
//!   with envelopes by, and what proves the network);
//! * [`ledger`]: the header of any `LedgerCloseMeta` version;
//! * [`layout`]: SEP-54 / galexie object keys and the `.config.json` manifest.

pub mod hash;
pub mod layout;
pub mod ledger;
