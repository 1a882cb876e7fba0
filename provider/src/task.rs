//! One action, end to end: list → plan → apply, and the summary of what happened. Shared by
//! the Lambda (Step Functions task input) and the CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rds_snapshot_policy_macro::Role;
use rds_snapshot_policy_macro::contract::metrics;
use serde_json::{Value, json};

use crate::aws::{Aws, apply, list_inventory};
use crate::error::{ErrorKind, ProviderError};
use crate::inventory::{Inventory, tags};
use crate::plan::{Action, Plan, plan};
use crate::policy::RuntimePolicy;

pub use rds_snapshot_policy_macro::contract::{RecoveryPoint, Summary, TaskInput};

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
    if policy.role() != Role::Destination {
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

/// A Step Functions task, end to end: the checked task input, the policy bound to `region`, the
/// run, and the metrics. `on_policy` sees the policy before the run (the Lambda applies its
/// log level). Errors carry their contract name.
pub async fn handle_task(
    aws: &Aws,
    region: &str,
    payload: &Value,
    on_policy: impl FnOnce(&RuntimePolicy),
) -> Result<Summary, ProviderError> {
    let input = rds_snapshot_policy_macro::contract::parse_task_input(payload)
        .map_err(|e| ProviderError::new(e.name(), e.0))?;
    let execution = input.execution.clone().unwrap_or_default();
    let policy = RuntimePolicy::bind(input.policy, region)?;
    on_policy(&policy);
    let now = parse_now(input.now.as_deref())?;
    let span = tracing::info_span!("task", policy = %policy.id, action = %input.action, %execution);
    let _enter = span.enter();
    match run_action(aws, input.action, &policy, now, input.dry_run).await {
        Ok(summary) => {
            tracing::info!(
                done = summary.done.len(),
                skipped = summary.skipped.len(),
                pending = summary.pending.len(),
                aws_calls = summary.aws_calls,
                "finished"
            );
            emit_recovery_point_metrics(&summary);
            Ok(summary)
        }
        Err((error, summary)) => {
            tracing::error!(error = %error, "failed");
            let detail = match &summary {
                Some(s) => {
                    emit_recovery_point_metrics(s);
                    format!(
                        " | summary: {}",
                        json!({"done": s.done.len(), "failed": s.failed, "pending": s.pending.len()})
                    )
                }
                None => String::new(),
            };
            Err(ProviderError::new(
                error.kind,
                format!("{}{detail}", error.message),
            ))
        }
    }
}

/// CloudWatch embedded-metric lines (stdout): the age of the newest DR copy per database.
pub fn recovery_point_metric_lines(summary: &Summary, timestamp_ms: i64) -> Vec<Value> {
    summary
        .recovery_points
        .iter()
        .map(|(database, point)| {
            let mut line = json!({
                "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
                    "Namespace": metrics::NAMESPACE,
                    "Dimensions": [
                        [metrics::DIMENSION_POLICY],
                        [metrics::DIMENSION_POLICY, metrics::DIMENSION_DATABASE]
                    ],
                    "Metrics": [{"Name": metrics::RECOVERY_POINT_AGE, "Unit": "None"}],
                }]},
            });
            line[metrics::DIMENSION_POLICY] = json!(summary.policy);
            line[metrics::DIMENSION_DATABASE] = json!(database);
            line[metrics::RECOVERY_POINT_AGE] = json!(point.age_minutes);
            line
        })
        .collect()
}

fn emit_recovery_point_metrics(summary: &Summary) {
    for line in recovery_point_metric_lines(summary, Utc::now().timestamp_millis()) {
        println!("{line}");
    }
}
