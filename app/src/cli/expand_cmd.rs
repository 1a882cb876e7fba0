//! `rds-snapshot-policy expand TEMPLATE`.

use super::error::CliError;
use std::io::Read;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rds_snapshot_policy_core::join_errors;
use rds_snapshot_policy_core::spec::{is_account_id, is_region};
use rds_snapshot_policy_core::yaml::{parse_template, to_yaml};
use rds_snapshot_policy_macro::expand::{
    DEFAULT_PROVIDER_FUNCTION, ExpandContext, SizeFinding, TRANSFORM_NAME, expand, size_finding,
};
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
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The region the stack is deployed in (checks regions and keys; otherwise left to AWS::Region).
    #[arg(long, value_parser = parse_region)]
    pub region: Option<String>,
    /// The account the stack is deployed in (checks account IDs and key owners).
    #[arg(long, value_parser = parse_account)]
    pub account_id: Option<String>,
    /// Output format. JSON is compact, as CloudFormation counts it; `--pretty` indents it.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Indent the JSON output (larger: the size warnings then count the indented bytes).
    #[arg(long)]
    pub pretty: bool,
    /// Name of the provider Lambda the expansion invokes (as set by the install stack).
    #[arg(long, default_value = DEFAULT_PROVIDER_FUNCTION)]
    pub provider_function: String,
}

pub fn run(args: &ExpandArgs) -> Result<(), CliError> {
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
    let declared = template.get("Parameters").and_then(Value::as_object);
    let mut parameters = Map::new();
    for (key, value) in &args.params {
        if !declared.is_some_and(|d| d.contains_key(key)) {
            return Err(format!(
                "--param {key}: the template declares no parameter {key:?} (CloudFormation would refuse it)"
            ).into());
        }
        parameters.insert(key.clone(), Value::String(value.clone()));
    }
    let context = ExpandContext {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        parameters,
        provider_function: args.provider_function.clone(),
        now: Some(chrono::Utc::now()),
    };
    let expansion = expand(&template, &context).map_err(|errors| join_errors(&errors))?;
    let transforms = template.get("Transform");
    let declared = match transforms {
        Some(Value::String(t)) => t == TRANSFORM_NAME,
        Some(Value::Array(list)) => list.iter().any(|t| t.as_str() == Some(TRANSFORM_NAME)),
        _ => false,
    };
    if !declared {
        eprintln!(
            "warning: the template does not declare Transform: {TRANSFORM_NAME}; deployed as is, CloudFormation would not run the macro"
        );
    }
    let rendered = match (args.format, args.pretty) {
        (Format::Json, false) => expansion.template.to_string(),
        (Format::Json, true) => serde_json::to_string_pretty(&expansion.template)
            .map_err(|e| format!("cannot render JSON: {e}"))?,
        (Format::Yaml, _) => to_yaml(&expansion.template)?,
    };
    let written = rendered.trim_end().len() + 1;
    // The expansion measured compact JSON; what matters is the file this writes.
    let compact = size_finding(expansion.template.to_string().len());
    for warning in &expansion.warnings {
        let about_size = warning.resource == "Template"
            && matches!(&compact, Some(SizeFinding::NotInline(m)) if *m == warning.message);
        if !about_size {
            eprintln!("warning: {warning}");
        }
    }
    if let Some(SizeFinding::NotInline(m) | SizeFinding::TooLarge(m)) = size_finding(written) {
        eprintln!("warning: as written: {m}");
    }
    println!("{}", rendered.trim_end());
    Ok(())
}

pub(super) fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("must be KEY=VALUE, got {text:?}")),
    }
}

pub(super) fn parse_region(text: &str) -> Result<String, String> {
    if is_region(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "must be an AWS region such as eu-west-1, got {text:?}"
        ))
    }
}

fn parse_account(text: &str) -> Result<String, String> {
    if is_account_id(text) {
        Ok(text.to_string())
    } else {
        Err(format!("must be a 12-digit AWS account ID, got {text:?}"))
    }
}
