//! Structured: an arbitrary `LedgerCloseMeta`, encoded to XDR and fed to the
//! same path as `xdr_to_rows`, so every crash replays as XDR bytes. With
//! `LCM_XDR_OUT=<file>` set, the XDR of the input is written there before it
//! runs (README.md: turning a crash into a regression input).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use stellar_xdr::{LedgerCloseMeta, Limits, WriteXdr};

fuzz_target!(|data: &[u8]| {
    static OUT: OnceLock<Option<std::ffi::OsString>> = OnceLock::new();
    // Generating and encoding recurse as deep as the value: on the big stack too.
    let xdr = ducklake_ingester::fuzz::on_decode_stack(|| {
        let lcm = LedgerCloseMeta::arbitrary_take_rest(Unstructured::new(data)).ok()?;
        lcm.to_xdr(Limits::none()).ok()
    });
    let Some(xdr) = xdr else { return };
    if let Some(out) = OUT.get_or_init(|| std::env::var_os("LCM_XDR_OUT")) {
        std::fs::write(out, &xdr).expect("writing LCM_XDR_OUT");
    }
    let _ = ducklake_ingester::fuzz::xdr_to_rows(&xdr);
});
