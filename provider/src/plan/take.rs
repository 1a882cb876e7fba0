//! take: a snapshot of each covered database whose newest snapshot is at least BackupInterval
//! old (by SnapshotCreateTime).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Operation, Plan, age, snapshot_name};
use crate::error::{ErrorKind, ProviderError};
use crate::inventory::{Database, Inventory, Kind, Snapshot, tags};
use crate::policy::{RuntimePolicy, Selector};

/// A database to snapshot: an instance, or a cluster (also when reached through a member).
struct Target<'a> {
    id: String,
    kind: Kind,
    database: Option<&'a Database>,
    opted_in: bool,
}

fn opted_in(db: &Database) -> bool {
    db.tags
        .get(tags::OPT_IN)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn find<'a>(inventory: &'a Inventory, id: &str, kind: Kind) -> Option<&'a Database> {
    inventory
        .databases
        .iter()
        .find(|d| d.id == id && d.kind == kind)
}

fn targets<'a>(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &'a Inventory,
) -> Vec<Target<'a>> {
    let mut found: BTreeMap<(String, Kind), Target<'a>> = BTreeMap::new();
    let add = |db: &'a Database, found: &mut BTreeMap<(String, Kind), Target<'a>>| {
        let (id, kind) = match (&db.cluster, db.kind) {
            (Some(cluster), Kind::Instance) => (cluster.clone(), Kind::Cluster),
            _ => (db.id.clone(), db.kind),
        };
        let target = found.entry((id.clone(), kind)).or_insert_with(|| Target {
            database: find(inventory, &id, kind),
            id,
            kind,
            opted_in: false,
        });
        target.opted_in |= opted_in(db) || target.database.is_some_and(opted_in);
    };
    match &policy.selector {
        Selector::Instance(id) | Selector::Cluster(id) => {
            let kind = if matches!(policy.selector, Selector::Instance(_)) {
                Kind::Instance
            } else {
                Kind::Cluster
            };
            match find(inventory, id, kind) {
                Some(db) => add(db, &mut found),
                None => plan.errors.push(ProviderError::new(
                    ErrorKind::DatabaseNotFound,
                    format!(
                        "{} {id} does not exist in {}",
                        kind.noun(),
                        policy.source_region
                    ),
                )),
            }
        }
        Selector::Pattern(re) => {
            for db in inventory.databases.iter().filter(|d| re.is_match(&d.id)) {
                add(db, &mut found);
            }
            if found.is_empty() {
                plan.skip(
                    re.as_str(),
                    format!(
                        "no DB instance or cluster in {} matches InstanceNamePattern",
                        policy.source_region
                    ),
                );
            }
        }
    }
    found.into_values().collect()
}

/// How much earlier than BackupInterval a snapshot may be taken: schedules fire a few seconds
/// after the hour, snapshots are stamped a few seconds later still.
fn tolerance(interval: Duration) -> Duration {
    (interval / 10).min(Duration::minutes(10))
}

pub(super) fn plan_take(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) {
    // This policy's snapshots by database, and every snapshot by name: one pass over the
    // inventory instead of one per database.
    let mut own_by_db: BTreeMap<(&str, Kind), Vec<&Snapshot>> = BTreeMap::new();
    for s in inventory.snapshots.iter().filter(|s| {
        s.tag(tags::POLICY) == Some(policy.id.as_str())
            && s.tag(tags::CREATED_BY) == Some(tags::TOOL)
    }) {
        own_by_db
            .entry((s.database_key(), s.kind))
            .or_default()
            .push(s);
    }
    let by_name: BTreeMap<(&str, Kind), &Snapshot> = inventory
        .snapshots
        .iter()
        .map(|s| ((s.id.as_str(), s.kind), s))
        .collect();
    for target in targets(plan, policy, inventory) {
        let subject = target.id.as_str();
        if policy.tagged_only && !target.opted_in {
            plan.skip(
                subject,
                format!(
                    "TaggedInstance is on and the database is not tagged {}=True",
                    tags::OPT_IN
                ),
            );
            continue;
        }
        let own: Vec<&Snapshot> = own_by_db
            .get(&(target.id.as_str(), target.kind))
            .cloned()
            .unwrap_or_default();
        if let Some(busy) = own.iter().find(|s| !s.is_available() && !s.is_failed()) {
            plan.wait(
                subject,
                format!("snapshot {} is still {}", busy.id, busy.status),
            );
            continue;
        }
        let newest = own
            .iter()
            .filter(|s| s.is_available())
            .filter_map(|s| s.created.map(|c| (c, s)))
            .max_by_key(|(c, _)| *c);
        if let Some((created, snapshot)) = newest {
            let since = now - created;
            if since < policy.backup_interval - tolerance(policy.backup_interval) {
                plan.skip(
                    subject,
                    format!(
                        "newest snapshot {} is {} old; BackupInterval is {}",
                        snapshot.id,
                        age(since),
                        age(policy.backup_interval)
                    ),
                );
                continue;
            }
        }
        let status = target
            .database
            .map(|d| d.status.as_str())
            .unwrap_or("unknown");
        if !matches!(status, "available" | "storage-optimization") {
            plan.errors.push(ProviderError::new(
                ErrorKind::DatabaseNotAvailable,
                format!(
                    "{} {subject} is {status}, not available: no snapshot taken",
                    target.kind.noun()
                ),
            ));
            continue;
        }
        let name = snapshot_name(&target.id, now);
        if let Some(existing) = by_name.get(&(name.as_str(), target.kind)) {
            if existing.tag(tags::POLICY) == Some(policy.id.as_str()) {
                plan.skip(
                    subject,
                    format!("snapshot {name} was already taken this minute"),
                );
            } else {
                plan.errors.push(ProviderError::new(
                    ErrorKind::SnapshotNameTaken,
                    format!("snapshot {name} of {subject} already exists and is not this policy's"),
                ));
            }
            continue;
        }
        let reason = match newest {
            Some((created, s)) => format!("newest snapshot {} is {} old", s.id, age(now - created)),
            None => "no snapshot of this policy yet".to_string(),
        };
        plan.step(
            subject,
            Operation::Create {
                database: target.id.clone(),
                kind: target.kind.into(),
                snapshot_id: name,
                tags: vec![
                    (tags::CREATED_BY.into(), tags::TOOL.into()),
                    (tags::POLICY.into(), policy.id.clone()),
                    (tags::DATABASE.into(), target.id.clone()),
                ],
            },
            reason,
        );
    }
}
