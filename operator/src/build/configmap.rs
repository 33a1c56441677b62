//! The ConfigMap holding the rendered ingester configuration.

use std::collections::BTreeMap;

use ducklake_crds::DuckLakeIngestion;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;

use super::{CONFIG_FILE, CONFIG_HASH_ANNOTATION, RenderedConfig, child_meta, config_map_name};

pub fn config_map(cr: &DuckLakeIngestion, config: &RenderedConfig) -> ConfigMap {
    let mut metadata = child_meta(cr, config_map_name(&cr.name_any()));
    metadata.annotations = Some(BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_string(), config.hash.clone())]));
    ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(CONFIG_FILE.to_string(), config.yaml.clone())])),
        ..ConfigMap::default()
    }
}
