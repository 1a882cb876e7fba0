//! The command line: a thin shell over `expand` and the planner/executor.

mod action_cmd;
mod connect;
mod drill_cmd;
pub mod error;
mod expand_cmd;
mod guard_cmd;
mod hold_cmd;
mod reference_cmd;
mod rpo_cmd;
mod schedule_cmd;
mod status_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rds-snapshot-policy",
    version,
    about = "Disaster-recovery snapshots for Amazon RDS and Aurora, one CloudFormation resource per database"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Show the AWS SDK's own details: its log lines and full error chains.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Expand a template's Custom::RdsSnapshotPolicy resources, as the macro does.
    Expand(expand_cmd::ExpandArgs),
    /// Show what an action would do (create, share, copy, delete, leave alone, and why); writes nothing.
    Plan(action_cmd::ActionArgs),
    /// Run an action against AWS (the standard AWS environment: region, credentials, AWS_ENDPOINT_URL).
    Run(action_cmd::ActionArgs),
    /// Print when an EventBridge schedule expression fires in a time window (UTC).
    Schedule(schedule_cmd::ScheduleArgs),
    /// Print a policy's worst-case recovery-point age at the DR copy, term by term.
    Rpo(rpo_cmd::RpoArgs),
    /// Print every policy property (name, role, type and bounds, default, meaning) as the
    /// reference tables or as a JSON Schema of the Properties (`--format schema`).
    Reference(reference_cmd::ReferenceArgs),
    /// Print a service control policy (JSON) that lets only the provider's role delete, unshare
    /// or retag the policy's snapshots, change its keys, or change the provider.
    Guard(guard_cmd::GuardArgs),
    /// Run a restore drill of a DR policy now: restore the newest copy of each database, time
    /// it against RtoMinutes, delete what it created.
    Drill(drill_cmd::DrillArgs),
    /// Fail over: restore a DR copy into a new instance (or cluster) and leave it running.
    Restore(drill_cmd::RestoreArgs),
    /// Report whether the databases are protected now: per database the newest snapshot and
    /// DR copy, its age against RpoMinutes, delivery lag, last drill, last failure; quotas.
    /// Exit 3 when at risk.
    Status(status_cmd::StatusArgs),
    /// Hold a stack's policies' deletes (an incident): nothing is deleted until `release`.
    Hold(hold_cmd::HoldArgs),
    /// Lift the hold on a stack's policies' deletes (placed by `hold`, a tamper event or an
    /// incident alarm); the only way a hold ends.
    Release(hold_cmd::ReleaseArgs),
}

/// Runs the command; exit 0 on success, 1 on invalid input or failed operation (2 is clap's
/// usage error, 3 a `status` report at risk).
pub async fn run(cli: Cli) -> ExitCode {
    let verbose = cli.verbose;
    let outcome = match cli.command {
        Command::Expand(args) => expand_cmd::run(&args),
        Command::Plan(args) => action_cmd::plan(&args).await,
        Command::Run(args) => action_cmd::run(&args).await,
        Command::Schedule(args) => schedule_cmd::run(&args),
        Command::Rpo(args) => rpo_cmd::run(&args).await,
        Command::Reference(args) => reference_cmd::run(&args),
        Command::Guard(args) => guard_cmd::run(&args),
        Command::Drill(args) => drill_cmd::drill(&args).await,
        Command::Restore(args) => drill_cmd::restore(&args).await,
        Command::Hold(args) => hold_cmd::hold(&args).await,
        Command::Release(args) => hold_cmd::release(&args).await,
        Command::Status(args) => match status_cmd::run(&args).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(status_cmd::AT_RISK_EXIT),
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{}", connect::explain(&message.to_string(), verbose));
            ExitCode::from(1)
        }
    }
}
