//! The planner's safety rules, as properties over random inventories and clocks.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use provider::inventory::{Database, Inventory, Kind, Snapshot, tags};
use provider::plan::{Action, Operation, plan};
use provider::policy::RuntimePolicy;
use serde_json::json;

const OURS: &str = "prod-orders";
const DATABASES: [&str; 3] = ["orders", "billing", "ledger"];

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn source_policy(retention: u64, keep: u64) -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": OURS, "InstanceNamePattern": ".*",
                "DestinationAccounts": ["222222222222", "333333333333"],
                "RetentionDays": retention, "KeepLatest": keep}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

fn destination_policy(retention: u64, keep: u64) -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": OURS, "SnapshotPattern": ".*",
                "DestinationRegion": "eu-central-1", "RetentionDays": retention, "KeepLatest": keep,
                "CopyRetentionDays": 1,
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

#[derive(Debug, Clone)]
struct Spec {
    db: usize,
    cluster: bool,
    status: &'static str,
    manual: bool,
    minutes_ago: i64,
    policy: Option<&'static str>,
    marker: Option<(&'static str, &'static str)>,
    copy_of: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..3usize,
        any::<bool>(),
        prop_oneof![
            Just("available"),
            Just("available"),
            Just("creating"),
            Just("copying"),
            Just("failed")
        ],
        prop::bool::weighted(0.85),
        0..(40 * 1440i64),
        prop_oneof![
            Just(Some(OURS)),
            Just(Some(OURS)),
            Just(Some("someone-else")),
            Just(None)
        ],
        prop_oneof![
            Just(Some((tags::CREATED_BY, tags::TOOL))),
            Just(Some((tags::COPIED_BY, tags::TOOL))),
            Just(Some((tags::CREATED_BY, "a human"))),
            Just(None)
        ],
        prop::option::weighted(0.2, 0..40usize),
    )
        .prop_map(
            |(db, cluster, status, manual, minutes_ago, policy, marker, copy_of)| Spec {
                db,
                cluster,
                status,
                manual,
                minutes_ago,
                policy,
                marker,
                copy_of,
            },
        )
}

fn arn(i: usize) -> String {
    format!("arn:aws:rds:eu-west-1:111111111111:snapshot:snap-{i}")
}

fn build(specs: &[Spec], now: DateTime<Utc>) -> Vec<Snapshot> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut t = BTreeMap::new();
            if let Some(p) = s.policy {
                t.insert(tags::POLICY.to_string(), p.to_string());
            }
            if let Some((k, v)) = s.marker {
                t.insert(k.to_string(), v.to_string());
            }
            if let Some(c) = s.copy_of {
                t.insert(tags::SOURCE_ARN.to_string(), arn(c % specs.len().max(1)));
            }
            Snapshot {
                id: format!("snap-{i}"),
                arn: arn(i),
                kind: if s.cluster {
                    Kind::Cluster
                } else {
                    Kind::Instance
                },
                database: DATABASES[s.db].to_string(),
                status: s.status.to_string(),
                snapshot_type: if s.manual { "manual" } else { "automated" }.to_string(),
                created: Some(now - Duration::minutes(s.minutes_ago)),
                original_created: None,
                tags: t,
                kms_key_id: None,
                encrypted: false,
                engine: None,
                engine_version: None,
                option_group: None,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// delete never touches what is not this policy's, automated snapshots, snapshots inside
    /// retention, the newest KeepLatest available per database, or the source of a copy in
    /// progress, however long the pipeline has stalled.
    #[test]
    fn delete_is_safe(specs in prop::collection::vec(spec(), 0..40), retention in 1..30u64,
                      keep in 1..4u64, stalled_days in 0..400i64, destination in any::<bool>()) {
        let now = base_time() + Duration::days(stalled_days);
        let policy = if destination { destination_policy(retention, keep) } else { source_policy(retention, keep) };
        let snapshots = build(&specs, base_time());
        let inventory = Inventory { snapshots: snapshots.clone(), ..Inventory::default() };
        let result = plan(Action::Delete, &policy, &inventory, now);
        let deleted: Vec<&str> = result.steps.iter().map(|s| match &s.operation {
            Operation::Delete { snapshot_id, .. } => snapshot_id.as_str(),
            other => panic!("delete planned {other:?}"),
        }).collect();
        let marker = if destination { tags::COPIED_BY } else { tags::CREATED_BY };
        for id in &deleted {
            let s = snapshots.iter().find(|s| s.id == *id).unwrap();
            prop_assert_eq!(s.tag(tags::POLICY), Some(OURS));
            prop_assert_eq!(s.tag(marker), Some(tags::TOOL));
            prop_assert_eq!(s.snapshot_type.as_str(), "manual");
            prop_assert_eq!(s.status.as_str(), "available");
            prop_assert!(now - s.created.unwrap() >= Duration::days(retention as i64));
            let copying = snapshots.iter().any(|c| c.tag(tags::SOURCE_ARN) == Some(s.arn.as_str()) && c.status != "available" && c.status != "failed");
            prop_assert!(!copying, "deleted {} while a copy of it is in progress", id);
        }
        // The newest `keep` available snapshots of each database survive.
        let mut by_db: BTreeMap<(String, Kind), Vec<&Snapshot>> = BTreeMap::new();
        for s in snapshots.iter().filter(|s| s.tag(tags::POLICY) == Some(OURS) && s.tag(marker) == Some(tags::TOOL)
                                          && s.snapshot_type == "manual" && s.status == "available") {
            by_db.entry((s.database.clone(), s.kind)).or_default().push(s);
        }
        for list in by_db.values_mut() {
            list.sort_by_key(|s| std::cmp::Reverse(s.created));
            for s in list.iter().take(keep as usize) {
                prop_assert!(!deleted.contains(&s.id.as_str()), "deleted {}, one of the newest {}", s.id, keep);
            }
        }
    }

    /// share only ever names the policy's own accounts, and only this policy's snapshots; it
    /// revokes only accounts the tool recorded and the policy no longer names, never `all`
    /// (shares made outside the tool are removed only with RevokeUnknownShares: share.yaml).
    #[test]
    fn share_names_only_the_policys_accounts(
        specs in prop::collection::vec(spec(), 0..40),
        records in prop::collection::vec(prop::sample::select(vec![
            None, Some("222222222222"), Some("222222222222 444444444444"), Some("444444444444 all"),
            Some("3a2390359c9a06c7"), Some("-"), Some("555555555555"),
        ]), 40),
    ) {
        let policy = source_policy(1, 1);
        let mut snapshots = build(&specs, base_time());
        for (s, record) in snapshots.iter_mut().zip(&records) {
            if let Some(r) = record {
                s.tags.insert(tags::SHARED_WITH.to_string(), r.to_string());
            }
        }
        let inventory = Inventory { snapshots: snapshots.clone(), ..Inventory::default() };
        let mut wanted = policy.accounts().to_vec();
        wanted.sort();
        wanted.dedup();
        for step in plan(Action::Share, &policy, &inventory, base_time()).steps {
            let Operation::Share { accounts, snapshot_id, revoke, record, .. } = step.operation else { panic!("not a share") };
            prop_assert!(accounts.iter().all(|a| wanted.contains(a)), "shared with {:?}", accounts);
            let s = snapshots.iter().find(|s| s.id == snapshot_id).unwrap();
            prop_assert_eq!(s.tag(tags::POLICY), Some(OURS));
            prop_assert_eq!(s.status.as_str(), "available");
            let recorded: Vec<&str> = s.tag(tags::SHARED_WITH).unwrap_or_default().split(' ').collect();
            // Release 0.1's digest of exactly these accounts also says they are shared.
            let digest = provider::plan::accounts_digest(&wanted);
            for w in &wanted {
                prop_assert!(accounts.contains(w) || recorded.contains(&w.as_str()) || recorded == [digest.as_str()],
                    "{} neither shared nor recorded", w);
            }
            for r in &revoke {
                prop_assert!(r.len() == 12 && r.bytes().all(|b| b.is_ascii_digit()), "revoked {}", r);
                prop_assert!(recorded.contains(&r.as_str()), "revoked {} the tool never recorded", r);
                prop_assert!(!wanted.contains(r), "revoked a policy account {}", r);
            }
            let recorded_after: Vec<String> = record.iter().flat_map(|(_, v)| v.split(' ').map(str::to_string)).filter(|v| v != "-").collect();
            prop_assert_eq!(recorded_after, wanted.clone());
        }
    }

    /// Repeating take (a retry, an overlapping execution) creates no second snapshot.
    #[test]
    fn take_is_idempotent(specs in prop::collection::vec(spec(), 0..20), offset in 0..120i64, later in 0..5i64) {
        let policy = source_policy(1, 1);
        let now = base_time() + Duration::minutes(offset);
        let databases: Vec<Database> = DATABASES.iter().map(|d| Database {
            id: d.to_string(), kind: Kind::Instance, status: "available".into(), tags: BTreeMap::new(), cluster: None,
            encrypted: true, kms_key_id: None,
            engine: None, option_groups: Vec::new(),
        }).collect();
        let mut inventory = Inventory { databases, snapshots: build(&specs, base_time()), ..Inventory::default() };
        let first = plan(Action::Take, &policy, &inventory, now);
        for step in &first.steps {
            let Operation::Create { snapshot_id, database, tags: t, .. } = &step.operation else { panic!() };
            inventory.snapshots.push(Snapshot {
                id: snapshot_id.clone(), arn: format!("arn:{snapshot_id}"), kind: Kind::Instance,
                database: database.clone(), status: "creating".into(), snapshot_type: "manual".into(),
                created: None, original_created: None, tags: t.iter().cloned().collect(), kms_key_id: None, encrypted: false, engine: None, engine_version: None, option_group: None,
            });
        }
        let second = plan(Action::Take, &policy, &inventory, now + Duration::minutes(later));
        prop_assert!(second.steps.is_empty(), "second run planned {:?}", second.steps);
    }

    /// Repeating copy creates no duplicate, and cross-region copies in flight stay under AWS's limits.
    #[test]
    fn copy_is_idempotent_and_bounded(specs in prop::collection::vec(spec(), 0..60), offset in 0..2000i64) {
        let policy = destination_policy(7, 1);
        let now = base_time() + Duration::minutes(offset);
        let sources = build(&specs, base_time());
        let mut inventory = Inventory { sources, ..Inventory::default() };
        let first = plan(Action::Copy, &policy, &inventory, now);
        let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
        for step in &first.steps {
            let Operation::Copy { source_arn, target_id, kind, tags: t, .. } = &step.operation else { panic!() };
            *per_kind.entry(format!("{kind:?}")).or_default() += 1;
            let source = inventory.sources.iter().find(|s| &s.arn == source_arn).unwrap();
            prop_assert_eq!(source.status.as_str(), "available");
            inventory.snapshots.push(Snapshot {
                id: target_id.clone(), arn: format!("arn:copy:{target_id}"), kind: source.kind,
                database: source.database.clone(), status: "copying".into(), snapshot_type: "manual".into(),
                created: Some(now), original_created: None, tags: t.iter().cloned().collect(), kms_key_id: None, encrypted: true, engine: None, engine_version: None, option_group: None,
            });
        }
        prop_assert!(per_kind.get("Instance").copied().unwrap_or(0) <= 20);
        prop_assert!(per_kind.get("Cluster").copied().unwrap_or(0) <= 5);
        let second = plan(Action::Copy, &policy, &inventory, now);
        prop_assert!(second.steps.is_empty(), "second run planned {:?}", second.steps);
    }

    /// TwoStepCopy deletes nothing but this policy's own first-step copies, and its first
    /// copies are only of snapshots shared with it.
    #[test]
    fn two_step_copies_delete_only_their_first_step_copies(
        shared in prop::collection::vec(spec(), 0..30),
        own in prop::collection::vec(spec(), 0..30),
        dr in prop::collection::vec(spec(), 0..30),
        offset in 0..2000i64,
    ) {
        let mut properties = json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": OURS,
            "SnapshotPattern": ".*", "DestinationRegion": "eu-central-1", "RetentionDays": 7, "CopyRetentionDays": 1,
            "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "KmsKeySource": "arn:aws:kms:eu-west-1:222222222222:key/5678abcd-12ab-34cd-56ef-1234567890ab",
            "TwoStepCopy": true});
        properties["KeepLatest"] = json!(1);
        let policy = RuntimePolicy::from_properties(&properties, "eu-west-1", None).unwrap();
        let now = base_time() + Duration::minutes(offset);
        let mut staged = build(&own, base_time());
        for s in &mut staged {
            s.id = format!("own-{}", s.id);
            s.arn = format!("arn:aws:rds:eu-west-1:222222222222:snapshot:{}", s.id);
        }
        let inventory = Inventory {
            sources: build(&shared, base_time()),
            staged: staged.clone(),
            snapshots: build(&dr, base_time()),
            ..Inventory::default()
        };
        let planned = plan(Action::Copy, &policy, &inventory, now);
        for step in &planned.steps {
            match &step.operation {
                Operation::DeleteStaged { snapshot_id, .. } => {
                    let first = staged.iter().find(|s| &s.id == snapshot_id);
                    prop_assert!(first.is_some_and(|s| s.tag(tags::POLICY) == Some(OURS)),
                        "deletes {} which is not this policy's first-step copy", snapshot_id);
                }
                Operation::StageCopy { source_arn, kms_key_id, .. } => {
                    prop_assert!(inventory.sources.iter().any(|s| &s.arn == source_arn && s.is_available()));
                    prop_assert!(kms_key_id.contains(":eu-west-1:222222222222:"));
                }
                Operation::Copy { source_arn, .. } => {
                    prop_assert!(staged.iter().any(|s| &s.arn == source_arn && s.is_available()),
                        "a two-step DR copy is made from a first-step copy, not {}", source_arn);
                }
                Operation::MarkDelivered { .. } => {}
                other => prop_assert!(false, "a copy run planned {:?}", other),
            }
        }
    }

    /// When AWS's copies in flight cannot take every waiting snapshot, the free slots go to the
    /// databases furthest behind in the DR account, one copy each: no database gets a second
    /// copy while another with a newer snapshot gets none, and every database left waiting is
    /// no further behind than any that started (issue 28; newest first alone starved the
    /// databases whose snapshots come earliest in the cycle).
    #[test]
    fn copy_slots_go_to_the_databases_furthest_behind(
        fleet in prop::collection::vec((1..4usize, 0..30i64, prop::option::of(0..600i64)), 1..45),
        in_flight in 0..20usize,
    ) {
        let policy = destination_policy(7, 1);
        let now = base_time() + Duration::days(3);
        let mut inventory = Inventory::default();
        for (i, (taken, minute, copied_ago)) in fleet.iter().enumerate() {
            for j in 0..*taken {
                let id = format!("db{i}-{j}");
                let mut shared = Snapshot::manual(Kind::Instance, id.clone(),
                    format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{id}"), format!("db{i}"));
                shared.snapshot_type = "shared".into();
                shared.created = Some(now - Duration::minutes(minute + 30 * j as i64));
                inventory.sources.push(shared);
            }
            if let Some(ago) = copied_ago {
                let id = format!("db{i}-copy");
                let mut copy = Snapshot::manual(Kind::Instance, id.clone(), format!("arn:copy:{id}"), format!("db{i}"));
                copy.created = Some(now - Duration::minutes(200 + ago));
                copy.tags = [(tags::POLICY, OURS), (tags::COPIED_BY, tags::TOOL)]
                    .into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                copy.tags.insert(tags::SOURCE_ARN.into(), format!("arn:aws:rds:eu-west-1:111111111111:snapshot:db{i}-old"));
                inventory.snapshots.push(copy);
            }
        }
        for k in 0..in_flight {
            let id = format!("other-{k}");
            let mut flying = Snapshot::manual(Kind::Instance, id.clone(), format!("arn:copy:{id}"), "elsewhere");
            flying.status = "copying".into();
            flying.tags.insert(tags::SOURCE_ARN.into(), format!("arn:aws:rds:eu-west-1:333333333333:snapshot:{id}"));
            inventory.snapshots.push(flying);
        }
        // How far behind each database is: its DR copy's age in minutes (never copied: MAX).
        let behind = |db: &str| {
            let i: usize = db.trim_start_matches("db").parse().unwrap();
            fleet[i].2.map_or(i64::MAX, |ago| 200 + ago)
        };
        let result = plan(Action::Copy, &policy, &inventory, now);
        let mut started: BTreeMap<String, usize> = BTreeMap::new();
        for step in &result.steps {
            let Operation::Copy { source_arn, .. } = &step.operation else { continue };
            let source = inventory.sources.iter().find(|s| &s.arn == source_arn).unwrap();
            *started.entry(source.database.clone()).or_default() += 1;
        }
        let waiting: Vec<String> = (0..fleet.len())
            .map(|i| format!("db{i}"))
            .filter(|db| !started.contains_key(db))
            .collect();
        prop_assert!(started.values().sum::<usize>() <= 20 - in_flight);
        if !waiting.is_empty() {
            prop_assert!(started.values().all(|n| *n == 1), "a second copy while {waiting:?} wait: {started:?}");
            let least = started.keys().map(|db| behind(db)).min().unwrap_or(i64::MAX);
            for db in &waiting {
                prop_assert!(behind(db) <= least, "{db} ({} min behind) waits while a database {least} min behind started", behind(db));
            }
        }
    }
}
