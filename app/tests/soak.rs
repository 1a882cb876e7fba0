//! The month on AWS's defaults (issue 26): the default source and DR policies of three
//! databases — an instance and an Aurora cluster of one production account, and a same-named
//! instance of a second production account — run through simulated time (`RSP_SOAK_DAYS` or
//! `RSP_SOAK_HOURS`: 28 hours in `make test`, 30 days in `make soak`) of their default schedules, against the emulator with AWS's
//! default quotas: 100 manual snapshots of each kind per account and region, 20 instance and
//! 5 cluster copies in progress per destination region, snapshots that take 4 minutes and copies
//! that take 9.
//!
//! Every quarter hour of the simulated clock runs what the policies' own (default) schedules
//! fire in it: take at :00 and :30 (the cadence `RpoMinutes: 60` gets), the deletes hourly at
//! :45 (source and DR), the drill on Sundays at 04:00; and the share and copy sweeps at :15 and
//! :45 (the events start them sooner on AWS; a later copy only makes the measured RPO worse). Each day it reports what the issue asks, in `target/soak/report.md`, and
//! the test fails on any quota error, failed copy, hour whose worst published recovery-point age
//! passes `RpoMinutes`, or promised recovery point missing.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use provider::aws::Aws;
use provider::drill::run_drill_step;
use provider::policy::RuntimePolicy;
use rds_snapshot_policy_core::contract::{
    Action, DrillInput, DrillRun, DrillStep, drill_records, tags,
};
use rds_snapshot_policy_core::schedule::Schedule;
use serde_json::{Value, json};
use support::*;

/// The second production account (a StackSet deploys the same source policy there).
const OTHER: &str = "333333333333";
const RPO_MINUTES: i64 = 60;
/// AWS's default manual snapshot quota of each kind per account and region.
const QUOTA: i64 = 100;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

/// How long to run, in simulated hours: `RSP_SOAK_HOURS`, else `RSP_SOAK_DAYS` days, else 28
/// hours (past the first source delete run and a whole DR day).
fn hours() -> i64 {
    let read = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<i64>().ok());
    read("RSP_SOAK_HOURS")
        .or(read("RSP_SOAK_DAYS").map(|d| d * 24))
        .unwrap_or(28)
        .clamp(1, 90 * 24)
}

/// One production account's policies: (policy properties, the database's snapshot prefix).
struct Source {
    account: &'static str,
    aws: Aws,
    policies: Vec<Value>,
}

/// What one simulated day showed.
#[derive(Default)]
struct Day {
    copies: usize,
    copy_failures: usize,
    quota_errors: usize,
    other_errors: Vec<String>,
    /// Worst published DR recovery-point age (minutes) and the hours above RpoMinutes.
    worst_age: i64,
    hours_missed: usize,
    missing_points: Vec<String>,
    drills: Vec<String>,
    /// Manual snapshots held at the day's end: (account/region/kind, used).
    held: BTreeMap<String, i64>,
}

type Outcome = Result<
    provider::task::Summary,
    (
        provider::error::ProviderError,
        Option<provider::task::Summary>,
    ),
>;

/// Runs `action` as the scheduled task would (the caller's own access: least privilege is
/// tested elsewhere; here the emulator's IAM evaluation would only slow a month down).
async fn run_action(
    aws: Aws,
    action: Action,
    policy: Value,
    now: DateTime<Utc>,
) -> (Action, Outcome) {
    let runtime = RuntimePolicy::from_properties(&policy, &aws.region().expect("region"), None)
        .expect("valid policy");
    (
        action,
        provider::task::run_action(&aws, action, &runtime, now, false).await,
    )
}

/// Runs the actions at once (the accounts' tasks run side by side on AWS too) and books each.
async fn run_all(
    runs: Vec<(&Aws, Action, &Value)>,
    now: DateTime<Utc>,
    day: &mut Day,
) -> Vec<provider::task::Summary> {
    let mut set = tokio::task::JoinSet::new();
    for (aws, action, policy) in runs {
        set.spawn(run_action(aws.clone(), action, policy.clone(), now));
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (action, outcome) = joined.expect("the task ran");
        if let Some(summary) = book(action, outcome, now, day) {
            out.push(summary);
        }
    }
    out
}

fn book(
    action: Action,
    outcome: Outcome,
    now: DateTime<Utc>,
    day: &mut Day,
) -> Option<provider::task::Summary> {
    let summary = match outcome {
        Ok(summary) => summary,
        Err((e, summary)) => {
            let text = format!("{action} at {now}: {e}");
            if text.contains("Quota") {
                day.quota_errors += 1;
            } else {
                day.other_errors.push(text);
            }
            summary?
        }
    };
    for failure in &summary.failed {
        let text = format!("{action} at {now}: {failure:?}");
        if text.contains("Quota") || text.contains("CopyLimit") {
            day.quota_errors += 1;
        } else if action == Action::Copy {
            day.copy_failures += 1;
        } else {
            day.other_errors.push(text);
        }
    }
    Some(summary)
}

/// Recovery points (to the minute) of the available manual snapshots of `aws` in `region` made
/// by the tool, per database key (`<account>/<name>` for copies, the name at the source).
async fn held_points(aws: &Aws, region: &str) -> BTreeMap<String, BTreeSet<DateTime<Utc>>> {
    let mut out: BTreeMap<String, BTreeSet<DateTime<Utc>>> = BTreeMap::new();
    let listed = provider::aws::manual_snapshots(aws, region)
        .await
        .expect("list the snapshots");
    for s in listed
        .iter()
        .filter(|s| s.is_available() && s.tag(tags::POLICY).is_some())
    {
        let Some(point) = s.recovery_point() else {
            continue;
        };
        let account = s
            .source_account()
            .map(|a| format!("{a}/"))
            .unwrap_or_default();
        out.entry(format!("{account}{}", s.database_key()))
            .or_default()
            .insert(
                point
                    .with_second(0)
                    .and_then(|p| p.with_nanosecond(0))
                    .unwrap_or(point),
            );
    }
    out
}

/// The recovery points the defaults promise at `now` and are not there.
fn missing(
    now: DateTime<Utc>,
    held: &BTreeMap<String, BTreeSet<DateTime<Utc>>>,
    databases: &[String],
    window: Duration,
    settle: Duration,
    daily: i64,
) -> Vec<String> {
    let mut out = Vec::new();
    for db in databases {
        let points = held.get(db).cloned().unwrap_or_default();
        // Every 30-minute recovery point inside the window (old enough to have arrived).
        let mut t = t0();
        while t <= now - settle {
            if now - t < window && !points.contains(&t) {
                out.push(format!("{db} {}", t.format("%m-%d %H:%M")));
            }
            t += Duration::minutes(30);
        }
        // The newest of each of the last `daily` days (today is one of them, as KeepDaily
        // counts) since the start.
        for back in 0..daily {
            let date = (now - Duration::days(back)).date_naive();
            if date >= t0().date_naive() && !points.iter().any(|p| p.date_naive() == date) {
                out.push(format!("{db} day {date}"));
            }
        }
    }
    out
}

async fn quotas(aws: &Aws, region: &str) -> Vec<(String, i64)> {
    let answer = aws
        .rds(region)
        .describe_account_attributes()
        .send()
        .await
        .expect("DescribeAccountAttributes");
    answer
        .account_quotas()
        .iter()
        .map(|q| {
            (
                q.account_quota_name().unwrap_or_default().to_string(),
                q.used().unwrap_or(0),
            )
        })
        .collect()
}

async fn drill_step(
    aws: &Aws,
    policy: &RuntimePolicy,
    step: DrillStep,
    run: Option<DrillRun>,
) -> Result<Option<DrillRun>, String> {
    run_drill_step(
        aws,
        policy,
        &DrillInput {
            step,
            run,
            validated: None,
        },
        None,
    )
    .await
    .map(|s| s.drill)
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs make test"]
async fn the_defaults_hold_for_a_month() {
    let hours = hours();
    let days = (hours + 23) / 24;
    let em = emulator();
    // AWS's defaults: quota 100 per kind, snapshots take 4 minutes, copies 9, restores 10.
    em.configure(json!({"snapshot_limit": QUOTA, "pending_seconds": 240,
        "copy_pending_seconds": 540, "restore_pending_seconds": 600}))
        .await;
    clock(em, t0()).await;
    let first = em.aws(SOURCE, SOURCE_REGION).await;
    let second = em.aws(OTHER, SOURCE_REGION).await;
    let dr = em.aws(DR, DR_REGION).await;
    let first_key = shared_key(&first, &[DR]).await;
    let second_key = shared_key_of(&second, OTHER, &[DR]).await;
    let dr_key = create_key(&dr, DR_REGION).await;
    create_instance(&first, SOURCE_REGION, "orders", Some(&first_key), &[]).await;
    create_cluster(&first, SOURCE_REGION, "ledger", &first_key).await;
    create_instance(&second, SOURCE_REGION, "orders", Some(&second_key), &[]).await;
    // The default policies: only what a user must write.
    let orders =
        source_policy(json!({"PolicyId": "soak-orders", "DBInstanceIdentifier": "orders"}));
    let ledger = source_policy(json!({"PolicyId": "soak-ledger", "DBClusterIdentifier": "ledger"}));
    let sources = [
        Source {
            account: SOURCE,
            aws: first,
            policies: vec![orders.clone(), ledger],
        },
        Source {
            account: OTHER,
            aws: second,
            policies: vec![orders],
        },
    ];
    let dr_policy = json!({"Role": "Destination", "PolicyId": "soak-dr",
        "SnapshotPattern": "^(orders|ledger)-", "SourceRegionOverride": SOURCE_REGION,
        "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "SourceAccounts": [SOURCE, OTHER]});
    let dr_runtime = RuntimePolicy::from_properties(&dr_policy, DR_REGION, None).unwrap();
    assert_eq!(
        (
            dr_runtime.spec.retention_hours,
            dr_runtime.spec.keep_daily,
            dr_runtime.spec.drills()
        ),
        (Some(6), Some(7), true),
        "the DR defaults this soak is about"
    );
    // The policy's stack creates its drill-record log group.
    dr.logs(DR_REGION)
        .create_log_group()
        .log_group_name(drill_records::log_group("soak-dr"))
        .send()
        .await
        .unwrap();
    let dr_databases: Vec<String> = [
        format!("{SOURCE}/orders"),
        format!("{SOURCE}/ledger"),
        format!("{OTHER}/orders"),
    ]
    .into();

    let mut report = String::new();
    writeln!(report, "| day | prod A instances | prod A clusters | prod B instances | DR instances | DR clusters | copies | failed copies | quota errors | worst DR age (min) | hours over RPO | promised points missing | drills |").unwrap();
    writeln!(
        report,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    .unwrap();
    let mut totals = Day::default();
    let mut drill: Option<(DrillRun, DateTime<Utc>)> = None;
    for d in 0..days {
        let mut day = Day::default();
        let mut hour_worst: BTreeMap<i64, i64> = BTreeMap::new();
        for quarter in 0..(hours - d * 24).min(24) * 4 {
            let now = t0() + Duration::days(d) + Duration::minutes(15 * quarter);
            clock(em, now).await;
            let minute = now.minute();
            // What the policies' own schedules fire in this quarter hour.
            let due = |policy: &Value, schedule: fn(&RuntimePolicy) -> Option<&Schedule>| {
                let runtime = RuntimePolicy::from_properties(policy, SOURCE_REGION, None).unwrap();
                schedule(&runtime)
                    .is_some_and(|s| !s.firings(now, Duration::minutes(15)).is_empty())
            };
            let each = |action: Action, when: Option<fn(&RuntimePolicy) -> Option<&Schedule>>| {
                sources
                    .iter()
                    .flat_map(|s| s.policies.iter().map(move |p| (&s.aws, action, p)))
                    .filter(|(_, _, p)| when.is_none_or(|schedule| due(p, schedule)))
                    .collect::<Vec<(&Aws, Action, &Value)>>()
            };
            let backup: fn(&RuntimePolicy) -> Option<&Schedule> =
                |p| p.spec.backup_schedule.as_ref();
            let deletes: fn(&RuntimePolicy) -> Option<&Schedule> =
                |p| Some(&p.spec.delete_schedule);
            let mut runs = each(Action::Take, Some(backup));
            runs.extend(each(Action::Delete, Some(deletes)));
            // The share and copy sweeps (and the events that start them sooner on AWS).
            if minute == 15 || minute == 45 {
                runs.extend(each(Action::Share, None));
            }
            if due(&dr_policy, deletes) {
                runs.push((&dr, Action::Delete, &dr_policy));
            }
            run_all(runs, now, &mut day).await;
            if minute == 15 || minute == 45 {
                // The copy sees what was just shared.
                for summary in run_all(vec![(&dr, Action::Copy, &dr_policy)], now, &mut day).await {
                    day.copies += summary
                        .done
                        .iter()
                        .filter(|s| format!("{:?}", s.operation).starts_with("Copy"))
                        .count();
                    let worst = summary
                        .recovery_points
                        .values()
                        .map(|p| p.age_minutes)
                        .max()
                        .unwrap_or(0);
                    let hour = (now - t0()).num_hours();
                    let entry = hour_worst.entry(hour).or_default();
                    *entry = (*entry).max(worst);
                    if hour >= 2 && summary.recovery_points.len() < dr_databases.len() {
                        day.other_errors.push(format!(
                            "copy at {now}: recovery points of {:?} only",
                            summary.recovery_points.keys().collect::<Vec<_>>()
                        ));
                    }
                }
            }
            // The weekly drill (Sundays 04:00), checked each quarter hour until its restores
            // are up, then finished; a drill is evidence only once finished.
            let drills: fn(&RuntimePolicy) -> Option<&Schedule> =
                |p| p.spec.restore_drill_schedule.as_ref();
            if due(&dr_policy, drills) {
                match drill_step(&dr, &dr_runtime, DrillStep::Start, None).await {
                    Ok(Some(run)) => drill = Some((run, now)),
                    Ok(None) => day.drills.push("start: no run".into()),
                    Err(e) => day.drills.push(format!("start failed: {e}")),
                }
            } else if let Some((run, started)) = drill.take() {
                match drill_step(&dr, &dr_runtime, DrillStep::Check, Some(run)).await {
                    Ok(Some(run)) if run.ready => {
                        match drill_step(&dr, &dr_runtime, DrillStep::Finish, Some(run)).await {
                            Ok(Some(done)) => day.drills.push(format!(
                                "{} restored in {}",
                                done.restores.len(),
                                done.restores
                                    .iter()
                                    .map(|r| format!("{} min", r.minutes.unwrap_or(-1)))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                            other => day.drills.push(format!("finish: {other:?}")),
                        }
                    }
                    Ok(Some(run)) if now - started < Duration::minutes(180) => {
                        drill = Some((run, started))
                    }
                    other => day.drills.push(format!("check: {other:?}")),
                }
            }
        }
        let end = t0() + Duration::days(d) + Duration::hours((hours - d * 24).min(24))
            - Duration::minutes(15);
        day.worst_age = hour_worst.values().copied().max().unwrap_or(0);
        // The first copies need an hour to arrive: hours from the second on count.
        day.hours_missed = hour_worst
            .iter()
            .filter(|(hour, age)| **hour >= 1 && **age > RPO_MINUTES)
            .count();
        // Promised at the DR account: every copy of the last 6 hours (those older than an hour
        // have arrived) and the newest of each of the last 7 days; at the source every
        // snapshot of the last day.
        let dr_held = held_points(&dr, DR_REGION).await;
        day.missing_points = missing(
            end,
            &dr_held,
            &dr_databases,
            Duration::hours(6),
            Duration::hours(1),
            7,
        );
        for source in &sources {
            let held = held_points(&source.aws, SOURCE_REGION).await;
            let names: Vec<String> = source
                .policies
                .iter()
                .filter_map(|p| {
                    p.get("DBInstanceIdentifier")
                        .or(p.get("DBClusterIdentifier"))
                        .and_then(Value::as_str)
                        .map(|name| format!("{}/{name}", source.account))
                })
                .collect();
            if std::env::var("RSP_SOAK_DEBUG").is_ok() {
                println!(
                    "source {}: {names:?} held {:?}",
                    source.account,
                    held.iter()
                        .map(|(k, v)| (k, v.iter().take(3).collect::<Vec<_>>()))
                        .collect::<Vec<_>>()
                );
            }
            day.missing_points.extend(missing(
                end,
                &held,
                &names,
                Duration::hours(24),
                Duration::minutes(30),
                0,
            ));
        }
        for (label, aws, region) in [
            ("A", &sources[0].aws, SOURCE_REGION),
            ("B", &sources[1].aws, SOURCE_REGION),
            ("DR", &dr, DR_REGION),
        ] {
            for (name, used) in quotas(aws, region).await {
                day.held.insert(format!("{label} {name}"), used);
            }
        }
        let held = |k: &str| day.held.get(k).copied().unwrap_or(-1);
        writeln!(
            report,
            "| {} | {}/{QUOTA} | {}/{QUOTA} | {}/{QUOTA} | {}/{QUOTA} | {}/{QUOTA} | {} | {} | {} | {} / {RPO_MINUTES} | {} | {} | {} |",
            d + 1,
            held("A ManualSnapshots"),
            held("A ManualClusterSnapshots"),
            held("B ManualSnapshots"),
            held("DR ManualSnapshots"),
            held("DR ManualClusterSnapshots"),
            day.copies,
            day.copy_failures,
            day.quota_errors,
            day.worst_age,
            day.hours_missed,
            day.missing_points.len(),
            if day.drills.is_empty() { "-".to_string() } else { day.drills.join("; ") },
        )
        .unwrap();
        println!(
            "soak day {}: {}",
            d + 1,
            report.lines().last().unwrap_or_default()
        );
        totals.copies += day.copies;
        totals.copy_failures += day.copy_failures;
        totals.quota_errors += day.quota_errors;
        totals.hours_missed += day.hours_missed;
        totals.worst_age = totals.worst_age.max(day.worst_age);
        totals.missing_points.extend(day.missing_points);
        totals.other_errors.extend(day.other_errors);
        totals.drills.extend(day.drills);
    }
    let verdict = format!(
        "{hours} hours ({days} days): {} copies, {} failed, {} quota errors, worst DR recovery-point age {} min (RpoMinutes {RPO_MINUTES}), {} hours over the RPO, {} promised recovery points missing, drills: {}",
        totals.copies,
        totals.copy_failures,
        totals.quota_errors,
        totals.worst_age,
        totals.hours_missed,
        totals.missing_points.len(),
        if totals.drills.is_empty() {
            "none (fewer than 7 days)".to_string()
        } else {
            totals.drills.join("; ")
        },
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/soak");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.md"), format!("{report}\n{verdict}\n")).unwrap();
    println!("{report}\n{verdict}");
    assert_eq!(totals.quota_errors, 0, "{verdict}");
    assert_eq!(totals.copy_failures, 0, "{verdict}");
    assert_eq!(totals.hours_missed, 0, "{verdict}");
    assert!(
        totals.missing_points.is_empty(),
        "{verdict}: {:?}",
        totals.missing_points
    );
    assert!(
        totals.other_errors.is_empty(),
        "{verdict}: {:?}",
        totals.other_errors
    );
    assert!(
        totals.drills.iter().all(|d| d.contains("restored")),
        "{verdict}"
    );
}
