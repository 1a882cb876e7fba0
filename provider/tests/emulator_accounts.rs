//! One DR policy, two source accounts with a database of the same name and the same source
//! policy (what a StackSet deploys), against the emulator: both are copied, both measured and
//! both retained (issue 26).

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use support::*;

/// The second production account.
const OTHER: &str = "333333333333";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 10, 6, 0, 0).unwrap()
}

#[tokio::test]
#[ignore = "needs make test"]
async fn same_named_databases_of_two_accounts_are_each_protected() {
    let _serial = exclusive().await;
    let em = emulator();
    let first = em.aws(SOURCE, SOURCE_REGION).await;
    let second = em.aws(OTHER, SOURCE_REGION).await;
    let dr = em.aws(DR, DR_REGION).await;
    let first_key = shared_key(&first, &[DR]).await;
    let second_key = create_key(&second, SOURCE_REGION).await;
    second
        .kms(SOURCE_REGION)
        .put_key_policy()
        .key_id(&second_key)
        .policy_name("default")
        .policy(shared_key_policy(OTHER, &[DR]))
        .send()
        .await
        .unwrap();
    let dr_key = create_key(&dr, DR_REGION).await;
    create_instance(&first, SOURCE_REGION, "ma-orders", Some(&first_key), &[]).await;
    create_instance(&second, SOURCE_REGION, "ma-orders", Some(&second_key), &[]).await;
    clock(em, t0()).await;
    // The same source policy in both accounts: the same snapshot names at the same minute.
    let source = source_policy(json!({"PolicyId": "ma-src", "DBInstanceIdentifier": "ma-orders"}));
    for account in [&first, &second] {
        run(account, "take", &source, t0()).await;
        run(account, "share", &source, t0()).await;
    }
    let dr_policy = json!({"Role": "Destination", "PolicyId": "ma-dr", "SnapshotPattern": "^ma-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "SourceAccounts": [SOURCE, OTHER], "RestoreDrill": false});
    let copied = run(&dr, "copy", &dr_policy, t0() + Duration::minutes(10)).await;
    assert_eq!(
        copied.done.len(),
        2,
        "both accounts' snapshots copied: {copied:?}"
    );
    // The first copied keeps the snapshot's name; the other gets its account appended, and its
    // source-ARN tag names that account.
    let mut copies = snapshots(&dr, DR_REGION, "ma-orders").await;
    copies.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[0].id, "ma-orders-2026-05-10-06-00");
    let source_arn = |i: usize| copies[i].tags["rds-snapshot-policy:source-arn"].clone();
    let suffixed_account = copies[1].id.rsplit('-').next().unwrap().to_string();
    assert!(
        [SOURCE, OTHER].contains(&suffixed_account.as_str()),
        "{}",
        copies[1].id
    );
    assert!(source_arn(1).contains(&format!(":{suffixed_account}:")));
    assert!(!source_arn(0).contains(&format!(":{suffixed_account}:")));

    // Measured apart: one recovery point per (account, database).
    let measured = run(&dr, "copy", &dr_policy, t0() + Duration::minutes(20)).await;
    let keys: Vec<&String> = measured.recovery_points.keys().collect();
    assert_eq!(
        keys,
        [
            &format!("{SOURCE}/ma-orders"),
            &format!("{OTHER}/ma-orders")
        ],
        "{measured:?}"
    );

    // Retained apart: past the 6-hour window each account keeps its newest copy (one shared
    // key would keep one and delete the other).
    let later = t0() + Duration::hours(8);
    clock(em, later).await;
    let deleted = run(&dr, "delete", &dr_policy, later).await;
    assert!(deleted.done.is_empty(), "{deleted:?}");
    assert_eq!(snapshots(&dr, DR_REGION, "ma-orders").await.len(), 2);
}
