//! One action, end to end: list → plan → apply, and the summary of what happened. Shared by
//! the Lambda (Step Functions task input) and the CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rds_snapshot_policy_core::Role;
use rds_snapshot_policy_core::contract::{events, metrics};
use serde_json::{Value, json};

use crate::aws::{Aws, apply, list_inventory, verify_deployed};
use crate::error::{ErrorName, ProviderError};
use crate::inventory::Inventory;
use crate::plan::{Action, Operation, Plan, Step, plan};
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

/// AWS accepts at most 1,000 data in one PutMetricData call.
const MAX_METRIC_DATA: usize = 1000;

/// The newest available recovery point per database: this policy's DR copies (destination)
/// or its snapshots (source). At the DR account a database with shared snapshots but no copy
/// yet counts from its newest shared snapshot, so it is not silently missing.
fn recovery_points(
    policy: &RuntimePolicy,
    inventory: &Inventory,
    measured_at: DateTime<Utc>,
) -> BTreeMap<String, RecoveryPoint> {
    let mut newest: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
    let mut offer = |db: &str, point: DateTime<Utc>, id: &str| {
        let entry = newest
            .entry(db.to_string())
            .or_insert((point, id.to_string()));
        if point > entry.0 {
            *entry = (point, id.to_string());
        }
    };
    for s in inventory
        .snapshots
        .iter()
        .filter(|s| s.is_available() && policy.is_made(s))
    {
        if let Some(point) = s.recovery_point() {
            offer(&policy.database_key(s), point, &s.id);
        }
    }
    if policy.role() == Role::Destination {
        let copied: Vec<String> = newest.keys().cloned().collect();
        let mut uncopied: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
        for s in inventory.sources.iter().filter(|s| {
            s.is_available()
                && crate::plan::copy::selected(policy, s)
                && crate::plan::copy::from_source_account(policy, s)
                && !copied.contains(&policy.database_key(s))
        }) {
            if let Some(point) = s.recovery_point() {
                let entry = uncopied
                    .entry(policy.database_key(s))
                    .or_insert((point, s.id.clone()));
                if point > entry.0 {
                    *entry = (point, s.id.clone());
                }
            }
        }
        newest.extend(uncopied);
    }
    // A retired database has no RPO datum: its alarm stops (RetiredDatabases).
    newest
        .into_iter()
        .filter(|(db, _)| !policy.is_retired(db))
        .map(|(db, (point, snapshot))| {
            (
                db,
                RecoveryPoint {
                    snapshot,
                    taken: point.to_rfc3339_opts(SecondsFormat::Secs, true),
                    age_minutes: (measured_at - point).num_minutes().max(0),
                },
            )
        })
        .collect()
}

/// For each copy this run saw delivered: `DeliveryLagMinutes` per database, and its two parts
/// `CopyWaitMinutes` and `CopyDurationMinutes` per policy (the forecast's measured terms).
pub fn delivery_lag_metric_data(policy_id: &str, done: &[Step]) -> Vec<MetricDatum> {
    let policy = || MetricDimension {
        name: metrics::DIMENSION_POLICY,
        value: policy_id.to_string(),
    };
    let datum = |metric_name, dimensions, value: i64| MetricDatum {
        metric_name,
        dimensions,
        value: value as f64,
        unit: "None",
    };
    done.iter()
        .filter_map(|step| match &step.operation {
            Operation::MarkDelivered {
                database,
                lag_minutes,
                copy_minutes,
                ..
            } => Some([
                datum(
                    metrics::DELIVERY_LAG,
                    vec![
                        policy(),
                        MetricDimension {
                            name: metrics::DIMENSION_DATABASE,
                            value: database.clone(),
                        },
                    ],
                    *lag_minutes,
                ),
                datum(
                    metrics::COPY_WAIT,
                    vec![policy()],
                    lag_minutes - copy_minutes,
                ),
                datum(metrics::COPY_DURATION, vec![policy()], *copy_minutes),
            ]),
            _ => None,
        })
        .take(MAX_METRIC_DATA / 2 / 3)
        .flatten()
        .collect()
}

/// `RecoveryPointAgeMinutes` per database and, for the policy's alarm, their maximum.
pub fn recovery_point_metric_data(
    policy_id: &str,
    points: &BTreeMap<String, RecoveryPoint>,
) -> Vec<MetricDatum> {
    let datum = |dimensions: Vec<MetricDimension>, value: i64| MetricDatum {
        metric_name: metrics::RECOVERY_POINT_AGE,
        dimensions,
        value: value as f64,
        unit: "None",
    };
    let policy = || MetricDimension {
        name: metrics::DIMENSION_POLICY,
        value: policy_id.to_string(),
    };
    let Some(oldest) = points.values().map(|p| p.age_minutes).max() else {
        return Vec::new();
    };
    let mut by_age: Vec<(&String, &RecoveryPoint)> = points.iter().collect();
    by_age.sort_by_key(|(db, p)| (std::cmp::Reverse(p.age_minutes), *db));
    let mut out = vec![datum(vec![policy()], oldest)];
    out.extend(
        by_age
            .into_iter()
            .take(MAX_METRIC_DATA / 2 - 1)
            .map(|(db, p)| {
                datum(
                    vec![
                        policy(),
                        MetricDimension {
                            name: metrics::DIMENSION_DATABASE,
                            value: db.clone(),
                        },
                    ],
                    p.age_minutes,
                )
            }),
    );
    out
}

/// After a run that shared something (event-driven source policies): the announcement for
/// this account's default bus, from where the policy's forwarding rule sends it to each DR
/// account's bus, so the DR account copies at once instead of at its next sweep.
fn announcements(policy: &RuntimePolicy, summary: &Summary) -> Vec<EventEntry> {
    let shared: Vec<&str> = summary
        .done
        .iter()
        .filter_map(|step| match &step.operation {
            Operation::Share { snapshot_id, .. } => Some(snapshot_id.as_str()),
            _ => None,
        })
        .collect();
    if summary.dry_run || shared.is_empty() || !policy.spec.is_event_driven() {
        return Vec::new();
    }
    let detail = json!({
        "policy": policy.id,
        "region": policy.source_region,
        "shared": shared.len(),
        "snapshots": shared.iter().take(50).collect::<Vec<_>>(),
    });
    vec![EventEntry {
        source: events::SOURCE,
        detail_type: events::SNAPSHOTS_SHARED,
        detail: detail.to_string(),
        event_bus_name: events::DEFAULT_BUS.to_string(),
    }]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Kind, Snapshot, tags};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn snapshot(id: &str, db: &str, created: &str, tags: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            id: id.into(),
            arn: format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{id}"),
            kind: Kind::Instance,
            database: db.into(),
            status: "available".into(),
            snapshot_type: "manual".into(),
            created: Some(at(created)),
            original_created: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            kms_key_id: None,
            encrypted: true,
            engine: None,
            engine_version: None,
            option_group: None,
        }
    }

    fn destination() -> RuntimePolicy {
        RuntimePolicy::from_properties(
            &serde_json::json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "dr", "SnapshotPattern": "^(orders|billing)-",
                "SourceRegionOverride": "eu-west-1", "DestinationRegion": "eu-central-1",
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
            "eu-central-1",
            None,
        )
        .unwrap()
    }

    #[test]
    fn dr_recovery_points_count_uncopied_databases_from_their_newest_shared_snapshot() {
        let ours = [(tags::POLICY, "dr"), (tags::COPIED_BY, tags::TOOL)];
        let inventory = Inventory {
            snapshots: vec![
                snapshot("orders-1", "orders", "2026-11-24T06:00:00Z", &ours),
                snapshot("orders-2", "orders", "2026-11-24T06:30:00Z", &ours),
                // Another policy's copy is not this policy's recovery point.
                snapshot(
                    "orders-3",
                    "orders",
                    "2026-11-24T06:59:00Z",
                    &[(tags::POLICY, "other"), (tags::COPIED_BY, tags::TOOL)],
                ),
            ],
            sources: vec![
                snapshot("billing-1", "billing", "2026-11-24T05:00:00Z", &[]),
                snapshot("billing-2", "billing", "2026-11-24T05:30:00Z", &[]),
                snapshot("orders-4", "orders", "2026-11-24T06:45:00Z", &[]),
            ],
            ..Inventory::default()
        };
        let points = recovery_points(&destination(), &inventory, at("2026-11-24T07:00:00Z"));
        // At the DR account a database is keyed by its source account and name.
        assert_eq!(points["111111111111/orders"].snapshot, "orders-2");
        assert_eq!(points["111111111111/orders"].age_minutes, 30);
        assert_eq!(points["111111111111/billing"].snapshot, "billing-2");
        assert_eq!(points["111111111111/billing"].age_minutes, 90);

        let data = recovery_point_metric_data("dr", &points);
        assert_eq!(data.len(), 3);
        // First the policy's maximum (what the RPO alarm watches), then the oldest database.
        assert_eq!(data[0].dimensions.len(), 1);
        assert_eq!(data[0].value, 90.0);
        assert_eq!(data[1].dimensions[1].value, "111111111111/billing");
        assert_eq!(data[0].metric_name, metrics::RECOVERY_POINT_AGE);
        assert!(!serde_json::to_string(&data).unwrap().contains("Timestamp"));
    }

    #[test]
    fn same_named_databases_of_two_source_accounts_are_measured_apart() {
        let ours = [(tags::POLICY, "dr"), (tags::COPIED_BY, tags::TOOL)];
        let mut other = snapshot(
            "orders-2-333333333333",
            "orders",
            "2026-11-24T04:00:00Z",
            &ours,
        );
        other.tags.insert(
            tags::SOURCE_ARN.into(),
            "arn:aws:rds:eu-west-1:333333333333:snapshot:orders-2".into(),
        );
        let mut policy = destination();
        policy.spec.source_accounts = Some(vec!["111111111111".into(), "333333333333".into()]);
        let inventory = Inventory {
            snapshots: vec![
                snapshot("orders-2", "orders", "2026-11-24T06:30:00Z", &ours),
                other,
            ],
            ..Inventory::default()
        };
        let points = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        // The fresh copy of one account does not hide the stale copy of the other.
        assert_eq!(points["111111111111/orders"].age_minutes, 30);
        assert_eq!(points["333333333333/orders"].age_minutes, 180);
        let data = recovery_point_metric_data("dr", &points);
        assert_eq!(data[0].value, 180.0);
    }

    #[test]
    fn a_retired_database_has_no_rpo_datum_and_no_longer_raises_the_policy_maximum() {
        let ours = [(tags::POLICY, "dr"), (tags::COPIED_BY, tags::TOOL)];
        let inventory = Inventory {
            snapshots: vec![
                snapshot("orders-2", "orders", "2026-11-24T06:30:00Z", &ours),
                // Retired three weeks ago: its final copy is old, and stays so.
                snapshot("billing-1", "billing", "2026-11-03T05:00:00Z", &ours),
            ],
            sources: vec![snapshot(
                "billing-2",
                "billing",
                "2026-11-03T05:30:00Z",
                &[],
            )],
            ..Inventory::default()
        };
        let mut policy = destination();
        let before = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        assert_eq!(recovery_point_metric_data("dr", &before)[0].value, 30_360.0);
        policy.spec.retired_databases = Some(vec!["111111111111/billing".into()]);
        let points = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        assert_eq!(points.keys().collect::<Vec<_>>(), ["111111111111/orders"]);
        let data = recovery_point_metric_data("dr", &points);
        assert_eq!(data[0].value, 30.0);
        assert!(!serde_json::to_string(&data).unwrap().contains("billing"));
        // The name alone retires it in every source account.
        policy.spec.retired_databases = Some(vec!["billing".into()]);
        let points = recovery_points(&policy, &inventory, at("2026-11-24T07:00:00Z"));
        assert!(!points.contains_key("111111111111/billing"));
    }

    #[test]
    fn no_recovery_point_means_no_datum_so_the_alarm_sees_missing_data() {
        let points = recovery_points(
            &destination(),
            &Inventory::default(),
            at("2026-11-24T07:00:00Z"),
        );
        assert!(points.is_empty());
        assert!(recovery_point_metric_data("dr", &points).is_empty());
    }
}
