//! Replays every input a fuzz target once failed on
//! (`tests/fuzz-regressions/{xdr,object,sql}/`), plus hostile inputs made
//! here, through the same `ducklake_ingester::fuzz` functions the cargo-fuzz
//! targets call (`fuzz/README.md`). Plain stable tests: a panic is a failure.
//!
//! A SQL file may start with `-- expect: refused`, `-- expect: refused by the
//! guard` (only checked when the json extension is loaded) or
//! `-- expect: accepted`.

use std::path::{Path, PathBuf};

use crate::fuzz::{self, SqlGuard};
use stellar_xdr::{
    ContractEvent, ContractEventBody, ContractEventV0, GeneralizedTransactionSet, LedgerCloseMeta, LedgerCloseMetaV2,
    Limits, ReadXdr, ScVal, ScVec, TransactionEnvelope, TransactionEvent, TransactionMeta, TransactionMetaV4,
    TransactionPhase, TransactionResultMetaV1, TransactionSetV1, TxSetComponent, TxSetComponentTxsMaybeDiscountedFee,
    WriteXdr,
};

fn regression_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions").join(kind)
}

/// The inputs of one kind, sorted; a missing directory is a broken checkout.
fn regression_files(kind: &str) -> Vec<PathBuf> {
    let dir = regression_dir(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files
}

/// `../shared/fixtures/stellar` beside the repository (or `$STELLAR_FIXTURES`),
/// or `None` with a notice: fixtures are never copied into the repository.
fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("STELLAR_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/stellar"));
    if dir.join("decoded_stats.jsonl").is_file() {
        Some(dir)
    } else {
        eprintln!("NOTICE: Stellar fixtures not found at {}; skipping this fixture test", dir.display());
        None
    }
}

/// A small pubnet ledger (the fuzz functions extract for pubnet), as a
/// one-ledger zstd batch.
const RECONSTRUCTED: &str =
    "derived/etl-reconstructed-pubnet-lpf1-fpp64000/FE2A45FF--30784000-30847999/FE29B176--30822025.xdr.zst";

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut out).expect("gunzip");
    out
}

/// Runs every saved input of `kind` through `target` (a panic fails the test).
fn replay<T: std::fmt::Debug>(kind: &str, target: impl Fn(&[u8]) -> T) {
    for file in regression_files(kind) {
        let data = std::fs::read(&file).expect("read");
        let outcome = target(&data);
        eprintln!("{}: {outcome:?}", file.display());
    }
}

#[test]
fn xdr_regressions() {
    replay("xdr", fuzz::xdr_to_rows);
}

#[test]
fn object_regressions() {
    replay("object", fuzz::object_to_rows);
}

/// `$DUCKLAKE_EXTENSION_DIR`, else `<repo>/.duckdb/extensions` (as the other
/// integration tests); without the json extension the guard is off.
fn sql_guard() -> SqlGuard {
    let dir = std::env::var_os("DUCKLAKE_EXTENSION_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.duckdb/extensions"));
    let guard = SqlGuard::new(dir.is_dir().then_some(dir.as_path())).expect("in-memory query engine");
    if !guard.has_function_guard() {
        eprintln!(
            "NOTICE: no json extension under {}: the function guard is off and `refused by the guard` is not checked \
             (run scripts/fetch-extensions.sh)",
            dir.display()
        );
    }
    guard
}

#[test]
fn sql_regressions() {
    let guard = sql_guard();
    let mut wrong = Vec::new();
    for file in regression_files("sql") {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let outcome = guard.check_sql(&text);
        let verdict = outcome.as_ref().map_or_else(|e| format!("refused: {e}"), |_| "accepted".into());
        eprintln!("{}: {verdict}", file.display());
        let expect = text.lines().next().and_then(|l| l.strip_prefix("-- expect: ")).map(str::trim);
        let ok = match expect {
            Some("refused") => outcome.is_err(),
            Some("refused by the guard") => outcome.is_err() || !guard.has_function_guard(),
            Some("accepted") => outcome.is_ok(),
            _ => true,
        };
        if !ok {
            wrong.push(format!("{}: expected {}, got {verdict}", file.display(), expect.unwrap_or_default()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every prefix of a real ledger fails to decode (no panic, no huge
/// allocation), the whole one yields rows, and byte flips do not panic.
#[test]
fn truncated_and_flipped_fixture_ledgers() {
    let Some(fixtures) = fixtures() else { return };
    // A one-ledger pubnet batch: a 12-byte batch header, then the LCM.
    let small = zstd::decode_all(&std::fs::read(fixtures.join(RECONSTRUCTED)).expect("read")[..]).expect("zstd");
    let small = small[12..].to_vec();
    let big = gunzip(&fixtures.join("original/pubnet/wallet-backend/ledger-63092988.xdr.gz"));
    for ledger in [&small, &big] {
        let rows = fuzz::xdr_to_rows(ledger).expect("the whole ledger extracts");
        assert!(rows > 0);
        let step = (ledger.len() / 200).max(1);
        for cut in (0..ledger.len()).step_by(step).chain(0..64.min(ledger.len())) {
            assert!(fuzz::xdr_to_rows(&ledger[..cut]).is_err(), "a {cut}-byte prefix decoded");
        }
        let mut flipped = ledger.clone();
        for i in (0..ledger.len()).step_by((ledger.len() / 64).max(1)) {
            flipped[i] ^= 0xff;
            let _ = fuzz::xdr_to_rows(&flipped);
            flipped[i] ^= 0xff;
        }
    }
}

#[test]
fn truncated_fixture_objects() {
    let Some(fixtures) = fixtures() else { return };
    let object = std::fs::read(fixtures.join(RECONSTRUCTED)).expect("read");
    assert!(fuzz::object_to_rows(&object).expect("the whole object extracts") > 0);
    let plain = zstd::decode_all(&object[..]).expect("zstd");
    assert!(fuzz::object_to_rows(&plain).expect("the uncompressed batch extracts") > 0);
    for data in [&object, &plain] {
        for cut in (0..data.len()).step_by(data.len() / 16) {
            assert!(fuzz::object_to_rows(&data[..cut]).is_err(), "a {cut}-byte prefix decoded");
        }
    }
}

/// A V2 ledger with one transaction whose fee event carries `levels` nested
/// `ScVal` vectors: legal XDR, as deep as the decoder allows.
fn deep_event_ledger(levels: usize) -> LedgerCloseMeta {
    let mut data = ScVal::Void;
    for _ in 0..levels {
        data = ScVal::Vec(Some(ScVec(vec![data].try_into().expect("one element"))));
    }
    let event = ContractEvent {
        body: ContractEventBody::V0(ContractEventV0 { topics: Default::default(), data }),
        ..Default::default()
    };
    let meta = TransactionMetaV4 {
        events: vec![TransactionEvent { stage: Default::default(), event }].try_into().expect("one event"),
        ..Default::default()
    };
    let component = TxSetComponentTxsMaybeDiscountedFee {
        base_fee: None,
        txs: vec![TransactionEnvelope::default()].try_into().expect("one envelope"),
    };
    let phase = TransactionPhase::V0(
        vec![TxSetComponent::TxsetCompTxsMaybeDiscountedFee(component)].try_into().expect("one component"),
    );
    let processing = TransactionResultMetaV1 { tx_apply_processing: TransactionMeta::V4(meta), ..Default::default() };
    LedgerCloseMeta::V2(LedgerCloseMetaV2 {
        tx_set: GeneralizedTransactionSet::V1(TransactionSetV1 {
            phases: vec![phase].try_into().expect("one phase"),
            ..Default::default()
        }),
        tx_processing: vec![processing].try_into().expect("one tx"),
        ..Default::default()
    })
}

/// Nesting the decoder accepts reaches the tables (recursive ScVal-to-JSON
/// included) on the decode stack; deeper nesting is a depth error, not a
/// stack overflow.
#[test]
fn deep_scval_ledgers() {
    fuzz::on_decode_stack(|| {
        let mut lcm = deep_event_ledger(300);
        assert!(fuzz::repair_hashes(&mut lcm));
        let xdr = lcm.to_xdr(Limits::none()).expect("encode");
        let rows =
            fuzz::xdr_to_rows(&xdr).expect("a 300-deep event value (~4 depth units a level) is within the limits");
        assert!(rows >= 3, "ledger, transaction and event rows: {rows}");

        let xdr = deep_event_ledger(2_000).to_xdr(Limits::none()).expect("encode");
        let err = fuzz::xdr_to_rows(&xdr).unwrap_err();
        assert!(err.contains("depth limit"), "{err}");
    });
}

/// Empty ledgers of each LCM version: refused for their zero header hash,
/// extracted once [`fuzz::repair_hashes`] fixes it.
#[test]
fn repaired_empty_ledgers_extract() {
    for lcm in [
        LedgerCloseMeta::V0(Default::default()),
        LedgerCloseMeta::V1(Default::default()),
        LedgerCloseMeta::V2(Default::default()),
    ] {
        let xdr = lcm.to_xdr(Limits::none()).expect("encode");
        let err = fuzz::xdr_to_rows(&xdr).unwrap_err();
        assert!(err.contains("header hash"), "{err}");
        let mut repaired = LedgerCloseMeta::from_xdr(&xdr, Limits::none()).expect("decode");
        assert!(fuzz::repair_hashes(&mut repaired));
        assert_eq!(fuzz::lcm_to_rows(&repaired), Ok(1), "one ledgers_row_v2 row");
    }
}
