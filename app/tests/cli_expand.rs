//! `rds-snapshot-policy expand` and `reference`: the README's examples expand; bad input exits 1
//! with the resource and property named; usage errors exit 2; the reference is the book's.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
        .args(args)
        .output()
        .expect("run the CLI")
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../templates/examples")
        .join(name)
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn expands_the_examples_to_json() {
    for name in ["source.yaml", "destination.yaml", "aurora.yaml"] {
        let out = cli(&["expand", &example(name), "--region", "eu-west-1"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let template: serde_json::Value =
            serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
        let resources = template["Resources"].as_object().unwrap();
        assert!(
            resources.keys().any(|k| k.ends_with("StateMachine")),
            "{name}"
        );
        assert!(
            template.get("Transform").is_none(),
            "{name}: the macro's transform is removed"
        );
    }
}

/// The size warnings count the bytes written: the source example is under the 51,200 inline
/// bytes as compact JSON (the default), and over them indented (`--pretty`).
#[test]
fn size_warnings_count_the_bytes_written() {
    let compact = cli(&["expand", &example("source.yaml"), "--region", "eu-west-1"]);
    assert!(compact.status.success(), "{}", stderr(&compact));
    let written = stdout(&compact);
    assert_eq!(written.lines().count(), 1, "compact JSON is one line");
    assert!(written.len() < 51_200, "{} bytes", written.len());
    assert!(!stderr(&compact).contains("51200"), "{}", stderr(&compact));
    let pretty = cli(&[
        "expand",
        &example("source.yaml"),
        "--region",
        "eu-west-1",
        "--pretty",
    ]);
    assert!(pretty.status.success(), "{}", stderr(&pretty));
    let size = stdout(&pretty).len();
    assert!(size > 51_200, "{size} bytes");
    assert!(
        stderr(&pretty).contains(&format!(
            "as written: the expanded template is {size} bytes, over the 51200 bytes CloudFormation accepts inline"
        )) && stderr(&pretty).contains("--template-url"),
        "{}",
        stderr(&pretty)
    );
}

#[test]
fn yaml_output_round_trips() {
    let out = cli(&["expand", &example("aurora.yaml"), "--format", "yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let parsed = rds_snapshot_policy_core::yaml::parse_template(&stdout(&out)).expect("valid YAML");
    assert!(parsed["Resources"]["LedgerSnapshotsTakeStateMachine"].is_object());
    assert_eq!(
        parsed["Resources"]["LedgerSnapshots"]["Properties"]["DBClusterIdentifier"]["Ref"],
        "LedgerCluster"
    );
}

#[test]
fn invalid_policy_exits_1_naming_resource_and_property() {
    let (path, mut file) = tempfile("bad.yaml");
    writeln!(
        file,
        "Resources:\n  OrdersDbSnapshots:\n    Type: Custom::RdsSnapshotPolicy\n    Properties:\n      Role: Source\n      DBInstanceIdentifier: orders\n      DestinationAccount: \"222222222222\"\n      RetentionDays: \"0\"\n      BackupSchedule: cron(0 * * * * *)"
    )
    .unwrap();
    let out = cli(&["expand", &path]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Resource [OrdersDbSnapshots] property [RetentionDays]: must be a whole number >= 1, got \"0\""),
        "{err}"
    );
    assert!(
        err.contains("Resource [OrdersDbSnapshots] property [BackupSchedule]"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn params_resolve_and_stdin_works() {
    let template = "Parameters:\n  Dr:\n    Type: String\nResources:\n  P:\n    Type: Custom::RdsSnapshotPolicy\n    Properties:\n      Role: Source\n      DBInstanceIdentifier: orders\n      DestinationAccount: !Ref Dr\n";
    let run = |params: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
            .arg("expand")
            .arg("-")
            .args(params)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(template.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = run(&["--param", "Dr=222222222222"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = run(&["--param", "Dr=12"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains(
            "property [DestinationAccount]: must be a 12-digit AWS account ID, got \"12\""
        ),
        "{}",
        stderr(&bad)
    );
    let own = run(&["--param", "Dr=111111111111", "--account-id", "111111111111"]);
    assert_eq!(own.status.code(), Some(1));
    assert!(
        stderr(&own).contains("this stack's own account"),
        "{}",
        stderr(&own)
    );
}

#[test]
fn usage_errors_exit_2_and_missing_files_exit_1() {
    assert_eq!(cli(&["expand"]).status.code(), Some(2));
    assert_eq!(
        cli(&["expand", "x.yaml", "--format", "xml"]).status.code(),
        Some(2)
    );
    for (flag, value, message) in [
        ("--region", "eu-wset-1", "must be an AWS region"),
        ("--account-id", "12345", "must be a 12-digit AWS account ID"),
        ("--param", "NoEquals", "must be KEY=VALUE"),
    ] {
        let out = cli(&["expand", "x.yaml", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
    let undeclared = cli(&["expand", &example("source.yaml"), "--param", "Nope=1"]);
    assert_eq!(undeclared.status.code(), Some(1));
    assert!(
        stderr(&undeclared).contains("--param Nope: the template declares no parameter"),
        "{}",
        stderr(&undeclared)
    );
    let missing = cli(&["expand", "/nonexistent/template.yaml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("cannot read template /nonexistent/template.yaml"));
    let (path, mut file) = tempfile("broken.yaml");
    writeln!(file, "Resources: [unclosed").unwrap();
    let broken = cli(&["expand", &path]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("invalid YAML"),
        "{}",
        stderr(&broken)
    );
}

fn tempfile(name: &str) -> (String, std::fs::File) {
    let dir = std::env::temp_dir().join(format!("rsp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    (path.display().to_string(), file)
}

#[test]
fn schedule_flags_are_checked() {
    let bad_time = cli(&[
        "schedule",
        "rate(1 hour)",
        "--from",
        "2026-06-01",
        "--until",
        "2026-06-02T00:00:00Z",
    ]);
    assert_eq!(bad_time.status.code(), Some(2));
    assert!(
        stderr(&bad_time).contains("must be an RFC 3339 time such as 2026-06-01T00:00:00Z"),
        "{}",
        stderr(&bad_time)
    );
    let huge = cli(&[
        "schedule",
        "rate(1 minute)",
        "--from",
        "2026-01-01T00:00:00Z",
        "--until",
        "9999-01-01T00:00:00Z",
    ]);
    assert_eq!(huge.status.code(), Some(1));
    assert!(
        stderr(&huge).contains("the window is longer than 380 days"),
        "{}",
        stderr(&huge)
    );
    let ok = cli(&[
        "schedule",
        "cron(0 12 * * ? *)",
        "--from",
        "2026-06-01T00:00:00Z",
        "--until",
        "2026-06-03T00:00:00Z",
    ]);
    assert_eq!(stdout(&ok), "2026-06-01T12:00:00Z\n2026-06-02T12:00:00Z\n");
}

#[test]
fn own_account_is_named_in_the_property_it_was_given_in() {
    let (path, mut file) = tempfile("own.yaml");
    writeln!(file, "Resources:\n  P:\n    Type: Custom::RdsSnapshotPolicy\n    Properties: {{Role: Source, DBInstanceIdentifier: orders, DestinationAccount: \"111111111111\"}}").unwrap();
    let out = cli(&[
        "expand",
        &path,
        "--account-id",
        "111111111111",
        "--region",
        "eu-west-1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("Resource [P] property [DestinationAccount]: names this stack's own account"),
        "{}",
        stderr(&out)
    );
}

/// `reference` prints the property table as the book's page holds it (markdown) and as the
/// shipped JSON Schema; an unknown format is a usage error (exit 2) naming the ones it takes.
#[test]
fn reference_prints_the_book_tables_and_the_shipped_schema() {
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/src/reference");
    let markdown = cli(&["reference"]);
    assert!(markdown.status.success(), "{}", stderr(&markdown));
    let page = std::fs::read_to_string(docs.join("policy.md")).unwrap();
    let tables = stdout(&markdown);
    assert!(
        tables.contains("| `RpoMinutes` | whole number ≥ 1 | 60 |"),
        "{tables}"
    );
    assert!(
        page.contains(tables.trim()),
        "the page holds the printed tables"
    );

    let schema = cli(&["reference", "--format", "schema"]);
    assert!(schema.status.success(), "{}", stderr(&schema));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&schema)).expect("JSON");
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(docs.join("policy-properties.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, shipped);

    let wrong = cli(&["reference", "--format", "yaml"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    let said = stderr(&wrong);
    assert!(
        said.contains("yaml") && said.contains("markdown") && said.contains("schema"),
        "{said}"
    );
}
