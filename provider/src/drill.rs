//! The restore drill, one step at a time (the drill state machine calls each; the CLI's
//! `drill` runs them in a loop): start the restores, check them, finish (timings, tags,
//! metrics, delete), clean up after a failure, sweep leftovers.

use chrono::{DateTime, SecondsFormat, Utc};
use rds_snapshot_policy_core::contract::{
    DrillInput, DrillRestore, DrillRun, DrillStep, MetricDatum, Summary, metrics,
};

use crate::aws::drill_api::DrillApi;
use crate::aws::drill_records;
use crate::aws::{Aws, list_inventory};
use crate::drill_record::{drill_age_hours, lookback, records_of, retired_records, watching};
use crate::error::{ErrorName, ProviderError};
use crate::inventory::tags;
use crate::plan::Action;
use crate::plan::drill::{
    DrillResource, drill_identifier, drill_prefix, drill_targets, observe_restore, sweep,
};
use crate::policy::RuntimePolicy;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A summary of `action` with nothing in it yet.
pub(crate) fn empty_summary(action: Action, policy: &RuntimePolicy, now: DateTime<Utc>) -> Summary {
    Summary {
        action,
        policy: policy.id.clone(),
        now: rfc3339(now),
        dry_run: false,
        done: Vec::new(),
        skipped: Vec::new(),
        pending: Vec::new(),
        failed: Vec::new(),
        aws_calls: 0,
        measured_at: Some(rfc3339(now)),
        recovery_points: Default::default(),
        rpo_forecast: None,
        metric_data: Vec::new(),
        unexpected_sharers: Default::default(),
        shared_outside: Default::default(),
        drill: None,
        announcements: Vec::new(),
        more: false,
        omitted: Default::default(),
    }
}

/// Runs one drill step for `policy` (`only`: one database). Errors carry their contract name.
pub async fn run_drill_step(
    aws: &Aws,
    policy: &RuntimePolicy,
    input: &DrillInput,
    only: Option<&str>,
) -> Result<Summary, ProviderError> {
    if !policy.spec.drills() && input.step != DrillStep::Sweep {
        return Err(ProviderError::new(
            ErrorName::PolicyInvalid,
            format!(
                "policy {} has RestoreDrill false (or is not a DR policy)",
                policy.id
            ),
        ));
    }
    let calls_before = aws.calls();
    let api = DrillApi::new(aws, &policy.destination_region);
    let now = aws.now();
    let mut summary = empty_summary(Action::Drill, policy, now);
    let run = match (input.step, &input.run) {
        (DrillStep::Start, _) => Some(start(aws, &api, policy, only).await?),
        (DrillStep::Check, Some(run)) => Some(check(aws, &api, policy, run.clone()).await?),
        (DrillStep::Finish, Some(run)) => {
            // Only which databases to finish comes from the input; every time, copy and
            // figure of the evidence is read from RDS (issue 29).
            let validated = input.validated.is_some();
            let run = finish(aws, &api, policy, run, validated).await?;
            summary.metric_data = restore_metrics(policy, &run);
            Some(run)
        }
        (DrillStep::Cleanup, run) => {
            let names: Option<Vec<String>> = run
                .as_ref()
                .map(|r| r.restores.iter().map(|x| x.identifier.clone()).collect());
            cleanup(&api, policy, names.as_deref()).await?;
            if let Some(run) = run {
                // The failed drill is evidence too; the cleanup goes on without it.
                let records = records_of(policy, run, false, |_| None, aws.now());
                if let Err(e) = drill_records::write(aws, policy, &records).await {
                    tracing::warn!(policy = %policy.id, error = %e.message, "could not record the failed drill");
                }
            }
            run.clone()
        }
        (DrillStep::Sweep, _) => {
            let resources = api.list(&drill_prefix(&policy.id)).await?;
            // AWS's clock as of the listing, not of an earlier call.
            let old: Vec<&DrillResource> = sweep(policy, &resources, aws.now());
            for id in api.delete(&policy.id, &old).await? {
                tracing::warn!(policy = %policy.id, identifier = %id, "swept a drill resource left behind");
            }
            if policy.spec.drills() {
                summary.metric_data = drill_age(aws, policy).await.into_iter().collect();
            }
            None
        }
        (step, None) => {
            return Err(ProviderError::new(
                ErrorName::InputInvalid,
                format!("drill step {step:?} needs the run from the previous step"),
            ));
        }
    };
    summary.drill = run;
    summary.aws_calls = aws.calls() - calls_before;
    Ok(summary)
}

async fn start(
    aws: &Aws,
    api: &DrillApi,
    policy: &RuntimePolicy,
    only: Option<&str>,
) -> Result<DrillRun, ProviderError> {
    let inventory = list_inventory(aws, Action::Drill, policy).await?;
    let targets = drill_targets(policy, &inventory, only);
    // Each run records the retired databases it does not restore (the evidence says why).
    let retired = retired_records(policy, &inventory, aws.now());
    if only.is_none() && !retired.is_empty() {
        drill_records::write(aws, policy, &retired).await?;
    }
    if targets.is_empty() {
        let why = if only.is_some_and(|db| policy.is_retired(db)) {
            " (the database is retired: RetiredDatabases)"
        } else if only.is_none() && !retired.is_empty() {
            " (every database with a copy is retired: RetiredDatabases; remove RestoreDrill or the policy)"
        } else {
            ""
        };
        return Err(ProviderError::new(
            ErrorName::DatabaseNotFound,
            format!(
                "policy {} has no available DR copy{} in {} to restore{why}: nothing was created",
                policy.id,
                only.map(|d| format!(" of {d}")).unwrap_or_default(),
                policy.destination_region
            ),
        ));
    }
    let started = aws.now();
    let mut restores = Vec::new();
    for copy in targets {
        let database = policy.database_key(copy);
        let identifier = drill_identifier(&policy.id, &database);
        let requested = rfc3339(aws.now());
        api.restore(policy, copy, &identifier, &requested).await?;
        tracing::info!(policy = %policy.id, %database, snapshot = %copy.id, %identifier, "drill restore requested");
        restores.push(DrillRestore {
            database,
            kind: copy.kind,
            snapshot: copy.id.clone(),
            snapshot_arn: copy.arn.clone(),
            identifier,
            requested,
            available: None,
            endpoint: None,
            validated: None,
            minutes: None,
        });
    }
    Ok(DrillRun {
        started: rfc3339(started),
        restores,
        ready: false,
        timed_out: false,
    })
}

async fn check(
    aws: &Aws,
    api: &DrillApi,
    policy: &RuntimePolicy,
    mut run: DrillRun,
) -> Result<DrillRun, ProviderError> {
    for restore in run.restores.iter_mut().filter(|r| r.available.is_none()) {
        // The input names the database; the resource is the policy's drill of it, by name.
        restore.identifier = drill_identifier(&policy.id, &restore.database);
        let kind = restore.kind;
        let target = crate::aws::drill_api::drill_target(policy, kind, &restore.database);
        let status = api.status(&restore.identifier, kind, &target).await?;
        if status.available {
            let now = rfc3339(aws.now());
            if let Some(arn) = &status.arn
                && let Err(e) = api.mark_available(&policy.id, arn, &now).await
            {
                // The finish step then counts to its own time: later, never shorter.
                tracing::warn!(policy = %policy.id, identifier = %restore.identifier, error = %e, "could not record when the drill restore became available");
            }
            restore.minutes = parse(&restore.requested)
                .zip(parse(&now))
                .map(|(r, n)| (n - r).num_minutes());
            restore.available = Some(now);
            restore.endpoint = status.endpoint;
        }
    }
    run.ready = run.restores.iter().all(|r| r.available.is_some());
    let started = parse(&run.started).unwrap_or_else(|| aws.now());
    run.timed_out = !run.ready && (aws.now() - started).num_minutes() > policy.spec.rto() as i64;
    Ok(run)
}

/// Records the drill from what RDS shows (`observe_restore`), tags each copy restored with
/// it, then deletes the drill resources. A restore RDS does not show serving, from one of the
/// policy's copies, fails the step naming it (the state machine cleans up and notifies).
async fn finish(
    aws: &Aws,
    api: &DrillApi,
    policy: &RuntimePolicy,
    run: &DrillRun,
    validated: bool,
) -> Result<DrillRun, ProviderError> {
    let mut databases: Vec<&str> = run.restores.iter().map(|r| r.database.as_str()).collect();
    databases.sort_unstable();
    databases.dedup();
    let resources = api.list(&drill_prefix(&policy.id)).await?;
    let inventory = list_inventory(aws, Action::Drill, policy).await?;
    let now = aws.now();
    let mut restores = Vec::new();
    for database in databases {
        let seen = observe_restore(policy, database, &resources, &inventory, validated, now)
            .map_err(|reason| {
                ProviderError::new(ErrorName::DatabaseNotFound, reason.to_string())
            })?;
        let value = format!("{} {} min", rfc3339(seen.requested), seen.minutes);
        if let Err(e) = crate::aws::tag_snapshot(
            aws,
            &policy.destination_region,
            seen.copy.kind,
            &seen.copy.arn,
            &[(tags::DRILLED.to_string(), value)],
        )
        .await
        {
            tracing::warn!(policy = %policy.id, snapshot = %seen.copy.id, error = %e, "could not record the drill on the copy");
        }
        restores.push(DrillRestore {
            database: seen.database,
            kind: seen.kind,
            snapshot: seen.copy.id.clone(),
            snapshot_arn: seen.copy.arn.clone(),
            identifier: seen.identifier,
            requested: rfc3339(seen.requested),
            available: Some(rfc3339(seen.available)),
            endpoint: seen.endpoint,
            validated: seen.validated.map(rfc3339),
            minutes: Some(seen.minutes),
        });
    }
    let started = restores
        .iter()
        .filter_map(|r| parse(&r.requested))
        .min()
        .unwrap_or(now);
    let finished = DrillRun {
        started: rfc3339(started),
        restores,
        ready: true,
        timed_out: false,
    };
    // The durable record first: a drill whose evidence cannot be written fails (and is
    // cleaned up and notified by the state machine) rather than pass unrecorded.
    let recovery_point = |arn: &str| {
        inventory
            .snapshots
            .iter()
            .find(|s| s.arn == arn)
            .and_then(|s| s.recovery_point())
    };
    let records = records_of(policy, &finished, true, recovery_point, now);
    drill_records::write(aws, policy, &records).await?;
    let names: Vec<String> = finished
        .restores
        .iter()
        .map(|r| r.identifier.clone())
        .collect();
    cleanup(api, policy, Some(&names)).await?;
    Ok(finished)
}

/// Hours since the last finished drill, from the records read back (see `drill_age`).
async fn measure_drill_age(aws: &Aws, policy: &RuntimePolicy) -> Result<f64, ProviderError> {
    let now = aws.now();
    // No end: AWS's clock is read to the second, so a record just written may be dated a
    // moment after this invocation's `now`.
    let records =
        drill_records::read(aws, policy, Some(now - lookback(policy)), None, None).await?;
    if let Some(age) = drill_age_hours(&records, now) {
        return Ok(age);
    }
    if drill_records::any(aws, policy).await? {
        // Records, but none finished within the lookback: at least that old.
        return Ok(lookback(policy).num_hours() as f64);
    }
    drill_records::write(aws, policy, &[watching(policy, now)]).await?;
    Ok(0.0)
}

/// `DrillAgeHours` from the policy's records: hours since the last finished drill (or since
/// the sweep first saw the log group empty, when it writes its `watching` mark). `None` (no
/// datum: the overdue alarm treats it as breaching) when the records cannot be read.
async fn drill_age(aws: &Aws, policy: &RuntimePolicy) -> Option<MetricDatum> {
    match measure_drill_age(aws, policy).await {
        Ok(age) => {
            tracing::info!(policy = %policy.id, age_hours = age, "drill age measured");
            Some(MetricDatum::of_policy(metrics::DRILL_AGE, &policy.id, age))
        }
        Err(e) => {
            tracing::warn!(policy = %policy.id, error = %e.message, "drill records unreadable: no DrillAgeHours published, so the overdue alarm fires");
            None
        }
    }
}

/// Deletes this policy's drill resources (`names`: only those and their cluster members).
async fn cleanup(
    api: &DrillApi,
    policy: &RuntimePolicy,
    names: Option<&[String]>,
) -> Result<(), ProviderError> {
    let resources = api.list(&drill_prefix(&policy.id)).await?;
    let chosen: Vec<&DrillResource> = resources
        .iter()
        .filter(|r| {
            names.is_none_or(|n| {
                n.iter()
                    .any(|x| *x == r.identifier || r.cluster.as_deref() == Some(x.as_str()))
            })
        })
        .collect();
    for id in api.delete(&policy.id, &chosen).await? {
        tracing::info!(policy = %policy.id, identifier = %id, "drill resource deleted");
    }
    Ok(())
}

/// `RestoreMinutes` per database, and the policy's maximum (what the RTO alarm watches).
pub fn restore_metrics(policy: &RuntimePolicy, run: &DrillRun) -> Vec<MetricDatum> {
    let mut out = Vec::new();
    let max = run.restores.iter().filter_map(|r| r.minutes).max();
    if let Some(max) = max {
        out.push(MetricDatum::of_policy(
            metrics::RESTORE_MINUTES,
            &policy.id,
            max as f64,
        ));
    }
    for r in &run.restores {
        if let Some(m) = r.minutes {
            out.push(MetricDatum::of_database(
                metrics::RESTORE_MINUTES,
                &policy.id,
                &r.database,
                m as f64,
            ));
        }
    }
    out
}
