//! Streamed exports of a query result: NDJSON, CSV or Arrow IPC stream.
//!
//! DuckDB executes the statement in streaming mode and hands over one Arrow
//! batch at a time; each batch is encoded and sent through a bounded channel
//! that the HTTP body drains, so a large export never sits in memory and a
//! slow client slows the query instead of growing a buffer.

use std::io::Write;

use axum::body::Bytes;
use duckdb::Connection;
use duckdb::arrow::datatypes::SchemaRef;
use duckdb::arrow::record_batch::RecordBatch;
use tokio::sync::{mpsc, oneshot};

use super::QueryError;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
    Csv,
    Arrow,
}

impl Format {
    /// From the request's `format` field, else its `Accept` header; JSON by default.
    pub fn choose(field: Option<&str>, accept: Option<&str>) -> Result<Format, QueryError> {
        if let Some(f) = field {
            return match f.to_ascii_lowercase().as_str() {
                "json" => Ok(Format::Json),
                "ndjson" | "jsonl" => Ok(Format::Ndjson),
                "csv" => Ok(Format::Csv),
                "arrow" => Ok(Format::Arrow),
                other => Err(QueryError::Invalid(format!("unknown format {other:?}: use json, ndjson, csv or arrow"))),
            };
        }
        let accept = accept.unwrap_or("").to_ascii_lowercase();
        Ok(if accept.contains("application/x-ndjson") || accept.contains("application/jsonl") {
            Format::Ndjson
        } else if accept.contains("text/csv") {
            Format::Csv
        } else if accept.contains("application/vnd.apache.arrow.stream") {
            Format::Arrow
        } else {
            Format::Json
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

/// Body chunks; an `Err` ends the response early (the client sees a cut-off body).
pub type Chunk = Result<Bytes, std::io::Error>;

/// Bytes written here go to the HTTP body in chunks of about 64 KiB.
struct ChunkWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Chunk>,
}

const CHUNK: usize = 64 * 1024;

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Runs `sql` (already classified and wrapped with its row cap) inside a
/// read-only transaction and streams it in `format` into `tx`. `started`
/// gets `Ok` once the statement runs (so errors before any row become a
/// proper HTTP error), or the error.
pub fn stream(
    conn: &Connection,
    sql: &str,
    format: Format,
    started: oneshot::Sender<Result<(), QueryError>>,
    tx: mpsc::Sender<Chunk>,
) {
    let mut started = Some(started);
    let result = match conn.execute_batch("BEGIN TRANSACTION READ ONLY") {
        Ok(()) => {
            let r = run(conn, sql, format, &mut started, tx);
            let _ = conn.execute_batch("ROLLBACK");
            r
        }
        Err(e) => Err(QueryError::Internal(e.to_string())),
    };
    if let (Err(e), Some(s)) = (result, started.take()) {
        let _ = s.send(Err(e));
    }
}

fn run(
    conn: &Connection,
    sql: &str,
    format: Format,
    started: &mut Option<oneshot::Sender<Result<(), QueryError>>>,
    tx: mpsc::Sender<Chunk>,
) -> Result<(), QueryError> {
    let exec = |e: duckdb::Error| QueryError::Execution(e.to_string());
    let mut stmt = conn.prepare(sql).map_err(exec)?;
    // Execute in streaming mode; the schema is known once it runs. The
    // crate's batch iterator panics on a fetch error (an interrupt after the
    // timeout is one), so batches are stepped here and errors kept as values.
    let schema: SchemaRef = stmt.stream_arrow([]).map_err(exec)?.get_schema();
    let batches = std::iter::from_fn(|| match stmt.step() {
        Ok(Some(array)) => Some(Ok(RecordBatch::from(&array))),
        Ok(None) => None,
        Err(e) => Some(Err(e.to_string())),
    });
    if let Some(s) = started.take() {
        let _ = s.send(Ok(()));
    }
    let out = ChunkWriter { buf: Vec::with_capacity(CHUNK), tx: tx.clone() };
    if let Err(e) = encode(format, &schema, batches, out) {
        // Mid-stream: the status line is sent; cut the body off so the
        // client cannot mistake a partial export for a complete one.
        tracing::warn!(error = %e, "query export ended early");
        let _ = tx.blocking_send(Err(std::io::Error::other(e)));
    }
    Ok(())
}

/// Writes every batch in `format`; returns when the result is exhausted.
fn encode(
    format: Format,
    schema: &SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch, String>>,
    mut out: ChunkWriter,
) -> Result<(), String> {
    match format {
        Format::Json | Format::Ndjson => {
            let mut w = arrow_json::LineDelimitedWriter::new(&mut out);
            for b in batches {
                w.write(&b?).map_err(|e| e.to_string())?;
            }
            w.finish().map_err(|e| e.to_string())?;
        }
        Format::Csv => {
            let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(&mut out);
            let mut any = false;
            for b in batches {
                w.write(&b?).map_err(|e| e.to_string())?;
                any = true;
            }
            drop(w);
            if !any {
                // No batch: still give the header line.
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}", names.join(",")).map_err(|e| e.to_string())?;
            }
        }
        Format::Arrow => {
            let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, schema).map_err(|e| e.to_string())?;
            for b in batches {
                w.write(&b?).map_err(|e| e.to_string())?;
            }
            w.finish().map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_field_or_accept() {
        assert_eq!(Format::choose(None, None).unwrap(), Format::Json);
        assert_eq!(Format::choose(Some("CSV"), Some("application/x-ndjson")).unwrap(), Format::Csv);
        assert_eq!(Format::choose(None, Some("application/x-ndjson")).unwrap(), Format::Ndjson);
        assert_eq!(Format::choose(None, Some("text/csv, */*")).unwrap(), Format::Csv);
        assert_eq!(Format::choose(None, Some("application/vnd.apache.arrow.stream")).unwrap(), Format::Arrow);
        assert!(Format::choose(Some("xml"), None).is_err());
    }
}
