//! `ducklake-operator render -f FILE`: the objects `run` would apply for the
//! resources in a file, without a cluster, for review and CI validation.

use ducklake_crds::DuckLakeIngestion;
use serde::Deserialize;

use crate::build::{self, Defaults};

/// Why a file could not be rendered; each message names the resource and key.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{0}")]
    Parse(String),
    #[error("{resource}: {invalid}")]
    Invalid { resource: String, invalid: build::InvalidSpec },
}

/// Parses every `DuckLakeIngestion` document in `text` (other kinds are an error).
pub fn parse_resources(text: &str, namespace: &str) -> Result<Vec<DuckLakeIngestion>, RenderError> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml_ng::Value::deserialize(doc)
            .map_err(|e| RenderError::Parse(format!("document {}: not YAML: {e}", i + 1)))?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("(none)").to_string();
        if kind != "DuckLakeIngestion" {
            return Err(RenderError::Parse(format!("document {}: kind {kind}, expected DuckLakeIngestion", i + 1)));
        }
        let mut cr: DuckLakeIngestion = serde_path_to_error::deserialize(value)
            .map_err(|e| RenderError::Parse(format!("document {}: {}: {}", i + 1, e.path(), e.inner())))?;
        if cr.metadata.namespace.is_none() {
            cr.metadata.namespace = Some(namespace.to_string());
        }
        out.push(cr);
    }
    if out.is_empty() {
        return Err(RenderError::Parse("no DuckLakeIngestion resource in the input".to_string()));
    }
    Ok(out)
}

/// The multi-document YAML of every object the resources become, and the
/// configuration warnings (for stderr).
pub fn render(resources: &[DuckLakeIngestion], defaults: &Defaults) -> Result<(String, Vec<String>), RenderError> {
    let mut out = String::new();
    let mut warnings = Vec::new();
    for cr in resources {
        let name = format!("DuckLakeIngestion {}", kube::ResourceExt::name_any(cr));
        let d =
            build::desired(cr, defaults).map_err(|invalid| RenderError::Invalid { resource: name.clone(), invalid })?;
        warnings.extend(d.config.warnings.iter().map(|w| format!("{name}: {w}")));
        let mut docs =
            vec![to_yaml(&d.config_map), to_yaml(&d.service), to_yaml(&d.headless_service), to_yaml(&d.stateful_set)];
        if let Some(sm) = &d.service_monitor {
            docs.push(to_yaml(sm));
        }
        for doc in docs {
            out.push_str("---\n");
            out.push_str(&doc);
        }
    }
    Ok((out, warnings))
}

fn to_yaml<T: serde::Serialize>(obj: &T) -> String {
    // Typed Kubernetes objects always serialise.
    serde_yaml_ng::to_string(obj).unwrap_or_else(|e| panic!("object serialises: {e}"))
}
