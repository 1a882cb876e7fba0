//! `rds-snapshot-policy rpo`: the worst-case breakdown of a policy file, and `--check`.

use std::process::{Command, Output};

fn rpo(policy: &str, extra: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("rsp-rpo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{:x}.yaml", fnv(policy)));
    std::fs::write(&file, policy).unwrap();
    Command::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
        .arg("rpo")
        .arg("--policy")
        .arg(&file)
        .args(extra)
        .output()
        .expect("run the CLI")
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

const DEFAULT_SOURCE: &str =
    "Role: Source\nDBInstanceIdentifier: orders\nDestinationAccount: '222222222222'\n";

#[test]
fn the_default_source_policy_meets_sixty_minutes_term_by_term() {
    let out = rpo(DEFAULT_SOURCE, &["--json", "--check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["worstCaseMinutes"], 56);
    assert_eq!(v["typicalMinutes"], 46);
    assert_eq!(v["met"], true);
    let names: Vec<&str> = v["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "snapshot spacing",
            "schedule jitter",
            "snapshot creation",
            "wait to share",
            "wait to copy",
            "copy duration"
        ]
    );
}

#[test]
fn a_four_hour_interval_fails_the_check_and_says_by_how_much() {
    let policy = format!("{DEFAULT_SOURCE}BackupInterval: 4\n");
    let out = rpo(&policy, &["--check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("snapshot spacing     240 min"), "{text}");
    assert!(text.contains("RpoMinutes 60: NOT met"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the worst case is 266 minutes"), "{err}");
    // Without --check the breakdown is information, not failure.
    assert!(rpo(&policy, &[]).status.success());
}

#[test]
fn a_destination_policy_counts_its_copy_schedule() {
    let policy = "Role: Destination\nSnapshotPattern: '^orders-'\nSourceRegionOverride: eu-west-1\nDestinationRegion: eu-central-1\nKmsKeyDestination: arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab\nCopySchedule: rate(1 hour)\nSourceAccounts: ['111111111111']\n";
    let out = rpo(policy, &["--region", "eu-central-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("wait to copy          60 min  (CopySchedule)"),
        "{text}"
    );
    assert!(text.contains("NOT met"), "{text}");
}

#[test]
fn an_invalid_policy_names_the_property() {
    let out = rpo(
        "Role: Source\nDBInstanceIdentifier: orders\nShareSnapshots: false\nBackupIntervalMinutes: 5\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BackupIntervalMinutes"), "{err}");
}

#[test]
fn measured_terms_are_for_a_destination_policy() {
    let out = rpo(DEFAULT_SOURCE, &["--measured"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--measured applies to a destination policy"),
        "{stderr}"
    );
}
