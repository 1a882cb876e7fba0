//! `plan(action, policy, inventory, now)`: what to create, share, copy and delete, and what to
//! leave alone, each with a reason. Pure: the executor lists the inventory and applies the plan.

pub(crate) mod copy;
mod delete;
pub mod drill;
pub mod share;
mod take;

pub use take::{Covered, covered_databases};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::ProviderError;
use crate::inventory::Inventory;
use crate::policy::RuntimePolicy;

pub use rds_snapshot_policy_macro::contract::{Action, KindName, Note, Operation, Step};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub action: Action,
    pub policy: String,
    pub steps: Vec<Step>,
    pub skipped: Vec<Note>,
    pub pending: Vec<Note>,
    /// Problems that stop part of the action; the run reports the worst after applying.
    #[serde(skip)]
    pub errors: Vec<ProviderError>,
}

impl Plan {
    fn new(action: Action, policy: &RuntimePolicy) -> Self {
        Plan {
            action,
            policy: policy.id.clone(),
            steps: Vec::new(),
            skipped: Vec::new(),
            pending: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn skip(&mut self, subject: &str, reason: impl Into<String>) {
        self.skipped.push(Note {
            subject: subject.to_string(),
            reason: reason.into(),
        });
    }

    fn wait(&mut self, subject: &str, reason: impl Into<String>) {
        self.pending.push(Note {
            subject: subject.to_string(),
            reason: reason.into(),
        });
    }

    fn step(&mut self, subject: &str, operation: Operation, reason: impl Into<String>) {
        self.steps.push(Step {
            subject: subject.to_string(),
            operation,
            reason: reason.into(),
        });
    }
}

/// Decides what `action` does for `policy`, given `inventory` at time `now`.
pub fn plan(
    action: Action,
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::new(action, policy);
    match action {
        Action::Take => take::plan_take(&mut plan, policy, inventory, now),
        Action::Share => share::plan_share(&mut plan, policy, inventory),
        Action::Copy => copy::plan_copy(&mut plan, policy, inventory, now),
        Action::Delete => delete::plan_delete(&mut plan, policy, inventory, now),
        Action::Drill => plan.skip(
            &policy.id,
            "the drill is not a plan of snapshot writes: run it with `rds-snapshot-policy drill`",
        ),
    }
    plan
}

/// `orders-2026-11-24-07-00`: the snapshot name for `database` at `now` (UTC).
pub fn snapshot_name(database: &str, now: DateTime<Utc>) -> String {
    format!("{database}-{}", now.format("%Y-%m-%d-%H-%M"))
}

/// `orders-1a2b3c-2026-11-24-07-00`: the name when the plain one is another policy's (two
/// stacks' policies on one database), with 6 hex digits of this policy's id.
pub fn policy_snapshot_name(database: &str, policy_id: &str, now: DateTime<Utc>) -> String {
    let digest = fnv_hex(policy_id);
    format!(
        "{database}-{}-{}",
        &digest[..6],
        now.format("%Y-%m-%d-%H-%M")
    )
}

/// FNV-1a (64 bits) of `text`, as 16 hex digits: stable across releases and platforms.
fn fnv_hex(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Why a Multi-AZ DB cluster's snapshots are neither shared nor copied.
pub const MULTI_AZ_CLUSTER_NOT_COPIED: &str = "a Multi-AZ DB cluster snapshot: AWS does not copy these (not across accounts, not across regions), so it cannot reach the DR account; left alone (see the README, Multi-AZ DB clusters)";

/// `copy` is this policy's re-encryption (ReencryptKmsKey) of `original`: both carry the
/// policy's marker, the copy names the original and holds the same recovery point (to the
/// second, as the tag records it).
pub(crate) fn is_reencrypted_copy_of(
    policy: &RuntimePolicy,
    copy: &crate::inventory::Snapshot,
    original: &crate::inventory::Snapshot,
) -> bool {
    use crate::inventory::tags;
    let ours = |s: &crate::inventory::Snapshot| {
        s.tag(tags::POLICY) == Some(policy.id.as_str())
            && s.tag(policy.marker_tag()) == Some(tags::TOOL)
    };
    let second = |s: &crate::inventory::Snapshot| s.recovery_point().map(|t| t.timestamp());
    ours(copy)
        && ours(original)
        && copy.kind == original.kind
        && copy.tag(tags::REENCRYPTED_FROM) == Some(original.id.as_str())
        && second(copy).is_some()
        && second(copy) == second(original)
}

/// Formats an age the way people read it: `3 days 4 hours`, `25 minutes`.
pub fn age(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let unit = |n: i64, u: &str| {
        if n == 1 {
            format!("1 {u}")
        } else {
            format!("{n} {u}s")
        }
    };
    match (days, hours, mins) {
        (0, 0, m) => unit(m, "minute"),
        (0, h, 0) => unit(h, "hour"),
        (0, h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
        (d, 0, _) => unit(d, "day"),
        (d, h, _) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

/// A stable digest of the account list, recorded on shared snapshots (FNV-1a, 64 bits).
pub fn accounts_digest(accounts: &[String]) -> String {
    let mut sorted: Vec<&str> = accounts.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    fnv_hex(&sorted.join(","))
}
