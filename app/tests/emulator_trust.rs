//! Compromise, against the emulator: an account removed from a policy loses access on the next
//! share run (only what the tool shared), a share made outside the tool is reported (and
//! removed with RevokeUnknownShares), and the DR account copies only from SourceAccounts.

mod support;

use chrono::{DateTime, TimeZone, Utc};
use provider::inventory::tags;
use rds_snapshot_policy_core::contract::metrics;
use serde_json::json;
use support::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 6, 10, 0, 0).unwrap()
}

fn sorted(accounts: &[String]) -> Vec<String> {
    let mut out = accounts.to_vec();
    out.sort();
    out
}

const REMOVED: &str = "333333333333";
const SOMEONE_ELSES: &str = "555555555555";
const STRANGER: &str = "999999999999";

#[tokio::test]
#[ignore = "needs make test"]
async fn removed_accounts_lose_access_and_strangers_are_never_copied() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let key = shared_key(&src, &[DR, REMOVED]).await;
    create_instance(&src, SOURCE_REGION, "r1-orders", Some(&key), &[]).await;
    clock(em, t0()).await;
    let both = source_policy(
        json!({"PolicyId": "r1", "DBInstanceIdentifier": "r1-orders",
        "DestinationAccounts": [DR, REMOVED]}),
    );
    run(&src, "take", &both, t0()).await;
    run(&src, "share", &both, t0()).await;
    let snapshot = &snapshots(&src, SOURCE_REGION, "r1-").await[0];
    assert_eq!(sorted(&snapshot.shared_with), [DR, REMOVED]);
    assert_eq!(
        snapshot.tags.get(tags::SHARED_WITH).map(String::as_str),
        Some("222222222222 333333333333"),
        "the accounts are recorded, not a digest"
    );
    // Someone else shares it too: not the tool's share, never revoked by it.
    src.rds(SOURCE_REGION)
        .modify_db_snapshot_attribute()
        .db_snapshot_identifier(&snapshot.id)
        .attribute_name("restore")
        .values_to_add(SOMEONE_ELSES)
        .send()
        .await
        .unwrap();

    let only_dr = source_policy(
        json!({"PolicyId": "r1", "DBInstanceIdentifier": "r1-orders", "DestinationAccounts": [DR]}),
    );
    let revoked = run(&src, "share", &only_dr, t0()).await;
    assert_eq!(revoked.done.len(), 1, "{revoked:?}");
    assert!(
        revoked.done[0].reason.contains("revoke 333333333333"),
        "{}",
        revoked.done[0].reason
    );
    let snapshot = &snapshots(&src, SOURCE_REGION, "r1-").await[0];
    assert_eq!(sorted(&snapshot.shared_with), [DR, SOMEONE_ELSES]);
    assert_eq!(
        snapshot.tags.get(tags::SHARED_WITH).map(String::as_str),
        Some(DR)
    );
    // Settled, but AWS's restore attribute still names the other share: reported each run
    // (summary, SnapshotsSharedOutsidePolicy), never removed without the opt-in.
    let settled = run(&src, "share", &only_dr, t0()).await;
    assert!(settled.done.is_empty(), "settled: {settled:?}");
    assert_eq!(
        settled.shared_outside.get(&snapshot.id),
        Some(&vec![SOMEONE_ELSES.to_string()]),
        "{settled:?}"
    );
    let datum = settled
        .metric_data
        .iter()
        .find(|d| d.metric_name == metrics::SHARED_OUTSIDE_POLICY)
        .expect("the share audit's metric");
    assert_eq!(datum.value, 1.0);
    // Opted in, the share run removes it; the next run finds nothing outside (metric 0).
    let revoking = source_policy(
        json!({"PolicyId": "r1", "DBInstanceIdentifier": "r1-orders",
        "DestinationAccounts": [DR], "RevokeUnknownShares": true}),
    );
    let cleaned = run(&src, "share", &revoking, t0()).await;
    assert!(
        cleaned.done.len() == 1
            && cleaned.done[0]
                .reason
                .contains(&format!("revoke {SOMEONE_ELSES}")),
        "{cleaned:?}"
    );
    let snapshot = &snapshots(&src, SOURCE_REGION, "r1-").await[0];
    assert_eq!(sorted(&snapshot.shared_with), [DR]);
    let after = run(&src, "share", &revoking, t0()).await;
    assert!(
        after.done.is_empty() && after.shared_outside.is_empty(),
        "{after:?}"
    );
    assert!(
        after
            .metric_data
            .iter()
            .any(|d| d.metric_name == metrics::SHARED_OUTSIDE_POLICY && d.value == 0.0)
    );

    // A stranger shares a snapshot named like production with the DR account.
    let stranger = em.aws(STRANGER, SOURCE_REGION).await;
    let stranger_key = create_key(&stranger, SOURCE_REGION).await;
    create_instance(
        &stranger,
        SOURCE_REGION,
        "r1-orders",
        Some(&stranger_key),
        &[],
    )
    .await;
    stranger
        .rds(SOURCE_REGION)
        .create_db_snapshot()
        .db_instance_identifier("r1-orders")
        .db_snapshot_identifier("r1-orders-2026-04-06-09-59")
        .send()
        .await
        .unwrap();
    stranger
        .rds(SOURCE_REGION)
        .modify_db_snapshot_attribute()
        .db_snapshot_identifier("r1-orders-2026-04-06-09-59")
        .attribute_name("restore")
        .values_to_add(DR)
        .send()
        .await
        .unwrap();
    let dr = em.aws(DR, DR_REGION).await;
    let dr_key = create_key(&dr, DR_REGION).await;
    let dr_policy = json!({"Role": "Destination", "PolicyId": "r1-dr", "SnapshotPattern": "^r1-",
        "SourceRegionOverride": SOURCE_REGION, "DestinationRegion": DR_REGION, "KmsKeyDestination": dr_key,
        "SourceAccounts": [SOURCE]});
    let copied = run(&dr, "copy", &dr_policy, t0()).await;
    let sources: Vec<&str> = copied
        .done
        .iter()
        .filter_map(|s| match &s.operation {
            provider::plan::Operation::Copy { source_arn, .. } => Some(source_arn.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(sources.len(), 1, "{copied:?}");
    assert!(sources[0].contains(&format!(":{SOURCE}:")), "{sources:?}");
    assert_eq!(
        copied.unexpected_sharers.get(STRANGER),
        Some(&1),
        "{:?}",
        copied.unexpected_sharers
    );
    let datum = copied
        .metric_data
        .iter()
        .find(|d| d.metric_name == "UnexpectedSharedSnapshots")
        .expect("the unexpected-shares metric, for its alarm");
    assert_eq!(datum.value, 1.0);
    assert!(
        copied.skipped.iter().any(|n| n.subject.contains(STRANGER)
            && n.reason.contains("not one of SourceAccounts")),
        "the stranger's share is reported: {:?}",
        copied.skipped
    );
}
