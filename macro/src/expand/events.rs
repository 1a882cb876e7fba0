//! The event-driven chain (`EventDriven`, default true). Source: the RDS event that one of the
//! policy's snapshots is available starts the share at once; the share puts an announcement on
//! this account's default bus, and a forwarding rule sends it to each DR account's bus (a rule
//! with event-bus targets: the documented way across accounts and regions). DR: the
//! announcement (from `SourceAccounts` only, allowed by a bus policy generated here) and the
//! RDS event that a copy finished start the copy. The schedules stay as the fallback: RDS
//! delivers events best effort.

use serde_json::{Value, json};

use rds_snapshot_policy_core::contract::{Action, events};
use rds_snapshot_policy_core::policy::Policy;
use rds_snapshot_policy_core::spec::{Role, Target};
use rds_snapshot_policy_core::value::Text;

/// The rules (and the DR bus policy) of `policy`, as (logical ID, resource).
/// `policy_id` is the normalized PolicyId (a literal or the expansion's `Fn::Sub`).
pub fn event_resources(policy: &Policy, policy_id: &Value) -> Vec<(String, Value)> {
    let p = policy.logical_id.as_str();
    let spec = &policy.spec;
    let mut out = Vec::new();
    match spec.role {
        Role::Source if spec.shares() => {
            let mut ids = vec![
                events::MANUAL_SNAPSHOT_CREATED,
                events::MANUAL_CLUSTER_SNAPSHOT_CREATED,
            ];
            if spec.reencrypts() {
                // The copy under ReencryptKmsKey finished: share it at once.
                ids.push(events::LOCAL_COPY_FINISHED);
            }
            let mut detail = json!({ "EventID": ids });
            // One database: only its snapshots (named `<db>-…`) start this policy's share.
            if let Some(Target::Instance(Text::Literal(db)) | Target::Cluster(Text::Literal(db))) =
                spec.target()
            {
                detail["SourceIdentifier"] = json!([{"prefix": format!("{db}-")}]);
            }
            out.push(rule(
                p,
                Action::Share,
                "SnapshotCreatedRule",
                "a snapshot became available: share it at once",
                json!({
                    "source": [events::RDS_SOURCE],
                    "detail-type": [events::DB_SNAPSHOT_EVENT, events::DB_CLUSTER_SNAPSHOT_EVENT],
                    "detail": detail,
                }),
            ));
            out.extend(forwarding(policy, policy_id));
        }
        Role::Source => {}
        Role::Destination => {
            out.push(rule(
                p,
                Action::Copy,
                "CopyFinishedRule",
                "a copy finished: refill the freed copy slot at once",
                json!({
                    "source": [events::RDS_SOURCE],
                    "detail-type": [events::DB_SNAPSHOT_EVENT],
                    "detail": {"EventID": [events::CROSS_REGION_COPY_FINISHED, events::LOCAL_COPY_FINISHED]},
                }),
            ));
            let accounts: Vec<Value> = spec
                .source_account_list()
                .iter()
                .map(Text::to_value)
                .collect();
            if !accounts.is_empty() && spec.copies_across_accounts() {
                out.push(rule(
                    p,
                    Action::Copy,
                    "SharedRule",
                    "a source account shared snapshots: copy them at once",
                    json!({
                        "source": [events::SOURCE],
                        "detail-type": [events::SNAPSHOTS_SHARED],
                        "account": accounts,
                    }),
                ));
                out.push((format!("{p}EventBusPolicy"), bus_policy(p, &accounts)));
            }
        }
    }
    out
}

fn rule(p: &str, action: Action, suffix: &str, why: &str, pattern: Value) -> (String, Value) {
    let a = action.title();
    (
        format!("{p}{suffix}"),
        json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": format!("rds-snapshot-policy {p}: {why}"),
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [{
                    "Id": format!("{p}{a}"),
                    "Arn": {"Ref": format!("{p}{a}StateMachine")},
                    "RoleArn": {"Fn::GetAtt": [format!("{p}{a}ScheduleRole"), "Arn"]},
                }],
            }
        }),
    )
}

/// Lets the source accounts put the announcement, and nothing else, on the default bus.
fn bus_policy(p: &str, accounts: &[Value]) -> Value {
    let principals: Vec<Value> = accounts
        .iter()
        .map(|a| json!({"Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:root", {"Account": a}]}))
        .collect();
    json!({
        "Type": "AWS::Events::EventBusPolicy",
        "Properties": {
            "EventBusName": events::DEFAULT_BUS,
            "StatementId": {"Fn::Join": ["-", [
                "rsp",
                {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]},
                short_hash(p),
            ]]},
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": "events:PutEvents",
                "Resource": {"Fn::Sub": format!("arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{}", events::DEFAULT_BUS)},
                "Condition": {"StringEquals": {
                    events::SOURCE_CONDITION_KEY: events::SOURCE,
                    events::DETAIL_TYPE_CONDITION_KEY: events::SNAPSHOTS_SHARED,
                }},
            },
        }
    })
}

/// This account's default bus in this region, where the share puts its announcement.
pub fn own_default_bus() -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{}", events::DEFAULT_BUS)})
}

/// The forwarding rules (at most 5 targets each) and their role: this policy's announcements
/// go from the default bus to each DR bus.
fn forwarding(policy: &Policy, policy_id: &Value) -> Vec<(String, Value)> {
    let p = policy.logical_id.as_str();
    let buses = match destination_bus_arns(policy) {
        Value::Array(items) => items,
        other => vec![other],
    };
    let role = format!("{p}ForwardRole");
    let mut out = vec![(
        role.clone(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": format!("rds-snapshot-policy {p}: forwards share announcements to the DR accounts' event buses"),
                "AssumeRolePolicyDocument": super::trust::service_trust("events.amazonaws.com"),
                "Policies": [{
                    "PolicyName": "put-on-dr-buses",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                        "Sid": "PutOnTheDrBusesOnly",
                        "Effect": "Allow",
                        "Action": "events:PutEvents",
                        "Resource": buses.clone(),
                    }]},
                }],
            }
        }),
    )];
    for (i, chunk) in buses.chunks(events::MAX_TARGETS_PER_RULE).enumerate() {
        let suffix = if i == 0 {
            String::new()
        } else {
            (i + 1).to_string()
        };
        let targets: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(j, bus)| {
                json!({
                    "Id": format!("DrBus{}", i * events::MAX_TARGETS_PER_RULE + j + 1),
                    "Arn": bus,
                    "RoleArn": {"Fn::GetAtt": [role.clone(), "Arn"]},
                })
            })
            .collect();
        out.push((
            format!("{p}ForwardRule{suffix}"),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": format!("rds-snapshot-policy {p}: forwards its share announcements to the DR accounts"),
                    "EventPattern": {
                        "source": [events::SOURCE],
                        "detail-type": [events::SNAPSHOTS_SHARED],
                        "detail": {"policy": [policy_id]},
                    },
                    "State": "ENABLED",
                    "Targets": targets,
                }
            }),
        ));
    }
    out
}

/// The DR buses a source policy's announcements go to: DestinationEventBusArn, else each
/// destination account's default bus in this region.
pub fn destination_bus_arns(policy: &Policy) -> Value {
    let spec = &policy.spec;
    if let Some(buses) = &spec.destination_event_bus_arns {
        return Value::Array(buses.iter().map(Text::to_value).collect());
    }
    let default_bus = |account: Value| {
        json!({"Fn::Sub": [
            format!("arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{Account}}:event-bus/{}", events::DEFAULT_BUS),
            {"Account": account},
        ]})
    };
    if policy.destination_accounts_intrinsic.is_some() && spec.accounts().is_empty() {
        // A list known only at deploy time: any account's default bus in this region.
        return json!([default_bus(json!("*"))]);
    }
    Value::Array(
        spec.accounts()
            .iter()
            .map(|a| default_bus(a.to_value()))
            .collect(),
    )
}

/// Six hex digits of FNV-1a: distinguishes policies of one stack within the 64-character
/// StatementId.
fn short_hash(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:06x}", hash & 0xff_ffff)
}
