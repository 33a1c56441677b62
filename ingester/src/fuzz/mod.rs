//! The properties the fuzz targets check, shared with their regression tests.
//!
//! Each entry point takes untrusted input the way production receives it.
//! Errors are expected; a panic (or an abort) is a bug. The cargo-fuzz
//! targets in `fuzz/` call these functions (feature `fuzz`), and `regressions`
//! replays every input that once failed, on stable, in the normal test run.

use std::path::Path;
use std::sync::Arc;

use ducklake_config::MAINNET_PASSPHRASE;
use sha2::Digest;
use stellar_xdr::{Hash, LedgerCloseMeta, Limits, TransactionEnvelope, TransactionPhase, TxSetComponent, WriteXdr};

use crate::decode::{self, DECODE_STACK_BYTES, Framing};
use crate::extract::{self, ExtractContext, view};
use crate::query::guard::FunctionGuard;
use crate::query::{QueryEngine, QueryError, QueryRequest, QuerySettings};
use crate::store::StoreError;
use crate::store::raw::{RawDatabase, StatementKind};
use crate::store::{Database, StoreSettings};

/// Decompressed-size cap for [`object_to_rows`]: big enough for any real
/// batch in the fixtures, small enough that a zstd bomb costs little.
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// Runs `f` on a thread with the decode pool's stack size, as production
/// decodes and extracts: deep but legal nesting must hit
/// [`decode::XDR_MAX_DEPTH`], not a smaller fuzzer stack. A panic in `f`
/// is re-raised here.
pub fn on_decode_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let handle = match std::thread::Builder::new().stack_size(DECODE_STACK_BYTES).spawn_scoped(s, f) {
            Ok(h) => h,
            Err(e) => panic!("cannot start a decode thread: {e}"),
        };
        handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// One bare `LedgerCloseMeta` (the gRPC framing) to rows, as production
/// does it: `Ok(row count)` or the decode/extract error.
///
/// A decodable ledger that extraction refuses is also extracted again after
/// [`repair_hashes`]: random bytes almost never carry a matching header hash
/// or tx hashes, and without the repair the fuzzer would never get past
/// those two checks into the table code.
pub fn xdr_to_rows(data: &[u8]) -> Result<usize, String> {
    on_decode_stack(|| {
        let mut lcm = decode::decode_lcm("fuzz input", data).map_err(|e| e.to_string())?;
        let result = lcm_to_rows(&lcm);
        if result.is_err() && repair_hashes(&mut lcm) {
            let _ = lcm_to_rows(&lcm);
        }
        result
    })
}

/// A data-lake object to rows: zstd-framed when it starts with the zstd
/// magic number, else an uncompressed `LedgerCloseMetaBatch`. Decompression
/// is capped at [`MAX_OBJECT_BYTES`].
pub fn object_to_rows(data: &[u8]) -> Result<usize, String> {
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let framing = if data.starts_with(&ZSTD_MAGIC) { Framing::ZstdBatch } else { Framing::Batch };
    on_decode_stack(|| {
        let ledgers =
            decode::decode_object("fuzz object", framing, data, MAX_OBJECT_BYTES).map_err(|e| e.to_string())?;
        let mut rows = 0;
        for mut lcm in ledgers {
            match lcm_to_rows(&lcm) {
                Ok(n) => rows += n,
                Err(e) => {
                    if repair_hashes(&mut lcm) {
                        let _ = lcm_to_rows(&lcm);
                    }
                    return Err(e);
                }
            }
        }
        Ok(rows)
    })
}

/// A decoded ledger to Arrow batches for pubnet, as
/// `pipeline::decode_and_extract` does it; `Ok(total rows)`.
pub fn lcm_to_rows(lcm: &LedgerCloseMeta) -> Result<usize, String> {
    let extracted =
        extract::extract_ledger(lcm, &ExtractContext::new(MAINNET_PASSPHRASE)).map_err(|e| e.to_string())?;
    Ok(extracted.tables.to_batches().iter().map(|b| b.batch.num_rows()).sum())
}

/// Makes a ledger self-consistent for pubnet (every fuzz entry extracts for pubnet): one processing entry per
/// envelope (extra ones dropped, missing ones defaulted), each carrying its
/// envelope's hash, and a header hash matching the header. Returns whether
/// anything changed.
pub fn repair_hashes(lcm: &mut LedgerCloseMeta) -> bool {
    let network_id: [u8; 32] = sha2::Sha256::digest(MAINNET_PASSPHRASE.as_bytes()).into();
    let hashes: Vec<Hash> = envelopes(lcm).into_iter().map(|e| Hash(view::envelope_hash(e, &network_id))).collect();
    let mut changed = false;
    macro_rules! pair {
        ($processing:expr) => {{
            let mut entries = $processing.to_vec();
            changed |= entries.len() != hashes.len();
            entries.resize_with(hashes.len(), Default::default);
            for (entry, hash) in entries.iter_mut().zip(&hashes) {
                changed |= entry.result.transaction_hash != *hash;
                entry.result.transaction_hash = hash.clone();
            }
            // Cannot fail: there are exactly as many entries as envelopes,
            // which the same VecM already holds.
            if let Ok(v) = entries.try_into() {
                $processing = v;
            }
        }};
    }
    let header = match lcm {
        LedgerCloseMeta::V0(m) => {
            pair!(m.tx_processing);
            &mut m.ledger_header
        }
        LedgerCloseMeta::V1(m) => {
            pair!(m.tx_processing);
            &mut m.ledger_header
        }
        LedgerCloseMeta::V2(m) => {
            pair!(m.tx_processing);
            &mut m.ledger_header
        }
    };
    if let Ok(xdr) = header.header.to_xdr(Limits::none()) {
        let digest: [u8; 32] = sha2::Sha256::digest(&xdr).into();
        changed |= header.hash.0 != digest;
        header.hash = Hash(digest);
    }
    changed
}

/// Every envelope of the tx set, in set order.
fn envelopes(lcm: &LedgerCloseMeta) -> Vec<&TransactionEnvelope> {
    let set = match lcm {
        LedgerCloseMeta::V0(m) => return m.tx_set.txs.iter().collect(),
        LedgerCloseMeta::V1(m) => &m.tx_set,
        LedgerCloseMeta::V2(m) => &m.tx_set,
    };
    let stellar_xdr::GeneralizedTransactionSet::V1(set) = set;
    let mut out = Vec::new();
    for phase in set.phases.iter() {
        match phase {
            TransactionPhase::V0(components) => {
                for TxSetComponent::TxsetCompTxsMaybeDiscountedFee(c) in components.iter() {
                    out.extend(c.txs.iter());
                }
            }
            TransactionPhase::V1(parallel) => {
                for stage in parallel.execution_stages.iter() {
                    out.extend(stage.0.iter().flat_map(|cluster| cluster.0.iter()));
                }
            }
        }
    }
    out
}

/// The query API's statement planning over an in-memory catalog with the
/// ingester's tables, built once and checked many times.
pub struct SqlGuard {
    engine: QueryEngine,
    /// The same deny rules, applied to the statement that would run.
    guard: Option<FunctionGuard>,
    raw: Arc<RawDatabase>,
    settings: QuerySettings,
}

impl SqlGuard {
    /// `extension_directory` should hold the json extension (as in
    /// production); without it the function guard is off, as in a
    /// production DuckDB-file catalog without json.
    pub fn new(extension_directory: Option<&Path>) -> Result<Self, StoreError> {
        let mut store_settings = StoreSettings::duckdb_file(":memory:", "lake");
        store_settings.threads = Some(1);
        store_settings.extension_directory = extension_directory.map(|d| d.display().to_string());
        let db = Database::open(&store_settings)?;
        // Creates the tables and views, so statements bind as they would in production.
        drop(db.store("mainnet", MAINNET_PASSPHRASE, "fuzz")?);
        let settings = QuerySettings::default();
        let engine = QueryEngine::new(&db, settings.clone())?;
        let guard = FunctionGuard::new(db.connection()?);
        Ok(SqlGuard { engine, guard, raw: db.raw(), settings })
    }

    /// Whether DuckDB's parse tree is checked for denied functions (json loaded).
    pub fn has_function_guard(&self) -> bool {
        self.guard.is_some()
    }

    /// Plans `text` as a JSON query and as an export, and panics unless
    /// every accepted plan is one statement DuckDB calls SELECT or EXPLAIN,
    /// passes the function guard as it will run, and keeps its limit within
    /// the maximum, and no refusal comes from a DuckDB internal error.
    /// Returns the JSON plan's outcome.
    pub fn check_sql(&self, text: &str) -> Result<String, QueryError> {
        let json = self.check_plan(text, None, false, self.settings.max_limit);
        let _ = self.check_plan(text, Some(i64::MAX), true, self.settings.export_max_rows);
        json
    }

    fn check_plan(&self, text: &str, limit: Option<i64>, export: bool, max: u64) -> Result<String, QueryError> {
        let req = QueryRequest { sql: text.to_string(), limit, offset: Some(i64::MAX), format: None };
        let (sql, planned_limit) = self.engine.plan(&req, export).inspect_err(|e| {
            // DuckDB invalidates the whole instance after an internal error,
            // so one request would take the query API down. Only the prefix
            // counts: DuckDB's messages quote the statement.
            if let QueryError::Invalid(message) = e {
                assert!(
                    !(message.starts_with("INTERNAL Error") || message.starts_with("FATAL Error")),
                    "planning {text:?} broke DuckDB: {message}"
                );
            }
        })?;
        let kind = self.raw.classify(&sql);
        assert!(
            matches!(kind, Ok(StatementKind::Select | StatementKind::Explain)),
            "plan accepted {text:?} as {sql:?}, which DuckDB classifies as {kind:?}"
        );
        assert!(planned_limit <= max, "plan of {text:?} has limit {planned_limit} above the maximum {max}");
        if let Some(guard) = &self.guard
            && let Err(reason) = guard.check(&sql)
        {
            panic!("plan accepted {text:?}, but the statement it runs, {sql:?}, is refused by the guard: {reason}");
        }
        Ok(sql)
    }
}

#[cfg(test)]
mod regressions;
