//! The defaults the property table documents are the ones reading fills in: a policy that
//! writes nothing optional, read for each role, holds the table's single-valued defaults
//! (numbers, booleans, words, schedules). A default changed in code but not in the table (or
//! the reverse) fails here, and with it the generated reference and schema.

use rds_snapshot_policy_core::parse_policy;
use rds_snapshot_policy_core::policy::{Applies, PROPERTIES};
use rds_snapshot_policy_core::spec::Role;
use rds_snapshot_policy_core::value::Resolver;
use serde_json::{Value, json};

/// The one value a default text names: `60`, `` `true` ``, `` `cron(0 4 ? * SUN *)` (weekly) ``;
/// `None` for a default that depends on something else ("the stack's region", "Source 1; ...").
fn single_default(text: &str) -> Option<String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(text.to_string());
    }
    let rest = text.strip_prefix('`')?;
    let (value, after) = rest.split_once('`')?;
    (after.is_empty() || after.starts_with(" (")).then(|| value.to_string())
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn reading_fills_in_the_defaults_the_table_documents() {
    let resolver = Resolver {
        region: Some("eu-west-1".into()),
        account_id: Some("111111111111".into()),
        ..Resolver::default()
    };
    let policies = [
        (
            Role::Source,
            json!({"Role": "Source", "DBInstanceIdentifier": "orders",
                   "DestinationAccount": "222222222222"}),
        ),
        (
            Role::Destination,
            json!({"Role": "Destination", "SnapshotPattern": "^orders-",
                   "SourceAccounts": ["111111111111"],
                   "KmsKeyDestination": "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        ),
    ];
    let mut compared = Vec::new();
    for (role, properties) in policies {
        let policy = parse_policy("P", &properties, &resolver).expect("a minimal policy reads");
        let spec = serde_json::to_value(&policy.spec).expect("the spec serializes");
        for property in PROPERTIES {
            if matches!(property.applies, Applies::Only(owner) if owner != role) {
                continue;
            }
            let (Some(default), Some(read)) =
                (single_default(property.default), spec.get(property.name))
            else {
                continue;
            };
            assert_eq!(
                as_text(read),
                default,
                "{} ({role:?}): the table says the default is {default:?}, reading fills in {read}",
                property.name
            );
            compared.push(property.name);
        }
    }
    // The comparison covers the single-valued defaults; a table or spec renamed out from under
    // it would compare nothing and pass.
    for name in [
        "RpoMinutes",
        "KeepLatest",
        "ExpectedCopyMinutes",
        "ShareSchedule",
        "CopySchedule",
        "CopyRetentionDays",
        "RtoMinutes",
        "RestoreDrillSchedule",
        "EventDriven",
        "LogLevel",
    ] {
        assert!(
            compared.contains(&name),
            "{name} was not compared: {compared:?}"
        );
    }
}
