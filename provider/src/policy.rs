//! A normalized policy bound to where the provider runs: the spec, plus what follows from the
//! region (where the databases and the copies are) and the compiled pattern.

use chrono::Duration;
use rds_snapshot_policy_core::spec::{LogLevel, PolicySpec, Role, Target};
use rds_snapshot_policy_core::value::Resolver;
use rds_snapshot_policy_core::{join_errors, parse_policy};
use regex::Regex;
use serde_json::Value;

use crate::error::{ErrorName, ProviderError};
use crate::inventory::Snapshot;

/// `<account>/<database>`: a database of another account, as a DR policy keys it (a DB
/// identifier holds no `/`, so the key splits back without doubt).
pub fn qualified_database(account: &str, database: &str) -> String {
    format!("{account}/{database}")
}

/// The database's name in a bookkeeping key (`orders` of `111111111111/orders`).
pub fn database_name(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, name)| name)
}

/// Whether a user's `--database` names the database of `key`: the key itself, or its name
/// alone (which matches that name in every source account).
pub fn names_database(key: &str, wanted: &str) -> bool {
    key == wanted || database_name(key) == wanted
}

/// Which databases (source) or snapshots (destination) the policy covers.
#[derive(Debug, Clone)]
pub enum Selector {
    Pattern(Regex),
    Instance(String),
    Cluster(String),
}

#[derive(Debug, Clone)]
pub struct RuntimePolicy {
    pub spec: PolicySpec<String>,
    /// The PolicyId: whose snapshots are this policy's.
    pub id: String,
    pub selector: Selector,
    /// Where the databases (source) or the snapshots to copy (destination) are.
    pub source_region: String,
    /// Where copies are made (destination); the provider's region for a source policy.
    pub destination_region: String,
}

fn invalid(kind: ErrorName, message: impl Into<String>) -> ProviderError {
    ProviderError::new(kind, message)
}

impl RuntimePolicy {
    /// Binds a normalized policy to `region`. The spec must have passed `PolicySpec::check`
    /// (`contract::parse_task_input` and validation both guarantee it): no second pass here.
    pub fn bind(spec: PolicySpec<String>, region: &str) -> Result<Self, ProviderError> {
        let id = spec.policy_id.clone().unwrap_or_default();
        let selector = match spec.target() {
            Some(Target::Pattern(p)) => Selector::Pattern(
                Regex::new(&p)
                    .map_err(|e| invalid(ErrorName::InputInvalid, format!("pattern {p:?}: {e}")))?,
            ),
            // RDS stores DB identifiers in lowercase (RDS API reference, DBInstanceIdentifier:
            // "stored as a lowercase string"): `Orders` names the database `orders`.
            Some(Target::Instance(id)) => Selector::Instance(id.to_ascii_lowercase()),
            Some(Target::Cluster(id)) => Selector::Cluster(id.to_ascii_lowercase()),
            None => {
                return Err(invalid(
                    ErrorName::InputInvalid,
                    "the policy names no databases",
                ));
            }
        };
        let source_region = spec
            .source_region_override
            .clone()
            .unwrap_or_else(|| region.to_string());
        let destination_region = spec
            .destination_region
            .clone()
            .unwrap_or_else(|| region.to_string());
        Ok(RuntimePolicy {
            spec,
            id,
            selector,
            source_region,
            destination_region,
        })
    }

    /// Reads a user's Properties block (the CLI): full validation, then `bind`. `fallback_id`
    /// names a policy without `PolicyId`.
    pub fn from_properties(
        properties: &Value,
        region: &str,
        fallback_id: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let resolver = Resolver {
            region: Some(region.to_string()),
            ..Resolver::default()
        };
        let policy = parse_policy("Policy", properties, &resolver)
            .map_err(|errors| invalid(ErrorName::PolicyInvalid, join_errors(&errors)))?;
        if policy.destination_accounts_intrinsic.is_some() && policy.spec.accounts().is_empty() {
            return Err(invalid(
                ErrorName::PolicyInvalid,
                "DestinationAccounts is an unresolved intrinsic; the provider needs its value",
            ));
        }
        let mut spec = policy
            .spec
            .resolve()
            .map_err(|unresolved| invalid(ErrorName::PolicyInvalid, unresolved.to_string()))?;
        if spec.policy_id.is_none() {
            spec.policy_id = Some(fallback_id.map(str::to_string).ok_or_else(|| {
                invalid(
                    ErrorName::PolicyInvalid,
                    "PolicyId is required (the expansion always sets it)",
                )
            })?);
        }
        // The fallback id (a file name) is the one value validation has not seen.
        spec.check()
            .map_err(|e| invalid(ErrorName::PolicyInvalid, e.to_string()))?;
        Self::bind(spec, region).map_err(|e| invalid(ErrorName::PolicyInvalid, e.message))
    }

    pub fn role(&self) -> Role {
        self.spec.role
    }

    pub fn log_level(&self) -> LogLevel {
        self.spec.log_level
    }

    pub fn retention(&self) -> Duration {
        self.spec.retention()
    }

    pub fn keep_latest(&self) -> usize {
        usize::try_from(self.spec.keep_latest).unwrap_or(usize::MAX)
    }

    pub fn backup_interval(&self) -> Duration {
        self.spec.backup_interval()
    }

    pub fn copy_retention(&self) -> Duration {
        self.spec.copy_retention()
    }

    pub fn accounts(&self) -> &[String] {
        self.spec.accounts()
    }

    /// Where this policy's snapshots are written (created, copied, deleted): the source
    /// region for a source policy, DestinationRegion for a destination policy.
    pub fn own_region(&self) -> &str {
        match self.role() {
            rds_snapshot_policy_core::Role::Source => &self.source_region,
            rds_snapshot_policy_core::Role::Destination => &self.destination_region,
        }
    }

    /// The key copies are encrypted with in the destination region.
    pub fn copy_key(&self) -> Option<&str> {
        let source = self.spec.kms_key_source.as_deref();
        let destination = self.spec.kms_key_destination.as_deref();
        if self.destination_region == self.source_region {
            source.or(destination)
        } else {
            destination
        }
    }

    /// The tag that marks snapshots this policy made: CreatedBy (source) or CopiedBy (DR).
    pub fn marker_tag(&self) -> &'static str {
        self.spec.role.marker_tag()
    }

    /// `snapshot` carries this policy's tag: the policy claims it (listings, names, status).
    pub fn is_tagged(&self, snapshot: &Snapshot) -> bool {
        snapshot.tag(crate::inventory::tags::POLICY) == Some(self.id.as_str())
    }

    /// Tagged, and marked by the tool with `marker` (CreatedBy: taken at the source; CopiedBy:
    /// a DR copy): a snapshot the tool made for this policy.
    pub fn is_marked(&self, snapshot: &Snapshot, marker: &str) -> bool {
        self.is_tagged(snapshot) && snapshot.tag(marker) == Some(crate::inventory::tags::TOOL)
    }

    /// Made by this policy on its own side (`marker_tag`): what it counts as a recovery point,
    /// keeps and deletes.
    pub fn is_made(&self, snapshot: &Snapshot) -> bool {
        self.is_marked(snapshot, self.marker_tag())
    }

    /// A DR copy this policy made (CopiedBy): what drills restore and deliveries announce.
    pub fn is_copy(&self, snapshot: &Snapshot) -> bool {
        self.is_marked(snapshot, crate::inventory::tags::COPIED_BY)
    }

    /// The database `snapshot` belongs to, as this policy keeps its books (recovery points,
    /// retention tiers, drills, metrics, status): its name at the source; at the DR account,
    /// which may copy from many source accounts with same-named databases,
    /// `<source account>/<name>` (issue 26).
    pub fn database_key(&self, snapshot: &Snapshot) -> String {
        match (self.role(), snapshot.source_account()) {
            (rds_snapshot_policy_core::Role::Destination, Some(account)) => {
                qualified_database(account, snapshot.database_key())
            }
            _ => snapshot.database_key().to_string(),
        }
    }

    /// The `RetiredDatabases` entry that retires the database of `key` (a bookkeeping key, see
    /// `database_key`), if any: the key itself, or at the DR account its name alone.
    pub fn retired_by(&self, key: &str) -> Option<&str> {
        self.spec
            .retired_databases
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|entry| names_database(key, entry))
            .map(String::as_str)
    }

    pub fn is_retired(&self, key: &str) -> bool {
        self.retired_by(key).is_some()
    }

    /// The worst-case recovery-point age at the DR copy, term by term (see `rpo`).
    pub fn worst_case(&self) -> Option<rds_snapshot_policy_core::rpo::WorstCase> {
        rds_snapshot_policy_core::rpo::worst_case(&self.spec)
    }
}

#[cfg(test)]
impl RuntimePolicy {
    /// The tests' default DR policy: into eu-central-1 from one source account, RpoMinutes 60.
    pub(crate) fn test_destination() -> Self {
        RuntimePolicy::from_properties(
            &serde_json::json!({"Role": "Destination", "PolicyId": "dr", "SnapshotPattern": "^",
                    "DestinationRegion": "eu-central-1", "SourceAccounts": ["111111111111"],
                    "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                    "RpoMinutes": 60}),
            "eu-central-1",
            None,
        )
        .expect("the tests' DR policy reads")
    }
}
