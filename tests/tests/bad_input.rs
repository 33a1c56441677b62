//! Bad configuration and bad data: clear errors, and committed data intact.

use std::path::Path;

use ducklake_tests::config::{edit, first_datastore};
use ducklake_tests::{
    Lake, PUBNET, TESTNET, copy_dir, describe, open_catalog, require_fixtures, run_config, run_ingester, write_config,
};
use ducklake_tests::{batch, keep};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn invalid_config_exits_2_naming_the_key_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalogs/never.duckdb");
    let lake = tmp.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("end before start", "end_ledger: 90", "sources[0].end_ledger: 90 is before start_ledger 100"),
        ("missing passphrase", "network_passphrase: \"\"", "sources[0].network_passphrase: missing"),
        ("unreadable path", "path: /nonexistent/lake", "sources[0].datastore.path: cannot read /nonexistent/lake"),
        ("bad type", "start_ledger: soon", "sources[0].start_ledger: invalid type"),
        ("unknown store", "type: FTP", "sources[0].datastore.type: unknown variant `FTP`"),
        ("zero batch", "batch_size: 0", "ducklake.batch_size: must be at least 1"),
        (
            "env var",
            "catalog_path: \"${DUCKLAKE_TEST_UNSET_VAR}\"",
            "ducklake.catalog_path: environment variable DUCKLAKE_TEST_UNSET_VAR is not set",
        ),
    ];
    for (name, replace, expected) in cases {
        let good = format!(
            "sources:\n  - mode: datastore\n    datastore:\n      type: FS\n      path: {}\n    network_passphrase: \"{PUBNET}\"\n    start_ledger: 100\n    end_ledger: 200\nducklake:\n  catalog_path: {}\n  batch_size: 10\n",
            lake.display(),
            catalog.display()
        );
        let key = replace.split(':').next().unwrap();
        let bad: String = good
            .lines()
            .map(|l| {
                if l.trim_start().starts_with(&format!("{key}:")) {
                    format!("{}{replace}", &l[..l.len() - l.trim_start().len()])
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(bad, good, "{name}: replacement did not apply");
        let path = tmp.path().join("bad.yaml");
        std::fs::write(&path, &bad).unwrap();
        for cmd in [vec!["run", "--config", path.to_str().unwrap()], vec!["check-config", path.to_str().unwrap()]] {
            let out = run_ingester(&cmd);
            assert_eq!(out.status.code(), Some(2), "{name} ({}): {}", cmd[0], describe(&out));
            assert!(stderr(&out).contains(expected), "{name} ({}): expected {expected:?} in\n{}", cmd[0], stderr(&out));
        }
        assert!(!catalog.exists() && !catalog.parent().unwrap().exists(), "{name}: nothing may be written");
    }
}

#[test]
fn unknown_keys_warn_and_check_config_summarises() {
    let fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let lake = fixtures.join("derived/datalake-testnet-lpf64-fpp10");
    let config = write_config(
        tmp.path(),
        "c.yaml",
        &Lake { path: &lake, passphrase: TESTNET, start: 1410048, end: 1410100 },
        &tmp.path().join("x.duckdb"),
        &keep,
    );
    // The bad input: keys the ingester does not know, written into the file's `ducklake` section.
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let ducklake = doc.get_mut("ducklake").and_then(|d| d.as_mapping_mut()).unwrap();
    ducklake.insert("batch_sise".into(), 5.into());
    ducklake.insert("use_upsert".into(), true.into());
    std::fs::write(&config, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
    let out = run_ingester(&["check-config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("warning: ducklake.batch_sise: unknown key, ignored (did you mean `batch_size`?)"), "{err}");
    assert!(err.contains("warning: ducklake.use_upsert: ignored"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("64 ledgers/file, 10 files/partition"), "{stdout}");
    assert!(stdout.contains("schema testnet, ledgers 1410048..1410100"), "{stdout}");
    assert!(!tmp.path().join("x.duckdb").exists(), "check-config writes nothing");
}

/// Replaces one object of a copied lake with garbage.
fn corrupt(lake: &Path, object: &str, bytes: &[u8]) {
    std::fs::write(lake.join(object), bytes).unwrap();
}

const OBJECTS: [&str; 5] = [
    "FFEA7C7F--1409920-1410559/FFEA7BFF--1410048-1410111.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7BBF--1410112-1410175.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7B7F--1410176-1410239.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7B3F--1410240-1410303.xdr.zst",
    "FFEA7C7F--1409920-1410559/FFEA7AFF--1410304-1410367.xdr.zst",
];

fn ledger_count(catalog: &Path) -> (i64, i64, i64) {
    let conn = open_catalog(catalog);
    conn.query_row("SELECT count(*), min(sequence), max(sequence) FROM testnet.ledgers_row_v2", [], |r| {
        Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0), r.get::<_, Option<i64>>(2)?.unwrap_or(0)))
    })
    .unwrap()
}

#[test]
fn corrupt_object_fails_clearly_and_keeps_committed_ledgers() {
    let fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    copy_dir(&fixtures.join("derived/datalake-testnet-lpf64-fpp10"), &lake);
    let catalog = tmp.path().join("c.duckdb");
    let config = write_config(
        tmp.path(),
        "c.yaml",
        &Lake { path: &lake, passphrase: TESTNET, start: 1410048, end: 1410367 },
        &catalog,
        &batch(50),
    );
    let original = std::fs::read(lake.join(OBJECTS[2])).unwrap();

    for (what, damage, expected) in [
        ("garbage", b"this is not zstd".to_vec(), "not valid zstd data"),
        ("truncated", original[..original.len() / 2].to_vec(), "not valid zstd data"),
        (
            "valid zstd, invalid XDR",
            zstd::encode_all(&b"\x00\x00\x00\x01garbage garbage garbage"[..], 3).unwrap(),
            "not a valid LedgerCloseMetaBatch",
        ),
    ] {
        corrupt(&lake, OBJECTS[2], &damage);
        let out = run_config(&config);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", describe(&out));
        let err = stderr(&out);
        assert!(
            err.contains(OBJECTS[2]) && err.contains(expected),
            "{what}: error must name the object and the problem:\n{err}"
        );
        // The two good objects before it are committed, nothing after it.
        assert_eq!(ledger_count(&catalog), (128, 1410048, 1410175), "{what}");
    }

    // Repaired, the run resumes and completes without duplicates.
    corrupt(&lake, OBJECTS[2], &original);
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(ledger_count(&catalog), (320, 1410048, 1410367));
}

#[test]
fn missing_object_in_the_middle_is_a_gap_error() {
    let fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    copy_dir(&fixtures.join("derived/datalake-testnet-lpf64-fpp10"), &lake);
    let missing = std::fs::read(lake.join(OBJECTS[1])).unwrap();
    std::fs::remove_file(lake.join(OBJECTS[1])).unwrap();
    let catalog = tmp.path().join("c.duckdb");
    let config = write_config(
        tmp.path(),
        "c.yaml",
        &Lake { path: &lake, passphrase: TESTNET, start: 1410048, end: 1410367 },
        &catalog,
        &batch(50),
    );
    // retry_limit defaults to 3 with 1 s waits; keep the test quick.
    edit(&config, |c| (first_datastore(c).retry_limit, first_datastore(c).retry_wait_ms) = (1, 10));
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("missing from the lake, but a later object exists"), "{err}");
    assert!(err.contains("FFEA7BBF--1410112-1410175.xdr.zst"), "{err}");
    assert_eq!(ledger_count(&catalog), (64, 1410048, 1410111));

    // Once the object is published, the same command fills the gap and
    // completes the range, each ledger once.
    std::fs::write(lake.join(OBJECTS[1]), missing).unwrap();
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(ledger_count(&catalog), (320, 1410048, 1410367));
    let conn = open_catalog(&catalog);
    ducklake_tests::assert_lineage_matches_tables(&conn, "testnet");
    let distinct: i64 = conn
        .query_row("SELECT count(DISTINCT transaction_hash) - count(*) FROM testnet.transactions_row_v2", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(distinct, 0, "no transaction twice");
}

#[test]
fn wrong_network_passphrase_is_refused() {
    let fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    // The testnet lake's manifest names its network: a mainnet config is refused before anything is written.
    let lake = fixtures.join("derived/datalake-testnet-lpf64-fpp10");
    let catalog = tmp.path().join("c.duckdb");
    let config = write_config(
        tmp.path(),
        "c.yaml",
        &Lake { path: &lake, passphrase: PUBNET, start: 1410048, end: 1410100 },
        &catalog,
        &keep,
    );
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("sources[0].network_passphrase: \"Public Global Stellar Network ; September 2015\" disagrees with the lake's .config.json"), "{}", stderr(&out));
    assert!(!catalog.exists());

    // Without a manifest, transaction hashes expose the wrong network.
    let bare = tmp.path().join("bare");
    copy_dir(&lake, &bare);
    std::fs::remove_file(bare.join(".config.json")).unwrap();
    edit(&config, |c| {
        let d = first_datastore(c);
        d.path = bare.to_str().unwrap().to_string();
        (d.ledgers_per_file, d.files_per_partition) = (Some(64), Some(10));
    });
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("not from the configured network (check network_passphrase)"), "{}", stderr(&out));
}

#[test]
fn a_different_chain_is_refused_after_resume() {
    let fixtures = require_fixtures!();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.duckdb");
    let real = fixtures.join("derived/datalake-pubnet-lpf1-fpp64000");
    let config = write_config(
        tmp.path(),
        "a.yaml",
        &Lake { path: &real, passphrase: PUBNET, start: 63092982, end: 63092990 },
        &catalog,
        &keep,
    );
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // A lake whose ledger 63092991 is really ledger 63092992 renamed: the
    // sequence check or the hash chain must refuse it.
    let fake = tmp.path().join("fake");
    copy_dir(&real, &fake);
    let part = fake.join("FC3E15FF--63040000-63103999");
    std::fs::copy(part.join("FC3D46FF--63092992.xdr.zst"), part.join("FC3D4700--63092991.xdr.zst")).unwrap();
    let config = write_config(
        tmp.path(),
        "b.yaml",
        &Lake { path: &fake, passphrase: PUBNET, start: 63092982, end: 63093001 },
        &catalog,
        &keep,
    );
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("holds ledgers 63092992-63092992, expected 63092991-63092991"), "{}", stderr(&out));
    assert_eq!(mainnet_ledgers(&catalog), 9, "committed ledgers are untouched");

    // Ledger 63092991 with a forged previous_ledger_hash (and a header hash
    // recomputed to match, so only the chain can tell): refused.
    std::fs::copy(
        real.join("FC3E15FF--63040000-63103999/FC3D4700--63092991.xdr.zst"),
        part.join("FC3D4700--63092991.xdr.zst"),
    )
    .unwrap();
    forge_previous_hash(&part.join("FC3D4700--63092991.xdr.zst"));
    let out = run_config(&config);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("ledger 63092991: previous_ledger_hash 0101010101")
            && stderr(&out).contains("does not match hash"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mainnet_ledgers(&catalog), 9, "committed ledgers are untouched");
}

fn mainnet_ledgers(catalog: &Path) -> i64 {
    open_catalog(catalog).query_row("SELECT count(*) FROM mainnet.ledgers_row_v2", [], |r| r.get(0)).unwrap()
}

/// Rewrites a one-ledger lake object with previous_ledger_hash = 0x01.., keeping the header hash consistent.
fn forge_previous_hash(object: &Path) {
    use sha2::Digest;
    use stellar_xdr::{LedgerCloseMeta, LedgerCloseMetaBatch, Limits, ReadXdr, WriteXdr};
    let raw = zstd::decode_all(&std::fs::read(object).unwrap()[..]).unwrap();
    let mut batch = LedgerCloseMetaBatch::from_xdr(&raw, Limits::none()).unwrap();
    let mut ledgers: Vec<LedgerCloseMeta> = batch.ledger_close_metas.to_vec();
    let LedgerCloseMeta::V2(m) = &mut ledgers[0] else { panic!("expected LCM V2") };
    m.ledger_header.header.previous_ledger_hash = stellar_xdr::Hash([1; 32]);
    let header = m.ledger_header.header.to_xdr(Limits::none()).unwrap();
    m.ledger_header.hash = stellar_xdr::Hash(sha2::Sha256::digest(&header).into());
    batch.ledger_close_metas = ledgers.try_into().unwrap();
    let xdr = batch.to_xdr(Limits::none()).unwrap();
    std::fs::write(object, zstd::encode_all(&xdr[..], 3).unwrap()).unwrap();
}
