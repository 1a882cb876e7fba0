//! One action, end to end: list → plan → apply, and the summary of what happened. Shared by
//! the Lambda (Step Functions task input) and the CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use policy_macro::Role;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::{Aws, apply, list_inventory};
use crate::error::{ErrorKind, ProviderError};
use crate::inventory::{Inventory, tags};
use crate::plan::{Action, Note, Plan, Step, plan};
use crate::policy::RuntimePolicy;

/// The Step Functions task input: `{"action": ..., "policy": {...}}`, optionally `now`
/// (RFC 3339, for compressed-time demos) and `dryRun`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    pub action: String,
    pub policy: Value,
    #[serde(default)]
    pub now: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub execution: Option<String>,
}

/// The newest available DR copy of one database: the recovery point the RPO is measured on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPoint {
    pub snapshot: String,
    pub taken: String,
    pub age_minutes: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub action: Action,
    pub policy: String,
    pub now: String,
    pub dry_run: bool,
    pub done: Vec<Step>,
    pub skipped: Vec<Note>,
    pub pending: Vec<Note>,
    pub failed: Vec<crate::aws::apply::Failure>,
    pub aws_calls: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub recovery_points: BTreeMap<String, RecoveryPoint>,
}

pub fn parse_now(text: Option<&str>) -> Result<DateTime<Utc>, ProviderError> {
    match text {
        None => Ok(Utc::now()),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ProviderError::new(
                    ErrorKind::InputInvalid,
                    format!("now {t:?} is not an RFC 3339 time: {e}"),
                )
            }),
    }
}

/// Newest available copy per database (destination policies), for the RPO.
fn recovery_points(
    policy: &RuntimePolicy,
    inventory: &Inventory,
    now: DateTime<Utc>,
) -> BTreeMap<String, RecoveryPoint> {
    let mut out: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
    if policy.role != Role::Destination {
        return BTreeMap::new();
    }
    for s in inventory.snapshots.iter().filter(|s| {
        s.is_available()
            && s.tag(tags::POLICY) == Some(policy.id.as_str())
            && s.tag(tags::COPIED_BY) == Some(tags::TOOL)
    }) {
        if let Some(point) = s.recovery_point() {
            let entry = out
                .entry(s.database_key().to_string())
                .or_insert((point, s.id.clone()));
            if point > entry.0 {
                *entry = (point, s.id.clone());
            }
        }
    }
    out.into_iter()
        .map(|(db, (point, snapshot))| {
            (
                db,
                RecoveryPoint {
                    snapshot,
                    taken: point.to_rfc3339_opts(SecondsFormat::Secs, true),
                    age_minutes: (now - point).num_minutes(),
                },
            )
        })
        .collect()
}

/// Lists and plans without writing anything.
pub async fn plan_action(
    aws: &Aws,
    action: Action,
    policy: &RuntimePolicy,
    now: DateTime<Utc>,
) -> Result<(Plan, Inventory), ProviderError> {
    let inventory = list_inventory(aws, action, policy).await?;
    Ok((plan(action, policy, &inventory, now), inventory))
}

/// Runs `action`: on success the summary; on failure the worst error (final before
/// retryable) with every problem in its message, and the summary of what was done anyway.
pub async fn run_action(
    aws: &Aws,
    action: Action,
    policy: &RuntimePolicy,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Summary, (ProviderError, Option<Summary>)> {
    let calls_before = aws.calls();
    let (plan, inventory) = plan_action(aws, action, policy, now)
        .await
        .map_err(|e| (e, None))?;
    let mut summary = Summary {
        action,
        policy: policy.id.clone(),
        now: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        dry_run,
        done: Vec::new(),
        skipped: plan.skipped.clone(),
        pending: plan.pending.clone(),
        failed: Vec::new(),
        aws_calls: 0,
        recovery_points: recovery_points(policy, &inventory, now),
    };
    if dry_run {
        summary.done = plan.steps.clone();
    } else {
        let applied = apply(aws, policy, &plan).await;
        summary.done = applied.done;
        summary.skipped.extend(applied.skipped);
        summary.pending.extend(applied.pending);
        summary.failed = applied.failed;
    }
    summary.aws_calls = aws.calls() - calls_before;
    let mut problems: Vec<ProviderError> = plan.errors.clone();
    problems.extend(
        summary
            .failed
            .iter()
            .map(|f| ProviderError::new(f.error, f.message.clone())),
    );
    if problems.is_empty() {
        return Ok(summary);
    }
    problems.sort_by_key(|p| (p.kind.is_retryable(), p.kind));
    let kind = problems[0].kind;
    let message = if problems.len() == 1 {
        problems[0].message.clone()
    } else {
        format!(
            "{} problems: {}",
            problems.len(),
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Err((ProviderError::new(kind, message), Some(summary)))
}
