//! The property reference and the JSON Schema are generated from the property table
//! (`policy::properties`): the book's page and the shipped schema must be what the table says.
//! `UPDATE_REFERENCE=1 cargo test -p rds-snapshot-policy-core --test reference` rewrites both.

use std::fs;
use std::path::PathBuf;

use rds_snapshot_policy_core::policy::properties::{json_schema, reference_markdown};

const BEGIN: &str = "<!-- properties: generated from core/src/policy/properties.rs";
const END: &str = "<!-- end of properties -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn update() -> bool {
    std::env::var_os("UPDATE_REFERENCE").is_some()
}

#[test]
fn the_policy_reference_page_is_the_table() {
    let path = root().join("docs/src/reference/policy.md");
    let page = fs::read_to_string(&path).expect("docs/src/reference/policy.md");
    let begin = page.find(BEGIN).expect("the page's properties marker");
    let start = begin + page[begin..].find('\n').expect("a line after the marker") + 1;
    let end = page.find(END).expect("the page's end-of-properties marker");
    let generated = reference_markdown();
    if update() {
        fs::write(
            &path,
            format!("{}{generated}{}", &page[..start], &page[end..]),
        )
        .unwrap();
        return;
    }
    assert_eq!(
        page[start..end],
        generated,
        "docs/src/reference/policy.md drifted from the property table: run UPDATE_REFERENCE=1 cargo test -p rds-snapshot-policy-core --test reference"
    );
}

#[test]
fn the_shipped_schema_is_the_table() {
    let path = root().join("docs/src/reference/policy-properties.schema.json");
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&json_schema()).unwrap()
    );
    if update() {
        fs::write(&path, generated).unwrap();
        return;
    }
    let shipped = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == generated,
        "docs/src/reference/policy-properties.schema.json drifted from the property table: run UPDATE_REFERENCE=1 cargo test -p rds-snapshot-policy-core --test reference"
    );
}
