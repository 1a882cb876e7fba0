//! The provider's actions against the emulator: two accounts, two regions, instances and
//! Aurora clusters. Assertions are about the snapshots that exist afterwards.

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use provider::error::ErrorName;
use provider::inventory::{Kind, tags};
use serde_json::json;
use support::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

#[tokio::test]
#[ignore = "needs make test"]
async fn take_share_copy_delete_across_accounts_and_regions() {
    let _serial = exclusive().await;
    let em = emulator();
    let (src, dr, key, dr_key) = source_and_dr(em).await;
    create_instance(&src, SOURCE_REGION, "c1-orders", Some(&key), &[]).await;
    create_instance(&src, SOURCE_REGION, "c1-billing", Some(&key), &[]).await;
    create_cluster(&src, SOURCE_REGION, "c1-ledger", &key).await;
    let source = source_policy(
        json!({"PolicyId": "c1-src", "InstanceNamePattern": "^c1-", "RetentionDays": 1}),
    );
    let dr_policy = json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "c1-dr", "SnapshotPattern": "^c1-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "RetentionDays": 2, "CopyRetentionDays": 1});

    clock(em, t0()).await;
    let taken = run(&src, "take", &source, t0()).await;
    assert_eq!(taken.done.len(), 3, "{taken:?}");
    let seen = snapshots(&src, SOURCE_REGION, "c1-").await;
    let ids: Vec<_> = seen.iter().map(|s| (s.id.as_str(), s.kind)).collect();
    assert_eq!(
        ids,
        vec![
            ("c1-billing-2026-03-02-10-00", Kind::Instance),
            ("c1-ledger-2026-03-02-10-00", Kind::Cluster),
            ("c1-orders-2026-03-02-10-00", Kind::Instance),
        ]
    );
    for s in &seen {
        assert_eq!(
            s.tags.get(tags::CREATED_BY).map(String::as_str),
            Some(tags::TOOL)
        );
        assert_eq!(s.tags.get(tags::POLICY).map(String::as_str), Some("c1-src"));
    }
    assert!(
        run(&src, "take", &source, t0() + Duration::minutes(20))
            .await
            .done
            .is_empty(),
        "BackupInterval not reached"
    );

    let shared = run(&src, "share", &source, t0()).await;
    assert_eq!(shared.done.len(), 3);
    for s in snapshots(&src, SOURCE_REGION, "c1-").await {
        assert_eq!(
            s.shared_with,
            vec![DR.to_string()],
            "{} shared with exactly the DR account",
            s.id
        );
    }
    let again = run(&src, "share", &source, t0()).await;
    assert!(again.done.is_empty());
    // Listing (snapshots, keys) plus the share audit's one read of each snapshot's restore
    // attribute; no write.
    assert!(
        again.aws_calls <= 3 + 3,
        "an idle share lists and reads each snapshot's restore attribute, nothing else: {} calls",
        again.aws_calls
    );

    let copied = run(&dr, "copy", &dr_policy, t0() + Duration::minutes(5)).await;
    assert_eq!(copied.done.len(), 3, "{copied:?}");
    let copies = snapshots(&dr, DR_REGION, "c1-").await;
    assert_eq!(copies.len(), 3);
    for c in &copies {
        assert_eq!(
            c.kms_key_id.as_deref(),
            Some(dr_key.as_str()),
            "{} under the DR key",
            c.id
        );
        assert_eq!(
            c.tags.get(tags::COPIED_BY).map(String::as_str),
            Some(tags::TOOL)
        );
        assert!(
            c.tags
                .get(tags::SOURCE_ARN)
                .is_some_and(|a| a.starts_with("arn:aws:rds:eu-west-1:111111111111:"))
        );
    }
    assert!(
        copies_made(&run(&dr, "copy", &dr_policy, t0() + Duration::minutes(6)).await) == 0,
        "no duplicate copies"
    );

    // A second round two hours later, then retention in both accounts.
    let later = t0() + Duration::hours(2);
    clock(em, later).await;
    assert_eq!(run(&src, "take", &source, later).await.done.len(), 3);
    assert_eq!(run(&src, "share", &source, later).await.done.len(), 3);
    let second = run(&dr, "copy", &dr_policy, later).await;
    assert_eq!(copies_made(&second), 3);
    assert_eq!(
        second.recovery_points.len(),
        3,
        "newest DR copy per database is reported"
    );

    let deleted = run(&dr, "delete", &dr_policy, t0() + Duration::days(3)).await;
    let mut gone: Vec<_> = deleted.done.iter().map(|s| s.subject.clone()).collect();
    gone.sort();
    assert_eq!(
        gone,
        vec![
            "c1-billing-2026-03-02-10-00",
            "c1-ledger-2026-03-02-10-00",
            "c1-orders-2026-03-02-10-00"
        ]
    );
    let left: Vec<_> = snapshots(&dr, DR_REGION, "c1-")
        .await
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        left,
        vec![
            "c1-billing-2026-03-02-12-00",
            "c1-ledger-2026-03-02-12-00",
            "c1-orders-2026-03-02-12-00"
        ]
    );
    // Weeks of a stalled pipeline: the newest copy of each database stays.
    assert!(
        run(&dr, "delete", &dr_policy, t0() + Duration::days(60))
            .await
            .done
            .is_empty()
    );
    assert_eq!(snapshots(&dr, DR_REGION, "c1-").await.len(), 3);

    let source_deleted = run(&src, "delete", &source, later + Duration::days(1)).await;
    assert_eq!(source_deleted.done.len(), 3, "{source_deleted:?}");
    assert_eq!(snapshots(&src, SOURCE_REGION, "c1-").await.len(), 3);
}

#[tokio::test]
#[ignore = "needs make test"]
async fn pending_snapshots_are_waited_for_not_duplicated() {
    let _serial = exclusive().await;
    let em = emulator();
    let (src, dr, key, dr_key) = source_and_dr(em).await;
    create_instance(&src, SOURCE_REGION, "p2-orders", Some(&key), &[]).await;
    em.configure(json!({"pending_prefixes": {"p2-": 2}})).await;
    let source = source_policy(json!({"PolicyId": "p2-src", "DBInstanceIdentifier": "p2-orders"}));
    let dr_policy = json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "p2-dr", "DBInstanceIdentifier": "p2-orders",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key});
    clock(em, t0()).await;
    assert_eq!(run(&src, "take", &source, t0()).await.done.len(), 1);
    let busy = run(&src, "take", &source, t0() + Duration::hours(3)).await;
    assert!(busy.done.is_empty() && busy.pending.len() == 1, "{busy:?}");
    let waiting = run(&src, "share", &source, t0()).await;
    assert!(waiting.done.is_empty());
    assert!(
        waiting.pending[0].reason.contains("creating"),
        "{waiting:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(run(&src, "share", &source, t0()).await.done.len(), 1);
    assert_eq!(run(&dr, "copy", &dr_policy, t0()).await.done.len(), 1);
    let copies = snapshots(&dr, DR_REGION, "p2-").await;
    assert_eq!(copies[0].status, "copying");
    let quiet = run(&dr, "delete", &dr_policy, t0() + Duration::days(90)).await;
    assert!(
        quiet.done.is_empty(),
        "a copy in progress is never deleted: {quiet:?}"
    );
    assert!(run(&dr, "copy", &dr_policy, t0()).await.done.is_empty());
    assert_eq!(snapshots(&dr, DR_REGION, "p2-").await.len(), 1);
}

#[tokio::test]
#[ignore = "needs make test"]
async fn tagged_instance_and_pattern_select_databases() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&src, SOURCE_REGION).await;
    create_instance(
        &src,
        SOURCE_REGION,
        "t3-tagged",
        Some(&key),
        &[("CopyDBSnapshot", "True")],
    )
    .await;
    create_instance(&src, SOURCE_REGION, "t3-untagged", Some(&key), &[]).await;
    create_instance(
        &src,
        SOURCE_REGION,
        "x3-other",
        Some(&key),
        &[("CopyDBSnapshot", "True")],
    )
    .await;
    clock(em, t0()).await;
    let tagged = source_policy(
        json!({"PolicyId": "t3", "InstanceNamePattern": "^t3-", "TaggedInstance": "TRUE"}),
    );
    let summary = run(&src, "take", &tagged, t0()).await;
    let ids: Vec<_> = snapshots(&src, SOURCE_REGION, "")
        .await
        .into_iter()
        .map(|s| s.id)
        .filter(|i| i.starts_with("t3-") || i.starts_with("x3-"))
        .collect();
    assert_eq!(ids, vec!["t3-tagged-2026-03-02-10-00"], "{summary:?}");
    assert!(
        summary
            .skipped
            .iter()
            .any(|n| n.subject == "t3-untagged" && n.reason.contains("CopyDBSnapshot"))
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn two_policies_leave_each_other_alone() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&src, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "p4-alpha", Some(&key), &[]).await;
    create_instance(&src, SOURCE_REGION, "p4-beta", Some(&key), &[]).await;
    clock(em, t0()).await;
    let alpha = source_policy(
        json!({"PolicyId": "p4-alpha", "DBInstanceIdentifier": "p4-alpha", "KeepLatest": 1}),
    );
    let beta = source_policy(json!({"PolicyId": "p4-beta", "InstanceNamePattern": "^p4-beta$"}));
    run(&src, "take", &alpha, t0()).await;
    run(&src, "take", &beta, t0()).await;
    clock(em, t0() + Duration::hours(1)).await;
    run(&src, "take", &alpha, t0() + Duration::hours(1)).await;
    run(&src, "take", &beta, t0() + Duration::hours(1)).await;
    let gone = run(&src, "delete", &alpha, t0() + Duration::days(30)).await;
    assert_eq!(gone.done.len(), 1, "{gone:?}");
    assert_eq!(gone.done[0].subject, "p4-alpha-2026-03-02-10-00");
    let left: Vec<_> = snapshots(&src, SOURCE_REGION, "p4-")
        .await
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        left,
        vec![
            "p4-alpha-2026-03-02-11-00",
            "p4-beta-2026-03-02-10-00",
            "p4-beta-2026-03-02-11-00"
        ]
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn aws_managed_key_is_a_clear_error_not_a_skip() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "k5-legacy", None, &[]).await;
    clock(em, t0()).await;
    let policy = source_policy(json!({"PolicyId": "k5", "DBInstanceIdentifier": "k5-legacy"}));
    run(&src, "take", &policy, t0()).await;
    let (error, summary) = try_run(&src, "share", &policy, t0())
        .await
        .expect_err("must fail");
    assert_eq!(error.kind, ErrorName::EncryptionNotShareable);
    assert!(
        error.message.contains("k5-legacy-2026-03-02-10-00")
            && error.message.contains("AWS-managed key"),
        "{error}"
    );
    assert!(summary.unwrap().done.is_empty());
    assert!(
        snapshots(&src, SOURCE_REGION, "k5-").await[0]
            .shared_with
            .is_empty()
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn unavailable_and_missing_databases_are_named() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = create_key(&src, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "s6-stopped", Some(&key), &[]).await;
    src.rds(SOURCE_REGION)
        .stop_db_instance()
        .db_instance_identifier("s6-stopped")
        .send()
        .await
        .unwrap();
    let stopped = source_policy(json!({"PolicyId": "s6", "DBInstanceIdentifier": "s6-stopped"}));
    let (error, _) = try_run(&src, "take", &stopped, t0())
        .await
        .expect_err("stopped");
    assert_eq!(error.kind, ErrorName::DatabaseNotAvailable);
    assert!(error.kind.is_retryable());
    assert!(error.message.contains("s6-stopped is stopped"), "{error}");
    let missing = source_policy(json!({"PolicyId": "s6m", "DBClusterIdentifier": "s6-nowhere"}));
    let (error, _) = try_run(&src, "take", &missing, t0())
        .await
        .expect_err("missing");
    assert_eq!(error.kind, ErrorName::DatabaseNotFound);
    assert!(
        error
            .message
            .contains("DB cluster s6-nowhere does not exist in eu-west-1"),
        "{error}"
    );
}

#[tokio::test]
#[ignore = "needs make test"]
async fn cross_region_cluster_copies_respect_the_in_flight_limit() {
    let _serial = exclusive().await;
    let em = emulator();
    let (src, dr, key, dr_key) = source_and_dr(em).await;
    for i in 0..7 {
        create_cluster(&src, SOURCE_REGION, &format!("l7-c{i}"), &key).await;
    }
    clock(em, t0()).await;
    let source = source_policy(json!({"PolicyId": "l7", "InstanceNamePattern": "^l7-"}));
    assert_eq!(run(&src, "take", &source, t0()).await.done.len(), 7);
    assert_eq!(run(&src, "share", &source, t0()).await.done.len(), 7);
    em.configure(json!({"pending_prefixes": {"l7-": 2}})).await;
    let dr_policy = json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "l7-dr", "SnapshotPattern": "^l7-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key});
    let first = run(&dr, "copy", &dr_policy, t0()).await;
    assert_eq!(first.done.len(), 5, "AWS allows 5 cluster copies in flight");
    assert_eq!(first.pending.len(), 2);
    assert!(
        first.pending[0].reason.starts_with("CopyLimitReached"),
        "{:?}",
        first.pending
    );
    assert!(run(&dr, "copy", &dr_policy, t0()).await.done.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let refill = run(&dr, "copy", &dr_policy, t0()).await;
    assert_eq!(copies_made(&refill), 2);
    assert_eq!(
        refill.done.len() - copies_made(&refill),
        5,
        "the first five copies, now available, are recorded as delivered"
    );
    assert_eq!(snapshots(&dr, DR_REGION, "l7-").await.len(), 7);
}

/// The copies a copy run started (it may also record deliveries).
fn copies_made(summary: &provider::task::Summary) -> usize {
    summary
        .done
        .iter()
        .filter(|s| matches!(s.operation, provider::plan::Operation::Copy { .. }))
        .count()
}

/// TwoStepCopy: the first copy stays in the source region under the DR account's key there,
/// the second crosses regions from it; once the DR copy is available the first-step copy is
/// deleted, and later runs copy nothing twice.
#[tokio::test]
#[ignore = "needs make test"]
async fn two_step_copies_reach_the_dr_region_and_leave_nothing_behind() {
    let _serial = exclusive().await;
    let em = emulator();
    let (src, dr, key, dr_key) = source_and_dr(em).await;
    let dr_key_in_source = create_key(&dr, SOURCE_REGION).await;
    create_instance(&src, SOURCE_REGION, "c9-orders", Some(&key), &[]).await;
    create_cluster(&src, SOURCE_REGION, "c9-ledger", &key).await;
    let source = source_policy(
        json!({"PolicyId": "c9-src", "InstanceNamePattern": "^c9-", "RetentionDays": 1}),
    );
    let dr_policy = json!({"Role": "Destination", "SourceAccounts": [SOURCE], "PolicyId": "c9-dr",
        "SnapshotPattern": "^c9-", "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION,
        "KmsKeyDestination": dr_key, "KmsKeySource": dr_key_in_source, "TwoStepCopy": true,
        "RetentionDays": 2, "CopyRetentionDays": 1});
    clock(em, t0()).await;
    assert_eq!(run(&src, "take", &source, t0()).await.done.len(), 2);
    assert_eq!(run(&src, "share", &source, t0()).await.done.len(), 2);

    let first = run(&dr, "copy", &dr_policy, t0() + Duration::minutes(5)).await;
    assert!(
        first
            .done
            .iter()
            .filter(|s| matches!(s.operation, provider::plan::Operation::StageCopy { .. }))
            .count()
            == 2,
        "{first:?}"
    );
    let staged = snapshots(&dr, SOURCE_REGION, "c9-").await;
    assert_eq!(staged.len(), 2, "first-step copies in the source region");
    for s in &staged {
        assert_eq!(s.kms_key_id.as_deref(), Some(dr_key_in_source.as_str()));
        assert!(
            s.tags
                .get(tags::SOURCE_ARN)
                .is_some_and(|a| a.starts_with(&format!("arn:aws:rds:{SOURCE_REGION}:{SOURCE}:"))),
            "{s:?}"
        );
    }
    assert!(snapshots(&dr, DR_REGION, "c9-").await.is_empty());

    let second = run(&dr, "copy", &dr_policy, t0() + Duration::minutes(10)).await;
    assert_eq!(copies_made(&second), 2, "{second:?}");
    let copies = snapshots(&dr, DR_REGION, "c9-").await;
    assert_eq!(copies.len(), 2);
    for c in &copies {
        assert_eq!(c.kms_key_id.as_deref(), Some(dr_key.as_str()), "{c:?}");
        assert_eq!(
            c.tags.get(tags::SOURCE_ARN),
            staged
                .iter()
                .find(|s| s.id == c.id)
                .and_then(|s| s.tags.get(tags::SOURCE_ARN)),
            "the DR copy records the shared snapshot, not the first-step copy"
        );
    }

    let third = run(&dr, "copy", &dr_policy, t0() + Duration::minutes(15)).await;
    let first_step_deletes = third
        .done
        .iter()
        .filter(|s| matches!(s.operation, provider::plan::Operation::DeleteStaged { .. }))
        .count();
    assert_eq!(
        first_step_deletes, 2,
        "first-step copies deleted: {third:?}"
    );
    assert!(snapshots(&dr, SOURCE_REGION, "c9-").await.is_empty());
    assert_eq!(snapshots(&dr, DR_REGION, "c9-").await.len(), 2);
    let idle = run(&dr, "copy", &dr_policy, t0() + Duration::minutes(20)).await;
    assert_eq!(copies_made(&idle), 0, "{idle:?}");
    assert_eq!(snapshots(&src, SOURCE_REGION, "c9-").await.len(), 2);
}

// --- One DR policy, two source accounts with a database of the same name and the same source
// policy (what a StackSet deploys): both copied, both measured, both retained (issue 26). ---

/// The second production account.
const OTHER: &str = "333333333333";

/// When the two-account test starts.
fn accounts_t0() -> DateTime<Utc> {
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
    let second_key = shared_key_of(&second, OTHER, &[DR]).await;
    let dr_key = create_key(&dr, DR_REGION).await;
    create_instance(&first, SOURCE_REGION, "ma-orders", Some(&first_key), &[]).await;
    create_instance(&second, SOURCE_REGION, "ma-orders", Some(&second_key), &[]).await;
    clock(em, accounts_t0()).await;
    // The same source policy in both accounts: the same snapshot names at the same minute.
    let source = source_policy(json!({"PolicyId": "ma-src", "DBInstanceIdentifier": "ma-orders"}));
    for account in [&first, &second] {
        run(account, "take", &source, accounts_t0()).await;
        run(account, "share", &source, accounts_t0()).await;
    }
    let dr_policy = json!({"Role": "Destination", "PolicyId": "ma-dr", "SnapshotPattern": "^ma-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "SourceAccounts": [SOURCE, OTHER], "RestoreDrill": false});
    let copied = run(
        &dr,
        "copy",
        &dr_policy,
        accounts_t0() + Duration::minutes(10),
    )
    .await;
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
    let measured = run(
        &dr,
        "copy",
        &dr_policy,
        accounts_t0() + Duration::minutes(20),
    )
    .await;
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
    let later = accounts_t0() + Duration::hours(8);
    clock(em, later).await;
    let deleted = run(&dr, "delete", &dr_policy, later).await;
    assert!(deleted.done.is_empty(), "{deleted:?}");
    assert_eq!(snapshots(&dr, DR_REGION, "ma-orders").await.len(), 2);
}
