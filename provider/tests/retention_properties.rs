//! Tiered retention (KeepDaily, KeepWeekly, KeepMonthly, KeepYearly with RetentionDays and
//! KeepLatest) as properties over random histories: a snapshot a tier keeps is never deleted,
//! the plan does not depend on the inventory's order, and deleting twice deletes nothing more.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use proptest::prelude::*;
use provider::inventory::{Inventory, Kind, Snapshot, tags};
use provider::plan::{Action, Operation, plan};
use provider::policy::RuntimePolicy;
use serde_json::{Value, json};

const OURS: &str = "tiers";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap()
}

#[derive(Debug, Clone, Copy)]
struct Tiers {
    retention: u64,
    keep: u64,
    daily: Option<u64>,
    weekly: Option<u64>,
    monthly: Option<u64>,
    yearly: Option<u64>,
}

fn tiers() -> impl Strategy<Value = Tiers> {
    (
        1..10u64,
        1..3u64,
        prop::option::of(1..15u64),
        prop::option::of(1..8u64),
        prop::option::of(1..6u64),
        prop::option::of(1..3u64),
    )
        .prop_map(|(retention, keep, daily, weekly, monthly, yearly)| Tiers {
            retention,
            keep,
            daily,
            weekly,
            monthly,
            yearly,
        })
}

fn policy(t: Tiers, destination: bool) -> RuntimePolicy {
    let mut p = if destination {
        json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": OURS,
            "SnapshotPattern": ".*", "DestinationRegion": "eu-central-1", "CopyRetentionDays": 1,
            "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"})
    } else {
        json!({"Role": "Source", "PolicyId": OURS, "InstanceNamePattern": ".*",
            "DestinationAccounts": ["222222222222"]})
    };
    let map = p.as_object_mut().unwrap();
    map.insert("RetentionDays".into(), json!(t.retention));
    map.insert("KeepLatest".into(), json!(t.keep));
    for (name, value) in [
        ("KeepDaily", t.daily),
        ("KeepWeekly", t.weekly),
        ("KeepMonthly", t.monthly),
        ("KeepYearly", t.yearly),
    ] {
        if let Some(v) = value {
            map.insert(name.into(), Value::from(v));
        }
    }
    RuntimePolicy::from_properties(&p, "eu-west-1", None).unwrap()
}

fn history(hours_ago: &[(usize, i64)], destination: bool) -> Vec<Snapshot> {
    let marker = if destination {
        tags::COPIED_BY
    } else {
        tags::CREATED_BY
    };
    hours_ago
        .iter()
        .enumerate()
        .map(|(i, (db, hours))| {
            let taken = now() - Duration::hours(*hours);
            let database = ["orders", "ledger"][*db];
            let tags: BTreeMap<String, String> = [
                (tags::POLICY.to_string(), OURS.to_string()),
                (marker.to_string(), tags::TOOL.to_string()),
                (tags::DATABASE.to_string(), database.to_string()),
            ]
            .into();
            Snapshot {
                id: format!("{database}-{i}"),
                arn: format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{database}-{i}"),
                kind: if *db == 1 {
                    Kind::Cluster
                } else {
                    Kind::Instance
                },
                database: database.to_string(),
                status: "available".into(),
                snapshot_type: "manual".into(),
                created: Some(taken),
                original_created: Some(taken),
                tags,
                kms_key_id: None,
                encrypted: true,
                engine: None,
                engine_version: None,
                option_group: None,
            }
        })
        .collect()
}

fn deleted(policy: &RuntimePolicy, snapshots: &[Snapshot]) -> BTreeSet<String> {
    let inventory = Inventory {
        snapshots: snapshots.to_vec(),
        ..Inventory::default()
    };
    plan(Action::Delete, policy, &inventory, now())
        .steps
        .iter()
        .map(|s| match &s.operation {
            Operation::Delete { snapshot_id, .. } => snapshot_id.clone(),
            other => panic!("delete planned {other:?}"),
        })
        .collect()
}

/// The buckets of a tier, written independently of the planner.
fn bucket(tier: &str, t: DateTime<Utc>) -> (i32, u32) {
    match tier {
        "daily" => (t.year(), t.ordinal()),
        "weekly" => (t.iso_week().year(), t.iso_week().week()),
        "monthly" => (t.year(), t.month()),
        _ => (t.year(), 0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn what_a_tier_keeps_is_never_deleted(
        t in tiers(),
        history_hours in prop::collection::vec((0..2usize, 0..(500 * 24i64)), 0..80),
        destination in any::<bool>(),
    ) {
        let policy = policy(t, destination);
        let snapshots = history(&history_hours, destination);
        let gone = deleted(&policy, &snapshots);
        for db in ["orders", "ledger"] {
            let mut mine: Vec<&Snapshot> = snapshots.iter().filter(|s| s.database == db).collect();
            mine.sort_by(|a, b| b.created.cmp(&a.created).then(b.arn.cmp(&a.arn)));
            for (tier, count) in [("daily", t.daily), ("weekly", t.weekly), ("monthly", t.monthly), ("yearly", t.yearly)] {
                let Some(count) = count else { continue };
                let mut newest_of: Vec<((i32, u32), &Snapshot)> = Vec::new();
                for s in &mine {
                    let b = bucket(tier, s.created.unwrap());
                    if !newest_of.iter().any(|(seen, _)| *seen == b) {
                        newest_of.push((b, s));
                    }
                }
                for (b, s) in newest_of.iter().take(count as usize) {
                    prop_assert!(!gone.contains(&s.id), "{} deleted: the newest of {:?} kept by {} {}", s.id, b, tier, count);
                }
            }
            for s in mine.iter().take(t.keep as usize) {
                prop_assert!(!gone.contains(&s.id), "{} deleted: one of the newest {}", s.id, t.keep);
            }
            for s in &mine {
                if gone.contains(&s.id) {
                    prop_assert!(now() - s.created.unwrap() >= Duration::days(t.retention as i64));
                }
            }
        }
    }

    /// RetiredDatabases: until RetiredKeepDays after its newest recovery point the retired
    /// database loses exactly what it would have lost unretired (its final point is kept);
    /// afterwards everything of it past the retention goes; the other database is untouched.
    #[test]
    fn a_retired_database_keeps_its_final_point_for_the_stated_days_then_nothing(
        t in tiers(),
        history_hours in prop::collection::vec((0..2usize, 0..(500 * 24i64)), 1..80),
        destination in any::<bool>(),
        keep_days in 1..400u64,
    ) {
        let live = policy(t, destination);
        let mut retired = live.clone();
        retired.spec.retired_databases = Some(vec!["orders".into()]);
        retired.spec.retired_keep_days = Some(keep_days);
        let snapshots = history(&history_hours, destination);
        let before = deleted(&live, &snapshots);
        let after = deleted(&retired, &snapshots);
        let orders: Vec<&Snapshot> = snapshots.iter().filter(|s| s.database == "orders").collect();
        let newest = orders.iter().filter_map(|s| s.created).max();
        for s in snapshots.iter().filter(|s| s.database == "ledger") {
            prop_assert_eq!(before.contains(&s.id), after.contains(&s.id), "{} changed by retiring another database", s.id);
        }
        if let Some(newest) = newest {
            let ended = now() >= newest + Duration::days(keep_days as i64);
            for s in &orders {
                let past_retention = now() - s.created.unwrap() >= Duration::days(t.retention as i64);
                if ended {
                    prop_assert_eq!(after.contains(&s.id), past_retention, "{}: the keep has ended", s.id);
                } else {
                    prop_assert_eq!(after.contains(&s.id), before.contains(&s.id), "{}: inside RetiredKeepDays", s.id);
                    prop_assert!(s.created != Some(newest) || !after.contains(&s.id), "the final point {} deleted", s.id);
                }
            }
        }
    }

    #[test]
    fn the_plan_ignores_the_inventory_order_and_a_second_run_deletes_nothing(
        t in tiers(),
        history_hours in prop::collection::vec((0..2usize, 0..(500 * 24i64)), 0..80),
        destination in any::<bool>(),
        rotation in 0..80usize,
    ) {
        let policy = policy(t, destination);
        let snapshots = history(&history_hours, destination);
        let gone = deleted(&policy, &snapshots);
        let mut shuffled = snapshots.clone();
        shuffled.reverse();
        let len = shuffled.len().max(1);
        shuffled.rotate_left(rotation % len);
        prop_assert_eq!(&deleted(&policy, &shuffled), &gone);
        let remaining: Vec<Snapshot> = snapshots.into_iter().filter(|s| !gone.contains(&s.id)).collect();
        prop_assert!(deleted(&policy, &remaining).is_empty(), "a second delete found more");
    }
}

#[test]
fn sixty_days_of_hourly_snapshots_keep_exactly_what_the_tiers_say() {
    let t = Tiers {
        retention: 2,
        keep: 1,
        daily: Some(7),
        weekly: Some(4),
        monthly: Some(2),
        yearly: None,
    };
    let hours: Vec<(usize, i64)> = (0..60 * 24).map(|h| (0, h)).collect();
    let policy = policy(t, false);
    let snapshots = history(&hours, false);
    let gone = deleted(&policy, &snapshots);
    let kept: Vec<&Snapshot> = snapshots.iter().filter(|s| !gone.contains(&s.id)).collect();
    let within = kept
        .iter()
        .filter(|s| now() - s.created.unwrap() < Duration::days(2))
        .count();
    assert_eq!(within, 48);
    let older: Vec<DateTime<Utc>> = kept
        .iter()
        .map(|s| s.created.unwrap())
        .filter(|c| now() - *c >= Duration::days(2))
        .collect();
    let days: BTreeSet<u32> = older.iter().map(|c| c.ordinal()).collect();
    assert_eq!(days.len(), older.len(), "one per day at most: {older:?}");
    assert!(
        older.iter().all(|c| c.hour() == 23),
        "the newest of each day: {older:?}"
    );
    let weeks: BTreeSet<u32> = kept
        .iter()
        .map(|s| s.created.unwrap().iso_week().week())
        .collect();
    assert!(weeks.len() >= 4, "{weeks:?}");
    let months: BTreeSet<u32> = kept.iter().map(|s| s.created.unwrap().month()).collect();
    assert_eq!(months.len(), 2, "{months:?}");
    // Now is Monday 2027-03-01 12:00. KeepDaily 7: today and 28, 27 February (inside
    // retention), then 26, 25, 24, 23 February at 23:00. KeepWeekly 4: ISO weeks 9 and 8 are
    // already kept, weeks 7 and 6 add 21 and 14 February. KeepMonthly 2: March and February,
    // already kept. Six snapshots older than the retention in all.
    let mut older_days: Vec<String> = older
        .iter()
        .map(|c| c.format("%m-%d").to_string())
        .collect();
    older_days.sort();
    assert_eq!(
        older_days,
        ["02-14", "02-21", "02-23", "02-24", "02-25", "02-26"]
    );
    let reasons: Vec<String> = plan(
        Action::Delete,
        &policy,
        &Inventory {
            snapshots: snapshots.clone(),
            ..Inventory::default()
        },
        now(),
    )
    .skipped
    .iter()
    .map(|n| n.reason.clone())
    .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("(KeepDaily: the last 7 with a snapshot)")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("(KeepMonthly: the last 2 with a snapshot)")),
        "{reasons:?}"
    );
}
