//! The DuckDB instance opened through the C API, so that we hold its raw
//! handle: duckdb-rs connections are made from it, and the query API asks
//! DuckDB's own parser and binder what a statement is (the prepared
//! statement's type) instead of guessing from keywords.

use std::ffi::{CStr, CString, c_char};
use std::sync::Mutex;

use duckdb::{Connection, ffi};

use super::{DbContext, StoreError};

/// An open in-memory DuckDB instance. Closed when the last holder drops it;
/// every connection made from it holds an `Arc` of it.
pub struct RawDatabase {
    db: ffi::duckdb_database,
    /// A connection reserved for classifying statements (prepare only).
    classifier: Mutex<ffi::duckdb_connection>,
    /// Held by each writer of this process (a commit, a maintenance task).
    writes: Mutex<()>,
}

// SAFETY: a duckdb_database is a thread-safe instance handle; the classifier
// connection is only used under its mutex.
unsafe impl Send for RawDatabase {}
unsafe impl Sync for RawDatabase {}

impl RawDatabase {
    /// Opens an in-memory instance with `options` (DuckDB config names and values).
    pub fn open_in_memory(options: &[(&str, String)]) -> Result<Self, StoreError> {
        let refused = |m: String| StoreError::Refused(m);
        // SAFETY: plain C API calls with owned, NUL-terminated strings; every
        // created object is destroyed on every path.
        unsafe {
            let mut config: ffi::duckdb_config = std::ptr::null_mut();
            if ffi::duckdb_create_config(&mut config) != ffi::DuckDBSuccess {
                return Err(refused("cannot create a DuckDB config".into()));
            }
            for (name, value) in options {
                let (n, v) = (cstring(name)?, cstring(value)?);
                if ffi::duckdb_set_config(config, n.as_ptr(), v.as_ptr()) != ffi::DuckDBSuccess {
                    ffi::duckdb_destroy_config(&mut config);
                    return Err(refused(format!("DuckDB setting {name} = {value:?} is not valid")));
                }
            }
            let mut db: ffi::duckdb_database = std::ptr::null_mut();
            let mut error: *mut c_char = std::ptr::null_mut();
            let state = ffi::duckdb_open_ext(std::ptr::null(), &mut db, config, &mut error);
            ffi::duckdb_destroy_config(&mut config);
            if state != ffi::DuckDBSuccess {
                let message = take_c_string(error);
                return Err(refused(format!("opening DuckDB: {message}")));
            }
            let mut conn: ffi::duckdb_connection = std::ptr::null_mut();
            if ffi::duckdb_connect(db, &mut conn) != ffi::DuckDBSuccess {
                ffi::duckdb_close(&mut db);
                return Err(refused("opening a DuckDB connection".into()));
            }
            Ok(RawDatabase { db, classifier: Mutex::new(conn), writes: Mutex::new(()) })
        }
    }

    /// Serializes this process's writers: one commit or maintenance task at
    /// a time. Not for correctness (DuckLake 1.0 orders concurrent writers
    /// by its own conflict checks), but for pace: a flush or a merge beside a
    /// commit makes both conflict on the catalog and retry with growing
    /// pauses (`tests/python/upstream/flush_race.py`: flushes beside
    /// inserts wait up to 6.8 s, some fail after DuckLake's 10 retries), so
    /// waiting for the lock is the shorter path.
    pub fn write_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The instance's handle, for connections of the C API (see [`super::arrow_write`]).
    pub(super) fn handle(&self) -> ffi::duckdb_database {
        self.db
    }

    /// A duckdb-rs connection to this instance. The caller keeps an `Arc` of
    /// the instance alive for as long as the connection lives.
    pub fn connect(&self) -> Result<Connection, StoreError> {
        // SAFETY: `self.db` is open until `self` drops.
        unsafe { Connection::open_from_raw(self.db) }.ctx(|| "opening a DuckDB connection".into())
    }

    /// Makes unqualified names in classified statements resolve in `catalog`,
    /// as they do on query connections.
    pub fn use_catalog_for_classifier(&self, catalog: &str) -> Result<(), StoreError> {
        let sql = cstring(&format!("USE \"{}\"", catalog.replace('"', "\"\"")))?;
        let conn = self.classifier.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: the classifier connection is open; the result is destroyed.
        unsafe {
            let mut result: ffi::duckdb_result = std::mem::zeroed();
            let state = ffi::duckdb_query(*conn, sql.as_ptr(), &mut result);
            let error = if state == ffi::DuckDBSuccess {
                None
            } else {
                let e = ffi::duckdb_result_error(&mut result);
                Some(if e.is_null() { "unknown error".to_string() } else { borrowed(e) })
            };
            ffi::duckdb_destroy_result(&mut result);
            match error {
                None => Ok(()),
                Some(e) => Err(StoreError::Refused(format!("USE {catalog}: {e}"))),
            }
        }
    }

    /// What `sql` is, by DuckDB's parser and binder: exactly one statement
    /// and its type, or the parser's/binder's error.
    pub fn classify(&self, sql: &str) -> Result<StatementKind, Classified> {
        let text = CString::new(sql).map_err(|_| Classified::Invalid("the SQL contains a NUL byte".into()))?;
        let conn = self.classifier.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: the classifier connection is open and used under the lock;
        // extracted statements and prepared statements are destroyed below.
        unsafe {
            let mut extracted: ffi::duckdb_extracted_statements = std::ptr::null_mut();
            let count = ffi::duckdb_extract_statements(*conn, text.as_ptr(), &mut extracted);
            let result = if count == 0 {
                let e = ffi::duckdb_extract_statements_error(extracted);
                let message = if e.is_null() { "empty query".to_string() } else { borrowed(e) };
                Err(Classified::Invalid(message))
            } else if count > 1 {
                Err(Classified::Forbidden(format!("{count} statements: send exactly one")))
            } else {
                let mut prepared: ffi::duckdb_prepared_statement = std::ptr::null_mut();
                let state = ffi::duckdb_prepare_extracted_statement(*conn, extracted, 0, &mut prepared);
                let r = if state != ffi::DuckDBSuccess {
                    let e = ffi::duckdb_prepare_error(prepared);
                    Err(Classified::Invalid(if e.is_null() { "cannot prepare".into() } else { borrowed(e) }))
                } else {
                    Ok(StatementKind::from_ffi(ffi::duckdb_prepared_statement_type(prepared)))
                };
                ffi::duckdb_destroy_prepare(&mut prepared);
                r
            };
            ffi::duckdb_destroy_extracted(&mut extracted);
            result
        }
    }
}

impl Drop for RawDatabase {
    fn drop(&mut self) {
        // SAFETY: both handles were opened in `open_in_memory` and are closed once.
        unsafe {
            let conn = self.classifier.get_mut().unwrap_or_else(|p| p.into_inner());
            ffi::duckdb_disconnect(conn);
            ffi::duckdb_close(&mut self.db);
        }
    }
}

/// A statement's type as DuckDB's binder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `SELECT`, `WITH`, `FROM`, `VALUES`, `SHOW`, `DESCRIBE`, `SUMMARIZE`, `PIVOT`.
    Select,
    Explain,
    /// Anything else, by its DuckDB name (`INSERT`, `ATTACH`, `COPY`, ...).
    Other(&'static str),
}

impl StatementKind {
    fn from_ffi(t: ffi::duckdb_statement_type) -> Self {
        match t {
            ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_SELECT => StatementKind::Select,
            ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_EXPLAIN => StatementKind::Explain,
            other => StatementKind::Other(match other {
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_INSERT => "INSERT",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_UPDATE => "UPDATE",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_DELETE => "DELETE",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_PREPARE => "PREPARE",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_CREATE => "CREATE",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_EXECUTE => "EXECUTE",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_ALTER => "ALTER",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_TRANSACTION => "transaction control",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_COPY => "COPY",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_ANALYZE => "ANALYZE",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_VARIABLE_SET => "SET VARIABLE",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_CREATE_FUNC => "CREATE FUNCTION",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_DROP => "DROP",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_EXPORT => "EXPORT",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_PRAGMA => "PRAGMA",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_VACUUM => "VACUUM",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_CALL => "CALL",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_SET => "SET",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_LOAD => "LOAD/INSTALL",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_ATTACH => "ATTACH",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_DETACH => "DETACH",
                ffi::duckdb_statement_type_DUCKDB_STATEMENT_TYPE_MULTI => "multiple statements",
                _ => "unknown",
            }),
        }
    }
}

/// Why a statement is refused before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// The parser or binder rejects it (syntax error, unknown table).
    Invalid(String),
    /// It parses but is not allowed here.
    Forbidden(String),
}

fn cstring(s: &str) -> Result<CString, StoreError> {
    CString::new(s).map_err(|_| StoreError::Refused(format!("{s:?} contains a NUL byte")))
}

/// Copies a C string DuckDB keeps ownership of.
unsafe fn borrowed(p: *const c_char) -> String {
    // SAFETY: DuckDB returns a valid NUL-terminated string or null (checked by callers).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Copies and frees a C string DuckDB handed over.
unsafe fn take_c_string(p: *mut c_char) -> String {
    if p.is_null() {
        return "unknown error".into();
    }
    // SAFETY: `p` is a DuckDB-allocated NUL-terminated string, freed once here.
    unsafe {
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        ffi::duckdb_free(p.cast());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_classified_by_duckdb() {
        let db = RawDatabase::open_in_memory(&[("threads", "1".into())]).unwrap();
        db.connect().unwrap().execute_batch("CREATE TABLE t (created_at INT, deleted BOOLEAN)").unwrap();
        assert_eq!(db.classify("SELECT created_at, deleted FROM t"), Ok(StatementKind::Select));
        assert_eq!(db.classify("WITH x AS (SELECT 1) SELECT * FROM x;"), Ok(StatementKind::Select));
        assert_eq!(db.classify("DESCRIBE t"), Ok(StatementKind::Select));
        assert_eq!(db.classify("EXPLAIN SELECT 1"), Ok(StatementKind::Explain));
        assert_eq!(db.classify("INSERT INTO t VALUES (1, true)"), Ok(StatementKind::Other("INSERT")));
        assert_eq!(db.classify("DETACH memory"), Ok(StatementKind::Other("DETACH")));
        assert_eq!(db.classify("SET threads = 4"), Ok(StatementKind::Other("SET")));
        assert!(matches!(db.classify("SELECT 1; DROP TABLE t"), Err(Classified::Forbidden(_))));
        assert!(matches!(db.classify("SELEC 1"), Err(Classified::Invalid(_))));
        assert!(matches!(db.classify("SELECT * FROM nope"), Err(Classified::Invalid(m)) if m.contains("nope")));
        assert!(matches!(db.classify(""), Err(Classified::Invalid(_))));
    }
}
