//! A policy's identity (pure): the physical ID the provider gives the policy resource, which
//! binds its `PolicyId`, its stack and its exact properties; the state machines the expansion
//! generates for it; the provider the resource must be served by; and who already holds a
//! `PolicyId`. The trust chain (`aws::deployed`) and the custom resource decide with these.

use rds_snapshot_policy_core::contract::{Action, RESOURCE_TYPE};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// CloudFormation's type for a custom resource declared as `AWS::CloudFormation::CustomResource`.
pub const GENERIC_CUSTOM_RESOURCE_TYPE: &str = "AWS::CloudFormation::CustomResource";
/// Every physical ID the provider gives starts with this.
pub const PHYSICAL_ID_PREFIX: &str = "rds-snapshot-policy:";
/// Hex characters of the identity digest kept in the physical ID (96 bits).
const DIGEST_HEX: usize = 24;

/// Whether a CloudFormation resource type is the policy resource.
pub fn is_policy_resource_type(kind: &str) -> bool {
    kind == RESOURCE_TYPE || kind == GENERIC_CUSTOM_RESOURCE_TYPE
}

/// The policy's properties in one text that does not depend on how they travelled:
/// CloudFormation passes a custom resource's scalar values as strings, while a state
/// machine's Task sends the macro's literals as JSON numbers and booleans. Keys are sorted;
/// every scalar becomes its text; arrays keep their order.
pub fn canonical(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
            Value::Null => out.push_str("\"\""),
            other => out.push_str(&Value::String(other.to_string()).to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The digest of a policy resource's identity: the stack that holds it and its properties.
pub fn identity_digest(stack_id: &str, properties: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(stack_id.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical(properties).as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..DIGEST_HEX]
        .to_string()
}

/// The physical ID of a policy resource:
/// `rds-snapshot-policy:<PolicyId>:<role>:<target>:<current>[+<previous>]`. `target` is the
/// readable part (role and database); `current` is the identity digest of the properties the
/// resource holds, `previous` that of the properties it held before its last update (so the
/// Tasks of executions started before an update, a drill's cleanup among them, still match).
pub fn physical_id(policy_id: &str, target: &str, current: &str, previous: Option<&str>) -> String {
    match previous.filter(|p| *p != current) {
        Some(previous) => format!("{PHYSICAL_ID_PREFIX}{policy_id}:{target}:{current}+{previous}"),
        None => format!("{PHYSICAL_ID_PREFIX}{policy_id}:{target}:{current}"),
    }
}

/// The `PolicyId` a physical ID of the provider names (any version of the format).
pub fn policy_id_of(physical_id: &str) -> Option<&str> {
    physical_id
        .strip_prefix(PHYSICAL_ID_PREFIX)?
        .split(':')
        .next()
        .filter(|id| !id.is_empty())
}

/// The identity digests a physical ID holds (current first); none in a physical ID written
/// before identities (a legacy one).
pub fn digests_of(physical_id: &str) -> Vec<&str> {
    if !physical_id.starts_with(PHYSICAL_ID_PREFIX) {
        return Vec::new();
    }
    let last = physical_id.rsplit(':').next().unwrap_or_default();
    let digests: Vec<&str> = last.split('+').collect();
    let well_formed = digests.len() <= 2
        && digests
            .iter()
            .all(|d| d.len() == DIGEST_HEX && d.bytes().all(|b| b.is_ascii_hexdigit()));
    if well_formed { digests } else { Vec::new() }
}

/// The logical ID of the policy resource whose `action` state machine has `state_machine` as
/// its logical ID (the expansion names it `<policy><Action>StateMachine`).
pub fn policy_logical_id(state_machine: &str, action: Action) -> Option<&str> {
    state_machine
        .strip_suffix("StateMachine")?
        .strip_suffix(action.title())
        .filter(|p| !p.is_empty())
}

/// The provider function's ARN a `ServiceToken` written as the template has it resolves to,
/// if it can be known without the stack's parameters: a literal, or `Fn::Sub` of a string
/// using only `AWS::Partition`, `AWS::Region` and `AWS::AccountId` (what the macro writes).
pub fn resolve_service_token(
    token: &Value,
    partition: &str,
    region: &str,
    account: &str,
) -> Option<String> {
    let text = match token {
        Value::String(s) => return Some(s.clone()),
        Value::Object(map) if map.len() == 1 => map.get("Fn::Sub")?.as_str()?,
        _ => return None,
    };
    let resolved = text
        .replace("${AWS::Partition}", partition)
        .replace("${AWS::Region}", region)
        .replace("${AWS::AccountId}", account);
    (!resolved.contains("${")).then_some(resolved)
}

/// A stack resource as CloudFormation lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    pub stack_id: String,
    pub stack_name: String,
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: String,
    pub status: String,
}

/// Whether a resource in this status holds its identity: created (or being updated from a
/// created state); not failed, being created or deleted.
pub fn holds_identity(status: &str) -> bool {
    !(status.is_empty()
        || status.starts_with("DELETE")
        || status == "CREATE_IN_PROGRESS"
        || status == "CREATE_FAILED")
}

/// Another stack's policy resource that already holds `policy_id`, if any: the custom
/// resource refuses to create a second owner.
pub fn owner_of<'a>(
    resources: &'a [StackResource],
    policy_id: &str,
    this_stack: &str,
) -> Option<&'a StackResource> {
    resources.iter().find(|r| {
        r.stack_id != this_stack
            && is_policy_resource_type(&r.resource_type)
            && holds_identity(&r.status)
            && policy_id_of(&r.physical_id) == Some(policy_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STACK: &str = "arn:aws:cloudformation:eu-west-1:111111111111:stack/orders/1";

    #[test]
    fn the_same_policy_has_one_canonical_form_however_it_travelled() {
        let task = json!({"PolicyId": "orders", "RetentionDays": 30, "ShareSnapshots": true,
            "DestinationAccounts": ["222222222222"], "Tiers": {"b": 1, "a": null}});
        let custom_resource = json!({"ShareSnapshots": "true", "RetentionDays": "30",
            "PolicyId": "orders", "DestinationAccounts": ["222222222222"], "Tiers": {"a": null, "b": "1"}});
        assert_eq!(canonical(&task), canonical(&custom_resource));
        assert_eq!(
            identity_digest(STACK, &task),
            identity_digest(STACK, &custom_resource)
        );
        let other = json!({"PolicyId": "orders", "RetentionDays": 1, "ShareSnapshots": true,
            "DestinationAccounts": ["222222222222"], "Tiers": {"b": 1, "a": null}});
        assert_ne!(
            identity_digest(STACK, &task),
            identity_digest(STACK, &other)
        );
        let reordered = json!({"PolicyId": "orders", "RetentionDays": 30, "ShareSnapshots": true,
            "DestinationAccounts": ["333333333333", "222222222222"], "Tiers": {"b": 1, "a": null}});
        let extended = json!({"PolicyId": "orders", "RetentionDays": 30, "ShareSnapshots": true,
            "DestinationAccounts": ["222222222222", "333333333333"], "Tiers": {"b": 1, "a": null}});
        assert_ne!(canonical(&reordered), canonical(&extended));
        // A string that looks like a list is not the list.
        assert_ne!(
            canonical(&json!({"A": "[\"x\"]"})),
            canonical(&json!({"A": ["x"]}))
        );
    }

    #[test]
    fn the_physical_id_is_unique_per_stack_and_names_the_policy() {
        let props = json!({"PolicyId": "orders", "Role": "Source"});
        let digest = identity_digest(STACK, &props);
        let elsewhere = identity_digest(
            "arn:aws:cloudformation:eu-west-1:111111111111:stack/copycat/2",
            &props,
        );
        assert_ne!(digest, elsewhere, "unique per stack");
        let target = "source:db-instance/orders";
        let here = physical_id("orders", target, &digest, None);
        assert!(here.starts_with("rds-snapshot-policy:orders:source:db-instance/orders:"));
        assert_eq!(policy_id_of(&here), Some("orders"));
        assert_eq!(digests_of(&here), [digest.as_str()]);
        let updated = physical_id("orders", target, &elsewhere, Some(&digest));
        assert_eq!(digests_of(&updated), [elsewhere.as_str(), digest.as_str()]);
        assert_eq!(physical_id("orders", target, &digest, Some(&digest)), here);
        let legacy = "rds-snapshot-policy:orders:source:db-instance/orders";
        assert!(digests_of(legacy).is_empty());
        assert_eq!(policy_id_of(legacy), Some("orders"));
        assert_eq!(policy_id_of("something-else:orders"), None);
        assert!(digests_of(&format!("{here}+{digest}+{digest}")).is_empty());
    }

    #[test]
    fn state_machines_belong_to_the_policy_resource_named_before_their_action() {
        assert_eq!(
            policy_logical_id("OrdersDbSnapshotsDeleteStateMachine", Action::Delete),
            Some("OrdersDbSnapshots")
        );
        assert_eq!(
            policy_logical_id("OrdersDbSnapshotsShareStateMachine", Action::Delete),
            None,
            "a share machine does not send delete tasks"
        );
        assert_eq!(policy_logical_id("Evil", Action::Delete), None);
        assert_eq!(
            policy_logical_id("DeleteStateMachine", Action::Delete),
            None
        );
    }

    #[test]
    fn only_service_tokens_that_resolve_without_parameters_are_known() {
        let sub = json!({"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:rds-snapshot-policy-provider"});
        assert_eq!(
            resolve_service_token(&sub, "aws", "eu-west-1", "111111111111").as_deref(),
            Some("arn:aws:lambda:eu-west-1:111111111111:function:rds-snapshot-policy-provider")
        );
        let literal = json!("arn:aws:lambda:eu-west-1:111111111111:function:evil");
        assert_eq!(
            resolve_service_token(&literal, "aws", "eu-west-1", "111111111111").as_deref(),
            Some("arn:aws:lambda:eu-west-1:111111111111:function:evil")
        );
        for unknown in [
            json!({"Ref": "ProviderArn"}),
            json!({"Fn::Sub": "arn:aws:lambda:eu-west-1:111111111111:function:${Name}"}),
            json!({"Fn::ImportValue": "provider"}),
            json!({"Fn::Sub": "x", "Other": 1}),
        ] {
            assert_eq!(
                resolve_service_token(&unknown, "aws", "eu-west-1", "111111111111"),
                None,
                "{unknown}"
            );
        }
    }

    fn resource(stack: &str, kind: &str, physical: &str, status: &str) -> StackResource {
        StackResource {
            stack_id: stack.into(),
            stack_name: stack.rsplit('/').nth(1).unwrap_or(stack).into(),
            logical_id: "P".into(),
            resource_type: kind.into(),
            physical_id: physical.into(),
            status: status.into(),
        }
    }

    #[test]
    fn a_policy_id_has_one_owner_per_account_and_region() {
        let victim = "arn:aws:cloudformation:eu-west-1:1:stack/orders/1";
        let copycat = "arn:aws:cloudformation:eu-west-1:1:stack/copycat/2";
        let held = "rds-snapshot-policy:orders:source:db-instance/orders:0123456789abcdef01234567";
        let resources = vec![
            resource(victim, RESOURCE_TYPE, held, "CREATE_COMPLETE"),
            resource(copycat, RESOURCE_TYPE, "", "CREATE_IN_PROGRESS"),
        ];
        assert_eq!(
            owner_of(&resources, "orders", copycat).map(|r| r.stack_name.as_str()),
            Some("orders")
        );
        assert!(
            owner_of(&resources, "orders", victim).is_none(),
            "its own stack"
        );
        assert!(owner_of(&resources, "orders-2", copycat).is_none());
        let gone = vec![resource(victim, RESOURCE_TYPE, held, "DELETE_COMPLETE")];
        assert!(owner_of(&gone, "orders", copycat).is_none());
        let failed = vec![resource(victim, RESOURCE_TYPE, held, "CREATE_FAILED")];
        assert!(owner_of(&failed, "orders", copycat).is_none());
        let other_type = vec![resource(victim, "AWS::SNS::Topic", held, "CREATE_COMPLETE")];
        assert!(owner_of(&other_type, "orders", copycat).is_none());
        let legacy = vec![resource(
            victim,
            GENERIC_CUSTOM_RESOURCE_TYPE,
            "rds-snapshot-policy:orders:source:db-instance/orders",
            "UPDATE_COMPLETE",
        )];
        assert!(owner_of(&legacy, "orders", copycat).is_some());
    }
}
