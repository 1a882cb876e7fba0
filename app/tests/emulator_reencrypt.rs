//! `ReencryptKmsKey` on the emulator: an instance and an Aurora cluster on the AWS-managed
//! `aws/rds` key reach the DR account. The share copies each snapshot under the customer-managed
//! key, shares only the copy, deletes the original once the copy is available, and the DR
//! account copies the re-encrypted snapshot under its own key. Without the property the share
//! is refused, and so is sharing an `aws/rds` snapshot directly (as AWS refuses it).

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use provider::inventory::tags;
use serde_json::json;
use support::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 5, 6, 0, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs make test"]
async fn an_aws_managed_database_reaches_the_dr_account_reencrypted() {
    let _serial = exclusive().await;
    let em = emulator();
    em.configure(json!({"pending_seconds": 0})).await;
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let dr = em.aws(DR, DR_REGION).await;
    // The re-encryption key: its key policy lets the DR account copy under it.
    let share_key = shared_key(&src, &[DR]).await;
    let dr_key = create_key(&dr, DR_REGION).await;
    create_instance(&src, SOURCE_REGION, "reenc-orders", None, &[]).await;
    create_cluster(&src, SOURCE_REGION, "reenc-ledger", "alias/aws/rds").await;
    let now = t0();
    clock(em, now).await;

    // Without ReencryptKmsKey: a clear refusal naming the key, nothing copied or shared.
    let plain = source_policy(
        json!({"PolicyId": "reenc", "InstanceNamePattern": "^reenc-", "BackupInterval": 1}),
    );
    let taken = run(&src, "take", &plain, now).await;
    assert_eq!(taken.done.len(), 2, "{taken:?}");
    let (error, _) = try_run(&src, "share", &plain, now)
        .await
        .expect_err("aws/rds snapshots are not shareable");
    assert!(
        error.message.contains("AWS-managed key"),
        "{}",
        error.message
    );
    // The emulator refuses the share itself, as AWS does.
    let original = "reenc-orders-2026-10-05-06-00";
    let direct = src
        .rds(SOURCE_REGION)
        .modify_db_snapshot_attribute()
        .db_snapshot_identifier(original)
        .attribute_name("restore")
        .values_to_add(DR)
        .send()
        .await;
    assert!(direct.is_err(), "sharing an aws/rds snapshot must fail");

    // With it: the first share re-encrypts, shares nothing yet.
    let policy = source_policy(
        json!({"PolicyId": "reenc", "InstanceNamePattern": "^reenc-", "BackupInterval": 1,
        "ReencryptKmsKey": share_key}),
    );
    let first = run(&src, "share", &policy, now).await;
    assert_eq!(first.done.len(), 2, "two re-encryption copies: {first:?}");
    let seen = snapshots(&src, SOURCE_REGION, "reenc-").await;
    assert_eq!(seen.len(), 4, "originals and copies: {seen:?}");
    for copy in seen.iter().filter(|s| s.id.ends_with("-cmk")) {
        assert_eq!(copy.kms_key_id.as_deref(), Some(share_key.as_str()));
        assert_eq!(
            copy.tags.get(tags::CREATED_BY).map(String::as_str),
            Some(tags::TOOL)
        );
        let from = copy
            .tags
            .get(tags::REENCRYPTED_FROM)
            .expect("names its original");
        assert_eq!(format!("{from}-cmk"), copy.id);
        assert!(copy.shared_with.is_empty(), "{copy:?}");
    }
    assert!(seen.iter().all(|s| s.shared_with.is_empty()));

    // The next share (the copy-finished event, or the sweep) shares the copies and deletes
    // the originals.
    let later = now + Duration::minutes(5);
    clock(em, later).await;
    let second = run(&src, "share", &policy, later).await;
    assert_eq!(second.done.len(), 4, "two shares, two deletes: {second:?}");
    let seen = snapshots(&src, SOURCE_REGION, "reenc-").await;
    let ids: Vec<&str> = seen.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "only the re-encrypted copies remain: {ids:?}");
    let mut points = std::collections::BTreeMap::new();
    for copy in &seen {
        assert!(copy.id.ends_with("-cmk"), "{ids:?}");
        points.insert(
            copy.id.clone(),
            copy.tags.get(tags::RECOVERY_POINT).cloned(),
        );
        assert_eq!(copy.shared_with, [DR], "{copy:?}");
        // The emulated clock runs on in real time from `now`: compare to the minute.
        let point = copy.tags.get(tags::RECOVERY_POINT).map(String::as_str);
        assert!(
            point.is_some_and(|p| p.starts_with("2026-10-05T06:00:")),
            "the original's recovery point: {point:?}"
        );
    }
    let third = run(&src, "share", &policy, later).await;
    assert!(third.done.is_empty(), "nothing left to do: {third:?}");

    // The DR account copies the re-encrypted snapshots under its own key.
    let dr_policy = json!({"Role": "Destination", "SourceAccounts": [SOURCE], "PolicyId": "reenc-dr",
        "SnapshotPattern": "^reenc-", "SourceRegionOverride": SOURCE_REGION,
        "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key});
    let copied = run(&dr, "copy", &dr_policy, later).await;
    assert_eq!(copied.done.len(), 2, "{copied:?}");
    let in_dr = snapshots(&dr, DR_REGION, "reenc-").await;
    assert_eq!(in_dr.len(), 2, "{in_dr:?}");
    for copy in &in_dr {
        assert!(copy.id.ends_with("-cmk"), "{copy:?}");
        assert_eq!(copy.kms_key_id.as_deref(), Some(dr_key.as_str()));
        assert_eq!(
            copy.tags.get(tags::RECOVERY_POINT),
            points.get(&copy.id).and_then(Option::as_ref),
            "the recovery point is the original snapshot's, not the re-encryption's"
        );
    }

    // The next take counts the re-encrypted copy as the database's newest snapshot.
    let next = now + Duration::minutes(30);
    clock(em, next).await;
    let retake = run(&src, "take", &policy, next).await;
    assert!(retake.done.is_empty(), "BackupInterval not due: {retake:?}");
}
