//! One action, end to end: list → plan → apply, and the summary of what happened. Shared by
//! the Lambda (Step Functions task input) and the CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rds_snapshot_policy_core::Role;
use serde_json::{Value, json};

use crate::aws::{Aws, apply, list_inventory, verify_deployed};
use crate::error::{ErrorName, ProviderError};
use crate::inventory::Inventory;
use crate::measure::{
    announcements, delivery_lag_metric_data, recovery_point_metric_data, recovery_points,
};
use crate::plan::{Action, Plan, plan};
use crate::policy::RuntimePolicy;
use crate::provenance::{
    SHARED_OUTSIDE_LISTED, shared_outside, shared_outside_metric, unexpected_sharers,
    unexpected_shares_metric,
};
use crate::trust::Trust;

pub use rds_snapshot_policy_core::contract::{
    EventEntry, MetricDatum, MetricDimension, RecoveryPoint, Summary, TaskInput,
};

pub fn parse_now(text: Option<&str>) -> Result<DateTime<Utc>, ProviderError> {
    match text {
        None => Ok(Utc::now()),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ProviderError::new(
                    ErrorName::InputInvalid,
                    format!("now {t:?} is not an RFC 3339 time: {e}"),
                )
            }),
    }
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
    let measured_at = aws.now();
    let recovery_points = recovery_points(policy, &inventory, measured_at);
    let mut metric_data = recovery_point_metric_data(&policy.id, &recovery_points);
    let forecast = if action == Action::Copy {
        crate::forecast::of_policy(policy, &inventory, &plan.pending, measured_at)
    } else {
        None
    };
    if let Some(f) = &forecast {
        metric_data.push(crate::forecast::metric_datum(&policy.id, f));
        if !f.is_met() {
            tracing::warn!(policy = %policy.id, forecast = %f.describe(), "the RPO forecast exceeds RpoMinutes");
        }
    }
    let unexpected = if action == Action::Copy {
        unexpected_sharers(policy, &inventory)
    } else {
        BTreeMap::new()
    };
    if action == Action::Copy {
        metric_data.extend(unexpected_shares_metric(policy, &unexpected));
        for (account, count) in &unexpected {
            tracing::warn!(policy = %policy.id, %account, count, "snapshots shared by an account outside SourceAccounts: never copied");
        }
    }
    let mut outside = BTreeMap::new();
    if action == Action::Share && policy.role() == Role::Source && policy.spec.shares() {
        outside = shared_outside(policy, &inventory);
        metric_data.push(shared_outside_metric(policy, &outside));
        for (snapshot, accounts) in &outside {
            tracing::warn!(policy = %policy.id, %snapshot, accounts = %accounts.join(","), revoked = policy.spec.revokes_unknown_shares(), "snapshot shared outside the tool");
        }
        outside = outside.into_iter().take(SHARED_OUTSIDE_LISTED).collect();
    }
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
        measured_at: Some(measured_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        recovery_points,
        rpo_forecast: forecast.map(|f| f.describe()),
        metric_data,
        unexpected_sharers: unexpected,
        shared_outside: outside,
        drill: None,
        announcements: Vec::new(),
        more: false,
        omitted: Default::default(),
    };
    if dry_run {
        summary.done = plan.steps.clone();
    } else {
        let applied = apply(aws, policy, &plan).await;
        summary.done = applied.done;
        summary.skipped.extend(applied.skipped);
        summary.pending.extend(applied.pending);
        summary.failed = applied.failed;
        summary.more = applied.stopped_by_deadline;
    }
    summary.announcements = announcements(policy, &summary);
    summary
        .metric_data
        .extend(delivery_lag_metric_data(&policy.id, &summary.done));
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

/// A Step Functions task, end to end: the checked task input, the trust chain (a running
/// execution of a deployed state machine sending exactly this input), the allow-lists, the
/// bound on `now`, then the run and its metrics. `on_policy` sees the policy before the run
/// (the Lambda applies its log level). Errors carry their contract name; a refused task
/// makes no RDS call.
pub async fn handle_task(
    aws: &Aws,
    region: &str,
    trust: &Trust,
    payload: &Value,
    on_policy: impl FnOnce(&RuntimePolicy),
) -> Result<Summary, ProviderError> {
    let input = rds_snapshot_policy_core::contract::parse_task_input(payload)
        .map_err(|e| ProviderError::new(e.name(), e.0))?;
    let deployed = if trust.verify_deployment {
        Some(verify_deployed(aws, region, &trust.provider_function, payload, &input).await?)
    } else {
        None
    };
    let machine = deployed.as_ref().map(|d| d.machine.clone());
    let execution = input.execution.clone().unwrap_or_default();
    let mut policy = RuntimePolicy::bind(input.policy, region)?;
    on_policy(&policy);
    trust.confine(&mut policy)?;
    let span = tracing::info_span!("task", policy = %policy.id, action = %input.action, %execution);
    let _enter = span.enter();
    if input.action == Action::Drill {
        // The drill keeps time by AWS's clock alone; it ignores `now`.
        let Some(step) = &input.drill else {
            return Err(ProviderError::new(
                ErrorName::InputInvalid,
                "a drill task names no drill step",
            ));
        };
        return crate::drill::run_drill_step(aws, &policy, step, None).await;
    }
    let now = parse_now(input.now.as_deref())?;
    trust.check_now(now, aws.now())?;
    // A deployed definition sends the execution's start; anything else is a caller's time.
    if let Some(d) = &deployed {
        crate::trust::check_now_is_execution_start(now, d.started, &d.execution)?;
    }
    // An incident holds the deletes: a held policy's delete task deletes nothing.
    let holds = input.action == Action::Delete;
    match (&machine, input.hold.as_deref()) {
        (Some(machine), hold) if holds => {
            if let Some(summary) =
                crate::hold::held_run(aws, region, machine, hold, &policy).await?
            {
                return Ok(summary);
            }
        }
        (None, Some(_)) => {
            return Err(ProviderError::new(
                ErrorName::InputInvalid,
                "a hold names no deployed delete state machine to hold: refused, nothing was done",
            ));
        }
        _ => {}
    }
    // Checked by parse_task_input.
    let execution_start = input
        .execution_start
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    match run_action(aws, input.action, &policy, now, input.dry_run).await {
        Ok(mut summary) => {
            if summary.more {
                limit_rounds(&mut summary, execution_start, aws.now());
            }
            if holds && machine.is_some() {
                summary
                    .metric_data
                    .push(crate::hold::deletes_held_metric(&policy, false));
            }
            tracing::info!(
                done = summary.done.len(),
                skipped = summary.skipped.len(),
                pending = summary.pending.len(),
                aws_calls = summary.aws_calls,
                "finished"
            );
            log_recovery_points(&summary);
            log_notes(&summary);
            Ok(summary.bounded(rds_snapshot_policy_core::contract::SUMMARY_BUDGET_BYTES))
        }
        Err((error, summary)) => {
            tracing::error!(error = %error, "failed");
            let detail = match &summary {
                Some(s) => {
                    log_recovery_points(s);
                    log_notes(s);
                    // The error's cause is bounded by the same payload limit: the first
                    // failures, and how many there were.
                    let first: Vec<_> = s.failed.iter().take(FAILURES_IN_ERROR).collect();
                    format!(
                        " | summary: {}",
                        json!({"done": s.done.len(), "failed": first, "failedCount": s.failed.len(), "pending": s.pending.len()})
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

/// The state machine's loop stops while a round still fits in the execution's time limit:
/// what is left is reported pending for the next scheduled run (never an execution timeout).
fn limit_rounds(
    summary: &mut Summary,
    execution_start: Option<DateTime<Utc>>,
    aws_now: DateTime<Utc>,
) {
    let Some(start) = execution_start else {
        return;
    };
    let elapsed = (aws_now - start).num_seconds();
    if rds_snapshot_policy_core::contract::states::another_round_fits(elapsed) {
        return;
    }
    summary.more = false;
    summary.pending.push(rds_snapshot_policy_core::contract::Note {
        subject: summary.policy.clone(),
        reason: format!(
            "the execution has run {} of its {} minutes, too long for another round: the next scheduled run continues with what is left",
            crate::plan::age(chrono::Duration::seconds(elapsed)),
            rds_snapshot_policy_core::contract::states::EXECUTION_TIMEOUT_SECONDS / 60
        ),
    });
    tracing::warn!(policy = %summary.policy, elapsed_seconds = elapsed, "no time for another round in this execution");
}

/// Failures an error's message lists (the rest are counted and logged).
const FAILURES_IN_ERROR: usize = 20;

/// Every step, skip, pending note and failure in the log: the task output may leave some out
/// (`Summary::bounded`).
fn log_notes(summary: &Summary) {
    for step in &summary.done {
        tracing::info!(policy = %summary.policy, subject = %step.subject, reason = %step.reason, "done");
    }
    for note in &summary.pending {
        tracing::info!(policy = %summary.policy, subject = %note.subject, reason = %note.reason, "pending");
    }
    for note in &summary.skipped {
        tracing::debug!(policy = %summary.policy, subject = %note.subject, reason = %note.reason, "skipped");
    }
    for failure in &summary.failed {
        tracing::warn!(policy = %summary.policy, subject = %failure.subject, error = %failure.error, message = %failure.message, "failed");
    }
}

/// One log line per recovery point, with the policy and database (the metrics themselves
/// go to CloudWatch through the state machine's PutMetricData step).
fn log_recovery_points(summary: &Summary) {
    for (database, point) in &summary.recovery_points {
        tracing::info!(
            policy = %summary.policy,
            %database,
            snapshot = %point.snapshot,
            age_minutes = point.age_minutes,
            "recovery point"
        );
    }
}
