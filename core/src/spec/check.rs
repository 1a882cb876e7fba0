//! The invariants of a normalized policy: what the expansion guarantees, checked cheaply by the
//! provider before it acts (the task input is not trusted). The rules here are also the ones
//! validation applies to a user's Properties.

use std::fmt;

use super::rules::{self, Problem};
use super::{PolicySpec, Role, bounds};
use crate::policy::{Applies, PROPERTIES};

/// A normalized policy the expansion could never have produced, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy.{}: {}", self.field, self.message)
    }
}

/// RDS's rules for DB instance and cluster identifiers.
pub fn is_db_identifier(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--")
}

/// What is wrong with a `RetiredDatabases` entry for `role`, if anything: a DB identifier in
/// lowercase (as RDS stores it); at the DR account also `<source account>/<identifier>`, one
/// account's database where two accounts share the name.
pub fn retired_entry_problem(role: Role, entry: &str) -> Option<String> {
    let (account, id) = match entry.split_once('/') {
        Some((account, id)) if role == Role::Destination => (Some(account), id),
        _ => (None, entry),
    };
    if let Some(account) = account
        && !is_account_id(account)
    {
        return Some(format!(
            "{entry:?}: the part before / must be the 12-digit source account ID"
        ));
    }
    let form = match role {
        Role::Source => "a DB identifier",
        Role::Destination => "a DB identifier or <source account>/<DB identifier>",
    };
    if !is_db_identifier(id) {
        return Some(format!("{entry:?} is not {form}"));
    }
    if id.chars().any(|c| c.is_ascii_uppercase()) {
        return Some(format!(
            "{entry:?}: write it in lowercase ({:?}), as RDS stores DB identifiers",
            entry.to_ascii_lowercase()
        ));
    }
    None
}

/// Region names such as `eu-west-1`, `us-gov-west-1`, `ap-southeast-5`: an area, optionally
/// a partition word (`gov`, `iso`, ...), a compass direction, a number. A typo such as
/// `eu-wset-1` is refused.
pub fn is_region(name: &str) -> bool {
    const DIRECTIONS: &[&str] = &[
        "east",
        "west",
        "north",
        "south",
        "central",
        "northeast",
        "northwest",
        "southeast",
        "southwest",
    ];
    const PARTITIONS: &[&str] = &["gov", "iso", "isob", "isoe", "isof"];
    let parts: Vec<&str> = name.split('-').collect();
    let (area, middle, number) = match parts.as_slice() {
        [area, direction, number] => (*area, vec![*direction], *number),
        [area, partition, direction, number] if PARTITIONS.contains(partition) => {
            (*area, vec![*direction], *number)
        }
        _ => return false,
    };
    area.len() == 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && middle.iter().all(|d| DIRECTIONS.contains(d))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:PARTITION:events:REGION:ACCOUNT:event-bus/NAME`.
pub fn is_event_bus_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_word, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let name = resource.strip_prefix("event-bus/").unwrap_or_default();
    arn_word == "arn"
        && partition.starts_with("aws")
        && service == "events"
        && is_region(region)
        && is_account_id(account)
        && (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}

/// The account of an event bus ARN.
pub fn event_bus_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

/// 1 to 128 letters, digits or `- _ . / : @ + =` (valid in a tag value).
pub fn is_policy_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@+=".contains(&b))
}

fn fail(field: &'static str, message: impl Into<String>) -> Result<(), SpecError> {
    Err(SpecError {
        field,
        message: message.into(),
    })
}

/// The first of a rule's problems, as the invariant reports it.
fn first(problems: impl IntoIterator<Item = Problem>) -> Result<(), SpecError> {
    match problems.into_iter().next() {
        Some(p) => fail(p.field, p.message),
        None => Ok(()),
    }
}

fn in_bounds(field: &'static str, value: u64, (min, max): (u64, u64)) -> Result<(), SpecError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        fail(field, format!("must be {min} to {max}, got {value}"))
    }
}

/// A field's name and whether it is given.
type FieldGiven = (&'static str, bool);

impl PolicySpec<String> {
    /// Checks what a serde `Deserialize` cannot: role-specific fields, one target, identifier
    /// and account forms, bounds. The first problem is returned.
    pub fn check(&self) -> Result<(), SpecError> {
        let role = self.role;
        match &self.policy_id {
            None => fail("PolicyId", "is required (the expansion always sets it)")?,
            Some(id) if !is_policy_id(id) => fail(
                "PolicyId",
                format!("must be 1 to 128 letters, digits or - _ . / : @ + =, got {id:?}"),
            )?,
            Some(_) => {}
        }
        self.check_other_role()?;
        self.check_target()?;
        match (self.retention_days, self.retention_hours) {
            (Some(days), None) => in_bounds("RetentionDays", days, bounds::RETENTION_DAYS)?,
            (None, Some(hours)) => in_bounds("RetentionHours", hours, bounds::RETENTION_HOURS)?,
            (Some(_), Some(_)) => first(rules::one_retention(true, true))?,
            (None, None) => fail("RetentionDays", "is required (or RetentionHours)")?,
        }
        for (field, value, range) in [
            (
                "ExpectedSnapshotMinutes",
                self.expected_snapshot_minutes,
                bounds::EXPECTED_SNAPSHOT_MINUTES,
            ),
            (
                "ExpectedCopyMinutes",
                self.expected_copy_minutes,
                bounds::EXPECTED_COPY_MINUTES,
            ),
        ] {
            if let Some(value) = value {
                in_bounds(field, value, range)?;
            }
        }
        in_bounds("KeepLatest", self.keep_latest, bounds::KEEP_LATEST)?;
        for (field, value, range) in [
            ("KeepDaily", self.keep_daily, bounds::KEEP_DAILY),
            ("KeepWeekly", self.keep_weekly, bounds::KEEP_WEEKLY),
            ("KeepMonthly", self.keep_monthly, bounds::KEEP_MONTHLY),
            ("KeepYearly", self.keep_yearly, bounds::KEEP_YEARLY),
        ] {
            if let Some(value) = value {
                in_bounds(field, value, range)?;
            }
        }
        in_bounds("RpoMinutes", self.rpo_minutes, bounds::RPO_MINUTES)?;
        self.check_retired()?;
        if let Some(region) = &self.source_region_override
            && !is_region(region)
        {
            fail(
                "SourceRegionOverride",
                format!("must be a region, got {region:?}"),
            )?;
        }
        if let Some((field, _)) = self.required_fields().iter().find(|(_, given)| !given) {
            fail(field, format!("is required for Role {}", role.as_str()))?;
        }
        match role {
            Role::Source => self.check_source(),
            Role::Destination => self.check_destination(),
        }
    }

    /// RetiredDatabases: entries of the role's form, no repeats, at most the bound;
    /// RetiredKeepDays only with them, in bounds.
    fn check_retired(&self) -> Result<(), SpecError> {
        let entries = self.retired_databases.as_deref().unwrap_or_default();
        if entries.len() > bounds::MAX_RETIRED_DATABASES {
            fail(
                "RetiredDatabases",
                format!(
                    "lists {} databases; at most {} (remove the policy once all are gone)",
                    entries.len(),
                    bounds::MAX_RETIRED_DATABASES
                ),
            )?;
        }
        for (i, entry) in entries.iter().enumerate() {
            if let Some(problem) = retired_entry_problem(self.role, entry) {
                fail("RetiredDatabases", problem)?;
            }
            if entries[..i].contains(entry) {
                fail("RetiredDatabases", format!("names {entry:?} twice"))?;
            }
        }
        if let Some(days) = self.retired_keep_days {
            first(rules::keep_days_needs_retired(
                true,
                self.retired_databases.is_some(),
            ))?;
            in_bounds("RetiredKeepDays", days, bounds::RETIRED_KEEP_DAYS)?;
        }
        Ok(())
    }

    /// The fields the expansion always writes for this role, and whether they are given.
    fn required_fields(&self) -> Vec<FieldGiven> {
        match self.role {
            Role::Source => vec![
                (
                    "BackupInterval",
                    self.backup_interval_hours.is_some() || self.backup_interval_minutes.is_some(),
                ),
                ("BackupSchedule", self.backup_schedule.is_some()),
                ("ShareSnapshots", self.share_snapshots.is_some()),
                ("ShareSchedule", self.share_schedule.is_some()),
                ("DestinationAccounts", self.destination_accounts.is_some()),
                ("TaggedInstance", self.tagged_instance.is_some()),
            ],
            Role::Destination => vec![
                ("DestinationRegion", self.destination_region.is_some()),
                ("CopySchedule", self.copy_schedule.is_some()),
                ("CrossAccountCopy", self.cross_account_copy.is_some()),
                ("CopyRetentionDays", self.copy_retention_days.is_some()),
            ],
        }
    }

    /// No field of the other role, as the property table assigns them (the serialized names
    /// are the property names).
    fn check_other_role(&self) -> Result<(), SpecError> {
        let serde_json::Value::Object(fields) = serde_json::to_value(self).unwrap_or_default()
        else {
            return Ok(());
        };
        for name in fields.keys() {
            if let Some(property) = PROPERTIES.iter().find(|p| p.name == name)
                && matches!(property.applies, Applies::Only(owner) if owner != self.role)
            {
                fail(
                    property.name,
                    format!("does not apply to Role {}", self.role.as_str()),
                )?;
            }
        }
        Ok(())
    }

    fn check_target(&self) -> Result<(), SpecError> {
        let own_pattern = match self.role {
            Role::Source => &self.instance_name_pattern,
            Role::Destination => &self.snapshot_pattern,
        };
        let given: Vec<&'static str> = [
            (self.role.pattern_property(), own_pattern.is_some()),
            (
                "DBInstanceIdentifier",
                self.db_instance_identifier.is_some(),
            ),
            ("DBClusterIdentifier", self.db_cluster_identifier.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect();
        first(rules::one_target(self.role, &given))?;
        if let Some(p) = own_pattern
            && let Err(e) = regex::RegexBuilder::new(p).size_limit(1 << 20).build()
        {
            let why = e.to_string().lines().last().unwrap_or_default().to_string();
            return fail(
                self.role.pattern_property(),
                format!("is not a valid regular expression ({})", why.trim()),
            );
        }
        for (field, id) in [
            ("DBInstanceIdentifier", &self.db_instance_identifier),
            ("DBClusterIdentifier", &self.db_cluster_identifier),
        ] {
            if let Some(id) = id
                && !is_db_identifier(id)
            {
                return fail(field, format!("must be a DB identifier, got {id:?}"));
            }
        }
        Ok(())
    }

    fn check_source(&self) -> Result<(), SpecError> {
        match (self.backup_interval_minutes, self.backup_interval_hours) {
            (Some(_), Some(_)) => first(rules::one_interval(true, true))?,
            (Some(minutes), None) => in_bounds(
                "BackupIntervalMinutes",
                minutes,
                bounds::BACKUP_INTERVAL_MINUTES,
            )?,
            (None, hours) => in_bounds(
                "BackupInterval",
                hours.unwrap_or_default(),
                bounds::BACKUP_INTERVAL_HOURS,
            )?,
        }
        let cadence = crate::rpo::cadence_schedule(self.backup_interval().num_minutes() as u64);
        first(rules::spread_needs_default_schedule(
            self.spreads_snapshots(),
            self.backup_schedule.as_ref().map(|s| s.expression()),
            &cadence,
        ))?;
        let accounts = self.accounts();
        if let Some(bad) = accounts.iter().find(|a| !is_account_id(a)) {
            return fail(
                "DestinationAccounts",
                format!("must hold 12-digit account IDs, got {bad:?}"),
            );
        }
        let mut unique = accounts.to_vec();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != accounts.len() {
            return fail("DestinationAccounts", "names an account twice");
        }
        first(rules::destination_account_count(accounts.len()))?;
        if let Some(bad) = self
            .destination_event_bus_arns
            .iter()
            .flatten()
            .find(|arn| !is_event_bus_arn(arn))
        {
            return fail(
                "DestinationEventBusArn",
                format!("must be event bus ARNs, got {bad:?}"),
            );
        }
        first(rules::share_needs_accounts(
            self.shares(),
            Some(accounts.len()),
        ))?;
        if let Some(key) = &self.reencrypt_kms_key
            && let Err(why) = crate::kms::classify(key)
        {
            return fail("ReencryptKmsKey", why);
        }
        Ok(())
    }

    fn check_destination(&self) -> Result<(), SpecError> {
        let copy_retention = self.copy_retention_days.unwrap_or_default();
        in_bounds(
            "CopyRetentionDays",
            copy_retention,
            bounds::COPY_RETENTION_DAYS,
        )?;
        if let Some(days) = self.retention_days {
            first(rules::retention_covers_copy_retention(
                self.delete_old_snapshots,
                days,
                copy_retention,
            ))?;
        }
        if let Some(rto) = self.rto_minutes {
            in_bounds("RtoMinutes", rto, bounds::RTO_MINUTES)?;
        }
        let same_region = match (&self.destination_region, &self.source_region_override) {
            (Some(destination), Some(source)) => Some(destination == source),
            _ => None,
        };
        let cross_account = self.copies_across_accounts();
        first(rules::something_to_copy(cross_account, same_region))?;
        first(rules::two_step_copy(
            self.copies_in_two_steps(),
            cross_account,
            same_region,
            self.kms_key_source.is_some(),
        ))?;
        if let Some(bad) = self
            .source_account_list()
            .iter()
            .find(|a| !is_account_id(a))
        {
            return fail(
                "SourceAccounts",
                format!("must hold 12-digit account IDs, got {bad:?}"),
            );
        }
        if let Some(region) = &self.destination_region
            && !is_region(region)
        {
            return fail(
                "DestinationRegion",
                format!("must be a region, got {region:?}"),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "eu-west-1",
            "us-gov-west-1",
            "ap-southeast-5",
            "cn-northwest-1",
            "il-central-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "eu-wset-1",
            "eu-west",
            "EU-west-1",
            "eu-west-100",
            "europe-west-1",
            "us-foo-west-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
