//! `ducklake-operator`: runs `DuckLakeIngestion` resources as StatefulSets of
//! `ducklake-ingester`.
//!
//! * [`build`]: pure builders, resource in, ConfigMap / StatefulSet /
//!   Service / ServiceMonitor out (what `render` prints);
//! * [`reconcile`]: apply them with server-side apply, observe the pod;
//! * [`status`]: pure status, conditions and events from what was observed;
//! * [`probe`]: the ingester's `/status`;
//! * [`watched`]: resources as watched, parsed one by one so one unreadable
//!   resource cannot stop the others;
//! * [`controller`], [`leader`], [`server`], [`metrics`], [`telemetry`]: the
//!   running process.

pub mod build;
pub mod controller;
pub mod leader;
pub mod metrics;
pub mod probe;
pub mod rbac;
pub mod reconcile;
pub mod render;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod watched;

#[cfg(test)]
pub(crate) mod fake;
