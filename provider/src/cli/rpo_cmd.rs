//! `rds-snapshot-policy rpo --policy FILE`: the worst-case recovery-point age, term by term.

use std::path::PathBuf;

use clap::Args;
use rds_snapshot_policy_macro::rpo::WorstCase;
use serde_json::json;

use super::action_cmd::load_policy_file;

#[derive(Debug, Args)]
pub struct RpoArgs {
    /// The policy: a resource's Properties block (JSON or YAML), or the whole resource.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// With a template as --policy: the Custom::RdsSnapshotPolicy resource to use.
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,
    /// The stack's region (only the default DestinationRegion depends on it, not the RPO).
    #[arg(long, default_value = "us-east-1", value_parser = super::expand_cmd::parse_region)]
    pub region: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when the worst case exceeds RpoMinutes.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &RpoArgs) -> Result<(), String> {
    let policy = load_policy_file(
        &args.policy,
        Some("rpo"),
        args.resource.as_deref(),
        &args.region,
    )?;
    let Some(worst) = policy.worst_case() else {
        return Err(format!(
            "{}: a schedule of this policy fires less than twice in 35 days, so no recovery-point age can be promised",
            args.policy.display()
        ));
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&as_json(&worst)).unwrap_or_default()
        );
    } else {
        print!("{}", as_text(&worst));
    }
    if args.check && !worst.is_met() {
        return Err(format!(
            "RpoMinutes ({}) is not met: the worst case is {} minutes",
            worst.rpo_minutes,
            worst.minutes()
        ));
    }
    Ok(())
}

/// The breakdown as text: one line per term, the total, the typical case and the verdict.
pub fn as_text(worst: &WorstCase) -> String {
    let mut out = String::from("worst-case recovery-point age at the DR copy\n");
    for t in &worst.terms {
        out.push_str(&format!(
            "  {:<18} {:>5} min  ({})\n",
            t.name, t.minutes, t.from
        ));
    }
    out.push_str(&format!("  {:<18} {:>5} min\n", "total", worst.minutes()));
    if worst.event_driven {
        out.push_str(&format!(
            "  {:<18} {:>5} min  (events arrive: the sweeps' waits drop out)\n",
            "typical",
            worst.typical_minutes()
        ));
    }
    let verdict = if worst.is_met() { "met" } else { "NOT met" };
    out.push_str(&format!("RpoMinutes {}: {verdict}\n", worst.rpo_minutes));
    out
}

fn as_json(worst: &WorstCase) -> serde_json::Value {
    json!({
        "worstCaseMinutes": worst.minutes(),
        "typicalMinutes": worst.typical_minutes(),
        "rpoMinutes": worst.rpo_minutes,
        "met": worst.is_met(),
        "terms": worst.terms.iter().map(|t| json!({
            "name": t.name, "minutes": t.minutes, "from": t.from,
        })).collect::<Vec<_>>(),
    })
}
