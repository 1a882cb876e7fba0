//! The provider Lambda's event handling: Step Functions tasks and CloudFormation
//! custom-resource events, told apart by the event's shape. The binary only sets up logging
//! and the runtime.

use std::time::{Duration, SystemTime};

use lambda_runtime::Diagnostic;
use rds_snapshot_policy_core::contract::{ErrorName, MAX_PROVIDER_EVENT_BYTES};
use rds_snapshot_policy_core::lambda_input::LambdaInput;
use serde_json::Value;

use crate::aws::Aws;
use crate::custom_resource::{answer_with, handle, is_custom_resource_event};
use crate::policy::RuntimePolicy;
use crate::task::handle_task;
use crate::trust::Trust;

fn diagnostic(name: ErrorName, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: name.name().to_string(),
        error_message: message.into(),
    }
}

/// The time a custom-resource answer may take. Lambda's shortest timeout is 1 s, so less than
/// that at the start means a local runtime sent no real deadline.
fn time_left(deadline_ms: u64) -> Duration {
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    match deadline.duration_since(SystemTime::now()) {
        Ok(left) if left >= Duration::from_secs(1) => left,
        _ => {
            tracing::warn!(deadline_ms, "no usable Lambda deadline; assuming 60 s");
            Duration::from_secs(60)
        }
    }
}

/// Answers one invocation as received: an event that is not JSON, larger than
/// `MAX_PROVIDER_EVENT_BYTES` or nested too deeply is refused `InputInvalid` before any work.
pub async fn handle_input(
    aws: Aws,
    region: String,
    trust: Trust,
    input: LambdaInput,
    deadline_ms: u64,
    on_policy: impl FnOnce(&RuntimePolicy) + Send + 'static,
) -> Result<Value, Diagnostic> {
    match input.parse(MAX_PROVIDER_EVENT_BYTES) {
        Ok(payload) => handle_event(aws, region, trust, payload, deadline_ms, on_policy).await,
        Err(reason) => {
            tracing::error!(error = %reason, "unreadable event");
            Err(diagnostic(ErrorName::InputInvalid, reason))
        }
    }
}

/// Answers one event. A panic inside the work is caught and answered `InternalError`.
pub async fn handle_event(
    aws: Aws,
    region: String,
    trust: Trust,
    payload: Value,
    deadline_ms: u64,
    on_policy: impl FnOnce(&RuntimePolicy) + Send + 'static,
) -> Result<Value, Diagnostic> {
    let aws = aws.for_invocation();
    if is_custom_resource_event(&payload) {
        let allow_local = trust.allow_local_response_url;
        let response = answer_with(
            &payload,
            time_left(deadline_ms),
            allow_local,
            move |request| async move { handle(&aws, &region, &trust, &request).await },
        )
        .await;
        return serde_json::to_value(&response)
            .map_err(|e| diagnostic(ErrorName::InternalError, e.to_string()));
    }
    // Stop starting operations before the Lambda deadline, so the answer always gets out.
    let left = time_left(deadline_ms);
    let margin = crate::aws::apply::DEADLINE_MARGIN.min(left / 4);
    let aws = aws.with_deadline(std::time::Instant::now() + left, margin);
    let task = tokio::spawn(async move {
        let summary = handle_task(&aws, &region, &trust, &payload, on_policy)
            .await
            .map_err(|e| diagnostic(e.kind, e.message))?;
        serde_json::to_value(&summary)
            .map_err(|e| diagnostic(ErrorName::InternalError, e.to_string()))
    });
    match task.await {
        Ok(result) => result,
        Err(e) => Err(diagnostic(
            ErrorName::InternalError,
            format!("the provider failed unexpectedly: {e}"),
        )),
    }
}
