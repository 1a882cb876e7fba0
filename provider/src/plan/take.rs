//! take: a snapshot of each covered database whose newest snapshot is at least BackupInterval
//! old (by SnapshotCreateTime).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Operation, Plan, age, policy_snapshot_name, snapshot_name};
use crate::error::{ErrorName, ProviderError};
use crate::inventory::{Database, Inventory, Kind, Snapshot, tags};
use crate::policy::{RuntimePolicy, Selector};

/// A database a source policy covers: an instance, or a cluster (also when reached through
/// one of its member instances).
pub struct Covered<'a> {
    pub id: String,
    pub kind: Kind,
    /// The instance or cluster itself, if listed.
    pub database: Option<&'a Database>,
    /// Tagged `CopyDBSnapshot=True` (on the cluster or the member that matched).
    pub opted_in: bool,
}

fn opted_in(db: &Database) -> bool {
    db.tags
        .get(tags::OPT_IN)
        .is_some_and(|v| v.eq_ignore_ascii_case(tags::OPT_IN_VALUE))
}

/// The databases `selector` covers among `databases`, each once, in identifier order. Shared by
/// the take planner and the deploy-time checks.
pub fn covered_databases<'a>(selector: &Selector, databases: &'a [Database]) -> Vec<Covered<'a>> {
    let find = |id: &str, kind: Kind| databases.iter().find(|d| d.id == id && d.kind == kind);
    let mut found: BTreeMap<(String, Kind), Covered<'a>> = BTreeMap::new();
    for db in databases {
        let matched = match selector {
            Selector::Pattern(re) => re.is_match(&db.id),
            Selector::Instance(id) => db.kind == Kind::Instance && db.id == *id,
            Selector::Cluster(id) => db.kind == Kind::Cluster && db.id == *id,
        };
        if !matched {
            continue;
        }
        let (id, kind) = match (&db.cluster, db.kind) {
            (Some(cluster), Kind::Instance) => (cluster.clone(), Kind::Cluster),
            _ => (db.id.clone(), db.kind),
        };
        let covered = found.entry((id.clone(), kind)).or_insert_with(|| Covered {
            database: find(&id, kind),
            id,
            kind,
            opted_in: false,
        });
        covered.opted_in |= opted_in(db) || covered.database.is_some_and(opted_in);
    }
    found.into_values().collect()
}

fn targets<'a>(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &'a Inventory,
) -> Vec<Covered<'a>> {
    let covered = covered_databases(&policy.selector, &inventory.databases);
    if covered.is_empty() {
        match &policy.selector {
            Selector::Instance(id) | Selector::Cluster(id) if policy.is_retired(id) => plan.skip(
                id,
                format!(
                    "retired (RetiredDatabases) and no longer in {}: nothing to take",
                    policy.source_region
                ),
            ),
            Selector::Instance(id) | Selector::Cluster(id) => {
                let kind = match policy.selector {
                    Selector::Cluster(_) => Kind::Cluster,
                    _ => Kind::Instance,
                };
                plan.errors.push(ProviderError::new(
                    ErrorName::DatabaseNotFound,
                    format!(
                        "{} {id} does not exist in {}",
                        kind.noun(),
                        policy.source_region
                    ),
                ));
            }
            Selector::Pattern(re) => plan.skip(
                re.as_str(),
                format!(
                    "no DB instance or cluster in {} matches InstanceNamePattern",
                    policy.source_region
                ),
            ),
        }
    }
    covered
}

/// How far after the schedule's time a recovery point may lie and still count (clock skew
/// between the schedule and RDS's creation times).
const FUTURE_TOLERANCE_MINUTES: i64 = 5;

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
    for s in inventory
        .snapshots
        .iter()
        .filter(|s| policy.is_marked(s, tags::CREATED_BY))
    {
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
        if let Some(entry) = policy.retired_by(subject) {
            plan.skip(
                subject,
                format!("retired (RetiredDatabases: {entry}): no new snapshot is taken"),
            );
            continue;
        }
        if policy.spec.tagged_only() && !target.opted_in {
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
        // A snapshot being taken holds the database; a re-encryption copy does not.
        if let Some(busy) = own.iter().find(|s| {
            !s.is_available() && !s.is_failed() && s.tag(tags::REENCRYPTED_FROM).is_none()
        }) {
            plan.wait(
                subject,
                format!("snapshot {} is still {}", busy.id, busy.status),
            );
            continue;
        }
        // A recovery point after now (AWS's creation time ahead of the schedule's time) is not
        // trusted to skip a backup: the snapshot is taken.
        let newest = own
            .iter()
            .filter(|s| s.is_available())
            .filter_map(|s| s.recovery_point().map(|c| (c, s)))
            .filter(|(c, _)| *c <= now + Duration::minutes(FUTURE_TOLERANCE_MINUTES))
            .max_by_key(|(c, _)| *c);
        if let Some((created, snapshot)) = newest {
            let since = now - created;
            if since < policy.backup_interval() - tolerance(policy.backup_interval()) {
                plan.skip(
                    subject,
                    format!(
                        "newest snapshot {} is {} old; BackupInterval is {}",
                        snapshot.id,
                        age(since),
                        age(policy.backup_interval())
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
                ErrorName::DatabaseNotAvailable,
                format!(
                    "{} {subject} is {status}, not available: no snapshot taken",
                    target.kind.noun()
                ),
            ));
            continue;
        }
        let ours = |s: &&Snapshot| policy.is_tagged(s);
        let mut name = snapshot_name(&target.id, target.kind, now);
        if by_name
            .get(&(name.as_str(), target.kind))
            .is_some_and(|s| !ours(s))
        {
            // Another policy (another stack) snapshots this database too: never collide.
            name = policy_snapshot_name(&target.id, target.kind, &policy.id, now);
        }
        if let Some(existing) = by_name.get(&(name.as_str(), target.kind)) {
            if ours(existing) {
                plan.skip(
                    subject,
                    format!("snapshot {name} was already taken this minute"),
                );
            } else {
                plan.errors.push(ProviderError::new(
                    ErrorName::SnapshotNameTaken,
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
                kind: target.kind,
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
