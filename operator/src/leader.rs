//! Leader election on a `coordination.k8s.io/v1` Lease, so two operator
//! replicas never reconcile at once. The holder renews the lease every few
//! seconds; another replica takes it over only after it expired. A leader
//! that cannot renew in time stops (the process exits and restarts as a
//! follower) rather than risk two writers.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tracing::{info, warn};

#[derive(Clone)]
pub struct LeaderElection {
    api: Api<Lease>,
    lease: String,
    identity: String,
    /// A lease not renewed for this long may be taken over.
    pub duration: Duration,
    /// How often the holder renews (and a follower retries).
    pub renew_every: Duration,
}

impl LeaderElection {
    pub fn new(api: Api<Lease>, lease: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaderElection {
            api,
            lease: lease.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }

    /// One round: acquire, renew or observe. `Ok(true)` when we hold the
    /// lease afterwards; losing a write race is `Ok(false)`, not an error.
    pub async fn try_lead(&self, now: Timestamp) -> Result<bool, kube::Error> {
        let secs = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.lease).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.lease.clone()), ..ObjectMeta::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if !ours && !expired(spec, now) {
            return Ok(false);
        }
        if !ours {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(secs);
        // `replace` carries the resourceVersion we read: a concurrent writer makes it a 409.
        match self.api.replace(&self.lease, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Keeps trying to lead and renewing; publishes whether we lead. Returns
    /// when leadership, once held, is lost.
    pub async fn run(self, leading: watch::Sender<bool>) {
        let mut last_renewed: Option<std::time::Instant> = None;
        // A leader must know it lost the lease before a follower may take it:
        // it steps down one renew period before the lease could expire.
        let step_down_after = self.duration.saturating_sub(self.renew_every);
        loop {
            // Timed from before the request: the lease is valid from the renew
            // time written into it, which is taken now.
            let attempt = std::time::Instant::now();
            let result = tokio::time::timeout(self.renew_every, self.try_lead(Timestamp::now()))
                .await
                .unwrap_or_else(|_| Err(kube::Error::Service("lease request timed out".into())));
            match result {
                Ok(true) => {
                    if last_renewed.is_none() {
                        info!(lease = %self.lease, identity = %self.identity, "became the leader");
                    }
                    last_renewed = Some(attempt);
                    leading.send_replace(true);
                }
                Ok(false) if last_renewed.is_some() => {
                    warn!(lease = %self.lease, "another replica took the lease");
                    leading.send_replace(false);
                    return;
                }
                Ok(false) => {}
                Err(e) => {
                    warn!(lease = %self.lease, error = %e, "cannot read or renew the lease");
                    if last_renewed.is_some_and(|t| t.elapsed() >= step_down_after) {
                        warn!(lease = %self.lease, "lease not renewed in time; stepping down");
                        leading.send_replace(false);
                        return;
                    }
                }
            }
            tokio::time::sleep(self.renew_every).await;
        }
    }
}

/// A lease without a holder, or not renewed within its duration.
fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(holder) = spec.holder_identity.as_deref() else { return true };
    if holder.is_empty() {
        return true;
    }
    let Some(renewed) = spec.renew_time.as_ref() else { return true };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    renewed.0 + duration < now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_at_a_time_and_takeover_after_expiry() {
        let api = crate::fake::FakeApi::new(false);
        let leases: Api<Lease> = Api::namespaced(api.client(), "ops");
        let a = LeaderElection::new(leases.clone(), "lead", "a");
        let b = LeaderElection::new(leases, "lead", "b");
        let t = |s: i64| Timestamp::from_second(1_000 + s).unwrap();
        assert!(a.try_lead(t(0)).await.unwrap(), "the first replica creates the lease");
        assert!(!b.try_lead(t(1)).await.unwrap(), "a live lease is not taken");
        assert!(a.try_lead(t(5)).await.unwrap(), "the holder renews");
        assert!(!b.try_lead(t(19)).await.unwrap(), "renewed at 5, valid until 20");
        assert!(b.try_lead(t(21)).await.unwrap(), "expired: taken over");
        assert!(!a.try_lead(t(22)).await.unwrap(), "the old holder sees it lost");
        let lease = api.get("coordination.k8s.io/v1/leases", "ops", "lead").unwrap();
        assert_eq!(lease["spec"]["holderIdentity"], "b");
        assert_eq!(lease["spec"]["leaseTransitions"], 1);
        for line in api.log() {
            let (method, path) = line.split_once(' ').unwrap();
            let (g, r, v) = crate::rbac::of_request(method, path).unwrap();
            assert!(crate::rbac::allowed(&g, &r, v), "{line} not in rbac::REQUIRED");
        }
    }

    #[test]
    fn expiry() {
        let now = Timestamp::from_second(1_000).unwrap();
        let spec = |holder: Option<&str>, renewed: i64| LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_duration_seconds: Some(15),
            ..LeaseSpec::default()
        };
        assert!(!expired(&spec(Some("a"), 990), now));
        assert!(expired(&spec(Some("a"), 980), now));
        assert!(expired(&spec(None, 999), now));
        assert!(expired(&spec(Some(""), 999), now));
    }
}
