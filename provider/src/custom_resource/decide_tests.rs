//! The deploy-time decisions, by example.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

fn source() -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": "^orders",
                "DestinationAccount": "222222222222", "RetentionDays": 2,
                "BackupInterval": 1}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

fn db(id: &str, key: Option<&str>) -> Database {
    Database {
        id: id.into(),
        kind: Kind::Instance,
        status: "available".into(),
        tags: BTreeMap::new(),
        cluster: None,
        encrypted: key.is_some(),
        engine: None,
        option_groups: Vec::new(),
        kms_key_id: key.map(str::to_string),
    }
}

fn facts(databases: Vec<Database>, keys: Vec<(String, KeyFacts)>, quota: Quota) -> SourceFacts {
    SourceFacts {
        region: "eu-west-1".into(),
        databases: Ok(databases),
        keys,
        reencrypt_key: None,
        quota: Ok(Quotas {
            instance: Some(quota),
            cluster: Some(quota),
        }),
        load: None,
        stack_region: "eu-west-1".into(),
        option_groups: Vec::new(),
    }
}

fn key(aws_managed: bool, policy: Option<&str>) -> KeyFacts {
    KeyFacts {
        key: "k1".into(),
        aws_managed: Ok(aws_managed),
        policy: policy.map(|p| KeyPolicy::parse(p).map_err(|e| e.to_string())),
    }
}

const GOOD_POLICY: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": ["kms:DescribeKey", "kms:CreateGrant", "kms:Decrypt"], "Resource": "*"}]}"#;

#[test]
fn no_matching_database_fails_naming_the_pattern() {
    let report = decide_source(
        &source(),
        &facts(vec![db("billing", None)], vec![], (0, 100)),
    );
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].contains("matches InstanceNamePattern \"^orders\""));
}

#[test]
fn aws_managed_key_fails_and_a_good_key_policy_passes() {
    let dbs = vec![db("orders-a", Some("k1")), db("orders-b", Some("k1"))];
    let keys = vec![
        ("orders-a".to_string(), key(true, None)),
        ("orders-b".to_string(), key(false, Some(GOOD_POLICY))),
    ];
    let report = decide_source(&source(), &facts(dbs, keys, (0, 100)));
    assert_eq!(report.databases, ["orders-a", "orders-b"]);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(report.failures[0].contains("orders-a is encrypted with the AWS-managed key"));
}

#[test]
fn key_policy_without_the_dr_account_fails() {
    let keys = vec![(
        "orders".to_string(),
        key(false, Some(r#"{"Statement": []}"#)),
    )];
    let report = decide_source(
        &source(),
        &facts(vec![db("orders", Some("k1"))], keys, (0, 100)),
    );
    assert!(report.failures[0].contains("does not let account 222222222222 use"));
}

#[test]
fn more_snapshots_an_hour_than_the_dr_region_can_copy_is_a_warning() {
    // 30-minute cadence, 10-minute copies: 120 instance copies an hour, so 60 databases fit.
    let many = |n: usize| {
        (0..n)
            .map(|i| db(&format!("orders-{i:03}"), None))
            .collect()
    };
    let fits = decide_source(
        &source_half_hourly(),
        &facts(many(60), vec![], (0, 100_000)),
    );
    assert!(
        !fits.warnings.iter().any(|w| w.contains("fall behind")),
        "{:?}",
        fits.warnings
    );
    let behind = decide_source(
        &source_half_hourly(),
        &facts(many(61), vec![], (0, 100_000)),
    );
    assert!(
        behind
            .warnings
            .iter()
            .any(|w| w.contains("61 DB instances make 122 snapshots an hour")
                && w.contains("at most 120 an hour")),
        "{:?}",
        behind.warnings
    );
}

fn source_half_hourly() -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": "^orders",
                "DestinationAccount": "222222222222"}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

#[test]
fn the_default_half_hour_cadence_fits_the_default_quota_with_retention_hours() {
    let policy = |retention: Value| {
        let mut properties = json!({"Role": "Source", "PolicyId": "p",
            "DBInstanceIdentifier": "orders", "DestinationAccount": "222222222222"});
        properties
            .as_object_mut()
            .unwrap()
            .extend(retention.as_object().unwrap().clone());
        RuntimePolicy::from_properties(&properties, "eu-west-1", None).unwrap()
    };
    // A day at 30 minutes, deleted hourly: 51 per database (a day and the hour between delete
    // runs), so one database of a kind fits 100 and two do not.
    assert_eq!(snapshots_needed(&policy(json!({})), 1), 51);
    assert_eq!(snapshots_needed(&policy(json!({})), 2), 102);
    let twelve_hours = policy(json!({"RetentionHours": 12}));
    assert_eq!(snapshots_needed(&twelve_hours, 3), 81);
    // Deleted once a day, a day's snapshots more pile up before each run.
    let daily = policy(json!({"DeleteSchedule": "cron(0 3 * * ? *)"}));
    assert_eq!(snapshots_needed(&daily, 1), 97);
    let full = decide_source(
        &twelve_hours,
        &facts(vec![db("orders", None)], vec![], (80, 100)),
    );
    assert!(
        full.failures[0]
            .contains("(12 hours of retention + 1 hour between delete runs) / 30-minute interval"),
        "{:?}",
        full.failures
    );
}

#[test]
fn quota_counts_retention_over_interval_plus_one() {
    // 2 days and the hour between delete runs of hourly snapshots + 1 = 50 per database.
    assert_eq!(snapshots_needed(&source(), 2), 100);
    let ok = decide_source(
        &source(),
        &facts(vec![db("orders", None)], vec![], (50, 100)),
    );
    assert!(ok.failures.is_empty(), "{:?}", ok.failures);
    let full = decide_source(
        &source(),
        &facts(vec![db("orders", None)], vec![], (51, 100)),
    );
    assert!(full.failures[0].contains("keeps up to 50 manual DB instance snapshots"));
    assert!(ok.warnings[0].contains("not encrypted"));
}

#[test]
fn the_tiers_add_one_snapshot_per_bucket_to_the_quota() {
    let policy = RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "p", "DBInstanceIdentifier": "orders",
            "DestinationAccount": "222222222222", "RetentionHours": 12,
            "KeepDaily": 7, "KeepWeekly": 4, "KeepMonthly": 12, "KeepYearly": 2}),
        "eu-west-1",
        None,
    )
    .unwrap();
    // 12 hours and the hour between delete runs at 30 minutes: 27, plus 7 + 4 + 12 + 2.
    assert_eq!(snapshots_per_database(&policy), 52);
    let full = decide_source(&policy, &facts(vec![db("orders", None)], vec![], (51, 100)));
    assert!(
        full.failures[0].contains("+ 1 + 25 for the tiers")
            || full.failures[0].contains("+ 25 for the tiers"),
        "{:?}",
        full.failures
    );
}

#[test]
fn tde_and_permanent_or_persistent_options_block_sharing() {
    assert!(blocks_sharing("TDE", false, false));
    assert!(blocks_sharing("TDE_SQLServer", true, true));
    assert!(blocks_sharing("NATIVE_NETWORK_ENCRYPTION", true, false));
    assert!(blocks_sharing("SOMETHING", false, true));
    assert!(
        !blocks_sharing("Timezone", true, true),
        "Oracle's exception"
    );
    assert!(!blocks_sharing("OLS", true, true), "Oracle's exception");
    assert!(!blocks_sharing("MEMCACHED", false, false));
}

#[test]
fn multi_az_db_clusters_cannot_reach_the_dr_account() {
    let mut reports = db("reports", Some("k1"));
    reports.kind = Kind::Cluster;
    reports.engine = Some("postgres".into());
    let mut ledger = reports.clone();
    ledger.id = "ledger".into();
    ledger.engine = Some("aurora-postgresql".into());
    let named = RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "p", "DBClusterIdentifier": "reports",
            "DestinationAccount": "222222222222"}),
        "eu-west-1",
        None,
    )
    .unwrap();
    let good = key(false, Some(GOOD_POLICY));
    let facts = |dbs: Vec<Database>| {
        let keys = dbs.iter().map(|d| (d.id.clone(), good.clone())).collect();
        // Room for both clusters' snapshots: this test is about what can be shared.
        super::tests::facts(dbs, keys, (0, 200))
    };
    let report = decide_source(&named, &facts(vec![reports.clone()]));
    assert!(
        report.failures.iter().any(|f| f.contains(
            "DB cluster reports is a Multi-AZ DB cluster (postgres): AWS does not copy its snapshots"
        )),
        "{:?}",
        report.failures
    );
    let pattern = RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": ".*",
            "DestinationAccount": "222222222222"}),
        "eu-west-1",
        None,
    )
    .unwrap();
    let report = decide_source(&pattern, &facts(vec![reports, ledger]));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("reports is a Multi-AZ DB cluster") && w.contains("never shared")),
        "{:?}",
        report.warnings
    );
    assert!(
        !report.warnings.iter().any(|w| w.contains("ledger")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn each_kind_is_checked_against_its_own_quota() {
    let policy = RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": "^orders",
            "DestinationAccount": "222222222222"}),
        "eu-west-1",
        None,
    )
    .unwrap();
    let mut cluster = db("orders-cluster", None);
    cluster.kind = Kind::Cluster;
    let with = |instance: Quota, clusters: Quota| SourceFacts {
        quota: Ok(Quotas {
            instance: Some(instance),
            cluster: Some(clusters),
        }),
        ..facts(vec![db("orders", None), cluster.clone()], vec![], (0, 0))
    };
    // Instance snapshots full, cluster snapshots empty: only the instance fails.
    let report = decide_source(&policy, &with((100, 100), (0, 100)));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(report.failures[0].contains("raise the ManualSnapshots quota"));
    let report = decide_source(&policy, &with((0, 100), (100, 100)));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(
        report.failures[0].contains("manual DB cluster snapshots")
            && report.failures[0].contains("raise the ManualClusterSnapshots quota"),
        "{:?}",
        report.failures
    );
    assert!(
        decide_source(&policy, &with((0, 100), (0, 100)))
            .failures
            .is_empty()
    );
}

#[test]
fn destination_keys_and_quota() {
    let policy = RuntimePolicy::from_properties(
        &json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "p", "SnapshotPattern": ".*",
                "DestinationRegion": "eu-central-1",
                "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        "eu-west-1",
        None,
    )
    .unwrap();
    let facts = DestinationFacts {
        keys: vec![
            (
                "KmsKeyDestination",
                "k".into(),
                "eu-central-1".into(),
                KeyState::Other("Disabled".into()),
            ),
            (
                "KmsKeySource",
                "s".into(),
                "eu-west-1".into(),
                KeyState::Unknown("AccessDeniedException".into()),
            ),
        ],
        region: "eu-central-1".into(),
        quota: Ok(Quotas {
            instance: Some((90, 100)),
            cluster: None,
        }),
        drill_network: None,
        load: None,
        stack_region: "eu-central-1".into(),
    };
    let report = decide_destination(&policy, &facts);
    assert_eq!(
        report.failures[0],
        "KmsKeyDestination k in eu-central-1 is Disabled, not Enabled: copies cannot be encrypted with it"
    );
    // 90 used and 22 more for one database's copies: over the quota.
    assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
    assert!(report.failures[1].contains("keeps up to 22 manual DB instance snapshots"));
    assert!(
        report.warnings[1]
            .contains("ManualClusterSnapshots quota of eu-central-1 was not reported")
    );
    let roomy = DestinationFacts {
        quota: Ok(Quotas {
            instance: Some((78, 100)),
            cluster: Some((95, 100)),
        }),
        keys: vec![],
        ..facts.clone()
    };
    let report = decide_destination(&policy, &roomy);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(report.failures[0].contains("manual DB cluster snapshots"));

    let missing = DestinationFacts {
        drill_network: Some(DrillNetwork::Missing("app-dr".into())),
        ..facts.clone()
    };
    let report = decide_destination(&policy, &missing);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.contains("DrillDBSubnetGroupName app-dr does not exist in eu-central-1")),
        "{:?}",
        report.failures
    );
    let unnamed = DestinationFacts {
        drill_network: Some(DrillNetwork::NoDefault),
        ..facts
    };
    let report = decide_destination(&policy, &unnamed);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("no default DB subnet group")),
        "{:?}",
        report.warnings
    );
}

fn reencrypting() -> RuntimePolicy {
    RuntimePolicy::from_properties(
        &json!({"Role": "Source", "PolicyId": "p", "InstanceNamePattern": "^orders",
                "DestinationAccount": "222222222222", "RetentionDays": 2,
                "BackupInterval": 1, "ReencryptKmsKey": "alias/dr-share"}),
        "eu-west-1",
        None,
    )
    .unwrap()
}

#[test]
fn an_aws_managed_database_passes_with_a_shareable_reencrypt_key() {
    let dbs = vec![db("orders", Some("aws-key"))];
    let keys = vec![("orders".to_string(), key(true, None))];
    let with = |reencrypt: KeyFacts| SourceFacts {
        reencrypt_key: Some(reencrypt),
        ..facts(dbs.clone(), keys.clone(), (0, 100))
    };
    let good = KeyFacts {
        key: "alias/dr-share".into(),
        ..key(false, Some(GOOD_POLICY))
    };
    let report = decide_source(&reencrypting(), &with(good));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Without ReencryptKmsKey the same database is refused.
    let report = decide_source(&source(), &with(key(false, Some(GOOD_POLICY))));
    assert!(report.failures[0].contains("orders is encrypted with the AWS-managed key"));
    let closed = KeyFacts {
        key: "alias/dr-share".into(),
        ..key(false, Some(r#"{"Statement": []}"#))
    };
    let report = decide_source(&reencrypting(), &with(closed));
    assert!(
        report.failures[0].contains("ReencryptKmsKey alias/dr-share")
            && report.failures[0].contains("does not let account 222222222222 use"),
        "{:?}",
        report.failures
    );
    let missing = KeyFacts {
        key: "alias/dr-share".into(),
        aws_managed: Err("NotFoundException: Alias alias/dr-share is not found.".into()),
        policy: None,
    };
    let report = decide_source(&reencrypting(), &with(missing));
    assert!(report.failures[0].contains("does not exist in eu-west-1"));
    let report = decide_source(&reencrypting(), &with(key(true, None)));
    assert!(report.failures[0].contains("is an AWS-managed key"));
}

#[test]
fn the_reencryption_intermediate_counts_against_the_quota() {
    // 2 days and an hour, hourly: 50 per database, one more while the newest is re-encrypted.
    assert_eq!(snapshots_per_database(&source()), 50);
    assert_eq!(snapshots_per_database(&reencrypting()), 51);
}

/// A destination policy copying `orders`, with `extra` properties.
fn orders_copies(extra: Value) -> RuntimePolicy {
    let mut properties = json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "p",
        "DBInstanceIdentifier": "orders", "DestinationRegion": "eu-central-1",
        "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"});
    properties
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    RuntimePolicy::from_properties(&properties, "eu-west-1", None).unwrap()
}

/// The DR account's steady state: copies arrive at the source's default cadence for the
/// policy's RpoMinutes (30 minutes for 60), so keeping every copy for 7 days (deleted daily)
/// needs 385 per database against AWS's default quota of 100; the default (every copy for 6
/// hours, deleted hourly, and the newest of each of 7 days) needs 22.
#[test]
fn a_destination_policy_must_fit_its_copies_in_the_quota() {
    let policy = orders_copies;
    let empty = DestinationFacts {
        keys: vec![],
        region: "eu-central-1".into(),
        quota: Ok(Quotas {
            instance: Some((0, 100)),
            cluster: Some((100, 100)),
        }),
        drill_network: None,
        load: None,
        stack_region: "eu-central-1".into(),
    };
    let defaults = policy(json!({}));
    assert_eq!(snapshots_per_database(&defaults), 22);
    assert!(decide_destination(&defaults, &empty).failures.is_empty());
    let week = policy(json!({"RetentionDays": 7}));
    assert_eq!(snapshots_per_database(&week), 385);
    let report = decide_destination(&week, &empty);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(
        report.failures[0].contains("keeps up to 385 manual DB instance snapshots")
            && report.failures[0].contains("30-minute arrival of copies")
            && report.failures[0].contains("RetentionHours with KeepDaily"),
        "{}",
        report.failures[0]
    );
    // A slower RPO means copies arrive less often.
    let slow = policy(json!({"RetentionDays": 7, "RpoMinutes": 1440}));
    assert!(
        snapshots_per_database(&slow) < 20,
        "{}",
        snapshots_per_database(&slow)
    );
    assert!(decide_destination(&slow, &empty).failures.is_empty());
}

/// An upgrade that takes a destination policy from the old default (every copy for 7 days) to
/// the new one (6 hours with a daily tier) says what the next delete run will remove.
#[test]
fn a_shrinking_retention_is_reported_on_update() {
    let policy = orders_copies;
    let old = policy(json!({"RetentionDays": 7}));
    let new = policy(json!({}));
    let warning = retention_shrinks(&old, &new).expect("a shrink");
    assert!(
        warning.contains("from 7 days to 6 hours") && warning.contains("set RetentionDays: 7"),
        "{warning}"
    );
    assert_eq!(retention_shrinks(&new, &old), None);
    assert_eq!(retention_shrinks(&old, &old), None);
}

#[test]
fn a_topic_without_subscriber_is_reported() {
    let with = |who: &str| json!({"GeneratedResources": {"NotificationSubscriber": who}});
    let warning = unsubscribed(&with("none")).expect("a warning");
    assert!(warning.contains("no subscriber") && warning.contains("NotificationEmail"));
    assert_eq!(unsubscribed(&with("email")), None);
    assert_eq!(unsubscribed(&with("topic")), None);
    // Expanded by a release without the field: nothing known, nothing said.
    assert_eq!(unsubscribed(&json!({"GeneratedResources": {}})), None);
}

#[test]
fn the_expansions_written_default_schedule_keeps_spread_snapshots() {
    // The expansion hands the provider the resolved properties: the default BackupSchedule
    // written out beside SpreadSnapshots: true. Only another schedule conflicts.
    let with = |schedule: &str| {
        RuntimePolicy::from_properties(
            &json!({"Role": "Source", "PolicyId": "p", "DBInstanceIdentifier": "orders",
                    "DestinationAccount": "222222222222", "SpreadSnapshots": true,
                    "BackupSchedule": schedule}),
            "eu-west-1",
            None,
        )
    };
    assert!(
        with("cron(0/30 * * * ? *)")
            .unwrap()
            .spec
            .spreads_snapshots()
    );
    let refused = with("cron(5/30 * * * ? *)").unwrap_err().to_string();
    assert!(
        refused.contains("[SpreadSnapshots]: conflicts with BackupSchedule"),
        "{refused}"
    );
    assert!(
        source().spec.spreads_snapshots(),
        "no written schedule: spread"
    );
}
