//! The CLI against the emulator with the standard AWS environment, as a user runs it:
//! take and share with source credentials, copy with DR credentials, plan delete later.

mod support;

use std::process::{Command, Output};

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use support::*;

async fn cli(em: &Emulator, account: &str, region: &str, args: &[&str]) -> Output {
    let creds = em.credentials(account).await;
    Command::new(env!("CARGO_BIN_EXE_rds-snapshot-policy"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &em.endpoint)
        .env("AWS_REGION", region)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env(
            "AWS_SESSION_TOKEN",
            creds.session_token().unwrap_or_default(),
        )
        .output()
        .expect("run the CLI")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
#[ignore = "needs make test"]
async fn run_take_share_copy_then_plan_delete() {
    let _serial = exclusive().await;
    let em = emulator();
    let src = em.aws(SOURCE, SOURCE_REGION).await;
    let dr = em.aws(DR, DR_REGION).await;
    let key = create_key(&src, SOURCE_REGION).await;
    let dr_key = create_key(&dr, DR_REGION).await;
    create_instance(&src, SOURCE_REGION, "cli-orders", Some(&key), &[]).await;
    let dir = std::env::temp_dir().join(format!("rsp-cli-actions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("orders.yaml");
    std::fs::write(&source, format!("Role: Source\nPolicyId: cli-src\nDBInstanceIdentifier: cli-orders\nDestinationAccount: \"{DR}\"\n")).unwrap();
    let copies = dir.join("copies.json");
    std::fs::write(&copies, serde_json::json!({"Type": "Custom::RdsSnapshotPolicy", "Properties": {
        "Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "cli-dr", "SnapshotPattern": "^cli-", "SourceRegionOverride": SOURCE_REGION,
        "KmsKeyDestination": dr_key, "RetentionDays": 3, "CopyRetentionDays": 1}}).to_string()).unwrap();
    let (source, copies) = (source.display().to_string(), copies.display().to_string());

    let t0 = Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap();
    for (i, hour) in [0i64, 6].iter().enumerate() {
        let now = t0 + Duration::hours(*hour);
        clock(em, now).await;
        let now = now.to_rfc3339();
        let plan = cli(
            em,
            SOURCE,
            SOURCE_REGION,
            &["plan", "take", "--policy", &source, "--now", &now],
        )
        .await;
        assert!(plan.status.success(), "{}", text(&plan));
        assert!(
            text(&plan).contains("create   cli-orders-2026-05-04"),
            "{}",
            text(&plan)
        );
        assert!(
            snapshots(&src, SOURCE_REGION, "cli-").await.len() == i,
            "plan writes nothing"
        );
        for action in ["take", "share"] {
            let out = cli(
                em,
                SOURCE,
                SOURCE_REGION,
                &["run", action, "--policy", &source, "--now", &now],
            )
            .await;
            assert!(out.status.success(), "{action}: {}", text(&out));
        }
        let copy = cli(
            em,
            DR,
            DR_REGION,
            &["run", "copy", "--policy", &copies, "--now", &now, "--json"],
        )
        .await;
        assert!(copy.status.success(), "{}", text(&copy));
        let summary: Value = serde_json::from_slice(&copy.stdout).expect("JSON summary");
        // One copy a run; the second run also records the first copy's delivery.
        let copies_made = summary["done"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["operation"] == "copy")
            .count();
        assert_eq!(copies_made, 1, "{summary}");
        assert!(summary["awsCalls"].as_u64().unwrap() > 0);
    }
    let in_dr = snapshots(&dr, DR_REGION, "cli-").await;
    assert_eq!(in_dr.len(), 2);
    assert!(
        in_dr
            .iter()
            .all(|c| c.kms_key_id.as_deref() == Some(dr_key.as_str())),
        "{in_dr:?}"
    );

    let later = (t0 + Duration::days(3) + Duration::hours(3)).to_rfc3339();
    let plan = cli(
        em,
        DR,
        DR_REGION,
        &["plan", "delete", "--policy", &copies, "--now", &later],
    )
    .await;
    let out = text(&plan);
    assert!(plan.status.success(), "{out}");
    assert!(
        out.contains("delete   cli-orders-2026-05-04-08-00"),
        "{out}"
    );
    assert!(
        out.contains("leave    cli-orders-2026-05-04-14-00") && out.contains("KeepLatest"),
        "{out}"
    );
    assert_eq!(
        snapshots(&dr, DR_REGION, "cli-").await.len(),
        2,
        "plan deletes nothing"
    );

    let bad = cli(em, DR, DR_REGION, &["plan", "take", "--policy", &copies]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad).contains("action take does not apply to a Destination policy"),
        "{}",
        text(&bad)
    );

    // The drill from the CLI: restores the newest copy, times it, deletes what it created.
    let drill = cli(
        em,
        DR,
        DR_REGION,
        &[
            "drill",
            "--policy",
            &copies,
            "--wait-seconds",
            "1",
            "--json",
        ],
    )
    .await;
    assert!(drill.status.success(), "{}", text(&drill));
    let run: Value = serde_json::from_slice(&drill.stdout).expect("JSON run");
    // Keyed by source account and name at the DR account.
    assert_eq!(
        run["restores"][0]["database"],
        format!("{SOURCE}/cli-orders"),
        "{run}"
    );
    assert!(
        text(&drill)
            .contains("created the drill-record log group /rds-snapshot-policy/drills/cli-dr"),
        "{}",
        text(&drill)
    );
    assert!(run["restores"][0]["minutes"].is_number(), "{run}");
    let instances = dr
        .rds(DR_REGION)
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    assert!(
        instances.db_instances().iter().all(|d| !d
            .db_instance_identifier()
            .unwrap_or_default()
            .starts_with("rsp-drill-")),
        "no drill instance left"
    );
    // A failover: restores for real and leaves the instance.
    let failover = cli(
        em,
        DR,
        DR_REGION,
        &[
            "restore",
            "--policy",
            &copies,
            "--database",
            "cli-orders",
            "--target-id",
            "cli-orders-failover",
            "--wait-seconds",
            "1",
            "--json",
        ],
    )
    .await;
    assert!(failover.status.success(), "{}", text(&failover));
    let restored: Value = serde_json::from_slice(&failover.stdout).expect("JSON");
    assert_eq!(
        restored["snapshot"], "cli-orders-2026-05-04-14-00",
        "{restored}"
    );
    let kept = dr
        .rds(DR_REGION)
        .describe_db_instances()
        .db_instance_identifier("cli-orders-failover")
        .send()
        .await
        .expect("the failover instance stays");
    let tags: Vec<&str> = kept.db_instances()[0]
        .tag_list()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    assert!(
        !tags.contains(&"rds-snapshot-policy:drill"),
        "never swept: {tags:?}"
    );
    let early = cli(
        em,
        DR,
        DR_REGION,
        &[
            "restore",
            "--policy",
            &copies,
            "--database",
            "cli-orders",
            "--target-id",
            "x-1",
            "--point",
            "2026-05-01T00:00:00Z",
        ],
    )
    .await;
    assert_eq!(early.status.code(), Some(1));
    assert!(
        text(&early).contains("no available DR copy of cli-orders"),
        "{}",
        text(&early)
    );
}
