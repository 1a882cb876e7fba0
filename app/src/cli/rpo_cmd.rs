//! `rds-snapshot-policy rpo --policy FILE`: the worst-case recovery-point age, term by term.

use super::error::CliError;
use std::path::PathBuf;

use clap::Args;
use rds_snapshot_policy_core::rpo::WorstCase;
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
    /// The stack's region (the default DestinationRegion and the keys' regions depend on it);
    /// default: AWS_REGION, AWS_DEFAULT_REGION or the profile's (AWS_PROFILE) region, else
    /// us-east-1.
    #[arg(long, value_parser = super::expand_cmd::parse_region)]
    pub region: Option<String>,
    /// With a template as --policy: a parameter's value, as CloudFormation would pass it
    /// (repeatable; the template's defaults otherwise).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = super::expand_cmd::parse_param)]
    pub params: Vec<(String, String)>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when the worst case exceeds RpoMinutes (with --measured: the forecast).
    #[arg(long)]
    pub check: bool,
    /// A destination policy: also list its copies in the DR account (the configured
    /// credentials and region) and show the terms measured from them beside the declared
    /// ones, and the forecast worst case the RpoForecastAlarm watches.
    #[arg(long)]
    pub measured: bool,
}

/// The region assumed when none is given or configured.
const ASSUMED_REGION: &str = "us-east-1";

/// The region from the environment or the shared config file, without any network call (the
/// SDK's chain would also ask EC2's instance metadata).
async fn configured_region() -> Option<String> {
    use aws_config::meta::region::RegionProviderChain;
    RegionProviderChain::first_try(
        aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::profile::ProfileFileRegionProvider::builder().build())
    .region()
    .await
    .map(|r| r.to_string())
}

pub async fn run(args: &RpoArgs) -> Result<(), CliError> {
    let (region, assumed) = match &args.region {
        Some(region) => (region.clone(), false),
        None => match configured_region().await {
            Some(region) => (region, false),
            None => (ASSUMED_REGION.to_string(), true),
        },
    };
    let policy = load_policy_file(
        &args.policy,
        Some("rpo"),
        args.resource.as_deref(),
        &region,
        &args.params,
    )
    .map_err(|e| {
        if assumed && e.to_string().contains(ASSUMED_REGION) {
            format!("{e} (no region is configured, so {ASSUMED_REGION} was assumed: pass --region, set AWS_REGION, or use a profile with a region)").into()
        } else {
            e
        }
    })?;
    let Some(worst) = policy.worst_case() else {
        return Err(format!(
            "{}: a schedule of this policy fires less than twice in 35 days, so no recovery-point age can be promised",
            args.policy.display()
        ).into());
    };
    let forecast = if args.measured {
        Some(measured(&policy).await?)
    } else {
        None
    };
    if args.json {
        let mut value = as_json(&worst);
        if let Some(f) = &forecast {
            value["forecast"] = json!(f);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print!("{}", as_text(&worst));
        if let Some(f) = &forecast {
            print!("{}", forecast_text(f));
        }
    }
    if let Some(f) = forecast.as_ref().filter(|f| args.check && !f.is_met()) {
        return Err(format!(
            "RpoMinutes ({}) is not met by the forecast from measured copy times: {} minutes",
            f.rpo_minutes, f.minutes
        )
        .into());
    }
    if args.check && !worst.is_met() {
        return Err(format!(
            "RpoMinutes ({}) is not met: the worst case is {} minutes",
            worst.rpo_minutes,
            worst.minutes()
        )
        .into());
    }
    Ok(())
}

/// The forecast from the DR account's copies (`forecast::of_policy`), as the copy run makes it.
async fn measured(
    policy: &provider::policy::RuntimePolicy,
) -> Result<provider::forecast::Forecast, CliError> {
    if policy.role() != rds_snapshot_policy_core::Role::Destination {
        return Err(
            "--measured applies to a destination policy (the DR account measures its copies)"
                .into(),
        );
    }
    let (aws, _) = super::connect::connect(None).await?;
    super::connect::reachable(&aws)?;
    let now = aws.now();
    let (plan, inventory) = provider::task::plan_action(
        &aws,
        provider::plan::Action::Copy,
        policy,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| format!("listing the policy's copies: {e}"))?;
    provider::forecast::of_policy(policy, &inventory, &plan.pending, now.max(aws.now()))
        .ok_or_else(|| "this policy's formula has no copy terms".into())
}

/// The measured terms beside the declared ones, and the forecast's verdict.
pub fn forecast_text(f: &provider::forecast::Forecast) -> String {
    let mut out = format!(
        "measured (p{} of {} copies delivered in {} h, raised to those under way)\n",
        provider::forecast::PERCENTILE,
        f.samples,
        provider::forecast::WINDOW_HOURS
    );
    for t in &f.terms {
        let measured = t.measured.map_or("-".to_string(), |m| m.to_string());
        out.push_str(&format!(
            "  {:<22} declared {:>4}  measured {:>4}  forecast {:>4} min\n",
            t.name, t.declared, measured, t.minutes
        ));
    }
    let verdict = if f.is_met() { "met" } else { "NOT met" };
    let grown = f
        .grown()
        .map(|t| format!(" ({} grew by {} minutes)", t.name, t.minutes - t.declared))
        .unwrap_or_default();
    out.push_str(&format!(
        "forecast {} min; RpoMinutes {}: {verdict}{grown}\n",
        f.minutes, f.rpo_minutes
    ));
    out
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
