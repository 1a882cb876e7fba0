//! The hostile-input corpus (`tests/hostile/cases.json`): templates and CLI flags through the
//! CLI binary, macro events through the macro's answer, provider events through the provider
//! Lambda's event handling. Each case states its exit code or answer and a fragment of the
//! message; none may panic. Nothing is sent anywhere but 127.0.0.1 (a closed port).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use provider::aws::Aws;
use provider::trust::Trust;
use serde_json::Value;
use support::offline::{offline_aws, received};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const VALID_TEMPLATE: &str = "Transform: RdsSnapshotPolicy\nResources:\n  P:\n    Type: Custom::RdsSnapshotPolicy\n    Properties: {Role: Source, DBInstanceIdentifier: orders, DestinationAccount: '222222222222'}\n";
const VALID_POLICY: &str =
    "Role: Source\nDBInstanceIdentifier: orders\nDestinationAccount: '222222222222'\n";

fn cli(dir: &Path, args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "hostile")
        .env("AWS_SECRET_ACCESS_KEY", "hostile")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .current_dir(dir)
        .output()
        .expect("run the CLI");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// A case's event as the runtime receives it: `raw` text as is, or `event` as JSON, with a
/// `pad` field of that many characters when the case has one.
fn event_text(case: &Value, event: &Value) -> String {
    if let Some(raw) = case["raw"].as_str() {
        return raw.to_string();
    }
    let mut event = event.clone();
    if let (Some(pad), Some(object)) = (case["pad"].as_u64(), event.as_object_mut()) {
        object.insert("pad".into(), Value::from("x".repeat(pad as usize)));
    }
    event.to_string()
}

async fn provider_event(aws: &Aws, text: &str) -> (String, String) {
    let trust = Trust::from_env(|name| match name {
        "RSP_ALLOWED_DESTINATION_ACCOUNTS" => Some("222222222222".to_string()),
        _ => None,
    })
    .unwrap();
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 60_000;
    match provider::lambda::handle_input(
        aws.clone(),
        "eu-west-1".into(),
        trust,
        received(text),
        deadline,
        |_| {},
    )
    .await
    {
        Ok(answer) => (
            answer["Status"].as_str().unwrap_or("ok").to_string(),
            answer.to_string(),
        ),
        Err(d) => (d.error_type, d.error_message),
    }
}

/// A normalized source policy, as the expansion writes it into task inputs.
fn normalized_policy() -> Value {
    let properties = serde_json::json!({"Role": "Source", "PolicyId": "p", "DBInstanceIdentifier": "orders",
        "DestinationAccounts": ["222222222222"]});
    let resolver = rds_snapshot_policy_core::value::Resolver {
        region: Some("eu-west-1".into()),
        account_id: Some("111111111111".into()),
        ..Default::default()
    };
    let spec = rds_snapshot_policy_core::parse_policy("P", &properties, &resolver)
        .unwrap()
        .spec
        .resolve()
        .unwrap();
    serde_json::to_value(spec).unwrap()
}

#[tokio::test]
async fn every_hostile_case_gets_its_answer() {
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/hostile/cases.json")).unwrap(),
    )
    .unwrap();
    assert!(cases.len() >= 120, "{} cases", cases.len());
    let dir = std::env::temp_dir().join(format!("rsp-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("template.yaml"), VALID_TEMPLATE).unwrap();
    std::fs::write(dir.join("policy.yaml"), VALID_POLICY).unwrap();
    let aws = offline_aws().await;
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let message = case["message"].as_str().unwrap_or_default();
        let (got, text) = match case["kind"].as_str().unwrap() {
            "template" => {
                let ext = case["format"].as_str().unwrap_or("yaml");
                let file = dir.join(format!("case-{i}.{ext}"));
                std::fs::write(&file, case["input"].as_str().unwrap()).unwrap();
                let (code, text) = cli(
                    &dir,
                    &[
                        "expand".into(),
                        file.display().to_string(),
                        "--region".into(),
                        "eu-west-1".into(),
                        "--account-id".into(),
                        "111111111111".into(),
                    ],
                );
                (code.map(|c| c.to_string()).unwrap_or("signal".into()), text)
            }
            "cli" => {
                let args: Vec<String> = case["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| match a.as_str().unwrap() {
                        "TEMPLATE" => dir.join("template.yaml").display().to_string(),
                        "POLICY" => dir.join("policy.yaml").display().to_string(),
                        other => other.to_string(),
                    })
                    .collect();
                let (code, text) = cli(&dir, &args);
                (code.map(|c| c.to_string()).unwrap_or("signal".into()), text)
            }
            "macro-event" => {
                let answer = rds_snapshot_policy_macro::macro_contract::answer_input(
                    &received(&event_text(case, &case["event"])),
                    "rds-snapshot-policy-provider",
                );
                (
                    answer["status"].as_str().unwrap_or("none").to_string(),
                    answer.to_string(),
                )
            }
            "provider-event" => {
                let mut event = case["event"].clone();
                if event.get("policy") == Some(&Value::String("NORMALIZED_POLICY".into())) {
                    event["policy"] = normalized_policy();
                    // Fields a forged task adds to a genuine policy.
                    for (key, value) in case["policy_overlay"].as_object().into_iter().flatten() {
                        event["policy"][key] = value.clone();
                    }
                }
                provider_event(&aws, &event_text(case, &event)).await
            }
            other => panic!("unknown kind {other}"),
        };
        let expected = match &case["exit"] {
            Value::Number(n) => n.to_string(),
            _ => case["status"]
                .as_str()
                .or(case["outcome"].as_str())
                .unwrap()
                .to_string(),
        };
        if got != expected || !text.contains(message) || text.contains("panicked") {
            failures.push(format!(
                "{name}: expected {expected} with {message:?}, got {got}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
