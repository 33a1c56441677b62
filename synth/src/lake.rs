//! Writes ledgers as a SEP-54 data lake: `.config.json` plus zstd
//! `LedgerCloseMetaBatch` objects under galexie's key layout
//! ([`ducklake_stellar::layout`]), each written atomically (temp file + rename).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use stellar_xdr::{LedgerCloseMeta, LedgerCloseMetaBatch, Limits, WriteXdr};

use ducklake_stellar::layout::{Layout, MANIFEST_FILE, Manifest};
use ducklake_stellar::ledger::ledger_seq;

/// zstd level of the objects (galexie uses the library default).
const ZSTD_LEVEL: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("ledger {seq}: cannot encode its XDR: {source}")]
    Xdr { seq: u32, source: stellar_xdr::Error },
    #[error("ledger {got} follows ledger {prev}: a lake holds consecutive ledgers")]
    NotConsecutive { prev: u32, got: u32 },
    #[error("{}: the lake already has a different manifest ({existing}); use an empty directory", path.display())]
    ManifestMismatch { path: PathBuf, existing: String },
    #[error("ledgers_per_file and files_per_partition must be at least 1")]
    Layout,
}

/// What [`write_lake`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeSummary {
    pub ledgers: u64,
    pub first: Option<u32>,
    pub last: Option<u32>,
    pub objects: u64,
    /// Bytes on disk (compressed objects).
    pub bytes: u64,
    /// Bytes of uncompressed XDR.
    pub xdr_bytes: u64,
    /// Objects holding fewer ledgers than their key's range (the chain
    /// started or stopped inside a file); readers that require full objects
    /// will reject them.
    pub partial_objects: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestOut<'a> {
    network_passphrase: &'a str,
    version: &'a str,
    compression: &'a str,
    ledgers_per_batch: u32,
    batches_per_partition: u32,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LakeError + '_ {
    move |source| LakeError::Io { path: path.to_path_buf(), source }
}

/// Writes `bytes` to `path` via a temporary file in the same directory and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LakeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Writes (or checks) the manifest galexie writes at the lake root.
fn write_manifest(dir: &Path, passphrase: &str, layout: Layout) -> Result<(), LakeError> {
    let path = dir.join(MANIFEST_FILE);
    let out = ManifestOut {
        network_passphrase: passphrase,
        version: "1.0",
        compression: "zstd",
        ledgers_per_batch: layout.ledgers_per_file,
        batches_per_partition: layout.files_per_partition,
    };
    let json = serde_json::to_string(&out).expect("the manifest serializes");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let same = serde_json::from_str::<Manifest>(&existing).ok() == serde_json::from_str::<Manifest>(&json).ok();
        if !same {
            return Err(LakeError::ManifestMismatch { path, existing: existing.trim().to_string() });
        }
        return Ok(());
    }
    write_atomic(&path, json.as_bytes())
}

/// Writes `ledgers` (consecutive) into the lake at `dir`, creating it if
/// needed. Objects are zstd `LedgerCloseMetaBatch`es of up to
/// `ledgers_per_file` ledgers at their SEP-54 keys.
pub fn write_lake(
    dir: &Path,
    network_passphrase: &str,
    ledgers_per_file: u32,
    files_per_partition: u32,
    ledgers: impl IntoIterator<Item = LedgerCloseMeta>,
) -> Result<LakeSummary, LakeError> {
    if ledgers_per_file == 0 || files_per_partition == 0 {
        return Err(LakeError::Layout);
    }
    let layout = Layout { ledgers_per_file, files_per_partition };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_manifest(dir, network_passphrase, layout)?;
    let mut summary = LakeSummary::default();
    let mut batch: Vec<LedgerCloseMeta> = Vec::with_capacity(ledgers_per_file as usize);
    for lcm in ledgers {
        let seq = ledger_seq(&lcm);
        if let Some(prev) = summary.last
            && seq != prev.wrapping_add(1)
        {
            return Err(LakeError::NotConsecutive { prev, got: seq });
        }
        if batch.first().is_some_and(|f| layout.file_start(ledger_seq(f)) != layout.file_start(seq)) {
            flush(dir, layout, &mut batch, &mut summary)?;
        }
        summary.first.get_or_insert(seq);
        summary.last = Some(seq);
        summary.ledgers += 1;
        batch.push(lcm);
    }
    flush(dir, layout, &mut batch, &mut summary)?;
    Ok(summary)
}

fn flush(
    dir: &Path,
    layout: Layout,
    batch: &mut Vec<LedgerCloseMeta>,
    summary: &mut LakeSummary,
) -> Result<(), LakeError> {
    let (Some(first), Some(last)) = (batch.first().map(ledger_seq), batch.last().map(ledger_seq)) else {
        return Ok(());
    };
    let obj = LedgerCloseMetaBatch {
        start_sequence: first,
        end_sequence: last,
        ledger_close_metas: std::mem::take(batch).try_into().map_err(|source| LakeError::Xdr { seq: first, source })?,
    };
    let xdr = obj.to_xdr(Limits::none()).map_err(|source| LakeError::Xdr { seq: first, source })?;
    let compressed = zstd::bulk::compress(&xdr, ZSTD_LEVEL).map_err(io(dir))?;
    let key = layout.object_key(first, "zst");
    let start = layout.file_start(first);
    if first != start || last != layout.file_end(start) {
        summary.partial_objects.push(key.clone());
    }
    write_atomic(&dir.join(&key), &compressed)?;
    summary.objects += 1;
    summary.bytes += compressed.len() as u64;
    summary.xdr_bytes += xdr.len() as u64;
    Ok(())
}
