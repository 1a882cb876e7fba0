//! `rds-snapshot-policy guard --policy FILE`: a service control policy that protects the
//! policy's recovery points, keys and provider from everyone but the provider's role.

use super::error::CliError;
use std::path::PathBuf;

use clap::Args;
use rds_snapshot_policy_macro::expand::guard::{SCP_MAX_CHARS, service_control_policy};

use super::action_cmd::load_policy_file;

#[derive(Debug, Args)]
pub struct GuardArgs {
    /// The policy: a resource's Properties block (JSON or YAML), or the whole resource.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// With a template as --policy: the Custom::RdsSnapshotPolicy resource to use.
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,
    /// The deployed policy's PolicyId (the expansion's default is `<stack name>-<logical ID>`),
    /// when the file gives none.
    #[arg(long, value_name = "ID")]
    pub policy_id: Option<String>,
    /// The stack's region.
    #[arg(long, default_value = "us-east-1", value_parser = super::expand_cmd::parse_region)]
    pub region: String,
    /// Another KMS key ARN to keep usable (the source CMK of a production database).
    #[arg(long = "key", value_name = "ARN")]
    pub keys: Vec<String>,
    /// A role that may still change these (the deploy role that updates the install stack).
    #[arg(long = "exempt-role", value_name = "ARN")]
    pub exempt: Vec<String>,
}

fn check_arn(arn: &str, service: &str, flag: &str) -> Result<(), CliError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != service {
        return Err(format!("{flag} {arn:?} is not an {service} ARN").into());
    }
    Ok(())
}

pub fn run(args: &GuardArgs) -> Result<(), CliError> {
    for key in &args.keys {
        check_arn(key, "kms", "--key")?;
    }
    for role in &args.exempt {
        check_arn(role, "iam", "--exempt-role")?;
    }
    let policy = load_policy_file(
        &args.policy,
        args.policy_id.as_deref(),
        args.resource.as_deref(),
        &args.region,
        &[],
    )?;
    let scp = service_control_policy(&policy.spec, &args.keys, &args.exempt);
    let text = serde_json::to_string_pretty(&scp).map_err(|e| e.to_string())?;
    let size = serde_json::to_string(&scp)
        .map_err(|e| e.to_string())?
        .len();
    if size > SCP_MAX_CHARS {
        return Err(format!(
            "the service control policy is {size} characters, more than AWS's {SCP_MAX_CHARS}: name fewer keys or exempt roles"
        ).into());
    }
    if args.exempt.is_empty() {
        eprintln!(
            "guard: no --exempt-role: once attached, nobody (not even the install stack's deployment) may change the provider's role or function"
        );
    }
    println!("{text}");
    Ok(())
}
