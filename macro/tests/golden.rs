//! Golden files: `golden/<case>/input.yaml` (+ optional `context.json`) expands to
//! `expected.json` (with `expected-warnings.txt`) or fails with `expected-error.txt`.
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the expectations; review the diff.
//! Every expected output is also checked by cfn-lint and checkov (see `linted_by_cfn_tools`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rds_snapshot_policy_core::join_errors;
use rds_snapshot_policy_core::yaml::parse_template;
use rds_snapshot_policy_macro::expand::{ExpandContext, expand};
use serde_json::Value;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(golden_dir())
        .expect("golden directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.join("input.yaml").exists())
        .collect();
    dirs.sort();
    dirs
}

fn context_for(case: &Path) -> ExpandContext {
    let mut context = ExpandContext {
        region: Some("eu-west-1".into()),
        account_id: Some("111111111111".into()),
        // The clock schedules are judged by, pinned so the outputs never depend on today.
        now: chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc)),
        ..ExpandContext::default()
    };
    if let Ok(text) = fs::read_to_string(case.join("context.json")) {
        let v: Value = serde_json::from_str(&text).expect("context.json is JSON");
        if let Some(r) = v.get("region") {
            context.region = r.as_str().map(String::from);
        }
        if let Some(a) = v.get("accountId") {
            context.account_id = a.as_str().map(String::from);
        }
        if let Some(p) = v.get("parameters").and_then(Value::as_object) {
            context.parameters = p.clone();
        }
    }
    context
}

fn check(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(path, actual).expect("write golden file");
        return;
    }
    match fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{} differs:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
        Err(_) => failures.push(format!("{} is missing; actual:\n{actual}", path.display())),
    }
}

#[test]
fn golden_expansions() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(
        all.len() >= 20,
        "expected the full set of golden cases, found {}",
        all.len()
    );
    for case in all {
        let input = fs::read_to_string(case.join("input.yaml")).expect("input.yaml");
        let template = parse_template(&input).expect("golden inputs parse");
        let context = context_for(&case);
        let first = expand(&template, &context);
        let second = expand(&template, &context);
        match (first, second) {
            (Ok(a), Ok(b)) => {
                let text = serde_json::to_string_pretty(&a.template).expect("serializable") + "\n";
                assert_eq!(
                    text,
                    serde_json::to_string_pretty(&b.template).unwrap() + "\n",
                    "{} is not deterministic",
                    case.display()
                );
                check(&case.join("expected.json"), &text, &mut failures);
                let warnings = join_errors(&a.warnings);
                let warnings = if warnings.is_empty() {
                    warnings
                } else {
                    warnings + "\n"
                };
                check(
                    &case.join("expected-warnings.txt"),
                    &warnings,
                    &mut failures,
                );
                if case.join("expected-error.txt").exists() {
                    failures.push(format!("{} expanded but expects an error", case.display()));
                }
            }
            (Err(errors), _) => {
                check(
                    &case.join("expected-error.txt"),
                    &(join_errors(&errors) + "\n"),
                    &mut failures,
                );
                if case.join("expected.json").exists() {
                    failures.push(format!(
                        "{} failed but expects an expansion",
                        case.display()
                    ));
                }
            }
            (Ok(_), Err(_)) => failures.push(format!("{} is not deterministic", case.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every golden expansion must pass cfn-lint with zero errors and checkov with no failed check.
#[test]
#[ignore = "needs make test"]
fn linted_by_cfn_tools() {
    let outputs: Vec<PathBuf> = cases()
        .into_iter()
        .map(|c| c.join("expected.json"))
        .filter(|p| p.exists())
        .collect();
    assert!(!outputs.is_empty());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-templates.sh");
    let result = Command::new("bash")
        .arg(script)
        .args(&outputs)
        .output()
        .expect("run scripts/check-templates.sh");
    assert!(
        result.status.success(),
        "cfn-lint/checkov refused a golden expansion:\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}
