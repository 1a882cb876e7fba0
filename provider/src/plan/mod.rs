//! `plan(action, policy, inventory, now)`: what to create, share, copy and delete, and what to
//! leave alone, each with a reason. Pure: the executor lists the inventory and applies the plan.

mod copy;
mod delete;
mod share;
mod take;

pub use take::{Covered, covered_databases};

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::ProviderError;
use crate::inventory::{Inventory, Kind};
use crate::policy::RuntimePolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Take,
    Share,
    Copy,
    Delete,
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "take" => Ok(Action::Take),
            "share" => Ok(Action::Share),
            "copy" => Ok(Action::Copy),
            "delete" => Ok(Action::Delete),
            other => Err(format!(
                "unknown action {other:?}: expected take, share, copy or delete"
            )),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Take => "take",
            Action::Share => "share",
            Action::Copy => "copy",
            Action::Delete => "delete",
        })
    }
}

/// One AWS write the plan asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "operation", rename_all = "camelCase")]
pub enum Operation {
    #[serde(rename_all = "camelCase")]
    Create {
        database: String,
        kind: KindName,
        snapshot_id: String,
        tags: Vec<(String, String)>,
    },
    #[serde(rename_all = "camelCase")]
    Share {
        snapshot_id: String,
        snapshot_arn: String,
        kind: KindName,
        accounts: Vec<String>,
        digest: String,
    },
    #[serde(rename_all = "camelCase")]
    Copy {
        source_arn: String,
        target_id: String,
        kind: KindName,
        kms_key_id: String,
        tags: Vec<(String, String)>,
    },
    #[serde(rename_all = "camelCase")]
    Delete { snapshot_id: String, kind: KindName },
}

/// `Kind` as it appears in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KindName {
    Instance,
    Cluster,
}

impl From<Kind> for KindName {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Instance => KindName::Instance,
            Kind::Cluster => KindName::Cluster,
        }
    }
}

impl KindName {
    pub fn kind(self) -> Kind {
        match self {
            KindName::Instance => Kind::Instance,
            KindName::Cluster => Kind::Cluster,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The database or snapshot the step is about.
    pub subject: String,
    #[serde(flatten)]
    pub operation: Operation,
    pub reason: String,
}

/// Something left alone (skipped) or not yet possible (pending), with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub subject: String,
    pub reason: String,
}

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
    }
    plan
}

/// `orders-2026-11-24-07-00`: the snapshot name for `database` at `now` (UTC).
pub fn snapshot_name(database: &str, now: DateTime<Utc>) -> String {
    format!("{database}-{}", now.format("%Y-%m-%d-%H-%M"))
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
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sorted.join(",").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
