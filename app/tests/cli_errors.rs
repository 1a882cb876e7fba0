//! The first hour's setup mistakes through the CLI binary: each is one line on stderr that
//! names the fix, without the SDK's dumps (those only with --verbose). Nothing is sent anywhere
//! but a closed port on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsp-cli-errors-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the CLI with only `env` (and PATH, HOME); returns (exit code, stdout, stderr).
fn cli(args: &[&str], env: &[(&str, &str)], home: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .expect("run the CLI");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, not a dump: {stderr}");
    lines[0]
}

const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "cli-errors"),
    ("AWS_SECRET_ACCESS_KEY", "cli-errors"),
];

#[test]
fn an_endpoint_that_does_not_answer_asks_whether_the_emulator_runs() {
    let home = scratch("endpoint");
    let mut env = KEYS.to_vec();
    env.extend([
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_REGION", "eu-west-1"),
    ]);
    let (code, _, stderr) = cli(
        &["plan", "take", "--policy", "templates/policies/orders.yaml"],
        &env,
        &home,
    );
    assert_eq!(code, Some(1));
    let line = one_line(&stderr);
    assert!(
        line.starts_with("cannot reach the AWS endpoint http://127.0.0.1:9 ("),
        "{line}"
    );
    assert!(
        line.contains("is the emulator running? Start it with `make emulator`"),
        "{line}"
    );
    // Input errors still come first: the file is read before the endpoint is tried.
    let (code, _, stderr) = cli(
        &[
            "plan",
            "take",
            "--policy",
            "templates/policies/missing.yaml",
        ],
        &env,
        &home,
    );
    assert_eq!(code, Some(1));
    assert!(one_line(&stderr).contains("missing.yaml"), "{stderr}");
}

#[test]
fn an_unknown_profile_is_named_with_the_files_searched() {
    let home = scratch("profile");
    let config = home.join("config");
    std::fs::write(
        &config,
        "[profile rsp-prod]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:9\n",
    )
    .unwrap();
    let config_text = config.display().to_string();
    let env = [
        ("AWS_CONFIG_FILE", config_text.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_PROFILE", "rsp-prdo"),
    ];
    let (code, _, stderr) = cli(
        &["run", "take", "--policy", "templates/policies/orders.yaml"],
        &env,
        &home,
    );
    assert_eq!(code, Some(1));
    let line = one_line(&stderr);
    assert!(
        line.starts_with(&format!(
            "AWS profile rsp-prdo is not in {config_text} or /dev/null"
        )),
        "{line}"
    );
    assert!(line.contains("make emulator"), "{line}");
    let (code, _, stderr) = cli(
        &[
            "status",
            "--source-profile",
            "rsp-prod",
            "--dr-profile",
            "rsp-dr",
        ],
        &env[..2],
        &home,
    );
    assert_eq!(code, Some(1));
    assert!(
        one_line(&stderr).starts_with("AWS profile rsp-dr is not in"),
        "{stderr}"
    );
}

#[test]
fn a_missing_region_says_where_to_set_it() {
    let home = scratch("region");
    let (code, _, stderr) = cli(
        &["run", "take", "--policy", "templates/policies/orders.yaml"],
        &KEYS,
        &home,
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        one_line(&stderr),
        "no AWS region: set AWS_REGION, or use a profile with a region (AWS_PROFILE=NAME)"
    );
    let config = home.join("config");
    std::fs::write(&config, "[profile bare]\noutput = json\n").unwrap();
    let config_text = config.display().to_string();
    let (_, _, stderr) = cli(
        &["drill", "--policy", "templates/policies/dr-copies.yaml"],
        &[
            ("AWS_CONFIG_FILE", config_text.as_str()),
            ("AWS_PROFILE", "bare"),
        ],
        &home,
    );
    assert_eq!(
        one_line(&stderr),
        "AWS profile bare has no region: add `region = ...` to it, or set AWS_REGION"
    );
}

#[test]
fn rpo_reads_the_profiles_region_and_the_templates_parameters() {
    let home = scratch("rpo");
    let config = home.join("config");
    std::fs::write(&config, "[profile rsp-dr]\nregion = eu-central-1\n").unwrap();
    let config_text = config.display().to_string();
    let env = [
        ("AWS_CONFIG_FILE", config_text.as_str()),
        ("AWS_PROFILE", "rsp-dr"),
    ];
    let (code, stdout, stderr) = cli(
        &["rpo", "--policy", "templates/policies/dr-copies.yaml"],
        &env,
        &home,
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("RpoMinutes 60: met"), "{stdout}");
    // Without any region, the assumption is named with the error it causes.
    let (code, _, stderr) = cli(
        &["rpo", "--policy", "templates/policies/dr-copies.yaml"],
        &[],
        &home,
    );
    assert_eq!(code, Some(1));
    assert!(
        one_line(&stderr).contains("no region is configured, so us-east-1 was assumed"),
        "{stderr}"
    );
    // A template's policy with its parameters (defaults, --param) and the database it names.
    let args = [
        "rpo",
        "--policy",
        "templates/examples/source.yaml",
        "--resource",
        "OrdersDbSnapshots",
        "--region",
        "eu-west-1",
        "--param",
        "DatabaseName=payments",
        "--json",
    ];
    let (code, stdout, stderr) = cli(&args, &[], &home);
    assert_eq!(code, Some(0), "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["worstCaseMinutes"], 56, "{stdout}");
    let (code, _, stderr) = cli(
        &[
            "rpo",
            "--policy",
            "templates/examples/source.yaml",
            "--resource",
            "OrdersDbSnapshots",
            "--param",
            "Nope=1",
        ],
        &[],
        &home,
    );
    assert_eq!(code, Some(1));
    assert!(
        one_line(&stderr).ends_with("--param Nope: the template declares no parameter \"Nope\""),
        "{stderr}"
    );
}

/// A drill period that is not a date, or ends before it starts, is refused before any AWS
/// call, naming the flag.
#[test]
fn a_bad_drill_period_is_named() {
    let home = scratch("drill-period");
    let (code, _, stderr) = cli(&["status", "--drills-since", "last quarter"], &[], &home);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--drills-since")
            && stderr.contains("neither a date (YYYY-MM-DD) nor an RFC 3339 time"),
        "{stderr}"
    );
    let (code, _, stderr) = cli(
        &[
            "status",
            "--drills-since",
            "2026-10-01",
            "--drills-until",
            "2026-07-01",
        ],
        &[("AWS_REGION", "eu-west-1")],
        &home,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        one_line(&stderr).contains("--drills-since (2026-10-01 00:00:00 UTC) is after --drills-until (2026-07-01 23:59:59 UTC)"),
        "{stderr}"
    );
}
