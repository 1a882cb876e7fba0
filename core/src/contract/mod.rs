//! The one contract between the macro, the state machines, the provider and the people who
//! operate them: actions, the task input and output, every Step Functions error name with its
//! retryable flag, tags, metrics and event names. Nothing else in `src/` spells these names.

mod task;

pub use task::{
    DrillInput, DrillRestore, DrillRun, DrillStep, EventEntry, Failure, Kind, MetricDatum,
    MetricDimension, Note, Operation, Origin, RecoveryPoint, STATE_PAYLOAD_LIMIT_BYTES,
    SUMMARY_BUDGET_BYTES, Step, Summary, TaskInput, TaskInputError, parse_task_input,
};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The version of the task input the expansion writes (`"version"` in the Task's Parameters).
/// Version 4 added `origin` (the stack and state machine the task belongs to); version 5 the
/// restore drill (`action: drill`, `drill`, and the drill properties of the policy); version 6
/// the retention tiers (`KeepDaily`, `KeepWeekly`, `KeepMonthly`, `KeepYearly`), which a
/// provider that ignored them would delete.
pub const CONTRACT_VERSION: u32 = 6;
/// The oldest task input the provider still accepts: release 0.1 wrote no version (1).
pub const OLDEST_ACCEPTED_VERSION: u32 = 1;

/// The name of the macro, as declared by the install stack's `AWS::CloudFormation::Macro`.
pub const TRANSFORM_NAME: &str = "RdsSnapshotPolicy";
/// The custom resource type the macro expands.
pub const RESOURCE_TYPE: &str = "Custom::RdsSnapshotPolicy";
/// The provider's function name the install stack creates.
pub const DEFAULT_PROVIDER_FUNCTION: &str = "rds-snapshot-policy-provider";

/// The largest provider event read: a Step Functions task input holds at most 256 KiB and a
/// custom-resource event the resource's properties (templates hold at most 1 MB). Larger
/// events are refused `InputInvalid` before a JSON tree is built.
pub const MAX_PROVIDER_EVENT_BYTES: usize = 1024 * 1024;
/// The largest macro event read: the fragment of a template (at most 1 MB as a template, more
/// as JSON) and its parameter values; Lambda's synchronous payload limit is 6 MB.
pub const MAX_MACRO_EVENT_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting of a Lambda event read (serde_json's recursion limit).
pub const MAX_EVENT_DEPTH: usize = 128;

/// What a state machine asks the provider to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Take,
    Share,
    Copy,
    Delete,
    /// The restore drill (destination): one step per task, see `DrillStep`.
    Drill,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Take,
        Action::Share,
        Action::Copy,
        Action::Delete,
        Action::Drill,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Take => "take",
            Action::Share => "share",
            Action::Copy => "copy",
            Action::Delete => "delete",
            Action::Drill => "drill",
        }
    }

    /// `Take`: the form used in logical IDs and state names.
    pub fn title(self) -> &'static str {
        match self {
            Action::Take => "Take",
            Action::Share => "Share",
            Action::Copy => "Copy",
            Action::Delete => "Delete",
            Action::Drill => "Drill",
        }
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Action::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                format!("unknown action {s:?}: expected take, share, copy, delete or drill")
            })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every error name the provider raises (the Step Functions `Error` of a failed Task).
/// Ordered: within each group, the earlier name is the worse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorName {
    // Retryable: the state machine tries again later in the same execution.
    SnapshotPending,
    DatabaseNotAvailable,
    Throttled,
    CopyLimitReached,
    TransientAwsError,
    // Final: the execution fails and the alarm fires.
    PolicyInvalid,
    InputInvalid,
    AccessDenied,
    QuotaExceeded,
    EncryptionNotShareable,
    DatabaseNotFound,
    SnapshotNameTaken,
    AwsError,
    /// The task does not come from a running execution of a state machine a deployed stack
    /// declares with exactly this input: nothing is done.
    NotDeployed,
    /// The policy shares with or copies from an account outside the install stack's allow-list.
    AccountNotAllowed,
    /// A panic or an unexpected fault inside the provider.
    InternalError,
}

impl ErrorName {
    pub const ALL: [ErrorName; 16] = [
        ErrorName::SnapshotPending,
        ErrorName::DatabaseNotAvailable,
        ErrorName::Throttled,
        ErrorName::CopyLimitReached,
        ErrorName::TransientAwsError,
        ErrorName::PolicyInvalid,
        ErrorName::InputInvalid,
        ErrorName::AccessDenied,
        ErrorName::QuotaExceeded,
        ErrorName::EncryptionNotShareable,
        ErrorName::DatabaseNotFound,
        ErrorName::SnapshotNameTaken,
        ErrorName::AwsError,
        ErrorName::NotDeployed,
        ErrorName::AccountNotAllowed,
        ErrorName::InternalError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorName::SnapshotPending => "SnapshotPending",
            ErrorName::DatabaseNotAvailable => "DatabaseNotAvailable",
            ErrorName::Throttled => "Throttled",
            ErrorName::CopyLimitReached => "CopyLimitReached",
            ErrorName::TransientAwsError => "TransientAwsError",
            ErrorName::PolicyInvalid => "PolicyInvalid",
            ErrorName::InputInvalid => "InputInvalid",
            ErrorName::AccessDenied => "AccessDenied",
            ErrorName::QuotaExceeded => "QuotaExceeded",
            ErrorName::EncryptionNotShareable => "EncryptionNotShareable",
            ErrorName::DatabaseNotFound => "DatabaseNotFound",
            ErrorName::SnapshotNameTaken => "SnapshotNameTaken",
            ErrorName::AwsError => "AwsError",
            ErrorName::NotDeployed => "NotDeployed",
            ErrorName::AccountNotAllowed => "AccountNotAllowed",
            ErrorName::InternalError => "InternalError",
        }
    }

    /// Retried by the state machine (the Task's first `Retry` rule).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorName::SnapshotPending
                | ErrorName::DatabaseNotAvailable
                | ErrorName::Throttled
                | ErrorName::CopyLimitReached
                | ErrorName::TransientAwsError
        )
    }

    /// The retryable names, in contract order: the `ErrorEquals` of the Task's Retry rule.
    pub fn retryable() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|e| e.is_retryable())
            .map(Self::name)
            .collect()
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ErrorName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Step Functions' own names the definitions use.
pub mod states {
    /// Lambda service errors Step Functions recommends retrying.
    pub const LAMBDA_SERVICE_ERRORS: &[&str] = &[
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ];
    /// The provider is at its reserved concurrency (`ProviderConcurrency`): the task waits
    /// for a free invocation, longer than for a service error (`LAMBDA_THROTTLED_RETRY`).
    pub const LAMBDA_THROTTLED: &str = "Lambda.TooManyRequestsException";
    /// (IntervalSeconds, MaxAttempts) of the policies' loops: 1 s apart, 900 times: 15 minutes
    /// of waiting, the provider's longest invocation. Short, because a freed invocation stays
    /// idle until a waiting task retries (`make bench-pacing`, 20 runs on an idle machine,
    /// three seeds: 5 s apart left 3.3–5.8 s of the bound's slots idle at hand-offs and ended
    /// 9.0–11.2 % over the floor, 1 s apart 0.5–1.0 s and 8.5–9.5 %). A retry is one state
    /// transition and costs no RDS request; the execution's history bound is checked below.
    pub const LAMBDA_THROTTLED_RETRY: (u64, u64) = (1, 900);
    /// The drill's: 5 s apart, 180 times. A drill's seconds do not count against an RTO of
    /// hours, and its execution runs for up to RtoMinutes + 60 (a day and an hour), so it
    /// waits on a busy provider with a fifth of the history events.
    pub const DRILL_THROTTLED_RETRY: (u64, u64) = (5, 180);
    /// A Standard execution's "Maximum execution history size: 25,000 events. If the execution
    /// history reaches this quota, the execution will fail."
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). A Task
    /// attempt adds up to three (scheduled, started, failed); the bound below counts twice that.
    pub const EXECUTION_HISTORY_EVENTS: u64 = 25_000;
    /// Matches every error in a Catch.
    pub const ALL_ERRORS: &str = "States.ALL";
    /// The error of the Fail state an execution ends in after the notification.
    pub const POLICY_FAILED: &str = "SnapshotPolicyFailed";
    /// The SDK integration that publishes the recovery-point ages.
    pub const PUT_METRIC_DATA: &str = "arn:aws:states:::aws-sdk:cloudwatch:putMetricData";
    /// An execution's own time limit (the definition's `TimeoutSeconds`).
    pub const EXECUTION_TIMEOUT_SECONDS: u64 = 3600;
    // A policy's execution that spent its whole time limit retrying a busy provider keeps its
    // history (and so its Catch and notification) even at six events an attempt.
    const _: () = assert!(
        EXECUTION_TIMEOUT_SECONDS / LAMBDA_THROTTLED_RETRY.0 * 6 < EXECUTION_HISTORY_EVENTS
    );
    /// One provider Task's limit: the provider Lambda's timeout.
    pub const TASK_TIMEOUT_SECONDS: u64 = 900;
    /// Time kept for the states around a round (metrics, the choice, the next Task's start).
    const ROUND_MARGIN_SECONDS: u64 = 60;

    /// Whether the loop may start another round `elapsed_seconds` into the execution: a round
    /// at its longest must end before the execution's limit, so no execution times out for
    /// being big (what is left waits for the next scheduled run).
    pub fn another_round_fits(elapsed_seconds: i64) -> bool {
        let needed = (TASK_TIMEOUT_SECONDS + ROUND_MARGIN_SECONDS) as i64;
        elapsed_seconds.max(0) + needed <= EXECUTION_TIMEOUT_SECONDS as i64
    }
}

/// Tags the tool writes and reads. `CreatedBy`/`CopiedBy` and `CopyDBSnapshot` are the seed's.
pub mod tags {
    pub const CREATED_BY: &str = "CreatedBy";
    pub const COPIED_BY: &str = "CopiedBy";
    /// The value of `CreatedBy` and `CopiedBy`.
    pub const TOOL: &str = "Snapshot Tool for RDS";
    /// The owning policy's PolicyId.
    pub const POLICY: &str = "rds-snapshot-policy:policy";
    /// The DB instance or cluster a snapshot (or copy) is of.
    pub const DATABASE: &str = "rds-snapshot-policy:database";
    /// On a copy: the ARN of the snapshot it was copied from.
    pub const SOURCE_ARN: &str = "rds-snapshot-policy:source-arn";
    /// On a copy: when the source snapshot was taken (RFC 3339), the recovery point.
    pub const RECOVERY_POINT: &str = "rds-snapshot-policy:recovery-point";
    /// On a copy: when a copy run first saw it available (RFC 3339), for the delivery lag.
    pub const DELIVERED: &str = "rds-snapshot-policy:delivered";
    /// On a source snapshot: the accounts the tool shared it with (space-separated IDs, at most
    /// `SHARED_WITH_PER_TAG` per tag; more go to `SHARED_WITH_2`). Release 0.1 wrote a digest.
    pub const SHARED_WITH: &str = "rds-snapshot-policy:shared-with";
    pub const SHARED_WITH_2: &str = "rds-snapshot-policy:shared-with-2";
    /// On a drill instance or cluster: the PolicyId whose drill created it.
    pub const DRILL: &str = "rds-snapshot-policy:drill";
    /// On a drill instance or cluster: the ARN of the DR copy it was restored from.
    pub const DRILL_SNAPSHOT: &str = "rds-snapshot-policy:drill-snapshot";
    /// On a drill instance or cluster: when the provider requested the restore (RFC 3339, AWS's
    /// clock), written by the restore call itself.
    pub const DRILL_REQUESTED: &str = "rds-snapshot-policy:drill-requested";
    /// On a drill instance or cluster: when a check first saw it serve (RFC 3339, AWS's clock).
    pub const DRILL_AVAILABLE: &str = "rds-snapshot-policy:drill-available";
    /// Every tag key the provider writes on a drill instance or cluster (the restore-drill
    /// statements' `aws:TagKeys`).
    pub const DRILL_RESOURCE_WRITTEN: [&str; 6] = [
        DRILL,
        POLICY,
        DATABASE,
        DRILL_SNAPSHOT,
        DRILL_REQUESTED,
        DRILL_AVAILABLE,
    ];
    /// On a policy's delete state machine: its deletes are held (`<RFC 3339> <reason>`), by a
    /// tamper event, an incident alarm or an operator; only an operator's `release` lifts it.
    pub const HOLD: &str = "rds-snapshot-policy:hold";
    /// On a DR copy: its last drill (`<RFC 3339> <minutes> min`).
    pub const DRILLED: &str = "rds-snapshot-policy:drilled";
    /// On a source snapshot re-encrypted under ReencryptKmsKey: the identifier of the
    /// AWS-managed-key original it was copied from.
    pub const REENCRYPTED_FROM: &str = "rds-snapshot-policy:reencrypted-from";
    /// The suffix of a re-encrypted copy's identifier (`<original>-cmk`).
    pub const REENCRYPTED_SUFFIX: &str = "-cmk";
    /// 10 IDs and their separators fit RDS's 256-character tag values.
    pub const SHARED_WITH_PER_TAG: usize = 10;
    /// Every tag key the provider writes: the provider role's `aws:TagKeys` allow only these.
    pub const WRITTEN: [&str; 12] = [
        CREATED_BY,
        COPIED_BY,
        POLICY,
        DATABASE,
        SOURCE_ARN,
        RECOVERY_POINT,
        DELIVERED,
        SHARED_WITH,
        SHARED_WITH_2,
        DRILL,
        DRILLED,
        REENCRYPTED_FROM,
    ];
    /// The keys written on a snapshot that already carries the marker (after sharing, after
    /// delivery): never the marker itself.
    pub const WRITTEN_LATER: [&str; 4] = [SHARED_WITH, SHARED_WITH_2, DELIVERED, DRILLED];
    /// On a database: opt in when TaggedInstance is true (the seed's tag).
    pub const OPT_IN: &str = "CopyDBSnapshot";
    /// The value of `CopyDBSnapshot` that opts a database in (any case).
    pub const OPT_IN_VALUE: &str = "True";
}

/// CloudWatch metrics the provider publishes and the expansion alarms on.
pub mod metrics {
    pub const NAMESPACE: &str = "RdsSnapshotPolicy";
    /// Age of the newest available recovery point per database, in minutes (DR copies for a
    /// destination policy, snapshots for a source policy), by AWS's clock.
    pub const RECOVERY_POINT_AGE: &str = "RecoveryPointAgeMinutes";
    /// Per DR copy: its recovery point → first seen available, in minutes.
    pub const DELIVERY_LAG: &str = "DeliveryLagMinutes";
    /// Per DR copy (`Policy`): its recovery point → the copy's start, in minutes (snapshot
    /// creation, share, sweeps, the wait for a slot among AWS's copies in flight).
    pub const COPY_WAIT: &str = "CopyWaitMinutes";
    /// Per DR copy (`Policy`): the copy's start → first seen available, in minutes.
    pub const COPY_DURATION: &str = "CopyDurationMinutes";
    /// DR, per copy run (`Policy`): the worst-case recovery-point age forecast from the
    /// measured terms (`forecast`); the generated alarm fires above RpoMinutes.
    pub const RPO_FORECAST: &str = "RpoForecastMinutes";
    /// DR, per copy run: snapshots matching the policy shared by accounts outside
    /// SourceAccounts (never copied); the generated alarm notifies on the first sighting.
    pub const UNEXPECTED_SHARES: &str = "UnexpectedSharedSnapshots";
    /// Source, per share run: the policy's snapshots whose restore attribute names an account
    /// the tool did not share with (or `all`), read from AWS; the generated alarm notifies.
    pub const SHARED_OUTSIDE_POLICY: &str = "SnapshotsSharedOutsidePolicy";
    /// Per delete run: 1 while the policy's deletes are held (an incident), else 0.
    pub const DELETES_HELD: &str = "DeletesHeld";
    /// Per database and drill: restore requested → available (→ validated), in minutes.
    pub const RESTORE_MINUTES: &str = "RestoreMinutes";
    /// DR, per drill sweep (hourly): hours since the policy's last finished drill, from its
    /// durable drill records (since the records' log group was created when there is none);
    /// the generated overdue alarm treats missing data as breaching, so a drill or a sweep
    /// that stops running alarms.
    pub const DRILL_AGE: &str = "DrillAgeHours";
    /// The IAM condition key that limits PutMetricData to `NAMESPACE`.
    pub const NAMESPACE_CONDITION_KEY: &str = "cloudwatch:namespace";
    pub const DIMENSION_POLICY: &str = "Policy";
    pub const DIMENSION_DATABASE: &str = "Database";
    /// Step Functions' metrics the generated alarms watch (namespace `AWS/States`).
    pub const STATES_NAMESPACE: &str = "AWS/States";
    pub const EXECUTIONS_FAILED: &str = "ExecutionsFailed";
    pub const EXECUTIONS_TIMED_OUT: &str = "ExecutionsTimedOut";
}

/// Durable drill records (issue 26): one JSON log event per restore of a drill, in a log group
/// per DR policy that snapshot retention never touches and stack deletion keeps.
pub mod drill_records {
    /// `<prefix><PolicyId>`: the log group of a policy's drill records.
    pub const LOG_GROUP_PREFIX: &str = "/rds-snapshot-policy/drills/";
    /// Ten years, a value CloudWatch Logs accepts for RetentionInDays (PutRetentionPolicy).
    pub const RETENTION_DAYS: u32 = 3653;
    /// The record's `outcome`: restored (and validated, when a function is set) within
    /// RtoMinutes; restored but slower than RtoMinutes; or not restored (the drill failed).
    pub const PASSED: &str = "passed";
    pub const RTO_MISSED: &str = "rto-missed";
    pub const FAILED: &str = "failed";
    /// Written by the drill sweep into an empty log group (a new policy): the drill's age
    /// counts from here until the first drill finishes.
    pub const WATCHING: &str = "watching";
    /// Written by each drill run for each retired database (RetiredDatabases) instead of a
    /// restore: its final copy, recovery point and how long it is kept. Not a drill.
    pub const RETIRED: &str = "retired";
    /// Log streams are per UTC day (`2026-12-05`).
    pub const STREAM_DATE_FORMAT: &str = "%Y-%m-%d";

    /// The log group of `policy_id`'s drill records. A PolicyId may hold `: @ + =`, which log
    /// group names may not (CloudWatch Logs API reference, CreateLogGroup: `[\.\-_/#A-Za-z0-9]+`):
    /// each becomes `-`.
    pub fn log_group(policy_id: &str) -> String {
        let name: String = policy_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-/#".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("{LOG_GROUP_PREFIX}{name}")
    }
}

/// EventBridge: what RDS emits (matched by the generated rules) and what the source puts on
/// the DR account's bus after sharing.
pub mod events {
    pub const RDS_SOURCE: &str = "aws.rds";
    /// CloudWatch's alarm state changes on the default bus (CloudWatch user guide, "Alarm
    /// events and EventBridge").
    pub const CLOUDWATCH_SOURCE: &str = "aws.cloudwatch";
    pub const ALARM_STATE_CHANGE: &str = "CloudWatch Alarm State Change";
    pub const DB_SNAPSHOT_EVENT: &str = "RDS DB Snapshot Event";
    pub const DB_CLUSTER_SNAPSHOT_EVENT: &str = "RDS DB Cluster Snapshot Event";
    /// A manual DB snapshot has been created.
    pub const MANUAL_SNAPSHOT_CREATED: &str = "RDS-EVENT-0042";
    /// A manual DB cluster snapshot has been created.
    pub const MANUAL_CLUSTER_SNAPSHOT_CREATED: &str = "RDS-EVENT-0075";
    /// A cross-region DB snapshot copy finished.
    pub const CROSS_REGION_COPY_FINISHED: &str = "RDS-EVENT-0060";
    /// A same-region DB snapshot copy finished.
    pub const LOCAL_COPY_FINISHED: &str = "RDS-EVENT-0197";
    /// The source of the announcement the source account puts on the DR bus.
    pub const SOURCE: &str = "rds-snapshot-policy";
    pub const SNAPSHOTS_SHARED: &str = "RDS Snapshot Policy Snapshots Shared";
    /// The default bus's name.
    pub const DEFAULT_BUS: &str = "default";
    /// A rule has at most 5 targets.
    pub const MAX_TARGETS_PER_RULE: usize = 5;
    /// The Step Functions integration that puts them.
    pub const PUT_EVENTS: &str = "arn:aws:states:::events:putEvents";
    /// IAM condition keys of events:PutEvents.
    pub const SOURCE_CONDITION_KEY: &str = "events:source";
    pub const DETAIL_TYPE_CONDITION_KEY: &str = "events:detail-type";
}

/// The provider Lambda's environment, set by the install stack.
pub mod provider_env {
    /// Production: the only accounts any policy may share with (comma-separated 12-digit IDs;
    /// unset or empty: none, nothing is shared cross-account).
    pub const ALLOWED_DESTINATION_ACCOUNTS: &str = "RSP_ALLOWED_DESTINATION_ACCOUNTS";
    /// DR: the only accounts any policy may copy from (same format; unset or empty: none).
    pub const ALLOWED_SOURCE_ACCOUNTS: &str = "RSP_ALLOWED_SOURCE_ACCOUNTS";
    /// `1`: custom-resource answers may go to http on 127.0.0.1 (local tests only; the
    /// install stack never sets it).
    pub const ALLOW_LOCAL_RESPONSE_URL: &str = "RSP_ALLOW_LOCAL_RESPONSE_URL";
    /// Operations the provider applies at once (1 to 16, default 4).
    pub const PARALLELISM: &str = "RSP_PARALLELISM";
    /// The installation's `KmsKeyArns` (comma-separated; empty: the role may use any key
    /// through RDS). Read by the deploy-time checks: a key the copies need must be listed.
    pub const KMS_KEY_ARNS: &str = "RSP_KMS_KEY_ARNS";
    /// DR: the installation's `SourceKmsKeyArns`, the production keys of shared snapshots.
    pub const SOURCE_KMS_KEY_ARNS: &str = "RSP_SOURCE_KMS_KEY_ARNS";
    /// The function's own name, set by Lambda itself (a reserved variable, Lambda developer
    /// guide, "Defined runtime environment variables"): a policy resource must be served by it.
    pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
}

/// Names of AWS resources the deploy-time checks look for.
pub mod account_checks {
    /// RDS's service-linked role (RDS guide, "Using service-linked roles for Amazon RDS").
    pub const RDS_SERVICE_LINKED_ROLE: &str = "AWSServiceRoleForRDS";
}

/// The tamper rules: CloudTrail API calls (through EventBridge) that change or remove the
/// tool's snapshots, copies or keys by any principal other than the provider's role.
pub mod tamper {
    pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
    pub const RDS_EVENT_SOURCE: &str = "rds.amazonaws.com";
    pub const KMS_EVENT_SOURCE: &str = "kms.amazonaws.com";
    pub const KMS_SOURCE: &str = "aws.kms";
    /// Deleting, unsharing/sharing and (un)tagging snapshots: whoever does it but the provider.
    pub const RDS_EVENTS: [&str; 6] = [
        "DeleteDBSnapshot",
        "DeleteDBClusterSnapshot",
        "ModifyDBSnapshotAttribute",
        "ModifyDBClusterSnapshotAttribute",
        "RemoveTagsFromResource",
        "AddTagsToResource",
    ];
    /// The cheapest ways to make every copy unrecoverable.
    pub const KMS_EVENTS: [&str; 3] = ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"];
    /// The provider's role is `<prefix><region>` (the install stack names it so the rules and
    /// the `guard` SCP can exempt exactly it).
    pub const PROVIDER_ROLE_PREFIX: &str = "rds-snapshot-policy-provider-";
}

/// Metadata keys the macro writes on the policy resource.
pub mod metadata {
    pub const WARNINGS: &str = "RdsSnapshotPolicyWarnings";
    pub const WORST_CASE_RPO: &str = "RdsSnapshotPolicyWorstCaseRpo";
}

/// Properties the expansion adds to the policy resource; a user may not set them.
pub mod generated_properties {
    pub const SERVICE_TOKEN: &str = "ServiceToken";
    pub const GENERATED_RESOURCES: &str = "GeneratedResources";
    /// The version of the policy resource's identity (its physical ID): a new version changes
    /// the properties, so re-deploying a stack updates the resource and its identity.
    pub const IDENTITY_VERSION: &str = "IdentityVersion";
    /// The identity version this release writes.
    pub const CURRENT_IDENTITY_VERSION: u32 = 2;
    pub const ALL: [&str; 3] = [SERVICE_TOKEN, GENERATED_RESOURCES, IDENTITY_VERSION];
    /// In `GeneratedResources`: who the notifications reach, `email` (NotificationEmail),
    /// `topic` (NotificationTopicArn, subscribed by its owner) or `none` (the created topic
    /// has no subscriber: the deploy-time check warns, StrictChecks refuses).
    pub const NOTIFICATION_SUBSCRIBER: &str = "NotificationSubscriber";
    pub const SUBSCRIBER_NONE: &str = "none";
}

/// The policy resource's attributes (`Fn::GetAtt`), answered by the deploy-time check.
pub mod attributes {
    /// The take schedule in effect: the default cadence at the database's own minute when
    /// SpreadSnapshots is on (the take rule reads it), else BackupSchedule as written.
    pub const BACKUP_SCHEDULE: &str = "BackupSchedule";
    /// The database's minute past each cadence period (SpreadSnapshots), as text.
    pub const SNAPSHOT_MINUTE: &str = "SnapshotMinute";
    pub const DATABASES: &str = "Databases";
    pub const WORST_CASE_RPO_MINUTES: &str = "WorstCaseRpoMinutes";
}

/// CloudFormation's custom-resource event names the provider answers.
pub mod custom_resource {
    pub const CREATE: &str = "Create";
    pub const UPDATE: &str = "Update";
    pub const DELETE: &str = "Delete";
    pub const SUCCESS: &str = "SUCCESS";
    pub const FAILED: &str = "FAILED";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut names: Vec<&str> = ErrorName::ALL.iter().map(|e| e.name()).collect();
        for e in ErrorName::ALL {
            assert_eq!(ErrorName::parse(e.name()), Some(e));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorName::ALL.len());
        for a in Action::ALL {
            assert_eq!(a.name().parse::<Action>(), Ok(a));
            assert_eq!(a.title().to_ascii_lowercase(), a.name());
        }
    }

    #[test]
    fn retryable_names_come_first_in_order() {
        let retryable = ErrorName::retryable();
        assert_eq!(
            retryable,
            [
                "SnapshotPending",
                "DatabaseNotAvailable",
                "Throttled",
                "CopyLimitReached",
                "TransientAwsError"
            ]
        );
        assert!(!ErrorName::InternalError.is_retryable());
    }
}
