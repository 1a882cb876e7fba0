//! One CloudWatch dashboard per policy, where operators already look: recovery-point age per
//! database against RpoMinutes, delivery lag (DR), restore minutes against RtoMinutes (when the
//! drill exists), whether an incident holds the deletes, and failed executions per state
//! machine. A pattern's databases are unknown at
//! expansion, so the per-database widgets use `SEARCH` over the `Policy` and `Database`
//! dimensions.

use serde_json::{Value, json};

use super::definition::Splicer;
use rds_snapshot_policy_core::contract::{Action, metrics};
use rds_snapshot_policy_core::policy::Policy;
use rds_snapshot_policy_core::spec::Role;

/// `SEARCH` over the policy's per-database series of `metric`. The policy ID may be an
/// intrinsic: then the expression is a `Fn::Join` whose literal parts are already JSON-escaped
/// (the splicer puts intrinsics into the JSON text unescaped).
fn search(metric: &str, policy_id: &Value) -> Value {
    let head = format!(
        "SEARCH('{{{},{},{}}} MetricName=\"{metric}\" {}=\"",
        metrics::NAMESPACE,
        metrics::DIMENSION_DATABASE,
        metrics::DIMENSION_POLICY,
        metrics::DIMENSION_POLICY
    );
    let tail = "\"', 'Maximum', 300)";
    match policy_id.as_str() {
        Some(id) => Value::String(format!("{head}{id}{tail}")),
        None => json!({"Fn::Join": ["", [
            head.replace('"', "\\\""),
            policy_id,
            tail.replace('"', "\\\""),
        ]]}),
    }
}

fn metric_widget(title: &str, y: u32, metrics: Value, limit: Option<(&str, u64)>) -> Value {
    let mut properties = json!({
        "title": title,
        "view": "timeSeries",
        "region": {"Ref": "AWS::Region"},
        "period": 300,
        "stat": "Maximum",
        "metrics": metrics,
    });
    if let Some((label, value)) = limit {
        properties["annotations"] = json!({"horizontal": [{"label": label, "value": value}]});
    }
    json!({"type": "metric", "x": 0, "y": y, "width": 24, "height": 6, "properties": properties})
}

/// The dashboard resource of `policy`, whose state machines are `machines` (action, logical ID).
pub(super) fn dashboard(
    policy: &Policy,
    policy_id: &Value,
    machines: &[(Action, String)],
) -> (String, Value) {
    let p = &policy.logical_id;
    let spec = &policy.spec;
    let mut widgets = vec![metric_widget(
        "Recovery-point age per database (minutes) against RpoMinutes",
        0,
        json!([[{"expression": search(metrics::RECOVERY_POINT_AGE, policy_id), "id": "ages"}]]),
        Some(("RpoMinutes", spec.rpo_minutes)),
    )];
    let mut y = 6;
    if spec.role == Role::Destination {
        widgets.push(metric_widget(
            "Delivery lag per database (minutes): recovery point to DR copy available",
            y,
            json!([[{"expression": search(metrics::DELIVERY_LAG, policy_id), "id": "lags"}]]),
            None,
        ));
        y += 6;
        if machines.iter().any(|(a, _)| *a == Action::Drill) {
            widgets.push(metric_widget(
                "Restore drill minutes per database against RtoMinutes",
                y,
                json!([[{"expression": search(metrics::RESTORE_MINUTES, policy_id), "id": "drills"}]]),
                Some(("RtoMinutes", spec.rto_minutes.unwrap_or(180))),
            ));
            y += 6;
        }
    }
    if machines.iter().any(|(a, _)| *a == Action::Delete) {
        // 1 while an incident holds the deletes (README, Incident hold), 0 otherwise.
        widgets.push(metric_widget(
            "Deletes held (1: an incident holds retention; `rds-snapshot-policy release` lifts it)",
            y,
            json!([[
                metrics::NAMESPACE,
                metrics::DELETES_HELD,
                metrics::DIMENSION_POLICY,
                policy_id
            ]]),
            None,
        ));
        y += 6;
    }
    let failed: Vec<Value> = machines
        .iter()
        .map(|(action, machine)| {
            json!([metrics::STATES_NAMESPACE, metrics::EXECUTIONS_FAILED, "StateMachineArn",
                {"Ref": machine}, {"label": format!("{action} failed"), "stat": "Sum"}])
        })
        .collect();
    widgets.push(metric_widget(
        "Failed executions per state machine",
        y,
        Value::Array(failed),
        None,
    ));
    let mut splicer = Splicer::default();
    let body = splicer.replace_in(json!({"widgets": widgets}), false);
    (
        format!("{p}Dashboard"),
        json!({
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardBody": splicer.join(body)},
        }),
    )
}
