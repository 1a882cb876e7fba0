//! The restore drill against the emulator: an instance and an Aurora cluster restored from
//! their DR copies, timed, and deleted; cleanup after a failure mid-drill; the sweeper; and
//! the safety rule (nothing without the drill's tag and name is ever deleted).

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use provider::aws::drill_records;
use provider::drill::run_drill_step;
use provider::inventory::tags;
use provider::plan::drill::{drill_identifier, drill_prefix};
use provider::policy::RuntimePolicy;
use rds_snapshot_policy_core::contract::{
    DrillInput, DrillRun, DrillStep, Kind, drill_records as drill_records_names, metrics,
};
use serde_json::json;
use support::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 3, 4, 0, 0).unwrap()
}

async fn step(
    aws: &provider::aws::Aws,
    policy: &RuntimePolicy,
    step: DrillStep,
    run: Option<DrillRun>,
) -> DrillRun {
    // As the provider's role: the emulator decides each call by its policies.
    let aws = &emulator().provider_for(aws).await;
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
    .unwrap_or_else(|e| panic!("{step:?}: {e}"))
    .drill
    .unwrap_or_else(|| DrillRun {
        started: String::new(),
        restores: Vec::new(),
        ready: false,
        timed_out: false,
    })
}

/// The drill-record log group of `policy_id`, as its stack creates it.
async fn create_log_group(aws: &provider::aws::Aws, policy_id: &str) {
    aws.logs(DR_REGION)
        .create_log_group()
        .log_group_name(drill_records_names::log_group(policy_id))
        .send()
        .await
        .unwrap();
}

/// A drill sweep as the provider's role; the `DrillAgeHours` it publishes, if any.
async fn sweep_age(aws: &provider::aws::Aws, policy: &RuntimePolicy) -> Option<f64> {
    let summary = run_drill_step(
        &emulator().provider_for(aws).await,
        policy,
        &DrillInput {
            step: DrillStep::Sweep,
            run: None,
            validated: None,
        },
        None,
    )
    .await
    .unwrap();
    summary
        .metric_data
        .iter()
        .find(|d| d.metric_name == metrics::DRILL_AGE)
        .map(|d| d.value)
}

/// DB instances and clusters in the DR region whose identifier starts with `prefix`.
async fn leftovers(aws: &provider::aws::Aws, prefix: &str) -> Vec<String> {
    let rds = aws.rds(DR_REGION);
    let mut out: Vec<String> = rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter_map(|d| d.db_instance_identifier().map(str::to_string))
        .chain(
            rds.describe_db_clusters()
                .send()
                .await
                .unwrap()
                .db_clusters()
                .iter()
                .filter_map(|c| c.db_cluster_identifier().map(str::to_string)),
        )
        .filter(|id| id.starts_with(prefix))
        .collect();
    out.sort();
    out
}

#[tokio::test]
#[ignore = "needs make test"]
async fn drills_restore_time_and_delete_only_their_own() {
    let _serial = exclusive().await;
    let em = emulator();
    let (src, dr, key, dr_key) = source_and_dr(em).await;
    create_instance(&src, SOURCE_REGION, "dr1-orders", Some(&key), &[]).await;
    create_cluster(&src, SOURCE_REGION, "dr1-ledger", &key).await;
    clock(em, t0()).await;
    let source = source_policy(json!({"PolicyId": "dr1-src", "InstanceNamePattern": "^dr1-"}));
    run(&src, "take", &source, t0()).await;
    run(&src, "share", &source, t0()).await;
    let dr_properties = json!({"Role": "Destination", "PolicyId": "dr1-dr", "SnapshotPattern": "^dr1-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "SourceAccounts": [SOURCE], "RtoMinutes": 30});
    let copied = run(&dr, "copy", &dr_properties, t0()).await;
    assert_eq!(copied.done.len(), 2, "{copied:?}");
    let policy = RuntimePolicy::from_properties(&dr_properties, DR_REGION, None).unwrap();
    let prefix = drill_prefix("dr1-dr");
    // The policy's stack creates its drill-record log group.
    create_log_group(&dr, "dr1-dr").await;

    // Not the drill's: the right name without the tag, and the tag without the name.
    create_instance(
        &dr,
        DR_REGION,
        &format!("{prefix}impostor"),
        Some(&dr_key),
        &[],
    )
    .await;
    create_instance(
        &dr,
        DR_REGION,
        "dr1-app",
        Some(&dr_key),
        &[(tags::DRILL, "dr1-dr")],
    )
    .await;

    em.configure(json!({"restore_pending_seconds": 180})).await;
    let started = step(&dr, &policy, DrillStep::Start, None).await;
    let databases: Vec<&str> = started
        .restores
        .iter()
        .map(|r| r.database.as_str())
        .collect();
    // Keyed by source account and name: a DR account may copy same-named databases.
    assert_eq!(
        databases,
        [
            format!("{SOURCE}/dr1-ledger"),
            format!("{SOURCE}/dr1-orders")
        ]
    );
    let checked = step(&dr, &policy, DrillStep::Check, Some(started)).await;
    assert!(!checked.ready && !checked.timed_out, "{checked:?}");
    clock(em, t0() + Duration::minutes(4)).await;
    // The instance is up; the Aurora cluster is available and only now gets its instance (AWS
    // refuses instances in a cluster that is still restoring), which takes its own time.
    let halfway = step(&dr, &policy, DrillStep::Check, Some(checked)).await;
    assert!(!halfway.ready, "{halfway:?}");
    let member = dr
        .rds(DR_REGION)
        .describe_db_instances()
        .db_instance_identifier(format!(
            "{}-1",
            drill_identifier("dr1-dr", &format!("{SOURCE}/dr1-ledger"))
        ))
        .send()
        .await
        .expect("the cluster's instance is created once the cluster is available");
    assert_eq!(member.db_instances().len(), 1);
    clock(em, t0() + Duration::minutes(8)).await;
    let ready = step(&dr, &policy, DrillStep::Check, Some(halfway)).await;
    assert!(ready.ready, "{ready:?}");
    for r in &ready.restores {
        let minutes = r.minutes.expect("timed");
        let expected = if r.kind == Kind::Cluster {
            6..=9
        } else {
            3..=5
        };
        assert!(
            expected.contains(&minutes),
            "{} took {minutes} min",
            r.database
        );
        assert!(r.endpoint.is_some(), "{r:?}");
    }
    // Restored at the snapshot's engine version, not the region's default.
    let cluster = dr
        .rds(DR_REGION)
        .describe_db_clusters()
        .db_cluster_identifier(drill_identifier("dr1-dr", &format!("{SOURCE}/dr1-ledger")))
        .send()
        .await
        .unwrap();
    let snapshot_version = dr
        .rds(DR_REGION)
        .describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier("dr1-ledger-2026-05-03-04-00")
        .send()
        .await
        .unwrap()
        .db_cluster_snapshots()[0]
        .engine_version()
        .map(str::to_string);
    assert_eq!(
        cluster.db_clusters()[0]
            .engine_version()
            .map(str::to_string),
        snapshot_version
    );
    let summary = run_drill_step(
        &emulator().provider_for(&dr).await,
        &policy,
        &DrillInput {
            step: DrillStep::Finish,
            run: Some(ready),
            // A validation function passed them at 04:07: RestoreMinutes runs to then.
            validated: Some((t0() + Duration::minutes(7)).to_rfc3339()),
        },
        None,
    )
    .await
    .unwrap();
    let restore_minutes: Vec<f64> = summary
        .metric_data
        .iter()
        .filter(|d| d.metric_name == "RestoreMinutes")
        .map(|d| d.value)
        .collect();
    assert_eq!(
        restore_minutes.len(),
        3,
        "the policy's maximum and one per database"
    );
    for copy in snapshots(&dr, DR_REGION, "dr1-").await {
        assert!(
            copy.tags
                .get(tags::DRILLED)
                .is_some_and(|v| v.ends_with(" min")),
            "{} records its drill: {:?}",
            copy.id,
            copy.tags
        );
    }
    assert_eq!(
        leftovers(&dr, &prefix).await,
        [format!("{prefix}impostor")],
        "the drill deleted what it created and nothing else"
    );
    // The durable records: one per restore, with the copy and its recovery point; they
    // outlive the copies (retention never touches the log group).
    let records = drill_records::read(&dr, &policy, None, None, None)
        .await
        .unwrap();
    let recorded: Vec<(String, String, Option<String>)> = records
        .iter()
        .map(|(_, r)| {
            (
                r.database.clone(),
                r.outcome.clone(),
                // The snapshots were taken in the clock's first seconds after 04:00 (the
                // emulated clock runs on in real time): the minute is what is known.
                r.recovery_point.as_ref().map(|p| p[..16].to_string()),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            (
                format!("{SOURCE}/dr1-ledger"),
                "passed".to_string(),
                Some("2026-05-03T04:00".to_string())
            ),
            (
                format!("{SOURCE}/dr1-orders"),
                "passed".to_string(),
                Some("2026-05-03T04:00".to_string())
            ),
        ]
    );
    assert!(
        records
            .iter()
            .all(|(_, r)| r.copy.starts_with("dr1-") && r.validated.is_some()),
        "{records:?}"
    );
    let age = sweep_age(&dr, &policy).await;
    assert!(age.is_some_and(|a| a < 0.2), "just drilled: {age:?}");

    // A failure mid-drill: the Catch path's cleanup leaves nothing behind.
    let again = step(&dr, &policy, DrillStep::Start, None).await;
    assert_eq!(again.restores.len(), 2);
    step(&dr, &policy, DrillStep::Cleanup, Some(again)).await;
    assert_eq!(leftovers(&dr, &prefix).await, [format!("{prefix}impostor")]);
    let failed = drill_records::read(&dr, &policy, None, None, None)
        .await
        .unwrap();
    assert_eq!(
        failed.iter().filter(|(_, r)| r.outcome == "failed").count(),
        2,
        "the failed drill is recorded too: {failed:?}"
    );

    // A drill whose execution timed out (no cleanup ran): the sweeper removes it once it is
    // older than RtoMinutes plus the margin, not before.
    step(&dr, &policy, DrillStep::Start, None).await;
    step(&dr, &policy, DrillStep::Sweep, None).await;
    // The impostor, the instance restore and the restoring cluster (its instance comes once
    // the cluster is available, at a check this execution never made).
    assert_eq!(leftovers(&dr, &prefix).await.len(), 3, "too young to sweep");
    clock(em, t0() + Duration::minutes(8 + 30 + 61)).await;
    step(&dr, &policy, DrillStep::Sweep, None).await;
    assert_eq!(leftovers(&dr, &prefix).await, [format!("{prefix}impostor")]);
    let kept = dr
        .rds(DR_REGION)
        .describe_db_instances()
        .db_instance_identifier("dr1-app")
        .send()
        .await;
    assert!(
        kept.is_ok(),
        "an instance carrying only the tag is never deleted"
    );
    // The failed drill does not reset the age: it counts from the drill that finished.
    let age = sweep_age(&dr, &policy).await.unwrap();
    assert!((1.4..=1.8).contains(&age), "{age}");

    // A new policy: the first sweep marks its empty log group, and the age counts from there.
    let fresh_properties = json!({"Role": "Destination", "PolicyId": "dr1-fresh", "SnapshotPattern": "^dr1-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "SourceAccounts": [SOURCE], "RtoMinutes": 30});
    let fresh = RuntimePolicy::from_properties(&fresh_properties, DR_REGION, None).unwrap();
    create_log_group(&dr, "dr1-fresh").await;
    assert_eq!(sweep_age(&dr, &fresh).await, Some(0.0));
    clock(em, t0() + Duration::minutes(8 + 30 + 61 + 120)).await;
    assert_eq!(sweep_age(&dr, &fresh).await, Some(2.0));
    // No log group (a stack from before this release, or deleted by hand): no datum, so the
    // overdue alarm, which treats missing data as breaching, fires.
    let orphan = RuntimePolicy::from_properties(
        &json!({"Role": "Destination", "PolicyId": "dr1-orphan", "SnapshotPattern": "^dr1-",
            "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
            "SourceAccounts": [SOURCE]}),
        DR_REGION,
        None,
    )
    .unwrap();
    assert_eq!(sweep_age(&dr, &orphan).await, None);
    em.configure(json!({"restore_pending_seconds": 0})).await;
}

/// Retiring a database on the emulator (issue 26): the DR policy names it in RetiredDatabases;
/// the next copy run publishes no recovery point for it, the drill restores only the other
/// database and records the retired one with its final copy and how long it is kept.
#[tokio::test]
#[ignore = "needs make test"]
async fn a_retired_database_stops_its_rpo_datum_and_is_recorded_by_the_drill() {
    let _serial = exclusive().await;
    let em = emulator();
    let (src, dr, key, dr_key) = source_and_dr(em).await;
    create_instance(&src, SOURCE_REGION, "rt1-orders", Some(&key), &[]).await;
    create_instance(&src, SOURCE_REGION, "rt1-legacy", Some(&key), &[]).await;
    let t = t0() + Duration::days(60);
    clock(em, t).await;
    let source = source_policy(json!({"PolicyId": "rt1-src", "InstanceNamePattern": "^rt1-"}));
    run(&src, "take", &source, t).await;
    run(&src, "share", &source, t).await;
    let mut dr_properties = json!({"Role": "Destination", "PolicyId": "rt1-dr", "SnapshotPattern": "^rt1-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "SourceAccounts": [SOURCE], "RtoMinutes": 30});
    let copied = run(&dr, "copy", &dr_properties, t).await;
    assert_eq!(copied.done.len(), 2, "{copied:?}");
    let measured = run(&dr, "copy", &dr_properties, t + Duration::minutes(10)).await;
    assert_eq!(measured.recovery_points.len(), 2, "{measured:?}");

    // Retired: the copy run measures only the live database; the legacy copy stays.
    dr_properties["RetiredDatabases"] = json!(["rt1-legacy"]);
    dr_properties["RetiredKeepDays"] = json!(400);
    let measured = run(&dr, "copy", &dr_properties, t + Duration::minutes(20)).await;
    let keys: Vec<&String> = measured.recovery_points.keys().collect();
    assert_eq!(keys, [&format!("{SOURCE}/rt1-orders")], "{measured:?}");
    assert!(
        !serde_json::to_string(&measured.metric_data)
            .unwrap()
            .contains("rt1-legacy"),
        "{:?}",
        measured.metric_data
    );
    let later = t + Duration::days(3);
    clock(em, later).await;
    let deleted = run(&dr, "delete", &dr_properties, later).await;
    assert!(deleted.done.is_empty(), "{deleted:?}");
    assert_eq!(snapshots(&dr, DR_REGION, "rt1-legacy").await.len(), 1);

    // The drill restores the live database and records the retired one.
    let policy = RuntimePolicy::from_properties(&dr_properties, DR_REGION, None).unwrap();
    create_log_group(&dr, "rt1-dr").await;
    em.configure(json!({"restore_pending_seconds": 0})).await;
    let started = step(&dr, &policy, DrillStep::Start, None).await;
    let restored: Vec<&str> = started
        .restores
        .iter()
        .map(|r| r.database.as_str())
        .collect();
    assert_eq!(restored, [format!("{SOURCE}/rt1-orders")]);
    let checked = step(&dr, &policy, DrillStep::Check, Some(started)).await;
    step(&dr, &policy, DrillStep::Finish, Some(checked)).await;
    let records = drill_records::read(&dr, &policy, None, None, None)
        .await
        .unwrap();
    let retired: Vec<_> = records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.outcome == drill_records_names::RETIRED)
        .collect();
    assert_eq!(retired.len(), 1, "{records:?}");
    assert_eq!(retired[0].database, format!("{SOURCE}/rt1-legacy"));
    assert!(
        retired[0].copy.starts_with("rt1-legacy"),
        "{:?}",
        retired[0]
    );
    let point = retired[0].recovery_point.as_deref().unwrap();
    let kept = retired[0].kept_until.as_deref().unwrap();
    assert_eq!(
        DateTime::parse_from_rfc3339(kept).unwrap() - DateTime::parse_from_rfc3339(point).unwrap(),
        Duration::days(400)
    );
    assert!(
        records
            .iter()
            .any(|(_, r)| r.outcome == drill_records_names::PASSED
                && r.database == format!("{SOURCE}/rt1-orders")),
        "{records:?}"
    );
}
