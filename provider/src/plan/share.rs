//! share: this policy's available snapshots are shared with exactly the policy's accounts.
//! The accounts the tool shared with are recorded in the `shared-with` tags, so an account
//! removed from the policy is revoked on the next run; accounts someone else added are never
//! touched, and `all` is never shared or revoked, unless the policy opts in with
//! `RevokeUnknownShares`: then the accounts AWS's `restore` attribute names that the tool
//! neither shares with nor recorded (and `all`) are removed. Either way they are reported
//! (`shared_outside`, the `SnapshotsSharedOutsidePolicy` metric).

use super::{
    MULTI_AZ_CLUSTER_NOT_COPIED, Operation, Plan, accounts_digest, is_reencrypted_copy_of,
};
use crate::error::{ErrorName, ProviderError};
use std::collections::BTreeMap;

use crate::inventory::{Inventory, KeyManager, Kind, Snapshot, tags};
use crate::policy::RuntimePolicy;

/// No more accounts: the value of the second tag when the first holds them all.
const NONE: &str = "-";

/// What a snapshot's tags say it was shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Never,
    /// The account IDs the tool shared with, sorted.
    Accounts(Vec<String>),
    /// Release 0.1's digest: which accounts it stood for cannot be told.
    Digest,
}

/// Reads the `shared-with` tags.
pub fn recorded(snapshot: &Snapshot) -> Recorded {
    let Some(first) = snapshot.tag(tags::SHARED_WITH) else {
        return Recorded::Never;
    };
    let mut accounts = Vec::new();
    for value in [Some(first), snapshot.tag(tags::SHARED_WITH_2)]
        .into_iter()
        .flatten()
    {
        if value == NONE {
            continue;
        }
        let ids: Vec<&str> = value.split(' ').collect();
        if !ids
            .iter()
            .all(|id| rds_snapshot_policy_core::spec::is_account_id(id))
        {
            return Recorded::Digest;
        }
        accounts.extend(ids.into_iter().map(str::to_string));
    }
    accounts.sort_unstable();
    accounts.dedup();
    Recorded::Accounts(accounts)
}

/// The policy's accounts, sorted and without duplicates.
fn wanted(policy: &RuntimePolicy) -> Vec<String> {
    let mut accounts: Vec<String> = policy.accounts().to_vec();
    accounts.sort_unstable();
    accounts.dedup();
    accounts
}

/// The `shared-with` tags for `accounts` (at most `SHARED_WITH_PER_TAG` per tag, each value
/// within RDS's 256 characters). The second tag is written when needed or when it exists.
pub fn record_tags(accounts: &[String], had_second: bool) -> Vec<(String, String)> {
    let (first, rest) = accounts.split_at(accounts.len().min(tags::SHARED_WITH_PER_TAG));
    let value = |ids: &[String]| {
        if ids.is_empty() {
            NONE.to_string()
        } else {
            ids.join(" ")
        }
    };
    let mut out = vec![(tags::SHARED_WITH.to_string(), value(first))];
    if !rest.is_empty() || had_second {
        out.push((tags::SHARED_WITH_2.to_string(), value(rest)));
    }
    out
}

/// A manual snapshot this policy took (its tag and the tool's marker): what it shares and audits.
pub fn is_own(policy: &RuntimePolicy, snapshot: &Snapshot) -> bool {
    snapshot.snapshot_type == "manual" && policy.is_marked(snapshot, tags::CREATED_BY)
}

/// The accounts (or `all`) AWS says may restore `snapshot` that the tool did not share it
/// with: neither the policy's accounts nor recorded in its `shared-with` tags (those the policy
/// dropped are revoked anyway). Empty when the attribute was not read.
pub fn shared_outside(
    policy: &RuntimePolicy,
    snapshot: &Snapshot,
    inventory: &Inventory,
) -> Vec<String> {
    let Some(actual) = inventory.restore_accounts.get(&snapshot.arn) else {
        return Vec::new();
    };
    let accounts = wanted(policy);
    let had = match recorded(snapshot) {
        Recorded::Accounts(had) => had,
        Recorded::Never | Recorded::Digest => Vec::new(),
    };
    let mut out: Vec<String> = actual
        .iter()
        .filter(|a| !accounts.contains(a) && !had.contains(a))
        .cloned()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the snapshot's shares differ from the policy's accounts.
pub fn needs_share(policy: &RuntimePolicy, snapshot: &Snapshot) -> bool {
    recorded(snapshot) != Recorded::Accounts(wanted(policy))
}

/// The AWS-managed key a snapshot is encrypted with, if it is.
fn aws_managed_key<'a>(snapshot: &'a Snapshot, inventory: &Inventory) -> Option<&'a str> {
    snapshot
        .kms_key_id
        .as_deref()
        .filter(|k| snapshot.encrypted && inventory.key_managers.get(*k) == Some(&KeyManager::Aws))
}

/// `orders-2026-11-24-07-00-cmk`: the re-encrypted copy of an AWS-managed-key snapshot.
pub fn reencrypted_name(original: &str) -> String {
    format!("{original}{}", tags::REENCRYPTED_SUFFIX)
}

/// ReencryptKmsKey: an available snapshot on the AWS-managed key is copied in this account and
/// region under the customer-managed key (the copy carries the marker, the policy and the
/// original's recovery point, and is shared like any other); once the copy is available the
/// original is deleted. A failed copy is deleted so the next run copies again.
fn plan_reencrypt(
    plan: &mut Plan,
    policy: &RuntimePolicy,
    by_name: &BTreeMap<(&str, Kind), &Snapshot>,
    original: &Snapshot,
    key: &str,
) {
    let subject = original.id.as_str();
    let name = reencrypted_name(subject);
    let existing = by_name.get(&(name.as_str(), original.kind)).copied();
    match existing {
        None => {
            let Some(point) = original.recovery_point() else {
                plan.wait(subject, "snapshot has no creation time yet");
                return;
            };
            plan.step(
                subject,
                Operation::Copy {
                    source_arn: original.arn.clone(),
                    target_id: name.clone(),
                    kind: original.kind,
                    kms_key_id: key.to_string(),
                    tags: vec![
                        (policy.marker_tag().to_string(), tags::TOOL.to_string()),
                        (tags::POLICY.into(), policy.id.clone()),
                        (
                            tags::DATABASE.into(),
                            original.database_key().to_string(),
                        ),
                        (
                            tags::RECOVERY_POINT.into(),
                            point.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        ),
                        (tags::REENCRYPTED_FROM.into(), original.id.clone()),
                    ],
                    option_group: None,
                },
                format!(
                    "encrypted with the AWS-managed key, which AWS does not share: re-encrypt as {name} under ReencryptKmsKey {key}; the copy is shared once available"
                ),
            );
        }
        Some(copy) if is_reencrypted_copy_of(policy, copy, original) => {
            if copy.is_available() {
                plan.step(
                    subject,
                    Operation::Delete {
                        snapshot_id: original.id.clone(),
                        kind: original.kind,
                    },
                    format!(
                        "re-encrypted as {name} (available), which is shared instead: the AWS-managed-key original is no longer needed"
                    ),
                );
            } else if copy.is_failed() {
                plan.step(
                    &name,
                    Operation::Delete {
                        snapshot_id: copy.id.clone(),
                        kind: copy.kind,
                    },
                    format!(
                        "the re-encrypted copy of {subject} is {}: deleted, copied again on the next run",
                        copy.status
                    ),
                );
            } else {
                plan.wait(
                    subject,
                    format!("re-encrypting as {name} ({}); shared once available", copy.status),
                );
            }
        }
        Some(_) => plan.errors.push(ProviderError::new(
            ErrorName::PolicyInvalid,
            format!(
                "snapshot {subject} must be re-encrypted as {name}, but a snapshot of that name exists that is not its copy by this policy: rename or delete it"
            ),
        )),
    }
}

/// Adds `add` to `snapshot`'s shares, removes `revoke`, and records the policy's `accounts`.
fn share_operation(
    snapshot: &Snapshot,
    accounts: &[String],
    add: Vec<String>,
    revoke: Vec<String>,
) -> Operation {
    Operation::Share {
        snapshot_id: snapshot.id.clone(),
        snapshot_arn: snapshot.arn.clone(),
        kind: snapshot.kind,
        accounts: add,
        revoke,
        record: record_tags(accounts, snapshot.tag(tags::SHARED_WITH_2).is_some()),
    }
}

pub(super) fn plan_share(plan: &mut Plan, policy: &RuntimePolicy, inventory: &Inventory) {
    if !policy.spec.shares() || policy.accounts().is_empty() {
        plan.skip(&policy.id, "ShareSnapshots is false: nothing is shared");
        return;
    }
    let accounts = wanted(policy);
    // Re-encryption looks up each original's copy by name: one index, not a scan per snapshot.
    let by_name: BTreeMap<(&str, Kind), &Snapshot> = if policy.spec.reencrypts() {
        inventory
            .snapshots
            .iter()
            .map(|s| ((s.id.as_str(), s.kind), s))
            .collect()
    } else {
        BTreeMap::new()
    };
    for snapshot in inventory.snapshots.iter().filter(|s| is_own(policy, s)) {
        let subject = snapshot.id.as_str();
        let before = recorded(snapshot);
        let outside = shared_outside(policy, snapshot, inventory);
        let unknown = if policy.spec.revokes_unknown_shares() {
            outside.clone()
        } else {
            if !outside.is_empty() {
                plan.skip(
                    subject,
                    format!(
                        "shared outside the tool with {}: reported (SnapshotsSharedOutsidePolicy), left as is; RevokeUnknownShares: true removes such shares",
                        outside.join(", ")
                    ),
                );
            }
            Vec::new()
        };
        if snapshot.is_multi_az_cluster() {
            plan.skip(subject, MULTI_AZ_CLUSTER_NOT_COPIED);
        } else if !needs_share(policy, snapshot) && !unknown.is_empty() {
            plan.step(
                subject,
                share_operation(snapshot, &accounts, Vec::new(), unknown.clone()),
                format!(
                    "revoke {} (shared outside the tool; RevokeUnknownShares)",
                    unknown.join(", ")
                ),
            );
        } else if !needs_share(policy, snapshot) {
            plan.skip(subject, "already shared with every destination account");
        } else if snapshot.is_failed() {
            plan.skip(subject, format!("snapshot is {}", snapshot.status));
        } else if !snapshot.is_available() {
            plan.wait(
                subject,
                format!("snapshot is {}; shared once available", snapshot.status),
            );
        } else if let Some(key) = aws_managed_key(snapshot, inventory) {
            if let Some(reencrypt_key) = policy.spec.reencrypt_kms_key.as_deref() {
                plan_reencrypt(plan, policy, &by_name, snapshot, reencrypt_key);
                continue;
            }
            plan.errors.push(ProviderError::new(
                ErrorName::EncryptionNotShareable,
                format!(
                    "snapshot {subject} of {} is encrypted with the AWS-managed key {key}, which AWS does not allow to share with another account: encrypt the database with a customer-managed key that the DR account may use",
                    snapshot.database_key()
                ),
            ));
        } else {
            let (add, mut revoke): (Vec<String>, Vec<String>) = match &before {
                Recorded::Accounts(had) => (
                    accounts
                        .iter()
                        .filter(|a| !had.contains(a))
                        .cloned()
                        .collect(),
                    had.iter()
                        .filter(|a| !accounts.contains(a))
                        .cloned()
                        .collect(),
                ),
                // Release 0.1's digest of exactly today's accounts: they are shared already.
                Recorded::Digest
                    if snapshot.tag(tags::SHARED_WITH)
                        == Some(accounts_digest(&accounts).as_str()) =>
                {
                    (Vec::new(), Vec::new())
                }
                Recorded::Never | Recorded::Digest => (accounts.clone(), Vec::new()),
            };
            let mut reason = if add.is_empty() {
                format!("shared with {}", accounts.join(", "))
            } else {
                format!("share with {}", add.join(", "))
            };
            if !revoke.is_empty() {
                reason.push_str(&format!(
                    "; revoke {} (no longer in DestinationAccounts)",
                    revoke.join(", ")
                ));
            }
            if !unknown.is_empty() {
                reason.push_str(&format!(
                    "; revoke {} (shared outside the tool; RevokeUnknownShares)",
                    unknown.join(", ")
                ));
                revoke.extend(
                    unknown
                        .iter()
                        .filter(|a| !revoke.contains(a))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
            }
            if before == Recorded::Digest {
                reason.push_str("; recorded by release 0.1 as a digest: now recorded as account IDs (an account shared with before that the digest does not stand for cannot be told, so none is revoked)");
            }
            plan.step(
                subject,
                share_operation(snapshot, &accounts, add, revoke),
                reason,
            );
        }
    }
}
