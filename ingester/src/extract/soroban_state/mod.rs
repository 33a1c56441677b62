//! Soroban state tables: contract data and code, config settings, TTLs
//! (snapshots: one row per key per ledger, last change wins, deletions and
//! evictions as `deleted` rows), and evicted and restored keys.
//!
//! Everything comes from the shared change list (fee processing, tx meta,
//! refunds, upgrades, evictions): one fold groups the Soroban changes by key,
//! hashing each contract data / code key once.

mod archive;
mod config;
mod contract;
mod keys;
mod wasm;

use super::ExtractContext;
use super::ExtractError;
use super::changes::{EntryChange, fold_by_key};
use super::view::LedgerView;
use crate::model::Timestamp;
use crate::tables::LedgerTables;
use keys::{SorobanKey, key_facts, key_ref};

/// Values shared by every row of the ledger.
pub struct Base<'a> {
    pub seq: u32,
    pub closed_at: Timestamp,
    pub ctx: &'a ExtractContext,
    pub network_id: &'a [u8; 32],
}

/// Appends this module's rows for one ledger to `out`.
pub fn rows(
    view: &LedgerView<'_>,
    changes: &[EntryChange<'_>],
    ctx: &ExtractContext,
    closed_at: Timestamp,
    out: &mut LedgerTables,
) -> Result<(), ExtractError> {
    let seq = view.seq();
    let base = Base { seq, closed_at, ctx, network_id: &ctx.network_id };
    let mut failure = None;
    let folded = fold_by_key(changes, |c| match keys::soroban_key(c) {
        Ok(k) => k,
        Err(e) => {
            failure.get_or_insert(e);
            None
        }
    });
    if let Some(e) = failure {
        return Err(ExtractError::new(seq, format!("cannot encode a Soroban ledger key: {e}")));
    }
    let mut index = archive::KeyIndex::new();
    for f in &folded {
        match f.key {
            SorobanKey::Data(h) => {
                out.contract_data.extend(contract::data_row(f, &h, &base));
                if let Some(k) = key_ref(&f.last) {
                    index.insert(h, key_facts(k));
                }
            }
            SorobanKey::Code(h) => {
                out.contract_code.extend(contract::code_row(f, &h, &base));
                if let Some(k) = key_ref(&f.last) {
                    index.insert(h, key_facts(k));
                }
            }
            SorobanKey::Ttl(h) => out.ttl.push(archive::ttl_row(f, &h, &base)),
            SorobanKey::Config(id) => out.config_settings.extend(config::config_row(f, id, &base)),
        }
    }
    let err = |e: String| ExtractError::new(seq, e);
    out.evicted_keys.extend(archive::evicted_rows(changes, &index, &base).map_err(err)?);
    out.restored_keys.extend(archive::restored_rows(view, changes, &base).map_err(err)?);
    Ok(())
}
