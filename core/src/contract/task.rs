//! The provider's task input and output: what a state machine's Task sends and gets back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Action, CONTRACT_VERSION, ErrorName, OLDEST_ACCEPTED_VERSION};
use crate::spec::PolicySpec;

/// The task input: `{"version": 2, "action": ..., "policy": {...}, "now": ..., "execution": ...}`.
/// Release 0.1 wrote no `version` (version 1, otherwise the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskInput {
    #[serde(default = "first_version")]
    pub version: u32,
    pub action: Action,
    pub policy: PolicySpec<String>,
    /// The execution's start (RFC 3339, `$$.Execution.StartTime`): the run plans as of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    /// The Step Functions execution: the provider checks it is running and that its state
    /// machine sends exactly this input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// Version 4: the stack that declares the state machine (its ARN) and the state machine's
    /// logical ID in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Version 5, `action: drill`: which step, and the run so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillInput>,
    /// Version 6: when the execution started (RFC 3339): a run stopped by its deadline asks
    /// for another round only while one fits in the execution's time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_start: Option<String>,
    /// `action: delete` started by an incident (a tamper event, an incident alarm): hold the
    /// policy's deletes instead, for this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
}

/// The steps of a restore drill, one Task each in the drill state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillStep {
    /// Restore the newest DR copy of each database into a temporary instance or cluster.
    Start,
    /// How far the restores are (the state machine waits between checks).
    Check,
    /// Record the timings, tag the copies, delete what the drill created.
    Finish,
    /// After a failure: delete what the drill created.
    Cleanup,
    /// Scheduled: delete drill instances and clusters older than RtoMinutes plus a margin.
    Sweep,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrillInput {
    pub step: DrillStep,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<DrillRun>,
    /// Finish after a validation function passed: when it did (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
}

/// A drill in progress: what was restored from which copy, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrillRun {
    /// RFC 3339, by AWS's clock.
    pub started: String,
    pub restores: Vec<DrillRestore>,
    /// Every restore is available.
    #[serde(default)]
    pub ready: bool,
    /// RtoMinutes passed before every restore was available.
    #[serde(default)]
    pub timed_out: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrillRestore {
    pub database: String,
    pub kind: Kind,
    /// The DR copy restored.
    pub snapshot: String,
    pub snapshot_arn: String,
    /// The drill instance (or cluster) identifier.
    pub identifier: String,
    /// RFC 3339.
    pub requested: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// When the validation function passed it (RFC 3339), if one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    /// Requested → available, or → validated when a validation function passed it: what
    /// `RestoreMinutes` reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
}

/// Where a task comes from: the provider asks CloudFormation whether `stack` declares
/// `state_machine` as the execution's state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Origin {
    pub stack: String,
    pub state_machine: String,
}

fn first_version() -> u32 {
    1
}

/// Why a task input was refused; `InputInvalid` in the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInputError(pub String);

impl std::fmt::Display for TaskInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TaskInputError {
    pub fn name(&self) -> ErrorName {
        ErrorName::InputInvalid
    }
}

/// Reads a task input: the typed shape (naming the field that is wrong), the version, then the
/// policy's invariants.
pub fn parse_task_input(payload: &Value) -> Result<TaskInput, TaskInputError> {
    let input: TaskInput = serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at {path}")
        };
        TaskInputError(format!(
            "the task input is not one the expansion writes{at}: {}",
            e.inner()
        ))
    })?;
    if !(OLDEST_ACCEPTED_VERSION..=CONTRACT_VERSION).contains(&input.version) {
        return Err(TaskInputError(format!(
            "task input version {} is not supported: this provider accepts {OLDEST_ACCEPTED_VERSION} to {CONTRACT_VERSION} (update the provider before re-expanding the stacks)",
            input.version
        )));
    }
    if let Some(start) = &input.execution_start
        && let Err(e) = chrono::DateTime::parse_from_rfc3339(start)
    {
        return Err(TaskInputError(format!(
            "the task input's executionStart {start:?} is not an RFC 3339 time: {e}"
        )));
    }
    input
        .policy
        .check()
        .map_err(|e| TaskInputError(format!("the task input's {e}")))?;
    Ok(input)
}

/// Instance or cluster, as summaries and plans name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Instance,
    Cluster,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Instance => "DB instance",
            Kind::Cluster => "DB cluster",
        }
    }

    pub fn noun_plural(self) -> &'static str {
        match self {
            Kind::Instance => "DB instances",
            Kind::Cluster => "DB clusters",
        }
    }

    /// The `DescribeAccountAttributes` quota of this kind's manual snapshots.
    pub fn quota_name(self) -> &'static str {
        match self {
            Kind::Instance => "ManualSnapshots",
            Kind::Cluster => "ManualClusterSnapshots",
        }
    }
}

/// One AWS write a plan asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "operation", rename_all = "camelCase")]
pub enum Operation {
    #[serde(rename_all = "camelCase")]
    Create {
        database: String,
        kind: Kind,
        snapshot_id: String,
        tags: Vec<(String, String)>,
    },
    /// Makes the accounts a snapshot is shared with the policy's: adds `accounts` (those not
    /// yet recorded), removes `revoke` (accounts the tool shared with earlier that the policy
    /// no longer names), then records the policy's accounts in the `shared-with` tags.
    #[serde(rename_all = "camelCase")]
    Share {
        snapshot_id: String,
        snapshot_arn: String,
        kind: Kind,
        accounts: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        revoke: Vec<String>,
        record: Vec<(String, String)>,
    },
    #[serde(rename_all = "camelCase")]
    Copy {
        source_arn: String,
        target_id: String,
        kind: Kind,
        kms_key_id: String,
        tags: Vec<(String, String)>,
        /// The destination region's option group (`DestinationOptionGroupName`), for an
        /// instance snapshot with a non-default option group copied across regions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        option_group: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Delete { snapshot_id: String, kind: Kind },
    /// `TwoStepCopy`, first step: copies a shared snapshot into this account in the source
    /// region under `KmsKeySource`. The second step is a `Copy` of that copy.
    #[serde(rename_all = "camelCase")]
    StageCopy {
        source_arn: String,
        target_id: String,
        kind: Kind,
        kms_key_id: String,
        tags: Vec<(String, String)>,
    },
    /// `TwoStepCopy`: deletes a first-step copy in the source region once its DR copy is
    /// available (or when it failed, so the next run starts it again).
    #[serde(rename_all = "camelCase")]
    DeleteStaged { snapshot_id: String, kind: Kind },
    /// Records on a new DR copy when it was first seen available (its delivery).
    #[serde(rename_all = "camelCase")]
    MarkDelivered {
        snapshot_id: String,
        snapshot_arn: String,
        database: String,
        /// RFC 3339.
        delivered: String,
        lag_minutes: i64,
        /// The copy's own part of the lag: its SnapshotCreateTime (when it was copied) to
        /// `delivered`; the rest is the wait before it started.
        copy_minutes: i64,
    },
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

/// An operation that failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub subject: String,
    pub error: ErrorName,
    pub message: String,
}

/// The newest available DR copy of one database: the recovery point the RPO is measured on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPoint {
    pub snapshot: String,
    pub taken: String,
    pub age_minutes: i64,
}

/// One CloudWatch datum, in the shape of PutMetricData's `MetricData` (the state machine
/// passes the list to CloudWatch as it is). No `Timestamp`: CloudWatch stamps the time it
/// receives the datum (PutMetricData API reference), which avoids depending on how the
/// Step Functions SDK integration converts a timestamp given as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDatum {
    pub metric_name: &'static str,
    pub dimensions: Vec<MetricDimension>,
    pub value: f64,
    pub unit: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDimension {
    pub name: &'static str,
    pub value: String,
}

impl MetricDatum {
    /// A datum of the policy as a whole (every metric of the tool has unit `None`).
    pub fn of_policy(metric_name: &'static str, policy: &str, value: f64) -> Self {
        MetricDatum {
            metric_name,
            dimensions: vec![MetricDimension::policy(policy)],
            value,
            unit: "None",
        }
    }

    /// A datum of one database of the policy.
    pub fn of_database(
        metric_name: &'static str,
        policy: &str,
        database: &str,
        value: f64,
    ) -> Self {
        let mut datum = Self::of_policy(metric_name, policy, value);
        datum.dimensions.push(MetricDimension {
            name: super::metrics::DIMENSION_DATABASE,
            value: database.to_string(),
        });
        datum
    }
}

impl MetricDimension {
    pub fn policy(policy: &str) -> Self {
        MetricDimension {
            name: super::metrics::DIMENSION_POLICY,
            value: policy.to_string(),
        }
    }
}

/// One PutEvents entry, in the API's shape (the state machine passes batches as they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventEntry {
    pub source: &'static str,
    pub detail_type: &'static str,
    /// JSON text.
    pub detail: String,
    pub event_bus_name: String,
}

/// The task output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub action: Action,
    pub policy: String,
    pub now: String,
    pub dry_run: bool,
    pub done: Vec<Step>,
    pub skipped: Vec<Note>,
    pub pending: Vec<Note>,
    pub failed: Vec<Failure>,
    pub aws_calls: usize,
    /// When the recovery points were measured, by AWS's clock (not the schedule's time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_at: Option<String>,
    /// The newest available recovery point per database: DR copies (destination) or this
    /// policy's snapshots (source).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub recovery_points: BTreeMap<String, RecoveryPoint>,
    /// DR, copy: the worst-case recovery-point age forecast from measured copy times, term by
    /// term, naming the term that grew (published as `metrics::RPO_FORECAST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_forecast: Option<String>,
    /// What the state machine publishes to CloudWatch (namespace `metrics::NAMESPACE`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_data: Vec<MetricDatum>,
    /// DR: accounts outside SourceAccounts that share snapshots matching the policy (never
    /// copied), with how many.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unexpected_sharers: BTreeMap<String, usize>,
    /// Source, share: the policy's snapshots shared outside the tool (accounts, or `all`) as
    /// their restore attributes show; at most `SHARED_OUTSIDE_LISTED` (the metric counts all).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared_outside: BTreeMap<String, Vec<String>>,
    /// `action: drill`: the run after this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillRun>,
    /// Source, after sharing: what the state machine puts on this account's default bus (the
    /// policy's forwarding rule sends it on to the DR accounts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub announcements: Vec<EventEntry>,
    /// Operations were left pending because the invocation's time ran short: the state
    /// machine runs the task again at once (it plans anew from what exists).
    #[serde(default)]
    pub more: bool,
    /// Entries left out of `done`, `skipped`, `pending`, `failed` and `recoveryPoints` to keep
    /// the output under Step Functions' payload limit (see [`Summary::bounded`]), by list.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub omitted: BTreeMap<&'static str, usize>,
}

/// Step Functions' limit on a state's input or output: 256 KiB of UTF-8 (Step Functions
/// guide, quotas). Past it the execution fails with `States.DataLimitExceeded`, which no
/// `States.ALL` catches: no notification, no metrics.
pub const STATE_PAYLOAD_LIMIT_BYTES: usize = 262_144;

/// What a task's output may use of that limit: the rest is kept for what the state machine
/// adds around it (the execution's input, an error, the loop's fields).
pub const SUMMARY_BUDGET_BYTES: usize = 200_000;

fn size<T: Serialize>(value: &T) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |t| t.len())
}

/// Keeps the entries of `items` that fit in `budget` bytes (in order), counting the rest.
fn keep_within<T: Serialize>(items: &mut Vec<T>, budget: &mut usize) -> usize {
    let mut kept = 0;
    for item in items.iter() {
        let cost = size(item) + 1;
        if cost > *budget {
            break;
        }
        *budget -= cost;
        kept += 1;
    }
    let left_out = items.len() - kept;
    items.truncate(kept);
    left_out
}

impl Summary {
    /// The summary within `max_bytes` of JSON: what the state machine acts on (metric data,
    /// announcements, the loop flag, the drill run) is kept whole; the per-snapshot notes are
    /// kept in order of importance (failures, then what was done, pending, the recovery points,
    /// skipped) until the budget is spent, and `omitted` counts what was left out. The logs
    /// carry every entry.
    pub fn bounded(mut self, max_bytes: usize) -> Summary {
        if size(&self) <= max_bytes {
            return self;
        }
        let mut notes = (
            std::mem::take(&mut self.failed),
            std::mem::take(&mut self.done),
            std::mem::take(&mut self.pending),
            std::mem::take(&mut self.recovery_points),
            std::mem::take(&mut self.skipped),
        );
        // What stays whole, plus room for the `omitted` counts.
        let mut budget = max_bytes.saturating_sub(size(&self) + 200);
        let mut omitted = BTreeMap::new();
        let mut count = |name: &'static str, n: usize| {
            if n > 0 {
                omitted.insert(name, n);
            }
        };
        count("failed", keep_within(&mut notes.0, &mut budget));
        count("done", keep_within(&mut notes.1, &mut budget));
        count("pending", keep_within(&mut notes.2, &mut budget));
        let mut points: Vec<(String, RecoveryPoint)> =
            std::mem::take(&mut notes.3).into_iter().collect();
        // The oldest recovery points first: the ones an operator looks for.
        points.sort_by_key(|p| std::cmp::Reverse(p.1.age_minutes));
        count("recoveryPoints", keep_within(&mut points, &mut budget));
        count("skipped", keep_within(&mut notes.4, &mut budget));
        (self.failed, self.done, self.pending, self.skipped) = (notes.0, notes.1, notes.2, notes.4);
        self.recovery_points = points.into_iter().collect();
        self.omitted = omitted;
        self
    }
}

#[cfg(test)]
mod bounded_tests {
    use super::*;

    fn note(i: usize) -> Note {
        Note {
            subject: format!("arn:aws:rds:eu-west-1:111111111111:snapshot:orders-{i:05}-2026-04-06-10-00"),
            reason: "inside RetentionDays (30 days): kept; the newest available snapshot of its database".into(),
        }
    }

    fn sweep(notes: usize, databases: usize) -> Summary {
        Summary {
            action: Action::Delete,
            policy: "orders".into(),
            now: "2026-04-06T10:00:00Z".into(),
            dry_run: false,
            done: Vec::new(),
            skipped: (0..notes).map(note).collect(),
            pending: (0..10).map(note).collect(),
            failed: vec![Failure {
                subject: "orders-1".into(),
                error: ErrorName::AccessDenied,
                message: "denied".into(),
            }],
            aws_calls: 3,
            measured_at: None,
            rpo_forecast: None,
            recovery_points: (0..databases)
                .map(|i| {
                    (
                        format!("db-{i:04}"),
                        RecoveryPoint {
                            snapshot: format!("db-{i:04}-2026-04-06-10-00"),
                            taken: "2026-04-06T10:00:00Z".into(),
                            age_minutes: i as i64,
                        },
                    )
                })
                .collect(),
            metric_data: (0..databases)
                .map(|i| MetricDatum {
                    metric_name: "RecoveryPointAgeMinutes",
                    dimensions: vec![MetricDimension {
                        name: "Policy",
                        value: format!("db-{i}"),
                    }],
                    value: 1.0,
                    unit: "None",
                })
                .collect(),
            unexpected_sharers: BTreeMap::new(),
            shared_outside: BTreeMap::new(),
            drill: None,
            announcements: Vec::new(),
            more: true,
            omitted: BTreeMap::new(),
        }
    }

    #[test]
    fn a_small_summary_is_unchanged() {
        let small = sweep(10, 3);
        assert_eq!(small.clone().bounded(SUMMARY_BUDGET_BYTES), small);
    }

    #[test]
    fn a_sweep_of_thousands_of_snapshots_stays_under_the_payload_limit() {
        let big = sweep(5_000, 300);
        assert!(
            size(&big) > STATE_PAYLOAD_LIMIT_BYTES,
            "the case must exceed the limit: {}",
            size(&big)
        );
        let bounded = big.clone().bounded(SUMMARY_BUDGET_BYTES);
        let text = serde_json::to_string(&bounded).unwrap();
        assert!(text.len() <= SUMMARY_BUDGET_BYTES, "{}", text.len());
        // What the state machine acts on is whole; failures come first.
        assert_eq!(bounded.metric_data, big.metric_data);
        assert!(bounded.more);
        assert_eq!(bounded.failed, big.failed);
        assert_eq!(bounded.pending.len(), 10);
        let skipped_out = bounded.omitted.get("skipped").copied().unwrap_or(0);
        assert!(skipped_out > 0);
        assert_eq!(bounded.skipped.len() + skipped_out, 5_000);
        assert_eq!(
            bounded.recovery_points.len()
                + bounded.omitted.get("recoveryPoints").copied().unwrap_or(0),
            300
        );
        assert!(text.contains("\"omitted\""));
    }
}
