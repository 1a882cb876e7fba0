//! The trust chain of a Step Functions task: the execution it names is running, its state
//! machine's definition sends exactly this input, the stack named in the input declares that
//! state machine as the one the expansion generates for a policy resource, and that policy
//! resource (served by this provider) holds exactly the task's policy. Anything else invoking
//! the provider is refused before any RDS call.

use chrono::{DateTime, Utc};
use rds_snapshot_policy_core::contract::{TaskInput, generated_properties};
use serde_json::Value;

use super::{Aws, classify, error_code};
use crate::error::{ErrorName, ProviderError};
use crate::identity;
use crate::trust::matches_definition;

/// CloudFormation's resource type of a state machine.
const STATE_MACHINE_TYPE: &str = "AWS::StepFunctions::StateMachine";

fn refused(reason: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(
        ErrorName::NotDeployed,
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
    provider_function: &str,
    payload: &Value,
    input: &TaskInput,
) -> Result<Deployed, ProviderError> {
    let Some(execution_arn) = input.execution.as_deref().filter(|e| !e.is_empty()) else {
        return Err(refused(
            "the task names no Step Functions execution; only the policy's state machines may run it",
        ));
    };
    // Task inputs before version 4 name no stack, so nothing would tie them to a deployed
    // policy: a state machine of anyone's could send one (issue 29). Since the identities of
    // issue 30 every policy stack is re-deployed anyway, which re-expands it to the current
    // version; until then its tasks are refused naming the fix.
    if input.origin.is_none() {
        return Err(refused(format!(
            "the task (input version {}) names no origin stack, so it cannot be tied to a deployed policy: re-deploy the stack with this release's macro (README, Updating)",
            input.version
        )));
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
        return Err(refused("the task names no origin stack"));
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
    let stack_id = detail
        .stack_id()
        .unwrap_or(origin.stack.as_str())
        .to_string();
    verify_policy_resource(aws, region, provider_function, payload, input, &stack_id).await?;
    let start = execution.start_date();
    let started = DateTime::from_timestamp(start.secs(), start.subsec_nanos())
        .ok_or_else(|| refused(format!("execution {execution_arn} has no start time")))?;
    Ok(Deployed {
        machine: machine_arn.to_string(),
        execution: execution_arn.to_string(),
        started,
    })
}

/// What the trust chain established about a task's execution.
pub struct Deployed {
    /// The state machine the execution runs.
    pub machine: String,
    pub execution: String,
    /// When Step Functions started the execution: the task's `now` must be it.
    pub started: DateTime<Utc>,
}

/// The policy resource of the task's state machine: declared next to it under the logical ID
/// the expansion derives the machine's from, of the policy type, served by this provider, and
/// holding exactly the task's policy (its physical ID binds the stack and the properties).
async fn verify_policy_resource(
    aws: &Aws,
    region: &str,
    provider_function: &str,
    payload: &Value,
    input: &TaskInput,
    stack_id: &str,
) -> Result<(), ProviderError> {
    let Some(origin) = &input.origin else {
        return Ok(());
    };
    let Some(logical) = identity::policy_logical_id(&origin.state_machine, input.action) else {
        return Err(refused(format!(
            "state machine {} of stack {stack_id} is not one the expansion generates for a {} task (<policy>{}StateMachine)",
            origin.state_machine,
            input.action,
            input.action.title()
        )));
    };
    let cfn = aws.cloudformation(region);
    let resource = cfn
        .describe_stack_resource()
        .stack_name(stack_id)
        .logical_resource_id(logical)
        .send()
        .await
        .map_err(|e| not_found_or(e, &format!("policy resource {logical} of stack {stack_id}")))?;
    let detail = resource.stack_resource_detail();
    let kind = detail.and_then(|d| d.resource_type()).unwrap_or_default();
    let status = detail
        .and_then(|d| d.resource_status())
        .map(|s| s.as_str())
        .unwrap_or_default();
    let physical = detail
        .and_then(|d| d.physical_resource_id())
        .unwrap_or_default();
    if !identity::is_policy_resource_type(kind) || !identity::holds_identity(status) {
        return Err(refused(format!(
            "stack {stack_id} holds no deployed policy resource {logical} ({}, {status})",
            if kind.is_empty() { "no type" } else { kind }
        )));
    }
    let digests = identity::digests_of(physical);
    if digests.is_empty() {
        return Err(refused(format!(
            "the policy resource {logical} of stack {stack_id} was deployed before policy identities (physical ID {physical}): re-deploy the stack with this release's macro, which updates it"
        )));
    }
    let policy = payload.get("policy").unwrap_or(&Value::Null);
    let policy_id = policy
        .get("PolicyId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if identity::policy_id_of(physical) != Some(policy_id) {
        return Err(refused(format!(
            "the policy resource {logical} of stack {stack_id} is not policy {policy_id:?} (physical ID {physical})"
        )));
    }
    let digest = identity::identity_digest(stack_id, policy);
    if !digests.contains(&digest.as_str()) {
        if status == "UPDATE_IN_PROGRESS" {
            // The stack's state machines are updated before the policy resource that names
            // them: the new definition runs a moment before the resource holds its properties.
            return Err(ProviderError::new(
                ErrorName::TransientAwsError,
                format!(
                    "the policy resource {logical} of stack {stack_id} is being updated and does not hold this policy yet; retried"
                ),
            ));
        }
        return Err(refused(format!(
            "the policy resource {logical} of stack {stack_id} holds other properties than the task's policy {policy_id}"
        )));
    }
    verify_service_token(aws, region, provider_function, stack_id, logical).await
}

/// The policy resource's `ServiceToken`, as the stack's processed template has it, names this
/// provider: a resource served by another function could answer any physical ID.
async fn verify_service_token(
    aws: &Aws,
    region: &str,
    provider_function: &str,
    stack_id: &str,
    logical: &str,
) -> Result<(), ProviderError> {
    let parsed = super::processed_template(aws, region, stack_id)
        .await
        .map_err(|e| not_found_or(e, &format!("the template of stack {stack_id}")))?
        .map_err(refused)?;
    let token = parsed
        .get("Resources")
        .and_then(|r| r.get(logical))
        .and_then(|r| r.get("Properties"))
        .and_then(|p| p.get(generated_properties::SERVICE_TOKEN))
        .unwrap_or(&Value::Null);
    let parts: Vec<&str> = stack_id.split(':').collect();
    let (partition, stack_region, account) = match parts.as_slice() {
        ["arn", partition, "cloudformation", region, account, ..] => {
            (*partition, *region, *account)
        }
        _ => return Err(refused(format!("{stack_id} is not a stack ARN"))),
    };
    let expected =
        format!("arn:{partition}:lambda:{stack_region}:{account}:function:{provider_function}");
    match identity::resolve_service_token(token, partition, stack_region, account) {
        Some(arn) if arn == expected => Ok(()),
        Some(arn) => Err(refused(format!(
            "the policy resource {logical} of stack {stack_id} is served by {arn}, not by this provider ({expected})"
        ))),
        None => Err(refused(format!(
            "the ServiceToken of the policy resource {logical} of stack {stack_id} does not name this provider in a form known without the stack's parameters ({token})"
        ))),
    }
}
