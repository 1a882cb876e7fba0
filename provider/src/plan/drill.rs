//! The restore drill's decisions, pure: which DR copy each database is restored from, what the
//! temporary instance or cluster is called, and the safety rule for deleting one: the drill
//! deletes only what carries its tag **and** its naming scheme, never anything else.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::fnv_hex;
use crate::inventory::{Inventory, Kind, Snapshot, tags};
use crate::policy::{RuntimePolicy, names_database};
use rds_snapshot_policy_core::spec::defaults;

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RDS identifiers: at most 63 characters, a letter first, letters, digits and single hyphens.
const MAX_IDENTIFIER: usize = 63;

/// `rsp-drill-<6 hex digits of the PolicyId>-`: every drill resource of the policy starts so.
pub fn drill_prefix(policy_id: &str) -> String {
    format!("rsp-drill-{}-", &fnv_hex(policy_id)[..6])
}

/// The drill instance (or cluster) for `database`: the prefix and the database's name, cut to
/// RDS's limits. One per database, so a repeated start finds its own restore.
pub fn drill_identifier(policy_id: &str, database: &str) -> String {
    let mut name: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let mut id = format!("{}{}", drill_prefix(policy_id), name.trim_matches('-'));
    // Room for the Aurora member's "-1".
    id.truncate(MAX_IDENTIFIER - 2);
    id.trim_end_matches('-').to_string()
}

/// The member instance of a drill cluster.
pub fn member_identifier(cluster: &str) -> String {
    format!("{cluster}-1")
}

/// An instance or cluster that exists in the DR region, as the drill sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillResource {
    pub identifier: String,
    pub kind: Kind,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub created: Option<DateTime<Utc>>,
    /// A cluster member: the cluster it belongs to.
    pub cluster: Option<String>,
    /// Its address (a cluster's writer endpoint), once it has one.
    pub endpoint: Option<String>,
}

/// The safety rule: this policy's drill tag and naming scheme, both.
pub fn is_drill_resource(policy_id: &str, resource: &DrillResource) -> bool {
    resource.tags.get(tags::DRILL).map(String::as_str) == Some(policy_id)
        && resource.identifier.starts_with(&drill_prefix(policy_id))
}

/// Sweep: this policy's drill resources created more than RtoMinutes plus the margin ago (an
/// execution that timed out or was stopped ran no cleanup).
pub fn sweep<'a>(
    policy: &RuntimePolicy,
    resources: &'a [DrillResource],
    now: DateTime<Utc>,
) -> Vec<&'a DrillResource> {
    let limit =
        Duration::minutes((policy.spec.rto() + defaults::DRILL_SWEEP_MARGIN_MINUTES) as i64);
    resources
        .iter()
        .filter(|r| is_drill_resource(&policy.id, r))
        .filter(|r| r.created.is_some_and(|c| now - c > limit))
        .collect()
}

/// The newest available DR copy of each database of the policy (`only`: one database).
pub fn drill_targets<'a>(
    policy: &RuntimePolicy,
    inventory: &'a Inventory,
    only: Option<&str>,
) -> Vec<&'a Snapshot> {
    super::newest_by_database(
        policy,
        inventory.snapshots.iter().filter(|s| {
            s.is_available()
                && policy.is_copy(s)
                && only.is_none_or(|db| names_database(&policy.database_key(s), db))
                && !policy.is_retired(&policy.database_key(s))
        }),
    )
    .into_values()
    .collect()
}

/// Why a restore has no copy to start from, or a drill restore cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrillError {
    #[error(
        "--database {database} names databases of {} source accounts ({}): name one as <account>/<database>",
        keys.len(),
        keys.join(", ")
    )]
    AmbiguousDatabase { database: String, keys: Vec<String> },
    #[error("no available DR copy of {database} for policy {policy}{before}")]
    NoCopy {
        database: String,
        policy: String,
        /// " at or before <time>", or empty.
        before: String,
    },
    #[error("policy {policy} has no drill restore {identifier} of {database}")]
    NoRestore {
        policy: String,
        identifier: String,
        database: String,
    },
    #[error("drill restore {identifier} of {database} is {status}, not serving: nothing recorded")]
    NotServing {
        identifier: String,
        database: String,
        status: String,
    },
    #[error(
        "drill restore {identifier} names no DR copy of {database} of policy {policy} ({named}): nothing recorded"
    )]
    UnknownCopy {
        identifier: String,
        database: String,
        policy: String,
        named: String,
    },
    #[error("drill restore {identifier} shows no request or creation time: nothing recorded")]
    NoRequestTime { identifier: String },
}

/// The DR copy a restore (`rds-snapshot-policy restore`) starts from: this policy's newest
/// available copy of `database` at or before `point` (None: the newest), and the database's
/// key. A name that two source accounts share is refused: the user names one as
/// `<account>/<database>`.
pub fn restore_candidate<'a>(
    policy: &RuntimePolicy,
    inventory: &'a Inventory,
    database: &str,
    point: Option<DateTime<Utc>>,
) -> Result<(String, &'a Snapshot), DrillError> {
    let candidates: Vec<&Snapshot> = inventory
        .snapshots
        .iter()
        .filter(|s| {
            s.is_available()
                && policy.is_copy(s)
                && names_database(&policy.database_key(s), database)
                && point.is_none_or(|p| s.recovery_point().is_some_and(|r| r <= p))
        })
        .collect();
    let mut keys: Vec<String> = candidates.iter().map(|s| policy.database_key(s)).collect();
    keys.sort();
    keys.dedup();
    if keys.len() > 1 {
        return Err(DrillError::AmbiguousDatabase {
            database: database.to_string(),
            keys,
        });
    }
    let copy = candidates
        .into_iter()
        .max_by_key(|s| s.recovery_point())
        .ok_or_else(|| DrillError::NoCopy {
            database: database.to_string(),
            policy: policy.id.clone(),
            before: point
                .map(|p| format!(" at or before {p}"))
                .unwrap_or_default(),
        })?;
    Ok((keys.pop().unwrap_or_else(|| database.to_string()), copy))
}

/// One restore of a drill as RDS shows it: what the evidence (the copy's `drilled` tag, the
/// `RestoreMinutes` metric, the report) is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRestore<'a> {
    pub database: String,
    pub identifier: String,
    pub kind: Kind,
    /// The policy's DR copy the resource was restored from.
    pub copy: &'a Snapshot,
    pub requested: DateTime<Utc>,
    pub available: DateTime<Utc>,
    /// Passed the validation function (finished at `now`).
    pub validated: Option<DateTime<Utc>>,
    pub endpoint: Option<String>,
    /// Requested → available, or → validated.
    pub minutes: i64,
}

/// The restore of `database` as RDS shows it at `now` (issue 29: never from a task's input):
/// the policy's drill resource of that database (name, drill tag, database tag), serving (an
/// Aurora cluster and its member both `available`), restored from one of the policy's DR copies
/// of that database (its `drill-snapshot` tag, checked against the copies listed). Requested is
/// the earlier of the resource's `drill-requested` tag and RDS's creation time; available is its
/// `drill-available` tag when that lies between both of those and now, else now (a later
/// observation never shortens a drill). `validated`: the validation function passed it, now.
pub fn observe_restore<'a>(
    policy: &RuntimePolicy,
    database: &str,
    resources: &[DrillResource],
    inventory: &'a Inventory,
    validated: bool,
    now: DateTime<Utc>,
) -> Result<ObservedRestore<'a>, DrillError> {
    let identifier = drill_identifier(&policy.id, database);
    let resource = resources
        .iter()
        .find(|r| {
            r.identifier == identifier
                && r.cluster.is_none()
                && is_drill_resource(&policy.id, r)
                && r.tags.get(tags::DATABASE).map(String::as_str) == Some(database)
        })
        .ok_or_else(|| DrillError::NoRestore {
            policy: policy.id.clone(),
            identifier: identifier.clone(),
            database: database.to_string(),
        })?;
    let serving = match resource.kind {
        Kind::Instance => resource.status == "available",
        Kind::Cluster => {
            let member = member_identifier(&identifier);
            resource.status == "available"
                && resources.iter().any(|r| {
                    r.identifier == member
                        && r.cluster.as_deref() == Some(identifier.as_str())
                        && r.status == "available"
                })
        }
    };
    if !serving {
        return Err(DrillError::NotServing {
            identifier,
            database: database.to_string(),
            status: resource.status.clone(),
        });
    }
    let restored_from = resource.tags.get(tags::DRILL_SNAPSHOT);
    let copy = inventory
        .snapshots
        .iter()
        .find(|s| {
            Some(&s.arn) == restored_from
                && s.kind == resource.kind
                && policy.is_copy(s)
                && policy.database_key(s) == database
        })
        .ok_or_else(|| DrillError::UnknownCopy {
            identifier: identifier.clone(),
            database: database.to_string(),
            policy: policy.id.clone(),
            named: restored_from
                .map_or("no drill-snapshot tag", String::as_str)
                .to_string(),
        })?;
    let tagged = resource
        .tags
        .get(tags::DRILL_REQUESTED)
        .and_then(|t| parse_time(t));
    let requested = match (tagged, resource.created) {
        (Some(t), Some(c)) => t.min(c),
        (t, c) => t.or(c).ok_or_else(|| DrillError::NoRequestTime {
            identifier: identifier.clone(),
        })?,
    }
    .min(now);
    // Not before RDS's creation time either (an instance may show it only once it serves).
    let earliest = resource.created.map_or(requested, |c| c.max(requested));
    let available = resource
        .tags
        .get(tags::DRILL_AVAILABLE)
        .and_then(|t| parse_time(t))
        .filter(|a| *a >= earliest && *a <= now)
        .unwrap_or(now);
    let validated = validated.then_some(now);
    Ok(ObservedRestore {
        database: database.to_string(),
        identifier,
        kind: resource.kind,
        copy,
        requested,
        available,
        validated,
        endpoint: resource.endpoint.clone(),
        minutes: (validated.unwrap_or(available) - requested).num_minutes(),
    })
}

/// The drill's instance class for `kind` (Aurora needs at least a medium class).
pub fn drill_class(policy: &RuntimePolicy, kind: Kind) -> String {
    match (&policy.spec.drill_db_instance_class, kind) {
        (Some(class), _) => class.clone(),
        (None, Kind::Instance) => defaults::DRILL_INSTANCE_CLASS.to_string(),
        (None, Kind::Cluster) => defaults::DRILL_AURORA_INSTANCE_CLASS.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_fit_rds_and_carry_the_prefix() {
        let id = drill_identifier("orders-stack-Copies", "Orders_DB--prod");
        assert!(id.starts_with(&drill_prefix("orders-stack-Copies")), "{id}");
        assert!(id.ends_with("orders-db-prod"), "{id}");
        let long = drill_identifier("p", &"x".repeat(100));
        assert!(long.len() <= 61 && !long.ends_with('-'), "{long}");
        assert_ne!(drill_prefix("a"), drill_prefix("b"));
    }
}
