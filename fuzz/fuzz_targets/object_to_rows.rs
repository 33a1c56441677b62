//! Raw bytes as a data-lake object (zstd or plain `LedgerCloseMetaBatch`)
//! through decompression, batch checks, extraction and Arrow encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ducklake_ingester::fuzz::object_to_rows(data);
});
