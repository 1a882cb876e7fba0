//! share: this policy's available snapshots not yet shared with every destination account.

use super::{Operation, Plan, accounts_digest};
use crate::error::{ErrorKind, ProviderError};
use crate::inventory::{Inventory, KeyManager, tags};
use crate::policy::RuntimePolicy;

pub(super) fn plan_share(plan: &mut Plan, policy: &RuntimePolicy, inventory: &Inventory) {
    if !policy.spec.shares() || policy.accounts().is_empty() {
        plan.skip(&policy.id, "ShareSnapshots is false: nothing is shared");
        return;
    }
    let digest = accounts_digest(policy.accounts());
    let own = inventory.snapshots.iter().filter(|s| {
        s.snapshot_type == "manual"
            && s.tag(tags::POLICY) == Some(policy.id.as_str())
            && s.tag(tags::CREATED_BY) == Some(tags::TOOL)
    });
    for snapshot in own {
        let subject = snapshot.id.as_str();
        if snapshot.tag(tags::SHARED_WITH) == Some(digest.as_str()) {
            plan.skip(subject, "already shared with every destination account");
        } else if snapshot.is_failed() {
            plan.skip(subject, format!("snapshot is {}", snapshot.status));
        } else if !snapshot.is_available() {
            plan.wait(
                subject,
                format!("snapshot is {}; shared once available", snapshot.status),
            );
        } else if let Some(key) = snapshot.kms_key_id.as_deref().filter(|k| {
            snapshot.encrypted && inventory.key_managers.get(*k) == Some(&KeyManager::Aws)
        }) {
            plan.errors.push(ProviderError::new(
                ErrorKind::EncryptionNotShareable,
                format!(
                    "snapshot {subject} of {} is encrypted with the AWS-managed key {key}, which AWS does not allow to share with another account: encrypt the database with a customer-managed key that the DR account may use",
                    snapshot.database_key()
                ),
            ));
        } else {
            plan.step(
                subject,
                Operation::Share {
                    snapshot_id: snapshot.id.clone(),
                    snapshot_arn: snapshot.arn.clone(),
                    kind: snapshot.kind,
                    accounts: policy.accounts().to_vec(),
                    digest: digest.clone(),
                },
                format!("share with {}", policy.accounts().join(", ")),
            );
        }
    }
}
