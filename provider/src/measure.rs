//! What a run measures and announces, from what it listed and did: each database's recovery
//! point (RecoveryPointAgeMinutes), the delivery lag of each new DR copy, the metric data they
//! become, and the share's announcements to the DR buses. Pure: `task.rs` gathers and calls.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rds_snapshot_policy_core::Role;
use rds_snapshot_policy_core::contract::{
    EventEntry, MetricDatum, RecoveryPoint, Summary, events, metrics,
};
use serde_json::json;

use crate::inventory::Inventory;
use crate::plan::{Operation, Step};
use crate::policy::RuntimePolicy;

/// AWS accepts at most 1,000 data in one PutMetricData call.
const MAX_METRIC_DATA: usize = 1000;

/// The newest available recovery point per database: this policy's DR copies (destination)
/// or its snapshots (source). At the DR account a database with shared snapshots but no copy
/// yet counts from its newest shared snapshot, so it is not silently missing.
pub fn recovery_points(
    policy: &RuntimePolicy,
    inventory: &Inventory,
    measured_at: DateTime<Utc>,
) -> BTreeMap<String, RecoveryPoint> {
    let mut newest: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
    let mut offer = |db: &str, point: DateTime<Utc>, id: &str| {
        let entry = newest
            .entry(db.to_string())
            .or_insert((point, id.to_string()));
        if point > entry.0 {
            *entry = (point, id.to_string());
        }
    };
    for s in inventory
        .snapshots
        .iter()
        .filter(|s| s.is_available() && policy.is_made(s))
    {
        if let Some(point) = s.recovery_point() {
            offer(&policy.database_key(s), point, &s.id);
        }
    }
    if policy.role() == Role::Destination {
        let copied: Vec<String> = newest.keys().cloned().collect();
        let mut uncopied: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
        for s in inventory.sources.iter().filter(|s| {
            s.is_available()
                && crate::plan::copy::selected(policy, s)
                && crate::plan::copy::from_source_account(policy, s)
                && !copied.contains(&policy.database_key(s))
        }) {
            if let Some(point) = s.recovery_point() {
                let entry = uncopied
                    .entry(policy.database_key(s))
                    .or_insert((point, s.id.clone()));
                if point > entry.0 {
                    *entry = (point, s.id.clone());
                }
            }
        }
        newest.extend(uncopied);
    }
    // A retired database has no RPO datum: its alarm stops (RetiredDatabases).
    newest
        .into_iter()
        .filter(|(db, _)| !policy.is_retired(db))
        .map(|(db, (point, snapshot))| {
            (
                db,
                RecoveryPoint {
                    snapshot,
                    taken: point.to_rfc3339_opts(SecondsFormat::Secs, true),
                    age_minutes: (measured_at - point).num_minutes().max(0),
                },
            )
        })
        .collect()
}

/// For each copy this run saw delivered: `DeliveryLagMinutes` per database, and its two parts
/// `CopyWaitMinutes` and `CopyDurationMinutes` per policy (the forecast's measured terms).
pub fn delivery_lag_metric_data(policy_id: &str, done: &[Step]) -> Vec<MetricDatum> {
    done.iter()
        .filter_map(|step| match &step.operation {
            Operation::MarkDelivered {
                database,
                lag_minutes,
                copy_minutes,
                ..
            } => Some([
                MetricDatum::of_database(
                    metrics::DELIVERY_LAG,
                    policy_id,
                    database,
                    *lag_minutes as f64,
                ),
                MetricDatum::of_policy(
                    metrics::COPY_WAIT,
                    policy_id,
                    (lag_minutes - copy_minutes) as f64,
                ),
                MetricDatum::of_policy(metrics::COPY_DURATION, policy_id, *copy_minutes as f64),
            ]),
            _ => None,
        })
        .take(MAX_METRIC_DATA / 2 / 3)
        .flatten()
        .collect()
}

/// `RecoveryPointAgeMinutes` per database and, for the policy's alarm, their maximum.
pub fn recovery_point_metric_data(
    policy_id: &str,
    points: &BTreeMap<String, RecoveryPoint>,
) -> Vec<MetricDatum> {
    let Some(oldest) = points.values().map(|p| p.age_minutes).max() else {
        return Vec::new();
    };
    let mut by_age: Vec<(&String, &RecoveryPoint)> = points.iter().collect();
    by_age.sort_by_key(|(db, p)| (std::cmp::Reverse(p.age_minutes), *db));
    let mut out = vec![MetricDatum::of_policy(
        metrics::RECOVERY_POINT_AGE,
        policy_id,
        oldest as f64,
    )];
    out.extend(
        by_age
            .into_iter()
            .take(MAX_METRIC_DATA / 2 - 1)
            .map(|(db, p)| {
                MetricDatum::of_database(
                    metrics::RECOVERY_POINT_AGE,
                    policy_id,
                    db,
                    p.age_minutes as f64,
                )
            }),
    );
    out
}

/// After a run that shared something (event-driven source policies): the announcement for
/// this account's default bus, from where the policy's forwarding rule sends it to each DR
/// account's bus, so the DR account copies at once instead of at its next sweep.
pub fn announcements(policy: &RuntimePolicy, summary: &Summary) -> Vec<EventEntry> {
    let shared: Vec<&str> = summary
        .done
        .iter()
        .filter_map(|step| match &step.operation {
            Operation::Share { snapshot_id, .. } => Some(snapshot_id.as_str()),
            _ => None,
        })
        .collect();
    if summary.dry_run || shared.is_empty() || !policy.spec.is_event_driven() {
        return Vec::new();
    }
    let detail = json!({
        "policy": policy.id,
        "region": policy.source_region,
        "shared": shared.len(),
        "snapshots": shared.iter().take(50).collect::<Vec<_>>(),
    });
    vec![EventEntry {
        source: events::SOURCE,
        detail_type: events::SNAPSHOTS_SHARED,
        detail: detail.to_string(),
        event_bus_name: events::DEFAULT_BUS.to_string(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Kind, Snapshot, tags};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn snapshot(id: &str, db: &str, created: &str, tags: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            created: Some(at(created)),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Snapshot::manual(
                Kind::Instance,
                id,
                format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{id}"),
                db,
            )
        }
    }

    fn destination() -> RuntimePolicy {
        RuntimePolicy::from_properties(
            &serde_json::json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "dr", "SnapshotPattern": "^(orders|billing)-",
                "SourceRegionOverride": "eu-west-1", "DestinationRegion": "eu-central-1",
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
            "eu-central-1",
            None,
        )
        .unwrap()
    }

    #[test]
    fn dr_recovery_points_count_uncopied_databases_from_their_newest_shared_snapshot() {
        let ours = [(tags::POLICY, "dr"), (tags::COPIED_BY, tags::TOOL)];
        let inventory = Inventory {
            snapshots: vec![
                snapshot("orders-1", "orders", "2026-11-24T06:00:00Z", &ours),
                snapshot("orders-2", "orders", "2026-11-24T06:30:00Z", &ours),
                // Another policy's copy is not this policy's recovery point.
                snapshot(
                    "orders-3",
                    "orders",
                    "2026-11-24T06:59:00Z",
                    &[(tags::POLICY, "other"), (tags::COPIED_BY, tags::TOOL)],
                ),
            ],
            sources: vec![
                snapshot("billing-1", "billing", "2026-11-24T05:00:00Z", &[]),
                snapshot("billing-2", "billing", "2026-11-24T05:30:00Z", &[]),
                snapshot("orders-4", "orders", "2026-11-24T06:45:00Z", &[]),
            ],
            ..Inventory::default()
        };
        let points = recovery_points(&destination(), &inventory, at("2026-11-24T07:00:00Z"));
        // At the DR account a database is keyed by its source account and name.
        assert_eq!(points["111111111111/orders"].snapshot, "orders-2");
        assert_eq!(points["111111111111/orders"].age_minutes, 30);
        assert_eq!(points["111111111111/billing"].snapshot, "billing-2");
        assert_eq!(points["111111111111/billing"].age_minutes, 90);

        let data = recovery_point_metric_data("dr", &points);
        assert_eq!(data.len(), 3);
        // First the policy's maximum (what the RPO alarm watches), then the oldest database.
        assert_eq!(data[0].dimensions.len(), 1);
        assert_eq!(data[0].value, 90.0);
        assert_eq!(data[1].dimensions[1].value, "111111111111/billing");
        assert_eq!(data[0].metric_name, metrics::RECOVERY_POINT_AGE);
        assert!(!serde_json::to_string(&data).unwrap().contains("Timestamp"));
    }

    #[test]
    fn same_named_databases_of_two_source_accounts_are_measured_apart() {
        let ours = [(tags::POLICY, "dr"), (tags::COPIED_BY, tags::TOOL)];
        let mut other = snapshot(
            "orders-2-333333333333",
            "orders",
            "2026-11-24T04:00:00Z",
            &ours,
        );
        other.tags.insert(
            tags::SOURCE_ARN.into(),
            "arn:aws:rds:eu-west-1:333333333333:snapshot:orders-2".into(),
        );
        let mut policy = destination();
        policy.spec.source_accounts = Some(vec!["111111111111".into(), "333333333333".into()]);
        let inventory = Inventory {
            snapshots: vec![
                snapshot("orders-2", "orders", "2026-11-24T06:30:00Z", &ours),
                other,
            ],
            ..Inventory::default()
        };
        let points = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        // The fresh copy of one account does not hide the stale copy of the other.
        assert_eq!(points["111111111111/orders"].age_minutes, 30);
        assert_eq!(points["333333333333/orders"].age_minutes, 180);
        let data = recovery_point_metric_data("dr", &points);
        assert_eq!(data[0].value, 180.0);
    }

    #[test]
    fn a_retired_database_has_no_rpo_datum_and_no_longer_raises_the_policy_maximum() {
        let ours = [(tags::POLICY, "dr"), (tags::COPIED_BY, tags::TOOL)];
        let inventory = Inventory {
            snapshots: vec![
                snapshot("orders-2", "orders", "2026-11-24T06:30:00Z", &ours),
                // Retired three weeks ago: its final copy is old, and stays so.
                snapshot("billing-1", "billing", "2026-11-03T05:00:00Z", &ours),
            ],
            sources: vec![snapshot(
                "billing-2",
                "billing",
                "2026-11-03T05:30:00Z",
                &[],
            )],
            ..Inventory::default()
        };
        let mut policy = destination();
        let before = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        assert_eq!(recovery_point_metric_data("dr", &before)[0].value, 30_360.0);
        policy.spec.retired_databases = Some(vec!["111111111111/billing".into()]);
        let points = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        assert_eq!(points.keys().collect::<Vec<_>>(), ["111111111111/orders"]);
        let data = recovery_point_metric_data("dr", &points);
        assert_eq!(data[0].value, 30.0);
        assert!(!serde_json::to_string(&data).unwrap().contains("billing"));
        // The name alone retires it in every source account.
        policy.spec.retired_databases = Some(vec!["billing".into()]);
        let points = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        assert!(!points.contains_key("111111111111/billing"));
    }

    #[test]
    fn no_recovery_point_means_no_datum_so_the_alarm_sees_missing_data() {
        let points = recovery_points(
            &destination(),
            &Inventory::default(),
            at("2026-11-24T07:00:00Z"),
        );
        assert!(points.is_empty());
        assert!(recovery_point_metric_data("dr", &points).is_empty());
    }
}
