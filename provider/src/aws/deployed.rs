//! The trust chain of a Step Functions task: the execution it names is running, its state
//! machine's definition sends exactly this input, and the stack named in the input declares
//! that state machine. Anything else invoking the provider is refused before any RDS call.

use rds_snapshot_policy_macro::contract::TaskInput;
use serde_json::Value;

use super::{Aws, classify, error_code};
use crate::error::{ErrorKind, ProviderError};
use crate::trust::matches_definition;

/// CloudFormation's resource type of a state machine.
const STATE_MACHINE_TYPE: &str = "AWS::StepFunctions::StateMachine";

fn refused(reason: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotDeployed,
        format!("refused, nothing was done: {reason}"),
    )
}

/// Errors that mean "no such thing" become `NotDeployed`; others keep their classification
/// (access denied, throttling, transient faults are retried by the state machine).
fn not_found_or<E, R>(err: aws_sdk_rds::error::SdkError<E, R>, what: &str) -> ProviderError
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + super::HttpStatus,
{
    match error_code(&err).as_deref() {
        Some(
            "ExecutionDoesNotExist"
            | "StateMachineDoesNotExist"
            | "InvalidArn"
            | "ValidationError"
            | "ResourceNotFoundException",
        ) => refused(format!("{what} does not exist")),
        _ => classify(err, &format!("checking {what}")),
    }
}

/// Checks `input` (parsed from `payload`) against Step Functions and CloudFormation in
/// `region`, where the provider and the policy's stacks are.
pub async fn verify_deployed(
    aws: &Aws,
    region: &str,
    payload: &Value,
    input: &TaskInput,
) -> Result<(), ProviderError> {
    let Some(execution_arn) = input.execution.as_deref().filter(|e| !e.is_empty()) else {
        return Err(refused(
            "the task names no Step Functions execution; only the policy's state machines may run it",
        ));
    };
    if input.version >= 4 && input.origin.is_none() {
        return Err(refused("the task names no origin stack"));
    }
    let sfn = aws.sfn(region);
    let execution = sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| not_found_or(e, &format!("execution {execution_arn}")))?;
    if execution.status().as_str() != "RUNNING" {
        return Err(refused(format!(
            "execution {execution_arn} is {}, not running",
            execution.status().as_str()
        )));
    }
    let machine_arn = execution.state_machine_arn();
    // The definition this execution runs: a stack update changes the machine's current
    // definition (DescribeStateMachine) under executions already running, whose Tasks still
    // send what they started with (Step Functions API reference).
    let machine = sfn
        .describe_state_machine_for_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| not_found_or(e, &format!("state machine {machine_arn}")))?;
    let definition: Value = serde_json::from_str(machine.definition()).map_err(|e| {
        refused(format!(
            "state machine {machine_arn} has no readable definition: {e}"
        ))
    })?;
    if !matches_definition(&definition, payload) {
        return Err(refused(format!(
            "the task input is not the one state machine {machine_arn} sends (policy, action or parameters differ)"
        )));
    }
    let Some(origin) = &input.origin else {
        tracing::warn!(
            execution = execution_arn,
            version = input.version,
            "task input before version 4 names no stack: the stack check is skipped until the stack is re-expanded"
        );
        return Ok(());
    };
    let resource = aws
        .cloudformation(region)
        .describe_stack_resource()
        .stack_name(&origin.stack)
        .logical_resource_id(&origin.state_machine)
        .send()
        .await
        .map_err(|e| {
            not_found_or(
                e,
                &format!(
                    "resource {} of stack {}",
                    origin.state_machine, origin.stack
                ),
            )
        })?;
    let Some(detail) = resource.stack_resource_detail() else {
        return Err(refused(format!(
            "stack {} does not declare {}",
            origin.stack, origin.state_machine
        )));
    };
    let status = detail
        .resource_status()
        .map(|s| s.as_str())
        .unwrap_or_default();
    if detail.resource_type() != Some(STATE_MACHINE_TYPE)
        || detail.physical_resource_id() != Some(machine_arn)
        || status.starts_with("DELETE")
    {
        return Err(refused(format!(
            "stack {} declares {} as {} ({}, {status}), not as state machine {machine_arn}",
            origin.stack,
            origin.state_machine,
            detail.physical_resource_id().unwrap_or("nothing"),
            detail.resource_type().unwrap_or("no type"),
        )));
    }
    Ok(())
}
