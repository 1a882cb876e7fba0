//! The one typed policy: for every valid policy, expand → the task input embedded in each
//! state machine → the provider's typed task input holds exactly the model; and task inputs
//! the expansion could never write are refused, naming the field.

use proptest::prelude::*;
use rds_snapshot_policy_core::contract::{Action, CONTRACT_VERSION, parse_task_input};
use rds_snapshot_policy_core::{Resolver, parse_policy};
use rds_snapshot_policy_macro::expand::{ExpandContext, expand};
use serde_json::{Map, Value, json};

const KEY: &str = "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const SOURCE_KEY: &str =
    "arn:aws:kms:eu-west-1:222222222222:key/abcd1234-12ab-34cd-56ef-1234567890ab";

fn context_for(account: &str) -> ExpandContext {
    ExpandContext {
        region: Some("eu-west-1".into()),
        account_id: Some(account.into()),
        ..ExpandContext::default()
    }
}

fn context() -> ExpandContext {
    context_for("111111111111")
}

/// Evaluates a `DefinitionString` (`Fn::Join` of literals and intrinsics in string places).
fn definition_text(definition: &Value) -> String {
    match definition {
        Value::String(s) => s.clone(),
        other => other["Fn::Join"][1]
            .as_array()
            .expect("Fn::Join parts")
            .iter()
            .map(|p| {
                p.as_str()
                    .unwrap_or("resolved-by-cloudformation")
                    .to_string()
            })
            .collect(),
    }
}

/// Every task input of the expansion, as the provider receives it (Step Functions fills the
/// `.$` keys).
fn task_inputs(template: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::StepFunctions::StateMachine" {
            continue;
        }
        let text = definition_text(&resource["Properties"]["DefinitionString"]);
        let definition: Value = serde_json::from_str(&text).expect("definition is JSON");
        for state in definition["States"].as_object().unwrap().values() {
            let Some(params) = state["Parameters"].as_object() else {
                continue;
            };
            if !params.contains_key("action") {
                continue;
            }
            let mut input: Map<String, Value> = params
                .iter()
                .filter(|(k, _)| !k.ends_with(".$"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(drill) = input.get_mut("drill").and_then(Value::as_object_mut) {
                drill.retain(|k, _| !k.ends_with(".$"));
            }
            input.insert("now".into(), json!("2026-11-24T07:00:00Z"));
            input.insert(
                "execution".into(),
                json!("arn:aws:states:eu-west-1:1:execution:m:e"),
            );
            out.push((id.clone(), Value::Object(input)));
        }
    }
    out
}

fn schedule() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("rate(15 minutes)".to_string()),
        Just("rate(1 hour)".to_string()),
        Just("cron(0 * * * ? *)".to_string()),
        Just("cron(5,35 * * * ? *)".to_string()),
        Just("cron(0 3 * * ? *)".to_string()),
    ]
}

fn target(pattern_name: &'static str) -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        Just((pattern_name.to_string(), json!("^orders-"))),
        Just(("DBInstanceIdentifier".to_string(), json!("orders"))),
        Just(("DBClusterIdentifier".to_string(), json!("ledger"))),
    ]
}

fn source() -> impl Strategy<Value = Value> {
    (
        target("InstanceNamePattern"),
        1u64..500,
        1u64..48,
        schedule(),
        schedule(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::btree_set(0u32..30, 1..4),
        (1u64..10, 1u64..1000, any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(target, retention, interval, backup, share, sharing, tagged, accounts, rest)| {
                let (keep, rpo, delete, strict) = rest;
                let accounts: Vec<String> = accounts
                    .iter()
                    .map(|n| format!("2222222222{n:02}"))
                    .collect();
                let mut p = json!({
                    "Role": "Source", "PolicyId": "prop-policy", "RetentionDays": retention,
                    "BackupInterval": interval.to_string(), "BackupSchedule": backup,
                    "ShareSchedule": share, "ShareSnapshots": sharing,
                    "TaggedInstance": if tagged { "TRUE" } else { "FALSE" },
                    "DestinationAccounts": accounts, "KeepLatest": keep, "RpoMinutes": rpo,
                    "DeleteOldSnapshots": delete, "StrictChecks": strict, "LogLevel": "warning",
                    "NotificationTopicArn": "arn:aws:sns:eu-west-1:111111111111:alerts",
                });
                p[target.0] = target.1;
                p
            },
        )
}

fn destination() -> impl Strategy<Value = Value> {
    (
        target("SnapshotPattern"),
        (7u64..400, 1u64..7),
        schedule(),
        schedule(),
        prop_oneof![Just("eu-central-1"), Just("eu-west-1")],
        any::<bool>(),
        (1u64..10, any::<bool>()),
        prop::option::of((1u64..=366, 1u64..=520, 1u64..=240, 1u64..=100)),
    )
        .prop_map(
            |(target, (retention, copy), sched, delete, region, source_key, rest, tiers)| {
                let mut p = json!({
                    "Role": "Destination", "PolicyId": "prop-dr", "RetentionDays": retention,
                    "CopyRetentionDays": copy, "CopySchedule": sched, "DeleteSchedule": delete,
                    "DestinationRegion": region, "KeepLatest": rest.0,
                    "DeleteOldSnapshots": rest.1, "SourceRegionOverride": "eu-west-1",
                    "NotificationTopicArn": "arn:aws:sns:eu-central-1:222222222222:alerts",
                    "SourceAccounts": ["111111111111"],
                });
                // A copy to another region needs the DR region's key; one that stays needs the
                // source region's.
                if region == "eu-central-1" {
                    p["KmsKeyDestination"] = json!(KEY);
                }
                if source_key || region == "eu-west-1" {
                    p["KmsKeySource"] = json!(SOURCE_KEY);
                }
                if let Some((daily, weekly, monthly, yearly)) = tiers {
                    p["KeepDaily"] = json!(daily);
                    p["KeepWeekly"] = json!(weekly.to_string());
                    p["KeepMonthly"] = json!(monthly);
                    p["KeepYearly"] = json!(yearly);
                }
                p[target.0] = target.1;
                p
            },
        )
}

fn round_trip(properties: &Value, account: &str) {
    let resolver = Resolver {
        region: Some("eu-west-1".into()),
        account_id: Some(account.into()),
        ..Resolver::default()
    };
    let model = parse_policy("P", properties, &resolver)
        .expect("the generated policy is valid")
        .spec
        .resolve()
        .expect("literal");
    let template = json!({"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy", "Properties": properties}}});
    let expansion = expand(&template, &context_for(account)).expect("expands");
    let inputs = task_inputs(&expansion.template);
    let mut machines: Vec<&String> = inputs.iter().map(|(m, _)| m).collect();
    machines.dedup();
    assert_eq!(machines.len(), model.actions().len());
    for (machine, input) in inputs {
        let task = parse_task_input(&input).unwrap_or_else(|e| panic!("{machine}: {e}"));
        assert_eq!(task.version, CONTRACT_VERSION);
        assert_eq!(task.policy, model, "{machine}");
        assert!(machine.contains(task.action.title()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn source_policies_round_trip(properties in source()) {
        round_trip(&properties, "111111111111");
    }

    #[test]
    fn destination_policies_round_trip(properties in destination()) {
        round_trip(&properties, "222222222222");
    }
}

fn valid_input() -> Value {
    let template = json!({"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {
        "Role": "Source", "PolicyId": "p", "DBInstanceIdentifier": "orders",
        "DestinationAccount": "222222222222"}}}});
    let expansion = expand(&template, &context()).unwrap();
    task_inputs(&expansion.template)
        .into_iter()
        .find(|(id, _)| id == "PTakeStateMachine")
        .unwrap()
        .1
}

/// An edit of a valid task input.
type Edit = Box<dyn FnOnce(&mut Value)>;

fn refused(edit: impl FnOnce(&mut Value)) -> String {
    let mut input = valid_input();
    edit(&mut input);
    match parse_task_input(&input) {
        Ok(_) => String::from("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_provider_refuses_what_the_expansion_never_writes() {
    assert!(parse_task_input(&valid_input()).is_ok());
    let cases: Vec<(&str, Edit)> = vec![
        (
            "unknown field `Bogus`",
            Box::new(|v| v["policy"]["Bogus"] = json!(1)),
        ),
        (
            "at policy.KeepLatest",
            Box::new(|v| v["policy"]["KeepLatest"] = json!("many")),
        ),
        (
            "missing field `DeleteSchedule`",
            Box::new(|v| {
                v["policy"]
                    .as_object_mut()
                    .unwrap()
                    .remove("DeleteSchedule");
            }),
        ),
        (
            "at policy.BackupSchedule",
            Box::new(|v| v["policy"]["BackupSchedule"] = json!("cron(nope)")),
        ),
        (
            "policy.CopySchedule: does not apply to Role Source",
            Box::new(|v| {
                v["policy"]["CopySchedule"] = json!("rate(1 hour)");
            }),
        ),
        (
            "policy.DestinationAccounts: must hold 12-digit account IDs",
            Box::new(|v| {
                v["policy"]["DestinationAccounts"] = json!(["333"]);
            }),
        ),
        (
            "policy.PolicyId: is required",
            Box::new(|v| {
                v["policy"].as_object_mut().unwrap().remove("PolicyId");
            }),
        ),
        (
            "policy.DBClusterIdentifier: conflicts with DBInstanceIdentifier",
            Box::new(|v| {
                v["policy"]["DBClusterIdentifier"] = json!("ledger");
            }),
        ),
        (
            "policy.RetentionDays: must be 1 to 36500, got 0",
            Box::new(|v| v["policy"]["RetentionDays"] = json!(0)),
        ),
        ("at action", Box::new(|v| v["action"] = json!("explode"))),
        (
            "is not supported: this provider accepts 1 to",
            Box::new(|v| v["version"] = json!(CONTRACT_VERSION + 1)),
        ),
        (
            "at origin.account: unknown field `account`",
            Box::new(|v| {
                v["origin"] = json!({"stack": "arn", "stateMachine": "M", "account": "1"})
            }),
        ),
        (
            "policy.BackupIntervalMinutes: conflicts with BackupInterval",
            Box::new(|v| v["policy"]["BackupInterval"] = json!(1)),
        ),
        (
            "policy.BackupIntervalMinutes: must be 15 to 1440, got 5",
            Box::new(|v| v["policy"]["BackupIntervalMinutes"] = json!(5)),
        ),
        (
            "policy.RetentionHours: conflicts with RetentionDays",
            Box::new(|v| v["policy"]["RetentionHours"] = json!(12)),
        ),
        (
            "policy.ExpectedCopyMinutes: must be 1 to 1440, got 0",
            Box::new(|v| v["policy"]["ExpectedCopyMinutes"] = json!(0)),
        ),
        (
            "unknown field `extra`",
            Box::new(|v| v["extra"] = json!(true)),
        ),
        // The other role's fields come from the property table, every one of them.
        (
            "policy.DrillDBSubnetGroupName: does not apply to Role Source",
            Box::new(|v| v["policy"]["DrillDBSubnetGroupName"] = json!("private")),
        ),
        (
            "policy.DestinationAccount: is required when ShareSnapshots is true",
            Box::new(|v| v["policy"]["DestinationAccounts"] = json!([])),
        ),
        (
            "policy.SpreadSnapshots: conflicts with BackupSchedule",
            Box::new(|v| {
                v["policy"]["SpreadSnapshots"] = json!(true);
                v["policy"]["BackupSchedule"] = json!("cron(7 * * * ? *)");
            }),
        ),
    ];
    for (expected, edit) in cases {
        let message = refused(edit);
        assert!(
            message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
    }
}

#[test]
fn parameter_strings_are_accepted_where_cloudformation_resolves_a_ref() {
    let mut input = valid_input();
    input["policy"]["RetentionDays"] = json!("3");
    input["policy"]["ShareSnapshots"] = json!("true");
    let task = parse_task_input(&input).unwrap();
    assert_eq!(task.policy.retention_days, Some(3));
    assert_eq!(task.policy.share_snapshots, Some(true));
    assert_eq!(task.action, Action::Take);
}

#[test]
fn user_properties_may_not_set_the_expansions_own() {
    for property in ["ServiceToken", "GeneratedResources"] {
        let template = json!({"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {
            "Role": "Source", "DBInstanceIdentifier": "orders", "DestinationAccount": "222222222222",
            property: "x"}}}});
        let errors = expand(&template, &context()).expect_err("refused");
        let text = rds_snapshot_policy_core::join_errors(&errors);
        assert!(
            text.contains(&format!(
                "Resource [P] property [{property}]: is set by the RdsSnapshotPolicy macro"
            )),
            "{text}"
        );
    }
}

/// A DR policy's task input breaking a cross-field rule the expansion refuses as well.
#[test]
fn the_provider_applies_the_destination_rules_the_expansion_applies() {
    let template = json!({"Resources": {"P": {"Type": "Custom::RdsSnapshotPolicy", "Properties": {
        "Role": "Destination", "PolicyId": "d", "SnapshotPattern": "^orders-",
        "SourceAccounts": ["111111111111"], "SourceRegionOverride": "eu-west-1",
        "KmsKeyDestination": "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}}});
    let expansion = expand(&template, &context_for("222222222222")).unwrap();
    let (_, input) = task_inputs(&expansion.template)
        .into_iter()
        .find(|(id, _)| id == "PCopyStateMachine")
        .expect("a copy state machine");
    assert!(parse_task_input(&input).is_ok());
    let cases: Vec<(&str, Edit)> = vec![
        (
            "policy.TwoStepCopy: applies only to copies across accounts",
            Box::new(|v| {
                v["policy"]["TwoStepCopy"] = json!(true);
                v["policy"]["CrossAccountCopy"] = json!(false);
                v["policy"]["DestinationRegion"] = json!("eu-central-1");
            }),
        ),
        (
            "policy.CrossAccountCopy: is false and DestinationRegion is the source region",
            Box::new(|v| v["policy"]["CrossAccountCopy"] = json!(false)),
        ),
        (
            "policy.RetentionDays: must be >= CopyRetentionDays (3)",
            Box::new(|v| {
                v["policy"]
                    .as_object_mut()
                    .unwrap()
                    .remove("RetentionHours");
                v["policy"]["RetentionDays"] = json!(1);
                v["policy"]["CopyRetentionDays"] = json!(3);
            }),
        ),
        (
            "policy.RevokeUnknownShares: does not apply to Role Destination",
            Box::new(|v| v["policy"]["RevokeUnknownShares"] = json!(true)),
        ),
    ];
    for (expected, edit) in cases {
        let mut edited = input.clone();
        edit(&mut edited);
        let message = match parse_task_input(&edited) {
            Ok(_) => String::from("accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
    }
}
