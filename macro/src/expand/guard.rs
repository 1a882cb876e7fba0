//! What watches over the recovery points: the tamper rules (CloudTrail API calls on the
//! snapshots and keys by anyone but the provider's role → the topic), the alarm on shares from
//! unknown accounts, and the topic policy that lets EventBridge publish.

use super::alarm::Alarm;
use serde_json::{Map, Value, json};

use rds_snapshot_policy_core::contract::{Action, events, metrics, tamper};
use rds_snapshot_policy_core::policy::{Notification, Policy};
use rds_snapshot_policy_core::spec::Role;

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

/// A readable notification. EventBridge substitutes values without escaping them, and a
/// JSON object may only stand as the value of a field, never inside a string (EventBridge user
/// guide, "Transforming target input"): the template is a JSON object with the request
/// parameters as one field's value.
fn message(p: &str, what: &str) -> Value {
    let alarm = format!("rds-snapshot-policy {p}: {what}");
    json!({
        "InputPathsMap": {
            "event": "$.detail.eventName",
            "who": "$.detail.userIdentity.arn",
            "region": "$.detail.awsRegion",
            "request": "$.detail.requestParameters",
        },
        "InputTemplate": format!(
            "{{\"alarm\": {}, \"event\": \"<event>\", \"by\": \"<who>\", \"region\": \"<region>\", \"request\": <request>, \"help\": \"Only the provider's role changes these; if this was not you, see the README, Tamper alarm.\"}}",
            Value::String(alarm)
        ),
    })
}

/// The keys that protect this policy's copies (DR) or, unknown to a source policy, any key.
/// CloudTrail records a key's ARN in `resources`: a key ARN matches as written, a key ID by
/// its `:key/<id>` suffix (EventBridge suffix matching), an intrinsic both ways (a key's `Ref`
/// is its ID, its `Arn` its ARN). An alias names no key in the event, so a policy naming a key
/// by alias watches every key of the account instead of none.
fn key_filter(policy: &Policy) -> Option<Value> {
    use rds_snapshot_policy_core::kms::{KeyRef, classify};
    use rds_snapshot_policy_core::value::Text;
    if policy.role() != Role::Destination {
        return None;
    }
    let mut matchers = Vec::new();
    for key in [
        &policy.spec.kms_key_destination,
        &policy.spec.kms_key_source,
    ]
    .into_iter()
    .flatten()
    {
        match key {
            Text::Literal(text) => match classify(text) {
                Ok(KeyRef::KeyArn { .. }) => matchers.push(json!(text)),
                Ok(KeyRef::KeyId) => matchers.push(json!({"suffix": format!(":key/{text}")})),
                _ => return None,
            },
            Text::Intrinsic(v) => {
                matchers.push(v.clone());
                matchers.push(json!({"suffix": {"Fn::Join": ["", [":key/", v]]}}));
            }
        }
    }
    (!matchers.is_empty()).then(|| json!({"ARN": matchers}))
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
    // An incident holds the deletes: each rule also starts the delete machine with its event
    // (as the delete schedule's role, which may start only that machine).
    let hold = hold_target(policy);
    let targets = |notify: Value| {
        let mut targets = vec![notify];
        targets.extend(hold.clone());
        Value::Array(targets)
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
                "Targets": targets(json!({"Id": "Notify", "Arn": topic_arn, "InputTransformer": message(p, &format!("{what} were changed"))})),
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
                "Targets": targets(json!({"Id": "Notify", "Arn": topic_arn, "InputTransformer": message(p, "a key was changed")})),
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
                        "Statement": [
                            {
                                // CloudWatch publishes alarm actions as its service principal;
                                // a topic policy that replaces SNS's default must allow it (AWS
                                // Knowledge Center, "CloudWatch alarm SNS notification"; CloudWatch
                                // guide, confused-deputy prevention: aws:SourceAccount).
                                "Sid": "AlarmsPublish",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": topic_arn,
                                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                            },
                            {
                                // EventBridge user guide, "Amazon SNS permissions": condition
                                // blocks can't be used in SNS topic policies for EventBridge.
                                "Sid": "TamperRulesPublish",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": topic_arn,
                            }
                        ]
                    }
                }
            }),
        ));
    }
    if policy.role() == Role::Destination && policy.spec.copies_across_accounts() {
        out.push((
            format!("{p}UnexpectedSharesAlarm"),
            Alarm::on_count(
                metrics::UNEXPECTED_SHARES,
                format!("rds-snapshot-policy {p}: an account outside SourceAccounts shares snapshots matching this policy with the DR account; they are never copied. The copy executions' output names the accounts. See the README, Provenance."),
            )
            .resource(policy_id, topic_arn),
        ));
    }
    if policy.role() == Role::Source && policy.spec.shares() {
        out.push((
            format!("{p}SharedOutsidePolicyAlarm"),
            Alarm::on_count(
                metrics::SHARED_OUTSIDE_POLICY,
                format!("rds-snapshot-policy {p}: a snapshot of this policy is shared with an account the tool did not share it with, or with all (public), as its restore attribute shows. The share executions' output and `status` name them; RevokeUnknownShares removes them. See the README, Provenance."),
            )
            .resource(policy_id, topic_arn),
        ));
    }
    let incident_alarms: Vec<Value> = out
        .iter()
        .map(|(id, _)| id)
        .filter(|id| {
            id.ends_with("UnexpectedSharesAlarm") || id.ends_with("SharedOutsidePolicyAlarm")
        })
        .map(|id| json!({"Fn::GetAtt": [id, "Arn"]}))
        .collect();
    if hold.is_some() {
        out.push((
            format!("{p}DeletesHeldAlarm"),
            Alarm::on_count(
                metrics::DELETES_HELD,
                format!("rds-snapshot-policy {p}: an incident holds this policy's deletes (DeletesHeld): nothing is deleted and snapshots accumulate against the quota until an operator runs `rds-snapshot-policy release`. See the README, Incident hold."),
            )
            .resource(policy_id, topic_arn),
        ));
    }
    if let (Some(target), false) = (hold, incident_alarms.is_empty()) {
        out.push((
            format!("{p}IncidentAlarmRule"),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": format!("rds-snapshot-policy {p}: an incident alarm (snapshots shared from or to an unknown account) holds the deletes"),
                    "State": "ENABLED",
                    "EventPattern": {
                        "source": [events::CLOUDWATCH_SOURCE],
                        "detail-type": [events::ALARM_STATE_CHANGE],
                        "resources": incident_alarms,
                        "detail": {"state": {"value": ["ALARM"]}},
                    },
                    "Targets": [target],
                }
            }),
        ));
    }
    out
}

/// The delete machine as a rule target (none when the policy deletes nothing).
fn hold_target(policy: &Policy) -> Option<Value> {
    let p = policy.logical_id.as_str();
    let deletes = policy
        .spec
        .actions()
        .iter()
        .any(|(action, _)| *action == Action::Delete);
    deletes.then(|| {
        json!({
            "Id": "HoldDeletes",
            "Arn": {"Ref": format!("{p}DeleteStateMachine")},
            "RoleArn": {"Fn::GetAtt": [format!("{p}DeleteScheduleRole"), "Arn"]},
        })
    })
}

/// SCPs are at most 5,120 characters.
pub const SCP_MAX_CHARS: usize = 5120;

/// A service control policy for the policy's accounts: nobody but the provider's role (and
/// the `exempt` role ARNs, such as the deploy role) may delete, unshare, share or retag this
/// policy's snapshots, put the tool's marker on any snapshot, change or disable the keys
/// (`keys`: the DR keys of a destination policy plus any given), or change the provider's
/// role and function.
pub fn service_control_policy(
    spec: &rds_snapshot_policy_core::spec::PolicySpec<String>,
    keys: &[String],
    exempt: &[String],
) -> Value {
    use rds_snapshot_policy_core::contract::{DEFAULT_PROVIDER_FUNCTION, tags};
    let mut principals = vec![json!(format!(
        "arn:*:iam::*:role/{}*",
        tamper::PROVIDER_ROLE_PREFIX
    ))];
    principals.extend(exempt.iter().map(|e| json!(e)));
    let not_exempt = json!({"ArnNotLike": {"aws:PrincipalArn": principals}});
    let snapshots = json!([
        "arn:*:rds:*:*:snapshot:*",
        "arn:*:rds:*:*:cluster-snapshot:*"
    ]);
    let mut protected = not_exempt.clone();
    protected["StringEquals"] = json!({
        format!("aws:ResourceTag/{}", tags::POLICY): spec.policy_id.clone().unwrap_or_default()
    });
    let mut forged = not_exempt.clone();
    forged["ForAnyValue:StringEquals"] =
        json!({"aws:TagKeys": [tags::CREATED_BY, tags::COPIED_BY, tags::POLICY]});
    let mut statements = vec![
        json!({
            "Sid": "ProtectThePolicysSnapshots",
            "Effect": "Deny",
            "Action": tamper::RDS_EVENTS.iter().map(|e| format!("rds:{e}")).collect::<Vec<_>>(),
            "Resource": snapshots,
            "Condition": protected,
        }),
        json!({
            "Sid": "NobodyElsePutsTheToolsTags",
            "Effect": "Deny",
            "Action": ["rds:AddTagsToResource", "rds:RemoveTagsFromResource"],
            "Resource": "*",
            "Condition": forged,
        }),
    ];
    let mut all_keys: Vec<String> = [&spec.kms_key_destination, &spec.kms_key_source]
        .into_iter()
        .flatten()
        .filter(|_| spec.role == Role::Destination)
        .cloned()
        .collect();
    all_keys.extend(keys.iter().cloned());
    all_keys.sort();
    all_keys.dedup();
    if !all_keys.is_empty() {
        statements.push(json!({
            "Sid": "KeepTheKeysUsable",
            "Effect": "Deny",
            "Action": tamper::KMS_EVENTS.iter().map(|e| format!("kms:{e}")).collect::<Vec<_>>(),
            "Resource": all_keys,
            "Condition": not_exempt,
        }));
    }
    statements.push(json!({
        "Sid": "LeaveTheProviderAlone",
        "Effect": "Deny",
        "Action": [
            "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
            "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:DeleteRole",
            "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
            "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction",
            "lambda:AddPermission", "lambda:PublishVersion", "lambda:CreateAlias", "lambda:UpdateAlias",
        ],
        "Resource": [
            format!("arn:*:iam::*:role/{}*", tamper::PROVIDER_ROLE_PREFIX),
            format!("arn:*:lambda:*:*:function:{DEFAULT_PROVIDER_FUNCTION}"),
            format!("arn:*:lambda:*:*:function:{DEFAULT_PROVIDER_FUNCTION}:*"),
        ],
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": exempt}},
    }));
    if exempt.is_empty()
        && let Some(last) = statements.last_mut()
    {
        // Without an exempt role nobody may change the provider, not even its own deployment.
        last.as_object_mut().map(|m| m.remove("Condition"));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use rds_snapshot_policy_core::spec::PolicySpec;

    /// A destination policy's spec needs a DR key (a `policy` may leave it out to be refused).
    fn spec(role: &str, extra: Value) -> PolicySpec<String> {
        let mut extra = extra.as_object().cloned().unwrap_or_default();
        if role == "Destination" {
            extra.entry("KmsKeyDestination").or_insert(json!(
                "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            ));
        }
        policy(role, Value::Object(extra)).spec.resolve().unwrap()
    }

    fn policy(role: &str, extra: Value) -> Policy {
        let mut properties = json!({"Role": role, "PolicyId": "orders", "DBInstanceIdentifier": "orders",
            "DestinationAccounts": ["333333333333"]});
        if role == "Destination" {
            properties = json!({"Role": role, "PolicyId": "dr", "SnapshotPattern": "^orders-",
                "SourceAccounts": ["111111111111"], "DestinationRegion": "eu-central-1"});
        }
        properties
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let resolver = rds_snapshot_policy_core::value::Resolver {
            region: Some("eu-central-1".into()),
            account_id: Some("222222222222".into()),
            ..Default::default()
        };
        rds_snapshot_policy_core::parse_policy("P", &properties, &resolver).unwrap()
    }

    fn resource<'a>(out: &'a [(String, Value)], id: &str) -> &'a Value {
        &out.iter().find(|(k, _)| k == id).unwrap().1["Properties"]
    }

    #[test]
    fn the_topic_policy_lets_cloudwatch_alarms_and_eventbridge_publish() {
        let out = guard_resources(
            &policy("Source", json!({})),
            &json!("orders"),
            &json!({"Ref": "T"}),
        );
        let statements = resource(&out, "PNotificationTopicPolicy")["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
        let by = |service: &str| {
            statements
                .iter()
                .find(|s| s["Principal"]["Service"] == service && s["Action"] == "sns:Publish")
                .unwrap_or_else(|| panic!("no statement lets {service} publish"))
                .clone()
        };
        assert_eq!(
            by("cloudwatch.amazonaws.com")["Condition"]["StringEquals"]["aws:SourceAccount"],
            json!({"Ref": "AWS::AccountId"})
        );
        assert!(
            by("events.amazonaws.com").get("Condition").is_none(),
            "EventBridge: no condition blocks in SNS topic policies"
        );
    }

    #[test]
    fn the_tamper_message_is_json_with_the_request_as_a_field() {
        let out = guard_resources(
            &policy("Source", json!({})),
            &json!("orders"),
            &json!({"Ref": "T"}),
        );
        for rule in ["PTamperRule", "PKeyTamperRule"] {
            let template = resource(&out, rule)["Targets"][0]["InputTransformer"]["InputTemplate"]
                .as_str()
                .unwrap()
                .to_string();
            // What EventBridge sends: placeholders replaced by the event's values as they are.
            let sent = template
                .replace("<event>", "DeleteDBSnapshot")
                .replace("<who>", "arn:aws:sts::111111111111:assumed-role/admin/x")
                .replace("<region>", "eu-west-1")
                .replace("<request>", r#"{"dBSnapshotIdentifier":"orders-1"}"#);
            let parsed: Value =
                serde_json::from_str(&sent).unwrap_or_else(|e| panic!("{rule}: {e}: {sent}"));
            assert_eq!(parsed["request"]["dBSnapshotIdentifier"], "orders-1");
            assert_eq!(parsed["event"], "DeleteDBSnapshot");
        }
    }

    #[test]
    fn key_tamper_rules_match_keys_as_cloudtrail_names_them() {
        let arn = "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let resources = |extra: Value| {
            let out = guard_resources(
                &policy("Destination", extra),
                &json!("dr"),
                &json!({"Ref": "T"}),
            );
            resource(&out, "PKeyTamperRule")["EventPattern"]["detail"]
                .get("resources")
                .cloned()
        };
        assert_eq!(
            resources(json!({"KmsKeyDestination": arn})),
            Some(json!({"ARN": [arn]}))
        );
        assert_eq!(
            resources(json!({"KmsKeyDestination": "1234abcd-12ab-34cd-56ef-1234567890ab"})),
            Some(json!({"ARN": [{"suffix": ":key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}))
        );
        // An alias is not in the event: every key is watched rather than none.
        assert_eq!(resources(json!({"KmsKeyDestination": "alias/dr"})), None);
        let by_ref = resources(json!({"KmsKeyDestination": {"Ref": "DrKey"}})).unwrap();
        assert_eq!(by_ref["ARN"][0], json!({"Ref": "DrKey"}));
        assert_eq!(
            by_ref["ARN"][1]["suffix"]["Fn::Join"][1][1],
            json!({"Ref": "DrKey"})
        );
    }

    #[test]
    fn the_scp_exempts_only_the_provider_and_the_named_roles() {
        let deploy = "arn:aws:iam::222222222222:role/deploy".to_string();
        let scp = service_control_policy(
            &spec("Destination", json!({})),
            &[],
            std::slice::from_ref(&deploy),
        );
        let text = scp.to_string();
        assert!(text.len() <= SCP_MAX_CHARS, "{}", text.len());
        let statements = scp["Statement"].as_array().unwrap();
        assert!(statements.iter().all(|s| s["Effect"] == "Deny"));
        let sids: Vec<&str> = statements
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert_eq!(
            sids,
            [
                "ProtectThePolicysSnapshots",
                "NobodyElsePutsTheToolsTags",
                "KeepTheKeysUsable",
                "LeaveTheProviderAlone"
            ]
        );
        assert_eq!(
            statements[0]["Condition"]["StringEquals"]["aws:ResourceTag/rds-snapshot-policy:policy"],
            "dr"
        );
        assert_eq!(
            statements[0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
            json!(["arn:*:iam::*:role/rds-snapshot-policy-provider-*", deploy])
        );
        assert!(
            statements[2]["Resource"][0]
                .as_str()
                .unwrap()
                .contains(":key/1234abcd")
        );
        // The provider itself may not change its own role.
        assert_eq!(
            statements[3]["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
            json!([deploy])
        );
    }

    #[test]
    fn a_source_policy_protects_given_keys_and_without_exemptions_locks_the_provider() {
        let none = service_control_policy(&spec("Source", json!({})), &[], &[]);
        let sids: Vec<&str> = none["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert!(
            !sids.contains(&"KeepTheKeysUsable"),
            "a source policy names no key"
        );
        assert!(
            none["Statement"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .get("Condition")
                .is_none()
        );
        let key = "arn:aws:kms:eu-west-1:111111111111:key/abcd".to_string();
        let keyed =
            service_control_policy(&spec("Source", json!({})), std::slice::from_ref(&key), &[]);
        assert!(keyed.to_string().contains(&key));
    }
}
