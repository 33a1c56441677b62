//! SEP-54 / galexie object keys and the `.config.json` manifest.
//!
//! ```text
//! [%08X--partStart-partEnd/]%08X--fileStart[-fileEnd].xdr.zst
//! ```
//! with the hex of `0xFFFFFFFF - start`, so listings return newest first. The
//! partition folder exists only when files_per_partition > 1; `-fileEnd` only
//! when ledgers_per_file > 1. Older lakes use the `.zstd` extension.

use serde::Deserialize;

/// Ledgers per object and objects per partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub ledgers_per_file: u32,
    pub files_per_partition: u32,
}

/// Object file extensions, newest first.
pub const EXTENSIONS: [&str; 2] = ["zst", "zstd"];

impl Layout {
    /// First ledger of the object holding `seq`.
    pub fn file_start(&self, seq: u32) -> u32 {
        seq / self.ledgers_per_file * self.ledgers_per_file
    }

    /// Last ledger of the object starting at `start`.
    pub fn file_end(&self, start: u32) -> u32 {
        start.saturating_add(self.ledgers_per_file - 1)
    }

    fn partition_size(&self) -> u64 {
        u64::from(self.ledgers_per_file) * u64::from(self.files_per_partition)
    }

    /// Partition folder (with trailing `/`) of the object holding `seq`, or "" without partitions.
    pub fn partition_dir(&self, seq: u32) -> String {
        if self.files_per_partition <= 1 {
            return String::new();
        }
        let size = self.partition_size();
        let start = u64::from(seq) / size * size;
        let end = (start + size - 1).min(u64::from(u32::MAX));
        format!("{:08X}--{start}-{end}/", u32::MAX - start as u32)
    }

    /// Key of the object holding `seq`, relative to the lake root.
    pub fn object_key(&self, seq: u32, ext: &str) -> String {
        let start = self.file_start(seq);
        let end = self.file_end(start);
        let mut key = self.partition_dir(seq);
        key.push_str(&format!("{:08X}--{start}", u32::MAX - start));
        if end != start {
            key.push_str(&format!("-{end}"));
        }
        key.push_str(".xdr.");
        key.push_str(ext);
        key
    }

    /// Parses an object file name (`FFFFFFFA--5.xdr.zst`) into its ledger range.
    pub fn parse_file_name(name: &str) -> Option<(u32, u32)> {
        let (_, rest) = name.split_once("--")?;
        let (range, ext) = rest.split_once(".xdr.")?;
        if ext.is_empty() {
            return None;
        }
        match range.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => {
                let a = range.parse().ok()?;
                Some((a, a))
            }
        }
    }
}

/// The lake's `.config.json`, as galexie writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub network_passphrase: Option<String>,
    pub version: Option<String>,
    pub compression: Option<String>,
    pub ledgers_per_batch: Option<u32>,
    pub batches_per_partition: Option<u32>,
}

pub const MANIFEST_FILE: &str = ".config.json";

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(lpf: u32, fpp: u32) -> Layout {
        Layout { ledgers_per_file: lpf, files_per_partition: fpp }
    }

    #[test]
    fn galexie_schema_test_vectors() {
        // stellar/go support/datastore/schema_test.go
        assert_eq!(layout(1, 0).object_key(5, "zst"), "FFFFFFFA--5.xdr.zst");
        assert_eq!(layout(50, 2).object_key(150, "zst"), "FFFFFF9B--100-199/FFFFFF69--150-199.xdr.zst");
        assert_eq!(layout(200, 1).object_key(300, "zst"), "FFFFFF37--200-399.xdr.zst");
    }

    #[test]
    fn fixture_lake_keys() {
        assert_eq!(
            layout(1, 64000).object_key(63092982, "zst"),
            "FC3E15FF--63040000-63103999/FC3D4709--63092982.xdr.zst"
        );
        assert_eq!(
            layout(64, 10).object_key(1410100, "zst"),
            "FFEA7C7F--1409920-1410559/FFEA7BFF--1410048-1410111.xdr.zst"
        );
        assert_eq!(
            layout(1, 64000).object_key(53312000, "zstd"),
            "FCD285FF--53312000-53375999/FCD285FF--53312000.xdr.zstd"
        );
    }

    #[test]
    fn file_names_parse() {
        assert_eq!(Layout::parse_file_name("FFEA7BFF--1410048-1410111.xdr.zst"), Some((1410048, 1410111)));
        assert_eq!(Layout::parse_file_name("FC3D4709--63092982.xdr.zstd"), Some((63092982, 63092982)));
        assert_eq!(Layout::parse_file_name(".config.json"), None);
    }

    #[test]
    fn manifest_parses() {
        let m: Manifest = serde_json::from_str(
            r#"{"networkPassphrase":"x","version":"1.0","compression":"zstd","ledgersPerBatch":64,"batchesPerPartition":10}"#,
        )
        .unwrap();
        assert_eq!(m.ledgers_per_batch, Some(64));
        assert_eq!(m.batches_per_partition, Some(10));
    }
}
