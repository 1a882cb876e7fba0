//! The provider Lambda: logging and the runtime around `provider::lambda::handle_input`.

use lambda_runtime::{LambdaEvent, service_fn};
use provider::aws::Aws;
use provider::lambda::handle_input;
use provider::trust::Trust;
use rds_snapshot_policy_core::lambda_input::LambdaInput;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

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
    let trust = match Trust::from_env(|name| std::env::var(name).ok()) {
        Ok(trust) => trust,
        Err(e) => {
            // Refuse every event rather than run with a guessed allow-list.
            tracing::error!(error = %e, "the provider's environment is invalid");
            return Err(e.into());
        }
    };
    let aws = Aws::from_env().await;
    let region = aws.region().unwrap_or_else(|| "us-east-1".to_string());
    let (aws, region, trust, filter_handle) = (&aws, region.as_str(), &trust, &filter_handle);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<LambdaInput>| {
        let filter = filter_handle.clone();
        let set_level = move |policy: &provider::policy::RuntimePolicy| {
            let _ = filter.modify(|f| *f = EnvFilter::new(policy.log_level().filter()));
        };
        handle_input(
            aws.clone(),
            region.to_string(),
            trust.clone(),
            event.payload,
            event.context.deadline,
            set_level,
        )
    }))
    .await
}
