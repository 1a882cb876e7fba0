//! Structured fuzzing of the provider's event handling on stable Rust (proptest): arbitrary
//! JSON, and valid task inputs and custom-resource events with one field replaced by arbitrary
//! JSON, arbitrary text, truncated task inputs. Every event, received as text as the Lambda
//! runtime receives it, is answered (a summary, a contract error name or a custom-resource
//! answer), never a panic. Nothing leaves 127.0.0.1 (a closed port stands in for AWS).
//! Bounded: 64 cases per property (PROPTEST_CASES overrides).

use std::time::{SystemTime, UNIX_EPOCH};

mod support;

use proptest::prelude::*;
use provider::trust::Trust;
use rds_snapshot_policy_core::contract::ErrorName;
use serde_json::{Value, json};
use support::offline::{offline_aws, received};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        Just(json!("9999-12-31T00:00:00Z")),
        Just(json!("222222222222")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("version".to_string()),
                    Just("action".to_string()),
                    Just("policy".to_string()),
                    Just("RequestType".to_string()),
                    Just("ResponseURL".to_string()),
                    ".{0,8}".prop_map(|s| s)
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn task_input() -> Value {
    let properties = json!({"Role": "Source", "PolicyId": "p", "DBInstanceIdentifier": "orders",
        "DestinationAccounts": ["222222222222"]});
    let resolver = rds_snapshot_policy_core::value::Resolver {
        region: Some("eu-west-1".into()),
        ..Default::default()
    };
    let spec = rds_snapshot_policy_core::parse_policy("P", &properties, &resolver)
        .unwrap()
        .spec
        .resolve()
        .unwrap();
    json!({"version": 5, "action": "take", "policy": spec, "now": "2026-06-01T00:00:00Z",
        "execution": "arn:aws:states:eu-west-1:111111111111:execution:m:e",
        "origin": {"stack": "arn:aws:cloudformation:eu-west-1:111111111111:stack/s/1", "stateMachine": "PTakeStateMachine"}})
}

fn custom_resource_event() -> Value {
    json!({"RequestType": "Create", "ResponseURL": "http://127.0.0.1:9/never-answered",
        "StackId": "arn:aws:cloudformation:eu-west-1:111111111111:stack/s/1", "RequestId": "r", "LogicalResourceId": "P",
        "ResourceType": "Custom::RdsSnapshotPolicy",
        "ResourceProperties": {"ServiceToken": "arn", "Role": "Source", "DBInstanceIdentifier": "orders", "DestinationAccounts": ["222222222222"]}})
}

/// `base` with the value at `path` (keys, then a nested key) replaced.
fn mutate(mut base: Value, key: &str, nested: Option<&str>, value: Value) -> Value {
    match nested {
        Some(inner) if base[key].is_object() => base[key][inner] = value,
        _ => base[key] = value,
    }
    base
}

/// Answers `event` as the provider Lambda receives it: as text.
fn answer(event: Value) -> Result<(), String> {
    answer_text(&event.to_string())
}

fn answer_text(text: &str) -> Result<(), String> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    });
    runtime.block_on(async move {
        let trust = Trust::from_env(|_| None).unwrap();
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 30_000;
        match provider::lambda::handle_input(
            offline_aws().await,
            "eu-west-1".into(),
            trust,
            received(text),
            deadline,
            |_| {},
        )
        .await
        {
            Ok(v) if v.is_object() => Ok(()),
            Ok(v) => Err(format!("answer is not an object: {v}")),
            Err(d) if ErrorName::parse(&d.error_type).is_some() => Ok(()),
            Err(d) => Err(format!(
                "error type {} is not in the contract: {}",
                d.error_type, d.error_message
            )),
        }
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_events_are_answered(event in arbitrary_json()) {
        prop_assert_eq!(answer(event), Ok(()));
    }

    #[test]
    fn arbitrary_text_is_answered(text in "\\PC{0,200}") {
        prop_assert_eq!(answer_text(&text), Ok(()));
    }

    #[test]
    fn truncated_and_spliced_task_inputs_are_answered(cut in 0usize..2000, junk in "\\PC{0,8}") {
        let text = task_input().to_string();
        let cut = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        prop_assert_eq!(answer_text(&format!("{}{junk}", &text[..cut])), Ok(()));
    }

    #[test]
    fn task_inputs_with_a_hostile_field_are_answered(
        key in prop::sample::select(vec!["version", "action", "policy", "now", "execution", "origin", "drill", "dryRun"]),
        nested in prop::option::of(prop::sample::select(vec!["RetentionDays", "DestinationAccounts", "Role", "stack", "KeepLatest"])),
        value in arbitrary_json(),
    ) {
        prop_assert_eq!(answer(mutate(task_input(), key, nested, value)), Ok(()));
    }

    #[test]
    fn custom_resource_events_with_a_hostile_field_are_answered(
        key in prop::sample::select(vec!["RequestType", "ResponseURL", "StackId", "RequestId", "ResourceProperties", "PhysicalResourceId"]),
        nested in prop::option::of(prop::sample::select(vec!["Role", "DestinationAccounts", "RetentionDays"])),
        value in arbitrary_json(),
    ) {
        prop_assert_eq!(answer(mutate(custom_resource_event(), key, nested, value)), Ok(()));
    }
}
