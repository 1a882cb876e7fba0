use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use rds_snapshot_policy_core::contract::ErrorName;
use serde_json::json;

use super::*;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, hour, minute, 0).unwrap()
}

fn policy(properties: serde_json::Value) -> RuntimePolicy {
    RuntimePolicy::from_properties(&properties, "eu-west-1", None).unwrap()
}

fn source() -> RuntimePolicy {
    policy(
        json!({"Role": "Source", "PolicyId": "orders", "DBInstanceIdentifier": "orders",
        "DestinationAccounts": ["222222222222"]}),
    )
}

fn dr() -> RuntimePolicy {
    policy(
        json!({"Role": "Destination", "PolicyId": "dr", "SnapshotPattern": "^orders",
        "DestinationRegion": "eu-central-1", "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "SourceAccounts": ["111111111111"], "RpoMinutes": 60}),
    )
}

fn snapshot(id: &str, taken: DateTime<Utc>, extra: &[(&str, &str)]) -> Snapshot {
    let mut tags: BTreeMap<String, String> = [
        (tags::DATABASE.to_string(), "orders".to_string()),
        (tags::RECOVERY_POINT.to_string(), rfc3339(taken)),
    ]
    .into();
    for (k, v) in extra {
        tags.insert(k.to_string(), v.to_string());
    }
    Snapshot {
        created: Some(taken),
        original_created: Some(taken),
        tags,
        ..Snapshot::manual(
            Kind::Instance,
            id,
            format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{id}"),
            "orders",
        )
    }
}

fn facts(policy: RuntimePolicy, snapshots: Vec<Snapshot>) -> PolicyFacts {
    PolicyFacts {
        covered: if policy.role() == Role::Source {
            vec!["orders".into()]
        } else {
            vec![]
        },
        policy,
        account: "111111111111".into(),
        region: "eu-west-1".into(),
        stack: Some("arn:aws:cloudformation:eu-west-1:111111111111:stack/orders/1".into()),
        machines: vec![],
        snapshots,
        ages: BTreeMap::new(),
        shared_outside: BTreeMap::new(),
        drills: Vec::new(),
    }
}

#[test]
fn a_fresh_shared_copy_meets_the_rpo_and_a_stale_one_misses_it() {
    let shared = [(tags::SHARED_WITH, "222222222222")];
    let both = |copy_at| {
        vec![
            facts(source(), vec![snapshot("orders-1", at(10, 0), &shared)]),
            facts(
                dr(),
                vec![snapshot(
                    "orders-1-copy",
                    copy_at,
                    &[
                        (tags::DELIVERED, "2026-06-01T10:20:00Z"),
                        (tags::DRILLED, "2026-06-01T04:30:00Z 42 min"),
                    ],
                )],
            ),
        ]
    };
    let report = assemble(&both(at(10, 0)), vec![], vec![], at(10, 45));
    assert_eq!(report.verdict, "protected");
    let d = &report.databases[0];
    assert_eq!(
        (d.database.as_str(), d.shared, d.rpo_met),
        ("111111111111/orders", Some(true), Some(true))
    );
    assert_eq!(d.recovery_point_age_minutes, Some(45));
    assert_eq!(d.delivery_lag_minutes, Some(20));
    let drill = d.last_drill.as_ref().unwrap();
    assert_eq!(
        (drill.minutes, drill.rto_minutes, drill.met),
        (42, Some(180), Some(true))
    );
    let stale = assemble(&both(at(8, 0)), vec![], vec![], at(10, 45));
    assert_eq!(stale.verdict, "at risk");
    assert_eq!(stale.databases[0].rpo_met, Some(false));
    assert!(
        text(&stale).contains("MISSED (165 of 60 min)"),
        "{}",
        text(&stale)
    );
}

#[test]
fn same_named_databases_of_two_source_accounts_get_a_row_each() {
    let shared = [(tags::SHARED_WITH, "222222222222")];
    let mut second_source = facts(source(), vec![snapshot("orders-1", at(10, 0), &shared)]);
    second_source.account = "333333333333".into();
    for s in &mut second_source.snapshots {
        s.arn = s.arn.replace("111111111111", "333333333333");
    }
    let mut second_copy = snapshot("orders-1-333333333333", at(8, 0), &[]);
    second_copy.tags.insert(
        tags::SOURCE_ARN.into(),
        "arn:aws:rds:eu-west-1:333333333333:snapshot:orders-1".into(),
    );
    let mut dr_facts = facts(
        dr(),
        vec![snapshot("orders-1-copy", at(10, 0), &[]), second_copy],
    );
    dr_facts.account = "222222222222".into();
    let report = assemble(
        &[
            facts(source(), vec![snapshot("orders-1", at(10, 0), &shared)]),
            second_source,
            dr_facts,
        ],
        vec![],
        vec![],
        at(10, 45),
    );
    let rows: Vec<(&str, Option<bool>, Option<bool>)> = report
        .databases
        .iter()
        .map(|d| (d.database.as_str(), d.shared, d.rpo_met))
        .collect();
    // The fresh copy of the first account's orders does not stand in for the second's.
    assert_eq!(
        rows,
        [
            ("111111111111/orders", Some(true), Some(true)),
            ("333333333333/orders", Some(true), Some(false)),
        ]
    );
    assert_eq!(report.verdict, "at risk");
}

#[test]
fn a_database_without_a_copy_or_a_share_is_at_risk() {
    let report = assemble(
        &[
            facts(source(), vec![snapshot("orders-1", at(10, 0), &[])]),
            facts(dr(), vec![]),
        ],
        vec![],
        vec![],
        at(10, 30),
    );
    let d = &report.databases[0];
    assert_eq!(
        d.dr_policy.as_deref(),
        Some("dr"),
        "the pattern takes orders-1"
    );
    assert_eq!((d.shared, d.rpo_met), (Some(false), Some(false)));
    assert_eq!(report.verdict, "at risk");
    assert!(markdown(&report).contains("MISSED (no DR copy, RPO 60 min)"));
}

#[test]
fn a_failing_state_machine_puts_the_report_at_risk_and_names_the_error() {
    let mut source = facts(source(), vec![]);
    source.machines = vec![MachineFacts {
        action: "take".into(),
        arn: "arn:aws:states:eu-west-1:111111111111:stateMachine:t".into(),
        last_success: Some("2026-06-01T09:00:00Z".into()),
        last_failure: Some(FailureReport {
            at: "2026-06-01T10:00:00Z".into(),
            execution: "arn:aws:states:eu-west-1:111111111111:execution:t:e".into(),
            error: Some(ErrorName::AccessDenied.name().into()),
            cause: Some("denied".into()),
        }),
        running: 0,
        held: None,
    }];
    let report = assemble(&[source, facts(dr(), vec![])], vec![], vec![], at(10, 30));
    assert!(report.policies[0].failing);
    assert_eq!(report.verdict, "at risk");
    assert_eq!(
        report.databases[0]
            .last_failure
            .as_ref()
            .unwrap()
            .error
            .as_deref(),
        Some(ErrorName::AccessDenied.name())
    );
    let only_source = assemble(
        &[facts(super::tests::source(), vec![])],
        vec![],
        vec![],
        at(10, 30),
    );
    assert_eq!(only_source.verdict, "unknown", "no DR side was read");
}

#[test]
fn the_json_field_names_are_the_documented_ones() {
    let report = assemble(
        &[
            facts(source(), vec![snapshot("orders-1", at(10, 0), &[])]),
            facts(dr(), vec![]),
        ],
        vec![QuotaReport {
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            quota: "ManualSnapshots".into(),
            used: 3,
            max: 100,
        }],
        vec![],
        at(10, 30),
    );
    let value = serde_json::to_value(&report).unwrap();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&value),
        [
            "reportVersion",
            "generatedAt",
            "verdict",
            "policies",
            "databases",
            "quotas",
            "warnings"
        ]
    );
    assert_eq!(
        keys(&value["databases"][0]),
        [
            "database",
            "sourcePolicy",
            "drPolicy",
            "newestSnapshot",
            "shared",
            "sharedOutside",
            "newestCopy",
            "recoveryPointAgeMinutes",
            "rpoMinutes",
            "rpoMet",
            "deliveryLagMinutes",
            "lastDrill",
            "lastFailure",
            "ageHistory"
        ]
    );
    assert_eq!(
        keys(&value["policies"][0]),
        [
            "policyId",
            "role",
            "account",
            "region",
            "stack",
            "rpoMinutes",
            "rtoMinutes",
            "stateMachines",
            "failing",
            "deletesHeld"
        ]
    );
}

#[test]
fn hostile_names_cannot_escape_the_html_or_the_markdown() {
    let mut snap = snapshot("orders-1", at(10, 0), &[]);
    snap.tags.insert(
        tags::DATABASE.into(),
        "</script><img src=x onerror=alert(1)>|x".into(),
    );
    let report = assemble(&[facts(source(), vec![snap])], vec![], vec![], at(10, 30));
    let page = html(&report);
    assert!(!page.contains("<img"), "{page}");
    assert_eq!(page.matches("</script>").count(), 2, "only the page's own");
    assert!(markdown(&report).contains("\\|x"));
}

/// Headless Chromium on `page` (written to a file) with `args`; its stdout.
fn chromium(page: &str, args: &[String]) -> String {
    let chromium = std::path::Path::new("/usr/bin/chromium-headless-shell");
    assert!(
        chromium.exists(),
        "headless Chromium is not installed: run scripts/setup-tools.sh chromium (make test does)"
    );
    let dir = std::env::temp_dir().join(format!("rsp-status-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("status-{}.html", args.len()));
    std::fs::write(&file, page).unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args(args)
        .arg(format!("file://{}", file.display()))
        .env("HOME", &dir)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page as headless Chromium renders it (`--dump-dom`: the DOM after its script ran).
fn rendered(page: &str) -> String {
    chromium(page, &["--dump-dom".to_string()])
}

#[test]
#[ignore = "needs make test"]
fn the_html_report_draws_each_databases_age_against_its_rpo_in_a_browser() {
    let mut dr_side = facts(dr(), vec![snapshot("orders-1-copy", at(10, 0), &[])]);
    dr_side.ages.insert(
        // The DR side keys each database by its source account and name.
        "111111111111/orders".into(),
        (0..12)
            .map(|i| (at(9, i * 5), 20.0 + i as f64 * 5.0))
            .collect(),
    );
    let mut billing = snapshot("billing-1-copy", at(10, 0), &[]);
    billing.tags.insert(tags::DATABASE.into(), "billing".into());
    dr_side.snapshots.push(billing);
    let report = assemble(&[dr_side], vec![], vec![], at(10, 30));
    let dom = rendered(&html(&report));
    // orders has 12 published ages: a polyline of 12 points and the RPO line; billing has none.
    let polyline = dom
        .split("<polyline")
        .nth(1)
        .expect("the script drew no timeline");
    let points = polyline
        .split("points=\"")
        .nth(1)
        .and_then(|p| p.split('"').next())
        .unwrap();
    assert_eq!(points.split(' ').count(), 12, "{points}");
    // The RPO line, and its sample in the legend.
    assert_eq!(dom.matches("class=\"rpo-line\"").count(), 2, "{dom}");
    assert!(dom.contains("no published recovery-point ages"), "{dom}");
    assert!(dom.contains("verdict-protected"), "{dom}");
    // Axes with their units, ticks in UTC time and minutes, a legend naming both lines.
    for element in [
        "class=\"x-axis\"",
        "class=\"y-axis\"",
        ">time (UTC)</text>",
        ">age (minutes)</text>",
        ">09:00</text>",
        ">09:55</text>",
        "class=\"tick y-tick\"",
        ">recovery-point age of the newest DR copy</text>",
        ">RPO 60 min</text>",
    ] {
        assert!(dom.contains(element), "no {element} in {dom}");
    }
    // Every table of the markdown report.
    for table in ["Databases", "Policies", "Snapshot quotas"] {
        assert!(
            dom.contains(&format!("<h2>{table}</h2>")),
            "no {table} table"
        );
        assert!(markdown(&report).contains(&format!("## {table}")));
    }
    assert!(dom.contains("<td>dr</td><td>Destination</td>"), "{dom}");
}

/// A screenshot of the page as a browser draws it, kept for a human to look at
/// (`target/status-report.png`): the browser must produce a real image.
#[test]
#[ignore = "needs make test"]
fn the_html_report_renders_to_a_screenshot() {
    let mut dr_side = facts(dr(), vec![snapshot("orders-1-copy", at(10, 0), &[])]);
    dr_side.ages.insert(
        // The DR side keys each database by its source account and name.
        "111111111111/orders".into(),
        (0..24)
            .map(|i| {
                (
                    at(8, 0) + chrono::Duration::minutes(i * 5),
                    30.0 + (i % 6) as f64 * 4.0,
                )
            })
            .collect(),
    );
    let report = assemble(&[dr_side], vec![], vec![], at(10, 30));
    let png = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/status-report.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &html(&report),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1000,900".to_string(),
        ],
    );
    let image = std::fs::read(&png).expect("the screenshot");
    assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(
        image.len() > 10_000,
        "a page with content, not a blank one: {} bytes",
        image.len()
    );
}

#[test]
fn the_last_drill_is_the_latest_of_any_copy_and_never_in_the_future() {
    let copies = vec![
        snapshot(
            "orders-1-copy",
            at(8, 0),
            &[(tags::DRILLED, "2026-06-01T08:40:00Z 27 min")],
        ),
        snapshot(
            "orders-2-copy",
            at(9, 0),
            &[(tags::DRILLED, "2026-06-01T09:20:00Z 31 min")],
        ),
        snapshot(
            "orders-3-copy",
            at(9, 30),
            &[(tags::DRILLED, "2099-01-01T00:00:00Z 1 min")],
        ),
        snapshot("orders-4-copy", at(10, 0), &[]),
    ];
    let report = assemble(&[facts(dr(), copies)], vec![], vec![], at(10, 15));
    let d = &report.databases[0];
    assert_eq!(d.newest_copy.as_ref().unwrap().id, "orders-4-copy");
    let drill = d
        .last_drill
        .as_ref()
        .expect("a drill of an older copy still counts");
    assert_eq!(
        (drill.at.as_str(), drill.minutes),
        ("2026-06-01T09:20:00Z", 31)
    );
}

#[test]
fn a_snapshot_shared_outside_the_tool_puts_the_database_at_risk() {
    let shared = [(tags::SHARED_WITH, "222222222222")];
    let mut source_facts = facts(source(), vec![snapshot("orders-1", at(10, 0), &shared)]);
    source_facts
        .shared_outside
        .insert("orders-1".into(), vec!["555555555555".into(), "all".into()]);
    let dr_facts = facts(dr(), vec![snapshot("orders-1-copy", at(10, 0), &[])]);
    let report = assemble(&[source_facts, dr_facts], vec![], vec![], at(10, 30));
    let d = &report.databases[0];
    assert_eq!(d.rpo_met, Some(true));
    assert_eq!(d.shared_outside, ["555555555555", "all"]);
    assert_eq!(report.verdict, "at risk");
    assert!(
        markdown(&report).contains("ALSO WITH 555555555555, all"),
        "{}",
        markdown(&report)
    );
}

#[test]
fn held_deletes_put_the_report_at_risk_and_say_since_when() {
    let shared = [(tags::SHARED_WITH, "222222222222")];
    let mut source_facts = facts(source(), vec![snapshot("orders-1", at(10, 0), &shared)]);
    source_facts.machines = vec![MachineFacts {
        action: "delete".into(),
        arn: "arn:aws:states:eu-west-1:111111111111:stateMachine:d".into(),
        last_success: None,
        last_failure: None,
        running: 0,
        held: Some("2026-06-01T10:05:00Z tamper: DeleteDBSnapshot by arn:x".into()),
    }];
    let dr_facts = facts(dr(), vec![snapshot("orders-1-copy", at(10, 0), &[])]);
    let report = assemble(&[source_facts, dr_facts], vec![], vec![], at(10, 30));
    assert_eq!(report.databases[0].rpo_met, Some(true));
    assert_eq!(report.verdict, "at risk");
    assert!(
        report.policies[0]
            .deletes_held
            .as_deref()
            .is_some_and(|h| h.contains("tamper: DeleteDBSnapshot")),
        "{:?}",
        report.policies[0]
    );
    assert!(
        markdown(&report).contains("DELETES HELD since 2026-06-01T10:05:00Z"),
        "{}",
        markdown(&report)
    );
}

/// The drills of the chosen period come from the durable records: listed in every format,
/// outside the period left out, the sweep's `watching` marks never shown as drills.
#[test]
fn drills_of_a_period_are_listed_from_their_records() {
    use crate::drill_record::DrillRecord;
    use rds_snapshot_policy_core::contract::Kind;
    let record = |database: &str, outcome: &str, minutes: Option<i64>| DrillRecord {
        policy: "dr".into(),
        database: database.into(),
        kind: Kind::Instance,
        outcome: outcome.into(),
        restore_minutes: minutes,
        rto_minutes: 180,
        validated: None,
        copy: "orders-1-copy".into(),
        copy_arn: "arn:aws:rds:eu-central-1:222222222222:snapshot:orders-1-copy".into(),
        recovery_point: Some("2026-05-31T04:00:00Z".into()),
        requested: "2026-05-31T04:00:00Z".into(),
        available: None,
        recorded: "2026-05-31T04:42:00Z".into(),
        kept_until: None,
    };
    let mut dr_facts = facts(dr(), vec![]);
    dr_facts.drills = vec![
        (
            at(4, 42) - chrono::Duration::days(40),
            record("111111111111/orders", "passed", Some(35)),
        ),
        (
            at(4, 42) - chrono::Duration::days(1),
            record("111111111111/orders", "passed", Some(42)),
        ),
        (
            at(5, 0) - chrono::Duration::days(1),
            record("", "watching", None),
        ),
        (at(4, 50), record("111111111111/orders", "failed", None)),
    ];
    let mut report = assemble(&[dr_facts.clone()], vec![], vec![], at(10, 0));
    report.drills = drills_report(
        &[dr_facts],
        at(0, 0) - chrono::Duration::days(30),
        at(10, 0),
    );
    let drills = report.drills.as_ref().unwrap();
    let listed: Vec<(&str, Option<i64>)> = drills
        .records
        .iter()
        .map(|d| (d.record.outcome.as_str(), d.record.restore_minutes))
        .collect();
    assert_eq!(listed, [("passed", Some(42)), ("failed", None)]);
    assert!(
        markdown(&report).contains(
            "## Restore drills 2026-05-02T00:00:00Z to 2026-06-01T10:00:00Z (2 recorded)"
        )
    );
    assert!(
        markdown(&report)
            .contains("| 111111111111/orders | 2026-05-31T04:00:00Z | 42 | 180 | passed |")
    );
    assert!(html(&report).contains("<td>failed</td>"));
    assert!(text(&report).contains(
        "drill of 111111111111/orders requested 2026-05-31T04:00:00Z: 42 min (RTO 180), passed"
    ));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["drills"]["records"][0]["restoreMinutes"], 42);
    assert_eq!(
        json["drills"]["records"][0]["recordedAt"],
        "2026-05-31T04:42:00Z"
    );
    // Without a DR side there is no drill listing at all.
    assert!(drills_report(&[facts(source(), vec![])], at(0, 0), at(10, 0)).is_none());
}

/// The seed asks that the DR account not keep copies for less time than the source keeps its
/// snapshots: `status`, which reads both, warns when it does.
#[test]
fn a_dr_policy_keeping_less_than_its_source_is_warned() {
    let long_source = policy(
        json!({"Role": "Source", "PolicyId": "orders", "DBInstanceIdentifier": "orders",
        "DestinationAccounts": ["222222222222"], "RetentionDays": 30}),
    );
    let shared = [(tags::SHARED_WITH, "222222222222")];
    let both = |source: RuntimePolicy| {
        vec![
            facts(source, vec![snapshot("orders-1", at(10, 0), &shared)]),
            facts(dr(), vec![snapshot("orders-1-copy", at(10, 0), &[])]),
        ]
    };
    let report = assemble(&both(long_source), vec![], vec![], at(10, 30));
    assert!(
        report.warnings.iter().any(|w| w.contains(
            "DR policy dr keeps its copies for at most 7 days, less than source policy orders keeps its snapshots (30 days)"
        )),
        "{:?}",
        report.warnings
    );
    // The default source (1 day) against the same DR policy: nothing to say.
    let quiet = assemble(&both(source()), vec![], vec![], at(10, 30));
    assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
}

/// A retired database (RetiredDatabases) promises no RPO: its stale final copy does not put
/// the verdict at risk, and its row says until when the copy is kept.
#[test]
fn a_retired_database_is_shown_retired_not_at_risk() {
    let stale = vec![
        facts(source(), vec![snapshot("orders-1", at(2, 0), &[])]),
        facts(dr(), vec![snapshot("orders-1-copy", at(2, 0), &[])]),
    ];
    let report = assemble(&stale, vec![], vec![], at(10, 45));
    assert_eq!(report.verdict, "at risk");
    let mut retiring = dr();
    retiring.spec.retired_databases = Some(vec!["111111111111/orders".into()]);
    retiring.spec.retired_keep_days = Some(30);
    let retired = vec![
        facts(source(), vec![snapshot("orders-1", at(2, 0), &[])]),
        facts(retiring, vec![snapshot("orders-1-copy", at(2, 0), &[])]),
    ];
    let report = assemble(&retired, vec![], vec![], at(10, 45));
    assert_eq!(report.verdict, "protected");
    let d = &report.databases[0];
    assert_eq!((d.rpo_met, d.rpo_minutes), (None, None));
    let retired = d.retired.as_ref().unwrap();
    assert_eq!(retired.policy, "dr");
    assert_eq!(retired.kept_until.as_deref(), Some("2026-07-01T02:00:00Z"));
    assert!(
        text(&report).contains("retired (dr; final copy kept until 2026-07-01T02:00:00Z)"),
        "{}",
        text(&report)
    );
}
