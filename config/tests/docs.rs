//! docs/configuration.md and the README's example against the schema: every
//! key of the schema appears in the reference's examples, and every example
//! that is a whole configuration loads without an unknown-key warning. The
//! reference is hand-written; this keeps it from drifting.

use ducklake_config::IngesterConfig;
use ducklake_config::load::parse;
use serde_json::Value;
use std::collections::BTreeSet;

fn read(rel: &str) -> String {
    let path = format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The ```yaml blocks of a Markdown document.
fn yaml_blocks(md: &str) -> Vec<String> {
    md.split("```yaml\n").skip(1).filter_map(|rest| rest.split_once("```").map(|(b, _)| b.to_string())).collect()
}

/// Dotted key paths of a schema node (`sources.grpc.endpoint`); arrays and
/// optional values add no segment. The Go tool's single `source` is
/// documented under `sources`.
fn schema_paths(node: &Value, defs: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        schema_paths(&defs[name], defs, prefix, out);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for variant in node.get(key).and_then(Value::as_array).into_iter().flatten() {
            schema_paths(variant, defs, prefix, out);
        }
    }
    if let Some(items) = node.get("items") {
        schema_paths(items, defs, prefix, out);
    }
    for (key, child) in node.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let path =
            if path == "source" || path.starts_with("source.") { path.replacen("source", "sources", 1) } else { path };
        out.insert(path.clone());
        schema_paths(child, defs, &path, out);
    }
}

fn yaml_paths(node: &serde_yaml_ng::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match node {
        serde_yaml_ng::Value::Mapping(map) => {
            for (k, v) in map {
                let Some(k) = k.as_str() else { continue };
                let path = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
                out.insert(path.clone());
                yaml_paths(v, &path, out);
            }
        }
        serde_yaml_ng::Value::Sequence(items) => items.iter().for_each(|i| yaml_paths(i, prefix, out)),
        _ => {}
    }
}

/// `  # key: value` as `  key: value`; other lines unchanged.
fn uncomment_key(line: &str) -> String {
    let indent = line.len() - line.trim_start().len();
    match line.trim_start().strip_prefix("# ") {
        Some(rest)
            if rest
                .split_once(':')
                .is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) =>
        {
            format!("{}{rest}", &line[..indent])
        }
        _ => line.to_string(),
    }
}

/// Paths a fragment (`datastore: {...}`) stands for, given where it belongs.
fn fragment_prefix(block: &serde_yaml_ng::Value) -> &'static str {
    let has = |k: &str| block.get(k).is_some();
    if has("sources") || has("ducklake") || has("query_api") {
        ""
    } else if has("datastore") || has("grpc") || has("synthetic") {
        "sources"
    } else {
        "ducklake"
    }
}

#[test]
fn configuration_reference_covers_every_schema_key() {
    let schema = serde_json::to_value(schemars::schema_for!(IngesterConfig)).expect("schema");
    let mut want = BTreeSet::new();
    schema_paths(&schema, &schema["$defs"], "", &mut want);
    // Free-form label maps: their keys are the user's.
    want.retain(|p| !p.starts_with("service."));

    let mut documented = BTreeSet::new();
    for block in yaml_blocks(&read("docs/configuration.md")) {
        // Alternatives are shown commented out (`# auth_token_file: ...`);
        // blocks listing alternatives repeat keys, so read those line by line.
        let uncommented: String = block
            .lines()
            .map(|l| {
                let u = uncomment_key(l);
                // An alternative to a key already given would repeat it.
                let key = u.split(':').next().unwrap_or_default();
                if u != l && block.lines().any(|o| o.starts_with(&format!("{key}:"))) { l.to_string() } else { u }
            })
            .collect::<Vec<_>>()
            .join("\n");
        for text in std::iter::once(uncommented).chain(block.lines().map(str::to_string)) {
            if let Ok(value) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
                yaml_paths(&value, fragment_prefix(&value), &mut documented);
            }
        }
    }
    let missing: Vec<_> = want.difference(&documented).collect();
    assert!(missing.is_empty(), "keys of the configuration schema missing from docs/configuration.md: {missing:?}");
}

#[test]
fn whole_examples_load_without_unknown_keys() {
    let mut checked = 0;
    for doc in ["README.md", "docs/configuration.md", "docs/storage.md"] {
        for block in yaml_blocks(&read(doc)) {
            if !block.lines().any(|l| l.starts_with("sources:")) {
                continue;
            }
            let loaded = parse(&block, |_| Some("x".to_string()))
                .unwrap_or_else(|e| panic!("{doc}: an example does not load: {e}\n{block}"));
            let unknown: Vec<_> = loaded.warnings.iter().filter(|w| w.contains("unknown key")).collect();
            assert!(unknown.is_empty(), "{doc}: {unknown:?}");
            checked += 1;
        }
    }
    assert!(checked >= 2, "expected the README's and the reference's whole examples, found {checked}");
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every relative link of the README and the docs points at a file that
/// exists, and every `#anchor` at a heading of that file.
#[test]
fn relative_links_resolve() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pages: Vec<std::path::PathBuf> =
        ["README.md", "BENCHMARKS.md", "RELIABILITY.md"].iter().map(|p| root.join(p)).collect();
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        pages.push(entry.expect("entry").path());
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        for link in text.split("](").skip(1).filter_map(|rest| rest.split_once(')').map(|(l, _)| l)) {
            if link.contains("://") || link.starts_with("mailto:") || link.contains(' ') {
                continue;
            }
            checked += 1;
            let (file, anchor) = link.split_once('#').unwrap_or((link, ""));
            let target = if file.is_empty() { page.clone() } else { page.parent().expect("dir").join(file) };
            let Ok(target_text) =
                std::fs::read_to_string(&target).or_else(|e| if target.is_dir() { Ok(String::new()) } else { Err(e) })
            else {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            };
            if !anchor.is_empty()
                && !target_text
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .any(|h| slug(h.trim_start_matches('#')) == anchor)
            {
                broken.push(format!("{}: {link} (no such heading)", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
    assert!(checked > 10, "found only {checked} links");
}
