//! The restore drill's decisions, pure: which DR copy each database is restored from, what the
//! temporary instance or cluster is called, and the safety rule for deleting one: the drill
//! deletes only what carries its tag **and** its naming scheme, never anything else.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::fnv_hex;
use crate::inventory::{Inventory, Kind, Snapshot, tags};
use crate::policy::RuntimePolicy;
use rds_snapshot_policy_macro::spec::defaults;

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
    let mut newest: BTreeMap<&str, &Snapshot> = BTreeMap::new();
    for s in inventory.snapshots.iter().filter(|s| {
        s.is_available()
            && s.tag(tags::POLICY) == Some(policy.id.as_str())
            && s.tag(tags::COPIED_BY) == Some(tags::TOOL)
            && only.is_none_or(|db| s.database_key() == db)
    }) {
        let entry = newest.entry(s.database_key()).or_insert(s);
        if s.recovery_point() > entry.recovery_point() {
            *entry = s;
        }
    }
    newest.into_values().collect()
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
