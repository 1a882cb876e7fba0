//! `rds-snapshot-policy status`: are the databases protected right now, with the evidence.

use super::error::CliError;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, ValueEnum};
use rds_snapshot_policy_core::spec::Role;

use super::action_cmd::load_policy_file;
use provider::status::{
    Side, SideFacts, assemble, drill_period, drills_report, gather_side, html, markdown, text,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Html,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Report on these policies only (a resource's Properties block; repeatable) instead of
    /// discovering the deployed ones through CloudFormation; executions are then not read.
    /// With both profiles, each file goes to the account of its Role.
    #[arg(long, value_name = "FILE")]
    pub policy: Vec<PathBuf>,
    /// The PolicyId of a single `--policy` (default: the file's PolicyId).
    #[arg(long, requires = "policy")]
    pub policy_id: Option<String>,
    /// The AWS profile of the source (production) account; without it and --dr-profile, the
    /// standard AWS environment is the one account read.
    #[arg(long, value_name = "PROFILE")]
    pub source_profile: Option<String>,
    /// The AWS profile of the DR account.
    #[arg(long, value_name = "PROFILE")]
    pub dr_profile: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Hours of published recovery-point ages to read for the timeline (1 to 744).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=744))]
    pub hours: i64,
    /// List the restore drills recorded from this date (YYYY-MM-DD, UTC, or RFC 3339; default
    /// 90 days before now), from the DR policies' durable drill records.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub drills_since: Option<DateTime<Utc>>,
    /// ... up to this date (YYYY-MM-DD: the end of that day, UTC; or RFC 3339; default now).
    #[arg(long, value_name = "DATE", value_parser = parse_end_date)]
    pub drills_until: Option<DateTime<Utc>>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The `Role` a policy file declares, if it can be read.
fn file_role(file: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let value = rds_snapshot_policy_core::yaml::parse_template(&text).ok()?;
    let properties = value.get("Properties").unwrap_or(&value);
    properties.get("Role")?.as_str().map(str::to_string)
}

/// The exit code when the report says "at risk" (1 is an error, 2 a usage error).
pub const AT_RISK_EXIT: u8 = 3;

/// A date (its first second, UTC) or an RFC 3339 time.
fn parse_date(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{text:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time"))
}

/// A date (its last second, UTC) or an RFC 3339 time.
fn parse_end_date(text: &str) -> Result<DateTime<Utc>, String> {
    let start = parse_date(text)?;
    Ok(if DateTime::parse_from_rfc3339(text).is_ok() {
        start
    } else {
        start + chrono::Duration::days(1) - chrono::Duration::seconds(1)
    })
}

async fn side(profile: Option<&str>, args: &StatusArgs) -> Result<Side, CliError> {
    if let (Some(from), Some(to)) = (args.drills_since, args.drills_until)
        && from > to
    {
        return Err(format!("--drills-since ({from}) is after --drills-until ({to})").into());
    }
    let (aws, region) = super::connect::connect(profile).await?;
    Ok(Side {
        aws,
        region,
        hours: args.hours,
        drills_from: args.drills_since,
        drills_to: args.drills_until,
    })
}

/// Runs `status`; `Ok(true)` when the report is not "at risk".
pub async fn run(args: &StatusArgs) -> Result<bool, CliError> {
    if args.policy_id.is_some() && args.policy.len() > 1 {
        return Err("--policy-id names the PolicyId of a single --policy file"
            .to_string()
            .into());
    }
    let profiles: Vec<(Option<&str>, Option<Role>)> =
        match (args.source_profile.as_deref(), args.dr_profile.as_deref()) {
            (None, None) => vec![(None, None)],
            (source, dr) => [(source, Role::Source), (dr, Role::Destination)]
                .into_iter()
                .filter(|(p, _)| p.is_some())
                .map(|(p, role)| (p, Some(role)))
                .collect(),
        };
    let mut all = SideFacts::default();
    let mut now = None;
    // Every profile is checked before any AWS call.
    let mut sides = Vec::new();
    for (profile, role) in profiles {
        sides.push((side(profile, args).await?, role));
    }
    for (side, role) in sides {
        let mut given = Vec::new();
        for file in &args.policy {
            // With both profiles, a file is read only by the side of its Role (a DR policy's
            // defaults follow the DR account's region).
            if let Some(side_role) = role
                && file_role(file).is_some_and(|r| r != side_role.as_str())
            {
                continue;
            }
            given.push(load_policy_file(
                file,
                args.policy_id.as_deref(),
                None,
                &side.region,
                &[],
            )?);
        }
        if !args.policy.is_empty() && given.is_empty() {
            continue;
        }
        super::connect::reachable(&side.aws)?;
        let found = gather_side(&side, (!given.is_empty()).then_some(given)).await?;
        all.policies.extend(found.policies);
        all.quotas.extend(found.quotas);
        all.warnings.extend(found.warnings);
        now = Some(side.aws.now());
    }
    for warning in &all.warnings {
        eprintln!("warning: {warning}");
    }
    let now = now.unwrap_or_else(Utc::now);
    let mut report = assemble(&all.policies, all.quotas, all.warnings, now);
    let (since, until) = drill_period(args.drills_since, args.drills_until, now);
    report.drills = drills_report(&all.policies, since, until);
    let format = if args.json { Format::Json } else { args.format };
    let rendered = match format {
        Format::Text => text(&report),
        Format::Json => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n",
        Format::Markdown => markdown(&report),
        Format::Html => html(&report),
    };
    match &args.output {
        Some(file) => std::fs::write(file, rendered)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?,
        None => print!("{rendered}"),
    }
    Ok(report.verdict != "at risk")
}
