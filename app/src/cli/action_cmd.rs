//! `rds-snapshot-policy plan ACTION --policy FILE` and `run ACTION --policy FILE`.

use super::error::CliError;
use std::path::PathBuf;

use clap::Args;
use rds_snapshot_policy_core::yaml::parse_template;
use serde_json::Value;

use provider::aws::Aws;
use provider::plan::{Action, Operation, Plan, Step};
use provider::policy::RuntimePolicy;
use provider::task::{Summary, parse_now, plan_action, run_action};

#[derive(Debug, Args)]
pub struct ActionArgs {
    /// take, share (source account), copy (DR account) or delete.
    pub action: Action,
    /// The policy: a resource's Properties block (JSON or YAML), or the whole resource.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Plan as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// With a template as --policy: the Custom::RdsSnapshotPolicy resource to use.
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,
    /// With a template as --policy: a parameter's value, as CloudFormation would pass it
    /// (repeatable; the template's defaults otherwise).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = super::expand_cmd::parse_param)]
    pub params: Vec<(String, String)>,
    /// The PolicyId whose snapshots are considered this policy's (default: the file's
    /// PolicyId; one of the two is required).
    #[arg(long)]
    pub policy_id: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// `run`: start no operation after this many seconds (minus a margin of a quarter, at most
    /// 120 s); the rest is reported pending, for the next run.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub max_seconds: Option<u64>,
}

fn load_policy(args: &ActionArgs, region: &str) -> Result<RuntimePolicy, CliError> {
    load_policy_file(
        &args.policy,
        args.policy_id.as_deref(),
        args.resource.as_deref(),
        region,
        &args.params,
    )
}

/// The policy resources of a template, by logical ID.
fn policy_resources(template: &Value) -> Vec<&str> {
    let resource_type = Some(rds_snapshot_policy_core::contract::RESOURCE_TYPE);
    template
        .get("Resources")
        .and_then(Value::as_object)
        .map(|r| {
            r.iter()
                .filter(|(_, v)| v.get("Type").and_then(Value::as_str) == resource_type)
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a policy file (Properties, the whole resource, or a template with `resource`) into
/// the provider's policy. The PolicyId decides which snapshots are the policy's, so it is never
/// guessed: the file's, or `policy_id`.
pub(super) fn load_policy_file(
    file: &std::path::Path,
    policy_id: Option<&str>,
    resource: Option<&str>,
    region: &str,
    params: &[(String, String)],
) -> Result<RuntimePolicy, CliError> {
    let path = file.display().to_string();
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("cannot read policy {path}: {e}"))?;
    let mut value = parse_template(&text).map_err(|e| format!("{path}: {e}"))?;
    if value.get("Resources").is_some() {
        let policies = policy_resources(&value);
        let chosen = match resource {
            Some(name) if policies.contains(&name) => name.to_string(),
            Some(name) => {
                return Err(format!(
                    "{path}: the template has no Custom::RdsSnapshotPolicy resource {name:?} (its policies: {})",
                    if policies.is_empty() {
                        "none".to_string()
                    } else {
                        policies.join(", ")
                    }
                ).into());
            }
            None => {
                return Err(format!(
                    "{path} is a template: pass a resource's Properties block or use --resource NAME (its policies: {})",
                    if policies.is_empty() {
                        "none".to_string()
                    } else {
                        policies.join(", ")
                    }
                ).into());
            }
        };
        value = resolve_parameters(&value["Resources"][&chosen], &value, params, region)
            .map_err(|e| format!("{path}: {e}"))?;
    } else if !params.is_empty() {
        return Err(format!(
            "{path}: --param needs a template (with Parameters); this file is a single policy"
        )
        .into());
    } else if let Some(name) = resource {
        return Err(format!(
            "{path}: --resource {name} needs a template; this file is a single policy"
        )
        .into());
    }
    if value.get("Type").and_then(Value::as_str)
        == Some(rds_snapshot_policy_core::contract::RESOURCE_TYPE)
    {
        value = value.get("Properties").cloned().unwrap_or(Value::Null);
    }
    if let (Some(id), Some(map)) = (policy_id, value.as_object_mut()) {
        map.insert("PolicyId".into(), Value::String(id.to_string()));
    }
    if value.get("PolicyId").is_none() && value.is_object() {
        return Err(format!(
            "{path}: no PolicyId: add `PolicyId: <id>` to the policy or pass --policy-id ID. The PolicyId decides which snapshots are this policy's; a deployed policy without one has `<stack name>-<logical ID>`"
        ).into());
    }
    RuntimePolicy::from_properties(&value, region, None)
        .map_err(|e| format!("{path}: {}", e.message).into())
}

/// Whether a declared parameter's value is a list (CloudFormation passes it split at commas).
fn is_list_parameter(declaration: &Value) -> bool {
    declaration
        .get("Type")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "CommaDelimitedList" || t.starts_with("List<"))
}

/// A template's policy resource with its parameters' values (their defaults, then `params`)
/// in place of `Ref`s to them, and `AWS::Region` / `AWS::Partition` in `Ref`s and `Fn::Sub`s,
/// as CloudFormation would substitute them; a `Ref` to the template's DB instance or cluster is
/// its identifier when the template gives it. Other intrinsics stay, and the policy reader
/// refuses them naming the property.
fn resolve_parameters(
    resource: &Value,
    template: &Value,
    params: &[(String, String)],
    region: &str,
) -> Result<Value, CliError> {
    let declared = template.get("Parameters").and_then(Value::as_object);
    let mut values: std::collections::BTreeMap<String, (String, bool)> = Default::default();
    for (name, decl) in declared.into_iter().flatten() {
        let list = is_list_parameter(decl);
        if let Some(default) = decl.get("Default") {
            let text = match default {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            values.insert(name.clone(), (text, list));
        }
    }
    for (key, value) in params {
        let Some(decl) = declared.and_then(|d| d.get(key)) else {
            return Err(
                format!("--param {key}: the template declares no parameter {key:?}").into(),
            );
        };
        values.insert(key.clone(), (value.clone(), is_list_parameter(decl)));
    }
    // AWS's partitions by region prefix (AWS General Reference, "ARNs").
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    let lookup = |name: &str| -> Option<Value> {
        match name {
            "AWS::Region" => Some(Value::String(region.to_string())),
            "AWS::Partition" => Some(Value::String(partition.to_string())),
            _ if !values.contains_key(name) => database_identifier(template, name),
            _ => values.get(name).map(|(text, list)| {
                if *list {
                    Value::Array(
                        text.split(',')
                            .map(|s| Value::String(s.trim().to_string()))
                            .collect(),
                    )
                } else {
                    Value::String(text.clone())
                }
            }),
        }
    };
    // `Ref` of AWS::RDS::DBInstance / DBCluster is its identifier (CloudFormation guide, the
    // resources' "Return values").
    fn database_identifier(template: &Value, name: &str) -> Option<Value> {
        let resource = template.get("Resources")?.get(name)?;
        let property = match resource.get("Type")?.as_str()? {
            "AWS::RDS::DBInstance" => "DBInstanceIdentifier",
            "AWS::RDS::DBCluster" => "DBClusterIdentifier",
            _ => return None,
        };
        resource.get("Properties")?.get(property).cloned()
    }
    // `depth` bounds chains of references (a hostile template may make them circular).
    fn walk(value: &Value, lookup: &dyn Fn(&str) -> Option<Value>, depth: usize) -> Value {
        let deeper = |v: &Value| walk(v, lookup, depth + 1);
        match value {
            _ if depth > 8 => value.clone(),
            Value::Object(map) if map.len() == 1 => {
                if let Some(found) = map.get("Ref").and_then(Value::as_str).and_then(lookup) {
                    return deeper(&found);
                }
                if let Some(text) = map.get("Fn::Sub").and_then(Value::as_str) {
                    let re = regex::Regex::new(r"\$\{([A-Za-z0-9:]+)\}").expect("a valid pattern");
                    let mut unresolved = false;
                    let out = re.replace_all(text, |c: &regex::Captures| match lookup(&c[1]) {
                        Some(Value::String(s)) => s,
                        _ => {
                            unresolved = true;
                            c[0].to_string()
                        }
                    });
                    if !unresolved {
                        return Value::String(out.into_owned());
                    }
                }
                Value::Object(map.iter().map(|(k, v)| (k.clone(), deeper(v))).collect())
            }
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), deeper(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(deeper).collect()),
            other => other.clone(),
        }
    }
    Ok(walk(resource, &lookup, 0))
}

async fn setup(args: &ActionArgs) -> Result<(Aws, RuntimePolicy), CliError> {
    let (mut aws, region) = super::connect::connect(None).await?;
    if let Some(seconds) = args.max_seconds {
        let budget = std::time::Duration::from_secs(seconds);
        let margin = provider::aws::apply::DEADLINE_MARGIN.min(budget / 4);
        aws = aws.with_deadline(std::time::Instant::now() + budget, margin);
    }
    let policy = load_policy(args, &region)?;
    super::connect::reachable(&aws)?;
    Ok((aws, policy))
}

fn describe(step: &Step) -> (&'static str, String) {
    match &step.operation {
        Operation::Create { snapshot_id, .. } => ("create", snapshot_id.clone()),
        Operation::Share { snapshot_id, .. } => ("share", snapshot_id.clone()),
        Operation::Copy { target_id, .. } => ("copy", target_id.clone()),
        Operation::Delete { snapshot_id, .. } => ("delete", snapshot_id.clone()),
        Operation::StageCopy { target_id, .. } => ("first copy", target_id.clone()),
        Operation::DeleteStaged { snapshot_id, .. } => ("delete first copy", snapshot_id.clone()),
        Operation::MarkDelivered { snapshot_id, .. } => ("delivered", snapshot_id.clone()),
    }
}

fn print_plan(plan: &Plan, policy: &RuntimePolicy, now: &str) {
    println!("plan {} for policy {} at {now}", plan.action, policy.id);
    for step in &plan.steps {
        let (verb, what) = describe(step);
        println!("  {verb:<8} {what}  ({}: {})", step.subject, step.reason);
    }
    for note in &plan.pending {
        println!("  {:<8} {}  ({})", "pending", note.subject, note.reason);
    }
    for note in &plan.skipped {
        println!("  {:<8} {}  ({})", "leave", note.subject, note.reason);
    }
    for error in &plan.errors {
        println!("  {:<8} {error}", "error");
    }
    if plan.steps.is_empty()
        && plan.pending.is_empty()
        && plan.skipped.is_empty()
        && plan.errors.is_empty()
    {
        println!("  nothing to do");
    }
}

fn print_summary(summary: &Summary, policy: &RuntimePolicy) {
    println!(
        "{} for policy {} at {}{}",
        summary.action,
        summary.policy,
        summary.now,
        if summary.dry_run { " (dry run)" } else { "" }
    );
    for step in &summary.done {
        let (verb, what) = describe(step);
        println!("  {verb:<8} {what}  ({})", step.reason);
    }
    for note in &summary.pending {
        println!("  {:<8} {}  ({})", "pending", note.subject, note.reason);
    }
    for note in &summary.skipped {
        println!("  {:<8} {}  ({})", "skipped", note.subject, note.reason);
    }
    for failure in &summary.failed {
        println!(
            "  {:<8} {}  ({}: {})",
            "failed",
            failure.subject,
            failure.error.name(),
            failure.message
        );
    }
    // A source policy's recovery points are its snapshots (in this account); a DR policy's
    // are its copies.
    let what = match policy.role() {
        rds_snapshot_policy_core::Role::Source => "newest snapshot",
        rds_snapshot_policy_core::Role::Destination => "newest DR copy",
    };
    for (db, point) in &summary.recovery_points {
        println!(
            "  {what} of {db}: {} taken {} ({} minutes ago)",
            point.snapshot, point.taken, point.age_minutes
        );
    }
    println!("  AWS calls: {}", summary.aws_calls);
}

/// `plan`: lists and decides, writes nothing. Exit 1 if the plan holds errors.
pub async fn plan(args: &ActionArgs) -> Result<(), CliError> {
    let now = parse_now(args.now.as_deref()).map_err(|e| e.message)?;
    let (aws, policy) = setup(args).await?;
    let (plan, _) = plan_action(&aws, args.action, &policy, now)
        .await
        .map_err(|e| e.to_string())?;
    if args.json {
        let mut value = serde_json::to_value(&plan).map_err(|e| e.to_string())?;
        value["errors"] = serde_json::json!(
            plan.errors
                .iter()
                .map(|e| serde_json::json!({"error": e.kind, "message": e.message}))
                .collect::<Vec<_>>()
        );
        value["awsCalls"] = serde_json::json!(aws.calls());
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
    } else {
        print_plan(
            &plan,
            &policy,
            &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    match plan.errors.first() {
        Some(_) => Err(format!("the plan has {} error(s)", plan.errors.len()).into()),
        None => Ok(()),
    }
}

/// `run`: lists, plans and applies. Exit 1 if anything failed.
pub async fn run(args: &ActionArgs) -> Result<(), CliError> {
    let now = parse_now(args.now.as_deref()).map_err(|e| e.message)?;
    let (aws, policy) = setup(args).await?;
    let (result, summary) = match run_action(&aws, args.action, &policy, now, false).await {
        Ok(summary) => (Ok(()), Some(summary)),
        Err((error, summary)) => (Err(error.to_string().into()), summary),
    };
    if let Some(summary) = &summary {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(summary).map_err(|e| e.to_string())?
            );
        } else {
            print_summary(summary, &policy);
        }
    }
    result
}
