//! `plan(action, policy, inventory, now)`: what to create, share, copy and delete, and what to
//! leave alone, each with a reason. Pure: the executor lists the inventory and applies the plan.

pub(crate) mod copy;
mod delete;
pub mod drill;
pub mod hold;
pub mod share;
mod take;
mod two_step;

pub use take::{Covered, covered_databases};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::ProviderError;
use crate::inventory::{Inventory, tags};
use crate::policy::RuntimePolicy;

pub use rds_snapshot_policy_core::contract::{Action, Kind, Note, Operation, Step};

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
pub fn snapshot_name(database: &str, kind: Kind, now: DateTime<Utc>) -> String {
    fit_name(database, &now.format("%Y-%m-%d-%H-%M").to_string(), kind)
}

/// `orders-1a2b3c-2026-11-24-07-00`: the name when the plain one is another policy's (two
/// stacks' policies on one database), with 6 hex digits of this policy's id.
pub fn policy_snapshot_name(
    database: &str,
    kind: Kind,
    policy_id: &str,
    now: DateTime<Utc>,
) -> String {
    let digest = fnv_hex(policy_id);
    let rest = format!("{}-{}", &digest[..6], now.format("%Y-%m-%d-%H-%M"));
    fit_name(database, &rest, kind)
}

/// The longest snapshot name the tool writes for `kind`: AWS's limit (RDS API reference:
/// DBClusterSnapshotIdentifier 1-63 characters, DBSnapshotIdentifier 1-255) less room for the
/// re-encryption suffix (`-cmk`) a copy of it may carry.
pub fn max_snapshot_name(kind: Kind) -> usize {
    let aws = match kind {
        Kind::Cluster => 63,
        Kind::Instance => 255,
    };
    aws - tags::REENCRYPTED_SUFFIX.len()
}

/// `<database>-<rest>`, or, when that is too long for `kind`, the database's name cut short
/// with 6 hex digits of the whole name (so two long names stay apart): a valid identifier
/// either way (letters, digits, single hyphens, no trailing hyphen).
pub(super) fn fit_name(database: &str, rest: &str, kind: Kind) -> String {
    let full = format!("{database}-{rest}");
    let max = max_snapshot_name(kind);
    if full.len() <= max {
        return full;
    }
    let digest = fnv_hex(database);
    let room = max.saturating_sub(rest.len() + 8);
    let prefix: String = database.chars().take(room).collect();
    format!("{}-{}-{rest}", prefix.trim_end_matches('-'), &digest[..6])
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
    let ours = |s: &crate::inventory::Snapshot| policy.is_made(s);
    let second = |s: &crate::inventory::Snapshot| s.recovery_point().map(|t| t.timestamp());
    // Two distinct snapshots: a copy tagged as re-encrypted from itself would otherwise be
    // "an original with an available copy" and deleted whatever its age (issue 29).
    copy.id != original.id
        && copy.arn != original.arn
        && ours(copy)
        && ours(original)
        && copy.kind == original.kind
        && copy.tag(tags::REENCRYPTED_FROM) == Some(original.id.as_str())
        && second(copy).is_some()
        && second(copy) == second(original)
}

/// The newest snapshot (by recovery point; the first seen on a tie) of each database, as
/// `policy` keys its databases (`RuntimePolicy::database_key`).
pub fn newest_by_database<'a>(
    policy: &RuntimePolicy,
    snapshots: impl IntoIterator<Item = &'a crate::inventory::Snapshot>,
) -> std::collections::BTreeMap<String, &'a crate::inventory::Snapshot> {
    let mut newest = std::collections::BTreeMap::new();
    for s in snapshots {
        let entry = newest.entry(policy.database_key(s)).or_insert(s);
        if s.recovery_point() > entry.recovery_point() {
            *entry = s;
        }
    }
    newest
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

#[cfg(test)]
mod naming_tests {
    use super::*;
    use chrono::TimeZone;
    use rds_snapshot_policy_core::spec::is_db_identifier;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 7, 0, 0).unwrap()
    }

    #[test]
    fn short_names_are_unchanged() {
        assert_eq!(
            snapshot_name("orders", Kind::Cluster, now()),
            "orders-2026-11-24-07-00"
        );
        assert!(policy_snapshot_name("orders", Kind::Instance, "p", now()).starts_with("orders-"));
    }

    #[test]
    fn cluster_snapshot_names_fit_aws_limit_with_room_for_the_reencryption_suffix() {
        // A 63-character cluster identifier, the longest AWS allows.
        let long = format!("a{}", "b-c".repeat(20) + "dd");
        assert_eq!(long.len(), 63);
        for name in [
            snapshot_name(&long, Kind::Cluster, now()),
            policy_snapshot_name(&long, Kind::Cluster, "orders-prod", now()),
        ] {
            let reencrypted = format!("{name}{}", tags::REENCRYPTED_SUFFIX);
            assert!(
                reencrypted.len() <= 63,
                "{} chars: {reencrypted}",
                reencrypted.len()
            );
            assert!(is_db_identifier(&reencrypted), "{reencrypted}");
            assert!(name.ends_with("2026-11-24-07-00"));
        }
        // Instance snapshot names may be 255 long: the whole name is kept.
        assert!(snapshot_name(&long, Kind::Instance, now()).starts_with(&long));
        // Two long names that share their start stay apart.
        let other = format!("{}x", &long[..62]);
        assert_ne!(
            snapshot_name(&long, Kind::Cluster, now()),
            snapshot_name(&other, Kind::Cluster, now())
        );
    }
}
