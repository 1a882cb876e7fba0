//! What watches over the recovery points: the tamper rules (CloudTrail API calls on the
//! snapshots and keys by anyone but the provider's role → the topic), the alarm on shares from
//! unknown accounts, and the topic policy that lets EventBridge publish.

use serde_json::{Map, Value, json};

use crate::contract::{events, metrics, tamper};
use crate::policy::{Notification, Policy};
use crate::spec::Role;

/// The provider role's ARN in the stack's account and region (see `tamper::PROVIDER_ROLE_PREFIX`).
pub fn provider_role_arn() -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{}${{AWS::Region}}", tamper::PROVIDER_ROLE_PREFIX)})
}

/// Calls by anyone but the provider's role: an assumed role other than it, or any other kind
/// of identity (IAM users and root carry no session issuer).
fn not_the_provider() -> Value {
    json!([
        {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": [{"anything-but": provider_role_arn()}]}}}},
        {"userIdentity": {"type": [{"anything-but": "AssumedRole"}]}}
    ])
}

/// A readable notification: what was called, by whom, on what.
fn message(p: &str, what: &str) -> Value {
    json!({
        "InputPathsMap": {
            "event": "$.detail.eventName",
            "who": "$.detail.userIdentity.arn",
            "region": "$.detail.awsRegion",
            "request": "$.detail.requestParameters",
        },
        "InputTemplate": format!(
            "\"rds-snapshot-policy {p}: {what}: <event> by <who> in <region> on <request>. Only the provider's role changes these; if this was not you, see the README, Tamper alarm.\""
        ),
    })
}

/// The keys that protect this policy's copies (DR) or, unknown to a source policy, any key.
fn key_filter(policy: &Policy) -> Option<Value> {
    if policy.role() != Role::Destination {
        return None;
    }
    let keys: Vec<Value> = [
        &policy.spec.kms_key_destination,
        &policy.spec.kms_key_source,
    ]
    .into_iter()
    .flatten()
    .map(|k| k.to_value())
    .collect();
    (!keys.is_empty()).then(|| json!({"ARN": keys}))
}

pub(super) fn guard_resources(
    policy: &Policy,
    policy_id: &Value,
    topic_arn: &Value,
) -> Vec<(String, Value)> {
    let p = policy.logical_id.as_str();
    let what = match policy.role() {
        Role::Source => "the tool's snapshots",
        Role::Destination => "the DR copies",
    };
    let mut out = vec![(
        format!("{p}TamperRule"),
        json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": format!("rds-snapshot-policy {p}: {what} deleted, unshared, shared or retagged by a principal other than the provider (needs a CloudTrail trail)"),
                "State": "ENABLED",
                "EventPattern": {
                    "source": [events::RDS_SOURCE],
                    "detail-type": [tamper::DETAIL_TYPE],
                    "detail": {
                        "eventSource": [tamper::RDS_EVENT_SOURCE],
                        "eventName": tamper::RDS_EVENTS,
                        "$or": not_the_provider(),
                    }
                },
                "Targets": [{"Id": "Notify", "Arn": topic_arn, "InputTransformer": message(p, &format!("{what} were changed"))}],
            }
        }),
    )];
    let mut key_detail = Map::new();
    key_detail.insert("eventSource".into(), json!([tamper::KMS_EVENT_SOURCE]));
    key_detail.insert("eventName".into(), json!(tamper::KMS_EVENTS));
    key_detail.insert("$or".into(), not_the_provider());
    if let Some(filter) = key_filter(policy) {
        key_detail.insert("resources".into(), filter);
    }
    out.push((
        format!("{p}KeyTamperRule"),
        json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": format!("rds-snapshot-policy {p}: a KMS key protecting {what} scheduled for deletion, disabled or given a new key policy (needs a CloudTrail trail)"),
                "State": "ENABLED",
                "EventPattern": {
                    "source": [tamper::KMS_SOURCE],
                    "detail-type": [tamper::DETAIL_TYPE],
                    "detail": Value::Object(key_detail),
                },
                "Targets": [{"Id": "Notify", "Arn": topic_arn, "InputTransformer": message(p, "a key was changed")}],
            }
        }),
    ));
    if !matches!(policy.notification, Notification::Topic(_)) {
        out.push((
            format!("{p}NotificationTopicPolicy"),
            json!({
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [topic_arn],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Sid": "TamperRulesPublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": topic_arn,
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }]
                    }
                }
            }),
        ));
    }
    if policy.role() == Role::Destination && policy.spec.copies_across_accounts() {
        out.push((
            format!("{p}UnexpectedSharesAlarm"),
            json!({
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmDescription": format!("rds-snapshot-policy {p}: an account outside SourceAccounts shares snapshots matching this policy with the DR account; they are never copied. The copy executions' output names the accounts. See the README, Provenance."),
                    "Namespace": metrics::NAMESPACE,
                    "MetricName": metrics::UNEXPECTED_SHARES,
                    "Dimensions": [{"Name": metrics::DIMENSION_POLICY, "Value": policy_id}],
                    "Statistic": "Maximum",
                    "Period": 300,
                    "EvaluationPeriods": 1,
                    "Threshold": 0,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": [topic_arn],
                    "OKActions": [topic_arn],
                }
            }),
        ));
    }
    out
}
