//! `make bench`: the pure cores at the sizes the design names. Prints a Markdown table row per
//! case (median of the runs); BENCHMARKS.md keeps the results.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{Duration as Span, TimeZone, Utc};
use provider::inventory::{Database, Inventory, Kind, Snapshot, tags};
use provider::plan::{Action, plan};
use provider::policy::RuntimePolicy;
use rds_snapshot_policy_macro::expand::{ExpandContext, MAX_RESOURCES, expand};
use serde_json::json;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn inventory(snapshots: usize, databases: usize) -> Inventory {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let dbs: Vec<Database> = (0..databases)
        .map(|i| Database {
            id: format!("db{i}"),
            kind: Kind::Instance,
            status: "available".into(),
            tags: BTreeMap::new(),
            cluster: None,
            encrypted: true,
            engine: None,
            option_groups: Vec::new(),
            kms_key_id: None,
        })
        .collect();
    let snaps = (0..snapshots)
        .map(|i| {
            let db = format!("db{}", i % databases);
            let mut t = BTreeMap::new();
            t.insert(
                tags::POLICY.to_string(),
                if i % 3 == 0 {
                    "other".to_string()
                } else {
                    "bench".to_string()
                },
            );
            t.insert(tags::CREATED_BY.to_string(), tags::TOOL.to_string());
            t.insert(tags::COPIED_BY.to_string(), tags::TOOL.to_string());
            Snapshot {
                id: format!("{db}-{i}"),
                arn: format!("arn:aws:rds:eu-west-1:111111111111:snapshot:{db}-{i}"),
                kind: Kind::Instance,
                database: db,
                status: "available".into(),
                snapshot_type: "manual".into(),
                created: Some(now - Span::minutes((i * 7) as i64)),
                original_created: None,
                tags: t,
                kms_key_id: None,
                encrypted: true,
                engine: None,
                engine_version: None,
                option_group: None,
            }
        })
        .collect::<Vec<_>>();
    Inventory {
        databases: dbs,
        sources: snaps.clone(),
        snapshots: snaps,
        ..Inventory::default()
    }
}

fn main() {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let source = RuntimePolicy::from_properties(&json!({"Role": "Source", "PolicyId": "bench",
        "InstanceNamePattern": ".*", "DestinationAccounts": ["222222222222"], "RetentionDays": 7, "KeepLatest": 2}),
        "eu-west-1", None).unwrap();
    let dr = RuntimePolicy::from_properties(&json!({"Role": "Destination", "SourceAccounts": ["111111111111"], "PolicyId": "bench",
        "SnapshotPattern": ".*", "DestinationRegion": "eu-central-1", "RetentionDays": 7,
        "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
        "eu-west-1", None).unwrap();
    println!("| case | size | median |");
    println!("|---|---|---|");
    for (snapshots, databases) in [(500, 20), (5_000, 100)] {
        let inv = inventory(snapshots, databases);
        for (name, action, policy) in [
            ("plan take", Action::Take, &source),
            ("plan share", Action::Share, &source),
            ("plan delete", Action::Delete, &source),
            ("plan copy", Action::Copy, &dr),
        ] {
            let d = time(21, || {
                black_box(plan(action, policy, black_box(&inv), now));
            });
            println!(
                "| {name} | {snapshots} snapshots, {databases} databases | {:.2} ms |",
                d.as_secs_f64() * 1e3
            );
        }
    }
    // One policy, and the most source policies one stack holds today: as many as fit in
    // CloudFormation's 500 resources with the expansion's own count per policy.
    let per_policy = expand(&source_template(1), &ExpandContext::default())
        .map(|e| resource_count(&e.template))
        .expect("one source policy expands");
    let full = (MAX_RESOURCES / per_policy.max(1)).max(1);
    for policies in [1, full] {
        let template = source_template(policies);
        let context = ExpandContext::default();
        let resources = match expand(&template, &context) {
            Ok(e) => resource_count(&e.template),
            Err(errors) => {
                panic!("the bench template of {policies} policies is refused: {errors:?}")
            }
        };
        let d = time(11, || {
            black_box(expand(black_box(&template), &context).unwrap());
        });
        println!(
            "| expand | {policies} policies ({resources} resources) | {:.2} ms |",
            d.as_secs_f64() * 1e3
        );
    }
}

/// A template of `policies` one-database source policies, each sharing with one DR account.
fn source_template(policies: usize) -> serde_json::Value {
    let mut resources = serde_json::Map::new();
    for i in 0..policies {
        resources.insert(format!("Db{i}Snapshots"), json!({"Type": "Custom::RdsSnapshotPolicy", "Properties": {
            "Role": "Source", "DBInstanceIdentifier": format!("db{i}"), "DestinationAccount": "222222222222"}}));
    }
    json!({"Resources": resources})
}

fn resource_count(template: &serde_json::Value) -> usize {
    template["Resources"].as_object().map_or(0, |r| r.len())
}
