//! `rds-snapshot-policy schedule EXPRESSION --from T --until T`: when an EventBridge schedule
//! fires, with EventBridge's rules (the same code the macro validates with).

use chrono::{DateTime, Utc};
use clap::Args;
use rds_snapshot_policy_macro::schedule::Schedule;

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// A rate(...) or cron(...) expression.
    pub expression: String,
    /// First instant considered (RFC 3339).
    #[arg(long)]
    pub from: DateTime<Utc>,
    /// End of the window, exclusive (RFC 3339).
    #[arg(long)]
    pub until: DateTime<Utc>,
}

pub fn run(args: &ScheduleArgs) -> Result<(), String> {
    let schedule =
        Schedule::parse(&args.expression).map_err(|e| format!("{:?}: {e}", args.expression))?;
    if args.until <= args.from {
        return Err("--until must be after --from".into());
    }
    for t in schedule.firings(args.from, args.until - args.from) {
        println!("{}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    Ok(())
}
