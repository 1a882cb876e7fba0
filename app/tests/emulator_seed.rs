//! Promises on the emulator that the other suites do not walk through end to end: tiered
//! retention over 60 days of snapshots of an instance and a cluster; the seed's
//! `CopyRetentionDays`, `CrossAccountCopy: false` and `SourceRegionOverride` (source role); a
//! Multi-AZ DB cluster snapshotted but never shared or copied (AWS copies none of its snapshots).

mod support;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};
use provider::aws::Aws;
use provider::plan::Operation;
use serde_json::json;
use support::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap()
}

/// The time in a snapshot name `<db>-YYYY-MM-DD-HH-MM`.
fn taken(id: &str) -> DateTime<Utc> {
    let stamp = &id[id.len() - 16..];
    NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d-%H-%M")
        .unwrap()
        .and_utc()
}

/// A day, ISO week or month, as (year, number).
type Bucket = fn(&DateTime<Utc>) -> (i32, u32);

/// What the tiers keep of one database's snapshot times, computed here independently.
fn expected_kept(times: &[DateTime<Utc>], now: DateTime<Utc>) -> BTreeSet<DateTime<Utc>> {
    let mut newest_first = times.to_vec();
    newest_first.sort_by(|a, b| b.cmp(a));
    let mut kept: BTreeSet<DateTime<Utc>> = newest_first
        .iter()
        .copied()
        .filter(|t| now - *t < Duration::days(3))
        .collect();
    kept.insert(newest_first[0]);
    let buckets: [(usize, Bucket); 3] = [
        (10, |t| (t.year(), t.ordinal())),
        (4, |t| (t.iso_week().year(), t.iso_week().week())),
        (2, |t| (t.year(), t.month())),
    ];
    for (count, bucket) in buckets {
        let mut seen = Vec::new();
        for t in &newest_first {
            let b = bucket(t);
            if !seen.contains(&b) {
                if seen.len() == count {
                    break;
                }
                seen.push(b);
                kept.insert(*t);
            }
        }
    }
    kept
}

/// The emulator with no pending time, both accounts, and a key in each one's region.
async fn both_accounts() -> (&'static Emulator, Aws, Aws, String, String) {
    let em = emulator();
    em.configure(json!({"pending_seconds": 0})).await;
    let (src, dr, key, dr_key) = source_and_dr(em).await;
    (em, src, dr, key, dr_key)
}

/// A DR policy copying the production account's `^<prefix>-` snapshots under `dr_key`.
fn dr_policy(prefix: &str, dr_key: &str) -> serde_json::Value {
    json!({"Role": "Destination", "SourceAccounts": [SOURCE], "PolicyId": format!("{prefix}-dr"),
        "SnapshotPattern": format!("^{prefix}-"), "SourceRegionOverride": SOURCE_REGION,
        "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key})
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn sixty_days_of_snapshots_keep_exactly_what_the_tiers_say() {
    let _serial = exclusive().await;
    let em = emulator();
    em.configure(json!({"pending_seconds": 0})).await;
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&src, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "tier-orders", Some(&key), &[]).await;
    create_cluster(&src, SOURCE_REGION, "tier-ledger", &key).await;
    let policy = source_policy(json!({"PolicyId": "tiers", "InstanceNamePattern": "^tier-",
        "BackupInterval": 12, "RetentionDays": 3, "KeepDaily": 10, "KeepWeekly": 4, "KeepMonthly": 2}));
    for half_day in 0..120 {
        let now = t0() + Duration::hours(12 * half_day);
        clock(em, now).await;
        let summary = run(&src, "take", &policy, now).await;
        assert_eq!(summary.done.len(), 2, "{now}: {summary:?}");
    }
    // Away from the 12-hour boundaries: creation times run a few seconds after the names.
    let now = t0() + Duration::days(60) + Duration::hours(6);
    clock(em, now).await;
    let before = snapshots(&src, SOURCE_REGION, "tier-").await;
    assert_eq!(before.len(), 240);
    let runtime =
        provider::policy::RuntimePolicy::from_properties(&policy, SOURCE_REGION, None).unwrap();
    let (plan, _) = provider::task::plan_action(
        &emulator().provider_for(&src).await,
        provider::plan::Action::Delete,
        &runtime,
        now,
    )
    .await
    .unwrap();
    let planned: BTreeSet<String> = plan
        .steps
        .iter()
        .map(|s| match &s.operation {
            Operation::Delete { snapshot_id, .. } => snapshot_id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let mut expected_remaining = BTreeSet::new();
    for db in ["tier-orders", "tier-ledger"] {
        let ids: Vec<&str> = before
            .iter()
            .map(|s| s.id.as_str())
            .filter(|id| id.starts_with(&format!("{db}-2")))
            .collect();
        let times: Vec<DateTime<Utc>> = ids.iter().map(|id| taken(id)).collect();
        let kept = expected_kept(&times, now);
        // 3 days at 12 hours: 6; 10 days with 7 of them older; weeks and months add the rest.
        assert!(kept.len() < 25, "{db}: {}", kept.len());
        for id in ids {
            if kept.contains(&taken(id)) {
                expected_remaining.insert(id.to_string());
                assert!(
                    !planned.contains(id),
                    "{id} is kept by a tier but planned for deletion"
                );
            } else {
                let why = plan.skipped.iter().find(|n| n.subject == id);
                assert!(
                    planned.contains(id),
                    "{id} is kept by no rule but not planned for deletion: {why:?}"
                );
            }
        }
    }
    let summary = run(&src, "delete", &policy, now).await;
    assert_eq!(summary.done.len(), planned.len());
    let after: BTreeSet<String> = snapshots(&src, SOURCE_REGION, "tier-")
        .await
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(after, expected_remaining);
    let again = run(&src, "delete", &policy, now).await;
    assert!(
        again.done.is_empty(),
        "a second delete deleted {:?}",
        again.done
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn copy_retention_days_skips_older_shared_snapshots() {
    let _serial = exclusive().await;
    let (em, src, dr, key, dr_key) = both_accounts().await;
    create_instance(&src, SOURCE_REGION, "crd-orders", Some(&key), &[]).await;
    let source = source_policy(
        json!({"PolicyId": "crd-src", "DBInstanceIdentifier": "crd-orders", "RetentionDays": 5}),
    );
    let start = t0() + Duration::days(100);
    for day in 0..3 {
        let now = start + Duration::days(day);
        clock(em, now).await;
        run(&src, "take", &source, now).await;
        run(&src, "share", &source, now).await;
    }
    let now = start + Duration::days(2) + Duration::hours(1);
    clock(em, now).await;
    let mut dr_policy = dr_policy("crd", &dr_key);
    dr_policy["RetentionDays"] = json!(7);
    dr_policy["CopyRetentionDays"] = json!(1);
    let copied = run(&dr, "copy", &dr_policy, now).await;
    let names: Vec<String> = copied.done.iter().map(|s| s.subject.clone()).collect();
    assert_eq!(
        names.len(),
        1,
        "only the snapshot newer than a day: {copied:?}"
    );
    assert!(
        names[0].ends_with("crd-orders-2026-12-12-00-00"),
        "{names:?}"
    );
    assert!(
        copied
            .skipped
            .iter()
            .filter(|n| n.reason.contains("CopyRetentionDays"))
            .count()
            == 2,
        "{:?}",
        copied.skipped
    );
    assert_eq!(snapshots(&dr, DR_REGION, "crd-").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn cross_account_copy_false_copies_the_accounts_own_snapshots_across_regions() {
    let _serial = exclusive().await;
    let em = emulator();
    em.configure(json!({"pending_seconds": 0})).await;
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&src, SOURCE_REGION).await;
    let other_region_key = create_key(&em.aws(SOURCE, DR_REGION).await, DR_REGION).await;
    create_instance(&src, SOURCE_REGION, "own-orders", Some(&key), &[]).await;
    let now = t0() + Duration::days(200);
    clock(em, now).await;
    let source = source_policy(
        json!({"PolicyId": "own-src", "DBInstanceIdentifier": "own-orders", "ShareSnapshots": false}),
    );
    run(&src, "take", &source, now).await;
    // The same account's DR policy, copying to the other region.
    let in_dr_region = em.aws(SOURCE, DR_REGION).await;
    let dr_policy = json!({"Role": "Destination", "PolicyId": "own-dr", "CrossAccountCopy": false,
        "SnapshotPattern": "^own-", "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION,
        "KmsKeyDestination": other_region_key});
    let copied = run(&in_dr_region, "copy", &dr_policy, now).await;
    assert_eq!(copied.done.len(), 1, "{copied:?}");
    let copies = snapshots(&in_dr_region, DR_REGION, "own-").await;
    assert_eq!(copies.len(), 1);
    assert_eq!(
        copies[0].kms_key_id.as_deref(),
        Some(other_region_key.as_str())
    );
    assert_eq!(
        copies[0]
            .tags
            .get("rds-snapshot-policy:policy")
            .map(String::as_str),
        Some("own-dr")
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn source_region_override_takes_the_other_regions_databases() {
    let _serial = exclusive().await;
    let em = emulator();
    em.configure(json!({"pending_seconds": 0})).await;
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&src, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "sro-orders", Some(&key), &[]).await;
    // The provider runs in the other region; the policy points it at the databases' region.
    let elsewhere = em.aws(SOURCE, DR_REGION).await;
    let now = t0() + Duration::days(300);
    clock(em, now).await;
    let policy = source_policy(
        json!({"PolicyId": "sro", "DBInstanceIdentifier": "sro-orders",
        "SourceRegionOverride": SOURCE_REGION}),
    );
    let taken = run(&elsewhere, "take", &policy, now).await;
    assert_eq!(taken.done.len(), 1, "{taken:?}");
    assert_eq!(snapshots(&src, SOURCE_REGION, "sro-").await.len(), 1);
    assert!(snapshots(&elsewhere, DR_REGION, "sro-").await.is_empty());
    let shared = run(&elsewhere, "share", &policy, now).await;
    assert_eq!(shared.done.len(), 1, "{shared:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn a_multi_az_db_cluster_is_snapshotted_but_never_shared_or_copied() {
    let _serial = exclusive().await;
    let (em, src, dr, key, dr_key) = both_accounts().await;
    src.rds(SOURCE_REGION)
        .create_db_cluster()
        .db_cluster_identifier("maz-reports")
        .engine("postgres")
        .db_cluster_instance_class("db.m5d.large")
        .allocated_storage(100)
        .iops(1000)
        .storage_type("io1")
        .master_username("reports_admin")
        .master_user_password("not-a-real-password")
        .storage_encrypted(true)
        .kms_key_id(&key)
        .send()
        .await
        .expect("create the Multi-AZ DB cluster");
    create_cluster(&src, SOURCE_REGION, "maz-ledger", &key).await;
    let now = t0() + Duration::days(400);
    clock(em, now).await;
    let source = source_policy(json!({"PolicyId": "maz", "InstanceNamePattern": "^maz-"}));
    let taken = run(&src, "take", &source, now).await;
    assert_eq!(
        taken.done.len(),
        2,
        "both clusters are snapshotted: {taken:?}"
    );
    let shared = run(&src, "share", &source, now).await;
    let shared_ids: Vec<&str> = shared.done.iter().map(|s| s.subject.as_str()).collect();
    assert_eq!(shared_ids.len(), 1, "{shared:?}");
    assert!(shared_ids[0].starts_with("maz-ledger-"), "{shared_ids:?}");
    assert!(
        shared
            .skipped
            .iter()
            .any(|n| n.subject.starts_with("maz-reports-")
                && n.reason.contains("Multi-AZ DB cluster")),
        "{:?}",
        shared.skipped
    );
    for s in snapshots(&src, SOURCE_REGION, "maz-reports-").await {
        assert!(s.shared_with.is_empty(), "{} was shared", s.id);
    }
    let dr_policy = dr_policy("maz", &dr_key);
    let copied = run(&dr, "copy", &dr_policy, now).await;
    assert_eq!(copied.done.len(), 1, "{copied:?}");
    let copies = snapshots(&dr, DR_REGION, "maz-").await;
    assert_eq!(copies.len(), 1);
    assert!(copies[0].id.starts_with("maz-ledger-"), "{copies:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn a_snapshot_with_its_own_option_group_is_copied_with_or_without_destination_option_group_name()
 {
    let _serial = exclusive().await;
    let (em, src, dr, key, dr_key) = both_accounts().await;
    let rds = src.rds(SOURCE_REGION);
    rds.create_option_group()
        .option_group_name("og-custom")
        .engine_name("mysql")
        .major_engine_version("8.0")
        .option_group_description("options of og-orders")
        .send()
        .await
        .expect("create the option group");
    rds.create_db_instance()
        .db_instance_identifier("og-orders")
        .engine("mysql")
        .engine_version("8.0.35")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("orders_admin")
        .master_user_password("not-a-real-password")
        .storage_encrypted(true)
        .kms_key_id(&key)
        .option_group_name("og-custom")
        .send()
        .await
        .expect("create the instance");
    let now = t0() + Duration::days(500);
    clock(em, now).await;
    let source = source_policy(json!({"PolicyId": "og", "DBInstanceIdentifier": "og-orders"}));
    run(&src, "take", &source, now).await;
    run(&src, "share", &source, now).await;
    let mut dr_policy = dr_policy("og", &dr_key);
    // AWS requires OptionGroupName on a cross-region copy only for TDE: without the property
    // the copy proceeds (its restores get the default group).
    let plain = run(&dr, "copy", &dr_policy, now).await;
    assert_eq!(plain.done.len(), 1, "{plain:?}");
    assert!(plain.failed.is_empty(), "{:?}", plain.failed);
    for copy in snapshots(&dr, DR_REGION, "og-").await {
        dr.rds(DR_REGION)
            .delete_db_snapshot()
            .db_snapshot_identifier(&copy.id)
            .send()
            .await
            .expect("delete the first copy");
    }
    dr_policy["DestinationOptionGroupName"] = json!("og-custom-dr");
    let copied = run(&dr, "copy", &dr_policy, now).await;
    assert_eq!(copied.done.len(), 1, "{copied:?}");
    let copy = dr
        .rds(DR_REGION)
        .describe_db_snapshots()
        .db_snapshot_identifier(copied.done[0].subject.rsplit(':').next().unwrap())
        .send()
        .await
        .expect("describe the copy");
    assert_eq!(
        copy.db_snapshots()[0].option_group_name(),
        Some("og-custom-dr")
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn a_sharing_policy_on_a_tde_database_fails_at_deploy_time() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR]).await;
    let rds = src.rds(SOURCE_REGION);
    for (group, option) in [("tde-options", Some("TDE")), ("plain-options", None)] {
        rds.create_option_group()
            .option_group_name(group)
            .engine_name("oracle-ee")
            .major_engine_version("19")
            .option_group_description("deploy-time check")
            .send()
            .await
            .expect("create the option group");
        if let Some(option) = option {
            rds.modify_option_group()
                .option_group_name(group)
                .options_to_include(
                    aws_sdk_rds::types::OptionConfiguration::builder()
                        .option_name(option)
                        .build(),
                )
                .apply_immediately(true)
                .send()
                .await
                .expect("add the option");
        }
        rds.create_db_instance()
            .db_instance_identifier(format!("ora-{group}"))
            .engine("oracle-ee")
            .engine_version("19.0.0.0.ru-2024-01.rur-2024-01.r1")
            .license_model("bring-your-own-license")
            .db_instance_class("db.m5.large")
            .allocated_storage(20)
            .master_username("ora_admin")
            .master_user_password("not-a-real-password")
            .storage_encrypted(true)
            .kms_key_id(&key)
            .option_group_name(group)
            .send()
            .await
            .expect("create the instance");
    }
    let check = |db: &str| {
        provider::policy::RuntimePolicy::from_properties(
            &source_policy(json!({"PolicyId": "tde", "DBInstanceIdentifier": db})),
            SOURCE_REGION,
            None,
        )
        .unwrap()
    };
    let tde = provider::custom_resource::run_checks(
        &src,
        &check("ora-tde-options"),
        &provider::trust::Trust::operator(),
    )
    .await;
    assert!(
        tde.failures.iter().any(|f| f.contains(
            "DB instance ora-tde-options uses the option group tde-options with TDE: AWS does not share snapshots"
        )),
        "{:?}",
        tde.failures
    );
    let plain = provider::custom_resource::run_checks(
        &src,
        &check("ora-plain-options"),
        &provider::trust::Trust::operator(),
    )
    .await;
    assert!(plain.failures.is_empty(), "{:?}", plain.failures);
}
