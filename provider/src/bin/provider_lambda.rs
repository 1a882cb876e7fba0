//! The provider Lambda: Step Functions tasks (`{"action", "policy"}`) and CloudFormation
//! custom-resource events for the policy resource, told apart by the event's shape.

use std::time::{Duration, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use provider::aws::Aws;
use provider::custom_resource::{answer_with, handle, is_custom_resource_event};
use provider::plan::Action;
use provider::policy::RuntimePolicy;
use provider::task::{Summary, TaskInput, parse_now, run_action};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

type FilterHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

fn diagnostic(kind: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: kind.to_string(),
        error_message: message.into(),
    }
}

/// CloudWatch embedded-metric lines: the age of the newest DR copy per database.
fn emit_recovery_point_metrics(summary: &Summary) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    for (database, point) in &summary.recovery_points {
        println!(
            "{}",
            json!({
                "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{
                    "Namespace": "RdsSnapshotPolicy",
                    "Dimensions": [["Policy"], ["Policy", "Database"]],
                    "Metrics": [{"Name": "RecoveryPointAgeMinutes", "Unit": "None"}],
                }]},
                "Policy": summary.policy,
                "Database": database,
                "RecoveryPointAgeMinutes": point.age_minutes,
            })
        );
    }
}

async fn run_task(
    aws: Aws,
    region: String,
    payload: Value,
    filter: FilterHandle,
) -> Result<Value, Diagnostic> {
    let input: TaskInput = serde_json::from_value(payload).map_err(|e| {
        diagnostic(
            "InputInvalid",
            format!("the task input must be {{\"action\": ..., \"policy\": {{...}}}}: {e}"),
        )
    })?;
    let action: Action = input
        .action
        .parse()
        .map_err(|e: String| diagnostic("InputInvalid", e))?;
    let policy = RuntimePolicy::from_properties(&input.policy, &region, None)
        .map_err(|e| diagnostic(e.kind.name(), e.message))?;
    let _ = filter.modify(|f| *f = EnvFilter::new(policy.log_level.to_ascii_lowercase()));
    let now = parse_now(input.now.as_deref()).map_err(|e| diagnostic(e.kind.name(), e.message))?;
    let span = tracing::info_span!("task", policy = %policy.id, %action, execution = input.execution.as_deref().unwrap_or(""));
    let _enter = span.enter();
    match run_action(&aws, action, &policy, now, input.dry_run).await {
        Ok(summary) => {
            tracing::info!(
                done = summary.done.len(),
                skipped = summary.skipped.len(),
                pending = summary.pending.len(),
                aws_calls = summary.aws_calls,
                "finished"
            );
            emit_recovery_point_metrics(&summary);
            serde_json::to_value(&summary).map_err(|e| diagnostic("InternalError", e.to_string()))
        }
        Err((error, summary)) => {
            tracing::error!(error = %error, "failed");
            if let Some(summary) = &summary {
                emit_recovery_point_metrics(summary);
            }
            let detail = summary.map(|s| format!(" | summary: {}", json!({"done": s.done.len(), "failed": s.failed, "pending": s.pending.len()}))).unwrap_or_default();
            Err(diagnostic(
                error.kind.name(),
                format!("{}{detail}", error.message),
            ))
        }
    }
}

async fn handler(
    event: LambdaEvent<Value>,
    aws: &Aws,
    region: &str,
    filter: &FilterHandle,
) -> Result<Value, Diagnostic> {
    let (payload, context) = event.into_parts();
    if is_custom_resource_event(&payload) {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(context.deadline);
        // Lambda's shortest timeout is 1 s, so less than that at the start means a local
        // runtime sent no real deadline.
        let time_left = match deadline.duration_since(SystemTime::now()) {
            Ok(left) if left >= Duration::from_secs(1) => left,
            _ => {
                tracing::warn!(
                    deadline_ms = context.deadline,
                    "no usable Lambda deadline; assuming 60 s"
                );
                Duration::from_secs(60)
            }
        };
        let (aws, region) = (aws.clone(), region.to_string());
        let response = answer_with(&payload, time_left, move |request| async move {
            handle(&aws, &region, &request).await
        })
        .await;
        return serde_json::to_value(&response)
            .map_err(|e| diagnostic("InternalError", e.to_string()));
    }
    let task = tokio::spawn(run_task(
        aws.clone(),
        region.to_string(),
        payload,
        filter.clone(),
    ));
    match task.await {
        Ok(result) => result,
        Err(e) => Err(diagnostic(
            "InternalError",
            format!("the provider failed unexpectedly: {e}"),
        )),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (filter, filter_handle) = reload::Layer::new(
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
    );
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .without_time(),
        )
        .init();
    let aws = Aws::from_env().await;
    let region = aws.region().unwrap_or_else(|| "us-east-1".to_string());
    let (aws, region, filter_handle) = (&aws, region.as_str(), &filter_handle);
    lambda_runtime::run(service_fn(move |event| {
        handler(event, aws, region, filter_handle)
    }))
    .await
}
