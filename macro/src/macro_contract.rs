//! CloudFormation's macro contract: the event a macro Lambda receives and what it returns.
//! (`aws_lambda_events` has no type for it.)

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expand::{ExpandContext, TRANSFORM_NAME, expand};
use rds_snapshot_policy_core::contract::MAX_MACRO_EVENT_BYTES;
use rds_snapshot_policy_core::error::join_errors;
use rds_snapshot_policy_core::lambda_input::LambdaInput;

/// The macro event. Every field is optional so a malformed event still gets an answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MacroRequest {
    pub request_id: Option<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub transform_id: Option<String>,
    pub fragment: Option<Value>,
    pub params: Option<Value>,
    pub template_parameter_values: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MacroResponse {
    pub request_id: String,
    /// `success` or `failure`.
    pub status: String,
    pub fragment: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// Handles one macro event; never fails: problems become a `failure` response.
pub fn handle_event(event: &Value, provider_function: &str) -> (MacroResponse, Vec<String>) {
    let request_id = event
        .get("requestId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let failure = |message: String| MacroResponse {
        request_id: request_id.clone(),
        status: "failure".into(),
        fragment: Value::Null,
        error_message: Some(message),
    };
    let request: MacroRequest = match serde_json::from_value(event.clone()) {
        Ok(r) => r,
        Err(e) => {
            return (
                failure(format!("{TRANSFORM_NAME}: malformed macro event: {e}")),
                vec![],
            );
        }
    };
    let Some(fragment) = request.fragment else {
        return (
            failure(format!("{TRANSFORM_NAME}: the macro event has no fragment")),
            vec![],
        );
    };
    if fragment.get("Resources").is_none() {
        return (
            failure(format!(
                "{TRANSFORM_NAME} is a template-level transform: declare it as `Transform: {TRANSFORM_NAME}` at the top of the template, not with Fn::Transform"
            )),
            vec![],
        );
    }
    if let Some(region) = request
        .region
        .as_deref()
        .filter(|r| !rds_snapshot_policy_core::spec::is_region(r))
    {
        return (
            failure(format!(
                "{TRANSFORM_NAME}: the macro event's region {region:?} is not an AWS region"
            )),
            vec![],
        );
    }
    if let Some(account) = request
        .account_id
        .as_deref()
        .filter(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return (
            failure(format!(
                "{TRANSFORM_NAME}: the macro event's accountId {account:?} is not a 12-digit account ID"
            )),
            vec![],
        );
    }
    let context = ExpandContext {
        region: request.region,
        account_id: request.account_id,
        parameters: request.template_parameter_values.unwrap_or_default(),
        provider_function: provider_function.to_string(),
        now: Some(chrono::Utc::now()),
    };
    match expand(&fragment, &context) {
        Ok(expansion) => (
            MacroResponse {
                request_id: request_id.clone(),
                status: "success".into(),
                fragment: expansion.template,
                error_message: None,
            },
            expansion.warnings.iter().map(ToString::to_string).collect(),
        ),
        Err(errors) => (failure(join_errors(&errors)), vec![]),
    }
}

/// The macro Lambda's answer to any event: the response of `handle_event`, logged, or a
/// `failure` when the expansion panics or the response cannot be serialized. Never panics.
pub fn answer(event: &Value, provider_function: &str) -> Value {
    let request_id = event.get("requestId").cloned().unwrap_or(Value::Null);
    let outcome = std::panic::catch_unwind(|| handle_event(event, provider_function));
    match outcome {
        Ok((response, warnings)) => {
            for warning in &warnings {
                tracing::warn!(request_id = %request_id, warning = %warning, "policy warning");
            }
            match &response.error_message {
                Some(message) => {
                    tracing::error!(request_id = %request_id, errors = %message, "expansion failed")
                }
                None => tracing::info!(request_id = %request_id, "expansion succeeded"),
            }
            serde_json::to_value(&response).unwrap_or_else(|e| failure(&request_id, &e.to_string()))
        }
        Err(_) => {
            tracing::error!(request_id = %request_id, "expansion panicked");
            failure(
                &request_id,
                "internal error in the RdsSnapshotPolicy macro; please report it with the template",
            )
        }
    }
}

/// The macro Lambda's answer to an event as received: unreadable, oversized or too deeply
/// nested events get a `failure` naming why, before any expansion.
pub fn answer_input(input: &LambdaInput, provider_function: &str) -> Value {
    match input.parse(MAX_MACRO_EVENT_BYTES) {
        Ok(event) => answer(&event, provider_function),
        Err(reason) => {
            tracing::error!(error = %reason, "unreadable macro event");
            failure(&Value::Null, &format!("{TRANSFORM_NAME}: {reason}"))
        }
    }
}

fn failure(request_id: &Value, message: &str) -> Value {
    serde_json::json!({"requestId": request_id, "status": "failure", "fragment": null, "errorMessage": message})
}
