//! Tags are anyone's to write (any principal with tagging rights on a snapshot), so they may
//! not decide what is deleted or whether a backup is taken. Properties over random histories
//! of instance snapshots with hostile tags: a recovery-point tag earlier or later than AWS's
//! creation time, in the future, a re-encryption link to the snapshot itself or to any other
//! (issue 29).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use provider::inventory::{Database, Inventory, Kind, Snapshot, tags};
use provider::plan::{Action, Operation, plan};
use provider::policy::RuntimePolicy;
use serde_json::json;

const OURS: &str = "hostile";
const DATABASES: [&str; 2] = ["orders", "billing"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap()
}

fn policy(destination: bool, retention: u64) -> RuntimePolicy {
    let p = if destination {
        json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": OURS,
            "SnapshotPattern": ".*", "DestinationRegion": "eu-central-1", "CopyRetentionDays": 1,
            "RetentionDays": retention,
            "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"})
    } else {
        json!({"Role": "Source", "PolicyId": OURS, "InstanceNamePattern": ".*",
            "RetentionDays": retention, "DestinationAccounts": ["222222222222"]})
    };
    RuntimePolicy::from_properties(&p, "eu-west-1", None).unwrap()
}

/// A hostile tag: none, a recovery point relative to the snapshot's creation (minutes; may be
/// far in the future), or a re-encryption link to snapshot `n` (itself included).
#[derive(Debug, Clone)]
enum Hostile {
    None,
    RecoveryPoint(i64),
    ReencryptedFrom(usize),
    Both(i64, usize),
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        2 => Just(Hostile::None),
        1 => (-5000..500_000i64).prop_map(Hostile::RecoveryPoint),
        1 => (0..30usize).prop_map(Hostile::ReencryptedFrom),
        1 => ((-5000..500_000i64), (0..30usize)).prop_map(|(m, n)| Hostile::Both(m, n)),
    ]
}

/// (database, minutes before now it was created, hostile tag)
fn history() -> impl Strategy<Value = Vec<(usize, i64, Hostile)>> {
    prop::collection::vec((0..2usize, 0..(30 * 1440i64), hostile()), 1..30)
}

fn build(history: &[(usize, i64, Hostile)], destination: bool) -> Vec<Snapshot> {
    let marker = if destination {
        tags::COPIED_BY
    } else {
        tags::CREATED_BY
    };
    history
        .iter()
        .enumerate()
        .map(|(i, (db, minutes, tag))| {
            let created = now() - Duration::minutes(*minutes);
            let mut t = BTreeMap::from([
                (tags::POLICY.to_string(), OURS.to_string()),
                (marker.to_string(), tags::TOOL.to_string()),
                (tags::DATABASE.to_string(), DATABASES[*db].to_string()),
            ]);
            let (point, link) = match tag {
                Hostile::None => (None, None),
                Hostile::RecoveryPoint(m) => (Some(*m), None),
                Hostile::ReencryptedFrom(n) => (None, Some(*n)),
                Hostile::Both(m, n) => (Some(*m), Some(*n)),
            };
            if let Some(m) = point {
                let at = created + Duration::minutes(m);
                t.insert(
                    tags::RECOVERY_POINT.to_string(),
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
            }
            if let Some(n) = link {
                t.insert(
                    tags::REENCRYPTED_FROM.to_string(),
                    format!("snap-{}", n % history.len()),
                );
            }
            Snapshot {
                id: format!("snap-{i}"),
                arn: format!("arn:aws:rds:eu-west-1:111111111111:snapshot:snap-{i}"),
                kind: Kind::Instance,
                database: DATABASES[*db].to_string(),
                status: "available".to_string(),
                snapshot_type: "manual".to_string(),
                created: Some(created),
                // RDS's OriginalSnapshotCreateTime: the snapshot's own creation (not a copy).
                original_created: Some(created),
                tags: t,
                kms_key_id: None,
                encrypted: true,
                engine: None,
                engine_version: None,
                option_group: None,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Whatever the tags say, delete removes a snapshot inside retention (by AWS's creation
    /// time) only when another, distinct snapshot that stays is its re-encrypted copy; and the
    /// newest snapshot of each database survives the same way.
    #[test]
    fn tags_cannot_delete_what_retention_keeps(history in history(), retention in 1..20u64,
                                               destination in any::<bool>()) {
        let policy = policy(destination, retention);
        let snapshots = build(&history, destination);
        let inventory = Inventory { snapshots: snapshots.clone(), ..Inventory::default() };
        let result = plan(Action::Delete, &policy, &inventory, now());
        let deleted: Vec<&str> = result.steps.iter().filter_map(|s| match &s.operation {
            Operation::Delete { snapshot_id, .. } => Some(snapshot_id.as_str()),
            _ => None,
        }).collect();
        let kept_copy_of = |id: &str| snapshots.iter().any(|c| c.id != id
            && c.tag(tags::REENCRYPTED_FROM) == Some(id) && !deleted.contains(&c.id.as_str()));
        for id in &deleted {
            let s = snapshots.iter().find(|s| s.id == *id).unwrap();
            let young = now() - s.created.unwrap() < Duration::days(retention as i64);
            prop_assert!(!young || kept_copy_of(id),
                "deleted {} ({:?}) inside retention with no distinct copy kept", id, s.tags);
        }
        // Of the newest snapshots of each database (several when created in the same second)
        // one survives, or a distinct copy of it does.
        for db in DATABASES {
            let of_db = || snapshots.iter().filter(|s| s.database == db);
            let Some(newest) = of_db().filter_map(|s| s.created).max() else { continue };
            let tied: Vec<&Snapshot> = of_db().filter(|s| s.created == Some(newest)).collect();
            prop_assert!(tied.iter().any(|s| !deleted.contains(&s.id.as_str()) || kept_copy_of(&s.id)),
                "deleted every newest snapshot of {}: {:?}", db, tied.iter().map(|s| &s.id).collect::<Vec<_>>());
        }
    }

    /// A recovery-point tag (later than the snapshot's creation, in the future) never makes take
    /// skip a database whose newest snapshot AWS created more than BackupInterval ago.
    #[test]
    fn tags_cannot_stop_backups(history in history()) {
        let policy = policy(false, 7);
        let snapshots = build(&history, false);
        let databases = DATABASES.iter().map(|id| Database {
            id: id.to_string(),
            kind: Kind::Instance,
            status: "available".to_string(),
            tags: BTreeMap::new(),
            cluster: None,
            encrypted: true,
            kms_key_id: Some("arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab".into()),
            engine: Some("postgres".into()),
            option_groups: Vec::new(),
        }).collect();
        let inventory = Inventory { snapshots: snapshots.clone(), databases, ..Inventory::default() };
        let result = plan(Action::Take, &policy, &inventory, now());
        for db in DATABASES {
            let newest = snapshots.iter().filter(|s| s.database == db).filter_map(|s| s.created).max();
            let due = newest.is_none_or(|c| now() - c >= policy.backup_interval());
            let created = result.steps.iter().any(|s| matches!(&s.operation, Operation::Create { .. }) && s.subject == db);
            prop_assert!(!due || created, "no snapshot of {} although AWS's newest is {:?}: {:?}", db, newest, result.skipped);
        }
    }
}
