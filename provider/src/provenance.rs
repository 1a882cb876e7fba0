//! Provenance of shares, both ways: at the DR account, accounts outside SourceAccounts that
//! share snapshots matching a policy (never copied); at the source, accounts a policy's
//! snapshots are shared with outside the tool, as their restore attributes show. Each is
//! reported in the run's summary and as a metric its generated alarm watches.

use std::collections::BTreeMap;

use rds_snapshot_policy_core::Role;
use rds_snapshot_policy_core::contract::{MetricDatum, metrics};

use crate::inventory::Inventory;
use crate::policy::RuntimePolicy;

/// DR: accounts outside SourceAccounts sharing snapshots this policy would otherwise copy.
pub fn unexpected_sharers(
    policy: &RuntimePolicy,
    inventory: &Inventory,
) -> BTreeMap<String, usize> {
    let known = policy.spec.source_account_list();
    let mut out = BTreeMap::new();
    if policy.role() != Role::Destination || known.is_empty() {
        return out;
    }
    for s in inventory
        .sources
        .iter()
        .filter(|s| crate::plan::copy::selected(policy, s))
    {
        let owner = s.arn.split(':').nth(4).unwrap_or_default();
        if !known.iter().any(|a| a == owner) {
            *out.entry(owner.to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// The `UnexpectedSharedSnapshots` datum of a cross-account DR run (0 included, so the alarm
/// returns to OK).
pub fn unexpected_shares_metric(
    policy: &RuntimePolicy,
    sharers: &BTreeMap<String, usize>,
) -> Option<MetricDatum> {
    (policy.role() == Role::Destination && policy.spec.copies_across_accounts()).then(|| {
        MetricDatum::of_policy(
            metrics::UNEXPECTED_SHARES,
            &policy.id,
            sharers.values().sum::<usize>() as f64,
        )
    })
}

/// Source, share: the policy's snapshots AWS shows shared outside the tool, with the accounts.
pub fn shared_outside(
    policy: &RuntimePolicy,
    inventory: &Inventory,
) -> BTreeMap<String, Vec<String>> {
    inventory
        .snapshots
        .iter()
        .filter(|s| inventory.restore_accounts.contains_key(&s.arn))
        .map(|s| {
            (
                s.id.clone(),
                crate::plan::share::shared_outside(policy, s, inventory),
            )
        })
        .filter(|(_, accounts)| !accounts.is_empty())
        .collect()
}

/// The `SnapshotsSharedOutsidePolicy` datum of a share run (0 included, so the alarm returns
/// to OK once the shares are gone).
pub fn shared_outside_metric(
    policy: &RuntimePolicy,
    found: &BTreeMap<String, Vec<String>>,
) -> MetricDatum {
    MetricDatum::of_policy(
        metrics::SHARED_OUTSIDE_POLICY,
        &policy.id,
        found.len() as f64,
    )
}

/// Snapshots a share run's summary names as shared outside the tool (the metric counts all).
pub const SHARED_OUTSIDE_LISTED: usize = 20;
