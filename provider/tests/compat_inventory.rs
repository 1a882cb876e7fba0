//! Snapshots written by release 0.1 (their names and tags, `fixtures/inventory-v0.1.yaml`) are
//! still this policy's for take, share, copy and delete after the upgrade.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use provider::inventory::{Database, Inventory, Kind, Snapshot, tags};
use provider::plan::{Action, Operation, plan};
use provider::policy::RuntimePolicy;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Fixture {
    source: Vec<Written>,
    dr: Vec<Written>,
}

#[derive(Deserialize)]
struct Written {
    id: String,
    database: String,
    created: DateTime<Utc>,
    tags: BTreeMap<String, String>,
}

fn snapshots(list: &[Written], region: &str, account: &str) -> Vec<Snapshot> {
    list.iter()
        .map(|w| Snapshot {
            id: w.id.clone(),
            arn: format!("arn:aws:rds:{region}:{account}:snapshot:{}", w.id),
            kind: Kind::Instance,
            database: w.database.clone(),
            status: "available".into(),
            snapshot_type: "manual".into(),
            created: Some(w.created),
            original_created: None,
            tags: w.tags.clone(),
            kms_key_id: None,
            encrypted: false,
            engine: None,
            engine_version: None,
            option_group: None,
        })
        .collect()
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/inventory-v0.1.yaml"
    );
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 7, 30, 0).unwrap()
}

fn source_policy() -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "stack-OrdersDbSnapshots",
                "DBInstanceIdentifier": "orders", "DestinationAccount": "222222222222", "BackupInterval": 1}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

#[test]
fn source_snapshots_of_the_previous_release_are_recognised() {
    let f = fixture();
    let inventory = Inventory {
        databases: vec![Database {
            id: "orders".into(),
            kind: Kind::Instance,
            status: "available".into(),
            tags: BTreeMap::new(),
            cluster: None,
            encrypted: false,
            kms_key_id: None,
            engine: None,
            option_groups: Vec::new(),
        }],
        snapshots: snapshots(&f.source, "eu-west-1", "111111111111"),
        ..Inventory::default()
    };
    let policy = source_policy();
    // take: the 07:00 snapshot is this policy's newest, 30 minutes old.
    let take = plan(Action::Take, &policy, &inventory, now());
    assert!(take.steps.is_empty(), "{:?}", take.steps);
    assert!(
        take.skipped[0]
            .reason
            .contains("newest snapshot orders-2026-11-24-07-00")
    );
    // share: the shared-with digest of 222222222222 is recognised: nothing is shared again,
    // the accounts are recorded as IDs (so removing one later revokes it).
    let share = plan(Action::Share, &policy, &inventory, now());
    assert_eq!(share.steps.len(), 2, "{:?}", share.steps);
    for step in &share.steps {
        let Operation::Share {
            accounts,
            revoke,
            record,
            ..
        } = &step.operation
        else {
            panic!("{step:?}")
        };
        assert!(accounts.is_empty() && revoke.is_empty(), "{step:?}");
        assert_eq!(
            record,
            &[(tags::SHARED_WITH.to_string(), "222222222222".to_string())]
        );
    }
    // delete: the 2-day-old one goes, the newest stays.
    let delete = plan(Action::Delete, &policy, &inventory, now());
    let deleted: Vec<&str> = delete.steps.iter().map(|s| s.subject.as_str()).collect();
    assert_eq!(deleted, ["orders-2026-11-22-07-00"]);
}

#[test]
fn dr_copies_of_the_previous_release_are_recognised() {
    let f = fixture();
    let policy = RuntimePolicy::from_properties(
        &json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "stack-OrdersCopies", "SnapshotPattern": "^orders-",
                "SourceRegionOverride": "eu-west-1", "DestinationRegion": "eu-central-1", "RetentionDays": 7,
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        "eu-central-1",
        None,
    )
    .unwrap();
    let mut shared = snapshots(&f.source[1..], "eu-west-1", "111111111111");
    shared[0].snapshot_type = "shared".into();
    let inventory = Inventory {
        snapshots: snapshots(&f.dr, "eu-central-1", "222222222222"),
        sources: shared,
        ..Inventory::default()
    };
    // copy: the source ARN tag marks the 07:00 snapshot as copied; the only step records the
    // delivery of that (recent) copy, which the previous release did not tag.
    let copy = plan(Action::Copy, &policy, &inventory, now());
    assert!(
        copy.steps
            .iter()
            .all(|s| matches!(s.operation, Operation::MarkDelivered { .. })),
        "{:?}",
        copy.steps
    );
    assert!(
        copy.skipped[0]
            .reason
            .contains("already copied as orders-2026-11-24-07-00")
    );
    // delete: retention by the recorded recovery point (8 days > 7); the newest stays.
    let delete = plan(Action::Delete, &policy, &inventory, now());
    let deleted: Vec<String> = delete
        .steps
        .iter()
        .map(|s| match &s.operation {
            Operation::Delete { snapshot_id, .. } => snapshot_id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(deleted, ["orders-2026-11-16-07-00"]);
}
