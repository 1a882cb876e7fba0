//! `TwoStepCopy`: a shared snapshot is first copied into the DR account in the source region
//! (a same-region copy under `KmsKeySource`, which AWS accepts for encrypted shared snapshots
//! on every reading of its texts), then that copy is copied across regions like any
//! same-account copy. The first-step copy is deleted once the DR copy is available.
//!
//! Both steps carry the original snapshot's tags (source ARN, recovery point, database), so
//! the DR copy is recognised as the copy of the shared snapshot whichever route made it.

use std::collections::BTreeMap;

use super::{Operation, Plan};
use crate::inventory::{Inventory, Snapshot, tags};
use crate::policy::RuntimePolicy;

/// What the planner does with one shared snapshot that has no DR copy yet.
pub(super) enum FirstStep<'a> {
    /// The first-step copy is available: copy it across regions.
    CopyFrom(&'a Snapshot),
    /// Planned (a first-step copy to make, to wait for or to delete): nothing more this run.
    Handled,
}

/// This policy's first-step copies by the ARN of the snapshot each was copied from.
pub(super) fn first_copies<'a>(
    policy: &RuntimePolicy,
    inventory: &'a Inventory,
) -> BTreeMap<&'a str, &'a Snapshot> {
    inventory
        .staged
        .iter()
        .filter(|s| policy.is_tagged(s))
        .filter_map(|s| s.tag(tags::SOURCE_ARN).map(|arn| (arn, s)))
        .collect()
}

/// The first step for `source` (available, no DR copy yet), made as `name` (its DR copy's
/// name), with the tags its DR copy gets.
pub(super) fn first_step<'a>(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &Inventory,
    first: Option<&'a Snapshot>,
    (source, name): (&Snapshot, &str),
    copy_tags: &[(String, String)],
) -> FirstStep<'a> {
    let subject = source.arn.as_str();
    match first {
        Some(first) if first.is_available() => FirstStep::CopyFrom(first),
        Some(first) if first.is_failed() => {
            plan.step(
                subject,
                Operation::DeleteStaged {
                    snapshot_id: first.id.clone(),
                    kind: first.kind,
                },
                format!(
                    "the first-step copy {} in {} is {}: delete it, copied again on the next run",
                    first.id, policy.source_region, first.status
                ),
            );
            FirstStep::Handled
        }
        Some(first) => {
            plan.wait(
                subject,
                format!(
                    "first-step copy {} in {} is {}; copied to {} once available",
                    first.id, policy.source_region, first.status, policy.destination_region
                ),
            );
            FirstStep::Handled
        }
        None => {
            let taken = inventory
                .staged
                .iter()
                .any(|s| s.id == name && s.kind == source.kind);
            match policy.spec.kms_key_source.as_deref() {
                _ if taken => plan.skip(
                    subject,
                    format!(
                        "a snapshot named {name} already exists in {} in this account and is not this policy's first-step copy",
                        policy.source_region
                    ),
                ),
                None => plan.skip(subject, "TwoStepCopy needs KmsKeySource"),
                Some(key) => plan.step(
                    subject,
                    Operation::StageCopy {
                        source_arn: source.arn.clone(),
                        target_id: name.to_string(),
                        kind: source.kind,
                        kms_key_id: key.to_string(),
                        tags: copy_tags.to_vec(),
                    },
                    format!(
                        "no copy yet; first copy into this account in {} under {key} (TwoStepCopy)",
                        policy.source_region
                    ),
                ),
            }
            FirstStep::Handled
        }
    }
}

/// First-step copies whose DR copy is available are deleted; those whose shared snapshot is
/// gone (the source's retention) and that have no DR copy are returned, to be copied on.
pub(super) fn sweep_first_copies<'a>(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    inventory: &'a Inventory,
    dr_copies: &BTreeMap<&str, &Snapshot>,
) -> Vec<&'a Snapshot> {
    let shared: std::collections::BTreeSet<&str> =
        inventory.sources.iter().map(|s| s.arn.as_str()).collect();
    let mut orphans = Vec::new();
    for (original, first) in first_copies(policy, inventory) {
        match dr_copies.get(original) {
            Some(copy) if copy.is_available() => plan.step(
                &first.arn,
                Operation::DeleteStaged {
                    snapshot_id: first.id.clone(),
                    kind: first.kind,
                },
                format!(
                    "first-step copy of {original}: its DR copy {} is available",
                    copy.id
                ),
            ),
            Some(_) => {}
            None if !shared.contains(original) && first.is_available() => orphans.push(first),
            None => {}
        }
    }
    orphans
}
