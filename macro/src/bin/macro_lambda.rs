//! The CloudFormation macro Lambda (`Transform: RdsSnapshotPolicy`): logging and the runtime
//! around `macro_contract::answer_input`.
//!
//! Environment: `PROVIDER_FUNCTION_NAME` (default `rds-snapshot-policy-provider`), the provider
//! Lambda the expanded resources invoke; set by the install stack.

use lambda_runtime::{LambdaEvent, service_fn};
use rds_snapshot_policy_core::contract::DEFAULT_PROVIDER_FUNCTION;
use rds_snapshot_policy_core::lambda_input::LambdaInput;
use rds_snapshot_policy_macro::macro_contract::answer_input;
use serde_json::Value;

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
    let provider = std::env::var("PROVIDER_FUNCTION_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_PROVIDER_FUNCTION.to_string());
    let provider = provider.as_str();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<LambdaInput>| async move {
            Ok::<Value, lambda_runtime::Error>(answer_input(&event.payload, provider))
        },
    ))
    .await
}
