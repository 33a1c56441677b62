//! The shared model: the few types every layer speaks (a ledger's identity,
//! a range of ledgers, a timestamp and its RFC 3339 form, a stage timer).
//! It depends on nothing else in the crate, so extract, tables, store, query
//! and telemetry can all use it without pointing at each other.

/// Microseconds since the Unix epoch; stored as DuckDB `TIMESTAMP` (UTC, no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_unix_seconds(secs: u64) -> Self {
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000))
    }

    /// Saturates like [`Self::from_unix_seconds`]: a header's millisecond
    /// close time is any u64 (fuzz/: `close-time-ms-overflow.xdr`).
    pub fn from_unix_millis(ms: u64) -> Self {
        Timestamp(i64::try_from(ms).unwrap_or(i64::MAX / 1_000).saturating_mul(1_000))
    }

    pub fn now() -> Self {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// RFC 3339 in UTC, like the Go tool's JSON timestamps.
    pub fn to_rfc3339(self) -> String {
        format_timestamp_micros(self.0)
    }
}

/// Identity of a ledger, used for chain continuity checks and lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerId {
    pub seq: u32,
    pub hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub closed_at: Timestamp,
}

/// A ledger range request: `from` inclusive, `to` inclusive or unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: u32,
    pub to: Option<u32>,
}

impl Range {
    pub fn contains(&self, seq: u32) -> bool {
        seq >= self.from && self.to.is_none_or(|to| seq <= to)
    }
}

/// Measures the stages of extraction (the benchmark's per-table profile);
/// the ingestion path uses [`NoTimer`], which compiles to nothing.
pub trait StageTimer {
    fn time<R>(&mut self, stage: &'static str, f: impl FnOnce() -> R) -> R;
}

/// A [`StageTimer`] that only runs the stage.
pub struct NoTimer;

impl StageTimer for NoTimer {
    #[inline(always)]
    fn time<R>(&mut self, _stage: &'static str, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// Total time per stage, in first-seen order.
#[derive(Debug, Default, Clone)]
pub struct StageTimes(pub Vec<(&'static str, std::time::Duration)>);

impl StageTimer for StageTimes {
    fn time<R>(&mut self, stage: &'static str, f: impl FnOnce() -> R) -> R {
        let t = std::time::Instant::now();
        let r = f();
        let d = t.elapsed();
        match self.0.iter_mut().find(|(s, _)| *s == stage) {
            Some((_, total)) => *total += d,
            None => self.0.push((stage, d)),
        }
        r
    }
}

/// `1970-01-01` + days, proleptic Gregorian (H. Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 in UTC, like the Go tool's JSON timestamps.
pub fn format_timestamp_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let date = format_date(days);
    let time = format!("{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    if frac == 0 { format!("{date}T{time}Z") } else { format!("{date}T{time}.{frac:06}Z") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(format_timestamp_micros(0), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_700_000_000_123_456).to_rfc3339(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(format_date(19_782), "2024-02-29");
    }
}
