//! delete: this policy's snapshots older than RetentionDays, except the newest KeepLatest
//! available per database, the newest of each of the last KeepDaily days, KeepWeekly ISO
//! weeks, KeepMonthly months and KeepYearly years with a snapshot, anything not made by this
//! policy, automated snapshots, and the source of a copy in progress. An original on the
//! AWS-managed key whose re-encrypted copy (ReencryptKmsKey) is available is deleted whatever
//! its age: the copy holds the same recovery point. A retired database (RetiredDatabases) keeps
//! its snapshots by these rules until RetiredKeepDays after its newest recovery point; then
//! none of them is held by a keep rule.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};

use super::{Operation, Plan, age, is_reencrypted_copy_of};
use crate::inventory::{Inventory, Kind, Snapshot, tags};
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
        .filter(|s| s.snapshot_type == "manual" && policy.is_made(s))
        .collect();
    let copy_sources: BTreeSet<&str> = inventory
        .snapshots
        .iter()
        .filter(|s| !s.is_available() && !s.is_failed())
        .filter_map(|s| s.tag(tags::SOURCE_ARN))
        .collect();
    // ReencryptKmsKey: originals on the AWS-managed key with a copy of this policy under way or
    // done. The copy carries the recovery point, so the rules below see it instead.
    let copies: BTreeMap<(&str, Kind), &Snapshot> = own
        .iter()
        .filter(|s| !s.is_failed())
        .filter_map(|s| {
            s.tag(tags::REENCRYPTED_FROM)
                .map(|from| ((from, s.kind), *s))
        })
        .collect();
    let reencrypted: BTreeMap<(&str, Kind), &Snapshot> = own
        .iter()
        .filter_map(|s| {
            let copy = copies.get(&(s.id.as_str(), s.kind))?;
            is_reencrypted_copy_of(policy, copy, s).then_some(((s.id.as_str(), s.kind), *copy))
        })
        .collect();
    let mut by_database: BTreeMap<(String, Kind), Vec<&Snapshot>> = BTreeMap::new();
    for s in own.iter().filter(|s| {
        s.is_available()
            && s.retention_time().is_some()
            && !reencrypted.contains_key(&(s.id.as_str(), s.kind))
    }) {
        by_database
            .entry((policy.database_key(s), s.kind))
            .or_default()
            .push(s);
    }
    let mut kept: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // Final recovery points of retired databases whose keep has ended: (arn, why it may go).
    let mut released: BTreeMap<&str, String> = BTreeMap::new();
    for ((database, _), list) in by_database.iter_mut() {
        let Some(entry) = policy.retired_by(database) else {
            for (arn, reason) in keepers(policy, list) {
                kept.entry(arn).or_default().push(reason);
            }
            continue;
        };
        // Retired: the keep rules hold its snapshots until RetiredKeepDays after the newest
        // recovery point (without an end, KeepLatest and the tiers would keep them forever).
        let Some(newest) = list.iter().copied().max_by_key(|s| s.retention_time()) else {
            continue;
        };
        let until = newest.retention_time().unwrap_or(now) + policy.spec.retired_keep();
        let until_text = until.format("%Y-%m-%d %H:%M UTC");
        if now < until {
            for (arn, reason) in keepers(policy, list) {
                kept.entry(arn).or_default().push(reason);
            }
            kept.entry(newest.arn.as_str()).or_default().push(format!(
                "the final recovery point of retired {database} (RetiredDatabases: {entry}), kept until {until_text} (RetiredKeepDays)"
            ));
        } else {
            released.insert(
                newest.arn.as_str(),
                format!(
                    "; the final recovery point of retired {database} (RetiredDatabases: {entry}), kept until {until_text} (RetiredKeepDays)"
                ),
            );
        }
    }
    for snapshot in own {
        let subject = snapshot.id.as_str();
        if let Some(copy) = reencrypted.get(&(subject, snapshot.kind)) {
            if copy.is_available() && snapshot.is_available() {
                delete(
                    plan,
                    snapshot,
                    format!(
                        "re-encrypted as {} (available), which holds the same recovery point: the AWS-managed-key original is no longer needed",
                        copy.id
                    ),
                );
            } else {
                plan.skip(
                    subject,
                    format!(
                        "being re-encrypted as {} ({}); kept until the copy is available",
                        copy.id, copy.status
                    ),
                );
            }
            continue;
        }
        let Some(point) = snapshot.retention_time() else {
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
        } else if let Some(reasons) = kept.get(snapshot.arn.as_str()) {
            plan.skip(
                subject,
                format!("{}, kept whatever its age", reasons.join("; also ")),
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
            delete(
                plan,
                snapshot,
                format!(
                    "{} old, older than RetentionDays ({}){}",
                    age(now - point),
                    age(policy.retention()),
                    released
                        .get(snapshot.arn.as_str())
                        .map_or("", String::as_str)
                ),
            );
        }
    }
}

fn delete(plan: &mut Plan, snapshot: &Snapshot, reason: String) {
    plan.step(
        &snapshot.id,
        Operation::Delete {
            snapshot_id: snapshot.id.clone(),
            kind: snapshot.kind,
        },
        reason,
    );
}

/// The bucket (day, ISO week, month, year) a recovery point falls in.
type BucketOf = fn(DateTime<Utc>) -> String;
/// A retention tier: its property, how many buckets it keeps, and its buckets.
type Tier = (&'static str, u64, BucketOf);

fn tiers(policy: &RuntimePolicy) -> Vec<Tier> {
    let spec = &policy.spec;
    let candidates: [(&'static str, Option<u64>, BucketOf); 4] = [
        ("KeepDaily", spec.keep_daily, |t| {
            t.format("%Y-%m-%d").to_string()
        }),
        ("KeepWeekly", spec.keep_weekly, |t| {
            let week = t.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }),
        ("KeepMonthly", spec.keep_monthly, |t| {
            t.format("%Y-%m").to_string()
        }),
        ("KeepYearly", spec.keep_yearly, |t| {
            t.format("%Y").to_string()
        }),
    ];
    candidates
        .into_iter()
        .filter_map(|(name, count, bucket)| count.map(|n| (name, n, bucket)))
        .collect()
}

/// The snapshots of one database that a keep rule holds, with the rule: the newest
/// `KeepLatest`, and for each tier the newest snapshot of each of its last N buckets (days, ISO
/// weeks, months, years by recovery point, UTC) that has one. Sorts `list` newest first; the
/// result does not depend on its order.
fn keepers<'a>(policy: &RuntimePolicy, list: &mut [&'a Snapshot]) -> Vec<(&'a str, String)> {
    list.sort_by(|a, b| {
        b.retention_time()
            .cmp(&a.retention_time())
            .then(b.arn.cmp(&a.arn))
    });
    let mut out: Vec<(&'a str, String)> = list
        .iter()
        .take(policy.keep_latest())
        .map(|s| {
            (
                s.arn.as_str(),
                format!(
                    "one of the newest {} available of {} (KeepLatest)",
                    policy.keep_latest(),
                    policy.database_key(s)
                ),
            )
        })
        .collect();
    for (name, count, bucket_of) in tiers(policy) {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for s in list.iter() {
            let Some(point) = s.retention_time() else {
                continue;
            };
            let bucket = bucket_of(point);
            if seen.contains(&bucket) {
                continue;
            }
            if seen.len() as u64 >= count {
                break;
            }
            out.push((
                s.arn.as_str(),
                format!("the newest of {bucket} ({name}: the last {count} with a snapshot)"),
            ));
            seen.insert(bucket);
        }
    }
    out
}
