//! The store's unit tests: commit, resume, schema, paths and retry together,
//! on real DuckDB files in temporary directories.

use super::open::*;
use super::paths::*;
use super::retry::*;
use super::*;
use crate::model::LedgerId;
use crate::model::Timestamp;
use crate::store::{Batch, EncodedLedger};
use crate::tables::{Table, create_table_sql};
use ducklake_config::{LakeMetadata, Storage};

fn settings(dir: &std::path::Path) -> StoreSettings {
    StoreSettings {
        threads: Some(1),
        wal_autocheckpoint: "16MB".into(),
        ..StoreSettings::duckdb_file(dir.join("sub/dir/t.duckdb").display().to_string(), "cat")
    }
}

/// A batch of ledgers with chained fake hashes and no table rows.
fn batch(first: u32, last: u32) -> Batch {
    let hash = |s: u32| {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&s.to_be_bytes());
        h
    };
    Batch {
        ledgers: (first..=last)
            .map(|s| EncodedLedger {
                id: LedgerId {
                    seq: s,
                    hash: hash(s),
                    prev_hash: hash(s - 1),
                    closed_at: Timestamp(i64::from(s) * 1_000_000),
                },
                tables: Vec::new(),
            })
            .collect(),
        live: false,
    }
}

#[test]
fn resume_follows_the_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&settings(dir.path())).unwrap();
    let mut store = db.store("testnet", "P", "test").unwrap();
    assert_eq!(store.resume(100, Some(200)).unwrap(), ResumePoint { next: 100, prev_hash: None, committed: 0 });
    store.commit(&batch(100, 109)).unwrap();
    store.commit(&batch(110, 119)).unwrap();
    let r = store.resume(100, Some(200)).unwrap();
    assert_eq!((r.next, r.committed), (120, 20));
    assert_eq!(r.prev_hash.unwrap()[..4], 119u32.to_be_bytes());
    // A range starting inside committed ledgers resumes after them.
    assert_eq!(store.resume(105, None).unwrap().next, 120);
    // A disjoint later range starts at its own start; its predecessor is unknown.
    assert_eq!(store.resume(500, Some(600)).unwrap(), ResumePoint { next: 500, prev_hash: None, committed: 0 });
    // A range right after committed ledgers knows the hash to chain to.
    assert_eq!(store.resume(120, Some(130)).unwrap().prev_hash.unwrap()[..4], 119u32.to_be_bytes());
}

#[test]
fn overlaps_and_gaps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&settings(dir.path())).unwrap();
    let mut store = db.store("testnet", "P", "test").unwrap();
    store.commit(&batch(100, 109)).unwrap();
    let err = store.commit(&batch(105, 112)).unwrap_err().to_string();
    assert!(err.contains("overlap ledgers already committed"), "{err}");
    store.commit(&batch(150, 160)).unwrap();
    let err = store.resume(100, Some(200)).unwrap_err().to_string();
    assert!(err.contains("ledgers 150-160 of schema testnet are already committed but ledgers 110-149"), "{err}");
    // Only whole batches exist: the failed commit left nothing behind.
    let rows: i64 =
        store.conn.query_row("SELECT sum(ledger_count) FROM cat.testnet._ingest_lineage", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 21);
}

#[test]
fn a_schema_belongs_to_one_network() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&settings(dir.path())).unwrap();
    db.store("s", "P", "test").unwrap().commit(&batch(10, 11)).unwrap();
    let err = db.store("s", "Q", "test").err().unwrap().to_string();
    assert!(err.contains("already holds ledgers of network \"P\""), "{err}");
}

#[test]
fn tables_from_the_go_tool_are_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&settings(dir.path())).unwrap();
    // The Go tool's transactions table: the 48 reference columns only.
    let reference = &crate::tables::TransactionRow::COLUMNS[..48];
    let conn = db.connection().unwrap();
    conn.execute_batch("CREATE SCHEMA cat.mainnet").unwrap();
    conn.execute_batch(&create_table_sql("cat.mainnet", "transactions_row_v2", reference)).unwrap();
    db.store("mainnet", "P", "test").unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'mainnet' AND table_name = 'transactions_row_v2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n as usize, crate::tables::TransactionRow::COLUMNS.len());
    // A table with a different shape is refused.
    conn.execute_batch("CREATE SCHEMA cat.other; CREATE TABLE cat.other.ledgers_row_v2 (seq BIGINT)").unwrap();
    let err = db.store("other", "P", "test").err().unwrap().to_string();
    assert!(err.contains("has column #1 \"seq\" where this version expects \"sequence\""), "{err}");
}

#[test]
fn conflicts_are_told_from_other_errors() {
    let db = |m: &str| StoreError::Db { context: "x".into(), source: duckdb::Error::InvalidParameterName(m.into()) };
    assert_eq!(Some(Transient::Conflict), transient(&db("TransactionContext Error: Transaction conflict: ...")));
    assert_eq!(Some(Transient::Conflict), transient(&db("ERROR:  duplicate key value violates unique constraint")));
    assert_eq!(
        Some(Transient::Conflict),
        transient(&db(
            "Failed to initialize DuckLake:Failed to execute query \"CREATE TABLE ...\": ERROR:  relation \"ducklake_metadata\" already exists"
        ))
    );
    // DuckLake's own retries exhausted (a flush racing inserts, as 1.5.5 reports it).
    assert_eq!(
        Some(Transient::Conflict),
        transient(&db("TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n\
             Exceeded the maximum retry count of 10 set by the ducklake_max_retry_count setting.\n\
             Failed to flush changes into DuckLake: Conflict on update!"))
    );
    assert_eq!(
        Some(Transient::Conflict),
        transient(&db(
            "Failed to flush changes into DuckLake: ...: ERROR:  could not serialize access due to concurrent update"
        ))
    );
    assert_eq!(None, transient(&db("Catalog Error: Table with name t already exists")));
    assert_eq!(None, transient(&db("Parser Error: Failed to parse query")));
    assert_eq!(None, transient(&StoreError::Refused("conflict".into())));
    assert_eq!(
        Some(Transient::Memory),
        transient(&db("Out of Memory Error: failed to pin block of size 256.0 KiB (1.8 GiB/1.8 GiB used)"))
    );
    // As the soak saw it from a DuckLake COMMIT.
    assert_eq!(
        Some(Transient::Memory),
        transient(&db("TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n\
             Failed to flush changes into DuckLake: failed to pin block of size 256.0 KiB (1.8 GiB/1.8 GiB used)"))
    );
}

#[test]
fn conflict_pauses_grow_with_jitter() {
    let pauses: Vec<u128> = (1..=3).map(|n| Transient::Conflict.pause(n).as_millis()).collect();
    for (n, p) in pauses.iter().enumerate() {
        let full = 50u128 << (n + 1);
        assert!((full / 2..=full).contains(p), "attempt {}: {p} ms", n + 1);
    }
    // Capped at 3.2 s.
    assert!((1600..=3200).contains(&Transient::Conflict.pause(20).as_millis()));
}

#[test]
fn spills_go_beside_the_catalog_never_into_the_lake_data() {
    let lake = |metadata, data_path: &str| Storage::DuckLake { metadata, data_path: data_path.into() };
    let file = Storage::DuckDb { path: "/data/c.duckdb".into() };
    assert_eq!(temp_directory(&file, false).as_deref(), Some("/data/c.duckdb.tmp"));
    assert_eq!(temp_directory(&file, true), None);
    let duckdb_catalog = lake(LakeMetadata::DuckDb { path: "/data/c.ducklake".into() }, "/data/files/");
    assert_eq!(temp_directory(&duckdb_catalog, false).as_deref(), Some("/data/c.ducklake.tmp"));
    let pg = |data: &str| lake(LakeMetadata::Postgres { conninfo: "dbname=x".into() }, data);
    assert_eq!(temp_directory(&pg("/data/files/"), false).as_deref(), Some("/data/files.tmp"));
    assert_eq!(temp_directory(&pg("s3://bucket/lake/"), false), None);
}

#[test]
fn a_commit_that_ran_out_of_memory_is_retried_and_other_errors_are_not() {
    let oom = || StoreError::Db {
        context: "COMMIT".into(),
        source: duckdb::Error::InvalidParameterName("Out of Memory Error: failed to pin block".into()),
    };
    let mut calls = 0;
    let r = retry_transient(
        || {
            calls += 1;
            if calls < 3 { Err(oom()) } else { Ok(calls) }
        },
        "test",
    );
    assert_eq!(r.unwrap(), 3);
    let mut calls = 0;
    let r: Result<(), _> = retry_transient(
        || {
            calls += 1;
            Err(StoreError::Refused("disk full".into()))
        },
        "test",
    );
    assert!(r.is_err());
    assert_eq!(calls, 1);
}
