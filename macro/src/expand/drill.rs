//! The restore drill's state machine: start the restores, wait (Step Functions `Wait`, never
//! a sleeping Lambda), check, optionally validate, finish (timings, metrics, cleanup), and on
//! any failure or RtoMinutes passing, clean up, notify and fail. A scheduled sweep (the same
//! machine with `{"sweep": true}`) deletes what a timed-out or stopped execution left.

use serde_json::{Map, Value, json};

use super::definition::{Splicer, integration_task, subject};
use rds_snapshot_policy_core::contract::{
    Action, CONTRACT_VERSION, ErrorName, drill_records, metrics, states,
};
use rds_snapshot_policy_core::policy::Policy;
use rds_snapshot_policy_core::spec::defaults;

/// Seconds between status checks when the execution's input names none.
pub const DEFAULT_WAIT_SECONDS: u64 = 300;

pub fn drill_definition(
    logical_id: &str,
    machine: &str,
    policy: &Map<String, Value>,
    provider_arn: &Value,
    topic_arn: &Value,
) -> Value {
    let mut splicer = Splicer::default();
    let policy_value = splicer.replace_in(Value::Object(policy.clone()), true);
    let provider = splicer.replace_in(provider_arn.clone(), false);
    let topic = splicer.replace_in(topic_arn.clone(), false);
    let stack = splicer.replace_in(json!({"Ref": "AWS::StackId"}), false);
    let validator = policy
        .get("DrillValidationFunctionArn")
        .cloned()
        .map(|v| splicer.replace_in(v, false));
    let rto = policy
        .get("RtoMinutes")
        .and_then(Value::as_u64)
        .unwrap_or(defaults::RTO_MINUTES);
    let task = |drill: Value, next: &str, result: Value| {
        json!({
            "Type": "Task",
            "Resource": provider,
            "Parameters": {
                "version": CONTRACT_VERSION,
                "action": Action::Drill,
                "policy": policy_value,
                "execution.$": "$$.Execution.Id",
                "origin": {"stack": stack, "stateMachine": machine},
                "drill": drill,
            },
            "ResultSelector": result,
            "ResultPath": "$.drill",
            "TimeoutSeconds": 900,
            "Retry": [
                {"ErrorEquals": ErrorName::retryable(), "IntervalSeconds": 30, "MaxAttempts": 4, "BackoffRate": 2.0},
                {"ErrorEquals": states::LAMBDA_SERVICE_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0},
                {"ErrorEquals": [states::LAMBDA_THROTTLED], "IntervalSeconds": states::DRILL_THROTTLED_RETRY.0, "MaxAttempts": states::DRILL_THROTTLED_RETRY.1, "BackoffRate": 1.0}
            ],
            "Catch": [{"ErrorEquals": [states::ALL_ERRORS], "ResultPath": "$.error", "Next": "HasRun"}],
            "Next": next,
        })
    };
    let keep_run = json!({"run.$": "$.drill"});
    // The sweep: the same provider Task; it publishes the drill's age (what the overdue alarm
    // watches), a failure notified.
    let mut sweep = task(
        json!({"step": "sweep"}),
        "HasDrillAge",
        json!({"metricData.$": "$.metricData"}),
    );
    sweep["ResultPath"] = json!("$.sweepResult");
    sweep["Catch"][0]["Next"] = json!("Notify");
    let ready_next = if validator.is_some() {
        "Validate"
    } else {
        "Finish"
    };
    let mut states = json!({
        "Mode": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.sweep", "IsPresent": true, "Next": "Sweep"}],
            "Default": "Defaults",
        },
        "Defaults": {
            "Type": "Choice",
            "Comment": "Seconds between status checks: the input's waitSeconds (tests and the demo scale it down), else 300.",
            "Choices": [{"Variable": "$.waitSeconds", "IsNumeric": true, "Next": "Start"}],
            "Default": "DefaultWait",
        },
        "DefaultWait": {"Type": "Pass", "Result": DEFAULT_WAIT_SECONDS, "ResultPath": "$.waitSeconds", "Next": "Start"},
        "Start": task(json!({"step": "start"}), "Wait", keep_run.clone()),
        "Wait": {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": "Check"},
        "Check": task(json!({"step": "check", "run.$": "$.drill.run"}), "Ready", keep_run.clone()),
        "Ready": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.drill.run.ready", "BooleanEquals": true, "Next": ready_next},
                {"Variable": "$.drill.run.timedOut", "BooleanEquals": true, "Next": "TooSlow"}
            ],
            "Default": "Wait",
        },
        "TooSlow": {
            "Type": "Pass",
            "Result": {"Error": "RtoExceeded", "Cause": format!("the restores were not available within RtoMinutes ({rto})")},
            "ResultPath": "$.error",
            "Next": "HasRun",
        },
        "Finish": task(json!({"step": "finish", "run.$": "$.drill.run"}), "PublishRestoreMinutes",
            json!({"run.$": "$.drill", "metricData.$": "$.metricData"})),
        "PublishRestoreMinutes": integration_task(
            states::PUT_METRIC_DATA,
            json!({"Namespace": metrics::NAMESPACE, "MetricData.$": "$.drill.metricData"}),
            "Report",
        ),
        "Report": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": topic,
                "Subject": subject(logical_id, "restore drill finished"),
                "Message.$": "States.JsonToString($.drill.run)",
            },
            "ResultPath": null,
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "HasRun": {
            "Type": "Choice",
            "Comment": "Clean up what this execution created (or, if it failed before recording it, every drill resource of the policy).",
            "Choices": [{"Variable": "$.drill.run", "IsPresent": true, "Next": "Cleanup"}],
            "Default": "CleanupAll",
        },
        "Cleanup": cleanup_task(&task, json!({"step": "cleanup", "run.$": "$.drill.run"})),
        "CleanupAll": cleanup_task(&task, json!({"step": "cleanup"})),
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": topic,
                "Subject": subject(logical_id, "restore drill failed"),
                "Message.$": format!("States.Format('Policy {logical_id}, restore drill, execution {{}}: {{}}: {{}}', $$.Execution.Id, $.error.Error, $.error.Cause)"),
            },
            "ResultPath": null,
            "Next": "Failed",
        },
        "Failed": {"Type": "Fail", "Error": states::POLICY_FAILED, "Cause": format!("The restore drill of {logical_id} failed; see the execution history and the notification.")},
        "Sweep": sweep,
        "HasDrillAge": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.sweepResult.metricData[0]", "IsPresent": true, "Next": "PublishDrillAge"}],
            "Default": "Done",
        },
        "PublishDrillAge": integration_task(
            states::PUT_METRIC_DATA,
            json!({"Namespace": metrics::NAMESPACE, "MetricData.$": "$.sweepResult.metricData"}),
            "Done",
        ),
    });
    let finish_validated = task(
        json!({"step": "finish", "run.$": "$.drill.run", "validated.$": "$$.State.EnteredTime"}),
        "PublishRestoreMinutes",
        json!({"run.$": "$.drill", "metricData.$": "$.metricData"}),
    );
    if let (Some(function), Some(map)) = (validator, states.as_object_mut()) {
        map.insert("Validate".into(), json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Comment": "The validation function gets the run (endpoints included) and answers {\"passed\": true|false}.",
            "Parameters": {"FunctionName": function, "Payload.$": "$.drill.run"},
            "ResultSelector": {"passed.$": "$.Payload.passed"},
            "ResultPath": "$.validation",
            "TimeoutSeconds": 900,
            "Catch": [{"ErrorEquals": [states::ALL_ERRORS], "ResultPath": "$.error", "Next": "HasRun"}],
            "Next": "Passed",
        }));
        map.insert("Passed".into(), json!({
            "Type": "Choice",
            "Choices": [{"Variable": "$.validation.passed", "BooleanEquals": true, "Next": "FinishValidated"}],
            "Default": "NotValid",
        }));
        map.insert("FinishValidated".into(), finish_validated);
        map.insert("NotValid".into(), json!({
            "Type": "Pass",
            "Result": {"Error": "ValidationFailed", "Cause": "the validation function did not pass the restored databases"},
            "ResultPath": "$.error",
            "Next": "HasRun",
        }));
    }
    let definition = json!({
        "Comment": format!("rds-snapshot-policy {logical_id}: restore drill"),
        // Longer than RtoMinutes plus cleanup; a timed-out execution runs no Catch, so the
        // sweep removes what it left.
        "TimeoutSeconds": (rto + 60) * 60,
        "StartAt": "Mode",
        "States": states,
    });
    splicer.join(definition)
}

fn cleanup_task(task: &dyn Fn(Value, &str, Value) -> Value, drill: Value) -> Value {
    let mut t = task(drill, "Notify", json!({"run.$": "$.drill"}));
    t["ResultPath"] = json!("$.cleanup");
    t.as_object_mut().map(|m| m.remove("ResultSelector"));
    t["Catch"] = json!([{"ErrorEquals": [states::ALL_ERRORS], "ResultPath": "$.cleanupError", "Next": "Notify"}]);
    t
}

/// The log group of the policy's durable drill records: ten years, kept when the stack (or
/// the policy) is deleted, so an auditor's question outlives the copies and the stack.
fn drill_records(policy_id: &Value) -> Value {
    let name = match policy_id.as_str() {
        Some(id) => json!(drill_records::log_group(id)),
        None => json!({"Fn::Join": ["", [drill_records::LOG_GROUP_PREFIX, policy_id]]}),
    };
    json!({
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Metadata": {"checkov": {"skip": [{
            "id": "CKV_AWS_158",
            "comment": "CloudWatch Logs encrypts every log group at rest; a customer key would be deleted with the stack the records must outlive, making them unreadable. The records hold no data, only names and times.",
        }]}},
        "Properties": {
            "LogGroupName": name,
            "RetentionInDays": drill_records::RETENTION_DAYS,
        }
    })
}

/// The drill's extra resources: the hourly sweep (the drill machine with `{"sweep": true}`)
/// and the RTO alarm.
pub(super) fn drill_resources(
    policy: &Policy,
    policy_id: &Value,
    topic_arn: &Value,
) -> Vec<(String, Value)> {
    let p = policy.logical_id.as_str();
    if !policy.spec.drills() {
        return Vec::new();
    }
    let machine = format!("{p}DrillStateMachine");
    let overdue = policy.spec.drill_overdue_hours().unwrap_or(0);
    vec![
        (
            format!("{p}DrillSweepSchedule"),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": format!("rds-snapshot-policy {p}: deletes drill instances older than RtoMinutes plus {} minutes", defaults::DRILL_SWEEP_MARGIN_MINUTES),
                    "ScheduleExpression": "rate(1 hour)",
                    "State": "ENABLED",
                    "Targets": [{
                        "Id": format!("{p}DrillSweep"),
                        "Arn": {"Ref": machine},
                        "RoleArn": {"Fn::GetAtt": [format!("{p}DrillScheduleRole"), "Arn"]},
                        "Input": "{\"sweep\": true}",
                    }],
                }
            }),
        ),
        (format!("{p}DrillRecords"), drill_records(policy_id)),
        (
            format!("{p}DrillOverdueAlarm"),
            json!({
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmDescription": format!("rds-snapshot-policy {p}: no restore drill finished in {overdue} hours, or the drill sweep stopped"),
                    "Namespace": metrics::NAMESPACE,
                    "MetricName": metrics::DRILL_AGE,
                    "Dimensions": [{"Name": metrics::DIMENSION_POLICY, "Value": policy_id}],
                    "Statistic": "Maximum",
                    "Period": 3600,
                    "EvaluationPeriods": 2,
                    "DatapointsToAlarm": 2,
                    "Threshold": overdue,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "breaching",
                    "AlarmActions": [topic_arn],
                    "OKActions": [topic_arn],
                }
            }),
        ),
        (
            format!("{p}RtoAlarm"),
            json!({
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmDescription": format!("rds-snapshot-policy {p}: a restore drill took longer than RtoMinutes ({} minutes). See the README, Failing over.", policy.spec.rto()),
                    "Namespace": metrics::NAMESPACE,
                    "MetricName": metrics::RESTORE_MINUTES,
                    "Dimensions": [{"Name": metrics::DIMENSION_POLICY, "Value": policy_id}],
                    "Statistic": "Maximum",
                    "Period": 3600,
                    "EvaluationPeriods": 1,
                    "Threshold": policy.spec.rto(),
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": [topic_arn],
                    "OKActions": [topic_arn],
                }
            }),
        ),
    ]
}
