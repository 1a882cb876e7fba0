//! The dashboard in every expansion: its body, with the intrinsics CloudFormation would
//! resolve put in, is the JSON CloudWatch reads: recovery-point age per database against the
//! RPO (by SEARCH over the policy's dimensions), delivery lag and drill minutes on the DR side,
//! failed executions of each state machine.

use std::fs;
use std::path::{Path, PathBuf};

use rds_snapshot_policy_core::yaml::parse_template;
use rds_snapshot_policy_macro::expand::{ExpandContext, expand};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What CloudFormation would make of the intrinsics a dashboard body uses.
fn resolve(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.contains_key("Ref") => match m["Ref"].as_str().unwrap() {
            "AWS::Region" => "eu-west-1".into(),
            other => format!("arn:aws:states:eu-west-1:111111111111:stateMachine:{other}"),
        },
        Value::Object(m) if m.contains_key("Fn::Sub") => m["Fn::Sub"]
            .as_str()
            .unwrap()
            .replace("${AWS::StackName}", "stack"),
        Value::Object(m) if m.contains_key("Fn::Join") => {
            let args = m["Fn::Join"].as_array().unwrap();
            let parts: Vec<String> = args[1].as_array().unwrap().iter().map(resolve).collect();
            parts.join(args[0].as_str().unwrap())
        }
        other => panic!("unexpected intrinsic {other}"),
    }
}

fn dashboards(example: &str) -> Vec<(String, Value)> {
    let text = fs::read_to_string(root().join(example)).unwrap();
    let expanded = expand(&parse_template(&text).unwrap(), &ExpandContext::default())
        .unwrap()
        .template;
    expanded["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Dashboard")
        .map(|(id, r)| {
            let body = resolve(&r["Properties"]["DashboardBody"]);
            (
                id.clone(),
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{id}: {e}: {body}")),
            )
        })
        .collect()
}

fn titles(body: &Value) -> Vec<String> {
    body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_source_policy_gets_its_ages_against_the_rpo_and_its_failed_executions() {
    let found = dashboards("templates/examples/source.yaml");
    assert_eq!(found.len(), 1, "one dashboard per policy");
    let (id, body) = &found[0];
    assert_eq!(id, "OrdersDbSnapshotsDashboard");
    let ages = &body["widgets"][0]["properties"];
    assert_eq!(
        ages["metrics"][0][0]["expression"],
        "SEARCH('{RdsSnapshotPolicy,Database,Policy} MetricName=\"RecoveryPointAgeMinutes\" Policy=\"stack-OrdersDbSnapshots\"', 'Maximum', 300)"
    );
    assert_eq!(ages["annotations"]["horizontal"][0]["value"], 60);
    assert_eq!(ages["region"], "eu-west-1");
    // Whether an incident holds the deletes: the policy's DeletesHeld.
    let held = &body["widgets"][1]["properties"];
    assert!(held["title"].as_str().unwrap().starts_with("Deletes held"));
    assert_eq!(
        held["metrics"][0],
        json!([
            "RdsSnapshotPolicy",
            "DeletesHeld",
            "Policy",
            "stack-OrdersDbSnapshots"
        ])
    );
    let failed = &body["widgets"][2]["properties"]["metrics"];
    let machines: Vec<&str> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[3].as_str().unwrap())
        .collect();
    assert_eq!(machines.len(), 3, "take, share, delete: {machines:?}");
    assert!(machines.iter().all(|m| m.contains("OrdersDbSnapshots")));
    assert!(!titles(body).iter().any(|t| t.contains("Delivery lag")));
}

#[test]
fn a_dr_policy_adds_delivery_lag_and_drill_minutes_against_the_rto() {
    let found = dashboards("templates/examples/destination.yaml");
    let (_, body) = &found[0];
    let titles = titles(body);
    assert_eq!(titles.len(), 5, "{titles:?}");
    assert!(titles[3].starts_with("Deletes held"));
    assert!(titles[1].starts_with("Delivery lag"));
    assert!(titles[2].starts_with("Restore drill minutes"));
    let drill = &body["widgets"][2]["properties"];
    assert_eq!(drill["annotations"]["horizontal"][0]["label"], "RtoMinutes");
    assert_eq!(drill["annotations"]["horizontal"][0]["value"], 180);
    assert!(
        drill["metrics"][0][0]["expression"]
            .as_str()
            .unwrap()
            .contains("MetricName=\"RestoreMinutes\"")
    );
}
