//! The normalized policy: the one typed form a policy takes after validation. The expansion
//! serializes it into each state machine's task input; the provider deserializes it and runs
//! it after a cheap invariant check (`check`). `S` is how a string is held: `Text` (known now,
//! or an intrinsic CloudFormation resolves) in the expansion, `String` in the provider.

mod check;
mod lenient;
pub mod rules;
pub use check::{
    SpecError, event_bus_account, is_account_id, is_db_identifier, is_event_bus_arn, is_policy_id,
    is_region, retired_entry_problem,
};

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::contract::{Action, tags};
use crate::schedule::{Schedule, longest_snapshot_gap};
use crate::value::Text;

/// Defaults, documented in the README's policy reference.
pub mod defaults {
    /// The interval of a task input that names none (contract versions 1 and 2 always did).
    pub const BACKUP_INTERVAL_MINUTES: u64 = 60;
    /// The fallback sweeps: every 5 minutes, share two minutes after a snapshot starts and
    /// copy two minutes after a share, so a sweep finds what the previous stage just made.
    pub const SHARE_SCHEDULE: &str = "cron(2/5 * * * ? *)";
    pub const COPY_SCHEDULE: &str = "cron(4/5 * * * ? *)";
    /// The source deletes every hour: between two delete runs snapshots past the retention
    /// pile up, so a daily run held a second day's snapshots before it (97 per database at a
    /// 30-minute cadence with RetentionDays 1, against AWS's default quota of 100), an hourly
    /// one two more (51).
    pub const SOURCE_DELETE_SCHEDULE: &str = "cron(45 * * * ? *)";
    /// With RetentionHours, old snapshots go every hour instead of once a day.
    pub const HOURLY_DELETE_SCHEDULE: &str = "cron(45 * * * ? *)";
    pub const DESTINATION_DELETE_SCHEDULE: &str = "cron(30 3 * * ? *)";
    pub const SOURCE_RETENTION_DAYS: u64 = 1;
    /// How long a snapshot takes to become available (an estimate for the RPO formula).
    pub const EXPECTED_SNAPSHOT_MINUTES: u64 = 5;
    /// How long a copy into the DR account and region takes (an estimate for the formula).
    pub const EXPECTED_COPY_MINUTES: u64 = 10;
    /// How late an EventBridge schedule may start its state machine.
    pub const SCHEDULE_JITTER_MINUTES: u64 = 1;
    /// A destination policy that declares no retention keeps every copy for 6 hours and the
    /// newest copy of each of the last 7 days: about 20 copies per database at a 30-minute
    /// source cadence, where keeping every copy for 7 days (the default before 0.2) needed
    /// 337 against AWS's default quota of 100 manual snapshots.
    pub const DESTINATION_RETENTION_HOURS: u64 = 6;
    pub const DESTINATION_KEEP_DAILY: u64 = 7;
    /// RetentionDays of a destination task input that names neither RetentionDays nor
    /// RetentionHours (none ever did: the expansion always sets one).
    pub const DESTINATION_RETENTION_DAYS: u64 = 7;
    pub const COPY_RETENTION_DAYS: u64 = 2;
    pub const KEEP_LATEST: u64 = 1;
    pub const RPO_MINUTES: u64 = 60;
    /// The restore drill: weekly, Sunday 04:00 UTC, after the nightly deletes.
    pub const RESTORE_DRILL_SCHEDULE: &str = "cron(0 4 ? * SUN *)";
    pub const RTO_MINUTES: u64 = 180;
    /// The smallest classes that restore every engine the tool copies (Aurora needs medium).
    pub const DRILL_INSTANCE_CLASS: &str = "db.t4g.micro";
    pub const DRILL_AURORA_INSTANCE_CLASS: &str = "db.t4g.medium";
    /// How long a drill instance may outlive RtoMinutes before the sweeper deletes it.
    pub const DRILL_SWEEP_MARGIN_MINUTES: u64 = 60;
    /// AWS allows a manual snapshot to be shared with at most 20 accounts.
    pub const MAX_DESTINATION_ACCOUNTS: usize = 20;
}

/// Inclusive bounds of the numeric properties, shared by validation and the invariant check;
/// each is read from the property table (`policy::properties`) at compile time.
pub mod bounds {
    use crate::policy::properties::whole_bounds;

    pub const RETENTION_DAYS: (u64, u64) = whole_bounds("RetentionDays");
    pub const KEEP_LATEST: (u64, u64) = whole_bounds("KeepLatest");
    pub const RPO_MINUTES: (u64, u64) = whole_bounds("RpoMinutes");
    pub const BACKUP_INTERVAL_HOURS: (u64, u64) = whole_bounds("BackupInterval");
    pub const BACKUP_INTERVAL_MINUTES: (u64, u64) = whole_bounds("BackupIntervalMinutes");
    pub const RETENTION_HOURS: (u64, u64) = whole_bounds("RetentionHours");
    pub const EXPECTED_SNAPSHOT_MINUTES: (u64, u64) = whole_bounds("ExpectedSnapshotMinutes");
    pub const EXPECTED_COPY_MINUTES: (u64, u64) = whole_bounds("ExpectedCopyMinutes");
    pub const COPY_RETENTION_DAYS: (u64, u64) = whole_bounds("CopyRetentionDays");
    pub const RTO_MINUTES: (u64, u64) = whole_bounds("RtoMinutes");
    /// The retention tiers: days (a year and a day), ISO weeks (ten years), months (20
    /// years), years (a century).
    pub const KEEP_DAILY: (u64, u64) = whole_bounds("KeepDaily");
    pub const KEEP_WEEKLY: (u64, u64) = whole_bounds("KeepWeekly");
    pub const KEEP_MONTHLY: (u64, u64) = whole_bounds("KeepMonthly");
    pub const KEEP_YEARLY: (u64, u64) = whole_bounds("KeepYearly");
    pub const RETIRED_KEEP_DAYS: (u64, u64) = whole_bounds("RetiredKeepDays");
    /// At most this many retired databases per policy (the task input stays small).
    pub const MAX_RETIRED_DATABASES: usize = 200;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The production account: take, share and delete snapshots.
    Source,
    /// The DR account: copy shared snapshots and delete old copies.
    Destination,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Source => "Source",
            Role::Destination => "Destination",
        }
    }

    /// The property holding this role's pattern.
    pub fn pattern_property(self) -> &'static str {
        match self {
            Role::Source => "InstanceNamePattern",
            Role::Destination => "SnapshotPattern",
        }
    }

    /// The tag that marks snapshots this role made: CreatedBy (source) or CopiedBy (DR).
    pub fn marker_tag(self) -> &'static str {
        match self {
            Role::Source => tags::CREATED_BY,
            Role::Destination => tags::COPIED_BY,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
}

impl LogLevel {
    /// ERROR, WARN (or WARNING), INFO, DEBUG in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "ERROR" => Some(LogLevel::Error),
            "WARN" | "WARNING" => Some(LogLevel::Warn),
            "INFO" => Some(LogLevel::Info),
            "DEBUG" => Some(LogLevel::Debug),
            _ => None,
        }
    }

    /// The `tracing` filter directive.
    pub fn filter(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Which databases (source) or whose snapshots (destination) a policy covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Target<S> {
    /// A regex searched in the DB instance/cluster identifier (source) or snapshot identifier
    /// (destination).
    Pattern(String),
    Instance(S),
    Cluster(S),
}

/// The normalized policy. Field order is the serialized order. Role-specific fields are
/// `Some` exactly for their role (the expansion writes every one; `check` enforces it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
#[serde(bound(serialize = "S: Serialize", deserialize = "S: Deserialize<'de>"))]
pub struct PolicySpec<S> {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_pattern: Option<String>,
    #[serde(
        rename = "DBInstanceIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub db_instance_identifier: Option<S>,
    #[serde(
        rename = "DBClusterIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub db_cluster_identifier: Option<S>,

    // Source role.
    #[serde(
        rename = "BackupInterval",
        default,
        deserialize_with = "lenient::opt_whole"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_interval_hours: Option<u64>,
    #[serde(
        rename = "BackupIntervalMinutes",
        default,
        deserialize_with = "lenient::opt_whole"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_interval_minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_schedule: Option<Schedule>,
    /// Source (issue 28): BackupSchedule is the default cadence, moved at deploy time to the
    /// database's own minute (`spread::snapshot_minute`); absent in older task inputs: not moved.
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread_snapshots: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_snapshots: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_schedule: Option<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_accounts: Option<Vec<S>>,
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tagged_instance: Option<bool>,
    /// Source: accounts (and `all`) a policy snapshot is shared with outside the tool are
    /// removed by the share run (else only reported).
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_unknown_shares: Option<bool>,
    /// Where the source announces shared snapshots (default: each destination account's
    /// default bus in this region).
    #[serde(
        rename = "DestinationEventBusArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_event_bus_arns: Option<Vec<S>>,
    /// Contract version 6: a customer-managed key in the source account and region under which
    /// snapshots encrypted with the AWS-managed `aws/rds` key are copied before sharing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reencrypt_kms_key: Option<S>,

    // Destination role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_region: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_schedule: Option<Schedule>,
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_account_copy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_source: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_destination: Option<S>,
    /// Copy shared snapshots in two steps: into this account in the source region under
    /// `KmsKeySource`, then across regions (for where AWS refuses the one-step cross-account,
    /// cross-region copy of an encrypted shared snapshot). Absent: one step.
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_step_copy: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_retention_days: Option<u64>,
    /// The accounts whose snapshots are copied and whose events start the copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_accounts: Option<Vec<S>>,
    /// The restore drill (contract version 5; absent in older task inputs: no drill).
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_drill: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_drill_schedule: Option<Schedule>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_minutes: Option<u64>,
    #[serde(
        rename = "DrillDBInstanceClass",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub drill_db_instance_class: Option<String>,
    #[serde(
        rename = "DrillDBSubnetGroupName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub drill_db_subnet_group_name: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_vpc_security_group_ids: Option<Vec<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_validation_function_arn: Option<S>,
    /// Contract version 6: the option group cross-region copies of instance snapshots with a
    /// non-default option group get in the destination region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_option_group_name: Option<S>,

    // Both roles. Exactly one of RetentionDays and RetentionHours.
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_hours: Option<u64>,
    #[serde(deserialize_with = "lenient::flag")]
    pub delete_old_snapshots: bool,
    pub delete_schedule: Schedule,
    #[serde(deserialize_with = "lenient::whole")]
    pub keep_latest: u64,
    // Contract version 6: the retention tiers (for each of the last N days, ISO weeks, months,
    // years with a snapshot, its newest is kept); absent: no tier.
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u64>,
    #[serde(deserialize_with = "lenient::whole")]
    pub rpo_minutes: u64,
    pub log_level: LogLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_region_override: Option<String>,
    #[serde(deserialize_with = "lenient::flag")]
    pub strict_checks: bool,
    // Contract version 3; absent in older task inputs, which mean the defaults.
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_snapshot_minutes: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_copy_minutes: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_driven: Option<bool>,
    /// Databases retired (a DB identifier; at the DR account also `<source account>/<db>`):
    /// no new snapshot or copy, no RPO datum, no drill; their newest recovery point is kept
    /// until `RetiredKeepDays` after it was taken. Absent in older task inputs: none retired
    /// (a provider without retirement refuses the field: the policy's fields are closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_databases: Option<Vec<S>>,
    #[serde(default, deserialize_with = "lenient::opt_whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_keep_days: Option<u64>,
}

impl<S> PolicySpec<S> {
    pub fn target(&self) -> Option<Target<&S>> {
        if let Some(p) = self
            .instance_name_pattern
            .as_ref()
            .or(self.snapshot_pattern.as_ref())
        {
            return Some(Target::Pattern(p.clone()));
        }
        if let Some(id) = &self.db_instance_identifier {
            return Some(Target::Instance(id));
        }
        self.db_cluster_identifier.as_ref().map(Target::Cluster)
    }
    /// How many tier buckets the retention tiers keep at most: KeepDaily + KeepWeekly +
    /// KeepMonthly + KeepYearly (one snapshot each).
    pub fn tier_buckets(&self) -> u64 {
        [
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ]
        .iter()
        .flatten()
        .sum()
    }

    /// RetentionHours when given, else RetentionDays.
    pub fn retention(&self) -> Duration {
        match (self.retention_hours, self.retention_days) {
            (Some(h), _) => Duration::hours(h as i64),
            (None, d) => Duration::days(d.unwrap_or(defaults::SOURCE_RETENTION_DAYS) as i64),
        }
    }
    /// How long the policy keeps some recovery point of a database: the retention window, or
    /// the span of its oldest tier (KeepDaily days, KeepWeekly weeks, KeepMonthly months of 31
    /// days, KeepYearly years of 366 days), whichever is longer.
    pub fn longest_kept(&self) -> Duration {
        let tier = |count: Option<u64>, days: i64| Duration::days(count.unwrap_or(0) as i64 * days);
        [
            self.retention(),
            tier(self.keep_daily, 1),
            tier(self.keep_weekly, 7),
            tier(self.keep_monthly, 31),
            tier(self.keep_yearly, 366),
        ]
        .into_iter()
        .max()
        .unwrap_or_else(Duration::zero)
    }
    /// How long a retired database's newest recovery point is kept after it was taken:
    /// RetiredKeepDays, else as long as the policy keeps any recovery point (`longest_kept`,
    /// in whole days, at least one).
    pub fn retired_keep(&self) -> Duration {
        match self.retired_keep_days {
            Some(days) => Duration::days(days as i64),
            None => {
                let hours = self.longest_kept().num_hours().max(1);
                Duration::days((hours + 23) / 24)
            }
        }
    }
    /// The property retention is given in, for messages.
    pub fn retention_property(&self) -> &'static str {
        if self.retention_hours.is_some() {
            "RetentionHours"
        } else {
            "RetentionDays"
        }
    }
    pub fn rpo(&self) -> Duration {
        Duration::minutes(self.rpo_minutes as i64)
    }
    /// BackupIntervalMinutes, else BackupInterval (hours), else an hour.
    pub fn backup_interval(&self) -> Duration {
        match (self.backup_interval_minutes, self.backup_interval_hours) {
            (Some(m), _) => Duration::minutes(m as i64),
            (None, Some(h)) => Duration::hours(h as i64),
            (None, None) => Duration::minutes(defaults::BACKUP_INTERVAL_MINUTES as i64),
        }
    }
    pub fn expected_snapshot(&self) -> Duration {
        Duration::minutes(
            self.expected_snapshot_minutes
                .unwrap_or(defaults::EXPECTED_SNAPSHOT_MINUTES) as i64,
        )
    }
    pub fn expected_copy(&self) -> Duration {
        Duration::minutes(
            self.expected_copy_minutes
                .unwrap_or(defaults::EXPECTED_COPY_MINUTES) as i64,
        )
    }
    /// Events start the next stage at once (the schedules stay as the fallback).
    pub fn is_event_driven(&self) -> bool {
        self.event_driven != Some(false)
    }
    /// How old a shared snapshot may be and still be copied: CopyRetentionDays, never longer
    /// than the retention (a copy the next delete run would remove is not made, so a retention
    /// in hours copies only what its window keeps; the daily tier keeps each day's newest).
    pub fn copy_retention(&self) -> Duration {
        let days = Duration::days(
            self.copy_retention_days
                .unwrap_or(defaults::COPY_RETENTION_DAYS) as i64,
        );
        if self.delete_old_snapshots {
            days.min(self.retention())
        } else {
            days
        }
    }
    /// The property that sets `copy_retention`, for messages.
    pub fn copy_retention_property(&self) -> &'static str {
        let days = self
            .copy_retention_days
            .unwrap_or(defaults::COPY_RETENTION_DAYS) as i64;
        if self.copy_retention() < Duration::days(days) {
            self.retention_property()
        } else {
            "CopyRetentionDays"
        }
    }

    /// Source: snapshots are shared (false for a destination policy).
    pub fn shares(&self) -> bool {
        self.role == Role::Source && self.share_snapshots == Some(true)
    }

    /// Source: snapshots on the AWS-managed key are re-encrypted under ReencryptKmsKey and the
    /// copy shared.
    pub fn reencrypts(&self) -> bool {
        self.shares() && self.reencrypt_kms_key.is_some()
    }

    /// Destination: the restore drill runs (false in task inputs from before it existed).
    pub fn drills(&self) -> bool {
        self.role == Role::Destination && self.restore_drill == Some(true)
    }
    pub fn rto(&self) -> u64 {
        self.rto_minutes.unwrap_or(defaults::RTO_MINUTES)
    }
    /// Destination with drills: hours without a finished drill after which the drill is
    /// overdue: the drill schedule's longest gap, plus RtoMinutes for the drill to finish,
    /// plus an hour for the hourly sweep that measures it (both rounded up).
    pub fn drill_overdue_hours(&self) -> Option<u64> {
        if !self.drills() {
            return None;
        }
        let gap = self.restore_drill_schedule.as_ref()?.longest_gap()?;
        let gap_hours = (gap.num_minutes().max(0) as u64).div_ceil(60);
        Some(gap_hours + self.rto().div_ceil(60) + 1)
    }
    /// Destination: shared snapshots are copied in two steps (`TwoStepCopy`).
    pub fn copies_in_two_steps(&self) -> bool {
        self.role == Role::Destination && self.two_step_copy == Some(true)
    }
    /// Destination: copies come from other accounts (false: this account's own snapshots).
    pub fn copies_across_accounts(&self) -> bool {
        self.cross_account_copy != Some(false)
    }
    /// Source: the default BackupSchedule moves to the database's own minute (issue 28).
    pub fn spreads_snapshots(&self) -> bool {
        self.role == Role::Source && self.spread_snapshots == Some(true)
    }
    /// The BackupSchedule in effect for the database of `identity` (`spread::identity`): the
    /// default cadence at its own minute when spread, else BackupSchedule as written.
    pub fn effective_backup_schedule(&self, identity: &str) -> Option<String> {
        let schedule = self.backup_schedule.as_ref()?;
        if !self.spreads_snapshots() {
            return Some(schedule.expression().to_string());
        }
        let cadence = self.backup_interval().num_minutes().max(1) as u64;
        let minute = crate::spread::snapshot_minute(identity, cadence);
        Some(crate::spread::schedule_at(cadence, minute))
    }
    pub fn tagged_only(&self) -> bool {
        self.tagged_instance == Some(true)
    }
    /// Source: shares made outside the tool are revoked, not only reported.
    pub fn revokes_unknown_shares(&self) -> bool {
        self.revoke_unknown_shares == Some(true)
    }
    pub fn accounts(&self) -> &[S] {
        self.destination_accounts.as_deref().unwrap_or_default()
    }
    /// Destination: the accounts snapshots are copied from (empty: any that shares).
    pub fn source_account_list(&self) -> &[S] {
        self.source_accounts.as_deref().unwrap_or_default()
    }

    /// The schedules in effect, as (action, schedule) pairs, in a fixed order.
    pub fn actions(&self) -> Vec<(Action, &Schedule)> {
        let mut out = Vec::new();
        if let Some(s) = &self.backup_schedule {
            out.push((Action::Take, s));
        }
        if let (true, Some(s)) = (self.shares(), &self.share_schedule) {
            out.push((Action::Share, s));
        }
        if let Some(s) = &self.copy_schedule {
            out.push((Action::Copy, s));
        }
        if self.delete_old_snapshots {
            out.push((Action::Delete, &self.delete_schedule));
        }
        if let (true, Some(s)) = (self.drills(), &self.restore_drill_schedule) {
            out.push((Action::Drill, s));
        }
        out
    }

    /// Longest time between two snapshots, given BackupSchedule and BackupInterval.
    pub fn snapshot_spacing(&self) -> Option<Duration> {
        longest_snapshot_gap(self.backup_schedule.as_ref()?, self.backup_interval())
    }
}

/// A property the provider needs whose value is still an intrinsic function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{property} is an unresolved intrinsic; the provider needs its value")]
pub struct Unresolved {
    pub property: &'static str,
}

impl PolicySpec<Text> {
    /// The provider's form when every value is known now; the error names the first intrinsic.
    pub fn resolve(&self) -> Result<PolicySpec<String>, Unresolved> {
        self.resolve_fields()
            .map_err(|property| Unresolved { property })
    }

    fn resolve_fields(&self) -> Result<PolicySpec<String>, &'static str> {
        fn one(t: &Option<Text>, name: &'static str) -> Result<Option<String>, &'static str> {
            match t {
                None => Ok(None),
                Some(Text::Literal(s)) => Ok(Some(s.clone())),
                Some(Text::Intrinsic(_)) => Err(name),
            }
        }
        fn many(
            list: &Option<Vec<Text>>,
            name: &'static str,
        ) -> Result<Option<Vec<String>>, &'static str> {
            match list {
                None => Ok(None),
                Some(items) => items
                    .iter()
                    .map(|a| one(&Some(a.clone()), name).map(Option::unwrap_or_default))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
            }
        }
        let accounts = many(&self.destination_accounts, "DestinationAccounts")?;
        Ok(PolicySpec {
            role: self.role,
            policy_id: one(&self.policy_id, "PolicyId")?,
            instance_name_pattern: self.instance_name_pattern.clone(),
            snapshot_pattern: self.snapshot_pattern.clone(),
            db_instance_identifier: one(&self.db_instance_identifier, "DBInstanceIdentifier")?,
            db_cluster_identifier: one(&self.db_cluster_identifier, "DBClusterIdentifier")?,
            backup_interval_hours: self.backup_interval_hours,
            backup_interval_minutes: self.backup_interval_minutes,
            backup_schedule: self.backup_schedule.clone(),
            spread_snapshots: self.spread_snapshots,
            share_snapshots: self.share_snapshots,
            share_schedule: self.share_schedule.clone(),
            destination_accounts: accounts,
            tagged_instance: self.tagged_instance,
            revoke_unknown_shares: self.revoke_unknown_shares,
            destination_event_bus_arns: many(
                &self.destination_event_bus_arns,
                "DestinationEventBusArn",
            )?,
            reencrypt_kms_key: one(&self.reencrypt_kms_key, "ReencryptKmsKey")?,
            destination_region: one(&self.destination_region, "DestinationRegion")?,
            copy_schedule: self.copy_schedule.clone(),
            cross_account_copy: self.cross_account_copy,
            kms_key_source: one(&self.kms_key_source, "KmsKeySource")?,
            kms_key_destination: one(&self.kms_key_destination, "KmsKeyDestination")?,
            two_step_copy: self.two_step_copy,
            copy_retention_days: self.copy_retention_days,
            source_accounts: many(&self.source_accounts, "SourceAccounts")?,
            restore_drill: self.restore_drill,
            restore_drill_schedule: self.restore_drill_schedule.clone(),
            rto_minutes: self.rto_minutes,
            drill_db_instance_class: self.drill_db_instance_class.clone(),
            drill_db_subnet_group_name: one(
                &self.drill_db_subnet_group_name,
                "DrillDBSubnetGroupName",
            )?,
            drill_vpc_security_group_ids: many(
                &self.drill_vpc_security_group_ids,
                "DrillVpcSecurityGroupIds",
            )?,
            drill_validation_function_arn: one(
                &self.drill_validation_function_arn,
                "DrillValidationFunctionArn",
            )?,
            destination_option_group_name: one(
                &self.destination_option_group_name,
                "DestinationOptionGroupName",
            )?,
            retention_days: self.retention_days,
            retention_hours: self.retention_hours,
            delete_old_snapshots: self.delete_old_snapshots,
            delete_schedule: self.delete_schedule.clone(),
            keep_latest: self.keep_latest,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            keep_yearly: self.keep_yearly,
            rpo_minutes: self.rpo_minutes,
            log_level: self.log_level,
            source_region_override: self.source_region_override.clone(),
            strict_checks: self.strict_checks,
            expected_snapshot_minutes: self.expected_snapshot_minutes,
            expected_copy_minutes: self.expected_copy_minutes,
            event_driven: self.event_driven,
            retired_databases: many(&self.retired_databases, "RetiredDatabases")?,
            retired_keep_days: self.retired_keep_days,
        })
    }
}

impl Serialize for Text {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        match self {
            Text::Literal(s) => serializer.serialize_str(s),
            Text::Intrinsic(v) => v.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(Text::Literal(s)),
            v if crate::value::is_intrinsic(&v) => Ok(Text::Intrinsic(v)),
            other => Err(serde::de::Error::custom(format!(
                "expected a string or an intrinsic function, got {}",
                crate::value::describe(&other)
            ))),
        }
    }
}

impl Serialize for Schedule {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.serialize_str(self.expression())
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}
