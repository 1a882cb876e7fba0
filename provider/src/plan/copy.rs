//! copy (DR account): shared snapshots that match, are newer than CopyRetentionDays and have
//! no copy yet are copied in one call into DestinationRegion under the DR key.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{MULTI_AZ_CLUSTER_NOT_COPIED, Operation, Plan, age};
use crate::error::{ErrorKind, ProviderError};
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
            && s.tag(tags::POLICY) == Some(policy.id.as_str())
            && s.tag(tags::COPIED_BY) == Some(tags::TOOL)
            && s.tag(tags::DELIVERED).is_none()
            && s.created
                .is_some_and(|c| now - c <= chrono::Duration::hours(DELIVERY_WINDOW_HOURS))
    }) {
        let Some(point) = copy.recovery_point() else {
            continue;
        };
        let lag = (now - point).num_minutes().max(0);
        plan.step(
            &copy.id,
            Operation::MarkDelivered {
                snapshot_id: copy.id.clone(),
                snapshot_arn: copy.arn.clone(),
                database: copy.database_key().to_string(),
                delivered: now.to_rfc3339_opts(SecondsFormat::Secs, true),
                lag_minutes: lag,
            },
            format!(
                "available; delivered {} after its recovery point",
                age(now - point)
            ),
        );
    }
}

pub(super) fn plan_copy(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) {
    let Some(key) = policy.copy_key() else {
        plan.errors.push(ProviderError::new(
            ErrorKind::PolicyInvalid,
            format!(
                "no KMS key for copies in {}: set KmsKeyDestination",
                policy.destination_region
            ),
        ));
        return;
    };
    let cross_region = policy.source_region != policy.destination_region;
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
        .filter(|s| s.tag(tags::POLICY) == Some(policy.id.as_str()))
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
    // Newest first: when copies must wait, the freshest recovery points go first.
    candidates.sort_by(|a, b| {
        b.recovery_point()
            .cmp(&a.recovery_point())
            .then(a.arn.cmp(&b.arn))
    });
    mark_delivered(plan, policy, inventory, now);
    let known_accounts = policy.spec.source_account_list();
    for source in candidates {
        let subject = source.arn.as_str();
        let owner = source.arn.split(':').nth(4).unwrap_or_default();
        if !known_accounts.is_empty() && !known_accounts.iter().any(|a| a == owner) {
            plan.skip(
                subject,
                format!("shared by account {owner}, which is not one of SourceAccounts"),
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
                    "taken {} ago, older than CopyRetentionDays ({})",
                    age(now - point),
                    age(policy.copy_retention())
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
        if let Some(other) = existing.get(&(source.id.as_str(), source.kind)) {
            plan.skip(
                subject,
                format!(
                    "a snapshot named {} already exists in {} and is not this policy's copy",
                    other.id, policy.destination_region
                ),
            );
            continue;
        }
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
                ErrorKind::InputInvalid,
                format!("the ARN of {subject} is longer than a tag value may be, so its copy could not be recorded: shorten the snapshot identifier"),
            ));
            continue;
        }
        let flying = in_flight.entry(source.kind).or_default();
        if cross_region && *flying >= copy_limit(source.kind) {
            plan.wait(
                subject,
                format!(
                    "{}: {} cross-region copies of {} snapshots are in flight to {}, AWS allows {}; copied on a later run",
                    ErrorKind::CopyLimitReached.name(),
                    flying,
                    source.kind.noun(),
                    policy.destination_region,
                    copy_limit(source.kind)
                ),
            );
            continue;
        }
        // A cross-region copy of an instance snapshot with its own option group takes
        // DestinationOptionGroupName when the policy names one. AWS requires it only when the
        // group holds TDE (RDS API reference, CopyDBSnapshot: OptionGroupName); otherwise the
        // copy proceeds and its restores get the region's default group (AWS refuses a TDE
        // copy itself, and the error names the property).
        let option_group = match source.option_group.as_deref() {
            Some(group)
                if cross_region
                    && source.kind == Kind::Instance
                    && !group.starts_with("default:") =>
            {
                policy.spec.destination_option_group_name.clone()
            }
            _ => None,
        };
        *flying += 1;
        plan.step(
            subject,
            Operation::Copy {
                source_arn: source.arn.clone(),
                target_id: source.id.clone(),
                kind: source.kind,
                kms_key_id: key.to_string(),
                tags: vec![
                    (tags::COPIED_BY.into(), tags::TOOL.into()),
                    (tags::POLICY.into(), policy.id.clone()),
                    (tags::DATABASE.into(), source.database.clone()),
                    (tags::SOURCE_ARN.into(), source.arn.clone()),
                    (
                        tags::RECOVERY_POINT.into(),
                        point.to_rfc3339_opts(SecondsFormat::Secs, true),
                    ),
                ],
                option_group: option_group.clone(),
            },
            format!(
                "taken {} ago, no copy yet; copy to {} under {key}{}",
                age(now - point),
                policy.destination_region,
                option_group
                    .map(|g| format!(" with the option group {g}"))
                    .unwrap_or_default()
            ),
        );
    }
}
