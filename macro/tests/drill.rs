//! The restore drill in the expansion: on by default in the DR role, gone with
//! `RestoreDrill: false`, and a definition that waits with Step Functions and always cleans up.

use rds_snapshot_policy_macro::expand::{ExpandContext, expand};
use serde_json::{Value, json};

fn expanded(extra: Value) -> Value {
    let mut properties = json!({"Role": "Destination", "SnapshotPattern": "^orders-",
        "SourceAccounts": ["111111111111"], "DestinationRegion": "eu-central-1",
        "KmsKeyDestination": "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"});
    properties
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let template = json!({"Resources": {"Copies": {"Type": "Custom::RdsSnapshotPolicy", "Properties": properties}}});
    let context = ExpandContext {
        region: Some("eu-central-1".into()),
        account_id: Some("222222222222".into()),
        ..ExpandContext::default()
    };
    expand(&template, &context).expect("expands").template
}

/// The definition with its intrinsics replaced by placeholders.
fn definition(template: &Value) -> Value {
    let d = &template["Resources"]["CopiesDrillStateMachine"]["Properties"]["DefinitionString"];
    let text = match d {
        Value::String(s) => s.clone(),
        other => other["Fn::Join"][1]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().map(str::to_string).unwrap_or_else(|| "x".into()))
            .collect(),
    };
    serde_json::from_str(&text).expect("the definition is JSON once resolved")
}

#[test]
fn the_default_dr_policy_drills_weekly_with_an_rto_alarm() {
    let t = expanded(json!({}));
    let resources = &t["Resources"];
    assert_eq!(
        resources["CopiesDrillSchedule"]["Properties"]["ScheduleExpression"],
        "cron(0 4 ? * SUN *)"
    );
    assert_eq!(
        resources["CopiesDrillSweepSchedule"]["Properties"]["ScheduleExpression"],
        "rate(1 hour)"
    );
    assert_eq!(
        resources["CopiesDrillSweepSchedule"]["Properties"]["Targets"][0]["Input"],
        "{\"sweep\": true}"
    );
    assert_eq!(
        resources["CopiesRtoAlarm"]["Properties"]["MetricName"],
        "RestoreMinutes"
    );
    assert_eq!(resources["CopiesRtoAlarm"]["Properties"]["Threshold"], 180);
    let d = definition(&t);
    assert_eq!(
        d["TimeoutSeconds"],
        (180 + 60) * 60,
        "longer than RtoMinutes plus cleanup"
    );
    assert_eq!(d["States"]["Wait"]["SecondsPath"], "$.waitSeconds");
    for (name, state) in d["States"].as_object().unwrap() {
        if state["Type"] == "Task" && state["Parameters"]["action"] == "drill" {
            let next = state["Catch"][0]["Next"].as_str().unwrap();
            assert!(
                ["HasRun", "Notify"].contains(&next),
                "{name} fails into the cleanup: {next}"
            );
        }
    }
    assert!(
        d["States"]["Validate"].is_null(),
        "no validation function, no Validate state"
    );
}

#[test]
fn a_validation_function_is_called_and_may_fail_the_drill() {
    let function = "arn:aws:lambda:eu-central-1:222222222222:function:check-orders";
    let t = expanded(json!({"DrillValidationFunctionArn": function, "RtoMinutes": 90}));
    let d = definition(&t);
    assert_eq!(
        d["States"]["Validate"]["Parameters"]["FunctionName"],
        function
    );
    assert_eq!(d["States"]["NotValid"]["Next"], "HasRun");
    assert_eq!(
        d["States"]["Passed"]["Choices"][0]["Next"],
        "FinishValidated"
    );
    assert_eq!(
        d["States"]["FinishValidated"]["Parameters"]["drill"]["validated.$"],
        "$$.State.EnteredTime",
        "the validation's time reaches the provider"
    );
    assert_eq!(
        t["Resources"]["CopiesRtoAlarm"]["Properties"]["Threshold"],
        90
    );
    let role = t["Resources"]["CopiesStateMachineRole"].to_string();
    assert!(
        role.contains(function),
        "the state machine may invoke the validation function"
    );
}

/// A drill that stops running alarms (issue 26): the hourly sweep publishes the hours since
/// the last finished drill from the durable records, and the overdue alarm treats missing data
/// as breaching; the records' log group outlives the stack.
#[test]
fn a_stopped_drill_alarms_and_its_records_outlive_the_stack() {
    let t = expanded(json!({"PolicyId": "dr-copies", "RtoMinutes": 120}));
    let resources = &t["Resources"];
    let alarm = &resources["CopiesDrillOverdueAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], "DrillAgeHours");
    assert_eq!(alarm["TreatMissingData"], "breaching");
    // Weekly drills: the week, RtoMinutes (2 hours) and the sweep's hour.
    assert_eq!(alarm["Threshold"], 168 + 2 + 1);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "Policy", "Value": "dr-copies"}])
    );
    let records = &resources["CopiesDrillRecords"];
    assert_eq!(records["Type"], "AWS::Logs::LogGroup");
    assert_eq!(records["DeletionPolicy"], "Retain");
    assert_eq!(records["UpdateReplacePolicy"], "Retain");
    assert_eq!(
        records["Properties"]["LogGroupName"],
        "/rds-snapshot-policy/drills/dr-copies"
    );
    assert_eq!(records["Properties"]["RetentionInDays"], 3653);
    // The sweep's result is published, not dropped.
    let d = definition(&t);
    assert_eq!(d["States"]["Sweep"]["Next"], "HasDrillAge");
    assert_eq!(
        d["States"]["PublishDrillAge"]["Parameters"]["MetricData.$"],
        "$.sweepResult.metricData"
    );
    // A PolicyId with characters log group names refuse maps to one they accept.
    let odd = expanded(json!({"PolicyId": "team:orders@prod"}));
    assert_eq!(
        odd["Resources"]["CopiesDrillRecords"]["Properties"]["LogGroupName"],
        "/rds-snapshot-policy/drills/team-orders-prod"
    );
}

#[test]
fn restore_drill_false_generates_no_drill() {
    let t = expanded(json!({"RestoreDrill": false}));
    let names: Vec<&String> = t["Resources"].as_object().unwrap().keys().collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("Drill") && !n.contains("Rto")),
        "{names:?}"
    );
}

/// A blank NotificationEmail (the examples' AlarmEmail left empty) subscribes no one, and the
/// policy says so to the deploy-time check, which warns.
#[test]
fn a_blank_notification_email_is_no_subscription() {
    let t = expanded(json!({"NotificationEmail": " "}));
    let resources = t["Resources"].as_object().unwrap();
    assert!(!resources.contains_key("CopiesNotificationSubscription"));
    assert_eq!(
        resources["Copies"]["Properties"]["GeneratedResources"]["NotificationSubscriber"],
        "none"
    );
    let t = expanded(json!({"NotificationEmail": "oncall@example.org"}));
    assert_eq!(
        t["Resources"]["CopiesNotificationSubscription"]["Properties"]["Endpoint"],
        "oncall@example.org"
    );
}
