//! Transient failures (a write conflict with another process, a full buffer
//! pool) and the policy that retries them.

use super::StoreError;

/// Attempts before a write conflict or a memory shortage becomes an error.
const TRANSIENT_ATTEMPTS: u32 = 8;

/// A failure that the same work may not meet again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transient {
    /// Another transaction (or process) wrote the same lake first.
    Conflict,
    /// DuckDB's buffer pool was full (`memory_limit`), typically of concurrent
    /// queries' operators; they finish or time out and free it.
    Memory,
}

impl Transient {
    pub(super) fn pause(self, attempt: u32) -> std::time::Duration {
        match self {
            // Jittered, so that writers which collided once do not retry in step.
            Transient::Conflict => {
                let full = 50u64 << attempt.min(6);
                let jitter = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), attempt);
                std::time::Duration::from_millis(full / 2 + jitter % (full / 2 + 1))
            }
            // Up to about a minute in all: longer than a query's default timeout.
            Transient::Memory => std::time::Duration::from_millis(500 * u64::from(attempt) * u64::from(attempt)),
        }
    }
}

/// Runs `attempt` again (after a growing pause) while it fails with a
/// transaction conflict, which another process committing to the same lake
/// causes, or for memory, which concurrent queries cause (the failed attempt
/// has rolled back); any other error, or the last transient one, is returned.
pub(crate) fn retry_transient<T>(
    mut attempt: impl FnMut() -> Result<T, StoreError>,
    what: &str,
) -> Result<T, StoreError> {
    let mut n = 0;
    loop {
        n += 1;
        let e = match attempt() {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(kind) = transient(&e).filter(|_| n < TRANSIENT_ATTEMPTS) else { return Err(e) };
        let pause = kind.pause(n);
        let why = if kind == Transient::Memory { "out of memory" } else { "write conflict" };
        tracing::warn!(attempt = n, pause_ms = pause.as_millis() as u64, error = %e, "{what}: {why}; retrying");
        std::thread::sleep(pause);
    }
}

/// Whether retrying the same work may succeed. Processes creating a new lake
/// together race on its metadata tables, which PostgreSQL reports as a
/// duplicate key or as a table that already exists.
pub(super) fn transient(e: &StoreError) -> Option<Transient> {
    let StoreError::Db { source, .. } = e else { return None };
    let m = source.to_string().to_ascii_lowercase();
    // DuckLake wraps it ("Failed to commit DuckLake transaction. Failed to
    // flush changes into DuckLake: failed to pin block ...").
    if m.contains("out of memory") || m.contains("failed to pin block") || m.contains("failed to allocate block") {
        return Some(Transient::Memory);
    }
    let conflict = m.contains("conflict")
        || m.contains("could not serialize")
        || m.contains("duplicate key value")
        || (m.contains("failed to initialize ducklake") && m.contains("already exists"));
    conflict.then_some(Transient::Conflict)
}
