//! Bytes to `LedgerCloseMeta`: the one place that knows XDR framing.
//!
//! Inputs come in three shapes: zstd-compressed `LedgerCloseMetaBatch`
//! objects (SEP-54 data lakes), uncompressed batches, and bare
//! `LedgerCloseMeta` (gRPC `RawLedger.ledger_close_meta_xdr`). Every ledger is
//! decoded exactly once, with explicit limits: nesting depth (hostile inputs
//! must hit the limit, not the stack: decode runs on [`DECODE_STACK_BYTES`]
//! stacks) and length (no allocation larger than the input itself).

use std::io::Read;

use stellar_xdr::{LedgerCloseMeta, LedgerCloseMetaBatch, Limits, ReadXdr};

/// Maximum XDR nesting depth. go-xdr raised its default to 1500 for protocol 27
/// delegated Soroban credential chains; real ledgers need at most 48.
pub const XDR_MAX_DEPTH: u32 = 1500;

/// Stack size for decode threads, so that [`XDR_MAX_DEPTH`] is reached before
/// the stack is exhausted.
pub const DECODE_STACK_BYTES: usize = 64 << 20;

/// Why an object or ledger could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{what}: not valid zstd data: {source}")]
    Zstd { what: String, source: std::io::Error },
    #[error("{what}: decompresses to more than {limit} bytes (pipeline.max_object_bytes)")]
    TooLarge { what: String, limit: usize },
    #[error("{what}: not a valid {kind} ({len} bytes): {source}")]
    Xdr { what: String, kind: &'static str, len: usize, source: stellar_xdr::Error },
    #[error("{what}: {detail}")]
    Content { what: String, detail: String },
}

/// How an object's bytes are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// zstd( XDR `LedgerCloseMetaBatch` ): a SEP-54 data-lake object.
    ZstdBatch,
    /// XDR `LedgerCloseMetaBatch` without compression.
    Batch,
    /// One XDR `LedgerCloseMeta`, as carried by the gRPC `RawLedger` message.
    Lcm,
}

fn limits(len: usize) -> Limits {
    Limits { depth: XDR_MAX_DEPTH, len }
}

/// Decompresses zstd data, refusing output larger than `limit` bytes.
pub fn decompress_zstd(what: &str, data: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let decoder = zstd::stream::read::Decoder::with_buffer(data)
        .map_err(|source| DecodeError::Zstd { what: what.to_string(), source })?;
    // The frame header usually records the content size: allocate once.
    let hint = zstd::zstd_safe::get_frame_content_size(data)
        .ok()
        .flatten()
        .map_or(data.len().saturating_mul(8), |n| n as usize);
    let mut out = Vec::with_capacity(hint.min(limit) + 1);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|source| DecodeError::Zstd { what: what.to_string(), source })?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { what: what.to_string(), limit });
    }
    Ok(out)
}

/// Decodes one bare `LedgerCloseMeta`.
pub fn decode_lcm(what: &str, xdr: &[u8]) -> Result<LedgerCloseMeta, DecodeError> {
    LedgerCloseMeta::from_xdr(xdr, limits(xdr.len())).map_err(|source| DecodeError::Xdr {
        what: what.to_string(),
        kind: "LedgerCloseMeta",
        len: xdr.len(),
        source,
    })
}

/// Decodes a `LedgerCloseMetaBatch` and checks that its header agrees with
/// the ledgers it holds (consecutive, `startSequence..=endSequence`).
pub fn decode_batch(what: &str, xdr: &[u8]) -> Result<Vec<LedgerCloseMeta>, DecodeError> {
    let batch = LedgerCloseMetaBatch::from_xdr(xdr, limits(xdr.len())).map_err(|source| DecodeError::Xdr {
        what: what.to_string(),
        kind: "LedgerCloseMetaBatch",
        len: xdr.len(),
        source,
    })?;
    let ledgers: Vec<LedgerCloseMeta> = batch.ledger_close_metas.into();
    let content = |detail: String| DecodeError::Content { what: what.to_string(), detail };
    let expected = u64::from(batch.end_sequence) + 1 - u64::from(batch.start_sequence.min(batch.end_sequence));
    if batch.end_sequence < batch.start_sequence || ledgers.len() as u64 != expected {
        return Err(content(format!(
            "batch header says ledgers {}-{} but holds {} ledgers",
            batch.start_sequence,
            batch.end_sequence,
            ledgers.len()
        )));
    }
    for (i, lcm) in ledgers.iter().enumerate() {
        let seq = ledger_seq(lcm);
        if seq != batch.start_sequence + i as u32 {
            return Err(content(format!(
                "ledger #{i} of batch {}-{} has sequence {seq}",
                batch.start_sequence, batch.end_sequence
            )));
        }
    }
    Ok(ledgers)
}

/// Decodes an object of any framing into its ledgers, in order.
pub fn decode_object(
    what: &str,
    framing: Framing,
    data: &[u8],
    max_object_bytes: usize,
) -> Result<Vec<LedgerCloseMeta>, DecodeError> {
    match framing {
        Framing::ZstdBatch => {
            let xdr = decompress_zstd(what, data, max_object_bytes)?;
            decode_batch(what, &xdr)
        }
        Framing::Batch => decode_batch(what, data),
        Framing::Lcm => Ok(vec![decode_lcm(what, data)?]),
    }
}

pub use ducklake_stellar::ledger::{header_entry, ledger_seq};

/// A thread pool whose threads have stacks deep enough for [`XDR_MAX_DEPTH`].
pub fn decode_pool(threads: usize) -> std::io::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .stack_size(DECODE_STACK_BYTES)
        .thread_name(|i| format!("decode-{i}"))
        .build()
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::WriteXdr;

    #[test]
    fn garbage_is_a_clear_error() {
        let err = decode_lcm("ledger 7", &[0, 0, 0, 9, 1, 2, 3]).unwrap_err().to_string();
        assert!(err.starts_with("ledger 7: not a valid LedgerCloseMeta (7 bytes)"), "{err}");
        let err = decompress_zstd("obj", b"not zstd at all", 1 << 20).unwrap_err().to_string();
        assert!(err.starts_with("obj: not valid zstd data"), "{err}");
    }

    #[test]
    fn zstd_bomb_is_refused() {
        let big = vec![0u8; 4 << 20];
        let compressed = zstd::encode_all(&big[..], 3).unwrap();
        assert!(compressed.len() < 4096);
        let err = decompress_zstd("bomb", &compressed, 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { limit, .. } if limit == 1 << 20), "{err}");
        assert_eq!(decompress_zstd("ok", &compressed, 4 << 20).unwrap().len(), 4 << 20);
    }

    #[test]
    fn batch_header_must_match_contents() {
        let batch = LedgerCloseMetaBatch { start_sequence: 5, end_sequence: 6, ledger_close_metas: Default::default() };
        let xdr = batch.to_xdr(Limits::none()).unwrap();
        let err = decode_batch("b", &xdr).unwrap_err().to_string();
        assert_eq!(err, "b: batch header says ledgers 5-6 but holds 0 ledgers");
    }

    #[test]
    fn deep_nesting_hits_the_depth_limit_not_the_stack() {
        // A ScVal vector nested far deeper than XDR_MAX_DEPTH: each level is
        // SCV_VEC (16), "present" (1), length 1.
        let levels = 100_000;
        let mut xdr = Vec::with_capacity(levels * 12 + 4);
        for _ in 0..levels {
            xdr.extend_from_slice(&[0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 1]);
        }
        xdr.extend_from_slice(&[0, 0, 0, 1]); // SCV_VOID
        let handle = std::thread::Builder::new()
            .stack_size(DECODE_STACK_BYTES)
            .spawn(move || stellar_xdr::ScVal::from_xdr(&xdr, limits(xdr.len())).map(|_| ()))
            .unwrap();
        let result = handle.join().expect("decoder must not overflow its stack");
        assert!(matches!(result, Err(stellar_xdr::Error::DepthLimitExceeded)), "{result:?}");
    }
}
