//! The CloudFormation macro Lambda (`Transform: RdsSnapshotPolicy`).
//!
//! Environment: `PROVIDER_FUNCTION_NAME` (default `rds-snapshot-policy-provider`), the provider
//! Lambda the expanded resources invoke; set by the install stack.

use lambda_runtime::{LambdaEvent, service_fn};
use policy_macro::expand::DEFAULT_PROVIDER_FUNCTION;
use policy_macro::macro_contract::handle_event;
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let provider = std::env::var("PROVIDER_FUNCTION_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_PROVIDER_FUNCTION.to_string());
    let payload = event.payload;
    let request_id = payload.get("requestId").cloned().unwrap_or(Value::Null);
    let outcome = std::panic::catch_unwind(|| handle_event(&payload, &provider));
    let response = match outcome {
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
    };
    Ok(response)
}

fn failure(request_id: &Value, message: &str) -> Value {
    json!({"requestId": request_id, "status": "failure", "fragment": null, "errorMessage": message})
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
    lambda_runtime::run(service_fn(handler)).await
}
