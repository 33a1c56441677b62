//! Pure status computation: what was applied and observed in, the resource's
//! status, whether to restart a stalled pod, and the events worth emitting.

use ducklake_crds::resource::{DuckLakeIngestionStatus, Phase, SelfHealingSpec, SourceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::probe::IngesterStatus;
use ducklake_config::status::SourceState;

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const SERVICE_MONITOR_READY: &str = "ServiceMonitorReady";

/// What became of the ServiceMonitor this reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceMonitorState {
    Disabled,
    Applied,
    /// The Prometheus Operator's CRD is not installed.
    CrdNotInstalled,
}

/// How far applying the desired objects got.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The spec cannot be run; nothing was applied.
    Invalid { message: String },
    Objects {
        config_hash: String,
        endpoint: String,
        /// Changes the StatefulSet could not take (see `build::immutable_changes`).
        immutable: Vec<String>,
        service_monitor: ServiceMonitorState,
    },
}

/// The ingester pod as observed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodView {
    pub exists: bool,
    pub ready: bool,
}

/// Everything `compute` decides from.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    pub generation: Option<i64>,
    pub previous: &'a DuckLakeIngestionStatus,
    pub suspend: bool,
    pub self_healing: &'a SelfHealingSpec,
    pub applied: Applied,
    pub pod: PodView,
    /// `None` when the pod was not asked (not ready, suspended).
    pub ingester: Option<Result<IngesterStatus, String>>,
    pub now: Timestamp,
}

/// An event to publish on the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub status: DuckLakeIngestionStatus,
    /// Delete the pod so the StatefulSet restarts it.
    pub restart_pod: bool,
    pub notes: Vec<Note>,
}

pub fn compute(o: &Observed<'_>) -> Computed {
    let prev = o.previous;
    let now = Time(o.now);
    let mut s = DuckLakeIngestionStatus {
        observed_generation: o.generation,
        stall_restarts: prev.stall_restarts,
        last_advance_time: prev.last_advance_time.clone(),
        ..DuckLakeIngestionStatus::default()
    };
    let mut notes = Vec::new();
    let mut restart_pod = false;
    let mut conds: Vec<(&'static str, bool, &'static str, String)> = Vec::new();

    // The changes the StatefulSet could not take; `None` when nothing was applied.
    let applied = match &o.applied {
        Applied::Invalid { message } => {
            conds.push((READY, false, "InvalidSpec", message.clone()));
            conds.push((PROGRESSING, false, "InvalidSpec", "waiting for a corrected spec".to_string()));
            conds.push((DEGRADED, true, "InvalidSpec", message.clone()));
            // Keep the last known progress: the pod (if any) keeps running its old configuration.
            s.config_hash = prev.config_hash.clone();
            s.endpoint = prev.endpoint.clone();
            s.last_ledger = prev.last_ledger;
            s.lag_seconds = prev.lag_seconds;
            s.sources = prev.sources.clone();
            None
        }
        Applied::Objects { config_hash, endpoint, immutable, service_monitor } => {
            s.config_hash = Some(config_hash.clone());
            s.endpoint = Some(endpoint.clone());
            match service_monitor {
                ServiceMonitorState::Applied => {
                    conds.push((SERVICE_MONITOR_READY, true, "Applied", "the ServiceMonitor scrapes /metrics".into()))
                }
                ServiceMonitorState::Disabled => conds.push((
                    SERVICE_MONITOR_READY,
                    false,
                    "Disabled",
                    "spec.serviceMonitor.enabled is false".into(),
                )),
                ServiceMonitorState::CrdNotInstalled => conds.push((
                    SERVICE_MONITOR_READY,
                    false,
                    "CRDNotInstalled",
                    "the monitoring.coreos.com/v1 ServiceMonitor CRD is not installed; install the Prometheus Operator or disable spec.serviceMonitor".into(),
                )),
            }
            if let Some(old) = &prev.config_hash
                && old != config_hash
            {
                notes.push(Note {
                    warning: false,
                    reason: "ConfigChanged",
                    message: format!("configuration {old} -> {config_hash}; the pod is rolled"),
                });
            }
            Some(immutable)
        }
    };

    let phase = if let Some(immutable) = applied {
        let progress = o.ingester.as_ref().and_then(|r| r.as_ref().ok());
        if let Some(st) = progress {
            s.sources = st
                .sources
                .iter()
                .map(|r| SourceStatus {
                    name: r.name.clone(),
                    state: r.state.as_str().to_string(),
                    last_ledger: r.last_committed_ledger,
                    lag_seconds: r.lag_seconds,
                    ledgers_per_second: Some(r.ledgers_per_second),
                    last_error: r.last_error.clone(),
                })
                .collect();
            s.last_ledger = st.sources.iter().filter_map(|r| r.last_committed_ledger).min();
            s.lag_seconds = st.sources.iter().filter_map(|r| r.lag_seconds).max();
        } else {
            s.sources = prev.sources.clone();
            s.last_ledger = prev.last_ledger;
            s.lag_seconds = prev.lag_seconds;
        }
        // The stall clock runs only while a ready pod answers /status: a pod
        // that was restarting or unreachable gets a whole threshold once back.
        // Advancing means a source that is not finished committed a new
        // ledger (a completed source holds the minimum `last_ledger` still).
        let advanced = progress.is_some_and(|st| {
            st.sources.iter().filter(|r| !r.state.at_rest()).any(|r| {
                prev.sources.iter().find(|p| p.name == r.name).map(|p| p.last_ledger) != Some(r.last_committed_ledger)
            })
        });
        if advanced || s.last_advance_time.is_none() || progress.is_none() {
            s.last_advance_time = Some(now.clone());
        }

        let failed_source = progress.and_then(|st| st.sources.iter().find(|r| r.state == SourceState::Failed));
        let all_at_rest =
            progress.is_some_and(|st| !st.sources.is_empty() && st.sources.iter().all(|r| r.state.at_rest()));
        let caught_up = progress.is_some_and(|st| {
            !st.sources.is_empty() && st.sources.iter().all(|r| r.state.at_rest() || r.state == SourceState::CaughtUp)
        });
        let since_advance =
            s.last_advance_time.as_ref().map_or(0, |t| o.now.duration_since(t.0).as_secs().max(0) as u64);
        let stalled = !o.suspend
            && o.pod.ready
            && progress.is_some()
            && !all_at_rest
            && since_advance > o.self_healing.stall_seconds;

        let phase = if o.suspend {
            Phase::Suspended
        } else if !immutable.is_empty() || stalled || failed_source.is_some() {
            Phase::Degraded
        } else if !o.pod.ready || progress.is_none() {
            Phase::Pending
        } else if caught_up {
            Phase::CaughtUp
        } else {
            Phase::Ingesting
        };

        // Ready: the pod answers /health (its readiness probe).
        if o.suspend {
            conds.push((READY, false, "Suspended", "spec.suspend is set; no pod runs".into()));
        } else if o.pod.ready {
            conds.push((READY, true, "PodReady", "the ingester answers /health".into()));
        } else if o.pod.exists {
            conds.push((READY, false, "PodNotReady", "the ingester pod does not pass its /health probe yet".into()));
        } else {
            conds.push((READY, false, "PodMissing", "the ingester pod has not been created yet".into()));
        }

        // Progressing: ledgers are being committed.
        match (&o.ingester, o.suspend) {
            (_, true) => conds.push((PROGRESSING, false, "Suspended", "spec.suspend is set".into())),
            (None, false) => conds.push((PROGRESSING, false, "NoStatus", "waiting for the pod to be ready".into())),
            (Some(Err(e)), false) => conds.push((PROGRESSING, false, "StatusUnavailable", e.clone())),
            (Some(Ok(_)), false) if stalled => conds.push((
                PROGRESSING,
                false,
                "Stalled",
                format!("no new ledger committed for {since_advance} s (threshold {} s)", o.self_healing.stall_seconds),
            )),
            (Some(Ok(_)), false) if all_at_rest => {
                conds.push((PROGRESSING, false, "Completed", "every source has reached its end_ledger".into()))
            }
            (Some(Ok(_)), false) => conds.push((
                PROGRESSING,
                true,
                if caught_up { "CaughtUp" } else { "Ingesting" },
                match s.last_ledger {
                    Some(l) => format!("last committed ledger {l}"),
                    None => "no ledger committed yet".into(),
                },
            )),
        }

        // Degraded: running, but not as specified.
        if !immutable.is_empty() {
            let message = format!("{}: {}", immutable.join(", "), crate::build::IMMUTABLE_NOTE);
            conds.push((DEGRADED, true, "ImmutableFieldChanged", message));
        } else if stalled {
            let mut message = format!(
                "ledger {} has not advanced for {since_advance} s while /health is fine",
                s.last_ledger.unwrap_or(0)
            );
            if o.self_healing.restart_on_stall {
                restart_pod = true;
                s.stall_restarts = s.stall_restarts.saturating_add(1);
                // The restarted pod gets a whole threshold to advance.
                s.last_advance_time = Some(now.clone());
                message.push_str("; the pod was restarted");
                notes.push(Note { warning: true, reason: "StallRestart", message: message.clone() });
            }
            conds.push((DEGRADED, true, "Stalled", message));
        } else if let Some(f) = failed_source {
            let message = format!("source {} failed: {}", f.name, f.last_error.clone().unwrap_or_default());
            conds.push((DEGRADED, true, "SourceFailed", message));
        } else {
            conds.push((DEGRADED, false, "AsExpected", "running as specified".into()));
        }
        phase
    } else {
        Phase::Failed
    };
    s.phase = Some(phase);

    // Events for transitions of phase and of the ServiceMonitor condition.
    if prev.phase != s.phase
        && let Some(p) = s.phase
    {
        let why = conds
            .iter()
            .find(|c| c.0 == if matches!(p, Phase::Degraded | Phase::Failed) { DEGRADED } else { PROGRESSING })
            .map(|c| c.3.clone())
            .unwrap_or_default();
        let warning = matches!(p, Phase::Degraded | Phase::Failed);
        notes.push(Note { warning, reason: p.as_str(), message: format!("phase {}: {why}", p.as_str()) });
    }
    if let Some(c) = conds.iter().find(|c| c.0 == SERVICE_MONITOR_READY && c.2 == "CRDNotInstalled")
        && previous_reason(prev, SERVICE_MONITOR_READY) != Some("CRDNotInstalled")
    {
        notes.push(Note { warning: true, reason: "CRDNotInstalled", message: c.3.clone() });
    }

    s.conditions = conds
        .into_iter()
        .map(|(type_, ok, reason, message)| condition(prev, o.generation, &now, type_, ok, reason, message))
        .collect();
    Computed { status: s, restart_pod, notes }
}

fn previous_reason<'a>(prev: &'a DuckLakeIngestionStatus, type_: &str) -> Option<&'a str> {
    prev.conditions.iter().find(|c| c.type_ == type_).map(|c| c.reason.as_str())
}

/// A condition whose transition time moves only when its status does.
fn condition(
    prev: &DuckLakeIngestionStatus,
    generation: Option<i64>,
    now: &Time,
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let since = prev
        .conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: truncate(message, 1024),
        observed_generation: generation,
        last_transition_time: since,
    }
}

/// Condition messages are limited to 32 KiB by the API; keep them readable.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::SourceReport;

    fn source(name: &str, state: SourceState, ledger: u32) -> SourceReport {
        SourceReport { name: name.into(), state, last_committed_ledger: Some(ledger), ..SourceReport::default() }
    }

    /// A finished backfill holds the minimum `last_ledger`; the live source
    /// advancing is what counts, so nothing is restarted.
    #[test]
    fn a_completed_source_does_not_look_stalled() {
        let healing = SelfHealingSpec::default();
        let mut status = DuckLakeIngestionStatus::default();
        let mut now = Timestamp::from_second(1_800_000_000).unwrap();
        for live in [500, 600, 700, 800] {
            let report = IngesterStatus {
                version: String::new(),
                sources: vec![
                    source("backfill", SourceState::Completed, 100),
                    source("live", SourceState::CaughtUp, live),
                ],
            };
            let o = Observed {
                generation: Some(1),
                previous: &status,
                suspend: false,
                self_healing: &healing,
                applied: Applied::Objects {
                    config_hash: "h".into(),
                    endpoint: "e".into(),
                    immutable: Vec::new(),
                    service_monitor: ServiceMonitorState::Disabled,
                },
                pod: PodView { exists: true, ready: true },
                ingester: Some(Ok(report)),
                now,
            };
            let c = compute(&o);
            assert!(!c.restart_pod, "live source at {live}");
            assert_eq!(c.status.phase, Some(Phase::CaughtUp));
            assert_eq!(c.status.last_ledger, Some(100));
            status = c.status;
            now = now.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(400)).unwrap();
        }
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let s = truncate("é".repeat(600), 1001);
        assert!(s.len() <= 1004 && s.ends_with('…'));
    }
}
