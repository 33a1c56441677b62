//! Raw bytes as one bare `LedgerCloseMeta` (the gRPC framing) through
//! decode, extraction and Arrow encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ducklake_ingester::fuzz::xdr_to_rows(data);
});
