//! `rds-snapshot-policy reference [--format markdown|schema]`: the policy properties as the
//! property table declares them, as the book's reference tables or as a JSON Schema of a
//! policy's Properties (for editor completion; docs/src/reference/policy.md says how).

use super::error::CliError;
use clap::{Args, ValueEnum};
use rds_snapshot_policy_core::policy::properties::{json_schema, reference_markdown};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The reference tables, one per role (markdown).
    Markdown,
    /// A JSON Schema (2020-12) of the Properties.
    Schema,
}

#[derive(Debug, Args)]
pub struct ReferenceArgs {
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: Format,
}

pub fn run(args: &ReferenceArgs) -> Result<(), CliError> {
    match args.format {
        Format::Markdown => print!("{}", reference_markdown()),
        Format::Schema => {
            let text = serde_json::to_string_pretty(&json_schema())
                .map_err(|e| format!("the schema does not serialize: {e}"))?;
            println!("{text}");
        }
    }
    Ok(())
}
