//! The macro contract and the limits: answers for every event, never a panic.

use proptest::prelude::*;
use rds_snapshot_policy_macro::expand::{ExpandContext, MAX_RESOURCES, expand};
use rds_snapshot_policy_macro::macro_contract::handle_event;
use serde_json::{Value, json};

fn policy(db: &str) -> Value {
    json!({"Type": "Custom::RdsSnapshotPolicy", "Properties": {
        "Role": "Source", "DBInstanceIdentifier": db, "DestinationAccount": "222222222222"}})
}

fn event(fragment: Value) -> Value {
    json!({
        "requestId": "req-123", "region": "eu-west-1", "accountId": "111111111111",
        "transformId": "111111111111::RdsSnapshotPolicy", "params": {},
        "templateParameterValues": {}, "fragment": fragment,
    })
}

#[test]
fn success_echoes_request_id_and_returns_the_expansion() {
    let (response, warnings) = handle_event(
        &event(json!({"Resources": {"Orders": policy("orders")}})),
        "my-provider",
    );
    assert_eq!(response.request_id, "req-123");
    assert_eq!(response.status, "success");
    assert!(response.error_message.is_none());
    assert!(warnings.is_empty());
    let resources = response.fragment["Resources"].as_object().unwrap();
    assert!(resources.contains_key("OrdersTakeStateMachine"));
    assert_eq!(
        resources["Orders"]["Properties"]["ServiceToken"]["Fn::Sub"],
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:my-provider"
    );
}

#[test]
fn failure_carries_every_error() {
    let fragment = json!({"Resources": {
        "A": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {"Role": "Source", "DBInstanceIdentifier": "a", "DestinationAccount": "1", "RetentionDays": "0"}},
        "B": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {"Role": "Nope"}},
    }});
    let (response, _) = handle_event(&event(fragment), "p");
    assert_eq!(response.status, "failure");
    assert_eq!(response.request_id, "req-123");
    let message = response.error_message.unwrap();
    assert!(message.contains("Resource [A] property [DestinationAccount]: must be a 12-digit AWS account ID, got \"1\""), "{message}");
    assert!(
        message.contains(
            "Resource [A] property [RetentionDays]: must be a whole number >= 1, got \"0\""
        ),
        "{message}"
    );
    assert!(
        message.contains("Resource [B] property [Role]"),
        "{message}"
    );
}

#[test]
fn malformed_events_get_a_failure_answer() {
    for (event, needle) in [
        (json!("not an object"), "malformed"),
        (json!({"requestId": "r"}), "no fragment"),
        (
            json!({"requestId": "r", "fragment": {"Foo": 1}}),
            "template-level transform",
        ),
        (json!({"requestId": 5, "fragment": {}}), "malformed"),
        (
            json!({"requestId": "r", "fragment": {"Resources": 3}}),
            "Resources must be an object",
        ),
    ] {
        let (response, _) = handle_event(&event, "p");
        assert_eq!(response.status, "failure", "{event}");
        let message = response.error_message.unwrap();
        assert!(message.contains(needle), "{event}: {message}");
    }
}

#[test]
fn too_many_resources_is_an_error() {
    let mut resources = serde_json::Map::new();
    for i in 0..40 {
        resources.insert(format!("Db{i}"), policy(&format!("db{i}")));
    }
    let errors = expand(&json!({"Resources": resources}), &ExpandContext::default()).unwrap_err();
    let text = rds_snapshot_policy_core::join_errors(&errors);
    assert!(
        text.contains(&format!("CloudFormation allows {MAX_RESOURCES}")),
        "{text}"
    );
}

#[test]
fn size_limits_warn_then_fail() {
    let with_description = |bytes: usize| json!({"Description": "x".repeat(bytes), "Resources": {"Orders": policy("orders")}});
    let expansion = expand(&with_description(60_000), &ExpandContext::default()).unwrap();
    assert!(
        expansion
            .warnings
            .iter()
            .any(|w| w.message.contains("51200 bytes")),
        "{:?}",
        expansion.warnings
    );
    let errors = expand(&with_description(1_100_000), &ExpandContext::default()).unwrap_err();
    assert!(
        errors[0].message.contains("CloudFormation allows 1000000"),
        "{errors:?}"
    );
}

#[test]
fn other_transforms_and_sections_are_kept() {
    let template = json!({
        "Transform": ["AWS::LanguageExtensions", "RdsSnapshotPolicy"],
        "Mappings": {"M": {"k": {"v": "1"}}},
        "Resources": {"Orders": policy("orders"), "Other": {"Type": "AWS::SNS::Topic"}},
    });
    let out = expand(&template, &ExpandContext::default())
        .unwrap()
        .template;
    assert_eq!(out["Transform"], json!(["AWS::LanguageExtensions"]));
    assert_eq!(out["Mappings"], template["Mappings"]);
    assert_eq!(out["Resources"]["Other"], template["Resources"]["Other"]);
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9:()*?# ,/-]{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("Source"),
            Just("Destination"),
            Just("cron(0 * * * ? *)"),
            Just("rate(1 hour)"),
            Just("222222222222"),
            Just("TRUE"),
            Just("Custom::RdsSnapshotPolicy"),
            Just(".*"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    let keys = prop_oneof![
        Just("Role".to_string()),
        Just("Type".to_string()),
        Just("Properties".to_string()),
        Just("Resources".to_string()),
        Just("Ref".to_string()),
        Just("Fn::GetAtt".to_string()),
        Just("DBInstanceIdentifier".to_string()),
        Just("DestinationAccounts".to_string()),
        Just("BackupSchedule".to_string()),
        Just("KmsKeyDestination".to_string()),
        Just("RetentionDays".to_string()),
        Just("fragment".to_string()),
        "[A-Za-z:]{1,12}",
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_events_never_panic(event in arbitrary_json()) {
        let (response, _) = handle_event(&event, "p");
        prop_assert!(response.status == "success" || response.error_message.is_some());
    }

    #[test]
    fn arbitrary_properties_never_panic(props in arbitrary_json(), role in prop_oneof![Just("Source"), Just("Destination")]) {
        let mut props = props;
        if let Some(map) = props.as_object_mut() { map.insert("Role".into(), json!(role)); }
        let fragment = json!({"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy", "Properties": props}}});
        let (response, _) = handle_event(&event(fragment), "p");
        prop_assert!(response.status == "success" || response.error_message.is_some());
    }
}
