//! `rds-snapshot-policy hold` and `release`: an operator holds, or lifts the hold on, the
//! deletes of a stack's policies (the hold tag on their delete state machines). Release is
//! the only way a hold ends; both print what they did and are recorded by CloudTrail
//! (`TagResource` / `UntagResource` on the state machine).

use super::error::CliError;
use clap::Args;

use provider::aws::hold::{place_hold, read_hold};
use provider::aws::{Aws, classify};
use provider::inventory::tags;
use provider::plan::hold::hold_value;

/// The logical ID suffix of a policy's delete state machine.
const DELETE_MACHINE: &str = "DeleteStateMachine";

#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The stack (name or ID) whose policies' deletes are held.
    #[arg(long)]
    pub stack: String,
    /// Only this policy resource of the stack (its logical ID).
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,
    /// Why, kept in the hold and shown by `status`.
    #[arg(long, default_value = "held by an operator")]
    pub reason: String,
    /// The AWS profile of the stack's account (default: the standard AWS environment).
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The stack (name or ID) whose policies' deletes are released.
    #[arg(long)]
    pub stack: String,
    /// Only this policy resource of the stack (its logical ID).
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,
    /// The AWS profile of the stack's account (default: the standard AWS environment).
    #[arg(long)]
    pub profile: Option<String>,
}

/// (logical ID, ARN) of the stack's delete state machines (`resource`: that policy's only).
async fn delete_machines(
    aws: &Aws,
    region: &str,
    stack: &str,
    resource: Option<&str>,
) -> Result<Vec<(String, String)>, CliError> {
    let mut found = Vec::new();
    let mut pages = aws
        .cloudformation(region)
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(e, &format!("listing stack {stack}")).message)?;
        for r in page.stack_resource_summaries() {
            let logical = r.logical_resource_id().unwrap_or_default();
            let wanted = resource.is_none_or(|p| logical == format!("{p}{DELETE_MACHINE}"));
            if r.resource_type() == Some("AWS::StepFunctions::StateMachine")
                && logical.ends_with(DELETE_MACHINE)
                && wanted
                && let Some(arn) = r.physical_resource_id()
            {
                found.push((logical.to_string(), arn.to_string()));
            }
        }
    }
    if found.is_empty() {
        return Err(format!(
            "stack {stack} in {region} has no delete state machine{}: nothing to hold (a policy stack with DeleteOldSnapshots true has one)",
            resource.map(|r| format!(" of {r}")).unwrap_or_default()
        ).into());
    }
    Ok(found)
}

/// Lifts the hold on `machine` with the operator's credentials.
async fn release_hold(aws: &Aws, region: &str, machine: &str) -> Result<(), CliError> {
    aws.sfn(region)
        .untag_resource()
        .resource_arn(machine)
        .tag_keys(tags::HOLD)
        .send()
        .await
        .map(drop)
        .map_err(|e| {
            classify(e, &format!("releasing the hold on {machine}"))
                .message
                .into()
        })
}

pub async fn hold(args: &HoldArgs) -> Result<(), CliError> {
    let (aws, region) = super::connect::connect(args.profile.as_deref()).await?;
    for (logical, arn) in
        delete_machines(&aws, &region, &args.stack, args.resource.as_deref()).await?
    {
        if let Some(value) = read_hold(&aws, &region, &arn)
            .await
            .map_err(|e| e.message)?
        {
            println!("{logical}: already held since {value}");
            continue;
        }
        let value = hold_value(aws.now(), &format!("operator: {}", args.reason));
        place_hold(&aws, &region, &arn, &value)
            .await
            .map_err(|e| e.message)?;
        tracing::warn!(stack = %args.stack, machine = %arn, hold = %value, "deletes held by an operator");
        println!(
            "{logical}: deletes held ({value}); nothing is deleted until `rds-snapshot-policy release --stack {}`",
            args.stack
        );
    }
    Ok(())
}

pub async fn release(args: &ReleaseArgs) -> Result<(), CliError> {
    let (aws, region) = super::connect::connect(args.profile.as_deref()).await?;
    for (logical, arn) in
        delete_machines(&aws, &region, &args.stack, args.resource.as_deref()).await?
    {
        let Some(value) = read_hold(&aws, &region, &arn)
            .await
            .map_err(|e| e.message)?
        else {
            println!("{logical}: not held");
            continue;
        };
        release_hold(&aws, &region, &arn).await?;
        tracing::warn!(stack = %args.stack, machine = %arn, hold = %value, "hold released by an operator");
        println!(
            "{logical}: hold released (was: {value}); the next delete run deletes what retention allows"
        );
    }
    Ok(())
}
