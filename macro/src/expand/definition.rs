//! State machine definitions. The definition is JSON text, but the policy may hold intrinsics
//! (a `Ref` to the database, the provider ARN): those are spliced in with `Fn::Join`, so
//! CloudFormation resolves them and the definition stays valid JSON.

use serde_json::{Map, Value, json};

use rds_snapshot_policy_core::contract::{
    Action, CONTRACT_VERSION, ErrorName, events, metrics, states,
};
use rds_snapshot_policy_core::value::is_intrinsic;

/// Builds the definition for `action` as a `DefinitionString` value. `machine` is the state
/// machine's logical ID: with the stack's ID it is the task's `origin`, which the provider
/// checks against CloudFormation. `announces`: after the task, put the provider's announcements on the DR buses (an
/// event-driven source policy's share).
pub fn definition_string(
    logical_id: &str,
    machine: &str,
    action: Action,
    policy: &Map<String, Value>,
    provider_arn: &Value,
    topic_arn: &Value,
    announces: bool,
) -> Value {
    let mut splicer = Splicer::default();
    let policy = splicer.replace_in(Value::Object(policy.clone()), true);
    let provider = splicer.replace_in(provider_arn.clone(), false);
    let topic = splicer.replace_in(topic_arn.clone(), false);
    let stack = splicer.replace_in(json!({"Ref": "AWS::StackId"}), false);
    let state = action.title().to_string();
    let definition = json!({
        "Comment": format!("rds-snapshot-policy {logical_id}: {action}"),
        "TimeoutSeconds": states::EXECUTION_TIMEOUT_SECONDS,
        "StartAt": state.clone(),
        "States": {
            state.clone(): {
                "Type": "Task",
                "Resource": provider,
                "Parameters": {
                    "version": CONTRACT_VERSION,
                    "action": action,
                    "policy": policy,
                    "execution.$": "$$.Execution.Id",
                    "now.$": "$$.Execution.StartTime",
                    "executionStart.$": "$$.Execution.StartTime",
                    "origin": {"stack": stack, "stateMachine": machine},
                },
                "TimeoutSeconds": states::TASK_TIMEOUT_SECONDS,
                "Retry": [
                    {
                        "ErrorEquals": ErrorName::retryable(),
                        "IntervalSeconds": 60,
                        "MaxAttempts": 4,
                        "BackoffRate": 2.0,
                    },
                    {
                        "ErrorEquals": states::LAMBDA_SERVICE_ERRORS,
                        "IntervalSeconds": 2,
                        "MaxAttempts": 6,
                        "BackoffRate": 2.0,
                    },
                    {
                        "ErrorEquals": [states::LAMBDA_THROTTLED],
                        "IntervalSeconds": states::LAMBDA_THROTTLED_RETRY.0,
                        "MaxAttempts": states::LAMBDA_THROTTLED_RETRY.1,
                        "BackoffRate": 1.0,
                    }
                ],
                "Catch": [
                    {"ErrorEquals": [states::ALL_ERRORS], "ResultPath": "$.error", "Next": "Notify"}
                ],
                "Next": if announces { "HasAnnouncements" } else { "HasMetrics" },
            },
            "HasAnnouncements": {
                "Type": "Choice",
                "Comment": "Snapshots were shared: announce them, so the DR accounts copy at once.",
                "Choices": [{"Variable": "$.announcements[0]", "IsPresent": true, "Next": "Announce"}],
                "Default": "HasMetrics",
            },
            "Announce": integration_task(
                events::PUT_EVENTS,
                json!({"Entries.$": "$.announcements"}),
                "HasMetrics",
            ),
            "HasMetrics": {
                "Type": "Choice",
                "Comment": "The provider measured recovery points: publish their ages for the RPO alarm.",
                "Choices": [{"Variable": "$.metricData[0]", "IsPresent": true, "Next": "PublishMetrics"}],
                "Default": "More",
            },
            "PublishMetrics": integration_task(
                states::PUT_METRIC_DATA,
                json!({"Namespace": metrics::NAMESPACE, "MetricData.$": "$.metricData"}),
                "More",
            ),
            "More": {
                "Type": "Choice",
                "Comment": "The provider stopped before its deadline with work left: run it again, planning anew from what exists, while another round fits in the execution's time limit (the provider says so).",
                "Choices": [{"And": [
                    {"Variable": "$.more", "IsPresent": true},
                    {"Variable": "$.more", "BooleanEquals": true},
                ], "Next": state.clone()}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {
                    "TopicArn": topic,
                    "Subject": subject(logical_id, &format!("{action} failed")),
                    "Message.$": format!("States.Format('Policy {logical_id}, action {action}, execution {{}}: {{}}: {{}}', $$.Execution.Id, $.error.Error, $.error.Cause)"),
                },
                "ResultPath": null,
                "Next": "Failed",
            },
            "Failed": {
                "Type": "Fail",
                "Error": states::POLICY_FAILED,
                "Cause": format!("The {action} step of {logical_id} failed; see the execution history and the notification."),
            }
        }
    });
    let mut definition = definition;
    if action == Action::Delete
        && let Some(states) = definition["States"].as_object_mut()
    {
        add_hold_states(states, &state);
        definition["StartAt"] = json!("Incident");
    }
    if !announces && let Some(states) = definition["States"].as_object_mut() {
        // Step Functions refuses unreachable states.
        states.remove("HasAnnouncements");
        states.remove("Announce");
    }
    splicer.join(definition)
}

/// The delete machine's incident entry: started by a tamper rule (a CloudTrail event) or the
/// incident-alarm rule (an alarm's state change), whose event EventBridge passes as the input,
/// the Task asks the provider to hold the policy's deletes instead of running them. Whoever
/// else starts it so can only hold deletes, never cause one.
fn add_hold_states(states: &mut Map<String, Value>, task: &str) {
    // A CloudTrail event names its API call, an alarm's state change its alarm; a schedule's
    // event has an empty detail.
    let when =
        |field: &str, next: &str| json!({"Variable": field, "IsPresent": true, "Next": next});
    states.insert(
        "Incident".into(),
        json!({
            "Type": "Choice",
            "Comment": "Started by a tamper event or an incident alarm: hold the deletes (nothing is deleted until an operator's `rds-snapshot-policy release`).",
            "Choices": [
                when("$.detail.eventName", "HoldForTamper"),
                when("$.detail.alarmName", "HoldForAlarm"),
            ],
            "Default": task,
        }),
    );
    for (name, reason) in [
        (
            "HoldForTamper",
            "States.Format('tamper: {} by {}', $.detail.eventName, $.detail.userIdentity.arn)",
        ),
        (
            "HoldForAlarm",
            "States.Format('alarm {}', $.detail.alarmName)",
        ),
    ] {
        let mut hold = states[task].clone();
        hold["Parameters"]["hold.$"] = json!(reason);
        states.insert(name.into(), hold);
    }
}

/// SNS takes a `Subject` of under 100 ASCII characters without line breaks (SNS API
/// reference, Publish: "Subject"); logical IDs run to 255, so a long one is shortened in the
/// middle. The message body always carries the whole ID.
pub(super) fn subject(logical_id: &str, what: &str) -> String {
    const MAX: usize = 99;
    let full = format!("rds-snapshot-policy {logical_id}: {what}");
    if full.len() <= MAX {
        return full;
    }
    let room = MAX.saturating_sub("rds-snapshot-policy ...: ".len() + what.len());
    let chars: Vec<char> = logical_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let head: String = chars[..room.div_ceil(2).min(chars.len())].iter().collect();
    let tail: String = chars[chars.len().saturating_sub(room / 2)..]
        .iter()
        .collect();
    format!("rds-snapshot-policy {head}...{tail}: {what}")
}

/// A Task calling an AWS API directly (no provider): a few quick retries, then the failure
/// is notified like the provider's.
pub(super) fn integration_task(resource: &str, parameters: Value, next: &str) -> Value {
    json!({
        "Type": "Task",
        "Resource": resource,
        "Parameters": parameters,
        "ResultPath": null,
        "Retry": [{
            "ErrorEquals": [states::ALL_ERRORS],
            "IntervalSeconds": 5,
            "MaxAttempts": 3,
            "BackoffRate": 2.0,
        }],
        "Catch": [
            {"ErrorEquals": [states::ALL_ERRORS], "ResultPath": "$.error", "Next": "Notify"}
        ],
        "Next": next,
    })
}

/// Replaces intrinsics with unique marker strings, then turns the serialized JSON back into
/// `Fn::Join` parts with the intrinsics in place.
#[derive(Default)]
pub(super) struct Splicer {
    intrinsics: Vec<(Value, bool)>,
}

const MARK: &str = "@@rds-snapshot-policy-intrinsic-";
/// How the definitions write an integration before its partition is spliced in.
const INTEGRATION_PREFIX: &str = "arn:aws:states:::";

impl Splicer {
    fn marker(&mut self, value: Value, is_list: bool) -> Value {
        self.intrinsics.push((value, is_list));
        Value::String(format!("{MARK}{}@@", self.intrinsics.len() - 1))
    }

    /// `top` is true for the policy map, whose `DestinationAccounts` is a list.
    pub(super) fn replace_in(&mut self, value: Value, top: bool) -> Value {
        match value {
            v if is_intrinsic(&v) => self.marker(v, false),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let v = if top && k == "DestinationAccounts" && is_intrinsic(&v) {
                            self.marker(v, true)
                        } else {
                            self.replace_in(v, false)
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| self.replace_in(v, false))
                    .collect(),
            ),
            other => other,
        }
    }

    /// Step Functions' integration ARNs (`arn:aws:states:::sns:publish`, ...) carry the
    /// stack's partition (`${AWS::Partition}`), so the definitions also work in aws-cn and
    /// aws-us-gov (Step Functions guide, "Integrating services": `arn:<partition>:states:::`).
    fn partitioned(&mut self, value: Value) -> Value {
        match value {
            Value::String(s) if s.starts_with(INTEGRATION_PREFIX) => self.marker(
                json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:states:::{}", &s[INTEGRATION_PREFIX.len()..])}),
                false,
            ),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let v = self.partitioned(v);
                        (k, v)
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.partitioned(v)).collect())
            }
            other => other,
        }
    }

    pub(super) fn join(mut self, definition: Value) -> Value {
        let definition = self.partitioned(definition);
        let text = definition.to_string();
        if self.intrinsics.is_empty() {
            return Value::String(text);
        }
        let mut parts: Vec<Value> = Vec::new();
        let mut literal = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&format!("\"{MARK}")) {
            literal.push_str(&rest[..start]);
            let after = &rest[start + 1 + MARK.len()..];
            let Some(end) = after.find("@@\"") else { break };
            let index: usize = after[..end].parse().unwrap_or(usize::MAX);
            let Some((intrinsic, is_list)) = self.intrinsics.get(index) else {
                break;
            };
            if *is_list {
                literal.push_str("[\"");
                parts.push(Value::String(std::mem::take(&mut literal)));
                parts.push(json!({"Fn::Join": ["\",\"", intrinsic]}));
                literal.push_str("\"]");
            } else {
                literal.push('"');
                parts.push(Value::String(std::mem::take(&mut literal)));
                parts.push(intrinsic.clone());
                literal.push('"');
            }
            rest = &after[end + 3..];
        }
        literal.push_str(rest);
        parts.push(Value::String(literal));
        json!({"Fn::Join": ["", parts]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates an `Fn::Join` whose intrinsics are replaced by `resolve`.
    fn evaluate(v: &Value, resolve: &dyn Fn(&Value) -> String) -> String {
        let parts = v["Fn::Join"][1].as_array().unwrap();
        parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other if other.get("Fn::Join").is_some() => "111111111111\",\"333333333333".into(),
                other => resolve(other),
            })
            .collect()
    }

    #[test]
    fn a_run_stopped_by_its_deadline_runs_again_as_of_the_same_time() {
        let def = definition_string(
            "P",
            "PShareStateMachine",
            Action::Share,
            &Map::new(),
            &json!("arn:aws:lambda:eu-west-1:111111111111:function:p"),
            &json!("arn:aws:sns:eu-west-1:111111111111:t"),
            false,
        );
        let parsed: Value = serde_json::from_str(&evaluate(&def, &|_| "arn:x".into())).unwrap();
        let states = &parsed["States"];
        assert_eq!(states["HasMetrics"]["Default"], "More");
        assert_eq!(states["PublishMetrics"]["Next"], "More");
        let more = &states["More"];
        assert_eq!(more["Default"], "Done");
        // The next round plans as of the same time: the execution's start, like the first.
        assert_eq!(more["Choices"][0]["Next"], "Share");
        assert_eq!(more["Choices"][0]["And"][1]["Variable"], "$.more");
        assert_eq!(more["Choices"][0]["And"][1]["BooleanEquals"], true);
        // Time comes from Step Functions, never from the execution's input (issue 29).
        assert_eq!(parsed["StartAt"], "Share");
        assert_eq!(
            states["Share"]["Parameters"]["now.$"],
            "$$.Execution.StartTime"
        );
        let text = parsed.to_string();
        assert!(
            !text.contains("\"$.time\"") && !text.contains("\"$.now\""),
            "{text}"
        );
        // The provider ends the loop while a round still fits in the execution's limit.
        assert_eq!(
            states["Share"]["Parameters"]["executionStart.$"],
            "$$.Execution.StartTime"
        );
        assert_eq!(parsed["TimeoutSeconds"], states::EXECUTION_TIMEOUT_SECONDS);
        assert_eq!(
            states["Share"]["TimeoutSeconds"],
            states::TASK_TIMEOUT_SECONDS
        );
    }

    #[test]
    fn subjects_stay_under_sns_limit_whatever_the_logical_id() {
        assert_eq!(
            subject("Orders", "take failed"),
            "rds-snapshot-policy Orders: take failed"
        );
        let long = "A".repeat(120) + &"Z".repeat(111);
        let s = subject(&long, "restore drill finished");
        assert!(s.len() < 100, "{} chars: {s}", s.len());
        assert!(
            s.starts_with("rds-snapshot-policy AAA") && s.ends_with("ZZ: restore drill finished")
        );
        assert!(s.contains("..."));
    }

    #[test]
    fn integrations_carry_the_stacks_partition() {
        let def = definition_string(
            "P",
            "PTakeStateMachine",
            Action::Take,
            &Map::new(),
            &json!("arn:aws:lambda:eu-west-1:111111111111:function:p"),
            &json!("arn:aws:sns:eu-west-1:111111111111:t"),
            false,
        );
        let text = def.to_string();
        assert!(!text.contains("arn:aws:states:::"), "{text}");
        assert!(text.contains(r#"{"Fn::Sub":"arn:${AWS::Partition}:states:::sns:publish"}"#));
        assert!(text.contains("states:::aws-sdk:cloudwatch:putMetricData"));
    }

    #[test]
    fn the_loop_stops_while_a_round_still_fits_in_the_execution() {
        // 3,600 s, rounds of at most 900 s plus 60: the last one may start at 2,640 s.
        assert!(states::another_round_fits(0));
        assert!(states::another_round_fits(2640));
        assert!(!states::another_round_fits(2641));
        assert!(!states::another_round_fits(7200));
        assert!(states::another_round_fits(-30), "a clock a little behind");
    }

    #[test]
    fn spliced_definition_is_json_once_resolved() {
        let mut policy = Map::new();
        policy.insert("DBInstanceIdentifier".into(), json!({"Ref": "OrdersDb"}));
        policy.insert("DestinationAccounts".into(), json!({"Ref": "Accounts"}));
        let def = definition_string(
            "P",
            "PTakeStateMachine",
            Action::Take,
            &policy,
            &json!({"Fn::Sub": "arn:aws:lambda:x"}),
            &json!({"Ref": "Topic"}),
            false,
        );
        let text = evaluate(&def, &|v| {
            if v.get("Ref") == Some(&json!("OrdersDb")) {
                "orders".into()
            } else if v.get("Ref") == Some(&json!("AWS::StackId")) {
                "arn:aws:cloudformation:eu-west-1:111111111111:stack/app/1".into()
            } else {
                "arn:x".into()
            }
        });
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let params = &parsed["States"]["Take"]["Parameters"];
        assert_eq!(params["policy"]["DBInstanceIdentifier"], "orders");
        assert_eq!(
            params["policy"]["DestinationAccounts"],
            json!(["111111111111", "333333333333"])
        );
        assert_eq!(parsed["States"]["Take"]["Resource"], "arn:x");
        assert_eq!(
            params["origin"],
            json!({"stack": "arn:aws:cloudformation:eu-west-1:111111111111:stack/app/1", "stateMachine": "PTakeStateMachine"})
        );
    }
}
