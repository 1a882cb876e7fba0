//! `expand(template, context)`: every `Custom::RdsSnapshotPolicy` becomes its pipeline.

mod alarm;
mod dashboard;
mod definition;
mod drill;
mod events;
pub mod guard;
mod resources;
mod trust;

use serde_json::{Map, Value, json};

use rds_snapshot_policy_core::contract::RESOURCE_TYPE;
pub use rds_snapshot_policy_core::contract::{DEFAULT_PROVIDER_FUNCTION, TRANSFORM_NAME};
use rds_snapshot_policy_core::error::{PolicyError, PolicyWarning};
use rds_snapshot_policy_core::policy::{Policy, parse_policy};
use rds_snapshot_policy_core::spec::{Role, Target};
use rds_snapshot_policy_core::value::Resolver;
use rds_snapshot_policy_core::value::Text;

/// CloudFormation's limits on a processed template.
pub const MAX_RESOURCES: usize = 500;
/// The fewest resources a policy expands into (itself, one state machine, its role, schedule,
/// schedule role, two alarms, two tamper rules, the dashboard): the bound checked before
/// expanding.
pub const MIN_RESOURCES_PER_POLICY: usize = 10;
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;
pub const MAX_INLINE_TEMPLATE_BYTES: usize = 51_200;

/// What a template of `size` bytes means for deploying it (the macro measures the compact
/// JSON it hands CloudFormation; the CLI measures the bytes it writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeFinding {
    /// Over CloudFormation's 1 MB: no stack takes it.
    TooLarge(String),
    /// Over the 51,200 bytes of `TemplateBody` (`--template-body`): it must come from S3.
    NotInline(String),
}

pub fn size_finding(size: usize) -> Option<SizeFinding> {
    if size > MAX_TEMPLATE_BYTES {
        Some(SizeFinding::TooLarge(format!(
            "the expanded template is {size} bytes; CloudFormation allows {MAX_TEMPLATE_BYTES}: split the policies over several stacks"
        )))
    } else if size > MAX_INLINE_TEMPLATE_BYTES {
        Some(SizeFinding::NotInline(format!(
            "the expanded template is {size} bytes, over the {MAX_INLINE_TEMPLATE_BYTES} bytes CloudFormation accepts inline (TemplateBody, --template-body): upload it to S3 and pass its URL (--template-url; sceptre's template_bucket_name does this)"
        )))
    } else {
        None
    }
}

/// What the expansion knows beyond the template.
#[derive(Debug, Clone)]
pub struct ExpandContext {
    pub region: Option<String>,
    pub account_id: Option<String>,
    /// `templateParameterValues` (macro) or `--param` (CLI).
    pub parameters: Map<String, Value>,
    /// Name of the provider Lambda in this account and region.
    pub provider_function: String,
    /// The clock a schedule that can never fire again is judged by (the system clock in the
    /// Lambda and the CLI, pinned in tests); `None` skips that check.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for ExpandContext {
    fn default() -> Self {
        Self {
            region: None,
            account_id: None,
            parameters: Map::new(),
            provider_function: DEFAULT_PROVIDER_FUNCTION.to_string(),
            now: None,
        }
    }
}

/// An expanded template and the warnings met on the way.
#[derive(Debug, Clone)]
pub struct Expansion {
    pub template: Value,
    pub warnings: Vec<PolicyWarning>,
}

fn template_error(message: impl Into<String>) -> Vec<PolicyError> {
    vec![PolicyError::new("Template", "", message)]
}

/// Expands every policy resource of `template`. All errors of all policies come back at once.
pub fn expand(template: &Value, context: &ExpandContext) -> Result<Expansion, Vec<PolicyError>> {
    let Some(root) = template.as_object() else {
        return Err(template_error("the template must be a JSON or YAML object"));
    };
    let Some(resources) = root.get("Resources") else {
        return Err(template_error("the template has no Resources section"));
    };
    let Some(resources) = resources.as_object() else {
        return Err(template_error("Resources must be an object of logical IDs"));
    };
    // Refuse early what can only exceed CloudFormation's resource limit: expanding thousands
    // of policies first would take memory without bound (the macro Lambda has 256 MB).
    let policies = resources
        .values()
        .filter(|r| r.get("Type").and_then(Value::as_str) == Some(RESOURCE_TYPE))
        .count();
    let least = resources.len() - policies + policies * MIN_RESOURCES_PER_POLICY;
    if least > MAX_RESOURCES {
        return Err(template_error(format!(
            "the template has {policies} policies; each expands into at least {MIN_RESOURCES_PER_POLICY} resources, so the expansion would exceed CloudFormation's {MAX_RESOURCES}: split the policies over several stacks"
        )));
    }
    let resolver = resolver_for(root, context);
    let provider_arn = json!({"Fn::Sub": format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
        context.provider_function
    )});

    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut output = Map::new();
    let mut claims = Claims::default();
    for (logical_id, resource) in resources {
        let is_policy = resource.get("Type").and_then(Value::as_str) == Some(RESOURCE_TYPE);
        if !is_policy {
            if let Some(typo) = resource
                .get("Type")
                .and_then(Value::as_str)
                .filter(|t| rds_snapshot_policy_core::value::edit_distance(t, RESOURCE_TYPE) <= 3)
            {
                warnings.push(PolicyError::new(
                    logical_id,
                    "Type",
                    format!("{typo:?} is not {RESOURCE_TYPE}, so it is not expanded (and CloudFormation will fail to create it); did you mean {RESOURCE_TYPE}?"),
                ));
            }
            output.insert(logical_id.clone(), resource.clone());
            continue;
        }
        let Some(original) = resource.as_object() else {
            continue;
        };
        if let Some(error) = logical_id_error(logical_id) {
            errors.push(error);
            continue;
        }
        if let Some(condition) = original.get("Condition") {
            let declared = root
                .get("Conditions")
                .and_then(Value::as_object)
                .zip(condition.as_str())
                .is_some_and(|(conditions, name)| conditions.contains_key(name));
            if !declared {
                errors.push(PolicyError::new(
                    logical_id,
                    "",
                    format!(
                        "Condition {} is not declared in the template's Conditions",
                        rds_snapshot_policy_core::value::describe(condition)
                    ),
                ));
            }
        }
        let properties = original.get("Properties").unwrap_or(&Value::Null);
        errors.extend(splice_errors(logical_id, properties, &resolver));
        errors.extend(dangling_references(logical_id, properties, root));
        match parse_policy(logical_id, properties, &resolver) {
            Err(mut e) => errors.append(&mut e),
            Ok(policy) => {
                errors.extend(claims.check(&policy));
                warnings.extend(policy.warnings.iter().cloned());
                let is_parameter =
                    |name: &str| resolver.declared_parameters.iter().any(|p| p == name);
                let generated =
                    resources::generate(&policy, original, &provider_arn, &is_parameter);
                // The generated resources come first: the policy resource refers to them, and
                // some engines create resources in template order.
                for (id, r) in generated.resources {
                    if resources.contains_key(&id) || output.contains_key(&id) {
                        errors.push(PolicyError::new(
                            logical_id,
                            "",
                            format!("the generated resource {id} collides with a resource of the same logical ID; rename one of them"),
                        ));
                    }
                    output.insert(id, r);
                }
                output.insert(logical_id.clone(), generated.policy_resource);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut result = Map::new();
    for (key, value) in root {
        match key.as_str() {
            "Resources" => {
                result.insert(key.clone(), Value::Object(output.clone()));
            }
            "Transform" => {
                if let Some(rest) = remove_own_transform(value) {
                    result.insert(key.clone(), rest);
                }
            }
            _ => {
                result.insert(key.clone(), value.clone());
            }
        }
    }
    let template = Value::Object(result);
    check_limits(&template, output.len(), &mut warnings)?;
    Ok(Expansion { template, warnings })
}

/// The longest suffix the expansion appends to a policy's logical ID.
const LONGEST_GENERATED_SUFFIX: &str = "NotificationSubscription";
/// CloudFormation's limit on a logical ID.
const MAX_LOGICAL_ID: usize = 255;

fn logical_id_error(logical_id: &str) -> Option<PolicyError> {
    let max = MAX_LOGICAL_ID - LONGEST_GENERATED_SUFFIX.len();
    let message = if logical_id.is_empty() {
        "a logical ID may not be empty".to_string()
    } else if !logical_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        "logical IDs must be alphanumeric".to_string()
    } else if logical_id.len() > max {
        format!(
            "the logical ID is {} characters; the generated resources append up to {} and CloudFormation allows {MAX_LOGICAL_ID}: use at most {max}",
            logical_id.len(),
            LONGEST_GENERATED_SUFFIX.len()
        )
    } else {
        return None;
    };
    Some(PolicyError::new(logical_id, "", message))
}

/// Intrinsics are spliced into the state machine definition's JSON text, where CloudFormation
/// resolves them without escaping: a value with `"`, `\` or a control character could add keys
/// to the provider's input. Such values are refused, in literal parts and in parameter values.
fn splice_errors(logical_id: &str, properties: &Value, resolver: &Resolver) -> Vec<PolicyError> {
    fn unsafe_text(s: &str) -> bool {
        s.chars().any(|c| c == '"' || c == '\\' || c.is_control())
    }
    fn scan(v: &Value, resolver: &Resolver, found: &mut bool) {
        match v {
            Value::String(s) => *found |= unsafe_text(s),
            Value::Array(items) => items.iter().for_each(|i| scan(i, resolver, found)),
            Value::Object(map) => {
                if let Some(Value::String(name)) = map.get("Ref")
                    && let Some(value) = resolver.parameters.get(name)
                {
                    scan(value, resolver, found);
                }
                map.values().for_each(|i| scan(i, resolver, found));
            }
            _ => {}
        }
    }
    let Some(map) = properties.as_object() else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for (name, value) in map {
        let mut found = false;
        let intrinsics: Vec<&Value> = match value {
            Value::Array(items) => items
                .iter()
                .filter(|i| rds_snapshot_policy_core::value::is_intrinsic(i))
                .collect(),
            v if rds_snapshot_policy_core::value::is_intrinsic(v) => vec![v],
            _ => Vec::new(),
        };
        intrinsics
            .iter()
            .for_each(|v| scan(v, resolver, &mut found));
        if found {
            errors.push(PolicyError::new(
                logical_id,
                name,
                "an intrinsic function here may not contain or resolve to a double quote, a backslash or a control character: the value is embedded in the state machine definition",
            ));
        }
    }
    errors
}

/// `Ref`s and `Fn::GetAtt`s in a policy's Properties that name nothing in the template
/// (CloudFormation would refuse the stack later, with a vaguer message).
fn dangling_references(
    logical_id: &str,
    properties: &Value,
    root: &Map<String, Value>,
) -> Vec<PolicyError> {
    fn declared(root: &Map<String, Value>, section: &str, name: &str) -> bool {
        root.get(section)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key(name))
    }
    fn walk(v: &Value, path: &str, root: &Map<String, Value>, found: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(name)) = map.get("Ref")
                    && !name.starts_with("AWS::")
                    && !declared(root, "Parameters", name)
                    && !declared(root, "Resources", name)
                {
                    found.push((
                        path.to_string(),
                        format!("Ref {name:?} names no parameter or resource of the template"),
                    ));
                }
                let target = match map.get("Fn::GetAtt") {
                    Some(Value::Array(parts)) => parts.first().and_then(Value::as_str),
                    Some(Value::String(dotted)) => dotted.split('.').next(),
                    _ => None,
                };
                if let Some(name) = target.filter(|n| !declared(root, "Resources", n)) {
                    found.push((
                        path.to_string(),
                        format!(
                            "Fn::GetAtt names {name:?}, which is not a resource of the template"
                        ),
                    ));
                }
                for value in map.values() {
                    walk(value, path, root, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, path, root, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Some(map) = properties.as_object() {
        for (name, value) in map {
            walk(value, name, root, &mut found);
        }
    }
    found
        .into_iter()
        .map(|(property, message)| PolicyError::new(logical_id, &property, message))
        .collect()
}

/// What the policies of one template claim, so two of them never own the same snapshots: a
/// PolicyId, or (source role) a database. The shorter retention of two would delete what the
/// longer keeps; two takes of one database would collide on the snapshot name.
#[derive(Default)]
struct Claims {
    policy_ids: std::collections::BTreeMap<String, String>,
    databases: std::collections::BTreeMap<(&'static str, String), String>,
}

impl Claims {
    fn check(&mut self, policy: &Policy) -> Vec<PolicyError> {
        let mut errors = Vec::new();
        let me = &policy.logical_id;
        if let Some(Text::Literal(id)) = &policy.spec.policy_id
            && let Some(other) = self.policy_ids.insert(id.clone(), me.clone())
        {
            errors.push(PolicyError::new(
                me,
                "PolicyId",
                format!("{id:?} is also the PolicyId of {other}: two policies would own (and delete) the same snapshots; give each its own PolicyId"),
            ));
        }
        // Source only: two DR policies may copy one database into two regions.
        let database = match policy
            .spec
            .target()
            .filter(|_| policy.role() == Role::Source)
        {
            Some(Target::Instance(Text::Literal(id))) => Some(("DBInstanceIdentifier", id)),
            Some(Target::Cluster(Text::Literal(id))) => Some(("DBClusterIdentifier", id)),
            _ => None,
        };
        if let Some((property, id)) = database {
            let key = (property, id.clone());
            if let Some(other) = self.databases.insert(key, me.clone()) {
                errors.push(PolicyError::new(
                    me,
                    property,
                    format!("{id:?} is also snapshotted by {other}: one source policy per database (merge them; DestinationAccounts takes several DR accounts)"),
                ));
            }
        }
        errors
    }
}

fn resolver_for(root: &Map<String, Value>, context: &ExpandContext) -> Resolver {
    let declared = root.get("Parameters").and_then(Value::as_object);
    let mut parameters = Map::new();
    if let Some(declared) = declared {
        for (name, decl) in declared {
            if let Some(default) = decl.get("Default") {
                parameters.insert(name.clone(), default.clone());
            }
        }
    }
    parameters.extend(context.parameters.clone());
    Resolver {
        parameters,
        declared_parameters: declared
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default(),
        region: context.region.clone(),
        account_id: context.account_id.clone(),
        now: context.now,
    }
}

/// Drops this macro from `Transform`, keeping other transforms.
fn remove_own_transform(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) if s == TRANSFORM_NAME => None,
        Value::Array(items) => {
            let rest: Vec<Value> = items
                .iter()
                .filter(|v| v.as_str() != Some(TRANSFORM_NAME))
                .cloned()
                .collect();
            (!rest.is_empty()).then_some(Value::Array(rest))
        }
        other => Some(other.clone()),
    }
}

fn check_limits(
    template: &Value,
    resource_count: usize,
    warnings: &mut Vec<PolicyWarning>,
) -> Result<(), Vec<PolicyError>> {
    let mut errors = Vec::new();
    if resource_count > MAX_RESOURCES {
        errors.push(PolicyError::new(
            "Template",
            "Resources",
            format!("the expanded template has {resource_count} resources; CloudFormation allows {MAX_RESOURCES}: split the policies over several stacks"),
        ));
    }
    match size_finding(template.to_string().len()) {
        Some(SizeFinding::TooLarge(message)) => {
            errors.push(PolicyError::new("Template", "", message))
        }
        Some(SizeFinding::NotInline(message)) => {
            warnings.push(PolicyError::new("Template", "", message))
        }
        None => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
