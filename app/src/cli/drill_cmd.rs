//! `rds-snapshot-policy drill --policy FILE` (a restore drill run locally, cleaned up) and
//! `rds-snapshot-policy restore --policy FILE --database DB --target-id ID` (a failover:
//! restores for real and leaves the instance).

use super::error::CliError;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use rds_snapshot_policy_core::contract::{DrillInput, DrillStep};

use super::action_cmd::load_policy_file;
use provider::aws::drill_api::{DrillApi, Target, failover_tags};
use provider::aws::{Aws, list_inventory};
use provider::drill::run_drill_step;
use provider::inventory::Kind;
use provider::plan::Action;
use provider::plan::drill::{drill_class, restore_candidate};
use provider::policy::RuntimePolicy;

/// The DR policy a drill or a restore works on, as the deployed stack holds it.
#[derive(Debug, Args)]
pub struct DrPolicyFile {
    /// The DR policy: a resource's Properties block (JSON or YAML), or the whole resource.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The deployed policy's PolicyId (default: the file's).
    #[arg(long)]
    pub policy_id: Option<String>,
    /// With a template as --policy: the Custom::RdsSnapshotPolicy resource to use.
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub policy: DrPolicyFile,
    /// Drill only this database.
    #[arg(long, value_name = "DB")]
    pub database: Option<String>,
    /// Seconds between status checks.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub wait_seconds: u64,
    /// Print the run as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub policy: DrPolicyFile,
    /// The database whose copy is restored.
    #[arg(long, value_name = "DB")]
    pub database: String,
    /// The new instance (or cluster) identifier.
    #[arg(long, value_name = "ID", value_parser = parse_identifier)]
    pub target_id: String,
    /// `latest`, or the newest copy whose recovery point is at or before this time (RFC 3339);
    /// `--before` is the same (an incident's time: the last copy from before it).
    #[arg(long, default_value = "latest", alias = "before")]
    pub point: String,
    #[arg(long, value_name = "CLASS")]
    pub instance_class: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub subnet_group: Option<String>,
    #[arg(long, value_name = "SG", num_args = 1.., value_delimiter = ',')]
    pub security_group_ids: Vec<String>,
    /// Seconds between status checks.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub wait_seconds: u64,
    #[arg(long)]
    pub json: bool,
}

fn parse_identifier(text: &str) -> Result<String, String> {
    let ok = (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.ends_with('-')
        && !text.contains("--");
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not an RDS identifier (1 to 63 lowercase letters, digits and single hyphens, a letter first)"
        ))
    }
}

async fn setup(args: &DrPolicyFile) -> Result<(Aws, RuntimePolicy), CliError> {
    let file = &args.policy;
    let (aws, region) = super::connect::connect(None).await?;
    let id = args.policy_id.as_deref();
    let policy = load_policy_file(file, id, args.resource.as_deref(), &region, &[])?;
    super::connect::reachable(&aws)?;
    if policy.role() != rds_snapshot_policy_core::Role::Destination {
        return Err(format!(
            "{}: drills and restores use a DR (Destination) policy",
            file.display()
        )
        .into());
    }
    Ok((aws, policy))
}

fn step_input(
    step: DrillStep,
    run: Option<rds_snapshot_policy_core::contract::DrillRun>,
) -> DrillInput {
    DrillInput {
        step,
        run,
        validated: None,
    }
}

pub async fn drill(args: &DrillArgs) -> Result<(), CliError> {
    let (aws, mut policy) = setup(&args.policy).await?;
    // A local drill runs even if the file turns the scheduled one off.
    policy.spec.restore_drill = Some(true);
    // Its records go where the stack's drills write theirs; without a stack, created here.
    if ensure_group(&aws, &policy).await? {
        eprintln!(
            "drill: created the drill-record log group {} (10 years' retention; a deployed policy's stack creates it)",
            rds_snapshot_policy_core::contract::drill_records::log_group(&policy.id)
        );
    }
    let began = Instant::now();
    let only = args.database.as_deref();
    let started = run_drill_step(&aws, &policy, &step_input(DrillStep::Start, None), only).await?;
    let mut run = started.drill.ok_or("the drill started nothing")?;
    for r in &run.restores {
        eprintln!(
            "drill: restoring {} from {} as {}",
            r.database, r.snapshot, r.identifier
        );
    }
    let outcome: Result<(), CliError> = loop {
        tokio::time::sleep(Duration::from_secs(args.wait_seconds)).await;
        match run_drill_step(
            &aws,
            &policy,
            &step_input(DrillStep::Check, Some(run.clone())),
            only,
        )
        .await
        {
            Ok(s) => run = s.drill.unwrap_or(run),
            Err(e) => break Err(format!("{}: {}", e.kind, e.message).into()),
        }
        if run.ready {
            break Ok(());
        }
        if run.timed_out {
            break Err(format!(
                "RtoMinutes ({}) passed before every restore was available",
                policy.spec.rto()
            )
            .into());
        }
    };
    let step = if outcome.is_ok() {
        DrillStep::Finish
    } else {
        DrillStep::Cleanup
    };
    let finished = run_drill_step(&aws, &policy, &step_input(step, Some(run.clone())), only)
        .await
        .map_err(|e| {
            format!(
                "{}: {} (drill resources may remain; the sweeper or `drill` again removes them)",
                e.kind, e.message
            )
        })?;
    let run = finished.drill.unwrap_or(run);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run).unwrap_or_default());
    } else {
        for r in &run.restores {
            let minutes = r
                .minutes
                .map(|m| format!("{m} min"))
                .unwrap_or_else(|| "not available".into());
            let verdict = match r.minutes {
                Some(m) if m <= policy.spec.rto() as i64 => "RTO met",
                _ => "RTO missed",
            };
            println!(
                "{:<24} {:<40} restore {minutes:>8}  {verdict} ({} min)",
                r.database,
                r.snapshot,
                policy.spec.rto()
            );
        }
        println!(
            "drill finished in {:.0} s; every drill resource deleted",
            began.elapsed().as_secs_f64()
        );
    }
    outcome
}

pub async fn restore(args: &RestoreArgs) -> Result<(), CliError> {
    let (aws, policy) = setup(&args.policy).await?;
    let point: Option<DateTime<Utc>> = match args.point.as_str() {
        "latest" => None,
        t => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| format!("--point {t:?} is neither latest nor RFC 3339: {e}"))?
                .with_timezone(&Utc),
        ),
    };
    let inventory = list_inventory(&aws, Action::Drill, &policy).await?;
    let (database, copy) = restore_candidate(&policy, &inventory, &args.database, point)?;
    let class = args
        .instance_class
        .clone()
        .unwrap_or_else(|| drill_class(&policy, copy.kind));
    let api = DrillApi::new(&aws, &policy.destination_region);
    let began = Instant::now();
    eprintln!(
        "restore: {} (recovery point {}) as {} ({class})",
        copy.id,
        copy.recovery_point()
            .map(|p| p.to_rfc3339())
            .unwrap_or_default(),
        args.target_id
    );
    let target = Target {
        class,
        subnet_group: args.subnet_group.clone(),
        security_groups: (!args.security_group_ids.is_empty())
            .then(|| args.security_group_ids.clone()),
        tags: failover_tags(&policy, &database),
    };
    api.restore_as(copy, &args.target_id, target.clone())
        .await?;
    let requested = began.elapsed();
    let status = loop {
        let status = api.status(&args.target_id, copy.kind, &target).await?;
        if status.available {
            break status;
        }
        eprintln!(
            "restore: {} is {} after {:.0} s",
            args.target_id,
            status.status,
            began.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(args.wait_seconds)).await;
    };
    let kind = if copy.kind == Kind::Cluster {
        "cluster"
    } else {
        "instance"
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"snapshot": copy.id, "identifier": args.target_id, "kind": kind,
            "requestedSeconds": requested.as_secs(), "availableSeconds": began.elapsed().as_secs(), "endpoint": status.endpoint})
        );
    } else {
        println!(
            "restored {} as {kind} {} in {:.0} s; endpoint {}",
            copy.id,
            args.target_id,
            began.elapsed().as_secs_f64(),
            status.endpoint.unwrap_or_else(|| "(none yet)".into())
        );
        println!("next: point the application at the endpoint (see the README, Failing over)");
    }
    Ok(())
}

/// Creates the policy's log group as its stack would (10 years' retention) unless it exists:
/// a drill run by hand from a policy file (no stack) still leaves its records. Whether it was
/// created. (The CLI's own credentials: the provider's role may not create log groups.)
async fn ensure_group(
    aws: &provider::aws::Aws,
    policy: &RuntimePolicy,
) -> Result<bool, provider::error::ProviderError> {
    let group = rds_snapshot_policy_core::contract::drill_records::log_group(&policy.id);
    let logs = aws.logs(&policy.destination_region);
    let context = format!("creating the drill-record log group {group}");
    match logs.create_log_group().log_group_name(&group).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(provider::aws::classify(e, &context)),
    }
    logs.put_retention_policy()
        .log_group_name(&group)
        .retention_in_days(rds_snapshot_policy_core::contract::drill_records::RETENTION_DAYS as i32)
        .send()
        .await
        .map_err(|e| provider::aws::classify(e, &context))?;
    Ok(true)
}
