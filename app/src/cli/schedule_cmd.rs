//! `rds-snapshot-policy schedule EXPRESSION --from T --until T`: when an EventBridge schedule
//! fires, with EventBridge's rules (the same code the macro validates with).

use super::error::CliError;
use chrono::{DateTime, Utc};
use clap::Args;
use rds_snapshot_policy_core::schedule::Schedule;

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// A rate(...) or cron(...) expression.
    pub expression: String,
    /// First instant considered (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub from: DateTime<Utc>,
    /// End of the window, exclusive (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: DateTime<Utc>,
}

pub fn run(args: &ScheduleArgs) -> Result<(), CliError> {
    let schedule =
        Schedule::parse(&args.expression).map_err(|e| format!("{:?}: {e}", args.expression))?;
    if args.until <= args.from {
        return Err("--until must be after --from".into());
    }
    if args.until - args.from > chrono::Duration::days(MAX_WINDOW_DAYS) {
        return Err(format!(
            "the window is longer than {MAX_WINDOW_DAYS} days; ask for a shorter one"
        )
        .into());
    }
    for t in schedule.firings(args.from, args.until - args.from) {
        println!("{}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    Ok(())
}

/// A year and a bit: at one firing a minute, about 550,000 lines.
const MAX_WINDOW_DAYS: i64 = 380;

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("must be an RFC 3339 time such as 2026-06-01T00:00:00Z, got {text:?} ({e})")
        })
}
