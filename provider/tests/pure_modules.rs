//! The provider's decisions are pure: the planner, the deploy-time decisions, the status
//! assembly and rendering, the policy and inventory model. They call no AWS SDK, no runtime,
//! no network, file, environment or clock: the orchestrators (`task.rs`, `drill.rs`,
//! `custom_resource/mod.rs`, `status/gather.rs`) and `aws/` gather, these decide. The policy
//! core crate is pure by its Cargo.toml (no SDK to call); inside this crate it is this test.

use std::fs;
use std::path::{Path, PathBuf};

/// The pure files and folders of `provider/src`.
const PURE: &[&str] = &[
    "plan",
    "custom_resource/account.rs",
    "custom_resource/copy_slots.rs",
    "custom_resource/decide.rs",
    "custom_resource/key_policy.rs",
    "custom_resource/region_load.rs",
    "drill_record.rs",
    "error.rs",
    "forecast.rs",
    "identity.rs",
    "inventory.rs",
    "measure.rs",
    "policy.rs",
    "provenance.rs",
    "status/mod.rs",
    "status/render.rs",
    "trust.rs",
];

/// What a pure file may not name.
const IMPURE: &[&str] = &[
    "aws_sdk_",
    "aws_config",
    "aws_smithy",
    "crate::aws",
    "tokio",
    "async fn",
    ".await",
    "reqwest",
    "lambda_runtime",
    "std::fs",
    "std::env",
    "std::net",
    "std::process",
    "Utc::now",
    "Instant::now",
    "SystemTime",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

#[test]
fn the_decisions_call_no_aws_runtime_or_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for pure in PURE {
        let path = src.join(pure);
        assert!(path.exists(), "{pure} is listed as pure but does not exist");
        rust_files(&path, &mut files);
    }
    assert!(files.len() > 20);
    let mut found = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in IMPURE.iter().filter(|w| code.contains(*w)) {
                found.push(format!(
                    "{}:{}: {word}",
                    file.strip_prefix(&src).unwrap().display(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a pure module reaches outside (move the call to its orchestrator):\n{}",
        found.join("\n")
    );
}
