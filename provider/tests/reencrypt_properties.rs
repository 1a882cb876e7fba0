//! ReencryptKmsKey's safety rules, as properties: share and delete delete an AWS-managed-key
//! original only once this policy's copy of it, holding the same recovery point, is available
//! (and share otherwise only a failed copy of this policy); nothing on the AWS-managed key is
//! ever shared; and a second share starts no second copy of the same original.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use provider::inventory::{Inventory, KeyManager, Kind, Snapshot, tags};
use provider::plan::{Action, Operation, plan};
use provider::policy::RuntimePolicy;
use serde_json::json;

const OURS: &str = "prod-orders";
const AWS_KEY: &str = "arn:aws:kms:eu-west-1:111111111111:key/aws-rds";
const SHARE_KEY: &str = "alias/dr-share";
const STATUSES: [&str; 4] = ["available", "available", "copying", "failed"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

fn policy() -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": OURS, "InstanceNamePattern": ".*",
                "DestinationAccount": "222222222222", "RetentionDays": 30, "KeepLatest": 1,
                "ReencryptKmsKey": SHARE_KEY}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

/// One original and, maybe, something named like its copy.
#[derive(Debug, Clone)]
struct Pair {
    original_status: &'static str,
    minutes_ago: i64,
    copy: Option<Copy>,
}

#[derive(Debug, Clone)]
struct Copy {
    status: &'static str,
    /// The copy records the original's recovery point (else another one: a forgery).
    same_point: bool,
    ours: bool,
    names_original: bool,
}

fn pair() -> impl Strategy<Value = Pair> {
    let copy = (
        prop::sample::select(STATUSES.to_vec()),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(status, same_point, ours, names_original)| Copy {
            status,
            same_point,
            ours,
            names_original,
        });
    (
        prop::sample::select(STATUSES.to_vec()),
        0..(20 * 1440i64),
        prop::option::weighted(0.7, copy),
    )
        .prop_map(|(original_status, minutes_ago, copy)| Pair {
            original_status,
            minutes_ago,
            copy,
        })
}

fn snapshot(id: String, status: &str, point: DateTime<Utc>, key: &str) -> Snapshot {
    let mut t = BTreeMap::new();
    t.insert(tags::POLICY.to_string(), OURS.to_string());
    t.insert(tags::CREATED_BY.to_string(), tags::TOOL.to_string());
    Snapshot {
        arn: format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{id}"),
        id,
        kind: Kind::Instance,
        database: "orders".into(),
        status: status.into(),
        snapshot_type: "manual".into(),
        created: Some(point),
        original_created: None,
        tags: t,
        kms_key_id: Some(key.into()),
        encrypted: true,
        engine: None,
        engine_version: None,
        option_group: None,
    }
}

fn inventory(pairs: &[Pair]) -> Inventory {
    let mut snapshots = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let point = now() - Duration::minutes(p.minutes_ago);
        let original = format!("orders-{i}");
        snapshots.push(snapshot(
            original.clone(),
            p.original_status,
            point,
            AWS_KEY,
        ));
        if let Some(c) = &p.copy {
            let recorded = if c.same_point {
                point
            } else {
                point - Duration::hours(1)
            };
            let mut copy = snapshot(
                format!("{original}{}", tags::REENCRYPTED_SUFFIX),
                c.status,
                point + Duration::minutes(5),
                SHARE_KEY,
            );
            copy.tags.insert(
                tags::RECOVERY_POINT.into(),
                recorded.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
            if c.names_original {
                copy.tags.insert(tags::REENCRYPTED_FROM.into(), original);
            }
            if !c.ours {
                copy.tags.insert(tags::POLICY.into(), "someone-else".into());
            }
            snapshots.push(copy);
        }
    }
    let key_managers = [
        (AWS_KEY.to_string(), KeyManager::Aws),
        (SHARE_KEY.to_string(), KeyManager::Customer),
    ]
    .into_iter()
    .collect();
    Inventory {
        snapshots,
        key_managers,
        ..Inventory::default()
    }
}

/// The original `orders-<i>` may go: its copy is this policy's, names it, holds its
/// recovery point and is available.
fn replaceable(pairs: &[Pair], id: &str) -> bool {
    let Some(i) = id
        .strip_prefix("orders-")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return false;
    };
    pairs[i]
        .copy
        .as_ref()
        .is_some_and(|c| c.status == "available" && c.same_point && c.ours && c.names_original)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn share_deletes_an_original_only_for_its_available_copy(pairs in prop::collection::vec(pair(), 0..12)) {
        let inventory = inventory(&pairs);
        let result = plan(Action::Share, &policy(), &inventory, now());
        for step in &result.steps {
            match &step.operation {
                Operation::Delete { snapshot_id, .. } if snapshot_id.ends_with(tags::REENCRYPTED_SUFFIX) => {
                    let copy = inventory.snapshots.iter().find(|s| &s.id == snapshot_id).unwrap();
                    prop_assert_eq!(copy.status.as_str(), "failed", "deleted a copy that is not failed");
                    prop_assert_eq!(copy.tag(tags::POLICY), Some(OURS));
                }
                Operation::Delete { snapshot_id, .. } => {
                    prop_assert!(replaceable(&pairs, snapshot_id), "deleted {} without its available copy", snapshot_id);
                }
                Operation::Share { snapshot_id, .. } => {
                    let s = inventory.snapshots.iter().find(|s| &s.id == snapshot_id).unwrap();
                    prop_assert_eq!(s.kms_key_id.as_deref(), Some(SHARE_KEY), "shared a snapshot on the AWS-managed key");
                }
                Operation::Copy { source_arn, target_id, kms_key_id, tags: t, .. } => {
                    prop_assert_eq!(kms_key_id.as_str(), SHARE_KEY);
                    prop_assert!(!inventory.snapshots.iter().any(|s| &s.id == target_id), "copy over an existing {}", target_id);
                    let original = inventory.snapshots.iter().find(|s| &s.arn == source_arn).unwrap();
                    prop_assert_eq!(original.status.as_str(), "available");
                    let from = t.iter().find(|(k, _)| k == tags::REENCRYPTED_FROM).map(|(_, v)| v.as_str());
                    prop_assert_eq!(from, Some(original.id.as_str()));
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }

    #[test]
    fn delete_removes_an_original_only_for_its_available_copy(pairs in prop::collection::vec(pair(), 0..12)) {
        // Everything is inside the 30-day retention: only the re-encryption rule deletes.
        let inventory = inventory(&pairs);
        for step in plan(Action::Delete, &policy(), &inventory, now()).steps {
            let Operation::Delete { snapshot_id, .. } = &step.operation else { panic!() };
            prop_assert!(replaceable(&pairs, snapshot_id), "deleted {}", snapshot_id);
        }
    }

    #[test]
    fn a_second_share_starts_no_second_copy(pairs in prop::collection::vec(pair(), 0..12)) {
        let mut inventory = inventory(&pairs);
        let first = plan(Action::Share, &policy(), &inventory, now());
        for step in &first.steps {
            if let Operation::Copy { target_id, tags: t, .. } = &step.operation {
                let mut copy = snapshot(target_id.clone(), "copying", now(), SHARE_KEY);
                copy.tags = t.iter().cloned().collect();
                inventory.snapshots.push(copy);
            }
        }
        let second = plan(Action::Share, &policy(), &inventory, now());
        let copies: Vec<_> = second.steps.iter().filter(|s| matches!(s.operation, Operation::Copy { .. })).collect();
        prop_assert!(copies.is_empty(), "second share copied again: {:?}", copies);
    }
}
