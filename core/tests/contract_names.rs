//! The contract module is the one place the names live: the error table of the book
//! (docs/src/actions.md, "Errors") agrees with
//! it, and no error name is spelled anywhere else in `src/`.

use std::fs;
use std::path::{Path, PathBuf};

use rds_snapshot_policy_core::contract::ErrorName;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn readme_error_table_matches_the_contract() {
    let readme = fs::read_to_string(root().join("docs/src/actions.md")).unwrap();
    let header = readme
        .lines()
        .position(|l| l.starts_with("| retried by the state machine |"))
        .expect("docs/src/actions.md has the error table");
    let row = readme.lines().nth(header + 2).expect("the table's row");
    let cells: Vec<&str> = row
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells.len(), 2, "{row}");
    let (retried, final_names) = (backticked(cells[0]), backticked(cells[1]));
    let contract_retried: Vec<String> = ErrorName::ALL
        .iter()
        .filter(|e| e.is_retryable())
        .map(|e| e.name().to_string())
        .collect();
    let contract_final: Vec<String> = ErrorName::ALL
        .iter()
        .filter(|e| !e.is_retryable())
        .map(|e| e.name().to_string())
        .collect();
    assert_eq!(retried, contract_retried);
    assert_eq!(final_names, contract_final);
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn error_names_are_written_only_in_the_contract() {
    let mut files = Vec::new();
    rust_files(&root().join("macro/src"), &mut files);
    rust_files(&root().join("provider/src"), &mut files);
    let contract = root().join("core/src/contract");
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&contract)) {
        let text = fs::read_to_string(file).unwrap();
        for name in ErrorName::ALL.map(ErrorName::name) {
            // AWS's own error codes of the same spelling, in the SDK error classification.
            let rds_code = ["InternalError", "AccessDenied"].contains(&name)
                && file.ends_with("provider/src/aws/mod.rs");
            if text.contains(&format!("\"{name}\"")) && !rds_code {
                found.push(format!("{}: \"{name}\"", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "error names outside the contract:\n{}",
        found.join("\n")
    );
    assert!(files.len() > 20, "the scan found the sources");
}
