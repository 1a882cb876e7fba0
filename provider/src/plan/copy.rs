//! copy (DR account): shared snapshots that match, are newer than CopyRetentionDays and have
//! no copy yet are copied in one call into DestinationRegion under the DR key (or in two, with
//! `TwoStepCopy`: see `two_step`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};

use super::two_step::{self, FirstStep};
use super::{MULTI_AZ_CLUSTER_NOT_COPIED, Operation, Plan, age};
use crate::error::{ErrorName, ProviderError};
use crate::inventory::{Inventory, Kind, Snapshot, tags};
use crate::policy::{RuntimePolicy, Selector};

/// AWS's limit on cross-region snapshot copies in flight into one region.
pub fn copy_limit(kind: Kind) -> usize {
    match kind {
        Kind::Instance => 20,
        Kind::Cluster => 5,
    }
}

/// AWS limits tag values to 256 characters.
const MAX_TAG_VALUE: usize = 256;

pub(crate) fn selected(policy: &RuntimePolicy, s: &Snapshot) -> bool {
    match &policy.selector {
        Selector::Pattern(re) => re.is_match(&s.id),
        Selector::Instance(id) => s.kind == Kind::Instance && s.database == *id,
        Selector::Cluster(id) => s.kind == Kind::Cluster && s.database == *id,
    }
}

/// Whether `source` was shared by one of SourceAccounts (any account when none is listed).
pub(crate) fn from_source_account(policy: &RuntimePolicy, source: &Snapshot) -> bool {
    let known = policy.spec.source_account_list();
    known.is_empty()
        || source
            .source_account()
            .is_some_and(|owner| known.iter().any(|a| a == owner))
}

/// Copies started this long ago at most are marked when first seen available; older ones (from
/// before this release) are left alone rather than reported with a made-up lag.
const DELIVERY_WINDOW_HOURS: i64 = 6;

/// This policy's copies that became available since the last run: tag them with `now` (the
/// event's time when a copy-finished event started the run, else the sweep's), whose distance
/// from the recovery point is the delivery lag.
fn mark_delivered(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) {
    for copy in inventory.snapshots.iter().filter(|s| {
        s.is_available()
            && policy.is_copy(s)
            && s.tag(tags::DELIVERED).is_none()
            && s.created
                .is_some_and(|c| now - c <= chrono::Duration::hours(DELIVERY_WINDOW_HOURS))
    }) {
        let Some(point) = copy.recovery_point() else {
            continue;
        };
        let lag = (now - point).num_minutes().max(0);
        let copy_minutes = copy
            .created
            .map_or(0, |started| (now - started).num_minutes().clamp(0, lag));
        plan.step(
            &copy.id,
            Operation::MarkDelivered {
                snapshot_id: copy.id.clone(),
                snapshot_arn: copy.arn.clone(),
                database: policy.database_key(copy),
                delivered: now.to_rfc3339_opts(SecondsFormat::Secs, true),
                lag_minutes: lag,
                copy_minutes,
            },
            format!(
                "available; delivered {} after its recovery point",
                age(now - point)
            ),
        );
    }
}

/// The order copies start in when AWS's copies in flight cannot take them all (issue 28): first
/// each database's newest snapshot that is newer than its newest DR copy (available or still
/// copying), the database furthest behind first (never copied: first of all); then the rest,
/// newest first. Newest first alone gave every free slot, run after run, to the databases
/// that snapshot latest in the cycle, while the others aged past the RPO.
fn fair_order<'a>(
    policy: &RuntimePolicy,
    inventory: &Inventory,
    newest_first: Vec<&'a Snapshot>,
) -> Vec<&'a Snapshot> {
    let mut dr_points: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for copy in inventory.snapshots.iter() {
        if let (true, Some(point)) = (
            policy.is_copy(copy) && !copy.is_failed(),
            copy.recovery_point(),
        ) {
            let newest = dr_points.entry(policy.database_key(copy)).or_insert(point);
            *newest = (*newest).max(point);
        }
    }
    let mut first: Vec<(Option<DateTime<Utc>>, &Snapshot)> = Vec::new();
    let mut rest = Vec::new();
    let mut served = BTreeSet::new();
    for source in newest_first {
        let key = policy.database_key(source);
        let behind = dr_points.get(&key).copied();
        let newer = source
            .recovery_point()
            .is_some_and(|point| behind.is_none_or(|dr| point > dr));
        if newer && served.insert(key) {
            first.push((behind, source));
        } else {
            rest.push(source);
        }
    }
    // Stable: equally far behind keep newest first.
    first.sort_by_key(|(behind, _)| *behind);
    first.into_iter().map(|(_, s)| s).chain(rest).collect()
}

pub(super) fn plan_copy(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) {
    let Some(key) = policy.copy_key() else {
        plan.errors.push(ProviderError::new(
            ErrorName::PolicyInvalid,
            format!(
                "no KMS key for copies in {}: set KmsKeyDestination",
                policy.destination_region
            ),
        ));
        return;
    };
    let mut in_flight: BTreeMap<Kind, usize> = BTreeMap::new();
    for copy in inventory
        .snapshots
        .iter()
        .filter(|s| s.tag(tags::SOURCE_ARN).is_some())
    {
        if !copy.is_available() && !copy.is_failed() {
            *in_flight.entry(copy.kind).or_default() += 1;
        }
    }
    // Indexes, so each candidate is checked without scanning the inventory again.
    let our_copies: BTreeMap<&str, &Snapshot> = inventory
        .snapshots
        .iter()
        .filter(|s| policy.is_tagged(s))
        .filter_map(|s| s.tag(tags::SOURCE_ARN).map(|arn| (arn, s)))
        .collect();
    let existing: BTreeMap<(&str, Kind), &Snapshot> = inventory
        .snapshots
        .iter()
        .map(|s| ((s.id.as_str(), s.kind), s))
        .collect();
    let mut candidates: Vec<&Snapshot> = inventory
        .sources
        .iter()
        .filter(|s| selected(policy, s))
        .filter(|s| {
            policy.spec.copies_across_accounts() || s.tag(tags::CREATED_BY) == Some(tags::TOOL)
        })
        .collect();
    // Newest first: when copies must wait, the freshest recovery points go first; but each
    // database's newest goes before any database's second (`fair_order`).
    candidates.sort_by(|a, b| {
        b.recovery_point()
            .cmp(&a.recovery_point())
            .then(a.arn.cmp(&b.arn))
    });
    let candidates = fair_order(policy, inventory, candidates);
    mark_delivered(plan, policy, inventory, now);
    let two_steps = policy.spec.copies_in_two_steps();
    let first_copies = two_step::first_copies(policy, inventory);
    let orphans = if two_steps {
        two_step::sweep_first_copies(plan, policy, inventory, &our_copies)
    } else {
        Vec::new()
    };
    // Copy names taken by this run (two source accounts may name snapshots alike).
    let mut claimed: BTreeSet<(String, Kind)> = BTreeSet::new();
    for source in candidates {
        let subject = source.arn.as_str();
        if !from_source_account(policy, source) {
            let owner = source.source_account().unwrap_or("an unknown account");
            plan.skip(
                subject,
                format!("shared by account {owner}, which is not one of SourceAccounts"),
            );
            continue;
        }
        if let Some(entry) = policy.retired_by(&policy.database_key(source)) {
            plan.skip(
                subject,
                format!("its database is retired (RetiredDatabases: {entry}): no new copy is made"),
            );
            continue;
        }
        let Some(point) = source.recovery_point() else {
            plan.wait(
                subject,
                format!("snapshot is {} and has no creation time yet", source.status),
            );
            continue;
        };
        if now - point > policy.copy_retention() {
            plan.skip(
                subject,
                format!(
                    "taken {} ago, older than {} ({}){}",
                    age(now - point),
                    policy.spec.copy_retention_property(),
                    age(policy.copy_retention()),
                    if policy.spec.copy_retention_property() == "CopyRetentionDays" {
                        ""
                    } else {
                        ": its copy would be deleted by the next delete run"
                    }
                ),
            );
            continue;
        }
        if source.is_multi_az_cluster() {
            plan.skip(subject, MULTI_AZ_CLUSTER_NOT_COPIED);
            continue;
        }
        if let Some(copy) = our_copies.get(subject) {
            plan.skip(
                subject,
                format!("already copied as {} ({})", copy.id, copy.status),
            );
            continue;
        }
        let Some(target_id) = copy_name(policy, source, &existing, &claimed) else {
            plan.skip(
                subject,
                format!(
                    "a snapshot named {} already exists in {} and is not this policy's copy",
                    source.id, policy.destination_region
                ),
            );
            continue;
        };
        if source.is_failed() {
            plan.skip(subject, format!("snapshot is {}", source.status));
            continue;
        }
        if !source.is_available() {
            plan.wait(
                subject,
                format!("snapshot is {}; copied once available", source.status),
            );
            continue;
        }
        if subject.len() > MAX_TAG_VALUE {
            plan.errors.push(ProviderError::new(
                ErrorName::InputInvalid,
                format!("the ARN of {subject} is longer than a tag value may be, so its copy could not be recorded: shorten the snapshot identifier"),
            ));
            continue;
        }
        let copy_tags = vec![
            (tags::COPIED_BY.into(), tags::TOOL.into()),
            (tags::POLICY.into(), policy.id.clone()),
            (tags::DATABASE.into(), source.database.clone()),
            (tags::SOURCE_ARN.into(), source.arn.clone()),
            (
                tags::RECOVERY_POINT.into(),
                point.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
        ];
        let mut from = source;
        if two_steps {
            let first = first_copies.get(subject).copied();
            match two_step::first_step(
                plan,
                policy,
                inventory,
                first,
                (source, &target_id),
                &copy_tags,
            ) {
                FirstStep::CopyFrom(first) => from = first,
                FirstStep::Handled => continue,
            }
        }
        let reason = format!("taken {} ago, no copy yet", age(now - point));
        if plan_dr_copy(
            plan,
            policy,
            key,
            &mut in_flight,
            DrCopy {
                subject,
                from,
                target_id: &target_id,
                tags: copy_tags,
            },
            reason,
        ) {
            claimed.insert((target_id, source.kind));
        }
    }
    for first in orphans {
        let (Some(original), Some(point)) = (first.tag(tags::SOURCE_ARN), first.recovery_point())
        else {
            continue;
        };
        if now - point > policy.copy_retention() {
            plan.step(
                original,
                Operation::DeleteStaged {
                    snapshot_id: first.id.clone(),
                    kind: first.kind,
                },
                format!(
                    "first-step copy {} is older than {} and has no DR copy",
                    first.id,
                    policy.spec.copy_retention_property()
                ),
            );
            continue;
        }
        let reason = format!(
            "the shared snapshot is gone; its first-step copy (taken {} ago) has no DR copy yet",
            age(now - point)
        );
        plan_dr_copy(
            plan,
            policy,
            key,
            &mut in_flight,
            DrCopy {
                subject: original,
                from: first,
                target_id: &first.id,
                tags: first
                    .tags
                    .iter()
                    .filter(|(k, _)| COPY_TAGS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            },
            reason,
        );
    }
}

/// The tags a DR copy carries over from its source (or from a first-step copy).
const COPY_TAGS: [&str; 5] = [
    tags::COPIED_BY,
    tags::POLICY,
    tags::DATABASE,
    tags::SOURCE_ARN,
    tags::RECOVERY_POINT,
];

/// One copy into the DR region: of the shared snapshot `subject`, made from `from` (the
/// shared snapshot itself, or its first-step copy).
struct DrCopy<'a> {
    subject: &'a str,
    from: &'a Snapshot,
    target_id: &'a str,
    tags: Vec<(String, String)>,
}

/// The name of `source`'s DR copy: its own name, unless this policy's copy of a snapshot of
/// another account holds it (StackSets deploy one policy to many accounts, whose databases and
/// schedules, and so snapshot names, may be alike), then the name with the source account.
/// `None` when another snapshot holds the name: it is left alone.
fn copy_name(
    policy: &RuntimePolicy,
    source: &Snapshot,
    existing: &BTreeMap<(&str, Kind), &Snapshot>,
    claimed: &BTreeSet<(String, Kind)>,
) -> Option<String> {
    let free = |name: &str| {
        !existing.contains_key(&(name, source.kind))
            && !claimed.contains(&(name.to_string(), source.kind))
    };
    if free(&source.id) {
        return Some(source.id.clone());
    }
    let holder = existing.get(&(source.id.as_str(), source.kind));
    let ours = holder.is_none_or(|other| policy.is_copy(other));
    let account = source.source_account()?;
    let name = super::fit_name(&source.id, account, source.kind);
    (ours && free(&name)).then_some(name)
}

/// Plans `copy` unless the cross-region copies in flight are at AWS's limit; whether it did.
fn plan_dr_copy(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    key: &str,
    in_flight: &mut BTreeMap<Kind, usize>,
    copy: DrCopy<'_>,
    reason: String,
) -> bool {
    let DrCopy {
        subject,
        from,
        target_id,
        tags,
    } = copy;
    let cross_region = policy.source_region != policy.destination_region;
    let flying = in_flight.entry(from.kind).or_default();
    if cross_region && *flying >= copy_limit(from.kind) {
        plan.wait(
            subject,
            format!(
                "{}: {} cross-region copies of {} snapshots are in flight to {}, AWS allows {}; copied on a later run",
                ErrorName::CopyLimitReached.name(),
                flying,
                from.kind.noun(),
                policy.destination_region,
                copy_limit(from.kind)
            ),
        );
        return false;
    }
    // A cross-region copy of an instance snapshot with its own option group takes
    // DestinationOptionGroupName when the policy names one. AWS requires it only when the
    // group holds TDE (RDS API reference, CopyDBSnapshot: OptionGroupName); otherwise the
    // copy proceeds and its restores get the region's default group (AWS refuses a TDE
    // copy itself, and the error names the property).
    let option_group = match from.option_group.as_deref() {
        Some(group)
            if cross_region && from.kind == Kind::Instance && !group.starts_with("default:") =>
        {
            policy.spec.destination_option_group_name.clone()
        }
        _ => None,
    };
    *flying += 1;
    let via = if from.arn == subject {
        String::new()
    } else {
        format!(" from its first-step copy {}", from.id)
    };
    plan.step(
        subject,
        Operation::Copy {
            source_arn: from.arn.clone(),
            target_id: target_id.to_string(),
            kind: from.kind,
            kms_key_id: key.to_string(),
            tags,
            option_group: option_group.clone(),
        },
        format!(
            "{reason}; copy to {}{via} under {key}{}",
            policy.destination_region,
            option_group
                .map(|g| format!(" with the option group {g}"))
                .unwrap_or_default()
        ),
    );
    true
}
