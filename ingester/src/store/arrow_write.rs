//! The committer's own connection: Arrow batches handed to DuckDB's C API,
//! which converts them with its Arrow scan code (`duckdb_data_chunk_from_arrow`)
//! and writes them once, straight into the target.
//!
//! duckdb-rs converts Arrow to DuckDB vectors value by value in Rust and
//! exposes no raw handle of its connections, and a DuckLake table takes no
//! table appender, so rows used to be appended to TEMP tables and copied
//! with `INSERT ... SELECT`: two writes of every row. Here a DuckDB file's
//! table gets a table appender and a DuckLake table a query appender
//! (`INSERT INTO <table> SELECT * FROM appended_data`, which DuckLake writes
//! as Parquet files), both inside the batch's one transaction on this
//! connection.

use std::ffi::{CStr, CString};
use std::sync::Arc;

use duckdb::arrow::array::{Array, StructArray};
use duckdb::arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use duckdb::arrow::ffi_stream::FFI_ArrowArrayStream;
use duckdb::arrow::record_batch::{RecordBatch, RecordBatchIterator};
use duckdb::ffi;

use super::raw::RawDatabase;
use crate::sql::ident;

/// Rows per data chunk handed to DuckDB: its vector size.
const CHUNK_ROWS: usize = 2048;

/// An error of the C API, as a duckdb-rs error so that callers classify it
/// (conflicts, memory) like any other.
fn failure(message: impl Into<String>) -> duckdb::Error {
    duckdb::Error::DuckDBFailure(ffi::Error::new(ffi::DuckDBError), Some(message.into()))
}

/// Where an append goes.
pub(super) enum Target<'a> {
    /// A DuckDB table, through a table appender.
    Table { catalog: &'a str, schema: &'a str, table: &'a str },
    /// A statement reading the rows as `appended_data` (a DuckLake table's `INSERT`).
    Query(&'a str),
}

/// A connection of the instance used only by one committer.
pub(super) struct RawConnection {
    conn: ffi::duckdb_connection,
    _db: Arc<RawDatabase>,
}

// SAFETY: a duckdb_connection may move between threads; it is used by one at a time (&mut / owner).
unsafe impl Send for RawConnection {}

impl RawConnection {
    pub(super) fn open(db: Arc<RawDatabase>) -> Result<Self, duckdb::Error> {
        let mut conn: ffi::duckdb_connection = std::ptr::null_mut();
        // SAFETY: the instance is open while `db` lives, and `_db` keeps it.
        if unsafe { ffi::duckdb_connect(db.handle(), &mut conn) } != ffi::DuckDBSuccess {
            return Err(failure("opening a DuckDB connection"));
        }
        Ok(RawConnection { conn, _db: db })
    }

    /// Runs `body` in one transaction of this connection: COMMIT when it
    /// returns Ok, ROLLBACK otherwise. `body` appends through
    /// [`Self::append`], whose appenders are gone by the time it returns, so
    /// nothing reaches a table after the ROLLBACK.
    pub(super) fn in_transaction<T>(
        &self,
        what: &str,
        body: impl FnOnce() -> Result<T, super::StoreError>,
    ) -> Result<T, super::StoreError> {
        use super::DbContext;
        self.execute("BEGIN TRANSACTION").ctx(|| format!("BEGIN of {what}"))?;
        match body() {
            Ok(out) => self.execute("COMMIT").ctx(|| format!("COMMIT of {what}")).map(|()| out),
            Err(e) => {
                if let Err(rollback) = self.execute("ROLLBACK") {
                    tracing::warn!(error = %rollback, "ROLLBACK of {what} after: {e}");
                }
                Err(e)
            }
        }
    }

    /// Runs `sql` (one or more statements) and discards any result.
    pub(super) fn execute(&self, sql: &str) -> Result<(), duckdb::Error> {
        self.query(sql, |_| ())
    }

    /// The first row's first `n` columns as integers (NULL as `None`).
    pub(super) fn query_i64s(&self, sql: &str, n: usize) -> Result<Vec<Option<i64>>, duckdb::Error> {
        self.query(sql, |result| {
            (0..n as u64)
                .map(|col| {
                    // SAFETY: `result` is a successful result; out-of-range reads return NULL/0.
                    unsafe {
                        if ffi::duckdb_row_count(result) == 0 || ffi::duckdb_value_is_null(result, col, 0) {
                            None
                        } else {
                            Some(ffi::duckdb_value_int64(result, col, 0))
                        }
                    }
                })
                .collect()
        })
    }

    fn query<T>(&self, sql: &str, read: impl FnOnce(&mut ffi::duckdb_result) -> T) -> Result<T, duckdb::Error> {
        let text = CString::new(sql).map_err(|_| failure("the SQL contains a NUL byte"))?;
        // SAFETY: the connection is open; the result is destroyed on every path.
        unsafe {
            let mut result: ffi::duckdb_result = std::mem::zeroed();
            let state = ffi::duckdb_query(self.conn, text.as_ptr(), &mut result);
            let out = if state == ffi::DuckDBSuccess {
                Ok(read(&mut result))
            } else {
                let e = ffi::duckdb_result_error(&mut result);
                Err(failure(if e.is_null() { "unknown error".into() } else { c_str(e) }))
            };
            ffi::duckdb_destroy_result(&mut result);
            out
        }
    }

    /// Appends `batches` (all of one schema) to `target`; returns the rows written.
    /// Nothing is left pending: on an error the appender is cleared and
    /// destroyed before returning, so a later ROLLBACK discards everything.
    pub(super) fn append(&self, target: &Target<'_>, batches: &[&RecordBatch]) -> Result<u64, duckdb::Error> {
        let Some(first) = batches.iter().find(|b| b.num_rows() > 0) else { return Ok(0) };
        let schema = Converted::new(self.conn, first)?;
        let mut appender = Appender { app: std::ptr::null_mut() };
        let mut rows = 0u64;
        for batch in batches {
            let mut offset = 0;
            while offset < batch.num_rows() {
                let len = CHUNK_ROWS.min(batch.num_rows() - offset);
                let chunk = schema.chunk(self.conn, &batch.slice(offset, len))?;
                if appender.app.is_null() {
                    appender.app = create_appender(self.conn, target, &chunk)?;
                }
                // SAFETY: both handles are valid; DuckDB copies the chunk's rows.
                let state = unsafe { ffi::duckdb_append_data_chunk(appender.app, chunk.0) };
                if state != ffi::DuckDBSuccess {
                    return Err(appender.error("appending rows"));
                }
                offset += len;
                rows += len as u64;
            }
        }
        if !appender.app.is_null() {
            // SAFETY: a valid appender; the flush runs the INSERT (or writes the table).
            if unsafe { ffi::duckdb_appender_flush(appender.app) } != ffi::DuckDBSuccess {
                return Err(appender.error("writing the rows"));
            }
        }
        Ok(rows)
    }
}

impl RawConnection {
    /// A view `name` in the connection's default catalog (the in-memory one)
    /// over `batches`, made by DuckDB's own Arrow scan (`duckdb_arrow_scan`,
    /// what its Python and R clients use for an Arrow table). It reads the
    /// batches once; the guard drops the view, then the batches.
    pub(super) fn arrow_scan_view(&self, name: &str, batches: Vec<RecordBatch>) -> Result<ScanView<'_>, duckdb::Error> {
        let schema = batches.first().map(RecordBatch::schema).ok_or_else(|| failure("an Arrow scan of no batches"))?;
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
        // Boxed: DuckDB keeps the stream's address in the view until it is dropped.
        let mut stream = Box::new(FFI_ArrowArrayStream::new(Box::new(reader)));
        let view = CString::new(name).map_err(|_| failure(format!("{name:?} contains a NUL byte")))?;
        // SAFETY: the stream outlives the view (the guard drops the view first);
        // DuckDB replaces the release of its own copy, so ours runs once, on drop.
        let state = unsafe { ffi::duckdb_arrow_scan(self.conn, view.as_ptr(), (&raw mut *stream).cast()) };
        if state != ffi::DuckDBSuccess {
            return Err(failure(format!("creating the Arrow scan view {name}")));
        }
        Ok(ScanView { conn: self, name: name.to_string(), _stream: stream })
    }
}

/// A view made by [`RawConnection::arrow_scan_view`]; dropped with its stream.
pub(super) struct ScanView<'a> {
    conn: &'a RawConnection,
    pub(super) name: String,
    _stream: Box<FFI_ArrowArrayStream>,
}

impl Drop for ScanView<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.execute(&format!("DROP VIEW IF EXISTS {}", ident(&self.name))) {
            tracing::warn!(view = %self.name, error = %e, "dropping an Arrow scan view");
        }
    }
}

impl Drop for RawConnection {
    fn drop(&mut self) {
        // SAFETY: opened in `open`, disconnected once.
        unsafe { ffi::duckdb_disconnect(&mut self.conn) }
    }
}

/// An appender that is cleared, then destroyed, on drop: destroying an
/// appender flushes what it holds, which after a failed append (and a
/// rollback) must never reach the table.
struct Appender {
    app: ffi::duckdb_appender,
}

impl Appender {
    fn error(&self, what: &str) -> duckdb::Error {
        // SAFETY: `app` is valid; the error data is destroyed here.
        unsafe {
            let mut data = ffi::duckdb_appender_error_data(self.app);
            let message = c_str(ffi::duckdb_error_data_message(data));
            ffi::duckdb_destroy_error_data(&mut data);
            failure(format!("{what}: {message}"))
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        if self.app.is_null() {
            return;
        }
        // SAFETY: a valid appender, destroyed once; after `clear` the destroy
        // has nothing to flush (a flushed appender holds nothing either).
        unsafe {
            ffi::duckdb_appender_clear(self.app);
            ffi::duckdb_appender_destroy(&mut self.app);
        }
    }
}

fn create_appender(
    conn: ffi::duckdb_connection,
    target: &Target<'_>,
    chunk: &Chunk,
) -> Result<ffi::duckdb_appender, duckdb::Error> {
    let cstr = |s: &str| CString::new(s).map_err(|_| failure(format!("{s:?} contains a NUL byte")));
    let mut app: ffi::duckdb_appender = std::ptr::null_mut();
    // SAFETY: valid connection and NUL-terminated strings; the logical types
    // are destroyed after the appender copied them.
    let state = unsafe {
        match target {
            Target::Table { catalog, schema, table } => {
                let (c, s, t) = (cstr(catalog)?, cstr(schema)?, cstr(table)?);
                ffi::duckdb_appender_create_ext(conn, c.as_ptr(), s.as_ptr(), t.as_ptr(), &mut app)
            }
            Target::Query(sql) => {
                let q = cstr(sql)?;
                let mut types = chunk.types();
                let state = ffi::duckdb_appender_create_query(
                    conn,
                    q.as_ptr(),
                    types.len() as u64,
                    types.as_mut_ptr(),
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    &mut app,
                );
                for t in &mut types {
                    ffi::duckdb_destroy_logical_type(t);
                }
                state
            }
        }
    };
    if state != ffi::DuckDBSuccess {
        let e = if app.is_null() {
            failure("creating an appender")
        } else {
            Appender { app }.error("creating an appender")
        };
        return Err(e);
    }
    Ok(app)
}

/// An Arrow schema as DuckDB converted it, for converting the arrays of that schema.
struct Converted(ffi::duckdb_arrow_converted_schema);

impl Converted {
    fn new(conn: ffi::duckdb_connection, batch: &RecordBatch) -> Result<Self, duckdb::Error> {
        let data = StructArray::from(batch.clone()).into_data();
        let mut schema = FFI_ArrowSchema::try_from(data.data_type())
            .map_err(|e| failure(format!("exporting the Arrow schema: {e}")))?;
        let mut out: ffi::duckdb_arrow_converted_schema = std::ptr::null_mut();
        // SAFETY: `schema` is a valid exported schema, released by its own drop
        // (DuckDB only reads it); `out` is destroyed by `Converted`'s drop.
        let mut error = unsafe { ffi::duckdb_schema_from_arrow(conn, (&raw mut schema).cast(), &mut out) };
        check(&mut error, "reading the Arrow schema")?;
        Ok(Converted(out))
    }

    /// One DuckDB data chunk holding `batch` (at most a vector of rows).
    fn chunk(&self, conn: ffi::duckdb_connection, batch: &RecordBatch) -> Result<Chunk, duckdb::Error> {
        let data = StructArray::from(batch.clone()).into_data();
        let mut array = FFI_ArrowArray::new(&data);
        let mut out: ffi::duckdb_data_chunk = std::ptr::null_mut();
        // SAFETY: DuckDB takes ownership of `array` (it nulls our release, so
        // our drop does nothing) and keeps the buffers alive in the chunk
        // until the chunk is destroyed.
        let mut error = unsafe { ffi::duckdb_data_chunk_from_arrow(conn, (&raw mut array).cast(), self.0, &mut out) };
        let checked = check(&mut error, "converting Arrow rows");
        let chunk = Chunk(out);
        checked.map(|()| chunk)
    }
}

impl Drop for Converted {
    fn drop(&mut self) {
        // SAFETY: created by duckdb_schema_from_arrow, destroyed once.
        unsafe { ffi::duckdb_destroy_arrow_converted_schema(&mut self.0) }
    }
}

/// A data chunk, destroyed on drop.
struct Chunk(ffi::duckdb_data_chunk);

impl Chunk {
    /// The chunk's column types (the caller destroys them).
    fn types(&self) -> Vec<ffi::duckdb_logical_type> {
        // SAFETY: a valid chunk; each vector's type is a new logical type.
        unsafe {
            (0..ffi::duckdb_data_chunk_get_column_count(self.0))
                .map(|i| ffi::duckdb_vector_get_column_type(ffi::duckdb_data_chunk_get_vector(self.0, i)))
                .collect()
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: created by duckdb_data_chunk_from_arrow, destroyed once.
            unsafe { ffi::duckdb_destroy_data_chunk(&mut self.0) }
        }
    }
}

/// Turns (and destroys) C API error data into a result.
fn check(error: &mut ffi::duckdb_error_data, what: &str) -> Result<(), duckdb::Error> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: non-null error data from DuckDB, destroyed once here.
    unsafe {
        let result = if ffi::duckdb_error_data_has_error(*error) {
            Err(failure(format!("{what}: {}", c_str(ffi::duckdb_error_data_message(*error)))))
        } else {
            Ok(())
        };
        ffi::duckdb_destroy_error_data(error);
        result
    }
}

/// Copies a C string DuckDB keeps.
unsafe fn c_str(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return "unknown error".into();
    }
    // SAFETY: a valid NUL-terminated string (checked non-null above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::arrow::array::{Int64Array, StringArray};
    use duckdb::arrow::datatypes::{DataType, Field, Schema};

    fn batch(from: i64, n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let ids: Vec<i64> = (from..from + n).collect();
        let names: Vec<Option<String>> =
            ids.iter().map(|i| (i % 3 != 0).then(|| format!("a name long enough to live on the heap {i}"))).collect();
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))]).unwrap()
    }

    #[test]
    fn batches_reach_a_table_and_a_query_in_order() {
        let db = Arc::new(RawDatabase::open_in_memory(&[("threads", "2".into())]).unwrap());
        let conn = RawConnection::open(db.clone()).unwrap();
        conn.execute("CREATE TABLE t (id BIGINT NOT NULL, name VARCHAR); CREATE TABLE q (id BIGINT, name VARCHAR)")
            .unwrap();
        // Larger than a vector, sliced, and an empty batch among them.
        let (a, b, empty) = (batch(0, 5000), batch(5000, 7), batch(0, 0));
        let batches = [&a, &empty, &b];
        let table = Target::Table { catalog: "memory", schema: "main", table: "t" };
        assert_eq!(conn.append(&table, &batches).unwrap(), 5007);
        assert_eq!(conn.append(&Target::Query("INSERT INTO q SELECT * FROM appended_data"), &batches).unwrap(), 5007);
        for t in ["t", "q"] {
            let got = conn
                .query_i64s(
                    &format!(
                        "SELECT count(*), sum(id), count(name), \
                         count(*) FILTER (WHERE name <> 'a name long enough to live on the heap ' || id) FROM {t}"
                    ),
                    4,
                )
                .unwrap();
            assert_eq!(got, vec![Some(5007), Some(5006 * 5007 / 2), Some(3338), Some(0)], "{t}");
        }
        assert_eq!(conn.query_i64s("SELECT NULL::BIGINT", 1).unwrap(), vec![None]);
    }

    #[test]
    fn a_failed_append_leaves_nothing_behind() {
        let db = Arc::new(RawDatabase::open_in_memory(&[("threads", "1".into())]).unwrap());
        let conn = RawConnection::open(db).unwrap();
        // The second column must not be NULL: rows 0, 3, 6... violate it at the flush.
        conn.execute("CREATE TABLE t (id BIGINT, name VARCHAR NOT NULL)").unwrap();
        conn.execute("BEGIN").unwrap();
        let b = batch(0, 10);
        let err = conn.append(&Target::Table { catalog: "memory", schema: "main", table: "t" }, &[&b]).unwrap_err();
        assert!(err.to_string().contains("NOT NULL"), "{err}");
        conn.execute("ROLLBACK").unwrap();
        assert_eq!(conn.query_i64s("SELECT count(*) FROM t", 1).unwrap(), vec![Some(0)]);
        let err = conn.query_i64s("SELECT * FROM nope", 1).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
