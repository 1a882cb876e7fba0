//! The cross-field rules of a policy, each written once. Validation (`policy::validate`) applies
//! them to a user's Properties and reports every problem; the invariant (`spec::check`) applies
//! them to a task input and stops at the first. A rule takes plain facts (what is given, what
//! is known), so both callers can state them from what they hold.

use chrono::Duration;

use super::{Role, defaults};

/// A broken rule: the property to blame and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> Option<Problem> {
    Some(Problem {
        field,
        message: message.into(),
    })
}

/// Which databases a policy covers: exactly one of the role's pattern, `DBInstanceIdentifier`
/// and `DBClusterIdentifier`. `given` lists those written, in that order; each one after the
/// first is blamed.
pub fn one_target(role: Role, given: &[&'static str]) -> Vec<Problem> {
    let pattern = role.pattern_property();
    match given {
        [] => problem(
            pattern,
            format!(
                "one of {pattern}, DBInstanceIdentifier or DBClusterIdentifier is required to say which databases this policy covers"
            ),
        )
        .into_iter()
        .collect(),
        [first, rest @ ..] => rest
            .iter()
            .filter_map(|name| {
                problem(
                    name,
                    format!(
                        "conflicts with {first}: give one of {pattern} (several databases), DBInstanceIdentifier or DBClusterIdentifier (one database)"
                    ),
                )
            })
            .collect(),
    }
}

/// The retention is given once: in days or in hours.
pub fn one_retention(days_given: bool, hours_given: bool) -> Option<Problem> {
    if days_given && hours_given {
        return problem(
            "RetentionHours",
            "conflicts with RetentionDays: give the retention once, in hours (1 to 23) or in days",
        );
    }
    None
}

/// The snapshot interval is given once: in minutes or in hours.
pub fn one_interval(minutes_given: bool, hours_given: bool) -> Option<Problem> {
    if minutes_given && hours_given {
        return problem(
            "BackupIntervalMinutes",
            "conflicts with BackupInterval: give the interval once, in minutes (15 to 1440) or in hours",
        );
    }
    None
}

/// SpreadSnapshots moves the default cadence only: a schedule other than `cadence` (the
/// interval's default schedule) fixes its own minutes.
pub fn spread_needs_default_schedule(
    spread: bool,
    schedule: Option<&str>,
    cadence: &str,
) -> Option<Problem> {
    if spread && schedule.is_some_and(|s| s != cadence) {
        return problem(
            "SpreadSnapshots",
            "conflicts with BackupSchedule: a written schedule fixes its own minutes, so there is nothing to spread; leave SpreadSnapshots out, or BackupSchedule out to get the database's own minute",
        );
    }
    None
}

/// AWS shares a manual snapshot with at most 20 accounts.
pub fn destination_account_count(count: usize) -> Option<Problem> {
    if count > defaults::MAX_DESTINATION_ACCOUNTS {
        return problem(
            "DestinationAccounts",
            format!(
                "names {count} accounts; AWS shares a manual snapshot with at most {}",
                defaults::MAX_DESTINATION_ACCOUNTS
            ),
        );
    }
    None
}

/// Sharing needs somewhere to share to. `accounts`: how many are named, `None` when an
/// intrinsic names them (known only once CloudFormation resolves it).
pub fn share_needs_accounts(shares: bool, accounts: Option<usize>) -> Option<Problem> {
    if shares && accounts == Some(0) {
        return problem(
            "DestinationAccount",
            "is required when ShareSnapshots is true: the DR account(s) to share snapshots with (or set ShareSnapshots: false)",
        );
    }
    None
}

/// A DR policy that deletes keeps its copies at least as long as it copies: a copy deleted
/// before `CopyRetentionDays` would be copied again on the next run.
pub fn retention_covers_copy_retention(
    deletes: bool,
    retention_days: u64,
    copy_retention_days: u64,
) -> Option<Problem> {
    if deletes && copy_retention_days > retention_days {
        return problem(
            "RetentionDays",
            format!(
                "must be >= CopyRetentionDays ({copy_retention_days}): otherwise copies older than {} are deleted and copied again on the next run",
                crate::rpo::human(Duration::days(retention_days as i64))
            ),
        );
    }
    None
}

/// A DR policy copying within its own account and region has nothing to copy. `same_region`:
/// whether the destination is the source region, `None` when either is not known yet.
pub fn something_to_copy(cross_account: bool, same_region: Option<bool>) -> Option<Problem> {
    if !cross_account && same_region == Some(true) {
        return problem(
            "CrossAccountCopy",
            "is false and DestinationRegion is the source region: this policy has nothing to copy (copy across accounts, or to another region)",
        );
    }
    None
}

/// TwoStepCopy: a copy across accounts and regions, whose first step needs KmsKeySource.
pub fn two_step_copy(
    two_steps: bool,
    cross_account: bool,
    same_region: Option<bool>,
    source_key_given: bool,
) -> Option<Problem> {
    let why = if !two_steps {
        return None;
    } else if !cross_account {
        "applies only to copies across accounts (CrossAccountCopy is false): this account's own snapshots are copied in one step"
    } else if same_region == Some(true) {
        "applies only to copies across regions: DestinationRegion is the source region, so every copy is already a same-region copy"
    } else if !source_key_given {
        "needs KmsKeySource: the first copy is made in the source region under this account's key there"
    } else {
        return None;
    };
    problem("TwoStepCopy", why)
}

/// RetiredKeepDays says how long RetiredDatabases' snapshots stay.
pub fn keep_days_needs_retired(keep_days_given: bool, retired_given: bool) -> Option<Problem> {
    if keep_days_given && !retired_given {
        return problem(
            "RetiredKeepDays",
            "applies to RetiredDatabases, which the policy does not name",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_target_blames_each_extra_one() {
        let blamed: Vec<_> = one_target(
            Role::Source,
            &[
                "InstanceNamePattern",
                "DBInstanceIdentifier",
                "DBClusterIdentifier",
            ],
        )
        .into_iter()
        .map(|p| p.field)
        .collect();
        assert_eq!(blamed, ["DBInstanceIdentifier", "DBClusterIdentifier"]);
        let none = one_target(Role::Destination, &[]);
        assert_eq!(none[0].field, "SnapshotPattern");
        assert!(one_target(Role::Source, &["DBClusterIdentifier"]).is_empty());
    }

    #[test]
    fn two_step_copy_names_the_first_missing_condition() {
        let why = |cross, same, key| two_step_copy(true, cross, same, key).map(|p| p.message);
        assert!(why(false, None, true).unwrap().contains("across accounts"));
        assert!(
            why(true, Some(true), true)
                .unwrap()
                .contains("across regions")
        );
        assert!(
            why(true, None, false)
                .unwrap()
                .starts_with("needs KmsKeySource")
        );
        assert_eq!(why(true, Some(false), true), None);
        assert_eq!(two_step_copy(false, false, Some(true), false), None);
    }

    #[test]
    fn the_edges_of_each_rule() {
        assert!(destination_account_count(20).is_none());
        assert!(destination_account_count(21).is_some());
        assert!(share_needs_accounts(true, None).is_none());
        assert!(share_needs_accounts(false, Some(0)).is_none());
        assert!(share_needs_accounts(true, Some(0)).is_some());
        assert!(retention_covers_copy_retention(true, 2, 2).is_none());
        assert!(retention_covers_copy_retention(false, 1, 2).is_none());
        assert!(retention_covers_copy_retention(true, 1, 2).is_some());
        assert!(
            spread_needs_default_schedule(true, Some("rate(1 hour)"), "rate(1 hour)").is_none()
        );
        assert!(spread_needs_default_schedule(true, Some("cron(0 * * * ? *)"), "x").is_some());
        assert!(spread_needs_default_schedule(false, Some("cron(0 * * * ? *)"), "x").is_none());
        assert!(keep_days_needs_retired(true, false).is_some());
        assert!(something_to_copy(false, Some(true)).is_some());
        assert!(something_to_copy(false, None).is_none());
    }
}
