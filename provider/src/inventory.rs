//! What exists in AWS, as the planner sees it: databases and snapshots with their tags.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use rds_snapshot_policy_core::contract::Kind;
pub use rds_snapshot_policy_core::contract::tags;

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
    /// `postgres`, `aurora-postgresql`, ...; `None` when not read.
    pub engine: Option<String>,
    /// A DB instance's option groups (`default:<engine>-<version>` for the default one).
    pub option_groups: Vec<String>,
}

impl Database {
    /// A Multi-AZ DB cluster (not Aurora): AWS shares its snapshots but cannot copy them.
    pub fn is_multi_az_cluster(&self) -> bool {
        is_multi_az_cluster(self.kind, self.engine.as_deref())
    }
}

/// A DB cluster whose engine is not Aurora's is a Multi-AZ DB cluster.
fn is_multi_az_cluster(kind: Kind, engine: Option<&str>) -> bool {
    kind == Kind::Cluster && engine.is_some_and(|e| !e.starts_with("aurora"))
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
    /// The engine of the database it was taken from; `None` when not read.
    pub engine: Option<String>,
    /// The engine version of the database it was taken from; `None` when not read.
    pub engine_version: Option<String>,
    /// An instance snapshot's option group (`default:<engine>-<version>` for the default one).
    pub option_group: Option<String>,
}

impl Snapshot {
    /// A manual, encrypted, available snapshot known by its names only: no times, tags, key or
    /// engine. RDS's answers (`aws/convert.rs`) set the real status, type and encryption
    /// right after; tests set what their case is about.
    pub fn manual(
        kind: Kind,
        id: impl Into<String>,
        arn: impl Into<String>,
        database: impl Into<String>,
    ) -> Self {
        Snapshot {
            id: id.into(),
            arn: arn.into(),
            kind,
            database: database.into(),
            status: "available".into(),
            snapshot_type: "manual".into(),
            created: None,
            original_created: None,
            tags: BTreeMap::new(),
            kms_key_id: None,
            encrypted: true,
            engine: None,
            engine_version: None,
            option_group: None,
        }
    }

    /// A snapshot of a Multi-AZ DB cluster: AWS does not copy these (no cross-region or
    /// cross-account copy), so a DR copy cannot be made.
    pub fn is_multi_az_cluster(&self) -> bool {
        is_multi_az_cluster(self.kind, self.engine.as_deref())
    }

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

    /// The point in time the snapshot's data is from: the recovery-point tag (a copy's is its
    /// original's), bounded by AWS's own creation time. Anyone who may tag the snapshot may
    /// write the tag, so it may only move the recovery point earlier than the creation, never
    /// later (issue 29: a tag in the future stopped backups and silenced the RPO metric).
    pub fn recovery_point(&self) -> Option<DateTime<Utc>> {
        let tagged = self
            .tag(tags::RECOVERY_POINT)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let created = self.original_created.or(self.created);
        match (tagged, created) {
            (Some(tagged), Some(created)) => Some(tagged.min(created)),
            (tagged, created) => tagged.or(created),
        }
    }

    /// When retention counts from: AWS's own record of when the data was captured
    /// (`OriginalSnapshotCreateTime`, which copies keep), else the recovery point. A tag cannot
    /// make an instance snapshot older than AWS says it is, so it cannot make it deletable;
    /// cluster snapshots have no such field, and their recovery-point tag still counts
    /// (README, "Retention tiers").
    pub fn retention_time(&self) -> Option<DateTime<Utc>> {
        self.original_created.or_else(|| self.recovery_point())
    }

    /// The database this snapshot belongs to, by the tool's tag or by RDS.
    pub fn database_key(&self) -> &str {
        self.tag(tags::DATABASE).unwrap_or(&self.database)
    }

    /// The account whose database this snapshot protects: for a DR copy the owner of the
    /// snapshot it was copied from (its source-ARN tag), else the owner in its own ARN.
    pub fn source_account(&self) -> Option<&str> {
        let arn = self.tag(tags::SOURCE_ARN).unwrap_or(&self.arn);
        arn.split(':')
            .nth(4)
            .filter(|a| rds_snapshot_policy_core::spec::is_account_id(a))
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
    /// Copy with `TwoStepCopy`: this account's own snapshots in the source region (the
    /// policy's first-step copies among them).
    pub staged: Vec<Snapshot>,
    /// Share: who manages the keys of the candidate snapshots.
    pub key_managers: BTreeMap<String, KeyManager>,
    /// Share: the accounts in each policy snapshot's `restore` attribute (by ARN), as AWS
    /// reports them (`all` when public). A snapshot whose attribute could not be read is absent.
    pub restore_accounts: BTreeMap<String, Vec<String>>,
}
