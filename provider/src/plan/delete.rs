//! delete: this policy's snapshots older than RetentionDays, except the newest KeepLatest
//! available per database, anything not made by this policy, automated snapshots, and the
//! source of a copy in progress.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{Operation, Plan, age};
use crate::inventory::{Inventory, Snapshot, tags};
use crate::policy::RuntimePolicy;

pub(super) fn plan_delete(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) {
    if !policy.spec.delete_old_snapshots {
        plan.skip(
            &policy.id,
            "DeleteOldSnapshots is false: nothing is deleted",
        );
        return;
    }
    let own: Vec<&Snapshot> = inventory
        .snapshots
        .iter()
        .filter(|s| {
            s.snapshot_type == "manual"
                && s.tag(tags::POLICY) == Some(policy.id.as_str())
                && s.tag(policy.marker_tag()) == Some(tags::TOOL)
        })
        .collect();
    let copy_sources: BTreeSet<&str> = inventory
        .snapshots
        .iter()
        .filter(|s| !s.is_available() && !s.is_failed())
        .filter_map(|s| s.tag(tags::SOURCE_ARN))
        .collect();
    let mut newest: BTreeMap<(&str, crate::inventory::Kind), Vec<&Snapshot>> = BTreeMap::new();
    for s in own
        .iter()
        .filter(|s| s.is_available() && s.recovery_point().is_some())
    {
        newest
            .entry((s.database_key(), s.kind))
            .or_default()
            .push(s);
    }
    let mut kept: BTreeSet<&str> = BTreeSet::new();
    for list in newest.values_mut() {
        list.sort_by(|a, b| {
            b.recovery_point()
                .cmp(&a.recovery_point())
                .then(b.arn.cmp(&a.arn))
        });
        kept.extend(
            list.iter()
                .take(policy.keep_latest())
                .map(|s| s.arn.as_str()),
        );
    }
    for snapshot in own {
        let subject = snapshot.id.as_str();
        let Some(point) = snapshot.recovery_point() else {
            plan.skip(subject, "has no creation time yet");
            continue;
        };
        if !snapshot.is_available() {
            plan.skip(
                subject,
                format!(
                    "is {}; only available snapshots are deleted",
                    snapshot.status
                ),
            );
        } else if kept.contains(snapshot.arn.as_str()) {
            plan.skip(
                subject,
                format!(
                    "one of the newest {} available of {} (KeepLatest), kept whatever its age",
                    policy.keep_latest(),
                    snapshot.database_key()
                ),
            );
        } else if now - point < policy.retention() {
            plan.skip(
                subject,
                format!(
                    "{} old, inside RetentionDays ({})",
                    age(now - point),
                    age(policy.retention())
                ),
            );
        } else if copy_sources.contains(snapshot.arn.as_str()) {
            plan.skip(subject, "the source of a copy in progress");
        } else {
            plan.step(
                subject,
                Operation::Delete {
                    snapshot_id: snapshot.id.clone(),
                    kind: snapshot.kind,
                },
                format!(
                    "{} old, older than RetentionDays ({})",
                    age(now - point),
                    age(policy.retention())
                ),
            );
        }
    }
}
