//! `rds-snapshot-policy guard`: the SCP of a policy file, and refused arguments.

use std::process::{Command, Output};

fn guard(policy: &str, extra: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("rsp-guard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{}.yaml", policy.len()));
    std::fs::write(&file, policy).unwrap();
    Command::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
        .args(["guard", "--region", "eu-central-1", "--policy"])
        .arg(&file)
        .args(extra)
        .output()
        .expect("run the CLI")
}

const DR: &str = "Role: Destination\nPolicyId: dr-copies\nSnapshotPattern: '^orders-'\nSourceAccounts: ['111111111111']\nSourceRegionOverride: eu-west-1\nKmsKeyDestination: arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab\n";

#[test]
fn prints_a_deny_only_scp_naming_the_policy_key_and_exemptions() {
    let out = guard(
        DR,
        &["--exempt-role", "arn:aws:iam::222222222222:role/deploy"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = scp.to_string();
    assert!(
        text.contains("\"aws:ResourceTag/rds-snapshot-policy:policy\":\"dr-copies\""),
        "{text}"
    );
    assert!(
        text.contains("key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        "{text}"
    );
    assert!(
        text.contains("arn:aws:iam::222222222222:role/deploy"),
        "{text}"
    );
    assert!(
        scp["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["Effect"] == "Deny")
    );
}

#[test]
fn warns_without_exemptions_and_refuses_wrong_arns() {
    let out = guard(DR, &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --exempt-role"));
    let unnamed = guard(&DR.replace("PolicyId: dr-copies\n", ""), &[]);
    assert_eq!(unnamed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unnamed.stderr).contains("--policy-id"));
    let named = guard(
        &DR.replace("PolicyId: dr-copies\n", ""),
        &["--policy-id", "dr-stack-Copies"],
    );
    assert!(String::from_utf8_lossy(&named.stdout).contains("dr-stack-Copies"));
    let bad = guard(DR, &["--key", "alias/dr"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--key \"alias/dr\" is not an kms ARN"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
