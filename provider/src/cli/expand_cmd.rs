//! `rds-snapshot-policy expand TEMPLATE`.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rds_snapshot_policy_macro::expand::{DEFAULT_PROVIDER_FUNCTION, ExpandContext, expand};
use rds_snapshot_policy_macro::join_errors;
use rds_snapshot_policy_macro::yaml::{parse_template, to_yaml};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ExpandArgs {
    /// Template file (JSON or YAML with short-form tags); `-` reads stdin.
    pub template: PathBuf,
    /// A template parameter value, as CloudFormation would pass it (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// The region the stack is deployed in (checks regions and keys; otherwise left to AWS::Region).
    #[arg(long)]
    pub region: Option<String>,
    /// The account the stack is deployed in (checks account IDs and key owners).
    #[arg(long)]
    pub account_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Name of the provider Lambda the expansion invokes (as set by the install stack).
    #[arg(long, default_value = DEFAULT_PROVIDER_FUNCTION)]
    pub provider_function: String,
}

pub fn run(args: &ExpandArgs) -> Result<(), String> {
    let source = args.template.display().to_string();
    let text = if source == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| format!("cannot read the template from stdin: {e}"))?;
        buf
    } else {
        std::fs::read_to_string(&args.template)
            .map_err(|e| format!("cannot read template {source}: {e}"))?
    };
    let template = parse_template(&text).map_err(|e| format!("{source}: {e}"))?;
    let mut parameters = Map::new();
    for param in &args.params {
        let Some((key, value)) = param.split_once('=') else {
            return Err(format!("--param {param:?} must be KEY=VALUE"));
        };
        parameters.insert(key.to_string(), Value::String(value.to_string()));
    }
    let context = ExpandContext {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        parameters,
        provider_function: args.provider_function.clone(),
    };
    let expansion = expand(&template, &context).map_err(|errors| join_errors(&errors))?;
    for warning in &expansion.warnings {
        eprintln!("warning: {warning}");
    }
    let rendered = match args.format {
        Format::Json => serde_json::to_string_pretty(&expansion.template)
            .map_err(|e| format!("cannot render JSON: {e}"))?,
        Format::Yaml => to_yaml(&expansion.template)?,
    };
    println!("{}", rendered.trim_end());
    Ok(())
}
