//! The resources one policy expands into.

use serde_json::{Map, Value, json};

use super::alarm::Alarm;
use super::definition::definition_string;
use super::trust::service_trust;
use rds_snapshot_policy_core::contract::{
    Action, attributes, events, generated_properties, metadata, metrics,
};
use rds_snapshot_policy_core::policy::{Notification, Policy};
use rds_snapshot_policy_core::spec::Role;

/// The generated resources of one policy, in output order.
pub struct Generated {
    pub resources: Vec<(String, Value)>,
    /// The policy resource itself, rewritten as a provider-backed custom resource.
    pub policy_resource: Value,
}

const TAG_KEY: &str = "rds-snapshot-policy";

/// Expands `policy` (declared as `original`) with the provider reachable at `provider_arn`.
/// `is_parameter` tells which names are template parameters: a property that was a `Ref` to
/// one keeps its `Ref` in the output (its value served validation only).
pub fn generate(
    policy: &Policy,
    original: &Map<String, Value>,
    provider_arn: &Value,
    is_parameter: &dyn Fn(&str) -> bool,
) -> Generated {
    let p = policy.logical_id.as_str();
    let mut out: Vec<(String, Value)> = Vec::new();
    let tags = json!([{"Key": TAG_KEY, "Value": p}]);

    let topic_arn = match &policy.notification {
        Notification::Topic(arn) => arn.to_value(),
        Notification::Created | Notification::Email(_) => {
            out.push((format!("{p}NotificationKey"), notification_key(p)));
            out.push((
                format!("{p}NotificationTopic"),
                json!({
                    "Type": "AWS::SNS::Topic",
                    "Properties": {
                        "DisplayName": format!("rds-snapshot-policy {p}"),
                        "KmsMasterKeyId": {"Ref": format!("{p}NotificationKey")},
                        "Tags": tags,
                    }
                }),
            ));
            if let Notification::Email(address) = &policy.notification {
                out.push((
                    format!("{p}NotificationSubscription"),
                    json!({
                        "Type": "AWS::SNS::Subscription",
                        "Properties": {
                            "Protocol": "email",
                            "Endpoint": address,
                            "TopicArn": {"Ref": format!("{p}NotificationTopic")},
                        }
                    }),
                ));
            }
            json!({"Ref": format!("{p}NotificationTopic")})
        }
    };

    let mut normalized = policy.to_properties();
    if let Some(given) = original.get("Properties").and_then(Value::as_object) {
        for (key, value) in normalized.iter_mut() {
            let parameter_ref = given
                .get(key)
                .and_then(|v| v.get("Ref"))
                .and_then(Value::as_str)
                .filter(|name| is_parameter(name));
            if parameter_ref.is_some() {
                *value = given[key].clone();
            }
        }
    }
    if policy.spec.policy_id.is_none() {
        normalized.insert(
            "PolicyId".into(),
            json!({"Fn::Sub": format!("${{AWS::StackName}}-{p}")}),
        );
        // Keep the order stable: PolicyId right after Role.
        let role = normalized.shift_remove("Role");
        let id = normalized.shift_remove("PolicyId");
        let mut reordered = Map::new();
        reordered.insert("Role".into(), role.unwrap_or(Value::Null));
        reordered.insert("PolicyId".into(), id.unwrap_or(Value::Null));
        reordered.extend(normalized);
        normalized = reordered;
    }

    let actions = policy.spec.actions();
    let announces = policy.spec.shares() && policy.spec.is_event_driven();
    let mut machines = Map::new();
    for &(action, _) in &actions {
        let name = format!("{p}{}StateMachine", action.title());
        machines.insert(action.name().to_string(), json!({"Ref": name}));
    }

    out.push((
        format!("{p}StateMachineRole"),
        state_machine_role(p, provider_arn, &topic_arn, policy, &tags),
    ));

    for &(action, schedule) in &actions {
        let a = action.title();
        let machine = format!("{p}{a}StateMachine");
        // SpreadSnapshots: the deploy-time check answers the database's own minute, known only
        // once CloudFormation has resolved the identifier (often a Ref to the database).
        let expression = if action == Action::Take && policy.spec.spreads_snapshots() {
            json!({"Fn::GetAtt": [p, attributes::BACKUP_SCHEDULE]})
        } else {
            json!(schedule.expression())
        };
        out.push((
            machine.clone(),
            json!({
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineType": "STANDARD",
                    "RoleArn": {"Fn::GetAtt": [format!("{p}StateMachineRole"), "Arn"]},
                    "DefinitionString": if action == Action::Drill {
                        super::drill::drill_definition(p, &machine, &normalized, provider_arn, &topic_arn)
                    } else {
                        definition_string(p, &machine, action, &normalized, provider_arn, &topic_arn, action == Action::Share && announces)
                    },
                    "Tags": tags,
                }
            }),
        ));
        out.push((
            format!("{p}{a}ScheduleRole"),
            schedule_role(p, action, &machine, &tags),
        ));
        out.push((
            format!("{p}{a}Schedule"),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": format!("rds-snapshot-policy {p}: starts the {action} state machine"),
                    "ScheduleExpression": expression,
                    "State": "ENABLED",
                    "Targets": [{
                        "Id": format!("{p}{a}"),
                        "Arn": {"Ref": machine},
                        "RoleArn": {"Fn::GetAtt": [format!("{p}{a}ScheduleRole"), "Arn"]},
                    }],
                }
            }),
        ));
        for (metric, suffix, what) in [
            (metrics::EXECUTIONS_FAILED, "FailedAlarm", "failed"),
            (metrics::EXECUTIONS_TIMED_OUT, "TimedOutAlarm", "timed out"),
        ] {
            out.push((
                format!("{p}{a}{suffix}"),
                json!({
                    "Type": "AWS::CloudWatch::Alarm",
                    "Properties": {
                        "AlarmDescription": format!("rds-snapshot-policy {p}: an execution of the {action} state machine {what}"),
                        "Namespace": metrics::STATES_NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine}}],
                        "Statistic": "Sum",
                        "Period": 300,
                        "EvaluationPeriods": 1,
                        "Threshold": 1,
                        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                        "TreatMissingData": "notBreaching",
                        "AlarmActions": [topic_arn],
                        "OKActions": [topic_arn],
                    }
                }),
            ));
        }
    }

    if policy.spec.is_event_driven() {
        out.extend(super::events::event_resources(
            policy,
            normalized.get("PolicyId").unwrap_or(&Value::Null),
        ));
    }
    let policy_id = normalized.get("PolicyId").cloned().unwrap_or(Value::Null);
    for (name, alarm) in [
        ("RpoAlarm", rpo_alarm(policy)),
        ("RpoForecastAlarm", rpo_forecast_alarm(policy)),
    ] {
        if let Some(alarm) = alarm {
            out.push((format!("{p}{name}"), alarm.resource(&policy_id, &topic_arn)));
        }
    }
    out.extend(super::drill::drill_resources(
        policy,
        normalized.get("PolicyId").unwrap_or(&Value::Null),
        &topic_arn,
    ));
    out.extend(super::guard::guard_resources(
        policy,
        normalized.get("PolicyId").unwrap_or(&Value::Null),
        &topic_arn,
    ));
    let machine_ids: Vec<(Action, String)> = actions
        .iter()
        .map(|&(action, _)| (action, format!("{p}{}StateMachine", action.title())))
        .collect();
    out.push(super::dashboard::dashboard(
        policy,
        normalized.get("PolicyId").unwrap_or(&Value::Null),
        &machine_ids,
    ));

    let mut properties = Map::new();
    properties.insert(
        generated_properties::SERVICE_TOKEN.into(),
        provider_arn.clone(),
    );
    properties.extend(normalized);
    properties.insert(
        generated_properties::GENERATED_RESOURCES.into(),
        json!({
            "StateMachines": machines,
            "NotificationTopic": topic_arn,
            generated_properties::NOTIFICATION_SUBSCRIBER: match &policy.notification {
                Notification::Email(_) => "email",
                Notification::Topic(_) => "topic",
                Notification::Created => generated_properties::SUBSCRIBER_NONE,
            },
        }),
    );
    properties.insert(
        generated_properties::IDENTITY_VERSION.into(),
        json!(generated_properties::CURRENT_IDENTITY_VERSION),
    );
    let mut resource = original.clone();
    resource.insert("Properties".into(), Value::Object(properties));
    if !policy.warnings.is_empty() {
        let mut metadata = resource
            .get("Metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        metadata.insert(
            metadata::WARNINGS.into(),
            json!(
                policy
                    .warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ),
        );
        resource.insert("Metadata".into(), Value::Object(metadata));
    }
    if let Some(worst) = rds_snapshot_policy_core::rpo::worst_case(&policy.spec) {
        let description = worst.describe();
        resource
            .entry("Metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(metadata::WORST_CASE_RPO.into(), json!(description)));
    }

    // Generated resources follow the policy's Condition, so a disabled policy leaves nothing.
    if let Some(condition) = original.get("Condition") {
        for (_, r) in out.iter_mut() {
            if let Some(m) = r.as_object_mut() {
                m.insert("Condition".into(), condition.clone());
            }
        }
    }
    Generated {
        resources: out,
        policy_resource: Value::Object(resource),
    }
}

/// The alarm on the oldest recovery point of the policy's databases: over RpoMinutes, or no
/// age reported for a whole period (missing data is breaching, so a stopped pipeline alarms).
/// The period covers the longest gap of the sweep that reports the ages.
fn rpo_alarm(policy: &Policy) -> Option<Alarm<'static>> {
    let spec = &policy.spec;
    let (reporter, what) = match spec.role {
        Role::Destination => (spec.copy_schedule.as_ref(), "DR copy"),
        Role::Source if spec.shares() => (spec.share_schedule.as_ref(), "source snapshot"),
        Role::Source => (spec.backup_schedule.as_ref(), "source snapshot"),
    };
    let period = reporting_period(reporter)?;
    let description = format!(
        "rds-snapshot-policy {}: the newest {what} of a database is older than RpoMinutes ({} minutes), or no age was reported for {} minutes. See the README, RPO.",
        policy.logical_id,
        spec.rpo_minutes,
        period / 60
    );
    Some(Alarm {
        metric: metrics::RECOVERY_POINT_AGE,
        description,
        period,
        threshold: spec.rpo_minutes,
        missing: "breaching",
    })
}

/// DR: the alarm on the forecast worst case from measured copy times (`RpoForecastMinutes`,
/// published by every copy run): it fires while the recovery points are still in time, when a
/// measured term has grown enough to take the worst case past RpoMinutes. Silence is left to
/// the RPO alarm, which treats missing data as breaching.
fn rpo_forecast_alarm(policy: &Policy) -> Option<Alarm<'static>> {
    let spec = &policy.spec;
    if spec.role != Role::Destination {
        return None;
    }
    let period = reporting_period(spec.copy_schedule.as_ref())?;
    let description = format!(
        "rds-snapshot-policy {}: the worst case forecast from measured copy times exceeds RpoMinutes ({} minutes); a recovery point will be late unless copies speed up. `rds-snapshot-policy status` names the term that grew.",
        policy.logical_id, spec.rpo_minutes
    );
    // Silence is left to the RPO alarm.
    Some(Alarm {
        threshold: spec.rpo_minutes,
        period,
        ..Alarm::on_count(metrics::RPO_FORECAST, description)
    })
}

/// An alarm period covering the longest gap of the sweep that reports the metric (10 minutes
/// at least, a day at most).
fn reporting_period(
    reporter: Option<&rds_snapshot_policy_core::schedule::Schedule>,
) -> Option<u64> {
    let gap = reporter?.longest_gap()?.num_seconds().max(0) as u64;
    Some(((gap + 300).div_ceil(60).max(10) * 60).min(86_400))
}

fn notification_key(p: &str) -> Value {
    json!({
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "Description": format!("rds-snapshot-policy {p}: encrypts the notification topic"),
            "EnableKeyRotation": true,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "AlarmsPublishToEncryptedTopic",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    },
                    {
                        // EventBridge guide, "Amazon SNS permissions" for encrypted topics: the
                        // key statement for EventBridge carries no condition block.
                        "Sid": "TamperRulesPublishToEncryptedTopic",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                    }
                ]
            },
        }
    })
}

fn state_machine_role(
    p: &str,
    provider_arn: &Value,
    topic_arn: &Value,
    policy: &Policy,
    tags: &Value,
) -> Value {
    let mut statements = vec![
        json!({
            "Sid": "InvokeTheProviderOnly",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [provider_arn, {"Fn::Join": [":", [provider_arn, "*"]]}],
        }),
        json!({
            "Sid": "NotifyOnFailure",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": topic_arn,
        }),
        json!({
            "Sid": "PublishRecoveryPointAges",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {metrics::NAMESPACE_CONDITION_KEY: metrics::NAMESPACE}},
        }),
    ];
    if policy.spec.shares() && policy.spec.is_event_driven() {
        statements.push(json!({
            "Sid": "AnnounceSharesOnTheDefaultBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": super::events::own_default_bus(),
            "Condition": {"StringEquals": {events::SOURCE_CONDITION_KEY: events::SOURCE}},
        }));
    }
    if let (true, Some(function)) = (
        policy.spec.drills(),
        &policy.spec.drill_validation_function_arn,
    ) {
        statements.push(json!({
            "Sid": "InvokeTheDrillValidationFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": function.to_value(),
        }));
    }
    if !matches!(policy.notification, Notification::Topic(_)) {
        statements.push(json!({
            "Sid": "UseTheTopicKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": {"Fn::GetAtt": [format!("{p}NotificationKey"), "Arn"]},
        }));
    }
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": format!("rds-snapshot-policy {p} ({} role): state machines invoke the provider", match policy.role() { Role::Source => "source", Role::Destination => "destination" }),
            "AssumeRolePolicyDocument": service_trust("states.amazonaws.com"),
            "Policies": [{
                "PolicyName": "invoke-provider",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }],
            "Tags": tags,
        }
    })
}

fn schedule_role(p: &str, action: Action, machine: &str, tags: &Value) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": format!("rds-snapshot-policy {p}: the {action} schedule starts its state machine"),
            "AssumeRolePolicyDocument": service_trust("events.amazonaws.com"),
            "Policies": [{
                "PolicyName": "start-executions",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "StartItsStateMachineOnly",
                        "Effect": "Allow",
                        "Action": "states:StartExecution",
                        "Resource": {"Ref": machine},
                    }]
                },
            }],
            "Tags": tags,
        }
    })
}
