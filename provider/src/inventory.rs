//! What exists in AWS, as the planner sees it: databases and snapshots with their tags.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use rds_snapshot_policy_macro::contract::KindName as Kind;
pub use rds_snapshot_policy_macro::contract::tags;

#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub id: String,
    pub kind: Kind,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    /// For an Aurora member instance: its cluster.
    pub cluster: Option<String>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The identifier (for a shared snapshot: its name, the last part of the ARN).
    pub id: String,
    pub arn: String,
    pub kind: Kind,
    /// The DB instance or cluster it was taken from.
    pub database: String,
    pub status: String,
    /// `manual`, `automated`, `shared`, ...
    pub snapshot_type: String,
    /// SnapshotCreateTime; `None` while AWS has not set it yet.
    pub created: Option<DateTime<Utc>>,
    /// When the data was captured: OriginalSnapshotCreateTime or the recovery-point tag.
    pub original_created: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
    pub kms_key_id: Option<String>,
    pub encrypted: bool,
}

impl Snapshot {
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    /// Failed snapshots never become available.
    pub fn is_failed(&self) -> bool {
        matches!(
            self.status.as_str(),
            "failed" | "error" | "incompatible-restore"
        )
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// The point in time the snapshot's data is from.
    pub fn recovery_point(&self) -> Option<DateTime<Utc>> {
        self.tag(tags::RECOVERY_POINT)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .or(self.original_created)
            .or(self.created)
    }

    /// The database this snapshot belongs to, by the tool's tag or by RDS.
    pub fn database_key(&self) -> &str {
        self.tag(tags::DATABASE).unwrap_or(&self.database)
    }
}

/// Who manages a KMS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyManager {
    Aws,
    Customer,
}

/// Everything one action's plan needs.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Databases in the source region (take).
    pub databases: Vec<Database>,
    /// This account's manual snapshots in the region the action works on.
    pub snapshots: Vec<Snapshot>,
    /// Copy: the candidates in the source region (shared with us, or our own).
    pub sources: Vec<Snapshot>,
    /// Share: who manages the keys of the candidate snapshots.
    pub key_managers: BTreeMap<String, KeyManager>,
}
