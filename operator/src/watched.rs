//! What the controller watches: `DuckLakeIngestion` resources read without
//! interpreting the spec, so one the operator cannot deserialize (a resource
//! stored by an older CRD, a field the schema let through) does not fail the
//! list and watch of every resource. Each is parsed in its own reconcile;
//! one that does not parse is marked `Failed` with the key at fault.

use std::borrow::Cow;

use ducklake_crds::{DuckLakeIngestion, DuckLakeIngestionStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Serialize};

/// A `DuckLakeIngestion` whose spec and status are kept as JSON.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct WatchedIngestion {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

impl Resource for WatchedIngestion {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        DuckLakeIngestion::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        DuckLakeIngestion::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        DuckLakeIngestion::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        DuckLakeIngestion::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl WatchedIngestion {
    /// The typed resource, or why it cannot be read, naming the key
    /// (`spec.config.query_api.port: ...`).
    pub fn parse(&self) -> Result<DuckLakeIngestion, String> {
        let value = serde_json::json!({
            "apiVersion": DuckLakeIngestion::api_version(&()),
            "kind": DuckLakeIngestion::kind(&()),
            "metadata": self.metadata,
            "spec": self.spec,
        });
        let mut cr: DuckLakeIngestion =
            serde_path_to_error::deserialize(value).map_err(|e| format!("{}: {}", e.path(), e.inner()))?;
        cr.status = self.status();
        Ok(cr)
    }

    /// The status the operator last wrote; the operator's own, so an
    /// unreadable one starts afresh.
    pub fn status(&self) -> Option<DuckLakeIngestionStatus> {
        self.status.clone().and_then(|s| serde_json::from_value(s).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(spec: serde_json::Value) -> WatchedIngestion {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "a", "namespace": "n"}, "spec": spec}))
            .expect("any spec is watched")
    }

    #[test]
    fn a_readable_spec_parses_and_an_unreadable_one_names_its_key() {
        let ok = serde_json::json!({"config": {"sources": [{"synthetic": {}, "network_passphrase": "x", "start_ledger": 2}]}});
        assert_eq!(watched(ok).parse().expect("parses").metadata.name.as_deref(), Some("a"));
        let bad = serde_json::json!({"config": {"sources": [{"synthetic": {}, "network_passphrase": "x", "start_ledger": 2}],
            "query_api": {"port": 70000}}});
        let err = watched(bad).parse().expect_err("port 70000 is no u16");
        assert!(err.starts_with("spec.config.query_api.port: "), "{err}");
    }
}
