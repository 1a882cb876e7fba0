//! The drill's deletion rule as a property: whatever exists in the DR region, the sweeper (and
//! every cleanup, which applies the same rule) selects only instances and clusters carrying
//! this policy's drill tag **and** its naming scheme. And the drill's evidence, whatever the
//! drill resource's tags say, stays within what RDS shows.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use provider::inventory::{Inventory, Kind, Snapshot, tags};
use provider::plan::drill::{
    DrillError, DrillResource, drill_identifier, drill_prefix, is_drill_resource,
    member_identifier, observe_restore, sweep,
};
use provider::policy::RuntimePolicy;
use serde_json::json;

const OURS: &str = "dr-copies-Copies";
/// How the DR policy keys the database of the copies below: their account and its name.
const KEY: &str = "222222222222/orders";

fn policy() -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": OURS, "SnapshotPattern": ".*",
                "DestinationRegion": "eu-central-1", "RtoMinutes": 60,
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

fn resource() -> impl Strategy<Value = DrillResource> {
    let names = prop::sample::select(vec![
        drill_identifier(OURS, "orders"),
        format!("{}orders-1", drill_prefix(OURS)),
        drill_identifier("another-policy", "orders"),
        "orders".to_string(),
        "rsp-drill-orders".to_string(),
        format!("x{}", drill_identifier(OURS, "orders")),
    ]);
    let tag = prop::sample::select(vec![None, Some(OURS), Some("another-policy"), Some("")]);
    (names, tag, any::<bool>(), 0i64..600, any::<bool>()).prop_map(
        |(identifier, tag, cluster, age, has_time)| {
            let mut tags_map = BTreeMap::new();
            if let Some(t) = tag {
                tags_map.insert(tags::DRILL.to_string(), t.to_string());
            }
            DrillResource {
                identifier,
                kind: if cluster {
                    Kind::Cluster
                } else {
                    Kind::Instance
                },
                status: "available".into(),
                tags: tags_map,
                created: has_time.then(|| {
                    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() - Duration::minutes(age)
                }),
                cluster: None,
                endpoint: None,
            }
        },
    )
}

proptest! {
    #[test]
    fn the_drill_deletes_only_what_it_created(resources in prop::collection::vec(resource(), 0..30)) {
        let policy = policy();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        for r in sweep(&policy, &resources, now) {
            prop_assert_eq!(r.tags.get(tags::DRILL).map(String::as_str), Some(OURS));
            prop_assert!(r.identifier.starts_with(&drill_prefix(OURS)), "{}", r.identifier);
            prop_assert!(now - r.created.unwrap() > Duration::minutes(120), "swept a young drill");
        }
        for r in &resources {
            let ours = r.tags.get(tags::DRILL).map(String::as_str) == Some(OURS)
                && r.identifier.starts_with(&drill_prefix(OURS));
            prop_assert_eq!(is_drill_resource(OURS, r), ours);
        }
    }
}

/// A DR copy of `database`, of `policy`, or someone else's.
fn copy(id: &str, database: &str, policy: &str) -> Snapshot {
    let mut tags_map = BTreeMap::new();
    tags_map.insert(tags::POLICY.to_string(), policy.to_string());
    tags_map.insert(tags::COPIED_BY.to_string(), tags::TOOL.to_string());
    tags_map.insert(tags::DATABASE.to_string(), database.to_string());
    Snapshot {
        created: Some(t0() - Duration::days(1)),
        tags: tags_map,
        ..Snapshot::manual(
            Kind::Instance,
            id.to_string(),
            format!("arn:aws:rds:eu-central-1:222222222222:snapshot:{id}"),
            database.to_string(),
        )
    }
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 4, 0, 0).unwrap()
}

/// What a hostile tagger may have written on the drill instance of `orders`.
#[derive(Debug, Clone)]
struct Forged {
    restored_from: Option<usize>,
    requested: Option<i64>,
    available: Option<i64>,
    created: Option<i64>,
    garbage: bool,
}

fn forged() -> impl Strategy<Value = Forged> {
    let minutes = || prop::option::of(-600i64..600);
    (
        prop::option::of(0usize..4),
        minutes(),
        minutes(),
        minutes(),
        any::<bool>(),
    )
        .prop_map(
            |(restored_from, requested, available, created, garbage)| Forged {
                restored_from,
                requested,
                available,
                created,
                garbage,
            },
        )
}

proptest! {
    /// Whatever the drill resource's tags say (issue 29): the evidence names only the policy's
    /// own copy of that database, never counts from later than RDS's creation time nor to
    /// later than now or earlier than creation, and its minutes are what those times say.
    #[test]
    fn drill_evidence_is_bounded_by_what_rds_shows(f in forged()) {
        let now = t0();
        let inventory = Inventory {
            snapshots: vec![
                copy("orders-a", "orders", OURS),
                copy("orders-b", "orders", "another-policy"),
                copy("billing-a", "billing", OURS),
            ],
            ..Inventory::default()
        };
        let at = |m: i64| (now + Duration::minutes(m)).to_rfc3339();
        let mut tags_map = BTreeMap::new();
        tags_map.insert(tags::DRILL.to_string(), OURS.to_string());
        tags_map.insert(tags::DATABASE.to_string(), KEY.to_string());
        if let Some(i) = f.restored_from {
            let arn = inventory.snapshots.get(i).map_or("arn:aws:rds:x:1:snapshot:elsewhere".into(), |s| s.arn.clone());
            tags_map.insert(tags::DRILL_SNAPSHOT.to_string(), arn);
        }
        for (key, minutes) in [(tags::DRILL_REQUESTED, f.requested), (tags::DRILL_AVAILABLE, f.available)] {
            if let Some(m) = minutes {
                let value = if f.garbage { format!("{} <img src=x onerror=alert(1)>", at(m)) } else { at(m) };
                tags_map.insert(key.to_string(), value);
            }
        }
        let created = f.created.map(|m| now + Duration::minutes(m));
        let resource = DrillResource {
            identifier: drill_identifier(OURS, KEY),
            kind: Kind::Instance,
            status: "available".into(),
            tags: tags_map,
            created,
            cluster: None,
            endpoint: None,
        };
        let seen = observe_restore(&policy(), KEY, std::slice::from_ref(&resource), &inventory, false, now);
        match seen {
            Ok(seen) => {
                prop_assert_eq!(f.restored_from, Some(0));
                prop_assert_eq!(&seen.copy.id, "orders-a");
                prop_assert!(seen.requested <= now);
                if let Some(c) = created {
                    prop_assert!(seen.requested <= c);
                    prop_assert!(seen.available >= c.min(now));
                }
                prop_assert!(seen.available >= seen.requested && seen.available <= now);
                prop_assert_eq!(seen.minutes, (seen.available - seen.requested).num_minutes());
            }
            Err(reason) => prop_assert!(
                f.restored_from != Some(0) || (f.garbage || f.requested.is_none()) && created.is_none(),
                "refused a genuine restore: {}", reason
            ),
        }
    }
}

#[test]
fn evidence_needs_a_serving_restore_of_the_policys_drill() {
    let now = t0();
    let inventory = Inventory {
        snapshots: vec![copy("orders-a", "orders", OURS)],
        ..Inventory::default()
    };
    let mut tags_map = BTreeMap::new();
    tags_map.insert(tags::DRILL.to_string(), OURS.to_string());
    tags_map.insert(tags::DATABASE.to_string(), KEY.to_string());
    tags_map.insert(
        tags::DRILL_SNAPSHOT.to_string(),
        inventory.snapshots[0].arn.clone(),
    );
    let resource = DrillResource {
        identifier: drill_identifier(OURS, KEY),
        kind: Kind::Instance,
        status: "available".into(),
        tags: tags_map,
        created: Some(now - Duration::minutes(42)),
        cluster: None,
        endpoint: Some("orders.drill".into()),
    };
    let seen = observe_restore(
        &policy(),
        KEY,
        std::slice::from_ref(&resource),
        &inventory,
        true,
        now,
    )
    .unwrap();
    // No available tag: counted to now, and validated now.
    assert_eq!((seen.minutes, seen.validated), (42, Some(now)));
    let mut creating = resource.clone();
    creating.status = "creating".into();
    let err = observe_restore(&policy(), KEY, &[creating], &inventory, false, now).unwrap_err();
    assert!(
        matches!(&err, DrillError::NotServing { status, .. } if status == "creating"),
        "{err}"
    );
    assert!(
        err.to_string().contains("is creating, not serving"),
        "{err}"
    );
    let mut untagged = resource.clone();
    untagged.tags.remove(tags::DRILL);
    let err = observe_restore(&policy(), KEY, &[untagged], &inventory, false, now).unwrap_err();
    assert!(matches!(err, DrillError::NoRestore { .. }), "{err}");
    assert!(err.to_string().contains("has no drill restore"), "{err}");
    // An Aurora restore serves once its member instance does.
    let mut cluster = resource.clone();
    cluster.kind = Kind::Cluster;
    let mut cluster_copy = inventory.clone();
    cluster_copy.snapshots[0].kind = Kind::Cluster;
    let err = observe_restore(
        &policy(),
        KEY,
        std::slice::from_ref(&cluster),
        &cluster_copy,
        false,
        now,
    )
    .unwrap_err();
    assert!(matches!(err, DrillError::NotServing { .. }), "{err}");
    let member = DrillResource {
        identifier: member_identifier(&cluster.identifier),
        kind: Kind::Instance,
        cluster: Some(cluster.identifier.clone()),
        ..resource.clone()
    };
    let seen = observe_restore(
        &policy(),
        KEY,
        &[cluster, member],
        &cluster_copy,
        false,
        now,
    )
    .unwrap();
    assert_eq!(seen.kind, Kind::Cluster);
}
