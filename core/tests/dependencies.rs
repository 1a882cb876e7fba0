//! The policy core stays pure and the macro Lambda stays small: neither crate may depend on an
//! AWS SDK, an HTTP client or (the core) an async runtime. Their `Cargo.toml` is what keeps the
//! code from calling one; this test keeps the `Cargo.toml` so.

use std::fs;
use std::path::Path;

/// The names in the `[dependencies]` table of `crate_dir/Cargo.toml`.
fn dependencies(crate_dir: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("Cargo.toml");
    let text = fs::read_to_string(&path).unwrap();
    let mut names = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.']).next().unwrap_or_default().trim();
            names.push(name.to_string());
        }
    }
    assert!(
        !names.is_empty(),
        "{} has no [dependencies]",
        path.display()
    );
    names
}

fn refused(names: &[String], prefixes: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
        .cloned()
        .collect()
}

#[test]
fn the_core_has_no_sdk_runtime_or_network() {
    let names = dependencies("core");
    let found = refused(
        &names,
        &[
            "aws-",
            "tokio",
            "reqwest",
            "lambda_runtime",
            "hyper",
            "rds-snapshot-policy",
        ],
    );
    assert!(found.is_empty(), "core/Cargo.toml depends on {found:?}");
}

#[test]
fn the_macro_has_no_sdk_or_network() {
    let names = dependencies("macro");
    assert!(names.contains(&"rds-snapshot-policy-core".to_string()));
    let found = refused(
        &names,
        &[
            "aws-",
            "reqwest",
            "hyper",
            "rds-snapshot-policy-provider",
            "serde_yaml",
        ],
    );
    assert!(found.is_empty(), "macro/Cargo.toml depends on {found:?}");
}
