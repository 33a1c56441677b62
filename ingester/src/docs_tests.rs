//! The reference docs that are generated from the code: `docs/tables.md`
//! carries each table's column list as `define_table!` declares it. The test
//! fails when they drift; `UPDATE_DOCS=1 cargo test --workspace --lib
//! docs_tests` rewrites the lists.

use crate::tables::{Column, all_tables};

const TABLES_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tables.md");

fn begin_marker(table: &str) -> String {
    format!("<!-- columns {table}: generated from define_table!, do not edit -->")
}
const END_MARKER: &str = "<!-- /columns -->";

/// The generated column list of one table.
fn column_block(table: &str, columns: &[Column]) -> String {
    let mut out = format!("{}\n\n| # | column | DuckDB type |\n|---|---|---|\n", begin_marker(table));
    for (i, c) in columns.iter().enumerate() {
        let sql_type = c.sql_type.split(" USING ").next().unwrap_or(c.sql_type);
        out.push_str(&format!("| {} | `{}` | `{sql_type}` |\n", i + 1, c.name));
    }
    out.push('\n');
    out.push_str(END_MARKER);
    out
}

/// `doc` with every table's block replaced (or inserted at the end of its
/// section, before the next heading of level 1 or 2).
fn with_blocks(doc: &str) -> Result<String, String> {
    let mut doc = doc.to_string();
    for (table, columns) in all_tables() {
        let block = column_block(table, columns);
        let begin = begin_marker(table);
        if let Some(start) = doc.find(&begin) {
            let end = doc[start..].find(END_MARKER).ok_or(format!("{table}: begin marker without {END_MARKER}"))?;
            doc.replace_range(start..start + end + END_MARKER.len(), &block);
            continue;
        }
        let heading = format!("\n## `{table}`");
        let at = doc.find(&heading).ok_or(format!("docs/tables.md has no `## `{table}`` section"))? + 1;
        let next = doc[at + 1..]
            .match_indices('\n')
            .map(|(i, _)| at + 1 + i + 1)
            .find(|&i| doc[i..].starts_with("# ") || doc[i..].starts_with("## "))
            .unwrap_or(doc.len());
        doc.insert_str(next, &format!("{block}\n\n"));
    }
    Ok(doc)
}

#[test]
fn table_reference_lists_every_column() {
    let doc = std::fs::read_to_string(TABLES_MD).expect("docs/tables.md");
    let want = with_blocks(&doc).unwrap_or_else(|e| panic!("{e}"));
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(TABLES_MD, &want).expect("write docs/tables.md");
        return;
    }
    if doc != want {
        let line = doc.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0) + 1;
        panic!(
            "docs/tables.md differs from the define_table! declarations from line {line}; \
             regenerate with `UPDATE_DOCS=1 cargo test --workspace --lib docs_tests`"
        );
    }
}

#[test]
fn table_reference_names_only_real_tables() {
    let doc = std::fs::read_to_string(TABLES_MD).expect("docs/tables.md");
    let tables: Vec<&str> = all_tables().iter().map(|(t, _)| *t).collect();
    for heading in doc.lines().filter_map(|l| l.strip_prefix("## `")) {
        let name = heading.split('`').next().unwrap_or_default();
        assert!(tables.contains(&name), "docs/tables.md documents `{name}`, which is not a table");
    }
}
